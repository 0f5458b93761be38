/*
 * job_mgr.c - the job table: submit, state changes, cancel, hold, ends,
 * purges.
 *
 * Jobs live in a hash by id and on three lists by state (pending in submit
 * order, running, finished in purge order), plus the list of every job in
 * memory in id order (what JOB_INFO walks).  Each job keeps only its
 * unpacked JobRecord; the script and environment are written to LMDB at
 * submit and read back only to launch or to show the script.
 *
 * Every state change goes through job_mgr_set_state(), which checks the one
 * transition table below.
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "array.h"
#include "depend.h"
#include "hostlist.h"
#include "jobopt.h"
#include "log.h"
#include "mctld.h"
#include "parse.h"
#include "util.h"

#define JS(x)  MERIDIAN__JOB_STATE__JOB_##x
#define BIT(x) (1u << (x))

/*
 * The job state machine: where each state may go next.  Names and which
 * states are final are the one table in src/common/states.c, shared with
 * the commands.
 */
static const unsigned job_next[] = {
	[MERIDIAN__JOB_STATE__JOB_STATE_NONE] = BIT(JS(PENDING)),
	[JS(PENDING)] =
		BIT(JS(RUNNING)) | BIT(JS(CANCELLED)) | BIT(JS(DEADLINE)),
	/* PENDING again: requeued (a node lost, mctl requeue) */
	[JS(RUNNING)] = BIT(JS(COMPLETED)) | BIT(JS(FAILED)) |
			BIT(JS(CANCELLED)) | BIT(JS(TIMEOUT)) |
			BIT(JS(NODE_FAIL)) | BIT(JS(PENDING)),
	/* mctl requeue of a batch job still in memory */
	[JS(COMPLETED)] = BIT(JS(PENDING)),
	[JS(FAILED)] = BIT(JS(PENDING)),
	[JS(CANCELLED)] = BIT(JS(PENDING)),
	[JS(TIMEOUT)] = BIT(JS(PENDING)),
	[JS(NODE_FAIL)] = BIT(JS(PENDING)),
	[JS(DEADLINE)] = BIT(JS(PENDING)),
};
#define NSTATES (sizeof(job_next) / sizeof(job_next[0]))

bool job_state_allowed(Meridian__JobState from, Meridian__JobState to)
{
	if ((unsigned)from >= NSTATES || (unsigned)to >= NSTATES)
		return false;
	return (job_next[from] & BIT(to)) != 0;
}

/* --- the table --------------------------------------------------------- */

#define JOB_NAME_CACHE 64

struct name_cache {
	bool valid;
	uid_t uid;
	int64_t when;
	char name[64];
};

struct job_mgr {
	struct mctld *ctx;
	struct name_cache names[JOB_NAME_CACHE];
	struct job **buckets;
	size_t nbuckets;
	size_t count;
	struct job_list all, pending, running, finished, dirty;
	uint32_t *lazy; /* ids of jobs with lazy changes (job_mark_lazy) */
	size_t nlazy, cap_lazy;
	uint32_t next_id;
	size_t node_name_max; /* the longest node name (launch_fits) */
};

struct job_mgr *job_mgr_create(struct mctld *ctx)
{
	struct job_mgr *jm = xcalloc(1, sizeof(*jm));

	jm->ctx = ctx;
	jm->nbuckets = 1024;
	jm->buckets = xcalloc(jm->nbuckets, sizeof(*jm->buckets));
	TAILQ_INIT(&jm->all);
	TAILQ_INIT(&jm->pending);
	TAILQ_INIT(&jm->running);
	TAILQ_INIT(&jm->finished);
	TAILQ_INIT(&jm->dirty);
	jm->next_id = 1;
	return jm;
}

void job_free(struct job *j)
{
	if (!j)
		return;
	if (j->rec)
		protobuf_c_message_free_unpacked(&j->rec->base, NULL);
	free(j->node_ok);
	free(j);
}

void job_mgr_destroy(struct job_mgr *jm)
{
	struct job *j;

	if (!jm)
		return;
	while ((j = TAILQ_FIRST(&jm->all))) {
		TAILQ_REMOVE(&jm->all, j, all_entry);
		job_free(j);
	}
	free(jm->buckets);
	free(jm->lazy);
	free(jm);
}

void job_mgr_set_next_id(struct job_mgr *jm, uint32_t id)
{
	if (id > jm->next_id)
		jm->next_id = id;
}

uint32_t job_mgr_next_id(const struct job_mgr *jm)
{
	return jm->next_id;
}

size_t job_mgr_count(const struct mctld *ctx)
{
	return ctx->jobs->count;
}

struct job_list *job_mgr_all(struct mctld *ctx)
{
	return &ctx->jobs->all;
}

struct job_list *job_mgr_pending(struct mctld *ctx)
{
	return &ctx->jobs->pending;
}

struct job_list *job_mgr_running(struct mctld *ctx)
{
	return &ctx->jobs->running;
}

struct job_list *job_mgr_dirty(struct mctld *ctx)
{
	return &ctx->jobs->dirty;
}

struct job *job_find(const struct mctld *ctx, uint32_t id)
{
	const struct job_mgr *jm = ctx->jobs;
	struct job *j;

	for (j = jm->buckets[id & (jm->nbuckets - 1)]; j; j = j->hnext)
		if (j->rec->job_id == id)
			return j;
	return NULL;
}

static void hash_grow(struct job_mgr *jm)
{
	size_t n = jm->nbuckets * 2, i;
	struct job **b = xcalloc(n, sizeof(*b));
	struct job *j, *next;

	for (i = 0; i < jm->nbuckets; i++) {
		for (j = jm->buckets[i]; j; j = next) {
			next = j->hnext;
			j->hnext = b[j->rec->job_id & (n - 1)];
			b[j->rec->job_id & (n - 1)] = j;
		}
	}
	free(jm->buckets);
	jm->buckets = b;
	jm->nbuckets = n;
}

static struct job_list *state_list(struct job_mgr *jm, Meridian__JobState s)
{
	switch (s) {
	case JS(PENDING):
		return &jm->pending;
	case JS(RUNNING):
		return &jm->running;
	default:
		return &jm->finished;
	}
}

/* Insert j (rec set) into the hash and the id-ordered list. */
static void job_insert(struct job_mgr *jm, struct job *j)
{
	struct job **b;
	struct job *t;
	uint32_t id = j->rec->job_id;

	if (jm->count + 1 > jm->nbuckets)
		hash_grow(jm);
	b = &jm->buckets[id & (jm->nbuckets - 1)];
	j->hnext = *b;
	*b = j;
	jm->count++;
	/* Ids only grow at submit; at load they come in id order too. */
	t = TAILQ_LAST(&jm->all, job_list);
	if (!t || t->rec->job_id < id) {
		TAILQ_INSERT_TAIL(&jm->all, j, all_entry);
		return;
	}
	TAILQ_FOREACH_REVERSE(t, &jm->all, job_list, all_entry) {
		if (t->rec->job_id < id)
			break;
	}
	if (t)
		TAILQ_INSERT_AFTER(&jm->all, t, j, all_entry);
	else
		TAILQ_INSERT_HEAD(&jm->all, j, all_entry);
}

/* Unlink j from every list and the hash (does not free it). */
static void job_unlink(struct job_mgr *jm, struct job *j)
{
	struct job **pp;

	for (pp = &jm->buckets[j->rec->job_id & (jm->nbuckets - 1)]; *pp;
	     pp = &(*pp)->hnext) {
		if (*pp == j) {
			*pp = j->hnext;
			break;
		}
	}
	jm->count--;
	TAILQ_REMOVE(&jm->all, j, all_entry);
	TAILQ_REMOVE(state_list(jm, j->rec->state), j, state_entry);
	if (j->dirty)
		TAILQ_REMOVE(&jm->dirty, j, dirty_entry);
	j->dirty = false;
}

void job_mark_dirty(struct mctld *ctx, struct job *j)
{
	if (j->dirty)
		return;
	j->dirty = true;
	TAILQ_INSERT_TAIL(&ctx->jobs->dirty, j, dirty_entry);
}

/*
 * A change worth keeping but not worth a commit of its own (a launch was
 * acknowledged): written with the next commit, or by the next tick.  Lost
 * in a crash before that, it costs only a LAUNCH sent again at the node's
 * registration, which mnoded answers without starting the job twice.
 */
void job_mark_lazy(struct mctld *ctx, struct job *j)
{
	struct job_mgr *jm = ctx->jobs;

	if (j->dirty)
		return;
	if (jm->nlazy == jm->cap_lazy) {
		jm->cap_lazy = jm->cap_lazy ? jm->cap_lazy * 2 : 64;
		jm->lazy = xrealloc(jm->lazy, jm->cap_lazy * sizeof(*jm->lazy));
	}
	jm->lazy[jm->nlazy++] = j->rec->job_id;
}

/* Make the lazy changes dirty: a commit is happening (or due) anyway. */
void job_mgr_flush_lazy(struct mctld *ctx)
{
	struct job_mgr *jm = ctx->jobs;
	size_t i;

	for (i = 0; i < jm->nlazy; i++) {
		struct job *j = job_find(ctx, jm->lazy[i]);

		if (j)
			job_mark_dirty(ctx, j);
	}
	jm->nlazy = 0;
}

void job_mgr_committed(struct mctld *ctx)
{
	struct job_mgr *jm = ctx->jobs;
	struct job *j;

	while ((j = TAILQ_FIRST(&jm->dirty))) {
		TAILQ_REMOVE(&jm->dirty, j, dirty_entry);
		j->dirty = false;
		j->uncommitted = false;
	}
}

static void job_release_nodes(struct mctld *ctx, struct job *j);
static int job_requeue(struct mctld *ctx, struct job *j, int64_t now,
		       const char *why);

void job_mgr_drop_uncommitted(struct mctld *ctx)
{
	struct job_mgr *jm = ctx->jobs;
	struct job *j, *next;

	for (j = TAILQ_FIRST(&jm->dirty); j; j = next) {
		next = TAILQ_NEXT(j, dirty_entry);
		if (!j->uncommitted)
			continue;
		log_warnx("job %u: submit refused, it could not be recorded",
			  j->rec->job_id);
		if (j->rec->state == JS(RUNNING))
			job_release_nodes(ctx, j);
		job_unlink(jm, j);
		job_free(j);
	}
}

/* --- resources --------------------------------------------------------- */

static uint32_t div_ceil(uint64_t a, uint64_t b)
{
	return b ? (uint32_t)((a + b - 1) / b) : 0;
}

int job_res_compute(const Meridian__JobDesc *d, struct job_res *r,
		    struct mer_error *err)
{
	uint64_t cpus, tasks_cap;
	uint32_t ntpn = d->ntasks_per_node;

