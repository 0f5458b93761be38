/*
 * test_gpuset.c - a job's GPUs inside a node (select/topo's gpuset.c): a
 * DGX-1V's hybrid cube-mesh (all eight, four, two, some busy), random
 * link matrices against brute force, an NVSwitch node too large to
 * search (greedy, lowest first), and a node that reports no links.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/Basic.h>
#include <meridian/plugin_select.h>

#include "cunit_main.h"
#include "gpuset.h"

#define G 16

static struct mer_select_node node;
static struct mer_select_gpu gpu[G];
static struct mer_gpu_peer peer[G][G];

static void node_init(uint32_t n)
{
	memset(&node, 0, sizeof(node));
	memset(gpu, 0, sizeof(gpu));
	node.name = "g1";
	node.gpus = n;
	node.gpu_free_mask = n >= 64 ? ~0ull : (1ull << n) - 1;
	node.gpu = gpu;
	node.n_gpu = n;
	for (uint32_t i = 0; i < n; i++) {
		gpu[i].index = i;
		gpu[i].numa_node = -1;
		gpu[i].peers = peer[i];
	}
}

static void add_link(uint32_t a, uint32_t b, uint32_t kind, uint32_t mbs)
{
	struct mer_gpu_peer *p = &peer[a][gpu[a].npeers++];

	p->gpu = b;
	p->link = kind;
	p->bandwidth_mbs = mbs;
	p = &peer[b][gpu[b].npeers++];
	p->gpu = a;
	p->link = kind;
	p->bandwidth_mbs = mbs;
}

/* DGX-1V: NVLink links per pair (nvidia-smi topo -m), the rest across
 * sockets (GPUs 0-3 on one, 4-7 on the other). */
static const int dgx1v[8][8] = {
	{0, 1, 1, 2, 2, 0, 0, 0}, {1, 0, 2, 1, 0, 2, 0, 0},
	{1, 2, 0, 2, 0, 0, 1, 0}, {2, 1, 2, 0, 0, 0, 0, 1},
	{2, 0, 0, 0, 0, 1, 1, 2}, {0, 2, 0, 0, 1, 0, 2, 1},
	{0, 0, 1, 0, 1, 2, 0, 2}, {0, 0, 0, 1, 2, 1, 2, 0},
};

static void dgx1(void)
{
	node_init(8);
	for (uint32_t a = 0; a < 8; a++)
		for (uint32_t b = a + 1; b < 8; b++) {
			if (dgx1v[a][b])
				add_link(a, b, MER_GPU_LINK_NVLINK,
					 25000u * (uint32_t)dgx1v[a][b]);
			else
				add_link(a, b,
					 a / 4 == b / 4 ? MER_GPU_LINK_PCI
							: MER_GPU_LINK_SMP,
					 0);
		}
}

struct score {
	uint32_t min;
	uint64_t sum;
};

static struct score ring_score(const uint8_t *r, uint32_t k)
{
	struct score s = {UINT32_MAX, 0};

	if (k == 2) {
		uint32_t e = gpuset_edge_mbs(&node, r[0], r[1]);
		return (struct score){e, 2ull * e};
	}
	for (uint32_t i = 0; i < k; i++) {
		uint32_t e = gpuset_edge_mbs(&node, r[i], r[(i + 1) % k]);

		s.min = e < s.min ? e : s.min;
		s.sum += e;
	}
	return s;
}

static bool better(struct score a, struct score b)
{
	return a.min > b.min || (a.min == b.min && a.sum > b.sum);
}

/* The best ring over want of the free GPUs, every set and order. */
static struct score bf_best;
static bool bf_have;

static void bf_perm(uint8_t *r, uint32_t depth, uint32_t k, bool *used,
		    const uint8_t *set)
{
	if (depth == k) {
		struct score s = ring_score(r, k);

		if (!bf_have || better(s, bf_best)) {
			bf_best = s;
			bf_have = true;
		}
		return;
	}
	for (uint32_t i = 0; i < k; i++) {
		if (used[i])
			continue;
		used[i] = true;
		r[depth] = set[i];
		bf_perm(r, depth + 1, k, used, set);
		used[i] = false;
	}
}

