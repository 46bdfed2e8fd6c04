#!/usr/bin/env bats
# dnstap over TLS, both ends: our -l with --tls-cert/--tls-key (and --tls-client-ca for mutual TLS),
# our -T --tls and dnstap-proxy --tap tls:// into it, the real Unbound with dnstap-tls, and the
# mismatches (plain into TLS, TLS into plain, untrusted, expired, wrong name, no client certificate),
# each one line naming the peer. SIGHUP reloads the certificate; --allow refuses at accept. A throwaway
# PKI is made in each test with openssl: a CA, a server certificate for collector.test and 127.0.0.1, a
# client certificate, a rogue CA with its own server and client certificates, and an expired one.

load helpers
load peers

: "${DNSTAP_PROXY:=$(dirname "$DNSTAP")/dnstap-proxy}"

setup() {
	common_setup
	require openssl python3
	pki
}

teardown() {
	stop_all
	common_teardown
}

# ==== the PKI ====

# cert NAME CA SUBJECT-CN [SAN]: key and certificate $P/NAME.{key,pem} issued by CA ($P/CA.{key,pem}).
cert() {
	local name=$1 ca=$2 cn=$3 san=${4:-}
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$P/$name.key" \
		-out "$P/$name.csr" -subj "/CN=$cn" 2>/dev/null
	if [ -n "$san" ]; then
		printf 'subjectAltName=%s\n' "$san" >"$P/$name.ext"
	else
		printf 'basicConstraints=CA:FALSE\n' >"$P/$name.ext"
	fi
	openssl x509 -req -in "$P/$name.csr" -CA "$P/$ca.pem" -CAkey "$P/$ca.key" -CAcreateserial \
		-days 30 -extfile "$P/$name.ext" -out "$P/$name.pem" 2>/dev/null
}

ca() {
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$P/$1.key" \
		-out "$P/$1.pem" -days 30 -subj "/CN=$2" 2>/dev/null
}

pki() {
	P=$TMP/pki
	mkdir -p "$P"
	ca ca "Test CA"
	ca rogue "Rogue CA"
	cert server ca collector.test "DNS:collector.test,IP:127.0.0.1"
	cert other ca other.test "DNS:other.test"
	cert client ca ns1.test
	cert rogue-server rogue collector.test "DNS:collector.test,IP:127.0.0.1"
	cert rogue-client rogue ns1.test
	# expired: openssl ca takes the dates as given (x509 -days cannot go back in time)
	mkdir -p "$P/db"
	: >"$P/db/index.txt"
	echo 01 >"$P/db/serial"
	cat >"$P/ca.cnf" <<EOF
[ ca ]
default_ca = any
[ any ]
database = $P/db/index.txt
new_certs_dir = $P/db
serial = $P/db/serial
default_md = sha256
policy = loose
copy_extensions = copy
[ loose ]
commonName = supplied
EOF
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$P/expired.key" \
		-out "$P/expired.csr" -subj "/CN=collector.test" -addext "subjectAltName=DNS:collector.test" 2>/dev/null
	openssl ca -batch -config "$P/ca.cnf" -cert "$P/ca.pem" -keyfile "$P/ca.key" -in "$P/expired.csr" \
		-out "$P/expired.pem" -startdate 20200101000000Z -enddate 20200102000000Z 2>/dev/null
	[ -s "$P/expired.pem" ]
}

# ==== helpers ====

# tls_listen [ARG...]: our listener on 127.0.0.1, TLS with the server certificate, writing ours.dnstap.
tls_listen() {
	listen_dnstap -l 127.0.0.1:0 --tls-cert "$P/server.pem" --tls-key "$P/server.key" -w "$TMP/ours.dnstap" "$@"
}

# send_tls PORT [ARG...]: our -T --tls with the sample capture, trusting the test CA; status in status.
send_tls() {
	local port=$1
	shift
	run timeout 60 "$DNSTAP" -r "$TESTDATA/unbound.dnstap" -T "127.0.0.1:$port" --tls --tls-ca "$P/ca.pem" \
		--tls-server-name collector.test "$@"
}

