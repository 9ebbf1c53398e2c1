/* SPDX-License-Identifier: MIT */
/*
 * listing: `jobs` pages built beside the event loop -- see listing.h. A
 * request becomes a struct listing: checked on the loop (its filters), its
 * snapshot taken on the loop right after a commit (prepare: the read
 * transaction, the cancel-all mark, the array members without rows that
 * fall on the page), its rows read and encoded on the reader thread
 * (work: each row's JSON without its closing brace, twice for a running
 * row -- as running and as prefetched), and the page merged and answered on
 * the loop (done: members without rows in id order among the rows, the
 * running/prefetched choice, "array" and "task"), which costs a copy of the
 * page's bytes.
 */
#include "listing.h"
#include "master.h"
#include "reader.h"
#include "storeread.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

/* `jobs` with at most this many "ids" is answered on the loop. */
#define LISTING_LOOP_IDS 64

/* One record of a page: its bytes in a buffer; for a running row also
 * its bytes as prefetched (alt_len > 0). */
struct seg {
	int64_t id;
	size_t off, len, alt_off, alt_len;
};

struct segs {
	struct buf b;
	struct seg *v;
	size_t n, cap;
	int oom;
};

struct listing {
	struct reader_job rj;
	struct master *m;
	struct call call;
	struct listing *next; /* m->listings */
	struct store_query q;
	int64_t *ids;	/* q.ids, owned */
	char *client;	/* q.client, owned */
	int prefetched; /* 1: only prefetched, 0: only started, -1: no filter */
	int tail;	/* merge the array members without rows */
	int64_t limit;
	struct store_marks marks; /* the writer's, at the snapshot */
	struct segs tails; /* members without rows at the snapshot (loop) */
	struct segs rows;  /* the rows (reader thread) */
	int64_t nrows;	   /* -1: the read failed (err) */
	char err[256];
};

static int segs_add(struct segs *s, int64_t id, size_t off, size_t alt_off)
{
	if (s->oom || !s->b.p)
		return s->oom = 1, -1;
	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 64;
		struct seg *v = realloc(s->v, cap * sizeof *v);
		if (!v)
			return s->oom = 1, -1;
		s->v = v;
		s->cap = cap;
	}
	struct seg *g = &s->v[s->n++];
	g->id = id;
	g->off = off;
	g->len = (alt_off ? alt_off : s->b.len) - off;
	g->alt_off = alt_off;
	g->alt_len = alt_off ? s->b.len - alt_off : 0;
	return 0;
}

static void segs_release(struct segs *s)
{
	buf_release(&s->b);
	free(s->v);
}

/* ---- the reader thread: rows ---- */

static void add_time(struct buf *b, const char *key, double t)
{
	if (t < 0)
		buf_addf(b, ",\"%s\":null", key);
	else
		buf_addf(b, ",\"%s\":%.3f", key, t);
}

/* r's record without "array", "task" and the closing brace; pre: as a
 * prefetched job (assigned, not started). */
static void rec_json(struct buf *b, const struct store_rec *r, int pre)
{
	buf_addf(b, "{\"id\":%lld,\"type\":", (long long)r->id);
	buf_add_json_str(b, r->type, r->type ? strlen(r->type) : 0);
	buf_addf(b, ",\"state\":\"%s\",\"attempts\":%d,\"worker\":",
		 pre ? "prefetched" : mjob_state_name(r->state), r->attempts);
	buf_add_json_str(b, r->worker, r->worker ? strlen(r->worker) : 0);
	buf_adds(b, ",\"output\":");
	buf_add_json_str(b, r->output, r->output_len);
	buf_adds(b, ",\"error\":");
	buf_add_json_str(b, r->error, r->error ? strlen(r->error) : 0);
	if (r->rc_null)
		buf_adds(b, ",\"rc\":null");
	else
		buf_addf(b, ",\"rc\":%d", r->rc);
	buf_adds(b, ",\"input\":");
	buf_add_json_str(b, r->input, r->input_len);
	buf_addf(b, ",\"prio\":%d,\"retries\":%d,\"deps\":%s,\"client\":", r->prio, r->retries,
		 r->deps && r->deps[0] == '[' ? r->deps : "[]");
	buf_add_json_str(b, r->client, r->client ? strlen(r->client) : 0);
	add_time(b, "submitted", r->submitted);
	add_time(b, "started", pre ? -1 : r->started);
	add_time(b, "finished", r->finished);
}

