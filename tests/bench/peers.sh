#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The peers `make bench` compares mtslurm with, where Debian packages them
# (tests/bench/deps.sh installs them), for W workers; run.sh calls it right
# after measuring mtslurm with the same W, so both share one window. Prints
# one "bench: peer_NAME VALUE UNIT" line per figure; run.sh takes the
# ratios. Everything runs on this machine over loopback, every run is
# bounded by timeout, and only PIDs started here are ended.
#   peers.sh W [ECHO_CALLS]   (ECHO_CALLS: mpi4py echo calls, default 1000000)
#   mpi4py.futures: echo calls/s, executor.map with chunksize 50 (what
#     minimalcluster's reference figure used), W worker ranks; at W=2 also
#     the single-call round trip (submit, result, 10,000 times).
#   Work Queue: tasks `true` per second, W work_queue_worker of one core.
#   GNU parallel: jobs `true` per second, -j W.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
B=$top/build
W=${1:?usage: peers.sh W [ECHO_CALLS]}
calls=${2:-1000000}
case $W in '' | *[!0-9]*) echo "peers.sh: W must be a number of workers, not '$W'" >&2; exit 2 ;; esac
# A peer that fails costs its own lines only (said on stderr), not the
# rest of `make bench`; run.sh then prints no ratio to it.
fig() {
	if [ -n "$2" ]; then printf 'bench: %s %s %s\n' "$1" "$2" "$3"; else echo "peers.sh: $1 not measured (see above)" >&2; fi
}
py=/usr/bin/python3 # Debian's, the one python3-mpi4py installs into
for need in mpirun parallel work_queue_worker "$py"; do
	command -v "$need" >/dev/null || { echo "peers.sh: $need is missing; run: bash tests/bench/deps.sh" >&2; exit 1; }
done

# mpi4py.futures: rank 0 runs the driver, the W others are the pool. The
# same Open MPI settings as `mtslurm start` (shared memory, loopback).
mpi() {
	OMPI_MCA_btl=self,vader OMPI_MCA_btl_tcp_if_include=lo OMPI_MCA_oob_tcp_if_include=lo \
		timeout 300 mpirun --allow-run-as-root --oversubscribe --bind-to none -n $((W + 1)) \
		"$py" -m mpi4py.futures "$top/tests/bench/peers/mpi4py_bench.py" "$@"
}
r=$(mpi echo "$calls" 50) || r=""
fig "peer_mpi4py_echo_w${W}_jobs_per_s" "$(echo "$r" | awk '{print $2}')" jobs/s
if [ "$W" = 2 ]; then
	r=$(mpi rtt 10000) || r=""
	fig peer_mpi4py_rtt_w2_median_us "$(echo "$r" | awk '{print $2}')" us
	fig peer_mpi4py_rtt_w2_p99_us "$(echo "$r" | awk '{print $4}')" us
fi

# Work Queue through its C API (coop-computing-tools-dev), built here as it
# is the only program that needs the library. Its manager cannot be told
# an address and listens on all interfaces, so it runs in a network
# namespace of its own, where loopback is the only interface there is.
wq=$B/bench/peers/wq_true
src=$top/tests/bench/peers/wq_true.c
if [ ! -x "$wq" ] || [ "$src" -nt "$wq" ]; then
	mkdir -p "$(dirname "$wq")"
	cc -std=c11 -O2 -Wall -Wextra -Werror -Wshadow -I/usr/include/cctools -o "$wq" "$src" \
		-lwork_queue -ldttools -lm -lz
fi
r=$(cd "$(mktemp -d /tmp/mts-wq.XXXXXX)" && trap 'rm -rf "$PWD"' EXIT &&
	timeout 300 unshare -n sh -c 'ip link set lo up && exec "$0" 2000 "$1"' "$wq" "$W" | grep "^rate ") || r=""
fig "peer_wq_exec_w${W}_jobs_per_s" "$(echo "$r" | awk '{print $2}')" jobs/s

# GNU parallel: one job `true` per input line, W at a time.
n=1000 # about 8 s at -j 2 here
t0=$(date +%s%N)
if seq $n | timeout 300 parallel --will-cite -j "$W" -N0 true; then
	t1=$(date +%s%N)
	r=$(awk -v n=$n -v a="$t0" -v b="$t1" 'BEGIN{printf "%.0f", n*1e9/(b-a)}')
else
	r=""
fi
fig "peer_parallel_exec_w${W}_jobs_per_s" "$r" jobs/s
