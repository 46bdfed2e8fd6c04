#!/usr/bin/env python3
"""An independent selection of dnstap frames, for checking `dnstap --filter` (tests/filter.bats).

Usage: filter_ref.py OUT PYEXPR FILE...
Decodes every data frame of the FILEs with its own protobuf and DNS readers (nothing shared with the C
code), evaluates the Python expression PYEXPR with `r` bound to a dict of the frame's fields, and writes
the frames for which it is true, unchanged, to the Frame Streams file OUT. Prints how many were kept, of
how many. Fields of r (None when absent):
  type (e.g. "CLIENT_QUERY"), identity, version (bytes), client, server (ipaddress objects), cport, sport,
  protocol ("UDP"...), family ("INET"/"INET6"), time (seconds, float: the query's for a query type, else
  the response's; falling back to the other), wire (the DNS message of the item: the query's for a query
  type, else the response's, falling back), size (len(wire)), and when wire parses: qname (lowercase
  presentation with trailing dot), qtype, qclass, rcode (with the EDNS extended bits), opcode, flags (a
  set of "qr", "aa", ...), answers (ipaddress of each A/AAAA of the answer section), ecs (a list of
  ipaddress networks: ECS of the query and of the response message).
"""
import ipaddress
import struct
import sys

CT = b"protobuf:dnstap.Dnstap"
TYPES = [None, "AUTH_QUERY", "AUTH_RESPONSE", "RESOLVER_QUERY", "RESOLVER_RESPONSE", "CLIENT_QUERY",
         "CLIENT_RESPONSE", "FORWARDER_QUERY", "FORWARDER_RESPONSE", "STUB_QUERY", "STUB_RESPONSE",
         "TOOL_QUERY", "TOOL_RESPONSE", "UPDATE_QUERY", "UPDATE_RESPONSE"]
PROTOS = [None, "UDP", "TCP", "DOT", "DOH", "DNSCryptUDP", "DNSCryptTCP", "DOQ"]


def frames(path):
    data = open(path, "rb").read()
    pos = 0
    while pos + 4 <= len(data):
        (n,) = struct.unpack_from(">I", data, pos)
        if n == 0:
            (clen,) = struct.unpack_from(">I", data, pos + 4)
            pos += 8 + clen
            continue
        yield data[pos + 4:pos + 4 + n]
        pos += 4 + n


def varint(b, i):
    v, s = 0, 0
    while True:
        c = b[i]
        i += 1
        v |= (c & 0x7F) << s
        s += 7
        if c < 0x80:
            return v, i


def fields(b):
    """protobuf fields as {number: last value} (varints as int, length-delimited as bytes)"""
    out, i = {}, 0
    while i < len(b):
        key, i = varint(b, i)
        num, wt = key >> 3, key & 7
        if wt == 0:
            v, i = varint(b, i)
        elif wt == 2:
            n, i = varint(b, i)
            v, i = b[i:i + n], i + n
        elif wt == 1:
            v, i = int.from_bytes(b[i:i + 8], "little"), i + 8
        elif wt == 5:
            v, i = int.from_bytes(b[i:i + 4], "little"), i + 4
        else:
            raise ValueError("wire type")
        out[num] = v
    return out


def name(w, off):
    """(lowercase presentation, offset after the name in place)"""
    labels, end, hops = [], None, 0
    while True:
        c = w[off]
        if c >= 0xC0:
            if end is None:
                end = off + 2
            off = ((c & 0x3F) << 8) | w[off + 1]
            hops += 1
            if hops > 126:
                raise ValueError("loop")
            continue
        if c == 0:
            off += 1
            break
        lab = w[off + 1:off + 1 + c]
        if len(lab) != c:
            raise ValueError("short")
        text = ""
        for ch in lab.lower():
            if chr(ch) in ".\\":
                text += "\\" + chr(ch)
            elif 0x21 <= ch <= 0x7E:
                text += chr(ch)
            else:
                text += "\\%03d" % ch
        labels.append(text)
        off += 1 + c
    return ("".join(l + "." for l in labels) or "."), (end if end is not None else off)


