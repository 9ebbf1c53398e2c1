/* SPDX-License-Identifier: MIT */
/*
 * pbsjob_tool: slurm/pbsjob.c from the command line, for the scenario that
 * drives it against a real PBS command line (tests/sys/t0595-pbs-cmd.sh).
 * One subcommand per pbsjob call; it prints what the call returned as
 * key=value lines and exits 0, 1 (the call said -1) or 2 (it said -2),
 * with the call's one-line error on stderr.
 *
 *   pbsjob_tool available
 *   pbsjob_tool render|submit [--style select|nodes] [--name N] [--queue Q]
 *       [--account A] [--walltime W] [--nodes N] [--ncpus C] [--mem M]
 *       [--select S] --workdir DIR [--out PATH] --script FILE [--env K=V]...
 *   pbsjob_tool query ID
 *   pbsjob_tool cancel ID
 *   pbsjob_tool nodefile [PATH]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pbsjob.h"

static int usage(void)
{
	fprintf(stderr, "usage: pbsjob_tool available|render|submit|query ID|cancel ID|nodefile [PATH] (see the source)\n");
	return 1;
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return NULL;
	size_t cap = 4096, len = 0;
	char *s = malloc(cap);
	size_t n;
	while (s && (n = fread(s + len, 1, cap - len - 1, f)) > 0) {
		len += n;
		if (cap - len < 2) {
			char *t = realloc(s, cap *= 2);
			if (!t) {
				free(s);
				s = NULL;
			}
			s = t;
		}
	}
	fclose(f);
	if (s)
		s[len] = '\0';
	return s;
}

/* Fill spec from argv[i..]; env and script are allocated. 0 or -1. */
static int parse_spec(int argc, char **argv, struct pbsjob_spec *s, const char **env, char **script)
{
	int nenv = 0;
	for (int i = 2; i < argc; i += 2) {
		const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!v)
			return fprintf(stderr, "pbsjob_tool: %s needs a value\n", k), -1;
		if (!strcmp(k, "--style"))
			s->style = !strcmp(v, "nodes") ? PBSJOB_NODES : PBSJOB_SELECT;
		else if (!strcmp(k, "--name"))
			s->name = v;
		else if (!strcmp(k, "--queue"))
			s->queue = v;
		else if (!strcmp(k, "--account"))
			s->account = v;
		else if (!strcmp(k, "--walltime"))
			s->walltime = v;
		else if (!strcmp(k, "--nodes"))
			s->nodes = (uint32_t)strtoul(v, NULL, 10);
		else if (!strcmp(k, "--ncpus"))
			s->ncpus = (uint32_t)strtoul(v, NULL, 10);
		else if (!strcmp(k, "--mem"))
			s->mem = v;
		else if (!strcmp(k, "--select"))
			s->select = v;
		else if (!strcmp(k, "--workdir"))
			s->work_dir = v;
		else if (!strcmp(k, "--out"))
			s->out_path = v;
		else if (!strcmp(k, "--env") && nenv < 15)
			env[nenv++] = v;
		else if (!strcmp(k, "--script")) {
			if (!(*script = slurp(v)))
				return fprintf(stderr, "pbsjob_tool: cannot read %s\n", v), -1;
			s->script = *script;
		} else
			return fprintf(stderr, "pbsjob_tool: unknown option %s\n", k), -1;
	}
	env[nenv] = NULL;
	s->env = env;
	return 0;
}

static int ret(int rc, const char *err)
{
	if (rc < 0)
		fprintf(stderr, "pbsjob_tool: %s\n", err);
	return rc == 0 ? 0 : rc == -2 ? 2 : 1;
}

int main(int argc, char **argv)
{
	char err[512] = "";
	if (argc < 2)
		return usage();
	const char *cmd = argv[1];
	if (!strcmp(cmd, "available"))
		return ret(pbsjob_available(err, sizeof err), err);
	if (!strcmp(cmd, "render") || !strcmp(cmd, "submit")) {
		struct pbsjob_spec s = {0};
		const char *env[16];
		char *script = NULL;
		if (parse_spec(argc, argv, &s, env, &script) < 0)
			return 1;
		int rc;
		if (!strcmp(cmd, "render")) {
			char *text;
			rc = pbsjob_render(&s, &text, err, sizeof err);
			if (rc == 0)
				fputs(text, stdout);
			if (rc == 0)
				free(text);
		} else {
			char id[128];
			rc = pbsjob_submit(&s, id, sizeof id, err, sizeof err);
			if (rc == 0)
				printf("id=%s\n", id);
		}
		free(script);
		return ret(rc, err);
	}
	if (!strcmp(cmd, "query") && argc == 3) {
		struct pbsjob_info in;
		int rc = pbsjob_query(argv[2], &in, err, sizeof err);
		if (rc == 0)
			printf("state=%d\nletter=%c\nname=%s\nnodes=%s\nnnodes=%u\nncpus=%u\nqueue=%s\n"
			       "walltime_s=%ld\nstart=%lld\nend=%lld\nreason=%s\n",
			       (int)in.state, in.state_letter ? in.state_letter : '-', in.state_name, in.nodes,
			       in.nnodes, in.ncpus, in.queue, in.walltime_s, (long long)in.start, (long long)in.end,
			       in.reason);
		return ret(rc, err);
	}
	if (!strcmp(cmd, "cancel") && argc == 3)
		return ret(pbsjob_cancel(argv[2], err, sizeof err), err);
	if (!strcmp(cmd, "nodefile")) {
		struct pbsjob_host *h;
		size_t n;
		int rc = pbsjob_nodefile(argc > 2 ? argv[2] : NULL, &h, &n, err, sizeof err);
		for (size_t i = 0; rc == 0 && i < n; i++)
			printf("%s %u\n", h[i].name, h[i].slots);
		if (rc == 0)
			free(h);
		return ret(rc, err);
	}
	return usage();
}
