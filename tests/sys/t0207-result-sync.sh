#!/usr/bin/env bash
# What `--sync full` promises about results (docs/reliability.md), seen in the
# window between a commit and its fdatasync, which the test-only hook
# MTSLURM_TEST_SYNC_GATE (master/syncgate.h) holds open:
# 1. a worker's result reaches its client once committed, before its sync;
#    the worker keeps it until result_ok, which waits for the sync: after a
#    power loss of the master's node (kill -9, the WAL cut back to what the
#    last sync covered) the worker gives the result to the next master, the
#    job does not run again, and the client's callback fired once;
# 2. a result never overtakes the `submitted` of its connection: while the
#    batch's submit waits for its sync, its jobs run and end, and nothing
#    reaches the client until the sync; then every callback, once each.
. "$(dirname "$0")/lib.sh"

export MTSLURM_TEST_SYNC_GATE=$T/gate
wal=$MTSLURM_RUN_DIR/state.db-wal
# every commit so far is covered by a finished sync
synced_all() { [ -f "$T/gate.synced" ] && [ "$(cat "$T/gate.synced")" = "$(stat -c %s "$wal")" ]; }
state_of() { db "select state from jobs where id=$1"; }
state_is() { [ "$(state_of "$1")" = "$2" ]; } # ID STATE (for wait_for: evaluated on each try)
count_is() { [ "$(eval "$1")" = "$2" ]; }      # CMD N

mtslurm -n 1 --local start
rp=$(mpirun_pid)

# ---- 1. the result delivered before its sync survives a power loss ----
"$TOOLS/order_client" --cmd "echo run >> $T/runs; while [ ! -e $T/go ]; do sleep 0.02; done; echo out-1" \
	--jobs 1 --events "$T/ev1" --until "$T/end1" --timeout 60 > "$T/client1.out" 2>&1 &
cpid=$!
started_pids+=($cpid)
wait_for 30 grep -q '^acked' "$T/ev1"
id=$(awk '/^acked/{print $2}' "$T/ev1")
# running, its assignment written (a deferred write), all of it synced
wait_for 30 test -s "$T/runs"
wait_for 30 state_is "$id" 1
wait_for 30 synced_all
touch "$T/gate" "$T/go" # from now on every sync waits; the job ends
wait_for 30 grep -q "^done $id completed out-1" "$T/ev1"
log "job $id: callback received while its result's sync waits at the gate"
assert_eq 2 "$(state_of "$id")" "the result is committed"
synced_all && fail "the WAL was synced although the gate holds every sync"
# The worker waits (SIGSTOP) until the client is connected to the next
# master, so that the result it hands over reaches the client a second time.
wp=$(sed -n 's/.*starting: pid \([0-9]*\),.*/\1/p' "$MTSLURM_RUN_DIR"/logs/worker-*-0.daemon.log)
alive "$wp" || fail "no worker pid in the worker's log"
kill -STOP "$wp"
mp=$(master_pid)
kill -9 "$mp"
# the power loss: what no sync covered is gone
dead() { ! alive "$1"; }
wait_for 10 dead "$mp"
truncate -s "$(cat "$T/gate.synced")" "$wal"
rm -f "$MTSLURM_RUN_DIR/state.db-shm" "$T/gate"
assert_eq 1 "$(state_of "$id")" "after the cut the store has the job running, not its result"
mtslurm -n 1 --local start > "$T/start.out" 2>&1 &
spid=$!
started_pids+=($spid)
new_master() { [ -n "$(master_pid)" ] && [ "$(master_pid)" != "$mp" ] && alive "$(master_pid)"; }
wait_for 30 new_master
port=$(json_get "$MTSLURM_RUN_DIR/master.json" port)
client_on() { ss -Htnp state established "( dport = :$port )" | grep -q "pid=$cpid,"; }
wait_for 30 client_on
kill -CONT "$wp"
wait "$spid" || fail "restart: $(cat "$T/start.out")"
assert_contains "$(cat "$T/start.out")" "restart" "start on a dead master's run dir restarts the master"
# the worker still holds the result (no result_ok before the sync) and hands it over
wait_for 60 state_is "$id" 2
# synced: the `done` it sent the client again left before that sync began
wait_for 30 synced_all
assert_eq "out-1" "$(db "select output from jobs where id=$id" | tr -d '\n')" "the stored output"
assert_eq 1 "$(wc -l < "$T/runs")" "runs of the job (none again after the power loss)"
touch "$T/end1"
wait "$cpid" || fail "client 1: $(cat "$T/client1.out")"
assert_eq 1 "$(grep -c "^done $id " "$T/ev1")" "callbacks of job $id (a result the client had is not reported again)"

# ---- 2. no result overtakes its submit's acknowledgement ----
# (the master idle and all synced: the client's hello_ok needs no sync)
wait_for 30 synced_all
touch "$T/gate"
"$TOOLS/order_client" --cmd "echo two" --jobs 20 --events "$T/ev2" --until "$T/end2" --timeout 60 \
	> "$T/client2.out" 2>&1 &
cpid=$!
started_pids+=($cpid)
# the batch was committed, ran and ended, while its submit's sync waits
wait_for 60 count_is "db 'select count(*) from jobs where state=2 and id > $id'" 20
assert_eq 0 "$(grep -c . "$T/ev2" || true)" "acks or callbacks before the submit's sync"
rm -f "$T/gate"
wait_for 30 count_is "grep -c '^done' '$T/ev2'" 20
touch "$T/end2"
wait "$cpid" || fail "client 2: $(cat "$T/client2.out")"
assert_eq 20 "$(grep -c '^acked' "$T/ev2")" "acknowledged ids"
assert_eq 20 "$(grep '^done' "$T/ev2" | sort -u | grep -c ' completed two')" "distinct callbacks"
mtslurm stop
log ok
