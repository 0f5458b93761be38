/*
 * unit.c - what batch jobs (launch.c) and step shares (steps.c) have in
 * common: a unit is a directory in the spool, an mstepd started from it,
 * the connection to that mstepd, and the end it leaves behind.  What
 * differs between the two kinds (how an end that mstepd never wrote looks,
 * whom its end is reported to and how) is each kind's struct unit_ops.
 *
 * mnoded starts every mstepd with a double fork and setsid, so that mstepd
 * is nobody's child but init's and keeps running when mnoded dies.  The
 * only tie between them is a socket: fd 3 of mstepd is one end of a
 * socketpair mnoded keeps; a restarted mnoded connects to the directory's
 * stepd.sock instead.  EOF on that socket means mstepd exited, and by then
 * it has written the directory's end file.
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
#include "spool.h"

/* A directory whose launch file is younger than this and whose stepd.sock
 * does not answer may have an mstepd still starting up (mnoded died right
 * after forking it): keep trying that long before calling it dead. */
#define STEPD_START_GRACE_S 10

static const struct unit_ops *const unit_kinds[] = {
	[UNIT_JOB] = &launch_unit_ops,
	[UNIT_STEP] = &steps_unit_ops,
};

const char *unit_state_name(Meridian__JobState s)
{
	const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value(
		&meridian__job_state__descriptor, (int)s);
	return v ? v->name : "?";
}

static Meridian__JobState end_state(const struct unit *u)
{
	return u->kind == UNIT_JOB ? u->end.job->state : u->end.step->state;
}

/* ---- the list ------------------------------------------------------- */

/* A unit for job_id (step step_id of it for UNIT_STEP), in no list yet. */
static struct unit *unit_new(struct mnoded *d, enum unit_kind kind,
			     uint32_t job_id, uint32_t step_id)
{
	struct unit *u = xcalloc(1, sizeof(*u));

	u->d = d;
	u->kind = kind;
	u->ops = unit_kinds[kind];
	u->job_id = job_id;
	if (kind == UNIT_JOB) {
		snprintf(u->what, sizeof(u->what), "job %u", job_id);
		u->dir = xasprintf("%s/job.%u", d->spool, job_id);
	} else {
		u->step_id = step_id;
		snprintf(u->what, sizeof(u->what), "step %u.%u", job_id,
			 step_id);
		u->dir = xasprintf("%s/step.%u.%u", d->spool, job_id, step_id);
	}
	return u;
}

static void unit_free(struct unit *u)
{
	conn_destroy(u->stepd);
	if (u->end.msg)
		protobuf_c_message_free_unpacked(u->end.msg, NULL);
	free(u->dir);
	free(u);
}

static void unit_remove(struct unit *u)
{
	TAILQ_REMOVE(&u->d->units, u, link);
	unit_free(u);
}

struct unit *unit_find(struct mnoded *d, enum unit_kind kind, uint32_t job_id,
		       uint32_t step_id)
{
	struct unit *u;

	TAILQ_FOREACH(u, &d->units, link)
		if (u->kind == kind && u->job_id == job_id &&
		    (kind == UNIT_JOB || u->step_id == step_id))
			return u;
	return NULL;
}

void unit_free_all(struct mnoded *d)
{
	struct unit *u;

	while ((u = TAILQ_FIRST(&d->units)))
		unit_remove(u);
}

/* ---- the end -------------------------------------------------------- */

ProtobufCMessage *unit_end_record(const struct unit *u,
				  const ProtobufCMessage *end)
{
	struct mer_error err;
	ProtobufCMessage *copy;
	uint8_t *buf;
	size_t n;

	if (spool_write_end(u->dir, end, &err) < 0)
		log_warnx("%s: %s", u->what, err.text);
	n = protobuf_c_message_get_packed_size(end);
	buf = xmalloc(n ? n : 1);
	protobuf_c_message_pack(end, buf);
	copy = protobuf_c_message_unpack(end->descriptor, NULL, n, buf);
	free(buf);
	if (!copy)
		fatalx("cannot unpack a %s just packed: out of memory",
		       end->descriptor->short_name);
	return copy;
}

