/*
 * test_state.c - LMDB state: records written, closed, reopened (a
 * restart) come back the same; ids never repeat; a whole controller
 * restarted keeps its pending, running and recent finished jobs.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cunit_main.h"
#include "harness.h"
#include "util.h"

#define NODES                                                                  \
	"NodeName=n[1-2] CPUs=4 RealMemory=4096\n"                             \
	"PartitionName=main Nodes=ALL Default=YES\n"

struct loaded {
	Meridian__JobRecord *recs[16];
	size_t n;
};

static void keep_job(Meridian__JobRecord *rec, void *arg)
{
	struct loaded *l = arg;

	l->recs[l->n++] = rec;
}

static void keep_node(Meridian__NodeRecord *rec, void *arg)
{
	Meridian__NodeRecord **out = arg;

	*out = rec;
}

static void test_reopen(void)
{
	char *dir = th_tmpdir();
	char *sdir = xasprintf("%s/state", dir);
	struct mer_error err = {""};
	struct state *st, *st2;
	struct loaded l = {{0}, 0};
	Meridian__JobRecord rec = MERIDIAN__JOB_RECORD__INIT;
	Meridian__JobDesc desc = MERIDIAN__JOB_DESC__INIT;
	Meridian__JobSpec spec = MERIDIAN__JOB_SPEC__INIT, *sp;
	Meridian__NodeRecord nrec = MERIDIAN__NODE_RECORD__INIT, *nback = NULL;
	uint8_t buf[256];
	size_t len;
	uint32_t id, i;

	st = state_open(sdir, &err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(st);
	CU_ASSERT_EQUAL(state_get_next_id(st, &id, &err), 0);
	CU_ASSERT_EQUAL(id, 1);
	/* a second controller on the same StateDir is refused */
	st2 = state_open(sdir, &err);
	CU_ASSERT_PTR_NULL(st2);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.text, "in use by another mctld"));

	CU_ASSERT_EQUAL_FATAL(state_txn_begin(st, &err), 0);
	rec.desc = &desc;
	desc.name = (char *)"job";
	for (i = 1; i <= 3; i++) {
		rec.job_id = i;
		rec.state = i == 3 ? MERIDIAN__JOB_STATE__JOB_RUNNING
				   : MERIDIAN__JOB_STATE__JOB_PENDING;
		rec.user_id = 1000 + i;
		CU_ASSERT_EQUAL(state_txn_put_job(st, &rec, &err), 0);
	}
	spec.script.data = (uint8_t *)"#!/bin/sh\n";
	spec.script.len = 10;
	len = meridian__job_spec__pack(&spec, buf);
	CU_ASSERT_EQUAL(state_txn_put_spec(st, 2, buf, len, &err), 0);
	CU_ASSERT_EQUAL(state_txn_put_next_id(st, 4, &err), 0);
	nrec.name = (char *)"n1";
	nrec.drain = true;
	nrec.reason = (char *)"disk";
	CU_ASSERT_EQUAL(state_txn_put_node(st, &nrec, &err), 0);
	CU_ASSERT_EQUAL(state_txn_commit(st, &err), 0);
	/* an aborted transaction leaves nothing */
	CU_ASSERT_EQUAL_FATAL(state_txn_begin(st, &err), 0);
	rec.job_id = 9;
	CU_ASSERT_EQUAL(state_txn_put_job(st, &rec, &err), 0);
	state_txn_abort(st);
	state_close(st);

	st = state_open(sdir, &err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(st);
	CU_ASSERT_EQUAL(state_get_next_id(st, &id, &err), 0);
	CU_ASSERT_EQUAL(id, 4);
	CU_ASSERT_EQUAL(state_load_jobs(st, keep_job, &l, &err), 0);
	CU_ASSERT_EQUAL_FATAL(l.n, 3);
	for (i = 0; i < 3; i++) {
		CU_ASSERT_EQUAL(l.recs[i]->job_id, i + 1); /* id order */
		CU_ASSERT_EQUAL(l.recs[i]->user_id, 1001 + i);
		CU_ASSERT_STRING_EQUAL(l.recs[i]->desc->name, "job");
		meridian__job_record__free_unpacked(l.recs[i], NULL);
	}
	sp = state_get_spec(st, 2, &err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(sp);
	CU_ASSERT_EQUAL(sp->script.len, 10);
	meridian__job_spec__free_unpacked(sp, NULL);
	sp = state_get_spec(st, 1, &err);
	CU_ASSERT_PTR_NULL(sp);
	CU_ASSERT_EQUAL(errno, ENOENT);
	CU_ASSERT_EQUAL(state_load_nodes(st, keep_node, &nback, &err), 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(nback);
	CU_ASSERT_STRING_EQUAL(nback->name, "n1");
	CU_ASSERT_TRUE(nback->drain);
	CU_ASSERT_STRING_EQUAL(nback->reason, "disk");
	meridian__node_record__free_unpacked(nback, NULL);
	CU_ASSERT_EQUAL(state_commits(st), 0);
	state_close(st);
	free(sdir);
	th_rmdir(dir);
}

static void test_restart(void)
{
	char *dir = th_tmpdir();
	struct mctld *ctx = th_ctx(dir, NODES "MinJobAge=300\n");
	struct peer *user = th_peer(ctx, "user"), *node;
	Meridian__NodeRegisterReply *rr;
	Meridian__JobDesc d = MERIDIAN__JOB_DESC__INIT;
	Meridian__JobEnd end = MERIDIAN__JOB_END__INIT;
	Meridian__UpdateNodeRequest un = MERIDIAN__UPDATE_NODE_REQUEST__INIT;
	struct job *j;
	struct node *n1;
	uint32_t id1, id2, id3, id4;

	node = th_peer(ctx, "n1");
	rr = th_register(ctx, node, "n1", NULL, 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(rr);
	protobuf_c_message_free_unpacked(&rr->base, NULL);
	/* 1 runs and ends, 2 runs, 3 waits (-n 4 -N 1 fills n1 after 2) */
	id1 = th_submit(ctx, user, TH_ALICE, NULL, NULL, 0);
	id2 = th_submit(ctx, user, TH_ALICE, NULL, NULL, 0);
	d.ntasks = 4;
	id3 = th_submit(ctx, user, TH_BOB, &d, NULL, 0);
	d.hold = MERIDIAN__HOLD_KIND__HOLD_USER;
	id4 = th_submit(ctx, user, TH_BOB, &d, NULL, 0);
	CU_ASSERT_EQUAL(id1, 1);
	CU_ASSERT_EQUAL(id4, 4);
	CU_ASSERT_EQUAL(job_find(ctx, id1)->rec->state,
			MERIDIAN__JOB_STATE__JOB_RUNNING);
	CU_ASSERT_EQUAL(job_find(ctx, id2)->rec->state,
			MERIDIAN__JOB_STATE__JOB_RUNNING);
	CU_ASSERT_EQUAL(job_find(ctx, id3)->rec->state,
			MERIDIAN__JOB_STATE__JOB_PENDING);
	end.job_id = id1;
	end.state = MERIDIAN__JOB_STATE__JOB_COMPLETED;
	end.end_time = mer_now();
	th_request(ctx, node, MERIDIAN__MSG_TYPE__MSG_JOB_END, 50, 0,
		   &end.base);
	/* 3 does not fit beside 2 (4 CPUs + 1) */
	th_turn(ctx);
	CU_ASSERT_EQUAL(job_find(ctx, id1)->rec->state,
			MERIDIAN__JOB_STATE__JOB_COMPLETED);
	CU_ASSERT_EQUAL(job_find(ctx, id3)->rec->state,
			MERIDIAN__JOB_STATE__JOB_PENDING);
	un.nodes = (char *)"n2";
	un.action = MERIDIAN__NODE_ACTION__NODE_ACTION_DRAIN;
	un.reason = (char *)"bad fan";
	th_request(ctx, user, MERIDIAN__MSG_TYPE__MSG_UPDATE_NODE, 51, 0,
		   &un.base);
	th_turn(ctx);
	/* a restart: everything on disk comes back */
	mctld_destroy(ctx);
	ctx = th_ctx(dir, NODES "MinJobAge=300\n");
	CU_ASSERT_EQUAL(job_mgr_count(ctx), 4);
	j = job_find(ctx, id1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(j);
	CU_ASSERT_EQUAL(j->rec->state, MERIDIAN__JOB_STATE__JOB_COMPLETED);
	j = job_find(ctx, id2);
	CU_ASSERT_PTR_NOT_NULL_FATAL(j);
	CU_ASSERT_EQUAL(j->rec->state, MERIDIAN__JOB_STATE__JOB_RUNNING);
	CU_ASSERT_STRING_EQUAL(j->rec->nodes, "n1");
	CU_ASSERT_EQUAL(j->rec->n_alloc, 1);
	j = job_find(ctx, id3);
	CU_ASSERT_EQUAL(j->rec->state, MERIDIAN__JOB_STATE__JOB_PENDING);
	CU_ASSERT_EQUAL(j->rec->ntasks, 4);
	CU_ASSERT_EQUAL(j->cpus_per_node, 4);
	j = job_find(ctx, id4);
	CU_ASSERT_EQUAL(j->rec->desc->hold, MERIDIAN__HOLD_KIND__HOLD_USER);
	/* the running job's allocation is charged again */
	n1 = node_find(ctx, "n1");
	CU_ASSERT_EQUAL(n1->cpus_alloc, 1);
	CU_ASSERT_EQUAL(n1->njobs, 1);
	CU_ASSERT_FALSE(n1->registered);
	CU_ASSERT_STRING_EQUAL(node_state_name(n1), "UNKNOWN");
	CU_ASSERT_TRUE(node_find(ctx, "n2")->drain);
	CU_ASSERT_STRING_EQUAL(node_find(ctx, "n2")->reason, "bad fan");
	/* ids go on */
	user = th_peer(ctx, "user");
	CU_ASSERT_EQUAL(th_submit(ctx, user, TH_ALICE, NULL, NULL, 0), 5);
	mctld_destroy(ctx);

	/* MinJobAge=0: the finished job stays on disk, not in memory */
	ctx = th_ctx(dir, NODES "MinJobAge=0\n");
	CU_ASSERT_PTR_NULL(job_find(ctx, id1));
	CU_ASSERT_PTR_NOT_NULL(job_find(ctx, id2));
	CU_ASSERT_EQUAL(job_mgr_next_id(ctx->jobs), 6);
	mctld_destroy(ctx);
	th_rmdir(dir);
}

static CU_TestInfo tests[] = {
	{"write, close, reopen", test_reopen},
	{"controller restart", test_restart},
	CU_TEST_INFO_NULL,
};

CUNIT_MAIN("mctld state", tests)
