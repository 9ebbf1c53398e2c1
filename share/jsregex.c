/* SPDX-License-Identifier: MIT */
/*
 * jsregex: ECMA-262 patterns translated to POSIX extended expressions (see
 * jsregex.h for the dialect). One pass over the pattern with a stack of open
 * groups. Every character class, whatever its ECMA spelling, becomes a set
 * of ASCII characters plus a "negated" flag and is printed by one function,
 * so that POSIX bracket quirks (']' first, '-' last, '^' not first, "[:"
 * openers) are handled in one place; a negated set also matches any one
 * multi-byte UTF-8 character, which a byte-wise [^...] would split.
 */
#include "jsregex.h"

#include "util.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define MAX_GROUPS 32
#define MAX_REPEAT 1000
#define MAX_WEIGHT 2000L
/* one multi-byte UTF-8 character (lead byte, continuation bytes): what a
 * negated class or "." matches besides ASCII */
#define UTF8_MB "[\xc0-\xff][\x80-\xbf]*"

struct cset {
	uint64_t bits[2]; /* ASCII 1..127 */
};

struct tr {
	const char *p; /* next character of the ECMA text */
	struct buf *out;
	char *err;
	size_t n;
	int oom;
	int have_atom;	  /* a quantifier may follow */
	long last_weight; /* atoms the last atom stands for */
	int depth;
	long weight[MAX_GROUPS + 1]; /* atoms so far in each open group */
};

static int fail(struct tr *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(struct tr *t, const char *fmt, ...)
{
	if (t->err && t->n) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(t->err, t->n, fmt, ap);
		va_end(ap);
	}
	return -1;
}

static void emit(struct tr *t, const char *s, size_t len)
{
	t->oom |= buf_add(t->out, s, len) != 0;
}
static void emits(struct tr *t, const char *s)
{
	emit(t, s, strlen(s));
}
static void emitc(struct tr *t, char c)
{
	emit(t, &c, 1);
}

static void cset_add(struct cset *s, unsigned c)
{
	if (c >= 1 && c < 128)
		s->bits[c / 64] |= UINT64_C(1) << (c % 64);
}
static int cset_has(const struct cset *s, unsigned c)
{
	return c < 128 && (s->bits[c / 64] >> (c % 64)) & 1;
}
static void cset_range(struct cset *s, unsigned lo, unsigned hi)
{
	for (unsigned c = lo; c <= hi && c < 128; c++)
		cset_add(s, c);
}

/* \d \w \s and their capitals; 0 if c names no class. */
static int class_escape(char c, struct cset *s, int *neg)
{
	memset(s, 0, sizeof *s);
	*neg = c == 'D' || c == 'W' || c == 'S';
	switch (c) {
	case 'd':
	case 'D':
		cset_range(s, '0', '9');
		return 1;
	case 'w':
	case 'W':
		cset_range(s, '0', '9');
		cset_range(s, 'A', 'Z');
		cset_range(s, 'a', 'z');
		cset_add(s, '_');
		return 1;
	case 's':
	case 'S':
		cset_add(s, ' ');
		cset_range(s, '\t', '\r'); /* \t \n \v \f \r */
		return 1;
	}
	return 0;
}

static int is_special_in_bracket(unsigned c)
{
	return c == ']' || c == '[' || c == '-' || c == '^';
}

/* The members of s other than ']' '[' '-' '^', runs of three or more as
 * ranges (their ends are never one of those four). */
static void emit_plain_members(struct tr *t, const struct cset *s)
{
	for (unsigned c = 1; c < 128; c++) {
		if (!cset_has(s, c) || is_special_in_bracket(c))
			continue;
		unsigned end = c;
		while (end + 1 < 128 && cset_has(s, end + 1) && !is_special_in_bracket(end + 1))
			end++;
		emitc(t, (char)c);
		if (end >= c + 2) {
			emitc(t, '-');
			emitc(t, (char)end);
		} else if (end == c + 1) {
			emitc(t, (char)end);
		}
		c = end;
	}
}

/* A class as POSIX text. Positive: a bracket of ASCII members, with '^' as
 * an alternative of its own since no place in a bracket of one member is
 * safe for it. Negated: anything not in s, one whole character. */
