/*
 * mrun - run a job step's ranks, like srun (mrun.h tells the whole story).
 *
 * main() checks every option before anything is sent, then either finds
 * its job in the environment or submits an interactive allocation and
 * polls JOB_INFO until it runs (50 ms, doubling up to 1 s), creates the
 * step and serves it (mrun_io.c) on one libevent loop, which also takes
 * the signals: while mrun waits for its allocation SIGINT, SIGTERM and
 * SIGHUP give it back; once the step exists they go to the ranks.  An
 * allocation mrun made is always given back (JOB_COMPLETE) before it
 * exits, whatever the step did.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mrun.h"
#include "util.h"

extern char **environ;

/* JOB_INFO every 50 ms at first, then less often, at least once a second. */
#define POLL_FIRST_MS 50
#define POLL_MAX_MS   1000
/* Say the job waits after this long. */
#define QUEUED_SAY_MS 1000

static const int caught_signals[] = {SIGINT,  SIGTERM, SIGHUP,	SIGQUIT,
				     SIGUSR1, SIGUSR2, SIGWINCH};

static void usage_line(FILE *out)
{
	fprintf(out, "Usage: mrun [OPTIONS] PROGRAM [ARGS...]\n");
}

static void leave_loop(struct mrun *m, int rc)
{
	if (!m->rc)
		m->rc = rc;
	event_base_loopexit(m->base, NULL);
}

/* --- the step -------------------------------------------------------- */

/* How often an --exclusive step asks again while the CPUs it needs are
 * held by the job's other exclusive steps (srun waits as well). */
#define STEP_RETRY_MS 1000

static int step_create(struct mrun *m);

static void step_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct mrun *m = arg;
	int rc = step_create(m);

	if (rc)
		leave_loop(m, rc);
}

/* The job's CPUs are busy with its other exclusive steps (EBUSY): say so
 * once, as srun does, and ask again later.  Interrupting mrun ends the
 * wait (on_signal: no step yet). */
static int step_wait(struct mrun *m, const char *why)
{
	struct timeval tv = {STEP_RETRY_MS / 1000,
			     (STEP_RETRY_MS % 1000) * 1000};

	if (!m->step_waiting)
		fprintf(stderr,
			"%s: job %" PRIu32 " step creation temporarily "
			"disabled, retrying (%s)\n",
			m->cmd.prog, m->job_id, why);
	m->step_waiting = true;
	if (!m->retry_ev)
		m->retry_ev = evtimer_new(m->base, step_retry_cb, m);
	if (!m->retry_ev || evtimer_add(m->retry_ev, &tv) < 0) {
		cmd_error(&m->cmd, "cannot set up the wait for a step");
		return MER_EXIT_ERROR;
	}
	return MER_EXIT_OK;
}

static int step_create(struct mrun *m)
{
	Meridian__StepCreateRequest req = MERIDIAN__STEP_CREATE_REQUEST__INIT;
	struct mer_error err = {{0}};
	const Meridian__StepRecord *st;
	int rc;

	req.job_id = m->job_id;
	req.desc = &m->desc;
	req.io_host = m->io_host;
	req.io_port = m->io_port;
	req.io_key.data = m->io_key;
	req.io_key.len = sizeof(m->io_key);
	rc = cmd_call(&m->cmd, MERIDIAN__MSG_TYPE__MSG_STEP_CREATE, &req.base,
		      (ProtobufCMessage **)&m->reply, &err);
	if (rc == MER_EXIT_ERROR && errno == EBUSY && m->desc.exclusive)
		return step_wait(m, err.text);
	if (rc == MER_EXIT_ERROR)
		cmd_error(&m->cmd, "cannot start a step in job %" PRIu32 ": %s",
			  m->job_id, err.text);
	if (rc)
		return rc;
	st = m->reply->step;
	if (!st) {
		cmd_error(&m->cmd,
			  "the controller's reply to STEP_CREATE has no step");
		return MER_EXIT_ERROR;
	}
	m->step_id = st->step_id;
	m->step_created = true;
	if (m->step_waiting)
		fprintf(stderr, "%s: step created for job %" PRIu32 "\n",
			m->cmd.prog, m->job_id);
	mrun_verbose(
		m, 1, "step %" PRIu32 ".%" PRIu32 ": %" PRIu32 " task%s on %s",
		m->job_id, m->step_id, st->ntasks, st->ntasks == 1 ? "" : "s",
		st->nodelist && *st->nodelist ? st->nodelist : "?");
	if (mrun_io_start(m) < 0)
		return MER_EXIT_ERROR;
	return MER_EXIT_OK;
}

