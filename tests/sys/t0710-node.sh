#!/usr/bin/env bash
# The node agent (mtslurm-node) with the real master and workers, through
# the master's mindtrace endpoints: launches on a port range of 3 (the
# first three get P, P+1, P+2, the 4th fails; after shutdown_all_workers
# the next gets P; after a worker's own /shutdown its port is reused:
# mindtrace B10), shutdown_worker by name, id and port then a relaunch on
# the same URL (B11), a node nobody serves (B12), a job submitted before
# any worker exists completes after a launch (B3), the CLI's nodes and
# launch-worker, a worker dying before it serves (the launch fails with its
# exit and log line), the node's own /shutdown (workers first, then itself),
# and stop leaving no node and no worker process.
. "$(dirname "$0")/lib.sh"

# Three free ports P..P+2 in 20000-40000 (nothing listens there now).
listening() { ss -Htln 2>/dev/null | awk '{print $4}' | sed 's/.*://' ; }
P=
for _ in $(seq 1 50); do
	p=$((20000 + RANDOM % 19990))
	busy=$(listening | grep -cx -e "$p" -e "$((p + 1))" -e "$((p + 2))" || true)
	[ "$busy" = 0 ] && { P=$p; break; }
done
[ -n "$P" ] || fail "no three free ports found in 20000-40000"
log "worker ports $P-$((P + 2))"

mtslurm -n 1 --local start --node-ports "$P-$((P + 2))" >/dev/null
tok=$(cat "$MTSLURM_RUN_DIR/token")
M=$(json_get "$MTSLURM_RUN_DIR/master.json" http)
nodes=$(mtslurm nodes --json)
assert_eq 1 "$(jlen "$nodes" '$')" "nodes registered: $nodes"
NODE=$(jget "$nodes" '$[0].url')
node_pid=$(jget "$nodes" '$[0].pid')
alive "$node_pid" || fail "the node's pid $node_pid (mtslurm nodes) is not a live process"
assert_contains "$(tr '\0' ' ' < "/proc/$node_pid/cmdline")" "mtslurm-node" "the node's process"
mtslurm nodes | grep -q "$NODE" || fail "mtslurm nodes does not show $NODE"

# post URL BODY: the HTTP status; the body goes to $T/body.
post() { curl -s -o "$T/body" -w '%{http_code}' -H "Authorization: Bearer $tok" -d "$2" "$1"; }
body() { cat "$T/body"; }
expect() { # STATUS URL BODY
	local st
	st=$(post "$2" "$3")
	[ "$st" = "$1" ] || fail "POST $2 $3: expected $1, got $st: $(body)"
}

# The node's base endpoints.
expect 200 "$NODE/class_name" '{}'
assert_eq Node "$(jget "$(body)" '$.class_name')" "class_name"
expect 200 "$NODE/status" '{}'
assert_eq Available "$(jget "$(body)" '$.status')" "node status"
expect 404 "$NODE/launch_worker_status" '{"launch_id":"no-such-launch"}'
expect 422 "$NODE/launch_worker" '{"worker_name":"x"}'
# register_node hands out no credentials.
expect 200 "$M/register_node" "{\"node_url\":\"$NODE\"}"
assert_eq "$M" "$(jget "$(body)" '$.endpoint')" "register_node endpoint"
assert_eq "" "$(jget "$(body)" '$.secret_key')$(jget "$(body)" '$.rabbitmq_password')" "register_node credentials"

expect 200 "$M/register_worker_type" \
	'{"worker_name":"echoworker","worker_class":"EchoWorker","worker_params":{},"job_type":"echo"}'

# B3: a job submitted before any worker of its type exists waits.
job() { printf '{"id":"%s","name":"echo","schema_name":"echo","payload":{"message":"%s"},"created_at":"2026-01-01T00:00:00"}' "$1" "$2"; }
expect 200 "$M/submit_job" "$(job before-any "early bird")"
assert_eq queued "$(jget "$(body)" '$.status')" "job before any worker"

