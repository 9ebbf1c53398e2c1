#!/usr/bin/env bash
# Job times come from one clock (master/jobclock.h): for every job
# submitted <= started <= finished, and a job that may run only after
# another (a dependency) starts no earlier than that one finished -- the
# master assigns it in the turn the other ended, or later. A chain of 60
# dependent jobs, queued behind a held first one, alternates jobs that end
# within the worker's turn (their start arrives with the result) and jobs
# that run across turns (a `started` frame). Two clocks once made a start
# read up to tens of ms before the end it followed (t0822's instances check).
. "$(dirname "$0")/lib.sh"

mtslurm -n 2 --local start >/dev/null
# the head runs until the chain is queued behind it ($T/go; at most 60 s)
first=$(mtslurm submit --exec "for i in \$(seq 1200); do [ -e '$T/go' ] && break; sleep 0.05; done; echo head")
prev=$first
for k in $(seq 1 60); do
	if [ $((k % 2)) -eq 0 ]; then d=0.02; else d=0; fi
	prev=$(mtslurm submit --echo "c$k" --delay $d --after "$prev")
done
last=$prev
assert_eq $((first + 60)) "$last" "the chain's ids follow each other"
# still held: the chain was queued while its head ran
assert_eq 0 "$(db "select count(*) from jobs where id > $first and id <= $last and state >= 2")" \
	"no chain job ended before the head"
touch "$T/go"
mtslurm wait "$last" --timeout 60 >/dev/null || fail "the chain did not complete"
assert_eq 61 "$(db "select count(*) from jobs where id between $first and $last and state = 2")" "chain completed"

range="id between $first and $last"
bad=$(db "select id, submitted, started, finished from jobs where $range and not
	(submitted <= started and started <= finished)")
[ -z "$bad" ] || fail "a job's times out of order (id|submitted|started|finished): $bad"
# b depends on a = b - 1: b.started >= a.finished
bad=$(db "select b.id, printf('%.6f', a.finished), printf('%.6f', b.started) from jobs a join jobs b
	on b.id = a.id + 1 where a.$range and b.$range and b.started < a.finished")
[ -z "$bad" ] || fail "a job started before the job it depends on finished (id|dep finished|started): $bad"
# a chain job starts in the turn its dependency ended or shortly after
gap=$(db "select printf('%.3f', max(b.started - a.finished)) from jobs a join jobs b on b.id = a.id + 1
	where a.$range and b.$range")
log "largest gap from an end to the next start: $gap s"
mtslurm stop >/dev/null
log ok
