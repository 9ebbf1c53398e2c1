#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Queries never stall dispatch (issue 12, target 6): a 5,000,000-row
# state.db (final rows written with sqlite3 while the master is down: every
# millionth failed, the rest completed), then the single-job round trip
# (bench_rtt, 2 workers) alone and while one client loops over
# `jobs --state failed --json` (a scan of every row), `jobs --json --limit
# 10000` (one full page) and `status --json`. Target: the loop's p99 during
# the queries <= 2x its p99 alone, same run; the worst round trips are
# printed too. BENCH_QUERY_ROWS (default
# 5000000); BENCH_BUILD: the build to measure (default build/). Prints
# "bench:" lines.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
B=${BENCH_BUILD:-$top/build}
rows=${BENCH_QUERY_ROWS:-5000000}
rtts=${BENCH_QUERY_RTTS:-3000}
work=$(mktemp -d /tmp/mts-bench-query.XXXXXX)
export MTSLURM_RUN_DIR=$work/run
qp=
cleanup() {
	set +e
	rm -f "$work/querying"
	[ -n "$qp" ] && wait "$qp" 2>/dev/null
	timeout 30 "$B/mtslurm" stop >/dev/null 2>&1
	rm -rf "$work"
}
trap cleanup EXIT
fig() { printf 'bench: %s %s %s\n' "$1" "$2" "$3"; }

"$B/mtslurm" -n 2 --local start >/dev/null
"$B/mtslurm" stop >/dev/null
t0=$(date +%s%N)
sqlite3 "$MTSLURM_RUN_DIR/state.db" "BEGIN;
INSERT INTO clients(id,name) VALUES(1000000,'bulk');
WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM c WHERE i < $rows)
INSERT INTO jobs(id,client,ckey,type,input,state,attempts,output,rc,submitted,started,finished,worker)
SELECT i,'',1000000,'echo','x',CASE WHEN i%1000000=0 THEN 3 ELSE 2 END,1,'x',0,1.0,1.0,1.0,'w' FROM c;
UPDATE counts SET n=(SELECT count(*) FROM jobs WHERE state=2) WHERE state=2;
UPDATE counts SET n=(SELECT count(*) FROM jobs WHERE state=3) WHERE state=3;
COMMIT;"
echo "query: $rows rows written in $(awk -v a="$t0" -v b="$(date +%s%N)" 'BEGIN{printf "%.1f", (b-a)/1e9}') s"
"$B/mtslurm" -n 2 --local start >/dev/null
t0=$(date +%s%N)
"$B/mtslurm" jobs --state failed --json >/dev/null
fig query_failed_5m_ms "$(awk -v a="$t0" -v b="$(date +%s%N)" 'BEGIN{printf "%.0f", (b-a)/1e6}')" ms

p99() { echo "$1" | awk '{print $4}'; }
mx() { echo "$1" | awk '{print $6}'; }
# Stopped by removing $work/querying and waiting for the round in flight,
# not by kill: a killed subshell leaves its mtslurm child running, which
# then talks to a run directory the cleanup removed.
queries() {
	while [ -e "$work/querying" ]; do
		"$B/mtslurm" jobs --state failed --json >/dev/null
		"$B/mtslurm" jobs --json --limit 10000 >/dev/null
		"$B/mtslurm" status --json >/dev/null
		echo x >>"$work/queries"
	done
}
# Alone and during the queries, alternated three times (this machine's
# noise moves a p99 by more than the effect): the medians are compared.
quiets=() busys=() maxq=() maxb=()
for k in 1 2 3; do
	r=$("$B/bench/bench_rtt" "$rtts")
	quiets+=($(p99 "$r")) maxq+=($(mx "$r"))
	touch "$work/querying"
	queries &
	qp=$!
	r=$("$B/bench/bench_rtt" "$rtts")
	busys+=($(p99 "$r")) maxb+=($(mx "$r"))
	rm -f "$work/querying"
	wait "$qp" 2>/dev/null || true
	qp=
done
quiet=$(printf '%s\n' "${quiets[@]}" | sort -n | sed -n 2p)
busy=$(printf '%s\n' "${busys[@]}" | sort -n | sed -n 2p)
echo "query: p99s alone ${quiets[*]} us, during ${busys[*]} us; worst alone ${maxq[*]} us, during ${maxb[*]} us;" \
	"$(wc -l <"$work/queries") rounds of the three queries"
fig rtt_p99_quiet_us "$quiet" us
fig rtt_p99_during_queries_us "$busy" us
fig rtt_p99_queries_ratio "$(awk -v a="$busy" -v b="$quiet" 'BEGIN{printf "%.2f", a/b}')" x
# the worst round trip (a p99 misses a stall that hits fewer than 1 % of them)
fig rtt_max_quiet_us "$(printf '%s\n' "${maxq[@]}" | sort -n | sed -n 2p)" us
fig rtt_max_during_queries_us "$(printf '%s\n' "${maxb[@]}" | sort -n | sed -n 2p)" us
