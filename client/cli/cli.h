/* SPDX-License-Identifier: MIT */
/*
 * cli: the `mtslurm` command's shared pieces -- the parsed command line and
 * the helpers every command uses (connect, die with a one-line message).
 * One file per noun: cmd_start.c (start, stop, local add-workers),
 * cmd_submit.c, cmd_wait.c, cmd_query.c (status, jobs, workers, logs),
 * cmd_cancel.c (cancel, forget), cmd_batch.c (batch systems: Slurm); base.c the
 * helpers every command uses, cluster.c what the launch commands share about
 * a cluster, records.c job records by id; cmdtab.c holds the command and
 * option tables, main.c parses the command line and dispatches through the
 * command table.
 */
#ifndef MTS_CLI_H
#define MTS_CLI_H

#include <stddef.h>

#include <stdint.h>

#include "msg.h"
#include "mtslurm.h"

struct batch_ops;
#include "rundir.h"

#define CLI_MAX_ENV 256

struct cli {
	const char *cmd;
	int help; /* --help */
	char run_dir[RUNDIR_PATH_MAX];
	const char *run_dir_opt;
	int n;            /* -n: workers */
	int n_given;
	int local, json, use_stdin, all, master_works;
	int slots, prefetch;
	int oversubscribe; /* --oversubscribe: slots above the node's cores */
	const char *max_queued; /* passed to the master as given */
	const char *http;       /* start --http HOST:PORT, passed to the master */
	int no_http;            /* start --no-http */
	int http_tls;           /* start --http-tls, passed to the master */
	double timeout_s; /* --timeout: < 0 unset */
	/* submit */
	const char *kind;  /* "echo", "exec", "func" */
	const char *value; /* --echo MSG / --exec CMD / --func TARGET */
	double delay, job_timeout;
	double time_request_s; /* --time-request */
	int ranks;             /* --ranks */
	int crash_limit;       /* --crash-limit; 0: the master's default */
	int prio, retries;
	const char *after; /* "1,2,3" */
	const char *cwd;
	const char *export_env; /* --export: mts_job.export_env */
	const char *env[CLI_MAX_ENV];
	int nenv;
	/* containers (submit, start): --container IMAGE --runtime R
	 * --volume SRC:DST[:ro] --container-cwd DIR --container-env K=V */
	const char *container, *runtime, *container_cwd;
	const char *volume[CLI_MAX_ENV];
	int nvolume;
	const char *cenv[CLI_MAX_ENV];
	int ncenv;
	int cpus, gpus, pin; /* --cpus, --gpus, --pin (and --mem SIZE, in sl.mem) */
	const char *resource[32]; /* start --resource K=V: given to every worker */
	int nresource;
	/* batch systems (start, add-workers): NULL / 0 = $MTSLURM_* default, else the system's */
	const char *backend;            /* --backend NAME (--local: "local") */
	const struct batch_ops *batch;  /* the one in use (cmd_batch.c) */
	int in_allocation;
	int autoscale, max_workers, workers_per_alloc;
	double idle_timeout_s; /* < 0 unset */
	struct {
		const char *partition, *time, *account, *qos, *constraint, *gres, *mem, *job_name;
		const char *master_host; /* address the master binds (default all) */
		const char *select;      /* --select: PBS Pro's select statement for the workers */
		int nodes, ntasks_per_node, cpus_per_task;
		const char *extra[32]; /* --sbatch-arg */
		int nextra;
	} sl;
	/* queries */
	const char *state;
	long limit;
	const char *stream;
	double before_s; /* forget --before: < 0 unset */
	/* job types, worker types, typed jobs (cmd_types.c) */
	const char *worker_type, *endpoint, *schema; /* type add */
	const char *executor, *command, *target;     /* worker-type add */
	const char *param[CLI_MAX_ENV];              /* --param K=V */
	int nparam;
	const char *type_name;                       /* submit --type (a job type), launch-worker --type (a worker type) */
	const char *ext_id;                          /* submit --id EXT */
	/* nodes (cmd_node.c) */
	const char *node;       /* launch-worker --node NAME or URL */
	int count;              /* launch-worker --count */
	const char *node_ports; /* start --node-ports A-B */
	/* job arrays (cmd_array.c) */
	const char *array;     /* submit --array SET; jobs/cancel/wait --array ID */
	const char *each_line; /* submit --each-line FILE */
	const char *from_json; /* submit --from-json FILE */
	int ids_only;          /* jobs --array ID --ids */
	/* git checkouts (cmd_git.c) */
	const char *git_url, *git_branch, *git_commit, *git_workdir, *git_setup; /* submit --git ... */
	/* pipelines (cmd_pipeline.c) */
	int wait;           /* pipeline run --wait */
	const char *stage;  /* pipeline results --stage NAME */
	char **pos; /* positional arguments after the command word */
	int npos;
};

