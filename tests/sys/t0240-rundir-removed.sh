#!/usr/bin/env bash
# A run directory deleted under a running cluster (rm -rf of a scratch dir)
# must not leave the master and its workers running forever where nobody can
# find them: the master notices that master.lock is gone and stops itself and
# its workers.
. "$(dirname "$0")/lib.sh"

mtslurm -n 2 --local start
mp=$(master_pid)
rp=$(mpirun_pid)
alive "$mp" || fail "no master"
rm -rf "$MTSLURM_RUN_DIR"
gone() { ! alive "$mp" && ! alive "$rp"; }
wait_for 20 gone
log ok
