/* SPDX-License-Identifier: MIT */
/*
 * reader: the reader thread and its queue -- see reader.h. The loop and
 * the thread share only `cur` (the job handed over), `fin` (the job done)
 * and `stop`, under the mutex; the connection is the loop's while no job
 * is handed over (prepare takes the snapshot there) and the thread's
 * until it hands the job back.
 */
#include "reader.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "storeread.h"

/* The reader thread's nice value (the loop's is the process's). */
#define READER_NICE 10

struct reader {
	uv_loop_t *loop;
	uv_async_t async; /* the thread's "a job is done" */
	uv_thread_t th;
	uv_mutex_t mu;
	uv_cond_t cv;
	struct storeread *sr;
	struct reader_job *head, *tail; /* waiting (loop only) */
	size_t npending;
	struct reader_job *cur, *fin; /* handed over / done (under mu) */
	int busy;		      /* a job is handed over and not back yet (loop only) */
	int started;		      /* the thread runs */
	int stop;		      /* under mu */
	void (*wake)(void *arg);
	void *wake_arg;
	void (*closed)(void *arg);
	void *closed_arg;
};

static void thread_main(void *arg)
{
	struct reader *rd = arg;
	/* On a machine with few cores the loop must win the CPU over a long
	 * read: a nice thread (Linux: nice is per thread) only takes what the
	 * loop leaves. Best effort: without it the read only competes. */
	(void)setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), READER_NICE);
	uv_mutex_lock(&rd->mu);
	for (;;) {
		while (!rd->stop && !rd->cur)
			uv_cond_wait(&rd->cv, &rd->mu);
		if (rd->stop)
			break;
		struct reader_job *j = rd->cur;
		uv_mutex_unlock(&rd->mu);
		j->work(j, rd->sr);
		storeread_end(rd->sr);
		uv_mutex_lock(&rd->mu);
		rd->cur = NULL;
		rd->fin = j;
		uv_async_send(&rd->async);
	}
	uv_mutex_unlock(&rd->mu);
}

static void on_async(uv_async_t *h)
{
	struct reader *rd = h->data;
	uv_mutex_lock(&rd->mu);
	struct reader_job *j = rd->fin;
	rd->fin = NULL;
	uv_mutex_unlock(&rd->mu);
	if (!j)
		return;
	rd->busy = 0;
	j->done(j, 0);
	rd->wake(rd->wake_arg); /* the next one starts after the turn's commit */
}

int reader_new(struct reader **out, uv_loop_t *loop, struct store *s, const char *db_path,
	       void (*wake)(void *arg), void *arg, char *err, size_t errlen)
{
	*out = NULL;
	struct reader *rd = calloc(1, sizeof *rd);
	if (!rd) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (storeread_open(&rd->sr, s, db_path, err, errlen)) {
		free(rd);
		return -1;
	}
	rd->loop = loop;
	rd->wake = wake;
	rd->wake_arg = arg;
	uv_mutex_init(&rd->mu);
	uv_cond_init(&rd->cv);
	uv_async_init(loop, &rd->async, on_async);
	rd->async.data = rd;
	int r = uv_thread_create(&rd->th, thread_main, rd);
	if (r) {
		snprintf(err, errlen, "cannot start the reader thread: %s", uv_strerror(r));
		reader_close(rd, NULL, NULL);
		return -1;
	}
	rd->started = 1;
	*out = rd;
	return 0;
}

int reader_push(struct reader *rd, struct reader_job *j)
{
	if (rd->npending >= READER_PENDING_MAX)
		return -1;
	j->next = NULL;
	if (rd->tail)
		rd->tail->next = j;
	else
		rd->head = j;
	rd->tail = j;
	rd->npending++;
	return 0;
}

void reader_turn(struct reader *rd)
{
	while (!rd->busy && rd->head) {
		struct reader_job *j = rd->head;
		rd->head = j->next;
		if (!rd->head)
			rd->tail = NULL;
		rd->npending--;
		if (j->prepare(j, rd->sr)) {
			storeread_end(rd->sr);
			j->done(j, -1);
			continue;
		}
		rd->busy = 1;
		uv_mutex_lock(&rd->mu);
		rd->cur = j;
		uv_cond_signal(&rd->cv);
		uv_mutex_unlock(&rd->mu);
	}
}

static void on_closed(uv_handle_t *h)
{
	struct reader *rd = h->data;
	void (*closed)(void *) = rd->closed;
	void *arg = rd->closed_arg;
	storeread_close(rd->sr);
	uv_mutex_destroy(&rd->mu);
	uv_cond_destroy(&rd->cv);
	free(rd);
	if (closed)
		closed(arg);
}

void reader_close(struct reader *rd, void (*closed)(void *arg), void *arg)
{
	rd->closed = closed;
	rd->closed_arg = arg;
	uv_mutex_lock(&rd->mu);
	rd->stop = 1;
	storeread_interrupt(rd->sr); /* a long read ends now, not when it would */
	uv_cond_signal(&rd->cv);
	uv_mutex_unlock(&rd->mu);
	if (rd->started)
		uv_thread_join(&rd->th);
	/* the thread is gone: whatever it held is the loop's again */
	struct reader_job *left = rd->fin ? rd->fin : rd->cur;
	rd->fin = rd->cur = NULL;
	if (left)
		left->done(left, UV_ECANCELED);
	while (rd->head) {
		struct reader_job *j = rd->head;
		rd->head = j->next;
		j->done(j, UV_ECANCELED);
	}
	rd->tail = NULL;
	rd->npending = 0;
	rd->busy = 0;
	uv_close((uv_handle_t *)&rd->async, on_closed);
}
