/* SPDX-License-Identifier: MIT */
/*
 * sched: queues, fair share, dependencies, retries, prefetch windows sized
 * from run times, preemption of prefetched jobs and stealing -- see sched.h.
 * Everything here is O(log n) or better per job; nothing scans all jobs
 * except sched_cancel_all and sched_release (sched_preempt looks at each
 * worker once per turn, and at most at its unstarted jobs). Pools add a
 * look at the head of each pool a worker serves per pick (one branch for a
 * plain worker); with typed jobs live, sched_steal lists the idle workers
 * per pool, O(workers x their pools + pools) in a turn that has any.
 */
#include "sched.h"
#include "sched_int.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PAGE_BITS 12
#define PAGE_SLOTS (1u << PAGE_BITS)

struct sched_page {
	uint32_t used;
	struct mjob *slot[PAGE_SLOTS];
};

/* ---- id -> job table ---- */

static int tab_put(struct sched *s, struct mjob *j)
{
	if (j->id <= 0)
		return -1;
	size_t pi = (size_t)((uint64_t)j->id >> PAGE_BITS);
	if (pi >= s->ndir) {
		size_t n = s->ndir ? s->ndir : 64;
		while (n <= pi)
			n *= 2;
		struct sched_page **d = realloc(s->dir, n * sizeof *d);
		if (!d)
			return -1;
		memset(d + s->ndir, 0, (n - s->ndir) * sizeof *d);
		s->dir = d;
		s->ndir = n;
	}
	if (!s->dir[pi] && !(s->dir[pi] = calloc(1, sizeof(struct sched_page))))
		return -1;
	struct sched_page *p = s->dir[pi];
	struct mjob **slot = &p->slot[(uint64_t)j->id & (PAGE_SLOTS - 1)];
	if (!*slot)
		p->used++;
	*slot = j;
	return 0;
}

static void tab_del(struct sched *s, int64_t id)
{
	size_t pi = (size_t)((uint64_t)id >> PAGE_BITS);
	if (id <= 0 || pi >= s->ndir || !s->dir[pi])
		return;
	struct sched_page *p = s->dir[pi];
	struct mjob **slot = &p->slot[(uint64_t)id & (PAGE_SLOTS - 1)];
	if (!*slot)
		return;
	*slot = NULL;
	if (--p->used == 0) {
		free(p);
		s->dir[pi] = NULL;
	}
}

struct mjob *sched_find(const struct sched *s, int64_t id)
{
	if (id <= 0)
		return NULL;
	size_t pi = (size_t)((uint64_t)id >> PAGE_BITS);
	if (pi >= s->ndir || !s->dir[pi])
		return NULL;
	return s->dir[pi]->slot[(uint64_t)id & (PAGE_SLOTS - 1)];
}

/* ---- a client's queue: max-heap on (prio, -id) ---- */

static inline int hent_before(const struct sched_hent *a, const struct sched_hent *b)
{
	return a->prio > b->prio || (a->prio == b->prio && a->id < b->id);
}

static int jheap_push(struct sched_client *c, const struct mjob *j)
{
	if (util_grow(&c->heap, &c->cap, c->n, sizeof *c->heap, 16))
		return -1;
	struct sched_hent e = {j->id, j->prio};
	uint32_t i = c->n++;
	while (i > 0) {
		uint32_t p = (i - 1) / 2;
		if (!hent_before(&e, &c->heap[p]))
			break;
		c->heap[i] = c->heap[p];
		i = p;
	}
	c->heap[i] = e;
	return 0;
}

static void jheap_pop_root(struct sched_client *c)
{
	struct sched_hent e = c->heap[--c->n];
	uint32_t i = 0, n = c->n;
	for (;;) {
		uint32_t l = 2 * i + 1, best = l;
		if (l >= n)
			break;
		if (l + 1 < n && hent_before(&c->heap[l + 1], &c->heap[l]))
			best = l + 1;
		if (!hent_before(&c->heap[best], &e))
			break;
		c->heap[i] = c->heap[best];
		i = best;
	}
	if (n)
		c->heap[i] = e;
}

/* The queue lost its last job: drop stale entries and shrink. */
static void jheap_empty(struct sched_client *c)
{
	c->n = 0;
	if (c->cap > 1024) {
		free(c->heap);
		c->heap = NULL;
		c->cap = 0;
	}
}

/* ---- pools ---- */

/* Pool id, or NULL if no job of it was ever added. The plain pool is a
 * branch, not a lookup. */
static inline struct sched_pool *pool_at(struct sched *s, uint32_t id)
{
	if (id == 0)
		return &s->pool0;
	return id < s->npools ? s->pools[id] : NULL;
}

static inline struct sched_pool *pool_of(struct sched *s, const struct mjob *j)
{
	return pool_at(s, j->client->pool);
}

/* Make sure pool id exists: 0, or -1 (id too large, OOM). */
static int pool_make(struct sched *s, uint32_t id)
{
	if (id == 0 || (id < s->npools && s->pools[id]))
		return 0;
	if (id >= SCHED_POOL_MAX)
		return -1;
	if (id >= s->npools) {
		uint32_t n = s->npools ? s->npools : 16;
		while (n <= id)
			n *= 2;
		struct sched_pool **t = realloc(s->pools, (size_t)n * sizeof *t);
		if (!t)
			return -1;
		memset(t + s->npools, 0, (size_t)(n - s->npools) * sizeof *t);
		s->pools = t;
		s->npools = n;
	}
	return (s->pools[id] = calloc(1, sizeof(struct sched_pool))) ? 0 : -1;
}

/* Loops over all pools: pool_at(s, i) for i < pools_end(s), NULL skipped. */
static inline uint32_t pools_end(const struct sched *s) { return s->npools ? s->npools : 1; }

static inline const uint32_t *worker_pools(const struct sched_worker *w)
{
	return w->npools > SCHED_WORKER_POOLS_INLINE ? w->pools_heap : w->pools_in;
}

