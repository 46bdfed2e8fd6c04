#!/usr/bin/env python3
"""A scriptable Frame Streams sender for the listener tests: well-behaved or not, as the steps say.

Usage: fsend.py ADDRESS STEP...
  ADDRESS   unix:PATH, or HOST:PORT / [V6]:PORT for TCP
Steps, run in order:
  ready[=CT,CT...]   send READY offering these content types (default protobuf:dnstap.Dnstap; "ready=" none)
  accept             read a control frame: it must be ACCEPT naming protobuf:dnstap.Dnstap
  start[=CT]         send START with this content type (default dnstap; "start=" none)
  frames=FILE[:N]    send the data frames of Frame Streams FILE (N of them, cycling through FILE)
  big=LEN            send one data frame of LEN bytes
  raw=HEX            send these bytes as they are
  half               send the header and half the payload of one frame, no more
  dribble=FILE[:N]   like frames=, but one byte per send() with a pause now and then (frames then cross
                     the receiver's buffer chunks)
  stop               send STOP
  finish             read a control frame: it must be FINISH
  eof[=SECONDS]      wait (default 30 s) until the receiver closes the connection
  sleep=SECONDS      pause
  wait=FILE          pause until FILE exists (for a test to say "go on")
  mark=FILE          create FILE (for a test to see how far the sender got)
  close              close the connection (also done after the last step)
  tls=OPT,OPT...     go on inside TLS: ca=FILE (verify; else none), name=NAME (SNI and the check),
                     cert=FILE,key=FILE (a client certificate), max=1.2 (TLS 1.2 at most)
Exit status 0 when every step succeeded; 1 with a line on stderr otherwise.
"""
import os
import socket
import struct
import sys
import time

CT = b"protobuf:dnstap.Dnstap"
ACCEPT, START, STOP, READY, FINISH = 1, 2, 3, 4, 5


def die(msg):
    sys.stderr.write("fsend: %s\n" % msg)
    sys.exit(1)


def control(ctype, cts):
    body = struct.pack(">I", ctype)
    for ct in cts:
        body += struct.pack(">II", 1, len(ct)) + ct
    return struct.pack(">II", 0, len(body)) + body


def connect(address):
    if address.startswith("unix:"):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(address[5:])
        return s
    host, _, port = address.rpartition(":")
    host = host.strip("[]")
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s.connect((host, int(port)))
    return s


def recv_exact(s, n, timeout=30):
    s.settimeout(timeout)
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            die("connection closed by the receiver while waiting for %d bytes" % (n - len(buf)))
        buf += chunk
    return buf


def read_control(s):
    esc, length = struct.unpack(">II", recv_exact(s, 8))
    if esc != 0:
        die("expected a control frame, got a data frame of %d bytes" % esc)
    body = recv_exact(s, length)
    ctype = struct.unpack(">I", body[:4])[0]
    cts, pos = [], 4
    while pos + 8 <= len(body):
        ftype, flen = struct.unpack(">II", body[pos:pos + 8])
        if ftype == 1:
            cts.append(body[pos + 8:pos + 8 + flen])
        pos += 8 + flen
    return ctype, cts


def file_frames(path):
    data = open(path, "rb").read()
    pos, out = 0, []
    while pos + 4 <= len(data):
        (n,) = struct.unpack_from(">I", data, pos)
        if n == 0:
            (clen,) = struct.unpack_from(">I", data, pos + 4)
            pos += 8 + clen
            continue
        out.append(data[pos:pos + 4 + n])
        pos += 4 + n
    if not out:
        die("%s holds no data frames" % path)
    return out


def frames_arg(v):
    path, _, n = v.partition(":")
    frames = file_frames(path)
    count = int(n) if n else len(frames)
    return [frames[i % len(frames)] for i in range(count)]


def wrap_tls(s, v):
    import ssl
    o = dict(kv.partition("=")[::2] for kv in v.split(",") if kv)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if "ca" in o:
        ctx.load_verify_locations(o["ca"])
    else:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if "cert" in o:
        ctx.load_cert_chain(o["cert"], o["key"])
    if o.get("max") == "1.2":
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    try:
        t = ctx.wrap_socket(s, server_hostname=o.get("name"))
    except (ssl.SSLError, OSError) as e:
        die("TLS handshake: %s" % e)
    sys.stderr.write("fsend: %s\n" % t.version())
    return t


def main():
    if len(sys.argv) < 3:
        die("usage: fsend.py ADDRESS STEP...")
    s = connect(sys.argv[1])
    for step in sys.argv[2:]:
        name, eq, v = step.partition("=")
        if name == "ready":
            cts = [CT] if not eq else [c.encode() for c in v.split(",") if c]
            s.sendall(control(READY, cts))
        elif name == "accept":
            ctype, cts = read_control(s)
            if ctype != ACCEPT or CT not in cts:
                die("expected ACCEPT with %s, got control type %d with %r" % (CT.decode(), ctype, cts))
        elif name == "start":
            s.sendall(control(START, [CT] if not eq else ([v.encode()] if v else [])))
        elif name == "frames":
            frames = frames_arg(v)
            for i in range(0, len(frames), 256):
                s.sendall(b"".join(frames[i:i + 256]))
        elif name == "dribble":
            data = b"".join(frames_arg(v))
            for i in range(len(data)):
                s.sendall(data[i:i + 1])
                if i % 97 == 0:
                    time.sleep(0.001)
        elif name == "big":
            s.sendall(struct.pack(">I", int(v)) + b"\xab" * int(v))
        elif name == "raw":
            s.sendall(bytes.fromhex(v))
        elif name == "half":
            s.sendall(struct.pack(">I", 100) + b"\xcd" * 50)
        elif name == "stop":
            s.sendall(control(STOP, []))
        elif name == "finish":
            ctype, _ = read_control(s)
            if ctype != FINISH:
                die("expected FINISH, got control type %d" % ctype)
        elif name == "eof":
            s.settimeout(float(v) if v else 30)
            try:
                while s.recv(4096):
                    pass
            except socket.timeout:
                die("the receiver did not close the connection")
            except ConnectionResetError:
                pass
        elif name == "sleep":
            time.sleep(float(v))
        elif name == "wait":
            deadline = time.time() + 60
            while not os.path.exists(v):
                if time.time() > deadline:
                    die("%s did not appear" % v)
                time.sleep(0.02)
        elif name == "mark":
            open(v, "w").close()
        elif name == "tls":
            s = wrap_tls(s, v)
        elif name == "close":
            s.close()
            return
        else:
            die("unknown step %r" % step)
    s.close()


if __name__ == "__main__":
    main()
