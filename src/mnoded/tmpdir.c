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
 * so it is never scanned: a restarted mnoded finds its directories from
 * the spool, where each is recorded as SPOOL/tmpdir.JOBID.RUN (the path,
 * root's, 0600; RUN is JobRecord.restart_count: a requeued job's next run
 * starts with a fresh directory).
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
 * leave it so) is one rmdir, in the loop.
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

struct tmpdir {
	TAILQ_ENTRY(tmpdir) link;
	uint32_t job_id;
	uint32_t run; /* JobRecord.restart_count of the run it is for */
	char *path;
	bool over; /* that run has ended on this node */
};

/* A child removing a directory: reaped by unit_reap (tmpdir_reaped). */
struct tmpdir_rm {
	pid_t pid;
	uint32_t job_id;
	char *path;
	struct tmpdir_rm *next;
};

struct tmpdirs {
	char *base; /* TmpFS= with %n expanded */
	TAILQ_HEAD(, tmpdir) list;
	struct tmpdir_rm *removing;
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

/* ---- the list --------------------------------------------------------- */

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

/* Remove t's directory in a child, then its record; t is freed. */
static void remove_start(struct mnoded *d, struct tmpdir *t)
{
	struct tmpdirs *ts = d->tmpdirs;
	char *record = record_path(d, t->job_id, t->run);
	struct tmpdir_rm *rm;
	pid_t pid;

	/* Most jobs leave it empty: rmdir needs no child (and follows no
	 * link: a name swapped for one fails ENOTDIR, a full one ENOTEMPTY,
	 * and goes to the child) */
	if (rmdir(t->path) == 0) {
		unlink(record);
		log_debug("job %u: TMPDIR %s removed (empty)", t->job_id,
			  t->path);
		free(record);
		tmpdir_free(t);
		return;
	}
	pid = fork();
	if (pid == 0) {
		/* nothing of mnoded's: a signal ends it, no descriptor of
		 * the loop's (mctld's, mstepds') stays open in it */
		for (int sig = 1; sig < NSIG; sig++)
			signal(sig, SIG_DFL);
#ifdef SYS_close_range
		syscall(SYS_close_range, 3u, ~0U, 0);
#endif
		if (tmpdir_remove_tree(t->path) < 0)
			_exit(1);
		unlink(record); /* the next start has nothing to redo */
		_exit(0);
	}
	if (pid < 0) {
		log_warn("job %u: cannot fork to remove TMPDIR %s; removing "
			 "it here",
			 t->job_id, t->path);
		if (tmpdir_remove_tree(t->path) == 0)
			unlink(record);
		else
			log_warn("job %u: cannot remove TMPDIR %s", t->job_id,
				 t->path);
		free(record);
		tmpdir_free(t);
		return;
	}
	free(record);
	rm = xcalloc(1, sizeof(*rm));
	rm->pid = pid;
	rm->job_id = t->job_id;
	rm->path = t->path;
	rm->next = ts->removing;
	ts->removing = rm;
	t->path = NULL;
	tmpdir_free(t);
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
	struct tmpdir_rm **pp, *rm;

	if (!d || !d->tmpdirs)
		return false;
	for (pp = &d->tmpdirs->removing; (rm = *pp); pp = &rm->next) {
		if (rm->pid != pid)
			continue;
		*pp = rm->next;
		if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
			log_debug("job %u: TMPDIR %s removed", rm->job_id,
				  rm->path);
		else
			log_warnx("job %u: could not remove all of TMPDIR %s "
				  "(a file system mounted in it?): what is "
				  "left stays until mnoded starts again",
				  rm->job_id, rm->path);
		free(rm->path);
		free(rm);
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

static int record_write(const char *record, const char *path,
			struct mer_error *err)
{
	int fd = open(record,
		      O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC,
		      0600);
	size_t len = strlen(path);
	int e;

	if (fd >= 0 && write(fd, path, len) == (ssize_t)len &&
	    write(fd, "\n", 1) == 1 && close(fd) == 0)
		return 0;
	e = errno;
	if (fd >= 0)
		close(fd);
	unlink(record);
	mer_error_set(err, "cannot create %s: %s", record, strerror(e));
	errno = e;
	return -1;
}

const char *tmpdir_for(struct mnoded *d, const Meridian__JobRecord *job,
		       struct mer_error *err)
{
	struct tmpdirs *ts = d->tmpdirs;
	struct tmpdir *t;
	bool earlier = false;
	char *path, *record;

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
	record = record_path(d, job->job_id, job->restart_count);
	if (record_write(record, path, err) < 0) {
		int e = errno;
		tmpdir_remove_tree(path);
		free(path);
		free(record);
		errno = e;
		return NULL;
	}
	free(record);
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
	d->tmpdirs = xcalloc(1, sizeof(*d->tmpdirs));
	d->tmpdirs->base = base;
	TAILQ_INIT(&d->tmpdirs->list);
	return 0;
}

/* SPOOL/tmpdir.JOB.RUN's path; NULL (logged) when it is not one mnoded
 * could have written for that job. */
static char *record_read(const char *record, uint32_t job_id)
{
	char buf[4096 + 2], want[32], *nl, *slash;
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
	snprintf(want, sizeof(want), "meridian.%u.", job_id);
	slash = strrchr(buf, '/');
	if (!nl || buf[0] != '/' || !slash ||
	    strncmp(slash + 1, want, strlen(want)) != 0 ||
	    strchr(slash + 1 + strlen(want), '/')) {
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

int tmpdir_scan(struct mnoded *d)
{
	struct tmpdirs *ts = d->tmpdirs;
	struct dirent *e;
	struct tmpdir *t;
	DIR *dir;

	if (!ts)
		return 0;
	if (!(dir = opendir(d->spool)))
		return -1;
	while ((e = readdir(dir))) {
		uint32_t job_id, run;
		char *record, *path;

		if (!record_name(e->d_name, &job_id, &run))
			continue;
		record = record_path(d, job_id, run);
		path = record_read(record, job_id);
		free(record);
		if (path)
			tmpdir_add(ts, job_id, run, path);
	}
	closedir(dir);
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
	while (ts->removing) {
		struct tmpdir_rm *rm = ts->removing;
		ts->removing = rm->next;
		free(rm->path);
		free(rm);
	}
	free(ts->base);
	free(ts);
	d->tmpdirs = NULL;
}
