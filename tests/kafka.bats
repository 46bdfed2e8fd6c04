#!/usr/bin/env bats
# Kafka: dnstap --kafka produces every frame to a topic, dnstap --kafka-in consumes one, against
# librdkafka's mock cluster (tests/tools/kafka_mock: brokers in a process of their own, on loopback,
# taken down and up by SIGUSR1/SIGUSR2), with kcat as the independent client. Built --without-kafka,
# every test is skipped (and fails under CI=true).

load helpers
load peers

KCHECK=$TOOLS/kafka_check.py

setup() {
	common_setup
	[ -x "${KAFKA_MOCK:-}" ] || unavailable "built without Kafka (librdkafka): no kafka_mock"
	require kcat python3
}

teardown() {
	stop_all
	common_teardown
}

# start_mock ARG...: a mock cluster (kafka_mock ARG...); its bootstrap servers in BOOT, its pid in MOCK_PID.
start_mock() {
	spawn mock "$KAFKA_MOCK" "$@"
	MOCK_PID=$SPAWNED
	wait_until 10 test -s "$TMP/mock.out"
	BOOT=$(head -n 1 "$TMP/mock.out")
}

kc() { timeout 60 kcat -b "$BOOT" "$@" 2>>"$TMP/kcat.err"; }

# raw TOPIC PARTITION OUT: the partition's messages as length-prefixed payloads (a Frame Streams body).
raw() { kc -C -t "$1" -p "$2" -e -f '%R%s' >"$3"; }

# in_topic TOPIC N: the topic's partition 0 holds at least N messages.
in_topic() { (($(kc -C -t "$1" -p 0 -e -f 'x\n' | wc -l) >= $2)); }

gen() { python3 "$GEN_FRAMES" "$1" "$TMP/$2.fstrm" "$2" >/dev/null; }

# A line our producer logged at the end: "N received: N delivered, ...".
summary() { grep -E "topic $1: [0-9]+ received: " "$2" | tail -n 1; }

@test "kafka: every flag is in --help and in dnstap(1)'s KAFKA section" {
	local f
	run "$DNSTAP" --help
	[ "$status" -eq 0 ]
	for f in --kafka --kafka-in --kafka-topic --kafka-format --kafka-key -X --kafka-flush-timeout \
		--kafka-stats-interval --kafka-group --kafka-from --kafka-exit-at-end; do
		grep -qE -- "^  $f( |\$)" <<<"$output" || { echo "missing from --help: $f"; false; }
		sed -n '/^\.SH KAFKA/,/^\.SH [^K]/p' "$TOP_SRCDIR/man/dnstap.1" | grep -qF -- "${f//-/\\-}" ||
			{ echo "missing from the man page: $f"; false; }
	done
}

@test "kafka: round trip of 20,000 frames keyed by client-ip: kcat and --kafka-in give back every frame, per-partition order kept" {
	gen 20000 src
	start_mock -t rt:4
	run "$DNSTAP" -r "$TMP/src.fstrm" --kafka "$BOOT" --kafka-topic rt --kafka-key client-ip
	echo "$output"
	[ "$status" -eq 0 ]
	[[ $output == *"topic rt: 20000 received: 20000 delivered"* ]]
	local p parts=()
	for p in 0 1 2 3; do
		raw rt "$p" "$TMP/p$p.raw"
		parts+=("$TMP/p$p.raw")
	done
	python3 "$KCHECK" partitions "$TMP/src.fstrm" "${parts[@]}"
	# one key, one partition
	run bash -c "kcat -b '$BOOT' -C -t rt -e -f '%k %p\n' 2>/dev/null | sort -u | cut -d' ' -f1 | uniq -d"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	run "$DNSTAP" --kafka-in "$BOOT" --kafka-topic rt --kafka-exit-at-end -w "$TMP/out.fstrm"
	echo "$output"
	[ "$status" -eq 0 ]
	python3 "$KCHECK" same "$TMP/src.fstrm" "$TMP/out.fstrm"
}

