#!/usr/bin/env bats
# dnstap-proxy between DNS clients and a real authoritative server (knotd) on loopback: its answers
# are the server's, byte for byte (UDP, TCP, truncated then TCP, IPv4 and IPv6, many in flight);
# an upstream that does not answer gives SERVFAIL; the Go dnstap tool, our own listener and
# fstrm_capture receive the taps, one of each kind per query; with the collector down the proxy keeps
# answering and counts what it could not send; a collector killed and restarted mid-run loses exactly
# the messages the proxy reports as dropped.

load helpers
load peers

: "${DNSTAP_PROXY:=$(dirname "$DNSTAP")/dnstap-proxy}"
DNSQ=$TOP_SRCDIR/tests/tools/dnsq.py

setup() {
	common_setup
	require knotd kdig python3 fstrm_capture
}

teardown() {
	stop_all
	common_teardown
}

# ==== helpers ====

# start_auth: knotd serving proxy.test on 127.0.0.1 and ::1 at a free port (AUTH). big.proxy.test has
# three 200-byte TXT strings: over 512 bytes, so a UDP answer without EDNS is truncated.
start_auth() {
	local dir=$TMP/auth pad
	mkdir -p "$dir/zones" "$dir/run" "$dir/db"
	printf -v pad '%*s' 200 ''
	cat >"$dir/zones/proxy.test.zone" <<EOF
\$ORIGIN proxy.test.
\$TTL 300
@      SOA   ns1 hostmaster 2024010101 3600 900 604800 300
@      NS    ns1
@      MX    10 mail
ns1    A     127.0.0.1
mail   A     198.51.100.25
www    A     198.51.100.10
www    AAAA  2001:db8::10
alias  CNAME www
big    TXT   "${pad// /a}"
big    TXT   "${pad// /b}"
big    TXT   "${pad// /c}"
EOF
	free_port
	AUTH=$FREE_PORT
	cat >"$dir/knot.conf" <<EOF
server:
    rundir: "$dir/run"
    listen: [ 127.0.0.1@$AUTH, ::1@$AUTH ]
    background-workers: 1
database:
    storage: "$dir/db"
log:
  - target: stderr
    any: info
template:
  - id: default
    storage: "$dir/zones"
    zonefile-sync: -1
    zonefile-load: whole
    journal-content: none
zone:
  - domain: proxy.test
EOF
	spawn auth knotd -c "$dir/knot.conf"
	serving "$SPAWNED" auth "$AUTH" && wait_until 30 log_has auth '\] loaded, serial'
}

# start_proxy ARG...: the proxy on 127.0.0.1 and [::1] at a free port (PX), forwarding to AUTH
# unless ARG has its own --upstream.
start_proxy() {
	local up=(--upstream "127.0.0.1:$AUTH") a
	for a in "$@"; do [[ $a == --upstream ]] && up=(); done
	free_port
	PX=$FREE_PORT
	spawn proxy "$DNSTAP_PROXY" --listen "127.0.0.1:$PX" --listen "[::1]:$PX" "${up[@]}" "$@"
	PROXY_PID=$SPAWNED
	serving "$PROXY_PID" proxy "$PX"
}

# stop_proxy: SIGTERM, wait (it flushes, sends STOP, waits for FINISH); the exit status in PROXY_STATUS,
# the totals of its last line in SENT and DROPPED.
stop_proxy() {
	stop "$PROXY_PID" TERM
	PROXY_STATUS=$STOPPED_STATUS
	if grep -E 'Sanitizer|runtime error' "$TMP/proxy.err" >&3; then # --enable-sanitizers builds
		return 1
	fi
	local line
	line=$(grep 'dnstap: closed: ' "$TMP/proxy.err" | tail -n 1)
	SENT=$(sed -n 's/.*closed: \([0-9]*\) messages sent, \([0-9]*\) dropped$/\1/p' <<<"$line")
	DROPPED=$(sed -n 's/.*closed: \([0-9]*\) messages sent, \([0-9]*\) dropped$/\2/p' <<<"$line")
}

