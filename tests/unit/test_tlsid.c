/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for share/tlsid (the cluster's TLS key and certificate: made
 * once, reloaded the same, refused when kept badly or mismatched) and for
 * HTTPS end to end on 127.0.0.1: share/httpd serving with that identity and
 * share/hclient calling it on the same libuv loop -- a client that trusts
 * the certificate (PEM or file) gets the answer, one that trusts only the
 * system store or another cluster's certificate fails with a certificate
 * error, and plain HTTP to the TLS port gets no HTTP answer and never
 * reaches the request handler. Every wait is bounded by a loop timer.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "hclient.h"
#include "httpd.h"
#include "tlsid.h"
#include "util.h"

#define TOKEN "0123456789abcdef"

static char dir[64], dir2[64];

static void path_of(char *out, size_t n, const char *d, const char *name) { snprintf(out, n, "%s/%s", d, name); }

static void rm_dir(const char *d)
{
	char p[128];
	path_of(p, sizeof p, d, TLSID_KEY_FILE);
	unlink(p);
	path_of(p, sizeof p, d, TLSID_CERT_FILE);
	unlink(p);
	path_of(p, sizeof p, d, "elsewhere");
	unlink(p);
	rmdir(d);
}

static int setup(void **state)
{
	strcpy(dir, "/tmp/test_tlsid.XXXXXX");
	strcpy(dir2, "/tmp/test_tlsid.XXXXXX");
	return mkdtemp(dir) && mkdtemp(dir2) ? 0 : -1;
}

static int teardown(void **state)
{
	rm_dir(dir);
	rm_dir(dir2);
	return 0;
}

static X509 *cert_of(const char *pem)
{
	BIO *b = BIO_new_mem_buf(pem, -1);
	X509 *x = PEM_read_bio_X509(b, NULL, NULL, NULL);
	BIO_free(b);
	return x;
}

/* ---- tlsid ---- */

static void test_create_then_reload(void **state)
{
	const char *names[] = {"node1", "10.1.2.3", "node1", "", "bad,name"};
	struct tlsid id, again;
	char err[512], p[128];
	struct stat st;

	assert_int_equal(tlsid_load(&id, dir, names, 5, 0, err, sizeof err), -1);
	assert_non_null(strstr(err, "no "));
	assert_int_equal(tlsid_load(&id, dir, names, 5, 1, err, sizeof err), 0);
	path_of(p, sizeof p, dir, TLSID_KEY_FILE);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	path_of(p, sizeof p, dir, TLSID_CERT_FILE);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0644);
	assert_non_null(strstr(id.key_pem, "PRIVATE KEY"));

	X509 *x = cert_of(id.cert_pem);
	assert_non_null(x);
	char cn[64] = "";
	X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn, sizeof cn);
	assert_string_equal(cn, "mtslurm");
	/* ECDSA P-256 */
	EVP_PKEY *pk = X509_get0_pubkey(x);
	assert_int_equal(EVP_PKEY_get_base_id(pk), EVP_PKEY_EC);
	char group[32] = "";
	size_t gl = 0;
	assert_int_equal(EVP_PKEY_get_group_name(pk, group, sizeof group, &gl), 1);
	assert_string_equal(group, "prime256v1");
	/* about 10 years from now */
	int days = 0, secs = 0;
	assert_int_equal(ASN1_TIME_diff(&days, &secs, NULL, X509_get0_notAfter(x)), 1);
	assert_true(days >= TLSID_VALID_DAYS - 1 && days <= TLSID_VALID_DAYS);
	/* subjectAltName: 127.0.0.1 and the names, as IP or DNS, once each */
	assert_int_equal(X509_check_ip_asc(x, "127.0.0.1", 0), 1);
	assert_int_equal(X509_check_ip_asc(x, "10.1.2.3", 0), 1);
	assert_int_equal(X509_check_host(x, "node1", 0, 0, NULL), 1);
	assert_int_equal(X509_check_host(x, "bad,name", 0, 0, NULL), 0);
	assert_int_equal(X509_check_ip_asc(x, "10.9.9.9", 0), 0);
	GENERAL_NAMES *san = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	assert_int_equal(sk_GENERAL_NAME_num(san), 3);
	GENERAL_NAMES_free(san);
	X509_free(x);

	/* the second start loads the same identity, create or not */
	assert_int_equal(tlsid_load(&again, dir, NULL, 0, 1, err, sizeof err), 0);
	assert_string_equal(again.cert_pem, id.cert_pem);
	assert_string_equal(again.key_pem, id.key_pem);
	tlsid_free(&again);
	/* the same names, or fewer: the same certificate; a new name (another
	 * node): a new certificate for the same key */
	assert_int_equal(tlsid_load(&again, dir, names, 2, 1, err, sizeof err), 0);
	assert_string_equal(again.cert_pem, id.cert_pem);
	tlsid_free(&again);
	const char *moved[] = {"node2"};
	assert_int_equal(tlsid_load(&again, dir, moved, 1, 1, err, sizeof err), 0);
	assert_string_equal(again.key_pem, id.key_pem);
	assert_string_not_equal(again.cert_pem, id.cert_pem);
	x = cert_of(again.cert_pem);
	assert_int_equal(X509_check_host(x, "node2", 0, 0, NULL), 1);
	X509_free(x);
	tlsid_free(&again);
	char tmp[160];
	snprintf(tmp, sizeof tmp, "%s.new", p);
	assert_int_equal(access(tmp, F_OK), -1);
	/* a lost certificate is made anew for the same key */
	unlink(p);
	assert_int_equal(tlsid_load(&again, dir, names, 1, 1, err, sizeof err), 0);
	assert_string_equal(again.key_pem, id.key_pem);
	x = cert_of(again.cert_pem);
	assert_non_null(x);
	X509_free(x);
	tlsid_free(&again);
	tlsid_free(&id);
	assert_null(id.key_pem);
}

