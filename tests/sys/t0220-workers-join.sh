#!/usr/bin/env bash
# Workers join and leave at any time, while a client is running: a worker
# started by hand joins a busy cluster and takes queued work (including work
# prefetched by the busy worker: with 60 jobs and a prefetch window of 64
# the first worker holds them all, so the newcomer only gets work by
# stealing), then leaves again without losing a job.
. "$(dirname "$0")/lib.sh"

mtslurm -n 1 --local start
seq 1 60 | mtslurm submit --echo --stdin --delay 0.1 > "$T/ids"
sleep 0.5
"$MTS_BUILD/mtslurm-worker" --no-mpi --id joiner --run-dir "$MTSLURM_RUN_DIR" &
jp=$!
started_pids+=($jp)
joined() { [ "$(jget "$(mtslurm status --json)" '$.workers.connected')" = 2 ]; }
wait_for 10 joined
took() { [ "$(db "select count(*) from jobs where worker='joiner' and state=2")" -ge 10 ]; }
wait_for 20 took
# The joiner leaves in the middle of the run (SIGTERM: it finishes cleanly).
kill -TERM $jp
wait $jp || true
mtslurm wait --all --timeout 60
assert_eq 60 "$(db "select count(*) from jobs where state=2")" "every job completed"
n=$(db "select count(*) from jobs where worker='joiner'")
log "the joining worker ran $n of 60 jobs"
assert_eq 1 "$(jget "$(mtslurm status --json)" '$.workers.connected')" "workers after the joiner left"
mtslurm stop
log ok
