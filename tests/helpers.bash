# Shared set-up for the bats suites: where the programs and data are, a private temporary directory,
# and a way to require a peer program (CI installs every peer: there a missing one fails the test).

: "${TOP_SRCDIR:=$(cd "$BATS_TEST_DIRNAME/.." && pwd)}"
: "${DNSTAP:=$TOP_SRCDIR/src/dnstap}"
: "${TESTDATA:=$TOP_SRCDIR/tests/data}"
: "${MKFIXTURE:=$TOP_SRCDIR/tests/tools/mkfixture}"
: "${GO_DNSTAP:=/usr/bin/dnstap}" # the Go tool (golang-dnstap); override to try another build

common_setup() {
	TMP=$(mktemp -d "${BATS_TMPDIR:-/tmp}/dnstap-test.XXXXXX")
}

common_teardown() {
	[ -n "${TMP:-}" ] && rm -rf "$TMP"
}

# unavailable WHY: skips the test for a missing peer or system file, except in CI (CI=true, or 1),
# where .ci/run installs everything: there the test fails, so that a broken set-up cannot pass as a
# run of skips.
unavailable() {
	case ${CI:-} in
	true | 1)
		echo "$1, and this is CI (CI=$CI): failing instead of skipping" >&2
		return 1
		;;
	esac
	skip "$1"
}

# require PROGRAM...: the test needs these peers (see unavailable).
require() {
	local p
	for p in "$@"; do
		command -v "$p" >/dev/null 2>&1 || unavailable "$p is not installed"
	done
}

# The real captures every compatibility test runs over.
captures() {
	ls "$TESTDATA"/*.dnstap
}
