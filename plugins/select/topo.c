/*
 * select/topo - the nodes, and the rank order, whose communication the
 * link matrix predicts fastest (../shared/DESIGN.md, "Placement").
 *
 * The candidates are every node that has the job's CPUs, memory and GPUs
 * free (of its GPU type, within its max price), as select/linear takes
 * them, grouped by region.  Then, by the job's pattern:
 *
 *   none      no communication: the cheapest nodes (GPU-hour price, then
 *             config order), as select/linear packs them.
 *   ring      a data-parallel allreduce (the default): one allreduce of S
 *             bytes over k ranks takes 2(k-1) * max over the ring's edges
 *             of (latency + S / (k * bandwidth)) (ring.h).
 *
 *             The job stays in one region when one has room.  In each
 *             such region the links among its candidates are read once
 *             into a block; a ring is grown from each of the seeds with
 *             the best (k-1)-th link (each step the cheapest next link),
 *             improved by swapping outside nodes in at its slowest edge
 *             (each swap priced in O(1) from prefix and suffix maxima),
 *             ordered (exactly up to RING_EXACT_MAX, else by ring.h's
 *             local search); the fastest wins, ties to the cheaper.
 *             Seeds are fewer for large jobs (TOPO_WORK bounds the work
 *             per region); where the regions with room hold more links
 *             than TOPO_REGIONS_WORK, they are ranked first by a sample
 *             of each one's links (the job's share of its best-connected
 *             members) and taken best first while the work allows, two
 *             at least.  So 1,024 ranks among 10,000 nodes take under a
 *             second.
 *
 *             When no region has room, the regions are chosen before the
 *             nodes: each pair's cheapest crossing (over up to TOPO_PORTS
 *             members of each) prices a ring of regions, and a Held-Karp
 *             pass over every set of regions (up to TOPO_DP_REGIONS of
 *             them; greedy growth above) gives each set's fastest region
 *             ring.  The TOPO_SETS best sets with room for the job are
 *             tried: the crossing nodes of its ring, then each region's
 *             best-connected members; ring_order_regions keeps each
 *             region's ranks contiguous, and ring.h's local search may
 *             leave a region and come back where that is faster by more
 *             than RING_TIE.  The fastest wins.
 *   pipeline  consecutive stages on fast links: the ring's order opened
 *             at its slowest edge, so that edge is the one not used.
 *             With STAGES (--comm=pipeline:STAGES) each stage is k/STAGES
 *             consecutive ranks; replica r of a stage sends to replica r
 *             of the next.  The predicted time is one micro-batch's S
 *             bytes across every stage boundary, each boundary as slow as
 *             its slowest link.
 *
 * No n x n matrix is built: links are read through the core's link() as
 * needed, a region's block at most TOPO_BLOCK_MAX members square (a
 * larger region is first narrowed to its best-connected members, by
 * their links to a sample of the region).
 *
 * A link the core knows nothing of (no probe, no estimate) is assumed to
 * be modest: 1 Gbit/s and 1 ms inside a region, 100 Mbit/s and 50 ms
 * across, so that what was measured good wins over what is unknown.  Inside
 * a node the job's GPUs and the order of its local ranks on them are
 * gpuset.h's: the ring over them whose slowest link is fastest (NVLink
 * peers next to each other), or one NUMA node's lowest free GPUs on a node
 * that reports no links.  The order of res->node_index is the rank order:
 * the job's node list, RANK and SLURM_PROCID follow it, and inside each
 * node res->gpu_order (local rank k takes its k-th GPU).
 */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <meridian/plugin_select.h>

#include "fit.h"
#include "gpuset.h"

#include "ring.h"

/* Seeds tried per region when it has more candidates than the job needs,
 * at most; fewer where seeds x job x region would pass TOPO_WORK. */
#define TOPO_SEEDS 32
#define TOPO_WORK  4000000.0
/* A region's links are read into a block of at most this many members
 * square; a larger region is narrowed to this many first. */
#define TOPO_BLOCK_MAX 2048
/* Members a region is sampled at: to narrow it, and for its crossings. */
#define TOPO_SAMPLE 32
/* The links read in blocks for a job one region holds: past it, the
 * regions with room are ranked by a sampled estimate and the best taken
 * until it is spent (two at least). */
#define TOPO_REGIONS_WORK 5000000.0
#define TOPO_PORTS	  64
/* Sets of regions ordered exactly (Held-Karp over every set); region
 * sets tried node by node when the job spans regions. */
#define TOPO_DP_REGIONS 14
#define TOPO_SETS	8
/* What an unknown link is taken to be: modest, so that a measured good
 * link is preferred to one nothing is known of. */
#define TOPO_SAME_LAT_S	  1e-3
#define TOPO_SAME_BW_BPS  (1e9 / 8)
#define TOPO_CROSS_LAT_S  50e-3
#define TOPO_CROSS_BW_BPS (100e6 / 8)

struct cand {
	uint32_t node;	/* index into req->nodes */
	uint32_t group; /* index into plan.g */
	int64_t price;
};

/* The candidates of one region (or of none). */
struct group {
	int32_t region; /* region index, -1 none */
	uint32_t *mem;	/* candidate indices */
	size_t n;
};

struct plan {
	const struct mer_select_request *req;
	struct cand *c;
	size_t m;
	struct group *g;
	size_t ng;
	size_t k;
	double bytes;
	uint32_t pattern, stages;
};

/* Links among some candidates: mem[0..n) (candidate indices), read into
 * l (n x n, row-major) when l is not NULL, else through the core. */
struct block {
	const struct plan *p;
	const uint32_t *mem;
	size_t n;
	struct ring_link *l;
};

static void *topo_init(const struct mer_plugin_conf *conf,
		       struct mer_error *err)
{
	static int state;

	(void)conf;
	(void)err;
	return &state;
}

static void topo_fini(void *state)
{
	(void)state;
}

