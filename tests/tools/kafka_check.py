#!/usr/bin/env python3
"""Checks what came back from Kafka against what was sent, frame by frame, for tests/kafka.bats.

Usage:
  kafka_check.py partitions SRC PART...  every frame of Frame Streams file SRC is in exactly one PART, and
                                         each PART holds its frames in SRC's order (a PART is kcat's
                                         -f '%R%s' output: length-prefixed payloads, or a Frame Streams file)
  kafka_check.py subset SRC PART...      like partitions, but frames of SRC may be missing; prints how
                                         many frames the PARTs hold
  kafka_check.py same SRC OUT            OUT holds exactly SRC's frames, in any order
  kafka_check.py covers SRC OUT...       every frame of SRC is in some OUT, and the OUTs hold nothing else
                                         (at least once: a frame may come twice); an OUT may end in the
                                         middle of a frame (a writer killed); prints, for each OUT, how
                                         many frames it holds
  kafka_check.py count FILE              prints the number of frames in FILE
Exit status 0 when the check holds; 1 with a line on stderr otherwise.
"""
import struct
import sys


def frames(path, cut_ok=False):
    data = open(path, "rb").read()
    pos, out = 0, []
    while pos + 4 <= len(data):
        (n,) = struct.unpack_from(">I", data, pos)
        if n == 0:  # a control frame of a Frame Streams file
            (clen,) = struct.unpack_from(">I", data, pos + 4)
            pos += 8 + clen
            continue
        if cut_ok and pos + 4 + n > len(data):
            return out  # the frame a killed writer was writing
        out.append(data[pos + 4:pos + 4 + n])
        pos += 4 + n
    if pos != len(data) and not cut_ok:
        sys.exit(f"{path}: {len(data) - pos} bytes after the last whole frame")
    return out


def main():
    mode, args = sys.argv[1], sys.argv[2:]
    if mode == "count":
        print(len(frames(args[0])))
        return
    src = frames(args[0])
    index = {}
    for i, f in enumerate(src):
        if f in index:
            sys.exit(f"{args[0]}: frame {i + 1} is not unique: cannot check order")
        index[f] = i
    if mode == "covers":
        seen, counts = set(), []
        for path in args[1:]:
            got = frames(path, cut_ok=True)
            for f in got:
                if f not in index:
                    sys.exit(f"{path}: a frame that is not in {args[0]}")
                seen.add(index[f])
            counts.append(str(len(got)))
        if len(seen) != len(src):
            sys.exit(f"{len(src) - len(seen)} frames of {args[0]} missing from {' '.join(args[1:])}")
        print(" ".join(counts))
        return
    if mode == "same":
        out = frames(args[1])
        if sorted(out) != sorted(src):
            sys.exit(f"{args[1]}: {len(out)} frames, not the {len(src)} frames of {args[0]}")
        return
    seen = set()
    for part in args[1:]:
        last = -1
        for f in frames(part):
            i = index.get(f)
            if i is None:
                sys.exit(f"{part}: a frame that is not in {args[0]}")
            if i in seen:
                sys.exit(f"{part}: frame {i + 1} of {args[0]} twice")
            if i < last:
                sys.exit(f"{part}: frame {i + 1} after frame {last + 1}: order not kept")
            seen.add(i)
            last = i
    if mode == "subset":
        print(len(seen))
        return
    if len(seen) != len(src):
        sys.exit(f"{len(src) - len(seen)} frames of {args[0]} missing")


main()
