#!/usr/bin/env bash
# The master's HTTP service as a mindtrace client and a script use it:
# token auth (header or path segment), the native /api/v1 over the wire
# handlers, mindtrace's ClusterManager endpoints with their shapes (its
# integration scenarios A1-A7: no route, nonexistent workers, DLQ on
# unknown ids, the gateway with register_app and its parse variants, an
# empty DLQ and clear_databases), JSON Schema validation at submit, bad
# input (bad JSON, a 100 MB body, 1,000 idle connections) answered while
# the wire protocol keeps serving, and durability: after kill -9 of the
# master, job types, worker types, typed jobs and the DLQ are all there.
. "$(dirname "$0")/lib.sh"

mtslurm -n 1 --local start >/dev/null
url=$(jget "$(cat "$MTSLURM_RUN_DIR/master.json")" '$.http')
case "$url" in http://127.0.0.1:*) ;; *) fail "master.json http is '$url'" ;; esac
tok=$(cat "$MTSLURM_RUN_DIR/token")
assert_eq 64 "${#tok}" "the token is 64 hex digits"
assert_eq 600 "$(stat -c %a "$MTSLURM_RUN_DIR/token")" "the token file is private"
st=$(mtslurm status)
assert_contains "$st" "http     $url/" "status shows the service"
assert_contains "$st" "$url/$tok/" "status shows the base URL with the token"

H=(-H "Authorization: Bearer $tok")
# code METHOD PATH [BODY]: the HTTP status; the body goes to $T/body.
code() {
	local m=$1 p=$2
	shift 2
	curl -s -o "$T/body" -w '%{http_code}' -X "$m" --max-time 30 "${H[@]}" "$@" "$url$p"
}
post() { code POST "/$1" -d "$2" >/dev/null; cat "$T/body"; }

# ---- auth ----
assert_eq 401 "$(curl -s -o "$T/body" -w '%{http_code}' "$url/api/v1/status")" "no token: 401"
assert_contains "$(cat "$T/body")" "token" "401 says how to authenticate"
assert_eq 401 "$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer nope' "$url/api/v1/status")" \
	"wrong token: 401"
assert_eq 401 "$(curl -s -o /dev/null -w '%{http_code}' -X POST "$url/nope/status")" "wrong token segment: 401"
assert_eq 200 "$(curl -s -o "$T/body" -w '%{http_code}' -X POST "$url/$tok/status")" "token as the first segment"
assert_eq '{"status":"Available"}' "$(cat "$T/body")" "mindtrace /status"

# ---- native API ----
assert_eq 200 "$(code GET /api/v1/status)" "GET /api/v1/status"
assert_eq 1 "$(jget "$(cat "$T/body")" '$.workers.connected')" "status over HTTP"
assert_eq 200 "$(code POST /api/v1/jobs -d '{"type":"echo","input":"over http"}')" "POST /api/v1/jobs"
id=$(jget "$(cat "$T/body")" '$.first')
wait_for 10 sh -c "curl -s -H 'Authorization: Bearer $tok' $url/api/v1/jobs/$id | grep -q completed"
code GET "/api/v1/jobs/$id" >/dev/null
assert_eq "over http" "$(jget "$(cat "$T/body")" '$.output')" "GET /api/v1/jobs/ID"
assert_eq "@http" "$(jget "$(cat "$T/body")" '$.client')" "HTTP jobs belong to the @http client"
assert_eq 404 "$(code GET /api/v1/jobs/999999)" "unknown job: 404"
assert_eq 404 "$(code GET /api/v1/jobs/abc)" "bad job id: 404"
assert_eq 400 "$(code POST /api/v1/jobs -d '{bad json')" "bad JSON: 400"
assert_contains "$(cat "$T/body")" "not valid JSON" "bad JSON says so"
assert_eq 400 "$(code POST /api/v1/jobs -d '[{"type":"echo","input":"a"},{"type":"teleport"}]')" "a bad job: 400"
assert_contains "$(cat "$T/body")" 'job 1: unknown type' "which job and why"
assert_eq 404 "$(code GET /api/v1/nothing)" "unknown route: 404"
assert_eq 200 "$(code POST /api/v1/jobs -d '[{"type":"echo","input":"x","delay":30}]')" "a long job"
long=$(jget "$(cat "$T/body")" '$.first')
assert_eq 200 "$(code DELETE "/api/v1/jobs/$long")" "cancel over HTTP"
assert_eq 409 "$(code DELETE "/api/v1/jobs/$long")" "cancel of a final job: 409"
assert_eq 200 "$(code POST /api/v1/call -d '{"t":"workers"}')" "any wire request through /api/v1/call"
assert_eq 1 "$(jlen "$(cat "$T/body")" '$.workers')" "workers over /api/v1/call"

