/*
 * test_rpc.c - the RPC handlers over a fake transport: group commit,
 * access rules, ownership, scheduling and launch, cancel, hold, node
 * registration and reconciliation, liveness.
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "cunit_main.h"
#include "harness.h"
#include "util.h"

#define MT(x) MERIDIAN__MSG_TYPE__MSG_##x
#define JS(x) MERIDIAN__JOB_STATE__JOB_##x

#define NODES                                                                  \
	"NodeName=n[1-3] CPUs=2 RealMemory=4096 Gres=gpu:a100:2\n"             \
	"PartitionName=main Nodes=ALL Default=YES MaxTime=60\n"                \
	"GpuHourPrice=a100:2.5,default:1\n"                                    \
	"KillWait=5\nNodeTimeout=60\nHeartbeatInterval=10\n"

static char *dir;
static struct mctld *ctx;

static void setup(void)
{
	dir = th_tmpdir();
	ctx = th_ctx(dir, NODES);
}

static void teardown(void)
{
	mctld_destroy(ctx);
	th_rmdir(dir);
}

/* The reply to type at the end of p's frames, which must be there. */
static ProtobufCMessage *reply(struct peer *p, unsigned type, bool want_err)
{
	bool is_err = !want_err;
	ProtobufCMessage *m = th_last_reply(p, type, &is_err);

	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	if (is_err != want_err && is_err)
		fprintf(stderr, "\n  error: %s\n",
			((Meridian__ErrorReply *)m)->text);
	CU_ASSERT_EQUAL_FATAL(is_err, want_err);
	return m;
}

static void expect_error(struct peer *p, unsigned type, int code,
			 const char *text)
{
	Meridian__ErrorReply *e = (void *)reply(p, type, true);

	CU_ASSERT_EQUAL(e->code, code);
	if (strcmp(e->text, text) != 0)
		fprintf(stderr, "\n  got  '%s'\n  want '%s'\n", e->text, text);
	CU_ASSERT_STRING_EQUAL(e->text, text);
	protobuf_c_message_free_unpacked(&e->base, NULL);
}

/* Find the n-th frame of type pushed to p (a request, not a reply). */
static ssize_t find_push(struct peer *p, unsigned type, size_t nth)
{
	size_t i;

	for (i = 0; i < th_nframes(p); i++) {
		struct frame_hdr h;
		ProtobufCMessage *m = th_frame(p, i, &h);

		protobuf_c_message_free_unpacked(m, NULL);
		if (h.type == type && !(h.flags & MER_FRAME_REPLY) &&
		    nth-- == 0)
			return (ssize_t)i;
	}
	return -1;
}

static struct peer *up_node(const char *name)
{
	struct peer *p = th_peer(ctx, name);
	Meridian__NodeRegisterReply *rr = th_register(ctx, p, name, NULL, 0);

	CU_ASSERT_PTR_NOT_NULL_FATAL(rr);
	CU_ASSERT_EQUAL(rr->heartbeat_interval, ctx->conf->heartbeat_interval);
	protobuf_c_message_free_unpacked(&rr->base, NULL);
	th_forget_frames(p);
	return p;
}

static void test_group_commit(void)
{
	Meridian__SubmitJobRequest req = MERIDIAN__SUBMIT_JOB_REQUEST__INIT;
	Meridian__JobSpec spec = MERIDIAN__JOB_SPEC__INIT;
	Meridian__JobDesc d = MERIDIAN__JOB_DESC__INIT;
	Meridian__SubmitJobReply *r;
	struct peer *a, *b;
	uint64_t commits;

	setup();
	a = th_peer(ctx, "a");
	b = th_peer(ctx, "b");
	spec.script.data = (uint8_t *)"#!/bin/sh\n";
	spec.script.len = 10;
	req.desc = &d;
	req.spec = &spec;
	commits = state_commits(ctx->state);
	th_request(ctx, a, MT(SUBMIT_JOB), 1, TH_ALICE, &req.base);
	th_request(ctx, b, MT(SUBMIT_JOB), 1, TH_BOB, &req.base);
	/* nothing is acknowledged before the commit */
	CU_ASSERT_EQUAL(th_nframes(a), 0);
	CU_ASSERT_EQUAL(th_nframes(b), 0);
	mctld_turn_end(ctx);
	CU_ASSERT_EQUAL(state_commits(ctx->state), commits + 1);
	r = (void *)reply(a, MT(SUBMIT_JOB), false);
	CU_ASSERT_EQUAL(r->job_id, 1);
	protobuf_c_message_free_unpacked(&r->base, NULL);
	r = (void *)reply(b, MT(SUBMIT_JOB), false);
	CU_ASSERT_EQUAL(r->job_id, 2);
	protobuf_c_message_free_unpacked(&r->base, NULL);
	/* a turn with nothing to write does not commit */
	mctld_turn_end(ctx);
	CU_ASSERT_EQUAL(state_commits(ctx->state), commits + 1);
	/* the user name comes from the uid, not the request */
	CU_ASSERT_STRING_EQUAL(job_find(ctx, 1)->rec->user_name, "4242");
	/* a peer gone before the commit gets nothing, and nothing breaks */
	th_request(ctx, a, MT(SUBMIT_JOB), 2, TH_ALICE, &req.base);
	th_close(a);
	mctld_turn_end(ctx);
	CU_ASSERT_PTR_NOT_NULL(job_find(ctx, 3));
	teardown();
}

static void test_commit_failure(void)
{
	Meridian__SubmitJobRequest req = MERIDIAN__SUBMIT_JOB_REQUEST__INIT;
	Meridian__JobSpec spec = MERIDIAN__JOB_SPEC__INIT;
	Meridian__JobDesc d = MERIDIAN__JOB_DESC__INIT;
	Meridian__ErrorReply *e;
	struct peer *a, *b;

	setup();
	a = th_peer(ctx, "a");
	b = th_peer(ctx, "b");
	spec.script.data = (uint8_t *)"#!/bin/sh\n";
	spec.script.len = 10;
	req.desc = &d;
	req.spec = &spec;
	th_request(ctx, a, MT(SUBMIT_JOB), 1, TH_ALICE, &req.base);
	th_request(ctx, b, MT(SUBMIT_JOB), 1, TH_BOB, &req.base);
	CU_ASSERT_EQUAL(job_mgr_count(ctx), 2);
	state_fail_next_commit(ctx->state, ENOSPC);
	mctld_turn_end(ctx);
	/* never acked: both get an error, and the jobs are gone */
	e = (void *)reply(a, MT(SUBMIT_JOB), true);
	CU_ASSERT_EQUAL(e->code, ENOSPC);
	CU_ASSERT_STRING_EQUAL(e->text,
			       "mctld could not record the request: StateDir "
			       "is full (LMDB commit: No space left on "
			       "device); it was not done");
	protobuf_c_message_free_unpacked(&e->base, NULL);
	e = (void *)reply(b, MT(SUBMIT_JOB), true);
	protobuf_c_message_free_unpacked(&e->base, NULL);
	CU_ASSERT_EQUAL(job_mgr_count(ctx), 0);
	CU_ASSERT_PTR_NULL(job_find(ctx, 1));
	/* the next turn works; ids are not reused */
	CU_ASSERT_EQUAL(th_submit(ctx, a, TH_ALICE, NULL, NULL, 0), 3);
	teardown();
}

