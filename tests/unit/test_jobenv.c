/* SPDX-License-Identifier: MIT */
/* Unit tests for share/jobenv (launcher variables, snapshot keys) and
 * worker/envcache (a snapshot turned into a job's base environment). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "envcache.h"
#include "jobenv.h"
#include "msg.h"

static void test_launcher_vars(void **st)
{
	(void)st;
	static const char *const launcher[] = {
		"PMIX_RANK=0", "PMIX_NAMESPACE=x", "PRTE_MCA_x=1", "OMPI_COMM_WORLD_RANK=3",
		"OMPI_COMM_WORLD_LOCAL_SIZE=2", "OMPI_MCA_ess_base_jobid=7", "OMPI_MCA_orte_hnp_uri=x",
		"OMPI_MCA_pmix=x", "OMPI_FILE_LOCATION=/tmp/x", "OMPI_UNIVERSE_SIZE=4", "OMPI_APP_CTX_NUM_PROCS=2",
		"OMPI_NUM_APP_CTX=1", "OMPI_FIRST_RANKS=0", "OMPI_ARGV=", "OMPI_COMMAND=a.out", "PMI_RANK=1",
		"OMPI_MCA_initial_wdir=/x", NULL};
	for (const char *const *p = launcher; *p; p++)
		assert_int_equal(jobenv_launcher_var(*p), 1);
	/* a user's own tuning, and names that merely start alike */
	static const char *const user[] = {
		"OMPI_MCA_btl_tcp_if_include=lo", "OMPI_MCA_btl=self,tcp", "OMPI_MCA_mpi_yield_when_idle=1",
		"OMPI_ARGVX=1", "OMPI_COMMANDS=1", "PATH=/bin", "MTSLURM_RUN_DIR=/x", "PMIXER=1", "HOME=/root", NULL};
	for (const char *const *p = user; *p; p++)
		assert_int_equal(jobenv_launcher_var(*p), 0);
	assert_int_equal(jobenv_slurm_var("SLURM_JOB_ID=1"), 1);
	assert_int_equal(jobenv_slurm_var("SLURMD_NODENAME=n1"), 0);
	assert_int_equal(jobenv_shell_var("_=/bin/ls"), 1);
	assert_int_equal(jobenv_shell_var("SHLVL=2"), 1);
	assert_int_equal(jobenv_shell_var("PWD=/x"), 1);
	assert_int_equal(jobenv_shell_var("PWDX=/x"), 0);
}

/* The key is SHA-256 of base NUL var NUL ... (docs/protocol.md, ENV); the
 * expected values are from Python's hashlib. */
static void test_key(void **st)
{
	(void)st;
	char k[JOBENV_KEY_LEN + 1];
	const char *v[] = {"A=1", "B=2"};
	assert_int_equal(jobenv_key(k, 0, v, 2), 0);
	assert_string_equal(k, "52427bc93dabd3cdf7eb72f8371057ea30b2a4b7f2e66c10d52e64e1279b0cc6");
	assert_int_equal(jobenv_key(k, 1, NULL, 0), 0);
	assert_string_equal(k, "fdbb9db68f1db204d7823d5cbd2ff3eee530677fc945b6304356e1c6658b9ca2");
}

static int has(char **env, const char *kv)
{
	for (; *env; env++)
		if (strcmp(*env, kv) == 0)
			return 1;
	return 0;
}

static int has_name(char **env, const char *name)
{
	size_t n = strlen(name);
	for (; *env; env++)
		if (strncmp(*env, name, n) == 0 && (*env)[n] == '=')
			return 1;
	return 0;
}

/* "none": PATH and the rest of the minimal set, overridden by the vars;
 * SLURM_* always the worker's; entries outlive a reset while referenced. */
static void test_envcache(void **st)
{
	(void)st;
	setenv("SLURM_JOB_ID", "4242", 1);
	struct envcache *c = envcache_new();
	char err[200];
	const char *t = "{\"base\":\"none\",\"vars\":[\"PATH=/opt/bin\",\"X=1\",\"SLURM_JOB_ID=7\"]}";
	msg *def = msg_parse(t, strlen(t), err, sizeof err);
	assert_non_null(def);
	assert_int_equal(envcache_define(c, 5, def, err, sizeof err), 0);
	msg_free(def);
	struct envcache_ent *e = envcache_get(c, 5);
	assert_non_null(e);
	assert_true(has(e->base, "PATH=/opt/bin"));
	assert_false(has(e->base, "PATH=/usr/local/bin:/usr/bin:/bin"));
	assert_true(has(e->base, "X=1"));
	assert_true(has_name(e->base, "HOME"));
	assert_true(has_name(e->base, "USER"));
	assert_true(has_name(e->base, "LOGNAME"));
	assert_true(has_name(e->base, "SHELL"));
	assert_true(has(e->base, "SLURM_JOB_ID=4242"));
	assert_false(has(e->base, "SLURM_JOB_ID=7"));
	t = "{\"base\":\"all\",\"vars\":[\"Y=2\"]}";
	def = msg_parse(t, strlen(t), err, sizeof err);
	assert_non_null(def);
	assert_int_equal(envcache_define(c, 6, def, err, sizeof err), 0);
	msg_free(def);
	struct envcache_ent *f = envcache_get(c, 6);
	assert_true(has(f->base, "Y=2"));
	assert_false(has_name(f->base, "PATH"));
	envcache_put(f);
	assert_null(envcache_get(c, 99));
	envcache_reset(c);
	assert_int_equal(envcache_count(c), 0);
	assert_null(envcache_get(c, 5));
	assert_true(has(e->base, "X=1")); /* still held */
	envcache_put(e);
	envcache_free(c);
	unsetenv("SLURM_JOB_ID");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_launcher_vars),
		cmocka_unit_test(test_key),
		cmocka_unit_test(test_envcache),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
