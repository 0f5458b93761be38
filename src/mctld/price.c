/*
 * price.c - the price plugin driver (PriceType=).
 *
 * The plugin sees a node only through struct mer_price_node, with the
 * market (GPUs in use and asked for, cluster-wide) and the request; what
 * it says a GPU-hour costs is shown in NodeInfo and compared with a job's
 * --max-price during placement.  What the core does not know yet (a
 * node's provider, benchmark score and bandwidth tier, the request's
 * duration and commitment) is passed as 0 or "": unknown.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "mctld.h"
#include "plugin_loader.h"
#include "util.h"

struct price {
	struct plugin_handle *handle;
	const struct mer_price_ops *ops;
	void *state;
	struct mer_plugin_conf pconf;
	int64_t last_warn;
	/* the market, counted at most once a second (NodeInfo prices every
	 * node: counting per node would be quadratic) */
	struct mer_price_market market;
	int64_t market_time;
};

struct price *price_create(struct mctld *ctx, struct mer_error *err)
{
	const struct conf *c = ctx->conf;
	struct price *p = xcalloc(1, sizeof(*p));
	const void *ops;

	p->handle = plugin_load(
		c->plugin_dir && *c->plugin_dir ? c->plugin_dir
						: plugin_default_dir(),
		"PriceType",
		c->price_type && *c->price_type ? c->price_type : "price/flat",
		MER_PLUGIN_PRICE, MER_PRICE_ABI, &ops, err);
	if (!p->handle) {
		free(p);
		return NULL;
	}
	p->ops = ops;
	p->pconf.get = conf_get;
	p->pconf.conf = ctx->conf;
	/* Its keys' values first, so a bad one is PATH:LINE: ... */
	if (conf_check_key_values(c, &p->ops->keys, 1, err) < 0) {
		plugin_unload(p->handle);
		free(p);
		return NULL;
	}
	p->state = p->ops->init(&p->pconf, err);
	if (!p->state) {
		plugin_unload(p->handle);
		free(p);
		if (!errno)
			errno = EINVAL;
		return NULL;
	}
	return p;
}

void price_destroy(struct price *p)
{
	if (!p)
		return;
	if (p->ops && p->ops->fini)
		p->ops->fini(p->state);
	plugin_unload(p->handle);
	free(p);
}

const struct mer_plugin_key *price_conf_keys(const struct mctld *ctx)
{
	return ctx->price ? ctx->price->ops->keys : NULL;
}

static const struct mer_price_market *market(struct mctld *ctx, struct price *p,
					     int64_t now)
{
	struct mer_price_market *m = &p->market;
	struct job *j;

	if (p->market_time == now && now)
		return m;
	memset(m, 0, sizeof(*m));
	for (size_t i = 0; i < node_mgr_count(ctx); i++) {
		const struct node *n = node_at(ctx, i);

		if (node_usable(n))
			m->gpus_total += n->gpus;
		m->gpus_alloc +=
			(uint32_t)__builtin_popcountll(n->gpu_alloc_mask);
	}
	TAILQ_FOREACH(j, job_mgr_pending(ctx), state_entry)
		if (j->rec->desc->hold == MERIDIAN__HOLD_KIND__HOLD_NONE)
			m->gpus_pending += j->gpus_per_node * j->rec->num_nodes;
	p->market_time = now;
	return m;
}

int64_t price_gpu_hour(struct mctld *ctx, struct node *n, int64_t now)
{
	struct price *p = ctx->price;
	struct mer_price_node v;
	struct mer_price_request req;
	struct mer_price_query q;
	struct mer_error err = {""};
	const struct conf_region *r;
	int64_t price;

	if (!p)
		return 0;
	memset(&v, 0, sizeof(v));
	v.name = n->name;
	v.region = n->cn->region ? n->cn->region : "";
	v.gpu_model = n->gpu_model ? n->gpu_model : "";
	v.gpus = n->gpus;
	v.gpus_alloc = (uint32_t)__builtin_popcountll(n->gpu_alloc_mask);
	r = conf_find_region(ctx->conf, n->cn->region);
	v.has_utc_offset = r != NULL;
	v.utc_offset_min = r ? r->utc_offset_min : 0;
	v.provider = ""; /* no such field yet */
	/* bench_score, bandwidth_tier: no probes yet, 0 */
	memset(&req, 0, sizeof(req)); /* a node's list price: no request */
	q.node = &v;
	q.market = market(ctx, p, now);
	q.request = &req;
	q.now = (time_t)now;
	price = p->ops->gpu_hour(p->state, &q, &err);
	if (price < 0) {
		if (now != p->last_warn)
			log_warnx("%s: cannot price node %s: %s",
				  p->ops->hdr.name, n->name, err.text);
		p->last_warn = now;
		return -1;
	}
	return price;
}

int64_t price_gpu_hour_cached(struct mctld *ctx, struct node *n, uint64_t gen,
			      int64_t now)
{
	if (n->price_gen != gen) {
		n->price = price_gpu_hour(ctx, n, now);
		n->price_gen = gen;
	}
	return n->price;
}
