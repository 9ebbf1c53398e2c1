/* SPDX-License-Identifier: MIT */
/*
 * test_pbsjob: the parts of slurm/pbsjob.c that need no PBS server -- the
 * #PBS script for both resource styles, input checks, `qstat -f` answers
 * (text captured from Slurm's PBS wrappers on this machine, and samples
 * written after PBS Pro's and Torque's documentation, since no real PBS
 * server runs here), PBS Pro's `-F json`, the command runner's timeout and
 * the node file. Submitting, querying and cancelling through the real
 * wrappers run in tests/sys/t0595-pbs-cmd.sh.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pbsjob.h"

static time_t local_time(int y, int mo, int d, int h, int mi, int s)
{
	struct tm tm = {.tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h, .tm_min = mi, .tm_sec = s, .tm_isdst = -1};
	return mktime(&tm);
}

static void test_walltime(void **st)
{
	(void)st;
	assert_int_equal(pbsjob_parse_walltime("2:00:00"), 7200);
	assert_int_equal(pbsjob_parse_walltime("300"), 300); /* seconds, unlike Slurm's minutes */
	assert_int_equal(pbsjob_parse_walltime("5:30"), 330);
	assert_int_equal(pbsjob_parse_walltime("48:00:00"), 172800);
	assert_int_equal(pbsjob_parse_walltime("90:00"), 5400);
	assert_int_equal(pbsjob_parse_walltime("1:75"), -1);
	assert_int_equal(pbsjob_parse_walltime("1:2:3:4"), -1);
	assert_int_equal(pbsjob_parse_walltime("1:"), -1);
	assert_int_equal(pbsjob_parse_walltime(":5"), -1);
	assert_int_equal(pbsjob_parse_walltime("0"), -1);
	assert_int_equal(pbsjob_parse_walltime("2h"), -1);
	assert_int_equal(pbsjob_parse_walltime("1-00:00:00"), -1); /* Slurm's days form is not PBS's */
	assert_int_equal(pbsjob_parse_walltime(""), -1);
	assert_int_equal(pbsjob_parse_walltime(NULL), -1);
}

static void test_mem(void **st)
{
	(void)st;
	assert_int_equal(pbsjob_parse_mem("4000"), 4000);
	assert_int_equal(pbsjob_parse_mem("4G"), 4096);
	assert_int_equal(pbsjob_parse_mem("4gb"), 4096);
	assert_int_equal(pbsjob_parse_mem("512mb"), 512);
	assert_int_equal(pbsjob_parse_mem("1500kb"), 2);
	assert_int_equal(pbsjob_parse_mem("1t"), 1048576);
	assert_int_equal(pbsjob_parse_mem("4x"), -1);
	assert_int_equal(pbsjob_parse_mem("4gbb"), -1);
	assert_int_equal(pbsjob_parse_mem("-1"), -1);
	assert_int_equal(pbsjob_parse_mem("0"), -1);
	assert_int_equal(pbsjob_parse_mem("lots"), -1);
}

static const char *env1[] = {"MTSLURM_MASTER=127.0.0.1:7000", "Q=it's", NULL};

