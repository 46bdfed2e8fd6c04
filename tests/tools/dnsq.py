#!/usr/bin/env python3
"""Sends DNS queries and prints each answer as hex, for byte-exact comparisons in the proxy tests.

  dnsq.py ADDR PORT udp|tcp QNAME QTYPE [--id N] [--noedns] [--bufsize N]
      one query; prints the answer (hex) on one line; exit 1 if none came within 3 s
  dnsq.py ADDR PORT burst N QNAME QTYPE [--servfail]
      N UDP queries with IDs 0..N-1 sent at once from one socket, then the answers read; prints
      "answered A of N, ids ok" and fails unless all came back with their own ID. With --servfail a
      second line "servfail S" counts the answers with RCODE SERVFAIL: a proxy gives those for queries
      its upstream dropped (a burst can overflow the upstream's socket buffer on a busy machine), and a
      test that counts taps needs to know how many upstream answers there were.
"""
import argparse
import select
import socket
import struct
import sys
import time

TYPES = {"A": 1, "NS": 2, "SOA": 6, "MX": 15, "TXT": 16, "AAAA": 28, "ANY": 255}


def build(qname, qtype, qid, noedns, bufsize):
    q = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0 if noedns else 1)
    for label in qname.rstrip(".").split("."):
        q += bytes([len(label)]) + label.encode()
    q += b"\0" + struct.pack(">HH", TYPES.get(qtype, 0) or int(qtype.replace("TYPE", "")), 1)
    if not noedns:
        q += b"\0" + struct.pack(">HHIH", 41, bufsize, 0, 0)
    return q


def family(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def one(addr, port, proto, q):
    if proto == "udp":
        s = socket.socket(family(addr), socket.SOCK_DGRAM)
        s.settimeout(3)
        s.sendto(q, (addr, port))
        return s.recv(65535)
    s = socket.socket(family(addr), socket.SOCK_STREAM)
    s.settimeout(3)
    s.connect((addr, port))
    s.sendall(struct.pack(">H", len(q)) + q)
    buf = b""
    while len(buf) < 2 or len(buf) < 2 + struct.unpack(">H", buf[:2])[0]:
        chunk = s.recv(65535)
        if not chunk:
            raise OSError("connection closed before the answer")
        buf += chunk
    return buf[2:2 + struct.unpack(">H", buf[:2])[0]]


def burst(addr, port, n, qname, qtype, want_servfail):
    s = socket.socket(family(addr), socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    for i in range(n):
        s.sendto(build(qname, qtype, i, False, 1232), (addr, port))
    seen = set()
    servfail = 0
    end = time.time() + 5
    while len(seen) < n and time.time() < end:
        r, _, _ = select.select([s], [], [], 0.2)
        if r:
            a = s.recv(65535)
            (qid, flags) = struct.unpack(">HH", a[:4])
            if qid not in seen and flags & 0xF == 2:
                servfail += 1
            seen.add(qid)
    ok = seen == set(range(n))
    print("answered %d of %d, ids %s" % (len(seen), n, "ok" if ok else "wrong"))
    if want_servfail:
        print("servfail %d" % servfail)
    return 0 if ok else 1


def main(argv):
    ap = argparse.ArgumentParser(prog="dnsq.py", description=__doc__.split("\n")[0])
    ap.add_argument("addr")
    ap.add_argument("port", type=int)
    ap.add_argument("proto", choices=["udp", "tcp", "burst"])
    ap.add_argument("args", nargs="+", metavar="ARG", help="QNAME QTYPE, or for burst N QNAME QTYPE")
    ap.add_argument("--id", type=int, default=4242)
    ap.add_argument("--noedns", action="store_true")
    ap.add_argument("--bufsize", type=int, default=1232)
    ap.add_argument("--servfail", action="store_true")
    o = ap.parse_args(argv[1:])
    if o.proto == "burst":
        if len(o.args) != 3:
            ap.error("burst takes N QNAME QTYPE")
        return burst(o.addr, o.port, int(o.args[0]), o.args[1], o.args[2], o.servfail)
    if len(o.args) != 2:
        ap.error("%s takes QNAME QTYPE" % o.proto)
    try:
        print(one(o.addr, o.port, o.proto, build(o.args[0], o.args[1], o.id, o.noedns, o.bufsize)).hex())
    except OSError as e:
        print("dnsq.py: %s %s:%d: %s" % (o.proto, o.addr, o.port, e), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
