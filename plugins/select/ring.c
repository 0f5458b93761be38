/*
 * ring.c - the ring allreduce's cost model and its rank order (ring.h).
 *
 * Exact up to RING_EXACT_MAX nodes: the cost of a ring is its largest edge
 * (the bottleneck), so the best ring is found by searching the smallest
 * threshold T such that the links of cost <= T hold a Hamiltonian cycle,
 * each test a Held-Karp reachability table over subsets (bit sets, so
 * O(2^k k) words).  Then a Held-Karp over (crossings, sum) pairs, compared
 * in that order: with regions given, the fewest crossings C among the
 * rings within RING_TIE of that bottleneck, the least bottleneck among
 * the rings of C crossings (a second search over thresholds), and of
 * those one of least total cost; without regions, the least total cost
 * at the least bottleneck.  test_ring checks all of it against brute
 * force.
 *
 * Larger rings go region by region (ring_view_order_regions): a region's
 * ranks stay contiguous, so the ring crosses between regions once per
 * region; the regions are ordered over each pair's cheapest crossing
 * (exactly up to RING_EXACT_MAX regions, nearest neighbour above), each
 * region entered and left by its cheapest crossings still free, and its
 * own nodes ordered as a path from entry to exit.  Not exact: two
 * crossings may want the same node, and a region of more than
 * RING_EXACT_MAX nodes is walked by nearest neighbour.  On bench-place's
 * 8 cities x 8 it is exact among contiguous rings (its bottleneck is the
 * regions' own bottleneck ring over cheapest crossings, a lower bound for
 * every contiguous ring), and that is 20% above what a ring that enters
 * and leaves Seoul through Tokyo reaches: ring_view_improve's local
 * search finds such rings, where they are faster by more than RING_TIE.
 */
#include <stdbool.h>
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

/* A dense matrix as a view. */
struct dense {
	const struct ring_link *m;
	size_t n;
};

static void dense_link(void *arg, uint32_t a, uint32_t b, struct ring_link *out)
{
	const struct dense *d = arg;

	*out = d->m[(size_t)a * d->n + b];
}

/* Edge cost a -> b through the view. */
static double vcost(const struct ring_view *v, uint32_t a, uint32_t b, size_t k,
		    double bytes)
{
	struct ring_link l;

	v->link(v->arg, a, b, &l);
	return ring_edge_cost(&l, k, bytes);
}

double ring_view_time(const struct ring_view *v, const uint32_t *order,
		      size_t k, double bytes, size_t *slowest)
{
	double worst = 0;
	size_t at = 0;

	if (slowest)
		*slowest = 0;
	if (k < 2)
		return 0;
	for (size_t p = 0; p < k; p++) {
		double c = vcost(v, order[p], order[(p + 1) % k], k, bytes);

		if (c > worst) {
			worst = c;
			at = p;
		}
	}
	if (slowest)
		*slowest = at;
	return 2.0 * (double)(k - 1) * worst;
}

double ring_time(const struct ring_link *m, size_t n, const uint32_t *order,
		 size_t k, double bytes, size_t *slowest)
{
	struct dense d = {m, n};
	struct ring_view v = {dense_link, &d};

	return ring_view_time(&v, order, k, bytes, slowest);
}