tls_fsend() { # PORT TLSOPTS STEP...
	local port=$1 opts=$2
	shift 2
	run fsend "127.0.0.1:$port" "tls=$opts" "$@"
}

# ==== our sender into our listener ====

@test "-l TLS stopped while -T --tls streams into full buffers: every frame the sender counts as sent is in the file" {
	stop_mid_stream tls
}

@test "-T --tls into -l TLS: the file is the plain-TCP run's, byte for byte" {
	listen_dnstap -l 127.0.0.1:0 -w "$TMP/plain.dnstap"
	run timeout 60 "$DNSTAP" -r "$TESTDATA/unbound.dnstap" -T "127.0.0.1:$PORT4"
	[ "$status" -eq 0 ]
	stop_dnstap
	[ "$DT_STATUS" -eq 0 ]

	tls_listen
	send_tls "$PORT4"
	[ "$status" -eq 0 ]
	[[ $output == *"connected to tls://127.0.0.1:$PORT4"* ]]
	stop_dnstap
	[ "$DT_STATUS" -eq 0 ]
	grep -q 'TLS established (TLSv1.3)$' "$TMP/dnstap.err"
	cmp "$TMP/plain.dnstap" "$TMP/ours.dnstap"
	diff <("$DNSTAP" -r "$TESTDATA/unbound.dnstap") <("$DNSTAP" -r "$TMP/ours.dnstap")
}

@test "-T --tls: the name checked is the address when no --tls-server-name is given" {
	tls_listen
	run timeout 60 "$DNSTAP" -r "$TESTDATA/unbound.dnstap" -T "127.0.0.1:$PORT4" --tls --tls-ca "$P/ca.pem"
	[ "$status" -eq 0 ]
	stop_dnstap
	cmp <("$DNSTAP" -r "$TESTDATA/unbound.dnstap") <("$DNSTAP" -r "$TMP/ours.dnstap")
}

@test "mutual TLS: a client certificate from the CA is accepted and its subject logged" {
	tls_listen --tls-client-ca "$P/ca.pem"
	send_tls "$PORT4" --tls-cert "$P/client.pem" --tls-key "$P/client.key"
	[ "$status" -eq 0 ]
	stop_dnstap
	grep -q 'connection 1 from 127\.0\.0\.1:[0-9]*: TLS established (TLSv1\.3, client certificate "CN=ns1\.test")$' \
		"$TMP/dnstap.err"
	[ "$(frames "$TMP/ours.dnstap")" -eq "$("$DNSTAP" -r "$TESTDATA/unbound.dnstap" | wc -l)" ]
}

@test "mutual TLS: no client certificate, or one from another CA, is refused with one line" {
	tls_listen --tls-client-ca "$P/ca.pem"
	send_tls "$PORT4"
	[ "$status" -eq 1 ]
	[[ $output == *"cannot connect to tls://127.0.0.1:$PORT4: "* ]]
	wait_until 10 grep -q 'connection 1 from .*: closed: TLS handshake failed: no client certificate (one is required)' \
		"$TMP/dnstap.err"
	send_tls "$PORT4" --tls-cert "$P/rogue-client.pem" --tls-key "$P/rogue-client.key"
	[ "$status" -eq 1 ]
	wait_until 10 grep -q 'connection 2 from .*: closed: TLS handshake failed: certificate verification failed: unable to get local issuer certificate' \
		"$TMP/dnstap.err"
	stop_dnstap
	[ ! -s "$TMP/ours.dnstap" ] || [ "$(frames "$TMP/ours.dnstap")" -eq 0 ]
}

