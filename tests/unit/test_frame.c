/* SPDX-License-Identifier: MIT */
/* Unit tests for share/frame and share/buf. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "buf.h"
#include "frame.h"

static void put_frame(struct buf *b, const char *payload)
{
	unsigned char h[4];
	frame_put_header(h, (uint32_t)strlen(payload));
	buf_add(b, h, 4);
	buf_adds(b, payload);
}

static void test_whole_frames_byte_by_byte(void **state)
{
	(void)state;
	struct buf b = BUF_INIT;
	put_frame(&b, "{\"t\":\"a\"}");
	put_frame(&b, "{\"t\":\"bb\"}");
	struct frame_reader r;
	frame_reader_init(&r, 0);
	const char *p;
	size_t n;
	int got = 0;
	for (size_t i = 0; i < b.len; i++) {
		assert_int_equal(frame_reader_feed(&r, b.p + i, 1), 0);
		int rc;
		while ((rc = frame_reader_next(&r, &p, &n)) == FRAME_OK) {
			if (got == 0)
				assert_memory_equal(p, "{\"t\":\"a\"}", n);
			else
				assert_memory_equal(p, "{\"t\":\"bb\"}", n);
			got++;
		}
		assert_int_equal(rc, FRAME_AGAIN);
	}
	assert_int_equal(got, 2);
	frame_reader_release(&r);
	buf_release(&b);
}

static void test_oversized_and_empty(void **state)
{
	(void)state;
	struct frame_reader r;
	const char *p;
	size_t n;
	unsigned char h[4];
	frame_reader_init(&r, 16);
	frame_put_header(h, 17);
	frame_reader_feed(&r, (char *)h, 4);
	assert_int_equal(frame_reader_announced(&r), 17);
	assert_int_equal(frame_reader_next(&r, &p, &n), FRAME_ETOOBIG);
	frame_reader_release(&r);

	frame_reader_init(&r, 16);
	frame_put_header(h, 0);
	frame_reader_feed(&r, (char *)h, 4);
	assert_int_equal(frame_reader_next(&r, &p, &n), FRAME_EEMPTY);
	frame_reader_release(&r);

	/* The full 32-bit length is refused from the header alone. */
	frame_reader_init(&r, 0);
	frame_reader_feed(&r, "\xff\xff\xff\xff", 4);
	assert_int_equal(frame_reader_next(&r, &p, &n), FRAME_ETOOBIG);
	frame_reader_release(&r);
}

static void test_many_frames_reuse_buffer(void **state)
{
	(void)state;
	struct frame_reader r;
	frame_reader_init(&r, 0);
	struct buf b = BUF_INIT;
	for (int i = 0; i < 10000; i++)
		put_frame(&b, "{\"t\":\"x\",\"v\":12345}");
	size_t fed = 0, got = 0;
	while (fed < b.len) {
		char *p;
		size_t room;
		assert_int_equal(frame_reader_space(&r, 4096, &p, &room), 0);
		size_t k = b.len - fed < 777 ? b.len - fed : 777;
		memcpy(p, b.p + fed, k);
		frame_reader_commit(&r, k);
		fed += k;
		const char *q;
		size_t n;
		while (frame_reader_next(&r, &q, &n) == FRAME_OK) {
			assert_int_equal(n, strlen("{\"t\":\"x\",\"v\":12345}"));
			got++;
		}
	}
	assert_int_equal(got, 10000);
	/* Compaction keeps the buffer small although 250 kB passed through. */
	assert_true(r.cap <= 65536 * 2);
	frame_reader_release(&r);
	buf_release(&b);
}

static void test_buf(void **state)
{
	(void)state;
	struct buf b = BUF_INIT;
	buf_addf(&b, "%d-%s", 42, "x");
	assert_string_equal(b.p, "42-x");
	char big[1000];
	memset(big, 'a', sizeof big - 1);
	big[sizeof big - 1] = 0;
	buf_addf(&b, "%s", big);
	assert_int_equal(b.len, 4 + 999);
	buf_consume(&b, 3);
	assert_int_equal(b.p[0], 'x');
	size_t len;
	char *s = buf_detach(&b, &len);
	assert_int_equal(len, 1000);
	assert_null(b.p);
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_whole_frames_byte_by_byte),
		cmocka_unit_test(test_oversized_and_empty),
		cmocka_unit_test(test_many_frames_reuse_buffer),
		cmocka_unit_test(test_buf),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
