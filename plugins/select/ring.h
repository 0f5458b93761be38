/*
 * ring.h - the cost of a data-parallel ring over measured links, and the
 * rank order that makes it fastest (select/topo's model; see
 * ../shared/DESIGN.md "Placement").
 *
 * A ring allreduce of S bytes over k ranks sends 2(k-1) chunks of S/k
 * bytes along every edge of the ring, each step as slow as its slowest
 * edge, so one allreduce takes about
 *
 *     2(k-1) * max over ring edges e of (a(e) + S / (k * b(e)))
 *
 * with a(e) the edge's one-way latency and b(e) its bandwidth.  The order
 * of the ranks decides which links are edges: choosing it is a bottleneck
 * travelling-salesman problem.  Links are directed (a home link's up and
 * down differ): edge i -> i+1 uses link[order[i]][order[i+1]].
 *
 * Plain C over arrays the caller owns; nothing here allocates what it
 * returns, logs or exits.
 */
#ifndef MER_RING_H
#define MER_RING_H

#include <stddef.h>
#include <stdint.h>

/* One directed link.  bw_Bps <= 0: no usable link (an infinite cost). */
struct ring_link {
	double lat_s;  /* one-way latency, seconds */
	double bw_Bps; /* bandwidth, bytes per second */
};

/* Rings up to this size are ordered exactly (Held-Karp on the bottleneck,
 * O(2^k k^2) per threshold tried). */
#define RING_EXACT_MAX 12
/* Links whose costs differ by less than this share are one to the order:
 * probes measure within a few per cent, and a ring that is 1% faster on
 * paper but crosses between regions twice more is not faster.  Of the
 * rings within it of the least bottleneck, the order takes one of least
 * total cost. */
#define RING_TIE 0.05

/* Seconds one edge adds to each of the 2(k-1) steps. */
double ring_edge_cost(const struct ring_link *l, size_t k, double bytes);

/*
 * Predicted seconds of one allreduce of bytes over the ring order[0..k)
 * (indices into the n x n matrix m, row-major: m[i * n + j] is i -> j).
 * *slowest, when not NULL, is the position p of the bottleneck edge
 * order[p] -> order[(p + 1) % k].  0 for k < 2.
 */
double ring_time(const struct ring_link *m, size_t n, const uint32_t *order,
		 size_t k, double bytes, size_t *slowest);

/*
 * Order the k nodes in nodes[] (indices into m) into the ring of least
 * predicted time (within RING_TIE; of those, least total cost), written
 * to order[] (k entries; may not alias nodes).  Exact.  0, or -1 when k is 0 or
 * over RING_EXACT_MAX (larger rings are ordered region by region, by the
 * caller).
 */
int ring_order(const struct ring_link *m, size_t n, const uint32_t *nodes,
	       size_t k, double bytes, uint32_t *order);
/*
 * The same for rings of any size over nodes in regions (region[i] is
 * nodes[i]'s, any numbers): up to RING_EXACT_MAX nodes exactly as
 * ring_order; above, each region's ranks stay contiguous, the regions are
 * ordered (exactly, up to RING_EXACT_MAX regions) over each pair's
 * cheapest crossing, a region is entered and left by its cheapest free
 * crossings, and its nodes run from entry to exit (exactly up to
 * RING_EXACT_MAX members, nearest neighbour above).  -1 with more than
 * RING_EXACT_MAX regions.
 */
int ring_order_regions(const struct ring_link *m, size_t n,
		       const uint32_t *nodes, const uint32_t *region, size_t k,
		       double bytes, uint32_t *order);

#endif
