#!/usr/bin/env bats
# dnstap -u / -l against real senders: unbound, dnsdist, Knot (mod-dnstap), BIND, PowerDNS Recursor,
# fstrm_replay and the Go tool. Each test counts the DNS queries it sends (kdig records them as
# TOOL_QUERY) and checks that every one the server logs reaches our file. Twice per server and transport:
# once with the server talking to us directly, once through tests/tools/ftee.py, which hands the server's
# byte stream to us and to fstrm_capture alike: our file must then be identical to fstrm_capture's.

load helpers
load peers

setup() {
	common_setup
	require python3 kdig knotd fstrm_capture "$GO_DNSTAP"
}

teardown() {
	stop_all
	common_teardown
}

QUERIES=60

# receivers TRANSPORT MODE: our listener (and, with MODE tee, fstrm_capture behind ftee); sets TARGET,
# where the server must send (unix:PATH or tcp:127.0.0.1:PORT).
receivers() {
	local transport=$1 mode=$2
	if [ "$transport" = unix ]; then
		listen_dnstap -u "$TMP/ours.sock" -w "$TMP/ours.dnstap"
		OURS=unix:$TMP/ours.sock
	else
		listen_dnstap -l 127.0.0.1:0 -w "$TMP/ours.dnstap"
		OURS=127.0.0.1:$PORT4
	fi
	if [ "$mode" = direct ]; then
		TARGET=${OURS/#127/tcp:127}
		return
	fi
	if [ "$transport" = unix ]; then
		spawn capture fstrm_capture -t "$CT" -u "$TMP/cap.sock" -w "$TMP/cap.dnstap"
		CAPTURE_PID=$SPAWNED
		wait_until 10 test -S "$TMP/cap.sock"
		spawn tee python3 "$FTEE" "unix:$TMP/tap.sock" "$OURS" "unix:$TMP/cap.sock"
		TEE_PID=$SPAWNED
		wait_until 10 test -S "$TMP/tap.sock"
		TARGET=unix:$TMP/tap.sock
	else
		free_port
		spawn capture fstrm_capture -t "$CT" -a 127.0.0.1 -p "$FREE_PORT" -w "$TMP/cap.dnstap"
		CAPTURE_PID=$SPAWNED
		wait_until 10 tcp_up 127.0.0.1 "$FREE_PORT"
		spawn tee python3 "$FTEE" 127.0.0.1:0 "$OURS" "127.0.0.1:$FREE_PORT"
		TEE_PID=$SPAWNED
		wait_until 10 grep -q 'listening on port' "$TMP/tee.out"
		TARGET=tcp:127.0.0.1:$(sed -n 's/listening on port //p' "$TMP/tee.out")
	fi
}

# Every connection our listener accepted has been closed.
all_closed() {
	local a c
	a=$(logged ': accepted$')
	c=$(logged ': closed')
	((a > 0 && a == c))
}

# finish MODE: the server is stopped; waits until its connections are over, stops the receivers, and
# checks our file (and, with MODE tee, that it is fstrm_capture's byte for byte).
finish() {
	stop "$SERVER_PID"
	wait_until 30 all_closed
	stop_dnstap
	[ "$DT_STATUS" -eq 0 ]
	python3 "$FCHECK" "$TMP/ours.dnstap"
	readable_by_all "$TMP/ours.dnstap"
	if [ "$1" = tee ]; then
		stop "$TEE_PID"
		stop "$CAPTURE_PID"
		grep -q 'closed output file' "$TMP/capture.err"
		cmp "$TMP/ours.dnstap" "$TMP/cap.dnstap"
		# and both decode the same, to the Go tool
		diff <(TZ=UTC "$GO_DNSTAP" -r "$TMP/ours.dnstap" -y 2>/dev/null) <(TZ=UTC "$GO_DNSTAP" -r "$TMP/cap.dnstap" -y 2>/dev/null)
	fi
}

# readable_by_all FILE: libfstrm (fstrm_dump) and dnstap-ldns read every frame of FILE, with its STOP.
readable_by_all() {
	local n
	n=$(frames "$1")
	fstrm_dump "$1" 2>"$TMP/dump.err" >/dev/null
	[ "$(grep -c '^Data frame' "$TMP/dump.err")" -eq "$n" ]
	grep -q '^FSTRM_CONTROL_STOP' "$TMP/dump.err"
	if command -v dnstap-ldns >/dev/null; then
		[ "$(dnstap-ldns -r "$1" -q | wc -l)" -eq "$n" ]
	fi
}

# dns_server_test SERVER TRANSPORT MODE TYPES: TYPES (quiet-format letters, e.g. "CQ" or "CQ AQ") are the
# server's records of client queries: together they must count exactly the queries sent.
dns_server_test() {
	local server=$1 transport=$2 mode=$3 types=$4 sent got t
	start_upstream
	receivers "$transport" "$mode"
	"start_$server" "$TARGET"
	sent=$(send_queries "$DNS_PORT" "$QUERIES")
	[ "$sent" -eq "$QUERIES" ]
	if [ -n "$types" ]; then
		wait_until 30 types_at_least "$TMP/ours.dnstap" "$types" "$sent" || true
	else
		wait_until 30 at_least_frames "$TMP/ours.dnstap" 1
	fi
	finish "$mode"
	[ -n "$types" ] || echo "# $server $transport $mode: $(frames "$TMP/ours.dnstap") frames" >&3
	if [ -n "$types" ]; then
		got=0
		for t in $types; do
			got=$((got + $(count_type "$TMP/ours.dnstap" "$t")))
		done
		echo "# $server $transport $mode: $sent queries sent, $got logged as $types, $(frames "$TMP/ours.dnstap") frames in all" >&3
		[ "$got" -eq "$sent" ]
	fi
}

types_at_least() { # FILE "T1 T2" N
	local t n=0
	for t in $2; do
		n=$((n + $(count_type "$1" "$t")))
	done
	((n >= $3))
}

@test "unbound over a unix socket: every client query reaches us" {
	require unbound
	dns_server_test unbound unix direct CQ
}

@test "unbound over a unix socket, through a tee: our file is fstrm_capture's" {
	require unbound
	dns_server_test unbound unix tee CQ
}

@test "unbound over TCP (dnstap-tls: no): every client query reaches us" {
	require unbound
	dns_server_test unbound tcp direct CQ
}

@test "unbound over TCP, through a tee: our file is fstrm_capture's" {
	require unbound
	dns_server_test unbound tcp tee CQ
}

@test "dnsdist over a unix socket: every client query reaches us" {
	require dnsdist
	dns_server_test dnsdist unix direct CQ
}

@test "dnsdist over a unix socket, through a tee: our file is fstrm_capture's" {
	require dnsdist
	dns_server_test dnsdist unix tee CQ
}

@test "dnsdist over TCP: every client query reaches us" {
	require dnsdist
	dns_server_test dnsdist tcp direct CQ
}

@test "dnsdist over TCP, through a tee: our file is fstrm_capture's" {
	require dnsdist
	dns_server_test dnsdist tcp tee CQ
}

@test "Knot mod-dnstap over a unix socket: every query reaches us" {
	dns_server_test knot unix direct AQ
}

@test "Knot mod-dnstap over a unix socket, through a tee: our file is fstrm_capture's" {
	dns_server_test knot unix tee AQ
}

@test "BIND over a unix socket: every query reaches us" {
	require named
	dns_server_test bind unix direct "CQ AQ"
}

@test "BIND over a unix socket, through a tee: our file is fstrm_capture's" {
	require named
	dns_server_test bind unix tee "CQ AQ"
}

# PowerDNS Recursor 4.8 logs only its own queries to upstreams (RQ/RR), so there is no client count to
# match: the tee comparison is the check.
@test "PowerDNS Recursor over a unix socket: its frames reach us" {
	require pdns_recursor
	dns_server_test pdns_recursor unix direct ""
	[ "$(count_type "$TMP/ours.dnstap" RQ)" -gt 0 ]
}

@test "PowerDNS Recursor over a unix socket, through a tee: our file is fstrm_capture's" {
	require pdns_recursor
	dns_server_test pdns_recursor unix tee ""
	[ "$(count_type "$TMP/ours.dnstap" RQ)" -gt 0 ]
}

@test "PowerDNS Recursor over TCP: its frames reach us" {
	require pdns_recursor
	dns_server_test pdns_recursor tcp direct ""
	[ "$(count_type "$TMP/ours.dnstap" RQ)" -gt 0 ]
}

@test "PowerDNS Recursor over TCP, through a tee: our file is fstrm_capture's" {
	require pdns_recursor
	dns_server_test pdns_recursor tcp tee ""
	[ "$(count_type "$TMP/ours.dnstap" RQ)" -gt 0 ]
}

# The replay tools send a file: what arrives must be that file, and fstrm_capture's copy of it.
replay_test() {
	local tool=$1 transport=$2 mode=$3 target
	receivers "$transport" "$mode"
	case $tool:$TARGET in
	fstrm_replay:unix:*) replay -u "${TARGET#unix:}" -r "$TESTDATA/unbound.dnstap" ;;
	fstrm_replay:tcp:*)
		target=${TARGET#tcp:}
		replay -a "${target%:*}" -p "${target##*:}" -r "$TESTDATA/unbound.dnstap" ;;
	go:unix:*) go_relay -r "$TESTDATA/unbound.dnstap" -U "${TARGET#unix:}" ;;
	go:tcp:*) go_relay -r "$TESTDATA/unbound.dnstap" -T "${TARGET#tcp:}" ;;
	esac
	# the sender has exited: it got our FINISH
	wait_until 30 all_closed
	stop_dnstap
	cmp "$TMP/ours.dnstap" "$TESTDATA/unbound.dnstap"
	if [ "$mode" = tee ]; then
		stop "$TEE_PID"
		stop "$CAPTURE_PID"
		cmp "$TMP/ours.dnstap" "$TMP/cap.dnstap"
	fi
}

@test "fstrm_replay over a unix socket, direct and through a tee" {
	replay_test fstrm_replay unix direct
	rm -f "$TMP"/*.dnstap "$TMP"/*.sock
	replay_test fstrm_replay unix tee
}

@test "fstrm_replay over TCP, direct and through a tee" {
	replay_test fstrm_replay tcp direct
	rm -f "$TMP"/*.dnstap
	replay_test fstrm_replay tcp tee
}

@test "the Go tool's -U (unix), direct and through a tee" {
	replay_test go unix direct
	rm -f "$TMP"/*.dnstap "$TMP"/*.sock
	replay_test go unix tee
}

@test "the Go tool's -T (TCP), direct and through a tee" {
	replay_test go tcp direct
	rm -f "$TMP"/*.dnstap
	replay_test go tcp tee
}
