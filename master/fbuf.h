/* SPDX-License-Identifier: MIT */
/*
 * fbuf: a batch of protocol items built as JSON text into whole frames --
 * "<prefix>item,item,...<suffix>" behind a 4-byte length -- so that a turn's
 * thousands of results, assignments or callbacks for one peer cost one
 * frame (split before FBUF_SPLIT_BYTES), not one each.
 */
#ifndef MTS_FBUF_H
#define MTS_FBUF_H

#include <stddef.h>

#include "buf.h"

struct conn;
struct outbox;

#define FBUF_SPLIT_BYTES (16u << 20)

struct fbuf {
	struct buf b;
	size_t start; /* offset of the open frame's header */
	size_t n;     /* items in the open frame */
	int open;
	const char *prefix, *suffix; /* static strings */
};

void fbuf_init(struct fbuf *f, const char *prefix, const char *suffix);
void fbuf_release(struct fbuf *f);
/* Start the next item (writes the frame's header and prefix, or a comma);
 * then append the item's JSON to f->b. 0, or -1 on OOM. */
int fbuf_item(struct fbuf *f);
/* Close the open frame and send all frames on c now (c NULL: drop them). */
void fbuf_send(struct fbuf *f, struct conn *c);
/* Close the open frame and hold all frames in o until the disk sync that
 * covers this turn's commit (o NULL: drop them). */
void fbuf_gate(struct fbuf *f, struct outbox *o);
/* Close the open frame and queue all frames in o as a reply of this turn:
 * out after the next seal's sync (outbox_queue; o NULL: drop them). */
void fbuf_queue(struct fbuf *f, struct outbox *o);
/* Close the open frame and pass all frames to o: out now, or behind the
 * bytes o still holds (outbox_pass; o NULL: drop them). */
void fbuf_pass(struct fbuf *f, struct outbox *o);
static inline int fbuf_empty(const struct fbuf *f) { return f->b.len == 0; }

#endif
