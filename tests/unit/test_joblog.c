/* SPDX-License-Identifier: MIT */
/*
 * test_joblog: the job-output log round trip (share/joblog.c): what the
 * worker writes, `mtslurm logs` must read back byte for byte -- binary data,
 * newlines, interleaved jobs and attempts, the per-job cap, big chunks that
 * bypass the buffer, a damaged region, and the directory-wide lookup.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "joblog.h"

struct got {
	char out[1 << 16];
	size_t out_len;
	char err[1 << 16];
	size_t err_len;
	int records;
	char seq[256]; /* "oeo..." order of streams */
};

static int collect(void *arg, const char *stream, const char *data, size_t n)
{
	struct got *g = arg;
	int is_err = strcmp(stream, "err") == 0;
	assert_true(is_err || strcmp(stream, "out") == 0);
	char *dst = is_err ? g->err : g->out;
	size_t *len = is_err ? &g->err_len : &g->out_len;
	assert_true(*len + n <= sizeof(g->out));
	memcpy(dst + *len, data, n);
	*len += n;
	if ((size_t)g->records < sizeof(g->seq) - 1)
		g->seq[g->records] = is_err ? 'e' : 'o';
	g->records++;
	return 0;
}

static char dir[256];

static void path_in(char *out, size_t n, const char *name)
{
	snprintf(out, n, "%s/%s", dir, name);
}

static int setup(void **state)
{
	snprintf(dir, sizeof(dir), "/tmp/test_joblog.XXXXXX");
	assert_non_null(mkdtemp(dir));
	return 0;
}

