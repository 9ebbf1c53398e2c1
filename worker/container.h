/* SPDX-License-Identifier: MIT */
/*
 * container: the container step of an exec job's plan (exec.c). A job
 * whose options ("opts", docs/protocol.md) carry "container":{...} runs
 * its command -- its own words, or sh -c LINE -- inside that image through
 * a runtime template (share/runtime.h): the one the container names, else
 * the site's default (runtimes.json), else the first built-in runtime whose
 * program is on the job's PATH. The result is the argv the exec path
 * spawns instead of the command; nothing is forked here, so the step is
 * unit-tested on its own (tests/unit/test_container.c). The runtime's
 * process is the job's process: the exec path's process group, cgroup,
 * timeout and cancel apply to it, and its exit status is the job's.
 */
#ifndef MTS_CONTAINER_H
#define MTS_CONTAINER_H

#include <stddef.h>

#include "job.h"
#include "runtime.h"

/* The container step for j: 0 with *argv_out NULL when j has no container;
 * 0 with *argv_out the runtime's argv (one allocation: free() it) and
 * *runtime_out its name (borrowed from rt until its next refresh); -1 with
 * a one-line reason in why (bad "container" object, an image path that does
 * not exist on this node, an unknown runtime, no runtime on PATH, a site
 * file that does not parse). command is the job's own argv; pathvar the
 * PATH of its environment (NULL: a default). rt is refreshed first. */
int container_wrap(struct runtimes *rt, const struct job *j, char *const *command, const char *pathvar,
		   char ***argv_out, const char **runtime_out, char *why, size_t n);

/* 1 if j has a container option (a quick look, no parse). */
int container_wanted(const struct job *j);

#endif