size_t ring_crossings(const uint32_t *region, size_t k)
{
	size_t cross = 0;

	if (!region || k < 2)
		return 0;
	for (size_t p = 0; p < k; p++)
		cross += region[p] != region[(p + 1) % k];
	return cross;
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

/* Held-Karp over (crossings, sum), compared in that order. */
struct lex {
	double *sum;	/* per (mask, v): the least, < 0 none */
	uint8_t *cross; /* its crossings */
};

static bool lex_less(unsigned c1, double s1, unsigned c2, double s2)
{
	return c1 < c2 || (c1 == c2 && s1 < s2);
}

/*
 * Of the tours (as tour_under) on edges w <= t, one of fewest crossings
 * (reg: local regions, NULL none) and of those least total cost, into
 * out.  Its crossings, or -1 when there is none.
 */
static long tour_lex(const double *w, const uint32_t *reg, size_t k, double t,
		     long end, struct lex *dp, uint32_t *out)
{
	size_t full = ((size_t)1 << k) - 1, mask, v, u, best_v = 0;
	double best = -1;
	unsigned best_c = 0;

#define X(a, b) (reg && reg[a] != reg[b] ? 1u : 0u)
	for (size_t i = 0; i < (full + 1) * k; i++)
		dp->sum[i] = -1; /* none */
	dp->sum[1 * k + 0] = 0;
	dp->cross[1 * k + 0] = 0;
	for (mask = 1; mask <= full; mask += 2)
		for (v = 0; v < k; v++) {
			double here = dp->sum[mask * k + v];
			unsigned hc = dp->cross[mask * k + v];

			if (here < 0)
				continue;
			for (u = 1; u < k; u++) {
				size_t next = (mask | ((size_t)1 << u)) * k + u;
				double c;
				unsigned cc;

				if ((mask & ((size_t)1 << u)) ||
				    w[v * k + u] > t)
					continue;
				c = here + w[v * k + u];
				cc = hc + X(v, u);
				if (dp->sum[next] < 0 ||
				    lex_less(cc, c, dp->cross[next],
					     dp->sum[next])) {
					dp->sum[next] = c;
					dp->cross[next] = (uint8_t)cc;
				}
			}
		}
	for (v = 1; v < k; v++) {
		double c = dp->sum[full * k + v];
		unsigned cc = dp->cross[full * k + v];

		if (c < 0)
			continue;
		if (end < 0) {
			if (w[v * k] > t)
				continue;
			c += w[v * k];
			cc += X(v, 0);
		} else if ((long)v != end) {
			continue;
		}
		if (best < 0 || lex_less(cc, c, best_c, best)) {
			best = c;
			best_c = cc;
			best_v = v;
		}
	}
	if (best < 0)
		return -1;
	/* walk back along the pairs */
	mask = full;
	v = best_v;
	for (size_t pos = k - 1; pos > 0; pos--) {
		size_t prev = mask & ~((size_t)1 << v);
		double want = dp->sum[mask * k + v];
		unsigned wc = dp->cross[mask * k + v];

		out[pos] = (uint32_t)v;
		for (u = 0; u < k; u++)
			if (dp->sum[prev * k + u] >= 0 && w[u * k + v] <= t &&
			    dp->sum[prev * k + u] + w[u * k + v] == want &&
			    dp->cross[prev * k + u] + X(u, v) == wc)
				break;
		mask = prev;
		v = u;
	}
	out[0] = 0;
#undef X
	return (long)best_c;
}

/*
 * The tour (cycle, or path from 0 to end) whose largest edge is least,
 * and of those one whose edges sum least; with regions (reg, local), the
 * crossings first as ring.h says.  2 <= k <= RING_EXACT_MAX.  0, or -1
 * out of memory.
 */
static int tour_exact(const double *w, const uint32_t *reg, size_t k, long end,
		      uint32_t *out)
{
	size_t ne = k * (k - 1), lo = 0, hi, i, j, e = 0, cells = k << k;
	double *vals = malloc(ne * sizeof(*vals));
	uint16_t *reach = malloc(((size_t)1 << k) * sizeof(*reach));
	struct lex dp = {malloc(cells * sizeof(double)), malloc(cells)};
	int rc = -1;

	if (!vals || !reach || !dp.sum || !dp.cross)
		goto out;
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
	if (reg) {
		/* the fewest crossings within RING_TIE, then the least
		 * bottleneck that keeps them: the predicate "a tour of at
		 * most that many crossings under t" grows with t */
		long fewest;
		double cap = vals[lo] * (1 + RING_TIE);

		hi = lo;
		while (hi + 1 < ne && vals[hi + 1] <= cap)
			hi++;
		fewest = tour_lex(w, reg, k, vals[hi], end, &dp, out);
		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;
			long c = tour_lex(w, reg, k, vals[mid], end, &dp, out);

			if (c >= 0 && c <= fewest)
				hi = mid;
			else
				lo = mid + 1;
		}
	}
	if (tour_lex(w, reg, k, vals[lo], end, &dp, out) < 0)
		tour_under(w, k, vals[lo], end, reach, out);
	rc = 0;
out:
	free(vals);
	free(reach);
	free(dp.sum);
	free(dp.cross);
	return rc;
}

/* The exact ring over nodes[0..k) (regions reg, parallel, or NULL). */
static int order_exact(const struct ring_view *v, const uint32_t *nodes,
		       const uint32_t *reg, size_t k, double bytes,
		       uint32_t *order)
{
	double *w;
	uint32_t *loc, *lreg = NULL;
	int rc;

	if (k == 0 || k > RING_EXACT_MAX)
		return -1;
	if (k <= 2) {
		memcpy(order, nodes, k * sizeof(*order));
		return 0;
	}
	w = malloc(k * k * sizeof(*w));
	loc = malloc(k * sizeof(*loc));
	if (reg)
		lreg = malloc(k * sizeof(*lreg));
	if (!w || !loc || (reg && !lreg)) {
		free(w);
		free(loc);
		free(lreg);
		return -1;
	}
	for (size_t i = 0; i < k; i++) {
		if (lreg)
			lreg[i] = reg[i];
		for (size_t j = 0; j < k; j++)
			w[i * k + j] =
				i == j ? 0
				       : vcost(v, nodes[i], nodes[j], k, bytes);
	}
	rc = tour_exact(w, lreg, k, -1, loc);
	if (rc == 0)
		for (size_t i = 0; i < k; i++)
			order[i] = nodes[loc[i]];
	free(w);
	free(loc);
	free(lreg);
	return rc;
}

