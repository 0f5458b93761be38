/*
 * ring.c - the ring allreduce's cost model and its rank order (ring.h).
 *
 * Exact up to RING_EXACT_MAX nodes: the cost of a ring is its largest edge
 * (the bottleneck), so the best ring is found by searching the smallest
 * threshold T such that the links of cost <= T hold a Hamiltonian cycle,
 * each test a Held-Karp reachability table over subsets (bit sets, so
 * O(2^k k) words); among the rings within RING_TIE of that bottleneck,
 * one of least total cost (Held-Karp over sums).  test_ring checks both against
 * brute force.
 *
 * Larger rings go region by region (ring_order_regions): a region's ranks
 * stay contiguous, so the ring crosses between regions once per region;
 * the regions are ordered exactly over each pair's cheapest crossing,
 * each region entered and left by its cheapest crossings still free, and
 * its own nodes ordered as a path from entry to exit.  Not exact: two
 * crossings may want the same node, and a region of more than
 * RING_EXACT_MAX nodes is walked by nearest neighbour.
 */
#include <stdlib.h>
#include <string.h>

#include "ring.h"

/* A link that cannot carry the ring: dearer than any real one, but finite
 * so that a ring that must use it still compares (fewer of them wins). */
#define RING_NO_LINK 1e30

double ring_edge_cost(const struct ring_link *l, size_t k, double bytes)
{
	if (!(l->bw_Bps > 0) || k == 0)
		return RING_NO_LINK;
	return (l->lat_s > 0 ? l->lat_s : 0) + bytes / ((double)k * l->bw_Bps);
}

double ring_time(const struct ring_link *m, size_t n, const uint32_t *order,
		 size_t k, double bytes, size_t *slowest)
{
	double worst = 0;
	size_t at = 0;

	if (slowest)
		*slowest = 0;
	if (k < 2)
		return 0;
	for (size_t p = 0; p < k; p++) {
		const struct ring_link *l =
			&m[(size_t)order[p] * n + order[(p + 1) % k]];
		double c = ring_edge_cost(l, k, bytes);

		if (c > worst) {
			worst = c;
			at = p;
		}
	}
	if (slowest)
		*slowest = at;
	return 2.0 * (double)(k - 1) * worst;
}

/* --- exact: the bottleneck Hamiltonian cycle ------------------------------ */

static int dbl_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/*
 * Is there a Hamiltonian cycle through 0 (end < 0), or a Hamiltonian path
 * from 0 to end, using only edges w <= t?  reach (1 << k entries) gets,
 * per subset holding 0, the set of its vertices a path from 0 through
 * exactly that subset can end at.  Fills out (local indices, out[0] = 0)
 * when there is.
 */
static int tour_under(const double *w, size_t k, double t, long end,
		      uint16_t *reach, uint32_t *out)
{
	size_t full = ((size_t)1 << k) - 1, mask, v, u;
	unsigned last = 0;
	int found = 0;

	memset(reach, 0, (full + 1) * sizeof(*reach));
	reach[1] = 1;				  /* {0}, ending at 0 */
	for (mask = 1; mask <= full; mask += 2) { /* subsets holding 0 */
		if (!reach[mask])
			continue;
		for (v = 0; v < k; v++) {
			if (!(reach[mask] & (1u << v)))
				continue;
			for (u = 1; u < k; u++)
				if (!(mask & ((size_t)1 << u)) &&
				    w[v * k + u] <= t)
					reach[mask | ((size_t)1 << u)] |=
						(uint16_t)(1u << u);
		}
	}
	for (v = 1; v < k && !found; v++)
		if ((reach[full] & (1u << v)) &&
		    (end < 0 ? w[v * k] <= t : (long)v == end)) {
			last = (unsigned)v;
			found = 1;
		}
	if (k == 1)
		found = 1;
	if (!found)
		return 0;
	/* walk back: the vertex before v in a path through mask ending at v */
	mask = full;
	v = last;
	for (size_t pos = k - 1; pos > 0; pos--) {
		size_t prev = mask & ~((size_t)1 << v);

		out[pos] = (uint32_t)v;
		for (u = 0; u < k; u++)
			if ((reach[prev] & (1u << u)) && w[u * k + v] <= t)
				break;
		mask = prev;
		v = u;
	}
	out[0] = 0;
	return 1;
}

