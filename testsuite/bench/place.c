/*
 * place.c - the placement benchmark (`make bench-place`; issue 9, point 7).
 *
 *   place [--quick] [DATA]
 *
 * DATA is geo-yuan2022.tsv (links between cloud regions measured by Yuan
 * et al., NeurIPS 2022; the file names its source).  Every scenario is a
 * list of nodes, each in one of the file's regions, and every link between
 * two nodes is the file's figure for their regions with a per-pair jitter
 * of +-10% on latency and on bandwidth (a fixed seed), one-way latency
 * half the round trip.  The list order is shuffled (a config file's order
 * says nothing about where nodes are).  Reported:
 *
 *   1. predicted allreduce time (ring.h's model, S = MER_COMM_BYTES_DEFAULT)
 *      of select/topo's placement, of select/linear's (the first k nodes in
 *      list order: what linear.c takes when every node is free, as here)
 *      and of random ones (the mean of several), per scenario; and the
 *      same for a pipeline of 8 stages in topo's pipeline model;
 *   2. on small random instances, topo's time over the exact optimum
 *      (Held-Karp over every subset of the candidates: the least
 *      bottleneck ring through any k of them);
 *   3. the estimation error of pairs never probed: the pairs a 1,000-node
 *      world probes are those of mctld's own graph (src/mctld/
 *      probe_graph.c, what probe.c plans from), fed to src/mctld/links.c
 *      as measurements, and the estimates of every other pair compared
 *      with the pair's true figures;
 *   4. the number of distinct probes each node takes part in per
 *      ProbeInterval in that graph (test_probes checks the same bound
 *      through the planner itself);
 *   5. the wall time of one select call for 64 ranks among 1,000 nodes and
 *      1,024 among 10,000, links computed on the fly by the callback.
 *
 * It ends with a PASS or MISS line per target of the issue.  It exits 0
 * whether targets are met or not (it measures, it does not test), 1 on an
 * error (bad data, a placement that failed).
 */
#include "config.h"

#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <meridian/plugin_select.h>

#include "mctld.h"
#include "ring.h"

extern const struct mer_select_ops meridian_plugin;

#ifndef PLACE_DATA
#define PLACE_DATA "geo-yuan2022.tsv"
#endif

#define GEO_MAX	    16	 /* regions per set */
#define JITTER	    0.10 /* +- share on each pair's latency and bandwidth */
#define PROBE_PEERS 16	 /* ProbePeers' default (src/common/conf.c) */
#define SMALL_MAX   12	 /* the largest small instance solved exactly */

/* One set of the data file: the regions of one scenario and their links. */
struct geo {
	char name[16];
	char region[GEO_MAX][32];
	size_t n;
	double rtt_ms[GEO_MAX][GEO_MAX]; /* < 0: not in the file */
	double mbps[GEO_MAX][GEO_MAX];
};

struct data {
	struct geo set[4];
	size_t n;
};

/* The nodes of one scenario, in list order, and how their links vary. */
struct world {
	const struct geo *g;
	size_t n;
	uint8_t *region; /* per node: its region's index in g */
	uint64_t seed;
};

struct rng {
	uint64_t s;
};

/* ---- numbers ------------------------------------------------------------- */

/* splitmix64's finaliser: a good hash of one word. */
static uint64_t mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

static double unit_of(uint64_t h)
{
	return (double)(h >> 11) * 0x1.0p-53;
}

static double runit(struct rng *r)
{
	return unit_of(mix(r->s++));
}

static size_t rbelow(struct rng *r, size_t n)
{
	return (size_t)(runit(r) * (double)n) % n;
}

