#!/usr/bin/env bats
# dnstap -u / -l: the Frame Streams handshake, many senders at once, misbehaving peers, durable output,
# signals and rotation. Senders: fstrm_replay, the Go tool's -U/-T, and tests/tools/fsend.py (scripted,
# well-behaved or not). Real DNS servers are in peers.bats.

load helpers
load peers

setup() {
	common_setup
	require python3 fstrm_replay
}

teardown() {
	stop_all
	common_teardown
}

KDIG=$TESTDATA/kdig.dnstap
UNBOUND=$TESTDATA/unbound.dnstap

# ==== the handshake and the frames ====

@test "-u: fstrm_replay's frames arrive byte for byte, and the connection is logged with its totals" {
	listen_dnstap -u "$TMP/s.sock" -w "$TMP/out.dnstap"
	replay -u "$TMP/s.sock" -r "$UNBOUND" # returns only after our FINISH
	stop_dnstap
	[ "$DT_STATUS" -eq 0 ]
	cmp "$TMP/out.dnstap" "$UNBOUND"
	grep -qx "dnstap: $TMP/s.sock: connection 1: accepted" "$TMP/dnstap.err"
	grep -qx "dnstap: $TMP/s.sock: connection 1: closed (STOP received, FINISH sent): 204 frames, 36870 bytes" "$TMP/dnstap.err"
	grep -qx "dnstap: received 204 frames (36870 bytes) on 1 connection" "$TMP/dnstap.err"
	[ ! -e "$TMP/s.sock" ] # our socket file is removed at exit
}

@test "-l 127.0.0.1:PORT and -l [::1]:PORT: fstrm_replay over TCP, IPv4 and IPv6" {
	listen_dnstap -l 127.0.0.1:0 -l '[::1]:0' -w "$TMP/out.dnstap"
	[ -n "$PORT4" ] && [ -n "$PORT6" ]
	replay -a 127.0.0.1 -p "$PORT4" -r "$KDIG"
	replay -a ::1 -p "$PORT6" -r "$UNBOUND"
	stop_dnstap
	[ "$DT_STATUS" -eq 0 ]
	python3 "$FCHECK" "$TMP/out.dnstap" "$KDIG" "$UNBOUND"
	grep -q "^dnstap: 127.0.0.1:$PORT4: connection 1 from 127.0.0.1:[0-9]*: closed (STOP received, FINISH sent): " "$TMP/dnstap.err"
	grep -q "^dnstap: \[::1\]:$PORT6: connection 2 from \[::1\]:[0-9]*: closed (STOP received, FINISH sent): " "$TMP/dnstap.err"
}

@test "several -u and -l at once, 12 concurrent senders: every frame, each sender's in order, none interleaved" {
	local i pids=()
	for i in 1 2 3 4 5 6 7 8 9 10 11 12; do
		python3 "$GEN_FRAMES" 3000 "$TMP/in$i.dnstap" "sender$i"
	done
	listen_dnstap -u "$TMP/a.sock" -u "$TMP/b.sock" -l 127.0.0.1:0 -l '[::1]:0' -w "$TMP/out.dnstap"
	for i in 1 2 3 4 5 6 7 8 9 10 11 12; do
		case $((i % 4)) in
		0) replay -u "$TMP/a.sock" -r "$TMP/in$i.dnstap" & ;;
		1) replay -u "$TMP/b.sock" -r "$TMP/in$i.dnstap" & ;;
		2) replay -a 127.0.0.1 -p "$PORT4" -r "$TMP/in$i.dnstap" & ;;
		3) go_relay -r "$TMP/in$i.dnstap" -T "[::1]:$PORT6" & ;;
		esac 3>&-
		pids+=($!)
		PIDS+=($!)
	done
	for i in "${pids[@]}"; do
		finished "$i" # each returns once we have answered its STOP
	done
	stop_dnstap
	[ "$DT_STATUS" -eq 0 ]
	run python3 "$FCHECK" "$TMP/out.dnstap" "$TMP"/in{1,2,3,4,5,6,7,8,9,10,11,12}.dnstap
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$output" = "36000 frames" ]
	[ "$(logged 'closed \(STOP received, FINISH sent\): 3000 frames')" -eq 12 ]
}

