#!/usr/bin/env bash
# `make demo`, the README's first command, as a scenario: the target builds
# everything the demo uses (checked with make -n on a fresh build dir), and
# tests/demo.sh on the build under test ($MTS_BUILD, so it also runs under
# ASan/UBSan) must pass and print what it promises -- 100 seeds whose pi
# estimate is near 3.14, five function results y = t*t, a clean stop -- and
# afterwards no process of its cluster may be left. Its run directory is kept (and lies in
# this scenario's temp dir) so that sanitizer reports in the daemons' output
# are found too.
. "$(dirname "$0")/lib.sh"

# Whatever happens, the demo's cluster (its run directory is under $T) ends
# with this scenario: stopped, then killed by PID, before lib.sh's cleanup.
demo_procs() { ps -eo pid=,args= | grep -F -- "$T/mtslurm-demo." | grep -v -e grep -e "ps -eo" || true; }
stop_demo() {
	local d p
	for d in "$T"/mtslurm-demo.*/run; do
		[ -f "$d/master.json" ] && timeout 20 mtslurm --run-dir "$d" stop --timeout 10 >/dev/null 2>&1
	done
	local pids n
	pids=$(demo_procs | awk '{print $1}')
	for p in $pids; do kill -9 "$p" 2>/dev/null; done
	# Gone before lib.sh removes $T, so no late write recreates a file there.
	for n in $(seq 50); do
		any_alive $pids || break
		sleep 0.1
	done
	return 0
}
any_alive() {
	local p
	for p in "$@"; do alive "$p" && return 0; done
	return 1
}
# set +e: under errexit the (exit $rc) that hands rc to cleanup would end the trap.
trap 'rc=$?; set +e; stop_demo; (exit $rc); cleanup' EXIT

# `make demo` in a fresh clone: the target must build everything the demo
# uses and run the demo on that build (make -n prints the commands of a
# fresh build dir without running them or creating anything).
F=$T/fresh-build
plan=$(make -C "$top" -n --no-print-directory BUILD="$F" demo 2>&1) || fail "make -n demo: $plan"
for f in mtslurm mtslurm-master mtslurm-worker libmtslurm.so tests/libsweep.so; do
	grep -q -- "-o $F/$f " <<< "$plan" || fail "make demo on a fresh clone does not build $f"
done
grep -q "MTS_BUILD=$F bash tests/demo.sh" <<< "$plan" || fail "make demo does not run the demo on its build"
[ ! -e "$F" ] || fail "make -n demo created $F"

set +e
out=$(TMPDIR=$T MTSLURM_DEMO_KEEP=1 MTS_BUILD=$MTS_BUILD timeout 300 bash "$top/tests/demo.sh" 2>&1)
rc=$?
set -e
printf '%s\n' "$out" | sed 's/^/  | /' | tail -n 60
[ $rc -eq 0 ] || fail "tests/demo.sh exited $rc"

# The demo ran its cluster in its own run directory, under $T.
rd=$(printf '%s\n' "$out" | sed -n 's/^demo: kept the run directory //p')
[ -n "$rd" ] && [ -d "$rd" ] || fail "the demo did not say which run directory it kept"
case $rd in "$T"/*) ;; *) fail "the demo's run directory $rd is not under TMPDIR=$T" ;; esac

# The demo ran the build under test, and its function jobs called that
# build's sample library.
build=$(cd "$MTS_BUILD" && pwd)
assert_contains "$out" "demo: commands from $build" "the build the demo used"
assert_contains "$out" "mtslurm submit --func $build/tests/libsweep.so:simulate" "the library the demo used"
mpid=$(printf '%s\n' "$out" | sed -n 's/^mtslurm: master .*(pid \([0-9]*\)), .*/\1/p' | head -n1)
rpid=$(printf '%s\n' "$out" | sed -n 's/.*(mpirun pid \([0-9]*\)).*/\1/p' | head -n1)
[ -n "$mpid" ] && [ -n "$rpid" ] || fail "no 'mtslurm: master ... (pid P), N workers (mpirun pid Q)' line"

assert_contains "$out" "submitted 100 jobs, ids 1..100" "the sweep's submit"
pi=$(printf '%s\n' "$out" | sed -n 's/^pi estimate over 100 seeds: \([0-9.]*\)$/\1/p')
[ -n "$pi" ] || fail "no 'pi estimate over 100 seeds: X' line (all 100 exec jobs completed)"
awk -v p="$pi" 'BEGIN { exit !(p > 3.12 && p < 3.16) }' || fail "pi estimate $pi is not near 3.14"

# Five function jobs, each {"t":T,"y":T*T}, computed by libsweep.so:simulate.
n=0
while read -r t y; do
	awk -v t="$t" -v y="$y" 'BEGIN { d = y - t * t; exit !(d < 1e-9 && d > -1e-9) }' ||
		fail "function job with t=$t returned y=$y, not t*t"
	n=$((n + 1))
done < <(printf '%s\n' "$out" | sed -n 's/^function job [0-9]* -> {"t":\([0-9.]*\),"y":\([0-9.e-]*\)}$/\1 \2/p')
assert_eq 5 "$n" "function results"

# The HTTP part: a mindtrace Job through /submit_job, served by a launched
# echo worker, with mindtrace's result shape.
assert_contains "$out" '"job_id":"demo-1","worker_id":"","status":"queued"' "the demo's HTTP submit"
assert_contains "$out" '"status":"completed","output":{"echoed":"hello over HTTP"}' "the demo's HTTP result"

assert_contains "$out" "mtslurm: stopped the cluster in $rd" "the demo's stop"
assert_contains "$out" "no process of the cluster is left" "the demo's own check after stop"

# Nothing of that cluster runs any more: not its master, not its mpirun, no
# process naming its run directory (the workers do).
for p in $mpid $rpid; do
	! alive "$p" || fail "pid $p of the demo's cluster still runs after the demo"
done
left=$(demo_procs)
[ -z "$left" ] || fail "still running after the demo: $left"

# Sanitizer reports of the daemons (ASan build) fail the scenario.
if grep -l -E "ERROR: (Address|Leak)Sanitizer|runtime error:" "$rd"/logs/*.out >/dev/null 2>&1; then
	grep -h -A20 -E "ERROR: (Address|Leak)Sanitizer|runtime error:" "$rd"/logs/*.out | head -n 60
	fail "a sanitizer report in the demo cluster's output"
fi
log ok
