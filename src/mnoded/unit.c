/*
 * unit.c - what batch jobs (launch.c) and step shares (steps.c) have in
 * common: a unit is a directory in the spool, an mstepd started from it,
 * the connection to that mstepd, and the end it leaves behind.  What
 * differs between the two kinds (how an end that mstepd never wrote looks,
 * whom its end is reported to and how) is each kind's struct unit_ops.
 *
 * mnoded starts every mstepd in a session of its own (posix_spawn with
 * setsid), so that it keeps running when mnoded dies: it is reparented
 * then, and mnoded's signals and terminal are not its.  The only tie
 * between them is a socket: fd 3 of mstepd is one end of a socketpair
 * mnoded keeps; a restarted mnoded connects to the directory's stepd.sock
 * instead, where mstepd listens once its first mnoded is gone.  EOF on
 * that socket means mstepd exited, and by then it has written the
 * directory's end file.  Its log is mnoded's: fd 2.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
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

static void unit_sync_end(struct unit *u)
{
	struct mer_error err;

	if (!u->end.msg || u->end_synced)
		return;
	if (spool_sync_end(u->dir, &err) < 0)
		log_warnx("%s: %s", u->what, err.text);
	u->end_synced = true; /* a failure is not retried at every turn */
}

void unit_sync_ends(struct mnoded *d)
{
	struct unit *u;

	TAILQ_FOREACH(u, &d->units, link)
		unit_sync_end(u);
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
	/* not on its way to mctld: the end file is all there is */
	if (!u->end_in_flight)
		unit_sync_end(u);
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

/* ---- spare directories ---------------------------------------------- */

/*
 * A unit's directory outlives it as SPOOL/spare.<n>, its launch, pgid and
 * end emptied and kept, and the next unit takes it: on ext4 without a
 * journal each inode made scans past every one freed in the last half
 * minute, which at hundreds of jobs a second was most of a node's CPU.
 * The script is removed all the same: it is the user's, and a process of
 * theirs that outlived its job could hold it open and read the next
 * job's.  Only a directory whose mstepd we started is kept, and handed
 * on only once that mstepd was reaped.
 */

static char *spare_path(const struct mnoded *d, uint32_t n)
{
	return xasprintf("%s/spare.%u", d->spool, n);
}

/* Make dir a spare: launch, pgid and end emptied, script and stepd.sock
 * removed.  -1 (errno) when it holds anything else, or a link, or
 * cannot be emptied: not a directory to hand on. */
static int spare_scrub(const char *dir)
{
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	int rc = 0, fd;
	struct dirent *e;
	DIR *dp;

	if (dfd < 0)
		return -1;
	if (!(dp = fdopendir(dfd))) {
		close(dfd);
		return -1;
	}
	while (rc == 0 && (e = readdir(dp))) {
		const char *n = e->d_name;

		if (strcmp(n, ".") == 0 || strcmp(n, "..") == 0)
			continue;
		if (strcmp(n, SPOOL_LAUNCH_FILE) == 0 ||
		    strcmp(n, SPOOL_PGID_FILE) == 0 ||
		    strcmp(n, SPOOL_END_FILE) == 0) {
			fd = openat(dfd, n,
				    O_WRONLY | O_TRUNC | O_NOFOLLOW |
					    O_NONBLOCK | O_CLOEXEC);
			if (fd < 0)
				rc = -1;
			else
				close(fd);
		} else if (strcmp(n, SPOOL_SCRIPT_FILE) == 0 ||
			   strcmp(n, SPOOL_SOCK_FILE) == 0) {
			if (unlinkat(dfd, n, 0) < 0 && errno != ENOENT)
				rc = -1;
		} else {
			errno = EEXIST;
			rc = -1;
		}
	}
	closedir(dp);
	return rc;
}

/* u is over and acknowledged: keep its directory as a spare, emptied
 * now or, while its mstepd is not reaped yet (it closed its end of the
 * socket on its way out, and the ack can come first), once it is
 * (spare_reaped); until then no unit takes it.  false when it is not to
 * be kept (the caller removes it). */
static bool spare_keep(struct unit *u)
{
	struct mnoded *d = u->d;
	char *spare;
	bool kept;

	if (!u->ours || d->nspares >= UNIT_SPARES_MAX ||
	    (u->pid == 0 && spare_scrub(u->dir) < 0))
		return false;
	spare = spare_path(d, d->spare_next);
	kept = rename(u->dir, spare) == 0;
	if (kept)
		d->spares[d->nspares++] =
			(struct spare){.n = d->spare_next++, .pid = u->pid};
	else
		log_warn("%s: cannot rename %s to %s", u->what, u->dir, spare);
	free(spare);
	return kept;
}

/* Drop d->spares[i] from the list. */
static void spare_drop(struct mnoded *d, unsigned i)
{
	memmove(&d->spares[i], &d->spares[i + 1],
		(d->nspares - i - 1) * sizeof(d->spares[0]));
	d->nspares--;
}

/* pid was reaped: the spare its mstepd left, if any, is emptied and may
 * be taken now (or removed, when it cannot be emptied).  Whether it was
 * one's. */
static bool spare_reaped(struct mnoded *d, pid_t pid)
{
	char *spare;

	for (unsigned i = 0; i < d->nspares; i++) {
		if (d->spares[i].pid != pid)
			continue;
		spare = spare_path(d, d->spares[i].n);
		if (spare_scrub(spare) == 0) {
			d->spares[i].pid = 0;
		} else {
			spare_drop(d, i);
			if (remove_tree(spare) < 0)
				log_warn("cannot remove %s", spare);
		}
		free(spare);
		return true;
	}
	return false;
}

/* Give u a spare directory with launch written in it, in its kind's
 * mode, named u->dir: the last one kept and emptied.  0; -1 when there
 * is none or it would not do (it is removed then, and the caller makes a
 * new one). */
static int spare_take(const struct unit *u, const uint8_t *launch, size_t len)
{
	struct mnoded *d = u->d;
	struct mer_error err;
	unsigned i = d->nspares;
	char *spare;
	int rc;

	while (i > 0 && d->spares[i - 1].pid != 0)
		i--;
	if (i == 0)
		return -1;
	spare = spare_path(d, d->spares[i - 1].n);
	spare_drop(d, i - 1);
	rc = chmod(spare, u->ops->dir_mode);
	if (rc == 0 && (rc = spool_write_launch(spare, launch, len, &err)) < 0)
		log_warnx("%s: %s", u->what, err.text);
	if (rc == 0 && rename(spare, u->dir) < 0) {
		/* Not in our lists, so no mstepd in it: a leftover. */
		if (errno == EEXIST || errno == ENOTEMPTY)
			remove_tree(u->dir);
		rc = rename(spare, u->dir);
	}
	if (rc < 0) {
		log_warn("%s: cannot use %s for %s", u->what, spare, u->dir);
		remove_tree(spare);
	}
	free(spare);
	return rc;
}

/* At start-up: keep the spare directory SPOOL/name, numbered n, or
 * remove it. */
static void spare_found(struct mnoded *d, const char *name, uint32_t n)
{
	char *path = xasprintf("%s/%s", d->spool, name);

	if (n >= d->spare_next)
		d->spare_next = n + 1;
	if (d->nspares < UNIT_SPARES_MAX && spare_scrub(path) == 0)
		d->spares[d->nspares++] = (struct spare){.n = n, .pid = 0};
	else if (remove_tree(path) < 0)
		log_warn("cannot remove %s", path);
	free(path);
}

/* ---- starting mstepd ------------------------------------------------ */

/*
 * Start argv (mstepd) with fd 3 the socket, 2 our log, 0 and 1 /dev/null,
 * nothing else open, signals as at boot, umask 077, in /, and in a
 * session of its own.  posix_spawn: glibc's clones with CLONE_VM|
 * CLONE_VFORK, so none of mnoded's memory is copied for it (a fork was a
 * measured share of the node's CPU at hundreds of jobs a second).  0 with
 * *pid, or an errno (the exec's own when it could not run).
 */
static int spawn_mstepd(char *const argv[], int sock, pid_t *pid)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, all;
	mode_t old;
	int rc, logfd = log_fileno();

	sigemptyset(&none);
	sigfillset(&all);
	if ((rc = posix_spawnattr_init(&attr)) != 0)
		return rc;
	if ((rc = posix_spawn_file_actions_init(&fa)) != 0) {
		posix_spawnattr_destroy(&attr);
		return rc;
	}
	/* SIG_IGN (SIGPIPE) would survive the exec: SETSIGDEF for all */
	rc = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID |
						     POSIX_SPAWN_SETSIGMASK |
						     POSIX_SPAWN_SETSIGDEF);
	if (!rc)
		rc = posix_spawnattr_setsigmask(&attr, &none);
	if (!rc)
		rc = posix_spawnattr_setsigdefault(&attr, &all);
	/* 2 first: the log's descriptor may be 3, which the socket takes */
	if (!rc && logfd != STDERR_FILENO)
		rc = posix_spawn_file_actions_adddup2(&fa, logfd,
						      STDERR_FILENO);
	if (!rc)
		rc = posix_spawn_file_actions_adddup2(&fa, sock,
						      SPOOL_MNODED_FD);
	if (!rc)
		rc = posix_spawn_file_actions_addopen(&fa, STDIN_FILENO,
						      "/dev/null", O_RDWR, 0);
	if (!rc)
		rc = posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO,
						      "/dev/null", O_RDWR, 0);
	if (!rc)
		rc = posix_spawn_file_actions_addclosefrom_np(
			&fa, SPOOL_MNODED_FD + 1);
	if (!rc)
		rc = posix_spawn_file_actions_addchdir_np(&fa, "/");
	if (!rc) {
		/* mstepd creates each of its files with the mode it must
		 * have (0600 but the user's script); this makes any other
		 * owner-only too.  The job's processes set their own umask
		 * before they open the user's files.  The loop is ours
		 * alone (no threads), so the umask is ours to lend. */
		old = umask(077);
		rc = posix_spawn(pid, argv[0], &fa, &attr, argv, environ);
		umask(old);
	}
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	return rc;
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