	memset(r, 0, sizeof(*r));
	if (d->min_nodes)
		r->num_nodes = d->min_nodes;
	else if (d->ntasks && ntpn)
		r->num_nodes = div_ceil(d->ntasks, ntpn);
	else
		r->num_nodes = 1;
	if (r->num_nodes > HOSTLIST_MAX) {
		errno = EINVAL;
		return mer_error_set(err,
				     "Requested %u nodes; at most %u "
				     "are possible",
				     r->num_nodes, HOSTLIST_MAX);
	}
	if (d->ntasks)
		r->ntasks = d->ntasks;
	else {
		uint64_t t = (uint64_t)r->num_nodes * (ntpn ? ntpn : 1);

		if (t > UINT32_MAX) {
			errno = EINVAL;
			return mer_error_set(err,
					     "Requested %u nodes x %u "
					     "tasks per node: too many "
					     "tasks",
					     r->num_nodes, ntpn);
		}
		r->ntasks = (uint32_t)t;
	}
	if (r->ntasks < r->num_nodes) {
		errno = EINVAL;
		return mer_error_set(err,
				     "Requested %u tasks on %u nodes; "
				     "each node needs at least one task "
				     "(give -n >= -N)",
				     r->ntasks, r->num_nodes);
	}
	r->tasks_per_node = ntpn ? ntpn : div_ceil(r->ntasks, r->num_nodes);
	tasks_cap = (uint64_t)r->tasks_per_node * r->num_nodes;
	if (tasks_cap < r->ntasks) {
		errno = EINVAL;
		return mer_error_set(err,
				     "Requested %u tasks, but %u nodes x "
				     "%u tasks per node hold only %llu",
				     r->ntasks, r->num_nodes, r->tasks_per_node,
				     (unsigned long long)tasks_cap);
	}
	cpus = (uint64_t)r->tasks_per_node *
	       (d->cpus_per_task ? d->cpus_per_task : 1);
	if (cpus > UINT32_MAX) {
		errno = EINVAL;
		return mer_error_set(err,
				     "Requested %u tasks per node x %u "
				     "CPUs per task: too many CPUs",
				     r->tasks_per_node, d->cpus_per_task);
	}
	r->cpus_per_node = (uint32_t)cpus;
	r->gpus_per_node = d->gpus_per_node ? d->gpus_per_node
					    : div_ceil(d->gpus, r->num_nodes);
	if (r->gpus_per_node > MER_SELECT_MAX_GPUS) {
		errno = EINVAL;
		return mer_error_set(err,
				     "Requested %u GPUs per node; a node "
				     "has at most %u",
				     r->gpus_per_node, MER_SELECT_MAX_GPUS);
	}
	r->mem_per_node = d->mem_mb;
	if (!d->mem_mb && d->mem_per_cpu) {
		if (d->mem_per_cpu >
		    UINT64_MAX / 4096 / (r->cpus_per_node + 1)) {
			errno = EINVAL;
			return mer_error_set(err,
					     "--mem-per-cpu=%llu MB x %u CPUs "
					     "per node: too much memory",
					     (unsigned long long)d->mem_per_cpu,
					     r->cpus_per_node);
		}
		r->mem_per_node = d->mem_per_cpu * r->cpus_per_node;
	}
	return 0;
}

/* Node n has feature f (f[0..len)) among its Features=. */
static bool has_feature(const struct node *n, const char *f, size_t len)
{
	const char *p = n->cn->features;

	while (p && *p) {
		size_t k = strcspn(p, ",");

		if (k == len && strncasecmp(p, f, len) == 0)
			return true;
		p += k;
		if (*p)
			p++;
	}
	return false;
}

/* --constraint: alternatives joined by '|', each of features joined by
 * '&' or ','; n matches one alternative whole. */
static bool constraint_ok(const struct node *n, const char *c)
{
	while (*c) {
		size_t alt = strcspn(c, "|");
		bool all = true;

		for (const char *p = c; p < c + alt;) {
			size_t k = strcspn(p, "&,|");

			if (k > (size_t)(c + alt - p))
				k = (size_t)(c + alt - p);
			all &= has_feature(n, p, k);
			p += k;
			if (p < c + alt)
				p++;
		}
		if (all)
			return true;
		c += alt;
		if (*c)
			c++;
	}
	return false;
}

/* The nodes -w, -x and -C leave a job (job->node_ok); names checked at
 * submit, so a name gone from meridian.conf since is left out. */
static void job_set_nodes(struct mctld *ctx, struct job *j)
{
	const Meridian__JobDesc *d = j->rec->desc;
	size_t nn = node_mgr_count(ctx);
	char **names;
	size_t n;

	free(j->node_ok);
	j->node_ok = NULL;
	if ((!d->nodelist || !*d->nodelist) && (!d->exclude || !*d->exclude) &&
	    (!d->constraint || !*d->constraint))
		return;
	j->node_ok = xcalloc(nn ? nn : 1, sizeof(*j->node_ok));
	for (size_t i = 0; i < nn; i++)
		j->node_ok[i] = !d->nodelist || !*d->nodelist;
	if (d->nodelist && *d->nodelist &&
	    hostlist_expand(d->nodelist, &names, &n, NULL) == 0) {
		for (size_t i = 0; i < n; i++) {
			struct node *nd = node_find(ctx, names[i]);

			if (nd)
				j->node_ok[nd->index] = true;
		}
		hostlist_free(names, n);
	}
	if (d->constraint && *d->constraint)
		for (size_t i = 0; i < nn; i++)
			if (j->node_ok[i] &&
			    !constraint_ok(node_at(ctx, i), d->constraint))
				j->node_ok[i] = false;
	if (d->exclude && *d->exclude &&
	    hostlist_expand(d->exclude, &names, &n, NULL) == 0) {
		for (size_t i = 0; i < n; i++) {
			struct node *nd = node_find(ctx, names[i]);

			if (nd)
				j->node_ok[nd->index] = false;
		}
		hostlist_free(names, n);
	}
}

/* -w and -x name nodes of meridian.conf (and -w those of the partition);
 * -w without -N sets the job's node count. */
static int check_nodes(struct mctld *ctx, Meridian__JobDesc *d,
		       const struct conf_partition *part, struct mer_error *err)
{
	const char *lists[2] = {d->nodelist, d->exclude};
	const char *opt[2] = {"-w/--nodelist", "-x/--exclude"};

	for (int l = 0; l < 2; l++) {
		struct mer_error e = {""};
		char **names;
		size_t n;

		if (!lists[l] || !*lists[l])
			continue;
		if (hostlist_expand(lists[l], &names, &n, &e) < 0) {
			errno = EINVAL;
			return mer_error_set(err, "%s: %s", opt[l], e.text);
		}
		for (size_t i = 0; i < n; i++) {
			struct node *nd = node_find(ctx, names[i]);
			bool in = false;

			for (size_t p = 0; nd && l == 0 && p < nd->nparts; p++)
				in |= nd->parts[p] == part;
			if (!nd || (l == 0 && !in)) {
				errno = EINVAL;
				mer_error_set(err, "%s: node %.40s is not %s",
					      opt[l], names[i],
					      nd ? "in the job's partition"
						 : "in meridian.conf");
				hostlist_free(names, n);
				return -1;
			}
		}
		if (l == 0 && !d->min_nodes && !d->ntasks_per_node)
			d->min_nodes = (uint32_t)n;
		/* every node named is the job's, and only they (Slurm
		 * would add others to reach -N: not yet) */
		if (l == 0 && d->min_nodes != n) {
			errno = EINVAL;
			mer_error_set(err,
				      "-w/--nodelist names %zu nodes, the job "
				      "asks for %u: name %u nodes or give "
				      "-N %zu",
				      n, d->min_nodes, d->min_nodes, n);
			hostlist_free(names, n);
			return -1;
		}
		hostlist_free(names, n);
	}
	return 0;
}

/* --constraint's form, and each feature is one some node of the
 * partition has (Slurm: "Invalid feature specification"). */
static int check_constraint(struct mctld *ctx, const Meridian__JobDesc *d,
			    const struct conf_partition *part,
			    struct mer_error *err)
{
	const char *c = d->constraint, *p;
	struct node **nodes;
	size_t n;

	if (!c || !*c)
		return 0;
	if (strlen(c) > 1024 || strspn(c, "abcdefghijklmnopqrstuvwxyz"
					  "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
					  "._-&,|") != strlen(c)) {
		errno = EINVAL;
		return mer_error_set(err,
				     "--constraint=%.40s: expected features "
				     "joined by & (or ,) and |, such as "
				     "a100&ib or v100|a100",
				     c);
	}
	nodes = node_mgr_partition(ctx, part, &n);
	for (p = c; *p;) {
		size_t k = strcspn(p, "&,|");
		bool some = false;

		if (!k) {
			errno = EINVAL;
			return mer_error_set(err,
					     "--constraint=%.40s: an empty "
					     "feature, expected a&b or a|b",
					     c);
		}
		for (size_t i = 0; i < n && !some; i++)
			some = has_feature(nodes[i], p, k);
		if (!some) {
			errno = EINVAL;
			return mer_error_set(
				err,
				"--constraint: no node of partition "
				"%s has feature '%.*s' (Features= in "
				"meridian.conf)",
				part->name, (int)(k < 40 ? k : 40), p);
		}
		p += k;
		if (*p && !p[1]) {
			errno = EINVAL;
			return mer_error_set(
				err,
				"--constraint=%.40s: ends with "
				"'%c', expected a feature after it",
				c, *p);
		}
		if (*p)
			p++;
	}
	return 0;
}

/* AllowAccounts=: the job's account is one of them. */
static int check_account(const char *account, const struct conf_partition *part,
			 struct mer_error *err)
{
	const char *l = part->allow_accounts;
	size_t n = account ? strlen(account) : 0;

	if (!l || strcasecmp(l, "ALL") == 0)
		return 0;
	for (const char *p = l; n && *p;) {
		size_t k = strcspn(p, ",");

		if (k == n && strncmp(p, account, n) == 0)
			return 0;
		p += k;
		if (*p)
			p++;
	}
	errno = EPERM;
	if (!n)
		return mer_error_set(err,
				     "partition %s takes jobs of accounts "
				     "%.60s only: give -A ACCOUNT",
				     part->name, l);
	return mer_error_set(err,
			     "account %.40s may not use partition %s "
			     "(AllowAccounts=%.60s)",
			     account, part->name, l);
}

/* -n without -N (or with -N MIN-MAX) on tasks that no one node holds: as
 * many nodes as the partition's largest node needs (sbatch spreads them
 * likewise). */
static void spread_tasks(struct mctld *ctx, Meridian__JobDesc *d,
			 const struct conf_partition *part)
{
	uint32_t cpt = d->cpus_per_task ? d->cpus_per_task : 1, max = 0, tpn;
	struct node **nodes;
	size_t n;

	if ((d->min_nodes && !d->max_nodes) || d->ntasks_per_node ||
	    d->ntasks < 2)
		return;
	nodes = node_mgr_partition(ctx, part, &n);
	for (size_t i = 0; i < n; i++)
		if (node_cpus_known(nodes[i]) && nodes[i]->cpus > max)
			max = nodes[i]->cpus;
	tpn = max / cpt;
	if (!tpn || (uint64_t)d->ntasks * cpt <= max)
		return;
	if (d->min_nodes) {
		/* -N MIN-MAX: MIN raised to what the tasks need, within it */
		uint32_t need = (d->ntasks + tpn - 1) / tpn;

		if (need > d->min_nodes && need <= d->max_nodes)
			d->min_nodes = need;
		return;
	}
	d->min_nodes = (d->ntasks + tpn - 1) / tpn;
	if (d->min_nodes > n)
		d->min_nodes = 0; /* refused below, naming the CPUs */
}

static void job_set_res(struct job *j, const struct job_res *r)
{
	j->tasks_per_node = r->tasks_per_node;
	j->cpus_per_node = r->cpus_per_node;
	j->gpus_per_node = r->gpus_per_node;
	j->mem_per_node = r->mem_per_node;
}

void job_mgr_res_of(const struct job *j, struct job_res *r)
{
	r->num_nodes = j->rec->num_nodes;
	r->ntasks = j->rec->ntasks;
	r->tasks_per_node = j->tasks_per_node;
	r->cpus_per_node = j->cpus_per_node;
	r->gpus_per_node = j->gpus_per_node;
	r->mem_per_node = j->mem_per_node;
}

void job_mgr_set_res(struct job *j, const struct job_res *r)
{
	job_set_res(j, r);
	j->rec->num_nodes = r->num_nodes;
	j->rec->ntasks = r->ntasks;
}

/* --- submit validation ------------------------------------------------- */

