/*
 * spool.c - what batch jobs (launch.c) and step shares (steps.c) have in
 * common: a directory in the spool, an mstepd started from it, and what
 * that mstepd leaves behind.
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
#include <time.h>
#include <unistd.h>

#include "mnoded.h"
#define MSTEPD_CONTRACT_ONLY /* only the job directory names */
#include "../mstepd/mstepd.h"

/* A directory whose launch file is younger than this and whose stepd.sock
 * does not answer may have an mstepd still starting up (mnoded died right
 * after forking it): keep trying that long before calling it dead. */
#define STEPD_START_GRACE_S 10

char *spool_file(const char *dir, const char *name)
{
	return xasprintf("%s/%s", dir, name);
}

const char *spool_state_name(Meridian__JobState s)
{
	const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value(
		&meridian__job_state__descriptor, (int)s);
	return v ? v->name : "?";
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
 * Never returns.
 */
static void __attribute__((noreturn))
exec_mstepd(char *const argv[], int sock, const char *dir,
	    spool_exec_fail_fn exec_fail, const void *exec_fail_arg)
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
		exec_fail(dir, exec_fail_arg, reason);
	}
	_exit(127);
}

/*
 * The launch file, written whole before mstepd starts, 0600 whatever the
 * umask (it holds the job's environment and the step's io_key).  No fsync
 * (it would stall the loop on a busy disk): the file matters only while
 * the job's processes live, and a machine crash ends those anyway; mctld
 * then learns from the next registration that the node lost the job.
 */
static int write_launch(const char *path, const uint8_t *body, size_t len)
{
	int fd = open(path,
		      O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		      0600);
	int rc = 0;

	if (fd < 0)
		return -1;
	if (fchmod(fd, 0600) < 0 || write_all(fd, body, len) < 0)
		rc = -1;
	if (close(fd) < 0)
		rc = -1;
	return rc;
}

/* Fail spool_start: err says what, dir goes away, errno is kept. */
static int start_failed(const char *dir, struct mer_error *err, int e,
			const char *what, const char *path)
{
	mer_error_set(err, "%s%s%s: %s", what, path ? " " : "",
		      path ? path : "", strerror(e));
	remove_tree(dir);
	errno = e;
	return -1;
}

int spool_start(const char *dir, mode_t mode, const uint8_t *launch,
		size_t len, char *const argv[], spool_exec_fail_fn exec_fail,
		const void *exec_fail_arg, struct mer_error *err)
{
	char *path;
	int sp[2], rc;
	pid_t pid;

	rc = mkdir(dir, 0700);
	if (rc < 0 && errno == EEXIST) {
		/* Not in our lists, so no mstepd for it: a leftover. */
		remove_tree(dir);
		rc = mkdir(dir, 0700);
	}
	if (rc < 0) {
		int e = errno;
		mer_error_set(err, "cannot create %s: %s", dir, strerror(e));
		errno = e;
		return -1;
	}
	/* chmod, not mkdir's mode: the umask must not decide it */
	if (mode != 0700 && chmod(dir, mode) < 0)
		return start_failed(dir, err, errno, "cannot chmod", dir);
	path = spool_file(dir, MSTEPD_LAUNCH_FILE);
	if (write_launch(path, launch, len) < 0) {
		rc = start_failed(dir, err, errno, "cannot write", path);
		free(path);
		return rc;
	}
	free(path);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0)
		return start_failed(dir, err, errno, "socketpair", NULL);

	pid = fork();
	if (pid < 0) {
		int e = errno;
		close(sp[0]);
		close(sp[1]);
		return start_failed(dir, err, e, "fork", NULL);
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
		exec_mstepd(argv, sp[1], dir, exec_fail, exec_fail_arg);
	}
	/* Reaping the middle process happens on SIGCHLD (launch_reap). */
	close(sp[1]);
	return sp[0];
}

/* ---- what an mstepd leaves ------------------------------------------ */

bool spool_has_launch(const char *dir)
{
	char *path = spool_file(dir, MSTEPD_LAUNCH_FILE);
	bool yes = access(path, F_OK) == 0;

	free(path);
	return yes;
}

static bool launch_is_recent(const char *dir)
{
	char *path = spool_file(dir, MSTEPD_LAUNCH_FILE);
	struct stat st;
	bool recent;

	recent = stat(path, &st) == 0 &&
		 st.st_mtime + STEPD_START_GRACE_S > time(NULL);
	free(path);
	return recent;
}

