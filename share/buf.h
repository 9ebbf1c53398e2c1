/* SPDX-License-Identifier: MIT */
/*
 * buf: a growable byte buffer, always NUL-terminated so its contents can be
 * used as a C string. Modelled on git's strbuf: init / release / detach.
 * Functions that can allocate return 0 or -1 (out of memory); on failure the
 * buffer is left as it was.
 */
#ifndef MTS_BUF_H
#define MTS_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

struct buf {
	char *p;    /* owned; NULL until the first append */
	size_t len; /* bytes used, not counting the NUL */
	size_t cap; /* bytes allocated */
};

#define BUF_INIT {NULL, 0, 0}

void buf_init(struct buf *b);
/* Free the storage; the buffer is empty and reusable afterwards. */
void buf_release(struct buf *b);
/* Hand the storage to the caller (free with free()); the buffer is emptied.
 * Returns "" allocated fresh if the buffer was never written (NULL on OOM). */
char *buf_detach(struct buf *b, size_t *len);
/* Ensure room for extra more bytes plus the NUL. */
int buf_grow(struct buf *b, size_t extra);
int buf_add(struct buf *b, const void *data, size_t n);
int buf_adds(struct buf *b, const char *s);
int buf_addf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Append v in decimal; the hot paths build frames with it instead of
 * buf_addf, whose format parsing costs more than the digits. 0 or -1. */
int buf_add_i64(struct buf *b, int64_t v);
int buf_vaddf(struct buf *b, const char *fmt, va_list ap);
/* Append the n bytes at s as one JSON string literal, quotes included --
 * the one JSON string codec of master, workers and the client library.
 * Control characters, '"' and '\\' are escaped; valid UTF-8 is copied as it
 * is and each byte of an invalid sequence becomes U+FFFD, so the text is
 * always valid JSON whatever a job printed. s NULL: `null`. 0 or -1. */
int buf_add_json_str(struct buf *b, const char *s, size_t n);
/* Drop the first n bytes (memmove). */
void buf_consume(struct buf *b, size_t n);
static inline void buf_reset(struct buf *b)
{
	b->len = 0;
	if (b->p)
		b->p[0] = '\0';
}
/* Empty b for reuse, freeing its storage if a burst grew it past keep
 * bytes (so one big turn does not pin memory for the process's life). */
static inline void buf_recycle(struct buf *b, size_t keep)
{
	if (b->cap > keep)
		buf_release(b);
	else
		buf_reset(b);
}

#endif
