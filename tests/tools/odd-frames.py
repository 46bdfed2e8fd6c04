#!/usr/bin/env python3
"""Writes a dnstap Frame Streams file of unusual frames for the format tests (tests/formats.bats):
every EDNS option the structured JSON decodes, record types with rdata worth checking, names and
identities holding commas, quotes, newlines and bytes that are not UTF-8, malformed and short DNS
messages, and frames with fields missing.

Usage: odd-frames.py OUT [SET]
SET: all (default); ldns-y, the frames dnstap-ldns -y prints without stopping or crashing; ldns-q.
"""
import struct
import sys

CT = b"protobuf:dnstap.Dnstap"


def varint(v):
    out = b""
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])


def field(num, wt, val):
    key = varint(num << 3 | wt)
    if wt == 0:
        return key + varint(val)
    if wt == 2:
        return key + varint(len(val)) + val
    if wt == 5:
        return key + struct.pack("<I", val)
    raise ValueError(wt)


def dnstap(msg=None, identity=b"odd", version=b"odd-frames 1", extra=None, dtype=1):
    p = b""
    if identity is not None:
        p += field(1, 2, identity)
    if version is not None:
        p += field(2, 2, version)
    if extra is not None:
        p += field(3, 2, extra)
    if msg is not None:
        p += field(14, 2, msg)
    return p + field(15, 0, dtype)


def message(mtype, qwire=None, rwire=None, family=1, proto=1, qaddr=b"\xc0\x00\x02\x01",
            raddr=b"\xc6\x33\x64\x0a", qport=53000, rport=53, qtime=(1700000000, 123456789),
            rtime=(1700000000, 223456789), zone=None):
    p = field(1, 0, mtype)
    if family is not None:
        p += field(2, 0, family)
    if proto is not None:
        p += field(3, 0, proto)
    if qaddr is not None:
        p += field(4, 2, qaddr)
    if raddr is not None:
        p += field(5, 2, raddr)
    if qport is not None:
        p += field(6, 0, qport)
    if rport is not None:
        p += field(7, 0, rport)
    if qtime is not None:
        p += field(8, 0, qtime[0]) + field(9, 5, qtime[1])
    if qwire is not None:
        p += field(10, 2, qwire)
    if zone is not None:
        p += field(11, 2, zone)
    if rtime is not None:
        p += field(12, 0, rtime[0]) + field(13, 5, rtime[1])
    if rwire is not None:
        p += field(14, 2, rwire)
    return p


def name(s):
    """A wire name from a list of labels (bytes) or a dotted str."""
    labels = s if isinstance(s, list) else [l.encode() for l in s.rstrip(".").split(".") if l]
    return b"".join(bytes([len(l)]) + l for l in labels) + b"\0"


def rr(owner, rtype, rdata, ttl=300, rclass=1):
    return name(owner) + struct.pack(">HHIH", rtype, rclass, ttl, len(rdata)) + rdata


def opt(options, udp=1232, ext_rcode=0, do=True):
    rdata = b"".join(struct.pack(">HH", c, len(v)) + v for c, v in options)
    ttl = ext_rcode << 24 | (0x8000 if do else 0)
    return b"\0" + struct.pack(">HHIH", 41, udp, ttl, len(rdata)) + rdata


def msg(qid, flags, question, answer=(), authority=(), additional=()):
    q = b"".join(name(n) + struct.pack(">HH", t, c) for n, t, c in question)
    return (struct.pack(">HHHHHH", qid, flags, len(question), len(answer), len(authority), len(additional)) + q +
            b"".join(answer) + b"".join(authority) + b"".join(additional))


def txt(*strings):
    return b"".join(bytes([len(s)]) + s for s in strings)