/*
 * mstepd died without an end: SIGKILL what is left of the process group
 * it recorded in dir/pgid.  Only processes of the recorded user in the
 * recorded process group are touched, so a process group id reused since
 * cannot make us kill a stranger.
 */
static void kill_orphans(const struct unit *u)
{
	pid_t pgid;
	uid_t uid;
	DIR *proc;
	struct dirent *e;
	int n = 0;

	if (spool_read_pgid(u->dir, &pgid, &uid, NULL) < 0)
		return;
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
		if (pgrp == (long)pgid && st.st_uid == uid &&
		    kill((pid_t)pid, SIGKILL) == 0)
			n++;
	}
	closedir(proc);
	if (n)
		log_info("%s: killed %d processes its mstepd left behind",
			 u->what, n);
}

/* mstepd is gone: pick up its end file (or make one up) and report it. */
static void unit_gone(struct unit *u, const char *why)
{
	if (u->end.msg)
		return;
	u->end.msg = u->ops->end_read(u);
	if (!u->end.msg) {
		log_warnx("%s: mstepd exited without writing %s/%s (%s)",
			  u->what, u->dir, SPOOL_END_FILE, why);
		kill_orphans(u);
		u->end.msg = u->ops->end_failed(u, "mstepd died");
	}
	u->ops->ended(u);
	/* perhaps the last of its job here: its TMPDIR may go */
	tmpdir_sweep(u->d);
}

/* ---- the connection to mstepd --------------------------------------- */

static void stepd_on_frame(struct conn *c, const struct frame_hdr *h,
			   const uint8_t *cred, const uint8_t *body, void *arg)
{
	struct unit *u = arg;

	if (h->flags & MER_FRAME_REPLY) {
		if (h->flags & MER_FRAME_ERROR)
			log_warnx("%s: mstepd refused %s", u->what,
				  msg_type_name(h->type));
		return;
	}
	/* mstepd sends no requests (yet): say so instead of hanging it. */
	conn_send_error(c, h->type, h->req_id, ENOSYS,
			"mnoded takes no requests from mstepd");
}

static void stepd_on_close(struct conn *c, const char *why, void *arg)
{
	struct unit *u = arg;

	log_debug("%s: connection to mstepd closed: %s", u->what, why);
	conn_destroy(c);
	u->stepd = NULL;
	unit_gone(u, why);
}

static struct conn *stepd_conn(struct unit *u, int fd)
{
	char peer[64];
	struct conn *c;

	snprintf(peer, sizeof(peer), "mstepd %s", u->what);
	c = conn_create(u->d->base, fd, peer, stepd_on_frame, stepd_on_close,
			u);
	if (!c)
		log_warnx("%s: cannot watch its mstepd", u->what);
	return c;
}

int unit_signal(struct unit *u, const Meridian__SignalJob *sj,
		struct mer_error *err)
{
	Meridian__SignalJob mine = *sj;

	if (!u->stepd) {
		log_debug("%s: signal for a %s that already ended", u->what,
			  u->ops->noun);
		return 0;
	}
	if (sj->cancel)
		log_info("%s: cancel%s%s", u->what, *sj->reason ? ": " : "",
			 sj->reason);
	else
		log_info("%s: signal %d (%s)", u->what, sj->signal,
			 strsignal(sj->signal));
	if (u->kind == UNIT_STEP) {
		/* name the step: its mstepd may check it */
		mine.has_step = true;
		mine.step_id = u->step_id;
	}
	if (sj->cancel)
		u->cancel_sent = true; /* one cancel is enough */
	if (conn_send_msg(u->stepd, MERIDIAN__MSG_TYPE__MSG_SIGNAL_JOB, 0,
			  ++u->d->step_req_id, NULL, 0, &mine.base) < 0) {
		int e = errno;
		mer_error_set(err, "%s: cannot reach its mstepd: %s", u->what,
			      strerror(e));
		errno = e;
		return -1;
	}
	return 0;
}

