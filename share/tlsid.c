/* SPDX-License-Identifier: MIT */
/*
 * tlsid: the cluster's TLS key and self-signed certificate -- see tlsid.h.
 * OpenSSL's libcrypto makes the key and the certificate (EVP and X509 APIs);
 * this file decides what goes into them and how the files are kept. The
 * certificate says CA:TRUE so that it can be given as the one trust anchor
 * (curl --cacert, CURLOPT_CAINFO) of the services that present it.
 */
#include "tlsid.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "rundir.h"
#include "util.h"

/* PEM files are a few hundred bytes; anything much larger is not ours. */
#define TLSID_FILE_MAX (64 * 1024)

/* 1 if nm goes into the subjectAltName (*ip: as an IP address). Names with
 * characters that would change its syntax are left out (they could not be
 * host names anyway), and so is 127.0.0.1, which is always there. */
static int name_usable(const char *nm, int *ip)
{
	unsigned char a[16];
	if (!nm || !*nm || strcmp(nm, "127.0.0.1") == 0 || strlen(nm) > 253)
		return 0;
	*ip = inet_pton(AF_INET, nm, a) == 1 || inet_pton(AF_INET6, nm, a) == 1;
	return *ip || !strpbrk(nm, ", \t\r\n:=");
}

/* subjectAltName text "IP:127.0.0.1,DNS:name,...", each name once. */
static int san_text(struct buf *b, const char *const *names, size_t nnames)
{
	buf_adds(b, "IP:127.0.0.1");
	for (size_t i = 0; i < nnames; i++) {
		int ip, dup = 0;
		for (size_t j = 0; j < i; j++)
			dup |= names[j] && names[i] && strcmp(names[j], names[i]) == 0;
		if (!dup && name_usable(names[i], &ip))
			buf_addf(b, ",%s:%s", ip ? "IP" : "DNS", names[i]);
	}
	return buf_add(b, "", 1);
}

/* 1 if the certificate names every usable name (a master started on another
 * node or address needs a certificate that says so). */
static int cert_has_names(const char *pem, const char *const *names, size_t nnames)
{
	BIO *b = BIO_new_mem_buf(pem, -1);
	X509 *x = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
	int all = x != NULL;
	for (size_t i = 0; all && i < nnames; i++) {
		int ip;
		if (name_usable(names[i], &ip))
			all = ip ? X509_check_ip_asc(x, names[i], 0) == 1
				 : X509_check_host(x, names[i], strlen(names[i]), X509_CHECK_FLAG_NO_WILDCARDS, NULL) == 1;
	}
	X509_free(x);
	BIO_free(b);
	return all;
}

static int add_ext(X509 *x, X509V3_CTX *ctx, int nid, const char *value)
{
	X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, ctx, nid, value);
	int ok = e && X509_add_ext(x, e, -1) == 1;
	X509_EXTENSION_free(e);
	return ok ? 0 : -1;
}

/* A self-signed certificate for key; PEM text in out. */
static int make_cert(EVP_PKEY *key, const char *const *names, size_t nnames, struct buf *out)
{
	struct buf san = BUF_INIT;
	unsigned char serial[16];
	X509 *x = X509_new();
	BIGNUM *bn = NULL;
	BIO *bio = NULL;
	int rc = -1;

	if (!x || san_text(&san, names, nnames) < 0 || RAND_bytes(serial, sizeof serial) != 1)
		goto done;
	serial[0] &= 0x7f; /* a positive serial number */
	X509_NAME *nm = X509_get_subject_name(x);
	X509V3_CTX ctx;
	if (X509_set_version(x, 2) != 1 || !(bn = BN_bin2bn(serial, sizeof serial, NULL)) ||
	    !BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) || !X509_gmtime_adj(X509_getm_notBefore(x), -3600) ||
	    !X509_time_adj_ex(X509_getm_notAfter(x), TLSID_VALID_DAYS, 0, NULL) ||
	    X509_NAME_add_entry_by_txt(nm, "CN", MBSTRING_ASC, (const unsigned char *)TLSID_CN, -1, -1, 0) != 1 ||
	    X509_set_issuer_name(x, nm) != 1 || X509_set_pubkey(x, key) != 1)
		goto done;
	X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
	if (add_ext(x, &ctx, NID_basic_constraints, "critical,CA:TRUE,pathlen:0") ||
	    add_ext(x, &ctx, NID_subject_key_identifier, "hash") || add_ext(x, &ctx, NID_subject_alt_name, san.p) ||
	    X509_sign(x, key, EVP_sha256()) <= 0 || !(bio = BIO_new(BIO_s_mem())) || PEM_write_bio_X509(bio, x) != 1)
		goto done;
	char *p;
	long n = BIO_get_mem_data(bio, &p);
	rc = n > 0 && buf_add(out, p, (size_t)n) == 0 ? 0 : -1;
