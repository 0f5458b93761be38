/*
 * mrun_alloc.c - salloc: mrun run under that name (contrib/slurm-compat's
 * link) makes the allocation as mrun does, then runs a command here, on
 * the login node (the user's shell without one), with the job's SLURM_*
 * variables, as salloc does; the mrun (srun) lines the command runs start
 * their steps in the allocation.  When the command ends the allocation
 * is given back with its exit status; when the job ends first (its time
 * limit, mcancel) the command is told with SIGHUP, as salloc does.
 *
 * While the command runs, SIGINT and SIGQUIT are the command's (a ^C at
 * the shell's prompt must not end the allocation); SIGTERM and SIGHUP are
 * passed on to it.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mrun.h"
#include "util.h"

extern char **environ;

/* How often the job's state is read while the command runs. */
#define ALLOC_WATCH_MS 2000

static const char *prog(const struct mrun *m)
{
	return m->cmd.prog;
}

/* "2(x3),1": each node's CPUs, runs of equal ones folded, as Slurm
 * writes SLURM_JOB_CPUS_PER_NODE. */
static void cpus_per_node(const Meridian__JobRecord *job, struct strbuf *b)
{
	for (size_t i = 0; i < job->n_alloc;) {
		uint32_t c = job->alloc[i]->cpus;
		size_t k = i + 1;

		while (k < job->n_alloc && job->alloc[k]->cpus == c)
			k++;
		strbuf_addf(b, "%s%" PRIu32, i ? "," : "", c);
		if (k - i > 1)
			strbuf_addf(b, "(x%zu)", k - i);
		i = k;
	}
}

static void env_put(char ***env, size_t *n, const char *name, const char *value)
{
	size_t len = strlen(name);
	char *e;

	for (size_t i = 0; i < *n; i++)
		if (!strncmp((*env)[i], name, len) && (*env)[i][len] == '=') {
			free((*env)[i]);
			(*env)[i] = (*env)[--*n];
			break;
		}
	e = xmalloc(len + strlen(value) + 2);
	sprintf(e, "%s=%s", name, value);
	*env = xrealloc(*env, (*n + 2) * sizeof(**env));
	(*env)[(*n)++] = e;
	(*env)[*n] = NULL;
}

static void env_put_u(char ***env, size_t *n, const char *name, uint64_t v)
{
	char buf[24];

	snprintf(buf, sizeof(buf), "%" PRIu64, v);
	env_put(env, n, name, buf);
}

/* The command's environment: ours and the job's, as salloc sets it. */
char **mrun_alloc_env(const struct mrun *m, const Meridian__JobRecord *job,
		      size_t *nenv)
{
	const Meridian__JobDesc *d = job->desc;
	struct strbuf b = {0};
	char **env = NULL;
	size_t n = 0, nodes = job->n_alloc ? job->n_alloc : 1;

	for (char **e = environ; e && *e; e++) {
		env = xrealloc(env, (n + 2) * sizeof(*env));
		env[n++] = xstrdup(*e);
	}
	if (!env)
		env = xcalloc(2, sizeof(*env));
	env[n] = NULL;
	env_put_u(&env, &n, "SLURM_JOB_ID", job->job_id);
	env_put_u(&env, &n, "SLURM_JOBID", job->job_id);
	env_put_u(&env, &n, "MERIDIAN_JOB_ID", job->job_id);
	env_put(&env, &n, "SLURM_JOB_NAME", d && d->name ? d->name : "");
	env_put(&env, &n, "SLURM_JOB_NODELIST", job->nodes ? job->nodes : "");
	env_put(&env, &n, "SLURM_NODELIST", job->nodes ? job->nodes : "");
	env_put_u(&env, &n, "SLURM_JOB_NUM_NODES", nodes);
	env_put_u(&env, &n, "SLURM_NNODES", nodes);
	cpus_per_node(job, &b);
	env_put(&env, &n, "SLURM_JOB_CPUS_PER_NODE", b.s ? b.s : "");
	strbuf_free(&b);
	if (m->opt.ntasks || m->opt.ntasks_per_node) {
		uint64_t t = m->opt.ntasks
				     ? m->opt.ntasks
				     : (uint64_t)m->opt.ntasks_per_node * nodes;

		env_put_u(&env, &n, "SLURM_NTASKS", t);
		env_put_u(&env, &n, "SLURM_NPROCS", t);
	}
	if (m->opt.ntasks_per_node)
		env_put_u(&env, &n, "SLURM_NTASKS_PER_NODE",
			  m->opt.ntasks_per_node);
	if (d && d->partition && *d->partition)
		env_put(&env, &n, "SLURM_JOB_PARTITION", d->partition);
	if (d && d->account && *d->account)
		env_put(&env, &n, "SLURM_JOB_ACCOUNT", d->account);
	if (d && d->mem_mb)
		env_put_u(&env, &n, "SLURM_MEM_PER_NODE", d->mem_mb);
	if (m->cmd.conf && m->cmd.conf->cluster_name)
		env_put(&env, &n, "SLURM_CLUSTER_NAME",
			m->cmd.conf->cluster_name);
	env_put(&env, &n, "SLURM_SUBMIT_DIR",
		m->submit_dir ? m->submit_dir : "");
	env_put(&env, &n, "SLURM_SUBMIT_HOST", m->host ? m->host : "");
	*nenv = n;
	return env;
}

static void finish(struct mrun *m)
{
	event_base_loopexit(m->base, NULL);
}

