/* SPDX-License-Identifier: MIT */
/*
 * call: one request to the master, whatever carried it, and the table of
 * request handlers.
 *
 * A handler gets a call context and the request (a msg: {"t": name, ...}).
 * It acts for c->client and answers through call_reply()/call_error(),
 * which encode the reply for the transport (c->sink: a frame on a TCP
 * connection, a JSON body for HTTP) and queue it in c->out, to go out
 * after the turn's commit and disk sync (outbox.h). So the same handler
 * serves the wire protocol and the HTTP service, and neither can
 * acknowledge what is not durable.
 *
 * Handlers are found by name in sorted tables (call_find: a binary search),
 * never in strcmp chains; their flags say what a call needs, and
 * call_dispatch() refuses a call that lacks it with a clear error.
 */
#ifndef MTS_CALL_H
#define MTS_CALL_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "msg.h"

struct master;
struct client;
struct peer;
struct outbox;

/* How replies are encoded for one transport; both queue into o (after the
 * commit) and neither takes ownership. */
struct call_sink {
	void (*put_msg)(struct outbox *o, const msg *r);
	void (*put_json)(struct outbox *o, const char *json, size_t n); /* one JSON object */
};

struct call {
	struct master *m;
	struct client *client;       /* acts for this client; NULL before a TCP hello */
	struct peer *peer;           /* the TCP connection, NULL for other transports */
	struct outbox *out;          /* where the replies go */
	const struct call_sink *sink;
	int64_t req;                 /* the request's "req", echoed in its replies */
	int has_req;
};

typedef void (*call_fn)(struct call *c, msg *m);

enum call_flags {
	CALL_CLIENT = 1u, /* needs c->client: over TCP, after hello */
	CALL_CONN = 2u,   /* needs a connection (c->peer): hello, env */
	CALL_WRITES = 4u, /* changes state (stored with the turn's commit) */
};

struct call_handler {
	const char *name; /* the request's "t" */
	call_fn fn;
	unsigned flags;
};

/* The requests clients send (docs/protocol.md), sorted by name. */
extern const struct call_handler call_client_table[];
extern const size_t call_client_count;

/* The entry named name in tab (n entries, sorted by name), or NULL. */
const struct call_handler *call_find(const struct call_handler *tab, size_t n, const char *name);
/* 0 if tab is sorted by name without duplicates (a unit test checks every
 * table), else the index of the first entry out of order. */
size_t call_table_check(const struct call_handler *tab, size_t n);

/* Read m's "req" into c, find m's type in tab and call its handler if c
 * has what the flags ask for; otherwise answer with an error naming what
 * is missing, or, for an unknown type, the known ones (who: "a client"). */
void call_dispatch(struct call *c, const struct call_handler *tab, size_t n, const char *who, msg *m);

/* Answer a request of unknown type t with the error naming tab's names. */
void call_unknown(struct call *c, const struct call_handler *tab, size_t n, const char *who, const char *t);

/* Queue r as the reply; frees r. r NULL (out of memory) queues nothing. */
void call_reply(struct call *c, msg *r);
/* Queue an already serialized reply object; start it with call_json_open. */
void call_reply_json(struct call *c, const char *json, size_t n);
/* Begin a reply object's text in b: {"t":"type" and "req" if any. */
void call_json_open(const struct call *c, struct buf *b, const char *type);
/* A new reply object {"t": type, "req": the request's} (no "req" if the
 * request had none); NULL on OOM. */
msg *call_new_reply(const struct call *c, const char *type);
/* Queue an error reply {"t":"error","code","msg"}: code is one of
 * bad_request, busy, internal, protocol, not_found (docs/protocol.md). */
void call_error(struct call *c, const char *code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
