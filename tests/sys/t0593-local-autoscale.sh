#!/usr/bin/env bash
# Autoscaling on one machine, through the batch table's local entry
# (slurm/localjob.c): `--local start --autoscale --max-workers 3
# --workers-per-alloc 1 --idle-timeout 3 -n 0` starts the master alone;
# a burst of 300 jobs of uneven length from two clients at once makes the
# master start local worker jobs (an mpirun of one rank each) up to 3
# workers, never more; every job completes exactly once; status lists the
# local jobs (PID@START ids); once idle they are released and their
# processes are gone. A worker job whose mpirun is killed by hand loses no
# job; a master killed and started again manages the jobs it made before;
# stop ends exactly them and leaves no process of the run dir, with the
# master answering or killed.
. "$(dirname "$0")/lib.sh"
unset SLURM_CONF SLURM_JOB_ID PBS_JOBID MTSLURM_BACKEND MTSLURM_LOCAL_JOB

start_args=(--local start --autoscale --max-workers 3 --workers-per-alloc 1 --idle-timeout 3 -n 0)
out=$(mtslurm "${start_args[@]}")
assert_contains "$out" "autoscaling 0..3 workers (local jobs)" "start"
st=$(mtslurm status --json)
assert_eq 0 "$(jget "$st" '$.workers.connected')" "no worker before there are jobs"
assert_eq local "$(jget "$st" '$.autoscale.backend')" "the autoscaler's backend"
assert_eq 0 "$(jlen "$st" '$.autoscale.allocations')" "no allocation before there are jobs"

# the local jobs' pids: the autoscaler's file, "PID@START"
job_pids() { grep -o '[0-9]*@[0-9]*' "$MTSLURM_RUN_DIR/autoscale-jobs.json" 2>/dev/null | cut -d@ -f1 || true; }

# two clients at once, jobs of 0.05 .. 0.2 s
(seq 1 100 | mtslurm submit --echo --stdin --delay 0.05 && seq 101 150 | mtslurm submit --echo --stdin --delay 0.2) \
	> "$T/ids1" &
c1=$!
(seq 151 250 | mtslurm submit --echo --stdin --delay 0.1 && seq 251 300 | mtslurm submit --echo --stdin --delay 0.15) \
	> "$T/ids2" &
c2=$!
started_pids+=("$c1" "$c2")
max=0
three() {
	local n
	n=$(jget "$(mtslurm status --json)" '$.workers.connected')
	[ "$n" -gt "$max" ] && max=$n
	[ "$n" -ge 3 ]
}
wait_for 60 three
[ "$max" -le 3 ] || fail "$max workers for --max-workers 3"
# status: the three local jobs running (the autoscaler sees each one's
# worker within its next tick)
three_listed() {
	out=$(mtslurm status)
	[ "$(echo "$out" | grep -c '^local    autoscaled workers job [0-9]*@[0-9]* (1 task): RUNNING')" -eq 3 ]
}
wait_for 10 three_listed || fail "three running local jobs in status: $out"
wait "$c1" "$c2"
mtslurm wait --all --timeout 120
assert_eq 300 "$(sort -u "$T/ids1" "$T/ids2" | wc -l)" "300 jobs submitted"
assert_eq 300 "$(db "select count(*) from jobs where state=2")" "every job completed"
assert_eq 300 "$(db "select count(*) from jobs")" "no job twice"
n=$(jget "$(mtslurm status --json)" '$.workers.connected')
[ "$n" -le 3 ] || fail "$n workers for --max-workers 3"
allocs=$(jlen "$(mtslurm status --json)" '$.autoscale.allocations')
[ "$allocs" -ge 3 ] || fail "$allocs local jobs for 3 workers"
pids=$(job_pids)
[ -n "$pids" ] || fail "no local job in autoscale-jobs.json"
for p in $pids; do started_pids+=("$p"); done
# idle for 3 s: released, their jobs end (their mpirun and its ranks)
zero() { [ "$(jget "$(mtslurm status --json)" '$.workers.connected')" = 0 ]; }
wait_for 30 zero
gone_within 15 $pids || fail "the released local jobs' processes live on"
[ -z "$(ps -eo args= | grep -F -- "$MTSLURM_RUN_DIR" | grep -v -e grep -e mtslurm-master -e mtslurm-node)" ] ||
	fail "worker processes left after the release: $(our_procs)"
log "grew to $max workers in $allocs local jobs, released"

# a worker job killed by hand (kill -9 of its mpirun) loses no job
seq 1 60 | mtslurm submit --echo --stdin --delay 0.2 > "$T/ids3"
wait_for 60 three
victim=$(ps -eo pid=,args= | grep -F -- "$MTSLURM_RUN_DIR" | grep '[m]pirun' | awk 'NR==1{print $1}')
[ -n "$victim" ] || fail "no mpirun of a local job"
kill -9 "$victim"
mtslurm wait --all --timeout 120
assert_eq 360 "$(db "select count(*) from jobs where state=2")" "every job completed after kill -9 of an mpirun"
gone_within 10 "$victim" || fail "the killed mpirun lives on"

# the master killed and started again keeps managing the jobs it made
seq 1 30 | mtslurm submit --echo --stdin --delay 1 > "$T/ids4"
wait_for 60 three
before=$(job_pids | sort)
for p in $before; do started_pids+=("$p"); done
mp=$(master_pid)
kill -9 "$mp"
gone_within 10 "$mp" || fail "master lives on"
mtslurm "${start_args[@]}" > /dev/null
st=$(mtslurm status --json)
listed=0
for p in $before; do
	alive "$p" || continue
	assert_contains "$st" "\"id\":\"$p@" "the restarted master lists local job $p"
	listed=$((listed + 1))
done
[ "$listed" -gt 0 ] || fail "no local job of the killed master lived on to be listed"
log "the restarted master manages $listed local jobs of the one killed"
# their workers reconnect and finish the jobs, nothing new is needed
wait_for 30 three
mtslurm wait --all --timeout 120
assert_eq 390 "$(db "select count(*) from jobs where state=2")" "every job completed across the restart"
wait_for 30 zero
gone_within 15 $before || fail "the earlier master's local jobs were not released by the new one"

# stop while local jobs run: it ends exactly them, nothing is left
seq 1 40 | mtslurm submit --echo --stdin --delay 0.5 > "$T/ids5"
wait_for 60 three
pids=$(job_pids)
for p in $pids; do started_pids+=("$p"); done
mtslurm stop
gone_within 15 $pids || fail "a local job outlived stop"
[ -z "$(our_procs)" ] || fail "processes left after stop: $(our_procs)"
[ ! -f "$MTSLURM_RUN_DIR/autoscale-jobs.json" ] || fail "autoscale-jobs.json left after stop"

# stop without a master (killed by hand): the local jobs are cancelled
# through the table (SIGTERM to each job's session), nothing is left
mtslurm "${start_args[@]}" > /dev/null
seq 1 40 | mtslurm submit --echo --stdin --delay 0.5 > "$T/ids6"
wait_for 60 three
pids=$(job_pids)
for p in $pids; do started_pids+=("$p"); done
mp=$(master_pid)
kill -9 "$mp"
gone_within 10 "$mp" || fail "master lives on"
mtslurm stop
gone_within 15 $pids || fail "a local job outlived stop without a master"
[ -z "$(our_procs)" ] || fail "processes left after stop without a master: $(our_procs)"
log ok