/*
 * Of the tours (as tour_under) on edges w <= t, one whose edges sum least:
 * Held-Karp over sums, dp[mask * k + v] the least sum of a path from 0
 * through mask ending at v.  Many rings share the least bottleneck (every
 * ring through one slow node does); the least sum among them takes the
 * fast links elsewhere, so a ring does not cross between regions more
 * often than it must.  1 and out filled, 0 none, -1 out of memory.
 */
static int tour_min_sum(const double *w, size_t k, double t, long end,
			uint32_t *out)
{
	size_t full = ((size_t)1 << k) - 1, mask, v, u, best_v = 0;
	double *dp = malloc((full + 1) * k * sizeof(*dp)), best = -1;

	if (!dp)
		return -1;
	for (size_t i = 0; i < (full + 1) * k; i++)
		dp[i] = -1; /* none */
	dp[1 * k + 0] = 0;
	for (mask = 1; mask <= full; mask += 2)
		for (v = 0; v < k; v++) {
			double here = dp[mask * k + v];

			if (here < 0)
				continue;
			for (u = 1; u < k; u++) {
				size_t next = mask | ((size_t)1 << u);
				double c;

				if ((mask & ((size_t)1 << u)) ||
				    w[v * k + u] > t)
					continue;
				c = here + w[v * k + u];
				if (dp[next * k + u] < 0 ||
				    c < dp[next * k + u])
					dp[next * k + u] = c;
			}
		}
	for (v = 1; v < k; v++) {
		double c = dp[full * k + v];

		if (c < 0)
			continue;
		if (end < 0) {
			if (w[v * k] > t)
				continue;
			c += w[v * k];
		} else if ((long)v != end) {
			continue;
		}
		if (best < 0 || c < best) {
			best = c;
			best_v = v;
		}
	}
	if (best < 0) {
		free(dp);
		return 0;
	}
	/* walk back along the sums */
	mask = full;
	v = best_v;
	for (size_t pos = k - 1; pos > 0; pos--) {
		size_t prev = mask & ~((size_t)1 << v);
		double want = dp[mask * k + v];

		out[pos] = (uint32_t)v;
		for (u = 0; u < k; u++)
			if (dp[prev * k + u] >= 0 && w[u * k + v] <= t &&
			    dp[prev * k + u] + w[u * k + v] == want)
				break;
		mask = prev;
		v = u;
	}
	out[0] = 0;
	free(dp);
	return 1;
}

/* The tour (cycle, or path from 0 to end) whose largest edge is least,
 * and of those one whose edges sum least; 2 <= k <= RING_EXACT_MAX. */
static int tour_exact(const double *w, size_t k, long end, uint32_t *out)
{
	size_t ne = k * (k - 1), lo = 0, hi, i, j, e = 0;
	double *vals = malloc(ne * sizeof(*vals));
	uint16_t *reach = malloc(((size_t)1 << k) * sizeof(*reach));

	if (!vals || !reach) {
		free(vals);
		free(reach);
		return -1;
	}
	for (i = 0; i < k; i++)
		for (j = 0; j < k; j++)
			if (i != j)
				vals[e++] = w[i * k + j];
	qsort(vals, ne, sizeof(*vals), dbl_cmp);
	/* The complete graph has both: the largest value always works. */
	hi = ne - 1;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (tour_under(w, k, vals[mid], end, reach, out))
			hi = mid;
		else
			lo = mid + 1;
	}
	/* within RING_TIE of it, the least total cost (ring.h) */
	if (tour_min_sum(w, k, vals[lo] * (1 + RING_TIE), end, out) != 1)
		tour_under(w, k, vals[lo], end, reach, out);
	free(vals);
	free(reach);
	return 0;
}

