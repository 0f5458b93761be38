/*
 * gpuset.c - a job's GPUs on one node and their order; the rule is in
 * gpuset.h.
 */
#include "config.h"

#include <string.h>

#include "fit.h"
#include "gpuset.h"

#define MAXG MER_SELECT_MAX_GPUS

struct gs {
	uint32_t bw[MAXG][MAXG]; /* edge speeds, MB/s */
	uint8_t f[MAXG];	 /* the free GPUs, ascending */
	uint32_t nf, want;
	/* the best so far */
	uint32_t best_min;
	uint64_t best_sum;
	uint8_t best[MAXG];
	bool have;
	/* the search's current set and ring */
	uint8_t set[MAXG], cur[MAXG];
	bool used[MAXG];
};

static uint32_t link_mbs(const struct mer_gpu_peer *p)
{
	switch (p->link) {
	case MER_GPU_LINK_NVLINK:
		return p->bandwidth_mbs ? p->bandwidth_mbs : GPUSET_NVLINK_MBS;
	case MER_GPU_LINK_PCI:
		return GPUSET_PCI_MBS;
	case MER_GPU_LINK_SMP:
		return GPUSET_SMP_MBS;
	default:
		return GPUSET_UNKNOWN_MBS;
	}
}

static uint32_t one_way(const struct mer_select_node *n, uint32_t a, uint32_t b)
{
	const struct mer_select_gpu *g;

	if (a >= n->n_gpu)
		return 0;
	g = &n->gpu[a];
	for (size_t k = 0; k < g->npeers; k++)
		if (g->peers[k].gpu == b)
			return link_mbs(&g->peers[k]);
	return 0;
}

uint32_t gpuset_edge_mbs(const struct mer_select_node *n, uint32_t a,
			 uint32_t b)
{
	uint32_t x = one_way(n, a, b), y = one_way(n, b, a), v = x > y ? x : y;

	return v ? v : GPUSET_UNKNOWN_MBS;
}

static bool any_links(const struct mer_select_node *n)
{
	for (size_t i = 0; i < n->n_gpu; i++)
		if (n->gpu[i].npeers)
			return true;
	return false;
}

/* The lowest want GPUs of mask, 0 when it has fewer. */
static uint64_t lowest(uint64_t mask, uint32_t want)
{
	uint64_t m = 0;

	for (uint32_t bit = 0; bit < 64 && want; bit++)
		if (mask & (1ull << bit)) {
			m |= 1ull << bit;
			want--;
		}
	return want ? 0 : m;
}

/* Without links: one NUMA node's lowest free GPUs, else the lowest. */
static uint64_t by_numa(const struct mer_select_node *n, uint64_t free_mask,
			uint32_t want)
{
	uint64_t m;

	for (size_t i = 0; i < n->n_gpu && i < MAXG; i++) {
		int32_t numa = n->gpu[i].numa_node;
		uint64_t same = 0;

		if (numa < 0 || !(free_mask & (1ull << i)))
			continue;
		for (size_t j = 0; j < n->n_gpu && j < MAXG; j++)
			if (n->gpu[j].numa_node == numa)
				same |= 1ull << j;
		if ((m = lowest(free_mask & same, want)))
			return m;
	}
	return lowest(free_mask, want);
}

/* Keep ring r (want GPU indexes) if it beats the best. */
static void offer(struct gs *s, const uint8_t *r, uint32_t min, uint64_t sum)
{
	if (s->have &&
	    (min < s->best_min || (min == s->best_min && sum <= s->best_sum)))
		return;
	s->have = true;
	s->best_min = min;
	s->best_sum = sum;
	memcpy(s->best, r, s->want);
}

/* Every ring over s->set with its first GPU fixed: cur[0..depth-1]
 * placed, min and sum over their edges so far.  A ring whose slowest
 * edge is already slower than the best's cannot win. */
