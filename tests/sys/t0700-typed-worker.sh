#!/usr/bin/env bash
# Workers of a worker type against the real master: worker types and job
# types registered over the master's HTTP API (mindtrace's ClusterManager
# endpoints), `mtslurm-worker --worker-type NAME --http 127.0.0.1:0`
# serving mindtrace Jobs from /submit_job (echo, delay, exec template, a
# definition replaced while the worker runs -> run-script), the worker's
# own endpoints (/get_status while a job runs, /run off the master, the
# base endpoints), /shutdown leaving the master's view ("nonexistent"), and
# plain and typed jobs never crossing between plain and typed workers.
. "$(dirname "$0")/lib.sh"

mtslurm -n 1 --local start >/dev/null # one plain worker
R=$MTSLURM_RUN_DIR
TOK=$(cat "$R/token")
H=$(json_get "$R/master.json" http)
[ -n "$H" ] || fail "master.json has no http URL: $(cat "$R/master.json")"
plain=$(jget "$(mtslurm workers --json)" '$[0].id')
[ -n "$plain" ] || fail "no plain worker"

# post URL PATH JSON: POST with the token; prints the body, fails on non-200
post() {
	local code body
	body=$(curl -sS -m 20 -o - -w '\n%{http_code}' -H "Authorization: Bearer $TOK" \
		-H 'Content-Type: application/json' -X POST "$1/$2" -d "${3:-{\}}") || fail "POST $1/$2: curl failed"
	code=${body##*$'\n'}
	body=${body%$'\n'*}
	[ "$code" = 200 ] || fail "POST $2 $3: HTTP $code: $body"
	printf '%s' "$body"
}
job() { # UUID SCHEMA PAYLOAD: a mindtrace Job
	printf '{"id":"%s","name":"%s","schema_name":"%s","payload":%s,"status":"queued","created_at":"2026-05-29T12:00:00.123456","started_at":null,"completed_at":null,"error":null,"entrypoint":null,"priority":null}' \
		"$1" "$2" "$2" "$3"
}
uuid() { cat /proc/sys/kernel/random/uuid; }
status_of() { post "$H" get_job_status "{\"job_id\":\"$1\"}"; }
# final UUID: wait (<= 30 s) until the job is final; print its JobStatus
final() {
	local s st
	for _ in $(seq 1 300); do
		s=$(status_of "$1")
		st=$(jget "$s" '$.status')
		case $st in completed | failed | error) printf '%s' "$s"; return 0 ;; esac
		sleep 0.1
	done
	fail "job $1 not final after 30 s: $s"
}
# start_worker TYPE ID: a typed worker of ours (its pid in $wpid)
start_worker() {
	mtslurm-worker --no-mpi --run-dir "$R" --worker-type "$1" --http 127.0.0.1:0 --id "$2" \
		>"$T/$2.out" 2>&1 &
	wpid=$!
	started_pids+=($wpid)
}
# url_of ID: the worker's URL once the master has it connected (<= 20 s)
url_of() {
	local s
	for _ in $(seq 1 200); do
		s=$(post "$H" query_worker_status "{\"worker_id\":\"$1\"}")
		[ "$(jget "$s" '$.status')" = idle ] && { jget "$s" '$.worker_url'; return 0; }
		sleep 0.1
	done
	fail "worker $1 did not connect: $s $(cat "$T/$1.out")"
}

log "worker type echoworker (EchoWorker) serving job type echo"
assert_eq null "$(post "$H" register_worker_type \
	'{"worker_name":"echoworker","worker_class":"EchoWorker","worker_params":{},"job_type":"echo"}')" "register_worker_type"
start_worker echoworker tw-echo
echo_pid=$wpid
W=$(url_of tw-echo)
case $W in http://127.0.0.1:[0-9]*) ;; *) fail "worker URL: '$W'" ;; esac

log "an echo Job completes on the typed worker"
u=$(uuid)
post "$H" submit_job "$(job "$u" echo '{"message":"hi","delay":0}')" >/dev/null
s=$(final "$u")
assert_eq completed "$(jget "$s" '$.status')" "echo status: $s"
assert_eq '{"echoed":"hi"}' "$(jget "$s" '$.output')" "echo output"
assert_eq tw-echo "$(jget "$s" '$.worker_id')" "echo worker"
# mindtrace's EchoWorker prints the message: it is in the job's log
id=$(mtslurm jobs --json --limit 1000 | jsql "select json_extract(value,'\$.id') from json_each(readfile('/dev/stdin')) where json_extract(value,'\$.worker')='tw-echo' limit 1;")
assert_eq hi "$(mtslurm logs "$id")" "echo's printed message"

log "a Job without message fails with {} (mindtrace's KeyError)"
u=$(uuid)
post "$H" submit_job "$(job "$u" echo '{"delay":0}')" >/dev/null
s=$(final "$u")
assert_eq failed "$(jget "$s" '$.status')" "no message: $s"
assert_eq '{}' "$(jget "$s" '$.output')" "no message output"

log "a delay:3 Job is running at 1 s, and the worker says so"
u=$(uuid)
post "$H" submit_job "$(job "$u" echo '{"message":"slow","delay":3}')" >/dev/null
sleep 1
s=$(status_of "$u")
assert_eq running "$(jget "$s" '$.status')" "delayed job at 1 s: $s"
ws=$(post "$W" get_status)
assert_eq running "$(jget "$ws" '$.status')" "worker /get_status: $ws"
assert_eq tw-echo "$(jget "$ws" '$.worker_id')" "worker /get_status id"
running=$(jget "$(mtslurm jobs --state running --json)" '$[0].id')
assert_eq "$running" "$(jget "$ws" '$.job_id')" "the worker's running job"
assert_eq "$u" "$(jget "$(post "$H" query_worker_status '{"worker_id":"tw-echo"}')" '$.job_id')" "master's view"
s=$(final "$u")
assert_eq '{"echoed":"slow"}' "$(jget "$s" '$.output')" "delayed echo output"
assert_eq idle "$(jget "$(post "$W" get_status)" '$.status')" "idle again"

