/* SPDX-License-Identifier: MIT */
/*
 * pipeline: the mts_pipeline_* calls -- start a pipeline from a pipeline
 * file, read its status and results, cancel it, wait for its end. Each is
 * one request to the master (docs/protocol.md, pipeline_*); the file is
 * checked here first (share/pipespec), so a bad one fails without a round
 * trip with the same message the master would give.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth.h"
#include "internal.h"
#include "pipespec.h"

MTS_API int mts_pipeline_run(int64_t *id, mts_client *c, const char *pipeline_json)
{
	if (!id || !c || !pipeline_json)
		return MTS_EINVAL;
	*id = 0;
	struct pipespec p;
	char err[400], token[37];
	if (pipespec_parse(&p, pipeline_json, strlen(pipeline_json), err, sizeof err)) {
		client_seterr(c, "%s", err);
		return MTS_EINVAL;
	}
	pipespec_release(&p);
	if (auth_uuid(token))
		return MTS_ENOMEM;
	struct req r;
	req_begin(c, &r, "pipeline_run");
	/* the token makes a request re-sent after a reconnect start nothing twice */
	buf_adds(&r.frame, ",\"token\":\"");
	buf_adds(&r.frame, token);
	buf_adds(&r.frame, "\",\"pipeline\":");
	buf_adds(&r.frame, pipeline_json);
	int rc = client_call(c, &r, 0);
	if (rc == MTS_OK && msg_get_int(r.reply, "id", id)) {
		client_seterr(c, "the master's pipeline reply has no id");
		rc = MTS_EPROTO;
	}
	req_release(&r);
	return rc;
}

/* A request {t, "id":id (if > 0), extra} and its reply's member key as JSON. */
static int call_json(char **out, mts_client *c, const char *type, int64_t id, const char *extra, const char *key,
		     msg **reply)
{
	struct req r;
	req_begin(c, &r, type);
	if (id > 0)
		buf_addf(&r.frame, ",\"id\":%lld", (long long)id);
	if (extra)
		buf_adds(&r.frame, extra);
	int rc = client_call(c, &r, 0);
	if (rc == MTS_OK && out) {
		msg *v = msg_get(r.reply, key);
		if (!v) {
			client_seterr(c, "the master's reply has no \"%s\"", key);
			rc = MTS_EPROTO;
		} else if (!(*out = msg_print(v))) {
			rc = MTS_ENOMEM;
		}
	}
	if (rc == MTS_OK && reply) {
		*reply = r.reply;
		r.reply = NULL;
	}
	req_release(&r);
	return rc;
}

MTS_API int mts_pipeline_status(char **json_out, mts_client *c, int64_t id)
{
	if (!json_out || !c || id < 0)
		return MTS_EINVAL;
	*json_out = NULL;
	return call_json(json_out, c, "pipeline_status", id, NULL, "pipelines", NULL);
}

MTS_API int mts_pipeline_cancel(int64_t *njobs, mts_client *c, int64_t id)
{
	if (!c || id <= 0)
		return MTS_EINVAL;
	msg *reply = NULL;
	int rc = call_json(NULL, c, "pipeline_cancel", id, NULL, NULL, &reply);
	int64_t n = 0;
	msg_get_int(reply, "jobs", &n);
	if (njobs)
		*njobs = n;
	msg_free(reply);
	return rc;
}

MTS_API int mts_pipeline_results(char **json_out, int64_t *next, mts_client *c, int64_t id, const char *stage,
				 int64_t after, int limit)
{
	if (!json_out || !c || id <= 0 || after < 0 || limit < 0)
		return MTS_EINVAL;
	*json_out = NULL;
	struct buf extra = BUF_INIT;
	int failed = buf_addf(&extra, ",\"after\":%lld,\"limit\":%d", (long long)after, limit ? limit : 1000);
	if (stage) {
		failed |= buf_adds(&extra, ",\"stage\":");
		failed |= buf_add_json_str(&extra, stage, strlen(stage));
	}
	msg *reply = NULL;
	int rc = failed ? MTS_ENOMEM : call_json(json_out, c, "pipeline_results", id, extra.p, "results", &reply);
	buf_release(&extra);
	if (next) {
		*next = 0;
		msg_get_int(reply, "next", next);
	}
	msg_free(reply);
	return rc;
}

/* The state of pipeline id from one status request: 0 running, else the
 * final state; -1 with rc set on failure. */
static int state_of(mts_client *c, int64_t id, int *rc)
{
	msg *reply = NULL;
	*rc = call_json(NULL, c, "pipeline_status", id, NULL, NULL, &reply);
	const char *st = msg_get_str(msg_child(msg_get(reply, "pipelines")), "state");
	int state = *rc != MTS_OK ? -1 : !st ? (*rc = MTS_EPROTO, -1)
					    : !strcmp(st, "running") ? 0
					    : !strcmp(st, "completed") ? MTS_COMPLETED
					    : !strcmp(st, "failed") ? MTS_FAILED : MTS_CANCELLED;
	msg_free(reply);
	return state;
}

MTS_API int mts_pipeline_wait(int *state_out, mts_client *c, int64_t id, int timeout_ms)
{
	if (!c || id <= 0)
		return MTS_EINVAL;
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	long pause_ms = 20;
	for (;;) {
		int rc, st = state_of(c, id, &rc);
		if (st < 0)
			return rc;
		if (st > 0) {
			if (state_out)
				*state_out = st;
			return MTS_OK;
		}
		struct timespec t;
		clock_gettime(CLOCK_MONOTONIC, &t);
		long spent_ms = (t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000;
		if (timeout_ms >= 0 && spent_ms >= timeout_ms) {
			client_seterr(c, "pipeline %lld still runs after %d ms", (long long)id, timeout_ms);
			return MTS_ETIMEDOUT;
		}
		/* polling, from 20 ms up to 500 ms between requests */
		struct timespec d = {pause_ms / 1000, (pause_ms % 1000) * 1000000L};
		nanosleep(&d, NULL);
		if (pause_ms < 500)
			pause_ms *= 2;
	}
}
