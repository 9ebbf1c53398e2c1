/* SPDX-License-Identifier: MIT */
/*
 * outbox: replies held back until the state they describe is durable.
 *
 * Every endpoint that receives replies -- a TCP connection's peer, an HTTP
 * request waiting for its response -- owns one outbox, and every outbox of
 * a master belongs to one outbox_set. A handler queues a reply
 * (outbox_queue); the turn commits; outbox_seal() then moves what every
 * dirty outbox queued into its held part; once the disk sync that covers
 * that commit has finished, outbox_release() hands the held bytes to the
 * owner (ops->deliver). So no acknowledgement ever describes state that a
 * crash could still lose, whatever transport carries it.
 *
 * The bytes are the owner's business (frames for TCP, a JSON body for
 * HTTP): the outbox only keeps their order. An owner that goes away calls
 * outbox_close(); ops->release is called exactly once, when the outbox is
 * on no list any more, and frees the owner.
 *
 * Two kinds of bytes need less than the sync (docs/reliability.md): results
 * for a client's callbacks (outbox_pass) leave as soon as their commit is
 * in the WAL -- the worker keeps the result until its `result_ok`, which
 * waits for the sync -- and `result_ok` itself (outbox_gate) needs the sync
 * but does not hurry it: only a sealed reply (outbox_seal) makes the set
 * `urgent`, so the master may let a sync wait for the next reply's.
 */
#ifndef MTS_OUTBOX_H
#define MTS_OUTBOX_H

#include <stddef.h>

#include "buf.h"

struct outbox;

struct outbox_ops {
	/* Durable bytes for the owner, in queue order (never after close). */
	void (*deliver)(struct outbox *o, const void *bytes, size_t n);
	/* Closed and on no list: free the owner (and so o). */
	void (*release)(struct outbox *o);
};

struct outbox_set {
	struct outbox *dirty; /* queued output or a close to finish after the commit */
	struct outbox *held;  /* sealed output waiting for the sync */
	void (*wake)(void *arg); /* a turn has work: run its check (master_touch) */
	int urgent; /* a sealed reply is held: its sync should start now */
	void *wake_arg;
};

struct outbox {
	const struct outbox_ops *ops;
	struct outbox_set *set;
	struct buf queued; /* waiting for the commit */
	struct buf held;   /* waiting for the sync */
	struct outbox *dirty_next, *held_next;
	unsigned dirty : 1, held_listed : 1, closed : 1;
};

void outbox_init(struct outbox *o, struct outbox_set *set, const struct outbox_ops *ops);
/* Queue bytes to go out after this turn's commit and its sync (copied).
 * Dropped if o is closed. Marks o dirty. */
void outbox_queue(struct outbox *o, const void *bytes, size_t n);
/* Bytes already committed: hold them for the next sync only (copied);
 * they do not make the set urgent. */
void outbox_gate(struct outbox *o, const void *bytes, size_t n);
/* Bytes already committed that need no sync (a client's results): deliver
 * them now if nothing of o is queued or held, else behind what is, so they
 * never overtake an earlier reply of o (copied). */
void outbox_pass(struct outbox *o, const void *bytes, size_t n);
/* Mark o for the next seal (queue writes into o->queued directly and then
 * call this, to save a copy). */
void outbox_dirty(struct outbox *o);
/* The owner is gone: nothing more is delivered; ops->release is called now
 * or once o leaves the lists it is on. */
void outbox_close(struct outbox *o);
/* After the commit: every dirty outbox's queued bytes become held (and
 * the set urgent if there were any). */
void outbox_seal(struct outbox_set *s);
/* After the sync: deliver every held byte; the set is no longer urgent. */
void outbox_release(struct outbox_set *s);
/* At exit: drop all output and release every closed outbox on a list. */
void outbox_drop(struct outbox_set *s);
/* Output waits for a sync (the shutdown waits for it). */
static inline int outbox_pending(const struct outbox_set *s) { return s->held != NULL; }

#endif