# dnsq ARG...: tests/tools/dnsq.py (one answer as hex, or a burst)
dnsq() {
	python3 "$DNSQ" "$@"
}

# burst_taps ADDR N QTYPE: N queries for www.proxy.test at once through the proxy, every one answered
# with its own ID; TAPS is then how many taps they made. That is 4 per query, less one FORWARDER_RESPONSE
# for each query the upstream never answered: a burst can overflow knotd's socket buffer on a busy
# machine (seen in CI: up to half of 500 here with both cores busy), and the proxy then answers SERVFAIL
# after its timeout. At least one must have come from the upstream.
burst_taps() {
	run dnsq "$1" "$PX" burst "$2" www.proxy.test "$3" --servfail
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "answered $2 of $2, ids ok" ]
	local servfail=${lines[1]#servfail }
	((servfail < $2))
	TAPS=$((4 * $2 - servfail))
}

# capture_has PID FILE N: after a flush (SIGHUP), FILE holds at least N frames.
capture_has() {
	kill -HUP "$1" && (($(frames "$2") >= $3))
}

# go_collector: the Go dnstap tool on $TMP/go.sock writing $TMP/go.dnstap; GO_PID.
go_collector() {
	spawn go "$GO_DNSTAP" -u "$TMP/go.sock" -w "$TMP/go.dnstap"
	GO_PID=$SPAWNED
	wait_until 10 alive_and "$GO_PID" go test -S "$TMP/go.sock"
}

# go_finish OUT: the Go tool loses its buffer on SIGINT, so: rename the file, SIGHUP (it finishes the
# renamed file and starts a new one), then SIGINT.
go_finish() {
	mv "$TMP/go.dnstap" "$1"
	kill -HUP "$GO_PID"
	wait_until 10 test -e "$TMP/go.dnstap"
	stop "$GO_PID" INT
}

# Python check of the taps' fields in the Go tool's JSON (one object per line on stdin).
check_fields() {
	python3 -c '
import json, sys
auth, identity, version, full = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4] == "full"
n = 0
for line in sys.stdin:
    d = json.loads(line)
    m = d["message"]
    t = m["type"]
    n += 1
    def need(cond, what):
        if not cond:
            sys.exit("%s: %s in %s" % (t, what, line.strip()))
    need(d.get("identity") == identity and d.get("version") == version, "identity/version")
    need(m["socket_family"] in ("INET", "INET6") and m["socket_protocol"] in ("UDP", "TCP"), "family/protocol")
    need("query_time" in m, "query_time")
    need("query_address" in m and "query_port" in m, "query address/port")
    if t in ("CLIENT_QUERY", "CLIENT_RESPONSE"):
        need("response_address" not in m, "a response address (CoreDNS sets none)")
    if t in ("FORWARDER_QUERY", "FORWARDER_RESPONSE"):
        need(m.get("response_address") == "127.0.0.1" and str(m.get("response_port")) == auth, "the upstream")
    if t.endswith("RESPONSE"):
        need("response_time" in m and m["response_time"] >= m["query_time"], "response_time")
        need(("response_message" in m) == full, "response_message iff --full")
        need("query_message" not in m, "no query_message")
    else:
        need("response_time" not in m, "no response_time")
        need(("query_message" in m) == full, "query_message iff --full")
print(n)
' "$@"
}

# ==== the command line ====

