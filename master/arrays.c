/* SPDX-License-Identifier: MIT */
/*
 * arrays: job arrays in the master -- see arrays.h. Members are built as
 * job objects ({"input": the template's input with {} expanded, "env": the
 * template's env plus MTSLURM_TASK_ID and MTSLURM_ENTRY}) over the template
 * as defaults, and go through jobs_admit_at like any submitted batch, so a
 * member is checked, stored and scheduled exactly as a job submitted alone
 * would be. Arrays live in memory in id order; a fully materialized array
 * keeps only its ids and task ids (for `jobs --array`).
 */
#include "arrays.h"
#include "master.h"
#include "storearr.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jobarray.h"
#include "log.h"
#include "util.h"

struct marray {
	int64_t first, n, made; /* members first .. first+n-1; made have rows */
	int64_t cancel_from;    /* members from this index on are cancelled; -1: none */
	char cid[MASTER_CID_MAX + 1];
	msg *tmpl;              /* the job template (NULL once all are made) */
	struct jobarray tasks;  /* task ids by index; count 0: the index itself */
	msg *entries;           /* the entries (NULL: a range array, or all made) */
	msg *cur;               /* entries' element cur_i (a walk either way) */
	int64_t cur_i;
	double submitted;       /* wall time of its submit */
	struct marray *next;
};

struct arrays {
	struct marray *head, *tail;
	int64_t tail_queued; /* members without a row, not cancelled */
};

int arrays_init(struct master *m)
{
	m->arrays = calloc(1, sizeof *m->arrays);
	return m->arrays ? 0 : -1;
}

static void marray_free(struct marray *a)
{
	msg_free(a->tmpl);
	msg_free(a->entries);
	jobarray_release(&a->tasks);
	free(a);
}

void arrays_release(struct master *m)
{
	if (!m->arrays)
		return;
	for (struct marray *a = m->arrays->head, *next; a; a = next) {
		next = a->next;
		marray_free(a);
	}
	free(m->arrays);
	m->arrays = NULL;
}

static int64_t task_of(const struct marray *a, int64_t i)
{
	return a->tasks.count ? jobarray_task(&a->tasks, i) : i;
}

static msg *entry_at(struct marray *a, int64_t i)
{
	if (!a->entries)
		return NULL;
	/* members are read in order as they are made, listings page forward
	 * or (newest first) backward: walk from where the last read stopped,
	 * or from the start when that is nearer */
	if (!a->cur || i <= a->cur_i - i) {
		a->cur = msg_child(a->entries);
		a->cur_i = 0;
	}
	while (a->cur && a->cur_i > i) {
		a->cur = msg_prev(a->cur);
		a->cur_i--;
	}
	while (a->cur && a->cur_i < i) {
		a->cur = msg_next(a->cur);
		a->cur_i++;
	}
	return a->cur;
}

/* Member i's job object over the template (NULL on OOM); its expanded
 * input also in *input (owned by the object). */
static msg *member_job(struct marray *a, int64_t i)
{
	char taskbuf[32];
	int64_t task = task_of(a, i);
	snprintf(taskbuf, sizeof taskbuf, "%lld", (long long)task);
	msg *e = entry_at(a, i);
	char *text = e ? jobarray_entry_text(e) : strdup(taskbuf);
	msg *o = msg_new_object();
	const char *type = msg_get_str(a->tmpl, "type");
	msg *in = msg_get(a->tmpl, "input");
	struct buf b = BUF_INIT;
	int rc = !text || !o;
	if (!rc && msg_is_str(in)) {
		rc = jobarray_expand(&b, msg_str(in), text, e) || msg_set_str(o, "input", b.p ? b.p : "");
	}
	if (!rc && type && strcmp(type, "exec") == 0) {
		msg *env = msg_get(a->tmpl, "env");
		msg *ne = msg_is_array(env) ? msg_dup(env) : msg_new_array();
		struct buf v = BUF_INIT;
		rc = !ne || buf_addf(&v, "MTSLURM_TASK_ID=%lld", (long long)task) || msg_push(ne, msg_new_str(v.p));
		buf_reset(&v);
		rc = rc || buf_adds(&v, "MTSLURM_ENTRY=") || buf_adds(&v, text) || msg_push(ne, msg_new_str(v.p));
		buf_release(&v);
		rc = rc || msg_add(o, "env", ne);
	}
	buf_release(&b);
	free(text);
	if (rc) {
		msg_free(o);
		return NULL;
	}
	return o;
}

