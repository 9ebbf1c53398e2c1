#!/usr/bin/env bash
# Pipelines (clusterer's): clusterer's example (generate -> square x4 ->
# subtract 1 x2 -> print) gives the right values; no stage ever runs more
# jobs at once than its instances (start and end times recorded in the
# outputs); fan_out splits a JSON array and only with fan_out; a reducing
# stage gets every item once; backpressure holds a fast stage back while
# the slow stage after it has max_queued items waiting; kill -9 of the
# master mid-run loses no item and admits none twice; bad files (a cycle,
# an unknown stage, bad JSON, instances 0) are refused with a clear error
# and store nothing, through the library and through the master itself.
. "$(dirname "$0")/lib.sh"
[ -n "${T0820_TRACE:-}" ] && set -x

ex=$top/docs/examples/pipeline-clusterer.json
mtslurm -n 4 --local start >/dev/null
cd "$T"
# run_wait FILE SECONDS: run a pipeline to its end (fail unless it
# completed) and print its id.
run_wait() {
	local o
	o=$(mtslurm pipeline run "$1" --wait --timeout "$2") || fail "pipeline $1 did not complete: $o"
	echo "${o%%$'\n'*}"
}

# ---- clusterer's example: every generated number n reaches print as n*n-1
out=$(mtslurm pipeline run "$ex" --wait --timeout 120) || fail "the example did not complete: $out"
id=$(echo "$out" | head -n1)
assert_contains "$out" "pipeline $id clusterer-example: completed" "example status"
mtslurm pipeline results "$id" --stage generate > gen.json
[ "$(jlen "$(cat gen.json)" '$')" = 20 ] || fail "generate made $(jlen "$(cat gen.json)" '$') numbers, not 20"
jsql "select json_extract(value,'$.number')*json_extract(value,'$.number')-1 from json_each(readfile('/dev/stdin'))" \
	< gen.json | sed 's/^/Print /' | sort > want
mtslurm pipeline results "$id" | sort > got
assert_eq "$(cat want)" "$(cat got)" "print's values are generate's n*n-1, each once"
st=$(mtslurm pipeline status "$id" --json)
assert_eq 20 "$(jget "$st" '$.stages[1].done')" "square ran 20 jobs"
assert_eq 4 "$(jget "$st" '$.stages[1].instances')" "square has 4 instances"
assert_eq 20 "$(jget "$st" '$.stages[3].done')" "print ran 20 jobs"

# ---- instance limits: jobs record when they ran; never more than N at once
cat > lim.json <<'EOF'
{"name":"limits","input":[1,2,3,4,5,6,7,8,9,10,11,12],"stages":[
 {"name":"two","instances":2,"exec":"s=$(date +%s.%N); sleep 0.2; echo $s $(date +%s.%N)"},
 {"name":"one","instances":1,"exec":"s=$(date +%s.%N); sleep 0.1; echo $s $(date +%s.%N)"}]}
EOF
id=$(run_wait lim.json 120)
# most jobs running at once, from "start end" lines
overlap() {
	awk '{print $1, 1; print $2, -1}' | sort -k1,1n -k2,2n |
		awk '{n += $2; if (n > m) m = n} END {print m + 0}'
}
assert_eq 2 "$(mtslurm pipeline results "$id" --stage two | overlap)" "stage two: at most (and at times) 2 at once"
assert_eq 1 "$(mtslurm pipeline results "$id" --stage one | overlap)" "stage one: 1 at once"
assert_eq 12 "$(mtslurm pipeline results "$id" --stage one | wc -l)" "12 items through both stages"

# ---- fan_out, and a reducing stage that gets every item once
cat > fan.json <<'EOF'
{"name":"fan","stages":[
 {"name":"gen","fan_out":true,"exec":"echo '[1,2,3,4,5,6,7,8,9,10]'"},
 {"name":"square","instances":3,"exec":"x={}; echo $((x * x))"},
 {"name":"sum","reduce":true,"exec":"python3 -c 'import json, os; v = json.loads(os.environ[\"MTSLURM_ITEM\"]); print(len(v), sum(v))'"}]}
EOF
id=$(run_wait fan.json 120)
assert_eq "10 385" "$(mtslurm pipeline results "$id")" "reduce: 10 items, 1+4+...+100"
st=$(mtslurm pipeline status "$id" --json)
assert_eq 10 "$(jget "$st" '$.stages[1].done')" "fan_out: 10 square jobs"
assert_eq 1 "$(jget "$st" '$.stages[2].done')" "reduce: one job"
cat > nofan.json <<'EOF'
{"stages":[{"name":"gen","exec":"echo '[1,2,3]'"},{"name":"count","exec":"echo \"$MTSLURM_ITEM\""}]}
EOF
id=$(run_wait nofan.json 60)
assert_eq "[1,2,3]" "$(mtslurm pipeline results "$id")" "without fan_out an array is one item"

# ---- backpressure: a fast stage waits while the slow one has 2 queued
cat > bp.json <<'EOF'
{"name":"bp","input":[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20],"stages":[
 {"name":"fast","instances":2,"exec":"date +%s.%N"},
 {"name":"slow","instances":1,"max_queued":2,"exec":"s=$(date +%s.%N); sleep 0.15; echo $s"}]}
EOF
id=$(run_wait bp.json 120)
mtslurm pipeline results "$id" --stage fast | awk '{print $1, "f"}' > starts
mtslurm pipeline results "$id" --stage slow | awk '{print $1, "s"}' >> starts
assert_eq 40 "$(wc -l < starts)" "20 items through both stages"
# at each start of a fast job: fast jobs started <= slow jobs started +
# bound 2 + fast's 2 running + 2 (a start recorded just after its dispatch)
worst=$(sort -n starts | awk '$2 == "f" {f++; if (f - s > w) w = f - s} $2 == "s" {s++} END {print w + 0}')
[ "$worst" -le 6 ] || fail "backpressure: fast ran $worst items ahead of slow (bound 2, 2 instances)"
log "backpressure: fast at most $worst ahead of slow"

