/* SPDX-License-Identifier: MIT */
/*
 * idmap: a hash map from 64-bit job ids to pointers, for the worker's hot
 * path (find a held job for a revoke, drop a result on result_ok) at O(1)
 * without a malloc per entry. Open addressing with linear probing and
 * backward-shift deletion, so there are no tombstones to clean up.
 *
 * Values must be non-NULL (NULL means "absent"). Not thread-safe.
 */
#ifndef MTS_IDMAP_H
#define MTS_IDMAP_H

#include <stddef.h>
#include <stdint.h>

struct idmap_slot {
	int64_t key;
	void *val; /* NULL: empty slot */
};

struct idmap {
	struct idmap_slot *slots;
	size_t cap; /* power of two, 0 until the first put */
	size_t n;
};

#define IDMAP_INIT {NULL, 0, 0}

void idmap_init(struct idmap *m);
/* Free the table (not the values). The map is empty and reusable after. */
void idmap_release(struct idmap *m);
/* Insert or replace; returns 0, or -1 on OOM (map unchanged). */
int idmap_put(struct idmap *m, int64_t key, void *val);
void *idmap_get(const struct idmap *m, int64_t key);
/* Remove key; returns its value, or NULL if absent. */
void *idmap_del(struct idmap *m, int64_t key);
static inline size_t idmap_count(const struct idmap *m)
{
	return m->n;
}
/* Iterate: start with *pos = 0; returns the next value (and its key in
 * *key) or NULL at the end. The map must not change while iterating. */
void *idmap_next(const struct idmap *m, size_t *pos, int64_t *key);

#endif
