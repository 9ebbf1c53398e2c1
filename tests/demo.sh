#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# `make demo`: start a local cluster, run a real parameter sweep through it,
# show what happened, and stop it. Uses a private run directory in /tmp so it
# never touches ~/.mtslurm.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
export PATH="$top/build:$PATH"
work=$(mktemp -d /tmp/mtslurm-demo.XXXXXX)
export MTSLURM_RUN_DIR=$work/run
cleanup() {
	local rc=$?
	mtslurm stop >/dev/null 2>&1 || true
	rm -rf "$work"
	exit $rc
}
trap cleanup EXIT
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }

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
	run mtslurm submit --func "$top/build/tests/libsweep.so:simulate" "{\"t\":$t}"
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

say "6. Stop: nothing is left running"
run mtslurm stop
echo "demo finished: the run directory was $MTSLURM_RUN_DIR (removed)"