/* ---- starting mstepd ------------------------------------------------ */

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
 * Never returns.  When mstepd cannot be executed, u's end says why, so
 * the end is reported with the real cause.
 */
static void __attribute__((noreturn))
exec_mstepd(const struct unit *u, char *const argv[], int sock)
{
	sigset_t none;
	int devnull;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	for (int s = 1; s < NSIG; s++)
		signal(s, SIG_DFL); /* SIG_IGN (SIGPIPE) survives exec */
	if (sock != SPOOL_MNODED_FD) {
		if (dup2(sock, SPOOL_MNODED_FD) < 0)
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
	close_fds_from(SPOOL_MNODED_FD + 1);
	/* mstepd creates each of its files with the mode it must have (0600
	 * but the user's script); this makes any other owner-only too.  The
	 * job's processes set their own umask before they open the user's
	 * files. */
	umask(077);
	if (chdir("/") < 0)
		_exit(127);
	execv(argv[0], argv);
	{
		char reason[200];
		snprintf(reason, sizeof(reason),
			 "cannot execute MstepdPath=%s: %s", argv[0],
			 strerror(errno));
		protobuf_c_message_free_unpacked(u->ops->end_failed(u, reason),
						 NULL);
	}
	_exit(127);
}

/* Fail start_mstepd: err says what, the directory goes away, errno is
 * kept. */
static int start_failed(const struct unit *u, struct mer_error *err, int e,
			const char *what)
{
	if (what)
		mer_error_set(err, "%s: %s", what, strerror(e));
	remove_tree(u->dir);
	errno = e;
	return -1;
}

/*
 * Create u's directory (root, 0700, then chmod'ed to its kind's mode),
 * write its launch file and start `MSTEPD -s DIR -j JOB [-S STEP] -N NODE
 * [-v]` in its own session, reparented to init by a double fork, with fd
 * 3 one end of a socketpair and nothing else open.  Returns mnoded's end
 * of the socketpair (close-on-exec), or -1 with err and errno, the
 * directory removed.  A directory left over from an earlier mnoded is
 * removed first: the caller knows of no mstepd in it.  The middle process
 * is reaped by unit_reap.
 */
static int start_mstepd(const struct unit *u, const uint8_t *launch, size_t len,
			struct mer_error *err)
{
	struct mnoded *d = u->d;
	char jbuf[16], sbuf[16], *argv[12];
	int argc = 0, sp[2], rc;
	pid_t pid;

	snprintf(jbuf, sizeof(jbuf), "%u", u->job_id);
	snprintf(sbuf, sizeof(sbuf), "%u", u->step_id);
	argv[argc++] = d->conf->mstepd_path;
	argv[argc++] = "-s";
	argv[argc++] = u->dir;
	argv[argc++] = "-j";
	argv[argc++] = jbuf;
	if (u->kind == UNIT_STEP) {
		argv[argc++] = "-S";
		argv[argc++] = sbuf;
	}
	argv[argc++] = "-N";
	argv[argc++] = (char *)d->name;
	if (d->log_level >= LOG_LVL_DEBUG)
		argv[argc++] = "-v";
	argv[argc] = NULL;

	rc = mkdir(u->dir, 0700);
	if (rc < 0 && errno == EEXIST) {
		/* Not in our lists, so no mstepd for it: a leftover. */
		remove_tree(u->dir);
		rc = mkdir(u->dir, 0700);
	}
	if (rc < 0) {
		int e = errno;
		mer_error_set(err, "cannot create %s: %s", u->dir, strerror(e));
		errno = e;
		return -1;
	}
	/* chmod, not mkdir's mode: the umask must not decide it */
	if (u->ops->dir_mode != 0700 && chmod(u->dir, u->ops->dir_mode) < 0) {
		int e = errno;
		mer_error_set(err, "cannot chmod %s: %s", u->dir, strerror(e));
		return start_failed(u, err, e, NULL);
	}
	if (spool_write_launch(u->dir, launch, len, err) < 0)
		return start_failed(u, err, errno, NULL);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0)
		return start_failed(u, err, errno, "socketpair");

	pid = fork();
	if (pid < 0) {
		int e = errno;
		close(sp[0]);
		close(sp[1]);
		return start_failed(u, err, e, "fork");
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
		exec_mstepd(u, argv, sp[1]);
	}
	/* Reaping the middle process happens on SIGCHLD (unit_reap). */
	close(sp[1]);
	return sp[0];
}

