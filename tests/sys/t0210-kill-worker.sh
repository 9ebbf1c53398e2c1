#!/usr/bin/env bash
# A worker killed mid-job: its job goes back to the queue and runs elsewhere;
# a job out of retries fails with a reason; the other workers keep going.
. "$(dirname "$0")/lib.sh"

mtslurm -n 3 --local start --prefetch 0
a=$(mtslurm submit --exec 'sleep 2; echo done-a')
b=$(mtslurm submit --exec 'sleep 2; echo done-b')
c=$(mtslurm submit --retries 0 --exec 'sleep 2; echo never')
wpid() { # worker id -> pid
	mtslurm workers --json | jsql "select json_extract(value,'\$.pid') from json_each(readfile('/dev/stdin')) where json_extract(value,'\$.id')='$1'"
}
running() { [ "$(db "select count(*) from jobs where state=1")" = 3 ]; }
wait_for 20 running
wa=$(db "select worker from jobs where id=$a"); wc=$(db "select worker from jobs where id=$c")
[ "$wa" != "$wc" ] || fail "jobs $a and $c on one worker with prefetch 0"
pa=$(wpid "$wa"); pc=$(wpid "$wc")
[ -n "$pa" ] && [ -n "$pc" ] || fail "worker pids not listed"
kill -9 "$pa" "$pc"
log "killed workers $wa (pid $pa) and $wc (pid $pc)"

set +e; mtslurm wait $a $b $c --timeout 60; rc=$?; set -e
assert_eq 1 "$rc" "wait reports the failed job"
assert_eq 3 "$(db "select state from jobs where id=$c")" "no-retry job failed"
assert_contains "$(db "select error from jobs where id=$c")" "lost" "no-retry job reason"
assert_eq 2 "$(db "select state from jobs where id=$a")" "re-queued job completed"
assert_eq 2 "$(db "select attempts from jobs where id=$a")" "re-queued job attempts"
[ "$(db "select worker from jobs where id=$a")" != "$wa" ] || fail "job $a completed on the dead worker"
assert_eq done-a "$(db "select trim(output) from jobs where id=$a")" "re-run output"
assert_eq 2 "$(db "select state from jobs where id=$b")" "untouched job completed"
assert_eq 1 "$(jget "$(mtslurm status --json)" '$.workers.connected')" "workers left"
mtslurm stop
log ok
