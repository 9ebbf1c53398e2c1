/* SPDX-License-Identifier: MIT */
/*
 * test_batch: slurm/batch.c's table -- finding a backend by name, "auto"
 * choosing Slurm when there is a Slurm configuration ($SLURM_CONF, under
 * the test's control) and local otherwise, the one-line error for a name it
 * does not know, which allocation a process runs in; the PBS entry's
 * detection (a PBS server's configuration and qsub, never qsub alone:
 * Slurm's wrappers), its walltime conversion and its refusals of what PBS
 * cannot express (slurm/pbsbatch.c) -- and the local
 * backend (slurm/localjob.c) for real: submit a script, look it up, read its
 * output, cancel it, and never take another process for a job whose pid was
 * reused. The Slurm entry's submit/query/cancel run against the test
 * cluster in tests/sys/t05*.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "batch.h"

static void test_find(void **st)
{
	(void)st;
	char err[300] = "";
	assert_ptr_equal(batch_find("slurm", err, sizeof err), &batch_slurm_ops);
	assert_ptr_equal(batch_find("local", err, sizeof err), &batch_local_ops);
	assert_ptr_equal(batch_find("pbs", err, sizeof err), &batch_pbs_ops);
	assert_string_equal(batch_names(), "slurm, pbs, local");
	/* the names are the table's: every entry is found under its own */
	for (int i = 0; batch_backends[i]; i++)
		assert_ptr_equal(batch_find(batch_backends[i]->name, err, sizeof err), batch_backends[i]);
}

static void test_unknown(void **st)
{
	(void)st;
	char err[300] = "";
	assert_null(batch_find("nosuch", err, sizeof err));
	assert_string_equal(err, "--backend nosuch: no such backend in this mtslurm; it knows auto, slurm, pbs, local");
	assert_null(strchr(err, '\n'));
}

/* PBS for auto: a PBS server's configuration and qsub on PATH (dir), never
 * qsub alone (Slurm's wrappers install one without any PBS server). */
static void test_auto_pbs(const char *dir)
{
	char conf[96], qsub[96], err[300];
	struct stat sb;
	int pbs_here = stat("/etc/pbs.conf", &sb) == 0 || stat("/var/spool/torque/server_name", &sb) == 0;
	snprintf(conf, sizeof conf, "%s/pbs.conf", dir);
	snprintf(qsub, sizeof qsub, "%s/qsub", dir);
	FILE *f = fopen(conf, "w");
	assert_non_null(f);
	fputs("PBS_SERVER=nowhere\n", f);
	fclose(f);
	unsetenv("PBS_SERVER");
	setenv("PBS_CONF_FILE", conf, 1);
	assert_ptr_equal(batch_detect(), &batch_local_ops); /* a configuration, but no qsub */
	f = fopen(qsub, "w");
	assert_non_null(f);
	fputs("#!/bin/sh\nexit 1\n", f);
	fclose(f);
	chmod(qsub, 0755);
	assert_ptr_equal(batch_find("auto", err, sizeof err), &batch_pbs_ops); /* PBS Pro's configuration */
	unsetenv("PBS_CONF_FILE");
	if (pbs_here) {
		fprintf(stderr, "test_batch: this machine has a PBS configuration: qsub alone -> local not checked\n");
	} else {
		assert_ptr_equal(batch_detect(), &batch_local_ops); /* qsub alone: Slurm's wrappers, say */
		setenv("PBS_SERVER", "server1", 1);                 /* Torque's */
		assert_ptr_equal(batch_detect(), &batch_pbs_ops);
		unsetenv("PBS_SERVER");
	}
	unlink(qsub);
	unlink(conf);
}

static void test_auto(void **st)
{
	(void)st;
	char dir[] = "/tmp/test_batch.XXXXXX", conf[64], err[300];
	assert_non_null(mkdtemp(dir));
	snprintf(conf, sizeof conf, "%s/slurm.conf", dir);
	FILE *f = fopen(conf, "w");
	assert_non_null(f);
	fputs("ClusterName=test\n", f);
	fclose(f);
	char *path = getenv("PATH") ? strdup(getenv("PATH")) : NULL;
	setenv("PATH", dir, 1); /* no batch system's commands on it */
	setenv("SLURM_CONF", conf, 1);
	assert_ptr_equal(batch_detect(), &batch_slurm_ops);
	assert_ptr_equal(batch_find("auto", err, sizeof err), &batch_slurm_ops);
	assert_ptr_equal(batch_find(NULL, err, sizeof err), &batch_slurm_ops);
	unsetenv("SLURM_CONF");
	struct stat sb;
	if (stat("/etc/slurm/slurm.conf", &sb) == 0 || stat("/run/slurm/conf/slurm.conf", &sb) == 0)
		fprintf(stderr, "test_batch: this machine has a Slurm configuration: auto -> local not checked\n");
	else
		assert_ptr_equal(batch_find("auto", err, sizeof err), &batch_local_ops);
	test_auto_pbs(dir);
	if (path)
		setenv("PATH", path, 1);
	free(path);
	unlink(conf);
	rmdir(dir);
}

