/* SPDX-License-Identifier: MIT */
/*
 * mpi_hello: the MPI program of the multi-rank job tests -- every rank
 * prints "rank R of N on NODE" (the Slurm node name inside Slurm) and they
 * meet in a barrier, so a rank that cannot reach the others fails the job.
 */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	MPI_Init(&argc, &argv);
	int rank, size;
	MPI_Comm_rank(MPI_COMM_WORLD, &rank);
	MPI_Comm_size(MPI_COMM_WORLD, &size);
	char host[256];
	const char *node = getenv("SLURMD_NODENAME");
	if (!node) {
		gethostname(host, sizeof host);
		host[sizeof host - 1] = '\0';
		node = host;
	}
	int sum = 0, one = 1;
	MPI_Allreduce(&one, &sum, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
	printf("rank %d of %d on %s (allreduce %d)\n", rank, size, node, sum);
	fflush(stdout);
	MPI_Finalize();
	return sum == size ? 0 : 1;
}
