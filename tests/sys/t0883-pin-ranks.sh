#!/usr/bin/env bash
# --pin with several workers on one node (issue 11, "Resources"): mpirun's
# local ranks split the node's CPUs among themselves (each its own
# contiguous block; on 2 cores one CPU each), so two workers never pin jobs
# onto the same CPUs. Two workers here, jobs --cpus 1 --pin on both: the
# CPUs a job is bound to are its worker's, and the two workers' are disjoint.
. "$(dirname "$0")/lib.sh"

cores=$(nproc)
[ "$cores" -ge 2 ] || fail "this scenario needs 2 CPUs to split (nproc says $cores)"
mtslurm -n 2 --local start --slots 2 --oversubscribe >/dev/null
w=$(mtslurm workers --json)
c0=$(jget "$w" '$[0].res.cpus')
c1=$(jget "$w" '$[1].res.cpus')
assert_eq "$cores" "$((c0 + c1))" "the two workers' CPUs together"

rec=$T/rec
mkdir -p "$rec"
job='grep Cpus_allowed_list: /proc/self/status | cut -f2 > '"$rec"'/$MTSLURM_JOB_ID.$MTSLURM_WORKER; sleep 0.3'
ids=$(for i in $(seq 1 8); do echo "$job"; done | mtslurm submit --cpus 1 --pin --exec --stdin)
mtslurm wait $ids --timeout 60 >/dev/null || fail "the pinned jobs failed: $(mtslurm jobs --state failed)"
assert_eq 8 "$(ls "$rec" | wc -l)" "pinned jobs that recorded their CPUs"
workers=$(ls "$rec" | sed 's/^[0-9]*\.//' | sort -u)
assert_eq 2 "$(grep -c . <<<"$workers")" "workers that ran pinned jobs (both must, to compare)"
sets=()
for wid in $workers; do
	s=$(cat "$rec"/*."$wid" | sort -u)
	log "worker $wid pinned its jobs to CPU(s): $(tr '\n' ' ' <<<"$s")"
	sets+=("$s")
done
# each job on one CPU; one worker's CPUs never another's
for s in "${sets[@]}"; do
	grep -qvE '^[0-9]+$' <<<"$s" && fail "a --cpus 1 --pin job was bound to more than one CPU: $s"
done
common=$(comm -12 <(sort <<<"${sets[0]}") <(sort <<<"${sets[1]}"))
[ -z "$common" ] || fail "two workers on one node pinned jobs to the same CPU(s): $common"
log "ok"