static void test_in_allocation(void **st)
{
	(void)st;
	char id[BATCH_ID_MAX], err[300];
	struct batch_info in;
	const struct batch_ops *ops;
	unsetenv("SLURM_JOB_ID");
	unsetenv("PBS_JOBID");
	unsetenv("MTSLURM_LOCAL_JOB");
	assert_null(batch_in_allocation(id));
	assert_int_equal(batch_alloc_info(&ops, id, &in, err, sizeof err), 1);
	setenv("SLURM_JOB_ID", "4711", 1);
	assert_ptr_equal(batch_in_allocation(id), &batch_slurm_ops);
	assert_string_equal(id, "4711");
	unsetenv("SLURM_JOB_ID");
	setenv("PBS_JOBID", "4712.server1", 1);
	assert_ptr_equal(batch_in_allocation(id), &batch_pbs_ops);
	assert_string_equal(id, "4712.server1");
	/* a local job inside a PBS (or Slurm) one: the local job is the nearer */
	setenv("MTSLURM_LOCAL_JOB", "77@12345", 1);
	assert_ptr_equal(batch_in_allocation(id), &batch_local_ops);
	assert_string_equal(id, "77@12345");
	unsetenv("MTSLURM_LOCAL_JOB");
	unsetenv("PBS_JOBID");
}

