/* SPDX-License-Identifier: MIT */
/*
 * pipespec: pipeline files parsed and checked, and the item conversions of
 * their stages (see pipespec.h). The fields of a stage and of the file are
 * parsed through name-sorted tables of one parser each, so an unknown or
 * misspelt field is named in the error rather than ignored; the chain the
 * stages form ("then", by default the stage listed next) is checked after
 * all of them are read, so an error names every stage it involves.
 */
#include "pipespec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "nametab.h"

/* ---- a stage's fields ---- */

/* What parsing knows of a stage beyond struct pipespec_stage: its "then"
 * (borrowed from the tree) and whether it was given. */
struct stage_in {
	struct pipespec_stage *st;
	const char *then;
	int then_set;   /* "then" present (a string or null) */
	int nkinds;     /* exec, echo, func, type given */
};

typedef int (*stage_fn)(struct stage_in *s, msg *f, char *err, size_t n);

static int bad(char *err, size_t n, const char *stage, const char *what)
{
	snprintf(err, n, "stage %s: %s", stage, what);
	return -1;
}

static int uint_field(msg *f, int64_t lo, int64_t hi, uint32_t *out)
{
	int64_t v;
	if (msg_to_int(f, &v) || v < lo || v > hi)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

static int s_cwd(struct stage_in *s, msg *f, char *err, size_t n)
{
	if (!msg_is_str(f) || msg_str(f)[0] != '/')
		return bad(err, n, s->st->name, "\"cwd\" must be an absolute directory");
	free(s->st->cwd);
	return (s->st->cwd = strdup(msg_str(f))) ? 0 : bad(err, n, s->st->name, "out of memory");
}

static int s_delay(struct stage_in *s, msg *f, char *err, size_t n)
{
	if (!msg_is_num(f) || !(msg_num(f) >= 0 && msg_num(f) <= 4e9))
		return bad(err, n, s->st->name, "\"delay\" must be a number of seconds from 0 to 4e9");
	s->st->delay_s = msg_num(f);
	return 0;
}

static int s_echo(struct stage_in *s, msg *f, char *err, size_t n)
{
	if (!msg_is_bool(f))
		return bad(err, n, s->st->name, "\"echo\" must be true (each job answers its item)");
	if (msg_bool(f)) {
		s->st->kind = PIPESPEC_ECHO;
		s->nkinds++;
	}
	return 0;
}

static int s_env(struct stage_in *s, msg *f, char *err, size_t n)
{
	if (!msg_is_array(f))
		return bad(err, n, s->st->name, "\"env\" must be an array of \"K=V\" strings");
	for (msg *e = msg_child(f); e; e = msg_next(e))
		if (!msg_is_str(e) || !strchr(msg_str(e), '=') || msg_str(e)[0] == '=')
			return bad(err, n, s->st->name, "\"env\" must be an array of \"K=V\" strings");
	free(s->st->env_json);
	return (s->st->env_json = msg_print(f)) ? 0 : bad(err, n, s->st->name, "out of memory");
}

static int s_exec(struct stage_in *s, msg *f, char *err, size_t n)
{
	if (!msg_is_str(f) || !msg_str(f)[0])
		return bad(err, n, s->st->name, "\"exec\" must be a command line ({} stands for the item)");
	s->st->kind = PIPESPEC_EXEC;
	s->nkinds++;
	free(s->st->run);
	return (s->st->run = strdup(msg_str(f))) ? 0 : bad(err, n, s->st->name, "out of memory");
}

static int s_fan_out(struct stage_in *s, msg *f, char *err, size_t n)
{
	if (!msg_is_bool(f))
		return bad(err, n, s->st->name, "\"fan_out\" must be true or false");
	s->st->fan_out = msg_bool(f);
	return 0;
}

static int s_func(struct stage_in *s, msg *f, char *err, size_t n)
{
	const char *t = msg_str(f), *colon = t ? strrchr(t, ':') : NULL;
	if (!colon || colon == t || !colon[1])
		return bad(err, n, s->st->name, "\"func\" must look like /path/lib.so:function");
	s->st->kind = PIPESPEC_FUNC;
	s->nkinds++;
	free(s->st->run);
	return (s->st->run = strdup(t)) ? 0 : bad(err, n, s->st->name, "out of memory");
}

static int s_instances(struct stage_in *s, msg *f, char *err, size_t n)
{
	if (uint_field(f, 1, PIPESPEC_INSTANCES_MAX, &s->st->instances))
		return bad(err, n, s->st->name,
			   "\"instances\" must be an integer from 1 to 100000 (how many of its jobs run at once)");
	return 0;
}

static int s_item_field(struct stage_in *s, msg *f, char *err, size_t n)
{
	if (!msg_is_str(f) || !msg_str(f)[0] || strlen(msg_str(f)) > PIPESPEC_NAME_MAX)
		return bad(err, n, s->st->name, "\"item_field\" must be the payload's key for the item (1 to 64 "
						"characters)");
	free(s->st->item_field);
	return (s->st->item_field = strdup(msg_str(f))) ? 0 : bad(err, n, s->st->name, "out of memory");
}

static int s_max_queued(struct stage_in *s, msg *f, char *err, size_t n)
{
	if (uint_field(f, 1, UINT32_MAX, &s->st->max_queued))
		return bad(err, n, s->st->name,
			   "\"max_queued\" must be an integer >= 1 (items waiting before the stage before it pauses)");
	return 0;
}

static int s_name(struct stage_in *s, msg *f, char *err, size_t n)
{
	(void)s, (void)f, (void)err, (void)n; /* read before the table (errors name the stage) */
	return 0;
}

static int s_reduce(struct stage_in *s, msg *f, char *err, size_t n)
{
	if (!msg_is_bool(f))
		return bad(err, n, s->st->name, "\"reduce\" must be true or false");
	s->st->reduce = msg_bool(f);
	return 0;
}

static int s_retries(struct stage_in *s, msg *f, char *err, size_t n)
{
	uint32_t v;
	if (uint_field(f, 0, 10000, &v))
		return bad(err, n, s->st->name, "\"retries\" must be an integer from 0 to 10000");
	s->st->retries = (int)v;
	return 0;
}

static int s_then(struct stage_in *s, msg *f, char *err, size_t n)
{
	if (!msg_is_str(f) && !msg_is_null(f))
		return bad(err, n, s->st->name, "\"then\" must name the next stage (or be null: the last stage)");
	s->then = msg_str(f);
	s->then_set = 1;
	return 0;
}

static int s_timeout(struct stage_in *s, msg *f, char *err, size_t n)
{
	if (!msg_is_num(f) || !(msg_num(f) >= 0 && msg_num(f) <= 4e9))
		return bad(err, n, s->st->name, "\"timeout\" must be a number of seconds from 0 to 4e9");
	s->st->timeout_s = msg_num(f);
	return 0;
}

static int name_ok(const char *s);

static int s_type(struct stage_in *s, msg *f, char *err, size_t n)
{
	if (!name_ok(msg_str(f)))
		return bad(err, n, s->st->name, "\"type\" must name a job type (1 to 64 characters of A-Z a-z 0-9 _ "
						"- .; mtslurm types lists them)");
	s->st->kind = PIPESPEC_TYPED;
	s->nkinds++;
	free(s->st->run);
	return (s->st->run = strdup(msg_str(f))) ? 0 : bad(err, n, s->st->name, "out of memory");
}

static const struct stage_field {
	const char *name;
	stage_fn parse;
} stage_fields[] = {
	{"cwd", s_cwd},		  {"delay", s_delay},	{"echo", s_echo},	{"env", s_env},
	{"exec", s_exec},	  {"fan_out", s_fan_out}, {"func", s_func},	{"instances", s_instances},
	{"item_field", s_item_field}, {"max_queued", s_max_queued}, {"name", s_name}, {"reduce", s_reduce},
	{"retries", s_retries},	  {"then", s_then},	{"timeout", s_timeout}, {"type", s_type},
};
#define NSTAGE_FIELDS (sizeof stage_fields / sizeof stage_fields[0])

static const char stage_field_names[] =
	"cwd, delay, echo, env, exec, fan_out, func, instances, item_field, max_queued, name, reduce, retries, then, "
	"timeout, type";

static int name_ok(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	if (!n || n > PIPESPEC_NAME_MAX)
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '_' ||
		      *s == '-' || *s == '.'))
			return 0;
	return 1;
}

