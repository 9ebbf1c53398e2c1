/* SPDX-License-Identifier: MIT */
/*
 * cmdtab: the tables `mtslurm` is driven by -- every command with its
 * handler, the options it takes, how many positional arguments it accepts
 * and its --help text, and every option the command line knows. main.c
 * dispatches through the command table; errors ("status does not take
 * --exec", "unknown command 'sumbit'; did you mean 'submit'?") are made
 * from the tables, so a new command or option is one row here plus its
 * --help line, and tests/sys/t0150-cli.sh checks the --help texts against
 * docs/user-guide.md.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"

/* Options every command takes. */
#define GLOBAL_OPTS " --run-dir --help "
/* The Slurm options shared by start and add-workers (docs/slurm.md). */
#define SLURM_OPTS                                                                                             \
	" --partition --time --account --qos --constraint --gres --mem --job-name --nodes --ntasks-per-node "  \
	"--cpus-per-task --sbatch-arg "

static const struct cli_option options[] = {
	{"--help", "-h", 0},
	{"--run-dir", NULL, 1},
	{"--workers", "-n", 1},
	{"--local", NULL, 0},
	{"--in-allocation", NULL, 0},
	{"--autoscale", NULL, 0},
	{"--max-workers", NULL, 1},
	{"--workers-per-alloc", NULL, 1},
	{"--idle-timeout", NULL, 1},
	{"--partition", "-p", 1},
	{"--time", "-t", 1},
	{"--account", "-A", 1},
	{"--qos", NULL, 1},
	{"--constraint", "-C", 1},
	{"--gres", NULL, 1},
	{"--mem", NULL, 1},
	{"--job-name", "-J", 1},
	{"--master-host", NULL, 1},
	{"--nodes", "-N", 1},
	{"--ntasks-per-node", NULL, 1},
	{"--cpus-per-task", "-c", 1},
	{"--sbatch-arg", NULL, 1},
	{"--json", NULL, 0},
	{"--stdin", NULL, 0},
	{"--all", NULL, 0},
	{"--master-works", NULL, 0},
	{"--slots", NULL, 1},
	{"--oversubscribe", NULL, 0},
	{"--max-queued", NULL, 1},
	{"--prefetch", NULL, 1},
	{"--timeout", NULL, 1},
	{"--echo", NULL, 0}, /* optional value: parsed by main.c */
	{"--exec", NULL, 0},
	{"--func", NULL, 1},
	{"--delay", NULL, 1},
	{"--prio", NULL, 1},
	{"--retries", NULL, 1},
	{"--after", NULL, 1},
	{"--ranks", NULL, 1},
	{"--time-request", NULL, 1},
	{"--crash-limit", NULL, 1},
	{"--cwd", NULL, 1},
	{"--export", NULL, 1},
	{"--env", NULL, 1},
	{"--env-pass", NULL, 1},
	{"--state", NULL, 1},
	{"--limit", NULL, 1},
	{"--stream", NULL, 1},
	{"--before", NULL, 1},
	{NULL, NULL, 0},
};

static int run_stop(struct cli *cli) { return cli_slurm_mode(cli) ? cmd_stop_slurm(cli) : cmd_stop(cli); }
static int run_add_workers(struct cli *cli)
{
	return cli_slurm_mode(cli) ? cmd_add_workers(cli) : cmd_add_workers_local(cli);
}

