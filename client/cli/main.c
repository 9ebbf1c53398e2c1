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
	int nseen = 0;
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
		const struct cli_option *o = NULL;
		if (w[0] == '-' && w[1] && !(w[1] >= '0' && w[1] <= '9')) {
			o = cmdtab_option(w);
			if (!o) {
				const char *near = cmdtab_suggest_option(w);
				if (near)
					cli_die(2, "unknown option %s; did you mean %s? (mtslurm --help)", w, near);
				cli_die(2, "unknown option %s (mtslurm --help)", w);
			}
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
		const char *v = o->takes == CLI_VALUE		? need(argc, argv, &i)
				: o->takes == CLI_OPTIONAL_VALUE ? optional_value(argc, argv, &i)
								 : NULL;
		o->set(&cli, o, v);
	}
	if (cli.help) {
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
