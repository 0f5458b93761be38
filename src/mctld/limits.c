/*
 * limits.c - QOS and accounts (QosName= and AccountName= lines in
 * meridian.conf, what Slurm keeps in slurmdbd's associations): the
 * account and QOS a job runs under, the limits refused at submit, and
 * the limits on running jobs that make a job wait with the limit as its
 * reason.
 *
 * At submit (limits_account, then limits_submit): with AccountName lines a
 * job's account is one that lists its user (the first such line when --account
 * is not given); with QosName lines its QOS is --qos, else its account's
 * DefaultQOS, else "normal" when defined, and must be in its account's
 * QOS=.  Refused then, each naming its limit: a time limit over MaxWall
 * (a job that asked none gets MaxWall), more GPUs or nodes than
 * MaxGPUsPerJob / MaxNodesPerJob, more pending and running jobs than
 * MaxSubmitJobsPerUser or the account's MaxSubmitJobs, and a job that
 * could never run under a GPU limit on running jobs.
 *
 * In each scheduling pass (only when some limit counts running jobs,
 * conf->run_limits): the running jobs are counted once per (QOS, user),
 * (QOS, account), account and (account, user), O(running); a pending
 * job over a count waits with Slurm's reason (QOSMaxJobsPerUserLimit,
 * QOSMaxGRESPerUser, QOSMaxJobsPerAccount, QOSMaxGRESPerAccount,
 * AssocGrpJobsLimit, AssocGrpGRES, AssocMaxJobsLimit), and each job the
 * pass starts is counted at once, so that one pass cannot go past a
 * limit.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mctld.h"
#include "parse.h"
#include "util.h"

enum {
	K_QOS_USER = 1,
	K_QOS_ACCT,
	K_ACCT,
	K_ACCT_USER,
};

struct lim_slot {
	uint64_t key; /* 0: empty */
	uint32_t jobs, gpus;
};

struct limits {
	struct lim_slot *t;
	size_t cap, used; /* cap a power of two */
};

static uint64_t hash64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	return x;
}

/* An account's number in keys: its line's index, or (an account no
 * AccountName line names) its name's hash with the top bit set. */
