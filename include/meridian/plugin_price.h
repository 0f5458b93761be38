/*
 * plugin_price.h - what a GPU-hour costs (PriceType=).  ABI 2.
 *
 * Money is integer micro-dollars (1 USD = 1000000).  The core hands the
 * plugin a node, the market (cluster-wide supply and demand) and the
 * request being priced.  A field the core cannot know yet is 0 or "" and
 * means "unknown": a plugin must price without it.
 */
#ifndef MERIDIAN_PLUGIN_PRICE_H
#define MERIDIAN_PLUGIN_PRICE_H

#include <stdbool.h>
#include <time.h>
#include <meridian/plugin.h>

#define MER_PRICE_ABI 2

/* A node as the price plugin sees it; valid for the duration of one call. */
struct mer_price_node {
	const char *name;
	const char *region;
	const char *gpu_model; /* lower case, "" when the node has no GPU */
	uint32_t gpus;
	uint32_t gpus_alloc;
	/* v2 */
	bool has_utc_offset;	/* its region is a RegionName= (UtcOffset=,
				 * default +00:00); false: no region */
	int32_t utc_offset_min; /* of its region (the hour of day there) */
	const char
		*provider; /* who is paid for it; "" unknown (no field yet) */
	uint32_t bench_score; /* measured benchmark, 0 unknown (no probe yet) */
	uint32_t bandwidth_tier; /* 1 best ... 0 unknown (no probe yet) */
};

/* Supply and demand over the whole cluster, counted in GPUs. */
struct mer_price_market {
	uint32_t gpus_total;   /* on usable nodes (up, not drained) */
	uint32_t gpus_alloc;   /* allocated to running jobs */
	uint32_t gpus_pending; /* asked by pending, not held jobs */
};

enum mer_price_commitment {
	MER_PRICE_ON_DEMAND = 0, /* no commitment (or unknown) */
	MER_PRICE_COMMITTED = 1, /* reserved time, paid for whether used */
};

/* What is being priced: 0 fields are unknown (a node's list price). */
struct mer_price_request {
	uint32_t duration_s; /* how long, 0 unknown */
	uint32_t commitment; /* enum mer_price_commitment */
	uint32_t gpus;	     /* how many GPUs, 0 unknown */
};

struct mer_price_query {
	const struct mer_price_node *node;
	const struct mer_price_market *market;
	const struct mer_price_request *request;
	time_t now;
};

struct mer_price_ops {
	struct mer_plugin_header hdr;
	const struct mer_plugin_key *keys; /* the keys it owns, or NULL */
	void *(*init)(const struct mer_plugin_conf *conf,
		      struct mer_error *err);
	void (*fini)(void *state);
	/* Price in micro-dollars of one GPU-hour of q->node at q->now;
	 * -1 with err filled when the node cannot be priced. */
	int64_t (*gpu_hour)(void *state, const struct mer_price_query *q,
			    struct mer_error *err);
};

#endif
