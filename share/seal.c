/* SPDX-License-Identifier: MIT */
/*
 * seal: AES-256-GCM records with HKDF-SHA256 keys and per-direction record
 * counters -- see seal.h. OpenSSL's libcrypto does all the cryptography
 * (HKDF through EVP_PKEY, the AEAD through EVP_CIPHER); this file only
 * decides the record layout, the nonces and the limits.
 */
#include "seal.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <string.h>

#define KEY_BYTES 32

int seal_init(struct seal *s, int sealing, const unsigned char secret[SEAL_SECRET_BYTES],
	      const void *salt, size_t salt_len, const char *label)
{
	unsigned char okm[KEY_BYTES + SEAL_IV_BYTES];
	size_t okm_len = sizeof okm;
	int rc = SEAL_ECRYPTO;
	memset(s, 0, sizeof *s);
	EVP_PKEY_CTX *pc = EVP_PKEY_CTX_new_id(EVP_PKEY_HKDF, NULL);
	if (!pc)
		return SEAL_ENOMEM;
	if (EVP_PKEY_derive_init(pc) <= 0 || EVP_PKEY_CTX_set_hkdf_md(pc, EVP_sha256()) <= 0 ||
	    EVP_PKEY_CTX_set1_hkdf_salt(pc, salt, (int)salt_len) <= 0 ||
	    EVP_PKEY_CTX_set1_hkdf_key(pc, secret, SEAL_SECRET_BYTES) <= 0 ||
	    EVP_PKEY_CTX_add1_hkdf_info(pc, (const unsigned char *)label, (int)strlen(label)) <= 0 ||
	    EVP_PKEY_derive(pc, okm, &okm_len) <= 0 || okm_len != sizeof okm)
		goto out;
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	if (!ctx) {
		rc = SEAL_ENOMEM;
		goto out;
	}
	if (EVP_CipherInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL, sealing) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, SEAL_IV_BYTES, NULL) != 1 ||
	    EVP_CipherInit_ex(ctx, NULL, NULL, okm, NULL, sealing) != 1) {
		EVP_CIPHER_CTX_free(ctx);
		goto out;
	}
	s->ctx = ctx;
	memcpy(s->iv, okm + KEY_BYTES, SEAL_IV_BYTES);
	s->sealing = sealing;
	rc = SEAL_OK;
out:
	OPENSSL_cleanse(okm, sizeof okm);
	EVP_PKEY_CTX_free(pc);
	return rc;
}

void seal_release(struct seal *s)
{
	if (s->ctx)
		EVP_CIPHER_CTX_free(s->ctx); /* cleanses the expanded key */
	OPENSSL_cleanse(s, sizeof *s);
}

/* The nonce of record number seq: the static IV with seq (big-endian) XORed
 * into its last 8 bytes. Distinct for every seq under one key. */
static void make_nonce(unsigned char nonce[SEAL_IV_BYTES], const struct seal *s, uint64_t seq)
{
	memcpy(nonce, s->iv, SEAL_IV_BYTES);
	for (int i = 0; i < 8; i++)
		nonce[SEAL_IV_BYTES - 1 - i] ^= (unsigned char)(seq >> (8 * i));
}

static void put_be32(unsigned char h[SEAL_HDR_BYTES], uint32_t v)
{
	h[0] = (unsigned char)(v >> 24);
	h[1] = (unsigned char)(v >> 16);
	h[2] = (unsigned char)(v >> 8);
	h[3] = (unsigned char)v;
}

size_t seal_wire_bytes(size_t n)
{
	size_t nrec = (n + SEAL_PLAIN_MAX - 1) / SEAL_PLAIN_MAX;
	return n + nrec * (SEAL_HDR_BYTES + SEAL_TAG_BYTES);
}

/* Seal one record of n (1..SEAL_PLAIN_MAX) bytes into dst (room for
 * n + 20 bytes) under record number s->seq. */
static int seal_one(struct seal *s, unsigned char *dst, const unsigned char *plain, size_t n)
{
	unsigned char nonce[SEAL_IV_BYTES];
	int len = 0, fin = 0;
	make_nonce(nonce, s, s->seq);
	put_be32(dst, (uint32_t)(n + SEAL_TAG_BYTES));
	unsigned char *ct = dst + SEAL_HDR_BYTES;
	if (EVP_CipherInit_ex(s->ctx, NULL, NULL, NULL, nonce, 1) != 1 ||
	    EVP_CipherUpdate(s->ctx, NULL, &len, dst, SEAL_HDR_BYTES) != 1 ||
	    EVP_CipherUpdate(s->ctx, ct, &len, plain, (int)n) != 1 ||
	    EVP_CipherFinal_ex(s->ctx, ct + len, &fin) != 1 || (size_t)(len + fin) != n ||
	    EVP_CIPHER_CTX_ctrl(s->ctx, EVP_CTRL_GCM_GET_TAG, SEAL_TAG_BYTES, ct + n) != 1)
		return SEAL_ECRYPTO;
	s->seq++;
	return SEAL_OK;
}

