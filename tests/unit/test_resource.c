/* SPDX-License-Identifier: MIT */
/* Unit tests for share/resource: sizes, GPU id lists (CUDA_VISIBLE_DEVICES
 * and Slurm's spellings), `nvidia-smi -L` output, `--resource KEY=VALUE`,
 * GPU detection from an environment (a table here, nothing of this
 * machine's), and the share of a node that each of its workers takes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "resource.h"

static void test_sizes(void **st)
{
	(void)st;
	char err[200];
	uint64_t b = 0;
	assert_int_equal(resource_size_parse("8G", &b, err, sizeof err), 0);
	assert_true(b == 8ull << 30);
	assert_int_equal(resource_size_parse("512m", &b, err, sizeof err), 0);
	assert_true(b == 512ull << 20);
	assert_int_equal(resource_size_parse("100KiB", &b, err, sizeof err), 0);
	assert_true(b == 100ull << 10);
	assert_int_equal(resource_size_parse("2TB", &b, err, sizeof err), 0);
	assert_true(b == 2ull << 40);
	assert_int_equal(resource_size_parse("1000", &b, err, sizeof err), 0); /* MiB, as Slurm */
	assert_true(b == 1000ull << 20);
	assert_int_equal(resource_size_parse("77b", &b, err, sizeof err), 0);
	assert_true(b == 77);
	const char *bad[] = {"", "G", "-1G", "8Q", "8 G", "1.5G", "99999999999999999999T", "20000000T"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		err[0] = '\0';
		assert_int_equal(resource_size_parse(bad[i], &b, err, sizeof err), -1);
		assert_non_null(strstr(err, "not a number with an optional unit"));
	}
	assert_int_equal(resource_size_parse(NULL, &b, err, sizeof err), -1);
}

static void test_gpu_lists(void **st)
{
	(void)st;
	struct resource_set r = {0};
	char err[200];
	assert_int_equal(resource_gpus_parse(&r, "0,1,2,3", err, sizeof err), 0);
	assert_int_equal(r.ngpus, 4);
	assert_string_equal(r.gpus[0], "0");
	assert_string_equal(r.gpus[3], "3");
	assert_int_equal(resource_gpus_parse(&r, " GPU-1a2b , MIG-9f:1 ", err, sizeof err), 0);
	assert_int_equal(r.ngpus, 2);
	assert_string_equal(r.gpus[0], "GPU-1a2b");
	assert_string_equal(r.gpus[1], "MIG-9f:1");
	const char *none[] = {"", "NoDevFiles", "none", "-1"};
	for (size_t i = 0; i < 4; i++) {
		r.ngpus = 3;
		assert_int_equal(resource_gpus_parse(&r, none[i], err, sizeof err), 0);
		assert_int_equal(r.ngpus, 0);
	}
	/* a bad list leaves the set as it was */
	assert_int_equal(resource_gpus_parse(&r, "4,5", err, sizeof err), 0);
	assert_int_equal(resource_gpus_parse(&r, "0,,1", err, sizeof err), -1);
	assert_non_null(strstr(err, "empty id"));
	assert_int_equal(resource_gpus_parse(&r, "0,1,0", err, sizeof err), -1);
	assert_non_null(strstr(err, "names GPU 0 twice"));
	assert_int_equal(resource_gpus_parse(&r, "a\"b", err, sizeof err), -1);
	assert_non_null(strstr(err, "holds a character"));
	assert_int_equal(r.ngpus, 2);
	assert_string_equal(r.gpus[0], "4");
	char many[1024] = "";
	for (int i = 0; i < 65; i++)
		snprintf(many + strlen(many), sizeof many - strlen(many), "%s%d", i ? "," : "", i);
	assert_int_equal(resource_gpus_parse(&r, many, err, sizeof err), -1);
	assert_non_null(strstr(err, "more than 64"));
	*strrchr(many, ',') = '\0'; /* 64 of them fit */
	assert_int_equal(resource_gpus_parse(&r, many, err, sizeof err), 0);
	assert_int_equal(r.ngpus, 64);
}

