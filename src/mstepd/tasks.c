/*
 * tasks.c - the batch script's processes: start them as the job's user,
 * signal them, time them out, reap them, and write how the job ended.
 *
 * The script runs in its own session, so its process group (pgid = its
 * pid) holds the job; cancel, time limit and the final clean-up all act on
 * that group.  mstepd is a child subreaper, so processes of the job that
 * leave the group and lose their parent come back to us, and the clean-up
 * kills those too before the job is declared ended.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mstepd.h"
#include "parse.h"

/* How long the clean-up waits for the job's last processes to die after
 * SIGKILL before it writes the end anyway. */
#define DRAIN_MAX_MS  5000
#define DRAIN_TICK_MS 100

/* What the child needs, prepared by the parent so that the child only
 * makes system calls between fork and exec. */
struct child_plan {
	struct child_cred cred;
	const char *work_dir;
	const char *in, *out, *err; /* err NULL: same file as out */
	int out_flags;		    /* --open-mode: O_TRUNC or not */
	const char *script;
	int script_fd;
	char **argv;
	char **env;
	int status_fd; /* write end: a message here means exec never came */
};

static int open_as(const char *path, int flags, int fd_want)
{
	int fd = open(path, flags | O_CLOEXEC, 0644);

	if (fd < 0)
		return -1;
	if (fd != fd_want) {
		if (dup2(fd, fd_want) < 0)
			return -1;
		close(fd);
	} else {
		fcntl(fd, F_SETFD, 0);
	}
	return 0;
}

/* The job's process, from fork to exec.  Never returns. */
static void __attribute__((noreturn)) child_run(const struct child_plan *p)
{
	const int sfd = p->status_fd;
	sigset_t none;
	char fdpath[32];

	setsid(); /* its own session and process group: the job */
	for (int sig = 1; sig < NSIG; sig++)
		signal(sig, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);

	child_drop_privileges(&p->cred, sfd, "job");
	umask(022);
	/* From here on the user's permissions decide. */
	if (chdir(p->work_dir) < 0)
		child_fail(sfd, 1, "could not chdir to %s: %s", p->work_dir,
			   strerror(errno));
	if (open_as(p->in, O_RDONLY, 0) < 0)
		child_fail(sfd, 1, "cannot open input file %s: %s", p->in,
			   strerror(errno));
	if (open_as(p->out, p->out_flags, 1) < 0)
		child_fail(sfd, 1, "cannot open output file %s: %s", p->out,
			   strerror(errno));
	if (p->err) {
		if (open_as(p->err, p->out_flags, 2) < 0)
			child_fail(sfd, 1, "cannot open error file %s: %s",
				   p->err, strerror(errno));
	} else if (dup2(1, 2) < 0) {
		child_fail(sfd, 1, "dup2: %s", strerror(errno));
	}
	/* Nothing of mstepd's may leak into the job. */
#ifdef SYS_close_range
	syscall(SYS_close_range, 3u, ~0U, 4u /* CLOSE_RANGE_CLOEXEC */);
#endif
	env_set_task_pid(p->env, getpid()); /* the script's own pid */
	execve(p->script, p->argv, p->env);
	if (errno == EACCES && p->script_fd >= 0) {
		/* The spool is not traversable for the user (a SpoolDir
		 * under a 0700 directory): run the script through the file
		 * mstepd opened as root; /dev/fd/N bypasses the path. */
		int e = errno;
		fcntl(p->script_fd, F_SETFD, 0);
		snprintf(fdpath, sizeof(fdpath), "/dev/fd/%d", p->script_fd);
		execve(fdpath, p->argv, p->env);
		errno = e;
	}
	child_fail(sfd, 1, "cannot execute the batch script %s: %s", p->script,
		   strerror(errno));
}