static void expect_refusal(const char *want)
{
	struct tlsid id;
	char err[512];
	assert_int_equal(tlsid_load(&id, dir, NULL, 0, 1, err, sizeof err), -1);
	if (!strstr(err, want))
		fail_msg("error '%s' does not say '%s'", err, want);
	assert_null(id.key_pem);
	assert_null(id.cert_pem);
}

static void test_refusals(void **state)
{
	struct tlsid id, other;
	char err[512], key[128], crt[128], crt2[128], side[128];
	assert_int_equal(tlsid_load(&id, dir, NULL, 0, 1, err, sizeof err), 0);
	tlsid_free(&id);
	path_of(key, sizeof key, dir, TLSID_KEY_FILE);
	path_of(crt, sizeof crt, dir, TLSID_CERT_FILE);
	path_of(side, sizeof side, dir, "elsewhere");

	chmod(key, 0640);
	expect_refusal("chmod 600");
	chmod(key, 0600);
	chmod(crt, 0666);
	expect_refusal("chmod 644");
	chmod(crt, 0644);
	if (geteuid() == 0) { /* only root can give a file away */
		assert_int_equal(chown(key, 12345, (gid_t)-1), 0);
		expect_refusal("belongs to uid 12345");
		assert_int_equal(chown(key, 0, (gid_t)-1), 0);
	}
	/* a symbolic link to a key elsewhere is not used */
	assert_int_equal(rename(key, side), 0);
	assert_int_equal(symlink(side, key), 0);
	expect_refusal("symbolic link");
	unlink(key);
	assert_int_equal(rename(side, key), 0);
	assert_int_equal(tlsid_load(&id, dir, NULL, 0, 0, err, sizeof err), 0);
	tlsid_free(&id);

	/* another cluster's certificate with this key */
	assert_int_equal(tlsid_load(&other, dir2, NULL, 0, 1, err, sizeof err), 0);
	tlsid_free(&other);
	path_of(crt2, sizeof crt2, dir2, TLSID_CERT_FILE);
	assert_int_equal(rename(crt, side), 0);
	assert_int_equal(link(crt2, crt), 0);
	expect_refusal("not the certificate of the key");
	unlink(crt);
	assert_int_equal(rename(side, crt), 0);

	/* a key file that is not a key */
	assert_int_equal(rename(key, side), 0);
	FILE *f = fopen(key, "w");
	assert_non_null(f);
	fputs("not a key\n", f);
	fclose(f);
	chmod(key, 0600);
	expect_refusal("no PEM private key");
	unlink(key);
	assert_int_equal(rename(side, key), 0);
}