/* The link from candidate a to candidate b, from the core. */
static void cand_link(const struct plan *p, uint32_t a, uint32_t b,
		      struct ring_link *l)
{
	const struct mer_select_request *req = p->req;
	struct mer_link ml;
	bool same;

	if (a == b) {
		l->lat_s = 0;
		l->bw_Bps = 1e18;
		return;
	}
	memset(&ml, 0, sizeof(ml));
	if (req->api && req->api->link)
		req->api->link(req->api->core, req->nodes[p->c[a].node].id,
			       req->nodes[p->c[b].node].id, &ml);
	same = ml.same_region != 0;
	l->lat_s = ml.latency_us ? ml.latency_us / 1e6
		   : same	 ? TOPO_SAME_LAT_S
				 : TOPO_CROSS_LAT_S;
	l->bw_Bps = ml.bandwidth_mbps ? ml.bandwidth_mbps * 1e6 / 8
		    : same	      ? TOPO_SAME_BW_BPS
				      : TOPO_CROSS_BW_BPS;
}

/* ring.h's view over candidate indices. */
static void plan_view_link(void *arg, uint32_t a, uint32_t b,
			   struct ring_link *out)
{
	cand_link(arg, a, b, out);
}

/* ring.h's view over a block's local indices. */
static void block_view_link(void *arg, uint32_t a, uint32_t b,
			    struct ring_link *out)
{
	const struct block *bl = arg;

	if (bl->l)
		*out = bl->l[(size_t)a * bl->n + b];
	else
		cand_link(bl->p, bl->mem[a], bl->mem[b], out);
}

/* Seconds edge a -> b adds to each step of the plan's ring. */
static double cost(const struct plan *p, uint32_t a, uint32_t b)
{
	struct ring_link l;

	cand_link(p, a, b, &l);
	return ring_edge_cost(&l, p->k, p->bytes);
}

/* The same between a block's local indices. */
static double bcost(const struct block *bl, size_t a, size_t b)
{
	struct ring_link l;

	block_view_link((void *)bl, (uint32_t)a, (uint32_t)b, &l);
	return ring_edge_cost(&l, bl->p->k, bl->p->bytes);
}

static double dmax(double a, double b)
{
	return a > b ? a : b;
}

/* Read the block's links; without memory it reads them as needed. */
static void block_fill(struct block *bl)
{
	size_t n = bl->n;

	bl->l = n <= TOPO_BLOCK_MAX ? malloc(n * n * sizeof(*bl->l)) : NULL;
	if (!bl->l)
		return;
	for (size_t a = 0; a < n; a++)
		for (size_t b = 0; b < n; b++)
			cand_link(bl->p, bl->mem[a], bl->mem[b],
				  &bl->l[a * n + b]);
}

/* Predicted seconds of the pattern over order[0..k) (candidates). */
static double pattern_time(const struct plan *p, const uint32_t *order)
{
	struct ring_view v = {plan_view_link, (void *)p};
	size_t k = p->k, g, stages;
	double sum = 0;

	if (k < 2)
		return 0;
	if (p->pattern != MER_COMM_PIPELINE)
		return ring_view_time(&v, order, k, p->bytes, NULL);
	stages = p->stages ? p->stages : k;
	g = k / stages;
	for (size_t s = 0; s + 1 < stages; s++) {
		double worst = 0;

		for (size_t r = 0; r < g; r++) {
			struct ring_link l;
			double c;

			cand_link(p, order[s * g + r], order[(s + 1) * g + r],
				  &l);
			c = l.bw_Bps > 0 ? l.lat_s + p->bytes / l.bw_Bps
					 : INFINITY;
			if (c > worst)
				worst = c;
		}
		sum += worst;
	}
	return sum;
}

/* The position of order's slowest link (rank p to rank p+1), UINT32_MAX
 * when the pattern has no single one (a pipeline's stages of several). */
static uint32_t bottleneck_of(const struct plan *p, const uint32_t *order)
{
	struct ring_view v = {plan_view_link, (void *)p};
	size_t k = p->k, slowest = 0, worst_at = 0;
	double worst = -1;

	if (k < 2)
		return UINT32_MAX;
	if (p->pattern != MER_COMM_PIPELINE) {
		ring_view_time(&v, order, k, p->bytes, &slowest);
		return (uint32_t)slowest;
	}
	if (p->stages && p->stages != k)
		return UINT32_MAX;
	for (size_t i = 0; i + 1 < k; i++) {
		struct ring_link l;
		double c;

		cand_link(p, order[i], order[i + 1], &l);
		c = l.bw_Bps > 0 ? l.lat_s + p->bytes / l.bw_Bps : INFINITY;
		if (c > worst) {
			worst = c;
			worst_at = i;
		}
	}
	return (uint32_t)worst_at;
}

/* For a pipeline, open the ring order[0..k) at its slowest edge. */
static void open_ring(const struct plan *p, uint32_t *order)
{
	struct ring_view v = {plan_view_link, (void *)p};
	size_t k = p->k, slowest = 0;
	uint32_t *tmp;

	if (p->pattern != MER_COMM_PIPELINE || k < 2)
		return;
	ring_view_time(&v, order, k, p->bytes, &slowest);
	tmp = malloc(k * sizeof(*tmp));
	if (!tmp)
		return;
	for (size_t i = 0; i < k; i++)
		tmp[i] = order[(slowest + 1 + i) % k];
	memcpy(order, tmp, k * sizeof(*order));
	free(tmp);
}

static int64_t price_of(const struct plan *p, const uint32_t *set, size_t n)
{
	int64_t sum = 0;

	for (size_t i = 0; i < n; i++)
		sum += p->c[set[i]].price;
	return sum;
}

/* ---- one region ---------------------------------------------------------- */

/* The q-th smallest of v[0..n) (v reordered): quickselect, Hoare's
 * partition around the middle element. */