/*
 * Start p's child; its pid, or -1 with errno.  vfork: the child borrows
 * our memory until its exec (we wait meanwhile), so none is copied for
 * it, a measured share of a node's CPU at hundreds of jobs a second;
 * child_run makes only system calls and writes nothing of ours but the
 * digits of SLURM_TASK_PID.  Signals stay blocked across it so that none
 * reaches the child before it has reset its handlers to the defaults.
 * A function of its own, so that no local of the caller's lives across
 * the vfork.
 */
static pid_t __attribute__((noinline)) spawn_child(const struct child_plan *p)
{
	sigset_t all, old;
	pid_t pid;
	int e;

	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &old);
	pid = vfork();
	if (pid == 0)
		child_run(p);
	e = errno;
	sigprocmask(SIG_SETMASK, &old, NULL);
	errno = e;
	return pid;
}

static void limit_cb(evutil_socket_t fd, short what, void *arg)
{
	struct mstepd *s = arg;

	log_info("job %u: time limit of %lld s reached", s->job_id,
		 (long long)s->time_limit_s);
	/* Slurm's word for it, which people and scripts look for */
	tasks_terminate(s, TASK_KILL_TIMEOUT, "TimeLimit");
}

static void kill_cb(evutil_socket_t fd, short what, void *arg)
{
	struct mstepd *s = arg;

	if (s->reaped)
		return;
	log_info("job %u: still running %u s after SIGTERM: SIGKILL", s->job_id,
		 s->launch->kill_wait);
	killpg(s->pid, SIGKILL);
}

/*
 * The script file, owned by the job's user, mode 0700.  Not fsync'ed: it
 * matters only while this mstepd lives, and a machine that crashes takes
 * the job with it.  The directory is root's, so nobody else can have put
 * anything at this path but an earlier mstepd of the same job.
 */
static int write_script(const char *path, const void *data, size_t n,
			bool chown_it, uid_t uid, gid_t gid)
{
	int fd, rc = 0;

	unlink(path);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		  0700);
	if (fd < 0)
		return -1;
	if (write_all(fd, data, n) < 0 || fchmod(fd, 0700) < 0 ||
	    (chown_it && fchown(fd, uid, gid) < 0))
		rc = -1;
	if (close(fd) < 0)
		rc = -1;
	return rc;
}

/* Tell whoever finds this job without its mstepd (a crash) which
 * process group to clean up, and whose it must be. */
static void write_pgid(const struct mstepd *s, pid_t pgid, uid_t uid)
{
	struct mer_error err;

	if (spool_write_pgid(s->dir, pgid, uid, &err) < 0)
		log_warnx("job %u: %s", s->job_id, err.text);
}

