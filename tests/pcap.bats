#!/usr/bin/env bats
# --format pcap: the DNS wire messages of dnstap as packets, read back by tshark (an independent
# parser): addresses, ports, direction, times, checksums, TCP streams that reassemble, and the count of
# messages that carry no wire bytes.

bats_require_minimum_version 1.5.0
load helpers
load peers

setup() {
	common_setup
	require tshark
	"$MKFIXTURE" pcap "$TMP/p.dnstap"
}

teardown() {
	stop_all
	common_teardown
}

# tshark with every checksum verified; decode TCP port 853 (DoT written as plain DNS) as DNS
ts() {
	tshark -o ip.check_checksum:TRUE -o udp.check_checksum:TRUE -o tcp.check_checksum:TRUE \
		-d tcp.port==853,dns "$@" 2>/dev/null
}

@test "--format pcap: one packet per wire message, addresses and direction from the message, and the skipped counted" {
	run --separate-stderr "$DNSTAP" -r "$TMP/p.dnstap" --format pcap -w "$TMP/p.pcap"
	[ "$status" -eq 0 ]
	[ "$stderr" = "dnstap: $TMP/p.pcap: 9 packets from 9 messages; 2 messages skipped (no DNS wire message)" ]
	ts -r "$TMP/p.pcap" -T fields -E separator=' ' -e frame.time_epoch -e ip.src -e ipv6.src -e ip.dst -e ipv6.dst \
		-e udp.srcport -e tcp.srcport -e udp.dstport -e tcp.dstport -e dns.flags.response -e dns.qry.name > "$TMP/got"
	cat > "$TMP/want" <<'WANT'
1700000000.123456000 192.0.2.1  192.0.2.2   53000  53 0 www.example.com
1700000000.500000000 192.0.2.2  192.0.2.1   53  53000 1 www.example.com
1700000001.123456000 192.0.2.1  192.0.2.2   53000  53 0 www.example.com
1700000001.500000000 192.0.2.2  192.0.2.1   53  53000 1 www.example.com
1700000002.123456000 192.0.2.1  192.0.2.2   53000  53 0 www.example.com
1700000002.500000000 192.0.2.2  192.0.2.1   53  53000 1 www.example.com
1700000000.123456000  2001:db8::1  2001:db8::1  53000  853 0 www.example.com
1700000000.123456000  2001:db8::1  2001:db8::1  853  53000 1 www.example.com
1700000000.123456000  2001:db8::1  2001:db8::1 53000  53  0 www.example.com
WANT
	diff "$TMP/want" "$TMP/got"
}

@test "--format pcap: every IPv4, UDP and TCP checksum is right" {
	"$DNSTAP" -r "$TMP/p.dnstap" --format pcap -w "$TMP/p.pcap" 2>/dev/null
	ts -r "$TMP/p.pcap" -T fields -e ip.checksum.status -e udp.checksum.status -e tcp.checksum.status > "$TMP/st"
	[ "$(wc -l < "$TMP/st")" -eq 9 ]
	if grep -q '[02]' "$TMP/st"; then return 1; fi # 0: bad, 2: not verified
	[ "$(grep -o 1 "$TMP/st" | wc -l)" -eq 15 ] # 6 IPv4 headers, 9 UDP or TCP checksums
	local f
	for f in $(captures); do
		"$DNSTAP" -r "$f" --format pcap -w "$TMP/c.pcap" 2>/dev/null
		ts -r "$TMP/c.pcap" -T fields -e ip.checksum.status -e udp.checksum.status -e tcp.checksum.status > "$TMP/st"
		[ -s "$TMP/st" ]
		if grep -q '[02]' "$TMP/st"; then return 1; fi
	done
}

@test "--format pcap: the checksums are right for wire messages of every length from 1 to 40 bytes" {
	"$MKFIXTURE" pcap-lengths "$TMP/l.dnstap"
	"$DNSTAP" -r "$TMP/l.dnstap" --format pcap -w "$TMP/l.pcap" 2>/dev/null
	ts -r "$TMP/l.pcap" -T fields -e ip.checksum.status -e udp.checksum.status -e tcp.checksum.status > "$TMP/st"
	[ "$(wc -l < "$TMP/st")" -eq 160 ]
	if grep -q '[02]' "$TMP/st"; then return 1; fi
	[ "$(grep -o 1 "$TMP/st" | wc -l)" -eq 240 ] # 80 IPv4 headers, 160 UDP or TCP checksums
}

@test "--format pcap: a TCP connection's messages reassemble into one stream, with sequence numbers that follow on" {
	"$DNSTAP" -r "$TMP/p.dnstap" --format pcap -w "$TMP/p.pcap" 2>/dev/null
	run ts -r "$TMP/p.pcap" -Y 'tcp.stream == 0' -T fields -e tcp.seq -e tcp.ack -e tcp.len
	[ "${lines[*]}" = "$(printf '1\t1\t35 1\t36\t35 36\t36\t35 36\t71\t35 71\t71\t35 71\t106\t35')" ]
	# no expert complaint: no lost segment, no retransmission, no malformed DNS
	run ts -r "$TMP/p.pcap" -q -z expert,warn
	if grep -qi 'warn\|error' <<< "$output"; then return 1; fi
	run ts -r "$TMP/p.pcap" -q -z follow,tcp,raw,0
	[ "$(grep -c '^	*0021' <<< "$output")" -eq 6 ] # six DNS messages, each after its length 0x0021
}

