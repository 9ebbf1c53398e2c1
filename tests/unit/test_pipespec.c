/* SPDX-License-Identifier: MIT */
/*
 * test_pipespec: the pipeline file parser and validator (share/pipespec)
 * and the item conversions of stages -- the chain in "then" order, every
 * kind of bad file refused with a message naming what is wrong (bad JSON,
 * a cycle, an unknown stage, instances < 1, ...), outputs split into
 * items with and without fan_out, exec command lines with the item quoted,
 * a reducing stage's input, a typed stage's payload and the output of its
 * jobs' results.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipespec.h"

static void refused(const char *json, const char *needle)
{
	struct pipespec p;
	char err[400] = "";
	if (pipespec_parse(&p, json, strlen(json), err, sizeof err) == 0) {
		pipespec_release(&p);
		fail_msg("accepted: %s", json);
	}
	if (!strstr(err, needle))
		fail_msg("error for %s is \"%s\", without \"%s\"", json, err, needle);
	assert_null(strchr(err, '\n'));
	assert_null(p.stages);
}

static void test_example(void **st)
{
	(void)st;
	const char *f = "{\"name\":\"ex\",\"input\":[1,\"two\",{\"n\":3}],\"stages\":["
			"{\"name\":\"generate\",\"exec\":\"gen\",\"fan_out\":true},"
			"{\"name\":\"square\",\"exec\":\"sq {}\",\"instances\":4,\"max_queued\":10},"
			"{\"name\":\"sub\",\"exec\":\"sub\",\"instances\":2,\"timeout\":5,\"retries\":1,\"env\":[\"A=1\"]},"
			"{\"name\":\"print\",\"echo\":true,\"reduce\":true}]}";
	struct pipespec p;
	char err[400];
	assert_int_equal(pipespec_parse(&p, f, strlen(f), err, sizeof err), 0);
	assert_string_equal(p.name, "ex");
	assert_int_equal(p.nstages, 4);
	assert_string_equal(p.stages[0].name, "generate");
	assert_int_equal(p.stages[0].fan_out, 1);
	assert_int_equal(p.stages[0].instances, 1);
	assert_int_equal(p.stages[1].instances, 4);
	assert_int_equal(p.stages[1].max_queued, 10);
	assert_string_equal(p.stages[1].run, "sq {}");
	assert_int_equal(p.stages[2].retries, 1);
	assert_int_equal(p.stages[1].retries, -1);
	assert_string_equal(p.stages[2].env_json, "[\"A=1\"]");
	assert_int_equal(p.stages[3].kind, PIPESPEC_ECHO);
	assert_int_equal(p.stages[3].reduce, 1);
	assert_int_equal(p.nitems, 3);
	assert_string_equal(p.items[0], "1");
	assert_string_equal(p.items[1], "two");
	assert_string_equal(p.items[2], "{\"n\":3}");
	/* the stored text has no items and parses again to the same chain */
	assert_null(strstr(p.text, "input"));
	struct pipespec q;
	assert_int_equal(pipespec_parse(&q, p.text, strlen(p.text), err, sizeof err), 0);
	assert_int_equal(q.nstages, 4);
	assert_int_equal(q.has_input, 0);
	assert_string_equal(q.stages[3].name, "print");
	pipespec_release(&q);
	pipespec_release(&p);
}

/* "then" orders the chain whatever the listing order. */
static void test_then_order(void **st)
{
	(void)st;
	const char *f = "{\"stages\":[{\"name\":\"c\",\"echo\":true,\"then\":null},"
			"{\"name\":\"a\",\"echo\":true,\"then\":\"b\"},{\"name\":\"b\",\"echo\":true,\"then\":\"c\"}]}";
	struct pipespec p;
	char err[400];
	assert_int_equal(pipespec_parse(&p, f, strlen(f), err, sizeof err), 0);
	assert_string_equal(p.stages[0].name, "a");
	assert_string_equal(p.stages[1].name, "b");
	assert_string_equal(p.stages[2].name, "c");
	assert_int_equal(pipespec_find(&p, "c"), 2);
	assert_int_equal(pipespec_find(&p, "x"), -1);
	assert_int_equal(p.has_input, 0);
	pipespec_release(&p);
}

