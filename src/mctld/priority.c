/*
 * priority.c - PriorityType=priority/multifactor: a pending job's
 * priority from weighted factors, as Slurm's multifactor plugin makes it
 * (and sprio shows it):
 *
 *   age        how long it has been eligible (since submit, or --begin),
 *              over PriorityMaxAge, at most 1;
 *   fairshare  2^-(U / (S * T)): U its user's usage (usage.c, decayed,
 *              with what the user's running jobs have used so far), T
 *              everyone's, S the user's share (1 / the users sharing the
 *              cluster: those with usage or pending jobs); 1 when nobody
 *              has used anything;
 *   job_size   its nodes over the cluster's;
 *   partition  its partition's PriorityJobFactor over the largest;
 *   qos        its QOS's Priority= over the largest (QosName= lines);
 *
 * each times its PriorityWeight*; the priority is their sum less the job's
 * nice, at least 1.  The sched plugin orders by it.  Computed once per
 * scheduling pass for every pending job (O(jobs log users)); a priority
 * an admin set (mctl update job Priority=) is left as it is.
 */
#include "config.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mctld.h"
#include "util.h"

static uint32_t weigh(uint32_t w, double f)
{
	if (!(f > 0))
		return 0;
	if (f > 1)
		f = 1;
	return (uint32_t)llround((double)w * f);
}

uint32_t priority_factors(const struct conf *c, const struct prio_in *in,
			  Meridian__PriorityFactors *out)
{
	double age = 0, fs = 1, size = 0, part = 0, qos = 0;
	int64_t sum;

	if (c->prio_max_age && in->now > in->eligible)
		age = (double)(in->now - in->eligible) /
		      ((double)c->prio_max_age * 60);
	if (in->total_usage > 0 && in->nusers)
		fs = exp2(-(in->usage * in->nusers) / in->total_usage);
	if (in->total_nodes)
		size = (double)in->num_nodes / in->total_nodes;
	if (in->max_part_factor)
		part = (double)in->part_factor / in->max_part_factor;
	if (in->max_qos_prio)
		qos = (double)in->qos_prio / in->max_qos_prio;
	out->age = weigh(c->prio_weight_age, age);
	out->fairshare = weigh(c->prio_weight_fairshare, fs);
	out->job_size = weigh(c->prio_weight_jobsize, size);
	out->partition = weigh(c->prio_weight_partition, part);
	out->qos = weigh(c->prio_weight_qos, qos);
	out->nice = in->nice;
	sum = (int64_t)out->age + out->fairshare + out->job_size +
	      out->partition + out->qos - in->nice;
	if (sum < 1)
		sum = 1;
	if (sum > UINT32_MAX - 1)
		sum = UINT32_MAX - 1;
	return (uint32_t)sum;
}

/* One user of this pass: usage so far, whether a job of theirs waits. */
struct puser {
	uint32_t uid;
	double usage;
};

static int puser_cmp(const void *a, const void *b)
{
	const struct puser *x = a, *y = b;

	return x->uid < y->uid ? -1 : x->uid > y->uid;
}

static struct puser *pfind(struct puser *u, size_t n, uint32_t uid)
{
	struct puser key = {uid, 0};

	return bsearch(&key, u, n, sizeof(*u), puser_cmp);
}

void priority_pass(struct mctld *ctx, int64_t now)
{
	const struct conf *c = ctx->conf;
	size_t nknown = usage_count(ctx), cap, n = 0, m = 0;
	uint32_t *uids, max_pf = 0, max_qp = 0,
			nodes = (uint32_t)node_mgr_count(ctx);
	double *use, total = 0;
	struct puser *u;
	struct job *j;

	if (!c->priority_multifactor)
		return;
	for (size_t p = 0; p < c->npartitions; p++)
		if (c->partitions[p].priority_job_factor > max_pf)
			max_pf = c->partitions[p].priority_job_factor;
	for (size_t q = 0; q < c->nqos; q++)
		if (c->qos[q].priority > max_qp)
			max_qp = c->qos[q].priority;
	/* every user with usage, running or pending jobs */
	cap = nknown;
	TAILQ_FOREACH(j, job_mgr_running(ctx), state_entry)
		cap++;
	TAILQ_FOREACH(j, job_mgr_pending(ctx), state_entry)
		cap++;
	uids = xcalloc(nknown + 1, sizeof(*uids));
	use = xcalloc(nknown + 1, sizeof(*use));
	u = xcalloc(cap + 1, sizeof(*u));
	nknown = usage_users(ctx, uids, use, nknown, now);
	for (size_t i = 0; i < nknown; i++) {
		u[n].uid = uids[i];
		u[n].usage = use[i];
		n++;
	}
	TAILQ_FOREACH(j, job_mgr_running(ctx), state_entry) {
		u[n].uid = j->rec->user_id;
		u[n].usage = job_mgr_usage(ctx, j, now);
		n++;
	}
	TAILQ_FOREACH(j, job_mgr_pending(ctx), state_entry) {
		u[n].uid = j->rec->user_id;
		u[n].usage = 0;
		n++;
	}
	/* one entry a user, their usage summed */
	qsort(u, n, sizeof(*u), puser_cmp);
	for (size_t i = 0; i < n; i++) {
		if (m && u[m - 1].uid == u[i].uid) {
			u[m - 1].usage += u[i].usage;
			continue;
		}
		u[m++] = u[i];
	}
	for (size_t i = 0; i < m; i++)
		total += u[i].usage;
	TAILQ_FOREACH(j, job_mgr_pending(ctx), state_entry) {
		Meridian__JobRecord *rec = j->rec;
		struct puser *pu = pfind(u, m, rec->user_id);
		struct prio_in in;

		if (rec->priority_fixed)
			continue;
		memset(&in, 0, sizeof(in));
		in.now = now;
		in.eligible = rec->desc->begin_time > rec->submit_time
				      ? rec->desc->begin_time
				      : rec->submit_time;
		in.num_nodes = rec->num_nodes;
		in.total_nodes = nodes;
		in.part_factor = j->part ? j->part->priority_job_factor : 0;
		in.max_part_factor = max_pf;
		in.qos_prio = j->qos ? j->qos->priority : 0;
		in.max_qos_prio = max_qp;
		in.usage = pu ? pu->usage : 0;
		in.total_usage = total;
		in.nusers = (uint32_t)m;
		in.nice = rec->desc->nice;
		if (!rec->factors) {
			rec->factors = xmalloc(sizeof(*rec->factors));
			meridian__priority_factors__init(rec->factors);
		}
		rec->priority = priority_factors(c, &in, rec->factors);
	}
	free(uids);
	free(use);
	free(u);
}
