/*
 * step.c - a job step's share on one node (mstepd -S), from the launch
 * file to the end.
 *
 * The share goes through the phases of enum step_phase:
 *
 *   setup     read the launch, look up the user, pick MASTER_PORT and open
 *             the KVS listener (node 0), connect to mrun and say hello,
 *             plan GPUs and binding; then wait for mrun's go.
 *   running   every local rank forked (step_fork.c) in one process group;
 *             their output goes to mrun (step_io.c), PMI is served
 *             (step_kvs.c).  A rank's end goes to mrun (TASK_EXIT) once it
 *             is reaped and the output it wrote is forwarded.
 *   draining  every rank is reaped: what is left of the ranks (their
 *             process group, orphans that came back to us as subreaper)
 *             is killed and the last output read, 5 s at most.
 *   ended     the node's end is sent to mrun and written to STEPDIR/end;
 *             mstepd exits once mrun has it.
 *
 * The end follows the worst rank: a rank's value is its exit code, or 128
 * plus the signal that killed it; the share's exit code is the largest
 * value and failed_rank the lowest rank with it.  Ranks that mstepd killed
 * to end the share (another rank aborted, mrun asked for a kill, a
 * cancel, mrun went away) are collateral: they decide the exit code only
 * when no rank failed on its own, so that "rank 3 aborted" is not hidden
 * behind the SIGKILL its abort sent the others.
 */
#include "config.h"

#include <errno.h>
#include <ifaddrs.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mstepd.h"

/* How long the end waits for the ranks' last processes and output after
 * SIGKILL before it is written anyway. */
#define STEP_DRAIN_MAX_MS  5000
#define STEP_DRAIN_TICK_MS 100
/* FinalizeTimeout when the launch says 0 (mctld fills it in). */
#define STEP_FINALIZE_TIMEOUT_DEFAULT 30

/* ---- the launch ------------------------------------------------------ */

/* What is wrong with ls for this mstepd, or NULL. */
static const char *launch_problem(const struct mstepd *s,
				  const Meridian__LaunchStep *ls, char *buf,
				  size_t n)
{
	const Meridian__StepRecord *st = ls->step;
	uint32_t ntasks;

	if (!ls->job || ls->job->job_id != s->job_id)
		snprintf(buf, n, "is not for job %u", s->job_id);
	else if (!st || st->step_id != s->step_id || !st->desc)
		snprintf(buf, n, "is not the launch of step %u.%u", s->job_id,
			 s->step_id);
	else if (ls->node_index >= st->n_nodes)
		snprintf(buf, n, "names node %u of a step of %zu nodes",
			 ls->node_index, st->n_nodes);
	else if (!(ntasks = env_step_ntasks(st)) ||
		 st->nodes[ls->node_index]->first_rank >= ntasks ||
		 st->nodes[ls->node_index]->ntasks >
			 ntasks - st->nodes[ls->node_index]->first_rank)
		snprintf(buf, n, "gives node %u ranks outside the step's %u",
			 ls->node_index, ntasks);
	else
		return NULL;
	return buf;
}

int step_load(struct mstepd *s, const char *node, struct mer_error *err)
{
	Meridian__LaunchStep *ls = spool_read_launch_step(s->dir, err);
	struct step *st;
	char why[160];
	const char *problem;

	if (!ls)
		return -1;
	if ((problem = launch_problem(s, ls, why, sizeof(why)))) {
		char *path = spool_path(s->dir, SPOOL_LAUNCH_FILE);

		mer_error_set(err, "%s %s", path, problem);
		meridian__launch_step__free_unpacked(ls, NULL);
		free(path);
		return -1;
	}
	st = xcalloc(1, sizeof(*st));
	st->s = s;
	st->ls = ls;
	st->rec = ls->step;
	st->desc = ls->step->desc;
	st->node_index = ls->node_index;
	st->me = ls->step->nodes[ls->node_index];
	st->nnodes = (uint32_t)ls->step->n_nodes;
	st->ntasks = env_step_ntasks(ls->step);
	st->nranks = st->me->ntasks;
	st->ranks = xcalloc(st->nranks ? st->nranks : 1, sizeof(*st->ranks));
	for (size_t i = 0; i < st->nranks; i++) {
		st->ranks[i].rank = st->me->first_rank + (uint32_t)i;
		st->ranks[i].local = (uint32_t)i;
		st->ranks[i].status_fd = -1;
	}
	s->step = st;
	s->job = ls->job;
	s->node = xstrdup(node ? node : st->me->node);
	return 0;
}

