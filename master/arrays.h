/* SPDX-License-Identifier: MIT */
/*
 * arrays: job arrays in the master. An array is admitted as one row of the
 * store (storearr.h: its job template and member set) plus its first chunk
 * of members, in the turn's transaction, and acknowledged with the ids of
 * all its members (consecutive, reserved at once). The rest of its members
 * are materialized -- expanded from the template, stored as job rows and
 * handed to the scheduler -- a chunk per loop turn while fewer than
 * ARRAYS_AHEAD jobs are queued, each chunk durable with the array's
 * progress, so a million-member array costs one small write at submit and
 * the queue never holds more than it needs. Members not materialized yet
 * (the array's "tail") are counted as queued by `status`, listed by
 * `jobs` (and found by id) from the array's row without rows of their own,
 * waited for by `wait`, and cancelled with the array;
 * anything that names one of them by id (cancel, deps) materializes the
 * array up to it first.
 */
#ifndef MTS_ARRAYS_H
#define MTS_ARRAYS_H

#include <stddef.h>
#include <stdint.h>

#include "msg.h"

struct master;
struct client;
struct buf;

/* Members materialized per loop turn (a few ms of inserts) ... */
#define ARRAYS_CHUNK 2048
/* ... while fewer jobs than this are queued in the scheduler. */
#define ARRAYS_AHEAD 100000
/* Rows of a cancelled tail written per loop turn. */
#define ARRAYS_CANCEL_CHUNK 16384

int arrays_init(struct master *m);
void arrays_release(struct master *m);

/* Admit an array for client c: spec is the submit's "array" object
 * ({"tasks":SET} or {"entries":[...],"tasks"?:SET}), tmpl its "defaults"
 * (the job template; "{}" in its input is expanded per member); spec's
 * entries are taken. 0 with
 * *first and *n, or -JOBS_EBAD / -JOBS_EBUSY with a one-line err and
 * nothing stored. */
int arrays_admit(struct master *m, struct client *c, msg *spec, const msg *tmpl, int64_t *first, int64_t *n,
		 char *err, size_t errlen);
/* The turn's share of materialization (server.c, before dispatch). */
void arrays_turn(struct master *m);
/* At start, after the jobs were loaded: the arrays and where their
 * materialization stopped. Raises m->next_id past every member id. 0, or
 * -1 with err. */
int arrays_load(struct master *m, char *err, size_t errlen);

/* 1 if id is a member without a row yet (in an array's tail). */
int arrays_unmade(const struct master *m, int64_t id);
/* Materialize id's array up to and including id now (cancel or deps name
 * it). 0, or -1 (logged) if that failed. */
int arrays_make_upto(struct master *m, int64_t id);
/* Members counted as queued that have no row yet. */
int64_t arrays_tail_queued(const struct master *m);

/* Cancel every unfinished member of the array whose first id is id: how
 * many, or -1 if there is no such array. */
int64_t arrays_cancel(struct master *m, int64_t id);
/* Cancel every tail (cancel --all): how many members that was. */
int64_t arrays_cancel_all(struct master *m);

/* What `jobs` and `wait` need of an array: its member ids first..last. */
struct arrays_view {
	int64_t first, last;
	const void *a; /* the array (opaque) */
};
/* 0 and *v for the array whose first id is id, -1 if none. */
int arrays_view(const struct master *m, int64_t id, struct arrays_view *v);
/* The task id of member id of v's array. */
int64_t arrays_task(const struct arrays_view *v, int64_t id);
/* The client that submitted v's array. */
const char *arrays_client(const struct arrays_view *v);
/* 0 and *v for the array that has member id, -1 if none. */
int arrays_view_of(const struct master *m, int64_t id, struct arrays_view *v);

/* The array that has member id, else the nearest one after id (desc:
 * before it), into *v: 0, or -1 if there is none. A walk over ids in order
 * (a `jobs` page) looks again only once it passes v's end. O(arrays). */
int arrays_near(const struct master *m, int64_t id, int desc, struct arrays_view *v);

/* A run of members without a row, all of one state: ids lo..hi of the
 * array v. */
struct arrays_run {
	int64_t lo, hi;
	int state; /* MJOB_QUEUED or MJOB_CANCELLED (a cancelled tail) */
	struct arrays_view v;
};
/* The run of members without a row nearest after id from (desc: before
 * it), of state `state` (-1: any) and client cid (NULL: any) into *r: 0,
 * or -1 if there is none. Listings merge these with the stored rows
 * (query.c), a page at a time, so a million members without rows are
 * never built at once. O(arrays). */
int arrays_tail_run(const struct master *m, int64_t from, int desc, int state, const char *cid,
		    struct arrays_run *r);
/* The state of member id if it has no row yet (and its array in *v unless
 * v is NULL), or -1 if id is no such member. */
int arrays_tail_state(const struct master *m, int64_t id, struct arrays_view *v);
/* Append the record of member id of v's array, which has no row yet, to b:
 * a job record as `jobs` lists it (id, type, state, input expanded from
 * the template, ...) with "array" and "task". */
void arrays_tail_record(const struct arrays_view *v, int64_t id, struct buf *b);

#endif