static void partition_names(const struct conf *c, char *buf, size_t n)
{
	size_t i, len = 0;

	buf[0] = '\0';
	for (i = 0; i < c->npartitions && len + 1 < n; i++) {
		int w = snprintf(buf + len, n - len, "%s%s", i ? ", " : "",
				 c->partitions[i].name);
		if (w < 0 || (size_t)w >= n - len)
			break;
		len += (size_t)w;
	}
}

static bool gpu_model_matches(const struct node *n, const char *type)
{
	return !type || !*type || strcasecmp(n->gpu_model, type) == 0;
}

/* Could the nodes of part ever give res (when every job has ended)? */
static int check_partition_fit(struct mctld *ctx,
			       const struct conf_partition *part,
			       const struct job_res *r, const char *gpu_type,
			       struct mer_error *err)
{
	struct node **nodes;
	size_t n, i;
	uint32_t ncpu = 0, nmem = 0, ngpu = 0, nall = 0;
	uint32_t max_cpus = 0, max_gpus = 0;
	uint64_t max_mem = 0;
	bool typed = gpu_type && *gpu_type && r->gpus_per_node;

	nodes = node_mgr_partition(ctx, part, &n);
	if (r->num_nodes > n) {
		errno = EINVAL;
		return mer_error_set(err,
				     "Requested %u nodes, partition %s "
				     "has %zu",
				     r->num_nodes, part->name, n);
	}
	for (i = 0; i < n; i++) {
		const struct node *nd = nodes[i];
		bool c, m, g;

		c = !node_cpus_known(nd) || nd->cpus >= r->cpus_per_node;
		m = !r->mem_per_node || !node_mem_known(nd) ||
		    nd->real_memory >= r->mem_per_node;
		g = !r->gpus_per_node || !node_gpus_known(nd) ||
		    (nd->gpus >= r->gpus_per_node &&
		     gpu_model_matches(nd, typed ? gpu_type : NULL));
		if (node_cpus_known(nd) && nd->cpus > max_cpus)
			max_cpus = nd->cpus;
		if (node_mem_known(nd) && nd->real_memory > max_mem)
			max_mem = nd->real_memory;
		if (node_gpus_known(nd) &&
		    gpu_model_matches(nd, typed ? gpu_type : NULL) &&
		    nd->gpus > max_gpus)
			max_gpus = nd->gpus;
		ncpu += c;
		nmem += m;
		ngpu += g;
		nall += c && m && g;
	}
	if (nall >= r->num_nodes)
		return 0;
	errno = EINVAL;
	if (ncpu < r->num_nodes) {
		if (ncpu == 0)
			return mer_error_set(err,
					     "Requested %u CPUs per node, "
					     "the largest node of "
					     "partition %s has %u",
					     r->cpus_per_node, part->name,
					     max_cpus);
		return mer_error_set(err,
				     "Requested %u nodes with %u CPUs "
				     "each, partition %s has %u such "
				     "nodes",
				     r->num_nodes, r->cpus_per_node, part->name,
				     ncpu);
	}
	if (nmem < r->num_nodes) {
		if (nmem == 0)
			return mer_error_set(
				err,
				"Requested %llu MB of memory "
				"per node, the largest node "
				"of partition %s has %llu",
				(unsigned long long)r->mem_per_node, part->name,
				(unsigned long long)max_mem);
		return mer_error_set(err,
				     "Requested %u nodes with %llu MB "
				     "each, partition %s has %u such "
				     "nodes",
				     r->num_nodes,
				     (unsigned long long)r->mem_per_node,
				     part->name, nmem);
	}
	if (ngpu < r->num_nodes) {
		if (ngpu == 0)
			return mer_error_set(
				err,
				"Requested %u %s%sGPUs per "
				"node, the nodes of partition "
				"%s have at most %u",
				r->gpus_per_node, typed ? gpu_type : "",
				typed ? " " : "", part->name, max_gpus);
		return mer_error_set(err,
				     "Requested %u nodes with %u %s%sGPUs "
				     "each, partition %s has %u such "
				     "nodes",
				     r->num_nodes, r->gpus_per_node,
				     typed ? gpu_type : "", typed ? " " : "",
				     part->name, ngpu);
	}
	return mer_error_set(err,
			     "Requested %u nodes with %u CPUs, %llu MB "
			     "and %u GPUs each, partition %s has %u such "
			     "nodes",
			     r->num_nodes, r->cpus_per_node,
			     (unsigned long long)r->mem_per_node,
			     r->gpus_per_node, part->name, nall);
}

/* --min-tier names one of BandwidthTiers= (in any case, as conf tells
 * them apart), so that a typo is refused rather than waited on for ever.
 * This and check_comm return 0, or -1 with err (the caller sets errno). */
static int check_min_tier(const struct conf *c, const char *tier,
			  struct mer_error *err)
{
	char names[120];
	size_t i, len = 0;

	if (!tier || !*tier)
		return 0;
	for (i = 0; i < c->ntiers; i++)
		if (strcasecmp(c->tiers[i].name, tier) == 0)
			return 0;
	names[0] = '\0';
	for (i = 0; i < c->ntiers && len < sizeof(names); i++) {
		int w = snprintf(names + len, sizeof(names) - len, "%s%s",
				 i ? ", " : "", c->tiers[i].name);

		if (w < 0)
			break;
		len += (size_t)w;
	}
	if (c->ntiers == 0)
		return mer_error_set(err,
				     "--min-tier=%.40s: no such bandwidth "
				     "tier; meridian.conf has none "
				     "(BandwidthTiers=)",
				     tier);
	return mer_error_set(err,
			     "--min-tier=%.40s: no such bandwidth tier; "
			     "expected one of %s (BandwidthTiers=)",
			     tier, names);
}

/* --region names RegionName= regions (as conf_find_region tells them
 * apart), each --country is some region's Country= (in any case), and
 * the two leave a region to run in: else the job would wait for ever.
 * sched.c's build_views shows the job only those regions' nodes. */
static int check_regions(const struct conf *c, const char *regions,
			 const char *countries, struct mer_error *err)
{
	char names[120];
	size_t i, len = 0;
	const char *p;

	regions = regions ? regions : "";
	countries = countries ? countries : "";
	for (p = regions; *regions; p++) {
		size_t n = strcspn(p, ",");

		for (i = 0; i < c->nregions; i++)
			if (strlen(c->regions[i].name) == n &&
			    strncmp(c->regions[i].name, p, n) == 0)
				break;
		if (i == c->nregions) {
			names[0] = '\0';
			for (i = 0, len = 0;
			     i < c->nregions && len < sizeof(names); i++) {
				int w = snprintf(names + len,
						 sizeof(names) - len, "%s%s",
						 i ? ", " : "",
						 c->regions[i].name);

				if (w < 0)
					break;
				len += (size_t)w;
			}
			if (c->nregions == 0)
				return mer_error_set(err,
						     "--region=%.*s: no such "
						     "region; meridian.conf "
						     "has none (RegionName=)",
						     (int)(n < 40 ? n : 40), p);
			return mer_error_set(err,
					     "--region=%.*s: no such region; "
					     "expected one of %s (RegionName=)",
					     (int)(n < 40 ? n : 40), p, names);
		}
		p += n;
		if (!*p)
			break;
	}
	for (p = countries; *countries; p++) {
		size_t n = strcspn(p, ",");

		for (i = 0; i < c->nregions; i++)
			if (strlen(c->regions[i].country) == n &&
			    strncasecmp(c->regions[i].country, p, n) == 0)
				break;
		if (i == c->nregions) {
			/* the countries regions are in, each once */
			names[0] = '\0';
			for (i = 0, len = 0;
			     i < c->nregions && len < sizeof(names); i++) {
				const char *cc = c->regions[i].country;
				int w;

				if (!*cc || (len && strstr(names, cc)))
					continue;
				w = snprintf(names + len, sizeof(names) - len,
					     "%s%s", len ? ", " : "", cc);
				if (w < 0)
					break;
				len += (size_t)w;
			}
			if (len == 0)
				return mer_error_set(err,
						     "--country=%.*s: no "
						     "region is in %.*s; no "
						     "region names a Country=",
						     (int)(n < 40 ? n : 40), p,
						     (int)(n < 40 ? n : 40), p);
			return mer_error_set(err,
					     "--country=%.*s: no region is in "
					     "%.*s; the regions' countries are "
					     "%s",
					     (int)(n < 40 ? n : 40), p,
					     (int)(n < 40 ? n : 40), p, names);
		}
		p += n;
		if (!*p)
			break;
	}
	if (!*regions || !*countries)
		return 0;
	for (i = 0; i < c->nregions; i++)
		if (conf_region_allowed(&c->regions[i], regions, countries))
			return 0;
	return mer_error_set(err,
			     "--region=%.60s --country=%.40s: no region is "
			     "both",
			     regions, countries);
}

/* --comm and --comm-bytes as the select plugin reads them (sched.c's
 * select_job): pipeline stages divide the nodes the job resolves to. */
static int check_comm(const Meridian__JobDesc *d, uint32_t num_nodes,
		      struct mer_error *err)
{
	bool pipeline = d->comm == MERIDIAN__COMM_PATTERN__COMM_PIPELINE;

	switch (d->comm) {
	case MERIDIAN__COMM_PATTERN__COMM_DEFAULT:
	case MERIDIAN__COMM_PATTERN__COMM_RING:
	case MERIDIAN__COMM_PATTERN__COMM_PIPELINE:
	case MERIDIAN__COMM_PATTERN__COMM_NONE:
		break;
	default:
		return mer_error_set(err,
				     "communication pattern %d is not one "
				     "of ring, pipeline, none (--comm)",
				     (int)d->comm);
	}
	if (d->comm_stages && !pipeline)
		return mer_error_set(err,
				     "%u communication stages without "
				     "--comm=pipeline; expected "
				     "--comm=pipeline:%u",
				     d->comm_stages, d->comm_stages);
	if (pipeline && d->comm_stages && num_nodes % d->comm_stages != 0)
		return mer_error_set(err,
				     "--comm=pipeline:%u with %u node%s: "
				     "STAGES must divide the node count",
				     d->comm_stages, num_nodes,
				     num_nodes == 1 ? "" : "s");
	if (d->comm_bytes > JOBOPT_COMM_BYTES_MAX)
		return mer_error_set(err,
				     "--comm-bytes=%llu: over 1T (%llu "
				     "bytes), the most a job may say",
				     (unsigned long long)d->comm_bytes,
				     (unsigned long long)JOBOPT_COMM_BYTES_MAX);
	return 0;
}

/* -N MIN-MAX: MAX at least MIN, cut to what the partition allows (its
 * nodes, MaxNodes=) and to one task a node; 0 when that leaves only MIN. */
static int check_node_range(struct mctld *ctx, Meridian__JobDesc *d,
			    const struct conf_partition *part,
			    const struct job_res *res, struct mer_error *err)
{
	size_t n;

	if (!d->max_nodes)
		return 0;
	if (d->max_nodes < res->num_nodes) {
		errno = EINVAL;
		return mer_error_set(err,
				     "--nodes=%u-%u: the most nodes is below "
				     "the least, expected MIN-MAX with MIN "
				     "<= MAX",
				     res->num_nodes, d->max_nodes);
	}
	(void)node_mgr_partition(ctx, part, &n);
	if (d->max_nodes > n)
		d->max_nodes = (uint32_t)n;
	if (part->max_nodes && d->max_nodes > part->max_nodes)
		d->max_nodes = part->max_nodes;
	if (d->ntasks && d->max_nodes > d->ntasks)
		d->max_nodes = d->ntasks;
	if (d->max_nodes <= res->num_nodes)
		d->max_nodes = 0;
	return 0;
}

/* --deadline: a job that could not end by it even if it started now (or
 * at its --begin) is refused; one that waits too long ends DEADLINE
 * (sched.c). */
