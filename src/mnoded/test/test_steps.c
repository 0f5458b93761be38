/*
 * test_steps.c - mnoded's side of job steps, over its real spool code and a
 * fake mstepd (fake_mstepd.c) started the way the real one is.
 *
 * What mctld would see is caught by stand-ins for ctl_job_ended and
 * ctl_step_ended (ctl.c, the connection, is not linked): every end reported
 * is recorded with its state and reason.  Checked: LAUNCH_STEP's checks,
 * the step directory and launch file, mstepd's command line, idempotence,
 * the end of a share (written by mstepd, or made up when it died), the
 * routing of SIGNAL_JOB to a step, to all of a job's steps and to none,
 * the cancel of steps when the batch script ends, the spare directory an
 * ended share leaves for the next (and their bound), and the start-up
 * scan: ended, dead, half-made and still running step directories, and
 * spares.
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <utime.h>

#include "cunit_main.h"
#include "mnoded.h"
#include "spool.h"
#include "test_util.h"

#define TOPO "/etc/meridian/topo-n1.xml"

/* ---- what mctld would have been told -------------------------------- */

struct reported {
	uint32_t job_id, step_id; /* step_id UINT32_MAX: a batch job */
	Meridian__JobState state;
	int32_t exit_code, failed_rank;
	char reason[300];
};
static struct reported reported[64];
static size_t nreported;

void ctl_job_ended(struct ctl *c, struct unit *j)
{
	struct reported *r = &reported[nreported++ % 64];

	CU_ASSERT_EQUAL(j->kind, UNIT_JOB);
	r->job_id = j->job_id;
	r->step_id = UINT32_MAX;
	r->state = j->end.job->state;
	snprintf(r->reason, sizeof(r->reason), "%s", j->end.job->reason);
}

void ctl_step_ended(struct ctl *c, struct unit *s)
{
	struct reported *r = &reported[nreported++ % 64];

	CU_ASSERT_EQUAL(s->kind, UNIT_STEP);
	r->job_id = s->job_id;
	r->step_id = s->step_id;
	r->state = s->end.step->state;
	r->exit_code = s->end.step->exit_code;
	r->failed_rank = s->end.step->failed_rank;
	snprintf(r->reason, sizeof(r->reason), "%s", s->end.step->reason);
}

static const struct reported *find_reported(uint32_t job_id, uint32_t step_id)
{
	const struct reported *found = NULL;

	for (size_t i = 0; i < nreported && i < 64; i++)
		if (reported[i].job_id == job_id &&
		    reported[i].step_id == step_id) {
			CU_ASSERT_PTR_NULL(found); /* reported once */
			found = &reported[i];
		}
	return found;
}

/* ---- a daemon context over a temporary spool ------------------------- */

static struct conf conf;
static char root[64];

static const char *fake_path(void)
{
	static char *path;

	if (!path)
		path = test_build_path("src/mnoded/test/fake_mstepd");
	return path;
}

/* A fresh spool for one test (spool_remove at its end). */
static void spool_create(void)
{
	snprintf(root, sizeof(root), "/tmp/mnoded-steps.XXXXXX");
	CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(root));
	nreported = 0;
}

static void spool_remove(void)
{
	unit_reap(NULL);
	CU_ASSERT_EQUAL(remove_tree(root), 0);
}

static void daemon_init(struct mnoded *d)
{
	memset(d, 0, sizeof(*d));
	conf.mstepd_path = (char *)fake_path();
	d->conf = &conf;
	d->name = "n1";
	d->spool = root;
	d->topology_file = (char *)TOPO;
	d->log_level = LOG_LVL_INFO;
	d->base = event_base_new();
	TAILQ_INIT(&d->units);
}

static void daemon_fini(struct mnoded *d)
{
	unit_free_all(d);
	event_base_free(d->base);
}

