/* SPDX-License-Identifier: MIT */
/* Unit tests for share/jscan (the in-place JSON reader of the hot frames):
 * reading a frame, every kind of malformed text refused with a reason, and
 * the promise that jscan accepts a subset of what msg_parse (cJSON) accepts,
 * with the same values -- checked on fixed cases and on mutated frames. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "jscan.h"
#include "msg.h"

static struct jscan_val check_ok(const char *text)
{
	struct jscan_val v;
	char err[160] = "";
	if (jscan_check(text, strlen(text), &v, err, sizeof err) != 0)
		fail_msg("refused %s: %s", text, err);
	return v;
}

static const char assign[] =
	" {\"t\":\"assign\",\"jobs\":[{\"id\":7,\"a\":2,\"type\":\"echo\",\"input\":\"x\"},"
	"{\"id\":8,\"type\":\"exec\",\"input\":\"a\\\"b\\\\c\\n\\u00e9\\ud83d\\ude00\",\"delay\":0.5,"
	"\"opts\":{\"deep\":[[\"]}\",{\"k\":\"{[\"}],-1.5e3,true,false,null]},\"id\":99}]} \n";

static void test_read_frame(void **state)
{
	(void)state;
	struct jscan_val root = check_ok(assign), t, jobs, e, f[5];
	assert_int_equal(root.type, JSCAN_OBJECT);
	assert_true(jscan_get(&root, "t", &t));
	assert_true(jscan_str_is(&t, "assign"));
	assert_false(jscan_str_is(&t, "assig"));
	assert_true(jscan_get(&root, "jobs", &jobs));
	assert_int_equal(jobs.type, JSCAN_ARRAY);
	assert_false(jscan_get(&root, "nope", &e));
	struct jscan_it it;
	jscan_iter(&it, &jobs);
	static const char *const keys[] = {"id", "a", "type", "input", "delay"};
	assert_true(jscan_next(&it, NULL, &e));
	assert_int_equal(jscan_fields(&e, keys, f, 5), 0);
	int64_t id = 0, a = 0;
	assert_int_equal(jscan_int(&f[0], &id), 0);
	assert_int_equal(id, 7);
	assert_int_equal(jscan_int(&f[1], &a), 0);
	assert_int_equal(a, 2);
	assert_int_equal(f[4].type, JSCAN_NONE);
	const char *s;
	size_t n;
	assert_int_equal(jscan_str(&f[3], NULL, &s, &n), 0); /* no escapes: in place */
	assert_int_equal(n, 1);
	assert_memory_equal(s, "x", 1);
	assert_ptr_equal(s, f[3].p + 1);

	assert_true(jscan_next(&it, NULL, &e));
	assert_int_equal(jscan_fields(&e, keys, f, 5), 0);
	assert_int_equal(jscan_int(&f[0], &id), 0);
	assert_int_equal(id, 8); /* the first of two "id" members wins, as in cJSON */
	assert_int_equal(f[1].type, JSCAN_NONE);
	struct buf b = BUF_INIT;
	assert_int_equal(jscan_str(&f[3], &b, &s, &n), 0);
	assert_string_equal(s, "a\"b\\c\n\xc3\xa9\xf0\x9f\x98\x80");
	assert_int_equal(n, strlen(s));
	double d = 0;
	assert_int_equal(jscan_num(&f[4], &d), 0);
	assert_true(d == 0.5);
	assert_false(jscan_next(&it, NULL, &e)); /* the nested "opts" was skipped whole */
	buf_release(&b);
}

