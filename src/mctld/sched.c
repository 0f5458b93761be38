/*
 * sched.c - the scheduling pass: the sched plugin orders the pending jobs
 * and asks try_start() for each; try_start() shows the select plugin the
 * usable nodes of the job's partition and commits the placement it picks.
 * The plugin also gets a view of the cluster (nodes, running jobs and
 * their expected ends), trial() ("when and where could this job start":
 * running jobs are simulated ending at start + time limit, and the select
 * plugin asked at each such time), per-pass reservations that try_start()
 * and trial() honour, and wake_at() (a timer for a later pass).
 *
 * A pass runs at most once per loop turn and only when something changed
 * that could let a job start (mctld_want_sched): a job ended, a node came up,
 * a hold was released (urgent: this turn), or jobs were submitted (within
 * MCTLD_SCHED_MIN_INTERVAL_MS of the last pass, so a stream of submits does
 * not rescan the queue once per job).  A pass is O(pending jobs) plus
 * O(partition nodes) per job it tries.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hostlist.h"
#include "log.h"
#include "mctld.h"
#include "plugin_loader.h"
#include "util.h"

/* A reservation: nodes held for a job from start until end (this pass). */
struct resv {
	uint32_t job_id;
	int64_t start, end;
	uint32_t cpus;
	uint64_t mem_mb;
	uint32_t nnodes;
	uint32_t *node; /* node ids */
	uint64_t *mask;
};

/* What a node can give at some time, for the select views. */
struct avail {
	uint32_t cpus;
	uint64_t mem_mb;
	uint64_t mask;
};

struct sched {
	struct mctld *ctx;
	struct plugin_handle *sched_handle, *select_handle;
	const struct mer_sched_ops *sched_ops;
	const struct mer_select_ops *select_ops;
	void *sched_state, *select_state;
	struct mer_plugin_conf pconf;

	int64_t last_pass_ms;
	struct event *timer;
	bool timer_armed;
	uint64_t passes, gen;
	int64_t now;

	/* wake_at: asked during the pass (0 none); in force after it */
	int64_t wake_req, wake_time;
	uint64_t started; /* jobs try_start started, ever */
	struct event *wake_timer;

	/* the plugin's view of this pass; arrays sized at the pass start */
	struct mer_sched_view view;
	struct mer_sched_node *vnodes;
	size_t cap_vnodes;
	struct mer_sched_running *vrun;
	size_t cap_vrun;
	struct mer_sched_alloc *valloc;
	size_t nvalloc, cap_valloc;
	struct resv *resv;
	size_t nresv, cap_resv;
	bool in_pass;

	struct mer_select_region *regions;
	size_t nregions;
	struct mer_select_api select_api;

	/* scratch, reused by every pass */
	struct mer_sched_job *jobs;
	size_t cap_jobs;
	struct mer_select_node *views;
	struct node **view_nodes;
	size_t cap_views;
	uint32_t *res_index;
	uint64_t *res_mask;
	uint8_t *res_order; /* cap_res rows of MER_SELECT_MAX_GPUS */
	size_t cap_res;
	struct mer_select_gpu *vgpus;
	size_t cap_vgpus;
	struct avail *at, *limit; /* per node id, for one set of views */
	uint64_t *resv_cpus, *resv_mem, *resv_mask;
	int64_t *events;
	size_t cap_events;
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

static void wake_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sched *s = arg;

	(void)fd;
	(void)what;
	/* The plugin asked for this time: a pass at the end of this turn. */
	mctld_want_sched(s->ctx, true);
}

static int link_cb(void *core, uint32_t a, uint32_t b, struct mer_link *out);

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
	{
		/* Their keys' values first: a bad one is PATH:LINE: ... */
		const struct mer_plugin_key *keys[2] = {s->sched_ops->keys,
							s->select_ops->keys};

		if (conf_check_key_values(c, keys, 2, err) < 0)
			goto fail;
	}
	s->sched_state = s->sched_ops->init(&s->pconf, err);
	if (!s->sched_state)
		goto fail;
	s->select_state = s->select_ops->init(&s->pconf, err);
	if (!s->select_state)
		goto fail;
	s->nregions = c->nregions;
	s->regions =
		xcalloc(c->nregions ? c->nregions : 1, sizeof(*s->regions));
	for (size_t i = 0; i < c->nregions; i++) {
		s->regions[i].name = c->regions[i].name;
		s->regions[i].description = c->regions[i].description
						    ? c->regions[i].description
						    : "";
		s->regions[i].utc_offset_min = c->regions[i].utc_offset_min;
	}
	s->select_api.link = link_cb;
	s->select_api.core = ctx;
	if (ctx->base) {
		s->timer = evtimer_new(ctx->base, timer_cb, s);
		s->wake_timer = evtimer_new(ctx->base, wake_cb, s);
	}
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
	if (s->wake_timer)
		event_free(s->wake_timer);
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
	free(s->res_order);
	free(s->vnodes);
	free(s->vrun);
	free(s->valloc);
	for (size_t i = 0; i < s->cap_resv; i++) {
		free(s->resv[i].node);
		free(s->resv[i].mask);
	}
	free(s->resv);
	free(s->regions);
	free(s->vgpus);
	free(s->at);
	free(s->limit);
	free(s->resv_cpus);
	free(s->resv_mem);
	free(s->resv_mask);
	free(s->events);
	free(s);
}

/*
 * Every global key of meridian.conf that the core does not know must be
 * owned by one of the plugins loaded: price (created before us) and ours.
 * mctld_create calls it once every plugin is loaded.
 */
int sched_check_conf_keys(struct mctld *ctx, const struct sched *s,
			  struct mer_error *err)
{
	const struct mer_plugin_key *tables[3];

	tables[0] = s->sched_ops->keys;
	tables[1] = s->select_ops->keys;
	tables[2] = price_conf_keys(ctx);
	return conf_check_keys(ctx->conf, tables, 3, err);
}

int64_t sched_wake_time(const struct mctld *ctx)
{
	return ctx->sched ? ctx->sched->wake_time : 0;
}

uint64_t sched_passes(const struct mctld *ctx)
{
	return ctx->sched->passes;
}

