/*
 * test_tmpdir.c - jobs' TMPDIRs on a node (tmpdir.c), over a temporary
 * TmpFS and spool: TmpFS= checks, the directory as the job's user gets
 * it (owner, mode, its line in SPOOL/tmpdirs), when it goes (the job over
 * here and no unit of it running; what mctld says of a job; a requeued
 * job's next run), what a restarted mnoded finds again (from the log, a
 * torn or strange line ignored, from an older mnoded's records), the log
 * kept small, and a removal that follows no link out of the tree and is
 * not bounded by its depth.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cunit_main.h"
#include "mnoded.h"

/* The job's user: root may give the directory to anyone. */
#define JOB_UID 1001
#define JOB_GID 1002

static char root[64];
static struct conf conf;
static char tmpfs[128], spool[128], logfile[160];

static void setup(struct mnoded *d)
{
	snprintf(root, sizeof(root), "/tmp/mnoded-tmpdir.XXXXXX");
	CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(root));
	snprintf(tmpfs, sizeof(tmpfs), "%s/tmpfs", root);
	snprintf(spool, sizeof(spool), "%s/spool", root);
	snprintf(logfile, sizeof(logfile), "%s/tmpdirs", spool);
	CU_ASSERT_EQUAL_FATAL(mkdir(tmpfs, 01777), 0);
	CU_ASSERT_EQUAL_FATAL(mkdir(spool, 0755), 0);
	memset(d, 0, sizeof(*d));
	conf.tmp_fs = tmpfs;
	d->conf = &conf;
	d->name = "n1";
	d->spool = spool;
	TAILQ_INIT(&d->units);
}

static void teardown(struct mnoded *d)
{
	tmpdir_free_all(d);
	CU_ASSERT_EQUAL(remove_tree(root), 0);
}

static void init(struct mnoded *d)
{
	struct mer_error err = {""};

	if (tmpdir_init(d, &err) < 0)
		fprintf(stderr, "\n  %s\n", err.text);
	CU_ASSERT_PTR_NOT_NULL_FATAL(d->tmpdirs);
}

/* Reap every removal child, each of which tmpdir.c must know. */
static void reap_all(struct mnoded *d)
{
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, 0)) > 0) {
		CU_ASSERT_TRUE(tmpdir_reaped(d, pid, status));
		CU_ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
}

static bool exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

/* Does SPOOL/tmpdirs, replayed as mnoded does (whole lines; a "-" ends
 * one "+"), hold a live directory of job_id's run? */
static bool logged(uint32_t job_id, uint32_t run)
{
	char *data, *line, *nl;
	int live = 0;
	size_t n;

	if (read_file(logfile, &data, &n) < 0)
		return false;
	for (line = data; (nl = strchr(line, '\n')); line = nl + 1) {
		unsigned j, r;
		char op;

		*nl = '\0';
		if (sscanf(line, "%c %u %u", &op, &j, &r) != 3 || j != job_id ||
		    r != run)
			continue;
		if (op == '+')
			live++;
		else if (op == '-' && live > 0)
			live--;
	}
	free(data);
	return live > 0;
}

/* The log's size in lines, in bytes (-1: none). */
static int log_lines(void)
{
	char *data;
	size_t n;
	int lines = 0;

	if (read_file(logfile, &data, &n) < 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		lines += data[i] == '\n';
	free(data);
	return lines;
}

static long log_bytes(void)
{
	struct stat st;

	return stat(logfile, &st) == 0 ? (long)st.st_size : -1;
}

static bool spool_has(const char *name)
{
	char p[200];

	snprintf(p, sizeof(p), "%s/%s", spool, name);
	return exists(p);
}

static void job_init(Meridian__JobRecord *job, uint32_t id)
{
	meridian__job_record__init(job);
	job->job_id = id;
	job->user_id = JOB_UID;
	job->group_id = JOB_GID;
}

/* tmpdir_for(job), copied (the list owns the string). */
static char *make(struct mnoded *d, const Meridian__JobRecord *job)
{
	struct mer_error err = {""};
	const char *p = tmpdir_for(d, job, &err);

	if (!p)
		fprintf(stderr, "\n  tmpdir_for: %s\n", err.text);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	return xstrdup(p);
}

static void expect_init_error(struct mnoded *d, const char *tmp_fs,
			      const char *text)
{
	struct mer_error err = {""};

	conf.tmp_fs = (char *)tmp_fs;
	CU_ASSERT_EQUAL(tmpdir_init(d, &err), -1);
	CU_ASSERT_PTR_NULL(d->tmpdirs);
	if (!strstr(err.text, text))
		fprintf(stderr, "\n  got \"%s\", expected \"%s\"\n", err.text,
			text);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.text, text));
}

