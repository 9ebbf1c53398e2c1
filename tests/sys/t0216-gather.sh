#!/usr/bin/env bash
# Result gathering (master/server.c, gather_hold; docs/performance.md,
# "Result gathering"), seen through /metrics' counters of commits that carried
# workers' results, the results they carried and the commits made after a
# hold:
# 1. lone jobs (a single-job round trip loop: nothing else is assigned when a
#    result comes, though results come a round trip apart) are committed one
#    result per commit, never held;
# 2. a burst of exec jobs on two workers shares commits: at least a quarter
#    of the commits made after a hold, on average at least 1.5 results per
#    commit (a loaded machine batches results by itself too: the holds are
#    what tells gathering from that);
# 3. a pending `mtslurm wait` for some jobs still gets its answer.
. "$(dirname "$0")/lib.sh"

mtslurm -n 2 --local start
url=$(json_get "$MTSLURM_RUN_DIR/master.json" http)
tok=$(cat "$MTSLURM_RUN_DIR/token")
metrics() { curl -sS --max-time 10 "$url/$tok/metrics"; }
# counters: "COMMITS RESULTS GATHERED"
counters() {
	metrics | awk '$1 == "mtslurm_result_commits_total" {c=$2} $1 == "mtslurm_results_committed_total" {r=$2}
		$1 == "mtslurm_result_commits_gathered_total" {g=$2} END {print c+0, r+0, g+0}'
}
completed() { [ "$(db "select count(*) from jobs where state=2")" = "$1" ]; }
read -r c0 r0 g0 <<< "$(counters)"
metrics | grep -q '^# TYPE mtslurm_result_commits_gathered_total counter' || fail "no gathering counters in /metrics"

# ---- 1. lone jobs: one result per commit, none held ----
n=200
"$MTS_BUILD/bench/bench_rtt" $n > "$T/rtt.out" || fail "bench_rtt failed: $(cat "$T/rtt.out")"
read -r c1 r1 g1 <<< "$(counters)"
log "lone jobs: $((c1 - c0)) commits, $((r1 - r0)) results, $((g1 - g0)) held; rtt: $(cat "$T/rtt.out")"
assert_eq $n $((r1 - r0)) "results committed for $n lone jobs"
assert_eq $n $((c1 - c0)) "commits for $n lone jobs (one each)"
assert_eq 0 $((g1 - g0)) "lone jobs' commits held to gather"

# ---- 2. a burst of exec jobs: results share commits ----
N=2000
# a wait for the last few of them is pending while they run (answered below)
for i in $(seq 1 $N); do echo true; done | mtslurm submit --exec --stdin > "$T/ids"
assert_eq $N "$(wc -l < "$T/ids")" "burst ids"
mtslurm wait $(tail -n 3 "$T/ids") --timeout 120 > "$T/wait.out" 2>&1 &
wpid=$!
started_pids+=($wpid)
wait_for 120 completed $((N + n))
read -r c2 r2 g2 <<< "$(counters)"
dc=$((c2 - c1)) dr=$((r2 - r1)) dg=$((g2 - g1))
log "burst of $N exec jobs: $dc commits, $dr results ($(awk -v a=$dr -v b=$dc 'BEGIN{printf "%.2f", a/b}') per commit), $dg held"
assert_eq $N $dr "results committed for the burst"
[ $((3 * dc)) -le $((2 * dr)) ] || fail "results per commit: $dr results in $dc commits, want at least 1.5 per commit"
[ $((4 * dg)) -ge $dc ] || fail "only $dg of $dc commits were held to gather results"
# ---- 3. the wait pending during the burst was answered ----
wait "$wpid" || fail "mtslurm wait failed: $(cat "$T/wait.out")"
assert_eq 0 "$(db "select count(*) from jobs where state<>2")" "jobs not completed"
mtslurm stop
log ok
