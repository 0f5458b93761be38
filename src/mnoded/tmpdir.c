/*
 * tmpdir.c - each job's TMPDIR on this node, as Slurm's TmpFS= gives it.
 *
 * A directory under TmpFS= (default /tmp) made before the job's first
 * mstepd here starts (its batch script, or its first step share on a node
 * without one), owned by the job's user, mode 0700, handed to mstepd in
 * the launch (LaunchJob/LaunchStep.tmpdir), which exports it as TMPDIR to
 * the script and to every rank; removed once the job has ended here.
 *
 * Its name is mkdtemp's, TmpFS/meridian.JOBID.XXXXXX: in a world-writable
 * /tmp nobody can take the name before us, and the mnoded of several
 * nodes (or clusters) on one machine never share one.  TmpFS is not ours,
 * so it is never scanned: a restarted mnoded finds its directories in
 * SPOOL/tmpdirs (root's, 0600), a log of one line per change, each one
 * write(): "+ JOBID RUN PATH" once a directory is made, before the job
 * gets it, and "- JOBID RUN" once it is gone (RUN is
 * JobRecord.restart_count: a requeued job's next run starts with a fresh
 * directory).  One file held open for appending, not one per job: a
 * TMPDIR costs the spool no inode.  It is emptied whenever no directory
 * is left, rewritten whole once it is mostly dead lines, and read back at
 * start-up, where a torn or strange line is ignored and the
 * SPOOL/tmpdir.JOBID.RUN records of an older mnoded are taken in.
 *
 * When has the job ended here?  On its batch host, when the batch script
 * ended (its steps here are cancelled then), or when mctld says so at
 * registration (kill_jobs).  The job's other nodes are told nothing when
 * it ends, and the directory must outlive each step for the next one, as
 * Slurm's does; so while none of the job's units runs here, ctl.c asks
 * mctld at each heartbeat whether this run still runs on this node
 * (tmpdir_unsure, tmpdir_job_state).  A directory goes only once no unit
 * of its job runs here.
 *
 * Removal is root's work on a tree the job's user made, so it trusts
 * nothing in it: every step is relative to a directory it holds open
 * (openat, unlinkat, O_NOFOLLOW), a symbolic link is removed and never
 * followed, a name that changed hands between two looks is left alone, a
 * file system mounted inside is not entered; a directory deeper than
 * RM_DEPTH is moved up to the top and emptied in a later pass, so neither
 * the stack nor the descriptors limit the depth.  It runs in a child
 * process: a big tree must not stall the loop; an empty one (most jobs
 * leave it so) is one rmdir, in the loop.  The child writes nothing: the
 * loop writes the "-" line once it exited 0; a tree it could not remove
 * stays live in the log, for the next start to try again.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mnoded.h"

/* Levels entered below a TMPDIR before deeper directories are moved up:
 * one descriptor and one directory stream per level. */
#define RM_DEPTH 32
/* Passes over one tree at most (each removes RM_DEPTH levels or more). */
#define RM_PASSES_MAX (1u << 20)

/* SPOOL/tmpdirs: the most read back at start-up. */
#define LOG_READ_MAX (16u << 20)
/* Dead lines (of directories gone) the log may hold, and 4 times the live
 * ones, before it is rewritten. */
#define LOG_DEAD_MAX 256

struct tmpdir {
	TAILQ_ENTRY(tmpdir) link;
	uint32_t job_id;
	uint32_t run; /* JobRecord.restart_count of the run it is for */
	char *path;
	bool over; /* that run has ended on this node */
	/* in removing: the child removing it (reaped by unit_reap, see
	 * tmpdir_reaped); 0: given up until mnoded starts again */
	pid_t pid;
};

TAILQ_HEAD(tmpdir_list, tmpdir);

struct tmpdirs {
	char *base;		     /* TmpFS= with %n expanded */
	struct tmpdir_list list;     /* the jobs' directories */
	struct tmpdir_list removing; /* on their way out, no "-" line yet */
	size_t live;		     /* in both lists: "+" lines without "-" */
	char *log_path;		     /* SPOOL/tmpdirs */
	int log_fd;		     /* open to append; -1: at the next line */
	off_t log_size;		     /* its bytes, whole lines */
	size_t log_lines;
	size_t log_retry; /* log_lines when a failed rewrite is tried again */
};

