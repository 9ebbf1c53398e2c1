#!/usr/bin/env bash
# A submit whose acknowledgement is lost is stored once. A proxy between the
# clients and the master (tests/tools/ackproxy.py) drops the master's
# `submitted` reply for chosen frames and cuts that connection, so the
# library reconnects and sends the frame again with the same client id and
# req, and the master must answer it with the ids it gave the first time
# (docs/protocol.md, section 4). A kill of the master seldom lands between
# commit and reply; here every dropped reply is that window. For one
# blocking mts_submit per job, mts_submit_batch, mts_submit_array, the non-blocking
# mts_submit_nb + mts_flush and three clients at once: each job is stored
# once (`mtslurm jobs`), called back once, and the re-sent frame got the
# same ids. Then a frame that reaches the master twice in one write: the
# copy is read before the first is committed, let alone synced.
. "$(dirname "$0")/lib.sh"

# Frames travel in clear on loopback only with the benchmarking knob: the
# proxy reads them (docs/protocol.md, section 2.2).
MTSLURM_BENCH_PLAINTEXT=1 mtslurm -n 2 --local start >/dev/null
mport=$(json_get "$MTSLURM_RUN_DIR/master.json" port)

proxies=()
# proxy NAME ARGS...: start a proxy, and a run directory $T/NAME whose
# master.json names it (the cluster's key copied), for the clients.
proxy() {
	local name=$1
	shift
	mkdir -p "$T/$name"
	python3 "$top/tests/tools/ackproxy.py" --master "127.0.0.1:$mport" --port-file "$T/$name.port" \
		--log "$T/$name.log" --max-seconds 300 "$@" &
	started_pids+=($!)
	proxies+=($!)
	wait_for 10 test -s "$T/$name.port"
	cp -p "$MTSLURM_RUN_DIR/key" "$T/$name/key"
	sed "s/\"port\":$mport/\"port\":$(cat "$T/$name.port")/" "$MTSLURM_RUN_DIR/master.json" > "$T/$name/master.json"
}
# rows PREFIX: the jobs whose input starts with PREFIX-, as `mtslurm jobs`
# lists them: "ROWS DISTINCT_INPUTS COMPLETED" (the scenario stores fewer
# jobs than one page of 10,000 records; a master that stores twice does not)
rows() {
	mtslurm jobs --json --limit 10000 | jsql "select count(*), count(distinct j.value->>'input'),
		sum(j.value->>'state' = 'completed') from json_each(readfile('/dev/stdin')) as j
		where j.value->>'input' like '$1-%';" | tr '|' ' '
}
# check_log NAME MIN: the proxy dropped at least MIN replies, each re-sent
# frame was answered with the same ids, and nothing was sealed.
check_log() {
	local drops again
	drops=$(grep -c '^drop ' "$T/$1.log" || true)
	again=$(grep -c '^again .* same$' "$T/$1.log" || true)
	log "$1: $drops replies dropped, $again re-sent frames answered with the same ids"
	! grep -q '^sealed' "$T/$1.log" || fail "$1: the connection was sealed: the proxy saw no frames"
	! grep -q 'differs' "$T/$1.log" || fail "$1: a re-sent frame got other ids: $(grep differs "$T/$1.log" | head -n 3)"
	[ "$drops" -ge "$2" ] || fail "$1: only $drops replies dropped (want >= $2)"
	assert_eq "$drops" "$again" "$1: every frame whose reply was dropped was answered again"
}

# (a) one blocking mts_submit per job: every 4th reply lost.
proxy one --drop-every 4
out=$(MTSLURM_RUN_DIR=$T/one "$TOOLS/resend_client" --jobs 40 --prefix one --timeout 60) ||
	fail "mts_submit through lost replies: $out"
assert_contains "$out" "submitted 40 done 40 wrong 0" "mts_submit: each job acknowledged and called back once"
check_log one 10
assert_eq "40 40 40" "$(rows one)" "mts_submit: rows, distinct jobs, completed"

