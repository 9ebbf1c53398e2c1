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

#include "msg.h"

int container_wanted(const struct job *j)
{
	return j->opts && strstr(j->opts, "\"container\"") != NULL;
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
	const struct runtime *r = runtimes_pick(rt, msg_get_str(c, "runtime"), pathvar, why, n);
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
