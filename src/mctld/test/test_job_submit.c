/*
 * test_job_submit.c - submit validation (every error names the limit and
 * the value) and what a submitted job looks like.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cunit_main.h"
#include "harness.h"
#include "util.h"

#define NODES                                                                  \
	"NodeName=n[1-4] CPUs=4 RealMemory=4096 Gres=gpu:a100:2\n"             \
	"NodeName=big CPUs=16 RealMemory=65536 Gres=gpu:h100:8\n"              \
	"PartitionName=main Nodes=n[1-4] Default=YES MaxTime=60 "              \
	"DefaultTime=10\n"                                                     \
	"PartitionName=all Nodes=ALL MaxTime=UNLIMITED\n"                      \
	"PartitionName=off Nodes=n1 State=DOWN\n"

static char *dir;
static struct mctld *ctx;
static struct peer *user;

static void setup(void)
{
	dir = th_tmpdir();
	ctx = th_ctx(dir, NODES);
	user = th_peer(ctx, "user");
}

static void teardown(void)
{
	mctld_destroy(ctx);
	th_rmdir(dir);
	ctx = NULL;
	dir = NULL;
}

static void expect_refused(const Meridian__JobDesc *d, const char *want)
{
	char err[200];
	uint32_t id = th_submit(ctx, user, TH_ALICE, d, err, sizeof(err));

	CU_ASSERT_EQUAL(id, 0);
	if (strcmp(err, want) != 0)
		fprintf(stderr, "\n  got  '%s'\n  want '%s'\n", err, want);
	CU_ASSERT_STRING_EQUAL(err, want);
}

static void test_errors(void)
{
	Meridian__JobDesc d;

	setup();
	d = (Meridian__JobDesc)MERIDIAN__JOB_DESC__INIT;
	d.partition = (char *)"nope";
	expect_refused(&d, "unknown partition 'nope' (partitions: main, all, "
			   "off)");

	d = (Meridian__JobDesc)MERIDIAN__JOB_DESC__INIT;
	d.partition = (char *)"off";
	expect_refused(&d, "partition off is DOWN (State= in meridian.conf) "
			   "and takes no jobs");

	d = (Meridian__JobDesc)MERIDIAN__JOB_DESC__INIT;
	d.time_limit = 61;
	expect_refused(&d, "time limit 01:01:00 is over partition main's "
			   "MaxTime 01:00:00");

	d = (Meridian__JobDesc)MERIDIAN__JOB_DESC__INIT;
	d.min_nodes = 9;
	expect_refused(&d, "Requested 9 nodes, partition main has 4");

	d = (Meridian__JobDesc)MERIDIAN__JOB_DESC__INIT;
	d.ntasks_per_node = 8;
	expect_refused(&d, "Requested 8 CPUs per node, the largest node of "
			   "partition main has 4");

	d = (Meridian__JobDesc)MERIDIAN__JOB_DESC__INIT;
	d.mem_mb = 8192;
	expect_refused(&d, "Requested 8192 MB of memory per node, the largest "
			   "node of partition main has 4096");

	d = (Meridian__JobDesc)MERIDIAN__JOB_DESC__INIT;
	d.gpus_per_node = 4;
	expect_refused(&d, "Requested 4 GPUs per node, the nodes of partition "
			   "main have at most 2");

	d = (Meridian__JobDesc)MERIDIAN__JOB_DESC__INIT;
	d.gpus = 1;
	d.gpu_type = (char *)"h100";
	expect_refused(&d, "Requested 1 h100 GPUs per node, the nodes of "
			   "partition main have at most 0");

	/* in "all" only big has 8 CPUs: two such nodes do not exist */
	d = (Meridian__JobDesc)MERIDIAN__JOB_DESC__INIT;
	d.partition = (char *)"all";
	d.min_nodes = 2;
	d.ntasks_per_node = 8;
	expect_refused(&d, "Requested 2 nodes with 8 CPUs each, partition all "
			   "has 1 such nodes");

	d = (Meridian__JobDesc)MERIDIAN__JOB_DESC__INIT;
	d.min_nodes = 4;
	d.ntasks = 2;
	expect_refused(&d, "Requested 2 tasks on 4 nodes; each node needs at "
			   "least one task (give -n >= -N)");
	CU_ASSERT_EQUAL(job_mgr_count(ctx), 0);
	teardown();
}

/* Submit d as alice; it must be accepted. */
static void expect_accepted(const Meridian__JobDesc *d)
{
	char err[200] = "";
	uint32_t id = th_submit(ctx, user, TH_ALICE, d, err, sizeof(err));

	if (!id)
		fprintf(stderr, "\n  refused: '%s'\n", err);
	CU_ASSERT_NOT_EQUAL(id, 0);
}