/* ---- the end --------------------------------------------------------- */

static void end_write(struct mstepd *s, const Meridian__StepEnd *e)
{
	struct mer_error err;
	char *path;

	if (mstepd_write_end(s, &e->base, &err) < 0)
		log_warnx("step %u.%u: %s", s->job_id, s->step_id, err.text);
	else
		log_info("step %u.%u: ended %s, exit code %d:%d, failed rank "
			 "%d%s%s",
			 s->job_id, s->step_id,
			 protobuf_c_enum_descriptor_get_value(
				 &meridian__job_state__descriptor, e->state)
				 ->name,
			 e->exit_code, e->term_signal, e->failed_rank,
			 *e->reason ? ": " : "", e->reason);
	s->finished = true;
	/* stepd.sock goes after the end: whoever finds no socket finds the
	 * end. */
	path = xasprintf("%s/%s", s->dir, SPOOL_SOCK_FILE);
	unlink(path);
	free(path);
}

void step_fail_early(struct mstepd *s, const char *reason)
{
	Meridian__StepEnd e = MERIDIAN__STEP_END__INIT;

	log_warnx("step %u.%u: cannot start: %s", s->job_id, s->step_id,
		  reason);
	e.job_id = s->job_id;
	e.step_id = s->step_id;
	e.node = s->node ? s->node : "";
	e.state = MERIDIAN__JOB_STATE__JOB_FAILED;
	e.exit_code = 1;
	e.failed_rank = -1;
	e.reason = (char *)reason;
	e.end_time = mer_now();
	end_write(s, &e);
	if (s->base)
		event_base_loopexit(s->base, NULL);
}

/* A rank's exit code and signal as TASK_EXIT reports them: an aborted
 * rank's is the code it gave abort, whatever killed it after. */
static void rank_result(const struct step_rank *r, int *code, int *sig)
{
	*code = 0;
	*sig = 0;
	if (r->fate == RANK_FATE_ABORTED)
		*code = r->abort_code;
	else if (r->pid > 0 && !r->reaped)
		*sig = SIGKILL; /* never reaped: stuck after SIGKILL */
	else if (WIFEXITED(r->status))
		*code = WEXITSTATUS(r->status);
	else if (WIFSIGNALED(r->status))
		*sig = WTERMSIG(r->status);
}

/* The worst-rank rule's value: the exit code, or 128 + the signal. */
static int rank_value(const struct step_rank *r)
{
	int code, sig;

	rank_result(r, &code, &sig);
	return sig ? 128 + sig : code;
}

static bool rank_hung(const struct step_rank *r)
{
	/* it may have exited on its own just as the timeout fired */
	return r->fate == RANK_FATE_HUNG && r->reaped && WIFSIGNALED(r->status);
}

static bool rank_failed(const struct step_rank *r)
{
	return rank_value(r) != 0 || r->fate == RANK_FATE_ABORTED ||
	       rank_hung(r) || r->setup_error;
}

/* Why the rank ended, when more than its status says: TaskExit.reason
 * (malloc'd, "" when nothing to add). */
static char *rank_reason(const struct step *st, const struct step_rank *r)
{
	if (r->fate == RANK_FATE_ABORTED)
		return *r->why ? xasprintf("aborted: %s (exit code %d)", r->why,
					   r->abort_code)
			       : xasprintf("aborted (exit code %d)",
					   r->abort_code);
	if (rank_hung(r))
		return xasprintf("hung in MPI_Finalize: killed after %u s",
				 st->finalize_timeout);
	if (r->setup_error)
		return xstrdup(r->setup_error);
	if (r->fate == RANK_FATE_COLLATERAL && r->why)
		return xstrdup(r->why);
	return xstrdup("");
}

/* "rank 3 on n2 exited with code 7": the node's end reason. */
static char *rank_describe(const struct step *st, const struct step_rank *r)
{
	const char *node = st->s->node;
	int code, sig;
	char *why, *text;

	rank_result(r, &code, &sig);
	if (r->fate == RANK_FATE_ABORTED || rank_hung(r)) {
		why = rank_reason(st, r);
		text = xasprintf("rank %u on %s %s", r->rank, node, why);
		free(why);
		return text;
	}
	if (r->setup_error)
		return xasprintf("rank %u on %s could not start: %s", r->rank,
				 node, r->setup_error);
	if (sig)
		return xasprintf("rank %u on %s killed by signal %d", r->rank,
				 node, sig);
	return xasprintf("rank %u on %s exited with code %d", r->rank, node,
			 code);
}

