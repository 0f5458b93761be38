/*
 * test_backfill.c - sched/backfill's decisions on a simulated clock,
 * against a small core of its own: whole nodes, one job each, running jobs
 * ending at their time limits, reservations that try_start honours (as
 * mctld's sched.c does).  No sleeps: `now` is whatever the test says.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <meridian/plugin_sched.h>

#include "cunit_main.h"

extern const struct mer_sched_ops meridian_plugin;

#define NODES 4
#define JOBS  16

struct fake {
	int64_t now;
	size_t nnodes;
	int64_t busy_until[NODES]; /* 0 free, MER_TIME_NEVER for ever */
	uint32_t busy_job[NODES];
	struct {
		uint32_t job;
		int64_t start, end;
		bool node[NODES];
	} resv[JOBS];
	size_t nresv;
	uint32_t started[JOBS];
	size_t nstarted;
	char reason[JOBS + 1][32]; /* by job id */
	int64_t expected[JOBS + 1];
	int64_t wake;
	unsigned trials, tries; /* trial() and try_start() calls */
	struct mer_sched_view view;
	struct mer_sched_node vn[NODES];
};

static struct fake F;

static int64_t end_of(int64_t t, uint32_t limit)
{
	return limit ? t + (int64_t)limit * 60 : MER_TIME_NEVER;
}

/* Node n is free at t and held by no other job's reservation that
 * overlaps [t, x_end). */
static bool free_at(size_t n, int64_t t, int64_t x_end, uint32_t job)
{
	if (F.busy_until[n] && F.busy_until[n] > t)
		return false;
	for (size_t r = 0; r < F.nresv; r++)
		if (F.resv[r].job != job && F.resv[r].node[n] &&
		    F.resv[r].start < x_end && F.resv[r].end > t)
			return false;
	return true;
}

static int fake_try_start(void *core, const struct mer_sched_job *j,
			  struct mer_error *err)
{
	size_t got = 0, pick[NODES];
	int64_t end = end_of(F.now, j->time_limit);

	(void)core;
	F.tries++;
	for (size_t n = 0; n < F.nnodes && got < j->num_nodes; n++)
		if (free_at(n, F.now, end, j->job_id))
			pick[got++] = n;
	if (got < j->num_nodes) {
		snprintf(err->text, sizeof(err->text), "Resources");
		snprintf(F.reason[j->job_id], sizeof(F.reason[0]), "Resources");
		return -1;
	}
	for (size_t k = 0; k < got; k++) {
		F.busy_until[pick[k]] = end;
		F.busy_job[pick[k]] = j->job_id;
		F.vn[pick[k]].cpus_free = 0;
	}
	F.view.nrunning++; /* the view changes as mctld's does */
	F.started[F.nstarted++] = j->job_id;
	snprintf(F.reason[j->job_id], sizeof(F.reason[0]), "None");
	return 0;
}

static void fake_set_reason(void *core, uint32_t id, const char *reason)
{
	(void)core;
	snprintf(F.reason[id], sizeof(F.reason[0]), "%s", reason);
}

static int cmp64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

static int fake_trial(void *core, const struct mer_sched_job *j,
		      struct mer_sched_trial *out, struct mer_error *err)
{
	int64_t times[NODES + JOBS + 1];
	size_t nt = 0;

	(void)core;
	F.trials++;
	times[nt++] = F.now;
	for (size_t n = 0; n < F.nnodes; n++)
		if (F.busy_until[n] && F.busy_until[n] != MER_TIME_NEVER)
			times[nt++] = F.busy_until[n];
	for (size_t r = 0; r < F.nresv; r++)
		if (F.resv[r].end != MER_TIME_NEVER)
			times[nt++] = F.resv[r].end;
	qsort(times, nt, sizeof(*times), cmp64);
	for (size_t i = 0; i < nt; i++) {
		int64_t t = times[i], end = end_of(t, j->time_limit);
		uint32_t got = 0;

		for (size_t n = 0; n < F.nnodes && got < j->num_nodes; n++)
			if (free_at(n, t, end, j->job_id))
				out->node_index[got++] = (uint32_t)n;
		if (got == j->num_nodes) {
			out->start = t;
			out->nnodes = got;
			F.expected[j->job_id] = t;
			return 0;
		}
	}
	out->start = MER_TIME_NEVER;
	snprintf(err->text, sizeof(err->text), "Resources");
	return -1;
}

static int fake_reserve(void *core, const struct mer_sched_job *j,
			const struct mer_sched_trial *at, struct mer_error *err)
{
	(void)core;
	(void)err;
	memset(&F.resv[F.nresv], 0, sizeof(F.resv[0]));
	F.resv[F.nresv].job = j->job_id;
	F.resv[F.nresv].start = at->start;
	F.resv[F.nresv].end = end_of(at->start, j->time_limit);
	for (uint32_t k = 0; k < at->nnodes; k++)
		F.resv[F.nresv].node[at->node_index[k]] = true;
	F.nresv++;
	return 0;
}

