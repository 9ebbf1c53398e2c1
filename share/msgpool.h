/* SPDX-License-Identifier: MIT */
/*
 * msgpool: the allocator behind the JSON layer in the master and the
 * workers. cJSON allocates one block per value, key and string, and a hot
 * frame (a worker's `assign`, the master's `result` and `submit`) is parsed
 * into thousands of them and freed a moment later: glibc's per-thread cache
 * holds only 7 blocks per size, so most of those calls took malloc's slow
 * path (issue 12 measured malloc/free at half of the worker's JSON time).
 * Here each thread keeps its own free lists of small blocks (16-byte
 * classes up to 256 bytes), so a block freed is the next one handed out,
 * with no lock and no search. A block freed on another thread than the one
 * that made it joins that thread's lists (blocks of a class are alike).
 * What one thread keeps is bounded (msgpool_set_keep); above it, freed
 * blocks go back to malloc. A thread's lists are returned to malloc when it
 * exits. Each block has a 16-byte header naming its class, so blocks from
 * here must be freed here, and only here.
 *
 * Under AddressSanitizer a kept block is poisoned (all but its link to the
 * next) until it is handed out again, so a use after free of a JSON value
 * is still reported.
 */
#ifndef MTS_MSGPOOL_H
#define MTS_MSGPOOL_H

#include <stddef.h>

/* Bytes of free blocks one thread keeps at most (per thread, all classes). */
#define MSGPOOL_KEEP_DEFAULT ((size_t)8 << 20)

/* A block of n bytes (any n; 0 gives a valid block), aligned to 16, or NULL. */
void *msgpool_alloc(size_t n);
/* Give back a block from msgpool_alloc (NULL is a no-op). */
void msgpool_free(void *p);
/* Set the bound of what each thread keeps from now on (0: keep nothing,
 * every block goes straight back to malloc). Blocks kept already stay. */
void msgpool_set_keep(size_t bytes);
/* Bytes the calling thread keeps now (for tests and figures). */
size_t msgpool_kept(void);
/* Return the calling thread's kept blocks to malloc. */
void msgpool_trim(void);

#endif
