#!/usr/bin/env python3
"""A steady UDP query load that runs until told to stop, then waits for every answer: for the tests that
disturb a server (or its collector) while it is busy and must know exactly how many queries it answered.

Usage: dnsload.py ADDR PORT STOPFILE [--rate QPS] [--window N]
  Sends queries (A, AAAA and MX for names of lab.test, and a name that does not exist) at QPS per second
  (default 2000), never more than N unanswered at once (default 100), until STOPFILE exists; then sends
  no more and waits (30 s at most) for the answers still due.
  Every 0.1 s it prints "answered N" on stdout, so a test can wait until the load has moved on. At the
  end it prints "sent S answered A servfail F mismatched M" and exits 0 only if every query was answered
  with its own ID and question, none with SERVFAIL.
"""
import argparse
import os
import select
import socket
import struct
import sys
import time

QUERIES = [("www.lab.test", 1), ("www.lab.test", 28), ("lab.test", 15), ("nope.lab.test", 1)]


def wire(qid, name, qtype):
    q = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    for label in name.split("."):
        q += bytes([len(label)]) + label.encode()
    return q + b"\0" + struct.pack(">HH", qtype, 1)


def main(argv):
    ap = argparse.ArgumentParser(prog="dnsload.py", description=__doc__.split("\n")[0])
    ap.add_argument("addr")
    ap.add_argument("port", type=int)
    ap.add_argument("stopfile")
    ap.add_argument("--rate", type=float, default=2000.0)
    ap.add_argument("--window", type=int, default=100)
    o = ap.parse_args(argv[1:])
    addr, port, stopfile, rate, window = o.addr, o.port, o.stopfile, o.rate, o.window
    s = socket.socket(socket.AF_INET6 if ":" in addr else socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    s.connect((addr, port))
    s.setblocking(False)

    outstanding = {}  # id -> the question bytes the answer must repeat
    sent = answered = servfail = mismatched = 0
    next_id = 0
    start = time.monotonic()
    last_report = 0.0
    stopping_at = None
    while True:
        now = time.monotonic()
        if stopping_at is None and os.path.exists(stopfile):
            stopping_at = now
        if stopping_at is not None and (not outstanding or now - stopping_at > 30):
            break
        # send what the rate allows, within the window
        while stopping_at is None and len(outstanding) < window and sent < rate * (now - start) + 1:
            while next_id in outstanding:
                next_id = (next_id + 1) & 0xFFFF
            name, qtype = QUERIES[sent % len(QUERIES)]
            q = wire(next_id, name, qtype)
            try:
                s.send(q)
            except BlockingIOError:
                break
            outstanding[next_id] = q[12:]
            next_id = (next_id + 1) & 0xFFFF
            sent += 1
        r, _, _ = select.select([s], [], [], 0.005)
        if r:
            while True:
                try:
                    a = s.recv(65535)
                except BlockingIOError:
                    break
                except ConnectionRefusedError:
                    continue  # an ICMP error from before the server was up; the query is still due
                if len(a) < 12:
                    mismatched += 1
                    continue
                (qid,) = struct.unpack(">H", a[:2])
                question = outstanding.pop(qid, None)
                if question is None or not a[12:].startswith(question):
                    mismatched += 1
                    continue
                answered += 1
                if a[3] & 0x0F == 2:
                    servfail += 1
        if now - last_report >= 0.1:
            print("answered %d" % answered, flush=True)
            last_report = now
    print("sent %d answered %d servfail %d mismatched %d" % (sent, answered, servfail, mismatched), flush=True)
    return 0 if sent == answered and servfail == 0 and mismatched == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
