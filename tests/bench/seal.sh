#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# seal.sh: the record layer's cost (issue 9, item 7): echo throughput and round trip
# with every connection sealed (the default) and in clear (the benchmarking
# knob MTSLURM_BENCH_PLAINTEXT=1, honoured only by a master on loopback),
# alternated three times on 2 workers, medians compared. wire_probe checks
# that each cluster really runs the mode it is counted under. Besides the
# rates (wall clock, which other load on the machine moves by tens of
# percent), the CPU time the master, the workers and the client spent per job
# (from /proc and /usr/bin/time), which that load moves much less.
# Part of `make bench` (run.sh calls it); runs alone too:
#   BENCH_JOBS=200000 bash tests/bench/seal.sh
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
B=$top/build
export PATH="$B:$PATH"
work=$(mktemp -d /tmp/mts-bench-seal.XXXXXX)
jobs=${BENCH_JOBS:-1000000}
cleanup() {
	set +e
	for d in "$work"/run-*; do [ -f "$d/master.json" ] && MTSLURM_RUN_DIR=$d timeout 30 mtslurm stop >/dev/null 2>&1; done
	rm -rf "$work"
}
trap cleanup EXIT
fig() { printf 'bench: %s %s %s\n' "$1" "$2" "$3"; }
hz=$(getconf CLK_TCK)
# cpu_ticks PID...: user + system ticks of those processes so far.
cpu_ticks() { local t=0 p; for p in "$@"; do t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat"))); done; echo $t; }
json_pids() { grep -o '"pid":[0-9]*' | cut -d: -f2; }

sealed_rates=() plain_rates=() sealed_rtts=() plain_rtts=() sealed_cpus=() plain_cpus=()
# Which mode runs first alternates (the first run after a build is slower),
# and a short run warms the machine up first (not counted).
export MTSLURM_RUN_DIR=$work/run-warmup
mtslurm -n 2 --local start >/dev/null
"$B/bench/bench_echo" $((jobs / 10)) >/dev/null
mtslurm stop >/dev/null
for k in 1 2 3; do
	order="sealed plain"
	[ $((k % 2)) = 0 ] && order="plain sealed"
	for mode in $order; do
		export MTSLURM_RUN_DIR=$work/run-$mode-$k
		if [ $mode = plain ]; then
			MTSLURM_BENCH_PLAINTEXT=1 mtslurm -n 2 --local start >/dev/null
			want="rec none"
		else
			mtslurm -n 2 --local start >/dev/null
			want="rec aes-256-gcm"
		fi
		"$B/tests/wire_probe" "$MTSLURM_RUN_DIR" | grep -qx "$want" ||
			{ echo "bench: the $mode cluster does not announce '$want'" >&2; exit 1; }
		pids=$( (cat "$MTSLURM_RUN_DIR/master.json"; mtslurm workers --json) | json_pids | sort -u)
		t0=$(cpu_ticks $pids)
		out=$(/usr/bin/time -f 'cpu %U %S' "$B/bench/bench_echo" "$jobs" 2>&1)
		t1=$(cpu_ticks $pids)
		rate=$(echo "$out" | awk '/^rate/{print $2}')
		cpu=$(echo "$out" | awk -v a="$t0" -v b="$t1" -v hz="$hz" -v n="$jobs" \
			'/^cpu/{printf "%.2f", ((b - a) / hz + $2 + $3) * 1e6 / n}')
		rtt=$("$B/bench/bench_rtt" 5000 | awk '{print $2}')
		echo "  $mode run $k: $rate jobs/s, $cpu us CPU per job, rtt median $rtt us"
		if [ $mode = plain ]; then plain_rates+=("$rate") plain_rtts+=("$rtt") plain_cpus+=("$cpu")
		else sealed_rates+=("$rate") sealed_rtts+=("$rtt") sealed_cpus+=("$cpu"); fi
		mtslurm stop >/dev/null
	done
done
med() { printf '%s\n' "$@" | sort -n | sed -n 2p; }
sr=$(med "${sealed_rates[@]}") pr=$(med "${plain_rates[@]}")
fig echo_w2_sealed_jobs_per_s "$sr" jobs/s
fig echo_w2_plain_jobs_per_s "$pr" jobs/s
fig echo_w2_sealed_vs_plain "$(awk -v a="$sr" -v b="$pr" 'BEGIN{printf "%.1f", 100*a/b}')" %
sc=$(med "${sealed_cpus[@]}") pc=$(med "${plain_cpus[@]}")
fig echo_w2_sealed_cpu_us_per_job "$sc" us
fig echo_w2_plain_cpu_us_per_job "$pc" us
fig echo_w2_sealed_cpu_vs_plain "$(awk -v a="$sc" -v b="$pc" 'BEGIN{printf "%.1f", 100*a/b}')" %
fig rtt_w2_sealed_median_us "$(med "${sealed_rtts[@]}")" us
fig rtt_w2_plain_median_us "$(med "${plain_rtts[@]}")" us