@test "--format pcap: tshark finds the same DNS names, in the same order, as dnstap -q in every capture" {
	local f
	for f in $(captures); do
		# tshark shows a space in a name as it is, we as Go does (escaped)
		"$DNSTAP" -r "$f" -q | sed -n 's/.*"\(.*\)\." [A-Z]* [A-Z0-9]*$/\1/p' | sed 's/\\ / /g' > "$TMP/want"
		"$DNSTAP" -r "$f" --format pcap -w - 2>/dev/null |
			ts -r - -d tcp.port==1-65535,dns -T fields -e dns.qry.name > "$TMP/got"
		[ -s "$TMP/want" ]
		diff "$TMP/want" "$TMP/got"
	done
}

@test "--format pcap to standard output and --pcap-raw: raw IP framing" {
	run --separate-stderr bash -c '"$1" -r "$2" --format pcap --pcap-raw | tshark -r - -T fields -e frame.protocols 2>/dev/null' _ "$DNSTAP" "$TMP/p.dnstap"
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 9 ]
	[ "${lines[0]}" = "raw:ip:tcp:dns" ]
	[ "${lines[8]}" = "raw:ipv6:udp:dns" ]
	[ "$stderr" = "dnstap: (stdout): 9 packets from 9 messages; 2 messages skipped (no DNS wire message)" ]
}

@test "--format pcap from a listener: what arrived is in the file after SIGTERM" {
	require fstrm_replay
	listen_dnstap -u "$TMP/s.sock" --format pcap -w "$TMP/out.pcap"
	replay -u "$TMP/s.sock" -r "$TESTDATA/unbound.dnstap"
	stop_dnstap
	[ "$DT_STATUS" -eq 0 ]
	grep -qx "dnstap: $TMP/out.pcap: 204 packets from 204 messages; 0 messages skipped (no DNS wire message)" "$TMP/dnstap.err"
	[ "$(ts -r "$TMP/out.pcap" | wc -l)" -eq 204 ]
}

@test "--format: bad names and combinations are one line and exit 2" {
	run --separate-stderr "$DNSTAP" -r "$TMP/p.dnstap" --format nope
	[ "$status" -eq 2 ]
	[[ "$stderr" == *"--format nope: unknown format (want quiet, yaml, json, json-full, csv, tsv, dnstap or pcap)"* ]]
	run --separate-stderr "$DNSTAP" -r "$TMP/p.dnstap" --pcap-raw
	[ "$status" -eq 2 ]
	[[ "$stderr" == *"--pcap-raw needs --format pcap"* ]]
	run --separate-stderr "$DNSTAP" -r "$TMP/p.dnstap" --format pcap --split 60 -w "$TMP/x.pcap"
	[ "$status" -eq 2 ]
	[[ "$stderr" == *"--split and --max-size do not apply to --format pcap"* ]]
	run --separate-stderr "$DNSTAP" -r "$TMP/p.dnstap" --format yaml -q
	[ "$status" -eq 2 ]
	[ ! -e "$TMP/x.pcap" ]
}

@test "--format quiet, yaml, json and dnstap are -q, -y, -j and the binary file" {
	[ "$("$DNSTAP" -r "$TMP/p.dnstap" --format quiet)" = "$("$DNSTAP" -r "$TMP/p.dnstap" -q)" ]
	[ "$("$DNSTAP" -r "$TMP/p.dnstap" --format yaml)" = "$("$DNSTAP" -r "$TMP/p.dnstap" -y)" ]
	[ "$("$DNSTAP" -r "$TMP/p.dnstap" --format json)" = "$("$DNSTAP" -r "$TMP/p.dnstap" -j)" ]
	"$DNSTAP" -r "$TMP/p.dnstap" --format dnstap -w "$TMP/copy.dnstap"
	cmp "$TMP/p.dnstap" "$TMP/copy.dnstap"
}

# ts_fields DNSTAP PCAP: tshark's view of PCAP as tests/tools/wire-fields.py compares it, every port the
# dnstap file uses decoded as DNS (the captures' servers listen on high ports).
ts_fields() {
	local p d=()
	for p in $(python3 "$TOOLS/wire-fields.py" "$1" | awk '{ print $2; print $4 }' | sort -u); do
		d+=(-d "udp.port==$p,dns" -d "tcp.port==$p,dns")
	done
	ts -r "$2" "${d[@]}" -T fields -E occurrence=f -e ip.src -e ipv6.src -e udp.srcport -e tcp.srcport \
		-e ip.dst -e ipv6.dst -e udp.dstport -e tcp.dstport -e dns.id -e dns.qry.name -e dns.qry.type \
		-e dns.flags.rcode -e udp.payload -e tcp.payload
}

@test "--format pcap: for every message of every capture, tshark reads the addresses, ports, ID, question, rcode and the very bytes of the wire message" {
	local f n
	for f in "$TESTDATA"/*.dnstap "$TMP/p.dnstap"; do
		"$DNSTAP" -r "$f" --format pcap -w "$TMP/x.pcap" 2>/dev/null
		ts_fields "$f" "$TMP/x.pcap" >"$TMP/x.tsv"
		# an independent decoder of the dnstap file (protobuf and DNS by hand) against tshark
		n=$(python3 "$TOOLS/wire-fields.py" "$f" "$TMP/x.tsv")
		echo "# ${f##*/}: $n messages agree" >&3
		((n > 0))
		# and Wireshark's TCP analysis finds no gap in any stream
		[ -z "$(ts -r "$TMP/x.pcap" -Y 'tcp.analysis.lost_segment || tcp.analysis.ack_lost_segment' -T fields -e frame.number)" ]
	done
}
