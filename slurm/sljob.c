/* SPDX-License-Identifier: MIT */
/*
 * sljob: submit, look up and cancel Slurm batch jobs with libslurm. See
 * sljob.h. libslurm has no parser for sbatch's options (sbatch does that
 * itself), so the options users give are mapped onto job_desc_msg_t here.
 */
#include "sljob.h"

#include "batch.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include <slurm/slurm.h>
#include <slurm/slurm_errno.h>

/* Exported by libslurm (its own commands use them) but not declared in
 * slurm.h. */
extern char *slurm_job_state_string(uint32_t inx);
extern char *slurm_job_reason_string(enum job_state_reason inx);

/* libslurm prints its own errors ("error: invalid partition specified")
 * on stderr; we return them instead. Its log_options_t is private: in
 * 22.05 three level enums and three bools, 16 bytes, and all-zero means
 * every output quiet whatever the order of the fields. */
struct quiet_log_opts {
	int level[3];
	_Bool flag[3];
};
extern int slurm_log_init(char *argv0, struct quiet_log_opts opts, int facility, char *logfile);

extern char **environ;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int inited;

static void say(char *err, size_t n, const char *what)
{
	int e = slurm_get_errno();
	snprintf(err, n, "%s: %s", what, e ? slurm_strerror(e) : "no reason given");
}

/* ---- parsing ---- */

long sljob_parse_time(const char *s)
{
	if (!s || !*s)
		return -1;
	if (strcmp(s, "infinite") == 0 || strcmp(s, "UNLIMITED") == 0 || strcmp(s, "unlimited") == 0)
		return (long)INFINITE;
	long total = batch_walltime_s(s); /* the table's one parser of these forms */
	if (total < 0 || total / 60 > 365L * 24 * 60 * 10)
		return -1;
	return (total + 59) / 60;
}

long sljob_parse_mem(const char *s)
{
	if (!s || !*s)
		return -1;
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s || v < 0)
		return -1;
	double mb;
	switch (toupper((unsigned char)*end)) {
	case '\0':
	case 'M': mb = v; break;
	case 'K': mb = v / 1024; break;
	case 'G': mb = v * 1024; break;
	case 'T': mb = v * 1024 * 1024; break;
	default: return -1;
	}
	if (*end && end[1] && !(toupper((unsigned char)end[1]) == 'B' && !end[2]))
		return -1;
	if (mb > (double)LONG_MAX / 2)
		return -1;
	return (long)(mb + 0.999);
}

/* ---- configuration ---- */

static const char *conf_file(void)
{
	const char *e = getenv("SLURM_CONF");
	if (e && *e)
		return e;
	struct stat st;
	if (stat("/etc/slurm/slurm.conf", &st) == 0)
		return "/etc/slurm/slurm.conf";
	if (stat("/run/slurm/conf/slurm.conf", &st) == 0) /* slurmd's configless cache */
		return "/run/slurm/conf/slurm.conf";
	return NULL;
}

int sljob_configured(void)
{
	return conf_file() != NULL;
}

/* Caller holds lock. */
static int ensure_init(char *err, size_t n)
{
	if (inited)
		return 0;
	const char *conf = conf_file();
	struct stat st;
	if (!conf || stat(conf, &st) != 0) {
		snprintf(err, n,
			 "no Slurm configuration found (%s%s); this does not look like a Slurm cluster: "
			 "use --local to run on this machine",
			 conf ? "SLURM_CONF=" : "SLURM_CONF unset, no /etc/slurm/slurm.conf",
			 conf ? conf : "");
		return -1;
	}
	slurm_init(NULL);
	struct quiet_log_opts quiet;
	memset(&quiet, 0, sizeof quiet);
	slurm_log_init("mtslurm", quiet, LOG_USER, NULL);
	inited = 1;
	return 0;
}

int sljob_available(char *err, size_t errlen)
{
	pthread_mutex_lock(&lock);
	int rc = ensure_init(err, errlen);
	if (rc == 0 && slurm_ping(0) != SLURM_SUCCESS) {
		int e = slurm_get_errno();
		snprintf(err, errlen,
			 "cannot reach slurmctld (%s); is Slurm running here? use --local to run on this machine",
			 e ? slurm_strerror(e) : "no answer");
		rc = -1;
	}
	pthread_mutex_unlock(&lock);
	return rc;
}

