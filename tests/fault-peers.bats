#!/usr/bin/env bats
# The socket side of the fault matrix (issue 5): a sender killed mid-frame, a thousand senders at once and
# more than --max-connections, ten thousand connections that come and go, SIGTERM mid-stream, and hostile
# bytes next to a good sender. Each case checks that nothing the listener accepted is lost (every frame
# carries "TAG N": tests/tools/fault_client.py check finds any frame lost, repeated or reordered), that
# the listener still serves a good sender afterwards, and the stderr lines and descriptors it leaves.

load helpers
load peers

FAULT=$TOOLS/fault_client.py

setup() {
	common_setup
	require python3
	: >"$TMP/expected" # "TAG COUNT": the frames each sender must have in the output, in order
}

teardown() {
	stop_all
	common_teardown
}

# ==== helpers ====

# listen_on unix|tcp ARG...: our listener on a unix socket or a TCP port of 127.0.0.1, writing
# $TMP/out.dnstap. Sets ADDR (for the senders), SOCKNAME (how the log names the socket) and FDS0 (its
# descriptors with no sender connected, once the output file is open).
listen_on() {
	local kind=$1
	shift
	if [ "$kind" = unix ]; then
		listen_dnstap -u "$TMP/s.sock" -w "$TMP/out.dnstap" "$@"
		ADDR=unix:$TMP/s.sock
		SOCKNAME=$TMP/s.sock
	else
		listen_dnstap -l 127.0.0.1:0 -w "$TMP/out.dnstap" "$@"
		[ -n "$PORT4" ]
		ADDR=127.0.0.1:$PORT4
		SOCKNAME=127.0.0.1:$PORT4
	fi
	wait_until 10 test -e "$TMP/out.dnstap"
	FDS0=$(fds)
}

# The listener's open descriptors.
fds() {
	ls "/proc/$DT_PID/fd" | wc -l
}

fds_are() {
	[ "$(fds)" -eq "$1" ]
}

# The start of every log line about connection N of SOCKNAME (a TCP one names the peer's address too).
conn_re() {
	echo "^dnstap: $SOCKNAME: connection $1( from 127\\.0\\.0\\.1:[0-9]+)?: "
}

# logged_times N REGEX: REGEX has been logged N times by now (a line may follow the FINISH its sender saw).
logged_times() {
	[ "$(logged "$2")" -eq "$1" ]
}

# The number the next connection will get (connections are numbered as they are accepted).
next_conn() {
	echo $(($(logged ': accepted$') + 1))
}

# served NAME N: still serving: a new good sender delivers N frames of its own, STOP, and gets FINISH.
served() {
	timeout 60 python3 "$FAULT" send "$ADDR" "$1" "$2"
	echo "$1 $2" >>"$TMP/expected"
}

# payload_bytes FILE N: the payload bytes of the N data frames of a gen-frames file (START, the frames,
# STOP), as the log counts them.
payload_bytes() {
	echo $(($(stat -c %s "$1") - 42 - 12 - 4 * $2))
}

# split_frames IN K A B: the first K data frames of Frame Streams file IN into A, the others into B.
split_frames() {
	head_frames "$1" "$2" "$3"
	python3 - "$@" <<'EOF'
import struct, sys
d = open(sys.argv[1], "rb").read()
pos = 42
for _ in range(int(sys.argv[2])):
    pos += 4 + struct.unpack_from(">I", d, pos)[0]
open(sys.argv[4], "wb").write(d[:42] + d[pos:])
EOF
}

# arrivals_match: the output file is complete (START ... STOP) and holds exactly the frames listed in
# $TMP/expected, each sender's in order; our own reader reads it cleanly, one message per frame.
arrivals_match() {
	local total
	LC_ALL=C sort "$TMP/expected" >"$TMP/expected.sorted"
	python3 "$FAULT" check "$TMP/out.dnstap" >"$TMP/arrived"
	diff -u "$TMP/expected.sorted" "$TMP/arrived"
	total=$(awk '{ n += $2 } END { print n + 0 }' "$TMP/expected")
	"$DNSTAP" -r "$TMP/out.dnstap" -q >"$TMP/out.txt"
	[ "$(wc -l <"$TMP/out.txt")" -eq "$total" ]
	grep -q "^dnstap: received $total frames (" "$TMP/dnstap.err"
}

