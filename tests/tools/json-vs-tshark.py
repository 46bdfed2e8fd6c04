#!/usr/bin/env python3
"""Compares dnstap -J (structured JSON) with tshark, an independent DNS parser, on one capture:
tshark reads a pcap made of the same wire bytes (dnstap --format pcap: one packet per wire message, the
query before the response of each dnstap message). For every wire message that parses, it compares the
qname, qtype, the header's rcode, opcode and flags, and for every answer record its name, type, TTL and,
for A, AAAA, CNAME, NS, PTR, MX, TXT and SOA, its rdata. Names holding a presentation escape (a
backslash) are left out, tshark showing such bytes otherwise. Prints what it compared; exits 1 on the
first difference.

Usage: json-vs-tshark.py DNSTAP CAPTURE
"""
import json
import subprocess
import sys

TYPES = {"A": 1, "NS": 2, "CNAME": 5, "SOA": 6, "PTR": 12, "HINFO": 13, "MX": 15, "TXT": 16, "AAAA": 28,
         "SRV": 33, "NAPTR": 35, "DS": 43, "RRSIG": 46, "NSEC": 47, "DNSKEY": 48, "NSEC3": 50,
         "NSEC3PARAM": 51, "TLSA": 52, "SVCB": 64, "HTTPS": 65, "ANY": 255, "CAA": 257, "OPT": 41,
         "DNAME": 39, "SPF": 99, "URI": 256, "AXFR": 252, "IXFR": 251}
RCODES = ["NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED", "YXDOMAIN", "YXRRSET",
          "NXRRSET", "NOTAUTH", "NOTZONE"]
FLAGS = [("qr", "response"), ("aa", "authoritative"), ("tc", "truncated"), ("rd", "recdesired"),
         ("ra", "recavail"), ("z", "z"), ("ad", "authenticated"), ("cd", "checkdisable")]


def pairs(kv):
    """Keeps repeated keys (tshark repeats a key for repeated fields): as lists."""
    d = {}
    for k, v in kv:
        if k in d:
            if not isinstance(d[k], list) or not d[k] or not isinstance(d[k], list):
                d[k] = [d[k]]
            d[k].append(v)
        else:
            d[k] = v
    return d


def records(section):
    """The records of a tshark section (a dict keyed by each record's summary, repeated keys as lists)."""
    out = []
    if section is None:
        return out
    for _, v in section.items():
        out.extend(v if isinstance(v, list) else [v])
    return out


def tname(name):
    """Our presentation name as tshark shows it: without the final dot, the root as <Root>."""
    return "<Root>" if name == "." else name[:-1] if name.endswith(".") else name


def as_list(v):
    return v if isinstance(v, list) else [v]


checked = {"messages": 0, "answers": 0, "rdata": 0, "skipped_names": 0}


def fail(why, ours, theirs):
    print("DIFFERENT: %s\n  ours:   %r\n  tshark: %r" % (why, ours, theirs))
    sys.exit(1)


def compare_rdata(rr, t):
    typ, rd = rr["type"], rr["rdata"]
    if "\\" in rd:
        return
    want = None
    if typ == "A":
        want, got = rd, t.get("dns.a")
    elif typ == "AAAA":
        want, got = rd, t.get("dns.aaaa")
    elif typ == "CNAME":
        want, got = tname(rd), t.get("dns.cname")
    elif typ == "NS":
        want, got = tname(rd), t.get("dns.ns")
    elif typ == "PTR":
        want, got = tname(rd), t.get("dns.ptr.domain_name")
    elif typ == "MX":
        pref, host = rd.split(" ", 1)
        want, got = [pref, tname(host)], [t.get("dns.mx.preference"), t.get("dns.mx.mail_exchange")]
    elif typ == "TXT":
        # "a" "b": the strings, as tshark lists them
        strings = json.loads("[" + rd.replace('" "', '","') + "]")
        want, got = strings, as_list(t.get("dns.txt"))
    elif typ == "SOA":
        f = rd.split(" ")
        want = [tname(f[0]), tname(f[1])] + f[2:]
        got = [t.get("dns.soa.mname"), t.get("dns.soa.rname"), t.get("dns.soa.serial_number"),
               t.get("dns.soa.refresh_interval"), t.get("dns.soa.retry_interval"),
               t.get("dns.soa.expire_limit"), t.get("dns.soa.minimum_ttl")]
    else:
        return
    if want != got:
        fail("%s rdata" % typ, want, got)
    checked["rdata"] += 1


