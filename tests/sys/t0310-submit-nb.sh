#!/usr/bin/env bash
# The non-blocking submit (mts_submit_nb, tests/tools/nb_client.c): a loop of
# 100,000 single calls from one thread completes every job exactly once with
# its own output; a bad job among good ones reaches the caller as an error
# with the master's reason (on_ack, on_done, mts_flush) while the good ones
# run; several clients at once; MTS_POLL mode; and kill -9 of the master
# during a stream: every id the library reported acknowledged is in
# state.db and completes once, none is stored twice.
. "$(dirname "$0")/lib.sh"

mtslurm -n 2 --local start
# (a) 100k non-blocking submits from one thread.
out=$("$TOOLS/nb_client" --jobs 100000 --acked "$T/a.acked" --calls "$T/a.calls" --timeout 300) \
	|| fail "nb_client (100k): $out"
log "$out"
assert_contains "$out" "acked 100000 failed 0 done 100000" "100k non-blocking submits"
assert_eq 100000 "$(sort -u "$T/a.acked" | wc -l)" "distinct acknowledged ids"
assert_eq 100000 "$(db "select count(*) from jobs where state=2 and input like 'nb-%'")" "jobs completed in state.db"
# (c) bad jobs (a dependency that does not exist) among good ones, also the first and the last.
out=$("$TOOLS/nb_client" --jobs 5000 --bad 1,77,2500,5000 --timeout 120) || fail "nb_client (bad jobs): $out"
log "$out"
assert_contains "$out" "acked 4996 failed 4 done 4996 faildone 4" "bad jobs fail alone"
assert_contains "$out" "reason: unknown dependency" "the master's reason reaches the caller"
assert_contains "$out" "4 non-blocking submits were not stored" "mts_flush reports them"
# Many bad jobs in the same frames (a refused rest is sent again job by job).
out=$("$TOOLS/nb_client" --jobs 3000 --bad "$(seq -s, 2 7 3000)" --timeout 120) || fail "nb_client (many bad): $out"
assert_contains "$out" "acked 2571 failed 429 done 2571 faildone 429" "many bad jobs fail alone"
# MTS_POLL mode: the library sends and reads only inside the caller's calls.
out=$("$TOOLS/nb_client" --jobs 20000 --bad 10 --poll --timeout 120) || fail "nb_client (poll): $out"
assert_contains "$out" "acked 19999 failed 1 done 19999" "poll mode"
# Exec jobs carry an environment snapshot (sent before the first frame naming it).
out=$("$TOOLS/nb_client" --jobs 300 --bad 150 --exec --timeout 120) || fail "nb_client (exec): $out"
assert_contains "$out" "acked 299 failed 1 done 299" "exec jobs"
# (d) several clients at once.
before=$(db "select count(*) from jobs")
pids=()
for k in 1 2 3; do
	"$TOOLS/nb_client" --jobs 20000 --bad 5 --timeout 120 > "$T/d$k.out" 2>&1 &
	pids+=($!)
	started_pids+=($!)
done
for k in 1 2 3; do
	wait "${pids[$((k - 1))]}" || fail "client $k: $(tail -n 3 "$T/d$k.out")"
	assert_contains "$(cat "$T/d$k.out")" "acked 19999 failed 1 done 19999" "client $k of 3"
done
assert_eq $((before + 3 * 19999)) "$(db "select count(*) from jobs")" "jobs stored by 3 clients"

# (b) kill -9 of the master during a non-blocking stream, then restart.
rp=$(mpirun_pid)
before=$(db "select count(*) from jobs")
N=60000
"$TOOLS/nb_client" --jobs $N --pause-every 500 --pause-ms 25 --acked "$T/b.acked" --calls "$T/b.calls" --timeout 180 \
	> "$T/b.out" 2>&1 &
cpid=$!
started_pids+=($cpid)
acked() { [ -s "$T/b.acked" ] && [ "$(wc -l < "$T/b.acked")" -ge 3000 ]; }
wait_for 60 acked
mp=$(master_pid)
kill -9 "$mp"
nack=$(wc -l < "$T/b.acked")
log "killed master $mp with $nack of $N jobs acknowledged"
[ "$nack" -lt $((N - 5000)) ] || fail "the master was killed after the stream ($nack of $N acknowledged): nothing was in flight"
sleep 0.3
out=$(mtslurm -n 2 --local start 2>&1)
assert_contains "$out" "restart" "the master restarts"
assert_eq "$rp" "$(mpirun_pid)" "the same workers kept running"
wait "$cpid" || fail "nb_client across the restart: $(tail -n 5 "$T/b.out")"
log "$(cat "$T/b.out")"
assert_contains "$(cat "$T/b.out")" "acked $N failed 0 done $N" "every job acknowledged and called back once"
assert_eq $N "$(sort -u "$T/b.acked" | wc -l)" "distinct acknowledged ids"
sort -u "$T/b.acked" | sed 's/.*/insert into a values(&);/' > "$T/acked.sql"
missing=$(sqlite3 "$MTSLURM_RUN_DIR/state.db" -cmd '.timeout 5000' \
	"create temp table a(id integer primary key);" ".read $T/acked.sql" \
	"select count(*) from a where id not in (select id from jobs where state=2);")
assert_eq 0 "$missing" "acknowledged ids not in state.db as completed"
assert_eq $((before + N)) "$(db "select count(*) from jobs")" "jobs in state.db (none stored twice)"
assert_eq $N "$(sort -u "$T/b.calls" | wc -l)" "distinct callbacks"
mtslurm stop
log ok
