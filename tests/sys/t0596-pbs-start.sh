#!/usr/bin/env bash
# `--backend pbs` end to end on a real PBS command line: Debian's
# slurm-wlm-torque (qsub, qstat, qdel) on top of the test Slurm cluster.
# `mtslurm -n 4 start --backend pbs --queue batch --walltime 0:10:00`
# submits the master and the workers with qsub; the workers (mpirun in the
# workers' job) land on at least 2 nodes; status lists both PBS jobs with
# their states and nodes; 10,000 jobs complete; a qdel of the workers' job
# while jobs run loses none once `add-workers --backend pbs` brings workers
# back; a qdel of the master's job leaves the workers running and start
# restarts only the master; stop qdel's exactly its jobs (the workers' too,
# with no master left to tell them) and leaves none in qstat/squeue.
#
# Not checkable here, since no real PBS server runs on this machine: the
# workers' mpirun on the hosts of $PBS_NODEFILE (the wrappers set none, so
# mpirun finds the Slurm allocation underneath, as the script's fallback
# does), PBS_JOBID naming the output file and the workers' allocation
# (here SLURM_JOB_ID, which the wrappers' qsub prints as the id), ids of
# the form 1234.server, PBS Pro's select statement (the wrappers read only
# its chunk count, so the Torque style nodes=N:ppn=C is used), a job that
# starts in $HOME, and a job that does not inherit qsub's environment (the
# wrappers pass it, the script exports it anyway), and PBS's 'E' (exiting)
# state: the wrappers' qstat says C while Slurm still completes the job.
. "$(dirname "$0")/lib.sh"
slurm_up
command -v qsub >/dev/null || fail "qsub missing: apt-get install slurm-wlm-torque (tests/deps.sh)"
# the workers' mpirun talks over loopback: every "node" of the test
# cluster is this machine (local mode does the same)
export MTSLURM_MPIRUN_ARGS="--mca oob_tcp_if_include lo --mca btl_tcp_if_include lo"

out=$(mtslurm -n 4 start --backend pbs --queue batch --walltime 0:10:00 --job-name t0596)
log "$out"
assert_contains "$out" "4 workers (PBS job" "start summary names PBS"
read -r mj wj <<<"$(pbs_jobs_of_run | tr '\n' ' ')"
[ -n "$mj" ] && [ -n "$wj" ] || fail "pbs.json records no master and workers job: $(cat "$MTSLURM_RUN_DIR/pbs.json")"
for id in $mj $wj; do assert_eq R "$(pbs_state "$id")" "qstat: PBS job $id running"; done
assert_eq "t0596-workers" "$(qstat -f "$wj" | sed -n 's/^[[:space:]]*Job_Name = //p')" "-N from --job-name"
assert_eq batch "$(qstat -f "$wj" | sed -n 's/^[[:space:]]*queue = //p')" "-q from --queue"
assert_eq "00:10:00" "$(qstat -f "$wj" | sed -n 's/^[[:space:]]*Resource_List.walltime = //p')" "walltime 0:10:00"
grep -q '^MTSLURM_BACKEND=pbs$' "$MTSLURM_RUN_DIR/config" || fail "the run dir's config does not remember pbs"
[ -f "$MTSLURM_RUN_DIR/logs/pbs-workers-$wj.out" ] ||
	fail "the workers' output is not in logs/pbs-workers-$wj.out (%j): $(ls "$MTSLURM_RUN_DIR/logs")"

st=$(mtslurm status --json)
assert_eq 4 "$(jget "$st" '$.workers.connected')" "workers connected"
assert_eq 2 "$(jlen "$st" '$.pbs')" "status lists the two PBS jobs"
assert_eq RUNNING "$(jget "$st" '$.pbs[1].state')" "status: the workers' job state"
wnodes=$(jget "$st" '$.pbs[1].nodes')
[ "$(echo "$wnodes" | tr ',' '\n' | grep -c .)" -ge 2 ] || fail "status: the workers' job on '$wnodes', want 2+ nodes"
text=$(mtslurm status)
assert_contains "$text" "pbs      workers job $wj (4 tasks): RUNNING on " "status line of the workers' PBS job"
assert_eq "$mj" "$(jget "$st" '$.master.slurm_job')" "the master knows its job"
nodes=$(mtslurm workers --json | jsql "select count(distinct json_extract(value,'\$.node')) from json_each(readfile('/dev/stdin'))")
[ "$nodes" -ge 2 ] || fail "workers on $nodes node(s), want at least 2"
w1=$(mtslurm workers --json | jsql "select json_extract(value,'\$.slurm_job') from json_each(readfile('/dev/stdin')) limit 1")
assert_eq "$wj" "$w1" "a worker reports its allocation (the PBS job's id)"