static int emit_set(struct tr *t, const struct cset *s, int neg)
{
	if (neg) {
		emits(t, "([^");
		if (cset_has(s, ']'))
			emitc(t, ']');
		if (cset_has(s, '^'))
			emitc(t, '^');
		emit_plain_members(t, s);
		emits(t, "\x80-\xff");
		if (cset_has(s, '['))
			emitc(t, '[');
		if (cset_has(s, '-'))
			emitc(t, '-');
		emits(t, "]|" UTF8_MB ")");
		return 0;
	}
	struct cset rest = *s;
	rest.bits['^' / 64] &= ~(UINT64_C(1) << ('^' % 64));
	int caret = cset_has(s, '^');
	int any = rest.bits[0] || rest.bits[1];
	if (!any && !caret)
		return fail(t, "the empty class [] never matches");
	if (caret && any)
		emitc(t, '(');
	if (any) {
		emitc(t, '[');
		if (cset_has(&rest, ']'))
			emitc(t, ']');
		emit_plain_members(t, &rest);
		if (cset_has(&rest, '['))
			emitc(t, '[');
		if (cset_has(&rest, '-'))
			emitc(t, '-');
		emitc(t, ']');
	}
	if (caret)
		emits(t, any ? "|\\^)" : "\\^");
	return 0;
}

/* ndigits hex digits at t->p into *cp; advances. */
static int read_hex(struct tr *t, int ndigits, unsigned *cp)
{
	unsigned v = 0;
	for (int i = 0; i < ndigits; i++) {
		int h = util_hexval(t->p[i]);
		if (h < 0)
			return fail(t, "\\%c needs %d hex digits", ndigits == 2 ? 'x' : 'u', ndigits);
		v = v * 16 + (unsigned)h;
	}
	t->p += ndigits;
	*cp = v;
	return 0;
}

/* An escape that stands for one character (t->p is past the backslash,
 * at the letter): \n \r \t \v \f \cX \xHH \uHHHH and escaped punctuation.
 * inclass: \b is backspace there. 0 with *cp, 1 if the letter is not a
 * character escape (the caller tries class escapes), -1 refused. */
static int char_escape(struct tr *t, int inclass, unsigned *cp)
{
	char c = *t->p;
	static const char from[] = "nrtvf", to[] = "\n\r\t\v\f";
	const char *k = c ? strchr(from, c) : NULL;
	if (k) {
		*cp = (unsigned char)to[k - from];
		t->p++;
		return 0;
	}
	if (c == 'b' && inclass) {
		*cp = '\b';
		t->p++;
		return 0;
	}
	if (c == 'c') {
		char x = t->p[1];
		if (!((x >= 'a' && x <= 'z') || (x >= 'A' && x <= 'Z')))
			return fail(t, "\\c must be followed by a letter");
		*cp = (unsigned)x % 32;
		t->p += 2;
		return 0;
	}
	if (c == 'x' || c == 'u') {
		t->p++;
		if (read_hex(t, c == 'x' ? 2 : 4, cp))
			return -1;
		if (*cp == 0)
			return fail(t, "\\%c0000 (NUL) cannot occur in a JSON string here", c);
		if (*cp >= 0xD800 && *cp <= 0xDFFF)
			return fail(t, "surrogate escapes \\u%04X are not supported", *cp);
		return 0;
	}
	if (c == '0')
		return fail(t, "\\0 (NUL) is not supported");
	if (c >= '1' && c <= '9')
		return fail(t, "backreferences (\\%c) are not supported", c);
	if (c == 'k')
		return fail(t, "named backreferences (\\k) are not supported");
	if (c == 'p' || c == 'P')
		return fail(t, "Unicode property escapes (\\%c) are not supported", c);
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
		return 1;
	if (c == '\0')
		return fail(t, "the pattern ends in a lone backslash");
	/* identity escape: punctuation, or a non-ASCII character (read by the
	 * caller as UTF-8) */
	if ((unsigned char)c >= 0x80)
		return 2;
	*cp = (unsigned char)c;
	t->p++;
	return 0;
}

/* One class member; *is_set when it was \d \w \s. */
static int class_atom(struct tr *t, unsigned *cp, struct cset *s, int *is_set)
{
	*is_set = 0;
	unsigned char c = (unsigned char)*t->p;
	if (c == '\0')
		return fail(t, "unterminated character class [");
	if (c >= 0x80)
		return fail(t, "non-ASCII characters inside a class [...] are not supported");
	if (c != '\\') {
		*cp = c;
		t->p++;
		return 0;
	}
	t->p++;
	int r = char_escape(t, 1, cp);
	if (r < 0)
		return -1;
	if (r == 2)
		return fail(t, "non-ASCII characters inside a class [...] are not supported");
	if (r == 0)
		return *cp >= 0x80 ? fail(t, "non-ASCII characters inside a class [...] are not supported")
				   : 0;
	int neg;
	if (!class_escape(*t->p, s, &neg))
		return fail(t, "unknown escape \\%c", *t->p);
	if (neg)
		return fail(t, "\\%c inside a class [...] is not supported", *t->p);
	t->p++;
	*is_set = 1;
	return 0;
}