static uint32_t acct_id(const struct mctld *ctx, const struct job *j)
{
	const char *s = j->rec->desc->account;
	uint32_t h = 2166136261u;

	if (j->acct)
		return (uint32_t)(j->acct - ctx->conf->accounts);
	for (; s && *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h | 0x80000000u;
}

static uint64_t key(unsigned kind, uint32_t a, uint32_t b)
{
	return (uint64_t)kind << 56 | (uint64_t)(a & 0xffffff) << 32 | b;
}

static struct lim_slot *slot(struct limits *l, uint64_t k, bool add)
{
	size_t m, i;

	if (!l->cap) {
		if (!add)
			return NULL;
		l->cap = 64;
		l->t = xcalloc(l->cap, sizeof(*l->t));
	}
	if (add && (l->used + 1) * 2 > l->cap) {
		struct lim_slot *old = l->t;
		size_t ocap = l->cap;

		l->cap *= 2;
		l->t = xcalloc(l->cap, sizeof(*l->t));
		l->used = 0;
		for (i = 0; i < ocap; i++)
			if (old[i].key)
				*slot(l, old[i].key, true) = old[i];
		free(old);
	}
	m = l->cap - 1;
	for (i = hash64(k) & m;; i = (i + 1) & m) {
		if (l->t[i].key == k)
			return &l->t[i];
		if (!l->t[i].key) {
			if (!add)
				return NULL;
			l->t[i].key = k;
			l->used++;
			return &l->t[i];
		}
	}
}

static uint32_t job_gpus(const struct job *j)
{
	return j->gpus_per_node * j->rec->num_nodes;
}

/* The keys a job counts under: up to four. */
static size_t keys_of(const struct mctld *ctx, const struct job *j, uint64_t *k)
{
	size_t n = 0;
	uint32_t a = acct_id(ctx, j), uid = j->rec->user_id;

	if (j->qos) {
		uint32_t q = (uint32_t)(j->qos - ctx->conf->qos);

		k[n++] = key(K_QOS_USER, q, uid);
		k[n++] = key(K_QOS_ACCT, q, a);
	}
	if (j->acct) {
		k[n++] = key(K_ACCT, 0, a);
		k[n++] = key(K_ACCT_USER, a, uid);
	}
	return n;
}

static void count(struct mctld *ctx, const struct job *j)
{
	uint64_t k[4];
	size_t n = keys_of(ctx, j, k);

	for (size_t i = 0; i < n; i++) {
		struct lim_slot *s = slot(ctx->limits, k[i], true);

		s->jobs++;
		s->gpus += job_gpus(j);
	}
}

void limits_bind(struct mctld *ctx, struct job *j)
{
	const Meridian__JobDesc *d = j->rec->desc;

	j->qos = conf_find_qos(ctx->conf, d->qos);
	j->acct = conf_find_account(ctx->conf, d->account);
}

void limits_pass(struct mctld *ctx)
{
	struct limits *l = ctx->limits;
	struct job *j;

	if (!ctx->conf->run_limits)
		return;
	if (!l)
		l = ctx->limits = xcalloc(1, sizeof(*l));
	if (l->used)
		memset(l->t, 0, l->cap * sizeof(*l->t));
	l->used = 0;
	TAILQ_FOREACH(j, job_mgr_running(ctx), state_entry)
		count(ctx, j);
}

const char *limits_wait(struct mctld *ctx, const struct job *j)
{
	const struct conf_qos *q = j->qos;
	const struct conf_account *a = j->acct;
	const struct lim_slot *s;
	uint32_t g = job_gpus(j), ai, uid = j->rec->user_id;
	struct limits *l = ctx->limits;

	if (!ctx->conf->run_limits || !l || (!q && !a))
		return NULL;
	ai = acct_id(ctx, j);
	if (q) {
		uint32_t qi = (uint32_t)(q - ctx->conf->qos);

		s = slot(l, key(K_QOS_USER, qi, uid), false);
		if (s && q->max_jobs_pu && s->jobs >= q->max_jobs_pu)
			return "QOSMaxJobsPerUserLimit";
		if (q->max_gpus_pu && g &&
		    (s ? s->gpus : 0) + g > q->max_gpus_pu)
			return "QOSMaxGRESPerUser";
		s = slot(l, key(K_QOS_ACCT, qi, ai), false);
		if (s && q->max_jobs_pa && s->jobs >= q->max_jobs_pa)
			return "QOSMaxJobsPerAccount";
		if (q->max_gpus_pa && g &&
		    (s ? s->gpus : 0) + g > q->max_gpus_pa)
			return "QOSMaxGRESPerAccount";
	}
	if (a) {
		s = slot(l, key(K_ACCT, 0, ai), false);
		if (s && a->grp_jobs && s->jobs >= a->grp_jobs)
			return "AssocGrpJobsLimit";
		if (a->grp_gpus && g && (s ? s->gpus : 0) + g > a->grp_gpus)
			return "AssocGrpGRES";
		s = slot(l, key(K_ACCT_USER, ai, uid), false);
		if (s && a->max_jobs && s->jobs >= a->max_jobs)
			return "AssocMaxJobsLimit";
	}
	return NULL;
}

void limits_started(struct mctld *ctx, const struct job *j)
{
	if (ctx->conf->run_limits && ctx->limits)
		count(ctx, j);
}

void limits_free(struct mctld *ctx)
{
	if (!ctx->limits)
		return;
	free(ctx->limits->t);
	free(ctx->limits);
	ctx->limits = NULL;
}

/* A comma list for an error, cut to fit. */
static void names(struct strbuf *b, const char *const *v, size_t n,
		  size_t stride)
{
	for (size_t i = 0; i < n && b->len < 120; i++)
		strbuf_addf(
			b, "%s%s", i ? ", " : "",
			*(const char *const *)((const char *)v + i * stride));
	if (!n)
		strbuf_add(b, "none", 4);
}

/* The jobs user has pending and running (an array's pending tasks each
 * one) under QOS q (NULL: any) and account a (NULL: any). */
static uint64_t user_jobs(struct mctld *ctx, uint32_t uid,
			  const struct conf_qos *q,
			  const struct conf_account *a)
{
	struct job_list *lists[2] = {job_mgr_pending(ctx),
				     job_mgr_running(ctx)};
	uint64_t n = 0;
	struct job *j;

	for (int i = 0; i < 2; i++)
		TAILQ_FOREACH(j, lists[i], state_entry) {
			if (j->rec->user_id != uid || (q && j->qos != q) ||
			    (a && j->acct != a))
				continue;
			n += job_array_pending(j->rec)
				     ? job_array_npending(j->rec)
				     : 1;
		}
	return n;
}

static int refuse(struct mer_error *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static int refuse(struct mer_error *err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err->text, sizeof(err->text), fmt, ap);
	va_end(ap);
	errno = EINVAL;
	return -1;
}

int limits_account(struct mctld *ctx, Meridian__JobDesc *d, const char *user,
		   bool admin, struct mer_error *err)
{
	const struct conf *c = ctx->conf;
	const struct conf_account *a = NULL;
	struct strbuf b = {0};
	int rc = 0;

	if (!c->naccounts)
		return 0;
	if (!d->account || !*d->account) {
		a = conf_user_account(c, user);
		if (!a && !admin) {
			names(&b, (const char *const *)&c->accounts[0].name,
			      c->naccounts, sizeof(c->accounts[0]));
			rc = refuse(
				err,
				"user %.40s is in no account: meridian.conf's "
				"AccountName= lines (%s) list their Users=, "
				"and one must list you",
				user, b.s);
		}
		if (a)
			pb_set_str(&d->account, a->name);
	} else if (!(a = conf_find_account(c, d->account))) {
		names(&b, (const char *const *)&c->accounts[0].name,
		      c->naccounts, sizeof(c->accounts[0]));
		rc = refuse(err, "unknown account '%.40s' (accounts: %s)",
			    d->account, b.s);
	} else if (!admin && !conf_account_has_user(a, user)) {
		rc = refuse(err,
			    "user %.40s may not use account %s: not in its "
			    "Users= (meridian.conf line %d)",
			    user, a->name, a->line);
	}
	strbuf_free(&b);
	return rc;
}

static int pick_qos(struct mctld *ctx, Meridian__JobDesc *d,
		    const struct conf_account *a, bool admin,
		    const struct conf_qos **qp, struct mer_error *err)
{
	const struct conf *c = ctx->conf;
	const struct conf_qos *q = NULL;
	struct strbuf b = {0};
	int rc = 0;

	*qp = NULL;
	if (!c->nqos)
		return 0; /* --qos kept as written: no QOS to limit it */
	if (!d->qos || !*d->qos) {
		q = conf_find_qos(c, a && a->default_qos ? a->default_qos
							 : "normal");
		if (q)
			pb_set_str(&d->qos, q->name);
	} else if (!(q = conf_find_qos(c, d->qos))) {
		names(&b, (const char *const *)&c->qos[0].name, c->nqos,
		      sizeof(c->qos[0]));
		rc = refuse(err, "unknown QOS '%.40s' (QOS: %s)", d->qos, b.s);
	}
	if (!rc && q && a && a->qos && !admin &&
	    !conf_list_has(a->qos, q->name))
		rc = refuse(err,
			    "account %s may not use QOS %s: expected one of "
			    "its QOS=%.80s",
			    a->name, q->name, a->qos);
	strbuf_free(&b);
	*qp = q;
	return rc;
}

int limits_submit(struct mctld *ctx, Meridian__JobDesc *d, const char *user,
		  uint32_t uid, bool admin, const struct job_res *res,
		  uint32_t *time_limit, uint32_t njobs, struct mer_error *err)
{
	const struct conf_account *a = conf_find_account(ctx->conf, d->account);
	const struct conf_qos *q;
	uint32_t g = res->gpus_per_node * res->num_nodes;
	uint64_t have;

	if (pick_qos(ctx, d, a, admin, &q, err) < 0)
		return -1;
	if (q && q->max_wall) {
		char want[32], max[32];

		if (d->time_limit > q->max_wall) {
			format_time_minutes(d->time_limit, want, sizeof(want));
			format_time_minutes(q->max_wall, max, sizeof(max));
			return refuse(err,
				      "time limit %s is over QOS %s's MaxWall "
				      "%s (QOSMaxWallDurationPerJobLimit)",
				      want, q->name, max);
		}
		if (!*time_limit || *time_limit > q->max_wall)
			*time_limit = q->max_wall;
	}
	if (q && q->max_gpus_pj && g > q->max_gpus_pj)
		return refuse(err,
			      "%u GPUs, over QOS %s's MaxGPUsPerJob=%u "
			      "(QOSMaxGRESPerJob)",
			      g, q->name, q->max_gpus_pj);
	if (q && q->max_nodes_pj && res->num_nodes > q->max_nodes_pj)
		return refuse(err,
			      "%u nodes, over QOS %s's MaxNodesPerJob=%u "
			      "(QOSMaxNodePerJobLimit)",
			      res->num_nodes, q->name, q->max_nodes_pj);
	/* a GPU limit on running jobs that the job alone is over: it would
	 * wait for ever */
	if (q && q->max_gpus_pu && g > q->max_gpus_pu)
		return refuse(err,
			      "%u GPUs, over QOS %s's MaxGPUsPerUser=%u: it "
			      "could never run",
			      g, q->name, q->max_gpus_pu);
	if (q && q->max_gpus_pa && g > q->max_gpus_pa)
		return refuse(err,
			      "%u GPUs, over QOS %s's MaxGPUsPerAccount=%u: it "
			      "could never run",
			      g, q->name, q->max_gpus_pa);
	if (a && a->grp_gpus && g > a->grp_gpus)
		return refuse(err,
			      "%u GPUs, over account %s's GrpGPUs=%u: it could "
			      "never run",
			      g, a->name, a->grp_gpus);
	if (q && q->max_submit_pu &&
	    (have = user_jobs(ctx, uid, q, NULL)) + njobs > q->max_submit_pu)
		return refuse(err,
			      "user %.40s has %llu jobs in QOS %s, and %u more "
			      "would pass its MaxSubmitJobsPerUser=%u "
			      "(QOSMaxSubmitJobPerUserLimit)",
			      user, (unsigned long long)have, q->name, njobs,
			      q->max_submit_pu);
	if (a && a->max_submit &&
	    (have = user_jobs(ctx, uid, NULL, a)) + njobs > a->max_submit)
		return refuse(err,
			      "user %.40s has %llu jobs in account %s, and %u "
			      "more would pass its MaxSubmitJobs=%u "
			      "(AssocMaxSubmitJobLimit)",
			      user, (unsigned long long)have, a->name, njobs,
			      a->max_submit);
	return 0;
}
