/*
 * node_mgr.c - nodes: from the config, registration and reconciliation,
 * liveness, admin drain/resume/down, what is free on each.
 *
 * A node's capacity is what meridian.conf says where it says it (CPUs=,
 * RealMemory=, Gres=), else what the node reported at registration; before
 * the first registration an unset value is unknown, and submit checks do
 * not refuse a job over an unknown value.  Only what an admin set (drain,
 * down, the reason) is persisted, as a NodeRecord.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "hostlist.h"
#include "log.h"
#include "mctld.h"
#include "util.h"

#define NODE_MAX_REASON 1024
/* What a registering node may say of itself.  A node is a provider's
 * machine: what it sends is bounded like a user's request. */
#define NODE_REG_MAX_NAME    255
#define NODE_REG_MAX_VERSION 64
#define NODE_REG_MAX_GPUS    1024
#define NODE_REG_MAX_GPU_STR 64
#define NODE_REG_MAX_CPUSET  4096
#define NODE_REG_MAX_JOBS    65536
#define NODE_REG_MAX_XML     (8u << 20)
/* GPU-to-GPU links in all: every pair of the 64 GPUs scheduled */
#define NODE_REG_MAX_PEERS 4096
/* reason_uid of a reason mctld set itself (from the config) */
#define NODE_REASON_BY_MCTLD UINT32_MAX

struct part_nodes {
	struct node **nodes;
	size_t n;
};

struct node_mgr {
	struct node *nodes;
	size_t n;
	struct node **by_name;	  /* sorted by name */
	struct part_nodes *parts; /* parallel to conf->partitions */
	size_t nparts;
	struct node_list dirty;
	unsigned db; /* "nodes": node name -> packed NodeRecord */
};

