/*
 * test_probe_graph.c - the pairs probed in one ProbeInterval
 * (probe_graph.c): no node past its budget however the regions are
 * sized, every region measured against every other by many nodes, small
 * clusters and regions probed in full, the next interval other pairs,
 * nodes behind NAT and nodes down.
 */
#include "config.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cunit_main.h"
#include "mctld.h"
#include "util.h"

/* 1,000 nodes in 8 regions of very different sizes. */
#define N      1000
#define NREG   8
#define BUDGET 15
static const size_t region_size[NREG] = {600, 200, 100, 50, 30, 15, 3, 2};

static struct probe_graph_node nd[N];

static void world(void)
{
	size_t i = 0;

	for (uint32_t r = 0; r < NREG; r++)
		for (size_t k = 0; k < region_size[r]; k++, i++) {
			/* regions interleaved in list order, as in a config
			 * file listing nodes by name */
			nd[i].region = (uint32_t)(r * 7919 + 13);
			nd[i].usable = true;
			nd[i].accepts = true;
		}
	/* shuffle the list so that regions are not contiguous */
	for (size_t a = N - 1; a > 0; a--) {
		size_t b = (a * 2654435761u) % (a + 1);
		struct probe_graph_node t = nd[a];

		nd[a] = nd[b];
		nd[b] = t;
	}
}

/* A latency from positions on a line per region: nearest is meaningful. */
static double lat_fn(void *arg, size_t i, size_t j)
{
	(void)arg;
	if (nd[i].region != nd[j].region)
		return 0.05;
	return 1e-4 * fabs((double)(i % 97) - (double)(j % 97)) + 1e-5;
}

/* Symmetric, no self pairs, no duplicates, every pair allowed. */
static void check_shape(const struct probe_graph *g)
{
	for (size_t i = 0; i < g->n; i++) {
		CU_ASSERT_FATAL(g->deg[i] <= g->budget);
		for (uint32_t k = 0; k < g->deg[i]; k++) {
			uint32_t j = g->adj[i * g->budget + k];

			CU_ASSERT_FATAL(j < g->n);
			CU_ASSERT_NOT_EQUAL(j, i);
			CU_ASSERT_TRUE(probe_graph_has(g, j, i));
			CU_ASSERT_TRUE(nd[i].usable && nd[j].usable);
			CU_ASSERT_TRUE(nd[i].accepts || nd[j].accepts);
			for (uint32_t q = k + 1; q < g->deg[i]; q++)
				CU_ASSERT_NOT_EQUAL(j,
						    g->adj[i * g->budget + q]);
		}
	}
}

static size_t region_of(size_t i)
{
	for (size_t r = 0; r < NREG; r++)
		if (nd[i].region == r * 7919 + 13)
			return r;
	return NREG;
}

static void test_budget_and_coverage(void)
{
	struct probe_graph g;
	struct probe_graph_lat lat = {lat_fn, NULL};
	size_t cross[NREG][NREG], reps[NREG][NREG], min_deg = N, pairs = 0;

	world();
	probe_graph_init(&g, N, BUDGET);
	probe_graph_fill(&g, nd, 42, &lat);
	check_shape(&g);
	memset(cross, 0, sizeof(cross));
	memset(reps, 0, sizeof(reps));
	for (size_t i = 0; i < N; i++) {
		size_t ncross = 0;

		if (g.deg[i] < min_deg)
			min_deg = g.deg[i];
		pairs += g.deg[i];
		for (uint32_t k = 0; k < g.deg[i]; k++) {
			size_t j = g.adj[i * BUDGET + k];

			if (region_of(i) != region_of(j)) {
				cross[region_of(i)][region_of(j)]++;
				ncross++;
			}
		}
		/* i measured against region rj: count the distinct i's */
		for (size_t rj = 0; rj < NREG; rj++) {
			bool seen = false;

			for (uint32_t k = 0; k < g.deg[i] && !seen; k++)
				seen = region_of(g.adj[i * BUDGET + k]) == rj;
			reps[region_of(i)][rj] += seen && rj != region_of(i);
		}
		/* every node of a region with others sees other regions */
		CU_ASSERT(ncross >= 1);
	}
	/* each node is used: no node left with a handful of pairs while
	 * others are full */
	CU_ASSERT(min_deg >= BUDGET / 2);
	/* on average well over the half of it spent inside a region */
	CU_ASSERT((double)pairs / N >= 0.7 * BUDGET);
	/* every pair of regions is measured, and not through one node of
	 * each: by several different nodes on each side */
	for (size_t a = 0; a < NREG; a++)
		for (size_t b = 0; b < NREG; b++) {
			size_t want = region_size[a] < region_size[b]
					      ? region_size[a]
					      : region_size[b];

			if (a == b)
				continue;
			CU_ASSERT(cross[a][b] >= 1);
			/* the two-node region: both of its nodes, whoever
			 * they meet; larger ones: at least 2 */
			CU_ASSERT(reps[a][b] >= (want < 2 ? want : 2));
		}
	probe_graph_free(&g);
}

