/* SPDX-License-Identifier: MIT */
/*
 * idranges: a set of job ids as [first, last] ranges, consumed from the
 * front. A client's results that must be read back from state.db -- the ids
 * its hello's "await" lists, a re-sent submit's ids, results held back
 * while its connection was over its output high-water mark -- live in one
 * such set, which clients.c pages through a bounded number of ids per loop
 * turn. Normalizing (clamp to the ids that exist, sort, merge) bounds the
 * work by the table: 1,000 copies of [1, 2^62] become one range. No I/O, so
 * it is unit-tested alone (tests/unit/test_idranges.c).
 */
#ifndef MTS_IDRANGES_H
#define MTS_IDRANGES_H

#include <stddef.h>
#include <stdint.h>

struct idranges {
	int64_t *r;    /* pairs r[2i], r[2i+1], from pair `head` on */
	size_t head, n, cap; /* pairs: first live one, end, allocated */
	int sorted;    /* pairs head..n-1 are sorted, disjoint and not adjacent */
};

#define IDRANGES_INIT {NULL, 0, 0, 0, 1}

/* Free the storage; the set is empty and usable again. */
void idranges_release(struct idranges *q);
/* 1 if the set holds no id. */
static inline int idranges_empty(const struct idranges *q) { return q->head == q->n; }
/* Add [lo, hi] (lo <= hi). Appending in increasing order (the usual case:
 * results finish roughly in id order) keeps the set normalized in O(1).
 * 0, or -1 on OOM (the set is unchanged). */
int idranges_add(struct idranges *q, int64_t lo, int64_t hi);
/* Clamp every range to [min, max], drop the empty ones, sort and merge
 * overlapping or adjacent ones. O(n log n) once; then O(1) while ids are
 * added in order. */
void idranges_normalize(struct idranges *q, int64_t min, int64_t max);
/* 1 if id is in the set (normalizes first). O(log n). */
int idranges_has(struct idranges *q, int64_t id);
/* The lowest range (normalizes first, clamping nothing): 1 with *lo, *hi,
 * or 0 if empty. */
int idranges_first(struct idranges *q, int64_t *lo, int64_t *hi);
/* Remove every id <= id (after the ids up to it were read). */
void idranges_consume(struct idranges *q, int64_t id);
/* Number of ids in the set (saturating at INT64_MAX), for logs. */
int64_t idranges_count(struct idranges *q);

#endif