static void test_init(void)
{
	struct mnoded d;
	Meridian__JobRecord job;
	char path[200], file[200], *made;

	setup(&d);
	expect_init_error(&d, "scratch/%n",
			  "TmpFS=scratch/n1: expected an absolute path");
	snprintf(path, sizeof(path), "%s/none", root);
	expect_init_error(&d, path, "No such file or directory");
	snprintf(file, sizeof(file), "%s/file", root);
	CU_ASSERT_EQUAL(close(open(file, O_CREAT | O_WRONLY, 0600)), 0);
	expect_init_error(&d, file, "Not a directory");
	/* each TMPDIR is a line of the log */
	expect_init_error(
		&d, "/tmp/a\nb",
		"TmpFS= holds a newline: expected a path without one");
	/* %n is the node's name, as in SpoolDir= */
	snprintf(path, sizeof(path), "%s/%%n", root);
	conf.tmp_fs = path;
	snprintf(file, sizeof(file), "%s/n1", root);
	CU_ASSERT_EQUAL(mkdir(file, 0755), 0);
	init(&d);
	job_init(&job, 7);
	made = make(&d, &job);
	snprintf(file, sizeof(file), "%s/n1/meridian.7.", root);
	CU_ASSERT_EQUAL(strncmp(made, file, strlen(file)), 0);
	CU_ASSERT_EQUAL(strlen(made), strlen(file) + 6); /* mkdtemp's */
	free(made);
	/* without TmpFS checked there are no TMPDIRs: "" */
	tmpdir_free_all(&d);
	CU_ASSERT_STRING_EQUAL(tmpdir_for(&d, &job, NULL), "");
	teardown(&d);
}

static void test_made(void)
{
	struct mnoded d;
	Meridian__JobRecord job, other;
	char line[220], buf[300], *a, *b, *c;
	struct stat st;
	ssize_t n;
	int fd;

	setup(&d);
	init(&d);
	job_init(&job, 42);
	a = make(&d, &job);
	CU_ASSERT_EQUAL_FATAL(lstat(a, &st), 0);
	CU_ASSERT_TRUE(S_ISDIR(st.st_mode));
	CU_ASSERT_EQUAL(st.st_mode & 07777, 0700);
	if (geteuid() == 0) {
		CU_ASSERT_EQUAL(st.st_uid, JOB_UID);
		CU_ASSERT_EQUAL(st.st_gid, JOB_GID);
	} else {
		CU_ASSERT_EQUAL(st.st_uid, geteuid());
	}
	/* a line in the spool's log, root's; no file of its own */
	CU_ASSERT_EQUAL_FATAL(stat(logfile, &st), 0);
	CU_ASSERT_EQUAL(st.st_mode & 07777, 0600);
	CU_ASSERT_EQUAL(st.st_uid, geteuid());
	fd = open(logfile, O_RDONLY);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	CU_ASSERT_TRUE_FATAL(n > 0);
	buf[n] = '\0';
	snprintf(line, sizeof(line), "+ 42 0 %s\n", a);
	CU_ASSERT_STRING_EQUAL(buf, line);
	CU_ASSERT_FALSE(spool_has("tmpdir.42.0"));
	/* the job's next unit here gets the same one, another job its own */
	b = make(&d, &job);
	CU_ASSERT_STRING_EQUAL(a, b);
	job_init(&other, 43);
	c = make(&d, &other);
	CU_ASSERT_STRING_NOT_EQUAL(a, c);
	CU_ASSERT_EQUAL(log_lines(), 2); /* b is a's: no line */
	CU_ASSERT_TRUE(logged(43, 0));
	free(a);
	free(b);
	free(c);
	teardown(&d);
}

