/* SPDX-License-Identifier: MIT */
/*
 * base: what every command of `mtslurm` uses -- dying with a one-line
 * message (the CLI is the one place that may print and exit), reading ids,
 * durations and the library's JSON, connecting to the cluster, printing
 * JSON. Commands sit on this; main.c only parses the command line.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "cli.h"
#include "runtime.h"

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
	/* tests shorten it (t0802: wait --array asks again each time it passes) */
	const char *t = getenv("MTSLURM_CLI_TIMEOUT_MS");
	if (t && atoi(t) > 0)
		o.timeout_ms = atoi(t);
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

double cli_duration(const char *opt, const char *v)
{
	char *end;
	double x = strtod(v, &end);
	double mul = !*end		  ? 1
		     : !strcmp(end, "s") ? 1
		     : !strcmp(end, "m") ? 60
		     : !strcmp(end, "h") ? 3600
		     : !strcmp(end, "d") ? 86400
					 : -1;
	if (end == v || mul < 0 || !(x >= 0) || x > 1e9)
		cli_die(2, "%s wants a duration like 90, 90s, 5m, 2h or 7d, not '%s'", opt, v);
	return x * mul;
}

void cli_print_json(msg *m)
{
	char *t = msg_print(m);
	if (!t)
		cli_die(1, "out of memory printing JSON");
	printf("%s\n", t);
	free(t);
	msg_free(m);
}

int cli_container(struct cli *cli, mts_container *c, const char **vols, const char **envs, char *image,
		  size_t image_len)
{
	if (!cli->container) {
		if (cli->runtime || cli->nvolume || cli->ncenv || cli->container_cwd)
			cli_die(2, "--runtime, --volume, --container-cwd and --container-env go with --container IMAGE");
		return 0;
	}
	const char *img = cli->container;
	if (!*img)
		cli_die(2, "--container wants an image: a root filesystem directory, an image file or a name");
	if (strchr(img, '/') && !strstr(img, "://")) {
		/* a path: the workers see the same filesystem, so it must be
		 * here too (a relative one is relative to here) */
		if (!realpath(img, image))
			cli_die(2, "container image %s: %s (give an image that exists on the shared filesystem)", img,
				strerror(errno));
		img = image;
	}
	(void)image_len;
	if (cli->container_cwd && cli->container_cwd[0] != '/')
		cli_die(2, "--container-cwd wants an absolute directory inside the image, not '%s'", cli->container_cwd);
	if (cli->runtime) {
		struct runtimes *rt = runtimes_new(cli->run_dir, NULL);
		char why[300];
		if (!rt)
			cli_die(1, "out of memory");
		if (runtimes_refresh(rt, why, sizeof why))
			cli_die(2, "%s", why);
		if (!runtimes_find(rt, cli->runtime)) {
			runtimes_names(rt, why, sizeof why);
			cli_die(2, "unknown container runtime '%s'; known: %s (a site adds its own in %s/%s)", cli->runtime,
				why, cli->run_dir, RUNTIME_RUN_FILE);
		}
		runtimes_free(rt);
	}
	for (int i = 0; i < cli->nvolume; i++) {
		if (cli->volume[i][0] != '/')
			cli_die(2, "--volume %s: the host path must be absolute", cli->volume[i]);
		vols[i] = cli->volume[i];
	}
	vols[cli->nvolume] = NULL;
	for (int i = 0; i < cli->ncenv; i++)
		envs[i] = cli->cenv[i];
	envs[cli->ncenv] = NULL;
	*c = (mts_container){img, cli->runtime, cli->container_cwd, cli->nvolume ? vols : NULL,
			     cli->ncenv ? envs : NULL};
	return 1;
}

char *cli_read_file(const char *path, const char *what)
{
	FILE *f = strcmp(path, "-") ? fopen(path, "r") : stdin;
	if (!f)
		cli_die(2, "%s %s: %s", what ? what : "cannot read", path, strerror(errno));
	struct buf b = BUF_INIT;
	char chunk[65536];
	size_t n;
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
		if (buf_add(&b, chunk, n))
			cli_die(1, "out of memory");
	if (f != stdin)
		fclose(f);
	char *t = b.p ? b.p : strdup("");
	if (!t)
		cli_die(1, "out of memory");
	return t;
}
