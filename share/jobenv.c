/* SPDX-License-Identifier: MIT */
/*
 * jobenv: the launcher-variable table and the snapshot key -- see jobenv.h.
 */
#include "jobenv.h"

#include <openssl/evp.h>
#include <string.h>

#include "util.h"

/* Variables an MPI launcher sets for the processes it starts. They are never
 * exported with a job and never given to one from the worker's own
 * environment: a job that runs `mpirun` (or is an MPI program) with them
 * would take itself for a rank of the launch they describe -- the worker's
 * own mpirun, or the submitting program's when that is an MPI rank using the
 * C API -- and fail to start, hang, or talk to another job's daemons.
 * Entries ending in '=' are exact names, the others prefixes. A user's own
 * tuning (OMPI_MCA_btl, OMPI_MCA_btl_tcp_if_include, ...) is not here: it
 * travels with the job like any other variable.
 * Open MPI 4 (orte) mpirun: OMPI_COMM_WORLD_*, OMPI_MCA_ess*, OMPI_MCA_orte_*,
 * OMPI_MCA_pmix*, the rest of the OMPI_ names below and OPAL_OUTPUT...;
 * Open MPI 5 (prte) and PMIx: PRTE_*, PMIX_*; MPICH/Intel MPI (hydra): PMI_*,
 * MPI_LOCALRANKID, MPI_LOCALNRANKS. */
static const char *const launcher_vars[] = {
	"PMIX_",
	"PRTE_",
	"OMPI_COMM_WORLD_",
	"OMPI_MCA_ess",
	"OMPI_MCA_orte_",
	"OMPI_MCA_pmix",
	"OMPI_MCA_prte_",
	"OMPI_MCA_initial_wdir=",
	"OMPI_MCA_shmem_RUNTIME_QUERY_hint=",
	"OMPI_MCA_mpi_oversubscribe=",
	"OMPI_FILE_LOCATION=",
	"OMPI_UNIVERSE_SIZE=",
	"OMPI_APP_CTX_",
	"OMPI_NUM_APP_CTX=",
	"OMPI_FIRST_RANKS=",
	"OMPI_ARGV=",
	"OMPI_COMMAND=",
	"OMPI_MCA_num_procs=",
	"OPAL_OUTPUT_",
	"PMI_",
	"MPI_LOCALRANKID=",
	"MPI_LOCALNRANKS=",
	NULL,
};

int jobenv_launcher_var(const char *kv)
{
	/* all entries start with O, P or M: one test rejects most variables */
	if (kv[0] != 'O' && kv[0] != 'P' && kv[0] != 'M')
		return 0;
	size_t nl = strcspn(kv, "=");
	for (const char *const *p = launcher_vars; *p; p++) {
		size_t l = strlen(*p);
		if ((*p)[l - 1] == '=') {
			if (nl == l - 1 && strncmp(kv, *p, l - 1) == 0)
				return 1;
		} else if (strncmp(kv, *p, l) == 0) {
			return 1;
		}
	}
	return 0;
}

int jobenv_shell_var(const char *kv)
{
	static const char *const names[] = {"_", "SHLVL", "PWD", "OLDPWD", NULL};
	size_t nl = strcspn(kv, "=");
	for (const char *const *p = names; *p; p++)
		if (strlen(*p) == nl && strncmp(kv, *p, nl) == 0)
			return 1;
	return 0;
}

int jobenv_slurm_var(const char *kv) { return strncmp(kv, "SLURM_", 6) == 0; }

int jobenv_key(char out[JOBENV_KEY_LEN + 1], int minimal, const char *const *vars, size_t n)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	const char *base = minimal ? "none" : "all";
	int ok = c && EVP_DigestInit_ex(c, EVP_sha256(), NULL) == 1 &&
		 EVP_DigestUpdate(c, base, strlen(base) + 1) == 1;
	for (size_t i = 0; ok && i < n; i++)
		ok = EVP_DigestUpdate(c, vars[i], strlen(vars[i]) + 1) == 1;
	ok = ok && EVP_DigestFinal_ex(c, md, &mdlen) == 1 && mdlen * 2 == JOBENV_KEY_LEN;
	EVP_MD_CTX_free(c);
	if (!ok)
		return -1;
	util_hex(out, md, mdlen);
	return 0;
}