@test "the Go tool's -U and -T deliver to us" {
	require "$GO_DNSTAP"
	listen_dnstap -u "$TMP/s.sock" -l 127.0.0.1:0 -w "$TMP/out.dnstap"
	go_relay -r "$KDIG" -U "$TMP/s.sock"
	go_relay -r "$UNBOUND" -T "127.0.0.1:$PORT4"
	stop_dnstap
	python3 "$FCHECK" "$TMP/out.dnstap" "$KDIG" "$UNBOUND"
}

@test "ACCEPT carries the content type, and FINISH comes at once after STOP" {
	listen_dnstap -u "$TMP/s.sock" -w "$TMP/out.dnstap"
	# fsend's "accept" fails unless ACCEPT names protobuf:dnstap.Dnstap; "finish" waits 30 s at most
	fsend "unix:$TMP/s.sock" ready accept start "frames=$KDIG" stop finish eof=10
	# a READY that offers several types, or none at all, is served too
	fsend "unix:$TMP/s.sock" ready=text/plain,$CT accept start "frames=$KDIG" stop finish
	fsend "unix:$TMP/s.sock" ready= accept start= "frames=$KDIG" stop finish
	stop_dnstap
	python3 "$FCHECK" "$TMP/out.dnstap" "$KDIG" "$KDIG" "$KDIG"
}

@test "a unidirectional sender (START first, no READY) is accepted" {
	listen_dnstap -u "$TMP/s.sock" -w "$TMP/out.dnstap"
	fsend "unix:$TMP/s.sock" start "frames=$UNBOUND" stop eof=10
	stop_dnstap
	cmp "$TMP/out.dnstap" "$UNBOUND"
	grep -q "connection 1: closed (STOP received): 204 frames" "$TMP/dnstap.err"
}

@test "frames that arrive a byte at a time are put together intact" {
	listen_dnstap -u "$TMP/s.sock" -w "$TMP/out.dnstap"
	fsend "unix:$TMP/s.sock" ready accept start "dribble=$UNBOUND:30" "frames=$UNBOUND" stop finish
	stop_dnstap
	head_frames "$UNBOUND" 30 "$TMP/head.dnstap"
	python3 "$FCHECK" "$TMP/out.dnstap" "$TMP/head.dnstap" "$UNBOUND"
}

# A frame that straddles two of the listener's buffer chunks is copied out whole before it is handed on
# (lib/input_listener.c, scratch()); elsewhere frames are used where they lie. Here that path surely runs: each
# read reserves 64 KiB in libevent's buffer, which rounds a reservation up to a chunk of the next power of
# two, 128 KiB, and never makes one larger; so a frame of over 2 MB cannot lie inside one chunk (nor would
# it with reads of up to 1 MiB). No log line shows the path, hence frames that must take it. The small
# frames between the big ones, and the backlog of small frames read in full 64 KiB chunks while we were
# stopped, meet the chunk ends at many other offsets. Every frame carries its own random bytes, and the
# file must equal what was sent byte for byte.
@test "frames that straddle two read chunks (big ones always, small ones in a backlog) are copied intact" {
	python3 "$GEN_FRAMES" 3000 "$TMP/small.dnstap" backlog # about 600 KB
	python3 "$TOOLS/straddle-frames.py" 64 "$TMP/mixed.dnstap" 2200000 3500000 # 8 frames over 2 MB, 56 small
	{ head -c -12 "$TMP/small.dnstap"; tail -c +43 "$TMP/mixed.dnstap"; } >"$TMP/expected.dnstap"
	listen_dnstap -l 127.0.0.1:0 -w "$TMP/out.dnstap" -v --max-frame-size 4000000
	spawn sender python3 "$FSEND" "127.0.0.1:$PORT4" ready accept start "wait=$TMP/go" \
		"frames=$TMP/small.dnstap" "mark=$TMP/sent" "frames=$TMP/mixed.dnstap" stop finish
	wait_until 10 eval "grep -q 'connection 1 from .*: receiving' '$TMP/dnstap.err'"
	kill -STOP "$DT_PID" # the small frames pile up in the kernel's TCP buffers
	touch "$TMP/go"
	wait_until 10 test -e "$TMP/sent" || true # (or as much as the buffers take)
	kill -CONT "$DT_PID"
	finished "$SPAWNED"
	stop_dnstap
	[ "$DT_STATUS" -eq 0 ]
	cmp "$TMP/out.dnstap" "$TMP/expected.dnstap"
	grep -q "connection 1 from .*: closed (STOP received, FINISH sent): 3064 frames, " "$TMP/dnstap.err"
}

