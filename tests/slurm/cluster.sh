#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# A real Slurm cluster of 4 nodes (n1..n4) on this one machine, for mtslurm's
# tests and for trying mtslurm without a cluster (`make slurm-up`).
#
#   tests/slurm/cluster.sh up   [STATE_DIR]   install what is missing, start, wait until idle
#   tests/slurm/cluster.sh down [STATE_DIR]   cancel its jobs, stop exactly its daemons
#   tests/slurm/cluster.sh env  [STATE_DIR]   print `export SLURM_CONF=...` for a shell
#
# STATE_DIR (default $MTSLURM_SLURM_DIR, else /tmp/mtslurm-slurm) holds the
# configuration, state, logs and pid files; nothing is written to
# /etc/slurm, so a site's own configuration is left alone. Commands and
# libslurm find this cluster through SLURM_CONF=STATE_DIR/slurm.conf.
#
# Everything here is about the test cluster; mtslurm itself depends on none
# of these settings (docs/slurm.md).
set -euo pipefail

cmd=${1:-}
D=${2:-${MTSLURM_SLURM_DIR:-/tmp/mtslurm-slurm}}
conf=$D/slurm.conf
export SLURM_CONF=$conf
nodes=(n1 n2 n3 n4)

say() { echo "slurm-test: $*"; }
die() { echo "slurm-test: $*" >&2; exit 1; }
alive() { [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null; }
pidof_file() { [ -f "$1" ] && cat "$1" 2>/dev/null || true; }

install_missing() {
	local pkgs=(slurm-wlm slurmctld slurmd slurm-client munge libslurm-dev libpmix-dev openmpi-bin libopenmpi-dev)
	local missing=()
	for p in "${pkgs[@]}"; do
		[ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)" = "install ok installed" ] || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return
	[ "$(id -u)" = 0 ] || die "missing packages ${missing[*]}; run as root or apt-get install them"
	say "installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	# Debian's policy keeps these services from starting: we start our own.
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null 2>&1 ||
		{ apt-get update -qq >/dev/null && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; }
}

start_munge() {
	local pidf=/run/munge/munged.pid
	if alive "$(pidof_file $pidf)"; then
		return # someone's munged: use it, and leave it running at down
	fi
	if [ ! -s /etc/munge/munge.key ]; then
		runuser -u munge -- mungekey --create >/dev/null 2>&1 || mungekey --create
		chown munge:munge /etc/munge/munge.key
		chmod 0400 /etc/munge/munge.key
	fi
	mkdir -p /run/munge /var/log/munge /var/lib/munge
	chown munge:munge /run/munge /var/log/munge /var/lib/munge
	chmod 0755 /run/munge
	runuser -u munge -- /usr/sbin/munged
	for _ in $(seq 50); do alive "$(pidof_file $pidf)" && break; sleep 0.1; done
	alive "$(pidof_file $pidf)" || die "munged did not start (see /var/log/munge/munged.log)"
	pidof_file $pidf >"$D/munged.pid.ours"
}

write_conf() {
	mkdir -p "$D/ctld" "$D/log"
	for n in "${nodes[@]}"; do mkdir -p "$D/spool/$n" "$D/tmp/$n"; done
	# Open MPI's shared-memory files are named after the real host name,
	# which every "node" here shares: give each node its own directory.
	cat >"$D/taskprolog.sh" <<-EOF
		#!/bin/sh
		d=$D/tmp/\$SLURMD_NODENAME/vader.\$SLURM_JOB_ID
		mkdir -p "\$d"
		echo "export OMPI_MCA_btl_vader_backing_directory=\$d"
	EOF
	cat >"$D/epilog.sh" <<-EOF
		#!/bin/sh
		rm -rf "$D/tmp/\$SLURMD_NODENAME/vader.\$SLURM_JOB_ID"
		exit 0
	EOF
	chmod 755 "$D/taskprolog.sh" "$D/epilog.sh"
	cat >"$conf" <<-EOF
		# mtslurm test cluster: 4 nodes on this host (tests/slurm/cluster.sh)
		ClusterName=mtstest
		SlurmctldHost=localhost(127.0.0.1)
		SlurmctldPort=16817
		SlurmUser=root
		SlurmdUser=root
		AuthType=auth/munge
		StateSaveLocation=$D/ctld
		SlurmdSpoolDir=$D/spool/%n
		SlurmctldPidFile=$D/slurmctld.pid
		SlurmdPidFile=$D/slurmd-%n.pid
		SlurmctldLogFile=$D/log/slurmctld.log
		SlurmdLogFile=$D/log/slurmd-%n.log
		TmpFS=$D/tmp/%n
		ProctrackType=proctrack/linuxproc
		TaskPlugin=task/none
		SelectType=select/cons_tres
		SelectTypeParameters=CR_CPU
		SlurmdParameters=config_overrides
		AccountingStorageType=accounting_storage/none
		JobCompType=jobcomp/none
		JobAcctGatherType=jobacct_gather/none
		ReturnToService=2
		EnforcePartLimits=ALL
		SlurmdTimeout=300
		JobRequeue=0
		SchedulerParameters=batch_sched_delay=0,sched_min_interval=0
		MpiDefault=pmix
		TaskProlog=$D/taskprolog.sh
		Epilog=$D/epilog.sh
		KillWait=5
		MinJobAge=600
		NodeName=n[1-4] NodeHostname=localhost NodeAddr=127.0.0.1 Port=17001-17004 CPUs=2 RealMemory=4000 State=UNKNOWN
		PartitionName=batch Nodes=n[1-4] Default=YES MaxTime=1-00:00:00 State=UP
		PartitionName=short Nodes=n[1-4] MaxTime=00:05:00 State=UP
	EOF
}

all_idle() {
	local st
	st=$(sinfo -h -N -o '%N %T' 2>/dev/null | sort -u) || return 1
	[ "$(echo "$st" | grep -c ' idle$' || true)" -eq ${#nodes[@]} ]
}

up() {
	if [ -f "$conf" ] && alive "$(pidof_file "$D/slurmctld.pid")"; then
		local ok=1
		for n in "${nodes[@]}"; do alive "$(pidof_file "$D/slurmd-$n.pid")" || ok=0; done
		if [ $ok = 1 ]; then
			say "already up in $D"
			echo "export SLURM_CONF=$conf"
			return
		fi
		down
	fi
	local t0=$SECONDS
	install_missing
	mkdir -p "$D"
	write_conf
	start_munge
	slurmctld -c -f "$conf" || die "slurmctld did not start (see $D/log/slurmctld.log)"
	for n in "${nodes[@]}"; do
		# -N always: without it a slurmd takes n1's identity
		slurmd -f "$conf" -N "$n" || die "slurmd $n did not start (see $D/log/slurmd-$n.log)"
	done
	for _ in $(seq 600); do all_idle && break; sleep 0.1; done
	all_idle || die "nodes not idle after 60 s: $(sinfo -N -h -o '%N %T' 2>&1 | tr '\n' ' ') (see $D/log)"
	say "up in $((SECONDS - t0)) s: 4 nodes n1..n4, partitions batch (default, 1 day) and short (5 min), state in $D"
	echo "export SLURM_CONF=$conf"
}

down() {
	[ -f "$conf" ] || { say "nothing to stop in $D"; return; }
	if alive "$(pidof_file "$D/slurmctld.pid")"; then
		timeout 15 scancel --user="$(id -un)" >/dev/null 2>&1 || true
	fi
	local pids=()
	for n in "${nodes[@]}"; do
		p=$(pidof_file "$D/slurmd-$n.pid")
		alive "$p" && pids+=("$p")
	done
	p=$(pidof_file "$D/slurmctld.pid")
	alive "$p" && pids+=("$p")
	p=$(pidof_file "$D/munged.pid.ours")
	if alive "$p"; then pids+=("$p"); fi
	rm -f "$D/munged.pid.ours"
	[ ${#pids[@]} -gt 0 ] && kill -TERM "${pids[@]}" 2>/dev/null || true
	for _ in $(seq 100); do
		local left=0
		for p in "${pids[@]}"; do alive "$p" && left=1; done
		[ $left = 0 ] && break
		sleep 0.1
	done
	for p in "${pids[@]}"; do alive "$p" && kill -KILL "$p" 2>/dev/null; done
	# job steps killed with their slurmd leave Open MPI session dirs behind
	rm -rf "$D/tmp" "$D/spool"
	say "down (${#pids[@]} daemons stopped; logs kept in $D/log)"
}

case "$cmd" in
up) up ;;
down) down ;;
env) echo "export SLURM_CONF=$conf" ;;
*) echo "usage: tests/slurm/cluster.sh up|down|env [STATE_DIR]" >&2; exit 2 ;;
esac