static double nth_smallest(double *v, size_t n, size_t q)
{
	long lo = 0, hi = (long)n - 1;

	while (lo < hi) {
		double pivot = v[lo + (hi - lo) / 2];
		long i = lo - 1, j = hi + 1;

		for (;;) {
			double t;

			do
				i++;
			while (v[i] < pivot);
			do
				j--;
			while (v[j] > pivot);
			if (i >= j)
				break;
			t = v[i];
			v[i] = v[j];
			v[j] = t;
		}
		/* v[lo..j] <= pivot <= v[j+1..hi] */
		if ((long)q <= j)
			hi = j;
		else
			lo = j + 1;
	}
	return v[q];
}

/* Member x's promise for a ring of want: its (want-1)-th cheapest link
 * (the worse direction) to the others of the block. */
static double seed_score(const struct block *bl, size_t x, size_t want,
			 double *tmp)
{
	size_t n = 0;

	for (size_t i = 0; i < bl->n; i++)
		if (i != x)
			tmp[n++] = dmax(bcost(bl, x, i), bcost(bl, i, x));
	if (!n || want < 2)
		return 0;
	return nth_smallest(tmp, n, want - 2 < n ? want - 2 : n - 1);
}

/* A ring of want members grown from seed (local indices): each step
 * appends the member whose link from the last is cheapest (the last one
 * also counting its link back to seed). */
static void grow(const struct block *bl, size_t seed, size_t want,
		 uint32_t *out, bool *in)
{
	size_t n = 0;

	memset(in, 0, bl->n * sizeof(*in));
	out[n++] = (uint32_t)seed;
	in[seed] = true;
	while (n < want) {
		double best = INFINITY;
		size_t pick = bl->n;

		for (size_t x = 0; x < bl->n; x++) {
			double c;

			if (in[x])
				continue;
			c = bcost(bl, out[n - 1], x);
			if (n + 1 == want)
				c = dmax(c, bcost(bl, x, seed));
			if (pick == bl->n || c < best) {
				best = c;
				pick = x;
			}
		}
		out[n++] = (uint32_t)pick;
		in[pick] = true;
	}
}

/* Improve ring[0..w) (local indices) in place: put an outside member in
 * the place of an end of its slowest edge while that makes the ring
 * faster.  Each trial is O(1): the ring's other edges' maximum comes from
 * prefix and suffix maxima (e, pre, suf: w each). */
static void improve(const struct block *bl, uint32_t *ring, size_t w, bool *in,
		    double *e, double *pre, double *suf)
{
	if (w < 3 || w >= bl->n)
		return;
	for (size_t round = 0; round < 2 * w; round++) {
		size_t slowest = 0, best_pos = w;
		uint32_t best_x = 0;
		double best, mid = 0;

		for (size_t i = 0; i < w; i++) {
			e[i] = bcost(bl, ring[i], ring[(i + 1) % w]);
			if (e[i] > e[slowest])
				slowest = i;
		}
		for (size_t i = 0; i < w; i++)
			pre[i] = i ? dmax(pre[i - 1], e[i]) : e[i];
		for (size_t i = w; i-- > 0;)
			suf[i] = i + 1 < w ? dmax(suf[i + 1], e[i]) : e[i];
		for (size_t i = 1; i + 1 < w; i++)
			mid = dmax(mid, e[i]);
		best = e[slowest];
		for (size_t end = 0; end < 2; end++) {
			size_t pos = (slowest + end) % w,
			       prev = (pos + w - 1) % w, next = (pos + 1) % w;
			/* the edges prev->pos and pos->next are replaced */
			double rest =
				pos == 0 ? mid
					 : dmax(pos >= 2 ? pre[pos - 2] : 0,
						pos + 1 < w ? suf[pos + 1] : 0);

			if (rest >= best)
				continue;
			for (size_t x = 0; x < bl->n; x++) {
				double t;

				if (in[x])
					continue;
				t = dmax(rest, dmax(bcost(bl, ring[prev], x),
						    bcost(bl, x, ring[next])));
				if (t < best) {
					best = t;
					best_pos = pos;
					best_x = (uint32_t)x;
				}
			}
		}
		if (best_pos == w)
			return;
		in[ring[best_pos]] = false;
		ring[best_pos] = best_x;
		in[best_x] = true;
	}
}

/* Order ring[0..w) (local indices) in place: exact when small, else the
 * local search from the order it has. */
static void order_local(const struct block *bl, uint32_t *ring, size_t w,
			uint32_t *tmp)
{
	struct ring_view v = {block_view_link, (void *)bl};

	if (w <= RING_EXACT_MAX) {
		if (ring_view_order_regions(&v, ring, NULL, w, bl->p->bytes,
					    tmp) == 0)
			memcpy(ring, tmp, w * sizeof(*ring));
		return;
	}
	(void)ring_view_improve(&v, ring, NULL, w, bl->p->bytes);
}

/* Of the members of mem[0..n) (candidates), keep the want whose links to
 * a sample of them are best (a region too large for one block), in
 * their order; the number kept. */
static size_t narrow(const struct plan *p, uint32_t *mem, size_t n, size_t want)
{
	size_t step = n / TOPO_SAMPLE ? n / TOPO_SAMPLE : 1, o = 0;
	double *key = malloc(n * sizeof(*key)),
	       *copy = malloc(n * sizeof(*copy));
	uint32_t *keep = malloc(want * sizeof(*keep));
	double tmp[TOPO_SAMPLE], cut;

	if (want >= n || !key || !copy || !keep) {
		free(key);
		free(copy);
		free(keep);
		return want < n ? want : n;
	}
	for (size_t i = 0; i < n; i++) {
		size_t ns = 0;

		for (size_t s = 0; s < n && ns < TOPO_SAMPLE; s += step)
			if (s != i)
				tmp[ns++] = dmax(cost(p, mem[i], mem[s]),
						 cost(p, mem[s], mem[i]));
		key[i] = ns ? nth_smallest(tmp, ns, ns / 2) : 0;
	}
	memcpy(copy, key, n * sizeof(*copy));
	cut = nth_smallest(copy, n, want - 1);
	/* below the cut, then at it, in their order */
	for (size_t i = 0; i < n; i++)
		if (key[i] < cut)
			keep[o++] = mem[i];
	for (size_t i = 0; o < want; i++)
		if (key[i] == cut)
			keep[o++] = mem[i];
	memcpy(mem, keep, want * sizeof(*mem));
	free(key);
	free(copy);
	free(keep);
	return want;
}