int seal_append(struct seal *s, struct buf *out, const void *plain, size_t n)
{
	if (!s->ctx || !s->sealing)
		return SEAL_ECRYPTO;
	if (n == 0)
		return SEAL_OK;
	size_t nrec = (n + SEAL_PLAIN_MAX - 1) / SEAL_PLAIN_MAX;
	/* Refuse before sealing anything if a record would need the number
	 * UINT64_MAX: it is never used, so the counter cannot wrap to 0. */
	if (s->seq > UINT64_MAX - nrec)
		return SEAL_EEXHAUSTED;
	size_t wire = seal_wire_bytes(n);
	if (wire < n || buf_grow(out, wire))
		return SEAL_ENOMEM;
	const unsigned char *p = plain;
	unsigned char *dst = (unsigned char *)out->p + out->len;
	uint64_t seq0 = s->seq;
	for (size_t done = 0; done < n;) {
		size_t k = n - done < SEAL_PLAIN_MAX ? n - done : SEAL_PLAIN_MAX;
		if (seal_one(s, dst, p + done, k) != SEAL_OK) {
			s->seq = seq0; /* nothing was appended: the same numbers may be used again */
			out->p[out->len] = '\0';
			return SEAL_ECRYPTO;
		}
		dst += SEAL_HDR_BYTES + k + SEAL_TAG_BYTES;
		done += k;
	}
	out->len += wire;
	out->p[out->len] = '\0';
	return SEAL_OK;
}

int seal_check_length(uint32_t body_len, size_t *plain_len)
{
	if (body_len <= SEAL_TAG_BYTES || body_len > SEAL_BODY_MAX)
		return SEAL_ELENGTH;
	*plain_len = body_len - SEAL_TAG_BYTES;
	return SEAL_OK;
}

int seal_open(struct seal *s, const unsigned char hdr[SEAL_HDR_BYTES], const unsigned char *body,
	      size_t body_len, unsigned char *plain)
{
	size_t n;
	if (!s->ctx || s->sealing)
		return SEAL_ECRYPTO;
	uint32_t announced = (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 | (uint32_t)hdr[2] << 8 | hdr[3];
	if (announced != body_len || seal_check_length(announced, &n) != SEAL_OK)
		return SEAL_ELENGTH;
	if (s->seq == UINT64_MAX)
		return SEAL_EEXHAUSTED;
	unsigned char nonce[SEAL_IV_BYTES], tag[SEAL_TAG_BYTES];
	int len = 0, fin = 0;
	make_nonce(nonce, s, s->seq);
	memcpy(tag, body + n, SEAL_TAG_BYTES); /* the ctrl takes a non-const pointer */
	if (EVP_CipherInit_ex(s->ctx, NULL, NULL, NULL, nonce, 0) != 1 ||
	    EVP_CipherUpdate(s->ctx, NULL, &len, hdr, SEAL_HDR_BYTES) != 1 ||
	    EVP_CipherUpdate(s->ctx, plain, &len, body, (int)n) != 1 ||
	    EVP_CIPHER_CTX_ctrl(s->ctx, EVP_CTRL_GCM_SET_TAG, SEAL_TAG_BYTES, tag) != 1)
		return SEAL_ECRYPTO;
	if (EVP_CipherFinal_ex(s->ctx, plain + len, &fin) != 1) {
		OPENSSL_cleanse(plain, n); /* unauthenticated bytes are never handed on */
		return SEAL_EAUTH;
	}
	s->seq++;
	return SEAL_OK;
}

const char *seal_strerror(int code)
{
	switch (code) {
	case SEAL_OK:
		return "ok";
	case SEAL_EAUTH:
		return "tag mismatch (wrong key, or the record was altered, replayed, reordered or cut)";
	case SEAL_ELENGTH:
		return "record length out of range";
	case SEAL_EEXHAUSTED:
		return "record counter exhausted (2^64 - 1 records); reconnect";
	case SEAL_ENOMEM:
		return "out of memory";
	case SEAL_ECRYPTO:
		return "OpenSSL refused the operation (AES-256-GCM or HKDF unavailable?)";
	}
	return "unknown seal error";
}
