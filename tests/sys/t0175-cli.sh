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
expect_fail 2 "workers does not take --state" mtslurm workers --state queued
expect_fail 2 "logs takes one job id; unexpected '2'" mtslurm logs 1 2
expect_fail 2 "stop takes no arguments, not 'now'" mtslurm stop now
expect_fail 2 "submit takes one command, message or JSON argument; unexpected 'b'" \
	mtslurm submit --func /x.so:f a b
expect_fail 2 "start does not take --stdin" mtslurm -n 1 --local start --stdin
expect_fail 2 "'abc' is not a job id" mtslurm jobs abc

# ---- help texts and docs/user-guide.md section 9 list the same options ----
guide=$top/docs/user-guide.md
# opts_of TEXT: the options (-x, --long-name) in TEXT, one per line, sorted.
opts_of() { grep -o -- '\(^\|[][ ,(|`]\)--\{0,1\}-[a-zA-Z][a-zA-Z-]*' <<<"$1" | sed 's/^[][ ,(|`]//' | sort -u; }
# doc_opts CMD: the options in the first column of CMD's table in section 9.
doc_opts() {
	local sect
	sect=$(sed -n '/^## 9\. Command reference/,$p' "$guide" |
		sed -n "/^### \`mtslurm $1\`/,/^### /p" | grep '^| `' | cut -d'|' -f2)
	opts_of "$sect"
}
grep -q "not available yet" "$guide" && fail "the user guide still says Slurm mode is not available"
mtslurm start --help | grep -q "not available yet" && fail "start --help still says Slurm mode is not available"
for cmd in start stop status submit explain wait jobs logs cancel workers forget add-workers type types worker-type worker-types dlq nodes launch-worker git pipeline; do
	help=$(mtslurm "$cmd" --help) || fail "$cmd --help failed"
	documented=$(doc_opts "$cmd")
	[ -n "$documented" ] || fail "docs/user-guide.md section 9 has no options for $cmd"
	for o in $documented; do
		opts_of "$help" | grep -cx -- "$o" >/dev/null || fail "$o is documented for $cmd in docs/user-guide.md but not in '$cmd --help'"
	done
	for o in $(opts_of "$help"); do
		grep -qx -- "$o" <<<"$documented" || fail "'$cmd --help' shows $o, which docs/user-guide.md section 9 does not list for $cmd"
	done
done

# ---- slots are capped at the node's cores unless --oversubscribe ----
cores=$(nproc)
expect_fail 2 "--slots $((cores + 1)) is more than the $cores cores" \
	mtslurm -n 1 --local start --slots $((cores + 1))
expect_fail 2 "--oversubscribe" mtslurm -n 1 --local start --slots 64
[ -f "$MTSLURM_RUN_DIR/master.json" ] && fail "a refused start left a master.json"

# ---- with a cluster: one worker of cores+1 slots ----
slots=$((cores + 1))
out=$(mtslurm -n 1 --local start --slots $slots --oversubscribe --json)
assert_eq 1 "$(jget "$out" '$.workers')" "start --json workers"
assert_eq "$(master_pid)" "$(jget "$out" '$.master.pid')" "start --json master pid"
assert_eq "$MTSLURM_RUN_DIR" "$(jget "$out" '$.run_dir')" "start --json run dir"
assert_eq "$slots" "$(jget "$(mtslurm workers --json)" '$[0].slots')" "--oversubscribe gave the slots"

# --ranks larger than any connected worker's slots is refused with the reason.
expect_fail 1 "\"ranks\" $((slots + 1)) is more than the $slots slots of the largest connected worker" \
	mtslurm submit --ranks $((slots + 1)) --exec true
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
mtslurm jobs "$b" | tail -n 1 | grep -c "second" >/dev/null || fail "jobs $b does not show job $b"
# An id that does not exist is named (exit 1); the others are still listed.
rc=0; out=$(mtslurm jobs "$a" 99999 2>"$T/err") || rc=$?
assert_eq 1 "$rc" "jobs with an unknown id exits 1"
assert_contains "$(cat "$T/err")" "no such job: 99999" "unknown id named"
assert_contains "$out" "first" "known id still listed"

