/*
 * sched.c - the scheduling pass: the sched plugin orders the pending jobs
 * and asks try_start() for each; try_start() shows the select plugin the
 * usable nodes of the job's partition and commits the placement it picks.
 *
 * A pass runs at most once per loop turn and only when something changed
 * that could let a job start (sched_request): a job ended, a node came up,
 * a hold was released (urgent: this turn), or jobs were submitted (within
 * MCTLD_SCHED_MIN_INTERVAL_MS of the last pass, so a stream of submits does
 * not rescan the queue once per job).  A pass is O(pending jobs) plus
 * O(partition nodes) per job it tries.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "mctld.h"
#include "plugin_loader.h"
#include "util.h"

struct sched {
	struct mctld *ctx;
	struct plugin_handle *sched_handle, *select_handle;
	const struct mer_sched_ops *sched_ops;
	const struct mer_select_ops *select_ops;
	void *sched_state, *select_state;
	struct mer_plugin_conf pconf;

	bool want_now, want_soon;
	int64_t last_pass_ms;
	struct event *timer;
	bool timer_armed;
	uint64_t passes, gen;
	int64_t now;

	/* scratch, reused by every pass */
	struct mer_sched_job *jobs;
	size_t cap_jobs;
	struct mer_select_node *views;
	struct node **view_nodes;
	size_t cap_views;
	uint32_t *res_index;
	uint64_t *res_mask;
	size_t cap_res;
};

static const char *plugin_dir(const struct conf *c)
{
	return c->plugin_dir && *c->plugin_dir ? c->plugin_dir
					       : plugin_default_dir();
}

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sched *s = arg;

	(void)fd;
	(void)what;
	/* Only wakes the loop: the pass runs at the end of this turn. */
	s->timer_armed = false;
}

struct sched *sched_create(struct mctld *ctx, struct mer_error *err)
{
	const struct conf *c = ctx->conf;
	struct sched *s = xcalloc(1, sizeof(*s));
	const void *ops;

	s->ctx = ctx;
	s->pconf.get = conf_get;
	s->pconf.conf = ctx->conf;
	s->sched_handle = plugin_load(
		plugin_dir(c), "SchedulerType",
		c->scheduler_type && *c->scheduler_type ? c->scheduler_type
							: "sched/fifo",
		MER_PLUGIN_SCHED, MER_SCHED_ABI, &ops, err);
	if (!s->sched_handle)
		goto fail;
	s->sched_ops = ops;
	s->select_handle =
		plugin_load(plugin_dir(c), "SelectType",
			    c->select_type && *c->select_type ? c->select_type
							      : "select/linear",
			    MER_PLUGIN_SELECT, MER_SELECT_ABI, &ops, err);
	if (!s->select_handle)
		goto fail;
	s->select_ops = ops;
	s->sched_state = s->sched_ops->init(&s->pconf, err);
	if (!s->sched_state)
		goto fail;
	s->select_state = s->select_ops->init(&s->pconf, err);
	if (!s->select_state)
		goto fail;
	if (ctx->base)
		s->timer = evtimer_new(ctx->base, timer_cb, s);
	return s;
fail:
	sched_destroy(s);
	if (!errno)
		errno = EINVAL;
	return NULL;
}

void sched_destroy(struct sched *s)
{
	if (!s)
		return;
	if (s->timer)
		event_free(s->timer);
	if (s->sched_state && s->sched_ops->fini)
		s->sched_ops->fini(s->sched_state);
	if (s->select_state && s->select_ops->fini)
		s->select_ops->fini(s->select_state);
	plugin_unload(s->sched_handle);
	plugin_unload(s->select_handle);
	free(s->jobs);
	free(s->views);
	free(s->view_nodes);
	free(s->res_index);
	free(s->res_mask);
	free(s);
}

uint64_t sched_passes(const struct mctld *ctx)
{
	return ctx->sched->passes;
}

void sched_request(struct mctld *ctx, bool urgent)
{
	if (!ctx->sched)
		return;
	if (urgent)
		ctx->sched->want_now = true;
	else
		ctx->sched->want_soon = true;
}

void sched_maybe_run(struct mctld *ctx)
{
	struct sched *s = ctx->sched;
	int64_t now_ms, wait_ms;

	if (!s || (!s->want_now && !s->want_soon))
		return;
	now_ms = mer_mono_ms();
	wait_ms = s->last_pass_ms + MCTLD_SCHED_MIN_INTERVAL_MS - now_ms;
	if (!s->want_now && wait_ms > 0) {
		if (s->timer && !s->timer_armed) {
			struct timeval tv = {0, (suseconds_t)wait_ms * 1000};

			evtimer_add(s->timer, &tv);
			s->timer_armed = true;
		}
		return;
	}
	s->last_pass_ms = now_ms;
	sched_run(ctx);
}

