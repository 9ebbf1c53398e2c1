/* SPDX-License-Identifier: MIT */
/*
 * fuzz_jscan: the in-place reader of the hot frames (share/jscan.c) on
 * arbitrary bytes: check, then walk every value with every reader the
 * daemons use. Whatever jscan accepts, cJSON (msg_parse) must accept too,
 * with the same strings and numbers: else the master and the worker would
 * read a frame differently from the rest of the code (abort).
 */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "jscan.h"
#include "msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void walk(const struct jscan_val *v, const msg *m, struct buf *b)
{
	struct jscan_it it;
	struct jscan_val k, x, first;
	const char *s;
	size_t n;
	int64_t i;
	double d;
	switch (v->type) {
	case JSCAN_OBJECT:
		if (!msg_is_object(m))
			abort();
		jscan_iter(&it, v);
		while (jscan_next(&it, &k, &x)) {
			char key[128];
			if (jscan_str(&k, b, &s, &n) || n >= sizeof key || memchr(s, '\0', n))
				continue;
			memcpy(key, s, n);
			key[n] = '\0';
			if (!jscan_get(v, key, &first))
				abort();
			walk(&first, msg_get(m, key), b);
		}
		break;
	case JSCAN_ARRAY: {
		const msg *e = msg_child(m);
		jscan_iter(&it, v);
		while (jscan_next(&it, NULL, &x)) {
			if (!e)
				abort();
			walk(&x, e, b);
			e = msg_next(e);
		}
		if (e)
			abort();
		break;
	}
	case JSCAN_STRING:
		if (jscan_str(v, b, &s, &n) || !msg_is_str(m) || n != strlen(msg_str(m)) || memcmp(s, msg_str(m), n))
			abort();
		break;
	case JSCAN_NUMBER: {
		int64_t j;
		if (jscan_num(v, &d) || !msg_is_num(m) || !(d == msg_num(m) || (isnan(d) && isnan(msg_num(m)))))
			abort();
		int ri = jscan_int(v, &i), rj = msg_to_int(m, &j);
		if (ri != rj || (ri == 0 && i != j))
			abort();
		break;
	}
	default:
		if (v->type == JSCAN_TRUE ? !msg_bool(m) : v->type == JSCAN_FALSE ? !msg_is_bool(m) || msg_bool(m) : !msg_is_null(m))
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct jscan_val root;
	char err[160];
	if (jscan_check((const char *)data, size, &root, err, sizeof err))
		return 0;
	msg *m = msg_parse((const char *)data, size, NULL, 0);
	if (!m)
		abort(); /* jscan took what cJSON refuses */
	struct buf b = BUF_INIT;
	walk(&root, m, &b);
	buf_release(&b);
	msg_free(m);
	return 0;
}
