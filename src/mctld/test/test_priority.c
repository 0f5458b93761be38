/*
 * test_priority.c - priority/multifactor on a simulated clock: each
 * factor against its definition, usage decaying by its half-life and
 * surviving a restart, fair-share putting the user who used less first,
 * nice, the QOS factor, and a priority an admin fixed.
 */
#include "config.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cunit_main.h"
#include "harness.h"
#include "mctld.h"
#include "util.h"

#define NODES                                                                  \
	"NodeName=n[1-4] CPUs=4 RealMemory=1024\n"                             \
	"PartitionName=main Nodes=ALL Default=YES MaxTime=60 "                 \
	"PriorityJobFactor=1\n"                                                \
	"PartitionName=high Nodes=ALL MaxTime=60 PriorityJobFactor=4\n"        \
	"PriorityType=priority/multifactor\n"                                  \
	"PriorityWeightAge=1000\nPriorityWeightFairshare=10000\n"              \
	"PriorityWeightJobSize=400\nPriorityWeightPartition=2000\n"            \
	"PriorityMaxAge=10\nPriorityDecayHalfLife=60\n"                        \
	"PriorityWeightQOS=3000\n"

static void test_factors(void)
{
	char *dir = th_tmpdir();
	struct conf *c = th_conf(dir, NODES);
	Meridian__PriorityFactors f = MERIDIAN__PRIORITY_FACTORS__INIT;
	struct prio_in in = {0};
	uint32_t p;

	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	in.now = 100000;
	in.eligible = in.now - 300; /* 5 of PriorityMaxAge's 10 minutes */
	in.num_nodes = 1;
	in.total_nodes = 4;
	in.part_factor = 1;
	in.max_part_factor = 4;
	in.usage = 0;
	in.total_usage = 0;
	in.nusers = 2;
	p = priority_factors(c, &in, &f);
	CU_ASSERT_EQUAL(f.age, 500);
	CU_ASSERT_EQUAL(f.fairshare, 10000); /* nobody used anything */
	CU_ASSERT_EQUAL(f.job_size, 100);
	CU_ASSERT_EQUAL(f.partition, 500);
	CU_ASSERT_EQUAL(p, 500 + 10000 + 100 + 500);
	/* past PriorityMaxAge: 1 */
	in.eligible = in.now - 3600;
	priority_factors(c, &in, &f);
	CU_ASSERT_EQUAL(f.age, 1000);
	/* a user with all of the usage of two: 2^-2 */
	in.usage = 50;
	in.total_usage = 50;
	priority_factors(c, &in, &f);
	CU_ASSERT_EQUAL(f.fairshare, 2500);
	/* exactly the share: 2^-1 */
	in.usage = 25;
	priority_factors(c, &in, &f);
	CU_ASSERT_EQUAL(f.fairshare, 5000);
	/* nice comes off, never below 1 */
	in.nice = 100;
	p = priority_factors(c, &in, &f);
	CU_ASSERT_EQUAL(p, 1000 + 5000 + 100 + 500 - 100);
	CU_ASSERT_EQUAL(f.nice, 100);
	in.nice = 1000000;
	CU_ASSERT_EQUAL(priority_factors(c, &in, &f), 1);
	/* the QOS: its Priority= over the largest, times the weight */
	in.nice = 0;
	in.qos_prio = 10;
	in.max_qos_prio = 40;
	p = priority_factors(c, &in, &f);
	CU_ASSERT_EQUAL(f.qos, 750);
	CU_ASSERT_EQUAL(p, 1000 + 5000 + 100 + 500 + 750);
	in.max_qos_prio = 0; /* no QOS has a priority */
	priority_factors(c, &in, &f);
	CU_ASSERT_EQUAL(f.qos, 0);
	conf_free(c);
	th_rmdir(dir);
}