/* --- try_start: the core side of the sched API -------------------------- */

/* The capacity to allocate for want entries (never less than 64). */
static size_t grown(size_t want)
{
	return want < 64 ? 64 : want * 2;
}

/* The placement the plugin returned must be possible: never let a plugin
 * corrupt the accounting. */
static int check_result(const struct sched *s, const struct job *j,
			size_t nviews, const struct mer_select_result *res)
{
	uint32_t i, k;

	if (res->nnodes != j->rec->num_nodes)
		return -1;
	for (i = 0; i < res->nnodes; i++) {
		const struct mer_select_node *v;

		if (res->node_index[i] >= nviews)
			return -1;
		for (k = 0; k < i; k++)
			if (res->node_index[k] == res->node_index[i])
				return -1;
		v = &s->views[res->node_index[i]];
		if (v->cpus_free < j->cpus_per_node ||
		    (j->mem_per_node && v->mem_free_mb < j->mem_per_node))
			return -1;
		if ((res->gpu_mask[i] & ~v->gpu_free_mask) ||
		    (uint32_t)__builtin_popcountll(res->gpu_mask[i]) !=
			    j->gpus_per_node)
			return -1;
	}
	return 0;
}

static Meridian__JobNodeAlloc **build_alloc(const struct sched *s,
					    const struct job *j,
					    const struct mer_select_result *res)
{
	Meridian__JobNodeAlloc **alloc;
	uint32_t i, rem, n = res->nnodes;
	uint32_t tpn = j->tasks_per_node ? j->tasks_per_node : 1;

	alloc = xcalloc(n, sizeof(*alloc));
	/* Every node gets one task, then the rest fill nodes in order up to
	 * tasks_per_node (Slurm's block distribution). */
	rem = j->rec->ntasks > n ? j->rec->ntasks - n : 0;
	for (i = 0; i < n; i++) {
		Meridian__JobNodeAlloc *a = xmalloc(sizeof(*a));
		uint64_t m = res->gpu_mask[i];
		uint32_t add = rem < tpn - 1 ? rem : tpn - 1, g = 0, bit;

		meridian__job_node_alloc__init(a);
		pb_set_str(&a->node, s->view_nodes[res->node_index[i]]->name);
		a->cpus = j->cpus_per_node;
		a->mem_mb = j->mem_per_node;
		a->ntasks = 1 + add;
		rem -= add;
		a->n_gpus = (size_t)__builtin_popcountll(m);
		if (a->n_gpus) {
			a->gpus = xcalloc(a->n_gpus, sizeof(*a->gpus));
			for (bit = 0; bit < MER_SELECT_MAX_GPUS; bit++)
				if (m & (1ull << bit))
					a->gpus[g++] = bit;
		}
		alloc[i] = a;
	}
	return alloc;
}

static void free_alloc(Meridian__JobNodeAlloc **alloc, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		protobuf_c_message_free_unpacked(&alloc[i]->base, NULL);
	free(alloc);
}

static int try_start(void *core, const struct mer_sched_job *sj,
		     struct mer_error *err)
{
	struct mctld *ctx = core;
	struct sched *s = ctx->sched;
	struct job *j = job_find(ctx, sj->job_id);
	struct mer_select_job req;
	struct mer_select_result res;
	Meridian__JobNodeAlloc **alloc;
	struct node **pnodes;
	size_t npnodes, nviews = 0, i;
	const char *reason;

