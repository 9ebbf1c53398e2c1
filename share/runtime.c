/* SPDX-License-Identifier: MIT */
/*
 * runtime: container runtimes as argv templates -- see runtime.h. A
 * template is expanded word by word into one buffer of NUL-terminated
 * words, then packed with its pointer array into a single allocation, so
 * the exec path frees one block per job. The site's files are kept parsed
 * (msg trees the runtime strings point into) and re-read only when a
 * stat() says they changed.
 */
#include "runtime.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "nametab.h"

/* Sorted by name (nametab). */
static const struct runtime builtins[] = {
	{"apptainer", "apptainer exec {workdir} {volumes} {env} {image} {command}", "--bind {src}:{dst}",
	 "--bind {src}:{dst}:ro", "--env {key}={value}", "--pwd {dir}"},
	/* the image is a root filesystem directory, mounted read-only (jobs
	 * do not change the image others run); /tmp is the job's own; its own
	 * PID namespace, so nothing the job starts outlives it */
	{"bwrap",
	 "bwrap --ro-bind {image} / --dev /dev --proc /proc --tmpfs /tmp --unshare-pid --die-with-parent {workdir} "
	 "{volumes} {env} {command}",
	 "--bind {src} {dst}", "--ro-bind {src} {dst}", "--setenv {key} {value}", "--chdir {dir}"},
	/* --env-no-expand: a value's $ is the job's, not ch-run's */
	{"ch-run", "ch-run {workdir} {volumes} --env-no-expand {env} {image} -- {command}", "-b {src}:{dst}", NULL,
	 "--set-env={key}={value}", "-c {dir}"},
	/* --init: a tiny init forwards the SIGTERM of a cancel or timeout to
	 * the job (a shell as PID 1 would ignore it); --cgroups=split keeps
	 * the container inside the job's cgroup, so the worker's kill reaches
	 * it (else conmon dies on that SIGTERM and leaves the container
	 * running); -e NAME passes the job's own variables, which podman does
	 * not inherit */
	{"podman",
	 "podman run --rm --init --cgroups=split --network=host {workdir} {volumes} {env} -e MTSLURM_JOB_ID -e MTSLURM_ATTEMPT "
	 "-e MTSLURM_WORKER -e MTSLURM_RUN_DIR {image} {command}",
	 "-v {src}:{dst}", "-v {src}:{dst}:ro", "-e {key}={value}", "-w {dir}"},
	{"singularity", "singularity exec {workdir} {volumes} {env} {image} {command}", "--bind {src}:{dst}",
	 "--bind {src}:{dst}:ro", "--env {key}={value}", "--pwd {dir}"},
};
#define NBUILTIN (sizeof builtins / sizeof builtins[0])

/* The order a worker tries them in without a named runtime: HPC runtimes
 * first, the sandbox last. */
static const char *const preference[] = {"apptainer", "singularity", "ch-run", "podman", "bwrap"};

struct site_file {
	char *path;
	int exists;
	long long size, mtime_ns;
};

struct runtimes {
	struct site_file file[2]; /* the site's, RUN_DIR's */
	msg *doc[2];              /* parsed; the runtimes' strings point here */
	struct runtime *site;     /* both files' runtimes, later file first */
	size_t nsite;
	const char *dflt;
	int loaded;
	char error[300]; /* why the files last failed to load, "" if they did not */
};

/* ---- templates ---- */

struct var {
	const char *name, *value;
};

/* Word list being built: NUL-terminated words one after the other. */
struct words {
	struct buf b;
	size_t n;
};

static int words_end(struct words *w)
{
	w->n++;
	return buf_add(&w->b, "", 1);
}

/* Append word (len bytes) with its {name}s replaced from vars to w (w NULL:
 * only check). -1 with the reason for an unknown or unclosed placeholder. */
