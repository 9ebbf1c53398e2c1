#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# sse.sh: what an open dashboard costs (issue 10, "Speed": echo throughput
# drops by less than 5 % with the SSE stream connected). On one cluster of 2
# workers, echo runs with and without a client on GET /api/v1/events (one
# "status" event a second), alternated three times (which goes first
# alternates too), medians compared: bench: echo_sse_ratio = with / without.
# Printed, not asserted: on a shared 2-core VM either rate moves by more
# than the effect. Part of `make bench` (run.sh calls it); runs alone too:
#   BENCH_SSE_JOBS=200000 bash tests/bench/sse.sh     (about 20 s by default)
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
B=$top/build
export PATH="$B:$PATH"
work=$(mktemp -d /tmp/mts-bench-sse.XXXXXX)
jobs=${BENCH_SSE_JOBS:-300000}
export MTSLURM_RUN_DIR=$work/run
sse_pid=
cleanup() {
	set +e
	[ -n "$sse_pid" ] && kill "$sse_pid" 2>/dev/null
	[ -f "$MTSLURM_RUN_DIR/master.json" ] && timeout 30 mtslurm stop >/dev/null 2>&1
	rm -rf "$work"
}
trap cleanup EXIT
fig() { printf 'bench: %s %s %s\n' "$1" "$2" "$3"; }
median() { printf '%s\n' "$@" | sort -n | sed -n 2p; }

mtslurm -n 2 --local start >/dev/null
http=$(sed -n 's/.*"http":"\([^"]*\)".*/\1/p' "$MTSLURM_RUN_DIR/master.json")
base=$http/$(cat "$MTSLURM_RUN_DIR/token")
"$B/bench/bench_echo" $((jobs / 10)) >/dev/null # warm-up, not counted
run_plain() { plain+=($("$B/bench/bench_echo" "$jobs" | awk '{print $2}')); }
run_sse() {
	curl -sN "$base/api/v1/events" > "$work/events" &
	sse_pid=$!
	for _ in $(seq 1 50); do [ -s "$work/events" ] && break; sleep 0.02; done
	[ -s "$work/events" ] || { echo "sse.sh: the event stream sent nothing" >&2; exit 1; }
	sse+=($("$B/bench/bench_echo" "$jobs" | awk '{print $2}'))
	echo "  events received during the run: $(grep -c '^event: status' "$work/events")"
	kill "$sse_pid"; wait "$sse_pid" 2>/dev/null || true
	sse_pid=
}
plain=() sse=()
for k in 1 2 3; do
	if [ $((k % 2)) = 1 ]; then run_plain; run_sse; else run_sse; run_plain; fi
done
echo "  echo jobs/s without the stream: ${plain[*]}; with it: ${sse[*]}"
p=$(median "${plain[@]}") s=$(median "${sse[@]}")
fig echo_sse_jobs_per_s "$s" jobs/s
fig echo_sse_ratio "$(awk -v a="$s" -v b="$p" 'BEGIN{printf "%.1f", 100*a/b}')" %
mtslurm stop >/dev/null
