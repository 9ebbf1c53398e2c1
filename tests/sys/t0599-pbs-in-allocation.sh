#!/usr/bin/env bash
# `mtslurm start --in-allocation` inside a PBS job, on a real PBS command
# line (Debian's slurm-wlm-torque on top of the test Slurm cluster).
#
# Part 1, a PBS job's environment as PBS sets it: the test submits a real
# job with the wrappers' qsub (a sleep with a 2-minute walltime, so that
# qstat answers for it), writes a $PBS_NODEFILE naming localhost twice (two
# slots), exports PBS_JOBID (that job's id) and PBS_NODEFILE, and unsets
# every SLURM_* variable but SLURM_CONF (which the wrappers' qstat needs to
# find the test cluster; it names no allocation). Then:
#  - errors, one line each, nothing left running: neither PBS_JOBID nor
#    SLURM_JOB_ID; PBS_JOBID without PBS_NODEFILE; a node file that does not
#    exist; an empty one;
#  - start --in-allocation without -n starts 2 workers (the node file's
#    lines) through mpirun --hostfile $PBS_NODEFILE and one node agent (one
#    host); status says mode allocation in PBS job ID, the master and each
#    worker record the PBS job's id; -n 3 overrides the node file's count;
#  - the workers learn the job's end from qstat (start + walltime: under
#    the wrappers qstat -f's mtime and ctime) and drain before it, as under
#    Slurm (t0540): they stop taking jobs, give back what they had queued,
#    finish what runs and leave, well before the walltime; no job fails;
#    add-workers (no drain) finishes the run, every job exactly once; stop.
# Part 2, the batch-script pattern users copy (docs/examples/mtslurm-pbs.sh):
# the #PBS script submitted with qsub runs start --in-allocation, a sweep of
# 200 jobs, status and stop, and the PBS job ends. Under the wrappers the
# script sees only SLURM_* variables (no PBS_JOBID, no PBS_NODEFILE), so this
# run exercises the #PBS directives the wrappers read (-N, select's chunk
# count as nodes and mpiprocs as tasks per node, walltime), the script's own lines, and start
# --in-allocation choosing its launcher by the environment (here Slurm's:
# srun), not the node-file path of part 1.
#
# Not checkable here, since no real PBS server runs on this machine: a
# node file PBS writes itself (PBS Pro's one line per mpiprocs, Torque's per
# ppn), mpirun --hostfile starting ranks on other hosts (every host here is
# localhost; Debian's Open MPI has no tm support, so on a real cluster
# mpirun would use ssh, or tm with a site's Open MPI), -x PBS_JOBID reaching
# remote ranks, a real server's stime + Resource_List.walltime as the end
# (the wrappers give mtime/ctime; test_pbsjob parses PBS Pro's and Torque's
# samples), PBS_JOBID of the form 1234.server, and the script starting in
# $HOME (the wrappers start it in qsub's directory).
. "$(dirname "$0")/lib.sh"
slurm_up
command -v qsub >/dev/null || fail "qsub missing: apt-get install slurm-wlm-torque (tests/deps.sh)"
# mpirun's daemons talk over loopback: every host of the node file is this machine
export MTSLURM_MPIRUN_ARGS="--mca oob_tcp_if_include lo --mca btl_tcp_if_include lo"
for v in $(compgen -e | grep '^SLURM_'); do [ "$v" = SLURM_CONF ] || unset "$v"; done

pbs_ids=()
qdel_ours() { # the PBS jobs this test submitted, whatever happens
	local rc=$?
	for id in "${pbs_ids[@]}"; do qdel "$id" >/dev/null 2>&1 || true; done
	return $rc
}
trap 'qdel_ours; cleanup' EXIT

mkdir -p "$T/pbs"
cd "$T/pbs"
printf '#!/bin/sh\n#PBS -N t0599-alloc\n#PBS -l nodes=1\n#PBS -l walltime=00:02:00\nsleep 300\n' > sleep.sh
pj=$(qsub sleep.sh)
pbs_ids+=("$pj")
log "PBS job $pj (the allocation)"
running() { [ "$(pbs_state "$pj")" = R ]; }
wait_for 60 running