/* [...] with t->p past the '['. */
static int parse_class(struct tr *t)
{
	struct cset set = {{0, 0}};
	int neg = 0;
	if (*t->p == '^') {
		neg = 1;
		t->p++;
	}
	while (*t->p != ']') {
		unsigned lo, hi;
		struct cset s1, s2;
		int set1, set2;
		if (class_atom(t, &lo, &s1, &set1))
			return -1;
		if (t->p[0] == '-' && t->p[1] != ']' && t->p[1] != '\0') {
			t->p++;
			if (class_atom(t, &hi, &s2, &set2))
				return -1;
			if (set1 || set2)
				return fail(t, "a class escape cannot end a range in [...]");
			if (lo > hi)
				return fail(t, "range out of order in [...]");
			cset_range(&set, lo, hi);
		} else if (set1) {
			set.bits[0] |= s1.bits[0];
			set.bits[1] |= s1.bits[1];
		} else {
			cset_add(&set, lo);
		}
	}
	t->p++;
	return emit_set(t, &set, neg);
}

/* A literal code point outside classes; a multi-byte one in a group so that
 * a quantifier applies to the whole character. */
static void emit_literal(struct tr *t, unsigned cp)
{
	if (cp < 0x80) {
		if (strchr(".[\\()*+?{|^$", (int)cp))
			emitc(t, '\\');
		emitc(t, (char)cp);
		return;
	}
	char u[4];
	size_t len;
	if (cp < 0x800) {
		u[0] = (char)(0xC0 | cp >> 6);
		u[1] = (char)(0x80 | (cp & 0x3F));
		len = 2;
	} else {
		u[0] = (char)(0xE0 | cp >> 12);
		u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		u[2] = (char)(0x80 | (cp & 0x3F));
		len = 3;
	}
	emitc(t, '(');
	emit(t, u, len);
	emitc(t, ')');
}

/* A non-ASCII character written as itself: copied whole, in a group. */
static int copy_utf8(struct tr *t)
{
	const unsigned char *s = (const unsigned char *)t->p;
	size_t len = s[0] >= 0xF0 ? 4 : s[0] >= 0xE0 ? 3 : s[0] >= 0xC0 ? 2 : 0;
	if (len == 0 || s[0] > 0xF4)
		return fail(t, "the pattern is not valid UTF-8");
	for (size_t i = 1; i < len; i++)
		if ((s[i] & 0xC0) != 0x80)
			return fail(t, "the pattern is not valid UTF-8");
	emitc(t, '(');
	emit(t, t->p, len);
	emitc(t, ')');
	t->p += len;
	return 0;
}

static void atom_done(struct tr *t, long weight)
{
	t->weight[t->depth] += weight;
	t->last_weight = weight;
	t->have_atom = 1;
}

/* {n}, {n,}, {n,m} at t->p ('{'): 1 and the bounds (max -1 open) if it is
 * one, 0 if the '{' is a literal. */
static int read_braces(const char *p, long *min, long *max, const char **end)
{
	long a = 0, b;
	int digits = 0;
	for (p++; *p >= '0' && *p <= '9'; p++, digits++)
		a = a < 100000 ? a * 10 + (*p - '0') : a;
	if (!digits)
		return 0;
	b = a;
	if (*p == ',') {
		digits = 0;
		b = 0;
		for (p++; *p >= '0' && *p <= '9'; p++, digits++)
			b = b < 100000 ? b * 10 + (*p - '0') : b;
		if (!digits)
			b = -1;
	}
	if (*p != '}')
		return 0;
	*min = a;
	*max = b;
	*end = p + 1;
	return 1;
}

static int quantifier(struct tr *t)
{
	long min = 0, max = -1, times = 1;
	const char *end = t->p + 1;
	if (*t->p == '{' && !read_braces(t->p, &min, &max, &end)) {
		t->p++; /* Annex B: a literal brace */
		emits(t, "\\{");
		atom_done(t, 1);
		return 0;
	}
	if (!t->have_atom)
		return fail(t, "the quantifier %c follows nothing it could repeat", *t->p);
	if (*t->p == '{') {
		if (max >= 0 && min > max)
			return fail(t, "the quantifier {%ld,%ld} is out of order", min, max);
		if (min > MAX_REPEAT || max > MAX_REPEAT)
			return fail(t, "repeat counts above %d are not supported", MAX_REPEAT);
		emit(t, t->p, (size_t)(end - t->p));
		times = (max > min ? max : min) + 1;
	} else {
		emitc(t, *t->p);
	}
	t->p = end;
	if (*t->p == '?') /* lazy: same answer to "is there a match" */
		t->p++;
	t->weight[t->depth] += t->last_weight * (times - 1);
	if (t->weight[t->depth] > MAX_WEIGHT)
		return fail(t, "the pattern is too large once its repetitions are expanded");
	t->have_atom = 0;
	return 0;
}

