#!/usr/bin/env python3
"""Writes a dnstap Frame Streams file whose frames cannot all lie inside one of the receiver's read chunks:
frames of random sizes, small ones between big ones, each with different random bytes, so that a frame
put together from two chunks wrongly (a byte lost, doubled or moved) no longer matches what was sent.

Usage: straddle-frames.py N OUT BIG_MIN BIG_MAX [SEED]
Every eighth frame is BIG_MIN..BIG_MAX bytes, the others 20..5000 bytes. Each frame is a real message
from tests/data/*.dnstap with its Dnstap.extra field (3) replaced by "straddle I " and random padding,
so the frames stay valid dnstap. The same SEED (default 1) gives the same file.
"""
import glob
import os
import random
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


def varint(n):
    out = bytearray()
    while n >= 0x80:
        out.append(n & 0x7F | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def main():
    if len(sys.argv) not in (5, 6):
        sys.exit("usage: straddle-frames.py N OUT BIG_MIN BIG_MAX [SEED]")
    n, big_min, big_max = int(sys.argv[1]), int(sys.argv[3]), int(sys.argv[4])
    rnd = random.Random(int(sys.argv[5]) if len(sys.argv) > 5 else 1)
    sources = sorted(glob.glob(os.path.join(os.path.dirname(__file__), "..", "data", "*.dnstap")))
    base = [p for s in sources for p in payloads(s)]
    with open(sys.argv[2], "wb") as out:
        out.write(struct.pack(">IIIII", 0, 4 + 8 + len(CT), 2, 1, len(CT)) + CT)
        for i in range(n):
            size = rnd.randint(big_min, big_max) if i % 8 == 7 else rnd.randint(20, 5000)
            msg = base[i % len(base)]
            tag = b"straddle %d " % (i + 1)
            # field 3 (extra), wire type 2: a later occurrence of a field replaces an earlier one
            pad = max(0, size - len(msg) - len(tag) - 6)
            extra = tag + rnd.randbytes(pad)
            p = msg + b"\x1a" + varint(len(extra)) + extra
            out.write(struct.pack(">I", len(p)) + p)
        out.write(struct.pack(">III", 0, 4, 3))


if __name__ == "__main__":
    main()