# ==== sockets ====

@test "a stale socket at PATH is replaced" {
	python3 -c 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$TMP/s.sock"
	[ -S "$TMP/s.sock" ]
	listen_dnstap -u "$TMP/s.sock" -w "$TMP/out.dnstap"
	grep -qx "dnstap: $TMP/s.sock: replaced a stale socket" "$TMP/dnstap.err"
	replay -u "$TMP/s.sock" -r "$KDIG"
	stop_dnstap
	cmp "$TMP/out.dnstap" "$KDIG"
}

@test "a file that is not a socket is left alone: error, exit 1" {
	echo precious >"$TMP/s.sock"
	run "$DNSTAP" -u "$TMP/s.sock" -w "$TMP/out.dnstap"
	[ "$status" -eq 1 ]
	[ "$output" = "dnstap: $TMP/s.sock: exists and is not a socket; not replacing it" ]
	[ "$(cat "$TMP/s.sock")" = precious ]
	mkdir "$TMP/dir.sock"
	run "$DNSTAP" -u "$TMP/dir.sock"
	[ "$status" -eq 1 ]
	[ -d "$TMP/dir.sock" ]
}

@test "a socket another process listens on is left alone: error, exit 1" {
	listen_dnstap -u "$TMP/s.sock" -w "$TMP/out.dnstap"
	run "$DNSTAP" -u "$TMP/s.sock" -w "$TMP/other.dnstap"
	[ "$status" -eq 1 ]
	[ "$output" = "dnstap: $TMP/s.sock: another process is listening on this socket" ]
	# the first listener still serves
	replay -u "$TMP/s.sock" -r "$KDIG"
	stop_dnstap
	cmp "$TMP/out.dnstap" "$KDIG"
}

@test "bad TCP addresses and busy ports: one clear line, exit 1" {
	for addr in 127.0.0.1 127.0.0.1: ::1:6000 '[::1]' '[::1]6000' '127.0.0.1:99999' '127.0.0.1:http'; do
		run "$DNSTAP" -l "$addr"
		[ "$status" -eq 1 ]
		[ "$output" = "dnstap: $addr: bad address (want HOST:PORT or [IPv6]:PORT, with a host that resolves)" ]
	done
	listen_dnstap -l 127.0.0.1:0
	run "$DNSTAP" -l "127.0.0.1:$PORT4"
	[ "$status" -eq 1 ]
	[ "$output" = "dnstap: 127.0.0.1:$PORT4: cannot listen: Address already in use" ]
}

@test "-U and -T: at most one relay output" {
	run "$DNSTAP" -r "$KDIG" -U "$TMP/x.sock" -T 127.0.0.1:6000
	[ "$status" -eq 1 ]
	[ "$output" = "dnstap: Error: give at most one -U or -T." ]
}

# ==== output that keeps up ====

@test "-w FILE: a frame reaches the file while its sender stays connected (no STOP, no signal)" {
	listen_dnstap -u "$TMP/s.sock" -w "$TMP/out.dnstap"
	spawn sender python3 "$FSEND" "unix:$TMP/s.sock" ready accept start "frames=$KDIG:1" "mark=$TMP/sent" sleep=60
	wait_until 10 test -e "$TMP/sent"
	local t0=$SECONDS
	wait_until 5 at_least_frames "$TMP/out.dnstap" 1
	echo "# on disk after about $((SECONDS - t0)) s" >&3
	kill -0 "$SPAWNED" # the sender is still connected
	[ "$(frames "$TMP/out.dnstap")" -eq 1 ]
}

