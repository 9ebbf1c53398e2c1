/* SPDX-License-Identifier: MIT */
/*
 * jobarray: parsing and printing of job array member sets (Slurm's --array
 * syntax) and the expansion of a member's template -- see jobarray.h. The
 * parser is strict on purpose: a set is what decides how many jobs run,
 * so "5-1", "x", "1-0:0" or a trailing comma are refused with the item
 * that is wrong rather than read as something else.
 */
#include "jobarray.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

void jobarray_release(struct jobarray *a)
{
	free(a->r);
	a->r = NULL;
	a->n = 0;
	a->count = 0;
}

/* A decimal number of at most 16 digits at *p (no sign): 0 and *p moved
 * past it, or -1. */
static int read_num(const char **p, int64_t *out)
{
	const char *s = *p;
	int64_t v = 0;
	int digits = 0;
	while (isdigit((unsigned char)*s)) {
		if (++digits > 16)
			return -1;
		v = v * 10 + (*s - '0');
		s++;
	}
	if (!digits)
		return -1;
	*out = v;
	*p = s;
	return 0;
}

/* One item [start, end) into *r: N, N-M or N-M:STEP. */
static int parse_item(struct jobarray_range *r, const char *start, const char *end, char *err, size_t errlen)
{
	int len = (int)(end - start > 60 ? 60 : end - start);
	const char *p = start;
	r->step = 1;
	if (start == end)
		return snprintf(err, errlen, "an empty item in the set (two commas, or one at an end)"), -1;
	if (read_num(&p, &r->lo))
		goto bad;
	r->hi = r->lo;
	if (p < end && *p == '-') {
		p++;
		if (read_num(&p, &r->hi))
			goto bad;
		if (p < end && *p == ':') {
			p++;
			if (read_num(&p, &r->step))
				goto bad;
		}
	}
	if (p != end)
		goto bad;
	if (r->hi > JOBARRAY_TASK_MAX)
		return snprintf(err, errlen, "%.*s: task ids go up to %lld", len, start, (long long)JOBARRAY_TASK_MAX), -1;
	if (r->step < 1)
		return snprintf(err, errlen, "%.*s: the step must be 1 or more", len, start), -1;
	if (r->lo > r->hi)
		return snprintf(err, errlen, "%.*s: the range is empty (%lld > %lld); write it low-high", len, start,
				(long long)r->lo, (long long)r->hi),
		       -1;
	return 0;
bad:
	return snprintf(err, errlen, "'%.*s' is not N, N-M or N-M:STEP (N, M, STEP whole numbers >= 0)", len, start), -1;
}

int jobarray_parse(struct jobarray *a, const char *text, char *err, size_t errlen)
{
	memset(a, 0, sizeof *a);
	if (!text || !*text)
		return snprintf(err, errlen, "an empty set: give task ids like 1-100, 1-100:2 or 1,5,7-9"), -1;
	size_t items = 1;
	for (const char *p = text; *p; p++)
		items += *p == ',';
	if (!(a->r = calloc(items, sizeof *a->r)))
		return snprintf(err, errlen, "out of memory"), -1;
	const char *s = text;
	for (;;) {
		const char *e = strchr(s, ',');
		if (!e)
			e = s + strlen(s);
		struct jobarray_range *r = &a->r[a->n];
		if (parse_item(r, s, e, err, errlen))
			return -1;
		r->before = a->count;
		a->count += (r->hi - r->lo) / r->step + 1;
		a->n++;
		if (a->count > JOBARRAY_MEMBERS_MAX)
			return snprintf(err, errlen, "more than %lld members: split the array",
					(long long)JOBARRAY_MEMBERS_MAX),
			       -1;
		if (!*e)
			break;
		s = e + 1;
	}
	return 0;
}

int64_t jobarray_task(const struct jobarray *a, int64_t i)
{
	size_t lo = 0, hi = a->n; /* the last range with before <= i */
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;
		if (a->r[mid].before <= i)
			lo = mid;
		else
			hi = mid;
	}
	const struct jobarray_range *r = &a->r[lo];
	return r->lo + (i - r->before) * r->step;
}

int jobarray_format(struct buf *out, const int64_t *ids, size_t n)
{
	int rc = 0;
	for (size_t i = 0; i < n;) {
		size_t j = i;
		while (j + 1 < n && ids[j + 1] == ids[j] + 1)
			j++;
		if (i)
			rc |= buf_add(out, ",", 1);
		rc |= buf_add_i64(out, ids[i]);
		if (j > i) {
			rc |= buf_add(out, "-", 1);
			rc |= buf_add_i64(out, ids[j]);
		}
		i = j + 1;
	}
	return rc ? -1 : 0;
}

char *jobarray_entry_text(const msg *e)
{
	return msg_is_str(e) ? strdup(msg_str(e)) : msg_print(e);
}

/* "{name}" at p (p[0] == '{'): the length of the name, 0 if it is not one. */
static size_t field_name(const char *p)
{
	size_t k = 1;
	while (isalnum((unsigned char)p[k]) || p[k] == '_')
		k++;
	return k > 1 && k <= 65 && p[k] == '}' ? k - 1 : 0;
}

int jobarray_expand(struct buf *out, const char *tmpl, const char *text, const msg *obj)
{
	int rc = 0;
	const char *p = tmpl, *lit = tmpl;
	while ((p = strchr(p, '{'))) {
		size_t k;
		if (p[1] == '}') {
			rc |= buf_add(out, lit, (size_t)(p - lit));
			rc |= buf_adds(out, text);
			lit = p += 2;
		} else if (obj && msg_is_object(obj) && (k = field_name(p))) {
			char name[66];
			memcpy(name, p + 1, k);
			name[k] = '\0';
			msg *f = msg_get(obj, name);
			if (!f) {
				p++;
				continue;
			}
			char *t = jobarray_entry_text(f);
			rc |= buf_add(out, lit, (size_t)(p - lit));
			rc |= t ? buf_adds(out, t) : -1;
			free(t);
			lit = p += k + 2;
		} else {
			p++;
		}
	}
	rc |= buf_adds(out, lit);
	return rc ? -1 : 0;
}