seq 1 10000 | mtslurm submit --echo --stdin > "$T/ids"
mtslurm wait --all --timeout 120
assert_eq 10000 "$(db "select count(*) from jobs where state=2")" "10,000 jobs completed"
used=$(db "select count(distinct substr(worker,1,instr(worker,'-')-1)) from jobs")
[ "$used" -ge 2 ] || fail "jobs ran on $used node(s)"

# qdel of the workers' job while jobs run: none lost once new workers come
seq 1 400 | mtslurm submit --echo --stdin --delay 0.02 > "$T/ids2"
assert_eq 400 "$(wc -l < "$T/ids2")" "400 acknowledged"
busy() { [ "$(db "select count(*) from jobs where state=2")" -ge 10040 ]; }
wait_for 30 busy
qdel "$wj"
log "qdel $wj"
gone() { [ "$(jget "$(mtslurm status --json)" '$.workers.connected')" = 0 ]; }
wait_for 30 gone
out=$(mtslurm -n 2 add-workers --backend pbs --walltime 10)
log "$out"
assert_contains "$out" "2 workers added (PBS job" "add-workers through PBS"
aj=$(pbs_jobs_of_run | tail -n1)
[ "$aj" != "$wj" ] || fail "add-workers recorded no new PBS job"
assert_eq R "$(pbs_state "$aj")" "the added workers' PBS job runs"
mtslurm wait --all --timeout 120
assert_eq 10400 "$(db "select count(*) from jobs")" "no job stored twice"
assert_eq 10400 "$(db "select count(*) from jobs where state=2")" "every job completed after the qdel"
log "jobs run again after the qdel: $(db "select count(*) from jobs where attempts>1")"

# qdel of the master's job: the workers live on in theirs; start submits
# only a new master, and the workers reconnect
qdel "$mj"
dead() { [ "$(pbs_state "$mj")" != R ]; }
wait_for 30 dead
assert_eq R "$(pbs_state "$aj")" "the workers' PBS job survives the master's"
out=$(mtslurm start --backend pbs --walltime 10 --job-name t0596)
log "$out"
assert_contains "$out" "master restarted" "start restarts only the master"
assert_contains "$out" "2 of 2 workers reconnected" "the workers reconnect"
seq 1 100 | mtslurm submit --echo --stdin > "$T/ids3"
mtslurm wait --all --timeout 120
assert_eq 10500 "$(db "select count(*) from jobs where state=2")" "all completed after the master's restart"
# the new master's job dies too: stop has no master to ask, so it must qdel
# the workers' job itself
mj2=$(pbs_jobs_of_run | head -n1)
qdel "$mj2"
dead2() { [ "$(pbs_state "$mj2")" != R ]; }
wait_for 30 dead2

ids=$(pbs_jobs_of_run | tr '\n' ' ')
assert_eq "$mj2 $aj " "$ids" "pbs.json: the new master's and the live workers' jobs (the qdel'ed ones forgotten)"
out=$(mtslurm stop)
log "$out"
assert_contains "$out" "PBS jobs $mj2, $aj ended" "stop names exactly its jobs"
for id in $ids $mj $wj; do
	case "$(pbs_state "$id")" in C | "") ;; *) fail "PBS job $id still $(pbs_state "$id") after stop" ;; esac
	# the wrappers' qstat says C for a job Slurm still completes (CG: no
	# 'E' there), so squeue may list it a moment longer
	unqueued() { [ -z "$(squeue -h -j "$id" 2>/dev/null)" ]; }
	wait_for 10 unqueued
done
[ -z "$(our_procs)" ] || fail "processes left: $(our_procs)"
[ ! -f "$MTSLURM_RUN_DIR/pbs.json" ] || fail "pbs.json left behind"
log ok
