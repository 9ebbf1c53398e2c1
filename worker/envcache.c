/* SPDX-License-Identifier: MIT */
/*
 * envcache: snapshots by id, each built once into an exec job's base
 * environment -- see envcache.h.
 */
#include "envcache.h"

#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "jobenv.h"
#include "util.h"

extern char **environ;

struct envcache {
	struct envcache_ent **v;
	size_t n, cap;
};

struct envcache *envcache_new(void) { return calloc(1, sizeof(struct envcache)); }

void envcache_put(struct envcache_ent *e)
{
	if (e && --e->refs == 0)
		free(e);
}

void envcache_reset(struct envcache *c)
{
	for (size_t i = 0; i < c->n; i++)
		envcache_put(c->v[i]);
	c->n = 0;
}

void envcache_free(struct envcache *c)
{
	if (!c)
		return;
	envcache_reset(c);
	free(c->v);
	free(c);
}

size_t envcache_count(const struct envcache *c) { return c->n; }

struct envcache_ent *envcache_get(struct envcache *c, uint32_t id)
{
	for (size_t i = 0; i < c->n; i++)
		if (c->v[i]->id == id) {
			c->v[i]->refs++;
			return c->v[i];
		}
	return NULL;
}

static size_t name_len(const char *kv) { return strcspn(kv, "="); }

/* Put kv into list (n entries), replacing a variable of the same name among
 * the first `check` ones (the minimal base; a snapshot's own names are
 * unique, as the client sends them, so they need no O(n^2) search). */
static void list_set(const char **list, size_t *n, size_t check, const char *kv)
{
	size_t nl = name_len(kv);
	for (size_t i = 0; i < check; i++)
		if (name_len(list[i]) == nl && strncmp(list[i], kv, nl) == 0) {
			list[i] = kv;
			return;
		}
	list[(*n)++] = kv;
}

/* The "none" base: what a login gives, for the worker's user. Strings in
 * buf (at least 5 * 4200 bytes). */
static size_t minimal_base(const char **list, char *buf, size_t bufsz)
{
	struct passwd *pw = getpwuid(geteuid());
	const char *home = pw && pw->pw_dir ? pw->pw_dir : "/";
	const char *user = pw && pw->pw_name ? pw->pw_name : "";
	const char *shell = pw && pw->pw_shell && *pw->pw_shell ? pw->pw_shell : "/bin/sh";
	size_t n = 0, at = 0;
	const char *fmt[][2] = {{"PATH", "/usr/local/bin:/usr/bin:/bin"}, {"HOME", home}, {"USER", user},
				{"LOGNAME", user}, {"SHELL", shell}};
	for (size_t i = 0; i < sizeof fmt / sizeof fmt[0]; i++) {
		int k = snprintf(buf + at, bufsz - at, "%s=%s", fmt[i][0], fmt[i][1]);
		if (k < 0 || (size_t)k >= bufsz - at)
			break;
		list[n++] = buf + at;
		at += (size_t)k + 1;
	}
	return n;
}

/* One allocation: the entry, the pointers, the strings. */
static struct envcache_ent *ent_make(uint32_t id, const char **list, size_t n)
{
	size_t bytes = 0;
	for (size_t i = 0; i < n; i++)
		bytes += strlen(list[i]) + 1;
	struct envcache_ent *e = malloc(sizeof *e + (n + 1) * sizeof(char *) + bytes);
	if (!e)
		return NULL;
	e->id = id;
	e->refs = 1;
	e->n = n;
	e->base = (char **)(e + 1);
	char *p = (char *)(e->base + n + 1);
	for (size_t i = 0; i < n; i++) {
		size_t l = strlen(list[i]) + 1;
		memcpy(p, list[i], l);
		e->base[i] = p;
		p += l;
	}
	e->base[n] = NULL;
	return e;
}

int envcache_define(struct envcache *c, uint32_t id, const msg *def, char *err, size_t errlen)
{
	const char *base = msg_get_str(def, "base");
	msg *vars = msg_get(def, "vars");
	if (!id || !base || (strcmp(base, "all") && strcmp(base, "none")) || !msg_is_array(vars))
		return snprintf(err, errlen, "envdef needs an envid, \"base\" all or none and \"vars\""), -1;
	size_t nworker = 0;
	for (char **e = environ; *e; e++)
		nworker += jobenv_slurm_var(*e);
	size_t cap = msg_size(vars) + nworker + 8;
	const char **list = malloc(cap * sizeof *list);
	char mini[5 * 4200];
	if (!list)
		return snprintf(err, errlen, "out of memory"), -1;
	size_t n = strcmp(base, "none") == 0 ? minimal_base(list, mini, sizeof mini) : 0, nmin = n;
	for (msg *v = msg_child(vars); v; v = msg_next(v)) {
		const char *kv = msg_str(v);
		/* the submitter's Slurm variables describe its own allocation */
		if (kv && strchr(kv, '=') && kv[0] != '=' && !jobenv_slurm_var(kv))
			list_set(list, &n, nmin, kv);
	}
	for (char **e = environ; *e; e++)
		if (jobenv_slurm_var(*e))
			list_set(list, &n, 0, *e);
	struct envcache_ent *e = ent_make(id, list, n);
	free(list);
	if (!e)
		return snprintf(err, errlen, "out of memory"), -1;
	for (size_t i = 0; i < c->n; i++)
		if (c->v[i]->id == id) {
			envcache_put(c->v[i]);
			c->v[i] = e;
			return 0;
		}
	if (util_grow(&c->v, &c->cap, c->n, sizeof *c->v, 8)) {
		envcache_put(e);
		return snprintf(err, errlen, "out of memory"), -1;
	}
	c->v[c->n++] = e;
	return 0;
}