static void test_bad_input(void)
{
	struct peer *p;
	struct frame_hdr h = {
		MER_FRAME_MAGIC, MER_PROTO_VERSION, MT(SUBMIT_JOB), 0, 9, 0, 3};
	static const uint8_t garbage[] = {0xff, 0xff, 0xff};

	setup();
	p = th_peer(ctx, "p");
	rpc_dispatch(ctx, p, &h, TH_ALICE, TH_ALICE, garbage);
	{
		Meridian__ErrorReply *e =
			(void *)reply(p, MT(SUBMIT_JOB), true);

		CU_ASSERT_EQUAL(e->code, EINVAL);
		CU_ASSERT_PTR_NOT_NULL(
			strstr(e->text, "bad SUBMIT_JOB request"));
		protobuf_c_message_free_unpacked(&e->base, NULL);
	}
	/* a type mctld does not serve */
	h.type = MT(LAUNCH_JOB);
	h.body_len = 0;
	rpc_dispatch(ctx, p, &h, 0, 0, garbage);
	expect_error(p, MT(LAUNCH_JOB), EOPNOTSUPP,
		     "mctld does not serve LAUNCH_JOB requests");
	teardown();
}

static void test_access(void)
{
	Meridian__UpdateNodeRequest un = MERIDIAN__UPDATE_NODE_REQUEST__INIT;
	Meridian__NodeRegister reg = MERIDIAN__NODE_REGISTER__INIT;
	Meridian__UpdateNodeReply *ur;
	struct peer *p;
	char want[200];

	setup();
	p = th_peer(ctx, "p");
	un.nodes = (char *)"n[1-2]";
	un.action = MERIDIAN__NODE_ACTION__NODE_ACTION_DRAIN;
	un.reason = (char *)"maintenance";
	th_request(ctx, p, MT(UPDATE_NODE), 1, TH_ALICE, &un.base);
	expect_error(p, MT(UPDATE_NODE), EPERM,
		     "UPDATE_NODE needs an admin (root or AdminUsers=); uid "
		     "4242 is not one");
	reg.name = (char *)"n1";
	th_request(ctx, p, MT(NODE_REGISTER), 2, TH_ALICE, &reg.base);
	snprintf(want, sizeof(want),
		 "NODE_REGISTER is for node daemons (root or uid %u); uid 4242 "
		 "may not send it",
		 (unsigned)geteuid());
	expect_error(p, MT(NODE_REGISTER), EPERM, want);
	/* drain needs a reason, like Slurm */
	un.reason = (char *)"";
	th_request(ctx, p, MT(UPDATE_NODE), 3, 0, &un.base);
	expect_error(p, MT(UPDATE_NODE), EINVAL,
		     "a reason is required to drain nodes (Reason=...)");
	un.nodes = (char *)"n[1-9]";
	un.reason = (char *)"x";
	th_request(ctx, p, MT(UPDATE_NODE), 4, 0, &un.base);
	expect_error(p, MT(UPDATE_NODE), ENOENT,
		     "node n4 is not in meridian.conf; nothing was changed");
	un.nodes = (char *)"n[1-2]";
	un.reason = (char *)"maintenance";
	th_request(ctx, p, MT(UPDATE_NODE), 5, 0, &un.base);
	CU_ASSERT_EQUAL(th_nframes(p), 4); /* durable: after the commit */
	mctld_turn_end(ctx);
	ur = (void *)reply(p, MT(UPDATE_NODE), false);
	CU_ASSERT_EQUAL(ur->updated, 2);
	protobuf_c_message_free_unpacked(&ur->base, NULL);
	CU_ASSERT_TRUE(node_find(ctx, "n1")->drain);
	CU_ASSERT_STRING_EQUAL(node_state_name(node_find(ctx, "n1")),
			       "DRAINED");
	{
		Meridian__NodeInfoRequest ni =
			MERIDIAN__NODE_INFO_REQUEST__INIT;
		Meridian__NodeInfoReply *nr;

		th_request(ctx, p, MT(NODE_INFO), 7, TH_ALICE, &ni.base);
		nr = (void *)reply(p, MT(NODE_INFO), false);
		CU_ASSERT_STRING_EQUAL(nr->nodes[0]->state, "DRAINED");
		CU_ASSERT_STRING_EQUAL(nr->nodes[0]->reason, "maintenance");
		CU_ASSERT_STRING_EQUAL(nr->nodes[0]->reason_user, "root");
		CU_ASSERT_STRING_EQUAL(nr->nodes[2]->reason, "");
		protobuf_c_message_free_unpacked(&nr->base, NULL);
	}
	/* an unknown node may not register */
	reg.name = (char *)"zz";
	th_request(ctx, p, MT(NODE_REGISTER), 6, 0, &reg.base);
	expect_error(p, MT(NODE_REGISTER), ENOENT,
		     "node 'zz' is not a NodeName in meridian.conf");
	teardown();
}

