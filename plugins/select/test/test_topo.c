/*
 * test_topo.c - select/topo over made-up link matrices: the fast pair, one
 * region when it fits, contiguous regions when it does not, packing by
 * price, a pipeline that leaves its slowest link out, GPUs of one NUMA
 * node, NVLink peers in ring order, the predicted time, and node choice
 * against brute force.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/Basic.h>
#include <meridian/plugin_select.h>

#include "cunit_main.h"
#include "ring.h"

extern const struct mer_select_ops meridian_plugin;

#define MAXN   16
#define MBIT   (1e6 / 8)
#define GBIT   (1e9 / 8)
#define SBYTES (64.0 * 1024 * 1024)

/* the matrix the fake core answers from, bytes/s and seconds */
static struct ring_link M[MAXN][MAXN];
static struct mer_select_node nodes[MAXN];
static char names[MAXN][24];
static struct mer_select_gpu gpus[MAXN][4];

static int link_cb(void *core, uint32_t a, uint32_t b, struct mer_link *out)
{
	(void)core;
	if (a >= MAXN || b >= MAXN)
		return -1;
	memset(out, 0, sizeof(*out));
	out->source = MER_LINK_MEASURED;
	out->same_region = nodes[a].region_index == nodes[b].region_index;
	out->latency_us = (uint64_t)(M[a][b].lat_s * 1e6);
	out->bandwidth_mbps = (uint64_t)(M[a][b].bw_Bps * 8 / 1e6);
	out->age_s = 1;
	return 0;
}

static const struct mer_select_api api = {link_cb, NULL};
static const struct mer_select_region regions[3] = {
	{"eu", "", 60}, {"us", "", -300}, {"asia", "", 540}};

/* n free nodes, region r[i], every link lat/bw as set after. */
static void cluster(size_t n, const int *r)
{
	memset(nodes, 0, sizeof(nodes));
	memset(gpus, 0, sizeof(gpus));
	for (size_t i = 0; i < n; i++) {
		snprintf(names[i], sizeof(names[i]), "n%zu", i + 1);
		nodes[i].name = names[i];
		nodes[i].region = r[i] >= 0 ? regions[r[i]].name : "";
		nodes[i].region_index = r[i];
		nodes[i].gpu_model = "a100";
		nodes[i].cpus = nodes[i].cpus_free = 8;
		nodes[i].mem_mb = nodes[i].mem_free_mb = 8192;
		nodes[i].gpus = 4;
		nodes[i].gpu_free_mask = 0xf;
		nodes[i].gpu_hour_price = 1000000;
		nodes[i].id = (uint32_t)i;
		nodes[i].gpu = gpus[i];
		nodes[i].n_gpu = 4;
		for (int g = 0; g < 4; g++) {
			gpus[i][g].index = (uint32_t)g;
			gpus[i][g].numa_node = g / 2;
		}
		for (size_t j = 0; j < n; j++) {
			M[i][j].lat_s = r[i] == r[j] ? 0.0005 : 0.040;
			M[i][j].bw_Bps = r[i] == r[j] ? 1 * GBIT : 100 * MBIT;
		}
	}
}

static void set_link(size_t a, size_t b, double lat, double bw)
{
	M[a][b].lat_s = M[b][a].lat_s = lat;
	M[a][b].bw_Bps = M[b][a].bw_Bps = bw;
}

struct answer {
	int rc;
	uint32_t n;
	uint32_t idx[MAXN];
	uint64_t mask[MAXN];
	uint8_t order[MAXN * MER_SELECT_MAX_GPUS];
	uint64_t us;
	char why[64];
};

