#!/usr/bin/env bash
# Job arrays end to end through the CLI: --array (ranges, steps, lists),
# --each-line and --from-json; {} and {field} in the command; the members'
# MTSLURM_TASK_ID / MTSLURM_ENTRY; jobs --array (records, --ids), a
# failed-members resubmit with the printed set; cancel --array of an array
# still being materialized; kill -9 of the master mid-array (members done
# stay done, the rest still run, none twice); bad input refused with one
# line and nothing stored.
. "$(dirname "$0")/lib.sh"

# sql_ge SQL N: the query's number is at least N (evaluated on each call)
sql_ge() { [ "$(db "$1")" -ge "$2" ]; }

mtslurm -n 2 --local start
mkdir -p "$T/work" && cd "$T/work"

# -- ranges: {} and the environment --
a=$(mtslurm submit --array 1-9:2,20 --exec 'echo "seed {} task $MTSLURM_TASK_ID entry $MTSLURM_ENTRY"')
[[ "$a" =~ ^[0-9]+$ ]] || fail "submit --array printed '$a', not an array id"
mtslurm wait --array "$a" --timeout 60
js=$(mtslurm jobs --array "$a" --json)
assert_eq 6 "$(jlen "$js" '$')" "members of 1-9:2,20"
for t in 1 3 5 7 9 20; do
	out=$(printf '%s' "$js" | jsql "select json_extract(value,'\$.output') from json_each(readfile('/dev/stdin')) where json_extract(value,'\$.task')=$t")
	assert_eq "seed $t task $t entry $t" "$out" "member of task $t"
done
assert_eq "1,3,5,7,9,20" "$(mtslurm jobs --array "$a" --ids)" "jobs --array --ids"
assert_eq "" "$(mtslurm jobs --array "$a" --state failed --ids)" "no failed member"

# -- each-line: {} is the line, task id its line number; a failed member resubmitted --
printf 'alpha\n\nbeta\nfail-me\ngamma\n' > lines.txt
b=$(mtslurm submit --each-line lines.txt --exec 'test "{}" != fail-me && echo "{}:$MTSLURM_TASK_ID:$MTSLURM_ENTRY"')
set +e; mtslurm wait --array "$b" --timeout 60 2>/dev/null; rc=$?; set -e
assert_eq 1 "$rc" "wait --array with a failed member"
js=$(mtslurm jobs --array "$b" --json)
assert_eq 4 "$(jlen "$js" '$')" "one member per non-empty line"
outs=$(printf '%s' "$js" | jsql "select group_concat(json_extract(value,'\$.output'),'') from json_each(readfile('/dev/stdin')) where json_extract(value,'\$.state')='completed'")
assert_eq "$(printf 'alpha:1:alpha\nbeta:3:beta\ngamma:5:gamma\n')" "$outs" "each-line outputs (line numbers as task ids)"
failed=$(mtslurm jobs --array "$b" --state failed --ids)
assert_eq 4 "$failed" "the failed member's task id"
sed -i 's/fail-me/fixed/' lines.txt
b2=$(mtslurm submit --array "$failed" --each-line lines.txt --exec 'echo "again {} $MTSLURM_TASK_ID"')
mtslurm wait --array "$b2" --timeout 60
js=$(mtslurm jobs --array "$b2" --json)
assert_eq 1 "$(jlen "$js" '$')" "resubmit runs only the failed member"
assert_eq "again fixed 4" "$(jget "$js" '$[0].output' | tr -d '\n')" "resubmitted member"

# -- from-json: {} the element, {name} a field; echo members too --
printf '[{"name":"ann","n":1},{"name":"bob","n":2},"plain"]' > items.json
c=$(mtslurm submit --from-json items.json --echo 'hi {name} n={n} all={}')
mtslurm wait --array "$c" --timeout 60
js=$(mtslurm jobs --array "$c" --json)
assert_eq 'hi ann n=1 all={"name":"ann","n":1}' "$(jget "$js" '$[0].output')" "from-json object member"
assert_eq 'hi {name} n={n} all=plain' "$(jget "$js" '$[2].output')" "from-json string member"
assert_eq 2 "$(jget "$js" '$[2].task')" "from-json task id is the index"

