/* SPDX-License-Identifier: MIT */
/*
 * main: `mtslurm`'s command line. Options may stand before or after the
 * command word (`mtslurm -n 4 --local start` == `mtslurm start -n 4
 * --local`); the first word that is not an option names the command, the
 * words after it are its positional arguments. Every option is looked up in
 * cmdtab.c's table (an unknown one is an error suggesting the nearest), and
 * the command's row says which options and how many arguments it takes.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

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

/* --echo / --exec take an optional value: the next word unless it is an
 * option. */
static const char *optional_value(int argc, char **argv, int *i)
{
	if (*i + 1 < argc && argv[*i + 1][0] != '-')
		return argv[++*i];
	return NULL;
}

/* Die on an option or argument the command does not take, naming it. */
static void check_args(const struct cli *cli, const struct cli_command *cmd, const char *const *seen,
		       const struct cli_option *const *seen_opt, int nseen)
{
	for (int i = 0; i < nseen; i++)
		if (!cmdtab_takes(cmd, seen_opt[i]->name))
			cli_die(2, "%s does not take %s (mtslurm %s --help lists its options)", cmd->name, seen[i],
				cmd->name);
	if (cmd->max_pos >= 0 && cli->npos > cmd->max_pos) {
		if (cmd->max_pos == 0)
			cli_die(2, "%s takes no arguments, not '%s' (mtslurm %s --help)", cmd->name, cli->pos[0],
				cmd->name);
		cli_die(2, "%s takes %s; unexpected '%s' (mtslurm %s --help)", cmd->name, cmd->pos_what,
			cli->pos[cmd->max_pos], cmd->name);
	}
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
	cli.before_s = -1;
	int help = 0, nseen = 0;
	const struct cli_command *cmd = NULL;
	cli.pos = calloc((size_t)argc + 1, sizeof *cli.pos);
	/* Static, like cli: reachable until exit, also on the error paths. */
	static const char **seen;
	static const struct cli_option **seen_opt;
	seen = calloc((size_t)argc + 1, sizeof *seen);
	seen_opt = calloc((size_t)argc + 1, sizeof *seen_opt);
	if (!cli.pos || !seen || !seen_opt)
		cli_die(1, "out of memory");
	for (int i = 1; i < argc; i++) {
		const char *w = argv[i];
		const char *a = w; /* the option's canonical name */
		if (w[0] == '-' && w[1] && !(w[1] >= '0' && w[1] <= '9')) {
			const struct cli_option *o = cmdtab_option(w);
			if (!o) {
				const char *near = cmdtab_suggest_option(w);
				if (near)
					cli_die(2, "unknown option %s; did you mean %s? (mtslurm --help)", w, near);
				cli_die(2, "unknown option %s (mtslurm --help)", w);
			}
			a = o->name;
			seen[nseen] = w;
			seen_opt[nseen++] = o;
		} else if (!cmd && !cli.npos) {
			/* The first word that is not an option names the command. */
			if (!(cmd = cmdtab_find(w))) {
				const char *near = cmdtab_suggest_command(w);
				if (near)
					cli_die(2, "unknown command '%s'; did you mean '%s'? (mtslurm --help)", w, near);
				cli_die(2, "unknown command '%s' (mtslurm --help lists the commands)", w);
			}
			cli.cmd = cmd->name;
			continue;
		} else {
			cli.pos[cli.npos++] = argv[i];
			continue;
		}
		if (!strcmp(a, "--help")) {
			help = 1;
		} else if (!strcmp(a, "--workers")) {
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
			cli.time_request_s = cli_duration(a, need(argc, argv, &i));
		} else if (!strcmp(a, "--idle-timeout")) {
			cli.idle_timeout_s = cli_duration(a, need(argc, argv, &i));
		} else if (!strcmp(a, "--partition")) {
			cli.sl.partition = need(argc, argv, &i);
		} else if (!strcmp(a, "--time")) {
			cli.sl.time = need(argc, argv, &i);
		} else if (!strcmp(a, "--account")) {
			cli.sl.account = need(argc, argv, &i);
		} else if (!strcmp(a, "--qos")) {
			cli.sl.qos = need(argc, argv, &i);
		} else if (!strcmp(a, "--constraint")) {
			cli.sl.constraint = need(argc, argv, &i);
		} else if (!strcmp(a, "--gres")) {
			cli.sl.gres = need(argc, argv, &i);
		} else if (!strcmp(a, "--mem")) {
			cli.sl.mem = need(argc, argv, &i);
		} else if (!strcmp(a, "--job-name")) {
			cli.sl.job_name = need(argc, argv, &i);
		} else if (!strcmp(a, "--master-host")) {
			cli.sl.master_host = need(argc, argv, &i);
		} else if (!strcmp(a, "--nodes")) {
			cli.sl.nodes = integer(a, need(argc, argv, &i));
			if (cli.sl.nodes < 1)
				cli_die(2, "--nodes wants at least 1");
		} else if (!strcmp(a, "--ntasks-per-node")) {
			cli.sl.ntasks_per_node = integer(a, need(argc, argv, &i));
			if (cli.sl.ntasks_per_node < 1)
				cli_die(2, "--ntasks-per-node wants at least 1");
		} else if (!strcmp(a, "--cpus-per-task")) {
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
		} else if (!strcmp(a, "--export")) {
			cli.export_env = need(argc, argv, &i);
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
		} else if (!strcmp(a, "--oversubscribe")) {
			cli.oversubscribe = 1;
		} else if (!strcmp(a, "--before")) {
			cli.before_s = cli_duration(a, need(argc, argv, &i));
		} else {
			/* In the option table but not parsed here: a bug, said plainly. */
			cli_die(2, "option %s is known but not handled (mtslurm bug)", w);
		}
	}
	if (help) {
		fputs(cmd ? cmd->help : cli_usage_text, stdout);
		return 0;
	}
	if (!cmd) {
		fputs(cli_usage_text, stderr);
		return 2;
	}
	check_args(&cli, cmd, seen, seen_opt, nseen);
	char err[512];
	if (rundir_resolve(cli.run_dir, cli.run_dir_opt, err, sizeof err))
		cli_die(2, "%s", err);
	return cmd->run(&cli);
}