int tasks_start(struct mstepd *s, struct mer_error *err)
{
	const Meridian__JobRecord *job = s->job;
	const Meridian__JobDesc *desc = job->desc;
	const Meridian__JobSpec *spec = s->launch->spec;
	struct passwd pw, *pwp = NULL;
	char pwbuf[8192];
	struct child_plan p = {0};
	struct env_user u;
	struct iopath_names names = {0};
	char *script, *out, *errf = NULL, *in;
	int sp[2];
	pid_t pid;

	if (getpwuid_r(job->user_id, &pw, pwbuf, sizeof(pwbuf), &pwp) != 0 ||
	    !pwp) {
		errno = ENOENT;
		return mer_error_set(err,
				     "user %s (uid %u) is unknown on node %s",
				     job->user_name, job->user_id, s->node);
	}
	if (geteuid() != 0 && geteuid() != job->user_id) {
		errno = EPERM;
		return mer_error_set(err,
				     "mstepd runs as uid %u, not root: it "
				     "cannot run a job of uid %u",
				     (unsigned)geteuid(), job->user_id);
	}
	if (!spec || spec->script.len == 0) {
		errno = EINVAL;
		return mer_error_set(err, "the job has no script");
	}

	u.name = pw.pw_name;
	u.home = pw.pw_dir;
	u.shell = pw.pw_shell;
	u.uid = job->user_id;
	u.gid = job->group_id;
	p.cred.user = pw.pw_name;
	p.cred.uid = job->user_id;
	p.cred.gid = job->group_id;
	p.cred.switch_user = geteuid() == 0;
	p.work_dir = desc && *desc->work_dir ? desc->work_dir
		     : *pw.pw_dir	     ? pw.pw_dir
					     : "/";
	names.job_id = s->job_id;
	names.job_name = env_job_name(job);
	names.user = pw.pw_name;
	names.node = s->node;
	names.in_array = job->array_job_id != 0;
	names.array_job_id = job->array_job_id;
	names.array_task_id = job->array_task_id;
	out = iopath_path(desc ? desc->std_out : "",
			  names.in_array ? IOPATH_DEFAULT_ARRAY
					 : IOPATH_DEFAULT_OUTPUT,
			  p.work_dir, &names);
	if (desc && *desc->std_err)
		errf = iopath_path(desc->std_err, IOPATH_DEFAULT_OUTPUT,
				   p.work_dir, &names);
	in = desc && *desc->std_in ? iopath_path(desc->std_in, "/dev/null",
						 p.work_dir, &names)
				   : xstrdup("/dev/null");
	p.in = in;
	p.out = out;
	p.err = errf;
	/* sbatch truncates unless --open-mode=append; O_APPEND either way,
	 * so that -o and -e naming one file do not write over each other */
	p.out_flags = O_WRONLY | O_CREAT | O_APPEND;
	if (!desc || desc->open_mode != MERIDIAN__OPEN_MODE__OPEN_APPEND)
		p.out_flags |= O_TRUNC;

	/* The script belongs to the user (they may read their own script);
	 * the directory stays root's, traversable so they can reach it. */
	script = xasprintf("%s/%s", s->dir, SPOOL_SCRIPT_FILE);
	if (write_script(script, spec->script.data, spec->script.len,
			 p.cred.switch_user, p.cred.uid, p.cred.gid) < 0 ||
	    chmod(s->dir, 0711) < 0) {
		int e = errno;
		mer_error_set(err, "cannot write the script %s: %s", script,
			      strerror(e));
		free(script);
		free(out);
		free(errf);
		free(in);
		errno = e;
		return -1;
	}
	p.script = script;
	p.script_fd = open(script, O_RDONLY | O_CLOEXEC);
	p.argv = xcalloc(spec->n_argv + 2, sizeof(*p.argv));
	p.argv[0] = script;
	for (size_t i = 0; i < spec->n_argv; i++)
		p.argv[i + 1] = spec->argv[i];
	p.env = env_build(s->launch, s->node, &u);
	env_reserve_task_pid(p.env);
	if (child_cred_groups(&p.cred, err) < 0)
		goto out;

	if (pipe2(sp, O_CLOEXEC) < 0) {
		int e = errno;
		mer_error_set(err, "pipe: %s", strerror(e));
		errno = e;
		goto out;
	}
	p.status_fd = sp[1];
	p.cred.mstepd_pid = getpid();
	pid = spawn_child(&p);
	close(sp[1]);
	if (pid < 0) {
		int e = errno;
		close(sp[0]);
		mer_error_set(err, "fork: %s", strerror(e));
		errno = e;
		goto out;
	}
	s->pid = pid;
	write_pgid(s, pid, p.cred.uid);
	s->status_fd = sp[0];
	set_nonblock(s->status_fd);
	s->start_time = mer_now();
	free(s->err_path);
	s->err_path = xstrdup(errf ? errf : out);
	log_info("job %u: started script as %s (uid %u) in %s, pid %ld, "
		 "output %s%s%s",
		 s->job_id, pw.pw_name, p.cred.uid, p.work_dir, (long)pid, out,
		 errf ? ", error " : "", errf ? errf : "");
	if (s->time_limit_s > 0) {
		struct timeval tv = {.tv_sec = s->time_limit_s};
		s->limit_ev = evtimer_new(s->base, limit_cb, s);
		evtimer_add(s->limit_ev, &tv);
	}
out:
	if (p.script_fd >= 0)
		close(p.script_fd);
	free(p.cred.groups);
	env_free(p.env);
	free(p.argv);
	free(script);
	free(out);
	free(errf);
	free(in);
	return s->pid > 0 ? 0 : -1;
}