static int teardown(void **state)
{
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static struct joblog_writer *open_w(const char *name, uint64_t cap)
{
	char p[300], err[200];
	path_in(p, sizeof(p), name);
	unlink(p);
	struct joblog_writer *w = joblog_writer_open(p, cap, err, sizeof(err));
	assert_non_null(w);
	return w;
}

static void read_job(const char *name, int64_t id, int attempt, struct got *g, int want_rc)
{
	char p[300], err[200];
	path_in(p, sizeof(p), name);
	memset(g, 0, sizeof(*g));
	int rc = joblog_read(p, id, attempt, collect, g, err, sizeof(err));
	assert_int_equal(rc, want_rc);
}

static void test_round_trip(void **state)
{
	struct joblog_writer *w = open_w("a.log", 0);
	uint64_t o = 0, e = 0;
	assert_int_equal(joblog_writer_append(w, 7, 1, JOBLOG_OUT, "hello\n", 6, &o), 0);
	assert_int_equal(joblog_writer_append(w, 7, 1, JOBLOG_ERR, "oops\n", 5, &e), 0);
	assert_int_equal(joblog_writer_append(w, 7, 1, JOBLOG_OUT, "world", 5, &o), 0);
	assert_int_equal(joblog_writer_append(w, 7, 1, JOBLOG_OUT, "", 0, &o), 0); /* no-op */
	assert_true(joblog_writer_pending(w) > 0);
	assert_int_equal(joblog_writer_flush(w), 0);
	assert_int_equal(joblog_writer_pending(w), 0);
	assert_int_equal(o, 11);
	assert_int_equal(e, 5);
	assert_int_equal(joblog_writer_close(w), 0);

	struct got g;
	read_job("a.log", 7, 0, &g, 3);
	assert_int_equal(g.out_len, 11);
	assert_memory_equal(g.out, "hello\nworld", 11);
	assert_int_equal(g.err_len, 5);
	assert_memory_equal(g.err, "oops\n", 5);
	assert_string_equal(g.seq, "oeo");
	read_job("a.log", 8, 0, &g, 0); /* another job: nothing */
	read_job("a.log", 7, 2, &g, 0); /* an attempt that never ran */

	/* the exact bytes on disk are the documented format */
	char p[300], buf[256];
	path_in(p, sizeof(p), "a.log");
	FILE *f = fopen(p, "rb");
	assert_non_null(f);
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	assert_string_equal(buf, "@mts 7 1 out 6\nhello\n\n@mts 7 1 err 5\noops\n\n"
				 "@mts 7 1 out 5\nworld\n");
}

static void test_binary(void **state)
{
	struct joblog_writer *w = open_w("b.log", 0);
	char bin[1000];
	for (size_t i = 0; i < sizeof(bin); i++)
		bin[i] = (char)(i * 37 % 256);
	/* payloads that look like headers must not confuse the reader */
	const char *fake = "\n@mts 9 1 out 3\nxyz\n@mts 9 1 err 2\n";
	uint64_t o = 0, o9 = 0;
	assert_int_equal(joblog_writer_append(w, 5, 1, JOBLOG_OUT, bin, sizeof(bin), &o), 0);
	assert_int_equal(joblog_writer_append(w, 5, 1, JOBLOG_OUT, fake, strlen(fake), &o), 0);
	assert_int_equal(joblog_writer_append(w, 5, 1, JOBLOG_OUT, "\0\0\n", 3, &o), 0);
	assert_int_equal(joblog_writer_append(w, 9, 1, JOBLOG_OUT, "real", 4, &o9), 0);
	assert_int_equal(joblog_writer_close(w), 0);

	struct got g;
	read_job("b.log", 5, 0, &g, 3);
	assert_int_equal(g.out_len, sizeof(bin) + strlen(fake) + 3);
	assert_memory_equal(g.out, bin, sizeof(bin));
	assert_memory_equal(g.out + sizeof(bin), fake, strlen(fake));
	assert_memory_equal(g.out + sizeof(bin) + strlen(fake), "\0\0\n", 3);
	read_job("b.log", 9, 0, &g, 1);
	assert_int_equal(g.out_len, 4);
	assert_memory_equal(g.out, "real", 4);
}

static void test_truncation(void **state)
{
	struct joblog_writer *w = open_w("c.log", 100);
	uint64_t o = 0, e = 0;
	char sixty[60];
	memset(sixty, 'x', sizeof(sixty));
	assert_int_equal(joblog_writer_append(w, 1, 1, JOBLOG_OUT, sixty, 60, &o), 0);
	assert_int_equal(joblog_writer_append(w, 1, 1, JOBLOG_OUT, sixty, 60, &o), 0);
	assert_int_equal(joblog_writer_append(w, 1, 1, JOBLOG_OUT, sixty, 60, &o), 0);
	/* exactly at the cap: no marker until more arrives */
	assert_int_equal(joblog_writer_append(w, 1, 1, JOBLOG_ERR, sixty, 40, &e), 0);
	assert_int_equal(joblog_writer_append(w, 1, 1, JOBLOG_ERR, sixty, 60, &e), 0);
	assert_int_equal(joblog_writer_close(w), 0);

	struct got g;
	read_job("c.log", 1, 0, &g, 5);
	const char *mark = "[mtslurm: output truncated at 100 bytes]";
	assert_int_equal(g.out_len, 100 + strlen(mark));
	assert_memory_equal(g.out + 100, mark, strlen(mark));
	assert_int_equal(g.err_len, 40 + 60);
	assert_string_equal(g.seq, "oooee");

	/* the default cap is stated in MiB */
	w = open_w("c2.log", 0);
	uint64_t big = JOBLOG_CAP_DEFAULT; /* pretend 16 MiB were logged already */
	assert_int_equal(joblog_writer_append(w, 2, 1, JOBLOG_OUT, "more", 4, &big), 0);
	assert_int_equal(joblog_writer_append(w, 2, 1, JOBLOG_OUT, "more", 4, &big), 0);
	assert_int_equal(joblog_writer_close(w), 0);
	read_job("c2.log", 2, 0, &g, 1);
	assert_int_equal(g.out_len, strlen("[mtslurm: output truncated at 16 MiB]"));
	assert_memory_equal(g.out, "[mtslurm: output truncated at 16 MiB]", g.out_len);
}

static void test_interleaved(void **state)
{
	struct joblog_writer *w = open_w("d.log", 0);
	uint64_t c[4][2] = {{0}};
	char msg[64];
	for (int i = 0; i < 300; i++) {
		int job = i % 3 + 1;
		int attempt = (job == 2 && i >= 150) ? 2 : 1;
		int n = snprintf(msg, sizeof(msg), "j%d a%d i%d\n", job, attempt, i);
		enum joblog_stream s = i % 2 ? JOBLOG_ERR : JOBLOG_OUT;
		if (job == 2 && i == 150)
			c[2][0] = c[2][1] = 0; /* a new attempt starts counting afresh */
		assert_int_equal(joblog_writer_append(w, job, attempt, s, msg, (size_t)n, &c[job][s]), 0);
		if (i % 7 == 0)
			assert_int_equal(joblog_writer_flush(w), 0);
	}
	assert_int_equal(joblog_writer_close(w), 0);

	struct got g;
	read_job("d.log", 1, 0, &g, 100);
	assert_non_null(strstr(g.out, "j1 a1 i0\n"));
	assert_null(strstr(g.out, "j2"));
	read_job("d.log", 2, 0, &g, 50); /* the last attempt */
	assert_null(strstr(g.out, "a1"));
	assert_null(strstr(g.err, "a1"));
	assert_non_null(strstr(g.err, "j2 a2 i151\n"));
	read_job("d.log", 2, 1, &g, 50);
	assert_non_null(strstr(g.out, "j2 a1 i4\n"));
	assert_null(strstr(g.out, "a2"));
	/* order is kept within a stream */
	read_job("d.log", 3, 0, &g, 100);
	assert_true(strstr(g.out, "i2\n") < strstr(g.out, "i8\n"));
}

static void test_big_chunks(void **state)
{
	struct joblog_writer *w = open_w("e.log", 0);
	size_t n = 600 * 1024; /* larger than the write buffer: goes straight out */
	char *big = malloc(n);
	assert_non_null(big);
	for (size_t i = 0; i < n; i++)
		big[i] = (char)('a' + i % 26);
	uint64_t o = 0, o2 = 0;
	assert_int_equal(joblog_writer_append(w, 1, 1, JOBLOG_OUT, "before", 6, &o2), 0);
	assert_int_equal(joblog_writer_append(w, 3, 1, JOBLOG_OUT, big, n, &o), 0);
	assert_int_equal(joblog_writer_append(w, 1, 1, JOBLOG_OUT, "after", 5, &o2), 0);
	assert_int_equal(joblog_writer_close(w), 0);

	struct got g;
	read_job("e.log", 1, 0, &g, 2); /* skips the big payload */
	assert_int_equal(g.out_len, 11);
	assert_memory_equal(g.out, "beforeafter", 11);

	free(big);
}

static int check_big(void *arg, const char *stream, const char *data, size_t n)
{
	size_t *total = arg;
	for (size_t i = 0; i < n; i++)
		if (data[i] != (char)('a' + (*total + i) % 26))
			return 99;
	*total += n;
	return 0;
}

static void test_big_read(void **state)
{
	struct joblog_writer *w = open_w("f.log", 0);
	size_t n = 3 * 256 * 1024 + 17;
	char *big = malloc(n);
	assert_non_null(big);
	for (size_t i = 0; i < n; i++)
		big[i] = (char)('a' + i % 26);
	uint64_t o = 0;
	assert_int_equal(joblog_writer_append(w, 4, 2, JOBLOG_OUT, big, n, &o), 0);
	assert_int_equal(joblog_writer_close(w), 0);
	free(big);
	char p[300], err[200];
	path_in(p, sizeof(p), "f.log");
	size_t total = 0;
	assert_int_equal(joblog_read(p, 4, 0, check_big, &total, err, sizeof(err)), 1);
	assert_int_equal(total, n);
}

static void test_damaged(void **state)
{
	char p[300];
	path_in(p, sizeof(p), "g.log");
	struct joblog_writer *w = open_w("g.log", 0);
	uint64_t o = 0;
	assert_int_equal(joblog_writer_append(w, 1, 1, JOBLOG_OUT, "one", 3, &o), 0);
	assert_int_equal(joblog_writer_close(w), 0);
	/* a torn record, as if a worker crashed mid-write, then more records */
	FILE *f = fopen(p, "ab");
	assert_non_null(f);
	fputs("@mts 1 1 out 1000\npartial garbage\nmore garbage", f);
	fputs("\n@mts 1 1 out 3\ntwo\n", f);
	fputs("@mts x y\n", f); /* a bad header line */
	fputs("@mts 1 1 out 5\nthree\n", f);
	fputs("@mts 1 1 out 9", f); /* torn header at the end */
	fclose(f);
	struct got g;
	read_job("g.log", 1, 0, &g, 3);
	/* the torn record and the bad header are skipped, the rest is found */
	assert_int_equal(g.out_len, 11);
	assert_memory_equal(g.out, "onetwothree", 11);
}

static void test_missing(void **state)
{
	char err[200];
	struct got g;
	int rc = joblog_read("/nonexistent/x.log", 1, 0, collect, &g, err, sizeof(err));
	assert_int_equal(rc, -1);
	assert_non_null(strstr(err, "/nonexistent/x.log"));
}

static int stop_early(void *arg, const char *stream, const char *data, size_t n)
{
	(*(int *)arg)++;
	return 42;
}

static void test_stop(void **state)
{
	struct joblog_writer *w = open_w("h.log", 0);
	uint64_t o = 0;
	joblog_writer_append(w, 1, 1, JOBLOG_OUT, "a", 1, &o);
	joblog_writer_append(w, 1, 1, JOBLOG_OUT, "b", 1, &o);
	joblog_writer_close(w);
	char p[300], err[200];
	path_in(p, sizeof(p), "h.log");
	int calls = 0;
	assert_int_equal(joblog_read(p, 1, 0, stop_early, &calls, err, sizeof(err)), 42);
	assert_int_equal(calls, 1);
}

static void test_dir(void **state)
{
	char logs[300];
	path_in(logs, sizeof(logs), "logs");
	mkdir(logs, 0700);
	struct joblog_writer *w1 = open_w("logs/worker-n1-1-0.log", 0);
	struct joblog_writer *w2 = open_w("logs/worker-n1-2-1.log", 0);
	struct joblog_writer *d = open_w("logs/worker-n1-1-0.daemon.log", 0);
	uint64_t a = 0, b = 0, c = 0;
	joblog_writer_append(w1, 10, 1, JOBLOG_OUT, "first try", 9, &a);
	joblog_writer_append(w2, 10, 2, JOBLOG_OUT, "second try", 10, &b);
	joblog_writer_append(d, 10, 3, JOBLOG_OUT, "not a job log", 13, &c);
	joblog_writer_close(w1);
	joblog_writer_close(w2);
	joblog_writer_close(d);
	char err[200];
	struct got g;
	memset(&g, 0, sizeof(g));
	assert_int_equal(joblog_read_dir(logs, 10, 0, collect, &g, err, sizeof(err)), 1);
	assert_memory_equal(g.out, "second try", 10);
	memset(&g, 0, sizeof(g));
	assert_int_equal(joblog_read_dir(logs, 10, 1, collect, &g, err, sizeof(err)), 1);
	assert_memory_equal(g.out, "first try", 9);
	memset(&g, 0, sizeof(g));
	assert_int_equal(joblog_read_dir(logs, 11, 0, collect, &g, err, sizeof(err)), 0);

	assert_true(joblog_is_log_name("worker-a-1-0.log"));
	assert_false(joblog_is_log_name("worker-a-1-0.daemon.log"));
	assert_false(joblog_is_log_name("master.log"));
	assert_false(joblog_is_log_name("worker-.lo"));
}

/* Write raw bytes as a log file. */
static void put_file(const char *name, const void *data, size_t n)
{
	char p[300];
	path_in(p, sizeof(p), name);
	FILE *f = fopen(p, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, n, f), n);
	fclose(f);
}

