#!/usr/bin/env bats
# Running as a service: socket permissions for DNS servers that run as their own users, dropping
# privileges, socket activation by systemd (systemd-socket-activate passes the sockets, as systemd
# does), readiness (Type=notify), and the refusal to rotate as root in a directory anyone can write.
# The tests that change users need root (CI runs as root).

load helpers
load peers

setup() {
	common_setup
	require python3 fstrm_replay setpriv
	chmod 755 "$TMP" # other users (the sender, the dropped listener) must reach the sockets
}

teardown() {
	stop_all
	common_teardown
}

KDIG=$TESTDATA/kdig.dnstap

need_root() {
	[ "$(id -u)" -eq 0 ] || skip "needs root to change users"
}

# Runs what follows as nobody:nogroup with no other group.
AS_NOBODY=(setpriv --reuid=nobody --regid=nogroup --clear-groups)

@test "--socket-mode, --socket-owner, --socket-group: the socket file is as asked" {
	need_root
	listen_dnstap -u "$TMP/s.sock" --socket-mode 0660 --socket-owner nobody --socket-group nogroup -w "$TMP/out.dnstap"
	[ "$(stat -c '%a %U %G' "$TMP/s.sock")" = "660 nobody nogroup" ]
	stop_dnstap
	[ "$DT_STATUS" -eq 0 ]
}

@test "a sender of the socket's group connects; a sender of no group with access is refused" {
	need_root
	listen_dnstap -u "$TMP/s.sock" --socket-mode 0660 --socket-group nogroup -w "$TMP/out.dnstap"
	[ "$(stat -c '%a %U %G' "$TMP/s.sock")" = "660 root nogroup" ]
	timeout 60 "${AS_NOBODY[@]}" fstrm_replay -t "$CT" -r "$KDIG" -u "$TMP/s.sock"
	# the same sender without that group: the kernel refuses the connect()
	run timeout 60 setpriv --reuid=nobody --regid=users --clear-groups fstrm_replay -t "$CT" -r "$KDIG" -u "$TMP/s.sock"
	[ "$status" -eq 1 ]
	[[ "$output" != *"setpriv"* ]] # it ran, and was refused
	stop_dnstap
	[ "$DT_STATUS" -eq 0 ]
	cmp "$TMP/out.dnstap" "$KDIG" # exactly the one allowed sender's frames
	[ "$(logged 'connection [0-9]+: accepted')" -eq 1 ]
}

@test "without --socket-mode the socket gets what the umask gives, and a stranger is refused" {
	need_root
	(umask 077 && exec "$DNSTAP" -u "$TMP/s.sock" -w "$TMP/out.dnstap" >"$TMP/dnstap.out" 2>"$TMP/dnstap.err") &
	DT_PID=$!
	PIDS+=("$DT_PID")
	wait_until 10 listening 1
	[ "$(stat -c '%a' "$TMP/s.sock")" = "700" ]
	run timeout 60 "${AS_NOBODY[@]}" fstrm_replay -t "$CT" -r "$KDIG" -u "$TMP/s.sock"
	[ "$status" -eq 1 ]
	[[ "$output" == *"Permission denied"* ]] || [[ "$output" == *"failed"* ]]
	# root may: the socket works, it is only closed to others
	replay -u "$TMP/s.sock" -r "$KDIG"
	stop_dnstap
	cmp "$TMP/out.dnstap" "$KDIG"
	[ "$(logged 'connection [0-9]+: accepted')" -eq 1 ]
}

@test "a missing user or group is one line and exit 2" {
	run "$DNSTAP" -u "$TMP/s.sock" --socket-owner no-such-user-here -w "$TMP/o"
	[ "$status" -eq 2 ]
	[ "$output" = "dnstap: --socket-owner: no such user: no-such-user-here (see dnstap --help)" ]
	run "$DNSTAP" -u "$TMP/s.sock" --socket-group no-such-group-here -w "$TMP/o"
	[ "$status" -eq 2 ]
	[ "$output" = "dnstap: --socket-group: no such group: no-such-group-here (see dnstap --help)" ]
	run "$DNSTAP" -u "$TMP/s.sock" --user no-such-user-here -w "$TMP/o"
	[ "$status" -eq 2 ]
	[ "$output" = "dnstap: --user: no such user: no-such-user-here (see dnstap --help)" ]
	run "$DNSTAP" -u "$TMP/s.sock" --user nobody:no-such-group-here -w "$TMP/o"
	[ "$status" -eq 2 ]
	[ "$output" = "dnstap: --user: no such group: no-such-group-here (see dnstap --help)" ]
	run "$DNSTAP" -u "$TMP/s.sock" --socket-mode 0 -w "$TMP/o"
	[ "$status" -eq 2 ]
	[ "$output" = 'dnstap: invalid value "0" for flag -socket-mode (want an octal mode such as 0660) (see dnstap --help)' ]
	run "$DNSTAP" -u "$TMP/s.sock" --socket-mode 0999 -w "$TMP/o"
	[ "$status" -eq 2 ]
	run "$DNSTAP" -r "$KDIG" --socket-mode 0660
	[ "$status" -eq 2 ]
	[ "$output" = "dnstap: --socket-mode, --socket-owner and --socket-group apply to -u sockets; there is none (see dnstap --help)" ]
	[ ! -e "$TMP/s.sock" ]
}

