/* SPDX-License-Identifier: MIT */
/* Unit tests for share/msg (the JSON layer) and share/auth. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "auth.h"
#include "frame.h"
#include "msg.h"

static void test_parse_and_get(void **state)
{
	(void)state;
	const char *j = "{\"t\":\"submit\",\"req\":7,\"jobs\":[{\"type\":\"echo\",\"input\":\"hi\"}],\"ok\":true,\"big\":9007199254740991}";
	char err[128];
	msg *m = msg_parse(j, strlen(j), err, sizeof err);
	assert_non_null(m);
	assert_string_equal(msg_type(m), "submit");
	int64_t v = 0;
	assert_int_equal(msg_get_int(m, "req", &v), 0);
	assert_int_equal(v, 7);
	assert_int_equal(msg_get_int(m, "big", &v), 0);
	assert_true(v == 9007199254740991LL);
	assert_int_equal(msg_get_int(m, "t", &v), -1); /* wrong type reads as absent */
	assert_int_equal(msg_get_bool(m, "ok", 0), 1);
	assert_int_equal(msg_get_bool(m, "missing", 5), 5);
	msg *jobs = msg_get(m, "jobs");
	assert_int_equal(msg_size(jobs), 1);
	assert_string_equal(msg_get_str(msg_at(jobs, 0), "input"), "hi");
	assert_null(msg_get_str(msg_get(m, "nope"), "x")); /* NULL-safe chains */
	msg_free(m);
}

static void test_bad_json_message(void **state)
{
	(void)state;
	char err[128];
	assert_null(msg_parse("{\"t\":", 5, err, sizeof err));
	assert_non_null(strstr(err, "bad JSON"));
	assert_null(msg_parse("{} {}", 5, err, sizeof err));
	assert_non_null(strstr(err, "trailing"));
	/* Not NUL-terminated input must not be read past len. */
	char buf[3] = {'[', '1', ']'};
	msg *m = msg_parse(buf, 3, err, sizeof err);
	assert_non_null(m);
	assert_true(msg_is_array(m));
	msg_free(m);
}

static void test_build_and_frame(void **state)
{
	(void)state;
	msg *m = msg_new_typed("done");
	msg *arr = msg_new_array();
	msg *r = msg_new_object();
	msg_set_int(r, "id", 42);
	msg_set_str(r, "output", "line1\n\"quoted\"");
	msg_set_raw(r, "extra", "{\"a\":1}");
	msg_push(arr, r);
	msg_add(m, "jobs", arr);
	msg_set_int(m, "n", 1);
	msg_set_int(m, "n", 2); /* replaces */
	struct buf b = BUF_INIT;
	assert_int_equal(msg_frame(m, &b), 0);
	struct frame_reader rd;
	frame_reader_init(&rd, 0);
	frame_reader_feed(&rd, b.p, b.len);
	const char *p;
	size_t n;
	assert_int_equal(frame_reader_next(&rd, &p, &n), FRAME_OK);
	char err[64];
	msg *back = msg_parse(p, n, err, sizeof err);
	assert_non_null(back);
	int64_t v;
	msg_get_int(back, "n", &v);
	assert_int_equal(v, 2);
	msg *r0 = msg_at(msg_get(back, "jobs"), 0);
	assert_string_equal(msg_get_str(r0, "output"), "line1\n\"quoted\"");
	msg_get_int(msg_get(r0, "extra"), "a", &v);
	assert_int_equal(v, 1);
	msg *taken = msg_take(back, "jobs");
	assert_null(msg_get(back, "jobs"));
	msg_free(taken);
	msg_free(back);
	msg_free(m);
	frame_reader_release(&rd);
	buf_release(&b);
}

static int equal_json(const char *a, const char *b)
{
	char err[64];
	msg *x = msg_parse(a, strlen(a), err, sizeof err), *y = msg_parse(b, strlen(b), err, sizeof err);
	assert_non_null(x);
	assert_non_null(y);
	int r = msg_equal(x, y);
	assert_int_equal(msg_equal(y, x), r); /* symmetric */
	msg_free(x);
	msg_free(y);
	return r;
}