/* ---- submit ---- */

struct extra_opt {
	const char *name;
	int takes_value;
};

static const struct extra_opt extras[] = {
	{"--reservation", 1}, {"--nodelist", 1}, {"--exclude", 1},   {"--exclusive", 0},
	{"--licenses", 1},    {"--comment", 1},  {"--mem-per-cpu", 1}, {"--dependency", 1},
	{"--wckey", 1},       {"--nice", 1},     {"--requeue", 0},   {"--no-requeue", 0},
	{"--gpus", 1},        {"--begin", 1},    {NULL, 0}};

const char *sljob_extra_names(void)
{
	return "--reservation, --nodelist, --exclude, --exclusive, --licenses, --comment, --mem-per-cpu, "
	       "--dependency, --wckey, --nice, --requeue, --no-requeue, --gpus";
}

/* Strings made for the job description, freed after the submit. */
struct owned {
	char *p[16];
	int n;
};

static char *keep(struct owned *o, char *s)
{
	if (s && o->n < 16)
		o->p[o->n++] = s;
	return s;
}

static int apply_extra(job_desc_msg_t *d, const char *arg, struct owned *o, char *err, size_t n)
{
	const char *eq = strchr(arg, '=');
	size_t nl = eq ? (size_t)(eq - arg) : strlen(arg);
	const struct extra_opt *x = NULL;
	for (int i = 0; extras[i].name; i++)
		if (strlen(extras[i].name) == nl && strncmp(extras[i].name, arg, nl) == 0)
			x = &extras[i];
	if (!x) {
		snprintf(err, n, "--sbatch-arg %s: not supported (mtslurm submits through libslurm, which takes "
				 "no sbatch options); supported: %s",
			 arg, sljob_extra_names());
		return -1;
	}
	if (x->takes_value && (!eq || !eq[1])) {
		snprintf(err, n, "--sbatch-arg %s needs a value: %.*s=VALUE", arg, (int)nl, arg);
		return -1;
	}
	if (!x->takes_value && eq) {
		snprintf(err, n, "--sbatch-arg %s takes no value", arg);
		return -1;
	}
	const char *v = eq ? eq + 1 : NULL;
	char *vs = v ? keep(o, strdup(v)) : NULL;
	if (v && !vs) {
		snprintf(err, n, "out of memory");
		return -1;
	}
	const char *name = x->name;
	if (strcmp(name, "--reservation") == 0) {
		d->reservation = vs;
	} else if (strcmp(name, "--nodelist") == 0) {
		d->req_nodes = vs;
	} else if (strcmp(name, "--exclude") == 0) {
		d->exc_nodes = vs;
	} else if (strcmp(name, "--exclusive") == 0) {
		d->shared = JOB_SHARED_NONE;
	} else if (strcmp(name, "--licenses") == 0) {
		d->licenses = vs;
	} else if (strcmp(name, "--comment") == 0) {
		d->comment = vs;
	} else if (strcmp(name, "--mem-per-cpu") == 0) {
		long mb = sljob_parse_mem(v);
		if (mb < 0) {
			snprintf(err, n, "--sbatch-arg %s: not a memory size (like 2G or 500M)", arg);
			return -1;
		}
		d->pn_min_memory = (uint64_t)mb | MEM_PER_CPU;
	} else if (strcmp(name, "--dependency") == 0) {
		d->dependency = vs;
	} else if (strcmp(name, "--wckey") == 0) {
		d->wckey = vs;
	} else if (strcmp(name, "--nice") == 0) {
		char *end;
		long nv = strtol(v, &end, 10);
		if (*end || nv < -(long)NICE_OFFSET + 3 || nv > (long)NICE_OFFSET - 3) {
			snprintf(err, n, "--sbatch-arg %s: not a nice value", arg);
			return -1;
		}
		d->nice = (uint32_t)(NICE_OFFSET + nv);
	} else if (strcmp(name, "--requeue") == 0) {
		d->requeue = 1;
	} else if (strcmp(name, "--no-requeue") == 0) {
		d->requeue = 0;
	} else if (strcmp(name, "--gpus") == 0) {
		char *t = NULL;
		if (asprintf(&t, "gres:gpu:%s", v) < 0)
			t = NULL;
		d->tres_per_job = keep(o, t);
	} else if (strcmp(name, "--begin") == 0) {
		snprintf(err, n, "--sbatch-arg --begin is not supported; submit later instead");
		return -1;
	}
	return 0;
}

