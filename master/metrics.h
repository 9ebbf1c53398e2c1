/* SPDX-License-Identifier: MIT */
/*
 * metrics: the master's GET /metrics in Prometheus' text exposition format
 * 0.0.4 -- a small writer for families (# HELP / # TYPE), samples with
 * labels (values escaped as the format says: \\, \" and \n), and
 * histograms (cumulative _bucket{le=...} up to le="+Inf", _sum, _count);
 * and metrics_master(), which writes every family the master exposes
 * (docs/service-api.md lists them) from the numbers `status` reports, the
 * job types' pools, the HTTP request counts and the store sync histogram.
 * Writers append to a struct buf and return 0, or -1 when memory ran out
 * (the buffer then misses a piece: callers drop it and answer 503).
 */
#ifndef MTS_METRICS_H
#define MTS_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

struct master;

#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"
#define METRICS_HIST_MAX 24 /* finite upper bounds of one histogram */

/* A histogram of observations: counts per bucket (not cumulative; the
 * writer sums them), sum and count. Not thread-safe: observe on one thread. */
struct metrics_hist {
	const double *le; /* finite upper bounds, ascending; +Inf is implicit */
	size_t n;	  /* how many (at most METRICS_HIST_MAX) */
	uint64_t bucket[METRICS_HIST_MAX + 1]; /* [n]: above le[n-1] */
	uint64_t count;
	double sum;
};

/* le (borrowed for h's life) holds n ascending bounds; n is clamped to
 * METRICS_HIST_MAX. */
void metrics_hist_init(struct metrics_hist *h, const double *le, size_t n);
/* One observation v (seconds, bytes, ...): into the first bucket whose bound
 * is >= v. */
void metrics_hist_observe(struct metrics_hist *h, double v);

/* "# HELP NAME HELP" (help escaped: \\ and \n) and "# TYPE NAME TYPE"
 * (counter, gauge, histogram). */
int metrics_family(struct buf *b, const char *name, const char *type, const char *help);
/* One sample "NAME{k="v",...} VALUE". labels: NULL, or pairs key, value
 * ending with a NULL key. Values print as integers when whole, else with
 * enough digits to read back the same double; NaN and infinities as the
 * format spells them. */
int metrics_sample(struct buf *b, const char *name, const char *const *labels, double v);
/* A whole histogram family: HELP/TYPE, NAME_bucket{le=...} for every bound
 * and le="+Inf" (cumulative), NAME_sum, NAME_count. */
int metrics_histogram(struct buf *b, const char *name, const char *help, const struct metrics_hist *h);

/* Every metric of master m into b. 0, or -1 when memory ran out. */
int metrics_master(struct buf *b, struct master *m);

#endif
