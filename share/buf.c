/* SPDX-License-Identifier: MIT */
/* buf: growable NUL-terminated byte buffer -- see buf.h. */
#include "buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void buf_init(struct buf *b)
{
	b->p = NULL;
	b->len = b->cap = 0;
}

void buf_release(struct buf *b)
{
	free(b->p);
	buf_init(b);
}

char *buf_detach(struct buf *b, size_t *len)
{
	char *p = b->p;
	if (len)
		*len = b->len;
	if (!p)
		p = calloc(1, 1);
	buf_init(b);
	return p;
}

int buf_grow(struct buf *b, size_t extra)
{
	if (b->len + extra + 1 <= b->cap)
		return 0;
	size_t want = b->len + extra + 1;
	if (want < b->len) /* overflow */
		return -1;
	size_t ncap = b->cap ? b->cap : 64;
	while (ncap < want)
		ncap = ncap * 2 > ncap ? ncap * 2 : want;
	char *np = realloc(b->p, ncap);
	if (!np)
		return -1;
	if (!b->p)
		np[0] = '\0';
	b->p = np;
	b->cap = ncap;
	return 0;
}

int buf_add(struct buf *b, const void *data, size_t n)
{
	if (buf_grow(b, n))
		return -1;
	if (n)
		memcpy(b->p + b->len, data, n);
	b->len += n;
	b->p[b->len] = '\0';
	return 0;
}

int buf_adds(struct buf *b, const char *s)
{
	return buf_add(b, s, strlen(s));
}

int buf_vaddf(struct buf *b, const char *fmt, va_list ap)
{
	va_list cp;
	va_copy(cp, ap);
	char small[256];
	int n = vsnprintf(small, sizeof small, fmt, cp);
	va_end(cp);
	if (n < 0)
		return -1;
	if ((size_t)n < sizeof small)
		return buf_add(b, small, (size_t)n);
	if (buf_grow(b, (size_t)n))
		return -1;
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
	return 0;
}

int buf_addf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = buf_vaddf(b, fmt, ap);
	va_end(ap);
	return r;
}

void buf_consume(struct buf *b, size_t n)
{
	if (n >= b->len) {
		buf_reset(b);
		return;
	}
	memmove(b->p, b->p + n, b->len - n);
	b->len -= n;
	b->p[b->len] = '\0';
}

int buf_add_i64(struct buf *b, int64_t v)
{
	char tmp[24], *e = tmp + sizeof tmp, *p = e;
	uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
	do {
		*--p = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (v < 0)
		*--p = '-';
	return buf_add(b, p, (size_t)(e - p));
}

/* Length of a valid UTF-8 sequence at s (n bytes available), 0 if invalid. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	unsigned c = s[0];
	if (c < 0xC2 || c > 0xF4)
		return 0;
	size_t need = c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
	if (n < need)
		return 0;
	unsigned lo = 0x80, hi = 0xBF;
	if (c == 0xE0)
		lo = 0xA0;
	else if (c == 0xED)
		hi = 0x9F; /* no UTF-16 surrogates */
	else if (c == 0xF0)
		lo = 0x90;
	else if (c == 0xF4)
		hi = 0x8F;
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < need; i++)
		if ((s[i] & 0xC0) != 0x80)
			return 0;
	return need;
}

int buf_add_json_str(struct buf *out, const char *str, size_t n)
{
	if (!str)
		return buf_add(out, "null", 4);
	const unsigned char *s = (const unsigned char *)str;
	/* worst case 6 bytes per input byte ("\u00XX"); grow once up front for
	 * the common case and let buf_add grow further if needed */
	if (buf_grow(out, n + n / 8 + 2) < 0)
		return -1;
	if (buf_add(out, "\"", 1) < 0)
		return -1;
	size_t i = 0, run = 0;
	while (i < n) {
		unsigned char c = s[i];
		if (c >= 0x20 && c != '"' && c != '\\' && c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0x80) {
			size_t k = utf8_len(s + i, n - i);
			if (k) {
				i += k;
				continue;
			}
		}
		if (i > run && buf_add(out, s + run, i - run) < 0)
			return -1;
		char esc[8];
		const char *e = esc;
		size_t el = 2;
		switch (c) {
		case '"': e = "\\\""; break;
		case '\\': e = "\\\\"; break;
		case '\n': e = "\\n"; break;
		case '\r': e = "\\r"; break;
		case '\t': e = "\\t"; break;
		case '\b': e = "\\b"; break;
		case '\f': e = "\\f"; break;
		default:
			if (c >= 0x80) {
				e = "\\ufffd";
				el = 6;
			} else {
				snprintf(esc, sizeof(esc), "\\u%04x", c);
				el = 6;
			}
		}
		if (buf_add(out, e, el) < 0)
			return -1;
		i++;
		run = i;
	}
	if (i > run && buf_add(out, s + run, i - run) < 0)
		return -1;
	return buf_add(out, "\"", 1);
}