int sched_worker_serves(const struct sched_worker *w, uint32_t pool)
{
	const uint32_t *ids = worker_pools(w);
	for (uint32_t i = 0; i < w->npools && ids[i] <= pool; i++)
		if (ids[i] == pool)
			return 1;
	return 0;
}

/* A plain worker: it serves exactly {0}. */
static inline int worker_plain(const struct sched_worker *w) { return w->npools == 1 && w->pools_in[0] == 0; }

static int u32_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

int sched_worker_set_pools(struct sched *s, struct sched_worker *w, const uint32_t *pools, size_t n)
{
	(void)s;
	for (size_t i = 0; i < n; i++)
		if (pools[i] >= SCHED_POOL_MAX)
			return -1;
	if (n > SCHED_POOL_MAX)
		return -1; /* duplicates beyond every id: not a set */
	uint32_t *dst = w->pools_in;
	if (n > SCHED_WORKER_POOLS_INLINE) {
		dst = malloc(n * sizeof *dst);
		if (!dst)
			return -1;
	}
	if (n)
		memmove(dst, pools, n * sizeof *dst); /* pools may be w's own set */
	qsort(dst, n, sizeof *dst, u32_cmp);
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		if (k == 0 || dst[i] != dst[k - 1])
			dst[k++] = dst[i];
	if (dst != w->pools_in && k <= SCHED_WORKER_POOLS_INLINE) {
		memmove(w->pools_in, dst, k * sizeof *dst); /* duplicates made it fit */
		free(dst);
		dst = w->pools_in;
	}
	free(w->pools_heap);
	w->pools_heap = dst != w->pools_in ? dst : NULL;
	w->npools = (uint32_t)k;
	w->pools_set = 1;
	return 0;
}

void sched_worker_release(struct sched_worker *w)
{
	free(w->pools_heap);
	w->pools_heap = NULL;
	w->npools = 0;
	w->pools_set = 0;
}

uint64_t sched_pool_queued(const struct sched *s, uint32_t pool)
{
	if (pool == 0)
		return s->pool0.nqueued;
	return pool < s->npools && s->pools[pool] ? s->pools[pool]->nqueued : 0;
}

uint32_t sched_pool_workers(const struct sched *s, uint32_t pool)
{
	uint32_t n = 0;
	for (uint32_t i = 0; i < s->nworkers; i++) {
		const struct sched_worker *w = s->workers[i];
		n += w->connected && !w->draining && sched_worker_serves(w, pool);
	}
	return n;
}

/* ---- a pool's active clients: min-heap on (nrun, last_pick) ---- */

static inline int client_before(const struct sched_client *a, const struct sched_client *b)
{
	return a->nrun < b->nrun || (a->nrun == b->nrun && a->last_pick < b->last_pick);
}

static void cheap_set(struct sched_pool *p, uint32_t i, struct sched_client *c)
{
	p->active[i] = c;
	c->active_idx = i;
}

static void cheap_up(struct sched_pool *p, uint32_t i)
{
	struct sched_client *c = p->active[i];
	while (i > 0) {
		uint32_t up = (i - 1) / 2;
		if (!client_before(c, p->active[up]))
			break;
		cheap_set(p, i, p->active[up]);
		i = up;
	}
	cheap_set(p, i, c);
}

static void cheap_down(struct sched_pool *p, uint32_t i)
{
	struct sched_client *c = p->active[i];
	for (;;) {
		uint32_t l = 2 * i + 1, best = i;
		struct sched_client *bc = c;
		if (l < p->nactive && client_before(p->active[l], bc))
			best = l, bc = p->active[l];
		if (l + 1 < p->nactive && client_before(p->active[l + 1], bc))
			best = l + 1, bc = p->active[l + 1];
		if (best == i)
			break;
		cheap_set(p, i, bc);
		i = best;
	}
	cheap_set(p, i, c);
}

static int cheap_add(struct sched *s, struct sched_pool *p, struct sched_client *c)
{
	if (c->active_idx != UINT32_MAX)
		return 0;
	if (util_grow(&p->active, &p->cap_active, p->nactive, sizeof *p->active, 16))
		return -1;
	cheap_set(p, p->nactive, c);
	cheap_up(p, p->nactive++);
	s->nactive++;
	return 0;
}

static void cheap_remove(struct sched *s, struct sched_pool *p, struct sched_client *c)
{
	uint32_t i = c->active_idx;
	if (i == UINT32_MAX)
		return;
	c->active_idx = UINT32_MAX;
	s->nactive--;
	struct sched_client *last = p->active[--p->nactive];
	if (i == p->nactive)
		return;
	cheap_set(p, i, last);
	if (i > 0 && client_before(last, p->active[(i - 1) / 2]))
		cheap_up(p, i);
	else
		cheap_down(p, i);
}

/* ---- limits: parked clients ---- */

static inline int client_limited(const struct sched_client *c) { return c->run_max || c->held; }
static inline int client_eligible(const struct sched_client *c)
{
	return !c->held && (!c->run_max || c->nrun < c->run_max);
}

static int park_add(struct sched *s, struct sched_client *c)
{
	if (c->park_idx != UINT32_MAX)
		return 0;
	if (util_grow(&s->parked, &s->cap_parked, s->nparked, sizeof *s->parked, 16))
		return -1;
	c->park_idx = s->nparked;
	s->parked[s->nparked++] = c;
	return 0;
}

static void park_remove(struct sched *s, struct sched_client *c)
{
	uint32_t i = c->park_idx;
	if (i == UINT32_MAX)
		return;
	c->park_idx = UINT32_MAX;
	struct sched_client *last = s->parked[--s->nparked];
	if (i != s->nparked) {
		s->parked[i] = last;
		last->park_idx = i;
	}
}

/* Put a limited client where its state says: nothing queued -- in neither
 * the heap nor the park; eligible -- its pool's heap; else parked. Out of
 * memory for the move: it stays where it was (a limit overshot beats a
 * job no one can find). */
