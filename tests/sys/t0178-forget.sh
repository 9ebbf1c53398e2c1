#!/usr/bin/env bash
# mtslurm forget removes final jobs from the store (history does not grow
# forever): by id, by state, by age; never a queued or running job, never a
# final job that a queued job depends on (checked across a master restart,
# which judges dependents by their dependencies' rows), never the newest
# job (ids are not reused); status totals drop by what was forgotten.
. "$(dirname "$0")/lib.sh"

mtslurm -n 1 --local start --prefetch 0 >/dev/null
ok=$(mtslurm submit --echo ok)
bad=$(mtslurm submit --exec 'exit 3')
dep=$(mtslurm submit --echo dep)
mtslurm wait "$ok" "$bad" "$dep" --timeout 30 2>/dev/null || true
# One slot: a long job runs, and a job that depends on $dep waits behind it.
blocker=$(mtslurm submit --echo blocker --delay 30)
wait_for 10 sh -c "mtslurm jobs $blocker --json | grep -q '\"state\":\"running\"'"
child=$(mtslurm submit --echo child --after "$dep")
assert_eq queued "$(jget "$(mtslurm jobs "$child" --json)" '$[0].state')" "the dependent waits"

# Usage errors.
rc=0; mtslurm forget 2>/dev/null || rc=$?
assert_eq 2 "$rc" "forget without ids or filters"
rc=0; out=$(mtslurm forget --state queued 2>&1) || rc=$?
assert_eq 2 "$rc" "forget --state queued"
assert_contains "$out" "only final jobs" "forget --state queued message"

before=$(mtslurm status --json)
# Recent jobs are not older than an hour; the running and queued ones are never forgotten.
assert_eq "forgot 0 jobs" "$(mtslurm forget --before 1h)" "forget --before 1h keeps recent jobs"
out=$(mtslurm forget "$blocker" "$child" --json 2>/dev/null)
assert_eq 0 "$(jget "$out" '$.forgotten')" "running and queued jobs are kept"
# By state.
assert_eq "forgot 1 jobs" "$(mtslurm forget --state failed)" "forget --state failed"
rc=0; mtslurm jobs "$bad" >/dev/null 2>&1 || rc=$?
assert_eq 1 "$rc" "a forgotten job is unknown"
assert_eq 0 "$(db "select count(*) from jobs where id=$bad")" "the row is gone from state.db"
after=$(mtslurm status --json)
assert_eq $(($(jget "$before" '$.jobs.failed') - 1)) "$(jget "$after" '$.jobs.failed')" "status failed total drops"
# By id: $ok goes, $dep stays while $child depends on it.
out=$(mtslurm forget "$ok" "$dep" --json 2>"$T/err")
assert_eq 1 "$(jget "$out" '$.forgotten')" "forget by id"
assert_contains "$(cat "$T/err")" "1 of the 2 ids were kept" "kept ids are reported"
assert_eq 0 "$(db "select count(*) from jobs where id=$ok")" "forgotten by id"
assert_eq 1 "$(db "select count(*) from jobs where id=$dep")" "a dependency of a queued job is kept"
assert_eq 0 "$(db "select count(*) from counts where n<0")" "no count below zero"

# A master restart judges $child by $dep's row: it must still complete.
mp=$(master_pid)
kill -9 "$mp"
wait_for 10 sh -c "! kill -0 $mp 2>/dev/null"
mtslurm -n 1 --local start --prefetch 0 >/dev/null
mtslurm cancel "$blocker" >/dev/null
mtslurm wait "$child" --timeout 30 || fail "the dependent failed after its dependency was asked to be forgotten: $(mtslurm jobs "$child")"

# Once the dependent is final, the dependency can go; the newest job stays.
assert_eq "forgot 1 jobs" "$(mtslurm forget "$dep" 2>/dev/null)" "dependency forgotten once its dependent is final"
newest=$(db "select max(id) from jobs")
mtslurm forget --state completed --json >/dev/null
assert_eq 1 "$(db "select count(*) from jobs where id=$newest")" "the newest job is kept"
next=$(mtslurm submit --echo next)
[ "$next" -gt "$newest" ] || fail "id $next reused after forget (newest was $newest)"
log "ok"