void tasks_signal(struct mstepd *s, int sig)
{
	if (s->pid <= 0 || s->reaped)
		return;
	log_info("job %u: delivering signal %d (%s)", s->job_id, sig,
		 strsignal(sig));
	if (killpg(s->pid, sig) < 0 && errno == ESRCH)
		kill(s->pid, sig);
}

/*
 * The line sbatch's users and their scripts look for in a job's error
 * file when it is killed:
 *   slurmstepd: error: *** JOB 12 ON n1 CANCELLED AT 2026-12-02T18:57:00
 *   DUE TO TIME LIMIT ***
 * (one line; without DUE TO for a plain cancel).  The file is opened with
 * the job user's file-system identity and never through a link, so that
 * root writes only where the user could.
 */
static void end_notice(struct mstepd *s, enum task_kill why, const char *reason)
{
	const char *due = why == TASK_KILL_TIMEOUT ? " DUE TO TIME LIMIT"
			  : reason && strcmp(reason, "NodeFail") == 0
				  ? " DUE TO NODE FAILURE"
				  : "";
	char when[32], *line;
	int fd;
	uid_t ouid = 0;
	gid_t ogid = 0;
	bool switched = geteuid() == 0 && s->job;

	if (!s->err_path)
		return;
	format_timestamp(mer_now(), when, sizeof(when));
	line = xasprintf("slurmstepd: error: *** JOB %u ON %s CANCELLED AT "
			 "%s%s ***\n",
			 s->job_id, s->node ? s->node : "?", when, due);
	if (switched) {
		ogid = (gid_t)setfsgid(s->job->group_id);
		ouid = (uid_t)setfsuid(s->job->user_id);
	}
	fd = open(s->err_path, O_WRONLY | O_APPEND | O_NOFOLLOW | O_CLOEXEC);
	if (switched) {
		setfsuid(ouid);
		setfsgid(ogid);
	}
	if (fd >= 0) {
		if (write_all(fd, line, strlen(line)) < 0)
			log_warn("job %u: writing the end notice to %s",
				 s->job_id, s->err_path);
		close(fd);
	}
	free(line);
}

void tasks_terminate(struct mstepd *s, enum task_kill why, const char *reason)
{
	struct timeval tv = {.tv_sec = s->launch ? s->launch->kill_wait : 0};

	if (s->pid <= 0 || s->reaped || s->kill != TASK_KILL_NONE)
		return;
	end_notice(s, why, reason);
	s->kill = why;
	s->kill_reason = xstrdup(reason);
	log_info("job %u: %s: SIGTERM, SIGKILL in %ld s", s->job_id, reason,
		 (long)tv.tv_sec);
	/* A stopped job would not act on TERM until continued. */
	killpg(s->pid, SIGCONT);
	killpg(s->pid, SIGTERM);
	s->kill_ev = evtimer_new(s->base, kill_cb, s);
	evtimer_add(s->kill_ev, &tv);
}

/* SIGKILL to each pid listed in a /proc/self/task/TID/children file (fd
 * taken); the count, or -1 when it cannot be read. */
static int kill_listed(int fd)
{
	char buf[4096], *p, *end;
	ssize_t len;
	int n = 0;

	len = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (len < 0)
		return -1;
	buf[len] = '\0';
	for (p = buf;; p = end) {
		long pid = strtol(p, &end, 10);

		if (end == p)
			break;
		if (pid > 1) {
			kill((pid_t)pid, SIGKILL);
			n++;
		}
	}
	/* a full buffer may have cut the list: the caller asks again */
	return n;
}

/* The kernel's list of our children (CONFIG_PROC_CHILDREN): a file per
 * thread.  -1 when the kernel has none. */
