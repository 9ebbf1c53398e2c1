/* SPDX-License-Identifier: MIT */
/*
 * jschema: JSON Schema draft 7, compiled once into a graph of nodes and then
 * run against instances. Compilation walks the schema (a private copy) from
 * the root, one node per schema location, dispatching every member through
 * one keyword table so that an unknown keyword is an error that lists the
 * known ones; a second pass resolves each $ref to the node of its target
 * location (compiling locations only a $ref reaches), which makes cycles
 * ({"$ref":"#"}) plain pointers. Validation follows the graph with a depth
 * and a step budget and stops at the first error, which it words with the
 * JSON pointer of the place in the instance.
 */
#include "jschema.h"

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "jsregex.h"
#include "util.h"

/* Schemas nest at most this deep (cJSON allows 1000; compiling recursion
 * that deep is pointless for job inputs and costly on small stacks). */
#define MAX_SCHEMA_DEPTH 128

enum {
	T_NULL = 1,
	T_BOOLEAN = 2,
	T_OBJECT = 4,
	T_ARRAY = 8,
	T_NUMBER = 16,
	T_STRING = 32,
	T_INTEGER = 64,
};

static const struct {
	const char *name;
	unsigned bit;
} type_names[] = {
    {"null", T_NULL},	  {"boolean", T_BOOLEAN}, {"object", T_OBJECT},	  {"array", T_ARRAY},
    {"number", T_NUMBER}, {"string", T_STRING},	  {"integer", T_INTEGER},
};

/* numeric limits present in a node */
enum { HAS_MIN = 1, HAS_MAX = 2, HAS_XMIN = 4, HAS_XMAX = 8, HAS_MULT = 16 };

struct node;
struct nodelist {
	struct node **v;
	size_t n;
};
struct prop {
	const char *name; /* borrowed from the schema copy */
	struct node *schema;
};
struct patprop {
	struct jsregex re;
	const char *src;
	struct node *schema;
};
struct dep {
	const char *name;
	struct node *schema; /* a schema dependency ... */
	const msg *required; /* ... or the names that must be present too */
};

struct node {
	const msg *at; /* the schema value this node was compiled from */
	char *path;    /* its JSON pointer, for errors found after the walk */
	int boolean;   /* -1: an object schema; 0/1: the schema false/true */
	unsigned types;
	const msg *enum_vals, *const_val, *required;
	struct prop *props;
	size_t nprops;
	struct patprop *pats;
	size_t npats;
	struct node *additional_props, *property_names;
	struct node *items;	   /* one schema for every item ... */
	struct nodelist item_list; /* ... or one per position */
	int items_is_list;
	struct node *additional_items, *contains;
	int64_t min_items, max_items, min_length, max_length, min_props, max_props; /* -1 absent */
	unsigned has_num;
	double minimum, maximum, excl_min, excl_max, multiple_of;
	int has_pattern;
	struct jsregex pattern;
	const char *pattern_src;
	int unique_items;
	struct nodelist all_of, any_of, one_of;
	struct node *not_schema, *if_schema, *then_schema, *else_schema;
	struct dep *deps;
	size_t ndeps;
	const char *ref; /* $ref text, resolved into ref_target after the walk */
	struct node *ref_target;
};

struct jschema {
	msg *doc; /* our copy; every node and string points into it */
	struct node **nodes;
	size_t nnodes, cap;
};

/* ---- compilation ---- */

struct cc {
	struct jschema *s;
	char *err;
	size_t n;
	struct buf path; /* JSON pointer of the location being compiled */
	int depth;
	int oom;
};