# streamer NAME: a good sender that streams steadily (10 frames every 5 ms or so) until told to stop; it is
# connected and sending when this returns. streamer_done NAME: tells it to stop, waits, records what it sent.
streamer() {
	spawn "$1" python3 "$FAULT" stream "$ADDR" "$1" "$TMP/$1.stop" "$TMP/$1.streaming"
	echo "$SPAWNED" >"$TMP/$1.pid"
	wait_until 30 alive_and "$SPAWNED" "$1" test -e "$TMP/$1.streaming"
}

streamer_done() {
	touch "$TMP/$1.stop"
	finished "$(cat "$TMP/$1.pid")" # STOP answered with FINISH, or it fails
	cat "$TMP/$1.out" >>"$TMP/expected"
}

# ==== 1. a sender killed mid-frame ====

kill_test() {
	listen_on "$1"
	python3 "$GEN_FRAMES" 5 "$TMP/victim.dnstap" victim
	spawn victim python3 "$FSEND" "$ADDR" ready accept start "frames=$TMP/victim.dnstap" "wait=$TMP/go" half "mark=$TMP/cut" sleep=120
	local victim=$SPAWNED
	wait_until 30 at_least_frames "$TMP/out.dnstap" 5 # connection 1 is the victim
	streamer s1
	streamer s2
	streamer s3
	local busy
	busy=$(fds)
	[ "$busy" -eq $((FDS0 + 4)) ]
	touch "$TMP/go"
	wait_until 30 alive_and "$victim" victim test -e "$TMP/cut" # half a frame is out
	kill -KILL "$victim"
	wait_until 30 logged_times 1 "$(conn_re 1)closed"
	# one line (besides "accepted"), naming the peer, with the 5 whole frames before the cut counted
	[ "$(logged "$(conn_re 1)")" -eq 2 ]
	[ "$(logged "$(conn_re 1)closed: connection lost in the middle of a frame \(54 bytes of it received\); 5 frames, $(payload_bytes "$TMP/victim.dnstap" 5) bytes$")" -eq 1 ]
	wait_until 30 fds_are $((busy - 1)) # its descriptor is released, the others' kept
	echo "victim 5" >>"$TMP/expected"
	# the others go on streaming after the kill, and lose nothing
	local n
	n=$(frames "$TMP/out.dnstap")
	wait_until 30 at_least_frames "$TMP/out.dnstap" $((n + 300))
	streamer_done s1
	streamer_done s2
	streamer_done s3
	wait_until 30 fds_are "$FDS0"
	served good 200
	stop_dnstap
	[ "$DT_STATUS" -eq 0 ]
	arrivals_match
	[ "$(logged 'closed \(STOP received, FINISH sent\)')" -eq 4 ]
	grep -q ", 1 misbehaving sender disconnected$" "$TMP/dnstap.err"
}

@test "unix: a sender SIGKILLed mid-frame: one line names it, its fd is released, the streaming others lose nothing" {
	kill_test unix
}

@test "TCP: a sender SIGKILLed mid-frame: one line names it, its fd is released, the streaming others lose nothing" {
	kill_test tcp
}

# ==== 2. many senders at once ====

