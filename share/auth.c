/* SPDX-License-Identifier: MIT */
/*
 * auth: cluster key file and HMAC-SHA256 challenge-response -- see auth.h.
 * OpenSSL's libcrypto does the cryptography; this file only decides what is
 * hashed and how the key is stored.
 */
#include "auth.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

/* The new key is written to a private temporary file and linked into place:
 * the name appears with its whole content at once. (Created in place with
 * O_EXCL, a second process starting at the same moment -- the master and a
 * node agent of one cluster, say -- found the name, opened it before the
 * first had written, and called the key corrupt.) If another process links
 * its key first, both use that one. */
static int create_key(const char *path, char *err, size_t errlen)
{
	unsigned char key[AUTH_KEY_BYTES];
	char hex[AUTH_HEX_BYTES + 1];
	char tmp[4096];
	if ((size_t)snprintf(tmp, sizeof tmp, "%s.XXXXXX", path) >= sizeof tmp) {
		snprintf(err, errlen, "key file path %s is too long", path);
		return -1;
	}
	if (RAND_bytes(key, sizeof key) != 1) {
		snprintf(err, errlen, "cannot get random bytes for a new cluster key");
		return -1;
	}
	util_hex(hex, key, sizeof key);
	OPENSSL_cleanse(key, sizeof key);
	size_t n = strlen(hex);
	hex[n++] = '\n';
	int fd = mkostemp(tmp, O_CLOEXEC); /* mode 0600 */
	if (fd < 0) {
		OPENSSL_cleanse(hex, sizeof hex);
		snprintf(err, errlen, "cannot create key file %s: %s", path, strerror(errno));
		return -1;
	}
	ssize_t w = write(fd, hex, n);
	OPENSSL_cleanse(hex, sizeof hex);
	if (w != (ssize_t)n || fsync(fd) != 0) {
		snprintf(err, errlen, "cannot write key file %s: %s", path, strerror(errno));
		close(fd);
		unlink(tmp);
		return -1;
	}
	close(fd);
	int rc = 0;
	if (link(tmp, path) != 0 && errno != EEXIST) { /* EEXIST: someone else's came first: use theirs */
		snprintf(err, errlen, "cannot create key file %s: %s", path, strerror(errno));
		rc = -1;
	}
	unlink(tmp);
	return rc;
}

int auth_key_load(unsigned char key[AUTH_KEY_BYTES], const char *path, int create, char *err,
		  size_t errlen)
{
	if (create && access(path, F_OK) != 0 && create_key(path, err, errlen))
		return -1;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		if (errno == ELOOP)
			snprintf(err, errlen, "key file %s is a symbolic link: refusing it; remove it and restart the cluster",
				 path);
		else if (errno == ENOENT)
			snprintf(err, errlen, "no cluster key at %s: is the cluster started? (mtslurm start)",
				 path);
		else
			snprintf(err, errlen, "cannot open key file %s: %s", path, strerror(errno));
		return -1;
	}
	struct stat st;
	if (fstat(fd, &st) != 0) {
		snprintf(err, errlen, "cannot stat key file %s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	/* A key someone else owns may be known to them (or replaced by them):
	 * they could then impersonate this cluster's master or its workers. */
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "key file %s is not a regular file; remove it and restart the cluster",
			 path);
		close(fd);
		return -1;
	}
	if (st.st_uid != geteuid()) {
		snprintf(err, errlen,
			 "key file %s belongs to uid %u, not to you (uid %u); use your own run directory "
			 "(--run-dir), or if the cluster is yours run: chown %u %s && chmod 600 %s",
			 path, (unsigned)st.st_uid, (unsigned)geteuid(), (unsigned)geteuid(), path, path);
		close(fd);
		return -1;
	}
	if (st.st_mode & 077) {
		snprintf(err, errlen, "key file %s is accessible by other users (mode %03o); run: chmod 600 %s",
			 path, (unsigned)(st.st_mode & 0777), path);
		close(fd);
		return -1;
	}
	char hex[AUTH_HEX_BYTES + 8];
	ssize_t r = read(fd, hex, sizeof hex - 1);
	close(fd);
	if (r < 64 || util_unhex(key, hex, AUTH_KEY_BYTES) != 0) {
		snprintf(err, errlen, "key file %s is corrupt (want 64 hex digits); remove it and restart the cluster",
			 path);
		OPENSSL_cleanse(hex, sizeof hex);
		return -1;
	}
	OPENSSL_cleanse(hex, sizeof hex);
	return 0;
}

int auth_token_load(char hex[AUTH_HEX_BYTES], const char *path, int create, char *err, size_t errlen)
{
	unsigned char t[AUTH_KEY_BYTES];
	if (auth_key_load(t, path, create, err, errlen))
		return -1;
	util_hex(hex, t, sizeof t);
	OPENSSL_cleanse(t, sizeof t);
	return 0;
}

int auth_uuid(char out[37])
{
	unsigned char b[16];
	if (RAND_bytes(b, sizeof b) != 1)
		return -1;
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40); /* version 4 */
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80); /* RFC 4122 variant */
	char hex[33];
	util_hex(hex, b, sizeof b);
	snprintf(out, 37, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12, hex + 16, hex + 20);
	return 0;
}

int auth_nonce(char hex[AUTH_HEX_BYTES])
{
	unsigned char b[32];
	if (RAND_bytes(b, sizeof b) != 1)
		return -1;
	util_hex(hex, b, sizeof b);
	return 0;
}

void auth_mac(char hex[AUTH_HEX_BYTES], const unsigned char key[AUTH_KEY_BYTES], const char *side,
	      const char *role, const char *first_nonce, const char *second_nonce, const char *rec)
{
	/* The parts are joined with NUL bytes so that no two different
	 * (side, role, nonce, nonce, rec) tuples produce the same message. */
	unsigned char msgbuf[6 * 201]; /* six parts of at most 200 bytes, 5 separators */
	size_t n = 0;
	const char *parts[] = {AUTH_PROTOCOL, side, role, first_nonce, second_nonce, rec};
	for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
		size_t l = strnlen(parts[i], 200);
		memcpy(msgbuf + n, parts[i], l);
		n += l;
		if (i + 1 < sizeof parts / sizeof parts[0])
			msgbuf[n++] = '\0';
	}
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	HMAC(EVP_sha256(), key, AUTH_KEY_BYTES, msgbuf, n, md, &mdlen);
	util_hex(hex, md, 32);
}

int auth_mac_equal(const char *a, const char *b)
{
	if (!a || !b || strlen(a) != 64 || strlen(b) != 64)
		return 0;
	return CRYPTO_memcmp(a, b, 64) == 0;
}