log "the worker's own endpoints: /run off the master, the base endpoints"
r=$(post "$W" run "$(job "$(uuid)" echo '{"message":"direct"}')")
assert_eq '{"status":"completed","output":{"echoed":"direct"}}' "$r" "/run"
assert_eq '{"status":"failed","output":{}}' "$(post "$W" run "$(job x echo '{"nomessage":1}')")" "/run failed"
assert_eq '{"status":"Available"}' "$(post "$W" status)" "/status"
assert_eq tw-echo "$(jget "$(post "$W" heartbeat)" '$.heartbeat.server_id')" "/heartbeat"
assert_eq '{"server_id":"tw-echo"}' "$(post "$W" server_id)" "/server_id"
assert_eq '{"class_name":"EchoWorker"}' "$(post "$W" class_name)" "/class_name"
assert_eq null "$(post "$W" connect_to_cluster '{"queue_name":"echo"}')" "/connect_to_cluster"
assert_eq null "$(post "$W" start)" "/start"
assert_contains "$(post "$W" endpoints)" '"get_status"' "/endpoints"
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST "$W/status")
assert_eq 401 "$code" "no token"

log "plain jobs go to the plain worker, typed ones to the typed worker"
# each kind waits for its busy worker while the other worker is idle
ids=$(for _ in 1 2 3 4; do mtslurm submit --exec "sleep 0.3"; done)
mtslurm wait $ids >/dev/null
for i in $ids; do
	assert_eq "$plain" "$(jget "$(mtslurm jobs --json "$i")" '$[0].worker')" "plain job $i's worker"
done
us=()
for _ in 1 2 3 4; do
	u=$(uuid)
	us+=("$u")
	post "$H" submit_job "$(job "$u" echo '{"message":"m","delay":0.3}')" >/dev/null
done
for u in "${us[@]}"; do
	assert_eq tw-echo "$(jget "$(final "$u")" '$.worker_id')" "typed job $u's worker"
done

log "exec: a command template filled from the payload, shell-quoted"
assert_eq null "$(post "$H" register_worker_type "$(printf '%s' \
	'{"worker_name":"execw","worker_class":"exec","worker_params":{"command":"printf %s-%s {greeting} {n}; echo \"$MTSLURM_PAYLOAD\" >&2"},"job_type":"greet"}')")" \
	"register exec worker type"
start_worker execw tw-exec
url_of tw-exec >/dev/null
u=$(uuid)
post "$H" submit_job "$(job "$u" greet '{"greeting":"it'"'"'s $HOME; x","n":2}')" >/dev/null
s=$(final "$u")
assert_eq completed "$(jget "$s" '$.status')" "exec: $s"
assert_eq "it's \$HOME; x-2" "$(jget "$s" '$.output.stdout')" "exec stdout"
assert_eq '{"greeting":"it'"'"'s $HOME; x","n":2}' "$(jget "$s" '$.output.stderr')" "exec MTSLURM_PAYLOAD"
assert_eq 0 "$(jget "$s" '$.output.rc')" "exec rc"
u=$(uuid)
post "$H" submit_job "$(job "$u" greet '{"greeting":"x"}')" >/dev/null
s=$(final "$u")
assert_eq failed "$(jget "$s" '$.status')" "exec without n: $s"

log "the definition replaced while the worker runs: run-script"
assert_eq null "$(post "$H" register_worker_type \
	'{"worker_name":"execw","worker_class":"RunScriptWorker","worker_params":{},"job_type":"script"}')" "re-register"
wait_for 10 grep -q "worker type execw: executor run-script" "$R/logs/worker-tw-exec.daemon.log"
u=$(uuid)
post "$H" submit_job "$(job "$u" script '{"environment":{},"command":"true"}')" >/dev/null
s=$(final "$u")
assert_eq failed "$(jget "$s" '$.status')" "run-script {}: $s"
assert_eq '{}' "$(jget "$s" '$.output')" "run-script {} output"
u=$(uuid)
post "$H" submit_job "$(job "$u" script "{\"environment\":{\"local\":{\"working_dir\":\"$T\"}},\"command\":\"pwd\"}")" >/dev/null
s=$(final "$u")
assert_eq completed "$(jget "$s" '$.status')" "run-script local: $s"
assert_eq "$T" "$(jget "$s" '$.output.stdout' | tr -d '\n')" "run-script cwd"

log "/shutdown: the worker leaves, the master says nonexistent"
assert_eq '"Server shutting down..."' "$(post "$W" shutdown)" "/shutdown"
gone_within 10 "$echo_pid" || fail "the worker did not exit after /shutdown"
wait "$echo_pid" || fail "the worker exited with $?: $(cat "$T/tw-echo.out")"
s=$(post "$H" query_worker_status '{"worker_id":"tw-echo"}')
assert_eq nonexistent "$(jget "$s" '$.status')" "after /shutdown: $s"
grep -q "shutdown requested over HTTP" "$R/logs/worker-tw-echo.daemon.log" || fail "no shutdown line in the log"

mtslurm stop >/dev/null
log ok
