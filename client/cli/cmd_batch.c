/* SPDX-License-Identifier: MIT */
/*
 * batch: `mtslurm start`, `add-workers`, `stop` and the batch system's
 * lines of `status` when the cluster runs as jobs of a batch system
 * (--backend slurm, or what "auto" finds). start submits the master as a
 * one-task batch job, waits until it serves (master.json on the shared run
 * directory names its job), then submits the workers as one batch job of N
 * tasks whose script starts one MPI rank per task (worker_launchers: `srun
 * mtslurm-worker` under Slurm, Open MPI's `mpirun` under PBS), and waits
 * until they connected. Before anything is submitted, the backend's check
 * refuses options it cannot express. Every job made is recorded
 * in RUN_DIR/BACKEND.json (slurm.json) before anything waits on it, so stop
 * -- or a failed start -- cancels exactly those jobs. Every call to the
 * batch system goes through slurm/batch.h's table, whose Slurm entry uses
 * libslurm (no sbatch/squeue/scancel) and PBS entry qsub/qstat/qdel. The backend chosen is written into
 * RUN_DIR/config (MTSLURM_BACKEND=NAME), the default of the next start.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "cli.h"
#include "batch.h"
#include "util.h"

#define MAX_ALLOCS 64

/* What RUN_DIR/BACKEND.json records. Ids are "" when there is none. */
struct slrec {
	char master_job[BATCH_ID_MAX];
	char wjob[MAX_ALLOCS][BATCH_ID_MAX];
	int wtasks[MAX_ALLOCS];
	int nw;
	int slots;
};

/* RUN_DIR/NAME.json of backend ops: slurm.json for Slurm. */
static void rec_path_of(char out[RUNDIR_PATH_MAX], const struct cli *cli, const struct batch_ops *ops)
{
	char name[48];
	snprintf(name, sizeof name, "%s.json", ops->name);
	rundir_path(out, cli->run_dir, name);
}

static void rec_path(char out[RUNDIR_PATH_MAX], const struct cli *cli)
{
	rec_path_of(out, cli, cli->batch);
}

/* A job id of a record: a number (Slurm's, as older files have them) or a
 * string; "" if absent. */
static void get_id(const msg *m, const char *key, char id[BATCH_ID_MAX])
{
	int64_t v;
	const char *s = msg_get_str(m, key);
	if (s)
		util_strlcpy(id, s, BATCH_ID_MAX);
	else if (!msg_get_int(m, key, &v) && v > 0)
		snprintf(id, BATCH_ID_MAX, "%lld", (long long)v);
	else
		id[0] = '\0';
}

/* An id into JSON: a number if it is one, else a string. */
static void put_id(struct buf *b, const char *id)
{
	int64_t n;
	if (batch_id_number(id, &n))
		buf_addf(b, "%lld", (long long)n);
	else
		buf_addf(b, "\"%s\"", id); /* batch.h: ids hold no quotes or backslashes */
}

static void set_id(msg *o, const char *key, const char *id)
{
	int64_t n;
	if (batch_id_number(id, &n))
		msg_set_int(o, key, n);
	else
		msg_set_str(o, key, id);
}

static int read_rec(const struct cli *cli, struct slrec *r)
{
	char p[RUNDIR_PATH_MAX];
	memset(r, 0, sizeof *r);
	rec_path(p, cli);
	msg *m = cli_read_json(cli->run_dir, strrchr(p, '/') + 1);
	if (!m)
		return -1;
	int64_t v;
	get_id(m, "master_job", r->master_job);
	if (!msg_get_int(m, "slots", &v))
		r->slots = (int)v;
	for (msg *w = msg_child(msg_get(m, "worker_jobs")); w && r->nw < MAX_ALLOCS; w = msg_next(w)) {
		get_id(w, "id", r->wjob[r->nw]);
		if (!r->wjob[r->nw][0])
			continue;
		r->wtasks[r->nw] = msg_get_int(w, "tasks", &v) ? 0 : (int)v;
		r->nw++;
	}
	msg_free(m);
	return 0;
}

static void write_rec(const struct cli *cli, const struct slrec *r)
{
	struct buf b = BUF_INIT;
	char p[RUNDIR_PATH_MAX];
	buf_addf(&b, "{\"mode\":\"%s\",\"master_job\":", cli->batch->name);
	put_id(&b, r->master_job[0] ? r->master_job : "0");
	buf_addf(&b, ",\"slots\":%d,\"worker_jobs\":[", r->slots);
	for (int i = 0; i < r->nw; i++) {
		buf_adds(&b, i ? ",{\"id\":" : "{\"id\":");
		put_id(&b, r->wjob[i]);
		buf_addf(&b, ",\"tasks\":%d}", r->wtasks[i]);
	}
	buf_adds(&b, "]}\n");
	rec_path(p, cli);
	cli_write_file(cli->run_dir, strrchr(p, '/') + 1, b.p, b.len);
	buf_release(&b);
}

/* ---- job descriptions ---- */

static void dflt(const char **v, const char *env)
{
	if (!*v) {
		const char *e = getenv(env);
		if (e && *e)
			*v = e;
	}
}

/* --sbatch-arg values from $MTSLURM_SBATCH_ARGS (space separated) when none
 * were given. The strings live until exit. */
static void dflt_extra(struct cli *cli)
{
	const char *e = getenv("MTSLURM_SBATCH_ARGS");
	if (cli->sl.nextra || !e || !*e)
		return;
	char *copy = strdup(e);
	if (!copy)
		cli_die(1, "out of memory");
	for (char *save = NULL, *w = strtok_r(copy, " \t", &save); w && cli->sl.nextra < 32;
	     w = strtok_r(NULL, " \t", &save))
		cli->sl.extra[cli->sl.nextra++] = w;
}

/* RUN_DIR/config: lines MTSLURM_NAME=VALUE (blank lines and # comments
 * allowed) giving defaults for the same variables as the environment; a
 * variable set in the environment wins. They are put into this process's
 * environment, which the Slurm jobs inherit. */