/* msg_equal: JSON value semantics, as JSON Schema's enum/const/uniqueItems
 * need them; and the bool/null inspectors. */
static void test_equal_and_kinds(void **state)
{
	(void)state;
	assert_true(equal_json("1", "1.0"));
	assert_true(equal_json("1", "1e0"));
	assert_false(equal_json("1", "1.0000001"));
	assert_false(equal_json("0", "false"));
	assert_false(equal_json("null", "false"));
	assert_false(equal_json("1", "true"));
	assert_false(equal_json("\"1\"", "1"));
	assert_true(equal_json("\"a\\u00e9\"", "\"a\xc3\xa9\""));
	assert_false(equal_json("\"a\"", "\"A\""));
	assert_true(equal_json("[1,[2,{}]]", "[1.0,[2,{}]]"));
	assert_false(equal_json("[1,2]", "[2,1]"));
	assert_false(equal_json("[1,2]", "[1,2,3]"));
	assert_false(equal_json("[]", "{}"));
	assert_true(equal_json("{\"a\":1,\"b\":[true]}", "{\"b\":[true],\"a\":1.0}"));
	assert_false(equal_json("{\"a\":1}", "{\"a\":1,\"b\":1}"));
	assert_false(equal_json("{\"a\":1}", "{\"A\":1}")); /* keys are case-sensitive */
	assert_false(equal_json("{\"a\":{\"x\":1}}", "{\"a\":{\"x\":2}}"));
	assert_true(equal_json("null", "null"));
	assert_true(equal_json("false", "false"));
	assert_false(equal_json("true", "false"));
	msg *t = msg_new_object();
	assert_true(msg_equal(NULL, NULL));
	assert_false(msg_equal(t, NULL));
	msg_set_bool(t, "b", 1);
	msg_set_bool(t, "f", 0);
	msg_set_null(t, "n");
	msg_set_int(t, "i", 0);
	assert_true(msg_is_bool(msg_get(t, "b")));
	assert_true(msg_is_bool(msg_get(t, "f")));
	assert_false(msg_is_bool(msg_get(t, "i")));
	assert_true(msg_bool(msg_get(t, "b")));
	assert_false(msg_bool(msg_get(t, "f")));
	assert_false(msg_bool(msg_get(t, "i")));
	assert_false(msg_bool(NULL));
	assert_true(msg_is_null(msg_get(t, "n")));
	assert_false(msg_is_null(msg_get(t, "f")));
	assert_false(msg_is_null(NULL)); /* absent is not null */
	msg_free(t);
}

static void test_auth_key_and_mac(void **state)
{
	(void)state;
	char dir[] = "/tmp/mts-auth-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char path[256], err[256];
	snprintf(path, sizeof path, "%s/key", dir);
	unsigned char k1[AUTH_KEY_BYTES], k2[AUTH_KEY_BYTES];
	assert_int_equal(auth_key_load(k1, path, 0, err, sizeof err), -1);
	assert_non_null(strstr(err, "mtslurm start"));
	assert_int_equal(auth_key_load(k1, path, 1, err, sizeof err), 0);
	struct stat st;
	stat(path, &st);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(auth_key_load(k2, path, 1, err, sizeof err), 0);
	assert_memory_equal(k1, k2, AUTH_KEY_BYTES);

	char n1[AUTH_HEX_BYTES], n2[AUTH_HEX_BYTES], m1[AUTH_HEX_BYTES], m2[AUTH_HEX_BYTES];
	auth_nonce(n1);
	auth_nonce(n2);
	assert_string_not_equal(n1, n2);
	auth_mac(m1, k1, "peer", "client", n1, n2, "aes-256-gcm");
	auth_mac(m2, k2, "peer", "client", n1, n2, "aes-256-gcm");
	assert_true(auth_mac_equal(m1, m2));
	auth_mac(m2, k1, "server", "client", n1, n2, "aes-256-gcm"); /* sides differ */
	assert_false(auth_mac_equal(m1, m2));
	auth_mac(m2, k1, "peer", "worker", n1, n2, "aes-256-gcm"); /* roles differ */
	assert_false(auth_mac_equal(m1, m2));
	auth_mac(m2, k1, "peer", "client", n1, n2, "none"); /* record protection differs */
	assert_false(auth_mac_equal(m1, m2));
	k2[0] ^= 1;
	auth_mac(m2, k2, "peer", "client", n1, n2, "aes-256-gcm");
	assert_false(auth_mac_equal(m1, m2));

	/* A key others can read is refused with the fix in the message. */
	chmod(path, 0644);
	assert_int_equal(auth_key_load(k2, path, 0, err, sizeof err), -1);
	assert_non_null(strstr(err, "chmod 600"));
	chmod(path, 0600);

	/* A key owned by someone else is refused, even with mode 0600: as
	 * root, give it away; otherwise a root-owned file stands in. */
	const char *foreign = path;
	if (geteuid() == 0)
		assert_int_equal(chown(path, 4242, 4242), 0);
	else
		foreign = "/etc/hostname";
	assert_int_equal(auth_key_load(k2, foreign, 0, err, sizeof err), -1);
	assert_non_null(strstr(err, "belongs to uid"));
	assert_non_null(strstr(err, "chown"));

	/* A symbolic link to a key is refused. */
	char lnk[300];
	snprintf(lnk, sizeof lnk, "%s/keylink", dir);
	assert_int_equal(symlink(path, lnk), 0);
	assert_int_equal(auth_key_load(k2, lnk, 0, err, sizeof err), -1);
	assert_non_null(strstr(err, "symbolic link"));
	unlink(lnk);
	unlink(path);
	rmdir(dir);
}