/* One command of the table (cmdtab.c). */
struct cli_command {
	const char *name;
	int (*run)(struct cli *cli);
	const char *opts;     /* " --a --b ": the options it takes (canonical names) */
	int max_pos;          /* positional arguments it takes; -1: any number */
	const char *pos_what; /* what they are, for "takes ..." errors */
	const char *help;     /* `mtslurm NAME --help` */
};
/* One option the command line knows; alias is its short form or NULL.
 * set stores its value (NULL for an option without one, or an optional
 * value that was not given) into the struct cli field at off; integers must
 * lie in lo..hi, else the command dies with range_msg (options.c). */
enum cli_value { CLI_NO_VALUE, CLI_VALUE, CLI_OPTIONAL_VALUE };
struct cli_option {
	const char *name, *alias;
	enum cli_value takes;
	void (*set)(struct cli *cli, const struct cli_option *o, const char *value);
	size_t off;
	long lo, hi;
	const char *range_msg;
};
/* The setters of the option table (options.c). */
void opt_flag(struct cli *cli, const struct cli_option *o, const char *v);
void opt_str(struct cli *cli, const struct cli_option *o, const char *v);
void opt_int(struct cli *cli, const struct cli_option *o, const char *v);
void opt_long(struct cli *cli, const struct cli_option *o, const char *v);
void opt_num(struct cli *cli, const struct cli_option *o, const char *v);
void opt_duration(struct cli *cli, const struct cli_option *o, const char *v);
void opt_workers(struct cli *cli, const struct cli_option *o, const char *v);
void opt_kind(struct cli *cli, const struct cli_option *o, const char *v);
void opt_env(struct cli *cli, const struct cli_option *o, const char *v);
void opt_container_list(struct cli *cli, const struct cli_option *o, const char *v);
void opt_sbatch_arg(struct cli *cli, const struct cli_option *o, const char *v);
void opt_stream(struct cli *cli, const struct cli_option *o, const char *v);
void opt_max_queued(struct cli *cli, const struct cli_option *o, const char *v);
extern const char cli_usage_text[];
/* The command called name, or NULL. */
const struct cli_command *cmdtab_find(const char *name);
/* The option spelled word (long name or alias), or NULL. */
const struct cli_option *cmdtab_option(const char *word);
/* Whether command c takes the option of canonical name opt. */
int cmdtab_takes(const struct cli_command *c, const char *opt);
/* The command or option nearest to a mistyped word, or NULL. */
const char *cmdtab_suggest_command(const char *word);
const char *cmdtab_suggest_option(const char *word);

/* Print "mtslurm: <message>" on stderr and exit with code. */
void cli_die(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3), noreturn));
/* The container of --container (submit, start) into *c (with the arrays
 * it points to in vols and envs, CLI_MAX_ENV + 1 each): a path image
 * (one with a '/' and no "://") made absolute, and it must exist here.
 * 0 without --container; dies with a one-line message on bad input. */
int cli_container(struct cli *cli, mts_container *c, const char **vols, const char **envs, char *image,
		  size_t image_len);
/* Connect to the cluster of cli->run_dir or die with the library's message. */
mts_client *cli_connect(struct cli *cli);
/* Parse a decimal job id or die. */
mts_job_id cli_job_id(const char *s);
/* Die with the handle's last error (mts_errmsg, else mts_strerror(rc)),
 * after closing it. Exit status 1. */
void cli_die_api(mts_client *c, int rc) __attribute__((noreturn));
/* Parse JSON text the library returned, or die. Free with msg_free. */
msg *cli_parse(const char *json);
/* Read the five per-state counters of a {"queued":N,...} object (0 if
 * absent). */