@test "kafka: one partition: the topic holds the file's payloads byte for byte, and -r of both prints the same" {
	local f=$TESTDATA/unbound.dnstap
	start_mock -t one:1
	run "$DNSTAP" -r "$f" --kafka "$BOOT" --kafka-topic one
	[ "$status" -eq 0 ]
	raw one 0 "$TMP/one.raw"
	"$DNSTAP" -r "$f" -w "$TMP/ref.fstrm"
	python3 - "$TMP/ref.fstrm" "$TMP/one.raw" <<'PY'
import sys
ref, got = (open(p, "rb").read() for p in sys.argv[1:])
start = 8 + int.from_bytes(ref[4:8], "big")  # escape, length, START frame; STOP is the last 12 bytes
assert ref[start:-12] == got, "payloads differ"
PY
	run "$DNSTAP" --kafka-in "$BOOT" --kafka-topic one --kafka-exit-at-end -w "$TMP/out.fstrm"
	[ "$status" -eq 0 ]
	diff <("$DNSTAP" -r "$f") <("$DNSTAP" -r "$TMP/out.fstrm")
	cmp "$TMP/ref.fstrm" "$TMP/out.fstrm"
}

@test "kafka: --filter in front of --kafka: the topic holds exactly the kept frames" {
	start_mock -t f:1
	"$DNSTAP" -r "$TESTDATA/unbound.dnstap" --filter 'type CQ' -w "$TMP/want.fstrm"
	(($(frames "$TMP/want.fstrm") > 0 && $(frames "$TMP/want.fstrm") < $(frames "$TESTDATA/unbound.dnstap")))
	"$DNSTAP" -r "$TESTDATA/unbound.dnstap" --filter 'type CQ' --kafka "$BOOT" --kafka-topic f 2>/dev/null
	"$DNSTAP" --kafka-in "$BOOT" --kafka-topic f --kafka-exit-at-end -w "$TMP/got.fstrm" 2>/dev/null
	python3 "$KCHECK" same "$TMP/want.fstrm" "$TMP/got.fstrm"
}

@test "kafka: --kafka-format json and text are exactly the lines -j and -q print" {
	local f
	start_mock -t j:1 -t q:1
	for f in $(captures); do
		"$DNSTAP" -r "$f" --kafka "$BOOT" --kafka-topic j --kafka-format json
		"$DNSTAP" -r "$f" --kafka "$BOOT" --kafka-topic q --kafka-format text
		"$DNSTAP" -r "$f" -j >>"$TMP/want.json"
		"$DNSTAP" -r "$f" -q >>"$TMP/want.txt"
	done
	kc -C -t j -e -f '%s\n' >"$TMP/got.json"
	kc -C -t q -e -f '%s\n' >"$TMP/got.txt"
	diff "$TMP/want.json" "$TMP/got.json"
	diff "$TMP/want.txt" "$TMP/got.txt"
}

@test "kafka: --kafka-key qname and identity: one name (one server) always in one partition, the key as sent" {
	start_mock -t k:8 -t id:8
	local f
	for f in $(captures); do
		"$DNSTAP" -r "$f" --kafka "$BOOT" --kafka-topic k --kafka-key qname
		"$DNSTAP" -r "$f" --kafka "$BOOT" --kafka-topic id --kafka-key identity
	done
	# "KEY PARTITION" once per pair, messages without a key (no question, no identity) left out
	kc -C -t k -e -f '%k %p\n' | grep -v '^ ' | sort -u >"$TMP/k"
	[ "$(sed -E 's/ [0-9]+$//' "$TMP/k" | uniq -d | wc -l)" -eq 0 ]
	[ "$(sed -E 's/.* //' "$TMP/k" | sort -u | wc -l)" -gt 1 ] # spread over partitions
	grep -q '^nope\.lab\.test\. ' "$TMP/k"                    # lowercased presentation form
	kc -C -t id -e -f '%k %p\n' | grep -v '^ ' | sort -u >"$TMP/id"
	[ -s "$TMP/id" ]
	[ "$(sed -E 's/ [0-9]+$//' "$TMP/id" | uniq -d | wc -l)" -eq 0 ]
}

