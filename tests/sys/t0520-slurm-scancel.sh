#!/usr/bin/env bash
# Slurm kills things: `scancel` of one of two worker jobs in the middle of a
# run -- every acknowledged job still completes exactly once (the lost
# worker's jobs are requeued); then `scancel` of the master's job -- the
# workers keep their Slurm job, `mtslurm start` submits only a new master,
# the workers reconnect by themselves, and the run finishes.
. "$(dirname "$0")/lib.sh"
slurm_up

mtslurm -n 2 start --time 10 -J t0520
mtslurm -n 2 add-workers --time 10 -J t0520
read -r mj wa wb <<< "$(slurm_jobs_of_run | tr "\n" " ")"
assert_eq 4 "$(jget "$(mtslurm status --json)" '$.workers.connected')" "4 workers in two Slurm jobs"

seq 1 400 | mtslurm submit --echo --stdin --delay 0.02 > "$T/ids"
assert_eq 400 "$(wc -l < "$T/ids")" "400 acknowledged"
busy() { [ "$(db "select count(*) from jobs where state=2")" -ge 40 ]; }
wait_for 30 busy
scancel "$wa"
log "cancelled worker job $wa"
gone() { [ "$(jget "$(mtslurm status --json)" '$.workers.connected')" = 2 ]; }
wait_for 30 gone
mtslurm wait --all --timeout 120
assert_eq 400 "$(db "select count(*) from jobs")" "no job stored twice"
assert_eq 400 "$(db "select count(*) from jobs where state=2")" "every job completed"
assert_eq 0 "$(db "select count(*) from jobs where worker glob '*-$wa-*'")" "sanity: worker ids are node-pid-rank"
requeued=$(db "select count(*) from jobs where attempts>1")
log "jobs run again after the scancel: $requeued"

# The master's Slurm job is killed; its workers live on in theirs.
seq 1 200 | mtslurm submit --echo --stdin --delay 0.02 > "$T/ids2"
scancel "$mj"
dead() { [ "$(slurm_state "$mj")" != RUNNING ]; }
wait_for 30 dead
assert_eq RUNNING "$(slurm_state "$wb")" "the workers' job survives the master"
out=$(mtslurm start --time 10 -J t0520)
log "$out"
assert_contains "$out" "master restarted" "start restarts only the master"
assert_contains "$out" "2 of 2 workers reconnected" "workers reconnect"
mtslurm wait --all --timeout 120
assert_eq 600 "$(db "select count(*) from jobs where state=2")" "all 600 completed after the restart"
assert_eq 600 "$(db "select count(*) from jobs")" "still no job stored twice"
mtslurm stop
for id in $(slurm_jobs_of_run) $mj $wa $wb; do
	[ -z "$(squeue -h -j "$id" 2>/dev/null)" ] || fail "Slurm job $id still in squeue"
done
log ok