static const struct cli_command commands[] = {
	{"start", cmd_start,
	 " --workers --local --in-allocation --slots --oversubscribe --master-works --prefetch --max-queued "
	 "--timeout --json --autoscale --max-workers --workers-per-alloc --idle-timeout --master-host " SLURM_OPTS,
	 0, NULL,
	 "usage: mtslurm -n N --local start [options]       (master and workers on this machine)\n"
	 "       mtslurm -n N start [Slurm options]         (the master and workers as Slurm jobs)\n"
	 "       mtslurm start --in-allocation [-n N]       (inside your sbatch/salloc allocation)\n"
	 "       mtslurm start --autoscale --max-workers M  (Slurm: worker jobs on demand)\n"
	 "Start a master and N workers; waits until the master serves and all N workers connected.\n"
	 "  -n, --workers N   workers (MPI ranks; inside an allocation: one per task by default)\n"
	 "  --local           run on this machine (mpirun); without it and --in-allocation: Slurm mode\n"
	 "  --in-allocation   run inside the current Slurm allocation (srun)\n"
	 "  --slots S         jobs each worker runs at once (default 1; at most this node's cores)\n"
	 "  --oversubscribe   allow --slots above this node's cores\n"
	 "  --master-works    the master also runs jobs (one more worker)\n"
	 "  --prefetch P      jobs queued on a worker beyond its slots (master default)\n"
	 "  --max-queued N    unfinished jobs the master holds before it stops reading submits\n"
	 "                    (backpressure; default 20,000,000)\n"
	 "  --timeout S       overall limit for the master to load its store and serve, and for\n"
	 "                    the workers to connect (default 60 locally, 120 with Slurm)\n"
	 "  --json            print {master, pid, workers, run_dir, ...} as one JSON object\n"
	 "Slurm mode (docs/slurm.md):\n"
	 "  -p, --partition P   -t, --time T   -A, --account A   --qos Q   -C, --constraint F\n"
	 "  --mem M   --gres G   -N, --nodes N   --ntasks-per-node K   -c, --cpus-per-task C\n"
	 "  -J, --job-name NAME   --sbatch-arg ARG (repeatable)   --master-host ADDR\n"
	 "  --autoscale   --max-workers M   --idle-timeout T   --workers-per-alloc K\n"},
	{"stop", run_stop, " --timeout --json ", 0, NULL,
	 "usage: mtslurm stop [--timeout SECONDS] [--json]\n"
	 "Ask the master to shut down (it tells its workers to exit), wait for it and mpirun, then\n"
	 "SIGTERM/SIGKILL what is left of the processes start launched on this node (the master of\n"
	 "master.json and the mpirun of launch.json, each checked by its command line; default\n"
	 "timeout 20 s). With Slurm: cancels the cluster's Slurm jobs.\n"
	 "  --timeout S   how long to wait for the master and mpirun to exit\n"
	 "  --json        print what was stopped as one JSON object\n"},
	{"status", cmd_status, " --json ", 0, NULL,
	 "usage: mtslurm status [--json]\n"
	 "Master address, pid, uptime; workers and slots; jobs by state.\n"
	 "  --json   the master's status object\n"},
	{"submit", cmd_submit,
	 " --exec --echo --func --delay --stdin --prio --retries --after --timeout --ranks --time-request --crash-limit --cwd "
	 "--export --env --env-pass --json ",
	 1, "one command, message or JSON argument",
	 "usage: mtslurm submit (--exec CMD | --echo MSG [--delay S] | --func LIB.so:fn [JSON]) [options]\n"
	 "       mtslurm submit (--exec | --echo | --func LIB.so:fn) --stdin [options]\n"
	 "Prints each job id on its own line once the master stored the job durably.\n"
	 "  --exec CMD      run a command line\n"
	 "  --echo MSG      answer MSG (tests, benchmarks)\n"
	 "  --delay S       echo: wait S seconds first\n"
	 "  --func LIB.so:fn  call a C function with the JSON argument (default {})\n"
	 "  --stdin         one job per input line (the command, message or JSON argument)\n"
	 "  --prio P        higher runs first among your jobs (default 0)\n"
	 "  --retries R     re-queues after a lost worker (default 3)\n"
	 "  --crash-limit N func: fail once the function crashed its host N times (default 1)\n"
	 "  --after ID,ID   run only after these jobs completed\n"
	 "  --timeout S     kill the job after S seconds\n"
	 "  --ranks N       exec: run the command as N MPI ranks (srun in Slurm, mpirun\n"
	 "                  outside), holding N slots of one worker; refused when\n"
	 "                  workers are connected and none has N slots\n"
	 "  --time-request T  the job needs T (90, 5m, 2h): only a worker whose Slurm job\n"
	 "                  has that much time left runs it\n"
	 "  --cwd DIR       exec: working directory (default: the current one)\n"
	 "  --export ALL|NONE|NAME[=VALUE],...  exec: the environment the job sees, as\n"
	 "                  sbatch's: ALL (default) this shell's; NONE a minimal one (PATH,\n"
	 "                  HOME, USER, LOGNAME, SHELL); a list: the minimal one plus those\n"
	 "                  (ALL,NAME=VALUE: all plus those). Jobs also get MTSLURM_JOB_ID,\n"
	 "                  MTSLURM_ATTEMPT, MTSLURM_WORKER, MTSLURM_RUN_DIR\n"
	 "  --env K=V       exec: set a variable on top of --export (repeatable)\n"
	 "  --env-pass NAME exec: pass this variable's current value (repeatable)\n"
	 "  --json          print {\"ids\":[...]} instead of one id per line\n"},
	{"wait", cmd_wait, " --all --timeout --json ", -1, NULL,
	 "usage: mtslurm wait [ID... | --all] [--timeout SECONDS] [--json]\n"
	 "Wait until the given jobs -- without ids (or with --all): every job that is queued or\n"
	 "running now -- are final. Jobs submitted later and jobs already final are not waited\n"
	 "for and do not count.\n"
	 "Exit 0: all completed; 1: some failed or were cancelled; 2: timeout.\n"
	 "  --all         the jobs queued or running now (the same as no ids)\n"
	 "  --timeout S   give up after S seconds (exit 2)\n"
	 "  --json        print {\"jobs\",\"completed\",\"failed\",\"cancelled\",\"ids\":{state:[ids]}}\n"},
	{"jobs", cmd_jobs, " --state --limit --json ", -1, NULL,
	 "usage: mtslurm jobs [ID...] [--state queued|prefetched|running|completed|failed|cancelled] [--limit N] [--json]\n"
	 "List jobs in id order: the given ids (exit 1 naming ids that do not exist), else all of\n"
	 "them.\n"
	 "  --state S   only jobs in this state\n"
	 "  --limit N   at most N jobs\n"
	 "  --json      a JSON array of job records\n"},
	{"logs", cmd_logs, " --stream --json ", 1, "one job id",
	 "usage: mtslurm logs ID [--stream out|err] [--json]\n"
	 "Print a job's standard output (to stdout) and standard error (to stderr) from the job\n"
	 "log; a job with no log records (echo, or a function without output): its output or\n"
	 "error as the master recorded it.\n"
	 "  --stream S  only out or only err\n"
	 "  --json      one object {id, attempt, state, worker, source, records, stdout, stderr}\n"},
	{"cancel", cmd_cancel, " --all --json ", -1, NULL,
	 "usage: mtslurm cancel (ID... | --all) [--json]\n"
	 "Cancel queued or running jobs. Exit 1 if an id does not exist.\n"
	 "  --all    every queued or running job of the cluster\n"
	 "  --json   print {\"cancelled\",\"ids\",\"unknown\",\"final\"} as one JSON object\n"},
	{"workers", cmd_workers, " --all --json ", 0, NULL,
	 "usage: mtslurm workers [--all] [--json]\n"
	 "The connected workers: id, node, pid, rank, slots, running jobs, jobs done, state.\n"
	 "  --all    also the workers lost since the master started (the last 16): state lost,\n"
	 "           when and why\n"
	 "  --json   a JSON array of worker objects\n"},
	{"forget", cmd_forget, " --before --state --json ", -1, NULL,
	 "usage: mtslurm forget (ID... | --before AGE | --state S) [--json]\n"
	 "Remove final jobs (completed, failed, cancelled) from the master's store so that history\n"
	 "does not grow forever. Queued and running jobs are never removed.\n"
	 "  --before AGE   jobs that finished more than AGE ago (90, 30m, 2h, 7d)\n"
	 "  --state S      only jobs in this final state (completed, failed or cancelled)\n"
	 "  --json         print {\"forgotten\":N} as one JSON object\n"},
	{"add-workers", run_add_workers, " --workers --slots --oversubscribe --timeout --json " SLURM_OPTS, 0, NULL,
	 "usage: mtslurm add-workers -n N [--slots S] [options]\n"
	 "Start N more workers for the running cluster: another mpirun of N ranks on this machine\n"
	 "(a local cluster), another srun step of N tasks (a cluster started inside an\n"
	 "allocation; run add-workers there too), or one more Slurm job (a cluster started through\n"
	 "Slurm). Waits until they connected; stop ends them with the others.\n"
	 "  -n, --workers N   workers to add\n"
	 "  --slots S         jobs each worker runs at once (default: as at start)\n"
	 "  --oversubscribe   allow --slots above this node's cores (local)\n"
	 "  --timeout S       how long to wait for them to connect (default 60 locally, 120 with Slurm)\n"
	 "  --json            print {\"added\",\"connected\",...} as one JSON object\n"
	 "Slurm mode (docs/slurm.md):\n"
	 "  -p, --partition P   -t, --time T   -A, --account A   --qos Q   -C, --constraint F\n"
	 "  --mem M   --gres G   -N, --nodes N   --ntasks-per-node K   -c, --cpus-per-task C\n"
	 "  -J, --job-name NAME   --sbatch-arg ARG (repeatable)\n"},
	{NULL, NULL, NULL, 0, NULL, NULL},
};

