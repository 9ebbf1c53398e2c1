#!/usr/bin/env bash
# Multi-rank MPI jobs: `submit --ranks 4 --exec ./mpi_prog` runs one job as 4
# MPI ranks -- with srun --overlap over the worker's Slurm allocation (4
# distinct ranks from 2 nodes, while other jobs run, holding 4 of the
# worker's slots meanwhile), and with mpirun in local mode. Bad input: ranks
# on a non-exec job, a bad --ranks.
. "$(dirname "$0")/lib.sh"
hello=$MTS_BUILD/tests/mpi_hello

# local mode: mpirun
mtslurm -n 1 --local start --slots 2
id=$(mtslurm submit --ranks 2 --exec "$hello")
local_id=$id
mtslurm wait "$id" --timeout 60
out=$(db "select output from jobs where id=$id")
assert_eq 2 "$(echo "$out" | grep -c 'of 2 on .*(allreduce 2)')" "2 ranks under mpirun: $out"
set +e; msg=$(mtslurm submit --ranks 2 --echo hi 2>&1); rc=$?; set -e
[ $rc -ne 0 ] || fail "ranks on an echo job accepted"
assert_contains "$msg" "\"ranks\" is for exec jobs" "ranks on echo"
set +e; msg=$(mtslurm submit --ranks 0 --exec true 2>&1); rc=$?; set -e
[ $rc -ne 0 ] || fail "--ranks 0 accepted"
assert_contains "$msg" "--ranks wants a number of MPI ranks" "--ranks 0"
mtslurm stop

# Slurm: 2 workers of 4 slots on 2 nodes (2 CPUs each), srun --overlap
slurm_up
mtslurm -n 2 start --slots 4 --nodes 2 --ntasks-per-node 1 --cpus-per-task 2 --time 10 -J t0570
seq 1 40 | mtslurm submit --echo --stdin --delay 0.2 > "$T/others"
id=$(mtslurm submit --ranks 4 --exec "$hello && sleep 2")
holds() { mtslurm workers --json | grep -q '"running":4'; }
wait_for 30 holds
mtslurm wait --all --timeout 120
assert_eq 41 "$(db "select count(*) from jobs where state=2 and id>$local_id")" "the MPI job and the others completed"
out=$(db "select output from jobs where id=$id")
log "$out"
assert_eq 4 "$(echo "$out" | grep -o 'rank [0-9] of 4' | sort -u | wc -l)" "4 distinct ranks"
nodes=$(echo "$out" | grep -o 'on n[0-9]' | sort -u | wc -l)
[ "$nodes" -ge 2 ] || fail "ranks on $nodes node(s), want at least 2"
mtslurm stop
log ok
