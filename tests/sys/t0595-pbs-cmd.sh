#!/usr/bin/env bash
# slurm/pbsjob.c against a real PBS command line: Debian's slurm-wlm-torque
# (qsub, qstat, qdel on top of the test Slurm cluster), driven through
# tests/tools/pbsjob_tool. A 2-node job submitted with #PBS directives
# (select style, and Torque's nodes=N:ppn=C) runs on two nodes with the
# queue, account, name, walltime and output file it asked for; qstat -f
# shows it running with its nodes; qdel ends it; a second qdel and an
# unknown id are not errors; a bad queue, a bad walltime, an unreachable
# server and missing commands each give one clear line.
#
# Not checkable here, since no real PBS server runs on this machine (the
# unit test covers the parsing from PBS's documented formats instead):
# `qstat -f -F json` (the wrapper refuses -F, so this only checks the
# fallback to text), PBS Pro's stime/obittime/comment and Torque's
# start_time/comp_time, "Unknown Job Id" messages (the wrapper exits 153
# silently), -l place=scatter (sbatch ignores it), PBS_JOBID and
# PBS_NODEFILE inside the job (the wrapper sets only SLURM_*), and a job
# starting in $HOME (the wrapper starts it in qsub's directory).
. "$(dirname "$0")/lib.sh"
slurm_up

tool=$TOOLS/pbsjob_tool
[ -x "$tool" ] || fail "build $tool first (make tests)"
command -v qsub >/dev/null || fail "qsub missing: apt-get install slurm-wlm-torque (tests/deps.sh)"
ours=""
trap 'rc=$?; set +e; for id in $ours; do qdel "$id" >/dev/null 2>&1; done; (exit $rc); cleanup' EXIT

kv() { sed -n "s/^$2=//p" <<<"$1"; } # kv OUTPUT KEY: a key=value line of pbsjob_tool
# query_until ID STATE SECONDS: pbsjob_tool query until state=STATE; prints the last answer.
query_until() {
	local out end=$(($(date +%s) + $3))
	while :; do
		out=$("$tool" query "$1") || fail "query $1: $out"
		[ "$(kv "$out" state)" = "$2" ] && { echo "$out"; return 0; }
		[ "$(date +%s)" -lt "$end" ] || fail "job $1 not in state $2 after $3 s: $out"
		sleep 0.2
	done
}

"$tool" available || fail "pbsjob_available on the wrappers"

work=$T/work
mkdir -p "$work"
cat > "$T/job.sh" <<'EOF'
#!/bin/sh
echo "pwd=$(pwd)"
echo "X=$X"
echo "nodes=$SLURM_JOB_NODELIST pbs_jobid=${PBS_JOBID:-none}"
sleep 120
EOF

# 1. Select style (PBS Pro's): 2 chunks, queue, account, name, walltime, output.
out=$("$tool" submit --style select --nodes 2 --ncpus 1 --queue short --account acct1 --name t0595-a \
	--walltime 4:00 --mem 100mb --workdir "$work" --out "$T/a.out" --script "$T/job.sh" --env "X=it's") ||
	fail "submit: $out"
a=$(kv "$out" id)
ours="$ours $a"
log "submitted $a"
[ -z "$(ls "$work")" ] || fail "script file left in the work dir: $(ls "$work")"
info=$(query_until "$a" 1 60)
log "$info"
assert_eq R "$(kv "$info" letter)" "job_state letter"
assert_eq 2 "$(kv "$info" nnodes)" "two exec hosts"
nodes=$(kv "$info" nodes)
[[ "$nodes" =~ ^n[1-4],n[1-4]$ ]] || fail "exec hosts '$nodes', want two of n1..n4"
assert_eq short "$(kv "$info" queue)" "queue"
assert_eq 240 "$(kv "$info" walltime_s)" "Resource_List.walltime"
start=$(kv "$info" start) end=$(kv "$info" end)
[ "$start" -gt 0 ] || fail "no start time"
assert_eq 240 "$((end - start))" "end = start + walltime"
sj=$(scontrol show job "$a")
for want in JobName=t0595-a Account=acct1 Partition=short TimeLimit=00:04:00 NumNodes=2 \
	MinMemoryNode=100M "StdOut=$T/a.out" "StdErr=$T/a.out"; do
	assert_contains "$sj" "$want" "Slurm job of the PBS directives"