static int check_deadline(const Meridian__JobDesc *d, uint32_t tl,
			  struct mer_error *err)
{
	int64_t start = mer_now();
	char lim[32];

	if (!d->deadline)
		return 0;
	if (d->begin_time > start)
		start = d->begin_time;
	if (!tl) {
		errno = EINVAL;
		return mer_error_set(err,
				     "--deadline with no time limit: give -t, "
				     "so that it is known whether the job can "
				     "end by then");
	}
	if (start + (int64_t)tl * 60 > d->deadline) {
		format_time_minutes(tl, lim, sizeof(lim));
		errno = EINVAL;
		return mer_error_set(err,
				     "a job of time limit %s cannot end by its "
				     "--deadline, %lld s from %s",
				     lim, (long long)(d->deadline - start),
				     d->begin_time > mer_now() ? "its --begin"
							       : "now");
	}
	return 0;
}

int job_mgr_validate(struct mctld *ctx, Meridian__JobDesc *d,
		     const struct conf_partition **partp, struct job_res *res,
		     uint32_t *time_limit, struct mer_error *err)
{
	const struct conf *c = ctx->conf;
	const struct conf_partition *part;
	uint32_t tl;

	if (d->partition && *d->partition) {
		part = conf_find_partition(c, d->partition);
		if (!part) {
			char names[100];

			partition_names(c, names, sizeof(names));
			errno = EINVAL;
			return mer_error_set(err,
					     "unknown partition '%.40s' "
					     "(partitions: %s)",
					     d->partition, names);
		}
	} else {
		part = conf_default_partition(c);
		if (!part) {
			errno = EINVAL;
			return mer_error_set(err, "no partition given (-p) and "
						  "meridian.conf has no "
						  "Default=YES partition");
		}
	}
	if (!part->up) {
		errno = EINVAL;
		return mer_error_set(err,
				     "partition %s is DOWN (State= in "
				     "meridian.conf) and takes no jobs",
				     part->name);
	}
	if (d->mem_mb && d->mem_per_cpu) {
		errno = EINVAL;
		return mer_error_set(err,
				     "--mem and --mem-per-cpu are mutually "
				     "exclusive: give one of them");
	}
	if (d->open_mode > MERIDIAN__OPEN_MODE__OPEN_APPEND) {
		errno = EINVAL;
		return mer_error_set(err,
				     "open mode %d is not one of truncate, "
				     "append",
				     (int)d->open_mode);
	}
	if (check_nodes(ctx, d, part, err) < 0 ||
	    check_constraint(ctx, d, part, err) < 0)
		return -1;
	spread_tasks(ctx, d, part);
	if (job_res_compute(d, res, err) < 0)
		return -1;
	if (part->max_nodes && res->num_nodes > part->max_nodes) {
		errno = EINVAL;
		return mer_error_set(err,
				     "Requested %u nodes, over partition %s's "
				     "MaxNodes=%u",
				     res->num_nodes, part->name,
				     part->max_nodes);
	}
	if (check_account(d->account, part, err) < 0 ||
	    check_node_range(ctx, d, part, res, err) < 0)
		return -1;
	if (d->time_limit && part->max_time && d->time_limit > part->max_time) {
		char want[32], max[32];

		format_time_minutes(d->time_limit, want, sizeof(want));
		format_time_minutes(part->max_time, max, sizeof(max));
		errno = EINVAL;
		return mer_error_set(err,
				     "time limit %s is over partition "
				     "%s's MaxTime %s",
				     want, part->name, max);
	}
	tl = d->time_limit	  ? d->time_limit
	     : part->default_time ? part->default_time
				  : part->max_time;
	if (part->max_time && tl > part->max_time)
		tl = part->max_time;
	if (check_deadline(d, tl, err) < 0)
		return -1;
	if (d->hold != MERIDIAN__HOLD_KIND__HOLD_NONE &&
	    d->hold != MERIDIAN__HOLD_KIND__HOLD_USER &&
	    d->hold != MERIDIAN__HOLD_KIND__HOLD_ADMIN) {
		errno = EINVAL;
		return mer_error_set(err,
				     "hold kind %d is not one of none, "
				     "user, admin",
				     (int)d->hold);
	}
	if (d->max_price < 0) {
		errno = EINVAL;
		return mer_error_set(err, "max price %lld is negative",
				     (long long)d->max_price);
	}
	if (check_comm(d, res->num_nodes, err) < 0 ||
	    check_min_tier(c, d->min_tier, err) < 0 ||
	    check_regions(c, d->regions, d->countries, err) < 0) {
		errno = EINVAL;
		return -1;
	}
	if (check_partition_fit(ctx, part, res, d->gpu_type, err) < 0)
		return -1;
	*partp = part;
	*time_limit = tl;
	return 0;
}

int job_mgr_check_exec(const char *what, char *const *argv, size_t nargv,
		       char *const *env, size_t nenv, struct mer_error *err)
{
	size_t i, bytes = 0;

	if (nargv > MCTLD_MAX_ARGS || nenv > MCTLD_MAX_ENV) {
		errno = E2BIG;
		return mer_error_set(err,
				     "%s has %zu arguments and %zu "
				     "environment variables; at most %d and "
				     "%d",
				     what, nargv, nenv, MCTLD_MAX_ARGS,
				     MCTLD_MAX_ENV);
	}
	for (i = 0; i < nargv; i++)
		bytes += strlen(argv[i]) + 1;
	for (i = 0; i < nenv; i++)
		bytes += strlen(env[i]) + 1;
	if (bytes > MCTLD_MAX_ARG_BYTES) {
		errno = E2BIG;
		return mer_error_set(err,
				     "%s's arguments and environment take "
				     "%zu bytes; at most %u (trim the "
				     "environment, or --export only what the "
				     "program needs)",
				     what, bytes, MCTLD_MAX_ARG_BYTES);
	}
	for (i = 0; i < nenv; i++) {
		if (!strchr(env[i], '=')) {
			errno = EINVAL;
			return mer_error_set(err,
					     "environment entry \"%.40s\" has "
					     "no '='; NAME=VALUE expected",
					     env[i]);
		}
	}
	return 0;
}

static int check_strings(const Meridian__JobDesc *d, struct mer_error *err)
{
	const struct {
		const char *what, *s;
	} f[] = {
		{"job name", d->name},
		{"account", d->account},
		{"QOS", d->qos},
		{"partition", d->partition},
		{"working directory", d->work_dir},
		{"stdout path", d->std_out},
		{"stderr path", d->std_err},
		{"stdin path", d->std_in},
		{"GPU type", d->gpu_type},
		{"--export", d->export_mode},
	};
	size_t i, len;

	for (i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
		len = f[i].s ? strlen(f[i].s) : 0;
		if (len > MCTLD_MAX_STRING) {
			errno = EINVAL;
			return mer_error_set(err,
					     "the %s is %zu bytes long; at "
					     "most %u are allowed",
					     f[i].what, len, MCTLD_MAX_STRING);
		}
	}
	return 0;
}

/*
 * The job's LAUNCH_JOB (its record, once running, and its spec) must fit
 * in a frame, or its node would refuse it and the job would never start.
 * The record's running part is bounded by what each node of the
 * allocation adds (a JobNodeAlloc and its name in the node list).
 */
static int launch_fits(struct mctld *ctx, const Meridian__JobDesc *d,
		       size_t spec_len, uint32_t num_nodes,
		       struct mer_error *err)
{
	struct job_mgr *jm = ctx->jobs;
	size_t est;

	if (!jm->node_name_max) {
		/* Nodes come from the config: their longest name is
		 * fixed for the life of mctld. */
		for (size_t i = 0; i < node_mgr_count(ctx); i++) {
			size_t l = strlen(node_at(ctx, i)->name);

			if (l > jm->node_name_max)
				jm->node_name_max = l;
		}
	}
	/* per node: its JobNodeAlloc (name, counts, up to 64 GPU indices)
	 * and its name in the record's node list */
	est = 4096 + (size_t)num_nodes * (2 * jm->node_name_max + 200) +
	      spec_len + meridian__job_desc__get_packed_size(d);
	if (est <= MER_FRAME_MAX_BODY)
		return 0;
	errno = E2BIG;
	return mer_error_set(err,
			     "the job would reach its nodes as a %zu-byte "
			     "launch message, over the %u bytes a node "
			     "accepts: make its script or environment "
			     "smaller, or ask for fewer nodes",
			     est, MER_FRAME_MAX_BODY);
}

/* The name of uid.  Every submit needs it and NSS may be slow (LDAP), so
 * names are cached for a minute. */
static void who(struct job_mgr *jm, uid_t uid, char *buf, size_t n)
{
	struct name_cache *c = &jm->names[uid % JOB_NAME_CACHE];
	int64_t now = mer_now();

	if (c->valid && c->uid == uid && now - c->when < 60) {
		snprintf(buf, n, "%s", c->name);
		return;
	}
	if (user_name(uid, buf, n) < 0)
		snprintf(buf, n, "%u", (unsigned)uid);
	c->valid = true;
	c->uid = uid;
	c->when = now;
	snprintf(c->name, sizeof(c->name), "%s", buf);
}

/* --dependency: parsed into l, every job it names known here. */
static int deps_check(struct mctld *ctx, const Meridian__JobDesc *d,
		      struct dep_list *l, struct mer_error *err)
{
	memset(l, 0, sizeof(*l));
	if (!d->dependency || !*d->dependency)
		return 0;
	if (dep_parse(d->dependency, "--dependency", l, err) < 0) {
		errno = EINVAL;
		return -1;
	}
	for (size_t i = 0; i < l->n; i++)
		if (l->v[i].job_id && !job_find(ctx, l->v[i].job_id)) {
			errno = ENOENT;
			mer_error_set(err,
				      "--dependency: job %u is not known here "
				      "(never submitted, or ended more than "
				      "MinJobAge=%u s ago)",
				      l->v[i].job_id, ctx->conf->min_job_age);
			dep_list_free(l);
			return -1;
		}
	return 0;
}

static void deps_attach(Meridian__JobRecord *rec, const struct dep_list *l)
{
	if (!l->n)
		return;
	rec->deps = xcalloc(l->n, sizeof(*rec->deps));
	for (size_t i = 0; i < l->n; i++) {
		Meridian__JobDep *dp = xmalloc(sizeof(*dp));

		meridian__job_dep__init(dp);
		/* depend.h's kinds have DepKind's numbers */
		dp->kind = (Meridian__DepKind)l->v[i].kind;
		dp->job_id = l->v[i].job_id;
		dp->minutes = l->v[i].minutes;
		rec->deps[rec->n_deps++] = dp;
	}
	rec->deps_any = l->any;
}

uint32_t job_mgr_take_id(struct mctld *ctx)
{
	struct job_mgr *jm = ctx->jobs;

	if (jm->next_id == 0)
		jm->next_id = 1; /* after 2^32 jobs */
	return jm->next_id++;
}

void job_mgr_adopt(struct mctld *ctx, struct job *j)
{
	job_insert(ctx->jobs, j);
	TAILQ_INSERT_TAIL(&ctx->jobs->pending, j, state_entry);
	job_mark_dirty(ctx, j);
}

