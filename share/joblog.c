/* SPDX-License-Identifier: MIT */
/*
 * joblog: writer and reader of the job-output log records described in
 * joblog.h. The writer keeps one in-memory buffer so that the many small
 * chunks a loop turn produces become one write(2); the reader walks the
 * headers and only touches the payloads of the job asked for.
 */
#include "joblog.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#define JOBLOG_BUF_BYTES (256u << 10) /* one write per turn up to this much */
#define JOBLOG_HDR_MAX 96             /* "@mts " + 3 numbers + stream + "\n" fits */

struct joblog_writer {
	int fd;
	uint64_t cap;
	char *buf;
	size_t len;
	char marker[64]; /* "[mtslurm: output truncated at 16 MiB]" */
	char error[160];
};

static void seterr(char *err, size_t errlen, const char *fmt, const char *a, const char *b)
{
	if (err && errlen)
		snprintf(err, errlen, fmt, a, b);
}

/* The logs directory holds every job's output: a symbolic link there
 * (planted by anyone who could write the run directory) would send job
 * output to, or read it from, a place the user never chose. So the directory
 * holding path must be a real directory, and files are opened O_NOFOLLOW.
 * 0, or -1 with err set. */
static int check_dir_of(const char *path, char *err, size_t errlen)
{
	const char *slash = strrchr(path, '/');
	if (!slash || slash == path)
		return 0;
	char dir[4096];
	size_t n = (size_t)(slash - path);
	if (n >= sizeof(dir))
		return 0;
	memcpy(dir, path, n);
	dir[n] = '\0';
	struct stat st;
	if (lstat(dir, &st) == 0 && S_ISLNK(st.st_mode)) {
		seterr(err, errlen,
		       "%s is a symbolic link: refusing to follow it for job logs; remove it (mtslurm "
		       "creates the directory itself)%s",
		       dir, "");
		return -1;
	}
	return 0;
}

/* The error for a failed open of a job log, naming a symlink as such. */
static void open_error(const char *path, char *err, size_t errlen)
{
	if (errno == ELOOP)
		seterr(err, errlen, "job log %s is a symbolic link: refusing to follow it; remove it%s", path,
		       "");
	else
		seterr(err, errlen, "cannot open job log %s: %s", path, strerror(errno));
}

struct joblog_writer *joblog_writer_open(const char *path, uint64_t cap_bytes, char *err,
					 size_t errlen)
{
	struct joblog_writer *w = calloc(1, sizeof(*w));
	if (!w || !(w->buf = malloc(JOBLOG_BUF_BYTES))) {
		free(w);
		seterr(err, errlen, "%s%s", "out of memory", "");
		return NULL;
	}
	w->fd = -1;
	if (check_dir_of(path, err, errlen) == 0) {
		w->fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (w->fd < 0)
			open_error(path, err, errlen);
	}
	if (w->fd < 0) {
		free(w->buf);
		free(w);
		return NULL;
	}
	w->cap = cap_bytes ? cap_bytes : JOBLOG_CAP_DEFAULT;
	if (w->cap % (1u << 20) == 0)
		snprintf(w->marker, sizeof(w->marker), "[mtslurm: output truncated at %" PRIu64 " MiB]",
			 w->cap >> 20);
	else
		snprintf(w->marker, sizeof(w->marker), "[mtslurm: output truncated at %" PRIu64 " bytes]",
			 w->cap);
	return w;
}

/* write(2) everything in iov, retrying on EINTR and short writes. */
static int write_all(struct joblog_writer *w, struct iovec *iov, int cnt)
{
	while (cnt > 0) {
		ssize_t r = writev(w->fd, iov, cnt);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			snprintf(w->error, sizeof(w->error), "job log write failed: %s", strerror(errno));
			return -1;
		}
		size_t left = (size_t)r;
		while (cnt > 0 && left >= iov->iov_len) {
			left -= iov->iov_len;
			iov++;
			cnt--;
		}
		if (cnt > 0) {
			iov->iov_base = (char *)iov->iov_base + left;
			iov->iov_len -= left;
		}
	}
	return 0;
}

int joblog_writer_flush(struct joblog_writer *w)
{
	if (!w || w->len == 0)
		return 0;
	struct iovec iov = {w->buf, w->len};
	w->len = 0; /* on failure the buffered bytes are dropped: the log is best effort */
	return write_all(w, &iov, 1);
}

size_t joblog_writer_pending(const struct joblog_writer *w)
{
	return w ? w->len : 0;
}

const char *joblog_writer_error(const struct joblog_writer *w)
{
	return w ? w->error : "";
}

