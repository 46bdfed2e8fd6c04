# Shared set-up for the bats suites: where the programs and data are, a private temporary directory,
# and a way to require a peer program (CI installs every peer, so there nothing is skipped).

: "${TOP_SRCDIR:=$(cd "$BATS_TEST_DIRNAME/.." && pwd)}"
: "${DNSTAP:=$TOP_SRCDIR/src/dnstap}"
: "${TESTDATA:=$TOP_SRCDIR/tests/data}"
: "${MKFIXTURE:=$TOP_SRCDIR/tests/tools/mkfixture}"
GO_DNSTAP=/usr/bin/dnstap

common_setup() {
	TMP=$(mktemp -d "${BATS_TMPDIR:-/tmp}/dnstap-test.XXXXXX")
}

common_teardown() {
	[ -n "${TMP:-}" ] && rm -rf "$TMP"
}

# require PROGRAM...: skip the test when a peer is missing (never in CI, where .ci/run installs them).
require() {
	local p
	for p in "$@"; do
		command -v "$p" >/dev/null 2>&1 || skip "$p is not installed"
	done
}

# The real captures every compatibility test runs over.
captures() {
	ls "$TESTDATA"/*.dnstap
}
