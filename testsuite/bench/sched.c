/*
 * sched.c - the scheduling benchmark (`make bench-sched`; issue 10).
 *
 *   sched [--quick]
 *
 * A controller context of the unit tests' harness (src/mctld/test/
 * harness.c: no sockets, nodes registered over a fake transport, LMDB in a
 * temp dir) with SchedulerType=sched/backfill: N nodes, every one busy
 * with a running job (whole nodes, time limits of 10 minutes to 4 hours),
 * and P pending jobs of 1 to 8 whole nodes with limits of 5 minutes to 4
 * hours, so that each pass finds nothing to start and does all its work.
 * Reported, median of several passes, wall clock of one pass (the core's
 * sched_run_with() over sched/backfill, linked in, a fresh state each
 * time so that the first pass is a backfill pass and the next a main
 * one):
 *
 *   - the backfill pass (every pending job tried, trials and reservations
 *     for the first BackfillMaxJobTest / BackfillReservations blocked);
 *   - the main pass (strict order until the first blocked job).
 *
 * Scenarios: 64 nodes x 10,000 pending, 1,000 nodes x 100,000 pending
 * (--quick: 10,000 and the first only).  It ends with PASS/MISS lines for
 * issue 10's targets and exits 0 either way (it measures, it does not
 * test); 1 when the setup fails.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <CUnit/Basic.h>
#include <CUnit/CUnit.h>

#include "harness.h"
#include "mctld.h"
#include "util.h"

struct result {
	double bf_ms, main_ms;
	size_t pending;
};

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int dcmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, size_t n)
{
	qsort(v, n, sizeof(*v), dcmp);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static uint32_t rnd(uint64_t *s, uint32_t lo, uint32_t hi)
{
	*s = *s * 6364136223846793005ull + 1442695040888963407ull;
	return lo + (uint32_t)((*s >> 33) % (hi - lo + 1));
}

/* Submit one job straight to the job manager (as SUBMIT_JOB does). */
static struct job *submit(struct mctld *ctx, uint32_t nodes, uint32_t cpus,
			  uint64_t mem, uint32_t limit, bool hold)
{
	static char script[] = "#!/bin/sh\ntrue\n";
	Meridian__SubmitJobRequest req = MERIDIAN__SUBMIT_JOB_REQUEST__INIT;
	Meridian__JobSpec spec = MERIDIAN__JOB_SPEC__INIT;
	Meridian__JobDesc *d = xmalloc(sizeof(*d));
	struct mer_error err = {""};
	struct job *j;

	meridian__job_desc__init(d);
	d->min_nodes = nodes;
	d->cpus_per_task = cpus;
	d->mem_mb = mem;
	d->ntasks = nodes;
	d->time_limit = limit;
	d->name = xstrdup("bench");
	d->hold = hold ? MERIDIAN__HOLD_KIND__HOLD_USER
		       : MERIDIAN__HOLD_KIND__HOLD_NONE;
	spec.script.data = (uint8_t *)script;
	spec.script.len = sizeof(script) - 1;
	req.desc = d;
	req.spec = &spec;
	j = job_mgr_submit(ctx, &req, TH_ALICE, TH_ALICE, &err);
	if (!j) {
		fprintf(stderr, "sched: submit: %s\n", err.text);
		meridian__job_desc__free_unpacked(d, NULL);
	}
	return j;
}

extern const struct mer_sched_ops meridian_plugin; /* backfill.c */

static const char *bench_conf_get(void *conf, const char *key)
{
	(void)conf;
	return strcmp(key, "BackfillInterval") == 0 ? "3600" : NULL;
}

/*
 * split false: every node's CPUs busy; pending jobs want whole nodes.
 * split true: the filter of backfill.c defeated: on half the nodes the
 * CPUs are busy and the memory free, on the other half the reverse, and
 * the pending jobs want 8 CPUs and 1 GB on each node, so that each one is
 * tried (try_start) and fails.
 */
static int scenario(size_t nnodes, size_t npending, bool split, int reps,
		    struct result *r)
{
	char *dir = th_tmpdir();
	struct strbuf conf = {0};
	struct mctld *ctx;
	struct peer **peer = xcalloc(nnodes, sizeof(*peer));
	double *bf = xcalloc((size_t)reps, sizeof(*bf)),
	       *mn = xcalloc((size_t)reps, sizeof(*mn));
	uint64_t seed = 42;
	struct job *j;
	int rc = -1;