void cli_counts(const msg *jobs, int64_t *queued, int64_t *running, int64_t *completed, int64_t *failed,
		int64_t *cancelled);

/* The records of these jobs (records.c): one JSON array, in the master's
 * order, of the ids that exist (each once); dies on failure. Free with
 * msg_free. */
msg *cli_records(mts_client *c, const mts_job_id *ids, size_t n);
/* An index of records by id. The entries borrow the records: keep the array
 * alive while the index is used. `seen` is the caller's mark (0 at build). */
struct cli_rec {
	int64_t id;
	const msg *rec;
	int seen;
};
struct cli_recidx {
	struct cli_rec *v;
	size_t n;
};
void cli_recidx_build(struct cli_recidx *x, const msg *records);
/* The entry of id, or NULL if id has no record. */
struct cli_rec *cli_recidx_find(const struct cli_recidx *x, int64_t id);
void cli_recidx_free(struct cli_recidx *x);
/* 1 if a record's state is not final: queued, prefetched (in a worker's
 * window, not started) or running; NULL: 0. */
int cli_state_live(const char *state);

/* Print m as one line of JSON on stdout and free it (dies on OOM). */
void cli_print_json(msg *m);
/* "90", "90s", "5m", "2h", "7d": seconds, or dies naming opt. */
double cli_duration(const char *opt, const char *v);

/* Shared by start and stop (cmd_start.c). */
void cli_sleep_ms(int ms);
/* Path of mtslurm-master / mtslurm-worker: $MTSLURM_LIBEXEC, else next to
 * this executable; dies if it is not there. */
void cli_sibling(char *out, size_t n, const char *name);
/* Last non-empty line of a file ("" if none), for "why did it die". */
void cli_last_line(const char *path, char *out, size_t n);
/* DIR/name parsed as JSON; NULL if missing or not JSON. msg_free it. */
msg *cli_read_json(const char *dir, const char *name);
/* Write DIR/name atomically (temp file + rename), mode 0600, or die. */
void cli_write_file(const char *dir, const char *name, const char *text, size_t n);
/* Connect with a 5 s timeout; NULL if the master does not answer. */
mts_client *cli_connect_quiet(struct cli *cli);
/* Workers connected to c's master, -1 if it cannot be asked. */
int cli_connected_workers(mts_client *c);

int cmd_start(struct cli *cli);
int cmd_stop(struct cli *cli);
int cmd_status(struct cli *cli);
int cmd_submit(struct cli *cli);
int cmd_wait(struct cli *cli);
int cmd_jobs(struct cli *cli);
int cmd_explain(struct cli *cli);
int cmd_logs(struct cli *cli);
int cmd_cancel(struct cli *cli);
int cmd_workers(struct cli *cli);
int cmd_forget(struct cli *cli);
int cmd_type(struct cli *cli);
int cmd_types(struct cli *cli);
/* pipeline run|status|cancel|results (cmd_pipeline.c). */
int cmd_pipeline(struct cli *cli);
int cmd_worker_type(struct cli *cli);
int cmd_worker_types(struct cli *cli);
int cmd_dlq(struct cli *cli);
/* submit --type: one typed job (cmd_types.c). */
int cli_submit_typed(struct cli *cli);
/* submit --git: fill g (its url and commit in url_buf and commit, 41
 * bytes) from the git options, the branch resolved now; dies with
 * libgit2's reason. A no-op without --git. */
void cli_git_job(struct cli *cli, mts_git *g, char *url_buf, size_t url_n, char *commit);
/* submit --type: a run-script payload's environment.git with a branch and
 * no commit gets the branch's commit now (dies if it cannot be resolved). */
void cli_git_payload(msg *payload);
int cmd_git(struct cli *cli);
void opt_param(struct cli *cli, const struct cli_option *o, const char *v);
/* Job arrays (cmd_array.c): submit --array/--each-line/--from-json with
 * the template tmpl, and jobs/cancel/wait --array ID. */
int cli_submit_array(struct cli *cli, const mts_job *tmpl);
/* The whole of file path ("-": standard input) as a NUL-terminated string
 * (free it); dies "WHAT PATH: why" (what NULL: "cannot read") if it cannot
 * be read (base.c). */
