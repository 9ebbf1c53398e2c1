/* SPDX-License-Identifier: MIT */
/*
 * pbsbatch: the batch table's "pbs" entry -- slurm/batch.h's requests
 * turned into pbsjob.h's (the PBS command layer: qsub, qstat, qdel). A
 * batch_spec speaks Slurm's language (walltime "MM" or "D-HH:MM:SS", tasks
 * and tasks per node); PBS asks for chunks of CPUs on nodes (PBS Pro's
 * `-l select=N:ncpus=C:mpiprocs=K`, Torque's `-l nodes=N:ppn=C`) and a
 * walltime HH:MM:SS. What PBS cannot express (a QOS, node features, generic
 * resources, sbatch's own options) is refused with one line saying what to
 * use instead, never dropped silently. PBS has no "%j" in its output path,
 * so the script redirects its own output to a file named after
 * ${PBS_JOBID:-$SLURM_JOB_ID} (the second under Slurm's PBS wrappers, where
 * the job is a Slurm job). The job does not inherit qsub's environment on
 * PBS (no -V), so the script exports this process's (less the variables
 * naming a session or an allocation), as sbatch passes it by default; and
 * it exports MTSLURM_BATCH_NTASKS and MTSLURM_BATCH_TASKS_PER_NODE, from
 * which the worker script's mpirun takes its rank counts. docs/pbs.md.
 */
#include "batch.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "pbsjob.h"

extern char **environ;

/* What a PBS server's configuration looks like on its hosts: PBS Pro and
 * OpenPBS have /etc/pbs.conf (or $PBS_CONF_FILE), Torque its server_name
 * (or $PBS_SERVER). Slurm's PBS wrappers have neither. */
static int pbs_pro_conf(void)
{
	const char *f = getenv("PBS_CONF_FILE");
	return (f && *f && access(f, R_OK) == 0) || access("/etc/pbs.conf", R_OK) == 0;
}

static int torque_conf(void)
{
	const char *s = getenv("PBS_SERVER");
	return (s && *s) || access("/var/spool/torque/server_name", R_OK) == 0;
}

/* "auto" picks PBS only where a PBS server is configured and qsub is
 * there: qsub alone may be Slurm's wrapper (slurm-wlm-torque), and a
 * machine with the wrappers but no Slurm running must get "local". */
static int pbs_detect(void)
{
	return (pbs_pro_conf() || torque_conf()) && pbsjob_on_path("qsub");
}

/* The resource style: $MTSLURM_PBS_STYLE (select or nodes), else select
 * where PBS Pro is configured, else nodes (Torque's, which Slurm's
 * wrappers also read; they take only the chunk count of a select). */
static enum pbsjob_style pbs_style(void)
{
	const char *e = getenv("MTSLURM_PBS_STYLE");
	if (e && strcmp(e, "select") == 0)
		return PBSJOB_SELECT;
	if (e && strcmp(e, "nodes") == 0)
		return PBSJOB_NODES;
	return pbs_pro_conf() ? PBSJOB_SELECT : PBSJOB_NODES;
}

/* Slurm's time forms into PBS's seconds; -1 if malformed or 0 (PBS
 * wants HH:MM:SS and a walltime of 0 means nothing). */
long pbsbatch_walltime_s(const char *s)
{
	long t = batch_walltime_s(s);
	return t > 0 ? t : -1;
}

/* A batch_spec as pbsjob wants it, with the storage its strings need. */
struct pbsbatch_req {
	struct pbsjob_spec s;
	char walltime[32];
	char select[160];
	uint32_t ntasks, tasks_per_node; /* for the script's mpirun; tasks_per_node 0: from the node file */
	struct buf script;
	const char **env;
	char counts[2][64];
};

static void req_release(struct pbsbatch_req *r)
{
	buf_release(&r->script);
	free(r->env);
	r->env = NULL;
}

/* Options of a batch_spec that PBS has no directive for: the first one
 * given, with what to use instead. */
static int refuse_unsupported(const struct batch_spec *b, char *err, size_t errlen)
{
	if (b->qos)
		snprintf(err, errlen, "--qos %.60s: PBS has no QOS; ask for the queue that carries it with --queue "
			 "(or drop --qos)", b->qos);
	else if (b->constraint)
		snprintf(err, errlen, "--constraint %.60s: PBS asks for node features in the select statement; use "
			 "--select N:ncpus=C:FEATURE=true instead (PBS Pro)", b->constraint);
	else if (b->gres)
		snprintf(err, errlen, "--gres %.60s: PBS asks for GPUs in the select statement; use "
			 "--select N:ncpus=C:ngpus=G instead (PBS Pro)", b->gres);
	else if (b->nextra)
		snprintf(err, errlen, "--sbatch-arg %.60s: sbatch's options do not reach qsub; use --queue, "
			 "--walltime, --account, --mem or --select (docs/pbs.md)", b->extra[0]);
	else if (b->select && b->mem)
		snprintf(err, errlen, "--mem with --select: put mem= into the select statement (e.g. "
			 "--select 2:ncpus=4:mem=8gb)");
	else
		return 0;
	return -1;
}

