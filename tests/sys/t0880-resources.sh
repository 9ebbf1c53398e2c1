#!/usr/bin/env bash
# Per-job CPUs, GPUs and memory (issue 11, "Resources"), with fake GPU ids
# (nothing here needs a GPU): a worker told --resource gpus=0,1,2,3 runs 20
# one-GPU jobs never more than 4 at a time and never two on one id at once,
# each seeing exactly one id in CUDA_VISIBLE_DEVICES (= MTSLURM_GPUS, whatever
# the submitter's own CUDA_VISIBLE_DEVICES); two-GPU jobs get two distinct
# ids; --cpus N --pin binds the job to N CPUs (nproc); a request larger than
# every worker is refused at submit with the reason; `mtslurm explain` says
# why a queued job waits; the worker's resources are listed by `workers`;
# after a kill -9 of the master, jobs still running keep their GPUs (the
# worker's hello says which) and new jobs get the others.
. "$(dirname "$0")/lib.sh"

cores=$(nproc)
mtslurm -n 1 --local start --slots 6 --oversubscribe --resource gpus=0,1,2,3 >/dev/null
rec=$T/rec
mkdir -p "$rec"

log "the worker reports its GPUs and CPUs"
w=$(mtslurm workers --json)
assert_eq '["0","1","2","3"]' "$(jget "$w" '$[0].res.gpus')" "the worker's GPUs"
assert_eq "$cores" "$(jget "$w" '$[0].res.cpus')" "the worker's CPUs (its affinity, mpirun binds it to no core)"

