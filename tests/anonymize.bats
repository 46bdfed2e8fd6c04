#!/usr/bin/env bats
# --anonymize: addresses, ECS and (with --anonymize-answers) A/AAAA answers rewritten for every output;
# no original address left in any form; the result still a dnstap file the Go tool and dnstap-ldns read.
# --anonymize-qname: no label below a registrable domain left, the registrable domains kept.

bats_require_minimum_version 1.5.0
load helpers

setup() {
	common_setup
	require python3
	LEAK="$TOP_SRCDIR/tests/tools/addr-leak.py"
	"$MKFIXTURE" ecs "$TMP/ecs.dnstap"
	head -c 32 /dev/urandom > "$TMP/key"
}

teardown() {
	common_teardown
}

# inputs: every capture and the ECS fixture, with their originals as JSON and YAML for addr-leak.py
inputs() {
	local f b
	for f in $(captures) "$TMP/ecs.dnstap"; do
		b=$TMP/$(basename "$f" .dnstap)
		"$DNSTAP" -r "$f" -j > "$b.json"
		"$DNSTAP" -r "$f" -y > "$b.yaml"
		echo "$f"
	done
}

leak_test() {
	local mode=$1 f b
	for f in $(inputs); do
		b=$TMP/$(basename "$f" .dnstap)
		"$DNSTAP" -r "$f" --anonymize "$mode" --anonymize-answers -w "$b.anon"
		"$DNSTAP" -r "$b.anon" -j > "$b.anon.json"
		"$DNSTAP" -r "$b.anon" -y > "$b.anon.yaml"
		"$DNSTAP" -r "$f" --anonymize "$mode" --anonymize-answers --format pcap -w "$b.anon.pcap" 2>/dev/null
		run python3 "$LEAK" "$b.json" "$b.anon" "$b.anon.json" "$b.anon.yaml" "$b.anon.pcap"
		echo "$output"
		[ "$status" -eq 0 ]
		# the same messages, still decodable by the peers
		[ "$("$DNSTAP" -r "$b.anon" -q | wc -l)" -eq "$(wc -l < "$b.json")" ]
		[ "$(/usr/bin/dnstap -r "$b.anon" -q 2>/dev/null | wc -l)" -eq "$(wc -l < "$b.json")" ]
		[ "$(dnstap-ldns -r "$b.anon" -q 2>/dev/null | wc -l)" -eq "$(wc -l < "$b.json")" ]
	done
}

@test "--anonymize cryptopan: no original address, ECS or answer left in binary, JSON, YAML or pcap output" {
	require dnstap-ldns /usr/bin/dnstap
	leak_test "cryptopan:$TMP/key"
}

@test "--anonymize hmac: no original address, ECS or answer left" {
	require dnstap-ldns /usr/bin/dnstap
	leak_test "hmac:$TMP/key"
}

@test "--anonymize mask:/16,/32: the prefixes are kept, the rest is zero, ECS and answers included" {
	run "$DNSTAP" -r "$TMP/ecs.dnstap" -y --anonymize mask:/16,/32 --anonymize-answers
	[ "$status" -eq 0 ]
	[ "$(grep -c 'query_address: 198.51.0.0$' <<< "$output")" -eq 2 ]
	[ "$(grep -c 'response_address: 192.0.0.0$' <<< "$output")" -eq 2 ]
	[ "$(grep -c '; SUBNET: 198.51.0.0/24/0$' <<< "$output")" -eq 2 ]
	grep -q "IN	A	198.51.0.0$" <<< "$output"
	# without --anonymize-answers the answer stays
	run "$DNSTAP" -r "$TMP/ecs.dnstap" -y --anonymize mask:/16
	grep -q "IN	A	198.51.100.7$" <<< "$output"
	[ "$(grep -c '; SUBNET: 198.51.0.0/24/0$' <<< "$output")" -eq 2 ]
}

@test "--anonymize cryptopan keeps subnets: the ECS /24 and the client stay in one anonymised /24" {
	run "$DNSTAP" -r "$TMP/ecs.dnstap" -y --anonymize "cryptopan:$TMP/key"
	local client subnet
	client=$(sed -n 's/^  query_address: //p' <<< "$output" | head -1)
	subnet=$(sed -n 's/.*; SUBNET: \([0-9.]*\)\/24\/0$/\1/p' <<< "$output" | head -1)
	[ -n "$client" ] && [ -n "$subnet" ]
	[ "${client%.*}" = "${subnet%.*}" ]     # the same /24
	[ "${subnet##*.}" = 0 ]                  # bits past the source prefix are zero
	[ "$client" != 198.51.100.7 ]
	# the same key gives the same mapping in another run
	run "$DNSTAP" -r "$TMP/ecs.dnstap" -y --anonymize "cryptopan:$TMP/key"
	[ "$(sed -n 's/^  query_address: //p' <<< "$output" | head -1)" = "$client" ]
}