/* Stage i of the file (object o) into *s. */
static int stage_read(struct stage_in *s, size_t i, const msg *o, char *err, size_t n)
{
	struct pipespec_stage *st = s->st;
	st->instances = 1;
	st->retries = -1;
	if (!msg_is_object(o))
		return snprintf(err, n, "stage %zu: not an object (a stage is {\"name\":...,\"exec\":...})", i), -1;
	const char *name = msg_get_str(o, "name");
	if (!name_ok(name))
		return snprintf(err, n, "stage %zu: \"name\" must be 1 to 64 characters of A-Z a-z 0-9 _ - .", i), -1;
	memcpy(st->name, name, strlen(name) + 1);
	for (msg *f = msg_child(o); f; f = msg_next(f)) {
		const struct stage_field *sf = nametab_find(stage_fields, NSTAGE_FIELDS, sizeof stage_fields[0], msg_key(f));
		if (!sf)
			return snprintf(err, n, "stage %s: unknown field \"%.40s\"; known: %s", st->name, msg_key(f),
					stage_field_names),
			       -1;
		if (sf->parse(s, f, err, n))
			return -1;
	}
	if (s->nkinds != 1)
		return bad(err, n, st->name,
			   s->nkinds ? "give only one of \"exec\", \"func\", \"echo\" and \"type\""
				     : "give what its jobs run: \"exec\" (a command line, {} stands for the item), "
				       "\"func\" (/path/lib.so:function), \"type\" (a job type) or \"echo\": true");
	if (st->kind != PIPESPEC_EXEC && (st->cwd || st->env_json))
		return bad(err, n, st->name, "\"cwd\" and \"env\" are for exec stages");
	if (st->kind != PIPESPEC_ECHO && st->delay_s > 0)
		return bad(err, n, st->name, "\"delay\" is for echo stages");
	if (st->kind != PIPESPEC_TYPED && st->item_field)
		return bad(err, n, st->name, "\"item_field\" is for stages of a job type (\"type\")");
	return 0;
}

