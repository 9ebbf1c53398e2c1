#!/usr/bin/env bash
# HTTPS for the master's HTTP service: `start --http-tls` makes the cluster's
# TLS identity (RUN_DIR/tls.key 0600, RUN_DIR/tls.crt, CN mtslurm, IP
# 127.0.0.1), master.json says https://, curl trusting tls.crt gets the API
# with the token, curl trusting only the system store fails on the
# certificate, plain HTTP to the port gets no HTTP answer, mtslurm's own
# HTTP client (nodes) and the node agent trust tls.crt, and a mindtrace
# submit_job/get_job_status round trip to a typed worker works over HTTPS.
# The node agent and the workers it launches serve HTTPS with the same
# identity too: https:// node and worker URLs, a mindtrace job through a
# launched worker, curl to the worker trusting tls.crt works and without it
# fails on the certificate.
# Then: a master refuses plain HTTP on 0.0.0.0 without --http-insecure, and
# saying why (the refusal only: nothing binds 0.0.0.0 here).
. "$(dirname "$0")/lib.sh"

R=$MTSLURM_RUN_DIR
mtslurm -n 1 --local start --http 127.0.0.1:0 --http-tls >/dev/null
url=$(jget "$(cat "$R/master.json")" '$.http')
case "$url" in https://127.0.0.1:[0-9]*) ;; *) fail "master.json http is '$url', not https://127.0.0.1:PORT" ;; esac
assert_eq 600 "$(stat -c %a "$R/tls.key")" "tls.key is private"
assert_eq 644 "$(stat -c %a "$R/tls.crt")" "tls.crt is readable"
subj=$(openssl x509 -in "$R/tls.crt" -noout -subject -ext subjectAltName)
assert_contains "$subj" "CN = mtslurm" "the certificate's CN"
assert_contains "$subj" "IP Address:127.0.0.1" "the certificate names 127.0.0.1"
tok=$(cat "$R/token")

log "curl trusting RUN_DIR/tls.crt"
out=$(curl -sS --max-time 20 --cacert "$R/tls.crt" -H "Authorization: Bearer $tok" "$url/api/v1/status") ||
	fail "curl --cacert tls.crt failed"
assert_eq 1 "$(jget "$out" '$.workers.connected')" "status over HTTPS: $out"
assert_eq 401 "$(curl -s -o /dev/null -w '%{http_code}' --max-time 20 --cacert "$R/tls.crt" "$url/api/v1/status")" \
	"no token over HTTPS: 401"

log "curl trusting only the system store fails on the certificate"
rc=0
err=$(curl -sS --max-time 20 -H "Authorization: Bearer $tok" "$url/api/v1/status" 2>&1) || rc=$?
assert_eq 60 "$rc" "curl's exit code for an untrusted certificate ($err)"
assert_contains "$err" "certificate" "curl says certificate"

log "plain HTTP to the HTTPS port gets no HTTP answer"
rc=0
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 20 -H "Authorization: Bearer $tok" \
	"http://${url#https://}/api/v1/status") || rc=$?
assert_eq 000 "$code" "no HTTP status from the TLS port"
[ "$rc" -ne 0 ] || fail "plain HTTP to the TLS port succeeded"

log "mtslurm's own HTTP client and the node agent trust tls.crt"
nodes=$(mtslurm nodes --json) || fail "mtslurm nodes over HTTPS failed"
assert_eq 1 "$(jlen "$nodes" '$')" "the node agent registered over HTTPS: $nodes"