const char cli_usage_text[] =
	"usage: mtslurm [options] COMMAND [arguments]\n"
	"\n"
	"commands:\n"
	"  start        start a cluster: -n N --local | -n N (Slurm) | --in-allocation\n"
	"  stop         stop the cluster; nothing it started is left running\n"
	"  status       master address, uptime, workers, jobs by state\n"
	"  submit       --exec CMD | --echo MSG | --func LIB.so:fn [JSON] | ... --stdin   prints job ids\n"
	"  wait         [ID... | --all] [--timeout S]   exit 1 if a job failed or was cancelled\n"
	"  jobs         [ID...] [--state S] [--limit N]\n"
	"  logs         ID [--stream out|err]\n"
	"  cancel       ID... | --all\n"
	"  workers      the connected workers; --all: also the lost ones, with why\n"
	"  forget       ID... | --before AGE | --state S   remove final jobs from the store\n"
	"  add-workers  -n N [--slots S]   more workers (local, in an allocation or Slurm)\n"
	"\n"
	"Every command that prints takes --json; mtslurm COMMAND --help lists its options.\n"
	"Every command finds the cluster through --run-dir DIR, else $MTSLURM_RUN_DIR,\n"
	"else ~/.mtslurm/default.\n";

const struct cli_command *cmdtab_find(const char *name)
{
	for (const struct cli_command *c = commands; c->name; c++)
		if (!strcmp(c->name, name))
			return c;
	return NULL;
}

