/*
 * select/topo - the nodes, and the rank order, whose communication the
 * link matrix predicts fastest (../shared/DESIGN.md, "Placement").
 *
 * The candidates are the nodes that have the job's CPUs, memory and GPUs
 * free (of its GPU type, within its max price), as select/linear takes
 * them.  Then, by the job's pattern:
 *
 *   none      no communication: the cheapest nodes (GPU-hour price, then
 *             config order), as select/linear packs them.
 *   ring      a data-parallel allreduce (the default): one allreduce of S
 *             bytes over k ranks takes 2(k-1) * max over the ring's edges
 *             of (latency + S / (k * bandwidth)) (ring.h).  The job stays
 *             in one region when one has room: in each such region a
 *             ring is grown from each of up to TOPO_SEEDS seeds (each
 *             step the cheapest next link), improved by swapping outside
 *             nodes in at its slowest edge, and ordered exactly (up to
 *             RING_EXACT_MAX); the fastest wins, ties to the cheaper.
 *             On random 6-9 node matrices this comes within 1.2% of the
 *             best k-subset on average (test_topo).  Otherwise
 *             the largest regions are taken whole until the job fits, the
 *             last one its best-connected share, and ring_order_regions
 *             keeps each region's ranks contiguous and crosses slow links
 *             as few times as it can.
 *   pipeline  consecutive stages on fast links: the ring's order opened
 *             at its slowest edge, so that edge is the one not used.
 *             With STAGES (--comm=pipeline:STAGES) each stage is k/STAGES
 *             consecutive ranks; replica r of a stage sends to replica r
 *             of the next.  The predicted time is one micro-batch's S
 *             bytes across every stage boundary, each boundary as slow as
 *             its slowest link.
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

/* Seeds tried per region when it has more candidates than the job needs. */
#define TOPO_SEEDS 32
/* What an unknown link is taken to be: modest, so that a measured good
 * link is preferred to one nothing is known of. */
#define TOPO_SAME_LAT_S	  1e-3
#define TOPO_SAME_BW_BPS  (1e9 / 8)
#define TOPO_CROSS_LAT_S  50e-3
#define TOPO_CROSS_BW_BPS (100e6 / 8)
/* Candidates beyond this are not considered (the matrix is m x m). */
#define TOPO_MAX_CANDS 4096

struct cand {
	uint32_t node;	/* index into req->nodes */
	int32_t region; /* region index, -1 none */
	int64_t price;
};