static void test_lifecycle(void)
{
	struct mnoded d;
	Meridian__JobRecord job, seen;
	Meridian__JobNodeAlloc here, there, *alloc[1];
	ProtobufCMessage *ended = (ProtobufCMessage *)&seen; /* any non-NULL */
	struct unit batch = {0}, step = {0};
	char *p42, *p44, *p45, *p46, *p46b;
	uint32_t *ids;
	size_t n;

	setup(&d);
	init(&d);
	meridian__job_node_alloc__init(&here);
	meridian__job_node_alloc__init(&there);
	here.node = "n1";
	there.node = "n2";

	/* Its batch host: over when the script ended, gone once no step of
	 * the job runs here either. */
	job_init(&job, 42);
	p42 = make(&d, &job);
	batch.kind = UNIT_JOB;
	batch.job_id = 42;
	TAILQ_INSERT_TAIL(&d.units, &batch, link);
	step.kind = UNIT_STEP;
	step.job_id = 42;
	TAILQ_INSERT_TAIL(&d.units, &step, link);
	ids = tmpdir_unsure(&d, &n);
	CU_ASSERT_PTR_NULL(ids); /* it runs: nothing to ask */
	CU_ASSERT_EQUAL(n, 0);
	batch.end.msg = ended;
	tmpdir_job_over(&d, 42);
	reap_all(&d);
	CU_ASSERT_TRUE(exists(p42)); /* its step still runs */
	step.end.msg = ended;
	tmpdir_sweep(&d);
	reap_all(&d);
	CU_ASSERT_FALSE(exists(p42));
	CU_ASSERT_FALSE(logged(42, 0));
	TAILQ_REMOVE(&d.units, &batch, link);
	TAILQ_REMOVE(&d.units, &step, link);

	/* Another node of the job: its step ended, the job runs on; mctld
	 * decides. */
	job_init(&job, 44);
	p44 = make(&d, &job);
	job_init(&job, 45);
	p45 = make(&d, &job);
	step.job_id = 44;
	step.end.msg = ended;
	TAILQ_INSERT_TAIL(&d.units, &step, link);
	tmpdir_sweep(&d);
	reap_all(&d);
	CU_ASSERT_TRUE(exists(p44));
	ids = tmpdir_unsure(&d, &n);
	CU_ASSERT_EQUAL_FATAL(n, 2);
	CU_ASSERT_EQUAL(ids[0], 44);
	CU_ASSERT_EQUAL(ids[1], 45);
	free(ids);
	job_init(&seen, 44);
	seen.state = MERIDIAN__JOB_STATE__JOB_RUNNING;
	alloc[0] = &here;
	seen.alloc = alloc;
	seen.n_alloc = 1;
	tmpdir_job_state(&d, 44, &seen); /* runs here: stays */
	reap_all(&d);
	CU_ASSERT_TRUE(exists(p44));
	alloc[0] = &there; /* requeued and running elsewhere */
	tmpdir_job_state(&d, 44, &seen);
	tmpdir_job_state(&d, 45, NULL); /* mctld knows it no more */
	reap_all(&d);
	CU_ASSERT_FALSE(exists(p44));
	CU_ASSERT_FALSE(exists(p45));
	CU_ASSERT_FALSE(logged(44, 0));
	CU_ASSERT_FALSE(logged(45, 0));
	CU_ASSERT_PTR_NULL(tmpdir_unsure(&d, &n));
	TAILQ_REMOVE(&d.units, &step, link);

	/* A requeued job's next run starts afresh: the earlier run's goes. */
	job_init(&job, 46);
	p46 = make(&d, &job);
	job.restart_count = 1;
	p46b = make(&d, &job);
	reap_all(&d);
	CU_ASSERT_STRING_NOT_EQUAL(p46, p46b);
	CU_ASSERT_FALSE(exists(p46));
	CU_ASSERT_TRUE(exists(p46b));
	CU_ASSERT_FALSE(logged(46, 0));
	CU_ASSERT_TRUE(logged(46, 1));
	/* RUNNING with this node, but another run: over */
	job_init(&seen, 46);
	seen.state = MERIDIAN__JOB_STATE__JOB_RUNNING;
	seen.restart_count = 2;
	alloc[0] = &here;
	tmpdir_job_state(&d, 46, &seen);
	reap_all(&d);
	CU_ASSERT_FALSE(exists(p46b));
	CU_ASSERT_FALSE(logged(46, 1));
	CU_ASSERT_EQUAL(log_bytes(), 0); /* none left: emptied */
	free(p42);
	free(p44);
	free(p45);
	free(p46);
	free(p46b);
	teardown(&d);
}