@test "-T --tls refuses an untrusted, an expired and a wrong-name certificate, each in one line" {
	listen_dnstap -l 127.0.0.1:0 --tls-cert "$P/rogue-server.pem" --tls-key "$P/rogue-server.key" -w "$TMP/r.dnstap"
	send_tls "$PORT4"
	[ "$status" -eq 1 ]
	[[ $output == *"cannot connect to tls://127.0.0.1:$PORT4: certificate verification failed: unable to get local issuer certificate"* ]]
	wait_until 10 grep -q 'closed: TLS handshake failed: the peer rejected our certificate' "$TMP/dnstap.err"
	stop_dnstap

	listen_dnstap -l 127.0.0.1:0 --tls-cert "$P/expired.pem" --tls-key "$P/expired.key" -w "$TMP/e.dnstap"
	send_tls "$PORT4"
	[ "$status" -eq 1 ]
	[[ $output == *"certificate verification failed: certificate has expired"* ]]
	stop_dnstap

	listen_dnstap -l 127.0.0.1:0 --tls-cert "$P/other.pem" --tls-key "$P/other.key" -w "$TMP/o.dnstap"
	send_tls "$PORT4"
	[ "$status" -eq 1 ]
	[[ $output == *"certificate verification failed: hostname mismatch"* ]]
	# --tls-insecure: no check at all
	run timeout 60 "$DNSTAP" -r "$TESTDATA/unbound.dnstap" -T "127.0.0.1:$PORT4" --tls --tls-insecure
	[ "$status" -eq 0 ]
	stop_dnstap
}

# ==== mismatches ====

@test "plain Frame Streams into a TLS listener: one line saying so" {
	tls_listen
	run timeout 60 "$DNSTAP" -r "$TESTDATA/unbound.dnstap" -T "127.0.0.1:$PORT4"
	[ "$status" -eq 1 ]
	wait_until 10 grep -q "connection 1 from 127\.0\.0\.1:[0-9]*: closed: TLS handshake failed: plain Frame Streams (bytes 00 00 00 00 00 00 00 22), not a TLS ClientHello: the sender does not use TLS; 0 frames, 0 bytes" \
		"$TMP/dnstap.err"
	stop_dnstap
	[ "$(logged 'closed:')" -eq 1 ]
}

@test "TLS into a plain listener: one line naming the ClientHello" {
	listen_dnstap -l 127.0.0.1:0 -w "$TMP/ours.dnstap"
	send_tls "$PORT4"
	[ "$status" -eq 1 ]
	[[ $output == *"cannot connect to tls://127.0.0.1:$PORT4: connection closed by the collector during the TLS handshake (is it a plain Frame Streams port?)"* ]]
	wait_until 10 grep -q 'connection 1 from .*: closed: looks like TLS (a ClientHello: 16 03 01 .*) on a plain socket: is --tls-cert missing' \
		"$TMP/dnstap.err"
	stop_dnstap
}

# ==== other senders inside TLS ====

@test "inside TLS: a unidirectional sender (START first), a bidirectional one, and a TLS 1.2-only one" {
	tls_listen
	tls_fsend "$PORT4" "ca=$P/ca.pem,name=collector.test" start "frames=$TESTDATA/unbound.dnstap" stop eof=10
	[ "$status" -eq 0 ]
	tls_fsend "$PORT4" "ca=$P/ca.pem,name=collector.test" ready accept start "frames=$TESTDATA/unbound.dnstap" stop finish
	[ "$status" -eq 0 ]
	tls_fsend "$PORT4" "ca=$P/ca.pem,name=collector.test,max=1.2" ready accept start "frames=$TESTDATA/unbound.dnstap" stop finish
	[ "$status" -eq 0 ]
	[[ $output == *TLSv1.2* ]]
	stop_dnstap
	n=$("$DNSTAP" -r "$TESTDATA/unbound.dnstap" | wc -l)
	[ "$(frames "$TMP/ours.dnstap")" -eq $((3 * n)) ]
	[ "$(logged 'TLS established \(TLSv1\.2\)$')" -eq 1 ]
	[ "$(logged 'TLS established \(TLSv1\.3\)$')" -eq 2 ]
	[ "$(logged 'closed \(STOP received')" -eq 3 ]
}

