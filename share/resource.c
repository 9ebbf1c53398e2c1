/* SPDX-License-Identifier: MIT */
/*
 * resource: sizes, GPU lists, `nvidia-smi -L` output and `--resource`
 * arguments, and detection of what this process may use -- see resource.h.
 */
#include "resource.h"

#include <ctype.h>
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

int resource_size_parse(const char *s, uint64_t *out_b, char *err, size_t n)
{
	if (!s || !isdigit((unsigned char)*s))
		return snprintf(err, n, "size '%s' is not a number with an optional unit K, M, G or T (8G, 512M)",
				s ? s : ""),
		       -1;
	errno = 0;
	char *end;
	unsigned long long v = strtoull(s, &end, 10);
	static const struct {
		const char *sfx;
		unsigned shift;
	} units[] = {{"", 20},	 {"b", 0},     {"k", 10},  {"kb", 10}, {"kib", 10}, {"m", 20}, {"mb", 20},
		     {"mib", 20}, {"g", 30},    {"gb", 30}, {"gib", 30}, {"t", 40},  {"tb", 40}, {"tib", 40}};
	for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
		if (strcasecmp(end, units[i].sfx) != 0)
			continue;
		if (errno || v > (UINT64_MAX >> units[i].shift))
			break;
		*out_b = (uint64_t)v << units[i].shift;
		return 0;
	}
	return snprintf(err, n, "size '%s' is not a number with an optional unit K, M, G or T (8G, 512M; a plain "
				"number is MiB)",
			s),
	       -1;
}

/* The list means "no GPU" (Slurm writes NoDevFiles; -1 hides every GPU). */
static int gpus_none(const char *list)
{
	return !*list || !strcmp(list, "NoDevFiles") || !strcasecmp(list, "none") || !strcmp(list, "-1");
}

int resource_gpus_parse(struct resource_set *r, const char *list, char *err, size_t n)
{
	struct resource_set t = {0};
	if (gpus_none(list)) {
		r->ngpus = 0;
		return 0;
	}
	for (const char *p = list;;) {
		size_t len = strcspn(p, ",");
		while (len && isspace((unsigned char)*p))
			p++, len--;
		while (len && isspace((unsigned char)p[len - 1]))
			len--;
		if (!len)
			return snprintf(err, n, "GPU list '%s' has an empty id", list), -1;
		if (len > RESOURCE_GPU_ID_MAX)
			return snprintf(err, n, "GPU id '%.*s...' is longer than %d characters", 20, p,
					RESOURCE_GPU_ID_MAX),
			       -1;
		if (t.ngpus == RESOURCE_GPUS_MAX)
			return snprintf(err, n, "GPU list '%.60s...' names more than %d GPUs", list, RESOURCE_GPUS_MAX),
			       -1;
		memcpy(t.gpus[t.ngpus], p, len);
		t.gpus[t.ngpus][len] = '\0';
		if (strspn(t.gpus[t.ngpus], RESOURCE_GPU_ID_CHARS) != len)
			return snprintf(err, n, "GPU id '%s' holds a character other than A-Z a-z 0-9 _ . : -",
					t.gpus[t.ngpus]),
			       -1;
		for (uint32_t i = 0; i < t.ngpus; i++)
			if (!strcmp(t.gpus[i], t.gpus[t.ngpus]))
				return snprintf(err, n, "GPU list '%.60s' names GPU %s twice", list, t.gpus[i]), -1;
		t.ngpus++;
		p = strchr(p, ',');
		if (!p)
			break;
		p++;
	}
	memcpy(r->gpus, t.gpus, sizeof t.gpus);
	r->ngpus = t.ngpus;
	return 0;
}

uint32_t resource_nvidia_smi_parse(struct resource_set *r, const char *out)
{
	uint32_t k = 0;
	for (const char *line = out; line && *line && k < RESOURCE_GPUS_MAX;) {
		unsigned idx;
		int used = 0;
		if (sscanf(line, "GPU %u:%n", &idx, &used) == 1 && used > 0) {
			snprintf(r->gpus[k], sizeof r->gpus[k], "%u", idx);
			k++;
		}
		line = strchr(line, '\n');
		if (line)
			line++;
	}
	r->ngpus = k;
	return k;
}

const char *resource_gpu_kind_name(int kind) { return kind == RESOURCE_GPU_AMD ? "amd" : "nvidia"; }