# ---- mindtrace: A1, A2, A3, A4, A7 ----
job() { # ID TYPE PAYLOAD: a mindtrace Job as its client sends it
	printf '{"id":"%s","name":"%s","schema_name":"%s","payload":%s,"status":"queued","created_at":"2026-05-29T12:00:00.123456","started_at":null,"completed_at":null,"error":null,"entrypoint":null,"priority":null}' \
		"$1" "$2" "$2" "$3"
}
out=$(post submit_job "$(job a1 X '{"message":"m"}')")
assert_eq error "$(jget "$out" '$.status')" "A1: no targeting gives status error"
assert_eq "No job schema targeting found for job type X" "$(jget "$out" '$.output.error')" "A1: mindtrace's message"
out=$(post get_job_status '{"job_id":"a1"}')
assert_eq error "$(jget "$out" '$.status')" "A1: the error record is kept"
assert_eq "No job schema targeting found for job type X" "$(jget "$out" '$.output.error')" "A1: with its message"
assert_eq '{"jobs":[]}' "$(post get_dlq_jobs '')" "A1: not in the DLQ"
assert_eq 200 "$(code POST /register_job_schema_to_worker_type -d '{"job_schema_name":"Y","worker_type":"nobody"}')" \
	"A1: unknown worker type answers 200"
out=$(post submit_job "$(job a1b Y '{"message":"m"}')")
assert_eq error "$(jget "$out" '$.status')" "A1: ... and routes nothing"
out=$(post query_worker_status '{"worker_id":"nonexistent-worker-123"}')
assert_eq '{"worker_id":"nonexistent-worker-123","worker_type":"","worker_url":"","job_id":null,"status":"nonexistent","last_heartbeat":null}' \
	"$out" "A2: a nonexistent worker"
out=$(post query_worker_status_by_url '{"worker_url":"http://127.0.0.1:9/"}')
assert_eq "" "$(jget "$out" '$.worker_id')" "A3: unknown url gives worker_id \"\""
assert_eq "http://127.0.0.1:9/" "$(jget "$out" '$.worker_url')" "A3: the url echoed"
assert_eq 404 "$(code POST /requeue_from_dlq -d '{"job_id":"nope"}')" "A4: requeue of an unknown id"
assert_eq 404 "$(code POST /discard_from_dlq -d '{"job_id":"nope"}')" "A4: discard of an unknown id"
assert_eq 404 "$(code POST /get_job_status -d '{"job_id":"nope"}')" "A4: status of an unknown id"
assert_eq '{"jobs":[]}' "$(post get_dlq_jobs '')" "A7: an empty DLQ (error records stay out)"
assert_eq 422 "$(code POST /get_job_status -d '{}')" "a missing field: 422"
assert_eq 400 "$(code POST /submit_job -d 'not json')" "submit_job with bad JSON: 400"
assert_eq 422 "$(code POST /submit_job -d '{"id":"x"}')" "submit_job without the Job's fields: 422"
assert_contains "$(cat "$T/body")" "schema_name" "names the missing field"
assert_eq 405 "$(code GET /submit_job)" "mindtrace's endpoints are POST"

