/*
 * fit.h - what every select plugin asks of a node before choosing:
 * could it hold the job at all, is it within the job's price.  Static
 * inline: plugins link nothing but themselves.
 */
#ifndef MER_SELECT_FIT_H
#define MER_SELECT_FIT_H

#include <stdbool.h>
#include <stdint.h>
#include <strings.h>

#include <meridian/plugin_select.h>

/* The mask of a node's n GPUs. */
static inline uint64_t fit_all_gpus(uint32_t n)
{
	return n >= 64 ? ~0ull : (1ull << n) - 1;
}

/* The node's GPUs are the job's model (or it names none). */
static inline bool fit_model_ok(const struct mer_select_job *job,
				const struct mer_select_node *n)
{
	if (!job->gpus_per_node || !job->gpu_type || !*job->gpu_type)
		return true;
	return n->gpu_model && strcasecmp(n->gpu_model, job->gpu_type) == 0;
}

/* Could n hold the job if nothing else ran there? */
static inline bool fit_empty(const struct mer_select_job *job,
			     const struct mer_select_node *n)
{
	uint32_t gpus = n->gpus > 64 ? 64 : n->gpus;

	return n->cpus >= job->cpus_per_node &&
	       (!job->mem_mb_per_node || n->mem_mb >= job->mem_mb_per_node) &&
	       gpus >= job->gpus_per_node && fit_model_ok(job, n);
}

/* A job that takes no GPU pays for no GPU-hour. */
static inline bool fit_price_ok(const struct mer_select_job *job,
				const struct mer_select_node *n)
{
	return !job->max_price || !job->gpus_per_node ||
	       n->gpu_hour_price <= job->max_price;
}

#endif
