/* SPDX-License-Identifier: MIT */
/*
 * jscan: reading JSON text in place, without building a tree. The hot
 * frames -- a worker's `assign` and `result_ok`, one per few jobs -- are read
 * field by field straight from the frame's bytes: no allocation per value,
 * no copy of a string that has no escapes. jscan_check() validates a whole
 * text once (strict RFC 8259 JSON, nesting bounded); the readers after it
 * trust that check and only walk. Values are spans of the text (struct
 * jscan_val): a job's input can be passed on as the bytes that came in.
 *
 * Whatever jscan accepts, msg_parse() (cJSON) accepts with the same meaning:
 * the first of duplicated keys wins, a number is what strtod makes of it (an
 * integer must be integral and inside int64_t once a double, as
 * msg_to_int()), a string ends at an escaped NUL (\u0000) as a C string
 * does. jscan is stricter (no "+1", "01", raw control characters, a BOM or a
 * depth above JSCAN_DEPTH_MAX): a caller that gets an error can always hand
 * the text to msg_parse(), which then accepts or explains it.
 */
#ifndef MTS_JSCAN_H
#define MTS_JSCAN_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define JSCAN_DEPTH_MAX 64

enum jscan_type { JSCAN_NONE = 0, JSCAN_OBJECT, JSCAN_ARRAY, JSCAN_STRING, JSCAN_NUMBER, JSCAN_TRUE, JSCAN_FALSE, JSCAN_NULL };

/* One value: its bytes text[p .. p+n) (a string's with its quotes). */
struct jscan_val {
	const char *p;
	size_t n;
	enum jscan_type type;
	int esc; /* a string with a backslash in it: read it with jscan_str */
};

/* Check that json[0..len) is exactly one JSON value with only whitespace
 * around it. 0 and *root set, or -1 with a one-line reason in err ("bad
 * JSON at byte 17: bad escape \q"; err may be NULL). */
int jscan_check(const char *json, size_t len, struct jscan_val *root, char *err, size_t errlen);

/* Walk the members of a checked object or the elements of a checked array. */
struct jscan_it {
	const char *p, *end;
	int obj; /* walking an object: members have keys */
};
void jscan_iter(struct jscan_it *it, const struct jscan_val *v);
/* The next member (key set, for an object; key may be NULL) or element:
 * 1, or 0 at the end. */
int jscan_next(struct jscan_it *it, struct jscan_val *key, struct jscan_val *val);

/* The first member of obj named key: 1 and *out set, or 0 if absent (or
 * obj is not an object). */
int jscan_get(const struct jscan_val *obj, const char *key, struct jscan_val *out);

/* One pass over obj's members: out[i] is the first member named keys[i],
 * or has type JSCAN_NONE if there is none. 0, or -1 if obj is not an
 * object (every out[i] NONE then). */
int jscan_fields(const struct jscan_val *obj, const char *const *keys, struct jscan_val *out, size_t n);

/* A number as a double: 0, or -1 if v is not a number. */
int jscan_num(const struct jscan_val *v, double *out);
/* An integral number inside int64_t (as msg_to_int): 0, or -1 (out untouched). */
int jscan_int(const struct jscan_val *v, int64_t *out);
/* A string's characters: 0 with *s and *n set -- pointing into the text
 * when it has no escapes, else into scratch (decoded, NUL-terminated; what
 * was in scratch is replaced) -- or -1 if v is not a string or on OOM. Not
 * NUL-terminated in the first case: use *n. */
int jscan_str(const struct jscan_val *v, struct buf *scratch, const char **s, size_t *n);
/* 1 if v is a string equal to lit (escapes decoded), else 0. */
int jscan_str_is(const struct jscan_val *v, const char *lit);

#endif