/* --comm, --comm-bytes and --min-tier against the node count the job
 * resolves to and the configured BandwidthTiers=. */
static void test_comm_errors(void)
{
	Meridian__JobDesc d;

	setup();
	d = (Meridian__JobDesc)MERIDIAN__JOB_DESC__INIT;
	d.min_tier = (char *)"fast";
	expect_refused(&d, "--min-tier=fast: no such bandwidth tier; expected "
			   "one of low, medium, high, ultra "
			   "(BandwidthTiers=)");
	d.min_tier = (char *)"HIGH"; /* tiers are told apart in any case */
	expect_accepted(&d);

	d = (Meridian__JobDesc)MERIDIAN__JOB_DESC__INIT;
	d.comm = MERIDIAN__COMM_PATTERN__COMM_PIPELINE;
	d.comm_stages = 3;
	d.min_nodes = 4;
	expect_refused(&d, "--comm=pipeline:3 with 4 nodes: STAGES must divide "
			   "the node count");
	d.comm_stages = 8;
	expect_refused(&d, "--comm=pipeline:8 with 4 nodes: STAGES must divide "
			   "the node count");
	/* the node count as the job resolves it: -n 3 --ntasks-per-node=1 */
	d.min_nodes = 0;
	d.ntasks = 3;
	d.ntasks_per_node = 1;
	d.comm_stages = 2;
	expect_refused(&d, "--comm=pipeline:2 with 3 nodes: STAGES must divide "
			   "the node count");
	d.ntasks = 0;
	d.ntasks_per_node = 0;
	expect_refused(&d, "--comm=pipeline:2 with 1 node: STAGES must divide "
			   "the node count");
	d.min_nodes = 4;
	expect_accepted(&d);
	d.comm_stages = 4;
	expect_accepted(&d);
	d.comm_stages = 0; /* one stage per node */
	expect_accepted(&d);

	d = (Meridian__JobDesc)MERIDIAN__JOB_DESC__INIT;
	d.comm = (Meridian__CommPattern)7;
	expect_refused(&d, "communication pattern 7 is not one of ring, "
			   "pipeline, none (--comm)");
	d.comm = MERIDIAN__COMM_PATTERN__COMM_RING;
	d.comm_stages = 2;
	expect_refused(&d, "2 communication stages without --comm=pipeline; "
			   "expected --comm=pipeline:2");

	d = (Meridian__JobDesc)MERIDIAN__JOB_DESC__INIT;
	d.comm_bytes = (1ull << 40) + 1;
	expect_refused(&d, "--comm-bytes=1099511627777: over 1T (1099511627776 "
			   "bytes), the most a job may say");
	d.comm_bytes = 1ull << 40;
	d.comm = MERIDIAN__COMM_PATTERN__COMM_NONE;
	expect_accepted(&d);
	teardown();

	/* the names listed are the configured ones */
	dir = th_tmpdir();
	ctx = th_ctx(dir, NODES "BandwidthTiers=slow:10,fast:1000\n");
	user = th_peer(ctx, "user");
	d = (Meridian__JobDesc)MERIDIAN__JOB_DESC__INIT;
	d.min_tier = (char *)"high";
	expect_refused(&d, "--min-tier=high: no such bandwidth tier; expected "
			   "one of slow, fast (BandwidthTiers=)");
	d.min_tier = (char *)"fast";
	expect_accepted(&d);
	teardown();
}