# ---- the gateway: A5, A6 ----
python3 "$top/tests/tools/endpoint.py" "$T/counts" > "$T/ep.port" &
started_pids+=($!)
wait_for 10 test -s "$T/ep.port"
ep="http://127.0.0.1:$(cat "$T/ep.port")"
assert_eq null "$(post register_app "{\"name\":\"app\",\"url\":\"$ep\"}")" "register_app"
route() { post register_job_to_endpoint "{\"job_type\":\"$1\",\"endpoint\":\"$2\"}" >/dev/null; }
route t_echo app/echo
out=$(post submit_job "$(job g1 t_echo '{"message":"integration test"}')")
assert_eq completed "$(jget "$out" '$.status')" "A5: the gateway answers with the result"
assert_eq "integration test" "$(jget "$out" '$.output.echoed')" "A5: the endpoint's output"
assert_eq app/echo "$(jget "$out" '$.worker_id')" "A5: worker_id is the endpoint"
assert_eq completed "$(jget "$(post get_job_status '{"job_id":"g1"}')" '$.status')" "A5: recorded"
for v in "unexpected completed" "running running" "nulls completed" "garbage completed"; do
	set -- $v
	route "t_$1" "app/$1"
	out=$(post submit_job "$(job "g_$1" "t_$1" '{}')")
	assert_eq "$2" "$(jget "$out" '$.status')" "A6: $1 gives $2"
	assert_eq '{}' "$(jget "$out" '$.output')" "A6: $1 gives output {}"
done
route t_e500 app/e500
assert_eq 502 "$(code POST /submit_job -d "$(job g_e500 t_e500 '{}')")" "A6: HTTP 500 fails the submit"
assert_eq 3 "$(jget "$(cat "$T/counts")" '$.e500')" "a 5xx is retried (3 attempts)"
out=$(post get_job_status '{"job_id":"g_e500"}')
assert_eq failed "$(jget "$out" '$.status')" "the failure is recorded, not a stale running"
assert_contains "$(jget "$out" '$.output.error')" "HTTP 500" "with the reason"
# register_app's proxy route: /app/... reaches the app (never with our token)
assert_eq 200 "$(code GET /app/some/where)" "GET through the app's route"
assert_eq /some/where "$(jget "$(cat "$T/body")" '$.path')" "the rest of the path reaches the app"
assert_eq "" "$(jget "$(cat "$T/body")" '$.authorization')" "the cluster's token is not forwarded"
assert_eq 200 "$(code POST /app/echo -d "$(job p1 x '{"message":"proxied"}')")" "POST through the app's route"
assert_eq proxied "$(jget "$(cat "$T/body")" '$.output.echoed')" "the app's answer comes back"
# a hanging endpoint: the type's timeout, and nothing else waits meanwhile
post api/v1/call '{"t":"type_add","name":"t_hang","endpoint":"app/hang","timeout":1}' >/dev/null
t0=$(date +%s%N)
code POST /submit_job -d "$(job g_hang t_hang '{}')" > "$T/hang.code" &
hang=$!
sleep 0.3
assert_eq 200 "$(code GET /api/v1/status)" "the master answers while a gateway call hangs"
wait "$hang"
assert_eq 504 "$(cat "$T/hang.code")" "a hanging endpoint: 504 after the type's timeout"
el=$((($(date +%s%N) - t0) / 1000000))
[ "$el" -lt 5000 ] || fail "the 1 s timeout took ${el} ms"
assert_eq failed "$(jget "$(post get_job_status '{"job_id":"g_hang"}')" '$.status')" "the hung job is failed"
assert_contains "$(jget "$(post get_job_status '{"job_id":"g_hang"}')" '$.output.error')" "timed out" "with the reason"
route t_echo "$ep/echo" # re-registering replaces the endpoint (a full URL this time)
out=$(post submit_job "$(job g2 t_echo '{"message":"again"}')")
assert_eq again "$(jget "$out" '$.output.echoed')" "A6: a re-registered endpoint"
assert_eq 2 "$(jlen "$(post get_dlq_jobs '')" '$.jobs')" "the failed gateway jobs are in the DLQ"
# the same DLQ in the wire shape (/api/v1/call), and its refusals in both
dlq=$(post api/v1/call '{"t":"dlq","req":7}')
assert_eq 7 "$(jget "$dlq" '$.req')" "wire dlq echoes req"
assert_eq g_e500 "$(jget "$dlq" '$.jobs[0].job_id')" "wire dlq lists the same jobs"
assert_eq t_e500 "$(jget "$dlq" '$.jobs[0].type')" "with their job type"
code GET "/api/v1/jobs/$(jget "$dlq" '$.jobs[0].id')" >/dev/null
assert_eq failed "$(jget "$(cat "$T/body")" '$.state')" "and their job id"
assert_eq 404 "$(code POST /requeue_from_dlq -d '{"job_id":"g1"}')" "requeue of a job not in the DLQ: 404"
assert_contains "$(cat "$T/body")" 'job \"g1\" is not in the dead-letter queue' "says why"
assert_eq 404 "$(code POST /discard_from_dlq -d '{"job_id":"g1"}')" "discard of a job not in the DLQ: 404"
assert_eq 422 "$(code POST /requeue_from_dlq -d '{}')" "requeue without job_id: 422"
assert_eq 400 "$(code POST /api/v1/call -d '{"t":"dlq_discard"}')" "wire discard naming no job: 400"
assert_contains "$(cat "$T/body")" 'give \"id\"' "says what to give"

