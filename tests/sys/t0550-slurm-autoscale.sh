#!/usr/bin/env bash
# Autoscaling: `start --autoscale --max-workers 3 --idle-timeout 3` starts
# the master alone; when jobs arrive the master submits worker jobs through
# libslurm up to 3 workers (never more), every job completes, and once idle
# the workers are released and their Slurm jobs end: back to 0. A worker
# job that fails at start backs off; a worker request Slurm can never
# satisfy stops autoscaling with Slurm's reason in status -- instead of
# resubmitting forever.
. "$(dirname "$0")/lib.sh"
slurm_up

out=$(mtslurm start --autoscale --max-workers 3 --idle-timeout 3 --time 10 -J t0550)
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
[ "$allocs" -le 3 ] || fail "$allocs worker jobs for at most 3 workers"
zero() { [ "$(jget "$(mtslurm status --json)" '$.workers.connected')" = 0 ]; }
wait_for 30 zero
ids=$(jget "$(mtslurm status --json)" '$.autoscale.allocations' | grep -o '"id":[0-9]*' | grep -o '[0-9]*$')
ended() { for id in $ids; do [ -z "$(squeue -h -j "$id" 2>/dev/null)" ] || return 1; done; }
wait_for 30 ended
log "grew to $max workers in $allocs Slurm jobs, back to 0"
mtslurm stop

# Worker jobs that fail at start back off instead of being resubmitted at
# once: the first failure shows in status with the pause before the next.
mkdir -p "$T/libexec"
cp "$MTS_BUILD/mtslurm-master" "$MTS_BUILD/mtslurm-node" "$T/libexec/"
printf '#!/bin/sh\necho "broken worker binary" >&2\nexit 1\n' > "$T/libexec/mtslurm-worker"
chmod +x "$T/libexec/mtslurm-worker"
MTSLURM_LIBEXEC=$T/libexec mtslurm start --autoscale --max-workers 1 --time 10 -J t0550 > /dev/null
mtslurm submit --echo x > /dev/null
failed_once() { [ -n "$(jget "$(mtslurm status --json)" '$.autoscale.last_error')" ]; }
wait_for 40 failed_once
st=$(mtslurm status --json)
assert_contains "$(jget "$st" '$.autoscale.last_error')" "before any of its workers connected" "the failure is reported"
backoff=$(jget "$st" '$.autoscale.backoff_s')
[ -n "$backoff" ] && awk -v b="$backoff" 'BEGIN{exit !(b > 3)}' || fail "no backoff after a failed worker job ($backoff)"
sleep 3
assert_eq 1 "$(jlen "$(mtslurm status --json)" '$.autoscale.allocations')" "no new worker job during the backoff"
mtslurm stop

# A worker job Slurm can never run (4 CPUs per task on 2-CPU nodes).
mtslurm start --autoscale --max-workers 2 --time 10 -J t0550 --cpus-per-task 4 > /dev/null
mtslurm submit --echo x > /dev/null
stopped() { [ -n "$(jget "$(mtslurm status --json)" '$.autoscale.stopped')" ]; }
wait_for 30 stopped
why=$(jget "$(mtslurm status --json)" '$.autoscale.stopped')
assert_contains "$why" "Requested node configuration is not available" "Slurm's reason"
assert_contains "$(mtslurm status)" "autoscale stopped:" "shown in status"
sleep 2
assert_eq 0 "$(jlen "$(mtslurm status --json)" '$.autoscale.allocations')" "no worker job was submitted"
mtslurm stop
log ok
