/*
 * links.c - the node-to-node link matrix: every ordered pair's latency and
 * bandwidth, measured or estimated, and how old.
 *
 * A measured pair (a probe's result) is kept as measured with its time.
 * Any other pair is estimated, never left blank:
 *   latency    from the network coordinates (coords.c) fitted to every
 *              measured round trip, halved (one way);
 *   bandwidth  min(up of the sender, down of the receiver) (nothing when
 *              either is unknown), and no more
 *              than the best measured link between the two nodes'
 *              regions (whichever pair of them was probed), when there
 *              is one: kept per region pair as probes arrive, so a
 *              lookup does not scan the matrix.
 * An entry's age is that of the newest measurement it rests on.  Refits
 * of the coordinates are the caller's to time (links_refit): each is
 * O(rounds x measured pairs).
 */
#include "config.h"

#include <stdlib.h>

#include "mctld.h"
#include "util.h"

#define REFIT_ROUNDS 200

struct entry {
	double lat_s, bw_Bps;
	int64_t when; /* 0: never measured */
};

/* The best measured link from one region to another (what caps the
 * estimates between them), kept as probes arrive so that a lookup does
 * not scan the matrix. */
struct region_best {
	double bw_Bps; /* 0: none measured */
	int64_t when;
	size_t from, to; /* the pair it comes from */
};

struct links {
	size_t n;
	struct entry *e;   /* n x n, row = sender */
	double *up, *down; /* per node, bytes/s, 0 unknown */
	size_t *region;	   /* per node: its region's index */
	size_t nregions;
	struct region_best *best; /* nregions x nregions */
	struct coords *coords;
};

struct links *links_create(size_t n, const uint32_t *region)
{
	struct links *l = xcalloc(1, sizeof(*l));

	l->n = n;
	l->e = xcalloc(n ? n * n : 1, sizeof(*l->e));
	l->up = xcalloc(n ? n : 1, sizeof(*l->up));
	l->down = xcalloc(n ? n : 1, sizeof(*l->down));
	l->region = xcalloc(n ? n : 1, sizeof(*l->region));
	/* region numbers to indices 0..nregions-1, in order of appearance */
	for (size_t i = 0; i < n; i++) {
		size_t j = 0;

		while (j < i && region && region[j] != region[i])
			j++;
		l->region[i] = j < i ? l->region[j] : l->nregions++;
	}
	l->best = xcalloc(l->nregions ? l->nregions * l->nregions : 1,
			  sizeof(*l->best));
	l->coords = coords_create(n);
	return l;
}

void links_destroy(struct links *l)
{
	if (!l)
		return;
	coords_destroy(l->coords);
	free(l->e);
	free(l->up);
	free(l->down);
	free(l->region);
	free(l->best);
	free(l);
}

void links_set_rates(struct links *l, size_t i, double up_Bps, double down_Bps)
{
	if (i >= l->n)
		return;
	l->up[i] = up_Bps > 0 ? up_Bps : 0;
	l->down[i] = down_Bps > 0 ? down_Bps : 0;
}

/* The region pair of from -> to after that link was measured: a better
 * link is the new best; the best one measured lower means a rescan of
 * that region pair (rare: a link that got slower). */
static void best_update(struct links *l, size_t from, size_t to)
{
	size_t ra = l->region[from], rb = l->region[to];
	struct region_best *b = &l->best[ra * l->nregions + rb];
	const struct entry *e = &l->e[from * l->n + to];

	if (e->bw_Bps >= b->bw_Bps) {
		b->bw_Bps = e->bw_Bps;
		b->when = e->when;
		b->from = from;
		b->to = to;
		return;
	}
	if (b->from != from || b->to != to)
		return;
	b->bw_Bps = 0;
	b->when = 0;
	for (size_t i = 0; i < l->n; i++) {
		if (l->region[i] != ra)
			continue;
		for (size_t j = 0; j < l->n; j++) {
			const struct entry *c = &l->e[i * l->n + j];

			if (l->region[j] != rb || i == j || !c->when ||
			    c->bw_Bps <= b->bw_Bps)
				continue;
			b->bw_Bps = c->bw_Bps;
			b->when = c->when;
			b->from = i;
			b->to = j;
		}
	}
}

int links_measured(struct links *l, size_t from, size_t to, double lat_s,
		   double bw_Bps, int64_t when)
{
	struct entry *e;

	if (from >= l->n || to >= l->n || from == to || !(lat_s > 0) ||
	    !(bw_Bps > 0) || when <= 0)
		return -1;
	e = &l->e[from * l->n + to];
	e->lat_s = lat_s;
	e->bw_Bps = bw_Bps;
	e->when = when;
	coords_observe(l->coords, from, to, 2 * lat_s);
	best_update(l, from, to);
	return 0;
}

void links_refit(struct links *l)
{
	struct coords_sample *s = xcalloc(l->n * l->n + 1, sizeof(*s));
	size_t ns = 0;

	for (size_t i = 0; i < l->n; i++)
		for (size_t j = 0; j < l->n; j++)
			if (l->e[i * l->n + j].when) {
				s[ns].a = i;
				s[ns].b = j;
				s[ns].rtt_s = 2 * l->e[i * l->n + j].lat_s;
				ns++;
			}
	coords_destroy(l->coords);
	l->coords = coords_create(l->n);
	coords_fit(l->coords, s, ns, REFIT_ROUNDS);
	free(s);
}

int links_get(const struct links *l, size_t from, size_t to,
	      struct links_info *out)
{
	const struct entry *e;
	const struct region_best *rb;
	double bw = 0;

	if (from >= l->n || to >= l->n || from == to)
		return -1;
	e = &l->e[from * l->n + to];
	if (e->when) {
		out->lat_s = e->lat_s;
		out->bw_Bps = e->bw_Bps;
		out->measured = true;
		out->when = e->when;
		return 0;
	}
	out->measured = false;
	out->when = 0;
	out->lat_s = coords_estimate(l->coords, from, to) / 2;
	/* the slower end's rate; with one end's unknown nothing is known
	 * (it may be the slower one) */
	if (l->up[from] > 0 && l->down[to] > 0)
		bw = l->up[from] < l->down[to] ? l->up[from] : l->down[to];
	rb = &l->best[l->region[from] * l->nregions + l->region[to]];
	if (rb->bw_Bps > 0 && (bw == 0 || rb->bw_Bps < bw)) {
		bw = rb->bw_Bps;
		out->when = rb->when;
	}
	out->bw_Bps = bw;
	return 0;
}