/* Say how the step ended when it failed; mrun's exit status. */
static int step_report(struct mrun *m)
{
	const struct mrun_status *s = &m->status;
	const char *why = s->reason;

	if (s->cls == MRUN_OK)
		return MER_EXIT_OK;
	if (!*why)
		why = s->cls == MRUN_CANCELLED ? "cancelled" : "failed";
	cmd_error(&m->cmd, "STEP %" PRIu32 ".%" PRIu32 ": %s", m->job_id,
		  m->step_id, why);
	return mrun_status_exit(s);
}

/* --- the allocation ---------------------------------------------------- */

static int job_submit(struct mrun *m)
{
	Meridian__SubmitJobRequest req = MERIDIAN__SUBMIT_JOB_REQUEST__INIT;
	Meridian__JobDesc desc = MERIDIAN__JOB_DESC__INIT;
	Meridian__JobSpec spec = MERIDIAN__JOB_SPEC__INIT;
	Meridian__SubmitJobReply *reply = NULL;
	struct mer_error err = {{0}};
	int rc;

	mrun_job_desc(&m->opt, m->argv[0], m->work_dir, m->submit_dir, &desc);
	/* nothing to launch: the steps bring their own programs */
	spec.script.data = (uint8_t *)"";
	spec.script.len = 0;
	req.desc = &desc;
	req.spec = &spec;
	req.user_name = m->user;
	req.submit_host = m->host;
	rc = cmd_call(&m->cmd, MERIDIAN__MSG_TYPE__MSG_SUBMIT_JOB, &req.base,
		      (ProtobufCMessage **)&reply, &err);
	if (rc == MER_EXIT_ERROR)
		cmd_error(&m->cmd, "job allocation failed: %s", err.text);
	if (rc)
		return rc;
	m->job_id = reply->job_id;
	m->allocated = true;
	m->submit_ms = mer_mono_ms();
	protobuf_c_message_free_unpacked(&reply->base, NULL);
	mrun_verbose(m, 1, "job %" PRIu32 ": allocation asked for", m->job_id);
	return MER_EXIT_OK;
}

static void poll_again(struct mrun *m)
{
	struct timeval tv = {m->poll_ms / 1000, (m->poll_ms % 1000) * 1000};

	event_add(m->poll_ev, &tv);
	m->poll_ms *= 2;
	if (m->poll_ms > POLL_MAX_MS)
		m->poll_ms = POLL_MAX_MS;
}

static void queued_cb(evutil_socket_t fd, short what, void *arg)
{
	struct mrun *m = arg;

	if (m->job_running || m->job_ended || m->interrupted || m->rc)
		return;
	fprintf(stderr,
		"%s: job %" PRIu32 " queued and waiting for resources\n",
		m->cmd.prog, m->job_id);
	m->queued_said = true;
}

/* One JOB_INFO: go on when the job runs, keep waiting while it is queued. */
static void poll_cb(evutil_socket_t fd, short what, void *arg)
{
	struct mrun *m = arg;
	Meridian__JobInfoRequest req = MERIDIAN__JOB_INFO_REQUEST__INIT;
	Meridian__JobInfoReply *reply = NULL;
	const Meridian__JobRecord *job = NULL;
	struct mer_error err = {{0}};
	uint32_t id = m->job_id;
	int rc;

	req.job_ids = &id;
	req.n_job_ids = 1;
	req.all_states = true;
	if (client_call(m->cmd.client, MERIDIAN__MSG_TYPE__MSG_JOB_INFO,
			&req.base, (ProtobufCMessage **)&reply, 30, &err) < 0) {
		if (cmd_errno_unreachable(errno) || errno == EPIPE ||
		    errno == ECONNRESET || errno == ETIMEDOUT) {
			/* mctld restarts: the job is still there */
			mrun_warn(m, "job %" PRIu32 ": %s; trying again", id,
				  err.text);
			m->poll_ms = POLL_MAX_MS;
			poll_again(m);
			return;
		}
		cmd_error(&m->cmd, "job %" PRIu32 ": cannot read its state: %s",
			  id, err.text);
		leave_loop(m, MER_EXIT_ERROR);
		return;
	}
	for (size_t i = 0; i < reply->n_jobs; i++)
		if (reply->jobs[i]->job_id == id)
			job = reply->jobs[i];
	if (!job) {
		cmd_error(&m->cmd,
			  "job %" PRIu32 " is gone: the controller no longer "
			  "knows it",
			  id);
		m->job_ended = true;
		leave_loop(m, MER_EXIT_ERROR);
	} else if (job->state == MERIDIAN__JOB_STATE__JOB_PENDING) {
		poll_again(m);
	} else if (job->state == MERIDIAN__JOB_STATE__JOB_RUNNING) {
		m->job_running = true;
		if (m->queued_said)
			fprintf(stderr,
				"%s: job %" PRIu32 " has been allocated "
				"resources\n",
				m->cmd.prog, id);
		mrun_verbose(m, 1, "job %" PRIu32 ": running on %s", id,
			     job->nodes && *job->nodes ? job->nodes : "?");
		rc = m->salloc ? mrun_alloc_start(m, job) : step_create(m);
		if (rc)
			leave_loop(m, rc);
	} else {
		cmd_error(&m->cmd,
			  "job %" PRIu32 " ended before its step could "
			  "start: %s%s%s",
			  id, mer_job_state_name(job->state),
			  job->reason && *job->reason ? ", " : "",
			  job->reason ? job->reason : "");
		m->job_ended = true;
		leave_loop(m, MER_EXIT_ERROR);
	}
	protobuf_c_message_free_unpacked(&reply->base, NULL);
}

