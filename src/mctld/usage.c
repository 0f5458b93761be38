/*
 * usage.c - what each user has used of the cluster, decayed: the input
 * of fair-share (priority.c).
 *
 * A job's usage is charged when it ends: its allocated CPUs, each GPU
 * counting as FairShareGpuWeight CPUs, times the seconds it ran.  Usage
 * decays with PriorityDecayHalfLife: u(t) = u(t0) * 2^-((t - t0) / half
 * life), applied when it is read or charged, so nothing ticks.  It is
 * the "usage" table (UsageRecord, key the uid as 4 bytes), this file's
 * commit source, and survives restarts.  Users are a sorted array:
 * lookups are O(log users).
 */
#include "config.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "mctld.h"
#include "util.h"

struct uentry {
	uint32_t uid;
	double usage; /* as of when */
	int64_t when;
	bool dirty;
};

struct usage {
	struct mctld *ctx;
	struct uentry *u;
	size_t n, cap;
	unsigned db;
};

static double decayed(const struct mctld *ctx, const struct uentry *e,
		      int64_t now)
{
	uint32_t half = ctx->conf->prio_decay_half_life;

	if (!half || now <= e->when)
		return e->usage;
	return e->usage * exp2(-(double)(now - e->when) / (half * 60.0));
}

static struct uentry *find(const struct usage *us, uint32_t uid, size_t *at)
{
	size_t lo = 0, hi = us->n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (us->u[mid].uid == uid)
			return &us->u[mid];
		if (us->u[mid].uid < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (at)
		*at = lo;
	return NULL;
}

static struct uentry *get(struct usage *us, uint32_t uid)
{
	size_t at = 0;
	struct uentry *e = find(us, uid, &at);

	if (e)
		return e;
	if (us->n == us->cap) {
		us->cap = us->cap ? 2 * us->cap : 16;
		us->u = xrealloc(us->u, us->cap * sizeof(*us->u));
	}
	memmove(&us->u[at + 1], &us->u[at], (us->n - at) * sizeof(*us->u));
	memset(&us->u[at], 0, sizeof(*us->u));
	us->u[at].uid = uid;
	us->n++;
	return &us->u[at];
}

static bool src_pending(void *arg)
{
	const struct usage *us = arg;

	for (size_t i = 0; i < us->n; i++)
		if (us->u[i].dirty)
			return true;
	return false;
}

static long src_collect(struct state *st, void *arg, struct mer_error *err)
{
	struct usage *us = arg;
	long nput = 0;

	for (size_t i = 0; i < us->n; i++) {
		Meridian__UsageRecord r = MERIDIAN__USAGE_RECORD__INIT;

		if (!us->u[i].dirty)
			continue;
		r.uid = us->u[i].uid;
		r.usage = us->u[i].usage;
		r.when = us->u[i].when;
		if (state_put_msg(st, us->db, &r.uid, sizeof(r.uid), &r.base,
				  err) < 0)
			return -1;
		nput++;
	}
	return nput;
}

static void src_done(void *arg, bool ok)
{
	struct usage *us = arg;

	/* a failed commit leaves them dirty: written with the next */
	if (ok)
		for (size_t i = 0; i < us->n; i++)
			us->u[i].dirty = false;
}

static const struct state_source usage_source = {
	"usage",
	src_pending,
	src_collect,
	src_done,
};

static int load_one(const void *k, size_t klen, const void *v, size_t vlen,
		    void *arg)
{
	struct usage *us = arg;
	Meridian__UsageRecord *r;
	struct uentry *e;

	(void)k;
	r = meridian__usage_record__unpack(NULL, vlen, v);
	if (!r || klen != sizeof(uint32_t) || !isfinite(r->usage) ||
	    r->usage < 0) {
		log_warnx("usage: a record that is not one (%zu bytes); "
			  "skipped",
			  vlen);
		if (r)
			meridian__usage_record__free_unpacked(r, NULL);
		return 0;
	}
	e = get(us, r->uid);
	e->usage = r->usage;
	e->when = r->when;
	meridian__usage_record__free_unpacked(r, NULL);
	return 0;
}

int usage_open(struct mctld *ctx, struct mer_error *err)
{
	struct usage *us = xcalloc(1, sizeof(*us));

	us->ctx = ctx;
	ctx->usage = us;
	if (state_db_open(ctx->state, "usage", &us->db, err) < 0 ||
	    state_each(ctx->state, us->db, load_one, us, err) < 0) {
		usage_close(ctx);
		return -1;
	}
	state_add_source(ctx->state, &usage_source, us);
	return 0;
}

void usage_close(struct mctld *ctx)
{
	struct usage *us = ctx->usage;

	if (!us)
		return;
	free(us->u);
	free(us);
	ctx->usage = NULL;
}

void usage_charge(struct mctld *ctx, uint32_t uid, double amount, int64_t now)
{
	struct usage *us = ctx->usage;
	struct uentry *e;

	if (!us || !(amount > 0) || !isfinite(amount))
		return;
	e = get(us, uid);
	e->usage = decayed(ctx, e, now) + amount;
	e->when = now;
	e->dirty = true;
}

double usage_of(const struct mctld *ctx, uint32_t uid, int64_t now)
{
	const struct usage *us = ctx->usage;
	const struct uentry *e = us ? find(us, uid, NULL) : NULL;

	return e ? decayed(ctx, e, now) : 0;
}

size_t usage_users(const struct mctld *ctx, uint32_t *uids, double *usage,
		   size_t max, int64_t now)
{
	const struct usage *us = ctx->usage;
	size_t n = 0;

	for (size_t i = 0; us && i < us->n && n < max; i++) {
		uids[n] = us->u[i].uid;
		usage[n] = decayed(ctx, &us->u[i], now);
		n++;
	}
	return n;
}

size_t usage_count(const struct mctld *ctx)
{
	return ctx->usage ? ctx->usage->n : 0;
}