/* ---- removing a tree -------------------------------------------------- */

struct rm_pass {
	int top;	    /* the TMPDIR itself */
	dev_t dev;	    /* its file system: nothing else is entered */
	unsigned *moved;    /* names given to directories moved up */
	unsigned long done; /* names removed or moved this pass */
	unsigned long seen; /* entries found in the top this pass */
};

static void rm_name(struct rm_pass *p, int fd, const char *name, int flags)
{
	if (unlinkat(fd, name, flags) == 0)
		p->done++;
}

/* Move fd/name up into the top under a name of its own, for a later
 * pass (or this one, should the top's listing still show it). */
static void rm_move_up(struct rm_pass *p, int fd, const char *name)
{
	char to[48];

	for (int tries = 0; tries < 64; tries++) {
		snprintf(to, sizeof(to), ".meridian-rm.%u", (*p->moved)++);
		if (renameat2(fd, name, p->top, to, RENAME_NOREPLACE) == 0) {
			p->done++;
			return;
		}
		if (errno != EEXIST)
			return;
	}
}

/* Remove what directory fd holds, depth levels below the top; closes fd.
 * What cannot be removed stays, for the next pass to find. */
static void rm_dir(struct rm_pass *p, int fd, int depth)
{
	DIR *dir = fdopendir(fd);
	struct dirent *e;

	if (!dir) {
		close(fd);
		return;
	}
	while ((e = readdir(dir))) {
		const char *n = e->d_name;
		struct stat st, now;
		int sub;

		if (!strcmp(n, ".") || !strcmp(n, ".."))
			continue;
		if (depth == 0)
			p->seen++;
		if (fstatat(dirfd(dir), n, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (!S_ISDIR(st.st_mode)) {
			rm_name(p, dirfd(dir), n, 0); /* a link itself */
			continue;
		}
		if (st.st_dev != p->dev)
			continue; /* a mount: never entered */
		if (depth >= RM_DEPTH) {
			rm_move_up(p, dirfd(dir), n);
			continue;
		}
		sub = openat(dirfd(dir), n,
			     O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (sub < 0)
			continue;
		/* still the directory looked at, not one put there since */
		if (fstat(sub, &now) < 0 || now.st_dev != st.st_dev ||
		    now.st_ino != st.st_ino) {
			close(sub);
			continue;
		}
		rm_dir(p, sub, depth + 1);
		rm_name(p, dirfd(dir), n, AT_REMOVEDIR);
	}
	closedir(dir);
}

/* Empty directory top: passes until one finds it empty (0), or one
 * removes nothing (-1: something cannot go). */
static int rm_contents(int top, dev_t dev)
{
	unsigned moved = 0;

	for (unsigned pass = 0; pass < RM_PASSES_MAX; pass++) {
		struct rm_pass p = {.top = top, .dev = dev, .moved = &moved};
		/* a fresh open: each pass lists the top from its start */
		int fd = openat(top, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

		if (fd < 0)
			return -1;
		rm_dir(&p, fd, 0);
		if (!p.seen)
			return 0;
		if (!p.done) {
			errno = ENOTEMPTY;
			return -1;
		}
	}
	errno = ENOTEMPTY;
	return -1;
}

int tmpdir_remove_tree(const char *path)
{
	char *parent = xstrdup(path), *slash = strrchr(parent, '/');
	const char *name;
	struct stat st;
	int pfd, fd, rc = -1;

	if (!slash || !slash[1] || !strcmp(slash + 1, ".") ||
	    !strcmp(slash + 1, "..")) {
		free(parent);
		errno = EINVAL;
		return -1;
	}
	name = slash + 1;
	*slash = '\0';
	pfd = open(*parent ? parent : "/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (pfd < 0) {
		rc = errno == ENOENT ? 0 : -1;
		goto out;
	}
	fd = openat(pfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			rc = 0;
		else if (errno == ELOOP || errno == ENOTDIR)
			/* the user put a link or a file in its place: that
			 * name goes, what it points to stays */
			rc = unlinkat(pfd, name, 0) == 0 || errno == ENOENT
				     ? 0
				     : -1;
		goto out;
	}
	if (fstat(fd, &st) == 0 && rm_contents(fd, st.st_dev) == 0)
		rc = unlinkat(pfd, name, AT_REMOVEDIR) == 0 || errno == ENOENT
			     ? 0
			     : -1;
	close(fd);
out:
	if (pfd >= 0) {
		int e = errno;
		close(pfd);
		errno = e;
	}
	free(parent);
	return rc;
}

/* ---- the list and its log --------------------------------------------- */

static char *record_path(const struct mnoded *d, uint32_t job_id, uint32_t run)
{
	return xasprintf("%s/tmpdir.%u.%u", d->spool, job_id, run);
}

static void tmpdir_free(struct tmpdir *t)
{
	free(t->path);
	free(t);
}

static void tmpdir_add(struct tmpdirs *ts, uint32_t job_id, uint32_t run,
		       char *path)
{
	struct tmpdir *t = xcalloc(1, sizeof(*t));

	t->job_id = job_id;
	t->run = run;
	t->path = path;
	TAILQ_INSERT_TAIL(&ts->list, t, link);
	ts->live++;
}

/* Open the log to append (the descriptor held, if any, closed first). */
static int log_open(struct tmpdirs *ts)
{
	struct stat st;
	int fd, e;

	if (ts->log_fd >= 0)
		close(ts->log_fd);
	ts->log_fd = -1;
	fd = open(ts->log_path,
		  O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0) {
		e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	ts->log_fd = fd;
	ts->log_size = st.st_size;
	return 0;
}

/* One line, len bytes with its newline, in one write(): whole or not at
 * all. */
static int log_append(struct tmpdirs *ts, const char *line, size_t len)
{
	ssize_t n;

	if (ts->log_fd < 0 && log_open(ts) < 0)
		return -1;
	n = write(ts->log_fd, line, len);
	if (n == (ssize_t)len) {
		ts->log_size += n;
		ts->log_lines++;
		return 0;
	}
	if (n >= 0) {
		/* the torn line would run into the next one */
		if (ftruncate(ts->log_fd, ts->log_size) < 0)
			log_warn("cannot cut a torn line off %s", ts->log_path);
		errno = ENOSPC;
	}
	return -1;
}

/* Write the log as the lists say, atomically, and open it again.  The
 * removing first: where both hold a JOB RUN, theirs is the older "+"
 * (a "-" ends the older). */
static int log_rewrite(struct tmpdirs *ts)
{
	struct strbuf b = {0};
	struct tmpdir *t;
	int rc;

	TAILQ_FOREACH(t, &ts->removing, link)
		strbuf_addf(&b, "+ %u %u %s\n", t->job_id, t->run, t->path);
	TAILQ_FOREACH(t, &ts->list, link)
		strbuf_addf(&b, "+ %u %u %s\n", t->job_id, t->run, t->path);
	rc = write_file_atomic(ts->log_path, b.s ? b.s : "", b.len, 0600);
	strbuf_free(&b);
	if (rc < 0)
		return -1;
	ts->log_lines = ts->live;
	ts->log_retry = 0;
	/* the descriptor held is of the file replaced */
	if (log_open(ts) < 0)
		log_warn("cannot open %s", ts->log_path);
	return 0;
}

/* After a "-": keep the log small.  Emptied once nothing is live (most
 * of the time on a node between jobs), rewritten once it is mostly
 * dead lines. */
static void log_tidy(struct tmpdirs *ts)
{
	size_t dead = ts->log_lines > ts->live ? ts->log_lines - ts->live : 0;

	if (!ts->live) {
		if ((ts->log_lines || ts->log_size) &&
		    (ts->log_fd >= 0 || log_open(ts) == 0) &&
		    ftruncate(ts->log_fd, 0) == 0) {
			ts->log_lines = 0;
			ts->log_size = 0;
		}
		return;
	}
	if (dead <= LOG_DEAD_MAX || dead <= 4 * ts->live ||
	    ts->log_lines < ts->log_retry)
		return;
	if (log_rewrite(ts) < 0) {
		log_warn("cannot rewrite %s", ts->log_path);
		ts->log_retry = ts->log_lines + LOG_DEAD_MAX;
	}
}

/* t's directory is gone: its "-" line; t (in no list) is freed. */
static void tmpdir_gone(struct tmpdirs *ts, struct tmpdir *t)
{
	char line[32];
	int len = snprintf(line, sizeof(line), "- %u %u\n", t->job_id, t->run);
	bool twin = false;
	struct tmpdir *o;

	ts->live--;
	/* Another directory of that JOB RUN is live (a unit of the run came
	 * while this one was being removed): the "-" would end the older of
	 * the two, not necessarily this one, so the log is rewritten. */
	TAILQ_FOREACH(o, &ts->removing, link)
		twin = twin || (o->job_id == t->job_id && o->run == t->run);
	TAILQ_FOREACH(o, &ts->list, link)
		twin = twin || (o->job_id == t->job_id && o->run == t->run);
	if (!(twin && log_rewrite(ts) == 0) &&
	    log_append(ts, line, (size_t)len) < 0)
		/* the next start finds nothing to remove */
		log_warn("job %u: cannot note in %s that TMPDIR %s is gone",
			 t->job_id, ts->log_path, t->path);
	tmpdir_free(t);
	log_tidy(ts);
}

/* Does a unit of the job (its batch script, a step share) run here? */
static bool job_runs_here(const struct mnoded *d, uint32_t job_id)
{
	const struct unit *u;

	TAILQ_FOREACH(u, &d->units, link)
		if (u->job_id == job_id && !u->end.msg)
			return true;
	return false;
}

/* Remove t's directory, t out of the list: here when it is empty (or
 * gone), else in a child, t in removing until it is reaped (or, should
 * that fail, until mnoded stops). */
static void remove_start(struct mnoded *d, struct tmpdir *t)
{
	struct tmpdirs *ts = d->tmpdirs;
	pid_t pid;
	int gone;

	/* Most jobs leave it empty: rmdir needs no child (and follows no
	 * link: a name swapped for one fails ENOTDIR, a full one ENOTEMPTY,
	 * and goes to the child) */
	if ((gone = rmdir(t->path)) == 0 || errno == ENOENT) {
		log_debug("job %u: TMPDIR %s %s", t->job_id, t->path,
			  gone == 0 ? "removed (empty)" : "gone already");
		tmpdir_gone(ts, t);
		return;
	}
	pid = fork();
	if (pid == 0) {
		/* nothing of mnoded's: a signal ends it, no descriptor of
		 * the loop's (mctld's, mstepds', the log) stays open in it */
		for (int sig = 1; sig < NSIG; sig++)
			signal(sig, SIG_DFL);
#ifdef SYS_close_range
		syscall(SYS_close_range, 3u, ~0U, 0);
#endif
		_exit(tmpdir_remove_tree(t->path) < 0 ? 1 : 0);
	}
	if (pid < 0) {
		log_warn("job %u: cannot fork to remove TMPDIR %s; removing "
			 "it here",
			 t->job_id, t->path);
		if (tmpdir_remove_tree(t->path) == 0) {
			tmpdir_gone(ts, t);
			return;
		}
		log_warn("job %u: cannot remove TMPDIR %s: what is left stays "
			 "until mnoded starts again",
			 t->job_id, t->path);
		pid = 0;
	}
	t->pid = pid;
	TAILQ_INSERT_TAIL(&ts->removing, t, link);
}

void tmpdir_sweep(struct mnoded *d)
{
	struct tmpdir *t, *next;

	if (!d || !d->tmpdirs)
		return;
	for (t = TAILQ_FIRST(&d->tmpdirs->list); t; t = next) {
		next = TAILQ_NEXT(t, link);
		if (!t->over || job_runs_here(d, t->job_id))
			continue;
		TAILQ_REMOVE(&d->tmpdirs->list, t, link);
		log_debug("job %u: ended here, removing its TMPDIR %s",
			  t->job_id, t->path);
		remove_start(d, t);
	}
}

void tmpdir_job_over(struct mnoded *d, uint32_t job_id)
{
	struct tmpdir *t;

	if (!d || !d->tmpdirs)
		return;
	TAILQ_FOREACH(t, &d->tmpdirs->list, link)
		if (t->job_id == job_id)
			t->over = true;
	tmpdir_sweep(d);
}

bool tmpdir_reaped(struct mnoded *d, pid_t pid, int status)
{
	struct tmpdirs *ts;
	struct tmpdir *t;

	if (!d || !(ts = d->tmpdirs) || pid <= 0)
		return false;
	TAILQ_FOREACH(t, &ts->removing, link) {
		if (t->pid != pid)
			continue;
		if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
			log_debug("job %u: TMPDIR %s removed", t->job_id,
				  t->path);
			TAILQ_REMOVE(&ts->removing, t, link);
			tmpdir_gone(ts, t);
		} else {
			log_warnx("job %u: could not remove all of TMPDIR %s "
				  "(a file system mounted in it?): what is "
				  "left stays until mnoded starts again",
				  t->job_id, t->path);
			t->pid = 0; /* live in the log, for the next start */
		}
		return true;
	}
	return false;
}

/* ---- making one --------------------------------------------------------- */

/* mkdtemp under base, then given to the job's user: the directory
 * opened, not the name, which another may have taken over by then. */
static char *make_dir(const char *base, const Meridian__JobRecord *job,
		      struct mer_error *err)
{
	char *path = xasprintf("%s/meridian.%u.XXXXXX", base, job->job_id);
	struct stat st;
	int fd, e;

	if (!mkdtemp(path)) {
		e = errno;
		mer_error_set(err,
			      "cannot make job %u's TMPDIR in TmpFS=%s: %s",
			      job->job_id, base, strerror(e));
		free(path);
		errno = e;
		return NULL;
	}
	fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0 || st.st_uid != geteuid() ||
	    /* as another user mnoded's jobs run as that user (mstepd
	     * switches only as root), in a directory that is theirs */
	    (geteuid() == 0 && fchown(fd, job->user_id, job->group_id) < 0) ||
	    fchmod(fd, 0700) < 0) {
		e = errno ? errno : EPERM;
		mer_error_set(err,
			      "cannot give job %u's TMPDIR %s to uid %u: %s",
			      job->job_id, path, job->user_id, strerror(e));
		if (fd >= 0)
			close(fd);
		tmpdir_remove_tree(path);
		free(path);
		errno = e;
		return NULL;
	}
	close(fd);
	return path;
}

const char *tmpdir_for(struct mnoded *d, const Meridian__JobRecord *job,
		       struct mer_error *err)
{
	struct tmpdirs *ts = d->tmpdirs;
	struct tmpdir *t;
	bool earlier = false;
	char *path, *line;
	int rc, e;

	if (!ts)
		return "";
	TAILQ_FOREACH(t, &ts->list, link) {
		if (t->job_id != job->job_id)
			continue;
		if (t->run == job->restart_count)
			return t->path;
		t->over = true; /* an earlier run's, left here */
		earlier = true;
	}
	if (earlier)
		tmpdir_sweep(d);
	if (!(path = make_dir(ts->base, job, err)))
		return NULL;
	line = xasprintf("+ %u %u %s\n", job->job_id, job->restart_count, path);
	rc = log_append(ts, line, strlen(line));
	e = errno;
	free(line);
	if (rc < 0) {
		/* not handed out unless a restart would find it */
		tmpdir_remove_tree(path);
		mer_error_set(err, "cannot append to %s: %s", ts->log_path,
			      strerror(e));
		free(path);
		errno = e;
		return NULL;
	}
	log_info("job %u: TMPDIR %s (uid %u)", job->job_id, path, job->user_id);
	tmpdir_add(ts, job->job_id, job->restart_count, path);
	return path;
}

/* ---- asking mctld -------------------------------------------------------- */

uint32_t *tmpdir_unsure(struct mnoded *d, size_t *n)
{
	uint32_t *ids = NULL;
	struct tmpdir *t;
	size_t k = 0, cap = 0;

	*n = 0;
	if (!d->tmpdirs)
		return NULL;
	TAILQ_FOREACH(t, &d->tmpdirs->list, link) {
		bool dup = false;

		if (t->over || job_runs_here(d, t->job_id))
			continue;
		for (size_t i = 0; i < k && !dup; i++)
			dup = ids[i] == t->job_id;
		if (dup)
			continue;
		if (k == cap) {
			cap = cap ? cap * 2 : 8;
			ids = xrealloc(ids, cap * sizeof(*ids));
		}
		ids[k++] = t->job_id;
	}
	*n = k;
	return ids;
}

/* Does this run of the job still hold this node? */
static bool still_here(const struct mnoded *d, const struct tmpdir *t,
		       const Meridian__JobRecord *rec)
{
	if (!rec || rec->state != MERIDIAN__JOB_STATE__JOB_RUNNING ||
	    rec->restart_count != t->run)
		return false;
	for (size_t i = 0; i < rec->n_alloc; i++)
		if (rec->alloc[i]->node &&
		    !strcmp(rec->alloc[i]->node, d->name))
			return true;
	return false;
}

void tmpdir_job_state(struct mnoded *d, uint32_t job_id,
		      const Meridian__JobRecord *rec)
{
	struct tmpdir *t;

	if (!d->tmpdirs)
		return;
	TAILQ_FOREACH(t, &d->tmpdirs->list, link)
		if (t->job_id == job_id && !still_here(d, t, rec))
			t->over = true;
	tmpdir_sweep(d);
}

/* ---- start-up and end ------------------------------------------------- */

int tmpdir_init(struct mnoded *d, struct mer_error *err)
{
	char *base = conf_expand_node(d->conf->tmp_fs, d->name);
	struct tmpdirs *ts;
	struct stat st;
	int e = 0;

	if (base[0] != '/') {
		mer_error_set(err,
			      "TmpFS=%s: expected an absolute path (where "
			      "mnoded makes each job's TMPDIR)",
			      base);
		free(base);
		errno = EINVAL;
		return -1;
	}
	if (strchr(base, '\n')) {
		mer_error_set(err,
			      "TmpFS= holds a newline: expected a path without "
			      "one (each TMPDIR is a line in SPOOL/tmpdirs)");
		free(base);
		errno = EINVAL;
		return -1;
	}
	if (stat(base, &st) < 0)
		e = errno;
	else if (!S_ISDIR(st.st_mode))
		e = ENOTDIR;
	if (e) {
		mer_error_set(err,
			      "TmpFS=%s: %s (create that directory, or set "
			      "TmpFS= to one where jobs' TMPDIRs may go)",
			      base, strerror(e));
		free(base);
		errno = e;
		return -1;
	}
	ts = xcalloc(1, sizeof(*ts));
	ts->base = base;
	TAILQ_INIT(&ts->list);
	TAILQ_INIT(&ts->removing);
	ts->log_path = xasprintf("%s/tmpdirs", d->spool);
	ts->log_fd = -1;
	d->tmpdirs = ts;
	return 0;
}

/* Is path a TMPDIR mnoded could have made for job_id: /.../meridian.JOB.*
 * with no further "/"? */
static bool path_is_tmpdir(const char *path, uint32_t job_id)
{
	const char *slash = strrchr(path, '/');
	char want[32];

	snprintf(want, sizeof(want), "meridian.%u.", job_id);
	return path[0] == '/' && slash &&
	       strncmp(slash + 1, want, strlen(want)) == 0 &&
	       !strchr(slash + 1 + strlen(want), '/');
}

/* SPOOL/tmpdir.JOB.RUN's path (an older mnoded's record); NULL (logged)
 * when it is not one mnoded could have written for that job. */
static char *record_read(const char *record, uint32_t job_id)
{
	char buf[4096 + 2], *nl;
	ssize_t len;
	int fd = open(record, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0) {
		log_warn("cannot read %s", record);
		return NULL;
	}
	len = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[len > 0 ? len : 0] = '\0';
	nl = strchr(buf, '\n');
	if (nl)
		*nl = '\0';
	if (!nl || !path_is_tmpdir(buf, job_id)) {
		log_warnx("%s: not a TMPDIR of job %u (\"%.80s\"): ignored",
			  record, job_id, buf);
		return NULL;
	}
	return xstrdup(buf);
}

/* "tmpdir.JOB.RUN": both decimal, nothing else. */
static bool record_name(const char *n, uint32_t *job_id, uint32_t *run)
{
	unsigned long j, r;
	char *end;

	if (strncmp(n, "tmpdir.", 7) != 0 || n[7] < '0' || n[7] > '9')
		return false;
	errno = 0;
	j = strtoul(n + 7, &end, 10);
	if (errno || *end != '.' || end[1] < '0' || end[1] > '9' ||
	    j > UINT32_MAX || j == 0)
		return false;
	r = strtoul(end + 1, &end, 10);
	if (errno || *end || r > UINT32_MAX)
		return false;
	*job_id = (uint32_t)j;
	*run = (uint32_t)r;
	return true;
}

/* Decimal digits at *s, *s moved past them. */
static bool parse_u32(const char **s, uint32_t *v)
{
	const char *p = *s;
	uint64_t x = 0;

	if (*p < '0' || *p > '9')
		return false;
	for (; *p >= '0' && *p <= '9'; p++)
		if ((x = x * 10 + (uint64_t)(*p - '0')) > UINT32_MAX)
			return false;
	*v = (uint32_t)x;
	*s = p;
	return true;
}

/* Replay one line of the log, len bytes, its newline made a NUL: false
 * when it is not one mnoded writes. */
static bool log_replay(struct tmpdirs *ts, const char *line, size_t len)
{
	const char *p = line + 2;
	uint32_t job_id, run;
	struct tmpdir *t;

	if (len < 2 || memchr(line, '\0', len) ||
	    (line[0] != '+' && line[0] != '-') || line[1] != ' ' ||
	    !parse_u32(&p, &job_id) || !job_id || *p != ' ')
		return false;
	p++;
	if (!parse_u32(&p, &run))
		return false;
	if (line[0] == '-') {
		if (*p)
			return false;
		/* the older, should the run have two */
		TAILQ_FOREACH(t, &ts->list, link)
			if (t->job_id == job_id && t->run == run)
				break;
		if (t) {
			TAILQ_REMOVE(&ts->list, t, link);
			ts->live--;
			tmpdir_free(t);
		}
		return true;
	}
	if (*p != ' ' || !path_is_tmpdir(p + 1, job_id))
		return false;
	tmpdir_add(ts, job_id, run, xstrdup(p + 1));
	return true;
}

/* Replay SPOOL/tmpdirs (none is no error); *good: the bytes of the whole
 * lines read, *lines: how many. */
static int log_read(struct tmpdirs *ts, off_t *good, size_t *lines)
{
	int fd = open(ts->log_path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC), e;
	size_t cap, len = 0, no = 0;
	char *buf, *line, *nl;
	struct stat st;

	*good = 0;
	*lines = 0;
	if (fd < 0)
		return errno == ENOENT ? 0 : -1;
	if (fstat(fd, &st) < 0) {
		e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	cap = st.st_size > LOG_READ_MAX ? LOG_READ_MAX : (size_t)st.st_size;
	buf = xmalloc(cap + 1);
	while (len < cap) {
		ssize_t n = read(fd, buf + len, cap - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			e = errno;
			close(fd);
			free(buf);
			errno = e;
			return -1;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	if (st.st_size > LOG_READ_MAX)
		log_warnx("%s: %lld bytes, more than mnoded writes: only the "
			  "first %u MiB read",
			  ts->log_path, (long long)st.st_size,
			  LOG_READ_MAX >> 20);
	for (line = buf; line < buf + len; line = nl + 1) {
		no++;
		if (!(nl = memchr(line, '\n', (size_t)(buf + len - line)))) {
			log_warnx("%s:%zu: a torn line (no newline): ignored",
				  ts->log_path, no);
			break;
		}
		*nl = '\0';
		if (!log_replay(ts, line, (size_t)(nl - line)))
			log_warnx(
				"%s:%zu: expected \"+ JOB RUN "
				"/.../meridian.JOB.SUFFIX\" or \"- JOB RUN\", "
				"got \"%.80s\": ignored",
				ts->log_path, no, line);
		*good = nl + 1 - buf;
		*lines = no;
	}
	free(buf);
	return 0;
}

/* A record of an older mnoded's, taken into the list. */
struct record {
	uint32_t job_id, run;
};

/* An older mnoded's records: taken into the list, and appended to *old
 * for unlinking once the log holds them. */
static int records_read(struct mnoded *d, struct record **old, size_t *n)
{
	struct tmpdirs *ts = d->tmpdirs;
	struct dirent *e;
	DIR *dir;

	if (!(dir = opendir(d->spool)))
		return -1;
	while ((e = readdir(dir))) {
		uint32_t job_id, run;
		char *record, *path;
		struct tmpdir *t;

		if (!record_name(e->d_name, &job_id, &run))
			continue;
		record = record_path(d, job_id, run);
		path = record_read(record, job_id);
		free(record);
		if (!path)
			continue;
		*old = xrealloc(*old, (*n + 1) * sizeof(**old));
		(*old)[*n].job_id = job_id;
		(*old)[(*n)++].run = run;
		TAILQ_FOREACH(t, &ts->list, link)
			if (t->job_id == job_id && t->run == run &&
			    !strcmp(t->path, path))
				break;
		if (t)
			free(path); /* the log has it already */
		else
			tmpdir_add(ts, job_id, run, path);
	}
	closedir(dir);
	return 0;
}

int tmpdir_scan(struct mnoded *d)
{
	struct tmpdirs *ts = d->tmpdirs;
	struct record *old = NULL;
	size_t n_old = 0, lines;
	struct tmpdir *t;
	off_t good;

	if (!ts)
		return 0;
	if (log_read(ts, &good, &lines) < 0) {
		log_warn("cannot read %s", ts->log_path);
		return -1;
	}
	if (records_read(d, &old, &n_old) < 0) {
		free(old);
		return -1;
	}
	/* What was read, compacted; the records then go. */
	if (log_rewrite(ts) == 0) {
		for (size_t i = 0; i < n_old; i++) {
			char *record =
				record_path(d, old[i].job_id, old[i].run);
			if (unlink(record) < 0 && errno != ENOENT)
				log_warn("cannot remove %s", record);
			free(record);
		}
	} else {
		/* appended to as it is, less a torn end: what a record
		 * holds is read again the next time */
		log_warn("cannot rewrite %s", ts->log_path);
		if (log_open(ts) < 0)
			log_warn("cannot open %s", ts->log_path);
		else if (ts->log_size != good &&
			 ftruncate(ts->log_fd, good) == 0)
			ts->log_size = good;
		ts->log_lines = lines;
	}
	free(old);
	/* A batch script that ended while we were away has ended its job
	 * here; the rest is asked of mctld once registered. */
	TAILQ_FOREACH(t, &ts->list, link) {
		const struct unit *u;

		TAILQ_FOREACH(u, &d->units, link)
			if (u->kind == UNIT_JOB && u->job_id == t->job_id &&
			    u->end.msg)
				t->over = true;
	}
	tmpdir_sweep(d);
	return 0;
}

void tmpdir_free_all(struct mnoded *d)
{
	struct tmpdirs *ts = d->tmpdirs;
	struct tmpdir *t;

	if (!ts)
		return;
	while ((t = TAILQ_FIRST(&ts->list))) {
		TAILQ_REMOVE(&ts->list, t, link);
		tmpdir_free(t);
	}
	/* children still removing finish on their own */
	while ((t = TAILQ_FIRST(&ts->removing))) {
		TAILQ_REMOVE(&ts->removing, t, link);
		tmpdir_free(t);
	}
	if (ts->log_fd >= 0)
		close(ts->log_fd);
	free(ts->log_path);
	free(ts->base);
	free(ts);
	d->tmpdirs = NULL;
}