/* "gpu:1,mps:10" -> "gres:gpu:1,gres:mps:10", as sbatch does. */
static char *gres_tres(const char *g)
{
	size_t len = strlen(g), cap = len * 2 + 8;
	char *out = malloc(cap), *w = out;
	if (!out)
		return NULL;
	const char *p = g;
	while (*p) {
		size_t k = strcspn(p, ",");
		if (w != out)
			*w++ = ',';
		if (strncmp(p, "gres:", 5) != 0) {
			memcpy(w, "gres:", 5);
			w += 5;
		}
		memcpy(w, p, k);
		w += k;
		p += k;
		if (*p == ',')
			p++;
	}
	*w = '\0';
	return out;
}

/* The job's memory, time limit and generic resources into d (strings it
 * makes are kept in o). 0, or -1 with err. */
static int desc_limits(job_desc_msg_t *d, const struct sljob_spec *s, struct owned *o, char *err, size_t errlen)
{
	if (s->gres && *s->gres && !(d->tres_per_node = keep(o, gres_tres(s->gres))))
		return snprintf(err, errlen, "out of memory"), -1;
	if (s->mem) {
		long mb = sljob_parse_mem(s->mem);
		if (mb < 0)
			return snprintf(err, errlen, "--mem %s: not a memory size (like 4G, 500M or 4000)", s->mem), -1;
		d->pn_min_memory = (uint64_t)mb;
	}
	if (s->time) {
		long mins = sljob_parse_time(s->time);
		if (mins < 0)
			return snprintf(err, errlen,
					"--time %s: not a Slurm time limit (MM, MM:SS, HH:MM:SS, D-HH, D-HH:MM:SS)",
					s->time),
			       -1;
		d->time_limit = (uint32_t)mins;
	}
	return 0;
}

/* A submit that failed with Slurm error e may work later: slurmctld was
 * unreachable, busy or timed out (not a refusal of the job itself). */
static int may_work_later(int e)
{
	return e == SLURM_COMMUNICATIONS_CONNECTION_ERROR || e == SLURM_COMMUNICATIONS_SEND_ERROR ||
	       e == SLURM_COMMUNICATIONS_RECEIVE_ERROR || e == SLURM_COMMUNICATIONS_SHUTDOWN_ERROR ||
	       e == SLURMCTLD_COMMUNICATIONS_CONNECTION_ERROR || e == SLURMCTLD_COMMUNICATIONS_SEND_ERROR ||
	       e == SLURMCTLD_COMMUNICATIONS_RECEIVE_ERROR || e == SLURMCTLD_COMMUNICATIONS_SHUTDOWN_ERROR ||
	       e == SLURM_PROTOCOL_SOCKET_IMPL_TIMEOUT || e == EAGAIN || e == ESLURM_ERROR_ON_DESC_TO_RECORD_COPY;
}