static void load_config(const struct cli *cli)
{
	char path[RUNDIR_PATH_MAX], line[1024];
	rundir_path(path, cli->run_dir, "config");
	FILE *f = fopen(path, "r");
	if (!f)
		return;
	for (int no = 1; fgets(line, sizeof line, f); no++) {
		char *s = line, *e;
		while (*s == ' ' || *s == '\t')
			s++;
		for (e = s + strlen(s); e > s && (e[-1] == '\n' || e[-1] == '\r' || e[-1] == ' ' || e[-1] == '\t');)
			*--e = '\0';
		if (!*s || *s == '#')
			continue;
		char *eq = strchr(s, '=');
		if (!eq || strncmp(s, "MTSLURM_", 8) != 0 || eq == s + 8) {
			fclose(f);
			cli_die(2, "%s line %d: expected MTSLURM_NAME=VALUE (e.g. MTSLURM_PARTITION=batch), got '%.60s'",
				path, no, s);
		}
		char *k = s, *v = eq + 1;
		for (*eq = '\0'; eq > k && (eq[-1] == ' ' || eq[-1] == '\t');)
			*--eq = '\0';
		while (*v == ' ' || *v == '\t')
			v++;
		size_t vl = strlen(v);
		if (vl >= 2 && (v[0] == '"' || v[0] == '\'') && v[vl - 1] == v[0]) {
			v[vl - 1] = '\0';
			v++;
		}
		setenv(k, v, 0);
	}
	fclose(f);
}

/* The value of key in RUN_DIR/config (the last line naming it), "" if none. */
static void config_get(const struct cli *cli, const char *key, char *out, size_t n)
{
	char path[RUNDIR_PATH_MAX], line[1024];
	size_t kl = strlen(key);
	out[0] = '\0';
	rundir_path(path, cli->run_dir, "config");
	FILE *f = fopen(path, "r");
	if (!f)
		return;
	while (fgets(line, sizeof line, f)) {
		char *s = line;
		while (*s == ' ' || *s == '\t')
			s++;
		if (strncmp(s, key, kl) != 0 || s[kl] != '=')
			continue;
		s += kl + 1;
		s[strcspn(s, " \t\r\n\"'")] = '\0';
		util_strlcpy(out, s, n);
	}
	fclose(f);
}

void cli_record_backend(struct cli *cli, const char *name)
{
	char path[RUNDIR_PATH_MAX], line[1024], have[64];
	config_get(cli, "MTSLURM_BACKEND", have, sizeof have);
	if (strcmp(have, name) == 0)
		return;
	struct buf b = BUF_INIT;
	rundir_path(path, cli->run_dir, "config");
	FILE *f = fopen(path, "r");
	while (f && fgets(line, sizeof line, f)) { /* the user's lines stay, an older choice goes */
		const char *s = line + strspn(line, " \t");
		if (strncmp(s, "MTSLURM_BACKEND=", 16) != 0)
			buf_adds(&b, line);
	}
	if (f)
		fclose(f);
	if (b.len && b.p[b.len - 1] != '\n')
		buf_adds(&b, "\n");
	buf_addf(&b, "# the backend mtslurm start used last (mtslurm start --backend NAME)\nMTSLURM_BACKEND=%s\n", name);
	cli_write_file(cli->run_dir, "config", b.p, b.len);
	buf_release(&b);
}

const struct batch_ops *cli_backend(struct cli *cli)
{
	char err[300], conf[64];
	const char *name = cli->backend;
	if (cli->local && name && strcmp(name, "local") != 0)
		cli_die(2, "--local is --backend local; it cannot go with --backend %s", name);
	if (cli->local)
		name = "local";
	if (!name)
		name = getenv("MTSLURM_BACKEND");
	if (!name || !*name) {
		config_get(cli, "MTSLURM_BACKEND", conf, sizeof conf);
		name = conf[0] ? conf : "auto";
	}
	const struct batch_ops *ops = batch_find(name, err, sizeof err);
	if (!ops)
		cli_die(2, "%s", err);
	return ops;
}

const struct batch_ops *cli_batch_mode(const struct cli *cli)
{
	char p[RUNDIR_PATH_MAX], conf[64];
	config_get(cli, "MTSLURM_BACKEND", conf, sizeof conf);
	char err[300];
	const struct batch_ops *want = conf[0] ? batch_find(conf, err, sizeof err) : NULL;
	if (want && want != &batch_local_ops) { /* the recorded one first */
		rec_path_of(p, cli, want);
		if (access(p, F_OK) == 0)
			return want;
	}
	for (int i = 0; batch_backends[i]; i++) {
		if (batch_backends[i] == &batch_local_ops) /* local clusters keep launch.json */
			continue;
		rec_path_of(p, cli, batch_backends[i]);
		if (access(p, F_OK) == 0)
			return batch_backends[i];
	}
	return NULL;
}

static void apply_defaults(struct cli *cli)
{
	load_config(cli);
	dflt(&cli->sl.partition, "MTSLURM_PARTITION");
	dflt(&cli->sl.time, "MTSLURM_TIME");
	dflt(&cli->sl.account, "MTSLURM_ACCOUNT");
	dflt(&cli->sl.qos, "MTSLURM_QOS");
	dflt(&cli->sl.constraint, "MTSLURM_CONSTRAINT");
	dflt(&cli->sl.gres, "MTSLURM_GRES");
	dflt(&cli->sl.mem, "MTSLURM_MEM");
	dflt(&cli->sl.master_host, "MTSLURM_MASTER_HOST");
	dflt(&cli->sl.select, "MTSLURM_SELECT");
	dflt_extra(cli);
}

/* The job name NAME-role (NAME: --job-name, else mtslurm) and its output
 * file RUN_DIR/logs/slurm-role-JOBID.out. */
struct jobnames {
	char name[64];
	char out[RUNDIR_PATH_MAX];
};

static void job_names(const struct cli *cli, const char *role, struct jobnames *jn)
{
	char rel[64];
	snprintf(jn->name, sizeof jn->name, "%s-%s", cli->sl.job_name ? cli->sl.job_name : "mtslurm", role);
	snprintf(rel, sizeof rel, "logs/%s-%s-%%j.out", cli->batch->name, role);
	rundir_path(jn->out, cli->run_dir, rel);
}

static void base_spec(struct cli *cli, struct batch_spec *s, const struct jobnames *jn)
{
	const char *name = jn->name, *out = jn->out;
	memset(s, 0, sizeof *s);
	s->name = name;
	s->queue = cli->sl.partition;
	s->walltime = cli->sl.time;
	s->account = cli->sl.account;
	s->qos = cli->sl.qos;
	s->constraint = cli->sl.constraint;
	s->mem = cli->sl.mem;
	s->work_dir = cli->run_dir;
	s->out_path = out;
	s->extra = cli->sl.extra;
	s->nextra = (size_t)cli->sl.nextra;
}

/* Append s single-quoted for sh. */
void cli_shq(struct buf *b, const char *s)
{
	buf_add(b, "'", 1);
	for (; *s; s++) {
		if (*s == '\'')
			buf_adds(b, "'\\''");
		else
			buf_add(b, s, 1);
	}
	buf_add(b, "'", 1);
}

