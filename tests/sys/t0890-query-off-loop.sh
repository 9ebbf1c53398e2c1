#!/usr/bin/env bash
# Listings never stall dispatch: with 2M jobs in state.db, `jobs --state
# failed` scans every row, on the master's reader thread; status requests and
# job round trips sent meanwhile are answered long before it ends. A job is
# listed as soon as its submit was acknowledged (read-your-writes), and
# a stop during listings ends the master promptly.
. "$(dirname "$0")/lib.sh"

ms() { echo $(($(date +%s%N) / 1000000)); }
median() { sort -n "$1" | awk '{a[NR]=$1} END {print a[int((NR + 1) / 2)]}'; }

mtslurm -n 1 --local start >/dev/null
mtslurm wait "$(mtslurm submit --echo seed)" --timeout 30 >/dev/null
mtslurm stop >/dev/null

# 2M final rows in the current schema, written while the master is down:
# every 400,000th failed, the rest completed (the totals follow them).
db "BEGIN;
WITH RECURSIVE c(i) AS (SELECT 1000 UNION ALL SELECT i+1 FROM c WHERE i < 2000999)
INSERT INTO jobs(id,client,type,input,state,attempts,output,rc,submitted,started,finished,worker)
SELECT i,'bulk','echo','x',CASE WHEN i%400000=0 THEN 3 ELSE 2 END,1,'x',0,1.0,1.0,1.0,'w' FROM c;
UPDATE counts SET n=n+(SELECT count(*) FROM jobs WHERE id>=1000 AND state=2) WHERE state=2;
UPDATE counts SET n=n+(SELECT count(*) FROM jobs WHERE id>=1000 AND state=3) WHERE state=3;
COMMIT;"
mtslurm -n 1 --local start >/dev/null
assert_eq 5 "$(jget "$(mtslurm status --json)" '$.jobs.failed')" "failed total after the bulk rows"

out=$(mtslurm jobs --state failed --json)
assert_eq 5 "$(jlen "$out" '$')" "failed jobs listed"
assert_eq 2000000 "$(jget "$out" '$[4].id')" "last failed job"

# timed SUFFIX: a status request and a job round trip (submit, wait),
# their milliseconds appended to $T/status.SUFFIX and $T/rtt.SUFFIX.
timed() {
	local s=$(ms) id
	mtslurm status >/dev/null
	echo $(($(ms) - s)) >>"$T/status.$1"
	s=$(ms)
	id=$(mtslurm submit --echo "rtt")
	mtslurm wait "$id" --timeout 30 >/dev/null
	echo $(($(ms) - s)) >>"$T/rtt.$1"
}
for i in $(seq 1 8); do timed quiet; done

# Two clients list the failed jobs back to back (each listing scans all
# 2M rows); meanwhile the same requests are timed again.
heavy() {
	while [ ! -e "$T/stop" ]; do
		local s=$(ms)
		mtslurm jobs --state failed --json >"$T/heavy.out.$1" || { echo fail >>"$T/heavy.err"; return; }
		echo $(($(ms) - s)) >>"$T/heavy.ms"
	done
}
heavy 1 & started_pids+=($!)
heavy 2 & started_pids+=($!)
sleep 0.5
for i in $(seq 1 12); do
	timed busy
	# read-your-writes on the reader: a listing asked for after an
	# acknowledged submit holds it (its snapshot is taken after the
	# commit that acknowledged it). More than 64 ids and an array's
	# listing go to the reader; an array's first members get their rows
	# in the submit's own commit.
	q=$(mtslurm submit --echo "ryw$i")
	out=$(mtslurm jobs $(seq $((q - 70)) "$q") --json)
	assert_eq "$q" "$(jget "$out" '$[#-1].id')" "job $q listed right after its submit"
	assert_eq "ryw$i" "$(jget "$out" '$[#-1].input')" "job $q's input"
	a=$(mtslurm submit --array 0-4 --echo "arr$i-{}")
	out=$(mtslurm jobs --array "$a" --json)
	assert_eq 5 "$(jlen "$out" '$')" "members of array $a listed right after its submit"
	assert_eq "arr$i-4" "$(jget "$out" '$[4].input')" "member 4 of array $a"
done
touch "$T/stop"
wait
[ ! -e "$T/heavy.err" ] || fail "a heavy listing failed"
assert_eq 5 "$(jlen "$(cat "$T/heavy.out.1")" '$')" "failed jobs listed under load"
nh=$(wc -l <"$T/heavy.ms")
hm=$(median "$T/heavy.ms")
sq=$(median "$T/status.quiet"); sb=$(median "$T/status.busy")
rq=$(median "$T/rtt.quiet"); rb=$(median "$T/rtt.busy")
log "listings: $nh, median ${hm} ms; status ${sq} -> ${sb} ms; submit+wait ${rq} -> ${rb} ms (medians, quiet -> during)"
[ "$nh" -ge 4 ] || fail "only $nh heavy listings ran beside the timed requests"
# On the loop, a request waits for the listing in progress: half of one on
# average. Off the loop it waits for none of it (what it loses is CPU
# shared with the reader thread on a small machine).
[ $(((sb - sq) * 3)) -lt "$hm" ] ||
	fail "status took ${sb} ms (median; ${sq} ms alone) while listings took ${hm} ms: they stall the loop"
[ $(((rb - rq) * 3)) -lt "$hm" ] ||
	fail "a job round trip took ${rb} ms (median; ${rq} ms alone) while listings took ${hm} ms: they stall dispatch"

# A stop while listings run: the reader's read is interrupted, the master ends.
mp=$(master_pid)
heavy 3 & hp=$!
started_pids+=($hp)
rm -f "$T/stop"
sleep 0.3
timeout 20 mtslurm stop >/dev/null || fail "stop during listings failed"
gone_within 10 "$mp" || fail "master $mp still alive after stop during listings"
touch "$T/stop"
gone_within 10 "$hp" || fail "a listing client hangs after the master stopped"
log "ok"