static void rings(struct gs *s, uint32_t depth, uint32_t min, uint64_t sum)
{
	if (s->have && min < s->best_min)
		return;
	if (depth == s->want) {
		uint32_t e = s->bw[s->cur[depth - 1]][s->cur[0]];

		if (s->want > 2) {
			offer(s, s->cur, e < min ? e : min, sum + e);
		} else {
			/* two GPUs: one link, both ways */
			offer(s, s->cur, e, 2ull * e);
		}
		return;
	}
	for (uint32_t k = 1; k < s->want; k++) {
		uint8_t g = s->set[k];
		uint32_t e;

		if (s->used[k])
			continue;
		/* a ring and its mirror are one: the second GPU placed is
		 * below the last */
		if (depth == s->want - 1 && s->want > 2 && s->cur[1] > g)
			continue;
		e = s->bw[s->cur[depth - 1]][g];
		s->used[k] = true;
		s->cur[depth] = g;
		rings(s, depth + 1, e < min ? e : min, sum + e);
		s->used[k] = false;
	}
}

/* Every want-subset of the free GPUs, in lexicographic order. */
static void subsets(struct gs *s, uint32_t from, uint32_t depth)
{
	if (depth == s->want) {
		memset(s->used, 0, sizeof(s->used));
		s->cur[0] = s->set[0];
		s->used[0] = true;
		rings(s, 1, UINT32_MAX, 0);
		return;
	}
	for (uint32_t i = from; i + (s->want - depth) <= s->nf; i++) {
		s->set[depth] = s->f[i];
		subsets(s, i + 1, depth + 1);
	}
}

/* C(nf, want) * (want-1)!/2, saturated past GPUSET_EXACT_MAX. */
static bool small_enough(uint32_t nf, uint32_t want)
{
	double c = 1;

	for (uint32_t i = 0; i < want; i++)
		c = c * (nf - i) / (i + 1);
	for (uint32_t i = 3; i < want; i++)
		c *= i;
	return c <= GPUSET_EXACT_MAX;
}

/* From each free GPU, the fastest next edge each time. */
static void greedy(struct gs *s)
{
	uint8_t r[MAXG];
	bool in[MAXG];

	for (uint32_t st = 0; st < s->nf; st++) {
		uint32_t min = UINT32_MAX;
		uint64_t sum = 0;

		memset(in, 0, sizeof(in));
		r[0] = s->f[st];
		in[st] = true;
		for (uint32_t d = 1; d < s->want; d++) {
			uint32_t bi = UINT32_MAX, bb = 0;

			for (uint32_t i = 0; i < s->nf; i++)
				if (!in[i] && (bi == UINT32_MAX ||
					       s->bw[r[d - 1]][s->f[i]] > bb)) {
					bi = i;
					bb = s->bw[r[d - 1]][s->f[i]];
				}
			in[bi] = true;
			r[d] = s->f[bi];
			min = bb < min ? bb : min;
			sum += bb;
		}
		{
			uint32_t e = s->bw[r[s->want - 1]][r[0]];

			offer(s, r, e < min ? e : min, sum + e);
		}
	}
}

bool gpuset_choose(const struct mer_select_node *n, uint32_t want,
		   uint64_t *mask, uint8_t *order)
{
	uint64_t free_mask = n->gpu_free_mask & fit_all_gpus(n->gpus);
	struct gs s; /* 17 KiB */

	*mask = 0;
	if (!want)
		return true;
	if ((uint32_t)__builtin_popcountll(free_mask) < want)
		return false;
	if (want == 1 || !any_links(n)) {
		*mask = by_numa(n, free_mask, want);
		return *mask != 0;
	}
	memset(&s, 0, sizeof(s));
	s.want = want;
	for (uint32_t g = 0; g < MAXG; g++)
		if (free_mask & (1ull << g))
			s.f[s.nf++] = (uint8_t)g;
	for (uint32_t a = 0; a < s.nf; a++)
		for (uint32_t b = 0; b < s.nf; b++)
			if (a != b)
				s.bw[s.f[a]][s.f[b]] =
					gpuset_edge_mbs(n, s.f[a], s.f[b]);
	if (small_enough(s.nf, want))
		subsets(&s, 0, 0);
	else
		greedy(&s);
	for (uint32_t k = 0; k < want; k++)
		*mask |= 1ull << s.best[k];
	if (order)
		memcpy(order, s.best, want);
	return true;
}