/* Members [made, made+k) end before they run: rows written final (state
 * MJOB_CANCELLED with the array, or MJOB_FAILED with why), callbacks to the
 * submitter; counted unless they were counted when the array was
 * cancelled. */
static void make_final(struct master *m, struct marray *a, struct client *c, int64_t k, int state, const char *why)
{
	const char *type = msg_get_str(a->tmpl, "type");
	int kind = type ? mjob_kind_parse(type) : MJOB_ECHO;
	struct mjob j = {.kind = (uint8_t)(kind < 0 ? MJOB_ECHO : kind)};
	double now = master_job_now(m);
	int count = state != MJOB_CANCELLED;
	for (int64_t i = a->made; i < a->made + k; i++) {
		j.id = a->first + i;
		if (store_array_final_row(m->store, j.id, a->cid, mjob_kind_name(j.kind), NULL, state, why, count, now))
			log_error("cannot record array member %lld: %s", (long long)j.id, store_errmsg(m->store));
		if (count)
			m->counts[state]++;
		clients_result(c, &j, state, NULL, NULL, 0, why, 0, 0);
	}
}

/* A template or entries no longer needed (every member has its row). */
static void marray_done(struct marray *a)
{
	msg_free(a->tmpl);
	msg_free(a->entries);
	a->tmpl = a->entries = NULL;
	a->cur = NULL;
}

/* Materialize up to k members of a. 0, or -1 if the store failed. */
static int make_chunk(struct master *m, struct marray *a, int64_t k)
{
	struct client *c = clients_get(m, a->cid, 1);
	if (!c)
		return -1;
	/* Held while its members are admitted: one whose dependency already
	 * failed is finalized at once, and the last job of a client with no
	 * connection would free it under the chunk's next member. */
	c->holds++;
	char err[400];
	int cancelled = a->cancel_from >= 0 && a->made >= a->cancel_from;
	int64_t end = a->cancel_from >= 0 && !cancelled ? a->cancel_from : a->n;
	if (k > end - a->made)
		k = end - a->made;
	if (cancelled) {
		make_final(m, a, c, k, MJOB_CANCELLED, "cancelled");
	} else {
		msg *jobs = msg_new_array();
		int rc = jobs ? 0 : -1;
		for (int64_t i = a->made; !rc && i < a->made + k; i++) {
			msg *o = member_job(a, i);
			rc = !o || msg_push(jobs, o);
		}
		if (rc)
			snprintf(err, sizeof err, "out of memory in the master");
		else
			rc = jobs_admit_at(m, c, jobs, a->tmpl, a->first + a->made, err, sizeof err);
		msg_free(jobs);
		if (rc) {
			/* The template passed at submit; what changed since
			 * (a worker set, a forgotten snapshot) fails these. */
			log_error("array %lld: members %lld..%lld cannot run: %s", (long long)a->first,
				  (long long)(a->first + a->made), (long long)(a->first + a->made + k - 1), err);
			make_final(m, a, c, k, MJOB_FAILED, err);
		}
		m->arrays->tail_queued -= k;
	}
	a->made += k;
	int rc = store_array_made(m->store, a->first, a->made);
	if (a->made == a->n)
		marray_done(a);
	c->holds--;
	clients_maybe_free(c);
	return rc;
}