static int subst(struct words *w, const char *word, size_t len, const struct var *vars, size_t nv,
		 const char *what, char *err, size_t n)
{
	for (size_t i = 0; i < len;) {
		if (word[i] != '{') {
			size_t k = i;
			while (k < len && word[k] != '{')
				k++;
			if (w && buf_add(&w->b, word + i, k - i))
				return snprintf(err, n, "out of memory"), -1;
			i = k;
			continue;
		}
		const char *close = memchr(word + i, '}', len - i);
		if (!close)
			return snprintf(err, n, "%s: unclosed { in \"%.*s\"", what, (int)len, word), -1;
		size_t nl = (size_t)(close - word) - i - 1;
		size_t v = 0;
		while (v < nv && !(strlen(vars[v].name) == nl && memcmp(vars[v].name, word + i + 1, nl) == 0))
			v++;
		if (v == nv) {
			int m = snprintf(err, n, "%s: unknown placeholder {%.*s} (known here:", what, (int)nl, word + i + 1);
			for (size_t k = 0; k < nv && m > 0 && (size_t)m < n; k++)
				m += snprintf(err + m, n - (size_t)m, " {%s}", vars[k].name);
			if (m > 0 && (size_t)m < n)
				snprintf(err + m, n - (size_t)m, ")");
			return -1;
		}
		if (w && vars[v].value && buf_adds(&w->b, vars[v].value))
			return snprintf(err, n, "out of memory"), -1;
		i = (size_t)(close - word) + 1;
	}
	return w && words_end(w) ? (snprintf(err, n, "out of memory"), -1) : 0;
}

/* The next word of tmpl at *at: its start and length; 0 at the end. */
static int next_word(const char **at, const char **word, size_t *len)
{
	const char *p = *at;
	while (*p == ' ' || *p == '\t')
		p++;
	if (!*p)
		return 0;
	*word = p;
	while (*p && *p != ' ' && *p != '\t')
		p++;
	*len = (size_t)(p - *word);
	*at = p;
	return 1;
}

/* Every word of a sub-template (volume, env, workdir) into w. */
static int sub_words(struct words *w, const char *tmpl, const struct var *vars, size_t nv, const char *what,
		     char *err, size_t n)
{
	const char *at = tmpl, *word;
	size_t len;
	while (next_word(&at, &word, &len))
		if (subst(w, word, len, vars, nv, what, err, n))
			return -1;
	return 0;
}

static int is_word(const char *word, size_t len, const char *s)
{
	return strlen(s) == len && memcmp(word, s, len) == 0;
}

int runtime_check(const struct runtime *r, char *err, size_t n)
{
	char what[120];
	if (!r->command)
		return snprintf(err, n, "runtime %.60s has no \"command\" template", r->name), -1;
	snprintf(what, sizeof what, "runtime %.60s, template command", r->name);
	const char *at = r->command, *word;
	size_t len;
	int ncommand = 0, image = strstr(r->command, "{image}") != NULL;
	static const char *const lists[] = {"{command}", "{volumes}", "{env}", "{workdir}"};
	const struct var img = {"image", NULL};
	while (next_word(&at, &word, &len)) {
		size_t l = 0;
		while (l < 4 && !is_word(word, len, lists[l]))
			l++;
		ncommand += l == 0;
		if (l == 4 && subst(NULL, word, len, &img, 1, what, err, n))
			return snprintf(err + strlen(err), n - strlen(err),
					"; {command}, {volumes}, {env} and {workdir} stand as words of their own"),
			       -1;
	}
	if (ncommand != 1 || !image)
		return snprintf(err, n, "%s: needs {image} and exactly one {command}", what), -1;
	const struct var vol[] = {{"src", NULL}, {"dst", NULL}}, env[] = {{"key", NULL}, {"value", NULL}},
			 dir[] = {{"dir", NULL}};
	const struct {
		const char *name, *tmpl;
		const struct var *vars;
		size_t nv;
	} subs[] = {{"volume", r->volume, vol, 2},
		    {"volume_ro", r->volume_ro, vol, 2},
		    {"env", r->env, env, 2},
		    {"workdir", r->workdir, dir, 1}};
	for (size_t i = 0; i < 4; i++) {
		snprintf(what, sizeof what, "runtime %.60s, template %s", r->name, subs[i].name);
		if (subs[i].tmpl && sub_words(NULL, subs[i].tmpl, subs[i].vars, subs[i].nv, what, err, n))
			return -1;
	}
	return 0;
}