/* ---- the chain ---- */

/* Order the stages into their chain: next[i] is the index "then" names
 * (default: the stage listed after i; -1: none). Checks that every name
 * exists, that following "then" never comes back (a cycle), that no stage
 * has two predecessors and that exactly one stage has none. order gets the
 * chain. */
/* next[i]: the stage after stage i by its "then" (else the one listed
 * next; -1 for the last or "then": null). 0, or -1 with err naming an
 * unknown stage. */
static int chain_links(const struct pipespec_stage *st, const struct stage_in *in, size_t ns, int *next, char *err,
		       size_t n)
{
	for (size_t i = 0; i < ns; i++) {
		next[i] = i + 1 < ns && !in[i].then_set ? (int)i + 1 : -1;
		if (!in[i].then_set || !in[i].then)
			continue;
		for (size_t k = 0; k < ns; k++)
			if (!strcmp(st[k].name, in[i].then))
				next[i] = (int)k;
		if (next[i] < 0)
			return snprintf(err, n, "stage %s: \"then\" names unknown stage \"%.64s\"; check the stage names",
					st[i].name, in[i].then),
			       -1;
	}
	return 0;
}

/* A cycle: from some stage, ns steps along next without an end. 0, or -1
 * with err naming the cycle from its stage listed first. */
static int chain_acyclic(const struct pipespec_stage *st, size_t ns, const int *next, char *err, size_t n)
{
	for (size_t i = 0; i < ns; i++) {
		int k = (int)i;
		size_t steps = 0;
		while (k >= 0 && steps <= ns)
			k = next[k], steps++;
		if (k < 0)
			continue;
		int low = k; /* k lies on the cycle */
		for (int c = next[k]; c != k; c = next[c])
			if (c < low)
				low = c;
		struct buf b = BUF_INIT;
		int c = low;
		do {
			buf_addf(&b, "%s -> ", st[c].name);
			c = next[c];
		} while (c != low);
		buf_adds(&b, st[low].name);
		snprintf(err, n, "stages %s form a cycle; a pipeline is a chain from a first stage to a last",
			 b.p ? b.p : "?");
		buf_release(&b);
		return -1;
	}
	return 0;
}