static struct answer ask(size_t n, uint32_t k, uint32_t pattern,
			 uint32_t stages, uint32_t gpn)
{
	struct mer_select_job job = {0};
	struct mer_select_request req = {0};
	struct mer_select_result res = {0};
	struct mer_error err = {""};
	struct answer a = {0};

	job.job_id = 1;
	job.num_nodes = k;
	job.cpus_per_node = 1;
	job.gpus_per_node = gpn;
	job.comm_pattern = pattern;
	job.comm_bytes = (uint64_t)SBYTES;
	job.comm_stages = stages;
	req.job = &job;
	req.nodes = nodes;
	req.nnodes = n;
	req.regions = regions;
	req.nregions = 3;
	req.api = &api;
	res.node_index = a.idx;
	res.gpu_mask = a.mask;
	memset(a.order, UINT8_MAX, sizeof(a.order));
	res.gpu_order = a.order;
	a.rc = meridian_plugin.select(NULL, &req, &res, &err);
	a.n = res.nnodes;
	a.us = res.predicted_step_us;
	snprintf(a.why, sizeof(a.why), "%s", err.text);
	return a;
}

static double ring_of(const struct answer *a)
{
	return ring_time(&M[0][0], MAXN, a->idx, a->n, SBYTES, NULL);
}

static void test_fast_pair(void)
{
	static const int r[6] = {0, 0, 0, 1, 1, 1};
	struct answer a;

	cluster(6, r);
	/* n2-n5 cross is the fastest link of all but crosses regions;
	 * inside eu, n2-n3 is fast and n1's links are slow */
	set_link(0, 1, 0.0005, 100 * MBIT);
	set_link(0, 2, 0.0005, 100 * MBIT);
	set_link(1, 2, 0.0005, 10 * GBIT);
	a = ask(6, 2, MER_COMM_RING, 0, 1);
	CU_ASSERT_EQUAL_FATAL(a.rc, 0);
	CU_ASSERT_EQUAL_FATAL(a.n, 2);
	CU_ASSERT((a.idx[0] == 1 && a.idx[1] == 2) ||
		  (a.idx[0] == 2 && a.idx[1] == 1));
	/* the predicted time is the model's for that ring */
	CU_ASSERT(fabs(a.us / 1e6 - ring_of(&a)) < 2e-6);
	/* select/linear would have taken n1 and n2: 100x slower */
	CU_ASSERT(a.us > 0);
}

static void test_regions_contiguous(void)
{
	/* regions interleaved in config order */
	static const int r[8] = {0, 1, 0, 1, 0, 1, 0, 1};
	struct answer a;
	int changes = 0;

	cluster(8, r);
	/* four of eu are busy but two: the job needs both regions */
	nodes[4].cpus_free = nodes[6].cpus_free = 0;
	a = ask(8, 6, MER_COMM_RING, 0, 0);
	CU_ASSERT_EQUAL_FATAL(a.rc, 0);
	CU_ASSERT_EQUAL_FATAL(a.n, 6);
	for (uint32_t i = 0; i < a.n; i++)
		changes += nodes[a.idx[i]].region_index !=
			   nodes[a.idx[(i + 1) % a.n]].region_index;
	/* a ring that keeps each region contiguous crosses twice */
	CU_ASSERT_EQUAL(changes, 2);
	/* and a job that fits in one region stays there */
	nodes[4].cpus_free = nodes[6].cpus_free = 8;
	a = ask(8, 4, MER_COMM_RING, 0, 0);
	CU_ASSERT_EQUAL_FATAL(a.rc, 0);
	for (uint32_t i = 1; i < a.n; i++)
		CU_ASSERT_EQUAL(nodes[a.idx[i]].region_index,
				nodes[a.idx[0]].region_index);
}

/* One slow node sets every ring's pace: the ring still keeps each
 * region's nodes together (its other links as fast as they can be). */
