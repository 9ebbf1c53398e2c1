/* SPDX-License-Identifier: MIT */
/*
 * nbq: the non-blocking submit queue (mts_submit_nb, mts_flush). A call
 * encodes its job into the handle's open frame and returns; the frame is
 * closed, numbered and sent when fewer than NBQ_WINDOW such frames await
 * their acknowledgement, or when it is full -- so the frames grow by
 * themselves to what one round trip (the master's fdatasync) lets pile up,
 * and a loop of single calls runs at batch speed. A sent frame stays a
 * pending request until the master answers it, so a reconnect sends it
 * again with the same request number and the master stores it once. Its
 * jobs are acknowledged (on_ack, then on_done as usual) only from the
 * master's `submitted`, i.e. once durable; a refused frame is sent again
 * without its bad job, which fails alone; any other refusal fails the
 * frame's jobs -- always through on_ack, on_done and mts_flush.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

#define NBQ_WINDOW 2                  /* nb frames awaiting their ack before the next waits */
#define NBQ_FRAME_JOBS 8192           /* a frame is sent once it holds this many jobs */
#define NBQ_FRAME_BYTES (4u << 20)    /* or this much text */
#define NBQ_MAX_JOBS 65536            /* unacknowledged jobs before mts_submit_nb blocks */
#define NBQ_MAX_BYTES (64u << 20)     /* or this much of their text */

static void nbframe_free(struct nbframe *f)
{
	if (!f)
		return;
	buf_release(&f->jobs);
	free(f->off);
	free(f->seq);
	free(f);
}

/* Mutex held (snapshot references). */
static void nbq_req_free(mts_client *c, struct req *r)
{
	envsnap_req_release_locked(c, r);
	nbframe_free(r->nb);
	r->nb = NULL;
	req_release(r);
	free(r);
}

static struct req *nbq_new_req(void)
{
	struct req *r = calloc(1, sizeof *r);
	struct nbframe *f = calloc(1, sizeof *f);
	struct jobreg *reg = calloc(1, sizeof *reg);
	if (!r || !f || !reg) {
		free(r);
		free(f);
		free(reg);
		return NULL;
	}
	r->nb = f;
	r->reg = reg;
	return r;
}

/* Room for one more job in r's arrays. */
static int nbq_grow(struct req *r)
{
	struct nbframe *f = r->nb;
	if (r->reg->n < f->cap)
		return 0;
	size_t cap = f->cap ? f->cap * 2 : 64;
	size_t *off = realloc(f->off, cap * sizeof *off);
	if (off)
		f->off = off;
	uint64_t *seq = off ? realloc(f->seq, cap * sizeof *seq) : NULL;
	if (seq)
		f->seq = seq;
	void **user = seq ? realloc(r->reg->user, cap * sizeof *user) : NULL;
	if (!user)
		return -1;
	r->reg->user = user;
	f->cap = cap;
	return 0;
}

/* The text of job i of a closed frame r, and its length. */
static const char *nbq_job_text(const struct req *r, size_t i, size_t jlen, size_t *len)
{
	const struct nbframe *f = r->nb;
	size_t end = i + 1 < r->reg->n ? f->off[i + 1] - 1 : jlen;
	*len = end - f->off[i];
	return r->frame.p + f->hdr + f->off[i];
}

/* Number r, finish its frame and link it as a pending request. The jobs'
 * text moves into the frame (kept there for nbq_split). */
static void nbq_send(mts_client *c, struct req *r)
{
	struct nbframe *f = r->nb;
	r->no = ++c->next_req;
	int64_t low = r->no;
	for (struct req *q = c->reqs; q; q = q->next)
		if (q->no < low)
			low = q->no;
	buf_addf(&r->frame, "{\"t\":\"submit\",\"req\":%lld,\"low\":%lld,\"jobs\":[", (long long)r->no, (long long)low);
	f->hdr = r->frame.len;
	buf_add(&r->frame, f->jobs.p, f->jobs.len);
	buf_adds(&r->frame, "]}");
	buf_release(&f->jobs);
	c->nb_inflight++;
	client_link_locked(c, r);
}

static void nbq_kick(mts_client *c, int force)
{
	struct req *r = c->nb_open;
	if (!r || !r->reg->n)
		return;
	if (!force && c->nb_inflight >= NBQ_WINDOW && r->reg->n < NBQ_FRAME_JOBS &&
	    r->nb->jobs.len < NBQ_FRAME_BYTES)
		return;
	c->nb_open = NULL;
	nbq_send(c, r);
}

/* Jobs lo..hi-1 (skipping none) of r will never be stored: tell on_ack,
 * on_done and the next mts_flush, with the reason. */