/* Make u's directory anew (root, 0700, then chmod'ed to its kind's
 * mode) with its launch file: 0, or -1 with err and errno, nothing left
 * behind.  A directory left over from an earlier mnoded is removed
 * first. */
static int dir_create(const struct unit *u, const uint8_t *launch, size_t len,
		      struct mer_error *err)
{
	int rc = mkdir(u->dir, 0700);

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
	return 0;
}

/*
 * Give u a directory, a spare (spare_take) or a new one (dir_create),
 * with its launch file, and start `MSTEPD -s DIR -j JOB [-S STEP] -N
 * NODE -L LEVEL` (spawn_mstepd), its pid in *pid.  Returns mnoded's end
 * of the socketpair (close-on-exec), or -1 with err and errno, the
 * directory removed.  When mstepd cannot be executed, the end file says
 * why and the socket is returned all the same (its EOF reports that end;
 * *pid is 0).  mstepd is reaped by unit_reap.
 */
static int start_mstepd(const struct unit *u, const uint8_t *launch, size_t len,
			pid_t *pid, struct mer_error *err)
{
	struct mnoded *d = u->d;
	char jbuf[16], sbuf[16], *argv[16];
	int argc = 0, sp[2], rc;

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
	argv[argc++] = "-L";
	argv[argc++] = (char *)log_level_name(d->log_level);
	argv[argc] = NULL;

	if (spare_take(u, launch, len) < 0 &&
	    dir_create(u, launch, len, err) < 0)
		return -1;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0)
		return start_failed(u, err, errno, "socketpair");

	if ((rc = spawn_mstepd(argv, sp[1], pid)) != 0) {
		char reason[200];

		/* Reported as any other end: the socket's EOF finds it. */
		snprintf(reason, sizeof(reason),
			 "cannot execute MstepdPath=%s: %s", argv[0],
			 strerror(rc));
		log_warnx("%s: %s", u->what, reason);
		protobuf_c_message_free_unpacked(u->ops->end_failed(u, reason),
						 NULL);
		*pid = 0;
	}
	/* mstepd is reaped on SIGCHLD (unit_reap) */
	close(sp[1]);
	return sp[0];
}

