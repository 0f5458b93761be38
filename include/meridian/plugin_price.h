/*
 * plugin_price.h - what a GPU-hour costs (PriceType=).
 *
 * Money is integer micro-dollars (1 USD = 1000000).
 */
#ifndef MERIDIAN_PLUGIN_PRICE_H
#define MERIDIAN_PLUGIN_PRICE_H

#include <time.h>
#include <meridian/plugin.h>

#define MER_PRICE_ABI 1

/* A node as the price plugin sees it; valid for the duration of one call. */
struct mer_price_node {
	const char *name;
	const char *region;
	const char *gpu_model; /* lower case, "" when the node has no GPU */
	uint32_t gpus;
	uint32_t gpus_alloc;
};

struct mer_price_ops {
	struct mer_plugin_header hdr;
	void *(*init)(const struct mer_plugin_conf *conf, struct mer_error *err);
	void (*fini)(void *state);
	/* Price in micro-dollars of one GPU-hour on node at time now;
	 * -1 with err filled when the node cannot be priced. */
	int64_t (*gpu_hour)(void *state, const struct mer_price_node *node,
			    time_t now, struct mer_error *err);
};

#endif
