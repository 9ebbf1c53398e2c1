#!/usr/bin/env bash
# Jobs in a worker's window that have not started (state "prefetched", a
# state of its own in listings since the default window grew to 1024) are
# live jobs for the commands that ask about live jobs: `cancel ID` cancels
# one (not "already final"), and `wait --all` waits for them (20,000 echo
# jobs then 50 exec jobs: with wide windows many are prefetched when wait
# is called).
. "$(dirname "$0")/lib.sh"

mtslurm -n 2 --local start --slots 1 >/dev/null
# tiny jobs open the workers' windows wide
seq 1 4000 | mtslurm submit --echo --stdin >/dev/null
mtslurm wait --all --timeout 60 >/dev/null
a1=$(mtslurm submit --echo --delay 3 one) a2=$(mtslurm submit --echo --delay 3 two)
b=$(mtslurm submit --echo --delay 3 three)
is_prefetched() { [ "$(jget "$(mtslurm jobs "$b" --json)" '$[0].state')" = prefetched ]; }
wait_for 10 is_prefetched
out=$(mtslurm cancel --json "$b" 2>&1) || fail "cancel of a prefetched job failed: $out"
assert_eq "$b" "$(jget "$out" '$.ids[0]')" "cancel of a prefetched job names it as cancelled ($out)"
assert_eq "{}" "$(jget "$out" '$.final')" "cancel of a prefetched job: nothing reported final ($out)"
assert_eq cancelled "$(jget "$(mtslurm jobs "$b" --json)" '$[0].state')" "the prefetched job's state after cancel"
mtslurm cancel "$a1" "$a2" >/dev/null
mtslurm wait --all --timeout 30 >/dev/null 2>&1 || true

seq 1 20000 | mtslurm submit --echo --stdin >/dev/null
for i in $(seq 1 50); do echo "echo line-$i"; done | mtslurm submit --exec --stdin >/dev/null
mtslurm wait --all --timeout 120 >/dev/null
st=$(mtslurm status --json)
assert_eq 0 "$(( $(jget "$st" '$.jobs.queued') + $(jget "$st" '$.jobs.prefetched') + $(jget "$st" '$.jobs.running') ))" \
	"jobs left unfinished after wait --all ($st)"
mtslurm stop >/dev/null
log ok
