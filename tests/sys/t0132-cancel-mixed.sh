#!/usr/bin/env bash
# One cancel that names a worker's running echo job and jobs queued behind it
# on the same worker: the worker answers with one "revoked" frame while the
# cancelled running job records its result. Both used to share one buffer,
# so the worker sent a frame that was not JSON and the master dropped it
# ("lost (bad JSON: trailing bytes ...)"). Now every job is cancelled and the
# worker stays connected.
. "$(dirname "$0")/lib.sh"

mtslurm -n 1 --local start
running=$(mtslurm submit --echo r --delay 30)
on_worker() { [ "$(db "select state from jobs where id=$running")" = 1 ] ||
	[ "$(mtslurm jobs "$running" --json | grep -c '"running"')" = 1 ]; }
seq 1 5 | mtslurm submit --echo --stdin --delay 30 > "$T/queued"
wait_for 20 on_worker
sleep 0.3 # the queued ones reach the worker's prefetch window
wid=$(mtslurm workers --json | grep -o '"id":"[^"]*"' | head -n1)
mtslurm cancel "$running" $(cat "$T/queued") > /dev/null
all_cancelled() { [ "$(db "select count(*) from jobs where state=4")" = 6 ]; }
wait_for 20 all_cancelled
sleep 0.5
! grep -h "lost\|bad JSON" "$MTSLURM_RUN_DIR/logs/master.log" || fail "the master dropped the worker"
assert_eq 1 "$(jget "$(mtslurm status --json)" '$.workers.connected')" "workers connected"
assert_eq "$wid" "$(mtslurm workers --json | grep -o '"id":"[^"]*"' | head -n1)" "the same worker"
id=$(mtslurm submit --echo after)
mtslurm wait "$id" --timeout 20
mtslurm stop
log ok
