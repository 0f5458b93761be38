/*
 * steps.c - this node's shares of job steps (mrun).
 *
 * mctld pushes LAUNCH_STEP to every node a step has ranks on; mnoded starts
 * one mstepd in step mode for this node's share, from SPOOL/step.<job>.<step>,
 * and follows it exactly as it follows a batch job's (unit.c): the share
 * has ended when that mstepd's connection hits EOF, and its `end` file (a
 * StepEnd) goes to mctld as STEP_END, again after every reconnection until
 * mctld acknowledges it.  Steps are not part of NodeRegister: a registration
 * neither carries nor acknowledges their ends.
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mnoded.h"
#include "spool.h"

struct unit *steps_find(struct mnoded *d, uint32_t job_id, uint32_t step_id)
{
	return unit_find(d, UNIT_STEP, job_id, step_id);
}

/* The share's end as mstepd wrote it; NULL when there is none (ENOENT) or
 * it does not decode or is another step's (EBADMSG). */
static ProtobufCMessage *step_end_read(const struct unit *u)
{
	Meridian__StepEnd *e =
		spool_read_step_end(u->dir, u->job_id, u->step_id, NULL);

	return e ? &e->base : NULL;
}

/*
 * The end of a share whose mstepd left none: FAILED, no rank to blame
 * (failed_rank -1), counted as killed by signal 9 as the worst-rank rule
 * counts it (exit code 128 + 9): its ranks are gone with their mstepd or
 * will never be waited for.  Written down, so that a restarted mnoded
 * tells the same story.
 */
static ProtobufCMessage *step_end_failed(const struct unit *u,
					 const char *reason)
{
	Meridian__StepEnd e = MERIDIAN__STEP_END__INIT;

	e.job_id = u->job_id;
	e.step_id = u->step_id;
	e.node = (char *)u->d->name;
	e.state = MERIDIAN__JOB_STATE__JOB_FAILED;
	e.exit_code = 128 + SIGKILL;
	e.term_signal = SIGKILL;
	e.failed_rank = -1;
	e.reason = (char *)reason;
	e.end_time = mer_now();
	return unit_end_record(u, &e.base);
}

static void step_ended(struct unit *u)
{
	const Meridian__StepEnd *e = u->end.step;

	log_info("%s ended here: %s, exit code %d:%d, failed rank %d%s%s",
		 u->what, unit_state_name(e->state), e->exit_code,
		 e->term_signal, e->failed_rank, *e->reason ? ", " : "",
		 e->reason);
	ctl_step_ended(u->d->ctl, u);
}

const struct unit_ops steps_unit_ops = {
	.noun = "step",
	.dir_mode = 0711,
	.end_read = step_end_read,
	.end_failed = step_end_failed,
	.ended = step_ended,
};

int steps_launch(struct mnoded *d, const Meridian__LaunchStep *ls,
		 struct mer_error *err)
{
	const Meridian__StepRecord *rec = ls->step;
	Meridian__LaunchStep filled;
	const Meridian__StepNode *me;
	uint32_t job_id, step_id;
	const char *tmpdir;
	struct unit *u;
	uint8_t *body;
	size_t len;

	if (!ls->job || ls->job->job_id == 0 || !rec) {
		errno = EINVAL;
		return mer_error_set(err, "LAUNCH_STEP without a job record "
					  "and step record");
	}
	job_id = ls->job->job_id;
	step_id = rec->step_id;
	if (ls->node_index >= rec->n_nodes) {
		errno = EINVAL;
		return mer_error_set(err,
				     "LAUNCH_STEP for step %u.%u names node "
				     "index %u, the step has %zu nodes",
				     job_id, step_id, ls->node_index,
				     rec->n_nodes);
	}
	me = rec->nodes[ls->node_index];
	if (strcmp(me->node, d->name) != 0) {
		errno = EINVAL;
		return mer_error_set(err,
				     "LAUNCH_STEP for step %u.%u: its node "
				     "%u is %s, this is node %s",
				     job_id, step_id, ls->node_index, me->node,
				     d->name);
	}
	if (steps_find(d, job_id, step_id)) {
		log_debug("step %u.%u: LAUNCH_STEP again, already here", job_id,
			  step_id);
		return 0;
	}

	if (!(tmpdir = tmpdir_for(d, ls->job, err)))
		return -1;
	/* mstepd binds ranks from the topology mnoded was told to use, and
	 * exports the job's TMPDIR here */
	filled = *ls;
	filled.topology_file = d->topology_file;
	filled.tmpdir = (char *)tmpdir;
	len = meridian__launch_step__get_packed_size(&filled);
	body = xmalloc(len ? len : 1);
	meridian__launch_step__pack(&filled, body);
	u = unit_start(d, UNIT_STEP, job_id, step_id, body, len, err);
	free(body);
	if (!u)
		return -1;
	log_info("%s: started mstepd (%s), node %u of %zu, %u tasks from "
		 "rank %u",
		 u->what, u->dir, ls->node_index, rec->n_nodes, me->ntasks,
		 me->first_rank);
	return 0;
}

int steps_signal(struct mnoded *d, const Meridian__SignalJob *sj,
		 struct mer_error *err)
{
	struct unit *u = steps_find(d, sj->job_id, sj->step_id);

	if (!u) {
		errno = ENOENT;
		return mer_error_set(err, "step %u.%u is not on node %s",
				     sj->job_id, sj->step_id, d->name);
	}
	return unit_signal(u, sj, err);
}

size_t steps_signal_job(struct mnoded *d, const Meridian__SignalJob *sj)
{
	struct mer_error err;
	struct unit *u;
	size_t n = 0;

	TAILQ_FOREACH(u, &d->units, link) {
		if (u->kind != UNIT_STEP || u->job_id != sj->job_id)
			continue;
		n++;
		if (unit_signal(u, sj, &err) < 0)
			log_warnx("%s", err.text);
	}
	return n;
}

void steps_cancel_job(struct mnoded *d, uint32_t job_id, const char *reason)
{
	Meridian__SignalJob sj = MERIDIAN__SIGNAL_JOB__INIT;
	struct mer_error err;
	struct unit *u;

	sj.job_id = job_id;
	sj.signal = SIGKILL;
	sj.cancel = true;
	sj.reason = (char *)reason;
	TAILQ_FOREACH(u, &d->units, link) {
		if (u->kind != UNIT_STEP || u->job_id != job_id || !u->stepd ||
		    u->cancel_sent)
			continue;
		if (unit_signal(u, &sj, &err) < 0)
			log_warnx("%s", err.text);
	}
}
