#!/usr/bin/env bash
# The dashboard, its event stream and /metrics, on a local cluster with
# completed, failed and queued typed jobs: the page, opened in headless
# Chromium as http://127.0.0.1:PORT/TOKEN (the token path form), shows the
# numbers `mtslurm status --json` shows (jobs by state, workers, slots), the
# workers, the failures newest first with their errors and the job types;
# it is updated live over Server-Sent Events, computes a throughput, and
# falls back to polling when the stream is gone. /metrics parses as
# Prometheus text and agrees with status; the stream sends "status" every
# second. The screenshot is kept (its path is printed: "screenshot: PATH").
. "$(dirname "$0")/lib.sh"

command -v chromium >/dev/null || fail "chromium is not installed (tests/deps.sh installs it)"
out=${MTS_TEST_OUT:-$MTS_BUILD/test-out}/t0720-dashboard
mkdir -p "$out"

mtslurm -n 2 --local start >/dev/null
url=$(json_get "$MTSLURM_RUN_DIR/master.json" http)
tok=$(cat "$MTSLURM_RUN_DIR/token")
[ -n "$url" ] && [ -n "$tok" ] || fail "no HTTP URL in master.json or no token"
base=$url/$tok
hget() { curl -sS --max-time 10 "$base/$1"; }
hpost() { curl -sS --max-time 10 -d "$2" "$base/$1"; }

# A job type with no worker serving it: its jobs stay queued in its pool.
hpost api/v1/call '{"t":"type_add","name":"resize","worker_type":"imgworker"}' | grep -q '"t":"type"' ||
	fail "type_add"
for u in u1 u2 u3; do
	hpost submit_job "{\"id\":\"$u\",\"name\":\"a\",\"schema_name\":\"resize\",\"payload\":{},\"created_at\":\"2024-01-01T00:00:00\"}" |
		grep -q '"status":"queued"' || fail "submit_job $u"
done
ids=$(for i in $(seq 1 20); do echo "m$i"; done | mtslurm submit --echo --stdin)
ids="$ids $(mtslurm submit --exec false) $(mtslurm submit --exec 'echo disk full >&2; exit 3')"
mtslurm wait $ids --timeout 60 >/dev/null && fail "wait: two jobs should have failed"

# ---- the event stream: "status" every second ----
curl -sN --max-time 3 "$base/api/v1/events" > "$T/sse" || true
n=$(grep -c '^event: status$' "$T/sse" || true)
[ "$n" -ge 2 ] || fail "SSE: $n status events in 3 s, expected >= 2: $(head -c 300 "$T/sse")"
st=$(mtslurm status --json)
first=$(grep -m1 '^data: ' "$T/sse" | sed 's/^data: //')
assert_eq "$(jget "$st" '$.jobs.completed')" "$(jget "$first" '$.jobs.completed')" "SSE status: completed"
assert_eq 3 "$(jget "$first" '$.jobs.queued')" "SSE status: queued typed jobs"
# A failure while a stream is open is announced as event "failed".
curl -sN --max-time 4 "$base/api/v1/events" > "$T/sse2" &
cp=$!
started_pids+=($cp)
sleep 1
fid=$(mtslurm submit --exec false)
wait $cp || true
grep -A1 '^event: failed$' "$T/sse2" | grep -q '"new":1' || fail "no \"failed\" event: $(cat "$T/sse2")"
mtslurm wait "$fid" --timeout 30 >/dev/null && fail "job $fid should have failed"

# ---- /metrics ----
m=$(curl -sS --max-time 10 -D "$T/mh" "$base/metrics")
grep -qi '^content-type: text/plain; version=0.0.4' "$T/mh" || fail "metrics content type: $(cat "$T/mh")"
bad=$(echo "$m" | grep -v '^#' | grep -vE '^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*",?)*\})? (-?[0-9.eE+-]+|[+-]Inf|NaN)$' || true)
[ -z "$bad" ] || fail "metrics lines that do not parse: $bad"
echo "$m" | grep '^#' | grep -vqE '^# (HELP|TYPE) ' && fail "a comment line that is not HELP or TYPE"
mval() { echo "$m" | awk -v k="$1" '$1 == k {print $2}'; }
st=$(mtslurm status --json)
for s in queued prefetched running completed failed cancelled; do
	assert_eq "$(jget "$st" "\$.jobs.$s")" "$(mval "mtslurm_jobs{state=\"$s\"}")" "metrics: $s jobs"
