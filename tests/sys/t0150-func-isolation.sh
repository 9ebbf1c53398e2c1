#!/usr/bin/env bash
# Function jobs run in function hosts: a function that segfaults, aborts,
# exits or sleeps past its timeout fails its own job with the right message
# while good function jobs beside it complete, the workers stay connected
# (and with --master-works the master stays up), --crash-limit 2 tries a
# crashing job twice, the next call after a timeout runs fine, a function's
# printf is in `mtslurm logs`, and `stop` is quick and leaves no host behind.
# Run twice: 2 mpirun workers, then only the master's own worker.
. "$(dirname "$0")/lib.sh"

L=$TOOLS/libbadfunc.so
S=$TOOLS/libsweep.so

# fhost_pids: the function hosts of this cluster (children of its workers).
fhost_pids() {
	local w
	for w in $(mtslurm workers --json | jsql "select json_extract(value,'\$.pid') from json_each(readfile('/dev/stdin'))"); do
		ps -o pid=,args= --ppid "$w" | awk '/mtslurm-fhost/ {print $1}'
	done
}

suite() { # WORKERS
	local nw=$1 mp
	mp=$(master_pid)
	seq 1 30 | sed 's/.*/{"t":&}/' | mtslurm submit --func "$S:simulate" --stdin > "$T/good1"
	local segv abrt ex3 seg2 slow1 slow2 says
	segv=$(mtslurm submit --retries 0 --func "$L:segv")
	abrt=$(mtslurm submit --func "$L:aborts")
	ex3=$(mtslurm submit --func "$L:exits3")
	seg2=$(mtslurm submit --crash-limit 2 --func "$L:segv")
	slow1=$(mtslurm submit --timeout 1 --func "$L:sleeps" 30)
	slow2=$(mtslurm submit --timeout 1 --func "$L:sleeps" 30)
	says=$(mtslurm submit --func "$L:says" '{"n":7}')
	seq 31 60 | sed 's/.*/{"t":&}/' | mtslurm submit --func "$S:simulate" --stdin > "$T/good2"
	mtslurm wait --all --timeout 60 >/dev/null || true

	assert_eq failed "$(db "select case state when 3 then 'failed' else state end from jobs where id=$segv")" "segv job"
	assert_contains "$(db "select error from jobs where id=$segv")" "killed by signal 11 (SIGSEGV)" "segv error"
	assert_contains "$(db "select error from jobs where id=$abrt")" "killed by signal 6 (SIGABRT)" "abort error"
	assert_contains "$(db "select error from jobs where id=$abrt")" "aborts: giving up" "abort error quotes stderr"
	assert_contains "$(db "select error from jobs where id=$ex3")" "exited with status 3" "exit(3) error"
	assert_eq "3|1|1" "$(db "select state,attempts,crashes from jobs where id=$segv")" "segv: one try (crash limit 1)"
	assert_eq "3|2|2" "$(db "select state,attempts,crashes from jobs where id=$seg2")" "segv --crash-limit 2: tried twice"
	for j in $slow1 $slow2; do
		assert_eq "timed out after 1 s" "$(db "select error from jobs where id=$j")" "timed-out job $j"
	done
	assert_eq completed "$(mtslurm jobs --json | jsql "select json_extract(value,'\$.state') from json_each(readfile('/dev/stdin')) where json_extract(value,'\$.id')=$says")" "says job"
	local ngood
	ngood=$(db "select count(*) from jobs where state=2 and type='func' and input like '{\"t\":%'")
	assert_eq 60 "$ngood" "good function jobs completed among the bad ones"
	assert_eq '{"t":60,"y":3600}' "$(db "select output from jobs where id=$(tail -n1 "$T/good2")")" "last good job's output"
	# the function's stdout and stderr are in its job's log
	local lg
	lg=$(mtslurm logs "$says" 2>&1)
	assert_contains "$lg" 'hello from says {"n":7}' "printf of the function in mtslurm logs"
	assert_contains "$lg" 'warn from says' "stderr of the function in mtslurm logs"
	# nobody else was hurt
	assert_eq "$nw" "$(jget "$(mtslurm status --json)" '$.workers.connected')" "workers still connected"
	assert_eq "$mp" "$(master_pid)" "the master is the same process"
	alive "$mp" || fail "the master died"
	# after the timeouts every slot takes function calls again at once
	local t0 ids
	t0=$(date +%s%N)
	ids=$(for i in 1 2 3 4 5 6; do mtslurm submit --timeout 5 --func "$L:sleeps" 0; done)
	mtslurm wait $ids --timeout 20 >/dev/null || fail "function jobs after the timeouts: $(mtslurm jobs $ids)"
	[ $(( ($(date +%s%N) - t0) / 1000000 )) -lt 5000 ] || fail "function jobs after the timeouts took over 5 s"
	# at most one host per slot, and stop is quick and ends them all
	local hosts
	hosts=$(fhost_pids)
	[ "$(echo "$hosts" | grep -c .)" -le "$nw" ] || fail "more function hosts than slots: $hosts"
	t0=$(date +%s%N)
	mtslurm stop >/dev/null
	local ms=$(( ($(date +%s%N) - t0) / 1000000 ))
	[ "$ms" -lt 5000 ] || fail "stop took $ms ms"
	for h in $hosts; do
		for _ in $(seq 1 20); do alive "$h" || break; sleep 0.1; done
		alive "$h" && fail "function host $h outlived stop"
	done
	log "ok with $nw workers: stop in $ms ms"
}

mtslurm -n 2 --local start >/dev/null
suite 2
rm -rf "$MTSLURM_RUN_DIR"
mtslurm -n 0 --local start --master-works >/dev/null
suite 1
log ok