static void test_render_select(void **st)
{
	(void)st;
	struct pbsjob_spec s = {.name = "mts-w", .queue = "workq", .account = "proj1", .walltime = "7200",
				.style = PBSJOB_SELECT, .nodes = 2, .ncpus = 4, .mem = "4G",
				.work_dir = "/home/u/run", .out_path = "/home/u/run/w.out",
				.script = "#!/bin/bash\nexec mtslurm-worker\n", .env = env1};
	char *out, err[256];
	assert_int_equal(pbsjob_render(&s, &out, err, sizeof err), 0);
	assert_string_equal(out, "#!/bin/bash\n"
				 "#PBS -N mts-w\n"
				 "#PBS -q workq\n"
				 "#PBS -A proj1\n"
				 "#PBS -l walltime=02:00:00\n"
				 "#PBS -l select=2:ncpus=4:mem=4096mb\n"
				 "#PBS -l place=scatter\n"
				 "#PBS -o /home/u/run/w.out\n"
				 "#PBS -j oe\n"
				 "cd '/home/u/run' || exit 1\n"
				 "export MTSLURM_MASTER='127.0.0.1:7000'\n"
				 "export Q='it'\\''s'\n"
				 "exec mtslurm-worker\n");
	free(out);

	/* One chunk needs no placement; no #! gets /bin/sh; no out: /dev/null. */
	struct pbsjob_spec one = {.work_dir = "/w", .script = "true\n"};
	assert_int_equal(pbsjob_render(&one, &out, err, sizeof err), 0);
	assert_string_equal(out, "#!/bin/sh\n#PBS -l select=1:ncpus=1\n#PBS -o /dev/null\n#PBS -j oe\n"
				 "cd '/w' || exit 1\ntrue\n");
	free(out);

	/* A select statement passes through as given. */
	struct pbsjob_spec sel = {.style = PBSJOB_SELECT, .select = "2:ncpus=8:mpiprocs=8+1:ncpus=1",
				  .work_dir = "/w", .script = "true\n"};
	assert_int_equal(pbsjob_render(&sel, &out, err, sizeof err), 0);
	assert_non_null(strstr(out, "\n#PBS -l select=2:ncpus=8:mpiprocs=8+1:ncpus=1\n"));
	assert_null(strstr(out, "place="));
	free(out);
}

static void test_render_nodes(void **st)
{
	(void)st;
	struct pbsjob_spec s = {.name = "mts", .walltime = "1:30", .style = PBSJOB_NODES, .nodes = 3,
				.ncpus = 2, .mem = "1000", .work_dir = "/w", .script = "#!/bin/sh\necho hi\n"};
	char *out, err[256];
	assert_int_equal(pbsjob_render(&s, &out, err, sizeof err), 0);
	assert_string_equal(out, "#!/bin/sh\n#PBS -N mts\n#PBS -l walltime=00:01:30\n#PBS -l nodes=3:ppn=2\n"
				 "#PBS -l mem=3000mb\n#PBS -o /dev/null\n#PBS -j oe\ncd '/w' || exit 1\necho hi\n");
	free(out);
}