	strbuf_addf(&conf, "SchedulerType=sched/backfill\n"
			   "BackfillInterval=3600\n"
			   "MaxJobCount=1000000\n"
			   "NodeTimeout=86400\n");
	strbuf_addf(&conf,
		    "NodeName=b[0001-%04zu] CPUs=32 RealMemory=256000\n"
		    "PartitionName=main Nodes=ALL Default=YES MaxTime=1440\n",
		    nnodes);
	ctx = th_ctx(dir, conf.s);
	if (!ctx)
		goto out;
	for (size_t i = 0; i < nnodes; i++) {
		char name[32];
		Meridian__NodeRegisterReply *rr;

		snprintf(name, sizeof(name), "b%04zu", i + 1);
		peer[i] = th_peer(ctx, name);
		rr = th_register(ctx, peer[i], name, NULL, 0);
		if (rr)
			protobuf_c_message_free_unpacked(&rr->base, NULL);
		th_forget_frames(peer[i]);
	}
	/* every node busy */
	for (size_t i = 0; i < nnodes; i++)
		if (!submit(ctx, 1, split && i % 2 ? 8 : 32,
			    split && i % 2 ? 256000 : 1000, rnd(&seed, 10, 240),
			    false))
			goto out;
	th_turn(ctx);
	{
		size_t running = 0;

		TAILQ_FOREACH(j, job_mgr_running(ctx), state_entry)
			running++;
		if (running != nnodes) {
			fprintf(stderr, "sched: %zu of %zu nodes busy\n",
				running, nnodes);
			goto out;
		}
	}
	/* the pending, held while they are submitted, then let go */
	for (size_t i = 0; i < npending; i++)
		if (!submit(ctx, rnd(&seed, 1, 8), split ? 8 : 32,
			    split ? 1000 : 0, rnd(&seed, 5, 240), true))
			goto out;
	th_turn(ctx);
	r->pending = 0;
	TAILQ_FOREACH(j, job_mgr_pending(ctx), state_entry) {
		j->rec->desc->hold = MERIDIAN__HOLD_KIND__HOLD_NONE;
		r->pending++;
	}
	for (int k = 0; k < reps; k++) {
		struct mer_plugin_conf pc = {bench_conf_get, NULL};
		struct mer_error err = {""};
		void *st = meridian_plugin.init(&pc, &err);
		double t0, t1, t2;

		if (!st)
			goto out;
		/* a fresh plugin state's first pass is a backfill pass, the
		 * next one, within BackfillInterval, a main pass */
		t0 = now_ms();
		sched_run_with(ctx, &meridian_plugin, st);
		t1 = now_ms();
		sched_run_with(ctx, &meridian_plugin, st);
		t2 = now_ms();
		meridian_plugin.fini(st);
		bf[k] = t1 - t0;
		mn[k] = t2 - t1;
	}
	r->bf_ms = median(bf, (size_t)reps);
	r->main_ms = median(mn, (size_t)reps);
	rc = 0;
out:
	if (ctx)
		mctld_destroy(ctx);
	th_rmdir(dir);
	strbuf_free(&conf);
	free(peer);
	free(bf);
	free(mn);
	return rc;
}

static void target(bool pass, const char *what, double got, double want)
{
	printf("  %-4s  %-46s %9.1f ms (target < %g)\n", pass ? "PASS" : "MISS",
	       what, got, want);
}

static bool quick, failed;

/* The whole run, as the one test of a CUnit suite: the harness asserts
 * with CUnit, which wants a test to be running. */
static void bench(void)
{
	static const struct {
		size_t nodes, pending;
		bool split, full_only;
		double bf_target, main_target;
	} sc[] = {
		{64, 10000, false, false, 50, 5},
		{1000, 100000, false, true, 1000, 0},
		{64, 10000, true, false, 0, 0},
		{1000, 100000, true, true, 0, 0},
	};
	struct result r[4] = {{0}};

	printf("Scheduling benchmark (sched/backfill): nothing can start, "
	       "median of a fresh state's\nfirst pass (backfill) and second "
	       "(main)\n");
	for (size_t i = 0; i < sizeof(sc) / sizeof(sc[0]); i++) {
		if (quick && sc[i].full_only)
			continue;
		if (scenario(sc[i].nodes, sc[i].pending, sc[i].split,
			     quick ? 3 : 5, &r[i]) < 0) {
			failed = true;
			return;
		}
		printf("  %5zu nodes, %6zu pending, %-26s backfill %8.1f ms, "
		       "main %7.2f ms\n",
		       sc[i].nodes, r[i].pending,
		       sc[i].split ? "CPUs, memory apart (*):"
				   : "every node's CPUs busy:",
		       r[i].bf_ms, r[i].main_ms);
	}
	printf("  (*) free CPUs and free memory on different nodes, so that "
	       "backfill.c's room\n      check lets every job through to "
	       "try_start: the cost without it\n");
	printf("Targets (issue 10; Slurm here: 400 ms for a backfill pass "
	       "over 500 jobs)\n");
	for (size_t i = 0; i < 2; i++) {
		char what[80];

		if (quick && sc[i].full_only)
			continue;
		snprintf(what, sizeof(what), "%zu nodes, %zu pending: backfill",
			 sc[i].nodes, sc[i].pending);
		target(r[i].bf_ms < sc[i].bf_target, what, r[i].bf_ms,
		       sc[i].bf_target);
		if (sc[i].main_target) {
			snprintf(what, sizeof(what),
				 "%zu nodes, %zu pending: main pass",
				 sc[i].nodes, sc[i].pending);
			target(r[i].main_ms < sc[i].main_target, what,
			       r[i].main_ms, sc[i].main_target);
		}
	}
}

int main(int argc, char **argv)
{
	CU_pSuite suite;

	quick = argc > 1 && strcmp(argv[1], "--quick") == 0;
	setenv("MERIDIAN_LOGLEVEL", "error", 0);
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	suite = CU_add_suite("bench", NULL, NULL);
	if (!suite || !CU_add_test(suite, "sched", bench))
		return 1;
	CU_basic_set_mode(CU_BRM_SILENT);
	CU_basic_run_tests();
	if (CU_get_number_of_failures())
		failed = true;
	CU_cleanup_registry();
	return failed ? 1 : 0;
}