void arrays_turn(struct master *m)
{
	struct arrays *as = m->arrays;
	if (!as || m->shutting_down)
		return;
	int more = 0;
	for (struct marray *a = as->head; a; a = a->next) {
		if (a->made == a->n)
			continue;
		int cancelled = a->cancel_from >= 0 && a->made >= a->cancel_from;
		if (!cancelled && m->sched.nqueued >= ARRAYS_AHEAD)
			continue; /* again when the queue drains */
		if (make_chunk(m, a, cancelled ? ARRAYS_CANCEL_CHUNK : ARRAYS_CHUNK))
			log_error("array %lld: %s", (long long)a->first, store_errmsg(m->store));
		more |= a->made < a->n;
		break; /* one array per turn: older ones first */
	}
	if (more)
		master_touch(m);
}

static struct marray *find_member(const struct master *m, int64_t id)
{
	for (struct marray *a = m->arrays ? m->arrays->head : NULL; a; a = a->next)
		if (id >= a->first && id < a->first + a->n)
			return a;
	return NULL;
}

int arrays_unmade(const struct master *m, int64_t id)
{
	struct marray *a = find_member(m, id);
	return a && id >= a->first + a->made;
}

int arrays_make_upto(struct master *m, int64_t id)
{
	struct marray *a = find_member(m, id);
	uint64_t t0 = util_mono_ns();
	int64_t before = a ? a->made : 0;
	while (a && a->first + a->made <= id)
		if (make_chunk(m, a, ARRAYS_CANCEL_CHUNK))
			return -1;
	if (a && a->made > before)
		log_info("array %lld: %lld members materialized at once for job %lld in %.3f s", (long long)a->first,
			 (long long)(a->made - before), (long long)id, (double)(util_mono_ns() - t0) / 1e9);
	return 0;
}

int64_t arrays_tail_queued(const struct master *m) { return m->arrays ? m->arrays->tail_queued : 0; }

/* Mark a's tail cancelled (counted now, rows written by later turns). */
static int64_t cancel_tail(struct master *m, struct marray *a)
{
	if (a->made == a->n || (a->cancel_from >= 0 && a->cancel_from <= a->made))
		return 0;
	int64_t k = a->n - a->made;
	a->cancel_from = a->made;
	m->arrays->tail_queued -= k;
	m->counts[MJOB_CANCELLED] += k;
	store_count_add(m->store, MJOB_CANCELLED, k);
	if (store_array_cancel(m->store, a->first, a->cancel_from))
		log_error("array %lld: cannot record its cancel: %s", (long long)a->first, store_errmsg(m->store));
	master_touch(m);
	return k;
}

int64_t arrays_cancel(struct master *m, int64_t id)
{
	struct marray *a = find_member(m, id);
	if (!a || a->first != id)
		return -1;
	int64_t n = cancel_tail(m, a);
	for (int64_t i = 0; i < a->made; i++)
		if (sched_find(&m->sched, a->first + i) && jobs_cancel(m, a->first + i) > 0)
			n++;
	return n;
}

int64_t arrays_cancel_all(struct master *m)
{
	int64_t n = 0;
	for (struct marray *a = m->arrays ? m->arrays->head : NULL; a; a = a->next)
		n += cancel_tail(m, a);
	return n;
}

int arrays_view(const struct master *m, int64_t id, struct arrays_view *v)
{
	struct marray *a = find_member(m, id);
	if (!a || a->first != id)
		return -1;
	v->first = a->first;
	v->last = a->first + a->n - 1;
	v->a = a;
	return 0;
}

int64_t arrays_task(const struct arrays_view *v, int64_t id)
{
	const struct marray *a = v->a;
	return task_of(a, id - a->first);
}

const char *arrays_client(const struct arrays_view *v) { return ((const struct marray *)v->a)->cid; }

