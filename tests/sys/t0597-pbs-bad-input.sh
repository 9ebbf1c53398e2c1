#!/usr/bin/env bash
# `--backend pbs`, bad input: a queue the server does not have, a malformed
# walltime, a walltime the queue refuses, options PBS cannot express (--qos,
# --gres, --constraint, --sbatch-arg), --select with Slurm, --mem beside
# --select, no PBS commands on PATH, and add-workers with --select on a Slurm
# cluster's run dir. Each: one line naming the option and what to use
# instead, a non-zero exit within a bounded time, and nothing left behind
# (no PBS or Slurm job, no pbs.json/slurm.json, no process). Then the
# script a start submits: --select reaches qsub verbatim for the workers
# only, the walltime is rewritten as HH:MM:SS, the output is named after
# the job's id, the workers start through mpirun.
#
# Not checkable here, since no real PBS server runs on this machine: a real
# server's refusal texts (qsub's "Unknown queue", "Job exceeds queue
# resource limits"; here sbatch's words come through the wrapper), and
# PBS Pro accepting a select statement with ncpus/mpiprocs/mem (the
# wrappers read only its chunk count).
. "$(dirname "$0")/lib.sh"
slurm_up
command -v qsub >/dev/null || fail "qsub missing: apt-get install slurm-wlm-torque (tests/deps.sh)"
# the workers' mpirun talks over loopback: every "node" of the test
# cluster is this machine (local mode does the same)
export MTSLURM_MPIRUN_ARGS="--mca oob_tcp_if_include lo --mca btl_tcp_if_include lo"

# expect_fail WANT CMD...: fails, prints WANT on one line, leaves nothing behind
expect_fail() {
	local want=$1; shift
	local t0=$SECONDS out rc
	set +e; out=$("$@" 2>&1); rc=$?; set -e
	log "$out"
	[ $rc -ne 0 ] || fail "'$*' succeeded"
	assert_contains "$out" "$want" "message of '$*'"
	[ "$(echo "$out" | wc -l)" -eq 1 ] || fail "not one line: $out"
	[ $((SECONDS - t0)) -lt 40 ] || fail "'$*' took $((SECONDS - t0)) s"
	[ ! -f "$MTSLURM_RUN_DIR/pbs.json" ] || fail "pbs.json left after '$*'"
	[ ! -f "$MTSLURM_RUN_DIR/slurm.json" ] || fail "slurm.json left after '$*'"
	[ -z "$(our_procs)" ] || fail "processes left after '$*': $(our_procs)"
	[ -z "$(squeue -h -n t0597-master,t0597-workers 2>/dev/null)" ] || fail "jobs left queued after '$*'"
	[ -z "$(ls "$MTSLURM_RUN_DIR"/*.pbs.* 2>/dev/null)" ] || fail "a PBS script file left after '$*'"
}

pbs() { mtslurm -n 2 start --backend pbs -J t0597 "$@"; }
expect_fail "qsub refused the job: sbatch: error: Batch job submission failed: Invalid partition name specified" \
	pbs --queue nosuch --walltime 5:00
expect_fail "bad walltime '1:75:00': give HH:MM:SS (e.g. 2:00:00), minutes (90) or D-HH:MM:SS" \
	pbs --walltime 1:75:00
expect_fail "bad walltime '2h'" pbs --walltime 2h
expect_fail "Requested time limit is invalid" pbs --queue short --walltime 30:00
expect_fail "--qos high: PBS has no QOS; ask for the queue that carries it with --queue" pbs --qos high
expect_fail "--gres gpu:1: PBS asks for GPUs in the select statement; use --select N:ncpus=C:ngpus=G" \
	pbs --gres gpu:1
expect_fail "--constraint big: PBS asks for node features in the select statement" pbs --constraint big
expect_fail "--sbatch-arg --exclusive: sbatch's options do not reach qsub" pbs --sbatch-arg --exclusive
expect_fail "--mem with --select: put mem= into the select statement" pbs --select 2:ncpus=1 --mem 1G
expect_fail "bad select" pbs --select "2:ncpus=1;rm"
expect_fail "--select is PBS's (--backend pbs); with Slurm give --nodes" \
	mtslurm -n 2 start --backend slurm -J t0597 --select 2:ncpus=1
expect_fail "no PBS here: qsub is not on PATH" env PATH=/nonexistent "$(command -v mtslurm)" -n 2 start --backend pbs -J t0597
# --select reaches qsub as the workers' select statement; the walltime in
# Slurm's forms becomes HH:MM:SS (a real qsub is swapped for one that
# records the script and submits it to Slurm's qsub)
mkdir -p "$T/bin"
cat > "$T/bin/qsub" <<EOF
#!/bin/sh
for a; do last=\$a; done
cp "\$last" "$T/scripts.\$\$.pbs"
exec /usr/bin/qsub "\$@"
EOF
chmod +x "$T/bin/qsub"
# an option PBS cannot take is refused before anything is submitted
expect_fail "--qos high" env PATH="$T/bin:$PATH" "$(command -v mtslurm)" -n 2 start --backend pbs -J t0597 --qos high
assert_eq "" "$(ls "$T"/scripts.*.pbs 2>/dev/null)" "no qsub ran for a refused option"
PATH="$T/bin:$PATH" mtslurm -n 2 start --backend pbs -J t0597 --walltime 1-0 --select 2:ncpus=1 --timeout 60 >/dev/null
grep -l -- "-workers" "$T"/scripts.*.pbs >/dev/null || fail "no workers' script captured"
w=$(grep -l -- "-N t0597-workers" "$T"/scripts.*.pbs)
m=$(grep -l -- "-N t0597-master" "$T"/scripts.*.pbs)
grep -q '^#PBS -l select=2:ncpus=1$' "$w" || fail "--select not passed verbatim: $(grep '^#PBS' "$w")"
grep -q '^#PBS -l walltime=24:00:00$' "$w" || fail "walltime 1-0 not 24:00:00: $(grep '^#PBS' "$w")"
grep -q 'select' "$m" && fail "the master's job got the workers' select: $(grep '^#PBS' "$m")"
grep -q 'exec >>.*"${PBS_JOBID:-$SLURM_JOB_ID}"' "$w" || fail "the output not named after the job id"
grep -q '^mpirun .*--hostfile' "$w" || fail "the workers do not start through mpirun with a hostfile"
mtslurm stop >/dev/null

log ok
