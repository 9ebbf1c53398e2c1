#!/usr/bin/env bash
# start / status / stop in local mode: the master serves, workers connect,
# the run dir is private, a second start is refused, stop leaves nothing.
. "$(dirname "$0")/lib.sh"

mtslurm -n 2 --local start
mp=$(master_pid); rp=$(mpirun_pid)
alive "$mp" || fail "master not running after start"
alive "$rp" || fail "mpirun not running after start"
assert_eq 700 "$(stat -c %a "$MTSLURM_RUN_DIR")" "run dir mode"
assert_eq 600 "$(stat -c %a "$MTSLURM_RUN_DIR/key")" "key mode"
assert_eq 127.0.0.1 "$(json_get "$MTSLURM_RUN_DIR/master.json" host)" "master binds loopback in local mode"

st=$(mtslurm status --json)
assert_eq 2 "$(jget "$st" '$.workers.connected')" "workers connected"
assert_eq 0 "$(jget "$st" '$.jobs.queued')" "queued jobs"
mtslurm status | grep -c "$(json_get "$MTSLURM_RUN_DIR/master.json" port)" >/dev/null || fail "status does not show the port"

# A second start on a live cluster is refused and changes nothing.
if out=$(mtslurm --local -n 2 start 2>&1); then fail "second start succeeded"; fi
assert_contains "$out" "already running" "second start message"
assert_eq "$mp" "$(master_pid)" "master pid after refused start"

ws=$(mtslurm workers --json)
assert_eq 2 "$(jlen "$ws" '$')" "workers listed"

mtslurm stop
alive "$mp" && fail "master $mp still alive after stop"
alive "$rp" && fail "mpirun $rp still alive after stop"
[ -z "$(our_procs)" ] || fail "processes left after stop: $(our_procs)"

# Options may stand after the command word too.
mtslurm start -n 1 --local
assert_eq 1 "$(jget "$(mtslurm status --json)" '$.workers.connected')" "workers after second start"
mtslurm stop
[ -z "$(our_procs)" ] || fail "processes left after second stop"
log "ok"
