/* SPDX-License-Identifier: MIT */
/*
 * jscan: a validating pass over JSON text (jscan_check), then readers that
 * walk the checked text without checking again. Nothing here allocates
 * except jscan_str() on a string with escapes, into the caller's buffer.
 * The rules that keep jscan a subset of cJSON (see jscan.h) are each noted
 * where they apply.
 */
#include "jscan.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* cJSON copies at most 63 characters of a number before strtod; a longer
 * one is an error there, so it is one here too. */
#define NUM_CHARS_MAX 63
/* jscan_fields measures this many keys once per call (more: per member) */
#define JSCAN_FIELDS_MAX 16

struct chk {
	const char *p, *end, *start;
	const char *why;
};

static int is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

static void skip_ws(struct chk *c)
{
	while (c->p < c->end && is_ws(*c->p))
		c->p++;
}

static int fail(struct chk *c, const char *why)
{
	c->why = why;
	return -1;
}

static int hex4(const char *p, unsigned *out)
{
	unsigned v = 0;
	for (int i = 0; i < 4; i++) {
		char h = p[i];
		unsigned d = h >= '0' && h <= '9' ? (unsigned)(h - '0')
			     : h >= 'a' && h <= 'f' ? (unsigned)(h - 'a' + 10)
			     : h >= 'A' && h <= 'F' ? (unsigned)(h - 'A' + 10)
						    : 16u;
		if (d > 15)
			return -1;
		v = v << 4 | d;
	}
	*out = v;
	return 0;
}

/* A \u escape at p (pointing at the 'u'), with its low surrogate if it is a
 * high one: the code point and the bytes taken, or -1. cJSON refuses a lone
 * surrogate of either kind, so jscan does too. */
static int unicode_esc(const char *p, const char *end, unsigned *cp, size_t *used)
{
	unsigned a, b;
	if (end - p < 5 || hex4(p + 1, &a))
		return -1;
	if (a >= 0xDC00 && a <= 0xDFFF)
		return -1;
	if (a < 0xD800 || a > 0xDBFF) {
		*cp = a;
		*used = 5;
		return 0;
	}
	if (end - p < 11 || p[5] != '\\' || p[6] != 'u' || hex4(p + 7, &b) || b < 0xDC00 || b > 0xDFFF)
		return -1;
	*cp = 0x10000 + ((a - 0xD800) << 10) + (b - 0xDC00);
	*used = 11;
	return 0;
}

static int chk_string(struct chk *c, int *esc)
{
	c->p++; /* the opening quote */
	for (;;) {
		if (c->p >= c->end)
			return fail(c, "unterminated string");
		unsigned char ch = (unsigned char)*c->p;
		if (ch == '"') {
			c->p++;
			return 0;
		}
		if (ch < 0x20)
			return fail(c, "raw control character in a string");
		if (ch != '\\') {
			c->p++;
			continue;
		}
		*esc = 1;
		if (++c->p >= c->end)
			return fail(c, "unterminated string");
		if (strchr("\"\\/bfnrt", *c->p) && *c->p) {
			c->p++;
		} else if (*c->p == 'u') {
			unsigned cp;
			size_t used;
			if (unicode_esc(c->p, c->end, &cp, &used))
				return fail(c, "bad \\u escape (not 4 hex digits, or a lone surrogate)");
			c->p += used;
		} else {
			return fail(c, "bad escape in a string");
		}
	}
}

static int digits(struct chk *c)
{
	const char *s = c->p;
	while (c->p < c->end && *c->p >= '0' && *c->p <= '9')
		c->p++;
	return c->p > s ? 0 : -1;
}

/* RFC 8259's grammar: cJSON takes more ("+1", "01", "1."), jscan less. */
static int chk_number(struct chk *c)
{
	const char *s = c->p;
	if (*c->p == '-')
		c->p++;
	if (c->p < c->end && *c->p == '0')
		c->p++;
	else if (digits(c))
		return fail(c, "bad number");
	if (c->p < c->end && *c->p == '.') {
		c->p++;
		if (digits(c))
			return fail(c, "bad number: no digit after '.'");
	}
	if (c->p < c->end && (*c->p == 'e' || *c->p == 'E')) {
		c->p++;
		if (c->p < c->end && (*c->p == '+' || *c->p == '-'))
			c->p++;
		if (digits(c))
			return fail(c, "bad number: no digit in the exponent");
	}
	if (c->p - s > NUM_CHARS_MAX)
		return fail(c, "number longer than 63 characters");
	return 0;
}

