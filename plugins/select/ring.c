/*
 * ring.c - the ring allreduce's cost model and its rank order (ring.h).
 *
 * Exact up to RING_EXACT_MAX nodes: the cost of a ring is its largest edge
 * (the bottleneck), so the best ring is found by searching the smallest
 * threshold T such that the links of cost <= T hold a Hamiltonian cycle,
 * each test a Held-Karp reachability table over subsets (bit sets, so
 * O(2^k k) words).  test_ring checks it against brute force.  Larger
 * rings are not ordered here yet: select/topo will keep each region's
 * ranks contiguous and order within and between regions (issue 9).
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
 * Is there a Hamiltonian cycle through 0 using only edges w <= t?  reach
 * (1 << k entries) gets, per subset holding 0, the set of its vertices a
 * path from 0 through exactly that subset can end at.  Fills cyc (local
 * indices, cyc[0] = 0) when there is.
 */
static int cycle_under(const double *w, size_t k, double t, uint16_t *reach,
		       uint32_t *cyc)
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
		if ((reach[full] & (1u << v)) && w[v * k] <= t) {
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

		cyc[pos] = (uint32_t)v;
		for (u = 0; u < k; u++)
			if ((reach[prev] & (1u << u)) && w[u * k + v] <= t)
				break;
		mask = prev;
		v = u;
	}
	cyc[0] = 0;
	return 1;
}

static int order_exact(const double *w, size_t k, uint32_t *cyc)
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
	/* The complete graph has a cycle: the largest value always works. */
	hi = ne - 1;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (cycle_under(w, k, vals[mid], reach, cyc))
			hi = mid;
		else
			lo = mid + 1;
	}
	cycle_under(w, k, vals[lo], reach, cyc);
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
	rc = order_exact(w, k, loc);
	if (rc == 0)
		for (size_t i = 0; i < k; i++)
			order[i] = nodes[loc[i]];
	free(w);
	free(loc);
	return rc;
}
