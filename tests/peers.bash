# Shared shell helpers for the listener suites: background processes started and stopped by PID, bounded
# polling waits, our listener on sockets, Frame Streams checks, and real DNS servers (unbound, dnsdist,
# Knot, BIND, PowerDNS Recursor) on loopback at free high ports, sending dnstap to a unix socket or a TCP
# port. The server set-ups follow scripts/make-captures. Load after helpers.bash.

TOOLS=$TOP_SRCDIR/tests/tools
FSEND=$TOOLS/fsend.py
FCHECK=$TOOLS/fcheck.py
FTEE=$TOOLS/ftee.py
GEN_FRAMES=$TOOLS/gen-frames.py
CT=protobuf:dnstap.Dnstap

# ==== processes ====

PIDS=()

# spawn NAME CMD...: runs CMD in the background, stdout in $TMP/NAME.out, stderr in $TMP/NAME.err (fd 3
# closed, or bats would wait for it); the pid is left in SPAWNED.
spawn() {
	local name=$1
	shift
	# the files exist before the command starts: a wait_until grep on them must not meet a missing
	# file (grep's status 2, which wait_until takes for "can no longer happen") while the background
	# job has yet to open them, as happened under load
	: >"$TMP/$name.out"
	: >"$TMP/$name.err"
	"$@" >"$TMP/$name.out" 2>"$TMP/$name.err" </dev/null 3>&- &
	SPAWNED=$!
	PIDS+=("$SPAWNED")
}

# stop PID [SIGNAL]: signals PID (TERM by default), waits for it (KILL after 20 s); its exit status is
# left in STOPPED_STATUS.
stop() {
	local pid=$1 sig=${2:-TERM} i
	STOPPED_STATUS=0
	kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || STOPPED_STATUS=$?; return 0; }
	kill -"$sig" "$pid" 2>/dev/null || true
	for ((i = 0; i < 200; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		echo "# pid $pid ignored SIG$sig for 20 s; killing it" >&3
		kill -KILL "$pid" 2>/dev/null || true
	fi
	wait "$pid" 2>/dev/null || STOPPED_STATUS=$?
	return 0
}

# Stops every process a test started that is still running (teardown).
stop_all() {
	local pid
	for pid in "${PIDS[@]}"; do
		kill -0 "$pid" 2>/dev/null && stop "$pid"
	done
	PIDS=()
}

# wait_until SECONDS CMD...: polls CMD every 0.1 s until it succeeds; fails after SECONDS, or at once
# when CMD returns 2 (what it waits for can no longer happen).
wait_until() {
	local limit=$1 i rc
	shift
	for ((i = 0; i < limit * 10; i++)); do
		rc=0
		"$@" || rc=$?
		((rc == 0)) && return 0
		((rc == 2)) && return 1
		sleep 0.1
	done
	echo "# still not true after $limit s: $*" >&3
	return 1
}

# Senders that block for ever when a receiver misbehaves (libfstrm waits for ACCEPT and FINISH without a
# timeout) run with a bound, so that a broken listener fails the test instead of hanging it.
replay() { timeout 120 fstrm_replay -t "$CT" "$@"; }
fsend() { timeout 60 python3 "$FSEND" "$@"; }
go_relay() { timeout 60 "$GO_DNSTAP" "$@" 2>/dev/null; }

# finished PID: waits (60 s at most) until a background process has exited; returns its exit status.
finished() {
	local rc=0
	wait_until 60 eval "! kill -0 $1 2>/dev/null" || return 1
	wait "$1" || rc=$?
	return $rc
}

# stop_mid_stream unix|tcp|tls: our listener is stopped (SIGTERM) while our sender (dnstap -r - -U/-T)
# streams into it with every buffer on the way full (tls: with the PKI of tls.bats in $P). The sender
# reads its input from a pipe: the first MB goes through while the listener runs; then the listener is
# paused (SIGSTOP), the rest of the input follows, and the sender fills its socket buffer and waits. Over
# TCP that buffer is a second one the listener's FIONREAD does not count, which a listener that closes
# after reading what is queued loses. Every frame the sender counts as sent must be in the listener's
# file, complete, and the sender must have been cut off (the input is far larger than the buffers).
stop_mid_stream() {
	local total=300000 sent got sender spec
	python3 "$GEN_FRAMES" $total "$TMP/in.dnstap" full
	case $1 in
	unix)
		listen_dnstap -u "$TMP/c.sock" -w "$TMP/coll.dnstap"
		spec=(-U "$TMP/c.sock")
		;;
	tcp)
		listen_dnstap -l 127.0.0.1:0 -w "$TMP/coll.dnstap"
		spec=(-T "127.0.0.1:$PORT4")
		;;
	tls)
		listen_dnstap -l 127.0.0.1:0 --tls-cert "$P/server.pem" --tls-key "$P/server.key" -w "$TMP/coll.dnstap"
		spec=(-T "127.0.0.1:$PORT4" --tls --tls-ca "$P/ca.pem" --tls-server-name collector.test)
		;;
	esac
	mkfifo "$TMP/feed"
	(
		head -c 1000000 "$TMP/in.dnstap"
		while [ ! -e "$TMP/go" ]; do sleep 0.1; done
		tail -c +1000001 "$TMP/in.dnstap"
	) >"$TMP/feed" 2>/dev/null 3>&- &
	PIDS+=("$!")
	"$DNSTAP" -r - "${spec[@]}" <"$TMP/feed" >"$TMP/sender.out" 2>"$TMP/sender.err" 3>&- &
	sender=$!
	PIDS+=("$sender")
	wait_until 30 at_least_frames "$TMP/coll.dnstap" 4000 # the first MB (5000 frames) is going through
	kill -STOP "$DT_PID"
	touch "$TMP/go"
	sleep 1 # the sender fills the buffers and waits
	kill -TERM "$DT_PID"
	kill -CONT "$DT_PID"
	stop_dnstap
	[ "$DT_STATUS" -eq 0 ]
	finished "$sender" || true # it gives up once the listener is gone: exit 1
	sent=$(sed -n 's/.*closed: \([0-9]*\) messages sent, [0-9]* dropped$/\1/p' "$TMP/sender.err")
	got=$(python3 "$FCHECK" "$TMP/coll.dnstap") # complete: START, frames, STOP
	got=${got% frames}
	echo "# sender: $sent of $total sent; listener: $got" >&3
	[ -n "$sent" ] && [ "$sent" -lt "$total" ]
	[ "$got" -eq "$sent" ]
	if grep -E 'misbehaving|Sanitizer|runtime error' "$TMP/dnstap.err" "$TMP/sender.err" >&3; then
		return 1
	fi
}