static void client_place(struct sched *s, struct sched_client *c)
{
	struct sched_pool *p = pool_at(s, c->pool);
	if (!c->nq) {
		park_remove(s, c);
		if (p)
			cheap_remove(s, p, c);
		return;
	}
	if (client_eligible(c)) {
		if (c->active_idx == UINT32_MAX && p && cheap_add(s, p, c) == 0)
			park_remove(s, c);
	} else if (c->park_idx == UINT32_MAX && park_add(s, c) == 0 && p) {
		cheap_remove(s, p, c);
	}
}

void sched_client_limit(struct sched *s, struct sched_client *c, uint32_t run_max, int held)
{
	if (c->run_max == run_max && c->held == !!held)
		return;
	c->run_max = run_max;
	c->held = (uint8_t)!!held;
	if (c->nq && (c->pool == 0 || pool_make(s, c->pool) == 0))
		client_place(s, c);
}

/* nrun of c changed by delta (+1 or -1): restore its pool's heap. */
static inline void client_nrun(struct sched *s, struct sched_client *c, int delta)
{
	if (delta < 0 && c->nrun == 0)
		return;
	c->nrun = (uint32_t)((int64_t)c->nrun + delta);
	if (client_limited(c) && (c->active_idx == UINT32_MAX || !client_eligible(c))) {
		client_place(s, c);
		return;
	}
	if (c->active_idx == UINT32_MAX)
		return;
	struct sched_pool *p = pool_at(s, c->pool);
	if (delta < 0)
		cheap_up(p, c->active_idx);
	else
		cheap_down(p, c->active_idx);
}

/* The revoke of j (on w) is no longer in flight. */
static void revoke_clear(struct sched *s, struct sched_worker *w, struct mjob *j)
{
	j->flags &= (uint8_t)~MJOB_F_REVOKING;
	if (w->nrevoking)
		w->nrevoking--;
	struct sched_pool *p = pool_of(s, j);
	if (p->nrevoking)
		p->nrevoking--;
}

/* Ask v to give j back (steal or preemption). */
static void revoke_mark(struct sched *s, struct sched_worker *v, struct mjob *j)
{
	j->flags |= MJOB_F_REVOKING;
	v->nrevoking++;
	pool_of(s, j)->nrevoking++;
	if (s->cb.on_steal)
		s->cb.on_steal(s->cb.arg, v, j);
}

/* ---- lifecycle ---- */

void sched_init(struct sched *s, const struct sched_cb *cb)
{
	memset(s, 0, sizeof *s);
	if (cb)
		s->cb = *cb;
	s->cover_us = SCHED_COVER_US;
	s->preempt_us = SCHED_PREEMPT_US;
}

void sched_client_init(struct sched_client *c)
{
	memset(c, 0, sizeof *c);
	c->active_idx = UINT32_MAX;
	c->park_idx = UINT32_MAX;
}

void sched_client_release(struct sched_client *c)
{
	free(c->heap);
	c->heap = NULL;
	c->n = c->cap = c->nq = 0;
}

static void free_all_noop(void *arg, struct mjob *j)
{
	(void)arg;
	(void)j;
}

void sched_release(struct sched *s)
{
	sched_cancel_all(s, free_all_noop, NULL);
	for (size_t i = 0; i < s->ndir; i++)
		free(s->dir[i]);
	free(s->dir);
	free(s->pool0.active);
	for (uint32_t i = 1; i < s->npools; i++)
		if (s->pools[i]) {
			free(s->pools[i]->active);
			free(s->pools[i]);
		}
	free(s->pools);
	free(s->steal_buf);
	free(s->workers);
	free(s->failq);
	free(s->parked);
	memset(s, 0, sizeof *s);
}

static int workers_add(struct sched *s, struct sched_worker *w)
{
	if (w->idx != UINT32_MAX && w->idx < s->nworkers && s->workers[w->idx] == w)
		return 0;
	if (util_grow(&s->workers, &s->cap_workers, s->nworkers, sizeof *s->workers, 16))
		return -1;
	w->idx = s->nworkers;
	s->workers[s->nworkers++] = w;
	return 0;
}

/* A worker whose pools were never set serves the plain pool. */
static void worker_default_pools(struct sched_worker *w)
{
	if (w->pools_set)
		return;
	w->pools_in[0] = 0;
	w->npools = 1;
	w->pools_heap = NULL;
	w->pools_set = 1;
}

void sched_worker_add(struct sched *s, struct sched_worker *w, uint32_t slots, uint32_t prefetch)
{
	worker_default_pools(w);
	if (slots == 0)
		slots = 1;
	w->slots = slots;
	w->prefetch_max = prefetch;
	w->window = slots;
	w->connected = 1;
	workers_add(s, w);
}

void sched_worker_drain(struct sched *s, struct sched_worker *w)
{
	(void)s;
	w->draining = 1;
}

void sched_worker_add_orphan_holder(struct sched *s, struct sched_worker *w)
{
	worker_default_pools(w);
	w->slots = UINT32_MAX; /* every held job counts as started */
	w->window = 0;
	w->connected = 0;
	workers_add(s, w);
}

/* What j counts for against SCHED_PREFETCH_BYTES: its input, or, for an
 * input only in state.db (its size is not in memory; the master reads it
 * back to send it), SCHED_STORED_INPUT_B. */
static inline uint64_t window_b(const struct mjob *j)
{
	return mjob_input_stored(j) ? SCHED_STORED_INPUT_B : j->input_len;
}

static void worker_append(struct sched_worker *w, struct mjob *j)
{
	j->worker = w;
	j->next = NULL;
	j->prev = w->tail;
	if (w->tail)
		w->tail->next = j;
	else
		w->head = j;
	w->tail = j;
	w->nassigned++;
	w->assigned_b += window_b(j);
	if (j->ranks > 1)
		w->extra += j->ranks - 1u;
	if ((j->flags & MJOB_F_RES) && w->res)
		sched_res_take(w, j);
}