@test "hostile TLS peers: a stalled handshake times out, cuts mid-handshake and mid-frame, garbage after it" {
	tls_listen -t 1s
	# a ClientHello's first bytes, then nothing
	run fsend "127.0.0.1:$PORT4" raw=160301 eof=10
	[ "$status" -eq 0 ]
	wait_until 10 grep -q 'connection 1 from .*: closed: handshake timeout: TLS handshake not complete within 1000 ms' \
		"$TMP/dnstap.err"
	# gone in the middle of the handshake
	run fsend "127.0.0.1:$PORT4" raw=16030100 close
	wait_until 10 grep -q 'connection 2 from .*: closed: TLS handshake failed: connection closed by the peer' "$TMP/dnstap.err"
	# gone in the middle of a frame, inside TLS
	tls_fsend "$PORT4" "ca=$P/ca.pem,name=collector.test" ready accept start half close
	wait_until 10 grep -q 'connection 3 from .*: closed: connection lost in the middle of a frame' "$TMP/dnstap.err"
	# not Frame Streams inside TLS
	tls_fsend "$PORT4" "ca=$P/ca.pem,name=collector.test" raw=474554202f20485454502f312e310d0a0d0a eof=10
	wait_until 10 grep -q 'connection 4 from .*: closed: not a Frame Streams sender (got 47 45 54 20' "$TMP/dnstap.err"
	# and the listener still serves
	send_tls "$PORT4"
	[ "$status" -eq 0 ]
	stop_dnstap
	[ "$DT_STATUS" -eq 0 ]
}

# ==== reloading, allowing ====

@test "SIGHUP reloads the certificate; a bad one keeps the old, with one line" {
	cp "$P/server.pem" "$TMP/cur.pem"
	cp "$P/server.key" "$TMP/cur.key"
	listen_dnstap -l 127.0.0.1:0 --tls-cert "$TMP/cur.pem" --tls-key "$TMP/cur.key" -w "$TMP/ours.dnstap"
	# an open connection, held across both reloads
	spawn held python3 "$FSEND" "127.0.0.1:$PORT4" "tls=ca=$P/ca.pem,name=collector.test" ready accept start \
		"frames=$TESTDATA/unbound.dnstap:3" "wait=$TMP/go" "frames=$TESTDATA/unbound.dnstap:2" stop finish
	HELD=$SPAWNED
	wait_until 10 at_least_frames "$TMP/ours.dnstap" 3
	echo garbage >"$TMP/cur.pem"
	kill -HUP "$DT_PID"
	wait_until 10 grep -q 'TLS: reload failed, keeping the certificate in use: cannot use the certificate' "$TMP/dnstap.err"
	[ "$(logged 'reload failed')" -eq 1 ]
	send_tls "$PORT4"
	[ "$status" -eq 0 ]
	# a certificate for another name: new connections get it
	cp "$P/other.pem" "$TMP/cur.pem"
	cp "$P/other.key" "$TMP/cur.key"
	kill -HUP "$DT_PID"
	wait_until 10 grep -q 'TLS: certificate and key reloaded for new connections' "$TMP/dnstap.err"
	send_tls "$PORT4"
	[ "$status" -eq 1 ]
	[[ $output == *"hostname mismatch"* ]]
	send_tls "$PORT4" --tls-server-name other.test
	[ "$status" -eq 0 ]
	touch "$TMP/go"
	finished "$HELD"
	stop_dnstap
	n=$("$DNSTAP" -r "$TESTDATA/unbound.dnstap" | wc -l)
	[ "$(frames "$TMP/ours.dnstap")" -eq $((2 * n + 5)) ]
}