static void shuffle(struct rng *r, uint8_t *a, size_t n)
{
	for (size_t i = n; i > 1; i--) {
		size_t j = rbelow(r, i);
		uint8_t t = a[i - 1];

		a[i - 1] = a[j];
		a[j] = t;
	}
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int dbl_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* The q-quantile of v[0..n) (sorts v). */
static double quantile(double *v, size_t n, double q)
{
	if (!n)
		return NAN;
	qsort(v, n, sizeof(*v), dbl_cmp);
	return v[(size_t)(q * (double)(n - 1))];
}

static double median_of(double *v, size_t n)
{
	return quantile(v, n, 0.5);
}

static void *xmalloc0(size_t n)
{
	void *p = calloc(n ? n : 1, 1);

	if (!p) {
		fprintf(stderr, "place: out of memory (%zu bytes)\n", n);
		exit(1);
	}
	return p;
}

/* ---- the data file ------------------------------------------------------- */

static struct geo *set_of(struct data *d, const char *name)
{
	for (size_t i = 0; i < d->n; i++)
		if (strcmp(d->set[i].name, name) == 0)
			return &d->set[i];
	if (d->n == sizeof(d->set) / sizeof(d->set[0]))
		return NULL;
	struct geo *g = &d->set[d->n++];

	memset(g, 0, sizeof(*g));
	snprintf(g->name, sizeof(g->name), "%s", name);
	for (size_t a = 0; a < GEO_MAX; a++)
		for (size_t b = 0; b < GEO_MAX; b++)
			g->rtt_ms[a][b] = -1;
	return g;
}

static long region_of(struct geo *g, const char *name, bool add)
{
	for (size_t i = 0; i < g->n; i++)
		if (strcmp(g->region[i], name) == 0)
			return (long)i;
	if (!add || g->n == GEO_MAX)
		return -1;
	snprintf(g->region[g->n], sizeof(g->region[0]), "%s", name);
	return (long)g->n++;
}

/* Read path into d: 0, or -1 with the reason printed. */
static int data_load(const char *path, struct data *d)
{
	FILE *f = fopen(path, "r");
	char line[256];
	unsigned lineno = 0;

	if (!f) {
		perror(path);
		return -1;
	}
	d->n = 0;
	while (fgets(line, sizeof(line), f)) {
		char set[16], a[32], b[32];
		double rtt, mbps;
		struct geo *g;
		long ra, rb;

		lineno++;
		if (line[0] == '#' || line[strspn(line, " \t\r\n")] == '\0')
			continue;
		if (sscanf(line, "%15s %31s %31s %lf %lf", set, a, b, &rtt,
			   &mbps) != 5 ||
		    !(rtt > 0) || !(mbps > 0) || !(g = set_of(d, set)) ||
		    (ra = region_of(g, a, true)) < 0 ||
		    (rb = region_of(g, b, true)) < 0) {
			fprintf(stderr, "%s:%u: not a link line\n", path,
				lineno);
			fclose(f);
			return -1;
		}
		g->rtt_ms[ra][rb] = g->rtt_ms[rb][ra] = rtt;
		g->mbps[ra][rb] = g->mbps[rb][ra] = mbps;
	}
	fclose(f);
	/* every pair of a set, and inside each region, must be known */
	for (size_t s = 0; s < d->n; s++)
		for (size_t a = 0; a < d->set[s].n; a++)
			for (size_t b = 0; b < d->set[s].n; b++)
				if (d->set[s].rtt_ms[a][b] < 0) {
					fprintf(stderr,
						"%s: set %s: no line for %s "
						"and %s\n",
						path, d->set[s].name,
						d->set[s].region[a],
						d->set[s].region[b]);
					return -1;
				}
	return 0;
}

static const struct geo *need_set(const struct data *d, const char *name)
{
	for (size_t i = 0; i < d->n; i++)
		if (strcmp(d->set[i].name, name) == 0 && d->set[i].n)
			return &d->set[i];
	fprintf(stderr, "place: the data file has no set \"%s\"\n", name);
	exit(1);
}

/* ---- worlds -------------------------------------------------------------- */

/* per nodes in each of g's regions, list order shuffled unless sorted. */
static struct world world_make(const struct geo *g, size_t per, uint64_t seed,
			       bool sorted)
{
	struct world w = {g, g->n * per, NULL, seed};
	struct rng r = {seed * 7919 + 1};

	w.region = xmalloc0(w.n);
	for (size_t i = 0; i < w.n; i++)
		w.region[i] = (uint8_t)(i / per);
	if (!sorted)
		shuffle(&r, w.region, w.n);
	return w;
}

/* The jitter factor of the pair {a, b}, one per quantity (what). */
static double jitter(const struct world *w, size_t a, size_t b, unsigned what)
{
	uint64_t lo = a < b ? a : b, hi = a < b ? b : a;
	uint64_t h = mix(mix((lo << 32 | hi) ^ w->seed) + what);

	return 1 + JITTER * (2 * unit_of(h) - 1);
}

/* The true link between nodes a and b (symmetric). */
static void world_link(const struct world *w, size_t a, size_t b, double *lat_s,
		       double *bw_Bps)
{
	size_t ra = w->region[a], rb = w->region[b];

	*lat_s = w->g->rtt_ms[ra][rb] / 2e3 * jitter(w, a, b, 0);
	*bw_Bps = w->g->mbps[ra][rb] * 1e6 / 8 * jitter(w, a, b, 1);
}

static double true_edge(const struct world *w, uint32_t a, uint32_t b, size_t k,
			double bytes)
{
	struct ring_link l;

	world_link(w, a, b, &l.lat_s, &l.bw_Bps);
	return ring_edge_cost(&l, k, bytes);
}

/* ring_time() over the true links, computed edge by edge (no matrix). */
static double true_ring(const struct world *w, const uint32_t *order, size_t k,
			double bytes)
{
	double worst = 0;

	if (k < 2)
		return 0;
	for (size_t p = 0; p < k; p++) {
		double c = true_edge(w, order[p], order[(p + 1) % k], k, bytes);

		if (c > worst)
			worst = c;
	}
	return 2.0 * (double)(k - 1) * worst;
}

/* topo.c's pipeline model over the true links: stages of k/stages
 * consecutive ranks, replica r of a stage sending bytes to replica r of
 * the next, each boundary as slow as its slowest link. */
static double true_pipeline(const struct world *w, const uint32_t *order,
			    size_t k, size_t stages, double bytes)
{
	size_t g = k / stages;
	double sum = 0;

	for (size_t s = 0; s + 1 < stages; s++) {
		double worst = 0;

		for (size_t r = 0; r < g; r++) {
			double lat, bw, c;

			world_link(w, order[s * g + r], order[(s + 1) * g + r],
				   &lat, &bw);
			c = lat + bytes / bw;
			if (c > worst)
				worst = c;
		}
		sum += worst;
	}
	return sum;
}

/* ---- select/topo over a world -------------------------------------------- */

/* The core's side of a request: nodes and regions as mctld hands them. */
struct core {
	const struct world *w;
	struct mer_select_node *nodes;
	struct mer_select_region regions[GEO_MAX];
	struct mer_select_api api;
};

/* Link callbacks answered since the count was last reset. */
static size_t link_calls;

/* The link callback: every pair measured, its true figures. */
static int link_cb(void *arg, uint32_t a, uint32_t b, struct mer_link *out)
{
	const struct world *w = arg;
	double lat, bw;

	link_calls++;
	if (a >= w->n || b >= w->n)
		return -1;
	memset(out, 0, sizeof(*out));
	out->source = MER_LINK_MEASURED;
	out->same_region = w->region[a] == w->region[b];
	out->age_s = 1;
	if (a == b)
		return 0;
	world_link(w, a, b, &lat, &bw);
	out->latency_us = (uint64_t)llround(lat * 1e6);
	out->bandwidth_mbps = (uint64_t)llround(bw * 8 / 1e6);
	return 0;
}

static void core_init(struct core *c, const struct world *w)
{
	c->w = w;
	c->nodes = xmalloc0(w->n * sizeof(*c->nodes));
	for (size_t r = 0; r < w->g->n; r++) {
		c->regions[r].name = w->g->region[r];
		c->regions[r].description = "";
	}
	for (size_t i = 0; i < w->n; i++) {
		struct mer_select_node *n = &c->nodes[i];

		/* one free GPU each, as the paper's instances; names and
		 * prices are not looked at */
		n->name = "node";
		n->region = w->g->region[w->region[i]];
		n->gpu_model = "v100";
		n->cpus = n->cpus_free = 8;
		n->mem_mb = n->mem_free_mb = 65536;
		n->gpus = 1;
		n->gpu_free_mask = 1;
		n->id = (uint32_t)i;
		n->region_index = w->region[i];
	}
	c->api.link = link_cb;
	c->api.core = (void *)w;
}

static void core_fini(struct core *c)
{
	free(c->nodes);
}

/* select/topo's k nodes in rank order into order (node ids); *secs the
 * wall time of the call.  0, or -1 with the reason printed. */
static int topo_place(struct core *c, size_t k, uint32_t pattern,
		      uint32_t stages, uint32_t *order, double *secs)
{
	struct mer_select_job job = {0};
	struct mer_select_request req = {0};
	struct mer_select_result res = {0};
	struct mer_error err = {""};
	uint8_t *gorder = xmalloc0(k * MER_SELECT_MAX_GPUS);
	double t0;
	int rc;

	job.job_id = 1;
	job.num_nodes = (uint32_t)k;
	job.tasks_per_node = 1;
	job.cpus_per_node = 1;
	job.gpus_per_node = 1;
	job.gpu_type = "";
	job.ntasks = (uint32_t)k;
	job.comm_pattern = pattern;
	job.comm_bytes = MER_COMM_BYTES_DEFAULT;
	job.comm_stages = stages;
	req.job = &job;
	req.nodes = c->nodes;
	req.nnodes = c->w->n;
	req.regions = c->regions;
	req.nregions = c->w->g->n;
	req.api = &c->api;
	res.node_index = order;
	res.gpu_mask = xmalloc0(k * sizeof(*res.gpu_mask));
	memset(gorder, UINT8_MAX, k * MER_SELECT_MAX_GPUS);
	res.gpu_order = gorder;
	res.bottleneck = UINT32_MAX;
	t0 = now_s();
	rc = meridian_plugin.select(NULL, &req, &res, &err);
	*secs = now_s() - t0;
	free(res.gpu_mask);
	free(gorder);
	if (rc != 0 || res.nnodes != k) {
		fprintf(stderr, "place: select/topo placed %u of %zu: %s\n",
			res.nnodes, k, err.text);
		return -1;
	}
	for (size_t i = 0; i < k; i++)
		order[i] = c->nodes[order[i]].id;
	return 0;
}

/* select/linear's: the first k nodes in list order. */
static void linear_place(size_t k, uint32_t *order)
{
	for (size_t i = 0; i < k; i++)
		order[i] = (uint32_t)i;
}

/* k of n nodes at random, in random order. */
static void random_place(struct rng *r, size_t n, size_t k, uint32_t *order,
			 uint32_t *tmp)
{
	for (size_t i = 0; i < n; i++)
		tmp[i] = (uint32_t)i;
	for (size_t i = 0; i < k; i++) {
		size_t j = i + rbelow(r, n - i);
		uint32_t t = tmp[i];

		tmp[i] = tmp[j];
		tmp[j] = t;
		order[i] = tmp[i];
	}
}

/* ---- the exact optimum --------------------------------------------------- */

/*
 * The least predicted time of a ring over any k of w's n <= SMALL_MAX
 * nodes, in any order: Held-Karp over bottlenecks, best[mask * n + v] the
 * least largest edge of a path from mask's lowest node through every node
 * of mask ending at v; a full ring closes a path of k nodes back to its
 * start.  O(2^n n^2).
 */
static double exact_best(const struct world *w, size_t k, double bytes)
{
	size_t n = w->n, full = (size_t)1 << n;
	double c[SMALL_MAX][SMALL_MAX], best = INFINITY, *dp;

	if (k < 2)
		return 0;
	dp = xmalloc0(full * n * sizeof(*dp));
	for (size_t i = 0; i < full * n; i++)
		dp[i] = INFINITY;
	for (size_t a = 0; a < n; a++) {
		dp[((size_t)1 << a) * n + a] = 0;
		for (size_t b = 0; b < n; b++)
			c[a][b] = a == b ? 0
					 : true_edge(w, (uint32_t)a,
						     (uint32_t)b, k, bytes);
	}
	for (size_t mask = 1; mask < full; mask++) {
		size_t lo = (size_t)__builtin_ctzl(mask),
		       pc = (size_t)__builtin_popcountl(mask);

		if (pc > k)
			continue;
		for (size_t v = 0; v < n; v++) {
			double d = dp[mask * n + v];

			if (!(mask & ((size_t)1 << v)) || d == INFINITY)
				continue;
			if (pc == k) {
				double ring = d > c[v][lo] ? d : c[v][lo];

				if (ring < best)
					best = ring;
				continue;
			}
			for (size_t u = lo + 1; u < n; u++) {
				size_t next = mask | ((size_t)1 << u);
				double e = d > c[v][u] ? d : c[v][u];

				if (!(mask & ((size_t)1 << u)) &&
				    e < dp[next * n + u])
					dp[next * n + u] = e;
			}
		}
	}
	free(dp);
	return 2.0 * (double)(k - 1) * best;
}

/*
 * A lower bound on the time of any ring through all of w's nodes: a ring
 * crosses every cut (a set of regions against the rest) at least twice,
 * so its slowest edge is at least the second cheapest edge across each
 * cut.  The largest such over every set of regions.
 */
static double cut_bound(const struct world *w, double bytes)
{
	size_t n = w->n, nr = w->g->n, k = n;
	double bound = 0;

	for (size_t set = 1; set + 1 < ((size_t)1 << nr); set++) {
		double c1 = INFINITY, c2 = INFINITY;

		for (size_t a = 0; a < n; a++) {
			if (!(set & ((size_t)1 << w->region[a])))
				continue;
			for (size_t b = 0; b < n; b++) {
				double c;

				if (set & ((size_t)1 << w->region[b]))
					continue;
				/* either direction may be the one used */
				c = fmin(true_edge(w, (uint32_t)a, (uint32_t)b,
						   k, bytes),
					 true_edge(w, (uint32_t)b, (uint32_t)a,
						   k, bytes));
				if (c < c1) {
					c2 = c1;
					c1 = c;
				} else if (c < c2) {
					c2 = c;
				}
			}
		}
		if (c2 < INFINITY && c2 > bound)
			bound = c2;
	}
	return 2.0 * (double)(k - 1) * bound;
}

/* Sum of the ring's edge costs: the tie-break of the local search. */
static double ring_sum(const struct world *w, const uint32_t *o, size_t k,
		       double bytes)
{
	double sum = 0;

	for (size_t p = 0; p < k; p++)
		sum += true_edge(w, o[p], o[(p + 1) % k], k, bytes);
	return sum;
}

/*
 * Improve the ring o[0..k) by 2-opt moves (reverse o[i+1..j]) while one
 * makes the slowest edge faster, or keeps it and lowers the sum: not a
 * placement of topo's, a check of how far its order is from what a
 * ring that may leave a region and come back again reaches.
 */
static double two_opt(const struct world *w, uint32_t *o, size_t k,
		      double bytes)
{
	double best = true_ring(w, o, k, bytes), sum = ring_sum(w, o, k, bytes);
	bool better = true;

	while (better) {
		better = false;
		for (size_t i = 0; i + 2 < k; i++)
			for (size_t j = i + 2; j < k; j++) {
				double t, s;

				for (size_t a = i + 1, b = j; a < b; a++, b--) {
					uint32_t x = o[a];

					o[a] = o[b];
					o[b] = x;
				}
				t = true_ring(w, o, k, bytes);
				s = ring_sum(w, o, k, bytes);
				if (t < best * (1 - 1e-12) ||
				    (t <= best && s < sum * (1 - 1e-12))) {
					best = t;
					sum = s;
					better = true;
					continue;
				}
				for (size_t a = i + 1, b = j; a < b; a++, b--) {
					uint32_t x = o[a];

					o[a] = o[b];
					o[b] = x;
				}
			}
	}
	return best;
}

/* ---- 1. scenarios -------------------------------------------------------- */

struct result {
	double topo, linear, random; /* predicted seconds */
	double topo_2opt;	     /* topo's ring after two_opt (ring only) */
	double place_s;		     /* topo's select call */
};

/* Place k ranks over w by topo, linear and nrand random draws (their
 * mean), predicted by the ring model or by the pipeline of stages. */
static int scenario(const struct world *w, size_t k, uint32_t pattern,
		    size_t stages, unsigned nrand, struct result *out)
{
	double bytes = (double)MER_COMM_BYTES_DEFAULT;
	uint32_t *order = xmalloc0(k * sizeof(*order)),
		 *tmp = xmalloc0(w->n * sizeof(*tmp));
	struct rng r = {w->seed ^ 0x5eed};
	struct core c;
	int rc;

#define PREDICT(o)                                                             \
	(pattern == MER_COMM_PIPELINE ? true_pipeline(w, o, k, stages, bytes)  \
				      : true_ring(w, o, k, bytes))
	core_init(&c, w);
	rc = topo_place(&c, k, pattern, (uint32_t)stages, order, &out->place_s);
	if (rc == 0) {
		out->topo = PREDICT(order);
		/* k^3 trials of O(k) each: only for the 64-rank rings */
		out->topo_2opt = pattern == MER_COMM_PIPELINE || k > 128
					 ? out->topo
					 : two_opt(w, order, k, bytes);
		linear_place(k, order);
		out->linear = PREDICT(order);
		out->random = 0;
		for (unsigned i = 0; i < nrand; i++) {
			random_place(&r, w->n, k, order, tmp);
			out->random += PREDICT(order) / nrand;
		}
	}
#undef PREDICT
	core_fini(&c);
	free(order);
	free(tmp);
	return rc;
}

static void scenario_row(const char *name, const struct world *w, size_t k,
			 const struct result *r)
{
	printf("  %-30s %5zu %5zu %9.1f %9.1f %9.1f %7.2fx %7.2fx\n", name,
	       w->n, k, r->topo * 1e3, r->linear * 1e3, r->random * 1e3,
	       r->linear / r->topo, r->random / r->topo);
}

/* ---- 2. small instances against the optimum ------------------------------ */

struct small {
	unsigned runs, within5, exact, one_region;
	double worst, mean, mean_linear, mean_random;
	double mean_one, worst_one, mean_many, worst_many; /* by whether one
							    * city had room */
	size_t worst_n, worst_k;
	char worst_regions[80];
};

static int small_instances(const struct geo *g, unsigned runs, struct small *s)
{
	double bytes = (double)MER_COMM_BYTES_DEFAULT;
	struct rng r = {2022};

	memset(s, 0, sizeof(*s));
	s->runs = runs;
	for (unsigned t = 0; t < runs; t++) {
		size_t n = 8 + rbelow(&r, 5), k = 4 + rbelow(&r, 5);
		struct world w = {g, n, xmalloc0(n), mix(t + 1)};
		uint32_t order[SMALL_MAX], tmp[SMALL_MAX];
		size_t count[GEO_MAX] = {0}, most = 0;
		struct core c;
		double secs, opt, got, ratio;

		for (size_t i = 0; i < n; i++) {
			w.region[i] = (uint8_t)rbelow(&r, g->n);
			if (++count[w.region[i]] > most)
				most = count[w.region[i]];
		}
		core_init(&c, &w);
		if (topo_place(&c, k, MER_COMM_RING, 0, order, &secs) < 0) {
			core_fini(&c);
			free(w.region);
			return -1;
		}
		core_fini(&c);
		opt = exact_best(&w, k, bytes);
		got = true_ring(&w, order, k, bytes);
		ratio = got / opt;
		if (ratio < 1 - 1e-9) {
			fprintf(stderr,
				"place: instance %u: topo %.6f s beats the "
				"optimum %.6f s: the exact search is wrong\n",
				t, got, opt);
			free(w.region);
			return -1;
		}
		s->one_region += most >= k;
		if (most >= k) {
			s->mean_one += ratio;
			if (ratio > s->worst_one)
				s->worst_one = ratio;
		} else {
			s->mean_many += ratio;
			if (ratio > s->worst_many)
				s->worst_many = ratio;
		}
		s->within5 += ratio <= 1.05;
		s->exact += ratio <= 1 + 1e-9;
		s->mean += ratio / runs;
		linear_place(k, order);
		s->mean_linear += true_ring(&w, order, k, bytes) / opt / runs;
		random_place(&r, n, k, order, tmp);
		s->mean_random += true_ring(&w, order, k, bytes) / opt / runs;
		if (ratio > s->worst) {
			size_t o = 0;

			s->worst = ratio;
			s->worst_n = n;
			s->worst_k = k;
			/* the region sizes of that instance */
			for (size_t i = 0; i < g->n; i++)
				if (count[i] && o < sizeof(s->worst_regions))
					o += (size_t)snprintf(
						s->worst_regions + o,
						sizeof(s->worst_regions) - o,
						"%s%.3s:%zu", o ? " " : "",
						g->region[i], count[i]);
		}
		free(w.region);
	}
	if (s->one_region)
		s->mean_one /= s->one_region;
	if (s->one_region < runs)
		s->mean_many /= runs - s->one_region;
	return 0;
}

/* ---- 3. and 4. probes and estimates -------------------------------------- */

struct probe_count {
	size_t max, min;
	double mean;
};

static double graph_lat(void *arg, size_t i, size_t j)
{
	struct links_info li;

	return links_get(arg, i, j, &li) == 0 ? li.lat_s : 0;
}

/* One ProbeInterval (epoch): the pairs of src/mctld/probe_graph.c's
 * graph probed (both ways, results into l), each node's pairs counted
 * with its probe of the controller's link. */
static void probe_round(const struct world *w, struct links *l, uint64_t epoch,
			int64_t when, struct probe_count *pc)
{
	size_t n = w->n, pairs = 0;
	struct probe_graph_node *nd = xmalloc0(n * sizeof(*nd));
	struct probe_graph g;
	struct probe_graph_lat lat = {graph_lat, l};

	for (size_t i = 0; i < n; i++) {
		nd[i].region = (uint32_t)w->region[i];
		nd[i].usable = nd[i].accepts = true;
	}
	/* as probe.c's graph_budget: one of ProbePeers is the controller's */
	probe_graph_init(&g, n, PROBE_PEERS - 1);
	probe_graph_fill(&g, nd, epoch, &lat);
	memset(pc, 0, sizeof(*pc));
	pc->min = SIZE_MAX;
	for (size_t i = 0; i < n; i++) {
		size_t c = g.deg[i] + 1;

		pc->max = c > pc->max ? c : pc->max;
		pc->min = c < pc->min ? c : pc->min;
		pairs += c;
		for (uint32_t k = 0; k < g.deg[i]; k++) {
			size_t j = g.adj[i * g.budget + k];
			double la, bw;

			if (j < i)
				continue; /* the pair once */
			world_link(w, i, j, &la, &bw);
			links_measured(l, i, j, la, bw, when);
			world_link(w, j, i, &la, &bw);
			links_measured(l, j, i, la, bw, when);
		}
	}
	pc->mean = (double)pairs / (double)n;
	probe_graph_free(&g);
	free(nd);
}

struct estimate {
	size_t pairs, measured;
	double lat_med, lat_p90, lat_med_same, lat_med_cross;
	double bw_med[2], bw_p90[2]; /* rates: controller's, best link's */
	struct probe_count fresh, steady;
};

/* Rates to and from the controller, in ctl_region (variant 0), or the
 * best measured link each way (variant 1: no controller probe), as
 * probe.c's rates_update sets them. */
static void set_rates(const struct world *w, struct links *l, size_t ctl,
		      int variant)
{
	for (size_t i = 0; i < w->n; i++) {
		double up = 0, down = 0;
		struct links_info li;

		if (variant == 0) {
			up = down = w->g->mbps[w->region[i]][ctl] * 1e6 / 8 *
				    jitter(w, i, w->n, 1);
		} else {
			for (size_t j = 0; j < w->n; j++) {
				if (j == i)
					continue;
				if (links_get(l, i, j, &li) == 0 &&
				    li.measured && li.bw_Bps > up)
					up = li.bw_Bps;
				if (links_get(l, j, i, &li) == 0 &&
				    li.measured && li.bw_Bps > down)
					down = li.bw_Bps;
			}
		}
		links_set_rates(l, i, up, down);
	}
}

static void estimation(const struct world *w, size_t ctl, struct estimate *e)
{
	size_t n = w->n;
	size_t np = 0, ns = 0, nc = 0;
	uint32_t *region = xmalloc0(n * sizeof(*region));
	double *lat = xmalloc0(n * n * sizeof(*lat)),
	       *same = xmalloc0(n * n * sizeof(*same)),
	       *cross = xmalloc0(n * n * sizeof(*cross)),
	       *bw = xmalloc0(n * n * sizeof(*bw));
	struct links *l;

	memset(e, 0, sizeof(*e));
	for (size_t i = 0; i < n; i++)
		region[i] = (uint32_t)w->region[i];
	l = links_create(n, region);
	/* the first interval with nothing known, the next with the
	 * coordinates fitted to it (mctld refits as results come in) */
	probe_round(w, l, 1, 1, &e->fresh);
	links_refit(l);
	probe_round(w, l, 2, 2, &e->steady);
	links_refit(l);
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < n; j++) {
			struct links_info li;
			double tl, tb, err;

			if (i == j || links_get(l, i, j, &li) < 0)
				continue;
			if (li.measured) {
				e->measured++;
				continue;
			}
			world_link(w, i, j, &tl, &tb);
			err = fabs(li.lat_s - tl) / tl;
			lat[np++] = err;
			if (w->region[i] == w->region[j])
				same[ns++] = err;
			else
				cross[nc++] = err;
		}
	e->pairs = np;
	e->lat_med_same = median_of(same, ns);
	e->lat_med_cross = median_of(cross, nc);
	e->lat_p90 = quantile(lat, np, 0.9);
	e->lat_med = median_of(lat, np);
	for (int v = 0; v < 2; v++) {
		size_t nb = 0;

		set_rates(w, l, ctl, v);
		for (size_t i = 0; i < n; i++)
			for (size_t j = 0; j < n; j++) {
				struct links_info li;
				double tl, tb;

				if (i == j || links_get(l, i, j, &li) < 0 ||
				    li.measured)
					continue;
				world_link(w, i, j, &tl, &tb);
				/* nothing known (0) counts as 100% off */
				bw[nb++] = fabs(li.bw_Bps - tb) / tb;
			}
		e->bw_p90[v] = quantile(bw, nb, 0.9);
		e->bw_med[v] = median_of(bw, nb);
	}
	links_destroy(l);
	free(region);
	free(lat);
	free(same);
	free(cross);
	free(bw);
}

