/*
 * step_mgr.c - job steps (mrun): numbering, layout, launch, their end.
 *
 * A step lives inside its job's JobRecord (steps, next_step_id), so it is
 * written by the same group commit as the job and survives a restart with
 * it.  mctld's part is small: it checks what mrun asks against the job's
 * allocation, lays the ranks out node by node, and after the commit pushes
 * LAUNCH_STEP to the mnoded of every node of the step.  From then on the
 * step's mstepds and mrun talk to each other directly (I/O, PMI); mctld
 * hears only each node's StepEnd, through its mnoded, and folds them into
 * the step's state, exit code and failed rank for mqueue and mctl.
 *
 * Steps share the job's resources: mctld does not account CPUs per step
 * (like srun --overlap), but GPUs asked per task or per node must exist in
 * the job's allocation on each node.  An --exclusive step is the
 * exception: on each of its nodes it takes tasks x cpus-per-task of the
 * job's CPUs there (StepNode.cpu_slots) that no other running exclusive
 * step of the job holds, or it is refused with EBUSY while they are held
 * (mrun then waits and asks again, as srun does) and with EINVAL when the
 * job has too few CPUs there for it ever to run.
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hostlist.h"
#include "log.h"
#include "mctld.h"
#include "util.h"

#define JS(x) MERIDIAN__JOB_STATE__JOB_##x

/* Limits on what a step request may carry (arguments and environment:
 * job_mgr_check_exec). */
#define STEP_MAX_TASKS	65536
#define STEP_IO_KEY_LEN 32
/* Bytes of the command line a step's record keeps (see argv_trim). */
#define STEP_KEEP_ARGV 4096

/* --- checking the request ------------------------------------------------- */

static int check_string(const char *what, const char *s, size_t max,
			struct mer_error *err)
{
	if (s && strlen(s) > max) {
		errno = EINVAL;
		return mer_error_set(err, "%s is %zu bytes; at most %zu", what,
				     strlen(s), max);
	}
	return 0;
}

static int check_desc(struct mctld *ctx, Meridian__StepDesc *d,
		      struct mer_error *err)
{
	if (d->n_argv == 0 || !d->argv[0] || !*d->argv[0]) {
		errno = EINVAL;
		return mer_error_set(err, "the step has no program to run; "
					  "give one after the options");
	}
	if (job_mgr_check_exec("the step", d->argv, d->n_argv, d->env, d->n_env,
			       err) < 0)
		return -1;
	if (check_string("the output pattern", d->std_out, MCTLD_MAX_STRING,
			 err) < 0 ||
	    check_string("the error pattern", d->std_err, MCTLD_MAX_STRING,
			 err) < 0 ||
	    check_string("the working directory", d->work_dir, MCTLD_MAX_STRING,
			 err) < 0 ||
	    check_string("the step name", d->name, 256, err) < 0)
		return -1;
	if (!*d->cpu_bind) {
		pb_set_str(&d->cpu_bind, "gpu-local");
	} else if (strcmp(d->cpu_bind, "none") != 0 &&
		   strcmp(d->cpu_bind, "cores") != 0 &&
		   strcmp(d->cpu_bind, "gpu-local") != 0) {
		errno = EINVAL;
		return mer_error_set(err,
				     "--cpu-bind=%.40s: expected none, cores "
				     "or gpu-local",
				     d->cpu_bind);
	}
	if (!*d->mpi) {
		pb_set_str(&d->mpi, "pmi1");
	} else if (strcmp(d->mpi, "pmi1") != 0 && strcmp(d->mpi, "pmi2") != 0 &&
		   strcmp(d->mpi, "none") != 0) {
		errno = EINVAL;
		return mer_error_set(err,
				     "--mpi=%.40s: expected pmi1, pmi2 or none",
				     d->mpi);
	}
	if (!d->finalize_timeout)
		d->finalize_timeout = ctx->conf->finalize_timeout;
	if (!*d->name) {
		const char *base = strrchr(d->argv[0], '/');

		pb_set_str(&d->name, base ? base + 1 : d->argv[0]);
	}
	return 0;
}