struct job *job_mgr_submit(struct mctld *ctx, Meridian__SubmitJobRequest *req,
			   uid_t uid, gid_t gid, struct mer_error *err)
{
	struct array_spec array;
	struct dep_list deps;
	struct job_mgr *jm = ctx->jobs;
	const struct conf_partition *part;
	Meridian__JobRecord *rec;
	Meridian__JobDesc *d = req->desc;
	struct job_res res;
	struct job *j;
	uint32_t tl;
	size_t len;
	uint8_t *packed;
	char name[64];

	if (!d) {
		errno = EINVAL;
		mer_error_set(err, "the submit request has no job description");
		return NULL;
	}
	if (d->interactive) {
		/* mrun's allocation: it runs steps, never a script. */
		if (req->spec && req->spec->script.len) {
			errno = EINVAL;
			mer_error_set(err, "an interactive allocation (mrun) "
					   "carries no batch script");
			return NULL;
		}
	} else if (!req->spec || req->spec->script.len == 0) {
		errno = EINVAL;
		mer_error_set(err, "the batch script is empty");
		return NULL;
	} else if (req->spec->script.len < 2 ||
		   memcmp(req->spec->script.data, "#!", 2) != 0) {
		errno = EINVAL;
		mer_error_set(err, "the batch script does not start with #! "
				   "and an interpreter (e.g. #!/bin/sh)");
		return NULL;
	} else if (req->spec->script.len > MCTLD_MAX_SCRIPT) {
		errno = EFBIG;
		mer_error_set(err,
			      "the batch script is %zu bytes; at most %u "
			      "are allowed",
			      req->spec->script.len, MCTLD_MAX_SCRIPT);
		return NULL;
	}
	if (check_strings(d, err) < 0 ||
	    (req->spec &&
	     job_mgr_check_exec("the job", req->spec->argv, req->spec->n_argv,
				req->spec->env, req->spec->n_env, err) < 0))
		return NULL;
	if (ctx->conf->max_job_count && jm->count >= ctx->conf->max_job_count) {
		errno = EAGAIN;
		mer_error_set(err,
			      "MaxJobCount=%u jobs are already kept; try "
			      "again once some have ended",
			      ctx->conf->max_job_count);
		return NULL;
	}
	who(jm, uid, name, sizeof(name));
	if (limits_account(ctx, d, name, mctld_is_admin(ctx, uid), err) < 0 ||
	    job_mgr_validate(ctx, d, &part, &res, &tl, err) < 0)
		return NULL;
	/* the spec's size, for the check and the packing below */
	len = req->spec ? meridian__job_spec__get_packed_size(req->spec) : 0;
	if (launch_fits(ctx, d, len, res.num_nodes, err) < 0)
		return NULL;
	if (d->interactive && d->dependency && *d->dependency) {
		errno = EINVAL;
		mer_error_set(err, "--dependency is for batch jobs (mbatch); "
				   "an mrun allocation starts at once or not");
		return NULL;
	}
	if (d->nice < -2147483645 || d->nice > 2147483645 ||
	    (d->nice < 0 && !mctld_is_admin(ctx, uid))) {
		errno = d->nice < 0 ? EPERM : EINVAL;
		mer_error_set(err, "--nice=%d: %s", d->nice,
			      d->nice < 0 && d->nice >= -2147483645
				      ? "only an admin may raise a job's "
					"priority; expected 0 or more"
				      : "expected -2147483645 to 2147483645");
		return NULL;
	}
	if (d->mail_user && *d->mail_user && !mail_user_ok(d->mail_user)) {
		errno = EINVAL;
		mer_error_set(err,
			      "--mail-user=%.40s: expected a user name or "
			      "address (letters, digits, ._@+-, not "
			      "starting with -)",
			      d->mail_user);
		return NULL;
	}
	if (deps_check(ctx, d, &deps, err) < 0)
		return NULL;

	if (job_array_check(ctx, d, &array, err) < 0) {
		dep_list_free(&deps);
		return NULL;
	}
	if (limits_submit(ctx, d, name, uid, mctld_is_admin(ctx, uid), &res,
			  &tl, array.count ? array.count : 1, err) < 0) {
		dep_list_free(&deps);
		array_spec_free(&array);
		return NULL;
	}

	rec = xmalloc(sizeof(*rec));
	meridian__job_record__init(rec);
	rec->desc = d;
	req->desc = NULL; /* taken */
	rec->job_id = job_mgr_take_id(ctx);
	job_array_attach(rec, &array);
	rec->user_id = uid;
	rec->group_id = gid;
	pb_set_str(&rec->user_name, name);
	pb_set_str(&d->partition, part->name);
	if (d->hold == MERIDIAN__HOLD_KIND__HOLD_ADMIN &&
	    !mctld_is_admin(ctx, uid))
		d->hold = MERIDIAN__HOLD_KIND__HOLD_USER;
	rec->state = JS(PENDING);
	pb_set_str(&rec->reason,
		   d->hold == MERIDIAN__HOLD_KIND__HOLD_USER	? "JobHeldUser"
		   : d->hold == MERIDIAN__HOLD_KIND__HOLD_ADMIN ? "JobHeldAdmin"
								: "None");
	rec->submit_time = mer_now();
	rec->priority =
		(uint32_t)((int64_t)MCTLD_DEFAULT_PRIORITY - d->nice > 1
				   ? (int64_t)MCTLD_DEFAULT_PRIORITY - d->nice
				   : 1);
	if (req->submit_host && *req->submit_host)
		pb_set_str(&rec->submit_host, req->submit_host);
	rec->time_limit = tl;
	rec->ntasks = res.ntasks;
	rec->num_nodes = res.num_nodes;
	deps_attach(rec, &deps);
	dep_list_free(&deps);
	if (rec->n_deps && d->hold == MERIDIAN__HOLD_KIND__HOLD_NONE)
		pb_set_str(&rec->reason, "Dependency");
	else if (d->begin_time > rec->submit_time &&
		 d->hold == MERIDIAN__HOLD_KIND__HOLD_NONE)
		pb_set_str(&rec->reason, "BeginTime");

	j = xcalloc(1, sizeof(*j));
	j->rec = rec;
	j->part = part;
	limits_bind(ctx, j);
	job_set_res(j, &res);
	job_set_nodes(ctx, j);
	j->uncommitted = true;
	job_insert(jm, j);
	TAILQ_INSERT_TAIL(&jm->pending, j, state_entry);
	job_mark_dirty(ctx, j);

	if (req->spec) {
		packed = xmalloc(len ? len : 1);
		meridian__job_spec__pack(req->spec, packed);
		job_store_queue_spec(ctx, rec->job_id, packed, len);
	}

	log_debug("job %u submitted by %s (uid %u) to %s: %u nodes, %u tasks",
		  rec->job_id, rec->user_name, (unsigned)uid, part->name,
		  res.num_nodes, res.ntasks);
	if (d->hold == MERIDIAN__HOLD_KIND__HOLD_NONE)
		mctld_want_sched(ctx, false);
	return j;
}

/* --- priority ---------------------------------------------------------- */

int job_mgr_set_priority(struct mctld *ctx, struct job *j, bool admin,
			 bool has_priority, uint32_t priority, bool has_nice,
			 int32_t nice, struct mer_error *err)
{
	Meridian__JobRecord *rec = j->rec;

	if (rec->state != JS(PENDING)) {
		errno = EINVAL;
		return mer_error_set(err,
				     "job %u is %s; only a pending job's "
				     "priority can change",
				     rec->job_id, job_state_name(rec->state));
	}
	if (has_priority && !admin) {
		errno = EPERM;
		return mer_error_set(err, "only an admin may set a job's "
					  "Priority=; give it Nice= instead");
	}
	if (has_nice && (nice < -2147483645 || nice > 2147483645)) {
		errno = EINVAL;
		return mer_error_set(err,
				     "Nice=%d: expected -2147483645 to "
				     "2147483645",
				     nice);
	}
	if (has_nice && nice < 0 && !admin) {
		errno = EPERM;
		return mer_error_set(err,
				     "Nice=%d: only an admin may raise a "
				     "job's priority; expected 0 or more",
				     nice);
	}
	if (has_priority && priority == 0) {
		errno = EINVAL;
		return mer_error_set(err, "Priority=0: expected 1 or more "
					  "(to hold a job: mctl hold ID)");
	}
	if (has_nice) {
		int64_t p = (int64_t)rec->priority + rec->desc->nice - nice;

		if (!rec->priority_fixed)
			rec->priority = p < 1		     ? 1
					: p > UINT32_MAX - 1 ? UINT32_MAX - 1
							     : (uint32_t)p;
		rec->desc->nice = nice;
	}
	if (has_priority) {
		rec->priority = priority;
		rec->priority_fixed = true;
	}
	job_mark_dirty(ctx, j);
	mctld_want_sched(ctx, true);
	return 0;
}

/* --- dependencies ------------------------------------------------------ */

#define DS(x) MERIDIAN__DEP_STATE__DEP_##x
#define DK(x) MERIDIAN__DEP_KIND__DEP_##x

/* Another job of j's name and user runs, or waits with a lower id. */
static bool singleton_blocked(struct mctld *ctx, const struct job *j)
{
	struct job_mgr *jm = ctx->jobs;
	const char *name = j->rec->desc->name ? j->rec->desc->name : "";
	struct job *o;

	TAILQ_FOREACH(o, &jm->running, state_entry) {
		if (o->rec->user_id == j->rec->user_id &&
		    strcmp(o->rec->desc->name ? o->rec->desc->name : "",
			   name) == 0)
			return true;
	}
	TAILQ_FOREACH(o, &jm->pending, state_entry) {
		if (o->rec->job_id >= j->rec->job_id)
			continue;
		if (o->rec->user_id == j->rec->user_id &&
		    strcmp(o->rec->desc->name ? o->rec->desc->name : "",
			   name) == 0)
			return true;
	}
	return false;
}

/* One element's state now. */
/* A dependency on a job array, as Slurm's: after, once every task has
 * started; afterany once every task ended; afterok (and aftercorr of a
 * job not in an array) once every task COMPLETED, never once one did
 * not; afternotok once every task ended and one did not.  An array's
 * aftercorr on an array is per task (job_array_corr_dep). */
static Meridian__DepState
array_dep_state(const struct job *t, const Meridian__JobDep *dp, bool *on_start)
{
	bool ok, done = job_array_done(t->rec, &ok);

	switch (dp->kind) {
	case DK(AFTER):
		if (job_array_started(t->rec))
			return DS(MET);
		*on_start = true;
		return DS(WAITING);
	case DK(AFTERANY):
		return done ? DS(MET) : DS(WAITING);
	case DK(AFTEROK):
	case DK(AFTERCORR):
		return !ok ? DS(NEVER) : done ? DS(MET) : DS(WAITING);
	case DK(AFTERNOTOK):
		return !done ? DS(WAITING) : ok ? DS(NEVER) : DS(MET);
	default:
		return DS(NEVER);
	}
}

static Meridian__DepState dep_state(struct mctld *ctx, const struct job *j,
				    const Meridian__JobDep *dp, int64_t now,
				    int64_t *wake, bool *on_start)
{
	const struct job *t;
	Meridian__JobState st;
	int64_t at;

	if (dp->kind == DK(SINGLETON))
		return singleton_blocked(ctx, j) ? DS(WAITING) : DS(MET);
	t = job_find(ctx, dp->job_id);
	if (!t) {
		/* gone from memory before a pass saw it end: it ended, how
		 * is no longer known */
		return dp->kind == DK(AFTER) || dp->kind == DK(AFTERANY)
			       ? DS(MET)
			       : DS(NEVER);
	}
	if (t->rec->array_job_id == dp->job_id) {
		/* an array's task i after task i of the array named */
		if (dp->kind == DK(AFTERCORR) && job_array_pending(j->rec))
			return job_array_corr_dep(j->rec, t->rec);
		return array_dep_state(t, dp, on_start);
	}
	st = t->rec->state;
	switch (dp->kind) {
	case DK(AFTER):
		if (st == JS(PENDING)) {
			*on_start = true;
			return DS(WAITING);
		}
		at = t->rec->start_time ? t->rec->start_time : t->rec->end_time;
		at += (int64_t)dp->minutes * 60;
		if (now >= at)
			return DS(MET);
		if (!*wake || at < *wake)
			*wake = at;
		return DS(WAITING);
	case DK(AFTERANY):
		return job_state_is_final(st) ? DS(MET) : DS(WAITING);
	case DK(AFTEROK):
	case DK(AFTERCORR):
		if (!job_state_is_final(st))
			return DS(WAITING);
		return st == JS(COMPLETED) && t->rec->exit_code == 0 &&
				       t->rec->term_signal == 0
			       ? DS(MET)
			       : DS(NEVER);
	case DK(AFTERNOTOK):
		if (!job_state_is_final(st))
			return DS(WAITING);
		return st == JS(COMPLETED) && t->rec->exit_code == 0 &&
				       t->rec->term_signal == 0
			       ? DS(NEVER)
			       : DS(MET);
	default:
		return DS(NEVER);
	}
}