# ---- job types with a JSON Schema (native wire request, then HTTP submit) ----
schema='{"type":"object","required":["path","width"],"properties":{"path":{"type":"string"},"width":{"type":"integer","minimum":1,"maximum":4096}},"additionalProperties":false}'
assert_eq 200 "$(code POST /api/v1/call -d "{\"t\":\"type_add\",\"name\":\"resize\",\"worker_type\":\"imgworker\",\"schema\":$schema}")" \
	"type_add with a schema"
assert_eq 400 "$(code POST /api/v1/call -d '{"t":"type_add","name":"bad","worker_type":"w","schema":{"type":"object","format":"uri"}}')" \
	"an unknown schema keyword is refused"
assert_contains "$(cat "$T/body")" "format" "names the keyword"
assert_eq 422 "$(code POST /submit_job -d "$(job r1 resize '{"path":"a.png","width":99999}')")" "schema-invalid payload: 422"
assert_contains "$(cat "$T/body")" "maximum" "says what is wrong"
assert_eq 404 "$(code POST /get_job_status -d '{"job_id":"r1"}')" "nothing stored"
out=$(post submit_job "$(job r2 resize '{"path":"a.png","width":128}')")
assert_eq queued "$(jget "$out" '$.status')" "a valid payload is queued (no worker serves it yet)"
# a batch of typed jobs: each external id names one job, also within a batch
jobs_before=$(db "select count(*) from jobs"); meta_before=$(db "select count(*) from jobmeta")
p1='{"path":"a.png","width":1}'
assert_eq 400 "$(code POST /api/v1/jobs -d "[{\"jobtype\":\"resize\",\"input\":$p1,\"ext\":\"d1\"},{\"jobtype\":\"resize\",\"input\":$p1,\"ext\":\"d2\"},{\"jobtype\":\"resize\",\"input\":$p1,\"ext\":\"d1\"}]")" \
	"a batch naming one external id twice: 400"
assert_contains "$(cat "$T/body")" 'job 2: external id \"d1\" is job 0 of this batch already' "says which jobs"
assert_eq "$jobs_before $meta_before" "$(db "select count(*) from jobs") $(db "select count(*) from jobmeta")" \
	"nothing of the batch was stored"
assert_eq 404 "$(code POST /get_job_status -d '{"job_id":"d1"}')" "nor its first job"
assert_eq 200 "$(code POST /api/v1/jobs -d "[{\"jobtype\":\"resize\",\"input\":$p1,\"ext\":\"d1\"},{\"jobtype\":\"resize\",\"input\":$p1,\"ext\":\"d2\"}]")" \
	"a batch of distinct external ids"
assert_eq "d1 d2" "$(jget "$(post get_job_status '{"job_id":"d1"}')" '$.job_id') $(jget "$(post get_job_status '{"job_id":"d2"}')" '$.job_id')" \
	"each is its own typed job"
assert_eq 400 "$(code POST /api/v1/jobs -d "[{\"jobtype\":\"resize\",\"input\":$p1,\"ext\":\"d3\"},{\"jobtype\":\"resize\",\"input\":$p1,\"ext\":\"d2\"}]")" \
	"an external id of an earlier batch: 400"
assert_contains "$(cat "$T/body")" 'job 1: external id \"d2\" is already job' "says so"
post register_worker_type '{"worker_name":"imgworker","worker_class":"EchoWorker","worker_params":{},"job_type":null}' >/dev/null
assert_eq 422 "$(code POST /register_worker_type -d '{"worker_name":"w2","worker_class":"my.pkg.MagicWorker","worker_params":{},"job_type":null}')" \
	"an unknown worker class is refused"
assert_contains "$(cat "$T/body")" "MagicWorker" "names the class"

# ---- bad input: a 100 MB body, 1,000 idle connections ----
rc=$(head -c 104857600 /dev/zero | tr '\0' 'x' | curl -s -o "$T/body" -w '%{http_code}' --max-time 30 "${H[@]}" \
	-H 'Content-Type: application/json' --data-binary @- "$url/submit_job" || true)
assert_eq 413 "$rc" "a 100 MB body: 413"
python3 - "$url" "$T/idle.ready" > /dev/null 2>&1 <<'PY' &
import socket, sys, time
host, port = sys.argv[1].split("//")[1].split(":")
socks = []
for _ in range(1000):
    s = socket.create_connection((host, int(port))); socks.append(s)
open(sys.argv[2], "w").write("1")
time.sleep(15)
PY
started_pids+=($!)
wait_for 20 test -s "$T/idle.ready"
assert_eq 200 "$(code GET /api/v1/status)" "served with 1,000 idle connections open"
sid=$(mtslurm submit --echo still-serving) && out=$(mtslurm wait "$sid" --timeout 20 2>&1) || fail "the wire protocol stalled: $out"

# ---- durability: kill -9 of the master ----
before_types=$(post api/v1/call '{"t":"types"}' | jsql "select json_extract(readfile('/dev/stdin'),'\$.types')")
mp=$(master_pid)
kill -9 "$mp"
wait_for 10 sh -c "! kill -0 $mp 2>/dev/null"
mtslurm -n 1 --local start >/dev/null
url=$(jget "$(cat "$MTSLURM_RUN_DIR/master.json")" '$.http')
after_types=$(post api/v1/call '{"t":"types"}' | jsql "select json_extract(readfile('/dev/stdin'),'\$.types')")
assert_eq "$before_types" "$after_types" "job types survive kill -9"
assert_eq imgworker "$(jget "$(post api/v1/call '{"t":"wtypes"}')" '$.wtypes[0].name')" "worker types survive"
assert_eq queued "$(jget "$(post get_job_status '{"job_id":"r2"}')" '$.status')" "a queued typed job survives"
assert_eq completed "$(jget "$(post get_job_status '{"job_id":"g1"}')" '$.status')" "a gateway result survives"
assert_eq g_e500 "$(jget "$(post get_dlq_jobs '')" '$.jobs[0].job_id')" "the DLQ survives"
assert_eq null "$(post discard_from_dlq '{"job_id":"g_hang"}')" "discard the hung one"
# requeue and discard: the same id goes again (it fails again: the endpoint still answers 500)
assert_eq 200 "$(code GET /app/after/restart)" "apps survive kill -9 of the master"
assert_eq 200 "$(code POST /requeue_from_dlq -d '{"job_id":"g_e500"}')" "requeue"
assert_eq queued "$(jget "$(cat "$T/body")" '$.status')" "a requeued job is queued"
wait_for 20 sh -c "curl -s -H 'Authorization: Bearer $tok' -d '{}' $url/get_dlq_jobs | grep -q g_e500"
assert_eq 6 "$(jget "$(cat "$T/counts")" '$.e500')" "the requeued job was forwarded again (3 more attempts)"
assert_eq null "$(post discard_from_dlq '{"job_id":"g_e500"}')" "discard"
assert_eq '{"jobs":[]}' "$(post get_dlq_jobs '')" "the DLQ is empty again"
assert_eq null "$(post clear_databases '')" "clear_databases"
assert_eq 0 "$(jlen "$(post api/v1/call '{"t":"types"}')" '$.types')" "A7: clear_databases removes the routing"
assert_eq 404 "$(code POST /get_job_status -d '{"job_id":"g1"}')" "A7: ... and final typed jobs"
log "ok"
