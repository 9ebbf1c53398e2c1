/* SPDX-License-Identifier: MIT */
/* util: clocks, bounded copies, hex -- see util.h. */
#include "util.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

double util_wall(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

uint64_t util_mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

size_t util_strlcpy(char *dst, const char *src, size_t size)
{
	size_t n = strlen(src);
	if (size) {
		size_t c = n < size - 1 ? n : size - 1;
		memcpy(dst, src, c);
		dst[c] = '\0';
	}
	return n;
}

void util_hex(char *out, const unsigned char *in, size_t n)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * n] = '\0';
}

int util_hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int util_unhex(unsigned char *out, const char *hex, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int hi = util_hexval(hex[2 * i]), lo;
		if (hi < 0)
			return -1;
		lo = util_hexval(hex[2 * i + 1]);
		if (lo < 0)
			return -1;
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	return 0;
}

void util_nodename(char *out, size_t n)
{
	const char *s = getenv("SLURMD_NODENAME");
	if (s && *s)
		util_strlcpy(out, s, n);
	else
		util_hostname(out, n);
}

void util_hostname(char *out, size_t n)
{
	char h[256];
	if (gethostname(h, sizeof h) != 0 || !h[0]) {
		util_strlcpy(out, "localhost", n);
		return;
	}
	h[sizeof h - 1] = '\0';
	char *dot = strchr(h, '.');
	if (dot)
		*dot = '\0';
	util_strlcpy(out, h, n);
}

int util_grow(void *arrp, size_t *cap, size_t n, size_t elem_size, size_t first_cap)
{
	size_t c = *cap;
	while (n >= c) {
		size_t next = c ? c * 2 : (first_cap ? first_cap : 1);
		if (next <= c)
			return -1;
		c = next;
	}
	if (c == *cap)
		return 0;
	if (elem_size && c > SIZE_MAX / elem_size)
		return -1;
	void **p = arrp;
	void *a = realloc(*p, c * elem_size);
	if (!a)
		return -1;
	*p = a;
	*cap = c;
	return 0;
}

int util_proc_stat(long pid, unsigned long long *start, char *state)
{
	char path[64], text[1024];
	snprintf(path, sizeof path, "/proc/%ld/stat", pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, text, sizeof text - 1);
	close(fd);
	if (n <= 0)
		return -1;
	text[n] = '\0';
	char *p = strrchr(text, ')'); /* the command name may hold spaces and ')' */
	if (!p || p[1] != ' ')
		return -1;
	p += 2;
	*state = *p;
	for (int field = 3; field < 22; field++) { /* skip to field 22 */
		p = strchr(p, ' ');
		if (!p)
			return -1;
		p++;
	}
	*start = strtoull(p, NULL, 10);
	return 0;
}
