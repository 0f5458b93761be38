/*
 * coords.c - network coordinates: the latency of a pair never probed,
 * estimated from the pairs that were (Vivaldi, Dabek et al., SIGCOMM 2004).
 *
 * Probing every pair of n nodes costs O(n^2); mctld probes at most
 * ProbePeers pairs per node (probe_graph.c) and estimates the rest.  Each
 * node gets a point in a plane plus a height (its access link: the delay
 * every path to or from it pays, a home uplink's), so that the distance
 *
 *     |x_i - x_j| + h_i + h_j
 *
 * approximates the round trip between i and j.  A measured pair pulls the
 * two points towards its measured distance, weighted by how sure each
 * point already is (its error); run over all samples a few hundred times
 * the coordinates settle.  The paper reports about 11% median error on
 * real Internet latencies; test_coords checks the same order on a
 * synthetic world of regions.
 *
 * Deterministic (no random numbers: a pair at the same place is pushed
 * apart along a fixed direction), and plain arithmetic over the arrays it
 * owns.
 */
#include "config.h"

#include <math.h>
#include <stdlib.h>

#include "mctld.h"
#include "util.h"

/* Vivaldi's constants: how fast errors and positions move. */
#define CE	    0.25
#define CC	    0.25
#define HEIGHT_MIN  1e-6 /* seconds: a height never reaches 0 */
#define ERROR_START 1.0	 /* a new node knows nothing */
#define ERROR_FLOOR 0.01

struct coord {
	double x, y, h;
	double err;
};

struct coords {
	struct coord *c;
	size_t n;
};

struct coords *coords_create(size_t n)
{
	struct coords *cs = xcalloc(1, sizeof(*cs));

	cs->n = n;
	cs->c = xcalloc(n ? n : 1, sizeof(*cs->c));
	for (size_t i = 0; i < n; i++) {
		cs->c[i].h = HEIGHT_MIN;
		cs->c[i].err = ERROR_START;
	}
	return cs;
}

void coords_destroy(struct coords *cs)
{
	if (!cs)
		return;
	free(cs->c);
	free(cs);
}

double coords_estimate(const struct coords *cs, size_t i, size_t j)
{
	const struct coord *a = &cs->c[i], *b = &cs->c[j];

	if (i == j)
		return 0;
	return hypot(a->x - b->x, a->y - b->y) + a->h + b->h;
}

double coords_error(const struct coords *cs, size_t i)
{
	return cs->c[i].err;
}

/* One Vivaldi step of node i against j's coordinate and the measured rtt. */
static void step(struct coords *cs, size_t i, size_t j, double rtt)
{
	struct coord *a = &cs->c[i];
	const struct coord *b = &cs->c[j];
	double dx = a->x - b->x, dy = a->y - b->y;
	double plane = hypot(dx, dy);
	double dist = plane + a->h + b->h;
	double w = a->err / (a->err + b->err);
	double es = fabs(dist - rtt) / rtt;
	double delta = CC * w * (rtt - dist); /* > 0: push apart */
	double ux, uy;

	a->err = es * CE * w + a->err * (1 - CE * w);
	if (a->err < ERROR_FLOOR)
		a->err = ERROR_FLOOR;
	if (plane > 0) {
		ux = dx / plane;
		uy = dy / plane;
	} else {
		/* the same place: apart along a direction fixed by the pair */
		double ang = (double)((i * 7919 + j * 104729) % 6283) / 1000.0;

		ux = cos(ang);
		uy = sin(ang);
	}
	/* the move splits between the plane and the height */
	a->x += delta * ux;
	a->y += delta * uy;
	a->h += delta * (dist > 0 ? a->h / dist : 0.5);
	if (a->h < HEIGHT_MIN)
		a->h = HEIGHT_MIN;
}

void coords_observe(struct coords *cs, size_t i, size_t j, double rtt_s)
{
	if (i == j || i >= cs->n || j >= cs->n || !(rtt_s > 0))
		return;
	step(cs, i, j, rtt_s);
	step(cs, j, i, rtt_s);
}

void coords_fit(struct coords *cs, const struct coords_sample *s, size_t ns,
		unsigned rounds)
{
	for (unsigned r = 0; r < rounds; r++)
		for (size_t k = 0; k < ns; k++)
			coords_observe(cs, s[k].a, s[k].b, s[k].rtt_s);
}
