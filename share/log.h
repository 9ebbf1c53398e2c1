/* SPDX-License-Identifier: MIT */
/*
 * log: the daemons' own diagnostics (master, worker), one line each:
 *   2026-11-22T10:00:00.123Z master info: worker w3 connected from 127.0.0.1:4123
 * Library code (libmtslurm, share/ modules other than this one) never logs;
 * it returns errors. Not for job output: see worker/joblog.
 */
#ifndef MTS_LOG_H
#define MTS_LOG_H

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

/* Send lines to path (appended, created 0600), or to stderr when path is NULL.
 * who names the process in each line ("master", "worker 3"). 0 or -1. */
int log_open(const char *path, const char *who);
void log_set_level(enum log_level lvl);
void log_close(void);
void log_msg(enum log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)

#endif
