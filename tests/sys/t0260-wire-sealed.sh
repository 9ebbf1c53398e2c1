#!/usr/bin/env bash
# What a real local cluster's master puts on the wire after the handshake is
# sealed: a probe that holds the key (tests/tools/wire_probe.c, a plain
# socket, not share/conn) sees records, not a readable frame, and opens
# hello_ok from them with the session key; a hello sent in clear after the
# handshake closes the connection with "record failed authentication"; jobs
# still run. MTSLURM_BENCH_PLAINTEXT=1 on a loopback master (the benchmarking
# knob) leaves frames readable, which is what make bench compares against.
. "$(dirname "$0")/lib.sh"

mtslurm -n 1 --local start >/dev/null
out=$("$TOOLS/wire_probe" "$MTSLURM_RUN_DIR")
log "sealed probe: $(echo $out)"
assert_contains "$out" "rec aes-256-gcm" "record protection announced"
assert_contains "$out" "raw_frame no" "first bytes after the welcome are not a frame"
assert_contains "$out" "raw_hello_ok no" "hello_ok or the client id readable on the wire"
assert_contains "$out" "opened hello_ok" "hello_ok opened from the records"

out=$("$TOOLS/wire_probe" --plain-hello "$MTSLURM_RUN_DIR")
log "plaintext hello: $(echo $out)"
assert_contains "$out" "error record failed authentication" "a frame in clear after the handshake"
assert_contains "$out" "closed yes" "the master closes that connection"

# the cluster carries on: workers and clients are sealed end to end
id=$(mtslurm submit --echo sealed-hello)
mtslurm wait "$id" >/dev/null
assert_contains "$(mtslurm jobs --json "$id")" "sealed-hello" "echo job output"
mtslurm stop >/dev/null

MTSLURM_BENCH_PLAINTEXT=1 mtslurm -n 1 --local start >/dev/null
out=$("$TOOLS/wire_probe" "$MTSLURM_RUN_DIR")
log "plaintext knob: $(echo $out)"
assert_contains "$out" "rec none" "the knob on a loopback master"
assert_contains "$out" "raw_hello_ok yes" "frames in clear under the knob"
id=$(mtslurm submit --echo plain-hello)
mtslurm wait "$id" >/dev/null
mtslurm stop >/dev/null
log "ok"