int spool_stepd_reconnect(const char *dir, struct mer_error *err)
{
	char *path = spool_file(dir, MSTEPD_SOCK_FILE);
	int fd;

	for (;;) {
		fd = unix_connect(path, err);
		if (fd >= 0 || !launch_is_recent(dir))
			break;
		/* Blocking here is fine: we have not connected to mctld yet
		 * and nothing else is waiting on this loop. */
		usleep(200 * 1000);
	}
	free(path);
	return fd;
}

ProtobufCMessage *spool_end_load(const char *dir,
				 const ProtobufCMessageDescriptor *desc)
{
	char *path = spool_file(dir, MSTEPD_END_FILE), *data;
	ProtobufCMessage *m;
	size_t n;

	if (read_file(path, &data, &n) < 0) {
		free(path);
		return NULL;
	}
	free(path);
	m = protobuf_c_message_unpack(desc, NULL, n, (const uint8_t *)data);
	free(data);
	if (!m)
		errno = EBADMSG;
	return m;
}

int spool_end_write(const char *dir, const ProtobufCMessage *m)
{
	char *path = spool_file(dir, MSTEPD_END_FILE);
	size_t n = protobuf_c_message_get_packed_size(m);
	uint8_t *buf = xmalloc(n ? n : 1);
	int rc, e;

	protobuf_c_message_pack(m, buf);
	rc = write_file_atomic(path, buf, n, 0600);
	e = errno;
	free(buf);
	free(path);
	errno = e;
	return rc;
}

/*
 * Only processes of the recorded user in the recorded process group are
 * touched, so a process group id reused since cannot make us kill a
 * stranger.
 */
void spool_kill_orphans(const char *dir, const char *what)
{
	char *path = spool_file(dir, MSTEPD_PGID_FILE), *data;
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
		log_info("%s: killed %d processes its mstepd left behind", what,
			 n);
}

/*
 * mstepd.log is root's, but what it says comes partly from the job (a
 * rank's PMI requests, a peer's frames): however mstepd bounds its own
 * lines, mnoded reads only the end of the file, SPOOL_ECHO_LOG_MAX bytes
 * from the start of a line, where an end's why is.  Reading it whole
 * would let a job make mnoded hold and log any amount.
 */
#define SPOOL_ECHO_LOG_MAX (64u << 10)

void spool_echo_log(const char *dir, const char *what, bool ok)
{
	char *path = spool_file(dir, MSTEPD_LOG_FILE), *data, *line, *nl;
	char *save = NULL;
	struct stat st;
	off_t from = 0;
	size_t len = 0, want = SPOOL_ECHO_LOG_MAX;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);

	free(path);
	if (fd < 0)
		return;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return;
	}
	if (st.st_size > (off_t)SPOOL_ECHO_LOG_MAX) {
		/* and the byte before: is the first one a line's start? */
		from = st.st_size - (off_t)SPOOL_ECHO_LOG_MAX - 1;
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
				  what, MSTEPD_LOG_FILE, (long long)st.st_size,
				  shown);
		else
			log_info("%s: %s is %lld bytes: only its last %zu "
				 "follow",
				 what, MSTEPD_LOG_FILE, (long long)st.st_size,
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

/* ---- start-up -------------------------------------------------------- */

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

int spool_scan(struct mnoded *d)
{
	DIR *dir = opendir(d->spool);
	struct dirent *e;
	struct job *j;

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
			if (!launch_find(d, id))
				launch_scan_one(d, id);
		} else if (strncmp(n, "step.", 5) == 0) {
			if (!parse_id(n + 5, '.', &id, &rest) || id == 0 ||
			    !parse_id(rest + 1, '\0', &step_id, &rest)) {
				log_warnx("%s/%s: not a step directory "
					  "(step.JOB.STEP), ignored",
					  d->spool, n);
				continue;
			}
			if (!steps_find(d, id, step_id))
				steps_scan_one(d, id, step_id);
		}
	}
	closedir(dir);
	/* A batch job that ended while we were away could not cancel the
	 * steps it left running here. */
	TAILQ_FOREACH(j, &d->jobs, link)
		if (j->end)
			steps_cancel_job(d, j->id, "the job's batch script "
						   "ended");
	return 0;
}
