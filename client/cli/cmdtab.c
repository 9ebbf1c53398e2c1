/* SPDX-License-Identifier: MIT */
/*
 * cmdtab: the tables `mtslurm` is driven by -- every command with its
 * handler, the options it takes, how many positional arguments it accepts
 * and its --help text, and every option the command line knows. main.c
 * dispatches through the command table; errors ("status does not take
 * --exec", "unknown command 'sumbit'; did you mean 'submit'?") are made
 * from the tables, so a new command or option is one row here plus its
 * --help line, and tests/sys/t0175-cli.sh checks the --help texts against
 * docs/user-guide.md.
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "batch.h"
#include "cli.h"

/* Options every command takes. */
#define GLOBAL_OPTS " --run-dir --help "
/* The Slurm options shared by start and add-workers (docs/slurm.md). */
#define SLURM_OPTS                                                                                             \
	" --backend --queue --walltime --partition --time --account --qos --constraint --gres --mem --job-name --nodes --ntasks-per-node "  \
	"--cpus-per-task --sbatch-arg --select "

#define F(field) offsetof(struct cli, field)
#define FLAG(n, a, field) {n, a, CLI_NO_VALUE, opt_flag, F(field), 0, 0, NULL}
#define STR(n, a, field) {n, a, CLI_VALUE, opt_str, F(field), 0, 0, NULL}
#define INT(n, a, field, lo, hi, msg) {n, a, CLI_VALUE, opt_int, F(field), lo, hi, msg}
#define NUM(n, a, field) {n, a, CLI_VALUE, opt_num, F(field), 0, 0, NULL}
#define DUR(n, a, field) {n, a, CLI_VALUE, opt_duration, F(field), 0, 0, NULL}
#define ANY 1000000000L