@test "--allow: other addresses are refused at accept with one line; allowed ones go on" {
	tls_listen --allow 192.0.2.0/24 --allow ::1
	send_tls "$PORT4"
	[ "$status" -eq 1 ]
	wait_until 10 grep -q "127\.0\.0\.1:$PORT4: refused a connection from 127\.0\.0\.1:[0-9]*: not in the allowed ranges (--allow)" \
		"$TMP/dnstap.err"
	stop_dnstap
	[ "$(logged 'accepted$')" -eq 0 ]

	listen_dnstap -l 127.0.0.1:0 --allow 127.0.0.0/8 -w "$TMP/plain.dnstap"
	run timeout 60 "$DNSTAP" -r "$TESTDATA/unbound.dnstap" -T "127.0.0.1:$PORT4"
	[ "$status" -eq 0 ]
	stop_dnstap
	[ "$(logged 'refused')" -eq 0 ]
}

# ==== flags ====

@test "TLS flags: in --help, and their usage errors" {
	run "$DNSTAP" --help
	for f in --tls-cert --tls-key --tls-client-ca --allow --tls --tls-ca --tls-server-name --tls-insecure; do
		[[ $output == *"  $f"* ]]
	done
	run "$DNSTAP" -l 127.0.0.1:0 --tls-cert "$P/server.pem"
	[ "$status" -eq 2 ]
	[[ $output == *"--tls-cert and --tls-key go together"* ]]
	run "$DNSTAP" -r x --tls-cert "$P/server.pem" --tls-key "$P/server.key"
	[ "$status" -eq 2 ]
	run "$DNSTAP" -l 127.0.0.1:0 --tls-client-ca "$P/ca.pem"
	[ "$status" -eq 2 ]
	run "$DNSTAP" -r x --tls
	[ "$status" -eq 2 ]
	[[ $output == *"--tls applies to -T"* ]]
	run "$DNSTAP" -r x -T 127.0.0.1:1 --tls-ca "$P/ca.pem"
	[ "$status" -eq 2 ]
	run "$DNSTAP" -u "$TMP/s" --allow 127.0.0.1
	[ "$status" -eq 2 ]
	run "$DNSTAP" -l 127.0.0.1:0 --allow 127.0.0.1/33
	[ "$status" -eq 2 ]
	[[ $output == *'invalid value "127.0.0.1/33" for flag -allow'* ]]
	# unusable files: the listener names the file
	run "$DNSTAP" -l 127.0.0.1:0 --tls-cert "$P/server.pem" --tls-key "$P/client.key"
	[ "$status" -eq 1 ]
	[[ $output == *"127.0.0.1:0: TLS: cannot use the key $P/client.key: key values mismatch"* ]]
	run "$DNSTAP" -r "$TESTDATA/unbound.dnstap" -T 127.0.0.1:1 --tls --tls-ca "$TMP/none.pem"
	[ "$status" -eq 1 ]
	[[ $output == *"TLS: cannot use the CA file $TMP/none.pem"* ]]
}

# ==== dnstap-proxy ====

@test "dnstap-proxy --tap tls:// into our TLS listener: the taps arrive, as over plain TCP" {
	require kdig
	tls_listen --tls-client-ca "$P/ca.pem"
	free_port
	spawn proxy "$DNSTAP_PROXY" --listen "127.0.0.1:$FREE_PORT" --listen "[::1]:$FREE_PORT" --upstream 127.0.0.1:9 --timeout 200 \
		--tap "tls://127.0.0.1:$PORT4" --tls-ca "$P/ca.pem" --tls-server-name collector.test \
		--tls-cert "$P/client.pem" --tls-key "$P/client.key"
	PROXY_PID=$SPAWNED
	serving "$PROXY_PID" proxy "$FREE_PORT"
	wait_until 10 grep -q 'TLS established (TLSv1.3, client certificate "CN=ns1.test")' "$TMP/dnstap.err"
	kdig @127.0.0.1 -p "$FREE_PORT" +retry=0 +timeout=2 a.example >/dev/null || true
	wait_until 10 at_least_frames "$TMP/ours.dnstap" 2
	stop "$PROXY_PID"
	wait_until 10 grep -q 'closed (STOP received, FINISH sent)' "$TMP/dnstap.err"
	stop_dnstap
	[ "$("$DNSTAP" -r "$TMP/ours.dnstap" | awk '$2 == "CQ"' | wc -l)" -eq 1 ]
	run "$DNSTAP_PROXY" --listen 127.0.0.1:5300 --upstream 127.0.0.1:53 --tap tcp://127.0.0.1:1 --tls-ca x
	[ "$status" -eq 2 ]
}

