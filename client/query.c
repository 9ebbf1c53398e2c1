/* SPDX-License-Identifier: MIT */
/*
 * query: the requests that ask or tell the master something other than
 * "run this" -- status, job records, workers, cancel, wait for the whole
 * cluster, shutdown. Each is one request/reply pair; replies are handed back
 * as JSON text so that callers need no JSON library of ours.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* Print the member key of r's reply (or the reply without t/req if key is
 * NULL) into *out. */
static int reply_json(char **out, mts_client *c, struct req *r, const char *key)
{
	msg *v;
	if (key) {
		v = msg_get(r->reply, key);
	} else {
		msg_free(msg_take(r->reply, "t"));
		msg_free(msg_take(r->reply, "req"));
		v = r->reply;
	}
	if (!v) {
		client_seterr(c, "the master's reply has no \"%s\"", key ? key : "body");
		return MTS_EPROTO;
	}
	char *s = msg_print(v);
	if (!s)
		return MTS_ENOMEM;
	*out = s;
	return MTS_OK;
}

static int simple(char **out, mts_client *c, const char *type, const char *key, int timeout_ms)
{
	if (!c || !out)
		return MTS_EINVAL;
	*out = NULL;
	struct req r;
	req_begin(c, &r, type);
	int rc = client_call(c, &r, timeout_ms);
	if (rc == MTS_OK)
		rc = reply_json(out, c, &r, key);
	req_release(&r);
	return rc;
}

MTS_API int mts_status(char **json_out, mts_client *c) { return simple(json_out, c, "status", NULL, 0); }

MTS_API int mts_workers(char **json_out, mts_client *c) { return simple(json_out, c, "workers", "workers", 0); }

/* The "state" and "ids" members of a jobs or forget request (none if
 * NULL). */
static void add_state(struct buf *b, const char *state)
{
	if (!state)
		return;
	buf_adds(b, ",\"state\":");
	buf_add_json_str(b, state, strlen(state));
}

static void add_ids(struct buf *b, const mts_job_id *ids, size_t n)
{
	if (!ids)
		return;
	buf_adds(b, ",\"ids\":[");
	for (size_t i = 0; i < n; i++)
		buf_addf(b, "%s%lld", i ? "," : "", (long long)ids[i]);
	buf_add(b, "]", 1);
}

static int jobs_query(char **json_out, mts_job_id *next, mts_client *c, const char *state, mts_job_id after,
		      int limit, const mts_job_id *ids, size_t n)
{
	if (!c || !json_out)
		return MTS_EINVAL;
	*json_out = NULL;
	struct req r;
	req_begin(c, &r, "jobs");
	add_state(&r.frame, state);
	if (after > 0)
		buf_addf(&r.frame, ",\"after\":%lld", (long long)after);
	if (limit > 0)
		buf_addf(&r.frame, ",\"limit\":%d", limit > 10000 ? 10000 : limit);
	add_ids(&r.frame, ids, n);
	int rc = client_call(c, &r, 0);
	if (rc == MTS_OK) {
		int64_t nx = 0;
		if (next)
			*next = msg_get_int(r.reply, "next", &nx) == 0 ? nx : 0;
		rc = reply_json(json_out, c, &r, "jobs");
	}
	req_release(&r);
	return rc;
}

MTS_API int mts_jobs(char **json_out, mts_job_id *next, mts_client *c, const char *state, mts_job_id after,
		     int limit)
{
	return jobs_query(json_out, next, c, state, after, limit, NULL, 0);
}

MTS_API int mts_jobs_by_id(char **json_out, mts_client *c, const mts_job_id *ids, size_t n)
{
	if (!ids && n)
		return MTS_EINVAL;
	return jobs_query(json_out, NULL, c, NULL, 0, n > 10000 ? 10000 : (int)n, ids, n);
}

static int cancel(size_t *ncancelled, mts_client *c, const mts_job_id *ids, size_t n, int all)
{
	if (!c || (!all && !ids && n))
		return MTS_EINVAL;
	struct req r;
	req_begin(c, &r, "cancel");
	if (all) {
		buf_adds(&r.frame, ",\"all\":true");
	} else {
		buf_adds(&r.frame, ",\"ids\":[");
		for (size_t i = 0; i < n; i++)
			buf_addf(&r.frame, "%s%lld", i ? "," : "", (long long)ids[i]);
		buf_add(&r.frame, "]", 1);
	}
	int rc = client_call(c, &r, 0);
	if (rc == MTS_OK) {
		int64_t k = 0;
		msg_get_int(r.reply, "n", &k);
		if (ncancelled)
			*ncancelled = (size_t)k;
		msg *unknown = msg_get(r.reply, "unknown");
		if (msg_size(unknown)) {
			struct buf b = BUF_INIT;
			size_t shown = 0;
			for (msg *u = msg_child(unknown); u && shown < 20; u = msg_next(u), shown++)
				buf_addf(&b, "%s%lld", shown ? ", " : "", (long long)msg_int(u));
			if (msg_size(unknown) > shown)
				buf_addf(&b, " and %zu more", msg_size(unknown) - shown);
			client_seterr(c, "no such job%s: %s", msg_size(unknown) > 1 ? "s" : "", b.p ? b.p : "?");
			buf_release(&b);
			rc = MTS_EUNKNOWN_JOB;
		}
	}
	req_release(&r);
	return rc;
}