thousand_test() {
	ulimit -n 4096 2>/dev/null || ulimit -n "$(ulimit -Hn)"
	[ "$(ulimit -n)" -ge 1100 ] # our client holds 1,000 sockets too
	listen_on "$1"
	# 1,000 connections, all handshaken (ACCEPT received) before any sends START
	spawn many python3 "$FAULT" many "$ADDR" 1000 5 c "$TMP/all" "$TMP/go"
	local many=$SPAWNED
	wait_until 60 alive_and "$many" many test -e "$TMP/all"
	[ "$(fds)" -eq $((FDS0 + 1000)) ] # the listener holds all 1,000 at once
	[ "$(logged ': accepted$')" -eq 1000 ]
	touch "$TMP/go"
	finished "$many" # each sends 5 frames and STOP and gets FINISH
	[ "$(cat "$TMP/many.out")" = "1000 connections, 1000 FINISH" ]
	wait_until 30 logged_times 1000 "closed \(STOP received, FINISH sent\): 5 frames, [0-9]+ bytes$"
	[ "$(logged 'limit of|accept failed|misbehaving|: closed: ')" -eq 0 ]
	wait_until 30 fds_are "$FDS0"
	local i
	for ((i = 1; i <= 1000; i++)); do
		echo "c$i 5"
	done >>"$TMP/expected"
	served good 200
	stop_dnstap
	[ "$DT_STATUS" -eq 0 ]
	arrivals_match # exactly every frame, each sender's in order
	grep -qx "dnstap: received 5200 frames ([0-9]* bytes) on 1001 connections" "$TMP/dnstap.err"
}

@test "unix: 1,000 concurrent senders all complete the handshake; every frame arrives, each sender's in order" {
	thousand_test unix
}

@test "TCP: 1,000 concurrent senders all complete the handshake; every frame arrives, each sender's in order" {
	thousand_test tcp
}

# The most connections open at once, from the log's accepted/closed lines (they come in event order).
most_open() {
	awk '/: accepted$/ { n++; if (n > m) m = n } /: closed/ { n-- } END { print m + 0 }' "$TMP/dnstap.err"
}

@test "30 senders over --max-connections 10: the limit is logged once, never passed, and everyone is served" {
	listen_on tcp --max-connections 10
	timeout 120 python3 "$FAULT" many "$ADDR" 30 5 m # each: READY ... STOP, FINISH, as soon as accepted
	wait_until 30 logged_times 30 "closed \(STOP received, FINISH sent\): 5 frames, [0-9]+ bytes$"
	[ "$(most_open)" -eq 10 ]
	wait_until 30 fds_are "$FDS0"
	local i
	for ((i = 1; i <= 30; i++)); do
		echo "m$i 5"
	done >>"$TMP/expected"
	served good 200
	stop_dnstap
	[ "$DT_STATUS" -eq 0 ]
	arrivals_match
	[ "$(logged '^dnstap: limit of 10 connections reached \(--max-connections\): new senders wait until one closes$')" -eq 1 ]
}

# ==== 3. connections that come and go ====

# Every connection accepted so far has been closed again.
all_closed() { # N: connections in all
	[ "$(logged ': accepted$')" -eq "$1" ] && [ "$(logged ': closed')" -eq "$1" ]
}

rss_kb() {
	awk '$1 == "VmRSS:" { print $2 }' "/proc/$DT_PID/status"
}

@test "10,000 connect/disconnect cycles leak neither descriptors nor memory, and lose no frame" {
	# Under AddressSanitizer freed memory waits in a quarantine (256 MB) that would look like growth;
	# without it the allocator reuses memory as malloc does (its leak check at exit still runs).
	export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=0:thread_local_quarantine_size_kb=0
	listen_dnstap -u "$TMP/s.sock" -l 127.0.0.1:0 -w "$TMP/out.dnstap"
	wait_until 10 test -e "$TMP/out.dnstap"
	local fds0 sent1 sent2 rss1 rss2
	fds0=$(fds)
	# each third: connect and close; connect, READY and close; a whole session with one frame. Over the
	# unix socket and TCP in turn (so every kind goes over both).
	local to="unix:$TMP/s.sock,127.0.0.1:$PORT4"
	sent1=$(timeout 120 python3 "$FAULT" cycles "$to" 1000 cycle 1) # the warm-up
	wait_until 30 all_closed 1000
	wait_until 30 fds_are "$fds0"
	rss1=$(rss_kb)
	sent2=$(timeout 300 python3 "$FAULT" cycles "$to" 10000 cycle $((sent1 + 1)))
	wait_until 60 all_closed 11000
	wait_until 30 fds_are "$fds0"
	rss2=$(rss_kb)
	echo "# VmRSS $rss1 kB after 1,000 cycles, $rss2 kB after 11,000" >&3
	# a leak of 100 bytes per connection would be 1,000,000 bytes by now
	[ $((rss2 - rss1)) -le 512 ]
	[ "$sent2" -eq 3333 ]
	echo "cycle $((sent1 + sent2))" >>"$TMP/expected"
	ADDR=unix:$TMP/s.sock
	served good-unix 200
	ADDR=127.0.0.1:$PORT4
	served good-tcp 200
	stop_dnstap
	[ "$DT_STATUS" -eq 0 ]
	arrivals_match
	[ "$(logged "closed \(STOP received, FINISH sent\): 1 frame, [0-9]+ bytes$")" -eq $((sent1 + sent2)) ]
}