static void test_refused(void **st)
{
	(void)st;
	refused("{\"stages\":[", "not valid JSON");
	refused("[1]", "JSON object");
	refused("{}", "missing \"stages\"");
	refused("{\"stages\":[]}", "non-empty array");
	refused("{\"stages\":[{\"name\":\"a\",\"exec\":\"x\"}],\"stage\":1}", "unknown field \"stage\"");
	refused("{\"stages\":[{\"name\":\"a\",\"exec\":\"x\",\"instance\":2}]}", "unknown field \"instance\"");
	refused("{\"stages\":[{\"name\":\"a\",\"exec\":\"x\",\"instances\":0}]}", "\"instances\" must be an integer from 1");
	refused("{\"stages\":[{\"name\":\"a\",\"exec\":\"x\",\"instances\":-3}]}", "stage a: \"instances\"");
	refused("{\"stages\":[{\"name\":\"a\",\"exec\":\"x\",\"instances\":1.5}]}", "\"instances\"");
	refused("{\"stages\":[{\"name\":\"a\"}]}", "stage a: give what its jobs run");
	refused("{\"stages\":[{\"name\":\"a\",\"exec\":\"x\",\"echo\":true}]}", "only one of");
	refused("{\"stages\":[{\"name\":\"a\",\"exec\":\"\"}]}", "\"exec\" must be a command line");
	refused("{\"stages\":[{\"exec\":\"x\"}]}", "stage 0: \"name\"");
	refused("{\"stages\":[{\"name\":\"a b\",\"exec\":\"x\"}]}", "\"name\" must be");
	refused("{\"stages\":[{\"name\":\"a\",\"exec\":\"x\"},{\"name\":\"a\",\"exec\":\"y\"}]}", "two stages are named a");
	refused("{\"stages\":[{\"name\":\"a\",\"exec\":\"x\",\"then\":\"nope\"}]}",
		"stage a: \"then\" names unknown stage \"nope\"");
	refused("{\"stages\":[{\"name\":\"a\",\"exec\":\"x\",\"then\":\"a\"}]}", "stages a -> a form a cycle");
	refused("{\"stages\":[{\"name\":\"a\",\"exec\":\"x\"},{\"name\":\"b\",\"exec\":\"x\"},"
		"{\"name\":\"c\",\"exec\":\"x\",\"then\":\"a\"}]}",
		"stages a -> b -> c -> a form a cycle");
	refused("{\"stages\":[{\"name\":\"a\",\"exec\":\"x\",\"then\":\"c\"},{\"name\":\"b\",\"exec\":\"x\"},"
		"{\"name\":\"c\",\"exec\":\"x\"}]}",
		"stage c follows both a and b");
	refused("{\"stages\":[{\"name\":\"a\",\"exec\":\"x\",\"then\":null},{\"name\":\"b\",\"exec\":\"x\"}]}",
		"stages a and b both start a chain");
	refused("{\"stages\":[{\"name\":\"a\",\"exec\":\"x\",\"reduce\":true},{\"name\":\"b\",\"exec\":\"x\"}]}",
		"stage a: \"reduce\"");
	refused("{\"stages\":[{\"name\":\"a\",\"exec\":\"x\"},{\"name\":\"b\",\"exec\":\"x\",\"fan_out\":true}]}",
		"stage b: \"fan_out\"");
	refused("{\"stages\":[{\"name\":\"a\",\"exec\":\"x\",\"max_queued\":3},{\"name\":\"b\",\"exec\":\"x\"}]}",
		"stage a: \"max_queued\"");
	refused("{\"stages\":[{\"name\":\"a\",\"exec\":\"x\",\"max_queued\":0}]}", "\"max_queued\" must be");
	refused("{\"stages\":[{\"name\":\"a\",\"func\":\"nolib\"}]}", "\"func\" must look like");
	refused("{\"stages\":[{\"name\":\"a\",\"echo\":true,\"cwd\":\"/tmp\"}]}", "for exec stages");
	refused("{\"stages\":[{\"name\":\"a\",\"exec\":\"x\",\"cwd\":\"rel\"}]}", "absolute directory");
	refused("{\"stages\":[{\"name\":\"a\",\"exec\":\"x\"}],\"input\":{}}", "\"input\" must be an array");
	refused("{\"stages\":[{\"name\":\"a\",\"exec\":\"x\",\"env\":[\"NOEQ\"]}]}", "\"env\" must be");
}

