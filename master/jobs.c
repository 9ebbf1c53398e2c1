/* SPDX-License-Identifier: MIT */
/*
 * jobs: admission, cancellation and final states of jobs, for every
 * transport (see jobs.h). A batch is parsed field by field into a spec
 * (no cJSON tree per job is kept), checked against the cluster (ranks,
 * dependencies, environments), then built into mjobs whose inputs stay in
 * memory only while they are small and the budget allows, and finally
 * stored and scheduled together -- nothing of a refused batch remains.
 */
#include "jobs.h"
#include "master.h"
#include "storesvc.h"
#include "types.h"
#include "gateway.h"
#include "arrays.h"
#include "pipeline.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "nametab.h"
#include "runtime.h"
#include "util.h"

#define KNOWN_TYPES "echo, exec, func"
/* Option fields a job may carry (git, container, resources, ...). */
#define SPEC_OPTS_MAX 8

/* ---- fields ---- */

int jobs_is_int(const msg *v, int64_t lo, int64_t hi, int64_t *out)
{
	int64_t x;
	if (msg_to_int(v, &x) || x < lo || x > hi)
		return 0;
	*out = x;
	return 1;
}


/* Read an array of ids; NULL with *n = 0 for an empty array. Returns -1 if
 * v is not an array of integers. */
int jobs_read_ids(const msg *v, int64_t **out, size_t *n)
{
	*out = NULL;
	*n = 0;
	if (!msg_is_array(v))
		return -1;
	size_t cap = msg_size(v);
	if (!cap)
		return 0;
	int64_t *ids = malloc(cap * sizeof *ids);
	if (!ids)
		return -1;
	size_t k = 0;
	for (msg *e = msg_child(v); e; e = msg_next(e)) {
		if (!jobs_is_int(e, INT64_MIN / 2, INT64_MAX / 2, &ids[k])) {
			free(ids);
			return -1;
		}
		k++;
	}
	*out = ids;
	*n = k;
	return 0;
}


/* ---- submit ---- */

struct spec {
	const char *type;
	msg *input;
	const char *target, *cwd, *envk;
	const char *jobtype, *ext; /* a typed job: its job type, its external id */
	msg *job;                  /* a typed job's submitted Job object (mindtrace), kept with it */
	msg *env, *deps;
	double delay, timeout, treq;
	int64_t prio, retries, ranks, crash_limit;
	/* The option fields (where and how the job runs: git, container,
	 * resources), kept whole: stored as one JSON object (jobs.opts) and
	 * sent to the worker in the assign as "opts". A job's own field
	 * replaces the defaults' of the same name. */
	msg *opt[SPEC_OPTS_MAX];
	int nopt;
	struct mjob_res res; /* "res", parsed: the scheduler's copy */
	int has_res;
};

/* Keep f (a field already checked by its parser) among s's options: what
 * the parsers of option fields end with. */
static int spec_opt(struct spec *s, msg *f, char *err, size_t n)
{
	for (int i = 0; i < s->nopt; i++)
		if (strcmp(msg_key(s->opt[i]), msg_key(f)) == 0)
			return s->opt[i] = f, 0;
	if (s->nopt == SPEC_OPTS_MAX)
		return snprintf(err, n, "too many option fields"), -1;
	s->opt[s->nopt++] = f;
	return 0;
}

/* The options of s as a JSON object text (malloc'd), NULL if it has none;
 * *oom set when it has some but there was no memory. */
static char *spec_opts_json(const struct spec *s, int *oom)
{
	*oom = 0;
	if (!s->nopt)
		return NULL;
	struct buf b = BUF_INIT;
	int rc = buf_add(&b, "{", 1);
	for (int i = 0; i < s->nopt && !rc; i++) {
		char *v = msg_print(s->opt[i]);
		const char *k = msg_key(s->opt[i]);
		rc = !v || (i && buf_add(&b, ",", 1)) || buf_add_json_str(&b, k, strlen(k)) || buf_add(&b, ":", 1) ||
		     buf_adds(&b, v);
		free(v);
	}
	if (rc || buf_add(&b, "}", 1)) {
		buf_release(&b);
		return *oom = 1, NULL;
	}
	return b.p;
}

/* ---- the fields of a job object: one parser per wire name ---- */

typedef int (*field_fn)(struct spec *s, msg *f, char *err, size_t n);

static int bad(char *err, size_t n, const char *what) { return snprintf(err, n, "%s", what), -1; }

/* A number of seconds from 0 to 4e9 into *out. */
static int secs(msg *f, double *out, char *err, size_t n, const char *what)
{
	if (!msg_is_num(f) || !(msg_num(f) >= 0 && msg_num(f) <= 4e9))
		return bad(err, n, what);
	*out = msg_num(f);
	return 0;
}

/* "container": where an exec job runs (share/runtime.h); its runtime's
 * name is checked against the cluster's in container_admit. */
static int f_container(struct spec *s, msg *f, char *err, size_t n)
{
	return runtime_container_check(f, err, n) ? -1 : spec_opt(s, f, err, n);
}

