/* SPDX-License-Identifier: MIT */
/*
 * jobenv: what the client library and the worker agree on about a job's
 * environment (docs/user-guide.md, "The environment a job sees"): which
 * variables belong to an MPI launcher and never travel with a job, and the
 * key that names an environment snapshot (so the master stores each
 * distinct one once, and a connection carries it once).
 */
#ifndef MTS_JOBENV_H
#define MTS_JOBENV_H

#include <stddef.h>

/* Bytes of "K=V" text (NULs counted) a snapshot may hold: more than Linux
 * lets a process start with (ARG_MAX, 2 MiB for arguments and environment
 * together) is useless anyway. */
#define JOBENV_MAX_BYTES (1u << 20)
/* Hex digits of a key (SHA-256). */
#define JOBENV_KEY_LEN 64

/* 1 if the "K=V" (or bare name) kv is a variable an MPI launcher (Open MPI's
 * mpirun/prterun, PMIx, Slurm's srun) puts into the environment of the
 * process it starts: it describes that launch (rank, daemon addresses,
 * session directories) and makes an MPI program started later with it try to
 * join that launch instead of its own. 0 for everything else, including a
 * user's OMPI_MCA_* settings such as OMPI_MCA_btl_tcp_if_include. */
int jobenv_launcher_var(const char *kv);

/* 1 if kv is a shell's bookkeeping of the submitting process, left out of an
 * "ALL" snapshot because it would only tell one submit from the next (and
 * so store a snapshot per submit): _ (the last command), SHLVL, PWD and
 * OLDPWD (the worker sets PWD to the job's working directory). */
int jobenv_shell_var(const char *kv);

/* 1 if kv names a Slurm variable of the process's allocation (SLURM_*):
 * a job takes these from the worker that runs it, never from the submitter. */
int jobenv_slurm_var(const char *kv);

/* The key of a snapshot: lowercase hex SHA-256 (JOBENV_KEY_LEN digits and a
 * NUL into out) of "all" or "none", then each of the n "K=V" strings, each
 * followed by a NUL byte. The order of vars matters: callers sort them.
 * 0, or -1 if libcrypto fails. */
int jobenv_key(char out[JOBENV_KEY_LEN + 1], int minimal, const char *const *vars, size_t n);

#endif
