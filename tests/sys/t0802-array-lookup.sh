#!/usr/bin/env bash
# Members of job arrays that have no row yet (the array is one row; its
# members get theirs a chunk at a time while fewer than 100,000 jobs are
# queued): `jobs ID`, `explain ID`, GET /api/v1/jobs/ID and every `jobs`
# listing (plain, by state, newest first, paged with after/limit) show them
# as queued -- with their array, task id and expanded command -- merged in
# id order with the stored rows, and `status` counts them; none of this
# makes their rows. `wait --array` asking again every 200 ms leaves one
# waiter on the master, not one per request. `forget` keeps the environment
# snapshot that an unfinished array's members without rows still need.
. "$(dirname "$0")/lib.sh"

sql_ge() { [ "$(db "$1")" -ge "$2" ]; }
waiters_are() { [ "$(jget "$(mtslurm status --json)" '$.master.waiters')" = "$1" ]; }
# ids JSON: the listing's ids, comma separated
ids() { printf '%s' "$1" | jsql "select group_concat(json_extract(value,'\$.id')) from json_each(json_extract(readfile('/dev/stdin'),'\$.jobs'))"; }
# col JSON FIELD: one field of each record of a listing, comma separated
col() { printf '%s' "$1" | jsql "select group_concat(json_extract(value,'\$.$2')) from json_each(json_extract(readfile('/dev/stdin'),'\$.jobs'))"; }

# no workers: nothing runs, the queue fills to the materialization bound
mtslurm -n 0 --local start >/dev/null
base=$(json_get "$MTSLURM_RUN_DIR/master.json" http)/$(cat "$MTSLURM_RUN_DIR/token")
hget() { curl -sS --max-time 30 "$base/$1"; }
mkdir -p "$T/work" && cd "$T/work"

a=$(T0802_A=1 mtslurm submit --array 1-1000000 --exec 'echo seed {}')
wait_for 60 sql_ge "select made from arrays where id=$a" 100000
sleep 0.5
made_a=$(db "select made from arrays where id=$a")
[ "$made_a" -lt 200000 ] || fail "array $a: $made_a members made with nothing running"
b=$(mtslurm submit --array 1-5000 --echo 'b{}')
for i in $(seq 1 3000); do echo "line$i"; done > lines.txt
c=$(mtslurm submit --each-line lines.txt --echo '{}')
assert_eq 2048 "$(db "select made from arrays where id=$b")" "array $b: only its first chunk is made"
m=$((a + 999998))
assert_eq 0 "$(db "select count(*) from jobs where id=$m")" "member $m has no row"

# -- one member by id: jobs ID, explain, HTTP --
js=$(mtslurm jobs --json "$m")
assert_eq "$m|queued|$a|999999|echo seed 999999|exec" \
	"$(jget "$js" '$[0].id')|$(jget "$js" '$[0].state')|$(jget "$js" '$[0].array')|$(jget "$js" '$[0].task')|$(jget "$js" '$[0].input')|$(jget "$js" '$[0].type')" \
	"jobs $m (a member without a row)"
row=$(mtslurm jobs "$m" | tail -n 1)
assert_contains "$row" "queued" "jobs $m as a table"
ex=$(mtslurm explain "$m")
assert_contains "$ex" "task 999999 of job array $a" "explain $m"
hj=$(hget "api/v1/jobs/$m")
assert_eq "queued|$a|999999|echo seed 999999" \
	"$(jget "$hj" '$.state')|$(jget "$hj" '$.array')|$(jget "$hj" '$.task')|$(jget "$hj" '$.input')" "GET /api/v1/jobs/$m"
code=$(curl -sS -o /dev/null -w '%{http_code}' "$base/api/v1/jobs/$((c + 3000))")
assert_eq 404 "$code" "GET of the id after the last member"
# a materialized member shows its array and task too
hj=$(hget "api/v1/jobs/$((b + 1))")
assert_eq "$b|2" "$(jget "$hj" '$.array')|$(jget "$hj" '$.task')" "a member with a row"

