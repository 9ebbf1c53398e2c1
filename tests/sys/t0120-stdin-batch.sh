#!/usr/bin/env bash
# Many jobs from standard input: one id per line, in order, each durable;
# the number of files under the run dir does not grow with the jobs.
. "$(dirname "$0")/lib.sh"

mtslurm -n 2 --local start
files_before=$(find "$MTSLURM_RUN_DIR" -type f | wc -l)
seq 1 20000 | mtslurm submit --echo --stdin > "$T/ids"
assert_eq 20000 "$(wc -l < "$T/ids")" "ids printed"
first=$(head -n1 "$T/ids"); last=$(tail -n1 "$T/ids")
assert_eq 19999 "$((last - first))" "ids are consecutive in input order"
# Every acknowledged id is in state.db already, before any wait.
assert_eq 20000 "$(db "select count(*) from jobs where id between $first and $last")" "durable rows"

for i in $(seq 1 50); do echo "echo line-$i"; done | mtslurm submit --exec --stdin > "$T/xids"
assert_eq 50 "$(wc -l < "$T/xids")" "exec ids printed"

mtslurm wait --all --timeout 120
st=$(mtslurm status --json)
assert_eq 20050 "$(jget "$st" '$.jobs.completed')" "completed count"
assert_eq "line-7" "$(db "select trim(output) from jobs where id=$(sed -n 7p "$T/xids")")" "7th exec output"
assert_eq "12345" "$(db "select output from jobs where id=$((first + 12344))")" "echo output of line 12345"
files_after=$(find "$MTSLURM_RUN_DIR" -type f | wc -l)
[ $((files_after - files_before)) -le 4 ] || fail "files grew from $files_before to $files_after with the jobs"
mtslurm stop
log ok
