/*
 * sched/fifo - strict first in, first out.
 *
 * Jobs are tried in (partition PriorityTier descending, priority
 * descending, job id ascending) order.  Once a job of a partition cannot
 * start, every later job of that partition waits
 * with reason "Priority" (as Slurm's builtin scheduler does: nothing jumps
 * the queue), while the first blocked job keeps the reason try_start gave
 * it ("Resources", "ReqNodeNotAvail", ...).  Other partitions go on.
 * It uses neither trial, reserve nor wake_at: nothing starts out of order.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <meridian/plugin_sched.h>

struct fifo {
	/* Partitions blocked in the current pass; reused between passes. */
	const char **blocked;
	size_t nblocked, cap;
};

static void *fifo_init(const struct mer_plugin_conf *conf,
		       struct mer_error *err)
{
	struct fifo *f;

	(void)conf;
	f = calloc(1, sizeof(*f));
	if (!f) {
		strcpy(err->text, "sched/fifo: out of memory");
		return NULL;
	}
	return f;
}

static void fifo_fini(void *state)
{
	struct fifo *f = state;

	if (!f)
		return;
	free(f->blocked);
	free(f);
}

static int job_cmp(const void *a, const void *b)
{
	const struct mer_sched_job *x = a, *y = b;

	if (x->priority_tier != y->priority_tier)
		return x->priority_tier > y->priority_tier ? -1 : 1;
	if (x->priority != y->priority)
		return x->priority > y->priority ? -1 : 1;
	return x->job_id < y->job_id ? -1 : x->job_id > y->job_id;
}

static bool same_partition(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

static bool is_blocked(const struct fifo *f, const char *part)
{
	size_t i;

	/* Few partitions: a linear scan beats any set. */
	for (i = 0; i < f->nblocked; i++)
		if (same_partition(f->blocked[i], part))
			return true;
	return false;
}

static int block(struct fifo *f, const char *part)
{
	if (f->nblocked == f->cap) {
		size_t cap = f->cap ? f->cap * 2 : 8;
		const char **b = realloc(f->blocked, cap * sizeof(*b));

		if (!b)
			return -1;
		f->blocked = b;
		f->cap = cap;
	}
	f->blocked[f->nblocked++] = part;
	return 0;
}

static bool sorted(const struct mer_sched_job *jobs, size_t n)
{
	size_t i;

	for (i = 1; i < n; i++)
		if (job_cmp(&jobs[i - 1], &jobs[i]) > 0)
			return false;
	return true;
}

static void fifo_schedule(void *state, struct mer_sched_job *jobs, size_t njobs,
			  const struct mer_sched_api *api)
{
	struct fifo *f = state;
	struct mer_error err;
	size_t i;

	/* The core hands jobs in submit order; with equal priorities that
	 * is already our order, and the check is cheaper than a sort. */
	if (!sorted(jobs, njobs))
		qsort(jobs, njobs, sizeof(*jobs), job_cmp);
	f->nblocked = 0;
	for (i = 0; i < njobs; i++) {
		const struct mer_sched_job *j = &jobs[i];

		if (is_blocked(f, j->partition)) {
			api->set_reason(api->core, j->job_id, "Priority");
			continue;
		}
		err.text[0] = '\0';
		if (api->try_start(api->core, j, &err) == 0)
			continue;
		if (block(f, j->partition) < 0) {
			/* No memory to remember: stop the pass rather than
			 * let a later job overtake this one. */
			for (i++; i < njobs; i++)
				api->set_reason(api->core, jobs[i].job_id,
						"Priority");
			return;
		}
	}
}

const struct mer_sched_ops meridian_plugin = {
	.hdr = {MER_PLUGIN_SCHED, MER_SCHED_ABI, "sched/fifo"},
	.keys = NULL, /* no meridian.conf key of its own */
	.init = fifo_init,
	.fini = fifo_fini,
	.schedule = fifo_schedule,
};
