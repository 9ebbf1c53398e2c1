/* SPDX-License-Identifier: MIT */
/*
 * storearr: job arrays in the master's store (state.db schema 7, table
 * `arrays`, docs/formats.md). An array is one row -- its job template, its
 * task ids, its entries, and `made`, how many of its members already have
 * their own row in `jobs` -- so that submitting a million members is one
 * small write; the master creates the members' rows a chunk per turn
 * (master/arrays.c), each chunk in the same transaction as the update of
 * `made`, so a restart resumes exactly where the last commit left off.
 * Writes go into the turn's open transaction (store_begin), like store.h's.
 * Strings passed in are bound without a copy; strings handed to callbacks
 * are borrowed for the duration of the call. 0 (or a count) on success, -1
 * with store_errmsg() on a failure.
 */
#ifndef MTS_STOREARR_H
#define MTS_STOREARR_H

#include <stdint.h>

#include "store.h"

/* The arrays table (schema 7), created with the rest of the schema and by
 * the in-place upgrade from 6 (store.c). */
#define STOREARR_SCHEMA_SQL                                                                              \
	"CREATE TABLE IF NOT EXISTS arrays(id INTEGER PRIMARY KEY, n INTEGER NOT NULL, client TEXT NOT NULL," \
	" tmpl TEXT NOT NULL, tasks TEXT, entries TEXT, made INTEGER NOT NULL, cancel_from INTEGER,"        \
	" submitted REAL);"

/* An SQL condition, true when the environment snapshot in the row `envs`
 * is named ("envk") by the template of an array whose members are not all
 * made and not cancelled: forget (store.c) keeps such a snapshot, since
 * those members are admitted with it when they get their rows. */
#define STOREARR_ENV_USED                                                                    \
	"EXISTS (SELECT 1 FROM arrays WHERE made<n AND (cancel_from IS NULL OR cancel_from>made)" \
	" AND json_extract(tmpl,'$.envk')=envs.key)"

/* One array. id is its first member's job id; its members are the jobs
 * id .. id + n - 1. tasks: the task ids (share/jobarray.h syntax), NULL for
 * 0 .. n-1; entries: a JSON array of the members' entries, NULL for a range
 * array; cancel_from: members from this index on were cancelled before
 * they had a row (-1: none). */
struct store_array {
	int64_t id, n, made, cancel_from;
	const char *client, *tmpl, *tasks, *entries;
	double submitted;
};

int store_array_add(struct store *s, const struct store_array *a);
/* Members below index made have their rows now. */
int store_array_made(struct store *s, int64_t id, int64_t made);
/* Members from index from on are cancelled. */
int store_array_cancel(struct store *s, int64_t id, int64_t from);
/* Call fn for every array (id order). Returns how many, or -1 (also when
 * fn returned non-zero). */
int64_t store_arrays(struct store *s, int (*fn)(void *arg, const struct store_array *a), void *arg);
/* The highest member id of any array (0: none): ids count on from it
 * even if its last members have no row yet. */
int64_t store_arrays_max_id(struct store *s);
/* The row of a member that ends before it ran (cancelled with its array,
 * or refused when it was materialized): inserted final, with state
 * (MJOB_CANCELLED or MJOB_FAILED) and error, and counted when count is 1
 * (a cancelled array's members were counted when it was cancelled). */
int store_array_final_row(struct store *s, int64_t id, const char *client, const char *type, const char *input,
			  int state, const char *error, int count, double now);
/* Jobs lo..hi per state (a rowid range scan) into counts[5], rows below the
 * cancel-all mark counted as cancelled. 0 or -1. */
int store_count_range(struct store *s, int64_t lo, int64_t hi, int64_t counts[5]);

#endif