@test "kafka: listener: brokers down and up again mid-stream: every frame delivered once, counted once" {
	gen 500 a
	gen 500 b
	"$DNSTAP" -r "$TMP/a.fstrm" -r "$TMP/b.fstrm" -w "$TMP/src.fstrm"
	start_mock -t outage:1
	listen_dnstap -u "$TMP/s.sock" --kafka "$BOOT" --kafka-topic outage -X reconnect.backoff.max.ms=500
	spawn sender python3 "$FSEND" "unix:$TMP/s.sock" ready accept start "frames=$TMP/a.fstrm" \
		"mark=$TMP/half" "wait=$TMP/go" "frames=$TMP/b.fstrm" stop finish
	local sender=$SPAWNED
	wait_until 30 test -e "$TMP/half"
	wait_until 30 in_topic outage 500
	kill -USR1 "$MOCK_PID"
	wait_until 10 grep -q 'brokers down' "$TMP/mock.err"
	touch "$TMP/go"
	finished "$sender"
	kill -USR2 "$MOCK_PID"
	wait_until 60 in_topic outage 1000
	stop_dnstap
	cat "$TMP/dnstap.err"
	[ "$DT_STATUS" -eq 0 ]
	[[ $(summary outage "$TMP/dnstap.err") == *"1000 received: 1000 delivered" ]]
	raw outage 0 "$TMP/got.raw"
	python3 "$KCHECK" partitions "$TMP/src.fstrm" "$TMP/got.raw"
}

@test "kafka: a long outage and a tiny queue: the drops and the timed-out messages are counted, and add up" {
	gen 1000 src
	start_mock -t lost:1
	kill -USR1 "$MOCK_PID"
	wait_until 10 grep -q 'brokers down' "$TMP/mock.err"
	listen_dnstap -u "$TMP/s.sock" --kafka "$BOOT" --kafka-topic lost -X queue.buffering.max.messages=100 \
		-X message.timeout.ms=1000 --kafka-stats-interval 100ms --kafka-flush-timeout 1s
	fsend "unix:$TMP/s.sock" ready accept start "frames=$TMP/src.fstrm" stop finish
	wait_until 30 grep -qE 'topic lost: 1000 received: 0 delivered, 100 failed' "$TMP/dnstap.err"
	stop_dnstap
	cat "$TMP/dnstap.err"
	[[ $(summary lost "$TMP/dnstap.err") == *"1000 received: 0 delivered, 100 failed (Local: Message timed out x100), 900 dropped (queue full)" ]]
	grep -q 'dropping messages: Local: Queue full' "$TMP/dnstap.err"
	[ "$DT_STATUS" -eq 1 ] # messages were lost
}

@test "kafka: SIGTERM during a burst: what is counted delivered is in the topic, and nothing else" {
	gen 5000 a
	gen 20000 b
	"$DNSTAP" -r "$TMP/a.fstrm" -r "$TMP/b.fstrm" -w "$TMP/src.fstrm"
	start_mock -t burst:1
	listen_dnstap -u "$TMP/s.sock" --kafka "$BOOT" --kafka-topic burst
	spawn sender python3 "$FSEND" "unix:$TMP/s.sock" ready accept start "frames=$TMP/a.fstrm" \
		"mark=$TMP/some" "frames=$TMP/b.fstrm" stop finish
	wait_until 30 test -e "$TMP/some"
	stop_dnstap
	cat "$TMP/dnstap.err"
	local line delivered
	line=$(summary burst "$TMP/dnstap.err")
	delivered=$(sed -E 's/.*received: ([0-9]+) delivered.*/\1/' <<<"$line")
	[[ $line =~ ^dnstap:\ kafka\ .*\ topic\ burst:\ ([0-9]+)\ received:\ ([0-9]+)\ delivered$ ]]
	[ "${BASH_REMATCH[1]}" -eq "$delivered" ]
	raw burst 0 "$TMP/got.raw"
	[ "$(python3 "$KCHECK" subset "$TMP/src.fstrm" "$TMP/got.raw")" -eq "$delivered" ]
	(( delivered >= 5000 ))
}

@test "kafka: live listener: unbound's client queries all reach the topic" {
	require unbound knotd kdig
	start_mock -t live:1
	listen_dnstap -u "$TMP/tap.sock" --kafka "$BOOT" --kafka-topic live --kafka-format text
	start_upstream
	start_unbound "unix:$TMP/tap.sock"
	local sent
	sent=$(send_queries "$DNS_PORT" 60)
	[ "$sent" -eq 60 ]
	wait_until 30 eval '(($(kc -C -t live -e -f "%s\n" | grep -c " CQ ") >= sent))'
	stop_dnstap
	[ "$DT_STATUS" -eq 0 ]
	[ "$(kc -C -t live -e -f '%s\n' | grep -c ' CQ ')" -eq "$sent" ]
}