# proxy_run TAP-SPEC [OPTION...]: dnstap-proxy tapping to our listener (started already), the same ten
# queries with the same IDs through it, then both stopped: what the listener wrote is in ours.dnstap.
proxy_run() {
	free_port
	spawn proxy "$DNSTAP_PROXY" --listen "127.0.0.1:$FREE_PORT" --listen "[::1]:$FREE_PORT" --upstream 127.0.0.1:9 \
		--timeout 100 --tap "$@"
	PROXY_PID=$SPAWNED
	serving "$PROXY_PID" proxy "$FREE_PORT"
	wait_until 10 grep -q 'dnstap: connected to ' "$TMP/proxy.err"
	local i
	for ((i = 0; i < 10; i++)); do
		python3 "$TOOLS/dnsq.py" 127.0.0.1 "$FREE_PORT" udp "q$i.example." A --id $((100 + i)) >/dev/null || true
	done
	wait_until 10 at_least_frames "$TMP/ours.dnstap" 20
	stop "$PROXY_PID"
	wait_until 10 grep -q 'closed (STOP received, FINISH sent)' "$TMP/dnstap.err"
	stop_dnstap
	[ "$DT_STATUS" -eq 0 ]
}

# What a -y rendering holds but times and ports (the client's source port, the proxy's port): the rest
# (types, addresses, the DNS messages with their IDs) is the same in two runs of the same queries.
steady_yaml() { "$DNSTAP" -r "$1" -y | grep -vE '^  (query|response)_(time|port): '; }

@test "dnstap-proxy --tap tls:// and tcp:// give the same file but for times and ports" {
	listen_dnstap -l 127.0.0.1:0 -w "$TMP/ours.dnstap"
	proxy_run "tcp://127.0.0.1:$PORT4"
	mv "$TMP/ours.dnstap" "$TMP/plain.dnstap"
	mv "$TMP/proxy.err" "$TMP/proxy-plain.err"
	tls_listen
	proxy_run "tls://127.0.0.1:$PORT4" --tls-ca "$P/ca.pem" --tls-server-name collector.test
	grep -q 'TLS established (TLSv1.3)$' "$TMP/dnstap.err"
	[ "$(python3 "$FCHECK" --count "$TMP/ours.dnstap")" -ge 20 ] # CQ, FQ and CR at least, for each
	[ "$(python3 "$FCHECK" --count "$TMP/ours.dnstap")" -eq "$(python3 "$FCHECK" --count "$TMP/plain.dnstap")" ]
	diff <(steady_yaml "$TMP/plain.dnstap") <(steady_yaml "$TMP/ours.dnstap")
}

# ==== Unbound ====

# start_unbound_tls PORT [CONF-LINES]: unbound forwarding to the knotd upstream, dnstap over TLS to our
# port, trusting the test CA and checking the name collector.test, plus the extra dnstap: lines.
start_unbound_tls() {
	local port=$1 extra=${2:-} dir=$TMP/unbound
	free_port
	DNS_PORT=$FREE_PORT
	mkdir -p "$dir"
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
    access-control: 127.0.0.0/8 allow
    local-zone: "tls.test." static
    local-data: "a.tls.test. 300 IN A 192.0.2.1"
    local-data: "b.tls.test. 300 IN A 192.0.2.2"
remote-control:
    control-enable: no
dnstap:
    dnstap-enable: yes
    dnstap-bidirectional: yes
    dnstap-ip: "127.0.0.1@$port"
    dnstap-tls: yes
    dnstap-tls-server-name: "collector.test"
    dnstap-tls-cert-bundle: "$P/ca.pem"
$extra
    dnstap-log-client-query-messages: yes
    dnstap-log-client-response-messages: yes
EOF
	spawn unbound unbound -d -c "$dir/unbound.conf"
	SERVER_PID=$SPAWNED
	serving "$SERVER_PID" unbound "$DNS_PORT" && wait_until 30 log_has unbound 'start of service'
}

