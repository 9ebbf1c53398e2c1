/* SPDX-License-Identifier: MIT */
/* job: parsing WJOBs and encoding WRESULTs -- see job.h. */
#include "job.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "envcache.h"
#include "gitstep.h"
#include "nametab.h"

/* The WJOB "type" of each kind, sorted by name. */
struct kind_name {
	const char *name;
	enum job_kind kind;
};
static const struct kind_name kinds[] = {
	{"echo", JOB_ECHO}, {"exec", JOB_EXEC}, {"func", JOB_FUNC}, {"typed", JOB_TYPED}};

static enum job_kind kind_of(const char *t)
{
	const struct kind_name *k = nametab_find(kinds, sizeof kinds / sizeof kinds[0], sizeof kinds[0], t);
	return k ? k->kind : JOB_UNKNOWN;
}

size_t job_kinds_check(void)
{
	return nametab_check(kinds, sizeof kinds / sizeof kinds[0], sizeof kinds[0]);
}

static char *put_str(char **at, const char *s, size_t n)
{
	char *p = *at;
	memcpy(p, s, n);
	p[n] = '\0';
	*at += n + 1;
	return p;
}

/* The snapshot named by wjob (see job_new), defining it first if sent. */
static int job_envbase(struct job *j, const msg *wjob, struct envcache *envs, char *err, size_t errlen)
{
	int64_t id = 0;
	if (!envs || msg_get_int(wjob, "envid", &id) < 0)
		return 0;
	if (msg_get_bool(wjob, "envreset", 0))
		envcache_reset(envs);
	if (id <= 0 || id > UINT32_MAX)
		return snprintf(err, errlen, "\"envid\" must be a positive 32-bit integer"), -1;
	msg *def = msg_get(wjob, "envdef");
	char why[160];
	if (!def || envcache_define(envs, (uint32_t)id, def, why, sizeof why) == 0)
		j->envbase = envcache_get(envs, (uint32_t)id);
	if (!j->envbase)
		j->env_missing = (uint32_t)id;
	return 0;
}

/* What an exec job's "res" option asks for (checked by the master): the
 * CPUs and memory it is limited to, and how many CPUs its process is bound
 * to when it says "pin". */
static void job_res(struct job *j, const msg *opts)
{
	const msg *res = msg_get(opts, "res");
	int64_t cpus = 0, mem = 0;
	if (!res)
		return;
	if (!msg_get_int(res, "cpus", &cpus) && cpus >= 1 && cpus <= 1000000) {
		j->res_cpus = (int)cpus;
		j->pin_cpus = msg_get_bool(res, "pin", 0) ? (int)cpus : 0;
	}
	if (!msg_get_int(res, "mem", &mem) && mem > 0)
		j->res_mem_b = (uint64_t)mem;
}

/* The job's delay, time limit and ranks from its assignment, each kept in
 * its range (the master sends 0..4e9 s; anything else must not reach a
 * (uint64_t) cast). */
static void job_numbers(struct job *j, const msg *wjob)
{
	msg_get_num(wjob, "delay", &j->delay_s);
	msg_get_num(wjob, "timeout", &j->timeout_s);
	if (!(j->delay_s >= 0 && j->delay_s <= 4e9))
		j->delay_s = 0;
	if (!(j->timeout_s >= 0 && j->timeout_s <= 4e9))
		j->timeout_s = 0;
	int64_t ranks = 1;
	msg_get_int(wjob, "ranks", &ranks);
	j->ranks = ranks > 1 && ranks <= 4096 ? (int)ranks : 1;
}

