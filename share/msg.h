/* SPDX-License-Identifier: MIT */
/*
 * msg: building and reading the JSON objects that travel in frames. This is
 * the only module that includes cJSON; everything else sees an opaque `msg`
 * (one JSON value: object, array, string, number, bool or null).
 *
 * Ownership rules, which cJSON itself makes easy to get wrong:
 *  - msg_parse() and msg_new_*() return a tree the caller owns; free the root
 *    with msg_free(). Children returned by msg_get()/msg_at()/msg_child() are
 *    borrowed from their parent and die with it.
 *  - msg_add() / msg_push() take ownership of the child they are given, also
 *    on failure (it is freed then).
 *  - Setters copy the strings they are given.
 *  - Strings returned by getters are borrowed from the tree.
 * All functions accept NULL for a msg and then behave as on an absent value,
 * so chains like msg_get_str(msg_get(m, "a"), "b") are safe.
 */
#ifndef MTS_MSG_H
#define MTS_MSG_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

typedef struct msg msg;

/* Parse len bytes of JSON (need not be NUL-terminated). Returns a new tree, or
 * NULL with a message in err ("bad JSON at byte 17 near '...'"). */
msg *msg_parse(const char *json, size_t len, char *err, size_t errlen);
void msg_free(msg *m);

msg *msg_new_object(void);
msg *msg_new_array(void);
msg *msg_new_str(const char *s);
msg *msg_new_int(int64_t v);
/* Wrap text that is already valid JSON without parsing it (cJSON "raw"); the
 * caller guarantees validity, e.g. text that came out of msg_print(). */
msg *msg_new_raw(const char *json);

/* Make cJSON allocate from msgpool (per-thread free lists, msgpool.h) for
 * the rest of the process. For programs only (the master, the workers),
 * never for the client library: cJSON's allocator is one per process, and an
 * application of its own using cJSON would then free our blocks with free().
 * Call it first thing in main(), before any msg exists: a value allocated
 * before must not be freed after. Returns 0. */
int msg_use_pool(void);

/* Serialize compactly. Returns a new string (free with free()) or NULL. */
char *msg_print(const msg *m);
/* Append one frame (4-byte length + compact JSON) to out. 0, or -1 on OOM. */
int msg_frame(const msg *m, struct buf *out);

/* Object access. A missing key, or a value of the wrong type, reads as absent. */
msg *msg_get(const msg *m, const char *key);
int msg_has(const msg *m, const char *key);
const char *msg_get_str(const msg *m, const char *key); /* NULL if absent */
/* 0 and *out set, or -1 if absent, not a number, not integral or outside
 * int64_t (1e300, 2^63, infinity; out untouched). */
int msg_get_int(const msg *m, const char *key, int64_t *out);
int msg_get_num(const msg *m, const char *key, double *out);
/* 1 true, 0 false, dflt when absent or not a bool. */
int msg_get_bool(const msg *m, const char *key, int dflt);
/* The "t" field: every protocol message's type; "" if absent. */
const char *msg_type(const msg *m);

/* Value inspection. */
int msg_is_object(const msg *m);
int msg_is_array(const msg *m);
int msg_is_str(const msg *m);
int msg_is_num(const msg *m);
const char *msg_str(const msg *m);  /* NULL unless a string */
int64_t msg_int(const msg *m);      /* 0 unless an integral number in int64_t range */
/* 0 and *out set if m is an integral number in int64_t range, else -1:
 * converting 1e300 or NaN to an integer type is undefined behaviour. */
int msg_to_int(const msg *m, int64_t *out);
double msg_num(const msg *m);
int msg_is_bool(const msg *m);
int msg_is_null(const msg *m);
/* 1 if m is JSON true, 0 otherwise (false, absent, not a bool). */
int msg_bool(const msg *m);
/* Deep equality with JSON's value semantics (what JSON Schema's enum, const
 * and uniqueItems compare by): numbers by value (1 == 1.0 == 1e0), strings
 * byte for byte, arrays element by element in order, objects as sets of
 * members whatever their order (same keys, each with an equal value; an
 * object with a duplicated key is compared by its first occurrence). Types
 * never mix: 0 != false, null != absent. Two NULLs are equal, NULL and a
 * value are not. Returns 1 or 0. Recursion is as deep as the values, which
 * msg_parse() bounds (cJSON's nesting limit, 1000). */
int msg_equal(const msg *a, const msg *b);

/* Arrays and object members: size, index, and iteration in order. For
 * objects, msg_key() gives a member's key. */
size_t msg_size(const msg *m);
msg *msg_at(const msg *m, size_t i); /* O(i): iterate with msg_child/next */
msg *msg_child(const msg *m);
msg *msg_next(const msg *m);
/* The element before m. For the first one it is the last (cJSON keeps the
 * list's end there), so walk back only from a position you counted. */
msg *msg_prev(const msg *m);
const char *msg_key(const msg *m);

/* Object setters; replace an existing key. Return 0 or -1 (OOM, not an
 * object). */
int msg_set_str(msg *m, const char *key, const char *v);
int msg_set_strn(msg *m, const char *key, const char *v, size_t n);
int msg_set_int(msg *m, const char *key, int64_t v);
int msg_set_num(msg *m, const char *key, double v);
int msg_set_bool(msg *m, const char *key, int v);
int msg_set_null(msg *m, const char *key);
/* Insert JSON text verbatim (see msg_new_raw). */
int msg_set_raw(msg *m, const char *key, const char *json);
/* Add child under key (objects) -- takes ownership of child. */
int msg_add(msg *m, const char *key, msg *child);
/* Append child to an array -- takes ownership of child. */
int msg_push(msg *a, msg *child);
/* Detach the member key from m and return it (caller owns), or NULL. */
msg *msg_take(msg *m, const char *key);
/* A deep copy, or NULL. */
msg *msg_dup(const msg *m);

/* A new object {"t": type}; NULL on OOM. */
msg *msg_new_typed(const char *type);

#endif
