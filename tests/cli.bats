#!/usr/bin/env bats
# Command-line manners: help, version, flag errors, exit codes, pipes.

load helpers

setup() {
	common_setup
}

teardown() {
	common_teardown
}

@test "every flag of --help is in the man page" {
	local f n=0
	for f in $("$DNSTAP" --help | grep -oE '^  +-{1,2}[a-z][a-z-]*'); do
		n=$((n + 1))
		grep -qF -- "$(sed 's/-/\\-/g' <<< "$f")" "$TOP_SRCDIR/man/dnstap.1" || { echo "$f is not in dnstap(1)"; return 1; }
	done
	[ "$n" -ge 20 ]
}

@test "--help and -h print usage on stdout and exit 0" {
	for flag in --help -h -help; do
		run "$DNSTAP" $flag
		[ "$status" -eq 0 ]
		[[ "${lines[0]}" == "Usage: dnstap [OPTION]..." ]]
		[[ "$output" == *"-r FILE"* ]]
	done
}

@test "--version prints the version and exits 0" {
	run "$DNSTAP" --version
	[ "$status" -eq 0 ]
	[[ "$output" =~ ^dnstap\ \(dnstap-toolkit\)\ [0-9]+\.[0-9]+ ]]
}

@test "an unknown flag is a usage error: exit 2" {
	run "$DNSTAP" -x
	[ "$status" -eq 2 ]
	[ "$output" = "dnstap: flag provided but not defined: -x (see dnstap --help)" ] # one line
}

@test "a flag without its value is a usage error: exit 2" {
	run "$DNSTAP" -r
	[ "$status" -eq 2 ]
	[ "$output" = "dnstap: flag needs an argument: -r (see dnstap --help)" ] # one line
}

@test "a positional argument is a usage error, not silently ignored" {
	run "$DNSTAP" "$TESTDATA/kdig.dnstap"
	[ "$status" -eq 2 ]
	[ "$output" = "dnstap: unexpected argument '$TESTDATA/kdig.dnstap' (see dnstap --help)" ] # one line
}

@test "no input: the Go tool's message and exit 1" {
	run "$DNSTAP" -q
	[ "$status" -eq 1 ]
	[ "$output" = "dnstap: Error: no inputs specified." ]
}

@test "two formats: the Go tool's message and exit 1" {
	run "$DNSTAP" -r "$TESTDATA/kdig.dnstap" -q -y
	[ "$status" -eq 1 ]
	[ "$output" = "dnstap: Error: specify at most one of -q, -y, or -j." ]
}

@test "Go flag syntax: -flag=value, --flag value" {
	TZ=UTC "$DNSTAP" -r="$TESTDATA/kdig.dnstap" --y >"$TMP/a"
	TZ=UTC "$DNSTAP" --r "$TESTDATA/kdig.dnstap" -y=true >"$TMP/b"
	[ -s "$TMP/a" ]
	cmp "$TMP/a" "$TMP/b"
}

@test "a bad --max-frame-size is a usage error" {
	run "$DNSTAP" -r "$TESTDATA/kdig.dnstap" --max-frame-size lots
	[ "$status" -eq 2 ]
	[ "$output" = 'dnstap: invalid value "lots" for flag -max-frame-size (see dnstap --help)' ] # one line
}

@test "an output that cannot be created: one line naming it, exit 1" {
	run "$DNSTAP" -r "$TESTDATA/kdig.dnstap" -w "$TMP/no/such/dir/out"
	[ "$status" -eq 1 ]
	[ "$output" = "dnstap: $TMP/no/such/dir/out: No such file or directory" ]
	run "$DNSTAP" -r "$TESTDATA/kdig.dnstap" -y -w "$TMP/no/such/dir/out"
	[ "$status" -eq 1 ]
	[ "$output" = "dnstap: $TMP/no/such/dir/out: No such file or directory" ]
}

@test "-a with standard output is refused" {
	run "$DNSTAP" -r "$TESTDATA/kdig.dnstap" -y -a
	[ "$status" -eq 1 ]
	[[ "$output" == "dnstap: cannot append to standard output"* ]]
}

@test "a pipe reader that goes away: quiet exit 0, first lines intact" {
	run bash -c "set -o pipefail; TZ=UTC '$DNSTAP' -r '$TESTDATA/unbound.dnstap' -r '$TESTDATA/unbound.dnstap' -y 2>'$TMP/err' | head -1"
	[ "$status" -eq 0 ]
	[ "$output" = "type: MESSAGE" ]
	[ ! -s "$TMP/err" ]
}

@test "a full disk is a clear write error, exit 1" {
	[ -w /dev/full ] || skip "no /dev/full"
	run "$DNSTAP" -r "$TESTDATA/unbound.dnstap" -y -w /dev/full
	[ "$status" -eq 1 ]
	[ "$output" = "dnstap: /dev/full: write error: No space left on device" ]
}
