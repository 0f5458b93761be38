/*
 * test_ring.c - the ring allreduce model and its rank order against brute
 * force: on random directed link matrices (latency 0.1-100 ms, 10 Mbit/s
 * to 10 Gbit/s, some links missing) ring_order's ring is exactly as fast
 * as the best of all rings, up to 9 nodes; with regions, the crossings'
 * tolerance (RING_TIE) as ring.h states it; the local search against a
 * reference that prices each move over the whole ring.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cunit_main.h"
#include "ring.h"

/* A small deterministic generator: the same matrices on every run. */
static uint64_t rng = 88172645463325252ull;

static double uniform(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (double)(rng >> 11) / 9007199254740992.0;
}

static void random_matrix(struct ring_link *m, size_t n, double missing)
{
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < n; j++) {
			struct ring_link *l = &m[i * n + j];

			l->lat_s = 1e-4 + uniform() * 0.1;
			l->bw_Bps = (10e6 + uniform() * 10e9) / 8;
			if (i != j && uniform() < missing)
				l->bw_Bps = 0;
		}
}

/* The best ring by trying every order with nodes[0] first. */
static double brute(const struct ring_link *m, size_t n, uint32_t *perm,
		    size_t k, size_t pos, double bytes)
{
	double best = -1;

	if (pos == k)
		return ring_time(m, n, perm, k, bytes, NULL);
	for (size_t i = pos; i < k; i++) {
		uint32_t x = perm[pos];
		double t;

		perm[pos] = perm[i];
		perm[i] = x;
		t = brute(m, n, perm, k, pos + 1, bytes);
		if (best < 0 || t < best)
			best = t;
		perm[i] = perm[pos];
		perm[pos] = x;
	}
	return best;
}

static int is_permutation(const uint32_t *order, const uint32_t *nodes,
			  size_t k)
{
	for (size_t i = 0; i < k; i++) {
		size_t seen = 0;

		for (size_t j = 0; j < k; j++)
			seen += order[j] == nodes[i];
		if (seen != 1)
			return 0;
	}
	return 1;
}

static void test_cost_model(void)
{
	struct ring_link m[9];
	uint32_t order[3] = {0, 1, 2};
	size_t slow;

	for (size_t i = 0; i < 9; i++) {
		m[i].lat_s = 0.001;
		m[i].bw_Bps = 1e9;
	}
	/* 2(k-1) * (a + S/(k b)) = 4 * (0.001 + 1) */
	CU_ASSERT_DOUBLE_EQUAL(ring_time(m, 3, order, 3, 3e9, NULL), 4.004,
			       1e-9);
	/* the slowest edge sets the pace, and is named */
	m[1 * 3 + 2].bw_Bps = 0.5e9; /* 1 -> 2 */
	CU_ASSERT_DOUBLE_EQUAL(ring_time(m, 3, order, 3, 3e9, &slow), 8.004,
			       1e-9);
	CU_ASSERT_EQUAL(slow, 1);
	/* the wrap edge 2 -> 0 counts */
	m[1 * 3 + 2].bw_Bps = 1e9;
	m[2 * 3 + 0].lat_s = 0.5;
	CU_ASSERT_DOUBLE_EQUAL(ring_time(m, 3, order, 3, 3e9, &slow), 6.0,
			       1e-9);
	CU_ASSERT_EQUAL(slow, 2);
	/* no bytes: latency alone; one rank: no ring */
	CU_ASSERT_DOUBLE_EQUAL(ring_time(m, 3, order, 3, 0, NULL), 2.0, 1e-9);
	CU_ASSERT_DOUBLE_EQUAL(ring_time(m, 3, order, 1, 3e9, NULL), 0, 0);
	/* a missing link is dearer than any real one */
	m[0 * 3 + 1].bw_Bps = 0;
	CU_ASSERT_TRUE(ring_time(m, 3, order, 3, 3e9, NULL) > 1e20);
}