log "20 jobs of one GPU each on 4 GPUs and 6 slots"
export CUDA_VISIBLE_DEVICES=7 # the submitter's: must not reach the jobs
job='s=$(date +%s%N); sleep 0.4; e=$(date +%s%N); echo "$s $e $CUDA_VISIBLE_DEVICES $MTSLURM_GPUS" > '"$rec"'/$MTSLURM_JOB_ID'
ids=$(for i in $(seq 1 20); do echo "$job"; done | mtslurm submit --gpus 1 --exec --stdin)
assert_eq 20 "$(grep -c . <<<"$ids")" "jobs submitted"
mtslurm wait $ids --timeout 90 >/dev/null || fail "the GPU jobs did not all complete: $(mtslurm jobs --state failed)"
assert_eq 20 "$(ls "$rec" | wc -l)" "jobs that recorded their GPU"
cat "$rec"/* > "$T/all"
# each job: exactly one id of the worker's, the same in both variables
awk '$3 !~ /^[0-3]$/ || $3 != $4 { print "job saw CUDA_VISIBLE_DEVICES=" $3 " MTSLURM_GPUS=" $4; bad=1 } END { exit bad }' \
	"$T/all" || fail "a job did not see exactly one of the GPUs 0-3"
# never more than 4 at a time, and the GPUs were shared (more than 1 at once)
peak=$(awk '{ print $1, 1; print $2, -1 }' "$T/all" | sort -n -k1,1 -k2,2n |
	awk '{ n += $2; if (n > m) m = n } END { print m }')
[ "$peak" -le 4 ] || fail "$peak one-GPU jobs ran at once on 4 GPUs"
[ "$peak" -ge 2 ] || fail "the GPU jobs never ran side by side (peak $peak): the test proves nothing"
# never two jobs on one id at once
awk '{ s[NR] = $1; e[NR] = $2; g[NR] = $3 }
     END { for (i = 1; i <= NR; i++) for (j = i + 1; j <= NR; j++)
		if (g[i] == g[j] && s[i] < e[j] && s[j] < e[i]) { print "GPU " g[i] " held by two jobs at once"; bad = 1 }
	   exit bad }' "$T/all" || fail "two jobs were given the same GPU at the same time"
log "peak $peak jobs at once, GPUs used: $(cut -d' ' -f3 "$T/all" | sort -u | tr '\n' ' ')"

log "two-GPU jobs get two distinct ids"
rm -f "$rec"/*
ids=$(for i in 1 2 3; do echo "$job"; done | mtslurm submit --gpus 2 --exec --stdin)
mtslurm wait $ids --timeout 60 >/dev/null || fail "the two-GPU jobs failed"
for f in "$rec"/*; do
	read -r _ _ cvd mg < "$f"
	assert_eq "$cvd" "$mg" "MTSLURM_GPUS and CUDA_VISIBLE_DEVICES of a two-GPU job"
	grep -qE '^[0-3],[0-3]$' <<<"$cvd" || fail "a two-GPU job saw '$cvd'"
	[ "${cvd%,*}" != "${cvd#*,}" ] || fail "a two-GPU job was given one GPU twice: $cvd"
done

log "a GPU job's environment holds its GPUs once (not also the submitter's 7)"
e=$(mtslurm submit --gpus 1 --exec env)
mtslurm wait "$e" --timeout 30 >/dev/null || fail "the env job failed"
envout=$(mtslurm logs "$e" --stream out)
assert_eq 1 "$(grep -c '^CUDA_VISIBLE_DEVICES=' <<<"$envout")" "CUDA_VISIBLE_DEVICES entries of a GPU job"
grep -qx 'CUDA_VISIBLE_DEVICES=[0-3]' <<<"$envout" || fail "a GPU job's CUDA_VISIBLE_DEVICES: $(grep CUDA <<<"$envout")"
assert_eq 1 "$(grep -c '^MTSLURM_GPUS=[0-3]$' <<<"$envout")" "MTSLURM_GPUS of a GPU job"
grep -q '^ROCR_VISIBLE_DEVICES=' <<<"$envout" && fail "an NVIDIA GPU job got ROCR_VISIBLE_DEVICES"

log "--cpus N --pin: the job's process is bound to N CPUs"
a=$(mtslurm submit --cpus 1 --pin --exec nproc)
b=$(mtslurm submit --exec nproc)
mtslurm wait "$a" "$b" --timeout 30 >/dev/null || fail "the nproc jobs failed"
assert_eq 1 "$(mtslurm logs "$a" --stream out)" "nproc of a --cpus 1 --pin job"
assert_eq "$cores" "$(mtslurm logs "$b" --stream out)" "nproc of a job without --pin"
[ "$cores" -ge 2 ] || log "note: 1 core here, so pinning to 1 CPU changes nothing visible"
if [ "$cores" -ge 2 ]; then
	c=$(mtslurm submit --cpus 2 --pin --exec nproc)
	mtslurm wait "$c" --timeout 30 >/dev/null || fail "the --cpus 2 --pin job failed"
	assert_eq 2 "$(mtslurm logs "$c" --stream out)" "nproc of a --cpus 2 --pin job"
fi

log "a request no worker could ever run is refused at submit, saying why"
out=$(mtslurm submit --gpus 5 --exec true 2>&1) && fail "a 5-GPU job was accepted by a cluster of 4 GPUs"
assert_contains "$out" "needs 5 GPUs; workers have at most 4" "the refusal of --gpus 5"
out=$(mtslurm submit --cpus $((cores + 1)) --exec true 2>&1) && fail "a job asking for $((cores + 1)) CPUs was accepted"
assert_contains "$out" "needs $((cores + 1)) CPUs; workers have at most $cores" "the refusal of --cpus"
out=$(mtslurm submit --mem 1000T --exec true 2>&1) && fail "a job asking for 1000 TiB was accepted"
assert_contains "$out" "MiB of memory; workers have at most" "the refusal of --mem"
out=$(mtslurm submit --mem 8Q --exec true 2>&1) && fail "--mem 8Q was accepted"
assert_contains "$out" "not a number with an optional unit" "a malformed --mem"
out=$(mtslurm submit --pin --exec true 2>&1) && fail "--pin without --cpus was accepted"
assert_contains "$out" "give --cpus N too" "--pin without --cpus"
out=$(mtslurm-worker --no-mpi --resource gpus=0,0 2>&1) && fail "a worker with GPU 0 twice started"
assert_contains "$out" "names GPU 0 twice" "--resource gpus=0,0"

log "explain: why a queued job waits"
hold=$(for i in 1 2 3 4; do echo 'sleep 30'; done | mtslurm submit --gpus 1 --exec --stdin)
wait_for 20 sh -c "[ \"\$(mtslurm jobs --state running --json | grep -o '\"id\"' | wc -l)\" -ge 4 ]"
waiting=$(mtslurm submit --gpus 1 --exec true)
out=$(mtslurm explain "$waiting")
assert_contains "$out" "job $waiting: queued: waiting: all 4 GPUs busy" "explain of a job waiting for a GPU"
first=$(head -n 1 <<<"$hold")
out=$(mtslurm explain "$first")
assert_contains "$out" "running" "explain of a running GPU job"
assert_contains "$out" "GPUs " "explain of a running GPU job names its GPU"
w=$(mtslurm workers --json)
assert_eq '[]' "$(jget "$w" '$[0].res.gpus_free')" "the worker's free GPUs while 4 one-GPU jobs run"
mtslurm cancel $hold >/dev/null
mtslurm wait "$waiting" --timeout 30 >/dev/null || fail "the waiting GPU job did not run once GPUs were free"
out=$(mtslurm explain "$waiting")
assert_contains "$out" "completed" "explain of a finished job"

log "a master restart keeps the GPUs running jobs hold"
rm -f "$rec"/*
# four long jobs take GPUs 0-3; the two on GPUs 0 and 1 are cancelled, so
# the two left run on 2 and 3 -- not the lowest ids a restarted master that
# did not listen to the workers would think they hold
long=$(for i in 1 2 3 4; do echo 'echo $CUDA_VISIBLE_DEVICES > '"$rec"'/$MTSLURM_JOB_ID.gpu; sleep 60'; done |
	mtslurm submit --gpus 1 --exec --stdin)
wait_for 20 sh -c "[ \$(ls $rec | wc -l) -ge 4 ]"
keep=""
for id in $long; do
	g=$(cat "$rec/$id.gpu")
	case "$g" in 0|1) mtslurm cancel "$id" >/dev/null ;; *) keep="$keep $id" ;; esac
done
assert_eq 2 "$(wc -w <<<"$keep")" "long GPU jobs left on GPUs 2 and 3"
mp=$(master_pid)
kill -9 "$mp"
out=$(mtslurm -n 1 --local start --slots 6 --oversubscribe --resource gpus=0,1,2,3 2>&1)
assert_contains "$out" "restart" "start after the master was killed"
wait_for 20 sh -c "mtslurm workers --json | grep -q '\"res\"'" # it said hello again
w=$(mtslurm workers --json)
assert_eq '["0","1"]' "$(jget "$w" '$[0].res.gpus_free')" "free GPUs after the restart (2 and 3 still run jobs)"
for id in $keep; do
	out=$(mtslurm explain "$id")
	assert_contains "$out" "GPUs $(cat "$rec/$id.gpu")" "explain of a job held over the restart"
done
new=$(for i in 1 2; do echo 'echo $CUDA_VISIBLE_DEVICES > '"$rec"'/$MTSLURM_JOB_ID.gpu'; done | mtslurm submit --gpus 1 --exec --stdin)
mtslurm wait $new --timeout 30 >/dev/null || fail "GPU jobs after the restart failed"
for id in $new; do
	case "$(cat "$rec/$id.gpu")" in 0|1) ;; *) fail "job $id after the restart was given GPU $(cat "$rec/$id.gpu"), which a running job holds" ;; esac
done
mtslurm cancel $keep >/dev/null
log "ok"