static int f_crash_limit(struct spec *s, msg *f, char *err, size_t n)
{
	return jobs_is_int(f, 1, 255, &s->crash_limit) ? 0 : bad(err, n, "\"crash_limit\" must be an integer from 1 to 255");
}

static int f_cwd(struct spec *s, msg *f, char *err, size_t n)
{
	if (!msg_is_str(f))
		return bad(err, n, "\"cwd\" must be a string (an absolute directory)");
	s->cwd = msg_str(f);
	return 0;
}

static int f_delay(struct spec *s, msg *f, char *err, size_t n)
{
	return secs(f, &s->delay, err, n, "\"delay\" must be a number of seconds from 0 to 4e9");
}

static int f_deps(struct spec *s, msg *f, char *err, size_t n)
{
	if (!msg_is_array(f))
		return bad(err, n, "\"deps\" must be an array of job ids");
	s->deps = f;
	return 0;
}

static int f_env(struct spec *s, msg *f, char *err, size_t n)
{
	if (!msg_is_array(f))
		return bad(err, n, "\"env\" must be an array of \"K=V\" strings");
	for (msg *e = msg_child(f); e; e = msg_next(e))
		if (!msg_is_str(e) || !strchr(msg_str(e), '=') || msg_str(e)[0] == '=')
			return bad(err, n, "\"env\" must be an array of \"K=V\" strings");
	s->env = f;
	return 0;
}

static int f_envk(struct spec *s, msg *f, char *err, size_t n)
{
	if (!msg_is_str(f))
		return bad(err, n, "\"envk\" must be the key of an env message");
	s->envk = msg_str(f);
	return 0;
}

static int f_ext(struct spec *s, msg *f, char *err, size_t n)
{
	if (!msg_is_str(f) || !msg_str(f)[0] || strlen(msg_str(f)) > 200)
		return bad(err, n, "\"ext\" must be an external id of 1 to 200 characters");
	s->ext = msg_str(f);
	return 0;
}

static int is_commit_id(const char *c)
{
	size_t i = 0;
	while (c[i] && ((c[i] >= '0' && c[i] <= '9') || (c[i] >= 'a' && c[i] <= 'f') || (c[i] >= 'A' && c[i] <= 'F')))
		i++;
	return i == 40 && !c[i];
}

/* "git": {"url", "commit", "branch"?, "workdir"?, "setup"?} -- the checkout
 * an exec job runs in (docs/protocol.md). The commit is required here: a
 * submit naming only a branch was held until gitres.c wrote the branch's
 * commit in (once per submit), so every job of it runs the same version;
 * what reaches this without one came another way (a pipeline's stage). */
static int f_git(struct spec *s, msg *f, char *err, size_t n)
{
	static const char *const strs[] = {"url", "commit", "branch", "workdir", "setup"};
	if (!msg_is_object(f))
		return bad(err, n, "\"git\" must be an object {\"url\", \"commit\", \"workdir\", \"setup\"}");
	for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++) {
		const msg *v = msg_get(f, strs[i]);
		if (v && !msg_is_str(v))
			return snprintf(err, n, "\"git\": \"%s\" must be a string", strs[i]), -1;
	}
	const char *url = msg_get_str(f, "url"), *commit = msg_get_str(f, "commit"), *wd = msg_get_str(f, "workdir");
	if (!url || !*url)
		return bad(err, n, "\"git\" needs \"url\", the repository's URL");
	if (commit && !is_commit_id(commit))
		return bad(err, n, "\"git\": \"commit\" must be a full commit id (40 hexadecimal digits); for a "
			   "branch or tag give \"branch\"");
	if (!commit)
		return bad(err, n, "\"git\" needs \"commit\" here: a submit's branch is resolved at submit, a "
			   "pipeline stage's is not (give its commit)");
	if (wd && (wd[0] == '/' || strstr(wd, "..")))
		return bad(err, n, "\"git\": \"workdir\" must be a relative path inside the checkout");
	return spec_opt(s, f, err, n);
}

static int f_input(struct spec *s, msg *f, char *err, size_t n)
{
	(void)err, (void)n;
	s->input = f;
	return 0;
}

static int f_job(struct spec *s, msg *f, char *err, size_t n)
{
	if (!msg_is_object(f))
		return bad(err, n, "\"job\" must be an object");
	s->job = f;
	return 0;
}

static int f_jobtype(struct spec *s, msg *f, char *err, size_t n)
{
	if (!msg_is_str(f))
		return bad(err, n, "\"jobtype\" must be the name of a job type");
	s->jobtype = msg_str(f);
	return 0;
}

static int f_prio(struct spec *s, msg *f, char *err, size_t n)
{
	return jobs_is_int(f, INT32_MIN, INT32_MAX, &s->prio) ? 0 : bad(err, n, "\"prio\" must be an integer");
}

static int f_ranks(struct spec *s, msg *f, char *err, size_t n)
{
	return jobs_is_int(f, 1, 4096, &s->ranks) ? 0 : bad(err, n, "\"ranks\" must be a number of MPI ranks from 1 to 4096");
}