/* A damaged length must cost a skip, never a hang or a huge allocation: the
 * 34-byte file of the bug report (second record "-18") took `logs` to 1.27 GB
 * and never returned. alarm() turns a hang into a failure. */
static void test_bad_lengths(void **state)
{
	static const char neg[] = "@mts 1 1 out 1\nA\n@mts 1 1 out -18\n";
	struct got g;
	alarm(20);
	put_file("neg.log", neg, sizeof(neg) - 1);
	read_job("neg.log", 1, 0, &g, 1);
	assert_int_equal(g.out_len, 1);
	assert_memory_equal(g.out, "A", 1);

	/* lengths that overflow, have a sign, or point past the end of the file
	 * are all damage; the good record after them is still found */
	static const char bad[] = "@mts 2 1 out 18446744073709551615\nxx\n"
				  "@mts 2 1 out 99999999999999999999999\nxx\n"
				  "@mts 2 1 out +2\nxx\n"
				  "@mts 2 1 out  2\nxx\n"
				  "@mts 2 1 out 2 \nxx\n"
				  "@mts 2 -1 out 2\nxx\n"
				  "@mts 2 1 out 4096\nxx\n"
				  "@mts 2 1 out 2\nok\n"
				  "@mts 2 1 out 18446744073709551598\n";
	put_file("bad.log", bad, sizeof(bad) - 1);
	read_job("bad.log", 2, 0, &g, 1);
	assert_int_equal(g.out_len, 2);
	assert_memory_equal(g.out, "ok", 2);
	alarm(0);
}