/* Tasks onto chunks: N nodes of K tasks of C CPUs. Without --nodes or
 * --ntasks-per-node every task is a chunk of its own (PBS Pro packs
 * chunks onto hosts as it likes; Torque reads nodes=T as T hosts). */
static int shape(const struct batch_spec *b, struct pbsbatch_req *r, char *err, size_t errlen)
{
	uint32_t t = b->ntasks ? b->ntasks : 1, k = b->ntasks_per_node, n = b->nodes;
	uint32_t c = b->cpus_per_task ? b->cpus_per_task : 1;
	if (k && !n)
		n = (t + k - 1) / k;
	else if (!k && n)
		k = (t + n - 1) / n;
	else if (!k && !n) {
		n = t;
		k = 1;
	}
	if ((uint64_t)n * k < t) {
		snprintf(err, errlen, "--nodes %u with --ntasks-per-node %u holds %u tasks, not %u: give more nodes",
			 n, k, n * k, t);
		return -1;
	}
	r->ntasks = t;
	r->tasks_per_node = k;
	if (r->s.style == PBSJOB_SELECT) { /* mpiprocs: the node file names a host once per rank */
		long mb = b->mem ? pbsjob_parse_mem(b->mem) : 0;
		if (mb < 0) {
			snprintf(err, errlen, "bad --mem '%.40s': give MB (4000) or a size with a unit (4G, 512M)", b->mem);
			return -1;
		}
		int len = snprintf(r->select, sizeof r->select, "%u:ncpus=%u:mpiprocs=%u", n, k * c, k);
		if (mb)
			snprintf(r->select + len, sizeof r->select - (size_t)len, ":mem=%ldmb", mb);
		r->s.select = r->select;
	} else {
		r->s.nodes = n;
		r->s.ncpus = k * c;
		r->s.mem = b->mem;
	}
	return 0;
}

/* Does this variable of ours describe our session or an allocation we
 * run in rather than what the job should see? */
static int env_own(const char *kv)
{
	static const char *const prefixes[] = {"SLURM_", "PBS_", "OMPI_", "PMIX_", "PMI_", "SLURMD_"};
	static const char *const names[] = {"PWD=", "OLDPWD=", "SHLVL=", "_=", "HOSTNAME=", "TMPDIR=",
					    "ENVIRONMENT=", "HOME=", "USER=", "LOGNAME=", "SHELL=",
					    "MTSLURM_BATCH_NTASKS=", "MTSLURM_BATCH_TASKS_PER_NODE="};
	for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++)
		if (strncmp(kv, prefixes[i], strlen(prefixes[i])) == 0)
			return 1;
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (strncmp(kv, names[i], strlen(names[i])) == 0)
			return 1;
	const char *eq = strchr(kv, '=');
	if (!eq || eq == kv || isdigit((unsigned char)*kv))
		return 1;
	for (const char *p = kv; p < eq; p++) /* bash's exported functions and the like */
		if (!isalnum((unsigned char)*p) && *p != '_')
			return 1;
	return 0;
}

/* The job's environment: spec's (else ours, filtered) and the counts. */
static int make_env(const struct batch_spec *b, struct pbsbatch_req *r, char *err, size_t errlen)
{
	char **from = b->env ? b->env : environ;
	size_t n = 0, k = 0;
	while (from && from[n])
		n++;
	r->env = calloc(n + 3, sizeof *r->env);
	if (!r->env) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		if (b->env || !env_own(from[i]))
			r->env[k++] = from[i];
	snprintf(r->counts[0], sizeof r->counts[0], "MTSLURM_BATCH_NTASKS=%u", r->ntasks);
	snprintf(r->counts[1], sizeof r->counts[1], "MTSLURM_BATCH_TASKS_PER_NODE=%u", r->tasks_per_node);
	r->env[k++] = r->counts[0];
	r->env[k++] = r->counts[1];
	return 0;
}

/* s single-quoted for sh into b; nonzero if out of memory. */
static int shq(struct buf *b, const char *s, size_t len)
{
	int rc = buf_add(b, "'", 1);
	for (size_t i = 0; i < len; i++)
		rc |= s[i] == '\'' ? buf_adds(b, "'\\''") : buf_add(b, s + i, 1);
	return rc | buf_add(b, "'", 1);
}

/* The script with, after its #! line, its output sent to out_path ("%j":
 * the job's id, which PBS's -o cannot name). */
