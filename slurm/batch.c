/* SPDX-License-Identifier: MIT */
/*
 * batch: the table of backends and what is common to them -- finding one
 * by name, choosing one for "auto" (the machine's batch system, else this
 * machine), and telling whether this process runs inside an allocation.
 * See batch.h. The backends themselves live one per file (sljob.c,
 * pbsbatch.c, localjob.c).
 */
#include "batch.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* "auto" takes the first whose detect() says yes, so a batch system comes
 * before local, which always does. PBS's detect() wants a PBS server's
 * configuration, not just qsub (which may be Slurm's wrapper). */
const struct batch_ops *const batch_backends[] = {
	&batch_slurm_ops,
	&batch_pbs_ops,
	&batch_local_ops,
	NULL,
};

const char *batch_names(void)
{
	static char names[128];
	if (!names[0]) {
		size_t k = 0;
		for (int i = 0; batch_backends[i] && k < sizeof names; i++)
			k += (size_t)snprintf(names + k, sizeof names - k, "%s%s", i ? ", " : "",
					      batch_backends[i]->name);
	}
	return names;
}

const struct batch_ops *batch_detect(void)
{
	for (int i = 0; batch_backends[i]; i++)
		if (batch_backends[i]->detect())
			return batch_backends[i];
	return &batch_local_ops;
}

const struct batch_ops *batch_find(const char *name, char *err, size_t errlen)
{
	if (!name || !*name || strcmp(name, "auto") == 0)
		return batch_detect();
	for (int i = 0; batch_backends[i]; i++)
		if (strcmp(batch_backends[i]->name, name) == 0)
			return batch_backends[i];
	snprintf(err, errlen, "--backend %.64s: no such backend in this mtslurm; it knows auto, %s", name,
		 batch_names());
	return NULL;
}

const struct batch_ops *batch_in_allocation(char id[BATCH_ID_MAX])
{
	/* a local job's variable first: set by mtslurm itself, it is the
	 * nearer allocation when a local job runs inside a Slurm or PBS one
	 * (--local --autoscale in an salloc shell) */
	const struct batch_ops *order[sizeof batch_backends / sizeof batch_backends[0]];
	size_t n = 0;
	order[n++] = &batch_local_ops;
	for (int i = 0; batch_backends[i]; i++)
		if (batch_backends[i] != &batch_local_ops)
			order[n++] = batch_backends[i];
	order[n] = NULL;
	for (int i = 0; order[i]; i++) {
		const char *env = order[i]->alloc_env;
		const char *v = env ? getenv(env) : NULL;
		if (v && *v && strlen(v) < BATCH_ID_MAX) {
			snprintf(id, BATCH_ID_MAX, "%s", v);
			return order[i];
		}
	}
	return NULL;
}

int batch_alloc_info(const struct batch_ops **ops, char id[BATCH_ID_MAX], struct batch_info *info, char *err,
		     size_t errlen)
{
	memset(info, 0, sizeof *info);
	*ops = batch_in_allocation(id);
	if (!*ops)
		return 1;
	return (*ops)->query(id, info, err, errlen) ? -1 : 0;
}

int batch_id_number(const char *id, int64_t *n)
{
	if (!id || !isdigit((unsigned char)*id))
		return 0;
	char *end;
	errno = 0;
	long long v = strtoll(id, &end, 10);
	if (errno || *end)
		return 0;
	*n = v;
	return 1;
}

/* A field of digits; -1 if empty or not digits. */
static long digits_field(const char *s, size_t len)
{
	if (!len || len > 9)
		return -1;
	long v = 0;
	for (size_t i = 0; i < len; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

long batch_walltime_s(const char *s)
{
	long days = 0, f[3];
	int n = 0, dayform = 0;
	const char *dash = strchr(s, '-');
	if (dash) {
		if ((days = digits_field(s, (size_t)(dash - s))) < 0)
			return -1;
		s = dash + 1;
		dayform = 1;
	}
	for (;;) {
		size_t len = strcspn(s, ":");
		if (n == 3 || (f[n++] = digits_field(s, len)) < 0)
			return -1;
		if (!s[len])
			break;
		s += len + 1;
	}
	long t;
	for (int i = 1; i < n; i++)
		if (f[i] >= 60)
			return -1;
	if (dayform) { /* D-HH[:MM[:SS]] */
		if (f[0] >= 24)
			return -1;
		t = days * 86400 + f[0] * 3600 + (n > 1 ? f[1] * 60 : 0) + (n > 2 ? f[2] : 0);
	} else if (n == 1) {
		t = f[0] * 60; /* minutes, as sbatch --time */
	} else if (n == 2) {
		t = f[0] * 60 + f[1];
	} else {
		t = f[0] * 3600 + f[1] * 60 + f[2];
	}
	return t;
}
