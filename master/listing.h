/* SPDX-License-Identifier: MIT */
/*
 * listing: the `jobs` request, read off the event loop. Its rows come from
 * the reader thread (reader.h) on a read-only connection, from the snapshot
 * of the commit right after the request arrived, so a listing never stalls
 * dispatch however many rows it must scan (a `--state failed` over millions
 * of rows), and it sees every job acknowledged before it was asked for. What
 * lives only in the loop's memory is read on the loop, in O(page): the
 * members of job arrays without a row yet (at the snapshot, so none is
 * lost or listed twice while the array materializes), which running job is
 * still only prefetched, and the array and task of each row. A connection
 * is not read while its listing runs, so its replies keep their order.
 */
#ifndef MTS_LISTING_H
#define MTS_LISTING_H

#include "msg.h"

struct call;
struct master;
struct outbox;

/* The `jobs` request (docs/protocol.md). */
void listing_jobs(struct call *c, msg *m);
/* After the turn's commit: hand the next listing to the reader. */
void listing_turn(struct master *m);
/* The transport of out is gone: its listings are answered to no one. */
void listing_forget_outbox(struct master *m, const struct outbox *out);
/* Shutdown: stop the reader (its listings are dropped), then closed(arg). */
void listing_close(struct master *m, void (*closed)(void *arg), void *arg);

#endif
