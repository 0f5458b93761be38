/*
 * test_step.c - job steps in mctld: layout on the job's nodes, LAUNCH_STEP
 * pushes after the commit, the fold of the nodes' ends into the step's
 * state and failed rank, ownership, and steps ending with their job;
 * interactive allocations (mrun outside a job) and JOB_COMPLETE.
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
	"NodeName=n[1-3] NodeAddr=10.0.0.[1-3] CPUs=4 RealMemory=4096 "        \
	"Gres=gpu:a100:2\n"                                                    \
	"PartitionName=main Nodes=ALL Default=YES MaxTime=60\n"                \
	"KillWait=5\nNodeTimeout=60\nFinalizeTimeout=7\n"

static char *dir;
static struct mctld *ctx;
static struct peer *nodes[3];
static struct peer *user;

static struct peer *up_node(const char *name)
{
	struct peer *p = th_peer(ctx, name);
	Meridian__NodeRegisterReply *rr = th_register(ctx, p, name, NULL, 0);

	CU_ASSERT_PTR_NOT_NULL_FATAL(rr);
	protobuf_c_message_free_unpacked(&rr->base, NULL);
	th_forget_frames(p);
	return p;
}

static void setup(void)
{
	char name[16];

	dir = th_tmpdir();
	ctx = th_ctx(dir, NODES);
	for (int i = 0; i < 3; i++) {
		snprintf(name, sizeof(name), "n%d", i + 1);
		nodes[i] = up_node(name);
	}
	user = th_peer(ctx, "mrun");
}

static void teardown(void)
{
	mctld_destroy(ctx);
	th_rmdir(dir);
}

/* A running 3-node job of alice with 2 GPUs per node. */
static uint32_t running_job(bool interactive)
{
	Meridian__JobDesc d = MERIDIAN__JOB_DESC__INIT;
	uint32_t id;

	d.min_nodes = 3;
	d.ntasks = 6;
	d.gpus_per_node = 2;
	d.interactive = interactive;
	if (interactive) {
		Meridian__SubmitJobRequest req =
			MERIDIAN__SUBMIT_JOB_REQUEST__INIT;
		ProtobufCMessage *m;
		bool is_err = false;

		req.desc = &d;
		th_request(ctx, user, MT(SUBMIT_JOB), 3, TH_ALICE, &req.base);
		th_turn(ctx);
		m = th_last_reply(user, MT(SUBMIT_JOB), &is_err);
		CU_ASSERT_PTR_NOT_NULL_FATAL(m);
		CU_ASSERT_FALSE_FATAL(is_err);
		id = ((Meridian__SubmitJobReply *)m)->job_id;
		protobuf_c_message_free_unpacked(m, NULL);
	} else {
		id = th_submit(ctx, user, TH_ALICE, &d, NULL, 0);
	}
	CU_ASSERT_NOT_EQUAL_FATAL(id, 0);
	th_turn(ctx);
	CU_ASSERT_EQUAL_FATAL(job_find(ctx, id)->rec->state, JS(RUNNING));
	for (int i = 0; i < 3; i++)
		th_forget_frames(nodes[i]);
	th_forget_frames(user);
	return id;
}

static uint8_t key[32] = "0123456789abcdef0123456789abcdef";

/* Ask for a step; returns the reply (free it) or NULL with the error
 * text in errbuf. */
