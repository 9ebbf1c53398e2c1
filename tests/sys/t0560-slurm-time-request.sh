#!/usr/bin/env bash
# --time-request: a job asking for more time than a worker's Slurm job has
# left is not started there; it waits for (and runs on) a worker whose job
# has the time, while shorter jobs run at once on the first worker.
. "$(dirname "$0")/lib.sh"
slurm_up

mtslurm -n 1 start --time 2 -J t0560           # the worker's job ends in 2 minutes
read -r mj w1 <<< "$(slurm_jobs_of_run | tr "\n" " ")"
knows_end() { mtslurm workers --json | grep -q '"end":'; }   # the master knows when it ends
wait_for 20 knows_end
long=$(mtslurm submit --echo long --time-request 10m)
short=$(mtslurm submit --echo short --time-request 30s)
mtslurm wait "$short" --timeout 30
sleep 1
assert_eq 0 "$(db "select state from jobs where id=$long")" "the 10-minute job was not started on a 2-minute worker"
assert_contains "$(db "select worker from jobs where id=$short")" "-" "the short job ran"

mtslurm -n 1 add-workers --time 30 -J t0560    # 30 minutes
read -r _ _ w2 <<< "$(slurm_jobs_of_run | tr "\n" " ")"
mtslurm wait "$long" --timeout 30
wj=$(mtslurm workers --json | jsql "select json_extract(value,'\$.slurm_job') from json_each(readfile('/dev/stdin')) where json_extract(value,'\$.id')='$(db "select worker from jobs where id=$long")'")
assert_eq "$w2" "$wj" "the 10-minute job ran on the worker with 30 minutes"
set +e; out=$(mtslurm submit --echo x --time-request soon 2>&1); rc=$?; set -e
[ $rc -ne 0 ] || fail "a bad --time-request was accepted"
assert_contains "$out" "--time-request wants a duration" "bad --time-request"
mtslurm stop
log ok
