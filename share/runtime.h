/* SPDX-License-Identifier: MIT */
/*
 * runtime: container runtimes as argv templates, so that a site runs jobs
 * through whatever it has (Apptainer/Singularity, Charliecloud, podman,
 * bubblewrap) instead of one hard-coded runtime. A runtime is five
 * templates of space-separated words (no shell is involved: a value with
 * spaces stays one word):
 *
 *   command    the whole line, e.g. "apptainer exec {workdir} {volumes} {env}
 *              {image} {command}"; {workdir}, {volumes}, {env} and {command}
 *              are whole words that expand to zero or more words, {image}
 *              may sit inside a word ("docker://{image}")
 *   volume     the words of one volume: {src} {dst}  ("--bind {src}:{dst}")
 *   volume_ro  the same for a read-only volume (optional)
 *   env        the words of one variable: {key} {value} ("--env {key}={value}")
 *   workdir    the words of the working directory: {dir} ("--pwd {dir}");
 *              left out when the job names none (the runtime's default)
 *
 * Built in: apptainer, bwrap, ch-run, podman, singularity. A site adds its
 * own, or replaces a built-in, in /etc/mtslurm/runtimes.json and then
 * RUN_DIR/runtimes.json (later files win, name by name):
 *   {"default": "NAME", "runtimes": {"NAME": {"command": "...", ...}}}
 * A container is the JSON object of a job's "container" option
 * (docs/protocol.md): {"image","runtime","workdir","volumes":{SRC: DST |
 * {"bind": DST, "mode": "ro"|"rw"}},"env":{K: V}}.
 *
 * Pure except runtimes_refresh (which reads the files). Not thread-safe: a
 * runtimes table belongs to one thread.
 */
#ifndef MTS_RUNTIME_H
#define MTS_RUNTIME_H

#include <stddef.h>

#include "msg.h"

#define RUNTIME_SITE_FILE "/etc/mtslurm/runtimes.json"
#define RUNTIME_RUN_FILE "runtimes.json" /* in RUN_DIR */

/* One runtime's templates (see above); NULL: not given. */
struct runtime {
	const char *name;
	const char *command, *volume, *volume_ro, *env, *workdir;
};

struct runtimes;

/* The built-ins, and the site's files once runtimes_refresh read them:
 * site_file (NULL: RUNTIME_SITE_FILE), then RUN_DIR/runtimes.json (run_dir
 * NULL: none). Both strings are copied. NULL on OOM. */
struct runtimes *runtimes_new(const char *run_dir, const char *site_file);
void runtimes_free(struct runtimes *rt);

/* Read the files again if their size or mtime changed (two stat()s when
 * not). 0, or -1 with a one-line reason naming the file: the definitions
 * read before stay in force. A missing file is no error. */
int runtimes_refresh(struct runtimes *rt, char *err, size_t n);

/* The runtime called name (a site's before a built-in of the same name),
 * or NULL. Borrowed until the next refresh. */
const struct runtime *runtimes_find(const struct runtimes *rt, const char *name);

/* The site's "default" runtime name, or NULL. */
const char *runtimes_default(const struct runtimes *rt);

/* The built-in runtimes in the order a worker tries them when neither the
 * job nor the site names one (the first whose program is on PATH):
 * apptainer, singularity, ch-run, podman, bwrap. i past the end: NULL. */
const struct runtime *runtime_builtin(size_t i);

/* The runtime to use: the one called name, else the site's default, else
 * the first built-in (runtime_builtin order) whose program -- its command
 * template's first word -- is on pathvar (NULL: /usr/local/bin:/usr/bin:
 * /bin). NULL with a one-line reason in why (an unknown name, with the
 * known ones; no runtime on PATH). */
const struct runtime *runtimes_pick(const struct runtimes *rt, const char *name, const char *pathvar, char *why,
				    size_t n);

/* "apptainer, bwrap, ..." and the site's names, for "expected one of"
 * errors. Truncated to n. */
void runtimes_names(const struct runtimes *rt, char *out, size_t n);

/* 0 if r's templates are well formed (every placeholder known where it is
 * used, list placeholders whole words, {image} and {command} present),
 * else -1 with the reason. */
int runtime_check(const struct runtime *r, char *err, size_t n);

/* 0 if c is a well-formed container object: "image" a non-empty string;
 * "runtime" a string; "workdir" an absolute path; "volumes" an object of
 * absolute host paths to an absolute path or {"bind": PATH, "mode": "ro" |
 * "rw"}; "env" an object of strings with names that are not empty and
 * have no '='; no other member. Else -1 with a one-line reason. */
int runtime_container_check(const msg *c, char *err, size_t n);

/* The argv that runs command (a NULL-terminated word list, the command's
 * own words or sh -c LINE) in container c (checked) with runtime r: one
 * allocation (free() it), NULL with a reason on error (a read-only volume
 * and no volume_ro template, volumes and no volume template, ...). */
char **runtime_expand(const struct runtime *r, const msg *c, char *const *command, char *err, size_t n);

/* 0 if the built-in table is sorted and every built-in passes
 * runtime_check: for the unit test. */
size_t runtime_builtins_check(void);

#endif
