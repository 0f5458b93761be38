/*
 * steps.c - this node's shares of job steps (mrun).
 *
 * mctld pushes LAUNCH_STEP to every node a step has ranks on; mnoded starts
 * one mstepd in step mode for this node's share, from SPOOL/step.<job>.<step>,
 * and follows it exactly as it follows a batch job's (spool.c): the share
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
#define MSTEPD_CONTRACT_ONLY /* only the directory names */
#include "../mstepd/mstepd.h"

static struct step *step_new(struct mnoded *d, uint32_t job_id,
			     uint32_t step_id)
{
	struct step *s = xcalloc(1, sizeof(*s));

	s->d = d;
	s->job_id = job_id;
	s->step_id = step_id;
	snprintf(s->what, sizeof(s->what), "step %u.%u", job_id, step_id);
	s->dir = xasprintf("%s/step.%u.%u", d->spool, job_id, step_id);
	TAILQ_INSERT_TAIL(&d->steps, s, link);
	return s;
}

static void step_free(struct mnoded *d, struct step *s)
{
	TAILQ_REMOVE(&d->steps, s, link);
	conn_destroy(s->stepd);
	if (s->end)
		meridian__step_end__free_unpacked(s->end, NULL);
	free(s->dir);
	free(s);
}

struct step *steps_find(struct mnoded *d, uint32_t job_id, uint32_t step_id)
{
	struct step *s;

	TAILQ_FOREACH(s, &d->steps, link)
		if (s->job_id == job_id && s->step_id == step_id)
			return s;
	return NULL;
}

/* The share's end as mstepd wrote it; NULL when there is none (ENOENT) or
 * it does not decode or is another step's (EBADMSG). */
static Meridian__StepEnd *end_load(const struct step *s)
{
	Meridian__StepEnd *e = (Meridian__StepEnd *)spool_end_load(
		s->dir, &meridian__step_end__descriptor);

	if (e && (e->job_id != s->job_id || e->step_id != s->step_id)) {
		meridian__step_end__free_unpacked(e, NULL);
		errno = EBADMSG;
		return NULL;
	}
	return e;
}

/* Who a failed end is for (also the exec failure hook's argument). */
struct end_who {
	uint32_t job_id;
	uint32_t step_id;
	const char *node;
};

/*
 * The end of a share whose mstepd left none: FAILED, no rank to blame
 * (failed_rank -1), counted as killed by signal 9 as the worst-rank rule
 * counts it (exit code 128 + 9): its ranks are gone with their mstepd or
 * will never be waited for.  Written to dir/end, so that a restarted
 * mnoded tells the same story; returned unpacked (ours to free) even when
 * the spool cannot be written.
 */
static Meridian__StepEnd *end_failed(const char *dir, const struct end_who *w,
				     const char *reason)
{
	Meridian__StepEnd e = MERIDIAN__STEP_END__INIT;
	Meridian__StepEnd *copy;
	uint8_t *buf;
	size_t n;

	e.job_id = w->job_id;
	e.step_id = w->step_id;
	e.node = (char *)w->node;
	e.state = MERIDIAN__JOB_STATE__JOB_FAILED;
	e.exit_code = 128 + SIGKILL;
	e.term_signal = SIGKILL;
	e.failed_rank = -1;
	e.reason = (char *)reason;
	e.end_time = mer_now();
	if (spool_end_write(dir, &e.base) < 0)
		log_warn("step %u.%u: cannot write %s/%s", w->job_id,
			 w->step_id, dir, MSTEPD_END_FILE);
	n = meridian__step_end__get_packed_size(&e);
	buf = xmalloc(n ? n : 1);
	meridian__step_end__pack(&e, buf);
	copy = meridian__step_end__unpack(NULL, n, buf);
	free(buf);
	if (!copy)
		fatalx("cannot unpack a StepEnd just packed: out of memory");
	return copy;
}

/* spool_start's exec failure hook (in the child). */
static void step_exec_failed(const char *dir, const void *arg,
			     const char *reason)
{
	meridian__step_end__free_unpacked(end_failed(dir, arg, reason), NULL);
}

/* mstepd is gone: pick up its end file and tell mctld. */
static void step_gone(struct step *s, const char *why)
{
	struct mnoded *d = s->d;

	if (s->end)
		return;
	s->end = end_load(s);
	if (!s->end) {
		struct end_who w = { s->job_id, s->step_id, d->name };

		log_warnx("%s: mstepd exited without writing %s/%s (%s)",
			  s->what, s->dir, MSTEPD_END_FILE, why);
		spool_kill_orphans(s->dir, s->what);
		s->end = end_failed(s->dir, &w, "mstepd died");
	}
	log_info("%s ended here: %s, exit code %d:%d, failed rank %d%s%s",
		 s->what, spool_state_name(s->end->state), s->end->exit_code,
		 s->end->term_signal, s->end->failed_rank,
		 *s->end->reason ? ", " : "", s->end->reason);
	ctl_step_ended(d->ctl, s);
}