void sched_maybe_run(struct mctld *ctx)
{
	struct sched *s = ctx->sched;
	int64_t now_ms, wait_ms;

	if (!s || (!ctx->sched_want_now && !ctx->sched_want_soon))
		return;
	now_ms = mer_mono_ms();
	wait_ms = s->last_pass_ms + MCTLD_SCHED_MIN_INTERVAL_MS - now_ms;
	if (!ctx->sched_want_now && wait_ms > 0) {
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

static uint64_t all_gpus(uint32_t n)
{
	return n >= 64 ? ~0ull : (1ull << n) - 1;
}

/* The end of a job that starts at start: its time limit, or never. */
static int64_t end_of(int64_t start, uint32_t time_limit_min)
{
	if (!time_limit_min || start == MER_TIME_NEVER)
		return MER_TIME_NEVER;
	return start + (int64_t)time_limit_min * 60;
}

/* Node i's GPU order, when the plugin gave one: gpu_mask[i]'s GPUs, each
 * once. */
static int check_order(const struct mer_select_result *res, uint32_t i)
{
	const uint8_t *row = res->gpu_order + (size_t)i * MER_SELECT_MAX_GPUS;
	uint64_t m = res->gpu_mask[i], seen = 0;
	int k, n = __builtin_popcountll(m);

	if (row[0] == UINT8_MAX)
		return 0;
	for (k = 0; k < n; k++) {
		if (row[k] >= MER_SELECT_MAX_GPUS || !(m & (1ull << row[k])) ||
		    (seen & (1ull << row[k])))
			return -1;
		seen |= 1ull << row[k];
	}
	return 0;
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
			    j->gpus_per_node ||
		    check_order(res, i) < 0)
			return -1;
	}
	return 0;
}

/* Node i's GPUs in local rank order (malloc'd, *n of them; NULL for
 * none): the plugin's order, else index order. */
static uint32_t *gpu_order_of(const struct mer_select_result *res, uint32_t i,
			      size_t *n)
{
	const uint8_t *row = res->gpu_order + (size_t)i * MER_SELECT_MAX_GPUS;
	uint64_t m = res->gpu_mask[i];
	uint32_t *o;
	size_t k = 0;

	*n = (size_t)__builtin_popcountll(m);
	if (!*n)
		return NULL;
	o = xcalloc(*n, sizeof(*o));
	if (row[0] != UINT8_MAX)
		for (k = 0; k < *n; k++)
			o[k] = row[k];
	else
		for (uint32_t bit = 0; bit < MER_SELECT_MAX_GPUS; bit++)
			if (m & (1ull << bit))
				o[k++] = bit;
	return o;
}

