/* SPDX-License-Identifier: MIT */
/* Unit tests for master/metrics (Prometheus text format 0.0.4): escaping of
 * \, " and newline in label values and of \ and newline in HELP text, HELP
 * and TYPE lines, value formatting (integers, fractions that read back,
 * NaN, +Inf), histograms (bucket choice at a bound, cumulative _bucket
 * lines up to le="+Inf", _sum, _count); and the dashboard's embedded files
 * (master/web.h) against their sources, plus the order of http.c's routes. */
#include <setjmp.h>
#include <stdarg.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "metrics.h"
#include "web.h"

size_t http_routes_check(void); /* http.c: 0 when routes[] is sorted */

static void test_family_lines(void **state)
{
	(void)state;
	struct buf b = BUF_INIT;
	assert_int_equal(metrics_family(&b, "mtslurm_x", "counter", "a \\ b\nc \"q\""), 0);
	assert_string_equal(b.p, "# HELP mtslurm_x a \\\\ b\\nc \"q\"\n# TYPE mtslurm_x counter\n");
	buf_release(&b);
}

static void test_label_escaping(void **state)
{
	(void)state;
	struct buf b = BUF_INIT;
	const char *labels[] = {"type", "a\\b\"c\nd", "state", "queued", NULL};
	assert_int_equal(metrics_sample(&b, "m", labels, 7), 0);
	assert_string_equal(b.p, "m{type=\"a\\\\b\\\"c\\nd\",state=\"queued\"} 7\n");
	buf_release(&b);
}

static void test_values(void **state)
{
	(void)state;
	struct buf b = BUF_INIT;
	metrics_sample(&b, "a", NULL, 0);
	metrics_sample(&b, "b", NULL, 123456789012.0);
	metrics_sample(&b, "c", NULL, 0.0005);
	metrics_sample(&b, "d", NULL, 0.1 + 0.2); /* needs 17 digits to read back */
	metrics_sample(&b, "e", NULL, INFINITY);
	metrics_sample(&b, "f", NULL, -INFINITY);
	metrics_sample(&b, "g", NULL, NAN);
	metrics_sample(&b, "h", NULL, -2.5);
	assert_string_equal(b.p, "a 0\nb 123456789012\nc 0.0005\nd 0.30000000000000004\ne +Inf\nf -Inf\ng NaN\n"
				 "h -2.5\n");
	buf_release(&b);
}

static void test_empty_labels(void **state)
{
	(void)state;
	struct buf b = BUF_INIT;
	const char *none[] = {NULL};
	metrics_sample(&b, "x", none, 1);
	assert_string_equal(b.p, "x 1\n");
	buf_release(&b);
}

static void test_histogram(void **state)
{
	(void)state;
	static const double le[] = {0.001, 0.01, 1};
	struct metrics_hist h;
	metrics_hist_init(&h, le, 3);
	metrics_hist_observe(&h, 0.0005);
	metrics_hist_observe(&h, 0.001); /* on the bound: that bucket (le is <=) */
	metrics_hist_observe(&h, 0.5);
	metrics_hist_observe(&h, 3);     /* only in +Inf */
	struct buf b = BUF_INIT;
	assert_int_equal(metrics_histogram(&b, "s", "sync", &h), 0);
	assert_string_equal(b.p, "# HELP s sync\n# TYPE s histogram\n"
				 "s_bucket{le=\"0.001\"} 2\n"
				 "s_bucket{le=\"0.01\"} 2\n"
				 "s_bucket{le=\"1\"} 3\n"
				 "s_bucket{le=\"+Inf\"} 4\n"
				 "s_sum 3.5015\n"
				 "s_count 4\n");
	buf_release(&b);
}

static void test_histogram_empty_and_nan(void **state)
{
	(void)state;
	static const double le[] = {1};
	struct metrics_hist h;
	metrics_hist_init(&h, le, 1);
	struct buf b = BUF_INIT;
	metrics_histogram(&b, "e", "h", &h);
	assert_non_null(strstr(b.p, "e_bucket{le=\"+Inf\"} 0\ne_sum 0\ne_count 0\n"));
	buf_release(&b);
	metrics_hist_observe(&h, NAN); /* never in a finite bucket */
	assert_int_equal(h.bucket[0], 0);
	assert_int_equal(h.bucket[1], 1);
}

/* The embedded copy of each dashboard file is the file, byte for byte
 * (the tests run from the top of the tree). */
static void test_web_assets(void **state)
{
	(void)state;
	static const char *const files[] = {"index.html", "app.js", "style.css"};
	for (size_t i = 0; i < 3; i++) {
		char path[64], url[64];
		snprintf(path, sizeof path, "master/web/%s", files[i]);
		snprintf(url, sizeof url, "/%s", files[i]);
		const struct web_asset *a = web_find(url);
		assert_non_null(a);
		FILE *f = fopen(path, "rb");
		assert_non_null(f);
		char *want = malloc(a->len + 2);
		size_t n = fread(want, 1, a->len + 1, f);
		fclose(f);
		assert_int_equal(n, a->len);
		assert_memory_equal(want, a->data, a->len);
		free(want);
	}
	assert_ptr_equal(web_find("/"), web_find("/index.html"));
	assert_non_null(strstr(web_find("/")->type, "text/html"));
	assert_non_null(strstr(web_find("/app.js")->type, "javascript"));
	assert_null(web_find("/nope.html"));
	assert_null(web_find(NULL));
	for (size_t i = 1; i < web_nassets; i++)
		assert_true(strcmp(web_assets[i - 1].path, web_assets[i].path) < 0);
}

static void test_routes_sorted(void **state)
{
	(void)state;
	assert_int_equal(http_routes_check(), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_family_lines),	  cmocka_unit_test(test_label_escaping),
		cmocka_unit_test(test_values),		  cmocka_unit_test(test_empty_labels),
		cmocka_unit_test(test_histogram),	  cmocka_unit_test(test_histogram_empty_and_nan),
		cmocka_unit_test(test_web_assets),	  cmocka_unit_test(test_routes_sorted),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