static int row_cb(void *arg, const struct store_rec *r)
{
	struct segs *s = arg;
	size_t off = s->b.len, alt = 0;
	rec_json(&s->b, r, 0);
	if (r->state == MJOB_RUNNING) { /* prefetched or running: the loop knows which */
		alt = s->b.len;
		rec_json(&s->b, r, 1);
	}
	return segs_add(s, r->id, off, alt) ? 1 : 0;
}

static void listing_work(struct reader_job *rj, struct storeread *sr)
{
	struct listing *L = (struct listing *)rj;
	buf_grow(&L->rows.b, 4096); /* rows.b.p NULL afterwards: out of memory */
	L->nrows = storeread_jobs(sr, &L->q, &L->marks, row_cb, &L->rows);
	if (L->nrows < 0)
		snprintf(L->err, sizeof L->err, "%s", storeread_errmsg(sr));
}

/* ---- the loop, at the snapshot: members without rows ---- */

/* The next run of L's members without rows after (desc: before) from. */
static int tail_next(struct listing *L, int64_t from, struct arrays_run *run)
{
	if (arrays_tail_run(L->m, from, L->q.desc, L->q.state, L->q.client, run) ||
	    (L->q.upto > 0 && run->lo > L->q.upto))
		return 0;
	if (L->q.upto > 0 && run->hi > L->q.upto)
		run->hi = L->q.upto;
	return 1;
}

/* The first L->limit members without rows of the listing, in its order:
 * no page holds more. */
static void tail_runs(struct listing *L)
{
	struct arrays_run run;
	int have = tail_next(L, L->q.desc && L->q.after <= 0 ? INT64_MAX : L->q.after, &run);
	while (have && (int64_t)L->tails.n < L->limit && !L->tails.oom) {
		int64_t mid = L->q.desc ? run.hi-- : run.lo++;
		size_t off = L->tails.b.len;
		arrays_tail_record(&run.v, mid, &L->tails.b);
		segs_add(&L->tails, mid, off, 0);
		if (run.lo > run.hi)
			have = tail_next(L, mid, &run);
	}
}

