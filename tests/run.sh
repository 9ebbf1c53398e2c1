#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Run every test: the cmocka unit tests and the numbered system scenarios in
# tests/sys/, on the normal build and (with --asan-build) again on the
# ASan/UBSan build. Each test runs in its own process group under a time limit.
# Prints one line per test and ends with "N passed, N failed".
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
build=build
asan=
only=
while [ $# -gt 0 ]; do
	case "$1" in
	--build) build=$2; shift 2 ;;
	--asan-build) asan=$2; shift 2 ;;
	--only) only=$2; shift 2 ;;
	*) echo "usage: tests/run.sh [--build DIR] [--asan-build DIR] [--only PATTERN]" >&2; exit 2 ;;
	esac
done

passed=0
failed=0
failures=()
logdir=$(mktemp -d /tmp/mts-test-logs.XXXXXX)

run_one() { # name limit_s command...
	local name=$1 limit=$2
	shift 2
	[ -n "$only" ] && [[ "$name" != *$only* ]] && return
	local log="$logdir/$(echo "$name" | tr '/ ' '__').log"
	local t0=$(date +%s.%N)
	timeout -k 10 "$limit" "$@" >"$log" 2>&1
	local rc=$?
	local dt=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}')
	if [ $rc -eq 0 ]; then
		passed=$((passed + 1))
		echo "ok   $name (${dt}s)"
	else
		failed=$((failed + 1))
		failures+=("$name")
		[ $rc -eq 124 ] && echo "FAIL $name (timed out after ${limit}s)" || echo "FAIL $name (exit $rc, ${dt}s)"
		# the scenario's own verdict first: daemon logs follow it and the
		# tail alone can hide it
		grep -m 3 -E '^FAIL:|FAIL ' "$log" | sed 's/^/     > /'
		sed 's/^/     | /' "$log" | tail -n 40
	fi
}

suite() { # label build_dir
	local label=$1 b=$2
	export MTS_BUILD=$(cd "$top/$b" && pwd)
	for t in "$MTS_BUILD"/tests/test_*; do
		[ -x "$t" ] || continue
		run_one "$label unit/$(basename "$t")" 300 "$t"
	done
	for t in "$top"/tests/sys/t[0-9]*.sh; do
		[ -f "$t" ] || continue
		case "$(basename "$t")" in t05*) [ -n "$only" ] && [[ "$label sys/$(basename "$t" .sh)" != *$only* ]] || ran_slurm=1 ;; esac
		run_one "$label sys/$(basename "$t" .sh)" 600 bash "$t"
	done
}

cd "$top"
# The Slurm scenarios (t05*) start the test Slurm cluster when it is not up
# (tests/slurm/cluster.sh); what this run started, it stops at the end.
export MTSLURM_SLURM_DIR=${MTSLURM_SLURM_DIR:-/tmp/mtslurm-slurm}
slurm_was_up=0
ran_slurm=0
[ -f "$MTSLURM_SLURM_DIR/slurmctld.pid" ] && kill -0 "$(cat "$MTSLURM_SLURM_DIR/slurmctld.pid")" 2>/dev/null &&
	slurm_was_up=1
suite build "$build"
if [ -n "$asan" ]; then
	export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:halt_on_error=1
	export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
	export LSAN_OPTIONS=suppressions=$top/tests/lsan.supp:print_suppressions=0
	suite asan "$asan"
fi
# Only a run that ran a Slurm scenario can have started it: another run on
# the same machine (--only) must not take down a cluster someone else uses.
[ $slurm_was_up = 1 ] || [ $ran_slurm = 0 ] || bash "$top/tests/slurm/cluster.sh" down "$MTSLURM_SLURM_DIR" >/dev/null 2>&1
rm -rf "$logdir"
if [ ${#failures[@]} -gt 0 ]; then
	echo "failed: ${failures[*]}"
fi
echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
