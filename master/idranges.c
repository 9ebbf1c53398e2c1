/* SPDX-License-Identifier: MIT */
/*
 * idranges: sets of job ids as sorted, merged [first, last] ranges (see
 * idranges.h), for the results a client gets back from state.db.
 */
#include "idranges.h"

#include <stdlib.h>
#include <string.h>

void idranges_release(struct idranges *q)
{
	free(q->r);
	q->r = NULL;
	q->head = q->n = q->cap = 0;
	q->sorted = 1;
}

int idranges_add(struct idranges *q, int64_t lo, int64_t hi)
{
	/* ids are 1..2^62 (the protocol's limit): +1 never overflows */
	const int64_t lim = INT64_MAX / 2;
	lo = lo < -lim ? -lim : lo > lim ? lim : lo;
	hi = hi < -lim ? -lim : hi > lim ? lim : hi;
	if (lo > hi)
		return 0;
	if (q->n > q->head) {
		int64_t *last = q->r + 2 * (q->n - 1);
		if (q->sorted && lo >= last[0] && lo <= last[1] + 1) { /* extends the last range */
			if (hi > last[1])
				last[1] = hi;
			return 0;
		}
		if (lo <= last[1] + 1)
			q->sorted = 0;
	}
	if (q->n == q->cap) {
		if (q->head > q->n / 2) { /* reuse the consumed front */
			memmove(q->r, q->r + 2 * q->head, 2 * (q->n - q->head) * sizeof *q->r);
			q->n -= q->head;
			q->head = 0;
		} else {
			size_t cap = q->cap ? q->cap * 2 : 4;
			int64_t *r = realloc(q->r, 2 * cap * sizeof *r);
			if (!r)
				return -1;
			q->r = r;
			q->cap = cap;
		}
	}
	q->r[2 * q->n] = lo;
	q->r[2 * q->n + 1] = hi;
	q->n++;
	return 0;
}

static int cmp_lo(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

static void clamp_sort_merge(struct idranges *q, int64_t min, int64_t max)
{
	size_t k = 0;
	int64_t *r = q->r + 2 * q->head;
	size_t n = q->n - q->head;
	for (size_t i = 0; i < n; i++) {
		int64_t lo = r[2 * i] < min ? min : r[2 * i], hi = r[2 * i + 1] > max ? max : r[2 * i + 1];
		if (lo > hi)
			continue;
		r[2 * k] = lo;
		r[2 * k + 1] = hi;
		k++;
	}
	if (!q->sorted)
		qsort(r, k, 2 * sizeof *r, cmp_lo);
	size_t m = 0;
	for (size_t i = 0; i < k; i++) {
		if (m && r[2 * i] <= r[2 * (m - 1) + 1] + 1) {
			if (r[2 * i + 1] > r[2 * (m - 1) + 1])
				r[2 * (m - 1) + 1] = r[2 * i + 1];
			continue;
		}
		r[2 * m] = r[2 * i];
		r[2 * m + 1] = r[2 * i + 1];
		m++;
	}
	q->n = q->head + m;
	q->sorted = 1;
}

void idranges_normalize(struct idranges *q, int64_t min, int64_t max)
{
	clamp_sort_merge(q, min, max);
}

int idranges_has(struct idranges *q, int64_t id)
{
	if (!q->sorted)
		clamp_sort_merge(q, INT64_MIN, INT64_MAX);
	size_t a = q->head, b = q->n; /* the first range with hi >= id is in [a, b) */
	while (a < b) {
		size_t mid = a + (b - a) / 2;
		if (q->r[2 * mid + 1] < id)
			a = mid + 1;
		else
			b = mid;
	}
	return a < q->n && q->r[2 * a] <= id;
}

int idranges_first(struct idranges *q, int64_t *lo, int64_t *hi)
{
	if (!q->sorted)
		clamp_sort_merge(q, INT64_MIN, INT64_MAX);
	if (q->head == q->n)
		return 0;
	*lo = q->r[2 * q->head];
	*hi = q->r[2 * q->head + 1];
	return 1;
}

void idranges_consume(struct idranges *q, int64_t id)
{
	if (!q->sorted)
		clamp_sort_merge(q, INT64_MIN, INT64_MAX);
	while (q->head < q->n && q->r[2 * q->head + 1] <= id)
		q->head++;
	if (q->head < q->n && q->r[2 * q->head] <= id)
		q->r[2 * q->head] = id + 1;
	if (q->head == q->n)
		q->head = q->n = 0;
}

int64_t idranges_count(struct idranges *q)
{
	int64_t c = 0;
	for (size_t i = q->head; i < q->n; i++) {
		int64_t w = q->r[2 * i + 1] - q->r[2 * i];
		if (w >= INT64_MAX - c)
			return INT64_MAX;
		c += w + 1;
	}
	return c;
}
