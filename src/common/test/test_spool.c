/*
 * test_spool.c - the spool contract (spool.c): each file written and read
 * back, and written again in place (a spare directory's, spool.h); files
 * torn, short, of garbage or of another job read back as a clear error
 * (EBADMSG and a sentence naming the file), missing or empty ones as
 * ENOENT; every file 0600 whatever the umask.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cunit_main.h"
#include "spool.h"
#include "util.h"

static char dir[64];

static void dir_create(void)
{
	snprintf(dir, sizeof(dir), "/tmp/test-spool.XXXXXX");
	CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
}

static void dir_remove(void)
{
	CU_ASSERT_EQUAL(remove_tree(dir), 0);
}

/* dir/name holds exactly these n bytes (replacing what was there). */
static void put(const char *name, const void *data, size_t n)
{
	char *path = spool_path(dir, name);

	CU_ASSERT_EQUAL(write_file_atomic(path, data, n, 0600), 0);
	free(path);
}

/* What stat says of dir/name, which must be there. */
static struct stat stat_of(const char *name)
{
	char *path = spool_path(dir, name);
	struct stat st;
	int rc = stat(path, &st);

	free(path);
	CU_ASSERT_EQUAL_FATAL(rc, 0);
	return st;
}

static mode_t mode_of(const char *name)
{
	return stat_of(name).st_mode & 07777;
}

/* err names dir/name and says what. */
static void assert_err(const struct mer_error *err, const char *name,
		       const char *what)
{
	char *path = spool_path(dir, name);

	if (!strstr(err->text, path) || !strstr(err->text, what))
		printf("\n  error \"%s\": expected %s and \"%s\" ", err->text,
		       path, what);
	CU_ASSERT_PTR_NOT_NULL(strstr(err->text, path));
	CU_ASSERT_PTR_NOT_NULL(strstr(err->text, what));
	free(path);
}

/* Empty dir/name as a spare directory does (mnoded's unit.c). */
static void empty(const char *name)
{
	char *path = spool_path(dir, name);

	CU_ASSERT_EQUAL(truncate(path, 0), 0);
	free(path);
}

/* The packed bytes of m, malloc'd. */
static uint8_t *packed(const ProtobufCMessage *m, size_t *n)
{
	uint8_t *buf;

	*n = protobuf_c_message_get_packed_size(m);
	buf = xmalloc(*n ? *n : 1);
	protobuf_c_message_pack(m, buf);
	return buf;
}

static void test_path(void)
{
	char *p = spool_path("/var/spool/n1/job.7", SPOOL_END_FILE);

	CU_ASSERT_STRING_EQUAL(p, "/var/spool/n1/job.7/end");
	free(p);
}

/* ---- launch ---------------------------------------------------------- */

static void make_launch_job(Meridian__LaunchJob *lj, Meridian__JobRecord *job,
			    Meridian__JobSpec *spec, uint32_t id)
{
	meridian__launch_job__init(lj);
	meridian__job_record__init(job);
	meridian__job_spec__init(spec);
	job->job_id = id;
	job->user_name = "alice";
	spec->script.data = (uint8_t *)"#!/bin/sh\necho hi\n";
	spec->script.len = strlen((char *)spec->script.data);
	lj->job = job;
	lj->spec = spec;
	lj->kill_wait = 30;
}

