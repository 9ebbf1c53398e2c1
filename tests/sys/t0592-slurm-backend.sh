#!/usr/bin/env bash
# --backend slurm through the backend table (slurm/batch.h): the start
# records the backend in RUN_DIR/config (the user's lines kept), its JSON
# names it, status shows the Slurm jobs under the backend's name, and stop --
# with no --backend -- finds the cluster's Slurm jobs through its record and
# ends them all.
. "$(dirname "$0")/lib.sh"
slurm_up
unset MTSLURM_BACKEND

mkdir -p "$MTSLURM_RUN_DIR" && chmod 700 "$MTSLURM_RUN_DIR"
printf '# mine\nMTSLURM_TIME=5\n' >"$MTSLURM_RUN_DIR/config"
st=$(mtslurm -n 1 start --backend slurm -J t0592 --json)
assert_eq slurm "$(jget "$st" '$.backend')" "start --json names the backend"
read -r mj wj <<< "$(slurm_jobs_of_run | tr '\n' ' ')"
assert_eq "$mj" "$(jget "$st" '$.master.slurm_job')" "the master's Slurm job is a number, as before"
assert_eq "$wj" "$(jget "$st" '$.workers_job')" "the workers' Slurm job"
assert_eq RUNNING "$(slurm_state "$mj")" "the master's Slurm job runs"
assert_eq "$(printf '# mine\nMTSLURM_TIME=5\n# the backend mtslurm start used last (mtslurm start --backend NAME)\nMTSLURM_BACKEND=slurm')" \
	"$(cat "$MTSLURM_RUN_DIR/config")" "config: the user's lines kept, the backend written"
scontrol show job "$wj" | grep -q "TimeLimit=00:05:00" || fail "the config's MTSLURM_TIME did not reach the workers' job"

s=$(mtslurm status --json)
assert_eq 2 "$(jlen "$s" '$.slurm')" "status --json lists both Slurm jobs"
assert_eq "$mj" "$(jget "$s" '$.slurm[0].id')" "status: the master's job first"
mtslurm status | grep -q "^slurm    workers job $wj (1 task): RUNNING" || fail "status has no line for the workers' job"

out=$(mtslurm stop)
assert_eq "mtslurm: stopped the cluster in $MTSLURM_RUN_DIR (Slurm jobs $mj, $wj ended)" "$out" "stop"
assert_slurm_jobs_ended "$mj" "$wj"
[ ! -f "$MTSLURM_RUN_DIR/slurm.json" ] || fail "slurm.json left behind"
log "ok"