int ring_order(const struct ring_link *m, size_t n, const uint32_t *nodes,
	       size_t k, double bytes, uint32_t *order)
{
	struct dense d = {m, n};
	struct ring_view v = {dense_link, &d};

	return order_exact(&v, nodes, NULL, k, bytes, order);
}

/* --- large rings: region by region ---------------------------------------- */

struct region {
	uint32_t id;
	uint32_t *members; /* indices into nodes[] */
	size_t n;
	long entry, exit; /* members' indices into nodes[], -1 none yet */
};

/* Edge cost between nodes[a] and nodes[b]. */
static double cost_of(const struct ring_view *v, const uint32_t *nodes,
		      size_t a, size_t b, size_t k, double bytes)
{
	return vcost(v, nodes[a], nodes[b], k, bytes);
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
static int region_path(const struct ring_view *v, const uint32_t *nodes,
		       size_t k, double bytes, const struct region *r,
		       uint32_t *out)
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
			w[i * q + j] = i == j ? 0
					      : cost_of(v, nodes, mem[i],
							mem[j], k, bytes);
	if (q <= RING_EXACT_MAX) {
		if (tour_exact(w, NULL, q, (long)x, loc) < 0)
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
static void pick_crossing(const struct ring_view *v, const uint32_t *nodes,
			  size_t k, double bytes, struct region *a,
			  struct region *b)
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
			if (x == y)
				continue;
			c = cost_of(v, nodes, (size_t)x, (size_t)y, k, bytes);
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

/* The regions' ring over w (nr x nr, cheapest crossings) into ro:
 * exact up to RING_EXACT_MAX regions, nearest neighbour above. */
static int order_regions(const double *w, size_t nr, uint32_t *ro)
{
	bool *used;

	if (nr <= 2) {
		for (size_t i = 0; i < nr; i++)
			ro[i] = (uint32_t)i;
		return 0;
	}
	if (nr <= RING_EXACT_MAX)
		return tour_exact(w, NULL, nr, -1, ro);
	used = calloc(nr, sizeof(*used));
	if (!used)
		return -1;
	ro[0] = 0;
	used[0] = true;
	for (size_t p = 1; p < nr; p++) {
		size_t from = ro[p - 1], pick = nr;

		for (size_t u = 0; u < nr; u++)
			if (!used[u] &&
			    (pick == nr ||
			     w[from * nr + u] < w[from * nr + pick]))
				pick = u;
		ro[p] = (uint32_t)pick;
		used[pick] = true;
	}
	free(used);
	return 0;
}

int ring_view_order_regions(const struct ring_view *v, const uint32_t *nodes,
			    const uint32_t *region, size_t k, double bytes,
			    uint32_t *order)
{
	struct region *rs;
	size_t nr = 0, pos = 0;
	uint32_t *ro = NULL, *slot;
	int rc = -1;

	if (k <= RING_EXACT_MAX)
		return order_exact(v, nodes, region, k, bytes, order);
	rs = calloc(k, sizeof(*rs));
	slot = malloc(k * sizeof(*slot));
	if (!rs || !slot)
		goto out;
	for (size_t i = 0; i < k; i++) {
		size_t r = 0;

		/* the last one seen first: members often come in runs */
		if (i > 0 && rs[slot[i - 1]].id == region[i])
			r = slot[i - 1];
		else
			while (r < nr && rs[r].id != region[i])
				r++;
		if (r == nr) {
			rs[nr].id = region[i];
			rs[nr].entry = rs[nr].exit = -1;
			nr++;
		}
		slot[i] = (uint32_t)r;
		rs[r].n++;
	}
	for (size_t r = 0; r < nr; r++) {
		rs[r].members = malloc(rs[r].n * sizeof(uint32_t));
		if (!rs[r].members)
			goto out;
		rs[r].n = 0;
	}
	for (size_t i = 0; i < k; i++)
		rs[slot[i]].members[rs[slot[i]].n++] = (uint32_t)i;
	ro = malloc(nr * sizeof(*ro));
	if (!ro)
		goto out;
	if (nr == 1) {
		/* one region, too large to order exactly: a path from its
		 * first member to the member it reaches back cheapest */
		rs[0].entry = 0;
		pick_crossing(v, nodes, k, bytes, &rs[0], &rs[0]);
		rs[0].entry = 0;
		ro[0] = 0;
	} else {
		/* the regions' ring, over each pair's cheapest crossing */
		double *w = malloc(nr * nr * sizeof(*w));

		if (!w)
			goto out;
		for (size_t i = 0; i < nr * nr; i++)
			w[i] = -1;
		for (size_t i = 0; i < k; i++)
			for (size_t j = 0; j < k; j++) {
				size_t a = slot[i], b = slot[j];
				double c;

				if (a == b)
					continue;
				c = cost_of(v, nodes, i, j, k, bytes);
				if (w[a * nr + b] < 0 || c < w[a * nr + b])
					w[a * nr + b] = c;
			}
		for (size_t a = 0; a < nr; a++)
			w[a * nr + a] = 0;
		if (order_regions(w, nr, ro) < 0) {
			free(w);
			goto out;
		}
		free(w);
		for (size_t i = 0; i < nr; i++)
			pick_crossing(v, nodes, k, bytes, &rs[ro[i]],
				      &rs[ro[(i + 1) % nr]]);
	}
	for (size_t i = 0; i < nr; i++) {
		struct region *r = &rs[ro[i]];

		if (r->entry < 0 || r->exit < 0 ||
		    region_path(v, nodes, k, bytes, r, order + pos) < 0)
			goto out;
		pos += r->n;
	}
	rc = 0;
out:
	for (size_t i = 0; rs && i < nr; i++)
		free(rs[i].members);
	free(rs);
	free(slot);
	free(ro);
	return rc;
}

int ring_order_regions(const struct ring_link *m, size_t n,
		       const uint32_t *nodes, const uint32_t *region, size_t k,
		       double bytes, uint32_t *order)
{
	struct dense d = {m, n};
	struct ring_view v = {dense_link, &d};

	return ring_view_order_regions(&v, nodes, region, k, bytes, order);
}

/* --- local search ----------------------------------------------------------
 */

/* Is a ring of bottleneck t, dc more crossings than the current one of
 * bottleneck cur, better (ring.h: crossings cost RING_TIE)? */
static bool move_better(double t, long dc, double cur)
{
	if (dc > 0)
		return t * (1 + RING_TIE) < cur;
	if (dc < 0)
		return t <= cur;
	return t < cur * (1 - 1e-12);
}

/* One move: its kind, its place, the bottleneck and crossings it gives. */
struct move {
	int kind; /* 0 none, 1 2-opt to j, 2 node 1 after p, 3 node 0 after p */
	size_t at;
	double t;
	long dc;
};

static void consider(struct move *best, int kind, size_t at, double t, long dc,
		     double cur)
{
	if (!move_better(t, dc, cur))
		return;
	if (best->kind && (t > best->t || (t == best->t && dc >= best->dc)))
		return;
	best->kind = kind;
	best->at = at;
	best->t = t;
	best->dc = dc;
}

static double dmax(double a, double b)
{
	return a > b ? a : b;
}

/* Rotate a[0..k) left by s, through tmp. */
static void rotate(uint32_t *a, size_t k, size_t s, uint32_t *tmp)
{
	if (!a || s == 0)
		return;
	memcpy(tmp, a + s, (k - s) * sizeof(*a));
	memcpy(tmp + k - s, a, s * sizeof(*a));
	memcpy(a, tmp, k * sizeof(*a));
}

/* Move a[from] to just after a[after] (from < after), shifting. */
static void move_after(uint32_t *a, size_t from, size_t after)
{
	uint32_t x;

	if (!a)
		return;
	x = a[from];
	memmove(a + from, a + from + 1, (after - from) * sizeof(*a));
	a[after] = x;
}

int ring_view_improve(const struct ring_view *v, uint32_t *o, uint32_t *reg,
		      size_t k, double bytes)
{
	double *fwd, *bwd, *sf, *pb, *pf, *s2;
	uint32_t *tmp;
	int moves = 0;

	if (k < 4)
		return 0;
	fwd = malloc(k * sizeof(*fwd));
	bwd = malloc(k * sizeof(*bwd));
	sf = malloc((k + 1) * sizeof(*sf));
	pb = malloc((k + 1) * sizeof(*pb));
	pf = malloc((k + 1) * sizeof(*pf));
	s2 = malloc((k + 1) * sizeof(*s2));
	tmp = malloc(k * sizeof(*tmp));
	if (!fwd || !bwd || !sf || !pb || !pf || !s2 || !tmp) {
		moves = -1;
		goto out;
	}
#define C(a, b) vcost(v, o[a], o[b], k, bytes)
#define X(a, b) (reg && reg[a] != reg[b] ? 1L : 0L)
	while ((size_t)moves < 16 * k + 64) {
		struct move best = {0, 0, 0, 0};
		size_t b = 0;
		double cur, rest;

		for (size_t p = 0; p < k; p++) {
			fwd[p] = C(p, (p + 1) % k);
			if (fwd[p] > fwd[b])
				b = p;
		}
		/* the bottleneck edge first: o[0] -> o[1] */
		rotate(o, k, b, tmp);
		rotate(reg, k, b, tmp);
		memcpy(pb, fwd, k * sizeof(*fwd));
		for (size_t p = 0; p < k; p++) {
			fwd[p] = pb[(p + b) % k];
			bwd[p] = C((p + 1) % k, p);
		}
		cur = fwd[0];
		/* sf[j]: max fwd[j..k); pb[j]: max bwd[1..j); pf[j]: max
		 * fwd[2..j) */
		sf[k] = 0;
		for (size_t j = k; j-- > 0;)
			sf[j] = dmax(sf[j + 1], fwd[j]);
		pb[0] = pb[1] = 0;
		for (size_t j = 1; j < k; j++)
			pb[j + 1] = dmax(pb[j], bwd[j]);
		pf[0] = pf[1] = pf[2] = 0;
		for (size_t j = 2; j < k; j++)
			pf[j + 1] = dmax(pf[j], fwd[j]);
		/* 2-opt: edges 0 and j out, o[1..j] reversed */
		for (size_t j = 2; j < k; j++) {
			size_t jn = (j + 1) % k;
			double t = dmax(dmax(C(0, j), C(1, jn)),
					dmax(pb[j], jn ? sf[j + 1] : 0));

			consider(&best, 1, j, t,
				 X(0, j) + X(1, jn) - X(0, 1) - X(j, jn), cur);
		}
		/* o[1] out (o[0] -> o[2]), in after o[p], p in 2..k-1 */
		rest = C(0, 2);
		for (size_t p = 2; p < k; p++) {
			size_t pn = (p + 1) % k;
			double t = dmax(dmax(rest, dmax(pf[p], sf[p + 1])),
					dmax(C(p, 1), C(1, pn)));

			consider(&best, 2, p, t,
				 X(0, 2) + X(p, 1) + X(1, pn) - X(0, 1) -
					 X(1, 2) - X(p, pn),
				 cur);
		}
		/* o[0] out (o[k-1] -> o[1]), in after o[p], p in 1..k-2:
		 * the other edges are fwd[1..k-1) but p; s2[j]: max
		 * fwd[j..k-1) */
		s2[k - 1] = s2[k] = 0;
		for (size_t j = k - 1; j-- > 0;)
			s2[j] = dmax(s2[j + 1], fwd[j]);
		rest = C(k - 1, 1);
		for (size_t p = 1; p + 1 < k; p++) {
			double before = p > 1 ? dmax(fwd[1], pf[p]) : 0;
			double t = dmax(dmax(rest, dmax(before, s2[p + 1])),
					dmax(C(p, 0), C(0, p + 1)));

			consider(&best, 3, p, t,
				 X(k - 1, 1) + X(p, 0) + X(0, p + 1) -
					 X(k - 1, 0) - X(0, 1) - X(p, p + 1),
				 cur);
		}
		if (!best.kind)
			break;
		if (best.kind == 1) {
			for (size_t a = 1, z = best.at; a < z; a++, z--) {
				uint32_t x = o[a];

				o[a] = o[z];
				o[z] = x;
				if (reg) {
					x = reg[a];
					reg[a] = reg[z];
					reg[z] = x;
				}
			}
		} else if (best.kind == 2) {
			move_after(o, 1, best.at);
			move_after(reg, 1, best.at);
		} else {
			move_after(o, 0, best.at);
			move_after(reg, 0, best.at);
		}
		moves++;
	}
#undef C
#undef X
out:
	free(fwd);
	free(bwd);
	free(sf);
	free(pb);
	free(pf);
	free(s2);
	free(tmp);
	return moves;
}

int ring_improve(const struct ring_link *m, size_t n, uint32_t *order,
		 uint32_t *region, size_t k, double bytes)
{
	struct dense d = {m, n};
	struct ring_view v = {dense_link, &d};

	return ring_view_improve(&v, order, region, k, bytes);
}