int sljob_submit(const struct sljob_spec *s, uint32_t *id, char *err, size_t errlen)
{
	if (!s->script || !s->work_dir) {
		snprintf(err, errlen, "a Slurm job needs a script and a working directory");
		return -1;
	}
	job_desc_msg_t d;
	struct owned o = {{0}, 0};
	int rc = -1;
	pthread_mutex_lock(&lock);
	if (ensure_init(err, errlen))
		goto out;
	slurm_init_job_desc_msg(&d);
	d.name = (char *)(s->name ? s->name : "mtslurm");
	d.partition = (char *)s->partition;
	d.account = (char *)s->account;
	d.qos = (char *)s->qos;
	d.features = (char *)s->constraint;
	if (desc_limits(&d, s, &o, err, errlen))
		goto out;
	if (s->nodes)
		d.min_nodes = s->nodes;
	d.num_tasks = s->ntasks ? s->ntasks : 1;
	if (s->ntasks_per_node)
		d.ntasks_per_node = (uint16_t)s->ntasks_per_node;
	if (s->cpus_per_task)
		d.cpus_per_task = (uint16_t)s->cpus_per_task;
	/* sbatch asks for this many CPUs; without it Slurm gives one */
	d.min_cpus = d.num_tasks * (s->cpus_per_task ? s->cpus_per_task : 1);
	d.work_dir = (char *)s->work_dir;
	d.std_out = (char *)(s->out_path ? s->out_path : "/dev/null");
	d.script = (char *)s->script;
	char **env = s->env ? s->env : environ;
	uint32_t ne = 0;
	while (env[ne])
		ne++;
	d.environment = env;
	d.env_size = ne;
	d.user_id = getuid();
	d.group_id = getgid();
	if (s->warn_signal > 0) {
		d.warn_signal = (uint16_t)s->warn_signal;
		d.warn_time = (uint16_t)(s->warn_time > 0 ? s->warn_time : 60);
	}
	for (size_t i = 0; i < s->nextra; i++)
		if (apply_extra(&d, s->extra[i], &o, err, errlen))
			goto out;
	submit_response_msg_t *resp = NULL;
	if (slurm_submit_batch_job(&d, &resp) != SLURM_SUCCESS || !resp) {
		if (may_work_later(slurm_get_errno())) {
			say(err, errlen, "Slurm did not take the job (try again later)");
			rc = -2;
		} else {
			say(err, errlen, "Slurm refused the job");
		}
		goto out;
	}
	*id = resp->job_id;
	slurm_free_submit_response_response_msg(resp);
	rc = 0;
out:
	pthread_mutex_unlock(&lock);
	for (int i = 0; i < o.n; i++)
		free(o.p[i]);
	return rc;
}

/* ---- query, cancel ---- */

int sljob_query(uint32_t id, struct sljob_info *info, char *err, size_t errlen)
{
	memset(info, 0, sizeof *info);
	pthread_mutex_lock(&lock);
	int rc = -1;
	if (ensure_init(err, errlen))
		goto out;
	job_info_msg_t *m = NULL;
	if (slurm_load_job(&m, id, SHOW_DETAIL) != SLURM_SUCCESS) {
		if (slurm_get_errno() == ESLURM_INVALID_JOB_ID) {
			info->state = SLJOB_UNKNOWN;
			snprintf(info->state_name, sizeof info->state_name, "UNKNOWN");
			rc = 0;
		} else {
			char what[64];
			snprintf(what, sizeof what, "cannot look up Slurm job %u", id);
			say(err, errlen, what);
		}
		goto out;
	}
	if (!m || m->record_count == 0) {
		info->state = SLJOB_UNKNOWN;
		snprintf(info->state_name, sizeof info->state_name, "UNKNOWN");
	} else {
		slurm_job_info_t *j = &m->job_array[0];
		uint32_t base = j->job_state & JOB_STATE_BASE;
		info->state = base == JOB_PENDING ? SLJOB_PENDING
			      : base == JOB_RUNNING || base == JOB_SUSPENDED ? SLJOB_RUNNING
			      : j->job_state & JOB_COMPLETING ? SLJOB_ENDING
								: SLJOB_ENDED;
		snprintf(info->state_name, sizeof info->state_name, "%s",
			 slurm_job_state_string(j->job_state & JOB_STATE_BASE));
		if (j->state_desc && *j->state_desc)
			snprintf(info->reason, sizeof info->reason, "%s", j->state_desc);
		else if (j->state_reason != WAIT_NO_REASON)
			snprintf(info->reason, sizeof info->reason, "%s",
				 slurm_job_reason_string((enum job_state_reason)j->state_reason));
		if (j->nodes)
			snprintf(info->nodes, sizeof info->nodes, "%s", j->nodes);
		info->ntasks = j->num_tasks;
		info->nnodes = j->num_nodes;
		info->start = j->start_time;
		info->end = j->end_time;
		info->time_limit = j->time_limit == INFINITE || j->time_limit == NO_VAL ? 0 : j->time_limit;
	}
	slurm_free_job_info_msg(m);
	rc = 0;
out:
	pthread_mutex_unlock(&lock);
	return rc;
}