static void test_slow_node_contiguous(void)
{
	static const int r[4] = {0, 1, 0, 1};
	struct answer a;
	int changes = 0;

	/* t0110's measured matrix: n1 ~49 Mbit/s every way, within a few
	 * per cent; n2-n4 190, the rest 96 */
	static const double mbit[4][4] = {{0, 48.4, 48.3, 49.2},
					  {51.0, 0, 96.1, 191.0},
					  {48.9, 96.2, 0, 96.0},
					  {48.1, 190.4, 96.3, 0}};

	cluster(4, r);
	for (size_t i = 0; i < 4; i++)
		for (size_t j = 0; j < 4; j++)
			if (i != j) {
				M[i][j].lat_s = 0.00003;
				M[i][j].bw_Bps = mbit[i][j] * MBIT;
			}
	a = ask(4, 4, MER_COMM_RING, 0, 0);
	CU_ASSERT_EQUAL_FATAL(a.rc, 0);
	for (uint32_t i = 0; i < a.n; i++)
		changes += nodes[a.idx[i]].region_index !=
			   nodes[a.idx[(i + 1) % a.n]].region_index;
	CU_ASSERT_EQUAL(changes, 2);
}

static void test_pack_by_price(void)
{
	static const int r[4] = {0, 0, 1, 1};
	struct answer a;

	cluster(4, r);
	nodes[0].gpu_hour_price = 3000000;
	nodes[1].gpu_hour_price = 2000000;
	nodes[2].gpu_hour_price = 500000;
	nodes[3].gpu_hour_price = 900000;
	a = ask(4, 2, MER_COMM_NONE, 0, 1);
	CU_ASSERT_EQUAL_FATAL(a.rc, 0);
	CU_ASSERT_EQUAL(a.idx[0], 2);
	CU_ASSERT_EQUAL(a.idx[1], 3);
	CU_ASSERT_EQUAL(a.us, 0);
}

static void test_pipeline(void)
{
	static const int r[4] = {0, 0, 0, 0};
	struct answer a;
	size_t slow_a = 1, slow_b = 2;

	cluster(4, r);
	/* a chain of fast links with one slow one between n2 and n3 in
	 * either order: the pipeline's path does not use it */
	for (size_t i = 0; i < 4; i++)
		for (size_t j = 0; j < 4; j++)
			if (i != j)
				set_link(i, j, 0.0005, 100 * MBIT);
	set_link(0, 1, 0.0005, 10 * GBIT);
	set_link(1, 3, 0.0005, 10 * GBIT);
	set_link(3, 2, 0.0005, 10 * GBIT);
	set_link(slow_a, slow_b, 0.0005, 10 * MBIT);
	a = ask(4, 4, MER_COMM_PIPELINE, 0, 0);
	CU_ASSERT_EQUAL_FATAL(a.rc, 0);
	CU_ASSERT_EQUAL_FATAL(a.n, 4);
	/* n1 n2 n4 n3 (or reversed): every boundary 10 Gbit/s */
	for (uint32_t i = 0; i + 1 < a.n; i++)
		CU_ASSERT(M[a.idx[i]][a.idx[i + 1]].bw_Bps >= 10 * GBIT);
	CU_ASSERT(a.us > 0);
	/* stages that do not divide the nodes are refused */
	a = ask(4, 4, MER_COMM_PIPELINE, 3, 0);
	CU_ASSERT_EQUAL(a.rc, -1);
	CU_ASSERT_STRING_EQUAL(a.why, "BadConstraints");
}

static void test_numa_gpus(void)
{
	static const int r[2] = {0, 0};
	struct answer a;

	cluster(2, r);
	/* GPU 1 (NUMA 0) is taken: two GPUs of one NUMA node are 2 and 3 */
	nodes[0].gpu_free_mask = 0xd;
	nodes[1].gpu_free_mask = 0;
	a = ask(2, 1, MER_COMM_RING, 0, 2);
	CU_ASSERT_EQUAL_FATAL(a.rc, 0);
	CU_ASSERT_EQUAL(a.idx[0], 0);
	CU_ASSERT_EQUAL(a.mask[0], 0xcull);
	/* too few free anywhere: Resources */
	a = ask(2, 2, MER_COMM_RING, 0, 2);
	CU_ASSERT_EQUAL(a.rc, -1);
	CU_ASSERT_STRING_EQUAL(a.why, "Resources");
}