/* ---- 5. placement time --------------------------------------------------- */

struct timing {
	size_t n, k;
	double median_s, cb_s, calls;
	struct result r;
	size_t max_index;
};

static int timing(const struct geo *g, size_t per, size_t k, unsigned runs,
		  unsigned nrand, struct timing *t)
{
	struct world w = world_make(g, per, 4242 + per, false);
	uint32_t *order = xmalloc0(k * sizeof(*order));
	double *secs = xmalloc0(runs * sizeof(*secs)), sink = 0, t0;
	struct core c;
	int rc = 0;

	t->n = w.n;
	t->k = k;
	t->max_index = 0;
	core_init(&c, &w);
	link_calls = 0;
	for (unsigned i = 0; i < runs && rc == 0; i++)
		rc = topo_place(&c, k, MER_COMM_RING, 0, order, &secs[i]);
	t->calls = (double)link_calls / runs;
	if (rc == 0) {
		for (size_t i = 0; i < k; i++)
			if (order[i] > t->max_index)
				t->max_index = order[i];
		t->median_s = median_of(secs, runs);
		/* what that many link callbacks cost alone */
		t0 = now_s();
		for (size_t i = 0; i < (size_t)t->calls; i++) {
			struct mer_link ml;

			link_cb(&w, (uint32_t)(i % w.n),
				(uint32_t)((i / w.n + i) % w.n), &ml);
			sink += (double)ml.latency_us;
		}
		t->cb_s = now_s() - t0;
		if (sink < 0)
			printf("%g\n", sink);
		rc = scenario(&w, k, MER_COMM_RING, 0, nrand, &t->r);
	}
	core_fini(&c);
	free(w.region);
	free(order);
	free(secs);
	return rc;
}

