/*
 * test_sched_fifo.c - sched/fifo order and reasons, over a fake core.
 */
#include "config.h"

#include <string.h>

#include "cunit_main.h"
#include "harness.h"
#include "plugin_loader.h"

struct fake_core {
	uint32_t tried[16];
	size_t ntried;
	uint32_t startable[16]; /* ids that start */
	size_t nstartable;
	const char *reason[32]; /* by job id */
};

static int fake_try(void *core, const struct mer_sched_job *job,
		    struct mer_error *err)
{
	struct fake_core *c = core;
	size_t i;

	c->tried[c->ntried++] = job->job_id;
	for (i = 0; i < c->nstartable; i++)
		if (c->startable[i] == job->job_id)
			return 0;
	c->reason[job->job_id] = "Resources";
	strcpy(err->text, "Resources");
	return -1;
}

static void fake_reason(void *core, uint32_t id, const char *reason)
{
	((struct fake_core *)core)->reason[id] = reason;
}

static struct mer_sched_job J(uint32_t id, const char *part, uint32_t prio) {
	struct mer_sched_job j = {0};

	j.job_id = id;
	j.partition = part;
	j.priority = prio;
	j.num_nodes = 1;
	return j;
}

static void
test_fifo(void)
{
	struct mer_error err = {""};
	const struct mer_sched_ops *ops;
	struct plugin_handle *h;
	const void *o;
	void *st;
	struct fake_core core = {0};
	struct mer_sched_api api = {fake_try, fake_reason, &core};
	struct mer_sched_job jobs[6];
	char b[] = "b"; /* a different pointer to an equal name */

	h = plugin_load(th_plugin_dir(), "SchedulerType", "sched/fifo",
			MER_PLUGIN_SCHED, MER_SCHED_ABI, &o, &err);
	if (!h)
		fprintf(stderr, "\n  %s\n", err.text);
	CU_ASSERT_PTR_NOT_NULL_FATAL(h);
	ops = o;
	st = ops->init(NULL, &err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(st);

	/* submit order; job 6 has a higher priority and goes first */
	jobs[0] = J(1, "a", 1);
	jobs[1] = J(2, "a", 1);
	jobs[2] = J(3, "b", 1);
	jobs[3] = J(4, "a", 1);
	jobs[4] = J(5, b, 1);
	jobs[5] = J(6, "a", 5);
	core.startable[core.nstartable++] = 6;
	core.startable[core.nstartable++] = 1;
	core.startable[core.nstartable++] = 4; /* must not jump job 2 */
	core.startable[core.nstartable++] = 5;
	ops->schedule(st, jobs, 6, &api);

	/* tried: 6, 1, 2 (blocks a), 3 (blocks b); 4 and 5 only get reasons */
	CU_ASSERT_EQUAL(core.ntried, 4);
	CU_ASSERT_EQUAL(core.tried[0], 6);
	CU_ASSERT_EQUAL(core.tried[1], 1);
	CU_ASSERT_EQUAL(core.tried[2], 2);
	CU_ASSERT_EQUAL(core.tried[3], 3);
	CU_ASSERT_STRING_EQUAL(core.reason[2], "Resources");
	CU_ASSERT_STRING_EQUAL(core.reason[3], "Resources");
	CU_ASSERT_STRING_EQUAL(core.reason[4], "Priority");
	CU_ASSERT_STRING_EQUAL(core.reason[5], "Priority");
	CU_ASSERT_PTR_NULL(core.reason[1]);

	/* a second pass starts from scratch: nothing stays blocked */
	memset(&core, 0, sizeof(core));
	core.startable[core.nstartable++] = 2;
	jobs[0] = J(2, "a", 1);
	jobs[1] = J(3, "b", 1);
	ops->schedule(st, jobs, 2, &api);
	CU_ASSERT_EQUAL(core.ntried, 2);

	ops->fini(st);
	plugin_unload(h);
}

static CU_TestInfo tests[] = {
	{"strict FIFO per partition", test_fifo},
	CU_TEST_INFO_NULL,
};

CUNIT_MAIN("sched/fifo", tests)
