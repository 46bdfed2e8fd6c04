#!/usr/bin/env python3
"""Checks a Frame Streams file written by the listener against what the senders sent, at the byte level
(no dnstap decoding involved).

Usage: fcheck.py OUT [IN...]
       fcheck.py --count FILE    prints the number of complete data frames of a file still being written
  OUT must be START(protobuf:dnstap.Dnstap) . data frames . STOP, nothing after. OUT may also be a
  comma-separated list of such files (rotated output): their frames are taken in that order.
  With IN files: OUT's data frames must be exactly all of theirs, each IN's frames in their order
  (frames of different senders may alternate, but only between whole frames).
Prints "N frames" and exits 0, or prints what is wrong and exits 1.
"""
import struct
import sys

CT = b"protobuf:dnstap.Dnstap"
START = struct.pack(">IIIII", 0, 4 + 8 + len(CT), 2, 1, len(CT)) + CT
STOP = struct.pack(">III", 0, 4, 3)


def fail(msg):
    print(msg)
    sys.exit(1)


def frames(path, strict):
    data = open(path, "rb").read()
    if not data.startswith(START):
        fail("%s: does not start with a dnstap START frame" % path)
    pos, out = len(START), []
    while pos + 4 <= len(data):
        (n,) = struct.unpack_from(">I", data, pos)
        if n == 0:
            if data[pos:pos + 12] != STOP:
                fail("%s: unexpected control frame at offset %d" % (path, pos))
            if strict and pos + 12 != len(data):
                fail("%s: %d bytes after STOP" % (path, len(data) - pos - 12))
            return out
        if pos + 4 + n > len(data):
            fail("%s: cut in the middle of a frame at offset %d" % (path, pos))
        out.append(data[pos + 4:pos + 4 + n])
        pos += 4 + n
    if strict:
        fail("%s: no STOP frame at the end" % path)
    return out


def main():
    if len(sys.argv) < 2:
        fail("usage: fcheck.py OUT [IN...]")
    if sys.argv[1] == "--count":
        try:
            data = open(sys.argv[2], "rb").read()
        except FileNotFoundError:
            data = b""
        pos, n = 0, 0
        while pos + 4 <= len(data):
            (length,) = struct.unpack_from(">I", data, pos)
            if length == 0:
                if pos + 8 > len(data):
                    break
                pos += 8 + struct.unpack_from(">I", data, pos + 4)[0]
                continue
            if pos + 4 + length > len(data):
                break
            n += 1
            pos += 4 + length
        print(n)
        return
    got = [f for path in sys.argv[1].split(",") for f in frames(path, True)]
    if len(sys.argv) > 2:
        ins = [frames(p, False) for p in sys.argv[2:]]
        want = sum(len(f) for f in ins)
        if len(got) != want:
            fail("%s: %d frames, the senders sent %d" % (sys.argv[1], len(got), want))
        # which sender each frame came from: payloads are looked up, each sender's list consumed in order
        nxt = [0] * len(ins)
        owners = {}
        for i, fs in enumerate(ins):
            for j, f in enumerate(fs):
                owners.setdefault(f, []).append((i, j))
        for k, f in enumerate(got):
            cands = [(i, j) for (i, j) in owners.get(f, []) if j == nxt[i]]
            if not cands:
                fail("%s: frame %d is not the next frame of any sender (lost, reordered or damaged)"
                     % (sys.argv[1], k + 1))
            i, _ = cands[0]
            nxt[i] += 1
    print("%d frames" % len(got))


if __name__ == "__main__":
    main()
