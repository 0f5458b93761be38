/*
 * launch.c - batch jobs in the spool: start their mstepd, follow it, report
 * its end.
 *
 * mnoded starts each job's mstepd with a double fork and setsid, so that
 * mstepd is nobody's child but init's and keeps running when mnoded dies.
 * The only tie between them is a socket: fd 3 of mstepd is one end of a
 * socketpair mnoded keeps; a restarted mnoded connects to the job's
 * stepd.sock instead.  EOF on that socket means mstepd exited, and by then
 * it has written the job's end file.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "mnoded.h"
#define MSTEPD_CONTRACT_ONLY /* only the job directory names */
#include "../mstepd/mstepd.h"

/* A job whose launch file is younger than this and whose stepd.sock does
 * not answer may have an mstepd still starting up (mnoded died right after
 * forking it): keep trying that long before calling it dead. */
#define STEPD_START_GRACE_S 10

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

static char *job_file(const struct job *j, const char *name)
{
	return xasprintf("%s/%s", j->dir, name);
}

/* The job's end as mstepd wrote it; NULL when there is none (ENOENT) or it
 * does not decode (EBADMSG). */
static Meridian__JobEnd *end_load(const struct job *j)
{
	char *path = job_file(j, MSTEPD_END_FILE), *data;
	Meridian__JobEnd *e;
	size_t n;

	if (read_file(path, &data, &n) < 0) {
		free(path);
		return NULL;
	}
	free(path);
	e = meridian__job_end__unpack(NULL, n, (const uint8_t *)data);
	free(data);
	if (!e || e->job_id != j->id) {
		if (e)
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
	char *path = xasprintf("%s/%s", dir, MSTEPD_END_FILE);
	size_t n;
	uint8_t *buf;
	int rc;

	e.job_id = id;
	e.state = MERIDIAN__JOB_STATE__JOB_FAILED;
	e.exit_code = 0;
	e.term_signal = SIGKILL;
	e.end_time = mer_now();
	e.reason = (char *)reason;
	n = meridian__job_end__get_packed_size(&e);
	buf = xmalloc(n);
	meridian__job_end__pack(&e, buf);
	rc = write_file_atomic(path, buf, n, 0600);
	free(buf);
	free(path);
	return rc;
}

/* Copy mstepd's log into ours before the job directory goes away. */
static void echo_step_log(const struct job *j)
{
	char *path = job_file(j, MSTEPD_LOG_FILE), *data, *line, *save = NULL;
	bool ok = j->end &&
		  j->end->state == MERIDIAN__JOB_STATE__JOB_COMPLETED;

	if (read_file(path, &data, NULL) < 0) {
		free(path);
		return;
	}
	for (line = strtok_r(data, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		if (ok)
			log_debug("job %u: %s", j->id, line);
		else
			log_info("job %u: %s", j->id, line);
	}
	free(data);
	free(path);
}

static const char *state_name(Meridian__JobState s)
{
	const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value(
		&meridian__job_state__descriptor, (int)s);
	return v ? v->name : "?";
}

/*
 * mstepd died without ending the job: kill what is left of the job's
 * process group (the script itself dies with mstepd, its children may
 * not).  Only processes of the job's user in that group are touched, so a
 * process group id reused since cannot make us kill a stranger.
 */
static void kill_orphaned_job(const struct job *j)
{
	char *path = job_file(j, MSTEPD_PGID_FILE), *data;
	long pgid = 0;
	unsigned uid = 0;
	DIR *proc;
	struct dirent *e;
	int n = 0;

	if (read_file(path, &data, NULL) < 0) {
		free(path);
		return;
	}
	free(path);
	if (sscanf(data, "%ld %u", &pgid, &uid) != 2 || pgid <= 1) {
		free(data);
		return;
	}
	free(data);
	if (!(proc = opendir("/proc")))
		return;
	while ((e = readdir(proc))) {
		char p[64], buf[512], *rp;
		long pgrp, pid;
		struct stat st;
		ssize_t len;
		int fd;

		if (e->d_name[0] < '1' || e->d_name[0] > '9')
			continue;
		pid = strtol(e->d_name, NULL, 10);
		snprintf(p, sizeof(p), "/proc/%ld/stat", pid);
		if ((fd = open(p, O_RDONLY | O_CLOEXEC)) < 0)
			continue;
		len = read(fd, buf, sizeof(buf) - 1);
		if (len <= 0 || fstat(fd, &st) < 0) {
			close(fd);
			continue;
		}
		close(fd);
		buf[len] = '\0';
		/* "pid (comm) state ppid pgrp ...": comm may hold anything */
		if (!(rp = strrchr(buf, ')')) ||
		    sscanf(rp + 1, " %*c %*d %ld", &pgrp) != 1)
			continue;
		if (pgrp == pgid && st.st_uid == uid &&
		    kill((pid_t)pid, SIGKILL) == 0)
			n++;
	}
	closedir(proc);
	if (n)
		log_info("job %u: killed %d processes its mstepd left behind",
			 j->id, n);
}

/* mstepd is gone: pick up its end file and tell mctld. */
static void job_step_gone(struct job *j, const char *why)
{
	struct mnoded *d = j->d;

	if (j->end)
		return;
	j->end = end_load(j);
	if (!j->end) {
		log_warnx("job %u: mstepd exited without writing %s/%s (%s)",
			  j->id, j->dir, MSTEPD_END_FILE, why);
		kill_orphaned_job(j);
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
		 state_name(j->end->state), j->end->exit_code,
		 j->end->term_signal, *j->end->reason ? ", " : "",
		 j->end->reason);
	ctl_job_ended(d->ctl, j);
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

static int stepd_connect(const struct job *j, struct mer_error *err)
{
	char *path = job_file(j, MSTEPD_SOCK_FILE);
	int fd = unix_connect(path, err);

	free(path);
	return fd;
}

static bool launch_is_recent(const struct job *j)
{
	char *path = job_file(j, MSTEPD_LAUNCH_FILE);
	struct stat st;
	bool recent;

	recent = stat(path, &st) == 0 &&
		 st.st_mtime + STEPD_START_GRACE_S > time(NULL);
	free(path);
	return recent;
}

static bool has_launch_file(const struct job *j)
{
	char *path = job_file(j, MSTEPD_LAUNCH_FILE);
	bool yes = access(path, F_OK) == 0;

	free(path);
	return yes;
}

/* Find out what became of a job left in the spool by an earlier mnoded. */
static void scan_one(struct mnoded *d, uint32_t id)
{
	struct job *j = job_new(d, id);
	struct mer_error err = { "" };
	int fd;

	if ((j->end = end_load(j))) {
		log_info("job %u: ended while mnoded was away (%s)", id,
			 state_name(j->end->state));
		return;
	}
	if (!has_launch_file(j)) {
		/* mnoded died between mkdir and writing the launch: nothing
		 * ran, and mctld never had an Ack, so it will launch again. */
		log_info("job %u: %s has no launch file: removing it", id,
			 j->dir);
		remove_tree(j->dir);
		job_free(d, j);
		return;
	}
	for (;;) {
		fd = stepd_connect(j, &err);
		if (fd >= 0 || !launch_is_recent(j))
			break;
		/* Blocking here is fine: we have not connected to mctld yet
		 * and nothing else is waiting on this loop. */
		usleep(200 * 1000);
	}
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

int launch_scan_spool(struct mnoded *d)
{
	DIR *dir = opendir(d->spool);
	struct dirent *e;

	if (!dir)
		return -1;
	while ((e = readdir(dir))) {
		char *end;
		unsigned long id;

		if (strncmp(e->d_name, "job.", 4) != 0)
			continue;
		errno = 0;
		id = strtoul(e->d_name + 4, &end, 10);
		if (errno || *end || id == 0 || id > UINT32_MAX ||
		    e->d_name[4] == '\0') {
			log_warnx("%s/%s: not a job directory, ignored",
				  d->spool, e->d_name);
			continue;
		}
		if (!launch_find(d, (uint32_t)id))
			scan_one(d, (uint32_t)id);
	}
	closedir(dir);
	return 0;
}

static void close_fds_from(int first)
{
#ifdef SYS_close_range
	if (syscall(SYS_close_range, (unsigned)first, ~0U, 0) == 0)
		return;
#endif
	for (int fd = first; fd < 65536; fd++)
		close(fd);
}

/*
 * The last process before mstepd: fd 3 is our end of the socketpair, 0-2
 * are /dev/null, nothing else stays open, signals are back to default.
 * Never returns.
 */
static void __attribute__((noreturn))
exec_mstepd(const char *path, char *const argv[], int sock, const char *dir,
	    uint32_t id)
{
	sigset_t none;
	int devnull;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	for (int s = 1; s < NSIG; s++)
		signal(s, SIG_DFL); /* SIG_IGN (SIGPIPE) survives exec */
	if (sock != MSTEPD_MNODED_FD) {
		if (dup2(sock, MSTEPD_MNODED_FD) < 0)
			_exit(127);
	} else {
		fcntl(sock, F_SETFD, 0);
	}
	devnull = open("/dev/null", O_RDWR);
	if (devnull >= 0) {
		dup2(devnull, 0);
		dup2(devnull, 1);
		dup2(devnull, 2);
	}
	close_fds_from(MSTEPD_MNODED_FD + 1);
	umask(022);
	if (chdir("/") < 0)
		_exit(127);
	execv(path, argv);
	{
		char reason[200];
		snprintf(reason, sizeof(reason),
			 "cannot execute MstepdPath=%s: %s", path,
			 strerror(errno));
		end_write_failed(dir, id, reason);
	}
	_exit(127);
}

/*
 * The launch file, written whole before mstepd starts.  No fsync (it would
 * stall the loop on a busy disk): the file matters only while the job's
 * processes live, and a machine crash ends those anyway; mctld then learns
 * from the next registration that the node lost the job.
 */
static int write_launch(const char *path, const uint8_t *body, size_t len)
{
	int fd = open(path,
		      O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		      0600);
	int rc = 0;

	if (fd < 0)
		return -1;
	if (write_all(fd, body, len) < 0)
		rc = -1;
	if (close(fd) < 0)
		rc = -1;
	return rc;
}

int launch_job(struct mnoded *d, const Meridian__LaunchJob *lj,
	       const uint8_t *body, size_t len, struct mer_error *err)
{
	uint32_t id = lj->job->job_id;
	char *dir, *launch, idbuf[16];
	char *argv[10];
	int sp[2], argc = 0, rc;
	struct job *j;
	pid_t pid;

	if (launch_find(d, id)) {
		log_debug("job %u: LAUNCH_JOB again, already here", id);
		return 0;
	}
	dir = xasprintf("%s/job.%u", d->spool, id);
	rc = mkdir(dir, 0700);
	if (rc < 0 && errno == EEXIST) {
		/* Not in our list, so no mstepd for it: a leftover. */
		remove_tree(dir);
		rc = mkdir(dir, 0700);
	}
	if (rc < 0) {
		int e = errno;
		mer_error_set(err, "cannot create %s: %s", dir, strerror(e));
		free(dir);
		errno = e;
		return -1;
	}
	launch = xasprintf("%s/%s", dir, MSTEPD_LAUNCH_FILE);
	if (write_launch(launch, body, len) < 0) {
		int e = errno;
		mer_error_set(err, "cannot write %s: %s", launch, strerror(e));
		remove_tree(dir);
		free(launch);
		free(dir);
		errno = e;
		return -1;
	}
	free(launch);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0) {
		int e = errno;
		mer_error_set(err, "socketpair: %s", strerror(e));
		remove_tree(dir);
		free(dir);
		errno = e;
		return -1;
	}

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

	pid = fork();
	if (pid < 0) {
		int e = errno;
		mer_error_set(err, "fork: %s", strerror(e));
		close(sp[0]);
		close(sp[1]);
		remove_tree(dir);
		free(dir);
		errno = e;
		return -1;
	}
	if (pid == 0) {
		/* In between: a new session, then fork once more and leave,
		 * so that mstepd is reparented to init and is no member of
		 * mnoded's session or process group. */
		setsid();
		pid = fork();
		if (pid != 0)
			_exit(pid < 0 ? 1 : 0);
		close(sp[0]);
		exec_mstepd(d->conf->mstepd_path, argv, sp[1], dir, id);
	}
	close(sp[1]);
	free(dir);
	j = job_new(d, id);
	/* Reaping the middle process happens on SIGCHLD (launch_reap). */
	j->step = step_conn(d, j, sp[0]);
	if (!j->step)
		job_step_gone(j, "cannot watch mstepd");
	log_info("job %u: started mstepd (%s)", id, j->dir);
	return 0;
}

int launch_signal(struct mnoded *d, const Meridian__SignalJob *sj,
		  struct mer_error *err)
{
	struct job *j = launch_find(d, sj->job_id);

	if (!j) {
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

	if (!j || !j->end)
		return;
	echo_step_log(j);
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