# ---- --json: one JSON document on stdout for every command that prints ----
out=$(mtslurm submit --echo j --json)
jid=$(jget "$out" '$.ids[0]')
[ -n "$jid" ] && [ "$jid" -gt "$c" ] || fail "submit --json gave no id: $out"
out=$(printf 'x\ny\nz\n' | mtslurm submit --echo --stdin --json)
assert_eq 3 "$(jlen "$out" '$.ids')" "submit --stdin --json lists three ids"
last=$(jget "$out" '$.ids[2]')
out=$(mtslurm wait "$jid" "$last" --json --timeout 30)
assert_eq 2 "$(jget "$out" '$.completed')" "wait --json counts"
assert_eq "$jid" "$(jget "$out" '$.ids.completed[0]')" "wait --json ids per state"
assert_eq 0 "$(jget "$out" '$.timed_out')" "wait --json not timed out"
for cmd in status workers "jobs $a" "logs $a"; do
	out=$(mtslurm $cmd --json)
	[ -n "$(jget "$out" '$')" ] || fail "$cmd --json is not JSON: $out"
done
q=$(mtslurm submit --echo later --delay 30)
out=$(mtslurm cancel "$q" "$a" 99998 --json) && fail "cancel of an unknown id exited 0"
assert_eq 1 "$(jget "$out" '$.cancelled')" "cancel --json count"
assert_eq "$q" "$(jget "$out" '$.ids[0]')" "cancel --json names the cancelled id"
assert_eq 99998 "$(jget "$out" '$.unknown[0]')" "cancel --json names the unknown id"
assert_eq completed "$(jget "$out" "\$.final.\"$a\"")" "cancel --json names the final id"
out=$(mtslurm cancel --all --json)
assert_eq 0 "$(jget "$out" '$.cancelled')" "cancel --all --json"

# ---- wait without ids: the jobs not final at the call, and only them ----
bad=$(mtslurm submit --exec 'exit 3')
rc=0; mtslurm wait "$bad" --timeout 30 2>/dev/null || rc=$?
assert_eq 1 "$rc" "waiting for a failed job exits 1"
rc=0; mtslurm wait --timeout 30 2>"$T/err" || rc=$?
assert_eq 0 "$rc" "wait with nothing running ignores old failures: $(cat "$T/err")"
rc=0; mtslurm wait --all --timeout 30 2>"$T/err" || rc=$?
assert_eq 0 "$rc" "wait --all ignores old failures: $(cat "$T/err")"
j1=$(mtslurm submit --echo one --delay 1)
t0=$(date +%s%N)
mtslurm wait --json --timeout 30 > "$T/wait.json" &
wpid=$!
sleep 0.3
j2=$(mtslurm submit --echo two --delay 8)
wait "$wpid" || fail "wait for the running job failed"
dt_ms=$((($(date +%s%N) - t0) / 1000000))
[ "$dt_ms" -ge 700 ] || fail "wait returned after $dt_ms ms, before job $j1 ended"
[ "$dt_ms" -lt 6000 ] || fail "wait waited $dt_ms ms: for job $j2, submitted after the call"
out=$(cat "$T/wait.json")
assert_eq 1 "$(jget "$out" '$.jobs')" "wait waited for one job"
assert_eq "$j1" "$(jget "$out" '$.ids.completed[0]')" "wait waited for the job running at the call"
mtslurm cancel "$j2" >/dev/null
rc=0; mtslurm wait "$j2" 2>/dev/null || rc=$?
assert_eq 1 "$rc" "a cancelled job makes wait ID exit 1"

# ---- logs for every job type ----
assert_eq first "$(mtslurm logs "$a")" "logs of an echo job prints its output"
out=$(mtslurm logs "$a" --json)
assert_eq master "$(jget "$out" '$.source')" "echo logs come from the master's record"
assert_eq first "$(jget "$out" '$.records[0].data')" "logs --json records"
x=$(mtslurm submit --exec 'echo to-out; echo to-err >&2')
f=$(mtslurm submit --func "$TOOLS/libsweep.so:simulate" '{"t":0.01}')
e=$(mtslurm submit --echo '')
mtslurm wait "$x" "$f" "$e" --timeout 30
assert_eq to-out "$(mtslurm logs "$x" 2>/dev/null)" "exec logs: stdout"
assert_eq to-err "$(mtslurm logs "$x" 2>&1 >/dev/null)" "exec logs: stderr"
assert_eq log "$(jget "$(mtslurm logs "$x" --json)" '$.source')" "exec logs come from the job log"
out=$(mtslurm logs "$f" 2>&1)
[ -n "$out" ] || fail "logs of a func job printed nothing"
assert_eq "$(jget "$(mtslurm jobs "$f" --json)" '$[0].output')" "$out" "func logs show its output"
out=$(mtslurm logs "$e" 2>&1)
assert_eq "mtslurm: no log records for job $e" "$out" "logs of a job without output says so"
rc=0; mtslurm logs "$bad" >/dev/null 2>"$T/err" || rc=$?
assert_contains "$(cat "$T/err")" "exit status 3" "logs of a failed exec job without output shows its error"
log "ok"
