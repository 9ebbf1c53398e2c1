#!/usr/bin/env bash
# Node agents under Slurm: one mtslurm-node per allocated node.
#  A. Inside a batch job (`start --in-allocation`, 2 nodes, HTTPS): both
#     nodes register (https:// URLs); launch-worker --node n2 starts a worker
#     of a registered type on n2, which serves a typed job; a second worker
#     on n1 passes over the port n2's worker holds on this shared machine;
#     stop ends the node agents and their workers; the job ends COMPLETED.
#  B. Slurm mode (`-n 3 start --nodes 2`): the workers' job runs a node agent
#     on each of its nodes; start returns with them registered; a worker
#     launched through one runs a job; stop leaves no Slurm job and no
#     process.
. "$(dirname "$0")/lib.sh"
slurm_up

# ---- A: in an allocation ----
mkdir -p "$T/a"
cat >"$T/a/job.sh" <<EOF
#!/bin/bash
#SBATCH -N 2 -n 4 -o $T/a/out-%j.txt
set -euo pipefail
export MTSLURM_RUN_DIR=$T/a/run
r=$T/a
mtslurm start --in-allocation --http 127.0.0.1:0 --http-tls > \$r/start.txt
mtslurm nodes --json > \$r/nodes.json
mtslurm worker-type add ew --executor echo
mtslurm type add echo --worker-type ew
# the allocation's two nodes (not always n1 and n2: others' jobs may hold them)
h1=\$(scontrol show hostnames "\$SLURM_JOB_NODELIST" | sed -n 1p)
h2=\$(scontrol show hostnames "\$SLURM_JOB_NODELIST" | sed -n 2p)
echo "\$h1 \$h2" > \$r/hosts.txt
mtslurm launch-worker --type ew --node \$h2 > \$r/launch2.txt
mtslurm launch-worker --type ew --node \$h1 > \$r/launch1.txt
mtslurm workers --json > \$r/workers.json
for i in 1 2 3 4 5 6; do mtslurm submit --type echo "{\"message\":\"m\$i\"}"; done > \$r/ids.txt
mtslurm wait --all --timeout 60
mtslurm jobs --json > \$r/jobs.json
ps -eo pid=,args= | grep -F -- "\$MTSLURM_RUN_DIR" | grep -v grep > \$r/procs-before.txt || true
mtslurm stop > \$r/stop.txt
ps -eo pid=,args= | grep -F -- "\$MTSLURM_RUN_DIR" | grep -v -e grep -e "ps -eo" > \$r/procs-after.txt || true
echo done > \$r/done.txt
EOF
jid=$(sbatch --parsable "$T/a/job.sh")
log "batch job $jid"
ended() { case "$(slurm_state "$jid")" in COMPLETED | FAILED | CANCELLED | TIMEOUT | NODE_FAIL | OUT_OF_MEMORY | "") return 0 ;; esac; return 1; }
wait_for 120 ended
cat "$T/a/out-$jid.txt" || true
assert_eq COMPLETED "$(slurm_state "$jid")" "the batch job completed"
assert_contains "$(cat "$T/a/start.txt")" "2 node agents" "start reports a node agent per node"
read -r h1 h2 < "$T/a/hosts.txt"
nodes=$(cat "$T/a/nodes.json")
assert_eq "$h1 $h2" "$(printf '%s' "$nodes" | jsql "select group_concat(n,' ') from (select json_extract(value,'\$.name') n from json_each(readfile('/dev/stdin')) order by n)")" \
	"one node agent on each allocated node"
assert_eq 2 "$(printf '%s' "$nodes" | jsql "select count(*) from json_each(readfile('/dev/stdin')) where json_extract(value,'\$.url') like 'https://127.0.0.1:%'")" \
	"node agents serve HTTPS like the master"
assert_contains "$(cat "$T/a/launch2.txt")" "(node $h2)" "launch-worker --node $h2"
w2=$(awk '{print $2}' "$T/a/launch2.txt")
w1=$(awk '{print $2}' "$T/a/launch1.txt")
p2=$(awk '{print $4}' "$T/a/launch2.txt" | sed 's/.*://')
p1=$(awk '{print $4}' "$T/a/launch1.txt" | sed 's/.*://')
[ -n "$p1" ] && [ -n "$p2" ] && [ "$p1" != "$p2" ] || fail "workers of two node agents on one machine share port $p1/$p2"
ws=$(cat "$T/a/workers.json")
assert_eq "$h2" "$(printf '%s' "$ws" | jsql "select json_extract(value,'\$.node') from json_each(readfile('/dev/stdin')) where json_extract(value,'\$.id')='$w2'")" \
	"the launched worker runs on $h2"
assert_eq "$h1" "$(printf '%s' "$ws" | jsql "select json_extract(value,'\$.node') from json_each(readfile('/dev/stdin')) where json_extract(value,'\$.id')='$w1'")" \
	"the other one on $h1"
jobs=$(cat "$T/a/jobs.json")
assert_eq 6 "$(printf '%s' "$jobs" | jsql "select count(*) from json_each(readfile('/dev/stdin')) where json_extract(value,'\$.state')='completed' and json_extract(value,'\$.worker') in ('$w1','$w2') and json_extract(value,'\$.output') like '%\"echoed\":\"m%'")" \
	"typed jobs served by the launched workers"
grep -q -- "--worker-type ew" "$T/a/procs-before.txt" || fail "no launched worker process before stop"
[ ! -s "$T/a/procs-after.txt" ] || fail "processes left after stop: $(cat "$T/a/procs-after.txt")"

# ---- B: Slurm mode ----
out=$(mtslurm -n 3 start --time 10 --nodes 2 --job-name t0580)
log "$out"
ids=$(slurm_jobs_of_run | tr '\n' ' ')
nodes=$(mtslurm nodes --json)
wnodes=$(scontrol show job "$(echo $ids | cut -d' ' -f2)" | sed -n 's/^ *NodeList=\([^ ]*\).*/\1/p')
assert_eq 2 "$(printf '%s' "$nodes" | jsql "select count(distinct json_extract(value,'\$.name')) from json_each(readfile('/dev/stdin'))")" \
	"a node agent on each node of the workers' job ($wnodes), registered when start returns"
node=$(printf '%s' "$nodes" | jsql "select json_extract(value,'\$.name') from json_each(readfile('/dev/stdin')) limit 1")
mtslurm worker-type add ew --executor echo >/dev/null
mtslurm type add echo --worker-type ew >/dev/null
lw=$(mtslurm launch-worker --type ew --node "$node")
assert_contains "$lw" "(node $node)" "launch-worker through the node agent of $node"
id=$(mtslurm submit --type echo '{"message":"slurm mode"}')
mtslurm wait "$id" --timeout 60 >/dev/null
assert_contains "$(mtslurm jobs --json)" 'echoed\":\"slurm mode' "the job ran on the launched worker"
mtslurm stop
assert_slurm_jobs_ended $ids
[ -z "$(our_procs)" ] || fail "processes left: $(our_procs)"
log ok
