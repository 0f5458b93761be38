/*
 * test_history.c - the job history macct reads: a job that leaves memory
 * moves from the "jobs" table to the history in one commit, is found
 * there by id, by window and by filter after a restart, and the history
 * keeps JobHistoryDays and JobHistoryMax.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cunit_main.h"
#include "harness.h"
#include "util.h"

#define NODES                                                                  \
	"NodeName=n[1-2] CPUs=4 RealMemory=4096\n"                             \
	"PartitionName=main Nodes=ALL Default=YES MaxTime=60\n"

#define MT(x) MERIDIAN__MSG_TYPE__MSG_##x

static char *dir;
static struct mctld *ctx;
static struct peer *user;

static void start(const char *extra)
{
	char conf[512];

	snprintf(conf, sizeof(conf), "%s%s", NODES, extra ? extra : "");
	ctx = th_ctx(dir, conf);
	user = th_peer(ctx, "user");
}

static void stop(void)
{
	mctld_destroy(ctx);
	ctx = NULL;
}

/* A held job as uid, cancelled at once: it ends without a node. */
static uint32_t ended_job(uid_t uid, const char *name, const char *account)
{
	Meridian__JobDesc d = MERIDIAN__JOB_DESC__INIT;
	struct mer_error err;
	char text[200];
	uint32_t id;

	d.name = (char *)name;
	d.account = (char *)account;
	d.hold = MERIDIAN__HOLD_KIND__HOLD_USER;
	id = th_submit(ctx, user, uid, &d, text, sizeof(text));
	CU_ASSERT_NOT_EQUAL_FATAL(id, 0);
	CU_ASSERT_EQUAL(
		job_mgr_cancel(ctx, job_find(ctx, id), uid, false, 0, &err), 0);
	th_turn(ctx);
	return id;
}

/* Purge what is past MinJobAge (0 here) and commit it. */
static void purge(void)
{
	job_mgr_tick(ctx, mer_now() + 1);
	th_turn(ctx);
}