@test "text to stdout: each message is printed as it arrives, even at one message at a time" {
	export TZ=UTC
	listen_dnstap -u "$TMP/s.sock" -q
	spawn sender python3 "$FSEND" "unix:$TMP/s.sock" ready accept start "frames=$KDIG:1" "wait=$TMP/go" "frames=$KDIG:2" sleep=60
	wait_until 5 test -s "$TMP/dnstap.out"
	[ "$(wc -l <"$TMP/dnstap.out")" -eq 1 ]
	touch "$TMP/go"
	wait_until 5 eval '[ "$(wc -l <"$TMP/dnstap.out")" -eq 3 ]'
	kill -0 "$SPAWNED" # still connected: nothing was flushed by a close
	{ "$DNSTAP" -r "$KDIG" -q | head -n 1; "$DNSTAP" -r "$KDIG" -q | head -n 2; } >"$TMP/expected"
	cmp "$TMP/dnstap.out" "$TMP/expected"
}

# ==== signals ====

# A sender finishes its handshake; we are frozen (SIGSTOP) while it sends 500 frames, which wait in the
# kernel's socket buffer; then SIGNAL and SIGCONT: we must read them all before finishing the file.
signal_test() {
	local sig=$1
	listen_dnstap -u "$TMP/s.sock" -w "$TMP/out.dnstap" -v
	python3 "$GEN_FRAMES" 500 "$TMP/in.dnstap" queued
	spawn sender python3 "$FSEND" "unix:$TMP/s.sock" ready accept start "wait=$TMP/go" "frames=$TMP/in.dnstap" "mark=$TMP/sent" sleep=60
	wait_until 10 eval "grep -q 'connection 1: receiving' '$TMP/dnstap.err'"
	kill -STOP "$DT_PID"
	touch "$TMP/go"
	wait_until 10 test -e "$TMP/sent"
	kill -"$sig" "$DT_PID"
	kill -CONT "$DT_PID"
	stop "$DT_PID" "$sig"
	[ "$STOPPED_STATUS" -eq 0 ]
	python3 "$FCHECK" "$TMP/out.dnstap" "$TMP/in.dnstap"
	grep -qx "dnstap: SIG$sig: reading what the senders have sent, then finishing" "$TMP/dnstap.err"
	grep -qx "dnstap: $TMP/s.sock: connection 1: closed (shutting down): 500 frames, [0-9]* bytes" "$TMP/dnstap.err"
	[ ! -e "$TMP/s.sock" ]
}

@test "SIGTERM: what connected senders already sent is written, the file ends with STOP, exit 0" {
	signal_test TERM
}

@test "SIGINT (in a background job, where the shell ignores it): the same" {
	signal_test INT
}

@test "SIGHUP after a rename: the old file is finished with STOP, the path starts afresh, nothing lost" {
	python3 "$GEN_FRAMES" 300 "$TMP/a.dnstap" before
	python3 "$GEN_FRAMES" 200 "$TMP/b.dnstap" after
	listen_dnstap -u "$TMP/s.sock" -w "$TMP/out.dnstap"
	spawn sender python3 "$FSEND" "unix:$TMP/s.sock" ready accept start "frames=$TMP/a.dnstap" "wait=$TMP/go" "frames=$TMP/b.dnstap" stop finish
	wait_until 10 at_least_frames "$TMP/out.dnstap" 300
	mv "$TMP/out.dnstap" "$TMP/out.dnstap.1"
	kill -HUP "$DT_PID"
	wait_until 10 test -e "$TMP/out.dnstap"
	touch "$TMP/go"
	finished "$SPAWNED"
	stop_dnstap
	[ "$DT_STATUS" -eq 0 ]
	python3 "$FCHECK" "$TMP/out.dnstap.1" "$TMP/a.dnstap"
	python3 "$FCHECK" "$TMP/out.dnstap" "$TMP/b.dnstap"
}