static void worker_unlink(struct sched *s, struct sched_worker *w, struct mjob *j)
{
	if (j->prev)
		j->prev->next = j->next;
	else
		w->head = j->next;
	if (j->next)
		j->next->prev = j->prev;
	else
		w->tail = j->prev;
	j->prev = j->next = NULL;
	w->nassigned--;
	w->assigned_b -= window_b(j);
	if (j->ranks > 1)
		w->extra -= j->ranks - 1u;
	if (j->flags & MJOB_F_RES)
		sched_res_give(w, j);
	if (j->flags & MJOB_F_REVOKING)
		revoke_clear(s, w, j);
	if (j->flags & MJOB_F_STARTED) {
		j->flags &= (uint8_t)~MJOB_F_STARTED;
		w->nstarted--;
		s->nstarted--;
	}
	j->worker = NULL;
}

static void waiting_unlink(struct sched *s, struct mjob *j)
{
	if (j->prev)
		j->prev->next = j->next;
	else
		s->waiting = j->next;
	if (j->next)
		j->next->prev = j->prev;
	j->prev = j->next = NULL;
}

/* Put j on the list of jobs waiting for dependencies. */
static void waiting_push(struct sched *s, struct mjob *j)
{
	j->where = MJOB_WAITING;
	j->prev = NULL;
	j->next = s->waiting;
	if (s->waiting)
		s->waiting->prev = j;
	s->waiting = j;
	s->nqueued++;
	s->nwaiting++;
	pool_of(s, j)->nqueued++;
}

/* Take j (waiting) off that list. */
static void waiting_pop(struct sched *s, struct mjob *j)
{
	waiting_unlink(s, j);
	s->nqueued--;
	s->nwaiting--;
	pool_of(s, j)->nqueued--;
}

/* Put j in its client's queue. */
static int enqueue(struct sched *s, struct mjob *j)
{
	struct sched_client *c = j->client;
	struct sched_pool *p = pool_at(s, c->pool);
	if (client_limited(c)) {
		if (jheap_push(c, j))
			return -1;
		j->where = MJOB_INQUEUE;
		c->nq++;
		s->nqueued++;
		p->nqueued++;
		client_place(s, c);
		return 0;
	}
	if (cheap_add(s, p, c))
		return -1;
	if (jheap_push(c, j)) {
		if (c->nq == 0)
			cheap_remove(s, p, c);
		return -1;
	}
	j->where = MJOB_INQUEUE;
	c->nq++;
	s->nqueued++;
	p->nqueued++;
	return 0;
}

int sched_wait_for(struct sched *s, struct mjob *j, int64_t dep)
{
	struct mjob *d = sched_find(s, dep);
	if (!d)
		return -1;
	struct mjob_deps *ds = d->dependents;
	if (!ds || ds->n == ds->cap) {
		uint32_t cap = ds ? ds->cap * 2 : 4;
		ds = realloc(ds, sizeof *ds + (size_t)cap * sizeof ds->ids[0]);
		if (!ds)
			return -2;
		if (!d->dependents)
			ds->n = 0;
		ds->cap = cap;
		d->dependents = ds;
	}
	ds->ids[ds->n++] = j->id;
	j->ndeps_left++;
	return 0;
}

/* j entered the scheduler (queued, waiting or assigned). */
static void live_add(struct sched *s, struct mjob *j)
{
	s->nlive++;
	s->input_b += mjob_input_held_b(j);
	j->client->nlive++;
	if (j->client->pool)
		s->ntyped++;
}

int sched_add(struct sched *s, struct mjob *j)
{
	if ((j->client->pool && pool_make(s, j->client->pool)) || tab_put(s, j))
		return -1;
	if (j->ndeps_left > 0) {
		waiting_push(s, j);
	} else if (enqueue(s, j)) {
		tab_del(s, j->id);
		return -1;
	}
	live_add(s, j);
	return 0;
}

int sched_add_assigned(struct sched *s, struct mjob *j, struct sched_worker *w)
{
	if (pool_make(s, j->client->pool) || tab_put(s, j))
		return -1;
	j->where = MJOB_ASSIGNED;
	worker_append(w, j);
	s->nassigned++;
	live_add(s, j);
	client_nrun(s, j->client, +1);
	return 0;
}

/* ---- dispatch and stealing ---- */

/* j (queued) leaves its client's queue; its heap entry may stay behind. */
static void unqueue(struct sched *s, struct mjob *j)
{
	struct sched_client *c = j->client;
	struct sched_pool *p = pool_at(s, c->pool);
	s->nqueued--;
	p->nqueued--;
	if (--c->nq == 0) {
		jheap_empty(c);
		cheap_remove(s, p, c);
		park_remove(s, c);
	}
}

/* The best queued job of c (c->nq > 0), taken off the heap. */
static struct mjob *jheap_take(struct sched *s, struct sched_client *c)
{
	for (;;) {
		struct sched_hent e = c->heap[0];
		jheap_pop_root(c);
		struct mjob *j = sched_find(s, e.id);
		if (j && j->where == MJOB_INQUEUE && j->client == c && j->prio == e.prio)
			return j;
	}
}

/* The best queued job of c without taking it: stale roots are dropped on
 * the way, so the answer is a live job. NULL if c has none. */
static struct mjob *jheap_peek(struct sched *s, struct sched_client *c)
{
	while (c->n) {
		struct sched_hent e = c->heap[0];
		struct mjob *j = sched_find(s, e.id);
		if (j && j->where == MJOB_INQUEUE && j->client == c && j->prio == e.prio)
			return j;
		jheap_pop_root(c);
	}
	return NULL;
}

static void requeue(struct sched *s, struct mjob *j);

/* j may go to w: w's Slurm job has the time j asks for, and (a multi-rank
 * job) w has its ranks free within limit slots -- or, for more ranks than w
 * has slots, w holds nothing (the worker runs such a job alone; windows
 * sized to the slots would otherwise never take it). */