/* s as a JSON string (or null). */
static void jstr(struct buf *b, const char *s)
{
	if (!s) {
		buf_adds(b, "null");
		return;
	}
	buf_add(b, "\"", 1);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			buf_addf(b, "\\%c", c);
		else if (c < 0x20)
			buf_addf(b, "\\u%04x", c);
		else
			buf_add(b, s, 1);
	}
	buf_add(b, "\"", 1);
}

static void worker_script(struct cli *cli, struct buf *b, const char *bin);
static void worker_args(struct cli *cli, struct buf *b);
static void node_agent(struct cli *cli, struct buf *b);

/* RUN_DIR/autoscale.json: what the master needs to submit worker jobs
 * itself (master/autoscale.c), through cli->batch. */
void cli_write_autoscale(struct cli *cli, const char *worker_bin)
{
	struct buf b = BUF_INIT, script = BUF_INIT;
	struct jobnames jn;
	job_names(cli, "workers", &jn);
	const char *name = jn.name, *out = jn.out;
	worker_script(cli, &script, worker_bin);
	buf_addf(&b, "{\"backend\":\"%s\",\"max_workers\":%d,\"workers_per_alloc\":%d,\"idle_timeout\":%.3f",
		 cli->batch->name, cli->max_workers, cli->workers_per_alloc ? cli->workers_per_alloc : 1,
		 cli->idle_timeout_s >= 0 ? cli->idle_timeout_s : 300.0);
	const char *keys[] = {"name", "partition", "time", "account", "qos", "constraint", "gres", "mem", "work_dir", "out",
			      "script", "select"};
	const char *vals[] = {name, cli->sl.partition, cli->sl.time, cli->sl.account, cli->sl.qos, cli->sl.constraint,
			      cli->sl.gres, cli->sl.mem, cli->run_dir, out, script.p, cli->sl.select};
	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
		buf_addf(&b, ",\"%s\":", keys[i]);
		jstr(&b, vals[i]);
	}
	buf_addf(&b, ",\"ntasks_per_node\":%d,\"cpus_per_task\":%d,\"extra\":[", cli->sl.ntasks_per_node,
		 cli->sl.cpus_per_task);
	for (int i = 0; i < cli->sl.nextra; i++) {
		if (i)
			buf_adds(&b, ",");
		jstr(&b, cli->sl.extra[i]);
	}
	buf_adds(&b, "]}\n");
	cli_write_file(cli->run_dir, "autoscale.json", b.p, b.len);
	buf_release(&b);
	buf_release(&script);
}

static void master_script(struct cli *cli, struct buf *b, const char *bin)
{
	buf_adds(b, "#!/bin/sh\n# the mtslurm master of this run directory (written by mtslurm start)\nexec ");
	cli_shq(b, bin);
	buf_adds(b, " --run-dir ");
	cli_shq(b, cli->run_dir);
	buf_adds(b, " --host ");
	cli_shq(b, cli->sl.master_host ? cli->sl.master_host : "0.0.0.0");
	buf_adds(b, " --port 0");
	/* HTTP where the wire protocol listens (HTTPS off loopback): the node
	 * agents of the workers' nodes register over it. */
	if (!cli->no_http && !cli->http) {
		const char *h = cli->sl.master_host ? cli->sl.master_host : "0.0.0.0";
		char http[300];
		snprintf(http, sizeof http, strchr(h, ':') ? "[%s]:0" : "%s:0", h);
		buf_adds(b, " --http ");
		cli_shq(b, http);
	}
	if (cli->master_works)
		buf_adds(b, " --master-works");
	if (cli->autoscale) {
		char p[RUNDIR_PATH_MAX];
		rundir_path(p, cli->run_dir, "autoscale.json");
		buf_adds(b, " --autoscale ");
		cli_shq(b, p);
	}
	if (cli->prefetch >= 0)
		buf_addf(b, " --prefetch %d", cli->prefetch);
	if (cli->no_http) {
		buf_adds(b, " --no-http");
	} else if (cli->http) {
		buf_adds(b, " --http ");
		cli_shq(b, cli->http);
	}
	if (!cli->no_http && cli->http_tls)
		buf_adds(b, " --http-tls");
	if (cli->max_queued) {
		buf_adds(b, " --max-queued ");
		cli_shq(b, cli->max_queued);
	}
	const char *extra = getenv("MTSLURM_MASTER_ARGS");
	if (extra && *extra) {
		buf_adds(b, " ");
		buf_adds(b, extra); /* words for the shell, as in local mode */
	}
	buf_adds(b, "\n");
}

/* Workers: one MPI rank per Slurm task, started with srun (PMIx unless
 * $MTSLURM_SRUN_ARGS says otherwise); with HTTP, a node agent on each node
 * of the job too, in a step that overlaps the workers' (it takes no task
 * from them) and ends when they have left. */
static void srun_workers(struct cli *cli, struct buf *b, const char *bin)
{
	const char *srun_args = getenv("MTSLURM_SRUN_ARGS");
	/* As in local mode: a worker leaves on its own (stop, drain) without
	 * MPI_Finalize's fence, which would hold it until every rank left. */
	buf_adds(b, "#!/bin/sh\n# mtslurm workers, one per task, and a node agent per node (written by mtslurm)\n"
		    "export OMPI_MCA_orte_allowed_exit_without_sync=1\n");
	if (!cli->no_http) {
		buf_adds(b, "srun --overlap --mpi=none --kill-on-bad-exit=0 -N \"$SLURM_JOB_NUM_NODES\" "
			    "-n \"$SLURM_JOB_NUM_NODES\" --ntasks-per-node=1 ");
		node_agent(cli, b);
	}
	buf_adds(b, cli->no_http ? "exec srun " : "srun ");
	buf_adds(b, srun_args && *srun_args ? srun_args : "--mpi=pmix");
	buf_adds(b, " --kill-on-bad-exit=0 ");
	cli_shq(b, bin);
	worker_args(cli, b);
	buf_adds(b, "\n");
	/* the workers left: the node agents stop the workers they launched,
	 * then themselves (srun passes SIGTERM on to them) */
	if (!cli->no_http)
		buf_adds(b, "rc=$?\nkill -TERM \"$nodes\" 2>/dev/null\nwait \"$nodes\"\nexit $rc\n");
}

/* A node agent's program and arguments, started in the background
 * ($nodes: its launcher's pid), after the launcher line of the backend. */