/* --- layout --------------------------------------------------------------- */

/* How many tasks each of the job's nodes runs (0: not in the step). */
static int layout_counts(const Meridian__JobRecord *rec,
			 const Meridian__StepDesc *d, uint32_t *counts,
			 uint32_t *ntasks_out, struct mer_error *err)
{
	uint32_t jn = (uint32_t)rec->n_alloc, nn, nt, i;

	if (d->min_nodes > jn) {
		errno = EINVAL;
		return mer_error_set(err,
				     "-N %u: job %u has %u node%s; a step runs "
				     "on the job's nodes",
				     d->min_nodes, rec->job_id, jn,
				     jn == 1 ? "" : "s");
	}
	if (d->ntasks > STEP_MAX_TASKS) {
		errno = EINVAL;
		return mer_error_set(err, "-n %u: at most %u tasks per step",
				     d->ntasks, STEP_MAX_TASKS);
	}
	if (d->min_nodes)
		nn = d->min_nodes;
	else if (d->ntasks)
		nn = d->ntasks < jn ? d->ntasks : jn;
	else
		nn = jn;
	if (d->ntasks)
		nt = d->ntasks;
	else if (d->ntasks_per_node)
		nt = d->ntasks_per_node * nn;
	else if (nn == jn && rec->ntasks >= nn)
		nt = rec->ntasks;
	else
		nt = nn;
	if (nt < nn) {
		errno = EINVAL;
		return mer_error_set(err,
				     "-n %u is fewer tasks than the %u nodes "
				     "asked for (-N); every node runs at "
				     "least one",
				     nt, nn);
	}
	if (d->ntasks_per_node && nt > (uint64_t)d->ntasks_per_node * nn) {
		errno = EINVAL;
		return mer_error_set(err,
				     "-n %u does not fit %u nodes with "
				     "--ntasks-per-node=%u",
				     nt, nn, d->ntasks_per_node);
	}
	memset(counts, 0, jn * sizeof(*counts));
	if (d->ntasks_per_node) {
		uint32_t left = nt;

		for (i = 0; i < nn && left; i++) {
			counts[i] = left < d->ntasks_per_node
					    ? left
					    : d->ntasks_per_node;
			left -= counts[i];
		}
	} else {
		/* Block distribution, the first nodes taking the remainder. */
		for (i = 0; i < nn; i++)
			counts[i] = nt / nn + (i < nt % nn ? 1 : 0);
	}
	*ntasks_out = nt;
	return 0;
}

/* The step's share of node a's GPUs, into sn->gpus. */
static int layout_gpus(const Meridian__JobNodeAlloc *a,
		       const Meridian__StepDesc *d, Meridian__StepNode *sn,
		       struct mer_error *err)
{
	size_t want;

	if (d->gpus_per_task)
		want = (size_t)d->gpus_per_task * sn->ntasks;
	else if (d->gpus_per_node)
		want = d->gpus_per_node;
	else
		want = a->n_gpus; /* every task sees all of them */
	if (want > a->n_gpus) {
		errno = EINVAL;
		if (d->gpus_per_task)
			return mer_error_set(err,
					     "--gpus-per-task=%u with %u tasks "
					     "on %s needs %zu GPUs; the job "
					     "has %zu there",
					     d->gpus_per_task, sn->ntasks,
					     a->node, want, a->n_gpus);
		return mer_error_set(err,
				     "--gpus-per-node=%u: the job has %zu "
				     "GPUs on %s",
				     d->gpus_per_node, a->n_gpus, a->node);
	}
	sn->n_gpus = want;
	sn->gpus = xcalloc(want ? want : 1, sizeof(*sn->gpus));
	if (want) /* a->gpus is NULL on a node without GPUs */
		memcpy(sn->gpus, a->gpus, want * sizeof(*sn->gpus));
	return 0;
}

