/* SPDX-License-Identifier: MIT */
/*
 * cmd_git: git checkouts from the command line -- `submit --git URL
 * [--branch B | --commit C]` resolves the branch to its commit here, once,
 * with libgit2's remote listing (no clone), so every job of the submit runs
 * the same version whatever the branch does later; run-script payloads
 * with a git environment get the same treatment. (The master resolves what
 * other clients send without a commit, master/gitres.c, and passes a commit
 * untouched; resolving here keeps one commit for a submit of many frames.)
 * `mtslurm git gc` removes the checkouts no job uses (share/gitcache.h has
 * the cache's layout).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "gitcache.h"
#include "util.h"

/* A local path (not URL-like, not user@host:path) made absolute, since
 * the workers do not run in this directory; anything else as given. */
static const char *repo_url(const char *url, char *abs, size_t n)
{
	const char *colon = strchr(url, ':'), *slash = strchr(url, '/');
	int url_like = strstr(url, "://") != NULL || (colon && (!slash || colon < slash));
	char *r = url_like ? NULL : realpath(url, NULL);
	if (!r)
		return url;
	util_strlcpy(abs, r, n);
	free(r);
	return abs;
}

/* The commit the job runs: --commit (it wins over --branch), else the
 * branch (default: the repository's HEAD) resolved now. */
static void resolve(const char *url, const char *commit, const char *branch, char out[GITCACHE_COMMIT_HEX + 1])
{
	char err[GITCACHE_ERR_MAX];
	if (commit) {
		if (!gitcache_is_commit(commit))
			cli_die(2, "--commit wants a full commit id (40 hexadecimal digits), not '%s'; for a branch or "
				"tag use --branch", commit);
		util_strlcpy(out, commit, GITCACHE_COMMIT_HEX + 1);
		return;
	}
	if (gitcache_resolve(url, branch, out, err, sizeof err) < 0)
		cli_die(2, "git: %s", err);
}

void cli_git_job(struct cli *cli, mts_git *g, char *url_buf, size_t url_n, char *commit)
{
	if (!cli->git_url) {
		if (cli->git_branch || cli->git_commit || cli->git_workdir || cli->git_setup)
			cli_die(2, "--branch, --commit, --workdir and --git-setup go with --git URL");
		return;
	}
	if (!cli->kind || strcmp(cli->kind, "exec"))
		cli_die(2, "--git is for exec jobs (--exec CMD runs in the checkout)");
	if (cli->cwd)
		cli_die(2, "--cwd and --git: the job runs in the checkout (--workdir DIR for a directory inside it)");
	const char *w = cli->git_workdir;
	if (w && (w[0] == '/' || strstr(w, "..")))
		cli_die(2, "--workdir wants a relative directory inside the checkout, not '%s'", w);
	memset(g, 0, sizeof *g);
	g->url = repo_url(cli->git_url, url_buf, url_n);
	resolve(g->url, cli->git_commit, cli->git_branch, commit);
	g->commit = commit;
	g->branch = cli->git_commit ? NULL : cli->git_branch;
	g->workdir = w;
	g->setup = cli->git_setup;
}

void cli_git_payload(msg *payload)
{
	msg *g = msg_get(msg_get(payload, "environment"), "git");
	const char *url = msg_get_str(g, "repo_url");
	if (!msg_is_object(g) || !url || msg_get_str(g, "commit"))
		return; /* no git, or its commit given: nothing to resolve (the worker checks the rest) */
	char commit[GITCACHE_COMMIT_HEX + 1];
	resolve(url, NULL, msg_get_str(g, "branch"), commit);
	if (msg_set_str(g, "commit", commit))
		cli_die(1, "out of memory");
}

struct gc_print {
	int json, n;
};

static void on_gone(void *arg, const struct gitcache_gone *g)
{
	struct gc_print *p = arg;
	if (p->json) {
		msg *o = msg_new_object();
		msg_set_str(o, "key", g->key);
		msg_set_str(o, "url", g->url);
		msg_set_str(o, "commit", g->commit);
		msg_set_int(o, "bytes", (int64_t)g->bytes);
		char *t = msg_print(o);
		printf("%s%s", p->n ? "," : "", t ? t : "null");
		free(t);
		msg_free(o);
	} else if (*g->url) {
		printf("removed checkout %s (%s at %.12s): %llu bytes\n", g->key, g->url, g->commit,
		       (unsigned long long)g->bytes);
	} else {
		printf("removed clone %s: %llu bytes\n", g->key, (unsigned long long)g->bytes);
	}
	p->n++;
}

int cmd_git(struct cli *cli)
{
	if (!cli->npos || strcmp(cli->pos[0], "gc"))
		cli_die(2, "git wants a subcommand: gc (remove the checkouts no job uses)");
	char root[RUNDIR_PATH_MAX + 8], err[GITCACHE_ERR_MAX];
	snprintf(root, sizeof root, "%s/git", cli->run_dir);
	struct gc_print p = {cli->json, 0};
	uint64_t freed = 0;
	if (cli->json)
		fputs("{\"removed\":[", stdout);
	if (gitcache_gc(root, 0, NULL, on_gone, &p, &freed, err, sizeof err) < 0)
		cli_die(1, "git gc: %s", err);
	if (cli->json)
		printf("],\"freed\":%llu}\n", (unsigned long long)freed);
	else
		printf("freed %llu bytes (%d removed)\n", (unsigned long long)freed, p.n);
	return 0;
}