/* ---- the container object ---- */

static int abs_path(const char *p)
{
	return p && p[0] == '/';
}

/* A volume's destination and mode: DST, or {"bind": DST, "mode": M}. */
static int volume_of(const msg *v, const char **dst, int *ro)
{
	*ro = 0;
	if (msg_str(v)) {
		*dst = msg_str(v);
		return abs_path(*dst) ? 0 : -1;
	}
	if (!msg_is_object(v))
		return -1;
	*dst = msg_get_str(v, "bind");
	const msg *m = msg_get(v, "mode");
	const char *mode = msg_str(m);
	if (m && !msg_is_null(m) && (!mode || (strcmp(mode, "ro") && strcmp(mode, "rw"))))
		return -1;
	*ro = mode && strcmp(mode, "ro") == 0;
	return abs_path(*dst) ? 0 : -1;
}

int runtime_container_check(const msg *c, char *err, size_t n)
{
	if (!msg_is_object(c))
		return snprintf(err, n, "\"container\" must be an object {\"image\", \"runtime\", \"workdir\", "
				"\"volumes\", \"env\"}"), -1;
	const char *image = msg_get_str(c, "image");
	if (!image || !image[0])
		return snprintf(err, n, "\"container\" needs \"image\": the image to run in (a path or a name "
				"the runtime knows)"), -1;
	for (const msg *f = msg_child(c); f; f = msg_next(f)) {
		const char *k = msg_key(f);
		if (strcmp(k, "image") == 0 || (strcmp(k, "runtime") == 0 && msg_str(f) && msg_str(f)[0]))
			continue;
		if (strcmp(k, "workdir") == 0 && abs_path(msg_str(f)))
			continue;
		if (strcmp(k, "runtime") == 0)
			return snprintf(err, n, "container \"runtime\" must be a runtime's name"), -1;
		if (strcmp(k, "workdir") == 0)
			return snprintf(err, n, "container \"workdir\" must be an absolute path inside the image"), -1;
		if (strcmp(k, "volumes") == 0 && msg_is_object(f)) {
			for (const msg *v = msg_child(f); v; v = msg_next(v)) {
				const char *dst;
				int ro;
				if (!abs_path(msg_key(v)) || volume_of(v, &dst, &ro))
					return snprintf(err, n, "container volume \"%.200s\": \"volumes\" maps absolute host "
							"paths to absolute paths in the image, or to {\"bind\": PATH, "
							"\"mode\": \"ro\" | \"rw\"}", msg_key(v)), -1;
			}
			continue;
		}
		if (strcmp(k, "env") == 0 && msg_is_object(f)) {
			for (const msg *v = msg_child(f); v; v = msg_next(v))
				if (!msg_str(v) || !msg_key(v)[0] || strchr(msg_key(v), '='))
					return snprintf(err, n, "container \"env\" must map variable names (no '=') to "
							"strings; \"%.100s\" does not", msg_key(v)), -1;
			continue;
		}
		if (strcmp(k, "volumes") == 0 || strcmp(k, "env") == 0)
			return snprintf(err, n, "container \"%s\" must be an object", k), -1;
		return snprintf(err, n, "container: unknown member \"%.60s\" (expected image, runtime, workdir, volumes, "
				"env)", k), -1;
	}
	return 0;
}

/* ---- expansion ---- */