static void nbq_fail(mts_client *c, struct req *r, size_t lo, size_t hi, int err, const char *why)
{
	size_t n = hi - lo;
	c->nb_failed += n;
	if (!c->nb_firsterr) {
		c->nb_firsterr = err;
		snprintf(c->nb_firstmsg, sizeof c->nb_firstmsg, "%s", why);
	}
	if (c->on_ack) {
		struct cbbatch *b = malloc(sizeof *b + n * sizeof b->items[0]);
		char *t = strdup(why);
		if (b && t) {
			*b = (struct cbbatch){.text = t, .ack = 1, .n = n};
			for (size_t i = 0; i < n; i++)
				b->items[i].a = (mts_ack){r->nb->seq[lo + i], 0, err, t, r->reg->user[lo + i]};
			client_queue_cb(c, b);
		} else {
			free(b);
			free(t);
		}
	}
	if (c->opt.on_done) {
		struct cbbatch *b = malloc(sizeof *b + n * sizeof b->items[0]);
		size_t tl = strlen(why) + 32;
		char *t = malloc(tl);
		if (b && t) {
			snprintf(t, tl, "not submitted: %s", why);
			*b = (struct cbbatch){.text = t, .n = n};
			for (size_t i = 0; i < n; i++)
				b->items[i].r = (mts_result){.state = MTS_FAILED, .type = "", .error = t, .rc = err,
							     .user = r->reg->user[lo + i]};
			client_queue_cb(c, b);
		} else {
			free(b);
			free(t);
		}
	}
	c->nb_unsettled -= n;
}

/* The master acknowledged r as ids first..: its jobs are durable. */
static void nbq_acked(mts_client *c, struct req *r, mts_job_id first)
{
	size_t n = r->reg->n;
	if (c->on_ack) {
		struct cbbatch *b = malloc(sizeof *b + n * sizeof b->items[0]);
		if (b) {
			*b = (struct cbbatch){.ack = 1, .n = n};
			for (size_t i = 0; i < n; i++)
				b->items[i].a = (mts_ack){r->nb->seq[i], first + (mts_job_id)i, MTS_OK, NULL, r->reg->user[i]};
			client_queue_cb(c, b);
		}
	}
	jobmap_apply_reg(&c->jobs, r->reg, first);
	c->nb_unsettled -= n;
}

/* Jobs lo..hi-1 of r except k, as a new frame with a new request number
 * (nothing of r was stored); it shares r's snapshots (moved when last). */
static struct req *nbq_regroup(mts_client *c, struct req *r, size_t lo, size_t hi, size_t k, size_t jlen)
{
	struct req *q = nbq_new_req();
	if (!q)
		return NULL;
	for (size_t i = lo; i < hi; i++) {
		if (i == k)
			continue;
		size_t len, n = q->reg->n;
		const char *t = nbq_job_text(r, i, jlen, &len);
		if (nbq_grow(q) || (n && buf_add(&q->nb->jobs, ",", 1)))
			goto fail;
		q->nb->off[n] = q->nb->jobs.len;
		if (buf_add(&q->nb->jobs, t, len))
			goto fail;
		q->nb->seq[n] = r->nb->seq[i];
		q->reg->user[n] = r->reg->user[i];
		q->reg->n++;
	}
	if (r->nenvs && !(q->envs = malloc(r->nenvs * sizeof *q->envs)))
		goto fail;
	for (size_t i = 0; i < r->nenvs; i++) /* a superset of what q needs */
		(q->envs[i] = r->envs[i])->refs++;
	q->nenvs = r->nenvs;
	return q;
fail:
	nbq_req_free(c, q);
	return NULL;
}

/* r was refused for its job k alone: fail it and send the others again,
 * in one frame -- or, when r was itself such a rest and was refused again,
 * one frame per job, all at once, so that a frame of many bad jobs costs
 * two round trips, not one per bad job. 0, or -1 if out of memory (then
 * the caller fails them all). */
static int nbq_split(mts_client *c, struct req *r, size_t k, size_t jlen, const char *why)
{
	size_t n = r->reg->n, step = r->nb->resent ? 1 : n;
	struct req *qs[64], **q = n <= 64 ? qs : calloc(n, sizeof *q);
	size_t nq = 0;
	if (!q)
		return -1;
	for (size_t lo = 0; lo < n; lo += step) {
		if (step == 1 && lo == k)
			continue;
		if (!(q[nq] = nbq_regroup(c, r, lo, lo + step < n ? lo + step : n, k, jlen))) {
			while (nq)
				nbq_req_free(c, q[--nq]);
			if (q != qs)
				free(q);
			return -1;
		}
		q[nq++]->nb->resent = 1;
	}
	nbq_fail(c, r, k, k + 1, MTS_EREJECTED, why);
	for (size_t i = 0; i < nq; i++) {
		c->nb_bytes += q[i]->nb->jobs.len;
		nbq_send(c, q[i]);
	}
	if (q != qs)
		free(q);
	return 0;
}