/* The first stage: the one no stage leads to, and every other stage led to
 * by one. Its index, or -1 with err. pred has ns zeroed entries. */
static int chain_head(const struct pipespec_stage *st, size_t ns, const int *next, int *pred, char *err, size_t n)
{
	for (size_t i = 0; i < ns; i++) {
		if (next[i] < 0)
			continue;
		if (pred[next[i]])
			return snprintf(err, n, "stage %s follows both %s and %s; a pipeline is one chain (give one "
					"of them another \"then\", or null to end it)",
					st[next[i]].name, st[pred[next[i]] - 1].name, st[i].name),
			       -1;
		pred[next[i]] = (int)i + 1;
	}
	int head = -1;
	for (size_t i = 0; i < ns; i++) {
		if (pred[i])
			continue;
		if (head >= 0)
			return snprintf(err, n, "stages %s and %s both start a chain (no stage leads to them); a "
					"pipeline has one first stage: link them with \"then\"",
					st[head].name, st[i].name),
			       -1;
		head = (int)i;
	}
	return head;
}

static int chain(const struct pipespec_stage *st, const struct stage_in *in, size_t ns, int *next, size_t *order,
		 char *err, size_t n)
{
	if (chain_links(st, in, ns, next, err, n) || chain_acyclic(st, ns, next, err, n))
		return -1;
	int *pred = calloc(ns, sizeof *pred);
	if (!pred)
		return snprintf(err, n, "out of memory"), -1;
	int head = chain_head(st, ns, next, pred, err, n);
	free(pred);
	if (head < 0)
		return -1;
	size_t k = 0;
	for (int c = head; c >= 0 && k < ns; c = next[c])
		order[k++] = (size_t)c;
	if (k != ns) /* unreachable after the checks above; never hand out a partial chain */
		return snprintf(err, n, "the stages do not form one chain from a first stage to a last"), -1;
	return 0;
}

static int stages_read(struct pipespec *p, const msg *arr, char *err, size_t n)
{
	size_t ns = msg_size(arr);
	if (!msg_is_array(arr) || !ns)
		return snprintf(err, n, "\"stages\" must be a non-empty array of stage objects"), -1;
	if (ns > PIPESPEC_STAGES_MAX)
		return snprintf(err, n, "%zu stages: at most %d", ns, PIPESPEC_STAGES_MAX), -1;
	struct pipespec_stage *st = calloc(ns, sizeof *st);
	struct stage_in *in = calloc(ns, sizeof *in);
	int *next = calloc(ns, sizeof *next);
	size_t *order = calloc(ns, sizeof *order);
	int rc = -1;
	if (!st || !in || !next || !order) {
		snprintf(err, n, "out of memory");
		goto out;
	}
	size_t i = 0;
	for (msg *o = msg_child(arr); o; o = msg_next(o), i++) {
		in[i].st = &st[i];
		if (stage_read(&in[i], i, o, err, n))
			goto out;
		for (size_t k = 0; k < i; k++)
			if (!strcmp(st[k].name, st[i].name)) {
				snprintf(err, n, "two stages are named %s; stage names must be unique", st[i].name);
				goto out;
			}
	}
	if (chain(st, in, ns, next, order, err, n))
		goto out;
	p->stages = calloc(ns, sizeof *p->stages);
	if (!p->stages) {
		snprintf(err, n, "out of memory");
		goto out;
	}
	for (i = 0; i < ns; i++)
		p->stages[i] = st[order[i]];
	p->nstages = ns;
	ns = 0; /* moved: nothing of st to free but the array */
	rc = 0;
out:
	for (i = 0; i < ns; i++) {
		free(st[i].run);
		free(st[i].cwd);
		free(st[i].env_json);
		free(st[i].item_field);
	}
	free(st);
	free(in);
	free(next);
	free(order);
	return rc;
}

