/* SPDX-License-Identifier: MIT */
/*
 * fbuf: items batched into frames (see fbuf.h). The frame's length is
 * written into its header when the frame closes, so items are appended
 * once and never copied.
 */
#include "fbuf.h"

#include <string.h>

#include "conn.h"
#include "frame.h"
#include "outbox.h"

void fbuf_init(struct fbuf *f, const char *prefix, const char *suffix)
{
	memset(f, 0, sizeof *f);
	buf_init(&f->b);
	f->prefix = prefix;
	f->suffix = suffix;
}

void fbuf_release(struct fbuf *f)
{
	buf_release(&f->b);
	f->open = 0;
	f->n = 0;
}

static void fbuf_close(struct fbuf *f)
{
	if (!f->open)
		return;
	buf_adds(&f->b, f->suffix);
	unsigned char hdr[FRAME_HDR_BYTES];
	frame_put_header(hdr, (uint32_t)(f->b.len - f->start - FRAME_HDR_BYTES));
	memcpy(f->b.p + f->start, hdr, sizeof hdr);
	f->open = 0;
	f->n = 0;
}

int fbuf_item(struct fbuf *f)
{
	if (f->open && f->b.len - f->start > FBUF_SPLIT_BYTES)
		fbuf_close(f);
	if (!f->open) {
		f->start = f->b.len;
		if (buf_add(&f->b, "\0\0\0\0", FRAME_HDR_BYTES) || buf_adds(&f->b, f->prefix))
			return -1;
		f->open = 1;
		f->n = 1;
		return 0;
	}
	f->n++;
	return buf_add(&f->b, ",", 1);
}

void fbuf_send(struct fbuf *f, struct conn *c)
{
	fbuf_close(f);
	if (c && f->b.len)
		conn_send_bytes(c, f->b.p, f->b.len);
	buf_recycle(&f->b, 1u << 20);
}

void fbuf_gate(struct fbuf *f, struct outbox *o)
{
	fbuf_close(f);
	if (o && f->b.len)
		outbox_gate(o, f->b.p, f->b.len);
	buf_recycle(&f->b, 1u << 20);
}

void fbuf_pass(struct fbuf *f, struct outbox *o)
{
	fbuf_close(f);
	if (o && f->b.len)
		outbox_pass(o, f->b.p, f->b.len);
	buf_recycle(&f->b, 1u << 20);
}

void fbuf_queue(struct fbuf *f, struct outbox *o)
{
	fbuf_close(f);
	if (o && f->b.len)
		outbox_queue(o, f->b.p, f->b.len);
	buf_recycle(&f->b, 1u << 20);
}