/* The words {volumes}, {env}, {workdir} or {command} stand for. */
static int list_words(struct words *w, const struct runtime *r, int which, const msg *c, char *const *command,
		      char *err, size_t n)
{
	char what[100];
	if (which == 0) { /* {command} */
		for (size_t i = 0; command[i]; i++)
			if (buf_adds(&w->b, command[i]) || words_end(w))
				return snprintf(err, n, "out of memory"), -1;
		return 0;
	}
	if (which == 1) { /* {volumes} */
		for (const msg *v = msg_child(msg_get(c, "volumes")); v; v = msg_next(v)) {
			const char *dst;
			int ro;
			volume_of(v, &dst, &ro);
			const char *t = ro ? r->volume_ro : r->volume;
			if (!t)
				return snprintf(err, n, "runtime %.60s cannot mount a %svolume (it has no %s template)",
						r->name, ro ? "read-only " : "", ro ? "volume_ro" : "volume"), -1;
			struct var vars[] = {{"src", msg_key(v)}, {"dst", dst}};
			snprintf(what, sizeof what, "runtime %.60s, template volume", r->name);
			if (sub_words(w, t, vars, 2, what, err, n))
				return -1;
		}
		return 0;
	}
	if (which == 2) { /* {env} */
		const msg *env = msg_get(c, "env");
		if (msg_child(env) && !r->env)
			return snprintf(err, n, "runtime %.60s cannot set variables (it has no env template)", r->name), -1;
		for (const msg *v = msg_child(env); v; v = msg_next(v)) {
			struct var vars[] = {{"key", msg_key(v)}, {"value", msg_str(v)}};
			snprintf(what, sizeof what, "runtime %.60s, template env", r->name);
			if (sub_words(w, r->env, vars, 2, what, err, n))
				return -1;
		}
		return 0;
	}
	const char *dir = msg_get_str(c, "workdir"); /* {workdir} */
	if (!dir)
		return 0;
	if (!r->workdir)
		return snprintf(err, n, "runtime %.60s cannot set a working directory (it has no workdir template)",
				r->name), -1;
	struct var vars[] = {{"dir", dir}};
	snprintf(what, sizeof what, "runtime %.60s, template workdir", r->name);
	return sub_words(w, r->workdir, vars, 1, what, err, n);
}

char **runtime_expand(const struct runtime *r, const msg *c, char *const *command, char *err, size_t n)
{
	static const char *const lists[] = {"{command}", "{volumes}", "{env}", "{workdir}"};
	struct words w = {BUF_INIT, 0};
	const char *at = r->command, *word;
	size_t len;
	struct var img = {"image", msg_get_str(c, "image")};
	char what[100];
	snprintf(what, sizeof what, "runtime %.60s, template command", r->name);
	while (next_word(&at, &word, &len)) {
		int l = 0;
		while (l < 4 && !is_word(word, len, lists[l]))
			l++;
		if (l < 4 ? list_words(&w, r, l, c, command, err, n) : subst(&w, word, len, &img, 1, what, err, n)) {
			buf_release(&w.b);
			return NULL;
		}
	}
	char **argv = malloc((w.n + 1) * sizeof *argv + w.b.len);
	if (!argv) {
		buf_release(&w.b);
		return snprintf(err, n, "out of memory"), NULL;
	}
	char *s = (char *)(argv + w.n + 1);
	if (w.b.len)
		memcpy(s, w.b.p, w.b.len);
	for (size_t i = 0; i < w.n; i++) {
		argv[i] = s;
		s += strlen(s) + 1;
	}
	argv[w.n] = NULL;
	buf_release(&w.b);
	return argv;
}

/* ---- the table ---- */

const struct runtime *runtime_builtin(size_t i)
{
	return i < sizeof preference / sizeof preference[0]
		       ? nametab_find(builtins, NBUILTIN, sizeof builtins[0], preference[i])
		       : NULL;
}

size_t runtime_builtins_check(void)
{
	size_t bad = nametab_check(builtins, NBUILTIN, sizeof builtins[0]);
	char err[200];
	for (size_t i = 0; i < NBUILTIN && !bad; i++)
		if (runtime_check(&builtins[i], err, sizeof err))
			bad = i + 1;
	return bad;
}