# ==== our listener ====

# listen_dnstap ARG...: starts our dnstap with ARG (its stdout in $TMP/dnstap.out, stderr in
# $TMP/dnstap.err), waits until every -u/-l socket is listening. Leaves DT_PID, and for -l ...:0 the
# ports chosen in PORT4 (127.0.0.1) and PORT6 ([::1]).
listen_dnstap() {
	local want=0 a
	for a in "$@"; do
		[[ $a == -u || $a == -l ]] && want=$((want + 1))
	done
	spawn dnstap "$DNSTAP" "$@"
	DT_PID=$SPAWNED
	wait_until 10 listening "$want"
	PORT4=$(sed -n 's/^dnstap: listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$TMP/dnstap.err" | head -n 1)
	PORT6=$(sed -n 's/^dnstap: listening on \[::1\]:\([0-9]*\)$/\1/p' "$TMP/dnstap.err" | head -n 1)
}

listening() {
	kill -0 "$DT_PID" 2>/dev/null || { echo "# dnstap exited:" >&3; cat "$TMP/dnstap.err" >&3; return 2; }
	(($(grep -c '^dnstap: listening on ' "$TMP/dnstap.err") >= $1))
}

# stop_dnstap [SIGNAL]: stops our listener (TERM), leaves its exit status in DT_STATUS.
stop_dnstap() {
	stop "$DT_PID" "${1:-TERM}"
	DT_STATUS=$STOPPED_STATUS
}

# Lines our listener logged that match REGEX.
logged() {
	grep -cE -- "$1" "$TMP/dnstap.err"
}

# frames FILE: complete data frames in a Frame Streams file that may still be growing.
frames() {
	python3 "$FCHECK" --count "$1"
}

at_least_frames() { # FILE N
	(($(frames "$1") >= $2))
}

# head_frames IN N OUT: a Frame Streams file of the first N data frames of IN.
head_frames() {
	python3 - "$@" <<'EOF'
import struct, sys
d = open(sys.argv[1], "rb").read()
want, pos, fr = int(sys.argv[2]), 42, []
while len(fr) < want:
    (n,) = struct.unpack_from(">I", d, pos)
    if n == 0:
        sys.exit("%s has fewer than %d frames" % (sys.argv[1], want))
    fr.append(d[pos:pos + 4 + n])
    pos += 4 + n
open(sys.argv[3], "wb").write(d[:42] + b"".join(fr) + struct.pack(">III", 0, 4, 3))
EOF
}

# rotated_files: the files a rotating listener wrote, in order, comma-separated (from its log).
rotated_files() {
	sed -n -e 's/^dnstap: writing \(.*\)$/\1/p' -e 's/^dnstap: .*; now writing \(.*\)$/\1/p' "$TMP/dnstap.err" | paste -sd,
}

# count_type FILE TYPE: messages of a quiet-format type (CQ, AR...) in FILE, decoded by the Go tool.
count_type() {
	TZ=UTC "$GO_DNSTAP" -r "$1" -q 2>/dev/null | awk -v t="$2" '$2 == t { n++ } END { print n + 0 }'
}

at_least_type() { # FILE TYPE N
	(($(count_type "$1" "$2") >= $3))
}

# ==== real DNS servers ====

# free_port: a port free for UDP and TCP on 127.0.0.1 and ::1, not handed out before in this test.
USED_PORTS=()
free_port() {
	FREE_PORT=$(python3 - "${USED_PORTS[@]}" <<'EOF'
import random, socket, sys
used = set(sys.argv[1:])
for _ in range(500):
    port = random.randint(20000, 32000)
    if str(port) in used:
        continue
    ok = True
    for fam, addr in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
        for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
            s = socket.socket(fam, kind)
            try:
                s.bind((addr, port))
            except OSError:
                ok = False
            finally:
                s.close()
    if ok:
        print(port)
        sys.exit(0)
sys.exit(1)
EOF
	) || return 1
	USED_PORTS+=("$FREE_PORT")
}

# tcp_up ADDR PORT: something accepts TCP there (a bare connect: no DNS query, nothing in a capture).
tcp_up() {
	python3 -c '
import socket, sys
fam = socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET
s = socket.socket(fam, socket.SOCK_STREAM)
s.settimeout(0.5)
s.connect((sys.argv[1], int(sys.argv[2])))' "$1" "$2" 2>/dev/null
}

# alive_and PID CMD...: CMD succeeds; fails (with the log) once PID has exited.
alive_and() {
	local pid=$1 name=$2
	shift 2
	if ! kill -0 "$pid" 2>/dev/null; then
		echo "# $name exited early:" >&3
		tail -n 20 "$TMP/$name.err" "$TMP/$name.out" >&3 2>/dev/null
		return 2
	fi
	"$@"
}

# serving PID NAME PORT: waits until NAME answers TCP on 127.0.0.1 and ::1 at PORT.
serving() {
	wait_until 30 alive_and "$1" "$2" tcp_up 127.0.0.1 "$3" && wait_until 30 alive_and "$1" "$2" tcp_up ::1 "$3"
}

log_has() { # NAME REGEX [COUNT]
	(($(cat "$TMP/$1.out" "$TMP/$1.err" 2>/dev/null | grep -cE -- "$2") >= ${3:-1}))
}

write_zones() {
	mkdir -p "$TMP/zones"
	cat >"$TMP/zones/lab.test.zone" <<'EOF'
$ORIGIN lab.test.
$TTL 300
@      SOA   ns1 hostmaster 2024010101 3600 900 604800 300
@      NS    ns1
@      MX    10 mail
@      TXT   "lab.test: listener test zone"
ns1    A     127.0.0.1
ns1    AAAA  ::1
mail   A     198.51.100.25
www    A     198.51.100.10
www    AAAA  2001:db8::10
alias  CNAME www
*.wild A     198.51.100.99
EOF
	cat >"$TMP/root.hints" <<'EOF'
.                  3600000 NS a.root.lab.test.
a.root.lab.test.   3600000 A  127.0.0.1
EOF
}

# knot_conf DIR PORT [SINK]: a knotd serving lab.test, with mod-dnstap to SINK when given.
knot_conf() {
	local dir=$1 port=$2 sink=${3:-}
	mkdir -p "$dir/run" "$dir/db"
	{
		cat <<EOF
server:
    rundir: "$dir/run"
    listen: [ 127.0.0.1@$port, ::1@$port ]
    background-workers: 1
database:
    storage: "$dir/db"
log:
  - target: stderr
    any: info
EOF
		if [[ -n $sink ]]; then
			cat <<EOF
mod-dnstap:
  - id: tap
    sink: "$sink"
    identity: "knot-test"
    log-queries: on
    log-responses: on
EOF
		fi
		cat <<EOF
template:
  - id: default
    storage: "$TMP/zones"
    zonefile-sync: -1
    zonefile-load: whole
    journal-content: none
EOF
		[[ -z $sink ]] || echo "    global-module: mod-dnstap/tap"
		printf 'zone:\n  - domain: lab.test\n'
	} >"$dir/knot.conf"
}

# start_upstream: the authoritative server behind every resolver (no dnstap); sets UP.
start_upstream() {
	write_zones
	free_port
	UP=$FREE_PORT
	knot_conf "$TMP/upstream" "$UP"
	spawn upstream knotd -c "$TMP/upstream/knot.conf"
	serving "$SPAWNED" upstream "$UP" && wait_until 30 log_has upstream '\] loaded, serial'
}

# Each start_SERVER TARGET starts that server with its dnstap going to TARGET (unix:PATH or
# tcp:127.0.0.1:PORT), waits until it serves DNS, and sets DNS_PORT and SERVER_PID.

start_unbound() {
	local target=$1 dir=$TMP/unbound tap
	free_port
	DNS_PORT=$FREE_PORT
	mkdir -p "$dir"
	case $target in
	unix:*) tap="dnstap-socket-path: \"${target#unix:}\"" ;;
	tcp:*)
		local hp=${target#tcp:}
		tap="dnstap-ip: \"${hp%:*}@${hp##*:}\"
    dnstap-tls: no" ;;
	esac
	cat >"$dir/unbound.conf" <<EOF
server:
    interface: 127.0.0.1@$DNS_PORT
    interface: ::1@$DNS_PORT
    port: $DNS_PORT
    do-daemonize: no
    username: ""
    chroot: ""
    directory: "$dir"
    pidfile: "$dir/unbound.pid"
    use-syslog: no
    logfile: ""
    verbosity: 1
    num-threads: 1
    module-config: "iterator"
    do-not-query-localhost: no
    access-control: 127.0.0.0/8 allow
    access-control: ::1/128 allow
    root-hints: "$TMP/root.hints"
    local-zone: "test." nodefault
remote-control:
    control-enable: no
dnstap:
    dnstap-enable: yes
    dnstap-bidirectional: yes
    $tap
    dnstap-send-identity: yes
    dnstap-send-version: yes
    dnstap-identity: "unbound-test"
    dnstap-log-client-query-messages: yes
    dnstap-log-client-response-messages: yes
    dnstap-log-forwarder-query-messages: yes
    dnstap-log-forwarder-response-messages: yes
forward-zone:
    name: "."
    forward-addr: 127.0.0.1@$UP
EOF
	spawn unbound unbound -d -c "$dir/unbound.conf"
	SERVER_PID=$SPAWNED
	serving "$SERVER_PID" unbound "$DNS_PORT" && wait_until 30 log_has unbound 'start of service'
}

