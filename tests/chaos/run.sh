#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# `make chaos`: faults at random moments of a large run, and what they cost.
# A local cluster runs CHAOS_JOBS echo jobs (default 200,000) submitted by
# API clients (tests/tools/sweep_client) while this script, at random moments,
# kill -9s the master CHAOS_MASTER_KILLS times (default 20; each time
# `PRAGMA integrity_check` runs on state.db before `mtslurm start` restarts
# it), a worker CHAOS_WORKER_KILLS times (default 2) and the submitting client
# CHAOS_CLIENT_KILLS times (default 3; the next client goes on submitting).
# A trigger in state.db records every rewrite of a job that was already final.
# Prints "chaos: NAME VALUE UNIT" lines and exits 1 if an acknowledged job
# was lost, a result was recorded twice, or an integrity check failed.
# CHAOS_SEED makes the moments repeatable.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
MTS_BUILD=${MTS_BUILD:-$top/build}
export PATH="$MTS_BUILD:$PATH"
TOOLS=$MTS_BUILD/tests
N=${CHAOS_JOBS:-200000}
MK=${CHAOS_MASTER_KILLS:-20}
WK=${CHAOS_WORKER_KILLS:-2}
CK=${CHAOS_CLIENT_KILLS:-3}
SEED=${CHAOS_SEED:-$$}
DELAY=${CHAOS_DELAY:-0.006}
WAITS=${CHAOS_WAIT:-600} # how long clients and this script wait for the jobs
W=4
RANDOM=$SEED
T=$(mktemp -d /tmp/mts-chaos.XXXXXX)
export MTSLURM_RUN_DIR=$T/run
sub_pid=

say() { echo "[$(date +%T)] $*"; }
alive() {
	[ -n "$1" ] && [ -r "/proc/$1/stat" ] || return 1
	local st
	st=$(sed 's/.*) \(.\).*/\1/' "/proc/$1/stat" 2>/dev/null) || return 1
	[ "$st" != Z ] && [ "$st" != X ]
}
jnum() { sed -n "s/.*\"$2\":\"\{0,1\}\([^,\"}]*\).*/\1/p" "$1" | head -n1; }
master_pid() { [ -f "$MTSLURM_RUN_DIR/master.json" ] && jnum "$MTSLURM_RUN_DIR/master.json" pid || true; }
mpirun_pid() { [ -f "$MTSLURM_RUN_DIR/launch.json" ] && jnum "$MTSLURM_RUN_DIR/launch.json" mpirun_pid || true; }
db() { sqlite3 -cmd '.timeout 10000' "$MTSLURM_RUN_DIR/state.db" "$@"; }
acked_n() { { cat "$T"/acked.* 2>/dev/null || true; } | wc -l; }
rnd_ms() { echo $((RANDOM % ($2 - $1) + $1)); } # lo hi
nap() { sleep "$(awk -v m="$1" 'BEGIN{printf "%.3f", m/1000}')"; }

cleanup() {
	local rc=$?
	set +e
	[ -n "$sub_pid" ] && alive "$sub_pid" && kill -9 "$sub_pid"
	[ -f "$T/client.pid" ] && alive "$(cat "$T/client.pid")" && kill -9 "$(cat "$T/client.pid")"
	local mp=$(master_pid) rp=$(mpirun_pid)
	timeout 30 mtslurm stop --timeout 10 >/dev/null 2>&1
	for p in $mp $rp; do alive "$p" && kill -9 "$p"; done
	for p in $(ps -eo pid=,args= | grep -F -- "$MTSLURM_RUN_DIR" | grep -v grep | awk '{print $1}'); do
		kill -9 "$p" 2>/dev/null
	done
	[ -n "$rp" ] && rm -rf /tmp/ompi.*/pid."$rp" 2>/dev/null
	[ $rc -ne 0 ] && [ -d "$MTSLURM_RUN_DIR/logs" ] && tail -n 20 "$MTSLURM_RUN_DIR/logs/master.log"
	rm -rf "$T"
	exit $rc
}
trap cleanup EXIT

# Submitting clients, one after another, until N jobs were acknowledged; a
# killed client's acknowledged ids stay in its file.
submitter() {
	local round=0 acked
	while :; do
		acked=$(acked_n)
		[ "$acked" -ge "$N" ] && break
		round=$((round + 1))
		local k=$((N - acked)) per=$((N / 8 + 1))
		[ $k -gt $per ] && k=$per
		"$TOOLS/sweep_client" --jobs $k --batch 500 --delay "$DELAY" --ids "$T/acked.$round" \
			--callbacks "$T/calls.$round" --timeout "$WAITS" > "$T/client.$round.out" 2>&1 &
		echo $! > "$T/client.pid"
		wait $! && echo "$round" >> "$T/clean_rounds" || echo "$round" >> "$T/killed_rounds"
	done
}

say "chaos: $N jobs, $MK master kills, $WK worker kills, $CK client kills, seed $SEED, run dir $MTSLURM_RUN_DIR"
mtslurm -n $W --local start --slots 8 --oversubscribe > /dev/null
db "CREATE TABLE chaos_twice(id INTEGER, old_state INTEGER, new_state INTEGER);
    CREATE TRIGGER chaos_refinal AFTER UPDATE ON jobs
    WHEN old.state >= 2 AND (new.state IS NOT old.state OR new.finished IS NOT old.finished
                             OR new.output IS NOT old.output OR new.attempts IS NOT old.attempts)
    BEGIN INSERT INTO chaos_twice VALUES(old.id, old.state, new.state); END;"
t0=$(date +%s.%N)
submitter &
sub_pid=$!

