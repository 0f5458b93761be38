/*
 * probe_graph.c - which pairs of nodes probe each other in one
 * ProbeInterval: the graph probe.c plans from.
 *
 * Probing every pair is O(n^2); each node takes part in at most `budget`
 * pairs per interval (ProbePeers less the controller's own probe), probes
 * it starts and probes it answers alike.  The pairs, added in this order,
 * each only while both ends have room (probe_graph_add):
 *
 *   1. the pairs the caller already probed this interval (its adds), so a
 *      rebuild in the middle of an interval cannot take a node past its
 *      budget;
 *   2. a cluster of at most budget + 1 usable nodes: every pair;
 *   3. inside each region, up to `in` pairs per node (budget/2 when other
 *      regions have usable nodes, else budget): every pair of a region
 *      that small, else each node's in/2 nearest by the estimated latency
 *      (the links a job inside the region will use: their bandwidth
 *      measured, not estimated), then a circulant over the region in an
 *      order drawn for the interval (position p with p + d for a few
 *      drawn distances d), which gives every node the same number of
 *      pairs, however the nearest ones crowd;
 *   4. across regions: first PG_COVER pairs between every two regions,
 *      between nodes drawn on each side that have room (so that two
 *      small regions are measured even where the large ones fill
 *      them); then each node, in an order drawn for the interval,
 *      starts up to budget/4 pairs, one per other region (the regions
 *      taken in a rotation drawn for the node), its peer there drawn and
 *      the next one with room taken when it has none.  Each node answers
 *      about as many, so every pair of regions is measured between many
 *      different nodes and no node is a representative that every other
 *      region probes.
 *
 * Every draw is a hash of the interval's number (the epoch) and the
 * nodes' indices: the same inputs give the same graph, and the next
 * interval measures other pairs.  Pairs of which neither end accepts
 * connections are never added (they are estimated).  Cost: O(n log n) to
 * order the nodes, O(n * PG_NEAR_SCAN) latency lookups for the nearest,
 * O(n * budget^2 + regions^2 * PG_WALK^2) for the rest.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "mctld.h"
#include "util.h"

/* Candidates looked at for a node's nearest peers in a large region. */
#define PG_NEAR_SCAN 256
/* Peers tried in a region, from the drawn one on, for one pair. */
#define PG_WALK 16
/* Pairs between every two regions before the nodes choose their own. */
#define PG_COVER 2
/* Nodes looked at per region for a node left short of pairs. */
#define PG_SHORT_SCAN 256

