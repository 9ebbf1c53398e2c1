/* SPDX-License-Identifier: MIT */
/*
 * frame: incremental reader for length-prefixed frames -- see frame.h.
 * Consumed bytes are not moved on every frame: the buffer is compacted only
 * when more room is needed, so reading many small frames from one large read
 * costs no memmove per frame.
 */
#include "frame.h"

#include <stdlib.h>
#include <string.h>

void frame_reader_init(struct frame_reader *r, size_t max)
{
	memset(r, 0, sizeof *r);
	r->max = max ? max : FRAME_MAX_DEFAULT;
}

void frame_reader_release(struct frame_reader *r)
{
	free(r->buf);
	size_t max = r->max;
	memset(r, 0, sizeof *r);
	r->max = max;
}

int frame_reader_space(struct frame_reader *r, size_t want, char **p, size_t *n)
{
	if (r->off && r->off == r->len) {
		r->off = r->len = 0;
	}
	if (r->cap - r->len < want && r->off) {
		memmove(r->buf, r->buf + r->off, r->len - r->off);
		r->len -= r->off;
		r->off = 0;
	}
	if (r->cap - r->len < want) {
		/* A reader limited to small frames (a handshake) starts small:
		 * thousands of unauthenticated peers must not cost 64 KiB each. */
		size_t first = r->max < 65536 - FRAME_HDR_BYTES ? r->max + FRAME_HDR_BYTES : 65536;
		size_t ncap = r->cap ? r->cap : first;
		while (ncap - r->len < want)
			ncap *= 2;
		char *nb = realloc(r->buf, ncap);
		if (!nb)
			return FRAME_ENOMEM;
		r->buf = nb;
		r->cap = ncap;
	}
	*p = r->buf + r->len;
	*n = r->cap - r->len;
	return 0;
}

void frame_reader_set_max(struct frame_reader *r, size_t max)
{
	r->max = max ? max : FRAME_MAX_DEFAULT;
}

void frame_reader_commit(struct frame_reader *r, size_t n)
{
	r->len += n;
}

int frame_reader_feed(struct frame_reader *r, const char *data, size_t n)
{
	char *p;
	size_t room;
	if (frame_reader_space(r, n, &p, &room))
		return FRAME_ENOMEM;
	memcpy(p, data, n);
	frame_reader_commit(r, n);
	return 0;
}

int frame_reader_next(struct frame_reader *r, const char **payload, size_t *len)
{
	size_t avail = r->len - r->off;
	if (avail < FRAME_HDR_BYTES)
		return FRAME_AGAIN;
	const unsigned char *h = (const unsigned char *)r->buf + r->off;
	uint32_t n = (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 | (uint32_t)h[2] << 8 | h[3];
	if (n == 0)
		return FRAME_EEMPTY;
	if (n > r->max)
		return FRAME_ETOOBIG;
	if (avail - FRAME_HDR_BYTES < n)
		return FRAME_AGAIN;
	*payload = r->buf + r->off + FRAME_HDR_BYTES;
	*len = n;
	r->off += FRAME_HDR_BYTES + n;
	return FRAME_OK;
}

size_t frame_reader_take_rest(struct frame_reader *r, const char **p)
{
	size_t n = r->len - r->off;
	*p = r->buf ? r->buf + r->off : "";
	r->off = r->len;
	return n;
}

uint32_t frame_reader_announced(const struct frame_reader *r)
{
	if (r->len - r->off < FRAME_HDR_BYTES)
		return 0;
	const unsigned char *h = (const unsigned char *)r->buf + r->off;
	return (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 | (uint32_t)h[2] << 8 | h[3];
}

void frame_put_header(unsigned char hdr[FRAME_HDR_BYTES], uint32_t len)
{
	hdr[0] = (unsigned char)(len >> 24);
	hdr[1] = (unsigned char)(len >> 16);
	hdr[2] = (unsigned char)(len >> 8);
	hdr[3] = (unsigned char)len;
}

const char *frame_strerror(int code)
{
	switch (code) {
	case FRAME_OK:
		return "ok";
	case FRAME_AGAIN:
		return "incomplete frame";
	case FRAME_ETOOBIG:
		return "frame exceeds the size limit";
	case FRAME_EEMPTY:
		return "zero-length frame";
	case FRAME_ENOMEM:
		return "out of memory";
	}
	return "unknown frame error";
}