static void node_agent(struct cli *cli, struct buf *b)
{
	char node_bin[PATH_MAX];
	cli_sibling(node_bin, sizeof node_bin, "mtslurm-node");
	cli_shq(b, node_bin);
	buf_adds(b, " --run-dir ");
	cli_shq(b, cli->run_dir);
	buf_adds(b, " --worker-ports ");
	cli_shq(b, cli->node_ports ? cli->node_ports : "8092-8111");
	buf_adds(b, " &\nnodes=$!\n");
}

/* The worker's arguments, after its program: --run-dir, --slots, --resource. */
static void worker_args(struct cli *cli, struct buf *b)
{
	buf_adds(b, " --run-dir ");
	cli_shq(b, cli->run_dir);
	buf_addf(b, " --slots %d", cli->slots);
	for (int i = 0; i < cli->nresource; i++) {
		buf_adds(b, " --resource ");
		cli_shq(b, cli->resource[i]);
	}
}

/* Workers through Open MPI's mpirun (PBS): on the hosts of $PBS_NODEFILE
 * where PBS wrote one, else on the allocation mpirun finds itself (under
 * Slurm's PBS wrappers the job is a Slurm job: mpirun starts its daemons
 * with srun, --overlap so that the node agents' step and the workers'
 * share the CPUs). The rank counts come from the job's environment
 * (MTSLURM_BATCH_NTASKS, _TASKS_PER_NODE: slurm/pbsbatch.c). With HTTP, a
 * node agent per node, by a second mpirun ending when the workers left. */
static void mpirun_workers(struct cli *cli, struct buf *b, const char *bin)
{
	const char *extra = getenv("MTSLURM_MPIRUN_ARGS");
	const char *common = "mpirun --allow-run-as-root --bind-to none ${PBS_NODEFILE:+--hostfile \"$PBS_NODEFILE\"}";
	buf_adds(b, "#!/bin/sh\n# mtslurm workers through mpirun, one per task, and a node agent per node (written by "
		    "mtslurm)\nexport OMPI_MCA_orte_allowed_exit_without_sync=1\n"
		    "[ -z \"$PBS_NODEFILE\" ] && [ -n \"$SLURM_JOB_ID\" ] && export OMPI_MCA_plm_slurm_args=--overlap\n"
		    "map=\n[ \"${MTSLURM_BATCH_TASKS_PER_NODE:-0}\" -gt 0 ] && "
		    "map=\"--map-by ppr:$MTSLURM_BATCH_TASKS_PER_NODE:node\"\n");
	if (!cli->no_http) {
		buf_addf(b, "%s --map-by ppr:1:node %s ", common, extra && *extra ? extra : "");
		node_agent(cli, b);
	}
	buf_addf(b, "%s%s -np \"${MTSLURM_BATCH_NTASKS:-1}\" $map %s ", cli->no_http ? "exec " : "", common,
		 extra && *extra ? extra : "");
	cli_shq(b, bin);
	worker_args(cli, b);
	buf_adds(b, "\n");
	if (!cli->no_http)
		buf_adds(b, "rc=$?\nkill -TERM \"$nodes\" 2>/dev/null\nwait \"$nodes\"\nexit $rc\n");
}

/* How each backend's job starts one worker rank per task on every node it
 * got (a local job: mpirun here, as a local start launches them,
 * cmd_start.c); a backend not listed uses srun. */
static const struct {
	const char *backend;
	void (*script)(struct cli *cli, struct buf *b, const char *bin);
} worker_launchers[] = {
	{"slurm", srun_workers},
	{"pbs", mpirun_workers},
	{"local", cli_local_workers_script},
};

static void worker_script(struct cli *cli, struct buf *b, const char *bin)
{
	for (size_t i = 0; i < sizeof worker_launchers / sizeof worker_launchers[0]; i++)
		if (strcmp(worker_launchers[i].backend, cli->batch->name) == 0) {
			worker_launchers[i].script(cli, b, bin);
			return;
		}
	srun_workers(cli, b, bin);
}

/* Submits s; id gets its job id. */
static void submit_or_die(struct cli *cli, struct batch_spec *s, const char *what, struct slrec *r, int cleanup,
			  char id[BATCH_ID_MAX])
{
	char err[600];
	if (cli->batch->submit(s, id, err, sizeof err) == 0)
		return;
	if (cleanup) {
		if (r->master_job[0])
			cli->batch->cancel(r->master_job, err + 300, 300);
		for (int i = 0; i < r->nw; i++)
			cli->batch->cancel(r->wjob[i], err + 300, 300);
		char p[RUNDIR_PATH_MAX];
		rec_path(p, cli);
		unlink(p);
		rundir_remove_master(cli->run_dir);
	}
	err[299] = '\0';
	cli_die(1, "cannot submit the %s: %s", what, err);
}

/* ---- waiting ---- */

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void slurm_out(const struct cli *cli, const char *kind, const char *id, char out[RUNDIR_PATH_MAX])
{
	char name[160];
	snprintf(name, sizeof name, "logs/%s-%s-%s.out", cli->batch->name, kind, id);
	rundir_path(out, cli->run_dir, name);
}

/* "the master's Slurm job 12 ended (FAILED: NonZeroExitCode): <its last line>" */
static void ended_why(const struct cli *cli, const char *kind, const char *id, const struct batch_info *in,
		      const char *when, char *out, size_t n)
{
	char path[RUNDIR_PATH_MAX], last[300];
	slurm_out(cli, kind, id, path);
	cli_last_line(path, last, sizeof last);
	snprintf(out, n, "%s job %s ended %s (%s%s%s)%s%s; see %.400s", cli->batch->title, id, when, in->state_name,
		 in->reason[0] ? ": " : "", in->reason, last[0] ? ": " : "", last, path);
}

/* Wait until job id is over (gone from squeue) for up to ms. */
static int wait_ended(const struct cli *cli, const char *id, int ms)
{
	char err[300];
	struct batch_info in;
	for (int t = 0;; t += 200) {
		if (cli->batch->query(id, &in, err, sizeof err) == 0 && in.state >= BATCH_ENDED)
			return 0;
		if (t >= ms)
			return -1;
		cli_sleep_ms(200);
	}
}

static void fail_start(struct cli *cli, struct slrec *r, const char *fmt, ...)
	__attribute__((format(printf, 3, 4), noreturn));