/* The fastest ring of p->k members of group g, in rank order, into out
 * (candidates); its predicted time, INFINITY out of memory. */
static double in_region(const struct plan *p, const struct group *g,
			uint32_t *out)
{
	size_t k = p->k, n = g->n, nseeds;
	uint32_t *mem = malloc(n * sizeof(*mem)),
		 *try = malloc(k * sizeof(*try)),
		 *tmp = malloc(k * sizeof(*tmp)), *seeds = NULL;
	double *score = NULL, *e = malloc(3 * k * sizeof(*e)), best = INFINITY;
	int64_t best_price = 0;
	bool *in = NULL;
	struct block bl = {p, NULL, 0, NULL};
	struct ring_view v = {block_view_link, &bl};

	if (!mem || !try || !tmp || !e)
		goto out;
	memcpy(mem, g->mem, n * sizeof(*mem));
	if (n > TOPO_BLOCK_MAX)
		n = narrow(p, mem, n, k > TOPO_BLOCK_MAX ? k : TOPO_BLOCK_MAX);
	bl.mem = mem;
	bl.n = n;
	block_fill(&bl);
	seeds = malloc(n * sizeof(*seeds));
	score = malloc(2 * n * sizeof(*score));
	in = malloc(n * sizeof(*in));
	if (!seeds || !score || !in)
		goto out;
	if (n == k) {
		/* every member: one ring, grown from the first */
		seeds[0] = 0;
		nseeds = 1;
	} else {
		double work = (double)k * (double)n;

		nseeds = work * TOPO_SEEDS <= TOPO_WORK ? TOPO_SEEDS
			 : work >= TOPO_WORK		? 1
					     : (size_t)(TOPO_WORK / work);
		if (nseeds > n)
			nseeds = n;
		for (size_t i = 0; i < n; i++)
			score[i] = seed_score(&bl, i, k, score + n);
		/* the nseeds most promising, best first */
		for (size_t s = 0; s < nseeds; s++) {
			size_t pick = n;

			for (size_t i = 0; i < n; i++)
				if (score[i] >= 0 &&
				    (pick == n || score[i] < score[pick]))
					pick = i;
			seeds[s] = (uint32_t)pick;
			score[pick] = -1;
		}
	}
	for (size_t s = 0; s < nseeds; s++) {
		double t;
		int64_t price;

		grow(&bl, seeds[s], k, try, in);
		/* swaps, then order, while that helps */
		for (int round = 0; round < 4; round++) {
			double before =
				ring_view_time(&v, try, k, p->bytes, NULL);

			improve(&bl, try, k, in, e, e + k, e + 2 * k);
			order_local(&bl, try, k, tmp);
			if (!(ring_view_time(&v, try, k, p->bytes, NULL) <
			      before) ||
			    k > RING_EXACT_MAX)
				break;
		}
		for (size_t i = 0; i < k; i++)
			tmp[i] = mem[try[i]];
		open_ring(p, tmp);
		t = pattern_time(p, tmp);
		price = price_of(p, tmp, k);
		if (s == 0 || t < best || (t == best && price < best_price)) {
			best = t;
			best_price = price;
			memcpy(out, tmp, k * sizeof(*out));
		}
	}
out:
	free(bl.l);
	free(mem);
	free(try);
	free(tmp);
	free(seeds);
	free(score);
	free(e);
	free(in);
	return best;
}

/* ---- several regions ----------------------------------------------------- */

/* Regions' crossings: per ordered pair of groups the cheapest link from
 * one's ports to the other's, and its ends. */
struct crossings {
	size_t ng;
	double *w;	/* ng x ng */
	uint32_t *from; /* its ends, candidates */
	uint32_t *to;
};

static int crossings_make(const struct plan *p, struct crossings *x)
{
	size_t ng = p->ng;
	uint32_t **port = calloc(ng, sizeof(*port));
	size_t *np = calloc(ng, sizeof(*np));
	int rc = -1;

	x->ng = ng;
	x->w = malloc(ng * ng * sizeof(*x->w));
	x->from = malloc(ng * ng * sizeof(*x->from));
	x->to = malloc(ng * ng * sizeof(*x->to));
	if (!port || !np || !x->w || !x->from || !x->to)
		goto out;
	for (size_t g = 0; g < ng; g++) {
		const struct group *gr = &p->g[g];
		size_t step = gr->n > TOPO_PORTS ? gr->n / TOPO_PORTS : 1;

		port[g] = malloc(TOPO_PORTS * sizeof(**port));
		if (!port[g])
			goto out;
		for (size_t i = 0; i < gr->n && np[g] < TOPO_PORTS; i += step)
			port[g][np[g]++] = gr->mem[i];
	}
	for (size_t a = 0; a < ng; a++)
		for (size_t b = 0; b < ng; b++) {
			double best = INFINITY;

			x->from[a * ng + b] = x->to[a * ng + b] = 0;
			if (a == b) {
				x->w[a * ng + b] = 0;
				continue;
			}
			for (size_t i = 0; i < np[a]; i++)
				for (size_t j = 0; j < np[b]; j++) {
					double c =
						cost(p, port[a][i], port[b][j]);

					if (c < best) {
						best = c;
						x->from[a * ng + b] =
							port[a][i];
						x->to[a * ng + b] = port[b][j];
					}
				}
			x->w[a * ng + b] = best;
		}
	rc = 0;
out:
	for (size_t g = 0; port && g < ng; g++)
		free(port[g]);
	free(port);
	free(np);
	return rc;
}

