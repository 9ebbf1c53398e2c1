#!/usr/bin/env bash
# kill -9 of the master during a large run, then `mtslurm start` again on the
# same run directory: the master alone restarts, the workers still running
# reconnect, no acknowledged job is lost, no job completes twice, and a client
# that was waiting for callbacks receives them all exactly once.
. "$(dirname "$0")/lib.sh"

N=20000
mtslurm -n 2 --local start
rp=$(mpirun_pid)
# An API client submits N jobs (echo with a small delay so the run is still
# going when the master dies) and records every callback it receives.
"$TOOLS/sweep_client" --jobs $N --batch 100 --delay 0.002 --ids "$T/acked" --callbacks "$T/calls" --timeout 120 \
	> "$T/client.out" 2>&1 &
cpid=$!
started_pids+=($cpid)
# Kill the master while the client is still submitting and jobs are running.
acked() { [ -s "$T/acked" ] && [ "$(wc -l < "$T/acked")" -ge 3000 ]; }
wait_for 60 acked
mp=$(master_pid)
kill -9 "$mp"
log "killed master $mp with $(wc -l < "$T/acked") of $N jobs acknowledged, $(db "select count(*) from jobs where state=2") completed"
sleep 0.5
alive "$rp" || fail "workers (mpirun $rp) died with the master"

out=$(mtslurm -n 2 --local start 2>&1)
log "$out"
assert_contains "$out" "restart" "start on a dead master's run dir restarts the master"
[ "$(master_pid)" != "$mp" ] || fail "master pid unchanged"
assert_eq "$rp" "$(mpirun_pid)" "the same workers (mpirun) kept running"

wait "$cpid" || fail "sweep client failed: $(tail -n 5 "$T/client.out")"
mtslurm wait --all --timeout 120
# Every acknowledged id is in state.db, completed; a batch whose
# acknowledgement died with the master was sent again and answered with its
# first ids, not stored twice.
assert_eq $N "$(sort -u "$T/acked" | wc -l)" "acknowledged ids"
sort -u "$T/acked" | sed 's/.*/insert into a values(&);/' > "$T/acked.sql"
missing=$(sqlite3 "$MTSLURM_RUN_DIR/state.db" -cmd '.timeout 5000' \
	"create temp table a(id integer primary key);" ".read $T/acked.sql" \
	"select count(*) from a where id not in (select id from jobs where state=2);")
assert_eq 0 "$missing" "acknowledged jobs not completed"
assert_eq $N "$(db "select count(*) from jobs")" "jobs in state.db (none stored twice)"
# The client got one callback per job, none twice, none missing.
assert_eq $N "$(wc -l < "$T/calls")" "callbacks received"
assert_eq $N "$(sort -u "$T/calls" | wc -l)" "distinct callbacks"
assert_eq 2 "$(jget "$(mtslurm status --json)" '$.workers.connected')" "workers reconnected"
mtslurm stop
log ok
