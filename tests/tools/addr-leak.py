#!/usr/bin/env python3
"""addr-leak.py ORIGINAL.json FILE...: every query and response address of the original messages (dnstap -j
lines), and every ECS address in them (dnstap -y's '; SUBNET:' lines, given as ORIGINAL.json's sibling
.yaml), must appear in none of FILEs, in binary (4 or 16 bytes) or in text. Prints each leak and exits 1
if there is one."""
import ipaddress
import json
import re
import sys

orig, files = sys.argv[1], sys.argv[2:]
addrs = set()
for line in open(orig):
    m = json.loads(line).get("message", {})
    for k in ("query_address", "response_address"):
        if k in m:
            addrs.add(ipaddress.ip_address(m[k]))
yaml = orig[: -len(".json")] + ".yaml"
ecs = set()
for line in open(yaml):
    s = re.search(r"; SUBNET: \[?([0-9a-f.:]+)\]?/(\d+)", line)
    if s:
        net = ipaddress.ip_network(f"{s.group(1)}/{s.group(2)}", strict=False)
        ecs.add(net)
# addresses that any mapping may leave in place (the unspecified address)
addrs.discard(ipaddress.ip_address("0.0.0.0"))
addrs.discard(ipaddress.ip_address("::"))
leaks = 0
for f in files:
    data = open(f, "rb").read()
    for a in addrs:
        for form in (a.packed, str(a).encode()):
            if form in data:
                print(f"{f}: original address {a} found ({'binary' if form == a.packed else 'text'})")
                leaks += 1
    for n in ecs:
        a = n.network_address
        text = (f"SUBNET: {a}/" if a.version == 4 else f"SUBNET: [{a}]/").encode()
        if text in data:
            print(f"{f}: original ECS {n} found")
            leaks += 1
print(f"{len(addrs)} addresses, {len(ecs)} ECS subnets checked in {len(files)} files: {leaks} leaks")
sys.exit(1 if leaks else 0)