static void fail_start(struct cli *cli, struct slrec *r, const char *fmt, ...)
{
	char msgbuf[1600], err[300];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msgbuf, sizeof msgbuf, fmt, ap);
	va_end(ap);
	mts_client *c = cli_connect_quiet(cli);
	if (c) {
		mts_shutdown(c);
		mts_close(c);
	}
	if (r->master_job[0])
		cli->batch->cancel(r->master_job, err, sizeof err);
	for (int i = 0; i < r->nw; i++)
		cli->batch->cancel(r->wjob[i], err, sizeof err);
	/* nothing half-started is left: wait until the system has ended them */
	int left = r->master_job[0] && wait_ended(cli, r->master_job, 15000);
	for (int i = 0; i < r->nw; i++)
		left += wait_ended(cli, r->wjob[i], 15000) != 0;
	char p[RUNDIR_PATH_MAX];
	rec_path(p, cli);
	if (left)
		cli_die(1, "%s; cancelled what was started, but %d %s job(s) did not end within 15 s (see %s)",
			msgbuf, left, cli->batch->title, p);
	unlink(p);
	rundir_remove_master(cli->run_dir);
	cli_die(1, "%s; cancelled what was started", msgbuf);
}

/* Until the master of Slurm job id serves: 0. Dies (after cleaning up) if
 * the job ends first or does not start in time. */
static void wait_master(struct cli *cli, struct slrec *r, const char *id, double timeout_s, struct master_info *mi)
{
	char err[512];
	double t0 = now_s(), next_q = 0;
	struct batch_info in = {0};
	for (;;) {
		if (rundir_read_master(cli->run_dir, mi, err, sizeof err) == 0 && strcmp(mi->slurm_job, id) == 0)
			return;
		double t = now_s() - t0;
		if (t >= next_q) {
			next_q = t + 1;
			if (cli->batch->query(id, &in, err, sizeof err) == 0 && in.state >= BATCH_ENDING) {
				char why[1400];
				ended_why(cli, "master", id, &in, "before the master served", why, sizeof why);
				fail_start(cli, r, "the master's %s", why);
			}
		}
		if (t > timeout_s) {
			if (in.state == BATCH_PENDING)
				fail_start(cli, r,
					   "the master's %s job %s did not start within %.0f s (pending: %s); "
					   "use --timeout to wait longer",
					   cli->batch->title, id, timeout_s, in.reason[0] ? in.reason : "no reason given");
			fail_start(cli, r,
				   "the master's %s job %s runs%s%s but %.300s/master.json did not appear within "
				   "%.0f s: is the run directory on a filesystem the compute nodes share? (see "
				   "logs/%s-master-%s.out there)",
				   cli->batch->title, id, in.nodes[0] ? " on " : "", in.nodes, cli->run_dir, timeout_s,
				   cli->batch->name, id);
		}
		cli_sleep_ms(20); /* a file read */
	}
}

/* Until `want` workers are connected. Dies (after cleaning up, if cleanup)
 * when a worker job ends first or time runs out. */
static int wait_workers(struct cli *cli, struct slrec *r, int from, int want, double timeout_s, int cleanup)
{
	mts_client *c = cli_connect_quiet(cli);
	if (!c)
		fail_start(cli, r, "the master does not answer");
	double t0 = now_s(), next_q = 0;
	int seen = 0;
	char err[512];
	struct batch_info in = {0};
	for (;;) {
		seen = cli_connected_workers(c);
		if (seen >= want)
			break;
		double t = now_s() - t0;
		if (t >= next_q) {
			next_q = t + 1;
			for (int i = from; i < r->nw; i++) {
				if (cli->batch->query(r->wjob[i], &in, err, sizeof err) == 0 && in.state >= BATCH_ENDING) {
					char why[1400];
					ended_why(cli, "workers", r->wjob[i], &in, "before its workers connected", why,
						  sizeof why);
					mts_close(c);
					if (cleanup)
						fail_start(cli, r, "the workers' %s", why);
					cli_die(1, "the new workers' %s", why);
				}
			}
		}
		if (t > timeout_s) {
			mts_close(c);
			char what[1200];
			const char *last = r->wjob[r->nw - 1], *title = cli->batch->title;
			if (in.state == BATCH_PENDING)
				snprintf(what, sizeof what,
					 "the workers' %s job %s did not start within %.0f s (pending: %s); use "
					 "--timeout to wait longer",
					 title, last, timeout_s, in.reason[0] ? in.reason : "no reason given");
			else
				snprintf(what, sizeof what,
					 "only %d of %d workers connected within %.0f s although their %s job %s "
					 "runs%s%s: is the run directory on a filesystem those nodes share? (see "
					 "%.300s/logs/%s-workers-%s.out and worker-*.daemon.log)",
					 seen < 0 ? 0 : seen, want, timeout_s, title, last, in.nodes[0] ? " on " : "",
					 in.nodes, cli->run_dir, cli->batch->name, last);
			if (cleanup)
				fail_start(cli, r, "%s", what);
			cli_die(1, "%s", what);
		}
		cli_sleep_ms(50);
	}
	mts_close(c);
	return seen;
}

/* ---- start / add-workers ---- */

/* Submits the workers' job; its id is the last of r->wjob. */
static void submit_workers(struct cli *cli, struct slrec *r, int n, const char *bin, int cleanup)
{
	struct buf script = BUF_INIT;
	struct jobnames jn;
	char id[BATCH_ID_MAX];
	job_names(cli, "workers", &jn);
	struct batch_spec s;
	base_spec(cli, &s, &jn);
	s.gres = cli->sl.gres;
	s.nodes = (uint32_t)cli->sl.nodes;
	s.ntasks = (uint32_t)n;
	s.ntasks_per_node = (uint32_t)cli->sl.ntasks_per_node;
	s.cpus_per_task = (uint32_t)(cli->sl.cpus_per_task ? cli->sl.cpus_per_task : 0);
	s.select = cli->sl.select;
	worker_script(cli, &script, bin);
	s.script = script.p;
	char what[64];
	snprintf(what, sizeof what, "workers' %s job", cli->batch->title);
	submit_or_die(cli, &s, what, r, cleanup, id);
	buf_release(&script);
	if (r->nw < MAX_ALLOCS) {
		util_strlcpy(r->wjob[r->nw], id, BATCH_ID_MAX);
		r->wtasks[r->nw] = n;
		r->nw++;
	}
	write_rec(cli, r);
}

static int total_tasks(const struct slrec *r)
{
	int n = 0;
	for (int i = 0; i < r->nw; i++)
		n += r->wtasks[i];
	return n;
}

/* start --json in Slurm mode: {"master":{"host","port","node","slurm_job"},
 * "mode":"slurm","workers","workers_job","connected","restarted",
 * "autoscale","run_dir"}; connected < 0: all of workers. Returns 0. */
