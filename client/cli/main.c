/* SPDX-License-Identifier: MIT */
/*
 * main: `mtslurm`'s command line. Options may stand before or after the
 * command word (`mtslurm -n 4 --local start` == `mtslurm start -n 4
 * --local`); everything that is neither an option nor the command word is a
 * positional argument of the command.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* Per-command usage, shown by `mtslurm CMD --help`. */
static const struct {
	const char *cmd, *text;
} cmd_usage[] = {
	{"start", "usage: mtslurm -n N --local start [--slots S] [--master-works] [--prefetch P] [--timeout SECONDS]\n"
		  "Start a master and N workers (mpirun) on this machine; waits until all N workers connected.\n"
		  "  -n N            workers (MPI ranks)\n"
		  "  --local         run on this machine (required; Slurm mode is not available yet)\n"
		  "  --slots S       jobs each worker runs at once (default 1)\n"
		  "  --master-works  the master also runs jobs (one more worker)\n"
		  "  --prefetch P    jobs queued on a worker beyond its slots (master default)\n"
		  "  --max-queued N  unfinished jobs the master holds before it stops reading submits\n"
		  "                  (backpressure; default 20,000,000)\n"
		  "  --timeout S     how long to wait for the workers (default 60)\n"},
	{"stop", "usage: mtslurm stop [--timeout SECONDS]\n"
		 "Ask the master to shut down, wait for it and the workers to exit, then SIGTERM/SIGKILL\n"
		 "what is left of the processes recorded in the run directory (default timeout 20 s).\n"},
	{"status", "usage: mtslurm status [--json]\n"
		   "Master address, pid, uptime; workers and slots; jobs by state.\n"},
	{"submit", "usage: mtslurm submit (--exec CMD | --echo MSG [--delay S] | --func LIB.so:fn [JSON]) [options]\n"
		   "       mtslurm submit (--exec | --echo | --func LIB.so:fn) --stdin [options]\n"
		   "Prints each job id on its own line once the master stored the job durably.\n"
		   "  --stdin         one job per input line (the command, message or JSON argument)\n"
		   "  --prio P        higher runs first among your jobs (default 0)\n"
		   "  --retries R     re-queues after a lost worker (default 3)\n"
		   "  --crash-limit N func: fail once the function crashed its host N times (default 1)\n"
		   "  --after ID,ID   run only after these jobs completed\n"
		   "  --timeout S     kill the job after S seconds\n"
		   "  --ranks N       exec: run the command as N MPI ranks (srun --overlap in Slurm,\n"
		   "                  mpirun outside), holding N slots of one worker\n"
		   "  --time-request T  the job needs T (90, 5m, 2h): only a worker whose Slurm job\n"
		   "                  has that much time left runs it\n"
		   "  --cwd DIR       exec: working directory (default: the current one)\n"
		   "  --env K=V       exec: set a variable (repeatable)\n"
		   "  --env-pass NAME exec: pass this variable's current value (repeatable)\n"},
	{"wait", "usage: mtslurm wait (--all | ID...) [--timeout SECONDS]\n"
		 "Wait until the jobs (--all: every job in the cluster) are final.\n"
		 "Exit 0: all completed; 1: some failed or were cancelled; 2: timeout.\n"},
	{"jobs", "usage: mtslurm jobs [--state queued|running|completed|failed|cancelled] [--limit N] [--json]\n"
		 "List jobs in id order (all of them unless --limit).\n"},
	{"logs", "usage: mtslurm logs ID [--stream out|err] [--json]\n"
		 "Print a job's standard output (to stdout) and standard error (to stderr);\n"
		 "--json: one object {id, attempt, state, worker, stdout, stderr}.\n"},
	{"cancel", "usage: mtslurm cancel (ID... | --all)\n"
		   "Cancel queued or running jobs. Exit 1 if an id does not exist.\n"},
	{"workers", "usage: mtslurm workers [--json]\n"
		    "The connected workers: id, node, pid, rank, slots, running jobs, jobs done, state.\n"},
};

static const char usage[] =
	"usage: mtslurm [options] COMMAND [arguments]\n"
	"\n"
	"commands:\n"
	"  start        start a cluster: -n N --local [--slots S] [--master-works] [--prefetch P] [--timeout S]\n"
	"  stop         stop the cluster; nothing is left running [--timeout S]\n"
	"  status       master address, uptime, workers, jobs by state [--json]\n"
	"  submit       --exec CMD | --echo MSG [--delay S] | --func LIB.so:fn [JSON] | ... --stdin\n"
	"               [--prio P] [--retries R] [--after ID,ID] [--timeout S] [--time-request T] [--cwd DIR]\n"
	"               [--env K=V]... [--env-pass NAME]...   prints one job id per line\n"
	"  wait         --all | ID...  [--timeout S]   exit 1 if a job failed or was cancelled\n"
	"  jobs         [--state S] [--limit N] [--json]\n"
	"  logs         ID [--stream out|err]\n"
	"  cancel       ID... | --all\n"
	"  workers      [--json]\n"
	"\n"
	"Every command finds the cluster through --run-dir DIR, else $MTSLURM_RUN_DIR,\n"
	"else ~/.mtslurm/default.\n";