const struct cli_option *cmdtab_option(const char *word)
{
	for (const struct cli_option *o = options; o->name; o++)
		if (!strcmp(o->name, word) || (o->alias && !strcmp(o->alias, word)))
			return o;
	return NULL;
}

int cmdtab_takes(const struct cli_command *c, const char *opt)
{
	char key[64];
	snprintf(key, sizeof key, " %s ", opt);
	return strstr(GLOBAL_OPTS, key) || strstr(c->opts, key);
}

/* Edit distance with transpositions (optimal string alignment), so that
 * "sumbit" is one step from "submit". Words longer than 63 are far. */
static int distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	if (la > 63 || lb > 63)
		return 99;
	int d[64][64];
	for (size_t i = 0; i <= la; i++)
		d[i][0] = (int)i;
	for (size_t j = 0; j <= lb; j++)
		d[0][j] = (int)j;
	for (size_t i = 1; i <= la; i++)
		for (size_t j = 1; j <= lb; j++) {
			int cost = a[i - 1] != b[j - 1];
			int v = d[i - 1][j] + 1;
			if (d[i][j - 1] + 1 < v)
				v = d[i][j - 1] + 1;
			if (d[i - 1][j - 1] + cost < v)
				v = d[i - 1][j - 1] + cost;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1 < v)
				v = d[i - 2][j - 2] + 1;
			d[i][j] = v;
		}
	return d[la][lb];
}

/* The nearest of names (stride bytes apart, NULL-terminated by a NULL
 * name) within 2 edits and closer than the word's own length; NULL if none. */
static const char *nearest(const char *word, const void *table, size_t stride)
{
	const char *best = NULL;
	int bestd = 3;
	for (const char *p = table; *(const char *const *)p; p += stride) {
		const char *name = *(const char *const *)p;
		int d = distance(word, name);
		if (d < bestd && d < (int)strlen(word)) {
			bestd = d;
			best = name;
		}
	}
	return best;
}

const char *cmdtab_suggest_command(const char *word)
{
	return nearest(word, commands, sizeof commands[0]);
}

const char *cmdtab_suggest_option(const char *word)
{
	return nearest(word, options, sizeof options[0]);
}