/* "res": the CPUs, GPUs and memory the job needs (mres.h); kept among the
 * options (the worker reads "pin" and "cpus" there) and, parsed, in the
 * mjob for the scheduler. A request of nothing is no request. */
static int f_res(struct spec *s, msg *f, char *err, size_t n)
{
	int pin;
	if (mres_parse(f, &s->res, &pin, err, n))
		return -1;
	s->has_res = s->res.cpus || s->res.gpus || s->res.mem_b;
	return spec_opt(s, f, err, n);
}

static int f_retries(struct spec *s, msg *f, char *err, size_t n)
{
	return jobs_is_int(f, 0, 10000, &s->retries) ? 0 : bad(err, n, "\"retries\" must be an integer from 0 to 10000");
}

static int f_target(struct spec *s, msg *f, char *err, size_t n)
{
	if (!msg_is_str(f))
		return bad(err, n, "\"target\" must be a string /path/lib.so:function");
	s->target = msg_str(f);
	return 0;
}

static int f_timeout(struct spec *s, msg *f, char *err, size_t n)
{
	return secs(f, &s->timeout, err, n, "\"timeout\" must be a number of seconds from 0 to 4e9");
}

static int f_treq(struct spec *s, msg *f, char *err, size_t n)
{
	return secs(f, &s->treq, err, n, "\"treq\" must be a number of seconds from 0 to 4e9");
}

static int f_type(struct spec *s, msg *f, char *err, size_t n)
{
	if (!msg_is_str(f))
		return bad(err, n, "\"type\" must be a string (" KNOWN_TYPES ")");
	s->type = msg_str(f);
	return 0;
}

/* The job object's fields (docs/protocol.md, "submit"), sorted by name
 * (nametab); a field not listed is ignored, as before. */
static const struct spec_field {
	const char *name;
	field_fn parse;
} spec_fields[] = {
	{"container", f_container}, {"crash_limit", f_crash_limit}, {"cwd", f_cwd},	  {"delay", f_delay},
	{"deps", f_deps},	    {"env", f_env},		    {"envk", f_envk},	  {"ext", f_ext},
	{"git", f_git},		    {"input", f_input},	    {"job", f_job},	  {"jobtype", f_jobtype},
	{"prio", f_prio},	    {"ranks", f_ranks},	    {"res", f_res},	  {"retries", f_retries},
	{"target", f_target},	    {"timeout", f_timeout},	    {"treq", f_treq},	  {"type", f_type},
};

size_t jobs_fields_check(void)
{
	return nametab_check(spec_fields, sizeof spec_fields / sizeof spec_fields[0], sizeof spec_fields[0]);
}

/* Read the fields of one job (or defaults) object over s. */
static int spec_parse(struct spec *s, const msg *o, char *err, size_t n)
{
	for (msg *f = msg_child(o); f; f = msg_next(f)) {
		const struct spec_field *sf = nametab_find(spec_fields, sizeof spec_fields / sizeof spec_fields[0],
							   sizeof spec_fields[0], msg_key(f));
		if (sf && sf->parse(s, f, err, n))
			return -1;
	}
	return 0;
}

/* Check a complete spec and fill the parts of a job that need no memory. */
static int spec_check(const struct spec *s, int *kind, char *err, size_t n)
{
	if (s->jobtype) {
		/* A typed job: the worker type of the workers serving it says
		 * how it runs; "type" and the executors' fields do not apply. */
		if (s->type || s->target || s->ranks > 1)
			return snprintf(err, n, "a job with \"jobtype\" has no \"type\", \"target\" or \"ranks\": "
					"its job type's workers decide how it runs"),
			       -1;
		*kind = MJOB_TYPED;
		return 0;
	}
	if (s->ext || s->job)
		return snprintf(err, n, "\"ext\" and \"job\" are for typed jobs (with \"jobtype\")"), -1;
	if (!s->type)
		return snprintf(err, n, "missing \"type\"; known types: " KNOWN_TYPES), -1;
	*kind = mjob_kind_parse(s->type);
	if (*kind < 0 || *kind == MJOB_TYPED)
		return snprintf(err, n, "unknown type \"%.60s\"; known types: " KNOWN_TYPES, s->type), -1;
	if (s->input && !msg_is_str(s->input) && *kind != MJOB_FUNC)
		return snprintf(err, n, "\"input\" must be a string"), -1;
	if (*kind == MJOB_EXEC && (!s->input || !msg_str(s->input)[0]))
		return snprintf(err, n, "exec needs \"input\": the command line"), -1;
	if (s->ranks > 1 && *kind != MJOB_EXEC)
		return snprintf(err, n, "\"ranks\" is for exec jobs (an MPI program started with srun or mpirun)"), -1;
	for (int i = 0; i < s->nopt; i++)
		if (!strcmp(msg_key(s->opt[i]), "git") && *kind != MJOB_EXEC)
			return snprintf(err, n, "\"git\" is for exec jobs (a command run in the checkout)"), -1;
	if (*kind == MJOB_FUNC) {
		if (!s->target)
			return snprintf(err, n, "func needs \"target\": /path/lib.so:function"), -1;
		const char *colon = strrchr(s->target, ':');
		if (!colon || colon == s->target || !colon[1])
			return snprintf(err, n, "func target \"%.200s\" must look like /path/lib.so:function",
					s->target),
			       -1;
	}
	return 0;
}