int resource_arg_apply(struct resource_set *r, const char *kv, char *err, size_t n)
{
	const char *eq = strchr(kv, '=');
	size_t kl = eq ? (size_t)(eq - kv) : 0;
	const char *v = eq ? eq + 1 : "";
	if (kl == 4 && !strncmp(kv, "cpus", 4)) {
		char *end;
		long c = strtol(v, &end, 10);
		if (!*v || *end || c < 1 || c > 1000000)
			return snprintf(err, n, "--resource cpus=N wants a number of CPUs from 1 to 1000000, not '%s'", v),
			       -1;
		r->cpus = (uint32_t)c;
		return 0;
	}
	if (kl == 3 && !strncmp(kv, "mem", 3)) {
		char why[200];
		if (resource_size_parse(v, &r->mem_b, why, sizeof why))
			return snprintf(err, n, "--resource mem=SIZE: %s", why), -1;
		return 0;
	}
	if (kl == 4 && !strncmp(kv, "gpus", 4)) {
		char why[200];
		if (resource_gpus_parse(r, v, why, sizeof why))
			return snprintf(err, n, "--resource gpus=ID,ID,...: %s", why), -1;
		r->gpu_from = "--resource";
		return 0;
	}
	if (kl == 8 && !strncmp(kv, "gpu-kind", 8)) {
		if (strcmp(v, "nvidia") && strcmp(v, "amd"))
			return snprintf(err, n, "--resource gpu-kind= wants nvidia or amd, not '%s'", v), -1;
		r->gpu_kind = !strcmp(v, "amd") ? RESOURCE_GPU_AMD : RESOURCE_GPU_NVIDIA;
		return 0;
	}
	return snprintf(err, n, "--resource '%s': expected cpus=N, mem=SIZE, gpus=ID,ID,... or gpu-kind=nvidia|amd",
			kv),
	       -1;
}

int resource_gpus_from_env(struct resource_set *r, const char *(*get)(const char *name), char *err, size_t n)
{
	static const struct {
		const char *var;
		int kind;
	} vars[] = {{"CUDA_VISIBLE_DEVICES", RESOURCE_GPU_NVIDIA},
		    {"ROCR_VISIBLE_DEVICES", RESOURCE_GPU_AMD},
		    {"SLURM_STEP_GPUS", RESOURCE_GPU_NVIDIA},
		    {"SLURM_JOB_GPUS", RESOURCE_GPU_NVIDIA}};
	for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
		const char *v = get(vars[i].var);
		if (!v)
			continue;
		char why[200];
		if (resource_gpus_parse(r, v, why, sizeof why))
			return snprintf(err, n, "%s: %s", vars[i].var, why), -1;
		r->gpu_kind = vars[i].kind;
		r->gpu_from = vars[i].var;
		return 1;
	}
	return 0;
}

static const char *env_get(const char *name) { return getenv(name); }

/* `nvidia-smi -L` when it is on PATH: the GPUs it lists (none if it fails). */
static void detect_nvidia_smi(struct resource_set *r)
{
	const char *path = getenv("PATH");
	char prog[4096];
	int found = 0;
	for (const char *p = path; p && *p && !found;) {
		size_t len = strcspn(p, ":");
		if (len && len + 12 < sizeof prog) {
			snprintf(prog, sizeof prog, "%.*s/nvidia-smi", (int)len, p);
			found = access(prog, X_OK) == 0;
		}
		p += len + (p[len] == ':');
	}
	if (!found)
		return;
	FILE *f = popen("nvidia-smi -L 2>/dev/null", "r");
	if (!f)
		return;
	char out[16384];
	size_t got = fread(out, 1, sizeof out - 1, f);
	out[got] = '\0';
	if (pclose(f) == 0 && resource_nvidia_smi_parse(r, out)) {
		r->gpu_kind = RESOURCE_GPU_NVIDIA;
		r->gpu_from = "nvidia-smi";
	}
}

int resource_detect(struct resource_set *r, char *err, size_t n)
{
	memset(r, 0, sizeof *r);
	if (sched_getaffinity(0, sizeof r->cpuset, &r->cpuset) == 0 && CPU_COUNT(&r->cpuset) > 0) {
		r->cpus = (uint32_t)CPU_COUNT(&r->cpuset);
	} else {
		CPU_ZERO(&r->cpuset);
		if (sysconf(_SC_NPROCESSORS_ONLN) > 0)
			r->cpus = (uint32_t)sysconf(_SC_NPROCESSORS_ONLN);
	}
	const char *mem = getenv("SLURM_MEM_PER_NODE"); /* MiB */
	long pages = sysconf(_SC_PHYS_PAGES), psz = sysconf(_SC_PAGESIZE);
	if (mem && atoll(mem) > 0)
		r->mem_b = (uint64_t)atoll(mem) << 20;
	else if (pages > 0 && psz > 0)
		r->mem_b = (uint64_t)pages * (uint64_t)psz;
	int rc = resource_gpus_from_env(r, env_get, err, n);
	if (rc < 0)
		return -1;
	if (rc == 0)
		detect_nvidia_smi(r);
	return 0;
}

