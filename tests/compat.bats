#!/usr/bin/env bats
# Compatibility with the Go dnstap tool: for every real capture in tests/data and every text format,
# our output must be byte-identical to /usr/bin/dnstap's (golang-dnstap 0.4.0) under the same TZ.

load helpers

setup() {
	common_setup
	require "$GO_DNSTAP"
}

teardown() {
	common_teardown
}

# compare FORMAT TZ: diffs ours against Go's for every capture; prints the differing lines on failure.
compare() {
	local fmt=$1 tz=$2 f name failed=0 n=0
	for f in $(captures); do
		name=$(basename "$f" .dnstap)
		TZ=$tz "$GO_DNSTAP" -r "$f" "-$fmt" >"$TMP/$name.go" 2>/dev/null
		TZ=$tz "$DNSTAP" -r "$f" "-$fmt" >"$TMP/$name.ours"
		[ -s "$TMP/$name.go" ] || { echo "$name: Go printed nothing"; failed=1; }
		if ! diff -u "$TMP/$name.go" "$TMP/$name.ours" >"$TMP/$name.diff"; then
			echo "$name -$fmt: $(grep -c '^[-+][^-+]' "$TMP/$name.diff") differing lines"
			head -40 "$TMP/$name.diff"
			failed=1
		fi
		n=$((n + 1))
	done
	[ "$n" -ge 6 ] || { echo "expected at least 6 captures, found $n"; return 1; }
	return "$failed"
}

@test "captures from all six servers and kdig are present" {
	for peer in unbound dnsdist knot bind pdns-recursor kdig; do
		[ -s "$TESTDATA/$peer.dnstap" ]
	done
}

@test "quiet output is identical to the Go tool (UTC)" {
	compare q UTC
}

@test "quiet output is identical to the Go tool in a local time zone" {
	[ -e /usr/share/zoneinfo/Asia/Kolkata ] || unavailable "tzdata is not installed"
	compare q Asia/Kolkata
}

@test "YAML output is identical to the Go tool" {
	compare y UTC
}

@test "JSON output is identical to the Go tool" {
	compare j UTC
}

@test "default output is quiet text" {
	f=$TESTDATA/unbound.dnstap
	TZ=UTC "$DNSTAP" -r "$f" >"$TMP/default"
	TZ=UTC "$DNSTAP" -r "$f" -q >"$TMP/quiet"
	[ -s "$TMP/default" ]
	cmp "$TMP/default" "$TMP/quiet"
}

@test "several -r files come out file after file, in order" {
	local a=$TESTDATA/unbound.dnstap b=$TESTDATA/kdig.dnstap
	TZ=UTC "$DNSTAP" -r "$a" -r "$b" -y >"$TMP/both"
	{ TZ=UTC "$DNSTAP" -r "$a" -y; TZ=UTC "$DNSTAP" -r "$b" -y; } >"$TMP/each"
	cmp "$TMP/both" "$TMP/each"
}

@test "-r - reads standard input" {
	f=$TESTDATA/dnsdist.dnstap
	TZ=UTC "$DNSTAP" -r - -j <"$f" >"$TMP/stdin"
	TZ=UTC "$GO_DNSTAP" -r "$f" -j >"$TMP/go" 2>/dev/null
	cmp "$TMP/stdin" "$TMP/go"
}

@test "-w FILE without a format writes the input's frames unchanged, as the Go tool does" {
	for f in $(captures); do
		name=$(basename "$f" .dnstap)
		"$DNSTAP" -r "$f" -w "$TMP/$name.ours"
		"$GO_DNSTAP" -r "$f" -w "$TMP/$name.go" 2>/dev/null
		cmp "$TMP/$name.ours" "$TMP/$name.go"
		# and it reads back to the same text
		TZ=UTC "$DNSTAP" -r "$TMP/$name.ours" -y >"$TMP/back"
		TZ=UTC "$DNSTAP" -r "$f" -y >"$TMP/orig"
		cmp "$TMP/back" "$TMP/orig"
	done
}

@test "our binary output is readable by dnstap-ldns and fstrm_dump" {
	require dnstap-ldns fstrm_dump
	f=$TESTDATA/unbound.dnstap
	"$DNSTAP" -r "$f" -w "$TMP/copy.dnstap"
	dnstap-ldns -r "$TMP/copy.dnstap" -q >"$TMP/ldns.copy"
	dnstap-ldns -r "$f" -q >"$TMP/ldns.orig"
	[ -s "$TMP/ldns.orig" ]
	cmp "$TMP/ldns.copy" "$TMP/ldns.orig"
	fstrm_dump "$TMP/copy.dnstap" >/dev/null
}

@test "-w FILE with a format writes text there; -a appends" {
	f=$TESTDATA/knot.dnstap
	TZ=UTC "$DNSTAP" -r "$f" -y -w "$TMP/out.yaml"
	TZ=UTC "$GO_DNSTAP" -r "$f" -y >"$TMP/go.yaml" 2>/dev/null
	cmp "$TMP/out.yaml" "$TMP/go.yaml"
	TZ=UTC "$DNSTAP" -r "$f" -y -a -w "$TMP/out.yaml"
	cat "$TMP/go.yaml" "$TMP/go.yaml" >"$TMP/twice.yaml"
	cmp "$TMP/out.yaml" "$TMP/twice.yaml"
	TZ=UTC "$DNSTAP" -r "$f" -y -w "$TMP/out.yaml"
	cmp "$TMP/out.yaml" "$TMP/go.yaml"
}