static int print_started(const struct cli *cli, const struct master_info *mi, const struct slrec *r,
			 const char *wid, int want, int seen, int restarted)
{
	msg *o = msg_new_object(), *m = msg_new_object();
	msg_set_str(m, "host", mi->host);
	msg_set_int(m, "port", mi->port);
	msg_set_str(m, "node", mi->node);
	set_id(m, "slurm_job", r->master_job); /* the key of the Slurm-only days, kept */
	msg_add(o, "master", m);
	msg_set_str(o, "mode", cli->batch->name);
	msg_set_str(o, "backend", cli->batch->name);
	msg_set_int(o, "workers", want);
	set_id(o, "workers_job", wid[0] ? wid : "0");
	msg_set_int(o, "connected", seen < 0 ? want : seen);
	msg_set_bool(o, "restarted", restarted);
	msg_set_bool(o, "autoscale", cli->autoscale);
	msg_set_str(o, "run_dir", cli->run_dir);
	cli_print_json(o);
	return 0;
}

/* What an earlier start in this run directory left (its record, r): a
 * cluster still answering ends the command; a master that is gone while
 * workers' Slurm jobs live on is restarted alone (1, r keeping only the
 * live workers' jobs); otherwise r is cleared (a master job left over is
 * cancelled) and the start is a new one (0). */
static int slurm_prior(struct cli *cli, struct slrec *r)
{
	char err[600];
	if (read_rec(cli, r) != 0) {
		memset(r, 0, sizeof *r);
		return 0;
	}
	mts_client *c = cli_connect_quiet(cli);
	if (c) {
		mts_close(c);
		cli_die(1, "a cluster is already running in %s (%s job %s); mtslurm stop first", cli->run_dir,
			cli->batch->title, r->master_job);
	}
	struct batch_info in;
	int k = 0;
	for (int i = 0; i < r->nw; i++) {
		if (cli->batch->query(r->wjob[i], &in, err, sizeof err) == 0 && in.state >= BATCH_ENDING)
			continue; /* worker jobs that ended are forgotten */
		memmove(r->wjob[k], r->wjob[i], BATCH_ID_MAX);
		r->wtasks[k++] = r->wtasks[i];
	}
	r->nw = k;
	if (k > 0)
		return 1;
	if (r->master_job[0])
		cli->batch->cancel(r->master_job, err, sizeof err);
	memset(r, 0, sizeof *r);
	return 0;
}

/* The options of a Slurm-mode start that go together, and no local cluster
 * running in the run directory of a new start. */
void cli_autoscale_checks(const struct cli *cli)
{
	if (cli->autoscale && !cli->max_workers)
		cli_die(2, "--autoscale needs --max-workers M (the most workers it may start)");
	if (!cli->autoscale && (cli->max_workers || cli->idle_timeout_s >= 0 || cli->workers_per_alloc))
		cli_die(2, "--max-workers, --idle-timeout and --workers-per-alloc go with --autoscale");
}

static void slurm_start_checks(struct cli *cli, int restart)
{
	cli_autoscale_checks(cli);
	if (!restart && !cli->n_given && !cli->autoscale)
		cli_die(2, "say how many workers with -n N (e.g. mtslurm -n 16 start --partition batch), or "
			   "--autoscale --max-workers M");
	if (!restart && !cli_batch_mode(cli)) {
		mts_client *c = cli_connect_quiet(cli);
		if (c) {
			mts_close(c);
			cli_die(1, "a cluster is already running in %s; mtslurm stop first", cli->run_dir);
		}
	}
}

/* The end of a start that submitted new workers (wid): the node agents of
 * their nodes, then what started. */
static int start_done(struct cli *cli, const struct master_info *mi, const struct slrec *r, const char *wid)
{
	char err[600];
	const char *title = cli->batch->title;
	struct batch_info in = {0};
	if (wid[0])
		cli->batch->query(wid, &in, err, sizeof err);
	/* the node agents of the workers' nodes: usually up with the workers;
	 * without them the cluster still runs, only launch-worker cannot */
	int nseen = 0;
	if (wid[0] && !cli->no_http && cli_node_wait(cli, 0, in.nnodes ? (int)in.nnodes : 1, 15000, &nseen))
		fprintf(stderr, "mtslurm: warning: %d of the %u node agents of %s job %s registered with the master "
				"within 15 s; launch-worker works on those that did (see %s/logs/node-*.log)\n",
			nseen, in.nnodes ? in.nnodes : 1, title, wid, cli->run_dir);
	if (cli->json)
		return print_started(cli, mi, r, wid, cli->n + (cli->master_works ? 1 : 0), -1, 0);
	if (cli->autoscale && !cli->n)
		printf("mtslurm: master %s:%d (%s job %s on %s), autoscaling 0..%d workers, run dir %s\n", mi->host,
		       mi->port, title, r->master_job, mi->node, cli->max_workers, cli->run_dir);
	else
		printf("mtslurm: master %s:%d (%s job %s on %s), %d workers (%s job %s on %s)%s, run dir %s\n",
		       mi->host, mi->port, title, r->master_job, mi->node, cli->n, title, wid[0] ? wid : "-",
		       in.nodes[0] ? in.nodes : "-", cli->autoscale ? " and autoscaling" : "", cli->run_dir);
	return 0;
}

/* Options the backend cannot take (a QOS for PBS, --select for Slurm, a
 * malformed walltime): one line, before anything is submitted. */
static void check_specs(struct cli *cli, int master)
{
	char err[600];
	struct jobnames jn;
	struct batch_spec s;
	if (!cli->batch->check)
		return;
	for (int i = master ? 0 : 1; i < 2; i++) {
		job_names(cli, i ? "workers" : "master", &jn);
		base_spec(cli, &s, &jn);
		s.script = "#!/bin/sh\n";
		s.ntasks = i ? (uint32_t)(cli->n > 0 ? cli->n : 1) : 1;
		if (i) {
			s.gres = cli->sl.gres;
			s.nodes = (uint32_t)cli->sl.nodes;
			s.ntasks_per_node = (uint32_t)cli->sl.ntasks_per_node;
			s.cpus_per_task = (uint32_t)cli->sl.cpus_per_task;
			s.select = cli->sl.select;
		}
		if (cli->batch->check(&s, err, sizeof err))
			cli_die(2, "%s", err);
	}
}

/* The batch system answers, the run dir exists (with the backend written
 * into its config), the programs are there. */