/* Slurm's time forms into PBS's seconds: a bare number is minutes. */
static void test_pbs_walltime(void **st)
{
	(void)st;
	assert_int_equal(pbsbatch_walltime_s("90"), 5400);
	assert_int_equal(pbsbatch_walltime_s("5:30"), 330);
	assert_int_equal(pbsbatch_walltime_s("0:10:00"), 600);
	assert_int_equal(pbsbatch_walltime_s("2:00:00"), 7200);
	assert_int_equal(pbsbatch_walltime_s("1-0"), 86400);
	assert_int_equal(pbsbatch_walltime_s("1-2:30"), 95400);
	assert_int_equal(pbsbatch_walltime_s("2-00:00:01"), 172801);
	const char *bad[] = {"", "0", "1:75:00", "2h", "1:2:3:4", "1-24", "-5", "1-", ":30", "1::2", "1-2:3:4:5"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		assert_int_equal(pbsbatch_walltime_s(bad[i]), -1);
}

/* What PBS cannot express is refused with the option's name and what to
 * use instead; --select only by PBS. check() runs nothing. */
static void test_pbs_check(void **st)
{
	(void)st;
	char err[300];
	struct batch_spec s = {.work_dir = "/tmp", .script = "#!/bin/sh\n", .ntasks = 4, .walltime = "0:10:00"};
	assert_int_equal(batch_pbs_ops.check(&s, err, sizeof err), 0);
	s.walltime = "1:75:00";
	assert_int_equal(batch_pbs_ops.check(&s, err, sizeof err), -1);
	assert_string_equal(err, "bad walltime '1:75:00': give HH:MM:SS (e.g. 2:00:00), minutes (90) or D-HH:MM:SS");
	s.walltime = NULL;
	s.qos = "high";
	assert_int_equal(batch_pbs_ops.check(&s, err, sizeof err), -1);
	assert_string_equal(err, "--qos high: PBS has no QOS; ask for the queue that carries it with --queue (or drop --qos)");
	s.qos = NULL;
	s.gres = "gpu:1";
	assert_int_equal(batch_pbs_ops.check(&s, err, sizeof err), -1);
	assert_non_null(strstr(err, "--gres gpu:1: PBS asks for GPUs in the select statement"));
	s.gres = NULL;
	s.nodes = 1;
	s.ntasks_per_node = 2;
	assert_int_equal(batch_pbs_ops.check(&s, err, sizeof err), -1);
	assert_string_equal(err, "--nodes 1 with --ntasks-per-node 2 holds 2 tasks, not 4: give more nodes");
	s.nodes = 0;
	s.ntasks_per_node = 0;
	s.select = "2:ncpus=4";
	assert_int_equal(batch_pbs_ops.check(&s, err, sizeof err), 0);
	s.mem = "1G";
	assert_int_equal(batch_pbs_ops.check(&s, err, sizeof err), -1);
	assert_non_null(strstr(err, "--mem with --select"));
	s.mem = NULL;
	assert_int_equal(batch_slurm_ops.check(&s, err, sizeof err), -1);
	assert_non_null(strstr(err, "--select is PBS's (--backend pbs)"));
	s.select = NULL;
	assert_int_equal(batch_slurm_ops.check(&s, err, sizeof err), 0);
}

static void test_ids(void **st)
{
	(void)st;
	int64_t n = 0;
	assert_true(batch_id_number("4711", &n));
	assert_int_equal(n, 4711);
	assert_false(batch_id_number("123.server", &n));
	assert_false(batch_id_number("12@34", &n));
	assert_false(batch_id_number("", &n));
	char err[300];
	struct batch_info in;
	assert_int_equal(batch_slurm_ops.query("123.server", &in, err, sizeof err), -1);
	assert_string_equal(err, "'123.server' is not a Slurm job id");
	assert_int_equal(batch_local_ops.query("123", &in, err, sizeof err), -1);
	assert_string_equal(err, "'123' is not a local job id (PID@START)");
}

/* Wait up to 15 s for a local job to reach state want (generous: the
 * suite runs it under ASan beside other tests on 2 cores). */
static int wait_state(const char *id, enum batch_state want)
{
	char err[300];
	struct batch_info in;
	for (int i = 0; i < 750; i++) {
		if (batch_local_ops.query(id, &in, err, sizeof err) == 0 && in.state == want)
			return 0;
		usleep(20000);
	}
	return -1;
}

static void read_file(const char *path, char *out, size_t n)
{
	out[0] = '\0';
	FILE *f = fopen(path, "r");
	if (!f)
		return;
	size_t k = fread(out, 1, n - 1, f);
	out[k] = '\0';
	fclose(f);
}

static void test_local_job(void **st)
{
	(void)st;
	char dir[] = "/tmp/test_batch.XXXXXX", out[128], path[160], text[256] = "", id[BATCH_ID_MAX], err[300];
	assert_non_null(mkdtemp(dir));
	snprintf(out, sizeof out, "%s/job-%%j.out", dir);
	struct batch_spec s = {.work_dir = dir, .out_path = out,
			       .ntasks = 3,
			       .script = "#!/bin/sh\necho \"in $(pwd) as $$ job $MTSLURM_LOCAL_JOB of $MTSLURM_BATCH_NTASKS\"\n"
					 "exec sleep 30\n"};
	assert_int_equal(batch_local_ops.submit(&s, id, err, sizeof err), 0);
	assert_non_null(strchr(id, '@'));
	assert_int_equal(wait_state(id, BATCH_RUNNING), 0);
	snprintf(path, sizeof path, "%s/job-%s.out", dir, id); /* %j: the job's id */
	char want[200];
	/* the script knows its job (the table's alloc_env) and its tasks */
	snprintf(want, sizeof want, "in %s as %ld job %s of 3\n", dir, strtol(id, NULL, 10), id);
	for (int i = 0; i < 750 && strcmp(text, want) != 0; i++, usleep(20000))
		read_file(path, text, sizeof text);
	assert_string_equal(text, want);
	assert_int_equal(batch_local_ops.cancel(id, err, sizeof err), 0);
	assert_int_equal(wait_state(id, BATCH_ENDED), 0);
	assert_int_equal(batch_local_ops.cancel(id, err, sizeof err), 0); /* ended: not an error */
	unlink(path);

	/* a script that ends by itself has ended */
	s.script = "#!/bin/sh\nexit 3\n";
	s.out_path = NULL;
	assert_int_equal(batch_local_ops.submit(&s, id, err, sizeof err), 0);
	assert_int_equal(wait_state(id, BATCH_ENDED), 0);

	/* one that cannot start says why */
	s.work_dir = "/nonexistent/dir";
	assert_int_equal(batch_local_ops.submit(&s, id, err, sizeof err), -1);
	assert_string_equal(err, "the local job did not start: cannot enter /nonexistent/dir: No such file or directory");
	rmdir(dir);
}

/* A job whose pid is now another process's (here: ours, with another start
 * time) has ended, and cancelling it leaves that process alone. */
static void test_local_pid_reused(void **st)
{
	(void)st;
	char id[BATCH_ID_MAX], err[300];
	struct batch_info in;
	setpgid(0, 0); /* cancel signals a process group: make ours one */
	snprintf(id, sizeof id, "%ld@1", (long)getpid());
	assert_int_equal(batch_local_ops.query(id, &in, err, sizeof err), 0);
	assert_int_equal(in.state, BATCH_ENDED);
	assert_int_equal(batch_local_ops.cancel(id, err, sizeof err), 0);
	/* still here */
	assert_int_equal(kill(getpid(), 0), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_find),	      cmocka_unit_test(test_unknown),
		cmocka_unit_test(test_auto),	      cmocka_unit_test(test_in_allocation),
		cmocka_unit_test(test_ids),	      cmocka_unit_test(test_local_job),
		cmocka_unit_test(test_local_pid_reused), cmocka_unit_test(test_pbs_walltime),
		cmocka_unit_test(test_pbs_check),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