start_dnsdist() {
	local target=$1 dir=$TMP/dnsdist logger
	free_port
	DNS_PORT=$FREE_PORT
	mkdir -p "$dir"
	case $target in
	unix:*) logger="newFrameStreamUnixLogger(\"${target#unix:}\")" ;;
	tcp:*) logger="newFrameStreamTcpLogger(\"${target#tcp:}\")" ;;
	esac
	cat >"$dir/dnsdist.conf" <<EOF
setSecurityPollSuffix("")
setLocal("127.0.0.1:$DNS_PORT")
addLocal("[::1]:$DNS_PORT")
newServer({address="127.0.0.1:$UP", checkName="lab.test.", checkType="SOA"})
tap = $logger
addAction(AllRule(), DnstapLogAction("dnsdist-test", tap))
addResponseAction(AllRule(), DnstapLogResponseAction("dnsdist-test", tap))
EOF
	spawn dnsdist dnsdist --supervised --disable-syslog -C "$dir/dnsdist.conf"
	SERVER_PID=$SPAWNED
	serving "$SERVER_PID" dnsdist "$DNS_PORT" &&
		wait_until 30 log_has dnsdist "Marking downstream 127.0.0.1:$UP as 'up'"
}

# Knot's mod-dnstap has no TCP sink: unix only.
start_knot() {
	free_port
	DNS_PORT=$FREE_PORT
	knot_conf "$TMP/knot" "$DNS_PORT" "$1"
	spawn knot knotd -c "$TMP/knot/knot.conf"
	SERVER_PID=$SPAWNED
	serving "$SERVER_PID" knot "$DNS_PORT" && wait_until 30 log_has knot '\] loaded, serial'
}

