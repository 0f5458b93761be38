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
 * The links come either from a dense n x n matrix (m[i * n + j] is
 * i -> j) or from a struct ring_view, whose link() the caller may answer
 * from whatever it holds (select/topo: per-region blocks, computed on
 * demand), so that no function here needs an n x n matrix.
 *
 * Regions and RING_TIE.  Where the nodes' regions are given, the order
 * prefers rings that cross between regions fewer times: a ring with more
 * crossings is taken only when it is faster by more than RING_TIE.  Among
 * rings with the same number of crossings the order is exact (least
 * bottleneck, then least total cost), so the tolerance never costs time
 * on paper except for a ring that crosses more often, and that is where
 * the model is known to be optimistic: it prices every edge alone, while
 * the crossings of one region pair share that pair's wide-area path, and
 * probes measure it within a few per cent (t0110: every ring runs through
 * one ~49 Mbit/s node, and only a ring crossing four times instead of two
 * beat the contiguous one, by 0.6%, on measurement noise).
 *
 * Plain C over arrays the caller owns; nothing here allocates what it
 * returns, logs or exits.  Every function that allocates working memory
 * says what it does without it.
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

/* Links read through the caller: link(arg, a, b, out) fills the link
 * a -> b (a != b) for node numbers the caller hands in. */
struct ring_view {
	void (*link)(void *arg, uint32_t a, uint32_t b, struct ring_link *out);
	void *arg;
};

/* Rings up to this size are ordered exactly (Held-Karp on the bottleneck,
 * O(2^k k^2) per threshold tried), and up to this many regions are
 * ordered exactly. */
#define RING_EXACT_MAX 12
/* A ring that crosses between regions more often than another must be
 * faster than it by more than this share to be taken (see above).  It is
 * never applied between rings of the same number of crossings. */
#define RING_TIE 0.05

/* Seconds one edge adds to each of the 2(k-1) steps. */
double ring_edge_cost(const struct ring_link *l, size_t k, double bytes);

/*
 * Predicted seconds of one allreduce of bytes over the ring order[0..k)
 * (indices into the n x n matrix m, row-major: m[i * n + j] is i -> j).
 * *slowest, when not NULL, is the position p of the bottleneck edge
 * order[p] -> order[(p + 1) % k].  0 for k < 2.  O(k).
 */
double ring_time(const struct ring_link *m, size_t n, const uint32_t *order,
		 size_t k, double bytes, size_t *slowest);
double ring_view_time(const struct ring_view *v, const uint32_t *order,
		      size_t k, double bytes, size_t *slowest);

/* The ring's crossings: positions p whose region differs from p+1's
 * (region[] parallel to the order; NULL: none). */
size_t ring_crossings(const uint32_t *region, size_t k);

/*
 * Order the k nodes in nodes[] (indices into m) into the ring of least
 * predicted time, and of those one of least total cost, written to
 * order[] (k entries; may not alias nodes).  Exact.  0, or -1 when k is 0
 * or over RING_EXACT_MAX, or out of memory.
 */
int ring_order(const struct ring_link *m, size_t n, const uint32_t *nodes,
	       size_t k, double bytes, uint32_t *order);
/*
 * The same for rings of any size over nodes in regions (region[i] is
 * nodes[i]'s, any numbers).  Up to RING_EXACT_MAX nodes: exact, with
 * RING_TIE for crossings (the fewest crossings among the rings within
 * RING_TIE of the least bottleneck; of those the least bottleneck, then
 * the least total cost).  Above, a construction that keeps each region's
 * ranks contiguous: the regions are ordered over each pair's cheapest
 * crossing (exactly up to RING_EXACT_MAX regions, nearest neighbour
 * above), a region is entered and left by its cheapest free crossings,
 * and its nodes run from entry to exit (exactly up to RING_EXACT_MAX
 * members, nearest neighbour above).  O(k^2) link reads above the exact
 * size.  0, or -1 out of memory (order then undefined).
 */
int ring_order_regions(const struct ring_link *m, size_t n,
		       const uint32_t *nodes, const uint32_t *region, size_t k,
		       double bytes, uint32_t *order);
int ring_view_order_regions(const struct ring_view *v, const uint32_t *nodes,
			    const uint32_t *region, size_t k, double bytes,
			    uint32_t *order);

/*
 * Local search on the ring order[0..k) in place, region[] (parallel to
 * order, NULL: one region) permuted with it.  Each move takes out the
 * bottleneck edge: a 2-opt move (reverse a segment that starts after
 * it; reversed edges are priced in their new direction) or a move of one
 * of its two end nodes to another place in the ring.  The best move that
 * makes the ring faster is applied, one that adds crossings only when it
 * makes the ring faster by more than RING_TIE, until none does (at most
 * 16k + 64 moves).  Each round is O(k) link reads: prefix and suffix
 * maxima give each move's bottleneck in O(1).  The number of moves made,
 * or -1 out of memory (the order then unchanged).
 */
int ring_view_improve(const struct ring_view *v, uint32_t *order,
		      uint32_t *region, size_t k, double bytes);
int ring_improve(const struct ring_link *m, size_t n, uint32_t *order,
		 uint32_t *region, size_t k, double bytes);

#endif