static void bf_sets(uint8_t *set, uint32_t depth, uint32_t from, uint32_t k)
{
	if (depth == k) {
		uint8_t r[G];
		bool used[G] = {false};

		bf_perm(r, 0, k, used, set);
		return;
	}
	for (uint32_t g = from; g < node.gpus; g++)
		if (node.gpu_free_mask & (1ull << g)) {
			set[depth] = (uint8_t)g;
			bf_sets(set, depth + 1, g + 1, k);
		}
}

static struct score brute_force(uint32_t k)
{
	uint8_t set[G];

	bf_have = false;
	bf_sets(set, 0, 0, k);
	return bf_best;
}

/* gpuset's answer is want free GPUs, each once, its mask theirs (in
 * index order where it gives no order). */
static struct score choose(uint32_t want, uint64_t *mask, uint8_t *order)
{
	uint64_t seen = 0;

	memset(order, UINT8_MAX, G);
	CU_ASSERT_TRUE_FATAL(gpuset_choose(&node, want, mask, order));
	if (order[0] == UINT8_MAX) /* index order: one GPU, or no links */
		for (uint32_t g = 0, k = 0; g < G; g++)
			if (*mask & (1ull << g))
				order[k++] = (uint8_t)g;
	for (uint32_t k = 0; k < want; k++) {
		CU_ASSERT_TRUE(order[k] < node.gpus);
		CU_ASSERT_FALSE(seen & (1ull << order[k]));
		seen |= 1ull << order[k];
	}
	CU_ASSERT_EQUAL(seen, *mask);
	CU_ASSERT_EQUAL(seen & ~node.gpu_free_mask, 0);
	return ring_score(order, want);
}

static bool all_nvlink(const uint8_t *r, uint32_t k)
{
	for (uint32_t i = 0; i < k; i++)
		if (!dgx1v[r[i]][r[(i + 1) % k]])
			return false;
	return true;
}

static void test_dgx1_all_eight(void)
{
	uint8_t order[G];
	uint64_t mask;
	struct score s, bf;

	dgx1();
	s = choose(8, &mask, order);
	bf = brute_force(8);
	CU_ASSERT_EQUAL(mask, 0xff);
	/* index order crosses sockets twice (3-4, 7-0); the chosen ring
	 * only on NVLink */
	CU_ASSERT_TRUE(all_nvlink(order, 8));
	CU_ASSERT_EQUAL(s.min, bf.min);
	CU_ASSERT_EQUAL(s.sum, bf.sum);
	printf("\n    8 of a DGX-1V: %u %u %u %u %u %u %u %u, slowest edge "
	       "%u MB/s ",
	       order[0], order[1], order[2], order[3], order[4], order[5],
	       order[6], order[7], s.min);
}

static void test_dgx1_four_and_two(void)
{
	uint8_t order[G];
	uint64_t mask;
	struct score s, bf;

	dgx1();
	s = choose(4, &mask, order);
	bf = brute_force(4);
	CU_ASSERT_TRUE(all_nvlink(order, 4));
	CU_ASSERT_EQUAL(s.min, bf.min);
	CU_ASSERT_EQUAL(s.sum, bf.sum);
	/* the lowest of the pairs with two links: 0 and 3 */
	s = choose(2, &mask, order);
	CU_ASSERT_EQUAL(mask, 0x9);
	CU_ASSERT_EQUAL(s.min, 50000);
	/* 0 and 3 busy: of what is left, 1-2 has two links */
	node.gpu_free_mask = 0xff & ~0x9ull;
	s = choose(2, &mask, order);
	CU_ASSERT_EQUAL(mask, 0x6);
	/* one GPU: the lowest free */
	CU_ASSERT_TRUE(gpuset_choose(&node, 1, &mask, NULL));
	CU_ASSERT_EQUAL(mask, 0x2);
}

/* Four free that no all-NVLink ring joins: still the best there is, and
 * too few free is a no. */
static void test_dgx1_busy(void)
{
	uint8_t order[G];
	uint64_t mask;
	struct score s, bf;

	dgx1();
	node.gpu_free_mask = (1u << 0) | (1u << 1) | (1u << 5) | (1u << 6);
	s = choose(4, &mask, order);
	bf = brute_force(4);
	CU_ASSERT_EQUAL(mask, node.gpu_free_mask);
	CU_ASSERT_EQUAL(s.min, bf.min);
	CU_ASSERT_EQUAL(s.sum, bf.sum);
	s = choose(3, &mask, order);
	bf = brute_force(3);
	CU_ASSERT_EQUAL(s.min, bf.min);
	CU_ASSERT_EQUAL(s.sum, bf.sum);
	CU_ASSERT_FALSE(gpuset_choose(&node, 5, &mask, order));
}