/* The command ended: its status is salloc's. */
static void on_child(evutil_socket_t sig, short what, void *arg)
{
	struct mrun *m = arg;
	int status;
	pid_t p;

	(void)sig;
	(void)what;
	while ((p = waitpid(-1, &status, WNOHANG)) > 0) {
		if (p != m->alloc_pid)
			continue;
		m->alloc_pid = 0;
		m->alloc_done = true;
		if (WIFSIGNALED(status)) {
			m->alloc_signal = WTERMSIG(status);
			m->alloc_exit = 128 + WTERMSIG(status);
		} else {
			m->alloc_exit = WEXITSTATUS(status);
		}
		finish(m);
	}
}

/* While the command runs: has the job ended under it? */
static void watch_cb(evutil_socket_t fd, short what, void *arg)
{
	struct mrun *m = arg;
	Meridian__JobInfoRequest req = MERIDIAN__JOB_INFO_REQUEST__INIT;
	Meridian__JobInfoReply *reply = NULL;
	struct mer_error err = {{0}};
	struct timeval tv = {ALLOC_WATCH_MS / 1000,
			     (ALLOC_WATCH_MS % 1000) * 1000};
	uint32_t id = m->job_id;
	bool ended = false;

	(void)fd;
	(void)what;
	req.job_ids = &id;
	req.n_job_ids = 1;
	req.all_states = true;
	if (client_call(m->cmd.client, MERIDIAN__MSG_TYPE__MSG_JOB_INFO,
			&req.base, (ProtobufCMessage **)&reply, 30,
			&err) == 0) {
		const Meridian__JobRecord *job = NULL;

		for (size_t i = 0; i < reply->n_jobs; i++)
			if (reply->jobs[i]->job_id == id)
				job = reply->jobs[i];
		ended = !job || mer_job_state_final(job->state);
		protobuf_c_message_free_unpacked(&reply->base, NULL);
	} else {
		/* mctld restarts: the job is still there; ask on a new
		 * connection next time */
		client_destroy(m->cmd.client);
		m->cmd.client = client_create(m->cmd.conf, &err);
		if (!m->cmd.client) {
			cmd_error(&m->cmd, "%s", err.text);
			m->cmd.client = NULL;
		}
	}
	if (ended && m->alloc_pid > 0 && !m->job_ended) {
		fprintf(stderr,
			"%s: Job allocation %" PRIu32 " has been revoked.\n",
			prog(m), id);
		m->job_ended = true; /* nothing to give back */
		kill(m->alloc_pid, SIGHUP);
		kill(m->alloc_pid, SIGTERM);
	}
	if (m->alloc_pid > 0 && m->cmd.client)
		evtimer_add(m->watch_alloc_ev, &tv);
}

int mrun_alloc_start(struct mrun *m, const Meridian__JobRecord *job)
{
	struct timeval tv = {ALLOC_WATCH_MS / 1000,
			     (ALLOC_WATCH_MS % 1000) * 1000};
	char **env;
	size_t nenv;
	pid_t pid;

	fprintf(stderr, "%s: Granted job allocation %" PRIu32 "\n", prog(m),
		job->job_id);
	fprintf(stderr, "%s: Nodes %s are ready for job\n", prog(m),
		job->nodes && *job->nodes ? job->nodes : "?");
	m->chld_ev = evsignal_new(m->base, SIGCHLD, on_child, m);
	m->watch_alloc_ev = evtimer_new(m->base, watch_cb, m);
	if (!m->chld_ev || event_add(m->chld_ev, NULL) < 0 ||
	    !m->watch_alloc_ev) {
		cmd_error(&m->cmd, "cannot watch the command");
		return MER_EXIT_ERROR;
	}
	env = mrun_alloc_env(m, job, &nenv);
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		cmd_error(&m->cmd, "cannot start %s: %s", m->argv[0],
			  strerror(errno));
		jobopt_env_free(env, nenv);
		return MER_EXIT_ERROR;
	}
	if (pid == 0) {
		sigset_t none;

		/* the command gets the signals as a shell would */
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		for (int s = 1; s < 32; s++)
			if (s != SIGKILL && s != SIGSTOP)
				signal(s, SIG_DFL);
		environ = env;
		execvp(m->argv[0], m->argv);
		fprintf(stderr, "%s: error: cannot run %s: %s\n", prog(m),
			m->argv[0], strerror(errno));
		_exit(127);
	}
	jobopt_env_free(env, nenv);
	m->alloc_pid = pid;
	evtimer_add(m->watch_alloc_ev, &tv);
	return MER_EXIT_OK;
}

/* A signal to salloc while the command runs. */
void mrun_alloc_signal(struct mrun *m, int sig)
{
	if (m->alloc_pid <= 0)
		return;
	if (sig == SIGTERM || sig == SIGHUP)
		kill(m->alloc_pid, sig);
	/* SIGINT, SIGQUIT and the rest are the command's own (its
	 * terminal sends them to it too) */
}

void mrun_alloc_end(struct mrun *m)
{
	if (m->alloc_pid > 0) {
		/* salloc leaves early (an error): the command goes too */
		kill(m->alloc_pid, SIGHUP);
		waitpid(m->alloc_pid, NULL, 0);
		m->alloc_pid = 0;
	}
	if (m->chld_ev)
		event_free(m->chld_ev);
	if (m->watch_alloc_ev)
		event_free(m->watch_alloc_ev);
	m->chld_ev = m->watch_alloc_ev = NULL;
	if (m->allocated && m->job_running && !m->job_ended)
		fprintf(stderr,
			"%s: Relinquishing job allocation %" PRIu32 "\n",
			prog(m), m->job_id);
}
