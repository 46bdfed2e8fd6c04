#!/usr/bin/env bats
# Bad input: where the Go tool crashes, stops or hangs, we print every good frame, say one clear line
# per bad one on stderr (naming the file and the frame), and exit 1 at the end.
# The damaged files are written by tests/tools/mkfixture with our own encoder.

load helpers

setup() {
	common_setup
}

teardown() {
	common_teardown
}

fixture() {
	"$MKFIXTURE" "$1" "$TMP/$1.dnstap"
	echo "$TMP/$1.dnstap"
}

# good_lines FILE: how many quiet lines describe the fixture's intact "www.example.com" query
good_lines() {
	grep -c '^22:13:20.123456 CQ 192.0.2.1 UDP 33b "www.example.com." IN A$' "$1" || true
}

@test "a MESSAGE without its message field: skipped with a line naming frame 2 (Go panics)" {
	f=$(fixture nomsg)
	for fmt in q y j; do
		run bash -c "TZ=UTC '$DNSTAP' -r '$f' -$fmt 2>'$TMP/err' >'$TMP/out'"
		[ "$status" -eq 1 ]
		grep -q "^dnstap: $f: frame 2: dnstap MESSAGE without its message field\$" "$TMP/err"
		[ "$(wc -l <"$TMP/err")" -eq 1 ]
	done
	TZ=UTC "$DNSTAP" -r "$f" -q >"$TMP/out" 2>/dev/null || true
	[ "$(good_lines "$TMP/out")" -eq 2 ]
	TZ=UTC "$DNSTAP" -r "$f" -y >"$TMP/out" 2>/dev/null || true
	[ "$(grep -c '^---$' "$TMP/out")" -eq 2 ]
}

@test "a dnstap type other than MESSAGE: skipped with a line naming frame 2" {
	f=$(fixture nottype)
	run bash -c "TZ=UTC '$DNSTAP' -r '$f' -y 2>'$TMP/err' >'$TMP/out'"
	[ "$status" -eq 1 ]
	grep -q "frame 2: dnstap type is not MESSAGE" "$TMP/err"
	[ "$(grep -c '^---$' "$TMP/out")" -eq 2 ]
}

@test "an address that is not 4 or 16 bytes: printed as Go's net.IP text, JSON goes on (Go's JSON stops)" {
	f=$(fixture badaddr)
	TZ=UTC "$DNSTAP" -r "$f" -j >"$TMP/out"
	[ "$(wc -l <"$TMP/out")" -eq 3 ]
	grep -q '"query_address":"?c00002"' "$TMP/out"
	TZ=UTC "$DNSTAP" -r "$f" -q >"$TMP/out"
	[ "$(sed -n 2p "$TMP/out" | cut -d' ' -f3)" = "?c00002" ]
	if [ -x "$GO_DNSTAP" ]; then
		# quiet and YAML match the Go tool, which handles them
		TZ=UTC "$GO_DNSTAP" -r "$f" -q >"$TMP/go" 2>/dev/null
		cmp "$TMP/out" "$TMP/go"
		TZ=UTC "$GO_DNSTAP" -r "$f" -y >"$TMP/go" 2>/dev/null
		TZ=UTC "$DNSTAP" -r "$f" -y >"$TMP/out"
		cmp "$TMP/out" "$TMP/go"
	fi
}

@test "an undecodable protobuf frame: one line, every later frame printed (Go drops the rest or deadlocks)" {
	f=$(fixture badproto-many)
	run bash -c "TZ=UTC '$DNSTAP' -r '$f' -q 2>'$TMP/err' >'$TMP/out'"
	[ "$status" -eq 1 ]
	grep -q "^dnstap: $f: frame 2: payload is not a valid dnstap protobuf\$" "$TMP/err"
	[ "$(good_lines "$TMP/out")" -eq 201 ]
}

@test "a DNS message that does not parse: printed as the Go tool prints it" {
	require "$GO_DNSTAP"
	f=$(fixture baddns)
	for fmt in q y j; do
		TZ=UTC "$DNSTAP" -r "$f" -$fmt >"$TMP/out"
		TZ=UTC "$GO_DNSTAP" -r "$f" -$fmt >"$TMP/go" 2>/dev/null
		diff -u "$TMP/go" "$TMP/out"
	done
	grep -q 'parse failed' "$TMP/out"
}

@test "a frame over the size limit is skipped by its length, the rest is read" {
	f=$(fixture bigframe)
	run bash -c "TZ=UTC '$DNSTAP' -r '$f' -q 2>'$TMP/err' >'$TMP/out'"
	[ "$status" -eq 1 ]
	grep -q "^dnstap: $f: frame 2: data frame larger than 262144 bytes, skipped\$" "$TMP/err"
	[ "$(good_lines "$TMP/out")" -eq 2 ]
	# a larger limit reads it (as the payload it is: zeros, not a dnstap message)
	run bash -c "'$DNSTAP' -r '$f' -q --max-frame-size 400000 2>&1 >/dev/null"
	[[ "$output" == *"frame 2: payload is not a valid dnstap protobuf"* ]]
}

