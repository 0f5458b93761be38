/*
 * launch.c - batch jobs: what a job unit does that a step share does not.
 * Its end goes to mctld as JOB_END (and in every registration until it is
 * acknowledged), and it cancels the job's steps here: like Slurm, steps do
 * not outlive their batch script.  The directory, the start of mstepd and
 * what it leaves behind are unit.c's, shared with steps.c.
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

struct unit *launch_find(struct mnoded *d, uint32_t id)
{
	return unit_find(d, UNIT_JOB, id, 0);
}

size_t launch_running_count(const struct mnoded *d)
{
	const struct unit *u;
	size_t n = 0;

	TAILQ_FOREACH(u, &d->units, link)
		if (u->kind == UNIT_JOB && !u->end.msg)
			n++;
	return n;
}

/* The job's end as mstepd wrote it; NULL when there is none (ENOENT) or it
 * does not decode or is another job's (EBADMSG). */
static ProtobufCMessage *job_end_read(const struct unit *u)
{
	Meridian__JobEnd *e = spool_read_job_end(u->dir, u->job_id, NULL);

	return e ? &e->base : NULL;
}

/*
 * The end of a job whose mstepd left none, written down so that whatever
 * reads the spool later (this mnoded after a restart) tells the same
 * story.  Ended by signal 9: the job's processes are gone with their
 * mstepd or will never be waited for.
 */
static ProtobufCMessage *job_end_failed(const struct unit *u,
					const char *reason)
{
	Meridian__JobEnd e = MERIDIAN__JOB_END__INIT;

	e.job_id = u->job_id;
	e.state = MERIDIAN__JOB_STATE__JOB_FAILED;
	e.exit_code = 0;
	e.term_signal = SIGKILL;
	e.end_time = mer_now();
	e.reason = (char *)reason;
	return unit_end_record(u, &e.base);
}

static void job_ended(struct unit *u)
{
	const Meridian__JobEnd *e = u->end.job;

	log_info("job %u ended: %s, exit code %d:%d%s%s", u->job_id,
		 unit_state_name(e->state), e->exit_code, e->term_signal,
		 *e->reason ? ", " : "", e->reason);
	ctl_job_ended(u->d->ctl, u);
	/* Like Slurm: steps do not outlive their batch script. */
	steps_cancel_job(u->d, u->job_id, "the job's batch script ended");
	/* nor does its TMPDIR, once they are gone too */
	tmpdir_job_over(u->d, u->job_id);
}

const struct unit_ops launch_unit_ops = {
	.noun = "job",
	/* mstepd opens it to the job's user (0711) once the script is in
	 * place */
	.dir_mode = 0700,
	.end_read = job_end_read,
	.end_failed = job_end_failed,
	.ended = job_ended,
};

int launch_job(struct mnoded *d, const Meridian__LaunchJob *lj,
	       const uint8_t *body, size_t len, struct mer_error *err)
{
	uint32_t id = lj->job->job_id;
	Meridian__LaunchJob filled;
	const char *tmpdir;
	struct unit *u;
	uint8_t *packed;
	size_t plen;

	if (launch_find(d, id)) {
		log_debug("job %u: LAUNCH_JOB again, already here", id);
		return 0;
	}
	if (!(tmpdir = tmpdir_for(d, lj->job, err)))
		return -1;
	if (!*tmpdir) {
		u = unit_start(d, UNIT_JOB, id, 0, body, len, err);
	} else {
		/* as received, with the TMPDIR mstepd exports */
		filled = *lj;
		filled.tmpdir = (char *)tmpdir;
		plen = meridian__launch_job__get_packed_size(&filled);
		packed = xmalloc(plen ? plen : 1);
		meridian__launch_job__pack(&filled, packed);
		u = unit_start(d, UNIT_JOB, id, 0, packed, plen, err);
		free(packed);
	}
	if (!u)
		return -1;
	log_info("job %u: started mstepd (%s)", id, u->dir);
	return 0;
}

int launch_signal(struct mnoded *d, const Meridian__SignalJob *sj,
		  struct mer_error *err)
{
	struct unit *u;
	size_t nsteps;

	if (sj->has_step)
		return steps_signal(d, sj, err);
	u = launch_find(d, sj->job_id);
	/* Every step here too: a multi-node job's other nodes, and an mrun
	 * allocation, have steps and no batch script.  --signal names one
	 * of the two. */
	nsteps = sj->scope == MERIDIAN__SIGNAL_SCOPE__SIGNAL_BATCH
			 ? 0
			 : steps_signal_job(d, sj);
	if (sj->scope == MERIDIAN__SIGNAL_SCOPE__SIGNAL_STEPS)
		return 0;
	if (!u) {
		if (nsteps)
			return 0;
		errno = ENOENT;
		return mer_error_set(err, "job %u is not on node %s",
				     sj->job_id, d->name);
	}
	return unit_signal(u, sj, err);
}
