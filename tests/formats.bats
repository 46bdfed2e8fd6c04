#!/usr/bin/env bats
# Our own formats: structured JSON (-J, --flat) checked by jq, by its JSON Schema and against tshark;
# dnstap-ldns's -q and -y (--ldns) byte for byte against dnstap-ldns; templates against values computed
# from the JSON; CSV and TSV read back by Python's csv module.

bats_require_minimum_version 1.5.0
load helpers

ODD="$TOP_SRCDIR/tests/tools/odd-frames.py"
SCHEMA="$TOP_SRCDIR/doc/dnstap-json-full.schema.json"

setup() {
	common_setup
	python3 "$ODD" "$TMP/odd.fstrm"
}

teardown() {
	common_teardown
}

# The schema checked by python3-jsonschema on every line of standard input.
validate() {
	python3 -c '
import json, sys, jsonschema
v = jsonschema.Draft202012Validator(json.load(open(sys.argv[1])))
n = 0
for line in sys.stdin:
    errs = list(v.iter_errors(json.loads(line)))
    if errs:
        sys.exit("line %d: %s" % (n + 1, errs[0].message))
    n += 1
print(n)' "$SCHEMA"
}

@test "-J: every line of every capture and of the odd frames is one JSON object that jq reads, flat or not" {
	require jq
	local f
	for f in $(captures) "$TMP/odd.fstrm"; do
		"$DNSTAP" -r "$f" -J 2>/dev/null > "$TMP/j" || true # odd.fstrm: a frame without a message, exit 1
		[ "$(wc -l < "$TMP/j")" -eq "$("$DNSTAP" -r "$f" -q 2>/dev/null | wc -l)" ]
		[ "$(jq -c 'select(type == "object")' "$TMP/j" | wc -l)" -eq "$(wc -l < "$TMP/j")" ]
		{ "$DNSTAP" -r "$f" -J --flat 2>/dev/null || true; } | jq -e 'to_entries | all(.value | type != "object" and type != "array")' > /dev/null
	done
}

@test "-J: every line validates against the shipped JSON Schema, and the schema rejects what breaks it" {
	python3 -c 'import jsonschema' || unavailable "python3-jsonschema is not installed"
	local f
	for f in $(captures) "$TMP/odd.fstrm"; do
		run --separate-stderr validate < <("$DNSTAP" -r "$f" -J 2>/dev/null)
		[ "$status" -eq 0 ]
		[ "$output" -gt 0 ]
	done
	# a member the schema does not know, and a wrong type: both refused
	run validate < <("$DNSTAP" -r "$TMP/odd.fstrm" -J 2>/dev/null | head -1 | jq -c '.message.bogus = 1')
	[ "$status" -ne 0 ]
	run validate < <("$DNSTAP" -r "$TMP/odd.fstrm" -J 2>/dev/null | head -1 | jq -c '.message.query_message.header.id = "x"')
	[ "$status" -ne 0 ]
}

@test "-J: qname, qtype, rcode, flags and every answer's name, type, TTL and rdata agree with tshark on every capture" {
	require tshark
	local f
	for f in $(captures); do
		run python3 "$TOP_SRCDIR/tests/tools/json-vs-tshark.py" "$DNSTAP" "$f"
		echo "$f: $output"
		[ "$status" -eq 0 ]
		[[ "$output" == *"answers="* ]]
	done
}

@test "--flat: the keys are the nested members' paths joined by dots, with the same values" {
	require jq
	"$DNSTAP" -r "$TMP/odd.fstrm" -J 2>/dev/null | jq -c '[paths(type != "object" and type != "array") as $p | {key: ($p | map(tostring) | join(".")), value: getpath($p)}] | from_entries' > "$TMP/want"
	"$DNSTAP" -r "$TMP/odd.fstrm" -J --flat 2>/dev/null | jq -c . > "$TMP/got"
	diff "$TMP/want" "$TMP/got"
}