@test "kafka: --kafka-in commits after writing: a second run goes on from there, SIGTERM commits too" {
	gen 300 a
	gen 300 b
	start_mock -t c:2
	"$DNSTAP" -r "$TMP/a.fstrm" --kafka "$BOOT" --kafka-topic c --kafka-key qname
	run "$DNSTAP" --kafka-in "$BOOT" --kafka-topic c --kafka-exit-at-end -w "$TMP/out1.fstrm"
	[ "$status" -eq 0 ]
	python3 "$KCHECK" same "$TMP/a.fstrm" "$TMP/out1.fstrm"
	"$DNSTAP" -r "$TMP/b.fstrm" --kafka "$BOOT" --kafka-topic c --kafka-key qname
	# a long-running consumer, stopped by SIGTERM once it has written everything
	spawn consumer "$DNSTAP" --kafka-in "$BOOT" --kafka-topic c -w "$TMP/out2.fstrm"
	local pid=$SPAWNED
	wait_until 30 at_least_frames "$TMP/out2.fstrm" 300
	stop "$pid"
	cat "$TMP/consumer.err"
	[ "$STOPPED_STATUS" -eq 0 ]
	python3 "$KCHECK" same "$TMP/b.fstrm" "$TMP/out2.fstrm"
	# nothing left for the group; all of it for another group and for --kafka-from beginning
	run "$DNSTAP" --kafka-in "$BOOT" --kafka-topic c --kafka-exit-at-end -q
	[ "$status" -eq 0 ]
	[ -z "$(grep -v '^dnstap: ' <<<"$output")" ]
	[ "$("$DNSTAP" --kafka-in "$BOOT" --kafka-topic c --kafka-group other --kafka-exit-at-end -q 2>/dev/null | wc -l)" -eq 600 ]
	[ "$("$DNSTAP" --kafka-in "$BOOT" --kafka-topic c --kafka-from beginning --kafka-exit-at-end -q 2>/dev/null | wc -l)" -eq 600 ]
	[ "$("$DNSTAP" --kafka-in "$BOOT" --kafka-topic c --kafka-group new --kafka-from end --kafka-exit-at-end -q 2>/dev/null | wc -l)" -eq 0 ]
}

@test "kafka: --kafka-in with --metrics and --stats-interval: the server answers while the topic is read, and counts every message" {
	gen 500 m
	start_mock -t m:1
	"$DNSTAP" -r "$TMP/m.fstrm" --kafka "$BOOT" --kafka-topic m 2>/dev/null
	spawn consumer "$DNSTAP" --kafka-in "$BOOT" --kafka-topic m -w "$TMP/out.fstrm" --metrics 127.0.0.1:0 \
		--stats-interval 1
	local pid=$SPAWNED port
	wait_until 10 grep -q '^dnstap: metrics on http://' "$TMP/consumer.err"
	port=$(sed -n 's|^dnstap: metrics on http://127.0.0.1:\([0-9]*\)/$|\1|p' "$TMP/consumer.err")
	wait_until 30 at_least_frames "$TMP/out.fstrm" 500
	# answered while the consumer waits on the topic, with what it read
	wait_until 10 eval '[ "$(curl -s -m 5 "http://127.0.0.1:$port/metrics" | awk '\''$1 == "dnstap_messages_total" { print $2 }'\'')" = 500 ]'
	[ "$(curl -sf -m 5 "http://127.0.0.1:$port/stats.json" | jq '.metrics.dnstap_messages_total.samples[0].value')" = 500 ]
	# the interval's line, with every message in it
	wait_until 10 grep -q '^dnstap: stats: .*; 500 in all$' "$TMP/consumer.err"
	stop "$pid"
	[ "$STOPPED_STATUS" -eq 0 ]
	python3 "$KCHECK" same "$TMP/m.fstrm" "$TMP/out.fstrm"
}