static void crossings_free(struct crossings *x)
{
	free(x->w);
	free(x->from);
	free(x->to);
}

/* A set of regions to try: its groups in ring order, its ring's cost. */
struct rset {
	uint32_t grp[TOPO_DP_REGIONS];
	size_t n;
	double w;
};

/* Keep the TOPO_SETS best sets (by ring cost, then fewer regions). */
static void rset_offer(struct rset *best, size_t *nbest, const struct rset *s)
{
	size_t at = *nbest;

	while (at > 0 && (s->w < best[at - 1].w ||
			  (s->w == best[at - 1].w && s->n < best[at - 1].n)))
		at--;
	if (at >= TOPO_SETS)
		return;
	if (*nbest < TOPO_SETS)
		(*nbest)++;
	memmove(best + at + 1, best + at, (*nbest - 1 - at) * sizeof(*best));
	best[at] = *s;
}

/*
 * The best region sets with room for k: Held-Karp over every set of the
 * groups (ng <= TOPO_DP_REGIONS), dp[mask][v] the least bottleneck of a
 * path of crossings from mask's lowest group through every group of mask
 * ending at v.  The number of sets written.
 */
static size_t sets_exact(const struct plan *p, const struct crossings *x,
			 struct rset *best)
{
	size_t ng = p->ng, full = (size_t)1 << ng, nbest = 0;
	double *dp = malloc(full * ng * sizeof(*dp));
	uint8_t *par = malloc(full * ng);
	size_t *cap = calloc(full, sizeof(*cap));

	if (!dp || !par || !cap)
		goto out;
	for (size_t i = 0; i < full * ng; i++)
		dp[i] = INFINITY;
	for (size_t mask = 1; mask < full; mask++) {
		size_t low = (size_t)__builtin_ctzl(mask);

		cap[mask] = cap[mask & (mask - 1)] + p->g[low].n;
	}
	for (size_t s = 0; s < ng; s++)
		dp[((size_t)1 << s) * ng + s] = 0;
	for (size_t mask = 1; mask < full; mask++) {
		size_t s = (size_t)__builtin_ctzl(mask), cnt;
		struct rset r;

		for (size_t v = 0; v < ng; v++) {
			double d = dp[mask * ng + v];

			if (!(mask >> v & 1) || !isfinite(d))
				continue;
			for (size_t u = s + 1; u < ng; u++) {
				size_t nm = mask | (size_t)1 << u;
				double c;

				if (mask >> u & 1)
					continue;
				c = dmax(d, x->w[v * ng + u]);
				if (c < dp[nm * ng + u]) {
					dp[nm * ng + u] = c;
					par[nm * ng + u] = (uint8_t)v;
				}
			}
		}
		cnt = (size_t)__builtin_popcountl(mask);
		if (cnt < 2 || cnt > p->k || cap[mask] < p->k)
			continue;
		/* close the ring at the best last group */
		r.w = INFINITY;
		r.n = cnt;
		{
			size_t last = ng;

			for (size_t v = 0; v < ng; v++) {
				double c;

				if (v == s || !(mask >> v & 1))
					continue;
				c = dmax(dp[mask * ng + v], x->w[v * ng + s]);
				if (c < r.w) {
					r.w = c;
					last = v;
				}
			}
			if (last == ng)
				continue;
			for (size_t i = cnt, mk = mask, v = last; i-- > 0;) {
				r.grp[i] = (uint32_t)v;
				if (i) {
					size_t pv = par[mk * ng + v];

					mk &= ~((size_t)1 << v);
					v = pv;
				}
			}
		}
		rset_offer(best, &nbest, &r);
	}
out:
	free(dp);
	free(par);
	free(cap);
	return nbest;
}

/* Too many regions for every set: from each group, add the group of the
 * cheapest crossing to the set (both ways) until it has room. */
static size_t sets_greedy(const struct plan *p, const struct crossings *x,
			  struct rset *best)
{
	size_t ng = p->ng, nbest = 0;
	bool *in = malloc(ng * sizeof(*in));

	if (!in)
		return 0;
	for (size_t s = 0; s < ng; s++) {
		struct rset r = {{0}, 0, 0};
		size_t have = 0;

		memset(in, 0, ng * sizeof(*in));
		r.grp[r.n++] = (uint32_t)s;
		in[s] = true;
		have = p->g[s].n;
		while (have < p->k && r.n < TOPO_DP_REGIONS && r.n < p->k) {
			size_t pick = ng;
			double pc = INFINITY;

			for (size_t i = 0; i < r.n; i++)
				for (size_t u = 0; u < ng; u++) {
					double c;

					if (in[u])
						continue;
					c = dmax(x->w[r.grp[i] * ng + u],
						 x->w[u * ng + r.grp[i]]);
					if (c < pc) {
						pc = c;
						pick = u;
					}
				}
			if (pick == ng)
				break;
			in[pick] = true;
			r.grp[r.n++] = (uint32_t)pick;
			r.w = dmax(r.w, pc);
			have += p->g[pick].n;
		}
		if (have >= p->k && r.n >= 2)
			rset_offer(best, &nbest, &r);
	}
	free(in);
	return nbest;
}

struct fill {
	double key;
	uint32_t cand;
};

static int by_key(const void *a, const void *b)
{
	const struct fill *x = a, *y = b;

	if (x->key != y->key)
		return x->key < y->key ? -1 : 1;
	return x->cand < y->cand ? -1 : x->cand > y->cand;
}

/*
 * Improve the ring order[0..k) (candidates, reg their groups) over the
 * total members of r's regions: swap members in at the slowest edge
 * (improve()), then order again, while the ring gets faster.
 */
