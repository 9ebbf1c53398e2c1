/* SPDX-License-Identifier: MIT */
/*
 * syncgate: a test-only hook around the fdatasync of the WAL (store_sync),
 * so that the system tests can see the window between a commit and its
 * sync, which is otherwise a fraction of a millisecond. With the
 * environment variable MTSLURM_TEST_SYNC_GATE=PATH (read once, at the first
 * sync), every sync first waits while the file PATH exists (at most
 * SYNCGATE_MAX_WAIT_S), and each sync that succeeds writes to PATH.synced
 * how many bytes the WAL had when it started: what a power loss of the
 * machine would keep (tests/sys/t0207-result-sync.sh cuts the WAL there).
 * Unset (always, outside the tests) it costs one branch per sync.
 */
#ifndef MTS_SYNCGATE_H
#define MTS_SYNCGATE_H

#include <stdint.h>

#define SYNCGATE_MAX_WAIT_S 120

/* Before the fdatasync of wal_fd: wait while the gate file exists; returns
 * the WAL's size now (-1 when the hook is off). Any thread. */
int64_t syncgate_wait(int wal_fd);
/* After a successful fdatasync: record wal_b (syncgate_wait's answer). */
void syncgate_synced(int64_t wal_b);

#endif
