#!/usr/bin/env bats
# The environment side of the fault matrix: an output disk that fills up (dnstap listening, and dnstap
# reading files), the collector killed and restarted while dnstap-proxy is under load, and bad input
# files, flags and addresses (the cases badinput.bats, cli.bats, listen.bats, relay.bats and proxy.bats
# do not already cover). Each case checks what reached the disk or the collector and what was said.

load helpers
load peers

: "${DNSTAP_PROXY:=$(dirname "$DNSTAP")/dnstap-proxy}"
DNSLOAD=$TOOLS/dnsload.py

setup() {
	common_setup
	require python3
}

teardown() {
	stop_all
	if [[ -n ${DISK:-} ]] && mountpoint -q "$DISK"; then
		umount "$DISK" || umount -l "$DISK"
	fi
	common_teardown
}

# ==== helpers ====

# small_disk: a 256 KiB tmpfs mounted at $TMP/disk (DISK), unmounted in teardown. Needs root (CI runs
# as root); skips otherwise, or when mounting is not allowed here.
small_disk() {
	[[ $(id -u) -eq 0 ]] || skip "mounting a small file system needs root"
	mkdir "$TMP/disk"
	mount -t tmpfs -o size=256k,mode=0755 tmpfs "$TMP/disk" 2>/dev/null || skip "cannot mount a tmpfs here"
	DISK=$TMP/disk
}

# big_input: $TMP/in.dnstap, 5000 distinct frames (about 1 MB: four times what the disk takes).
big_input() {
	python3 "$GEN_FRAMES" 5000 "$TMP/in.dnstap" full
}

# no_sanitizer_report FILE...: nothing from the sanitizers (--enable-sanitizers builds) or a crash.
no_sanitizer_report() {
	if grep -E 'Sanitizer|runtime error|Segmentation fault|Aborted' "$@" >&3; then
		return 1
	fi
}

# only_enospc ERRFILE OUT: ERRFILE has one line about the full disk, naming OUT.
only_enospc() {
	grep -c 'No space left on device' "$1" | grep -qx 1
	grep -qxF "dnstap: $2: write error: No space left on device" "$1"
	no_sanitizer_report "$1"
}

# gone_with PID STATUS: PID exits by itself (60 s at most) with STATUS: an exit, not a signal.
gone_with() {
	local rc=0
	finished "$1" || rc=$?
	if kill -0 "$1" 2>/dev/null; then
		echo "# pid $1 still running" >&3
		return 1
	fi
	[ "$rc" -eq "$2" ]
}

# big_prefix OUT IN: OUT, cut short by the full disk, is IN's beginning byte for byte, and most of the
# disk (what fits was written, not given up early).
big_prefix() {
	local size
	size=$(stat -c %s "$1")
	echo "# $1: $size bytes on the full disk" >&3
	((size > 200000))
	cmp -n "$size" "$1" "$2"
}

# intact_frames OUT IN: the Frame Streams file OUT is IN's beginning; read back, it prints IN's first N
# frames (N its complete frames), exactly, then one line about the cut, and exit 1.
intact_frames() {
	local out=$1 in=$2 n
	big_prefix "$out" "$in"
	n=$(frames "$out")
	((n > 1000))
	head_frames "$in" "$n" "$TMP/head.dnstap"
	"$DNSTAP" -r "$TMP/head.dnstap" -j >"$TMP/expected.json"
	run bash -c "'$DNSTAP' -r '$out' -j 2>'$TMP/readback.err' >'$TMP/readback.json'"
	[ "$status" -eq 1 ]
	cmp "$TMP/readback.json" "$TMP/expected.json"
	[ "$(wc -l <"$TMP/readback.err")" -eq 1 ]
	grep -qxF -e "dnstap: $out: frame $((n + 1)): file ends in the middle of a frame" \
		-e "dnstap: $out: file ends without a STOP frame after $n frames (cut short?)" "$TMP/readback.err"
}

# fails_with STATUS LINE CMD...: CMD exits with STATUS, and all it says (stdout and stderr) is LINE.
fails_with() {
	local want=$1 line=$2
	shift 2
	run "$@"
	if [[ $status -ne $want || $output != "$line" ]]; then
		echo "# $*: exit $status (want $want), said:" >&3
		printf '%s\n' "$output" | sed 's/^/#   /' >&3
		echo "# wanted: $line" >&3
		return 1
	fi
}

