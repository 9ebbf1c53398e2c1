#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Schema 9 stores a job's client as a key (table clients). A state.db that
# the master of schema 8 wrote (data/state-v8.sql: its `sqlite3 .dump`, see
# test_store.c's store_v8_dump for what made it) is upgraded in place by this
# master: every job, its client, output and error are still there -- in the
# listing (read beside the loop), filtered by client over the wire, and sent
# as results to a client that reconnects with its id -- and a new job of an
# old client is found together with its old ones.
. "$(dirname "$0")/lib.sh"

mtslurm -n 1 --local start >/dev/null
mtslurm stop >/dev/null
rm -f "$MTSLURM_RUN_DIR"/state.db*
sqlite3 "$MTSLURM_RUN_DIR/state.db" <"$(dirname "$0")/data/state-v8.sql"
echo 9145a0ba3e6e2bc612a3ca295768ee71 >"$MTSLURM_RUN_DIR/store.id"
mtslurm -n 1 --local start >/dev/null
assert_eq 9 "$(db "select value from meta where key='schema_version'")" "upgraded to schema 9"
assert_eq 6 "$(db "select count(*) from jobs where ckey is null and client<>''")" "no old row rewritten"
mtslurm cancel 6 >/dev/null # the old `sleep 60`, requeued at the start

out=$(mtslurm jobs --json)
assert_eq 6 "$(jlen "$out" '$')" "every old job listed"
assert_eq 62be6b80ed7f65f0cb57116462521687 "$(jget "$out" '$[0].client')" "job 1's client"
assert_eq a1 "$(jget "$out" '$[0].output')" "job 1's output"
assert_eq 8a5bb169f8cc2574de2418b2decd122a "$(jget "$out" '$[3].client')" "job 4's client"
assert_eq failed "$(jget "$out" '$[4].state')" "job 5 failed"
assert_eq "exit status 1" "$(jget "$out" '$[4].error')" "job 5's error"
assert_eq 8384489d97a6bc63687aad129be0d9de "$(jget "$out" '$[4].client')" "job 5's client"

C=8a5bb169f8cc2574de2418b2decd122a
log "client $C: its results after a reconnect, a new job, its jobs by client"
# req 2: the old master stored this client's req 1 (a re-sent 1 gets its ids)
out=$("$TOOLS/wire_peer" --ms 3000 "$MTSLURM_RUN_DIR" "{\"t\":\"hello\",\"client\":\"$C\",\"await\":[[1,100]]}" \
	"{\"t\":\"submit\",\"req\":2,\"jobs\":[{\"type\":\"echo\",\"input\":\"new\"}]}")
assert_contains "$out" '"t":"submitted","req":2,"first":7' "the new job of the old client"
for id in 2 3 4 7; do
	assert_contains "$out" "\"id\":$id," "the result of job $id sent to its client"
done
for id in 1 5 6; do
	if grep -q "\"id\":$id," <<<"$out"; then fail "job $id of another client was sent to $C: $out"; fi
done
assert_eq 1 "$(db "select count(*) from jobs j join clients c on c.id=j.ckey where j.id=7 and c.name='$C' and j.client=''")" \
	"the new job stored with its client's key"
out=$("$TOOLS/wire_peer" --ms 1500 "$MTSLURM_RUN_DIR" '{"t":"hello","client":"lister"}' \
	"{\"t\":\"jobs\",\"req\":1,\"client\":\"$C\"}")
ids=$(sed -n 's/.*"t":"jobs","req":1,"jobs":\(.*\),"next".*/\1/p' <<<"$out" | jsql "select group_concat(json_extract(value,'\$.id')) from json_each(readfile('/dev/stdin'));")
assert_eq 2,3,4,7 "$ids" "the client's jobs, old and new, listed by client"

mtslurm stop >/dev/null
mtslurm -n 1 --local start >/dev/null
out=$(mtslurm jobs 7 --json)
assert_eq "$C" "$(jget "$out" '$[0].client')" "the new job's client after a restart"
mtslurm stop >/dev/null
log "ok"
