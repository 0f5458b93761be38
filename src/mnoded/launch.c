/*
 * launch.c - batch jobs in the spool: start their mstepd, follow it, report
 * its end.  The directory, the start of mstepd and what it leaves behind
 * are spool.c's, shared with steps.c.
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mnoded.h"
#define MSTEPD_CONTRACT_ONLY /* only the job directory names */
#include "../mstepd/mstepd.h"

static struct job *job_new(struct mnoded *d, uint32_t id)
{
	struct job *j = xcalloc(1, sizeof(*j));

	j->d = d;
	j->id = id;
	j->dir = xasprintf("%s/job.%u", d->spool, id);
	TAILQ_INSERT_TAIL(&d->jobs, j, link);
	return j;
}

static void job_free(struct mnoded *d, struct job *j)
{
	TAILQ_REMOVE(&d->jobs, j, link);
	conn_destroy(j->step);
	if (j->end)
		meridian__job_end__free_unpacked(j->end, NULL);
	free(j->dir);
	free(j);
}

struct job *launch_find(struct mnoded *d, uint32_t id)
{
	struct job *j;

	TAILQ_FOREACH(j, &d->jobs, link)
		if (j->id == id)
			return j;
	return NULL;
}

size_t launch_running_count(const struct mnoded *d)
{
	const struct job *j;
	size_t n = 0;

	TAILQ_FOREACH(j, &d->jobs, link)
		if (!j->end)
			n++;
	return n;
}

/* The job's end as mstepd wrote it; NULL when there is none (ENOENT) or it
 * does not decode or is another job's (EBADMSG). */
static Meridian__JobEnd *end_load(const struct job *j)
{
	Meridian__JobEnd *e = (Meridian__JobEnd *)spool_end_load(
		j->dir, &meridian__job_end__descriptor);

	if (e && e->job_id != j->id) {
		meridian__job_end__free_unpacked(e, NULL);
		errno = EBADMSG;
		return NULL;
	}
	return e;
}

/*
 * Write an end file for a job whose mstepd left none, so that whatever
 * reads the spool later (this mnoded after a restart) tells the same story.
 * Ended by signal 9: the job's processes are gone with their mstepd or will
 * never be waited for.
 */
static int end_write_failed(const char *dir, uint32_t id, const char *reason)
{
	Meridian__JobEnd e = MERIDIAN__JOB_END__INIT;

	e.job_id = id;
	e.state = MERIDIAN__JOB_STATE__JOB_FAILED;
	e.exit_code = 0;
	e.term_signal = SIGKILL;
	e.end_time = mer_now();
	e.reason = (char *)reason;
	return spool_end_write(dir, &e.base);
}

/* spool_start's exec failure hook (in the child). */
static void job_exec_failed(const char *dir, const void *arg,
			    const char *reason)
{
	end_write_failed(dir, *(const uint32_t *)arg, reason);
}

/* mstepd is gone: pick up its end file and tell mctld. */
static void job_step_gone(struct job *j, const char *why)
{
	struct mnoded *d = j->d;
	char what[32];

	if (j->end)
		return;
	j->end = end_load(j);
	if (!j->end) {
		snprintf(what, sizeof(what), "job %u", j->id);
		log_warnx("job %u: mstepd exited without writing %s/%s (%s)",
			  j->id, j->dir, MSTEPD_END_FILE, why);
		spool_kill_orphans(j->dir, what);
		if (end_write_failed(j->dir, j->id, "mstepd died") < 0)
			log_warn("job %u: cannot write %s/%s", j->id, j->dir,
				 MSTEPD_END_FILE);
		j->end = end_load(j);
		if (!j->end) {
			/* Unwritable spool: report from memory. */
			j->end = xmalloc(sizeof(*j->end));
			meridian__job_end__init(j->end);
			j->end->job_id = j->id;
			j->end->state = MERIDIAN__JOB_STATE__JOB_FAILED;
			j->end->term_signal = SIGKILL;
			j->end->end_time = mer_now();
			/* freed by meridian__job_end__free_unpacked, which
			 * uses malloc's free by default, as xstrdup does */
			j->end->reason = xstrdup("mstepd died");
		}
	}
	log_info("job %u ended: %s, exit code %d:%d%s%s", j->id,
		 spool_state_name(j->end->state), j->end->exit_code,
		 j->end->term_signal, *j->end->reason ? ", " : "",
		 j->end->reason);
	ctl_job_ended(d->ctl, j);
	/* Like Slurm: steps do not outlive their batch script. */
	steps_cancel_job(d, j->id, "the job's batch script ended");
}

static void step_on_frame(struct conn *c, const struct frame_hdr *h,
			  const uint8_t *cred, const uint8_t *body, void *arg)
{
	struct job *j = arg;

	if (h->flags & MER_FRAME_REPLY) {
		if (h->flags & MER_FRAME_ERROR)
			log_warnx("job %u: mstepd refused %s", j->id,
				  msg_type_name(h->type));
		return;
	}
	/* mstepd sends no requests (yet): say so instead of hanging it. */
	conn_send_error(c, h->type, h->req_id, ENOSYS,
			"mnoded takes no requests from mstepd");
}

static void step_on_close(struct conn *c, const char *why, void *arg)
{
	struct job *j = arg;

	log_debug("job %u: connection to mstepd closed: %s", j->id, why);
	conn_destroy(c);
	j->step = NULL;
	job_step_gone(j, why);
}