static int fits(const struct sched *s, const struct sched_worker *w, const struct mjob *j, uint32_t limit)
{
	if (j->flags & MJOB_F_RES) {
		/* held from assignment to result: only into a free slot */
		struct mjob_res r;
		mjob_res_get(j, &r);
		if (w->nassigned + w->extra >= w->slots || !mres_fits(w->res, &r))
			return 0;
	}
	if (j->ranks > 1 && w->nassigned + w->extra + j->ranks > limit && (j->ranks <= w->slots || w->nassigned))
		return 0;
	return !j->treq || !w->end || s->now + j->treq <= w->end;
}

#define SCHED_ASIDE_MAX 64 /* jobs looked past for one worker whose time is short */

/* pool_next for a worker of several pools (or none). */
static struct sched_pool *pool_next_multi(struct sched *s, const struct sched_worker *w)
{
	const uint32_t *ids = worker_pools(w);
	struct sched_pool *best = NULL;
	for (uint32_t i = 0; i < w->npools; i++) {
		struct sched_pool *p = pool_at(s, ids[i]);
		if (p && p->nactive && (!best || client_before(p->active[0], best->active[0])))
			best = p;
	}
	return best;
}

/* The pool w takes its next job from: of the pools it serves that have
 * queued jobs, the one whose best client comes first in the fair-share
 * order (so one worker of two pools alternates between them). NULL if none.
 * Inline for a worker of one pool: the plain worker pays a branch or two. */
static inline struct sched_pool *pool_next(struct sched *s, const struct sched_worker *w)
{
	if (w->npools != 1)
		return pool_next_multi(s, w);
	struct sched_pool *p = pool_at(s, w->pools_in[0]);
	return p && p->nactive ? p : NULL;
}

/* Give w the next job of its pools that fits its remaining time: 1, or 0 if
 * none of the next SCHED_ASIDE_MAX does (those stay queued for other
 * workers) or its pools have none queued. */
static int assign_one(struct sched *s, struct sched_worker *w, uint32_t limit)
{
	struct mjob *aside[SCHED_ASIDE_MAX], *j = NULL;
	struct sched_pool *p;
	int na = 0;
	while (na < SCHED_ASIDE_MAX && (p = pool_next(s, w))) {
		struct sched_client *c = p->active[0];
		j = jheap_take(s, c);
		c->last_pick = ++s->pick_seq;
		unqueue(s, j);
		if (fits(s, w, j, limit))
			break;
		aside[na++] = j;
		j = NULL;
	}
	for (int i = 0; i < na; i++)
		if (enqueue(s, aside[i]))
			requeue(s, aside[i]); /* out of memory: parked, not lost */
	if (!j)
		return 0;
	struct sched_client *c = j->client;
	client_nrun(s, c, +1);
	j->where = MJOB_ASSIGNED;
	if (j->attempts < UINT16_MAX)
		j->attempts++;
	worker_append(w, j);
	s->nassigned++;
	if (s->cb.on_assign)
		s->cb.on_assign(s->cb.arg, j);
	return 1;
}

/* The run time to expect of w's next jobs: its smoothed estimate, or the
 * age of the job at the head of its list if that is larger (a job that has
 * run this long already says the estimate is stale). */
static uint64_t est_us(const struct sched *s, const struct sched_worker *w)
{
	uint64_t est = w->est_us;
	const struct mjob *h = w->head;
	if (h && (h->flags & MJOB_F_STARTED)) {
		uint64_t age_us = (uint64_t)(uint32_t)(s->now_ms - h->assigned_ms) * 1000u;
		if (age_us > est)
			est = age_us;
	}
	return est;
}

uint32_t sched_worker_window(const struct sched *s, const struct sched_worker *w)
{
	if (!w->nsamples)
		return w->slots; /* nothing measured yet: no prefetch */
	uint64_t est = est_us(s, w), prefetch = w->prefetch_max;
	if (est > 0 && (uint64_t)w->slots * s->cover_us / est < prefetch)
		prefetch = (uint64_t)w->slots * s->cover_us / est;
	uint64_t win = (uint64_t)w->slots + prefetch;
	return win > UINT32_MAX ? UINT32_MAX : (uint32_t)win;
}

void sched_worker_runtime(struct sched_worker *w, uint32_t run_us)
{
	if (!w->nsamples) {
		w->est_us = run_us;
	} else if (run_us > w->est_us) {
		w->est_us += (run_us - w->est_us + 1) / 2;
	} else {
		/* round the step up so that the estimate reaches 0 */
		w->est_us -= (w->est_us - run_us + 7) / 8;
	}
	if (w->nsamples < UINT32_MAX)
		w->nsamples++;
}

size_t sched_dispatch(struct sched *s)
{
	size_t n = 0;
	if (!s->nactive || !s->nworkers)
		return 0;
	for (int phase = 0; phase < 2 && s->nactive; phase++) {
		for (uint32_t k = 0; k < s->nworkers && s->nactive; k++) {
			struct sched_worker *w = s->workers[(s->rr + k) % s->nworkers];
			if (!w->connected || w->draining)
				continue;
			uint32_t limit = w->slots;
			if (phase == 1)
				limit = w->window = sched_worker_window(s, w);
			/* beyond its slots, a window also holds at most
			 * SCHED_PREFETCH_BYTES of input */
			while (w->nassigned + w->extra < limit && s->nactive &&
			       (w->nassigned + w->extra < w->slots || w->assigned_b < SCHED_PREFETCH_BYTES) &&
			       assign_one(s, w, limit))
				n++;
		}
	}
	s->rr++;
	return n;
}

/* May j be revoked for stealing or preemption? Not if it started (or counts
 * as started), is being revoked, or holds several ranks. */
static inline int revocable(const struct mjob *j)
{
	return !(j->flags & (MJOB_F_REVOKING | MJOB_F_STARTED | MJOB_F_RES)) && j->ranks <= 1;
}