/* The failed rank with the largest value (the lowest rank of equals);
 * collateral ranks count only when `collateral`. */
static const struct step_rank *worst_rank(const struct step *st,
					  bool collateral)
{
	const struct step_rank *best = NULL;

	for (size_t i = 0; i < st->nranks; i++) {
		const struct step_rank *r = &st->ranks[i];
		if (!rank_failed(r) ||
		    (!collateral && r->fate == RANK_FATE_COLLATERAL))
			continue;
		if (!best || rank_value(r) > rank_value(best))
			best = r; /* ranks go up: ties keep the first */
	}
	return best;
}

static void end_set_worst(Meridian__StepEnd *e, const struct step_rank *r)
{
	int code, sig;

	rank_result(r, &code, &sig);
	e->exit_code = sig ? 128 + sig : code;
	e->term_signal = sig;
	e->failed_rank = (int32_t)r->rank;
}

/* The share's end; *reason is malloc'd and set in e. */
static void end_compute(const struct step *st, Meridian__StepEnd *e,
			char **reason)
{
	const struct step_rank *w;

	e->job_id = st->s->job_id;
	e->step_id = st->s->step_id;
	e->node = st->s->node;
	e->end_time = mer_now();
	e->failed_rank = -1;
	if (st->fail_reason) {
		e->state = MERIDIAN__JOB_STATE__JOB_FAILED;
		e->exit_code = 1;
		if ((w = worst_rank(st, false)))
			end_set_worst(e, w);
		*reason = xstrdup(st->fail_reason);
	} else if ((w = worst_rank(st, false))) {
		e->state = MERIDIAN__JOB_STATE__JOB_FAILED;
		end_set_worst(e, w);
		*reason = rank_describe(st, w);
	} else if (st->cancelled) {
		e->state = MERIDIAN__JOB_STATE__JOB_CANCELLED;
		if ((w = worst_rank(st, true)))
			end_set_worst(e, w);
		*reason = xstrdup(st->cancel_reason);
	} else {
		e->state = MERIDIAN__JOB_STATE__JOB_COMPLETED;
		*reason = xstrdup("");
	}
	e->reason = *reason;
}

/* Tell mrun, write the end, and exit once mrun has it. */
static void step_end(struct step *st)
{
	Meridian__StepEnd e = MERIDIAN__STEP_END__INIT;
	char *reason;

	if (st->phase == STEP_ENDED)
		return;
	st->phase = STEP_ENDED;
	if (st->kill_ev)
		evtimer_del(st->kill_ev);
	if (st->drain_ev)
		evtimer_del(st->drain_ev);
	end_compute(st, &e, &reason);
	io_node_end(st->io, &e);
	end_write(st->s, &e);
	free(reason);
	io_finish(st->io);
}

/* ---- the ranks' processes ----------------------------------------------- */

static void kill_groups(struct step *st, int sig)
{
	if (st->pgid > 0)
		killpg(st->pgid, sig);
	if (st->pty_pgid > 0)
		killpg(st->pty_pgid, sig);
}

/* Every rank still alive is killed for `why`: mark it so. */
static void mark_collateral(struct step *st, const char *why)
{
	for (size_t i = 0; i < st->nranks; i++) {
		struct step_rank *r = &st->ranks[i];
		if (r->reaped || r->fate != RANK_FATE_NONE)
			continue;
		r->fate = RANK_FATE_COLLATERAL;
		r->why = xstrdup(why);
	}
}

static void drain_cb(evutil_socket_t fd, short what, void *arg)
{
	struct step *st = arg;
	struct timeval tv = {0, STEP_DRAIN_TICK_MS * 1000};

	step_reap(st->s);
	if (st->phase != STEP_DRAINING)
		return;
	kill_groups(st, SIGKILL);
	tasks_kill_children();
	if (mer_mono_ms() - st->drain_started_ms > STEP_DRAIN_MAX_MS) {
		log_warnx("step %u.%u: processes or output still open %d ms "
			  "after SIGKILL (stuck in the kernel, or a pipe "
			  "passed on?): ending anyway",
			  st->s->job_id, st->s->step_id, STEP_DRAIN_MAX_MS);
		io_close_outputs(st->io);
		step_end(st);
		return;
	}
	evtimer_add(st->drain_ev, &tv);
}