static void write_file(const char *path, const char *text)
{
	int fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0600);

	CU_ASSERT_TRUE_FATAL(fd >= 0);
	CU_ASSERT_EQUAL(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

static void test_scan(void)
{
	struct mnoded d;
	Meridian__JobRecord job;
	Meridian__JobEnd end = MERIDIAN__JOB_END__INIT;
	struct unit batch = {0};
	char bogus[200], victim[200], *p50, *p51, *again;
	uint32_t *ids;
	size_t n;

	setup(&d);
	init(&d);
	job_init(&job, 50);
	p50 = make(&d, &job);
	job_init(&job, 51);
	p51 = make(&d, &job);
	tmpdir_free_all(&d); /* mnoded stops; the directories stay */
	CU_ASSERT_TRUE(exists(p50));
	/* records that are no TMPDIR's of theirs are left alone */
	snprintf(victim, sizeof(victim), "%s/victim", root);
	CU_ASSERT_EQUAL(mkdir(victim, 0755), 0);
	snprintf(bogus, sizeof(bogus), "%s/tmpdir.52.0", spool);
	{
		char line[220];
		snprintf(line, sizeof(line), "%s\n", victim);
		write_file(bogus, line);
	}
	snprintf(bogus, sizeof(bogus), "%s/tmpdir.53.0", spool);
	write_file(bogus, "/tmp/meridian.99.abcdef\n");
	snprintf(bogus, sizeof(bogus), "%s/tmpdir.x", spool);
	write_file(bogus, "/tmp/meridian.x\n");

	/* job 50's batch script ended while mnoded was away */
	batch.kind = UNIT_JOB;
	batch.job_id = 50;
	batch.end.msg = &end.base;
	TAILQ_INSERT_TAIL(&d.units, &batch, link);
	init(&d);
	CU_ASSERT_EQUAL(tmpdir_scan(&d), 0);
	reap_all(&d);
	CU_ASSERT_FALSE(exists(p50));
	CU_ASSERT_FALSE(logged(50, 0));
	CU_ASSERT_TRUE(exists(p51));
	CU_ASSERT_TRUE(logged(51, 0));
	/* ignored, not acted on, left where they are */
	CU_ASSERT_TRUE(spool_has("tmpdir.52.0"));
	CU_ASSERT_TRUE(spool_has("tmpdir.53.0"));
	CU_ASSERT_FALSE(logged(52, 0));
	CU_ASSERT_FALSE(logged(53, 0));
	CU_ASSERT_TRUE(exists(victim));
	ids = tmpdir_unsure(&d, &n);
	CU_ASSERT_EQUAL_FATAL(n, 1);
	CU_ASSERT_EQUAL(ids[0], 51);
	free(ids);
	again = make(&d, &job);
	CU_ASSERT_STRING_EQUAL(again, p51);
	TAILQ_REMOVE(&d.units, &batch, link);
	free(p50);
	free(p51);
	free(again);
	teardown(&d);
}

/* A chain of n directories "d" below fd, deeper than any path could say:
 * made through descriptors. */
static void make_chain(int fd, int n)
{
	fd = dup(fd);
	for (int i = 0; i < n; i++) {
		int sub;
		CU_ASSERT_EQUAL_FATAL(mkdirat(fd, "d", 0755), 0);
		sub = openat(fd, "d", O_RDONLY | O_DIRECTORY);
		CU_ASSERT_TRUE_FATAL(sub >= 0);
		close(fd);
		fd = sub;
	}
	CU_ASSERT_EQUAL(close(openat(fd, "leaf", O_CREAT | O_WRONLY, 0600)), 0);
	close(fd);
}

static void test_remove_tree(void)
{
	struct mnoded d;
	char t[200], out[200], keep[220], p[300];
	int fd;

	setup(&d);
	snprintf(out, sizeof(out), "%s/outside", root);
	snprintf(keep, sizeof(keep), "%s/keep", out);
	CU_ASSERT_EQUAL(mkdir(out, 0755), 0);
	write_file(keep, "precious");

	snprintf(t, sizeof(t), "%s/meridian.1.abcdef", tmpfs);
	CU_ASSERT_EQUAL(mkdir(t, 0700), 0);
	snprintf(p, sizeof(p), "%s/a", t);
	CU_ASSERT_EQUAL(mkdir(p, 0755), 0);
	snprintf(p, sizeof(p), "%s/a/file", t);
	write_file(p, "x");
	snprintf(p, sizeof(p), "%s/to-dir", t);
	CU_ASSERT_EQUAL(symlink(out, p), 0);
	snprintf(p, sizeof(p), "%s/a/to-file", t);
	CU_ASSERT_EQUAL(symlink(keep, p), 0);
	snprintf(p, sizeof(p), "%s/fifo", t);
	CU_ASSERT_EQUAL(mkfifo(p, 0600), 0);
	snprintf(p, sizeof(p), "%s/locked", t);
	CU_ASSERT_EQUAL(mkdir(p, 0755), 0);
	snprintf(p, sizeof(p), "%s/locked/inside", t);
	write_file(p, "x");
	snprintf(p, sizeof(p), "%s/locked", t);
	CU_ASSERT_EQUAL(chmod(p, 0), 0); /* the user's, not root's, lock */
	fd = open(t, O_RDONLY | O_DIRECTORY);
	make_chain(fd, 2500); /* 5000 bytes of "d/": beyond PATH_MAX */
	close(fd);
	if (geteuid() != 0) {
		snprintf(p, sizeof(p), "%s/locked", t);
		chmod(p, 0755); /* only root ignores modes */
	}

	CU_ASSERT_EQUAL(tmpdir_remove_tree(t), 0);
	CU_ASSERT_FALSE(exists(t));
	CU_ASSERT_TRUE(exists(keep));
	CU_ASSERT_TRUE(exists(out));

	/* the user replaced their TMPDIR by a link: only the link goes */
	CU_ASSERT_EQUAL(symlink(out, t), 0);
	CU_ASSERT_EQUAL(tmpdir_remove_tree(t), 0);
	CU_ASSERT_FALSE(exists(t));
	CU_ASSERT_TRUE(exists(keep));
	/* or by a file */
	write_file(t, "x");
	CU_ASSERT_EQUAL(tmpdir_remove_tree(t), 0);
	CU_ASSERT_FALSE(exists(t));
	/* none left: nothing to do */
	CU_ASSERT_EQUAL(tmpdir_remove_tree(t), 0);
	/* no name to remove (never "/": a regression must not cost the
	 * machine) */
	errno = 0;
	CU_ASSERT_EQUAL(tmpdir_remove_tree("relative"), -1);
	CU_ASSERT_EQUAL(errno, EINVAL);
	snprintf(p, sizeof(p), "%s/..", tmpfs);
	CU_ASSERT_EQUAL(tmpdir_remove_tree(p), -1);
	snprintf(p, sizeof(p), "%s/", tmpfs);
	CU_ASSERT_EQUAL(tmpdir_remove_tree(p), -1);
	CU_ASSERT_TRUE(exists(tmpfs));
	teardown(&d);
}

static void test_make_fails(void)
{
	struct mnoded d;
	Meridian__JobRecord job;
	struct mer_error err = {""};
	char want[300];

	setup(&d);
	init(&d);
	CU_ASSERT_EQUAL(rmdir(tmpfs), 0);
	job_init(&job, 60);
	CU_ASSERT_PTR_NULL(tmpdir_for(&d, &job, &err));
	snprintf(want, sizeof(want),
		 "cannot make job 60's TMPDIR in TmpFS=%s: No such file or "
		 "directory",
		 tmpfs);
	CU_ASSERT_STRING_EQUAL(err.text, want);
	CU_ASSERT_FALSE(logged(60, 0));
	teardown(&d);
}

static void test_log_fails(void)
{
	struct mnoded d;
	Meridian__JobRecord job;
	struct mer_error err = {""};
	char want[300];
	struct dirent *e;
	DIR *dir;

	setup(&d);
	init(&d);
	CU_ASSERT_EQUAL(mkdir(logfile, 0700), 0); /* cannot be appended to */
	job_init(&job, 61);
	CU_ASSERT_PTR_NULL(tmpdir_for(&d, &job, &err));
	snprintf(want, sizeof(want), "cannot append to %s: Is a directory",
		 logfile);
	CU_ASSERT_STRING_EQUAL(err.text, want);
	/* not handed out, and not left behind */
	CU_ASSERT_PTR_NOT_NULL_FATAL(dir = opendir(tmpfs));
	while ((e = readdir(dir)))
		CU_ASSERT_TRUE(!strcmp(e->d_name, ".") ||
			       !strcmp(e->d_name, ".."));
	closedir(dir);
	CU_ASSERT_EQUAL(rmdir(logfile), 0);
	teardown(&d);
}

/* mnoded stops (its directories stay) and starts again over the spool. */
static void restart(struct mnoded *d)
{
	tmpdir_free_all(d);
	init(d);
	CU_ASSERT_EQUAL(tmpdir_scan(d), 0);
}

static bool unsure_is(struct mnoded *d, uint32_t a, uint32_t b)
{
	size_t n;
	uint32_t *ids = tmpdir_unsure(d, &n);
	bool ok = n == (b   ? 2
			: a ? 1
			    : 0) &&
		  (!n || (ids[0] == a && (n == 1 || ids[1] == b)) ||
		   (n == 2 && ids[0] == b && ids[1] == a));

	if (!ok)
		fprintf(stderr, "\n  unsure: %zu jobs, %u...\n", n,
			n ? ids[0] : 0);
	free(ids);
	return ok;
}

static void test_restart(void)
{
	struct mnoded d;
	Meridian__JobRecord job;
	char p[300], *p70, *p71, *again;

	setup(&d);
	init(&d);
	job_init(&job, 70);
	p70 = make(&d, &job);
	snprintf(p, sizeof(p), "%s/file", p70);
	write_file(p, "x"); /* a child removes it */
	job_init(&job, 71);
	p71 = make(&d, &job);
	restart(&d);
	CU_ASSERT_TRUE(logged(70, 0));
	CU_ASSERT_TRUE(logged(71, 0));
	CU_ASSERT_EQUAL(log_lines(), 2);
	CU_ASSERT_TRUE(unsure_is(&d, 70, 71));
	/* the job's next unit gets the one it had */
	job_init(&job, 70);
	again = make(&d, &job);
	CU_ASSERT_STRING_EQUAL(again, p70);
	CU_ASSERT_EQUAL(log_lines(), 2);
	tmpdir_job_state(&d, 70, NULL);
	reap_all(&d);
	CU_ASSERT_FALSE(exists(p70));
	CU_ASSERT_FALSE(logged(70, 0));
	CU_ASSERT_TRUE(logged(71, 0));
	CU_ASSERT_TRUE(exists(p71));
	/* and again: 71 still there, 70 not */
	restart(&d);
	CU_ASSERT_EQUAL(log_lines(), 1);
	CU_ASSERT_TRUE(unsure_is(&d, 71, 0));
	tmpdir_job_state(&d, 71, NULL);
	reap_all(&d);
	CU_ASSERT_FALSE(exists(p71));
	CU_ASSERT_EQUAL(log_bytes(), 0);
	restart(&d);
	CU_ASSERT_TRUE(unsure_is(&d, 0, 0));
	CU_ASSERT_EQUAL(log_bytes(), 0);
	free(p70);
	free(p71);
	free(again);
	teardown(&d);
}

static void test_torn(void)
{
	struct mnoded d;
	char p80[200], p81[200], p83[200], p99[200], text[2048];

	setup(&d);
	snprintf(p80, sizeof(p80), "%s/meridian.80.aaaaaa", tmpfs);
	snprintf(p81, sizeof(p81), "%s/meridian.81.bbbbbb", tmpfs);
	snprintf(p83, sizeof(p83), "%s/meridian.83.dddddd", tmpfs);
	snprintf(p99, sizeof(p99), "%s/meridian.99.cccccc", tmpfs);
	CU_ASSERT_EQUAL(mkdir(p80, 0700), 0);
	CU_ASSERT_EQUAL(mkdir(p81, 0700), 0);
	CU_ASSERT_EQUAL(mkdir(p83, 0700), 0);
	CU_ASSERT_EQUAL(mkdir(p99, 0700), 0);
	snprintf(text, sizeof(text),
		 "+ 80 0 %s\n"
		 "+ 81 0 %s\n"
		 "garbage\n"
		 "\n"
		 "+ 82 0 %s\n"		      /* another job's */
		 "+ 0 0 %s/meridian.0.x\n"    /* no job 0 */
		 "+ 84 0 tmp/meridian.84.x\n" /* relative */
		 "+ 85 0 %s/meridian.85.x/sub\n"
		 "+ 86 x %s/meridian.86.x\n"
		 "+  87 0 %s/meridian.87.x\n"
		 "+ 88 4294967296 %s/meridian.88.x\n"
		 "* 89 0 %s/meridian.89.x\n"
		 "- 81 0 and more\n" /* not a "-" */
		 "- 80\n"
		 "- 81 0\n"
		 "- 90 0\n"   /* of nothing: no harm */
		 "+ 83 0 %s", /* torn */
		 p80, p81, p99, tmpfs, tmpfs, tmpfs, tmpfs, tmpfs, tmpfs, p83);
	write_file(logfile, text);
	init(&d);
	CU_ASSERT_EQUAL(tmpdir_scan(&d), 0);
	CU_ASSERT_TRUE(unsure_is(&d, 80, 0));
	/* the log now is what was read of it */
	CU_ASSERT_EQUAL(log_lines(), 1);
	CU_ASSERT_TRUE(logged(80, 0));
	CU_ASSERT_FALSE(logged(83, 0));
	tmpdir_job_state(&d, 80, NULL);
	reap_all(&d);
	CU_ASSERT_FALSE(exists(p80));
	/* none of the others acted on */
	CU_ASSERT_TRUE(exists(p81));
	CU_ASSERT_TRUE(exists(p83));
	CU_ASSERT_TRUE(exists(p99));
	CU_ASSERT_EQUAL(log_bytes(), 0);
	teardown(&d);
}

static void test_migrate(void)
{
	struct mnoded d;
	Meridian__JobRecord job;
	char p90[200], p91[200], p[300], *again;

	setup(&d);
	/* what an older mnoded left: a record per TMPDIR */
	snprintf(p90, sizeof(p90), "%s/meridian.90.abcdef", tmpfs);
	snprintf(p91, sizeof(p91), "%s/meridian.91.ghijkl", tmpfs);
	CU_ASSERT_EQUAL(mkdir(p90, 0700), 0);
	CU_ASSERT_EQUAL(mkdir(p91, 0700), 0);
	snprintf(p, sizeof(p), "%s/file", p90);
	write_file(p, "x");
	snprintf(p, sizeof(p), "%s/tmpdir.90.0", spool);
	{
		char line[220];
		snprintf(line, sizeof(line), "%s\n", p90);
		write_file(p, line);
		snprintf(p, sizeof(p), "%s/tmpdir.91.2", spool);
		snprintf(line, sizeof(line), "%s\n", p91);
		write_file(p, line);
	}
	init(&d);
	CU_ASSERT_EQUAL(tmpdir_scan(&d), 0);
	CU_ASSERT_FALSE(spool_has("tmpdir.90.0"));
	CU_ASSERT_FALSE(spool_has("tmpdir.91.2"));
	CU_ASSERT_TRUE(logged(90, 0));
	CU_ASSERT_TRUE(logged(91, 2));
	CU_ASSERT_TRUE(unsure_is(&d, 90, 91));
	job_init(&job, 91);
	job.restart_count = 2;
	again = make(&d, &job);
	CU_ASSERT_STRING_EQUAL(again, p91);
	/* a restart finds them in the log now */
	restart(&d);
	CU_ASSERT_TRUE(unsure_is(&d, 90, 91));
	tmpdir_job_state(&d, 90, NULL);
	tmpdir_job_state(&d, 91, NULL);
	reap_all(&d);
	CU_ASSERT_FALSE(exists(p90));
	CU_ASSERT_FALSE(exists(p91));
	CU_ASSERT_EQUAL(log_bytes(), 0);
	free(again);
	teardown(&d);
}

static void test_emptied(void)
{
	struct mnoded d;
	Meridian__JobRecord job;
	char line[220], *p100, *p101, *p102, *text;
	size_t n;

	setup(&d);
	init(&d);
	CU_ASSERT_EQUAL(tmpdir_scan(&d), 0);
	CU_ASSERT_EQUAL(log_bytes(), 0);
	job_init(&job, 100);
	p100 = make(&d, &job);
	job_init(&job, 101);
	p101 = make(&d, &job);
	tmpdir_job_state(&d, 100, NULL);
	reap_all(&d);
	CU_ASSERT_EQUAL(log_lines(), 3); /* +, +, - */
	tmpdir_job_state(&d, 101, NULL);
	reap_all(&d);
	CU_ASSERT_EQUAL(log_bytes(), 0);
	/* appended to from its start again */
	job_init(&job, 102);
	p102 = make(&d, &job);
	CU_ASSERT_EQUAL_FATAL(read_file(logfile, &text, &n), 0);
	snprintf(line, sizeof(line), "+ 102 0 %s\n", p102);
	CU_ASSERT_STRING_EQUAL(text, line);
	free(text);
	free(p100);
	free(p101);
	free(p102);
	teardown(&d);
}

static void test_compacted(void)
{
	struct mnoded d;
	Meridian__JobRecord job;
	char p[300], *p1, *p2, *again;
	int most = 0;

	setup(&d);
	init(&d);
	CU_ASSERT_EQUAL(tmpdir_scan(&d), 0);
	job_init(&job, 1);
	p1 = make(&d, &job); /* live throughout */
	job_init(&job, 2);
	p2 = make(&d, &job);
	snprintf(p, sizeof(p), "%s/file", p2);
	write_file(p, "x");
	tmpdir_job_state(&d, 2, NULL); /* a child removes it, not reaped */
	for (uint32_t id = 3; id < 2003; id++) {
		char *made;
		int lines;

		job_init(&job, id);
		made = make(&d, &job);
		tmpdir_job_state(&d, id, NULL);
		CU_ASSERT_FALSE(exists(made));
		free(made);
		if ((lines = log_lines()) > most)
			most = lines;
	}
	CU_ASSERT_TRUE(most > 200); /* it grew, */
	CU_ASSERT_TRUE(most < 300); /* and was cut down */
	CU_ASSERT_TRUE(logged(1, 0));
	CU_ASSERT_TRUE(logged(2, 0)); /* still on its way out */
	CU_ASSERT_FALSE(logged(1000, 0));
	CU_ASSERT_FALSE(logged(2002, 0));
	reap_all(&d);
	CU_ASSERT_FALSE(exists(p2));
	CU_ASSERT_FALSE(logged(2, 0));
	CU_ASSERT_TRUE(logged(1, 0));
	restart(&d);
	CU_ASSERT_EQUAL(log_lines(), 1);
	CU_ASSERT_TRUE(unsure_is(&d, 1, 0));
	job_init(&job, 1);
	again = make(&d, &job);
	CU_ASSERT_STRING_EQUAL(again, p1);
	free(p1);
	free(p2);
	free(again);
	teardown(&d);
}

static void test_child_fails(void)
{
	struct mnoded d;
	Meridian__JobRecord job;
	char p[300], *p110, *p111;
	int status;
	pid_t pid;

	setup(&d);
	init(&d);
	job_init(&job, 110);
	p110 = make(&d, &job);
	snprintf(p, sizeof(p), "%s/file", p110);
	write_file(p, "x");
	tmpdir_job_state(&d, 110, NULL);
	/* the child ends, reported as failed (a mount in the tree, say) */
	CU_ASSERT_TRUE_FATAL((pid = waitpid(-1, &status, 0)) > 0);
	CU_ASSERT_TRUE(tmpdir_reaped(&d, pid, 1 << 8));
	CU_ASSERT_TRUE(logged(110, 0));
	CU_ASSERT_FALSE(tmpdir_reaped(&d, pid, 0)); /* once */
	/* the log is not emptied while it holds that */
	job_init(&job, 111);
	p111 = make(&d, &job);
	tmpdir_job_state(&d, 111, NULL);
	reap_all(&d);
	CU_ASSERT_FALSE(exists(p111));
	CU_ASSERT_TRUE(logged(110, 0));
	CU_ASSERT_TRUE(log_bytes() > 0);
	/* nor asked of mctld again: the next start tries again */
	CU_ASSERT_TRUE(unsure_is(&d, 0, 0));
	CU_ASSERT_EQUAL(mkdir(p110, 0700), 0);
	write_file(p, "x");
	restart(&d);
	CU_ASSERT_TRUE(unsure_is(&d, 110, 0));
	tmpdir_job_state(&d, 110, NULL);
	reap_all(&d);
	CU_ASSERT_FALSE(exists(p110));
	CU_ASSERT_EQUAL(log_bytes(), 0);
	free(p110);
	free(p111);
	teardown(&d);
}

/* A unit of the run comes while its directory is being removed: the run
 * has two for a while, and the log says which is left. */
static void test_twice(void)
{
	struct mnoded d;
	Meridian__JobRecord job;
	char p[300], line[300], *first, *second, *text;
	size_t n;

	setup(&d);
	init(&d);
	job_init(&job, 120);
	first = make(&d, &job);
	snprintf(p, sizeof(p), "%s/file", first);
	write_file(p, "x");
	tmpdir_job_state(&d, 120, NULL); /* a child removes it */
	second = make(&d, &job);
	CU_ASSERT_STRING_NOT_EQUAL(first, second);
	tmpdir_job_state(&d, 120, NULL); /* empty: gone at once */
	CU_ASSERT_FALSE(exists(second));
	/* not a "- 120 0", which would end the first */
	CU_ASSERT_EQUAL_FATAL(read_file(logfile, &text, &n), 0);
	snprintf(line, sizeof(line), "+ 120 0 %s\n", first);
	CU_ASSERT_STRING_EQUAL(text, line);
	free(text);
	reap_all(&d);
	CU_ASSERT_FALSE(exists(first));
	CU_ASSERT_EQUAL(log_bytes(), 0);
	free(first);
	free(second);
	teardown(&d);
}

/* A log larger than mnoded ever writes is read in part, not whole. */
static void test_huge(void)
{
	struct mnoded d;
	char p131[200], p132[200], head[300], tail[300], *text;
	size_t len = 17u << 20, at;
	int fd;

	setup(&d);
	snprintf(p131, sizeof(p131), "%s/meridian.131.aaaaaa", tmpfs);
	snprintf(p132, sizeof(p132), "%s/meridian.132.bbbbbb", tmpfs);
	CU_ASSERT_EQUAL(mkdir(p131, 0700), 0);
	CU_ASSERT_EQUAL(mkdir(p132, 0700), 0);
	at = (size_t)snprintf(head, sizeof(head), "+ 131 0 %s\n", p131);
	snprintf(tail, sizeof(tail), "+ 132 0 %s\n", p132);
	text = xmalloc(len);
	memcpy(text, head, at);
	while (at + 6 < len - strlen(tail)) {
		memcpy(text + at, "- 5 0\n", 6); /* of nothing */
		at += 6;
	}
	memcpy(text + at, tail, strlen(tail));
	at += strlen(tail);
	fd = open(logfile, O_CREAT | O_WRONLY | O_TRUNC, 0600);
	CU_ASSERT_EQUAL(write(fd, text, at), (ssize_t)at);
	close(fd);
	free(text);
	init(&d);
	CU_ASSERT_EQUAL(tmpdir_scan(&d), 0);
	CU_ASSERT_TRUE(unsure_is(&d, 131, 0)); /* 132 is past 16 MiB */
	CU_ASSERT_EQUAL(log_lines(), 1);
	CU_ASSERT_TRUE(exists(p132));
	teardown(&d);
}

static CU_TestInfo tests[] = {
	{"TmpFS= checks", test_init},
	{"made for the job's user", test_made},
	{"removed once the job ended here", test_lifecycle},
	{"found again at start-up", test_scan},
	{"removal follows no link and knows no depth", test_remove_tree},
	{"TmpFS gone", test_make_fails},
	{"SPOOL/tmpdirs cannot be written", test_log_fails},
	{"a restart finds the log's", test_restart},
	{"torn and strange lines ignored", test_torn},
	{"an older mnoded's records taken in", test_migrate},
	{"the log emptied once none is live", test_emptied},
	{"the log compacted, the live kept", test_compacted},
	{"a failed removal stays live", test_child_fails},
	{"a run's second directory", test_twice},
	{"a huge log read in part", test_huge},
	CU_TEST_INFO_NULL,
};

CUNIT_MAIN("tmpdir", tests)