static void start_prepare(struct cli *cli, char *master_bin, char *worker_bin)
{
	char err[600], node_bin[PATH_MAX];
	apply_defaults(cli);
	check_specs(cli, 1);
	if (cli->batch->available(err, sizeof err))
		cli_die(1, "%s", err);
	if (rundir_create(cli->run_dir, err, sizeof err))
		cli_die(1, "%s", err);
	cli_record_backend(cli, cli->batch->name);
	cli_sibling(master_bin, PATH_MAX, "mtslurm-master");
	cli_sibling(worker_bin, PATH_MAX, "mtslurm-worker");
	if (!cli->no_http) /* the workers' jobs run node agents: missing, say so before submitting */
		cli_sibling(node_bin, sizeof node_bin, "mtslurm-node");
	setenv("MTSLURM_RUN_DIR", cli->run_dir, 1); /* the jobs' environment is ours */
}

int cmd_start_batch(struct cli *cli, const struct batch_ops *ops)
{
	char master_bin[PATH_MAX], worker_bin[PATH_MAX], what[64];
	struct master_info mi;
	struct slrec r;
	cli->batch = ops;
	if (cli->container)
		cli_die(2, "start --container runs the workers inside an image with --local or --in-allocation; "
			   "through %s, start the cluster inside an allocation (sbatch/salloc, then start "
			   "--in-allocation --container IMAGE)",
			ops->title);
	start_prepare(cli, master_bin, worker_bin);
	double timeout_s = cli->timeout_s >= 0 ? cli->timeout_s : 120;
	int restart = slurm_prior(cli, &r);
	slurm_start_checks(cli, restart);
	if (cli->autoscale && !restart)
		cli_write_autoscale(cli, worker_bin);

	rundir_remove_master(cli->run_dir);
	struct buf script = BUF_INIT;
	struct jobnames jn;
	job_names(cli, "master", &jn);
	struct batch_spec s;
	base_spec(cli, &s, &jn);
	s.ntasks = 1;
	master_script(cli, &script, master_bin);
	s.script = script.p;
	snprintf(what, sizeof what, "master's %s job", ops->title);
	submit_or_die(cli, &s, what, &r, 1, r.master_job);
	buf_release(&script);
	if (!restart)
		r.slots = cli->slots;
	write_rec(cli, &r);
	/* Both jobs are submitted at once, so that their start latencies
	 * overlap; the workers poll for master.json until the master serves. */
	const char *wid = "";
	if (!restart && cli->n > 0) {
		submit_workers(cli, &r, cli->n, worker_bin, 1);
		wid = r.wjob[r.nw - 1];
	}
	wait_master(cli, &r, r.master_job, timeout_s, &mi);
	if (restart) {
		int want = total_tasks(&r);
		int seen = wait_workers(cli, &r, 0, want, timeout_s, 0);
		if (cli->json)
			return print_started(cli, &mi, &r, "", want, seen, 1);
		printf("mtslurm: master restarted on %s:%d (%s job %s, node %s); %d of %d workers reconnected\n",
		       mi.host, mi.port, ops->title, r.master_job, mi.node, seen, want);
		return 0;
	}
	if (cli->n > 0)
		wait_workers(cli, &r, 0, cli->n + (cli->master_works ? 1 : 0), timeout_s, 1);
	return start_done(cli, &mi, &r, wid);
}

int cmd_add_workers_batch(struct cli *cli, const struct batch_ops *ops)
{
	char err[600], worker_bin[PATH_MAX];
	struct slrec r;
	cli->batch = ops;
	if (!cli->n_given || cli->n < 1)
		cli_die(2, "say how many workers to add with -n N (e.g. mtslurm -n 8 add-workers --time 1:00:00)");
	if (cli->container)
		cli_die(2, "add-workers --container runs the added workers inside an image for a cluster started with "
			   "--local or --in-allocation; a cluster started through %s adds %s jobs (start one inside "
			   "an allocation with start --in-allocation --container IMAGE)",
			ops->title, ops->title);
	if (read_rec(cli, &r))
		cli_die(1, "%s was not started through %s (no %s.json); add-workers needs a cluster started so",
			cli->run_dir, ops->title, ops->name);
	mts_client *c = cli_connect_quiet(cli);
	if (!c)
		cli_die(1, "the master of %s does not answer; mtslurm start restarts it", cli->run_dir);
	int before = cli_connected_workers(c);
	mts_close(c);
	apply_defaults(cli);
	check_specs(cli, 0);
	if (ops->available(err, sizeof err))
		cli_die(1, "%s", err);
	if (r.slots > 0 && cli->slots == 1)
		cli->slots = r.slots;
	cli_sibling(worker_bin, sizeof worker_bin, "mtslurm-worker");
	setenv("MTSLURM_RUN_DIR", cli->run_dir, 1);
	int from = r.nw;
	submit_workers(cli, &r, cli->n, worker_bin, 0);
	const char *id = r.wjob[r.nw - 1];
	double timeout_s = cli->timeout_s >= 0 ? cli->timeout_s : 120;
	int seen = wait_workers(cli, &r, from, (before < 0 ? 0 : before) + cli->n, timeout_s, 0);
	if (cli->json) {
		msg *o = msg_new_object();
		msg_set_int(o, "added", cli->n);
		set_id(o, "slurm_job", id);
		msg_set_str(o, "mode", ops->name);
		msg_set_str(o, "backend", ops->name);
		msg_set_int(o, "connected", seen);
		cli_print_json(o);
		return 0;
	}
	printf("mtslurm: %d workers added (%s job %s); %d connected\n", cli->n, ops->title, id, seen);
	return 0;
}

/* ---- stop ---- */

/* The worker jobs the master's autoscaler made (RUN_DIR/autoscale-jobs.json),
 * added to r as worker jobs. */
static void add_autoscaled(const struct cli *cli, struct slrec *r)
{
	msg *m = cli_read_json(cli->run_dir, "autoscale-jobs.json");
	for (msg *j = msg_child(msg_get(m, "jobs")); j && r->nw < MAX_ALLOCS; j = msg_next(j)) {
		if (msg_is_num(j) && msg_int(j) > 0)
			snprintf(r->wjob[r->nw], BATCH_ID_MAX, "%lld", (long long)msg_int(j));
		else if (msg_str(j) && *msg_str(j))
			util_strlcpy(r->wjob[r->nw], msg_str(j), BATCH_ID_MAX);
		else
			continue;
		r->wtasks[r->nw++] = 0;
	}
	msg_free(m);
}

/* Cancel every job of r and wait for them to end; how many did not. */
static int cancel_all(const struct cli *cli, const struct slrec *r)
{
	char err[600];
	int left = 0;
	if (r->master_job[0] && cli->batch->cancel(r->master_job, err, sizeof err))
		cli_die(1, "%s", err);
	for (int i = 0; i < r->nw; i++)
		if (cli->batch->cancel(r->wjob[i], err, sizeof err))
			cli_die(1, "%s", err);
	if (r->master_job[0] && wait_ended(cli, r->master_job, 15000))
		left++;
	for (int i = 0; i < r->nw; i++)
		if (wait_ended(cli, r->wjob[i], 15000))
			left++;
	return left;
}