static void test_nvidia_smi(void **st)
{
	(void)st;
	struct resource_set r = {0};
	const char *out = "GPU 0: NVIDIA A100-SXM4-40GB (UUID: GPU-5d2c...)\n"
			  "  MIG 1g.5gb Device 0: (UUID: MIG-aa)\n"
			  "GPU 1: NVIDIA A100-SXM4-40GB (UUID: GPU-7e1f...)\n"
			  "GPU 3: Tesla V100 (UUID: GPU-x)";
	assert_int_equal(resource_nvidia_smi_parse(&r, out), 3);
	assert_string_equal(r.gpus[0], "0");
	assert_string_equal(r.gpus[1], "1");
	assert_string_equal(r.gpus[2], "3");
	assert_int_equal(resource_nvidia_smi_parse(&r, "No devices were found\n"), 0);
	assert_int_equal(r.ngpus, 0);
}

/* A fake environment for resource_gpus_from_env. */
static const char *const *fake_env;
static const char *fake_get(const char *name)
{
	for (size_t i = 0; fake_env[i]; i += 2)
		if (!strcmp(fake_env[i], name))
			return fake_env[i + 1];
	return NULL;
}

static void test_gpus_from_env(void **st)
{
	(void)st;
	struct resource_set r = {0};
	char err[200];
	const char *none[] = {"PATH", "/bin", NULL};
	fake_env = none;
	assert_int_equal(resource_gpus_from_env(&r, fake_get, err, sizeof err), 0);
	const char *cuda[] = {"SLURM_JOB_GPUS", "4,5,6", "CUDA_VISIBLE_DEVICES", "2,3", NULL};
	fake_env = cuda; /* CUDA_VISIBLE_DEVICES first: the numbering jobs use */
	assert_int_equal(resource_gpus_from_env(&r, fake_get, err, sizeof err), 1);
	assert_int_equal(r.ngpus, 2);
	assert_string_equal(r.gpus[1], "3");
	assert_int_equal(r.gpu_kind, RESOURCE_GPU_NVIDIA);
	assert_string_equal(r.gpu_from, "CUDA_VISIBLE_DEVICES");
	const char *rocr[] = {"ROCR_VISIBLE_DEVICES", "0,1,2", NULL};
	fake_env = rocr;
	assert_int_equal(resource_gpus_from_env(&r, fake_get, err, sizeof err), 1);
	assert_int_equal(r.ngpus, 3);
	assert_int_equal(r.gpu_kind, RESOURCE_GPU_AMD);
	const char *slurm[] = {"SLURM_JOB_GPUS", "4,5,6", "SLURM_STEP_GPUS", "5", NULL};
	fake_env = slurm; /* the step's own GPUs before the whole job's */
	assert_int_equal(resource_gpus_from_env(&r, fake_get, err, sizeof err), 1);
	assert_int_equal(r.ngpus, 1);
	assert_string_equal(r.gpus[0], "5");
	assert_string_equal(r.gpu_from, "SLURM_STEP_GPUS");
	const char *hidden[] = {"CUDA_VISIBLE_DEVICES", "", "SLURM_JOB_GPUS", "0", NULL};
	fake_env = hidden; /* an empty CUDA_VISIBLE_DEVICES hides every GPU */
	assert_int_equal(resource_gpus_from_env(&r, fake_get, err, sizeof err), 1);
	assert_int_equal(r.ngpus, 0);
	const char *bad[] = {"CUDA_VISIBLE_DEVICES", "0,0", NULL};
	fake_env = bad;
	assert_int_equal(resource_gpus_from_env(&r, fake_get, err, sizeof err), -1);
	assert_non_null(strstr(err, "CUDA_VISIBLE_DEVICES: "));
}