static int chk_literal(struct chk *c, const char *lit)
{
	size_t n = strlen(lit);
	if ((size_t)(c->end - c->p) < n || memcmp(c->p, lit, n) != 0)
		return fail(c, "unexpected character");
	c->p += n;
	return 0;
}

static int chk_value(struct chk *c, struct jscan_val *v, int depth);

/* An object or array at c->p, its opening bracket. */
static int chk_container(struct chk *c, int obj, int depth)
{
	if (depth >= JSCAN_DEPTH_MAX)
		return fail(c, "nested too deep");
	char close = obj ? '}' : ']';
	c->p++;
	skip_ws(c);
	if (c->p < c->end && *c->p == close) {
		c->p++;
		return 0;
	}
	for (;;) {
		struct jscan_val v;
		if (obj) {
			int esc = 0;
			if (c->p >= c->end || *c->p != '"')
				return fail(c, "expected a string key");
			if (chk_string(c, &esc))
				return -1;
			skip_ws(c);
			if (c->p >= c->end || *c->p != ':')
				return fail(c, "expected ':'");
			c->p++;
			skip_ws(c);
		}
		if (chk_value(c, &v, depth + 1))
			return -1;
		skip_ws(c);
		if (c->p >= c->end)
			return fail(c, obj ? "unterminated object" : "unterminated array");
		if (*c->p == close) {
			c->p++;
			return 0;
		}
		if (*c->p != ',')
			return fail(c, obj ? "expected ',' or '}'" : "expected ',' or ']'");
		c->p++;
		skip_ws(c);
	}
}

static int chk_value(struct chk *c, struct jscan_val *v, int depth)
{
	if (c->p >= c->end)
		return fail(c, "unexpected end");
	const char *s = c->p;
	int r, esc = 0;
	switch (*c->p) {
	case '{':
		v->type = JSCAN_OBJECT;
		r = chk_container(c, 1, depth);
		break;
	case '[':
		v->type = JSCAN_ARRAY;
		r = chk_container(c, 0, depth);
		break;
	case '"':
		v->type = JSCAN_STRING;
		r = chk_string(c, &esc);
		break;
	case 't':
		v->type = JSCAN_TRUE;
		r = chk_literal(c, "true");
		break;
	case 'f':
		v->type = JSCAN_FALSE;
		r = chk_literal(c, "false");
		break;
	case 'n':
		v->type = JSCAN_NULL;
		r = chk_literal(c, "null");
		break;
	default:
		v->type = JSCAN_NUMBER;
		r = (*c->p == '-' || (*c->p >= '0' && *c->p <= '9')) ? chk_number(c) : fail(c, "unexpected character");
	}
	v->p = s;
	v->n = (size_t)(c->p - s);
	v->esc = esc;
	return r;
}

int jscan_check(const char *json, size_t len, struct jscan_val *root, char *err, size_t errlen)
{
	struct chk c = {json, json + len, json, NULL};
	struct jscan_val v = {0};
	skip_ws(&c);
	int r = chk_value(&c, &v, 0);
	if (r == 0) {
		skip_ws(&c);
		if (c.p < c.end)
			r = fail(&c, "trailing bytes after the value");
	}
	if (r) {
		if (err && errlen)
			snprintf(err, errlen, "bad JSON at byte %zu: %s", (size_t)(c.p - json), c.why);
		return -1;
	}
	*root = v;
	return 0;
}

/* ---- walking checked text ---- */

static const char *walk_ws(const char *p)
{
	while (is_ws(*p))
		p++;
	return p;
}

static const char *walk_string(const char *p, int *esc)
{
	for (p++; *p != '"'; p++) {
		if (*p == '\\') {
			*esc = 1;
			p++;
		}
	}
	return p + 1;
}

