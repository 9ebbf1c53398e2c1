/* SPDX-License-Identifier: MIT */
/*
 * cmd_cancel: `mtslurm cancel ID... | --all` and `mtslurm forget`, the two
 * commands that take jobs out of the way. cancel Says how many jobs moved to
 * cancelled and names the ids that were unknown (exit 1) or already final;
 * --json: {"cancelled":N,"ids":[cancelled ids],"unknown":[...],
 * "final":{"ID":"state"}} ({"cancelled":N} for --all).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "msg.h"

/* The state of id in idx, NULL if it has no record. */
static const char *state_of(const struct cli_recidx *idx, mts_job_id id)
{
	struct cli_rec *r = cli_recidx_find(idx, id);
	return r ? msg_get_str(r->rec, "state") : NULL;
}

/* cancel ID...: the ids' states before and after tell which were
 * cancelled now, which were already final and which do not exist. */
static int cancel_ids(struct cli *cli, mts_client *c)
{
	size_t n = (size_t)cli->npos, done = 0;
	mts_job_id *ids = calloc(n, sizeof *ids);
	if (!ids)
		cli_die(1, "out of memory");
	for (size_t i = 0; i < n; i++)
		ids[i] = cli_job_id(cli->pos[i]);
	msg *before = cli_records(c, ids, n);
	int rc = mts_cancel(&done, c, ids, n);
	if (rc != MTS_OK && rc != MTS_EUNKNOWN_JOB)
		cli_die_api(c, rc);
	msg *after = cli_records(c, ids, n);
	struct cli_recidx bi, ai;
	cli_recidx_build(&bi, before);
	cli_recidx_build(&ai, after);
	/* an unknown id given twice is named once */
	mts_job_id *sorted = malloc((n + 1) * sizeof *sorted);
	if (!sorted)
		cli_die(1, "out of memory");
	size_t nsorted = 0;
	msg *cancelled = msg_new_array(), *unknown = msg_new_array(), *final = msg_new_object();
	for (size_t i = 0; i < n; i++) {
		struct cli_rec *r = cli_recidx_find(&bi, ids[i]);
		if (r && r->seen++)
			continue; /* given twice */
		const char *was = r ? msg_get_str(r->rec, "state") : NULL, *now = state_of(&ai, ids[i]);
		char key[32];
		snprintf(key, sizeof key, "%lld", (long long)ids[i]);
		if (!was) {
			int dup = 0;
			for (size_t d = 0; d < nsorted && !dup; d++)
				dup = sorted[d] == ids[i];
			if (dup)
				continue;
			sorted[nsorted++] = ids[i];
		}
		if (!was)
			msg_push(unknown, msg_new_int(ids[i]));
		else if (!cli_state_live(was))
			msg_set_str(final, key, was);
		else if (now && !strcmp(now, "cancelled"))
			msg_push(cancelled, msg_new_int(ids[i]));
		else if (now)
			msg_set_str(final, key, now); /* it ended on its own meanwhile */
	}
	if (cli->json) {
		msg *o = msg_new_object();
		msg_set_int(o, "cancelled", (int64_t)done);
		msg_add(o, "ids", cancelled);
		msg_add(o, "unknown", unknown);
		msg_add(o, "final", final);
		cli_print_json(o);
	} else {
		printf("cancelled %zu jobs\n", done);
		for (msg *f = msg_child(final); f; f = msg_next(f))
			fprintf(stderr, "mtslurm: job %s already %s\n", msg_key(f), msg_str(f));
		msg_free(cancelled);
		msg_free(unknown);
		msg_free(final);
	}
	if (rc == MTS_EUNKNOWN_JOB)
		fprintf(stderr, "mtslurm: %s\n", mts_errmsg(c));
	cli_recidx_free(&bi);
	cli_recidx_free(&ai);
	free(sorted);
	msg_free(before);
	msg_free(after);
	free(ids);
	return rc == MTS_EUNKNOWN_JOB;
}

int cmd_cancel(struct cli *cli)
{
	if (cli->array)
		return cli_cancel_array(cli);
	if (!cli->all && !cli->npos)
		cli_die(2, "cancel what? job ids, or --all");
	if (cli->all && cli->npos)
		cli_die(2, "give --all or job ids, not both");
	for (int i = 0; i < cli->npos; i++)
		cli_job_id(cli->pos[i]);
	mts_client *c = cli_connect(cli);
	int code = 0;
	if (cli->all) {
		size_t n = 0;
		int rc = mts_cancel_all(&n, c);
		if (rc != MTS_OK)
			cli_die_api(c, rc);
		if (cli->json)
			printf("{\"cancelled\":%zu}\n", n);
		else
			printf("cancelled %zu jobs\n", n);
	} else {
		code = cancel_ids(cli, c);
	}
	mts_close(c);
	return code;
}

/* forget ID... | --before AGE | --state S: final jobs leave the store
 * (mts_forget); queued and running ones are never touched. */
int cmd_forget(struct cli *cli)
{
	static const char *finals[] = {"completed", "failed", "cancelled", NULL};
	if (!cli->npos && !cli->state && cli->before_s < 0)
		cli_die(2, "forget what? job ids, --before AGE or --state S (mtslurm forget --help)");
	if (cli->state) {
		int ok = 0;
		for (int i = 0; finals[i]; i++)
			ok |= !strcmp(finals[i], cli->state);
		if (!ok)
			cli_die(2, "forget --state wants completed, failed or cancelled, not '%s' (only final jobs "
				   "are forgotten)",
				cli->state);
	}
	size_t n = (size_t)cli->npos;
	mts_job_id *ids = n ? calloc(n, sizeof *ids) : NULL;
	if (n && !ids)
		cli_die(1, "out of memory");
	for (size_t i = 0; i < n; i++)
		ids[i] = cli_job_id(cli->pos[i]);
	mts_client *c = cli_connect(cli);
	size_t done = 0;
	int rc = mts_forget(&done, c, ids, n, cli->state, cli->before_s);
	free(ids);
	if (rc != MTS_OK)
		cli_die_api(c, rc);
	mts_close(c);
	if (cli->json)
		printf("{\"forgotten\":%zu}\n", done);
	else
		printf("forgot %zu jobs\n", done);
	if (n && done < n)
		fprintf(stderr, "mtslurm: %zu of the %zu ids were kept: unknown, not final yet, needed by a "
				"queued or running job, or the newest job\n",
			n - done, n);
	return 0;
}