# ==== 4. SIGTERM mid-stream ====

@test "SIGTERM while four senders stream in batches: exit 0, a complete file, every FINISHed frame in it, no gaps" {
	listen_dnstap -u "$TMP/s.sock" -l 127.0.0.1:0 -w "$TMP/out.dnstap"
	local i pids=() to
	for i in 1 2 3 4; do
		if ((i % 2)); then to=unix:$TMP/s.sock; else to=127.0.0.1:$PORT4; fi
		# READY, ACCEPT, START, 200 frames, STOP, FINISH; again and again until we go away
		spawn "b$i" timeout 120 python3 "$FAULT" batches "$to" "b$i" 200 "$TMP/b$i.result" "$TMP/b$i.mark"
		pids+=("$SPAWNED")
	done
	for i in 1 2 3 4; do
		wait_until 60 alive_and "${pids[i - 1]}" "b$i" test -e "$TMP/b$i.mark" # two batches FINISHed
	done
	stop_dnstap TERM # in the middle of the stream
	[ "$DT_STATUS" -eq 0 ]
	for i in 1 2 3 4; do
		finished "${pids[i - 1]}" || { cat "$TMP"/b*.err; false; } # each stops by itself once we are gone
	done
	grep -qx "dnstap: SIGTERM: reading what the senders have sent, then finishing" "$TMP/dnstap.err"
	# START ... STOP, each sender's frames 1..N in order, nothing else
	python3 "$FAULT" check "$TMP/out.dnstap" >"$TMP/arrived"
	cat "$TMP/arrived"
	local tag sent confirmed got total=0
	for i in 1 2 3 4; do
		read -r tag sent confirmed <"$TMP/b$i.result"
		[ "$tag" = "b$i" ]
		got=$(awk -v t="b$i" '$1 == t { print $2 }' "$TMP/arrived")
		echo "# b$i: sent $sent, FINISH for $confirmed, in the file ${got:-0}" >&3
		[ "$confirmed" -ge 400 ]
		[ "${got:-0}" -ge "$confirmed" ] # every frame a sender got FINISH for is there
		[ "${got:-0}" -le "$sent" ]      # and no more than it sent (a prefix: check saw no gap)
		total=$((total + ${got:-0}))
	done
	[ "$(wc -l <"$TMP/arrived")" -le 4 ]
	"$DNSTAP" -r "$TMP/out.dnstap" -q >"$TMP/out.txt" # reads cleanly to its STOP
	[ "$(wc -l <"$TMP/out.txt")" -eq "$total" ]
	grep -q "^dnstap: received $total frames (" "$TMP/dnstap.err"
	[ ! -e "$TMP/s.sock" ]
}

# ==== 5. hostile peers, each next to a good sender ====

