/* SPDX-License-Identifier: MIT */
/*
 * events: the dashboard's event streams (see events.h). The status object is
 * printed once per period and the same text queued on every stream, so a
 * period costs one status build whatever the number of clients; with no
 * stream open the timer is stopped and the master pays nothing.
 */
#include "events.h"
#include "master.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "httpd.h"

struct ev_stream {
	struct httpd_stream *s;
	struct events *ev;
	struct ev_stream *prev, *next;
};

struct events {
	struct master *m;
	uv_timer_t timer;
	struct ev_stream *streams;
	size_t n;
	int64_t failed_seen; /* failed jobs at the last period */
	void (*done)(void *arg);
	void *done_arg;
};

static void on_stream_end(struct httpd_stream *s, void *arg)
{
	struct ev_stream *es = arg;
	struct events *ev = es->ev;
	(void)s;
	if (es->prev)
		es->prev->next = es->next;
	else
		ev->streams = es->next;
	if (es->next)
		es->next->prev = es->prev;
	free(es);
	if (--ev->n == 0)
		uv_timer_stop(&ev->timer);
}

/* The status object as one line of JSON (new; NULL if memory ran out). */
static char *status_text(struct master *m)
{
	msg *st = query_status_msg(m);
	char *text = st ? msg_print(st) : NULL;
	msg_free(st);
	return text;
}

static void on_tick(uv_timer_t *t)
{
	struct events *ev = t->data;
	char *text = status_text(ev->m);
	if (!text)
		return; /* out of memory: the next period tries again */
	int64_t failed = ev->m->counts[MJOB_FAILED];
	char fail_text[80] = "";
	if (failed > ev->failed_seen)
		snprintf(fail_text, sizeof fail_text, "{\"failed\":%lld,\"new\":%lld}", (long long)failed,
			 (long long)(failed - ev->failed_seen));
	ev->failed_seen = failed; /* `forget` may also lower it */
	/* A failed send drops that stream; its end comes later, from httpd,
	 * so the list stays intact while it is walked. */
	for (struct ev_stream *es = ev->streams; es; es = es->next) {
		httpd_stream_send(es->s, "status", text);
		if (fail_text[0])
			httpd_stream_send(es->s, "failed", fail_text);
	}
	free(text);
}

struct events *events_new(struct master *m)
{
	struct events *ev = calloc(1, sizeof *ev);
	if (!ev)
		return NULL;
	ev->m = m;
	uv_timer_init(m->loop, &ev->timer);
	ev->timer.data = ev;
	return ev;
}

int events_open(struct events *ev, struct httpd_req *r)
{
	struct ev_stream *es = calloc(1, sizeof *es);
	char *text = es ? status_text(ev->m) : NULL;
	if (!text) {
		free(es);
		httpd_reply_error(r, 503, "out of memory opening the event stream; try again");
		return -1;
	}
	es->ev = ev;
	es->s = httpd_stream_open(r, on_stream_end, es);
	if (!es->s) {
		free(es);
		free(text);
		return -1;
	}
	es->next = ev->streams;
	if (ev->streams)
		ev->streams->prev = es;
	ev->streams = es;
	if (ev->n++ == 0) {
		ev->failed_seen = ev->m->counts[MJOB_FAILED];
		uv_timer_start(&ev->timer, on_tick, EVENTS_PERIOD_MS, EVENTS_PERIOD_MS);
	}
	httpd_stream_send(es->s, "status", text);
	free(text);
	return 0;
}

size_t events_streams(const struct events *ev) { return ev->n; }

static void on_timer_closed(uv_handle_t *h)
{
	struct events *ev = h->data;
	void (*done)(void *) = ev->done;
	void *arg = ev->done_arg;
	free(ev);
	if (done)
		done(arg);
}

void events_free(struct events *ev, void (*done)(void *arg), void *arg)
{
	/* httpd_stop() ended every stream already; whatever is left is only
	 * our bookkeeping (httpd frees the streams themselves). */
	while (ev->streams) {
		struct ev_stream *es = ev->streams;
		ev->streams = es->next;
		free(es);
	}
	ev->n = 0;
	ev->done = done;
	ev->done_arg = arg;
	uv_timer_stop(&ev->timer);
	uv_close((uv_handle_t *)&ev->timer, on_timer_closed);
}
