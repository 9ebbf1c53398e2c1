#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# `make demo`: start a local cluster, run a real parameter sweep through it,
# show what happened, and stop it. Uses a private run directory under
# $TMPDIR (default /tmp) so it never touches ~/.mtslurm. Runs the commands of
# the build in $MTS_BUILD (default build/; `make demo` passes the one it
# built), whose function jobs call the sample library tests/libsweep.so of
# that build. If anything fails it shows the failed jobs and the end of the
# cluster's logs before it stops the cluster; MTSLURM_DEMO_KEEP=1 keeps the
# run directory afterwards (the demo scenario t0105 looks into it).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${MTS_BUILD:-$top/build}" 2>/dev/null && pwd) ||
	{ echo "demo: no build directory ${MTS_BUILD:-$top/build}; run make demo" >&2; exit 1; }
lib=$build/tests/libsweep.so
for f in "$build/mtslurm" "$build/mtslurm-master" "$build/mtslurm-worker" "$lib"; do
	[ -e "$f" ] || { echo "demo: $f is missing; run make demo (it builds it)" >&2; exit 1; }
done
export PATH="$build:$PATH"
echo "demo: commands from $build"
work=$(mktemp -d "${TMPDIR:-/tmp}/mtslurm-demo.XXXXXX")
export MTSLURM_RUN_DIR=$work/run
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }

# Every process whose command line names our run directory.
our_procs() { ps -eo pid=,args= | grep -F -- "$MTSLURM_RUN_DIR" | grep -v -e grep -e "ps -eo" || true; }

# On failure the run directory still holds what explains it: show that first.
explain_failure() {
	say "The demo failed; what went wrong"
	if [ -f "$MTSLURM_RUN_DIR/master.json" ]; then
		printf '$ mtslurm jobs --state failed\n'
		timeout 20 mtslurm jobs --state failed 2>&1 | head -n 20 || true
	fi
	local f
	for f in "$MTSLURM_RUN_DIR"/logs/master.out "$MTSLURM_RUN_DIR"/logs/mpirun.out \
		"$MTSLURM_RUN_DIR"/logs/master.log; do
		[ -s "$f" ] || continue
		printf -- '--- last lines of %s\n' "${f#"$work"/}"
		tail -n 10 "$f"
	done
}
cleanup() {
	local rc=$?
	set +e
	[ $rc -ne 0 ] && explain_failure
	timeout 60 mtslurm stop >/dev/null 2>&1
	if [ "${MTSLURM_DEMO_KEEP:-0}" = 1 ]; then
		echo "demo: kept the run directory $MTSLURM_RUN_DIR"
	else
		rm -rf "$work"
	fi
	[ $rc -ne 0 ] && echo "demo: FAILED (exit $rc)" >&2
	exit $rc
}
trap cleanup EXIT

say "1. Start a master and 4 MPI workers on this machine"
run mtslurm -n 4 --local start
run mtslurm status

say "2. A Monte Carlo sweep: estimate pi with 100 seeds, one exec job each"
seq 1 100 | sed 's/.*/awk -v s=& "BEGIN{srand(s); n=0; for(i=0;i<200000;i++){x=rand();y=rand(); if(x*x+y*y<1)n++} printf \\"%.5f\\\\n\\", 4*n\/200000}"/' \
	> "$work/cmds.txt"
printf '$ mtslurm submit --exec --stdin < cmds.txt   # first command:\n  %s\n' "$(head -n1 "$work/cmds.txt")"
mtslurm submit --exec --stdin < "$work/cmds.txt" > "$work/ids.txt"
echo "submitted $(wc -l < "$work/ids.txt") jobs, ids $(head -n1 "$work/ids.txt")..$(tail -n1 "$work/ids.txt")"

say "3. The same cluster runs C functions from a shared library (no process per job)"
for t in 0.1 0.2 0.3 0.4 0.5; do
	run mtslurm submit --func "$lib:simulate" "{\"t\":$t}"
done

say "4. Wait for everything"
run mtslurm wait --all

say "5. Results"
mtslurm jobs --json --limit 10000 > "$work/jobs.json"
sqlite3 :memory: "select 'pi estimate over ' || count(*) || ' seeds: ' || printf('%.5f', avg(cast(json_extract(value,'\$.output') as real))) from json_each(readfile('$work/jobs.json')) where json_extract(value,'\$.type')='exec' and json_extract(value,'\$.state')='completed'"
sqlite3 :memory: "select 'function job ' || json_extract(value,'\$.id') || ' -> ' || json_extract(value,'\$.output') from json_each(readfile('$work/jobs.json')) where json_extract(value,'\$.type')='func'"
run mtslurm jobs --limit 5
first=$(head -n1 "$work/ids.txt")
run mtslurm logs "$first"
run mtslurm workers

say "6. The HTTP service: a mindtrace-style job type served by a worker pool"
url=$(sed -n 's/.*"http":"\([^"]*\)".*/\1/p' "$MTSLURM_RUN_DIR/master.json")
tok=$(cat "$MTSLURM_RUN_DIR/token")
echo "the master serves HTTP at $url (API token in \$MTSLURM_RUN_DIR/token)"
run mtslurm worker-type add echoworker --executor echo
run mtslurm type add echo --worker-type echoworker
run mtslurm launch-worker --type echoworker
job='{"id":"demo-1","name":"echo","schema_name":"echo","payload":{"message":"hello over HTTP","delay":0},"created_at":"2026-01-01T00:00:00"}'
printf '$ curl -H "Authorization: Bearer $TOKEN" -d %s %s/submit_job\n' "'$job'" "$url"
curl -s -H "Authorization: Bearer $tok" -d "$job" "$url/submit_job"
echo
st=""
for _ in $(seq 1 100); do
	st=$(curl -s -H "Authorization: Bearer $tok" -d '{"job_id":"demo-1"}' "$url/get_job_status")
	case "$st" in *'"status":"completed"'*) break ;; esac
	sleep 0.1
done
printf '$ curl ... -d %s %s/get_job_status\n%s\n' "'{\"job_id\":\"demo-1\"}'" "$url" "$st"
case "$st" in *'"echoed":"hello over HTTP"'*) ;; *) echo "demo: the HTTP job did not complete: $st" >&2; exit 1 ;; esac

say "7. Stop: nothing is left running"
run mtslurm stop
left=$(our_procs)
if [ -n "$left" ]; then
	printf 'demo: still running after stop:\n%s\n' "$left" >&2
	exit 1
fi
echo "no process of the cluster is left"
[ "${MTSLURM_DEMO_KEEP:-0}" = 1 ] || echo "demo finished: the run directory was $MTSLURM_RUN_DIR (removed)"