static void test_exact_vs_brute(void)
{
	enum { N = 12 };
	struct ring_link m[N * N];
	uint32_t nodes[9], order[9], perm[9];

	for (int trial = 0; trial < 60; trial++) {
		size_t k = 2 + (size_t)trial % 8; /* 2 .. 9 */
		double bytes = trial % 3 == 0 ? 0 : 1e6 * (1 + trial);
		double best, got;

		random_matrix(m, N, trial % 4 == 0 ? 0.3 : 0);
		/* k distinct nodes out of N */
		for (size_t i = 0; i < k; i++)
			nodes[i] = (uint32_t)((i * 5 + (size_t)trial) % N);
		CU_ASSERT_EQUAL_FATAL(ring_order(m, N, nodes, k, bytes, order),
				      0);
		CU_ASSERT_TRUE(is_permutation(order, nodes, k));
		memcpy(perm, nodes, sizeof(nodes));
		best = brute(m, N, perm, k, 1, bytes);
		got = ring_time(m, N, order, k, bytes, NULL);
		/* without regions, exactly the least bottleneck */
		CU_ASSERT_DOUBLE_EQUAL(got, best, best * 1e-12);
	}
	CU_ASSERT_EQUAL(ring_order(m, N, nodes, 0, 1, order), -1);
	CU_ASSERT_EQUAL(ring_order(m, N, nodes, RING_EXACT_MAX + 1, 1, order),
			-1);
}

/* The sum of a ring's edge costs. */
static double ring_sum(const struct ring_link *m, size_t n,
		       const uint32_t *order, size_t k, double bytes)
{
	double sum = 0;

	for (size_t p = 0; p < k; p++)
		sum += ring_edge_cost(
			&m[(size_t)order[p] * n + order[(p + 1) % k]], k,
			bytes);
	return sum;
}

/* The least sum over the rings of bottleneck time t, by brute force. */
static double brute_sum(const struct ring_link *m, size_t n, uint32_t *perm,
			size_t k, size_t pos, double bytes, double t)
{
	double best = -1;

	if (pos == k) {
		double rt = ring_time(m, n, perm, k, bytes, NULL);

		return rt <= t * (1 + 1e-12) ? ring_sum(m, n, perm, k, bytes)
					     : -1;
	}
	for (size_t i = pos; i < k; i++) {
		uint32_t x = perm[pos];
		double c;

		perm[pos] = perm[i];
		perm[i] = x;
		c = brute_sum(m, n, perm, k, pos + 1, bytes, t);
		if (c >= 0 && (best < 0 || c < best))
			best = c;
		perm[i] = perm[pos];
		perm[pos] = x;
	}
	return best;
}

/*
 * Many rings share the least bottleneck when one node's links are all
 * slow (every ring goes through it): of those the order takes the one of
 * least total cost, against brute force on matrices with one slow node
 * whose links differ by a per cent or so, as measurements do.  Without
 * regions there is no tolerance: the bottleneck is the least exactly.
 */
static void test_ties_least_sum(void)
{
	enum { N = 8 };
	struct ring_link m[N * N];
	uint32_t nodes[N], order[N], perm[N];

	for (int trial = 0; trial < 30; trial++) {
		size_t k = 4 + (size_t)trial % 5; /* 4 .. 8 */
		double bytes = 1e7, best, sum;

		random_matrix(m, N, 0);
		for (size_t j = 0; j < N; j++) /* node 0: ~10 Mbit/s */
			if (j) {
				m[j].bw_Bps = (10e6 + uniform() * 2e5) / 8;
				m[j * N].bw_Bps = (10e6 + uniform() * 2e5) / 8;
				m[j].lat_s = m[j * N].lat_s = 0.001;
			}
		for (size_t i = 0; i < k; i++)
			nodes[i] = (uint32_t)i;
		CU_ASSERT_EQUAL_FATAL(ring_order(m, N, nodes, k, bytes, order),
				      0);
		memcpy(perm, nodes, sizeof(nodes));
		best = brute(m, N, perm, k, 1, bytes);
		CU_ASSERT_DOUBLE_EQUAL(ring_time(m, N, order, k, bytes, NULL),
				       best, best * 1e-12);
		memcpy(perm, nodes, sizeof(nodes));
		sum = brute_sum(m, N, perm, k, 1, bytes, best);
		CU_ASSERT_DOUBLE_EQUAL(ring_sum(m, N, order, k, bytes), sum,
				       sum * 1e-9);
	}
}

