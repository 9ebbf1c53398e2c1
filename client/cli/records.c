/* SPDX-License-Identifier: MIT */
/*
 * records: job records fetched by id for the commands that take job ids
 * (cancel, wait, jobs ID...), and an index to look them up by id. The
 * master answers at most 10,000 ids per request, so ids go in chunks; the
 * index keeps every lookup O(log n), so a command given a million ids does
 * not walk the records a million times.
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "msg.h"

#define RECORDS_CHUNK 10000

msg *cli_records(mts_client *c, const mts_job_id *ids, size_t n)
{
	msg *all = msg_new_array();
	if (!all)
		cli_die(1, "out of memory");
	for (size_t lo = 0; lo < n; lo += RECORDS_CHUNK) {
		size_t k = n - lo < RECORDS_CHUNK ? n - lo : RECORDS_CHUNK;
		char *s = NULL;
		int rc = mts_jobs_by_id(&s, c, ids + lo, k);
		if (rc != MTS_OK)
			cli_die_api(c, rc);
		msg *m = cli_parse(s);
		mts_free(s);
		for (msg *j = msg_child(m); j; j = msg_next(j))
			msg_push(all, msg_dup(j));
		msg_free(m);
	}
	return all;
}

static int cmp_rec(const void *a, const void *b)
{
	int64_t x = ((const struct cli_rec *)a)->id, y = ((const struct cli_rec *)b)->id;
	return x < y ? -1 : x > y;
}

void cli_recidx_build(struct cli_recidx *x, const msg *records)
{
	x->n = 0;
	x->v = malloc((msg_size(records) + 1) * sizeof *x->v);
	if (!x->v)
		cli_die(1, "out of memory");
	for (const msg *j = msg_child(records); j; j = msg_next(j)) {
		int64_t id = 0;
		if (msg_get_int(j, "id", &id) == 0) {
			x->v[x->n].id = id;
			x->v[x->n].rec = j;
			x->v[x->n].seen = 0;
			x->n++;
		}
	}
	qsort(x->v, x->n, sizeof *x->v, cmp_rec);
}

struct cli_rec *cli_recidx_find(const struct cli_recidx *x, int64_t id)
{
	struct cli_rec key = {.id = id};
	return bsearch(&key, x->v, x->n, sizeof *x->v, cmp_rec);
}

void cli_recidx_free(struct cli_recidx *x)
{
	free(x->v);
	x->v = NULL;
	x->n = 0;
}

int cli_state_live(const char *state)
{
	static const char *const live[] = {"queued", "prefetched", "running"};
	for (size_t i = 0; state && i < sizeof live / sizeof live[0]; i++)
		if (!strcmp(state, live[i]))
			return 1;
	return 0;
}
