#!/usr/bin/env python3
"""The DNS messages of a dnstap file as a pcap of them should show them, for tests/pcap.bats.

Usage: wire-fields.py FILE
       wire-fields.py FILE TSHARK_FIELDS
For each DNS wire message in FILE's frames (a query_message, then a response_message, in frame order),
prints one line:  SRC SPORT DST DPORT ID QNAME QTYPE RCODE HEX
with SRC/DST as the message travelled (a query from the query address to the response address, a
response back), QNAME in presentation form without the final dot, QTYPE and RCODE as numbers, and HEX
the message's bytes. A message too short for a question prints "-" there; so does a query for RCODE
(tshark shows it for responses only).

With TSHARK_FIELDS, the output of
  tshark -r PCAP -T fields -E occurrence=f -e ip.src -e ipv6.src -e udp.srcport -e tcp.srcport -e ip.dst
    -e ipv6.dst -e udp.dstport -e tcp.dstport -e dns.id -e dns.qry.name -e dns.qry.type -e dns.flags.rcode
    -e udp.payload -e tcp.payload
(tab-separated) is read, turned into the same lines (a TCP payload without its two-byte length), and
compared line by line with FILE's: exit 1 with the first difference, else prints the number of lines. This is a decoder of its own
(protobuf by hand, DNS by hand), independent of the toolkit's, so tshark can be checked against it.
"""
import ipaddress
import struct
import sys


def varint(b, i):
    v = s = 0
    while True:
        c = b[i]
        i += 1
        v |= (c & 0x7F) << s
        s += 7
        if c < 0x80:
            return v, i


def fields(b):
    """(number, value) of a protobuf message: ints for varint and fixed, bytes for length-delimited."""
    i, out = 0, []
    while i < len(b):
        key, i = varint(b, i)
        num, wt = key >> 3, key & 7
        if wt == 0:
            v, i = varint(b, i)
        elif wt == 1:
            v, i = struct.unpack_from("<Q", b, i)[0], i + 8
        elif wt == 5:
            v, i = struct.unpack_from("<I", b, i)[0], i + 4
        elif wt == 2:
            n, i = varint(b, i)
            v, i = b[i:i + n], i + n
        else:
            raise ValueError("wire type %d" % wt)
        out.append((num, v))
    return out


def frames(path):
    d = open(path, "rb").read()
    pos = 0
    while pos + 4 <= len(d):
        (n,) = struct.unpack_from(">I", d, pos)
        if n == 0:
            (clen,) = struct.unpack_from(">I", d, pos + 4)
            pos += 8 + clen
            continue
        yield d[pos + 4:pos + 4 + n]
        pos += 4 + n


def name(m, off):
    labels, jumps = [], 0
    while True:
        c = m[off]
        if c >= 0xC0:
            off = ((c & 0x3F) << 8) | m[off + 1]
            jumps += 1
            if jumps > 64:
                raise ValueError("loop")
            continue
        if c == 0:
            return ".".join(labels), off + 1
        labels.append(m[off + 1:off + 1 + c].decode("latin-1"))
        off += 1 + c


def question(m):
    try:
        (qd,) = struct.unpack_from(">H", m, 4)
        if qd == 0:
            return "-", "-"
        qn, off = name(m, 12)
        (qt,) = struct.unpack_from(">H", m, off)
        return qn or ".", str(qt)
    except (IndexError, ValueError, struct.error):
        return "-", "-"


def ip(b):
    return str(ipaddress.ip_address(b)) if len(b) in (4, 16) else "-"


def from_dnstap(path):
    out = []
    for payload in frames(path):
        top = dict(fields(payload))
        if 14 not in top:
            continue
        f = dict(fields(top[14]))
        qa, ra = ip(f.get(4, b"")), ip(f.get(5, b""))
        qp, rp = f.get(6, 0), f.get(7, 0)
        for num, src, sport, dst, dport in ((10, qa, qp, ra, rp), (14, ra, rp, qa, qp)):
            if num not in f or len(f[num]) < 12:
                continue
            m = f[num]
            qn, qt = question(m)
            (mid, flags) = struct.unpack_from(">HH", m, 0)
            rcode = str(flags & 15) if flags & 0x8000 else "-"
            out.append(" ".join(map(str, (src, sport, dst, dport, mid, qn, qt, rcode, m.hex()))))
    return out


def from_tshark(path):
    out = []
    for line in open(path):
        c = line.rstrip("\n").split("\t")
        c += [""] * (14 - len(c))
        tcp = c[13] != ""
        payload = c[13][4:] if tcp else c[12]
        qn = c[9] if c[9] != "<Root>" else "."
        out.append(" ".join((c[0] or c[1], c[2] or c[3], c[4] or c[5], c[6] or c[7], str(int(c[8], 16)) if c[8] else "-",
                             qn or "-", c[10] or "-", c[11] or "-", payload)))
    return out


def main():
    want = from_dnstap(sys.argv[1])
    if len(sys.argv) == 2:
        print("\n".join(want))
        return
    got = from_tshark(sys.argv[2])
    for i, (w, g) in enumerate(zip(want, got)):
        if w != g:
            sys.exit("message %d:\n  dnstap: %s\n  tshark: %s" % (i + 1, w, g))
    if len(want) != len(got):
        sys.exit("%d messages in the dnstap file, %d packets in tshark's" % (len(want), len(got)))
    print(len(want))


main()