static int cmp_id(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

/* jobs with "ids": the named members without rows (each once, in id
 * order), listed after the rows. */
static void tail_ids(struct listing *L)
{
	qsort(L->ids, L->q.nids, sizeof *L->ids, cmp_id);
	struct arrays_view v;
	for (size_t i = 0; i < L->q.nids && (int64_t)L->tails.n < L->limit && !L->tails.oom; i++) {
		int64_t id = L->ids[i];
		if (i && id == L->ids[i - 1])
			continue;
		int st = arrays_tail_state(L->m, id, &v);
		if (st < 0 || (L->q.state >= 0 && st != L->q.state) ||
		    (L->q.client && strcmp(L->q.client, arrays_client(&v))))
			continue;
		size_t off = L->tails.b.len;
		arrays_tail_record(&v, id, &L->tails.b);
		segs_add(&L->tails, id, off, 0);
	}
}

/* Right after a commit: the loop's memory and the snapshot agree. */
static int listing_prepare(struct reader_job *rj, struct storeread *sr)
{
	struct listing *L = (struct listing *)rj;
	if (storeread_begin(sr)) {
		snprintf(L->err, sizeof L->err, "%s", storeread_errmsg(sr));
		return -1;
	}
	store_marks_get(L->m->store, &L->marks);
	buf_grow(&L->tails.b, 64);
	if (L->tail)
		tail_runs(L);
	if (L->ids && L->prefetched < 0)
		tail_ids(L);
	if (L->tails.oom) {
		snprintf(L->err, sizeof L->err, "out of memory");
		return -1;
	}
	return 0;
}

/* ---- the loop, after the read: the page ---- */

struct page {
	struct listing *L;
	struct buf *b;
	/* the array of the last row that was a member, or the next one in
	 * the page's order (arrays_near); have_av 0: none is left */
	struct arrays_view av;
	int have_av, looked;
	int64_t n, seen, last; /* records written, taken, the id taken last */
};

/* 1 and p->av if id is a member of a job array. Ids come in the page's
 * order, so the arrays are looked up again only past the one in p->av. */
static int row_member(struct page *p, int64_t id)
{
	int desc = p->L->q.desc;
	if (!p->looked || (p->have_av && (desc ? id < p->av.first : id > p->av.last))) {
		p->looked = 1;
		p->have_av = arrays_near(p->L->m, id, desc, &p->av) == 0;
	}
	return p->have_av && id >= p->av.first && id <= p->av.last;
}

static void put_tail(struct page *p, const struct seg *g)
{
	if (p->n++)
		buf_add(p->b, ",", 1);
	buf_add(p->b, p->L->tails.b.p + g->off, g->len);
	p->seen++;
	p->last = g->id;
}

/* A running row is "prefetched" while its job is assigned but its worker
 * has not said it started (the loop's memory, now). */
static int row_prefetched(const struct master *m, int64_t id)
{
	const struct mjob *j = sched_find(&m->sched, id);
	return j && j->where == MJOB_ASSIGNED && !(j->flags & MJOB_F_STARTED);
}

static void put_row(struct page *p, const struct seg *g, int pre)
{
	struct buf *b = p->b;
	if (p->n++)
		buf_add(b, ",", 1);
	buf_add(b, p->L->rows.b.p + (pre ? g->alt_off : g->off), pre ? g->alt_len : g->len);
	if (row_member(p, g->id))
		buf_addf(b, ",\"array\":%lld,\"task\":%lld", (long long)p->av.first,
			 (long long)arrays_task(&p->av, g->id));
	buf_add(b, "}", 1);
}

static void listing_answer(struct listing *L)
{
	struct buf b = BUF_INIT;
	struct page p = {.L = L, .b = &b};
	buf_grow(&b, L->rows.b.len + L->tails.b.len + 256); /* one allocation for the page */
	call_json_open(&L->call, &b, "jobs");
	buf_adds(&b, ",\"jobs\":[");
	size_t ti = 0;
	const struct seg *tv = L->tails.v;
	for (size_t ri = 0; ri < L->rows.n; ri++) {
		const struct seg *g = &L->rows.v[ri];
		/* members without rows before this row (listed after the rows
		 * when they were named by "ids") */
		while (!L->ids && ti < L->tails.n && p.seen < L->limit &&
		       (L->q.desc ? tv[ti].id > g->id : tv[ti].id < g->id))
			put_tail(&p, &tv[ti++]);
		if (p.seen >= L->limit)
			break; /* full before this row: the next page starts at it */
		int pre = g->alt_len && row_prefetched(L->m, g->id);
		p.seen++;
		p.last = g->id;
		if (L->prefetched < 0 ||
		    pre == L->prefetched) /* --state prefetched or running: not the other kind */
			put_row(&p, g, pre);
		if (p.seen >= L->limit)
			break;
	}
	/* the store had fewer than a page: the rest is members without rows */
	while (ti < L->tails.n && p.seen < L->limit)
		put_tail(&p, &tv[ti++]);
	if (p.seen >= L->limit)
		buf_addf(&b, "],\"next\":%lld}", (long long)p.last);
	else
		buf_adds(&b, "],\"next\":null}");
	if (b.p)
		call_reply_json(&L->call, b.p, b.len);
	else
		call_error(&L->call, "internal", "jobs: out of memory; ask for a smaller \"limit\"");
	buf_release(&b);
}

static void listing_free(struct listing *L)
{
	segs_release(&L->tails);
	segs_release(&L->rows);
	free(L->ids);
	free(L->client);
	free(L);
}

/* Its connection is read again (unless backpressure or a git hold keeps
 * it paused). */
static void unhold_peer(struct listing *L)
{
	struct peer *p = L->call.peer;
	if (!p)
		return;
	p->query_held = 0;
	if (!p->paused && !p->git_held && p->conn)
		conn_resume(p->conn);
}

static void listing_done(struct reader_job *rj, int status)
{
	struct listing *L = (struct listing *)rj;
	struct master *m = L->m;
	for (struct listing **pp = &m->listings; *pp; pp = &(*pp)->next)
		if (*pp == L) {
			*pp = L->next;
			break;
		}
	if (L->call.out && !m->stopped && status != UV_ECANCELED) {
		if (status < 0 || L->nrows < 0 || L->rows.oom)
			call_error(&L->call, "internal", "jobs: reading state.db failed: %s",
				   L->err[0] ? L->err : "out of memory");
		else
			listing_answer(L);
		unhold_peer(L);
	}
	if (L->call.client) {
		L->call.client->holds--;
		clients_maybe_free(L->call.client);
	}
	listing_free(L);
	master_touch(m); /* the reply goes out with the turn */
}

/* ---- the request ---- */

/* The request's "state", "after", "limit" and "order" into L->q; 0, or
 * -1 with the error answered. */
static int parse_page(struct call *c, msg *m, struct listing *L)
{
	const char *state = msg_get_str(m, "state");
	int64_t after = 0;
	if (state && strcmp(state, "prefetched") == 0) {
		L->q.state = MJOB_RUNNING; /* state.db's running holds both */
		L->prefetched = 1;
	} else if (msg_has(m, "state") && (L->q.state = mjob_state_parse(state)) < 0) {
		call_error(
		    c, "bad_request",
		    "jobs: unknown state \"%.40s\"; use queued, prefetched, running, completed, failed or "
		    "cancelled",
		    state ? state : "(not a string)");
		return -1;
	} else if (L->q.state == MJOB_RUNNING) {
		L->prefetched = 0;
	}
	if (msg_has(m, "after") && (msg_get_int(m, "after", &after) || after < 0)) {
		call_error(c, "bad_request", "jobs: \"after\" must be a job id");
		return -1;
	}
	if (msg_has(m, "limit") && (msg_get_int(m, "limit", &L->limit) || L->limit < 1 || L->limit > 10000)) {
		call_error(c, "bad_request", "jobs: \"limit\" must be from 1 to 10000");
		return -1;
	}
	const char *order = msg_get_str(m, "order");
	if (msg_has(m, "order") && (!order || (strcmp(order, "asc") != 0 && strcmp(order, "desc") != 0))) {
		call_error(c, "bad_request",
			   "jobs: \"order\" must be \"asc\" (oldest first, the default) or \"desc\"");
		return -1;
	}
	L->q.desc = order && strcmp(order, "desc") == 0;
	L->q.after = after;
	L->q.limit = (int)L->limit;
	return 0;
}

/* "client", "array" and "ids" into L; 0, or -1 with the error answered. */
static int parse_filters(struct call *c, msg *m, struct listing *L)
{
	const char *client = msg_get_str(m, "client");
	if (client && !(L->client = strdup(client))) {
		call_error(c, "busy", "jobs: out of memory; ask again");
		return -1;
	}
	L->q.client = L->client;
	struct arrays_view av;
	if (msg_has(m, "array")) {
		int64_t aid = 0;
		if (msg_get_int(m, "array", &aid) || arrays_view(c->m, aid, &av)) {
			call_error(c, "unknown_job",
				   "jobs: no job array %lld (an array's id is its first job id)",
				   (long long)aid);
			return -1;
		}
		if (L->q.desc) {
			call_error(c, "bad_request",
				   "jobs: \"array\" lists members in id order: no \"order\":\"desc\"");
			return -1;
		}
		L->q.after = L->q.after > av.first - 1 ? L->q.after : av.first - 1;
		L->q.upto = av.last;
	}
	msg *iv = msg_get(m, "ids");
	if (!iv)
		return 0;
	size_t n = msg_size(iv), k = 0;
	if (!msg_is_array(iv) || !(L->ids = malloc((n ? n : 1) * sizeof *L->ids))) {
		call_error(c, "bad_request", "jobs: \"ids\" must be an array of job ids");
		return -1;
	}
	for (msg *e = msg_child(iv); e; e = msg_next(e)) {
		if (!msg_is_num(e)) {
			call_error(c, "bad_request", "jobs: \"ids\" must be an array of job ids");
			return -1;
		}
		L->ids[k++] = msg_int(e);
	}
	L->q.ids = L->ids;
	L->q.nids = k;
	return 0;
}

/* A lookup of a few ids (`jobs ID`, `wait ID`): a rowid lookup each, on
 * the loop with the writer's connection (which also sees this turn's
 * writes), so it never queues behind a long listing. */
static void listing_here(struct listing *L)
{
	struct master *m = L->m;
	workers_flush_assigns(m, 1);
	store_marks_get(m->store, &L->marks);
	buf_grow(&L->tails.b, 64);
	buf_grow(&L->rows.b, 4096);
	if (L->prefetched < 0)
		tail_ids(L);
	L->nrows = store_jobs(m->store, &L->q, row_cb, &L->rows);
	if (L->nrows < 0 || L->rows.oom || L->tails.oom)
		call_error(&L->call, "internal", "jobs: reading state.db failed: %s",
			   L->nrows < 0 ? store_errmsg(m->store) : "out of memory");
	else
		listing_answer(L);
	listing_free(L);
}

static void wake(void *arg)
{
	master_touch(arg);
}

void listing_jobs(struct call *c, msg *m)
{
	struct master *ms = c->m;
	struct listing *L = calloc(1, sizeof *L);
	if (!L) {
		call_error(c, "busy", "jobs: out of memory; ask again");
		return;
	}
	L->m = ms;
	L->call = *c;
	L->q.state = -1;
	L->prefetched = -1;
	L->limit = 1000;
	L->rj = (struct reader_job){.prepare = listing_prepare, .work = listing_work, .done = NULL};
	if (parse_page(c, m, L) || parse_filters(c, m, L)) {
		listing_free(L);
		return;
	}
	/* members without rows: queued or cancelled, never prefetched/running */
	L->tail = !L->ids && L->prefetched < 0;
	if (L->ids && L->q.nids <= LISTING_LOOP_IDS) {
		listing_here(L);
		return;
	}
	char err[300];
	if (!ms->reader &&
	    reader_new(&ms->reader, ms->loop, ms->store, ms->db_path, wake, ms, err, sizeof err)) {
		log_error("jobs: %s", err);
		call_error(c, "internal", "jobs: %s", err);
		listing_free(L);
		return;
	}
	L->rj.done = listing_done;
	if (reader_push(ms->reader, &L->rj)) {
		call_error(c, "busy", "jobs: %d listings wait already; ask again shortly",
			   READER_PENDING_MAX);
		listing_free(L);
		return;
	}
	/* The snapshot is taken after this turn's commit: write every
	 * assignment into it so that running jobs show as running. */
	workers_flush_assigns(ms, 1);
	if (c->client)
		c->client->holds++;
	if (c->peer && c->peer->conn) {
		/* its later frames wait for this one's answer: order is kept */
		c->peer->query_held = 1;
		conn_pause(c->peer->conn);
	}
	L->next = ms->listings;
	ms->listings = L;
	master_touch(ms);
}

void listing_turn(struct master *m)
{
	if (m->reader)
		reader_turn(m->reader);
}

void listing_forget_outbox(struct master *m, const struct outbox *out)
{
	for (struct listing *L = m->listings; L; L = L->next)
		if (L->call.out == out) {
			L->call.out = NULL;
			L->call.peer = NULL;
		}
}

void listing_close(struct master *m, void (*closed)(void *arg), void *arg)
{
	struct reader *rd = m->reader;
	m->reader = NULL;
	reader_close(rd, closed, arg);
}