# The faults, in a random order.
actions=()
for _ in $(seq 1 "$MK"); do actions+=(master); done
for _ in $(seq 1 "$WK"); do actions+=(worker); done
for _ in $(seq 1 "$CK"); do actions+=(client); done
for ((i = ${#actions[@]} - 1; i > 0; i--)); do
	j=$((RANDOM % (i + 1))); x=${actions[$i]}; actions[$i]=${actions[$j]}; actions[$j]=$x
done
bad_integrity=0 during=0 restart_ms_total=0 wkills=0
for a in "${actions[@]}"; do
	nap "$(rnd_ms 300 2500)"
	unfinished=$(db "select count(*) from jobs where state<2" 2>/dev/null || echo 0)
	alive "$sub_pid" || [ "$unfinished" -gt 0 ] && during=$((during + 1))
	case $a in
	master)
		mp=$(master_pid)
		kill -9 "$mp"
		end=$(($(date +%s) + 10))
		while alive "$mp"; do [ "$(date +%s)" -lt "$end" ] || { say "master $mp does not die"; exit 1; }; sleep 0.05; done
		ic=$(sqlite3 -cmd '.timeout 10000' "$MTSLURM_RUN_DIR/state.db" "pragma integrity_check" 2>&1 | head -n 3)
		if [ "$ic" != ok ]; then
			bad_integrity=$((bad_integrity + 1))
			say "integrity_check after killing master $mp: $ic"
			cp "$MTSLURM_RUN_DIR/state.db" "/tmp/mts-chaos-corrupt.$SEED.db" 2>/dev/null || true
		fi
		r0=$(date +%s%N)
		# start waits for every worker of the launch; one that was killed
		# does not come back, so its verdict is not the measure here: a
		# new master serving is.
		out=$(mtslurm -n $W --local start --slots 8 --oversubscribe --timeout $((wkills ? 2 : 30)) 2>&1) || true
		np=$(master_pid)
		[ -n "$np" ] && [ "$np" != "$mp" ] && alive "$np" || { say "restart failed: $out"; exit 1; }
		restart_ms_total=$((restart_ms_total + ($(date +%s%N) - r0) / 1000000))
		say "killed master $mp ($(acked_n) acknowledged, $unfinished unfinished); restarted"
		;;
	worker)
		wp=$(mtslurm workers --json | sqlite3 :memory: "select json_extract(value,'\$.pid') from json_each(readfile('/dev/stdin')) where json_extract(value,'\$.connected') is not 0 limit 1" 2>/dev/null || true)
		if [ -z "$wp" ]; then
			wp=$(mtslurm workers --json | grep -o '"pid":[0-9]*' | head -n1 | grep -o '[0-9]*$' || true)
		fi
		[ -n "$wp" ] && kill -9 "$wp" && wkills=$((wkills + 1)) && say "killed worker pid $wp"
		;;
	client)
		cp=$(cat "$T/client.pid" 2>/dev/null || true)
		if alive "$cp"; then kill -9 "$cp"; say "killed client pid $cp"; else say "no client running to kill"; fi
		;;
	esac
done

say "faults done; waiting for the clients and the jobs"
end=$(($(date +%s) + WAITS))
while alive "$sub_pid" && [ "$(date +%s)" -lt "$end" ]; do sleep 0.2; done
if alive "$sub_pid"; then
	say "the clients did not finish in ${WAITS}s"
	kill -9 "$sub_pid"
	cp=$(cat "$T/client.pid" 2>/dev/null || true)
	alive "$cp" && kill -9 "$cp"
fi
wait "$sub_pid" || true
mtslurm wait --all --timeout "$WAITS" > /dev/null 2>&1 || true
t1=$(date +%s.%N)

cat "$T"/acked.* | sort -n > "$T/acked"
acked=$(wc -l < "$T/acked")
acked_u=$(sort -u "$T/acked" | wc -l)
sort -u "$T/acked" | sed 's/.*/insert into a values(&);/' > "$T/acked.sql"
lost=$(db "create temp table a(id integer primary key);" ".read $T/acked.sql" \
	"select count(*) from a where id not in (select id from jobs where state=2);")
twice=$(db "select count(*) from chaos_twice")
final_ic=$(db "pragma integrity_check" | head -n 3)
[ "$final_ic" = ok ] || bad_integrity=$((bad_integrity + 1))
# Clients that were not killed must have had one callback per job.
cb_missing=0 cb_dup=0
for r in $(cat "$T/clean_rounds" 2>/dev/null); do
	a=$(wc -l < "$T/acked.$r") c=$(wc -l < "$T/calls.$r") cu=$(sort -u "$T/calls.$r" | wc -l)
	cb_missing=$((cb_missing + a - cu)) cb_dup=$((cb_dup + c - cu))
done
killed_rounds=$({ cat "$T/killed_rounds" 2>/dev/null || true; } | wc -l)
secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", b-a}')
echo "chaos: acknowledged $acked jobs"
echo "chaos: acknowledged_twice $((acked - acked_u)) ids"
echo "chaos: lost $lost jobs"
echo "chaos: recorded_twice $twice results"
echo "chaos: integrity_failures $bad_integrity checks"
echo "chaos: callbacks_missing $cb_missing callbacks"
echo "chaos: callbacks_twice $cb_dup callbacks"
echo "chaos: master_kills $MK kills"
echo "chaos: faults_while_running $during of ${#actions[@]}"
echo "chaos: clients_killed $killed_rounds clients"
echo "chaos: restart_mean $((restart_ms_total / (MK > 0 ? MK : 1))) ms"
echo "chaos: run $secs s"
[ "$lost" = 0 ] && [ "$twice" = 0 ] && [ "$bad_integrity" = 0 ] && [ "$acked" = "$acked_u" ] &&
	[ "$cb_missing" = 0 ] && [ "$cb_dup" = 0 ] && [ "$acked" -ge "$N" ]