int jobs_spec_check(const msg *dflt, const msg *job, char *err, size_t n)
{
	struct spec d = {.retries = JOBS_RETRIES_DEFAULT}, s;
	int kind = -1;
	int64_t dep;
	if (dflt && !msg_is_object(dflt))
		return snprintf(err, n, "\"defaults\" must be an object"), -1;
	if (dflt && spec_parse(&d, dflt, err, n))
		return -1;
	s = d;
	if (!msg_is_object(job))
		return snprintf(err, n, "a job must be an object"), -1;
	if (spec_parse(&s, job, err, n) || spec_check(&s, &kind, err, n))
		return -1;
	for (msg *x = msg_child(s.deps); x; x = msg_next(x))
		if (!jobs_is_int(x, 1, INT64_MAX / 2, &dep))
			return snprintf(err, n, "\"deps\" must be an array of job ids"), -1;
	return kind;
}

struct batch {
	struct mjob **jobs;
	msg **deps;
	char **deps_text;
	const char **input;  /* each job's input text, for the store (borrowed or in input_owned) */
	char **input_owned;  /* a func job's non-string input, printed */
	size_t n;
	char *dflt_env;
	uint64_t held_b;     /* input bytes the batch's jobs keep in memory */
	size_t cap;          /* jobs the arrays hold */
	/* Typed jobs only (allocated with the first one): owner client,
	 * job type name and external id (borrowed), Job object text. */
	struct client **owner;
	const char **jtype, **ext;
	char **job_json;
	const struct jobtype **gw; /* an endpoint type: forwarded, not scheduled */
};

static void batch_free(struct batch *b, int free_jobs)
{
	for (size_t i = 0; i < b->n; i++) {
		if (free_jobs)
			mjob_free(b->jobs[i]);
		free(b->deps_text[i]);
		free(b->input_owned[i]);
	}
	for (size_t i = 0; b->job_json && i < b->n; i++)
		free(b->job_json[i]);
	free(b->owner);
	free(b->gw);
	free(b->jtype);
	free(b->ext);
	free(b->job_json);
	free(b->dflt_env);
	free(b->jobs);
	free(b->deps);
	free(b->deps_text);
	free(b->input);
	free(b->input_owned);
}

static int batch_alloc(struct batch *b, size_t n)
{
	memset(b, 0, sizeof *b);
	size_t k = n ? n : 1;
	b->cap = k;
	b->jobs = calloc(k, sizeof *b->jobs);
	b->deps = calloc(k, sizeof *b->deps);
	b->deps_text = calloc(k, sizeof *b->deps_text);
	b->input = calloc(k, sizeof *b->input);
	b->input_owned = calloc(k, sizeof *b->input_owned);
	return b->jobs && b->deps && b->deps_text && b->input && b->input_owned ? 0 : -1;
}

/* Where job i (id) of a batch starting at first is checked against the
 * cluster: its ranks fit a connected worker, its deps name earlier jobs,
 * its environment was sent. The environment's id in *env_id (looked up
 * once per run of jobs sharing a key: *envk_last). 0, or -1 with err. */