int arrays_view_of(const struct master *m, int64_t id, struct arrays_view *v)
{
	struct marray *a = find_member(m, id);
	if (!a)
		return -1;
	v->first = a->first;
	v->last = a->first + a->n - 1;
	v->a = a;
	return 0;
}

int arrays_near(const struct master *m, int64_t id, int desc, struct arrays_view *v)
{
	const struct marray *best = NULL;
	for (const struct marray *a = m->arrays ? m->arrays->head : NULL; a; a = a->next) {
		int64_t last = a->first + a->n - 1;
		if (desc ? a->first <= id && (!best || a->first > best->first) : last >= id && (!best || a->first < best->first))
			best = a;
	}
	if (!best)
		return -1;
	*v = (struct arrays_view){.first = best->first, .last = best->first + best->n - 1, .a = best};
	return 0;
}

/* The state of a's members from index made on (no row yet). */
static int tail_state(const struct marray *a, int64_t i)
{
	return a->cancel_from >= 0 && i >= a->cancel_from ? MJOB_CANCELLED : MJOB_QUEUED;
}

/* Clip members lo..hi (indexes) of a to those after from (desc: before
 * it) into the best run so far, r: the nearest one to from. */
static void run_offer(struct marray *a, int64_t lo, int64_t hi, int st, int64_t from, int desc,
		      struct arrays_run *r, int *found)
{
	lo += a->first;
	hi += a->first;
	if (desc && hi >= from)
		hi = from - 1;
	if (!desc && lo <= from)
		lo = from + 1;
	if (lo > hi || (*found && (desc ? hi <= r->hi : lo >= r->lo)))
		return;
	*r = (struct arrays_run){.lo = lo, .hi = hi, .state = st,
				 .v = {.first = a->first, .last = a->first + a->n - 1, .a = a}};
	*found = 1;
}

int arrays_tail_run(const struct master *m, int64_t from, int desc, int state, const char *cid, struct arrays_run *r)
{
	int found = 0;
	if (state >= 0 && state != MJOB_QUEUED && state != MJOB_CANCELLED)
		return -1;
	for (struct marray *a = m->arrays ? m->arrays->head : NULL; a; a = a->next) {
		if (a->made == a->n || (cid && strcmp(cid, a->cid) != 0))
			continue;
		/* queued: made .. cancel_from-1 (or the end); cancelled: the rest */
		int64_t qend = a->cancel_from < 0 ? a->n : a->cancel_from > a->made ? a->cancel_from : a->made;
		if (state != MJOB_CANCELLED && qend > a->made)
			run_offer(a, a->made, qend - 1, MJOB_QUEUED, from, desc, r, &found);
		if (state != MJOB_QUEUED && qend < a->n)
			run_offer(a, qend, a->n - 1, MJOB_CANCELLED, from, desc, r, &found);
	}
	return found ? 0 : -1;
}

int arrays_tail_state(const struct master *m, int64_t id, struct arrays_view *v)
{
	struct marray *a = find_member(m, id);
	if (!a || id < a->first + a->made)
		return -1;
	if (v)
		*v = (struct arrays_view){.first = a->first, .last = a->first + a->n - 1, .a = a};
	return tail_state(a, id - a->first);
}

/* "deps" of a's template as JSON text into b ([] if it has none). */
static void tmpl_deps(const struct marray *a, struct buf *b)
{
	msg *d = msg_get(a->tmpl, "deps");
	char *t = msg_is_array(d) ? msg_print(d) : NULL;
	buf_adds(b, t ? t : "[]");
	free(t);
}