@test "--anonymize: a key file in hex works like the raw key" {
	od -An -tx1 -v "$TMP/key" | tr -d ' \n' > "$TMP/key.hex"
	echo >> "$TMP/key.hex"
	cmp <("$DNSTAP" -r "$TMP/ecs.dnstap" -q --anonymize "cryptopan:$TMP/key") \
		<("$DNSTAP" -r "$TMP/ecs.dnstap" -q --anonymize "cryptopan:$TMP/key.hex")
}

@test "--anonymize: bad modes are one line and exit 2, an unreadable key file exit 1" {
	run --separate-stderr "$DNSTAP" -r "$TMP/ecs.dnstap" --anonymize nope
	[ "$status" -eq 2 ]
	[ "$stderr" = "dnstap: --anonymize nope: unknown mode (want mask:/24,/64, hmac:KEYFILE or cryptopan:KEYFILE) (see dnstap --help)" ]
	run --separate-stderr "$DNSTAP" -r "$TMP/ecs.dnstap" --anonymize mask:/33
	[ "$status" -eq 2 ]
	head -c 16 /dev/urandom > "$TMP/short"
	run --separate-stderr "$DNSTAP" -r "$TMP/ecs.dnstap" --anonymize "cryptopan:$TMP/short"
	[ "$status" -eq 2 ]
	[[ "$stderr" == *"$TMP/short: a Crypto-PAn key must be 32 bytes"* ]]
	run --separate-stderr "$DNSTAP" -r "$TMP/ecs.dnstap" --anonymize "hmac:$TMP/missing"
	[ "$status" -eq 1 ]
	[ "$stderr" = "dnstap: --anonymize: $TMP/missing: No such file or directory" ]
	run --separate-stderr "$DNSTAP" -r "$TMP/ecs.dnstap" --anonymize-answers
	[ "$status" -eq 2 ]
	[ -z "$output" ]
}

# qname_test MODE: every capture through --anonymize MODE --anonymize-answers --anonymize-qname, checked by
# name-leak.py against the registrable domains libpsl's own tool (psl) finds for the original qnames
qname_test() {
	local mode=$1 f b n
	for f in $(captures); do
		b=$TMP/$(basename "$f" .dnstap)
		"$DNSTAP" -r "$f" -q > "$b.q"
		grep -o '"[^"]*"' "$b.q" | tr -d '"' | sed 's/\.$//' | sort -u | while IFS= read -r n; do
			psl --print-reg-domain "$n"
		done > "$b.reg"
		[ -s "$b.reg" ]
		"$DNSTAP" -r "$f" --anonymize "$mode" --anonymize-answers --anonymize-qname -w "$b.anon"
		"$DNSTAP" -r "$b.anon" -q > "$b.anon.q"
		"$DNSTAP" -r "$b.anon" -y > "$b.anon.yaml"
		"$DNSTAP" -r "$b.anon" -j > "$b.anon.json"
		"$DNSTAP" -r "$f" --anonymize "$mode" --anonymize-answers --anonymize-qname --format pcap \
			-w "$b.anon.pcap" 2>/dev/null
		run python3 "$TOP_SRCDIR/tests/tools/name-leak.py" "$b.reg" "$b.q" "$b.anon.q" \
			"$b.anon" "$b.anon.yaml" "$b.anon.json" "$b.anon.pcap"
		echo "$(basename "$f"): $output"
		[ "$status" -eq 0 ]
		# the same messages, of the same sizes (the -q lines name them), still readable by the peers
		diff <(awk '{print $1, $2, $4, $5, $(NF-1), $NF}' "$b.q") <(awk '{print $1, $2, $4, $5, $(NF-1), $NF}' "$b.anon.q")
		[ "$(/usr/bin/dnstap -r "$b.anon" -q 2>/dev/null | wc -l)" -eq "$(wc -l < "$b.q")" ]
		[ "$(dnstap-ldns -r "$b.anon" -q 2>/dev/null | wc -l)" -eq "$(wc -l < "$b.q")" ]
		# the Go tool prints the same rewritten names
		diff <(grep -o '"[^"]*"' "$b.anon.q") <(/usr/bin/dnstap -r "$b.anon" -q 2>/dev/null | grep -o '"[^"]*"')
	done
}

@test "--anonymize-qname: no label below a registrable domain left in binary, YAML, JSON or pcap; the domains kept" {
	require dnstap-ldns /usr/bin/dnstap psl
	printf '000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n' > "$TMP/fixed.key"
	qname_test "cryptopan:$TMP/fixed.key"
	qname_test "hmac:$TMP/fixed.key"
	qname_test "mask:/8,/16" # (a longer prefix keeps 198.51.100 in the text outputs: an address, no name)
}