int ring_order(const struct ring_link *m, size_t n, const uint32_t *nodes,
	       size_t k, double bytes, uint32_t *order)
{
	double *w;
	uint32_t *loc;
	int rc;

	if (k == 0 || k > RING_EXACT_MAX)
		return -1;
	if (k <= 2) {
		memcpy(order, nodes, k * sizeof(*order));
		return 0;
	}
	w = malloc(k * k * sizeof(*w));
	loc = malloc(k * sizeof(*loc));
	if (!w || !loc) {
		free(w);
		free(loc);
		return -1;
	}
	for (size_t i = 0; i < k; i++)
		for (size_t j = 0; j < k; j++)
			w[i * k + j] =
				i == j ? 0
				       : ring_edge_cost(
						 &m[(size_t)nodes[i] * n +
						    nodes[j]],
						 k, bytes);
	rc = tour_exact(w, k, -1, loc);
	if (rc == 0)
		for (size_t i = 0; i < k; i++)
			order[i] = nodes[loc[i]];
	free(w);
	free(loc);
	return rc;
}

/* --- large rings: region by region ---------------------------------------- */

struct region {
	uint32_t id;
	uint32_t *members; /* indices into nodes[] */
	size_t n;
	long entry, exit; /* members' indices into nodes[], -1 none yet */
};

/* Edge cost between nodes[a] and nodes[b]. */
static double cost_of(const struct ring_link *m, size_t n,
		      const uint32_t *nodes, size_t a, size_t b, size_t k,
		      double bytes)
{
	return ring_edge_cost(&m[(size_t)nodes[a] * n + nodes[b]], k, bytes);
}

/* A path from local 0 to x through all q nodes of w, nearest neighbour
 * first, x kept for last (used: q bytes, zeroed). */
static void path_nearest(const double *w, size_t q, size_t x,
			 unsigned char *used, uint32_t *loc)
{
	loc[0] = 0;
	used[0] = used[x] = 1;
	for (size_t p = 1; p + 1 < q; p++) {
		size_t from = loc[p - 1], pick = q;

		for (size_t u = 0; u < q; u++)
			if (!used[u] &&
			    (pick == q || w[from * q + u] < w[from * q + pick]))
				pick = u;
		loc[p] = (uint32_t)pick;
		used[pick] = 1;
	}
	loc[q - 1] = (uint32_t)x;
}

/*
 * The path through region r from its entry to its exit, written to out
 * (nodes[] values).  Exact up to RING_EXACT_MAX members; above, nearest
 * neighbour from the entry, the exit kept for last.
 */
static int region_path(const struct ring_link *m, size_t n,
		       const uint32_t *nodes, size_t k, double bytes,
		       const struct region *r, uint32_t *out)
{
	size_t q = r->n, e = 0, x = 0;
	uint32_t *mem, *loc;
	unsigned char *used;
	double *w;
	int rc = -1;

	if (q == 1) {
		out[0] = nodes[r->members[0]];
		return 0;
	}
	mem = malloc(q * sizeof(*mem));
	loc = malloc(q * sizeof(*loc));
	used = calloc(q, 1);
	w = malloc(q * q * sizeof(*w));
	if (!mem || !loc || !used || !w)
		goto out;
	for (size_t i = 0; i < q; i++) {
		if ((long)r->members[i] == r->entry)
			e = i;
		if ((long)r->members[i] == r->exit)
			x = i;
	}
	/* the members with the entry in place 0 (the exit follows it) */
	memcpy(mem, r->members, q * sizeof(*mem));
	mem[e] = mem[0];
	mem[0] = r->members[e];
	if (x == 0)
		x = e;
	for (size_t i = 0; i < q; i++)
		for (size_t j = 0; j < q; j++)
			w[i * q + j] =
				cost_of(m, n, nodes, mem[i], mem[j], k, bytes);
	if (q <= RING_EXACT_MAX) {
		if (tour_exact(w, q, (long)x, loc) < 0)
			goto out;
	} else {
		path_nearest(w, q, x, used, loc);
	}
	for (size_t i = 0; i < q; i++)
		out[i] = nodes[mem[loc[i]]];
	rc = 0;
out:
	free(mem);
	free(loc);
	free(used);
	free(w);
	return rc;
}

