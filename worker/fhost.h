/* SPDX-License-Identifier: MIT */
/*
 * fhost: the wire format between a worker and its function hosts. A function
 * host (mtslurm-fhost, worker/fhost_main.c) is a small process a worker
 * starts per busy slot to run "func" jobs in, so that a function that
 * crashes, aborts, exits or runs past its timeout ends that process and not
 * the worker (docs/worker.md, "Function hosts"). The worker side is
 * worker/func.c.
 *
 * The host's fd 3 is one end of a socketpair; the worker writes a request,
 * the host runs that one call and writes one response, and reads the next
 * request. Both ends are processes of one machine and one build, so the
 * headers are native-endian structs. The function's stdout (fd 1) and stderr
 * (fd 2) are pipes the worker reads into the job log; the host flushes stdio
 * before it writes a response, so by then the call's output is in the pipes.
 */
#ifndef MTS_FHOST_H
#define MTS_FHOST_H

#include <stdint.h>

#define FHOST_MAGIC 0x6d747366u /* "mtsf" */
#define FHOST_FD 3               /* the host's end of the socketpair */
#define FHOST_STR_MAX (1u << 30) /* bound on any length field */

/* Request: this header, then path_len bytes of library path, fname_len of
 * function name and input_len of input JSON (no NULs; the host adds them).
 * job_id and attempt become MTSLURM_JOB_ID and MTSLURM_ATTEMPT in the host's
 * environment for the call (docs/user-guide.md, "The environment a job
 * sees"); MTSLURM_WORKER and MTSLURM_RUN_DIR come as arguments at start. */
struct fhost_req {
	uint32_t magic;
	uint32_t path_len, fname_len, input_len;
	int64_t job_id;
	uint32_t attempt, pad;
};

enum fhost_status {
	FHOST_CALLED = 0,  /* the function returned ret; the text is its output */
	FHOST_NO_CALL = 1, /* load or lookup failed; the text says why */
};

#define FHOST_PENDING_OUT 1u /* stdout's pipe held unread bytes at the response */
#define FHOST_PENDING_ERR 2u /* stderr's, likewise */
/* The host has a child after the call (the host is a child subreaper, so
 * anything the call started and left running, a daemon too, is one, or
 * descends from one): the worker kills what is in the host's cgroup but
 * the host. Without this bit it reads nothing: a call that started nothing
 * costs no look at the cgroup. */
#define FHOST_PENDING_KIDS 4u

/* Response: this header, then len bytes of text. pending tells the worker
 * which pipes to read to the end before it reports the job (FIONREAD in the
 * host after its flush), so that a call that printed nothing costs the
 * worker no read that finds nothing. */
struct fhost_resp {
	uint32_t magic;
	uint32_t status;     /* enum fhost_status */
	int32_t ret;         /* the function's return value */
	uint32_t has_output; /* *output_json was set (else len is 0) */
	uint32_t pending;    /* FHOST_PENDING_* bits */
	uint32_t len;
};

#endif