/* Every malformed text is refused, with a reason naming the problem. */
static void test_malformed(void **state)
{
	(void)state;
	static const struct {
		const char *text, *why;
	} bad[] = {
		{"", "unexpected end"},
		{"   ", "unexpected end"},
		{"{\"t\":\"assign\",\"jobs\":[{\"id\":1}", "unterminated array"},
		{"{\"t\":\"assign\"", "unterminated object"},
		{"{\"t\":\"ass", "unterminated string"},
		{"{\"t\" \"x\"}", "expected ':'"},
		{"{\"t\":1,}", "expected a string key"},
		{"{t:1}", "expected a string key"},
		{"[1,]", "unexpected character"},
		{"[1 2]", "expected ',' or ']'"},
		{"{\"a\":1 \"b\":2}", "expected ',' or '}'"},
		{"{\"a\":\"\\q\"}", "bad escape"},
		{"\"\\u12g4\"", "bad \\u escape"},
		{"\"\\u12\"", "bad \\u escape"},
		{"\"\\udc00\"", "lone surrogate"},
		{"\"\\ud800\"", "lone surrogate"},
		{"\"\\ud800\\u0041\"", "lone surrogate"},
		{"\"a\tb\"", "raw control character"},
		{"+1", "unexpected character"},
		{"01", "trailing bytes"},
		{"1.", "no digit after '.'"},
		{"1e", "no digit in the exponent"},
		{"-", "bad number"},
		{"1111111111111111111111111111111111111111111111111111111111111111", "longer than 63"},
		{"tru", "unexpected character"},
		{"nul", "unexpected character"},
		{"{} {}", "trailing bytes"},
		{"\xef\xbb\xbf{}", "unexpected character"},
		{"{\"a\":\"\\", "unterminated string"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct jscan_val v;
		char err[160] = "";
		if (jscan_check(bad[i].text, strlen(bad[i].text), &v, err, sizeof err) == 0)
			fail_msg("accepted %s", bad[i].text);
		if (!strstr(err, bad[i].why) || strncmp(err, "bad JSON at byte ", 17) != 0)
			fail_msg("%s: got \"%s\", want \"%s\"", bad[i].text, err, bad[i].why);
	}
	/* nesting: 64 levels are read, 65 refused */
	char deep[200];
	memset(deep, '[', 64);
	memset(deep + 64, ']', 64);
	deep[128] = '\0';
	check_ok(deep);
	memset(deep, '[', 65);
	memset(deep + 65, ']', 65);
	deep[130] = '\0';
	char err[160];
	struct jscan_val v;
	assert_int_equal(jscan_check(deep, 130, &v, err, sizeof err), -1);
	assert_non_null(strstr(err, "nested too deep"));
	/* a NUL byte inside the length is not the end of the text */
	assert_int_equal(jscan_check("{}\0{}", 5, &v, NULL, 0), -1);
}

/* Readers given the wrong type say so, and never crash. */
static void test_wrong_types(void **state)
{
	(void)state;
	struct jscan_val root = check_ok("{\"s\":\"7\",\"n\":7,\"a\":[1],\"o\":{},\"b\":true,\"z\":null}"), v, f[1];
	int64_t i = 42;
	double d = 42;
	const char *s = NULL;
	size_t n = 0;
	static const char *const k[] = {"s"};
	assert_true(jscan_get(&root, "s", &v));
	assert_int_equal(jscan_int(&v, &i), -1);
	assert_int_equal(jscan_num(&v, &d), -1);
	assert_true(i == 42 && d == 42);
	assert_true(jscan_get(&root, "n", &v));
	assert_int_equal(jscan_str(&v, NULL, &s, &n), -1);
	assert_false(jscan_str_is(&v, "7"));
	assert_int_equal(jscan_fields(&v, k, f, 1), -1);
	assert_int_equal(f[0].type, JSCAN_NONE);
	assert_true(jscan_get(&root, "a", &v));
	assert_false(jscan_get(&v, "s", f));
	assert_true(jscan_get(&root, "z", &v));
	assert_int_equal(v.type, JSCAN_NULL);
	assert_int_equal(jscan_int(NULL, &i), -1);
	assert_int_equal(jscan_fields(NULL, k, f, 1), -1);
	struct jscan_it it;
	jscan_iter(&it, &v); /* a null is not walked */
	assert_false(jscan_next(&it, NULL, f));
}

/* Numbers read as cJSON's strtod reads them, then msg_to_int's rules. */
static void test_numbers_as_cjson(void **state)
{
	(void)state;
	static const char *const nums[] = {
		"0", "-0", "7", "-7", "123456789012345", "-123456789012345", "1234567890123456",
		"9007199254740993", "9223372036854775807", "9223372036854775808", "-9223372036854775808",
		"-9223372036854775809", "1.0", "1.5", "1e3", "1E+3", "1e-3", "-2.5e-7", "1e300", "1e400",
		"-1e400", "0.1", "123456789012345678901234567890",
	};
	for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++) {
		struct jscan_val v = check_ok(nums[i]);
		msg *m = msg_parse(nums[i], strlen(nums[i]), NULL, 0);
		assert_non_null(m);
		int64_t a = 0, b = 0;
		int ra = jscan_int(&v, &a), rb = msg_to_int(m, &b);
		if (ra != rb || (ra == 0 && a != b))
			fail_msg("%s: jscan_int %d %lld, msg_to_int %d %lld", nums[i], ra, (long long)a, rb, (long long)b);
		double x = 0;
		assert_int_equal(jscan_num(&v, &x), 0);
		if (!(x == msg_num(m)))
			fail_msg("%s: jscan_num %.17g, cJSON %.17g", nums[i], x, msg_num(m));
		msg_free(m);
	}
}