done
assert_eq "$(jget "$st" '$.workers.connected')" "$(mval mtslurm_workers_connected)" "metrics: workers"
assert_eq "$(jget "$st" '$.workers.slots')" "$(mval mtslurm_slots)" "metrics: slots"
assert_eq "$(jget "$st" '$.workers.busy_slots')" "$(mval mtslurm_slots_busy)" "metrics: busy slots"
assert_eq 3 "$(mval 'mtslurm_jobs_by_type{type="resize",state="queued"}')" "metrics: queued jobs of type resize"
assert_eq "$(jget "$st" '$.jobs.total')" "$(mval mtslurm_jobs_submitted_total)" "metrics: submitted"
assert_eq "$(( $(jget "$st" '$.jobs.completed') + $(jget "$st" '$.jobs.failed') ))" \
	"$(mval mtslurm_jobs_finished_total)" "metrics: finished"
# The histogram: every bucket, cumulative, +Inf equal to _count, which is > 0.
for le in 0.0005 0.001 0.0025 0.005 0.01 0.025 0.05 0.1 0.25 0.5 1 +Inf; do
	[ -n "$(mval "mtslurm_store_sync_seconds_bucket{le=\"$le\"}")" ] || fail "metrics: no sync bucket le=$le"
done
echo "$m" | awk '/^mtslurm_store_sync_seconds_bucket/ { if ($2 < prev) bad = 1; prev = $2 } END { exit bad }' ||
	fail "metrics: sync buckets are not cumulative"
cnt=$(mval mtslurm_store_sync_seconds_count)
[ "$cnt" -gt 0 ] || fail "metrics: no store sync observed"
assert_eq "$cnt" "$(mval 'mtslurm_store_sync_seconds_bucket{le="+Inf"}')" "metrics: +Inf bucket = count"
[ "$(mval 'mtslurm_http_requests_total{code="2xx"}')" -ge 6 ] || fail "metrics: 2xx requests not counted"
echo "$m" | grep -q '^# TYPE mtslurm_jobs_submitted_total counter$' || fail "metrics: submitted is no counter"

# ---- the page in headless Chromium ----
nums='JSON.stringify({jobs:Object.fromEntries(["queued","prefetched","running","completed","failed","cancelled","total"].map(s=>[s,+document.getElementById("jobs-"+s).textContent])),connected:+document.getElementById("workers-connected").textContent,slots:+document.getElementById("slots").textContent,busy:+document.getElementById("slots-busy").textContent,workers:[...document.querySelectorAll("#workers-body tr")].map(r=>r.cells[0].textContent),failures:[...document.querySelectorAll("#failures-body tr")].map(r=>[+r.cells[0].textContent,r.cells[4].textContent]),types:[...document.querySelectorAll("#types-body tr")].map(r=>[r.cells[0].textContent,+r.cells[2].textContent]),nodesHidden:document.getElementById("nodes-panel").hidden,nodes:[...document.querySelectorAll("#nodes-body tr")].map(r=>r.cells[1].textContent),live:document.body.dataset.live,rate:document.getElementById("rate").textContent,peak:Math.max(0,...rates().map(x=>x.r))})'
done_now=$(( $(jget "$st" '$.jobs.completed') + $(jget "$st" '$.jobs.failed') ))
sh_burst="for i in \$(seq 1 300); do echo b\$i; done | mtslurm submit --echo --delay 0.02 --stdin >/dev/null"
python3 "$top/tests/sys/cdp.py" --timeout 40 "$base" \
	"wait:document.body.dataset.live==='live' && document.querySelectorAll('#failures-body tr').length===3" \
	"sh:sleep 1.5; $sh_burst" \
	"wait:+document.getElementById('jobs-completed').textContent===$(jget "$st" '$.jobs.completed')+300" \
	"wait:rates().some(x=>x.r>0)" \
	"shot:$out/dashboard.png" \
	"eval:$nums" \
	"eval:es.close(), es.onerror(), document.body.dataset.live" \
	"sh:mtslurm wait \$(mtslurm submit --echo late) --timeout 20 >/dev/null" \
	"wait:+document.getElementById('jobs-completed').textContent===$(jget "$st" '$.jobs.completed')+301" \
	"eval:document.body.dataset.live" > "$T/page" || fail "the dashboard in chromium: see above"
page=$(sed -n 1p "$T/page" | jsql "select json_extract(readfile('/dev/stdin'), '\$')")
log "page: $page"
echo "screenshot: $out/dashboard.png"
[ -s "$out/dashboard.png" ] || fail "no screenshot"

st=$(mtslurm status --json)
# The page's numbers are those of status when it finished; one job (the
# polling check's) ran since.
for s in queued prefetched running failed cancelled; do
	assert_eq "$(jget "$st" "\$.jobs.$s")" "$(jget "$page" "\$.jobs.$s")" "page: $s jobs"
done
assert_eq "$(( $(jget "$st" '$.jobs.completed') - 1 ))" "$(jget "$page" '$.jobs.completed')" "page: completed jobs"
assert_eq "$(( $(jget "$st" '$.jobs.total') - 1 ))" "$(jget "$page" '$.jobs.total')" "page: total jobs"
assert_eq "$(jget "$st" '$.workers.connected')" "$(jget "$page" '$.connected')" "page: workers connected"
assert_eq "$(jget "$st" '$.workers.slots')" "$(jget "$page" '$.slots')" "page: slots"
ws=$(mtslurm workers --json)
assert_eq "$(printf '%s' "$ws" | jsql "select group_concat(json_extract(value,'\$.id'),',') from (select value from json_each(readfile('/dev/stdin')) order by json_extract(value,'\$.id'))")" \
	"$(printf '%s' "$page" | jsql "select group_concat(value,',') from (select value from json_each(readfile('/dev/stdin'),'\$.workers') order by value)")" \
	"page: worker ids"
# Failures newest first, with their errors.
fl=$(printf '%s' "$page" | jsql "select group_concat(json_extract(value,'\$[0]'),',') from json_each(readfile('/dev/stdin'),'\$.failures')")
fids=$(mtslurm jobs --state failed --json | jsql "select group_concat(id,',') from (select json_extract(value,'\$.id') as id from json_each(readfile('/dev/stdin')) order by id desc)")
assert_eq "$fids" "$fl" "page: failures newest first"
assert_contains "$page" "disk full" "page: a failure's error"
assert_contains "$page" '"types":[["resize",3]]' "page: job types with queued jobs"
assert_eq 0 "$(jget "$page" '$.nodesHidden')" "page: the nodes panel is shown"
assert_eq "$(jget "$(mtslurm nodes --json)" '$[0].url')" "$(jget "$page" '$.nodes[0]')" "page: the node agent start runs, as mtslurm nodes lists it"
assert_eq live "$(jget "$page" '$.live')" "page: updated over the event stream"
awk -v p="$(jget "$page" '$.peak')" 'BEGIN { exit !(p > 0) }' || fail "page: no throughput computed"
# After the stream was closed the page polls, and still follows the jobs.
assert_eq '"polling"' "$(sed -n 2p "$T/page")" "page: falls back to polling"
assert_eq '"polling"' "$(sed -n 3p "$T/page")" "page: polling kept the numbers current"

# Stopping the master with a stream open ends the stream (and, in the ASan
# build, frees it: the cleanup fails the test on any sanitizer report).
curl -sN --max-time 20 "$base/api/v1/events" > "$T/sse3" &
cp=$!
started_pids+=($cp)
wait_for 5 grep -q '^event: status' "$T/sse3"
t0=$(date +%s)
mtslurm stop >/dev/null
wait $cp || true
[ $(($(date +%s) - t0)) -lt 15 ] || fail "the event stream outlived the master's stop"
log "ok"