static void test_usage_decay_and_restart(void)
{
	char *dir = th_tmpdir();
	struct mctld *ctx = th_ctx(dir, NODES);
	int64_t t = 1000000;

	CU_ASSERT_PTR_NOT_NULL_FATAL(ctx);
	usage_charge(ctx, TH_ALICE, 1000, t);
	CU_ASSERT_DOUBLE_EQUAL(usage_of(ctx, TH_ALICE, t), 1000, 1e-9);
	/* one half-life (60 minutes) later: half */
	CU_ASSERT_DOUBLE_EQUAL(usage_of(ctx, TH_ALICE, t + 3600), 500, 1e-6);
	CU_ASSERT_DOUBLE_EQUAL(usage_of(ctx, TH_ALICE, t + 7200), 250, 1e-6);
	/* a charge later adds to what is left */
	usage_charge(ctx, TH_ALICE, 100, t + 3600);
	CU_ASSERT_DOUBLE_EQUAL(usage_of(ctx, TH_ALICE, t + 3600), 600, 1e-6);
	CU_ASSERT_DOUBLE_EQUAL(usage_of(ctx, TH_BOB, t), 0, 1e-12);
	th_turn(ctx); /* committed */
	mctld_destroy(ctx);
	ctx = th_ctx(dir, NODES);
	CU_ASSERT_PTR_NOT_NULL_FATAL(ctx);
	CU_ASSERT_DOUBLE_EQUAL(usage_of(ctx, TH_ALICE, t + 3600), 600, 1e-6);
	CU_ASSERT_DOUBLE_EQUAL(usage_of(ctx, TH_ALICE, t + 7200), 300, 1e-6);
	mctld_destroy(ctx);
	th_rmdir(dir);
}

static struct job *submit_as(struct mctld *ctx, struct peer *p, uid_t uid,
			     const char *part)
{
	Meridian__JobDesc d = MERIDIAN__JOB_DESC__INIT;
	char err[200];
	uint32_t id;

	d.min_nodes = 1;
	d.time_limit = 10;
	d.partition = (char *)part;
	d.hold = MERIDIAN__HOLD_KIND__HOLD_USER; /* nothing starts */
	id = th_submit(ctx, p, uid, &d, err, sizeof(err));
	CU_ASSERT_FATAL(id != 0);
	return job_find(ctx, id);
}

static void test_fairshare_order(void)
{
	char *dir = th_tmpdir();
	struct mctld *ctx = th_ctx(dir, NODES);
	struct peer *p;
	struct job *a, *b, *h;
	int64_t now = mer_now();
	struct mer_error err = {""};

	CU_ASSERT_PTR_NOT_NULL_FATAL(ctx);
	p = th_peer(ctx, "user");
	a = submit_as(ctx, p, TH_ALICE, "main");
	b = submit_as(ctx, p, TH_BOB, "main");
	h = submit_as(ctx, p, TH_BOB, "high");
	/* alice used the cluster for an hour; bob never */
	usage_charge(ctx, TH_ALICE, 4 * 3600, now);
	priority_pass(ctx, now);
	CU_ASSERT(b->rec->priority > a->rec->priority);
	CU_ASSERT_PTR_NOT_NULL_FATAL(a->rec->factors);
	CU_ASSERT_EQUAL(b->rec->factors->fairshare, 10000);
	/* alice: all of the usage, 2 users: 2^-2 */
	CU_ASSERT_EQUAL(a->rec->factors->fairshare, 2500);
	/* the partition with the larger PriorityJobFactor counts more */
	CU_ASSERT_EQUAL(h->rec->factors->partition, 2000);
	CU_ASSERT_EQUAL(b->rec->factors->partition, 500);
	CU_ASSERT(h->rec->priority > b->rec->priority);
	/* nice: bob lowers his own job below alice's */
	CU_ASSERT_EQUAL(
		job_mgr_set_priority(ctx, b, false, false, 0, true, 9000, &err),
		0);
	priority_pass(ctx, now);
	CU_ASSERT(b->rec->priority < a->rec->priority);
	/* only an admin raises one (negative nice) or fixes one */
	CU_ASSERT_EQUAL(
		job_mgr_set_priority(ctx, b, false, false, 0, true, -5, &err),
		-1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.text, "only an admin"));
	CU_ASSERT_EQUAL(
		job_mgr_set_priority(ctx, a, false, true, 7, false, 0, &err),
		-1);
	CU_ASSERT_EQUAL(
		job_mgr_set_priority(ctx, a, true, true, 7, false, 0, &err), 0);
	priority_pass(ctx, now + 600);
	CU_ASSERT_EQUAL(a->rec->priority, 7); /* fixed: not recomputed */
	CU_ASSERT_TRUE(a->rec->priority_fixed);
	mctld_destroy(ctx);
	th_rmdir(dir);
}

static CU_TestInfo tests[] = {
	{"each factor", test_factors},
	{"usage decays and survives a restart", test_usage_decay_and_restart},
	{"fair-share, partition, nice, fixed", test_fairshare_order},
	CU_TEST_INFO_NULL,
};

CUNIT_MAIN("priority", tests)