/*
 * Give back the allocation mrun made: JOB_COMPLETE with the step's worst
 * status, as a batch job's end has it (a signal's death is exit code 0
 * and the signal: ExitCode=0:9); a job that never ran (or a controller
 * that refuses) is cancelled instead.  On a fresh connection: the one of
 * the start may have idled out during a long step.
 */
static void job_give_back(struct mrun *m, int32_t exit_code,
			  int32_t term_signal)
{
	Meridian__JobCompleteRequest done =
		MERIDIAN__JOB_COMPLETE_REQUEST__INIT;
	Meridian__CancelJobRequest cancel = MERIDIAN__CANCEL_JOB_REQUEST__INIT;
	Meridian__JobActionReply *reply = NULL;
	struct mer_error err = {{0}};
	uint32_t id = m->job_id;
	int rc, code = 0;
	const char *text = "";

	if (!m->allocated || m->job_ended)
		return;
	client_destroy(m->cmd.client);
	m->cmd.client = client_create(m->cmd.conf, &err);
	if (!m->cmd.client) {
		cmd_error(&m->cmd, "cannot end job %" PRIu32 ": %s", id,
			  err.text);
		return;
	}
	if (m->job_running) {
		done.job_id = id;
		done.exit_code = exit_code;
		done.term_signal = term_signal;
		rc = cmd_call(&m->cmd, MERIDIAN__MSG_TYPE__MSG_JOB_COMPLETE,
			      &done.base, (ProtobufCMessage **)&reply, &err);
		if (rc == MER_EXIT_CONNECT)
			goto unreachable;
		if (rc == MER_EXIT_ERROR && errno == EALREADY) {
			/* cancelled or timed out meanwhile: nothing to do */
			mrun_verbose(m, 1, "job %" PRIu32 ": %s", id, err.text);
			return;
		}
		if (rc == MER_EXIT_OK &&
		    (reply->n_results == 0 || reply->results[0]->code == 0)) {
			mrun_verbose(m, 1, "job %" PRIu32 ": given back", id);
			protobuf_c_message_free_unpacked(&reply->base, NULL);
			return;
		}
		if (reply)
			protobuf_c_message_free_unpacked(&reply->base, NULL);
		reply = NULL;
		mrun_verbose(m, 1,
			     "job %" PRIu32 ": JOB_COMPLETE refused (%s): "
			     "cancelling it",
			     id, err.text[0] ? err.text : "no reason");
	}
	cancel.job_ids = &id;
	cancel.n_job_ids = 1;
	rc = cmd_call(&m->cmd, MERIDIAN__MSG_TYPE__MSG_CANCEL_JOB, &cancel.base,
		      (ProtobufCMessage **)&reply, &err);
	if (rc == MER_EXIT_CONNECT)
		goto unreachable;
	if (rc == MER_EXIT_OK && reply->n_results) {
		code = reply->results[0]->code;
		text = cmd_job_result_text(reply->results[0]);
	} else if (rc) {
		code = errno ? errno : EIO;
		text = err.text;
	}
	/* a job that already ended has nothing left to give back */
	if (code && code != EALREADY && code != ENOENT && code != ESRCH)
		cmd_error(&m->cmd, "cannot end job %" PRIu32 ": %s", id, text);
	if (reply)
		protobuf_c_message_free_unpacked(&reply->base, NULL);
	return;
unreachable:
	cmd_error(&m->cmd,
		  "job %" PRIu32 " was not given back: it stays allocated "
		  "until it is cancelled (mcancel %" PRIu32 ") or reaches "
		  "its time limit",
		  id, id);
}

