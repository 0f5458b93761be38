/*
 * plugin_sched.h - in what order and at what time jobs start
 * (SchedulerType=).  ABI 2.
 *
 * Once per scheduling pass the core hands the plugin its pending jobs and
 * an api: a view of the cluster (nodes, running jobs with their allocations
 * and expected ends, `now`), try_start (start a job now: the core asks the
 * select plugin and commits the placement it picks), trial (when and where
 * could a job start: the core simulates the running jobs ending at their
 * expected ends and asks the select plugin at each of those times),
 * reserve (hold nodes from a time on for a job, so that try_start and trial
 * of other jobs do not delay it: backfill), set_reason, and wake_at (ask
 * for a pass at a later time).
 *
 * Everything the api returns or points at lives until schedule() returns;
 * reservations and wake_at requests, too, are for this pass only: the
 * plugin makes them again in its next pass (as Slurm's backfill does).
 */
#ifndef MERIDIAN_PLUGIN_SCHED_H
#define MERIDIAN_PLUGIN_SCHED_H

#include <stdbool.h>
#include <time.h>
#include <meridian/plugin.h>

#define MER_SCHED_ABI 2

/* A pending job, as the plugin orders it. */
struct mer_sched_job {
	uint32_t job_id;
	uint32_t user_id;
	const char *partition;
	uint32_t priority;
	time_t submit_time;
	uint32_t time_limit; /* minutes, 0 none (runs until it ends) */
	uint32_t num_nodes;
	uint32_t gpus; /* in all: gpus_per_node * num_nodes */
	/* v2 */
	uint32_t ntasks;
	uint32_t cpus_per_node;
	uint64_t mem_mb_per_node; /* 0: memory not requested */
	uint32_t gpus_per_node;
	int64_t max_price; /* micro-dollars per GPU-hour, 0 no limit */
	/* its partition's PriorityTier=: a higher tier's jobs go first,
	 * whatever their priority */
	uint32_t priority_tier;
};

/* A node as the scheduler sees it: every node of meridian.conf, in its
 * order (view->nodes[i] is node i everywhere in this api). */
struct mer_sched_node {
	const char *name;
	const char *region;    /* "" none */
	const char *gpu_model; /* "" none */
	uint32_t cpus, cpus_free;
	uint64_t mem_mb, mem_free_mb;
	uint32_t gpus, gpus_free;
	uint64_t gpu_free_mask; /* bit i: GPU i is free now */
	bool usable;		/* up, not drained: may take a new job */
};

/* One node of a running job's allocation. */
struct mer_sched_alloc {
	uint32_t node; /* index in view->nodes */
	uint32_t cpus;
	uint64_t mem_mb;
	uint64_t gpu_mask;
};

struct mer_sched_running {
	uint32_t job_id;
	uint32_t user_id;
	const char *partition;
	uint32_t priority;
	int64_t start_time;
	/* start_time + time limit, never before now + 1 (a job past its limit
	 * is being killed); MER_TIME_NEVER when it has no limit. */
	int64_t expected_end;
	const struct mer_sched_alloc *alloc;
	size_t nalloc;
};

/*
 * The cluster during one pass.  The core keeps it current in place: a job
 * that try_start starts is appended to running[] (so nrunning grows) and
 * its node's free counts shrink; the arrays never move during a pass.
 */
struct mer_sched_view {
	int64_t now;
	const struct mer_sched_node *nodes;
	size_t nnodes;
	const struct mer_sched_running *running; /* in no particular order */
	size_t nrunning;
};

/*
 * Where and when a job could start (trial), or what to reserve (reserve).
 * The caller allocates node_index and gpu_mask with job->num_nodes
 * entries; node_index[k] indexes view->nodes, in rank order.
 */
struct mer_sched_trial {
	int64_t start; /* >= view->now; MER_TIME_NEVER: never (reason in err) */
	uint32_t nnodes;
	uint32_t *node_index;
	uint64_t *gpu_mask;
};

struct mer_sched_api {
	/* 0: started; -1: could not start now, err->text holds the reason
	 * word ("Resources", "PartitionDown", ...), already recorded.  A job
	 * is never placed so that it would delay another job's reservation. */
	int (*try_start)(void *core, const struct mer_sched_job *job,
			 struct mer_error *err);
	/* Record why a job waits without trying it ("Priority"). */
	void (*set_reason)(void *core, uint32_t job_id, const char *reason);
	void *core;

	/* v2 */
	const struct mer_sched_view *view;
	/* The earliest time (now, or the expected end of a running job) at
	 * which the select plugin would place job, honouring the other jobs'
	 * reservations, and the nodes it would pick then.  Starts nothing,
	 * records no reason.  0 with out filled; -1 with err naming the
	 * reason ("ReqNodeNotAvail", "PartitionDown", ...) and out->start
	 * MER_TIME_NEVER when the job could never start on today's nodes. */
	int (*trial)(void *core, const struct mer_sched_job *job,
		     struct mer_sched_trial *out, struct mer_error *err);
	/* Hold at->node_index (their job->cpus_per_node, mem_mb_per_node and
	 * the GPUs in at->gpu_mask) for job from at->start until its time
	 * limit is over (for ever without one).  Usually what trial() said.
	 * A second reservation for the same job replaces the first.  0, or
	 * -1 with err when at is not a possible placement. */
	int (*reserve)(void *core, const struct mer_sched_job *job,
		       const struct mer_sched_trial *at, struct mer_error *err);
	/* Ask for a pass at time when (seconds, like view->now) even if
	 * nothing changes meanwhile; the earliest request of a pass wins,
	 * one in the past means the next loop turn. */
	void (*wake_at)(void *core, int64_t when);
};

struct mer_sched_ops {
	struct mer_plugin_header hdr;
	const struct mer_plugin_key *keys; /* the keys it owns, or NULL */
	void *(*init)(const struct mer_plugin_conf *conf,
		      struct mer_error *err);
	void (*fini)(void *state);
	/* jobs holds the pending, eligible (not held) jobs in submit order.
	 * The array may be reordered by the plugin. */
	void (*schedule)(void *state, struct mer_sched_job *jobs, size_t njobs,
			 const struct mer_sched_api *api);
};

#endif
