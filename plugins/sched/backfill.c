/*
 * sched/backfill - EASY backfill: jobs start in priority order, and a
 * lower one starts out of order only where it delays none of the top
 * jobs' reserved starts.
 *
 * Two kinds of pass, as Slurm's main scheduler and its backfill thread:
 *
 *   main      every pass (a job was submitted or ended, a node came up):
 *             as sched/fifo, in (PriorityTier, priority, job id)
 *             order, until the first job of a partition that cannot start; the
 * later ones of that partition wait with reason Priority.  O(jobs until
 * blocked), so a stream of submits stays cheap. backfill  at most every
 * BackfillInterval seconds (a timer asks for it while jobs wait): every job in
 * order is tried; the first BackfillReservations that cannot start now get a
 *             reservation at the earliest time the core's trial() finds
 *             (when running jobs end, by their time limits), so that no
 *             later job is placed in their way; every other job that
 *             cannot start is tried by trial() too, up to
 *             BackfillMaxJobTest of them, which records its expected
 *             start for `mqueue --start`.  A job that would delay a
 *             reservation is not started (the core leaves reserved
 *             resources out of what it offers for the time they are held),
 *             one that fits before a reservation starts, or beside it,
 *             starts now.
 *
 * A job without a time limit is taken to run for ever: it never fits
 * before a reservation, only beside one.  Reasons: a job that cannot
 * start keeps what try_start said (Resources, ReqNodeNotAvail, ...);
 * one passed over in a main pass says Priority.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <meridian/plugin_sched.h>

#define KEY_INTERVAL "BackfillInterval"
#define KEY_RESV     "BackfillReservations"
#define KEY_TEST     "BackfillMaxJobTest"

#define DEF_INTERVAL 30
#define DEF_RESV     1
#define DEF_TEST     500
#define MAX_NODES    65536 /* -N's bound (jobopt.c) */

struct backfill {
	uint32_t interval, nresv, max_test;
	int64_t last_bf; /* now of the last backfill pass, 0 none */
	/* partitions blocked in a main pass; reused between passes */
	const char **blocked;
	size_t nblocked, cap;
	/* a trial's nodes */
	uint32_t node_index[MAX_NODES];
	uint64_t gpu_mask[MAX_NODES];
};

/* An unsigned decimal in [min, max]. */
static int number(const char *v, uint32_t min, uint32_t max, uint32_t *out)
{
	char *end;
	unsigned long n;

	if (!v || *v < '0' || *v > '9')
		return -1;
	errno = 0;
	n = strtoul(v, &end, 10);
	if (errno || *end || n < min || n > max)
		return -1;
	*out = (uint32_t)n;
	return 0;
}

static int check_interval(const char *v, struct mer_error *err)
{
	uint32_t n;

	if (number(v, 1, 86400, &n) == 0)
		return 0;
	snprintf(err->text, sizeof(err->text),
		 KEY_INTERVAL "=%.40s: expected seconds from 1 to 86400", v);
	return -1;
}

static int check_resv(const char *v, struct mer_error *err)
{
	uint32_t n;

	if (number(v, 0, 100000, &n) == 0)
		return 0;
	snprintf(err->text, sizeof(err->text),
		 KEY_RESV "=%.40s: expected a number of jobs from 0 to 100000",
		 v);
	return -1;
}

static int check_test(const char *v, struct mer_error *err)
{
	uint32_t n;

	if (number(v, 0, 10000000, &n) == 0)
		return 0;
	snprintf(err->text, sizeof(err->text),
		 KEY_TEST "=%.40s: expected a number of jobs from 0 to "
			  "10000000",
		 v);
	return -1;
}

static const struct mer_plugin_key backfill_keys[] = {
	{KEY_INTERVAL, "SECONDS", check_interval},
	{KEY_RESV, "N", check_resv},
	{KEY_TEST, "N", check_test},
	{NULL, NULL, NULL},
};