@test "SIGHUP without a rename does not truncate the file" {
	listen_dnstap -u "$TMP/s.sock" -w "$TMP/out.dnstap"
	spawn sender python3 "$FSEND" "unix:$TMP/s.sock" ready accept start "frames=$UNBOUND" "wait=$TMP/go" "frames=$KDIG" stop finish
	wait_until 10 at_least_frames "$TMP/out.dnstap" 204
	kill -HUP "$DT_PID"
	wait_until 10 eval "grep -q 'SIGHUP: .* has not been moved away' '$TMP/dnstap.err'"
	touch "$TMP/go"
	finished "$SPAWNED"
	stop_dnstap
	python3 "$FCHECK" "$TMP/out.dnstap" "$UNBOUND" "$KDIG"
}

@test "--max-size: every file complete, none over the size, no frame lost or reordered" {
	python3 "$GEN_FRAMES" 2000 "$TMP/in.dnstap" sized
	listen_dnstap -u "$TMP/s.sock" -w "$TMP/out-%Y.dnstap" --max-size 50000
	replay -u "$TMP/s.sock" -r "$TMP/in.dnstap"
	stop_dnstap
	[ "$DT_STATUS" -eq 0 ]
	local files f
	files=$(rotated_files)
	# out-YYYY.dnstap, then out-YYYY-1.dnstap, out-YYYY-2.dnstap...: a finished file is never overwritten
	[[ $files == "$TMP/out-$(date +%Y).dnstap,$TMP/out-$(date +%Y)-1.dnstap,"* ]]
	[ "$(ls "$TMP"/out-*.dnstap | wc -l)" -gt 5 ]
	[ "$(ls "$TMP"/out-*.dnstap | wc -l)" -eq "$(echo "$files" | tr , '\n' | wc -l)" ]
	for f in "$TMP"/out-*.dnstap; do
		[ "$(stat -c %s "$f")" -le 50000 ]
	done
	python3 "$FCHECK" "$files" "$TMP/in.dnstap"
}

@test "--max-size with text: files turn over once they reach the size; every line kept, in order" {
	export TZ=UTC
	listen_dnstap -u "$TMP/s.sock" -q -w "$TMP/out.txt" --max-size 3000
	fsend "unix:$TMP/s.sock" ready accept start "frames=$UNBOUND:30" sleep=0.1 "frames=$UNBOUND:30" sleep=0.1 "frames=$UNBOUND:30" stop finish
	wait_until 10 eval "grep -q 'finished (size)' '$TMP/dnstap.err'"
	stop_dnstap
	local files
	files=$(rotated_files)
	[ "$(echo "$files" | tr , '\n' | wc -l)" -ge 2 ]
	head_frames "$UNBOUND" 30 "$TMP/head.dnstap"
	"$DNSTAP" -r "$TMP/head.dnstap" -r "$TMP/head.dnstap" -r "$TMP/head.dnstap" -q >"$TMP/expected"
	echo "$files" | tr , '\n' | xargs cat | cmp - "$TMP/expected"
}

@test "--split: files turn over on a timer even with no traffic; each finished file is complete" {
	listen_dnstap -u "$TMP/s.sock" -w "$TMP/out-%H%M%S.dnstap" --split 1
	wait_until 10 eval '[ "$(ls "$TMP"/out-*.dnstap | wc -l)" -ge 3 ]'
	replay -u "$TMP/s.sock" -r "$KDIG"
	stop_dnstap
	[ "$DT_STATUS" -eq 0 ]
	local files
	files=$(rotated_files)
	[ "$(ls "$TMP"/out-*.dnstap | wc -l)" -eq "$(echo "$files" | tr , '\n' | wc -l)" ]
	python3 "$FCHECK" "$files" "$KDIG"
	[ "$(logged 'finished \(time\)')" -ge 2 ]
}

# ==== misbehaving peers: one line each, the connection closed, the others unharmed ====