static void test_info_and_script(void)
{
	Meridian__JobInfoRequest ji = MERIDIAN__JOB_INFO_REQUEST__INIT;
	Meridian__JobScriptRequest js = MERIDIAN__JOB_SCRIPT_REQUEST__INIT;
	Meridian__CancelJobRequest cj = MERIDIAN__CANCEL_JOB_REQUEST__INIT;
	Meridian__JobInfoReply *jr;
	Meridian__JobScriptReply *sr;
	struct peer *p;
	uint32_t ids[1];

	setup();
	p = th_peer(ctx, "p");
	CU_ASSERT_EQUAL(th_submit(ctx, p, TH_ALICE, NULL, NULL, 0), 1);
	CU_ASSERT_EQUAL(th_submit(ctx, p, TH_BOB, NULL, NULL, 0), 2);
	CU_ASSERT_EQUAL(th_submit(ctx, p, TH_BOB, NULL, NULL, 0), 3);
	/* cancel 3 (pending): CANCELLED at once */
	ids[0] = 3;
	cj.job_ids = ids;
	cj.n_job_ids = 1;
	th_request(ctx, p, MT(CANCEL_JOB), 1, TH_BOB, &cj.base);
	mctld_turn_end(ctx);
	CU_ASSERT_EQUAL(job_find(ctx, 3)->rec->state, JS(CANCELLED));

	th_request(ctx, p, MT(JOB_INFO), 2, TH_ALICE, &ji.base);
	jr = (void *)reply(p, MT(JOB_INFO), false);
	CU_ASSERT_EQUAL(jr->n_jobs, 2); /* finished ones need all_states */
	CU_ASSERT_EQUAL(jr->jobs[0]->job_id, 1);
	CU_ASSERT_EQUAL(jr->jobs[1]->job_id, 2);
	CU_ASSERT_TRUE(jr->now > 0);
	protobuf_c_message_free_unpacked(&jr->base, NULL);
	ji.all_states = true;
	th_request(ctx, p, MT(JOB_INFO), 3, TH_ALICE, &ji.base);
	jr = (void *)reply(p, MT(JOB_INFO), false);
	CU_ASSERT_EQUAL(jr->n_jobs, 3);
	protobuf_c_message_free_unpacked(&jr->base, NULL);
	ji.all_states = false;
	ji.has_user = true;
	ji.user_id = TH_BOB;
	th_request(ctx, p, MT(JOB_INFO), 4, TH_ALICE, &ji.base);
	jr = (void *)reply(p, MT(JOB_INFO), false);
	CU_ASSERT_EQUAL(jr->n_jobs, 1);
	protobuf_c_message_free_unpacked(&jr->base, NULL);
	ji.has_user = false;
	ji.job_ids = ids; /* asked by id: shown although finished */
	ji.n_job_ids = 1;
	th_request(ctx, p, MT(JOB_INFO), 5, TH_ALICE, &ji.base);
	jr = (void *)reply(p, MT(JOB_INFO), false);
	CU_ASSERT_EQUAL_FATAL(jr->n_jobs, 1);
	CU_ASSERT_EQUAL(jr->jobs[0]->state, JS(CANCELLED));
	protobuf_c_message_free_unpacked(&jr->base, NULL);

	/* the script: owner and admin only */
	js.job_id = 1;
	th_request(ctx, p, MT(JOB_SCRIPT), 6, TH_ALICE, &js.base);
	sr = (void *)reply(p, MT(JOB_SCRIPT), false);
	CU_ASSERT_EQUAL(sr->script.len, 15);
	CU_ASSERT_EQUAL(memcmp(sr->script.data, "#!/bin/sh\ntrue\n", 15), 0);
	protobuf_c_message_free_unpacked(&sr->base, NULL);
	th_request(ctx, p, MT(JOB_SCRIPT), 7, TH_BOB, &js.base);
	expect_error(p, MT(JOB_SCRIPT), EPERM,
		     "job 1 belongs to 4242; only its owner or an admin may "
		     "see its script");
	th_request(ctx, p, MT(JOB_SCRIPT), 8, 0, &js.base);
	sr = (void *)reply(p, MT(JOB_SCRIPT), false);
	protobuf_c_message_free_unpacked(&sr->base, NULL);
	js.job_id = 77;
	th_request(ctx, p, MT(JOB_SCRIPT), 9, 0, &js.base);
	expect_error(p, MT(JOB_SCRIPT), ENOENT,
		     "job 77 does not exist (or ended more than "
		     "MinJobAge=300s ago)");
	teardown();
}

static Meridian__JobActionReply *action(struct peer *p, unsigned type,
					const ProtobufCMessage *req, uid_t uid)
{
	th_request(ctx, p, type, 11, uid, req);
	mctld_turn_end(ctx);
	return (void *)reply(p, type, false);
}

