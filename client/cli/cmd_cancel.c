/* SPDX-License-Identifier: MIT */
/*
 * cmd_cancel: `mtslurm cancel ID... | --all`. Says how many jobs moved to
 * cancelled and names the ids that were unknown (exit 1) or already final.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "msg.h"

int cmd_cancel(struct cli *cli)
{
	if (!cli->all && !cli->npos)
		cli_die(2, "cancel what? job ids, or --all");
	mts_client *c = cli_connect(cli);
	size_t n = 0;
	int rc;
	mts_job_id *ids = NULL;
	if (cli->all) {
		rc = mts_cancel_all(&n, c);
	} else {
		ids = calloc((size_t)cli->npos, sizeof *ids);
		if (!ids)
			cli_die(1, "out of memory");
		for (int i = 0; i < cli->npos; i++)
			ids[i] = cli_job_id(cli->pos[i]);
		rc = mts_cancel(&n, c, ids, (size_t)cli->npos);
	}
	if (rc != MTS_OK && rc != MTS_EUNKNOWN_JOB)
		cli_die_api(c, rc);
	printf("cancelled %zu jobs\n", n);
	int code = 0;
	if (rc == MTS_EUNKNOWN_JOB) {
		fprintf(stderr, "mtslurm: %s\n", mts_errmsg(c));
		code = 1;
	}
	if (ids && n < (size_t)cli->npos) {
		/* Say which of the ids were already final. */
		char *s = NULL;
		if (mts_jobs_by_id(&s, c, ids, (size_t)cli->npos) == MTS_OK) {
			msg *m = cli_parse(s);
			for (msg *j = msg_child(m); j; j = msg_next(j)) {
				const char *st = msg_get_str(j, "state");
				int64_t jid = 0;
				msg_get_int(j, "id", &jid);
				if (st && strcmp(st, "queued") && strcmp(st, "running") && strcmp(st, "cancelled"))
					fprintf(stderr, "mtslurm: job %lld already %s\n", (long long)jid, st);
			}
			msg_free(m);
			mts_free(s);
		}
	}
	free(ids);
	mts_close(c);
	return code;
}