void arrays_tail_record(const struct arrays_view *v, int64_t id, struct buf *b)
{
	struct marray *a = (struct marray *)v->a;
	int64_t i = id - a->first, prio = 0, retries = JOBS_RETRIES_DEFAULT;
	int st = tail_state(a, i);
	msg *o = member_job(a, i);
	const char *in = o ? msg_get_str(o, "input") : NULL;
	const char *type = msg_get_str(a->tmpl, "type");
	msg_get_int(a->tmpl, "prio", &prio);
	msg_get_int(a->tmpl, "retries", &retries);
	buf_addf(b, "{\"id\":%lld,\"type\":", (long long)id);
	buf_add_json_str(b, type, type ? strlen(type) : 0);
	buf_addf(b, ",\"state\":\"%s\",\"attempts\":0,\"worker\":null,\"output\":null,\"error\":%s,\"rc\":null,"
		    "\"input\":",
		 mjob_state_name(st), st == MJOB_CANCELLED ? "\"cancelled\"" : "null");
	buf_add_json_str(b, in, in ? strlen(in) : 0);
	buf_addf(b, ",\"prio\":%lld,\"retries\":%lld,\"deps\":", (long long)prio, (long long)retries);
	tmpl_deps(a, b);
	buf_adds(b, ",\"client\":");
	buf_add_json_str(b, a->cid, strlen(a->cid));
	buf_addf(b, ",\"submitted\":%.3f,\"started\":null,\"finished\":null,\"array\":%lld,\"task\":%lld}",
		 a->submitted, (long long)a->first, (long long)task_of(a, i));
	msg_free(o);
}

/* The member set of spec into a (tasks, entries) and its size, or -1 with
 * err. Takes spec's entries. */
static int read_spec(struct marray *a, msg *spec, char *err, size_t errlen)
{
	char why[200];
	if (!msg_is_object(spec))
		return snprintf(err, errlen, "\"array\" must be an object: {\"tasks\":\"1-100\"} or {\"entries\":[...]}"),
		       -1;
	msg *t = msg_get(spec, "tasks");
	if (t && !msg_is_str(t))
		return snprintf(err, errlen, "array: \"tasks\" must be a string of task ids like \"1-100:2,5\""), -1;
	if (t && jobarray_parse(&a->tasks, msg_str(t), why, sizeof why))
		return snprintf(err, errlen, "array: bad task ids: %s", why), -1;
	msg *e = msg_get(spec, "entries");
	if (e && (!msg_is_array(e) || !msg_size(e)))
		return snprintf(err, errlen, "array: \"entries\" must be a non-empty array (one entry per member)"), -1;
	if (!t && !e)
		return snprintf(err, errlen, "array: give \"tasks\" (task ids like \"1-100\") or \"entries\""), -1;
	if (e && msg_size(e) > (size_t)JOBARRAY_MEMBERS_MAX)
		return snprintf(err, errlen, "array: more than %lld entries: split it", (long long)JOBARRAY_MEMBERS_MAX), -1;
	if (t && e && a->tasks.count != (int64_t)msg_size(e))
		return snprintf(err, errlen, "array: %lld task ids for %zu entries: give one per entry",
				(long long)a->tasks.count, msg_size(e)),
		       -1;
	a->n = e ? (int64_t)msg_size(e) : a->tasks.count;
	if (e)
		a->entries = msg_take(spec, "entries");
	return 0;
}

static void arrays_append(struct arrays *as, struct marray *a)
{
	if (as->tail)
		as->tail->next = a;
	else
		as->head = a;
	as->tail = a;
}