enum job_deps job_mgr_deps(struct mctld *ctx, struct job *j, int64_t now,
			   int64_t *wake, bool *on_start)
{
	Meridian__JobRecord *rec = j->rec;
	size_t met = 0, never = 0;
	bool changed = false;
	enum job_deps r;

	for (size_t i = 0; i < rec->n_deps; i++) {
		Meridian__JobDep *dp = rec->deps[i];
		Meridian__DepState s = dp->state;

		/* a job's end is final: what it decided stays (singleton
		 * is asked again each time, and an array's aftercorr: met
		 * for one task is not met for the next) */
		if (s == DS(WAITING) || dp->kind == DK(SINGLETON) ||
		    (dp->kind == DK(AFTERCORR) && job_array_pending(rec)))
			s = dep_state(ctx, j, dp, now, wake, on_start);
		if (s != dp->state) {
			dp->state = s;
			changed = true;
		}
		met += s == DS(MET);
		never += s == DS(NEVER);
	}
	if (changed)
		job_mark_lazy(ctx, j);
	if (rec->deps_any)
		r = met			   ? JOB_DEPS_MET
		    : never == rec->n_deps ? JOB_DEPS_NEVER
					   : JOB_DEPS_WAIT;
	else
		r = never		 ? JOB_DEPS_NEVER
		    : met == rec->n_deps ? JOB_DEPS_MET
					 : JOB_DEPS_WAIT;
	if (r == JOB_DEPS_WAIT)
		job_mgr_set_reason(j, "Dependency");
	else if (r == JOB_DEPS_NEVER)
		job_mgr_set_reason(j, "DependencyNeverSatisfied");
	return r;
}

/* --- state changes ----------------------------------------------------- */

int job_mgr_set_state(struct mctld *ctx, struct job *j, Meridian__JobState to)
{
	struct job_mgr *jm = ctx->jobs;
	Meridian__JobState from = j->rec->state;

	if (!job_state_allowed(from, to)) {
		log_warnx("job %u: refused state change %s -> %s",
			  j->rec->job_id, job_state_name(from),
			  job_state_name(to));
		errno = EINVAL;
		return -1;
	}
	TAILQ_REMOVE(state_list(jm, from), j, state_entry);
	j->rec->state = to;
	TAILQ_INSERT_TAIL(state_list(jm, to), j, state_entry);
	if (job_state_is_final(to))
		j->purge_at = mer_now() + ctx->conf->min_job_age;
	job_mark_dirty(ctx, j);
	return 0;
}

void job_mgr_set_reason(struct job *j, const char *reason)
{
	pb_set_str(&j->rec->reason, reason);
}

static uint64_t gpu_mask_of(const Meridian__JobNodeAlloc *a)
{
	uint64_t m = 0;
	size_t i;

	for (i = 0; i < a->n_gpus; i++)
		if (a->gpus[i] < MER_SELECT_MAX_GPUS)
			m |= 1ull << a->gpus[i];
	return m;
}

static void job_release_nodes(struct mctld *ctx, struct job *j)
{
	size_t i;

	for (i = 0; i < j->rec->n_alloc; i++) {
		const Meridian__JobNodeAlloc *a = j->rec->alloc[i];
		struct node *n = node_find(ctx, a->node);

		if (n)
			node_release(ctx, n, j->rec->job_id, a->cpus, a->mem_mb,
				     gpu_mask_of(a));
	}
}

/* Account j's allocation on its nodes; -1 names a node not in the config. */
static int job_apply_nodes(struct mctld *ctx, struct job *j,
			   const char **missing)
{
	size_t i;

	for (i = 0; i < j->rec->n_alloc; i++) {
		if (!node_find(ctx, j->rec->alloc[i]->node)) {
			*missing = j->rec->alloc[i]->node;
			return -1;
		}
	}
	for (i = 0; i < j->rec->n_alloc; i++) {
		const Meridian__JobNodeAlloc *a = j->rec->alloc[i];

		node_alloc(ctx, node_find(ctx, a->node), j->rec->job_id,
			   a->cpus, a->mem_mb, gpu_mask_of(a));
	}
	return 0;
}

int job_mgr_start(struct mctld *ctx, struct job *j,
		  Meridian__JobNodeAlloc **alloc, size_t nalloc)
{
	Meridian__JobRecord *rec = j->rec;
	const char *missing;
	char **names, *nodes;
	size_t i;

	if (!job_state_allowed(rec->state, JS(RUNNING)) || nalloc == 0) {
		errno = EINVAL;
		return -1;
	}
	rec->alloc = alloc;
	rec->n_alloc = nalloc;
	if (job_apply_nodes(ctx, j, &missing) < 0) {
		rec->alloc = NULL;
		rec->n_alloc = 0;
		errno = ENOENT;
		return -1;
	}
	names = xcalloc(nalloc, sizeof(*names));
	for (i = 0; i < nalloc; i++)
		names[i] = alloc[i]->node;
	nodes = hostlist_compress(names, nalloc);
	free(names);
	pb_free_str(&rec->nodes);
	rec->nodes = nodes;
	pb_set_str(&rec->batch_host, alloc[0]->node);
	rec->start_time = mer_now();
	rec->launched = false;
	pb_set_str(&rec->reason, "None");
	job_mgr_set_state(ctx, j, JS(RUNNING));
	log_info("job %u started on %s", rec->job_id, rec->nodes);
	mail_job(ctx, j, MAIL_BEGIN);
	if (rec->desc->interactive)
		rec->launched = true; /* mrun starts its steps itself */
	else
		job_mgr_queue_launch(ctx, rec->job_id);
	return 0;
}

/*
 * After the commit that started it: send the job's LAUNCH_JOB to its batch
 * host, built then, from the script as stored.  A node not connected now
 * is sent it again when it registers.
 */
static void send_launch(struct mctld *ctx, uint32_t job_id)
{
	Meridian__LaunchJob lj = MERIDIAN__LAUNCH_JOB__INIT;
	struct mer_error err = {""};
	Meridian__JobSpec *spec;
	struct job *j = job_find(ctx, job_id);
	struct node *n;

	if (!j || j->rec->state != JS(RUNNING) || j->rec->launched)
		return;
	n = node_find(ctx, j->rec->batch_host);
	if (!n || !n->peer)
		return;
	spec = job_store_get_spec(ctx, job_id, &err);
	if (!spec) {
		char why[200];

		log_warnx("job %u: cannot read its script: %s", job_id,
			  err.text);
		snprintf(why, sizeof(why), "script unreadable: %s", err.text);
		job_mgr_end(ctx, j, JS(FAILED), 0, 0, 0, why);
		return;
	}
	lj.job = j->rec;
	lj.spec = spec;
	lj.kill_wait = ctx->conf->kill_wait;
	lj.cluster =
		ctx->conf->cluster_name ? ctx->conf->cluster_name : (char *)"";
	if (meridian__launch_job__get_packed_size(&lj) > MER_FRAME_MAX_BODY) {
		/* Submit checks this; a record grown since must not make
		 * its node refuse the frame and reconnect for ever. */
		log_warnx("job %u: its LAUNCH_JOB is over the frame limit",
			  job_id);
		meridian__job_spec__free_unpacked(spec, NULL);
		job_mgr_end(ctx, j, JS(FAILED), 0, 0, 0,
			    "launch message over the frame limit");
		return;
	}
	if (outbox_send_now(ctx, n->name, MERIDIAN__MSG_TYPE__MSG_LAUNCH_JOB,
			    &lj.base, job_id, 0) == 0)
		log_debug("job %u: LAUNCH_JOB sent to %s", job_id, n->name);
	meridian__job_spec__free_unpacked(spec, NULL);
}

void job_mgr_queue_launch(struct mctld *ctx, uint32_t job_id)
{
	outbox_call(ctx, send_launch, job_id);
}

/* What a job used, into its user's fair-share usage (usage.c). */
double job_mgr_usage(const struct mctld *ctx, const struct job *j,
		     int64_t until)
{
	const Meridian__JobRecord *rec = j->rec;
	double cpus = 0, gpus = 0;

	if (!rec->start_time || until <= rec->start_time)
		return 0;
	for (size_t i = 0; i < rec->n_alloc; i++) {
		cpus += rec->alloc[i]->cpus;
		gpus += (double)rec->alloc[i]->n_gpus;
	}
	return (cpus + gpus * ctx->conf->fairshare_gpu_weight) *
	       (double)(until - rec->start_time);
}

static void charge(struct mctld *ctx, const struct job *j, int64_t end)
{
	usage_charge(ctx, j->rec->user_id, job_mgr_usage(ctx, j, end), end);
}

/* release: give back what the allocation holds on its nodes (false only
 * for an allocation that was never charged). */
static int job_end(struct mctld *ctx, struct job *j, Meridian__JobState state,
		   int32_t exit_code, int32_t term_signal, int64_t end_time,
		   const char *reason, bool release)
{
	Meridian__JobRecord *rec = j->rec;
	bool was_running = rec->state == JS(RUNNING);
	size_t npending = job_array_npending(rec);

	if (!job_state_is_final(state) ||
	    !job_state_allowed(rec->state, state)) {
		log_warnx("job %u: refused end %s -> %s", rec->job_id,
			  job_state_name(rec->state), job_state_name(state));
		errno = EINVAL;
		return -1;
	}
	if (was_running && release)
		job_release_nodes(ctx, j);
	if (was_running)
		charge(ctx, j, end_time ? end_time : mer_now());
	if (was_running && step_any_running(j)) {
		/* Steps do not outlive their job: stop them on every node
		 * (the batch host's mnoded also does so on its own). */
		const char *why = *rec->cancel_reason ? rec->cancel_reason
						      : "the job ended";

		step_signal_nodes(ctx, j, SIGKILL, true, why, NULL);
		if (step_end_all(j->rec, why))
			job_mark_dirty(ctx, j);
	}
	rec->exit_code = exit_code;
	rec->term_signal = term_signal;
	rec->end_time = end_time ? end_time : mer_now();
	if (rec->end_time < rec->start_time)
		rec->end_time = rec->start_time;
	pb_set_reason(&rec->reason, reason && *reason ? reason : "None");
	job_mgr_set_state(ctx, j, state);
	job_array_ended(ctx, j, npending);
	log_info("job %u ended %s (exit %d:%d)%s%s", rec->job_id,
		 job_state_name(state), exit_code, term_signal,
		 reason && *reason ? ": " : "", reason ? reason : "");
	if (was_running)
		mail_job(ctx, j, state == JS(COMPLETED) ? MAIL_END : MAIL_FAIL);
	/* a pending job's end may meet another's dependency */
	mctld_want_sched(ctx, was_running);
	return 0;
}

int job_mgr_end(struct mctld *ctx, struct job *j, Meridian__JobState state,
		int32_t exit_code, int32_t term_signal, int64_t end_time,
		const char *reason)
{
	return job_end(ctx, j, state, exit_code, term_signal, end_time, reason,
		       true);
}

void job_mgr_who(struct mctld *ctx, uid_t uid, char *buf, size_t n)
{
	who(ctx->jobs, uid, buf, n);
}

