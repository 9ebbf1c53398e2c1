#!/usr/bin/env bash
# Containment with a cgroup per job (docs/worker.md, "Containment"): a
# `setsid` daemon that a job starts is gone after the job completes, is
# cancelled or times out; a function's lingering child is gone after its
# call; the grandchild of a kill -9'd worker is killed by the next worker on
# the node (a live one's sweep, or the next start); stop leaves no group.
#
# Runs twice: as the machine offers (a cgroup where the worker can make one:
# the worker log says which), then with MTSLURM_CGROUP=off, where only the
# fallback's weaker guarantees hold and are asserted: the daemon, the
# function's child and the orphaned grandchild survive (their limits,
# documented), and this scenario kills them itself.
. "$(dirname "$0")/lib.sh"

# survivors PID...: the fallback's limit -- assert they live, then end them
# (they are this scenario's own processes)
survivors() {
	local p
	sleep 1
	for p in "$@"; do
		alive "$p" || fail "fallback: pid $p is gone, but nothing should have killed it (test assumption)"
		kill -9 "$p"
	done
}
# expect_gone WHAT SECONDS PID...: with a cgroup, gone in time; without, survivors
expect_gone() {
	local what=$1 limit=$2
	shift 2
	if [ "$cg" = 1 ]; then
		gone_within "$limit" "$@" || fail "$what: $* survived (cgroup containment)"
		log "cgroup: $what: gone"
	else
		survivors "$@"
		log "fallback: $what: survives, as documented"
	fi
}
# daemon CMD: a job's shell text that starts CMD as a setsid daemon and
# prints its pid once it is in a session of its own (left its job's group)
daemon() {
	printf '%s' "setsid $1 </dev/null >/dev/null 2>&1 & p=\$!; i=0; "
	printf '%s' 'while [ "$(ps -o sid= -p $p | tr -d " ")" != "$p" ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done; echo $p'
}
base_of() { # worker log -> its cgroup base directory ("" without one)
	sed -n 's/.*containment: cgroup v2: a group per job under \([^ ]*\) .*/\1/p' "$@" | sort -u
}

