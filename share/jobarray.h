/* SPDX-License-Identifier: MIT */
/*
 * jobarray: the member set of a job array and the expansion of its
 * template, shared by the CLI (which parses what the user typed and prints
 * task ids back in the same syntax) and the master (which expands members
 * as it materializes them). A set is Slurm's --array syntax: comma
 * separated items, each N, N-M or N-M:STEP (0 <= N <= M, STEP >= 1), e.g.
 * "1-1000:2,5,7-9"; its members are taken in the order written, duplicates
 * included. Pure functions: no I/O, no allocation beyond what they return.
 */
#ifndef MTS_JOBARRAY_H
#define MTS_JOBARRAY_H

#include <stddef.h>
#include <stdint.h>

#include "msg.h"

struct buf;

/* Task ids above this are refused (they are printed into commands and
 * environment variables; 2^53 stays exact in every JSON reader). */
#define JOBARRAY_TASK_MAX ((int64_t)1 << 53)
/* Members of one array at most. */
#define JOBARRAY_MEMBERS_MAX ((int64_t)100000000)

struct jobarray_range {
	int64_t lo, hi, step; /* lo, lo + step, ... <= hi */
	int64_t before;       /* members in the ranges before this one */
};

struct jobarray {
	struct jobarray_range *r;
	size_t n;
	int64_t count; /* members in all */
};

/* Parse text into *a (released with jobarray_release, also after a
 * failure). 0, or -1 with a one-line reason in err naming the bad item
 * ("5-1: the range is empty (5 > 1)"). An empty text is refused. */
int jobarray_parse(struct jobarray *a, const char *text, char *err, size_t errlen);
void jobarray_release(struct jobarray *a);
/* The task id of member index i (0 <= i < count): O(log ranges). */
int64_t jobarray_task(const struct jobarray *a, int64_t i);

/* Append sorted, distinct ids to out in the set syntax, runs of consecutive
 * values as N-M ("1,5,7-9"), so that the text parses back to the same ids.
 * 0 or -1 (out of memory: out is sticky, see buf.h). */
int jobarray_format(struct buf *out, const int64_t *ids, size_t n);

/* Expand a template for one member into out: every "{}" becomes text (the
 * member's entry: its value, its line, or its JSON element -- a string as
 * itself, anything else as JSON text); "{name}" (a name of letters, digits
 * and _) becomes the field name of obj when obj is an object that has it (a
 * string as itself, else JSON text), and stays as written otherwise -- so
 * ${HOME} or awk '{print}' pass through. obj may be NULL. 0 or -1 (OOM). */
int jobarray_expand(struct buf *out, const char *tmpl, const char *text, const msg *obj);

/* The text {} stands for with an entry e: a string's own characters,
 * anything else's JSON text. New string (free()), NULL on OOM. */
char *jobarray_entry_text(const msg *e);

#endif