/* The job's CPUs on node a that running exclusive steps of the job hold:
 * held[0 .. a->cpus - 1]; the first holder of each, for messages. */
static void slots_held(const Meridian__JobRecord *rec,
		       const Meridian__JobNodeAlloc *a, bool *held,
		       uint32_t *holder)
{
	for (size_t i = 0; i < rec->n_steps; i++) {
		const Meridian__StepRecord *o = rec->steps[i];

		if (!step_is_running(o) || !o->desc || !o->desc->exclusive)
			continue;
		for (size_t k = 0; k < o->n_nodes; k++) {
			const Meridian__StepNode *on = o->nodes[k];

			if (strcmp(on->node, a->node) || on->ended)
				continue;
			for (size_t c = 0; c < on->n_cpu_slots; c++)
				if (on->cpu_slots[c] < a->cpus &&
				    !held[on->cpu_slots[c]]) {
					held[on->cpu_slots[c]] = true;
					holder[on->cpu_slots[c]] = o->step_id;
				}
		}
	}
}

/* An --exclusive step's CPUs on node a, into sn->cpu_slots: the lowest
 * ones no other running exclusive step of the job holds. */
static int layout_cpus(const Meridian__JobRecord *rec,
		       const Meridian__JobNodeAlloc *a,
		       const Meridian__StepDesc *d, Meridian__StepNode *sn,
		       struct mer_error *err)
{
	uint64_t want = (uint64_t)sn->ntasks * sn->cpus_per_task;
	bool *held;
	uint32_t *holder, nfree = 0, last = 0;
	int rc = 0;

	if (!d->exclusive)
		return 0;
	if (want > a->cpus) {
		errno = EINVAL;
		return mer_error_set(err,
				     "--exclusive: the step needs %llu CPUs "
				     "on %s (%u tasks x %u CPUs) and job %u "
				     "has %u there: ask for fewer tasks or "
				     "CPUs per task",
				     (unsigned long long)want, a->node,
				     sn->ntasks, sn->cpus_per_task, rec->job_id,
				     a->cpus);
	}
	held = xcalloc(a->cpus ? a->cpus : 1, sizeof(*held));
	holder = xcalloc(a->cpus ? a->cpus : 1, sizeof(*holder));
	slots_held(rec, a, held, holder);
	for (uint32_t c = 0; c < a->cpus; c++)
		if (!held[c])
			nfree++;
		else
			last = holder[c];
	if (nfree < want) {
		errno = EBUSY;
		rc = mer_error_set(err,
				   "--exclusive: %u of job %u's %u CPUs on %s "
				   "are free of its other exclusive steps "
				   "(step %u.%u holds some) and the step needs "
				   "%llu",
				   nfree, rec->job_id, a->cpus, a->node,
				   rec->job_id, last, (unsigned long long)want);
	} else {
		sn->cpu_slots =
			xcalloc(want ? want : 1, sizeof(*sn->cpu_slots));
		for (uint32_t c = 0; c < a->cpus && sn->n_cpu_slots < want; c++)
			if (!held[c])
				sn->cpu_slots[sn->n_cpu_slots++] = c;
	}
	free(held);
	free(holder);
	return rc;
}

static void step_nodes_free(Meridian__StepNode **nodes, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (nodes[i])
			protobuf_c_message_free_unpacked(&nodes[i]->base, NULL);
	free(nodes);
}

/* Lay the step out on the job's nodes: node by node, ranks in order. */
static int step_layout(struct mctld *ctx, const struct job *j,
		       const Meridian__StepDesc *d, Meridian__StepRecord *s,
		       struct mer_error *err)
{
	const Meridian__JobRecord *rec = j->rec;
	uint32_t *counts, nt = 0, rank = 0;
	Meridian__StepNode **nodes;
	char **names;
	size_t i, nn = 0;
	struct mer_error busy_err;
	bool busy = false;
	int rc = 0;