run_pass() {
	rm -rf "$MTSLURM_RUN_DIR"
	mtslurm -n 2 --local start >/dev/null
	local logs=("$MTSLURM_RUN_DIR"/logs/worker-*.log)
	wait_for 10 grep -q "containment:" "${logs[@]}"
	local line
	line=$(grep -h "containment:" "${logs[@]}" | head -n1)
	if grep -q "containment: cgroup v2" "${logs[@]}"; then cg=1; else cg=0; fi
	log "pass '$1': worker log says: ${line#*info: }"
	if [ "$1" = off ]; then
		assert_eq 0 "$cg" "MTSLURM_CGROUP=off: the worker log names the fallback"
		assert_contains "$line" "MTSLURM_CGROUP=off" "the fallback's reason"
	fi
	[ "$cg" = 1 ] || log "NOTE: no writable cgroup here: asserting the fallback's weaker guarantees"
	local bases
	bases=$(base_of "${logs[@]}")

	# completion: a setsid daemon the job started and left running
	local id pids
	id=$(mtslurm submit --exec "$(daemon 'sleep 300')")
	mtslurm wait "$id" --timeout 20 >/dev/null || fail "job $id: $(mtslurm jobs "$id")"
	pids=$(db "select trim(output) from jobs where id=$id")
	[ -n "$pids" ] || fail "job $id printed no pid"
	expect_gone "a setsid daemon after its job completed" 3 $pids

	# cancel
	id=$(mtslurm submit --exec "$(daemon 'sleep 301'); sleep 302")
	pids=$(pids_in_log "$id" 1)
	mtslurm cancel "$id" >/dev/null
	mtslurm wait "$id" --timeout 20 >/dev/null || true
	assert_eq 4 "$(db "select state from jobs where id=$id")" "cancelled job's state"
	expect_gone "a setsid daemon of a cancelled job" 5 $pids

	# timeout, the daemon ignoring SIGTERM (the SIGKILL after the grace ends it)
	id=$(mtslurm submit --timeout 2 --exec "$(daemon 'sh -c "trap \"\" TERM; exec sleep 303"'); sleep 304")
	pids=$(pids_in_log "$id" 1)
	mtslurm wait "$id" --timeout 20 >/dev/null || true
	assert_contains "$(db "select error from jobs where id=$id")" "timed out" "timed-out job"
	expect_gone "a TERM-proof setsid daemon of a timed-out job" 5 $pids

	# a function that forks a child and returns
	id=$(mtslurm submit --func "$TOOLS/libbadfunc.so:forks")
	mtslurm wait "$id" --timeout 20 >/dev/null || fail "func job $id: $(mtslurm jobs "$id")"
	pids=$(db "select json_extract(output, '\$.child') from jobs where id=$id")
	[ -n "$pids" ] || fail "func job $id printed no child pid"
	expect_gone "a function's child after its call" 3 $pids

	# kill -9 of a worker whose job has a grandchild: the other worker's
	# sweep (every 5 s) ends it
	id=$(mtslurm submit --retries 0 --exec 'echo $$; sleep 305 & echo $!; wait')
	local two jp gp wp
	two=$(pids_in_log "$id" 2)
	jp=$(echo "$two" | sed -n 1p)
	gp=$(echo "$two" | sed -n 2p)
	wp=$(ps -o ppid= -p "$jp" | tr -d ' ')
	[ -n "$wp" ] && alive "$wp" || fail "no worker found for job $id (pid $jp)"
	kill -9 "$wp"
	gone_within 5 "$jp" || fail "job $id's own process $jp outlived its kill -9'd worker (pdeathsig)"
	expect_gone "the grandchild of a kill -9'd worker (swept by the other worker)" 12 "$gp"

	# the next start on the node: kill -9 the last worker, then add one
	id=$(mtslurm submit --retries 0 --exec 'echo $$; sleep 306 & echo $!; wait')
	two=$(pids_in_log "$id" 2)
	jp=$(echo "$two" | sed -n 1p)
	gp=$(echo "$two" | sed -n 2p)
	wp=$(ps -o ppid= -p "$jp" | tr -d ' ')
	[ -n "$wp" ] && alive "$wp" || fail "no worker found for job $id (pid $jp)"
	kill -9 "$wp"
	gone_within 5 "$jp" || fail "job $id's own process $jp outlived its kill -9'd worker"
	sleep 0.5
	if [ "$cg" = 1 ] && ! alive "$gp"; then
		# Another cluster's worker on this machine (a concurrent test run)
		# swept the dead worker's group first: that is the sweep working,
		# but then this run cannot show the sweep at start (test_cgroup's
		# sweep test covers it on a fake dead group).
		log "NOTE: grandchild $gp was swept before the next start (by another cluster's worker)"
		mtslurm add-workers -n 1 >/dev/null
	else
		alive "$gp" || fail "the grandchild $gp died with its worker: nothing tests the sweep at start"
		local dead_base
		dead_base=$(base_of "$MTSLURM_RUN_DIR"/logs/worker-*-"$wp"-*.daemon.log 2>/dev/null || true)
		mtslurm add-workers -n 1 >/dev/null
		expect_gone "the grandchild of a kill -9'd worker (swept at the next worker's start)" 3 "$gp"
		if [ "$cg" = 1 ]; then
			# the dead worker's group is removed (by the new worker, or by
			# another cluster's worker on this machine that got there first)
			[ -n "$dead_base" ] || fail "worker $wp logged no cgroup base"
			gone_dir() { [ ! -d "$dead_base" ]; }
			wait_for 5 gone_dir
		fi
	fi

	# stop: no group of this run's workers is left
	bases="$bases $(base_of "$MTSLURM_RUN_DIR"/logs/worker-*.log)"
	mtslurm stop >/dev/null
	local b
	for b in $bases; do
		[ -d "$b" ] && fail "$b is left after stop: $(cat "$b"/*/cgroup.procs 2>/dev/null | tr '\n' ' ')"
	done
	bases=$(echo $bases | tr ' ' '\n' | sort -u)
	[ "$cg" = 1 ] && log "cgroup: stop removed every group of this run ($(echo $bases | wc -w))"
	return 0
}

run_pass "as the machine offers"
machine_cg=$cg
export MTSLURM_CGROUP=off
run_pass off
unset MTSLURM_CGROUP
[ "$machine_cg" = 1 ] || log "NOTE: this machine offers no writable cgroup v2 group: only the fallback ran"
log ok