static int kill_children_listed(void)
{
	DIR *task = opendir("/proc/self/task");
	struct dirent *e;
	int n = 0, r, found = 0;

	if (!task)
		return -1;
	while ((e = readdir(task))) {
		char path[96];
		long tid;
		int fd;

		if (e->d_name[0] < '1' || e->d_name[0] > '9')
			continue;
		tid = strtol(e->d_name, NULL, 10);
		snprintf(path, sizeof(path), "/proc/self/task/%ld/children",
			 tid);
		if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0 ||
		    (r = kill_listed(fd)) < 0) {
			closedir(task);
			return -1;
		}
		n += r;
		found++;
	}
	closedir(task);
	return found ? n : -1;
}

int tasks_kill_children(void)
{
	pid_t self = getpid();
	siginfo_t si;
	DIR *proc;
	struct dirent *e;
	int n = 0;

	/* No child at all (the common end: the script and its processes
	 * gone): nothing to look for.  WNOWAIT leaves a zombie to reap. */
	memset(&si, 0, sizeof(si));
	if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) < 0 &&
	    errno == ECHILD)
		return 0;
	/* The kernel lists them: no walk over every process of the
	 * machine, which costs milliseconds on a busy node */
	if ((n = kill_children_listed()) >= 0)
		return n;
	n = 0;
	if (!(proc = opendir("/proc")))
		return 0;
	while ((e = readdir(proc))) {
		char path[64], buf[512], *rp;
		long ppid;
		pid_t pid;
		ssize_t len;
		int fd;

		if (e->d_name[0] < '1' || e->d_name[0] > '9')
			continue;
		pid = (pid_t)strtol(e->d_name, NULL, 10);
		snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
		if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
			continue;
		len = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (len <= 0)
			continue;
		buf[len] = '\0';
		/* "pid (comm) state ppid ...": comm may hold anything */
		if (!(rp = strrchr(buf, ')')) ||
		    sscanf(rp + 1, " %*c %ld", &ppid) != 1)
			continue;
		if ((pid_t)ppid == self) {
			kill(pid, SIGKILL);
			n++;
		}
	}
	closedir(proc);
	return n;
}

/* Kill what is left of the job: its process group, and every process
 * that was reparented to us.  Returns the number of children we have
 * left (0: the job is gone). */
static int kill_leftovers(struct mstepd *s)
{
	killpg(s->pid, SIGKILL);
	return tasks_kill_children();
}

static const char *signal_text(int sig)
{
	const char *d = strsignal(sig);
	return d ? d : "Unknown signal";
}

/* The end of the job, from how the script ended and why. */
static void write_end(struct mstepd *s)
{
	Meridian__JobEnd e = MERIDIAN__JOB_END__INIT;
	char reason[600] = "", *path;
	struct mer_error err;
	int st = s->status;

	e.job_id = s->job_id;
	e.start_time = s->start_time;
	e.end_time = mer_now();
	e.exit_code = WIFEXITED(st) ? WEXITSTATUS(st) : 0;
	e.term_signal = WIFSIGNALED(st) ? WTERMSIG(st) : 0;
	if (s->setup_error) {
		e.state = MERIDIAN__JOB_STATE__JOB_FAILED;
		snprintf(reason, sizeof(reason), "%s", s->setup_error);
	} else if (s->kill == TASK_KILL_TIMEOUT) {
		e.state = MERIDIAN__JOB_STATE__JOB_TIMEOUT;
		snprintf(reason, sizeof(reason), "%s", s->kill_reason);
	} else if (s->kill == TASK_KILL_CANCEL) {
		e.state = MERIDIAN__JOB_STATE__JOB_CANCELLED;
		snprintf(reason, sizeof(reason), "%s", s->kill_reason);
	} else if (WIFEXITED(st) && WEXITSTATUS(st) == 0) {
		e.state = MERIDIAN__JOB_STATE__JOB_COMPLETED;
	} else if (WIFSIGNALED(st)) {
		/* Slurm's words, which scripts and people grep for */
		e.state = MERIDIAN__JOB_STATE__JOB_FAILED;
		snprintf(reason, sizeof(reason), "RaisedSignal:%d(%s)",
			 WTERMSIG(st), signal_text(WTERMSIG(st)));
	} else {
		e.state = MERIDIAN__JOB_STATE__JOB_FAILED;
		snprintf(reason, sizeof(reason), "NonZeroExitCode");
	}
	e.reason = reason;
	if (mstepd_write_end(s, &e.base, &err) < 0)
		log_warnx("job %u: %s", s->job_id, err.text);
	else
		log_info("job %u: ended %s, exit code %d:%d%s%s", s->job_id,
			 protobuf_c_enum_descriptor_get_value(
				 &meridian__job_state__descriptor, e.state)
				 ->name,
			 e.exit_code, e.term_signal, *reason ? ", " : "",
			 reason);
	s->finished = true;
	/* stepd.sock goes after the end file: whoever finds no socket finds
	 * the end. */
	path = xasprintf("%s/%s", s->dir, SPOOL_SOCK_FILE);
	unlink(path);
	free(path);
	event_base_loopexit(s->base, NULL);
}