@test "a silent client does not block others, and is closed at the handshake timeout (-t)" {
	listen_dnstap -u "$TMP/s.sock" -w "$TMP/out.dnstap" -t 1500ms
	spawn silent python3 "$FSEND" "unix:$TMP/s.sock" eof=30
	wait_until 10 eval "grep -q 'connection 1: accepted' '$TMP/dnstap.err'"
	replay -u "$TMP/s.sock" -r "$KDIG" # served while the silent one waits
	grep -q "connection 2: closed (STOP received, FINISH sent)" "$TMP/dnstap.err"
	finished "$SPAWNED" # fsend's eof step: we closed the silent connection
	[ "$(logged "^dnstap: $TMP/s.sock: connection 1: closed: handshake timeout: no READY or START within 1500 ms; 0 frames, 0 bytes$")" -eq 1 ]
	stop_dnstap
	cmp "$TMP/out.dnstap" "$KDIG"
}

@test "garbage, a wrong content type, a malformed control frame: closed with one line each" {
	listen_dnstap -u "$TMP/s.sock" -w "$TMP/out.dnstap"
	local fds0
	fds0=$(ls /proc/"$DT_PID"/fd | wc -l)
	fsend "unix:$TMP/s.sock" raw=474554202f20485454502f312e310d0a0d0a eof=10
	fsend "unix:$TMP/s.sock" ready=text/plain eof=10
	fsend "unix:$TMP/s.sock" start=text/plain eof=10
	fsend "unix:$TMP/s.sock" ready accept raw=0000000000000002 eof=10
	fsend "unix:$TMP/s.sock" ready accept ready eof=10
	run timeout 60 fstrm_replay -t text/plain -u "$TMP/s.sock" -r "$KDIG"
	[ "$status" -ne 0 ]
	replay -u "$TMP/s.sock" -r "$KDIG"
	grep -qx "dnstap: $TMP/s.sock: connection 1: closed: not a Frame Streams sender (got 47 45 54 20 2f 20 48 54 instead of READY or START); 0 frames, 0 bytes" "$TMP/dnstap.err"
	grep -qx "dnstap: $TMP/s.sock: connection 2: closed: wrong content type: READY does not offer $CT; 0 frames, 0 bytes" "$TMP/dnstap.err"
	grep -qx "dnstap: $TMP/s.sock: connection 3: closed: wrong content type: START is not for $CT; 0 frames, 0 bytes" "$TMP/dnstap.err"
	grep -qx "dnstap: $TMP/s.sock: connection 4: closed: handshake error: expected START after ACCEPT, got bytes 00 00 00 00 00 00 00 02; 0 frames, 0 bytes" "$TMP/dnstap.err"
	grep -qx "dnstap: $TMP/s.sock: connection 5: closed: handshake error: expected START after ACCEPT, got READY (control type 4); 0 frames, 0 bytes" "$TMP/dnstap.err"
	grep -q "^dnstap: $TMP/s.sock: connection 6: closed: wrong content type" "$TMP/dnstap.err"
	# each misbehaving connection got exactly one line besides "accepted", and its descriptor is released
	local i
	for i in 1 2 3 4 5 6; do
		[ "$(grep -c "connection $i: " "$TMP/dnstap.err")" -eq 2 ]
	done
	[ "$(ls /proc/"$DT_PID"/fd | wc -l)" -eq "$fds0" ]
	stop_dnstap
	cmp "$TMP/out.dnstap" "$KDIG"
	grep -q "6 misbehaving senders disconnected" "$TMP/dnstap.err"
}

@test "a malformed control frame after START closes the connection; the frames before it are kept" {
	listen_dnstap -u "$TMP/s.sock" -w "$TMP/out.dnstap"
	fsend "unix:$TMP/s.sock" ready accept start "frames=$KDIG" raw=0000000000000002 eof=10
	stop_dnstap
	grep -q "connection 1: closed: malformed control frame (length 2); $(frames "$KDIG") frames, " "$TMP/dnstap.err"
	python3 "$FCHECK" "$TMP/out.dnstap" "$KDIG"
}