/* GPUs that report links: NVLink 0-2, 2-1, 1-3, 3-0, the two other pairs
 * across sockets.  Two GPUs are an NVLink pair, not one NUMA node's; all
 * four go round the NVLink ring, local ranks in its order, on every node
 * of a two-node job. */
static void test_nvlink_gpus(void)
{
	static const int r[2] = {0, 0};
	static const uint32_t nv[4][2] = {{0, 2}, {2, 1}, {1, 3}, {3, 0}};
	static struct mer_gpu_peer peers[MAXN][4][3];
	struct answer a;

	cluster(2, r);
	for (size_t n = 0; n < 2; n++) {
		for (uint32_t g = 0; g < 4; g++) {
			uint32_t k = 0;

			for (uint32_t o = 0; o < 4; o++) {
				bool nvl = false;

				if (o == g)
					continue;
				for (int e = 0; e < 4; e++)
					nvl |= (nv[e][0] == g &&
						nv[e][1] == o) ||
					       (nv[e][1] == g && nv[e][0] == o);
				peers[n][g][k].gpu = o;
				peers[n][g][k].link = nvl ? MER_GPU_LINK_NVLINK
							  : MER_GPU_LINK_SMP;
				peers[n][g][k].bandwidth_mbs = nvl ? 50000 : 0;
				k++;
			}
			gpus[n][g].peers = peers[n][g];
			gpus[n][g].npeers = k;
		}
	}
	a = ask(2, 1, MER_COMM_RING, 0, 2);
	CU_ASSERT_EQUAL_FATAL(a.rc, 0);
	CU_ASSERT_EQUAL(a.mask[0], 0x5ull); /* 0 and 2, not NUMA's 0 and 1 */
	CU_ASSERT_EQUAL(a.order[0], 0);
	CU_ASSERT_EQUAL(a.order[1], 2);
	a = ask(2, 2, MER_COMM_RING, 0, 4);
	CU_ASSERT_EQUAL_FATAL(a.rc, 0);
	for (uint32_t i = 0; i < 2; i++) {
		const uint8_t *row = a.order + i * MER_SELECT_MAX_GPUS;

		CU_ASSERT_EQUAL(a.mask[i], 0xfull);
		CU_ASSERT_EQUAL(row[0], 0);
		CU_ASSERT_EQUAL(row[1], 2);
		CU_ASSERT_EQUAL(row[2], 1);
		CU_ASSERT_EQUAL(row[3], 3);
	}
	/* a node without links keeps index order: the row is left alone */
	for (uint32_t g = 0; g < 4; g++)
		gpus[1][g].npeers = 0;
	a = ask(2, 2, MER_COMM_RING, 0, 4);
	CU_ASSERT_EQUAL_FATAL(a.rc, 0);
	CU_ASSERT_EQUAL(a.order[(a.idx[0] == 1 ? 0 : 1) * MER_SELECT_MAX_GPUS],
			UINT8_MAX);
}

/* xorshift: the same instances every run */
static uint64_t rng = 88172645463325252ull;
static double unit(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (double)(rng >> 11) / (double)(1ull << 53);
}

/* The best ring over every k-subset of n nodes, by brute force. */
static double brute(size_t n, size_t k)
{
	double best = INFINITY;
	uint32_t set[MAXN], order[MAXN];

	for (uint32_t mask = 0; mask < (1u << n); mask++) {
		size_t c = 0;

		if ((size_t)__builtin_popcount(mask) != k)
			continue;
		for (uint32_t i = 0; i < n; i++)
			if (mask & (1u << i))
				set[c++] = i;
		if (ring_order(&M[0][0], MAXN, set, k, SBYTES, order) == 0) {
			double t = ring_time(&M[0][0], MAXN, order, k, SBYTES,
					     NULL);

			if (t < best)
				best = t;
		}
	}
	return best;
}