@test "dnstap-proxy: --help, --version, and usage errors exit 2 with one line" {
	run "$DNSTAP_PROXY" --help
	[ "$status" -eq 0 ]
	[[ $output == *"--listen ADDR:PORT"*"--tap SPEC"*"--full"* ]]
	run "$DNSTAP_PROXY" --version
	[ "$status" -eq 0 ]
	[[ $output == "dnstap-proxy (dnstap-toolkit) "* ]]
	run "$DNSTAP_PROXY" -V
	[ "$status" -eq 0 ]

	run "$DNSTAP_PROXY"
	[ "$status" -eq 2 ]
	[ "$output" = "dnstap-proxy: --listen: at least one address is needed (see dnstap-proxy --help)" ]
	run "$DNSTAP_PROXY" --listen 127.0.0.1:5300
	[ "$status" -eq 2 ]
	[ "$output" = "dnstap-proxy: --upstream: an address is needed (see dnstap-proxy --help)" ]
	run "$DNSTAP_PROXY" --listen 127.0.0.1:x --upstream 127.0.0.1:53
	[ "$status" -eq 2 ]
	[ "$output" = "dnstap-proxy: --listen 127.0.0.1:x: the port must be a number from 1 to 65535 (see dnstap-proxy --help)" ]
	run "$DNSTAP_PROXY" --listen ::1:5300 --upstream 127.0.0.1:53
	[ "$status" -eq 2 ]
	[ "$output" = "dnstap-proxy: --listen ::1:5300: expected ADDR:PORT (IPv6 in brackets) (see dnstap-proxy --help)" ]
	run "$DNSTAP_PROXY" --listen localhost:5300 --upstream 127.0.0.1:53
	[ "$status" -eq 2 ]
	[ "$output" = "dnstap-proxy: --listen localhost:5300: not an IP address (see dnstap-proxy --help)" ]
	run "$DNSTAP_PROXY" --listen 127.0.0.1:5300 --upstream 127.0.0.1:53 --tap udp://127.0.0.1:6000
	[ "$status" -eq 2 ]
	[ "$output" = "dnstap-proxy: --tap udp://127.0.0.1:6000: not a collector address (/path, unix:///path, tcp://HOST:PORT or tls://HOST:PORT) (see dnstap-proxy --help)" ]
	run "$DNSTAP_PROXY" --listen 127.0.0.1:5300 --upstream 127.0.0.1:53 --queue 0
	[ "$status" -eq 2 ]
	[ "$output" = "dnstap-proxy: --queue 0: not a number from 1 to 100000000 (see dnstap-proxy --help)" ]
	run "$DNSTAP_PROXY" --bogus
	[ "$status" -eq 2 ]
	[ "$output" = "dnstap-proxy: --bogus: unknown option (see dnstap-proxy --help)" ]
	run "$DNSTAP_PROXY" --listen 127.0.0.1:5300 --upstream 127.0.0.1:53 stray
	[ "$status" -eq 2 ]
	[ "$output" = "dnstap-proxy: stray: unexpected argument (see dnstap-proxy --help)" ]
}

@test "dnstap-proxy: an address in use is one line and exit 1" {
	start_auth
	run "$DNSTAP_PROXY" --listen "127.0.0.1:$AUTH" --upstream "127.0.0.1:$AUTH"
	[ "$status" -eq 1 ]
	[ "$output" = "dnstap-proxy: 127.0.0.1:$AUTH: bind (UDP): Address already in use" ]
	run "$DNSTAP_PROXY" --listen "[::1]:$AUTH" --upstream "127.0.0.1:$AUTH"
	[ "$status" -eq 1 ]
	[ "$output" = "dnstap-proxy: [::1]:$AUTH: bind (UDP): Address already in use" ]
}

# ==== forwarding ====

@test "dnstap-proxy: UDP and TCP answers are the server's, byte for byte, over IPv4 and IPv6" {
	start_auth
	start_proxy
	local addr proto q direct via n=0
	for addr in 127.0.0.1 ::1; do
		for proto in udp tcp; do
			while read -r q; do
				# shellcheck disable=SC2086 # q is "NAME TYPE [OPTIONS]"
				direct=$(dnsq "$addr" "$AUTH" "$proto" $q)
				# shellcheck disable=SC2086
				via=$(dnsq "$addr" "$PX" "$proto" $q)
				[ -n "$direct" ]
				if [ "$direct" != "$via" ]; then
					echo "# $proto $addr $q: server $direct, proxy $via" >&3
					false
				fi
				n=$((n + 1))
			done <<'EOF'
www.proxy.test A
www.proxy.test AAAA
proxy.test MX
proxy.test SOA --noedns
alias.proxy.test A
nx.proxy.test A
outside.example A
big.proxy.test TXT --bufsize 4096
EOF
		done
	done
	[ "$n" -eq 32 ]
}