static void polish(const struct plan *p, const struct rset *r, size_t total,
		   uint32_t *order, uint32_t *reg)
{
	size_t k = p->k, n = 0;
	uint32_t *mem = malloc(total * sizeof(*mem)),
		 *ring = malloc(k * sizeof(*ring)),
		 *tmp = malloc(k * sizeof(*tmp)),
		 *local = malloc(p->m * sizeof(*local));
	double *e = malloc(3 * k * sizeof(*e)), now;
	bool *in = calloc(total, sizeof(*in));
	struct block bl = {p, NULL, 0, NULL};
	struct ring_view v = {plan_view_link, (void *)p};

	if (!mem || !ring || !tmp || !local || !e || !in)
		goto out;
	for (size_t i = 0; i < r->n; i++) {
		const struct group *g = &p->g[r->grp[i]];

		for (size_t j = 0; j < g->n; j++) {
			local[g->mem[j]] = (uint32_t)n;
			mem[n++] = g->mem[j];
		}
	}
	bl.mem = mem;
	bl.n = n;
	block_fill(&bl);
	now = ring_view_time(&v, order, k, p->bytes, NULL);
	for (int round = 0; round < 4; round++) {
		double t;

		for (size_t i = 0; i < k; i++) {
			ring[i] = local[order[i]];
			in[ring[i]] = true;
		}
		improve(&bl, ring, k, in, e, e + k, e + 2 * k);
		for (size_t i = 0; i < k; i++) {
			in[ring[i]] = false;
			tmp[i] = mem[ring[i]];
			reg[i] = p->c[tmp[i]].group;
		}
		if (k <= RING_EXACT_MAX) {
			if (ring_view_order_regions(&v, tmp, reg, k, p->bytes,
						    ring) < 0)
				break;
			memcpy(tmp, ring, k * sizeof(*tmp));
			for (size_t i = 0; i < k; i++)
				reg[i] = p->c[tmp[i]].group;
		} else {
			(void)ring_view_improve(&v, tmp, reg, k, p->bytes);
		}
		t = ring_view_time(&v, tmp, k, p->bytes, NULL);
		if (!(t < now))
			break;
		now = t;
		memcpy(order, tmp, k * sizeof(*order));
	}
	for (size_t i = 0; i < k; i++)
		reg[i] = p->c[order[i]].group;
out:
	free(bl.l);
	free(mem);
	free(ring);
	free(tmp);
	free(local);
	free(e);
	free(in);
}

/*
 * The k nodes of region set r in rank order, into order (candidates): the
 * ends of the crossings of its ring (one node for both ends of a region
 * where k is short), then the members best connected to their region's
 * chosen nodes; ordered by ring_order_regions and ring.h's local search.
 * Its predicted time, INFINITY out of memory.
 */
static double across(const struct plan *p, const struct crossings *x,
		     const struct rset *r, uint32_t *order)
{
	size_t k = p->k, ng = p->ng, q = r->n, n = 0, total = 0, nf = 0;
	uint32_t *set = malloc(k * sizeof(*set)),
		 *reg = malloc(k * sizeof(*reg)), *ent = NULL;
	bool *taken = calloc(p->m, sizeof(*taken));
	struct fill *f = NULL;
	struct ring_view v = {plan_view_link, (void *)p};
	double t = INFINITY;

	ent = malloc(2 * q * sizeof(*ent)); /* entry, exit per region */
	for (size_t i = 0; i < q; i++)
		total += p->g[r->grp[i]].n;
	f = malloc(total * sizeof(*f));
	if (!set || !reg || !taken || !ent || !f)
		goto out;
	for (size_t i = 0; i < q; i++) {
		size_t a = r->grp[i], b = r->grp[(i + 1) % q];

		ent[2 * i + 1] = x->from[a * ng + b];	    /* exit of i */
		ent[2 * ((i + 1) % q)] = x->to[a * ng + b]; /* entry of i+1 */
	}
	/* k short of two per region: one node serves both crossings of
	 * the regions where that costs least */
	{
		size_t ends = 0;

		for (size_t i = 0; i < q; i++)
			ends += ent[2 * i] == ent[2 * i + 1] ? 1 : 2;
		while (ends > k) {
			size_t pick = q;
			uint32_t pz = 0;
			double pc = INFINITY;

			for (size_t i = 0; i < q; i++) {
				const struct group *g = &p->g[r->grp[i]];
				uint32_t prev = ent[2 * ((i + q - 1) % q) + 1],
					 next = ent[2 * ((i + 1) % q)];

				if (ent[2 * i] == ent[2 * i + 1])
					continue;
				for (size_t j = 0; j < g->n; j++) {
					double c =
						dmax(cost(p, prev, g->mem[j]),
						     cost(p, g->mem[j], next));

					if (c < pc) {
						pc = c;
						pick = i;
						pz = g->mem[j];
					}
				}
			}
			if (pick == q)
				break;
			ent[2 * pick] = ent[2 * pick + 1] = pz;
			ends--;
		}
	}
	for (size_t i = 0; i < 2 * q && n < k; i++)
		if (!taken[ent[i]]) {
			taken[ent[i]] = true;
			set[n] = ent[i];
			reg[n++] = r->grp[i / 2];
		}
	/* the rest: each member's worse link to its region's entry */
	for (size_t i = 0; i < q; i++) {
		const struct group *g = &p->g[r->grp[i]];
		uint32_t e = ent[2 * i];

		for (size_t j = 0; j < g->n; j++)
			if (!taken[g->mem[j]]) {
				f[nf].cand = g->mem[j];
				f[nf++].key = dmax(cost(p, e, g->mem[j]),
						   cost(p, g->mem[j], e));
			}
	}
	if (n + nf < k)
		goto out;
	qsort(f, nf, sizeof(*f), by_key);
	for (size_t i = 0; n < k; i++) {
		set[n] = f[i].cand;
		reg[n++] = p->c[f[i].cand].group;
	}
	if (ring_view_order_regions(&v, set, reg, k, p->bytes, order) < 0)
		goto out;
	/* the regions of the order, for the local search */
	for (size_t i = 0; i < k; i++)
		reg[i] = p->c[order[i]].group;
	if (k > RING_EXACT_MAX)
		(void)ring_view_improve(&v, order, reg, k, p->bytes);
	if (total <= TOPO_BLOCK_MAX)
		polish(p, r, total, order, reg);
	open_ring(p, order);
	t = pattern_time(p, order);
out:
	free(set);
	free(reg);
	free(ent);
	free(taken);
	free(f);
	return t;
}

