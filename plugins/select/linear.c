/*
 * select/linear - consumable resources, first fit in node order.
 *
 * Walks the nodes in the order given (the config's) and takes the first
 * job->num_nodes nodes that each have the job's CPUs, memory and GPUs (of
 * its type, when it names one) free, and whose GPU-hour is within the job's
 * max price when it asks for GPUs.  On each node it takes the
 * lowest-indexed free GPUs.
 *
 * When the job does not fit now the reason says whether waiting helps:
 * "Resources" when enough of the given (usable) nodes could hold it once
 * their jobs end, "MaxPrice" when only the price keeps it off them,
 * "ReqNodeNotAvail" when not enough usable nodes could hold it at all.
 * Rank order is node order; topology, regions and links are not looked at.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <meridian/plugin_select.h>

#include "fit.h"

static void *linear_init(const struct mer_plugin_conf *conf,
			 struct mer_error *err)
{
	static int state; /* no state: any non-NULL pointer will do */

	(void)conf;
	(void)err;
	return &state;
}

static void linear_fini(void *state)
{
	(void)state;
}

/* The lowest job->gpus_per_node free GPUs of n, or 0 bits when too few. */
static uint64_t take_gpus(const struct mer_select_job *job,
			  const struct mer_select_node *n, bool *ok)
{
	uint64_t free_mask = n->gpu_free_mask & fit_all_gpus(n->gpus), m = 0;
	uint32_t want = job->gpus_per_node, bit;

	for (bit = 0; bit < 64 && want; bit++) {
		if (free_mask & (1ull << bit)) {
			m |= 1ull << bit;
			want--;
		}
	}
	*ok = want == 0;
	return m;
}

static int linear_select(void *state, const struct mer_select_request *req,
			 struct mer_select_result *res, struct mer_error *err)
{
	const struct mer_select_job *job = req->job;
	const struct mer_select_node *nodes = req->nodes;
	size_t nnodes = req->nnodes, i;
	uint32_t picked = 0, could = 0, could_priced = 0;

	(void)state;
	res->nnodes = 0;
	res->predicted_step_us = 0; /* no prediction: ranks in node order */
	if (job->num_nodes == 0) {
		snprintf(err->text, sizeof(err->text), "BadConstraints");
		return -1;
	}
	for (i = 0; i < nnodes; i++) {
		const struct mer_select_node *n = &nodes[i];
		uint64_t mask;
		bool gpus_ok;

		if (!fit_empty(job, n))
			continue;
		could++;
		if (!fit_price_ok(job, n))
			continue;
		could_priced++;
		if (n->cpus_free < job->cpus_per_node ||
		    (job->mem_mb_per_node &&
		     n->mem_free_mb < job->mem_mb_per_node))
			continue;
		mask = take_gpus(job, n, &gpus_ok);
		if (!gpus_ok)
			continue;
		res->node_index[picked] = (uint32_t)i;
		res->gpu_mask[picked] = mask;
		if (++picked == job->num_nodes) {
			res->nnodes = picked;
			return 0;
		}
	}
	if (could < job->num_nodes)
		snprintf(err->text, sizeof(err->text), "ReqNodeNotAvail");
	else if (could_priced < job->num_nodes)
		snprintf(err->text, sizeof(err->text), "MaxPrice");
	else
		snprintf(err->text, sizeof(err->text), "Resources");
	return -1;
}

const struct mer_select_ops meridian_plugin = {
	.hdr = {MER_PLUGIN_SELECT, MER_SELECT_ABI, "select/linear"},
	.keys = NULL,
	.init = linear_init,
	.fini = linear_fini,
	.select = linear_select,
};