# -- one submit stores one array row, not a row per member --
before=$(db "select count(*) from jobs")
d=$(mtslurm submit --array 1-200000 --exec 'sleep 0.2; echo x{}')
assert_eq 1 "$(db "select count(*) from arrays where id=$d and n=200000")" "the array's row"
made=$(db "select made from arrays where id=$d")
[ "$made" -lt 200000 ] || fail "all 200000 members were materialized at submit ($made)"
# status counts members without a row as queued; jobs --array lists them
st=$(mtslurm status --json)
q=$(jget "$st" '$.jobs.queued'); p=$(jget "$st" '$.jobs.prefetched'); r=$(jget "$st" '$.jobs.running'); cpl=$(jget "$st" '$.jobs.completed')
[ $((q + p + r + cpl)) -ge 200000 ] || fail "status does not count the array's members: $st"
last=$((d + 199999))
lj=$(mtslurm jobs --array "$d" --json --state queued | jsql "select json_extract(value,'\$.input') from json_each(readfile('/dev/stdin')) where json_extract(value,'\$.id')=$last")
assert_eq "sleep 0.2; echo x200000" "$lj" "the last member is listed (queued) before it has a row"
# cancel --array while members are still being made: every unfinished one
cj=$(mtslurm cancel --array "$d" --json)
n=$(jget "$cj" '$.cancelled')
[ "$n" -gt 0 ] || fail "cancel --array cancelled nothing: $cj"
set +e; mtslurm wait --array "$d" --timeout 60 2>/dev/null; set -e
wait_for 60 sql_ge "select made from arrays where id=$d" 200000
assert_eq 200000 "$(db "select count(*) from jobs where id between $d and $last")" "every member has its row"
cc=$(db "select count(*) from jobs where id between $d and $last and state=4")
done_=$(db "select count(*) from jobs where id between $d and $last and state=2")
assert_eq 200000 "$((cc + done_))" "members completed or cancelled"
assert_eq "$n" "$cc" "cancel --array's count is the cancelled rows"

# -- kill -9 of the master mid-array: done stay done, the rest run, none twice --
e=$(mtslurm submit --array 1-6000 --exec 'echo {} >> '"$T/ran"'; echo {}')
wait_for 60 sql_ge "select count(*) from jobs where id between $e and $((e + 5999)) and state=2" 100
big=$(mtslurm submit --array 1-300000 --echo '{}')
mp=$(master_pid)
kill -9 "$mp"
gone_within 10 "$mp" || fail "the killed master $mp did not go"
made=$(db "select made from arrays where id=$big")
log "killed master $mp; array $big had $made of 300000 members made, array $e $(db "select made from arrays where id=$e") of 6000"
[ "$made" -lt 300000 ] || fail "array $big was fully made before the kill: the restart's resume is not tested"
out=$(mtslurm -n 2 --local start 2>&1)
assert_contains "$out" "restart" "start restarts the killed master"
mtslurm wait --array "$e" --timeout 120
assert_eq 6000 "$(db "select count(*) from jobs where id between $e and $((e + 5999)) and state=2")" "every member completed after the restart"
assert_eq 6000 "$(sort -n "$T/ran" | uniq | wc -l)" "every member ran"
mtslurm wait --array "$big" --timeout 120
assert_eq 300000 "$(db "select count(*) from jobs where id between $big and $((big + 299999)) and state=2")" "every member of the array killed mid-way completed"
assert_eq 300000 "$(db "select made from arrays where id=$big")" "the restarted master made the rest"
dups=$(sort -n "$T/ran" | uniq -d | wc -l)
log "members run twice (their worker held them when the master died): $dups"

# -- bad input: one line, exit 2, nothing stored --
rows=$(db "select count(*) from arrays")
bad() { # expected-text args...
	local want=$1; shift
	set +e; err=$(mtslurm submit "$@" 2>&1); rc=$?; set -e
	[ "$rc" -ne 0 ] || fail "submit $* succeeded"
	assert_contains "$err" "$want" "error of submit $*"
	assert_eq 1 "$(printf '%s\n' "$err" | wc -l)" "one-line error of submit $*"
}
bad "5-1: the range is empty" --array 5-1 --echo x
bad "'x' is not N, N-M or N-M:STEP" --array x --echo x
bad "1-0:0" --array 1-0:0 --echo x
bad "an empty set" --array "" --echo x
bad "No such file" --each-line "$T/nope.txt" --exec 'echo {}'
: > empty.txt
bad "no non-empty line" --each-line empty.txt --exec 'echo {}'
echo '{"a":1}' > obj.json
bad "not a JSON array" --from-json obj.json --echo x
echo '[]' > none.json
bad "an empty array" --from-json none.json --echo x
bad "past the end" --array 9 --each-line lines.txt --echo x
bad "exec needs" --array 1-3 --exec ''
assert_eq "$rows" "$(db "select count(*) from arrays")" "no array stored by bad input"

mtslurm stop
log ok