# (b) mts_submit_batch, 50 jobs a frame: every 2nd frame's reply lost.
proxy batch --drop-every 2
out=$(MTSLURM_RUN_DIR=$T/batch "$TOOLS/resend_client" --jobs 1000 --batch 50 --prefix bat --timeout 60) ||
	fail "mts_submit_batch through lost replies: $out"
assert_contains "$out" "submitted 1000 done 1000 wrong 0" "mts_submit_batch: acknowledged and called back once"
check_log batch 10
assert_eq "1000 1000 1000" "$(rows bat)" "mts_submit_batch: rows, distinct jobs, completed"

# (b2) job arrays, 50 members each (one frame, one row per array until
# its members are made): every 2nd array's reply lost.
proxy arr --drop-every 2
out=$(MTSLURM_RUN_DIR=$T/arr "$TOOLS/resend_client" --jobs 500 --array 50 --prefix arr --timeout 60) ||
	fail "mts_submit_array through lost replies: $out"
assert_contains "$out" "submitted 500 done 500 wrong 0" "mts_submit_array: acknowledged and called back once"
check_log arr 5
assert_eq "500 500 500" "$(rows arr)" "mts_submit_array: rows, distinct jobs, completed"
assert_eq 10 "$(db "select count(*) from arrays")" "mts_submit_array: arrays stored"

# (c) mts_submit_nb + mts_flush: the library's own frames, several in
# flight when a reply is lost (those after it are sent again too).
proxy nb --drop-every 2 --drops 8
out=$(MTSLURM_RUN_DIR=$T/nb "$TOOLS/nb_client" --jobs 5000 --pause-every 25 --pause-ms 10 --timeout 60) ||
	fail "mts_submit_nb through lost replies: $out"
assert_contains "$out" "acked 5000 failed 0 done 5000" "mts_submit_nb: acknowledged and called back once"
check_log nb 8
assert_eq "5000 5000 5000" "$(rows nb)" "mts_submit_nb: rows, distinct jobs, completed"

# (d) three clients at once through one proxy, each losing replies.
proxy many --drop-every 3 --drops 5
pids=()
for k in 1 2 3; do
	MTSLURM_RUN_DIR=$T/many "$TOOLS/resend_client" --jobs 300 --batch 10 --prefix "m$k" --timeout 60 \
		> "$T/m$k.out" 2>&1 &
	pids+=($!)
	started_pids+=($!)
done
for k in 1 2 3; do
	wait "${pids[$((k - 1))]}" || fail "client $k of 3: $(tail -n 3 "$T/m$k.out")"
	assert_contains "$(cat "$T/m$k.out")" "submitted 300 done 300 wrong 0" "client $k of 3"
	assert_eq "300 300 300" "$(rows "m$k")" "client $k of 3: rows, distinct jobs, completed"
done
check_log many 15
assert_eq 3 "$(awk '/^drop /{print $2}' "$T/many.log" | sort -u | wc -l)" "every client lost replies"

# (e) a frame that reaches the master twice in one write: the copy is
# handled before the first one's commit and sync, and gets its ids.
proxy dup --dup-every 2
out=$(MTSLURM_RUN_DIR=$T/dup "$TOOLS/resend_client" --jobs 400 --batch 20 --prefix dup --timeout 60) ||
	fail "doubled frames: $out"
assert_contains "$out" "submitted 400 done 400 wrong 0" "doubled frames: acknowledged and called back once"
ndup=$(grep -c '^dup .* same$' "$T/dup.log" || true)
! grep -q 'differs' "$T/dup.log" || fail "a doubled frame got other ids: $(grep differs "$T/dup.log" | head -n 3)"
assert_eq 10 "$ndup" "doubled frames answered with the first copy's ids"
assert_eq "400 400 400" "$(rows dup)" "doubled frames: rows, distinct jobs, completed"

log "$(grep -c 'submit req .* again' "$MTSLURM_RUN_DIR/logs/master.log" || true) re-sent frames in the master's log"
for p in "${proxies[@]}"; do kill "$p"; wait "$p" 2>/dev/null || true; done
mtslurm stop >/dev/null
log ok