struct unit *unit_start(struct mnoded *d, enum unit_kind kind, uint32_t job_id,
			uint32_t step_id, const uint8_t *launch, size_t len,
			struct mer_error *err)
{
	struct unit *u = unit_new(d, kind, job_id, step_id);
	int fd = start_mstepd(u, launch, len, err);

	if (fd < 0) {
		int e = errno;
		unit_free(u);
		errno = e;
		return NULL;
	}
	TAILQ_INSERT_TAIL(&d->units, u, link);
	u->stepd = stepd_conn(u, fd);
	if (!u->stepd)
		unit_gone(u, "cannot watch mstepd");
	return u;
}

void unit_reap(struct mnoded *d)
{
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
		if (!tmpdir_reaped(d, pid, status) &&
		    (!WIFEXITED(status) || WEXITSTATUS(status) != 0))
			log_warnx("launcher process %ld failed (status 0x%x)",
				  (long)pid, status);
}

/* ---- once mctld has the end ----------------------------------------- */

/*
 * mstepd.log is root's, but what it says comes partly from the job (a
 * rank's PMI requests, a peer's frames): however mstepd bounds its own
 * lines, mnoded reads only the end of the file, UNIT_ECHO_LOG_MAX bytes
 * from the start of a line, where an end's why is.  Reading it whole
 * would let a job make mnoded hold and log any amount.
 */
#define UNIT_ECHO_LOG_MAX (64u << 10)

