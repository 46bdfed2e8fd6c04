#!/usr/bin/env bats
# Statistics: --stats reports, the --metrics HTTP server (Prometheus text, JSON, the live page), counters
# checked against independent counts (the Go tool's output through awk, or inputs with known counts from
# tests/tools/gen-stats.py), fixed memory, drops by reason, and hostile HTTP clients. Loopback only.

load helpers
load peers

setup() {
	common_setup
	require python3 jq curl
	GEN_STATS=$TOOLS/gen-stats.py
}

teardown() {
	stop_all
	common_teardown
}

# ==== helpers ====

# ours FILE [FLAGS...]: our counters for FILE as sorted "KIND LABEL COUNT" lines, from --stats-format json.
ours() {
	local f=$1
	shift
	"$DNSTAP" -r "$f" --stats --stats-format json "$@" | json_counters
}

# json_counters: the same lines from a /stats.json or --stats-format json document on standard input.
json_counters() {
	jq -r '.metrics as $m
		| ("messages - \($m.dnstap_messages_total.samples[0].value)"),
		  ("bytes - \($m.dnstap_bytes_total.samples[0].value)"),
		  ($m.dnstap_message_types_total.samples[] | "type \(.labels.type) \(.value)"),
		  ($m.dnstap_protocols_total.samples[] | "protocol \(.labels.protocol) \(.value)"),
		  ($m.dnstap_families_total.samples[] | "family \(.labels.family) \(.value)"),
		  ($m.dnstap_qtypes_total.samples[] | "qtype \(.labels.qtype) \(.value)"),
		  ($m.dnstap_rcodes_total.samples[] | "rcode \(.labels.rcode) \(.value)")' | LC_ALL=C sort
}

