/* SPDX-License-Identifier: MIT */
/*
 * resource: what a worker has to give jobs -- CPUs, memory, GPUs -- and the
 * text forms they come in: a size ("8G"), a GPU id list ("0,1,2,3", as
 * CUDA_VISIBLE_DEVICES and Slurm's SLURM_JOB_GPUS spell it), the output of
 * `nvidia-smi -L`, and the KEY=VALUE of `--resource` (cpus=N, mem=SIZE,
 * gpus=LIST). The parsers are pure (unit-tested without a GPU); detection
 * (resource_detect) reads this process's affinity mask, the machine's
 * memory and the GPU variables of its environment, and runs
 * `nvidia-smi -L` only when no variable names the GPUs. GPU ids stay
 * strings: they may be indices or UUIDs (GPU-...), and a job is given
 * exactly the ones it was assigned (docs/user-guide.md, "Resources").
 */
#ifndef MTS_RESOURCE_H
#define MTS_RESOURCE_H

#include <sched.h>
#include <stddef.h>
#include <stdint.h>

#define RESOURCE_GPUS_MAX 64   /* GPUs of one worker (a bit each in the master's allocator) */
#define RESOURCE_GPU_ID_MAX 63 /* characters of one GPU id */
/* What a GPU id may hold: indices, UUIDs (GPU-..., MIG-...). Nothing that
 * needs quoting in JSON or in a list of ids. */
#define RESOURCE_GPU_ID_CHARS "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.:-"

/* Which variable names a job's GPUs: CUDA_VISIBLE_DEVICES for NVIDIA's,
 * also ROCR_VISIBLE_DEVICES for AMD's. */
enum resource_gpu_kind { RESOURCE_GPU_NVIDIA = 0, RESOURCE_GPU_AMD = 1 };

struct resource_set {
	uint32_t cpus;  /* CPUs jobs may ask for; 0: unknown */
	uint64_t mem_b; /* bytes of memory; 0: unknown */
	uint32_t ngpus;
	int gpu_kind; /* enum resource_gpu_kind */
	char gpus[RESOURCE_GPUS_MAX][RESOURCE_GPU_ID_MAX + 1];
	const char *gpu_from; /* where the GPU list came from (a variable, "nvidia-smi", "--resource"), or NULL */
	cpu_set_t cpuset;     /* the CPUs --pin binds jobs to (this process's affinity, or its
			       * local rank's part of it: resource_share); empty: unknown */
};

/* A size: a number with an optional binary suffix K, M, G, T (also KB,
 * KiB, ...; case-insensitive), or a plain number of MiB as Slurm's --mem
 * takes it. 0, or -1 with why in err. */
int resource_size_parse(const char *s, uint64_t *out_b, char *err, size_t n);

/* Replace r's GPUs with the ids of a comma-separated list ("0,1,2,3",
 * "GPU-1a2b,GPU-3c4d"). "", "NoDevFiles", "none" and "-1" mean no GPU.
 * 0, or -1 with err (an empty id, one too long, more than
 * RESOURCE_GPUS_MAX, an id twice). */
int resource_gpus_parse(struct resource_set *r, const char *list, char *err, size_t n);

/* Replace r's GPUs with the indices `nvidia-smi -L` lists ("GPU 0: NVIDIA
 * A100 (UUID: GPU-...)" lines; other lines are skipped). Returns how many. */
uint32_t resource_nvidia_smi_parse(struct resource_set *r, const char *out);

/* Apply one `--resource KEY=VALUE`: cpus=N (1..1,000,000), mem=SIZE,
 * gpus=LIST (resource_gpus_parse), gpu-kind=nvidia|amd. 0, or -1 with err. */
int resource_arg_apply(struct resource_set *r, const char *kv, char *err, size_t n);

/* The GPUs named by an environment (get: getenv or a test's table):
 * CUDA_VISIBLE_DEVICES, ROCR_VISIBLE_DEVICES (AMD), then a Slurm
 * allocation's SLURM_STEP_GPUS, SLURM_JOB_GPUS. 1 if one was set (r's GPUs
 * replaced, maybe by none), 0 if none was, -1 with err if it was
 * malformed. */
int resource_gpus_from_env(struct resource_set *r, const char *(*get)(const char *name), char *err, size_t n);

/* Fill r with what this process has: CPUs of its affinity mask, memory
 * (SLURM_MEM_PER_NODE in a Slurm job, else the machine's), GPUs from the
 * environment (resource_gpus_from_env) or else `nvidia-smi -L` when that
 * is on PATH. Blocks (runs a program): call it before the event loop.
 * 0, or -1 with err (a malformed variable). */
int resource_detect(struct resource_set *r, char *err, size_t n);

/* Keep this worker's share when `share` workers run on one node
 * (mpirun's or srun's local ranks): CPUs and memory divided, the CPU set
 * split into contiguous blocks (resource_cpuset_share), GPUs dealt
 * round-robin (index % share == rank). No-op for share <= 1. */
void resource_share(struct resource_set *r, int rank, int share);

/* Keep the rank-th of share contiguous blocks of set's CPUs (the first
 * n % share ranks get one CPU more); with fewer CPUs than ranks, the
 * (rank % n)-th CPU. Returns how many CPUs set holds then. */
int resource_cpuset_share(cpu_set_t *set, int rank, int share);

/* This process's local rank and the number of ranks on its node, from its
 * launcher's variables (get: getenv or a test's table): Open MPI's
 * OMPI_COMM_WORLD_LOCAL_RANK/_SIZE, MPICH's MPI_LOCALRANKID/MPI_LOCALNRANKS,
 * or srun's SLURM_LOCALID with this node's entry (SLURM_NODEID) of
 * SLURM_STEP_TASKS_PER_NODE ("2(x3),1"). 1 with rank and size set, 0 if no
 * launcher says (or it says something malformed). */
int resource_local_rank(const char *(*get)(const char *name), int *rank, int *size);

/* 1 if the launcher bound each rank to CPUs of its own (Open MPI's
 * OMPI_MCA_orte_bound_at_launch=1, srun's SLURM_CPU_BIND_TYPE other than
 * none): the affinity is then already this rank's part, not to be split. */
int resource_launcher_bound(const char *(*get)(const char *name));

/* A size in the shortest exact form: "64M", "1G", "1536K", "1000B". */
void resource_size_format(uint64_t b, char *out, size_t n);

/* "nvidia" or "amd". */
const char *resource_gpu_kind_name(int kind);

#endif