/* Each bad spec is refused with a line naming the field. */
static void test_render_errors(void **st)
{
	(void)st;
	static const struct {
		struct pbsjob_spec s;
		const char *says;
	} bad[] = {
		{{.name = "1job", .work_dir = "/w", .script = "x"}, "bad job name '1job'"},
		{{.name = "a b", .work_dir = "/w", .script = "x"}, "bad job name"},
		{{.queue = "q;rm", .work_dir = "/w", .script = "x"}, "bad queue 'q;rm'"},
		{{.account = "a b", .work_dir = "/w", .script = "x"}, "bad account"},
		{{.walltime = "1:75", .work_dir = "/w", .script = "x"}, "bad walltime '1:75'"},
		{{.mem = "4X", .work_dir = "/w", .script = "x"}, "bad mem '4X'"},
		{{.select = "2:ncpus=1", .nodes = 2, .work_dir = "/w", .script = "x"}, "not both"},
		{{.select = "2:ncpus=1", .style = PBSJOB_NODES, .work_dir = "/w", .script = "x"}, "Torque takes nodes"},
		{{.select = "2 ncpus", .work_dir = "/w", .script = "x"}, "bad select"},
		{{.work_dir = "rel/dir", .script = "x"}, "bad work directory 'rel/dir'"},
		{{.script = "x"}, "bad work directory '(none)'"},
		{{.work_dir = "/w", .out_path = "/a b", .script = "x"}, "bad output path"},
		{{.work_dir = "/w", .out_path = "host:/x", .script = "x"}, "bad output path"},
		{{.work_dir = "/w"}, "no job script"},
		{{.work_dir = "/w", .script = "x", .style = (enum pbsjob_style)7}, "unknown PBS resource style"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char *out = (char *)"untouched", err[256] = "";
		assert_int_equal(pbsjob_render(&bad[i].s, &out, err, sizeof err), -1);
		assert_null(out);
		if (!strstr(err, bad[i].says))
			fail_msg("case %zu: '%s' not in '%s'", i, bad[i].says, err);
		assert_null(strchr(err, '\n'));
	}
	static const char *const env_bad[] = {"1X=y", NULL};
	struct pbsjob_spec e = {.work_dir = "/w", .script = "x", .env = env_bad};
	char *out, err[256];
	assert_int_equal(pbsjob_render(&e, &out, err, sizeof err), -1);
	assert_non_null(strstr(err, "bad environment entry '1X=y'"));
	/* pbsjob_submit refuses the same way before running anything. */
	char id[64] = "x";
	struct pbsjob_spec w = {.walltime = "soon", .work_dir = "/w", .script = "x"};
	assert_int_equal(pbsjob_submit(&w, id, sizeof id, err, sizeof err), -1);
	assert_non_null(strstr(err, "bad walltime 'soon'"));
	assert_string_equal(id, "");
}

/* `qstat -f 2649` from Slurm 22.05's wrapper (slurm-wlm-torque) on this
 * machine, a running 2-node job; and the same wrapper once it ended. */
static const char wrapper_running[] =
	"Job Id:\t2649\n"
	"\tJob_Name = pbsx-a\n"
	"\tJob_Owner = root@localhost\n"
	"\tjob_state = R\n"
	"\tqueue = short\n"
	"\tqtime = Mon Nov 30 18:06:05 2026\n"
	"\tmtime = Mon Nov 30 18:06:06 2026\n"
	"\tctime = Mon Nov 30 18:09:06 2026\n"
	"\texec_host = n1/1+n2/1\n"
	"\tPriority = 4294901759\n"
	"\teuser = root(0)\n"
	"\tegroup = root(0)\n"
	"\tResource_List.walltime = 00:03:00\n"
	"\tResource_List.nodect = 2\n"
	"\tResource_List.ncpus = 2\n"
	"\n";
static const char wrapper_ended[] =
	"Job Id:\t2650\n"
	"\tJob_Name = pbsx-b\n"
	"\tJob_Owner = root@localhost\n"
	"\tjob_state = C\n"
	"\tqueue = batch\n"
	"\tqtime = Mon Nov 30 18:06:05 2026\n"
	"\tmtime = Mon Nov 30 18:06:06 2026\n"
	"\tctime = Mon Nov 30 18:06:26 2026\n"
	"\texec_host = n1/1+n2/1\n"
	"\tPriority = 4294901758\n"
	"\teuser = root(0)\n"
	"\tegroup = root(0)\n"
	"\tResource_List.walltime = 00:03:00\n"
	"\tResource_List.nodect = 2\n"
	"\tResource_List.ncpus = 2\n"
	"\n";

static void test_parse_wrapper(void **st)
{
	(void)st;
	struct pbsjob_info in;
	char err[256];
	assert_int_equal(pbsjob_parse_qstat(wrapper_running, &in, err, sizeof err), 0);
	assert_int_equal(in.state, PBSJOB_RUNNING);
	assert_int_equal(in.state_letter, 'R');
	assert_string_equal(in.state_name, "RUNNING");
	assert_string_equal(in.nodes, "n1,n2");
	assert_int_equal(in.nnodes, 2);
	assert_int_equal(in.ncpus, 2);
	assert_string_equal(in.queue, "short");
	assert_int_equal(in.walltime_s, 180);
	/* The wrapper prints Slurm's start and end as mtime and ctime. */
	assert_int_equal(in.start, local_time(2026, 11, 30, 18, 6, 6));
	assert_int_equal(in.end, local_time(2026, 11, 30, 18, 9, 6));
	assert_string_equal(in.reason, "");

	assert_int_equal(pbsjob_parse_qstat(wrapper_ended, &in, err, sizeof err), 0);
	assert_int_equal(in.state, PBSJOB_ENDED);
	assert_string_equal(in.state_name, "COMPLETED");
	assert_int_equal(in.end, local_time(2026, 11, 30, 18, 6, 26));
}

/* PBS Pro / OpenPBS `qstat -f`, after the Reference Guide's layout: four
 * spaces before each attribute, long values wrapped onto tab-led lines
 * (the break may fall inside a word), mtime/ctime meaning modified and
 * created, stime the start. */
static const char pbspro_running[] =
	"Job Id: 1234.pbs01\n"
	"    Job_Name = mts-w\n"
	"    Job_Owner = user1@login1\n"
	"    resources_used.walltime = 00:10:00\n"
	"    job_state = R\n"
	"    queue = workq\n"
	"    server = pbs01\n"
	"    Checkpoint = u\n"
	"    ctime = Mon Nov 30 09:59:00 2026\n"
	"    Error_Path = login1:/home/user1/mts-w.e1234\n"
	"    exec_host = cn0101/0*4+cn0102/0*4+cn0103/0*4+cn0104/0*4+cn0105/0*4+cn01\n"
	"\t06/0*4\n"
	"    exec_vnode = (cn0101:ncpus=4:mem=4194304kb)+(cn0102:ncpus=4:mem=41943\n"
	"\t04kb)\n"
	"    mtime = Mon Nov 30 10:05:00 2026\n"
	"    Resource_List.ncpus = 24\n"
	"    Resource_List.nodect = 6\n"
	"    Resource_List.place = scatter\n"
	"    Resource_List.select = 6:ncpus=4:mem=4gb\n"
	"    Resource_List.walltime = 02:00:00\n"
	"    stime = Mon Nov 30 10:00:00 2026\n"
	"    session_id = 4242\n"
	"    comment = Job run at Mon Nov 30 at 10:00 on (cn0101:ncpus=4:mem=4194304kb)+\n"
	"\t(cn0102:ncpus=4:mem=4194304kb)\n"
	"    etime = Mon Nov 30 09:59:00 2026\n"
	"    Submit_arguments = -j oe -o /home/user1/w.out mts-w.pbs.Ab12Cd\n"
	"\n";
static const char pbspro_queued[] =
	"Job Id: 1235.pbs01\n"
	"    Job_Name = mts-w\n"
	"    job_state = Q\n"
	"    queue = workq\n"
	"    server = pbs01\n"
	"    ctime = Mon Nov 30 09:59:00 2026\n"
	"    mtime = Mon Nov 30 09:59:30 2026\n"
	"    Resource_List.nodect = 64\n"
	"    Resource_List.walltime = 01:00:00\n"
	"    comment = Not Running: Insufficient amount of resource: ncpus (R: 256 A: 24 T\n"
	"\t: 24)\n"
	"    estimated.start_time = Mon Nov 30 12:00:00 2026\n"
	"\n";
/* `qstat -x -f` of a finished job (PBS Pro's job history). */
static const char pbspro_finished[] =
	"Job Id: 1236.pbs01\n"
	"    job_state = F\n"
	"    queue = workq\n"
	"    server = pbs01\n"
	"    ctime = Mon Nov 30 09:00:00 2026\n"
	"    exec_host = cn0101/0\n"
	"    Resource_List.walltime = 01:00:00\n"
	"    stime = Mon Nov 30 09:01:00 2026\n"
	"    obittime = Mon Nov 30 09:31:00 2026\n"
	"    Exit_status = 0\n"
	"\n";

static void test_parse_pbspro(void **st)
{
	(void)st;
	struct pbsjob_info in;
	char err[256];
	assert_int_equal(pbsjob_parse_qstat(pbspro_running, &in, err, sizeof err), 0);
	assert_int_equal(in.state, PBSJOB_RUNNING);
	assert_string_equal(in.nodes, "cn0101,cn0102,cn0103,cn0104,cn0105,cn0106"); /* joined across the wrap */
	assert_int_equal(in.nnodes, 6);
	assert_int_equal(in.ncpus, 24);
	assert_int_equal(in.walltime_s, 7200);
	assert_int_equal(in.start, local_time(2026, 11, 30, 10, 0, 0)); /* stime, not mtime */
	assert_int_equal(in.end, local_time(2026, 11, 30, 12, 0, 0));   /* start + walltime, not ctime */
	assert_string_equal(in.reason,
			    "Job run at Mon Nov 30 at 10:00 on (cn0101:ncpus=4:mem=4194304kb)+(cn0102:ncpus=4:mem=4194304kb)");

	assert_int_equal(pbsjob_parse_qstat(pbspro_queued, &in, err, sizeof err), 0);
	assert_int_equal(in.state, PBSJOB_PENDING);
	assert_string_equal(in.state_name, "QUEUED");
	assert_string_equal(in.nodes, "");
	assert_int_equal(in.nnodes, 64); /* asked for */
	assert_string_equal(in.reason, "Not Running: Insufficient amount of resource: ncpus (R: 256 A: 24 T: 24)");
	assert_int_equal(in.start, local_time(2026, 11, 30, 12, 0, 0));
	assert_int_equal(in.end, local_time(2026, 11, 30, 13, 0, 0));

	assert_int_equal(pbsjob_parse_qstat(pbspro_finished, &in, err, sizeof err), 0);
	assert_int_equal(in.state, PBSJOB_ENDED);
	assert_string_equal(in.state_name, "FINISHED");
	assert_int_equal(in.end, local_time(2026, 11, 30, 9, 31, 0)); /* obittime */
}

/* Torque's `qstat -f`: exec_host names a host once per slot, or (Torque
 * 5+) with slot ranges; start_time and comp_time. */
static const char torque_completed[] =
	"Job Id: 42.torque01.example.org\n"
	"    Job_Name = mts-w\n"
	"    Job_Owner = user@login.example.org\n"
	"    job_state = C\n"
	"    queue = batch\n"
	"    server = torque01.example.org\n"
	"    ctime = Mon Nov 30 09:58:00 2026\n"
	"    exec_host = node01/0+node01/1+node02/0+node02/1\n"
	"    Resource_List.nodes = 2:ppn=2\n"
	"    Resource_List.walltime = 01:00:00\n"
	"    start_time = Mon Nov 30 10:00:00 2026\n"
	"    comp_time = Mon Nov 30 10:01:30 2026\n"
	"    exit_status = 0\n"
	"\n";
static const char torque_running[] =
	"Job Id: 43.torque01.example.org\n"
	"    job_state = R\n"
	"    queue = batch\n"
	"    server = torque01.example.org\n"
	"    ctime = Mon Nov 30 09:58:00 2026\n"
	"    exec_host = node03/0-3+node04/0-3\n"
	"    Resource_List.walltime = 00:30:00\n"
	"    start_time = 1796040000\n"
	"\n";

static void test_parse_torque(void **st)
{
	(void)st;
	struct pbsjob_info in;
	char err[256];
	assert_int_equal(pbsjob_parse_qstat(torque_completed, &in, err, sizeof err), 0);
	assert_int_equal(in.state, PBSJOB_ENDED);
	assert_string_equal(in.state_name, "COMPLETED");
	assert_string_equal(in.nodes, "node01,node02");
	assert_int_equal(in.nnodes, 2);
	assert_int_equal(in.start, local_time(2026, 11, 30, 10, 0, 0));
	assert_int_equal(in.end, local_time(2026, 11, 30, 10, 1, 30));

	assert_int_equal(pbsjob_parse_qstat(torque_running, &in, err, sizeof err), 0);
	assert_int_equal(in.state, PBSJOB_RUNNING);
	assert_string_equal(in.nodes, "node03,node04");
	assert_int_equal(in.start, 1796040000);
	assert_int_equal(in.end, 1796040000 + 1800);

	/* Only the first job counts; no job at all is an error. */
	char two[2048];
	snprintf(two, sizeof two, "%s%s", torque_running, torque_completed);
	assert_int_equal(pbsjob_parse_qstat(two, &in, err, sizeof err), 0);
	assert_int_equal(in.state, PBSJOB_RUNNING);
	assert_int_equal(pbsjob_parse_qstat("", &in, err, sizeof err), -1);
	assert_non_null(strstr(err, "no job"));
	assert_int_equal(pbsjob_parse_qstat("Job Id: 5\n    queue = q\n", &in, err, sizeof err), -1);
}

/* PBS Pro's `qstat -f -F json ID`, in the layout OpenPBS prints. */
static const char pbspro_json[] =
	"{\n"
	"    \"timestamp\":1796040300,\n"
	"    \"pbs_version\":\"2021.1.3\",\n"
	"    \"pbs_server\":\"pbs01\",\n"
	"    \"Jobs\":{\n"
	"        \"1234.pbs01\":{\n"
	"            \"Job_Name\":\"mts-w\",\n"
	"            \"job_state\":\"R\",\n"
	"            \"queue\":\"workq\",\n"
	"            \"server\":\"pbs01\",\n"
	"            \"ctime\":\"Mon Nov 30 09:59:00 2026\",\n"
	"            \"exec_host\":\"cn0101\\/0*4+cn0102\\/0*4\",\n"
	"            \"exec_vnode\":\"(cn0101:ncpus=4)+(cn0102:ncpus=4)\",\n"
	"            \"mtime\":\"Mon Nov 30 10:05:00 2026\",\n"
	"            \"Resource_List\":{\n"
	"                \"ncpus\":8,\n"
	"                \"nodect\":2,\n"
	"                \"place\":\"scatter\",\n"
	"                \"select\":\"2:ncpus=4\",\n"
	"                \"walltime\":\"02:00:00\"\n"
	"            },\n"
	"            \"stime\":\"Mon Nov 30 10:00:00 2026\",\n"
	"            \"comment\":\"Job run at Mon Nov 30 at 10:00\",\n"
	"            \"Variable_List\":{\n"
	"                \"PBS_O_HOME\":\"\\/home\\/user1\"\n"
	"            }\n"
	"        }\n"
	"    }\n"
	"}\n";

static void test_parse_json(void **st)
{
	(void)st;
	struct pbsjob_info in;
	char err[256];
	assert_int_equal(pbsjob_parse_qstat_json(pbspro_json, &in, err, sizeof err), 0);
	assert_int_equal(in.state, PBSJOB_RUNNING);
	assert_string_equal(in.nodes, "cn0101,cn0102");
	assert_int_equal(in.ncpus, 8);
	assert_int_equal(in.walltime_s, 7200);
	assert_string_equal(in.queue, "workq");
	assert_string_equal(in.reason, "Job run at Mon Nov 30 at 10:00");
	assert_int_equal(in.start, local_time(2026, 11, 30, 10, 0, 0));
	assert_int_equal(in.end, local_time(2026, 11, 30, 12, 0, 0));
	assert_int_equal(pbsjob_parse_qstat_json("{\"timestamp\":1}", &in, err, sizeof err), -1);
	assert_non_null(strstr(err, "no job"));
	assert_int_equal(pbsjob_parse_qstat_json("Unknown option: F", &in, err, sizeof err), -1);
	assert_non_null(strstr(err, "no JSON"));
}

static long long ms_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void test_run(void **st)
{
	(void)st;
	struct pbsjob_cmd r;
	char err[256];
	const char *sh[] = {"sh", "-c", "echo out; echo err >&2; pwd; exit 3", NULL};
	assert_int_equal(pbsjob_run(sh, "/tmp", 5000, &r, err, sizeof err), 0);
	assert_int_equal(r.status, 3);
	assert_string_equal(r.out, "out\n/tmp\n");
	assert_string_equal(r.errout, "err\n");
	pbsjob_cmd_release(&r);

	const char *none[] = {"mtslurm-no-such-command", NULL};
	assert_int_equal(pbsjob_run(none, NULL, 5000, &r, err, sizeof err), -1);
	assert_string_equal(err, "mtslurm-no-such-command: not found on PATH");
	assert_int_equal(pbsjob_run(sh, "/nonexistent/dir", 5000, &r, err, sizeof err), -1);
	assert_non_null(strstr(err, "/nonexistent/dir"));
}

/* pid is gone, or a zombie (killed; an init that does not reap keeps it). */
static int dead(pid_t pid)
{
	for (int i = 0; i < 100; i++) {
		if (kill(pid, 0) != 0)
			return 1;
		usleep(20000);
	}
	char path[64], stat[256] = "";
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "r");
	if (f) {
		if (!fgets(stat, sizeof stat, f))
			stat[0] = '\0';
		fclose(f);
	}
	return strstr(stat, ") Z ") != NULL;
}