/* Run the loop until the end of job_id.step_id was reported (10 s). */
static const struct reported *wait_end(struct mnoded *d, uint32_t job_id,
				       uint32_t step_id)
{
	const struct reported *r;

	for (int i = 0; i < 1000; i++) {
		if ((r = find_reported(job_id, step_id)))
			return r;
		event_base_loop(d->base, EVLOOP_NONBLOCK);
		unit_reap(d);
		usleep(10 * 1000);
	}
	return NULL;
}

/* Is root/NAME there? */
static bool exists(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static bool exists(const char *fmt, ...)
{
	char path[256], name[64];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(name, sizeof(name), fmt, ap);
	va_end(ap);
	snprintf(path, sizeof(path), "%s/%s", root, name);
	return access(path, F_OK) == 0;
}

/* The size of root/name. */
static off_t size_of(const char *name)
{
	char path[256];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", root, name);
	CU_ASSERT_EQUAL_FATAL(stat(path, &st), 0);
	return st.st_size;
}

/* Run the loop until u's mstepd was reaped (10 s). */
static void wait_reaped(struct mnoded *d, struct unit *u)
{
	CU_ASSERT_PTR_NOT_NULL_FATAL(u);
	for (int i = 0; i < 1000 && u->pid; i++) {
		event_base_loop(d->base, EVLOOP_NONBLOCK);
		unit_reap(d);
		usleep(10 * 1000);
	}
	CU_ASSERT_EQUAL(u->pid, 0);
}

/* ---- LaunchStep -------------------------------------------------------- */

struct launch {
	Meridian__LaunchStep ls;
	Meridian__JobRecord job;
	Meridian__StepRecord step;
	Meridian__StepDesc desc;
	Meridian__StepNode nodes[3], *pnodes[3];
	char *argv[1];
};

/* Step job_id.step_id on n0, n1, n2; this node (n1) is index 1; the fake
 * does what mode says. */
static Meridian__LaunchStep *launch_make(struct launch *l, uint32_t job_id,
					 uint32_t step_id, const char *mode)
{
	static const char *names[] = {"n0", "n1", "n2"};

	meridian__launch_step__init(&l->ls);
	meridian__job_record__init(&l->job);
	meridian__step_record__init(&l->step);
	meridian__step_desc__init(&l->desc);
	l->job.job_id = job_id;
	l->argv[0] = (char *)mode;
	l->desc.argv = l->argv;
	l->desc.n_argv = 1;
	l->step.step_id = step_id;
	l->step.desc = &l->desc;
	for (int i = 0; i < 3; i++) {
		meridian__step_node__init(&l->nodes[i]);
		l->nodes[i].node = (char *)names[i];
		l->nodes[i].first_rank = 2 * i;
		l->nodes[i].ntasks = 2;
		l->pnodes[i] = &l->nodes[i];
	}
	l->step.nodes = l->pnodes;
	l->step.n_nodes = 3;
	l->ls.job = &l->job;
	l->ls.step = &l->step;
	l->ls.node_index = 1;
	l->ls.io_host = "127.0.0.1";
	l->ls.io_port = 4242;
	return &l->ls;
}

static int launch(struct mnoded *d, uint32_t job_id, uint32_t step_id,
		  const char *mode)
{
	struct launch l;
	struct mer_error err = {""};
	int rc = steps_launch(d, launch_make(&l, job_id, step_id, mode), &err);

	if (rc)
		fprintf(stderr, "steps_launch %u.%u: %s\n", job_id, step_id,
			err.text);
	return rc;
}

/* ---- tests ------------------------------------------------------------- */

static void test_launch_and_end(void)
{
	struct mnoded d;
	const struct reported *r;
	struct stat st;
	ino_t ino;
	char path[256], *data;
	Meridian__LaunchStep *ls;
	mode_t old_umask;
	size_t n;

	spool_create();
	daemon_init(&d);
	/* the spool's modes must not depend on mnoded's umask */
	old_umask = umask(0);
	CU_ASSERT_EQUAL_FATAL(launch(&d, 7, 0, "true"), 0);
	umask(old_umask);
	CU_ASSERT_PTR_NOT_NULL(steps_find(&d, 7, 0));
	/* the directory and launch file, as the spec says */
	snprintf(path, sizeof(path), "%s/step.7.0", root);
	CU_ASSERT_EQUAL_FATAL(stat(path, &st), 0);
	CU_ASSERT_EQUAL(st.st_mode & 07777, 0711);
	snprintf(path, sizeof(path), "%s/step.7.0/launch", root);
	CU_ASSERT_EQUAL_FATAL(stat(path, &st), 0);
	CU_ASSERT_EQUAL(st.st_mode & 07777, 0600);
	CU_ASSERT_EQUAL_FATAL(read_file(path, &data, &n), 0);
	ls = meridian__launch_step__unpack(NULL, n, (uint8_t *)data);
	CU_ASSERT_PTR_NOT_NULL_FATAL(ls);
	CU_ASSERT_STRING_EQUAL(ls->topology_file, TOPO);
	CU_ASSERT_STRING_EQUAL(ls->io_host, "127.0.0.1");
	CU_ASSERT_EQUAL(ls->node_index, 1);
	meridian__launch_step__free_unpacked(ls, NULL);
	free(data);

	/* the fake checked -s -j -S -N against the launch file */
	r = wait_end(&d, 7, 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	CU_ASSERT_EQUAL(r->state, MERIDIAN__JOB_STATE__JOB_COMPLETED);
	CU_ASSERT_STRING_EQUAL(r->reason, "ok index=1 topo=" TOPO);
	CU_ASSERT_EQUAL(steps_find(&d, 7, 0)->end_in_flight, false);
	/* no mctld to take it: its end file was made durable */
	CU_ASSERT_TRUE(steps_find(&d, 7, 0)->end_synced);
	/* what the share left: launch and end, both owner-only */
	snprintf(path, sizeof(path), "%s/step.7.0/launch", root);
	CU_ASSERT_EQUAL_FATAL(stat(path, &st), 0);
	CU_ASSERT_EQUAL(st.st_mode & 07777, 0600);
	snprintf(path, sizeof(path), "%s/step.7.0/end", root);
	CU_ASSERT_EQUAL_FATAL(stat(path, &st), 0);
	CU_ASSERT_EQUAL(st.st_mode & 07777, 0600);

	/* acknowledged: forgotten, and its directory kept as a spare,
	 * emptied, once mstepd was reaped */
	wait_reaped(&d, steps_find(&d, 7, 0));
	snprintf(path, sizeof(path), "%s/step.7.0", root);
	CU_ASSERT_EQUAL_FATAL(stat(path, &st), 0);
	ino = st.st_ino;
	unit_end_acked(steps_find(&d, 7, 0));
	CU_ASSERT_PTR_NULL(steps_find(&d, 7, 0));
	CU_ASSERT_FALSE(exists("step.%u.%u", 7, 0));
	CU_ASSERT_EQUAL(d.nspares, 1);
	CU_ASSERT_EQUAL(size_of("spare.0/launch"), 0);
	CU_ASSERT_EQUAL(size_of("spare.0/end"), 0);

	/* the next share takes it: the same directory, launch written
	 * whole, the mode its kind's, no end until mstepd writes one */
	CU_ASSERT_EQUAL_FATAL(launch(&d, 7, 5, "true"), 0);
	CU_ASSERT_EQUAL(d.nspares, 0);
	CU_ASSERT_FALSE(exists("spare.0"));
	snprintf(path, sizeof(path), "%s/step.7.5", root);
	CU_ASSERT_EQUAL_FATAL(stat(path, &st), 0);
	CU_ASSERT_EQUAL(st.st_ino, ino);
	CU_ASSERT_EQUAL(st.st_mode & 07777, 0711);
	r = wait_end(&d, 7, 5);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	CU_ASSERT_EQUAL(r->state, MERIDIAN__JOB_STATE__JOB_COMPLETED);
	CU_ASSERT_STRING_EQUAL(r->reason, "ok index=1 topo=" TOPO);
	wait_reaped(&d, steps_find(&d, 7, 5));
	unit_end_acked(steps_find(&d, 7, 5));
	CU_ASSERT_EQUAL(d.nspares, 1);
	CU_ASSERT(exists("spare.1"));
	CU_ASSERT_FALSE(exists("step.%u.%u", 7, 5));
	daemon_fini(&d);
	spool_remove();
}

/* The ack of an end can come before mnoded reaped the mstepd (which
 * closed its socket on its way out): the directory is a spare at once,
 * but is taken, and emptied, only once that mstepd was reaped. */
static void test_spare_after_reap(void)
{
	struct mnoded d;
	struct unit *u;
	char path[256];
	struct stat st;

	spool_create();
	daemon_init(&d);
	CU_ASSERT_EQUAL_FATAL(launch(&d, 7, 1, "linger"), 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(wait_end(&d, 7, 1));
	u = steps_find(&d, 7, 1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(u);
	CU_ASSERT_NOT_EQUAL_FATAL(u->pid, 0); /* still lingering */
	unit_end_acked(u);
	CU_ASSERT_FALSE(exists("step.%u.%u", 7, 1));
	CU_ASSERT_EQUAL_FATAL(d.nspares, 1);
	CU_ASSERT_NOT_EQUAL(d.spares[0].pid, 0);
	CU_ASSERT_NOT_EQUAL(size_of("spare.0/end"), 0); /* not yet emptied */

	/* not taken while its mstepd may still be there */
	CU_ASSERT_EQUAL_FATAL(launch(&d, 7, 2, "true"), 0);
	CU_ASSERT(exists("spare.0"));
	CU_ASSERT_EQUAL(d.nspares, 1);

	/* reaped: emptied, and the next unit's */
	for (int i = 0; i < 1000 && d.spares[0].pid; i++) {
		unit_reap(&d);
		usleep(10 * 1000);
	}
	CU_ASSERT_EQUAL_FATAL(d.spares[0].pid, 0);
	CU_ASSERT_EQUAL(size_of("spare.0/end"), 0);
	snprintf(path, sizeof(path), "%s/spare.0", root);
	CU_ASSERT_EQUAL_FATAL(stat(path, &st), 0);
	CU_ASSERT_EQUAL_FATAL(launch(&d, 7, 3, "true"), 0);
	CU_ASSERT_FALSE(exists("spare.0"));
	snprintf(path, sizeof(path), "%s/step.7.3", root);
	{
		ino_t ino = st.st_ino;

		CU_ASSERT_EQUAL_FATAL(stat(path, &st), 0);
		CU_ASSERT_EQUAL(st.st_ino, ino);
	}
	CU_ASSERT_PTR_NOT_NULL(wait_end(&d, 7, 2));
	CU_ASSERT_PTR_NOT_NULL(wait_end(&d, 7, 3));
	daemon_fini(&d);
	spool_remove();
}

/* No more than UNIT_SPARES_MAX spares: the ends beyond them are
 * removed. */
static void test_spares_bounded(void)
{
	struct mnoded d;
	unsigned n = UNIT_SPARES_MAX + 2;

	spool_create();
	daemon_init(&d);
	for (unsigned i = 0; i < n; i++)
		CU_ASSERT_EQUAL_FATAL(launch(&d, 9, i, "true"), 0);
	for (unsigned i = 0; i < n; i++) {
		CU_ASSERT_PTR_NOT_NULL_FATAL(wait_end(&d, 9, i));
		wait_reaped(&d, steps_find(&d, 9, i));
	}
	for (unsigned i = 0; i < n; i++)
		unit_end_acked(steps_find(&d, 9, i));
	CU_ASSERT_EQUAL(d.nspares, UNIT_SPARES_MAX);
	CU_ASSERT(exists("spare.%u", UNIT_SPARES_MAX - 1));
	CU_ASSERT_FALSE(exists("spare.%u", UNIT_SPARES_MAX));
	for (unsigned i = 0; i < n; i++)
		CU_ASSERT_FALSE(exists("step.9.%u", i));
	daemon_fini(&d);
	spool_remove();
}

static void test_launch_refused(void)
{
	struct mnoded d;
	struct launch l;
	struct mer_error err = {""};
	Meridian__LaunchStep *ls;

	spool_create();
	daemon_init(&d);
	ls = launch_make(&l, 7, 1, "true");
	ls->node_index = 0; /* n0 is not us */
	CU_ASSERT_EQUAL(steps_launch(&d, ls, &err), -1);
	CU_ASSERT_EQUAL(errno, EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.text, "this is node n1"));
	ls->node_index = 3; /* the step has 3 nodes */
	CU_ASSERT_EQUAL(steps_launch(&d, ls, &err), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.text, "the step has 3 nodes"));
	ls->node_index = 1;
	ls->step = NULL;
	CU_ASSERT_EQUAL(steps_launch(&d, ls, &err), -1);
	CU_ASSERT_PTR_NULL(steps_find(&d, 7, 1));
	CU_ASSERT_FALSE(exists("step.%u.%u", 7, 1));
	daemon_fini(&d);
	spool_remove();
}

static void test_launch_twice_signal_step(void)
{
	struct mnoded d;
	Meridian__SignalJob sj = MERIDIAN__SIGNAL_JOB__INIT;
	struct mer_error err = {""};
	const struct reported *r;
	struct unit *s;
	size_t n = 0;

	spool_create();
	daemon_init(&d);
	CU_ASSERT_EQUAL_FATAL(launch(&d, 7, 2, "wait"), 0);
	CU_ASSERT_EQUAL_FATAL(launch(&d, 7, 2, "wait"), 0);
	TAILQ_FOREACH(s, &d.units, link)
		n += s->kind == UNIT_STEP;
	CU_ASSERT_EQUAL(n, 1);

	/* a step that is not here */
	sj.job_id = 7;
	sj.has_step = true;
	sj.step_id = 9;
	sj.cancel = true;
	sj.reason = "mcancel";
	CU_ASSERT_EQUAL(launch_signal(&d, &sj, &err), -1);
	CU_ASSERT_EQUAL(errno, ENOENT);
	CU_ASSERT_STRING_EQUAL(err.text, "step 7.9 is not on node n1");

	sj.step_id = 2;
	CU_ASSERT_EQUAL(launch_signal(&d, &sj, &err), 0);
	r = wait_end(&d, 7, 2);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	CU_ASSERT_EQUAL(r->state, MERIDIAN__JOB_STATE__JOB_CANCELLED);
	CU_ASSERT_STRING_EQUAL(r->reason,
			       "signal=0 cancel=1 step=7.2 reason=mcancel");
	/* a signal for a step that ended (not yet acknowledged) is fine */
	CU_ASSERT_EQUAL(launch_signal(&d, &sj, &err), 0);
	unit_end_acked(steps_find(&d, 7, 2));
	daemon_fini(&d);
	spool_remove();
}

static void test_mstepd_died(void)
{
	struct mnoded d;
	const struct reported *r;
	Meridian__StepEnd *e;
	char dir[128];

	spool_create();
	daemon_init(&d);
	CU_ASSERT_EQUAL_FATAL(launch(&d, 7, 3, "die"), 0);
	r = wait_end(&d, 7, 3);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	CU_ASSERT_EQUAL(r->state, MERIDIAN__JOB_STATE__JOB_FAILED);
	CU_ASSERT_STRING_EQUAL(r->reason, "mstepd died");
	CU_ASSERT_EQUAL(r->failed_rank, -1);
	CU_ASSERT_EQUAL(r->exit_code, 128 + SIGKILL);
	/* written down for a restarted mnoded */
	snprintf(dir, sizeof(dir), "%s/step.7.3", root);
	e = spool_read_step_end(dir, 7, 3, NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(e);
	CU_ASSERT_STRING_EQUAL(e->reason, "mstepd died");
	CU_ASSERT_STRING_EQUAL(e->node, "n1");
	CU_ASSERT_EQUAL(e->step_id, 3);
	meridian__step_end__free_unpacked(e, NULL);
	unit_end_acked(steps_find(&d, 7, 3));
	CU_ASSERT_FALSE(exists("step.%u.%u", 7, 3));
	daemon_fini(&d);
	spool_remove();
}

static void test_signal_whole_job(void)
{
	struct mnoded d;
	Meridian__SignalJob sj = MERIDIAN__SIGNAL_JOB__INIT;
	struct mer_error err = {""};
	const struct reported *r;

	spool_create();
	daemon_init(&d);
	CU_ASSERT_EQUAL_FATAL(launch(&d, 8, 0, "wait"), 0);
	CU_ASSERT_EQUAL_FATAL(launch(&d, 8, 1, "wait"), 0);
	/* no batch script here (an allocation, or not the batch host):
	 * the job's steps get it */
	sj.job_id = 8;
	sj.signal = SIGUSR1;
	CU_ASSERT_EQUAL(launch_signal(&d, &sj, &err), 0);
	for (uint32_t s = 0; s < 2; s++) {
		char want[100];

		r = wait_end(&d, 8, s);
		CU_ASSERT_PTR_NOT_NULL_FATAL(r);
		snprintf(want, sizeof(want),
			 "signal=%d cancel=0 step=8.%u reason=", SIGUSR1, s);
		CU_ASSERT_STRING_EQUAL(r->reason, want);
		unit_end_acked(steps_find(&d, 8, s));
	}
	/* nothing of job 9 here */
	sj.job_id = 9;
	CU_ASSERT_EQUAL(launch_signal(&d, &sj, &err), -1);
	CU_ASSERT_EQUAL(errno, ENOENT);
	CU_ASSERT_STRING_EQUAL(err.text, "job 9 is not on node n1");
	daemon_fini(&d);
	spool_remove();
}

static void test_batch_end_cancels_steps(void)
{
	struct mnoded d;
	Meridian__LaunchJob lj = MERIDIAN__LAUNCH_JOB__INIT;
	Meridian__JobRecord job = MERIDIAN__JOB_RECORD__INIT;
	struct mer_error err = {""};
	const struct reported *r;

	spool_create();
	daemon_init(&d);
	CU_ASSERT_EQUAL_FATAL(launch(&d, 10, 0, "wait"), 0);
	job.job_id = 10;
	lj.job = &job;
	/* the fake ends a batch job at once */
	CU_ASSERT_EQUAL_FATAL(launch_job(&d, &lj, (const uint8_t *)"", 0, &err),
			      0);
	r = wait_end(&d, 10, UINT32_MAX);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	CU_ASSERT_EQUAL(r->state, MERIDIAN__JOB_STATE__JOB_COMPLETED);
	r = wait_end(&d, 10, 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	CU_ASSERT_EQUAL(r->state, MERIDIAN__JOB_STATE__JOB_CANCELLED);
	CU_ASSERT_STRING_EQUAL(r->reason,
			       "signal=9 cancel=1 step=10.0 reason=the job's "
			       "batch script ended");
	unit_end_acked(launch_find(&d, 10));
	unit_end_acked(steps_find(&d, 10, 0));
	CU_ASSERT_FALSE(exists("job.%u", 10));
	daemon_fini(&d);
	spool_remove();
}

/* A step directory as an earlier mnoded left it. */
static void make_step_dir(uint32_t job_id, uint32_t step_id, bool launch_file,
			  const char *end_reason)
{
	char dir[128], path[160];

	snprintf(dir, sizeof(dir), "%s/step.%u.%u", root, job_id, step_id);
	CU_ASSERT_EQUAL_FATAL(mkdir(dir, 0711), 0);
	if (launch_file) {
		struct utimbuf old = {1000, 1000}; /* mstepd long started */

		/* not empty: an empty one is not there (spool.h) */
		snprintf(path, sizeof(path), "%s/launch", dir);
		CU_ASSERT_EQUAL(write_file_atomic(path, "x", 1, 0600), 0);
		CU_ASSERT_EQUAL(utime(path, &old), 0);
	}
	if (end_reason) {
		Meridian__StepEnd e = MERIDIAN__STEP_END__INIT;

		e.job_id = job_id;
		e.step_id = step_id;
		e.state = MERIDIAN__JOB_STATE__JOB_FAILED;
		e.exit_code = 7;
		e.failed_rank = 3;
		e.reason = (char *)end_reason;
		CU_ASSERT_EQUAL(spool_write_end(dir, &e.base, NULL), 0);
	}
}

/* root/name as a spare directory an earlier mnoded left, holding the
 * files named (NULL-terminated), each a few bytes. */
static void make_spare(const char *name, ...)
{
	char dir[128], path[200];
	const char *f;
	va_list ap;

	snprintf(dir, sizeof(dir), "%s/%s", root, name);
	CU_ASSERT_EQUAL_FATAL(mkdir(dir, 0711), 0);
	va_start(ap, name);
	while ((f = va_arg(ap, const char *))) {
		snprintf(path, sizeof(path), "%s/%s", dir, f);
		CU_ASSERT_EQUAL(write_file_atomic(path, "xyz", 3, 0600), 0);
	}
	va_end(ap);
}

static void test_scan(void)
{
	struct mnoded before, d;
	Meridian__JobEnd je = MERIDIAN__JOB_END__INIT;
	const struct reported *r;
	struct unit *s;
	char dir[128];

	spool_create();
	/* a share still running, left by an mnoded that went away: its
	 * mstepd keeps going without mnoded's end of fd 3 */
	daemon_init(&before);
	CU_ASSERT_EQUAL_FATAL(launch(&before, 12, 3, "wait"), 0);
	daemon_fini(&before);
	/* its batch job ended meanwhile */
	snprintf(dir, sizeof(dir), "%s/job.12", root);
	CU_ASSERT_EQUAL_FATAL(mkdir(dir, 0700), 0);
	je.job_id = 12;
	je.state = MERIDIAN__JOB_STATE__JOB_COMPLETED;
	CU_ASSERT_EQUAL(spool_write_end(dir, &je.base, NULL), 0);
	make_step_dir(11, 0, true, "rank 3 on n1 exited with code 7");
	make_step_dir(11, 1, true, NULL);  /* mstepd died */
	make_step_dir(11, 2, false, NULL); /* mnoded died before launch */
	snprintf(dir, sizeof(dir), "%s/step.11", root);
	CU_ASSERT_EQUAL(mkdir(dir, 0700), 0); /* not a step directory */
	/* spares: one with what a job leaves (kept, emptied), one with
	 * something else in it (removed), one misnamed (left alone) */
	make_spare("spare.6", "launch", "script", "end", NULL);
	make_spare("spare.3", "launch", "junk", NULL);
	make_spare("spare.x", "launch", NULL);

	daemon_init(&d);
	CU_ASSERT_EQUAL_FATAL(unit_scan_spool(&d), 0);
	CU_ASSERT_EQUAL(d.nspares, 1);
	CU_ASSERT_EQUAL(d.spares[0].n, 6);
	CU_ASSERT_EQUAL(d.spares[0].pid, 0);
	CU_ASSERT_EQUAL(d.spare_next, 7);
	CU_ASSERT_EQUAL(size_of("spare.6/launch"), 0);
	CU_ASSERT_EQUAL(size_of("spare.6/end"), 0);
	CU_ASSERT_FALSE(exists("spare.6/script"));
	CU_ASSERT_FALSE(exists("spare.3"));
	CU_ASSERT(exists("spare.x"));

	s = steps_find(&d, 11, 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT_PTR_NOT_NULL_FATAL(s->end.step);
	CU_ASSERT_STRING_EQUAL(s->end.step->reason,
			       "rank 3 on n1 exited with code 7");
	CU_ASSERT_EQUAL(s->end.step->failed_rank, 3);

	r = find_reported(11, 1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	CU_ASSERT_EQUAL(r->state, MERIDIAN__JOB_STATE__JOB_FAILED);
	CU_ASSERT_STRING_EQUAL(r->reason, "mstepd died");

	CU_ASSERT_PTR_NULL(steps_find(&d, 11, 2));
	CU_ASSERT_FALSE(exists("step.%u.%u", 11, 2));
	CU_ASSERT(exists("step.%u", 11)); /* not ours: left alone */

	/* reattached through stepd.sock, and cancelled: job 12 ended */
	s = steps_find(&d, 12, 3);
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT_PTR_NOT_NULL(s->stepd);
	CU_ASSERT(s->cancel_sent);
	r = wait_end(&d, 12, 3);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	CU_ASSERT_STRING_EQUAL(r->reason,
			       "signal=9 cancel=1 step=12.3 reason=the job's "
			       "batch script ended");
	CU_ASSERT_PTR_NOT_NULL(launch_find(&d, 12));

	unit_end_acked(steps_find(&d, 11, 0));
	unit_end_acked(steps_find(&d, 11, 1));
	unit_end_acked(steps_find(&d, 12, 3));
	unit_end_acked(launch_find(&d, 12));
	CU_ASSERT_PTR_NULL(TAILQ_FIRST(&d.units));
	daemon_fini(&d);
	spool_remove();
}

/* An mnoded restarted before the mstepd of a long-running share listens
 * on stepd.sock (it does only once its first mnoded is gone) waits for
 * it, since the mstepd holds its launch file locked, rather than record
 * the share lost and kill its ranks. */
static void test_scan_waits_for_live_mstepd(void)
{
	struct utimbuf old = {1000, 1000}; /* no start-up grace */
	struct mnoded before, d;
	const struct reported *r;
	struct unit *s;
	char path[160];

	spool_create();
	daemon_init(&before);
	CU_ASSERT_EQUAL_FATAL(launch(&before, 13, 1, "wait-slow"), 0);
	snprintf(path, sizeof(path), "%s/step.13.1/launch", root);
	CU_ASSERT_EQUAL(utime(path, &old), 0);
	usleep(200 * 1000); /* it has its lock */
	daemon_fini(&before);

	daemon_init(&d);
	CU_ASSERT_EQUAL_FATAL(unit_scan_spool(&d), 0);
	s = steps_find(&d, 13, 1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT_PTR_NULL(s->end.msg);
	CU_ASSERT_PTR_NOT_NULL_FATAL(s->stepd);
	CU_ASSERT_PTR_NULL(find_reported(13, 1));
	steps_cancel_job(&d, 13, "test");
	r = wait_end(&d, 13, 1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	CU_ASSERT_EQUAL(r->state, MERIDIAN__JOB_STATE__JOB_CANCELLED);
	unit_end_acked(steps_find(&d, 13, 1));
	daemon_fini(&d);
	spool_remove();
}

static CU_TestInfo tests[] = {
	{"launch, the launch file, the end, the spare", test_launch_and_end},
	{"a spare is handed on once its mstepd was reaped",
	 test_spare_after_reap},
	{"spare directories are bounded", test_spares_bounded},
	{"launch refused: not this node", test_launch_refused},
	{"launch twice, signal one step", test_launch_twice_signal_step},
	{"mstepd died without an end", test_mstepd_died},
	{"signal every step of a job", test_signal_whole_job},
	{"batch script end cancels steps", test_batch_end_cancels_steps},
	{"start-up scan of step directories", test_scan},
	{"start-up waits for an mstepd not listening yet",
	 test_scan_waits_for_live_mstepd},
	CU_TEST_INFO_NULL,
};

CUNIT_MAIN("mnoded steps", tests)
