/* SPDX-License-Identifier: MIT */
/*
 * nametab: dispatch tables keyed by name. A table is an array of structs
 * whose first member is `const char *name`, sorted by name (strcmp order);
 * nametab_find() bisects it, so message types, executors and endpoints are
 * looked up in one place each instead of in chains of strcmp. Every table
 * has a unit test that runs nametab_check() on it.
 */
#ifndef MTS_NAMETAB_H
#define MTS_NAMETAB_H

#include <stddef.h>

/* The entry of tab (n entries of stride bytes) named name, or NULL (also
 * for name NULL). */
const void *nametab_find(const void *tab, size_t n, size_t stride, const char *name);
/* 0 if tab is sorted by name without duplicates, else the index of the
 * first entry out of order. */
size_t nametab_check(const void *tab, size_t n, size_t stride);

#endif