static int job_admit(struct master *ms, const struct spec *s, int kind, size_t i, int64_t id, int64_t first,
		     const char **envk_last, int64_t *env_id, char *err, size_t n)
{
	/* All ranks hold slots of one worker: with workers connected and none
	 * that large, the job could never start. Before any worker connected
	 * it cannot be judged and is accepted. */
	uint32_t most = s->ranks > 1 ? workers_max_slots(ms) : 0;
	if (most && s->ranks > (int64_t)most)
		return snprintf(err, n,
				"job %zu: \"ranks\" %lld is more than the %u slots of the largest connected worker "
				"(a multi-rank job holds its ranks' slots on one worker); start workers with "
				"--slots %lld or more",
				i, (long long)s->ranks, most, (long long)s->ranks),
		       -1;
	/* Resources, as ranks: refused when workers are connected and none
	 * could ever hold the request; judged later when none is. */
	char never[200];
	if (s->has_res && sched_res_never(&ms->sched, SCHED_POOL_ANY, &s->res, never, sizeof never) == 1)
		return snprintf(err, n,
				"job %zu: %s: no connected worker could ever run it; ask for less, or start "
				"workers that have it (mtslurm start --resource gpus=0,1,..., cpus=N, mem=SIZE)",
				i, never),
		       -1;
	for (msg *x = msg_child(s->deps); x; x = msg_next(x)) {
		int64_t dep;
		if (!jobs_is_int(x, 1, INT64_MAX / 2, &dep))
			return snprintf(err, n, "job %zu: \"deps\" must be an array of job ids", i), -1;
		if (dep < first && arrays_unmade(ms, dep) && arrays_make_upto(ms, dep))
			return snprintf(err, n, "job %zu: dependency %lld (a job array's member) could not be made", i,
					(long long)dep),
			       -1;
		if (dep >= id || (dep < first && !sched_find(&ms->sched, dep) && store_state(ms->store, dep) < 0))
			return snprintf(err, n, "job %zu: unknown dependency %lld (no earlier job has that id)", i,
					(long long)dep),
			       -1;
	}
	if (kind == MJOB_TYPED) {
		struct jobtype *t = types_job(ms, s->jobtype);
		if (!t)
			return snprintf(err, n, "job %zu: unknown job type \"%.64s\"; register it first (mtslurm type add)", i,
					s->jobtype),
			       -1;
		char why[500];
		if (types_validate(t, s->input, why, sizeof why))
			return snprintf(err, n, "job %zu: %s", i, why), -1;
		int64_t other = s->ext ? store_meta_find_ext(ms->store, s->ext) : 0;
		if (other > 0)
			return snprintf(err, n, "job %zu: external id \"%.64s\" is already job %lld", i, s->ext,
					(long long)other),
			       -1;
	}
	if (kind == MJOB_EXEC && s->envk && (!*envk_last || strcmp(*envk_last, s->envk) != 0)) {
		*env_id = store_env_find(ms->store, s->envk);
		*envk_last = s->envk;
		if (*env_id <= 0 || *env_id > UINT32_MAX)
			return snprintf(err, n,
					"job %zu: unknown environment \"%.64s\": send it in an env message on this "
					"connection first",
					i, s->envk),
			       -1;
	}
	return 0;
}

/* A container's runtime, when the job names one, must be a built-in or the
 * site's (RUN_DIR/runtimes.json, /etc/mtslurm/runtimes.json: the files
 * the workers read too); the files are looked at once per batch
 * (*refreshed). An image is not looked for here: it lives on the workers'
 * nodes, and the worker says when it is missing. 0, or -1 with err. */
static int container_admit(struct master *ms, const struct spec *s, int kind, size_t i, int *refreshed, char *err,
			   size_t n)
{
	const msg *c = NULL;
	for (int k = 0; k < s->nopt && !c; k++)
		if (strcmp(msg_key(s->opt[k]), "container") == 0)
			c = s->opt[k];
	if (!c)
		return 0;
	if (kind != MJOB_EXEC)
		return snprintf(err, n, "job %zu: \"container\" is for exec jobs (a command run inside the image)", i), -1;
	const char *name = msg_get_str(c, "runtime");
	if (!name)
		return 0;
	if (!ms->runtimes && !(ms->runtimes = runtimes_new(ms->cfg.run_dir, NULL)))
		return snprintf(err, n, "out of memory"), -1;
	char why[300];
	if (!*refreshed && runtimes_refresh(ms->runtimes, why, sizeof why))
		return snprintf(err, n, "job %zu: %s", i, why), -1;
	*refreshed = 1;
	if (runtimes_find(ms->runtimes, name))
		return 0;
	runtimes_names(ms->runtimes, why, sizeof why);
	return snprintf(err, n, "job %zu: unknown container runtime \"%.60s\"; known: %s (a site adds its own in "
			"RUN_DIR/runtimes.json)", i, name, why), -1;
}

/* The typed parts of job i: its owner (the job type's client, in the
 * type's pool), metadata for the store, the type's retries. */
static int typed_part(struct master *ms, struct batch *b, const struct spec *s, size_t i, struct mjob *j,
		      char *err, size_t n)
{
	size_t cap = b->cap;
	if (!b->owner) {
		b->owner = calloc(cap, sizeof *b->owner);
		b->jtype = calloc(cap, sizeof *b->jtype);
		b->ext = calloc(cap, sizeof *b->ext);
		b->job_json = calloc(cap, sizeof *b->job_json);
		b->gw = calloc(cap, sizeof *b->gw);
		if (!b->owner || !b->jtype || !b->ext || !b->job_json || !b->gw)
			return snprintf(err, n, "out of memory for job %zu", i), -1;
	}
	struct jobtype *t = types_job(ms, s->jobtype);
	/* A client already in the type's pool keeps its job: a pipeline's
	 * typed stage (pipeline.c), whose jobs feed the next stage when they
	 * end. Any other submitter's typed jobs belong to "@type:NAME". */
	struct client *o = j->client->pool && j->client->pool == t->pool && !t->endpoint
				   ? client_of(j->client)
				   : types_owner(ms, s->jobtype);
	if (!o || (s->job && !(b->job_json[i] = msg_print(s->job))))
		return snprintf(err, n, "out of memory for job %zu", i), -1;
	b->owner[i] = o;
	b->gw[i] = t->endpoint ? t : NULL;
	b->jtype[i] = t->name;
	b->ext[i] = s->ext;
	j->client = &o->sc;
	if (t->retries >= 0)
		j->retries = (uint16_t)t->retries;
	if (t->timeout_s > 0 && !s->timeout)
		j->timeout_s = t->timeout_s;
	return 0;
}