@test "dnstap-proxy: a truncated UDP answer stays truncated; the client's TCP retry goes through the proxy" {
	start_auth
	start_proxy
	local direct via
	direct=$(dnsq 127.0.0.1 "$AUTH" udp big.proxy.test TXT --noedns)
	via=$(dnsq 127.0.0.1 "$PX" udp big.proxy.test TXT --noedns)
	[ "$direct" = "$via" ]
	(((0x${via:4:2} & 0x02) != 0)) # TC

	# kdig without +ignore retries over TCP by itself; the answer is the server's TCP answer
	run kdig @127.0.0.1 -p "$PX" +noedns +timeout=3 +retry=0 big.proxy.test TXT
	[ "$status" -eq 0 ]
	[[ $output == *"truncated reply from 127.0.0.1@$PX(UDP), retrying over TCP"* ]]
	[[ $output == *"(TCP)"* ]]
	local answer
	answer=$(kdig @127.0.0.1 -p "$PX" +noedns +noall +answer big.proxy.test TXT 2>/dev/null | grep -v '^$')
	[ "$answer" = "$(kdig @127.0.0.1 -p "$AUTH" +tcp +noedns +noall +answer big.proxy.test TXT | grep -v '^$')" ]
	[ "$(grep -c TXT <<<"$answer")" -eq 3 ]
}

@test "dnstap-proxy: 500 queries in flight at once from one socket all come back with their own IDs" {
	start_auth
	start_proxy
	run dnsq 127.0.0.1 "$PX" burst 500 www.proxy.test A
	[ "$status" -eq 0 ]
	[ "$output" = "answered 500 of 500, ids ok" ]
	run dnsq ::1 "$PX" burst 500 www.proxy.test AAAA
	[ "$status" -eq 0 ]
	[ "$output" = "answered 500 of 500, ids ok" ]
}

@test "dnstap-proxy: an upstream that does not answer gives SERVFAIL, over UDP and TCP" {
	free_port
	local hole=$FREE_PORT
	# a black hole: takes UDP queries and TCP connections, never answers
	spawn hole python3 -c '
import socket, sys, time
p = int(sys.argv[1])
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("127.0.0.1", p))
t = socket.socket(socket.AF_INET, socket.SOCK_STREAM); t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
t.bind(("127.0.0.1", p)); t.listen(16)
held = []
while True:
    c, _ = t.accept(); held.append(c)' "$hole"
	wait_until 10 tcp_up 127.0.0.1 "$hole"
	AUTH=$hole
	start_proxy --timeout 300
	run kdig @127.0.0.1 -p "$PX" +timeout=3 +retry=0 www.proxy.test A
	[[ $output == *"status: SERVFAIL"* ]]
	[[ $output == *"www.proxy.test."*"IN"*"A"* ]] # the question is echoed
	run kdig @127.0.0.1 -p "$PX" +tcp +timeout=3 +retry=0 www.proxy.test A
	[[ $output == *"status: SERVFAIL"* ]]
}

@test "dnstap-proxy: an upstream that refuses TCP gives SERVFAIL at once" {
	free_port
	AUTH=$FREE_PORT # nothing listens there
	start_proxy
	run kdig @127.0.0.1 -p "$PX" +tcp +timeout=3 +retry=0 www.proxy.test A
	[[ $output == *"status: SERVFAIL"* ]]
}

# ==== taps ====

