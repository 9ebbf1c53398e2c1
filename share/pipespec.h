/* SPDX-License-Identifier: MIT */
/*
 * pipespec: a pipeline file (docs/formats.md, "Pipeline files") parsed and
 * checked, and the conversions its stages apply to items -- a job's output
 * split into the next stage's items (one, or each element of a JSON array
 * for a stage with fan_out), an exec stage's command line for one item, a
 * reducing stage's input made of all the items before it. The master checks
 * every pipeline it is given with pipespec_parse before it stores anything;
 * the command line may call it first for an early error. No I/O, no state:
 * everything here is a pure function of its arguments, so the unit tests
 * cover it whole.
 */
#ifndef MTS_PIPESPEC_H
#define MTS_PIPESPEC_H

#include <stddef.h>
#include <stdint.h>

#include "msg.h"

#define PIPESPEC_NAME_MAX 64
#define PIPESPEC_STAGES_MAX 64
#define PIPESPEC_INSTANCES_MAX 100000
#define PIPESPEC_ITEMS_MAX 1000000

/* How a stage's jobs run: the master's job kinds (docs/protocol.md, JOB);
 * PIPESPEC_TYPED: typed jobs of a job type, run by the workers of its
 * worker type. */
enum pipespec_kind { PIPESPEC_EXEC = 0, PIPESPEC_ECHO = 1, PIPESPEC_FUNC = 2, PIPESPEC_TYPED = 3 };

struct pipespec_stage {
	char name[PIPESPEC_NAME_MAX + 1];
	int kind;
	char *run;            /* exec: the command template; func: /path/lib.so:fn; typed: the job type; echo: NULL */
	uint32_t instances;   /* at most this many of its jobs run at once (>= 1) */
	uint32_t max_queued;  /* its queue's bound: the stage before it waits while it is reached; 0: none */
	int fan_out;          /* its output, a JSON array, becomes one item per element */
	int reduce;           /* one job, with every item of the stages before it */
	double timeout_s;     /* each job's; 0: none */
	double delay_s;       /* echo: seconds each job waits */
	int retries;          /* each job's; -1: the master's default */
	char *cwd;            /* exec: working directory, or NULL */
	char *env_json;       /* exec: JSON array text of "K=V", or NULL */
	char *item_field;     /* typed: the payload's key that holds the item, or NULL (pipespec_payload) */
};

struct pipespec {
	char name[PIPESPEC_NAME_MAX + 1];   /* "" if the file names none */
	struct pipespec_stage *stages;      /* in chain order: stages[0] is the first */
	size_t nstages;
	char **items; /* the first stage's items ("input"); none: one job with "" */
	size_t nitems;
	int has_input;
	char *text;   /* the file as stored: compact JSON without "input" */
};

/* Parse and check len bytes of a pipeline file into p (zeroed first). 0, or
 * -1 with one line in err saying what is wrong and what to do: bad JSON, an
 * unknown field, a stage without a command, instances < 1, a "then" naming
 * an unknown stage, a cycle, a stage that two stages lead to, two first
 * stages, reduce on the first stage. Nothing to release after a failure. */
int pipespec_parse(struct pipespec *p, const char *json, size_t len, char *err, size_t errlen);
/* Free what p holds. NULL is a no-op. */
void pipespec_release(struct pipespec *p);
/* The index of stage name in chain order, or -1. */
int pipespec_find(const struct pipespec *p, const char *name);

/* An item from a JSON value: a string's own text, any other value's JSON.
 * New string (free()), NULL on OOM. */
char *pipespec_item(const msg *v);
/* The items a job's output (len bytes, need not be NUL-terminated) gives
 * the next stage: trailing newlines trimmed; with fan_out and an output
 * that is a JSON array, one item per element (pipespec_item; an empty
 * array gives none), else the whole output as one. *items (free each and
 * the array with pipespec_items_free) and *n. 0, or -1 on OOM. */
int pipespec_split(const char *output, size_t len, int fan_out, char ***items, size_t *n);
void pipespec_items_free(char **items, size_t n);
/* An exec stage's command line for one item: tmpl with every "{}"
 * replaced by the item in single quotes (a shell word whatever it holds).
 * New string, NULL on OOM. */
char *pipespec_command(const char *tmpl, const char *item);
/* A reducing stage's input: a JSON array of the items, each as the JSON
 * value it is if it parses as one, else as a string. New string, NULL on
 * OOM. */
char *pipespec_reduce_input(char *const *items, size_t n);
/* A typed stage's payload for one item (a JSON object, as typed jobs
 * take): with field, {field: ITEM}; without, the item itself if it is a
 * JSON object, else {"item": ITEM} -- ITEM being the JSON value the item
 * parses as, or else the item as a string. New tree (msg_free), NULL on
 * OOM. */
msg *pipespec_payload(const char *item, const char *field);
/* What a typed stage's job gives the next stage: the "output" member of
 * its result {"status":...,"output":...} (as pipespec_item makes an item
 * of it), or the output unchanged if it has no such member. len bytes,
 * need not be NUL-terminated. New string, *n its length; NULL on OOM. */
char *pipespec_typed_output(const char *output, size_t len, size_t *n);

#endif
