#!/usr/bin/env bash
# A master writes a job's assignment to state.db only once the job has run a
# while (--assign-defer-ms). Killed before that, the restarted master finds
# the job queued; the worker that holds it reconnects and the master gives it
# back to that worker: it runs once, completes with attempt 1, nothing lost.
# The restarted master waits for the workers it knew (table `workers`)
# before it hands out queued jobs, so no other worker is given them.
. "$(dirname "$0")/lib.sh"

# Never write assignments before the kill: the adoption path is certain.
MTSLURM_MASTER_ARGS="--assign-defer-ms 600000" mtslurm -n 2 --local start
rp=$(mpirun_pid)
for n in 1 2; do
	mtslurm submit --exec "sleep 2; echo ran >> $T/run.$n" >/dev/null
done
# Both workers have their job (one slot each) once the status says so.
running() { [ "$(jget "$(mtslurm status --json)" '$.jobs.running')" = 2 ]; }
wait_for 20 running
mp=$(master_pid)
kill -9 "$mp"
assert_eq "0|0" "$(db "select group_concat(state, '|') from jobs")" "assignments not yet in state.db"
log "killed master $mp while both jobs ran, their assignments unwritten"

out=$(mtslurm -n 2 --local start 2>&1)
assert_contains "$out" "restart" "start restarts the dead master"
assert_eq "$rp" "$(mpirun_pid)" "the same workers kept running"
mtslurm wait --all --timeout 60
assert_eq "completed:1|completed:1" \
	"$(db "select group_concat(case state when 2 then 'completed' else state end || ':' || attempts, '|') from jobs")" \
	"both jobs completed on their first attempt"
for n in 1 2; do
	assert_eq 1 "$(wc -l < "$T/run.$n")" "job $n ran exactly once"
done
grep -q "(1 found queued)" "$MTSLURM_RUN_DIR/logs/master.log" ||
	fail "master.log does not show a held job found queued: $(grep 'connected from' "$MTSLURM_RUN_DIR/logs/master.log" | tail -n 2)"
grep -q "every earlier worker is back: dispatching" "$MTSLURM_RUN_DIR/logs/master.log" ||
	fail "the restarted master did not wait for its earlier workers before dispatching"
mtslurm stop
log ok
