#!/usr/bin/env bash
# --master-works: the master process runs jobs in one slot of its own.
. "$(dirname "$0")/lib.sh"

mtslurm -n 1 --local start --master-works
st=$(mtslurm status --json)
assert_eq 2 "$(jget "$st" '$.workers.connected')" "mpirun worker + the master's own"
mp=$(master_pid)
ws=$(mtslurm workers --json)
mw=$(printf '%s' "$ws" | jsql "select json_extract(value,'\$.id') from json_each(readfile('/dev/stdin')) where json_extract(value,'\$.pid')=$mp")
[ -n "$mw" ] || fail "no worker runs inside the master (pid $mp): $ws"
for i in $(seq 1 40); do echo "sleep 0.05; echo \$\$"; done | mtslurm submit --exec --stdin >/dev/null
mtslurm wait --all --timeout 60
n=$(db "select count(*) from jobs where worker='$mw' and state=2")
[ "$n" -ge 1 ] || fail "the master ran no job"
log "the master ran $n of 40 jobs"
mtslurm stop
log ok
