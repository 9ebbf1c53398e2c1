/* SPDX-License-Identifier: MIT */
/*
 * outbox: replies held until durable (see outbox.h). Two intrusive lists
 * per set -- dirty (queued since the last seal) and held (sealed, waiting
 * for the sync) -- so a turn touches only the outboxes it wrote to.
 */
#include "outbox.h"

#include <string.h>

/* Buffers that grew past this during a burst are freed, not kept. */
#define OUTBOX_KEEP_B (1u << 20)

void outbox_init(struct outbox *o, struct outbox_set *set, const struct outbox_ops *ops)
{
	memset(o, 0, sizeof *o);
	o->ops = ops;
	o->set = set;
	buf_init(&o->queued);
	buf_init(&o->held);
}

void outbox_dirty(struct outbox *o)
{
	if (o->dirty)
		return;
	o->dirty = 1;
	o->dirty_next = o->set->dirty;
	o->set->dirty = o;
	if (o->set->wake)
		o->set->wake(o->set->wake_arg);
}

void outbox_queue(struct outbox *o, const void *bytes, size_t n)
{
	if (!o->closed && n)
		buf_add(&o->queued, bytes, n);
	outbox_dirty(o);
}

void outbox_gate(struct outbox *o, const void *bytes, size_t n)
{
	if (o->closed || !n)
		return;
	buf_add(&o->held, bytes, n);
	if (!o->held_listed) {
		o->held_listed = 1;
		o->held_next = o->set->held;
		o->set->held = o;
	}
}

void outbox_pass(struct outbox *o, const void *bytes, size_t n)
{
	if (o->closed || !n)
		return;
	if (o->queued.len) {
		buf_add(&o->queued, bytes, n); /* behind a reply of this turn */
		outbox_dirty(o);
	} else if (o->held.len) {
		outbox_gate(o, bytes, n); /* behind a reply waiting for the sync */
	} else {
		o->ops->deliver(o, bytes, n);
	}
}

static void outbox_free_bufs(struct outbox *o)
{
	buf_release(&o->queued);
	buf_release(&o->held);
}

void outbox_close(struct outbox *o)
{
	o->closed = 1;
	buf_reset(&o->queued);
	if (!o->dirty && !o->held_listed) {
		outbox_free_bufs(o);
		o->ops->release(o);
	}
}

void outbox_seal(struct outbox_set *s)
{
	struct outbox *o = s->dirty;
	s->dirty = NULL;
	while (o) {
		struct outbox *next = o->dirty_next;
		o->dirty = 0;
		o->dirty_next = NULL;
		if (o->closed) {
			if (!o->held_listed) {
				outbox_free_bufs(o);
				o->ops->release(o);
			}
		} else if (o->queued.len) {
			s->urgent = 1;
			outbox_gate(o, o->queued.p, o->queued.len);
			buf_recycle(&o->queued, OUTBOX_KEEP_B);
		}
		o = next;
	}
}

void outbox_release(struct outbox_set *s)
{
	struct outbox *o = s->held;
	s->held = NULL;
	s->urgent = 0;
	while (o) {
		struct outbox *next = o->held_next;
		o->held_next = NULL;
		/* Still listed while delivering: an owner that closes o from
		 * inside deliver (an HTTP request answered) is released here,
		 * after the last use of o, not under our feet. */
		if (!o->closed && o->held.len)
			o->ops->deliver(o, o->held.p, o->held.len);
		buf_recycle(&o->held, OUTBOX_KEEP_B);
		o->held_listed = 0;
		if (o->closed && !o->dirty) {
			outbox_free_bufs(o);
			o->ops->release(o);
		}
		o = next;
	}
}

void outbox_drop(struct outbox_set *s)
{
	struct outbox *o = s->held;
	s->held = NULL;
	s->urgent = 0;
	while (o) {
		struct outbox *next = o->held_next;
		o->held_listed = 0;
		o->held_next = NULL;
		if (o->closed && !o->dirty) {
			outbox_free_bufs(o);
			o->ops->release(o);
		}
		o = next;
	}
	o = s->dirty;
	s->dirty = NULL;
	while (o) {
		struct outbox *next = o->dirty_next;
		o->dirty = 0;
		o->dirty_next = NULL;
		if (o->closed) {
			outbox_free_bufs(o);
			o->ops->release(o);
		}
		o = next;
	}
}
