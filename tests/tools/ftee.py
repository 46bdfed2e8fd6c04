#!/usr/bin/env python3
"""A byte-level tee between a dnstap sender and two receivers, so that one real server's stream reaches
both our listener and fstrm_capture, byte for byte the same.

Usage: ftee.py LISTEN PRIMARY SECONDARY
  each an address: unix:PATH, or HOST:PORT / [V6]:PORT (LISTEN may use port 0; the port is printed)
For every sender that connects, ftee connects to PRIMARY and SECONDARY and copies everything the sender
sends to both. Only PRIMARY answers the sender (its ACCEPT and FINISH are passed back); what SECONDARY
says is read and dropped. That works because the sender's bytes are all either receiver needs.
Prints "listening on ADDRESS", and "closed N" when the N-th sender's connection is over. Runs until
SIGTERM.
"""
import os
import signal
import socket
import sys
import threading


def parse(address):
    if address.startswith("unix:"):
        return socket.AF_UNIX, address[5:]
    host, _, port = address.rpartition(":")
    host = host.strip("[]")
    return (socket.AF_INET6 if ":" in host else socket.AF_INET), (host, int(port))


def connect(address):
    fam, addr = parse(address)
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.connect(addr)
    return s


def pump(src, dsts):
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            for d in dsts:
                try:
                    d.sendall(data)
                except OSError:
                    pass
    except OSError:
        pass
    for d in dsts:
        try:
            d.shutdown(socket.SHUT_WR)
        except OSError:
            pass


lock = threading.Lock()
done = 0


def serve(sender, primary, secondary):
    global done
    p = connect(primary)
    s = connect(secondary)
    threads = [
        threading.Thread(target=pump, args=(sender, [p, s])),
        threading.Thread(target=pump, args=(p, [sender])),
        threading.Thread(target=pump, args=(s, [])),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for x in (sender, p, s):
        x.close()
    with lock:
        done += 1
        print("closed %d" % done, flush=True)


def main():
    if len(sys.argv) != 4:
        sys.exit("usage: ftee.py LISTEN PRIMARY SECONDARY")
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    fam, addr = parse(sys.argv[1])
    ls = socket.socket(fam, socket.SOCK_STREAM)
    if fam != socket.AF_UNIX:
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(addr)
    ls.listen(64)
    if fam == socket.AF_UNIX:
        print("listening on unix:%s" % addr, flush=True)
    else:
        print("listening on port %d" % ls.getsockname()[1], flush=True)
    while True:
        conn, _ = ls.accept()
        threading.Thread(target=serve, args=(conn, sys.argv[2], sys.argv[3]), daemon=True).start()


if __name__ == "__main__":
    main()
