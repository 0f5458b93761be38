/*
 * test_tmpdir.c - jobs' TMPDIRs on a node (tmpdir.c), over a temporary
 * TmpFS and spool: TmpFS= checks, the directory as the job's user gets
 * it (owner, mode, its record in the spool), when it goes (the job over
 * here and no unit of it running; what mctld says of a job; a requeued
 * job's next run), what a restarted mnoded finds again, and a removal
 * that follows no link out of the tree and is not bounded by its depth.
 */
#include "config.h"

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
static char tmpfs[128], spool[128];

static void setup(struct mnoded *d)
{
	snprintf(root, sizeof(root), "/tmp/mnoded-tmpdir.XXXXXX");
	CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(root));
	snprintf(tmpfs, sizeof(tmpfs), "%s/tmpfs", root);
	snprintf(spool, sizeof(spool), "%s/spool", root);
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

static bool record_exists(uint32_t job_id, uint32_t run)
{
	char p[200];

	snprintf(p, sizeof(p), "%s/tmpdir.%u.%u", spool, job_id, run);
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
	char rec[200], buf[300], *a, *b, *c;
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
	/* recorded in the spool, root's */
	snprintf(rec, sizeof(rec), "%s/tmpdir.42.0", spool);
	CU_ASSERT_EQUAL_FATAL(stat(rec, &st), 0);
	CU_ASSERT_EQUAL(st.st_mode & 07777, 0600);
	fd = open(rec, O_RDONLY);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	CU_ASSERT_TRUE_FATAL(n > 0);
	buf[n] = '\0';
	snprintf(rec, sizeof(rec), "%s\n", a);
	CU_ASSERT_STRING_EQUAL(buf, rec);
	/* the job's next unit here gets the same one, another job its own */
	b = make(&d, &job);
	CU_ASSERT_STRING_EQUAL(a, b);
	job_init(&other, 43);
	c = make(&d, &other);
	CU_ASSERT_STRING_NOT_EQUAL(a, c);
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
	CU_ASSERT_FALSE(record_exists(42, 0));
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
	CU_ASSERT_FALSE(record_exists(44, 0));
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
	CU_ASSERT_FALSE(record_exists(46, 0));
	CU_ASSERT_TRUE(record_exists(46, 1));
	/* RUNNING with this node, but another run: over */
	job_init(&seen, 46);
	seen.state = MERIDIAN__JOB_STATE__JOB_RUNNING;
	seen.restart_count = 2;
	alloc[0] = &here;
	tmpdir_job_state(&d, 46, &seen);
	reap_all(&d);
	CU_ASSERT_FALSE(exists(p46b));
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
	CU_ASSERT_FALSE(record_exists(50, 0));
	CU_ASSERT_TRUE(exists(p51));
	CU_ASSERT_TRUE(record_exists(52, 0)); /* ignored, not acted on */
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
	CU_ASSERT_FALSE(record_exists(60, 0));
	teardown(&d);
}

static CU_TestInfo tests[] = {
	{"TmpFS= checks", test_init},
	{"made for the job's user", test_made},
	{"removed once the job ended here", test_lifecycle},
	{"found again at start-up", test_scan},
	{"removal follows no link and knows no depth", test_remove_tree},
	{"TmpFS gone", test_make_fails},
	CU_TEST_INFO_NULL,
};

CUNIT_MAIN("tmpdir", tests)