/* Every rank is reaped: kill what is left of them, read the last output,
 * then end. */
static void step_drain(struct step *st)
{
	struct timeval tv = {0, STEP_DRAIN_TICK_MS * 1000};

	st->phase = STEP_DRAINING;
	if (st->kill_ev)
		evtimer_del(st->kill_ev);
	kill_groups(st, SIGKILL);
	tasks_kill_children();
	st->drain_started_ms = mer_mono_ms();
	st->drain_ev = evtimer_new(st->s->base, drain_cb, st);
	evtimer_add(st->drain_ev, &tv);
	step_reap(st->s);
}

void step_check_drained(struct step *st)
{
	int status;
	pid_t pid;

	if (st->phase != STEP_DRAINING || io_outputs_open(st->io))
		return;
	/* every rank is reaped: what is left are orphans, reaped unseen */
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
		;
	if (pid < 0 && errno == ECHILD)
		step_end(st);
	/* else a child is left: its SIGCHLD (or the drain tick) comes back */
}

static void send_task_exit(struct step *st, const struct step_rank *r)
{
	Meridian__TaskExit te = MERIDIAN__TASK_EXIT__INIT;
	char *reason = rank_reason(st, r);
	int code, sig;

	rank_result(r, &code, &sig);
	te.rank = r->rank;
	te.exit_code = code;
	te.term_signal = sig;
	te.reason = reason;
	te.aborted = r->fate == RANK_FATE_ABORTED;
	io_task_exit(st->io, &te);
	log_info("step %u.%u: rank %u ended: exit code %d, signal %d%s%s",
		 st->s->job_id, st->s->step_id, r->rank, code, sig,
		 *reason ? ": " : "", reason);
	free(reason);
}

/* Why the rank's process never reached exec, if it wrote so. */
static void read_setup_error(struct step_rank *r)
{
	char msg[600];
	ssize_t n;

	if (r->status_fd < 0)
		return;
	n = read(r->status_fd, msg, sizeof(msg) - 1);
	if (n > 0) {
		msg[n] = '\0';
		r->setup_error = xstrdup(msg);
	}
	close(r->status_fd);
	r->status_fd = -1;
}

/* r is gone (reaped, or never started): report it; the last one ends the
 * running phase. */
static void rank_ended(struct step *st, struct step_rank *r)
{
	r->reaped = true;
	st->nreaped++;
	read_setup_error(r);
	if (st->kvs)
		kvs_rank_reaped(st->kvs, r);
	/* what it wrote before it exited goes first */
	io_drain_rank(st->io, r);
	send_task_exit(st, r);
	if (st->nreaped == st->nranks && st->phase == STEP_RUNNING)
		step_drain(st);
}

void step_reap(struct mstepd *s)
{
	struct step *st = s->step;
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (size_t i = 0; i < st->nranks; i++) {
			struct step_rank *r = &st->ranks[i];
			if (r->pid != pid || r->reaped)
				continue;
			r->status = status;
			rank_ended(st, r);
			break;
		}
	}
	step_check_drained(st);
}

/* Ranks fork_ranks() did not get to: ended before they began. */
static void end_unstarted(struct step *st, const char *why)
{
	for (size_t i = 0; i < st->nranks; i++) {
		struct step_rank *r = &st->ranks[i];
		if (r->pid > 0 || r->reaped)
			continue;
		if (st->kvs)
			kvs_rank_started(st->kvs, r); /* closes its PMI end */
		r->status = 1 << 8;		      /* as if it exited 1 */
		r->fate = RANK_FATE_COLLATERAL;
		r->why = xasprintf("not started: %s", why);
		rank_ended(st, r);
	}
}

/* Tell whoever finds the share without its mstepd (a crash) which process
 * group to clean up, and whose it must be. */
static void write_pgid(const struct step *st)
{
	struct mer_error err;

	if (spool_write_pgid(st->s->dir, st->pgid ? st->pgid : st->pty_pgid,
			     st->user.uid, &err) < 0)
		log_warnx("step %u.%u: %s", st->s->job_id, st->s->step_id,
			  err.text);
}

/* ---- what happens to the share ------------------------------------------ */