static void test_launch_cancel(void)
{
	Meridian__CancelJobRequest cj = MERIDIAN__CANCEL_JOB_REQUEST__INIT;
	Meridian__JobEnd end = MERIDIAN__JOB_END__INIT;
	Meridian__JobDesc d = MERIDIAN__JOB_DESC__INIT;
	Meridian__JobActionReply *ar;
	Meridian__LaunchJob *lj;
	Meridian__SignalJob *sj;
	struct frame_hdr h;
	struct peer *user, *n1;
	struct job *j;
	ssize_t i;
	uint32_t ids[2];

	setup();
	user = th_peer(ctx, "user");
	n1 = up_node("n1");
	d.gpus = 1;
	CU_ASSERT_EQUAL(th_submit(ctx, user, TH_ALICE, &d, NULL, 0), 1);
	j = job_find(ctx, 1);
	CU_ASSERT_EQUAL_FATAL(j->rec->state, JS(RUNNING));
	CU_ASSERT_STRING_EQUAL(j->rec->nodes, "n1");
	CU_ASSERT_STRING_EQUAL(j->rec->batch_host, "n1");
	CU_ASSERT_EQUAL_FATAL(j->rec->n_alloc, 1);
	CU_ASSERT_EQUAL(j->rec->alloc[0]->n_gpus, 1);
	CU_ASSERT_EQUAL(j->rec->alloc[0]->gpus[0], 0);
	CU_ASSERT_EQUAL(node_find(ctx, "n1")->cpus_alloc, 1);
	CU_ASSERT_STRING_EQUAL(node_state_name(node_find(ctx, "n1")), "MIXED");
	/* LAUNCH_JOB went to the batch host with the script */
	i = find_push(n1, MT(LAUNCH_JOB), 0);
	CU_ASSERT_FATAL(i >= 0);
	lj = (void *)th_frame(n1, (size_t)i, &h);
	CU_ASSERT_EQUAL(lj->job->job_id, 1);
	CU_ASSERT_EQUAL(lj->kill_wait, 5);
	CU_ASSERT_STRING_EQUAL(lj->cluster, "test");
	CU_ASSERT_EQUAL(lj->spec->script.len, 15);
	protobuf_c_message_free_unpacked(&lj->base, NULL);
	CU_ASSERT_FALSE(j->rec->launched);
	th_reply_to(ctx, n1, (size_t)i, NULL);
	CU_ASSERT_TRUE(j->rec->launched);

	/* another user may not cancel it */
	ids[0] = 1;
	ids[1] = 99;
	cj.job_ids = ids;
	cj.n_job_ids = 2;
	ar = action(user, MT(CANCEL_JOB), &cj.base, TH_BOB);
	CU_ASSERT_EQUAL_FATAL(ar->n_results, 2);
	CU_ASSERT_EQUAL(ar->results[0]->job_id, 99);
	CU_ASSERT_EQUAL(ar->results[0]->code, ENOENT);
	CU_ASSERT_EQUAL(ar->results[1]->code, EPERM);
	CU_ASSERT_STRING_EQUAL(ar->results[1]->text,
			       "job 1 belongs to 4242; only its owner or an "
			       "admin may cancel or signal it");
	protobuf_c_message_free_unpacked(&ar->base, NULL);
	/* a signal, then the cancel, by the owner */
	cj.n_job_ids = 1;
	cj.signal = SIGUSR1;
	th_forget_frames(n1);
	ar = action(user, MT(CANCEL_JOB), &cj.base, TH_ALICE);
	CU_ASSERT_EQUAL(ar->results[0]->code, 0);
	protobuf_c_message_free_unpacked(&ar->base, NULL);
	i = find_push(n1, MT(SIGNAL_JOB), 0);
	CU_ASSERT_FATAL(i >= 0);
	sj = (void *)th_frame(n1, (size_t)i, &h);
	CU_ASSERT_EQUAL(sj->signal, SIGUSR1);
	CU_ASSERT_FALSE(sj->cancel);
	protobuf_c_message_free_unpacked(&sj->base, NULL);
	cj.signal = 0;
	ar = action(user, MT(CANCEL_JOB), &cj.base, TH_ALICE);
	CU_ASSERT_EQUAL(ar->results[0]->code, 0);
	protobuf_c_message_free_unpacked(&ar->base, NULL);
	i = find_push(n1, MT(SIGNAL_JOB), 1);
	CU_ASSERT_FATAL(i >= 0);
	sj = (void *)th_frame(n1, (size_t)i, &h);
	CU_ASSERT_TRUE(sj->cancel);
	CU_ASSERT_EQUAL(sj->job_id, 1);
	protobuf_c_message_free_unpacked(&sj->base, NULL);
	/* stays RUNNING until the node says it ended */
	CU_ASSERT_EQUAL(j->rec->state, JS(RUNNING));
	CU_ASSERT_STRING_EQUAL(j->rec->cancel_reason, "Cancelled by 4242");
	end.job_id = 1;
	end.state = JS(CANCELLED);
	end.term_signal = SIGTERM;
	th_forget_frames(n1);
	th_request(ctx, n1, MT(JOB_END), 12, 0, &end.base);
	CU_ASSERT_EQUAL(th_nframes(n1), 0); /* ack after commit */
	mctld_turn_end(ctx);
	{
		ProtobufCMessage *m = reply(n1, MT(JOB_END), false);

		protobuf_c_message_free_unpacked(m, NULL);
	}
	CU_ASSERT_EQUAL(j->rec->state, JS(CANCELLED));
	CU_ASSERT_EQUAL(j->rec->term_signal, SIGTERM);
	CU_ASSERT_STRING_EQUAL(j->rec->reason, "Cancelled by 4242");
	CU_ASSERT_EQUAL(node_find(ctx, "n1")->cpus_alloc, 0);
	CU_ASSERT_EQUAL(node_find(ctx, "n1")->gpu_alloc_mask, 0);
	/* a resent end is acked and changes nothing */
	end.state = JS(COMPLETED);
	th_request(ctx, n1, MT(JOB_END), 13, 0, &end.base);
	mctld_turn_end(ctx);
	CU_ASSERT_EQUAL(j->rec->state, JS(CANCELLED));
	/* cancelling again: already ended */
	ar = action(user, MT(CANCEL_JOB), &cj.base, TH_ALICE);
	CU_ASSERT_EQUAL(ar->results[0]->code, EALREADY);
	protobuf_c_message_free_unpacked(&ar->base, NULL);
	teardown();
}

static void test_fifo_and_reasons(void)
{
	Meridian__JobDesc d = MERIDIAN__JOB_DESC__INIT;
	Meridian__JobEnd end = MERIDIAN__JOB_END__INIT;
	struct peer *user, *n1;

	setup();
	user = th_peer(ctx, "user");
	n1 = up_node("n1");
	d.ntasks = 2; /* a whole node (2 CPUs) */
	CU_ASSERT_EQUAL(th_submit(ctx, user, TH_ALICE, &d, NULL, 0), 1);
	CU_ASSERT_EQUAL(th_submit(ctx, user, TH_ALICE, &d, NULL, 0), 2);
	d.ntasks = 1;
	CU_ASSERT_EQUAL(th_submit(ctx, user, TH_ALICE, &d, NULL, 0), 3);
	CU_ASSERT_EQUAL(job_find(ctx, 1)->rec->state, JS(RUNNING));
	CU_ASSERT_STRING_EQUAL(job_find(ctx, 2)->rec->reason, "Resources");
	CU_ASSERT_STRING_EQUAL(job_find(ctx, 3)->rec->reason, "Priority");
	CU_ASSERT_STRING_EQUAL(node_state_name(node_find(ctx, "n1")),
			       "ALLOCATED");
	/* job 1 ends: 2 starts, 3 still waits behind it */
	end.job_id = 1;
	end.state = JS(COMPLETED);
	th_request(ctx, n1, MT(JOB_END), 5, 0, &end.base);
	th_turn(ctx);
	CU_ASSERT_EQUAL(job_find(ctx, 1)->rec->state, JS(COMPLETED));
	CU_ASSERT_EQUAL(job_find(ctx, 2)->rec->state, JS(RUNNING));
	CU_ASSERT_STRING_EQUAL(job_find(ctx, 3)->rec->reason, "Resources");
	/* a node comes up: 3 starts there */
	up_node("n2");
	CU_ASSERT_EQUAL(job_find(ctx, 3)->rec->state, JS(RUNNING));
	CU_ASSERT_STRING_EQUAL(job_find(ctx, 3)->rec->nodes, "n2");
	teardown();
}