queries() { # N: a.tls.test and b.tls.test in turn, over UDP
	local i
	for ((i = 0; i < $1; i++)); do
		kdig @127.0.0.1 -p "$DNS_PORT" +retry=0 +timeout=2 "$([ $((i % 2)) -eq 0 ] && echo a || echo b).tls.test" A >/dev/null
	done
}

cq() { "$DNSTAP" -r "$1" 2>/dev/null | awk '$2 == "CQ"' | wc -l; }

@test "Unbound over TLS (dnstap-tls: yes): every client query arrives" {
	require unbound kdig
	tls_listen
	start_unbound_tls "$PORT4"
	wait_until 30 grep -q 'TLS established' "$TMP/dnstap.err"
	queries 20
	wait_until 30 at_least_frames "$TMP/ours.dnstap" 40
	stop "$SERVER_PID"
	stop_dnstap
	[ "$(cq "$TMP/ours.dnstap")" -eq 20 ]
	[ "$(frames "$TMP/ours.dnstap")" -eq 40 ]
}

@test "Unbound over TLS with a client certificate: required, given and checked" {
	require unbound kdig
	tls_listen --tls-client-ca "$P/ca.pem"
	start_unbound_tls "$PORT4" "    dnstap-tls-client-key-file: \"$P/client.key\"
    dnstap-tls-client-cert-file: \"$P/client.pem\""
	wait_until 30 grep -q 'TLS established (TLSv1.3, client certificate "CN=ns1.test")' "$TMP/dnstap.err"
	queries 10
	wait_until 30 at_least_frames "$TMP/ours.dnstap" 20
	stop "$SERVER_PID"
	stop_dnstap
	[ "$(cq "$TMP/ours.dnstap")" -eq 10 ]
}

@test "Unbound over TLS, client certificate required and missing: refused, and we say so" {
	require unbound kdig
	tls_listen --tls-client-ca "$P/ca.pem"
	start_unbound_tls "$PORT4"
	wait_until 30 grep -q 'closed: TLS handshake failed: no client certificate (one is required)' "$TMP/dnstap.err"
	queries 2
	stop "$SERVER_PID"
	stop_dnstap
	[ "$(logged 'TLS established')" -eq 0 ]
}

@test "Unbound over TLS to a certificate from another CA, or for another name: Unbound refuses, we log it" {
	require unbound kdig
	listen_dnstap -l 127.0.0.1:0 --tls-cert "$P/rogue-server.pem" --tls-key "$P/rogue-server.key" -w "$TMP/ours.dnstap"
	start_unbound_tls "$PORT4"
	wait_until 30 grep -q 'closed: TLS handshake failed: the peer rejected our certificate' "$TMP/dnstap.err"
	stop "$SERVER_PID"
	stop_dnstap
	[ "$(logged 'TLS established')" -eq 0 ]

	listen_dnstap -l 127.0.0.1:0 --tls-cert "$P/other.pem" --tls-key "$P/other.key" -w "$TMP/o.dnstap"
	start_unbound_tls "$PORT4"
	wait_until 30 grep -q 'closed: TLS handshake failed: the peer rejected our certificate' "$TMP/dnstap.err"
	stop "$SERVER_PID"
	stop_dnstap
}

# ==== many connections ====

# fds PID / rss PID: open descriptors, resident KiB.
fds() { ls "/proc/$1/fd" | wc -l; }
rss() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
rss_within() { (($(rss "$1") <= $2)); } # PID KIB

