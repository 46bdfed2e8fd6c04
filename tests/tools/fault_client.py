#!/usr/bin/env python3
"""Frame Streams senders for the fault tests (tests/fault-peers.bats), and a checker for what arrived.

Every frame sent is a real dnstap payload (from tests/data) with a Dnstap.extra of "TAG N", N counting
from 1 per tag, as gen-frames.py makes them: the checker can tell which sender each frame of the output
came from and whether any was lost, repeated or reordered.

Usage: fault_client.py MODE ARG...   (ADDRESS is unix:PATH, or HOST:PORT / [V6]:PORT for TCP)
  send ADDRESS TAG N
      One well-behaved sender: READY, ACCEPT, START, N frames, STOP; FINISH must follow.
  stream ADDRESS TAG STOPFILE [MARK]
      One well-behaved sender streaming steadily (10 frames every 5 ms or so) until STOPFILE exists, then
      STOP; FINISH must follow. MARK is created once the first frames are out. Prints "TAG COUNT".
  many ADDRESS N K TAG [MARK GO]
      N connections at once, all driven by one event loop: each sends READY and, on ACCEPT, START, K
      frames (tags TAG1..TAGN) and STOP, and must get FINISH. With MARK and GO, no START goes out until
      all N have their ACCEPT (all N handshakes complete at once); then MARK is created and GO waited for.
  cycles ADDRESS[,ADDRESS...] N TAG FIRST
      N connect/disconnect cycles, one after the other, over the addresses in turn: connect and close at
      once; connect, READY and close; READY, ACCEPT, START, one frame (TAG FIRST, FIRST+1...), STOP and
      FINISH. Prints the number of frames sent.
  batches ADDRESS TAG K RESULT [MARK]
      READY, ACCEPT, START, K frames, STOP, FINISH; again on a new connection, numbering on, until the
      receiver goes away. Then writes "TAG SENT CONFIRMED" to RESULT: frames sent (some perhaps only in
      part) and frames whose batch was answered with FINISH. MARK is created after the second FINISH.
  check FILE
      FILE must be START(protobuf:dnstap.Dnstap), data frames, STOP. Prints "TAG COUNT" for each tag,
      sorted by tag; exits 1 (with the first problem) unless each tag's frames are exactly 1..COUNT in
      order.
Exit status 0 when all went as described; 1 with a line on stderr otherwise.
"""
import errno
import glob
import os
import selectors
import socket
import struct
import sys
import time

CT = b"protobuf:dnstap.Dnstap"
ACCEPT, START, STOP, READY, FINISH = 1, 2, 3, 4, 5
DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data")
GONE = (OSError, socket.timeout)  # what a receiver that went away looks like to a sender


def die(msg):
    sys.stderr.write("fault_client: %s\n" % msg)
    sys.exit(1)


def control(ctype, cts=()):
    body = struct.pack(">I", ctype)
    for ct in cts:
        body += struct.pack(">II", 1, len(ct)) + ct
    return struct.pack(">II", 0, len(body)) + body


def base_payloads():
    out = []
    for path in sorted(glob.glob(os.path.join(DATA, "*.dnstap"))):
        data = open(path, "rb").read()
        pos = 0
        while pos + 4 <= len(data):
            (n,) = struct.unpack_from(">I", data, pos)
            if n == 0:
                pos += 8 + struct.unpack_from(">I", data, pos + 4)[0]
                continue
            out.append(data[pos + 4:pos + 4 + n])
            pos += 4 + n
    if not out:
        die("no captures in %s" % DATA)
    return out


BASE = base_payloads()


def frame(tag, n):
    """The data frame numbered n of sender tag: field 3 (extra) last, so it replaces any earlier one."""
    extra = b"%s %d" % (tag.encode(), n)
    p = BASE[(n + len(tag)) % len(BASE)] + bytes([0x1A, len(extra)]) + extra
    return struct.pack(">I", len(p)) + p


def connect(address, timeout=30):
    if address.startswith("unix:"):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(timeout)
        s.connect(address[5:])
        return s
    host, _, port = address.rpartition(":")
    host = host.strip("[]")
    s = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s.connect((host, int(port)))
    return s


def recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise ConnectionResetError(errno.ECONNRESET, "closed by the receiver")
        buf += chunk
    return buf


def parse_control(body):
    """(type, content types) of a control frame's body."""
    ctype = struct.unpack_from(">I", body)[0]
    cts, pos = [], 4
    while pos + 8 <= len(body):
        ftype, flen = struct.unpack_from(">II", body, pos)
        if ftype == 1:
            cts.append(body[pos + 8:pos + 8 + flen])
        pos += 8 + flen
    return ctype, cts


