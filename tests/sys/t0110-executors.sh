#!/usr/bin/env bash
# One job of each executor, end to end through the CLI: echo (with delay),
# exec (in the submitter's cwd, with chosen env), func (a C function in a
# shared library); outputs in `jobs --json`, job output back through `logs`,
# failures with a reason.
. "$(dirname "$0")/lib.sh"

mtslurm -n 2 --local start
mkdir -p "$T/work" && cd "$T/work"
echo "data-in-cwd" > input.txt

e=$(mtslurm submit --echo hello --delay 0.2)
x=$(mtslurm submit --env GREETING=bonjour --exec 'cat input.txt; echo "$GREETING"; echo to-stderr >&2')
f=$(mtslurm submit --func "$TOOLS/libsweep.so:simulate" '{"t":0.5}')
bad=$(mtslurm submit --exec 'exit 3')
nocmd=$(mtslurm submit --exec 'no-such-command-xyz')
nolib=$(mtslurm submit --func "$T/missing.so:simulate" '{}')
for id in $e $x $f $bad $nocmd $nolib; do [[ "$id" =~ ^[0-9]+$ ]] || fail "submit printed '$id', not an id"; done

set +e; mtslurm wait $e $x $f $bad $nocmd $nolib --timeout 60; rc=$?; set -e
assert_eq 1 "$rc" "wait exit code with failed jobs"

js=$(mtslurm jobs --json)
state() { printf '%s' "$js" | jsql "select json_extract(value,'\$.$2') from json_each(readfile('/dev/stdin')) where json_extract(value,'\$.id')=$1"; }
assert_eq completed "$(state "$e" state)" "echo state"
assert_eq hello "$(state "$e" output)" "echo output"
assert_eq completed "$(state "$x" state)" "exec state"
assert_contains "$(state "$x" output)" "data-in-cwd" "exec ran in the submitter's cwd"
assert_contains "$(state "$x" output)" "bonjour" "exec saw the chosen environment"
assert_eq completed "$(state "$f" state)" "func state"
assert_contains "$(state "$f" output)" '"t":0.5' "func output echoes its input"
assert_eq failed "$(state "$bad" state)" "exit 3 state"
assert_contains "$(state "$bad" error)" "exit status 3" "exit 3 reason"
assert_eq failed "$(state "$nocmd" state)" "missing command state"
assert_contains "$(state "$nocmd" error)" "not found" "missing command reason"
assert_eq failed "$(state "$nolib" state)" "missing library state"
assert_contains "$(state "$nolib" error)" "missing.so" "missing library reason names the file"
for id in $e $x $f; do assert_eq 1 "$(state "$id" attempts)" "attempts of $id"; done

# The state.db agrees with what the master says.
assert_eq 3 "$(db "select count(*) from jobs where state=2")" "completed rows in state.db"
assert_eq 3 "$(db "select count(*) from jobs where state=3")" "failed rows in state.db"

# logs: stdout to stdout, stderr to stderr.
out=$(mtslurm logs "$x" 2>"$T/err")
assert_contains "$out" "data-in-cwd" "logs stdout"
assert_contains "$(cat "$T/err")" "to-stderr" "logs stderr"
lj=$(mtslurm logs "$x" --json)
assert_contains "$(jget "$lj" '$.stdout')" "data-in-cwd" "logs --json stdout"
assert_contains "$(jget "$lj" '$.stderr')" "to-stderr" "logs --json stderr"
assert_eq "$x|1" "$(jget "$lj" '$.id')|$(jget "$lj" '$.attempt')" "logs --json id and attempt"

mtslurm stop
log ok