@test "-J: EDNS options decoded, odd names escaped, rdata in presentation form, malformed messages kept" {
	require jq
	"$DNSTAP" -r "$TMP/odd.fstrm" -J 2>/dev/null > "$TMP/j" || true # the frame without a message: exit 1
	run jq -c '.message.query_message.edns.options' <(sed -n 1p "$TMP/j")
	[ "$output" = '[{"code":8,"name":"ECS","family":1,"source_prefix":24,"scope_prefix":0,"address":"192.0.2.0"},{"code":10,"name":"COOKIE","client":"0102030405060708"},{"code":3,"name":"NSID","hex":"","text":""},{"code":11,"name":"KEEPALIVE"},{"code":12,"name":"PADDING","length":8},{"code":65001,"hex":"dead"}]' ]
	run jq -c '.message.response_message | [.rcode, .edns.options[1:]]' <(sed -n 2p "$TMP/j")
	[ "$output" = '["NXDOMAIN",[{"code":10,"name":"COOKIE","client":"0102030405060708","server":"a1a2a3a4a5a6a7a8"},{"code":3,"name":"NSID","hex":"6e73312e6578616d706c65","text":"ns1.example"},{"code":11,"name":"KEEPALIVE","timeout":1200},{"code":15,"name":"EDE","info_code":18,"purpose":"Prohibited","text":"blocked, \"by\" policy"},{"code":15,"name":"EDE","info_code":999,"text":""}]]' ]
	run jq -r '.message.response_message.answer[] | "\(.name) \(.type) \(.rdata)"' <(sed -n 3p "$TMP/j")
	[ "${lines[6]}" = 'example.com. TXT "v=spf1 -all" "a \"quoted\", comma\\ and\010newline" "\195\169t\233"' ]
	[ "${lines[9]}" = 'example.com. SVCB 1 svc.example.net. alpn="h2" port="8443" ipv4hint="192.0.2.7"' ]
	[ "${lines[12]}" = 'example.com. TYPE65280 \# 3 010203' ]
	[ "${lines[13]}" = 'a,b.q\"uote.dot\.label.sp\ ace.nl\010byte.\255\254.example. A 198.51.100.9' ]
	# cut inside its second answer: what parsed before, and where it stopped
	run jq -c '.message.response_message | [.malformed, .malformed_offset, .error, (.answer | length)]' <(sed -n 4p "$TMP/j")
	[ "$output" = '[true,56,"dns: overflow unpacking uint16",1]' ]
	run jq -c '.message.query_message' <(sed -n 5p "$TMP/j")
	[ "$output" = '{"length":3,"malformed":true,"malformed_offset":0,"error":"dns: overflow unpacking uint16"}' ]
	run jq -c '.message.response_message | [.rcode, .header.rcode, .edns.extended_rcode]' <(sed -n 6p "$TMP/j")
	[ "$output" = '["BADSIG","NOERROR",1]' ]
	run jq -c '.message | [.query_time, .response_time, .latency]' <(sed -n 2p "$TMP/j")
	[ "$output" = '["2023-11-14T22:13:20.123456789Z","2023-11-14T22:13:20.223456789Z",0.1]' ]
	run jq -c '[.identity, .extra]' <(sed -n 3p "$TMP/j"; sed -n 8p "$TMP/j")
	[ "${lines[0]}" = '["edge, \"one\"\nline two�",null]' ]
	[ "${lines[1]}" = '["odd","extra \\x00 bytes"]' ]
}

@test "--ldns -q and --ldns -y print what dnstap-ldns prints, byte for byte, on every capture and on odd frames" {
	require dnstap-ldns
	local f m
	python3 "$ODD" "$TMP/odd-y.fstrm" ldns-y
	for f in $(captures) "$TMP/odd-y.fstrm"; do
		for m in -q -y; do
			dnstap-ldns $m -r "$f" > "$TMP/want"
			"$DNSTAP" -r "$f" --ldns $m > "$TMP/got"
			cmp "$TMP/want" "$TMP/got"
		done
	done
	# every odd frame for -q, frames without a message and unknown enum values included
	dnstap-ldns -q -r "$TMP/odd.fstrm" > "$TMP/want"
	"$DNSTAP" -r "$TMP/odd.fstrm" --ldns -q > "$TMP/got" 2>/dev/null || true
	cmp "$TMP/want" "$TMP/got"
	# where dnstap-ldns -y gives up (an enum value it does not know), what it printed is where we start
	dnstap-ldns -y -r "$TMP/odd.fstrm" > "$TMP/want" 2>/dev/null || true
	"$DNSTAP" -r "$TMP/odd.fstrm" --ldns -y > "$TMP/got" 2>/dev/null || true
	[ -s "$TMP/want" ]
	cmp "$TMP/want" <(head -c "$(stat -c %s "$TMP/want")" "$TMP/got")
}