/* Choose and order the nodes into order (candidates); the predicted
 * time, INFINITY when nothing could be placed. */
/* A region's promise for k ranks, from TOPO_SAMPLE of its members: each
 * one's median link cost to the others sampled; the job's share of them,
 * best first, its last.  O(TOPO_SAMPLE^2) links. */
static double region_estimate(const struct plan *p, const struct group *g,
			      size_t k)
{
	size_t n = g->n, ns = n < TOPO_SAMPLE ? n : TOPO_SAMPLE, q;
	double key[TOPO_SAMPLE], tmp[TOPO_SAMPLE];

	if (ns < 2)
		return 0;
	for (size_t i = 0; i < ns; i++) {
		uint32_t a = g->mem[i * n / ns];
		size_t m = 0;

		for (size_t j = 0; j < ns; j++) {
			uint32_t b = g->mem[j * n / ns];

			if (j != i)
				tmp[m++] = dmax(cost(p, a, b), cost(p, b, a));
		}
		key[i] = nth_smallest(tmp, m, m / 2);
	}
	q = (k * ns + n - 1) / n; /* the job's share of the sample */
	if (q < 1)
		q = 1;
	if (q > ns)
		q = ns;
	return nth_smallest(key, ns, q - 1);
}

struct rcand {
	size_t g;
	double est;
};

static int by_est(const void *a, const void *b)
{
	const struct rcand *x = a, *y = b;

	if (x->est != y->est)
		return x->est < y->est ? -1 : 1;
	return x->g < y->g ? -1 : x->g > y->g;
}

/* The regions with room for k, in the order to try them, into rc; how
 * many to try. */
static size_t regions_to_try(const struct plan *p, size_t k, struct rcand *rc)
{
	size_t n = 0, take = 0;
	double work = 0, spent = 0;

	for (size_t g = 0; g < p->ng; g++) {
		size_t m = p->g[g].n;

		if (m < k)
			continue;
		if (m > TOPO_BLOCK_MAX)
			m = k > TOPO_BLOCK_MAX ? k : TOPO_BLOCK_MAX;
		rc[n].g = g;
		rc[n].est = 0;
		work += (double)m * (double)m;
		n++;
	}
	if (work <= TOPO_REGIONS_WORK)
		return n; /* every one, in config order */
	for (size_t i = 0; i < n; i++)
		rc[i].est = region_estimate(p, &p->g[rc[i].g], k);
	qsort(rc, n, sizeof(*rc), by_est);
	while (take < n) {
		size_t m = p->g[rc[take].g].n;

		if (m > TOPO_BLOCK_MAX)
			m = k > TOPO_BLOCK_MAX ? k : TOPO_BLOCK_MAX;
		if (take >= 2 &&
		    spent + (double)m * (double)m > TOPO_REGIONS_WORK)
			break;
		spent += (double)m * (double)m;
		take++;
	}
	return take;
}

static double place(struct plan *p, uint32_t *order)
{
	size_t k = p->k;
	uint32_t *ord = malloc(k * sizeof(*ord));
	double best = INFINITY, t;
	int64_t best_price = 0;
	bool found = false;
	struct crossings x = {0};
	struct rset sets[TOPO_SETS];
	size_t nsets, nrc;
	struct rcand *rc;

	rc = malloc((p->ng ? p->ng : 1) * sizeof(*rc));
	if (!ord || !rc) {
		free(ord);
		free(rc);
		return INFINITY;
	}
	/* one region, when one has room: the fastest */
	nrc = regions_to_try(p, k, rc);
	for (size_t r = 0; r < nrc; r++) {
		size_t g = rc[r].g;

		t = in_region(p, &p->g[g], ord);
		if (!isfinite(t))
			continue;
		if (!found || t < best ||
		    (t == best && price_of(p, ord, k) < best_price)) {
			best = t;
			best_price = price_of(p, ord, k);
			memcpy(order, ord, k * sizeof(*order));
			found = true;
		}
	}
	if (found)
		goto out;
	/* several: the best sets of regions, node by node */
	if (crossings_make(p, &x) < 0)
		goto out;
	nsets = p->ng <= TOPO_DP_REGIONS ? sets_exact(p, &x, sets)
					 : sets_greedy(p, &x, sets);
	/* ordering a set reads O(k^2) links: fewer sets for a large job */
	{
		double sq = (double)k * (double)k, most = 8 * TOPO_WORK / sq;

		if (most < (double)nsets)
			nsets = most >= 1 ? (size_t)most : 1;
	}
	for (size_t s = 0; s < nsets; s++) {
		t = across(p, &x, &sets[s], ord);
		if (!isfinite(t))
			continue;
		if (!found || t < best ||
		    (t == best && price_of(p, ord, k) < best_price)) {
			best = t;
			best_price = price_of(p, ord, k);
			memcpy(order, ord, k * sizeof(*order));
			found = true;
		}
	}
out:
	crossings_free(&x);
	free(ord);
	free(rc);
	return found ? best : INFINITY;
}

/* ---- the plugin ---------------------------------------------------------- */