/* Strings decode as cJSON decodes them, an escaped NUL ending one. */
static void test_strings_as_cjson(void **state)
{
	(void)state;
	static const char *const strs[] = {
		"\"\"", "\"plain\"", "\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"", "\"\\u0041\\u00e9\\u20ac\"",
		"\"\\ud83d\\ude00!\"", "\"ab\\u0000cd\"", "\"\\u0000\"", "\"caf\xc3\xa9\"",
	};
	struct buf b = BUF_INIT;
	for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++) {
		struct jscan_val v = check_ok(strs[i]);
		msg *m = msg_parse(strs[i], strlen(strs[i]), NULL, 0);
		assert_non_null(m);
		const char *s;
		size_t n;
		assert_int_equal(jscan_str(&v, &b, &s, &n), 0);
		const char *c = msg_str(m);
		assert_non_null(c);
		if (n != strlen(c) || memcmp(s, c, n) != 0)
			fail_msg("%s: jscan \"%.*s\" (%zu), cJSON \"%s\"", strs[i], (int)n, s, n, c);
		assert_true(jscan_str_is(&v, c));
		msg_free(m);
	}
	buf_release(&b);
	/* a key with escapes matches its decoded name */
	struct jscan_val root = check_ok("{\"\\u0069d\":5}"), v;
	int64_t id = 0;
	assert_true(jscan_get(&root, "id", &v));
	assert_int_equal(jscan_int(&v, &id), 0);
	assert_int_equal(id, 5);
}

/* Walk a checked value and compare each member's reading with cJSON's. */
static void compare_tree(const struct jscan_val *v, const msg *m, struct buf *b)
{
	if (v->type == JSCAN_OBJECT) {
		assert_true(msg_is_object(m));
		struct jscan_it it;
		struct jscan_val k, x, first;
		jscan_iter(&it, v);
		while (jscan_next(&it, &k, &x)) {
			const char *ks;
			size_t kn;
			assert_int_equal(jscan_str(&k, b, &ks, &kn), 0);
			char key[256];
			if (kn >= sizeof key || memchr(ks, '\0', kn))
				continue;
			memcpy(key, ks, kn);
			key[kn] = '\0';
			assert_true(jscan_get(v, key, &first)); /* the first of its name, as cJSON */
			compare_tree(&first, msg_get(m, key), b);
		}
	} else if (v->type == JSCAN_ARRAY) {
		assert_true(msg_is_array(m));
		struct jscan_it it;
		struct jscan_val x;
		const msg *e = msg_child(m);
		jscan_iter(&it, v);
		while (jscan_next(&it, NULL, &x)) {
			assert_non_null(e);
			compare_tree(&x, e, b);
			e = msg_next(e);
		}
		assert_null(e);
	} else if (v->type == JSCAN_STRING) {
		const char *s;
		size_t n;
		assert_int_equal(jscan_str(v, b, &s, &n), 0);
		assert_true(msg_is_str(m));
		assert_true(n == strlen(msg_str(m)) && memcmp(s, msg_str(m), n) == 0);
	} else if (v->type == JSCAN_NUMBER) {
		double d;
		assert_int_equal(jscan_num(v, &d), 0);
		assert_true(msg_is_num(m) && d == msg_num(m));
	} else {
		assert_true(v->type == JSCAN_TRUE ? msg_bool(m) : v->type == JSCAN_FALSE ? msg_is_bool(m) && !msg_bool(m)
											  : msg_is_null(m));
	}
}

/* Mutated and truncated frames: jscan never crashes, and whatever it
 * accepts cJSON accepts too, with the same values. */
static void test_mutations_subset_of_cjson(void **state)
{
	(void)state;
	static const char alphabet[] = "{}[]\":,\\u0123456789abcdefABCDEF-+.eE tnrl\x01\xc3";
	char t[sizeof assign];
	size_t len = sizeof assign - 1;
	unsigned seed = 12345, accepted = 0;
	struct buf b = BUF_INIT;
	for (int round = 0; round < 20000; round++) {
		memcpy(t, assign, len);
		size_t n = len;
		int edits = 1 + round % 3;
		for (int k = 0; k < edits; k++) {
			seed = seed * 1103515245u + 12345u;
			size_t at = (seed >> 8) % n;
			seed = seed * 1103515245u + 12345u;
			if ((seed >> 4) % 4 == 0)
				n = at; /* truncate */
			else
				t[at] = alphabet[(seed >> 8) % (sizeof alphabet - 1)];
			if (!n)
				break;
		}
		struct jscan_val v;
		if (jscan_check(t, n, &v, NULL, 0))
			continue;
		accepted++;
		msg *m = msg_parse(t, n, NULL, 0);
		if (!m)
			fail_msg("jscan accepted what cJSON refuses: %.*s", (int)n, t);
		compare_tree(&v, m, &b);
		msg_free(m);
	}
	assert_true(accepted > 100); /* the loop compared something */
	buf_release(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_read_frame),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_wrong_types),
		cmocka_unit_test(test_numbers_as_cjson),
		cmocka_unit_test(test_strings_as_cjson),
		cmocka_unit_test(test_mutations_subset_of_cjson),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