/* ---- HTTPS: httpd and hclient on one loop ---- */

struct run {
	int requests;
	int done;
	long status;
	int http_ok;
	char body[256];
	char error[512];
};

static void on_request(struct httpd_req *r, void *arg)
{
	struct run *ru = arg;
	ru->requests++;
	httpd_reply(r, 200, NULL, "{\"secret\":\"over tls\"}", 21);
}

static void on_done(void *arg, const struct hclient_res *r)
{
	struct run *ru = arg;
	ru->done = 1;
	ru->status = r->status;
	ru->http_ok = r->http_ok;
	util_strlcpy(ru->body, r->body, sizeof ru->body);
	util_strlcpy(ru->error, r->error ? r->error : "", sizeof ru->error);
}

static void on_deadline(uv_timer_t *t) { *(int *)t->data = 1; }

/* One call to the TLS server at path with o; the result in ru. */
static void call_host(uv_loop_t *loop, struct hclient *hc, const char *host, int port, const char *scheme,
		      struct hclient_opts *o, struct run *ru)
{
	char url[128];
	int expired = 0;
	uv_timer_t t;
	snprintf(url, sizeof url, "%s://%s:%d/x", scheme, host, port);
	ru->done = 0;
	o->bearer = TOKEN;
	o->retries = 0;
	o->timeout_s = 10;
	assert_non_null(hclient_request(hc, url, NULL, 0, o, on_done, ru));
	uv_timer_init(loop, &t);
	t.data = &expired;
	uv_timer_start(&t, on_deadline, 15000, 0);
	while (!ru->done && !expired)
		uv_run(loop, UV_RUN_ONCE);
	uv_close((uv_handle_t *)&t, NULL);
	uv_run(loop, UV_RUN_NOWAIT); /* t is on this stack: let its close finish */
	assert_true(ru->done);
}

static void call_once(uv_loop_t *loop, struct hclient *hc, int port, const char *scheme, struct hclient_opts *o,
		      struct run *ru)
{
	call_host(loop, hc, "127.0.0.1", port, scheme, o, ru);
}