@test "dnstap-proxy: the Go dnstap tool gets N CLIENT_QUERY, N CLIENT_RESPONSE and the forwarder pair, fields as CoreDNS sets them (--full)" {
	require "$GO_DNSTAP"
	start_auth
	go_collector
	start_proxy --tap "unix://$TMP/go.sock" --full --identity proxy-test --version v-test
	local i n=24
	for ((i = 0; i < n / 4; i++)); do
		[ "$(kdig @127.0.0.1 -p "$PX" +short www.proxy.test A)" = 198.51.100.10 ]
		[ "$(kdig @::1 -p "$PX" +short www.proxy.test AAAA)" = 2001:db8::10 ]
		[ "$(kdig @127.0.0.1 -p "$PX" +tcp +short proxy.test MX)" = "10 mail.proxy.test." ]
		[ "$(kdig @::1 -p "$PX" +tcp +short alias.proxy.test A | tail -n 1)" = 198.51.100.10 ]
	done
	stop_proxy
	[ "$PROXY_STATUS" -eq 0 ]
	[ "$SENT" -eq $((4 * n)) ]
	[ "$DROPPED" -eq 0 ]
	go_finish "$TMP/taps.dnstap"

	[ "$(count_type "$TMP/taps.dnstap" CQ)" -eq "$n" ]
	[ "$(count_type "$TMP/taps.dnstap" CR)" -eq "$n" ]
	[ "$(count_type "$TMP/taps.dnstap" FQ)" -eq "$n" ]
	[ "$(count_type "$TMP/taps.dnstap" FR)" -eq "$n" ]
	# CQ precedes FQ, FR, CR of the same query (UDP queries are answered one at a time here)
	TZ=UTC "$GO_DNSTAP" -r "$TMP/taps.dnstap" -q | awk '{ print $2 }' | head -n 4 | paste -sd' ' |
		grep -qx 'CQ FQ FR CR'
	# both families and both protocols, as asked
	TZ=UTC "$GO_DNSTAP" -r "$TMP/taps.dnstap" -q | awk '$2 == "CQ" { print $3, $4 }' | sort | uniq -c >"$TMP/mix"
	grep -q "$((n / 4)) ::1 TCP" "$TMP/mix"
	grep -q "$((n / 4)) ::1 UDP" "$TMP/mix"
	grep -q "$((n / 4)) 127.0.0.1 TCP" "$TMP/mix"
	grep -q "$((n / 4)) 127.0.0.1 UDP" "$TMP/mix"
	run check_fields "$AUTH" proxy-test v-test full < <("$GO_DNSTAP" -r "$TMP/taps.dnstap" -j 2>/dev/null)
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$output" -eq $((4 * n)) ]
}

@test "dnstap-proxy: without --full no wire message is sent; identity defaults to the host name" {
	require "$GO_DNSTAP"
	start_auth
	go_collector
	start_proxy --tap "$TMP/go.sock" # the bare-path form
	[ "$(kdig @127.0.0.1 -p "$PX" +short www.proxy.test A)" = 198.51.100.10 ]
	stop_proxy
	[ "$SENT" -eq 4 ]
	go_finish "$TMP/taps.dnstap"
	run check_fields "$AUTH" "$(hostname)" "dnstap-proxy $("$DNSTAP_PROXY" --version | awk '{ print $3 }')" short \
		< <("$GO_DNSTAP" -r "$TMP/taps.dnstap" -j 2>/dev/null)
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$output" -eq 4 ]
}

@test "dnstap-proxy: our own listener (dnstap -u) gets N CLIENT_QUERY and N CLIENT_RESPONSE" {
	start_auth
	listen_dnstap -u "$TMP/ours.sock" -w "$TMP/ours.dnstap"
	start_proxy --tap "unix://$TMP/ours.sock"
	burst_taps 127.0.0.1 200 A
	stop_proxy
	[ "$SENT" -eq "$TAPS" ]
	[ "$DROPPED" -eq 0 ]
	stop_dnstap
	[ "$(count_type "$TMP/ours.dnstap" CQ)" -eq 200 ]
	[ "$(count_type "$TMP/ours.dnstap" CR)" -eq 200 ]
	[ "$(frames "$TMP/ours.dnstap")" -eq "$TAPS" ]
}