static void test_arg_apply(void **st)
{
	(void)st;
	struct resource_set r = {0};
	char err[300];
	assert_int_equal(resource_arg_apply(&r, "gpus=0,1,2,3", err, sizeof err), 0);
	assert_int_equal(r.ngpus, 4);
	assert_string_equal(r.gpu_from, "--resource");
	assert_int_equal(resource_arg_apply(&r, "cpus=12", err, sizeof err), 0);
	assert_int_equal(r.cpus, 12);
	assert_int_equal(resource_arg_apply(&r, "mem=64G", err, sizeof err), 0);
	assert_true(r.mem_b == 64ull << 30);
	assert_int_equal(resource_arg_apply(&r, "gpu-kind=amd", err, sizeof err), 0);
	assert_int_equal(r.gpu_kind, RESOURCE_GPU_AMD);
	assert_int_equal(resource_arg_apply(&r, "cpus=0", err, sizeof err), -1);
	assert_non_null(strstr(err, "cpus=N"));
	assert_int_equal(resource_arg_apply(&r, "mem=lots", err, sizeof err), -1);
	assert_non_null(strstr(err, "mem=SIZE"));
	assert_int_equal(resource_arg_apply(&r, "gpu=1", err, sizeof err), -1);
	assert_non_null(strstr(err, "expected cpus=N"));
	assert_int_equal(resource_arg_apply(&r, "gpus", err, sizeof err), -1);
	assert_int_equal(r.cpus, 12);
}

static void test_share(void **st)
{
	(void)st;
	struct resource_set r = {0};
	char err[200];
	assert_int_equal(resource_gpus_parse(&r, "0,1,2,3,4", err, sizeof err), 0);
	r.cpus = 9;
	r.mem_b = 300;
	struct resource_set a = r, b = r, one = r;
	resource_share(&a, 0, 2);
	resource_share(&b, 1, 2);
	resource_share(&one, 0, 1);
	assert_int_equal(a.ngpus, 3);
	assert_string_equal(a.gpus[1], "2");
	assert_int_equal(b.ngpus, 2);
	assert_string_equal(b.gpus[0], "1");
	assert_string_equal(b.gpus[1], "3");
	assert_int_equal(a.cpus, 4);
	assert_true(a.mem_b == 150);
	assert_int_equal(one.ngpus, 5);
	assert_int_equal(one.cpus, 9);
	struct resource_set c = r;
	c.cpus = 1;
	resource_share(&c, 2, 4); /* never below one CPU */
	assert_int_equal(c.cpus, 1);
}

static void test_cpuset_share(void **st)
{
	(void)st;
	cpu_set_t all, s;
	CPU_ZERO(&all);
	for (int c = 2; c < 9; c++) /* 7 CPUs: 2..8 */
		CPU_SET(c, &all);
	s = all;
	assert_int_equal(resource_cpuset_share(&s, 0, 2), 4); /* 2 3 4 5 */
	assert_true(CPU_ISSET(2, &s) && CPU_ISSET(5, &s) && !CPU_ISSET(6, &s));
	s = all;
	assert_int_equal(resource_cpuset_share(&s, 1, 2), 3); /* 6 7 8 */
	assert_true(CPU_ISSET(6, &s) && CPU_ISSET(8, &s) && !CPU_ISSET(5, &s));
	CPU_ZERO(&all);
	CPU_SET(0, &all);
	CPU_SET(1, &all);
	s = all; /* 2 CPUs, 2 ranks: one each, disjoint */
	assert_int_equal(resource_cpuset_share(&s, 0, 2), 1);
	assert_true(CPU_ISSET(0, &s));
	s = all;
	assert_int_equal(resource_cpuset_share(&s, 1, 2), 1);
	assert_true(CPU_ISSET(1, &s));
	s = all; /* more ranks than CPUs: round robin */
	assert_int_equal(resource_cpuset_share(&s, 2, 3), 1);
	assert_true(CPU_ISSET(0, &s));
	struct resource_set r = {0};
	r.cpuset = all;
	r.cpus = 2;
	r.mem_b = 1000;
	resource_share(&r, 1, 2);
	assert_int_equal(r.cpus, 1);
	assert_true(CPU_ISSET(1, &r.cpuset) && !CPU_ISSET(0, &r.cpuset));
}

