#!/usr/bin/env bash
# Exec jobs are contained: a `cmd &` that outlives the job's process is
# killed at the job's end, cancel and timeout end every process of the job's
# group, and a kill -9'd worker takes its job's process with it
# (PR_SET_PDEATHSIG). This is the process-group method, the fallback where
# no cgroup can be made, so it runs with MTSLURM_CGROUP=off; a `setsid`
# daemon leaves the group and is out of its reach (docs/user-guide.md,
# "Isolation"). The cgroup per job is t0158.
. "$(dirname "$0")/lib.sh"
export MTSLURM_CGROUP=off

mtslurm -n 2 --local start >/dev/null

# a background child that outlives the job's own process
id=$(mtslurm submit --exec 'sleep 300 & echo $!')
mtslurm wait "$id" --timeout 20 >/dev/null || fail "job $id: $(mtslurm jobs "$id")"
bg=$(db "select trim(output) from jobs where id=$id")
[ -n "$bg" ] || fail "job $id printed no pid"
gone_within 3 "$bg" || fail "the background 'sleep 300' ($bg) of job $id outlived it"
log "a background child is killed at the job's end"

# cancel: the whole group, a nested shell's children too
id=$(mtslurm submit --exec 'sh -c "sleep 301 & echo \$!; sleep 302 & echo \$!; wait" & echo $!; wait')
pids=$(pids_in_log "$id" 3)
mtslurm cancel "$id" >/dev/null
mtslurm wait "$id" --timeout 20 >/dev/null || true
assert_eq cancelled "$(mtslurm jobs --json | jsql "select json_extract(value,'\$.state') from json_each(readfile('/dev/stdin')) where json_extract(value,'\$.id')=$id")" "cancelled job"
gone_within 5 $pids || fail "processes of cancelled job $id survive: $pids"
log "cancel ends the whole group"

# timeout, with a child that ignores SIGTERM (SIGKILL after the grace)
id=$(mtslurm submit --timeout 1 --exec 'sh -c "trap \"\" TERM; sleep 303" & echo $!; sleep 304 & echo $!; wait')
pids=$(pids_in_log "$id" 2)
mtslurm wait "$id" --timeout 20 >/dev/null || true
assert_contains "$(db "select error from jobs where id=$id")" "timed out" "timed-out job"
gone_within 5 $pids || fail "processes of timed-out job $id survive: $pids"
log "timeout ends the whole group"

# kill -9 of a worker: its job's process dies with it
id=$(mtslurm submit --retries 0 --exec 'sh -c "echo \$\$; exec sleep 305"')
jp=$(pids_in_log "$id" 1)
wp=$(ps -o ppid= -p "$jp" | tr -d ' ')
[ -n "$wp" ] && alive "$wp" || fail "no worker found for job $id (pid $jp)"
kill -9 "$wp"
gone_within 5 "$jp" || fail "job $id's process $jp outlived its kill -9'd worker $wp"
log "a kill -9'd worker leaves no job process"
mtslurm stop >/dev/null

# The same without mpirun around (which may clean up after a dead rank on
# its own): the master's own worker, kill -9'd with the master. Only the
# job's PR_SET_PDEATHSIG ends its process, and the function host's.
rm -rf "$MTSLURM_RUN_DIR"
mtslurm -n 0 --local start --master-works >/dev/null
mp=$(master_pid)
# (a direct command: the job's own process, the one PR_SET_PDEATHSIG is
# set in; what that process forks does not inherit it)
id=$(mtslurm submit --exec 'sleep 306')
jp=
for _ in $(seq 1 50); do
	jp=$( (ps -o pid=,args= --ppid "$mp" || true) | awk '$2 == "sleep" && $3 == "306" {print $1}')
	[ -n "$jp" ] && break
	sleep 0.1
done
[ -n "$jp" ] || fail "job $id's process not found among the master's children"
kill -9 "$mp"
gone_within 5 "$jp" || fail "job $id's process $jp outlived the kill -9'd master-worker $mp"
log "a kill -9'd master with --master-works leaves no job process"
rm -rf "$MTSLURM_RUN_DIR"
mtslurm -n 0 --local start --master-works >/dev/null
mp=$(master_pid)
fid=$(mtslurm submit --func "$TOOLS/libbadfunc.so:sleeps" 300)
hp=
for _ in $(seq 1 50); do
	hp=$( (ps -o pid=,args= --ppid "$mp" || true) | awk '/mtslurm-fhost/ {print $1}')
	[ -n "$hp" ] && break
	sleep 0.1
done
[ -n "$hp" ] || fail "no function host for job $fid"
kill -9 "$mp"
gone_within 5 "$hp" || fail "function host $hp outlived the kill -9'd master-worker $mp"
log "... and no function host"
log ok
