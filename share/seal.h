/* SPDX-License-Identifier: MIT */
/*
 * seal: the record layer that protects a connection after its handshake
 * (docs/protocol.md, section 2.1). Each direction of a connection has its own
 * struct seal: a key and a static IV derived with HKDF-SHA256 from the
 * cluster key, salted with both handshake nonces and labelled with the
 * direction, and a 64-bit record counter. The writer cuts whatever bytes it
 * has pending into records:
 *
 *     length L (4 bytes, big-endian) | ciphertext (L - 16 bytes) | tag (16 bytes)
 *
 * sealed with AES-256-GCM through OpenSSL's EVP interface (never a cipher of
 * our own), with the 4 length bytes as additional authenticated data and the
 * nonce iv XOR counter (TLS 1.3's construction). The reader opens records in
 * order with its own counter, so a record that was altered, replayed,
 * reordered, cut short, or sealed with the other direction's key fails
 * authentication. The counter never repeats: at 2^64 - 1 records a direction
 * refuses to seal or open another (SEAL_EEXHAUSTED) and the connection must
 * be closed.
 *
 * Records are a byte stream's framing, independent of the frames inside:
 * one record carries many frames, and a large frame spans several records.
 * A struct seal is not thread-safe; it belongs to one connection.
 */
#ifndef MTS_SEAL_H
#define MTS_SEAL_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define SEAL_SECRET_BYTES 32
#define SEAL_HDR_BYTES 4
#define SEAL_TAG_BYTES 16
#define SEAL_IV_BYTES 12
/* Plaintext bytes per record at most: large enough that the per-record
 * cost (one IV setup and one tag) is tiny next to the bytes, small enough
 * that a reader holds little before it can check a record. */
#define SEAL_PLAIN_MAX (64u << 10)
/* The largest L a reader accepts. */
#define SEAL_BODY_MAX (SEAL_PLAIN_MAX + SEAL_TAG_BYTES)

/* Results. */
#define SEAL_OK 0
#define SEAL_EAUTH -1      /* tag mismatch: wrong key, altered, replayed or reordered */
#define SEAL_ELENGTH -2    /* L outside 17 .. SEAL_BODY_MAX */
#define SEAL_EEXHAUSTED -3 /* the record counter would repeat */
#define SEAL_ENOMEM -4
#define SEAL_ECRYPTO -5    /* OpenSSL refused (no AES-256-GCM, no HKDF...) */

struct seal {
	void *ctx; /* EVP_CIPHER_CTX, keyed once at init */
	unsigned char iv[SEAL_IV_BYTES];
	uint64_t seq; /* records sealed (writer) or opened (reader) so far */
	int sealing;  /* 1: this side writes with it; 0: reads */
};

/* Derive one direction's key and IV: HKDF-SHA256 with secret as input key,
 * salt as salt and label as info, 44 bytes = AES-256 key then IV. sealing is
 * 1 for the writer's end, 0 for the reader's; both ends of a direction must
 * use the same secret, salt and label. Returns SEAL_OK or SEAL_ECRYPTO /
 * SEAL_ENOMEM; on failure s needs no release. */
int seal_init(struct seal *s, int sealing, const unsigned char secret[SEAL_SECRET_BYTES],
	      const void *salt, size_t salt_len, const char *label);

/* Wipe the key material and free the cipher context. Safe on a zeroed
 * struct and twice. */
void seal_release(struct seal *s);

/* Append to out the records carrying the n bytes at plain (n may be 0:
 * nothing is appended), each at most SEAL_PLAIN_MAX bytes of it. Returns
 * SEAL_OK, or an error with out unchanged. */
int seal_append(struct seal *s, struct buf *out, const void *plain, size_t n);

/* Bytes on the wire for n bytes of plaintext. */
size_t seal_wire_bytes(size_t n);

/* Check a record's announced body length L (the 4 bytes after it are what a
 * frame reader returns as payload): SEAL_OK if a reader may buffer it,
 * SEAL_ELENGTH if not. *plain_len gets L - 16. */
int seal_check_length(uint32_t body_len, size_t *plain_len);

/* Open the next record: hdr is its 4 length bytes, body its L bytes
 * (ciphertext then tag). Writes L - 16 bytes to plain (which must not
 * overlap body) and advances the counter. Returns SEAL_OK, or SEAL_EAUTH
 * (nothing usable was written), SEAL_ELENGTH, SEAL_EEXHAUSTED. After an
 * error the stream is unusable: close the connection. */
int seal_open(struct seal *s, const unsigned char hdr[SEAL_HDR_BYTES], const unsigned char *body,
	      size_t body_len, unsigned char *plain);

/* Human-readable text for a SEAL_E* code; never NULL. */
const char *seal_strerror(int code);

#endif
