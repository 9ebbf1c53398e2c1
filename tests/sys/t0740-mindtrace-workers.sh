#!/usr/bin/env bash
# mindtrace-cluster's integration scenarios with workers, through the
# master's HTTP endpoints only, as a mindtrace client drives them (its
# timings: job status polled every 20 ms for 10 s, launches for 60 s):
#  B5  launch without auto-connect: submit gives "error"; register_job_to_worker,
#      then the next job completes
#  B1  the worker is idle by get_ and query_worker_status
#  B2  three jobs to one worker all complete with their outputs
#  B6  two job types on two worker types, launched together (auto-connect)
#  B9  two workers of one type and two 2 s jobs: at 0.5 s both are running
#  B13 the dead-letter queue with a failing worker type: exactly the failed
#      job; requeue -> queued, DLQ empty, fails again; discard; three
#      failures, requeue #1 leaves 2, discard #2 leaves only #3
. "$(dirname "$0")/lib.sh"

listening() { ss -Htln 2>/dev/null | awk '{print $4}' | sed 's/.*://'; }
P=
for _ in $(seq 1 50); do
	p=$((20000 + RANDOM % 19980))
	busy=$(listening | grep -cx -e "$p" -e "$((p + 1))" -e "$((p + 2))" -e "$((p + 3))" -e "$((p + 4))" || true)
	[ "$busy" = 0 ] && { P=$p; break; }
done
[ -n "$P" ] || fail "no five free ports found"
mtslurm -n 1 --local start --node-ports "$P-$((P + 4))" >/dev/null
tok=$(cat "$MTSLURM_RUN_DIR/token")
M=$(json_get "$MTSLURM_RUN_DIR/master.json" http)
NODE=$(jget "$(mtslurm nodes --json)" '$[0].url')

call() { # ENDPOINT BODY: the reply (fails on a non-200)
	local st
	st=$(curl -s -o "$T/body" -w '%{http_code}' --max-time 70 -H "Authorization: Bearer $tok" -d "$2" "$M/$1")
	[ "$st" = 200 ] || fail "POST /$1 $2: HTTP $st: $(cat "$T/body")"
	cat "$T/body"
}
job() { # ID TYPE PAYLOAD
	printf '{"id":"%s","name":"%s","schema_name":"%s","payload":%s,"status":"queued","created_at":"2026-05-29T12:00:00.123456","started_at":null,"completed_at":null,"error":null,"entrypoint":null,"priority":null}' \
		"$1" "$2" "$2" "$3"
}
# launch WTYPE: launch a worker on the node through the master; its url.
launch() {
	local id st=""
	id=$(jget "$(call launch_worker "{\"node_url\":\"$NODE\",\"worker_type\":\"$1\",\"worker_name\":null,\"worker_url\":null}")" '$.launch_id')
	for _ in $(seq 1 600); do
		st=$(call launch_worker_status "{\"node_url\":\"$NODE\",\"launch_id\":\"$id\"}")
		case "$(jget "$st" '$.status')" in ready) break ;; failed) fail "launch of $1 failed: $st" ;; esac
		sleep 0.1
	done
	[ "$(jget "$st" '$.status')" = ready ] || fail "launch of $1 not ready after 60 s: $st"
	jget "$st" '$.worker_url'
}
# final ID: poll get_job_status every 20 ms for 10 s until it is final; the status.
final() {
	local st
	for _ in $(seq 1 500); do
		st=$(call get_job_status "{\"job_id\":\"$1\"}")
		case "$(jget "$st" '$.status')" in completed | failed | error) echo "$st"; return 0 ;; esac
		sleep 0.02
	done
	fail "job $1 not final within 10 s: $st"
}