# usage_error PROGRAM LINE CMD...: CMD exits 2 and says LINE with PROGRAM's pointer to its help, in one line:
# "LINE (see PROGRAM --help)".
usage_error() {
	local prog=$1 line=$2
	shift 2
	run "$@"
	if [[ $status -ne 2 || $output != "$line (see $prog --help)" ]]; then
		echo "# $*: exit $status (want 2), said:" >&3
		printf '%s\n' "$output" | sed 's/^/#   /' >&3
		echo "# wanted: $line" >&3
		return 1
	fi
}

# ==== the output disk fills up ====

@test "disk full under a listener (-u SOCK -w FILE): one line naming FILE, exit 1, and FILE holds the first frames sent, intact" {
	small_disk
	require fstrm_replay
	big_input
	listen_dnstap -u "$TMP/s.sock" -w "$DISK/out.dnstap"
	replay -u "$TMP/s.sock" -r "$TMP/in.dnstap" || true # we hang up on it once the disk is full
	gone_with "$DT_PID" 1
	only_enospc "$TMP/dnstap.err" "$DISK/out.dnstap"
	intact_frames "$DISK/out.dnstap" "$TMP/in.dnstap"
	[ ! -e "$TMP/s.sock" ] # cleaned up as at any exit
	# the summary's count of frames not written is exact: received minus what the file holds whole
	local got lost
	got=$(sed -n 's/^dnstap: received \([0-9]*\) frames .*/\1/p' "$TMP/dnstap.err")
	lost=$(sed -n 's/.*, \([0-9]*\) frames not written (output failed)$/\1/p' "$TMP/dnstap.err")
	echo "# received $got, not written $lost, in the file $(frames "$DISK/out.dnstap")" >&3
	[ $((got - lost)) -eq "$(frames "$DISK/out.dnstap")" ]
}

@test "disk full under a listener writing text (-u SOCK -q -w FILE): one line, exit 1, FILE is the start of the text" {
	small_disk
	require fstrm_replay
	big_input
	export TZ=UTC
	"$DNSTAP" -r "$TMP/in.dnstap" -q >"$TMP/expected.txt"
	listen_dnstap -u "$TMP/s.sock" -q -w "$DISK/out.txt"
	replay -u "$TMP/s.sock" -r "$TMP/in.dnstap" || true
	gone_with "$DT_PID" 1
	only_enospc "$TMP/dnstap.err" "$DISK/out.txt"
	big_prefix "$DISK/out.txt" "$TMP/expected.txt"
}

@test "disk full reading a file (-r BIG -w FILE, -y -w FILE, -q > FILE): one line, exit 1, what is on disk is the start of the output" {
	small_disk
	big_input
	fails_with 1 "dnstap: $DISK/out.dnstap: write error: No space left on device" \
		"$DNSTAP" -r "$TMP/in.dnstap" -w "$DISK/out.dnstap"
	intact_frames "$DISK/out.dnstap" "$TMP/in.dnstap"
	rm "$DISK/out.dnstap"

	"$DNSTAP" -r "$TMP/in.dnstap" -y >"$TMP/expected.yaml"
	fails_with 1 "dnstap: $DISK/out.yaml: write error: No space left on device" \
		"$DNSTAP" -r "$TMP/in.dnstap" -y -w "$DISK/out.yaml"
	big_prefix "$DISK/out.yaml" "$TMP/expected.yaml"
	rm "$DISK/out.yaml"

	TZ=UTC "$DNSTAP" -r "$TMP/in.dnstap" -q >"$TMP/expected.txt"
	fails_with 1 "dnstap: (stdout): write error: No space left on device" \
		bash -c "TZ=UTC '$DNSTAP' -r '$TMP/in.dnstap' -q >'$DISK/out.txt'"
	big_prefix "$DISK/out.txt" "$TMP/expected.txt"
}