# ---- bad input: a clear error, nothing stored (the library's check)
before=$(db "select count(*) from pipelines")
bad() { # FILE-TEXT NEEDLE
	printf '%s' "$1" > bad.json
	local o rc=0
	o=$(mtslurm pipeline run bad.json 2>&1) || rc=$?
	assert_eq 2 "$rc" "exit code for a bad pipeline ($2)"
	assert_contains "$o" "$2" "error for a bad pipeline"
	assert_eq 1 "$(echo "$o" | wc -l)" "one line: $o"
}
bad '{"stages":[{"name":"a","exec":"x","then":"b"},{"name":"b","exec":"x","then":"a"}]}' "stages a -> b -> a form a cycle"
bad '{"stages":[{"name":"a","exec":"x","then":"nope"}]}' "\"then\" names unknown stage \"nope\""
bad '{"stages":[{"name":"a","exec":"x"}' "not valid JSON"
bad '{"stages":[{"name":"a","exec":"x","instances":0}]}' "\"instances\" must be an integer from 1"
# ... and the master's own check (a request that skips the library)
url=$(jget "$(cat "$MTSLURM_RUN_DIR/master.json")" '$.http')
tok=$(cat "$MTSLURM_RUN_DIR/token")
r=$(curl -s --max-time 30 -H "Authorization: Bearer $tok" -X POST "$url/api/v1/call" \
	-d '{"t":"pipeline_run","pipeline":{"stages":[{"name":"a","exec":"x","then":"a"}]}}')
assert_contains "$r" "stages a -> a form a cycle" "the master refuses a cycle"
r=$(curl -s --max-time 30 -H "Authorization: Bearer $tok" -X POST "$url/api/v1/call" \
	-d '{"t":"pipeline_run","pipeline":{"stages":[{"name":"a","exec":"x","instances":0}]}}')
assert_contains "$r" "instances" "the master refuses instances 0"
assert_eq "$before" "$(db "select count(*) from pipelines")" "no pipeline stored for bad files"

# ---- kill -9 of the master mid-run: nothing lost, nothing twice
N=60
echo "[$(seq -s, 1 $N)]" > items
printf '{"name":"kill","input":%s,"stages":[
 {"name":"double","instances":3,"exec":"x={}; sleep 0.05; echo $((x * 2))"},
 {"name":"inc","instances":2,"exec":"x={}; sleep 0.05; echo $((x + 1))"},
 {"name":"fmt","instances":2,"exec":"echo item {}"}]}' "$(cat items)" > kill.json
id=$(mtslurm pipeline run kill.json)
# a stage's jobs are the rows of its client @pipe:ID:K (and the runs of ids
# of table piperuns say which pipeline and stage they are of)
half() { [ "$(db "select count(*) from jobs where (select name from clients where id=ckey)='@pipe:$id:2' and state=2")" -ge 5 ]; }
wait_for 60 half
mp=$(master_pid)
kill -9 "$mp"
log "killed master $mp; $(db "select count(*) from jobs where (select name from clients where id=ckey) like '@pipe:$id:%'") jobs of the pipeline stored"
sleep 0.5
mtslurm -n 4 --local start >/dev/null
[ "$(master_pid)" != "$mp" ] || fail "master not restarted"
st=$(mtslurm pipeline status "$id")
assert_contains "$st" "pipeline $id kill" "the pipeline survived the restart"
wait_done() { mtslurm pipeline status "$id" --json | grep -q '"state":"completed"'; }
wait_for 120 wait_done
seq 1 $N | awk '{print "item " ($1 * 2 + 1)}' | sort > want
mtslurm pipeline results "$id" | sort > got
assert_eq "$(cat want)" "$(cat got)" "every item once through all stages after kill -9"
for k in 0 1 2; do
	assert_eq $N "$(db "select count(*) from jobs where (select name from clients where id=ckey)='@pipe:$id:$k'")" "stage $k: $N jobs, none twice"
	assert_eq $N "$(db "select count(*) from piperuns r join jobs j on j.id between r.first and r.first+r.n-1
		where r.pipeline=$id and r.stage=$k and (select name from clients where id=j.ckey)='@pipe:$id:$k'")" "stage $k: its $N jobs in piperuns"
done
assert_eq 0 "$(db "select count(*) from jobs where (select name from clients where id=ckey) like '@pipe:$id:%' and state<>2")" \
	"every job of the pipeline completed"

# ---- cancel: its jobs are cancelled, it ends cancelled
printf '{"name":"long","input":[1,2,3,4,5,6,7,8],"stages":[{"name":"s","exec":"sleep 30"}]}' > long.json
id=$(mtslurm pipeline run long.json)
running() { [ "$(jget "$(mtslurm pipeline status "$id" --json)" '$.stages[0].running')" -ge 1 ]; }
wait_for 30 running
mtslurm pipeline cancel "$id" | grep -q "cancelled (8 unfinished jobs)" || fail "cancel"
assert_eq cancelled "$(jget "$(mtslurm pipeline status "$id" --json)" '$.state')" "cancelled pipeline's state"
assert_eq 0 "$(db "select count(*) from jobs where (select name from clients where id=ckey) like '@pipe:$id:%' and state<2")" \
	"no job of the cancelled pipeline left"
mtslurm stop >/dev/null
log ok