void step_go(struct step *st, const Meridian__StepGo *go)
{
	struct mer_error err;

	if (st->phase != STEP_SETUP) {
		log_debug("step %u.%u: STEP_GO again: ignored", st->s->job_id,
			  st->s->step_id);
		return;
	}
	if (go->master_port > 65535 || go->kvs_port > 65535) {
		log_warnx("step %u.%u: STEP_GO with port %u/%u: expected "
			  "ports up to 65535",
			  st->s->job_id, st->s->step_id, go->kvs_port,
			  go->master_port);
		step_fail(st, "mrun sent a bad STEP_GO");
		return;
	}
	if (st->node_index > 0)
		st->master_port = (uint16_t)go->master_port;
	if (st->kvs && st->nnodes > 1 && st->node_index > 0 &&
	    kvs_connect(st->kvs, (uint16_t)go->kvs_port, &err) < 0) {
		step_fail(st, err.text);
		return;
	}
	st->phase = STEP_RUNNING;
	if (fork_ranks(st, &err) < 0) {
		step_fail(st, err.text);
		return;
	}
	if (st->pgid || st->pty_pgid)
		write_pgid(st);
	log_info("step %u.%u: started ranks %u-%u as %s in %s", st->s->job_id,
		 st->s->step_id, st->me->first_rank,
		 st->me->first_rank + st->me->ntasks - 1, st->user.name,
		 st->work_dir);
	if (st->nranks == 0)
		step_drain(st);
}

void step_signal(struct step *st, int sig)
{
	if (st->phase != STEP_RUNNING)
		return;
	log_info("step %u.%u: delivering signal %d (%s)", st->s->job_id,
		 st->s->step_id, sig, strsignal(sig));
	kill_groups(st, sig);
}

static void kill_cb(evutil_socket_t fd, short what, void *arg)
{
	struct step *st = arg;

	if (st->phase != STEP_RUNNING)
		return;
	log_info("step %u.%u: ranks still running %u s after SIGTERM: "
		 "SIGKILL",
		 st->s->job_id, st->s->step_id, st->ls->kill_wait);
	kill_groups(st, SIGKILL);
}

void step_kill(struct step *st, uint32_t kill_wait, const char *reason)
{
	struct timeval tv = {.tv_sec = kill_wait};

	if (st->phase >= STEP_DRAINING)
		return;
	if (!st->cancelled) {
		st->cancelled = true;
		st->cancel_reason = xstrdup(reason);
		mark_collateral(st, reason);
		log_info("step %u.%u: %s: %s", st->s->job_id, st->s->step_id,
			 reason,
			 st->phase == STEP_SETUP ? "ending before the start"
			 : kill_wait		 ? "SIGTERM, then SIGKILL"
						 : "SIGKILL");
	} else if (kill_wait) {
		return; /* under way already */
	}
	if (st->phase == STEP_SETUP) {
		step_end(st);
		return;
	}
	if (!kill_wait) {
		kill_groups(st, SIGKILL);
		return;
	}
	/* a stopped rank would not act on TERM until continued */
	kill_groups(st, SIGCONT);
	kill_groups(st, SIGTERM);
	if (!st->kill_ev)
		st->kill_ev = evtimer_new(st->s->base, kill_cb, st);
	evtimer_add(st->kill_ev, &tv);
}

void step_fail(struct step *st, const char *reason)
{
	if (st->phase >= STEP_ENDED)
		return;
	if (!st->fail_reason) {
		st->fail_reason = xstrdup(reason);
		log_warnx("step %u.%u: %s", st->s->job_id, st->s->step_id,
			  reason);
	}
	if (st->phase == STEP_SETUP) {
		step_end(st);
		return;
	}
	mark_collateral(st, reason);
	kill_groups(st, SIGKILL);
	end_unstarted(st, reason);
}

void step_rank_aborted(struct step *st, struct step_rank *r, int code,
		       const char *msg)
{
	char *why;

	if (r->fate == RANK_FATE_NONE) {
		r->fate = RANK_FATE_ABORTED;
		/* what exit(code) would have given: MPICH's own aborts pass
		 * an MPI error code (607768079), users may pass -1 */
		r->abort_code = code & 0xff;
		r->why = xstrdup(msg);
	}
	log_info("step %u.%u: rank %u called PMI abort (exit code %d)%s%s: "
		 "killing every rank of the node",
		 st->s->job_id, st->s->step_id, r->rank, code, *msg ? ": " : "",
		 msg);
	why = xasprintf("killed: rank %u aborted", r->rank);
	mark_collateral(st, why);
	free(why);
	kill_groups(st, SIGKILL);
}