# ---- errors: one line each, nothing started ----
one_line_error() { # WHAT NEEDLE CMD...: CMD fails with one line containing NEEDLE
	local what=$1 needle=$2 out rc
	shift 2
	set +e; out=$("$@" 2>&1); rc=$?; set -e
	[ $rc -ne 0 ] || fail "$what: start succeeded"
	assert_contains "$out" "$needle" "$what"
	assert_eq 1 "$(printf '%s\n' "$out" | wc -l)" "$what: one line ($out)"
	[ -z "$(our_procs)" ] || fail "$what: processes left: $(our_procs)"
}
one_line_error "no allocation" "neither SLURM_JOB_ID nor PBS_JOBID is set" \
	env -u PBS_JOBID -u PBS_NODEFILE mtslurm start --in-allocation
one_line_error "PBS_JOBID without PBS_NODEFILE" "PBS_JOBID is set (PBS job $pj) but PBS_NODEFILE is not" \
	env -u PBS_NODEFILE PBS_JOBID="$pj" mtslurm start --in-allocation
one_line_error "a node file that does not exist" "cannot read the PBS node file $T/none" \
	env PBS_JOBID="$pj" PBS_NODEFILE="$T/none" mtslurm start --in-allocation
: > "$T/empty"
one_line_error "an empty node file" "the PBS node file $T/empty names no host" \
	env PBS_JOBID="$pj" PBS_NODEFILE="$T/empty" mtslurm start --in-allocation

# ---- the cluster in the PBS job ----
printf 'localhost\nlocalhost\n' > "$T/nodefile"
export PBS_JOBID=$pj PBS_NODEFILE=$T/nodefile
# the job's end as qstat says it (the wrappers' ctime: start + walltime)
end=$(date -d "$(qstat -f "$pj" | sed -n 's/^[[:space:]]*ctime = //p')" +%s)
start=$(date -d "$(qstat -f "$pj" | sed -n 's/^[[:space:]]*mtime = //p')" +%s)
assert_eq 120 "$((end - start))" "qstat: the job ends its walltime after it started"
# drain 25 s from now, whatever the time qsub took
export MTSLURM_DRAIN_BEFORE=$((end - $(date +%s) - 25))
[ "$MTSLURM_DRAIN_BEFORE" -gt 30 ] || fail "the PBS job has only $((end - $(date +%s))) s left: too little to test"
out=$(mtslurm start --in-allocation)
log "$out"
assert_contains "$out" "2 workers (mpirun pid" "one worker per line of the node file, through mpirun"
assert_contains "$out" "1 node agent " "one node agent per host of the node file"
lp=$(mpirun_pid)
args=$(tr '\0' ' ' < "/proc/$lp/cmdline")
assert_contains "$args" "--hostfile $T/nodefile" "the workers' mpirun runs on the node file's hosts"
assert_contains "$args" "-x PBS_JOBID" "the workers' mpirun passes PBS_JOBID on"
st=$(mtslurm status --json)
assert_eq 2 "$(jget "$st" '$.workers.connected')" "workers connected"
assert_eq allocation "$(jget "$st" '$.mode')" "status: mode"
assert_eq pbs "$(jget "$st" '$.allocation.backend')" "status: the allocation's system"
assert_eq "$pj" "$(jget "$st" '$.allocation.id')" "status: the allocation's id"
assert_eq "$pj" "$(jget "$st" '$.master.slurm_job')" "the master records PBS_JOBID"
assert_contains "$(mtslurm status)" "mode     allocation: inside PBS job $pj" "status text"
jobs_of=$(mtslurm workers --json | jsql "select group_concat(distinct json_extract(value,'\$.slurm_job')) from json_each(readfile('/dev/stdin'))")
assert_eq "$pj" "$jobs_of" "each worker reports the PBS job as its allocation"

