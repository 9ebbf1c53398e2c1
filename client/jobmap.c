/* SPDX-License-Identifier: MIT */
/*
 * jobmap: the jobs a handle submitted and still waits for, keyed by id.
 * Open addressing with linear probing and backward-shift deletion, so a
 * million outstanding jobs cost one array and no per-job allocation.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "util.h"

static size_t slot(const struct jobmap *m, mts_job_id id)
{
	uint64_t x = (uint64_t)id * 0x9E3779B97F4A7C15ull;
	return (size_t)(x >> 17) & (m->cap - 1);
}

static int grow(struct jobmap *m)
{
	size_t ncap = m->cap ? m->cap * 2 : 1024;
	struct jobent *nv = calloc(ncap, sizeof *nv);
	if (!nv)
		return -1;
	struct jobmap old = *m;
	m->v = nv;
	m->cap = ncap;
	m->n = 0;
	for (size_t i = 0; i < old.cap; i++)
		if (old.v[i].id)
			jobmap_put(m, &old.v[i]);
	free(old.v);
	return 0;
}

int jobmap_put(struct jobmap *m, const struct jobent *e)
{
	if ((m->n + 1) * 4 > m->cap * 3 && grow(m))
		return -1;
	size_t i = slot(m, e->id);
	while (m->v[i].id && m->v[i].id != e->id)
		i = (i + 1) & (m->cap - 1);
	if (!m->v[i].id)
		m->n++;
	m->v[i] = *e;
	return 0;
}

static long find(const struct jobmap *m, mts_job_id id)
{
	if (!m->cap)
		return -1;
	size_t i = slot(m, id);
	while (m->v[i].id) {
		if (m->v[i].id == id)
			return (long)i;
		i = (i + 1) & (m->cap - 1);
	}
	return -1;
}

int jobmap_has(const struct jobmap *m, mts_job_id id) { return find(m, id) >= 0; }

int jobmap_take(struct jobmap *m, mts_job_id id, struct jobent *out)
{
	long f = find(m, id);
	if (f < 0)
		return -1;
	size_t i = (size_t)f;
	*out = m->v[i];
	/* Backward shift: pull later entries of the cluster into the hole. */
	size_t j = i;
	for (;;) {
		j = (j + 1) & (m->cap - 1);
		if (!m->v[j].id)
			break;
		size_t k = slot(m, m->v[j].id);
		if ((j > i && (k <= i || k > j)) || (j < i && (k <= i && k > j))) {
			m->v[i] = m->v[j];
			i = j;
		}
	}
	memset(&m->v[i], 0, sizeof m->v[i]);
	m->n--;
	return 0;
}

int jobmap_note(struct jobmap *m, mts_job_id first, mts_job_id n)
{
	if (n <= 0)
		return 0;
	/* Ids grow, so this is nearly always an append or an extension of the
	 * last range; keep the array sorted for the rare other case. */
	size_t i = m->nrg;
	while (i > 0 && m->rg[i - 1].first > first)
		i--;
	if (i > 0 && m->rg[i - 1].first + m->rg[i - 1].n == first && (i == m->nrg || first + n <= m->rg[i].first)) {
		m->rg[i - 1].n += n;
		return 0;
	}
	if (util_grow(&m->rg, &m->caprg, m->nrg, sizeof *m->rg, 64))
		return -1;
	memmove(&m->rg[i + 1], &m->rg[i], (m->nrg - i) * sizeof *m->rg);
	m->rg[i].first = first;
	m->rg[i].n = n;
	m->nrg++;
	return 0;
}

int jobmap_submitted(const struct jobmap *m, mts_job_id id)
{
	size_t lo = 0, hi = m->nrg;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (id < m->rg[mid].first)
			hi = mid;
		else if (id >= m->rg[mid].first + m->rg[mid].n)
			lo = mid + 1;
		else
			return 1;
	}
	return 0;
}

void jobmap_release(struct jobmap *m)
{
	free(m->rg);
	free(m->v);
	memset(m, 0, sizeof *m);
}

static int cmp_id(const void *a, const void *b)
{
	mts_job_id x = *(const mts_job_id *)a, y = *(const mts_job_id *)b;
	return x < y ? -1 : x > y;
}

int jobmap_ranges(const struct jobmap *m, mts_job_id **out, size_t *npairs, size_t max)
{
	*out = NULL;
	*npairs = 0;
	if (!m->n || !max)
		return 0;
	mts_job_id *ids = malloc(m->n * sizeof *ids);
	if (!ids)
		return -1;
	size_t k = 0;
	for (size_t i = 0; i < m->cap; i++)
		if (m->v[i].id)
			ids[k++] = m->v[i].id;
	qsort(ids, k, sizeof *ids, cmp_id);
	/* Runs of consecutive ids become [first, last] pairs. */
	mts_job_id *r = malloc(2 * k * sizeof *r);
	if (!r) {
		free(ids);
		return -1;
	}
	size_t n = 0;
	for (size_t i = 0; i < k;) {
		size_t j = i;
		while (j + 1 < k && ids[j + 1] == ids[j] + 1)
			j++;
		r[2 * n] = ids[i];
		r[2 * n + 1] = ids[j];
		n++;
		i = j + 1;
	}
	free(ids);
	if (n > max) {
		/* Too many ranges: bridge the smallest gaps. The master then also
		 * sends results of other jobs in the bridged gaps that belong to
		 * this handle and were reported before; handle_done drops them. */
		mts_job_id *gaps = malloc((n - 1) * sizeof *gaps);
		if (!gaps) {
			free(r);
			return -1;
		}
		for (size_t i = 0; i + 1 < n; i++)
			gaps[i] = r[2 * (i + 1)] - r[2 * i + 1];
		qsort(gaps, n - 1, sizeof *gaps, cmp_id);
		mts_job_id limit = gaps[n - max - 1]; /* bridge every gap up to this */
		free(gaps);
		size_t w = 0;
		for (size_t i = 0; i < n; i++) {
			if (w && (r[2 * i] - r[2 * (w - 1) + 1] <= limit || w == max)) {
				r[2 * (w - 1) + 1] = r[2 * i + 1];
				continue;
			}
			r[2 * w] = r[2 * i];
			r[2 * w + 1] = r[2 * i + 1];
			w++;
		}
		n = w;
	}
	*out = r;
	*npairs = n;
	return 0;
}

void jobreg_free(struct jobreg *reg)
{
	if (!reg)
		return;
	free(reg->user);
	free(reg->fut);
	free(reg->keep);
	free(reg);
}

/* The master acknowledged reg's jobs as ids first..first+n-1: enter them
 * (their user pointers, futures and kept results) into m. The handle's
 * loop thread, with its mutex held. */
void jobmap_apply_reg(struct jobmap *m, struct jobreg *reg, mts_job_id first)
{
	reg->first = first;
	jobmap_note(m, first, (mts_job_id)reg->n);
	for (size_t i = 0; i < reg->n; i++) {
		struct jobent e = {first + (mts_job_id)i, reg->user ? reg->user[i] : NULL,
				   reg->fut ? reg->fut[i] : NULL, reg->keep ? reg->keep[i] : NULL};
		if (e.fut)
			e.fut->id = e.id;
		jobmap_put(m, &e);
	}
}