void step_rank_hung(struct step *st, struct step_rank *r)
{
	if (r->reaped || r->pid <= 0)
		return;
	if (r->fate == RANK_FATE_NONE)
		r->fate = RANK_FATE_HUNG;
	log_info("step %u.%u: rank %u still alive %u s after PMI finalize: "
		 "SIGKILL",
		 st->s->job_id, st->s->step_id, r->rank, st->finalize_timeout);
	kill(r->pid, SIGKILL);
}

void step_signal_job(struct mstepd *s, const Meridian__SignalJob *sj)
{
	struct step *st = s->step;

	if (sj->cancel)
		step_kill(st, st->ls->kill_wait,
			  *sj->reason ? sj->reason : "cancelled");
	else
		step_signal(st, sj->signal);
}

void step_terminate(struct mstepd *s, const char *reason)
{
	step_kill(s->step, s->step->ls->kill_wait, reason);
}

/* ---- setup ----------------------------------------------------------- */

/* The job's user, and the working directory of the ranks. */
static int setup_user(struct step *st, struct mer_error *err)
{
	const Meridian__JobRecord *job = st->ls->job;
	struct passwd pw, *pwp = NULL;
	char pwbuf[8192];

	if (getpwuid_r(job->user_id, &pw, pwbuf, sizeof(pwbuf), &pwp) != 0 ||
	    !pwp) {
		errno = ENOENT;
		return mer_error_set(err,
				     "user %s (uid %u) is unknown on node %s",
				     job->user_name, job->user_id, st->s->node);
	}
	if (geteuid() != 0 && geteuid() != job->user_id) {
		errno = EPERM;
		return mer_error_set(err,
				     "mstepd runs as uid %u, not root: it "
				     "cannot run ranks of uid %u",
				     (unsigned)geteuid(), job->user_id);
	}
	st->user.name = xstrdup(pw.pw_name);
	st->user.home = xstrdup(pw.pw_dir ? pw.pw_dir : "");
	st->user.shell = xstrdup(pw.pw_shell ? pw.pw_shell : "");
	st->user.uid = job->user_id;
	st->user.gid = job->group_id;
	st->switch_user = geteuid() == 0;
	if (*st->desc->work_dir)
		st->work_dir = xstrdup(st->desc->work_dir);
	else if (job->desc && *job->desc->work_dir)
		st->work_dir = xstrdup(job->desc->work_dir);
	else
		st->work_dir = xstrdup(*st->user.home ? st->user.home : "/");
	return 0;
}

/* What the step asks for that mstepd must understand. */
static int setup_mode(struct step *st, struct mer_error *err)
{
	const char *mpi = st->desc->mpi;

	if (!*mpi || !strcmp(mpi, "pmi1")) {
		st->pmi = true;
	} else if (!strcmp(mpi, "pmi2")) {
		st->pmi = true;
		st->pmi2 = true;
	} else if (strcmp(mpi, "none")) {
		errno = EINVAL;
		return mer_error_set(
			err, "--mpi=%.40s: expected pmi1, pmi2 or none", mpi);
	}
	if (st->desc->n_argv == 0 || !*st->desc->argv[0]) {
		errno = EINVAL;
		return mer_error_set(err, "the step has no command to run");
	}
	if (st->nnodes > 1 && !*st->rec->nodes[0]->addr) {
		errno = EINVAL;
		return mer_error_set(err,
				     "the step's first node %s has no "
				     "address",
				     st->rec->nodes[0]->node);
	}
	st->finalize_timeout = st->desc->finalize_timeout
				       ? st->desc->finalize_timeout
				       : STEP_FINALIZE_TIMEOUT_DEFAULT;
	return 0;
}

/* Node 0: a port free on this node for MASTER_PORT (torchrun's
 * rendezvous).  Nothing keeps it: rank 0 binds it soon after. */
static int pick_master_port(struct step *st, struct mer_error *err)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &len) < 0) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		errno = e;
		return mer_error_set(err,
				     "cannot find a free port for "
				     "MASTER_PORT: %s",
				     strerror(e));
	}
	close(fd);
	st->master_port = ntohs(sa.sin_port);
	return 0;
}