/* Numbers outside int64_t, non-integral or infinite read as "not an
 * integer", never as whatever an undefined double-to-integer conversion
 * gives (on x86, INT64_MIN). */
static void test_number_range(void **state)
{
	(void)state;
	const char *j = "{\"big\":1e300,\"neg\":-1e300,\"p63\":9223372036854775808,\"inf\":1e999,"
			"\"ninf\":-1e999,\"half\":1.5,\"min\":-9223372036854775808,\"ok\":42,"
			"\"arr\":[1e300,7]}";
	char err[100];
	msg *m = msg_parse(j, strlen(j), err, sizeof err);
	assert_non_null(m);
	int64_t v = 12345;
	const char *bad[] = {"big", "neg", "p63", "inf", "ninf", "half"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		assert_int_equal(msg_get_int(m, bad[i], &v), -1);
		assert_int_equal(v, 12345); /* untouched */
		assert_int_equal(msg_to_int(msg_get(m, bad[i]), &v), -1);
		assert_int_equal(msg_int(msg_get(m, bad[i])), 0);
	}
	assert_int_equal(msg_get_int(m, "min", &v), 0);
	assert_true(v == INT64_MIN);
	assert_int_equal(msg_get_int(m, "ok", &v), 0);
	assert_int_equal(v, 42);
	assert_int_equal(msg_int(msg_at(msg_get(m, "arr"), 0)), 0);
	assert_int_equal(msg_int(msg_at(msg_get(m, "arr"), 1)), 7);
	/* NaN cannot be written in JSON, but can be built */
	assert_int_equal(msg_set_num(m, "nan", NAN), 0);
	assert_int_equal(msg_get_int(m, "nan", &v), -1);
	assert_int_equal(msg_int(msg_get(m, "nan")), 0);
	msg_free(m);
}

/* msg_prev walks an array back from a counted position (arrays.c reads a
 * job array's entries either way). */
static void test_prev(void **st)
{
	(void)st;
	msg *a = msg_parse("[1,2,3]", 7, NULL, 0);
	assert_non_null(a);
	msg *last = msg_next(msg_next(msg_child(a)));
	assert_int_equal(msg_int(last), 3);
	assert_int_equal(msg_int(msg_prev(last)), 2);
	assert_int_equal(msg_int(msg_prev(msg_prev(last))), 1);
	assert_null(msg_prev(NULL));
	msg_free(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_and_get), cmocka_unit_test(test_number_range),
		cmocka_unit_test(test_bad_json_message), cmocka_unit_test(test_equal_and_kinds),
		cmocka_unit_test(test_build_and_frame), cmocka_unit_test(test_prev),
		cmocka_unit_test(test_auth_key_and_mac),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
