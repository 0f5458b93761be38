/*
 * nccl_allreduce.cu - NCCL allreduce across the ranks of an MPI job, one
 * GPU per rank: rank 0 makes the ncclUniqueId and MPI_Bcast hands it to
 * the others (how NCCL training code bootstraps under mpirun or mrun),
 * then every rank allreduces float buffers of several sizes, checks the
 * result element by element, and rank 0 prints the bandwidth:
 *
 *   mrun -N 2 --gpus-per-task=1 --ntasks-per-node=4 ./nccl_allreduce
 *   [--iters N] [--max-bytes B]
 *
 *   nccl_allreduce: 8 ranks, NCCL 2.x.y
 *   rank 0 on gpu07: GPU 0 (0000:07:00.0)
 *   ...
 *        bytes    time_us   algbw_GB/s   busbw_GB/s
 *         1024       21.3         0.05         0.08
 *   ...
 *   nccl_allreduce: all results correct
 *
 * A rank's GPU is its local rank (ranks sharing its node, from MPI's
 * shared-memory communicator) among the devices it sees, so with
 * CUDA_VISIBLE_DEVICES set to one GPU per rank every rank uses device 0.
 * busbw = algbw * 2(n-1)/n, as nccl-tests reports it: the bandwidth each
 * link of a ring must carry.  Exit 0 when every result was right, 1 when
 * one was not, 2 on a bad option; a CUDA, NCCL or MPI failure aborts the
 * job with a message naming the call.
 */
#include <cuda_runtime.h>
#include <getopt.h>
#include <mpi.h>
#include <nccl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CUDA_CHECK(call)                                                       \
	do {                                                                   \
		cudaError_t e_ = (call);                                       \
		if (e_ != cudaSuccess) {                                       \
			fprintf(stderr, "nccl_allreduce: %s:%d: %s: %s\n",     \
				__FILE__, __LINE__, #call,                     \
				cudaGetErrorString(e_));                       \
			MPI_Abort(MPI_COMM_WORLD, 3);                          \
		}                                                              \
	} while (0)

#define NCCL_CHECK(call)                                                       \
	do {                                                                   \
		ncclResult_t r_ = (call);                                      \
		if (r_ != ncclSuccess) {                                       \
			fprintf(stderr, "nccl_allreduce: %s:%d: %s: %s\n",     \
				__FILE__, __LINE__, #call,                     \
				ncclGetErrorString(r_));                       \
			MPI_Abort(MPI_COMM_WORLD, 4);                          \
		}                                                              \
	} while (0)

/* Every element of rank r's buffer is r + 1 (and a position term, so a
 * misplaced chunk shows): the sum over n ranks is n(n+1)/2 + n * (i % 7). */
__global__ void fill(float *buf, size_t count, int rank)
{
	for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
	     i < count; i += (size_t)blockDim.x * gridDim.x)
		buf[i] = (float)(rank + 1) + (float)(i % 7);
}

__global__ void check(const float *buf, size_t count, int nranks,
		      unsigned long long *bad)
{
	for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
	     i < count; i += (size_t)blockDim.x * gridDim.x) {
		float want = (float)nranks * (nranks + 1) / 2 +
			     (float)nranks * (float)(i % 7);
		if (buf[i] != want)
			atomicAdd(bad, 1ULL);
	}
}