# launch [WORKER_URL]: a launch through the master; prints its launch id.
launch() {
	local url=null
	[ -n "${1:-}" ] && url="\"$1\""
	expect 200 "$M/launch_worker" \
		"{\"node_url\":\"$NODE\",\"worker_type\":\"echoworker\",\"worker_name\":null,\"worker_url\":$url}"
	jget "$(body)" '$.launch_id'
}
# finish ID: wait (at most 70 s) until the launch is ready or failed; prints the status object.
finish() {
	local s end=$((SECONDS + 70))
	while :; do
		expect 200 "$M/launch_worker_status" "{\"node_url\":\"$NODE\",\"launch_id\":\"$1\"}"
		s=$(jget "$(body)" '$.status')
		case $s in ready | failed) body; return 0 ;; pending | running) ;; *) fail "launch $1: status '$s': $(body)" ;; esac
		[ $SECONDS -lt $end ] || fail "launch $1 still $s after 70 s"
		sleep 0.1
	done
}
# ready_at PORT: launch (auto port), expect ready on PORT; prints the worker id.
ready_at() {
	local st
	st=$(finish "$(launch)")
	assert_eq ready "$(jget "$st" '$.status')" "launch expected on port $1: $st"
	assert_eq "http://127.0.0.1:$1" "$(jget "$st" '$.worker_url')" "port of the launch"
	assert_eq "$(jget "$st" '$.worker_id')" "$(jget "$st" '$.worker_name')" "worker_name defaults to the id"
	jget "$st" '$.worker_id'
}
# pid_of ID: the worker's pid as the master knows it (mtslurm workers).
pid_of() {
	local w
	w=$(mtslurm workers --json)
	printf '%s' "$w" | jsql "select json_extract(value,'\$.pid') from json_each(readfile('/dev/stdin')) where json_extract(value,'\$.id')='$1';"
}
all_pids=()
# track ID: the worker's pid into $tp, remembered for the end.
track() {
	local end=$((SECONDS + 10))
	until tp=$(pid_of "$1") && [ -n "$tp" ]; do
		[ $SECONDS -lt $end ] || fail "worker $1 is not connected to the master"
		sleep 0.1
	done
	all_pids+=("$tp")
}

# ---- B10: the range, its exhaustion, and reuse ----
w1=$(ready_at "$P")
w2=$(ready_at $((P + 1)))
w3=$(ready_at $((P + 2)))
st=$(finish "$(launch)")
assert_eq failed "$(jget "$st" '$.status')" "4th launch"
assert_contains "$(jget "$st" '$.error')" "No worker ports available in range [$P, $((P + 2))]" "4th launch error"
track "$w1"; p1=$tp; track "$w2"; p2=$tp; track "$w3"; p3=$tp
log "three workers: $p1 $p2 $p3"

# B3: the early job ran on one of them (auto-connect of job type echo).
end=$((SECONDS + 20))
until expect 200 "$M/get_job_status" '{"job_id":"before-any"}' && [ "$(jget "$(body)" '$.status')" = completed ]; do
	[ $SECONDS -lt $end ] || fail "the job submitted before any worker did not complete: $(body)"
	sleep 0.1
done
assert_eq "early bird" "$(jget "$(body)" '$.output.echoed')" "its output"

expect 200 "$NODE/shutdown_all_workers" '{}'
assert_eq null "$(body)" "shutdown_all_workers answer"
gone_within 15 "$p1" "$p2" "$p3" || fail "workers still running after shutdown_all_workers"
w1=$(ready_at "$P")
w2=$(ready_at $((P + 1)))
w3=$(ready_at $((P + 2)))
track "$w1"; p1=$tp; track "$w2"; p2=$tp; track "$w3"; p3=$tp

# A worker's own /shutdown (a crash for the node): its port is the next one.
expect 200 "http://127.0.0.1:$((P + 1))/shutdown" '{}'
gone_within 15 "$p2" || fail "the worker on $((P + 1)) did not exit after its /shutdown"
w2=$(ready_at $((P + 1)))
track "$w2"; p2=$tp