# many ROUND HELD CYCLES: HELD TLS connections at once (the listener's descriptors checked while they
# are open), all closed, then CYCLES connect-handshake-close cycles; waits until the listener has closed
# them all.
many() {
	local round=$1 held=$2 cycles=$3 closed
	closed=$(logged ': closed')
	spawn "many$round" timeout 600 python3 "$TMP/many.py" "$PORT4" "$P/ca.pem" "$TMP/held$round" "$held" "$cycles"
	local pid=$SPAWNED
	wait_until 280 test -e "$TMP/held$round"
	[ "$(fds "$DT_PID")" -ge $((fd0 + held)) ]
	touch "$TMP/held$round.go"
	wait_until 280 eval "! kill -0 $pid 2>/dev/null"
	wait "$pid" || { cat "$TMP/many$round.err" >&3; false; }
	wait_until 60 eval "[ \$(logged ': closed') -eq $((closed + held + cycles)) ]"
}

@test "1,000 concurrent TLS connections, then 2,000 connect cycles: descriptors come back, RSS falls back from the peak to the start" {
	tls_listen --max-connections 2000
	cat >"$TMP/many.py" <<'PY'
import os, resource, socket, ssl, struct, sys, time
port, ca, mark, held, cycles = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.load_verify_locations(ca)
ct = b"protobuf:dnstap.Dnstap"
ready = struct.pack(">II", 0, 12 + len(ct)) + struct.pack(">III", 4, 1, len(ct)) + ct
start = struct.pack(">II", 0, 12 + len(ct)) + struct.pack(">III", 2, 1, len(ct)) + ct
def connect():
    s = socket.create_connection(("127.0.0.1", port))
    t = ctx.wrap_socket(s, server_hostname="collector.test")
    t.sendall(ready)
    t.recv(100)  # ACCEPT
    t.sendall(start)  # past the handshake timeout's reach
    return t
conns = [connect() for _ in range(held)]
open(mark, "w").close()
while not os.path.exists(mark + ".go"):
    time.sleep(0.05)
for t in conns:
    t.close()
for _ in range(cycles):
    connect().close()
PY
	# one connection through first, so that the start counts what a served connection leaves (buffers)
	send_tls "$PORT4"
	[ "$status" -eq 0 ]
	fd0=$(fds "$DT_PID")
	rss0=$(rss "$DT_PID")
	many 1 1000 2000
	fd1=$(fds "$DT_PID")
	rss_peak=$(awk '/^VmHWM:/ { print $2 }' "/proc/$DT_PID/status")
	# A second after the last connection closed, the listener gives the freed memory back (malloc_trim).
	# libevent's per-descriptor slots, kept for the base's life, come from pages of their own
	# (src/evmem.c), so they pin none of the freed TLS buffers: what stays is under 2 MiB (the slots, and
	# the freed events libevent will reuse), and a second round adds nothing.
	[ "${SANITIZERS:-no}" = yes ] || wait_until 10 rss_within "$DT_PID" $((rss0 + 2048))
	rss1=$(rss "$DT_PID")
	many 2 1000 0
	fd2=$(fds "$DT_PID")
	[ "${SANITIZERS:-no}" = yes ] || wait_until 10 rss_within "$DT_PID" $((rss1 + 1024))
	rss2=$(rss "$DT_PID")
	echo "# descriptors $fd0 -> $fd1 -> $fd2; RSS $rss0 KiB at the start, $rss_peak at the peak, $rss1 after a round, $rss2 after another" >&3
	[ "$fd1" -eq "$fd0" ]
	[ "$fd2" -eq "$fd0" ]
	# ASan keeps freed memory in quarantine (up to 256 MiB) to catch use after free: there RSS says
	# nothing about leaks, which its leak check at exit reports instead
	if [ "${SANITIZERS:-no}" != yes ]; then
		((rss_peak > rss0 + 16384)) # the connections did take memory: the test can see it come back
		((rss1 <= rss0 + 2048))
		((rss2 <= rss1 + 1024))
	fi
	stop_dnstap
	[ "$DT_STATUS" -eq 0 ]
}