int job_mgr_cancel(struct mctld *ctx, struct job *j, uid_t uid, bool admin,
		   int sig, struct mer_error *err)
{
	Meridian__JobRecord *rec = j->rec;
	struct node *bh;
	char name[64], why[128];

	if (job_state_is_final(rec->state)) {
		errno = EALREADY;
		return mer_error_set(err, "job %u already ended (%s)",
				     rec->job_id, job_state_name(rec->state));
	}
	if (sig < 0 || sig > SIGRTMAX) {
		errno = EINVAL;
		return mer_error_set(err,
				     "signal %d is not a signal number "
				     "(1-%d)",
				     sig, SIGRTMAX);
	}
	bh = rec->state == JS(RUNNING) && !rec->desc->interactive
		     ? node_find(ctx, rec->batch_host)
		     : NULL;
	if (sig) {
		if (rec->state != JS(RUNNING)) {
			errno = EINVAL;
			return mer_error_set(err,
					     "job %u is %s; only a running "
					     "job can be signalled",
					     rec->job_id,
					     job_state_name(rec->state));
		}
		if (bh && !bh->peer) {
			errno = EHOSTUNREACH;
			return mer_error_set(err,
					     "job %u: its batch host %s is "
					     "not connected; signal %d "
					     "was not sent",
					     rec->job_id, rec->batch_host, sig);
		}
		if (!bh && !step_any_running(j)) {
			errno = ESRCH;
			return mer_error_set(err,
					     "job %u runs no step now; signal "
					     "%d was not sent",
					     rec->job_id, sig);
		}
		/* The batch script and every step, on every node. */
		if (bh)
			outbox_signal(ctx, bh->name, rec->job_id, -1, sig,
				      false, "");
		step_signal_nodes(ctx, j, sig, false, "", bh ? bh->name : NULL);
		return 0;
	}
	who(ctx->jobs, uid, name, sizeof(name));
	snprintf(why, sizeof(why), "Cancelled by %s", name);
	pb_set_str(&rec->cancel_reason, why);
	if (rec->state == JS(PENDING))
		return job_mgr_end(ctx, j, JS(CANCELLED), 0, 0, 0, why);
	if (rec->desc->interactive) {
		/* No script to wait for: the job ends now, its steps are
		 * killed on their nodes (job_end). */
		return job_mgr_end(ctx, j, JS(CANCELLED), 0, 0, 0, why);
	}
	if (!bh || !bh->peer || bh->not_responding) {
		/* Nobody to tell: end it now; if the node still runs it, it
		 * is told to kill it when it registers again. */
		return job_mgr_end(ctx, j, JS(CANCELLED), 0, SIGKILL, 0, why);
	}
	job_mark_dirty(ctx, j);
	outbox_signal(ctx, bh->name, rec->job_id, -1, SIGTERM, true, why);
	step_signal_nodes(ctx, j, SIGTERM, true, why, bh->name);
	return 0;
}

int job_mgr_complete(struct mctld *ctx, struct job *j, uid_t uid, bool admin,
		     int32_t exit_code, int32_t term_signal,
		     struct mer_error *err)
{
	Meridian__JobRecord *rec = j->rec;
	bool ok = exit_code == 0 && term_signal == 0;

	if (!rec->desc->interactive) {
		errno = EINVAL;
		return mer_error_set(err,
				     "job %u is a batch job: it ends when its "
				     "script does (mcancel ends it sooner)",
				     rec->job_id);
	}
	if (rec->state != JS(RUNNING)) {
		errno = EALREADY;
		return mer_error_set(err, "job %u already ended (%s)",
				     rec->job_id, job_state_name(rec->state));
	}
	return job_mgr_end(ctx, j, ok ? JS(COMPLETED) : JS(FAILED), exit_code,
			   term_signal, 0, ok ? "None" : "NonZeroExitCode");
}

int job_mgr_requeue(struct mctld *ctx, struct job *j, struct mer_error *err)
{
	Meridian__JobRecord *rec = j->rec;
	struct node *bh;

	if (rec->desc->interactive) {
		errno = EINVAL;
		return mer_error_set(err,
				     "job %u is an mrun allocation; only a "
				     "batch job can be requeued",
				     rec->job_id);
	}
	if (rec->desc->requeue == MERIDIAN__REQUEUE_POLICY__REQUEUE_NO) {
		errno = EPERM;
		return mer_error_set(err,
				     "job %u was submitted --no-requeue: it "
				     "is never requeued",
				     rec->job_id);
	}
	if (rec->state == JS(PENDING)) {
		errno = EINVAL;
		return mer_error_set(err,
				     "job %u is pending: nothing to requeue",
				     rec->job_id);
	}
	if (rec->state != JS(RUNNING))
		return job_requeue(ctx, j, mer_now(), "mctl requeue");
	if (rec->requeue_asked)
		return 0;
	bh = node_find(ctx, rec->batch_host);
	if (!bh || !bh->peer || bh->not_responding)
		return job_requeue(ctx, j, mer_now(), "mctl requeue");
	/* as a cancel, and requeued when its end comes (job_mgr_node_end) */
	rec->requeue_asked = true;
	pb_set_str(&rec->cancel_reason, "Requeued");
	job_mark_dirty(ctx, j);
	outbox_signal(ctx, bh->name, rec->job_id, -1, SIGTERM, true,
		      "Requeued");
	step_signal_nodes(ctx, j, SIGTERM, true, "Requeued", bh->name);
	return 0;
}

int job_mgr_hold(struct mctld *ctx, struct job *j, uid_t uid, bool admin,
		 Meridian__JobAction action, struct mer_error *err)
{
	Meridian__JobRecord *rec = j->rec;
	Meridian__JobDesc *d = rec->desc;
	const char *verb = action == MERIDIAN__JOB_ACTION__JOB_ACTION_HOLD
				   ? "held"
				   : "released";

	if (action != MERIDIAN__JOB_ACTION__JOB_ACTION_HOLD &&
	    action != MERIDIAN__JOB_ACTION__JOB_ACTION_RELEASE) {
		errno = EINVAL;
		return mer_error_set(err,
				     "job action %d is not hold or release",
				     (int)action);
	}
	if (rec->state != JS(PENDING)) {
		errno = EINVAL;
		return mer_error_set(err,
				     "job %u is %s; only a pending job can "
				     "be %s",
				     rec->job_id, job_state_name(rec->state),
				     verb);
	}
	if (action == MERIDIAN__JOB_ACTION__JOB_ACTION_HOLD) {
		/* A user's hold never weakens an admin's. */
		if (admin)
			d->hold = MERIDIAN__HOLD_KIND__HOLD_ADMIN;
		else if (d->hold != MERIDIAN__HOLD_KIND__HOLD_ADMIN)
			d->hold = MERIDIAN__HOLD_KIND__HOLD_USER;
		pb_set_str(&rec->reason,
			   d->hold == MERIDIAN__HOLD_KIND__HOLD_ADMIN
				   ? "JobHeldAdmin"
				   : "JobHeldUser");
		job_mark_dirty(ctx, j);
		return 0;
	}
	if (d->hold == MERIDIAN__HOLD_KIND__HOLD_NONE)
		return 0;
	if (d->hold == MERIDIAN__HOLD_KIND__HOLD_ADMIN && !admin) {
		errno = EPERM;
		return mer_error_set(err,
				     "job %u was held by an admin; only an "
				     "admin may release it",
				     rec->job_id);
	}
	d->hold = MERIDIAN__HOLD_KIND__HOLD_NONE;
	pb_set_str(&rec->reason, "None");
	job_mark_dirty(ctx, j);
	mctld_want_sched(ctx, true);
	return 0;
}

/* --- what nodes report ------------------------------------------------- */

static const char *default_end_reason(Meridian__JobState s)
{
	switch (s) {
	case JS(FAILED):
		return "NonZeroExitCode";
	case JS(TIMEOUT):
		return "TimeLimit";
	case JS(NODE_FAIL):
		return "NodeFail";
	default:
		return "None";
	}
}

void job_mgr_node_end(struct mctld *ctx, const char *node,
		      const Meridian__JobEnd *end)
{
	struct job *j = job_find(ctx, end->job_id);
	Meridian__JobState st = end->state;
	const char *reason;

	if (!j) {
		log_debug("node %s: end of job %u, not in memory; acked", node,
			  end->job_id);
		return;
	}
	if (j->rec->state != JS(RUNNING) ||
	    strcmp(j->rec->batch_host, node) != 0) {
		/* an earlier run's, on a node that held it: it may take the
		 * job again */
		struct node *n = node_find(ctx, node);

		if (n)
			node_orphan_del(n, end->job_id);
	}
	if (j->rec->state != JS(RUNNING))
		return; /* already recorded: a resend */
	if (strcmp(j->rec->batch_host, node) != 0) {
		log_warnx("node %s reports the end of job %u, whose batch host "
			  "is %s; ignored",
			  node, end->job_id, j->rec->batch_host);
		return;
	}
	if (!job_state_is_final(st)) {
		log_warnx(
			"node %s: job %u ended in state %d, not a final state;"
			" recorded as FAILED",
			node, end->job_id, (int)st);
		st = JS(FAILED);
	}
	if (*j->rec->cancel_reason && !j->rec->requeue_asked &&
	    st != JS(CANCELLED)) {
		/* Cancelled is cancelled, as scancel's: the script may have
		 * ended on its own before the SIGTERM came (an mrun whose
		 * step the cancel killed first returns, and the script
		 * exits 0). */
		st = JS(CANCELLED);
		reason = j->rec->cancel_reason;
	} else {
		reason = end->reason && *end->reason ? end->reason
			 : st == JS(CANCELLED) && *j->rec->cancel_reason
				 ? j->rec->cancel_reason
				 : default_end_reason(st);
	}
	if (end->start_time && !j->rec->start_time)
		j->rec->start_time = end->start_time;
	if (j->rec->requeue_asked &&
	    job_requeue(ctx, j, end->end_time ? end->end_time : mer_now(),
			"mctl requeue") == 0)
		return;
	job_mgr_end(ctx, j, st, end->exit_code, end->term_signal, end->end_time,
		    reason);
}

void job_mgr_launch_acked(struct mctld *ctx, uint32_t job_id, const char *node)
{
	struct job *j = job_find(ctx, job_id);

	if (!j || j->rec->state != JS(RUNNING) || j->rec->launched ||
	    strcmp(j->rec->batch_host, node) != 0)
		return;
	j->rec->launched = true;
	job_mark_lazy(ctx, j);
}

void job_mgr_launch_failed(struct mctld *ctx, uint32_t job_id, const char *node,
			   const char *text)
{
	struct job *j = job_find(ctx, job_id);
	char why[160];

	if (!j || j->rec->state != JS(RUNNING) || j->rec->launched ||
	    strcmp(j->rec->batch_host, node) != 0)
		return;
	snprintf(why, sizeof(why), "launch failed on %s: %s", node, text);
	job_mgr_end(ctx, j, JS(FAILED), 0, 0, 0, why);
}

/* --- load and housekeeping --------------------------------------------- */

/* Keep the finished list in purge order (loads come in id order, which
 * is nearly end order, so this walks back only a little). */
static void finished_insert(struct job_mgr *jm, struct job *j)
{
	struct job *t;

	TAILQ_FOREACH_REVERSE(t, &jm->finished, job_list, state_entry) {
		if (t->purge_at <= j->purge_at)
			break;
	}
	if (t)
		TAILQ_INSERT_AFTER(&jm->finished, t, j, state_entry);
	else
		TAILQ_INSERT_HEAD(&jm->finished, j, state_entry);
}