void unit_echo_log(const char *dir, const char *what, bool ok)
{
	char *path = spool_path(dir, SPOOL_LOG_FILE), *data, *line, *nl;
	char *save = NULL;
	struct stat st;
	off_t from = 0;
	size_t len = 0, want = UNIT_ECHO_LOG_MAX;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);

	free(path);
	if (fd < 0)
		return;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return;
	}
	if (st.st_size > (off_t)UNIT_ECHO_LOG_MAX) {
		/* and the byte before: is the first one a line's start? */
		from = st.st_size - (off_t)UNIT_ECHO_LOG_MAX - 1;
		want++;
	}
	data = xmalloc(want + 1);
	while (len < want) {
		ssize_t n =
			pread(fd, data + len, want - len, from + (off_t)len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	data[len] = '\0';
	line = data;
	if (from > 0) {
		size_t shown;

		/* the first line read is (at most) a line's tail: start at
		 * the next one */
		nl = memchr(data, '\n', len);
		line = nl ? nl + 1 : data + len;
		shown = len - (size_t)(line - data);
		if (ok)
			log_debug("%s: %s is %lld bytes: only its last %zu "
				  "follow",
				  what, SPOOL_LOG_FILE, (long long)st.st_size,
				  shown);
		else
			log_info("%s: %s is %lld bytes: only its last %zu "
				 "follow",
				 what, SPOOL_LOG_FILE, (long long)st.st_size,
				 shown);
	}
	for (line = strtok_r(line, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		if (ok)
			log_debug("%s: %s", what, line);
		else
			log_info("%s: %s", what, line);
	}
	free(data);
}

void unit_end_acked(struct unit *u)
{
	if (!u || !u->end.msg)
		return;
	unit_echo_log(u->dir, u->what,
		      end_state(u) == MERIDIAN__JOB_STATE__JOB_COMPLETED);
	if (remove_tree(u->dir) < 0)
		log_warn("%s: cannot remove %s", u->what, u->dir);
	log_debug("%s: end acknowledged by mctld, %s removed", u->what, u->dir);
	unit_remove(u);
}

/* ---- start-up -------------------------------------------------------- */

/* Connect to dir/stepd.sock; while dir/launch is young enough for its
 * mstepd to be still starting, wait and retry (blocking: start-up only).
 * The fd, or -1 with err. */
static int stepd_reconnect(const char *dir, struct mer_error *err)
{
	char *path = spool_path(dir, SPOOL_SOCK_FILE);
	time_t started;
	int fd;

	for (;;) {
		fd = unix_connect(path, err);
		if (fd >= 0 || spool_launch_mtime(dir, &started, NULL) < 0 ||
		    started + STEPD_START_GRACE_S <= time(NULL))
			break;
		/* Blocking here is fine: we have not connected to mctld yet
		 * and nothing else is waiting on this loop. */
		usleep(200 * 1000);
	}
	free(path);
	return fd;
}

/* Find out what became of u's directory, left by an earlier mnoded: ended
 * (end file), running (stepd.sock answers) or lost (mstepd died without
 * an end: recorded as FAILED "mstepd died"). */
static void unit_scan_one(struct mnoded *d, enum unit_kind kind,
			  uint32_t job_id, uint32_t step_id)
{
	struct unit *u = unit_new(d, kind, job_id, step_id);
	struct mer_error err = {""};
	time_t started;
	int fd;

	TAILQ_INSERT_TAIL(&d->units, u, link);
	if ((u->end.msg = u->ops->end_read(u))) {
		log_info("%s: ended while mnoded was away (%s)", u->what,
			 unit_state_name(end_state(u)));
		return;
	}
	if (spool_launch_mtime(u->dir, &started, NULL) < 0) {
		/* mnoded died between mkdir and writing the launch: nothing
		 * ran, and mctld never had an Ack, so it will launch again. */
		log_info("%s: %s has no launch file: removing it", u->what,
			 u->dir);
		remove_tree(u->dir);
		unit_remove(u);
		return;
	}
	fd = stepd_reconnect(u->dir, &err);
	if (fd >= 0 && (u->stepd = stepd_conn(u, fd))) {
		log_info("%s: still running, reconnected to its mstepd",
			 u->what);
		return;
	}
	log_warnx("%s: no end file and no mstepd (%s): recording it as "
		  "FAILED",
		  u->what, err.text);
	unit_gone(u, "mstepd died");
}

/* A decimal uint32 that is the whole of s up to stop (stop '\0': to the
 * end), with no sign, blank or leading '+'. */
static bool parse_id(const char *s, char stop, uint32_t *id, const char **rest)
{
	unsigned long v;
	char *end;

	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end != stop || v > UINT32_MAX)
		return false;
	*id = (uint32_t)v;
	*rest = end;
	return true;
}

int unit_scan_spool(struct mnoded *d)
{
	DIR *dir = opendir(d->spool);
	struct dirent *e;
	struct unit *u;

	if (!dir)
		return -1;
	while ((e = readdir(dir))) {
		const char *n = e->d_name, *rest;
		uint32_t id, step_id;

		if (strncmp(n, "job.", 4) == 0) {
			if (!parse_id(n + 4, '\0', &id, &rest) || id == 0) {
				log_warnx("%s/%s: not a job directory, "
					  "ignored",
					  d->spool, n);
				continue;
			}
			if (!unit_find(d, UNIT_JOB, id, 0))
				unit_scan_one(d, UNIT_JOB, id, 0);
		} else if (strncmp(n, "step.", 5) == 0) {
			if (!parse_id(n + 5, '.', &id, &rest) || id == 0 ||
			    !parse_id(rest + 1, '\0', &step_id, &rest)) {
				log_warnx("%s/%s: not a step directory "
					  "(step.JOB.STEP), ignored",
					  d->spool, n);
				continue;
			}
			if (!unit_find(d, UNIT_STEP, id, step_id))
				unit_scan_one(d, UNIT_STEP, id, step_id);
		}
	}
	closedir(dir);
	/* A batch job that ended while we were away could not cancel the
	 * steps it left running here. */
	TAILQ_FOREACH(u, &d->units, link)
		if (u->kind == UNIT_JOB && u->end.msg)
			steps_cancel_job(d, u->job_id,
					 "the job's batch script "
					 "ended");
	return 0;
}