static Meridian__JobNodeAlloc **build_alloc(const struct sched *s,
					    const struct job *j,
					    const struct mer_select_result *res)
{
	Meridian__JobNodeAlloc **alloc;
	uint32_t i, rem, n = res->nnodes;
	uint32_t tpn = j->tasks_per_node ? j->tasks_per_node : 1;
	uint32_t cpt =
		j->rec->desc->cpus_per_task ? j->rec->desc->cpus_per_task : 1;

	alloc = xcalloc(n, sizeof(*alloc));
	/* Every node gets one task, then the rest fill nodes in order up to
	 * tasks_per_node (Slurm's block distribution).  The plugin's node
	 * order is the rank order. */
	rem = j->rec->ntasks > n ? j->rec->ntasks - n : 0;
	for (i = 0; i < n; i++) {
		Meridian__JobNodeAlloc *a = xmalloc(sizeof(*a));
		uint32_t add = rem < tpn - 1 ? rem : tpn - 1;

		meridian__job_node_alloc__init(a);
		pb_set_str(&a->node, s->view_nodes[res->node_index[i]]->name);
		a->mem_mb = j->mem_per_node;
		a->ntasks = 1 + add;
		rem -= add;
		/* Its tasks' CPUs, as Slurm counts them (-N2 -n3: 2 and 1, 3
		 * in all; cpus_per_node, the most a node may need, is what
		 * the node had to have free); --exclusive: every CPU of the
		 * node, so nothing shares it */
		a->cpus = j->rec->desc->exclusive
				  ? s->view_nodes[res->node_index[i]]->cpus
				  : a->ntasks * cpt;
		/* local rank k takes a->gpus[k] (mstepd) */
		a->gpus = gpu_order_of(res, i, &a->n_gpus);
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

/* --- the view: nodes and running jobs ----------------------------------- */

static void view_node(struct sched *s, const struct node *n)
{
	struct mer_sched_node *v = &s->vnodes[n->index];
	uint64_t free_mask = all_gpus(n->gpus) & ~n->gpu_alloc_mask;

	v->name = n->name;
	v->region = n->cn->region ? n->cn->region : "";
	v->gpu_model = n->gpu_model ? n->gpu_model : "";
	v->cpus = n->cpus;
	v->cpus_free = n->cpus > n->cpus_alloc ? n->cpus - n->cpus_alloc : 0;
	v->mem_mb = n->real_memory;
	v->mem_free_mb = n->real_memory > n->mem_alloc
				 ? n->real_memory - n->mem_alloc
				 : 0;
	v->gpus = n->gpus;
	v->gpu_free_mask = free_mask;
	v->gpus_free = (uint32_t)__builtin_popcountll(free_mask);
	v->usable = node_usable(n);
}

/* Append a running job to the view (its allocation's nodes refreshed). */
static void view_add_running(struct sched *s, const struct job *j)
{
	struct mer_sched_running *r;
	size_t k, first = s->nvalloc;

	if (s->view.nrunning >= s->cap_vrun ||
	    s->nvalloc + j->rec->n_alloc > s->cap_valloc)
		return; /* sized at the pass start: cannot happen */
	for (k = 0; k < j->rec->n_alloc; k++) {
		const Meridian__JobNodeAlloc *a = j->rec->alloc[k];
		struct node *n = node_find(s->ctx, a->node);
		struct mer_sched_alloc *va;

		if (!n)
			continue;
		va = &s->valloc[s->nvalloc++];
		va->node = (uint32_t)n->index;
		va->cpus = a->cpus;
		va->mem_mb = a->mem_mb;
		va->gpu_mask = 0;
		for (size_t g = 0; g < a->n_gpus; g++)
			if (a->gpus[g] < MER_SELECT_MAX_GPUS)
				va->gpu_mask |= 1ull << a->gpus[g];
		if (s->in_pass)
			view_node(s, n);
	}
	r = &s->vrun[s->view.nrunning++];
	r->job_id = j->rec->job_id;
	r->user_id = j->rec->user_id;
	r->partition = j->part ? j->part->name : j->rec->desc->partition;
	r->priority = j->rec->priority;
	r->start_time = j->rec->start_time;
	r->expected_end = end_of(j->rec->start_time, j->rec->time_limit);
	if (r->expected_end <= s->now)
		r->expected_end = s->now + 1;
	r->alloc = &s->valloc[first];
	r->nalloc = s->nvalloc - first;
}

static void view_build(struct sched *s, size_t npending_nodes, size_t npending)
{
	struct mctld *ctx = s->ctx;
	size_t nnodes = node_mgr_count(ctx), nrun = 0, nalloc = 0, i;
	struct job *j;

	if (nnodes > s->cap_vnodes) {
		s->cap_vnodes = grown(nnodes);
		s->vnodes =
			xrealloc(s->vnodes, s->cap_vnodes * sizeof(*s->vnodes));
		s->at = xrealloc(s->at, s->cap_vnodes * sizeof(*s->at));
		s->limit =
			xrealloc(s->limit, s->cap_vnodes * sizeof(*s->limit));
		s->resv_cpus = xrealloc(s->resv_cpus,
					s->cap_vnodes * sizeof(*s->resv_cpus));
		s->resv_mem = xrealloc(s->resv_mem,
				       s->cap_vnodes * sizeof(*s->resv_mem));
		s->resv_mask = xrealloc(s->resv_mask,
					s->cap_vnodes * sizeof(*s->resv_mask));
	}
	for (i = 0; i < nnodes; i++)
		view_node(s, node_at(ctx, i));
	TAILQ_FOREACH(j, job_mgr_running(ctx), state_entry) {
		nrun++;
		nalloc += j->rec->n_alloc;
	}
	/* Room for every job this pass could start: nothing moves later. */
	if (nrun + npending > s->cap_vrun) {
		s->cap_vrun = grown(nrun + npending);
		s->vrun = xrealloc(s->vrun, s->cap_vrun * sizeof(*s->vrun));
	}
	if (nalloc + npending_nodes > s->cap_valloc) {
		s->cap_valloc = grown(nalloc + npending_nodes);
		s->valloc =
			xrealloc(s->valloc, s->cap_valloc * sizeof(*s->valloc));
	}
	s->nvalloc = 0;
	s->view.now = s->now;
	s->view.nodes = s->vnodes;
	s->view.nnodes = nnodes;
	s->view.running = s->vrun;
	s->view.nrunning = 0;
	TAILQ_FOREACH(j, job_mgr_running(ctx), state_entry)
		view_add_running(s, j);
}

/*
 * What each node can give at time t to a job running until x_end, in
 * s->at[node id]: what is free now, plus what running jobs ending by t
 * give back, less what reservations of other jobs overlapping [t, x_end)
 * hold.  A reservation from a later time R.start still bounds the job:
 * what it takes now it holds at R.start, where R's needs and what is
 * still running then must fit too.
 */
static void avail_at(struct sched *s, int64_t t, int64_t x_end, uint32_t job_id)
{
	size_t nnodes = s->view.nnodes, i, k, r;

	for (i = 0; i < nnodes; i++) {
		s->at[i].cpus = s->vnodes[i].cpus_free;
		s->at[i].mem_mb = s->vnodes[i].mem_free_mb;
		s->at[i].mask = s->vnodes[i].gpu_free_mask;
	}
	for (r = 0; r < s->view.nrunning; r++) {
		const struct mer_sched_running *run = &s->vrun[r];

		if (run->expected_end > t)
			continue;
		for (k = 0; k < run->nalloc; k++) {
			const struct mer_sched_alloc *a = &run->alloc[k];

			s->at[a->node].cpus += a->cpus;
			s->at[a->node].mem_mb += a->mem_mb;
			s->at[a->node].mask |= a->gpu_mask;
		}
	}
	if (!s->nresv)
		return;
	for (i = 0; i < nnodes; i++) {
		s->limit[i] = s->at[i];
		s->resv_cpus[i] = s->resv_mem[i] = s->resv_mask[i] = 0;
	}
	for (r = 0; r < s->nresv; r++) {
		const struct resv *rv = &s->resv[r];
		int64_t from = rv->start > t ? rv->start : t;

		if (rv->job_id == job_id || rv->start >= x_end || rv->end <= t)
			continue;
		for (k = 0; k < rv->nnodes; k++) {
			uint32_t n = rv->node[k];
			uint64_t cpus = s->vnodes[n].cpus_free,
				 mem = s->vnodes[n].mem_free_mb;

			/* free at `from`: now's plus what ends by then */
			for (size_t q = 0; q < s->view.nrunning; q++) {
				const struct mer_sched_running *run =
					&s->vrun[q];

				if (run->expected_end > from)
					continue;
				for (size_t m = 0; m < run->nalloc; m++)
					if (run->alloc[m].node == n) {
						cpus += run->alloc[m].cpus;
						mem += run->alloc[m].mem_mb;
					}
			}
			if (cpus < s->limit[n].cpus)
				s->limit[n].cpus = (uint32_t)cpus;
			if (mem < s->limit[n].mem_mb)
				s->limit[n].mem_mb = mem;
			s->resv_cpus[n] += rv->cpus;
			s->resv_mem[n] += rv->mem_mb;
			s->resv_mask[n] |= rv->mask[k];
		}
	}
	for (i = 0; i < nnodes; i++) {
		uint64_t c = s->limit[i].cpus > s->resv_cpus[i]
				     ? s->limit[i].cpus - s->resv_cpus[i]
				     : 0;
		uint64_t m = s->limit[i].mem_mb > s->resv_mem[i]
				     ? s->limit[i].mem_mb - s->resv_mem[i]
				     : 0;

		if (c < s->at[i].cpus)
			s->at[i].cpus = (uint32_t)c;
		if (m < s->at[i].mem_mb)
			s->at[i].mem_mb = m;
		s->at[i].mask &= ~s->resv_mask[i];
	}
}

static int link_cb(void *core, uint32_t a, uint32_t b, struct mer_link *out)
{
	struct mctld *ctx = core;
	const struct node *na = node_at(ctx, a), *nb = node_at(ctx, b);
	const char *ra, *rb;
	struct links_info li;

	if (!na || !nb || !out)
		return -1;
	memset(out, 0, sizeof(*out));
	out->age_s = -1;
	ra = na->cn->region ? na->cn->region : "";
	rb = nb->cn->region ? nb->cn->region : "";
	out->same_region = *ra && *rb ? strcmp(ra, rb) == 0 : -1;
	out->source = *ra && *rb ? MER_LINK_ESTIMATED : MER_LINK_UNKNOWN;
	if (a == b || probe_link(ctx, a, b, &li) < 0)
		return 0;
	if (li.measured || li.bw_Bps > 0 || li.lat_s > 0)
		out->source =
			li.measured ? MER_LINK_MEASURED : MER_LINK_ESTIMATED;
	out->latency_us = (uint64_t)(li.lat_s * 1e6);
	out->bandwidth_mbps = (uint64_t)(li.bw_Bps * 8 / 1e6);
	if (li.when > 0)
		out->age_s = mer_now() - li.when;
	return 0;
}

/* The reason a job cannot be placed at all, before any select: NULL when
 * its partition is fine. */
static const char *partition_problem(const struct job *j)
{
	if (!j->part)
		return "PartitionInvalid";
	if (!j->part->up)
		return "PartitionDown";
	return NULL;
}

/* The position of tier name in BandwidthTiers= (0 the lowest), or -1 for
 * NULL or a name it does not have. */
static int tier_rank(const struct conf *c, const char *name)
{
	for (size_t i = 0; name && i < c->ntiers; i++)
		if (str_eq_nocase(c->tiers[i].name, name))
			return (int)i;
	return -1;
}

/* Is n of tier min (a position in BandwidthTiers=) or a higher one?
 * min < 0: the job names no tier, and every node is.  A node never
 * measured, or below every tier, is of none. */
static bool tier_ok(const struct mctld *ctx, const struct node *n, int min)
{
	return min < 0 ||
	       tier_rank(ctx->conf, probe_tier(ctx, n->index, NULL)) >= min;
}

/* Which regions of c j's --region and --country allow, by position in
 * c->regions: a malloc'd array, or NULL when the job names neither (every
 * node is allowed, a node of no region too).  Read once per build_views,
 * so that each node costs one look-up. */
static bool *regions_allowed(const struct conf *c, const Meridian__JobDesc *d)
{
	const char *regions = d->regions ? d->regions : "";
	const char *countries = d->countries ? d->countries : "";
	bool *ok;

	if (!*regions && !*countries)
		return NULL;
	ok = xcalloc(c->nregions ? c->nregions : 1, sizeof(*ok));
	for (size_t i = 0; i < c->nregions; i++)
		ok[i] = conf_region_allowed(&c->regions[i], regions, countries);
	return ok;
}

/* Build the select views of j's usable partition nodes as they are at t
 * (see avail_at), less those below its --min-tier and those outside its
 * --region and --country (a node of no region is outside any); returns
 * how many. */
static size_t build_views(struct sched *s, const struct job *j, int64_t t)
{
	struct mctld *ctx = s->ctx;
	const char *want = j->rec->desc->min_tier;
	struct node **pnodes;
	size_t npnodes, nviews = 0, ngpus = 0, i;
	int min_tier = -1;
	bool *region_ok;

	avail_at(s, t, end_of(t, j->rec->time_limit), j->rec->job_id);
	pnodes = node_mgr_partition(ctx, j->part, &npnodes);
	if (npnodes > s->cap_views) {
		s->cap_views = grown(npnodes);
		s->views = xrealloc(s->views, s->cap_views * sizeof(*s->views));
		s->view_nodes = xrealloc(s->view_nodes,
					 s->cap_views * sizeof(*s->view_nodes));
	}
	for (i = 0; i < npnodes; i++)
		ngpus += pnodes[i]->n_gpu_info;
	if (ngpus > s->cap_vgpus) {
		s->cap_vgpus = grown(ngpus);
		s->vgpus = xrealloc(s->vgpus, s->cap_vgpus * sizeof(*s->vgpus));
	}
	if (want && *want) {
		/* A tier gone from BandwidthTiers= since the submit: no node
		 * is of it, so the job waits (ReqNodeNotAvail) rather than
		 * run where it asked not to. */
		min_tier = tier_rank(ctx->conf, want);
		if (min_tier < 0)
			return 0;
	}
	/* A region gone from meridian.conf since the submit allows no node:
	 * the job waits rather than run where it asked not to. */
	region_ok = regions_allowed(ctx->conf, j->rec->desc);
	ngpus = 0;
	for (i = 0; i < npnodes; i++) {
		struct node *n = pnodes[i];
		const struct avail *av = &s->at[n->index];
		const struct conf_region *r;
		struct mer_select_node *v;

		if (!node_usable(n) || !tier_ok(ctx, n, min_tier) ||
		    (j->node_ok && !j->node_ok[n->index]))
			continue;
		/* an earlier run of it may still be there (requeued) */
		if (n->norphans && node_has_orphan(n, j->rec->job_id))
			continue;
		/* --exclusive: only a node nothing else holds at t */
		if (j->rec->desc->exclusive &&
		    (av->cpus < n->cpus ||
		     (av->mask & all_gpus(n->gpus)) != all_gpus(n->gpus) ||
		     (node_mem_known(n) && av->mem_mb < n->real_memory)))
			continue;
		r = conf_find_region(ctx->conf, n->cn->region);
		if (region_ok && (!r || !region_ok[r - ctx->conf->regions]))
			continue;
		v = &s->views[nviews];
		s->view_nodes[nviews++] = n;
		memset(v, 0, sizeof(*v));
		v->name = n->name;
		v->region = n->cn->region ? n->cn->region : "";
		v->gpu_model = n->gpu_model;
		v->cpus = n->cpus;
		v->cpus_free = av->cpus;
		v->mem_mb = n->real_memory;
		v->mem_free_mb = av->mem_mb;
		v->gpus = n->gpus;
		v->gpu_free_mask = av->mask & all_gpus(n->gpus);
		v->gpu_hour_price =
			price_gpu_hour_cached(ctx, n, s->gen, s->now);
		if (v->gpu_hour_price < 0)
			v->gpu_hour_price = INT64_MAX; /* never under a limit */
		v->id = (uint32_t)n->index;
		v->region_index = r ? (int32_t)(r - ctx->conf->regions) : -1;
		/* no array yet where no node has GPUs */
		v->gpu = n->n_gpu_info ? &s->vgpus[ngpus] : NULL;
		for (size_t g = 0; g < n->n_gpu_info; g++) {
			const Meridian__Gpu *gi = n->gpu_info[g];
			struct mer_select_gpu *vg = &s->vgpus[ngpus++];

			memset(vg, 0, sizeof(*vg));
			vg->index = gi->index;
			vg->model = gi->model ? gi->model : "";
			vg->pci_bus_id = gi->pci_bus_id ? gi->pci_bus_id : "";
			vg->cpuset = gi->cpuset ? gi->cpuset : "";
			vg->numa_node = gi->numa_node;
			vg->memory_mb = gi->memory_mb;
			if (n->gpu_peers && gi->n_peers) {
				vg->peers = n->gpu_peers + n->gpu_peer_off[g];
				vg->npeers = gi->n_peers;
			}
		}
		v->n_gpu = n->n_gpu_info;
	}
	free(region_ok);
	return nviews;
}

static void select_job(const struct job *j, struct mer_select_job *req)
{
	memset(req, 0, sizeof(*req));
	req->job_id = j->rec->job_id;
	req->num_nodes = j->rec->num_nodes;
	req->tasks_per_node = j->tasks_per_node;
	req->cpus_per_node = j->cpus_per_node;
	req->mem_mb_per_node = j->mem_per_node;
	req->gpus_per_node = j->gpus_per_node;
	req->gpu_type = j->rec->desc->gpu_type ? j->rec->desc->gpu_type : "";
	req->max_price = j->rec->desc->max_price;
	req->ntasks = j->rec->ntasks;
	if (j->tasks_per_node && j->gpus_per_node % j->tasks_per_node == 0)
		req->gpus_per_task = j->gpus_per_node / j->tasks_per_node;
	/* submit checked the pattern (job_mgr_validate): COMM_DEFAULT is a
	 * ring, and the stages divide num_nodes */
	switch (j->rec->desc->comm) {
	case MERIDIAN__COMM_PATTERN__COMM_PIPELINE:
		req->comm_pattern = MER_COMM_PIPELINE;
		req->comm_stages = j->rec->desc->comm_stages;
		break;
	case MERIDIAN__COMM_PATTERN__COMM_NONE:
		req->comm_pattern = MER_COMM_NONE;
		break;
	default:
		req->comm_pattern = MER_COMM_RING;
		break;
	}
	req->comm_bytes = j->rec->desc->comm_bytes ? j->rec->desc->comm_bytes
						   : MER_COMM_BYTES_DEFAULT;
}

/* Ask the select plugin where j goes at t; 0 with s->res_* filled (view
 * indices), or -1 with err holding its reason. */
static int select_at(struct sched *s, const struct job *j, int64_t t,
		     struct mer_select_result *res, size_t *nviews,
		     struct mer_error *err)
{
	struct mer_select_job job;
	struct mer_select_request req;

	select_job(j, &job);
	*nviews = build_views(s, j, t);
	if (job.num_nodes > s->cap_res) {
		s->cap_res = grown(job.num_nodes);
		s->res_index = xrealloc(s->res_index,
					s->cap_res * sizeof(*s->res_index));
		s->res_mask = xrealloc(s->res_mask,
				       s->cap_res * sizeof(*s->res_mask));
		s->res_order = xrealloc(s->res_order,
					s->cap_res * MER_SELECT_MAX_GPUS);
	}
	memset(s->res_order, UINT8_MAX,
	       (size_t)job.num_nodes * MER_SELECT_MAX_GPUS);
	memset(&req, 0, sizeof(req));
	req.job = &job;
	req.nodes = s->views;
	req.nnodes = *nviews;
	req.regions = s->regions;
	req.nregions = s->nregions;
	req.when = t;
	req.api = &s->select_api;
	memset(res, 0, sizeof(*res));
	res->node_index = s->res_index;
	res->gpu_mask = s->res_mask;
	res->gpu_order = s->res_order;
	res->bottleneck = UINT32_MAX;
	err->text[0] = '\0';
	if (s->select_ops->select(s->select_state, &req, res, err) < 0) {
		if (!err->text[0])
			mer_error_set(err, "Resources");
		return -1;
	}
	return 0;
}

int sched_quote(struct mctld *ctx, const struct job *j,
		Meridian__QuoteReply *rep, struct mer_error *err)
{
	struct sched *s = ctx->sched;
	struct mer_select_result res;
	struct mer_select_job job;
	struct mer_error why = {""};
	size_t nviews;
	const struct conf *c = ctx->conf;

	if (s->in_pass) {
		errno = EBUSY;
		return mer_error_set(err, "a scheduling pass is running");
	}
	s->now = mer_now();
	s->gen++;
	s->nresv = 0;
	view_build(s, j->rec->num_nodes, 1);
	select_job(j, &job);
	rep->now = s->now;
	rep->num_nodes = j->rec->num_nodes;
	rep->comm = job.comm_pattern == MER_COMM_PIPELINE
			    ? MERIDIAN__COMM_PATTERN__COMM_PIPELINE
		    : job.comm_pattern == MER_COMM_NONE
			    ? MERIDIAN__COMM_PATTERN__COMM_NONE
			    : MERIDIAN__COMM_PATTERN__COMM_RING;
	rep->comm_stages = job.comm_stages;
	rep->comm_bytes = job.comm_bytes;
	rep->select_type = c->select_type && *c->select_type
				   ? c->select_type
				   : (char *)"select/linear";
	if (select_at(s, j, s->now, &res, &nviews, &why) < 0 ||
	    check_result(s, j, nviews, &res) < 0) {
		rep->fits_now = false;
		pb_set_str(&rep->reason, why.text[0] ? why.text : "Resources");
		return 0;
	}
	rep->fits_now = true;
	rep->predicted_step_us = res.predicted_step_us;
	rep->nodes = xcalloc(res.nnodes + 1, sizeof(*rep->nodes));
	for (uint32_t i = 0; i < res.nnodes; i++) {
		struct node *n = s->view_nodes[res.node_index[i]];
		Meridian__QuoteNode *q = xcalloc(1, sizeof(*q));
		const char *tier = probe_tier(ctx, n->index, NULL);
		int64_t price = price_gpu_hour(ctx, n, s->now);

		meridian__quote_node__init(q);
		pb_set_str(&q->node, n->name);
		pb_set_str(&q->region, n->cn->region ? n->cn->region : "");
		pb_set_str(&q->tier, tier ? tier : "");
		q->gpus = (uint32_t)__builtin_popcountll(res.gpu_mask[i]);
		q->gpu_order = gpu_order_of(&res, i, &q->n_gpu_order);
		q->gpu_hour_price = price > 0 ? price : 0;
		rep->gpus += q->gpus;
		rep->cost_per_hour += q->gpu_hour_price * q->gpus;
		rep->nodes[rep->n_nodes++] = q;
	}
	if (res.bottleneck < res.nnodes && res.nnodes > 1) {
		const struct node
			*a = s->view_nodes[res.node_index[res.bottleneck]],
			*b = s->view_nodes[res.node_index[(res.bottleneck + 1) %
							  res.nnodes]];
		struct links_info li;

		pb_set_str(&rep->bottleneck_from, a->name);
		pb_set_str(&rep->bottleneck_to, b->name);
		if (probe_link(ctx, a->index, b->index, &li) == 0) {
			rep->bottleneck_latency_s = li.lat_s;
			rep->bottleneck_bytes_per_s = li.bw_Bps;
			rep->bottleneck_measured = li.measured;
			rep->bottleneck_when = li.when;
		}
	}
	return 0;
}

void sched_quote_free(Meridian__QuoteReply *rep)
{
	for (size_t i = 0; i < rep->n_nodes; i++) {
		pb_free_str(&rep->nodes[i]->node);
		pb_free_str(&rep->nodes[i]->region);
		pb_free_str(&rep->nodes[i]->tier);
		free(rep->nodes[i]->gpu_order);
		free(rep->nodes[i]);
	}
	free(rep->nodes);
	rep->nodes = NULL;
	rep->n_nodes = 0;
	pb_free_str(&rep->reason);
	pb_free_str(&rep->bottleneck_from);
	pb_free_str(&rep->bottleneck_to);
}

static struct job *pending_job(struct mctld *ctx, uint32_t id)
{
	struct job *j = job_find(ctx, id);

	if (!j || j->rec->state != MERIDIAN__JOB_STATE__JOB_PENDING ||
	    j->rec->desc->hold != MERIDIAN__HOLD_KIND__HOLD_NONE)
		return NULL;
	return j;
}

static void resv_drop(struct sched *s, uint32_t job_id)
{
	for (size_t i = 0; i < s->nresv; i++) {
		if (s->resv[i].job_id != job_id)
			continue;
		/* keep the arrays of the last one: swap, do not free */
		struct resv tmp = s->resv[i];

		s->resv[i] = s->resv[s->nresv - 1];
		s->resv[s->nresv - 1] = tmp;
		s->nresv--;
		return;
	}
}

static unsigned popcount64(uint64_t x)
{
	return (unsigned)__builtin_popcountll(x);
}

/* Where j starts now.  -N MIN-MAX: on as many of the nodes free for it
 * now as MAX allows (its tasks and GPUs spread again over them), else on
 * MIN. */
static int select_now(struct sched *s, struct job *j,
		      struct mer_select_result *res, size_t *nviews,
		      struct mer_error *err)
{
	const Meridian__JobDesc *d = j->rec->desc;
	uint32_t lo = j->rec->num_nodes, fit = 0;
	struct job_res r, was;
	struct mer_error e;

	if (d->max_nodes <= lo || job_array_pending(j->rec))
		return select_at(s, j, s->now, res, nviews, err);
	*nviews = build_views(s, j, s->now);
	for (size_t i = 0; i < *nviews; i++) {
		const struct mer_select_node *v = &s->views[i];

		fit += v->cpus_free >= j->cpus_per_node &&
		       (!j->mem_per_node ||
			v->mem_free_mb >= j->mem_per_node) &&
		       popcount64(v->gpu_free_mask) >= j->gpus_per_node;
	}
	if (fit > d->max_nodes)
		fit = d->max_nodes;
	if (fit > lo) {
		Meridian__JobDesc more = *d;

		more.min_nodes = fit;
		if (job_res_compute(&more, &r, &e) == 0) {
			job_mgr_res_of(j, &was);
			job_mgr_set_res(j, &r);
			if (select_at(s, j, s->now, res, nviews, err) == 0)
				return 0;
			job_mgr_set_res(j, &was);
		}
	}
	return select_at(s, j, s->now, res, nviews, err);
}

static int try_start(void *core, const struct mer_sched_job *sj,
		     struct mer_error *err)
{
	struct mctld *ctx = core;
	struct sched *s = ctx->sched;
	struct job *j = pending_job(ctx, sj->job_id);
	struct mer_select_result res;
	Meridian__JobNodeAlloc **alloc;
	size_t nviews;
	const char *reason;

	if (!j) {
		mer_error_set(err, "Invalid");
		return -1;
	}
	if ((reason = partition_problem(j)) || (reason = limits_wait(ctx, j))) {
		job_mgr_set_reason(j, reason);
		return mer_error_set(err, "%s", reason);
	}
	if (select_now(s, j, &res, &nviews, err) < 0) {
		job_mgr_set_reason(j, err->text);
		return -1;
	}
	/* The views already leave out what reservations hold, so this also
	 * keeps a plugin from placing a job in another's way. */
	if (check_result(s, j, nviews, &res) < 0) {
		log_warnx("%s: invalid placement for job %u; job not started",
			  s->select_ops->hdr.name, j->rec->job_id);
		job_mgr_set_reason(j, "SelectError");
		return mer_error_set(err, "SelectError");
	}
	if (job_array_pending(j->rec)) {
		/* one task of the array: a record of its own from now on */
		struct job *meta = j;

		if (!(j = job_array_split(ctx, meta))) {
			job_mgr_set_reason(meta, "SelectError");
			return mer_error_set(err, "SelectError");
		}
		if (j != meta &&
		    ++meta->array_running >= meta->rec->array_max_running &&
		    meta->rec->array_max_running)
			job_mgr_set_reason(meta, "JobArrayTaskLimit");
	}
	alloc = build_alloc(s, j, &res);
	if (job_mgr_start(ctx, j, alloc, res.nnodes) < 0) {
		free_alloc(alloc, res.nnodes);
		job_mgr_set_reason(j, "SelectError");
		return mer_error_set(err, "SelectError");
	}
	limits_started(ctx, j);
	resv_drop(s, sj->job_id);
	s->started++;
	if (s->in_pass)
		view_add_running(s, j);
	return 0;
}

static void set_reason(void *core, uint32_t job_id, const char *reason)
{
	struct job *j = job_find(core, job_id);

	if (j && j->rec->state == MERIDIAN__JOB_STATE__JOB_PENDING && reason)
		job_mgr_set_reason(j, reason);
}

static int cmp_time(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

/* Reasons that waiting does not cure: trial stops asking at later times. */
static bool hopeless(const char *reason)
{
	return strcmp(reason, "ReqNodeNotAvail") == 0 ||
	       strcmp(reason, "MaxPrice") == 0 ||
	       strcmp(reason, "BadConstraints") == 0;
}

/* What a trial found, kept with the job for `mqueue --start`. */
static void expect(struct sched *s, struct job *j, int64_t start,
		   const struct mer_select_result *res)
{
	char **names;

	j->rec->expected_start = start;
	pb_free_str(&j->rec->sched_nodes);
	if (!res)
		return;
	names = xcalloc(res->nnodes + 1, sizeof(*names));
	for (uint32_t k = 0; k < res->nnodes; k++)
		names[k] = (char *)s->view_nodes[res->node_index[k]]->name;
	j->rec->sched_nodes = hostlist_compress(names, res->nnodes);
	free(names);
}

static int trial(void *core, const struct mer_sched_job *sj,
		 struct mer_sched_trial *out, struct mer_error *err)
{
	struct mctld *ctx = core;
	struct sched *s = ctx->sched;
	struct job *j = pending_job(ctx, sj->job_id);
	struct mer_select_result res;
	const char *reason;
	size_t nev = 0, i, nviews;

	out->start = MER_TIME_NEVER;
	out->nnodes = 0;
	if (!j)
		return mer_error_set(err, "Invalid");
	if ((reason = partition_problem(j)))
		return mer_error_set(err, "%s", reason);
	/* The times at which what is free grows: now, each running job's
	 * expected end, each other reservation's end. */
	if (1 + s->view.nrunning + s->nresv > s->cap_events) {
		s->cap_events = grown(1 + s->view.nrunning + s->nresv);
		s->events =
			xrealloc(s->events, s->cap_events * sizeof(*s->events));
	}
	s->events[nev++] = s->now;
	for (i = 0; i < s->view.nrunning; i++)
		if (s->vrun[i].expected_end != MER_TIME_NEVER)
			s->events[nev++] = s->vrun[i].expected_end;
	for (i = 0; i < s->nresv; i++)
		if (s->resv[i].job_id != j->rec->job_id &&
		    s->resv[i].end != MER_TIME_NEVER && s->resv[i].end > s->now)
			s->events[nev++] = s->resv[i].end;
	qsort(s->events, nev, sizeof(*s->events), cmp_time);
	for (i = 0; i < nev; i++) {
		int64_t t = s->events[i];

		if (i && t == s->events[i - 1])
			continue;
		if (select_at(s, j, t, &res, &nviews, err) < 0) {
			if (hopeless(err->text)) {
				expect(s, j, 0, NULL);
				return -1;
			}
			continue;
		}
		if (check_result(s, j, nviews, &res) < 0)
			return mer_error_set(err, "SelectError");
		expect(s, j, t, &res);
		out->start = t;
		out->nnodes = res.nnodes;
		for (uint32_t k = 0; k < res.nnodes; k++) {
			out->node_index[k] =
				(uint32_t)s->view_nodes[res.node_index[k]]
					->index;
			out->gpu_mask[k] = res.gpu_mask[k];
		}
		err->text[0] = '\0';
		return 0;
	}
	expect(s, j, 0, NULL);
	return -1; /* err: the reason at the last time tried */
}

static int reserve(void *core, const struct mer_sched_job *sj,
		   const struct mer_sched_trial *at, struct mer_error *err)
{
	struct mctld *ctx = core;
	struct sched *s = ctx->sched;
	struct job *j = pending_job(ctx, sj->job_id);
	struct resv *rv;
	uint32_t k, q;

	if (!j)
		return mer_error_set(err, "Invalid");
	if (!at || at->start == MER_TIME_NEVER ||
	    at->nnodes != j->rec->num_nodes)
		return mer_error_set(err,
				     "reservation of job %u: expected "
				     "%u nodes and a start time",
				     j->rec->job_id, j->rec->num_nodes);
	for (k = 0; k < at->nnodes; k++) {
		uint32_t n = at->node_index[k];

		if (n >= s->view.nnodes ||
		    (at->gpu_mask[k] & ~all_gpus(s->vnodes[n].gpus)) ||
		    (uint32_t)__builtin_popcountll(at->gpu_mask[k]) !=
			    j->gpus_per_node)
			return mer_error_set(err,
					     "reservation of job %u: "
					     "node %u or its GPUs do not exist",
					     j->rec->job_id, n);
		for (q = 0; q < k; q++)
			if (at->node_index[q] == n)
				return mer_error_set(err,
						     "reservation of job %u: "
						     "node %u twice",
						     j->rec->job_id, n);
	}
	resv_drop(s, j->rec->job_id);
	if (s->nresv == s->cap_resv) {
		size_t cap = grown(s->cap_resv + 1);

		s->resv = xrealloc(s->resv, cap * sizeof(*s->resv));
		memset(&s->resv[s->cap_resv], 0,
		       (cap - s->cap_resv) * sizeof(*s->resv));
		s->cap_resv = cap;
	}
	rv = &s->resv[s->nresv++];
	rv->node = xrealloc(rv->node, at->nnodes * sizeof(*rv->node));
	rv->mask = xrealloc(rv->mask, at->nnodes * sizeof(*rv->mask));
	rv->job_id = j->rec->job_id;
	rv->start = at->start < s->now ? s->now : at->start;
	rv->end = end_of(rv->start, j->rec->time_limit);
	rv->cpus = j->cpus_per_node;
	rv->mem_mb = j->mem_per_node;
	rv->nnodes = at->nnodes;
	memcpy(rv->node, at->node_index, at->nnodes * sizeof(*rv->node));
	memcpy(rv->mask, at->gpu_mask, at->nnodes * sizeof(*rv->mask));
	return 0;
}

static void wake_at(void *core, int64_t when)
{
	struct sched *s = ((struct mctld *)core)->sched;

	if (!s->wake_req || when < s->wake_req)
		s->wake_req = when > 0 ? when : 1;
}

/* After a pass: the plugin's wake_at request replaces the last one. */
static void arm_wake(struct sched *s)
{
	s->wake_time = s->wake_req;
	s->wake_req = 0;
	if (!s->wake_timer)
		return;
	if (!s->wake_time) {
		evtimer_del(s->wake_timer);
	} else {
		int64_t d = s->wake_time > s->now ? s->wake_time - s->now : 0;
		struct timeval tv = {(time_t)d, 0};

		evtimer_add(s->wake_timer, &tv);
	}
}

/* Each array's running tasks, into its record's array_running (for
 * this pass, gen): one walk over the running jobs.  The cluster's CPUs. */
static uint64_t count_array_tasks(struct mctld *ctx, uint64_t gen)
{
	struct job *j, *meta;
	uint64_t cpus = 0;
	size_t nn = node_mgr_count(ctx);

	for (size_t i = 0; i < nn; i++)
		cpus += node_at(ctx, i)->cpus;

	TAILQ_FOREACH(j, job_mgr_running(ctx), state_entry) {
		uint32_t a = j->rec->array_job_id;

		if (!a || a == j->rec->job_id || !(meta = job_find(ctx, a)) ||
		    !job_array_pending(meta->rec))
			continue;
		if (meta->array_gen != gen) {
			meta->array_gen = gen;
			meta->array_running = 0;
		}
		meta->array_running++;
	}
	return cpus;
}

/* The entries an array's record gets in this pass: its tasks pending, no
 * more than its %N throttle leaves room for nor than the cluster's CPUs
 * could hold at once; 0 with the reason when the throttle is reached. */
static size_t array_copies(struct mctld *ctx, struct job *meta, uint64_t gen,
			   uint64_t cpus)
{
	uint64_t per =
		(uint64_t)(meta->cpus_per_node ? meta->cpus_per_node : 1) *
		(meta->rec->num_nodes ? meta->rec->num_nodes : 1);
	size_t n = job_array_npending(meta->rec),
	       fit = (size_t)(cpus / per) + 1, eligible;
	uint32_t running = meta->array_gen == gen ? meta->array_running : 0,
		 most = meta->rec->array_max_running;

	meta->array_gen = gen;
	meta->array_running = running;
	for (size_t k = 0; k < meta->rec->n_deps; k++)
		if (meta->rec->deps[k]->kind ==
		    MERIDIAN__DEP_KIND__DEP_AFTERCORR) {
			/* only the tasks whose counterparts ended ok */
			job_array_next_task(ctx, meta, &eligible);
			if (n > eligible)
				n = eligible;
			break;
		}
	if (most) {
		if (running >= most) {
			job_mgr_set_reason(meta, "JobArrayTaskLimit");
			return 0;
		}
		if (n > most - running)
			n = most - running;
	}
	return n < fit ? n : fit;
}

void sched_run_with(struct mctld *ctx, const struct mer_sched_ops *ops,
		    void *state)
{
	struct sched *s = ctx->sched;
	struct mer_sched_api api;
	struct job *j, *next;
	size_t n = 0, nodes = 0;
	int64_t dep_wake = 0;
	bool on_start = false;
	uint64_t started = s->started, cpus;

	ctx->sched_want_now = ctx->sched_want_soon = false;
	s->passes++;
	s->gen++;
	s->now = mer_now();
	s->nresv = 0;
	s->wake_req = 0;
	priority_pass(ctx, s->now);
	limits_pass(ctx);
	cpus = count_array_tasks(ctx, s->gen);
	for (j = TAILQ_FIRST(job_mgr_pending(ctx)); j; j = next) {
		struct mer_sched_job *sj;
		size_t copies = 1;
		const char *why;

		next = TAILQ_NEXT(j, state_entry);
		if (j->rec->desc->deadline) {
			/* --deadline: when starting now could not end by it */
			int64_t last = j->rec->desc->deadline -
				       (int64_t)j->rec->time_limit * 60;

			if (s->now > last) {
				job_mgr_end(ctx, j,
					    MERIDIAN__JOB_STATE__JOB_DEADLINE,
					    0, 0, s->now, "DeadLine");
				continue;
			}
			if (!dep_wake || last + 1 < dep_wake)
				dep_wake = last + 1;
		}
		if (j->rec->desc->hold != MERIDIAN__HOLD_KIND__HOLD_NONE)
			continue;
		if (j->rec->desc->begin_time > s->now) {
			job_mgr_set_reason(j, "BeginTime");
			if (!dep_wake || j->rec->desc->begin_time < dep_wake)
				dep_wake = j->rec->desc->begin_time;
			continue;
		}
		if (j->rec->n_deps) {
			enum job_deps d = job_mgr_deps(ctx, j, s->now,
						       &dep_wake, &on_start);

			if (d == JOB_DEPS_NEVER &&
			    j->rec->desc->kill_on_invalid_dep)
				job_mgr_end(ctx, j,
					    MERIDIAN__JOB_STATE__JOB_CANCELLED,
					    0, 0, s->now,
					    "DependencyNeverSatisfied");
			if (d != JOB_DEPS_MET)
				continue;
		}
		if ((why = limits_wait(ctx, j))) {
			job_mgr_set_reason(j, why);
			continue;
		}
		if (job_array_pending(j->rec) &&
		    !(copies = array_copies(ctx, j, s->gen, cpus)))
			continue;
		if (n + copies > s->cap_jobs) {
			s->cap_jobs = grown(n + copies);
			s->jobs = xrealloc(s->jobs,
					   s->cap_jobs * sizeof(*s->jobs));
		}
		sj = &s->jobs[n++];
		memset(sj, 0, sizeof(*sj));
		sj->job_id = j->rec->job_id;
		sj->user_id = j->rec->user_id;
		sj->partition =
			j->part ? j->part->name : j->rec->desc->partition;
		sj->priority = j->rec->priority;
		sj->submit_time = (time_t)j->rec->submit_time;
		sj->time_limit = j->rec->time_limit;
		sj->num_nodes = j->rec->num_nodes;
		sj->gpus = j->gpus_per_node * j->rec->num_nodes;
		sj->ntasks = j->rec->ntasks;
		sj->cpus_per_node = j->cpus_per_node;
		sj->mem_mb_per_node = j->mem_per_node;
		sj->gpus_per_node = j->gpus_per_node;
		sj->max_price = j->rec->desc->max_price;
		sj->priority_tier = j->part ? j->part->priority_tier : 0;
		nodes += j->rec->num_nodes;
		/* an array's tasks: as many entries as could start now,
		 * each try_start of one starting its next task */
		for (size_t c = 1; c < copies; c++) {
			s->jobs[n] = *sj;
			sj = &s->jobs[n++];
			nodes += j->rec->num_nodes;
		}
	}
	if (n) {
		view_build(s, nodes, n);
		memset(&api, 0, sizeof(api));
		api.try_start = try_start;
		api.set_reason = set_reason;
		api.core = ctx;
		api.view = &s->view;
		api.trial = trial;
		api.reserve = reserve;
		api.wake_at = wake_at;
		s->in_pass = true;
		ops->schedule(state, s->jobs, n, &api);
		s->in_pass = false;
	}
	s->nresv = 0; /* reservations are for one pass */
	/* an after:ID+MIN comes due; an after: whose job started in this
	 * pass is met in the next */
	if (dep_wake && (!s->wake_req || dep_wake < s->wake_req))
		s->wake_req = dep_wake;
	if (on_start && s->started != started &&
	    (!s->wake_req || s->now + 1 < s->wake_req))
		s->wake_req = s->now + 1;
	arm_wake(s);
}

void sched_run(struct mctld *ctx)
{
	struct sched *s = ctx->sched;

	sched_run_with(ctx, s->sched_ops, s->sched_state);
}