	if (rec->n_alloc == 0) {
		errno = EINVAL;
		return mer_error_set(err, "job %u has no nodes", rec->job_id);
	}
	counts = xcalloc(rec->n_alloc, sizeof(*counts));
	if (layout_counts(rec, d, counts, &nt, err) < 0) {
		free(counts);
		return -1;
	}
	nodes = xcalloc(rec->n_alloc, sizeof(*nodes));
	names = xcalloc(rec->n_alloc, sizeof(*names));
	for (i = 0; i < rec->n_alloc && rc == 0; i++) {
		const Meridian__JobNodeAlloc *a = rec->alloc[i];
		struct node *n = node_find(ctx, a->node);
		Meridian__StepNode *sn;

		if (!counts[i])
			continue;
		if (!n || !n->peer || n->not_responding) {
			errno = EHOSTUNREACH;
			rc = mer_error_set(err,
					   "node %s of job %u is not "
					   "connected to mctld; the step "
					   "cannot start there",
					   a->node, rec->job_id);
			break;
		}
		sn = xmalloc(sizeof(*sn));
		meridian__step_node__init(sn);
		nodes[nn++] = sn;
		sn->node = xstrdup(a->node);
		sn->addr = xstrdup(n->cn->addr && *n->cn->addr ? n->cn->addr
							       : a->node);
		sn->first_rank = rank;
		sn->ntasks = counts[i];
		sn->cpus_per_task = d->cpus_per_task ? d->cpus_per_task : 1;
		rank += counts[i];
		names[nn - 1] = sn->node;
		rc = layout_gpus(a, d, sn, err);
		if (rc == 0 && layout_cpus(rec, a, d, sn, &busy_err) < 0) {
			/* busy here: the step waits, unless another node
			 * says it can never run */
			if (errno != EBUSY) {
				if (err)
					*err = busy_err;
				rc = -1;
			} else if (!busy) {
				busy = true;
				if (err)
					*err = busy_err;
			}
		}
	}
	if (rc == 0 && busy) {
		errno = EBUSY;
		rc = -1;
	}
	if (rc == 0) {
		s->nodes = nodes;
		s->n_nodes = nn;
		s->ntasks = nt;
		s->nodelist = hostlist_compress(names, nn);
	} else {
		step_nodes_free(nodes, nn);
	}
	free(names);
	free(counts);
	return rc;
}

/* --- creating a step ------------------------------------------------------ */

/* A LAUNCH_STEP that found its node gone: the step fails there. */
static void launch_undelivered(struct mctld *ctx, uint32_t job_id,
			       uint32_t step_id, const char *node)
{
	step_launch_failed(ctx, job_id, step_id, node, "node not connected");
}

/* Pack the LaunchStep for node k of step s (with the request's env). */
static uint8_t *launch_pack(struct mctld *ctx, struct job *j,
			    Meridian__StepRecord *s, Meridian__StepDesc *full,
			    const Meridian__StepCreateRequest *req, size_t k,
			    size_t *len)
{
	Meridian__LaunchStep ls = MERIDIAN__LAUNCH_STEP__INIT;
	Meridian__StepDesc *kept = s->desc;
	Meridian__StepRecord **steps = j->rec->steps;
	size_t nsteps = j->rec->n_steps;
	uint8_t *buf;

	/* The job without its steps, the step with the full description:
	 * borrowed pointers, put back before returning. */
	j->rec->steps = NULL;
	j->rec->n_steps = 0;
	s->desc = full;
	ls.job = j->rec;
	ls.step = s;
	ls.node_index = (uint32_t)k;
	ls.io_host = req->io_host;
	ls.io_port = req->io_port;
	ls.io_key = req->io_key;
	ls.kill_wait = ctx->conf->kill_wait;
	ls.cluster =
		ctx->conf->cluster_name ? ctx->conf->cluster_name : (char *)"";
	*len = meridian__launch_step__get_packed_size(&ls);
	buf = xmalloc(*len ? *len : 1);
	meridian__launch_step__pack(&ls, buf);
	s->desc = kept;
	j->rec->steps = steps;
	j->rec->n_steps = nsteps;
	return buf;
}