struct job *job_new(const msg *wjob, struct envcache *envs, char *err, size_t errlen)
{
	int64_t id, a = 1;
	if (msg_get_int(wjob, "id", &id) < 0) {
		snprintf(err, errlen, "job without an id");
		return NULL;
	}
	msg_get_int(wjob, "a", &a);
	const char *type = msg_get_str(wjob, "type");
	const char *input = msg_get_str(wjob, "input");
	const char *target = msg_get_str(wjob, "target");
	const char *cwd = msg_get_str(wjob, "cwd");
	const char *gpus = msg_get_str(wjob, "gpus");
	msg *env = msg_get(wjob, "env");
	/* the options as JSON text: the executor steps that use them (git,
	 * container, resources) read their own member */
	msg *o = msg_get(wjob, "opts");
	char *opts = msg_is_object(o) ? msg_print(o) : NULL;
	if (o && msg_is_object(o) && !opts) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (!type)
		type = "";
	if (!input)
		input = "";
	size_t tl = strlen(type), il = strlen(input), gl = target ? strlen(target) : 0,
	       cl = cwd ? strlen(cwd) : 0, ol = opts ? strlen(opts) : 0, pl = gpus ? strlen(gpus) : 0;
	size_t nenv = 0, envbytes = 0;
	for (msg *e = msg_child(env); e; e = msg_next(e)) {
		if (msg_str(e)) {
			nenv++;
			envbytes += strlen(msg_str(e)) + 1;
		}
	}
	size_t total = sizeof(struct job) + (nenv ? (nenv + 1) * sizeof(char *) : 0) + tl + il +
		       gl + cl + ol + pl + 6 + envbytes;
	struct job *j = malloc(total);
	if (!j) {
		free(opts);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	memset(j, 0, sizeof(*j));
	j->id = id;
	j->attempt = (int)a;
	j->kind = kind_of(type);
	j->state = JOB_QUEUED;
	job_numbers(j, wjob);
	char *p = (char *)(j + 1);
	if (nenv) {
		j->env = (const char **)p;
		p += (nenv + 1) * sizeof(char *);
	}
	j->type = put_str(&p, type, tl);
	j->input = put_str(&p, input, il);
	j->input_len = il;
	j->target = target ? put_str(&p, target, gl) : NULL;
	j->cwd = cwd ? put_str(&p, cwd, cl) : NULL;
	j->opts = opts ? put_str(&p, opts, ol) : NULL;
	j->gpus = gpus ? put_str(&p, gpus, pl) : NULL;
	j->gpus_amd = gpus && msg_get_str(wjob, "gpu_kind") && !strcmp(msg_get_str(wjob, "gpu_kind"), "amd");
	job_res(j, o);
	free(opts);
	if (nenv) {
		size_t i = 0;
		for (msg *e = msg_child(env); e; e = msg_next(e))
			if (msg_str(e))
				j->env[i++] = put_str(&p, msg_str(e), strlen(msg_str(e)));
		j->env[i] = NULL;
		j->nenv = i;
	}
	if (j->kind == JOB_EXEC && job_envbase(j, wjob, envs, err, errlen)) {
		job_free(j);
		return NULL;
	}
	return j;
}

void job_free(struct job *j)
{
	if (!j)
		return;
	envcache_put(j->envbase);
	gitstep_cancel(j->gitwait);
	gitstep_put(j->gitent);
	free(j->gitcwd);
	free(j);
}

int job_result_json(struct buf *out, int64_t id, int attempt, const struct job_result *r)
{
	/* appended piece by piece: printf's parsing was a tenth of an echo
	 * worker's CPU */
	if (buf_add(out, "{\"id\":", 6) || buf_add_i64(out, id) || buf_add(out, ",\"a\":", 5) ||
	    buf_add_i64(out, attempt) || buf_adds(out, r->ok ? ",\"ok\":true,\"output\":" : ",\"ok\":false,\"output\":"))
		return -1;
	if (r->output) {
		if (buf_add_json_str(out, r->output, r->output_len) < 0)
			return -1;
	} else if (buf_add(out, "null", 4) < 0) {
		return -1;
	}
	if (buf_add(out, ",\"error\":", 9) < 0)
		return -1;
	if (r->error) {
		if (buf_add_json_str(out, r->error, strlen(r->error)) < 0)
			return -1;
	} else if (buf_add(out, "null", 4) < 0) {
		return -1;
	}
	if (buf_add(out, ",\"rc\":", 6) || buf_add_i64(out, r->rc))
		return -1;
	return buf_adds(out, r->crashed ? ",\"crash\":true}" : "}");
}