struct unit *unit_start(struct mnoded *d, enum unit_kind kind, uint32_t job_id,
			uint32_t step_id, const uint8_t *launch, size_t len,
			struct mer_error *err)
{
	struct unit *u = unit_new(d, kind, job_id, step_id);
	int fd = start_mstepd(u, launch, len, &u->pid, err);

	if (fd < 0) {
		int e = errno;
		unit_free(u);
		errno = e;
		return NULL;
	}
	u->ours = true;
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

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		struct unit *u;

		if (tmpdir_reaped(d, pid, status))
			continue;
		TAILQ_FOREACH(u, &d->units, link)
			if (u->pid == pid)
				break;
		if (u) {
			/* its end comes by the socket; this is only how the
			 * process went */
			u->pid = 0;
			if (WIFSIGNALED(status))
				log_warnx("%s: mstepd killed by signal %d",
					  u->what, WTERMSIG(status));
			else
				log_debug("%s: mstepd exited %d", u->what,
					  WEXITSTATUS(status));
		} else if (spare_reaped(d, pid)) {
			/* an mstepd whose end was acknowledged first */
			log_debug(
				"mstepd %ld reaped, its directory a spare now",
				(long)pid);
		} else {
			/* an mstepd whose unit went first */
			log_debug("child process %ld ended (status 0x%x)",
				  (long)pid, status);
		}
	}
}