static bool same_addr(const struct sockaddr *a, const struct sockaddr *b)
{
	if (!a || !b || a->sa_family != b->sa_family)
		return false;
	if (a->sa_family == AF_INET)
		return ((const struct sockaddr_in *)a)->sin_addr.s_addr ==
		       ((const struct sockaddr_in *)b)->sin_addr.s_addr;
	if (a->sa_family == AF_INET6)
		return !memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
			       &((const struct sockaddr_in6 *)b)->sin6_addr,
			       sizeof(struct in6_addr));
	return false;
}

/* The interface this node uses toward peer (the route the kernel picks:
 * a UDP connect sends nothing), for NCCL_SOCKET_IFNAME.  malloc'd; NULL
 * when unknown. */
static char *route_ifname(const char *peer)
{
	struct addrinfo hints = {.ai_socktype = SOCK_DGRAM}, *res;
	struct sockaddr_storage local;
	socklen_t len = sizeof(local);
	struct ifaddrs *ifs, *i;
	char *name = NULL;
	int fd, ok;

	if (!peer || !*peer || getaddrinfo(peer, "9", &hints, &res) != 0)
		return NULL;
	fd = socket(res->ai_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ok = fd >= 0 && connect(fd, res->ai_addr, res->ai_addrlen) == 0 &&
	     getsockname(fd, (struct sockaddr *)&local, &len) == 0;
	if (fd >= 0)
		close(fd);
	freeaddrinfo(res);
	if (!ok || getifaddrs(&ifs) < 0)
		return NULL;
	for (i = ifs; i && !name; i = i->ifa_next)
		if (same_addr(i->ifa_addr, (struct sockaddr *)&local))
			name = xstrdup(i->ifa_name);
	freeifaddrs(ifs);
	return name;
}

/* The peer whose route names NCCL's interface: node 1 from node 0, node
 * 0 from the others, and a one-node step's own address. */
static void setup_ifname(struct step *st)
{
	const Meridian__StepRecord *rec = st->rec;
	const char *peer = rec->nodes[0]->addr;

	if (rec->n_nodes > 1 && st->node_index == 0)
		peer = rec->nodes[1]->addr;
	st->ifname = route_ifname(peer);
	if (!st->ifname)
		log_info("step %u.%u: no interface found toward %s: "
			 "NCCL_SOCKET_IFNAME left unset",
			 st->s->job_id, st->s->step_id,
			 *peer ? peer : "(none)");
}

void step_start(struct mstepd *s)
{
	struct step *st = s->step;
	struct mer_error err;
	char *why = NULL;

	st->start_time = mer_now();
	st->io = io_create(st);
	log_info("step %u.%u: node %u of %u (%s), ranks %u-%u of %u", s->job_id,
		 s->step_id, st->node_index, st->nnodes, s->node,
		 st->me->first_rank, st->me->first_rank + st->me->ntasks - 1,
		 st->ntasks);
	/* what the hello needs, and what must fail early */
	if (setup_user(st, &err) < 0 || setup_mode(st, &err) < 0 ||
	    (st->node_index == 0 && pick_master_port(st, &err) < 0) ||
	    (st->pmi && !(st->kvs = kvs_create(st, &err))))
		why = xstrdup(err.text);
	if (io_connect(st->io, kvs_port(st->kvs), &err) < 0) {
		/* nobody to tell but mnoded, through the end file */
		step_fail(st, why ? why : err.text);
		free(why);
		return;
	}
	/* while mrun waits for the other nodes' hellos */
	if (!why && fork_prepare(st, &err) < 0)
		why = xstrdup(err.text);
	if (!why)
		setup_ifname(st);
	if (why)
		step_fail(st, why);
	free(why);
}

void step_destroy(struct mstepd *s)
{
	struct step *st = s->step;

	if (!st)
		return;
	io_destroy(st->io);
	kvs_destroy(st->kvs);
	if (st->kill_ev)
		event_free(st->kill_ev);
	if (st->drain_ev)
		event_free(st->drain_ev);
	for (size_t i = 0; i < st->nranks; i++) {
		struct step_rank *r = &st->ranks[i];
		if (r->status_fd >= 0)
			close(r->status_fd);
		free(r->setup_error);
		free(r->why);
		free(r->cpus);
	}
	free(st->ranks);
	free((char *)st->user.name);
	free((char *)st->user.home);
	free((char *)st->user.shell);
	free(st->work_dir);
	free(st->ifname);
	free(st->fail_reason);
	free(st->cancel_reason);
	meridian__launch_step__free_unpacked(st->ls, NULL);
	free(st);
	s->step = NULL;
	s->job = NULL;
}
