/* SPDX-License-Identifier: MIT */
/*
 * fuzz_jschema: schema compilation and validation (share/jschema.c) and the
 * ECMA-to-POSIX pattern translation under it (share/jsregex.c) on arbitrary
 * bytes. Input that parses as a JSON array [schema, instance, ...] is
 * compiled and every later element validated against it, and the schema
 * against itself; any other input is taken as a pattern text and compiled
 * and searched on itself. A refusal or an invalid instance must come with a
 * one-line reason; nothing may crash, leak, overflow the stack or hang
 * (the depth and step budgets bound validation).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jschema.h"
#include "jsregex.h"
#include "msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void one_line(const char *err)
{
	if (!err[0] || strchr(err, '\n'))
		abort(); /* a refusal always says why, on one line */
}

static void run_schema(const msg *arr)
{
	char err[512];
	struct jschema *s = jschema_compile(msg_child(arr), err, sizeof err);
	if (!s) {
		one_line(err);
		return;
	}
	for (const msg *inst = msg_child(arr); inst; inst = msg_next(inst)) {
		int rc = jschema_validate(s, inst, err, sizeof err);
		if (rc == -1)
			one_line(err);
		else if (rc != 0)
			abort();
	}
	jschema_free(s);
}

static void run_pattern(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	if (!text)
		return;
	memcpy(text, data, size);
	text[size] = '\0';
	char err[256];
	struct jsregex re;
	if (jsregex_compile(&re, text, err, sizeof err) == 0) {
		(void)jsregex_search(&re, text);
		(void)jsregex_search(&re, "");
		jsregex_free(&re);
	} else {
		one_line(err);
	}
	free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[128];
	msg *m = msg_parse((const char *)data, size, err, sizeof err);
	if (m && msg_is_array(m) && msg_size(m) >= 1)
		run_schema(m);
	else
		run_pattern(data, size);
	msg_free(m);
	return 0;
}