/* Region changes around the ring (the ring's crossings). */
static size_t crossings(const uint32_t *order, const uint32_t *region_of,
			size_t k)
{
	size_t cross = 0;

	for (size_t p = 0; p < k; p++)
		cross += region_of[order[p]] != region_of[order[(p + 1) % k]];
	return cross;
}

/*
 * Two regions of 20 nodes: 10 Gbit/s inside, 100 Mbit/s between, except
 * two pairs of 1 Gbit/s links each way (3 <-> 27, 11 <-> 33).  Beyond the
 * exact search, the ring keeps each region contiguous and crosses on the
 * fast pairs, once each way: its bottleneck is a 1 Gbit/s crossing.
 */
static void test_two_regions(void)
{
	enum { N = 40 };
	static struct ring_link m[N * N];
	uint32_t nodes[N], region[N], region_of[N], order[N];
	double t;

	for (size_t i = 0; i < N; i++) {
		nodes[i] = (uint32_t)i;
		region[i] = region_of[i] = i < N / 2 ? 7 : 9;
		for (size_t j = 0; j < N; j++) {
			int same = (i < N / 2) == (j < N / 2);

			m[i * N + j].lat_s = same ? 0.001 : 0.08;
			m[i * N + j].bw_Bps = same ? 10e9 / 8 : 100e6 / 8;
		}
	}
	m[3 * N + 27].bw_Bps = m[27 * N + 3].bw_Bps = 1e9 / 8;
	m[3 * N + 27].lat_s = m[27 * N + 3].lat_s = 0.02;
	m[11 * N + 33].bw_Bps = m[33 * N + 11].bw_Bps = 1e9 / 8;
	m[11 * N + 33].lat_s = m[33 * N + 11].lat_s = 0.02;
	CU_ASSERT_EQUAL_FATAL(
		ring_order_regions(m, N, nodes, region, N, 256e6, order), 0);
	CU_ASSERT_TRUE(is_permutation(order, nodes, N));
	CU_ASSERT_EQUAL(crossings(order, region_of, N), 2);
	t = ring_time(m, N, order, N, 256e6, NULL);
	CU_ASSERT_DOUBLE_EQUAL(t, 78.0 * (0.02 + 256e6 / (40.0 * 1e9 / 8)),
			       1e-9);
}

/* Three regions of 6 (18 nodes, past the exact search) on random links,
 * nodes given interleaved: each region's ranks come out contiguous. */
static void test_three_regions(void)
{
	enum { N = 18 };
	struct ring_link m[N * N];
	uint32_t nodes[N], region[N], region_of[N], order[N];

	random_matrix(m, N, 0.1);
	for (size_t i = 0; i < N; i++) {
		nodes[i] = (uint32_t)i;
		region[i] = region_of[i] = (uint32_t)(i % 3);
	}
	CU_ASSERT_EQUAL_FATAL(
		ring_order_regions(m, N, nodes, region, N, 1e8, order), 0);
	CU_ASSERT_TRUE(is_permutation(order, nodes, N));
	CU_ASSERT_EQUAL(crossings(order, region_of, N), 3);
	/* small rings are left to the exact order */
	CU_ASSERT_EQUAL(ring_order_regions(m, N, nodes, region, 6, 1e8, order),
			0);
	CU_ASSERT_TRUE(is_permutation(order, nodes, 6));
}

/* One region of 30 nodes, and rings whose regions are too many. */
static void test_one_region(void)
{
	enum { N = 30 };
	static struct ring_link m[N * N];
	uint32_t nodes[N], region[N], order[N];

	random_matrix(m, N, 0);
	for (size_t i = 0; i < N; i++) {
		nodes[i] = (uint32_t)i;
		region[i] = 1;
	}
	CU_ASSERT_EQUAL_FATAL(
		ring_order_regions(m, N, nodes, region, N, 1e8, order), 0);
	CU_ASSERT_TRUE(is_permutation(order, nodes, N));
	for (size_t i = 0; i < N; i++)
		region[i] = (uint32_t)i; /* 30 regions of one */
	CU_ASSERT_EQUAL(ring_order_regions(m, N, nodes, region, N, 1e8, order),
			0);
	CU_ASSERT_TRUE(is_permutation(order, nodes, N));
}

/* Every ring with nodes[0] first: the least (crossings, sum) among
 * those of bottleneck time <= t, and the least time among those of at
 * most c crossings; *out_c / *out_s / *out_t as found (-1: none). */