/* What the chain allows where: reduce needs a stage before it, fan_out
 * and max_queued a stage on the other side. */
static int stages_check(const struct pipespec *p, char *err, size_t n)
{
	const struct pipespec_stage *first = &p->stages[0], *last = &p->stages[p->nstages - 1];
	if (first->reduce)
		return bad(err, n, first->name, "\"reduce\" collects the items of the stages before it; the first "
						"stage has none");
	if (first->max_queued)
		return bad(err, n, first->name, "\"max_queued\" holds back the stage before it; the first stage has "
						"none (its items are queued when the pipeline starts)");
	if (last->fan_out && p->nstages > 1)
		return bad(err, n, last->name, "\"fan_out\" splits its output for the next stage; the last stage "
					       "has none");
	for (size_t i = 0; i < p->nstages; i++)
		if (p->stages[i].reduce && p->stages[i].max_queued)
			return bad(err, n, p->stages[i].name, "\"max_queued\" does not apply to a reducing stage "
							      "(it queues one job)");
	return 0;
}

/* ---- the file ---- */

static int input_read(struct pipespec *p, const msg *in, char *err, size_t n)
{
	size_t ni = msg_size(in);
	if (!msg_is_array(in))
		return snprintf(err, n, "\"input\" must be an array of items for the first stage"), -1;
	if (ni > PIPESPEC_ITEMS_MAX)
		return snprintf(err, n, "\"input\" has %zu items: at most %d", ni, PIPESPEC_ITEMS_MAX), -1;
	p->items = calloc(ni ? ni : 1, sizeof *p->items);
	if (!p->items)
		return snprintf(err, n, "out of memory"), -1;
	for (msg *e = msg_child(in); e; e = msg_next(e))
		if (!(p->items[p->nitems++] = pipespec_item(e)))
			return snprintf(err, n, "out of memory"), -1;
	p->has_input = 1;
	return 0;
}

static const char *const top_fields[] = {"input", "name", "stages"};

int pipespec_parse(struct pipespec *p, const char *json, size_t len, char *err, size_t errlen)
{
	memset(p, 0, sizeof *p);
	char why[200];
	msg *m = msg_parse(json, len, why, sizeof why);
	if (!m)
		return snprintf(err, errlen, "the pipeline is not valid JSON: %s", why), -1;
	int rc = -1;
	if (!msg_is_object(m)) {
		snprintf(err, errlen, "a pipeline is a JSON object {\"stages\":[...]}");
		goto out;
	}
	for (msg *f = msg_child(m); f; f = msg_next(f)) {
		size_t k = 0;
		while (k < sizeof top_fields / sizeof top_fields[0] && strcmp(top_fields[k], msg_key(f)))
			k++;
		if (k == sizeof top_fields / sizeof top_fields[0]) {
			snprintf(err, errlen, "unknown field \"%.40s\" in the pipeline; known: input, name, stages",
				 msg_key(f));
			goto out;
		}
	}
	const char *name = msg_get_str(m, "name");
	if (msg_has(m, "name") && !name_ok(name)) {
		snprintf(err, errlen, "\"name\" must be 1 to 64 characters of A-Z a-z 0-9 _ - .");
		goto out;
	}
	if (name)
		memcpy(p->name, name, strlen(name) + 1);
	if (!msg_has(m, "stages")) {
		snprintf(err, errlen, "missing \"stages\": the array of stages, the first one first");
		goto out;
	}
	if (stages_read(p, msg_get(m, "stages"), err, errlen) || stages_check(p, err, errlen))
		goto out;
	if (msg_has(m, "input") && input_read(p, msg_get(m, "input"), err, errlen))
		goto out;
	msg_free(msg_take(m, "input"));
	if (!(p->text = msg_print(m))) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	rc = 0;
out:
	msg_free(m);
	if (rc)
		pipespec_release(p);
	return rc;
}

