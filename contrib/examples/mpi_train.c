/*
 * mpi_train.c - data-parallel training in miniature: every rank holds its
 * own shard of a synthetic regression data set and a copy of a small
 * two-layer perceptron; each step it computes the gradient of its
 * minibatch, the gradients are averaged with MPI_Allreduce, and every
 * rank applies the same SGD update.  So the copies stay identical, which
 * the end of the run shows: every rank prints a checksum of its
 * parameters, and a test checks they agree.
 *
 *   mpirun -n 4 ./mpi_train [--steps N] [--batch B] [--lr RATE]
 *                           [--samples S] [--every K] [--seed SEED]
 *                           [--grad-bytes N]
 *
 * Rank 0 prints every K steps the loss over all shards and the time the
 * step took (gradient and allreduce)
 *   step 40 loss 0.031415 time 0.123 ms
 * and every rank prints at the end
 *   rank 2 final checksum 0x1234abcd5678ef00 loss 0.012345
 *
 * --grad-bytes N (0, the default, adds nothing) stands in for a large
 * model: each step also allreduces N bytes of doubles (MPI_SUM; N a
 * multiple of 8, at most 1 GiB) that the training does not use, so the
 * checksums and losses are those of a run without it.  The ranks meet at
 * a barrier first and each times that allreduce alone; at the end rank 0
 * prints one line over the steps after the first two (warm-up, so
 * --steps must be from 3 to 1000000), each step's time the slowest
 * rank's:
 *   allreduce bytes 4194304 ranks 4 median_ms 512.250 min_ms 498.113
 * The step times printed every K steps then include it.
 *
 * The data come from a fixed "teacher" network plus noise, generated from
 * the seed (each rank its own part of the stream), so a run is
 * reproducible for a given number of ranks.  Plain C and MPI: no
 * Meridian code.  Exit status 0, or 2 on a bad option.
 */
#include <getopt.h>
#include <math.h>
#include <mpi.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define IN     16 /* inputs */
#define HIDDEN 32 /* hidden units */
/* parameters, one array so one allreduce moves the whole gradient:
 * W1[HIDDEN][IN], b1[HIDDEN], w2[HIDDEN], b2 */
#define NPARAM	    (HIDDEN * IN + HIDDEN + HIDDEN + 1)
#define W1(p, h, i) ((p)[(h)*IN + (i)])
#define B1(p, h)    ((p)[HIDDEN * IN + (h)])
#define W2(p, h)    ((p)[HIDDEN * IN + HIDDEN + (h)])
#define B2(p)	    ((p)[HIDDEN * IN + 2 * HIDDEN])

/* --grad-bytes: at most 1 GiB; the first steps are not timed; each
 * step's time is kept, so the steps are bounded too. */
#define GRAD_BYTES_MAX (1L << 30)
#define GRAD_WARMUP    2
#define GRAD_STEPS_MAX 1000000L

struct options {
	long steps, batch, samples, every;
	long grad_bytes; /* --grad-bytes: the extra allreduce, 0 none */
	double lr;
	uint64_t seed;
};