int sljob_cancel(uint32_t id, char *err, size_t errlen)
{
	pthread_mutex_lock(&lock);
	int rc = -1;
	if (ensure_init(err, errlen))
		goto out;
	if (slurm_kill_job(id, SIGKILL, 0) == SLURM_SUCCESS) {
		rc = 0;
	} else {
		int e = slurm_get_errno();
		if (e == ESLURM_ALREADY_DONE || e == ESLURM_INVALID_JOB_ID) {
			rc = 0;
		} else {
			char what[64];
			snprintf(what, sizeof what, "cannot cancel Slurm job %u", id);
			say(err, errlen, what);
		}
	}
out:
	pthread_mutex_unlock(&lock);
	return rc;
}

/* ---- the batch table's Slurm entry ---- */

/* A Slurm job id: all digits, non-zero, fits 32 bits. */
static int parse_id(const char *s, uint32_t *id, char *err, size_t n)
{
	char *end;
	errno = 0;
	unsigned long v = s && isdigit((unsigned char)*s) ? strtoul(s, &end, 10) : 0;
	if (!v || errno || *end || v > UINT32_MAX) {
		snprintf(err, n, "'%.64s' is not a Slurm job id", s ? s : "");
		return -1;
	}
	*id = (uint32_t)v;
	return 0;
}

/* The one batch_spec field Slurm has no use for: PBS's select statement. */
static int slurm_check(const struct batch_spec *b, char *err, size_t errlen)
{
	if (!b->select)
		return 0;
	snprintf(err, errlen, "--select is PBS's (--backend pbs); with Slurm give --nodes, --ntasks-per-node, "
		 "--cpus-per-task, --mem, --gres or --constraint instead");
	return -1;
}

static int slurm_submit(const struct batch_spec *b, char id[BATCH_ID_MAX], char *err, size_t errlen)
{
	if (slurm_check(b, err, errlen))
		return -1;
	struct sljob_spec s = {
		.name = b->name, .partition = b->queue, .account = b->account, .qos = b->qos,
		.constraint = b->constraint, .gres = b->gres, .mem = b->mem, .time = b->walltime,
		.nodes = b->nodes, .ntasks = b->ntasks, .ntasks_per_node = b->ntasks_per_node,
		.cpus_per_task = b->cpus_per_task, .work_dir = b->work_dir, .out_path = b->out_path,
		.script = b->script, .env = b->env, .warn_signal = b->warn_signal, .warn_time = b->warn_time_s,
		.extra = b->extra, .nextra = b->nextra,
	};
	uint32_t n = 0;
	int rc = sljob_submit(&s, &n, err, errlen);
	if (rc == 0)
		snprintf(id, BATCH_ID_MAX, "%u", n);
	return rc;
}

static int slurm_query(const char *id, struct batch_info *info, char *err, size_t errlen)
{
	uint32_t n;
	struct sljob_info in;
	memset(info, 0, sizeof *info);
	if (parse_id(id, &n, err, errlen) || sljob_query(n, &in, err, errlen))
		return -1;
	static const enum batch_state states[] = {
		[SLJOB_PENDING] = BATCH_PENDING, [SLJOB_RUNNING] = BATCH_RUNNING, [SLJOB_ENDING] = BATCH_ENDING,
		[SLJOB_ENDED] = BATCH_ENDED,     [SLJOB_UNKNOWN] = BATCH_UNKNOWN,
	};
	info->state = states[in.state];
	memcpy(info->state_name, in.state_name, sizeof info->state_name);
	memcpy(info->reason, in.reason, sizeof info->reason);
	memcpy(info->nodes, in.nodes, sizeof info->nodes);
	info->ntasks = in.ntasks;
	info->nnodes = in.nnodes;
	info->start = in.start;
	info->end = in.end;
	info->time_limit_min = in.time_limit;
	return 0;
}

static int slurm_cancel(const char *id, char *err, size_t errlen)
{
	uint32_t n;
	return parse_id(id, &n, err, errlen) ? -1 : sljob_cancel(n, err, errlen);
}

const struct batch_ops batch_slurm_ops = {
	.name = "slurm",
	.title = "Slurm",
	.detect = sljob_configured,
	.available = sljob_available,
	.check = slurm_check,
	.submit = slurm_submit,
	.query = slurm_query,
	.cancel = slurm_cancel,
	.alloc_env = "SLURM_JOB_ID",
};