/* "job K: ..." from the master: K, or -1. */
static long nbq_bad_index(const char *why)
{
	char *end;
	if (strncmp(why, "job ", 4) != 0)
		return -1;
	errno = 0;
	long k = strtol(why + 4, &end, 10);
	return errno || end == why + 4 || *end != ':' || k < 0 ? -1 : k;
}

static void nbq_on_reply(mts_client *c, struct req *r, msg *m, int is_error)
{
	size_t n = r->reg->n, jlen = r->frame.len - r->nb->hdr - 2;
	int64_t first = 0;
	c->nb_inflight--;
	c->nb_bytes -= jlen;
	if (!is_error && msg_get_int(m, "first", &first) == 0 && first > 0) {
		nbq_acked(c, r, first);
	} else if (!is_error) {
		nbq_fail(c, r, 0, n, MTS_EPROTO, "the master acknowledged a submit without its ids");
	} else {
		const char *code = msg_get_str(m, "code"), *why = msg_get_str(m, "msg");
		char reason[400];
		snprintf(reason, sizeof reason, "%s", why ? why : "the master refused the submit");
		long k = code && !strcmp(code, "bad_request") ? nbq_bad_index(reason) : -1;
		/* "job K: " names a place in a frame the caller never saw: drop it */
		const char *own = k >= 0 && (size_t)k < n ? strchr(reason, ':') + 2 : reason;
		if (k < 0 || (size_t)k >= n)
			nbq_fail(c, r, 0, n, MTS_EREJECTED, reason);
		else if (n == 1 || nbq_split(c, r, (size_t)k, jlen, own))
			nbq_fail(c, r, 0, n, MTS_EREJECTED, n == 1 ? own : reason);
	}
	msg_free(m);
	nbq_req_free(c, r);
	nbq_kick(c, 0);
	client_wake(c);
}

static void nbq_release(mts_client *c)
{
	struct req *r = c->reqs;
	while (r) {
		struct req *next = r->next;
		if (r->nb)
			nbq_req_free(c, r); /* blocking requests belong to their callers */
		r = next;
	}
	c->reqs = c->reqs_tail = NULL;
	if (c->nb_open)
		nbq_req_free(c, c->nb_open);
	c->nb_open = NULL;
}

static int nbq_room(mts_client *c, void *arg, int peek)
{
	(void)arg;
	(void)peek;
	return c->nb_unsettled < NBQ_MAX_JOBS && c->nb_bytes < NBQ_MAX_BYTES;
}

/* The snapshot and directory an exec job runs with (before taking the
 * mutex: envsnap_get takes it). */
static int nbq_exec_ctx(mts_client *c, const mts_job *job, struct envsnap **snap, char *cwd, size_t cwdlen,
			char *err, size_t errlen)
{
	if (!job->cwd && !getcwd(cwd, cwdlen))
		return snprintf(err, errlen, "cannot get the working directory (%s): set mts_job.cwd", strerror(errno)),
		       -1;
	return envsnap_get(c, job->export_env, snap, err, errlen);
}

/* Mutex held: r holds one reference to s (the caller's, given away). */
static int nbq_add_env(struct req *r, struct envsnap *s)
{
	for (size_t i = 0; i < r->nenvs; i++)
		if (r->envs[i] == s) {
			s->refs--; /* r has one already, so this is not the last */
			return 0;
		}
	struct envsnap **v = realloc(r->envs, (r->nenvs + 1) * sizeof *v);
	if (!v)
		return -1;
	r->envs = v;
	r->envs[r->nenvs++] = s;
	return 0;
}

