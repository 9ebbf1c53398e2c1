/* SPDX-License-Identifier: MIT */
/*
 * joblog: the job-output log. Each worker appends the stdout/stderr of every
 * job it runs to ONE file, DIR/logs/worker-<WID>.log, as a sequence of
 * records, so the number of files grows with workers, never with jobs (a
 * million small files is what makes a parallel filesystem's metadata server
 * fall over). A record is
 *
 *     @mts <job_id> <attempt> <stream> <nbytes>\n<nbytes bytes>\n
 *
 * with stream "out" or "err"; the payload is raw bytes (binary, newlines, any
 * content) and the header says how long it is, so a reader skips payloads
 * without looking at them. The worker writes (joblog_writer_*), `mtslurm logs`
 * reads (joblog_read*). docs/formats.md, "Job output logs", is the reference.
 *
 * Writers buffer small chunks in memory and write(2) them in one call per
 * event-loop turn (joblog_writer_flush) or when the buffer is full; the file
 * is opened once with O_APPEND. The writer is not thread-safe.
 *
 * No libuv, no cJSON: the CLI links this too.
 */
#ifndef MTS_JOBLOG_H
#define MTS_JOBLOG_H

#include <stddef.h>
#include <stdint.h>

#define JOBLOG_CAP_DEFAULT (16u << 20) /* bytes per job per stream */
#define JOBLOG_MAGIC "@mts "

enum joblog_stream { JOBLOG_OUT = 0, JOBLOG_ERR = 1 };

struct joblog_writer;

/* Open (create, 0600, O_APPEND) the log file at path. cap_bytes is the limit
 * per job and stream (0: JOBLOG_CAP_DEFAULT). Returns NULL with err set. */
struct joblog_writer *joblog_writer_open(const char *path, uint64_t cap_bytes, char *err,
					 size_t errlen);

/* Append one chunk of a job's output. *written is the caller's running count
 * of bytes already logged for this job and stream (start at 0); it is
 * advanced here. Bytes beyond the cap are dropped and, exactly once, a record
 * with the text "[mtslurm: output truncated at 16 MiB]" (the actual cap) is
 * written instead. Returns 0, or -1 if a write failed (see
 * joblog_writer_error). n == 0 is a no-op. */
int joblog_writer_append(struct joblog_writer *w, int64_t job_id, int attempt,
			 enum joblog_stream s, const void *data, size_t n, uint64_t *written);

/* Bytes buffered and not yet written. */
size_t joblog_writer_pending(const struct joblog_writer *w);

/* Write what is buffered (one write(2) normally). 0 or -1. */
int joblog_writer_flush(struct joblog_writer *w);

/* The last write error ("" if none), for the daemon's log. */
const char *joblog_writer_error(const struct joblog_writer *w);

/* Flush, close and free. NULL is a no-op. Returns 0 or -1 (flush failed). */
int joblog_writer_close(struct joblog_writer *w);

/* The callback gets each record's payload (borrowed until it returns) with
 * stream "out" or "err". Returning non-zero stops the read; joblog_read then
 * returns that value. */
typedef int (*joblog_emit_fn)(void *arg, const char *stream, const char *data, size_t n);

/* Emit, in file order, the records of job_id's attempt (0: the highest
 * attempt present in the file) from the log file at path. Headers are parsed
 * and payloads of other jobs skipped with lseek; a damaged region (a crash in
 * the middle of a record) is skipped up to the next line starting "@mts ".
 * Returns the number of records emitted (0 if none), -1 with err set if the
 * file cannot be read, or the emit callback's non-zero value. */
int joblog_read(const char *path, int64_t job_id, int attempt, joblog_emit_fn emit, void *arg,
		char *err, size_t errlen);

/* The same over every job-output log in logs_dir (files named worker-*.log,
 * not *.daemon.log): an attempt runs on one worker, so the records come from
 * the one file holding the requested attempt (for attempt 0: the highest
 * attempt found in any file). Returns like joblog_read. */
int joblog_read_dir(const char *logs_dir, int64_t job_id, int attempt, joblog_emit_fn emit,
		    void *arg, char *err, size_t errlen);

/* 1 if a file name (no directory) names a job-output log: "worker-*.log"
 * but not "*.daemon.log". */
int joblog_is_log_name(const char *name);

#endif