static void test_hold_release(void)
{
	Meridian__UpdateJobRequest uj = MERIDIAN__UPDATE_JOB_REQUEST__INIT;
	Meridian__JobActionReply *ar;
	struct peer *user;
	struct job *j;
	uint32_t ids[1] = {1};

	setup();
	user = th_peer(ctx, "user");
	CU_ASSERT_EQUAL(th_submit(ctx, user, TH_ALICE, NULL, NULL, 0), 1);
	j = job_find(ctx, 1);
	uj.job_ids = ids;
	uj.n_job_ids = 1;
	uj.action = MERIDIAN__JOB_ACTION__JOB_ACTION_HOLD;
	ar = action(user, MT(UPDATE_JOB), &uj.base, TH_ALICE);
	CU_ASSERT_EQUAL(ar->results[0]->code, 0);
	protobuf_c_message_free_unpacked(&ar->base, NULL);
	CU_ASSERT_STRING_EQUAL(j->rec->reason, "JobHeldUser");
	th_turn(ctx); /* a pass leaves held jobs alone */
	CU_ASSERT_STRING_EQUAL(j->rec->reason, "JobHeldUser");
	/* bob may not touch it */
	uj.action = MERIDIAN__JOB_ACTION__JOB_ACTION_RELEASE;
	ar = action(user, MT(UPDATE_JOB), &uj.base, TH_BOB);
	CU_ASSERT_EQUAL(ar->results[0]->code, EPERM);
	protobuf_c_message_free_unpacked(&ar->base, NULL);
	/* an admin holds it over the user's hold; alice cannot release */
	uj.action = MERIDIAN__JOB_ACTION__JOB_ACTION_HOLD;
	ar = action(user, MT(UPDATE_JOB), &uj.base, 0);
	protobuf_c_message_free_unpacked(&ar->base, NULL);
	CU_ASSERT_STRING_EQUAL(j->rec->reason, "JobHeldAdmin");
	uj.action = MERIDIAN__JOB_ACTION__JOB_ACTION_RELEASE;
	ar = action(user, MT(UPDATE_JOB), &uj.base, TH_ALICE);
	CU_ASSERT_EQUAL(ar->results[0]->code, EPERM);
	CU_ASSERT_STRING_EQUAL(ar->results[0]->text,
			       "job 1 was held by an admin; only an admin may "
			       "release it");
	protobuf_c_message_free_unpacked(&ar->base, NULL);
	ar = action(user, MT(UPDATE_JOB), &uj.base, 0);
	CU_ASSERT_EQUAL(ar->results[0]->code, 0);
	protobuf_c_message_free_unpacked(&ar->base, NULL);
	CU_ASSERT_EQUAL(j->rec->desc->hold, MERIDIAN__HOLD_KIND__HOLD_NONE);
	CU_ASSERT_STRING_EQUAL(j->rec->reason, "ReqNodeNotAvail");
	teardown();
}

static Meridian__NodeJobStatus *status(uint32_t id, bool running,
				       Meridian__JobEnd *end)
{
	Meridian__NodeJobStatus *s = xmalloc(sizeof(*s));

	meridian__node_job_status__init(s);
	s->job_id = id;
	s->running = running;
	s->end = end;
	return s;
}

static void test_reconcile(void)
{
	Meridian__JobDesc d = MERIDIAN__JOB_DESC__INIT;
	Meridian__JobEnd end = MERIDIAN__JOB_END__INIT;
	Meridian__NodeJobStatus *st[2];
	Meridian__NodeRegisterReply *rr;
	Meridian__LaunchJob *lj;
	struct frame_hdr h;
	struct peer *user, *n1, *n1b;
	ssize_t i;
	size_t k;

	dir = th_tmpdir();
	/* JobRequeue=0: a job its node lost ends NODE_FAIL (with the
	 * default it is requeued: t0116, t0075) */
	ctx = th_ctx(dir, "NodeName=n[1-2] CPUs=4\n"
			  "PartitionName=main Nodes=ALL Default=YES\n"
			  "JobRequeue=0\n");
	user = th_peer(ctx, "user");
	n1 = up_node("n1");
	d.ntasks = 1;
	/* jobs 1-3 start on n1; the launches of 1 and 3 are acked */
	for (k = 1; k <= 3; k++)
		CU_ASSERT_EQUAL(th_submit(ctx, user, TH_ALICE, &d, NULL, 0), k);
	for (k = 0; k < 3; k += 2) {
		i = find_push(n1, MT(LAUNCH_JOB), k);
		CU_ASSERT_FATAL(i >= 0);
		lj = (void *)th_frame(n1, (size_t)i, &h);
		CU_ASSERT_EQUAL(lj->job->job_id, k + 1);
		protobuf_c_message_free_unpacked(&lj->base, NULL);
		th_reply_to(ctx, n1, (size_t)i, NULL);
	}
	th_turn(ctx);
	CU_ASSERT_TRUE(job_find(ctx, 1)->rec->launched);
	CU_ASSERT_FALSE(job_find(ctx, 2)->rec->launched);
	CU_ASSERT_TRUE(job_find(ctx, 3)->rec->launched);

	/* n1's mnoded restarts: it lists job 3 as ended and job 77 as
	 * running; job 1 (acked) is gone, job 2 (never acked) too */
	end.job_id = 3;
	end.state = JS(FAILED);
	end.exit_code = 2;
	st[0] = status(3, false, &end);
	st[1] = status(77, true, NULL);
	n1b = th_peer(ctx, "n1-again");
	rr = th_register(ctx, n1b, "n1", st, 2);
	CU_ASSERT_PTR_NOT_NULL_FATAL(rr);
	CU_ASSERT_EQUAL_FATAL(rr->n_kill_jobs, 1);
	CU_ASSERT_EQUAL(rr->kill_jobs[0], 77);
	protobuf_c_message_free_unpacked(&rr->base, NULL);
	CU_ASSERT_EQUAL(job_find(ctx, 1)->rec->state, JS(NODE_FAIL));
	CU_ASSERT_STRING_EQUAL(job_find(ctx, 1)->rec->reason,
			       "batch host lost the job");
	CU_ASSERT_EQUAL(job_find(ctx, 2)->rec->state, JS(RUNNING));
	CU_ASSERT_EQUAL(job_find(ctx, 3)->rec->state, JS(FAILED));
	CU_ASSERT_EQUAL(job_find(ctx, 3)->rec->exit_code, 2);
	CU_ASSERT_EQUAL(node_find(ctx, "n1")->cpus_alloc, 1);
	/* job 2 was launched again, on the new connection */
	i = find_push(n1b, MT(LAUNCH_JOB), 0);
	CU_ASSERT_FATAL(i >= 0);
	lj = (void *)th_frame(n1b, (size_t)i, &h);
	CU_ASSERT_EQUAL(lj->job->job_id, 2);
	protobuf_c_message_free_unpacked(&lj->base, NULL);
	/* the old connection was dropped */
	CU_ASSERT_PTR_EQUAL(node_find(ctx, "n1")->peer, n1b);
	for (k = 0; k < 2; k++)
		free(st[k]);
	teardown();
}