# ---- B5, B1, B2 ----
call register_worker_type '{"worker_name":"echoworker","worker_class":"mindtrace.cluster.workers.echo_worker.EchoWorker","worker_params":{},"job_type":null}' >/dev/null
w0=$(launch echoworker)
out=$(call submit_job "$(job b5-1 echo '{"message":"no route"}')")
assert_eq error "$(jget "$out" '$.status')" "B5: no auto-connect, no route"
assert_eq null "$(call register_job_to_worker "{\"job_type\":\"echo\",\"worker_url\":\"$w0\"}")" "B5: register_job_to_worker"
out=$(call submit_job "$(job b5-2 echo '{"message":"routed"}')")
assert_eq queued "$(jget "$out" '$.status')" "B1: submit gives queued"
assert_eq '{}' "$(jget "$out" '$.output')" "B1: with output {}"
st=$(final b5-2)
assert_eq completed "$(jget "$st" '$.status')" "B5: the next job completes"
assert_eq routed "$(jget "$st" '$.output.echoed')" "B1: its output"
wid=$(jget "$(call get_worker_status_by_url "{\"worker_url\":\"$w0\"}")" '$.worker_id')
assert_eq idle "$(jget "$(call get_worker_status "{\"worker_id\":\"$wid\"}")" '$.status')" "B1: idle by get"
assert_eq idle "$(jget "$(call query_worker_status "{\"worker_id\":\"$wid\"}")" '$.status')" "B1: idle by query"
for i in 1 2 3; do call submit_job "$(job "b2-$i" echo "{\"message\":\"m$i\"}")" >/dev/null; done
for i in 1 2 3; do
	assert_eq "m$i" "$(jget "$(final "b2-$i")" '$.output.echoed')" "B2: job $i"
done

# ---- B6: two types side by side, auto-connected ----
call register_worker_type '{"worker_name":"echoworker1","worker_class":"EchoWorker","worker_params":{},"job_type":"echo1"}' >/dev/null
call register_worker_type '{"worker_name":"echoworker2","worker_class":"EchoWorker","worker_params":{},"job_type":"echo2"}' >/dev/null
launch echoworker1 >/dev/null
launch echoworker2 >/dev/null
call submit_job "$(job b6-1 echo1 '{"message":"one"}')" >/dev/null
call submit_job "$(job b6-2 echo2 '{"message":"two"}')" >/dev/null
assert_eq one "$(jget "$(final b6-1)" '$.output.echoed')" "B6: echo1"
assert_eq two "$(jget "$(final b6-2)" '$.output.echoed')" "B6: echo2"

# ---- B9: two workers on one type, two 2 s jobs spread ----
launch echoworker1 >/dev/null # a second one
call submit_job "$(job b9-1 echo1 '{"message":"a","delay":2}')" >/dev/null
call submit_job "$(job b9-2 echo1 '{"message":"b","delay":2}')" >/dev/null
sleep 0.5
running=0
for w in $(mtslurm workers --json | jsql "select json_extract(value,'\$.id') from json_each(readfile('/dev/stdin')) where json_extract(value,'\$.wtype')='echoworker1'"); do
	[ "$(jget "$(call query_worker_status "{\"worker_id\":\"$w\"}")" '$.status')" = running ] && running=$((running + 1))
done
assert_eq 2 "$running" "B9: both workers of the type run one job each at 0.5 s"
final b9-1 >/dev/null
final b9-2 >/dev/null

# ---- B13: the DLQ with a failing worker type ----
# (each job takes 1 s, so a requeued job is still running when the DLQ is looked at)
call register_worker_type '{"worker_name":"failer","worker_class":"exec","worker_params":{"command":"sleep 1; exit 3"},"job_type":"fail_echo"}' >/dev/null
launch failer >/dev/null
call submit_job "$(job f1 fail_echo '{}')" >/dev/null
assert_eq failed "$(jget "$(final f1)" '$.status')" "B13: the job fails"
dlq=$(call get_dlq_jobs '{}')
assert_eq 1 "$(jlen "$dlq" '$.jobs')" "B13: the DLQ holds exactly that job"
assert_eq f1 "$(jget "$dlq" '$.jobs[0].job_id')" "B13: f1 in the DLQ"
assert_eq queued "$(jget "$(call requeue_from_dlq '{"job_id":"f1"}')" '$.status')" "B13: requeue gives queued"
assert_eq '{"jobs":[]}' "$(call get_dlq_jobs '{}')" "B13: ... and empties the DLQ"
sleep 0.1
assert_eq failed "$(jget "$(final f1)" '$.status')" "B13: ... and it fails again"
assert_eq 1 "$(jlen "$(call get_dlq_jobs '{}')" '$.jobs')" "B13: back in the DLQ once"
assert_eq null "$(call discard_from_dlq '{"job_id":"f1"}')" "B13: discard"
assert_eq '{"jobs":[]}' "$(call get_dlq_jobs '{}')" "B13: the DLQ is empty"
for i in 1 2 3; do call submit_job "$(job "g$i" fail_echo '{}')" >/dev/null; done
for i in 1 2 3; do final "g$i" >/dev/null; done
assert_eq 3 "$(jlen "$(call get_dlq_jobs '{}')" '$.jobs')" "B13: three failures"
call requeue_from_dlq '{"job_id":"g1"}' >/dev/null
assert_eq 2 "$(jlen "$(call get_dlq_jobs '{}')" '$.jobs')" "B13: requeue #1 leaves 2 (until it fails again)"
final g1 >/dev/null
wait_for 10 sh -c "curl -s -H 'Authorization: Bearer $tok' -d '{}' $M/get_dlq_jobs | grep -q '\"g1\"'"
call discard_from_dlq '{"job_id":"g1"}' >/dev/null
call discard_from_dlq '{"job_id":"g2"}' >/dev/null
dlq=$(call get_dlq_jobs '{}')
assert_eq 1 "$(jlen "$dlq" '$.jobs')" "B13: discard of #2 leaves one"
assert_eq g3 "$(jget "$dlq" '$.jobs[0].job_id')" "B13: only #3"

# binds and routes survive kill -9 of the master: the workers reconnect,
# and the job type bound by URL (B5) is served again
mp=$(master_pid)
kill -9 "$mp"
wait_for 10 sh -c "! kill -0 $mp 2>/dev/null"
mtslurm -n 1 --local start --node-ports "$P-$((P + 4))" >/dev/null
M=$(json_get "$MTSLURM_RUN_DIR/master.json" http)
call submit_job "$(job after-restart echo '{"message":"still bound"}')" >/dev/null
assert_eq "still bound" "$(jget "$(final after-restart)" '$.output.echoed')" "the bind by URL survives a master restart"
log "ok"