static void test_against_brute_force(void)
{
	static const int r[MAXN] = {0};
	double sum = 0, worst = 0;
	int runs = 40;

	for (int t = 0; t < runs; t++) {
		size_t n = 6 + (size_t)(unit() * 4); /* 6 to 9 */
		size_t k = 3 + (size_t)(unit() * 3); /* 3 to 5 */
		struct answer a;
		double opt, got;

		cluster(n, r);
		/* home and data-centre links: 10 to 1000 Mbit/s each way */
		for (size_t i = 0; i < n; i++)
			for (size_t j = 0; j < n; j++)
				if (i != j) {
					M[i][j].bw_Bps =
						pow(10, 1 + 2 * unit()) * MBIT;
					M[i][j].lat_s = 0.001 + 0.05 * unit();
				}
		a = ask(n, (uint32_t)k, MER_COMM_RING, 0, 0);
		CU_ASSERT_EQUAL_FATAL(a.rc, 0);
		opt = brute(n, k);
		got = ring_time(&M[0][0], MAXN, a.idx, k, SBYTES, NULL);
		CU_ASSERT(got >= opt * (1 - 1e-9));
		sum += got / opt;
		if (got / opt > worst)
			worst = got / opt;
	}
	printf("\n  select/topo vs the best %s: mean %.3fx, worst %.3fx\n",
	       "k-subset ring", sum / runs, worst);
	CU_ASSERT(sum / runs < 1.02);
	CU_ASSERT(worst < 1.05);
}

/* Jobs no region has room for, over three regions of uneven size and
 * their own wide-area links: within RING_TIE of the best ring through any
 * k nodes (which may leave a region and come back). */
static void test_spanning_against_brute_force(void)
{
	double sum = 0, worst = 0;
	int runs = 40;

	for (int t = 0; t < runs; t++) {
		size_t n = 7 + (size_t)(unit() * 4); /* 7 to 10 */
		int r[MAXN];
		size_t count[3] = {0}, most = 0, k;
		double cross[3][3];
		struct answer a;
		double opt, got;

		for (size_t i = 0; i < n; i++) {
			r[i] = i < 3 ? (int)i : (int)(unit() * 3);
			count[r[i]]++;
		}
		for (size_t i = 0; i < 3; i++)
			if (count[i] > most)
				most = count[i];
		k = most + 1 + (size_t)(unit() * (double)(n - most));
		if (k > n)
			k = n;
		cluster(n, r);
		for (size_t i = 0; i < 3; i++)
			for (size_t j = i; j < 3; j++)
				cross[i][j] = cross[j][i] =
					pow(10, 1 + 1.5 * unit()) * MBIT;
		for (size_t i = 0; i < n; i++)
			for (size_t j = i + 1; j < n; j++) {
				double jit = 0.9 + 0.2 * unit();

				set_link(i, j,
					 r[i] == r[j] ? 0.0002
						      : 0.005 + 0.1 * unit(),
					 r[i] == r[j]
						 ? 10 * GBIT * jit
						 : cross[r[i]][r[j]] * jit);
			}
		a = ask(n, (uint32_t)k, MER_COMM_RING, 0, 0);
		CU_ASSERT_EQUAL_FATAL(a.rc, 0);
		CU_ASSERT_EQUAL_FATAL(a.n, k);
		opt = brute(n, k);
		got = ring_time(&M[0][0], MAXN, a.idx, k, SBYTES, NULL);
		CU_ASSERT(got >= opt * (1 - 1e-9));
		sum += got / opt;
		if (got / opt > worst)
			worst = got / opt;
	}
	printf("\n  spanning regions, vs the best k-subset ring: mean %.3fx, "
	       "worst %.3fx\n",
	       sum / runs, worst);
	CU_ASSERT(sum / runs < 1.02);
	CU_ASSERT(worst <= 1 + RING_TIE + 1e-9);
}