done:
	BIO_free(bio);
	BN_free(bn);
	X509_free(x);
	buf_release(&san);
	return rc;
}

/* Write len bytes to a new file path (O_EXCL) with mode, durably. 0, 1 if
 * it exists already, -1 with err. */
static int write_new(const char *path, const void *p, size_t len, mode_t mode, char *err, size_t errlen)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd < 0 && errno == EEXIST)
		return 1;
	if (fd < 0) {
		snprintf(err, errlen, "cannot create %s: %s; check the run directory's permissions", path,
			 strerror(errno));
		return -1;
	}
	if (write(fd, p, len) != (ssize_t)len || fchmod(fd, mode) != 0 || fsync(fd) != 0) {
		snprintf(err, errlen, "cannot write %s: %s; check the disk", path, strerror(errno));
		close(fd);
		unlink(path);
		return -1;
	}
	close(fd);
	return 0;
}

/* Read a file kept like the cluster key: regular, ours, not a link, and not
 * writable (key: not accessible at all) by anyone else. NULL with err. */
static char *read_checked(const char *path, int secret, char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	struct stat st;
	if (fd < 0) {
		if (errno == ELOOP)
			snprintf(err, errlen, "%s is a symbolic link: refusing it; remove it and restart the master", path);
		else if (errno == ENOENT)
			snprintf(err, errlen, "no %s: the master makes it at its start (mtslurm start)", path);
		else
			snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
		return NULL;
	}
	mode_t bad = secret ? 077 : 022;
	char *p = NULL;
	if (fstat(fd, &st) != 0)
		snprintf(err, errlen, "cannot stat %s: %s", path, strerror(errno));
	else if (!S_ISREG(st.st_mode))
		snprintf(err, errlen, "%s is not a regular file; remove it and restart the master", path);
	else if (st.st_uid != geteuid())
		snprintf(err, errlen, "%s belongs to uid %u, not to you (uid %u); use your own run directory (--run-dir)",
			 path, (unsigned)st.st_uid, (unsigned)geteuid());
	else if (st.st_mode & bad)
		snprintf(err, errlen, "%s is %s by other users (mode %03o); run: chmod %s %s", path,
			 secret ? "accessible" : "writable", (unsigned)(st.st_mode & 0777), secret ? "600" : "644",
			 path);
	else if (st.st_size <= 0 || st.st_size > TLSID_FILE_MAX)
		snprintf(err, errlen, "%s is empty or too large to be a PEM file; remove it and restart the master",
			 path);
	else if (!(p = malloc((size_t)st.st_size + 1)))
		snprintf(err, errlen, "out of memory");
	else if (read(fd, p, (size_t)st.st_size) != (ssize_t)st.st_size) {
		snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
		free(p);
		p = NULL;
	} else
		p[st.st_size] = '\0';
	close(fd);
	return p;
}

/* A new key (written to kpath) and certificate (to cpath); an existing key
 * is kept (another master's start won the race: use its key). */