@test "an oversize frame is skipped by its length prefix and logged; its connection goes on" {
	head_frames "$KDIG" 2 "$TMP/small.dnstap" # frames of 85 and 117 bytes
	listen_dnstap -u "$TMP/s.sock" -w "$TMP/out.dnstap" --max-frame-size 1000
	fsend "unix:$TMP/s.sock" ready accept start "frames=$TMP/small.dnstap" big=5000 "frames=$TMP/small.dnstap" stop finish
	stop_dnstap
	python3 "$FCHECK" "$TMP/out.dnstap" "$TMP/small.dnstap" "$TMP/small.dnstap"
	[ "$(logged "^dnstap: $TMP/s.sock: connection 1: frame 3: data frame of 5000 bytes is over the limit of 1000 bytes; skipped$")" -eq 1 ]
	grep -q "connection 1: closed (STOP received, FINISH sent): 4 frames" "$TMP/dnstap.err"
	grep -q "1 oversize frame skipped" "$TMP/dnstap.err"
}

@test "the default frame limit (256 KiB) skips a 300000-byte frame and keeps the others" {
	listen_dnstap -u "$TMP/s.sock" -w "$TMP/out.dnstap"
	fsend "unix:$TMP/s.sock" ready accept start "frames=$KDIG" big=300000 "frames=$KDIG" stop finish
	stop_dnstap
	python3 "$FCHECK" "$TMP/out.dnstap" "$KDIG" "$KDIG"
	grep -q "data frame of 300000 bytes is over the limit of 262144 bytes; skipped" "$TMP/dnstap.err"
}

@test "a peer that disappears mid-frame: one line, the frames before it kept, others unharmed" {
	listen_dnstap -u "$TMP/s.sock" -l 127.0.0.1:0 -w "$TMP/out.dnstap"
	fsend "unix:$TMP/s.sock" ready accept start "frames=$KDIG:2" half
	fsend "127.0.0.1:$PORT4" ready accept start "frames=$UNBOUND:5" half
	replay -u "$TMP/s.sock" -r "$UNBOUND"
	wait_until 10 eval "[ \$(logged 'connection lost in the middle of a frame') -eq 2 ]"
	stop_dnstap
	grep -qx "dnstap: $TMP/s.sock: connection 1: closed: connection lost in the middle of a frame (54 bytes of it received); 2 frames, 202 bytes" "$TMP/dnstap.err"
	grep -q "connection 2 from 127.0.0.1:[0-9]*: closed: connection lost in the middle of a frame (54 bytes of it received); 5 frames" "$TMP/dnstap.err"
	head_frames "$KDIG" 2 "$TMP/head2.dnstap"
	head_frames "$UNBOUND" 5 "$TMP/head5.dnstap"
	python3 "$FCHECK" "$TMP/out.dnstap" "$TMP/head2.dnstap" "$TMP/head5.dnstap" "$UNBOUND"
}

# backlog PATH: connections queued on the listening unix socket PATH that nobody has accepted yet.
backlog() {
	ss -xlnH src "$1" | awk '{ print $3 }'
}

# line_of REGEX: the number of the first line of our log that matches (0: none).
line_of() {
	grep -nE -m 1 -- "$1" "$TMP/dnstap.err" | cut -d: -f1 | grep . || echo 0
}

@test "--max-connections: at the limit new senders wait (logged once), and are served when one leaves" {
	require ss
	listen_dnstap -u "$TMP/s.sock" -w "$TMP/out.dnstap" --max-connections 2 -t 0
	spawn silent1 python3 "$FSEND" "unix:$TMP/s.sock" "wait=$TMP/go1"
	wait_until 10 eval "grep -q 'connection 1: accepted' '$TMP/dnstap.err'" # so it is connection 1
	spawn silent2 python3 "$FSEND" "unix:$TMP/s.sock" sleep=60
	wait_until 10 eval "grep -q 'limit of 2 connections reached' '$TMP/dnstap.err'"
	spawn replay fstrm_replay -t "$CT" -u "$TMP/s.sock" -r "$KDIG"
	local r=$SPAWNED
	# the third sender has really connected, and waits in the kernel's backlog, not accepted by us
	wait_until 10 eval '[ "$(backlog "$TMP/s.sock")" = 1 ]'
	[ "$(logged 'connection 3')" -eq 0 ]
	[ "$(frames "$TMP/out.dnstap")" -eq 0 ]
	kill -0 "$r"
	touch "$TMP/go1" # one silent client leaves
	finished "$r"
	[ "$(backlog "$TMP/s.sock")" = 0 ]
	stop_dnstap
	[ "$DT_STATUS" -eq 0 ]
	# it was accepted only once connection 1 had gone, and every one of its frames arrived
	[ "$(line_of "connection 1: closed")" -gt 0 ]
	[ "$(line_of "connection 3: accepted")" -gt "$(line_of "connection 1: closed")" ]
	grep -qx "dnstap: $TMP/s.sock: connection 3: closed (STOP received, FINISH sent): 104 frames, [0-9]* bytes" \
		"$TMP/dnstap.err"
	cmp "$TMP/out.dnstap" "$KDIG"
	# the first time the limit is reached is logged, the second (connection 3 taking the freed place) not
	[ "$(logged 'limit of 2 connections reached')" -eq 1 ]
}

