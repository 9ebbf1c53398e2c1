/* SPDX-License-Identifier: MIT */
/*
 * storeread: a read-only connection to the master's state.db for the
 * listings that read many rows (`jobs`), used on the reader thread
 * (reader.h) beside the writer's connection (store.h). In WAL mode a reader
 * sees the last commit made before its read transaction began and never
 * waits for the writer, nor the writer for it; a long read only keeps the
 * WAL from being reset until it ends. storeread_begin() takes that snapshot
 * (the master calls it on the loop right after a commit, so the snapshot
 * holds every acknowledged write); the rest runs on the reader's thread.
 * One thread at a time per connection.
 */
#ifndef MTS_STOREREAD_H
#define MTS_STOREREAD_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"

struct storeread;

/* Open path (the database of the writer s) read-only. 0, or -1 with a
 * one-line err. While a read transaction is open the writer checkpoints
 * less often (store.c: the WAL cannot restart meanwhile). */
int storeread_open(struct storeread **out, struct store *s, const char *path, char *err, size_t errlen);
/* Close (NULL: no-op). */
void storeread_close(struct storeread *r);
/* Begin a read transaction and take its snapshot now. 0 or -1. */
int storeread_begin(struct storeread *r);
/* End the read transaction (the WAL may be reset again). */
void storeread_end(struct storeread *r);
/* store_jobs on the snapshot, with the writer's marks taken right after the
 * commit the snapshot is of (store_marks_get). */
int64_t storeread_jobs(struct storeread *r, const struct store_query *q, const struct store_marks *mk,
		       int (*fn)(void *arg, const struct store_rec *rec), void *arg);
/* Make the statement running on r return soon (any thread: shutdown). */
void storeread_interrupt(struct storeread *r);
/* The last failure's message. */
const char *storeread_errmsg(const struct storeread *r);

#endif