static void test_random_vs_brute_force(void)
{
	static const uint32_t kinds[] = {MER_GPU_LINK_NVLINK, MER_GPU_LINK_PCI,
					 MER_GPU_LINK_SMP,
					 MER_GPU_LINK_UNKNOWN};
	unsigned seed = 7, worse = 0, runs = 0;

	for (int t = 0; t < 200; t++) {
		uint32_t n = 3 + (uint32_t)(rand_r(&seed) % 6), want, nfree;
		uint8_t order[G];
		uint64_t mask;
		struct score s, bf;

		node_init(n);
		for (uint32_t a = 0; a < n; a++)
			for (uint32_t b = a + 1; b < n; b++) {
				uint32_t k = kinds[rand_r(&seed) % 4];

				/* some pairs say nothing */
				if (rand_r(&seed) % 5 == 0)
					continue;
				add_link(
					a, b, k,
					k == MER_GPU_LINK_NVLINK
						? 25000u *
							  (1 +
							   (uint32_t)(rand_r(&seed) %
								      3))
						: 0);
			}
		node.gpu_free_mask &= (uint64_t)rand_r(&seed) | 1u;
		nfree = (uint32_t)__builtin_popcountll(node.gpu_free_mask);
		want = 1 + (uint32_t)rand_r(&seed) % nfree;
		s = choose(want, &mask, order);
		if (want == 1)
			continue;
		bf = brute_force(want);
		runs++;
		if (s.min != bf.min || s.sum != bf.sum)
			worse++;
	}
	printf("\n    %u random nodes: %u worse than brute force ", runs,
	       worse);
	CU_ASSERT_TRUE(runs > 100);
	CU_ASSERT_EQUAL(worse, 0);
}

/* 16 GPUs on NVSwitches, every pair alike: 8 of 16 is past the exact
 * search; the greedy one keeps the lowest, in index order. */
static void test_nvswitch_greedy(void)
{
	uint8_t order[G];
	uint64_t mask;
	struct score s;

	node_init(16);
	for (uint32_t a = 0; a < 16; a++)
		for (uint32_t b = a + 1; b < 16; b++)
			add_link(a, b, MER_GPU_LINK_NVLINK, 150000);
	s = choose(8, &mask, order);
	CU_ASSERT_EQUAL(mask, 0xff);
	for (uint32_t k = 0; k < 8; k++)
		CU_ASSERT_EQUAL(order[k], k);
	CU_ASSERT_EQUAL(s.min, 150000);
}

/* No links reported: one NUMA node's lowest free GPUs, and no order. */
static void test_no_links(void)
{
	uint8_t order[G];
	uint64_t mask;

	node_init(4);
	for (int g = 0; g < 4; g++)
		gpu[g].numa_node = g / 2;
	node.gpu_free_mask = 0xd; /* 0, 2, 3 */
	memset(order, UINT8_MAX, sizeof(order));
	CU_ASSERT_TRUE(gpuset_choose(&node, 2, &mask, order));
	CU_ASSERT_EQUAL(mask, 0xc);
	CU_ASSERT_EQUAL(order[0], UINT8_MAX);
	CU_ASSERT_TRUE(gpuset_choose(&node, 3, &mask, order));
	CU_ASSERT_EQUAL(mask, 0xd);
	CU_ASSERT_TRUE(gpuset_choose(&node, 0, &mask, order));
	CU_ASSERT_EQUAL(mask, 0);
}

static CU_TestInfo tests[] = {
	{"DGX-1V: all eight on NVLink", test_dgx1_all_eight},
	{"DGX-1V: four, then two", test_dgx1_four_and_two},
	{"DGX-1V: some GPUs busy", test_dgx1_busy},
	{"random nodes against brute force", test_random_vs_brute_force},
	{"NVSwitch: past the exact search", test_nvswitch_greedy},
	{"a node without links", test_no_links},
	CU_TEST_INFO_NULL,
};

CUNIT_MAIN("gpuset", tests)