static int create_files(const char *kpath, const char *cpath, const char *const *names, size_t nnames, char *err,
			size_t errlen)
{
	struct buf kb = BUF_INIT, cb = BUF_INIT;
	EVP_PKEY *key = NULL;
	BIO *bio = NULL;
	int rc = -1;

	if (access(kpath, F_OK) != 0) {
		char *p;
		long n;
		if (!(key = EVP_EC_gen("P-256")) || !(bio = BIO_new(BIO_s_mem())) ||
		    PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL) != 1 ||
		    (n = BIO_get_mem_data(bio, &p)) <= 0 || buf_add(&kb, p, (size_t)n) < 0) {
			snprintf(err, errlen, "cannot make a TLS key (OpenSSL failed)");
			goto done;
		}
		int w = write_new(kpath, kb.p, kb.len, 0600, err, errlen);
		if (w < 0)
			goto done;
		if (w == 1) { /* someone else's key: theirs makes the certificate */
			EVP_PKEY_free(key);
			key = NULL;
		}
	}
	if (!key) {
		char *pem = read_checked(kpath, 1, err, errlen);
		if (!pem)
			goto done;
		BIO *kb2 = BIO_new_mem_buf(pem, -1);
		key = kb2 ? PEM_read_bio_PrivateKey(kb2, NULL, NULL, NULL) : NULL;
		BIO_free(kb2);
		OPENSSL_cleanse(pem, strlen(pem));
		free(pem);
		if (!key) {
			snprintf(err, errlen, "%s holds no PEM private key; remove it and %s, and restart the master",
				 kpath, cpath);
			goto done;
		}
	}
	if (make_cert(key, names, nnames, &cb) < 0) {
		snprintf(err, errlen, "cannot make the TLS certificate (OpenSSL failed)");
		goto done;
	}
	/* a temporary name and a rename: a reader sees the old or the new one */
	char tmp[RUNDIR_PATH_MAX + 8];
	snprintf(tmp, sizeof tmp, "%s.new", cpath);
	unlink(tmp); /* left by a crash */
	if (write_new(tmp, cb.p, cb.len, 0644, err, errlen) == 0 && rename(tmp, cpath) != 0) {
		snprintf(err, errlen, "cannot rename %s to %s: %s", tmp, cpath, strerror(errno));
		unlink(tmp);
	} else if (access(cpath, F_OK) == 0) {
		rc = 0;
	}
done:
	if (kb.p)
		OPENSSL_cleanse(kb.p, kb.len);
	buf_release(&kb);
	buf_release(&cb);
	BIO_free(bio);
	EVP_PKEY_free(key);
	return rc;
}

/* The key parses, the certificate parses and carries the key's public half. */
static int check_pair(const struct tlsid *id, const char *kpath, const char *cpath, char *err, size_t errlen)
{
	BIO *kb = BIO_new_mem_buf(id->key_pem, -1), *cb = BIO_new_mem_buf(id->cert_pem, -1);
	EVP_PKEY *key = kb ? PEM_read_bio_PrivateKey(kb, NULL, NULL, NULL) : NULL;
	X509 *x = cb ? PEM_read_bio_X509(cb, NULL, NULL, NULL) : NULL;
	int rc = -1;
	if (!key)
		snprintf(err, errlen, "%s holds no PEM private key; remove it and %s, and restart the master", kpath,
			 cpath);
	else if (!x)
		snprintf(err, errlen, "%s holds no PEM certificate; remove it and restart the master (it is made anew)",
			 cpath);
	else if (X509_check_private_key(x, key) != 1)
		snprintf(err, errlen, "%s is not the certificate of the key in %s; remove %s and restart the master",
			 cpath, kpath, cpath);
	else
		rc = 0;
	BIO_free(kb);
	BIO_free(cb);
	EVP_PKEY_free(key);
	X509_free(x);
	return rc;
}

int tlsid_load(struct tlsid *id, const char *dir, const char *const *names, size_t nnames, int create, char *err,
	       size_t errlen)
{
	char kpath[RUNDIR_PATH_MAX], cpath[RUNDIR_PATH_MAX];
	memset(id, 0, sizeof *id);
	if (rundir_path(kpath, dir, TLSID_KEY_FILE) || rundir_path(cpath, dir, TLSID_CERT_FILE))
		return snprintf(err, errlen, "run directory path too long"), -1;
	if (create && (access(kpath, F_OK) != 0 || access(cpath, F_OK) != 0) &&
	    create_files(kpath, cpath, names, nnames, err, errlen))
		return -1;
	for (int round = 0;; round++) {
		if (!(id->key_pem = read_checked(kpath, 1, err, errlen)) ||
		    !(id->cert_pem = read_checked(cpath, 0, err, errlen)) || check_pair(id, kpath, cpath, err, errlen)) {
			tlsid_free(id);
			return -1;
		}
		if (!create || round > 0 || cert_has_names(id->cert_pem, names, nnames))
			return 0;
		/* the same key, a certificate for the names of this start */
		tlsid_free(id);
		if (create_files(kpath, cpath, names, nnames, err, errlen))
			return -1;
	}
}

void tlsid_free(struct tlsid *id)
{
	if (id->key_pem) {
		OPENSSL_cleanse(id->key_pem, strlen(id->key_pem));
		free(id->key_pem);
	}
	free(id->cert_pem);
	id->key_pem = id->cert_pem = NULL;
}
