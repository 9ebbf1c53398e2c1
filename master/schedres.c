/* SPDX-License-Identifier: MIT */
/*
 * schedres: the resource side of the scheduler (see sched.h): a job's
 * CPUs, GPUs and memory taken and given back on its worker, a worker's
 * resources set (again, after a reconnect), and why a queued job is not
 * running -- or never could (sched_explain, sched_res_never). Split from
 * sched.c, which keeps the queues, fair share and dispatch.
 */
#include "sched.h"
#include "sched_int.h"

#include <stdio.h>
#include <string.h>

/* j (MJOB_F_RES) takes its resources on w, keeping the GPU mask it has
 * if those are free (sched_worker_set_res). */
void sched_res_take(struct sched_worker *w, struct mjob *j)
{
	struct mjob_res r;
	mjob_res_get(j, &r);
	mres_take(w->res, &r);
	mjob_res_put(j, &r);
}

/* j leaves w: its resources are free again, its GPUs no longer its own. */
void sched_res_give(struct sched_worker *w, struct mjob *j)
{
	struct mjob_res r;
	mjob_res_get(j, &r);
	if (w->res)
		mres_give(w->res, &r);
	r.gpu_mask = 0;
	mjob_res_put(j, &r);
}

void sched_worker_set_res(struct sched *s, struct sched_worker *w, struct mres_worker *res)
{
	(void)s;
	w->res = res;
	if (!res)
		return;
	mres_worker_reset(res);
	/* the jobs whose GPUs are known first, so that the others' lowest
	 * free ids cannot take them */
	for (int pass = 0; pass < 2; pass++)
		for (struct mjob *j = w->head; j; j = j->next) {
			struct mjob_res r;
			if (mjob_res_get(j, &r) && (pass == 0) == (r.gpu_mask != 0))
				sched_res_take(w, j);
		}
}

/* ---- explaining a queued job ---- */

/* The most of each resource a connected worker of j's pool has (all) and
 * has free (fr), and the free slots; how many such workers. */
struct res_seen {
	uint32_t nworkers, free_slots;
	struct mres_worker all, fr; /* cpus, mem_b, ngpus (free: as a count) */
	uint32_t gpus_total, gpus_free;
};

static void res_survey(const struct sched *s, uint32_t pool, struct res_seen *v)
{
	memset(v, 0, sizeof *v);
	for (uint32_t i = 0; i < s->nworkers; i++) {
		const struct sched_worker *w = s->workers[i];
		if (!w->connected || w->draining || (pool != SCHED_POOL_ANY && !sched_worker_serves(w, pool)))
			continue;
		v->nworkers++;
		if (w->nassigned + w->extra < w->slots)
			v->free_slots += w->slots - w->nassigned - w->extra;
		const struct mres_worker *r = w->res;
		if (!r)
			continue;
		uint32_t gf = (uint32_t)__builtin_popcountll(r->gpus_free);
		v->gpus_total += r->ngpus;
		v->gpus_free += gf;
		if (r->cpus > v->all.cpus)
			v->all.cpus = r->cpus;
		if (r->mem_b > v->all.mem_b)
			v->all.mem_b = r->mem_b;
		if (r->ngpus > v->all.ngpus)
			v->all.ngpus = r->ngpus;
		if (r->cpus_free > v->fr.cpus)
			v->fr.cpus = r->cpus_free;
		if (r->mem_free_b > v->fr.mem_b)
			v->fr.mem_b = r->mem_free_b;
		if (gf > v->fr.ngpus)
			v->fr.ngpus = gf;
	}
}

#define MIB(b) ((unsigned long long)((b) >> 20))

/* r can never run on what v saw: 1 with the reason, else 0. */
static int res_never(const struct res_seen *v, const struct mjob_res *r, char *out, size_t n)
{
	if (r->gpus > v->all.ngpus)
		return snprintf(out, n, "needs %u GPU%s; workers have at most %u", r->gpus, r->gpus == 1 ? "" : "s",
				v->all.ngpus),
		       1;
	if (r->cpus > v->all.cpus)
		return snprintf(out, n, "needs %u CPUs; workers have at most %u", r->cpus, v->all.cpus), 1;
	if (r->mem_b > v->all.mem_b)
		return snprintf(out, n, "needs %llu MiB of memory; workers have at most %llu MiB", MIB(r->mem_b),
				MIB(v->all.mem_b)),
		       1;
	return 0;
}

int sched_res_never(const struct sched *s, uint32_t pool, const struct mjob_res *r, char *out, size_t n)
{
	struct res_seen v;
	res_survey(s, pool, &v);
	if (!v.nworkers)
		return -1;
	return res_never(&v, r, out, n);
}

int sched_explain(const struct sched *s, const struct mjob *j, char *out, size_t n)
{
	struct mjob_res r;
	int has = mjob_res_get(j, &r);
	if (j->where == MJOB_WAITING)
		return snprintf(out, n, "waiting for %u dependencies to complete", (unsigned)j->ndeps_left), 0;
	if (j->where == MJOB_ASSIGNED)
		return snprintf(out, n, "%s", (j->flags & MJOB_F_STARTED) ? "running" : "assigned to a worker"), 0;
	struct res_seen v;
	res_survey(s, j->client->pool, &v);
	if (!v.nworkers)
		return snprintf(out, n, "queued: no connected worker takes its jobs yet"), 0;
	if (has && res_never(&v, &r, out, n))
		return 1;
	if (has && r.gpus > v.fr.ngpus)
		return v.gpus_free ? snprintf(out, n, "waiting: %u of %u GPUs free, none of its workers has the %u it needs",
					      v.gpus_free, v.gpus_total, r.gpus)
				   : snprintf(out, n, "waiting: all %u GPUs busy", v.gpus_total),
		       0;
	if (has && r.cpus > v.fr.cpus)
		return snprintf(out, n, "waiting: needs %u free CPUs; a worker has at most %u free", r.cpus, v.fr.cpus), 0;
	if (has && r.mem_b > v.fr.mem_b)
		return snprintf(out, n, "waiting: needs %llu MiB free; a worker has at most %llu MiB free", MIB(r.mem_b),
				MIB(v.fr.mem_b)),
		       0;
	if (!v.free_slots)
		return snprintf(out, n, "queued: every slot of its %u worker%s is busy", v.nworkers,
				v.nworkers == 1 ? "" : "s"),
		       0;
	if (has)
		return snprintf(out, n, "waiting: no one worker has its CPUs, GPUs, memory and a free slot at once"), 0;
	return snprintf(out, n, "queued: it is next in line at the next dispatch"), 0;
}