/* The chosen nodes' GPUs, and their order where links tell one. */
static void take_gpus(const struct mer_select_request *req,
		      struct mer_select_result *res)
{
	for (uint32_t i = 0; i < res->nnodes; i++)
		/* counted free when the node became a candidate */
		(void)gpuset_choose(
			&req->nodes[res->node_index[i]],
			req->job->gpus_per_node, &res->gpu_mask[i],
			res->gpu_order ? res->gpu_order +
						 (size_t)i * MER_SELECT_MAX_GPUS
				       : NULL);
}

static int by_price(const void *a, const void *b)
{
	const struct cand *x = a, *y = b;

	if (x->price != y->price)
		return x->price < y->price ? -1 : 1;
	return x->node < y->node ? -1 : x->node > y->node;
}

/* Group the candidates by region (p->g, p->c[].group). */
static int group(struct plan *p)
{
	const struct mer_select_request *req = p->req;
	size_t nr = req->nregions + 1;
	size_t *count = calloc(nr, sizeof(*count)), *slot = NULL;
	int rc = -1;

	p->g = calloc(nr, sizeof(*p->g));
	slot = malloc(nr * sizeof(*slot));
	if (!count || !slot || !p->g)
		goto out;
	for (size_t i = 0; i < p->m; i++) {
		int32_t r = req->nodes[p->c[i].node].region_index;

		count[r >= 0 && (size_t)r < req->nregions ? (size_t)r + 1
							  : 0]++;
	}
	for (size_t r = 0; r < nr; r++) {
		slot[r] = p->ng;
		if (!count[r])
			continue;
		p->g[p->ng].region = (int32_t)r - 1;
		p->g[p->ng].mem = malloc(count[r] * sizeof(uint32_t));
		if (!p->g[p->ng].mem)
			goto out;
		p->ng++;
	}
	for (size_t i = 0; i < p->m; i++) {
		int32_t r = req->nodes[p->c[i].node].region_index;
		size_t s =
			slot[r >= 0 && (size_t)r < req->nregions ? (size_t)r + 1
								 : 0];

		p->c[i].group = (uint32_t)s;
		p->g[s].mem[p->g[s].n++] = (uint32_t)i;
	}
	rc = 0;
out:
	free(count);
	free(slot);
	return rc;
}

static int topo_select(void *state, const struct mer_select_request *req,
		       struct mer_select_result *res, struct mer_error *err)
{
	const struct mer_select_job *job = req->job;
	struct plan p = {0};
	uint32_t could = 0, could_priced = 0, *order = NULL;
	double t;
	int rc = -1;

	(void)state;
	res->nnodes = 0;
	res->predicted_step_us = 0;
	if (job->num_nodes == 0) {
		snprintf(err->text, sizeof(err->text), "BadConstraints");
		return -1;
	}
	p.req = req;
	p.k = job->num_nodes;
	p.pattern = job->comm_pattern;
	p.stages = job->comm_stages;
	p.bytes = job->comm_bytes ? (double)job->comm_bytes
				  : (double)MER_COMM_BYTES_DEFAULT;
	if (p.pattern == MER_COMM_PIPELINE && p.stages &&
	    (p.stages > p.k || p.k % p.stages)) {
		snprintf(err->text, sizeof(err->text), "BadConstraints");
		return -1;
	}
	p.c = calloc(req->nnodes ? req->nnodes : 1, sizeof(*p.c));
	if (!p.c) {
		snprintf(err->text, sizeof(err->text), "Resources");
		return -1;
	}
	for (size_t i = 0; i < req->nnodes; i++) {
		const struct mer_select_node *n = &req->nodes[i];
		if (!fit_empty(job, n))
			continue;
		could++;
		if (!fit_price_ok(job, n))
			continue;
		could_priced++;
		if (n->cpus_free < job->cpus_per_node ||
		    (job->mem_mb_per_node &&
		     n->mem_free_mb < job->mem_mb_per_node) ||
		    (uint32_t)__builtin_popcountll(n->gpu_free_mask &
						   fit_all_gpus(n->gpus)) <
			    job->gpus_per_node)
			continue;
		p.c[p.m].node = (uint32_t)i;
		/* a job without GPUs pays no GPU-hour: node order only */
		p.c[p.m].price = job->gpus_per_node ? n->gpu_hour_price : 0;
		p.m++;
	}
	if (p.m < p.k) {
		snprintf(err->text, sizeof(err->text), "%s",
			 could < p.k	      ? "ReqNodeNotAvail"
			 : could_priced < p.k ? "MaxPrice"
					      : "Resources");
		goto out;
	}
	if (p.pattern == MER_COMM_NONE || p.k == 1) {
		qsort(p.c, p.m, sizeof(*p.c), by_price);
		for (size_t i = 0; i < p.k; i++)
			res->node_index[i] = p.c[i].node;
		res->nnodes = (uint32_t)p.k;
		rc = 0;
		goto out;
	}
	order = calloc(p.k, sizeof(*order));
	if (!order || group(&p) < 0) {
		snprintf(err->text, sizeof(err->text), "Resources");
		goto out;
	}
	t = place(&p, order);
	if (!isfinite(t) && t > 0) {
		snprintf(err->text, sizeof(err->text), "Resources");
		goto out;
	}
	for (size_t i = 0; i < p.k; i++)
		res->node_index[i] = p.c[order[i]].node;
	res->nnodes = (uint32_t)p.k;
	res->predicted_step_us =
		isfinite(t) && t < 1e12 ? (uint64_t)(t * 1e6 + 0.5) : 0;
	res->bottleneck = bottleneck_of(&p, order);
	rc = 0;
out:
	if (rc == 0)
		take_gpus(req, res);
	for (size_t g = 0; p.g && g < p.ng; g++)
		free(p.g[g].mem);
	free(p.g);
	free(p.c);
	free(order);
	return rc;
}

const struct mer_select_ops meridian_plugin = {
	.hdr = {MER_PLUGIN_SELECT, MER_SELECT_ABI, "select/topo"},
	.keys = NULL,
	.init = topo_init,
	.fini = topo_fini,
	.select = topo_select,
};