	if (!j || j->rec->state != MERIDIAN__JOB_STATE__JOB_PENDING ||
	    j->rec->desc->hold != MERIDIAN__HOLD_KIND__HOLD_NONE) {
		mer_error_set(err, "Invalid");
		return -1;
	}
	if (!j->part) {
		job_mgr_set_reason(j, "PartitionInvalid");
		return mer_error_set(err, "PartitionInvalid");
	}
	if (!j->part->up) {
		job_mgr_set_reason(j, "PartitionDown");
		return mer_error_set(err, "PartitionDown");
	}
	pnodes = node_mgr_partition(ctx, j->part, &npnodes);
	if (npnodes > s->cap_views) {
		s->cap_views = grown(npnodes);
		s->views = xrealloc(s->views, s->cap_views * sizeof(*s->views));
		s->view_nodes = xrealloc(s->view_nodes,
					 s->cap_views * sizeof(*s->view_nodes));
	}
	for (i = 0; i < npnodes; i++) {
		struct node *n = pnodes[i];
		struct mer_select_node *v;
		uint64_t all;

		if (!node_usable(n))
			continue;
		v = &s->views[nviews];
		s->view_nodes[nviews++] = n;
		all = n->gpus >= 64 ? ~0ull : (1ull << n->gpus) - 1;
		v->name = n->name;
		v->region = n->cn->region ? n->cn->region : "";
		v->gpu_model = n->gpu_model;
		v->cpus = n->cpus;
		v->cpus_free =
			n->cpus > n->cpus_alloc ? n->cpus - n->cpus_alloc : 0;
		v->mem_mb = n->real_memory;
		v->mem_free_mb = n->real_memory > n->mem_alloc
					 ? n->real_memory - n->mem_alloc
					 : 0;
		v->gpus = n->gpus;
		v->gpu_free_mask = all & ~n->gpu_alloc_mask;
		v->gpu_hour_price =
			price_gpu_hour_cached(ctx, n, s->gen, s->now);
		if (v->gpu_hour_price < 0)
			v->gpu_hour_price = INT64_MAX; /* never under a limit */
	}
	memset(&req, 0, sizeof(req));
	req.job_id = j->rec->job_id;
	req.num_nodes = j->rec->num_nodes;
	req.tasks_per_node = j->tasks_per_node;
	req.cpus_per_node = j->cpus_per_node;
	req.mem_mb_per_node = j->mem_per_node;
	req.gpus_per_node = j->gpus_per_node;
	req.gpu_type = j->rec->desc->gpu_type ? j->rec->desc->gpu_type : "";
	req.max_price = j->rec->desc->max_price;
	if (req.num_nodes > s->cap_res) {
		s->cap_res = grown(req.num_nodes);
		s->res_index = xrealloc(s->res_index,
					s->cap_res * sizeof(*s->res_index));
		s->res_mask = xrealloc(s->res_mask,
				       s->cap_res * sizeof(*s->res_mask));
	}
	memset(&res, 0, sizeof(res));
	res.node_index = s->res_index;
	res.gpu_mask = s->res_mask;
	err->text[0] = '\0';
	if (s->select_ops->select(s->select_state, &req, s->views, nviews, &res,
				  err) < 0) {
		reason = err->text[0] ? err->text : "Resources";
		job_mgr_set_reason(j, reason);
		if (reason != err->text)
			mer_error_set(err, "%s", reason);
		return -1;
	}
	if (check_result(s, j, nviews, &res) < 0) {
		log_warnx("%s: invalid placement for job %u; job not started",
			  s->select_ops->hdr.name, j->rec->job_id);
		job_mgr_set_reason(j, "SelectError");
		return mer_error_set(err, "SelectError");
	}
	alloc = build_alloc(s, j, &res);
	if (job_mgr_start(ctx, j, alloc, res.nnodes) < 0) {
		free_alloc(alloc, res.nnodes);
		job_mgr_set_reason(j, "SelectError");
		return mer_error_set(err, "SelectError");
	}
	return 0;
}

static void set_reason(void *core, uint32_t job_id, const char *reason)
{
	struct job *j = job_find(core, job_id);

	if (j && j->rec->state == MERIDIAN__JOB_STATE__JOB_PENDING && reason)
		job_mgr_set_reason(j, reason);
}

void sched_run(struct mctld *ctx)
{
	struct sched *s = ctx->sched;
	struct mer_sched_api api = {try_start, set_reason, ctx};
	struct job *j;
	size_t n = 0;

	s->want_now = s->want_soon = false;
	s->passes++;
	s->gen++;
	s->now = mer_now();
	TAILQ_FOREACH(j, job_mgr_pending(ctx), state_entry) {
		struct mer_sched_job *sj;

		if (j->rec->desc->hold != MERIDIAN__HOLD_KIND__HOLD_NONE)
			continue;
		if (n + 1 > s->cap_jobs) {
			s->cap_jobs = grown(n + 1);
			s->jobs = xrealloc(s->jobs,
					   s->cap_jobs * sizeof(*s->jobs));
		}
		sj = &s->jobs[n++];
		sj->job_id = j->rec->job_id;
		sj->user_id = j->rec->user_id;
		sj->partition =
			j->part ? j->part->name : j->rec->desc->partition;
		sj->priority = j->rec->priority;
		sj->submit_time = (time_t)j->rec->submit_time;
		sj->time_limit = j->rec->time_limit;
		sj->num_nodes = j->rec->num_nodes;
		sj->gpus = j->gpus_per_node * j->rec->num_nodes;
	}
	if (n)
		s->sched_ops->schedule(s->sched_state, s->jobs, n, &api);
}