# ==== limits and logging flags ====

@test "-t takes Go durations; a bad one is a usage error" {
	for t in 500ms 2s 1m 1h 1.5s 1m30s 0; do
		run "$DNSTAP" -t "$t" -r "$KDIG" -w "$TMP/x"
		[ "$status" -eq 0 ]
	done
	for t in bogus 5 -1s 1x; do
		run "$DNSTAP" -t "$t" -r "$KDIG"
		[ "$status" -eq 2 ]
		[[ "${lines[0]}" == "dnstap: invalid value \"$t\" for flag -t"* ]]
	done
}

@test "-v logs handshakes; --silent only problems; a summary line at exit" {
	listen_dnstap -u "$TMP/s.sock" -w "$TMP/out.dnstap" -v
	replay -u "$TMP/s.sock" -r "$KDIG"
	stop_dnstap
	grep -q "connection 1: READY received" "$TMP/dnstap.err"
	grep -q "connection 1: ACCEPT sent" "$TMP/dnstap.err"
	grep -q "connection 1: FINISH sent" "$TMP/dnstap.err"

	rm "$TMP/out.dnstap"
	spawn dnstap "$DNSTAP" -u "$TMP/s.sock" -w "$TMP/out.dnstap" --silent -t 300ms
	DT_PID=$SPAWNED
	wait_until 10 test -S "$TMP/s.sock"
	replay -u "$TMP/s.sock" -r "$KDIG"
	fsend "unix:$TMP/s.sock" eof=10
	stop_dnstap
	[ "$(wc -l <"$TMP/dnstap.err")" -eq 1 ]
	grep -q "connection 2: closed: handshake timeout" "$TMP/dnstap.err"
	cmp "$TMP/out.dnstap" "$KDIG"
}

@test "listening and -r together: the files first, then the senders, into one output" {
	listen_dnstap -r "$KDIG" -u "$TMP/s.sock" -w "$TMP/out.dnstap"
	replay -u "$TMP/s.sock" -r "$UNBOUND"
	stop_dnstap
	python3 "$FCHECK" "$TMP/out.dnstap" "$KDIG" "$UNBOUND"
}

# ==== volume ====

volume_test() {
	python3 "$GEN_FRAMES" 1000000 "$TMP/big.dnstap" volume
	if [ "$1" = unix ]; then
		listen_dnstap -u "$TMP/s.sock" -w "$TMP/out.dnstap"
		replay -u "$TMP/s.sock" -r "$TMP/big.dnstap"
	else
		listen_dnstap -l 127.0.0.1:0 -w "$TMP/out.dnstap"
		replay -a 127.0.0.1 -p "$PORT4" -r "$TMP/big.dnstap"
	fi
	stop_dnstap
	[ "$DT_STATUS" -eq 0 ]
	# every frame is distinct (gen-frames numbers them): byte equality means complete and in order (over
	# TCP, a few hundred frames also straddle two 64 KiB read chunks and take the copying path)
	cmp "$TMP/out.dnstap" "$TMP/big.dnstap"
	grep -q "closed (STOP received, FINISH sent): 1000000 frames" "$TMP/dnstap.err"
}

@test "1,000,000 frames over a unix socket arrive complete and in order" {
	volume_test unix
}

@test "1,000,000 frames over TCP arrive complete and in order" {
	volume_test tcp
}