/* The job i of b from its spec s (defaults d), with its input held in
 * memory or left to the store (master_holds_input). 0, or -1 with err. */
static int job_build(struct master *ms, struct client *c, struct batch *b, const struct spec *s,
		     const struct spec *d, int kind, size_t i, int64_t id, int64_t env_id, char *err, size_t n)
{
	const char *input = "";
	if (kind == MJOB_TYPED) /* a payload: always JSON text */
		input = b->input_owned[i] = s->input ? msg_print(s->input) : strdup("{}");
	else if (s->input)
		input = msg_is_str(s->input) ? msg_str(s->input) : (b->input_owned[i] = msg_print(s->input));
	if (!input) {
		b->n = i + 1;
		return snprintf(err, n, "out of memory for job %zu", i), -1;
	}
	size_t input_len = strlen(input);
	int hold = master_holds_input(ms, input_len, b->held_b);
	char *env_owned = NULL;
	const char *env = NULL;
	if (s->env)
		env = s->env == d->env ? b->dflt_env : (env_owned = msg_print(s->env));
	int oom = 0;
	char *opts = spec_opts_json(s, &oom);
	struct mjob *j = oom ? NULL
			     : mjob_new_res(hold ? input : NULL, hold ? input_len : 0, kind == MJOB_FUNC ? s->target : NULL,
					    kind == MJOB_EXEC ? s->cwd : NULL, kind == MJOB_EXEC ? env : NULL,
					    kind == MJOB_EXEC && s->envk ? (uint32_t)env_id : 0, opts,
					    s->has_res ? &s->res : NULL);
	free(env_owned);
	free(opts);
	b->input[i] = input;
	b->n = i + 1;
	if (!j)
		return snprintf(err, n, "out of memory for job %zu", i), -1;
	if (hold)
		b->held_b += input_len;
	else
		j->flags |= MJOB_F_STORED;
	j->id = id;
	j->kind = (uint8_t)kind;
	j->client = &c->sc;
	j->delay_s = kind == MJOB_ECHO ? s->delay : 0;
	j->timeout_s = s->timeout;
	j->treq = (uint32_t)(s->treq + 0.999);
	j->ranks = (uint16_t)(s->ranks > 1 ? s->ranks : 0);
	j->prio = (int32_t)s->prio;
	j->retries = (uint16_t)s->retries;
	j->crash_limit = (uint8_t)(s->crash_limit ? s->crash_limit : 1);
	b->jobs[i] = j;
	if (kind == MJOB_TYPED && typed_part(ms, b, s, i, j, err, n))
		return -1;
	if (msg_size(s->deps)) {
		b->deps[i] = s->deps;
		b->deps_text[i] = msg_print(s->deps);
	}
	return 0;
}

/* Every job of a batch that passed its checks: stored and scheduled; one
 * whose dependency already failed fails at once. */
static void batch_commit(struct master *ms, struct client *c, struct batch *b, double now)
{
	char why[64];
	for (size_t i = 0; i < b->n; i++) {
		struct mjob *j = b->jobs[i];
		const char *cid = c->cid;
		if (b->owner && b->owner[i]) {
			cid = b->owner[i]->cid;
			/* ext was checked unique (job_admit, batch_ext_unique):
			 * only a failing store refuses it now */
			if (store_meta_add(ms->store, j->id, b->ext[i], b->jtype[i], b->job_json[i]))
				log_error("job %lld: its typed job's metadata was not stored: %s", (long long)j->id,
					  store_errmsg(ms->store));
		}
		store_insert(ms->store, j, b->input[i], strlen(b->input[i]), cid, b->deps_text[i], now);
		if (b->gw && b->gw[i]) {
			/* Sent in the turn that stores it; the answer, in a
			 * later turn, is recorded after it. */
			gateway_forward(ms, b->gw[i], j->id, b->job_json[i] ? b->job_json[i] : b->input[i], NULL);
			mjob_free(j);
			continue;
		}
		int64_t failed_dep = 0;
		for (msg *x = msg_child(b->deps[i]); x; x = msg_next(x)) {
			int64_t dep = msg_int(x);
			if (sched_wait_for(&ms->sched, j, dep) == 0)
				continue;
			if (store_state(ms->store, dep) != MJOB_COMPLETED && !failed_dep)
				failed_dep = dep;
		}
		if (sched_add(&ms->sched, j)) {
			store_finish(ms->store, j->id, MJOB_FAILED, 0, NULL, 0, NULL, 0, "out of memory in the master", 0, 0,
				     now);
			mjob_free(j);
			continue;
		}
		if (failed_dep) {
			snprintf(why, sizeof why, "dependency %lld failed", (long long)failed_dep);
			jobs_finalize(ms, j, MJOB_FAILED, NULL, 0, why, 0, 0);
		}
	}
}


struct ext_at {
	const char *ext;
	size_t i; /* the job's index in its batch */
};