struct runtimes *runtimes_new(const char *run_dir, const char *site_file)
{
	struct runtimes *rt = calloc(1, sizeof *rt);
	if (!rt)
		return NULL;
	rt->file[0].path = strdup(site_file ? site_file : RUNTIME_SITE_FILE);
	if (run_dir && *run_dir) {
		size_t l = strlen(run_dir) + sizeof(RUNTIME_RUN_FILE) + 1;
		if ((rt->file[1].path = malloc(l)))
			snprintf(rt->file[1].path, l, "%s/%s", run_dir, RUNTIME_RUN_FILE);
	}
	if (!rt->file[0].path || (run_dir && *run_dir && !rt->file[1].path)) {
		runtimes_free(rt);
		return NULL;
	}
	return rt;
}

static void runtimes_clear(struct runtimes *rt)
{
	for (int i = 0; i < 2; i++) {
		msg_free(rt->doc[i]);
		rt->doc[i] = NULL;
	}
	free(rt->site);
	rt->site = NULL;
	rt->nsite = 0;
	rt->dflt = NULL;
}

void runtimes_free(struct runtimes *rt)
{
	if (!rt)
		return;
	runtimes_clear(rt);
	free(rt->file[0].path);
	free(rt->file[1].path);
	free(rt);
}

/* Read file f into *doc (NULL if it does not exist). */
static int load_file(const struct site_file *f, msg **doc, char *err, size_t n)
{
	*doc = NULL;
	if (!f->path || !f->exists)
		return 0;
	FILE *fp = fopen(f->path, "r");
	if (!fp)
		return snprintf(err, n, "cannot read %s", f->path), -1;
	struct buf b = BUF_INIT;
	char chunk[4096];
	size_t got;
	while ((got = fread(chunk, 1, sizeof chunk, fp)) > 0 && b.len < (1u << 20))
		buf_add(&b, chunk, got);
	fclose(fp);
	char perr[120] = "empty";
	*doc = b.p ? msg_parse(b.p, b.len, perr, sizeof perr) : NULL;
	buf_release(&b);
	if (!*doc)
		return snprintf(err, n, "%s is not JSON (%s)", f->path, perr), -1;
	const msg *d = msg_get(*doc, "default"), *rs = msg_get(*doc, "runtimes");
	if (!msg_is_object(*doc) || (d && !msg_str(d)) || (rs && !msg_is_object(rs)))
		return snprintf(err, n, "%s must be {\"default\": NAME, \"runtimes\": {NAME: {\"command\": ...}}}",
				f->path), -1;
	return 0;
}

/* The runtimes of one parsed file onto rt->site (checked). */
static int add_site(struct runtimes *rt, const msg *doc, const char *path, char *err, size_t n)
{
	static const char *const keys[] = {"command", "volume", "volume_ro", "env", "workdir"};
	for (const msg *e = msg_child(msg_get(doc, "runtimes")); e; e = msg_next(e)) {
		struct runtime r = {msg_key(e), NULL, NULL, NULL, NULL, NULL};
		if (!msg_is_object(e))
			return snprintf(err, n, "%s: runtime %.60s must be an object", path, r.name), -1;
		const char **slot[] = {&r.command, &r.volume, &r.volume_ro, &r.env, &r.workdir};
		for (const msg *f = msg_child(e); f; f = msg_next(f)) {
			size_t k = 0;
			while (k < 5 && strcmp(keys[k], msg_key(f)))
				k++;
			if (k == 5 || !msg_str(f))
				return snprintf(err, n, "%s: runtime %.60s: \"%.40s\" is not one of command, volume, "
						"volume_ro, env, workdir (strings)", path, r.name, msg_key(f)), -1;
			*slot[k] = msg_str(f);
		}
		char why[240];
		if (runtime_check(&r, why, sizeof why))
			return snprintf(err, n, "%s: %s", path, why), -1;
		struct runtime *grown = realloc(rt->site, (rt->nsite + 1) * sizeof *grown);
		if (!grown)
			return snprintf(err, n, "out of memory"), -1;
		rt->site = grown;
		/* the later file first, so that it wins in runtimes_find */
		memmove(rt->site + 1, rt->site, rt->nsite * sizeof *grown);
		rt->site[0] = r;
		rt->nsite++;
	}
	return 0;
}

