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

# launch WTYPE: launch a worker on the node through the master; its url.
launch() {
	local id st=""
	id=$(jget "$(mt_call launch_worker "{\"node_url\":\"$NODE\",\"worker_type\":\"$1\",\"worker_name\":null,\"worker_url\":null}")" '$.launch_id')
	for _ in $(seq 1 600); do
		st=$(mt_call launch_worker_status "{\"node_url\":\"$NODE\",\"launch_id\":\"$id\"}")
		case "$(jget "$st" '$.status')" in ready) break ;; failed) fail "launch of $1 failed: $st" ;; esac
		sleep 0.1
	done
	[ "$(jget "$st" '$.status')" = ready ] || fail "launch of $1 not ready after 60 s: $st"
	jget "$st" '$.worker_url'
}

# ---- B5, B1, B2 ----
mt_call register_worker_type '{"worker_name":"echoworker","worker_class":"mindtrace.cluster.workers.echo_worker.EchoWorker","worker_params":{},"job_type":null}' >/dev/null
w0=$(launch echoworker)
out=$(mt_call submit_job "$(mt_job b5-1 echo '{"message":"no route"}')")
assert_eq error "$(jget "$out" '$.status')" "B5: no auto-connect, no route"
assert_eq null "$(mt_call register_job_to_worker "{\"job_type\":\"echo\",\"worker_url\":\"$w0\"}")" "B5: register_job_to_worker"
out=$(mt_call submit_job "$(mt_job b5-2 echo '{"message":"routed"}')")
assert_eq queued "$(jget "$out" '$.status')" "B1: submit gives queued"
assert_eq '{}' "$(jget "$out" '$.output')" "B1: with output {}"
st=$(mt_final b5-2 10)
assert_eq completed "$(jget "$st" '$.status')" "B5: the next job completes"
assert_eq routed "$(jget "$st" '$.output.echoed')" "B1: its output"
wid=$(jget "$(mt_call get_worker_status_by_url "{\"worker_url\":\"$w0\"}")" '$.worker_id')
assert_eq idle "$(jget "$(mt_call get_worker_status "{\"worker_id\":\"$wid\"}")" '$.status')" "B1: idle by get"
assert_eq idle "$(jget "$(mt_call query_worker_status "{\"worker_id\":\"$wid\"}")" '$.status')" "B1: idle by query"
for i in 1 2 3; do mt_call submit_job "$(mt_job "b2-$i" echo "{\"message\":\"m$i\"}")" >/dev/null; done
for i in 1 2 3; do
	assert_eq "m$i" "$(jget "$(mt_final "b2-$i" 10)" '$.output.echoed')" "B2: job $i"
done

# ---- B6: two types side by side, auto-connected ----
mt_call register_worker_type '{"worker_name":"echoworker1","worker_class":"EchoWorker","worker_params":{},"job_type":"echo1"}' >/dev/null
mt_call register_worker_type '{"worker_name":"echoworker2","worker_class":"EchoWorker","worker_params":{},"job_type":"echo2"}' >/dev/null
launch echoworker1 >/dev/null
launch echoworker2 >/dev/null
mt_call submit_job "$(mt_job b6-1 echo1 '{"message":"one"}')" >/dev/null
mt_call submit_job "$(mt_job b6-2 echo2 '{"message":"two"}')" >/dev/null
assert_eq one "$(jget "$(mt_final b6-1 10)" '$.output.echoed')" "B6: echo1"
assert_eq two "$(jget "$(mt_final b6-2 10)" '$.output.echoed')" "B6: echo2"

# ---- B9: two workers on one type, two 2 s jobs spread ----
launch echoworker1 >/dev/null # a second one
mt_call submit_job "$(mt_job b9-1 echo1 '{"message":"a","delay":2}')" >/dev/null
mt_call submit_job "$(mt_job b9-2 echo1 '{"message":"b","delay":2}')" >/dev/null
sleep 0.5
running=0
for w in $(mtslurm workers --json | jsql "select json_extract(value,'\$.id') from json_each(readfile('/dev/stdin')) where json_extract(value,'\$.wtype')='echoworker1'"); do
	[ "$(jget "$(mt_call query_worker_status "{\"worker_id\":\"$w\"}")" '$.status')" = running ] && running=$((running + 1))
done
assert_eq 2 "$running" "B9: both workers of the type run one job each at 0.5 s"
mt_final b9-1 10 >/dev/null
mt_final b9-2 10 >/dev/null

# ---- B13: the DLQ with a failing worker type ----
# (each job takes 1 s, so a requeued job is still running when the DLQ is looked at)
mt_call register_worker_type '{"worker_name":"failer","worker_class":"exec","worker_params":{"command":"sleep 1; exit 3"},"job_type":"fail_echo"}' >/dev/null
launch failer >/dev/null
mt_call submit_job "$(mt_job f1 fail_echo '{}')" >/dev/null
assert_eq failed "$(jget "$(mt_final f1 10)" '$.status')" "B13: the job fails"
dlq=$(mt_call get_dlq_jobs '{}')
assert_eq 1 "$(jlen "$dlq" '$.jobs')" "B13: the DLQ holds exactly that job"
assert_eq f1 "$(jget "$dlq" '$.jobs[0].job_id')" "B13: f1 in the DLQ"
assert_eq queued "$(jget "$(mt_call requeue_from_dlq '{"job_id":"f1"}')" '$.status')" "B13: requeue gives queued"
assert_eq '{"jobs":[]}' "$(mt_call get_dlq_jobs '{}')" "B13: ... and empties the DLQ"
sleep 0.1
assert_eq failed "$(jget "$(mt_final f1 10)" '$.status')" "B13: ... and it fails again"
assert_eq 1 "$(jlen "$(mt_call get_dlq_jobs '{}')" '$.jobs')" "B13: back in the DLQ once"
assert_eq null "$(mt_call discard_from_dlq '{"job_id":"f1"}')" "B13: discard"
assert_eq '{"jobs":[]}' "$(mt_call get_dlq_jobs '{}')" "B13: the DLQ is empty"
for i in 1 2 3; do mt_call submit_job "$(mt_job "g$i" fail_echo '{}')" >/dev/null; done
for i in 1 2 3; do mt_final "g$i" 10 >/dev/null; done
assert_eq 3 "$(jlen "$(mt_call get_dlq_jobs '{}')" '$.jobs')" "B13: three failures"
mt_call requeue_from_dlq '{"job_id":"g1"}' >/dev/null
assert_eq 2 "$(jlen "$(mt_call get_dlq_jobs '{}')" '$.jobs')" "B13: requeue #1 leaves 2 (until it fails again)"
mt_final g1 10 >/dev/null
wait_for 10 sh -c "curl -s -H 'Authorization: Bearer $tok' -d '{}' $M/get_dlq_jobs | grep -q '\"g1\"'"
mt_call discard_from_dlq '{"job_id":"g1"}' >/dev/null
mt_call discard_from_dlq '{"job_id":"g2"}' >/dev/null
dlq=$(mt_call get_dlq_jobs '{}')
assert_eq 1 "$(jlen "$dlq" '$.jobs')" "B13: discard of #2 leaves one"
assert_eq g3 "$(jget "$dlq" '$.jobs[0].job_id')" "B13: only #3"

# binds and routes survive kill -9 of the master: the workers reconnect,
# and the job type bound by URL (B5) is served again
mp=$(master_pid)
kill -9 "$mp"
wait_for 10 sh -c "! kill -0 $mp 2>/dev/null"
mtslurm -n 1 --local start --node-ports "$P-$((P + 4))" >/dev/null
mt_call submit_job "$(mt_job after-restart echo '{"message":"still bound"}')" >/dev/null
assert_eq "still bound" "$(jget "$(mt_final after-restart 10)" '$.output.echoed')" "the bind by URL survives a master restart"
log "ok"