static bool reap_all(struct mstepd *s)
{
	int st;
	pid_t pid;

	while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
		if (pid == s->pid && !s->reaped) {
			s->status = st;
			s->reaped = true;
		}
	}
	return pid < 0 && errno == ECHILD; /* no child left */
}

static void drain_cb(evutil_socket_t fd, short what, void *arg)
{
	struct mstepd *s = arg;
	struct timeval tv = {0, DRAIN_TICK_MS * 1000};
	int left;

	if (reap_all(s)) {
		write_end(s);
		return;
	}
	left = kill_leftovers(s);
	if (mer_mono_ms() - s->drain_started_ms > DRAIN_MAX_MS) {
		log_warnx("job %u: %d processes still alive %d ms after "
			  "SIGKILL (stuck in the kernel?): ending the job "
			  "anyway",
			  s->job_id, left, DRAIN_MAX_MS);
		write_end(s);
		return;
	}
	evtimer_add(s->drain_ev, &tv);
}

/* The script exited: read why it could not start (if so), kill what is
 * left of the job, and end it once nothing is left. */
static void tasks_finish(struct mstepd *s)
{
	char msg[600];
	ssize_t n = read(s->status_fd, msg, sizeof(msg) - 1);

	if (n > 0) {
		msg[n] = '\0';
		s->setup_error = xstrdup(msg);
		log_warnx("job %u: %s", s->job_id, msg);
	}
	close(s->status_fd);
	s->status_fd = -1;
	if (s->limit_ev)
		evtimer_del(s->limit_ev);
	if (s->kill_ev)
		evtimer_del(s->kill_ev);
	s->drain_started_ms = mer_mono_ms();
	s->drain_ev = evtimer_new(s->base, drain_cb, s);
	kill_leftovers(s);
	drain_cb(-1, 0, s);
}

void tasks_reap(struct mstepd *s)
{
	bool was = s->reaped;

	reap_all(s);
	if (s->reaped && !was)
		tasks_finish(s);
}

void tasks_fail(struct mstepd *s, const char *reason)
{
	Meridian__JobEnd e = MERIDIAN__JOB_END__INIT;
	struct mer_error err;
	char *path;

	log_warnx("job %u: cannot start: %s", s->job_id, reason);
	e.job_id = s->job_id;
	e.state = MERIDIAN__JOB_STATE__JOB_FAILED;
	e.exit_code = 1;
	e.start_time = mer_now();
	e.end_time = e.start_time;
	e.reason = (char *)reason;
	if (mstepd_write_end(s, &e.base, &err) < 0)
		log_warnx("job %u: %s", s->job_id, err.text);
	path = xasprintf("%s/%s", s->dir, SPOOL_SOCK_FILE);
	unlink(path);
	free(path);
	s->finished = true;
	if (s->base)
		event_base_loopexit(s->base, NULL);
}
