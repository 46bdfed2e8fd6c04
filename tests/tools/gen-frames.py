#!/usr/bin/env python3
"""Writes a large dnstap Frame Streams file for the volume tests and the benchmark, never committed.

Usage: gen-frames.py N OUT [TAG] [SOURCE...]
Takes the data frames of the SOURCE captures (default: every tests/data/*.dnstap) in turn and gives each
a unique Dnstap.extra field ("TAG N", N counting from 1), so every frame of OUT is distinct and the order
can be checked byte for byte. The frames stay valid dnstap.
"""
import glob
import os
import struct
import sys

CT = b"protobuf:dnstap.Dnstap"


def payloads(path):
    data = open(path, "rb").read()
    pos, out = 0, []
    while pos + 4 <= len(data):
        (n,) = struct.unpack_from(">I", data, pos)
        if n == 0:
            (clen,) = struct.unpack_from(">I", data, pos + 4)
            pos += 8 + clen
            continue
        out.append(data[pos + 4:pos + 4 + n])
        pos += 4 + n
    return out


def main():
    if len(sys.argv) < 3:
        sys.exit("usage: gen-frames.py N OUT [TAG] [SOURCE...]")
    n = int(sys.argv[1])
    tag = sys.argv[3].encode() if len(sys.argv) > 3 else b"seq"
    sources = sys.argv[4:] or sorted(glob.glob(os.path.join(os.path.dirname(__file__), "..", "data", "*.dnstap")))
    base = [p for s in sources for p in payloads(s)]
    with open(sys.argv[2], "wb") as out:
        out.write(struct.pack(">IIIII", 0, 4 + 8 + len(CT), 2, 1, len(CT)) + CT)
        chunk = []
        for i in range(n):
            extra = tag + b" %d" % (i + 1)
            # field 3 (extra), wire type 2: a later occurrence of a field replaces an earlier one
            p = base[i % len(base)] + bytes([0x1A, len(extra)]) + extra
            chunk.append(struct.pack(">I", len(p)) + p)
            if len(chunk) == 10000:
                out.write(b"".join(chunk))
                chunk = []
        out.write(b"".join(chunk))
        out.write(struct.pack(">III", 0, 4, 3))


if __name__ == "__main__":
    main()
