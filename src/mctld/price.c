/*
 * price.c - the price plugin driver (PriceType=).
 *
 * The plugin sees a node only through struct mer_price_node; what it says
 * a GPU-hour costs is shown in NodeInfo and compared with a job's
 * --max-price during placement.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>

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

int64_t price_gpu_hour(struct mctld *ctx, struct node *n, int64_t now)
{
	struct price *p = ctx->price;
	struct mer_price_node v;
	struct mer_error err = {""};
	int64_t price;

	if (!p)
		return 0;
	v.name = n->name;
	v.region = n->cn->region ? n->cn->region : "";
	v.gpu_model = n->gpu_model ? n->gpu_model : "";
	v.gpus = n->gpus;
	v.gpus_alloc = (uint32_t)__builtin_popcountll(n->gpu_alloc_mask);
	price = p->ops->gpu_hour(p->state, &v, (time_t)now, &err);
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
