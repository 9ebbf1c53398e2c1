/* SPDX-License-Identifier: MIT */
/*
 * auth: the cluster key and the challenge-response that proves knowledge of
 * it without sending it. The key is 32 random bytes stored as 64 hex digits
 * in the run directory's `key` file, mode 0600.
 *
 * Handshake (see docs/protocol.md): the server sends a random nonce and the
 * record protection it will use after the handshake (rec: "aes-256-gcm", or
 * "none" only on loopback for benchmarks); the peer answers with its role, a
 * nonce of its own, and
 *     mac = HMAC-SHA256(key, "mtslurm-2" 0 "peer" 0 role 0 server_nonce 0 peer_nonce 0 rec)
 * and the server proves itself in turn with
 *     mac = HMAC-SHA256(key, "mtslurm-2" 0 "server" 0 role 0 peer_nonce 0 server_nonce 0 rec)
 * so a peer never talks to a master that does not hold the key either, and a
 * man in the middle cannot change rec (a downgrade) without both MACs
 * failing.
 */
#ifndef MTS_AUTH_H
#define MTS_AUTH_H

#include <stddef.h>

#define AUTH_KEY_BYTES 32
#define AUTH_HEX_BYTES 65 /* 64 hex digits + NUL, for nonces and MACs */

/* Load the key at path. If it is missing and create is non-zero, create it
 * first (mode 0600, from OpenSSL's RAND_bytes; written to a temporary file
 * and linked into place, so that processes creating it at once all read
 * one whole key). Refuses a key file that group
 * or others can read or write, as ssh does, and one that is a symbolic link,
 * not a regular file, or owned by another user. Returns 0, or -1 with a one-line
 * reason in err that says what to do. */
int auth_key_load(unsigned char key[AUTH_KEY_BYTES], const char *path, int create, char *err,
		  size_t errlen);

/* The HTTP API token (RUN_DIR/token): 64 hex digits of randomness in a
 * file kept like the key (same checks, created the same way when create
 * is non-zero). hex receives the 64 digits. 0, or -1 with err. */
int auth_token_load(char hex[AUTH_HEX_BYTES], const char *path, int create, char *err, size_t errlen);

/* A random (version 4) UUID, "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx". 0 or -1. */
int auth_uuid(char out[37]);

/* Fill hex with 64 hex digits of fresh randomness. Returns 0 or -1. */
int auth_nonce(char hex[AUTH_HEX_BYTES]);

/* The protocol label hashed first into every MAC; a peer of another
 * protocol version cannot produce a matching MAC. */
#define AUTH_PROTOCOL "mtslurm-2"
#define AUTH_PROTOCOL_VERSION 2

/* Compute the MAC for side ("peer" or "server") as described above. */
void auth_mac(char hex[AUTH_HEX_BYTES], const unsigned char key[AUTH_KEY_BYTES], const char *side,
	      const char *role, const char *first_nonce, const char *second_nonce, const char *rec);

/* Constant-time comparison of two hex MACs; 1 if equal. */
int auth_mac_equal(const char *a, const char *b);

#endif
