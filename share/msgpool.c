/* SPDX-License-Identifier: MIT */
/*
 * msgpool: per-thread free lists of small blocks for cJSON (see msgpool.h
 * for why). A block is a 16-byte header (its class) followed by the bytes
 * handed out; a kept block's first 8 bytes link it into its thread's list
 * of that class. Thread-local state needs no lock; the pthread key exists
 * only so that a thread's lists are returned to malloc when it exits.
 */
#include "msgpool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define POISON(p, n) ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#endif

#define HDR_BYTES 16
#define CLASS_BYTES 16
#define CLASSES 16 /* 16, 32, ... 256 bytes */
#define CLASS_BIG CLASSES

struct hdr {
	uint32_t cls;
	uint32_t pad[3]; /* keeps the block 16-byte aligned */
};

struct freeblk {
	struct freeblk *next;
};

struct tls {
	struct freeblk *head[CLASSES];
	size_t kept_b;
	int keyed; /* registered for the exit destructor */
};

static _Thread_local struct tls T;
static atomic_size_t keep_b = MSGPOOL_KEEP_DEFAULT;
static pthread_key_t exit_key;
static pthread_once_t exit_once = PTHREAD_ONCE_INIT;
static int exit_key_ok;

static size_t class_bytes(uint32_t cls) { return (size_t)(cls + 1) * CLASS_BYTES; }

static void tls_trim(struct tls *t)
{
	for (uint32_t c = 0; c < CLASSES; c++) {
		while (t->head[c]) {
			struct freeblk *f = t->head[c];
			UNPOISON(f, class_bytes(c));
			t->head[c] = f->next;
			free((char *)f - HDR_BYTES);
		}
	}
	t->kept_b = 0;
}

static void on_thread_exit(void *arg) { tls_trim(arg); }

static void make_key(void) { exit_key_ok = pthread_key_create(&exit_key, on_thread_exit) == 0; }

void *msgpool_alloc(size_t n)
{
	uint32_t cls = n <= (size_t)CLASSES * CLASS_BYTES ? (uint32_t)(n ? (n - 1) / CLASS_BYTES : 0) : CLASS_BIG;
	if (cls != CLASS_BIG && T.head[cls]) {
		struct freeblk *f = T.head[cls];
		UNPOISON(f, class_bytes(cls));
		T.head[cls] = f->next;
		T.kept_b -= class_bytes(cls);
		return f;
	}
	size_t body = cls == CLASS_BIG ? n : class_bytes(cls);
	if (body > SIZE_MAX - HDR_BYTES)
		return NULL;
	struct hdr *h = malloc(HDR_BYTES + body);
	if (!h)
		return NULL;
	h->cls = cls;
	return (char *)h + HDR_BYTES;
}

void msgpool_free(void *p)
{
	if (!p)
		return;
	struct hdr *h = (struct hdr *)((char *)p - HDR_BYTES);
	uint32_t cls = h->cls;
	if (cls >= CLASSES || T.kept_b + class_bytes(cls) > atomic_load_explicit(&keep_b, memory_order_relaxed)) {
		free(h);
		return;
	}
	if (!T.keyed) {
		pthread_once(&exit_once, make_key);
		/* without the key a thread's lists would outlive it: keep nothing */
		if (!exit_key_ok || pthread_setspecific(exit_key, &T) != 0) {
			free(h);
			return;
		}
		T.keyed = 1;
	}
	struct freeblk *f = p;
	f->next = T.head[cls];
	T.head[cls] = f;
	T.kept_b += class_bytes(cls);
	/* the link stays readable: LeakSanitizer finds kept blocks through it */
	POISON((char *)f + sizeof *f, class_bytes(cls) - sizeof *f);
}

void msgpool_set_keep(size_t bytes) { atomic_store(&keep_b, bytes); }

size_t msgpool_kept(void) { return T.kept_b; }

void msgpool_trim(void) { tls_trim(&T); }