/* --- signals ----------------------------------------------------------- */

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct mrun *m = arg;

	if (m->step_created) {
		mrun_io_signal(m, (int)sig);
		return;
	}
	if (m->alloc_pid > 0) {
		mrun_alloc_signal(m, (int)sig);
		return;
	}
	if (sig == SIGINT || sig == SIGTERM || sig == SIGHUP) {
		m->interrupted = true;
		if (m->step_waiting)
			cmd_error(&m->cmd,
				  "interrupted while waiting for CPUs for a "
				  "step of job %" PRIu32,
				  m->job_id);
		if (m->allocated)
			cmd_error(&m->cmd,
				  "interrupted while waiting for job %" PRIu32
				  ": giving it back",
				  m->job_id);
		leave_loop(m, MER_EXIT_ERROR);
	}
}

static int watch_signals(struct mrun *m)
{
	for (size_t i = 0;
	     i < sizeof(caught_signals) / sizeof(caught_signals[0]); i++) {
		struct event *ev =
			evsignal_new(m->base, caught_signals[i], on_signal, m);

		if (!ev || event_add(ev, NULL) < 0) {
			cmd_error(&m->cmd, "cannot watch signal %d",
				  caught_signals[i]);
			if (ev)
				event_free(ev);
			return -1;
		}
		m->sig_ev[m->nsig++] = ev;
	}
	return 0;
}

/* --- options ----------------------------------------------------------- */

/* What the options say, checked before anything is sent. */
static int setup(struct mrun *m, int argc, char **argv, bool *in_job)
{
	struct mer_error err = {{0}};
	char user[256], host[256], *cwd;
	int first, r;

	if (jobopt_parse_cmd(&m->opt, JOBOPT_MRUN, argc, argv, "command line",
			     &first, &err) < 0)
		return cmd_usage_error(&m->cmd, "%s", err.text);
	if (m->opt.help) {
		fputs(jobopt_help_cmd(JOBOPT_MRUN), stdout);
		return -1;
	}
	if (m->opt.usage) {
		usage_line(stdout);
		return -1;
	}
	if (m->opt.version) {
		cmd_print_version(&m->cmd);
		return -1;
	}
	if (m->opt.mpi && !strcmp(m->opt.mpi, "list")) {
		/* srun --mpi=list: no program, no controller needed */
		fputs(mrun_mpi_list, stdout);
		return -1;
	}
	m->cmd.conf_path = m->opt.conf_path;
	if (first >= argc && m->salloc) {
		/* salloc without a command: the user's shell, as
		 * SallocDefaultCommand-less Slurm runs it */
		static char *shell[2];

		shell[0] = getenv("SHELL") && *getenv("SHELL")
				   ? getenv("SHELL")
				   : (char *)"/bin/sh";
		m->argv = shell;
		m->argc = 1;
	} else if (first >= argc) {
		return cmd_usage_error(&m->cmd,
				       "no program to run: expected mrun "
				       "[OPTIONS] PROGRAM [ARGS...]");
	} else {
		m->argv = argv + first;
		m->argc = (size_t)(argc - first);
	}
	if (m->opt.kill_on_bad_exit < 0)
		m->opt.kill_on_bad_exit = 1;

	r = mrun_job_from_env(getenv("MERIDIAN_JOB_ID"), getenv("SLURM_JOB_ID"),
			      &m->job_id, &err);
	if (r < 0) {
		cmd_error(&m->cmd, "%s", err.text);
		return MER_EXIT_ERROR;
	}
	/* salloc inside a job makes an allocation of its own */
	*in_job = r == 1 && !m->salloc;

	if (jobopt_export_env(m->opt.export_spec, environ, &m->env, &m->nenv,
			      &err) < 0)
		return cmd_usage_error(&m->cmd, "%s", err.text);
	cwd = getcwd(NULL, 0);
	/* the tasks start where mrun runs, as srun's do */
	m->work_dir = mrun_abs_dir(m->opt.work_dir, cwd);
	m->submit_dir = cwd;
	if (!m->work_dir && m->opt.work_dir) {
		cmd_error(&m->cmd,
			  "cannot find the current directory to resolve "
			  "--chdir=%s: %s (give an absolute path)",
			  m->opt.work_dir, strerror(errno));
		return MER_EXIT_ERROR;
	}
	if (mrun_step_desc(&m->opt, m->argv, m->argc, m->env, m->nenv,
			   m->work_dir, *in_job, &m->desc, &err) < 0)
		return cmd_usage_error(&m->cmd, "%s", err.text);
	if (*in_job && (m->opt.time_set || m->opt.partition || m->opt.account ||
			m->opt.mem_mb || m->opt.max_price || m->opt.gpu_type))
		mrun_verbose(m, 1,
			     "inside job %" PRIu32 ": --time, --partition, "
			     "--account, --mem, --max-price and GPU models "
			     "are the job's, ignored for the step",
			     m->job_id);

	if (user_name(getuid(), user, sizeof(user)) < 0)
		snprintf(user, sizeof(user), "%u", (unsigned)getuid());
	if (gethostname(host, sizeof(host)) < 0)
		host[0] = '\0';
	host[sizeof(host) - 1] = '\0';
	m->user = xstrdup(user);
	m->host = xstrdup(host);
	return MER_EXIT_OK;
}

