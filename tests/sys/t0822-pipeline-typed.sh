#!/usr/bin/env bash
# Pipeline stages of a job type ("type":"NAME"): their jobs are typed jobs
# run by workers of the type's worker type (and by no other worker), with
# the item as the payload ({item_field: ITEM}, or the item itself when it
# is a JSON object); the "output" of a typed job's result is the next
# stage's item; the stage's instances limit holds; a pipeline naming an
# unregistered job type, or one forwarded to an endpoint, is refused at
# `pipeline run` with one clear line and stores nothing.
. "$(dirname "$0")/lib.sh"

mtslurm -n 1 --local start >/dev/null
cd "$T"
# square: an exec worker type; say: mindtrace's echo executor
mtslurm worker-type add sqw --executor exec --command 'sleep 0.2; expr {n} \* {n}' >/dev/null
mtslurm worker-type add sayw --executor echo >/dev/null
mtslurm type add square --worker-type sqw >/dev/null
mtslurm type add say --worker-type sayw >/dev/null
# tw ID WTYPE: a worker of worker type WTYPE, 2 slots (its pid recorded)
tw() {
	mtslurm-worker --no-mpi --run-dir "$MTSLURM_RUN_DIR" --worker-type "$2" --slots 2 --http 127.0.0.1:0 \
		--id "$1" >"$MTSLURM_RUN_DIR/logs/$1.out" 2>&1 &
	started_pids+=($!)
	wait_for 20 sh -c "mtslurm workers --json | grep -q '\"$1\"'"
}
tw tw-sq sqw
tw tw-say sayw

# 1..8 -> square (typed, {"n":ITEM}, 1 instance) -> dec (a plain exec job on
# the plain worker: the square's stdout less one, as {"message":...}) -> say
# (typed, the item object is the payload) -> {"echoed":"v N*N-1"}
cat > typed.json <<'EOF'
{"name":"typed","input":[1,2,3,4,5,6,7,8],"stages":[
 {"name":"square","type":"square","item_field":"n","instances":1},
 {"name":"dec","exec":"python3 -c 'import json, os; o = json.loads(os.environ[\"MTSLURM_ITEM\"]); print(json.dumps({\"message\": \"v %d\" % (int(o[\"stdout\"]) - 1)}))'"},
 {"name":"say","type":"say","instances":2}]}
EOF
out=$(mtslurm pipeline run typed.json --wait --timeout 120) || fail "the typed pipeline did not complete: $out"
id=$(echo "$out" | head -n1)
assert_contains "$out" "pipeline $id typed: completed" "typed pipeline's status"
# results are the jobs' outputs: for a typed job its whole result
for n in 1 2 3 4 5 6 7 8; do echo "{\"status\":\"completed\",\"output\":{\"echoed\":\"v $((n * n - 1))\"}}"; done |
	sort > want
mtslurm pipeline results "$id" | sort > got
assert_eq "$(cat want)" "$(cat got)" "say echoed n*n-1 for every n, each once"
# the square stage's items became payloads {"n":N}; its results are the
# typed results' "output": {"stdout":"N*N\n",...}
assert_eq 8 "$(db "select count(*) from jobs where (select name from clients where id=ckey)='@pipe:$id:0' and type='typed' and state=2")" \
	"square: 8 typed jobs completed"
assert_eq '{"n":3}' "$(db "select input from jobs where (select name from clients where id=ckey)='@pipe:$id:0' and json_extract(input,'\$.n')=3")" \
	"square's payload: the item under item_field"
assert_eq tw-sq "$(db "select group_concat(distinct worker) from jobs where (select name from clients where id=ckey)='@pipe:$id:0'")" \
	"square ran on the worker of its worker type only"
assert_eq tw-say "$(db "select group_concat(distinct worker) from jobs where (select name from clients where id=ckey)='@pipe:$id:2'")" \
	"say ran on the worker of its worker type only"
assert_eq 0 "$(db "select count(*) from jobs where (select name from clients where id=ckey)='@pipe:$id:1' and worker in ('tw-sq','tw-say')")" \
	"the plain stage ran on no typed worker"
assert_eq '{"message":"v 24"}' "$(db "select input from jobs where (select name from clients where id=ckey)='@pipe:$id:2' and input like '%v 24%'")" \
	"say's payload: the item object itself"
mtslurm pipeline results "$id" --stage square > sq
assert_eq 8 "$(grep -c '^{"status":"completed","output":{"stdout":"[0-9]*\\n","stderr":"","rc":0}}$' sq)" \
	"square's results: the exec executor's {stdout, stderr, rc}"
assert_contains "$(cat sq)" '"stdout":"64\n"' "square of 8"
st=$(mtslurm pipeline status "$id" --json)
assert_eq square "$(jget "$st" '$.stages[0].type')" "status names a typed stage's job type"
assert_contains "$(mtslurm pipeline status "$id")" "(job type square)" "status text names it too"
# instances 1 on square (2 slots on its worker): never two at once. A job
# is assigned in the turn the one before it ended or later, and both times
# come from the master's one job clock (master/jobclock.h), so a start is
# never before the previous end (an end and a start at the same time: the
# end counts first).
starts=$(db "select started, finished from jobs where (select name from clients where id=ckey)='@pipe:$id:0'")
worst=$(echo "$starts" | awk -F'|' '{print $1, 1; print $2, -1}' | sort -k1,1n -k2,2n |
	awk '{n += $2; if (n > m) m = n} END {print m + 0}')
assert_eq 1 "$worst" "square: at most 1 job at once (instances 1)"

# ---- refused at run: an unregistered job type, an endpoint type
before=$(db "select count(*) from pipelines")
printf '{"stages":[{"name":"a","echo":true},{"name":"b","type":"nosuch"}]}' > bad.json
rc=0; o=$(mtslurm pipeline run bad.json 2>&1) || rc=$?
[ "$rc" -ne 0 ] || fail "a pipeline with an unknown job type was accepted"
assert_contains "$o" 'stage b: unknown job type "nosuch"; register it first' "unknown job type's error"
assert_eq 1 "$(echo "$o" | wc -l)" "one line: $o"
mtslurm type add far --endpoint http://127.0.0.1:9/run >/dev/null
printf '{"stages":[{"name":"a","type":"far"}]}' > far.json
rc=0; o=$(mtslurm pipeline run far.json 2>&1) || rc=$?
[ "$rc" -ne 0 ] || fail "a pipeline with an endpoint job type was accepted"
assert_contains "$o" 'stage a: job type "far" is forwarded to an endpoint' "endpoint type's error"
printf '{"stages":[{"name":"a","exec":"true","item_field":"x"}]}' > itf.json
rc=0; o=$(mtslurm pipeline run itf.json 2>&1) || rc=$?
assert_contains "$o" '"item_field" is for stages of a job type' "item_field on an exec stage"
assert_eq "$before" "$(db "select count(*) from pipelines")" "nothing stored for refused pipelines"
mtslurm stop >/dev/null
log ok
