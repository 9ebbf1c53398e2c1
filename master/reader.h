/* SPDX-License-Identifier: MIT */
/*
 * reader: the master's reader thread, which runs the reads of many rows
 * (`jobs` listings) on its own read-only connection to state.db
 * (storeread.h), so that the event loop never waits for them: the loop
 * queues a job, and once the reader is free and the turn's writes are
 * committed (reader_turn, called after the commit), it takes the job's
 * snapshot on the loop (prepare: storeread_begin plus whatever the job
 * reads from the loop's memory at that same moment), hands the job to the
 * thread (work), and gets it back on the loop (done) to answer. One job at
 * a time (the machine's other cores are the workers'); at most
 * READER_PENDING_MAX wait, later ones are refused (reader_push: -1).
 */
#ifndef MTS_READER_H
#define MTS_READER_H

#include <stddef.h>

#include <uv.h>

struct storeread;
struct store;
struct reader;

/* Jobs waiting for the reader beyond this are refused (the caller answers busy). */
#define READER_PENDING_MAX 256

struct reader_job {
	/* Loop, at hand-off, with the snapshot just taken: 0, or -1 (then
	 * done follows with status -1 and work is not called). */
	int (*prepare)(struct reader_job *j, struct storeread *sr);
	/* Reader thread: the reading itself. Touches nothing of the loop's. */
	void (*work)(struct reader_job *j, struct storeread *sr);
	/* Loop: answer and free j. status 0: work ran; -1: prepare failed;
	 * UV_ECANCELED: the master is stopping (answer nothing). */
	void (*done)(struct reader_job *j, int status);
	struct reader_job *next;
};

/* Open the reader connection on db_path (the database of s) and start the thread. wake(arg)
 * is called on the loop when a job is done (the turn should run). 0, or
 * -1 with a one-line err. */
int reader_new(struct reader **out, uv_loop_t *loop, struct store *s, const char *db_path,
	       void (*wake)(void *arg), void *arg, char *err, size_t errlen);
/* Queue j (loop). 0, or -1 when READER_PENDING_MAX wait already. */
int reader_push(struct reader *rd, struct reader_job *j);
/* After the turn's commit (loop): hand the oldest waiting job over if
 * the thread is free. */
void reader_turn(struct reader *rd);
/* Stop (loop): interrupt the running read, join the thread, call done
 * with UV_ECANCELED for every job left, then close; closed(arg) once the
 * loop has let go of the reader. */
void reader_close(struct reader *rd, void (*closed)(void *arg), void *arg);

#endif
