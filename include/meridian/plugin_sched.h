/*
 * plugin_sched.h - in what order jobs start (SchedulerType=).
 *
 * The core hands the plugin its pending jobs; the plugin orders them and
 * asks the core to start each in turn through api->try_start, which calls
 * the select plugin and commits the allocation when it fits.  A job the
 * plugin decides not to try gets a reason through api->set_reason.
 */
#ifndef MERIDIAN_PLUGIN_SCHED_H
#define MERIDIAN_PLUGIN_SCHED_H

#include <time.h>
#include <meridian/plugin.h>

#define MER_SCHED_ABI 1

struct mer_sched_job {
	uint32_t job_id;
	uint32_t user_id;
	const char *partition;
	uint32_t priority;
	time_t submit_time;
	uint32_t time_limit; /* minutes */
	uint32_t num_nodes;
	uint32_t gpus;
};

struct mer_sched_api {
	/* 0: started; -1: could not start now, err->text holds the reason
	 * word ("Resources", "PartitionDown", ...), already recorded. */
	int (*try_start)(void *core, const struct mer_sched_job *job,
			 struct mer_error *err);
	/* Record why a job waits without trying it ("Priority"). */
	void (*set_reason)(void *core, uint32_t job_id, const char *reason);
	void *core;
};

struct mer_sched_ops {
	struct mer_plugin_header hdr;
	void *(*init)(const struct mer_plugin_conf *conf, struct mer_error *err);
	void (*fini)(void *state);
	/* jobs holds the pending, eligible (not held) jobs in submit order.
	 * The array may be reordered by the plugin. */
	void (*schedule)(void *state, struct mer_sched_job *jobs, size_t njobs,
			 const struct mer_sched_api *api);
};

#endif