static int ext_cmp(const void *a, const void *b)
{
	const struct ext_at *x = a, *y = b;
	int d = strcmp(x->ext, y->ext);
	return d ? d : (x->i > y->i) - (x->i < y->i);
}

/* An external id names one job: job_admit checked each one against the
 * store, this checks them against each other before anything is stored
 * (the second would otherwise be stored without its jobmeta row, whose ext
 * is UNIQUE, and run as a job of its own). The wire's answer gives job i
 * the id first + i, so a duplicate cannot be answered as a resubmission of
 * the first: the batch is refused, naming the lowest duplicate. Sorted, so
 * n typed jobs cost n log n. 0, or a negated JOBS_E* with err. */
static int batch_ext_unique(const struct batch *b, char *err, size_t n)
{
	if (!b->ext || b->n < 2)
		return 0;
	struct ext_at *v = malloc(b->n * sizeof *v);
	size_t k = 0, run = 0, dup = SIZE_MAX, orig = 0;
	if (!v)
		return snprintf(err, n, "out of memory for a batch of %zu jobs", b->n), -JOBS_EBUSY;
	for (size_t i = 0; i < b->n; i++)
		if (b->ext[i])
			v[k++] = (struct ext_at){b->ext[i], i};
	qsort(v, k, sizeof *v, ext_cmp);
	for (size_t j = 1; j < k; j++) {
		if (strcmp(v[j].ext, v[run].ext) != 0)
			run = j; /* the first job of a run of equal ids: the one kept */
		else if (v[j].i < dup)
			dup = v[j].i, orig = v[run].i;
	}
	free(v);
	if (dup == SIZE_MAX)
		return 0;
	return snprintf(err, n,
			"job %zu: external id \"%.64s\" is job %zu of this batch already; an external id names one "
			"job",
			dup, b->ext[dup], orig),
	       -JOBS_EBAD;
}

int jobs_admit(struct master *ms, struct client *c, const msg *jobs, const msg *dflt, int64_t *first_out,
	       char *err, size_t errlen)
{
	int64_t first = ms->next_id;
	int rc = jobs_admit_at(ms, c, jobs, dflt, first, err, errlen);
	if (rc == 0) {
		ms->next_id += (int64_t)msg_size(jobs);
		*first_out = first;
	}
	return rc;
}

int jobs_admit_at(struct master *ms, struct client *c, const msg *jobs, const msg *dflt, int64_t first,
		  char *err, size_t errlen)
{
	char why[300];
	if (!msg_is_array(jobs))
		return snprintf(err, errlen, "submit needs \"jobs\": an array of job objects"), -JOBS_EBAD;
	struct spec d = {.retries = JOBS_RETRIES_DEFAULT};
	if (dflt && (!msg_is_object(dflt) || spec_parse(&d, dflt, why, sizeof why)))
		return snprintf(err, errlen, "defaults: %s", msg_is_object(dflt) ? why : "must be an object"),
		       -JOBS_EBAD;
	size_t n = msg_size(jobs);
	struct batch b;
	if (batch_alloc(&b, n)) {
		batch_free(&b, 1);
		return snprintf(err, errlen, "out of memory for a batch of %zu jobs", n), -JOBS_EBUSY;
	}
	if (d.env)
		b.dflt_env = msg_print(d.env);
	int64_t env_id = 0;
	const char *envk_last = NULL; /* jobs of a frame mostly share one snapshot */
	int rt_refreshed = 0;
	size_t i = 0;
	for (msg *e = msg_child(jobs); e; e = msg_next(e), i++) {
		struct spec s = d;
		int kind = 0;
		int64_t id = first + (int64_t)i;
		if (!msg_is_object(e)) {
			snprintf(err, errlen, "job %zu: not an object", i);
			goto refuse;
		}
		if (spec_parse(&s, e, why, sizeof why) || spec_check(&s, &kind, why, sizeof why)) {
			snprintf(err, errlen, "job %zu: %s", i, why);
			goto refuse;
		}
		if (job_admit(ms, &s, kind, i, id, first, &envk_last, &env_id, err, errlen) ||
		    container_admit(ms, &s, kind, i, &rt_refreshed, err, errlen) ||
		    job_build(ms, c, &b, &s, &d, kind, i, id, env_id, err, errlen))
			goto refuse;
	}
	int rc = batch_ext_unique(&b, err, errlen);
	if (rc) {
		batch_free(&b, 1);
		return rc;
	}
	batch_commit(ms, c, &b, master_job_now(ms));
	batch_free(&b, 0);
	return 0;
refuse:
	batch_free(&b, 1);
	return -JOBS_EBAD;
}

/* ---- cancel ---- */

static void revoke_cancel(struct mjob *j)
{
	if (j->where != MJOB_ASSIGNED || !j->worker)
		return;
	struct wrk *w = wrk_of(j->worker);
	if (!w->peer || fbuf_item(&w->revoke_cancel))
		return;
	buf_addf(&w->revoke_cancel.b, "%lld", (long long)j->id);
	workers_dirty(w);
}