@test "--template: DNS-collector's default text-format equals the same fields taken from -J with jq" {
	require jq
	local f
	for f in $(captures); do
		"$DNSTAP" -r "$f" --template 'timestamp-rfc3339ns identity operation rcode queryip queryport family protocol length qname qtype latency' > "$TMP/got"
		"$DNSTAP" -r "$f" -J | jq -r '
			.message as $m
			| (if ($m.type | test("QUERY$")) then "query" else "response" end) as $d
			| $m["\($d)_message"] as $w
			| [ ($m["\($d)_time"] | sub("\\.?0*Z$"; "Z")),
			    (.identity // "-"), $m.type, ($w.rcode // "-"), ($m.query_address // "-"),
			    ($m.query_port // "-" | tostring),
			    ({"INET": "IPv4", "INET6": "IPv6"}[$m.socket_family] // "-"),
			    ($m.socket_protocol // "-"), ($w.length // 0 | tostring),
			    (($w.question // [])[0].name // "-" | if . == "." then . else sub("\\.$"; "") end
			        | if test(" ") then "\"" + gsub("\""; "\\\"") + "\"" else . end),
			    (($w.question // [])[0].type // "-"),
			    (if $m.latency then ($m.latency * 1000000 | round) as $us
			        | "\($us / 1000000 | floor).\("00000\($us % 1000000)" | .[-6:])"
			     else "0.000000" end)
			  ] | join(" ")' > "$TMP/want"
		[ -s "$TMP/want" ]
		diff "$TMP/want" "$TMP/got"
	done
}

@test "--template: {name} fields in literal text; an unknown name is one line and exit 2" {
	run --separate-stderr "$DNSTAP" -r "$TMP/odd.fstrm" --template 'op={operation} q={qname}/{qtype} ttl={ttl} ans={answer} n={answercount} ecs={edns-csubnet} {aa}{rd}'
	[ "${lines[0]}" = "op=CLIENT_QUERY q=www.example.com/A ttl=- ans=- n=0 ecs=192.0.2.0/24 -RD" ]
	[ "${lines[2]}" = "op=RESOLVER_RESPONSE q=example.com/ANY ttl=300 ans=192.0.2.1 n=14 ecs=- AARD" ]
	run --separate-stderr "$DNSTAP" -r "$TMP/odd.fstrm" --template 'qname flags'
	[ "$status" -eq 2 ]
	[ "$stderr" = 'dnstap: --template: unknown field "flags" (see dnstap --help)' ]
	[ -z "$output" ]
	run --separate-stderr "$DNSTAP" -r "$TMP/odd.fstrm" --csv --fields qname,nope
	[ "$status" -eq 2 ]
	[ "$stderr" = 'dnstap: --fields: unknown field "nope" (see dnstap --help)' ]
}

@test "--csv and --tsv: a header, and Python's csv module reads back every field, commas, quotes and newlines included" {
	"$DNSTAP" -r "$TMP/odd.fstrm" --csv --fields identity,qname,answer,qtype,id > "$TMP/c" 2>/dev/null || true
	"$DNSTAP" -r "$TMP/odd.fstrm" --tsv --fields identity,qname,answer > "$TMP/t" 2>/dev/null || true
	run python3 -c '
import csv, sys
rows = list(csv.reader(open(sys.argv[1], newline="", encoding="utf-8", errors="surrogateescape")))
assert rows[0] == ["identity", "qname", "answer", "qtype", "id"], rows[0]
assert rows[1] == ["odd", "www.example.com", "-", "A", "257"], rows[1]
assert rows[3][0] == "edge, \"one\"\nline two\udcff", rows[3]
assert rows[3][1:] == ["example.com", "192.0.2.1", "ANY", "514"], rows[3]
assert len(rows) == 12 and all(len(r) == 5 for r in rows), rows
raw = open(sys.argv[1], "rb").read()
assert raw.count(b"\r\n") == 12, raw
t = [l.split("\t") for l in open(sys.argv[2], encoding="utf-8", errors="surrogateescape").read().split("\n")[:-1]]
assert t[0] == ["identity", "qname", "answer"], t[0]
assert t[3][0] == "edge, \"one\"\\nline two\udcff", t[3]
assert len(t) == 12 and all(len(r) == 3 for r in t), t
print("ok")' "$TMP/c" "$TMP/t"
	echo "$output"
	[ "$output" = ok ]
	# the default columns are DNS-collector's default text-format
	run "$DNSTAP" -r "$(captures | head -1)" --csv
	[ "${lines[0]}" = $'timestamp-rfc3339ns,identity,operation,rcode,queryip,queryport,family,protocol,length,qname,qtype,latency\r' ]
}

@test "format flags: one format at a time, and the refinements need theirs" {
	run "$DNSTAP" -r "$TMP/odd.fstrm" -J -j
	[ "$status" -eq 2 ]
	run "$DNSTAP" -r "$TMP/odd.fstrm" --flat
	[ "$status" -eq 2 ]
	run "$DNSTAP" -r "$TMP/odd.fstrm" --ldns -j
	[ "$status" -eq 2 ]
	run "$DNSTAP" -r "$TMP/odd.fstrm" --fields qname
	[ "$status" -eq 2 ]
	run --separate-stderr "$DNSTAP" -r "$(captures | head -1)" --format json-full
	[ "$status" -eq 0 ]
	[ "$output" = "$("$DNSTAP" -r "$(captures | head -1)" -J)" ]
}

@test "--csv -w FILE: the header starts the file, and appending to it (-a) adds none" {
	local f
	f=$(captures | head -1)
	"$DNSTAP" -r "$f" --csv --fields qname,qtype -w "$TMP/o.csv"
	"$DNSTAP" -r "$f" --csv --fields qname,qtype -w "$TMP/o.csv" -a
	[ "$(head -1 "$TMP/o.csv")" = $'qname,qtype\r' ]
	[ "$(grep -c '^qname,qtype' "$TMP/o.csv")" -eq 1 ]
	[ "$(wc -l < "$TMP/o.csv")" -eq $((2 * $("$DNSTAP" -r "$f" -q | wc -l) + 1)) ]
}