/* The JOB_HISTORY reply to req (free it), NULL on an error reply. */
static Meridian__JobHistoryReply *ask(Meridian__JobHistoryRequest *req)
{
	ProtobufCMessage *m;
	bool is_err;

	th_forget_frames(user);
	th_request(ctx, user, MT(JOB_HISTORY), 1, TH_ALICE, &req->base);
	m = th_last_reply(user, MT(JOB_HISTORY), &is_err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	if (is_err) {
		protobuf_c_message_free_unpacked(m, NULL);
		return NULL;
	}
	return (Meridian__JobHistoryReply *)m;
}

static bool has_job(const Meridian__JobHistoryReply *r, uint32_t id)
{
	for (size_t i = 0; i < r->n_jobs; i++)
		if (r->jobs[i]->job_id == id)
			return true;
	return false;
}

static void test_moves_and_survives(void)
{
	Meridian__JobHistoryRequest req = MERIDIAN__JOB_HISTORY_REQUEST__INIT;
	Meridian__JobHistoryReply *r;
	uint32_t a, b, c, ids[1];
	char *accounts[] = {(char *)"physics"};

	dir = th_tmpdir();
	start("MinJobAge=0\n");
	a = ended_job(TH_ALICE, "one", "physics");
	b = ended_job(TH_ALICE, "two", "chemistry");
	c = ended_job(TH_BOB, "three", "physics");
	CU_ASSERT_EQUAL(history_count(ctx), 0);
	purge();
	CU_ASSERT_PTR_NULL(job_find(ctx, a));
	CU_ASSERT_EQUAL(history_count(ctx), 3);

	/* by id, from the history */
	ids[0] = b;
	req.job_ids = ids;
	req.n_job_ids = 1;
	r = ask(&req);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	CU_ASSERT_EQUAL(r->n_jobs, 1);
	CU_ASSERT(has_job(r, b));
	CU_ASSERT_STRING_EQUAL(r->jobs[0]->desc->name, "two");
	CU_ASSERT_EQUAL(r->jobs[0]->state, MERIDIAN__JOB_STATE__JOB_CANCELLED);
	CU_ASSERT_EQUAL(r->next_after.len, 0); /* one page */
	protobuf_c_message_free_unpacked(&r->base, NULL);
	stop();

	/* a restart keeps them; a long MinJobAge would load a record still
	 * in the jobs table: none is */
	start("MinJobAge=31536000\n");
	CU_ASSERT_PTR_NULL(job_find(ctx, a));
	CU_ASSERT_PTR_NULL(job_find(ctx, b));
	CU_ASSERT_EQUAL(history_count(ctx), 3);
	req.n_job_ids = 0;
	req.accounts = accounts;
	req.n_accounts = 1;
	r = ask(&req);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	CU_ASSERT_EQUAL(r->n_jobs, 2);
	CU_ASSERT(has_job(r, a));
	CU_ASSERT(has_job(r, c));
	protobuf_c_message_free_unpacked(&r->base, NULL);

	/* bounded before it is trusted: a cursor not of ours, too many ids */
	{
		Meridian__JobHistoryRequest bad =
			MERIDIAN__JOB_HISTORY_REQUEST__INIT;
		uint32_t *many = xcalloc(5000, sizeof(*many));
		uint8_t cur[3] = {1, 2, 3};

		bad.after.data = cur;
		bad.after.len = 3;
		CU_ASSERT_PTR_NULL(ask(&bad));
		bad.after.len = 0;
		bad.job_ids = many;
		bad.n_job_ids = 5000;
		CU_ASSERT_PTR_NULL(ask(&bad));
		free(many);
	}

	/* a window that ended before they were submitted holds none */
	req.n_accounts = 0;
	req.start = 1000;
	req.end = 2000;
	r = ask(&req);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	CU_ASSERT_EQUAL(r->n_jobs, 0);
	protobuf_c_message_free_unpacked(&r->base, NULL);
	stop();
	th_rmdir(dir);
}

static void test_max(void)
{
	Meridian__JobHistoryRequest req = MERIDIAN__JOB_HISTORY_REQUEST__INIT;
	Meridian__JobHistoryReply *r;
	uint32_t id[4];

	dir = th_tmpdir();
	start("MinJobAge=0\nJobHistoryMax=2\n");
	for (int i = 0; i < 4; i++) {
		id[i] = ended_job(TH_ALICE, "j", "");
		purge();
	}
	CU_ASSERT_EQUAL(history_count(ctx), 2);
	r = ask(&req);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	CU_ASSERT_EQUAL(r->n_jobs, 2);
	CU_ASSERT(has_job(r, id[2]));
	CU_ASSERT(has_job(r, id[3]));
	protobuf_c_message_free_unpacked(&r->base, NULL);
	stop();
	th_rmdir(dir);
}

/* A record kept in the jobs table by an older mctld, ended 40 days ago:
 * it moves to the history as it loads, and JobHistoryDays=30 drops it. */
static void test_days(void)
{
	Meridian__JobRecord *old = xcalloc(1, sizeof(*old)), *young;
	int64_t now = mer_now();

	dir = th_tmpdir();
	start("MinJobAge=0\n");
	meridian__job_record__init(old);
	old->job_id = 77;
	old->state = MERIDIAN__JOB_STATE__JOB_COMPLETED;
	old->submit_time = now - 41 * 86400;
	old->end_time = now - 40 * 86400;
	young = xcalloc(1, sizeof(*young));
	meridian__job_record__init(young);
	young->job_id = 78;
	young->state = MERIDIAN__JOB_STATE__JOB_COMPLETED;
	young->submit_time = now - 3 * 86400;
	young->end_time = now - 2 * 86400;
	job_mgr_load(ctx, old, now);
	job_mgr_load(ctx, young, now);
	th_turn(ctx);
	CU_ASSERT_PTR_NULL(job_find(ctx, 77));
	CU_ASSERT_PTR_NULL(job_find(ctx, 78));
	CU_ASSERT_EQUAL(history_count(ctx), 1);
	stop();
	th_rmdir(dir);
}

static CU_TestInfo tests[] = {
	{"a job moves to the history and stays", test_moves_and_survives},
	{"JobHistoryMax", test_max},
	{"JobHistoryDays, and records an older mctld kept", test_days},
	CU_TEST_INFO_NULL,
};

CUNIT_MAIN("mctld history", tests)