@test "--anonymize-qname: the same key gives the same file, another key another; a name maps the same everywhere" {
	local f=$TESTDATA/unbound.dnstap
	head -c 32 /dev/urandom > "$TMP/key2"
	"$DNSTAP" -r "$f" --anonymize "cryptopan:$TMP/key" --anonymize-qname -w "$TMP/a1"
	"$DNSTAP" -r "$f" --anonymize "cryptopan:$TMP/key" --anonymize-qname -w "$TMP/a2"
	"$DNSTAP" -r "$f" --anonymize "cryptopan:$TMP/key2" --anonymize-qname -w "$TMP/a3"
	cmp "$TMP/a1" "$TMP/a2"
	if cmp -s "$TMP/a1" "$TMP/a3"; then return 1; fi
	# www.lab.test is asked in several messages (and in other captures): one name for all of them
	local n
	n=$("$DNSTAP" -r "$f" -q | grep -c '"www.lab.test."')
	[ "$n" -gt 1 ]
	run "$DNSTAP" -r "$TMP/a1" -q
	local www
	www=$(sed -n "$("$DNSTAP" -r "$f" -q | grep -n -m1 '"www.lab.test."' | cut -d: -f1)p" <<< "$output" | grep -o '"[^"]*"')
	[[ "$www" =~ ^\"[a-z0-9]{3}\.lab\.test\.\"$ ]]
	[ "$(grep -c -F "$www" <<< "$output")" -eq "$n" ]
	# and the same in another capture, from the same key
	"$DNSTAP" -r "$TESTDATA/bind.dnstap" --anonymize "cryptopan:$TMP/key" --anonymize-qname -q | grep -q -F "$www"
	# the answers' names go the same way: a CNAME's target is the name asked next
	run "$DNSTAP" -r "$f" -y
	grep -q 'CNAME	www.lab.test.$' <<< "$output"
	run "$DNSTAP" -r "$TMP/a1" -y
	grep -q "CNAME	${www//\"/}\$" <<< "$output"
	if grep -q 'www\.lab\.test' <<< "$output"; then return 1; fi
}

@test "--anonymize-qname needs --anonymize" {
	run --separate-stderr "$DNSTAP" -r "$TMP/ecs.dnstap" -q --anonymize-qname
	[ "$status" -eq 2 ]
	[[ "$stderr" == "dnstap: --anonymize-qname needs --anonymize"* ]]
}

@test "--anonymize-qname: case and compression pointers: a label reached by several names is rewritten once" {
	"$MKFIXTURE" qnames "$TMP/qn.dnstap"
	run --separate-stderr "$DNSTAP" -r "$TMP/qn.dnstap" --anonymize "cryptopan:$TMP/key" --anonymize-qname -y
	[ "$status" -eq 0 ]
	local www mail
	www=$(sed -n 's/^    ;\([a-z0-9]\{3\}\)\.Example\.CO\.UK\.\tIN\t A$/\1/p' <<< "$output" | sort -u)
	[ "$(wc -l <<< "$www")" -eq 1 ] && [ "$www" != www ] # the question, in the query and the response
	# the CNAME's target (mail + a pointer to the question's Example.CO.UK), and the next owner, a pointer
	# to that target: one new label, the registrable domain as it was written
	mail=$(sed -n "s/^    $www\\.Example\\.CO\\.UK\\.\\t3600\\tIN\\tCNAME\\t\\([a-z0-9]\\{4\\}\\)\\.Example\\.CO\\.UK\\.\$/\\1/p" <<< "$output")
	[ -n "$mail" ] && [ "$mail" != mail ]
	grep -q "^    $mail\\.Example\\.CO\\.UK\\.	3600	IN	A	" <<< "$output"
	# WWW in upper case and www in lower case are one name
	grep -q "^    ;$www\\.example\\.co\\.uk\\.	IN	 A\$" <<< "$output"
	# a name pointing into a label's text would no longer parse once the label is rewritten: taken out
	[ "$stderr" = "dnstap: --anonymize: 0 undecodable messages dropped, 1 unparsable DNS message taken out" ]
	if grep -q 'q\\000z' <<< "$output"; then return 1; fi
	# and the Go tool reads the rest: the four messages, the question of the last one gone with its wire
	"$DNSTAP" -r "$TMP/qn.dnstap" --anonymize "cryptopan:$TMP/key" --anonymize-qname -w "$TMP/qn.anon" 2>/dev/null
	if [ -x /usr/bin/dnstap ]; then
		run --separate-stderr /usr/bin/dnstap -r "$TMP/qn.anon" -q
		[ "$status" -eq 0 ]
		[ "${#lines[@]}" -eq 4 ]
		[ "$(grep -c "\"$www\.Example\.CO\.UK\.\"" <<< "$output")" -eq 2 ]
	fi
}