static void test_liveness(void)
{
	Meridian__NodeHeartbeat hb = MERIDIAN__NODE_HEARTBEAT__INIT;
	Meridian__NodeInfoRequest ni = MERIDIAN__NODE_INFO_REQUEST__INIT;
	Meridian__NodeInfoReply *nr;
	Meridian__JobDesc d = MERIDIAN__JOB_DESC__INIT;
	struct peer *user, *n1;
	struct node *n;
	char *names[1] = {(char *)"n1"};
	int64_t now = mer_now();

	setup();
	user = th_peer(ctx, "user");
	n1 = up_node("n1");
	n = node_find(ctx, "n1");
	d.time_limit = 1;
	CU_ASSERT_EQUAL(th_submit(ctx, user, TH_ALICE, &d, NULL, 0), 1);
	CU_ASSERT_EQUAL(job_find(ctx, 1)->rec->state, JS(RUNNING));

	th_request(ctx, n1, MT(NODE_HEARTBEAT), 3, 0, &hb.base);
	{
		ProtobufCMessage *m = reply(n1, MT(NODE_HEARTBEAT), false);

		protobuf_c_message_free_unpacked(m, NULL);
	}
	/* from when it was heard (the clock may have turned a second since
	 * `now` was read, on a slow machine) */
	now = n->last_seen;
	mctld_tick(ctx, now + 30);
	CU_ASSERT_FALSE(n->not_responding);
	mctld_tick(ctx, now + 61);
	CU_ASSERT_TRUE(n->not_responding);
	CU_ASSERT_STRING_EQUAL(node_state_name(n), "DOWN");
	th_request(ctx, user, MT(NODE_INFO), 4, TH_BOB, &ni.base);
	nr = (void *)reply(user, MT(NODE_INFO), false);
	CU_ASSERT_EQUAL_FATAL(nr->n_nodes, 3);
	CU_ASSERT_STRING_EQUAL(nr->nodes[0]->state, "DOWN");
	CU_ASSERT_STRING_EQUAL(nr->nodes[0]->reason, "Not responding");
	CU_ASSERT_STRING_EQUAL(nr->nodes[1]->state, "UNKNOWN");
	CU_ASSERT_EQUAL(nr->nodes[0]->gpu_hour_price, 2500000);
	CU_ASSERT_EQUAL(nr->nodes[0]->n_gpus, 2);
	CU_ASSERT_STRING_EQUAL(nr->nodes[0]->gres, "gpu:a100:2");
	CU_ASSERT_EQUAL_FATAL(nr->n_partitions, 1);
	CU_ASSERT_STRING_EQUAL(nr->partitions[0]->name, "main");
	CU_ASSERT_EQUAL(nr->partitions[0]->max_time, 60);
	protobuf_c_message_free_unpacked(&nr->base, NULL);
	/* the job goes on: its time is not up */
	mctld_tick(ctx, now + 62);
	CU_ASSERT_EQUAL(job_find(ctx, 1)->rec->state, JS(RUNNING));
	/* past limit + KillWait with the batch host down: NODE_FAIL */
	mctld_tick(ctx, job_find(ctx, 1)->rec->start_time + 60 + 5 + 1);
	CU_ASSERT_EQUAL(job_find(ctx, 1)->rec->state, JS(NODE_FAIL));
	CU_ASSERT_EQUAL(n->cpus_alloc, 0);
	/* it speaks again: up */
	th_request(ctx, n1, MT(NODE_HEARTBEAT), 5, 0, &hb.base);
	CU_ASSERT_FALSE(n->not_responding);
	CU_ASSERT_STRING_EQUAL(node_state_name(n), "IDLE");
	ni.names = names;
	ni.n_names = 1;
	th_request(ctx, user, MT(NODE_INFO), 6, TH_BOB, &ni.base);
	nr = (void *)reply(user, MT(NODE_INFO), false);
	CU_ASSERT_EQUAL(nr->n_nodes, 1);
	protobuf_c_message_free_unpacked(&nr->base, NULL);
	names[0] = (char *)"n9";
	th_request(ctx, user, MT(NODE_INFO), 7, TH_BOB, &ni.base);
	expect_error(user, MT(NODE_INFO), ENOENT,
		     "node n9 is not in meridian.conf");
	/* purge after MinJobAge */
	CU_ASSERT_PTR_NOT_NULL(job_find(ctx, 1));
	mctld_commit(ctx);
	mctld_tick(ctx, now + 10000);
	CU_ASSERT_PTR_NULL(job_find(ctx, 1));
	teardown();
}

static void test_ping(void)
{
	Meridian__PingRequest pr = MERIDIAN__PING_REQUEST__INIT;
	Meridian__PingReply *r;
	struct peer *p;

	setup();
	p = th_peer(ctx, "p");
	th_request(ctx, p, MT(PING), 1, TH_ALICE, &pr.base);
	r = (void *)reply(p, MT(PING), false);
	CU_ASSERT_STRING_EQUAL(r->cluster, "test");
	CU_ASSERT_STRING_EQUAL(r->version, PACKAGE_VERSION);
	CU_ASSERT_EQUAL(r->nodes, 3);
	protobuf_c_message_free_unpacked(&r->base, NULL);
	teardown();
}

/* A node speaks of itself within bounds: a registration with an
 * over-long version, a GPU model holding control bytes or a GPU link to
 * no other GPU of the node is refused before anything is kept, and a
 * node's end reason is cut in the record. */