@test "--user: the uid and gid are dropped before any frame, and rotation and SIGHUP still give complete files" {
	need_root
	mkdir "$TMP/log"
	chown nobody:nogroup "$TMP/log"
	listen_dnstap -u "$TMP/s.sock" --socket-mode 0666 --user nobody:nogroup -w "$TMP/log/part.dnstap" --max-size 4000
	grep -Eq "^Uid:[[:space:]]+65534[[:space:]]+65534[[:space:]]+65534[[:space:]]+65534$" "/proc/$DT_PID/status"
	grep -Eq "^Gid:[[:space:]]+65534[[:space:]]+65534[[:space:]]+65534[[:space:]]+65534$" "/proc/$DT_PID/status"
	grep -Eq "^Groups:[[:space:]]*65534[[:space:]]*$" "/proc/$DT_PID/status"
	replay -u "$TMP/s.sock" -r "$KDIG"
	kill -HUP "$DT_PID"
	wait_until 10 eval "[ \$(logged 'finished \\(SIGHUP\\)') -eq 1 ]"
	replay -u "$TMP/s.sock" -r "$KDIG"
	stop_dnstap
	[ "$DT_STATUS" -eq 0 ]
	# the first file was made before the drop, the rest after, by nobody
	[ "$(stat -c '%U' "$TMP/log/part.dnstap")" = root ]
	[ "$(stat -c '%U' "$TMP/log/part-1.dnstap")" = nobody ]
	local total=0 f n
	for f in "$TMP"/log/*.dnstap; do
		n=$(python3 "$FCHECK" --count "$f") # fails on a file without STOP
		[ "$(stat -c %s "$f")" -le 4000 ]
		total=$((total + n))
	done
	[ "$total" -eq 208 ] # 104 frames, twice
	[ "$(ls "$TMP/log" | wc -l)" -ge 3 ]
}

@test "--user: a user that may not write the log directory is said at the first rotation, frames kept" {
	need_root
	mkdir "$TMP/log" # root's: nobody cannot create the next file
	listen_dnstap -u "$TMP/s.sock" --socket-mode 0666 --user nobody -w "$TMP/log/part.dnstap" --max-size 4000
	replay -u "$TMP/s.sock" -r "$KDIG"
	stop_dnstap
	[ "$DT_STATUS" -eq 0 ]
	grep -q "^dnstap: $TMP/log/part-1.dnstap: Permission denied; still writing $TMP/log/part.dnstap$" "$TMP/dnstap.err"
	[ "$(python3 "$FCHECK" --count "$TMP/log/part.dnstap")" -eq 104 ]
}

@test "rotation as root into a directory anyone can write is refused, with one line" {
	need_root
	mkdir -m 1777 "$TMP/open"
	run "$DNSTAP" -r "$KDIG" -w "$TMP/open/%s.dnstap" --split 60
	[ "$status" -eq 1 ]
	[ "$output" = "dnstap: $TMP/open: writable by anyone; not rotating files there as root (use --user or another directory)" ]
	[ -z "$(ls "$TMP/open")" ]
	# a plain file there is allowed (nothing is created anew later)
	run "$DNSTAP" -r "$KDIG" -w "$TMP/open/plain.dnstap"
	[ "$status" -eq 0 ]
}

@test "socket activation: systemd-socket-activate passes the socket, every frame arrives, readiness is told" {
	require systemd-socket-activate
	python3 "$TOP_SRCDIR/tests/tools/notify_listen.py" "$TMP/notify.sock" >"$TMP/notify.out" &
	PIDS+=("$!")
	wait_until 10 test -S "$TMP/notify.sock"
	# the socket is systemd's: dnstap neither binds nor removes it; -u naming it is served by it
	spawn activate systemd-socket-activate -l "$TMP/act.sock" --fdname=dnstap -E "NOTIFY_SOCKET=$TMP/notify.sock" \
		"$DNSTAP" -u "$TMP/act.sock" -w "$TMP/out.dnstap"
	local act=$SPAWNED
	# systemd-socket-activate starts the service at the first connection, as systemd does
	wait_until 10 test -S "$TMP/act.sock"
	replay -u "$TMP/act.sock" -r "$KDIG"
	wait_until 10 grep -q "READY=1" "$TMP/notify.out"
	grep -q "^dnstap: listening on $TMP/act.sock$" "$TMP/activate.err"
	[ "$(grep -c '^dnstap: listening on ' "$TMP/activate.err")" -eq 1 ]
	replay -u "$TMP/act.sock" -r "$TESTDATA/unbound.dnstap"
	stop "$act"
	[ "$STOPPED_STATUS" -eq 0 ]
	python3 "$FCHECK" "$TMP/out.dnstap" "$KDIG" "$TESTDATA/unbound.dnstap"
	grep -q "STOPPING=1" "$TMP/notify.out"
	grep -q "^dnstap: received 308 frames" "$TMP/activate.err"
}

@test "socket activation without -u: the passed TCP socket is the input" {
	require systemd-socket-activate
	local port
	port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
	spawn activate systemd-socket-activate -l "127.0.0.1:$port" "$DNSTAP" -w "$TMP/out.dnstap"
	local act=$SPAWNED
	wait_until 10 grep -q "^Listening on 127.0.0.1:$port" "$TMP/activate.err"
	replay -a 127.0.0.1 -p "$port" -r "$KDIG"
	stop "$act"
	[ "$STOPPED_STATUS" -eq 0 ]
	cmp "$TMP/out.dnstap" "$KDIG"
	grep -q "^dnstap: listening on 127.0.0.1:$port$" "$TMP/activate.err"
}