void pipespec_release(struct pipespec *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->nstages; i++) {
		free(p->stages[i].run);
		free(p->stages[i].cwd);
		free(p->stages[i].env_json);
		free(p->stages[i].item_field);
	}
	free(p->stages);
	pipespec_items_free(p->items, p->nitems);
	free(p->text);
	memset(p, 0, sizeof *p);
}

int pipespec_find(const struct pipespec *p, const char *name)
{
	for (size_t i = 0; name && i < p->nstages; i++)
		if (!strcmp(p->stages[i].name, name))
			return (int)i;
	return -1;
}

/* ---- items ---- */

char *pipespec_item(const msg *v)
{
	return msg_is_str(v) ? strdup(msg_str(v)) : msg_print(v);
}

void pipespec_items_free(char **items, size_t n)
{
	for (size_t i = 0; items && i < n; i++)
		free(items[i]);
	free(items);
}

int pipespec_split(const char *output, size_t len, int fan_out, char ***items, size_t *n)
{
	*items = NULL;
	*n = 0;
	while (len && (output[len - 1] == '\n' || output[len - 1] == '\r'))
		len--;
	msg *arr = fan_out ? msg_parse(output, len, NULL, 0) : NULL;
	if (arr && msg_is_array(arr)) {
		size_t k = msg_size(arr);
		char **v = calloc(k ? k : 1, sizeof *v);
		if (!v)
			goto oom;
		for (msg *e = msg_child(arr); e; e = msg_next(e)) {
			if (!(v[*n] = pipespec_item(e))) {
				pipespec_items_free(v, *n);
				*n = 0;
				goto oom;
			}
			(*n)++;
		}
		msg_free(arr);
		*items = v;
		return 0;
	}
	msg_free(arr);
	char **v = calloc(1, sizeof *v);
	if (!v || !(v[0] = strndup(output ? output : "", len))) {
		free(v);
		return -1;
	}
	*items = v;
	*n = 1;
	return 0;
oom:
	msg_free(arr);
	return -1;
}

char *pipespec_command(const char *tmpl, const char *item)
{
	struct buf b = BUF_INIT;
	int failed = 0; /* a failed append leaves the buffer as it was: check once */
	for (const char *t = tmpl; *t; t++) {
		if (t[0] != '{' || t[1] != '}') {
			failed |= buf_add(&b, t, 1);
			continue;
		}
		t++;
		failed |= buf_add(&b, "'", 1);
		for (const char *c = item; *c; c++)
			failed |= *c == '\'' ? buf_adds(&b, "'\\''") : buf_add(&b, c, 1);
		failed |= buf_add(&b, "'", 1);
	}
	if (failed) {
		buf_release(&b);
		return NULL;
	}
	return buf_detach(&b, NULL);
}

char *pipespec_reduce_input(char *const *items, size_t n)
{
	msg *arr = msg_new_array();
	for (size_t i = 0; arr && i < n; i++) {
		msg *v = msg_parse(items[i], strlen(items[i]), NULL, 0);
		if (msg_push(arr, v ? v : msg_new_str(items[i]))) {
			msg_free(arr);
			return NULL;
		}
	}
	char *t = arr ? msg_print(arr) : NULL;
	msg_free(arr);
	return t;
}

msg *pipespec_payload(const char *item, const char *field)
{
	msg *v = msg_parse(item, strlen(item), NULL, 0);
	if (!field && msg_is_object(v))
		return v;
	if (!v && !(v = msg_new_str(item)))
		return NULL;
	msg *o = msg_new_object();
	if (!o) {
		msg_free(v);
		return NULL;
	}
	if (msg_add(o, field ? field : "item", v)) { /* it took v either way */
		msg_free(o);
		return NULL;
	}
	return o;
}

char *pipespec_typed_output(const char *output, size_t len, size_t *n)
{
	msg *r = msg_parse(output, len, NULL, 0);
	const msg *o = msg_is_object(r) ? msg_get(r, "output") : NULL;
	char *t = o ? pipespec_item(o) : strndup(output ? output : "", len);
	msg_free(r);
	*n = t ? strlen(t) : 0;
	return t;
}
