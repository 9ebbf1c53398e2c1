#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Job arrays (issue 11): `mtslurm submit --array 1-1000000` from the
# command's start to its printed array id (connect, one request, the
# master's one array row and first chunk, the durable commit), against the
# same million jobs through the per-row path (bench_echo --no-wait: batches
# of 50,000 rows), which is the floor an array is compared to; target about
# 1 s. No workers, so nothing runs meanwhile. Prints "bench:" lines.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
B=$top/build
work=$(mktemp -d /tmp/mts-bench-array.XXXXXX)
mp=
trap '[ -n "$mp" ] && kill -9 $mp 2>/dev/null; rm -rf "$work"' EXIT
fig() { printf 'bench: %s %s %s\n' "$1" "$2" "$3"; }
master() { # start a master alone on run dir $1
	mkdir -p "$1"
	"$B/mtslurm-master" --run-dir "$1" >/dev/null 2>&1 &
	mp=$!
	for _ in $(seq 1 100); do [ -f "$1/master.json" ] && break; sleep 0.1; done
}
ms() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.0f", (b-a)/1e6}'; }

export MTSLURM_RUN_DIR=$work/run-array
master "$MTSLURM_RUN_DIR"
t0=$(date +%s%N)
"$B/mtslurm" submit --array 1-1000000 --exec 'echo {}' >/dev/null
t1=$(date +%s%N)
fig array_submit_1m_ms "$(ms "$t0" "$t1")" ms
kill -9 $mp; wait $mp 2>/dev/null || true

export MTSLURM_RUN_DIR=$work/run-rows
master "$MTSLURM_RUN_DIR"
t0=$(date +%s%N)
"$B/bench/bench_echo" 1000000 --no-wait >/dev/null
t1=$(date +%s%N)
fig rows_submit_1m_ms "$(ms "$t0" "$t1")" ms
kill -9 $mp; wait $mp 2>/dev/null || true
mp=
