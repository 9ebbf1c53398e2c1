/* SPDX-License-Identifier: MIT */
/*
 * tlsid: the cluster's TLS identity for its HTTPS services -- a private key
 * (RUN_DIR/tls.key, mode 0600) and a self-signed certificate for it
 * (RUN_DIR/tls.crt): ECDSA P-256, CN "mtslurm", subjectAltName IP:127.0.0.1
 * plus the names the caller gives (the master's node name and host name),
 * valid 10 years. The master creates both at its first start; every program
 * of the cluster that calls its HTTPS services trusts exactly tls.crt, so no
 * public CA is involved and a peer outside the run directory cannot pose as
 * the master. The key file is checked like the cluster key (auth.h): a
 * regular file, not a symbolic link, owned by the user, mode 0600; the
 * certificate the same except that others may read it. Library code: errors
 * come back as one line in err; it never prints.
 */
#ifndef MTS_TLSID_H
#define MTS_TLSID_H

#include <stddef.h>

#define TLSID_KEY_FILE "tls.key"
#define TLSID_CERT_FILE "tls.crt"
#define TLSID_CN "mtslurm"
#define TLSID_VALID_DAYS 3650

/* The identity as PEM text (NUL-terminated, heap; tlsid_free()). */
struct tlsid {
	char *key_pem;
	char *cert_pem;
};

/* Load the identity of run directory dir. If tls.key is missing and create
 * is non-zero, create the key (O_EXCL, 0600) and a certificate for it whose
 * subjectAltName lists IP:127.0.0.1 and each of names[0..nnames) (an IP
 * address goes in as IP:, anything else as DNS:; empty ones and duplicates
 * are skipped). With create, a missing certificate, or one that lacks one
 * of the names (the master started on another node or address), is made
 * anew the same way for the same key (written to tls.crt.new, renamed).
 * Checks that the certificate holds the key's public half.
 * 0, or -1 with a one-line reason in err that says what to do (id zeroed). */
int tlsid_load(struct tlsid *id, const char *dir, const char *const *names, size_t nnames, int create,
	       char *err, size_t errlen);
void tlsid_free(struct tlsid *id);

#endif