done
wait_for 30 grep -q '^nodes=' "$T/a.out"
assert_eq "pwd=$work" "$(grep '^pwd=' "$T/a.out")" "the job runs in the work dir"
assert_eq "X=it's" "$(grep '^X=' "$T/a.out")" "exported environment, quote intact"
assert_contains "$(cat "$T/a.out")" "pbs_jobid=none" "the wrapper sets no PBS_JOBID (documented)"

"$tool" cancel "$a" || fail "cancel $a"
info=$(query_until "$a" 3 30)
assert_eq C "$(kv "$info" letter)" "ended job shows C"
assert_eq CANCELLED "$(slurm_state "$a")" "Slurm job cancelled"
"$tool" cancel "$a" || fail "a second cancel of an ended job is not an error"

# 2. Torque style: nodes=2:ppn=1, walltime in seconds (sbatch would read a bare 300 as minutes).
out=$("$tool" submit --style nodes --nodes 2 --ncpus 1 --walltime 300 --name t0595-b \
	--workdir "$work" --script "$T/job.sh") || fail "submit nodes style: $out"
b=$(kv "$out" id)
ours="$ours $b"
info=$(query_until "$b" 1 60)
assert_eq 2 "$(kv "$info" nnodes)" "nodes style: two exec hosts"
sj=$(scontrol show job "$b")
assert_contains "$sj" "TimeLimit=00:05:00" "walltime 300 s rendered as 00:05:00"
assert_contains "$sj" "NumNodes=2" "nodes=2"
assert_contains "$sj" "StdOut=/dev/null" "no output path: /dev/null"
"$tool" cancel "$b" || fail "cancel $b"
query_until "$b" 3 30 >/dev/null

# 3. An id the server never knew is UNKNOWN, and cancelling it is no error.
info=$("$tool" query 999999999) || fail "query unknown: $info"
assert_eq 4 "$(kv "$info" state)" "unknown id"
"$tool" cancel 999999999 || fail "cancel of an unknown id is not an error"

# 4. Bad input and broken servers: exit 1 (permanent) or 2 (later), one line each.
one_line() { # WHAT EXPECTED_RC NEEDLE CMD...: CMD exits EXPECTED_RC with one stderr line naming NEEDLE
	local what=$1 want=$2 needle=$3 rc=0
	shift 3
	"$@" >/dev/null 2>"$T/err" || rc=$?
	assert_eq "$want" "$rc" "$what: exit status"
	assert_eq 1 "$(wc -l <"$T/err")" "$what: one line ($(cat "$T/err"))"
	assert_contains "$(cat "$T/err")" "$needle" "$what"
}
one_line "bad queue" 1 "Invalid partition name" \
	"$tool" submit --queue nosuch --workdir "$work" --script "$T/job.sh"
one_line "bad walltime" 1 "bad walltime '1:75'" \
	"$tool" submit --walltime 1:75 --workdir "$work" --script "$T/job.sh"
sed 's/^SlurmctldPort=.*/SlurmctldPort=1/' "$SLURM_CONF" > "$T/down.conf"
one_line "server down" 2 "try again later" \
	env SLURM_CONF="$T/down.conf" "$tool" submit --workdir "$work" --script "$T/job.sh"
one_line "no PBS commands" 1 "qsub is not on PATH" env PATH=/nonexistent "$tool" available
[ -z "$(ls "$work")" ] || fail "script files left in the work dir: $(ls "$work")"

# Nothing of ours is left in Slurm's queue.
for id in $ours; do
	[ -z "$(squeue -h -j "$id" 2>/dev/null)" ] || fail "job $id still in squeue"
done
log ok