# -- listings: members without rows merged with rows in id order, paged --
l=$(hget "api/v1/jobs?after=$((a + 999997))&limit=4")
assert_eq "$((a + 999998)),$((a + 999999)),$b,$((b + 1))" "$(ids "$l")" "a page across the end of array $a"
assert_eq "queued,queued,queued,queued" "$(col "$l" state)" "their states"
assert_eq "echo seed 999999,echo seed 1000000,b1,b2" "$(col "$l" input)" "their inputs"
assert_eq "$((b + 1))" "$(jget "$l" '$.next')" "the page's next"
l=$(hget "api/v1/jobs?after=$((a + made_a - 2))&limit=3")
assert_eq "$((a + made_a - 1)),$((a + made_a)),$((a + made_a + 1))" "$(ids "$l")" "a page from the last row into the tail"
assert_eq "$made_a,$((made_a + 1)),$((made_a + 2))" "$(col "$l" task)" "their task ids"
l=$(hget "api/v1/jobs?after=$((b + 4997))&limit=4&state=queued")
assert_eq "$((b + 4998)),$((b + 4999)),$c,$((c + 1))" "$(ids "$l")" "state=queued across arrays"
l=$(hget "api/v1/jobs?order=desc&limit=3")
assert_eq "$((c + 2999)),$((c + 2998)),$((c + 2997))" "$(ids "$l")" "newest first"
assert_eq "line3000,line2999,line2998" "$(col "$l" input)" "newest first: each entry its own line"
l=$(hget "api/v1/jobs?order=desc&after=$((c + 2500))&limit=2")
assert_eq "line2500,line2499" "$(col "$l" input)" "newest first from the middle"
l=$(hget "api/v1/jobs?after=$((c + 2400))&limit=2")
assert_eq "line2402,line2403" "$(col "$l" input)" "oldest first from the middle again"
assert_eq 0 "$(mtslurm jobs --state completed --json | jsql "select json_array_length(readfile('/dev/stdin'))")" "no completed job"

# -- counts: status, and the whole listing (paged, 10,000 a request) --
total=$((1000000 + 5000 + 3000))
st=$(mtslurm status --json)
assert_eq "$total" "$(jget "$st" '$.jobs.queued')" "status: queued counts members without rows"
t0=$(date +%s)
n=$(mtslurm jobs --state queued | tail -n +2 | wc -l)
assert_eq "$total" "$n" "jobs --state queued lists every member"
log "listed $n queued jobs in $(($(date +%s) - t0)) s"
assert_eq "$made_a" "$(db "select made from arrays where id=$a")" "listing made no rows"

# -- cancel: members without rows show cancelled --
mtslurm cancel --array "$b" >/dev/null
js=$(mtslurm jobs --json $((b + 4999)))
assert_eq "cancelled" "$(jget "$js" '$[0].state')" "a cancelled member"

# -- wait --array asking again every 200 ms: one waiter on the master --
MTSLURM_CLI_TIMEOUT_MS=200 mtslurm wait --array "$a" --timeout 30 >/dev/null 2>&1 &
wp=$!
started_pids+=("$wp")
sleep 2.5
alive "$wp" || fail "wait --array ended early"
assert_eq 1 "$(jget "$(mtslurm status --json)" '$.master.waiters')" "waiters during wait --array (asking again 12 times)"
kill "$wp"
wait "$wp" 2>/dev/null || true
wait_for 10 waiters_are 0

mtslurm cancel --array "$a" >/dev/null
mtslurm cancel --array "$c" >/dev/null
mtslurm stop >/dev/null

# -- forget keeps the snapshot of an array's members without rows --
mtslurm -n 2 --local start >/dev/null
# the holder's environment differs (its own snapshot): no row of a job
# keeps array $e's snapshot in use once its finished members are forgotten
h=$(T0802_HOLDER=1 mtslurm submit --exec 'sleep 600')
blk=$(mtslurm submit --array 1-150000 --after "$h" --echo x)
wait_for 60 sql_ge "select made from arrays where id=$blk" 100000
e=$(mtslurm submit --array 1-3000 --exec 'echo e{}')
key=$(db "select json_extract(tmpl,'\$.envk') from arrays where id=$e")
[ -n "$key" ] || fail "array $e's template names no environment snapshot"
[ "$(db "select key from envs where id=(select envid from jobs where id=$h)")" != "$key" ] ||
	fail "the holder $h shares array $e's snapshot: the forget below would prove nothing"
wait_for 60 sql_ge "select count(*) from jobs where id between $e and $((e + 2047)) and state=2" 2048
assert_eq 2048 "$(db "select made from arrays where id=$e")" "array $e waits with members without rows"
l=$(mtslurm submit --echo last)
mtslurm wait "$l" --timeout 30
db "update envs set t=t-2*86400"
mtslurm forget --state completed >/dev/null
assert_eq 0 "$(db "select count(*) from jobs where id between $e and $((e + 2047))")" "array $e's finished members forgotten"
assert_eq 0 "$(db "select count(*) from jobs where envid=(select id from envs where key='$key')")" \
	"rows naming array $e's snapshot after forget (none: only the array keeps it)"
assert_eq 1 "$(db "select count(*) from envs where key='$key'")" "the snapshot array $e still needs after forget"
mtslurm cancel "$h" >/dev/null
mtslurm cancel --array "$blk" >/dev/null
mtslurm wait --array "$e" --timeout 120
assert_eq 952 "$(db "select count(*) from jobs where id between $e and $((e + 2999)) and state=2")" "the rest of array $e ran"
out=$(mtslurm jobs --json $((e + 2999)))
assert_eq "e3000" "$(jget "$out" '$[0].output' | tr -d '\n')" "the last member's output"

mtslurm stop
log ok
