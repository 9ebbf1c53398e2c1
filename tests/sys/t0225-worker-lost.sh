#!/usr/bin/env bash
# Lost workers are reported and can be replaced in local mode: a worker
# killed -9 is named in the master's log with its pid, rank, the reason
# (its connection closed) and its requeued job; status counts it, lists it
# and warns; a worker stopped by SIGTERM tells the master why (`leaving`);
# with none left and jobs queued status says nothing will run; `add-workers
# -n 2` starts a second mpirun whose workers run the queued jobs; launch.json
# lists both launches and `stop` ends every process of both. A launch.json in
# the single-launch form of an older mtslurm still works for stop and for
# start's master restart. A hung worker is dropped with "heartbeat timeout".
. "$(dirname "$0")/lib.sh"

mlog=$MTSLURM_RUN_DIR/logs/master.log
mtslurm -n 2 --local start --prefetch 0
a=$(mtslurm submit --exec 'sleep 4; echo done-a')
b=$(mtslurm submit --exec 'sleep 4; echo done-b')
running() { [ "$(db "select count(*) from jobs where state=1")" = 2 ]; }
wait_for 20 running
wjson=$(mtslurm workers --json)
# worker id, pid and rank of the worker running job $1
wa=$(db "select worker from jobs where id=$a"); wb=$(db "select worker from jobs where id=$b")
[ -n "$wa" ] && [ -n "$wb" ] && [ "$wa" != "$wb" ] || fail "jobs $a, $b not on two workers: '$wa' '$wb'"
wfield() { jget "$wjson" "\$[$(printf '%s' "$wjson" | jsql "select key from json_each(readfile('/dev/stdin')) where json_extract(value,'\$.id')='$1'")].$2"; }
pa=$(wfield "$wa" pid); ra=$(wfield "$wa" rank); pb=$(wfield "$wb" pid)
[ -n "$pa" ] && [ -n "$pb" ] || fail "worker pids not listed: $wjson"

# 1. kill -9: the master's log names the worker, the reason and its job.
kill -9 "$pa"
log "killed worker $wa (pid $pa, rank $ra), which ran job $a"
lost_logged() { grep -q "worker $wa lost" "$mlog"; }
wait_for 15 lost_logged
line=$(grep "worker $wa lost" "$mlog")
assert_contains "$line" "pid $pa, rank $ra" "the log line names the pid and rank"
assert_contains "$line" "node $(hostname)" "the log line names the node"
assert_contains "$line" "closed the connection" "the log line gives the reason"
assert_contains "$line" "of its 1 jobs 1 requeued, 0 failed" "the log line says what happened to its job"

# 2. status --json: one lost, with its reason; the text warns.
st=$(mtslurm status --json)
assert_eq 1 "$(jget "$st" '$.workers.connected')" "connected after the kill"
assert_eq 1 "$(jget "$st" '$.workers.lost')" "lost count"
assert_eq "$wa" "$(jget "$st" '$.workers.lost_recent[0].id')" "lost worker id"
assert_eq "$pa" "$(jget "$st" '$.workers.lost_recent[0].pid')" "lost worker pid"
assert_eq connection "$(jget "$st" '$.workers.lost_recent[0].cause')" "lost worker cause"
assert_contains "$(jget "$st" '$.workers.lost_recent[0].reason')" "closed the connection" "lost worker reason"
assert_eq 1 "$(jget "$st" '$.workers.lost_recent[0].requeued')" "lost worker's requeued jobs"
assert_eq 2 "$(jget "$st" '$.workers.expected')" "workers expected"
txt=$(mtslurm status)
assert_contains "$txt" "1 lost since the master started" "status text counts the lost worker"
assert_contains "$txt" "warning  1 of 2 workers are connected" "status text warns"
assert_contains "$(mtslurm workers --all)" "lost" "workers --all lists the lost worker"
assert_eq 2 "$(jlen "$(mtslurm workers --all --json)" '$')" "workers --all --json: one connected, one lost"

# 3. SIGTERM: the worker says why it leaves; with none left and jobs
# queued, status says nothing will run.
kill -TERM "$pb"
log "stopped worker $wb (pid $pb) with SIGTERM"
none() { [ "$(jget "$(mtslurm status --json)" '$.workers.connected')" = 0 ]; }
wait_for 15 none
st=$(mtslurm status --json)
assert_eq 2 "$(jget "$st" '$.workers.lost')" "lost count after the second"
assert_eq "$wb" "$(jget "$st" '$.workers.lost_recent[0].id')" "newest lost first"
assert_eq exited "$(jget "$st" '$.workers.lost_recent[0].cause')" "a worker that said why"
assert_contains "$(jget "$st" '$.workers.lost_recent[0].reason')" "got SIGTERM" "the worker's own reason"
assert_eq 2 "$(jget "$st" '$.jobs.queued')" "both jobs queued again"
assert_contains "$(jget "$st" '$.warnings[0]')" "0 workers connected and 2 jobs queued: nothing will run" \
	"status --json warning"
txt=$(mtslurm status)
assert_contains "$txt" "warning  0 workers connected and 2 jobs queued: nothing will run; add workers with \`mtslurm add-workers -n N\`" \
	"status text warning"
assert_contains "$(grep "worker $wb lost" "$mlog")" "the worker exited: got SIGTERM" "log line of the SIGTERM"
grep -q "no worker is connected and 2 jobs are queued" "$mlog" || fail "the master's log does not warn that nothing runs"

