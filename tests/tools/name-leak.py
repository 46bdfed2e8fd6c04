#!/usr/bin/env python3
"""Checks --anonymize-qname's output against the original names.

usage: name-leak.py REGDOMAINS ORIG_Q ANON_Q FILE...

REGDOMAINS: lines "NAME: REG" as `psl --print-reg-domain` prints them (REG "(null)" for a public suffix),
for every question name of the original capture (presentation form, no trailing dot).
ORIG_Q, ANON_Q: `dnstap -q` of the original and of the anonymised capture, line for line.

Fails (exit 1, one line per problem) when
 - a label left of a name's registrable domain (3 octets or more), or all of them together, appears in
   any FILE, case-insensitively: in wire form (length-prefixed) in a binary FILE (dnstap, pcap), as a
   label of a presentation name ("label." not preceded by a letter, digit, '-' or '_') in a text FILE
   (.yaml, .json, .txt): a name's label is always one or the other, while the same letters in free text
   (TXT or CAA rdata, a type mnemonic) are not names;
 - an anonymised question name does not keep the original's registrable domain, label count and label
   lengths, or a rewritten label is not made of [a-z0-9].
"""
import re
import sys


def labels(name):
    """Presentation name (Go/miekg escapes: \\DDD, \\X) to a list of label bytes."""
    out, cur, i = [], bytearray(), 0
    name = name.rstrip(".")
    if not name:
        return []
    while i < len(name):
        c = name[i]
        if c == "\\":
            if name[i + 1 : i + 4].isdigit():
                cur.append(int(name[i + 1 : i + 4]))
                i += 4
                continue
            cur += name[i + 1].encode()
            i += 2
            continue
        if c == ".":
            out.append(bytes(cur))
            cur = bytearray()
        else:
            cur += c.encode()
        i += 1
    out.append(bytes(cur))
    return out


def qnames(path):
    return [m.group(1) for line in open(path, encoding="utf-8", errors="replace") for m in [re.search(r'"(.*)"', line)] if m]


def main():
    regfile, orig_q, anon_q, files = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
    reg = {}
    for line in open(regfile, encoding="utf-8"):
        name, _, r = line.rstrip("\n").rpartition(": ")
        reg[name.rstrip(".")] = None if r == "(null)" else r
    problems = []
    datas = {f: open(f, "rb").read().lower() for f in files}

    # what must not appear anywhere
    needles = set()
    for name, r in reg.items():
        ls = labels(name)
        keep = len(labels(r)) if r else len(ls)
        sub = [lab.lower() for lab in ls[: len(ls) - keep]]
        needles.update((lab,) for lab in sub if len(lab) >= 3)
        if sub and sum(map(len, sub)) >= 2:
            needles.add(tuple(sub))
    for f, data in datas.items():
        text = f.endswith((".yaml", ".json", ".txt"))
        for n in sorted(needles):
            if text:
                pat = rb"(?<![a-z0-9_-])" + rb"".join(re.escape(lab) + rb"\." for lab in n)
                found = re.search(pat, data) is not None
            else:
                found = b"".join(bytes([len(lab)]) + lab for lab in n) in data
            if found:
                problems.append(f"{f}: original label(s) {b'.'.join(n)!r} found")

    # what must be kept, line by line
    before, after = qnames(orig_q), qnames(anon_q)
    if len(before) != len(after):
        problems.append(f"{len(before)} question names before, {len(after)} after")
    for b, a in zip(before, after):
        r = reg.get(b.rstrip("."))
        lb, la = labels(b), labels(a)
        if r is None and b.rstrip(".") not in reg:
            problems.append(f"{b}: no registrable domain given")
            continue
        keep = len(labels(r)) if r else len(lb)
        if [len(x) for x in lb] != [len(x) for x in la]:
            problems.append(f"{b} -> {a}: label lengths differ")
            continue
        if [x.lower() for x in lb[len(lb) - keep :]] != [x.lower() for x in la[len(la) - keep :]]:
            problems.append(f"{b} -> {a}: registrable domain not kept")
        for x in la[: len(la) - keep]:
            if not re.fullmatch(rb"[a-z0-9]+", x):
                problems.append(f"{b} -> {a}: rewritten label {x!r} not [a-z0-9]")
    for p in problems:
        print(p)
    print(f"{len(before)} names, {len(needles)} original label strings searched in {len(files)} files")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