seq 1 800 | mtslurm submit --echo --stdin --delay 0.1 > "$T/ids" # 40 s of work on 2 workers
assert_eq 800 "$(wc -l < "$T/ids")" "800 acknowledged"
drained() { [ "$(grep -l "draining (its PBS job $pj ends in" "$MTSLURM_RUN_DIR"/logs/worker-*.daemon.log | wc -l)" -eq 2 ]; }
wait_for 60 drained
left=$(db "select count(*) from jobs where state<2")
log "drain began with $left jobs unfinished, $((end - $(date +%s))) s before the walltime"
[ "$left" -gt 0 ] || fail "the run finished before the drain: nothing tested"
grep -h "PBS job $pj ends at $end: draining $MTSLURM_DRAIN_BEFORE s before" "$MTSLURM_RUN_DIR"/logs/worker-*.daemon.log |
	grep -q . || fail "the workers did not take the end from qstat ($end): $(grep -h 'ends at' "$MTSLURM_RUN_DIR"/logs/worker-*.daemon.log)"
left_all() { ! alive "$lp"; }
wait_for 30 left_all
[ "$(date +%s)" -lt "$end" ] || fail "the workers left only after the PBS job's walltime"
assert_eq 2 "$(grep -l "drained: every job finished or given back" "$MTSLURM_RUN_DIR"/logs/worker-*.daemon.log | wc -l)" \
	"both workers drained and left"
assert_eq R "$(pbs_state "$pj")" "the PBS job itself still runs (the workers left before its end)"
assert_eq 0 "$(db "select count(*) from jobs where state=3")" "no job failed"

out=$(MTSLURM_NO_DRAIN=1 mtslurm -n 2 add-workers)
assert_contains "$out" "2 workers added (mpirun pid" "add-workers in the PBS job"
mtslurm wait --all --timeout 120
assert_eq 800 "$(db "select count(*) from jobs")" "no job stored twice"
assert_eq 800 "$(db "select count(*) from jobs where state=2")" "every job completed"
out=$(mtslurm stop)
assert_contains "$out" "stopped the cluster" "stop"
gone() { [ -z "$(our_procs)" ]; }
wait_for 10 gone
# -n overrides the node file's count (no drain: the job's end is near now)
out=$(MTSLURM_NO_DRAIN=1 mtslurm -n 3 start --in-allocation)
assert_contains "$out" "3 workers (mpirun pid" "-n over the node file's lines"
assert_eq 3 "$(jget "$(mtslurm status --json)" '$.workers.connected')" "3 workers connected"
mtslurm stop >/dev/null
wait_for 10 gone
qdel "$pj"
unset PBS_JOBID PBS_NODEFILE MTSLURM_DRAIN_BEFORE

# ---- part 2: the user's #PBS script through qsub ----
mkdir -p "$T/work"
cd "$T/work"
run2=$T/run2
bj=$(MTSLURM_RUN_DIR=$run2 qsub "$top/docs/examples/mtslurm-pbs.sh")
pbs_ids+=("$bj")
log "batch job $bj"
assert_eq 00:10:00 "$(qstat -f "$bj" | sed -n 's/^[[:space:]]*Resource_List.walltime = //p')" "#PBS -l walltime"
assert_eq mtslurm-example "$(qstat -f "$bj" | sed -n 's/^[[:space:]]*Job_Name = //p')" "#PBS -N"
ended() { case "$(pbs_state "$bj")" in C | "") return 0 ;; esac; return 1; }
wait_for 120 ended
said() { grep -qs "stopped the cluster" "$T"/work/*.o"$bj"; }
wait_for 5 said
out=$(cat "$T"/work/*.o"$bj")
echo "$out"
# select=2:ncpus=2:mpiprocs=2: 2 chunks of 2 MPI processes (a real PBS
# writes 4 lines into the node file; sbatch makes it 2 nodes x 2 tasks)
assert_contains "$out" "4 workers (srun pid" "one worker per mpiprocs of each chunk (the wrappers' Slurm job)"
assert_contains "$out" "2 node agents" "a node agent per chunk's host"
assert_contains "$out" "200 completed, 0 failed" "the sweep completed"
# which two nodes Slurm gives depends on what else runs on the test cluster
ran_on=$(printf '%s\n' "$out" | sed -n 's/^nodes that ran jobs: //p' | wc -w)
assert_eq 2 "$ran_on" "workers on both nodes of the job ran jobs"
assert_contains "$out" "stopped the cluster" "stop"
assert_eq 200 "$(sqlite3 "$run2/state.db" "select count(*) from jobs where state=2 and output like 'sweep point %'")" \
	"every job's output recorded"
[ -z "$(ps -eo pid=,args= | grep -F -- "$run2" | grep -v grep)" ] || fail "processes left"
log ok
