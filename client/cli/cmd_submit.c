/* SPDX-License-Identifier: MIT */
/*
 * cmd_submit: `mtslurm submit` -- one job from the command line, or one job
 * per input line with --stdin, submitted in large pipelined batches. A job id
 * is printed only after the master acknowledged it (it is durable then), so
 * a script can trust every id it reads; --json prints {"ids":[...]}, streamed
 * batch by batch. Output formats are documented in
 * docs/user-guide.md and relied on by the system tests.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "resource.h"
#include "util.h"

#define STDIN_CHUNK 200000 /* lines per mts_submit_batch call: frames of 50,000 pipelined */

static size_t parse_deps(const char *s, mts_job_id **out)
{
	size_t n = 0;
	*out = NULL;
	if (!s)
		return 0;
	char *copy = strdup(s);
	mts_job_id *v = calloc(strlen(s) / 2 + 2, sizeof *v);
	if (!copy || !v)
		cli_die(1, "out of memory");
	for (char *save = NULL, *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
		v[n++] = cli_job_id(tok);
	free(copy);
	*out = v;
	return n;
}

/* --cpus, --gpus, --mem, --pin into the job (docs/user-guide.md, "Resources"). */
static void submit_resources(const struct cli *cli, mts_job *j)
{
	char err[300];
	uint64_t mem = 0;
	if (cli->sl.mem && resource_size_parse(cli->sl.mem, &mem, err, sizeof err))
		cli_die(2, "--mem: %s", err);
	if (cli->pin && !cli->cpus)
		cli_die(2, "--pin binds the job to the CPUs it asks for: give --cpus N too");
	if (cli->pin && strcmp(cli->kind, "exec"))
		cli_die(2, "--pin is for exec jobs (--exec): it binds the job's process to its CPUs");
	j->cpus = cli->cpus;
	j->gpus = cli->gpus;
	j->mem_bytes = mem;
	j->pin = cli->pin;
}

/* A --stdin batch was refused: --json closes the document with the reason
 * (the ids printed before are durable); then die as usual. */
static void submit_failed(struct cli *cli, mts_client *c, int rc)
{
	if (cli->json) {
		msg *e = msg_new_str(*mts_errmsg(c) ? mts_errmsg(c) : mts_strerror(rc));
		char *t = msg_print(e);
		printf("],\"error\":%s}\n", t ? t : "null");
		free(t);
		msg_free(e);
		fflush(stdout);
	}
	cli_die_api(c, rc);
}

/* Options that do not go together: die saying so. */
static void submit_check(const struct cli *cli)
{
	if (cli->type_name && cli->kind)
		cli_die(2, "--type runs a job of a job type; --exec, --echo and --func are the plain kinds: not both");
	if (cli->type_name && cli->git_url)
		cli_die(2, "--git is for exec jobs; a run-script payload names its repository in "
			"environment.git");
	if (cli->type_name && (cli->cpus || cli->gpus || cli->sl.mem || cli->pin))
		cli_die(2, "--cpus, --gpus, --mem and --pin are for --exec, --echo and --func jobs; a job type's "
			   "workers decide what its jobs get");
	if (!cli->type_name && !cli->kind)
		cli_die(2, "say what to run: --exec CMD, --echo MSG or --func LIB.so:function [JSON]");
	if (cli->kind && strcmp(cli->kind, "exec") && (cli->export_env || cli->cwd || cli->nenv || cli->container))
		cli_die(2, "--export, --cwd, --env, --env-pass and --container are for exec jobs (--exec)");
}

/* exec: the working directory (cwd, PATH-sized) and the environment
 * (envv, CLI_MAX_ENV + 1 entries) of the template. A relative --cwd is
 * relative to here, like the command's own paths; one that does not exist
 * here may exist on the workers. */
static void submit_exec_parts(const struct cli *cli, mts_job *tmpl, char *cwd, size_t cwdn, const char **envv)
{
	char here[RUNDIR_PATH_MAX];
	if (!getcwd(here, sizeof here))
		cli_die(1, "cannot get the current directory: %s", strerror(errno));
	if (!cli->cwd)
		util_strlcpy(cwd, here, cwdn);
	else if (cli->cwd[0] == '/' || !realpath(cli->cwd, cwd)) {
		int n = snprintf(cwd, cwdn, "%s%s%s", cli->cwd[0] == '/' ? "" : here, cli->cwd[0] == '/' ? "" : "/",
				 cli->cwd);
		if (n < 0 || (size_t)n >= cwdn)
			cli_die(2, "--cwd: the path is too long");
	}
	tmpl->cwd = cwd;
	tmpl->export_env = cli->export_env;
	for (int i = 0; i < cli->nenv; i++)
		envv[i] = cli->env[i];
	envv[cli->nenv] = NULL;
	if (cli->nenv)
		tmpl->env = envv;
}

/* func: the target LIB.so:function, made absolute into target. */
static void submit_func_target(const struct cli *cli, mts_job *tmpl, char *target, size_t targetn)
{
	const char *colon = strrchr(cli->value, ':');
	if (!colon || colon == cli->value || !colon[1])
		cli_die(2, "--func wants LIB.so:function, not '%s'", cli->value);
	if (cli->value[0] == '/') {
		util_strlcpy(target, cli->value, targetn);
	} else {
		char here[RUNDIR_PATH_MAX];
		if (!getcwd(here, sizeof here))
			cli_die(1, "cannot get the current directory: %s", strerror(errno));
		snprintf(target, targetn, "%s/%s", here, cli->value);
	}
	tmpl->target = target;
}

/* --stdin: one job per input line, submitted in large pipelined batches;
 * ids are printed only after their batch was acknowledged. Closes c. */
static int submit_stdin(struct cli *cli, mts_client *c, const mts_job *tmpl)
{
	mts_job *jobs = calloc(STDIN_CHUNK, sizeof *jobs);
	char **lines = calloc(STDIN_CHUNK, sizeof *lines);
	mts_job_id *ids = calloc(STDIN_CHUNK, sizeof *ids);
	if (!jobs || !lines || !ids)
		cli_die(1, "out of memory");
	char *line = NULL;
	size_t cap = 0, n = 0, total = 0;
	ssize_t len;
	int eof = 0;
	if (cli->json)
		fputs("{\"ids\":[", stdout);
	while (!eof) {
		len = getline(&line, &cap, stdin);
		if (len < 0)
			eof = 1;
		else {
			while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
				line[--len] = '\0';
			if (!len && strcmp(cli->kind, "echo"))
				continue; /* an empty command or argument is no job */
			if (!(lines[n] = strdup(line)))
				cli_die(1, "out of memory");
			jobs[n] = *tmpl;
			jobs[n].input = lines[n];
			n++;
		}
		if (n == STDIN_CHUNK || (eof && n)) {
			int rc = mts_submit_batch(ids, c, jobs, n);
			if (rc != MTS_OK)
				submit_failed(cli, c, rc);
			for (size_t i = 0; i < n; i++) {
				if (cli->json)
					printf("%s%lld", total + i ? "," : "", (long long)ids[i]);
				else
					printf("%lld\n", (long long)ids[i]);
				free(lines[i]);
			}
			total += n;
			n = 0;
		}
	}
	free(line);
	free(jobs);
	free(lines);
	free(ids);
	if (cli->json)
		fputs("]}\n", stdout);
	fflush(stdout);
	mts_close(c);
	if (!total)
		fprintf(stderr, "mtslurm: no input lines, no jobs submitted\n");
	return 0;
}

int cmd_submit(struct cli *cli)
{
	submit_check(cli);
	if (cli->type_name)
		return cli_submit_typed(cli);
	mts_job tmpl = MTS_JOB_INIT;
	mts_container ctr;
	const char *vols[CLI_MAX_ENV + 1], *cenvs[CLI_MAX_ENV + 1];
	char image[PATH_MAX];
	if (cli_container(cli, &ctr, vols, cenvs, image, sizeof image))
		tmpl.container = &ctr;
	char cwd[RUNDIR_PATH_MAX], target[RUNDIR_PATH_MAX + 256];
	const char *envv[CLI_MAX_ENV + 1];
	tmpl.type = cli->kind;
	tmpl.delay = cli->delay;
	tmpl.prio = cli->prio;
	tmpl.retries = cli->retries;
	tmpl.timeout = cli->timeout_s > 0 ? cli->timeout_s : 0;
	tmpl.time_request = cli->time_request_s > 0 ? cli->time_request_s : 0;
	tmpl.ranks = cli->ranks;
	tmpl.crash_limit = cli->crash_limit;
	mts_git git;
	char git_url[RUNDIR_PATH_MAX], git_commit[48];
	cli_git_job(cli, &git, git_url, sizeof git_url, git_commit);
	if (cli->git_url)
		tmpl.git = &git;
	submit_resources(cli, &tmpl);
	mts_job_id *deps;
	tmpl.ndeps = parse_deps(cli->after, &deps);
	tmpl.deps = deps;
	if (!strcmp(cli->kind, "exec"))
		submit_exec_parts(cli, &tmpl, cwd, sizeof cwd, envv);
	if (!strcmp(cli->kind, "func"))
		submit_func_target(cli, &tmpl, target, sizeof target);
	if (!cli->use_stdin) {
		if (!strcmp(cli->kind, "func"))
			tmpl.input = cli->npos ? cli->pos[0] : "{}";
		else if (cli->value)
			tmpl.input = cli->value;
		else if (cli->npos)
			tmpl.input = cli->pos[0];
		else
			cli_die(2, "--%s needs a %s (or --stdin for one job per input line)", cli->kind,
				!strcmp(cli->kind, "exec") ? "command" : "message");
	}
	int rc = 0;
	if (cli->array || cli->each_line || cli->from_json) {
		rc = cli_submit_array(cli, &tmpl);
	} else if (cli->use_stdin) {
		rc = submit_stdin(cli, cli_connect(cli), &tmpl);
	} else {
		mts_client *c = cli_connect(cli);
		mts_job_id id;
		int src = mts_submit(&id, c, &tmpl);
		if (src != MTS_OK)
			cli_die_api(c, src);
		printf(cli->json ? "{\"ids\":[%lld]}\n" : "%lld\n", (long long)id);
		mts_close(c);
	}
	free(deps);
	return rc;
}