struct brute_lex {
	double t_cap;	 /* rings of time <= this ... */
	size_t c_cap;	 /* ... or of crossings <= this */
	size_t best_c;	 /* fewest crossings under t_cap */
	double best_s;	 /* least sum at best_c under t_cap */
	double best_t_c; /* least time with crossings <= c_cap */
	int found;
};

static void brute_lex(const struct ring_link *m, size_t n, uint32_t *perm,
		      size_t k, size_t pos, double bytes,
		      const uint32_t *region_of, struct brute_lex *b)
{
	if (pos == k) {
		uint32_t reg[RING_EXACT_MAX];
		double t = ring_time(m, n, perm, k, bytes, NULL);
		size_t c;

		for (size_t i = 0; i < k; i++)
			reg[i] = region_of[perm[i]];
		c = ring_crossings(reg, k);
		if (t <= b->t_cap * (1 + 1e-12)) {
			double sum = ring_sum(m, n, perm, k, bytes);

			if (!b->found || c < b->best_c ||
			    (c == b->best_c && sum < b->best_s)) {
				b->best_c = c;
				b->best_s = sum;
				b->found = 1;
			}
		}
		if (c <= b->c_cap && (b->best_t_c < 0 || t < b->best_t_c))
			b->best_t_c = t;
		return;
	}
	for (size_t i = pos; i < k; i++) {
		uint32_t x = perm[pos];

		perm[pos] = perm[i];
		perm[i] = x;
		brute_lex(m, n, perm, k, pos + 1, bytes, region_of, b);
		perm[i] = perm[pos];
		perm[pos] = x;
	}
}

/*
 * With regions, the exact order takes the fewest crossings among the
 * rings within RING_TIE of the least bottleneck, then the least
 * bottleneck among rings of that many crossings, then the least sum:
 * against brute force, on matrices whose links across regions are
 * slower and spread by +-10%, so that rings of more crossings are
 * sometimes a little faster.
 */
static void test_ties_crossings(void)
{
	enum { N = 8 };
	struct ring_link m[N * N];
	uint32_t nodes[N], order[N], perm[N], region[N], region_of[N], reg[N];

	for (int trial = 0; trial < 40; trial++) {
		size_t k = 4 + (size_t)trial % 5; /* 4 .. 8 */
		double bytes = 1e8, best, t;
		struct brute_lex b = {0};

		for (size_t i = 0; i < N; i++)
			region_of[i] = (uint32_t)(uniform() * 3);
		for (size_t i = 0; i < N; i++)
			for (size_t j = 0; j < N; j++) {
				int same = region_of[i] == region_of[j];

				m[i * N + j].lat_s = same ? 0.001 : 0.04;
				m[i * N + j].bw_Bps = (same ? 10e9 : 1e9) / 8 *
						      (0.9 + 0.2 * uniform());
			}
		for (size_t i = 0; i < k; i++) {
			nodes[i] = (uint32_t)i;
			region[i] = region_of[i];
		}
		CU_ASSERT_EQUAL_FATAL(ring_order_regions(m, N, nodes, region, k,
							 bytes, order),
				      0);
		CU_ASSERT_TRUE(is_permutation(order, nodes, k));
		memcpy(perm, nodes, sizeof(nodes));
		best = brute(m, N, perm, k, 1, bytes);
		/* the fewest crossings within RING_TIE */
		b.t_cap = best * (1 + RING_TIE);
		b.c_cap = SIZE_MAX;
		b.best_t_c = -1;
		memcpy(perm, nodes, sizeof(nodes));
		brute_lex(m, N, perm, k, 1, bytes, region_of, &b);
		/* the least time at that many crossings */
		b.c_cap = b.best_c;
		b.best_t_c = -1;
		memcpy(perm, nodes, sizeof(nodes));
		brute_lex(m, N, perm, k, 1, bytes, region_of, &b);
		t = ring_time(m, N, order, k, bytes, NULL);
		for (size_t i = 0; i < k; i++)
			reg[i] = region_of[order[i]];
		CU_ASSERT_EQUAL(ring_crossings(reg, k), b.c_cap);
		CU_ASSERT_DOUBLE_EQUAL(t, b.best_t_c, b.best_t_c * 1e-12);
		CU_ASSERT_TRUE(t <= best * (1 + RING_TIE) * (1 + 1e-12));
		/* and of those rings, the least sum */
		b.t_cap = b.best_t_c;
		b.found = 0;
		memcpy(perm, nodes, sizeof(nodes));
		brute_lex(m, N, perm, k, 1, bytes, region_of, &b);
		CU_ASSERT_EQUAL(b.best_c, b.c_cap);
		CU_ASSERT_DOUBLE_EQUAL(ring_sum(m, N, order, k, bytes),
				       b.best_s, b.best_s * 1e-9);
	}
}