/* The record keeps the command line for mqueue and mctl only: at most
 * STEP_KEEP_ARGV bytes of it, the rest replaced by "...", so that a job
 * keeping 64 steps stays small on every commit that rewrites it. */
static void argv_trim(Meridian__StepDesc *d)
{
	size_t bytes = 0, k;

	for (k = 0; k < d->n_argv; k++) {
		bytes += strlen(d->argv[k]) + 1;
		if (bytes > STEP_KEEP_ARGV)
			break;
	}
	if (k == d->n_argv)
		return;
	for (size_t i = k; i < d->n_argv; i++)
		free(d->argv[i]);
	d->argv[k] = xstrdup("...");
	d->n_argv = k + 1;
}

Meridian__StepRecord *step_create(struct mctld *ctx, struct job *j,
				  Meridian__StepCreateRequest *req,
				  struct mer_error *err)
{
	Meridian__JobRecord *rec = j->rec;
	Meridian__StepDesc *d = req->desc;
	Meridian__StepRecord *s;
	size_t k;

	if (rec->state != JS(RUNNING)) {
		errno = EINVAL;
		mer_error_set(err,
			      "job %u is %s; steps run only in a running "
			      "job",
			      rec->job_id, job_state_name(rec->state));
		return NULL;
	}
	if (*rec->cancel_reason) {
		errno = EINVAL;
		mer_error_set(err, "job %u is being cancelled", rec->job_id);
		return NULL;
	}
	if (!d) {
		errno = EINVAL;
		mer_error_set(err, "the step request has no description");
		return NULL;
	}
	if (!req->io_host || !*req->io_host || req->io_port == 0 ||
	    req->io_port > 65535 || req->io_key.len != STEP_IO_KEY_LEN) {
		errno = EINVAL;
		mer_error_set(err,
			      "the step request needs mrun's address "
			      "(io_host, io_port 1-65535) and a %d-byte "
			      "io_key",
			      STEP_IO_KEY_LEN);
		return NULL;
	}
	if (check_string("io_host", req->io_host, 255, err) < 0 ||
	    check_desc(ctx, d, err) < 0)
		return NULL;
	if (d->pty && (d->ntasks > 1 || d->min_nodes > 1)) {
		errno = EINVAL;
		mer_error_set(err,
			      "--pty runs one task on one node; -n %u -N "
			      "%u asks for more",
			      d->ntasks, d->min_nodes);
		return NULL;
	}
	s = xmalloc(sizeof(*s));
	meridian__step_record__init(s);
	if (step_layout(ctx, j, d, s, err) < 0) {
		protobuf_c_message_free_unpacked(&s->base, NULL);
		return NULL;
	}
	s->step_id = rec->next_step_id++;
	s->state = JS(RUNNING);
	s->start_time = mer_now();
	s->failed_rank = -1;
	pb_set_str(&s->cpu_bind, d->cpu_bind);

	/* Each node's launch carries the environment; the record does not. */
	for (k = 0; k < s->n_nodes; k++) {
		size_t len;
		uint8_t *buf = launch_pack(ctx, j, s, d, req, k, &len);

		outbox_push(ctx, s->nodes[k]->node,
			    MERIDIAN__MSG_TYPE__MSG_LAUNCH_STEP, rec->job_id,
			    s->step_id, buf, len, launch_undelivered);
	}
	s->desc = d;
	req->desc = NULL; /* taken */
	for (k = 0; k < d->n_env; k++)
		free(d->env[k]);
	free(d->env);
	d->env = NULL;
	d->n_env = 0;
	argv_trim(d);

	steps_append(rec, s);
	steps_trim(rec);
	job_mark_dirty(ctx, j);
	log_info("job %u: step %u started on %s: %u tasks, %s", rec->job_id,
		 s->step_id, s->nodelist, s->ntasks, d->argv[0]);
	return s;
}

/* --- ends ----------------------------------------------------------------- */

