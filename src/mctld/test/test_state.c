/*
 * test_state.c - LMDB state: records written, closed, reopened (a
 * restart) come back the same; ids never repeat; a whole controller
 * restarted keeps its pending, running and recent finished jobs.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <lmdb.h>

#include "cunit_main.h"
#include "harness.h"
#include "util.h"

#define NODES                                                                  \
	"NodeName=n[1-2] CPUs=4 RealMemory=4096\n"                             \
	"PartitionName=main Nodes=ALL Default=YES\n"

/* A commit source for the tests: writes what it holds into the same
 * tables mctld's job and node sources use. */
struct tsrc {
	unsigned jobs, specs, meta, nodes;
	bool pending;
	bool fail;	      /* collect fails */
	int done_ok;	      /* done(true) calls */
	int done_fail;	      /* done(false) calls */
	uint32_t first, last; /* job ids to write */
	bool with_rest;	      /* and the spec, next id, node */
};

static bool tsrc_pending(void *arg)
{
	return ((struct tsrc *)arg)->pending;
}

static long tsrc_collect(struct state *st, void *arg, struct mer_error *err)
{
	struct tsrc *t = arg;
	Meridian__JobRecord rec = MERIDIAN__JOB_RECORD__INIT;
	Meridian__JobDesc desc = MERIDIAN__JOB_DESC__INIT;
	Meridian__JobSpec spec = MERIDIAN__JOB_SPEC__INIT;
	Meridian__NodeRecord nrec = MERIDIAN__NODE_RECORD__INIT;
	uint8_t key[4], buf[256];
	long n = 0;

	if (t->fail) {
		mer_error_set(err, "test source refuses");
		errno = EIO;
		return -1;
	}
	rec.desc = &desc;
	desc.name = (char *)"job";
	for (uint32_t i = t->first; i && i <= t->last; i++) {
		rec.job_id = i;
		rec.state = i == 3 ? MERIDIAN__JOB_STATE__JOB_RUNNING
				   : MERIDIAN__JOB_STATE__JOB_PENDING;
		rec.user_id = 1000 + i;
		state_u32_key(i, key);
		if (state_put_msg(st, t->jobs, key, 4, &rec.base, err) < 0)
			return -1;
		n++;
	}
	if (!t->with_rest)
		return n;
	spec.script.data = (uint8_t *)"#!/bin/sh\n";
	spec.script.len = 10;
	state_u32_key(2, key);
	if (state_put(st, t->specs, key, 4, buf,
		      meridian__job_spec__pack(&spec, buf), err) < 0)
		return -1;
	state_u32_key(4, key);
	if (state_put(st, t->meta, "next_job_id", 11, key, 4, err) < 0)
		return -1;
	nrec.name = (char *)"n1";
	nrec.drain = true;
	nrec.reason = (char *)"disk";
	if (state_put_msg(st, t->nodes, "n1", 2, &nrec.base, err) < 0)
		return -1;
	return n + 3;
}

static void tsrc_done(void *arg, bool ok)
{
	struct tsrc *t = arg;

	if (ok)
		t->done_ok++;
	else
		t->done_fail++;
	t->pending = false;
}

static const struct state_source tsrc_ops = {
	"test",
	tsrc_pending,
	tsrc_collect,
	tsrc_done,
};

static void tsrc_open(struct state *st, struct tsrc *t)
{
	struct mer_error err = {""};

	CU_ASSERT_EQUAL(state_db_open(st, "jobs", &t->jobs, &err), 0);
	CU_ASSERT_EQUAL(state_db_open(st, "specs", &t->specs, &err), 0);
	CU_ASSERT_EQUAL(state_db_open(st, "meta", &t->meta, &err), 0);
	CU_ASSERT_EQUAL(state_db_open(st, "nodes", &t->nodes, &err), 0);
}

struct loaded {
	Meridian__JobRecord *recs[16];
	size_t n;
};

static int keep_job(const void *k, size_t klen, const void *v, size_t vlen,
		    void *arg)
{
	struct loaded *l = arg;

	CU_ASSERT_EQUAL(klen, 4);
	l->recs[l->n] = meridian__job_record__unpack(NULL, vlen, v);
	CU_ASSERT_PTR_NOT_NULL_FATAL(l->recs[l->n]);
	CU_ASSERT_EQUAL(l->recs[l->n]->job_id, state_key_u32(k, klen));
	l->n++;
	return 0;
}

static int get_u32(const void *v, size_t len, void *arg)
{
	CU_ASSERT_EQUAL(len, 4);
	*(uint32_t *)arg = state_key_u32(v, len);
	return 0;
}