/* The cheapest crossing from region a to region b whose ends are still
 * free: a's exit (not its entry, unless a has one member) and b's entry
 * (not its exit, unless b has one member). */
static void pick_crossing(const struct ring_link *m, size_t n,
			  const uint32_t *nodes, size_t k, double bytes,
			  struct region *a, struct region *b)
{
	double best = -1;
	long bx = -1, by = -1;

	for (size_t i = 0; i < a->n; i++) {
		long x = a->members[i];

		if (a->exit >= 0 && x != a->exit)
			continue;
		if (a->n > 1 && x == a->entry)
			continue;
		for (size_t j = 0; j < b->n; j++) {
			long y = b->members[j];
			double c;

			if (b->entry >= 0 && y != b->entry)
				continue;
			if (b->n > 1 && y == b->exit)
				continue;
			c = cost_of(m, n, nodes, (size_t)x, (size_t)y, k,
				    bytes);
			if (best < 0 || c < best) {
				best = c;
				bx = x;
				by = y;
			}
		}
	}
	a->exit = bx;
	b->entry = by;
}

int ring_order_regions(const struct ring_link *m, size_t n,
		       const uint32_t *nodes, const uint32_t *region, size_t k,
		       double bytes, uint32_t *order)
{
	struct region *rs;
	size_t nr = 0, pos = 0;
	uint32_t *ro = NULL;
	int rc = -1;

	if (k <= RING_EXACT_MAX)
		return ring_order(m, n, nodes, k, bytes, order);
	rs = calloc(k, sizeof(*rs));
	if (!rs)
		return -1;
	for (size_t i = 0; i < k; i++) {
		size_t r = 0;

		while (r < nr && rs[r].id != region[i])
			r++;
		if (r == nr) {
			if (nr == RING_EXACT_MAX)
				goto out; /* too many regions to order */
			rs[nr].id = region[i];
			rs[nr].members = malloc(k * sizeof(uint32_t));
			rs[nr].entry = rs[nr].exit = -1;
			if (!rs[nr].members)
				goto out;
			nr++;
		}
		rs[r].members[rs[r].n++] = (uint32_t)i;
	}
	ro = malloc(nr * sizeof(*ro));
	if (!ro)
		goto out;
	if (nr == 1) {
		/* one region, too large to order exactly: a path from its
		 * first member to the member it reaches back cheapest */
		rs[0].entry = 0;
		pick_crossing(m, n, nodes, k, bytes, &rs[0], &rs[0]);
		rs[0].entry = 0;
		ro[0] = 0;
	} else {
		/* the regions' ring, over each pair's cheapest crossing */
		double *w = calloc(nr * nr, sizeof(*w));

		if (!w)
			goto out;
		for (size_t a = 0; a < nr; a++)
			for (size_t b = 0; b < nr; b++) {
				double best = -1;

				for (size_t i = 0; a != b && i < rs[a].n; i++)
					for (size_t j = 0; j < rs[b].n; j++) {
						double c = cost_of(
							m, n, nodes,
							rs[a].members[i],
							rs[b].members[j], k,
							bytes);

						if (best < 0 || c < best)
							best = c;
					}
				w[a * nr + b] = a == b ? 0 : best;
			}
		if (nr == 2) {
			ro[0] = 0;
			ro[1] = 1;
		} else if (tour_exact(w, nr, -1, ro) < 0) {
			free(w);
			goto out;
		}
		free(w);
		for (size_t i = 0; i < nr; i++)
			pick_crossing(m, n, nodes, k, bytes, &rs[ro[i]],
				      &rs[ro[(i + 1) % nr]]);
	}
	for (size_t i = 0; i < nr; i++) {
		struct region *r = &rs[ro[i]];

		if (r->entry < 0 || r->exit < 0 ||
		    region_path(m, n, nodes, k, bytes, r, order + pos) < 0)
			goto out;
		pos += r->n;
	}
	rc = 0;
out:
	for (size_t i = 0; i < nr; i++)
		free(rs[i].members);
	free(rs);
	free(ro);
	return rc;
}