/* Every option: its spelling, whether it takes a value and where it goes. */
static const struct cli_option options[] = {
	FLAG("--help", "-h", help),
	STR("--run-dir", NULL, run_dir_opt),
	{"--workers", "-n", CLI_VALUE, opt_workers, F(n), 0, ANY, "-n wants a number of workers >= 0"},
	FLAG("--local", NULL, local),
	STR("--backend", NULL, backend),
	FLAG("--in-allocation", NULL, in_allocation),
	FLAG("--autoscale", NULL, autoscale),
	INT("--max-workers", NULL, max_workers, 1, ANY, "--max-workers wants at least 1"),
	INT("--workers-per-alloc", NULL, workers_per_alloc, 1, ANY, "--workers-per-alloc wants at least 1"),
	DUR("--idle-timeout", NULL, idle_timeout_s),
	STR("--partition", "-p", sl.partition),
	STR("--queue", NULL, sl.partition),
	STR("--time", "-t", sl.time),
	STR("--walltime", NULL, sl.time),
	STR("--account", "-A", sl.account),
	STR("--qos", NULL, sl.qos),
	STR("--constraint", "-C", sl.constraint),
	STR("--gres", NULL, sl.gres),
	STR("--mem", NULL, sl.mem),
	STR("--job-name", "-J", sl.job_name),
	STR("--master-host", NULL, sl.master_host),
	STR("--select", NULL, sl.select),
	INT("--nodes", "-N", sl.nodes, 1, ANY, "--nodes wants at least 1"),
	INT("--ntasks-per-node", NULL, sl.ntasks_per_node, 1, ANY, "--ntasks-per-node wants at least 1"),
	INT("--cpus-per-task", "-c", sl.cpus_per_task, 1, ANY, "--cpus-per-task wants at least 1"),
	{"--sbatch-arg", NULL, CLI_VALUE, opt_sbatch_arg, 0, 0, 0, NULL},
	FLAG("--json", NULL, json),
	FLAG("--stdin", NULL, use_stdin),
	FLAG("--all", NULL, all),
	FLAG("--master-works", NULL, master_works),
	STR("--http", NULL, http),
	FLAG("--no-http", NULL, no_http),
	FLAG("--http-tls", NULL, http_tls),
	INT("--slots", NULL, slots, 1, ANY, "--slots wants at least 1"),
	FLAG("--oversubscribe", NULL, oversubscribe),
	{"--max-queued", NULL, CLI_VALUE, opt_max_queued, F(max_queued), 1, ANY, "--max-queued wants a number >= 1"},
	INT("--prefetch", NULL, prefetch, 0, ANY, "--prefetch wants a number >= 0"),
	NUM("--timeout", NULL, timeout_s),
	{"--echo", NULL, CLI_OPTIONAL_VALUE, opt_kind, 0, 0, 0, NULL},
	{"--exec", NULL, CLI_OPTIONAL_VALUE, opt_kind, 0, 0, 0, NULL},
	{"--func", NULL, CLI_VALUE, opt_kind, 0, 0, 0, NULL},
	NUM("--delay", NULL, delay),
	INT("--prio", NULL, prio, -ANY, ANY, NULL),
	INT("--retries", NULL, retries, 0, ANY, "--retries wants a number >= 0"),
	STR("--after", NULL, after),
	INT("--ranks", NULL, ranks, 1, 4096, "--ranks wants a number of MPI ranks from 1 to 4096"),
	DUR("--time-request", NULL, time_request_s),
	INT("--crash-limit", NULL, crash_limit, 1, 255, "--crash-limit wants a number of crashes from 1 to 255"),
	STR("--cwd", NULL, cwd),
	INT("--cpus", NULL, cpus, 1, 1000000, "--cpus wants a number of CPUs from 1 to 1000000"),
	INT("--gpus", NULL, gpus, 1, 64, "--gpus wants a number of GPUs from 1 to 64"),
	FLAG("--pin", NULL, pin),
	{"--resource", NULL, CLI_VALUE, opt_resource, 0, 0, 0, NULL},
	STR("--export", NULL, export_env),
	{"--env", NULL, CLI_VALUE, opt_env, 0, 0, 0, NULL},
	{"--env-pass", NULL, CLI_VALUE, opt_env, 0, 0, 0, NULL},
	STR("--container", NULL, container),
	STR("--runtime", NULL, runtime),
	STR("--container-cwd", NULL, container_cwd),
	{"--volume", NULL, CLI_VALUE, opt_container_list, 0, 0, 0, NULL},
	{"--container-env", NULL, CLI_VALUE, opt_container_list, 0, 0, 0, NULL},
	STR("--state", NULL, state),
	{"--limit", NULL, CLI_VALUE, opt_long, F(limit), -ANY, ANY, NULL},
	{"--stream", NULL, CLI_VALUE, opt_stream, F(stream), 0, 0, NULL},
	DUR("--before", NULL, before_s),
	STR("--worker-type", NULL, worker_type),
	STR("--endpoint", NULL, endpoint),
	STR("--schema", NULL, schema),
	STR("--executor", NULL, executor),
	STR("--command", NULL, command),
	STR("--target", NULL, target),
	{"--param", NULL, CLI_VALUE, opt_param, 0, 0, 0, NULL},
	STR("--type", NULL, type_name),
	STR("--id", NULL, ext_id),
	STR("--node", NULL, node),
	INT("--count", NULL, count, 1, 1000, "--count wants a number of workers from 1 to 1000"),
	STR("--node-ports", NULL, node_ports),
	STR("--array", NULL, array),
	STR("--each-line", NULL, each_line),
	STR("--from-json", NULL, from_json),
	FLAG("--ids", NULL, ids_only),
	STR("--git", NULL, git_url),
	STR("--branch", NULL, git_branch),
	STR("--commit", NULL, git_commit),
	STR("--workdir", NULL, git_workdir),
	STR("--git-setup", NULL, git_setup),
	FLAG("--wait", NULL, wait),
	STR("--stage", NULL, stage),
	{NULL, NULL, CLI_NO_VALUE, NULL, 0, 0, 0, NULL},
};

