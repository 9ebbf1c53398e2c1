/* SPDX-License-Identifier: MIT */
/* nametab: bisection over tables sorted by their first member, a name. */
#include "nametab.h"

#include <string.h>

static const char *name_at(const void *tab, size_t i, size_t stride)
{
	const char *const *p = (const char *const *)((const char *)tab + i * stride);
	return *p;
}

const void *nametab_find(const void *tab, size_t n, size_t stride, const char *name)
{
	size_t lo = 0, hi = n;
	if (!name)
		return NULL;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int d = strcmp(name, name_at(tab, mid, stride));
		if (d == 0)
			return (const char *)tab + mid * stride;
		if (d < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

size_t nametab_check(const void *tab, size_t n, size_t stride)
{
	for (size_t i = 1; i < n; i++)
		if (strcmp(name_at(tab, i - 1, stride), name_at(tab, i, stride)) >= 0)
			return i;
	return 0;
}