int cli_stop_autoscaled(struct cli *cli, const struct batch_ops *ops, int grace_ms, int *njobs)
{
	struct slrec r;
	char p[RUNDIR_PATH_MAX];
	memset(&r, 0, sizeof r);
	cli->batch = ops;
	add_autoscaled(cli, &r);
	*njobs = r.nw;
	double until = now_s() + grace_ms / 1000.0;
	for (int i = 0; i < r.nw; i++) { /* told to exit by the master, their workers leave */
		double left_s = until - now_s();
		wait_ended(cli, r.wjob[i], left_s > 0 ? (int)(left_s * 1000) : 0);
	}
	int left = cancel_all(cli, &r);
	rundir_path(p, cli->run_dir, "autoscale-jobs.json");
	if (!left)
		unlink(p);
	return left;
}

static int print_stopped(const struct cli *cli, const struct slrec *r)
{
	if (cli->json) {
		msg *o = msg_new_object(), *jobs = msg_new_array();
		msg_set_bool(o, "stopped", 1);
		msg_set_str(o, "run_dir", cli->run_dir);
		msg_set_str(o, "backend", cli->batch->name);
		for (int i = -1; i < r->nw; i++) {
			const char *id = i < 0 ? (r->master_job[0] ? r->master_job : "0") : r->wjob[i];
			int64_t n;
			msg_push(jobs, batch_id_number(id, &n) ? msg_new_int(n) : msg_new_str(id));
		}
		msg_add(o, "slurm_jobs", jobs); /* the key of the Slurm-only days, kept */
		cli_print_json(o);
		return 0;
	}
	printf("mtslurm: stopped the cluster in %s (%s jobs %s", cli->run_dir, cli->batch->title,
	       r->master_job[0] ? r->master_job : "0");
	for (int i = 0; i < r->nw; i++)
		printf(", %s", r->wjob[i]);
	printf(" ended)\n");
	return 0;
}

int cmd_stop_batch(struct cli *cli, const struct batch_ops *ops)
{
	char err[600], lp[RUNDIR_PATH_MAX];
	struct slrec r;
	cli->batch = ops;
	rec_path(lp, cli);
	if (read_rec(cli, &r))
		cli_die(1, "cannot read %s; cancel the cluster's %s jobs by hand", lp, ops->title);
	if (ops->available(err, sizeof err))
		cli_die(1, "%s (the cluster's %s jobs are listed in %s)", err, ops->title, lp);
	int timeout_ms = cli->timeout_s >= 0 ? (int)(cli->timeout_s * 1000) : 20000;
	mts_client *c = cli_connect_quiet(cli);
	if (c) {
		/* The master tells its workers to leave, then exits; their
		 * jobs end by themselves. */
		mts_shutdown(c);
		mts_close(c);
		if (r.master_job[0])
			wait_ended(cli, r.master_job, timeout_ms);
		add_autoscaled(cli, &r); /* complete now that the master is gone */
		for (int i = 0; i < r.nw; i++)
			wait_ended(cli, r.wjob[i], 5000);
	} else {
		add_autoscaled(cli, &r);
	}
	int left = cancel_all(cli, &r);
	rundir_remove_master(cli->run_dir);
	if (left)
		cli_die(1, "%d of the cluster's %s jobs (listed in %s) did not end within 15 s of being cancelled",
			left, ops->title, lp);
	unlink(lp);
	rundir_path(lp, cli->run_dir, "autoscale-jobs.json");
	unlink(lp);
	return print_stopped(cli, &r);
}

/* ---- status ---- */

static msg *job_obj(const char *id, const char *role, int tasks, struct batch_info *in, const char *err)
{
	msg *o = msg_new_object();
	set_id(o, "id", id);
	msg_set_str(o, "role", role);
	if (tasks)
		msg_set_int(o, "tasks", tasks);
	if (err) {
		msg_set_str(o, "error", err);
		return o;
	}
	msg_set_str(o, "state", in->state_name);
	if (in->reason[0])
		msg_set_str(o, "reason", in->reason);
	msg_set_str(o, "nodes", in->nodes);
	if (in->end)
		msg_set_int(o, "end", (int64_t)in->end);
	return o;
}

/* status's lines: "slurm    workers job 12 (4 tasks): RUNNING on n[1-2]" */
static void print_jobs(const struct cli *cli, msg *jobs)
{
	for (msg *o = msg_child(jobs); o; o = msg_next(o)) {
		char id[BATCH_ID_MAX];
		int64_t tasks = 0;
		get_id(o, "id", id);
		msg_get_int(o, "tasks", &tasks);
		const char *e = msg_get_str(o, "error");
		const char *role = msg_get_str(o, "role");
		if (e) {
			printf("%-8s %s job %s: %s\n", cli->batch->name, role, id, e);
			continue;
		}
		const char *reason = msg_get_str(o, "reason"), *nodes = msg_get_str(o, "nodes");
		printf("%-8s %s job %s (%lld task%s): %s%s%s%s%s%s\n", cli->batch->name, role, id, (long long)tasks,
		       tasks == 1 ? "" : "s", msg_get_str(o, "state"), nodes && *nodes ? " on " : "",
		       nodes ? nodes : "", reason ? " (" : "", reason ? reason : "", reason ? ")" : "");
	}
}

void cli_batch_status(struct cli *cli, msg *status, int *launched)
{
	struct slrec r;
	if (!(cli->batch = cli_batch_mode(cli)) || read_rec(cli, &r))
		return;
	if (launched)
		*launched = 0;
	char err[600];
	int ok = cli->batch->available(err, sizeof err) == 0;
	msg *jobs = msg_new_array();
	struct batch_info in;
	for (int i = -1; i < r.nw; i++) {
		const char *id = i < 0 ? r.master_job : r.wjob[i];
		if (!id[0])
			continue;
		int q = ok && cli->batch->query(id, &in, err, sizeof err) == 0;
		if (launched && i >= 0 && q && in.state == BATCH_RUNNING)
			*launched += r.wtasks[i]; /* workers the system runs (autoscaled ones are not listed) */
		msg_push(jobs, job_obj(id, i < 0 ? "master" : "workers", i < 0 ? 1 : r.wtasks[i], &in, q ? NULL : err));
	}
	if (status) {
		msg_add(status, cli->batch->name, jobs); /* "slurm": [...] */
		return;
	}
	print_jobs(cli, jobs);
	msg_free(jobs);
}