@test "kafka: --kafka-in killed (SIGKILL) and started again: it resumes from its committed offsets, no frame missing" {
	gen 4000 a
	gen 20000 b
	start_mock -t kill:2
	spawn consumer1 "$DNSTAP" --kafka-in "$BOOT" --kafka-topic kill -w "$TMP/out1.fstrm"
	local pid=$SPAWNED
	"$DNSTAP" -r "$TMP/a.fstrm" --kafka "$BOOT" --kafka-topic kill --kafka-key client-ip
	wait_until 30 at_least_frames "$TMP/out1.fstrm" 4000
	sleep 3 # past a commit (every second) of what it has written
	# more, and the consumer killed while it takes them, once some are on disk: no flush, no commit, no
	# goodbye
	"$DNSTAP" -r "$TMP/b.fstrm" --kafka "$BOOT" --kafka-topic kill --kafka-key client-ip &
	local producer=$!
	wait_until 30 at_least_frames "$TMP/out1.fstrm" 4001
	kill -KILL "$pid"
	wait "$producer"
	wait "$pid" 2>/dev/null || true
	run "$DNSTAP" --kafka-in "$BOOT" --kafka-topic kill --kafka-exit-at-end -w "$TMP/out2.fstrm"
	echo "$output"
	[ "$status" -eq 0 ]
	# a and b as one file of 24,000 frames, for the check
	python3 - "$TMP/a.fstrm" "$TMP/b.fstrm" "$TMP/ab.fstrm" <<'PY'
import struct, sys
body = b""
for path in sys.argv[1:3]:
    d = open(path, "rb").read()
    (clen,) = struct.unpack_from(">I", d, 4)
    body += d[8 + clen:len(d) - 12]  # between the START frame and the STOP frame
d = open(sys.argv[1], "rb").read()
(clen,) = struct.unpack_from(">I", d, 4)
open(sys.argv[3], "wb").write(d[:8 + clen] + body + d[len(d) - 12:])
PY
	local counts
	counts=$(python3 "$KCHECK" covers "$TMP/ab.fstrm" "$TMP/out1.fstrm" "$TMP/out2.fstrm")
	echo "# frames in the killed consumer's file and the second's: $counts" >&3
	# killed with some of b written; the second run began at the committed offsets, not at the start
	(($(cut -d' ' -f1 <<<"$counts") > 4000))
	(($(cut -d' ' -f2 <<<"$counts") < 24000))
}

@test "kafka: --kafka-in -w FILE: SIGHUP after a rename starts FILE anew, and nothing is lost between the two" {
	gen 200 a
	gen 200 b
	start_mock -t hup:1
	"$DNSTAP" -r "$TMP/a.fstrm" --kafka "$BOOT" --kafka-topic hup
	spawn consumer "$DNSTAP" --kafka-in "$BOOT" --kafka-topic hup -w "$TMP/out.fstrm"
	local pid=$SPAWNED
	wait_until 30 at_least_frames "$TMP/out.fstrm" 200
	mv "$TMP/out.fstrm" "$TMP/out.1.fstrm"
	kill -HUP "$pid"
	wait_until 30 test -e "$TMP/out.fstrm"
	"$DNSTAP" -r "$TMP/b.fstrm" --kafka "$BOOT" --kafka-topic hup
	wait_until 30 at_least_frames "$TMP/out.fstrm" 200
	stop "$pid"
	[ "$STOPPED_STATUS" -eq 0 ]
	python3 "$KCHECK" same "$TMP/a.fstrm" "$TMP/out.1.fstrm"
	python3 "$KCHECK" same "$TMP/b.fstrm" "$TMP/out.fstrm"
}

@test "kafka: --kafka-in: a message that is not dnstap gets one line naming topic, partition and offset, exit 1" {
	local f=$TESTDATA/unbound.dnstap
	start_mock -t mixed:1
	"$DNSTAP" -r "$f" --kafka "$BOOT" --kafka-topic mixed
	echo "not dnstap" | kc -P -t mixed
	"$DNSTAP" -r "$f" --kafka "$BOOT" --kafka-topic mixed
	run "$DNSTAP" --kafka-in "$BOOT" --kafka-topic mixed --kafka-exit-at-end -w "$TMP/out.fstrm"
	echo "$output"
	[ "$status" -eq 1 ]
	[ "$(grep -c 'offset .*skipped$' <<<"$output")" -eq 1 ]
	grep -qE '^dnstap: mixed \[0\] offset 204: not a dnstap payload \(.*\), skipped$' <<<"$output"
	[ "$(python3 "$KCHECK" count "$TMP/out.fstrm")" -eq 408 ]
}