log "a mindtrace round trip over HTTPS"
post() { # PATH JSON: POST with the token, trusting tls.crt; the body
	local body code
	body=$(curl -sS -m 20 --cacert "$R/tls.crt" -o - -w '\n%{http_code}' -H "Authorization: Bearer $tok" \
		-H 'Content-Type: application/json' -X POST "$url/$1" -d "$2") || fail "POST $1: curl failed"
	code=${body##*$'\n'}
	body=${body%$'\n'*}
	[ "$code" = 200 ] || fail "POST $1 $2: HTTP $code: $body"
	printf '%s' "$body"
}
assert_eq null "$(post register_worker_type \
	'{"worker_name":"echoworker","worker_class":"EchoWorker","worker_params":{},"job_type":"echo"}')" "register_worker_type"
mtslurm-worker --no-mpi --run-dir "$R" --worker-type echoworker --http 127.0.0.1:0 --id tw-echo \
	>"$R/logs/tw-echo.out" 2>&1 &
started_pids+=($!)
u=$(cat /proc/sys/kernel/random/uuid)
job=$(printf '{"id":"%s","name":"echo","schema_name":"echo","payload":{"message":"over tls","delay":0},"status":"queued","created_at":"2026-05-29T12:00:00.123456","started_at":null,"completed_at":null,"error":null,"entrypoint":null,"priority":null}' "$u")
post submit_job "$job" >/dev/null
st=""
for _ in $(seq 1 300); do
	s=$(post get_job_status "{\"job_id\":\"$u\"}")
	st=$(jget "$s" '$.status')
	[ "$st" = completed ] || [ "$st" = failed ] || [ "$st" = error ] && break
	sleep 0.1
done
assert_eq completed "$st" "the job over HTTPS: $s"
assert_eq '{"echoed":"over tls"}' "$(jget "$s" '$.output')" "its output"

log "the node agent serves HTTPS"
node_url=$(jget "$nodes" '$[0].url')
case "$node_url" in https://127.0.0.1:[0-9]*) ;; *) fail "the node's URL is '$node_url', not https://127.0.0.1:PORT" ;; esac
out=$(curl -sS -m 20 --cacert "$R/tls.crt" -H "Authorization: Bearer $tok" -X POST "$node_url/status" -d '{}') ||
	fail "curl --cacert tls.crt to the node failed"
assert_eq Available "$(jget "$out" '$.status')" "the node's status over HTTPS: $out"

log "a worker launched by the node serves HTTPS"
kill "${started_pids[-1]}" 2>/dev/null || true # tw-echo: the job below must go through the launched worker
gone_within 15 "${started_pids[-1]}" || fail "tw-echo did not stop"
out=$(mtslurm launch-worker --type echoworker) || fail "launch-worker over HTTPS failed: $out"
assert_contains "$out" "at https://127.0.0.1:" "launch-worker's worker URL is https://: $out"
wurl=$(sed -n 's/^worker [^ ]* at \(https:[^ ]*\) .*/\1/p' <<<"$out")
[ -n "$wurl" ] || fail "no worker URL in: $out"
u=$(cat /proc/sys/kernel/random/uuid)
job=$(printf '{"id":"%s","name":"echo","schema_name":"echo","payload":{"message":"via node","delay":0},"status":"queued","created_at":"2026-05-29T12:00:00.123456","started_at":null,"completed_at":null,"error":null,"entrypoint":null,"priority":null}' "$u")
post submit_job "$job" >/dev/null
st=""
for _ in $(seq 1 300); do
	s=$(post get_job_status "{\"job_id\":\"$u\"}")
	st=$(jget "$s" '$.status')
	[ "$st" = completed ] || [ "$st" = failed ] || [ "$st" = error ] && break
	sleep 0.1
done
assert_eq completed "$st" "the job through the launched worker: $s"
assert_eq '{"echoed":"via node"}' "$(jget "$s" '$.output')" "its output"
out=$(curl -sS -m 20 --cacert "$R/tls.crt" -H "Authorization: Bearer $tok" -X POST "$wurl/status" -d '{}') ||
	fail "curl --cacert tls.crt to the worker failed"
assert_eq Available "$(jget "$out" '$.status')" "the worker's status over HTTPS: $out"
rc=0
err=$(curl -sS -m 20 -H "Authorization: Bearer $tok" -X POST "$wurl/status" -d '{}' 2>&1) || rc=$?
assert_eq 60 "$rc" "curl's exit code for the worker's certificate without tls.crt ($err)"
assert_contains "$err" "certificate" "curl says certificate (worker)"

log "a worker without the identity, under an HTTPS master, exits with one line"
R3=$T/run3
mkdir -p "$R3" && chmod 700 "$R3"
cp -p "$R/token" "$R/key" "$R/master.json" "$R3/"
rc=0
out=$(timeout 20 mtslurm-worker --no-mpi --run-dir "$R3" --worker-type echoworker --http 127.0.0.1:0 --id tw-noid 2>&1) || rc=$?
[ "$rc" -ne 0 ] || fail "a worker without tls.key served under an HTTPS master"
assert_eq 1 "$(printf '%s\n' "$out" | grep -c .)" "one line: $out"
assert_contains "$out" "cannot load the cluster's TLS identity" "the worker says why: $out"

log "plain HTTP on 0.0.0.0 is refused without --http-insecure"
R2=$T/run2
rc=0
out=$(timeout 20 mtslurm-master --run-dir "$R2" --port 0 --http 0.0.0.0:0 --http-tls=off 2>&1) || rc=$?
[ "$rc" -ne 0 ] || fail "the master served plain HTTP on 0.0.0.0"
assert_contains "$out" "refusing plain HTTP on 0.0.0.0" "the refusal: $out"
assert_contains "$out" "in clear" "the refusal says why: $out"
assert_contains "$out" "--http-insecure" "the refusal says what to do: $out"
[ ! -e "$R2/master.json" ] || fail "a refused master wrote master.json"
log "ok"