static void cancel_all_one(void *arg, struct mjob *j)
{
	struct master *m = arg;
	revoke_cancel(j);
	const char *wid = j->worker ? wrk_of(j->worker)->wid : NULL;
	clients_result(client_of(j->client), j, MJOB_CANCELLED, wid, NULL, 0, "cancelled", 0, 0);
	m->counts[MJOB_CANCELLED]++;
}


int jobs_cancel(struct master *ms, int64_t id)
{
	/* a member of a job array without a row yet gets one first */
	if (arrays_unmade(ms, id))
		arrays_make_upto(ms, id);
	struct mjob *j = sched_find(&ms->sched, id);
	if (j) {
		revoke_cancel(j);
		jobs_finalize(ms, j, MJOB_CANCELLED, NULL, 0, "cancelled", 0, 0);
		return 1;
	}
	return id > 0 && id < ms->next_id && store_state(ms->store, id) >= 0 ? 0 : -1;
}

int64_t jobs_cancel_all(struct master *ms, char *err, size_t errlen)
{
	uint64_t t0 = util_mono_ns();
	/* Only a mark goes to the store now; the rows are rewritten a chunk
	 * per turn (on_check), so dispatch never stalls. */
	if (store_cancel_all(ms->store, master_job_now(ms), ms->next_id, (int64_t)ms->sched.nlive))
		return snprintf(err, errlen, "cancel failed: %s", store_errmsg(ms->store)), -1;
	int64_t n = (int64_t)sched_cancel_all(&ms->sched, cancel_all_one, ms);
	n += arrays_cancel_all(ms);
	for (size_t i = 0; i < ms->ctab_size; i++) {
		struct client *c = ms->ctab[i];
		while (c) {
			struct client *next = c->hnext;
			clients_maybe_free(c);
			c = next;
		}
	}
	log_info("cancelled all %lld unfinished jobs in %.3f s", (long long)n, (double)(util_mono_ns() - t0) / 1e9);
	return n;
}

/* ---- final states ---- */

void jobs_finalize(struct master *m, struct mjob *j, int state, const char *output,
		     size_t output_len, const char *error, int rc_set, int rc)
{
	const char *wid = j->worker ? wrk_of(j->worker)->wid : m->lost_wid;
	double now = master_job_now(m); /* first: the start is read on the same anchor */
	double started = j->where == MJOB_ASSIGNED ? workers_started_at(m, j) : 0;
	if (store_finish(m->store, j->id, state, j->attempts, j->worker ? wid : NULL, started, output, output_len,
			 error, rc_set, rc, now))
		log_error("cannot record the end of job %lld: %s", (long long)j->id, store_errmsg(m->store));
	m->counts[state]++;
	/* A typed job that failed waits in the dead-letter queue. */
	if (j->kind == MJOB_TYPED && state == MJOB_FAILED && store_dlq_add(m->store, j->id, now) < 0)
		log_error("cannot put job %lld into the dead-letter queue: %s", (long long)j->id, store_errmsg(m->store));
	struct client *c = client_of(j->client);
	clients_result(c, j, state, wid, output, output_len, error, rc_set, rc);
	/* sched_finish may finalize j's dependents (on_fail -> here again),
	 * which may be the last jobs of a disconnected client -- this same c:
	 * the inner frame must not free it under this one. */
	c->holds++;
	int64_t id = j->id;
	sched_finish(&m->sched, j, state);
	/* A pipeline stage's job feeds the next stage, in this same turn's
	 * transaction as the row above (pipeline.h). */
	if (c->cid[0] == '@')
		pipeline_job_final(m, c, id, state, output, output_len);
	c->holds--;
	clients_maybe_free(c);
}


int64_t jobs_record_error(struct master *m, const char *ext, const char *jtype, const char *job_json,
			  const char *payload, const char *why)
{
	struct client *o = types_owner(m, jtype);
	struct mjob *j = o ? mjob_new(NULL, 0, NULL, NULL, NULL, 0, NULL) : NULL;
	if (!j)
		return -1;
	int64_t id = m->next_id;
	j->id = id;
	j->kind = MJOB_TYPED;
	j->client = &o->sc;
	double now = master_job_now(m);
	msg *out = msg_new_object(), *e = msg_new_object();
	msg_set_str(out, "status", "error");
	msg_set_str(e, "error", why);
	msg_add(out, "output", e);
	char *text = msg_print(out);
	msg_free(out);
	int rc = store_meta_add(m->store, id, ext, jtype, job_json);
	if (rc == 0)
		rc = store_insert(m->store, j, payload ? payload : "{}", payload ? strlen(payload) : 2, o->cid, NULL, now);
	if (rc == 0)
		rc = store_finish(m->store, id, MJOB_FAILED, 0, NULL, 0, text, text ? strlen(text) : 0, why, 0, 0, now);
	free(text);
	mjob_free(j);
	clients_maybe_free(o);
	if (rc)
		return -1;
	m->next_id++;
	m->counts[MJOB_FAILED]++;
	return id;
}
