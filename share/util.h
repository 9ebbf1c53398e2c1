/* SPDX-License-Identifier: MIT */
/*
 * util: the few helpers every side needs and no noun owns: clocks, bounded
 * string copies, hex.
 */
#ifndef MTS_UTIL_H
#define MTS_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* Seconds since the epoch, with sub-second precision. */
double util_wall(void);
/* Monotonic nanoseconds (for deadlines and measurements). */
uint64_t util_mono_ns(void);
/* Copy at most size-1 bytes and always NUL-terminate; returns strlen(src) so
 * that a result >= size means truncation (BSD strlcpy). */
size_t util_strlcpy(char *dst, const char *src, size_t size);
/* Lowercase hex of n bytes into out (2n+1 bytes). */
void util_hex(char *out, const unsigned char *in, size_t n);
/* Parse 2n hex digits into n bytes; 0 or -1. */
int util_unhex(unsigned char *out, const char *hex, size_t n);
/* The value of one hex digit (either case), or -1 if c is not one. */
int util_hexval(char c);
/* This machine's short host name ("n1"), never fails (falls back to
 * "localhost"). */
void util_hostname(char *out, size_t n);
/* The node name this process runs on: $SLURMD_NODENAME inside a Slurm job
 * (several Slurm nodes may share one host), else util_hostname(). */
void util_nodename(char *out, size_t n);
/* Make room for element n of the array *arrp (a pointer to the array's
 * pointer) of *cap elements of elem_size bytes each: while n >= *cap it grows
 * to twice *cap (first_cap when 0) with realloc. Returns 0, or -1 on size
 * overflow or out of memory, with *arrp and *cap unchanged (the caller's
 * elements stay valid and still its own). */
int util_grow(void *arrp, size_t *cap, size_t n, size_t elem_size, size_t first_cap);

/* Start time (clock ticks since boot, /proc/PID/stat field 22) and state
 * letter of process pid: 0, or -1 if it does not exist. A start time tells
 * a process from a later one the kernel gave the same pid. */
int util_proc_stat(long pid, unsigned long long *start, char *state);

#endif