static Meridian__StepCreateReply *
create(uint32_t job, uid_t uid, Meridian__StepDesc *d, char *errbuf, size_t n)
{
	Meridian__StepCreateRequest req = MERIDIAN__STEP_CREATE_REQUEST__INIT;
	static char *argv[] = {"/bin/true"};
	static char *env[] = {"A=1", "PATH=/bin"};
	ProtobufCMessage *m;
	bool is_err = false;
	size_t before;

	if (!d->n_argv) {
		d->argv = argv;
		d->n_argv = 1;
	}
	d->env = env;
	d->n_env = 2;
	req.job_id = job;
	req.desc = d;
	req.io_host = "10.0.0.99";
	req.io_port = 4000;
	req.io_key.data = key;
	req.io_key.len = sizeof(key);
	th_forget_frames(user);
	th_request(ctx, user, MT(STEP_CREATE), 11, uid, &req.base);
	before = th_nframes(user);
	th_turn(ctx);
	m = th_last_reply(user, MT(STEP_CREATE), &is_err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	/* durable: a step is acknowledged only after the commit */
	CU_ASSERT(is_err || before == 0);
	if (is_err) {
		snprintf(errbuf, n, "%s", ((Meridian__ErrorReply *)m)->text);
		protobuf_c_message_free_unpacked(m, NULL);
		return NULL;
	}
	return (void *)m;
}

/* The LaunchStep pushed to node i (must be exactly one). */
static Meridian__LaunchStep *launch_of(int i)
{
	for (size_t f = 0; f < th_nframes(nodes[i]); f++) {
		struct frame_hdr h;
		ProtobufCMessage *m = th_frame(nodes[i], f, &h);

		if (h.type == MT(LAUNCH_STEP) && !(h.flags & MER_FRAME_REPLY))
			return (void *)m;
		protobuf_c_message_free_unpacked(m, NULL);
	}
	return NULL;
}

static void test_layout_and_launch(void)
{
	Meridian__StepDesc d = MERIDIAN__STEP_DESC__INIT;
	Meridian__StepCreateReply *r;
	Meridian__LaunchStep *ls;
	uint32_t job;
	char err[300];

	setup();
	job = running_job(false);
	/* -n 5 over the job's 3 nodes: 2, 2, 1, ranks node by node, each
	 * task one GPU of its node */
	d.ntasks = 5;
	d.gpus_per_task = 1;
	r = create(job, TH_ALICE, &d, err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	CU_ASSERT_EQUAL(r->step->step_id, 0);
	CU_ASSERT_EQUAL(r->step->ntasks, 5);
	CU_ASSERT_STRING_EQUAL(r->step->nodelist, "n[1-3]");
	CU_ASSERT_EQUAL_FATAL(r->step->n_nodes, 3);
	CU_ASSERT_EQUAL(r->step->nodes[0]->ntasks, 2);
	CU_ASSERT_EQUAL(r->step->nodes[1]->first_rank, 2);
	CU_ASSERT_EQUAL(r->step->nodes[2]->first_rank, 4);
	CU_ASSERT_EQUAL(r->step->nodes[2]->ntasks, 1);
	CU_ASSERT_EQUAL(r->step->nodes[2]->n_gpus, 1);
	CU_ASSERT_STRING_EQUAL(r->step->nodes[1]->addr, "10.0.0.2");
	CU_ASSERT_STRING_EQUAL(r->step->desc->mpi, "pmi1");
	CU_ASSERT_STRING_EQUAL(r->step->desc->cpu_bind, "gpu-local");
	CU_ASSERT_STRING_EQUAL(r->step->desc->name, "true");
	CU_ASSERT_EQUAL(r->step->desc->finalize_timeout, 7);
	CU_ASSERT_EQUAL(r->step->desc->n_env, 0); /* not kept */
	CU_ASSERT_EQUAL(r->job->job_id, job);
	CU_ASSERT_EQUAL(r->job->n_steps, 0);
	protobuf_c_message_free_unpacked(&r->base, NULL);
	/* every node got its launch, with the environment and its index */
	for (int i = 0; i < 3; i++) {
		ls = launch_of(i);
		CU_ASSERT_PTR_NOT_NULL_FATAL(ls);
		CU_ASSERT_EQUAL(ls->node_index, (uint32_t)i);
		CU_ASSERT_EQUAL(ls->step->step_id, 0);
		CU_ASSERT_EQUAL(ls->step->desc->n_env, 2);
		CU_ASSERT_STRING_EQUAL(ls->io_host, "10.0.0.99");
		CU_ASSERT_EQUAL(ls->io_port, 4000);
		CU_ASSERT_EQUAL(ls->io_key.len, 32);
		CU_ASSERT_EQUAL(ls->job->job_id, job);
		CU_ASSERT_EQUAL(ls->kill_wait, 5);
		protobuf_c_message_free_unpacked(&ls->base, NULL);
	}
	/* the next step gets the next id; with no -n it takes the job's 6
	 * tasks on all 3 nodes, every task seeing both GPUs */
	memset(&d, 0, sizeof(d));
	meridian__step_desc__init(&d);
	r = create(job, TH_ALICE, &d, err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	CU_ASSERT_EQUAL(r->step->step_id, 1);
	CU_ASSERT_EQUAL(r->step->ntasks, 6);
	CU_ASSERT_EQUAL(r->step->nodes[0]->n_gpus, 2);
	protobuf_c_message_free_unpacked(&r->base, NULL);
	CU_ASSERT_EQUAL(job_find(ctx, job)->rec->n_steps, 2);
	/* -N 1 -n 2: one node */
	meridian__step_desc__init(&d);
	d.min_nodes = 1;
	d.ntasks = 2;
	r = create(job, TH_ALICE, &d, err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	CU_ASSERT_EQUAL(r->step->n_nodes, 1);
	CU_ASSERT_EQUAL(r->step->nodes[0]->ntasks, 2);
	protobuf_c_message_free_unpacked(&r->base, NULL);
	teardown();
}

static void expect_refused(uint32_t job, uid_t uid, Meridian__StepDesc *d,
			   const char *want)
{
	char err[300] = "";
	Meridian__StepCreateReply *r = create(job, uid, d, err, sizeof(err));

	CU_ASSERT_PTR_NULL(r);
	if (r)
		protobuf_c_message_free_unpacked(&r->base, NULL);
	if (!strstr(err, want))
		fprintf(stderr, "\n  got '%s'\n  want '%s'\n", err, want);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, want));
}

static void test_refused(void)
{
	Meridian__StepDesc d = MERIDIAN__STEP_DESC__INIT;
	uint32_t job;

	setup();
	job = running_job(false);
	expect_refused(job, TH_BOB, &d, "only its owner or an admin");
	expect_refused(job + 1, TH_ALICE, &d, "does not exist");
	d.min_nodes = 4;
	expect_refused(job, TH_ALICE, &d, "-N 4: job 1 has 3 nodes");
	meridian__step_desc__init(&d);
	d.min_nodes = 1;
	d.ntasks = 3;
	d.gpus_per_task = 1;
	expect_refused(job, TH_ALICE, &d,
		       "--gpus-per-task=1 with 3 tasks on n1 needs 3 GPUs; "
		       "the job has 2 there");
	meridian__step_desc__init(&d);
	d.ntasks = 6;
	d.gpus_per_task = 2;
	expect_refused(job, TH_ALICE, &d, "needs 4 GPUs; the job has 2 there");
	meridian__step_desc__init(&d);
	d.ntasks = 2;
	d.min_nodes = 3;
	expect_refused(job, TH_ALICE, &d, "-n 2 is fewer tasks than the 3");
	meridian__step_desc__init(&d);
	d.cpu_bind = "sockets";
	expect_refused(job, TH_ALICE, &d,
		       "--cpu-bind=sockets: expected none, cores or gpu-local");
	meridian__step_desc__init(&d);
	d.mpi = "pmix";
	expect_refused(job, TH_ALICE, &d,
		       "--mpi=pmix: expected pmi1, pmi2 or none");
	meridian__step_desc__init(&d);
	d.pty = true;
	d.ntasks = 2;
	expect_refused(job, TH_ALICE, &d, "--pty runs one task on one node");
	/* arguments and environment beyond what exec would take */
	{
		static char *argv[2];
		size_t big = (2u << 20) + 10;

		argv[0] = "/bin/echo";
		argv[1] = xmalloc(big);
		memset(argv[1], 'x', big - 1);
		argv[1][big - 1] = '\0';
		meridian__step_desc__init(&d);
		d.argv = argv;
		d.n_argv = 2;
		expect_refused(job, TH_ALICE, &d,
			       "the step's arguments and environment take");
		free(argv[1]);
	}
	/* a long command line runs whole but is kept short in the record */
	{
		static char *argv[3];
		Meridian__StepCreateReply *r;
		Meridian__LaunchStep *ls;
		char errbuf[300];

		argv[0] = "/bin/echo";
		argv[1] = xmalloc(8000);
		memset(argv[1], 'y', 7999);
		argv[1][7999] = '\0';
		argv[2] = "tail";
		meridian__step_desc__init(&d);
		d.argv = argv;
		d.n_argv = 3;
		for (int i = 0; i < 3; i++)
			th_forget_frames(nodes[i]);
		r = create(job, TH_ALICE, &d, errbuf, sizeof(errbuf));
		CU_ASSERT_PTR_NOT_NULL_FATAL(r);
		CU_ASSERT_EQUAL(r->step->desc->n_argv, 2);
		CU_ASSERT_STRING_EQUAL(r->step->desc->argv[1], "...");
		protobuf_c_message_free_unpacked(&r->base, NULL);
		ls = launch_of(0);
		CU_ASSERT_PTR_NOT_NULL_FATAL(ls);
		CU_ASSERT_EQUAL(ls->step->desc->n_argv, 3);
		CU_ASSERT_EQUAL(strlen(ls->step->desc->argv[1]), 7999);
		protobuf_c_message_free_unpacked(&ls->base, NULL);
		free(argv[1]);
		meridian__step_desc__init(&d);
	}
	/* a node that is not connected: the step cannot start */
	meridian__step_desc__init(&d);
	th_close(nodes[2]);
	expect_refused(job, TH_ALICE, &d, "node n3 of job 1 is not connected");
	/* none of the refused ones was kept, only the long command line */
	CU_ASSERT_EQUAL(job_find(ctx, job)->rec->n_steps, 1);
	teardown();
}

static void node_end(int i, uint32_t job, uint32_t step, Meridian__JobState st,
		     int code, int rank, const char *why)
{
	Meridian__StepEnd e = MERIDIAN__STEP_END__INIT;
	char name[16];

	snprintf(name, sizeof(name), "n%d", i + 1);
	e.job_id = job;
	e.step_id = step;
	e.node = name;
	e.state = st;
	e.exit_code = code;
	e.failed_rank = rank;
	e.reason = (char *)why;
	th_forget_frames(nodes[i]);
	th_request(ctx, nodes[i], MT(STEP_END), 21, 0, &e.base);
	th_turn(ctx);
	{
		bool is_err = true;
		ProtobufCMessage *m =
			th_last_reply(nodes[i], MT(STEP_END), &is_err);

		CU_ASSERT_PTR_NOT_NULL(m);
		CU_ASSERT_FALSE(is_err);
		if (m)
			protobuf_c_message_free_unpacked(m, NULL);
	}
}

static void test_ends(void)
{
	Meridian__StepDesc d = MERIDIAN__STEP_DESC__INIT;
	Meridian__StepCreateReply *r;
	Meridian__StepRecord *s;
	struct job *j;
	uint32_t job;
	char err[300];

	setup();
	job = running_job(false);
	j = job_find(ctx, job);
	r = create(job, TH_ALICE, &d, err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	protobuf_c_message_free_unpacked(&r->base, NULL);
	s = step_find(j, 0);
	/* rank 3 on n2 aborts; n1 and n3 are killed because of it: the step
	 * is FAILED and names the aborting rank, not the killed ones */
	node_end(0, job, 0, JS(CANCELLED), 137, 0, "rank 3 aborted");
	CU_ASSERT_EQUAL(s->state, JS(RUNNING));
	node_end(1, job, 0, JS(FAILED), 5, 3, "rank 3 on n2 aborted: boom");
	node_end(1, job, 0, JS(COMPLETED), 0, -1, ""); /* a resend: ignored */
	CU_ASSERT_EQUAL(s->state, JS(RUNNING));
	node_end(2, job, 0, JS(CANCELLED), 137, 4, "rank 3 aborted");
	CU_ASSERT_EQUAL(s->state, JS(FAILED));
	CU_ASSERT_EQUAL(s->exit_code, 5);
	CU_ASSERT_EQUAL(s->failed_rank, 3);
	CU_ASSERT_STRING_EQUAL(s->reason, "rank 3 on n2 aborted: boom");
	CU_ASSERT_TRUE(s->end_time >= s->start_time);

	/* all well: COMPLETED, exit 0, no failed rank */
	r = create(job, TH_ALICE, &d, err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	protobuf_c_message_free_unpacked(&r->base, NULL);
	for (int i = 0; i < 3; i++)
		node_end(i, job, 1, JS(COMPLETED), 0, -1, "");
	s = step_find(j, 1);
	CU_ASSERT_EQUAL(s->state, JS(COMPLETED));
	CU_ASSERT_EQUAL(s->failed_rank, -1);

	/* two failing nodes: the larger code wins, then the lower rank */
	r = create(job, TH_ALICE, &d, err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	protobuf_c_message_free_unpacked(&r->base, NULL);
	node_end(2, job, 2, JS(FAILED), 3, 5,
		 "rank 5 on n3 exited with code 3");
	node_end(0, job, 2, JS(FAILED), 7, 1,
		 "rank 1 on n1 exited with code 7");
	node_end(1, job, 2, JS(FAILED), 7, 2,
		 "rank 2 on n2 exited with code 7");
	s = step_find(j, 2);
	CU_ASSERT_EQUAL(s->state, JS(FAILED));
	CU_ASSERT_EQUAL(s->exit_code, 7);
	CU_ASSERT_EQUAL(s->failed_rank, 1);

	/* a step still running when the job ends ends with it, and its
	 * nodes are told to kill it */
	r = create(job, TH_ALICE, &d, err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	protobuf_c_message_free_unpacked(&r->base, NULL);
	node_end(0, job, 3, JS(COMPLETED), 0, -1, "");
	{
		Meridian__JobEnd e = MERIDIAN__JOB_END__INIT;

		e.job_id = job;
		e.state = JS(COMPLETED);
		th_forget_frames(nodes[1]);
		th_request(ctx, nodes[0], MT(JOB_END), 22, 0, &e.base);
		th_turn(ctx);
	}
	s = step_find(j, 3);
	CU_ASSERT_EQUAL(s->state, JS(CANCELLED));
	CU_ASSERT_STRING_EQUAL(s->reason, "the job ended");
	{
		bool found = false;

		for (size_t f = 0; f < th_nframes(nodes[1]); f++) {
			struct frame_hdr h;
			ProtobufCMessage *m = th_frame(nodes[1], f, &h);

			if (h.type == MT(SIGNAL_JOB) &&
			    !(h.flags & MER_FRAME_REPLY))
				found = ((Meridian__SignalJob *)m)->cancel;
			protobuf_c_message_free_unpacked(m, NULL);
		}
		CU_ASSERT_TRUE(found);
	}
	/* no step in a finished job */
	expect_refused(job, TH_ALICE, &d, "steps run only in a running job");

	/* a cancelled job: ranks killed by the cancel (or by the SIGTERM
	 * that mrun forwarded) leave the step CANCELLED, not FAILED */
	job = running_job(false);
	j = job_find(ctx, job);
	r = create(job, TH_ALICE, &d, err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	protobuf_c_message_free_unpacked(&r->base, NULL);
	CU_ASSERT_EQUAL(job_mgr_cancel(ctx, j, TH_ALICE, false, 0, NULL), 0);
	th_turn(ctx);
	for (int i = 0; i < 3; i++)
		node_end(i, job, 0, JS(FAILED), 143, 2 * i,
			 "killed by signal 15");
	s = step_find(j, 0);
	CU_ASSERT_EQUAL(s->state, JS(CANCELLED));
	CU_ASSERT_STRING_EQUAL(s->reason, "Cancelled by 4242");
	/* and its script, whose mrun that step's end let go, exits 0 before
	 * the SIGTERM comes: the job is CANCELLED all the same, as scancel's
	 * is, with the script's exit code */
	{
		Meridian__JobEnd e = MERIDIAN__JOB_END__INIT;

		e.job_id = job;
		e.state = JS(COMPLETED);
		e.exit_code = 0;
		th_request(ctx, nodes[0], MT(JOB_END), 23, 0, &e.base);
		th_turn(ctx);
	}
	CU_ASSERT_EQUAL(j->rec->state, JS(CANCELLED));
	CU_ASSERT_STRING_EQUAL(j->rec->reason, "Cancelled by 4242");
	CU_ASSERT_EQUAL(j->rec->exit_code, 0);
	teardown();
}

static void test_interactive(void)
{
	Meridian__JobCompleteRequest c = MERIDIAN__JOB_COMPLETE_REQUEST__INIT;
	Meridian__StepDesc d = MERIDIAN__STEP_DESC__INIT;
	Meridian__StepCreateReply *r;
	ProtobufCMessage *m;
	bool is_err = false;
	struct job *j;
	uint32_t job;
	char err[300];

	setup();
	job = running_job(true);
	j = job_find(ctx, job);
	/* nothing was launched: the allocation waits for mrun's steps */
	for (int i = 0; i < 3; i++)
		CU_ASSERT_EQUAL(th_nframes(nodes[i]), 0);
	CU_ASSERT_TRUE(j->rec->launched);
	r = create(job, TH_ALICE, &d, err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	protobuf_c_message_free_unpacked(&r->base, NULL);
	/* a node re-registering without any batch job keeps the job */
	{
		Meridian__NodeRegisterReply *rr =
			th_register(ctx, nodes[0], "n1", NULL, 0);

		protobuf_c_message_free_unpacked(&rr->base, NULL);
	}
	CU_ASSERT_EQUAL(j->rec->state, JS(RUNNING));
	/* bob may not end alice's allocation; alice may, with her code */
	c.job_id = job;
	c.exit_code = 3;
	th_request(ctx, user, MT(JOB_COMPLETE), 31, TH_BOB, &c.base);
	th_turn(ctx);
	m = th_last_reply(user, MT(JOB_COMPLETE), &is_err);
	CU_ASSERT_TRUE(is_err);
	protobuf_c_message_free_unpacked(m, NULL);
	th_request(ctx, user, MT(JOB_COMPLETE), 32, TH_ALICE, &c.base);
	th_turn(ctx);
	m = th_last_reply(user, MT(JOB_COMPLETE), &is_err);
	CU_ASSERT_FALSE(is_err);
	protobuf_c_message_free_unpacked(m, NULL);
	CU_ASSERT_EQUAL(j->rec->state, JS(FAILED));
	CU_ASSERT_EQUAL(j->rec->exit_code, 3);
	CU_ASSERT_EQUAL(step_find(j, 0)->state, JS(CANCELLED));
	/* the nodes' ends arrive after JOB_COMPLETE (mrun saw them first):
	 * the step gets the state they give, not "the job ended" */
	node_end(0, job, 0, JS(COMPLETED), 0, -1, "");
	node_end(1, job, 0, JS(FAILED), 3, 2,
		 "rank 2 on n2 exited with code 3");
	CU_ASSERT_EQUAL(step_find(j, 0)->state, JS(CANCELLED));
	node_end(2, job, 0, JS(COMPLETED), 0, -1, "");
	CU_ASSERT_EQUAL(step_find(j, 0)->state, JS(FAILED));
	CU_ASSERT_EQUAL(step_find(j, 0)->exit_code, 3);
	CU_ASSERT_EQUAL(step_find(j, 0)->failed_rank, 2);
	CU_ASSERT_STRING_EQUAL(step_find(j, 0)->reason,
			       "rank 2 on n2 exited with code 3");
	/* a batch job cannot be completed that way */
	job = running_job(false);
	c.job_id = job;
	th_request(ctx, user, MT(JOB_COMPLETE), 33, TH_ALICE, &c.base);
	th_turn(ctx);
	m = th_last_reply(user, MT(JOB_COMPLETE), &is_err);
	CU_ASSERT_TRUE(is_err);
	CU_ASSERT_PTR_NOT_NULL(
		strstr(((Meridian__ErrorReply *)m)->text, "is a batch job"));
	protobuf_c_message_free_unpacked(m, NULL);
	teardown();
}

static void test_keep_bounded(void)
{
	Meridian__StepDesc d = MERIDIAN__STEP_DESC__INIT;
	Meridian__StepCreateReply *r;
	struct job *j;
	uint32_t job;
	char err[300];

	setup();
	job = running_job(false);
	j = job_find(ctx, job);
	d.min_nodes = 1;
	d.ntasks = 1;
	for (uint32_t s = 0; s < 100; s++) {
		r = create(job, TH_ALICE, &d, err, sizeof(err));
		CU_ASSERT_PTR_NOT_NULL_FATAL(r);
		CU_ASSERT_EQUAL(r->step->step_id, s);
		protobuf_c_message_free_unpacked(&r->base, NULL);
		node_end(0, job, s, JS(COMPLETED), 0, -1, "");
	}
	/* ids go on; the record keeps only the newest finished steps */
	CU_ASSERT_TRUE(j->rec->n_steps <= 65);
	CU_ASSERT_PTR_NOT_NULL(step_find(j, 99));
	CU_ASSERT_PTR_NULL(step_find(j, 0));
	teardown();
}

/* CANCEL_JOB with steps only: those steps are signalled on their nodes,
 * nothing else is touched. */
static void test_cancel_step(void)
{
	Meridian__CancelJobRequest req = MERIDIAN__CANCEL_JOB_REQUEST__INIT;
	Meridian__StepDesc d = MERIDIAN__STEP_DESC__INIT;
	Meridian__JobStepId sid = MERIDIAN__JOB_STEP_ID__INIT;
	Meridian__JobStepId *sids[1] = {&sid};
	Meridian__JobActionReply *rep;
	Meridian__StepCreateReply *r;
	bool is_err = true, signalled = false;
	uint32_t job, other;
	char err[300];

	setup();
	job = running_job(false);
	r = create(job, TH_ALICE, &d, err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	protobuf_c_message_free_unpacked(&r->base, NULL);
	other = th_submit(ctx, user, TH_ALICE, NULL, NULL, 0);
	CU_ASSERT_NOT_EQUAL_FATAL(other, 0);
	for (int i = 0; i < 3; i++)
		th_forget_frames(nodes[i]);
	sid.job_id = job;
	sid.step_id = 0;
	req.steps = sids;
	req.n_steps = 1;
	/* bob may not */
	th_request(ctx, user, MT(CANCEL_JOB), 41, TH_BOB, &req.base);
	th_turn(ctx);
	rep = (void *)th_last_reply(user, MT(CANCEL_JOB), &is_err);
	CU_ASSERT_FALSE_FATAL(is_err);
	CU_ASSERT_EQUAL_FATAL(rep->n_results, 1);
	CU_ASSERT_EQUAL(rep->results[0]->code, EPERM);
	CU_ASSERT_TRUE(rep->results[0]->has_step);
	protobuf_c_message_free_unpacked(&rep->base, NULL);
	/* alice may: each node gets a cancel for step 0 only */
	th_request(ctx, user, MT(CANCEL_JOB), 42, TH_ALICE, &req.base);
	th_turn(ctx);
	rep = (void *)th_last_reply(user, MT(CANCEL_JOB), &is_err);
	CU_ASSERT_FALSE_FATAL(is_err);
	CU_ASSERT_EQUAL_FATAL(rep->n_results, 1);
	CU_ASSERT_EQUAL(rep->results[0]->code, 0);
	protobuf_c_message_free_unpacked(&rep->base, NULL);
	for (size_t f = 0; f < th_nframes(nodes[2]); f++) {
		struct frame_hdr h;
		Meridian__SignalJob *sj = (void *)th_frame(nodes[2], f, &h);

		if (h.type == MT(SIGNAL_JOB) && !(h.flags & MER_FRAME_REPLY))
			signalled = sj->cancel && sj->has_step &&
				    sj->step_id == 0 && sj->job_id == job;
		protobuf_c_message_free_unpacked(&sj->base, NULL);
	}
	CU_ASSERT_TRUE(signalled);
	/* the jobs go on, the other one too */
	CU_ASSERT_EQUAL(job_find(ctx, job)->rec->state, JS(RUNNING));
	CU_ASSERT_NOT_EQUAL(job_find(ctx, other)->rec->state, JS(CANCELLED));
	/* the nodes end it: CANCELLED with their reason */
	for (int i = 0; i < 3; i++)
		node_end(i, job, 0, JS(CANCELLED), 143, i * 2,
			 "Cancelled by 4242");
	CU_ASSERT_EQUAL(step_find(job_find(ctx, job), 0)->state, JS(CANCELLED));
	/* an ended step: EALREADY */
	th_request(ctx, user, MT(CANCEL_JOB), 43, TH_ALICE, &req.base);
	th_turn(ctx);
	rep = (void *)th_last_reply(user, MT(CANCEL_JOB), &is_err);
	CU_ASSERT_FALSE_FATAL(is_err);
	CU_ASSERT_EQUAL(rep->results[0]->code, EALREADY);
	protobuf_c_message_free_unpacked(&rep->base, NULL);
	teardown();
}

/* --exclusive: CPUs of the step's own among the job's on each node, the
 * job's other exclusive steps' refused (EBUSY: mrun waits) until they
 * end; a step needing more than the job has, refused for good. */
static void test_exclusive(void)
{
	Meridian__StepDesc d = MERIDIAN__STEP_DESC__INIT;
	Meridian__StepCreateReply *r;
	uint32_t job, cpus, a = 0;
	char err[300], want[200];

	setup();
	job = running_job(false);
	cpus = job_find(ctx, job)->rec->alloc[0]->cpus;
	CU_ASSERT_FATAL(cpus >= 2);
	/* one exclusive step per CPU of n1 */
	for (uint32_t c = 0; c < cpus; c++) {
		meridian__step_desc__init(&d);
		d.min_nodes = 1;
		d.ntasks = 1;
		d.exclusive = true;
		d.mpi = "pmi2";
		r = create(job, TH_ALICE, &d, err, sizeof(err));
		CU_ASSERT_PTR_NOT_NULL_FATAL(r);
		CU_ASSERT_STRING_EQUAL(r->step->desc->mpi, "pmi2");
		CU_ASSERT_TRUE(r->step->desc->exclusive);
		CU_ASSERT_EQUAL_FATAL(r->step->nodes[0]->n_cpu_slots, 1);
		CU_ASSERT_EQUAL(r->step->nodes[0]->cpu_slots[0], c);
		if (c == 0)
			a = r->step->step_id;
		protobuf_c_message_free_unpacked(&r->base, NULL);
	}
	/* n1's CPUs are all held: the next one is told to wait */
	meridian__step_desc__init(&d);
	d.min_nodes = 1;
	d.ntasks = 1;
	d.exclusive = true;
	snprintf(want, sizeof(want),
		 "--exclusive: 0 of job %u's %u CPUs on n1 are free of its "
		 "other exclusive steps",
		 job, cpus);
	expect_refused(job, TH_ALICE, &d, want);
	/* a step that does not ask shares them, as before */
	meridian__step_desc__init(&d);
	d.min_nodes = 1;
	d.ntasks = 1;
	r = create(job, TH_ALICE, &d, err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	CU_ASSERT_EQUAL(r->step->nodes[0]->n_cpu_slots, 0);
	protobuf_c_message_free_unpacked(&r->base, NULL);
	/* more than the job has there: refused for good, whatever is busy */
	meridian__step_desc__init(&d);
	d.min_nodes = 1;
	d.ntasks = 1;
	d.cpus_per_task = cpus + 1;
	d.exclusive = true;
	snprintf(want, sizeof(want),
		 "--exclusive: the step needs %u CPUs on n1 (1 tasks x %u "
		 "CPUs) and job %u has %u there",
		 cpus + 1, cpus + 1, job, cpus);
	expect_refused(job, TH_ALICE, &d, want);
	/* the first one ends: its CPU is the next exclusive step's */
	node_end(0, job, a, JS(COMPLETED), 0, -1, "");
	meridian__step_desc__init(&d);
	d.min_nodes = 1;
	d.ntasks = 1;
	d.exclusive = true;
	r = create(job, TH_ALICE, &d, err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	CU_ASSERT_EQUAL_FATAL(r->step->nodes[0]->n_cpu_slots, 1);
	CU_ASSERT_EQUAL(r->step->nodes[0]->cpu_slots[0], 0);
	protobuf_c_message_free_unpacked(&r->base, NULL);
	/* the other nodes are free: a step over all three waits for n1
	 * alone, and names it */
	meridian__step_desc__init(&d);
	d.exclusive = true;
	d.ntasks = 3;
	snprintf(want, sizeof(want), "CPUs on n1 are free");
	expect_refused(job, TH_ALICE, &d, want);
	teardown();
}

static CU_TestInfo tests[] = {
	{"cancel one step", test_cancel_step},
	{"layout and launch", test_layout_and_launch},
	{"refused steps", test_refused},
	{"--exclusive steps", test_exclusive},
	{"node ends folded", test_ends},
	{"interactive allocation", test_interactive},
	{"finished steps kept bounded", test_keep_bounded},
	CU_TEST_INFO_NULL,
};

CUNIT_MAIN("mctld steps", tests)