void step_node_end(struct mctld *ctx, const char *node,
		   const Meridian__StepEnd *e)
{
	struct job *j = job_find(ctx, e->job_id);
	Meridian__StepRecord *s = j ? step_find(j, e->step_id) : NULL;
	Meridian__StepNode *sn = NULL;
	Meridian__JobState st = e->state;

	if (!s) {
		log_debug("node %s: end of step %u.%u, not kept; acked", node,
			  e->job_id, e->step_id);
		return;
	}
	for (size_t i = 0; i < s->n_nodes; i++)
		if (strcmp(s->nodes[i]->node, node) == 0)
			sn = s->nodes[i];
	if (!sn) {
		log_warnx("node %s reports the end of step %u.%u, which does "
			  "not run there; ignored",
			  node, e->job_id, e->step_id);
		return;
	}
	if (sn->ended)
		return; /* a resend */
	if (!job_state_is_final(st))
		st = JS(FAILED);
	if (*j->rec->cancel_reason && st != JS(COMPLETED)) {
		/* The job is being cancelled: ranks that died of it (or of
		 * the SIGTERM mrun forwarded from the batch script) do not
		 * make the step FAILED. */
		st = JS(CANCELLED);
	}
	if (step_end_worse(s, st, e)) {
		s->exit_code = e->exit_code;
		s->term_signal = e->term_signal;
		s->failed_rank = e->failed_rank;
		pb_set_reason(&s->reason,
			      st == JS(CANCELLED) && *j->rec->cancel_reason
				      ? j->rec->cancel_reason
				      : e->reason);
	}
	sn->ended = true;
	sn->end_state = st;
	if (++s->nodes_ended == s->n_nodes) {
		/* RUNNING until the last node ends.  A step the job's end
		 * already closed (its nodes' ends raced with JOB_END or
		 * JOB_COMPLETE) gets the state its nodes really gave. */
		if (step_is_running(s))
			step_finish(j->rec, s, step_worst_state(s),
				    e->end_time);
		else
			step_set_state(j->rec, s, step_worst_state(s));
	}
	job_mark_dirty(ctx, j);
}

void step_launch_failed(struct mctld *ctx, uint32_t job_id, uint32_t step_id,
			const char *node, const char *text)
{
	Meridian__StepEnd e = MERIDIAN__STEP_END__INIT;
	char *why = xasprintf("launch failed on %s: %s", node, text);

	e.job_id = job_id;
	e.step_id = step_id;
	e.node = (char *)node;
	e.state = JS(FAILED);
	e.failed_rank = -1;
	e.reason = why;
	step_node_end(ctx, node, &e);
	free(why);
}

int step_cancel(struct mctld *ctx, struct job *j, uint32_t step_id, uid_t uid,
		bool admin, int sig, struct mer_error *err)
{
	Meridian__JobRecord *rec = j->rec;
	Meridian__StepRecord *s;
	char name[64], why[128];

	if (!(s = step_find(j, step_id))) {
		errno = ENOENT;
		return mer_error_set(err, "step %u.%u does not exist",
				     rec->job_id, step_id);
	}
	if (!step_is_running(s)) {
		errno = EALREADY;
		return mer_error_set(err, "step %u.%u already ended (%s)",
				     rec->job_id, step_id,
				     job_state_name(s->state));
	}
	if (sig < 0 || sig > SIGRTMAX) {
		errno = EINVAL;
		return mer_error_set(err,
				     "signal %d is not a signal number "
				     "(1-%d)",
				     sig, SIGRTMAX);
	}
	job_mgr_who(ctx, uid, name, sizeof(name));
	snprintf(why, sizeof(why), "Cancelled by %s", name);
	/* Each node's mstepd ends its share (CANCELLED, this reason) and
	 * reports it as usual. */
	for (size_t i = 0; i < s->n_nodes; i++)
		if (!s->nodes[i]->ended)
			outbox_signal(ctx, s->nodes[i]->node, rec->job_id,
				      step_id, sig ? sig : SIGTERM, sig == 0,
				      sig ? "" : why);
	return 0;
}