# theirs FILE: the same counts made independently: the Go tool's -q lines (type, address, protocol,
# question) and -y documents (the status of each response message) through awk; bytes from the frames.
theirs() {
	local f=$1
	{
		"$GO_DNSTAP" -r "$f" -q 2>/dev/null | awk '
			BEGIN { split("AQ AUTH_QUERY AR AUTH_RESPONSE RQ RESOLVER_QUERY RR RESOLVER_RESPONSE CQ CLIENT_QUERY CR CLIENT_RESPONSE FQ FORWARDER_QUERY FR FORWARDER_RESPONSE SQ STUB_QUERY SR STUB_RESPONSE TQ TOOL_QUERY TR TOOL_RESPONSE UQ UPDATE_QUERY UR UPDATE_RESPONSE", t, " ")
				for (i = 1; i < 28; i += 2) name[t[i]] = t[i + 1] }
			{ n++; type[name[$2]]++; proto[$4]++; fam[index($3, ":") ? "INET6" : "INET"]++
			  if (NF >= 8 && $5 ~ /b$/ && $6 ~ /^"/) qtype[$NF]++ }
			END { print "messages -", n
				for (k in type) print "type", k, type[k]
				for (k in proto) print "protocol", k, proto[k]
				for (k in fam) print "family", k, fam[k]
				for (k in qtype) print "qtype", k, qtype[k] }'
		"$GO_DNSTAP" -r "$f" -y 2>/dev/null | awk '
			/^  type: [A-Z]*_RESPONSE$/ { resp = 1 }
			/^  type: [A-Z]*_QUERY$/ { resp = 0 }
			/^  response_message: \|$/ { want = resp; next }
			want && /status: / { s = $0; sub(/.*status: /, "", s); sub(/,.*/, "", s); rc[s]++; want = 0 }
			END { for (k in rc) print "rcode", k, rc[k] }'
		echo "bytes - $(frame_bytes "$f")"
	} | LC_ALL=C sort
}

# frame_bytes FILE: the payload bytes of every data frame.
frame_bytes() {
	python3 - "$1" <<'EOF'
import struct, sys
d = open(sys.argv[1], "rb").read()
pos, total = 0, 0
while pos + 4 <= len(d):
    (n,) = struct.unpack_from(">I", d, pos)
    if n == 0:
        (c,) = struct.unpack_from(">I", d, pos + 4)
        pos += 8 + c
        continue
    total += n
    pos += 4 + n
print(total)
EOF
}

# metrics_port: the port our listener's --metrics server reports.
metrics_port() {
	wait_until 10 grep -q '^dnstap: metrics on http://' "$TMP/dnstap.err"
	MPORT=$(sed -n 's|^dnstap: metrics on http://.*:\([0-9]*\)/$|\1|p' "$TMP/dnstap.err" | head -n 1)
	[ -n "$MPORT" ]
}

# metric NAME [LABELS]: one sample's value from /metrics ("" if absent).
metric() {
	local n=$1
	[ -n "${2:-}" ] && n="$1{$2}"
	curl -s "http://127.0.0.1:$MPORT/metrics" | N=$n awk '$1 == ENVIRON["N"] { print $2 }'
}

metric_is() { # NAME LABELS VALUE
	[ "$(metric "$1" "$2")" = "$3" ]
}

# ==== exact counters ====

@test "--stats: every counter equals the Go tool's, for each capture in tests/data" {
	require "$GO_DNSTAP"
	local f
	for f in $(captures); do
		ours "$f" >"$TMP/ours"
		theirs "$f" >"$TMP/theirs"
		diff -u "$TMP/theirs" "$TMP/ours"
	done
}

@test "--stats: a generated file of 100,000 frames: every counter equals the Go tool's" {
	require "$GO_DNSTAP"
	python3 "$GEN_FRAMES" 100000 "$TMP/in.dnstap"
	ours "$TMP/in.dnstap" >"$TMP/ours"
	theirs "$TMP/in.dnstap" >"$TMP/theirs"
	diff -u "$TMP/theirs" "$TMP/ours"
	grep -qx "messages - 100000" "$TMP/ours"
}

@test "--stats alone prints the report and no message; with -q the report goes to standard error" {
	run "$DNSTAP" -r "$TESTDATA/unbound.dnstap" --stats
	[ "$status" -eq 0 ]
	[[ "$output" == *"CLIENT_QUERY                         52"* ]]
	[[ "$output" != *"CQ 127.0.0.1"* ]]
	"$DNSTAP" -r "$TESTDATA/unbound.dnstap" --stats -q >"$TMP/out" 2>"$TMP/err"
	[ "$(wc -l <"$TMP/out")" -eq 204 ]
	grep -q "^messages  *204$" "$TMP/err"
}

@test "--stats: top names, NXDOMAIN and SERVFAIL names and clients of the captures are the Go tool's counts" {
	require "$GO_DNSTAP"
	local f
	for f in $(captures); do
		# every name and client of these small captures fits the sketch: the counts are exact
		"$DNSTAP" -r "$f" --stats --stats-format json --top 1000 >"$TMP/j"
		jq -r '.metrics.dnstap_top_qnames.samples[] | "\(.labels.qname) \(.value)"' "$TMP/j" | LC_ALL=C sort >"$TMP/ours"
		"$GO_DNSTAP" -r "$f" -q 2>/dev/null | awk '$2 ~ /Q$/ && NF >= 8 && $5 ~ /b$/ && $6 ~ /^"/ {
			q = $6; for (i = 7; i <= NF - 2; i++) q = q " " $i
			gsub(/"/, "", q); n[tolower(q)]++ } END { for (k in n) print k, n[k] }' | LC_ALL=C sort >"$TMP/theirs"
		diff -u "$TMP/theirs" "$TMP/ours"
		jq -r '.metrics.dnstap_top_clients.samples[] | "\(.labels.client) \(.value)"' "$TMP/j" | LC_ALL=C sort >"$TMP/ours"
		"$GO_DNSTAP" -r "$f" -y 2>/dev/null | awk '/^  type: [A-Z]*_QUERY$/ { q = 1 } /^  type: [A-Z]*_RESPONSE$/ { q = 0 }
			q && /^  query_address: / { n[$2]++ } END { for (k in n) print k, n[k] }' | LC_ALL=C sort >"$TMP/theirs"
		diff -u "$TMP/theirs" "$TMP/ours"
		for rc in NXDOMAIN SERVFAIL; do
			jq -r --arg f "dnstap_top_$(tr '[:upper:]' '[:lower:]' <<<"$rc")_qnames" \
				'.metrics[$f].samples[] | "\(.labels.qname) \(.value)"' "$TMP/j" | LC_ALL=C sort >"$TMP/ours"
			"$GO_DNSTAP" -r "$f" -y 2>/dev/null | awk -v rc="$rc" '
				/^  type: [A-Z]*_RESPONSE$/ { resp = 1 } /^  type: [A-Z]*_QUERY$/ { resp = 0 }
				/^  response_message: \|$/ { want = resp; hit = 0; next }
				want && index($0, "status: " rc ",") { hit = 1 }
				want && hit && /^    ;.*\t[A-Z0-9]*\t/ { s = substr($0, 6); sub(/\t.*/, "", s); n[tolower(s)]++; want = 0 }
				END { for (k in n) print k, n[k] }' | LC_ALL=C sort >"$TMP/theirs"
			diff -u "$TMP/theirs" "$TMP/ours"
		done
	done
}

@test "--stats: heavy hitters of a skewed input are named, with their exact counts, among 100,000 queries" {
	python3 "$GEN_STATS" skewed 100000 "$TMP/in.dnstap"
	# --top 10: sketches of 80 entries, which keep every name above 1/80 of the queries (space-saving's
	# guarantee); the hot ones are 10% to 2%, among 70,000 names seen once
	"$DNSTAP" -r "$TMP/in.dnstap" --stats --stats-format json --top 10 >"$TMP/j"
	run jq -r '.metrics.dnstap_top_qnames.samples[:5][] | "\(.labels.qname) \(.value)"' "$TMP/j"
	[ "$output" = "$(printf '%s\n' 'hot1.example. 10000' 'hot2.example. 8000' 'hot3.example. 6000' \
		'hot4.example. 4000' 'hot5.example. 2000')" ]
	run jq -r '.metrics.dnstap_top_clients.samples[:5][] | "\(.labels.client) \(.value)"' "$TMP/j"
	[ "$output" = "$(printf '%s\n' '192.0.2.1 10000' '192.0.2.2 8000' '192.0.2.3 6000' '192.0.2.4 4000' \
		'192.0.2.5 2000')" ]
}

@test "--stats: latency of known query/response pairs fills the histogram buckets exactly" {
	python3 "$GEN_STATS" pairs 20000 "$TMP/in.dnstap"
	"$DNSTAP" -r "$TMP/in.dnstap" --stats --stats-format json >"$TMP/j"
	# 10,000 pairs answered 1, 2, 3 and 4 ms later, 2,500 of each
	run jq -r '.metrics.dnstap_latency_seconds.samples[] | "\(.name) \(.labels.le // "-") \(.value)"' "$TMP/j"
	echo "$output"
	[[ "$output" == *"dnstap_latency_seconds_bucket 0.0005 0"* ]]
	[[ "$output" == *"dnstap_latency_seconds_bucket 0.001 2500"* ]]
	[[ "$output" == *"dnstap_latency_seconds_bucket 0.0025 5000"* ]]
	[[ "$output" == *"dnstap_latency_seconds_bucket 0.005 10000"* ]]
	[[ "$output" == *"dnstap_latency_seconds_count - 10000"* ]]
	[[ "$output" == *"dnstap_latency_seconds_sum - 25"* ]]
	[ "$(jq '.metrics.dnstap_latency_unmatched_total.samples[0].value' "$TMP/j")" -eq 0 ]
	# every tenth NXDOMAIN over three names, the pairs i % 10 == 1 SERVFAIL for sf1.
	run jq -r '.metrics.dnstap_top_nxdomain_qnames.samples[] | "\(.labels.qname) \(.value)"' "$TMP/j"
	[ "$output" = "$(printf '%s\n' 'nx0.example. 334' 'nx1.example. 333' 'nx2.example. 333')" ]
	run jq -r '.metrics.dnstap_top_servfail_qnames.samples[] | "\(.labels.qname) \(.value)"' "$TMP/j"
	[ "$output" = "sf1.example. 1000" ]
	[ "$(jq -r '.metrics.dnstap_rcodes_total.samples[] | select(.labels.rcode == "NXDOMAIN") | .value' "$TMP/j")" -eq 1000 ]
}

@test "--latency-slots: a table too small for the queries in flight counts the overflow, and memory stays put" {
	python3 "$GEN_STATS" distinct 20000 "$TMP/in.dnstap"
	"$DNSTAP" -r "$TMP/in.dnstap" --stats --stats-format json --latency-slots 64 >"$TMP/j"
	# 20,000 unanswered queries in 64 slots (queries are 1 us apart: none times out)
	[ "$(jq '.metrics.dnstap_latency_pending.samples[0].value' "$TMP/j")" -le 64 ]
	[ "$(jq '.metrics.dnstap_latency_overflow_total.samples[0].value + .metrics.dnstap_latency_pending.samples[0].value' "$TMP/j")" -eq 20000 ]
}

@test "fixed memory: 1,000,000 distinct names leave the RSS within 10% of 100,000 distinct ones" {
	require /usr/bin/time
	python3 "$GEN_STATS" distinct 100000 "$TMP/small.dnstap"
	python3 "$GEN_STATS" distinct 1000000 "$TMP/big.dnstap"
	/usr/bin/time -f %M -o "$TMP/small.rss" "$DNSTAP" -r "$TMP/small.dnstap" --stats >/dev/null
	/usr/bin/time -f %M -o "$TMP/big.rss" "$DNSTAP" -r "$TMP/big.dnstap" --stats >"$TMP/report"
	local small big
	small=$(tail -n 1 "$TMP/small.rss")
	big=$(tail -n 1 "$TMP/big.rss")
	echo "# max RSS: $small KiB for 100,000 names, $big KiB for 1,000,000" >&3
	grep -q "^messages  *1000000$" "$TMP/report"
	((big * 10 <= small * 11))
}

# ==== the metrics server ====

@test "--metrics: promtool accepts the exposition, and its counters are the listener's" {
	require promtool fstrm_replay
	listen_dnstap -u "$TMP/s.sock" --metrics 127.0.0.1:0 -w "$TMP/out.dnstap"
	metrics_port
	replay -u "$TMP/s.sock" -r "$TESTDATA/unbound.dnstap"
	replay -u "$TMP/s.sock" -r "$TESTDATA/kdig.dnstap"
	wait_until 10 metric_is dnstap_messages_total "" 308
	curl -sf "http://127.0.0.1:$MPORT/metrics" >"$TMP/metrics"
	run promtool check metrics <"$TMP/metrics"
	echo "$output"
	[ "$status" -eq 0 ]
	grep -qx 'dnstap_connections_total 2' "$TMP/metrics"
	grep -qxF "dnstap_top_peers{peer=\"$TMP/s.sock: connection 1\"} 204" "$TMP/metrics"
	grep -qxF "dnstap_top_peers{peer=\"$TMP/s.sock: connection 2\"} 104" "$TMP/metrics"
	grep -qx 'dnstap_frames_received_total 308' "$TMP/metrics"
	grep -qx "dnstap_input_messages_total{input=\"$TMP/s.sock\"} 308" "$TMP/metrics"
	grep -qx 'dnstap_output_written_total{output="'"$TMP/out.dnstap"'"} 308' "$TMP/metrics"
	grep -qx 'dnstap_dropped_total{reason="queue_full"} 0' "$TMP/metrics"
	grep -q '^# TYPE dnstap_latency_seconds histogram$' "$TMP/metrics"
	grep -q '^dnstap_latency_seconds_bucket{le="+Inf"} ' "$TMP/metrics"
	# /stats.json says the same
	curl -sf "http://127.0.0.1:$MPORT/stats.json" | json_counters >"$TMP/json"
	ours "$TMP/out.dnstap" | grep -v '^bytes\|^messages' >"$TMP/file"
	grep -v '^bytes\|^messages' "$TMP/json" | diff -u "$TMP/file" -
	stop_dnstap
	[ "$DT_STATUS" -eq 0 ]
}

@test "--metrics: label values are escaped as the exposition format says (promtool agrees)" {
	require promtool fstrm_replay
	# a socket path with a quote, a backslash and a newline names the input
	local odd=$TMP/'a"b\c'
	mkdir -p "$odd"
	listen_dnstap -u "$odd/s.sock" --metrics 127.0.0.1:0 -w /dev/null
	metrics_port
	replay -u "$odd/s.sock" -r "$TESTDATA/kdig.dnstap"
	wait_until 10 metric_is dnstap_messages_total "" 104
	curl -sf "http://127.0.0.1:$MPORT/metrics" >"$TMP/metrics"
	promtool check metrics <"$TMP/metrics"
	grep -qF 'dnstap_input_messages_total{input="'"$TMP"'/a\"b\\c/s.sock"} 104' "$TMP/metrics"
	curl -sf "http://127.0.0.1:$MPORT/stats.json" | jq -e --arg p "$odd/s.sock" \
		'.metrics.dnstap_input_messages_total.samples[0].labels.input == $p'
}

@test "--metrics: methods other than GET and HEAD get 405, unknown paths 404, HEAD no body" {
	listen_dnstap -u "$TMP/s.sock" --metrics 127.0.0.1:0 -w /dev/null
	metrics_port
	local m
	for m in POST PUT DELETE OPTIONS PATCH; do
		[ "$(curl -s -o /dev/null -w '%{http_code}' -X "$m" "http://127.0.0.1:$MPORT/metrics")" = 405 ]
	done
	[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$MPORT/nothing")" = 404 ]
	[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$MPORT/metrics?x=1")" = 200 ]
	[ "$(curl -sI "http://127.0.0.1:$MPORT/metrics" | head -n 1 | tr -d '\r')" = "HTTP/1.1 200 OK" ]
	[ "$(curl -s --head "http://127.0.0.1:$MPORT/" -o /dev/null -w '%{size_download}')" = 0 ]
	curl -sf "http://127.0.0.1:$MPORT/" | grep -q '<title>dnstap statistics</title>'
	# the page is self-contained: nothing from elsewhere
	[ -z "$(curl -sf "http://127.0.0.1:$MPORT/" | grep -Ei '(src|href)="(https?:)?//')" ]
	curl -sfI "http://127.0.0.1:$MPORT/" | grep -qi "^content-security-policy: default-src 'none'"
}

@test "--metrics-allow: clients outside the ranges get 403; the default answers loopback only" {
	listen_dnstap -u "$TMP/s.sock" --metrics 127.0.0.1:0 --metrics-allow 192.0.2.0/24 -w /dev/null
	metrics_port
	[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$MPORT/metrics")" = 403 ]
	stop_dnstap
	listen_dnstap -u "$TMP/t.sock" --metrics '[::1]:0' -w /dev/null
	MPORT=$(sed -n 's|^dnstap: metrics on http://\[::1\]:\([0-9]*\)/$|\1|p' "$TMP/dnstap.err" | tail -n 1)
	[ "$(curl -s -o /dev/null -w '%{http_code}' "http://[::1]:$MPORT/metrics")" = 200 ]
	stop_dnstap
	listen_dnstap -u "$TMP/u.sock" --metrics 127.0.0.1:0 --metrics-allow 127.0.0.2/32 --metrics-allow ::1 -w /dev/null
	metrics_port
	[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$MPORT/metrics")" = 403 ]
}

@test "--metrics: at most 64 connections at once: a newcomer closes the oldest, is answered, and intake goes on" {
	listen_dnstap -u "$TMP/s.sock" --metrics 127.0.0.1:0 -w "$TMP/out.dnstap"
	metrics_port
	# 70 idle connections, held open until $TMP/hold goes; then how many of them the server closed
	cat >"$TMP/hold.py" <<'PY'
import os, socket, sys, time
port, n, hold = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
socks = []
for _ in range(n):
    socks.append(socket.create_connection(("127.0.0.1", port)))
    time.sleep(0.01)
open(hold + ".up", "w").close()
while os.path.exists(hold):
    time.sleep(0.05)
closed = []
for i, s in enumerate(socks):
    s.setblocking(False)
    try:
        if s.recv(1) == b"":
            closed.append(i)
    except BlockingIOError:
        pass
    except OSError:
        closed.append(i)
print("closed by the server:", " ".join(map(str, closed)), flush=True)
for s in socks:
    s.close()
PY
	touch "$TMP/hold"
	spawn hold python3 "$TMP/hold.py" "$MPORT" 70 "$TMP/hold"
	local holder=$SPAWNED socks
	wait_until 10 test -e "$TMP/hold.up"
	sleep 1.5 # a sweep: what evhttp let go is closed
	socks=$(find "/proc/$DT_PID/fd" -type l -lname 'socket:*' | wc -l)
	echo "# sockets held while 70 connections are open: $socks" >&3
	((socks >= 64 && socks <= 64 + 4)) # the rest: the two listening sockets (and the loop's own)
	# a newcomer is answered; intake goes on meanwhile
	[ "$(curl -s -m 5 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$MPORT/metrics")" = 200 ]
	replay -u "$TMP/s.sock" -r "$TESTDATA/kdig.dnstap"
	wait_until 10 metric_is dnstap_messages_total "" 104
	# the oldest were the ones closed, in order: the first 6, then one for each client since
	rm "$TMP/hold"
	wait "$holder"
	local closed
	read -r -a closed < <(sed -n 's/^closed by the server://p' "$TMP/hold.out")
	echo "# closed by the server: ${closed[*]}" >&3
	((${#closed[@]} >= 7 && ${#closed[@]} < 70))
	[ "${closed[*]}" = "$(seq -s ' ' 0 $((${#closed[@]} - 1)))" ]
	wait_until 10 eval '(($(find /proc/$DT_PID/fd -type l -lname "socket:*" | wc -l) < 10))'
	stop_dnstap
	[ "$DT_STATUS" -eq 0 ]
}

@test "flags: --metrics needs a listening run; bad values are usage errors" {
	run "$DNSTAP" -r "$TESTDATA/kdig.dnstap" --metrics 127.0.0.1:0
	[ "$status" -eq 2 ]
	[[ "$output" == *"--metrics and --stats-interval need a listening run (-u, -l or passed sockets) or --kafka-in"* ]]
	run "$DNSTAP" -r "$TESTDATA/kdig.dnstap" --stats --stats-format xml
	[ "$status" -eq 2 ]
	run "$DNSTAP" -u "$TMP/s.sock" --metrics 127.0.0.1:0 --metrics-allow 300.1.2.3/8
	[ "$status" -eq 2 ]
	run "$DNSTAP" -r "$TESTDATA/kdig.dnstap" --top 5
	[ "$status" -eq 2 ]
	run "$DNSTAP" -r "$TESTDATA/kdig.dnstap" --stats --top 1001
	[ "$status" -eq 2 ]
}

@test "--stats-interval: one summary line per interval on standard error" {
	require fstrm_replay
	listen_dnstap -u "$TMP/s.sock" --stats-interval 1 -w /dev/null
	replay -u "$TMP/s.sock" -r "$TESTDATA/unbound.dnstap"
	wait_until 10 grep -q '^dnstap: stats: .* 204 in all$' "$TMP/dnstap.err"
	wait_until 10 grep -q '^dnstap: stats: 1s: 0 messages (0.0/s), 0 dropped .* 204 in all$' "$TMP/dnstap.err"
}

# ==== the page in a real browser, and a real Prometheus ====

@test "the page in headless Chromium shows a non-zero rate while a sender streams (screenshot kept)" {
	require chromium fstrm_replay
	listen_dnstap -u "$TMP/s.sock" --metrics 127.0.0.1:0 -w /dev/null
	metrics_port
	spawn sender bash -c 'while :; do for f in "$0"/*.dnstap; do fstrm_replay -t protobuf:dnstap.Dnstap -u "$1" -r "$f" || exit 0; done; sleep 0.05; done' "$TESTDATA" "$TMP/s.sock"
	wait_until 10 metric_is dnstap_connections_open "" 0 # at least one capture went through
	wait_until 10 bash -c '(( $(curl -s "http://127.0.0.1:$0/metrics" | awk "\$1 == \"dnstap_messages_total\" { print \$2 }") > 500 ))' "$MPORT"
	local c=(chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --user-data-dir="$TMP/chromium"
		--virtual-time-budget=4000)
	timeout 60 "${c[@]}" --dump-dom "http://127.0.0.1:$MPORT/" >"$TMP/dom.html" 2>"$TMP/chromium.err"
	local qps
	qps=$(sed -n 's/.*id="qps">\([0-9,]*\)<.*/\1/p' "$TMP/dom.html" | tr -d ,)
	echo "# the page says $qps messages per second" >&3
	[ -n "$qps" ] && ((qps > 0))
	grep -q 'id="types"><tbody><tr><td class="k">[A-Z_]*</td>' "$TMP/dom.html"
	grep -q 'dnstap 0\.[0-9.]*, updated ' "$TMP/dom.html"
	# a screenshot, kept as a test artifact (in $ARTIFACTS if set, else beside the tests' temporary dirs)
	local shot=${ARTIFACTS:-${BATS_TMPDIR:-/tmp}}/dnstap-metrics-page.png
	mkdir -p "$(dirname "$shot")"
	timeout 60 "${c[@]}" --window-size=1280,1200 --screenshot="$shot" "http://127.0.0.1:$MPORT/" 2>>"$TMP/chromium.err"
	[ -s "$shot" ]
	echo "# screenshot: $shot" >&3
}

@test "a real Prometheus server scrapes a running listener; its query API returns the totals" {
	require prometheus fstrm_replay
	listen_dnstap -u "$TMP/s.sock" --metrics 127.0.0.1:0 -w /dev/null
	metrics_port
	free_port
	local pport=$FREE_PORT
	cat >"$TMP/prometheus.yml" <<EOT
global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: dnstap
    static_configs:
      - targets: ['127.0.0.1:$MPORT']
EOT
	spawn prometheus prometheus --config.file="$TMP/prometheus.yml" --storage.tsdb.path="$TMP/prom" \
		--web.listen-address="127.0.0.1:$pport"
	wait_until 60 curl -sf "http://127.0.0.1:$pport/-/ready"
	replay -u "$TMP/s.sock" -r "$TESTDATA/unbound.dnstap"
	replay -u "$TMP/s.sock" -r "$TESTDATA/knot.dnstap"
	prom() {
		curl -sf "http://127.0.0.1:$pport/api/v1/query" --data-urlencode "query=$1" | jq -r '.data.result[0].value[1] // empty'
	}
	prom_is() { [ "$(prom "$1")" = "$2" ]; }
	wait_until 60 prom_is dnstap_messages_total 308
	prom_is 'dnstap_message_types_total{type="CLIENT_QUERY"}' 52
	prom_is 'sum(dnstap_message_types_total)' 308
	prom_is 'dnstap_connections_total' 2
	prom_is 'sum(dnstap_dropped_total)' 0
	prom_is 'up{job="dnstap"}' 1
	[ -n "$(prom 'dnstap_latency_seconds_count')" ]
}

# ==== drops by reason ====

# A relay (-u IN -U OUT) into a collector; sends N frames.
relay_setup() {
	python3 "$GEN_FRAMES" "$1" "$TMP/in.dnstap"
	spawn collector "$DNSTAP" -u "$TMP/out.sock" -w "$TMP/coll1.dnstap"
	COLL_PID=$SPAWNED
	wait_until 10 test -S "$TMP/out.sock"
	listen_dnstap -u "$TMP/in.sock" -U "$TMP/out.sock" --metrics 127.0.0.1:0
	metrics_port
	wait_until 10 metric_is dnstap_output_connected "output=\"$TMP/out.sock\"" 1
}

@test "drops: a full relay queue: dropped{reason=queue_full} is exactly the frames the collector lacks" {
	require fstrm_replay
	relay_setup 60000
	kill -STOP "$COLL_PID" # the collector stops reading: its socket, then our queue of 10,000 fill
	replay -u "$TMP/in.sock" -r "$TMP/in.dnstap"
	wait_until 10 metric_is dnstap_messages_total "" 60000
	kill -CONT "$COLL_PID"
	wait_until 30 metric_is dnstap_output_queued "output=\"$TMP/out.sock\"" 0
	local full written
	full=$(metric dnstap_dropped_total 'reason="queue_full"')
	written=$(metric dnstap_output_written_total "output=\"$TMP/out.sock\"")
	echo "# $full dropped (queue full), $written relayed" >&3
	((full > 0))
	[ $((full + written)) -eq 60000 ]
	[ "$(metric dnstap_dropped_total 'reason="relay"')" -eq 0 ]
	stop_dnstap
	stop "$COLL_PID"
	[ "$(python3 "$FCHECK" --count "$TMP/coll1.dnstap")" -eq "$written" ]
}

@test "drops: the collector stopped under load and started again: relay and queue-full drops are what is missing" {
	require fstrm_replay
	relay_setup 300000
	spawn sender fstrm_replay -t "$CT" -u "$TMP/in.sock" -r "$TMP/in.dnstap"
	local sender=$SPAWNED
	wait_until 30 at_least_frames "$TMP/coll1.dnstap" 20000
	stop "$COLL_PID" TERM
	spawn collector "$DNSTAP" -u "$TMP/out.sock" -w "$TMP/coll2.dnstap"
	COLL_PID=$SPAWNED
	finished "$sender"
	wait_until 10 metric_is dnstap_messages_total "" 300000
	wait_until 30 metric_is dnstap_output_queued "output=\"$TMP/out.sock\"" 0
	local full relay written
	full=$(metric dnstap_dropped_total 'reason="queue_full"')
	relay=$(metric dnstap_dropped_total 'reason="relay"')
	written=$(metric dnstap_output_written_total "output=\"$TMP/out.sock\"")
	stop_dnstap
	stop "$COLL_PID"
	local got=$(($(python3 "$FCHECK" --count "$TMP/coll1.dnstap") + $(python3 "$FCHECK" --count "$TMP/coll2.dnstap")))
	echo "# sent 300000; collectors got $got; dropped: $full queue full, $relay relay" >&3
	[ "$got" -eq "$written" ]
	[ $((300000 - got)) -eq $((full + relay)) ]
}

# ==== hostile HTTP ====

@test "hostile HTTP: huge headers, slow clients, 1,000 connections: memory bounded, intake never stalls" {
	require fstrm_replay
	python3 "$GEN_FRAMES" 200000 "$TMP/in.dnstap"
	listen_dnstap -u "$TMP/s.sock" --metrics 127.0.0.1:0 -w "$TMP/out.dnstap"
	metrics_port
	local rss0
	rss0=$(awk '/^VmRSS/ { print $2 }' "/proc/$DT_PID/status")
	cat >"$TMP/attack.py" <<'EOF'
import socket, sys, time
port = int(sys.argv[1])
conns = []
for i in range(1000):  # 1,000 connections that say half a request and then nothing
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
    conns.append(s)
big = []
for i in range(20):  # headers far over the limit
    s = socket.create_connection(("127.0.0.1", port))
    try:
        s.sendall(b"GET / HTTP/1.1\r\n" + b"X-Big: " + b"a" * 1000000 + b"\r\n\r\n")
    except OSError:
        pass
    big.append(s)
for m in (b"POST", b"DELETE", b"BREW", b"\x00\xff"):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(m + b" /metrics HTTP/1.1\r\nContent-Length: 100000000\r\n\r\n" + b"x" * 65536)
    big.append(s)
slow = socket.create_connection(("127.0.0.1", port))
for c in b"GET /metrics HTTP/1.1\r\n":  # a byte a second
    slow.sendall(bytes([c]))
    time.sleep(0.2)
print("attack done", flush=True)
time.sleep(30)
EOF
	spawn attack python3 "$TMP/attack.py" "$MPORT"
	replay -u "$TMP/s.sock" -r "$TMP/in.dnstap"
	wait_until 60 grep -q "attack done" "$TMP/attack.out"
	local rss1
	rss1=$(awk '/^VmRSS/ { print $2 }' "/proc/$DT_PID/status")
	echo "# RSS before the attack $rss0 KiB, during it $rss1 KiB" >&3
	# intake never stalled: every frame sent was received and written
	wait_until 30 metric_is dnstap_frames_received_total "" 200000
	((rss1 < rss0 + 64 * 1024))
	[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$MPORT/metrics")" = 200 ]
	stop_dnstap
	[ "$DT_STATUS" -eq 0 ]
	[ "$(python3 "$FCHECK" --count "$TMP/out.dnstap")" -eq 200000 ]
}

@test "--metrics: the listener's reasons: oversize frames skipped, senders closed by why" {
	listen_dnstap -u "$TMP/s.sock" --metrics 127.0.0.1:0 -w /dev/null --max-frame-size 2000 -t 1s
	metrics_port
	fsend "unix:$TMP/s.sock" ready accept start big=5000 big=6000 "frames=$TESTDATA/kdig.dnstap" stop finish
	fsend "unix:$TMP/s.sock" raw=474554202f20485454502f312e310d0a0d0a eof=10 # an HTTP request
	fsend "unix:$TMP/s.sock" ready accept start half close                       # gone mid-frame
	fsend "unix:$TMP/s.sock" ready accept start raw=0000000000000002ffff eof=10  # a malformed control frame
	fsend "unix:$TMP/s.sock" sleep=0 eof=10                                      # silent: the timeout
	wait_until 10 metric_is dnstap_connections_total "" 5
	wait_until 10 metric_is dnstap_connections_open "" 0
	metric_is dnstap_frames_skipped_total 'reason="oversize"' 2
	metric_is dnstap_messages_total "" 104
	metric_is dnstap_connections_closed_total 'reason="handshake_error"' 1
	metric_is dnstap_connections_closed_total 'reason="cut"' 1
	metric_is dnstap_connections_closed_total 'reason="bad_control"' 1
	metric_is dnstap_connections_closed_total 'reason="handshake_timeout"' 1
	metric_is dnstap_connections_closed_total 'reason="other"' 0
}