def compare(dns, t):
    h = dns["header"]
    tf = t.get("dns.flags_tree", {})
    for ours, theirs in FLAGS:
        if int(h[ours]) != int(tf.get("dns.flags." + theirs, "0")):
            fail("flag " + ours, h[ours], tf.get("dns.flags." + theirs))
    # tshark shows a query's rcode only when it is not 0
    rc = int(tf.get("dns.flags.rcode", "0"))
    if h["rcode"] != (RCODES[rc] if rc < len(RCODES) else str(rc)):
        fail("rcode", h["rcode"], rc)
    if dns["question"]:
        q = dns["question"][0]
        tq = records(t.get("Queries"))[0]
        if "\\" in q["name"]:
            checked["skipped_names"] += 1
        elif tname(q["name"]) != tq.get("dns.qry.name"):
            fail("qname", q["name"], tq.get("dns.qry.name"))
        if q["type"] in TYPES and TYPES[q["type"]] != int(tq.get("dns.qry.type")):
            fail("qtype", q["type"], tq.get("dns.qry.type"))
    ans = records(t.get("Answers"))
    if len(ans) != len(dns["answer"]):
        fail("answer count", len(dns["answer"]), len(ans))
    for rr, ta in zip(dns["answer"], ans):
        if "dns.srv.service" in ta:
            # tshark splits an SRV owner into service, proto and name
            ta["dns.resp.name"] = ".".join([ta["dns.srv.service"], ta["dns.srv.proto"], ta["dns.srv.name"]])
        if "\\" in rr["name"]:
            checked["skipped_names"] += 1
        elif tname(rr["name"]) != ta.get("dns.resp.name"):
            fail("answer name", rr["name"], ta)
        if rr["type"] in TYPES and TYPES[rr["type"]] != int(ta.get("dns.resp.type")):
            fail("answer type", rr["type"], ta.get("dns.resp.type"))
        if str(rr["ttl"]) != ta.get("dns.resp.ttl"):
            fail("answer ttl", rr["ttl"], ta.get("dns.resp.ttl"))
        compare_rdata(rr, ta)
        checked["answers"] += 1
    checked["messages"] += 1


def main():
    dnstap, capture = sys.argv[1], sys.argv[2]
    ours = []
    out = subprocess.run([dnstap, "-r", capture, "-J"], capture_output=True, check=False).stdout
    for line in out.decode().splitlines():
        m = json.loads(line).get("message", {})
        for k in ("query_message", "response_message"):
            if k in m:
                ours.append(m[k])
    pcap = subprocess.run([dnstap, "-r", capture, "--format", "pcap", "-w", "-"], capture_output=True).stdout
    ts = subprocess.run(["tshark", "-r", "-", "-d", "tcp.port==1-65535,dns", "-d", "udp.port==1-65535,dns",
                         "-T", "json", "-J", "dns"], input=pcap, capture_output=True, check=True).stdout
    packets = json.loads(ts, object_pairs_hook=pairs)
    if len(packets) != len(ours):
        fail("packet count", len(ours), len(packets))
    for dns, p in zip(ours, packets):
        if dns.get("malformed") or "header" not in dns:
            continue
        t = p["_source"]["layers"].get("dns")
        if isinstance(t, list):
            t = t[0]
        compare(dns, t)
    print(" ".join("%s=%d" % kv for kv in checked.items()))
    if checked["messages"] == 0:
        sys.exit("nothing compared")


if __name__ == "__main__":
    main()