/* One whole record, buffered when small, written directly (after what is
 * buffered, so order is kept) when it would not fit. */
static int put_record(struct joblog_writer *w, int64_t job_id, int attempt, enum joblog_stream s,
		      const void *data, size_t n)
{
	char hdr[JOBLOG_HDR_MAX];
	int h = snprintf(hdr, sizeof(hdr), JOBLOG_MAGIC "%" PRId64 " %d %s %zu\n", job_id, attempt,
			 s == JOBLOG_ERR ? "err" : "out", n);
	size_t need = (size_t)h + n + 1;
	if (need > JOBLOG_BUF_BYTES - w->len) {
		if (joblog_writer_flush(w) < 0)
			return -1;
		if (need > JOBLOG_BUF_BYTES) {
			struct iovec iov[3] = {{hdr, (size_t)h}, {(void *)data, n}, {"\n", 1}};
			return write_all(w, iov, 3);
		}
	}
	memcpy(w->buf + w->len, hdr, (size_t)h);
	memcpy(w->buf + w->len + h, data, n);
	w->buf[w->len + h + n] = '\n';
	w->len += need;
	return 0;
}

int joblog_writer_append(struct joblog_writer *w, int64_t job_id, int attempt,
			 enum joblog_stream s, const void *data, size_t n, uint64_t *written)
{
	if (!w || n == 0)
		return 0;
	/* *written == cap + 1 means "capped and the marker is out" */
	if (*written > w->cap)
		return 0;
	uint64_t room = w->cap - *written;
	size_t take = n < room ? n : (size_t)room;
	if (take > 0) {
		if (put_record(w, job_id, attempt, s, data, take) < 0)
			return -1;
		*written += take;
	}
	if (take < n) {
		*written = w->cap + 1;
		return put_record(w, job_id, attempt, s, w->marker, strlen(w->marker));
	}
	return 0;
}

int joblog_writer_close(struct joblog_writer *w)
{
	if (!w)
		return 0;
	int rc = joblog_writer_flush(w);
	close(w->fd);
	free(w->buf);
	free(w);
	return rc;
}

/* ---- reader ---- */

struct ref {
	uint64_t off; /* payload offset */
	uint64_t n;
	int attempt;
	int err; /* stream */
};

struct scan {
	struct ref *refs;
	size_t nrefs, cap;
	int max_attempt;
};

static int scan_push(struct scan *sc, const struct ref *r)
{
	if (util_grow(&sc->refs, &sc->cap, sc->nrefs, sizeof *sc->refs, 64))
		return -1;
	sc->refs[sc->nrefs++] = *r;
	if (r->attempt > sc->max_attempt)
		sc->max_attempt = r->attempt;
	return 0;
}

/* Parse an unsigned decimal at *s: digits only (no sign, no space, no
 * "0x"), at most max. Advances *s past the digits. 0, or -1 if there are no
 * digits or the value exceeds max -- so "-18" or 30 digits never become a
 * huge length (sscanf's %llu accepts "-18" as 2^64 - 18). */