int arrays_admit(struct master *m, struct client *c, msg *spec, const msg *tmpl, int64_t *first, int64_t *n,
		 char *err, size_t errlen)
{
	struct marray *a = calloc(1, sizeof *a);
	if (!a)
		return snprintf(err, errlen, "out of memory for an array"), -JOBS_EBUSY;
	a->cancel_from = -1;
	a->submitted = master_job_now(m);
	util_strlcpy(a->cid, c->cid, sizeof a->cid);
	int rc = -JOBS_EBAD;
	if (read_spec(a, spec, err, errlen))
		goto fail;
	if (!msg_is_object(tmpl)) {
		snprintf(err, errlen, "an array needs \"defaults\": the job template its members are made from");
		goto fail;
	}
	rc = -JOBS_EBUSY;
	if (!(a->tmpl = msg_dup(tmpl))) {
		snprintf(err, errlen, "out of memory for an array");
		goto fail;
	}
	/* The first chunk is admitted now, through the same checks as any
	 * job: a template that cannot run is refused here, with nothing
	 * stored. */
	a->first = m->next_id;
	int64_t k = a->n < ARRAYS_CHUNK ? a->n : ARRAYS_CHUNK;
	msg *jobs = msg_new_array();
	int brc = jobs ? 0 : -1;
	for (int64_t i = 0; !brc && i < k; i++) {
		msg *o = member_job(a, i);
		brc = !o || msg_push(jobs, o);
	}
	if (brc) {
		msg_free(jobs);
		snprintf(err, errlen, "out of memory for an array");
		goto fail;
	}
	rc = jobs_admit_at(m, c, jobs, a->tmpl, a->first, err, errlen);
	msg_free(jobs);
	if (rc)
		goto fail;
	char *tmpl_text = msg_print(a->tmpl), *entries_text = a->entries ? msg_print(a->entries) : NULL;
	struct store_array row = {.id = a->first, .n = a->n, .made = k, .client = a->cid, .tmpl = tmpl_text,
				  .tasks = msg_get_str(spec, "tasks"), .entries = entries_text,
				  .submitted = a->submitted};
	if (!tmpl_text || (a->entries && !entries_text) || store_array_add(m->store, &row))
		log_error("array %lld: cannot store it: %s", (long long)a->first, store_errmsg(m->store));
	free(tmpl_text);
	free(entries_text);
	a->made = k;
	m->next_id += a->n;
	m->arrays->tail_queued += a->n - k;
	arrays_append(m->arrays, a);
	if (a->made == a->n)
		marray_done(a);
	else
		master_touch(m);
	*first = a->first;
	*n = a->n;
	log_info("array %lld: %lld members (jobs %lld-%lld) for client %s", (long long)a->first, (long long)a->n,
		 (long long)a->first, (long long)(a->first + a->n - 1), a->cid);
	return 0;
fail:
	marray_free(a);
	return rc;
}

static int load_one(void *arg, const struct store_array *r)
{
	struct master *m = arg;
	struct marray *a = calloc(1, sizeof *a);
	char why[200];
	if (!a)
		return -1;
	a->first = r->id;
	a->n = r->n;
	a->made = r->made;
	a->cancel_from = r->cancel_from;
	a->submitted = r->submitted;
	util_strlcpy(a->cid, r->client, sizeof a->cid);
	int bad = r->tasks && jobarray_parse(&a->tasks, r->tasks, why, sizeof why);
	if (!bad && a->made < a->n) {
		a->tmpl = msg_parse(r->tmpl, strlen(r->tmpl), NULL, 0);
		a->entries = r->entries ? msg_parse(r->entries, strlen(r->entries), NULL, 0) : NULL;
		bad = !a->tmpl || (r->entries && !a->entries);
		if (a->cancel_from < 0)
			m->arrays->tail_queued += a->n - a->made;
	}
	if (bad) {
		marray_free(a);
		return -1;
	}
	arrays_append(m->arrays, a);
	if (m->next_id <= a->first + a->n - 1)
		m->next_id = a->first + a->n;
	return 0;
}

int arrays_load(struct master *m, char *err, size_t errlen)
{
	int64_t n = store_arrays(m->store, load_one, m);
	if (n < 0)
		return snprintf(err, errlen, "cannot load the job arrays of %s: %s; check the file or move it away",
				m->db_path, store_errmsg(m->store)),
		       -1;
	if (m->arrays->tail_queued)
		log_info("%lld members of job arrays still to materialize", (long long)m->arrays->tail_queued);
	if (n)
		master_touch(m);
	return 0;
}