static struct conn *step_conn(struct mnoded *d, struct job *j, int fd)
{
	char peer[64];
	struct conn *c;

	snprintf(peer, sizeof(peer), "mstepd job %u", j->id);
	c = conn_create(d->base, fd, peer, step_on_frame, step_on_close, j);
	if (!c)
		log_warnx("job %u: cannot watch its mstepd", j->id);
	return c;
}

void launch_scan_one(struct mnoded *d, uint32_t id)
{
	struct job *j = job_new(d, id);
	struct mer_error err = { "" };
	int fd;

	if ((j->end = end_load(j))) {
		log_info("job %u: ended while mnoded was away (%s)", id,
			 spool_state_name(j->end->state));
		return;
	}
	if (!spool_has_launch(j->dir)) {
		/* mnoded died between mkdir and writing the launch: nothing
		 * ran, and mctld never had an Ack, so it will launch again. */
		log_info("job %u: %s has no launch file: removing it", id,
			 j->dir);
		remove_tree(j->dir);
		job_free(d, j);
		return;
	}
	fd = spool_stepd_reconnect(j->dir, &err);
	if (fd >= 0 && (j->step = step_conn(d, j, fd))) {
		log_info("job %u: still running, reconnected to its mstepd",
			 id);
		return;
	}
	log_warnx("job %u: no end file and no mstepd (%s): recording it as "
		  "FAILED",
		  id, err.text);
	job_step_gone(j, "mstepd died");
}

int launch_job(struct mnoded *d, const Meridian__LaunchJob *lj,
	       const uint8_t *body, size_t len, struct mer_error *err)
{
	uint32_t id = lj->job->job_id;
	char *dir, idbuf[16];
	char *argv[10];
	int argc = 0, fd;
	struct job *j;

	if (launch_find(d, id)) {
		log_debug("job %u: LAUNCH_JOB again, already here", id);
		return 0;
	}
	dir = xasprintf("%s/job.%u", d->spool, id);
	snprintf(idbuf, sizeof(idbuf), "%u", id);
	argv[argc++] = d->conf->mstepd_path;
	argv[argc++] = "-s";
	argv[argc++] = dir;
	argv[argc++] = "-j";
	argv[argc++] = idbuf;
	argv[argc++] = "-N";
	argv[argc++] = (char *)d->name;
	if (d->log_level >= LOG_LVL_DEBUG)
		argv[argc++] = "-v";
	argv[argc] = NULL;

	/* 0700: mstepd opens it to the job's user (0711) once the script
	 * is in place */
	fd = spool_start(dir, 0700, body, len, argv, job_exec_failed, &id, err);
	free(dir);
	if (fd < 0)
		return -1;
	j = job_new(d, id);
	j->step = step_conn(d, j, fd);
	if (!j->step)
		job_step_gone(j, "cannot watch mstepd");
	log_info("job %u: started mstepd (%s)", id, j->dir);
	return 0;
}

int launch_signal(struct mnoded *d, const Meridian__SignalJob *sj,
		  struct mer_error *err)
{
	struct job *j;
	size_t nsteps;

	if (sj->has_step)
		return steps_signal(d, sj, err);
	j = launch_find(d, sj->job_id);
	/* Every step here too: a multi-node job's other nodes, and an mrun
	 * allocation, have steps and no batch script. */
	nsteps = steps_signal_job(d, sj);
	if (!j) {
		if (nsteps)
			return 0;
		errno = ENOENT;
		return mer_error_set(err, "job %u is not on node %s",
				     sj->job_id, d->name);
	}
	if (!j->step) {
		log_debug("job %u: signal for a job that already ended",
			  j->id);
		return 0;
	}
	if (sj->cancel)
		log_info("job %u: cancel%s%s", j->id, *sj->reason ? ": " : "",
			 sj->reason);
	else
		log_info("job %u: signal %d (%s)", j->id, sj->signal,
			 strsignal(sj->signal));
	if (conn_send_msg(j->step, MERIDIAN__MSG_TYPE__MSG_SIGNAL_JOB, 0,
			  ++d->step_req_id, NULL, 0, &sj->base) < 0) {
		int e = errno;
		mer_error_set(err, "job %u: cannot reach its mstepd: %s",
			      j->id, strerror(e));
		errno = e;
		return -1;
	}
	return 0;
}

void launch_end_acked(struct mnoded *d, uint32_t id)
{
	struct job *j = launch_find(d, id);
	char what[32];

	if (!j || !j->end)
		return;
	snprintf(what, sizeof(what), "job %u", id);
	spool_echo_log(j->dir, what,
		       j->end->state == MERIDIAN__JOB_STATE__JOB_COMPLETED);
	if (remove_tree(j->dir) < 0)
		log_warn("job %u: cannot remove %s", id, j->dir);
	log_debug("job %u: end acknowledged by mctld, %s removed", id,
		  j->dir);
	job_free(d, j);
}

void launch_reap(struct mnoded *d)
{
	int status;
	pid_t pid;

	(void)d;
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			log_warnx("launcher process %ld failed (status 0x%x)",
				  (long)pid, status);
}

void launch_free_all(struct mnoded *d)
{
	struct job *j;

	while ((j = TAILQ_FIRST(&d->jobs)))
		job_free(d, j);
}