static int parse_uint(const char **s, uint64_t max, uint64_t *out)
{
	const char *p = *s;
	uint64_t v = 0;
	if (*p < '0' || *p > '9')
		return -1;
	for (; *p >= '0' && *p <= '9'; p++) {
		uint64_t d = (uint64_t)(*p - '0');
		if (v > (max - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*s = p;
	*out = v;
	return 0;
}

/* Parse one header at p[0..n). Returns its length including '\n', 0 if it is
 * not a valid header: exactly "@mts ID ATTEMPT out|err LEN\n", single spaces,
 * decimal digits only. */
static size_t parse_header(const char *p, size_t n, int64_t *id, int *attempt, int *err,
			   uint64_t *len)
{
	const size_t ml = sizeof(JOBLOG_MAGIC) - 1;
	const char *nl = memchr(p, '\n', n < JOBLOG_HDR_MAX ? n : JOBLOG_HDR_MAX);
	if (!nl || (size_t)(nl - p) <= ml || memcmp(p, JOBLOG_MAGIC, ml) != 0)
		return 0;
	char line[JOBLOG_HDR_MAX + 1];
	memcpy(line, p, (size_t)(nl - p));
	line[nl - p] = '\0';
	const char *s = line + ml;
	uint64_t i, a, l;
	if (parse_uint(&s, INT64_MAX, &i) || *s++ != ' ' || parse_uint(&s, INT32_MAX, &a) ||
	    *s++ != ' ')
		return 0;
	if (strncmp(s, "out ", 4) == 0)
		*err = 0;
	else if (strncmp(s, "err ", 4) == 0)
		*err = 1;
	else
		return 0;
	s += 4;
	if (parse_uint(&s, INT64_MAX, &l) || *s != '\0')
		return 0;
	*id = (int64_t)i;
	*attempt = (int)a;
	*len = l;
	return (size_t)(nl - p) + 1;
}

/* Walk the headers of the file open on fd; collect job_id's records. The
 * window holds [base, base + have) of the file; a payload that lies beyond it
 * is skipped by moving p, without reading it. The walk is bounded by the
 * file: a length must fit in what is left of it (re-measured once if the
 * worker is still appending), and p strictly increases on every step, so a
 * damaged record costs a resynchronisation, never a hang. */
/* The header at p (hl bytes, a payload of len) starts a whole record: its
 * payload and '\n' lie inside the file and the '\n' is where the header
 * says (this catches a record torn by a crash, and a bogus length). *size
 * is refreshed when the record reaches past it (appended since we looked). */
static int record_whole(int fd, const char *win, uint64_t base, size_t have, uint64_t p, size_t hl, uint64_t len,
			uint64_t *size)
{
	struct stat st;
	if ((p + hl >= *size || len >= *size - p - hl) && fstat(fd, &st) == 0 && st.st_size > 0)
		*size = (uint64_t)st.st_size;
	if (p + hl >= *size || len > *size - p - hl - 1)
		return 0;
	uint64_t end = p + hl + len;
	char nl = 0;
	if (end < base + have) {
		nl = win[end - base];
	} else {
		ssize_t r;
		do
			r = pread(fd, &nl, 1, (off_t)end);
		while (r < 0 && errno == EINTR);
		if (r != 1)
			nl = 0;
	}
	return nl == '\n';
}

/* How far to skip from a damaged header at h (avail bytes of the window)
 * to the next line that starts with '@'; 0 if none follows before the
 * file's end. Without one in a window that is not the last, the last byte
 * is kept: "\n@" may span two windows. */
static uint64_t resync_skip(const char *h, size_t avail, int eof)
{
	for (size_t k = 1; k < avail; k++)
		if (h[k - 1] == '\n' && h[k] == '@')
			return k;
	if (eof)
		return 0;
	return avail > 1 ? avail - 1 : 1;
}

static int scan_file(int fd, int64_t job_id, struct scan *sc)
{
	enum { WIN = 64 << 10 };
	struct stat st;
	if (fstat(fd, &st) != 0)
		return -1;
	uint64_t size = st.st_size > 0 ? (uint64_t)st.st_size : 0;
	char *win = malloc(WIN);
	if (!win)
		return -1;
	uint64_t base = 0, p = 0;
	size_t have = 0;
	int eof = 0, rc = 0;
	for (;;) {
		if (p < base || p >= base + have || (p + JOBLOG_HDR_MAX > base + have && !eof)) {
			ssize_t r;
			do
				r = pread(fd, win, WIN, (off_t)p);
			while (r < 0 && errno == EINTR);
			if (r < 0) {
				rc = -1;
				break;
			}
			base = p;
			have = (size_t)r;
			eof = have < WIN;
			if (have == 0)
				break;
		}
		const char *h = win + (p - base);
		size_t avail = (size_t)(base + have - p);
		int64_t id;
		int attempt, err;
		uint64_t len;
		size_t hl = parse_header(h, avail, &id, &attempt, &err, &len);
		if (hl && record_whole(fd, win, base, have, p, hl, len, &size)) {
			struct ref r = {p + hl, len, attempt, err};
			if (id == job_id && scan_push(sc, &r) < 0) {
				rc = -1;
				break;
			}
			p += hl + len + 1;
			continue;
		}
		/* a torn header at the very end (being written, or a crash) */
		if (eof && !memchr(h, '\n', avail))
			break;
		/* damaged: resynchronise on the next line that starts with '@' */
		uint64_t skip = resync_skip(h, avail, eof);
		if (!skip)
			break;
		p += skip;
	}
	free(win);
	return rc;
}

static int emit_refs(int fd, const struct scan *sc, int attempt, joblog_emit_fn emit, void *arg,
		     char *err, size_t errlen)
{
	int count = 0;
	char *data = NULL;
	size_t dcap = 0;
	for (size_t i = 0; i < sc->nrefs; i++) {
		const struct ref *r = &sc->refs[i];
		if (r->attempt != attempt)
			continue;
		if (r->n + 1 > dcap) {
			char *nd = realloc(data, (size_t)r->n + 1);
			if (!nd) {
				free(data);
				seterr(err, errlen, "%s%s", "out of memory", "");
				return -1;
			}
			data = nd;
			dcap = (size_t)r->n + 1;
		}
		size_t got = 0;
		while (got < r->n) {
			ssize_t k = pread(fd, data + got, (size_t)r->n - got, (off_t)(r->off + got));
			if (k < 0 && errno == EINTR)
				continue;
			if (k <= 0)
				break;
			got += (size_t)k;
		}
		if (got == 0 && r->n > 0)
			continue; /* a record cut off by a crash */
		data[got] = '\0';
		int e = emit(arg, r->err ? "err" : "out", data, got);
		count++;
		if (e) {
			free(data);
			return e;
		}
	}
	free(data);
	return count;
}

static int open_scan(const char *path, int64_t job_id, struct scan *sc, char *err, size_t errlen)
{
	if (check_dir_of(path, err, errlen) < 0)
		return -1;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		open_error(path, err, errlen);
		return -1;
	}
	if (scan_file(fd, job_id, sc) < 0) {
		seterr(err, errlen, "cannot read job log %s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

int joblog_read(const char *path, int64_t job_id, int attempt, joblog_emit_fn emit, void *arg,
		char *err, size_t errlen)
{
	struct scan sc = {0};
	int fd = open_scan(path, job_id, &sc, err, errlen);
	if (fd < 0)
		return -1;
	int rc = 0;
	if (sc.nrefs)
		rc = emit_refs(fd, &sc, attempt ? attempt : sc.max_attempt, emit, arg, err, errlen);
	close(fd);
	free(sc.refs);
	return rc;
}

int joblog_is_log_name(const char *name)
{
	size_t n = strlen(name);
	static const char dsuf[] = ".daemon.log";
	if (n < 11 || strncmp(name, "worker-", 7) != 0 || strcmp(name + n - 4, ".log") != 0)
		return 0;
	if (n >= sizeof(dsuf) - 1 && strcmp(name + n - (sizeof(dsuf) - 1), dsuf) == 0)
		return 0;
	return 1;
}

static int scan_has(const struct scan *sc, int attempt)
{
	for (size_t i = 0; i < sc->nrefs; i++)
		if (sc->refs[i].attempt == attempt)
			return 1;
	return 0;
}

int joblog_read_dir(const char *logs_dir, int64_t job_id, int attempt, joblog_emit_fn emit,
		    void *arg, char *err, size_t errlen)
{
	int dfd = open(logs_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
	if (!d) {
		if (errno == ELOOP || errno == ENOTDIR) {
			struct stat lst;
			if (lstat(logs_dir, &lst) == 0 && S_ISLNK(lst.st_mode)) {
				seterr(err, errlen,
				       "%s is a symbolic link: refusing to follow it for job logs; remove it "
				       "(mtslurm creates the directory itself)%s",
				       logs_dir, "");
				if (dfd >= 0)
					close(dfd);
				return -1;
			}
		}
		seterr(err, errlen, "cannot open log directory %s: %s", logs_dir, strerror(errno));
		if (dfd >= 0)
			close(dfd);
		return -1;
	}
	struct scan best = {0};
	int best_fd = -1;
	struct dirent *de;
	size_t dl = strlen(logs_dir);
	while ((de = readdir(d)) != NULL) {
		if (!joblog_is_log_name(de->d_name))
			continue;
		size_t nl = strlen(de->d_name);
		char *path = malloc(dl + nl + 2);
		if (!path)
			break;
		memcpy(path, logs_dir, dl);
		path[dl] = '/';
		memcpy(path + dl + 1, de->d_name, nl + 1);
		struct scan sc = {0};
		char e2[8];
		int fd = open_scan(path, job_id, &sc, e2, sizeof(e2)); /* unreadable: skip it */
		free(path);
		if (fd < 0)
			continue;
		int better = attempt ? (scan_has(&sc, attempt) && best_fd < 0)
				     : (sc.nrefs && (best_fd < 0 || sc.max_attempt > best.max_attempt));
		if (better) {
			if (best_fd >= 0)
				close(best_fd);
			free(best.refs);
			best = sc;
			best_fd = fd;
		} else {
			close(fd);
			free(sc.refs);
		}
	}
	closedir(d);
	int rc = 0;
	if (best_fd >= 0) {
		rc = emit_refs(best_fd, &best, attempt ? attempt : best.max_attempt, emit, arg, err,
			       errlen);
		close(best_fd);
	}
	free(best.refs);
	return rc;
}