# hostile NAME KEPT WHY STEP...: a hostile peer (fsend STEP...; frames=FRAMES sends KEPT good frames of
# its own first) must be closed by us with one line, "closed: WHY; KEPT frames, B bytes", and its
# descriptor released, while the good sender "g" streams on undisturbed; then a new sender is served.
hostile() {
	local name=$1 kept=$2 why=$3 steps=() s h bytes=0 unit=frames
	shift 3
	fds_are $((FDS0 + 1)) # only g is connected
	if ((kept > 0)); then
		python3 "$GEN_FRAMES" "$kept" "$TMP/$name.dnstap" "$name"
		bytes=$(payload_bytes "$TMP/$name.dnstap" "$kept")
		echo "$name $kept" >>"$TMP/expected"
	fi
	((kept == 1)) && unit=frame
	for s in "$@"; do
		steps+=("${s/#frames=FRAMES/frames=$TMP/$name.dnstap}")
	done
	h=$(next_conn)
	fsend "$ADDR" "${steps[@]}" # ends with eof=: we must close it, or with the peer leaving
	wait_until 30 logged_times 1 "$(conn_re "$h")closed"
	echo "# $name: $(grep -E "$(conn_re "$h")closed" "$TMP/dnstap.err")" >&3
	[ "$(logged "$(conn_re "$h")")" -eq 2 ] # "accepted", and one line that says why
	[ "$(logged "$(conn_re "$h")closed: $why; $kept $unit, $bytes bytes$")" -eq 1 ]
	wait_until 30 fds_are $((FDS0 + 1)) # its descriptor released, g's kept
	kill -0 "$(cat "$TMP/g.pid")"       # g still streaming
	served "a-$name" 50
	wait_until 30 fds_are $((FDS0 + 1))
	HOSTILE=$((HOSTILE + 1))
}

hostile_matrix() {
	local CT_RE='protobuf:dnstap\.Dnstap'
	HOSTILE=0
	listen_on "$1" -t 2s
	streamer g # connection 1, all along
	hostile garbage 0 'not a Frame Streams sender \(got 47 45 54 20 2f 20 48 54 instead of READY or START\)' \
		raw=474554202f20485454502f312e310d0a0d0a eof=20
	hostile silent 0 'handshake timeout: no READY or START within 2 s' eof=20
	hostile silent-after-accept 0 'handshake timeout: no START within 2 s' ready accept eof=20
	hostile ready-ct 0 "wrong content type: READY does not offer $CT_RE" ready=text/plain eof=20
	hostile start-ct 0 "wrong content type: START is not for $CT_RE" ready accept start=text/plain eof=20
	hostile start-ct-unidirectional 0 "wrong content type: START is not for $CT_RE" start=text/plain eof=20
	hostile half-frame 3 'connection lost in the middle of a frame \(54 bytes of it received\)' \
		ready accept start frames=FRAMES half
	hostile half-control 3 'connection lost in the middle of a frame \(11 bytes of it received\)' \
		ready accept start frames=FRAMES raw=0000000000000004000000
	# control frames with an impossible length: in the handshake, where nothing else is possible either,
	# and after START
	hostile control-length-handshake 0 'handshake error: expected START after ACCEPT, got bytes 00 00 00 00 00 00 00 02' \
		ready accept raw=0000000000000002 eof=20
	hostile control-length-short 2 'malformed control frame \(length 2\)' \
		ready accept start frames=FRAMES raw=0000000000000002 eof=20
	hostile control-length-huge 2 'malformed control frame \(length 4294967295\)' \
		ready accept start frames=FRAMES raw=00000000ffffffff eof=20
	# a STOP whose content-type field runs past the end of the frame
	hostile control-field 1 'malformed control frame' \
		ready accept start frames=FRAMES raw=00000000000000100000000300000001000000ff00000000 eof=20
	[ "$HOSTILE" -eq 12 ]

	# An oversize frame is no fault of the connection: skipped by its length prefix, with one line; the
	# frames after it arrive and STOP is answered.
	local h
	python3 "$GEN_FRAMES" 6 "$TMP/big.dnstap" big
	split_frames "$TMP/big.dnstap" 3 "$TMP/big-a.dnstap" "$TMP/big-b.dnstap"
	h=$(next_conn)
	fsend "$ADDR" ready accept start "frames=$TMP/big-a.dnstap" big=300000 "frames=$TMP/big-b.dnstap" stop finish
	wait_until 30 logged_times 1 "$(conn_re "$h")closed"
	[ "$(logged "$(conn_re "$h")")" -eq 3 ]
	[ "$(logged "$(conn_re "$h")frame 4: data frame of 300000 bytes is over the limit of 262144 bytes; skipped$")" -eq 1 ]
	[ "$(logged "$(conn_re "$h")closed \(STOP received, FINISH sent\): 6 frames, $(payload_bytes "$TMP/big.dnstap" 6) bytes$")" -eq 1 ]
	echo "big 6" >>"$TMP/expected"
	wait_until 30 fds_are $((FDS0 + 1))
	[ "$(logged "$(conn_re 1)")" -eq 1 ] # g: "accepted", and nothing since
	streamer_done g
	wait_until 30 fds_are "$FDS0"
	served after-all 100

	stop_dnstap
	[ "$DT_STATUS" -eq 0 ]
	arrivals_match
	grep -q ", 1 oversize frame skipped, 12 misbehaving senders disconnected$" "$TMP/dnstap.err"
}