@test "dnstap-proxy: taps over TCP to fstrm_capture, tcp://127.0.0.1:PORT and tcp://[::1]:PORT" {
	start_auth
	local addr port spec
	for addr in 127.0.0.1 ::1; do
		free_port
		port=$FREE_PORT
		start_capture "cap$port" -a "$addr" -p "$port"
		spec="tcp://$addr:$port"
		if [[ $addr == *:* ]]; then spec="tcp://[$addr]:$port"; fi
		start_proxy --tap "$spec"
		burst_taps 127.0.0.1 100 A
		stop_proxy
		[ "$SENT" -eq "$TAPS" ]
		[ "$DROPPED" -eq 0 ]
		grep -qF "dnstap: connected to $spec" "$TMP/proxy.err"
		stop "$CAP_PID"
		[ "$(frames "$TMP/cap$port.dnstap")" -eq "$TAPS" ]
	done
}

@test "dnstap-proxy: with the collector down it answers everything and counts every tap it could not send" {
	start_auth
	start_proxy --tap "unix://$TMP/nobody.sock" --queue 100
	burst_taps 127.0.0.1 500 A
	wait_until 10 log_has proxy 'dnstap: [0-9]+ messages dropped$'
	grep -q "dnstap: cannot connect to unix://$TMP/nobody.sock: No such file or directory; retrying" "$TMP/proxy.err"
	stop_proxy # gives up on the 100 queued after its 5 s bound
	[ "$PROXY_STATUS" -eq 0 ]
	[ "$SENT" -eq 0 ]
	[ "$DROPPED" -eq "$TAPS" ]
	# the periodic lines and the last one add up
	[ "$(sed -n 's/.*dnstap: \([0-9]*\) messages dropped$/\1/p' "$TMP/proxy.err" | awk '{ n += $1 } END { print n }')" -eq "$TAPS" ]
}

# one_by_one N: N queries through the proxy, one at a time (at most 4 taps in the queue at once)
one_by_one() {
	local i
	for ((i = 0; i < $1; i++)); do
		[ -n "$(dnsq 127.0.0.1 "$PX" udp www.proxy.test A --id "$i")" ]
	done
}

# The collector is stopped between two runs of queries, queries go on while it is away (the queue
# keeps 20 taps, the rest is dropped), it comes back at the same address, the proxy reconnects and
# delivers. What the two collector files hold plus what the proxy reports as dropped is every tap.
collector_restart() {
	start_auth
	local listen spec
	if [[ $1 == unix ]]; then
		listen=(-u "$TMP/cap.sock")
		spec=unix://$TMP/cap.sock
	else
		free_port
		listen=(-a 127.0.0.1 -p "$FREE_PORT")
		spec=tcp://127.0.0.1:$FREE_PORT
	fi
	start_capture cap1 "${listen[@]}"
	local cap1=$CAP_PID
	start_proxy --tap "$spec" --queue 20

	one_by_one 10
	wait_until 10 capture_has "$cap1" "$TMP/cap1.dnstap" 40
	stop "$cap1" TERM
	wait_until 10 log_has proxy "dnstap: lost connection to $spec"

	run dnsq 127.0.0.1 "$PX" burst 30 www.proxy.test A # collector away: still answered
	[ "$output" = "answered 30 of 30, ids ok" ]

	start_capture cap2 "${listen[@]}"
	wait_until 10 log_has proxy "dnstap: connected to $spec" 2
	wait_until 10 capture_has "$CAP_PID" "$TMP/cap2.dnstap" 20 # the queued backlog
	one_by_one 10

	stop_proxy
	[ "$PROXY_STATUS" -eq 0 ]
	stop "$CAP_PID" TERM
	local got1 got2
	got1=$(frames "$TMP/cap1.dnstap")
	got2=$(frames "$TMP/cap2.dnstap")
	echo "# cap1 $got1, cap2 $got2, proxy: sent $SENT, dropped $DROPPED" >&3
	[ "$got1" -eq 40 ]
	[ $((got1 + got2)) -eq "$SENT" ]
	[ $((got1 + got2 + DROPPED)) -eq 200 ] # 50 queries, 4 taps each
	[ "$DROPPED" -eq 100 ]                 # 120 taps while away, 20 kept
}

@test "dnstap-proxy: collector restarted mid-run (unix): reconnects, dropped = missing" {
	collector_restart unix
}

@test "dnstap-proxy: collector restarted mid-run (tcp): reconnects, dropped = missing" {
	collector_restart tcp
}