static int cfail(struct cc *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int cfail(struct cc *c, const char *fmt, ...)
{
	if (c->err && c->n) {
		char what[512];
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(what, sizeof what, fmt, ap);
		va_end(ap);
		snprintf(c->err, c->n, "schema at %s: %s", c->path.len ? c->path.p : "/", what);
	}
	return -1;
}

/* Append "/" and key with JSON pointer escapes (~ -> ~0, / -> ~1); control
 * characters, which would break the error's one line, %-encoded as in a
 * pointer's URI fragment form. */
static int path_push(struct buf *b, const char *key)
{
	int r = buf_add(b, "/", 1);
	for (const unsigned char *k = (const unsigned char *)key; *k && !r; k++) {
		if (*k == '~' || *k == '/')
			r = buf_add(b, *k == '~' ? "~0" : "~1", 2);
		else if (*k < 0x20 || *k == 0x7f)
			r = buf_addf(b, "%%%02X", *k);
		else
			r = buf_add(b, k, 1);
	}
	return r;
}

static void path_pop(struct buf *b, size_t len)
{
	b->len = len;
	if (b->p)
		b->p[len] = '\0';
}

/* s as a JSON string literal for an error line (escaped, so that the line
 * stays one line whatever the schema or the instance holds), cut after 80
 * bytes. Returns out. */
static const char *quoted(char *out, size_t n, const char *s)
{
	struct buf b = BUF_INIT;
	size_t len = s ? strlen(s) : 0;
	if (buf_add_json_str(&b, s ? s : "", len > 80 ? 80 : len) == 0)
		snprintf(out, n, "%s%s", b.p, len > 80 ? "..." : "");
	else
		snprintf(out, n, "\"?\"");
	buf_release(&b);
	return out;
}

static struct node *compile_node(struct cc *c, const msg *m);

/* Compile the schema m found under key (a keyword, then an optional
 * member name or index) of the current location. */
static struct node *compile_at(struct cc *c, const msg *m, const char *key, const char *sub)
{
	size_t len = c->path.len;
	if (path_push(&c->path, key) || (sub && path_push(&c->path, sub))) {
		c->oom = 1;
		cfail(c, "out of memory");
		return NULL;
	}
	struct node *nd = compile_node(c, m);
	path_pop(&c->path, len);
	return nd;
}

static struct node *compile_index(struct cc *c, const msg *m, const char *key, size_t i)
{
	char idx[32];
	snprintf(idx, sizeof idx, "%zu", i);
	return compile_at(c, m, key, idx);
}

static int want_schema(struct cc *c, struct node **out, const msg *v, const char *key)
{
	*out = compile_at(c, v, key, NULL);
	return *out ? 0 : -1;
}

static int want_count(struct cc *c, int64_t *out, const msg *v, const char *key)
{
	if (msg_to_int(v, out) != 0 || *out < 0)
		return cfail(c, "\"%s\" must be a non-negative integer", key);
	return 0;
}

static int want_number(struct cc *c, double *out, const msg *v, const char *key)
{
	if (!msg_is_num(v))
		return cfail(c, "\"%s\" must be a number", key);
	*out = msg_num(v);
	return 0;
}

static int want_strings(struct cc *c, const msg *v, const char *key)
{
	if (!msg_is_array(v))
		return cfail(c, "\"%s\" must be an array of strings", key);
	for (const msg *e = msg_child(v); e; e = msg_next(e))
		if (!msg_is_str(e))
			return cfail(c, "\"%s\" must be an array of strings", key);
	return 0;
}

static int want_list(struct cc *c, struct nodelist *out, const msg *v, const char *key)
{
	if (!msg_is_array(v) || msg_size(v) == 0)
		return cfail(c, "\"%s\" must be a non-empty array of schemas", key);
	out->v = calloc(msg_size(v), sizeof *out->v);
	if (!out->v)
		return c->oom = 1, cfail(c, "out of memory");
	for (const msg *e = msg_child(v); e; e = msg_next(e), out->n++)
		if (!(out->v[out->n] = compile_index(c, e, key, out->n)))
			return -1;
	return 0;
}

/* One function per keyword, all with the same shape: check the value,
 * store it in the node, compile the sub-schemas. */
typedef int kw_fn(struct cc *c, struct node *nd, const msg *v, const char *key);

static int kw_type_one(struct cc *c, struct node *nd, const msg *v, const char *key)
{
	const char *t = msg_str(v);
	for (size_t i = 0; t && i < sizeof type_names / sizeof type_names[0]; i++)
		if (strcmp(t, type_names[i].name) == 0) {
			nd->types |= type_names[i].bit;
			return 0;
		}
	return cfail(c, "\"type\" must name null, boolean, object, array, number, string or integer");
}

static int kw_type(struct cc *c, struct node *nd, const msg *v, const char *key)
{
	if (!msg_is_array(v))
		return kw_type_one(c, nd, v, key);
	if (msg_size(v) == 0)
		return cfail(c, "\"type\" must not be an empty array");
	for (const msg *e = msg_child(v); e; e = msg_next(e))
		if (kw_type_one(c, nd, e, key))
			return -1;
	return 0;
}

static int kw_enum(struct cc *c, struct node *nd, const msg *v, const char *key)
{
	if (!msg_is_array(v))
		return cfail(c, "\"enum\" must be an array");
	nd->enum_vals = v;
	return 0;
}

static int kw_const(struct cc *c, struct node *nd, const msg *v, const char *key)
{
	nd->const_val = v;
	return 0;
}

static int kw_required(struct cc *c, struct node *nd, const msg *v, const char *key)
{
	nd->required = v;
	return want_strings(c, v, key);
}

static int kw_properties(struct cc *c, struct node *nd, const msg *v, const char *key)
{
	if (!msg_is_object(v))
		return cfail(c, "\"properties\" must be an object of schemas");
	nd->props = calloc(msg_size(v) + 1, sizeof *nd->props);
	if (!nd->props)
		return c->oom = 1, cfail(c, "out of memory");
	for (const msg *e = msg_child(v); e; e = msg_next(e), nd->nprops++) {
		nd->props[nd->nprops].name = msg_key(e);
		if (!(nd->props[nd->nprops].schema = compile_at(c, e, key, msg_key(e))))
			return -1;
	}
	return 0;
}

static int kw_pattern_props(struct cc *c, struct node *nd, const msg *v, const char *key)
{
	if (!msg_is_object(v))
		return cfail(c, "\"patternProperties\" must be an object of schemas");
	nd->pats = calloc(msg_size(v) + 1, sizeof *nd->pats);
	if (!nd->pats)
		return c->oom = 1, cfail(c, "out of memory");
	for (const msg *e = msg_child(v); e; e = msg_next(e)) {
		struct patprop *pp = &nd->pats[nd->npats];
		char why[256], q[128];
		if (jsregex_compile(&pp->re, msg_key(e), why, sizeof why))
			return cfail(c, "\"patternProperties\" regex %s cannot be used: %s",
				     quoted(q, sizeof q, msg_key(e)), why);
		nd->npats++; /* from here on jschema_free() frees the regex */
		pp->src = msg_key(e);
		if (!(pp->schema = compile_at(c, e, key, msg_key(e))))
			return -1;
	}
	return 0;
}

static int kw_schema_slot(struct cc *c, struct node *nd, const msg *v, const char *key)
{
	static const struct {
		const char *key;
		size_t off;
	} slots[] = {
	    {"additionalProperties", offsetof(struct node, additional_props)},
	    {"propertyNames", offsetof(struct node, property_names)},
	    {"additionalItems", offsetof(struct node, additional_items)},
	    {"contains", offsetof(struct node, contains)},
	    {"not", offsetof(struct node, not_schema)},
	    {"if", offsetof(struct node, if_schema)},
	    {"then", offsetof(struct node, then_schema)},
	    {"else", offsetof(struct node, else_schema)},
	};
	for (size_t i = 0; i < sizeof slots / sizeof slots[0]; i++)
		if (strcmp(slots[i].key, key) == 0)
			return want_schema(c, (struct node **)((char *)nd + slots[i].off), v, key);
	return cfail(c, "internal: no slot for \"%s\"", key);
}

static int kw_items(struct cc *c, struct node *nd, const msg *v, const char *key)
{
	if (!msg_is_array(v))
		return want_schema(c, &nd->items, v, key);
	nd->items_is_list = 1;
	if (msg_size(v) == 0)
		return 0;
	return want_list(c, &nd->item_list, v, key);
}

static int kw_count(struct cc *c, struct node *nd, const msg *v, const char *key)
{
	static const struct {
		const char *key;
		size_t off;
	} slots[] = {
	    {"minItems", offsetof(struct node, min_items)},
	    {"maxItems", offsetof(struct node, max_items)},
	    {"minLength", offsetof(struct node, min_length)},
	    {"maxLength", offsetof(struct node, max_length)},
	    {"minProperties", offsetof(struct node, min_props)},
	    {"maxProperties", offsetof(struct node, max_props)},
	};
	for (size_t i = 0; i < sizeof slots / sizeof slots[0]; i++)
		if (strcmp(slots[i].key, key) == 0)
			return want_count(c, (int64_t *)((char *)nd + slots[i].off), v, key);
	return cfail(c, "internal: no slot for \"%s\"", key);
}

static int kw_number(struct cc *c, struct node *nd, const msg *v, const char *key)
{
	static const struct {
		const char *key;
		size_t off;
		unsigned bit;
	} slots[] = {
	    {"minimum", offsetof(struct node, minimum), HAS_MIN},
	    {"maximum", offsetof(struct node, maximum), HAS_MAX},
	    {"exclusiveMinimum", offsetof(struct node, excl_min), HAS_XMIN},
	    {"exclusiveMaximum", offsetof(struct node, excl_max), HAS_XMAX},
	    {"multipleOf", offsetof(struct node, multiple_of), HAS_MULT},
	};
	for (size_t i = 0; i < sizeof slots / sizeof slots[0]; i++) {
		if (strcmp(slots[i].key, key) != 0)
			continue;
		double *d = (double *)((char *)nd + slots[i].off);
		if (want_number(c, d, v, key))
			return -1;
		if (slots[i].bit == HAS_MULT && !(*d > 0))
			return cfail(c, "\"multipleOf\" must be more than 0");
		nd->has_num |= slots[i].bit;
		return 0;
	}
	return cfail(c, "internal: no slot for \"%s\"", key);
}

static int kw_pattern(struct cc *c, struct node *nd, const msg *v, const char *key)
{
	char why[256], q[128];
	if (!msg_is_str(v))
		return cfail(c, "\"pattern\" must be a string");
	if (jsregex_compile(&nd->pattern, msg_str(v), why, sizeof why))
		return cfail(c, "\"pattern\" %s cannot be used: %s", quoted(q, sizeof q, msg_str(v)), why);
	nd->has_pattern = 1;
	nd->pattern_src = msg_str(v);
	return 0;
}

static int kw_unique(struct cc *c, struct node *nd, const msg *v, const char *key)
{
	if (!msg_is_bool(v))
		return cfail(c, "\"uniqueItems\" must be true or false");
	nd->unique_items = msg_bool(v);
	return 0;
}

static int kw_list(struct cc *c, struct node *nd, const msg *v, const char *key)
{
	struct nodelist *l = strcmp(key, "allOf") == 0	 ? &nd->all_of
			     : strcmp(key, "anyOf") == 0 ? &nd->any_of
							 : &nd->one_of;
	return want_list(c, l, v, key);
}

static int kw_dependencies(struct cc *c, struct node *nd, const msg *v, const char *key)
{
	if (!msg_is_object(v))
		return cfail(c, "\"dependencies\" must be an object");
	nd->deps = calloc(msg_size(v) + 1, sizeof *nd->deps);
	if (!nd->deps)
		return c->oom = 1, cfail(c, "out of memory");
	for (const msg *e = msg_child(v); e; e = msg_next(e), nd->ndeps++) {
		struct dep *d = &nd->deps[nd->ndeps];
		d->name = msg_key(e);
		if (msg_is_array(e)) {
			d->required = e;
			if (want_strings(c, e, key))
				return -1;
		} else if (!(d->schema = compile_at(c, e, key, msg_key(e)))) {
			return -1;
		}
	}
	return 0;
}

static int kw_definitions(struct cc *c, struct node *nd, const msg *v, const char *key)
{
	if (!msg_is_object(v))
		return cfail(c, "\"definitions\" must be an object of schemas");
	/* compiled now although only $refs use them: an error in a definition
	 * is reported when the schema is registered, not when first used */
	for (const msg *e = msg_child(v); e; e = msg_next(e))
		if (!compile_at(c, e, key, msg_key(e)))
			return -1;
	return 0;
}

static int kw_ref(struct cc *c, struct node *nd, const msg *v, const char *key)
{
	const char *r = msg_str(v);
	char q[128];
	if (!r)
		return cfail(c, "\"$ref\" must be a string");
	if (r[0] != '#')
		return cfail(c, "$ref %s is not local (only refs into this schema, \"#...\", are supported)",
			     quoted(q, sizeof q, r));
	nd->ref = r;
	return 0;
}

static int kw_schema_uri(struct cc *c, struct node *nd, const msg *v, const char *key)
{
	static const char *const ok[] = {
	    "http://json-schema.org/draft-07/schema#",
	    "http://json-schema.org/draft-07/schema",
	    "https://json-schema.org/draft-07/schema#",
	    "https://json-schema.org/draft-07/schema",
	};
	const char *s = msg_str(v);
	for (size_t i = 0; s && i < sizeof ok / sizeof ok[0]; i++)
		if (strcmp(s, ok[i]) == 0)
			return nd == c->s->nodes[0] ? 0
						    : cfail(c, "\"$schema\" is accepted only at the root");
	return cfail(c, "\"$schema\" must be \"%s\": only draft 7 is supported", ok[0]);
}

static int kw_id(struct cc *c, struct node *nd, const msg *v, const char *key)
{
	if (!msg_is_str(v))
		return cfail(c, "\"$id\" must be a string");
	if (nd != c->s->nodes[0])
		return cfail(c,
			     "\"$id\" is accepted only at the root (sub-schema base URIs are not supported)");
	return 0;
}

static int kw_string_note(struct cc *c, struct node *nd, const msg *v, const char *key)
{
	return msg_is_str(v) ? 0 : cfail(c, "\"%s\" must be a string", key);
}

static int kw_any_note(struct cc *c, struct node *nd, const msg *v, const char *key)
{
	return 0;
}

/* Every keyword this module knows; anything else in a schema is refused.
 * beside_ref: may stand next to $ref (draft 7 ignores a $ref's siblings;
 * we refuse validation keywords there rather than silently drop them). */
static const struct keyword {
	const char *name;
	kw_fn *fn;
	int beside_ref;
} keywords[] = {
    {"type", kw_type, 0},
    {"enum", kw_enum, 0},
    {"const", kw_const, 0},
    {"required", kw_required, 0},
    {"properties", kw_properties, 0},
    {"patternProperties", kw_pattern_props, 0},
    {"additionalProperties", kw_schema_slot, 0},
    {"propertyNames", kw_schema_slot, 0},
    {"minProperties", kw_count, 0},
    {"maxProperties", kw_count, 0},
    {"dependencies", kw_dependencies, 0},
    {"items", kw_items, 0},
    {"additionalItems", kw_schema_slot, 0},
    {"minItems", kw_count, 0},
    {"maxItems", kw_count, 0},
    {"uniqueItems", kw_unique, 0},
    {"contains", kw_schema_slot, 0},
    {"minimum", kw_number, 0},
    {"maximum", kw_number, 0},
    {"exclusiveMinimum", kw_number, 0},
    {"exclusiveMaximum", kw_number, 0},
    {"multipleOf", kw_number, 0},
    {"minLength", kw_count, 0},
    {"maxLength", kw_count, 0},
    {"pattern", kw_pattern, 0},
    {"allOf", kw_list, 0},
    {"anyOf", kw_list, 0},
    {"oneOf", kw_list, 0},
    {"not", kw_schema_slot, 0},
    {"if", kw_schema_slot, 0},
    {"then", kw_schema_slot, 0},
    {"else", kw_schema_slot, 0},
    {"$ref", kw_ref, 1},
    {"definitions", kw_definitions, 1},
    {"$schema", kw_schema_uri, 1},
    {"$id", kw_id, 1},
    {"$comment", kw_string_note, 1},
    {"title", kw_string_note, 1},
    {"description", kw_string_note, 1},
    {"default", kw_any_note, 1},
    {"examples", kw_any_note, 1},
};

_Static_assert(sizeof keywords / sizeof keywords[0] <= 64, "compile_members tracks keywords in 64 bits");

static const struct keyword *keyword_find(const char *name)
{
	for (size_t i = 0; i < sizeof keywords / sizeof keywords[0]; i++)
		if (strcmp(keywords[i].name, name) == 0)
			return &keywords[i];
	return NULL;
}

static int unknown_keyword(struct cc *c, const char *name)
{
	char list[1024];
	size_t len = 0;
	for (size_t i = 0; i < sizeof keywords / sizeof keywords[0] && len < sizeof list; i++)
		len +=
		    (size_t)snprintf(list + len, sizeof list - len, "%s%s", i ? ", " : "", keywords[i].name);
	char q[128];
	return cfail(c, "unknown keyword %s (supported: %s)", quoted(q, sizeof q, name), list);
}

static struct node *node_new(struct cc *c, const msg *m)
{
	struct jschema *s = c->s;
	if (util_grow(&s->nodes, &s->cap, s->nnodes, sizeof *s->nodes, 16))
		return NULL;
	struct node *nd = calloc(1, sizeof *nd);
	if (!nd)
		return NULL;
	nd->path = strdup(c->path.len ? c->path.p : "");
	if (!nd->path) {
		free(nd);
		return NULL;
	}
	nd->at = m;
	nd->boolean = -1;
	nd->min_items = nd->max_items = nd->min_length = nd->max_length = nd->min_props = nd->max_props = -1;
	s->nodes[s->nnodes++] = nd;
	return nd;
}

static int compile_members(struct cc *c, struct node *nd, const msg *m)
{
	int has_ref = msg_has(m, "$ref");
	uint64_t seen = 0; /* a keyword twice would leak its first value */
	for (const msg *e = msg_child(m); e; e = msg_next(e)) {
		const struct keyword *k = keyword_find(msg_key(e));
		if (!k)
			return unknown_keyword(c, msg_key(e));
		uint64_t bit = UINT64_C(1) << (k - keywords);
		if (seen & bit)
			return cfail(c, "keyword \"%s\" appears twice", k->name);
		seen |= bit;
		if (has_ref && !k->beside_ref)
			return cfail(
			    c, "\"%s\" beside \"$ref\" would be ignored in draft 7; put both under allOf",
			    k->name);
		if (k->fn(c, nd, e, k->name))
			return -1;
	}
	return 0;
}

static struct node *compile_node(struct cc *c, const msg *m)
{
	if (!msg_is_object(m) && !msg_is_bool(m)) {
		cfail(c, "a schema must be an object or a boolean");
		return NULL;
	}
	if (c->depth >= MAX_SCHEMA_DEPTH) {
		cfail(c, "schemas nested deeper than %d levels", MAX_SCHEMA_DEPTH);
		return NULL;
	}
	struct node *nd = node_new(c, m);
	if (!nd) {
		c->oom = 1;
		cfail(c, "out of memory");
		return NULL;
	}
	if (msg_is_bool(m)) {
		nd->boolean = msg_bool(m);
		return nd;
	}
	c->depth++;
	int rc = compile_members(c, nd, m);
	c->depth--;
	return rc ? NULL : nd;
}

/* ---- $ref resolution ---- */

static int hex_digit(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* Percent-decode the fragment of a $ref (after '#') into out; -1 on a bad
 * escape or %00 (keys are C strings). */
static int ref_decode(struct buf *out, const char *frag)
{
	for (const char *p = frag; *p; p++) {
		char ch = *p;
		if (ch == '%') {
			int hi = hex_digit(p[1]), lo = hi < 0 ? -1 : hex_digit(p[2]);
			if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
				return -1;
			ch = (char)(hi * 16 + lo);
			p += 2;
		}
		if (buf_add(out, &ch, 1))
			return -1;
	}
	return 0;
}

/* One reference token of a JSON pointer (between '/'s), unescaped in
 * place; -1 on a '~' not followed by 0 or 1. */
static int ref_unescape(char *tok)
{
	char *w = tok;
	for (char *r = tok; *r; r++) {
		if (*r == '~') {
			if (r[1] != '0' && r[1] != '1')
				return -1;
			*w++ = r[1] == '0' ? '~' : '/';
			r++;
		} else {
			*w++ = *r;
		}
	}
	*w = '\0';
	return 0;
}

static const msg *ref_step(const msg *cur, const char *tok)
{
	if (msg_is_object(cur))
		return msg_get(cur, tok);
	if (!msg_is_array(cur) || !*tok || (tok[0] == '0' && tok[1]))
		return NULL;
	size_t i = 0;
	for (const char *p = tok; *p; p++) {
		if (*p < '0' || *p > '9' || i > SIZE_MAX / 10 - 10)
			return NULL;
		i = i * 10 + (size_t)(*p - '0');
	}
	return msg_at(cur, i);
}

/* The location of nd->ref in the document, or NULL with the error set. */
static const msg *ref_locate(struct cc *c, const struct node *nd)
{
	struct buf ptr = BUF_INIT;
	const msg *cur = c->s->doc;
	char q[128];
	quoted(q, sizeof q, nd->ref);
	if (ref_decode(&ptr, nd->ref + 1) || (ptr.len && ptr.p[0] != '/')) {
		cfail(c,
		      "$ref %s is not a JSON pointer (\"#\", \"#/definitions/x\"; %%-escapes and ~0 ~1 "
		      "allowed)",
		      q);
		buf_release(&ptr);
		return NULL;
	}
	for (char *tok = ptr.len ? ptr.p + 1 : NULL; tok && cur;) {
		char *slash = strchr(tok, '/');
		if (slash)
			*slash = '\0';
		if (ref_unescape(tok)) {
			cfail(c, "$ref %s: '~' must be followed by 0 or 1", q);
			buf_release(&ptr);
			return NULL;
		}
		cur = ref_step(cur, tok);
		tok = slash ? slash + 1 : NULL;
	}
	buf_release(&ptr);
	if (!cur)
		cfail(c, "$ref %s does not resolve", q);
	return cur;
}

/* Point every $ref at the node of its target, compiling targets that the
 * walk from the root did not reach (the list grows while we go). */
static int resolve_refs(struct cc *c)
{
	struct jschema *s = c->s;
	for (size_t i = 0; i < s->nnodes; i++) {
		struct node *nd = s->nodes[i];
		if (!nd->ref)
			continue;
		path_pop(&c->path, 0);
		if (buf_adds(&c->path, nd->path))
			return c->oom = 1, cfail(c, "out of memory");
		const msg *target = ref_locate(c, nd);
		if (!target)
			return -1;
		for (size_t j = 0; j < s->nnodes && !nd->ref_target; j++)
			if (s->nodes[j]->at == target)
				nd->ref_target = s->nodes[j];
		if (nd->ref_target)
			continue;
		path_pop(&c->path, 0);
		if (buf_adds(&c->path, nd->ref + 1))
			return c->oom = 1, cfail(c, "out of memory");
		c->depth = 0;
		if (!(nd->ref_target = compile_node(c, target)))
			return -1;
	}
	return 0;
}

struct jschema *jschema_compile(const msg *schema, char *err, size_t n)
{
	if (err && n)
		err[0] = '\0';
	struct jschema *s = calloc(1, sizeof *s);
	struct cc c = {.s = s, .err = err, .n = n};
	buf_init(&c.path);
	if (!s || !(s->doc = msg_dup(schema))) {
		cfail(&c, schema ? "out of memory" : "no schema (NULL)");
		jschema_free(s);
		return NULL;
	}
	if (!compile_node(&c, s->doc) || resolve_refs(&c)) {
		buf_release(&c.path);
		jschema_free(s);
		return NULL;
	}
	buf_release(&c.path);
	return s;
}

/* ---- validation ---- */

struct vc {
	char *err; /* NULL while probing (anyOf, not, if, contains) */
	size_t n;
	struct buf path; /* JSON pointer of the instance location */
	int depth;
	long steps;
	int gave_up; /* the error in top_err is final; unwind */
	char *top_err;
	size_t top_n;
};

static void vput(char *err, size_t n, const struct vc *v, const char *fmt, va_list ap)
{
	char what[512];
	vsnprintf(what, sizeof what, fmt, ap);
	snprintf(err, n, "at %s: %s", v->path.len ? v->path.p : "/", what);
}

static int vfail(struct vc *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int vfail(struct vc *v, const char *fmt, ...)
{
	if (v->err && v->n && !v->gave_up) {
		va_list ap;
		va_start(ap, fmt);
		vput(v->err, v->n, v, fmt, ap);
		va_end(ap);
	}
	return -1;
}

/* Stop validating: the instance is not accepted, whatever branch we are in
 * (a "not" must not turn this into a success). */
static int give_up(struct vc *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int give_up(struct vc *v, const char *fmt, ...)
{
	if (!v->gave_up && v->top_err && v->top_n) {
		va_list ap;
		va_start(ap, fmt);
		vput(v->top_err, v->top_n, v, fmt, ap);
		va_end(ap);
	}
	v->gave_up = 1;
	return -1;
}

/* Shortest text that reads back as d. */
static void fmt_num(char *out, size_t n, double d)
{
	if (d == floor(d) && fabs(d) < 1e15) {
		snprintf(out, n, "%.0f", d);
		return;
	}
	snprintf(out, n, "%.15g", d);
	if (strtod(out, NULL) != d)
		snprintf(out, n, "%.17g", d);
}

/* A value as errors show it: as compact JSON (one line: strings come out
 * escaped), cut after about 60 bytes. */
static void describe(char *out, size_t n, const msg *m)
{
	if (msg_is_str(m)) {
		quoted(out, n, msg_str(m));
	} else if (msg_is_num(m)) {
		fmt_num(out, n, msg_num(m));
	} else {
		char *text = msg_print(m);
		if (text && strlen(text) > 60) {
			int cut = 60;
			while (cut > 0 && ((unsigned char)text[cut] & 0xC0) == 0x80)
				cut--; /* not inside a UTF-8 character */
			snprintf(out, n, "%.*s...", cut, text);
		} else
			snprintf(out, n, "%s", text ? text : "a value");
		free(text);
	}
}

static int is_integer(const msg *m)
{
	double d = msg_num(m);
	return msg_is_num(m) && isfinite(d) && d == floor(d);
}

static unsigned type_of(const msg *m)
{
	if (msg_is_num(m))
		return T_NUMBER | (is_integer(m) ? T_INTEGER : 0);
	return msg_is_str(m)	  ? T_STRING
	       : msg_is_object(m) ? T_OBJECT
	       : msg_is_array(m)  ? T_ARRAY
	       : msg_is_bool(m)	  ? T_BOOLEAN
	       : msg_is_null(m)	  ? T_NULL
				  : 0;
}

static int v_node(struct vc *v, const struct node *nd, const msg *inst);

/* Validate a member or item: the path grows by key (or index) meanwhile. */
static int v_child(struct vc *v, const struct node *nd, const msg *inst, const char *key, size_t idx)
{
	size_t len = v->path.len;
	char num[32];
	if (!key) {
		snprintf(num, sizeof num, "%zu", idx);
		key = num;
	}
	if (path_push(&v->path, key))
		return give_up(v, "out of memory");
	int rc = v_node(v, nd, inst);
	path_pop(&v->path, len);
	return rc;
}

/* Run nd on inst as a question, not as a check: errors go to sub (may be
 * NULL). 0 valid, -1 invalid; the caller must still test v->gave_up. */
static int probe(struct vc *v, const struct node *nd, const msg *inst, char *sub, size_t subn)
{
	char *err = v->err;
	size_t n = v->n;
	v->err = sub;
	v->n = subn;
	int rc = v_node(v, nd, inst);
	v->err = err;
	v->n = n;
	return rc;
}

static int v_type(struct vc *v, const struct node *nd, const msg *inst)
{
	unsigned t = type_of(inst);
	if (!nd->types || (t & nd->types))
		return 0;
	char what[160], want[128] = "";
	describe(what, sizeof what, inst);
	if (nd->types == T_INTEGER && (t & T_NUMBER))
		return vfail(v, "%s is not an integer", what);
	size_t len = 0;
	for (size_t i = 0; i < sizeof type_names / sizeof type_names[0] && len < sizeof want; i++)
		if (nd->types & type_names[i].bit)
			len += (size_t)snprintf(want + len, sizeof want - len, "%s%s", len ? " or " : "",
						type_names[i].name);
	return vfail(v, "%s is not of type %s", what, want);
}

static int v_values(struct vc *v, const struct node *nd, const msg *inst)
{
	char what[160];
	if (nd->enum_vals) {
		int found = 0;
		for (const msg *e = msg_child(nd->enum_vals); e && !found; e = msg_next(e))
			found = msg_equal(e, inst);
		if (!found) {
			describe(what, sizeof what, inst);
			return vfail(v, "%s is not one of the allowed values", what);
		}
	}
	if (nd->const_val && !msg_equal(nd->const_val, inst)) {
		char want[160];
		describe(what, sizeof what, inst);
		describe(want, sizeof want, nd->const_val);
		return vfail(v, "%s is not the required value %s", what, want);
	}
	return 0;
}

static int v_number(struct vc *v, const struct node *nd, const msg *inst)
{
	double x = msg_num(inst);
	char a[40], b[40];
	fmt_num(a, sizeof a, x);
	if ((nd->has_num & HAS_MIN) && x < nd->minimum)
		return fmt_num(b, sizeof b, nd->minimum), vfail(v, "%s is less than the minimum %s", a, b);
	if ((nd->has_num & HAS_MAX) && x > nd->maximum)
		return fmt_num(b, sizeof b, nd->maximum), vfail(v, "%s is more than the maximum %s", a, b);
	if ((nd->has_num & HAS_XMIN) && x <= nd->excl_min)
		return fmt_num(b, sizeof b, nd->excl_min),
		       vfail(v, "%s is not more than the exclusive minimum %s", a, b);
	if ((nd->has_num & HAS_XMAX) && x >= nd->excl_max)
		return fmt_num(b, sizeof b, nd->excl_max),
		       vfail(v, "%s is not less than the exclusive maximum %s", a, b);
	if (nd->has_num & HAS_MULT) {
		/* floating point: 0.0075 / 0.0001 is 74.99999999999999; a
		 * quotient past double's range (1e308 / 0.1) is not a multiple */
		double q = x / nd->multiple_of;
		if (!isfinite(q) || fabs(q - nearbyint(q)) > 1e-9 * fmax(1.0, fabs(q)))
			return fmt_num(b, sizeof b, nd->multiple_of),
			       vfail(v, "%s is not a multiple of %s", a, b);
	}
	return 0;
}

/* Length in code points: UTF-8 continuation bytes do not count. */
static int64_t utf8_length(const char *s)
{
	int64_t n = 0;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		n += (*p & 0xC0) != 0x80;
	return n;
}

static int v_string(struct vc *v, const struct node *nd, const msg *inst)
{
	const char *s = msg_str(inst);
	char what[160], q[128];
	if (nd->min_length >= 0 || nd->max_length >= 0) {
		int64_t len = utf8_length(s);
		if (nd->min_length >= 0 && len < nd->min_length)
			return describe(what, sizeof what, inst),
			       vfail(v, "%s is shorter than the minimum length %lld", what,
				     (long long)nd->min_length);
		if (nd->max_length >= 0 && len > nd->max_length)
			return describe(what, sizeof what, inst),
			       vfail(v, "%s is longer than the maximum length %lld", what,
				     (long long)nd->max_length);
	}
	if (nd->has_pattern && !jsregex_search(&nd->pattern, s))
		return describe(what, sizeof what, inst), vfail(v, "%s does not match the pattern %s", what,
								quoted(q, sizeof q, nd->pattern_src));
	return 0;
}

static int v_unique(struct vc *v, const msg *inst)
{
	size_t i = 0;
	for (const msg *a = msg_child(inst); a; a = msg_next(a), i++) {
		size_t j = i + 1;
		for (const msg *b = msg_next(a); b; b = msg_next(b), j++) {
			if (++v->steps > JSCHEMA_MAX_STEPS)
				return give_up(
				    v, "validation gave up after %d steps (uniqueItems on a long array)",
				    JSCHEMA_MAX_STEPS);
			if (msg_equal(a, b))
				return vfail(v, "items %zu and %zu are equal, but uniqueItems is true", i, j);
		}
	}
	return 0;
}

static int v_array(struct vc *v, const struct node *nd, const msg *inst)
{
	int64_t n = (int64_t)msg_size(inst);
	if (nd->min_items >= 0 && n < nd->min_items)
		return vfail(v, "has %lld items, fewer than the minimum %lld", (long long)n,
			     (long long)nd->min_items);
	if (nd->max_items >= 0 && n > nd->max_items)
		return vfail(v, "has %lld items, more than the maximum %lld", (long long)n,
			     (long long)nd->max_items);
	if (nd->unique_items && v_unique(v, inst))
		return -1;
	size_t i = 0;
	for (const msg *e = msg_child(inst); e; e = msg_next(e), i++) {
		const struct node *sub = nd->items;
		if (nd->items_is_list) {
			sub = i < nd->item_list.n ? nd->item_list.v[i] : nd->additional_items;
			if (sub && sub->boolean == 0 && i >= nd->item_list.n)
				return vfail(v,
					     "has %lld items, at most %zu allowed (additionalItems is false)",
					     (long long)n, nd->item_list.n);
		}
		if (sub && v_child(v, sub, e, NULL, i))
			return -1;
	}
	if (nd->contains) {
		for (const msg *e = msg_child(inst); e; e = msg_next(e)) {
			if (probe(v, nd->contains, e, NULL, 0) == 0)
				return 0;
			if (v->gave_up)
				return -1;
		}
		return vfail(v, "no item matches the schema under contains");
	}
	return 0;
}

static const struct node *prop_schema(const struct node *nd, const char *key)
{
	for (size_t i = 0; i < nd->nprops; i++)
		if (strcmp(nd->props[i].name, key) == 0)
			return nd->props[i].schema;
	return NULL;
}

static int v_member(struct vc *v, const struct node *nd, const msg *e)
{
	const char *key = msg_key(e);
	const struct node *p = prop_schema(nd, key);
	int matched = p != NULL;
	if (p && v_child(v, p, e, key, 0))
		return -1;
	for (size_t i = 0; i < nd->npats; i++) {
		if (!jsregex_search(&nd->pats[i].re, key))
			continue;
		matched = 1;
		if (v_child(v, nd->pats[i].schema, e, key, 0))
			return -1;
	}
	if (matched || !nd->additional_props)
		return 0;
	if (nd->additional_props->boolean == 0) {
		char q[128];
		return vfail(v, "property %s is not allowed (additionalProperties is false)",
			     quoted(q, sizeof q, key));
	}
	return v_child(v, nd->additional_props, e, key, 0);
}

static int v_name(struct vc *v, const struct node *nd, const char *key)
{
	msg *name = msg_new_str(key);
	if (!name)
		return give_up(v, "out of memory");
	char why[256] = "";
	int rc = probe(v, nd, name, v->err ? why : NULL, sizeof why);
	msg_free(name);
	if (rc && !v->gave_up) {
		char q[128];
		vfail(v, "property name %s does not match propertyNames (%s)", quoted(q, sizeof q, key), why);
	}
	return rc;
}

static int v_deps(struct vc *v, const struct node *nd, const msg *inst)
{
	for (size_t i = 0; i < nd->ndeps; i++) {
		const struct dep *d = &nd->deps[i];
		if (!msg_has(inst, d->name))
			continue;
		if (d->schema && v_node(v, d->schema, inst))
			return -1;
		for (const msg *r = msg_child(d->required); r; r = msg_next(r)) {
			char q1[128], q2[128];
			if (!msg_has(inst, msg_str(r)))
				return vfail(v, "property %s is required when %s is present",
					     quoted(q1, sizeof q1, msg_str(r)),
					     quoted(q2, sizeof q2, d->name));
		}
	}
	return 0;
}

static int v_object(struct vc *v, const struct node *nd, const msg *inst)
{
	int64_t n = (int64_t)msg_size(inst);
	if (nd->min_props >= 0 && n < nd->min_props)
		return vfail(v, "has %lld properties, fewer than the minimum %lld", (long long)n,
			     (long long)nd->min_props);
	if (nd->max_props >= 0 && n > nd->max_props)
		return vfail(v, "has %lld properties, more than the maximum %lld", (long long)n,
			     (long long)nd->max_props);
	for (const msg *r = msg_child(nd->required); r; r = msg_next(r)) {
		char q[128];
		if (!msg_has(inst, msg_str(r)))
			return vfail(v, "missing required property %s", quoted(q, sizeof q, msg_str(r)));
	}
	if (nd->nprops || nd->npats || nd->additional_props)
		for (const msg *e = msg_child(inst); e; e = msg_next(e))
			if (v_member(v, nd, e))
				return -1;
	if (nd->property_names)
		for (const msg *e = msg_child(inst); e; e = msg_next(e))
			if (v_name(v, nd->property_names, msg_key(e)))
				return -1;
	return v_deps(v, nd, inst);
}

static int v_any_of(struct vc *v, const struct node *nd, const msg *inst)
{
	char first[256] = "";
	for (size_t i = 0; i < nd->any_of.n; i++) {
		if (probe(v, nd->any_of.v[i], inst, i == 0 && v->err ? first : NULL, sizeof first) == 0)
			return 0;
		if (v->gave_up)
			return -1;
	}
	return vfail(v, "matches none of the %zu schemas of anyOf (the first says: %s)", nd->any_of.n, first);
}

static int v_one_of(struct vc *v, const struct node *nd, const msg *inst)
{
	char first[256] = "";
	size_t valid = 0, which[2] = {0, 0};
	for (size_t i = 0; i < nd->one_of.n; i++) {
		if (probe(v, nd->one_of.v[i], inst, i == 0 && v->err ? first : NULL, sizeof first) == 0) {
			if (valid < 2)
				which[valid] = i;
			valid++;
		} else if (v->gave_up) {
			return -1;
		}
	}
	if (valid == 0)
		return vfail(v, "matches none of the %zu schemas of oneOf (the first says: %s)", nd->one_of.n,
			     first);
	if (valid > 1)
		return vfail(v, "matches %zu of the schemas of oneOf (#%zu and #%zu), exactly one is allowed",
			     valid, which[0], which[1]);
	return 0;
}

static int v_logic(struct vc *v, const struct node *nd, const msg *inst)
{
	for (size_t i = 0; i < nd->all_of.n; i++)
		if (v_node(v, nd->all_of.v[i], inst))
			return -1;
	if (nd->any_of.n && v_any_of(v, nd, inst))
		return -1;
	if (nd->one_of.n && v_one_of(v, nd, inst))
		return -1;
	if (nd->not_schema) {
		if (probe(v, nd->not_schema, inst, NULL, 0) == 0)
			return vfail(v, "matches the schema under not, which it must not");
		if (v->gave_up)
			return -1;
	}
	if (nd->if_schema && (nd->then_schema || nd->else_schema)) {
		int holds = probe(v, nd->if_schema, inst, NULL, 0) == 0;
		if (v->gave_up)
			return -1;
		const struct node *next = holds ? nd->then_schema : nd->else_schema;
		if (next && v_node(v, next, inst))
			return -1;
	}
	return 0;
}

static int v_node(struct vc *v, const struct node *nd, const msg *inst)
{
	if (v->gave_up)
		return -1;
	if (++v->steps > JSCHEMA_MAX_STEPS)
		return give_up(v,
			       "validation gave up after %d steps (the schema is too costly for this input)",
			       JSCHEMA_MAX_STEPS);
	if (v->depth >= JSCHEMA_MAX_DEPTH)
		return give_up(v,
			       "validation gave up: sub-schemas nested deeper than %d levels (a $ref cycle?)",
			       JSCHEMA_MAX_DEPTH);
	if (nd->boolean >= 0)
		return nd->boolean ? 0 : vfail(v, "no value is allowed here (the schema is false)");
	v->depth++;
	int rc;
	if (nd->ref_target) {
		rc = v_node(v, nd->ref_target, inst);
	} else {
		unsigned t = type_of(inst);
		rc = v_type(v, nd, inst) || v_values(v, nd, inst) ||
			     ((t & T_NUMBER) && v_number(v, nd, inst)) ||
			     ((t & T_STRING) && v_string(v, nd, inst)) ||
			     ((t & T_ARRAY) && v_array(v, nd, inst)) ||
			     ((t & T_OBJECT) && v_object(v, nd, inst)) || v_logic(v, nd, inst)
			 ? -1
			 : 0;
	}
	v->depth--;
	return rc;
}

int jschema_validate(const struct jschema *s, const msg *instance, char *err, size_t n)
{
	struct vc v = {.err = err, .n = n, .top_err = err, .top_n = n};
	if (err && n)
		err[0] = '\0';
	if (!s)
		return (err && n) ? (snprintf(err, n, "no schema"), -1) : -1;
	if (!instance)
		return vfail(&v, "no value");
	buf_init(&v.path);
	int rc = v_node(&v, s->nodes[0], instance);
	buf_release(&v.path);
	return rc;
}

void jschema_free(struct jschema *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->nnodes; i++) {
		struct node *nd = s->nodes[i];
		for (size_t j = 0; j < nd->npats; j++)
			jsregex_free(&nd->pats[j].re);
		if (nd->has_pattern)
			jsregex_free(&nd->pattern);
		free(nd->pats);
		free(nd->props);
		free(nd->deps);
		free(nd->item_list.v);
		free(nd->all_of.v);
		free(nd->any_of.v);
		free(nd->one_of.v);
		free(nd->path);
		free(nd);
	}
	free(s->nodes);
	msg_free(s->doc);
	free(s);
}