# ---- B11: shutdown_worker by name, id, port; relaunch on the same URL ----
relaunch() { # PORT OLD_PID: launch on that URL, expect ready; prints the new worker id
	local st
	gone_within 15 "$2" || fail "the worker on $1 (pid $2) did not stop"
	st=$(finish "$(launch "http://127.0.0.1:$1")")
	assert_eq ready "$(jget "$st" '$.status')" "relaunch on $1: $st"
	assert_eq "http://127.0.0.1:$1" "$(jget "$st" '$.worker_url')" "relaunch URL"
	jget "$st" '$.worker_id'
}
expect 200 "$NODE/shutdown_worker" "{\"worker_name\":\"$w1\"}"
w1=$(relaunch "$P" "$p1"); track "$w1"; p1=$tp
expect 200 "$NODE/shutdown_worker_by_id" "{\"worker_id\":\"$w2\"}"
w2=$(relaunch $((P + 1)) "$p2"); track "$w2"; p2=$tp
expect 200 "$NODE/shutdown_worker_by_port" "{\"worker_port\":$((P + 2))}"
w3=$(relaunch $((P + 2)) "$p3"); track "$w3"; p3=$tp
# Nothing matched: still 200 null.
expect 200 "$NODE/shutdown_worker" '{"worker_name":"nobody"}'
assert_eq null "$(body)" "shutdown_worker of nobody"
# A worker URL without a port.
st=$(finish "$(launch "http://127.0.0.1")")
assert_contains "$(jget "$st" '$.error')" "does not have a port" "worker URL without a port"

# The relaunched workers serve the job type.
expect 200 "$M/submit_job" "$(job after-relaunch again)"
end=$((SECONDS + 20))
until expect 200 "$M/get_job_status" '{"job_id":"after-relaunch"}' && [ "$(jget "$(body)" '$.status')" = completed ]; do
	[ $SECONDS -lt $end ] || fail "a job after the relaunches did not complete: $(body)"
	sleep 0.1
done

# ---- B12: a node nobody serves ----
dead=$((P + 3))
st=$(post "$M/launch_worker" "{\"node_url\":\"http://127.0.0.1:$dead\",\"worker_type\":\"echoworker\",\"worker_name\":null,\"worker_url\":null}")
[ "$st" != 200 ] || fail "launch_worker against a dead node answered 200: $(body)"
assert_eq 503 "$st" "launch_worker against a dead node"
assert_contains "$(body)" "Server failed to connect" "its error"

# ---- the CLI: launch-worker on a full range fails, names the reason ----
out=$(mtslurm launch-worker --type echoworker --node "$(jget "$nodes" '$[0].name')" --json) && fail "launch-worker on a full range succeeded: $out"
assert_eq 1 "$(jget "$out" '$.failed')" "launch-worker --json failed count"
assert_contains "$(jget "$out" '$.launches[0].error')" "No worker ports available" "launch-worker error"
err=$(mtslurm launch-worker --type echoworker --node nosuchnode 2>&1) && fail "launch-worker --node nosuchnode succeeded"
assert_contains "$err" "no node 'nosuchnode'" "launch-worker unknown node"
expect 200 "$NODE/shutdown_worker_by_port" "{\"worker_port\":$P}"
gone_within 15 "$p1" || fail "the worker on $P did not stop"
out=$(mtslurm launch-worker --type echoworker)
assert_contains "$out" "at http://127.0.0.1:$P (node " "launch-worker output"
wid=$(sed -n 's/^worker \([^ ]*\) at.*/\1/p' <<<"$out")
track "$wid"

# ---- a worker that dies before it serves: the launch fails with why ----
# Port B is held by a listener of the test, so the worker cannot bind it
# and exits at start; the launch reports its exit and its log's last line.
B=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
python3 -c 'import socket,sys,time; s=socket.socket(); s.bind(("127.0.0.1",int(sys.argv[1]))); s.listen()
open(sys.argv[2],"w").close(); time.sleep(60)' "$B" "$T/held" &
holder=$!
end=$((SECONDS + 10))
until [ -e "$T/held" ]; do [ $SECONDS -lt $end ] || fail "the port holder did not start"; sleep 0.05; done
lid=$(launch "http://127.0.0.1:$B")
st=$(finish "$lid")
kill "$holder" 2>/dev/null || true
assert_eq failed "$(jget "$st" '$.status')" "a launch on a held port: $st"
assert_contains "$(jget "$st" '$.error')" "before it served at http://127.0.0.1:$B" "its error"
assert_contains "$(jget "$st" '$.error')" "exited with status" "its error"

# ---- the node's own /shutdown: its workers first, then itself ----
expect 200 "$NODE/shutdown" '{}'
gone_within 15 "$node_pid" "${all_pids[@]}" || fail "the node or its workers still run after POST /shutdown"
grep -q "shutting down (shutdown requested over HTTP)" "$MTSLURM_RUN_DIR"/logs/node-*.log ||
	fail "no shutdown line in the node's log"

# ---- stop leaves no node and no worker ----
mtslurm stop >/dev/null
gone_within 15 "$node_pid" "${all_pids[@]}" || fail "processes left after mtslurm stop"
log ok