char *cli_read_file(const char *path, const char *what);
int cli_jobs_array(struct cli *cli);
int cli_cancel_array(struct cli *cli);
int cli_wait_array(struct cli *cli);
void opt_resource(struct cli *cli, const struct cli_option *o, const char *v);
int cmd_nodes(struct cli *cli);
int cmd_launch_worker(struct cli *cli);
/* POST body to the master's HTTP endpoint path; the HTTP status, with the
 * response body in *resp (free it); dies if there is no answer (cmd_node.c). */
long cli_api_post(struct cli *cli, const char *path, const char *body, char **resp);
/* start: wait until the node agents it launched registered with the
 * master -- want 0: the one node agent of pid; want > 0: want of them,
 * launched by the srun of pid (pid 0: by a Slurm job) (cmd_node.c). 0, -1 if pid exited, -2 after
 * timeout_ms; *seen (may be NULL): how many had registered. */
int cli_node_wait(struct cli *cli, long pid, int want, int timeout_ms, int *seen);
/* add-workers for a local or in-allocation cluster (cmd_start.c). */
int cmd_add_workers_local(struct cli *cli);
/* The workers a local or in-allocation cluster should have (launch.json's
 * "expected"), -1 without launch.json (cmd_start.c). */
int cli_expected_workers(struct cli *cli);
/* How the run dir's cluster was started (launch.json): mode "local" or
 * "allocation", and in an allocation the backend's name ("slurm", "pbs";
 * "" if not recorded) and the allocation's id (alloc: BATCH_ID_MAX bytes).
 * 0, or -1 without launch.json (cmd_start.c). */
int cli_launch_mode(struct cli *cli, char mode[16], char backend[16], char alloc[64]);


/* Batch mode (cmd_batch.c): the master and the workers as jobs of a batch
 * system, through slurm/batch.h's table. */
/* The backend a start uses: --local (= --backend local), else --backend,
 * else $MTSLURM_BACKEND, else RUN_DIR/config's MTSLURM_BACKEND (yours, or
 * the batch backend the last start there used), else what the machine has
 * ("auto": Slurm's configuration, else local). Dies with the known names
 * on an unknown one. */
const struct batch_ops *cli_backend(struct cli *cli);
/* The batch backend the run dir's cluster was started through (its record
 * RUN_DIR/NAME.json, slurm.json for Slurm, exists; the one RUN_DIR/config
 * names is looked for first); NULL for a local or in-allocation cluster. */
const struct batch_ops *cli_batch_mode(const struct cli *cli);
/* Write MTSLURM_BACKEND=name into RUN_DIR/config (the user's other lines
 * kept): the default of the next start there. A start through a batch
 * system does; a local one does not, so that `--local` once does not turn
 * the next plain start on a cluster into a local one. */
void cli_record_backend(struct cli *cli, const char *name);
int cmd_start_batch(struct cli *cli, const struct batch_ops *ops);
int cmd_add_workers_batch(struct cli *cli, const struct batch_ops *ops);
int cmd_stop_batch(struct cli *cli, const struct batch_ops *ops);
/* For a cluster started through a batch system: add {"slurm":[jobs]}
 * (the backend's name) to a status object (json) or print its lines; with
 * launched non-NULL, also the tasks of its worker jobs the system runs.
 * Nothing otherwise. */
void cli_batch_status(struct cli *cli, msg *status, int *launched);
/* --autoscale and its options go together (dies saying which is missing). */
void cli_autoscale_checks(const struct cli *cli);
/* RUN_DIR/autoscale.json for the master's autoscaler: the worker job of
 * cli->batch (its script through worker_launchers), the limits. */
void cli_write_autoscale(struct cli *cli, const char *worker_bin);
/* End the worker jobs the master's autoscaler made through ops
 * (RUN_DIR/autoscale-jobs.json): wait up to grace_ms for them to end by
 * themselves, then cancel what is left; *njobs says how many there were.
 * Returns how many did not end (the file is kept then). */
int cli_stop_autoscaled(struct cli *cli, const struct batch_ops *ops, int grace_ms, int *njobs);
/* Append s single-quoted for sh. */
struct buf;
void cli_shq(struct buf *b, const char *s);
/* A local job's script (cmd_start.c): MTSLURM_BATCH_NTASKS worker ranks
 * here through mpirun, with the words and settings a local start uses. */
void cli_local_workers_script(struct cli *cli, struct buf *b, const char *worker_bin);

#endif