static int make_script(const struct batch_spec *b, struct pbsbatch_req *r, char *err, size_t errlen)
{
	const char *body = b->script;
	int rc = 0;
	buf_init(&r->script);
	if (strncmp(body, "#!", 2) == 0) {
		size_t len = strcspn(body, "\n");
		rc |= buf_add(&r->script, body, len);
		rc |= buf_adds(&r->script, "\n");
		body += len + (body[len] == '\n');
	} else {
		rc |= buf_adds(&r->script, "#!/bin/sh\n");
	}
	if (b->out_path) {
		rc |= buf_adds(&r->script, "# PBS has no %j in -o: the job names its output after its id\nexec >>");
		for (const char *p = b->out_path;;) {
			const char *j = strstr(p, "%j");
			rc |= shq(&r->script, p, j ? (size_t)(j - p) : strlen(p));
			if (!j)
				break;
			rc |= buf_adds(&r->script, "\"${PBS_JOBID:-$SLURM_JOB_ID}\"");
			p = j + 2;
		}
		rc |= buf_adds(&r->script, " 2>&1\n");
	}
	rc |= buf_adds(&r->script, body);
	if (rc) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

/* batch_spec -> pbsjob_spec; -1 with err naming the option PBS cannot take. */
static int req_make(const struct batch_spec *b, struct pbsbatch_req *r, char *err, size_t errlen)
{
	memset(r, 0, sizeof *r);
	if (refuse_unsupported(b, err, errlen))
		return -1;
	if (!b->script || !b->work_dir) {
		snprintf(err, errlen, "a PBS job needs a script and a work directory");
		return -1;
	}
	struct pbsjob_spec *s = &r->s;
	s->name = b->name;
	s->queue = b->queue;
	s->account = b->account;
	s->work_dir = b->work_dir;
	s->style = b->select ? PBSJOB_SELECT : pbs_style();
	if (b->walltime) {
		long t = pbsbatch_walltime_s(b->walltime);
		if (t < 0) {
			snprintf(err, errlen, "bad walltime '%.40s': give HH:MM:SS (e.g. 2:00:00), minutes (90) or "
				 "D-HH:MM:SS", b->walltime);
			return -1;
		}
		snprintf(r->walltime, sizeof r->walltime, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
		s->walltime = r->walltime;
	}
	if (b->select) { /* the user's chunks; mpirun takes its slots from the node file */
		s->select = b->select;
		r->ntasks = b->ntasks ? b->ntasks : 1;
	} else if (shape(b, r, err, errlen)) {
		return -1;
	}
	if (make_env(b, r, err, errlen) || make_script(b, r, err, errlen)) {
		req_release(r);
		return -1;
	}
	s->env = r->env;
	s->script = r->script.p;
	return 0;
}

static int pbs_check(const struct batch_spec *b, char *err, size_t errlen)
{
	struct pbsbatch_req r;
	if (req_make(b, &r, err, errlen))
		return -1;
	char *text = NULL;
	int rc = pbsjob_render(&r.s, &text, err, errlen);
	free(text);
	req_release(&r);
	return rc < 0 ? -1 : 0;
}

static int pbs_submit(const struct batch_spec *b, char id[BATCH_ID_MAX], char *err, size_t errlen)
{
	struct pbsbatch_req r;
	if (req_make(b, &r, err, errlen))
		return -1;
	int rc = pbsjob_submit(&r.s, id, BATCH_ID_MAX, err, errlen);
	req_release(&r);
	if (rc == 0 && strpbrk(id, "\"\\ \t")) { /* batch.h: ids are written into JSON as they are */
		snprintf(err, errlen, "qsub printed an id mtslurm cannot keep: '%.60s'", id);
		return -1;
	}
	return rc;
}

static int pbs_query(const char *id, struct batch_info *info, char *err, size_t errlen)
{
	struct pbsjob_info in;
	memset(info, 0, sizeof *info);
	if (pbsjob_query(id, &in, err, errlen))
		return -1;
	static const enum batch_state states[] = {
		[PBSJOB_PENDING] = BATCH_PENDING, [PBSJOB_RUNNING] = BATCH_RUNNING, [PBSJOB_ENDING] = BATCH_ENDING,
		[PBSJOB_ENDED] = BATCH_ENDED,     [PBSJOB_UNKNOWN] = BATCH_UNKNOWN,
	};
	info->state = states[in.state];
	snprintf(info->state_name, sizeof info->state_name, "%s", in.state_name);
	snprintf(info->reason, sizeof info->reason, "%s", in.reason);
	snprintf(info->nodes, sizeof info->nodes, "%s", in.nodes);
	info->nnodes = in.nnodes;
	info->ntasks = in.ncpus;
	info->start = in.start;
	info->end = in.end;
	info->time_limit_min = (uint32_t)(in.walltime_s / 60);
	return 0;
}

static int pbs_cancel(const char *id, char *err, size_t errlen)
{
	return pbsjob_cancel(id, err, errlen) ? -1 : 0;
}

const struct batch_ops batch_pbs_ops = {
	.name = "pbs",
	.title = "PBS",
	.detect = pbs_detect,
	.available = pbsjob_available,
	.check = pbs_check,
	.submit = pbs_submit,
	.query = pbs_query,
	.cancel = pbs_cancel,
	.alloc_env = "PBS_JOBID",
};
