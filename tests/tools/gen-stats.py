#!/usr/bin/env python3
"""Writes dnstap Frame Streams files with known statistics, for tests/metrics.bats (never committed).

Usage: gen-stats.py MODE N OUT
  distinct  N CLIENT_QUERY messages, each for its own name (n1.example., n2.example., ...)
  skewed    N CLIENT_QUERY messages: of every 100, 10 for hot1.example., 8 hot2, 6 hot3, 4 hot4, 2 hot5
            (from clients 192.0.2.1 to .5 likewise), the other 70 each for a name and client of their own
  pairs     N/2 CLIENT_QUERY + CLIENT_RESPONSE pairs; pair i is answered (i % 4 + 1) ms later, with
            NXDOMAIN when i % 10 == 0 (names nx0. to nx2.), SERVFAIL when i % 10 == 1 (sf0. to sf1.)
The payloads are encoded here, field by field, independently of libdnstap.
"""
import struct
import sys

CT = b"protobuf:dnstap.Dnstap"


def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def field_bytes(num, data):
    return varint(num << 3 | 2) + varint(len(data)) + data


def field_varint(num, v):
    return varint(num << 3) + varint(v)


def field_fixed32(num, v):
    return varint(num << 3 | 5) + struct.pack("<I", v)


def wire_name(name):
    out = b""
    for label in name.rstrip(".").split("."):
        out += bytes([len(label)]) + label.encode()
    return out + b"\0"


def dns(qid, name, response=False, rcode=0):
    flags = 0x8180 | rcode if response else 0x0100
    return struct.pack(">HHHHHH", qid, flags, 1, 0, 0, 0) + wire_name(name) + struct.pack(">HH", 1, 1)


def message(mtype, client, name, qid, qtime, rtime=None, rcode=0, port=40000):
    m = field_varint(1, mtype) + field_varint(2, 1) + field_varint(3, 1)
    m += field_bytes(4, bytes(client)) + field_bytes(5, bytes([192, 0, 2, 53]))
    m += field_varint(6, port) + field_varint(7, 53)
    m += field_varint(8, qtime // 10**9) + field_fixed32(9, qtime % 10**9)
    if rtime is None:
        m += field_bytes(10, dns(qid, name))
    else:
        m += field_varint(12, rtime // 10**9) + field_fixed32(13, rtime % 10**9)
        m += field_bytes(14, dns(qid, name, True, rcode))
    return field_bytes(1, b"gen-stats") + field_varint(15, 1) + field_bytes(14, m)


def fast_queries(names_clients):
    """CLIENT_QUERY payloads as message() makes them (all at one time, ID 0), from templates: a million
    in seconds rather than a minute."""
    t0 = 1700000000
    head = field_varint(1, 5) + field_varint(2, 1) + field_varint(3, 1) + varint(4 << 3 | 2) + b"\x04"
    mid = (field_bytes(5, bytes([192, 0, 2, 53])) + field_varint(6, 40000) + field_varint(7, 53) +
           field_varint(8, t0) + field_fixed32(9, 0))
    dns_head = struct.pack(">HHHHHH", 0, 0x0100, 1, 0, 0, 0)
    tail = struct.pack(">HH", 1, 1)
    outer = field_bytes(1, b"gen-stats") + field_varint(15, 1) + b"\x72"
    for name, client in names_clients:
        w = dns_head + b"".join(bytes([len(x)]) + x for x in name.encode().split(b".")[:-1]) + b"\0" + tail
        m = head + client + mid + b"\x52" + varint(len(w)) + w
        yield outer + varint(len(m)) + m


def frames(mode, n):
    t0 = 1700000000 * 10**9
    if mode == "distinct":
        yield from fast_queries(("n%d.example." % (i + 1), struct.pack(">I", 0x0A000000 | i)) for i in range(n))
    elif mode == "skewed":
        table = [h for h, k in [(1, 10), (2, 8), (3, 6), (4, 4), (5, 2)] for _ in range(k)]

        def pick(i):
            r = i % 100
            if r < len(table):
                return "hot%d.example." % table[r], bytes([192, 0, 2, table[r]])
            return "u%d.example." % i, struct.pack(">I", 0x0A000000 | i)
        yield from fast_queries(pick(i) for i in range(n))
    elif mode == "pairs":
        for i in range(n // 2):
            name, rcode = "p%d.example." % i, 0
            if i % 10 == 0:
                name, rcode = "nx%d.example." % (i % 3), 3
            elif i % 10 == 1:
                name, rcode = "sf%d.example." % (i % 2), 2
            client = [10, 1, (i >> 8) & 255, i & 255]
            qt = t0 + i * 10**6
            port = 1024 + i % 60000
            yield message(5, client, name, i & 0xFFFF, qt, port=port)
            yield message(6, client, name, i & 0xFFFF, qt, rtime=qt + (i % 4 + 1) * 10**6, rcode=rcode, port=port)
    else:
        sys.exit("unknown mode " + mode)


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    mode, n, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    with open(path, "wb") as out:
        out.write(struct.pack(">IIIII", 0, 4 + 8 + len(CT), 2, 1, len(CT)) + CT)
        chunk = []
        for p in frames(mode, n):
            chunk.append(struct.pack(">I", len(p)) + p)
            if len(chunk) == 10000:
                out.write(b"".join(chunk))
                chunk = []
        out.write(b"".join(chunk))
        out.write(struct.pack(">III", 0, 4, 3))


if __name__ == "__main__":
    main()