# BIND's dnstap-output is a file or a unix socket: unix only.
start_bind() {
	local dir=$TMP/bind
	free_port
	DNS_PORT=$FREE_PORT
	mkdir -p "$dir"
	cat >"$dir/named.conf" <<EOF
options {
    directory "$dir";
    pid-file "$dir/named.pid";
    session-keyfile "$dir/session.key";
    listen-on port $DNS_PORT { 127.0.0.1; };
    listen-on-v6 port $DNS_PORT { ::1; };
    recursion yes;
    allow-query { any; };
    allow-recursion { 127.0.0.1; };
    forwarders { 127.0.0.1 port $UP; };
    forward only;
    dnssec-validation no;
    empty-zones-enable no;
    notify no;
    dnstap { all; };
    dnstap-output unix "${1#unix:}";
    dnstap-identity "bind-test";
};
controls { };
zone "." { type hint; file "$TMP/root.hints"; };
zone "lab.test" { type primary; file "$TMP/zones/lab.test.zone"; };
EOF
	spawn named named -g -n 1 -c "$dir/named.conf"
	SERVER_PID=$SPAWNED
	serving "$SERVER_PID" named "$DNS_PORT" && wait_until 30 log_has named ' running$'
}

start_pdns_recursor() {
	local dir=$TMP/pdns target=$1
	free_port
	DNS_PORT=$FREE_PORT
	mkdir -p "$dir"
	cat >"$dir/recursor.conf" <<EOF
daemon=no
write-pid=no
disable-syslog=yes
log-timestamp=no
loglevel=4
socket-dir=$dir
threads=1
local-address=127.0.0.1, ::1
local-port=$DNS_PORT
query-local-address=127.0.0.1, ::1
dont-query=
security-poll-suffix=
hint-file=$TMP/root.hints
forward-zones=lab.test=127.0.0.1:$UP
forward-zones-recurse=.=127.0.0.1:$UP
lua-config-file=$dir/recursor.lua
EOF
	echo "dnstapFrameStreamServer({\"${target#*:}\"}, {logQueries=true, logResponses=true})" >"$dir/recursor.lua"
	spawn pdns pdns_recursor --config-dir="$dir"
	SERVER_PID=$SPAWNED
	serving "$SERVER_PID" pdns "$DNS_PORT"
}