/* Stealing when every live job is in the plain pool: one count of free
 * slots against the revokes in flight. */
static size_t steal_plain(struct sched *s)
{
	uint64_t free_slots = 0, inflight = 0;
	for (uint32_t i = 0; i < s->nworkers; i++) {
		struct sched_worker *w = s->workers[i];
		inflight += w->nrevoking;
		if (w->connected && !w->draining && w->nassigned + w->extra < w->slots &&
		    (worker_plain(w) || sched_worker_serves(w, 0)))
			free_slots += w->slots - w->nassigned - w->extra;
	}
	if (free_slots <= inflight)
		return 0;
	uint64_t want = free_slots - inflight;
	size_t n = 0;
	for (uint32_t i = 0; i < s->nworkers && want; i++) {
		struct sched_worker *v = s->workers[i];
		if (!v->connected || v->nassigned <= v->slots)
			continue;
		/* The tail beyond the first `slots` jobs has not started. */
		uint32_t unstarted = v->nassigned - v->slots;
		struct mjob *j = v->tail;
		for (uint32_t k = 0; k < unstarted && j && want; k++, j = j->prev) {
			if (!revocable(j))
				continue;
			revoke_mark(s, v, j);
			want--;
			n++;
		}
	}
	return n;
}

/* A thief: connected, not draining, a free slot, and nothing queued in any
 * pool it serves (else dispatch would have filled it). */
static uint32_t thief_cap(struct sched *s, const struct sched_worker *t)
{
	if (!t->connected || t->draining || t->nassigned + t->extra >= t->slots || !t->npools)
		return 0;
	const uint32_t *ids = worker_pools(t);
	for (uint32_t k = 0; k < t->npools; k++) {
		struct sched_pool *p = pool_at(s, ids[k]);
		if (p && p->nactive)
			return 0;
	}
	return t->slots - t->nassigned - t->extra;
}

/* List each pool's thieves in s->steal_buf (p->t_first, t_n; cursor t_cur)
 * and set their steal_cap. Returns the total capacity, 0 if none or OOM. */
static uint64_t thieves_list(struct sched *s)
{
	/* Busy workers cost one comparison: a turn with no thief (the usual
	 * one while jobs are queued) touches no pool. */
	uint64_t total = 0;
	for (uint32_t i = 0; i < s->nworkers; i++) {
		struct sched_worker *t = s->workers[i];
		total += t->steal_cap = thief_cap(s, t);
	}
	if (!total)
		return 0;
	for (uint32_t i = 0; i < pools_end(s); i++) {
		struct sched_pool *p = pool_at(s, i);
		if (p)
			p->t_first = p->t_n = p->t_cur = 0;
	}
	size_t nent = 0;
	for (uint32_t i = 0; i < s->nworkers; i++) {
		struct sched_worker *t = s->workers[i];
		if (!t->steal_cap)
			continue;
		const uint32_t *ids = worker_pools(t);
		for (uint32_t k = 0; k < t->npools; k++) {
			struct sched_pool *p = pool_at(s, ids[k]);
			if (p) {
				p->t_n++;
				nent++;
			}
		}
	}
	if (!nent)
		return 0;
	if (nent > s->cap_steal_buf) {
		struct sched_worker **b = realloc(s->steal_buf, nent * sizeof *b);
		if (!b)
			return 0; /* no steal this turn; dispatch still runs */
		s->steal_buf = b;
		s->cap_steal_buf = nent;
	}
	uint32_t off = 0;
	for (uint32_t i = 0; i < pools_end(s); i++) {
		struct sched_pool *p = pool_at(s, i);
		if (p) {
			p->t_first = p->t_cur = off;
			off += p->t_n;
		}
	}
	for (uint32_t i = 0; i < s->nworkers; i++) {
		struct sched_worker *t = s->workers[i];
		const uint32_t *ids = worker_pools(t);
		for (uint32_t k = 0; t->steal_cap && k < t->npools; k++) {
			struct sched_pool *p = pool_at(s, ids[k]);
			if (p)
				s->steal_buf[p->t_cur++] = t;
		}
	}
	for (uint32_t i = 0; i < pools_end(s); i++) {
		struct sched_pool *p = pool_at(s, i);
		if (p)
			p->t_cur = p->t_first;
	}
	return total;
}

/* Take up to n slots of p's thieves (in list order); returns how many. */
static uint64_t thieves_take(struct sched *s, struct sched_pool *p, uint64_t n)
{
	uint64_t got = 0;
	while (got < n && p->t_cur < p->t_first + p->t_n) {
		struct sched_worker *t = s->steal_buf[p->t_cur];
		uint64_t take = t->steal_cap < n - got ? t->steal_cap : n - got;
		t->steal_cap -= (uint32_t)take;
		got += take;
		if (!t->steal_cap)
			p->t_cur++;
	}
	return got;
}

/* Stealing with typed jobs live: each unstarted job of a busy worker may go
 * only to a thief serving its pool. Each pool's revokes in flight first
 * fill its thieves; then the busy workers' jobs, newest first, each take a
 * slot of a thief of their pool -- a greedy matching, so a thief of two
 * pools is counted once. */
static size_t steal_pools(struct sched *s)
{
	uint64_t want = thieves_list(s);
	for (uint32_t i = 0; i < pools_end(s) && want; i++) {
		struct sched_pool *p = pool_at(s, i);
		if (p && p->nrevoking && p->t_n)
			want -= thieves_take(s, p, p->nrevoking);
	}
	size_t n = 0;
	for (uint32_t i = 0; i < s->nworkers && want; i++) {
		struct sched_worker *v = s->workers[i];
		if (!v->connected || v->nassigned <= v->slots)
			continue;
		uint32_t unstarted = v->nassigned - v->slots;
		struct mjob *j = v->tail;
		for (uint32_t k = 0; k < unstarted && j && want; k++, j = j->prev) {
			struct sched_pool *p = pool_of(s, j);
			if (!revocable(j) || !thieves_take(s, p, 1))
				continue;
			revoke_mark(s, v, j);
			want--;
			n++;
		}
	}
	return n;
}

