#!/usr/bin/env bash
# Job types, worker types, typed jobs and the dead-letter queue from the
# command line (through mts_request, the same wire requests as
# /api/v1/call): a schema file checked at registration and at submit, a
# refused payload stores nothing, the DLQ listed, requeued and discarded by
# job id and by external id, and every refusal is one clear line.
. "$(dirname "$0")/lib.sh"

mtslurm -n 1 --local start >/dev/null
cat > "$T/resize.schema.json" <<'S'
{"type":"object","required":["path","width"],
 "properties":{"path":{"type":"string","pattern":"\\.png$"},"width":{"type":"integer","minimum":1,"maximum":4096}}}
S
assert_eq "worker type imgworker registered" \
	"$(mtslurm worker-type add imgworker --executor exec --command './resize.sh {path} {width}')" "worker-type add"
rc=0; out=$(mtslurm worker-type add w2 --executor exec 2>&1) || rc=$?
assert_eq 1 "$rc" "exec without --command is refused"
assert_contains "$out" "needs --command" "says what is missing"
rc=0; out=$(mtslurm worker-type add w3 --executor teleport 2>&1) || rc=$?
assert_contains "$out" 'unknown executor "teleport"' "an unknown executor"
assert_eq "job type resize registered" \
	"$(mtslurm type add resize --schema "$T/resize.schema.json" --worker-type imgworker)" "type add with a schema"
echo '{"type":"object","format":"uri"}' > "$T/bad.schema.json"
rc=0; out=$(mtslurm type add bad --schema "$T/bad.schema.json" --worker-type imgworker 2>&1) || rc=$?
assert_eq 1 "$rc" "a schema with an unknown keyword is refused"
assert_contains "$out" 'unknown keyword "format"' "names the keyword"
rc=0; out=$(mtslurm type add both --worker-type a --endpoint http://127.0.0.1:9/ 2>&1) || rc=$?
assert_eq 2 "$rc" "worker type and endpoint both: usage error"

types=$(mtslurm types --json)
assert_eq resize "$(jget "$types" '$[0].name')" "types --json"
assert_eq queue "$(jget "$types" '$[0].mode')" "queue mode"
assert_eq 4096 "$(jget "$types" '$[0].schema.properties.width.maximum')" "the schema is kept"
assert_eq "./resize.sh {path} {width}" "$(jget "$(mtslurm worker-types --json)" '$[0].params.command')" \
	"worker-types --json"

# Payloads: checked against the schema at submit; a refused one stores nothing.
before=$(db "select count(*) from jobs")
rc=0; out=$(mtslurm submit --type resize '{"path":"a.jpg","width":128}' 2>&1) || rc=$?
assert_eq 1 "$rc" "a schema-invalid payload is refused"
assert_contains "$out" 'at /path' "says where"
assert_eq "$before" "$(db "select count(*) from jobs")" "nothing stored"
rc=0; out=$(mtslurm submit --type nosuch '{}' 2>&1) || rc=$?
assert_contains "$out" 'unknown job type "nosuch"' "an unknown job type"
id=$(mtslurm submit --type resize '{"path":"a.png","width":128}' --id ext-1)
assert_eq queued "$(jget "$(mtslurm jobs "$id" --json)" '$[0].state')" "queued until a worker of the type comes"
assert_eq typed "$(jget "$(mtslurm jobs "$id" --json)" '$[0].type')" "a typed job"
assert_eq 1 "$(jget "$(mtslurm types --json)" '$[0].queued')" "types counts its queued job"
rc=0; out=$(mtslurm submit --type resize '{"path":"b.png","width":1}' --id ext-1 2>&1) || rc=$?
assert_contains "$out" 'already job' "an external id is unique"

# The dead-letter queue: endpoint jobs that cannot be delivered fail into it.
port=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
mtslurm type add dead --endpoint "http://127.0.0.1:$port/run" --retries 0 >/dev/null
d1=$(mtslurm submit --type dead '{"n":1}' --id dead-1)
d2=$(mtslurm submit --type dead '{"n":2}')
wait_for 20 sh -c "[ \$(mtslurm dlq --json | grep -o '\"id\"' | wc -l) -eq 2 ]"
dlq=$(mtslurm dlq --json)
assert_eq "$d1" "$(jget "$dlq" '$[0].id')" "dlq lists the failed jobs, oldest first"
assert_eq dead-1 "$(jget "$dlq" '$[0].job_id')" "with their external ids"
assert_contains "$(jget "$dlq" '$[0].error')" "cannot connect" "and why they failed"
assert_eq failed "$(jget "$(mtslurm jobs "$d1" --json)" '$[0].state')" "a DLQ job is failed"
assert_eq "job $d2 discarded (it stays failed)" "$(mtslurm dlq discard "$d2")" "discard by id"
assert_eq "job $d1 queued again" "$(mtslurm dlq requeue dead-1)" "requeue by external id"
wait_for 20 sh -c "mtslurm dlq --json | grep -q dead-1"
assert_eq 1 "$(jlen "$(mtslurm dlq --json)" '$')" "it failed again; the discarded one stays out"
assert_eq "job $d1 queued again" "$(mtslurm dlq requeue "$d1")" "requeue by job id"
wait_for 20 sh -c "mtslurm dlq --json | grep -q dead-1"
assert_eq "job $d1 discarded (it stays failed)" "$(mtslurm dlq discard dead-1)" "discard by external id"
assert_eq 0 "$(jlen "$(mtslurm dlq --json)" '$')" "the DLQ is empty"
rc=0; out=$(mtslurm dlq requeue dead-1 2>&1) || rc=$?
assert_contains "$out" 'job "dead-1" is not in the dead-letter queue' "a discarded job cannot be requeued"
rc=0; out=$(mtslurm dlq discard 999999 2>&1) || rc=$?
assert_contains "$out" "not in the dead-letter queue" "an id not in the DLQ"
assert_eq "job type dead deleted" "$(mtslurm type del dead)" "type del"
rc=0; out=$(mtslurm type del dead 2>&1) || rc=$?
assert_contains "$out" 'no job type "dead"' "deleting an unknown type"
log "ok"