def dns(w):
    d = {}
    qd, an, ns, ar = struct.unpack_from(">HHHH", w, 4)
    flags = struct.unpack_from(">H", w, 2)[0]
    d["opcode"] = (flags >> 11) & 15
    d["rcode"] = flags & 15
    d["flags"] = {f for f, bit in (("qr", 15), ("aa", 10), ("tc", 9), ("rd", 8), ("ra", 7), ("ad", 5), ("cd", 4))
                  if flags >> bit & 1}
    off = 12
    d["qname"] = None
    for i in range(qd):
        n, off = name(w, off)
        if i == 0:
            d["qname"] = n
            d["qtype"], d["qclass"] = struct.unpack_from(">HH", w, off)
        off += 4
    d["answers"], d["ecs"] = [], []
    for sec, count in ((1, an), (2, ns), (3, ar)):
        for _ in range(count):
            if off >= len(w):
                break
            _, off = name(w, off)
            t, c, ttl, rdl = struct.unpack_from(">HHIH", w, off)
            rd = w[off + 10:off + 10 + rdl]
            off += 10 + rdl
            if sec == 1 and c == 1 and ((t == 1 and rdl == 4) or (t == 28 and rdl == 16)):
                d["answers"].append(ipaddress.ip_address(rd))
            if sec == 3 and t == 41:
                d["rcode"] |= (ttl >> 24) << 4
                i = 0
                while i + 4 <= len(rd):
                    code, olen = struct.unpack_from(">HH", rd, i)
                    val = rd[i + 4:i + 4 + olen]
                    i += 4 + olen
                    if code == 8 and len(val) >= 4:
                        fam, src = struct.unpack_from(">HB", val)
                        size = 4 if fam == 1 else 16
                        addr = val[4:] + bytes(size - len(val[4:]))
                        d["ecs"].append(ipaddress.ip_address(addr))
    return d


def record(p):
    top = fields(p)
    r = {k: None for k in ("type", "identity", "version", "client", "server", "cport", "sport", "protocol",
                           "family", "time", "wire", "size", "qname", "qtype", "qclass", "rcode", "opcode")}
    r["flags"], r["answers"], r["ecs"] = set(), [], []
    r["identity"], r["version"] = top.get(1), top.get(2)
    if 14 not in top:
        return r
    m = fields(top[14])
    t = m.get(1)
    r["type"] = TYPES[t] if t is not None and t < len(TYPES) else t
    r["family"] = {1: "INET", 2: "INET6"}.get(m.get(2))
    r["protocol"] = PROTOS[m[3]] if m.get(3) is not None and m[3] < len(PROTOS) else None
    for k, f in (("client", 4), ("server", 5)):
        if f in m and len(m[f]) in (4, 16):
            r[k] = ipaddress.ip_address(m[f])
    r["cport"], r["sport"] = m.get(6), m.get(7)
    query = t % 2 == 1
    qt = m[8] + m.get(9, 0) / 1e9 if 8 in m else None
    rt = m[12] + m.get(13, 0) / 1e9 if 12 in m else None
    r["time"] = (qt if qt is not None else rt) if query else (rt if rt is not None else qt)
    qw, rw = m.get(10), m.get(14)
    w = (qw if qw is not None else rw) if query else (rw if rw is not None else qw)
    r["wire"] = w
    if w is not None:
        r["size"] = len(w)
        try:
            d = dns(w)
            r.update({k: d[k] for k in ("qname", "qtype", "qclass", "rcode", "opcode", "flags", "answers")
                      if k in d})
        except (ValueError, IndexError, struct.error):
            pass
    for x in (qw, rw):
        if x is not None:
            try:
                r["ecs"] += dns(x)["ecs"]
            except (ValueError, IndexError, struct.error):
                pass
    return r


def net(s):
    return ipaddress.ip_network(s, strict=False)


def main():
    out, expr, files = sys.argv[1], sys.argv[2], sys.argv[3:]
    code = compile(expr, "PYEXPR", "eval")
    kept = total = 0
    with open(out, "wb") as o:
        o.write(struct.pack(">IIIII", 0, 4 + 8 + len(CT), 2, 1, len(CT)) + CT)
        for f in files:
            for p in frames(f):
                total += 1
                if eval(code, {"net": net, "ipaddress": ipaddress}, {"r": record(p)}):
                    kept += 1
                    o.write(struct.pack(">I", len(p)) + p)
        o.write(struct.pack(">III", 0, 4, 3))
    print(kept, total)


if __name__ == "__main__":
    main()