/* splitmix64: small, fast, and the same on every platform */
static uint64_t next_u64(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* uniform in [-1, 1) */
static double uniform(uint64_t *s)
{
	return (double)(next_u64(s) >> 11) * (2.0 / 9007199254740992.0) - 1.0;
}

static void init_params(double *p, uint64_t seed, double scale)
{
	uint64_t s = seed;

	for (int i = 0; i < NPARAM; i++)
		p[i] = uniform(&s) * scale;
}

/* Forward pass; h receives the hidden activations. */
static double forward(const double *p, const double *x, double *h)
{
	double y = B2(p);

	for (int j = 0; j < HIDDEN; j++) {
		double z = B1(p, j);
		for (int i = 0; i < IN; i++)
			z += W1(p, j, i) * x[i];
		h[j] = tanh(z);
		y += W2(p, j) * h[j];
	}
	return y;
}

/* Add the gradient of 0.5 * (f(x) - y)^2 / n to g; return the loss term. */
static double backward(const double *p, const double *x, double y, double n,
		       double *g)
{
	double h[HIDDEN], out = forward(p, x, h), d = (out - y) / n;

	for (int j = 0; j < HIDDEN; j++) {
		double dz = d * W2(p, j) * (1.0 - h[j] * h[j]);
		W2(g, j) += d * h[j];
		B1(g, j) += dz;
		for (int i = 0; i < IN; i++)
			W1(g, j, i) += dz * x[i];
	}
	B2(g) += d;
	return 0.5 * (out - y) * (out - y) / n;
}

/* The loss over this rank's whole shard. */
static double shard_loss(const double *p, const double *xs, const double *ys,
			 long n)
{
	double h[HIDDEN], l = 0.0;

	for (long k = 0; k < n; k++) {
		double d = forward(p, &xs[k * IN], h) - ys[k];
		l += 0.5 * d * d;
	}
	return l / (double)n;
}

/* The loss over every rank's shard (collective). */
static double global_loss(const double *p, const double *xs, const double *ys,
			  long n, int size)
{
	double mine = shard_loss(p, xs, ys, n), all = 0.0;

	MPI_Allreduce(&mine, &all, 1, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
	return all / size;
}

/* FNV-1a over the parameters' bytes: equal only if every bit is. */
static uint64_t checksum(const double *p)
{
	const unsigned char *b = (const unsigned char *)p;
	uint64_t h = 14695981039346656037ULL;

	for (size_t i = 0; i < NPARAM * sizeof(*p); i++) {
		h ^= b[i];
		h *= 1099511628211ULL;
	}
	return h;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: mpi_train [--steps N] [--batch B] [--lr RATE] "
		   "[--samples S] [--every K] [--seed SEED] "
		   "[--grad-bytes N]\n");
}

static int parse(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{"steps", required_argument, NULL, 's'},
		{"batch", required_argument, NULL, 'b'},
		{"lr", required_argument, NULL, 'l'},
		{"samples", required_argument, NULL, 'n'},
		{"every", required_argument, NULL, 'e'},
		{"seed", required_argument, NULL, 'S'},
		{"grad-bytes", required_argument, NULL, 'g'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int c;

	*o = (struct options){.steps = 100,
			      .batch = 32,
			      .samples = 1024,
			      .every = 10,
			      .lr = 0.1,
			      .seed = 42};
	while ((c = getopt_long(argc, argv, "s:b:l:n:e:S:g:h", longopts,
				NULL)) != -1) {
		char *end = NULL;
		switch (c) {
		case 's':
			o->steps = strtol(optarg, &end, 10);
			break;
		case 'b':
			o->batch = strtol(optarg, &end, 10);
			break;
		case 'n':
			o->samples = strtol(optarg, &end, 10);
			break;
		case 'e':
			o->every = strtol(optarg, &end, 10);
			break;
		case 'l':
			o->lr = strtod(optarg, &end);
			break;
		case 'S':
			o->seed = strtoull(optarg, &end, 10);
			break;
		case 'g':
			o->grad_bytes = strtol(optarg, &end, 10);
			break;
		case 'h':
			usage(stdout);
			return 1;
		default:
			usage(stderr);
			return -1;
		}
		if (!end || *end) {
			fprintf(stderr,
				"mpi_train: error: -%c %s: expected a "
				"number\n",
				c, optarg);
			return -1;
		}
	}
	if (o->steps < 0 || o->batch < 1 || o->samples < 1 || o->every < 1 ||
	    !(o->lr > 0)) {
		fprintf(stderr, "mpi_train: error: expected steps >= 0, batch, "
				"samples and every >= 1, lr > 0\n");
		return -1;
	}
	if (o->grad_bytes < 0 || o->grad_bytes > GRAD_BYTES_MAX ||
	    o->grad_bytes % (long)sizeof(double)) {
		fprintf(stderr,
			"mpi_train: error: --grad-bytes %ld: expected a "
			"multiple of %zu from 0 to %ld (1 GiB)\n",
			o->grad_bytes, sizeof(double), GRAD_BYTES_MAX);
		return -1;
	}
	if (o->grad_bytes &&
	    (o->steps <= GRAD_WARMUP || o->steps > GRAD_STEPS_MAX)) {
		fprintf(stderr,
			"mpi_train: error: --grad-bytes needs --steps from "
			"%d (the first %d are warm-up, not timed) to %ld\n",
			GRAD_WARMUP + 1, GRAD_WARMUP, GRAD_STEPS_MAX);
		return -1;
	}
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* --grad-bytes: one allreduce of n doubles, timed alone (the ranks leave
 * a barrier together first); milliseconds. */
static double grad_allreduce(const double *send, double *recv, long n)
{
	double t0;

	MPI_Barrier(MPI_COMM_WORLD);
	t0 = MPI_Wtime();
	MPI_Allreduce(send, recv, (int)n, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
	return (MPI_Wtime() - t0) * 1e3;
}

/* --grad-bytes: rank 0 prints the median and the minimum, over the timed
 * steps, of each step's slowest rank (collective). */
static void grad_report(const struct options *o, const double *ms, int rank,
			int size)
{
	long n = o->steps - GRAD_WARMUP;
	double *worst = rank == 0 ? malloc((size_t)n * sizeof(*worst)) : NULL;

	if (rank == 0 && !worst) {
		fprintf(stderr, "mpi_train: error: out of memory\n");
		MPI_Abort(MPI_COMM_WORLD, 1);
	}
	MPI_Reduce(ms + GRAD_WARMUP, worst, (int)n, MPI_DOUBLE, MPI_MAX, 0,
		   MPI_COMM_WORLD);
	if (rank == 0) {
		double median;

		qsort(worst, (size_t)n, sizeof(*worst), cmp_double);
		median = n % 2 ? worst[n / 2]
			       : (worst[n / 2 - 1] + worst[n / 2]) / 2;
		printf("allreduce bytes %ld ranks %d median_ms %.3f min_ms "
		       "%.3f\n",
		       o->grad_bytes, size, median, worst[0]);
	}
	free(worst);
}

int main(int argc, char **argv)
{
	static double teacher[NPARAM], p[NPARAM], g[NPARAM], sum[NPARAM];
	struct options o;
	int rank, size, rc;
	double *xs, *ys, loss = 0.0;
	double *gsend = NULL, *grecv = NULL, *gms = NULL;
	long gn;
	uint64_t s;

	MPI_Init(&argc, &argv);
	MPI_Comm_rank(MPI_COMM_WORLD, &rank);
	MPI_Comm_size(MPI_COMM_WORLD, &size);
	rc = parse(argc, argv, &o);
	if (rc) {
		MPI_Finalize();
		return rc < 0 ? 2 : 0;
	}

	/* this rank's shard: its own stream of the seeded generator */
	init_params(teacher, o.seed, 0.5);
	xs = malloc((size_t)o.samples * IN * sizeof(*xs));
	ys = malloc((size_t)o.samples * sizeof(*ys));
	if (!xs || !ys) {
		fprintf(stderr,
			"mpi_train: error: out of memory for %ld "
			"samples\n",
			o.samples);
		MPI_Abort(MPI_COMM_WORLD, 1);
	}
	s = o.seed * 1000003ULL + (uint64_t)rank + 1;
	for (long k = 0; k < o.samples; k++) {
		double h[HIDDEN];
		for (int i = 0; i < IN; i++)
			xs[k * IN + i] = uniform(&s);
		ys[k] = forward(teacher, &xs[k * IN], h) + 0.01 * uniform(&s);
	}
	/* --grad-bytes: the stand-in gradients, and each step's time */
	gn = o.grad_bytes / (long)sizeof(double);
	if (gn) {
		gsend = malloc((size_t)gn * sizeof(*gsend));
		grecv = malloc((size_t)gn * sizeof(*grecv));
		gms = calloc((size_t)o.steps, sizeof(*gms));
		if (!gsend || !grecv || !gms) {
			fprintf(stderr,
				"mpi_train: error: out of memory for "
				"--grad-bytes %ld\n",
				o.grad_bytes);
			MPI_Abort(MPI_COMM_WORLD, 1);
		}
		for (long i = 0; i < gn; i++)
			gsend[i] =
				(double)(rank + 1) + (double)(i % 1000) / 1e3;
	}
	/* the student starts the same everywhere */
	init_params(p, o.seed + 1, 0.1);
	loss = global_loss(p, xs, ys, o.samples, size);
	if (rank == 0)
		printf("%d ranks, %d parameters, %ld samples per rank, batch "
		       "%ld; initial loss %.6f\n",
		       size, NPARAM, o.samples, o.batch, loss);

	for (long step = 1; step <= o.steps; step++) {
		double t0 = MPI_Wtime(), ms;
		memset(g, 0, sizeof(g));
		for (long b = 0; b < o.batch; b++) {
			long k = ((step - 1) * o.batch + b) % o.samples;
			backward(p, &xs[k * IN], ys[k], (double)o.batch, g);
		}
		/* the average gradient over all ranks */
		MPI_Allreduce(g, sum, NPARAM, MPI_DOUBLE, MPI_SUM,
			      MPI_COMM_WORLD);
		if (gn)
			gms[step - 1] = grad_allreduce(gsend, grecv, gn);
		for (int i = 0; i < NPARAM; i++)
			p[i] -= o.lr * sum[i] / size;
		ms = (MPI_Wtime() - t0) * 1e3;
		if (step % o.every == 0 || step == o.steps) {
			/* every rank takes part in the loss's allreduce */
			loss = global_loss(p, xs, ys, o.samples, size);
			if (rank == 0)
				printf("step %ld loss %.6f time %.3f ms\n",
				       step, loss, ms);
		}
	}
	if (gn)
		grad_report(&o, gms, rank, size);
	fflush(stdout);
	MPI_Barrier(MPI_COMM_WORLD);
	printf("rank %d final checksum 0x%016llx loss %.6f\n", rank,
	       (unsigned long long)checksum(p), loss);
	fflush(stdout);
	free(xs);
	free(ys);
	free(gsend);
	free(grecv);
	free(gms);
	MPI_Finalize();
	return 0;
}