static int get_spec(const void *v, size_t len, void *arg)
{
	*(Meridian__JobSpec **)arg = meridian__job_spec__unpack(NULL, len, v);
	return 0;
}

static int get_node(const void *v, size_t len, void *arg)
{
	*(Meridian__NodeRecord **)arg =
		meridian__node_record__unpack(NULL, len, v);
	return 0;
}

static void test_reopen(void)
{
	char *dir = th_tmpdir();
	char *sdir = xasprintf("%s/state", dir);
	struct mer_error err = {""};
	struct state *st, *st2;
	struct loaded l = {{0}, 0};
	struct tsrc t = {0};
	Meridian__JobSpec *sp = NULL;
	Meridian__NodeRecord *nback = NULL;
	uint8_t key[4];
	uint32_t id = 0, i;

	st = state_open(sdir, &err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(st);
	CU_ASSERT_EQUAL(state_schema_found(st), STATE_SCHEMA_VERSION);
	tsrc_open(st, &t);
	CU_ASSERT_EQUAL(
		state_get(st, t.meta, "next_job_id", 11, get_u32, &id, &err),
		-1);
	CU_ASSERT_EQUAL(errno, ENOENT);
	/* a second controller on the same StateDir is refused */
	st2 = state_open(sdir, &err);
	CU_ASSERT_PTR_NULL(st2);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.text, "in use by another mctld"));

	state_add_source(st, &tsrc_ops, &t);
	/* nothing pending: no commit at all */
	CU_ASSERT_EQUAL(state_commit(st, &err), 0);
	CU_ASSERT_EQUAL(state_commits(st), 0);
	CU_ASSERT_EQUAL(t.done_ok + t.done_fail, 0);
	/* writes outside a commit are refused */
	state_u32_key(1, key);
	CU_ASSERT_EQUAL(state_put(st, t.jobs, key, 4, "x", 1, &err), -1);

	t.pending = true;
	t.first = 1;
	t.last = 3;
	t.with_rest = true;
	CU_ASSERT_EQUAL(state_commit(st, &err), 0);
	CU_ASSERT_EQUAL(state_commits(st), 1);
	CU_ASSERT_EQUAL(t.done_ok, 1);
	/* a failed commit leaves nothing and says so */
	t.pending = true;
	t.first = t.last = 9;
	t.with_rest = false;
	state_fail_next_commit(st, ENOSPC);
	CU_ASSERT_EQUAL(state_commit(st, &err), -1);
	CU_ASSERT_EQUAL(errno, ENOSPC);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.text, "StateDir is full"));
	CU_ASSERT_EQUAL(t.done_fail, 1);
	/* a source whose collect fails: nothing of the turn is written */
	t.pending = true;
	t.fail = true;
	CU_ASSERT_EQUAL(state_commit(st, &err), -1);
	CU_ASSERT_STRING_EQUAL(err.text, "test source refuses");
	CU_ASSERT_EQUAL(t.done_fail, 2);
	CU_ASSERT_EQUAL(state_commits(st), 1);
	state_close(st);

	st = state_open(sdir, &err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(st);
	tsrc_open(st, &t);
	CU_ASSERT_EQUAL(
		state_get(st, t.meta, "next_job_id", 11, get_u32, &id, &err),
		0);
	CU_ASSERT_EQUAL(id, 4);
	CU_ASSERT_EQUAL(state_each(st, t.jobs, keep_job, &l, &err), 0);
	CU_ASSERT_EQUAL_FATAL(l.n, 3); /* not 9 */
	for (i = 0; i < 3; i++) {
		CU_ASSERT_EQUAL(l.recs[i]->job_id, i + 1); /* id order */
		CU_ASSERT_EQUAL(l.recs[i]->user_id, 1001 + i);
		CU_ASSERT_STRING_EQUAL(l.recs[i]->desc->name, "job");
		meridian__job_record__free_unpacked(l.recs[i], NULL);
	}
	state_u32_key(2, key);
	CU_ASSERT_EQUAL(state_get(st, t.specs, key, 4, get_spec, &sp, &err), 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(sp);
	CU_ASSERT_EQUAL(sp->script.len, 10);
	meridian__job_spec__free_unpacked(sp, NULL);
	state_u32_key(1, key);
	CU_ASSERT_EQUAL(state_get(st, t.specs, key, 4, get_spec, &sp, &err),
			-1);
	CU_ASSERT_EQUAL(errno, ENOENT);
	CU_ASSERT_EQUAL(state_get(st, t.nodes, "n1", 2, get_node, &nback, &err),
			0);
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

/* Write a StateDir with LMDB alone, as an older mctld (or a newer one)
 * left it: a job record, and a schema version unless version is 0. */
static void write_raw(const char *sdir, uint32_t version)
{
	Meridian__JobRecord rec = MERIDIAN__JOB_RECORD__INIT;
	Meridian__JobDesc desc = MERIDIAN__JOB_DESC__INIT;
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi jobs, meta;
	uint8_t key[4], val[4], buf[256];
	MDB_val k = {4, key}, v;

	CU_ASSERT_EQUAL_FATAL(mkdir_p(sdir, 0700), 0);
	CU_ASSERT_EQUAL_FATAL(mdb_env_create(&env), 0);
	mdb_env_set_maxdbs(env, 8);
	CU_ASSERT_EQUAL_FATAL(mdb_env_open(env, sdir, 0, 0600), 0);
	CU_ASSERT_EQUAL_FATAL(mdb_txn_begin(env, NULL, 0, &txn), 0);
	CU_ASSERT_EQUAL(mdb_dbi_open(txn, "jobs", MDB_CREATE, &jobs), 0);
	CU_ASSERT_EQUAL(mdb_dbi_open(txn, "meta", MDB_CREATE, &meta), 0);
	rec.job_id = 7;
	rec.desc = &desc;
	desc.name = (char *)"old";
	rec.state = MERIDIAN__JOB_STATE__JOB_PENDING;
	state_u32_key(7, key);
	v.mv_data = buf;
	v.mv_size = meridian__job_record__pack(&rec, buf);
	CU_ASSERT_EQUAL(mdb_put(txn, jobs, &k, &v, 0), 0);
	k.mv_data = (void *)"next_job_id";
	k.mv_size = 11;
	state_u32_key(8, val);
	v.mv_data = val;
	v.mv_size = 4;
	CU_ASSERT_EQUAL(mdb_put(txn, meta, &k, &v, 0), 0);
	if (version) {
		k.mv_data = (void *)"schema_version";
		k.mv_size = 14;
		state_u32_key(version, val);
		CU_ASSERT_EQUAL(mdb_put(txn, meta, &k, &v, 0), 0);
	}
	CU_ASSERT_EQUAL(mdb_txn_commit(txn), 0);
	mdb_env_close(env);
}

static void test_schema(void)
{
	char *dir = th_tmpdir();
	/* the old one where the test configuration's StateDir= is */
	char *sold = xasprintf("%s/state", dir),
	     *snew = xasprintf("%s/new", dir);
	struct mer_error err = {""};
	struct state *st;
	struct mctld *ctx;
	struct job *j;

	/* before versions were recorded: version 1, migrated */
	write_raw(sold, 0);
	st = state_open(sold, &err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(st);
	CU_ASSERT_EQUAL(state_schema_found(st), 1);
	state_close(st);
	st = state_open(sold, &err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(st);
	CU_ASSERT_EQUAL(state_schema_found(st), STATE_SCHEMA_VERSION);
	state_close(st);
	/* and a controller on it has the old job, and its ids go on */
	ctx = th_ctx(dir, NODES);
	j = job_find(ctx, 7);
	CU_ASSERT_PTR_NOT_NULL_FATAL(j);
	CU_ASSERT_STRING_EQUAL(j->rec->desc->name, "old");
	CU_ASSERT_EQUAL(job_mgr_next_id(ctx->jobs), 8);
	mctld_destroy(ctx);

	/* from a newer mctld: refused, saying what to do */
	write_raw(snew, STATE_SCHEMA_VERSION + 1);
	st = state_open(snew, &err);
	CU_ASSERT_PTR_NULL(st);
	CU_ASSERT_EQUAL(errno, EPROTO);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.text, "newer mctld"));
	{
		char *newer = xasprintf("schema version %u",
					STATE_SCHEMA_VERSION + 1),
		     *reads = xasprintf("reads versions 1 to %u",
					STATE_SCHEMA_VERSION);

		CU_ASSERT_PTR_NOT_NULL(strstr(err.text, newer));
		CU_ASSERT_PTR_NOT_NULL(strstr(err.text, reads));
		free(newer);
		free(reads);
	}
	/* issue 8's version 2 (no probes table) is migrated too */
	remove_tree(sold);
	write_raw(sold, 2);
	st = state_open(sold, &err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(st);
	CU_ASSERT_EQUAL(state_schema_found(st), 2);
	state_close(st);
	ctx = th_ctx(dir, NODES);
	CU_ASSERT_PTR_NOT_NULL_FATAL(ctx);
	CU_ASSERT_PTR_NOT_NULL(job_find(ctx, 7));
	mctld_destroy(ctx);
	free(sold);
	free(snew);
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
	{"schema version: migrate older, refuse newer", test_schema},
	{"controller restart", test_restart},
	CU_TEST_INFO_NULL,
};

CUNIT_MAIN("mctld state", tests)
