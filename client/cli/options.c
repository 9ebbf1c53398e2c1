/* SPDX-License-Identifier: MIT */
/*
 * options: the setters of cmdtab.c's option table. Each takes the value
 * given on the command line (NULL for an option without one) and stores it
 * into the struct cli field the row names, or dies with a one-line message
 * saying what the option wants: the table, not a chain of string
 * comparisons, decides what an option does.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "resource.h"

#define FIELD(cli, o, type) ((type *)((char *)(cli) + (o)->off))

static long integer(const char *opt, const char *v)
{
	char *end;
	long l = strtol(v, &end, 10);
	if (!*v || *end || l < -1000000000L || l > 1000000000L)
		cli_die(2, "%s wants an integer, not '%s'", opt, v);
	return l;
}

/* An integer in o's range, else its range message. */
static long ranged(const struct cli_option *o, const char *v)
{
	long l = integer(o->name, v);
	if (l < o->lo || l > o->hi) {
		if (o->range_msg)
			cli_die(2, "%s", o->range_msg);
		cli_die(2, "%s wants a number from %ld to %ld, not '%s'", o->name, o->lo, o->hi, v);
	}
	return l;
}

void opt_flag(struct cli *cli, const struct cli_option *o, const char *v)
{
	(void)v;
	*FIELD(cli, o, int) = 1;
}

void opt_str(struct cli *cli, const struct cli_option *o, const char *v) { *FIELD(cli, o, const char *) = v; }

void opt_int(struct cli *cli, const struct cli_option *o, const char *v) { *FIELD(cli, o, int) = (int)ranged(o, v); }

void opt_long(struct cli *cli, const struct cli_option *o, const char *v) { *FIELD(cli, o, long) = ranged(o, v); }

void opt_num(struct cli *cli, const struct cli_option *o, const char *v)
{
	char *end;
	double d = strtod(v, &end);
	if (!*v || *end || d < 0)
		cli_die(2, "%s wants a non-negative number, not '%s'", o->name, v);
	*FIELD(cli, o, double) = d;
}

void opt_duration(struct cli *cli, const struct cli_option *o, const char *v)
{
	*FIELD(cli, o, double) = cli_duration(o->name, v);
}

/* -n: also remembers that it was given (start's default differs). */
void opt_workers(struct cli *cli, const struct cli_option *o, const char *v)
{
	opt_int(cli, o, v);
	cli->n_given = 1;
}

/* --echo [MSG], --exec [CMD], --func TARGET: the job's type, once. */
void opt_kind(struct cli *cli, const struct cli_option *o, const char *v)
{
	if (cli->kind)
		cli_die(2, "give one of --echo, --exec, --func");
	cli->kind = o->name + 2;
	cli->value = v;
}

/* --env NAME=VALUE, --env-pass NAME (this environment's value). */
void opt_env(struct cli *cli, const struct cli_option *o, const char *v)
{
	if (cli->nenv >= CLI_MAX_ENV - 1)
		cli_die(2, "too many --env options (at most %d)", CLI_MAX_ENV - 1);
	if (!strcmp(o->name, "--env")) {
		if (!strchr(v, '='))
			cli_die(2, "--env wants NAME=VALUE, not '%s' (--env-pass NAME copies a variable)", v);
		cli->env[cli->nenv++] = v;
		return;
	}
	const char *val = getenv(v);
	if (!val)
		cli_die(2, "--env-pass %s: no such variable in this environment", v);
	size_t n = strlen(v) + strlen(val) + 2;
	char *kv = malloc(n); /* reachable from cli until exit */
	if (!kv)
		cli_die(1, "out of memory");
	snprintf(kv, n, "%s=%s", v, val);
	cli->env[cli->nenv++] = kv;
}

void opt_sbatch_arg(struct cli *cli, const struct cli_option *o, const char *v)
{
	(void)o;
	if (cli->sl.nextra >= 32)
		cli_die(2, "too many --sbatch-arg options (at most 32)");
	cli->sl.extra[cli->sl.nextra++] = v;
}

void opt_stream(struct cli *cli, const struct cli_option *o, const char *v)
{
	if (strcmp(v, "out") && strcmp(v, "err"))
		cli_die(2, "--stream wants out or err");
	opt_str(cli, o, v);
}

/* Passed to the master as given, once checked. */
void opt_max_queued(struct cli *cli, const struct cli_option *o, const char *v)
{
	ranged(o, v);
	opt_str(cli, o, v);
}

void opt_param(struct cli *cli, const struct cli_option *o, const char *v)
{
	(void)o;
	if (cli->nparam >= CLI_MAX_ENV)
		cli_die(2, "too many --param options (at most %d)", CLI_MAX_ENV);
	cli->param[cli->nparam++] = v;
}

/* --volume SRC:DST[:ro] and --container-env K=V (repeatable). */
void opt_container_list(struct cli *cli, const struct cli_option *o, const char *v)
{
	int vol = !strcmp(o->name, "--volume");
	int *n = vol ? &cli->nvolume : &cli->ncenv;
	if (*n >= CLI_MAX_ENV)
		cli_die(2, "too many %s options (at most %d)", o->name, CLI_MAX_ENV);
	const char *sep = strchr(v, vol ? ':' : '=');
	if (!sep || sep == v || !sep[1])
		cli_die(2, vol ? "--volume wants SRC:DST or SRC:DST:ro (a host path and where it appears in the image), "
				 "not '%s'"
			       : "--container-env wants NAME=VALUE, not '%s'",
			v);
	(vol ? cli->volume : cli->cenv)[(*n)++] = v;
}

/* start --resource K=V: checked here (resource.h), handed to each worker. */
void opt_resource(struct cli *cli, const struct cli_option *o, const char *v)
{
	(void)o;
	struct resource_set r = {0};
	char err[300];
	if (resource_arg_apply(&r, v, err, sizeof err))
		cli_die(2, "%s", err);
	if (cli->nresource >= 32)
		cli_die(2, "too many --resource options (at most 32)");
	cli->resource[cli->nresource++] = v;
}