/* A command that outlives its time is killed with everything it started
 * (its process group), and the call returns at the deadline. */
static void test_run_timeout(void **st)
{
	(void)st;
	struct pbsjob_cmd r;
	char err[256];
	const char *sh[] = {"sh", "-c", "sleep 30 & echo $!; wait", NULL};
	long long t0 = ms_now();
	assert_int_equal(pbsjob_run(sh, NULL, 300, &r, err, sizeof err), 0);
	long long took = ms_now() - t0;
	assert_int_equal(r.status, -1);
	assert_true(took >= 300 && took < 5000);
	pid_t grandchild = (pid_t)atoi(r.out);
	assert_true(grandchild > 0);
	assert_true(dead(grandchild));
	pbsjob_cmd_release(&r);

	/* One that exits in time keeps its status, even when something it
	 * left behind holds its output open; that is killed. */
	const char *left[] = {"sh", "-c", "sleep 30 & echo $!; exit 4", NULL};
	assert_int_equal(pbsjob_run(left, NULL, 300, &r, err, sizeof err), 0);
	assert_int_equal(r.status, 4);
	grandchild = (pid_t)atoi(r.out);
	assert_true(grandchild > 0);
	assert_true(dead(grandchild));
	pbsjob_cmd_release(&r);
}

static void test_nodefile(void **st)
{
	(void)st;
	char path[] = "/tmp/test_pbsjob.XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	const char text[] = "n1\nn1\nn2\n\n  n3  \nn1\n";
	assert_int_equal(write(fd, text, sizeof text - 1), (ssize_t)(sizeof text - 1));
	close(fd);
	struct pbsjob_host *h;
	size_t n;
	char err[256];
	assert_int_equal(pbsjob_nodefile(path, &h, &n, err, sizeof err), 0);
	assert_int_equal(n, 3);
	assert_string_equal(h[0].name, "n1");
	assert_int_equal(h[0].slots, 3);
	assert_string_equal(h[1].name, "n2");
	assert_int_equal(h[1].slots, 1);
	assert_string_equal(h[2].name, "n3");
	free(h);

	setenv("PBS_NODEFILE", path, 1);
	assert_int_equal(pbsjob_nodefile(NULL, &h, &n, err, sizeof err), 0);
	assert_int_equal(n, 3);
	free(h);

	fd = open(path, O_WRONLY | O_TRUNC);
	assert_int_equal(write(fd, "\n\n", 2), 2);
	close(fd);
	assert_int_equal(pbsjob_nodefile(path, &h, &n, err, sizeof err), -1);
	assert_non_null(strstr(err, "names no host"));
	unlink(path);
	assert_int_equal(pbsjob_nodefile(path, &h, &n, err, sizeof err), -1);
	assert_non_null(strstr(err, "cannot read the PBS node file"));
	assert_null(h);
	unsetenv("PBS_NODEFILE");
	assert_int_equal(pbsjob_nodefile(NULL, &h, &n, err, sizeof err), -1);
	assert_string_equal(err, "PBS_NODEFILE is not set: not inside a PBS job");
}

/* Ids that could be read as options never reach qstat or qdel. */
static void test_bad_id(void **st)
{
	(void)st;
	struct pbsjob_info in;
	char err[256];
	assert_int_equal(pbsjob_query("-f", &in, err, sizeof err), -1);
	assert_non_null(strstr(err, "bad PBS job id '-f'"));
	assert_int_equal(pbsjob_cancel("12 13", err, sizeof err), -1);
	assert_non_null(strstr(err, "bad PBS job id"));
	assert_int_equal(pbsjob_query(NULL, &in, err, sizeof err), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_walltime),      cmocka_unit_test(test_mem),
		cmocka_unit_test(test_render_select), cmocka_unit_test(test_render_nodes),
		cmocka_unit_test(test_render_errors), cmocka_unit_test(test_parse_wrapper),
		cmocka_unit_test(test_parse_pbspro),  cmocka_unit_test(test_parse_torque),
		cmocka_unit_test(test_parse_json),    cmocka_unit_test(test_run),
		cmocka_unit_test(test_run_timeout),   cmocka_unit_test(test_nodefile),
		cmocka_unit_test(test_bad_id),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