# send_queries PORT N: N queries in one kdig run (UDP over 127.0.0.1 and ::1, some TCP), recorded by kdig
# in $TMP/client.dnstap (TOOL_QUERY per query sent). Prints how many queries were sent.
send_queries() {
	local port=$1 n=$2 i args=() names=(www.lab.test lab.test alias.lab.test nope.lab.test x.wild.lab.test mail.lab.test)
	local types=(A MX AAAA A TXT AAAA)
	for ((i = 0; i < n; i++)); do
		args+=("${names[i % 6]}" -t "${types[i % 6]}")
		case $((i % 5)) in
		0 | 1 | 2) args+=(@127.0.0.1 +notcp) ;;
		3) args+=(@::1 +notcp) ;;
		4) args+=(@127.0.0.1 +tcp) ;;
		esac
	done
	rm -f "$TMP/client.dnstap"
	kdig -p "$port" +timeout=3 +retry=0 -E "$TMP/client.dnstap" "${args[@]}" >"$TMP/kdig.log" 2>&1 || true
	count_type "$TMP/client.dnstap" TQ
}

# start_capture NAME ARG...: fstrm_capture writing $TMP/NAME.dnstap, listening as ARG says (-u PATH
# or -a ADDR -p PORT); waits until it listens. Its pid in CAP_PID.
start_capture() {
	local name=$1
	shift
	spawn "$name" fstrm_capture -t "$CT" "$@" -w "$TMP/$name.dnstap"
	CAP_PID=$SPAWNED
	if [[ $1 == -u ]]; then
		wait_until 10 alive_and "$CAP_PID" "$name" test -S "$2"
	else
		wait_until 10 alive_and "$CAP_PID" "$name" tcp_up "$2" "$4"
	fi
}
