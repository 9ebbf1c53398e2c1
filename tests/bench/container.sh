#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Container job overhead (issue 11): the median run time of a trivial job
# (`true`) inside a busybox root filesystem, through each runtime that works
# here, minus the median of the same job run plainly; one worker, one slot,
# 60 jobs each, run times from the store (started -> finished). Target:
# <= 15 ms for bwrap and ch-run. Lines "bench: container_overhead_RT_ms".
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
B=$top/build
export PATH="$B:$PATH"
export USER=${USER:-$(id -un)}
work=$(mktemp -d /tmp/mts-bench-ctr.XXXXXX)
export MTSLURM_RUN_DIR=$work/run
trap 'MTSLURM_RUN_DIR=$MTSLURM_RUN_DIR timeout 30 mtslurm stop >/dev/null 2>&1; rm -rf "$work"' EXIT
img=$work/img
mkdir -p "$img"/{bin,dev,proc,sys,tmp,etc}
cp "$(command -v busybox)" "$img/bin/busybox"
for a in sh true; do ln -s busybox "$img/bin/$a"; done
touch "$img/etc/passwd" "$img/etc/group"
printf '[containers]\ndefault_ulimits = []\n' >"$work/containers.conf"
mtslurm -n 1 --local start --slots 1 >/dev/null
cat >"$MTSLURM_RUN_DIR/runtimes.json" <<JSON
{"runtimes": {"podman-here": {"command": "env CONTAINERS_CONF=$work/containers.conf podman --runtime runc --cgroup-manager=cgroupfs run --rm --init --cgroups=split --network=host {workdir} {volumes} {env} --rootfs {image} {command}"}}}
JSON
n=60
# median run time in ms of n jobs submitted with the given options
median_ms() {
	local ids
	ids=$(for _ in $(seq 1 $n); do echo true; done | mtslurm submit --exec --stdin "$@")
	mtslurm wait $ids --timeout 300 >/dev/null || echo "warning: some jobs failed: $*" >&2
	sqlite3 -cmd '.timeout 5000' "$MTSLURM_RUN_DIR/state.db" \
		"select (finished - started) * 1000 from jobs where id between $(echo "$ids" | head -n1) and $(echo "$ids" | tail -n1) order by 1" |
		sed -n "$((n / 2))p"
}
plain=$(median_ms)
printf 'bench: container_plain_exec_ms %.2f ms\n' "$plain"
for rt in bwrap ch-run podman-here; do
	command -v "${rt%-here}" >/dev/null || { echo "container bench: $rt not installed, skipped"; continue; }
	m=$(median_ms --container "$img" --runtime "$rt")
	printf 'bench: container_overhead_%s_ms %.2f ms\n' "${rt%-here}" "$(awk -v a="$m" -v b="$plain" 'BEGIN{print a-b}')"
done