/* logs/ or a log file that is a symbolic link is refused with a clear error,
 * by the writer and by both readers. */
static void test_symlinks(void **state)
{
	char real[300], link_dir[300], p[400], err[300];
	path_in(real, sizeof(real), "realdir");
	path_in(link_dir, sizeof(link_dir), "linkdir");
	assert_int_equal(mkdir(real, 0700), 0);
	assert_int_equal(symlink(real, link_dir), 0);
	snprintf(p, sizeof(p), "%s/worker-1.log", link_dir);
	err[0] = '\0';
	assert_null(joblog_writer_open(p, 0, err, sizeof(err)));
	assert_non_null(strstr(err, "symbolic link"));
	snprintf(p, sizeof(p), "%s/worker-1.log", real);
	struct joblog_writer *w = joblog_writer_open(p, 0, err, sizeof(err));
	assert_non_null(w);
	uint64_t o = 0;
	assert_int_equal(joblog_writer_append(w, 1, 1, JOBLOG_OUT, "x", 1, &o), 0);
	assert_int_equal(joblog_writer_close(w), 0);
	struct got g;
	memset(&g, 0, sizeof(g));
	assert_int_equal(joblog_read_dir(real, 1, 0, collect, &g, err, sizeof(err)), 1);
	err[0] = '\0';
	assert_int_equal(joblog_read_dir(link_dir, 1, 0, collect, &g, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "symbolic link"));
	snprintf(p, sizeof(p), "%s/worker-1.log", link_dir);
	err[0] = '\0';
	assert_int_equal(joblog_read(p, 1, 0, collect, &g, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "symbolic link"));
	/* a log file that is itself a link */
	char lf[400];
	snprintf(p, sizeof(p), "%s/worker-1.log", real);
	snprintf(lf, sizeof(lf), "%s/worker-2.log", real);
	assert_int_equal(symlink(p, lf), 0);
	err[0] = '\0';
	assert_int_equal(joblog_read(lf, 1, 0, collect, &g, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "symbolic link"));
	assert_null(joblog_writer_open(lf, 0, err, sizeof(err)));
	assert_non_null(strstr(err, "symbolic link"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip), cmocka_unit_test(test_binary),
		cmocka_unit_test(test_truncation), cmocka_unit_test(test_interleaved),
		cmocka_unit_test(test_big_chunks), cmocka_unit_test(test_big_read),
		cmocka_unit_test(test_damaged),    cmocka_unit_test(test_missing),
		cmocka_unit_test(test_stop),       cmocka_unit_test(test_dir),
		cmocka_unit_test(test_bad_lengths), cmocka_unit_test(test_symlinks),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
