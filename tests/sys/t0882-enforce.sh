#!/usr/bin/env bash
# Per-job --mem and --cpus are enforced, not only counted (issue 11,
# "Resources"): a job with --mem 64M that allocates 512 MiB fails with a
# reason naming its --mem, while a sibling without --mem allocating 512 MiB
# and one with --mem 1G allocating 100 MiB succeed. Where the worker's
# cgroup v2 leaves have the memory controller the limit is memory.max and
# the reason says the OOM killer; elsewhere (cgroup v1 or hybrid, as on the
# test machine) it is RLIMIT_DATA and the reason says so. MTSLURM_ENFORCE=off
# in the worker's environment turns enforcement off: the 512 MiB job under
# --mem 64M then succeeds.
. "$(dirname "$0")/lib.sh"

py=$(command -v python3) || fail "python3 is needed (tests/deps.sh installs it)"
mtslurm -n 1 --local start --slots 3 --oversubscribe >/dev/null
wait_for 20 sh -c "grep -qh 'containment:' $MTSLURM_RUN_DIR/logs/*.daemon.log"
desc=$(grep -h "containment:" "$MTSLURM_RUN_DIR"/logs/*.daemon.log | tail -n 1)
log "worker: ${desc#*containment: }"
case "$desc" in
*memory.max*) how=cgroup ;;
*) how=rlimit ;;
esac
log "--mem enforced through: $how"

big="$py -c 'b = bytearray(512 << 20); b[::4096] = b\"x\" * len(b[::4096]); print(len(b))'"
small="$py -c 'b = bytearray(100 << 20); b[::4096] = b\"x\" * len(b[::4096]); print(len(b))'"
over=$(mtslurm submit --mem 64M --exec "$big")
free=$(mtslurm submit --exec "$big")
fits=$(mtslurm submit --mem 1G --exec "$small")
mtslurm wait "$free" "$fits" --timeout 60 >/dev/null ||
	fail "the jobs within their memory failed: $(mtslurm jobs --state failed)"
assert_eq $((512 << 20)) "$(mtslurm logs "$free" --stream out)" "output of the job without --mem"
assert_eq $((100 << 20)) "$(mtslurm logs "$fits" --stream out)" "output of the --mem 1G job"
mtslurm wait "$over" --timeout 60 >/dev/null && fail "the --mem 64M job allocating 512 MiB succeeded"
err=$(jget "$(mtslurm jobs "$over" --json)" '$[0].error')
log "its reason: $err"
assert_contains "$err" "--mem 64M" "the failure reason of the --mem 64M job"
if [ "$how" = cgroup ]; then
	assert_contains "$err" "OOM killer" "the reason of a job killed by its memory.max"
else
	assert_contains "$err" "RLIMIT_DATA" "the reason of a job stopped by its data-size limit"
fi

log "a failing job without --mem says nothing of --mem"
plain=$(mtslurm submit --exec 'exit 3')
mtslurm wait "$plain" --timeout 30 >/dev/null && fail "exit 3 succeeded"
err=$(jget "$(mtslurm jobs "$plain" --json)" '$[0].error')
assert_contains "$err" "exit status 3" "the reason of exit 3"
case "$err" in *--mem*) fail "a job without --mem failed naming --mem: $err" ;; esac

log "MTSLURM_ENFORCE=off: counted, not enforced"
mtslurm stop >/dev/null
MTSLURM_ENFORCE=off mtslurm -n 1 --local start --slots 2 --oversubscribe >/dev/null
over=$(mtslurm submit --mem 64M --exec "$big")
mtslurm wait "$over" --timeout 60 >/dev/null || fail "with MTSLURM_ENFORCE=off the --mem 64M job failed: $(mtslurm jobs "$over" --json)"
log "ok"