static void test_split(void **st)
{
	(void)st;
	char **v;
	size_t n;
	assert_int_equal(pipespec_split("[1,\"a\",{\"x\":2}]\n", 16, 1, &v, &n), 0);
	assert_int_equal(n, 3);
	assert_string_equal(v[0], "1");
	assert_string_equal(v[1], "a");
	assert_string_equal(v[2], "{\"x\":2}");
	pipespec_items_free(v, n);
	/* without fan_out an array is one item */
	assert_int_equal(pipespec_split("[1,2]\n\n", 7, 0, &v, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(v[0], "[1,2]");
	pipespec_items_free(v, n);
	/* fan_out of something else: one item */
	assert_int_equal(pipespec_split("42\r\n", 4, 1, &v, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(v[0], "42");
	pipespec_items_free(v, n);
	assert_int_equal(pipespec_split("[]", 2, 1, &v, &n), 0);
	assert_int_equal(n, 0);
	pipespec_items_free(v, n);
	assert_int_equal(pipespec_split("", 0, 0, &v, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(v[0], "");
	pipespec_items_free(v, n);
}

static void test_command_and_reduce(void **st)
{
	(void)st;
	char *c = pipespec_command("echo {} and {}", "it's");
	assert_string_equal(c, "echo 'it'\\''s' and 'it'\\''s'");
	free(c);
	c = pipespec_command("no item {x}", "a");
	assert_string_equal(c, "no item {x}");
	free(c);
	char *items[] = {"3", "x", "{\"a\":1}", "[1"};
	c = pipespec_reduce_input(items, 4);
	assert_string_equal(c, "[3,\"x\",{\"a\":1},\"[1\"]");
	free(c);
	c = pipespec_reduce_input(NULL, 0);
	assert_string_equal(c, "[]");
	free(c);
}

static char *payload_text(const char *item, const char *field)
{
	msg *m = pipespec_payload(item, field);
	assert_non_null(m);
	char *t = msg_print(m);
	msg_free(m);
	return t;
}

static void test_typed(void **st)
{
	(void)st;
	const char *f = "{\"stages\":[{\"name\":\"a\",\"type\":\"square\",\"item_field\":\"n\",\"instances\":3},"
			"{\"name\":\"b\",\"type\":\"say.v2\"}]}";
	struct pipespec p;
	char err[400];
	assert_int_equal(pipespec_parse(&p, f, strlen(f), err, sizeof err), 0);
	assert_int_equal(p.stages[0].kind, PIPESPEC_TYPED);
	assert_string_equal(p.stages[0].run, "square");
	assert_string_equal(p.stages[0].item_field, "n");
	assert_int_equal(p.stages[0].instances, 3);
	assert_int_equal(p.stages[1].kind, PIPESPEC_TYPED);
	assert_null(p.stages[1].item_field);
	pipespec_release(&p);
	refused("{\"stages\":[{\"name\":\"a\",\"type\":\"no/slash\"}]}", "stage a: \"type\" must name a job type");
	refused("{\"stages\":[{\"name\":\"a\",\"type\":\"\"}]}", "\"type\" must name a job type");
	refused("{\"stages\":[{\"name\":\"a\",\"type\":\"t\",\"exec\":\"x\"}]}",
		"give only one of \"exec\", \"func\", \"echo\" and \"type\"");
	refused("{\"stages\":[{\"name\":\"a\",\"exec\":\"x\",\"item_field\":\"n\"}]}",
		"stage a: \"item_field\" is for stages of a job type");
	refused("{\"stages\":[{\"name\":\"a\",\"type\":\"t\",\"item_field\":\"\"}]}", "\"item_field\" must be");
	refused("{\"stages\":[{\"name\":\"a\"}]}", "\"type\" (a job type)");

	/* payloads: under item_field; an object as it is; anything else under "item" */
	char *t = payload_text("3", "n");
	assert_string_equal(t, "{\"n\":3}");
	free(t);
	t = payload_text("v 8", "message");
	assert_string_equal(t, "{\"message\":\"v 8\"}");
	free(t);
	t = payload_text("{\"message\":\"hi\"}", NULL);
	assert_string_equal(t, "{\"message\":\"hi\"}");
	free(t);
	t = payload_text("{\"a\":1}", "x");
	assert_string_equal(t, "{\"x\":{\"a\":1}}");
	free(t);
	t = payload_text("[1,2]", NULL);
	assert_string_equal(t, "{\"item\":[1,2]}");
	free(t);
	t = payload_text("plain text", NULL);
	assert_string_equal(t, "{\"item\":\"plain text\"}");
	free(t);

	/* a result's output goes on; anything else unchanged */
	size_t n;
	const char *r = "{\"status\":\"completed\",\"output\":{\"stdout\":\"9\\n\",\"rc\":0}}";
	t = pipespec_typed_output(r, strlen(r), &n);
	assert_string_equal(t, "{\"stdout\":\"9\\n\",\"rc\":0}");
	assert_int_equal(n, strlen(t));
	free(t);
	r = "{\"status\":\"completed\",\"output\":[1,2]}xx";
	t = pipespec_typed_output(r, strlen(r) - 2, &n);
	assert_string_equal(t, "[1,2]");
	free(t);
	t = pipespec_typed_output("not json", 8, &n);
	assert_string_equal(t, "not json");
	assert_int_equal(n, 8);
	free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_example),	 cmocka_unit_test(test_then_order),
		cmocka_unit_test(test_refused),	 cmocka_unit_test(test_split),
		cmocka_unit_test(test_command_and_reduce), cmocka_unit_test(test_typed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