int runtimes_refresh(struct runtimes *rt, char *err, size_t n)
{
	int changed = !rt->loaded;
	for (int i = 0; i < 2; i++) {
		struct site_file *f = &rt->file[i];
		struct stat st;
		int exists = f->path && stat(f->path, &st) == 0;
		long long size = exists ? (long long)st.st_size : 0,
			  mt = exists ? (long long)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec : 0;
		if (exists != f->exists || size != f->size || mt != f->mtime_ns)
			changed = 1;
		f->exists = exists;
		f->size = size;
		f->mtime_ns = mt;
	}
	if (!changed)
		return rt->error[0] ? (snprintf(err, n, "%s", rt->error), -1) : 0;
	rt->loaded = 1;
	struct runtimes fresh = *rt;
	fresh.site = NULL;
	fresh.nsite = 0;
	fresh.dflt = NULL;
	int rc = 0;
	for (int i = 0; i < 2 && !rc; i++) {
		fresh.doc[i] = NULL;
		rc = load_file(&rt->file[i], &fresh.doc[i], err, n) ||
		     add_site(&fresh, fresh.doc[i], rt->file[i].path, err, n);
		if (!rc && msg_get_str(fresh.doc[i], "default"))
			fresh.dflt = msg_get_str(fresh.doc[i], "default");
	}
	if (rc) {
		snprintf(rt->error, sizeof rt->error, "%s", err);
		msg_free(fresh.doc[0]);
		msg_free(fresh.doc[1]);
		free(fresh.site);
		return -1;
	}
	runtimes_clear(rt);
	rt->doc[0] = fresh.doc[0];
	rt->doc[1] = fresh.doc[1];
	rt->site = fresh.site;
	rt->nsite = fresh.nsite;
	rt->dflt = fresh.dflt;
	rt->error[0] = '\0';
	return 0;
}

const struct runtime *runtimes_find(const struct runtimes *rt, const char *name)
{
	if (!name)
		return NULL;
	for (size_t i = 0; rt && i < rt->nsite; i++)
		if (strcmp(rt->site[i].name, name) == 0)
			return &rt->site[i];
	return nametab_find(builtins, NBUILTIN, sizeof builtins[0], name);
}

const char *runtimes_default(const struct runtimes *rt)
{
	return rt ? rt->dflt : NULL;
}

void runtimes_names(const struct runtimes *rt, char *out, size_t n)
{
	size_t m = 0;
	out[0] = '\0';
	for (size_t i = 0; i < NBUILTIN + (rt ? rt->nsite : 0) && m < n; i++) {
		const char *name = i < NBUILTIN ? builtins[i].name : rt->site[i - NBUILTIN].name;
		if (i >= NBUILTIN && nametab_find(builtins, NBUILTIN, sizeof builtins[0], name))
			continue; /* a site's version of a built-in */
		int k = snprintf(out + m, n - m, "%s%s", m ? ", " : "", name);
		m += k > 0 ? (size_t)k : 0;
	}
}

/* 1 if prog (a path, or a name looked up on pathvar) can be executed. */
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

const struct runtime *runtimes_pick(const struct runtimes *rt, const char *name, const char *pathvar, char *why,
				    size_t n)
{
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
		const struct runtime *r = runtime_builtin(i);
		char prog[256];
		const char *s = r->command + strspn(r->command, " \t");
		snprintf(prog, sizeof prog, "%.*s", (int)strcspn(s, " \t"), s);
		if (on_path(prog, pathvar))
			return r;
	}
	snprintf(why, n, "no container runtime on this node: none of apptainer, singularity, ch-run, podman, bwrap is "
		 "on the job's PATH (install one, or name one with --runtime or a site's runtimes.json)");
	return NULL;
}
