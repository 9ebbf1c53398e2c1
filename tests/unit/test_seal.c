/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for share/seal, the record layer: records round-trip and hide
 * their plaintext; large inputs split at SEAL_PLAIN_MAX; a flipped bit, a
 * replayed or reordered record, a record of the other direction or another
 * session, and a bad length are refused; the counter never repeats.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "seal.h"

static unsigned char secret[SEAL_SECRET_BYTES];
static const char salt[] = "server-nonce-hex....peer-nonce-hex....";
#define S2P "mtslurm-2 server to peer"
#define P2S "mtslurm-2 peer to server"

static int setup(void **state)
{
	(void)state;
	for (int i = 0; i < SEAL_SECRET_BYTES; i++)
		secret[i] = (unsigned char)(i * 11 + 3);
	return 0;
}

static void pair(struct seal *w, struct seal *r, const char *wlabel, const char *rlabel)
{
	assert_int_equal(seal_init(w, 1, secret, salt, sizeof salt, wlabel), SEAL_OK);
	assert_int_equal(seal_init(r, 0, secret, salt, sizeof salt, rlabel), SEAL_OK);
}

/* Open the record at *off of b into out; returns the seal_open result. */
static int open_at(struct seal *r, const struct buf *b, size_t *off, unsigned char *out, size_t *n)
{
	const unsigned char *h = (const unsigned char *)b->p + *off;
	uint32_t L = (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 | (uint32_t)h[2] << 8 | h[3];
	assert_true(*off + SEAL_HDR_BYTES + L <= b->len);
	*n = L - SEAL_TAG_BYTES;
	int rc = seal_open(r, h, h + SEAL_HDR_BYTES, L, out);
	*off += SEAL_HDR_BYTES + L;
	return rc;
}

static void test_round_trip_hides_plaintext(void **state)
{
	(void)state;
	struct seal w, r;
	pair(&w, &r, S2P, S2P);
	struct buf b = BUF_INIT;
	const char *msgs[] = {"{\"t\":\"hello\",\"secret\":\"MARKER-1234\"}", "x", "{\"t\":\"submit\"}"};
	for (int i = 0; i < 3; i++)
		assert_int_equal(seal_append(&w, &b, msgs[i], strlen(msgs[i])), SEAL_OK);
	assert_int_equal(b.len, seal_wire_bytes(strlen(msgs[0])) + seal_wire_bytes(1) + seal_wire_bytes(14));
	assert_null(memmem(b.p, b.len, "MARKER-1234", 11));
	assert_null(memmem(b.p, b.len, "hello", 5));
	size_t off = 0, n;
	unsigned char out[256];
	for (int i = 0; i < 3; i++) {
		assert_int_equal(open_at(&r, &b, &off, out, &n), SEAL_OK);
		assert_int_equal(n, strlen(msgs[i]));
		assert_memory_equal(out, msgs[i], n);
	}
	assert_int_equal(off, b.len);
	assert_int_equal(w.seq, 3);
	assert_int_equal(r.seq, 3);
	buf_release(&b);
	seal_release(&w);
	seal_release(&r);
}

/* The same plaintext twice gives different ciphertext (new nonce). */
static void test_nonce_changes(void **state)
{
	(void)state;
	struct seal w, r;
	pair(&w, &r, S2P, S2P);
	struct buf a = BUF_INIT, b = BUF_INIT;
	assert_int_equal(seal_append(&w, &a, "same bytes", 10), SEAL_OK);
	assert_int_equal(seal_append(&w, &b, "same bytes", 10), SEAL_OK);
	assert_int_equal(a.len, b.len);
	assert_memory_not_equal(a.p + SEAL_HDR_BYTES, b.p + SEAL_HDR_BYTES, a.len - SEAL_HDR_BYTES);
	buf_release(&a);
	buf_release(&b);
	seal_release(&w);
	seal_release(&r);
}

static void test_large_input_splits(void **state)
{
	(void)state;
	struct seal w, r;
	pair(&w, &r, P2S, P2S);
	size_t n = 2 * SEAL_PLAIN_MAX + 1000;
	unsigned char *p = malloc(n), *q = malloc(SEAL_PLAIN_MAX);
	for (size_t i = 0; i < n; i++)
		p[i] = (unsigned char)(i * 31 + (i >> 9));
	struct buf b = BUF_INIT;
	assert_int_equal(seal_append(&w, &b, p, n), SEAL_OK);
	assert_int_equal(b.len, n + 3 * (SEAL_HDR_BYTES + SEAL_TAG_BYTES));
	size_t off = 0, got = 0, k;
	for (int i = 0; i < 3; i++) {
		assert_int_equal(open_at(&r, &b, &off, q, &k), SEAL_OK);
		assert_true(k <= SEAL_PLAIN_MAX);
		assert_memory_equal(q, p + got, k);
		got += k;
	}
	assert_int_equal(got, n);
	free(p);
	free(q);
	buf_release(&b);
	seal_release(&w);
	seal_release(&r);
}

/* Any flipped bit of ciphertext or tag fails authentication, and the
 * reader hands out nothing of it. */
static void test_flipped_bit(void **state)
{
	(void)state;
	const char *text = "{\"t\":\"cancel\",\"all\":true}";
	size_t tl = strlen(text);
	for (size_t pos = SEAL_HDR_BYTES; pos < SEAL_HDR_BYTES + tl + SEAL_TAG_BYTES; pos += 3) {
		struct seal w, r;
		pair(&w, &r, S2P, S2P);
		struct buf b = BUF_INIT;
		assert_int_equal(seal_append(&w, &b, text, tl), SEAL_OK);
		b.p[pos] ^= 0x10;
		size_t off = 0, n;
		unsigned char out[128];
		assert_int_equal(open_at(&r, &b, &off, out, &n), SEAL_EAUTH);
		assert_null(memmem(out, n, "cancel", 6));
		buf_release(&b);
		seal_release(&w);
		seal_release(&r);
	}
}

static void test_replay_and_reorder(void **state)
{
	(void)state;
	struct seal w, r;
	pair(&w, &r, S2P, S2P);
	struct buf b = BUF_INIT;
	assert_int_equal(seal_append(&w, &b, "first", 5), SEAL_OK);
	size_t one = b.len;
	assert_int_equal(seal_append(&w, &b, "second", 6), SEAL_OK);
	unsigned char out[64];
	size_t off = one, n;
	/* the second record first: reordered */
	assert_int_equal(open_at(&r, &b, &off, out, &n), SEAL_EAUTH);
	seal_release(&r);
	assert_int_equal(seal_init(&r, 0, secret, salt, sizeof salt, S2P), SEAL_OK);
	off = 0;
	assert_int_equal(open_at(&r, &b, &off, out, &n), SEAL_OK);
	off = 0; /* the first record again: replayed */
	assert_int_equal(open_at(&r, &b, &off, out, &n), SEAL_EAUTH);
	buf_release(&b);
	seal_release(&w);
	seal_release(&r);
}

/* A record sealed for one direction does not open in the other, nor in a
 * session with other nonces. */
static void test_other_direction_and_session(void **state)
{
	(void)state;
	struct seal w, r;
	pair(&w, &r, S2P, P2S);
	struct buf b = BUF_INIT;
	assert_int_equal(seal_append(&w, &b, "reflected", 9), SEAL_OK);
	unsigned char out[64];
	size_t off = 0, n;
	assert_int_equal(open_at(&r, &b, &off, out, &n), SEAL_EAUTH);
	seal_release(&r);
	static const char other_salt[] = "server-nonce-hex....peer-nonce-hex...!";
	assert_int_equal(seal_init(&r, 0, secret, other_salt, sizeof other_salt, S2P), SEAL_OK);
	off = 0;
	assert_int_equal(open_at(&r, &b, &off, out, &n), SEAL_EAUTH);
	seal_release(&r);
	buf_release(&b);
	seal_release(&w);
}

static void test_lengths(void **state)
{
	(void)state;
	size_t n;
	assert_int_equal(seal_check_length(0, &n), SEAL_ELENGTH);
	assert_int_equal(seal_check_length(SEAL_TAG_BYTES, &n), SEAL_ELENGTH);
	assert_int_equal(seal_check_length(SEAL_BODY_MAX + 1, &n), SEAL_ELENGTH);
	assert_int_equal(seal_check_length(UINT32_MAX, &n), SEAL_ELENGTH);
	assert_int_equal(seal_check_length(SEAL_TAG_BYTES + 1, &n), SEAL_OK);
	assert_int_equal(n, 1);
	assert_int_equal(seal_check_length(SEAL_BODY_MAX, &n), SEAL_OK);
	assert_int_equal(n, SEAL_PLAIN_MAX);
	/* a body that is not what its header announces (a cut record) */
	struct seal w, r;
	pair(&w, &r, S2P, S2P);
	struct buf b = BUF_INIT;
	assert_int_equal(seal_append(&w, &b, "abcdef", 6), SEAL_OK);
	unsigned char out[64];
	assert_int_equal(seal_open(&r, (unsigned char *)b.p, (unsigned char *)b.p + 4, b.len - 5, out),
			 SEAL_ELENGTH);
	buf_release(&b);
	seal_release(&w);
	seal_release(&r);
}

/* The counter stops before it could repeat a nonce, on both ends, and a
 * refused append leaves the output and the counter as they were. */
static void test_counter_exhausted(void **state)
{
	(void)state;
	struct seal w, r;
	pair(&w, &r, S2P, S2P);
	w.seq = r.seq = UINT64_MAX - 1;
	struct buf b = BUF_INIT;
	assert_int_equal(seal_append(&w, &b, "last", 4), SEAL_OK);
	size_t len = b.len;
	assert_int_equal(seal_append(&w, &b, "one more", 8), SEAL_EEXHAUSTED);
	assert_int_equal(b.len, len);
	assert_int_equal(w.seq, UINT64_MAX);
	unsigned char out[64];
	size_t off = 0, n;
	assert_int_equal(open_at(&r, &b, &off, out, &n), SEAL_OK);
	assert_memory_equal(out, "last", 4);
	r.seq = UINT64_MAX;
	off = 0;
	assert_int_equal(open_at(&r, &b, &off, out, &n), SEAL_EEXHAUSTED);
	/* an append that needs more records than remain is refused whole */
	w.seq = UINT64_MAX - 2;
	char *big = calloc(1, 2 * SEAL_PLAIN_MAX + 1);
	assert_int_equal(seal_append(&w, &b, big, 2 * SEAL_PLAIN_MAX + 1), SEAL_EEXHAUSTED);
	assert_int_equal(b.len, len);
	free(big);
	buf_release(&b);
	seal_release(&w);
	seal_release(&r);
	assert_non_null(strstr(seal_strerror(SEAL_EAUTH), "altered"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_round_trip_hides_plaintext, setup),
		cmocka_unit_test_setup(test_nonce_changes, setup),
		cmocka_unit_test_setup(test_large_input_splits, setup),
		cmocka_unit_test_setup(test_flipped_bit, setup),
		cmocka_unit_test_setup(test_replay_and_reorder, setup),
		cmocka_unit_test_setup(test_other_direction_and_session, setup),
		cmocka_unit_test_setup(test_lengths, setup),
		cmocka_unit_test_setup(test_counter_exhausted, setup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
