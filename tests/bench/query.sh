#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Queries never stall dispatch (issue 12, target 6): a 5,000,000-row
# state.db (final rows written with sqlite3 while the master is down: every
# millionth failed, the rest completed), then the single-job round trip
# (bench_rtt, 2 workers) alone and while one client loops over
# `jobs --state failed --json` (a scan of every row), `jobs --json --limit
# 10000` (one full page) and `status --json`. Target: the loop's p99 during
# the queries <= 2x its p99 alone, same run. BENCH_QUERY_ROWS (default
# 5000000); BENCH_BUILD: the build to measure (default build/). Prints
# "bench:" lines.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
B=${BENCH_BUILD:-$top/build}
rows=${BENCH_QUERY_ROWS:-5000000}
rtts=${BENCH_QUERY_RTTS:-5000}
work=$(mktemp -d /tmp/mts-bench-query.XXXXXX)
export MTSLURM_RUN_DIR=$work/run
qp=
cleanup() {
	set +e
	[ -n "$qp" ] && kill "$qp" 2>/dev/null
	timeout 30 "$B/mtslurm" stop >/dev/null 2>&1
	rm -rf "$work"
}
trap cleanup EXIT
fig() { printf 'bench: %s %s %s\n' "$1" "$2" "$3"; }

"$B/mtslurm" -n 2 --local start >/dev/null
"$B/mtslurm" stop >/dev/null
t0=$(date +%s%N)
sqlite3 "$MTSLURM_RUN_DIR/state.db" "BEGIN;
WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM c WHERE i < $rows)
INSERT INTO jobs(id,client,type,input,state,attempts,output,rc,submitted,started,finished,worker)
SELECT i,'bulk','echo','x',CASE WHEN i%1000000=0 THEN 3 ELSE 2 END,1,'x',0,1.0,1.0,1.0,'w' FROM c;
UPDATE counts SET n=(SELECT count(*) FROM jobs WHERE state=2) WHERE state=2;
UPDATE counts SET n=(SELECT count(*) FROM jobs WHERE state=3) WHERE state=3;
COMMIT;"
echo "query: $rows rows written in $(awk -v a="$t0" -v b="$(date +%s%N)" 'BEGIN{printf "%.1f", (b-a)/1e9}') s"
"$B/mtslurm" -n 2 --local start >/dev/null
t0=$(date +%s%N)
"$B/mtslurm" jobs --state failed --json >/dev/null
fig query_failed_5m_ms "$(awk -v a="$t0" -v b="$(date +%s%N)" 'BEGIN{printf "%.0f", (b-a)/1e6}')" ms

p99() { echo "$1" | awk '{print $4}'; }
quiet=$(p99 "$("$B/bench/bench_rtt" "$rtts")")
(
	while :; do
		"$B/mtslurm" jobs --state failed --json >/dev/null
		"$B/mtslurm" jobs --json --limit 10000 >/dev/null
		"$B/mtslurm" status --json >/dev/null
		echo x >>"$work/queries"
	done
) &
qp=$!
busy=$(p99 "$("$B/bench/bench_rtt" "$rtts")")
kill "$qp"; wait "$qp" 2>/dev/null || true
qp=
echo "query: $(wc -l <"$work/queries") rounds of the three queries ran beside the loop"
fig rtt_p99_quiet_us "$quiet" us
fig rtt_p99_during_queries_us "$busy" us
fig rtt_p99_queries_ratio "$(awk -v a="$busy" -v b="$quiet" 'BEGIN{printf "%.2f", a/b}')" x
