/* SPDX-License-Identifier: MIT */
/*
 * mres: workers' resources, jobs' requests and the GPU allocator -- see
 * mres.h.
 */
#include "mres.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t all_gpus(uint32_t n) { return n >= 64 ? UINT64_MAX : (((uint64_t)1 << n) - 1); }

struct mres_worker *mres_worker_from_hello(const msg *hello, char *err, size_t n)
{
	int64_t cpus = 0, mem = 0;
	msg *gpus = msg_get(hello, "gpus");
	err[0] = '\0';
	if (!msg_has(hello, "cpus") && !msg_has(hello, "mem") && !gpus)
		return NULL;
	if (msg_has(hello, "cpus") && (msg_get_int(hello, "cpus", &cpus) || cpus < 0 || cpus > MRES_CPUS_MAX))
		return snprintf(err, n, "hello: \"cpus\" must be a number of CPUs from 0 to %u", MRES_CPUS_MAX), NULL;
	if (msg_has(hello, "mem") && (msg_get_int(hello, "mem", &mem) || mem < 0 || (uint64_t)mem > MRES_MEM_MAX))
		return snprintf(err, n, "hello: \"mem\" must be a number of bytes"), NULL;
	if (gpus && (!msg_is_array(gpus) || msg_size(gpus) > RESOURCE_GPUS_MAX))
		return snprintf(err, n, "hello: \"gpus\" must be an array of at most %d GPU ids", RESOURCE_GPUS_MAX),
		       NULL;
	size_t bytes = 0;
	for (msg *g = msg_child(gpus); g; g = msg_next(g)) {
		if (!msg_is_str(g) || !*msg_str(g) || strlen(msg_str(g)) > RESOURCE_GPU_ID_MAX ||
		    strspn(msg_str(g), RESOURCE_GPU_ID_CHARS) != strlen(msg_str(g)))
			return snprintf(err, n, "hello: \"gpus\" must hold GPU ids (1 to %d of A-Z a-z 0-9 _ . : -)",
					RESOURCE_GPU_ID_MAX),
			       NULL;
		bytes += strlen(msg_str(g)) + 1;
	}
	struct mres_worker *w = calloc(1, sizeof *w + bytes);
	if (!w)
		return snprintf(err, n, "out of memory"), NULL;
	char *p = (char *)(w + 1);
	for (msg *g = msg_child(gpus); g; g = msg_next(g)) {
		size_t l = strlen(msg_str(g)) + 1;
		memcpy(p, msg_str(g), l);
		w->ids[w->ngpus++] = p;
		p += l;
	}
	w->cpus = (uint32_t)cpus;
	w->mem_b = (uint64_t)mem;
	const char *kind = msg_get_str(hello, "gpu_kind");
	w->gpu_kind = kind && !strcmp(kind, "amd") ? RESOURCE_GPU_AMD : RESOURCE_GPU_NVIDIA;
	mres_worker_reset(w);
	return w;
}

void mres_worker_free(struct mres_worker *w) { free(w); }

void mres_worker_reset(struct mres_worker *w)
{
	w->cpus_free = w->cpus;
	w->mem_free_b = w->mem_b;
	w->gpus_free = all_gpus(w->ngpus);
}

/* One member of "res": an integer from 0 to hi into *out. */
static int res_int(const msg *res, const char *key, uint64_t hi, uint64_t *out)
{
	int64_t v;
	if (!msg_has(res, key))
		return 0;
	if (msg_get_int(res, key, &v) || v < 0 || (uint64_t)v > hi)
		return -1;
	*out = (uint64_t)v;
	return 0;
}