def read_control(s):
    esc, length = struct.unpack(">II", recv_exact(s, 8))
    if esc != 0:
        raise ValueError("expected a control frame, got a data frame of %d bytes" % esc)
    return parse_control(recv_exact(s, length))


def handshake(s):
    s.sendall(control(READY, [CT]))
    ctype, cts = read_control(s)
    if ctype != ACCEPT or CT not in cts:
        raise ValueError("expected ACCEPT with %s, got control type %d %r" % (CT.decode(), ctype, cts))
    s.sendall(control(START, [CT]))


def finish(s):
    s.sendall(control(STOP))
    ctype, _ = read_control(s)
    if ctype != FINISH:
        raise ValueError("expected FINISH, got control type %d" % ctype)


def touch(path):
    open(path, "w").close()


# ==== modes ====


def mode_send(address, tag, n):
    try:
        s = connect(address)
        handshake(s)
        for i in range(0, int(n), 100):
            s.sendall(b"".join(frame(tag, j + 1) for j in range(i, min(i + 100, int(n)))))
        finish(s)
        s.close()
    except GONE + (ValueError,) as e:
        die("send %s: %s" % (tag, e))


def mode_stream(address, tag, stopfile, mark=None):
    n = 0
    try:
        s = connect(address)
        handshake(s)
        while not os.path.exists(stopfile):
            s.sendall(b"".join(frame(tag, n + 1 + i) for i in range(10)))
            n += 10
            if mark and n == 10:
                touch(mark)
            time.sleep(0.005)
        finish(s)
        s.close()
    except GONE + (ValueError,) as e:
        die("stream %s: after %d frames: %s" % (tag, n, e))
    print("%s %d" % (tag, n))


class Conn:
    __slots__ = ("i", "s", "out", "inb", "state")

    def __init__(self, i, s):
        self.i, self.s, self.out, self.inb, self.state = i, s, b"", b"", "accept"


def mode_many(address, n, k, tag, mark=None, go=None):
    n, k = int(n), int(k)
    sel = selectors.DefaultSelector()
    conns = []
    for i in range(n):
        try:
            s = connect(address)
        except GONE as e:
            die("many: connection %d of %d: %s" % (i + 1, n, e))
        s.setblocking(False)
        c = Conn(i + 1, s)
        c.out = control(READY, [CT])
        conns.append(c)
        sel.register(s, selectors.EVENT_READ | selectors.EVENT_WRITE, c)
    handshaken = finished = 0
    barrier = mark is not None

    def queue_data(c):
        c.out += control(START, [CT]) + b"".join(frame("%s%d" % (tag, c.i), j + 1) for j in range(k))
        c.out += control(STOP)
        sel.modify(c.s, selectors.EVENT_READ | selectors.EVENT_WRITE, c)

    deadline = time.time() + 120
    while finished < n:
        if time.time() > deadline:
            states = {}
            for c in conns:
                states[c.state] = states.get(c.state, 0) + 1
            die("many: not done after 120 s: %r" % states)
        for key, ev in sel.select(timeout=1):
            c = key.data
            try:
                if ev & selectors.EVENT_WRITE and c.out:
                    sent = c.s.send(c.out)
                    c.out = c.out[sent:]
                    if not c.out:
                        sel.modify(c.s, selectors.EVENT_READ, c)
                if not ev & selectors.EVENT_READ:
                    continue
                data = c.s.recv(4096)
            except BlockingIOError:
                continue
            except OSError as e:
                die("many: connection %d (%s): %s" % (c.i, c.state, e))
            if not data:
                die("many: connection %d closed by the receiver while waiting for %s" % (c.i, c.state.upper()))
            c.inb += data
            while len(c.inb) >= 8:
                esc, length = struct.unpack_from(">II", c.inb)
                if esc != 0 or len(c.inb) < 8 + length:
                    break
                ctype, cts = parse_control(c.inb[8:8 + length])
                c.inb = c.inb[8 + length:]
                if c.state == "accept" and ctype == ACCEPT and CT in cts:
                    c.state = "finish"
                    handshaken += 1
                    if not barrier:
                        queue_data(c)
                    elif handshaken == n:
                        touch(mark)
                        wait_for(go)
                        for d in conns:
                            queue_data(d)
                elif c.state == "finish" and ctype == FINISH:
                    c.state = "done"
                    finished += 1
                    sel.unregister(c.s)
                    c.s.close()
                    break
                else:
                    die("many: connection %d: unexpected control type %d waiting for %s" % (c.i, ctype, c.state))
    print("%d connections, %d FINISH" % (n, finished))