static void usage(FILE *f)
{
	fprintf(f, "usage: nccl_allreduce [--iters N] [--max-bytes B]\n");
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "iters", required_argument, NULL, 'i' },
		{ "max-bytes", required_argument, NULL, 'm' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int rank, nranks, local, ndev, dev, iters = 20, c, version;
	size_t max_bytes = (size_t)256 << 20;
	unsigned long long *bad_d, bad = 0, total_bad = 0;
	char host[256] = "", busid[32] = "";
	ncclUniqueId id;
	ncclComm_t comm;
	cudaStream_t stream;
	cudaEvent_t t0, t1;
	MPI_Comm node;
	float *buf;

	MPI_Init(&argc, &argv);
	MPI_Comm_rank(MPI_COMM_WORLD, &rank);
	MPI_Comm_size(MPI_COMM_WORLD, &nranks);
	while ((c = getopt_long(argc, argv, "i:m:h", longopts, NULL)) != -1) {
		char *end = NULL;
		if (c == 'i') {
			iters = (int)strtol(optarg, &end, 10);
		} else if (c == 'm') {
			max_bytes = strtoull(optarg, &end, 10);
		} else {
			if (rank == 0)
				usage(c == 'h' ? stdout : stderr);
			MPI_Finalize();
			return c == 'h' ? 0 : 2;
		}
		if (!end || *end || iters < 1 || max_bytes < 4) {
			if (rank == 0)
				fprintf(stderr, "nccl_allreduce: error: -%c "
						"%s: expected a positive "
						"number (--max-bytes >= 4)\n",
					c, optarg);
			MPI_Finalize();
			return 2;
		}
	}

	/* one GPU per rank: the local rank among the visible devices */
	MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0,
			    MPI_INFO_NULL, &node);
	MPI_Comm_rank(node, &local);
	MPI_Comm_free(&node);
	CUDA_CHECK(cudaGetDeviceCount(&ndev));
	if (ndev < 1) {
		fprintf(stderr, "nccl_allreduce: rank %d sees no GPU\n", rank);
		MPI_Abort(MPI_COMM_WORLD, 3);
	}
	dev = local % ndev;
	CUDA_CHECK(cudaSetDevice(dev));
	CUDA_CHECK(cudaDeviceGetPCIBusId(busid, sizeof(busid), dev));
	gethostname(host, sizeof(host) - 1);

	/* the NCCL bootstrap: one id, from rank 0, by MPI */
	if (rank == 0)
		NCCL_CHECK(ncclGetUniqueId(&id));
	MPI_Bcast(&id, sizeof(id), MPI_BYTE, 0, MPI_COMM_WORLD);
	NCCL_CHECK(ncclCommInitRank(&comm, nranks, id, rank));
	NCCL_CHECK(ncclGetVersion(&version));
	if (rank == 0)
		printf("nccl_allreduce: %d ranks, NCCL %d.%d.%d\n", nranks,
		       version / 10000, version / 100 % 100, version % 100);
	fflush(stdout);
	MPI_Barrier(MPI_COMM_WORLD);
	printf("rank %d on %s: GPU %d (%s)\n", rank, host, dev, busid);
	fflush(stdout);
	MPI_Barrier(MPI_COMM_WORLD);

	CUDA_CHECK(cudaStreamCreate(&stream));
	CUDA_CHECK(cudaEventCreate(&t0));
	CUDA_CHECK(cudaEventCreate(&t1));
	CUDA_CHECK(cudaMalloc(&buf, max_bytes));
	CUDA_CHECK(cudaMalloc(&bad_d, sizeof(*bad_d)));
	if (rank == 0)
		printf("%12s %10s %12s %12s\n", "bytes", "time_us",
		       "algbw_GB/s", "busbw_GB/s");

	for (size_t bytes = 1024; bytes <= max_bytes; bytes *= 16) {
		size_t count = bytes / sizeof(float);
		float ms = 0;
		double us, algbw, busbw;
		/* correctness, once */
		fill<<<128, 256, 0, stream>>>(buf, count, rank);
		NCCL_CHECK(ncclAllReduce(buf, buf, count, ncclFloat, ncclSum,
					 comm, stream));
		CUDA_CHECK(cudaMemsetAsync(bad_d, 0, sizeof(*bad_d), stream));
		check<<<128, 256, 0, stream>>>(buf, count, nranks, bad_d);
		CUDA_CHECK(cudaMemcpyAsync(&bad, bad_d, sizeof(bad),
					   cudaMemcpyDeviceToHost, stream));
		CUDA_CHECK(cudaStreamSynchronize(stream));
		if (bad)
			fprintf(stderr, "nccl_allreduce: rank %d: %llu of %zu "
					"elements wrong at %zu bytes\n",
				rank, bad, count, bytes);
		total_bad += bad;
		/* timing: warm up, then iters in a row */
		for (int i = 0; i < 5; i++)
			NCCL_CHECK(ncclAllReduce(buf, buf, count, ncclFloat,
						 ncclSum, comm, stream));
		CUDA_CHECK(cudaEventRecord(t0, stream));
		for (int i = 0; i < iters; i++)
			NCCL_CHECK(ncclAllReduce(buf, buf, count, ncclFloat,
						 ncclSum, comm, stream));
		CUDA_CHECK(cudaEventRecord(t1, stream));
		CUDA_CHECK(cudaEventSynchronize(t1));
		CUDA_CHECK(cudaEventElapsedTime(&ms, t0, t1));
		us = (double)ms * 1e3 / iters;
		algbw = (double)bytes / us / 1e3; /* GB/s */
		busbw = algbw * 2.0 * (nranks - 1) / nranks;
		if (rank == 0)
			printf("%12zu %10.1f %12.2f %12.2f\n", bytes, us, algbw,
			       busbw);
	}
	fflush(stdout);

	MPI_Allreduce(MPI_IN_PLACE, &total_bad, 1, MPI_UNSIGNED_LONG_LONG,
		      MPI_SUM, MPI_COMM_WORLD);
	if (rank == 0)
		printf("nccl_allreduce: %s\n",
		       total_bad ? "WRONG RESULTS" : "all results correct");
	CUDA_CHECK(cudaFree(buf));
	CUDA_CHECK(cudaFree(bad_d));
	CUDA_CHECK(cudaEventDestroy(t0));
	CUDA_CHECK(cudaEventDestroy(t1));
	CUDA_CHECK(cudaStreamDestroy(stream));
	NCCL_CHECK(ncclCommDestroy(comm));
	MPI_Finalize();
	return total_bad ? 1 : 0;
}
