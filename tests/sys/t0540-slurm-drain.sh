#!/usr/bin/env bash
# A worker job reaching its time limit drains without losing a job: workers
# with a 1-minute Slurm job (and MTSLURM_DRAIN_BEFORE=45, so they drain
# about 15 s in) stop taking jobs, give back what they had queued, finish
# what runs, and leave before Slurm kills them; their job ends COMPLETED,
# not TIMEOUT. A second worker job started meanwhile finishes the run:
# every job completes exactly once.
. "$(dirname "$0")/lib.sh"
slurm_up
export MTSLURM_DRAIN_BEFORE=45

mtslurm -n 2 start --time 1 -J t0540
read -r mj wa <<< "$(slurm_jobs_of_run | tr "\n" " ")"
seq 1 400 | mtslurm submit --echo --stdin --delay 0.1 > "$T/ids"   # 20 s of work on 2 workers
drained() { grep -q "draining (its Slurm job $wa ends in" "$MTSLURM_RUN_DIR"/logs/worker-*.daemon.log; }
wait_for 40 drained
left=$(db "select count(*) from jobs where state<2")
log "drain began with $left jobs unfinished"
[ "$left" -gt 0 ] || fail "the run finished before the drain: nothing tested"
w=$(mtslurm workers --json)
ended() { case "$(slurm_state "$wa")" in RUNNING | COMPLETING | "") return 1 ;; esac; }
wait_for 30 ended
assert_eq COMPLETED "$(slurm_state "$wa")" "the drained worker job ended by itself, before its time limit"
grep -q "drained: every job finished or given back" "$MTSLURM_RUN_DIR"/logs/worker-*.daemon.log ||
	fail "no worker says it drained"
assert_eq 0 "$(db "select count(*) from jobs where state=3")" "no job failed"

MTSLURM_DRAIN_BEFORE=10 mtslurm -n 2 add-workers --time 5 -J t0540
mtslurm wait --all --timeout 120
assert_eq 400 "$(db "select count(*) from jobs")" "no job stored twice"
assert_eq 400 "$(db "select count(*) from jobs where state=2")" "every job completed"
mtslurm stop
log ok