int mres_parse(const msg *res, struct mjob_res *r, int *pin, char *err, size_t n)
{
	static const char *const known[] = {"cpus", "gpus", "mem", "pin"};
	uint64_t cpus = 0, gpus = 0, mem = 0;
	memset(r, 0, sizeof *r);
	*pin = 0;
	if (!msg_is_object(res))
		return snprintf(err, n, "\"res\" must be an object {\"cpus\":N,\"gpus\":N,\"mem\":BYTES,\"pin\":BOOL}"), -1;
	for (msg *f = msg_child(res); f; f = msg_next(f)) {
		size_t k = 0;
		while (k < sizeof known / sizeof known[0] && strcmp(known[k], msg_key(f)))
			k++;
		if (k == sizeof known / sizeof known[0])
			return snprintf(err, n, "\"res\": unknown field \"%.40s\"; expected cpus, gpus, mem or pin",
					msg_key(f)),
			       -1;
	}
	if (res_int(res, "cpus", MRES_CPUS_MAX, &cpus))
		return snprintf(err, n, "\"res\": \"cpus\" must be a number of CPUs from 0 to %u", MRES_CPUS_MAX), -1;
	if (res_int(res, "gpus", RESOURCE_GPUS_MAX, &gpus))
		return snprintf(err, n, "\"res\": \"gpus\" must be a number of GPUs from 0 to %d", RESOURCE_GPUS_MAX), -1;
	if (res_int(res, "mem", MRES_MEM_MAX, &mem))
		return snprintf(err, n, "\"res\": \"mem\" must be a number of bytes from 0 to 2^60"), -1;
	msg *p = msg_get(res, "pin");
	if (p && !msg_is_bool(p))
		return snprintf(err, n, "\"res\": \"pin\" must be true or false"), -1;
	*pin = msg_bool(p);
	if (*pin && !cpus)
		return snprintf(err, n, "\"res\": \"pin\" binds the job to the CPUs it asks for: give \"cpus\" too"), -1;
	r->cpus = (uint32_t)cpus;
	r->gpus = (uint32_t)gpus;
	r->mem_b = mem;
	return 0;
}

int mres_from_opts(const char *opts_json, struct mjob_res *r)
{
	if (!opts_json || !strstr(opts_json, "\"res\""))
		return 0;
	char err[200];
	int pin;
	msg *o = msg_parse(opts_json, strlen(opts_json), err, sizeof err);
	int ok = o && msg_get(o, "res") && mres_parse(msg_get(o, "res"), r, &pin, err, sizeof err) == 0;
	msg_free(o);
	return ok;
}

int mres_could(const struct mres_worker *w, const struct mjob_res *r)
{
	return w && r->cpus <= w->cpus && r->mem_b <= w->mem_b && r->gpus <= w->ngpus;
}

int mres_fits(const struct mres_worker *w, const struct mjob_res *r)
{
	return w && r->cpus <= w->cpus_free && r->mem_b <= w->mem_free_b &&
	       r->gpus <= (uint32_t)__builtin_popcountll(w->gpus_free);
}

void mres_take(struct mres_worker *w, struct mjob_res *r)
{
	w->cpus_free = r->cpus < w->cpus_free ? w->cpus_free - r->cpus : 0;
	w->mem_free_b = r->mem_b < w->mem_free_b ? w->mem_free_b - r->mem_b : 0;
	uint64_t want = r->gpu_mask & all_gpus(w->ngpus);
	if (!r->gpus || (uint32_t)__builtin_popcountll(want) != r->gpus || (want & ~w->gpus_free)) {
		/* the lowest free ones (fewer if a restart restored too many) */
		want = 0;
		uint64_t f = w->gpus_free;
		for (uint32_t k = 0; k < r->gpus && f; k++) {
			uint64_t low = f & -f;
			want |= low;
			f &= ~low;
		}
	}
	w->gpus_free &= ~want;
	r->gpu_mask = want;
}

void mres_give(struct mres_worker *w, const struct mjob_res *r)
{
	w->cpus_free = w->cpus_free + r->cpus < w->cpus ? w->cpus_free + r->cpus : w->cpus;
	w->mem_free_b = w->mem_free_b + r->mem_b < w->mem_b ? w->mem_free_b + r->mem_b : w->mem_b;
	w->gpus_free |= r->gpu_mask & all_gpus(w->ngpus);
}

int mres_gpus_json(const struct mres_worker *w, uint64_t mask, struct buf *b)
{
	int rc = buf_add(b, "\"", 1), first = 1;
	for (uint32_t i = 0; i < w->ngpus && !rc; i++) {
		if (!(mask & ((uint64_t)1 << i)))
			continue;
		if (!first)
			rc = buf_add(b, ",", 1);
		first = 0;
		rc = rc || buf_adds(b, w->ids[i]); /* checked at hello: nothing to escape */
	}
	return rc || buf_add(b, "\"", 1);
}

uint64_t mres_gpus_mask(const struct mres_worker *w, const char *list)
{
	uint64_t m = 0;
	for (const char *p = list; p && *p;) {
		size_t len = strcspn(p, ",");
		for (uint32_t i = 0; i < w->ngpus; i++)
			if (strlen(w->ids[i]) == len && !strncmp(w->ids[i], p, len))
				m |= (uint64_t)1 << i;
		p += len + (p[len] == ',');
	}
	return m;
}