/* Past the value at p, whose type is set. */
static const char *walk_value(const char *p, enum jscan_type *type, int *esc)
{
	*esc = 0;
	switch (*p) {
	case '"':
		*type = JSCAN_STRING;
		return walk_string(p, esc);
	case '{':
	case '[': {
		*type = *p == '{' ? JSCAN_OBJECT : JSCAN_ARRAY;
		int depth = 0, e = 0;
		do {
			if (*p == '"') {
				p = walk_string(p, &e);
				continue;
			}
			if (*p == '{' || *p == '[')
				depth++;
			else if (*p == '}' || *p == ']')
				depth--;
			p++;
		} while (depth);
		return p;
	}
	case 't':
		*type = JSCAN_TRUE;
		return p + 4;
	case 'f':
		*type = JSCAN_FALSE;
		return p + 5;
	case 'n':
		*type = JSCAN_NULL;
		return p + 4;
	default:
		*type = JSCAN_NUMBER;
		while (*p == '-' || *p == '+' || *p == '.' || *p == 'e' || *p == 'E' || (*p >= '0' && *p <= '9'))
			p++;
		return p;
	}
}

void jscan_iter(struct jscan_it *it, const struct jscan_val *v)
{
	int box = v && (v->type == JSCAN_OBJECT || v->type == JSCAN_ARRAY);
	it->p = box ? v->p + 1 : NULL;
	it->end = box ? v->p + v->n - 1 : NULL; /* the closing bracket */
	it->obj = box && v->type == JSCAN_OBJECT;
}

int jscan_next(struct jscan_it *it, struct jscan_val *key, struct jscan_val *val)
{
	if (!it->p)
		return 0;
	const char *p = walk_ws(it->p);
	if (p >= it->end)
		return 0;
	if (*p == ',')
		p = walk_ws(p + 1);
	if (it->obj) {
		struct jscan_val k = {p, 0, JSCAN_STRING, 0};
		p = walk_string(p, &k.esc);
		k.n = (size_t)(p - k.p);
		if (key)
			*key = k;
		p = walk_ws(walk_ws(p) + 1); /* the ':' */
	}
	val->p = p;
	p = walk_value(p, &val->type, &val->esc);
	val->n = (size_t)(p - val->p);
	it->p = p;
	return 1;
}

int jscan_get(const struct jscan_val *obj, const char *key, struct jscan_val *out)
{
	if (!obj || obj->type != JSCAN_OBJECT)
		return 0;
	struct jscan_it it;
	struct jscan_val k, v;
	size_t kn = strlen(key);
	jscan_iter(&it, obj);
	while (jscan_next(&it, &k, &v)) {
		if (k.esc ? jscan_str_is(&k, key) : (k.n - 2 == kn && memcmp(k.p + 1, key, kn) == 0)) {
			*out = v;
			return 1;
		}
	}
	return 0;
}

int jscan_fields(const struct jscan_val *obj, const char *const *keys, struct jscan_val *out, size_t n)
{
	size_t klen[JSCAN_FIELDS_MAX], left = n;
	for (size_t i = 0; i < n; i++) {
		out[i] = (struct jscan_val){0};
		if (i < JSCAN_FIELDS_MAX)
			klen[i] = strlen(keys[i]);
	}
	if (!obj || obj->type != JSCAN_OBJECT)
		return -1;
	struct jscan_it it;
	struct jscan_val k, v;
	jscan_iter(&it, obj);
	/* once every key is found, later members cannot matter: the first wins */
	while (left && jscan_next(&it, &k, &v)) {
		for (size_t i = 0; i < n; i++) {
			if (out[i].type != JSCAN_NONE)
				continue;
			size_t kn = i < JSCAN_FIELDS_MAX ? klen[i] : strlen(keys[i]);
			if (k.esc ? jscan_str_is(&k, keys[i]) : (k.n - 2 == kn && memcmp(k.p + 1, keys[i], kn) == 0)) {
				out[i] = v;
				left--;
				break;
			}
		}
	}
	return 0;
}

/* Plain integers of up to 15 digits are exact in a double, so reading
 * them without strtod gives what cJSON's strtod gives. */
static int small_int(const struct jscan_val *v, int64_t *out)
{
	const char *p = v->p, *e = v->p + v->n;
	int neg = *p == '-';
	p += neg;
	if (e - p > 15 || e == p)
		return -1;
	int64_t x = 0;
	for (; p < e; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		x = x * 10 + (*p - '0');
	}
	*out = neg ? -x : x;
	return 0;
}