@test "a valid frame over 96 KiB is printed (the Go tool stops reading there)" {
	f=$(fixture over96k)
	TZ=UTC "$DNSTAP" -r "$f" -q >"$TMP/out"
	[ "$(wc -l <"$TMP/out")" -eq 3 ]
	sed -n 2p "$TMP/out" | grep -q ' UDP 50000b '
}

@test "a file without STOP: every frame printed, then a line saying it was cut short" {
	f=$(fixture nostop)
	run bash -c "TZ=UTC '$DNSTAP' -r '$f' -q 2>'$TMP/err' >'$TMP/out'"
	[ "$status" -eq 1 ]
	[ "$(good_lines "$TMP/out")" -eq 2 ]
	grep -q "^dnstap: $f: file ends without a STOP frame after 2 frames" "$TMP/err"
}

@test "a truncated last frame: the complete ones printed, a line naming frame 3" {
	f=$(fixture truncated)
	run bash -c "TZ=UTC '$DNSTAP' -r '$f' -q 2>'$TMP/err' >'$TMP/out'"
	[ "$status" -eq 1 ]
	[ "$(good_lines "$TMP/out")" -eq 2 ]
	grep -q "^dnstap: $f: frame 3: file ends in the middle of a frame\$" "$TMP/err"
}

@test "a wrong content type: refused with a clear line" {
	f=$(fixture wrongct)
	run "$DNSTAP" -r "$f"
	[ "$status" -eq 1 ]
	[ "$output" = "dnstap: $f: content type is not protobuf:dnstap.Dnstap" ]
}

@test "a missing content type: read as dnstap (as the Go tool does), with a warning" {
	f=$(fixture noct)
	run bash -c "TZ=UTC '$DNSTAP' -r '$f' -q 2>'$TMP/err' >'$TMP/out'"
	[ "$status" -eq 0 ]
	[ "$(good_lines "$TMP/out")" -eq 1 ]
	grep -q "START frame has no content type" "$TMP/err"
}

@test "random bytes, an empty file, data before START: one line each, exit 1" {
	for name in random empty notstart; do
		f=$(fixture $name)
		run "$DNSTAP" -r "$f"
		[ "$status" -eq 1 ]
		[[ "$output" == "dnstap: $f: "*"not a Frame Streams file"* ]]
		[ "${#lines[@]}" -eq 1 ]
	done
}

@test "a control frame with an impossible length ends the file with a clear line" {
	f=$(fixture badcontrol)
	run bash -c "TZ=UTC '$DNSTAP' -r '$f' -q 2>'$TMP/err' >'$TMP/out'"
	[ "$status" -eq 1 ]
	[ "$(good_lines "$TMP/out")" -eq 1 ]
	grep -q "after frame 1: malformed Frame Streams control frame" "$TMP/err"
}

@test "a bad file among good ones: the good ones are printed in full" {
	bad=$(fixture truncated)
	run bash -c "TZ=UTC '$DNSTAP' -r '$TESTDATA/kdig.dnstap' -r '$bad' -r '$TESTDATA/kdig.dnstap' -q 2>/dev/null >'$TMP/out'"
	[ "$status" -eq 1 ]
	n=$(TZ=UTC "$DNSTAP" -r "$TESTDATA/kdig.dnstap" -q | wc -l)
	[ "$(wc -l <"$TMP/out")" -eq $((2 * n + 2)) ]
}

@test "an unreadable input: one line naming it, exit 1" {
	run "$DNSTAP" -r "$TMP/does-not-exist"
	[ "$status" -eq 1 ]
	[ "$output" = "dnstap: $TMP/does-not-exist: No such file or directory" ]
	run "$DNSTAP" -r "$TMP"
	[ "$status" -eq 1 ]
	[ "$output" = "dnstap: $TMP: Is a directory" ]
}

@test "fields the Go tool omits are printed in YAML and JSON when present" {
	f=$(fixture extras)
	TZ=UTC "$DNSTAP" -r "$f" -y >"$TMP/y"
	grep -qx 'extra: "x\\x01y"' "$TMP/y"
	grep -qx '  socket_protocol: DOQ' "$TMP/y"
	grep -qx '  policy:' "$TMP/y"
	grep -qx '    action: NXDOMAIN' "$TMP/y"
	grep -qx '    value: "bad.example."' "$TMP/y"
	grep -qx '  http_protocol: HTTP2' "$TMP/y"
	TZ=UTC "$DNSTAP" -r "$f" -j >"$TMP/j"
	grep -q '"extra":"x\\\\x01y"' "$TMP/j"
	grep -q '"policy":{"type":"rpz","rule":"rpz.example.","action":"NXDOMAIN","match":"QNAME","value":"bad.example."},"http_protocol":"HTTP2"}}$' "$TMP/j"
	# and frames without them print exactly as before
	f=$(fixture good)
	TZ=UTC "$DNSTAP" -r "$f" -y >"$TMP/y"
	if grep -q -e '^extra:' -e 'policy:' -e 'http_protocol:' "$TMP/y"; then return 1; fi
}
