#!/usr/bin/env bash
# Autoscaling through PBS: `start --autoscale --backend pbs --max-workers 3
# --idle-timeout 3` starts the master alone (its PBS job); when jobs arrive
# the master qsub's worker jobs up to 3 workers (never more), every job
# completes, and once idle the workers are released and their PBS jobs end:
# back to 0. A worker request PBS can never satisfy stops autoscaling with
# qsub's reason in status instead of resubmitting forever.
#
# Not checkable here, since no real PBS server runs on this machine: the
# master's qsub/qstat against a real server from inside a PBS job (here
# the wrappers run inside the master's Slurm job), PBS_JOBID naming the
# workers' allocations (here SLURM_JOB_ID, the id the wrappers' qsub
# prints), and a real server's refusal text.
. "$(dirname "$0")/lib.sh"
slurm_up
command -v qsub >/dev/null || fail "qsub missing: apt-get install slurm-wlm-torque (tests/deps.sh)"
# the workers' mpirun talks over loopback: every "node" of the test
# cluster is this machine (local mode does the same)
export MTSLURM_MPIRUN_ARGS="--mca oob_tcp_if_include lo --mca btl_tcp_if_include lo"

out=$(mtslurm start --autoscale --backend pbs --max-workers 3 --idle-timeout 3 --walltime 10 -J t0598)
assert_contains "$out" "(PBS job" "start names PBS"
assert_contains "$out" "autoscaling 0..3 workers" "start"
st=$(mtslurm status --json)
assert_eq 0 "$(jget "$st" '$.workers.connected')" "no worker before there are jobs"
assert_eq 0 "$(jlen "$st" '$.autoscale.allocations')" "no allocation before there are jobs"

seq 1 300 | mtslurm submit --echo --stdin --delay 0.05 > "$T/ids"
max=0
three() {
	local n
	n=$(jget "$(mtslurm status --json)" '$.workers.connected')
	[ "$n" -gt "$max" ] && max=$n
	[ "$n" -ge 3 ]
}
wait_for 60 three
mtslurm wait --all --timeout 120
assert_eq 300 "$(db "select count(*) from jobs where state=2")" "every job completed"
assert_eq 3 "$(db "select count(distinct worker) from jobs")" "three workers ran them"
st=$(mtslurm status --json)
allocs=$(jlen "$st" '$.autoscale.allocations')
[ "$allocs" -ge 1 ] && [ "$allocs" -le 3 ] || fail "$allocs worker jobs for at most 3 workers"
ids=$(jget "$st" '$.autoscale.allocations' | grep -o '"id":"*[0-9][^,}"]*' | sed 's/.*:"*//')
for id in $ids; do
	assert_eq t0598-workers "$(qstat -f "$id" | sed -n 's/^[[:space:]]*Job_Name = //p')" "an autoscaled job is a PBS job ($id)"
done
zero() { [ "$(jget "$(mtslurm status --json)" '$.workers.connected')" = 0 ]; }
wait_for 30 zero
ended() { for id in $ids; do case "$(pbs_state "$id")" in C | "") ;; *) return 1 ;; esac; done; }
wait_for 30 ended
log "grew to $max workers in $allocs PBS jobs ($ids), back to 0"
mtslurm stop

# A worker job PBS can never run (4 CPUs per task on 2-CPU nodes).
mtslurm start --autoscale --backend pbs --max-workers 2 --walltime 10 -J t0598 --cpus-per-task 4 > /dev/null
mtslurm submit --echo x > /dev/null
stopped() { [ -n "$(jget "$(mtslurm status --json)" '$.autoscale.stopped')" ]; }
wait_for 30 stopped
why=$(jget "$(mtslurm status --json)" '$.autoscale.stopped')
log "$why"
assert_contains "$why" "qsub refused the job" "qsub's reason"
assert_contains "$(mtslurm status)" "autoscale stopped:" "shown in status"
sleep 2
assert_eq 0 "$(jlen "$(mtslurm status --json)" '$.autoscale.allocations')" "no worker job was submitted"
mtslurm stop
log ok
