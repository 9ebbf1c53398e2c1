/* SPDX-License-Identifier: MIT */
/*
 * events: the master's Server-Sent Events stream, GET /api/v1/events, which
 * the dashboard listens to. Every EVENTS_PERIOD_MS each open stream gets
 * event "status" (data: the object GET /api/v1/status returns, built by
 * query_status_msg) and, when jobs failed since the last period, event
 * "failed" (data: {"failed":TOTAL,"new":N}); a stream gets one "status" at
 * once when it opens. One uv timer serves every stream: it runs while at
 * least one is open. Memory is bounded by httpd: a client that does not
 * read is dropped once its queue passes stream_max_bytes (its EventSource
 * reconnects and gets whole state again), so nothing here queues.
 */
#ifndef MTS_EVENTS_H
#define MTS_EVENTS_H

#include <stddef.h>

#define EVENTS_PERIOD_MS 1000

struct master;
struct events;
struct httpd_req;

/* NULL if memory ran out. */
struct events *events_new(struct master *m);
/* Answer r (GET /api/v1/events) with a stream and send it the current
 * status. r is consumed. 0, or -1 if r's client is gone or memory ran out. */
int events_open(struct events *ev, struct httpd_req *r);
/* Open streams. */
size_t events_streams(const struct events *ev);
/* Free ev once its timer is closed, then done(arg). Call after httpd_stop()
 * (which ends every stream); streams still open are closed here. */
void events_free(struct events *ev, void (*done)(void *arg), void *arg);

#endif