def frames():
    q_edns = msg(0x0101, 0x0120, [("www.example.com.", 1, 1)], additional=[opt([
        (8, struct.pack(">HBB", 1, 24, 0) + bytes([192, 0, 2])),
        (10, bytes.fromhex("0102030405060708")),
        (3, b""),
        (11, b""),
        (12, bytes(8)),
        (65001, b"\xde\xad"),
    ])])
    r_edns = msg(0x0101, 0x8180 | 3, [("www.example.com.", 1, 1)], additional=[opt([
        (8, struct.pack(">HBB", 2, 48, 48) + bytes.fromhex("20010db80001")),
        (10, bytes.fromhex("0102030405060708a1a2a3a4a5a6a7a8")),
        (3, b"ns1.example"),
        (11, struct.pack(">H", 1200)),
        (15, struct.pack(">H", 18) + b"blocked, \"by\" policy"),
        (15, struct.pack(">H", 999)),
    ], ext_rcode=0)])
    svcb = struct.pack(">H", 1) + name("svc.example.net.") + struct.pack(">HH", 1, 3) + b"\x02h2" + \
        struct.pack(">HHH", 3, 2, 8443) + struct.pack(">HH", 4, 4) + bytes([192, 0, 2, 7])
    odd_owner = [b"a,b", b"q\"uote", b"dot.label", b"sp ace", b"nl\nbyte", b"\xff\xfe", b"example"]
    answers = msg(0x0202, 0x8580, [("example.com.", 255, 1)], answer=[
        rr("example.com.", 1, bytes([192, 0, 2, 1])),
        rr("example.com.", 28, bytes.fromhex("20010db8000000000000000000000001")),
        rr("alias.example.com.", 5, name("example.com.")),
        rr("example.com.", 2, name("ns1.example.com."), ttl=86400),
        rr("1.2.0.192.in-addr.arpa.", 12, name("example.com.")),
        rr("example.com.", 15, struct.pack(">H", 10) + name("mail.example.com.")),
        rr("example.com.", 16, txt(b"v=spf1 -all", b"a \"quoted\", comma\\ and\nnewline", b"\xc3\xa9t\xe9")),
        rr("example.com.", 6, name("ns1.example.com.") + name("host\\master.example.com.") +
           struct.pack(">IIIII", 2024010101, 7200, 3600, 1209600, 300)),
        rr("_sip._udp.example.com.", 33, struct.pack(">HHH", 10, 60, 5060) + name("sip.example.com.")),
        rr("example.com.", 64, svcb),
        rr("example.com.", 65, struct.pack(">H", 0) + name("alias.example.net.")),
        rr("example.com.", 257, b"\x00\x05issue" + b"ca.example.net"),
        rr("example.com.", 65280, b"\x01\x02\x03"),
        rr(odd_owner, 1, bytes([198, 51, 100, 9])),
    ], authority=[rr("example.com.", 2, name("ns2.example.com."))],
        additional=[rr("ns2.example.com.", 1, bytes([192, 0, 2, 53])), opt([])])
    truncated = answers[:70]
    short = b"\x12\x34\x01"
    badvers = msg(0x0303, 0x8000, [("example.org.", 1, 1)], additional=[opt([], ext_rcode=1)])
    # a signed response: TSIG last in the additional section (ldns shows it apart)
    tsig_rdata = name("hmac-sha256.") + struct.pack(">HIH", 0, 1700000000, 300) + struct.pack(">H", 4) + b"\x01\x02\x03\x04" + \
        struct.pack(">HHH", 0x0404, 0, 0)
    signed = msg(0x0404, 0x8400, [("example.net.", 6, 1)], answer=[
        rr("example.net.", 6, name("ns.example.net.") + name("admin.example.net.") + struct.pack(">IIIII", 1, 2, 3, 4, 5))],
        additional=[opt([], ext_rcode=0), rr("key.example.", 250, tsig_rdata, ttl=0, rclass=255)])
    ident = b"edge, \"one\"\nline two\xff"
    out = []
    out.append(("all ldns-q ldns-y", dnstap(message(5, qwire=q_edns, rtime=None))))
    out.append(("all ldns-q ldns-y", dnstap(message(6, qwire=q_edns, rwire=r_edns))))
    out.append(("all ldns-q ldns-y", dnstap(message(4, rwire=answers, zone=name("example.com.")),
                                            identity=ident)))
    out.append(("all ldns-q ldns-y", dnstap(message(2, rwire=truncated, family=2, qaddr=bytes(15) + b"\x01",
                                                    raddr=bytes.fromhex("20010db8000000000000000000000035")))))
    out.append(("all ldns-q ldns-y", dnstap(message(1, qwire=short))))
    out.append(("all ldns-q ldns-y", dnstap(message(6, rwire=badvers), identity=None, version=None)))
    out.append(("all ldns-q ldns-y", dnstap(message(5, qwire=q_edns, family=None, proto=None, qaddr=None,
                                                    raddr=None, qport=None, rport=None, qtime=None,
                                                    rtime=None))))
    out.append(("all ldns-q ldns-y", dnstap(message(3, qaddr=b"\x01\x02\x03\x04\x05", raddr=b"",
                                                    qwire=b"", rwire=None),
                                            extra=b"extra \x00 bytes")))
    out.append(("all ldns-q ldns-y", dnstap(message(2, rwire=signed))))
    # values dnstap-ldns' dnstap.proto does not know: -y stops there
    out.append(("all ldns-q", dnstap(message(5, qwire=q_edns, proto=3))))
    out.append(("all ldns-q", dnstap(message(13, qwire=q_edns))))
    # a MESSAGE without its message: dnstap-ldns -y crashes on it
    out.append(("all ldns-q", dnstap(None)))
    return out


def main():
    if len(sys.argv) < 2:
        sys.exit("usage: odd-frames.py OUT [all|ldns-q|ldns-y]")
    want = sys.argv[2] if len(sys.argv) > 2 else "all"
    with open(sys.argv[1], "wb") as f:
        f.write(struct.pack(">IIIII", 0, 4 + 8 + len(CT), 2, 1, len(CT)) + CT)
        for sets, p in frames():
            if want in sets.split():
                f.write(struct.pack(">I", len(p)) + p)
        f.write(struct.pack(">III", 0, 4, 3))


if __name__ == "__main__":
    main()