static void test_https_round_trip(void **state)
{
	struct tlsid id, other;
	char err[512], crt[128], crt2[128];
	uv_loop_t loop;
	struct httpd *h;
	struct run ru = {0};

	assert_int_equal(tlsid_load(&id, dir, NULL, 0, 1, err, sizeof err), 0);
	assert_int_equal(tlsid_load(&other, dir2, NULL, 0, 1, err, sizeof err), 0);
	path_of(crt, sizeof crt, dir, TLSID_CERT_FILE);
	path_of(crt2, sizeof crt2, dir2, TLSID_CERT_FILE);
	uv_loop_init(&loop);
	struct httpd_config cfg = {.token = TOKEN, .on_request = on_request, .arg = &ru,
				   .tls_cert_pem = id.cert_pem, .tls_key_pem = id.key_pem};
	if (httpd_start(&h, &loop, &cfg, err, sizeof err))
		fail_msg("httpd_start: %s", err);
	tlsid_free(&id); /* httpd keeps copies */
	struct hclient *hc = hclient_new(&loop, err, sizeof err);
	assert_non_null(hc);
	int port = httpd_port(h);

	/* trusting the cluster's certificate: as PEM text, and as a file */
	struct hclient_opts o = HCLIENT_OPTS_INIT;
	o.ca_file = crt;
	call_once(&loop, hc, port, "https", &o, &ru);
	assert_string_equal(ru.error, "");
	assert_int_equal(ru.status, 200);
	assert_string_equal(ru.body, "{\"secret\":\"over tls\"}");
	assert_int_equal(ru.requests, 1);

	/* the system store only: the self-signed certificate is not trusted */
	struct hclient_opts none = HCLIENT_OPTS_INIT;
	call_once(&loop, hc, port, "https", &none, &ru);
	assert_false(ru.http_ok);
	if (!strstr(ru.error, "certificate"))
		fail_msg("no certificate error: '%s'", ru.error);
	assert_int_equal(ru.requests, 1);

	/* another cluster's certificate is not this one */
	struct hclient_opts wrong = HCLIENT_OPTS_INIT;
	wrong.ca_pem = other.cert_pem;
	call_once(&loop, hc, port, "https", &wrong, &ru);
	assert_false(ru.http_ok);
	assert_non_null(strstr(ru.error, "certificate"));
	wrong.ca_pem = NULL;
	wrong.ca_file = crt2;
	call_once(&loop, hc, port, "https", &wrong, &ru);
	assert_false(ru.http_ok);
	assert_non_null(strstr(ru.error, "certificate"));
	assert_int_equal(ru.requests, 1);

	/* plain HTTP to the TLS port: no HTTP answer, the handler never runs */
	struct hclient_opts plain = HCLIENT_OPTS_INIT;
	call_once(&loop, hc, port, "http", &plain, &ru);
	assert_false(ru.http_ok);
	assert_int_equal(ru.status, 0);
	assert_string_not_equal(ru.error, "");
	assert_int_equal(ru.requests, 1);

	/* and the PEM form of the right certificate works too */
	struct hclient_opts pem = HCLIENT_OPTS_INIT;
	assert_int_equal(tlsid_load(&id, dir, NULL, 0, 0, err, sizeof err), 0);
	pem.ca_pem = id.cert_pem;
	call_once(&loop, hc, port, "https", &pem, &ru);
	assert_int_equal(ru.status, 200);
	assert_int_equal(ru.requests, 2);

	/* A name the certificate does not list (it names 127.0.0.1 only): a
	 * service elsewhere fails the host check; a service of the cluster
	 * (cluster_peer) is known by its certificate alone, and another
	 * cluster's certificate still fails. */
	struct hclient_opts byname = HCLIENT_OPTS_INIT;
	byname.ca_file = crt;
	call_host(&loop, hc, "localhost", port, "https", &byname, &ru);
	assert_false(ru.http_ok);
	assert_int_equal(ru.requests, 2);
	byname.cluster_peer = 1;
	call_host(&loop, hc, "localhost", port, "https", &byname, &ru);
	assert_string_equal(ru.error, "");
	assert_int_equal(ru.status, 200);
	assert_int_equal(ru.requests, 3);
	byname.ca_file = crt2;
	call_host(&loop, hc, "localhost", port, "https", &byname, &ru);
	assert_false(ru.http_ok);
	assert_non_null(strstr(ru.error, "certificate"));
	byname.ca_file = NULL; /* no CA of ours: the system's store, host check kept */
	call_host(&loop, hc, "localhost", port, "https", &byname, &ru);
	assert_false(ru.http_ok);
	assert_int_equal(ru.requests, 3);

	tlsid_free(&id);
	tlsid_free(&other);
	hclient_close(hc, NULL, NULL);
	httpd_stop(h, NULL, NULL);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&loop), 0);
}

/* A pair that does not fit, half a pair, or text that is not PEM: one line. */
static void test_httpd_refuses_bad_pairs(void **state)
{
	struct tlsid id, other;
	char err[512];
	uv_loop_t loop;
	struct httpd *h;
	struct run ru = {0};

	assert_int_equal(tlsid_load(&id, dir, NULL, 0, 1, err, sizeof err), 0);
	assert_int_equal(tlsid_load(&other, dir2, NULL, 0, 1, err, sizeof err), 0);
	uv_loop_init(&loop);
	struct {
		const char *cert, *key, *want;
	} cases[] = {
		{id.cert_pem, other.key_pem, "does not belong"},
		{id.cert_pem, NULL, "both"},
		{NULL, id.key_pem, "both"},
		{"garbage", id.key_pem, "not a PEM certificate"},
		{id.cert_pem, "garbage", "not a PEM private key"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct httpd_config cfg = {.token = TOKEN, .on_request = on_request, .arg = &ru,
					   .tls_cert_pem = cases[i].cert, .tls_key_pem = cases[i].key};
		err[0] = 0;
		assert_int_equal(httpd_start(&h, &loop, &cfg, err, sizeof err), -1);
		assert_null(h);
		if (!strstr(err, cases[i].want) || strchr(err, '\n'))
			fail_msg("case %zu: '%s' does not say '%s' on one line", i, err, cases[i].want);
	}
	tlsid_free(&id);
	tlsid_free(&other);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_create_then_reload, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_https_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_httpd_refuses_bad_pairs, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
