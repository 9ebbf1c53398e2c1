#!/usr/bin/env bash
# The CLI is exact: unknown or extra arguments are errors naming them, a
# mistyped command gets the nearest one suggested, `jobs ID...` shows exactly
# those jobs, `status bogus` is an error.
. "$(dirname "$0")/lib.sh"

# expect_fail CODE NEEDLE CMD...: CMD exits CODE and says NEEDLE on stderr.
expect_fail() {
	local code=$1 needle=$2 rc=0 out
	shift 2
	out=$("$@" 2>&1 >/dev/null) || rc=$?
	assert_eq "$code" "$rc" "exit status of: $*"
	assert_contains "$out" "$needle" "message of: $*"
}

# ---- arguments (no cluster needed: they are refused before connecting) ----
expect_fail 2 "unknown command 'sumbit'; did you mean 'submit'?" mtslurm sumbit --echo hi
expect_fail 2 "unknown command 'staus'; did you mean 'status'?" mtslurm staus
expect_fail 2 "unknown command 'xyzzy'" mtslurm xyzzy
expect_fail 2 "unknown option --slot; did you mean --slots?" mtslurm -n 1 --local start --slot 2
expect_fail 2 "status takes no arguments, not 'bogus'" mtslurm status bogus
expect_fail 2 "status does not take --exec" mtslurm status --exec true
expect_fail 2 "workers does not take --all" mtslurm workers --all
expect_fail 2 "logs takes one job id; unexpected '2'" mtslurm logs 1 2
expect_fail 2 "stop takes no arguments, not 'now'" mtslurm stop now
expect_fail 2 "submit takes one command, message or JSON argument; unexpected 'b'" \
	mtslurm submit --func /x.so:f a b
expect_fail 2 "start does not take --stdin" mtslurm -n 1 --local start --stdin
expect_fail 2 "'abc' is not a job id" mtslurm jobs abc

# ---- with a cluster ----
mtslurm -n 1 --local start >/dev/null
a=$(mtslurm submit --echo first)
b=$(mtslurm submit --echo second)
c=$(mtslurm submit --echo third)
mtslurm wait "$a" "$b" "$c" --timeout 30

# jobs ID...: exactly those, in the order given, each once.
out=$(mtslurm jobs "$c" "$a" "$c" --json)
assert_eq 2 "$(jlen "$out" '$')" "jobs C A C lists two jobs"
assert_eq "$c" "$(jget "$out" '$[0].id')" "jobs lists the given ids in order"
assert_eq "$a" "$(jget "$out" '$[1].id')" "second listed job"
assert_eq 2 "$(mtslurm jobs "$b" | wc -l)" "jobs ID prints the header and one row"
mtslurm jobs "$b" | tail -n 1 | grep -q "second" || fail "jobs $b does not show job $b"
# An id that does not exist is named (exit 1); the others are still listed.
rc=0; out=$(mtslurm jobs "$a" 99999 2>"$T/err") || rc=$?
assert_eq 1 "$rc" "jobs with an unknown id exits 1"
assert_contains "$(cat "$T/err")" "no such job: 99999" "unknown id named"
assert_contains "$out" "first" "known id still listed"
log "ok"