/* Would the rule of ring.h take a ring of time t and dc more crossings
 * over one of time cur? */
static int rule_better(double t, long dc, double cur)
{
	if (dc > 0)
		return t * (1 + RING_TIE) < cur;
	if (dc < 0)
		return t <= cur;
	return t < cur * (1 - 1e-12);
}

/* Does any move ring_improve looks at (2-opt or either end of the
 * bottleneck moved), priced by ring_time over the whole ring, pass the
 * rule?  o is rotated so the bottleneck edge is o[0] -> o[1]. */
static int improvable(const struct ring_link *m, size_t n, const uint32_t *o0,
		      const uint32_t *region_of, size_t k, double bytes)
{
	enum { K = 64 };
	uint32_t o[K], t[K], reg[K];
	size_t slow;
	double cur = ring_time(m, n, o0, k, bytes, &slow);
	long c0;

	for (size_t i = 0; i < k; i++) {
		o[i] = o0[(i + slow) % k];
		reg[i] = region_of[o[i]];
	}
	c0 = (long)ring_crossings(reg, k);
	for (int kind = 1; kind <= 3; kind++)
		for (size_t j = 1; j < k; j++) {
			size_t w = 0;

			if ((kind == 1 && j < 2) || (kind == 2 && j < 2) ||
			    (kind == 3 && j + 1 >= k))
				continue;
			if (kind == 1) { /* reverse o[1..j] */
				for (size_t i = 0; i < k; i++)
					t[i] = i >= 1 && i <= j ? o[1 + j - i]
								: o[i];
			} else if (kind == 2) { /* o[1] after o[j] */
				t[w++] = o[0];
				for (size_t i = 2; i <= j; i++)
					t[w++] = o[i];
				t[w++] = o[1];
				for (size_t i = j + 1; i < k; i++)
					t[w++] = o[i];
			} else { /* o[0] after o[j] */
				for (size_t i = 1; i <= j; i++)
					t[w++] = o[i];
				t[w++] = o[0];
				for (size_t i = j + 1; i < k; i++)
					t[w++] = o[i];
			}
			for (size_t i = 0; i < k; i++)
				reg[i] = region_of[t[i]];
			if (rule_better(ring_time(m, n, t, k, bytes, NULL),
					(long)ring_crossings(reg, k) - c0, cur))
				return 1;
		}
	return 0;
}

/*
 * ring_improve against a reference that prices every move by ring_time
 * over the whole ring: on directed random matrices (a reversed segment
 * costs its links the other way), with and without regions, the ring it
 * leaves is no slower, still a permutation with its regions in step, and
 * no move it looks at would pass the rule: its incremental prices agree
 * with ring_time.
 */
static void test_improve_local_optimum(void)
{
	enum { N = 48 };
	static struct ring_link m[N * N];
	uint32_t nodes[N], order[N], region_of[N], reg[N];

	for (int trial = 0; trial < 24; trial++) {
		size_t k = 4 + (size_t)(uniform() * 44); /* 4 .. 47 */
		int with_regions = trial % 2;
		double before, after;
		int moves;

		random_matrix(m, N, trial % 3 == 0 ? 0.05 : 0);
		for (size_t i = 0; i < N; i++)
			region_of[i] = with_regions ? (uint32_t)(i % 4) : 0;
		for (size_t i = 0; i < k; i++)
			nodes[i] = order[i] = (uint32_t)((i * 7 + 3) % N);
		for (size_t i = 0; i < k; i++)
			reg[i] = region_of[order[i]];
		before = ring_time(m, N, order, k, 1e8, NULL);
		moves = ring_improve(m, N, order, with_regions ? reg : NULL, k,
				     1e8);
		CU_ASSERT_TRUE(moves >= 0);
		after = ring_time(m, N, order, k, 1e8, NULL);
		CU_ASSERT_TRUE(after <= before);
		CU_ASSERT_TRUE(moves == 0 || after < before);
		CU_ASSERT_TRUE(is_permutation(order, nodes, k));
		for (size_t i = 0; with_regions && i < k; i++)
			CU_ASSERT_EQUAL(reg[i], region_of[order[i]]);
		CU_ASSERT_FALSE(improvable(m, N, order, region_of, k, 1e8));
	}
}