@test "unix: hostile peers (garbage, silence, wrong content types, cut frames, bad control frames) next to a streaming sender" {
	hostile_matrix unix
}

@test "TCP: hostile peers (garbage, silence, wrong content types, cut frames, bad control frames) next to a streaming sender" {
	hostile_matrix tcp
}

# A 4 GiB length prefix after the handshake is an oversize frame like any other: skipped by its length,
# logged once, the connection kept (and the other senders served meanwhile); when its sender then leaves
# in the middle of it, one more line, and the descriptor is released.
huge_prefix_test() {
	listen_on "$1"
	python3 "$GEN_FRAMES" 3 "$TMP/huge.dnstap" huge
	echo "huge 3" >>"$TMP/expected"
	local h busy
	h=$(next_conn)
	# the 0xfffffff0-byte frame: its length prefix and 100 bytes of it
	spawn huge python3 "$FSEND" "$ADDR" ready accept start "frames=$TMP/huge.dnstap" "raw=fffffff0$(printf 'ab%.0s' {1..100})" "mark=$TMP/sent" "wait=$TMP/go"
	local pid=$SPAWNED
	wait_until 30 alive_and "$pid" huge test -e "$TMP/sent"
	wait_until 30 logged_times 1 "$(conn_re "$h")frame 4: "
	[ "$(logged "$(conn_re "$h")frame 4: data frame of 4294967280 bytes is over the limit of 262144 bytes; skipped$")" -eq 1 ]
	busy=$(fds)
	[ "$busy" -eq $((FDS0 + 1)) ] # the connection goes on
	served meanwhile 100
	wait_until 30 fds_are "$busy" # that sender's descriptor released, not this one's
	[ "$(logged "$(conn_re "$h")closed")" -eq 0 ]
	touch "$TMP/go" # now it leaves, 4 + 100 bytes into the frame
	finished "$pid"
	wait_until 30 logged_times 1 "$(conn_re "$h")closed"
	echo "# $(grep -E "$(conn_re "$h")closed" "$TMP/dnstap.err")" >&3
	[ "$(logged "$(conn_re "$h")")" -eq 3 ]
	[ "$(logged "$(conn_re "$h")closed: connection lost in the middle of a frame \(104 bytes of it received\); 3 frames, $(payload_bytes "$TMP/huge.dnstap" 3) bytes$")" -eq 1 ]
	wait_until 30 fds_are "$FDS0"
	served after 100
	stop_dnstap
	[ "$DT_STATUS" -eq 0 ]
	arrivals_match
}

@test "unix: a 4 GiB length prefix after the handshake is skipped as oversize, the connection kept until its sender leaves" {
	huge_prefix_test unix
}

@test "TCP: a 4 GiB length prefix after the handshake is skipped as oversize, the connection kept until its sender leaves" {
	huge_prefix_test tcp
}
