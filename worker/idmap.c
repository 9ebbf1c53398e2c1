/* SPDX-License-Identifier: MIT */
/* idmap: id -> pointer hash map with linear probing -- see idmap.h. */
#include "idmap.h"

#include <stdlib.h>

/* splitmix64's finaliser: consecutive ids (the common case) spread out */
static size_t hash_id(int64_t key)
{
	uint64_t x = (uint64_t)key;
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return (size_t)x;
}

void idmap_init(struct idmap *m)
{
	m->slots = NULL;
	m->cap = 0;
	m->n = 0;
}

void idmap_release(struct idmap *m)
{
	free(m->slots);
	idmap_init(m);
}

static int grow(struct idmap *m)
{
	size_t ncap = m->cap ? m->cap * 2 : 64;
	struct idmap_slot *ns = calloc(ncap, sizeof(*ns));
	if (!ns)
		return -1;
	for (size_t i = 0; i < m->cap; i++) {
		if (!m->slots[i].val)
			continue;
		size_t j = hash_id(m->slots[i].key) & (ncap - 1);
		while (ns[j].val)
			j = (j + 1) & (ncap - 1);
		ns[j] = m->slots[i];
	}
	free(m->slots);
	m->slots = ns;
	m->cap = ncap;
	return 0;
}

int idmap_put(struct idmap *m, int64_t key, void *val)
{
	if (!val)
		return -1;
	/* keep the load factor under 1/2 so probes stay short */
	if ((m->n + 1) * 2 > m->cap && grow(m) < 0)
		return -1;
	size_t mask = m->cap - 1, i = hash_id(key) & mask;
	while (m->slots[i].val) {
		if (m->slots[i].key == key) {
			m->slots[i].val = val;
			return 0;
		}
		i = (i + 1) & mask;
	}
	m->slots[i].key = key;
	m->slots[i].val = val;
	m->n++;
	return 0;
}

void *idmap_get(const struct idmap *m, int64_t key)
{
	if (!m->cap)
		return NULL;
	size_t mask = m->cap - 1, i = hash_id(key) & mask;
	while (m->slots[i].val) {
		if (m->slots[i].key == key)
			return m->slots[i].val;
		i = (i + 1) & mask;
	}
	return NULL;
}

void *idmap_del(struct idmap *m, int64_t key)
{
	if (!m->cap)
		return NULL;
	size_t mask = m->cap - 1, i = hash_id(key) & mask;
	while (m->slots[i].val && m->slots[i].key != key)
		i = (i + 1) & mask;
	void *val = m->slots[i].val;
	if (!val)
		return NULL;
	/* backward-shift: move later members of the probe run into the hole */
	size_t hole = i, j = i;
	for (;;) {
		j = (j + 1) & mask;
		if (!m->slots[j].val)
			break;
		size_t home = hash_id(m->slots[j].key) & mask;
		/* can slot j move to hole? only if home is not in (hole, j] */
		int in_range = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
		if (in_range)
			continue;
		m->slots[hole] = m->slots[j];
		hole = j;
	}
	m->slots[hole].val = NULL;
	m->n--;
	return val;
}

void *idmap_next(const struct idmap *m, size_t *pos, int64_t *key)
{
	while (*pos < m->cap) {
		struct idmap_slot *s = &m->slots[(*pos)++];
		if (s->val) {
			if (key)
				*key = s->key;
			return s->val;
		}
	}
	return NULL;
}