/*
 * Four regions as bench-place's eight cities, cut down: A and B near each
 * other, T and S near each other, A and B reach T but S reaches nothing
 * but T.  Every contiguous ring has an edge from S to A or B; the local
 * search splits T (enters and leaves S through it), halving the time.
 * Two regions never split: every extra crossing is another slow link.
 */
static void test_improve_splits(void)
{
	enum { N = 16 };
	static struct ring_link m[N * N];
	/* per region pair: bandwidth in Gbit/s; region i holds 4i..4i+3 */
	static const double gbit[4][4] = {{10, 2, 1, 0.2},
					  {2, 10, 1, 0.2},
					  {1, 1, 10, 2},
					  {0.2, 0.2, 2, 10}};
	uint32_t nodes[N], region[N], order[N], reg[N];
	double contiguous, t;

	for (size_t i = 0; i < N; i++) {
		nodes[i] = (uint32_t)i;
		region[i] = (uint32_t)(i / 4);
		for (size_t j = 0; j < N; j++) {
			m[i * N + j].lat_s = 0.001;
			m[i * N + j].bw_Bps =
				gbit[i / 4][j / 4] * 1e9 / 8 *
				(1 + 0.01 * (double)((i + j) % 5));
		}
	}
	CU_ASSERT_EQUAL_FATAL(
		ring_order_regions(m, N, nodes, region, N, 1e9, order), 0);
	for (size_t i = 0; i < N; i++)
		reg[i] = region[order[i]];
	CU_ASSERT_EQUAL(ring_crossings(reg, N), 4);
	contiguous = ring_time(m, N, order, N, 1e9, NULL);
	CU_ASSERT_TRUE(ring_improve(m, N, order, reg, N, 1e9) > 0);
	t = ring_time(m, N, order, N, 1e9, NULL);
	CU_ASSERT_TRUE(t * 3 < contiguous);
	CU_ASSERT_TRUE(ring_crossings(reg, N) > 4);
	CU_ASSERT_TRUE(is_permutation(order, nodes, N));
	/* two regions: 10 Gbit/s inside, ~1 across */
	for (int trial = 0; trial < 10; trial++) {
		for (size_t i = 0; i < N; i++) {
			region[i] = (uint32_t)(i < 6 + (size_t)trial % 4);
			for (size_t j = 0; j < N; j++) {
				int same = region[i] == region[j];

				m[i * N + j].lat_s = same ? 0.001 : 0.04;
				m[i * N + j].bw_Bps = (same ? 10e9 : 1e9) / 8 *
						      (0.9 + 0.2 * uniform());
			}
		}
		CU_ASSERT_EQUAL_FATAL(
			ring_order_regions(m, N, nodes, region, N, 1e9, order),
			0);
		for (size_t i = 0; i < N; i++)
			reg[i] = region[order[i]];
		CU_ASSERT_TRUE(ring_improve(m, N, order, reg, N, 1e9) >= 0);
		CU_ASSERT_EQUAL(ring_crossings(reg, N), 2);
	}
}

static CU_TestInfo tests[] = {
	{"cost model", test_cost_model},
	{"exact order against brute force", test_exact_vs_brute},
	{"of the fastest rings, the least total cost", test_ties_least_sum},
	{"two regions cross twice, on the fast pairs", test_two_regions},
	{"three regions stay contiguous", test_three_regions},
	{"one large region; many regions of one", test_one_region},
	{"with regions, fewer crossings within RING_TIE", test_ties_crossings},
	{"local search: no move it looks at is better",
	 test_improve_local_optimum},
	{"local search splits a region where that pays, not two",
	 test_improve_splits},
	CU_TEST_INFO_NULL,
};

CUNIT_MAIN("ring", tests)