MTS_API int mts_cancel(size_t *ncancelled, mts_client *c, const mts_job_id *ids, size_t n)
{
	return cancel(ncancelled, c, ids, n, 0);
}

MTS_API int mts_cancel_all(size_t *ncancelled, mts_client *c) { return cancel(ncancelled, c, NULL, 0, 1); }

static int wait_req(char **counts_json, mts_client *c, const mts_job_id *ids, size_t n, int timeout_ms)
{
	if (!c || (!ids && n))
		return MTS_EINVAL;
	struct req r;
	req_begin(c, &r, "wait");
	if (ids) {
		buf_adds(&r.frame, ",\"ids\":[");
		for (size_t i = 0; i < n; i++)
			buf_addf(&r.frame, "%s%lld", i ? "," : "", (long long)ids[i]);
		buf_add(&r.frame, "]", 1);
	} else {
		buf_adds(&r.frame, ",\"all\":true");
	}
	int rc = client_call(c, &r, timeout_ms < 0 ? -1 : timeout_ms ? timeout_ms : 1);
	if (rc == MTS_OK && counts_json)
		rc = reply_json(counts_json, c, &r, NULL);
	req_release(&r);
	if (rc == MTS_ETIMEDOUT)
		client_seterr(c, "jobs still unfinished after %d ms", timeout_ms);
	return rc;
}

MTS_API int mts_wait_cluster(char **counts_json, mts_client *c, int timeout_ms)
{
	return wait_req(counts_json, c, NULL, 0, timeout_ms);
}

MTS_API int mts_wait_jobs(char **counts_json, mts_client *c, const mts_job_id *ids, size_t n, int timeout_ms)
{
	if (!ids)
		return MTS_EINVAL;
	return wait_req(counts_json, c, ids, n, timeout_ms);
}

MTS_API int mts_shutdown(mts_client *c)
{
	char *s = NULL;
	int rc = simple(&s, c, "shutdown", NULL, 0);
	free(s);
	return rc;
}

/* One forget request over ids[0..n) (ids NULL: any id); adds to *total. */
static int forget_req(size_t *total, int *more, mts_client *c, const mts_job_id *ids, size_t n, const char *state,
		      double age_s)
{
	struct req r;
	req_begin(c, &r, "forget");
	add_state(&r.frame, state);
	if (age_s >= 0)
		buf_addf(&r.frame, ",\"age\":%.3f", age_s);
	add_ids(&r.frame, ids, n);
	int rc = client_call(c, &r, 0);
	if (rc == MTS_OK) {
		int64_t k = 0;
		if (msg_get_int(r.reply, "n", &k)) {
			client_seterr(c, "the master's reply has no \"n\"");
			rc = MTS_EPROTO;
		}
		*total += (size_t)k;
		*more = msg_get_bool(r.reply, "more", 0);
	}
	req_release(&r);
	return rc;
}

MTS_API int mts_forget(size_t *nforgotten, mts_client *c, const mts_job_id *ids, size_t n, const char *state,
		       double age_s)
{
	if (nforgotten)
		*nforgotten = 0;
	if (!c || (!ids && n) || (!ids && !state && age_s < 0))
		return MTS_EINVAL;
	size_t total = 0;
	int rc = MTS_OK, more = 1;
	if (ids) {
		/* Each chunk once more while the master says it stopped at its
		 * per-request limit. */
		for (size_t lo = 0; rc == MTS_OK && lo < n; lo += more ? 0 : 10000) {
			size_t k = n - lo < 10000 ? n - lo : 10000;
			rc = forget_req(&total, &more, c, ids + lo, k, state, age_s);
		}
	} else {
		while (rc == MTS_OK && more)
			rc = forget_req(&total, &more, c, NULL, 0, state, age_s);
	}
	if (nforgotten)
		*nforgotten = total;
	return rc;
}

MTS_API int mts_request(char **out, mts_client *c, const char *request_json)
{
	if (!c || !out || !request_json)
		return MTS_EINVAL;
	*out = NULL;
	char err[200];
	msg *m = msg_parse(request_json, strlen(request_json), err, sizeof err);
	const char *t = msg_get_str(m, "t");
	size_t tl = t ? strlen(t) : 0;
	if (!msg_is_object(m) || !tl || tl > 40 || strspn(t, "abcdefghijklmnopqrstuvwxyz_") != tl ||
	    !strcmp(t, "hello") || !strcmp(t, "env")) {
		client_seterr(c, "mts_request: %s", !m ? err : "want an object with \"t\" naming a request (not hello or env)");
		msg_free(m);
		return MTS_EINVAL;
	}
	struct req r;
	req_begin(c, &r, t);
	int rc = MTS_OK;
	for (msg *f = msg_child(m); f && rc == MTS_OK; f = msg_next(f)) {
		const char *k = msg_key(f);
		if (!strcmp(k, "t") || !strcmp(k, "req"))
			continue;
		char *v = msg_print(f);
		if (!v) {
			rc = MTS_ENOMEM;
			break;
		}
		buf_add(&r.frame, ",", 1);
		buf_add_json_str(&r.frame, k, strlen(k));
		buf_add(&r.frame, ":", 1);
		buf_adds(&r.frame, v);
		free(v);
	}
	msg_free(m);
	if (rc == MTS_OK)
		rc = client_call(c, &r, 0);
	if (rc == MTS_OK)
		rc = reply_json(out, c, &r, NULL);
	req_release(&r);
	return rc;
}