int jscan_num(const struct jscan_val *v, double *out)
{
	if (!v || v->type != JSCAN_NUMBER || v->n > NUM_CHARS_MAX)
		return -1;
	int64_t i;
	if (small_int(v, &i) == 0) {
		*out = (double)i;
		return 0;
	}
	char tmp[NUM_CHARS_MAX + 1];
	memcpy(tmp, v->p, v->n);
	tmp[v->n] = '\0';
	*out = strtod(tmp, NULL);
	return 0;
}

int jscan_int(const struct jscan_val *v, int64_t *out)
{
	if (!v || v->type != JSCAN_NUMBER)
		return -1;
	if (small_int(v, out) == 0)
		return 0;
	double d;
	if (jscan_num(v, &d))
		return -1;
	/* as msg_to_int: 2^63 is exact in a double; NaN fails every comparison */
	if (!(d >= -9223372036854775808.0 && d < 9223372036854775808.0) || d != floor(d))
		return -1;
	*out = (int64_t)d;
	return 0;
}

static int add_utf8(struct buf *b, unsigned cp)
{
	char u[4];
	size_t n;
	if (cp < 0x80) {
		u[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		u[0] = (char)(0xC0 | cp >> 6);
		u[1] = (char)(0x80 | (cp & 0x3F));
		n = 2;
	} else if (cp < 0x10000) {
		u[0] = (char)(0xE0 | cp >> 12);
		u[1] = (char)(0x80 | (cp >> 6 & 0x3F));
		u[2] = (char)(0x80 | (cp & 0x3F));
		n = 3;
	} else {
		u[0] = (char)(0xF0 | cp >> 18);
		u[1] = (char)(0x80 | (cp >> 12 & 0x3F));
		u[2] = (char)(0x80 | (cp >> 6 & 0x3F));
		u[3] = (char)(0x80 | (cp & 0x3F));
		n = 4;
	}
	return buf_add(b, u, n);
}

/* Decode a checked string with escapes into b (replacing its contents). */
static int decode(const struct jscan_val *v, struct buf *b)
{
	const char *p = v->p + 1, *e = v->p + v->n - 1;
	buf_reset(b);
	if (buf_grow(b, v->n))
		return -1;
	while (p < e) {
		const char *s = p;
		while (p < e && *p != '\\')
			p++;
		if (p > s && buf_add(b, s, (size_t)(p - s)))
			return -1;
		if (p >= e)
			break;
		char ch = p[1], out = 0;
		switch (ch) {
		case 'b': out = '\b'; break;
		case 'f': out = '\f'; break;
		case 'n': out = '\n'; break;
		case 'r': out = '\r'; break;
		case 't': out = '\t'; break;
		case 'u': {
			unsigned cp = 0;
			size_t used = 0;
			if (unicode_esc(p + 1, e, &cp, &used) || add_utf8(b, cp))
				return -1;
			p += 1 + used;
			continue;
		}
		default: out = ch; /* " \ / */
		}
		if (buf_add(b, &out, 1))
			return -1;
		p += 2;
	}
	if (!b->p && buf_add(b, "", 0))
		return -1;
	return 0;
}

int jscan_str(const struct jscan_val *v, struct buf *scratch, const char **s, size_t *n)
{
	if (!v || v->type != JSCAN_STRING)
		return -1;
	if (!v->esc) {
		*s = v->p + 1;
		*n = v->n - 2;
		return 0;
	}
	if (!scratch || decode(v, scratch))
		return -1;
	*s = scratch->p;
	*n = strlen(scratch->p); /* an escaped NUL ends it, as in cJSON's C string */
	return 0;
}

int jscan_str_is(const struct jscan_val *v, const char *lit)
{
	if (!v || v->type != JSCAN_STRING)
		return 0;
	size_t ln = strlen(lit);
	if (!v->esc)
		return v->n - 2 == ln && memcmp(v->p + 1, lit, ln) == 0;
	struct buf b = BUF_INIT;
	const char *s;
	size_t n;
	int eq = jscan_str(v, &b, &s, &n) == 0 && n == ln && memcmp(s, lit, ln) == 0;
	buf_release(&b);
	return eq;
}
