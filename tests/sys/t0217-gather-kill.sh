#!/usr/bin/env bash
# kill -9 of the master in the middle of a burst whose results it gathers
# (master/server.c, gather_hold): results held for a shared commit were
# neither confirmed to their workers (result_ok) nor passed to their client,
# so the workers still hold them and give them to the next master. No
# acknowledged job is lost and none runs twice. Killed three times, each once
# the counters in /metrics show that commits are being held.
. "$(dirname "$0")/lib.sh"

N=6000
mtslurm -n 2 --local start
rp=$(mpirun_pid)
# exec jobs that note each run of theirs: short enough that results come
# closely spaced from two workers, so the master gathers them
for i in $(seq 1 $N); do echo "echo \$MTSLURM_JOB_ID >> $T/runs"; done | mtslurm submit --exec --stdin > "$T/acked"
assert_eq $N "$(wc -l < "$T/acked")" "acknowledged ids"
gathered() {
	local url tok
	url=$(json_get "$MTSLURM_RUN_DIR/master.json" http) tok=$(cat "$MTSLURM_RUN_DIR/token")
	curl -sS --max-time 5 "$url/$tok/metrics" | awk '$1 == "mtslurm_result_commits_gathered_total" {g=$2} END {print g+0}'
}
gathering() { [ "$(gathered)" -ge "$1" ]; }
completed_at_least() { [ "$(db "select count(*) from jobs where state=2")" -ge "$1" ]; }
for round in 1 2 3; do
	wait_for 90 completed_at_least $((round * 1000))
	wait_for 30 gathering 20
	mp=$(master_pid)
	kill -9 "$mp"
	log "round $round: killed master $mp with $(db "select count(*) from jobs where state=2") completed, $(wc -l < "$T/runs") runs"
	sleep 0.3
	alive "$rp" || fail "workers (mpirun $rp) died with the master"
	out=$(mtslurm -n 2 --local start 2>&1)
	assert_contains "$out" "restart" "start on a dead master's run dir restarts the master"
	[ "$(master_pid)" != "$mp" ] || fail "master pid unchanged"
done

mtslurm wait --all --timeout 180
assert_eq $N "$(db "select count(*) from jobs where state=2")" "completed jobs in state.db"
assert_eq $N "$(db "select count(*) from jobs")" "jobs in state.db (none stored twice)"
missing=$(sort -u "$T/acked" | comm -23 - <(db "select id from jobs where state=2" | sort -u) | wc -l)
assert_eq 0 "$missing" "acknowledged jobs not completed"
# each ran once: a result confirmed to its worker before its commit and lost
# with the master would make its job run again
assert_eq $N "$(wc -l < "$T/runs")" "runs of the $N jobs"
assert_eq $N "$(sort -u "$T/runs" | wc -l)" "distinct jobs run"
assert_eq 2 "$(jget "$(mtslurm status --json)" '$.workers.connected')" "workers reconnected"
mtslurm stop
log ok