void cli_die(int code, const char *fmt, ...)
{
	va_list ap;
	fputs("mtslurm: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(code);
}

void cli_die_api(mts_client *c, int rc)
{
	char msgbuf[600];
	snprintf(msgbuf, sizeof msgbuf, "%s", c && *mts_errmsg(c) ? mts_errmsg(c) : mts_strerror(rc));
	mts_close(c);
	cli_die(1, "%s", msgbuf);
}

msg *cli_parse(const char *json)
{
	char err[128];
	msg *m = msg_parse(json, strlen(json), err, sizeof err);
	if (!m)
		cli_die(1, "the master sent unreadable JSON (%s)", err);
	return m;
}

void cli_counts(const msg *jobs, int64_t *q, int64_t *r, int64_t *done, int64_t *failed, int64_t *cancelled)
{
	*q = *r = *done = *failed = *cancelled = 0;
	msg_get_int(jobs, "queued", q);
	msg_get_int(jobs, "running", r);
	msg_get_int(jobs, "completed", done);
	msg_get_int(jobs, "failed", failed);
	msg_get_int(jobs, "cancelled", cancelled);
}

mts_client *cli_connect(struct cli *cli)
{
	mts_client *c = NULL;
	mts_options o = MTS_OPTIONS_INIT;
	o.name = "mtslurm-cli";
	o.timeout_ms = 10000;
	int rc = mts_connect(&c, cli->run_dir, &o);
	if (rc != MTS_OK)
		cli_die_api(c, rc);
	return c;
}

mts_job_id cli_job_id(const char *s)
{
	char *end;
	long long v = strtoll(s, &end, 10);
	if (!*s || *end || v <= 0)
		cli_die(2, "'%s' is not a job id (a positive number)", s);
	return (mts_job_id)v;
}

static const char *need(int argc, char **argv, int *i)
{
	if (*i + 1 >= argc)
		cli_die(2, "option %s needs a value (mtslurm --help)", argv[*i]);
	return argv[++*i];
}

static double num(const char *opt, const char *v)
{
	char *end;
	double d = strtod(v, &end);
	if (!*v || *end || d < 0)
		cli_die(2, "%s wants a non-negative number, not '%s'", opt, v);
	return d;
}

static int integer(const char *opt, const char *v)
{
	char *end;
	long l = strtol(v, &end, 10);
	if (!*v || *end || l < -1000000000 || l > 1000000000)
		cli_die(2, "%s wants an integer, not '%s'", opt, v);
	return (int)l;
}

static const char *commands[] = {"start", "stop", "status", "submit", "wait", "add-workers",
				 "jobs", "logs", "cancel", "workers", NULL};

static int is_command(const char *s)
{
	for (int i = 0; commands[i]; i++)
		if (!strcmp(s, commands[i]))
			return 1;
	return 0;
}

/* --echo / --exec take an optional value: the next word unless it is an
 * option. */
static const char *optional_value(int argc, char **argv, int *i)
{
	if (*i + 1 < argc && argv[*i + 1][0] != '-')
		return argv[++*i];
	return NULL;
}

/* "90", "90s", "5m", "2h": seconds. */
static double duration(const char *opt, const char *v)
{
	char *end;
	double x = strtod(v, &end);
	double mul = !*end ? 1 : !strcmp(end, "s") ? 1 : !strcmp(end, "m") ? 60 : !strcmp(end, "h") ? 3600 : -1;
	if (end == v || mul < 0 || x < 0)
		cli_die(2, "%s wants a duration like 90, 90s, 5m or 2h, not '%s'", opt, v);
	return x * mul;
}

int main(int argc, char **argv)
{
	/* Static: what it points to stays reachable until exit. */
	static struct cli cli;
	cli.timeout_s = -1;
	cli.retries = -1;
	cli.slots = 1;
	cli.prefetch = -1;
	cli.idle_timeout_s = -1;
	int help = 0;
	cli.pos = calloc((size_t)argc + 1, sizeof *cli.pos);
	if (!cli.pos)
		cli_die(1, "out of memory");
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			help = 1;
		} else if (!strcmp(a, "-n") || !strcmp(a, "--workers")) {
			cli.n = integer(a, need(argc, argv, &i));
			cli.n_given = 1;
			if (cli.n < 0)
				cli_die(2, "-n wants a number of workers >= 0");
		} else if (!strcmp(a, "--run-dir")) {
			cli.run_dir_opt = need(argc, argv, &i);
		} else if (!strcmp(a, "--local")) {
			cli.local = 1;
		} else if (!strcmp(a, "--in-allocation")) {
			cli.in_allocation = 1;
		} else if (!strcmp(a, "--autoscale")) {
			cli.autoscale = 1;
		} else if (!strcmp(a, "--max-workers")) {
			cli.max_workers = integer(a, need(argc, argv, &i));
			if (cli.max_workers < 1)
				cli_die(2, "--max-workers wants at least 1");
		} else if (!strcmp(a, "--workers-per-alloc")) {
			cli.workers_per_alloc = integer(a, need(argc, argv, &i));
			if (cli.workers_per_alloc < 1)
				cli_die(2, "--workers-per-alloc wants at least 1");
		} else if (!strcmp(a, "--ranks")) {
			cli.ranks = integer(a, need(argc, argv, &i));
			if (cli.ranks < 1 || cli.ranks > 4096)
				cli_die(2, "--ranks wants a number of MPI ranks from 1 to 4096");
		} else if (!strcmp(a, "--crash-limit")) {
			cli.crash_limit = integer(a, need(argc, argv, &i));
			if (cli.crash_limit < 1 || cli.crash_limit > 255)
				cli_die(2, "--crash-limit wants a number of crashes from 1 to 255");
		} else if (!strcmp(a, "--time-request")) {
			cli.time_request_s = duration(a, need(argc, argv, &i));
		} else if (!strcmp(a, "--idle-timeout")) {
			cli.idle_timeout_s = duration(a, need(argc, argv, &i));
		} else if (!strcmp(a, "--partition") || !strcmp(a, "-p")) {
			cli.sl.partition = need(argc, argv, &i);
		} else if (!strcmp(a, "--time") || !strcmp(a, "-t")) {
			cli.sl.time = need(argc, argv, &i);
		} else if (!strcmp(a, "--account") || !strcmp(a, "-A")) {
			cli.sl.account = need(argc, argv, &i);
		} else if (!strcmp(a, "--qos")) {
			cli.sl.qos = need(argc, argv, &i);
		} else if (!strcmp(a, "--constraint") || !strcmp(a, "-C")) {
			cli.sl.constraint = need(argc, argv, &i);
		} else if (!strcmp(a, "--gres")) {
			cli.sl.gres = need(argc, argv, &i);
		} else if (!strcmp(a, "--mem")) {
			cli.sl.mem = need(argc, argv, &i);
		} else if (!strcmp(a, "--job-name") || !strcmp(a, "-J")) {
			cli.sl.job_name = need(argc, argv, &i);
		} else if (!strcmp(a, "--master-host")) {
			cli.sl.master_host = need(argc, argv, &i);
		} else if (!strcmp(a, "--nodes") || !strcmp(a, "-N")) {
			cli.sl.nodes = integer(a, need(argc, argv, &i));
			if (cli.sl.nodes < 1)
				cli_die(2, "--nodes wants at least 1");
		} else if (!strcmp(a, "--ntasks-per-node")) {
			cli.sl.ntasks_per_node = integer(a, need(argc, argv, &i));
			if (cli.sl.ntasks_per_node < 1)
				cli_die(2, "--ntasks-per-node wants at least 1");
		} else if (!strcmp(a, "--cpus-per-task") || !strcmp(a, "-c")) {
			cli.sl.cpus_per_task = integer(a, need(argc, argv, &i));
			if (cli.sl.cpus_per_task < 1)
				cli_die(2, "--cpus-per-task wants at least 1");
		} else if (!strcmp(a, "--sbatch-arg")) {
			if (cli.sl.nextra >= 32)
				cli_die(2, "too many --sbatch-arg options (at most 32)");
			cli.sl.extra[cli.sl.nextra++] = need(argc, argv, &i);
		} else if (!strcmp(a, "--json")) {
			cli.json = 1;
		} else if (!strcmp(a, "--stdin")) {
			cli.use_stdin = 1;
		} else if (!strcmp(a, "--all")) {
			cli.all = 1;
		} else if (!strcmp(a, "--master-works")) {
			cli.master_works = 1;
		} else if (!strcmp(a, "--slots")) {
			cli.slots = integer(a, need(argc, argv, &i));
			if (cli.slots < 1)
				cli_die(2, "--slots wants at least 1");
		} else if (!strcmp(a, "--max-queued")) {
			cli.max_queued = need(argc, argv, &i);
			if (integer(a, cli.max_queued) < 1)
				cli_die(2, "--max-queued wants a number >= 1");
		} else if (!strcmp(a, "--prefetch")) {
			cli.prefetch = integer(a, need(argc, argv, &i));
			if (cli.prefetch < 0)
				cli_die(2, "--prefetch wants a number >= 0");
		} else if (!strcmp(a, "--timeout")) {
			cli.timeout_s = num(a, need(argc, argv, &i));
		} else if (!strcmp(a, "--echo") || !strcmp(a, "--exec")) {
			if (cli.kind)
				cli_die(2, "give one of --echo, --exec, --func");
			cli.kind = a + 2;
			cli.value = optional_value(argc, argv, &i);
		} else if (!strcmp(a, "--func")) {
			if (cli.kind)
				cli_die(2, "give one of --echo, --exec, --func");
			cli.kind = "func";
			cli.value = need(argc, argv, &i);
		} else if (!strcmp(a, "--delay")) {
			cli.delay = num(a, need(argc, argv, &i));
		} else if (!strcmp(a, "--prio")) {
			cli.prio = integer(a, need(argc, argv, &i));
		} else if (!strcmp(a, "--retries")) {
			cli.retries = integer(a, need(argc, argv, &i));
			if (cli.retries < 0)
				cli_die(2, "--retries wants a number >= 0");
		} else if (!strcmp(a, "--after")) {
			cli.after = need(argc, argv, &i);
		} else if (!strcmp(a, "--cwd")) {
			cli.cwd = need(argc, argv, &i);
		} else if (!strcmp(a, "--env") || !strcmp(a, "--env-pass")) {
			const char *v = need(argc, argv, &i);
			if (cli.nenv >= CLI_MAX_ENV - 1)
				cli_die(2, "too many --env options (at most %d)", CLI_MAX_ENV - 1);
			if (!strcmp(a, "--env")) {
				if (!strchr(v, '='))
					cli_die(2, "--env wants NAME=VALUE, not '%s' (--env-pass NAME copies a variable)", v);
				cli.env[cli.nenv++] = v;
			} else {
				const char *val = getenv(v);
				if (!val)
					cli_die(2, "--env-pass %s: no such variable in this environment", v);
				size_t n = strlen(v) + strlen(val) + 2;
				char *kv = malloc(n);
				if (!kv)
					cli_die(1, "out of memory");
				snprintf(kv, n, "%s=%s", v, val);
				cli.env[cli.nenv++] = kv;
			}
		} else if (!strcmp(a, "--state")) {
			cli.state = need(argc, argv, &i);
		} else if (!strcmp(a, "--limit")) {
			cli.limit = integer(a, need(argc, argv, &i));
		} else if (!strcmp(a, "--stream")) {
			cli.stream = need(argc, argv, &i);
			if (strcmp(cli.stream, "out") && strcmp(cli.stream, "err"))
				cli_die(2, "--stream wants out or err");
		} else if (a[0] == '-' && a[1] && !(a[1] >= '0' && a[1] <= '9')) {
			cli_die(2, "unknown option %s (mtslurm --help)", a);
		} else if (!cli.cmd && is_command(a)) {
			cli.cmd = a;
		} else {
			cli.pos[cli.npos++] = argv[i];
		}
	}
	if (help) {
		for (size_t k = 0; cli.cmd && k < sizeof cmd_usage / sizeof cmd_usage[0]; k++)
			if (!strcmp(cli.cmd, cmd_usage[k].cmd)) {
				fputs(cmd_usage[k].text, stdout);
				return 0;
			}
		fputs(usage, stdout);
		return 0;
	}
	if (!cli.cmd) {
		if (cli.npos)
			cli_die(2, "unknown command '%s' (mtslurm --help)", cli.pos[0]);
		fputs(usage, stderr);
		return 2;
	}
	char err[512];
	if (rundir_resolve(cli.run_dir, cli.run_dir_opt, err, sizeof err))
		cli_die(2, "%s", err);
	if (!strcmp(cli.cmd, "start"))
		return cmd_start(&cli);
	if (!strcmp(cli.cmd, "stop"))
		return cli_slurm_mode(&cli) ? cmd_stop_slurm(&cli) : cmd_stop(&cli);
	if (!strcmp(cli.cmd, "add-workers"))
		return cmd_add_workers(&cli);
	if (!strcmp(cli.cmd, "status"))
		return cmd_status(&cli);
	if (!strcmp(cli.cmd, "submit"))
		return cmd_submit(&cli);
	if (!strcmp(cli.cmd, "wait"))
		return cmd_wait(&cli);
	if (!strcmp(cli.cmd, "jobs"))
		return cmd_jobs(&cli);
	if (!strcmp(cli.cmd, "logs"))
		return cmd_logs(&cli);
	if (!strcmp(cli.cmd, "cancel"))
		return cmd_cancel(&cli);
	return cmd_workers(&cli);
}
