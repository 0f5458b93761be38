/*
 * step_rec.c - the steps inside a job's record: what they are, how their
 * state may change, how a node's end folds into a step.
 *
 * Steps live in their job's JobRecord (steps, next_step_id) and are written
 * by the job's commit.  This file knows the record and nothing above it:
 * job_mgr.c ends a job's steps with it (step_end_all, step_signal_nodes),
 * step_mgr.c creates steps and hears their nodes' ends.
 *
 * A step's states are the job's (JobState) on a smaller machine:
 *
 *   RUNNING -> COMPLETED | FAILED | CANCELLED | TIMEOUT | NODE_FAIL
 *   final   -> final     (the job's end closed the step first; its nodes'
 *                         ends, racing with it, then say what really was)
 *
 * and nothing goes back to RUNNING (step_state_allowed).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "mctld.h"
#include "util.h"

#define JS(x) MERIDIAN__JOB_STATE__JOB_##x

/* Finished steps kept in a job's record (the newest ones); running steps
 * are always kept.  A job looping over mrun must not grow without end. */
#define STEP_KEEP_FINISHED 64

bool step_state_allowed(Meridian__JobState from, Meridian__JobState to)
{
	if (!job_state_is_final(to))
		return false;
	return from == JS(RUNNING) || job_state_is_final(from);
}

bool step_is_running(const Meridian__StepRecord *s)
{
	return s->state == JS(RUNNING);
}

Meridian__StepRecord *step_find(struct job *j, uint32_t step_id)
{
	for (size_t i = 0; i < j->rec->n_steps; i++)
		if (j->rec->steps[i]->step_id == step_id)
			return j->rec->steps[i];
	return NULL;
}

bool step_any_running(const struct job *j)
{
	for (size_t i = 0; i < j->rec->n_steps; i++)
		if (step_is_running(j->rec->steps[i]))
			return true;
	return false;
}

/* Drop the oldest finished steps beyond STEP_KEEP_FINISHED. */
void steps_trim(Meridian__JobRecord *rec)
{
	size_t finished = 0, i, k;

	for (i = 0; i < rec->n_steps; i++)
		if (!step_is_running(rec->steps[i]))
			finished++;
	for (i = 0, k = 0; i < rec->n_steps; i++) {
		Meridian__StepRecord *s = rec->steps[i];

		if (finished > STEP_KEEP_FINISHED && !step_is_running(s)) {
			finished--;
			protobuf_c_message_free_unpacked(&s->base, NULL);
			continue;
		}
		rec->steps[k++] = s;
	}
	rec->n_steps = k;
}

void steps_append(Meridian__JobRecord *rec, Meridian__StepRecord *s)
{
	rec->steps =
		xrealloc(rec->steps, (rec->n_steps + 1) * sizeof(*rec->steps));
	rec->steps[rec->n_steps++] = s;
}

/* Rank for folding node ends: a FAILED node explains the step better
 * than one killed because of it (CANCELLED), which beats COMPLETED. */
static int end_weight(Meridian__JobState st)
{
	switch (st) {
	case JS(FAILED):
	case JS(TIMEOUT):
	case JS(NODE_FAIL):
		return 3;
	case JS(CANCELLED):
		return 2;
	default:
		return 1;
	}
}

/* The worst state the ended nodes of s gave so far (COMPLETED: none). */
Meridian__JobState step_worst_state(const Meridian__StepRecord *s)
{
	Meridian__JobState w = JS(COMPLETED);

	for (size_t i = 0; i < s->n_nodes; i++)
		if (s->nodes[i]->ended &&
		    end_weight(s->nodes[i]->end_state) > end_weight(w))
			w = s->nodes[i]->end_state;
	return w;
}

/* Whether node end e (state st) explains the step worse than the node
 * ends folded into s so far. */
bool step_end_worse(const Meridian__StepRecord *s, Meridian__JobState st,
		    const Meridian__StepEnd *e)
{
	int we = end_weight(st), ws = end_weight(step_worst_state(s));

	if (s->nodes_ended == 0 || we != ws)
		return s->nodes_ended == 0 || we > ws;
	if (e->exit_code != s->exit_code)
		return e->exit_code > s->exit_code;
	return e->failed_rank >= 0 &&
	       (s->failed_rank < 0 || e->failed_rank < s->failed_rank);
}

bool step_set_state(const Meridian__JobRecord *rec, Meridian__StepRecord *s,
		    Meridian__JobState to)
{
	if (!step_state_allowed(s->state, to)) {
		log_warnx("job %u: step %u: %s -> %s is not a step's "
			  "transition; ignored",
			  rec->job_id, s->step_id, job_state_name(s->state),
			  job_state_name(to));
		return false;
	}
	s->state = to;
	return true;
}

void step_finish(const Meridian__JobRecord *rec, Meridian__StepRecord *s,
		 Meridian__JobState st, int64_t when)
{
	if (!step_set_state(rec, s, st))
		return;
	s->end_time = when ? when : mer_now();
	if (s->end_time < s->start_time)
		s->end_time = s->start_time;
	log_info("job %u: step %u ended %s (exit %d)%s%s", rec->job_id,
		 s->step_id, job_state_name(s->state), s->exit_code,
		 *s->reason ? ": " : "", s->reason);
}

bool step_end_all(Meridian__JobRecord *rec, const char *why)
{
	bool any = false;

	for (size_t i = 0; i < rec->n_steps; i++) {
		Meridian__StepRecord *s = rec->steps[i];

		if (!step_is_running(s))
			continue;
		/* What the nodes said so far stays; the rest never will. */
		if (!*s->reason)
			pb_set_reason(&s->reason, why);
		step_finish(rec, s,
			    step_worst_state(s) == JS(FAILED) ? JS(FAILED)
							      : JS(CANCELLED),
			    0);
		any = true;
	}
	return any;
}

void step_signal_nodes(struct mctld *ctx, struct job *j, int sig, bool cancel,
		       const char *reason, const char *skip)
{
	Meridian__JobRecord *rec = j->rec;

	/* One SIGNAL_JOB per node running one of the job's steps. */
	for (size_t i = 0; i < rec->n_alloc; i++) {
		const char *node = rec->alloc[i]->node;
		bool has = false;

		if (skip && strcmp(node, skip) == 0)
			continue;
		for (size_t k = 0; k < rec->n_steps && !has; k++) {
			const Meridian__StepRecord *s = rec->steps[k];

			if (!step_is_running(s))
				continue;
			for (size_t m = 0; m < s->n_nodes && !has; m++)
				has = strcmp(s->nodes[m]->node, node) == 0 &&
				      !s->nodes[m]->ended;
		}
		if (has)
			outbox_signal(ctx, node, rec->job_id, -1, sig, cancel,
				      reason);
	}
}