def wait_for(path, limit=120):
    deadline = time.time() + limit
    while not os.path.exists(path):
        if time.time() > deadline:
            die("%s did not appear" % path)
        time.sleep(0.01)


def mode_cycles(addresses, n, tag, first):
    addresses = addresses.split(",")
    seq = int(first)
    sent = 0
    for i in range(int(n)):
        address = addresses[i % len(addresses)]
        try:
            s = connect(address)
            kind = i % 3
            if kind == 1:
                s.sendall(control(READY, [CT]))
            elif kind == 2:
                handshake(s)
                s.sendall(frame(tag, seq))
                seq += 1
                sent += 1
                finish(s)
            s.close()
        except GONE + (ValueError,) as e:
            die("cycles: cycle %d over %s: %s" % (i + 1, address, e))
    print(sent)


def mode_batches(address, tag, k, result, mark=None):
    k = int(k)
    sent = confirmed = batches = 0
    why = "?"
    while True:
        try:
            s = connect(address)
        except GONE as e:
            why = "connect: %s" % e
            break
        try:
            s.settimeout(30)
            handshake(s)
            for j in range(0, k, 25):
                chunk = [frame(tag, sent + 1 + i) for i in range(min(25, k - j))]
                sent += len(chunk)  # counted before it goes out: some may be sent only in part
                s.sendall(b"".join(chunk))
                time.sleep(0.001)  # a steady stream, not a flood: a signal mostly lands mid-batch
            finish(s)
        except GONE + (ValueError,) as e:
            why = "%s" % e
            s.close()
            break
        s.close()
        confirmed = sent
        batches += 1
        if mark and batches == 2:
            touch(mark)
    with open(result, "w") as f:
        f.write("%s %d %d\n" % (tag, sent, confirmed))
    sys.stderr.write("batches %s: %d batches confirmed; stopped: %s\n" % (tag, batches, why))


def varint(p, pos):
    v = shift = 0
    while True:
        b = p[pos]
        pos += 1
        v |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return v, pos


def extra_of(p):
    """The last Dnstap.extra (field 3) of a payload, or None."""
    pos, extra = 0, None
    while pos < len(p):
        key, pos = varint(p, pos)
        wt = key & 7
        if wt == 0:
            _, pos = varint(p, pos)
        elif wt == 1:
            pos += 8
        elif wt == 5:
            pos += 4
        elif wt == 2:
            n, pos = varint(p, pos)
            if key >> 3 == 3:
                extra = p[pos:pos + n]
            pos += n
        else:
            raise ValueError("wire type %d" % wt)
    return extra


def mode_check(path):
    data = open(path, "rb").read()
    start = struct.pack(">IIIII", 0, 4 + 8 + len(CT), START, 1, len(CT)) + CT
    stop = struct.pack(">III", 0, 4, STOP)
    if not data.startswith(start):
        die("%s: does not start with a dnstap START frame" % path)
    pos, k, counts = len(start), 0, {}
    while True:
        if pos + 4 > len(data):
            die("%s: no STOP frame at the end" % path)
        (n,) = struct.unpack_from(">I", data, pos)
        if n == 0:
            if data[pos:] != stop:
                die("%s: a control frame other than a final STOP at offset %d" % (path, pos))
            break
        if pos + 4 + n > len(data):
            die("%s: cut in the middle of a frame at offset %d" % (path, pos))
        k += 1
        try:
            tag, _, seq = extra_of(data[pos + 4:pos + 4 + n]).decode().rpartition(" ")
            seq = int(seq)
        except (ValueError, AttributeError, IndexError, UnicodeDecodeError):
            die("%s: frame %d is not one of ours (damaged?)" % (path, k))
        want = counts.get(tag, 0) + 1
        if seq != want:
            die("%s: frame %d is %s %d where %s %d was due (lost, repeated or reordered)"
                % (path, k, tag, seq, tag, want))
        counts[tag] = seq
        pos += 4 + n
    for tag in sorted(counts):
        print("%s %d" % (tag, counts[tag]))


MODES = {"send": mode_send, "stream": mode_stream, "many": mode_many, "cycles": mode_cycles, "batches": mode_batches,
         "check": mode_check}

if __name__ == "__main__":
    if len(sys.argv) < 3 or sys.argv[1] not in MODES:
        die("usage: fault_client.py send|stream|many|cycles|batches|check ARG...")
    MODES[sys.argv[1]](*sys.argv[2:])
