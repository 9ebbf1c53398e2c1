#!/usr/bin/env bash
# start waits for a master that is alive and making progress, however long
# it takes to load its backlog (no fixed 15 s any more), up to --timeout;
# a master that neither computes nor reads is stopped after 15 s of that.
# Stand-in masters (MTSLURM_LIBEXEC): one that works (CPU) for 17 s and
# then runs the real master, one that only sleeps.
. "$(dirname "$0")/lib.sh"

lib=$T/libexec
mkdir -p "$lib"
ln -s "$MTS_BUILD/mtslurm-worker" "$lib/mtslurm-worker"
ln -s "$MTS_BUILD/mtslurm-node" "$lib/mtslurm-node"
cat > "$lib/mtslurm-master" <<EOS
#!/bin/bash
# Busy like a master loading a big backlog, then the real one (same pid).
end=\$((\$(date +%s) + \${SLOW_MASTER_S:-17}))
while [ "\$(date +%s)" -lt "\$end" ]; do :; done
exec "$MTS_BUILD/mtslurm-master" "\$@"
EOS
chmod +x "$lib/mtslurm-master"

# A master busy for 17 s is waited for.
t0=$(date +%s)
MTSLURM_LIBEXEC=$lib mtslurm -n 1 --local start >/dev/null || fail "start gave up on a busy master"
dt=$(($(date +%s) - t0))
[ "$dt" -ge 16 ] || fail "the stand-in master was not slow ($dt s)"
assert_eq 1 "$(jget "$(mtslurm status --json)" '$.workers.connected')" "the cluster is up after a slow load"
mtslurm stop >/dev/null

# --timeout bounds the wait: the busy master is stopped and start says why.
rc=0
out=$(SLOW_MASTER_S=30 MTSLURM_LIBEXEC=$lib mtslurm -n 1 --local start --timeout 3 2>&1) || rc=$?
assert_eq 1 "$rc" "start --timeout 3 on a slow master"
assert_contains "$out" "did not start serving within 3 s (--timeout; it was still working)" "timeout message"
[ -z "$(pgrep -f "$lib/mtslurm-master" || true)" ] || fail "the slow master was left running"

# A master that makes no progress at all is stopped after 15 s.
cat > "$lib/mtslurm-master" <<'EOS'
#!/bin/bash
exec sleep 600
EOS
t0=$(date +%s)
rc=0
out=$(MTSLURM_LIBEXEC=$lib mtslurm -n 1 --local start 2>&1) || rc=$?
dt=$(($(date +%s) - t0))
assert_eq 1 "$rc" "start on a hung master"
assert_contains "$out" "made no progress for 15 s" "hung master message"
[ "$dt" -lt 30 ] || fail "start waited $dt s for a hung master"
log "ok"
