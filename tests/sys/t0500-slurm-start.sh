#!/usr/bin/env bash
# Slurm mode on the real test cluster (4 nodes on this machine): `-n 3 start`
# submits the master and the workers through libslurm; the workers land on
# at least 2 Slurm nodes; 10,000 jobs complete and their records name the
# node that ran them; status shows the Slurm jobs; stop leaves no Slurm job
# in squeue and no mtslurm process.
. "$(dirname "$0")/lib.sh"
slurm_up

out=$(mtslurm -n 3 start --time 10 --job-name t0500)
log "$out"
assert_contains "$out" "3 workers (Slurm job" "start summary"
ids=$(slurm_jobs_of_run | tr '\n' ' ')
assert_eq 2 "$(echo $ids | wc -w)" "two Slurm jobs recorded (master, workers)"
for id in $ids; do assert_eq RUNNING "$(slurm_state "$id")" "Slurm job $id running"; done
assert_eq "t0500-master" "$(scontrol show job $(echo $ids | cut -d' ' -f1) | sed -n 's/.*JobName=\([^ ]*\).*/\1/p')" \
	"--job-name"

st=$(mtslurm status --json)
assert_eq 3 "$(jget "$st" '$.workers.connected')" "workers connected"
assert_eq 2 "$(jlen "$st" '$.slurm')" "status lists the two Slurm jobs"
assert_eq RUNNING "$(jget "$st" '$.slurm[1].state')" "status: workers job state"
assert_eq "$(echo $ids | cut -d' ' -f1)" "$(jget "$st" '$.master.slurm_job')" "master knows its Slurm job"
nodes=$(mtslurm workers --json | jsql "select count(distinct json_extract(value,'\$.node')) from json_each(readfile('/dev/stdin'))")
[ "$nodes" -ge 2 ] || fail "workers on $nodes Slurm node(s), want at least 2"
wj=$(mtslurm workers --json | jsql "select json_extract(value,'\$.slurm_job') from json_each(readfile('/dev/stdin')) limit 1")
assert_eq "$(echo $ids | cut -d' ' -f2)" "$wj" "a worker reports its Slurm job"

seq 1 10000 | mtslurm submit --echo --stdin > "$T/ids"
mtslurm wait --all --timeout 120
assert_eq 10000 "$(db "select count(*) from jobs where state=2")" "10,000 jobs completed"
used=$(db "select count(distinct substr(worker,1,instr(worker,'-')-1)) from jobs")
[ "$used" -ge 2 ] || fail "jobs ran on $used node(s)"
assert_eq 0 "$(db "select count(*) from jobs where worker not glob 'n[1-4]-*'")" "records name the Slurm node"

mp_node=$(json_get "$MTSLURM_RUN_DIR/master.json" node)
mtslurm stop
assert_slurm_jobs_ended $ids
[ -z "$(our_procs)" ] || fail "processes left: $(our_procs)"
[ ! -f "$MTSLURM_RUN_DIR/slurm.json" ] || fail "slurm.json left behind"
log "ok (master ran on $mp_node)"