static void fake_wake_at(void *core, int64_t when)
{
	(void)core;
	if (!F.wake || when < F.wake)
		F.wake = when;
}

static const char *conf_vals[3][2];

static const char *conf_get(void *conf, const char *k)
{
	(void)conf;
	for (int i = 0; i < 3 && conf_vals[i][0]; i++)
		if (strcmp(conf_vals[i][0], k) == 0)
			return conf_vals[i][1];
	return NULL;
}

static void *start(const char *resv, int64_t now)
{
	struct mer_plugin_conf pc = {conf_get, NULL};
	struct mer_error err = {""};
	void *st;

	memset(&F, 0, sizeof(F));
	F.now = now;
	F.nnodes = 2;
	memset(conf_vals, 0, sizeof(conf_vals));
	conf_vals[0][0] = "BackfillInterval";
	conf_vals[0][1] = "30";
	if (resv) {
		conf_vals[1][0] = "BackfillReservations";
		conf_vals[1][1] = resv;
	}
	st = meridian_plugin.init(&pc, &err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(st);
	return st;
}

/* One pass at F.now over jobs (reservations last one pass, as in mctld). */
static void pass(void *st, struct mer_sched_job *jobs, size_t n)
{
	struct mer_sched_api api;

	memset(&api, 0, sizeof(api));
	api.try_start = fake_try_start;
	api.set_reason = fake_set_reason;
	api.trial = fake_trial;
	api.reserve = fake_reserve;
	api.wake_at = fake_wake_at;
	api.view = &F.view;
	F.view.now = F.now;
	F.view.nodes = F.vn;
	F.view.nnodes = F.nnodes;
	for (size_t k = 0; k < F.nnodes; k++) {
		F.vn[k].usable = true;
		F.vn[k].cpus = 1;
		F.vn[k].cpus_free = F.busy_until[k] > F.now ? 0 : 1;
	}
	F.nresv = 0;
	F.nstarted = 0;
	F.wake = 0;
	F.tries = 0;
	meridian_plugin.schedule(st, jobs, n, &api);
}

static struct mer_sched_job job(uint32_t id, uint32_t nodes, uint32_t limit,
				uint32_t prio)
{
	struct mer_sched_job j;

	memset(&j, 0, sizeof(j));
	j.job_id = id;
	j.partition = "main";
	j.priority = prio;
	j.num_nodes = nodes;
	j.time_limit = limit;
	j.cpus_per_node = 1;
	return j;
}

static bool was_started(uint32_t id)
{
	for (size_t i = 0; i < F.nstarted; i++)
		if (F.started[i] == id)
			return true;
	return false;
}

/*
 * Node 0 runs a job until now + 5 min.  B wants both nodes (top
 * priority): it cannot start, and is reserved from then.  S (1 node, 1
 * minute) fits before that and starts now; L (1 node, 10 minutes) would
 * delay B and waits, its expected start after B's end.
 */
static void test_easy(void)
{
	int64_t t0 = 1000000;
	void *st = start(NULL, t0);
	struct mer_sched_job jobs[3];

	F.busy_until[0] = t0 + 300;
	jobs[0] = job(2, 2, 60, 10);
	jobs[1] = job(3, 1, 10, 1); /* L, submitted before S */
	jobs[2] = job(4, 1, 1, 1);  /* S */
	pass(st, jobs, 3);
	CU_ASSERT_FALSE(was_started(2));
	CU_ASSERT_FALSE(was_started(3));
	CU_ASSERT_TRUE(was_started(4));
	CU_ASSERT_EQUAL(F.nresv, 1);
	CU_ASSERT_EQUAL(F.resv[0].job, 2);
	CU_ASSERT_EQUAL(F.resv[0].start, t0 + 300);
	CU_ASSERT_EQUAL(F.expected[2], t0 + 300);
	/* L: after B's reservation ends */
	CU_ASSERT_EQUAL(F.expected[3], t0 + 300 + 3600);
	CU_ASSERT_STRING_EQUAL(F.reason[2], "Resources");
	/* the next backfill pass is asked for */
	CU_ASSERT_EQUAL(F.wake, t0 + 30);
	meridian_plugin.fini(st);
}

/* Between backfill passes only strict order: a short job that could
 * backfill waits (Priority) until the next backfill pass. */
static void test_main_between(void)
{
	int64_t t0 = 2000000;
	void *st = start(NULL, t0);
	struct mer_sched_job jobs[2];

	F.busy_until[0] = t0 + 300;
	jobs[0] = job(2, 2, 60, 10);
	pass(st, jobs, 1); /* the backfill pass: B reserved */
	CU_ASSERT_FALSE(was_started(2));
	F.now = t0 + 5;
	jobs[0] = job(2, 2, 60, 10);
	jobs[1] = job(5, 1, 1, 1);
	pass(st, jobs, 2);
	CU_ASSERT_FALSE(was_started(5));
	CU_ASSERT_STRING_EQUAL(F.reason[5], "Priority");
	CU_ASSERT_EQUAL(F.trials, 1); /* no trial in a main pass */
	CU_ASSERT_EQUAL(F.wake, t0 + 30);
	/* the interval over: backfilled */
	F.now = t0 + 30;
	pass(st, jobs, 2);
	CU_ASSERT_TRUE(was_started(5));
	CU_ASSERT_FALSE(was_started(2));
	meridian_plugin.fini(st);
}

/* Priority beats submit order; equal priorities go by job id. */
static void test_order(void)
{
	int64_t t0 = 3000000;
	void *st = start(NULL, t0);
	struct mer_sched_job jobs[3];

	F.nnodes = 1;
	jobs[0] = job(7, 1, 10, 1);
	jobs[1] = job(8, 1, 10, 5);
	jobs[2] = job(9, 1, 10, 5);
	pass(st, jobs, 3);
	CU_ASSERT_TRUE(was_started(8));
	CU_ASSERT_FALSE(was_started(7));
	CU_ASSERT_FALSE(was_started(9));
	meridian_plugin.fini(st);
}

/* BackfillReservations=0: nothing is held, so L starts and B waits on. */
static void test_no_reservations(void)
{
	int64_t t0 = 4000000;
	void *st = start("0", t0);
	struct mer_sched_job jobs[2];

	F.busy_until[0] = t0 + 300;
	jobs[0] = job(2, 2, 60, 10);
	jobs[1] = job(3, 1, 10, 1);
	pass(st, jobs, 2);
	CU_ASSERT_EQUAL(F.nresv, 0);
	CU_ASSERT_TRUE(was_started(3));
	meridian_plugin.fini(st);
}

/* A job without a time limit never fits before a reservation. */
static void test_unlimited(void)
{
	int64_t t0 = 5000000;
	void *st = start(NULL, t0);
	struct mer_sched_job jobs[2];

	F.busy_until[0] = t0 + 300;
	jobs[0] = job(2, 2, 60, 10);
	jobs[1] = job(3, 1, 0, 1);
	pass(st, jobs, 2);
	CU_ASSERT_FALSE(was_started(3));
	meridian_plugin.fini(st);
}

/* Where no node has a job's CPUs free, try_start is not asked at all:
 * the job waits with reason Resources, and the top one still gets its
 * reservation. */
static void test_full_cluster(void)
{
	int64_t t0 = 6000000;
	void *st = start(NULL, t0);
	struct mer_sched_job jobs[3];

	F.busy_until[0] = t0 + 300;
	F.busy_until[1] = t0 + 600;
	jobs[0] = job(2, 1, 60, 10);
	jobs[1] = job(3, 1, 10, 1);
	jobs[2] = job(4, 2, 10, 1);
	pass(st, jobs, 3);
	CU_ASSERT_EQUAL(F.tries, 0);
	CU_ASSERT_STRING_EQUAL(F.reason[3], "Resources");
	CU_ASSERT_EQUAL(F.nresv, 1);
	CU_ASSERT_EQUAL(F.resv[0].job, 2);
	CU_ASSERT_EQUAL(F.resv[0].start, t0 + 300);
	meridian_plugin.fini(st);
}

/* The keys' checks: what an admin reads for a bad value. */
static void test_keys(void)
{
	const struct mer_plugin_key *k = meridian_plugin.keys;
	struct mer_error err = {""};
	int seen = 0;

	for (; k && k->name; k++) {
		seen++;
		CU_ASSERT_EQUAL(k->check("12", &err), 0);
		CU_ASSERT_EQUAL(k->check("x", &err), -1);
		CU_ASSERT_PTR_NOT_NULL(strstr(err.text, k->name));
		CU_ASSERT_PTR_NOT_NULL(strstr(err.text, "expected"));
		CU_ASSERT_EQUAL(k->check("-1", &err), -1);
	}
	CU_ASSERT_EQUAL(seen, 3);
}

static CU_TestInfo tests[] = {
	{"EASY: reserve the top job, backfill what fits", test_easy},
	{"main passes between backfill passes", test_main_between},
	{"priority, then job id", test_order},
	{"BackfillReservations=0", test_no_reservations},
	{"no time limit: never before a reservation", test_unlimited},
	{"a full cluster: nothing tried, the top job reserved",
	 test_full_cluster},
	{"keys", test_keys},
	CU_TEST_INFO_NULL,
};

CUNIT_MAIN("sched/backfill", tests)