static uint64_t mix(uint64_t x)
{
	/* splitmix64's finaliser */
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

static uint64_t draw(uint64_t epoch, uint64_t a, uint64_t b)
{
	return mix(mix(mix(epoch) ^ a) ^ b);
}

int probe_graph_init(struct probe_graph *g, size_t n, uint32_t budget)
{
	memset(g, 0, sizeof(*g));
	g->n = n;
	g->budget = budget;
	g->deg = xcalloc(n ? n : 1, sizeof(*g->deg));
	g->adj = xcalloc(n && budget ? n * budget : 1, sizeof(*g->adj));
	return 0;
}

void probe_graph_free(struct probe_graph *g)
{
	if (!g)
		return;
	free(g->deg);
	free(g->adj);
	memset(g, 0, sizeof(*g));
}

bool probe_graph_has(const struct probe_graph *g, size_t i, size_t j)
{
	const uint32_t *a = g->adj + i * g->budget;

	for (uint32_t k = 0; k < g->deg[i]; k++)
		if (a[k] == j)
			return true;
	return false;
}

/* Add i - j when both have fewer than cap pairs. */
static bool add_cap(struct probe_graph *g, const struct probe_graph_node *nd,
		    size_t i, size_t j, uint32_t cap)
{
	if (i == j || i >= g->n || j >= g->n || !nd[i].usable ||
	    !nd[j].usable || (!nd[i].accepts && !nd[j].accepts))
		return false;
	if (cap > g->budget)
		cap = g->budget;
	if (g->deg[i] >= cap || g->deg[j] >= cap || probe_graph_has(g, i, j))
		return false;
	g->adj[i * g->budget + g->deg[i]++] = (uint32_t)j;
	g->adj[j * g->budget + g->deg[j]++] = (uint32_t)i;
	return true;
}

bool probe_graph_add(struct probe_graph *g, const struct probe_graph_node *nd,
		     size_t i, size_t j)
{
	return add_cap(g, nd, i, j, g->budget);
}

/* A node and the key it is ordered by. */
struct keyed {
	uint64_t key;
	uint32_t node;
	uint32_t region;
};

static int by_region_key(const void *a, const void *b)
{
	const struct keyed *x = a, *y = b;

	if (x->region != y->region)
		return x->region < y->region ? -1 : 1;
	if (x->key != y->key)
		return x->key < y->key ? -1 : 1;
	return x->node < y->node ? -1 : x->node > y->node;
}

static int by_key(const void *a, const void *b)
{
	const struct keyed *x = a, *y = b;

	if (x->key != y->key)
		return x->key < y->key ? -1 : 1;
	return x->node < y->node ? -1 : x->node > y->node;
}

struct near {
	double lat;
	uint64_t key;
	uint32_t node;
};

static bool nearer(const struct near *x, const struct near *y)
{
	return x->lat < y->lat || (x->lat == y->lat && x->key < y->key);
}

/* Node i's want nearest among the region's m members (those drawn from
 * it when it is large), added while both ends have fewer than cap. */
static void add_nearest(struct probe_graph *g,
			const struct probe_graph_node *nd,
			const struct keyed *mem, size_t m, size_t pos,
			uint32_t want, uint32_t cap, uint64_t epoch,
			const struct probe_graph_lat *lat, struct near *best)
{
	size_t scan = m - 1 < PG_NEAR_SCAN ? m - 1 : PG_NEAR_SCAN,
	       from = m - 1 > PG_NEAR_SCAN
			      ? draw(epoch, mem[pos].node, 1) % (m - 1)
			      : 0;
	uint32_t nb = 0, i = mem[pos].node;

	if (!want)
		return;
	for (size_t s = 0; s < scan; s++) {
		/* the others, from a drawn one on */
		size_t q = (pos + 1 + (from + s) % (m - 1)) % m;
		struct near c = {.node = mem[q].node,
				 .key = draw(epoch, i, mem[q].node)};
		uint32_t at;

		c.lat = lat->fn(lat->arg, i, c.node);
		if (nb == want && !nearer(&c, &best[nb - 1]))
			continue;
		at = nb < want ? nb++ : nb - 1;
		while (at > 0 && nearer(&c, &best[at - 1])) {
			best[at] = best[at - 1];
			at--;
		}
		best[at] = c;
	}
	for (uint32_t k = 0; k < nb; k++)
		(void)add_cap(g, nd, i, best[k].node, cap);
}

/* Step 3 for one region: mem[0..m) in the interval's order. */
static void region_pairs(struct probe_graph *g,
			 const struct probe_graph_node *nd,
			 const struct keyed *mem, size_t m, uint32_t in,
			 uint64_t epoch, const struct probe_graph_lat *lat,
			 struct near *best)
{
	if (m < 2)
		return;
	if (m - 1 <= in) {
		for (size_t a = 0; a < m; a++)
			for (size_t b = a + 1; b < m; b++)
				(void)add_cap(g, nd, mem[a].node, mem[b].node,
					      in);
		return;
	}
	if (lat && lat->fn)
		for (size_t p = 0; p < m; p++)
			add_nearest(g, nd, mem, m, p, in / 2, in, epoch, lat,
				    best);
	/* the circulant: each distance gives every node two more pairs */
	for (uint32_t d = 0; d < 4 * in; d++) {
		size_t off =
			1 + draw(epoch, mem[0].region, 0x100 + d) % (m - 1);
		bool short_of = false;

		for (size_t p = 0; p < m; p++) {
			(void)add_cap(g, nd, mem[p].node,
				      mem[(p + off) % m].node, in);
			short_of |= g->deg[mem[p].node] + 1 < in;
		}
		if (!short_of)
			break;
	}
}

/* Step 4a: every pair of regions, in an order drawn for the interval,
 * gets PG_COVER pairs between nodes drawn on each side while they have
 * room, so that two small regions are measured against each other even
 * when the large ones fill their nodes. */
static void cover_regions(struct probe_graph *g,
			  const struct probe_graph_node *nd,
			  const struct keyed *k, const size_t *first, size_t nr,
			  uint64_t epoch)
{
	size_t np = nr * (nr - 1) / 2, x = 0;
	struct keyed *rp = xcalloc(np ? np : 1, sizeof(*rp));

	for (size_t a = 0; a < nr; a++)
		for (size_t b = a + 1; b < nr; b++, x++) {
			rp[x].node = (uint32_t)a;
			rp[x].region = (uint32_t)b;
			rp[x].key = draw(epoch, a, 0x1000 + b);
		}
	qsort(rp, np, sizeof(*rp), by_key);
	for (unsigned c = 0; c < PG_COVER; c++)
		for (x = 0; x < np; x++) {
			size_t a = rp[x].node, b = rp[x].region,
			       ma = first[a + 1] - first[a],
			       mb = first[b + 1] - first[b],
			       /* the c-th pair from the next nodes on each
				* side: different ones where there are */
				ia = (draw(epoch, rp[x].key, 0) + c) % ma,
			       ib = (draw(epoch, rp[x].key, 1) + c) % mb;
			bool added = false;

			for (size_t u = 0; u < ma && u < PG_WALK && !added;
			     u++) {
				uint32_t i = k[first[a] + (ia + u) % ma].node;

				if (g->deg[i] >= g->budget)
					continue;
				for (size_t v = 0; v < mb && v < PG_WALK; v++)
					if (add_cap(g, nd, i,
						    k[first[b] + (ib + v) % mb]
							    .node,
						    g->budget)) {
						added = true;
						break;
					}
			}
		}
	free(rp);
}

/* Step 5: node i, region index own, up to `want` pairs with nodes that
 * accept and have room, its own region first. */
static void top_up(struct probe_graph *g, const struct probe_graph_node *nd,
		   const struct keyed *k, const size_t *first, size_t nr,
		   size_t own, uint32_t i, uint32_t want, uint64_t epoch)
{
	for (size_t t = 0; t < nr && g->deg[i] < want; t++) {
		size_t r = (own + t) % nr, m = first[r + 1] - first[r],
		       at = draw(epoch, i, 0x2000 + r) % m;

		for (size_t w = 0;
		     w < m && w < PG_SHORT_SCAN && g->deg[i] < want; w++) {
			uint32_t j = k[first[r] + (at + w) % m].node;

			if (nd[j].accepts)
				(void)add_cap(g, nd, i, j, g->budget);
		}
	}
}

void probe_graph_fill(struct probe_graph *g, const struct probe_graph_node *nd,
		      uint64_t epoch, const struct probe_graph_lat *lat)
{
	size_t n = g->n, nu = 0, nr = 0;
	struct keyed *k = xcalloc(n ? n : 1, sizeof(*k));
	size_t *first = xcalloc(n + 1, sizeof(*first)); /* per region */
	struct near *best = xcalloc(g->budget + 1, sizeof(*best));
	uint32_t B = g->budget;

	for (size_t i = 0; i < n; i++)
		if (nd[i].usable) {
			k[nu].node = (uint32_t)i;
			k[nu].region = nd[i].region;
			k[nu].key = draw(epoch, i, 0);
			nu++;
		}
	if (nu < 2 || !B)
		goto out;
	if (nu - 1 <= B) {
		for (size_t a = 0; a < nu; a++)
			for (size_t b = a + 1; b < nu; b++)
				(void)add_cap(g, nd, k[a].node, k[b].node, B);
		goto out;
	}
	/* regions, each in the interval's order */
	qsort(k, nu, sizeof(*k), by_region_key);
	for (size_t a = 0; a < nu; a++)
		if (a == 0 || k[a].region != k[a - 1].region)
			first[nr++] = a;
	first[nr] = nu;
	for (size_t r = 0; r < nr; r++) {
		size_t m = first[r + 1] - first[r];
		uint32_t in = nr > 1 ? B / 2 : B;

		region_pairs(g, nd, k + first[r], m, in ? in : 1, epoch, lat,
			     best);
	}
	if (nr < 2)
		goto short_ones;
	cover_regions(g, nd, k, first, nr, epoch);
	/* across regions, the nodes in the interval's order */
	{
		struct keyed *o = xcalloc(nu, sizeof(*o));
		uint32_t out = B / 4 ? B / 4 : 1;

		/* o[].region: the index of the node's region in first[] */
		for (size_t r = 0; r < nr; r++)
			for (size_t a = first[r]; a < first[r + 1]; a++) {
				o[a].node = k[a].node;
				o[a].region = (uint32_t)r;
				o[a].key = draw(epoch, k[a].node, 2);
			}
		qsort(o, nu, sizeof(*o), by_key);
		for (size_t a = 0; a < nu; a++) {
			uint32_t i = o[a].node, own = o[a].region, started = 0;
			size_t rot = draw(epoch, i, 3) % (nr - 1);

			for (size_t t = 0; t + 1 < nr && started < out; t++) {
				size_t r = (own + 1 + (rot + t) % (nr - 1)) %
					   nr,
				       m = first[r + 1] - first[r],
				       at = draw(epoch, i, 4 + r) % m;

				if (g->deg[i] >= B)
					break;
				for (size_t w = 0; w < m && w < PG_WALK; w++) {
					const struct keyed *j =
						&k[first[r] + (at + w) % m];

					if (add_cap(g, nd, i, j->node, B)) {
						started++;
						break;
					}
				}
			}
		}
		free(o);
	}
short_ones:
	for (size_t r = 0; r < nr; r++)
		for (size_t a = first[r]; a < first[r + 1]; a++)
			if (g->deg[k[a].node] < (B / 4 ? B / 4 : 1))
				top_up(g, nd, k, first, nr, r, k[a].node,
				       B / 4 ? B / 4 : 1, epoch);
out:
	free(k);
	free(first);
	free(best);
}