void resource_share(struct resource_set *r, int rank, int share)
{
	if (share <= 1 || rank < 0 || rank >= share)
		return;
	if (CPU_COUNT(&r->cpuset) > 0)
		r->cpus = (uint32_t)resource_cpuset_share(&r->cpuset, rank, share);
	else if (r->cpus)
		r->cpus = r->cpus / (uint32_t)share ? r->cpus / (uint32_t)share : 1;
	r->mem_b /= (uint64_t)share;
	uint32_t k = 0;
	for (uint32_t i = 0; i < r->ngpus; i++)
		if (i % (uint32_t)share == (uint32_t)rank)
			memmove(r->gpus[k++], r->gpus[i], sizeof r->gpus[i]);
	r->ngpus = k;
}

int resource_cpuset_share(cpu_set_t *set, int rank, int share)
{
	int n = CPU_COUNT(set);
	if (share <= 1 || rank < 0 || rank >= share || n == 0)
		return n;
	/* this rank's block [lo, lo + len) in the order of the set's CPUs */
	int lo, len;
	if (n >= share) {
		int q = n / share, rem = n % share;
		lo = rank * q + (rank < rem ? rank : rem);
		len = q + (rank < rem);
	} else {
		lo = rank % n;
		len = 1;
	}
	int k = 0;
	for (int c = 0; c < CPU_SETSIZE; c++) {
		if (!CPU_ISSET(c, set))
			continue;
		if (k < lo || k >= lo + len)
			CPU_CLR(c, set);
		k++;
	}
	return CPU_COUNT(set);
}

/* A count 1..100000 from a variable; 0 if unset or malformed. */
static int env_count(const char *(*get)(const char *), const char *name, int zero_ok)
{
	const char *v = get(name);
	char *end;
	if (!v || !isdigit((unsigned char)*v))
		return -1;
	long x = strtol(v, &end, 10);
	if (*end || x > 100000 || (x == 0 && !zero_ok))
		return -1;
	return (int)x;
}

/* The node-th count of a Slurm task list "2(x3),1,4": -1 if malformed. */
static int slurm_tasks_on(const char *list, int node)
{
	for (const char *p = list; p && *p;) {
		char *end;
		long cnt = strtol(p, &end, 10), rep = 1;
		if (end == p || cnt < 0)
			return -1;
		p = end;
		if (!strncmp(p, "(x", 2)) {
			rep = strtol(p + 2, &end, 10);
			if (end == p + 2 || *end != ')' || rep < 1)
				return -1;
			p = end + 1;
		}
		if (node < rep)
			return (int)cnt;
		node -= (int)rep;
		if (*p == ',')
			p++;
		else if (*p)
			return -1;
	}
	return -1;
}

int resource_local_rank(const char *(*get)(const char *name), int *rank, int *size)
{
	static const char *const pairs[][2] = {{"OMPI_COMM_WORLD_LOCAL_RANK", "OMPI_COMM_WORLD_LOCAL_SIZE"},
					       {"MPI_LOCALRANKID", "MPI_LOCALNRANKS"}};
	for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
		int r = env_count(get, pairs[i][0], 1), s = env_count(get, pairs[i][1], 0);
		if (r >= 0 && s > 0 && r < s)
			return *rank = r, *size = s, 1;
	}
	int r = env_count(get, "SLURM_LOCALID", 1), node = env_count(get, "SLURM_NODEID", 1);
	int s = r >= 0 && node >= 0 ? slurm_tasks_on(get("SLURM_STEP_TASKS_PER_NODE"), node) : -1;
	if (s > 0 && r < s)
		return *rank = r, *size = s, 1;
	return 0;
}

int resource_launcher_bound(const char *(*get)(const char *name))
{
	const char *o = get("OMPI_MCA_orte_bound_at_launch"), *s = get("SLURM_CPU_BIND_TYPE");
	return (o && !strcmp(o, "1")) || (s && *s && strncmp(s, "none", 4) != 0);
}

void resource_size_format(uint64_t b, char *out, size_t n)
{
	static const char sfx[] = "BKMGT";
	int k = 0;
	while (k < 4 && b && (b & 1023) == 0) {
		b >>= 10;
		k++;
	}
	snprintf(out, n, "%llu%c", (unsigned long long)b, sfx[k]);
}