/* A small cluster, and a small region, are probed in full. */
static void test_small(void)
{
	struct probe_graph g;
	struct probe_graph_node s[12];

	for (size_t i = 0; i < 12; i++) {
		s[i].region = i < 6 ? 1 : 2;
		s[i].usable = true;
		s[i].accepts = true;
	}
	/* 12 nodes, budget 15: every pair */
	probe_graph_init(&g, 12, BUDGET);
	probe_graph_fill(&g, s, 1, NULL);
	for (size_t i = 0; i < 12; i++)
		CU_ASSERT_EQUAL(g.deg[i], 11);
	probe_graph_free(&g);
	/* budget 10: over the cluster's size, but each region of 6 has 5
	 * others, at most half the budget: in full */
	probe_graph_init(&g, 12, 10);
	probe_graph_fill(&g, s, 1, NULL);
	for (size_t i = 0; i < 12; i++)
		for (size_t j = 0; j < 12; j++)
			if (i != j && s[i].region == s[j].region)
				CU_ASSERT_TRUE(probe_graph_has(&g, i, j));
	for (size_t i = 0; i < 12; i++)
		CU_ASSERT(g.deg[i] <= 10);
	probe_graph_free(&g);
}

/* The next interval probes other pairs; the same one the same pairs. */
static void test_epochs(void)
{
	struct probe_graph a, b, c;
	size_t same = 0, total = 0, again = 0;

	world();
	probe_graph_init(&a, N, BUDGET);
	probe_graph_init(&b, N, BUDGET);
	probe_graph_init(&c, N, BUDGET);
	probe_graph_fill(&a, nd, 7, NULL);
	probe_graph_fill(&b, nd, 8, NULL);
	probe_graph_fill(&c, nd, 7, NULL);
	for (size_t i = 0; i < N; i++)
		for (uint32_t k = 0; k < a.deg[i]; k++) {
			uint32_t j = a.adj[i * BUDGET + k];

			total++;
			same += probe_graph_has(&b, i, j);
			again += probe_graph_has(&c, i, j);
		}
	CU_ASSERT_EQUAL(again, total);
	CU_ASSERT(same < total / 2);
	probe_graph_free(&a);
	probe_graph_free(&b);
	probe_graph_free(&c);
}

/* Pairs already probed stay, and the budget holds with them. */
static void test_kept(void)
{
	struct probe_graph g;

	world();
	probe_graph_init(&g, N, BUDGET);
	/* node 0 already met 10 nodes this interval */
	for (size_t j = 1; j <= 10; j++)
		CU_ASSERT_TRUE(probe_graph_add(&g, nd, 0, j));
	CU_ASSERT_FALSE(probe_graph_add(&g, nd, 0, 1));
	CU_ASSERT_FALSE(probe_graph_add(&g, nd, 0, 0));
	probe_graph_fill(&g, nd, 3, NULL);
	check_shape(&g);
	for (size_t j = 1; j <= 10; j++)
		CU_ASSERT_TRUE(probe_graph_has(&g, 0, j));
	CU_ASSERT(g.deg[0] <= BUDGET);
	probe_graph_free(&g);
}

/* Behind NAT and down. */
static void test_nat_and_down(void)
{
	struct probe_graph g;
	size_t natpairs = 0;

	world();
	for (size_t i = 0; i < N; i += 3)
		nd[i].accepts = false;
	for (size_t i = 1; i < N; i += 50)
		nd[i].usable = false;
	probe_graph_init(&g, N, BUDGET);
	probe_graph_fill(&g, nd, 5, NULL);
	check_shape(&g);
	for (size_t i = 0; i < N; i++) {
		if (!nd[i].usable)
			CU_ASSERT_EQUAL(g.deg[i], 0);
		if (!nd[i].accepts)
			natpairs += g.deg[i];
	}
	/* nodes behind NAT are still probed, by dialing out */
	CU_ASSERT(natpairs > N / 3);
	probe_graph_free(&g);
	/* and none is left with a pair or two in any interval: each node
	 * in at least a quarter of the budget, whichever peers were drawn
	 * for it (2026-12-03's interval left one node behind NAT in a
	 * single pair) */
	for (uint64_t epoch = 20700; epoch < 20900; epoch++) {
		size_t short_of = 0;

		probe_graph_init(&g, N, BUDGET);
		probe_graph_fill(&g, nd, epoch, NULL);
		for (size_t i = 0; i < N; i++)
			short_of += nd[i].usable && g.deg[i] < BUDGET / 4;
		CU_ASSERT_EQUAL(short_of, 0);
		probe_graph_free(&g);
	}
}

static CU_TestInfo tests[] = {
	{"1,000 nodes: budget and coverage", test_budget_and_coverage},
	{"small clusters and regions in full", test_small},
	{"intervals rotate the pairs", test_epochs},
	{"pairs already probed are kept", test_kept},
	{"behind NAT, and down", test_nat_and_down},
	CU_TEST_INFO_NULL,
};

CUNIT_MAIN("probe_graph", tests)
