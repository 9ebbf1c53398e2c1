#!/usr/bin/env bash
# Bad input gets a clear error and loses nothing: malformed, oversized and
# truncated frames, bad JSON, a wrong key, unknown executors, invalid jobs,
# unknown message types, unknown job ids. The peer that sent it gets an error
# frame; the master keeps serving everyone else; no acknowledged job is lost.
. "$(dirname "$0")/lib.sh"

mtslurm -n 1 --local start
good=$(mtslurm submit --echo before-the-storm)
peer() { "$TOOLS/wire_peer" "$@" "$MTSLURM_RUN_DIR"; }
peerj() { local ms=$1; shift; "$TOOLS/wire_peer" --ms "$ms" "$MTSLURM_RUN_DIR" "$@"; }

# Oversized frame: length 0xffffffff.
out=$(peer --raw-hex ffffffff)
assert_contains "$out" '"code":"bad_frame"' "oversized frame error code"
assert_contains "$out" "exceeds" "oversized frame message"
assert_contains "$out" "(closed)" "oversized frame closes that connection"

# Bad JSON inside a well-formed frame.
out=$(peer --raw-hex 000000057b22743a7d)
assert_contains "$out" '"code":"bad_json"' "bad JSON error code"

# A JSON value that is not a message object.
out=$(peer --raw-hex 000000025b5d)
assert_contains "$out" '"code":"bad_message"' "non-object frame"

# Truncated frame then hang-up: the master must just drop the connection.
peer --ms 300 --raw-hex 000000ff7b227422 >/dev/null

# Wrong key: refused with the reason.
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$T/otherkey"; chmod 600 "$T/otherkey"
out=$("$TOOLS/wire_peer" --key "$T/otherkey" "$MTSLURM_RUN_DIR" 2>&1 || true)
assert_contains "$out" "wrong cluster key" "wrong key message"
assert_contains "$out" "(closed)" "wrong key closes"

# Invalid jobs: the batch is refused with the reason, the connection stays.
out=$(peerj 800 '{"t":"hello","client":"0123456789abcdef0123456789abcdef"}' \
	'{"t":"submit","req":1,"jobs":[{"type":"echo","input":"ok"},{"type":"teleport","input":"x"}]}' \
	'{"t":"submit","req":2,"jobs":[{"type":"exec"}]}' \
	'{"t":"submit","req":3,"jobs":[{"type":"func","input":"{}","target":"nocolon"}]}' \
	'{"t":"submit","req":4,"jobs":[{"type":"echo","input":"x","deps":[999999999]}]}' \
	'{"t":"frobnicate","req":5}' \
	'{"t":"cancel","req":6,"ids":[999999999]}' \
	'{"t":"status","req":7}')
assert_contains "$out" '"req":1' "reply to req 1"
assert_contains "$out" "teleport" "unknown executor named"
assert_contains "$out" "echo, exec, func" "known executors listed"
assert_contains "$out" '"req":2,"code":"bad_request"' "exec without command refused"
assert_contains "$out" '"req":3,"code":"bad_request"' "func target without ':' refused"
assert_contains "$out" "999999999" "unknown dependency named"
assert_contains "$out" '"code":"protocol"' "unknown message type"
assert_contains "$out" '"unknown":[999999999]' "cancel of an unknown id"
assert_contains "$out" '"t":"status","req":7' "connection still serves after errors"
# Nothing of the refused batches was stored.
assert_eq 0 "$(db "select count(*) from jobs where input in ('ok','x')")" "refused batches stored nothing"

# A malformed "await" in hello is refused with the reason and closes only
# that connection.
out=$(peerj 500 '{"t":"hello","client":"feedfeedfeedfeedfeedfeedfeedfeed","await":[[5,2]]}')
assert_contains "$out" '"code":"bad_message"' "bad await refused"
assert_contains "$out" "first,last" "bad await message names the format"
assert_contains "$out" "(closed)" "bad await closes that connection"
# A handle that reconnects and awaits a job that finished meanwhile gets its
# result again, read back from state.db; another client id gets nothing.
cid=abcdabcdabcdabcdabcdabcdabcdabcd
out=$(peerj 800 "{\"t\":\"hello\",\"client\":\"$cid\"}" \
	'{"t":"submit","req":1,"jobs":[{"type":"echo","input":"await-me"}]}')
first=$(printf '%s\n' "$out" | sed -n 's/.*"t":"submitted","req":1,"first":\([0-9]*\).*/\1/p' | head -n1)
[ -n "$first" ] || fail "no submitted reply: $out"
out=$(peerj 500 "{\"t\":\"hello\",\"client\":\"$cid\",\"await\":[[$first,$first]]}")
assert_contains "$out" '"output":"await-me"' "awaited result sent again after a reconnect"
out=$(peerj 500 "{\"t\":\"hello\",\"client\":\"0000$cid\",\"await\":[[$first,$first]]}")
case "$out" in *await-me*) fail "another client id got someone else's result: $out" ;; esac

# A submit frame sent again after its acknowledgement was lost (same client
# id, same req) is not stored twice: it is answered with the first ids, and
# the handle gets the result of the job that finished meanwhile.
cid2=12341234123412341234123412341234
frame='{"t":"submit","req":9,"low":9,"jobs":[{"type":"echo","input":"only-once"}]}'
out1=$(peerj 800 "{\"t\":\"hello\",\"client\":\"$cid2\"}" "$frame")
out2=$(peerj 500 "{\"t\":\"hello\",\"client\":\"$cid2\"}" "$frame")
f1=$(printf '%s\n' "$out1" | sed -n 's/.*"t":"submitted","req":9,"first":\([0-9]*\).*/\1/p' | head -n1)
f2=$(printf '%s\n' "$out2" | sed -n 's/.*"t":"submitted","req":9,"first":\([0-9]*\).*/\1/p' | head -n1)
[ -n "$f1" ] || fail "no submitted reply: $out1"
assert_eq "$f1" "$f2" "a re-sent submit gets the ids of the first"
assert_eq 1 "$(db "select count(*) from jobs where input='only-once'")" "a re-sent submit is stored once"
assert_contains "$out2" '"output":"only-once"' "the re-sent submit's finished job calls back"

# The CLI says what was wrong in one line, and exits non-zero.
set +e
msg=$(mtslurm cancel 999999999 2>&1); rc=$?
[ $rc -ne 0 ] || fail "cancel of unknown id exited 0"
assert_contains "$msg" "999999999" "cancel unknown id message"
msg=$(mtslurm submit --frobnicate 2>&1); rc=$?
[ $rc -ne 0 ] || fail "unknown option exited 0"
msg=$(MTSLURM_RUN_DIR=$T/nowhere mtslurm status 2>&1); rc=$?
[ $rc -ne 0 ] || fail "status without a cluster exited 0"
assert_contains "$msg" "mtslurm start" "status without a cluster suggests start"
[ "$(printf '%s\n' "$msg" | wc -l)" -eq 1 ] || fail "error is not one line: $msg"
set -e

# After all that, the master still serves and the first job completed.
mtslurm wait --all --timeout 30
assert_eq before-the-storm "$(db "select output from jobs where id=$good")" "acknowledged job result"
alive "$(master_pid)" || fail "master died"
mtslurm stop
log ok