@test "kafka: refused and unresolvable brokers: one line naming the broker; the producer reports what it could not deliver" {
	start_mock
	local dead=$BOOT
	stop "$MOCK_PID"
	run "$DNSTAP" --kafka-in "$dead" --kafka-topic t --kafka-exit-at-end --kafka-flush-timeout 2s -q
	echo "$output"
	[ "$status" -eq 1 ]
	[ "${#lines[@]}" -eq 1 ]
	[[ ${lines[0]} == "dnstap: kafka $dead topic t: cannot reach the cluster: "*"$dead"*"Connection refused"* ]]
	run "$DNSTAP" -r "$TESTDATA/unbound.dnstap" --kafka "$dead" --kafka-topic t --kafka-flush-timeout 1s
	echo "$output"
	[ "$status" -eq 1 ]
	[[ ${lines[0]} == "dnstap: kafka $dead topic t: "*"Connection refused"*"; retrying" ]]
	[[ $output == *"topic t: 204 received: 0 delivered, 204 undelivered at close"* ]]
	run "$DNSTAP" --kafka-in no-such-host.invalid:9092 --kafka-topic t --kafka-exit-at-end --kafka-flush-timeout 2s -q
	echo "$output"
	[ "$status" -eq 1 ]
	[ "${#lines[@]}" -eq 1 ]
	[[ ${lines[0]} == *"cannot reach the cluster: "*"no-such-host.invalid:9092"*"resolve"* ]]
}

@test "kafka: a topic that cannot be produced to: messages counted failed with the broker's reason, exit 1" {
	start_mock -p 1000 # every produce request refused, as a broker's ACL would
	run "$DNSTAP" -r "$TESTDATA/unbound.dnstap" --kafka "$BOOT" --kafka-topic forbidden
	echo "$output"
	[ "$status" -eq 1 ]
	[[ $output == *"topic forbidden: 204 received: 0 delivered, 204 failed (Broker: Topic authorization failed x204)"* ]]
}

@test "kafka: bad flags and properties: one line each, exit 2" {
	local args
	for args in "-X no.such.property=1" "-X linger.ms" "-X linger.ms=forever" "--kafka-format yaml" \
		"--kafka-key port" ; do
		# shellcheck disable=SC2086
		run "$DNSTAP" -r "$TESTDATA/unbound.dnstap" --kafka 127.0.0.1:9 --kafka-topic t $args
		echo "$args: $output"
		[ "$status" -eq 2 ]
		[ "${#lines[@]}" -eq 1 ]
	done
	[[ $output == *'invalid value "port" for flag --kafka-key (want none, identity, client-ip, qname)'* ]]
	run "$DNSTAP" -r "$TESTDATA/unbound.dnstap" --kafka 127.0.0.1:9 -X no.such.property=1
	[ "$status" -eq 2 ]
	run "$DNSTAP" --kafka-in 127.0.0.1:9 --kafka-topic t --kafka-from middle
	[ "$status" -eq 2 ]
	run "$DNSTAP" --kafka-in 127.0.0.1:9 --kafka-topic t -r "$TESTDATA/unbound.dnstap"
	[ "$status" -eq 2 ]
	run "$DNSTAP" -r "$TESTDATA/unbound.dnstap" --kafka-topic t
	[ "$status" -eq 2 ]
	run "$DNSTAP" -r "$TESTDATA/unbound.dnstap" --kafka 127.0.0.1:9 --kafka-topic t --kafka-group g
	[ "$status" -eq 2 ]
	run "$DNSTAP" --kafka-in 127.0.0.1:9 --kafka-topic t --kafka 127.0.0.1:9
	[ "$status" -eq 2 ]
	[[ $output == *"give two --kafka-topic"* ]]
}

@test "kafka: --kafka-in into --kafka: one topic copied to another" {
	start_mock -t from:1 -t to:1
	"$DNSTAP" -r "$TESTDATA/knot.dnstap" --kafka "$BOOT" --kafka-topic from
	run "$DNSTAP" --kafka-in "$BOOT" --kafka-topic from --kafka-topic to --kafka "$BOOT" --kafka-exit-at-end
	echo "$output"
	[ "$status" -eq 0 ]
	raw from 0 "$TMP/from.raw"
	raw to 0 "$TMP/to.raw"
	cmp "$TMP/from.raw" "$TMP/to.raw"
}
