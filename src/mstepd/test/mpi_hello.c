/*
 * mpi_hello.c - the MPI program test_pmi runs under its PMI server:
 * MPI_Init, an MPI_Allreduce whose result every rank checks, the size of
 * its node-local communicator (which MPICH derives from
 * PMI_process_mapping), and MPI_Finalize.
 *
 *   mpi_hello            print "rank R size S sum X local L" and exit 0
 *                        when the sum is right, 3 when it is not
 *   mpi_hello abort N    the last rank calls MPI_Abort(N) after MPI_Init;
 *                        the others wait in a barrier
 *
 * Built with mpicc; not part of Meridian itself.
 */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
	int rank, size, local, mine, sum = 0;
	MPI_Comm node;

	if (MPI_Init(&argc, &argv) != MPI_SUCCESS)
		return 2;
	MPI_Comm_rank(MPI_COMM_WORLD, &rank);
	MPI_Comm_size(MPI_COMM_WORLD, &size);
	if (argc > 2 && !strcmp(argv[1], "abort")) {
		if (rank == size - 1)
			MPI_Abort(MPI_COMM_WORLD, atoi(argv[2]));
		MPI_Barrier(MPI_COMM_WORLD); /* never returns: the step ends */
	}
	mine = rank + 1;
	MPI_Allreduce(&mine, &sum, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
	MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0,
			    MPI_INFO_NULL, &node);
	MPI_Comm_size(node, &local);
	MPI_Comm_free(&node);
	printf("rank %d size %d sum %d local %d\n", rank, size, sum, local);
	fflush(stdout);
	MPI_Finalize();
	return sum == size * (size + 1) / 2 ? 0 : 3;
}