static void test_local_rank(void **st)
{
	(void)st;
	int rank = -1, size = -1;
	static const char *const none[] = {NULL};
	fake_env = none;
	assert_int_equal(resource_local_rank(fake_get, &rank, &size), 0);
	assert_int_equal(resource_launcher_bound(fake_get), 0);
	static const char *const ompi[] = {"OMPI_COMM_WORLD_LOCAL_RANK", "1", "OMPI_COMM_WORLD_LOCAL_SIZE", "2",
					   "OMPI_MCA_orte_bound_at_launch", "1", NULL};
	fake_env = ompi;
	assert_int_equal(resource_local_rank(fake_get, &rank, &size), 1);
	assert_int_equal(rank, 1);
	assert_int_equal(size, 2);
	assert_int_equal(resource_launcher_bound(fake_get), 1);
	static const char *const mpich[] = {"MPI_LOCALRANKID", "0", "MPI_LOCALNRANKS", "4", NULL};
	fake_env = mpich;
	assert_int_equal(resource_local_rank(fake_get, &rank, &size), 1);
	assert_int_equal(rank * 10 + size, 4);
	/* srun: node 3 of "2(x3),5" runs 5 tasks */
	static const char *const srun[] = {"SLURM_LOCALID", "4", "SLURM_NODEID", "3", "SLURM_STEP_TASKS_PER_NODE",
					   "2(x3),5", "SLURM_CPU_BIND_TYPE", "none", NULL};
	fake_env = srun;
	assert_int_equal(resource_local_rank(fake_get, &rank, &size), 1);
	assert_int_equal(rank * 10 + size, 45);
	assert_int_equal(resource_launcher_bound(fake_get), 0);
	static const char *const srun1[] = {"SLURM_LOCALID", "1", "SLURM_NODEID", "1", "SLURM_STEP_TASKS_PER_NODE",
					    "2(x3),5", "SLURM_CPU_BIND_TYPE", "mask_cpu:", NULL};
	fake_env = srun1;
	assert_int_equal(resource_local_rank(fake_get, &rank, &size), 1);
	assert_int_equal(rank * 10 + size, 12);
	assert_int_equal(resource_launcher_bound(fake_get), 1);
	static const char *const bad[] = {"SLURM_LOCALID", "1", "SLURM_NODEID", "9", "SLURM_STEP_TASKS_PER_NODE",
					  "2(x3),5", "OMPI_COMM_WORLD_LOCAL_RANK", "2", "OMPI_COMM_WORLD_LOCAL_SIZE",
					  "2", NULL};
	fake_env = bad; /* a node past the list; a rank not below its size */
	assert_int_equal(resource_local_rank(fake_get, &rank, &size), 0);
	char out[32];
	resource_size_format(64 << 20, out, sizeof out);
	assert_string_equal(out, "64M");
	resource_size_format(1ull << 30, out, sizeof out);
	assert_string_equal(out, "1G");
	resource_size_format(1536 << 10, out, sizeof out);
	assert_string_equal(out, "1536K");
	resource_size_format(1000, out, sizeof out);
	assert_string_equal(out, "1000B");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sizes),	     cmocka_unit_test(test_gpu_lists), cmocka_unit_test(test_nvidia_smi),
		cmocka_unit_test(test_gpus_from_env), cmocka_unit_test(test_arg_apply), cmocka_unit_test(test_share),
		cmocka_unit_test(test_cpuset_share),   cmocka_unit_test(test_local_rank),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