/* Regions too large to read every one's links (their blocks pass
 * TOPO_REGIONS_WORK): ranked by a sample, the best still found -- the
 * last region in config order, whose links are ten times faster. */
#define BIG_REG 4
#define BIG_PER 1300
static int big_link(void *core, uint32_t a, uint32_t b, struct mer_link *out)
{
	uint32_t ra = a / BIG_PER, rb = b / BIG_PER;

	(void)core;
	memset(out, 0, sizeof(*out));
	out->source = MER_LINK_MEASURED;
	out->same_region = ra == rb;
	out->latency_us = ra == rb ? 500 : 40000;
	out->bandwidth_mbps = ra != rb ? 100 : ra == BIG_REG - 1 ? 10000 : 1000;
	out->age_s = 1;
	return 0;
}

static void test_large_regions_ranked(void)
{
	static const struct mer_select_api big_api = {big_link, NULL};
	static const struct mer_select_region big_regions[BIG_REG] = {
		{"r0", "", 0}, {"r1", "", 0}, {"r2", "", 0}, {"r3", "", 0}};
	size_t n = (size_t)BIG_REG * BIG_PER, k = 1000, in_last = 0;
	struct mer_select_node *v = calloc(n, sizeof(*v));
	uint32_t *idx = calloc(k, sizeof(*idx));
	uint64_t *mask = calloc(k, sizeof(*mask));
	struct mer_select_job job = {0};
	struct mer_select_request req = {0};
	struct mer_select_result res = {0};
	struct mer_error err = {""};

	CU_ASSERT_PTR_NOT_NULL_FATAL(v);
	CU_ASSERT_PTR_NOT_NULL_FATAL(idx);
	CU_ASSERT_PTR_NOT_NULL_FATAL(mask);
	for (size_t i = 0; i < n; i++) {
		v[i].name = "n";
		v[i].region = big_regions[i / BIG_PER].name;
		v[i].region_index = (int32_t)(i / BIG_PER);
		v[i].gpu_model = "";
		v[i].cpus = v[i].cpus_free = 8;
		v[i].mem_mb = v[i].mem_free_mb = 8192;
		v[i].id = (uint32_t)i;
	}
	job.job_id = 1;
	job.num_nodes = (uint32_t)k;
	job.cpus_per_node = 1;
	job.comm_pattern = MER_COMM_RING;
	job.comm_bytes = (uint64_t)SBYTES;
	req.job = &job;
	req.nodes = v;
	req.nnodes = n;
	req.regions = big_regions;
	req.nregions = BIG_REG;
	req.api = &big_api;
	res.node_index = idx;
	res.gpu_mask = mask;
	CU_ASSERT_EQUAL_FATAL(meridian_plugin.select(NULL, &req, &res, &err),
			      0);
	CU_ASSERT_EQUAL(res.nnodes, k);
	for (size_t i = 0; i < res.nnodes; i++)
		in_last += v[idx[i]].region_index == BIG_REG - 1;
	CU_ASSERT_EQUAL(in_last, k);
	free(v);
	free(idx);
	free(mask);
}

static CU_TestInfo tests[] = {
	{"the fast pair", test_fast_pair},
	{"one region, or regions contiguous", test_regions_contiguous},
	{"a slow node's ring still keeps regions together",
	 test_slow_node_contiguous},
	{"none packs by price", test_pack_by_price},
	{"a pipeline leaves its slowest link out", test_pipeline},
	{"GPUs of one NUMA node", test_numa_gpus},
	{"NVLink peers together, in ring order", test_nvlink_gpus},
	{"node choice against brute force", test_against_brute_force},
	{"jobs spanning regions against brute force",
	 test_spanning_against_brute_force},
	{"large regions ranked by a sample", test_large_regions_ranked},
	CU_TEST_INFO_NULL,
};

CUNIT_MAIN("select/topo", tests)
