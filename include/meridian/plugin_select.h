/*
 * plugin_select.h - where a job runs (SelectType=).
 *
 * The core hands the plugin the nodes that may run the job (up, not
 * drained, in the job's partition) with what is still free on each, and the
 * job's per-node needs.  The plugin picks nodes and GPUs; the core commits
 * the choice.  Views are valid for the duration of one call.
 */
#ifndef MERIDIAN_PLUGIN_SELECT_H
#define MERIDIAN_PLUGIN_SELECT_H

#include <meridian/plugin.h>

#define MER_SELECT_ABI 1
#define MER_SELECT_MAX_GPUS 64

struct mer_select_node {
	const char *name;
	const char *region;
	const char *gpu_model;  /* "" when none */
	uint32_t cpus, cpus_free;
	uint64_t mem_mb, mem_free_mb;
	uint32_t gpus;          /* GPUs on the node, at most MER_SELECT_MAX_GPUS */
	uint64_t gpu_free_mask; /* bit i set: GPU index i is free */
	int64_t gpu_hour_price; /* micro-dollars, from the price plugin */
};

struct mer_select_job {
	uint32_t job_id;
	uint32_t num_nodes;     /* exactly this many nodes */
	uint32_t tasks_per_node;
	uint32_t cpus_per_node;
	uint64_t mem_mb_per_node; /* 0: memory not requested */
	uint32_t gpus_per_node;
	const char *gpu_type;   /* "" any model */
	int64_t max_price;      /* micro-dollars per GPU-hour, 0 no limit */
};

/* The plugin's answer: node_index[i] indexes the nodes array passed in,
 * gpu_mask[i] are the GPUs taken there (popcount == gpus_per_node). */
struct mer_select_result {
	uint32_t nnodes;
	uint32_t *node_index;   /* caller allocates job->num_nodes entries */
	uint64_t *gpu_mask;     /* caller allocates job->num_nodes entries */
};

struct mer_select_ops {
	struct mer_plugin_header hdr;
	void *(*init)(const struct mer_plugin_conf *conf, struct mer_error *err);
	void (*fini)(void *state);
	/* 0 and res filled when the job fits now; -1 with err naming the
	 * reason (a short word such as "Resources") when it does not. */
	int (*select)(void *state, const struct mer_select_job *job,
		      const struct mer_select_node *nodes, size_t nnodes,
		      struct mer_select_result *res, struct mer_error *err);
};

#endif
