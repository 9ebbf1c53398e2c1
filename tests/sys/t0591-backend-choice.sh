#!/usr/bin/env bash
# --backend (slurm/batch.h's table) without a batch system: an unknown name
# is one clear line listing the known ones, and starts nothing; --local and
# --backend local are the same; "auto" on a machine without Slurm's
# configuration or a PBS server's is local (qsub alone, as Slurm's PBS
# wrappers install it, is not PBS); $PBS_SERVER makes it PBS; RUN_DIR/config's MTSLURM_BACKEND is the default of
# a start, over what "auto" would choose; a local start leaves the config
# alone; add-workers refuses another backend than its cluster's. (A Slurm
# start writing the config: t0592.)
. "$(dirname "$0")/lib.sh"
unset SLURM_CONF SLURM_JOB_ID MTSLURM_BACKEND

# expect_fail CODE WANT CMD...: exits CODE with the one line WANT, starts nothing
expect_fail() {
	local code=$1 want=$2 rc=0 out
	shift 2
	out=$("$@" 2>&1) || rc=$?
	assert_eq "$code" "$rc" "exit code of '$*'"
	assert_eq "mtslurm: $want" "$out" "message of '$*'"
	[ ! -f "$MTSLURM_RUN_DIR/master.json" ] || fail "master.json after '$*'"
	[ -z "$(our_procs)" ] || fail "processes left after '$*': $(our_procs)"
}
expect_fail 2 "--backend nosuch: no such backend in this mtslurm; it knows auto, slurm, pbs, local" \
	mtslurm -n 1 start --backend nosuch
# pbs is known; with no PBS server answering here (Slurm's wrappers, if
# installed, have no Slurm configuration either), one line says so
rc=0; out=$(mtslurm -n 1 start --backend pbs --queue batch --walltime 2:00:00 2>&1) || rc=$?
assert_eq 1 "$rc" "exit code of --backend pbs without a PBS server"
case "$out" in
"mtslurm: no PBS here: qsub is not on PATH"* | "mtslurm: the PBS server does not answer: qstat -Q"*) ;;
*) fail "--backend pbs without a PBS server: $out" ;;
esac
[ "$(echo "$out" | wc -l)" -eq 1 ] || fail "not one line: $out"
[ -z "$(our_procs)" ] || fail "processes left after --backend pbs: $(our_procs)"
# a PBS server's configuration ($PBS_SERVER: Torque's) makes auto choose
# PBS -- where qsub is there; qsub alone (Slurm's wrappers) does not, below
if command -v qsub >/dev/null; then
	rc=0; out=$(PBS_SERVER=nowhere mtslurm -n 1 start 2>&1) || rc=$?
	assert_eq 1 "$rc" "exit code of auto with \$PBS_SERVER"
	assert_contains "$out" "mtslurm: the PBS server does not answer" "auto chose PBS for \$PBS_SERVER"
fi
expect_fail 2 "--local is --backend local; it cannot go with --backend slurm" \
	mtslurm -n 1 --local start --backend slurm
MTSLURM_BACKEND=nosuch expect_fail 2 \
	"--backend nosuch: no such backend in this mtslurm; it knows auto, slurm, pbs, local" mtslurm -n 1 start

# RUN_DIR/config's MTSLURM_BACKEND (as a Slurm start writes it) is the
# default: Slurm is asked, and there is none here -- where auto would have
# been local
if [ -e /etc/slurm/slurm.conf ] || [ -e /run/slurm/conf/slurm.conf ]; then
	fail "this machine has a Slurm configuration: auto would not be local here (run this test elsewhere)"
fi
mkdir -p "$MTSLURM_RUN_DIR" && chmod 700 "$MTSLURM_RUN_DIR"
conf=$(printf '# mine\nMTSLURM_PARTITION=batch\nMTSLURM_BACKEND=slurm')
echo "$conf" >"$MTSLURM_RUN_DIR/config"
rc=0; out=$(mtslurm -n 1 start 2>&1) || rc=$?
assert_eq 1 "$rc" "exit code of a start the config sends to Slurm"
assert_contains "$out" "no Slurm configuration found" "the run dir's backend (slurm) was the default"
[ -z "$(our_procs)" ] || fail "processes left after the failed start: $(our_procs)"

# --backend auto, no Slurm configuration here: local (even with Slurm's
# PBS wrappers installed: their qsub is no PBS server); a local start
# leaves the config as it was
mtslurm -n 1 start --backend auto
assert_eq 1 "$(jget "$(mtslurm status --json)" '$.workers.connected')" "auto started a local worker"
[ -n "$(mpirun_pid)" ] || fail "auto did not start locally (no mpirun in launch.json)"
assert_eq "$conf" "$(cat "$MTSLURM_RUN_DIR/config")" "a local start changed the config"

# add-workers goes where the cluster runs
out=$(mtslurm -n 1 add-workers --backend slurm 2>&1) && fail "add-workers --backend slurm on a local cluster worked"
assert_eq "mtslurm: the cluster of $MTSLURM_RUN_DIR was started through local, not slurm: add-workers adds to it there (drop --backend)" \
	"$out" "add-workers with another backend"
mtslurm -n 1 add-workers --backend local >/dev/null
assert_eq 2 "$(jget "$(mtslurm status --json)" '$.workers.connected')" "add-workers --backend local added one"
mtslurm stop >/dev/null
[ -z "$(our_procs)" ] || fail "processes left after stop: $(our_procs)"

# a Slurm configuration makes auto choose Slurm, but the run dir's config
# says local: the start is local (this Slurm answers nothing)
printf 'ClusterName=none\nSlurmctldHost=nowhere\nSlurmctldPort=1\n' >"$T/slurm.conf"
sed -i 's/^MTSLURM_BACKEND=.*/MTSLURM_BACKEND=local/' "$MTSLURM_RUN_DIR/config"
SLURM_CONF=$T/slurm.conf mtslurm -n 1 start >/dev/null
[ -n "$(mpirun_pid)" ] || fail "the run dir's backend (local) was not the default"
mtslurm stop >/dev/null

# --local is --backend local, whatever the config says
sed -i 's/^MTSLURM_BACKEND=.*/MTSLURM_BACKEND=slurm/' "$MTSLURM_RUN_DIR/config"
mtslurm -n 1 --local start >/dev/null
[ -n "$(mpirun_pid)" ] || fail "--local did not start locally"
mtslurm stop >/dev/null
[ -z "$(our_procs)" ] || fail "processes left after the last stop: $(our_procs)"
log "ok"
