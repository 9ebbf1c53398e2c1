/* SPDX-License-Identifier: MIT */
/*
 * container: the container step of an exec job -- see container.h. Only
 * jobs with options pay for it: the options text is looked at once with
 * strstr and parsed only when it names a container.
 */
#include "container.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "msg.h"

int container_wanted(const struct job *j)
{
	return j->opts && strstr(j->opts, "\"container\"") != NULL;
}

/* 1 if the program prog (a path, or a name looked up on pathvar) can be
 * executed. */
static int on_path(const char *prog, const char *pathvar)
{
	if (strchr(prog, '/'))
		return access(prog, X_OK) == 0;
	const char *p = pathvar ? pathvar : "/usr/local/bin:/usr/bin:/bin";
	char path[4096];
	for (;;) {
		const char *e = strchr(p, ':');
		size_t dl = e ? (size_t)(e - p) : strlen(p);
		struct stat st;
		int k = snprintf(path, sizeof path, "%.*s/%s", (int)dl, dl ? p : ".", prog);
		if (k > 0 && (size_t)k < sizeof path && stat(path, &st) == 0 && S_ISREG(st.st_mode) &&
		    access(path, X_OK) == 0)
			return 1;
		if (!e)
			return 0;
		p = e + 1;
	}
}

/* The program a runtime's command template starts (its first word). */
static void first_word(const struct runtime *r, char *out, size_t n)
{
	const char *s = r->command + strspn(r->command, " \t");
	size_t l = strcspn(s, " \t");
	snprintf(out, n, "%.*s", (int)(l < n ? l : n - 1), s);
}

/* The runtime c names, else the site's default, else the first built-in
 * on PATH. NULL with why. */
static const struct runtime *pick(struct runtimes *rt, const msg *c, const char *pathvar, char *why, size_t n)
{
	const char *name = msg_get_str(c, "runtime");
	const char *from = "the job's \"runtime\"";
	if (!name && (name = runtimes_default(rt)))
		from = "the site's \"default\" (runtimes.json)";
	if (name) {
		const struct runtime *r = runtimes_find(rt, name);
		if (!r) {
			char names[300];
			runtimes_names(rt, names, sizeof names);
			snprintf(why, n, "unknown container runtime \"%.60s\" (%s); known: %s", name, from, names);
		}
		return r;
	}
	for (size_t i = 0; runtime_builtin(i); i++) {
		char prog[256];
		first_word(runtime_builtin(i), prog, sizeof prog);
		if (on_path(prog, pathvar))
			return runtime_builtin(i);
	}
	snprintf(why, n, "no container runtime on this node: none of apptainer, singularity, ch-run, podman, bwrap is "
		 "on the job's PATH (install one, or name one with --runtime or a site's runtimes.json)");
	return NULL;
}

int container_wrap(struct runtimes *rt, const struct job *j, char *const *command, const char *pathvar,
		   char ***argv_out, const char **runtime_out, char *why, size_t n)
{
	*argv_out = NULL;
	*runtime_out = NULL;
	if (!container_wanted(j))
		return 0;
	char perr[160];
	msg *o = msg_parse(j->opts, strlen(j->opts), perr, sizeof perr);
	const msg *c = msg_get(o, "container");
	int rc = -1;
	if (!o) {
		snprintf(why, n, "the job's options are not JSON (%s)", perr);
		goto out;
	}
	if (!c) {
		rc = 0; /* "container" was a string somewhere else in the options */
		goto out;
	}
	if (runtime_container_check(c, why, n) || runtimes_refresh(rt, why, n))
		goto out;
	const char *image = msg_get_str(c, "image");
	struct stat st;
	if (image[0] == '/' && stat(image, &st) < 0) {
		snprintf(why, n, "container image %.300s: %s on this node", image, strerror(errno));
		goto out;
	}
	const struct runtime *r = pick(rt, c, pathvar, why, n);
	if (!r)
		goto out;
	*argv_out = runtime_expand(r, c, command, why, n);
	if (*argv_out) {
		*runtime_out = r->name;
		rc = 0;
	}
out:
	msg_free(o);
	return rc;
}
