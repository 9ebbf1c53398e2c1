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

static int cmd_available(int argc, char **argv, char *err, size_t errlen)
{
	(void)argc;
	(void)argv;
	return pbsjob_available(err, errlen);
}

static int cmd_spec(int argc, char **argv, char *err, size_t errlen)
{
	struct pbsjob_spec s = {0};
	const char *env[16];
	char *script = NULL, *text, id[128];
	if (parse_spec(argc, argv, &s, env, &script) < 0)
		return snprintf(err, errlen, "bad arguments"), -1;
	int rc;
	if (!strcmp(argv[1], "render")) {
		rc = pbsjob_render(&s, &text, err, errlen);
		if (rc == 0) {
			fputs(text, stdout);
			free(text);
		}
	} else {
		rc = pbsjob_submit(&s, id, sizeof id, err, errlen);
		if (rc == 0)
			printf("id=%s\n", id);
	}
	free(script);
	return rc;
}

static int cmd_query(int argc, char **argv, char *err, size_t errlen)
{
	struct pbsjob_info in;
	int rc = pbsjob_query(argc > 2 ? argv[2] : NULL, &in, err, errlen);
	if (rc == 0)
		printf("state=%d\nletter=%c\nname=%s\nnodes=%s\nnnodes=%u\nncpus=%u\nqueue=%s\n"
		       "walltime_s=%ld\nstart=%lld\nend=%lld\nreason=%s\n",
		       (int)in.state, in.state_letter ? in.state_letter : '-', in.state_name, in.nodes,
		       in.nnodes, in.ncpus, in.queue, in.walltime_s, (long long)in.start, (long long)in.end,
		       in.reason);
	return rc;
}

static int cmd_cancel(int argc, char **argv, char *err, size_t errlen)
{
	return pbsjob_cancel(argc > 2 ? argv[2] : NULL, err, errlen);
}

static int cmd_nodefile(int argc, char **argv, char *err, size_t errlen)
{
	struct pbsjob_host *h;
	size_t n;
	int rc = pbsjob_nodefile(argc > 2 ? argv[2] : NULL, &h, &n, err, errlen);
	for (size_t i = 0; rc == 0 && i < n; i++)
		printf("%s %u\n", h[i].name, h[i].slots);
	if (rc == 0)
		free(h);
	return rc;
}

static const struct {
	const char *name;
	int (*fn)(int argc, char **argv, char *err, size_t errlen);
} cmds[] = {
	{"available", cmd_available}, {"render", cmd_spec},     {"submit", cmd_spec},
	{"query", cmd_query},         {"cancel", cmd_cancel}, {"nodefile", cmd_nodefile},
};

int main(int argc, char **argv)
{
	char err[512] = "";
	for (size_t i = 0; argc > 1 && i < sizeof cmds / sizeof cmds[0]; i++) {
		if (strcmp(argv[1], cmds[i].name) != 0)
			continue;
		int rc = cmds[i].fn(argc, argv, err, sizeof err);
		if (rc < 0)
			fprintf(stderr, "pbsjob_tool: %s\n", err);
		return rc == 0 ? 0 : rc == -2 ? 2 : 1;
	}
	return usage();
}