size_t sched_steal(struct sched *s)
{
	if (s->nworkers < 2)
		return 0;
	if (!s->ntyped)
		return s->nactive ? 0 : steal_plain(s);
	return steal_pools(s);
}

/* Should queued job q (of the best client x) start before p, a job a worker
 * holds unstarted? Fair share: p's client has at least two more assigned
 * jobs than x (one fewer after p leaves, still more than x). Priority: p is
 * x's own job with a lower priority. */
static int precedes(const struct mjob *q, const struct mjob *p)
{
	const struct sched_client *x = q->client, *y = p->client;
	if (y == x)
		return p->prio < q->prio;
	return y->nrun >= x->nrun + 2;
}

size_t sched_preempt(struct sched *s)
{
	if (!s->nactive)
		return 0;
	size_t n = 0;
	for (uint32_t i = 0; i < s->nworkers; i++) {
		struct sched_worker *v = s->workers[i];
		if (!v->connected || v->nassigned <= v->slots)
			continue;
		uint32_t unstarted = v->nassigned - v->slots;
		if ((uint64_t)unstarted * est_us(s, v) / v->slots <= s->preempt_us)
			continue;
		/* The job v would take next, from the pools it serves. */
		struct sched_pool *p = pool_next(s, v);
		struct mjob *q = p ? jheap_peek(s, p->active[0]) : NULL;
		if (!q)
			continue;
		struct mjob *j = v->tail;
		for (uint32_t k = 0; k < unstarted && j; k++, j = j->prev)
			if (revocable(j) && precedes(q, j)) {
				revoke_mark(s, v, j);
				n++;
			}
	}
	return n;
}

void sched_started(struct sched *s, struct mjob *j)
{
	if (j->where != MJOB_ASSIGNED || !j->worker || (j->flags & MJOB_F_STARTED))
		return;
	j->flags |= MJOB_F_STARTED;
	j->worker->nstarted++;
	s->nstarted++;
}

static void requeue(struct sched *s, struct mjob *j)
{
	if (enqueue(s, j))
		waiting_push(s, j); /* out of memory: left waiting rather than lost */
	if (s->cb.on_requeue)
		s->cb.on_requeue(s->cb.arg, j);
}

void sched_unassign(struct sched *s, struct mjob *j, int give_back)
{
	if (j->where != MJOB_ASSIGNED)
		return;
	worker_unlink(s, j->worker, j);
	s->nassigned--;
	client_nrun(s, j->client, -1);
	if (give_back && j->attempts > 0)
		j->attempts--;
	requeue(s, j);
}

int sched_adopt(struct sched *s, struct mjob *j, struct sched_worker *w, uint16_t attempts)
{
	if (j->where != MJOB_INQUEUE)
		return -1;
	struct sched_client *c = j->client;
	unqueue(s, j);
	client_nrun(s, c, +1);
	j->where = MJOB_ASSIGNED;
	j->attempts = attempts;
	worker_append(w, j);
	s->nassigned++;
	return 0;
}

void sched_revoked(struct sched *s, struct sched_worker *w, const int64_t *ids, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		/* The worker dropped what it lists: give it back whatever our
		 * flags say, because a reply to another revoke (a cancel's, or
		 * an earlier steal's) may have cleared them meanwhile. */
		struct mjob *j = sched_find(s, ids[i]);
		if (j && j->where == MJOB_ASSIGNED && j->worker == w)
			sched_unassign(s, j, 1);
	}
	for (struct mjob *j = w->head; j; j = j->next)
		if (j->flags & MJOB_F_REVOKING)
			revoke_clear(s, w, j);
	w->nrevoking = 0;
}

/* ---- finishing ---- */

static void failq_push(struct sched *s, int64_t id, int64_t dep)
{
	if (util_grow(&s->failq, &s->cap_failq, s->nfailq + 1, sizeof *s->failq, 64))
		return; /* the dependent stays waiting; better than a crash */
	s->failq[s->nfailq++] = id;
	s->failq[s->nfailq++] = dep;
}

/* Take j out of whatever structure holds it (it stays in the id table). */
static void detach(struct sched *s, struct mjob *j)
{
	switch (j->where) {
	case MJOB_WAITING:
		waiting_pop(s, j);
		break;
	case MJOB_INQUEUE:
		unqueue(s, j);
		break;
	case MJOB_ASSIGNED:
		worker_unlink(s, j->worker, j);
		s->nassigned--;
		client_nrun(s, j->client, -1);
		break;
	default:
		break;
	}
	j->where = MJOB_NEW;
}

void sched_finish(struct sched *s, struct mjob *j, int state)
{
	detach(s, j);
	tab_del(s, j->id);
	s->nlive--;
	s->input_b -= mjob_input_held_b(j);
	j->client->nlive--;
	if (j->client->pool)
		s->ntyped--;
	struct mjob_deps *ds = j->dependents;
	for (uint32_t i = 0; ds && i < ds->n; i++) {
		struct mjob *d = sched_find(s, ds->ids[i]);
		if (!d)
			continue;
		if (state != MJOB_COMPLETED) {
			failq_push(s, d->id, j->id);
			continue;
		}
		if (d->ndeps_left && --d->ndeps_left == 0 && d->where == MJOB_WAITING) {
			waiting_pop(s, d);
			if (enqueue(s, d)) {
				/* OOM: keep it waiting rather than lose it */
				d->ndeps_left = 1;
				waiting_push(s, d);
			}
		}
	}
	mjob_free(j);
	if (s->draining)
		return;
	s->draining = 1;
	while (s->nfailq) {
		int64_t dep = s->failq[--s->nfailq];
		int64_t id = s->failq[--s->nfailq];
		struct mjob *d = sched_find(s, id);
		if (!d)
			continue;
		char err[64];
		snprintf(err, sizeof err, "dependency %lld failed", (long long)dep);
		if (s->cb.on_fail)
			s->cb.on_fail(s->cb.arg, d, err);
		else
			sched_finish(s, d, MJOB_FAILED);
	}
	s->draining = 0;
}