/* ---- once mctld has the end ----------------------------------------- */

void unit_end_acked(struct unit *u)
{
	if (!u || !u->end.msg)
		return;
	if (spare_keep(u))
		log_debug("%s: end acknowledged by mctld, %s kept as a spare",
			  u->what, u->dir);
	else if (remove_tree(u->dir) < 0)
		log_warn("%s: cannot remove %s", u->what, u->dir);
	else
		log_debug("%s: end acknowledged by mctld, %s removed", u->what,
			  u->dir);
	unit_remove(u);
}

/* ---- start-up -------------------------------------------------------- */

/* Does an mstepd live in dir?  It holds dir/launch flock()ed while it
 * does (mstepd's main.c). */
static bool stepd_alive(const char *dir)
{
	char *path = spool_path(dir, SPOOL_LAUNCH_FILE);
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	bool held = false;

	free(path);
	if (fd < 0)
		return false;
	if (flock(fd, LOCK_EX | LOCK_NB) < 0)
		held = errno == EWOULDBLOCK;
	close(fd); /* and our lock with it */
	return held;
}

/* Connect to dir/stepd.sock.  An mstepd listens there only once the
 * mnoded that started it is gone, so it may not be listening yet: while
 * it lives, or while dir/launch is young enough for it to be still
 * starting, wait and retry, for STEPD_START_GRACE_S at most (blocking:
 * start-up only).  The fd, or -1 with err. */
static int stepd_reconnect(const char *dir, struct mer_error *err)
{
	char *path = spool_path(dir, SPOOL_SOCK_FILE);
	time_t started, give_up = time(NULL) + STEPD_START_GRACE_S;
	int fd;

	for (;;) {
		fd = unix_connect(path, err);
		if (fd >= 0 || time(NULL) >= give_up)
			break;
		if (!stepd_alive(dir) &&
		    (spool_launch_mtime(dir, &started, NULL) < 0 ||
		     started + STEPD_START_GRACE_S <= time(NULL)))
			break;
		/* Blocking here is fine: we have not connected to mctld yet
		 * and nothing else is waiting on this loop. */
		usleep(50 * 1000);
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
		unit_sync_end(u);
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
		} else if (strncmp(n, "spare.", 6) == 0) {
			if (!parse_id(n + 6, '\0', &id, &rest)) {
				log_warnx("%s/%s: not a spare directory "
					  "(spare.N), ignored",
					  d->spool, n);
				continue;
			}
			spare_found(d, n, id);
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
