#!/usr/bin/env bash
# stop ends only what start launched on this node: the master of
# master.json and the mpirun of launch.json, each checked by its command
# line (and mpirun by its start time); never a pid that a worker reports
# about itself (a fake worker naming an unrelated process, or a worker on
# another node whose pid means something else here). Workers are told to
# exit through the protocol.
. "$(dirname "$0")/lib.sh"

mtslurm -n 1 --local start >/dev/null
mp=$(master_pid); rp=$(mpirun_pid)
lj=$(cat "$MTSLURM_RUN_DIR/launch.json")
[ "$(jget "$lj" '$.mpirun_start')" -gt 0 ] || fail "launch.json has no mpirun start time: $lj"
assert_eq "$(hostname)" "$(jget "$lj" '$.node')" "launch.json names this node"

# A fake worker that reports an unrelated process (ours) as its pid.
sleep 600 &
victim=$!
started_pids+=($victim)
"$TOOLS/wire_peer" --role worker --ms 8000 "$MTSLURM_RUN_DIR" \
	"{\"t\":\"hello\",\"worker\":\"evil-worker\",\"slots\":1,\"pid\":$victim,\"node\":\"othernode\"}" \
	> "$T/evil.out" 2>&1 &
started_pids+=($!)
wait_for 10 sh -c "mtslurm workers --json | grep -q evil-worker"
out=$(mtslurm stop --json)
assert_eq 1 "$(jget "$out" '$.stopped')" "stop --json stopped"
assert_eq "$mp" "$(jget "$out" '$.master_pid')" "stop --json names the master"
assert_eq "$rp" "$(jget "$out" '$.launcher_pid')" "stop --json names mpirun"
alive "$mp" && fail "master $mp still alive after stop"
alive "$rp" && fail "mpirun $rp still alive after stop"
alive "$victim" || fail "stop killed pid $victim, which a fake worker reported as its own"
grep -q '"t":"exit"' "$T/evil.out" || fail "the (fake) worker was not told to exit through the protocol: $(cat "$T/evil.out")"

# A launch.json whose pid is now another process (pid reused) is not signalled.
mtslurm -n 1 --local start >/dev/null
mp=$(master_pid); rp=$(mpirun_pid)
kill -9 "$mp"; wait_for 10 sh -c "! kill -0 $mp 2>/dev/null"
# Point launch.json and master.json at the victim: stop must leave it alone.
sed -i "s/\"mpirun_pid\":$rp/\"mpirun_pid\":$victim/" "$MTSLURM_RUN_DIR/launch.json"
timeout 30 mtslurm stop >/dev/null 2>&1 || true
alive "$victim" || fail "stop killed pid $victim named in launch.json but not the mpirun start launched"
kill "$rp" 2>/dev/null || true
log "ok"