int sched_crashed(struct sched *s, struct mjob *j)
{
	if (j->crashes < UINT8_MAX)
		j->crashes++;
	if (j->crashes >= (j->crash_limit ? j->crash_limit : 1))
		return 0;
	sched_unassign(s, j, 0); /* the attempt it used stays used */
	return 1;
}

void sched_lost_error(char *out, size_t n, const char *wid, const struct mjob *j)
{
	snprintf(out, n,
		 "worker %s lost while running the job (attempt %u of %u); not retried: retry limit reached",
		 wid ? wid : "?", (unsigned)j->attempts, (unsigned)j->retries + 1);
}

void sched_worker_lost(struct sched *s, struct sched_worker *w, const char *wid)
{
	struct mjob *list = w->head;
	uint32_t slots = w->slots;
	w->head = w->tail = NULL;
	w->nassigned = 0;
	w->assigned_b = 0;
	s->nstarted -= w->nstarted;
	w->nstarted = 0;
	w->extra = 0;
	w->nrevoking = 0;
	w->connected = 0;
	if (w->res)
		mres_worker_reset(w->res);
	if (w->idx != UINT32_MAX && w->idx < s->nworkers && s->workers[w->idx] == w) {
		struct sched_worker *last = s->workers[--s->nworkers];
		s->workers[w->idx] = last;
		last->idx = w->idx;
	}
	w->idx = UINT32_MAX;
	uint32_t pos = 0;
	while (list) {
		struct mjob *j = list;
		list = j->next;
		j->prev = j->next = NULL;
		j->worker = NULL;
		if (j->flags & MJOB_F_RES) {
			struct mjob_res r;
			mjob_res_get(j, &r);
			r.gpu_mask = 0;
			mjob_res_put(j, &r);
		}
		int started = (j->flags & MJOB_F_STARTED) != 0;
		if (j->flags & MJOB_F_REVOKING)
			revoke_clear(s, w, j);
		j->flags &= (uint8_t)~MJOB_F_STARTED;
		j->where = MJOB_NEW;
		s->nassigned--;
		client_nrun(s, j->client, -1);
		if (pos++ >= slots && !started) {
			if (j->attempts > 0)
				j->attempts--; /* never started: no attempt used */
			requeue(s, j);
		} else if (j->attempts - j->crashes > j->retries) {
			/* retries cover lost workers; attempts that ended in a
			 * crash of the job's own function are the crash limit's */
			char err[256];
			sched_lost_error(err, sizeof err, wid, j);
			if (s->cb.on_fail)
				s->cb.on_fail(s->cb.arg, j, err);
			else
				sched_finish(s, j, MJOB_FAILED);
		} else {
			requeue(s, j);
		}
	}
}

/* sched_cancel_all's part for one client's queue, left empty. */
static size_t cancel_queue(struct sched *s, struct sched_client *c, void (*fn)(void *arg, struct mjob *j), void *arg)
{
	size_t n = 0;
	for (uint32_t i = 0; i < c->n; i++) {
		struct mjob *j = sched_find(s, c->heap[i].id);
		if (!j || j->where != MJOB_INQUEUE || j->client != c)
			continue; /* stale entry */
		tab_del(s, j->id); /* a second entry of j is stale now */
		c->nlive--;
		fn(arg, j);
		mjob_free(j);
		n++;
	}
	c->nq = 0;
	jheap_empty(c);
	return n;
}

/* sched_cancel_all's part for one pool's queues; the pool is left empty. */
static size_t cancel_pool(struct sched *s, struct sched_pool *p, void (*fn)(void *arg, struct mjob *j), void *arg)
{
	size_t n = 0;
	while (p->nactive) {
		struct sched_client *c = p->active[--p->nactive];
		c->active_idx = UINT32_MAX;
		n += cancel_queue(s, c, fn, arg);
	}
	p->nqueued = p->nrevoking = 0;
	return n;
}

size_t sched_cancel_all(struct sched *s, void (*fn)(void *arg, struct mjob *j), void *arg)
{
	size_t n = 0;
	while (s->waiting) {
		struct mjob *j = s->waiting;
		s->waiting = j->next;
		tab_del(s, j->id); /* a stale queue entry of j must not find it */
		j->client->nlive--;
		fn(arg, j);
		mjob_free(j);
		n++;
	}
	while (s->nparked) {
		struct sched_client *c = s->parked[--s->nparked];
		c->park_idx = UINT32_MAX;
		n += cancel_queue(s, c, fn, arg);
	}
	for (uint32_t i = 0; i < pools_end(s); i++) {
		struct sched_pool *p = pool_at(s, i);
		if (p)
			n += cancel_pool(s, p, fn, arg);
	}
	s->nactive = 0;
	for (uint32_t i = 0; i < s->nworkers; i++) {
		struct sched_worker *w = s->workers[i];
		struct mjob *j = w->head;
		while (j) {
			struct mjob *next = j->next;
			client_nrun(s, j->client, -1);
			j->client->nlive--;
			fn(arg, j);
			mjob_free(j);
			n++;
			j = next;
		}
		w->head = w->tail = NULL;
		w->nassigned = 0;
		w->assigned_b = 0;
		w->nstarted = 0;
		w->extra = 0;
		w->nrevoking = 0;
		if (w->res)
			mres_worker_reset(w->res);
	}
	for (size_t i = 0; i < s->ndir; i++) {
		free(s->dir[i]);
		s->dir[i] = NULL;
	}
	s->nfailq = 0;
	s->nlive = s->nqueued = s->nwaiting = s->nassigned = s->nstarted = 0;
	s->ntyped = 0;
	s->input_b = 0;
	return n;
}