static int open_group(struct tr *t)
{
	t->p++;
	if (*t->p == '?') {
		if (t->p[1] == ':')
			t->p += 2;
		else if (t->p[1] == '=' || t->p[1] == '!')
			return fail(t, "lookahead (?%c is not supported", t->p[1]);
		else if (t->p[1] == '<' && (t->p[2] == '=' || t->p[2] == '!'))
			return fail(t, "lookbehind (?<%c is not supported", t->p[2]);
		else if (t->p[1] == '<')
			return fail(t, "named groups (?<name> are not supported");
		else
			return fail(t, "(? must be followed by :");
	}
	if (t->depth >= MAX_GROUPS)
		return fail(t, "more than %d nested groups", MAX_GROUPS);
	t->weight[++t->depth] = 0;
	t->have_atom = 0;
	emitc(t, '(');
	return 0;
}

static int close_group(struct tr *t)
{
	if (t->depth == 0)
		return fail(t, "unmatched )");
	t->p++;
	emitc(t, ')');
	long w = t->weight[t->depth--];
	atom_done(t, w > 0 ? w : 1);
	return 0;
}

static int escape(struct tr *t)
{
	t->p++;
	unsigned cp;
	int r = char_escape(t, 0, &cp);
	if (r < 0)
		return -1;
	if (r == 2)
		return copy_utf8(t) ? -1 : (atom_done(t, 1), 0);
	if (r == 0) {
		emit_literal(t, cp);
		atom_done(t, 1);
		return 0;
	}
	char c = *t->p;
	if (c == 'b' || c == 'B') { /* glibc's, same ASCII word characters */
		emitc(t, '\\');
		emitc(t, c);
		t->p++;
		t->have_atom = 0;
		return 0;
	}
	struct cset s;
	int neg;
	if (!class_escape(c, &s, &neg))
		return fail(t, "unknown escape \\%c", c);
	t->p++;
	if (emit_set(t, &s, neg))
		return -1;
	atom_done(t, 1);
	return 0;
}

static int step(struct tr *t)
{
	char c = *t->p;
	switch (c) {
	case '(':
		return open_group(t);
	case ')':
		return close_group(t);
	case '|':
	case '^':
	case '$':
		emitc(t, c);
		t->p++;
		t->have_atom = 0;
		return 0;
	case '*':
	case '+':
	case '?':
	case '{':
		return quantifier(t);
	case '[':
		t->p++;
		if (parse_class(t))
			return -1;
		atom_done(t, 1);
		return 0;
	case '.': {
		struct cset nl = {{0, 0}};
		cset_add(&nl, '\n');
		cset_add(&nl, '\r');
		t->p++;
		emit_set(t, &nl, 1);
		atom_done(t, 1);
		return 0;
	}
	case '\\':
		return escape(t);
	}
	if ((unsigned char)c >= 0x80) {
		if (copy_utf8(t))
			return -1;
	} else {
		emit_literal(t, (unsigned char)c);
		t->p++;
	}
	atom_done(t, 1);
	return 0;
}

int jsregex_translate(struct buf *out, const char *ecma, char *err, size_t n)
{
	struct tr t = {.p = ecma, .out = out, .err = err, .n = n};
	while (*t.p)
		if (step(&t))
			return -1;
	if (t.depth)
		return fail(&t, "unclosed group (");
	if (t.oom)
		return fail(&t, "out of memory");
	return 0;
}

int jsregex_compile(struct jsregex *re, const char *ecma, char *err, size_t n)
{
	struct buf posix = BUF_INIT;
	if (jsregex_translate(&posix, ecma, err, n)) {
		buf_release(&posix);
		return -1;
	}
	re->c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0);
	if (!re->c_locale) {
		buf_release(&posix);
		if (err && n)
			snprintf(err, n, "out of memory");
		return -1;
	}
	locale_t was = uselocale(re->c_locale);
	int rc = regcomp(&re->re, posix.p ? posix.p : "", REG_EXTENDED | REG_NOSUB);
	uselocale(was);
	buf_release(&posix);
	if (rc != 0) {
		if (err && n) {
			char why[128];
			regerror(rc, &re->re, why, sizeof why);
			snprintf(err, n, "POSIX regcomp refused the translation: %s", why);
		}
		freelocale(re->c_locale);
		return -1;
	}
	return 0;
}

int jsregex_search(const struct jsregex *re, const char *s)
{
	locale_t was = uselocale(re->c_locale);
	int rc = regexec(&re->re, s, 0, NULL, 0);
	uselocale(was);
	return rc == 0;
}

void jsregex_free(struct jsregex *re)
{
	if (!re)
		return;
	regfree(&re->re);
	freelocale(re->c_locale);
}