void job_mgr_load(struct mctld *ctx, Meridian__JobRecord *rec, int64_t now)
{
	struct job_mgr *jm = ctx->jobs;
	struct job_res res;
	struct mer_error err;
	struct job *j;
	const char *missing;

	if (rec->job_id >= jm->next_id)
		jm->next_id = rec->job_id + 1;
	if (job_state_is_final(rec->state) &&
	    rec->end_time + (int64_t)ctx->conf->min_job_age <= now) {
		/* aged out while mctld was down (or kept by a mctld that had
		 * no history): it moves to the history now */
		job_store_queue_delete(ctx, rec->job_id);
		history_add(ctx, rec);
		meridian__job_record__free_unpacked(rec, NULL);
		return;
	}
	if (job_find(ctx, rec->job_id)) {
		meridian__job_record__free_unpacked(rec, NULL);
		return;
	}
	if (!rec->desc) {
		rec->desc = xmalloc(sizeof(*rec->desc));
		meridian__job_desc__init(rec->desc);
	}
	j = xcalloc(1, sizeof(*j));
	j->rec = rec;
	j->part = conf_find_partition(ctx->conf, rec->desc->partition);
	limits_bind(ctx, j);
	if (job_res_compute(rec->desc, &res, &err) < 0) {
		res.tasks_per_node = 1;
		res.cpus_per_node = 1;
		res.gpus_per_node = 0;
		res.mem_per_node = 0;
	}
	job_set_res(j, &res);
	job_set_nodes(ctx, j);
	job_insert(jm, j);
	switch (rec->state) {
	case JS(PENDING):
		TAILQ_INSERT_TAIL(&jm->pending, j, state_entry);
		if (!j->part)
			pb_set_str(&rec->reason, "PartitionInvalid");
		break;
	case JS(RUNNING):
		TAILQ_INSERT_TAIL(&jm->running, j, state_entry);
		if (job_apply_nodes(ctx, j, &missing) < 0) {
			char why[160];

			snprintf(why, sizeof(why),
				 "node %s is no longer in meridian.conf",
				 missing);
			job_end(ctx, j, JS(NODE_FAIL), 0, 0, 0, why, false);
		}
		break;
	default:
		if (!job_state_is_final(rec->state)) {
			/* NONE or garbage: nothing to run, keep it visible */
			rec->state = JS(FAILED);
		}
		j->purge_at = rec->end_time + ctx->conf->min_job_age;
		finished_insert(jm, j);
		break;
	}
}

/* Whether a job lost with a node runs again (--requeue, JobRequeue=). */
static bool may_requeue(const struct mctld *ctx, const struct job *j)
{
	const Meridian__JobDesc *d = j->rec->desc;

	if (d->interactive ||
	    d->requeue == MERIDIAN__REQUEUE_POLICY__REQUEUE_NO)
		return false;
	return d->requeue == MERIDIAN__REQUEUE_POLICY__REQUEUE_YES ||
	       ctx->conf->job_requeue;
}

/*
 * Back to PENDING, to run again from its start: what it held is given
 * back, its steps end, and the nodes that may still run its batch script
 * (orphans, node_orphan_add) take no new run of it until they have said
 * that it ended there (a node runs one instance of a job).
 */
static int job_requeue(struct mctld *ctx, struct job *j, int64_t now,
		       const char *why)
{
	Meridian__JobRecord *rec = j->rec;
	bool was_running = rec->state == JS(RUNNING),
	     was_final = job_state_is_final(rec->state),
	     was_ok = rec->state == JS(COMPLETED) && rec->exit_code == 0 &&
		      rec->term_signal == 0;

	if (!job_state_allowed(rec->state, JS(PENDING)))
		return -1;
	if (was_running) {
		struct node *bh = node_find(ctx, rec->batch_host);

		if (bh && !rec->desc->interactive && !rec->requeue_asked)
			node_orphan_add(bh, rec->job_id);
		if (step_any_running(j)) {
			step_signal_nodes(ctx, j, SIGKILL, true, why, NULL);
			step_end_all(rec, why);
		}
		charge(ctx, j, now);
		job_release_nodes(ctx, j);
	}
	for (size_t i = 0; i < rec->n_alloc; i++)
		protobuf_c_message_free_unpacked(&rec->alloc[i]->base, NULL);
	free(rec->alloc);
	rec->alloc = NULL;
	rec->n_alloc = 0;
	pb_free_str(&rec->nodes);
	pb_free_str(&rec->batch_host);
	pb_free_str(&rec->cancel_reason);
	rec->launched = false;
	rec->requeue_asked = false;
	rec->signal_sent = false;
	rec->start_time = 0;
	rec->end_time = 0;
	rec->exit_code = 0;
	rec->term_signal = 0;
	rec->restart_count++;
	if (rec->desc->max_nodes) {
		/* -N MIN-MAX: its next run picks its count again */
		struct job_res res;
		struct mer_error e;

		if (job_res_compute(rec->desc, &res, &e) == 0)
			job_mgr_set_res(j, &res);
	}
	pb_set_str(&rec->reason, "None");
	job_mgr_set_state(ctx, j, JS(PENDING));
	job_array_requeued(ctx, j, was_final, was_ok);
	log_info("job %u requeued (run %u next): %s", rec->job_id,
		 rec->restart_count + 1, why);
	mail_job(ctx, j, MAIL_REQUEUE);
	mctld_want_sched(ctx, true);
	return 0;
}

/* Job j has lost node `lost` (why says how): it ends NODE_FAIL; its
 * batch script is killed where its batch host is still up (job_end kills
 * its steps), and every lost node of it is told to kill what it still
 * runs when it is heard from again. */
static void give_up(struct mctld *ctx, struct job *j, int64_t now,
		    const char *why)
{
	Meridian__JobRecord *rec = j->rec;

	for (size_t i = 0; i < rec->n_alloc; i++) {
		struct node *n = node_find(ctx, rec->alloc[i]->node);

		if (!n)
			continue;
		if (node_lost(ctx, n, now))
			node_orphan_add(n, rec->job_id);
		else if (!rec->desc->interactive &&
			 strcmp(n->name, rec->batch_host) == 0)
			outbox_signal(ctx, n->name, rec->job_id, -1, SIGKILL,
				      true, why);
	}
	job_mgr_lost(ctx, j, now, why);
}

void job_mgr_lost(struct mctld *ctx, struct job *j, int64_t now,
		  const char *why)
{
	if (may_requeue(ctx, j) && job_requeue(ctx, j, now, why) == 0)
		return;
	job_mgr_end(ctx, j, JS(NODE_FAIL), 0, 0, now, why);
}

/* --signal=[B:]SIG@SECONDS: SECONDS before the limit, SIG to the batch
 * script (B:) or to the job's steps, once. */
static void warn_signal(struct mctld *ctx, struct job *j)
{
	Meridian__JobRecord *rec = j->rec;
	struct node *bh = node_find(ctx, rec->batch_host);

	rec->signal_sent = true;
	job_mark_lazy(ctx, j);
	log_info("job %u: signal %d, %u s before its time limit (--signal)",
		 rec->job_id, rec->desc->signal, rec->desc->signal_secs);
	if (rec->desc->signal_batch) {
		if (bh && !rec->desc->interactive)
			outbox_signal_scope(
				ctx, bh->name, rec->job_id, -1,
				rec->desc->signal, false, "",
				MERIDIAN__SIGNAL_SCOPE__SIGNAL_BATCH);
		return;
	}
	/* every node of the job: those without a step ignore it */
	for (size_t i = 0; i < rec->n_alloc; i++)
		outbox_signal_scope(ctx, rec->alloc[i]->node, rec->job_id, -1,
				    rec->desc->signal, false, "",
				    MERIDIAN__SIGNAL_SCOPE__SIGNAL_STEPS);
}

/* NodeLostTimeout: the running jobs of every node silent that long. */
static void lost_nodes(struct mctld *ctx, int64_t now)
{
	uint32_t after = ctx->conf->node_lost_timeout;
	size_t nn = node_mgr_count(ctx);

	if (!after)
		return;
	for (size_t i = 0; i < nn; i++) {
		struct node *n = node_at(ctx, i);
		int64_t since = n->njobs ? node_lost_since(ctx, n, now) : 0;
		uint32_t *ids;
		size_t nids;
		char why[160];

		if (!since || now - since < (int64_t)after)
			continue;
		snprintf(why, sizeof(why),
			 "NodeFail: %s not responding for %llds "
			 "(NodeLostTimeout=%u)",
			 n->name, (long long)(now - since), after);
		/* ending a job takes it off n's list: walk a copy */
		nids = n->njobs;
		ids = xcalloc(nids, sizeof(*ids));
		memcpy(ids, n->job_ids, nids * sizeof(*ids));
		for (size_t k = 0; k < nids; k++) {
			struct job *j = job_find(ctx, ids[k]);

			if (j && j->rec->state == JS(RUNNING))
				give_up(ctx, j, now, why);
		}
		free(ids);
	}
}

/* Whether an array still waiting has an aftercorr on the array a: its
 * record tells which of a's tasks ended ok.  Asked once a MinJobAge per
 * array record due to go. */
static bool corr_needed(struct job_mgr *jm, const struct job *a)
{
	const struct job *j;

	TAILQ_FOREACH(j, &jm->pending, state_entry) {
		if (!job_array_pending(j->rec))
			continue;
		for (size_t k = 0; k < j->rec->n_deps; k++)
			if (j->rec->deps[k]->kind == DK(AFTERCORR) &&
			    j->rec->deps[k]->job_id == a->rec->job_id)
				return true;
	}
	return false;
}

void job_mgr_tick(struct mctld *ctx, int64_t now)
{
	struct job_mgr *jm = ctx->jobs;
	struct job *j, *next;
	uint32_t kill_wait = ctx->conf->kill_wait;

	job_mgr_flush_lazy(ctx);
	while ((j = TAILQ_FIRST(&jm->finished)) && j->purge_at <= now) {
		if (j->dirty)
			break; /* write it first; purge next tick */
		if (j->rec->array_job_id == j->rec->job_id &&
		    (j->rec->array_tasks_left || corr_needed(jm, j))) {
			/* an array's record outlives its tasks: dependencies
			 * on the array read it, an aftercorr task by task */
			TAILQ_REMOVE(&jm->finished, j, state_entry);
			j->purge_at = now + (ctx->conf->min_job_age
						     ? ctx->conf->min_job_age
						     : 1);
			finished_insert(jm, j);
			continue;
		}
		log_debug("job %u leaves memory (MinJobAge)", j->rec->job_id);
		job_store_queue_delete(ctx, j->rec->job_id);
		job_unlink(jm, j);
		history_add(ctx, j->rec);
		job_free(j);
	}
	lost_nodes(ctx, now);
	for (j = TAILQ_FIRST(&jm->running); j; j = next) {
		Meridian__JobRecord *rec = j->rec;
		struct node *bh;
		char why[160];

		next = TAILQ_NEXT(j, state_entry);
		if (!rec->time_limit)
			continue;
		if (rec->desc->signal && !rec->signal_sent &&
		    now >= rec->start_time + (int64_t)rec->time_limit * 60 -
				    (int64_t)rec->desc->signal_secs)
			warn_signal(ctx, j);
		if (rec->desc->interactive &&
		    now >= rec->start_time + (int64_t)rec->time_limit * 60) {
			/* mctld is the only one keeping its time. */
			job_mgr_end(ctx, j, JS(TIMEOUT), 0, 0, now,
				    "TimeLimit");
			continue;
		}
		if (now <
		    rec->start_time + (int64_t)rec->time_limit * 60 + kill_wait)
			continue;
		bh = node_find(ctx, rec->batch_host);
		if (bh && !node_lost(ctx, bh, now))
			continue;
		snprintf(why, sizeof(why),
			 "batch host %s down past the time limit",
			 rec->batch_host);
		job_mgr_end(ctx, j, JS(NODE_FAIL), 0, 0, now, why);
	}
}