static uint32_t key(const struct mer_plugin_conf *conf, const char *name,
		    uint32_t def, uint32_t max)
{
	const char *v = conf && conf->get ? conf->get(conf->conf, name) : NULL;
	uint32_t n;

	/* checked by the key table before init */
	return v && number(v, 0, max, &n) == 0 ? n : def;
}

static void *backfill_init(const struct mer_plugin_conf *conf,
			   struct mer_error *err)
{
	struct backfill *b = calloc(1, sizeof(*b));

	if (!b) {
		snprintf(err->text, sizeof(err->text),
			 "sched/backfill: out of memory");
		return NULL;
	}
	b->interval = key(conf, KEY_INTERVAL, DEF_INTERVAL, 86400);
	if (!b->interval)
		b->interval = 1;
	b->nresv = key(conf, KEY_RESV, DEF_RESV, 100000);
	b->max_test = key(conf, KEY_TEST, DEF_TEST, 10000000);
	return b;
}

static void backfill_fini(void *state)
{
	struct backfill *b = state;

	if (!b)
		return;
	free(b->blocked);
	free(b);
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

static bool sorted(const struct mer_sched_job *jobs, size_t n)
{
	for (size_t i = 1; i < n; i++)
		if (job_cmp(&jobs[i - 1], &jobs[i]) > 0)
			return false;
	return true;
}

static bool same_partition(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

static bool is_blocked(const struct backfill *b, const char *part)
{
	for (size_t i = 0; i < b->nblocked; i++)
		if (same_partition(b->blocked[i], part))
			return true;
	return false;
}

static int block(struct backfill *b, const char *part)
{
	if (b->nblocked == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 8;
		const char **p = realloc(b->blocked, cap * sizeof(*p));

		if (!p)
			return -1;
		b->blocked = p;
		b->cap = cap;
	}
	b->blocked[b->nblocked++] = part;
	return 0;
}

/* Strict priority order until each partition's first blocked job. */
static void main_pass(struct backfill *b, struct mer_sched_job *jobs,
		      size_t njobs, const struct mer_sched_api *api)
{
	struct mer_error err;

	b->nblocked = 0;
	for (size_t i = 0; i < njobs; i++) {
		const struct mer_sched_job *j = &jobs[i];

		if (is_blocked(b, j->partition)) {
			api->set_reason(api->core, j->job_id, "Priority");
			continue;
		}
		err.text[0] = '\0';
		if (api->try_start(api->core, j, &err) == 0)
			continue;
		if (block(b, j->partition) < 0) {
			/* no memory to remember it: let nothing overtake */
			for (i++; i < njobs; i++)
				api->set_reason(api->core, jobs[i].job_id,
						"Priority");
			return;
		}
	}
}

/* A reason that no later time changes: trial() would say never. */
static bool hopeless(const char *reason)
{
	return strcmp(reason, "ReqNodeNotAvail") == 0 ||
	       strcmp(reason, "MaxPrice") == 0 ||
	       strcmp(reason, "BadConstraints") == 0 ||
	       strcmp(reason, "PartitionDown") == 0 ||
	       strcmp(reason, "PartitionInvalid") == 0;
}

static int u64_desc(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x > y ? -1 : x < y;
}

/* What is free now on the usable nodes, each measure sorted on its own
 * (largest first): a job can start now only where at least num_nodes
 * nodes have its CPUs, at least num_nodes its memory and at least
 * num_nodes its GPUs.  Necessary, not sufficient (the three need not be
 * the same nodes, partitions and reservations are not counted): it only
 * spares try_start the jobs that cannot start, on a full cluster most of
 * them. */
struct room {
	uint64_t *v[3]; /* cpus, mem, gpus */
	size_t n, cap;
	size_t nrunning; /* of the view it was taken from */
};

static int room_take(struct room *r, const struct mer_sched_view *view)
{
	if (view->nnodes > r->cap) {
		for (int m = 0; m < 3; m++) {
			uint64_t *p =
				realloc(r->v[m], view->nnodes * sizeof(*p));

			if (!p)
				return -1;
			r->v[m] = p;
		}
		r->cap = view->nnodes;
	}
	r->n = 0;
	for (size_t i = 0; i < view->nnodes; i++) {
		const struct mer_sched_node *n = &view->nodes[i];

		if (!n->usable)
			continue;
		r->v[0][r->n] = n->cpus_free;
		r->v[1][r->n] = n->mem_free_mb;
		r->v[2][r->n] = n->gpus_free;
		r->n++;
	}
	for (int m = 0; m < 3; m++)
		qsort(r->v[m], r->n, sizeof(uint64_t), u64_desc);
	r->nrunning = view->nrunning;
	return 0;
}

/* At least k of the sorted (descending) v[0..n) are >= want. */
static bool enough(const uint64_t *v, size_t n, uint64_t want, uint32_t k)
{
	return k == 0 || (k <= n && v[k - 1] >= want);
}

static bool may_start(const struct room *r, const struct mer_sched_job *j)
{
	return enough(r->v[0], r->n, j->cpus_per_node, j->num_nodes) &&
	       enough(r->v[1], r->n, j->mem_mb_per_node, j->num_nodes) &&
	       enough(r->v[2], r->n, j->gpus_per_node, j->num_nodes);
}

static void backfill_pass(struct backfill *b, struct mer_sched_job *jobs,
			  size_t njobs, const struct mer_sched_api *api)
{
	uint32_t reserved = 0, tested = 0;
	struct mer_error err;
	struct room room = {{NULL, NULL, NULL}, 0, 0, 0};
	bool have_room = room_take(&room, api->view) == 0;

	for (size_t i = 0; i < njobs; i++) {
		const struct mer_sched_job *j = &jobs[i];
		struct mer_sched_trial at;

		err.text[0] = '\0';
		/* a job started since: what is free has changed */
		if (have_room && room.nrunning != api->view->nrunning)
			have_room = room_take(&room, api->view) == 0;
		if (have_room && !may_start(&room, j)) {
			snprintf(err.text, sizeof(err.text), "Resources");
			api->set_reason(api->core, j->job_id, "Resources");
		} else if (api->try_start(api->core, j, &err) == 0) {
			continue;
		}
		if (hopeless(err.text) || j->num_nodes > MAX_NODES ||
		    (reserved >= b->nresv && tested >= b->max_test))
			continue;
		at.node_index = b->node_index;
		at.gpu_mask = b->gpu_mask;
		tested++;
		if (api->trial(api->core, j, &at, &err) < 0 ||
		    at.start == MER_TIME_NEVER)
			continue;
		if (reserved < b->nresv &&
		    api->reserve(api->core, j, &at, &err) == 0)
			reserved++;
	}
	for (int m = 0; m < 3; m++)
		free(room.v[m]);
}

static void backfill_schedule(void *state, struct mer_sched_job *jobs,
			      size_t njobs, const struct mer_sched_api *api)
{
	struct backfill *b = state;
	int64_t now = api->view->now;

	if (!sorted(jobs, njobs))
		qsort(jobs, njobs, sizeof(*jobs), job_cmp);
	if (!b->last_bf || now - b->last_bf >= (int64_t)b->interval) {
		b->last_bf = now;
		backfill_pass(b, jobs, njobs, api);
	} else {
		main_pass(b, jobs, njobs, api);
	}
	/* jobs wait: the next backfill pass comes even if nothing changes */
	if (njobs)
		api->wake_at(api->core, b->last_bf + b->interval);
}

const struct mer_sched_ops meridian_plugin = {
	.hdr = {MER_PLUGIN_SCHED, MER_SCHED_ABI, "sched/backfill"},
	.keys = backfill_keys,
	.init = backfill_init,
	.fini = backfill_fini,
	.schedule = backfill_schedule,
};
