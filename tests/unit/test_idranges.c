/* SPDX-License-Identifier: MIT */
/* Unit tests for master/idranges: clamping, sorting and merging of a
 * client's "await" ranges (1,000 copies of [1, 2^62] become one range of
 * the ids that exist), membership, paging from the front, and the in-order
 * appends of results held back by the output high-water mark. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "idranges.h"

static void expect_ranges(struct idranges *q, const int64_t *want, size_t n)
{
	assert_int_equal(q->sorted, 1);
	assert_int_equal(q->n - q->head, n);
	for (size_t i = 0; i < 2 * n; i++)
		assert_int_equal(q->r[2 * q->head + i], want[i]);
}

static void test_huge_ranges_clamped_and_merged(void **state)
{
	(void)state;
	struct idranges q = IDRANGES_INIT;
	for (int i = 0; i < 1000; i++)
		assert_int_equal(idranges_add(&q, 1, (int64_t)1 << 62), 0);
	idranges_normalize(&q, 1, 5000);
	const int64_t want[] = {1, 5000};
	expect_ranges(&q, want, 1);
	assert_int_equal(idranges_count(&q), 5000);
	idranges_release(&q);
}

static void test_unsorted_overlapping(void **state)
{
	(void)state;
	struct idranges q = IDRANGES_INIT;
	const int64_t in[] = {50, 60, 1, 3, 4, 4, 10, 20, 15, 30, 100, 200, 0, 0, 58, 59};
	for (size_t i = 0; i < sizeof in / sizeof in[0]; i += 2)
		idranges_add(&q, in[i], in[i + 1]);
	assert_int_equal(q.sorted, 0);
	idranges_normalize(&q, 1, 99); /* [0,0] dropped, [100,200] beyond the last id */
	const int64_t want[] = {1, 4, 10, 30, 50, 60};
	expect_ranges(&q, want, 3);
	assert_true(idranges_has(&q, 1));
	assert_true(idranges_has(&q, 4));
	assert_false(idranges_has(&q, 5));
	assert_false(idranges_has(&q, 9));
	assert_true(idranges_has(&q, 30));
	assert_false(idranges_has(&q, 31));
	assert_true(idranges_has(&q, 55));
	assert_false(idranges_has(&q, 61));
	idranges_release(&q);
}

static void test_paging_from_the_front(void **state)
{
	(void)state;
	struct idranges q = IDRANGES_INIT;
	idranges_add(&q, 10, 20);
	idranges_add(&q, 30, 40);
	int64_t lo, hi;
	assert_int_equal(idranges_first(&q, &lo, &hi), 1);
	assert_int_equal(lo, 10);
	assert_int_equal(hi, 20);
	idranges_consume(&q, 14); /* ids up to 14 read */
	assert_false(idranges_has(&q, 14));
	assert_true(idranges_has(&q, 15));
	assert_int_equal(idranges_first(&q, &lo, &hi), 1);
	assert_int_equal(lo, 15);
	idranges_consume(&q, 35); /* past the gap */
	assert_int_equal(idranges_first(&q, &lo, &hi), 1);
	assert_int_equal(lo, 36);
	assert_int_equal(hi, 40);
	assert_int_equal(idranges_count(&q), 5);
	idranges_consume(&q, 40);
	assert_true(idranges_empty(&q));
	assert_int_equal(idranges_first(&q, &lo, &hi), 0);
	idranges_release(&q);
}

static void test_in_order_appends_stay_normalized(void **state)
{
	(void)state;
	struct idranges q = IDRANGES_INIT;
	for (int64_t id = 1; id <= 100000; id++)
		if (id % 3) /* 1,2 4,5 7,8 ...: one range per pair */
			assert_int_equal(idranges_add(&q, id, id), 0);
	assert_int_equal(q.sorted, 1);
	assert_int_equal(q.n - q.head, 33334);
	assert_int_equal(idranges_count(&q), 66667);
	assert_true(idranges_has(&q, 99998));
	assert_false(idranges_has(&q, 99999));
	/* consuming the front and appending again reuses the storage */
	size_t cap = q.cap;
	for (int64_t id = 1; id <= 90000; id += 1000) {
		idranges_consume(&q, id);
		idranges_add(&q, 200000 + id, 200000 + id);
	}
	assert_int_equal(q.sorted, 1);
	assert_true(q.cap <= 2 * cap);
	assert_true(idranges_has(&q, 200001));
	idranges_release(&q);
	assert_true(idranges_empty(&q));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_huge_ranges_clamped_and_merged),
		cmocka_unit_test(test_unsorted_overlapping),
		cmocka_unit_test(test_paging_from_the_front),
		cmocka_unit_test(test_in_order_appends_stay_normalized),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
