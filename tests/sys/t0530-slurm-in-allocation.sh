#!/usr/bin/env bash
# `mtslurm start --in-allocation` inside the user's own batch job: the
# example script docs/examples/mtslurm-batch.sh is submitted with sbatch as
# a user would; the master runs on the job's first node, one worker per task
# on both nodes, the sweep completes, stop leaves nothing behind, and the
# batch job ends COMPLETED. Also: --in-allocation outside Slurm says so.
. "$(dirname "$0")/lib.sh"
slurm_up

set +e; out=$(env -u SLURM_JOB_ID -u PBS_JOBID mtslurm start --in-allocation 2>&1); rc=$?; set -e
[ $rc -ne 0 ] || fail "--in-allocation outside an allocation succeeded"
assert_contains "$out" "neither SLURM_JOB_ID nor PBS_JOBID is set" "outside an allocation"

mkdir -p "$T/work"
cd "$T/work"
jid=$(sbatch --parsable "$top/docs/examples/mtslurm-batch.sh")
log "batch job $jid"
done_() { case "$(slurm_state "$jid")" in COMPLETED | FAILED | CANCELLED | TIMEOUT | NODE_FAIL | OUT_OF_MEMORY | "") return 0 ;; esac; return 1; }
wait_for 120 done_
# the script's last line may reach its output file a moment after Slurm
# says the job ended (seen once): give it a few seconds
stopped_said() { grep -q "stopped the cluster" "$T/work/mtslurm-example-$jid.out" 2>/dev/null; }
wait_for 5 stopped_said
out=$(cat "$T/work/mtslurm-example-$jid.out")
echo "$out"
assert_eq COMPLETED "$(slurm_state "$jid")" "the batch job completed"
assert_contains "$out" "4 workers (srun pid" "one worker per task"
assert_contains "$out" "200 completed, 0 failed" "the sweep completed"
# which two nodes Slurm gives depends on what else runs on the test cluster
ran_on=$(printf '%s\n' "$out" | sed -n 's/^nodes that ran jobs: //p' | wc -w)
assert_eq 2 "$ran_on" "workers on both nodes of the job ran jobs"
assert_contains "$out" "stopped the cluster" "stop"
run=$MTSLURM_RUN_DIR # the script keeps a run dir it is given
assert_eq 200 "$(sqlite3 "$run/state.db" "select count(*) from jobs where state=2 and output like 'sweep point %'")" \
	"every job's output recorded"
[ -z "$(ps -eo pid=,args= | grep -F -- "$run" | grep -v grep)" ] || fail "processes left"
log ok
