/* SPDX-License-Identifier: MIT */
/* Unit tests for share/jobarray: the member-set parser (ranges, steps,
 * lists, and every malformed form refused with its reason), task ids by
 * index, the printing of ids back into the syntax (and that it parses to
 * the same ids), and the expansion of {} and {field} in a template. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "buf.h"
#include "jobarray.h"
#include "msg.h"

static void test_ranges_steps_lists(void **state)
{
	(void)state;
	struct jobarray a;
	char err[200];
	assert_int_equal(jobarray_parse(&a, "1-1000000", err, sizeof err), 0);
	assert_int_equal(a.count, 1000000);
	assert_int_equal(jobarray_task(&a, 0), 1);
	assert_int_equal(jobarray_task(&a, 999999), 1000000);
	jobarray_release(&a);
	assert_int_equal(jobarray_parse(&a, "1-10:3,5,7-9,0", err, sizeof err), 0);
	/* 1 4 7 10 | 5 | 7 8 9 | 0 */
	const int64_t want[] = {1, 4, 7, 10, 5, 7, 8, 9, 0};
	assert_int_equal(a.count, 9);
	for (int64_t i = 0; i < 9; i++)
		assert_int_equal(jobarray_task(&a, i), want[i]);
	jobarray_release(&a);
	assert_int_equal(jobarray_parse(&a, "7", err, sizeof err), 0);
	assert_int_equal(a.count, 1);
	assert_int_equal(jobarray_task(&a, 0), 7);
	jobarray_release(&a);
	/* a step that overshoots stops at the last member <= hi */
	assert_int_equal(jobarray_parse(&a, "1-10:4", err, sizeof err), 0);
	assert_int_equal(a.count, 3);
	assert_int_equal(jobarray_task(&a, 2), 9);
	jobarray_release(&a);
}

static void expect_refused(const char *text, const char *why)
{
	struct jobarray a;
	char err[200] = "";
	assert_int_equal(jobarray_parse(&a, text, err, sizeof err), -1);
	if (!strstr(err, why))
		fail_msg("'%s': error '%s' lacks '%s'", text, err, why);
	jobarray_release(&a);
}

static void test_malformed_refused(void **state)
{
	(void)state;
	expect_refused("5-1", "the range is empty (5 > 1)");
	expect_refused("2-1", "the range is empty (2 > 1)");
	expect_refused("x", "'x' is not N, N-M or N-M:STEP");
	expect_refused("1-0:0", "1-0:0: the");
	expect_refused("1-5:0", "the step must be 1 or more");
	expect_refused("", "an empty set");
	expect_refused("1,,2", "an empty item");
	expect_refused("1,", "an empty item");
	expect_refused("-3", "is not N");
	expect_refused("1-", "is not N");
	expect_refused("1-2:", "is not N");
	expect_refused("1 -2", "is not N");
	expect_refused("99999999999999999", "is not N");
	expect_refused("1-200000000", "more than 100000000 members");
	expect_refused("9007199254740993", "task ids go up to");
}

static void test_format_round_trip(void **state)
{
	(void)state;
	const int64_t ids[] = {1, 5, 7, 8, 9, 12, 13};
	struct buf b = BUF_INIT;
	assert_int_equal(jobarray_format(&b, ids, 7), 0);
	assert_string_equal(b.p, "1,5,7-9,12-13");
	struct jobarray a;
	char err[200];
	assert_int_equal(jobarray_parse(&a, b.p, err, sizeof err), 0);
	assert_int_equal(a.count, 7);
	for (int64_t i = 0; i < 7; i++)
		assert_int_equal(jobarray_task(&a, i), ids[i]);
	jobarray_release(&a);
	buf_release(&b);
}

static void expect_expand(const char *tmpl, const char *text, const char *obj_json, const char *want)
{
	msg *o = obj_json ? msg_parse(obj_json, strlen(obj_json), NULL, 0) : NULL;
	struct buf b = BUF_INIT;
	assert_int_equal(jobarray_expand(&b, tmpl, text, o), 0);
	assert_string_equal(b.p ? b.p : "", want);
	buf_release(&b);
	msg_free(o);
}

static void test_expand(void **state)
{
	(void)state;
	expect_expand("./sim --seed {}", "42", NULL, "./sim --seed 42");
	expect_expand("{}-{}", "a b", NULL, "a b-a b");
	expect_expand("no braces", "x", NULL, "no braces");
	expect_expand("echo ${HOME} '{print}' {", "x", NULL, "echo ${HOME} '{print}' {");
	expect_expand("{}", "", NULL, "");
	const char *obj = "{\"name\":\"ann\",\"n\":3,\"tags\":[1,2]}";
	expect_expand("hi {name} #{n} {tags} {nope} {}", "{...}", obj, "hi ann #3 [1,2] {nope} {...}");
	/* fields only for objects */
	expect_expand("{name}", "x", "[1]", "{name}");
	msg *s = msg_new_str("a line");
	char *t = jobarray_entry_text(s);
	assert_string_equal(t, "a line");
	free(t);
	msg_free(s);
	msg *n = msg_parse("{\"a\":1}", 7, NULL, 0);
	t = jobarray_entry_text(n);
	assert_string_equal(t, "{\"a\":1}");
	free(t);
	msg_free(n);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ranges_steps_lists),
		cmocka_unit_test(test_malformed_refused),
		cmocka_unit_test(test_format_round_trip),
		cmocka_unit_test(test_expand),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
