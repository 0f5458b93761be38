/*
 * test_coords.c - network coordinates: in a synthetic world of three
 * regions (points in a plane, each node behind an access link, each path
 * with its own detour), fitted
 * from the pairs mctld would probe (every pair inside a region, four peers
 * in other regions per node), the pairs never probed are estimated with a
 * small median error, as Vivaldi is known to do.
 */
#include "config.h"

#include <math.h>
#include <stdlib.h>

#include "cunit_main.h"
#include "mctld.h"

#define N	45
#define REGIONS 3
#define MS	1e-3

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static double uniform(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (double)(rng >> 11) / 9007199254740992.0;
}

static int dbl_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

struct world {
	double x[N], y[N], h[N];
	int region[N];
};

/* Real paths are not straight lines: a detour of 0-30% per pair (the
 * same both ways), which breaks the triangle inequality as the Internet
 * does; no coordinate fits it exactly. */
static double detour(size_t i, size_t j)
{
	uint64_t k = (uint64_t)(i < j ? i : j) * 1000003u + (i < j ? j : i);

	k ^= k >> 33;
	k *= 0xff51afd7ed558ccdull;
	k ^= k >> 33;
	return 1.0 + 0.3 * (double)(k % 1000) / 1000.0;
}

static double true_rtt(const struct world *w, size_t i, size_t j)
{
	return (hypot(w->x[i] - w->x[j], w->y[i] - w->y[j]) + w->h[i] +
		w->h[j]) *
	       detour(i, j);
}

static void test_estimates(void)
{
	static const double cx[REGIONS] = {0, 60, 30}, cy[REGIONS] = {0, 0, 80};
	static struct coords_sample s[N * N];
	static unsigned char probed[N][N];
	static double err[N * N];
	struct world w;
	struct coords *cs = coords_create(N);
	size_t ns = 0, ne = 0, i, j;
	double median;

	for (i = 0; i < N; i++) {
		w.region[i] = (int)(i % REGIONS);
		w.x[i] = (cx[w.region[i]] + (uniform() - 0.5) * 10) * MS;
		w.y[i] = (cy[w.region[i]] + (uniform() - 0.5) * 10) * MS;
		w.h[i] = (1 + uniform() * 9) * MS; /* access: 1-10 ms */
	}
	for (i = 0; i < N; i++) {
		for (j = i + 1; j < N; j++)
			if (w.region[i] == w.region[j])
				probed[i][j] = probed[j][i] = 1;
		for (int k = 0; k < 4; k++) {
			j = (i + 1 + (size_t)(uniform() * (N - 1))) % N;
			if (w.region[j] != w.region[i])
				probed[i][j] = probed[j][i] = 1;
		}
	}
	for (i = 0; i < N; i++)
		for (j = i + 1; j < N; j++)
			if (probed[i][j]) {
				s[ns].a = i;
				s[ns].b = j;
				s[ns].rtt_s = true_rtt(&w, i, j);
				ns++;
			}
	coords_fit(cs, s, ns, 400);
	for (i = 0; i < N; i++)
		for (j = i + 1; j < N; j++) {
			double t = true_rtt(&w, i, j);

			if (probed[i][j])
				continue;
			err[ne++] = fabs(coords_estimate(cs, i, j) - t) / t;
		}
	CU_ASSERT_TRUE_FATAL(ne > N * 5); /* most cross pairs unprobed */
	qsort(err, ne, sizeof(*err), dbl_cmp);
	median = err[ne / 2];
	printf("\n  %zu probed pairs, %zu estimated: median error %.1f%%, "
	       "90th %.1f%%\n",
	       ns, ne, median * 100, err[ne * 9 / 10] * 100);
	CU_ASSERT_TRUE(median < 0.15);
	/* estimates are symmetric, zero on the diagonal, and converge */
	CU_ASSERT_DOUBLE_EQUAL(coords_estimate(cs, 3, 7),
			       coords_estimate(cs, 7, 3), 1e-15);
	CU_ASSERT_DOUBLE_EQUAL(coords_estimate(cs, 5, 5), 0, 0);
	CU_ASSERT_TRUE(coords_error(cs, 0) < 0.5);
	coords_destroy(cs);
}

/* Bad samples change nothing and do not crash. */
static void test_bad_samples(void)
{
	struct coords *cs = coords_create(2);
	double before = coords_estimate(cs, 0, 1);

	coords_observe(cs, 0, 0, 0.01);
	coords_observe(cs, 0, 5, 0.01);
	coords_observe(cs, 0, 1, 0);
	coords_observe(cs, 0, 1, -1);
	coords_observe(cs, 0, 1, NAN);
	CU_ASSERT_DOUBLE_EQUAL(coords_estimate(cs, 0, 1), before, 0);
	CU_ASSERT_DOUBLE_EQUAL(coords_error(cs, 0), 1.0, 0);
	/* two nodes at one place are pushed apart to the measured 20 ms */
	for (int r = 0; r < 200; r++)
		coords_observe(cs, 0, 1, 0.020);
	CU_ASSERT_DOUBLE_EQUAL(coords_estimate(cs, 0, 1), 0.020, 0.002);
	coords_destroy(cs);
	coords_destroy(NULL);
}

static CU_TestInfo tests[] = {
	{"unprobed pairs estimated", test_estimates},
	{"bad samples", test_bad_samples},
	CU_TEST_INFO_NULL,
};

CUNIT_MAIN("network coordinates", tests)