# 4. add-workers: a second mpirun joins the same master; the jobs complete.
out=$(mtslurm add-workers -n 2 --json)
assert_eq 2 "$(jget "$out" '$.added')" "add-workers --json added"
assert_eq 2 "$(jget "$out" '$.connected')" "add-workers --json connected"
lj=$(cat "$MTSLURM_RUN_DIR/launch.json")
assert_eq 2 "$(jlen "$lj" '$.launches')" "launch.json lists both launches (the first one ended)"
p1=$(jget "$lj" '$.launches[0].pid'); p2=$(jget "$lj" '$.launches[1].pid')
[ "$p2" = "$(jget "$out" '$.launcher_pid')" ] || fail "the second launch is not add-workers' mpirun: $lj / $out"
alive "$p2" || fail "the second mpirun (pid $p2) does not run"
wpids=$(mtslurm workers --json | jsql "select json_extract(value,'\$.pid') from json_each(readfile('/dev/stdin'))")
assert_eq 2 "$(echo "$wpids" | wc -w)" "two workers listed after add-workers"
for p in $wpids; do
	[ "$(sed 's/.*) . \([0-9]*\).*/\1/' /proc/$p/stat)" = "$p2" ] || fail "worker pid $p is not a rank of mpirun $p2"
done
mtslurm wait "$a" "$b" --timeout 60
assert_eq done-a "$(db "select trim(output) from jobs where id=$a")" "job a re-ran"
assert_eq 2 "$(db "select attempts from jobs where id=$a")" "job a's attempts"
txt=$(mtslurm status)
case "$txt" in *warning*) fail "status still warns after add-workers: $txt" ;; esac

# 5. A third launch; stop ends the processes of every launch (checked by
# pid). The first mpirun ended by itself when its last rank left.
! alive "$p1" || fail "the first mpirun (pid $p1) outlived both its ranks"
out=$(mtslurm add-workers -n 1 --json)
p3=$(jget "$out" '$.launcher_pid')
assert_eq 3 "$(jget "$out" '$.connected')" "connected after the third launch"
assert_eq 3 "$(jlen "$(cat "$MTSLURM_RUN_DIR/launch.json")" '$.launches')" "launch.json lists every launch"
assert_eq 3 "$(jget "$(mtslurm status --json)" '$.workers.expected')" "workers expected after two add-workers"
wpids=$(mtslurm workers --json | jsql "select json_extract(value,'\$.pid') from json_each(readfile('/dev/stdin'))")
out=$(mtslurm stop --json)
assert_eq "[$p2,$p3]" "$(jget "$out" '$.launcher_pids')" "stop ends the running launches"
for p in $p1 $p2 $p3 $wpids; do
	! alive "$p" || fail "pid $p of a launch is still running after stop"
done

# 6. The single-launch launch.json of an older mtslurm: start restarts a
# dead master for it, and stop ends its mpirun.
mtslurm -n 1 --local start
lj=$(cat "$MTSLURM_RUN_DIR/launch.json")
rp=$(jget "$lj" '$.launches[0].pid')
printf '{"mode":"local","mpirun_pid":%s,"mpirun_start":%s,"node":"%s","workers":1}' "$rp" \
	"$(jget "$lj" '$.mpirun_start')" "$(jget "$lj" '$.node')" > "$MTSLURM_RUN_DIR/launch.json"
mp=$(master_pid)
kill -9 "$mp"
gone() { ! alive "$mp"; }
wait_for 10 gone
assert_contains "$(mtslurm --local start)" "master restarted" "start restarts the master for an old launch.json"
mtslurm stop
! alive "$rp" || fail "stop left the mpirun (pid $rp) of an old-form launch.json"

# 7. A worker that hangs (SIGSTOP) is dropped at the heartbeat timeout, and
# the reason says so; resumed, it reconnects.
MTSLURM_MASTER_ARGS="--ping-ms 300 --idle-ms 1500" mtslurm -n 1 --local start
wp=$(mtslurm workers --json | jsql "select json_extract(value,'\$.pid') from json_each(readfile('/dev/stdin'))")
kill -STOP "$wp"
dropped() { [ "$(jget "$(mtslurm status --json)" '$.workers.lost')" = 1 ]; }
wait_for 15 dropped
kill -CONT "$wp"
st=$(mtslurm status --json)
assert_contains "$(jget "$st" '$.workers.lost_recent[0].reason')" "(heartbeat timeout)" "a hung worker's reason"
back() { [ "$(jget "$(mtslurm status --json)" '$.workers.connected')" = 1 ]; }
wait_for 15 back

# 8. status keeps the newest 16 lost workers, newest first, and counts all.
pids=()
for i in $(seq 1 17); do
	"$MTS_BUILD/mtslurm-worker" --no-mpi --id "lw-$i" --run-dir "$MTSLURM_RUN_DIR" &
	pids+=($!); started_pids+=($!)
done
all_in() { [ "$(jget "$(mtslurm status --json)" '$.workers.connected')" = 18 ]; }
wait_for 30 all_in
for i in $(seq 1 17); do
	kill -TERM "${pids[$((i - 1))]}"
	nlost() { [ "$(jget "$(mtslurm status --json)" '$.workers.lost')" = "$1" ]; }
	wait_for 15 nlost $((i + 1))
done
st=$(mtslurm status --json)
assert_eq 16 "$(jlen "$st" '$.workers.lost_recent')" "lost workers listed"
assert_eq lw-17 "$(jget "$st" '$.workers.lost_recent[0].id')" "the newest lost worker first"
assert_eq lw-2 "$(jget "$st" '$.workers.lost_recent[15].id')" "the 16th newest last"
assert_eq 17 "$(jlen "$(mtslurm workers --all --json)" '$')" "workers --all: 1 connected and 16 lost"
mtslurm stop
log ok