/* stop and add-workers go to the backend the run dir's cluster was
 * started through: a batch system's record, else launch.json (local or
 * in-allocation). */
static int run_stop(struct cli *cli)
{
	const struct batch_ops *ops = cli_batch_mode(cli);
	return ops ? cmd_stop_batch(cli, ops) : cmd_stop(cli);
}

static int run_add_workers(struct cli *cli)
{
	const struct batch_ops *ops = cli_batch_mode(cli);
	const char *have = ops ? ops->name : "local";
	if (cli->local && !cli->backend)
		cli->backend = "local";
	if (cli->backend && strcmp(cli->backend, have) != 0 && strcmp(cli->backend, "auto") != 0)
		cli_die(2, "the cluster of %s was started through %s, not %s: add-workers adds to it there (drop "
			   "--backend)",
			cli->run_dir, have, cli->backend);
	return ops ? cmd_add_workers_batch(cli, ops) : cmd_add_workers_local(cli);
}

static const struct cli_command commands[] = {
	{"start", cmd_start,
	 " --workers --local --in-allocation --slots --oversubscribe --master-works --prefetch --max-queued "
	 "--http --http-tls --no-http --timeout --json --autoscale --max-workers --workers-per-alloc --idle-timeout --master-host "
	 "--node-ports --container --runtime --volume --container-env --resource " SLURM_OPTS,
	 0, NULL,
	 "usage: mtslurm -n N --local start [options]       (master and workers on this machine)\n"
	 "       mtslurm -n N start [Slurm options]         (the master and workers as Slurm jobs)\n"
	 "       mtslurm -n N start --backend NAME [...]    (a backend by name: slurm, pbs, local)\n"
	 "       mtslurm start --in-allocation [-n N]       (inside your sbatch/salloc or qsub job)\n"
	 "       mtslurm start --autoscale --max-workers M  (worker jobs on demand: Slurm, PBS, or\n"
	 "                                                  --local: mpirun jobs on this machine)\n"
	 "Start a master and N workers; waits until the master serves and all N workers connected.\n"
	 "  -n, --workers N   workers (MPI ranks; inside an allocation: one per task by default,\n"
	 "                    in PBS one per line of $PBS_NODEFILE)\n"
	 "  --backend NAME    where the master and workers run: slurm (jobs through libslurm), pbs\n"
	 "                    (jobs through qsub), local (this machine, mpirun) or auto; default:\n"
	 "                    $MTSLURM_BACKEND, else the run dir's last start (RUN_DIR/config), else\n"
	 "                    auto: Slurm if this machine has its configuration, else PBS if it has a\n"
	 "                    PBS server's, else local\n"
	 "  --local           --backend local\n"
	 "  --in-allocation   run inside the current Slurm allocation (srun) or PBS job (mpirun on\n"
	 "                    the hosts of $PBS_NODEFILE)\n"
	 "  --slots S         jobs each worker runs at once (default 1; at most this node's cores)\n"
	 "  --oversubscribe   allow --slots above this node's cores\n"
	 "  --master-works    the master also runs jobs (one more worker)\n"
	 "  --prefetch P      jobs queued on a worker beyond its slots (master default)\n"
	 "  --max-queued N    unfinished jobs the master holds before it stops reading submits\n"
	 "                    (backpressure; default 20,000,000)\n"
	 "  --http HOST:PORT  where the master serves HTTP: its API, mindtrace's endpoints and the\n"
	 "                    dashboard (default 127.0.0.1 and a free port; token in RUN_DIR/token)\n"
	 "  --http-tls        serve HTTPS with the cluster's certificate RUN_DIR/tls.crt (the\n"
	 "                    default when --http is not a loopback address)\n"
	 "  --no-http         no HTTP service\n"
	 "  --timeout S       overall limit for the master to load its store and serve, and for\n"
	 "                    the workers to connect (default 60 locally, 120 with Slurm)\n"
	 "  --json            print {master, pid, workers, run_dir, ...} as one JSON object\n"
	 "  --node-ports A-B  the ports the node agent (mtslurm-node) gives the workers it\n"
	 "                    launches (mtslurm launch-worker; default 8092-8111; also A,B)\n"
	 "  --resource K=V    what each node's workers give jobs instead of what they detect:\n"
	 "                    gpus=0,1,2,3  cpus=N  mem=SIZE  gpu-kind=nvidia|amd (repeatable;\n"
	 "                    the workers mpirun starts on one node share it)\n"
	 "  --no-http         the master serves no HTTP and no node agent is started\n"
	 "  --container IMAGE the workers run inside IMAGE through a container runtime (--local,\n"
	 "                    --in-allocation), seeing the run dir, their own directory and /tmp;\n"
	 "                    their jobs run there too\n"
	 "  --runtime R       --container: the runtime (default: the site's, else the first on PATH)\n"
	 "  --volume SRC:DST[:ro]  --container: more host paths for the image (repeatable)\n"
	 "  --container-env K=V    --container: a variable set inside it (repeatable)\n"
	 "  --autoscale       the master starts workers as jobs wait and releases idle ones, through\n"
	 "                    the backend (with --local: local jobs, each an mpirun of K ranks here;\n"
	 "                    -n N initial workers, 0 allowed); --max-workers M (required),\n"
	 "                    --workers-per-alloc K (default 1), --idle-timeout T (default 5m)\n"
	 "Slurm mode (docs/slurm.md):\n"
	 "  -p, --partition P (--queue)   -t, --time T (--walltime)   -A, --account A   --qos Q\n"
	 "  -C, --constraint F   --mem M   --gres G   -N, --nodes N   --ntasks-per-node K\n"
	 "  -c, --cpus-per-task C   -J, --job-name NAME   --sbatch-arg ARG (repeatable)   --master-host ADDR\n"
	 "  --autoscale   --max-workers M   --idle-timeout T   --workers-per-alloc K\n"
	 "PBS mode (--backend pbs, docs/pbs.md): --queue, --walltime, --account, --mem, --nodes,\n"
	 "  --ntasks-per-node, --cpus-per-task, --job-name as above; --select S (the workers' select\n"
	 "  statement, verbatim); --qos, --gres, --constraint and --sbatch-arg are refused\n"},
	{"stop", run_stop, " --timeout --json ", 0, NULL,
	 "usage: mtslurm stop [--timeout SECONDS] [--json]\n"
	 "Ask the master to shut down (it tells its workers to exit), wait for it and mpirun, then\n"
	 "SIGTERM/SIGKILL what is left of the processes start launched on this node (the master of\n"
	 "master.json and the mpirun of launch.json, each checked by its command line; default\n"
	 "timeout 20 s). With Slurm or PBS: cancels the cluster's batch jobs (scancel, qdel).\n"
	 "An autoscaling cluster: also ends the worker jobs its master made (RUN_DIR/autoscale-jobs.json).\n"
	 "  --timeout S   how long to wait for the master and mpirun to exit\n"
	 "  --json        print what was stopped as one JSON object\n"},
	{"status", cmd_status, " --json ", 0, NULL,
	 "usage: mtslurm status [--json]\n"
	 "Master address, pid, uptime; workers and slots; jobs by state.\n"
	 "  --json   the master's status object\n"},
	{"submit", cmd_submit,
	 " --exec --echo --func --delay --stdin --prio --retries --after --timeout --ranks --time-request --crash-limit --cwd "
	 "--export --env --env-pass --container --runtime --volume --container-cwd --container-env --type --id --json "
	 "--array --each-line --from-json --git --branch --commit --workdir --git-setup --cpus --gpus --mem --pin ",
	 1, "one command, message or JSON argument",
	 "usage: mtslurm submit (--exec CMD | --echo MSG [--delay S] | --func LIB.so:fn [JSON]) [options]\n"
	 "       mtslurm submit (--exec | --echo | --func LIB.so:fn) --stdin [options]\n"
	 "       mtslurm submit --type NAME 'JSON payload' [--id EXT]   (a job of a job type)\n"
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
	 "  --cpus N        the job needs N CPUs of its worker (held while it runs)\n"
	 "  --gpus N        the job needs N GPUs: it is given N specific ones and sees their\n"
	 "                  ids in CUDA_VISIBLE_DEVICES and MTSLURM_GPUS\n"
	 "  --mem SIZE      the job needs SIZE of memory (8G, 512M; a plain number is MiB);\n"
	 "                  exec: enforced (cgroup memory.max, else RLIMIT_DATA)\n"
	 "  --pin           exec: bind the job's process to its --cpus CPUs\n"
	 "  --cwd DIR       exec: working directory (default: the current one)\n"
	 "  --export ALL|NONE|NAME[=VALUE],...  exec: the environment the job sees, as\n"
	 "                  sbatch's: ALL (default) this shell's; NONE a minimal one (PATH,\n"
	 "                  HOME, USER, LOGNAME, SHELL); a list: the minimal one plus those\n"
	 "                  (ALL,NAME=VALUE: all plus those). Jobs also get MTSLURM_JOB_ID,\n"
	 "                  MTSLURM_ATTEMPT, MTSLURM_WORKER, MTSLURM_RUN_DIR\n"
	 "  --env K=V       exec: set a variable on top of --export (repeatable)\n"
	 "  --env-pass NAME exec: pass this variable's current value (repeatable)\n"
	 "  --container IMAGE  exec: run the command inside IMAGE (a root filesystem\n"
	 "                  directory, a .sif/.sqfs file, or a name the runtime knows)\n"
	 "  --runtime R     --container: apptainer, singularity, ch-run, podman, bwrap or\n"
	 "                  the site's own (RUN_DIR/runtimes.json; default: the site's\n"
	 "                  default, else the first of those on the worker's PATH)\n"
	 "  --volume SRC:DST[:ro]  --container: mount host SRC at DST (repeatable)\n"
	 "  --container-cwd DIR  --container: the directory inside the image it starts in\n"
	 "  --container-env K=V  --container: set a variable inside it (repeatable)\n"
	 "  --type NAME     a job of job type NAME (mtslurm types) with the JSON payload,\n"
	 "                  checked against the type's schema; its workers decide how it runs\n"
	 "  --id EXT        --type: an external id for it (mindtrace's job id)\n"
	 "  --array SET     a job array: one job per task id of SET (1-1000, 1-1000:2,\n"
	 "                  1,5,7-9); {} in the command/message is the task id. Prints the\n"
	 "                  array's id (its first job's id); MTSLURM_TASK_ID, MTSLURM_ENTRY\n"
	 "                  are set for exec members. With --each-line/--from-json: only\n"
	 "                  those lines (numbers from 1) / elements (indexes from 0)\n"
	 "  --each-line FILE  a job array: one job per non-empty line, {} = the line\n"
	 "  --from-json FILE  a job array: one job per element of the JSON array in FILE;\n"
	 "                  {} = the element (a string as itself), {name} = its field\n"
	 "  --git URL       exec: run in a checkout of this repository (https, ssh, file://\n"
	 "                  or a path), made once per cluster in RUN_DIR/git/\n"
	 "  --branch B      --git: the branch (default the repository's HEAD), resolved to\n"
	 "                  its commit now: every job runs that commit\n"
	 "  --commit C      --git: a full commit id (wins over --branch)\n"
	 "  --workdir DIR   --git: the directory inside the checkout the command runs in\n"
	 "  --git-setup CMD --git: run CMD once per checkout before any job (e.g. uv sync)\n"
	 "  --json          print {\"ids\":[...]} instead of one id per line\n"},
	{"wait", cmd_wait, " --all --timeout --json --array ", -1, NULL,
	 "usage: mtslurm wait [ID... | --all | --array ID] [--timeout SECONDS] [--json]\n"
	 "Wait until the given jobs -- without ids (or with --all): every job that is queued or\n"
	 "running now -- are final. Jobs submitted later and jobs already final are not waited\n"
	 "for and do not count.\n"
	 "Exit 0: all completed; 1: some failed or were cancelled; 2: timeout.\n"
	 "  --all         the jobs queued or running now (the same as no ids)\n"
	 "  --array ID    the members of job array ID\n"
	 "  --timeout S   give up after S seconds (exit 2)\n"
	 "  --json        print {\"jobs\",\"completed\",\"failed\",\"cancelled\",\"ids\":{state:[ids]}}\n"},
	{"explain", cmd_explain, " --json ", 1, "one job id",
	 "usage: mtslurm explain ID [--json]\n"
	 "Why a job is where it is: what a queued job waits for (its dependencies, a free slot,\n"
	 "the CPUs, GPUs or memory it asked for) or that no worker could ever run it; the GPUs a\n"
	 "running job was given.\n"
	 "  --json   the master's answer {id, state, why, never, res, gpus, worker}\n"},
	{"jobs", cmd_jobs, " --state --limit --json --array --ids ", -1, NULL,
	 "usage: mtslurm jobs [ID...] [--state queued|prefetched|running|completed|failed|cancelled] [--limit N] [--json]\n"
	 "       mtslurm jobs --array ID [--state S] [--ids | --json]\n"
	 "List jobs in id order: the given ids (exit 1 naming ids that do not exist), else all of\n"
	 "them.\n"
	 "  --state S   only jobs in this state\n"
	 "  --limit N   at most N jobs\n"
	 "  --array ID  the members of job array ID (with their task ids)\n"
	 "  --ids       with --array: print their task ids as one set (1,5,7-9), for\n"
	 "              mtslurm submit --array \"$(...)\" to run them again\n"
	 "  --json      a JSON array of job records\n"},
	{"logs", cmd_logs, " --stream --json ", 1, "one job id",
	 "usage: mtslurm logs ID [--stream out|err] [--json]\n"
	 "Print a job's standard output (to stdout) and standard error (to stderr) from the job\n"
	 "log; a job with no log records (echo, or a function without output): its output or\n"
	 "error as the master recorded it.\n"
	 "  --stream S  only out or only err\n"
	 "  --json      one object {id, attempt, state, worker, source, records, stdout, stderr}\n"},
	{"cancel", cmd_cancel, " --all --json --array ", -1, NULL,
	 "usage: mtslurm cancel (ID... | --all | --array ID) [--json]\n"
	 "Cancel queued or running jobs. Exit 1 if an id does not exist.\n"
	 "  --all    every queued or running job of the cluster\n"
	 "  --array ID  every unfinished member of job array ID\n"
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
	{"add-workers", run_add_workers,
	 " --workers --slots --oversubscribe --timeout --json --container --runtime --volume --container-env --resource "
	 SLURM_OPTS,
	 0, NULL,
	 "usage: mtslurm add-workers -n N [--slots S] [options]\n"
	 "Start N more workers for the running cluster: another mpirun of N ranks on this machine\n"
	 "(a local cluster), another srun step of N tasks or mpirun on $PBS_NODEFILE (a cluster\n"
	 "started inside an allocation; run add-workers there too), or one more batch job (a cluster\n"
	 "started through Slurm or PBS). Waits until they connected; stop ends them with the others.\n"
	 "  -n, --workers N   workers to add\n"
	 "  --backend NAME    the cluster's backend, which its run dir records (another is refused)\n"
	 "  --slots S         jobs each worker runs at once (default: as at start)\n"
	 "  --oversubscribe   allow --slots above this node's cores (local)\n"
	 "  --timeout S       how long to wait for them to connect (default 60 locally, 120 with Slurm)\n"
	 "  --json            print {\"added\",\"connected\",...} as one JSON object\n"
	 "  --container IMAGE the added workers run inside IMAGE, as with start --container\n"
	 "                    (local and in-allocation clusters)\n"
	 "  --runtime R       --container: the runtime (default: the site's, else the first on PATH)\n"
	 "  --volume SRC:DST[:ro]  --container: more host paths for the image (repeatable)\n"
	 "  --container-env K=V    --container: a variable set inside it (repeatable)\n"
	 "  --resource K=V    what the added workers give jobs instead of what they detect\n"
	 "Slurm mode (docs/slurm.md):\n"
	 "  -p, --partition P (--queue)   -t, --time T (--walltime)   -A, --account A   --qos Q\n"
	 "  -C, --constraint F\n"
	 "  --mem M   --gres G   -N, --nodes N   --ntasks-per-node K   -c, --cpus-per-task C\n"
	 "  -J, --job-name NAME   --sbatch-arg ARG (repeatable)   --select S (PBS: the workers' select)\n"},
	{"type", cmd_type, " --worker-type --endpoint --schema --timeout --retries --json ", 2, "add|del and a name",
	 "usage: mtslurm type add NAME (--worker-type W | --endpoint URL) [--schema FILE] [--timeout S] [--retries N]\n"
	 "       mtslurm type del NAME\n"
	 "Register (or replace) a job type, or delete one. Jobs of a job type are queued for the\n"
	 "workers of its worker type, or forwarded over HTTP to its endpoint (the gateway).\n"
	 "  --worker-type W   served by the workers launched from worker type W\n"
	 "  --endpoint URL    forwarded to URL (or APP/path of an app registered over HTTP)\n"
	 "  --schema FILE     a JSON Schema (draft 7) every payload must satisfy; an unknown\n"
	 "                    keyword is refused\n"
	 "  --timeout S       endpoint: how long to wait for an answer (default 60)\n"
	 "  --retries R       retries of its jobs (default 3)\n"
	 "  --json            print the registered type as JSON\n"},
	{"types", cmd_types, " --json ", 0, NULL,
	 "usage: mtslurm types [--json]\n"
	 "The job types: name, mode (queue or endpoint), target, whether a schema checks inputs,\n"
	 "jobs queued and workers serving it.\n"
	 "  --json   a JSON array of job types\n"},
	{"worker-type", cmd_worker_type, " --executor --command --target --param --json ", 2, "add|del and a name",
	 "usage: mtslurm worker-type add NAME --executor echo|exec|func|run-script [--command T] [--target LIB.so:fn]\n"
	 "                                [--param K=V]...\n"
	 "       mtslurm worker-type del NAME\n"
	 "Register (or replace) a worker type: how the workers launched from it run a job's payload.\n"
	 "  --executor E   echo (mindtrace's EchoWorker), exec (a command template), func (a C\n"
	 "                 function), run-script (mindtrace's RunScriptWorker)\n"
	 "  --command T    exec: the command; {field} takes the payload's field, shell-quoted\n"
	 "  --target T     func: /path/lib.so:function\n"
	 "  --param K=V    another parameter (repeatable)\n"
	 "  --json         print the registered type as JSON\n"},
	{"worker-types", cmd_worker_types, " --json ", 0, NULL,
	 "usage: mtslurm worker-types [--json]\n"
	 "The worker types: name, executor, parameters.\n"
	 "  --json   a JSON array of worker types\n"},
	{"dlq", cmd_dlq, " --json ", 2, "requeue|discard and a job id",
	 "usage: mtslurm dlq [--json]\n"
	 "       mtslurm dlq requeue ID | dlq discard ID\n"
	 "The dead-letter queue: typed jobs that failed. requeue runs one again under the same id;\n"
	 "discard takes it out (it stays failed). ID: a job id or its external id.\n"
	 "  --json   a JSON array of {id, job_id, type, error, output, finished, since}\n"},
	{"nodes", cmd_nodes, " --json ", 0, NULL,
	 "usage: mtslurm nodes [--json]\n"
	 "The node agents (mtslurm-node) registered with the master: name, URL, pid, when last\n"
	 "heard from. The URL is the node_url that POST /launch_worker takes.\n"
	 "  --json   a JSON array of {url, name, pid, registered, last_seen}\n"},
	{"launch-worker", cmd_launch_worker, " --type --node --count --timeout --json ", 0, NULL,
	 "usage: mtslurm launch-worker --type WTYPE [--node NAME] [--count N] [--json]\n"
	 "Launch workers of a registered worker type through node agents (the master's\n"
	 "/launch_worker), each on a free port of its node's range, and wait until each is ready:\n"
	 "prints each worker's id and URL, or why its launch failed (exit 1).\n"
	 "  --type WTYPE   the worker type (registered with POST /register_worker_type)\n"
	 "  --node NAME    launch on this node (its name or URL; default: the nodes take turns)\n"
	 "  --count N      launch N workers (default 1)\n"
	 "  --timeout S    stop waiting after S seconds (default 90)\n"
	 "  --json         print {\"launches\":[...],\"ready\",\"failed\"} as one JSON object\n"},
	{"git", cmd_git, " --json ", 1, "gc",
	 "usage: mtslurm git gc [--json]\n"
	 "Remove the git checkouts in RUN_DIR/git/ that no job uses, and the clones no checkout\n"
	 "needs; prints what it removed and the bytes freed. Needs no running cluster.\n"
	 "  --json   print {\"removed\":[{key, url, commit, bytes}], \"freed\"} as one JSON object\n"},
	{"pipeline", cmd_pipeline, " --wait --timeout --stage --json ", 2, "run FILE, status [ID], cancel ID or results ID",
	 "usage: mtslurm pipeline run FILE [--wait [--timeout S]] [--json]\n"
	 "       mtslurm pipeline status [ID] [--json]\n"
	 "       mtslurm pipeline cancel ID [--json]\n"
	 "       mtslurm pipeline results ID [--stage NAME] [--json]\n"
	 "Pipelines: stages connected by queues, each stage's job output the next stage's input\n"
	 "(docs/user-guide.md, \"Pipelines\"); a stage runs exec, echo or func jobs, or the typed\n"
	 "jobs of a job type (\"type\":\"NAME\", on that type's workers). run checks FILE (JSON; - for\n"
	 "stdin; the master checks that each stage's job type is registered), starts it and\n"
	 "prints its id once it is durable; status shows each stage's queued, running, done,\n"
	 "failed and cancelled jobs (no ID: the newest 20 pipelines); cancel stops one; results\n"
	 "prints the outputs of its last stage's jobs, one per line.\n"
	 "  --wait        run: wait until it has ended, then print its status; exit 0 if it\n"
	 "                completed, 1 if it failed or was cancelled, 2 on timeout\n"
	 "  --timeout S   run --wait: give up after S seconds (exit 2)\n"
	 "  --stage NAME  results: the outputs of this stage instead of the last\n"
	 "  --json        status: the pipelines as JSON; results: [{\"job\",\"output\"}]\n"},
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
	"  explain      ID   why a job waits (dependencies, slots, CPUs/GPUs/memory)\n"
	"  cancel       ID... | --all\n"
	"  workers      the connected workers; --all: also the lost ones, with why\n"
	"  forget       ID... | --before AGE | --state S   remove final jobs from the store\n"
	"  add-workers  -n N [--slots S]   more workers (local, in an allocation or Slurm)\n"
	"  type         add NAME (--worker-type W | --endpoint URL) [--schema F] | del NAME\n"
	"  types        the job types\n"
	"  worker-type  add NAME --executor E [--command T | --target LIB.so:fn] | del NAME\n"
	"  worker-types the worker types\n"
	"  dlq          the dead-letter queue; dlq requeue ID | dlq discard ID\n"
	"  nodes        the node agents and their URLs\n"
	"  launch-worker  --type WTYPE [--node NAME] [--count N]   workers of a worker type\n"
	"  pipeline     run FILE [--wait] | status [ID] | cancel ID | results ID\n"
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