static void stepd_on_frame(struct conn *c, const struct frame_hdr *h,
			   const uint8_t *cred, const uint8_t *body, void *arg)
{
	struct step *s = arg;

	if (h->flags & MER_FRAME_REPLY) {
		if (h->flags & MER_FRAME_ERROR)
			log_warnx("%s: mstepd refused %s", s->what,
				  msg_type_name(h->type));
		return;
	}
	conn_send_error(c, h->type, h->req_id, ENOSYS,
			"mnoded takes no requests from mstepd");
}

static void stepd_on_close(struct conn *c, const char *why, void *arg)
{
	struct step *s = arg;

	log_debug("%s: connection to mstepd closed: %s", s->what, why);
	conn_destroy(c);
	s->stepd = NULL;
	step_gone(s, why);
}

static struct conn *stepd_conn(struct step *s, int fd)
{
	char peer[64];
	struct conn *c;

	snprintf(peer, sizeof(peer), "mstepd %s", s->what);
	c = conn_create(s->d->base, fd, peer, stepd_on_frame, stepd_on_close,
			s);
	if (!c)
		log_warnx("%s: cannot watch its mstepd", s->what);
	return c;
}

void steps_scan_one(struct mnoded *d, uint32_t job_id, uint32_t step_id)
{
	struct step *s = step_new(d, job_id, step_id);
	struct mer_error err = { "" };
	int fd;

	if ((s->end = end_load(s))) {
		log_info("%s: ended while mnoded was away (%s)", s->what,
			 spool_state_name(s->end->state));
		return;
	}
	if (!spool_has_launch(s->dir)) {
		/* mnoded died between mkdir and writing the launch: nothing
		 * ran, and mctld never had an Ack. */
		log_info("%s: %s has no launch file: removing it", s->what,
			 s->dir);
		remove_tree(s->dir);
		step_free(d, s);
		return;
	}
	fd = spool_stepd_reconnect(s->dir, &err);
	if (fd >= 0 && (s->stepd = stepd_conn(s, fd))) {
		log_info("%s: still running, reconnected to its mstepd",
			 s->what);
		return;
	}
	log_warnx("%s: no end file and no mstepd (%s): recording it as "
		  "FAILED",
		  s->what, err.text);
	step_gone(s, "mstepd died");
}

int steps_launch(struct mnoded *d, const Meridian__LaunchStep *ls,
		 struct mer_error *err)
{
	const Meridian__StepRecord *rec = ls->step;
	Meridian__LaunchStep filled;
	const Meridian__StepNode *me;
	struct end_who who;
	struct step *s;
	char *dir, jbuf[16], sbuf[16], *argv[12];
	uint8_t *body;
	size_t len;
	int argc = 0, fd;

	if (!ls->job || ls->job->job_id == 0 || !rec) {
		errno = EINVAL;
		return mer_error_set(err, "LAUNCH_STEP without a job record "
					  "and step record");
	}
	who.job_id = ls->job->job_id;
	who.step_id = rec->step_id;
	who.node = d->name;
	if (ls->node_index >= rec->n_nodes) {
		errno = EINVAL;
		return mer_error_set(err,
				     "LAUNCH_STEP for step %u.%u names node "
				     "index %u, the step has %zu nodes",
				     who.job_id, who.step_id, ls->node_index,
				     rec->n_nodes);
	}
	me = rec->nodes[ls->node_index];
	if (strcmp(me->node, d->name) != 0) {
		errno = EINVAL;
		return mer_error_set(err,
				     "LAUNCH_STEP for step %u.%u: its node "
				     "%u is %s, this is node %s",
				     who.job_id, who.step_id, ls->node_index,
				     me->node, d->name);
	}
	if (steps_find(d, who.job_id, who.step_id)) {
		log_debug("step %u.%u: LAUNCH_STEP again, already here",
			  who.job_id, who.step_id);
		return 0;
	}

	/* mstepd binds ranks from the topology mnoded was told to use */
	filled = *ls;
	filled.topology_file = d->topology_file;
	len = meridian__launch_step__get_packed_size(&filled);
	body = xmalloc(len ? len : 1);
	meridian__launch_step__pack(&filled, body);

