#!/usr/bin/env bats
# libdnstap(3)'s EXAMPLES, cut from the page and built by `make check` (tests/tools/man-example): they
# compile against the public header and library alone, and do what the page says they do.

bats_require_minimum_version 1.5.0
load helpers
load peers

setup() {
	common_setup
	: "${EXAMPLES:=$TOP_SRCDIR/tests/examples}"
	[ -x "$EXAMPLES/queries" ] && [ -x "$EXAMPLES/tap" ] || unavailable "the examples are not built (make check builds them)"
}

teardown() {
	stop_all
	common_teardown
}

@test "the pipeline example keeps the client queries of every capture, as dnstap -q prints them" {
	local f n m
	for f in $(captures); do
		run --separate-stderr "$EXAMPLES/queries" "$f"
		[ "$status" -eq 0 ]
		"$DNSTAP" -r "$f" -q | grep ' CQ ' > "$TMP/want" || true
		printf '%s\n' "$output" | sed '/^$/d' > "$TMP/got"
		diff "$TMP/want" "$TMP/got"
		n=$("$DNSTAP" -r "$f" -q | wc -l)
		m=$(wc -l < "$TMP/want")
		[ "$stderr" = "queries: $n read, $m kept, $((n - m)) dropped by client-queries" ]
	done
	# one capture at least has client queries, and one has something else, so both verdicts ran
	"$EXAMPLES/queries" "$TESTDATA/unbound.dnstap" 2>/dev/null | grep -c ' CQ ' | grep -qx 52
}

@test "the pipeline example: an unreadable file is one line naming it, and exit 1" {
	run --separate-stderr "$EXAMPLES/queries" "$TMP/missing.dnstap"
	[ "$status" -eq 1 ]
	[[ "$stderr" == *"$TMP/missing.dnstap"* ]]
}

@test "the tap example sends its query and response through our listener, with identity and version" {
	listen_dnstap -u "$TMP/s.sock" -w "$TMP/out.dnstap"
	run --separate-stderr "$EXAMPLES/tap" "unix://$TMP/s.sock"
	[ "$status" -eq 0 ]
	[[ "$stderr" == *"example: 0 dropped so far"* ]]
	[[ "$stderr" == *"example: dnstap: closed: 2 messages sent, 0 dropped"* ]]
	stop_dnstap
	[ "$DT_STATUS" -eq 0 ]
	run "$DNSTAP" -r "$TMP/out.dnstap" -q
	[ "${#lines[@]}" -eq 2 ]
	[[ "${lines[0]}" == *" CQ 192.0.2.1 UDP 29b \"www.example.\" IN A" ]]
	[[ "${lines[1]}" == *" CR 192.0.2.1 UDP 29b \"www.example.\" IN A" ]]
	"$DNSTAP" -r "$TMP/out.dnstap" -y | grep -qx 'identity: "ns1.example"'
	"$DNSTAP" -r "$TMP/out.dnstap" -y | grep -qx 'version: "example-server 1.0"'
}

@test "the tap example without a collector: not configured, so nothing is sent and it exits 0" {
	run --separate-stderr "$EXAMPLES/tap"
	[ "$status" -eq 0 ]
	[ -z "$output" ] && [ -z "$stderr" ]
}