struct plan {
	const struct mer_select_request *req;
	struct cand *c;
	size_t m;
	struct ring_link *link; /* m x m */
	size_t k;
	double bytes;
	uint32_t pattern, stages;
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

static const struct ring_link *lk(const struct plan *p, size_t a, size_t b)
{
	return &p->link[a * p->m + b];
}

/* The worse of the two directions between a and b, for one edge. */
static double pair_cost(const struct plan *p, size_t a, size_t b)
{
	double x = ring_edge_cost(lk(p, a, b), p->k, p->bytes),
	       y = ring_edge_cost(lk(p, b, a), p->k, p->bytes);

	return x > y ? x : y;
}

static void matrix(struct plan *p)
{
	const struct mer_select_request *req = p->req;

	for (size_t a = 0; a < p->m; a++)
		for (size_t b = 0; b < p->m; b++) {
			struct ring_link *l = &p->link[a * p->m + b];
			const struct mer_select_node
				*na = &req->nodes[p->c[a].node],
				*nb = &req->nodes[p->c[b].node];
			struct mer_link ml;
			bool same;

			if (a == b) {
				l->lat_s = 0;
				l->bw_Bps = 1e18;
				continue;
			}
			memset(&ml, 0, sizeof(ml));
			if (req->api && req->api->link)
				req->api->link(req->api->core, na->id, nb->id,
					       &ml);
			same = ml.same_region != 0;
			l->lat_s = ml.latency_us ? ml.latency_us / 1e6
				   : same	 ? TOPO_SAME_LAT_S
						 : TOPO_CROSS_LAT_S;
			l->bw_Bps = ml.bandwidth_mbps
					    ? ml.bandwidth_mbps * 1e6 / 8
				    : same ? TOPO_SAME_BW_BPS
					   : TOPO_CROSS_BW_BPS;
		}
}

/* Predicted seconds of the pattern over order[0..k). */
static double pattern_time(const struct plan *p, const uint32_t *order)
{
	size_t k = p->k, g, stages;
	double sum = 0;

	if (k < 2)
		return 0;
	if (p->pattern != MER_COMM_PIPELINE)
		return ring_time(p->link, p->m, order, k, p->bytes, NULL);
	stages = p->stages ? p->stages : k;
	g = k / stages;
	for (size_t s = 0; s + 1 < stages; s++) {
		double worst = 0;

		for (size_t r = 0; r < g; r++) {
			const struct ring_link *l =
				lk(p, order[s * g + r], order[(s + 1) * g + r]);
			double c = l->bw_Bps > 0
					   ? l->lat_s + p->bytes / l->bw_Bps
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
	size_t k = p->k, slowest = 0, worst_at = 0;
	double worst = -1;

	if (k < 2)
		return UINT32_MAX;
	if (p->pattern != MER_COMM_PIPELINE) {
		ring_time(p->link, p->m, order, k, p->bytes, &slowest);
		return (uint32_t)slowest;
	}
	if (p->stages && p->stages != k)
		return UINT32_MAX;
	for (size_t i = 0; i + 1 < k; i++) {
		const struct ring_link *l = lk(p, order[i], order[i + 1]);
		double c = l->bw_Bps > 0 ? l->lat_s + p->bytes / l->bw_Bps
					 : INFINITY;

		if (c > worst) {
			worst = c;
			worst_at = i;
		}
	}
	return (uint32_t)worst_at;
}

/* Order set[0..k) (candidate indices, region[] theirs) for the pattern
 * into order; its predicted time. */
static double order_set(const struct plan *p, const uint32_t *set,
			const uint32_t *region, uint32_t *order)
{
	size_t k = p->k, slowest = 0;
	uint32_t *tmp;

	if (k == 1) {
		order[0] = set[0];
		return 0;
	}
	if (ring_order_regions(p->link, p->m, set, region, k, p->bytes, order) <
	    0) {
		/* too many regions to order exactly: contiguous by region */
		size_t o = 0;

		for (size_t i = 0; i < k; i++) {
			bool first = true;

			for (size_t j = 0; j < i && first; j++)
				first = region[j] != region[i];
			for (size_t j = i; j < k && first; j++)
				if (region[j] == region[i])
					order[o++] = set[j];
		}
	}
	if (p->pattern != MER_COMM_PIPELINE)
		return pattern_time(p, order);
	/* a pipeline: open the ring at its slowest edge */
	ring_time(p->link, p->m, order, k, p->bytes, &slowest);
	tmp = calloc(k, sizeof(*tmp));
	if (tmp) {
		for (size_t i = 0; i < k; i++)
			tmp[i] = order[(slowest + 1 + i) % k];
		memcpy(order, tmp, k * sizeof(*order));
		free(tmp);
	}
	return pattern_time(p, order);
}

/* One edge's cost from a to b in the plan's ring. */
static double edge(const struct plan *p, size_t a, size_t b)
{
	return ring_edge_cost(lk(p, a, b), p->k, p->bytes);
}

/* A ring of want members grown from seed: each step appends the node
 * whose link from the last is cheapest (the last one also counting its
 * link back to seed), into out. */
static void grow(const struct plan *p, const uint32_t *members, size_t nm,
		 uint32_t seed, size_t want, uint32_t *out, bool *in)
{
	size_t n = 0;

	memset(in, 0, p->m * sizeof(*in));
	out[n++] = seed;
	in[seed] = true;
	while (n < want) {
		double best = INFINITY;
		size_t pick = nm;

		for (size_t i = 0; i < nm; i++) {
			uint32_t x = members[i];
			double c;

			if (in[x])
				continue;
			c = edge(p, out[n - 1], x);
			if (n + 1 == want && edge(p, x, seed) > c)
				c = edge(p, x, seed);
			if (pick == nm || c < best) {
				best = c;
				pick = i;
			}
		}
		out[n++] = members[pick];
		in[members[pick]] = true;
	}
}

/* Improve the ring ring[0..want) in place: replace an end of its slowest
 * edge by an outside member while that makes the ring faster. */
static void improve(const struct plan *p, const uint32_t *members, size_t nm,
		    uint32_t *ring, size_t want, bool *in)
{
	double now = ring_time(p->link, p->m, ring, want, p->bytes, NULL);

	for (size_t round = 0; round < 2 * want; round++) {
		size_t slowest = 0, best_pos = want;
		uint32_t best_x = 0;
		double best = now;

		ring_time(p->link, p->m, ring, want, p->bytes, &slowest);
		for (size_t e = 0; e < 2; e++) {
			size_t pos = (slowest + e) % want;
			uint32_t old = ring[pos];

			for (size_t i = 0; i < nm; i++) {
				uint32_t x = members[i];
				double t;

				if (in[x])
					continue;
				ring[pos] = x;
				t = ring_time(p->link, p->m, ring, want,
					      p->bytes, NULL);
				if (t < best) {
					best = t;
					best_pos = pos;
					best_x = x;
				}
			}
			ring[pos] = old;
		}
		if (best_pos == want)
			return;
		in[ring[best_pos]] = false;
		ring[best_pos] = best_x;
		in[best_x] = true;
		now = best;
	}
}

static int64_t price_of(const struct plan *p, const uint32_t *set, size_t n)
{
	int64_t sum = 0;

	for (size_t i = 0; i < n; i++)
		sum += p->c[set[i]].price;
	return sum;
}

/* A seed's promise: the (want-1)-th cheapest of its links to the
 * members (a node with enough good links). */
static double seed_score(const struct plan *p, const uint32_t *members,
			 size_t nm, uint32_t x, size_t want, double *tmp)
{
	size_t n = 0;

	for (size_t i = 0; i < nm; i++)
		if (members[i] != x)
			tmp[n++] = pair_cost(p, x, members[i]);
	if (!n || want < 2)
		return 0;
	for (size_t i = 1; i < n; i++) /* insertion sort: n is small */
		for (size_t j = i; j > 0 && tmp[j] < tmp[j - 1]; j--) {
			double t = tmp[j];

			tmp[j] = tmp[j - 1];
			tmp[j - 1] = t;
		}
	return tmp[(want - 2 < n ? want - 2 : n - 1)];
}

/* The best want of members[0..nm) (all when nm == want) into out. */
static void best_subset(const struct plan *p, const uint32_t *members,
			size_t nm, size_t want, uint32_t *out)
{
	uint32_t *seeds, *try, *order, *region;
	double *score, *tmp, best = INFINITY;
	int64_t best_price = 0;
	bool *in;
	size_t nseeds;
	struct plan q = *p;

	if (nm == want) {
		memcpy(out, members, want * sizeof(*out));
		return;
	}
	seeds = calloc(nm, sizeof(*seeds));
	score = calloc(nm, sizeof(*score));
	tmp = calloc(nm, sizeof(*tmp));
	try = calloc(want, sizeof(*try));
	order = calloc(want, sizeof(*order));
	region = calloc(want, sizeof(*region));
	in = calloc(p->m, sizeof(*in));
	if (!seeds || !score || !tmp || !try || !order || !region || !in) {
		memcpy(out, members, want * sizeof(*out));
		goto out;
	}
	for (size_t i = 0; i < nm; i++)
		score[i] = seed_score(p, members, nm, members[i], want, tmp);
	/* the TOPO_SEEDS most promising */
	nseeds = nm < TOPO_SEEDS ? nm : TOPO_SEEDS;
	for (size_t s = 0; s < nseeds; s++) {
		size_t pick = nm;

		for (size_t i = 0; i < nm; i++)
			if (score[i] >= 0 &&
			    (pick == nm || score[i] < score[pick]))
				pick = i;
		seeds[s] = members[pick];
		score[pick] = -1;
	}
	q.k = want;
	for (size_t s = 0; s < nseeds; s++) {
		double t;
		int64_t price;

		grow(p, members, nm, seeds[s], want, try, in);
		improve(p, members, nm, try, want, in);
		t = order_set(&q, try, region, order);
		price = price_of(p, try, want);
		if (s == 0 || t < best || (t == best && price < best_price)) {
			best = t;
			best_price = price;
			memcpy(out, try, want * sizeof(*out));
		}
	}
out:
	free(seeds);
	free(score);
	free(tmp);
	free(try);
	free(order);
	free(region);
	free(in);
}

static int by_price(const void *a, const void *b)
{
	const struct cand *x = a, *y = b;

	if (x->price != y->price)
		return x->price < y->price ? -1 : 1;
	return x->node < y->node ? -1 : x->node > y->node;
}

/* Candidates of region r (every candidate's region index, -1 none). */
static size_t members_of(const struct plan *p, int32_t r, uint32_t *out)
{
	size_t n = 0;

	for (size_t i = 0; i < p->m; i++)
		if (p->c[i].region == r)
			out[n++] = (uint32_t)i;
	return n;
}

/* Choose and order the nodes: *set and *order (candidate indices). */
static double place(struct plan *p, uint32_t *order)
{
	const struct mer_select_request *req = p->req;
	size_t k = p->k, nr = req->nregions + 1;
	uint32_t *mem = calloc(p->m, sizeof(*mem)),
		 *set = calloc(k, sizeof(*set)), *ord = calloc(k, sizeof(*ord)),
		 *region = calloc(k, sizeof(*region));
	size_t *count = calloc(nr, sizeof(*count));
	double best = INFINITY, t;
	int64_t best_price = 0;
	bool found = false;

	if (!mem || !set || !ord || !region || !count)
		goto out;
	for (size_t i = 0; i < p->m; i++)
		count[p->c[i].region + 1]++;
	/* one region, when one has room: the fastest */
	for (size_t r = 0; r < nr; r++) {
		size_t nm;

		if (count[r] < k)
			continue;
		nm = members_of(p, (int32_t)r - 1, mem);
		best_subset(p, mem, nm, k, set);
		memset(region, 0, k * sizeof(*region));
		t = order_set(p, set, region, ord);
		if (!found || t < best ||
		    (t == best && price_of(p, set, k) < best_price)) {
			best = t;
			best_price = price_of(p, set, k);
			memcpy(order, ord, k * sizeof(*order));
			found = true;
		}
	}
	if (found)
		goto out;
	/* several: the largest whole, the last its best share */
	{
		size_t have = 0;

		while (have < k) {
			size_t r = 0, nm, take;

			for (size_t x = 1; x < nr; x++)
				if (count[x] > count[r])
					r = x;
			nm = members_of(p, (int32_t)r - 1, mem);
			take = k - have < nm ? k - have : nm;
			best_subset(p, mem, nm, take, set + have);
			for (size_t i = have; i < have + take; i++)
				region[i] = (uint32_t)r;
			have += take;
			count[r] = 0;
		}
		best = order_set(p, set, region, order);
	}
out:
	free(mem);
	free(set);
	free(ord);
	free(region);
	free(count);
	return best;
}

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
	for (size_t i = 0; i < req->nnodes && p.m < TOPO_MAX_CANDS; i++) {
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
		p.c[p.m].region = n->region_index;
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
	p.link = calloc(p.m * p.m, sizeof(*p.link));
	order = calloc(p.k, sizeof(*order));
	if (!p.link || !order) {
		snprintf(err->text, sizeof(err->text), "Resources");
		goto out;
	}
	matrix(&p);
	t = place(&p, order);
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
	free(p.c);
	free(p.link);
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
