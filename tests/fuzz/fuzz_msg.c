/* SPDX-License-Identifier: MIT */
/*
 * fuzz_msg: message decoding (share/msg.c) on arbitrary bytes: parse, then
 * walk the whole tree with every getter the daemons use (numbers as
 * integers included: out-of-range values must read as absent, never as an
 * undefined conversion), print it back, re-parse the print and frame it.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void walk(const msg *m, int depth)
{
	int64_t v;
	double d;
	(void)msg_type(m);
	(void)msg_get_str(m, "t");
	(void)msg_get_int(m, "req", &v);
	(void)msg_get_num(m, "timeout", &d);
	(void)msg_get_bool(m, "all", 0);
	(void)msg_size(m);
	(void)msg_at(m, 3);
	if (msg_to_int(m, &v) == 0 && msg_int(m) != v)
		abort();
	(void)msg_str(m);
	(void)msg_num(m);
	if (depth > 64)
		return;
	for (msg *c = msg_child(m); c; c = msg_next(c)) {
		(void)msg_key(c);
		walk(c, depth + 1);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[120];
	msg *m = msg_parse((const char *)data, size, err, sizeof err);
	if (!m) {
		if (!err[0])
			abort(); /* a refusal always says why */
		return 0;
	}
	walk(m, 0);
	char *text = msg_print(m);
	if (text) {
		msg *again = msg_parse(text, strlen(text), err, sizeof err);
		if (!again)
			abort(); /* what we print, we read */
		msg_free(again);
		free(text);
	}
	struct buf b;
	buf_init(&b);
	(void)msg_frame(m, &b);
	buf_release(&b);
	msg *dup = msg_dup(m);
	msg_free(dup);
	msg_free(m);
	return 0;
}