/* Mutex held: encode job into the open frame. MTS_OK or an error (err set). */
static int nbq_append(mts_client *c, const mts_job *job, struct envsnap *snap, const char *cwd, uint64_t *seq,
		      char *err, size_t errlen)
{
	if (!c->nb_open && !(c->nb_open = nbq_new_req()))
		return snprintf(err, errlen, "out of memory"), MTS_ENOMEM;
	struct req *r = c->nb_open;
	struct nbframe *f = r->nb;
	size_t n = r->reg->n, len0 = f->jobs.len;
	if (nbq_grow(r) || (n && buf_add(&f->jobs, ",", 1)))
		return snprintf(err, errlen, "out of memory"), MTS_ENOMEM;
	f->off[n] = f->jobs.len;
	if (submit_encode_job(&f->jobs, job, snap ? snap->key : NULL, cwd, err, errlen) || !f->jobs.p) {
		f->jobs.len = len0;
		return f->jobs.p ? MTS_EINVAL : (snprintf(err, errlen, "out of memory"), MTS_ENOMEM);
	}
	if (snap && nbq_add_env(r, snap)) {
		f->jobs.len = len0;
		return snprintf(err, errlen, "out of memory"), MTS_ENOMEM;
	}
	f->seq[n] = *seq = ++c->nb_seq;
	r->reg->user[n] = job->user;
	r->reg->n++;
	c->nb_unsettled++;
	c->nb_bytes += f->jobs.len - len0;
	return MTS_OK;
}

static const struct nbq_ops nbq_ops = {nbq_on_reply, nbq_kick, nbq_release};

MTS_API int mts_submit_nb(uint64_t *seq_out, mts_client *c, const mts_job *job)
{
	char err[300], cwd[RUNDIR_PATH_MAX];
	struct envsnap *snap = NULL;
	uint64_t seq = 0;
	if (!c || !job)
		return MTS_EINVAL;
	if (!job->type || !*job->type) {
		client_seterr(c, "job without a type (echo, exec or func)");
		return MTS_EINVAL;
	}
	int exec = strcmp(job->type, "exec") == 0;
	if (exec && nbq_exec_ctx(c, job, &snap, cwd, sizeof cwd, err, sizeof err)) {
		client_seterr(c, "%s", err);
		return MTS_EINVAL;
	}
	pthread_mutex_lock(&c->mu);
	int full = !nbq_room(c, NULL, 1);
	pthread_mutex_unlock(&c->mu);
	int rc = full ? client_wait_until(c, nbq_room, NULL, 0) : MTS_OK;
	if (rc) {
		envsnap_unref(c, snap);
		client_seterr(c, rc == MTS_ETIMEDOUT ? "the non-blocking submit queue stayed full (%d jobs) for %d ms: "
						       "is the master reachable? (mts_flush waits for it)"
						     : "the handle is closing (%d jobs queued, %d ms)",
			      NBQ_MAX_JOBS, c->opt.timeout_ms);
		return rc;
	}
	pthread_mutex_lock(&c->mu);
	c->nbq = &nbq_ops;
	if (c->stopping)
		rc = MTS_ECLOSED;
	else
		rc = nbq_append(c, job, snap, exec && !job->cwd ? cwd : job->cwd, &seq, err, sizeof err);
	if (rc && snap)
		snap->refs--; /* still referenced by the handle's list; evicted later */
	if (rc == MTS_OK)
		nbq_kick(c, 0);
	pthread_mutex_unlock(&c->mu);
	if (rc) {
		client_seterr(c, "%s", rc == MTS_ECLOSED ? "the handle is closing" : err);
		return rc;
	}
	if (seq_out)
		*seq_out = seq;
	return MTS_OK;
}

static int nbq_settled(mts_client *c, void *arg, int peek)
{
	(void)arg;
	if (!peek)
		nbq_kick(c, 1); /* under the mutex: whatever a submit queued since goes too */
	return c->nb_unsettled == 0;
}

MTS_API int mts_flush(mts_client *c, int timeout_ms)
{
	if (!c)
		return MTS_EINVAL;
	int rc = client_wait_until(c, nbq_settled, NULL, timeout_ms < 0 ? -1 : timeout_ms ? timeout_ms : 1);
	pthread_mutex_lock(&c->mu);
	if (rc == MTS_ETIMEDOUT) {
		client_seterr(c, "%zu non-blocking submits still wait for the master's acknowledgement after %d ms",
			      c->nb_unsettled, timeout_ms);
	} else if (rc == MTS_OK && c->nb_failed) {
		rc = c->nb_firsterr;
		client_seterr(c, "%zu non-blocking submits were not stored; the first: %s", c->nb_failed,
			      c->nb_firstmsg);
		c->nb_failed = 0;
		c->nb_firsterr = 0;
	}
	pthread_mutex_unlock(&c->mu);
	return rc;
}

MTS_API int mts_set_on_ack(mts_client *c, mts_ack_fn fn)
{
	if (!c)
		return MTS_EINVAL;
	pthread_mutex_lock(&c->mu);
	c->on_ack = fn;
	pthread_mutex_unlock(&c->mu);
	return MTS_OK;
}