static void test_script_checks(void)
{
	Meridian__SubmitJobRequest req = MERIDIAN__SUBMIT_JOB_REQUEST__INIT;
	Meridian__JobSpec spec = MERIDIAN__JOB_SPEC__INIT;
	Meridian__JobDesc d = MERIDIAN__JOB_DESC__INIT;
	ProtobufCMessage *m;
	bool is_err = false;

	setup();
	req.desc = &d;
	req.spec = &spec;
	spec.script.data = (uint8_t *)"echo hi\n";
	spec.script.len = 8;
	th_request(ctx, user, MERIDIAN__MSG_TYPE__MSG_SUBMIT_JOB, 3, TH_ALICE,
		   &req.base);
	m = th_last_reply(user, MERIDIAN__MSG_TYPE__MSG_SUBMIT_JOB, &is_err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	CU_ASSERT_TRUE(is_err);
	CU_ASSERT_PTR_NOT_NULL(strstr(((Meridian__ErrorReply *)m)->text,
				      "does not start with #!"));
	protobuf_c_message_free_unpacked(m, NULL);

	spec.script.len = 0;
	th_request(ctx, user, MERIDIAN__MSG_TYPE__MSG_SUBMIT_JOB, 4, TH_ALICE,
		   &req.base);
	m = th_last_reply(user, MERIDIAN__MSG_TYPE__MSG_SUBMIT_JOB, &is_err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	CU_ASSERT_STRING_EQUAL(((Meridian__ErrorReply *)m)->text,
			       "the batch script is empty");
	protobuf_c_message_free_unpacked(m, NULL);

	req.desc = NULL;
	th_request(ctx, user, MERIDIAN__MSG_TYPE__MSG_SUBMIT_JOB, 5, TH_ALICE,
		   &req.base);
	m = th_last_reply(user, MERIDIAN__MSG_TYPE__MSG_SUBMIT_JOB, &is_err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	CU_ASSERT_TRUE(is_err);
	protobuf_c_message_free_unpacked(m, NULL);
	teardown();
}

static void test_accepted(void)
{
	Meridian__JobDesc d = MERIDIAN__JOB_DESC__INIT;
	Meridian__JobRecord *r;
	struct job *j;
	uint32_t id;
	char err[200];

	setup();
	/* defaults: partition main, DefaultTime, one task */
	d.name = (char *)"train";
	id = th_submit(ctx, user, TH_ALICE, &d, err, sizeof(err));
	CU_ASSERT_EQUAL(id, 1);
	j = job_find(ctx, id);
	CU_ASSERT_PTR_NOT_NULL_FATAL(j);
	r = j->rec;
	CU_ASSERT_STRING_EQUAL(r->desc->partition, "main");
	CU_ASSERT_STRING_EQUAL(r->desc->name, "train");
	CU_ASSERT_EQUAL(r->time_limit, 10);
	CU_ASSERT_EQUAL(r->num_nodes, 1);
	CU_ASSERT_EQUAL(r->ntasks, 1);
	CU_ASSERT_EQUAL(r->user_id, TH_ALICE);
	CU_ASSERT_EQUAL(r->group_id, TH_ALICE);
	/* no node registered: waits */
	CU_ASSERT_EQUAL(r->state, MERIDIAN__JOB_STATE__JOB_PENDING);
	CU_ASSERT_STRING_EQUAL(r->reason, "ReqNodeNotAvail");

	/* -N 2 --ntasks-per-node 2 -c 2 --gpus 3 --mem 1000 */
	d = (Meridian__JobDesc)MERIDIAN__JOB_DESC__INIT;
	d.min_nodes = 2;
	d.ntasks_per_node = 2;
	d.cpus_per_task = 2;
	d.gpus = 3;
	d.mem_mb = 1000;
	d.time_limit = 30;
	id = th_submit(ctx, user, TH_ALICE, &d, err, sizeof(err));
	CU_ASSERT_EQUAL(id, 2);
	j = job_find(ctx, id);
	CU_ASSERT_PTR_NOT_NULL_FATAL(j);
	CU_ASSERT_EQUAL(j->rec->num_nodes, 2);
	CU_ASSERT_EQUAL(j->rec->ntasks, 4);
	CU_ASSERT_EQUAL(j->rec->time_limit, 30);
	CU_ASSERT_EQUAL(j->tasks_per_node, 2);
	CU_ASSERT_EQUAL(j->cpus_per_node, 4);
	CU_ASSERT_EQUAL(j->gpus_per_node, 2);
	CU_ASSERT_EQUAL(j->mem_per_node, 1000);

	/* UNLIMITED partition, no time: 0 */
	d = (Meridian__JobDesc)MERIDIAN__JOB_DESC__INIT;
	d.partition = (char *)"all";
	id = th_submit(ctx, user, TH_BOB, &d, err, sizeof(err));
	CU_ASSERT_EQUAL(id, 3);
	CU_ASSERT_EQUAL(job_find(ctx, id)->rec->time_limit, 0);

	/* --hold: JobHeldUser; a user cannot ask for an admin hold */
	d = (Meridian__JobDesc)MERIDIAN__JOB_DESC__INIT;
	d.hold = MERIDIAN__HOLD_KIND__HOLD_ADMIN;
	id = th_submit(ctx, user, TH_BOB, &d, err, sizeof(err));
	CU_ASSERT_EQUAL(id, 4);
	j = job_find(ctx, id);
	CU_ASSERT_EQUAL(j->rec->desc->hold, MERIDIAN__HOLD_KIND__HOLD_USER);
	CU_ASSERT_STRING_EQUAL(j->rec->reason, "JobHeldUser");
	teardown();
}

static void test_max_job_count(void)
{
	char err[200];

	dir = th_tmpdir();
	ctx = th_ctx(dir, NODES "MaxJobCount=2\n");
	user = th_peer(ctx, "user");
	CU_ASSERT_EQUAL(th_submit(ctx, user, TH_ALICE, NULL, err, sizeof(err)),
			1);
	CU_ASSERT_EQUAL(th_submit(ctx, user, TH_ALICE, NULL, err, sizeof(err)),
			2);
	CU_ASSERT_EQUAL(th_submit(ctx, user, TH_ALICE, NULL, err, sizeof(err)),
			0);
	CU_ASSERT_STRING_EQUAL(err, "MaxJobCount=2 jobs are already kept; "
				    "try again once some have ended");
	teardown();
}

/* Submit spec as alice; the error text, or "" when it was accepted. */
static void submit_spec(Meridian__JobSpec *spec, char *err, size_t n)
{
	Meridian__SubmitJobRequest req = MERIDIAN__SUBMIT_JOB_REQUEST__INIT;
	Meridian__JobDesc d = MERIDIAN__JOB_DESC__INIT;
	ProtobufCMessage *m;
	bool is_err = false;

	req.desc = &d;
	req.spec = spec;
	th_forget_frames(user);
	th_request(ctx, user, MERIDIAN__MSG_TYPE__MSG_SUBMIT_JOB, 7, TH_ALICE,
		   &req.base);
	th_turn(ctx);
	m = th_last_reply(user, MERIDIAN__MSG_TYPE__MSG_SUBMIT_JOB, &is_err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	snprintf(err, n, "%s", is_err ? ((Meridian__ErrorReply *)m)->text : "");
	protobuf_c_message_free_unpacked(m, NULL);
}

/* A job's environment and arguments are bounded as exec bounds them, at
 * submit, so that its launch can never be too large for its node. */
static void test_exec_bounds(void)
{
	static char script[] = "#!/bin/sh\ntrue\n";
	Meridian__JobSpec spec = MERIDIAN__JOB_SPEC__INIT;
	char err[300], *big = xmalloc(3u << 20), **env;
	size_t i;

	setup();
	spec.script.data = (uint8_t *)script;
	spec.script.len = sizeof(script) - 1;
	/* 3 MiB of environment in one variable */
	memcpy(big, "HUGE=", 5);
	memset(big + 5, 'x', (3u << 20) - 6);
	big[(3u << 20) - 1] = '\0';
	spec.env = &big;
	spec.n_env = 1;
	submit_spec(&spec, err, sizeof(err));
	CU_ASSERT_STRING_EQUAL(err, "the job's arguments and environment take "
				    "3145728 bytes; at most 2097152 (trim the "
				    "environment, or --export only what the "
				    "program needs)");
	/* 10,000 small variables */
	env = xcalloc(10000, sizeof(*env));
	for (i = 0; i < 10000; i++)
		env[i] = (char *)"A=1";
	spec.env = env;
	spec.n_env = 10000;
	submit_spec(&spec, err, sizeof(err));
	CU_ASSERT_STRING_EQUAL(err, "the job has 0 arguments and 10000 "
				    "environment variables; at most 4096 and "
				    "8192");
	spec.n_env = 8192;
	submit_spec(&spec, err, sizeof(err));
	CU_ASSERT_STRING_EQUAL(err, "");
	spec.env = &big;
	big[1000] = '\0';
	spec.n_env = 1;
	spec.argv = env;
	spec.n_argv = 5000;
	submit_spec(&spec, err, sizeof(err));
	CU_ASSERT_STRING_EQUAL(err, "the job has 5000 arguments and 1 "
				    "environment variables; at most 4096 and "
				    "8192");
	spec.n_argv = 0;
	memcpy(big, "NOEQUALS", 8);
	submit_spec(&spec, err, sizeof(err));
	CU_ASSERT_STRING_EQUAL(err,
			       "environment entry \"NOEQUALSxxxxxxxxxxxxxxx"
			       "xxxxxxxxxxxxxxxxx\" has no '='; NAME=VALUE "
			       "expected");
	free(env);
	free(big);
	teardown();
}

static CU_TestInfo tests[] = {
	{"validation errors", test_errors},
	{"--comm and --min-tier", test_comm_errors},
	{"exec bounds", test_exec_bounds},
	{"script checks", test_script_checks},
	{"accepted jobs", test_accepted},
	{"MaxJobCount", test_max_job_count},
	CU_TEST_INFO_NULL,
};

CUNIT_MAIN("mctld submit", tests)
