#!/usr/bin/env bash
# Slurm mode, bad input: no Slurm configuration, an unreachable slurmctld, an
# unknown partition, a time limit the partition refuses, a bad --sbatch-arg,
# a master job that fails at once. Each: a one-line error naming the cause,
# a non-zero exit within a bounded time, and nothing left behind (no Slurm
# job, no slurm.json, no process).
. "$(dirname "$0")/lib.sh"
slurm_up

# expect_fail WANT CMD...: fails, prints WANT, leaves nothing behind
expect_fail() {
	local want=$1; shift
	local t0=$SECONDS out rc
	set +e; out=$("$@" 2>&1); rc=$?; set -e
	log "$out"
	[ $rc -ne 0 ] || fail "'$*' succeeded"
	assert_contains "$out" "$want" "message of '$*'"
	[ "$(echo "$out" | wc -l)" -eq 1 ] || fail "not one line: $out"
	[ $((SECONDS - t0)) -lt 30 ] || fail "'$*' took $((SECONDS - t0)) s"
	[ ! -f "$MTSLURM_RUN_DIR/slurm.json" ] || fail "slurm.json left after '$*'"
	[ -z "$(our_procs)" ] || fail "processes left after '$*': $(our_procs)"
	[ -z "$(squeue -h -n t0510-master,t0510-workers 2>/dev/null)" ] || fail "Slurm jobs left after '$*'"
}

expect_fail "no Slurm configuration found" env SLURM_CONF=/nonexistent/slurm.conf mtslurm -n 1 start
expect_fail "--local" env SLURM_CONF=/nonexistent/slurm.conf mtslurm -n 1 start

# a configuration whose controller does not answer (a closed port)
sed 's/^SlurmctldPort=.*/SlurmctldPort=1/' "$SLURM_CONF" > "$T/dead.conf"
expect_fail "cannot reach slurmctld" env SLURM_CONF="$T/dead.conf" mtslurm -n 1 start

expect_fail "Invalid partition name specified" mtslurm -n 1 start -J t0510 --partition nosuch
expect_fail "time limit" mtslurm -n 1 start -J t0510 --partition short --time 30
expect_fail "not a Slurm time limit" mtslurm -n 1 start -J t0510 --time 2h
expect_fail "--sbatch-arg --foo: not supported" mtslurm -n 1 start -J t0510 --sbatch-arg --foo
expect_fail "needs a value" mtslurm -n 1 start -J t0510 --sbatch-arg --reservation

# a master that cannot run: its Slurm job ends, and start says so with the
# last line the job printed
mkdir -p "$T/libexec"
printf '#!/bin/sh\necho "broken master binary" >&2\nexit 3\n' > "$T/libexec/mtslurm-master"
cp "$MTS_BUILD/mtslurm-worker" "$MTS_BUILD/mtslurm-node" "$T/libexec/"
chmod +x "$T/libexec/mtslurm-master"
expect_fail "broken master binary" env MTSLURM_LIBEXEC="$T/libexec" mtslurm -n 1 start -J t0510 --time 5

# an install without the node agent: said before anything is submitted
mkdir -p "$T/nonode"
cp "$MTS_BUILD/mtslurm-master" "$MTS_BUILD/mtslurm-worker" "$T/nonode/"
expect_fail "mtslurm-node not found or not executable" env MTSLURM_LIBEXEC="$T/nonode" mtslurm -n 1 start -J t0510-nonode --time 5
assert_eq "" "$(squeue -h -n t0510-nonode-master,t0510-nonode-workers 2>/dev/null)" "nothing submitted without a node agent"

# a master or workers that run but never show up (as when the run directory
# is not shared with the compute nodes): start says so within --timeout
mkdir -p "$T/silent"
printf '#!/bin/sh\nexec sleep 300\n' > "$T/silent/mtslurm-master"
cp "$MTS_BUILD/mtslurm-worker" "$MTS_BUILD/mtslurm-node" "$T/silent/"
chmod +x "$T/silent/mtslurm-master"
expect_fail "master.json did not appear within 3 s: is the run directory on a filesystem the compute nodes share?" \
	env MTSLURM_LIBEXEC="$T/silent" mtslurm -n 1 start -J t0510 --time 5 --timeout 3
cp "$MTS_BUILD/mtslurm-master" "$T/silent/"
printf '#!/bin/sh\nexec sleep 300\n' > "$T/silent/mtslurm-worker"
expect_fail "only 0 of 1 workers connected within 3 s although their Slurm job" \
	env MTSLURM_LIBEXEC="$T/silent" mtslurm -n 1 start -J t0510 --time 5 --timeout 3

# a master that stays pending: status shows Slurm's reason while start
# waits, and start gives up at --timeout with it
blocker=$(cd "$T" && sbatch --parsable -o /dev/null --wrap 'sleep 120')
# (cleanup reads $? first: keep the script's exit status for it)
trap 'r=$?; scancel "$blocker" 2>/dev/null; (exit $r); cleanup' EXIT
mtslurm -n 1 start -J t0510 --time 5 --timeout 6 --sbatch-arg --dependency=afterok:"$blocker" > "$T/pend.out" 2>&1 &
starter=$!
started_pids+=("$starter")
pending() { { mtslurm status 2>/dev/null || true; } | grep -q "master job .*PENDING (Dependency)"; }
wait_for 10 pending
set +e; st=$(mtslurm status 2>&1); rc=$?; set -e
[ $rc -ne 0 ] || fail "status succeeded without a master"
assert_contains "$st" "does not answer" "status says the master does not answer"
set +e; wait "$starter"; rc=$?; set -e
[ $rc -ne 0 ] || fail "start succeeded with a pending master"
assert_contains "$(cat "$T/pend.out")" "did not start within 6 s (pending: Dependency)" "start names the reason"
scancel "$blocker"
[ -z "$(squeue -h -n t0510-master,t0510-workers 2>/dev/null)" ] || fail "the pending jobs were left behind"

# a malformed run-dir config
mkdir -p "$MTSLURM_RUN_DIR" && chmod 700 "$MTSLURM_RUN_DIR"
printf 'partition batch\n' > "$MTSLURM_RUN_DIR/config"
expect_fail "config line 1: expected MTSLURM_NAME=VALUE" mtslurm -n 1 start -J t0510

# --sbatch-arg that Slurm takes: the job is made with it; defaults from the
# run dir's config (partition, time), overridden by the environment (qos
# unset here, so only what the file says counts)
printf '# defaults for this run dir\nMTSLURM_PARTITION = short\nMTSLURM_TIME="3"\n' > "$MTSLURM_RUN_DIR/config"
out=$(mtslurm -n 1 start -J t0510 --sbatch-arg --comment=hello-t0510 --sbatch-arg --exclude=n4)
assert_contains "$out" "1 workers" "start with --sbatch-arg"
for id in $(slurm_jobs_of_run); do
	scontrol show job "$id" | grep -c "Comment=hello-t0510" >/dev/null || fail "job $id lacks the comment"
	scontrol show job "$id" | grep -c "ExcNodeList=n4" >/dev/null || fail "job $id lacks --exclude"
	scontrol show job "$id" | grep -c "Partition=short" >/dev/null || fail "job $id: partition not from the config"
	scontrol show job "$id" | grep -c "TimeLimit=00:03:00" >/dev/null || fail "job $id: time not from the config"
done
mtslurm stop
log ok