/* --- main -------------------------------------------------------------- */

int main(int argc, char **argv)
{
	struct mrun m;
	bool in_job = false, ran;
	int rc;

	memset(&m, 0, sizeof(m));
	/* slurm-compat's salloc is a link to mrun */
	m.salloc = argv[0] && !strcmp(mrun_base_name(argv[0]), "salloc");
	cmd_init(&m.cmd, m.salloc ? "salloc" : "mrun");
	jobopt_init(&m.opt);
	mrun_status_init(&m.status);
	meridian__step_desc__init(&m.desc);
	m.listen_fd = -1;
	m.in_fd = -1;
	m.poll_ms = POLL_FIRST_MS;
	/* a closed stdout or a node gone must not kill mrun */
	signal(SIGPIPE, SIG_IGN);

	rc = setup(&m, argc, argv, &in_job);
	if (rc < 0) {
		rc = MER_EXIT_OK; /* --help, --usage, --version */
		goto out;
	}
	if (rc)
		goto out;
	rc = cmd_connect(&m.cmd);
	if (rc)
		goto out;
	m.base = event_base_new();
	if (!m.base) {
		cmd_error(&m.cmd, "cannot create an event loop");
		rc = MER_EXIT_ERROR;
		goto out;
	}
	if (watch_signals(&m) < 0 || mrun_io_listen(&m) < 0) {
		rc = MER_EXIT_ERROR;
		goto out;
	}

	if (in_job) {
		rc = step_create(&m);
		if (rc)
			goto out;
	} else {
		struct timeval tv = {QUEUED_SAY_MS / 1000,
				     (QUEUED_SAY_MS % 1000) * 1000};

		rc = job_submit(&m);
		if (rc)
			goto out;
		m.poll_ev = evtimer_new(m.base, poll_cb, &m);
		if (!m.poll_ev || event_base_once(m.base, -1, EV_TIMEOUT,
						  queued_cb, &m, &tv) < 0) {
			cmd_error(&m.cmd,
				  "cannot set up the wait for job %" PRIu32,
				  m.job_id);
			rc = MER_EXIT_ERROR;
			goto out;
		}
		/* mctld may start it at once: look right away */
		event_active(m.poll_ev, EV_TIMEOUT, 0);
	}
	event_base_dispatch(m.base);
	rc = m.rc;

out:
	/* the step ran to its end (or to mrun's): its status is mrun's */
	ran = m.step_created && rc == MER_EXIT_OK;
	/* the terminal back, the last partial lines out, before any word */
	mrun_io_stop(&m);
	if (m.salloc) {
		/* salloc's status is its command's */
		mrun_alloc_end(&m);
		if (m.alloc_done && rc == MER_EXIT_OK)
			rc = m.alloc_exit;
		if (m.alloc_done && m.alloc_signal)
			job_give_back(&m, 0, m.alloc_signal);
		else
			job_give_back(&m, m.alloc_done ? m.alloc_exit : rc, 0);
		goto freed;
	}
	if (ran)
		rc = step_report(&m);
	/* a rank's death by a signal is ExitCode=0:SIG, as for a script */
	if (ran && m.status.term_signal)
		job_give_back(&m, 0, m.status.term_signal);
	else
		job_give_back(&m, rc, 0);
freed:
	if (m.reply)
		protobuf_c_message_free_unpacked(&m.reply->base, NULL);
	if (m.poll_ev)
		event_free(m.poll_ev);
	if (m.retry_ev)
		event_free(m.retry_ev);
	for (size_t i = 0; i < m.nsig; i++)
		event_free(m.sig_ev[i]);
	if (m.base)
		event_base_free(m.base);
	cmd_fini(&m.cmd);
	jobopt_env_free(m.env, m.nenv);
	free(m.work_dir);
	free(m.submit_dir);
	free(m.user);
	free(m.host);
	jobopt_free(&m.opt);
	return rc;
}