static void test_register_bounds(void)
{
	Meridian__NodeRegister reg = MERIDIAN__NODE_REGISTER__INIT;
	Meridian__Gpu g = MERIDIAN__GPU__INIT, *gp = &g;
	Meridian__JobEnd end = MERIDIAN__JOB_END__INIT;
	Meridian__JobInfoRequest jr = MERIDIAN__JOB_INFO_REQUEST__INIT;
	Meridian__JobInfoReply *ji;
	struct peer *p, *n1, *user;
	char version[200], reason[5000];
	uint32_t id;

	setup();
	p = th_peer(ctx, "n1");
	memset(version, 'v', sizeof(version) - 1);
	version[sizeof(version) - 1] = '\0';
	reg.name = (char *)"n1";
	reg.version = version;
	th_request(ctx, p, MT(NODE_REGISTER), 1, 0, &reg.base);
	th_turn(ctx);
	expect_error(p, MT(NODE_REGISTER), E2BIG,
		     "node n1: its version is 199 bytes, at most 64 allowed");
	reg.version = (char *)"0.1";
	g.model = (char *)"a100\n\x1b[31m";
	reg.gpus = &gp;
	reg.n_gpus = 1;
	th_request(ctx, p, MT(NODE_REGISTER), 2, 0, &reg.base);
	th_turn(ctx);
	expect_error(p, MT(NODE_REGISTER), EINVAL,
		     "node n1: its GPU model holds byte 0x0a at offset 4; "
		     "printable ASCII expected");
	CU_ASSERT_FALSE(node_find(ctx, "n1")->registered);
	/* GPU links: to another GPU of the node, once, of a known kind */
	g.model = (char *)"v100";
	{
		Meridian__Gpu g2 = MERIDIAN__GPU__INIT, *gpus[2] = {&g, &g2};
		Meridian__GpuPeer pr = MERIDIAN__GPU_PEER__INIT,
				  *prs[2] = {&pr, &pr};
		static const struct {
			uint32_t gpu;
			int link;
			size_t n;
			const char *why;
		} bad[] = {
			{2, 1, 1, "is not another of its GPUs"},
			{0, 1, 1, "is not another of its GPUs"},
			{1, 1, 2, "is named twice"},
			{1, 9, 1, "has a link kind not known here"},
		};
		char text[256];

		g2.model = (char *)"v100";
		g2.index = 1;
		reg.gpus = gpus;
		reg.n_gpus = 2;
		g.peers = prs;
		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			pr.gpu = bad[i].gpu;
			pr.link = (Meridian__GpuLinkKind)bad[i].link;
			g.n_peers = bad[i].n;
			th_request(ctx, p, MT(NODE_REGISTER), 3, 0, &reg.base);
			th_turn(ctx);
			snprintf(text, sizeof(text),
				 "node n1: GPU 0's peer GPU %u %s (peers: the "
				 "indexes 0..1 of the node's other GPUs, once "
				 "each)",
				 bad[i].gpu, bad[i].why);
			expect_error(p, MT(NODE_REGISTER), EINVAL, text);
		}
		CU_ASSERT_FALSE(node_find(ctx, "n1")->registered);
		g.peers = NULL;
		g.n_peers = 0;
	}
	th_close(p);

	n1 = up_node("n1");
	user = th_peer(ctx, "user");
	id = th_submit(ctx, user, TH_ALICE, NULL, NULL, 0);
	CU_ASSERT_FATAL(id > 0);
	th_turn(ctx);
	memset(reason, 'r', sizeof(reason) - 1);
	reason[sizeof(reason) - 1] = '\0';
	end.job_id = id;
	end.state = JS(FAILED);
	end.exit_code = 1;
	end.reason = reason;
	th_request(ctx, n1, MT(JOB_END), 3, 0, &end.base);
	th_turn(ctx);
	th_forget_frames(user);
	jr.all_states = true;
	th_request(ctx, user, MT(JOB_INFO), 4, TH_ALICE, &jr.base);
	ji = (void *)reply(user, MT(JOB_INFO), false);
	CU_ASSERT_EQUAL_FATAL(ji->n_jobs, 1);
	CU_ASSERT_EQUAL(ji->jobs[0]->state, JS(FAILED));
	CU_ASSERT_EQUAL(strlen(ji->jobs[0]->reason), MCTLD_MAX_REASON);
	CU_ASSERT_STRING_EQUAL(ji->jobs[0]->reason + MCTLD_MAX_REASON - 4,
			       "r...");
	protobuf_c_message_free_unpacked(&ji->base, NULL);
	teardown();
}

/* 600 jobs of 32 KiB each are more than one frame: asked for in pages,
 * every job comes once, in id order, in pages near 4 MiB; asked
 * for at once, the error says why.  Nodes page the same way. */
