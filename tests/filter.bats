#!/usr/bin/env bats
# --filter, --filter-file, --print-filter: every predicate on the real captures (and the fixtures with ECS,
# TCP, DoT and IPv6), against an independent selection (tests/tools/filter_ref.py decodes the frames with
# its own protobuf and DNS readers); the error lines; the filter in front of -w, -q and a -U relay.

bats_require_minimum_version 1.5.0
load helpers

setup() {
	common_setup
	require python3
	REF=$TOP_SRCDIR/tests/tools/filter_ref.py
	"$MKFIXTURE" ecs "$TMP/ecs.dnstap"
	"$MKFIXTURE" pcap "$TMP/pcap.dnstap"
	FILES=("$TESTDATA"/*.dnstap "$TMP/ecs.dnstap" "$TMP/pcap.dnstap")
	ARGS=()
	local f
	for f in "${FILES[@]}"; do ARGS+=(-r "$f"); done
}

teardown() {
	common_teardown
}

# golden EXPR PYEXPR: the frames we keep are the reference's (compared as -y text), and they are neither
# all nor none of them
golden() {
	run python3 "$REF" "$TMP/ref.dnstap" "$2" "${FILES[@]}"
	echo "reference: $output"
	[ "$status" -eq 0 ]
	local kept total
	read -r kept total <<<"$output"
	[ "$kept" -gt 0 ] && [ "$kept" -lt "$total" ]
	"$DNSTAP" -r "$TMP/ref.dnstap" -y >"$TMP/want.yaml"
	run "$DNSTAP" "${ARGS[@]}" --filter "$1" -y
	[ "$status" -eq 0 ]
	printf '%s\n' "$output" >"$TMP/got.yaml"
	diff "$TMP/want.yaml" "$TMP/got.yaml"
	# and as many -q lines
	[ "$("$DNSTAP" "${ARGS[@]}" --filter "$1" -q | wc -l)" -eq "$kept" ]
}

@test "filter: type, by abbreviation and by full name" {
	golden 'type CQ,CR' 'r["type"] in ("CLIENT_QUERY", "CLIENT_RESPONSE")'
	golden 'type resolver_response' 'r["type"] == "RESOLVER_RESPONSE"'
}

@test "filter: identity and version (bare and quoted)" {
	golden 'identity unbound-lab,knot-lab' 'r["identity"] in (b"unbound-lab", b"knot-lab")'
	golden 'version "BIND 9.18.49"' 'r["version"] == b"BIND 9.18.49"'
}

@test "filter: qname is exact and case-insensitive, with ldns escapes" {
	golden 'qname WWW.Lab.Test' 'r["qname"] == "www.lab.test."'
	golden 'qname \119ww.lab.test.,lab\.test' 'r["qname"] == "www.lab.test."'
}

@test "filter: suffix is on label boundaries" {
	golden 'suffix lab.test' 'r["qname"] is not None and (r["qname"] == "lab.test." or r["qname"].endswith(".lab.test."))'
	# "ab.test" must not match "lab.test": nothing in the captures ends in a label "ab"
	[ "$("$DNSTAP" "${ARGS[@]}" --filter 'suffix ab.test' -q | wc -l)" -eq 0 ]
	golden 'suffix test. and not suffix lab.test' '(r["qname"] == "test." or (r["qname"] or "").endswith(".test.")) and not (r["qname"] or "").endswith("lab.test.")'
}

@test "filter: regex (POSIX ERE on the presentation qname, case-insensitive)" {
	golden 'regex "^(www|MAIL)\.lab\.test\.$"' 'r["qname"] in ("www.lab.test.", "mail.lab.test.")'
	golden 'regex ^huge' '(r["qname"] or "").startswith("huge")'
}

@test "filter: qtype (mnemonics, TYPEnnn, numbers) and qclass (CLASSnnn)" {
	golden 'qtype A,aaaa' 'r["qtype"] in (1, 28)'
	golden 'qtype TYPE16,15' 'r["qtype"] in (16, 15)'
	golden 'qclass CLASS3' 'r["qclass"] == 3'
	golden 'qclass IN' 'r["qclass"] == 1'
}

@test "filter: rcode and opcode" {
	golden 'rcode REFUSED,nxdomain' 'r["rcode"] in (5, 3)'
	golden 'not rcode NOERROR' 'r["rcode"] != 0'
	golden 'opcode QUERY' 'r["opcode"] == 0'
}

@test "filter: header flags" {
	local f
	for f in qr aa tc rd ra ad cd; do
		golden "$f" "\"$f\" in r[\"flags\"]"
	done
}

@test "filter: client and server, addresses and CIDRs of both families" {
	golden 'client 127.0.0.1' 'r["client"] == ipaddress.ip_address("127.0.0.1")'
	golden 'client 192.0.2.0/24,::/0' 'r["client"] is not None and (r["client"] in net("192.0.2.0/24") or r["client"].version == 6)'
	golden 'server 2001:db8::/32' 'r["server"] is not None and r["server"] in net("2001:db8::/32")'
}

@test "filter: port matches either side; client-port and server-port one" {
	golden 'port 53' '53 in (r["cport"], r["sport"])'
	golden 'client-port 53000' 'r["cport"] == 53000'
	golden 'server-port 853,53' 'r["sport"] in (853, 53)'
}

@test "filter: protocol and family" {
	golden 'protocol tcp,dot' 'r["protocol"] in ("TCP", "DOT")'
	golden 'family inet6' 'r["family"] == "INET6"'
}

@test "filter: size comparisons" {
	golden 'size > 512' 'r["size"] is not None and r["size"] > 512'
	golden 'size<=30' 'r["size"] is not None and r["size"] <= 30'
	golden 'size = 42' 'r["size"] == 42'
	golden 'size != 42' 'r["size"] is not None and r["size"] != 42'
}

@test "filter: answer addresses" {
	golden 'answer 198.51.100.10/31' 'any(a in net("198.51.100.10/31") for a in r["answers"])'
	golden 'answer 2001:db8::/64' 'any(a.version == 6 and a in net("2001:db8::/64") for a in r["answers"])'
}

@test "filter: ecs of the query or the response" {
	golden 'ecs 198.51.100.0/24' 'any(a in net("198.51.100.0/24") for a in r["ecs"] if a.version == 4)'
	golden 'ecs 2001:db8::/32 or ecs 192.0.2.0/24' 'any((a.version == 6 and a in net("2001:db8::/32")) or (a.version == 4 and a in net("192.0.2.0/24")) for a in r["ecs"])'
}

@test "filter: time after and before (RFC 3339, with offsets and fractions)" {
	golden 'time after 2025-01-01T00:00:00Z' 'r["time"] is not None and r["time"] >= 1735689600'
	golden 'time before 2023-11-14T23:13:20.5+01:00' 'r["time"] is not None and r["time"] < 1700000000.5'
}

@test "filter: and, or, not, parentheses, comments and newlines" {
	golden 'type CQ,CR and suffix lab.test and not rcode NOERROR' 'r["type"] in ("CLIENT_QUERY", "CLIENT_RESPONSE") and (r["qname"] or "").endswith("lab.test.") and r["rcode"] not in (0, None)'
	golden 'client 10.0.0.0/8 or ecs 192.0.2.0/24' 'any(a.version == 4 and a in net("192.0.2.0/24") for a in r["ecs"])'
	golden $'# queries for two names\nqtype MX\n  or (qname www.lab.test # the web\n  and not type RQ)' 'r["qtype"] == 15 or (r["qname"] == "www.lab.test." and r["type"] != "RESOLVER_QUERY")'
	golden 'not (family inet or protocol udp)' 'not (r["family"] == "INET" or r["protocol"] == "UDP")'
}

@test "filter: --filter-file reads the same expression" {
	printf '# the lab zone\nsuffix lab.test   # and below\nand qtype A\n' >"$TMP/f"
	"$DNSTAP" "${ARGS[@]}" --filter 'suffix lab.test and qtype A' -q >"$TMP/a"
	run "$DNSTAP" "${ARGS[@]}" --filter-file "$TMP/f" -q
	[ "$status" -eq 0 ]
	[ -s "$TMP/a" ]
	diff "$TMP/a" <(printf '%s\n' "$output")
}

@test "filter: --print-filter prints the normal form, which parses back to itself" {
	run "$DNSTAP" --filter 'type cq,CLIENT_RESPONSE and suffix Example.COM and not rcode 0 or (tc) and size>=512' --print-filter
	[ "$status" -eq 0 ]
	[ "$output" = '((type CQ,CR and suffix example.com. and not rcode NOERROR) or (tc and size >= 512))' ]
	run "$DNSTAP" --filter "$output" --print-filter
	[ "$output" = '((type CQ,CR and suffix example.com. and not rcode NOERROR) or (tc and size >= 512))' ]
	run "$DNSTAP" --filter 'qtype TYPE65280 and qclass CLASS3 and client 10.1.2.3/8 and time before 2024-01-31T13:00:00.25+01:00 and identity "a b"' --print-filter
	[ "$output" = '(qtype TYPE65280 and qclass CH and client 10.0.0.0/8 and time before 2024-01-31T12:00:00.250000000Z and identity "a b")' ]
}

# bad EXPR TEXT: exit 2, one line with the column, then a caret under it
bad() {
	run "$DNSTAP" --filter "$1" -r "$TESTDATA/unbound.dnstap"
	echo "$output"
	[ "$status" -eq 2 ]
	[ "${#lines[@]}" -eq 2 ]
	[ "${lines[0]}" = "$2" ]
	[[ ${lines[1]} =~ ^\ *\^$ ]]
}

@test "filter: errors say where, with a caret, and exit 2" {
	bad 'type CQ and foo bar' 'dnstap: --filter: column 13: unknown predicate "foo": type CQ and foo bar'
	# the caret stands under the f of foo
	local prefix='dnstap: --filter: column 13: unknown predicate "foo": type CQ and '
	[ "${lines[1]}" = "$(printf '%*s^' "${#prefix}" '')" ]
	bad 'client 10.0.0.0/33' 'dnstap: --filter: column 8: bad prefix length in "10.0.0.0/33" (want 0 to 32): client 10.0.0.0/33'
	bad 'server 10.0.0.300' 'dnstap: --filter: column 8: bad address "10.0.0.300" (want an address or ADDRESS/BITS): server 10.0.0.300'
	bad 'regex "a(("' 'dnstap: --filter: column 7: bad regex "a((": Unmatched ( or \(: regex "a(("'
	bad 'regex "a++"' 'dnstap: --filter: column 7: bad regex "a++": a repetition of a repetition: regex "a++"'
	bad 'regex "((a{99}){99}){99}"' 'dnstap: --filter: column 7: bad regex "((a{99}){99}){99}": repetitions that multiply beyond 1000 copies: regex "((a{99}){99}){99}"'
	bad '(type CQ' 'dnstap: --filter: column 1: unbalanced parenthesis (no closing one): (type CQ'
	bad 'type CQ)' 'dnstap: --filter: column 8: unexpected ")" (want and, or, or the end): type CQ)'
	bad 'type CQ and' 'dnstap: --filter: column 12: unexpected end of the expression (want a predicate): type CQ and'
	bad 'qtype BOGUS' 'dnstap: --filter: column 7: unknown type "BOGUS": qtype BOGUS'
	bad 'qtype TYPE99999' 'dnstap: --filter: column 7: unknown type "TYPE99999": qtype TYPE99999'
	bad 'rcode NOPE' 'dnstap: --filter: column 7: unknown rcode "NOPE": rcode NOPE'
	bad 'size >> 5' 'dnstap: --filter: column 6: bad comparison ">>" (want =, !=, <, <=, > or >=): size >> 5'
	bad 'time after yesterday' 'dnstap: --filter: column 12: bad time "yesterday" (want RFC 3339: 2024-01-31T12:00:00Z): time after yesterday'
	bad 'qname a..b' 'dnstap: --filter: column 7: bad name "a..b": Empty label: qname a..b'
	local long
	long=$(printf 'a%.0s' {1..64})
	bad "suffix $long.com" "dnstap: --filter: column 8: bad name \"$long.com\": Label length overflow: suffix $long.com"
	long=$(printf 'abcdefghi.%.0s' {1..26})
	bad "qname $long" "dnstap: --filter: column 7: bad name \"$long\": Domainname length overflow: qname $long"
	bad ' # only a comment' 'dnstap: --filter: column 1: empty expression:  # only a comment'
	bad 'identity "abc' 'dnstap: --filter: column 10: unterminated string: identity "abc'
}

@test "filter: an error in --filter-file names the file, the line and the column" {
	printf '# first\ntype CQ\n  and qtype NOTATYPE\n' >"$TMP/f"
	run "$DNSTAP" --filter-file "$TMP/f" -r "$TESTDATA/unbound.dnstap"
	echo "$output"
	[ "$status" -eq 2 ]
	[ "${#lines[@]}" -eq 2 ]
	[ "${lines[0]}" = "dnstap: --filter-file $TMP/f: line 3, column 13: unknown type \"NOTATYPE\":   and qtype NOTATYPE" ]
	local prefix="dnstap: --filter-file $TMP/f: line 3, column 13: unknown type \"NOTATYPE\":   and qtype "
	[ "${lines[1]}" = "$(printf '%*s^' "${#prefix}" '')" ]
	run "$DNSTAP" --filter-file "$TMP/nonexistent" -r "$TESTDATA/unbound.dnstap"
	[ "$status" -eq 1 ]
	[ "$output" = "dnstap: --filter-file $TMP/nonexistent: No such file or directory" ]
}

@test "filter: flag combinations that make no sense are usage errors" {
	run "$DNSTAP" --filter 'tc' --filter-file /dev/null -r "$TESTDATA/unbound.dnstap"
	[ "$status" -eq 2 ]
	run "$DNSTAP" --print-filter -r "$TESTDATA/unbound.dnstap"
	[ "$status" -eq 2 ]
	[[ $output == *"--print-filter needs --filter or --filter-file"* ]]
}

@test "filter: in front of -w, the kept frames are written unchanged" {
	python3 "$REF" "$TMP/ref.dnstap" 'r["qtype"] == 28 or r["rcode"] == 5' "${FILES[@]}"
	run "$DNSTAP" "${ARGS[@]}" --filter 'qtype AAAA or rcode REFUSED' -w "$TMP/out.dnstap"
	[ "$status" -eq 0 ]
	# the same payloads, byte for byte: their hex, frame by frame
	run python3 -c '
import sys; sys.path.insert(0, sys.argv[1])
import filter_ref as F
a = list(F.frames(sys.argv[2])); b = list(F.frames(sys.argv[3]))
assert a == b and len(a) > 0, (len(a), len(b))
print(len(a))' "$TOP_SRCDIR/tests/tools" "$TMP/ref.dnstap" "$TMP/out.dnstap"
	echo "$output"
	[ "$status" -eq 0 ]
}

@test "filter: in front of a -U relay" {
	require fstrm_capture
	load peers
	start_capture cap -u "$TMP/cap.sock"
	python3 "$REF" "$TMP/ref.dnstap" 'r["type"] == "CLIENT_QUERY"' "${FILES[@]}"
	run "$DNSTAP" "${ARGS[@]}" --filter 'type CQ' -U "$TMP/cap.sock"
	echo "$output"
	[ "$status" -eq 0 ]
	stop "$CAP_PID"
	cmp <("$DNSTAP" -r "$TMP/ref.dnstap" -y) <("$DNSTAP" -r "$TMP/cap.dnstap" -y)
	stop_all
}

@test "filter: on a listener's input, in front of -w with --max-size rotation: the kept frames, in order, across the files" {
	load peers
	python3 "$REF" "$TMP/ref.dnstap" 'r["type"] == "CLIENT_QUERY"' "$TESTDATA/unbound.dnstap" "$TESTDATA/bind.dnstap"
	listen_dnstap -u "$TMP/s.sock" --filter 'type CQ' -w "$TMP/out.dnstap" --max-size 4000
	replay -u "$TMP/s.sock" -r "$TESTDATA/unbound.dnstap"
	replay -u "$TMP/s.sock" -r "$TESTDATA/bind.dnstap"
	stop_dnstap
	[ "$DT_STATUS" -eq 0 ]
	local files
	files=$(rotated_files)
	[ "$(tr , '\n' <<<"$files" | wc -l)" -gt 1 ] # it did turn over
	[ "$(frames "$TMP/ref.dnstap")" -gt 0 ]
	python3 "$FCHECK" "$files" "$TMP/ref.dnstap"
	stop_all
}

@test "filter: -v reports what each predicate matched" {
	run "$DNSTAP" -r "$TESTDATA/unbound.dnstap" --filter 'type CQ and (qtype A or qtype AAAA)' -v -w /dev/null
	echo "$output"
	[ "$status" -eq 0 ]
	local n
	n=$("$DNSTAP" -r "$TESTDATA/unbound.dnstap" --filter 'type CQ and (qtype A or qtype AAAA)' -q | wc -l)
	[[ $output == *"dnstap: --filter: kept $n of 204 messages"* ]]
	local cq
	cq=$("$DNSTAP" -r "$TESTDATA/unbound.dnstap" --filter 'type CQ' -q | wc -l)
	[[ $output == *"dnstap: --filter: type CQ: matched $cq of 204"* ]]
	[[ $output =~ dnstap:\ --filter:\ qtype\ A:\ matched\ [0-9]+\ of\ [0-9]+ ]]
	[[ $output =~ dnstap:\ --filter:\ qtype\ AAAA:\ matched\ [0-9]+\ of\ [0-9]+ ]]
}

# sample_input N FILE: N queries and their responses, from 300 clients, with random IDs and names (seeded)
sample_input() {
	python3 - "$1" "$2" <<'PY'
import random, struct, sys
def v(n):
    out = b""
    while True:
        b = n & 0x7F; n >>= 7
        out += bytes([b | (0x80 if n else 0)])
        if not n: return out
def f(num, val):
    if isinstance(val, int): return v(num << 3) + v(val)
    return v(num << 3 | 2) + v(len(val)) + val
rnd = random.Random(11)
CT = b"protobuf:dnstap.Dnstap"
with open(sys.argv[2], "wb") as o:
    o.write(struct.pack(">IIIII", 0, 4 + 8 + len(CT), 2, 1, len(CT)) + CT)
    for i in range(int(sys.argv[1])):
        client = bytes([10, 0, rnd.randrange(3), rnd.randrange(100)])
        qid = rnd.randrange(65536)
        qname = b"".join(bytes([len(l)]) + l for l in (b"h%d" % rnd.randrange(10**6), b"example", b"com")) + b"\0"
        q = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0) + qname + b"\0\1\0\1"
        r = struct.pack(">HHHHHH", qid, 0x8180, 1, 0, 0, 0) + qname + b"\0\1\0\1"
        base = f(2, 1) + f(3, 1) + f(4, client) + f(5, bytes([10, 9, 9, 9])) + f(6, 1024 + i % 60000) + f(7, 53)
        for t, w in ((5, f(10, q)), (6, f(14, r))):
            p = f(15, 1) + f(14, f(1, t) + base + f(8, 1700000000 + i) + w)
            o.write(struct.pack(">I", len(p)) + p)
    o.write(struct.pack(">III", 0, 4, 3))
PY
}

# groups FILE KIND: per key (message: client, ID, qname; client: the client), how many frames FILE holds
groups() {
	python3 -c '
import sys, collections; sys.path.insert(0, sys.argv[1])
import filter_ref as F
c = collections.Counter()
for p in F.frames(sys.argv[2]):
    r = F.record(p)
    c[(str(r["client"]), r["wire"][:2], r["qname"]) if sys.argv[3] == "message" else str(r["client"])] += 1
for k, n in sorted(c.items(), key=str): print(k, n)' "$TOP_SRCDIR/tests/tools" "$1" "$2"
}

@test "sample: 1 in N within 3 sigma, pairs kept whole, the same on every run" {
	sample_input 6000 "$TMP/in.dnstap"
	local n
	for n in 2 10 100; do
		run "$DNSTAP" -r "$TMP/in.dnstap" --sample "$n" -w "$TMP/s$n.dnstap"
		[ "$status" -eq 0 ]
		groups "$TMP/s$n.dnstap" message >"$TMP/g$n"
		# every kept query came with its response: each key twice
		if grep -qv ' 2$' "$TMP/g$n"; then return 1; fi
		local kept
		kept=$(wc -l <"$TMP/g$n")
		echo "1 in $n: $kept pairs of 6000"
		python3 -c '
import math, sys
k, n, N = int(sys.argv[1]), int(sys.argv[2]), 6000
p = 1 / n
assert abs(k - N * p) <= 3 * math.sqrt(N * p * (1 - p)), (k, N * p)' "$kept" "$n"
		"$DNSTAP" -r "$TMP/in.dnstap" --sample "$n" -w "$TMP/again.dnstap"
		cmp "$TMP/s$n.dnstap" "$TMP/again.dnstap"
	done
	# with --sample 1, everything
	"$DNSTAP" -r "$TMP/in.dnstap" --sample 1 -w "$TMP/all.dnstap"
	[ "$("$DNSTAP" -r "$TMP/all.dnstap" -q | wc -l)" -eq 12000 ]
}

@test "sample: --sample-key client keeps whole clients" {
	sample_input 3000 "$TMP/in.dnstap"
	run "$DNSTAP" -r "$TMP/in.dnstap" --sample 5 --sample-key client -w "$TMP/s.dnstap"
	[ "$status" -eq 0 ]
	groups "$TMP/in.dnstap" client >"$TMP/all"
	groups "$TMP/s.dnstap" client >"$TMP/kept"
	# each kept client with as many messages as it sent: its lines are lines of the input's counts
	[ -s "$TMP/kept" ]
	[ "$(wc -l <"$TMP/kept")" -lt "$(wc -l <"$TMP/all")" ]
	if grep -vxFf "$TMP/all" "$TMP/kept"; then return 1; fi
}

@test "sample: after the filter, on every output; bad values are usage errors" {
	sample_input 2000 "$TMP/in.dnstap"
	"$DNSTAP" -r "$TMP/in.dnstap" --filter 'type CQ' -w "$TMP/q.dnstap"
	"$DNSTAP" -r "$TMP/q.dnstap" --sample 4 -q >"$TMP/a"
	"$DNSTAP" -r "$TMP/in.dnstap" --filter 'type CQ' --sample 4 -q >"$TMP/b"
	[ -s "$TMP/b" ]
	cmp "$TMP/a" "$TMP/b"
	run "$DNSTAP" -r "$TMP/in.dnstap" --sample 0
	[ "$status" -eq 2 ]
	run "$DNSTAP" -r "$TMP/in.dnstap" --sample 3 --sample-key qname
	[ "$status" -eq 2 ]
	[ "$output" = 'dnstap: invalid value "qname" for flag --sample-key (want message or client) (see dnstap --help)' ]
	run "$DNSTAP" -r "$TMP/in.dnstap" --sample-key client
	[ "$status" -eq 2 ]
}

@test "--filter with --stats: each predicate's evaluated and matched counts, as the Go tool's -q counts them" {
	local f=$TESTDATA/unbound.dnstap
	run --separate-stderr "$DNSTAP" -r "$f" --filter 'type CQ and qtype A' --stats --stats-format json
	[ "$status" -eq 0 ]
	local all cq cqa
	all=$(/usr/bin/dnstap -r "$f" -q | wc -l)
	cq=$(/usr/bin/dnstap -r "$f" -q | awk '$2 == "CQ"' | wc -l)
	cqa=$(/usr/bin/dnstap -r "$f" -q | awk '$2 == "CQ" && $NF == "A"' | wc -l)
	((cqa > 0 && cqa < cq && cq < all))
	get() { jq -r --arg p "$1" --arg r "$2" '.metrics.dnstap_filter_predicate_total.samples[]
		| select(.labels.predicate == $p and .labels.result == $r) | .value' <<<"$output"; }
	[ "$(get 'type CQ' evaluated)" -eq "$all" ]
	[ "$(get 'type CQ' matched)" -eq "$cq" ]
	[ "$(get 'qtype A' evaluated)" -eq "$cq" ] # and stops at the first operand that decides it
	[ "$(get 'qtype A' matched)" -eq "$cqa" ]
}