	dir = xasprintf("%s/step.%u.%u", d->spool, who.job_id, who.step_id);
	snprintf(jbuf, sizeof(jbuf), "%u", who.job_id);
	snprintf(sbuf, sizeof(sbuf), "%u", who.step_id);
	argv[argc++] = d->conf->mstepd_path;
	argv[argc++] = "-s";
	argv[argc++] = dir;
	argv[argc++] = "-j";
	argv[argc++] = jbuf;
	argv[argc++] = "-S";
	argv[argc++] = sbuf;
	argv[argc++] = "-N";
	argv[argc++] = (char *)d->name;
	if (d->log_level >= LOG_LVL_DEBUG)
		argv[argc++] = "-v";
	argv[argc] = NULL;

	fd = spool_start(dir, 0711, body, len, argv, step_exec_failed, &who,
			 err);
	free(body);
	free(dir);
	if (fd < 0)
		return -1;
	s = step_new(d, who.job_id, who.step_id);
	s->stepd = stepd_conn(s, fd);
	if (!s->stepd)
		step_gone(s, "cannot watch mstepd");
	log_info("%s: started mstepd (%s), node %u of %zu, %u tasks from "
		 "rank %u",
		 s->what, s->dir, ls->node_index, rec->n_nodes, me->ntasks,
		 me->first_rank);
	return 0;
}

/* sj to s's mstepd, naming the step (mstepd may check it). */
static int step_send_signal(struct step *s, const Meridian__SignalJob *sj,
			    struct mer_error *err)
{
	Meridian__SignalJob mine = *sj;

	if (!s->stepd) {
		log_debug("%s: signal for a step that already ended", s->what);
		return 0;
	}
	if (sj->cancel)
		log_info("%s: cancel%s%s", s->what, *sj->reason ? ": " : "",
			 sj->reason);
	else
		log_info("%s: signal %d (%s)", s->what, sj->signal,
			 strsignal(sj->signal));
	mine.has_step = true;
	mine.step_id = s->step_id;
	if (sj->cancel)
		s->cancel_sent = true; /* one cancel is enough */
	if (conn_send_msg(s->stepd, MERIDIAN__MSG_TYPE__MSG_SIGNAL_JOB, 0,
			  ++s->d->step_req_id, NULL, 0, &mine.base) < 0) {
		int e = errno;
		mer_error_set(err, "%s: cannot reach its mstepd: %s", s->what,
			      strerror(e));
		errno = e;
		return -1;
	}
	return 0;
}

int steps_signal(struct mnoded *d, const Meridian__SignalJob *sj,
		 struct mer_error *err)
{
	struct step *s = steps_find(d, sj->job_id, sj->step_id);

	if (!s) {
		errno = ENOENT;
		return mer_error_set(err, "step %u.%u is not on node %s",
				     sj->job_id, sj->step_id, d->name);
	}
	return step_send_signal(s, sj, err);
}

size_t steps_signal_job(struct mnoded *d, const Meridian__SignalJob *sj)
{
	struct mer_error err;
	struct step *s;
	size_t n = 0;

	TAILQ_FOREACH(s, &d->steps, link) {
		if (s->job_id != sj->job_id)
			continue;
		n++;
		if (step_send_signal(s, sj, &err) < 0)
			log_warnx("%s", err.text);
	}
	return n;
}

void steps_cancel_job(struct mnoded *d, uint32_t job_id, const char *reason)
{
	Meridian__SignalJob sj = MERIDIAN__SIGNAL_JOB__INIT;
	struct mer_error err;
	struct step *s;

	sj.job_id = job_id;
	sj.signal = SIGKILL;
	sj.cancel = true;
	sj.reason = (char *)reason;
	TAILQ_FOREACH(s, &d->steps, link) {
		if (s->job_id != job_id || !s->stepd || s->cancel_sent)
			continue;
		if (step_send_signal(s, &sj, &err) < 0)
			log_warnx("%s", err.text);
	}
}

void steps_end_acked(struct mnoded *d, uint32_t job_id, uint32_t step_id)
{
	struct step *s = steps_find(d, job_id, step_id);

	if (!s || !s->end)
		return;
	spool_echo_log(s->dir, s->what,
		       s->end->state == MERIDIAN__JOB_STATE__JOB_COMPLETED);
	if (remove_tree(s->dir) < 0)
		log_warn("%s: cannot remove %s", s->what, s->dir);
	log_debug("%s: end acknowledged by mctld, %s removed", s->what,
		  s->dir);
	step_free(d, s);
}

void steps_free_all(struct mnoded *d)
{
	struct step *s;

	while ((s = TAILQ_FIRST(&d->steps)))
		step_free(d, s);
}