static void test_paged_info(void)
{
	Meridian__JobDesc d = MERIDIAN__JOB_DESC__INIT;
	Meridian__JobInfoRequest jr = MERIDIAN__JOB_INFO_REQUEST__INIT;
	Meridian__NodeInfoRequest nr = MERIDIAN__NODE_INFO_REQUEST__INIT;
	struct peer *user;
	char big[4097];
	uint32_t last = 0, got = 0, pages = 0;
	int i;

	dir = th_tmpdir();
	ctx = th_ctx(dir, NODES "MaxJobCount=1000\n");
	user = th_peer(ctx, "user");
	memset(big, 's', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	d.name = d.work_dir = d.std_out = d.std_err = d.std_in = big;
	d.export_mode = d.submit_dir = d.account = d.gpu_type = big;
	d.gpu_type = (char *)"";
	d.hold = MERIDIAN__HOLD_KIND__HOLD_USER;
	for (i = 0; i < 600; i++)
		CU_ASSERT_FATAL(th_submit(ctx, user, TH_ALICE, &d, NULL, 0) >
				0);

	th_forget_frames(user);
	th_request(ctx, user, MT(JOB_INFO), 1, TH_ALICE, &jr.base);
	{
		Meridian__ErrorReply *e =
			(void *)reply(user, MT(JOB_INFO), true);

		CU_ASSERT_EQUAL(e->code, E2BIG);
		CU_ASSERT_PTR_NOT_NULL(strstr(e->text, "over the frame limit "
						       "of 16777216"));
		protobuf_c_message_free_unpacked(&e->base, NULL);
	}
	jr.paged = true;
	do {
		Meridian__JobInfoReply *rep;
		size_t size = 0;

		th_forget_frames(user);
		th_request(ctx, user, MT(JOB_INFO), 2, TH_ALICE, &jr.base);
		rep = (void *)reply(user, MT(JOB_INFO), false);
		for (size_t k = 0; k < rep->n_jobs; k++) {
			CU_ASSERT(rep->jobs[k]->job_id > last);
			last = rep->jobs[k]->job_id;
			size += protobuf_c_message_get_packed_size(
				&rep->jobs[k]->base);
		}
		CU_ASSERT(size <= (4u << 20));
		if (rep->next_after_id) /* a full page: about 4 MiB */
			CU_ASSERT(size > (4u << 20) - 40000);
		got += (uint32_t)rep->n_jobs;
		pages++;
		jr.after_id = rep->next_after_id;
		if (rep->next_after_id)
			CU_ASSERT_EQUAL(rep->next_after_id, last);
		protobuf_c_message_free_unpacked(&rep->base, NULL);
	} while (jr.after_id && pages < 100);
	CU_ASSERT_EQUAL(got, 600);
	CU_ASSERT_EQUAL(last, 600);
	CU_ASSERT(pages >= 5 && pages <= 6);

	/* by id, unordered and repeated: each once, in order */
	{
		uint32_t ids[] = {300, 2, 300, 77};
		Meridian__JobInfoReply *rep;

		jr.job_ids = ids;
		jr.n_job_ids = 4;
		jr.after_id = 2;
		th_forget_frames(user);
		th_request(ctx, user, MT(JOB_INFO), 3, TH_ALICE, &jr.base);
		rep = (void *)reply(user, MT(JOB_INFO), false);
		CU_ASSERT_EQUAL_FATAL(rep->n_jobs, 2);
		CU_ASSERT_EQUAL(rep->jobs[0]->job_id, 77);
		CU_ASSERT_EQUAL(rep->jobs[1]->job_id, 300);
		CU_ASSERT_EQUAL(rep->next_after_id, 0);
		protobuf_c_message_free_unpacked(&rep->base, NULL);
	}

	/* nodes: one page here, partitions with it */
	{
		Meridian__NodeInfoReply *rep;

		nr.paged = true;
		th_forget_frames(user);
		th_request(ctx, user, MT(NODE_INFO), 4, TH_ALICE, &nr.base);
		rep = (void *)reply(user, MT(NODE_INFO), false);
		CU_ASSERT_EQUAL(rep->n_nodes, 3);
		CU_ASSERT_EQUAL(rep->n_partitions, 1);
		CU_ASSERT_EQUAL(rep->next_after, 0);
		protobuf_c_message_free_unpacked(&rep->base, NULL);
		nr.after = 2;
		th_forget_frames(user);
		th_request(ctx, user, MT(NODE_INFO), 5, TH_ALICE, &nr.base);
		rep = (void *)reply(user, MT(NODE_INFO), false);
		CU_ASSERT_EQUAL_FATAL(rep->n_nodes, 1);
		CU_ASSERT_STRING_EQUAL(rep->nodes[0]->name, "n3");
		CU_ASSERT_EQUAL(rep->n_partitions, 0);
		protobuf_c_message_free_unpacked(&rep->base, NULL);
	}
	teardown();
}

/* mqueue's briefs (JobInfoRequest.brief) in pages: 1200 jobs whose
 * names are 4 KiB each and all different fill more than one, each job
 * comes once, in order, its strings in its own page. */
static void test_paged_briefs(void)
{
	Meridian__JobDesc d = MERIDIAN__JOB_DESC__INIT;
	Meridian__JobInfoRequest jr = MERIDIAN__JOB_INFO_REQUEST__INIT;
	struct peer *user;
	char name[4097];
	uint32_t last = 0, got = 0, pages = 0;
	int i;

	dir = th_tmpdir();
	ctx = th_ctx(dir, NODES "MaxJobCount=2000\n");
	user = th_peer(ctx, "user");
	memset(name, 'n', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	d.name = name;
	d.hold = MERIDIAN__HOLD_KIND__HOLD_USER;
	for (i = 1; i <= 1200; i++) {
		char num[8];

		snprintf(num, sizeof(num), "%05d", i);
		memcpy(name, num, 5);
		CU_ASSERT_FATAL(th_submit(ctx, user, TH_ALICE, &d, NULL, 0) >
				0);
	}
	jr.paged = true;
	jr.brief = true;
	do {
		Meridian__JobInfoReply *rep;
		const Meridian__JobBriefs *b;

		th_forget_frames(user);
		th_request(ctx, user, MT(JOB_INFO), 2, TH_ALICE, &jr.base);
		rep = (void *)reply(user, MT(JOB_INFO), false);
		CU_ASSERT_EQUAL(rep->n_jobs, 0);
		CU_ASSERT_EQUAL_FATAL(rep->n_briefs, 1);
		b = rep->briefs[0];
		CU_ASSERT_EQUAL_FATAL(b->n_name, b->n_job_id);
		for (size_t k = 0; k < b->n_job_id; k++) {
			char num[8];

			CU_ASSERT(b->job_id[k] > last);
			last = b->job_id[k];
			CU_ASSERT_FATAL(b->name[k] < b->n_strings);
			snprintf(num, sizeof(num), "%05u", last);
			CU_ASSERT(strncmp(b->strings[b->name[k]], num, 5) == 0);
		}
		got += (uint32_t)b->n_job_id;
		pages++;
		jr.after_id = rep->next_after_id;
		if (rep->next_after_id)
			CU_ASSERT_EQUAL(rep->next_after_id, last);
		protobuf_c_message_free_unpacked(&rep->base, NULL);
	} while (jr.after_id && pages < 100);
	CU_ASSERT_EQUAL(got, 1200);
	CU_ASSERT_EQUAL(last, 1200);
	CU_ASSERT(pages >= 2 && pages <= 3);
	th_close(user);
	mctld_destroy(ctx);
	th_rmdir(dir);
	ctx = NULL;
}

static CU_TestInfo tests[] = {
	{"group commit", test_group_commit},
	{"paged job and node info", test_paged_info},
	{"paged briefs (mqueue)", test_paged_briefs},
	{"register bounds", test_register_bounds},
	{"commit failure", test_commit_failure},
	{"bad input", test_bad_input},
	{"access", test_access},
	{"job info and script", test_info_and_script},
	{"launch, signal, cancel, end", test_launch_cancel},
	{"fifo and reasons", test_fifo_and_reasons},
	{"hold and release", test_hold_release},
	{"register reconciliation", test_reconcile},
	{"liveness", test_liveness},
	{"ping", test_ping},
	CU_TEST_INFO_NULL,
};

CUNIT_MAIN("mctld rpc", tests)