static void test_launch_job_round_trip(void)
{
	Meridian__LaunchJob lj, *back;
	Meridian__JobRecord job;
	Meridian__JobSpec spec;
	struct mer_error err = {""};
	time_t mtime = 0;
	mode_t old;
	uint8_t *buf;
	size_t n;

	dir_create();
	make_launch_job(&lj, &job, &spec, 42);
	buf = packed(&lj.base, &n);
	/* the mode must not depend on the writer's umask */
	old = umask(0);
	CU_ASSERT_EQUAL_FATAL(spool_write_launch(dir, buf, n, &err), 0);
	umask(old);
	CU_ASSERT_EQUAL(mode_of(SPOOL_LAUNCH_FILE), 0600);
	CU_ASSERT_EQUAL(spool_launch_mtime(dir, &mtime, &err), 0);
	CU_ASSERT(mtime > time(NULL) - 60 && mtime <= time(NULL) + 1);

	back = spool_read_launch_job(dir, 42, &err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(back);
	CU_ASSERT_EQUAL(back->job->job_id, 42);
	CU_ASSERT_STRING_EQUAL(back->job->user_name, "alice");
	CU_ASSERT_EQUAL(back->kill_wait, 30);
	CU_ASSERT_EQUAL(back->spec->script.len, spec.script.len);
	CU_ASSERT_EQUAL(memcmp(back->spec->script.data, spec.script.data,
			       spec.script.len),
			0);
	meridian__launch_job__free_unpacked(back, NULL);

	/* another job's launch is not ours */
	CU_ASSERT_PTR_NULL(spool_read_launch_job(dir, 43, &err));
	CU_ASSERT_EQUAL(errno, EBADMSG);
	assert_err(&err, SPOOL_LAUNCH_FILE,
		   "is not the launch request of job 43");
	free(buf);

	/* The next job's, in place in the same file: whole, with no tail
	 * of the longer one before it, and 0600 again. */
	{
		ino_t ino = stat_of(SPOOL_LAUNCH_FILE).st_ino;
		char *path = spool_path(dir, SPOOL_LAUNCH_FILE);

		CU_ASSERT_EQUAL(chmod(path, 0644), 0);
		free(path);
		make_launch_job(&lj, &job, &spec, 43);
		spec.script.data = (uint8_t *)"#!/bin/sh\n";
		spec.script.len = strlen((char *)spec.script.data);
		buf = packed(&lj.base, &n);
		CU_ASSERT_EQUAL_FATAL(spool_write_launch(dir, buf, n, &err), 0);
		CU_ASSERT_EQUAL(stat_of(SPOOL_LAUNCH_FILE).st_ino, ino);
		CU_ASSERT_EQUAL(stat_of(SPOOL_LAUNCH_FILE).st_size, (off_t)n);
		CU_ASSERT_EQUAL(mode_of(SPOOL_LAUNCH_FILE), 0600);
		back = spool_read_launch_job(dir, 43, &err);
		CU_ASSERT_PTR_NOT_NULL_FATAL(back);
		CU_ASSERT_EQUAL(back->spec->script.len, spec.script.len);
		meridian__launch_job__free_unpacked(back, NULL);
		free(buf);
	}
	dir_remove();
}

static void test_launch_step_round_trip(void)
{
	Meridian__LaunchStep ls = MERIDIAN__LAUNCH_STEP__INIT, *back;
	Meridian__JobRecord job = MERIDIAN__JOB_RECORD__INIT;
	Meridian__StepRecord rec = MERIDIAN__STEP_RECORD__INIT;
	struct mer_error err = {""};
	uint8_t key[32], *buf;
	size_t n;

	dir_create();
	memset(key, 0xa5, sizeof(key));
	job.job_id = 12;
	rec.step_id = 3;
	ls.job = &job;
	ls.step = &rec;
	ls.node_index = 1;
	ls.io_host = "127.0.0.1";
	ls.io_port = 4242;
	ls.io_key.data = key;
	ls.io_key.len = sizeof(key);
	ls.topology_file = "/etc/meridian/topo.xml";
	buf = packed(&ls.base, &n);
	CU_ASSERT_EQUAL_FATAL(spool_write_launch(dir, buf, n, &err), 0);
	/* the io_key is in it: owner-only */
	CU_ASSERT_EQUAL(mode_of(SPOOL_LAUNCH_FILE), 0600);
	back = spool_read_launch_step(dir, &err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(back);
	CU_ASSERT_EQUAL(back->job->job_id, 12);
	CU_ASSERT_EQUAL(back->step->step_id, 3);
	CU_ASSERT_EQUAL(back->node_index, 1);
	CU_ASSERT_STRING_EQUAL(back->io_host, "127.0.0.1");
	CU_ASSERT_EQUAL(back->io_port, 4242);
	CU_ASSERT_STRING_EQUAL(back->topology_file, "/etc/meridian/topo.xml");
	CU_ASSERT_EQUAL(back->io_key.len, sizeof(key));
	CU_ASSERT_EQUAL(memcmp(back->io_key.data, key, sizeof(key)), 0);
	meridian__launch_step__free_unpacked(back, NULL);
	free(buf);
	dir_remove();
}

static void test_launch_bad(void)
{
	static const uint8_t garbage[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
					  0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
	Meridian__LaunchJob lj;
	Meridian__JobRecord job;
	Meridian__JobSpec spec;
	struct mer_error err = {""};
	time_t mtime;
	uint8_t *buf;
	size_t n;

	dir_create();
	/* none at all */
	CU_ASSERT_PTR_NULL(spool_read_launch_job(dir, 1, &err));
	CU_ASSERT_EQUAL(errno, ENOENT);
	assert_err(&err, SPOOL_LAUNCH_FILE, "cannot read");
	CU_ASSERT_PTR_NULL(spool_read_launch_step(dir, &err));
	CU_ASSERT_EQUAL(errno, ENOENT);
	CU_ASSERT_EQUAL(spool_launch_mtime(dir, &mtime, &err), -1);
	CU_ASSERT_EQUAL(errno, ENOENT);

	/* garbage */
	put(SPOOL_LAUNCH_FILE, garbage, sizeof(garbage));
	CU_ASSERT_PTR_NULL(spool_read_launch_step(dir, &err));
	CU_ASSERT_EQUAL(errno, EBADMSG);
	assert_err(&err, SPOOL_LAUNCH_FILE, "is not a LaunchStep");
	CU_ASSERT_PTR_NULL(spool_read_launch_job(dir, 1, &err));
	CU_ASSERT_EQUAL(errno, EBADMSG);
	assert_err(&err, SPOOL_LAUNCH_FILE, "is not the launch request");

	/* empty, as in a spare directory: not there */
	put(SPOOL_LAUNCH_FILE, "", 0);
	CU_ASSERT_PTR_NULL(spool_read_launch_job(dir, 1, &err));
	CU_ASSERT_EQUAL(errno, ENOENT);
	assert_err(&err, SPOOL_LAUNCH_FILE, "is empty");
	CU_ASSERT_PTR_NULL(spool_read_launch_step(dir, &err));
	CU_ASSERT_EQUAL(errno, ENOENT);
	CU_ASSERT_EQUAL(spool_launch_mtime(dir, &mtime, &err), -1);
	CU_ASSERT_EQUAL(errno, ENOENT);
	assert_err(&err, SPOOL_LAUNCH_FILE, "is empty");

	/* torn: every prefix of a real one is either refused or, cut
	 * between fields, at most a LaunchJob of this job; never a crash */
	make_launch_job(&lj, &job, &spec, 7);
	buf = packed(&lj.base, &n);
	for (size_t cut = 0; cut < n; cut++) {
		Meridian__LaunchJob *back;

		put(SPOOL_LAUNCH_FILE, buf, cut);
		back = spool_read_launch_job(dir, 7, &err);
		if (back) {
			CU_ASSERT_EQUAL(back->job->job_id, 7);
			meridian__launch_job__free_unpacked(back, NULL);
		} else {
			/* cut before its first byte: empty, not there */
			CU_ASSERT_EQUAL(errno, cut ? EBADMSG : ENOENT);
		}
	}
	free(buf);
	dir_remove();
}

/* ---- end ------------------------------------------------------------- */

static void test_job_end_round_trip(void)
{
	Meridian__JobEnd e = MERIDIAN__JOB_END__INIT, *back;
	struct mer_error err = {""};
	mode_t old;
	ino_t ino;

	dir_create();
	e.job_id = 9;
	e.state = MERIDIAN__JOB_STATE__JOB_TIMEOUT;
	e.exit_code = 0;
	e.term_signal = SIGTERM;
	e.start_time = 1000;
	e.end_time = 2000;
	e.reason = "TimeLimit";
	old = umask(0);
	CU_ASSERT_EQUAL_FATAL(spool_write_end(dir, &e.base, &err), 0);
	umask(old);
	CU_ASSERT_EQUAL(mode_of(SPOOL_END_FILE), 0600);
	back = spool_read_job_end(dir, 9, &err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(back);
	CU_ASSERT_EQUAL(back->state, MERIDIAN__JOB_STATE__JOB_TIMEOUT);
	CU_ASSERT_EQUAL(back->term_signal, SIGTERM);
	CU_ASSERT_EQUAL(back->start_time, 1000);
	CU_ASSERT_EQUAL(back->end_time, 2000);
	CU_ASSERT_STRING_EQUAL(back->reason, "TimeLimit");
	meridian__job_end__free_unpacked(back, NULL);

	/* written again (mnoded's own for an mstepd that died): replaced */
	e.reason = "mstepd died";
	CU_ASSERT_EQUAL(spool_write_end(dir, &e.base, &err), 0);
	back = spool_read_job_end(dir, 9, &err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(back);
	CU_ASSERT_STRING_EQUAL(back->reason, "mstepd died");
	meridian__job_end__free_unpacked(back, NULL);

	/* emptied as a spare directory's, then a shorter one in place (no
	 * tail of the longer left), unsynced and synced after */
	ino = stat_of(SPOOL_END_FILE).st_ino;
	empty(SPOOL_END_FILE);
	e.reason = "";
	e.state = MERIDIAN__JOB_STATE__JOB_COMPLETED;
	CU_ASSERT_EQUAL(spool_write_end_unsynced(dir, &e.base, &err), 0);
	CU_ASSERT_EQUAL(spool_sync_end(dir, &err), 0);
	CU_ASSERT_EQUAL(stat_of(SPOOL_END_FILE).st_ino, ino);
	back = spool_read_job_end(dir, 9, &err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(back);
	CU_ASSERT_EQUAL(back->state, MERIDIAN__JOB_STATE__JOB_COMPLETED);
	CU_ASSERT_STRING_EQUAL(back->reason, "");
	meridian__job_end__free_unpacked(back, NULL);

	/* another job's end is not this job's */
	CU_ASSERT_PTR_NULL(spool_read_job_end(dir, 10, &err));
	CU_ASSERT_EQUAL(errno, EBADMSG);
	assert_err(&err, SPOOL_END_FILE, "the end of job 9, not of job 10");
	dir_remove();
}

static void test_step_end_round_trip(void)
{
	Meridian__StepEnd e = MERIDIAN__STEP_END__INIT, *back;
	struct mer_error err = {""};

	dir_create();
	e.job_id = 12;
	e.step_id = 3;
	e.node = "n1";
	e.state = MERIDIAN__JOB_STATE__JOB_FAILED;
	e.exit_code = 7;
	e.failed_rank = 5;
	e.reason = "rank 5 on n1 exited with code 7";
	CU_ASSERT_EQUAL_FATAL(spool_write_end(dir, &e.base, &err), 0);
	CU_ASSERT_EQUAL(mode_of(SPOOL_END_FILE), 0600);
	back = spool_read_step_end(dir, 12, 3, &err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(back);
	CU_ASSERT_STRING_EQUAL(back->node, "n1");
	CU_ASSERT_EQUAL(back->exit_code, 7);
	CU_ASSERT_EQUAL(back->failed_rank, 5);
	CU_ASSERT_STRING_EQUAL(back->reason, e.reason);
	meridian__step_end__free_unpacked(back, NULL);

	CU_ASSERT_PTR_NULL(spool_read_step_end(dir, 12, 4, &err));
	CU_ASSERT_EQUAL(errno, EBADMSG);
	assert_err(&err, SPOOL_END_FILE, "end of step 12.3, not of step 12.4");
	CU_ASSERT_PTR_NULL(spool_read_step_end(dir, 13, 3, &err));
	CU_ASSERT_EQUAL(errno, EBADMSG);
	dir_remove();
}

static void test_end_bad(void)
{
	Meridian__JobEnd e = MERIDIAN__JOB_END__INIT;
	struct mer_error err = {""};
	uint8_t *buf;
	size_t n, in_reason;

	dir_create();
	CU_ASSERT_PTR_NULL(spool_read_job_end(dir, 9, &err));
	CU_ASSERT_EQUAL(errno, ENOENT);
	assert_err(&err, SPOOL_END_FILE, "cannot read");
	CU_ASSERT_PTR_NULL(spool_read_step_end(dir, 9, 0, &err));
	CU_ASSERT_EQUAL(errno, ENOENT);

	/* empty, as in a spare directory: no end yet */
	put(SPOOL_END_FILE, "", 0);
	CU_ASSERT_PTR_NULL(spool_read_job_end(dir, 9, &err));
	CU_ASSERT_EQUAL(errno, ENOENT);
	assert_err(&err, SPOOL_END_FILE, "is empty");
	CU_ASSERT_PTR_NULL(spool_read_step_end(dir, 9, 0, &err));
	CU_ASSERT_EQUAL(errno, ENOENT);

	/* garbage */
	put(SPOOL_END_FILE, "this is not protobuf\xff\xff\xff", 23);
	CU_ASSERT_PTR_NULL(spool_read_job_end(dir, 9, &err));
	CU_ASSERT_EQUAL(errno, EBADMSG);
	assert_err(&err, SPOOL_END_FILE, "is not a JobEnd");
	CU_ASSERT_PTR_NULL(spool_read_step_end(dir, 9, 0, &err));
	CU_ASSERT_EQUAL(errno, EBADMSG);
	assert_err(&err, SPOOL_END_FILE, "is not a StepEnd");

	/* torn inside the reason: a length that runs past the end */
	e.job_id = 9;
	e.state = MERIDIAN__JOB_STATE__JOB_COMPLETED;
	e.reason = "a reason long enough to be cut in its middle";
	buf = packed(&e.base, &n);
	in_reason = (size_t)((uint8_t *)memmem(buf, n, "long", 4) - buf);
	put(SPOOL_END_FILE, buf, in_reason);
	CU_ASSERT_PTR_NULL(spool_read_job_end(dir, 9, &err));
	CU_ASSERT_EQUAL(errno, EBADMSG);
	assert_err(&err, SPOOL_END_FILE, "is not a JobEnd");
	/* and every other cut: refused, or this job's; never a crash */
	for (size_t cut = 0; cut < n; cut++) {
		Meridian__JobEnd *back;

		put(SPOOL_END_FILE, buf, cut);
		back = spool_read_job_end(dir, 9, &err);
		if (back) {
			CU_ASSERT_EQUAL(back->job_id, 9);
			meridian__job_end__free_unpacked(back, NULL);
		} else {
			/* cut before its first byte: empty, not there */
			CU_ASSERT_EQUAL(errno, cut ? EBADMSG : ENOENT);
		}
	}
	free(buf);
	dir_remove();
}

/* ---- pgid ------------------------------------------------------------ */

static void test_pgid_round_trip(void)
{
	struct mer_error err = {""};
	pid_t pgid = 0;
	uid_t uid = 0;
	char *path, *data;
	mode_t old;

	dir_create();
	old = umask(0);
	CU_ASSERT_EQUAL_FATAL(spool_write_pgid(dir, 12345, 1001, &err), 0);
	umask(old);
	CU_ASSERT_EQUAL(mode_of(SPOOL_PGID_FILE), 0600);
	/* the format an older mnoded reads */
	path = spool_path(dir, SPOOL_PGID_FILE);
	CU_ASSERT_EQUAL_FATAL(read_file(path, &data, NULL), 0);
	CU_ASSERT_STRING_EQUAL(data, "12345 1001\n");
	free(data);
	free(path);
	CU_ASSERT_EQUAL(spool_read_pgid(dir, &pgid, &uid, &err), 0);
	CU_ASSERT_EQUAL(pgid, 12345);
	CU_ASSERT_EQUAL(uid, 1001);

	/* emptied (a spare directory's): not there */
	empty(SPOOL_PGID_FILE);
	CU_ASSERT_EQUAL(spool_read_pgid(dir, &pgid, &uid, &err), -1);
	CU_ASSERT_EQUAL(errno, ENOENT);
	assert_err(&err, SPOOL_PGID_FILE, "is empty");

	/* root's own group, and the largest ids, each in place over the
	 * one before: no tail of a longer one left */
	CU_ASSERT_EQUAL(spool_write_pgid(dir, 4194304, 4294967294u, &err), 0);
	CU_ASSERT_EQUAL(spool_write_pgid(dir, 2, 0, &err), 0);
	CU_ASSERT_EQUAL(spool_read_pgid(dir, &pgid, &uid, &err), 0);
	CU_ASSERT_EQUAL(pgid, 2);
	CU_ASSERT_EQUAL(uid, 0);
	CU_ASSERT_EQUAL(spool_write_pgid(dir, 4194304, 4294967294u, &err), 0);
	CU_ASSERT_EQUAL(spool_read_pgid(dir, &pgid, &uid, &err), 0);
	CU_ASSERT_EQUAL(pgid, 4194304);
	CU_ASSERT_EQUAL(uid, 4294967294u);

	/* no process group to record: init's, or none */
	CU_ASSERT_EQUAL(spool_write_pgid(dir, 1, 0, &err), -1);
	CU_ASSERT_EQUAL(errno, EINVAL);
	CU_ASSERT_EQUAL(spool_write_pgid(dir, 0, 0, &err), -1);
	CU_ASSERT_EQUAL(errno, EINVAL);
	dir_remove();
}

static void test_pgid_bad(void)
{
	static const char *bad[] = {
		"12345",	 /* short: no uid */
		"12345 ",	 /* torn in the uid */
		"12345 1001",	 /* torn before the newline */
		"12345 1001\nx", /* trailing garbage */
		"abc def\n",	 /* garbage */
		"-5 1001\n",	 /* a sign: kill(-5) is another group */
		"+5 1001\n",
		" 5 1001\n",
		"1 0\n", /* init */
		"0 0\n",
		"12345 -1\n",
		"12345  1001\n",
		"99999999999999999999 1001\n",
		"12345 99999999999\n",
		"12345\t1001\n",
	};
	struct mer_error err = {""};
	pid_t pgid;
	uid_t uid;

	dir_create();
	CU_ASSERT_EQUAL(spool_read_pgid(dir, &pgid, &uid, &err), -1);
	CU_ASSERT_EQUAL(errno, ENOENT);
	assert_err(&err, SPOOL_PGID_FILE, "cannot read");
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		pgid = 77;
		uid = 77;
		put(SPOOL_PGID_FILE, bad[i], strlen(bad[i]));
		if (spool_read_pgid(dir, &pgid, &uid, &err) != -1)
			printf("\n  \"%s\" was taken ", bad[i]);
		CU_ASSERT_EQUAL(errno, EBADMSG);
		assert_err(&err, SPOOL_PGID_FILE, "does not hold");
		/* nothing half-filled */
		CU_ASSERT_EQUAL(pgid, 77);
		CU_ASSERT_EQUAL(uid, 77);
	}
	/* a NUL inside */
	put(SPOOL_PGID_FILE, "123\0 1001\n", 10);
	CU_ASSERT_EQUAL(spool_read_pgid(dir, &pgid, &uid, &err), -1);
	CU_ASSERT_EQUAL(errno, EBADMSG);
	dir_remove();
}

static CU_TestInfo tests[] = {
	{"a file's path", test_path},
	{"LaunchJob written and read back", test_launch_job_round_trip},
	{"LaunchStep written and read back", test_launch_step_round_trip},
	{"launch missing, garbage, empty, torn", test_launch_bad},
	{"JobEnd written and read back", test_job_end_round_trip},
	{"StepEnd written and read back", test_step_end_round_trip},
	{"end missing, empty, garbage, torn", test_end_bad},
	{"pgid written and read back", test_pgid_round_trip},
	{"pgid missing, short, torn, garbage", test_pgid_bad},
	CU_TEST_INFO_NULL,
};

CUNIT_MAIN("spool", tests)