/* ---- the report ---------------------------------------------------------- */

static void target(bool pass, const char *what, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void target(bool pass, const char *what, const char *fmt, ...)
{
	va_list ap;

	printf("  %-4s  %-52s ", pass ? "PASS" : "MISS", what);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}

int main(int argc, char **argv)
{
	const char *path = PLACE_DATA;
	bool quick = false;
	struct data d;
	const struct geo *world, *us4, *sites;
	struct result r8, r8sorted, r8x16, rus4, rsites, rpipe;
	struct small sm;
	struct estimate est;
	struct timing t1k, t10k, tspan;
	struct world w;
	double bound8;
	unsigned nrand, nsmall;
	long ctl;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--quick") == 0)
			quick = true;
		else if (argv[i][0] == '-') {
			fprintf(stderr, "usage: place [--quick] [DATA]\n");
			return 1;
		} else
			path = argv[i];
	}
	if (data_load(path, &d) < 0)
		return 1;
	world = need_set(&d, "world");
	us4 = need_set(&d, "us4");
	sites = need_set(&d, "sites");
	ctl = region_of((struct geo *)world, "Virginia", false);
	if (ctl < 0) {
		fprintf(stderr, "place: set world has no Virginia\n");
		return 1;
	}
	nrand = quick ? 5 : 20;
	nsmall = quick ? 50 : 200;

	printf("Placement benchmark (select/topo), data %s\n", path);
	printf("Links: the file's region-pair figures, +-%.0f%% jitter per "
	       "pair on latency and bandwidth,\none-way latency = RTT/2; list "
	       "order shuffled but where said.  Allreduce of S = %llu MiB\n"
	       "(MER_COMM_BYTES_DEFAULT) in ring.h's model, one rank per "
	       "node; random = mean of %u draws.\n\n",
	       JITTER * 100, MER_COMM_BYTES_DEFAULT >> 20, nrand);

	/* 1. scenarios */
	printf("1. Predicted allreduce time, ms\n");
	printf("  %-30s %5s %5s %9s %9s %9s %8s %8s\n", "scenario", "nodes",
	       "k", "topo", "linear", "random", "lin/topo", "rnd/topo");
	w = world_make(world, 8, 1, false);
	if (scenario(&w, 64, MER_COMM_RING, 0, nrand, &r8) < 0)
		return 1;
	scenario_row("8 cities x 8, shuffled", &w, 64, &r8);
	bound8 = cut_bound(&w, (double)MER_COMM_BYTES_DEFAULT);
	if (scenario(&w, 64, MER_COMM_PIPELINE, 8, nrand, &rpipe) < 0)
		return 1;
	free(w.region);
	w = world_make(world, 8, 1, true);
	if (scenario(&w, 64, MER_COMM_RING, 0, nrand, &r8sorted) < 0)
		return 1;
	scenario_row("8 cities x 8, city order", &w, 64, &r8sorted);
	free(w.region);
	w = world_make(world, 16, 2, false);
	if (scenario(&w, 64, MER_COMM_RING, 0, nrand, &r8x16) < 0)
		return 1;
	scenario_row("8 cities x 16, shuffled", &w, 64, &r8x16);
	free(w.region);
	w = world_make(us4, 16, 3, false);
	if (scenario(&w, 64, MER_COMM_RING, 0, nrand, &rus4) < 0)
		return 1;
	scenario_row("4 US regions x 16, shuffled", &w, 64, &rus4);
	free(w.region);
	w = world_make(sites, 32, 4, false);
	if (scenario(&w, 64, MER_COMM_RING, 0, nrand, &rsites) < 0)
		return 1;
	scenario_row("two sites x 32, shuffled", &w, 64, &rsites);
	free(w.region);
	w = world_make(world, 8, 1, false);
	scenario_row("8x8 shuffled, pipeline:8 (*)", &w, 64, &rpipe);
	free(w.region);
	printf("  8-city shuffled ring: linear/topo %.2fx (the paper's "
	       "scheduler: 4.8x over Megatron's\n  default, with its "
	       "pipeline-and-data-parallel cost model, not a single ring).\n"
	       "  No ring through those 64 nodes beats %.1f ms (every set of "
	       "cities is crossed twice):\n  topo is within %.1f%% of that "
	       "bound, and no placement beats linear by more than %.2fx.\n"
	       "  topo's ring improved by 2-opt (a ring may leave a city and "
	       "come back): %.1f ms,\n  %.2fx over linear (the bench's local "
	       "search, not topo's).\n",
	       r8.linear / r8.topo, bound8 * 1e3, (r8.topo / bound8 - 1) * 100,
	       r8.linear / bound8, r8.topo_2opt * 1e3,
	       r8.linear / r8.topo_2opt);
	printf("  (*) topo.c's pipeline model: 8 stages of 8, S per stage "
	       "boundary, no data-parallel\n  allreduce counted.\n\n");

	/* 2. small instances */
	if (small_instances(world, nsmall, &sm) < 0)
		return 1;
	printf("2. Small instances: %u of 8-12 candidates (random cities of "
	       "the 8), k = 4-8; exact optimum\n   by Held-Karp over every "
	       "subset (least bottleneck ring)\n",
	       sm.runs);
	printf("  topo / optimum: mean %.4f, worst %.4f (n %zu, k %zu; %s)\n",
	       sm.mean, sm.worst, sm.worst_n, sm.worst_k, sm.worst_regions);
	printf("  within 5%%: %u of %u; optimal: %u; one city had room for "
	       "the job: %u\n",
	       sm.within5, sm.runs, sm.exact, sm.one_region);
	printf("  where one city had room: mean %.4f, worst %.4f; where the "
	       "job spans cities:\n  mean %.4f, worst %.4f\n",
	       sm.mean_one, sm.worst_one, sm.mean_many, sm.worst_many);
	printf("  linear / optimum mean %.3f, random / optimum mean %.3f\n\n",
	       sm.mean_linear, sm.mean_random);

	/* 3. and 4. estimates and probes */
	w = world_make(world, 125, 5, false);
	estimation(&w, (size_t)ctl, &est);
	free(w.region);
	printf("3. Estimates of unprobed pairs: 8 cities x 125 = 1000 nodes, "
	       "pairs probed by probe_graph.c's\n   graph, "
	       "ProbePeers %d, two ProbeIntervals (the second with fitted\n"
	       "   coordinates); links.c estimates the rest\n",
	       PROBE_PEERS);
	printf("  ordered pairs measured %zu, held back %zu\n", est.measured,
	       est.pairs);
	printf("  latency error: median %.1f%%, p90 %.1f%% (same city median "
	       "%.1f%%, across %.1f%%)\n",
	       est.lat_med * 100, est.lat_p90 * 100, est.lat_med_same * 100,
	       est.lat_med_cross * 100);
	printf("  bandwidth error, rates to a controller in Virginia: "
	       "median %.1f%%, p90 %.1f%%\n",
	       est.bw_med[0] * 100, est.bw_p90[0] * 100);
	printf("  bandwidth error, rates from each node's best link:  "
	       "median %.1f%%, p90 %.1f%%\n\n",
	       est.bw_med[1] * 100, est.bw_p90[1] * 100);
	printf("4. Probes per node per ProbeInterval (distinct pairs it takes "
	       "part in, its probe of the\n   controller's link counted), "
	       "1000 nodes\n");
	printf("  first interval:  max %zu, min %zu, mean %.1f\n",
	       est.fresh.max, est.fresh.min, est.fresh.mean);
	printf("  steady interval: max %zu, min %zu, mean %.1f\n\n",
	       est.steady.max, est.steady.min, est.steady.mean);

	/* 5. placement time */
	if (timing(world, 125, 64, quick ? 3 : 5, nrand, &t1k) < 0 ||
	    timing(world, 1250, 1024, quick ? 1 : 3, quick ? 2 : 5, &t10k) <
		    0 ||
	    timing(world, 1250, 4096, 1, 2, &tspan) < 0)
		return 1;
	printf("5. Placement time (one select/topo call, wall clock, median "
	       "of %d and %d runs)\n",
	       quick ? 3 : 5, quick ? 1 : 3);
	for (int i = 0; i < 3; i++) {
		const struct timing *t = i == 0	  ? &t1k
					 : i == 1 ? &t10k
						  : &tspan;

		printf("  %4zu ranks among %5zu: %8.1f ms (%.2fM link "
		       "callbacks, "
		       "%.1f ms of it)\n",
		       t->k, t->n, t->median_s * 1e3, t->calls / 1e6,
		       t->cb_s * 1e3);
		printf("      predicted ms: topo %.1f, linear %.1f, random "
		       "%.1f; highest node index taken %zu\n",
		       t->r.topo * 1e3, t->r.linear * 1e3, t->r.random * 1e3,
		       t->max_index);
	}
	printf("  Every candidate is considered (no n x n matrix: a region's "
	       "block of links at a time).\n  The 4096 ranks span regions "
	       "(1250 nodes each): no target, a bound on the time a\n  large "
	       "job that spans regions holds the scheduler.\n\n");

	printf("Targets\n");
	target(sm.worst <= 1.05, "within 5% of the optimum, every small one",
	       "worst %.4f", sm.worst);
	target(sm.mean <= 1.02, "within 2% of the optimum on average",
	       "mean %.4f", sm.mean);
	target(r8.linear / r8.topo >= 2, "8 cities shuffled: >= 2x over linear",
	       "%.2fx (paper 4.8x)", r8.linear / r8.topo);
	target(est.lat_med < 0.15, "median latency error < 15%, unprobed",
	       "%.1f%%", est.lat_med * 100);
	target(t1k.median_s < 0.05, "64 ranks among 1,000 in < 50 ms",
	       "%.1f ms", t1k.median_s * 1e3);
	target(t10k.median_s < 1, "1,024 ranks among 10,000 in < 1 s",
	       "%.1f ms", t10k.median_s * 1e3);
	target(est.steady.max <= 16, "<= 16 probes per node per interval",
	       "max %zu, mean %.1f", est.steady.max, est.steady.mean);
	return 0;
}
