#!/usr/bin/env bash
# Cancel: queued jobs, a running job (its process is killed), everything at
# once; already-finished and unknown ids are reported as such.
. "$(dirname "$0")/lib.sh"

mtslurm -n 1 --local start --prefetch 0
run=$(mtslurm submit --exec "sleep 30; echo should-not-finish")
running() { [ "$(db "select state from jobs where id=$run")" = 1 ]; }
wait_for 20 running
seq 1 500 | mtslurm submit --echo --stdin --delay 5 > "$T/queued"
mtslurm cancel "$run" $(head -n 2 "$T/queued") > "$T/out"
assert_contains "$(cat "$T/out")" "cancelled 3" "cancel message"
gone() { ! ps -eo args= | grep -q "[s]leep 30; echo should-not-finish"; }
wait_for 10 gone
assert_eq 4 "$(db "select state from jobs where id=$run")" "running job cancelled"

out=$(mtslurm cancel --all)
assert_contains "$out" "cancelled 498" "cancel --all count"
assert_eq 500 "$(db "select count(*) from jobs where state=4 and id between $(head -n1 "$T/queued") and $(tail -n1 "$T/queued")")" "queued jobs cancelled"

# After cancelling, the worker takes new work at once.
done_id=$(mtslurm submit --echo after-cancel)
mtslurm wait "$done_id" --timeout 20
assert_eq after-cancel "$(db "select output from jobs where id=$done_id")" "job after cancel"

set +e
out=$(mtslurm cancel "$done_id" 2>&1); rc=$?
set -e
assert_contains "$out" "$done_id" "already-finished id named"
out=$(mtslurm jobs --state cancelled --json)
assert_eq 501 "$(jlen "$out" '$')" "jobs --state cancelled"
st=$(mtslurm status --json)
assert_eq 501 "$(jget "$st" '$.jobs.cancelled')" "status cancelled count"
set +e; mtslurm wait $(cat "$T/queued") --timeout 10; rc=$?; set -e
assert_eq 1 "$rc" "wait exits 1 when its jobs were cancelled"
# wait --all waits for the jobs not final at the call: none here.
mtslurm wait --all --timeout 10 || fail "wait --all counted jobs cancelled before the call"
mtslurm stop
log ok