static char *lower_dup(const char *s)
{
	char *d = xstrdup(s ? s : ""), *p;

	for (p = d; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	return d;
}

static int by_name_cmp(const void *a, const void *b)
{
	const struct node *x = *(struct node *const *)a;
	const struct node *y = *(struct node *const *)b;

	return strcmp(x->name, y->name);
}

static int by_index_cmp(const void *a, const void *b)
{
	const struct node *x = *(struct node *const *)a;
	const struct node *y = *(struct node *const *)b;

	return x->index < y->index ? -1 : x->index > y->index;
}

static void gpu_info_free(struct node *n)
{
	size_t i;

	for (i = 0; i < n->n_gpu_info; i++)
		protobuf_c_message_free_unpacked(&n->gpu_info[i]->base, NULL);
	free(n->gpu_info);
	n->gpu_info = NULL;
	n->n_gpu_info = 0;
	free(n->gpu_peers);
	free(n->gpu_peer_off);
	n->gpu_peers = NULL;
	n->gpu_peer_off = NULL;
}

/* gpu_info's links, flat, for the select views (checked at register). */
static void gpu_peers_build(struct node *n)
{
	size_t total = 0, k = 0;

	for (size_t g = 0; g < n->n_gpu_info; g++)
		total += n->gpu_info[g]->n_peers;
	if (!total)
		return;
	n->gpu_peers = xcalloc(total, sizeof(*n->gpu_peers));
	n->gpu_peer_off = xcalloc(n->n_gpu_info, sizeof(*n->gpu_peer_off));
	for (size_t g = 0; g < n->n_gpu_info; g++) {
		const Meridian__Gpu *gi = n->gpu_info[g];

		n->gpu_peer_off[g] = k;
		for (size_t p = 0; p < gi->n_peers; p++, k++) {
			n->gpu_peers[k].gpu = gi->peers[p]->gpu;
			n->gpu_peers[k].link = (uint32_t)gi->peers[p]->link;
			n->gpu_peers[k].bandwidth_mbs =
				gi->peers[p]->bandwidth_mbs;
		}
	}
}

/* GPUs as the config describes them, for NodeInfo before registration. */
static void gpu_info_from_conf(struct node *n)
{
	uint32_t i;

	gpu_info_free(n);
	if (!n->gpus)
		return;
	n->gpu_info = xcalloc(n->gpus, sizeof(*n->gpu_info));
	for (i = 0; i < n->gpus; i++) {
		Meridian__Gpu *g = xmalloc(sizeof(*g));

		meridian__gpu__init(g);
		g->index = i;
		pb_set_str(&g->model, n->gpu_model);
		g->numa_node = -1;
		n->gpu_info[i] = g;
	}
	n->n_gpu_info = n->gpus;
}

static void set_gres(struct node *n)
{
	free(n->gres);
	if (n->cn->gres && *n->cn->gres)
		n->gres = xstrdup(n->cn->gres);
	else if (n->gpus && *n->gpu_model)
		n->gres = xasprintf("gpu:%s:%u", n->gpu_model, n->gpus);
	else if (n->gpus)
		n->gres = xasprintf("gpu:%u", n->gpus);
	else
		n->gres = xstrdup("");
}

struct node_mgr *node_mgr_create(struct mctld *ctx, struct mer_error *err)
{
	const struct conf *c = ctx->conf;
	struct node_mgr *nm = xcalloc(1, sizeof(*nm));
	size_t i, k;

	TAILQ_INIT(&nm->dirty);
	nm->n = c->nnodes;
	nm->nodes = xcalloc(nm->n ? nm->n : 1, sizeof(*nm->nodes));
	nm->by_name = xcalloc(nm->n ? nm->n : 1, sizeof(*nm->by_name));
	for (i = 0; i < nm->n; i++) {
		struct node *n = &nm->nodes[i];
		const struct conf_node *cn = &c->nodes[i];

		n->cn = cn;
		n->name = cn->name;
		n->index = i;
		n->cpus = cn->cpus;
		n->real_memory = cn->real_memory;
		n->gpus = cn->gpus;
		if (n->gpus > MER_SELECT_MAX_GPUS) {
			log_warnx("node %s: %u GPUs configured; only %u are "
				  "scheduled",
				  n->name, n->gpus, MER_SELECT_MAX_GPUS);
			n->gpus = MER_SELECT_MAX_GPUS;
		}
		n->gpu_model = lower_dup(cn->gpu_model);
		gpu_info_from_conf(n);
		set_gres(n);
		if (cn->state == CONF_NODE_DRAIN) {
			n->drain = true;
			n->reason = xstrdup("State=DRAIN in meridian.conf");
		} else if (cn->state == CONF_NODE_DOWN) {
			n->admin_down = true;
			n->reason = xstrdup("State=DOWN in meridian.conf");
		}
		n->reason_time = mer_now();
		n->reason_uid = NODE_REASON_BY_MCTLD;
		nm->by_name[i] = n;
	}
	qsort(nm->by_name, nm->n, sizeof(*nm->by_name), by_name_cmp);
	for (i = 1; i < nm->n; i++) {
		if (strcmp(nm->by_name[i - 1]->name, nm->by_name[i]->name) ==
		    0) {
			mer_error_set(err, "%s:%d: node %s is defined twice",
				      c->path ? c->path : "meridian.conf",
				      nm->by_name[i]->cn->line,
				      nm->by_name[i]->name);
			node_mgr_destroy(nm);
			errno = EINVAL;
			return NULL;
		}
	}
	nm->parts = xcalloc(c->npartitions ? c->npartitions : 1,
			    sizeof(*nm->parts));
	nm->nparts = c->npartitions;
	ctx->nodes = nm; /* node_find below */
	for (i = 0; i < c->npartitions; i++) {
		const struct conf_partition *p = &c->partitions[i];
		struct part_nodes *pn = &nm->parts[i];

		pn->nodes =
			xcalloc(p->nnodes ? p->nnodes : 1, sizeof(*pn->nodes));
		for (k = 0; k < p->nnodes; k++) {
			struct node *n = node_find(ctx, p->nodes[k]);

			if (!n) {
				mer_error_set(err,
					      "%s:%d: partition %s lists "
					      "node %s, which is not a "
					      "NodeName",
					      c->path ? c->path
						      : "meridian.conf",
					      p->line, p->name, p->nodes[k]);
				ctx->nodes = NULL;
				node_mgr_destroy(nm);
				errno = EINVAL;
				return NULL;
			}
			if (n->nparts && n->parts[n->nparts - 1] == p)
				continue; /* listed twice */
			pn->nodes[pn->n++] = n;
			n->parts = xrealloc(
				n->parts, (n->nparts + 1) * sizeof(*n->parts));
			n->parts[n->nparts++] = p;
		}
		/* Placement walks nodes in config order, whatever the order
		 * of Nodes= was. */
		qsort(pn->nodes, pn->n, sizeof(*pn->nodes), by_index_cmp);
	}
	return nm;
}

void node_mgr_destroy(struct node_mgr *nm)
{
	size_t i;

	if (!nm)
		return;
	for (i = 0; i < nm->n; i++) {
		struct node *n = &nm->nodes[i];

		free(n->reason);
		free(n->version);
		free(n->hostname);
		free(n->gpu_model);
		free(n->gres);
		gpu_info_free(n);
		free(n->job_ids);
		free(n->orphans);
		free(n->parts);
	}
	for (i = 0; nm->parts && i < nm->nparts; i++)
		free(nm->parts[i].nodes);
	free(nm->nodes);
	free(nm->by_name);
	free(nm->parts);
	free(nm);
}

size_t node_mgr_count(const struct mctld *ctx)
{
	return ctx->nodes->n;
}

struct node *node_at(const struct mctld *ctx, size_t i)
{
	return i < ctx->nodes->n ? &ctx->nodes->nodes[i] : NULL;
}

struct node *node_find(const struct mctld *ctx, const char *name)
{
	const struct node_mgr *nm = ctx->nodes;
	size_t lo = 0, hi = nm->n;

	if (!name)
		return NULL;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strcmp(name, nm->by_name[mid]->name);

		if (c == 0)
			return nm->by_name[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

struct node **node_mgr_partition(const struct mctld *ctx,
				 const struct conf_partition *p, size_t *n)
{
	size_t i = (size_t)(p - ctx->conf->partitions);

	if (!p || i >= ctx->conf->npartitions) {
		*n = 0;
		return NULL;
	}
	*n = ctx->nodes->parts[i].n;
	return ctx->nodes->parts[i].nodes;
}

/* --- the commit source: what an admin set survives a restart ----------- */

static void node_record_fill(const struct node *n, Meridian__NodeRecord *rec);

static bool src_pending(void *arg)
{
	struct node_mgr *nm = arg;

	return !TAILQ_EMPTY(&nm->dirty);
}

static long src_collect(struct state *st, void *arg, struct mer_error *err)
{
	struct node_mgr *nm = arg;
	struct node *n;
	long writes = 0;

	TAILQ_FOREACH(n, &nm->dirty, dirty_entry) {
		Meridian__NodeRecord rec;

		node_record_fill(n, &rec);
		if (state_put_msg(st, nm->db, n->name, strlen(n->name),
				  &rec.base, err) < 0)
			return -1;
		writes++;
	}
	return writes;
}

static void src_done(void *arg, bool ok)
{
	struct node_mgr *nm = arg;
	struct node *n;

	if (!ok)
		return; /* still dirty: written with the next commit */
	while ((n = TAILQ_FIRST(&nm->dirty))) {
		TAILQ_REMOVE(&nm->dirty, n, dirty_entry);
		n->dirty = false;
	}
}

static const struct state_source node_source = {
	.name = "nodes",
	.pending = src_pending,
	.collect = src_collect,
	.done = src_done,
};

static void load_record(struct mctld *ctx, Meridian__NodeRecord *rec);

static int load_one(const void *k, size_t klen, const void *v, size_t vlen,
		    void *arg)
{
	Meridian__NodeRecord *rec;

	rec = meridian__node_record__unpack(NULL, vlen, v);
	if (!rec) {
		log_warnx("state: node record %.*s does not decode; skipped",
			  (int)klen, (const char *)k);
		return 0;
	}
	load_record(arg, rec);
	return 0;
}

int node_mgr_open_state(struct mctld *ctx, struct mer_error *err)
{
	struct node_mgr *nm = ctx->nodes;

	if (state_db_open(ctx->state, "nodes", &nm->db, err) < 0 ||
	    state_each(ctx->state, nm->db, load_one, ctx, err) < 0)
		return -1;
	state_add_source(ctx->state, &node_source, nm);
	return 0;
}

static void node_mark_dirty(struct mctld *ctx, struct node *n)
{
	if (n->dirty)
		return;
	n->dirty = true;
	TAILQ_INSERT_TAIL(&ctx->nodes->dirty, n, dirty_entry);
}

static void node_record_fill(const struct node *n, Meridian__NodeRecord *rec)
{
	meridian__node_record__init(rec);
	rec->name = (char *)n->name;
	rec->drain = n->drain;
	rec->admin_down = n->admin_down;
	rec->reason = n->reason ? n->reason : (char *)protobuf_c_empty_string;
	rec->reason_time = n->reason_time;
	rec->reason_uid = n->reason_uid;
}

static void load_record(struct mctld *ctx, Meridian__NodeRecord *rec)
{
	struct node *n = node_find(ctx, rec->name);

	if (n) {
		n->drain = rec->drain;
		n->admin_down = rec->admin_down;
		free(n->reason);
		n->reason = rec->reason && *rec->reason ? xstrdup(rec->reason)
							: NULL;
		n->reason_time = rec->reason_time;
		n->reason_uid = rec->reason_uid;
	}
	meridian__node_record__free_unpacked(rec, NULL);
}

/* --- state ------------------------------------------------------------- */

bool node_cpus_known(const struct node *n)
{
	return n->cpus != 0;
}

bool node_mem_known(const struct node *n)
{
	return n->real_memory != 0;
}

bool node_gpus_known(const struct node *n)
{
	return (n->cn->gres && *n->cn->gres) || n->registered;
}

bool node_usable(const struct node *n)
{
	return n->registered && n->peer && !n->not_responding &&
	       !n->admin_down && !n->drain;
}

/* Its jobs cannot be reached: timed out, or never back since our start
 * for longer than NodeTimeout. */
bool node_lost(const struct mctld *ctx, const struct node *n, int64_t now)
{
	if (n->registered)
		return n->not_responding;
	return now - ctx->start_time > (int64_t)ctx->conf->node_timeout;
}

#define NS(x) MERIDIAN__NODE_STATE__NODE_STATE_##x

/* What a node is now, as sinfo says it: its link, what an admin set and
 * its allocations, in that order. */
Meridian__NodeState node_state(const struct node *n)
{
	if (!n->registered && n->cn->state == CONF_NODE_FUTURE)
		return NS(FUTURE);
	if (n->admin_down || n->not_responding)
		return NS(DOWN);
	if (n->drain)
		return n->njobs ? NS(DRAINING) : NS(DRAINED);
	if (!n->registered)
		return NS(UNKNOWN);
	if (n->njobs == 0 && n->cpus_alloc == 0)
		return NS(IDLE);
	if (n->cpus && n->cpus_alloc >= n->cpus)
		return NS(ALLOCATED);
	return NS(MIXED);
}

const char *node_state_name(const struct node *n)
{
	return mer_node_state_name(node_state(n));
}

void node_alloc(struct mctld *ctx, struct node *n, uint32_t job_id,
		uint32_t cpus, uint64_t mem, uint64_t gpu_mask)
{
	(void)ctx;
	n->cpus_alloc += cpus;
	n->mem_alloc += mem;
	n->gpu_alloc_mask |= gpu_mask;
	if (n->njobs == n->cap_jobs) {
		n->cap_jobs = n->cap_jobs ? n->cap_jobs * 2 : 4;
		n->job_ids =
			xrealloc(n->job_ids, n->cap_jobs * sizeof(*n->job_ids));
	}
	n->job_ids[n->njobs++] = job_id;
}

void node_release(struct mctld *ctx, struct node *n, uint32_t job_id,
		  uint32_t cpus, uint64_t mem, uint64_t gpu_mask)
{
	size_t i;

	(void)ctx;
	for (i = 0; i < n->njobs; i++) {
		if (n->job_ids[i] == job_id) {
			memmove(&n->job_ids[i], &n->job_ids[i + 1],
				(n->njobs - i - 1) * sizeof(*n->job_ids));
			n->njobs--;
			break;
		}
	}
	n->cpus_alloc = n->cpus_alloc > cpus ? n->cpus_alloc - cpus : 0;
	n->mem_alloc = n->mem_alloc > mem ? n->mem_alloc - mem : 0;
	n->gpu_alloc_mask &= ~gpu_mask;
	if (n->njobs == 0) {
		/* Rounding can never leave a ghost allocation behind. */
		n->cpus_alloc = 0;
		n->mem_alloc = 0;
		n->gpu_alloc_mask = 0;
	}
}

/*
 * A node's link to mctld is a small machine; what an admin set (drain,
 * down) lies beside it, persisted.  Its legal moves, in one table:
 *
 *   NEVER --register--> UP --NodeTimeout--> LOST --a frame--> UP
 *                       UP, LOST --register--> UP
 *
 * A node is NEVER until it registers after mctld started (node_lost()
 * says when such a node's jobs count as lost).  registered and
 * not_responding in struct node are this state, as the rest reads it.
 */
enum node_link { NODE_LINK_NEVER, NODE_LINK_UP, NODE_LINK_LOST };
#define LINK(x) (1u << NODE_LINK_##x)

static const struct {
	const char *name;
	unsigned next;
} node_links[] = {
	[NODE_LINK_NEVER] = {"never registered", LINK(UP)},
	[NODE_LINK_UP] = {"up", LINK(UP) | LINK(LOST)},
	[NODE_LINK_LOST] = {"not responding", LINK(UP)},
};

static enum node_link node_link(const struct node *n)
{
	if (!n->registered)
		return NODE_LINK_NEVER;
	return n->not_responding ? NODE_LINK_LOST : NODE_LINK_UP;
}

bool node_link_allowed(int from, int to)
{
	if (from < 0 || to < 0 || from > NODE_LINK_LOST || to > NODE_LINK_LOST)
		return false;
	return (node_links[from].next & (1u << to)) != 0;
}

static bool node_link_set(struct node *n, enum node_link to)
{
	enum node_link from = node_link(n);

	if (!node_link_allowed(from, to)) {
		log_warnx("node %s: %s -> %s is not a node's transition; "
			  "ignored",
			  n->name, node_links[from].name, node_links[to].name);
		return false;
	}
	n->registered = true; /* every legal move lands on UP or LOST */
	n->not_responding = to == NODE_LINK_LOST;
	return true;
}

/* When n's jobs count as lost since: its silence began, or, never heard
 * from since our start, NodeTimeout after it; 0 when it is not lost. */
int64_t node_lost_since(const struct mctld *ctx, const struct node *n,
			int64_t now)
{
	if (!node_lost(ctx, n, now))
		return 0;
	if (n->registered)
		return n->down_time;
	return ctx->start_time + (int64_t)ctx->conf->node_timeout;
}

void node_orphan_add(struct node *n, uint32_t job_id)
{
	for (size_t i = 0; i < n->norphans; i++)
		if (n->orphans[i] == job_id)
			return;
	if (n->norphans == n->cap_orphans) {
		n->cap_orphans = n->cap_orphans ? 2 * n->cap_orphans : 4;
		n->orphans = xrealloc(n->orphans,
				      n->cap_orphans * sizeof(*n->orphans));
	}
	n->orphans[n->norphans++] = job_id;
}

void node_orphan_del(struct node *n, uint32_t job_id)
{
	for (size_t i = 0; i < n->norphans; i++)
		if (n->orphans[i] == job_id) {
			n->orphans[i] = n->orphans[--n->norphans];
			return;
		}
}

bool node_has_orphan(const struct node *n, uint32_t job_id)
{
	for (size_t i = 0; i < n->norphans; i++)
		if (n->orphans[i] == job_id)
			return true;
	return false;
}

void node_seen(struct mctld *ctx, struct node *n)
{
	n->last_seen = mer_now();
	if (node_link(n) == NODE_LINK_LOST && node_link_set(n, NODE_LINK_UP)) {
		log_info("node %s responds again", n->name);
		/* what it still runs of the jobs given up meanwhile; they
		 * stay orphans until it says they ended */
		for (size_t i = 0; i < n->norphans; i++) {
			log_info("node %s: job %u ended while it was not "
				 "responding: told to kill it",
				 n->name, n->orphans[i]);
			outbox_signal(ctx, n->name, n->orphans[i], -1, SIGKILL,
				      true, "NodeFail");
		}
		mctld_want_sched(ctx, true);
	}
}

void node_mgr_tick(struct mctld *ctx, int64_t now)
{
	struct node_mgr *nm = ctx->nodes;
	int64_t timeout = ctx->conf->node_timeout;
	size_t i;

	for (i = 0; i < nm->n; i++) {
		struct node *n = &nm->nodes[i];

		if (node_link(n) != NODE_LINK_UP)
			continue;
		if (now - n->last_seen <= timeout)
			continue;
		node_link_set(n, NODE_LINK_LOST);
		n->down_time = now;
		log_warnx("node %s: nothing heard for %llds (NodeTimeout=%u): "
			  "DOWN, not responding",
			  n->name, (long long)(now - n->last_seen),
			  ctx->conf->node_timeout);
	}
}

/* --- registration ------------------------------------------------------ */

static void take_capacity(struct node *n, Meridian__NodeRegister *reg)
{
	const struct conf_node *cn = n->cn;

	if (cn->cpus) {
		if (reg->cpus && reg->cpus < cn->cpus)
			log_warnx("node %s reports %u CPUs, fewer than CPUs=%u "
				  "in meridian.conf; the config is used",
				  n->name, reg->cpus, cn->cpus);
	} else {
		n->cpus = reg->cpus;
	}
	if (cn->real_memory) {
		if (reg->real_memory && reg->real_memory < cn->real_memory)
			log_warnx(
				"node %s reports %llu MB of memory, less than "
				"RealMemory=%llu; the config is used",
				n->name, (unsigned long long)reg->real_memory,
				(unsigned long long)cn->real_memory);
	} else {
		n->real_memory = reg->real_memory;
	}
	if (!(cn->gres && *cn->gres)) {
		n->gpus = (uint32_t)reg->n_gpus;
		if (n->gpus > MER_SELECT_MAX_GPUS) {
			log_warnx("node %s reports %u GPUs; only %u are "
				  "scheduled",
				  n->name, n->gpus, MER_SELECT_MAX_GPUS);
			n->gpus = MER_SELECT_MAX_GPUS;
		}
		free(n->gpu_model);
		n->gpu_model =
			lower_dup(reg->n_gpus ? reg->gpus[0]->model : "");
	}
	/* Keep what the node knows of its GPUs (PCI ids, cpusets) when it
	 * describes the GPUs we schedule. */
	if (reg->n_gpus && reg->n_gpus == n->gpus) {
		gpu_info_free(n);
		n->gpu_info = reg->gpus;
		n->n_gpu_info = reg->n_gpus;
		reg->gpus = NULL;
		reg->n_gpus = 0;
		gpu_peers_build(n);
	} else {
		gpu_info_from_conf(n);
	}
	set_gres(n);
}

/* A string a node reports about itself: at most max bytes of printable
 * ASCII (it reaches logs, mnodes and Gres= strings). */
static int check_node_str(const char *node, const char *what, const char *s,
			  size_t max, struct mer_error *err)
{
	size_t len = s ? strlen(s) : 0;

	if (len > max) {
		errno = E2BIG;
		return mer_error_set(err,
				     "node %.60s: its %s is %zu bytes, at most "
				     "%zu allowed",
				     node, what, len, max);
	}
	for (size_t i = 0; i < len; i++) {
		if ((unsigned char)s[i] < ' ' || (unsigned char)s[i] > '~') {
			errno = EINVAL;
			return mer_error_set(err,
					     "node %.60s: its %s holds byte "
					     "0x%02x at offset %zu; printable "
					     "ASCII expected",
					     node, what, (unsigned char)s[i],
					     i);
		}
	}
	return 0;
}

/* Each GPU's links to the node's other GPUs: to a GPU of the node, not
 * itself, once each, of a kind we know; NODE_REG_MAX_PEERS in all. */
static int check_gpu_peers(const Meridian__NodeRegister *reg, const char *name,
			   struct mer_error *err)
{
	size_t total = 0;
	uint8_t *seen = NULL;
	int rc = 0;

	for (size_t i = 0; i < reg->n_gpus && rc == 0; i++) {
		const Meridian__Gpu *g = reg->gpus[i];

		total += g->n_peers;
		if (total > NODE_REG_MAX_PEERS) {
			errno = E2BIG;
			rc = mer_error_set(err,
					   "node %.60s reports more than %u "
					   "links between its GPUs",
					   name, NODE_REG_MAX_PEERS);
			break;
		}
		if (!g->n_peers)
			continue;
		if (!seen)
			seen = xmalloc(reg->n_gpus);
		memset(seen, 0, reg->n_gpus);
		for (size_t k = 0; k < g->n_peers && rc == 0; k++) {
			const Meridian__GpuPeer *p = g->peers[k];
			const char *why = NULL;

			if (p->gpu >= reg->n_gpus || p->gpu == i)
				why = "is not another of its GPUs";
			else if (seen[p->gpu])
				why = "is named twice";
			else if ((unsigned)p->link >
				 MERIDIAN__GPU_LINK_KIND__GPU_LINK_SMP)
				why = "has a link kind not known here";
			if (why) {
				errno = EINVAL;
				rc = mer_error_set(
					err,
					"node %.60s: GPU %zu's peer GPU %u %s "
					"(peers: the indexes 0..%zu of the "
					"node's other GPUs, once each)",
					name, i, p->gpu, why, reg->n_gpus - 1);
			} else {
				seen[p->gpu] = 1;
			}
		}
	}
	free(seen);
	return rc;
}

/* Bound what a registering node says before any of it is kept. */
static int check_register(const Meridian__NodeRegister *reg,
			  struct mer_error *err)
{
	const char *name = reg->name ? reg->name : "";

	if (check_node_str("?", "name", name, NODE_REG_MAX_NAME, err) < 0 ||
	    check_node_str(name, "host name", reg->hostname, NODE_REG_MAX_NAME,
			   err) < 0 ||
	    check_node_str(name, "version", reg->version, NODE_REG_MAX_VERSION,
			   err) < 0)
		return -1;
	if (reg->n_gpus > NODE_REG_MAX_GPUS ||
	    reg->n_jobs > NODE_REG_MAX_JOBS) {
		errno = E2BIG;
		return mer_error_set(
			err,
			"node %.60s reports %zu GPUs and %zu jobs; "
			"at most %u and %u allowed",
			name, reg->n_gpus, reg->n_jobs, NODE_REG_MAX_GPUS,
			NODE_REG_MAX_JOBS);
	}
	for (size_t i = 0; i < reg->n_gpus; i++) {
		const Meridian__Gpu *g = reg->gpus[i];

		if (check_node_str(name, "GPU model", g->model,
				   NODE_REG_MAX_GPU_STR, err) < 0 ||
		    check_node_str(name, "GPU PCI bus id", g->pci_bus_id,
				   NODE_REG_MAX_GPU_STR, err) < 0 ||
		    check_node_str(name, "GPU cpuset", g->cpuset,
				   NODE_REG_MAX_CPUSET, err) < 0)
			return -1;
	}
	if (check_gpu_peers(reg, name, err) < 0)
		return -1;
	if (reg->topology_xml && strlen(reg->topology_xml) > NODE_REG_MAX_XML) {
		errno = E2BIG;
		return mer_error_set(
			err,
			"node %.60s: its topology XML is %zu bytes, "
			"at most %u allowed",
			name, strlen(reg->topology_xml), NODE_REG_MAX_XML);
	}
	return 0;
}

struct node *node_mgr_check_register(struct mctld *ctx,
				     const Meridian__NodeRegister *reg,
				     struct mer_error *err)
{
	struct node *n;

	if (check_register(reg, err) < 0)
		return NULL;
	n = node_find(ctx, reg->name);
	if (!n) {
		errno = ENOENT;
		mer_error_set(err,
			      "node '%.60s' is not a NodeName in meridian.conf",
			      reg->name);
	}
	return n;
}

void node_mgr_register(struct mctld *ctx, struct node *n,
		       Meridian__NodeRegister *reg)
{
	take_capacity(n, reg);
	free(n->version);
	n->version = xstrdup(reg->version ? reg->version : "");
	free(n->hostname);
	n->hostname = xstrdup(reg->hostname ? reg->hostname : "");
	n->boot_time = reg->boot_time;
	node_link_set(n, NODE_LINK_UP);
	n->last_seen = mer_now();
	/* orphans stay: reconcile_node drops those it does not run */
	log_info("node %s registered: %u CPUs, %llu MB, %u GPUs%s%s, %zu "
		 "jobs",
		 n->name, n->cpus, (unsigned long long)n->real_memory, n->gpus,
		 *n->gpu_model ? " " : "", n->gpu_model, reg->n_jobs);
	mctld_want_sched(ctx, true);
}

/* --- admin updates ----------------------------------------------------- */

int node_mgr_update(struct mctld *ctx, const Meridian__UpdateNodeRequest *req,
		    uid_t uid, uint32_t *updated, struct mer_error *err)
{
	char **names = NULL;
	size_t nnames = 0, i;
	const char *reason = req->reason ? req->reason : "";
	const char *what;
	int64_t now = mer_now();

	*updated = 0;
	switch (req->action) {
	case MERIDIAN__NODE_ACTION__NODE_ACTION_DRAIN:
		what = "drain";
		break;
	case MERIDIAN__NODE_ACTION__NODE_ACTION_DOWN:
		what = "down";
		break;
	case MERIDIAN__NODE_ACTION__NODE_ACTION_RESUME:
		what = "resume";
		break;
	default:
		errno = EINVAL;
		return mer_error_set(err,
				     "node action %d is not drain, resume "
				     "or down",
				     (int)req->action);
	}
	if (req->action != MERIDIAN__NODE_ACTION__NODE_ACTION_RESUME &&
	    !*reason) {
		errno = EINVAL;
		return mer_error_set(err,
				     "a reason is required to %s nodes "
				     "(Reason=...)",
				     what);
	}
	if (strlen(reason) > NODE_MAX_REASON) {
		errno = EINVAL;
		return mer_error_set(err,
				     "the reason is %zu bytes; at most %u "
				     "are allowed",
				     strlen(reason), NODE_MAX_REASON);
	}
	if (!req->nodes || !*req->nodes) {
		errno = EINVAL;
		return mer_error_set(err, "no nodes given (NodeName=...)");
	}
	if (hostlist_expand(req->nodes, &names, &nnames, err) < 0) {
		errno = EINVAL;
		return -1;
	}
	for (i = 0; i < nnames; i++) {
		if (!node_find(ctx, names[i])) {
			mer_error_set(err,
				      "node %.60s is not in meridian.conf; "
				      "nothing was changed",
				      names[i]);
			hostlist_free(names, nnames);
			errno = ENOENT;
			return -1;
		}
	}
	for (i = 0; i < nnames; i++) {
		struct node *n = node_find(ctx, names[i]);

		switch (req->action) {
		case MERIDIAN__NODE_ACTION__NODE_ACTION_DRAIN:
			n->drain = true;
			break;
		case MERIDIAN__NODE_ACTION__NODE_ACTION_DOWN:
			n->admin_down = true;
			break;
		default:
			n->drain = false;
			n->admin_down = false;
			break;
		}
		free(n->reason);
		n->reason = *reason ? xstrdup(reason) : NULL;
		n->reason_time = now;
		n->reason_uid = uid;
		node_mark_dirty(ctx, n);
		(*updated)++;
		log_info("node %s: %s by uid %u%s%s", n->name, what,
			 (unsigned)uid, *reason ? ": " : "", reason);
	}
	hostlist_free(names, nnames);
	if (req->action == MERIDIAN__NODE_ACTION__NODE_ACTION_RESUME)
		mctld_want_sched(ctx, true);
	return 0;
}

/* --- NodeInfo ---------------------------------------------------------- */

void node_mgr_info(struct mctld *ctx, const struct node *n,
		   Meridian__NodeInfo *info)
{
	const struct conf_node *cn = n->cn;
	size_t i;

	meridian__node_info__init(info);
	info->name = (char *)n->name;
	info->addr = (char *)(cn->addr && *cn->addr ? cn->addr : n->name);
	/* the enum, and its name for a client one protocol version older */
	info->node_state = node_state(n);
	info->state = (char *)node_state_name(n);
	if ((n->drain || n->admin_down) && n->reason) {
		info->reason = n->reason;
		info->reason_time = n->reason_time;
		if (n->reason_uid != NODE_REASON_BY_MCTLD) {
			char name[64];

			if (user_name(n->reason_uid, name, sizeof(name)) < 0)
				snprintf(name, sizeof(name), "%u",
					 n->reason_uid);
			info->reason_user = xstrdup(name);
		}
	} else if (n->not_responding) {
		info->reason = (char *)"Not responding";
		info->reason_time = n->down_time;
	}
	info->cpus = n->cpus;
	info->cpus_alloc = n->cpus_alloc;
	info->real_memory = n->real_memory;
	info->mem_alloc = n->mem_alloc;
	info->gpus = n->gpu_info;
	info->n_gpus = n->n_gpu_info;
	info->gpus_alloc = (uint32_t)__builtin_popcountll(n->gpu_alloc_mask);
	info->region = (char *)(cn->region ? cn->region : "");
	info->features = (char *)(cn->features ? cn->features : "");
	if (n->nparts) {
		info->partitions = xcalloc(n->nparts, sizeof(char *));
		for (i = 0; i < n->nparts; i++)
			info->partitions[i] = n->parts[i]->name;
		info->n_partitions = n->nparts;
	}
	info->last_seen = n->last_seen;
	info->boot_time = n->boot_time;
	info->job_ids = n->job_ids;
	info->n_job_ids = n->njobs;
	info->gres = n->gres;
	info->version = (char *)(n->version ? n->version : "");
}

void node_mgr_info_free(Meridian__NodeInfo *info)
{
	pb_free_str(&info->reason_user);
	free(info->partitions);
	info->partitions = NULL;
	info->n_partitions = 0;
}
