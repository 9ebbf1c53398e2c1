#!/usr/bin/env bash
# Backpressure: a client submitting more than the master's --max-queued
# unfinished jobs is slowed down (the master stops reading it), not refused
# and not allowed to grow the master without bound; every job still runs.
. "$(dirname "$0")/lib.sh"

mtslurm -n 1 --local start --max-queued 1000
# Jobs of 1 ms on one slot: the client submits far faster than they run.
"$TOOLS/sweep_client" --jobs 3000 --batch 200 --delay 0.001 --ids "$T/acked" --callbacks "$T/calls" --timeout 120 \
	> "$T/client.out" 2>&1 &
cpid=$!
started_pids+=($cpid)
# While the client is held back, the master never holds many more than the
# limit (one frame of 200 may arrive after it stops reading).
peak=0
for i in $(seq 1 100); do
	kill -0 $cpid 2>/dev/null || break
	st=$(mtslurm status --json) || break
	live=$(( $(jget "$st" '$.jobs.queued') + $(jget "$st" '$.jobs.prefetched') + $(jget "$st" '$.jobs.running') ))
	[ $live -gt $peak ] && peak=$live
	sleep 0.05
done
wait $cpid || fail "client failed: $(tail -n 3 "$T/client.out")"
log "peak unfinished jobs seen: $peak (limit 1000)"
[ $peak -le 1600 ] || fail "master held $peak unfinished jobs with --max-queued 1000"
grep -q "not reading from client" "$MTSLURM_RUN_DIR/logs/master.log" || fail "the master never applied backpressure"
assert_eq 3000 "$(sort -u "$T/calls" | wc -l)" "callbacks"
assert_eq 3000 "$(db "select count(*) from jobs where state=2")" "completed jobs"
mtslurm stop
log ok