@test "disk full with --max-size rotation: stops at the first write error, one line about it, no empty files, finished files complete" {
	small_disk
	big_input
	run "$DNSTAP" -r "$TMP/in.dnstap" -w "$DISK/out-%Y.dnstap" --max-size 50000
	[ "$status" -eq 1 ]
	no_sanitizer_report <(echo "$output")
	# the files it finished, and one line each; then the failure, once
	[ "$(grep -c 'No space left on device' <<<"$output")" -eq 1 ]
	[[ ${lines[-1]} == "dnstap: $DISK/out-"*".dnstap: write error: No space left on device" ]]
	local failed=${lines[-1]#dnstap: } f n=0 total=0
	failed=${failed%%: write error*}
	[ "${#lines[@]}" -le 8 ]
	[ -z "$(find "$DISK" -type f -empty)" ]
	# the finished files, in the order the log names them, read back complete (exit 0), and together they
	# are the input's first frames, exactly
	: >"$TMP/got.json"
	for f in $(sed -n 's/^dnstap: \(.*\): finished (size), [0-9]* frames; now writing .*/\1/p' <<<"$output"); do
		"$DNSTAP" -r "$f" -j >>"$TMP/got.json"
		n=$(frames "$f")
		((n > 100))
		total=$((total + n))
	done
	((total > 500))
	head_frames "$TMP/in.dnstap" "$total" "$TMP/head.dnstap"
	"$DNSTAP" -r "$TMP/head.dnstap" -j >"$TMP/expected.json"
	cmp "$TMP/got.json" "$TMP/expected.json"
	[ -f "$failed" ]
}

# ==== the collector restarts while dnstap-proxy is under load ====

# start_collector N: our dnstap listening as COLLECTOR says (-u PATH or -l ADDR:PORT), writing
# $TMP/collN.dnstap; its pid in COLL_PID.
start_collector() {
	spawn "coll$1" "$DNSTAP" "${COLLECTOR[@]}" -w "$TMP/coll$1.dnstap"
	COLL_PID=$SPAWNED
	wait_until 10 alive_and "$COLL_PID" "coll$1" grep -q '^dnstap: listening on ' "$TMP/coll$1.err"
}

# start_proxy ARG...: dnstap-proxy on 127.0.0.1 at a free port (PX) in front of the upstream (UP).
start_proxy() {
	free_port
	PX=$FREE_PORT
	spawn proxy "$DNSTAP_PROXY" --listen "127.0.0.1:$PX" --upstream "127.0.0.1:$UP" "$@"
	PROXY_PID=$SPAWNED
	wait_until 30 alive_and "$PROXY_PID" proxy tcp_up 127.0.0.1 "$PX"
}

# stop_proxy: SIGTERM and wait (it sends what is queued, STOP, waits for FINISH); its exit status in
# PROXY_STATUS, the totals of its last line in SENT and DROPPED.
stop_proxy() {
	stop "$PROXY_PID" TERM
	PROXY_STATUS=$STOPPED_STATUS
	no_sanitizer_report "$TMP/proxy.err"
	local line
	line=$(grep 'dnstap: closed: ' "$TMP/proxy.err" | tail -n 1)
	SENT=$(sed -n 's/.*closed: \([0-9]*\) messages sent, \([0-9]*\) dropped$/\1/p' <<<"$line")
	DROPPED=$(sed -n 's/.*closed: \([0-9]*\) messages sent, \([0-9]*\) dropped$/\2/p' <<<"$line")
}

# load_answered: how many answers tests/tools/dnsload.py has had so far.
load_answered() {
	local a
	a=$(sed -n 's/^answered //p' "$TMP/load.out" | tail -n 1)
	echo "${a:-0}"
}

load_beyond() { # N: the load has had more than N answers (fails at once if it has stopped)
	alive_and "$LOAD_PID" load true && (($(load_answered) > $1))
}

# The collector (our dnstap -u or -l) is stopped with SIGTERM and started again twice while a steady
# UDP load goes through the proxy. Each time, the load must have moved on by 200 queries (800 taps)
# before the collector is back: more than the proxy's queue of 400 holds, so it drops some. Then the
# load stops and waits for its answers. Every query is answered; the proxy is still there and
# answering; and its count of what it sent is what the three collector files hold, and sent + dropped
# is every tap: 4 per query (CLIENT_QUERY, FORWARDER_QUERY, FORWARDER_RESPONSE, CLIENT_RESPONSE).
restart_under_load() {
	require knotd kdig
	local spec k before
	start_upstream
	if [[ $1 == unix ]]; then
		COLLECTOR=(-u "$TMP/c.sock")
		spec=unix://$TMP/c.sock
	else
		free_port
		COLLECTOR=(-l "127.0.0.1:$FREE_PORT")
		spec=tcp://127.0.0.1:$FREE_PORT
	fi
	start_collector 1
	start_proxy --tap "$spec" --queue 400 --timeout 20000 # a busy machine is no reason for SERVFAIL
	spawn load python3 "$DNSLOAD" 127.0.0.1 "$PX" "$TMP/stop-load" --rate 2000
	LOAD_PID=$SPAWNED

	for k in 1 2; do
		wait_until 30 at_least_frames "$TMP/coll$k.dnstap" 1000 # the collector is taking the load
		stop "$COLL_PID" TERM
		[ "$STOPPED_STATUS" -eq 0 ]
		wait_until 20 log_has proxy "dnstap: lost connection to $spec" "$k"
		before=$(load_answered)
		wait_until 30 load_beyond $((before + 200))
		start_collector $((k + 1))
		wait_until 20 log_has proxy "dnstap: connected to $spec" $((k + 1))
	done
	wait_until 30 at_least_frames "$TMP/coll3.dnstap" 1000

	touch "$TMP/stop-load"
	local rc=0 queries
	finished "$LOAD_PID" || rc=$?
	tail -n 1 "$TMP/load.out" | sed 's/^/# load: /' >&3
	[ "$rc" -eq 0 ] # every query answered with its own ID and question, none SERVFAIL
	queries=$(sed -n 's/^sent \([0-9]*\) answered \1 servfail 0 mismatched 0$/\1/p' "$TMP/load.out")
	[ -n "$queries" ]

	kill -0 "$PROXY_PID" # still running, and still answering
	[ "$(kdig @127.0.0.1 -p "$PX" +short +timeout=3 +retry=0 www.lab.test A)" = 198.51.100.10 ]
	stop_proxy
	[ "$PROXY_STATUS" -eq 0 ]
	stop "$COLL_PID" TERM
	[ "$STOPPED_STATUS" -eq 0 ]
	no_sanitizer_report "$TMP"/coll?.err

	local got=0 n
	for k in 1 2 3; do
		n=$(python3 "$FCHECK" "$TMP/coll$k.dnstap") # each file complete: START, frames, STOP
		got=$((got + ${n% frames}))
	done
	echo "# $queries queries (+1); proxy: $SENT sent, $DROPPED dropped; collectors: $got" >&3
	[ $((SENT + DROPPED)) -eq $((4 * (queries + 1))) ]
	[ "$DROPPED" -gt 0 ]
	[ "$got" -eq "$SENT" ]
}

@test "dnstap-proxy under load, collector (dnstap -u) killed and restarted twice: all answered, sent = received, sent + dropped = 4 per query" {
	restart_under_load unix
}

@test "dnstap-proxy under load, collector (dnstap -l) killed and restarted twice: all answered, sent = received, sent + dropped = 4 per query" {
	restart_under_load tcp
}

@test "dnstap -u stopped while a sender streams into full buffers: every frame the sender counts as sent is in the file" {
	stop_mid_stream unix
}

@test "dnstap -l stopped while a sender streams into full buffers: every frame the sender counts as sent is in the file" {
	stop_mid_stream tcp
}

# ==== bad input files ====

@test "bad -r inputs: exit 1 and one line naming the input (a path through a file, a read error, truncations, odd bytes)" {
	local k=$TESTDATA/kdig.dnstap f
	echo hello >"$TMP/plain"
	fails_with 1 "dnstap: $TMP/plain/x: Not a directory" "$DNSTAP" -r "$TMP/plain/x"
	# opens, then fails to read
	fails_with 1 "dnstap: /proc/self/mem: Input/output error" "$DNSTAP" -r /proc/self/mem
	fails_with 1 "dnstap: /dev/null: empty file, not a Frame Streams file" "$DNSTAP" -r /dev/null
	fails_with 1 "dnstap: (stdin): Is a directory" bash -c "'$DNSTAP' -r - <'$TMP'"
	fails_with 1 "dnstap: (stdin): Bad file descriptor" bash -c "'$DNSTAP' -r - <&-"

	# cut short: inside the START frame, right after it, inside a length, inside the first payload
	head -c 20 "$k" >"$TMP/cut-start"
	head -c 42 "$k" >"$TMP/start-only"
	head -c 44 "$k" >"$TMP/cut-length"
	head -c 50 "$k" >"$TMP/cut-payload"
	fails_with 1 "dnstap: $TMP/cut-start: not a Frame Streams file (no START frame)" "$DNSTAP" -r "$TMP/cut-start"
	fails_with 1 "dnstap: $TMP/start-only: file ends without a STOP frame after 0 frames (cut short?)" \
		"$DNSTAP" -r "$TMP/start-only"
	fails_with 1 "dnstap: $TMP/cut-length: frame 1: file ends in the middle of a frame" "$DNSTAP" -r "$TMP/cut-length"
	fails_with 1 "dnstap: $TMP/cut-payload: frame 1: file ends in the middle of a frame" "$DNSTAP" -r "$TMP/cut-payload"
	fails_with 1 "dnstap: (stdin): frame 1: file ends in the middle of a frame" \
		bash -c "'$DNSTAP' -r - <'$TMP/cut-payload'"

	# odd bytes: one byte, an escape with no length, a zero-length control frame, 100 KB of zeros, text
	printf x >"$TMP/one-byte"
	head -c 4 /dev/zero >"$TMP/zero4"
	head -c 8 /dev/zero >"$TMP/zero8"
	head -c 100000 /dev/zero >"$TMP/zeros"
	for f in one-byte zero4 zero8 zeros plain; do
		fails_with 1 "dnstap: $TMP/$f: not a Frame Streams file (no START frame)" "$DNSTAP" -r "$TMP/$f"
	done
}

@test "an unreadable -r file (mode 000): exit 1, one line naming it" {
	local as=()
	if [[ $(id -u) -eq 0 ]]; then # root reads anything: read as nobody instead
		command -v setpriv >/dev/null || skip "root reads a mode 000 file, and setpriv is missing"
		id nobody >/dev/null 2>&1 || skip "root reads a mode 000 file, and there is no user nobody"
		as=(setpriv --reuid=nobody --regid="$(id -g nobody)" --clear-groups)
		chmod 755 "$TMP"
	fi
	cp "$TESTDATA/kdig.dnstap" "$TMP/open.dnstap"
	chmod 644 "$TMP/open.dnstap"
	# the same user reads a readable copy: only the mode makes the difference
	if ! "${as[@]}" "$DNSTAP" -r "$TMP/open.dnstap" >/dev/null; then
		[[ ${#as[@]} -gt 0 ]] || false
		skip "nobody cannot run $DNSTAP or reach $TMP"
	fi
	cp "$TESTDATA/kdig.dnstap" "$TMP/locked.dnstap"
	chmod 000 "$TMP/locked.dnstap"
	fails_with 1 "dnstap: $TMP/locked.dnstap: Permission denied" "${as[@]}" "$DNSTAP" -r "$TMP/locked.dnstap"
}

@test "an output that is a directory: exit 1, one line naming it" {
	mkdir "$TMP/outdir"
	fails_with 1 "dnstap: $TMP/outdir: Is a directory" "$DNSTAP" -r "$TESTDATA/kdig.dnstap" -w "$TMP/outdir"
	fails_with 1 "dnstap: $TMP/outdir: Is a directory" "$DNSTAP" -r "$TESTDATA/kdig.dnstap" -y -w "$TMP/outdir"
}

# ==== bad listening addresses and relay targets ====

@test "dnstap -l with bad addresses: exit 1, one line naming the address" {
	local a
	for a in '[::1' '[::1:5' '[::1]:' 'no-such-host.invalid:5' '999.1.1.1:5' '127.0.0.1:65536' '127.0.0.1:-1' \
		'127.0.0.1:5:5'; do
		fails_with 1 "dnstap: $a: bad address (want HOST:PORT or [IPv6]:PORT, with a host that resolves)" \
			"$DNSTAP" -l "$a"
	done
	# well formed, but not an address of this host
	fails_with 1 "dnstap: 192.0.2.1:5: cannot listen: Cannot assign requested address" "$DNSTAP" -l 192.0.2.1:5
}

@test "dnstap -u where no socket can be made: exit 1, one line naming the path" {
	local long
	long=$TMP/$(printf '%0110d' 0).sock # over the 108 bytes of sun_path
	echo hello >"$TMP/plain"
	fails_with 1 "dnstap: $TMP/no/such/dir/s.sock: cannot listen: No such file or directory" \
		"$DNSTAP" -u "$TMP/no/such/dir/s.sock"
	fails_with 1 "dnstap: $long: cannot listen: File name too long" "$DNSTAP" -u "$long"
	fails_with 1 "dnstap: $TMP/plain/s.sock: cannot listen: Not a directory" "$DNSTAP" -u "$TMP/plain/s.sock"
	[ ! -e "$long" ]
}

@test "dnstap -U and -T with nowhere to send: exit 1, one line naming the target" {
	local k=$TESTDATA/kdig.dnstap long i
	long=$TMP/$(printf '%0110d' 0).sock
	echo hello >"$TMP/plain"
	fails_with 1 "dnstap: $TMP/no/such/dir/s.sock: No such file or directory" "$DNSTAP" -r "$k" -U "$TMP/no/such/dir/s.sock"
	fails_with 1 "dnstap: $TMP/plain: Connection refused" "$DNSTAP" -r "$k" -U "$TMP/plain" # not a socket
	fails_with 1 "dnstap: $long: File name too long" "$DNSTAP" -r "$k" -U "$long"
	local t
	for t in 127.0.0.1:99999 '[::1' 127.0.0.1; do
		fails_with 1 "dnstap: $t: bad address (want HOST:PORT or [IPv6]:PORT)" "$DNSTAP" -r "$k" -T "$t"
	done
	# the resolver's own words, not an errno
	fails_with 1 "dnstap: no-such-host.invalid:6000: cannot connect to tcp://no-such-host.invalid:6000: Name or service not known" \
		"$DNSTAP" -r "$k" -T no-such-host.invalid:6000
}

# ==== bad flags ====

@test "dnstap: bad flag values and stray arguments are usage errors (exit 2); --split/--max-size without -w is refused (exit 1)" {
	local k=$TESTDATA/kdig.dnstap
	usage_error dnstap "dnstap: flag provided but not defined: -bogus" "$DNSTAP" -r "$k" --bogus=1
	local f
	for f in r u l U T; do
		usage_error dnstap "dnstap: -$f needs a name, not an empty string" "$DNSTAP" -"$f" ''
	done
	usage_error dnstap "dnstap: -w needs a file name, not an empty string" "$DNSTAP" -r "$k" -w ''
	usage_error dnstap "dnstap: -v and --silent contradict each other" "$DNSTAP" -u "$TMP/s.sock" -v --silent
	usage_error dnstap "dnstap: unexpected argument '-'" "$DNSTAP" -
	usage_error dnstap "dnstap: unexpected argument 'extra'" "$DNSTAP" -r "$k" -- extra
	usage_error dnstap 'dnstap: invalid boolean value "maybe" for -q' "$DNSTAP" -r "$k" -q=maybe
	usage_error dnstap "dnstap: flag needs an argument: -t" "$DNSTAP" -r "$k" -t
	usage_error dnstap 'dnstap: invalid value "0" for flag -split' "$DNSTAP" -r "$k" --split 0 -w "$TMP/o"
	usage_error dnstap 'dnstap: invalid value "-1" for flag -split' "$DNSTAP" -r "$k" --split -1 -w "$TMP/o"
	usage_error dnstap 'dnstap: invalid value "0" for flag -max-size' "$DNSTAP" -r "$k" --max-size 0 -w "$TMP/o"
	usage_error dnstap 'dnstap: invalid value "0" for flag -max-connections' "$DNSTAP" -u "$TMP/s.sock" --max-connections 0
	usage_error dnstap 'dnstap: invalid value "99999999999999999999" for flag -max-frame-size' \
		"$DNSTAP" -r "$k" --max-frame-size 99999999999999999999
	[ ! -e "$TMP/o" ] # nothing was started
	[ ! -e "$TMP/s.sock" ]

	fails_with 1 "dnstap: --split and --max-size need -w FILE" "$DNSTAP" -r "$k" --split 10
	fails_with 1 "dnstap: --split and --max-size need -w FILE" "$DNSTAP" -r "$k" --max-size 100000 -q
}

@test "dnstap-proxy: bad --upstream, --listen and --tap: exit 2 with a line naming the value; an address not on this host: exit 1" {
	local P=$DNSTAP_PROXY L=(--listen 127.0.0.1:5300) U=(--upstream 127.0.0.1:53) v i many=()
	local port="the port must be a number from 1 to 65535" form="expected ADDR:PORT (IPv6 in brackets)"
	usage_error dnstap-proxy "dnstap-proxy: --upstream nohost: $form" "$P" "${L[@]}" --upstream nohost
	usage_error dnstap-proxy "dnstap-proxy: --upstream 127.0.0.1: $form" "$P" "${L[@]}" --upstream 127.0.0.1
	usage_error dnstap-proxy "dnstap-proxy: --upstream : $form" "$P" "${L[@]}" --upstream ''
	usage_error dnstap-proxy "dnstap-proxy: --upstream 127.0.0.1:0: $port" "$P" "${L[@]}" --upstream 127.0.0.1:0
	usage_error dnstap-proxy "dnstap-proxy: --upstream 127.0.0.1:99999: $port" "$P" "${L[@]}" --upstream 127.0.0.1:99999
	usage_error dnstap-proxy "dnstap-proxy: --upstream [::1: expected [IPv6]:PORT" "$P" "${L[@]}" --upstream '[::1'

	usage_error dnstap-proxy "dnstap-proxy: --listen [::1: expected [IPv6]:PORT" "$P" --listen '[::1' "${U[@]}"
	usage_error dnstap-proxy "dnstap-proxy: --listen [::1]:: $port" "$P" --listen '[::1]:' "${U[@]}"
	usage_error dnstap-proxy "dnstap-proxy: --listen 127.0.0.1:99999: $port" "$P" --listen 127.0.0.1:99999 "${U[@]}"
	usage_error dnstap-proxy "dnstap-proxy: --listen 999.1.1.1:5: not an IP address" "$P" --listen 999.1.1.1:5 "${U[@]}"
	usage_error dnstap-proxy "dnstap-proxy: --listen : $form" "$P" --listen '' "${U[@]}"
	for ((i = 1; i <= 17; i++)); do many+=(--listen "127.0.0.1:$((5300 + i))"); done
	usage_error dnstap-proxy "dnstap-proxy: --listen: at most 16 addresses" "$P" "${many[@]}" "${U[@]}"

	for v in ftp://x tcp://host-without-port unix:// tcp:// tcp://127.0.0.1:0 tcp://127.0.0.1:99999 'tcp://[::1' \
		'tcp://[::1]' ''; do
		usage_error dnstap-proxy \
			"dnstap-proxy: --tap $v: not a collector address (/path, unix:///path, tcp://HOST:PORT or tls://HOST:PORT)" \
			"$P" "${L[@]}" "${U[@]}" --tap "$v"
	done

	usage_error dnstap-proxy "dnstap-proxy: --timeout 0: not a number from 1 to 3600000" "$P" "${L[@]}" "${U[@]}" --timeout 0
	usage_error dnstap-proxy "dnstap-proxy: --timeout x: not a number from 1 to 3600000" "$P" "${L[@]}" "${U[@]}" --timeout x
	usage_error dnstap-proxy "dnstap-proxy: --queue 100000001: not a number from 1 to 100000000" \
		"$P" "${L[@]}" "${U[@]}" --queue 100000001
	usage_error dnstap-proxy "dnstap-proxy: --identity: option needs a value" "$P" "${L[@]}" "${U[@]}" --identity
	usage_error dnstap-proxy "dnstap-proxy: --full=1: unknown option" "$P" "${L[@]}" "${U[@]}" --full=1

	usage_error dnstap-proxy "dnstap-proxy: --tap given twice (/x, /y): the proxy taps to one collector" \
		"$P" "${L[@]}" "${U[@]}" --tap /x --tap /y
	usage_error dnstap-proxy "dnstap-proxy: --upstream given twice (127.0.0.1:53, 127.0.0.1:54): the proxy forwards to one server" \
		"$P" "${L[@]}" "${U[@]}" --upstream 127.0.0.1:54
	local long=/$(printf 'a%.0s' {1..120})
	usage_error dnstap-proxy "dnstap-proxy: --tap unix://$long: File name too long" "$P" "${L[@]}" "${U[@]}" --tap "unix://$long"

	# well formed, but not an address of this host, or a name the resolver cannot find: runtime failures
	fails_with 1 "dnstap-proxy: 192.0.2.1:5300: bind (UDP): Cannot assign requested address" \
		"$P" --listen 192.0.2.1:5300 "${U[@]}"
	fails_with 1 "dnstap-proxy: --upstream no-such-host.invalid:53: Name or service not known" \
		"$P" "${L[@]}" --upstream no-such-host.invalid:53
}
