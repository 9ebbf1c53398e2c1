/* SPDX-License-Identifier: MIT */
/*
 * jschema: JSON Schema (draft 7) validation of job inputs. A job type may
 * carry a schema for its input; the master compiles it once when the type is
 * registered and validates every submitted payload against it, so that bad
 * input is refused with one line saying where and what, and nothing is
 * stored. Compilation is strict: a keyword this module does not implement,
 * a keyword with a value of the wrong kind, a $ref that is not local or does
 * not resolve, or a pattern it cannot translate faithfully makes the schema
 * refused, never silently ignored. docs/jsonschema.md lists the keywords,
 * the regular-expression dialect and the limits.
 *
 *	char err[256];
 *	struct jschema *s = jschema_compile(schema, err, sizeof err);
 *	if (!s)
 *		return reply_error(err);        // "schema at /properties/w: ..."
 *	if (jschema_validate(s, input, err, sizeof err) != 0)
 *		return reply_error(err);        // "at /w: 3000 is more than ..."
 *	jschema_free(s);
 *
 * Walks JSON only through share/msg.h. A compiled schema is immutable:
 * jschema_validate() may run on it from several threads at once.
 */
#ifndef MTS_JSCHEMA_H
#define MTS_JSCHEMA_H

#include <stddef.h>

#include "msg.h"

/* Validation gives up, with an error, past this many nested sub-schema
 * applications (subschemas and $refs together): a cycle such as
 * {"properties":{"a":{"$ref":"#"}}} on a deep instance, or {"$ref":"#"}
 * alone, ends in an error instead of a stack overflow. */
#define JSCHEMA_MAX_DEPTH 64
/* ... and past this many sub-schema applications in one validation, so that
 * schemas whose cost grows exponentially (allOf of two $refs to a definition
 * that does the same, 60 levels down) cannot hold the caller's loop. */
#define JSCHEMA_MAX_STEPS 1000000

struct jschema;

/* Compile schema (a JSON object or a boolean) for validation. Keeps its own
 * deep copy: schema is only read, and may be freed as soon as this returns.
 * Returns a new compiled schema, free with jschema_free(), or NULL with one
 * line in err (n bytes, NUL-terminated, truncated to fit) naming the JSON
 * pointer of the offending place in the schema and what is wrong:
 *	schema at /properties/width: unknown keyword "format" (supported: ...)
 *	schema at /properties/width: "minimum" must be a number
 *	schema at /items: $ref "other.json#/x" is not local (only refs ...)
 *	schema at /: $ref "#/definitions/nope" does not resolve
 *	schema at /: "pattern" "(?<=a)b" cannot be used: lookbehind (?<= ...
 * Names, patterns and refs appear as JSON string literals, so the line
 * stays one line whatever the schema holds.
 * Also NULL on out of memory ("out of memory"). err may be NULL (n 0). */
struct jschema *jschema_compile(const msg *schema, char *err, size_t n);

/* Validate instance (any JSON value; NULL reads as absent and is invalid)
 * against s. Returns 0 if valid; -1 if not, with the first error found as
 * one line in err (n bytes, may be NULL): the JSON pointer of the offending
 * place in the instance ("/" for the root) and what is wrong:
 *	at /width: 3000 is more than the maximum 2048
 *	at /: missing required property "path"
 *	at /tags/2: "x" is not one of the allowed values
 * Also -1 when validation gives up (JSCHEMA_MAX_DEPTH, JSCHEMA_MAX_STEPS, out
 * of memory): an instance that cannot be checked is not accepted. Never
 * modifies s or instance; thread-safe on one s. */
int jschema_validate(const struct jschema *s, const msg *instance, char *err, size_t n);

/* Free a compiled schema and its copy of the schema text. NULL is a no-op. */
void jschema_free(struct jschema *s);

#endif
