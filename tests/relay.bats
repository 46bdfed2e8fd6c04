#!/usr/bin/env bats
# dnstap as a relay: -U PATH / -T HOST:PORT send what the inputs yield to a Frame Streams collector
# (bidirectional: READY, ACCEPT, START ... STOP, FINISH). Replaying files, nothing is dropped and dnstap
# exits 0 only once the collector has answered STOP with FINISH; relaying sockets, it goes on, and
# reconnects when the collector comes back.

load helpers
load peers

setup() {
	common_setup
	require python3 fstrm_capture
}

teardown() {
	stop_all
	common_teardown
}

# connected_times N: our relay has logged at least N handshakes with the collector
connected_times() {
	(($(logged "dnstap: .*: connected to unix://") >= $1))
}

capture_has() { # PID FILE N
	kill -HUP "$1" && (($(frames "$2") >= $3))
}

@test "relay: -r FILE... -U PATH: every frame reaches fstrm_capture byte for byte, exit 0 after FINISH" {
	start_capture cap -u "$TMP/cap.sock"
	local files=()
	mapfile -t files < <(captures)
	local args=() f
	for f in "${files[@]}"; do args+=(-r "$f"); done
	run "$DNSTAP" "${args[@]}" -U "$TMP/cap.sock"
	echo "$output"
	[ "$status" -eq 0 ]
	stop "$CAP_PID"
	run python3 "$FCHECK" "$TMP/cap.dnstap" "${files[@]}"
	echo "$output"
	[ "$status" -eq 0 ]
}

@test "relay: -T 127.0.0.1:PORT and -T [::1]:PORT to the Go tool's -l" {
	require "$GO_DNSTAP"
	local addr port target
	for addr in 127.0.0.1 ::1; do
		free_port
		port=$FREE_PORT
		target=$addr:$port
		[[ $addr == *:* ]] && target="[$addr]:$port"
		spawn "go$port" "$GO_DNSTAP" -l "$target" -w "$TMP/go$port.dnstap"
		local go=$SPAWNED
		wait_until 10 alive_and "$go" "go$port" tcp_up "$addr" "$port"
		run "$DNSTAP" -r "$TESTDATA/unbound.dnstap" -T "$target"
		echo "$output"
		[ "$status" -eq 0 ]
		# the Go tool loses its buffer on SIGINT: rename, SIGHUP (finishes the file), then SIGINT
		mv "$TMP/go$port.dnstap" "$TMP/got$port.dnstap"
		kill -HUP "$go"
		wait_until 10 test -e "$TMP/go$port.dnstap"
		stop "$go" INT
		run python3 "$FCHECK" "$TMP/got$port.dnstap" "$TESTDATA/unbound.dnstap"
		echo "$output"
		[ "$status" -eq 0 ]
	done
}

@test "relay: 200,000 frames through the default queue: none dropped, all in order" {
	python3 "$GEN_FRAMES" 200000 "$TMP/big.dnstap" relay
	start_capture cap -u "$TMP/cap.sock"
	run "$DNSTAP" -r "$TMP/big.dnstap" -U "$TMP/cap.sock"
	[ "$status" -eq 0 ]
	stop "$CAP_PID"
	run python3 "$FCHECK" "$TMP/cap.dnstap" "$TMP/big.dnstap"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$output" = "200000 frames" ]
}

@test "relay: no collector at PATH or PORT: one line, exit 1, at once" {
	run "$DNSTAP" -r "$TESTDATA/kdig.dnstap" -U "$TMP/nobody.sock"
	[ "$status" -eq 1 ]
	[ "$output" = "dnstap: $TMP/nobody.sock: No such file or directory" ]
	free_port
	run "$DNSTAP" -r "$TESTDATA/kdig.dnstap" -T "127.0.0.1:$FREE_PORT"
	[ "$status" -eq 1 ]
	[ "$output" = "dnstap: 127.0.0.1:$FREE_PORT: Connection refused" ]
	run "$DNSTAP" -r "$TESTDATA/kdig.dnstap" -T "nonsense"
	[ "$status" -eq 1 ]
	[ "$output" = "dnstap: nonsense: bad address (want HOST:PORT or [IPv6]:PORT)" ]
}

@test "relay: a collector that never sends FINISH: exit 1 within the timeout, saying so" {
	# accepts, handshakes, reads everything, answers STOP with silence
	spawn mute python3 -c '
import socket, struct, sys, os
ct = b"protobuf:dnstap.Dnstap"
s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.listen(1)
c, _ = s.accept()
def frame():
    (n,) = struct.unpack(">I", c.recv(4, socket.MSG_WAITALL))
    if n: c.recv(n, socket.MSG_WAITALL); return 0
    (n,) = struct.unpack(">I", c.recv(4, socket.MSG_WAITALL))
    return struct.unpack(">I", c.recv(n, socket.MSG_WAITALL)[:4])[0]
assert frame() == 4
c.sendall(struct.pack(">IIIII", 0, 12 + len(ct), 1, 1, len(ct)) + ct)
while frame() != 3: pass
open(sys.argv[2], "w").close()
c.recv(1)' "$TMP/mute.sock" "$TMP/got-stop"
	wait_until 10 test -S "$TMP/mute.sock"
	local t0=$SECONDS
	run "$DNSTAP" -r "$TESTDATA/kdig.dnstap" -U "$TMP/mute.sock"
	echo "$output"
	[ "$status" -eq 1 ]
	[ -e "$TMP/got-stop" ]
	[[ $output == *"dnstap: $TMP/mute.sock: write error: Connection timed out"* ]]
	((SECONDS - t0 <= 10))
}

@test "relay: -u IN -U OUT relays continuously and reconnects when the collector comes back" {
	require fstrm_replay
	start_capture cap1 -u "$TMP/out.sock"
	listen_dnstap -u "$TMP/in.sock" -U "$TMP/out.sock"
	local n
	n=$(frames "$TESTDATA/unbound.dnstap")
	fstrm_replay -t "$CT" -u "$TMP/in.sock" -r "$TESTDATA/unbound.dnstap"
	wait_until 10 capture_has "$CAP_PID" "$TMP/cap1.dnstap" "$n"
	stop "$CAP_PID"
	wait_until 10 logged "lost connection to unix://$TMP/out.sock"

	start_capture cap2 -u "$TMP/out.sock"
	wait_until 10 connected_times 2
	fstrm_replay -t "$CT" -u "$TMP/in.sock" -r "$TESTDATA/kdig.dnstap"
	wait_until 10 capture_has "$CAP_PID" "$TMP/cap2.dnstap" "$(frames "$TESTDATA/kdig.dnstap")"
	stop_dnstap
	[ "$DT_STATUS" -eq 0 ]
	stop "$CAP_PID"
	run python3 "$FCHECK" "$TMP/cap1.dnstap" "$TESTDATA/unbound.dnstap"
	[ "$status" -eq 0 ]
	run python3 "$FCHECK" "$TMP/cap2.dnstap" "$TESTDATA/kdig.dnstap"
	[ "$status" -eq 0 ]
}
