/*
 * test_job_state.c - the job state transition table and the per-node
 * resources derived from a JobDesc.
 */
#include "config.h"

#include <string.h>

#include "cunit_main.h"
#include "mctld.h"

#define JS(x) MERIDIAN__JOB_STATE__JOB_##x
#define NONE  MERIDIAN__JOB_STATE__JOB_STATE_NONE

static void test_transitions(void)
{
	static const Meridian__JobState all[] = {
		NONE,	    JS(PENDING),   JS(RUNNING), JS(COMPLETED),
		JS(FAILED), JS(CANCELLED), JS(TIMEOUT), JS(NODE_FAIL),
	};
	/* The whole table, spelled out: allowed[from][to]. */
	static const bool allowed[8][8] = {
		/* NONE */ {0, 1, 0, 0, 0, 0, 0, 0},
		/* PENDING */ {0, 0, 1, 0, 0, 1, 0, 0},
		/* RUNNING (to PENDING: requeued) */ {0, 1, 0, 1, 1, 1, 1, 1},
		/* final states: to PENDING only, by mctl requeue */
		/* COMPLETED */ {0, 1},
		/* FAILED */ {0, 1},
		/* CANCELLED */ {0, 1},
		/* TIMEOUT */ {0, 1},
		/* NODE_FAIL */ {0, 1},
	};
	size_t f, t;

	for (f = 0; f < 8; f++)
		for (t = 0; t < 8; t++)
			CU_ASSERT_EQUAL(job_state_allowed(all[f], all[t]),
					allowed[f][t]);
	/* Out of range states are refused, never indexed. */
	CU_ASSERT_FALSE(job_state_allowed((Meridian__JobState)99, JS(PENDING)));
	CU_ASSERT_FALSE(job_state_allowed(JS(PENDING), (Meridian__JobState)99));
	CU_ASSERT_FALSE(job_state_allowed((Meridian__JobState)-1, JS(PENDING)));
}

static void test_names_and_finals(void)
{
	CU_ASSERT_STRING_EQUAL(job_state_name(JS(PENDING)), "PENDING");
	CU_ASSERT_STRING_EQUAL(job_state_name(JS(RUNNING)), "RUNNING");
	CU_ASSERT_STRING_EQUAL(job_state_name(JS(COMPLETED)), "COMPLETED");
	CU_ASSERT_STRING_EQUAL(job_state_name(JS(NODE_FAIL)), "NODE_FAIL");
	CU_ASSERT_STRING_EQUAL(job_state_name((Meridian__JobState)42),
			       "INVALID");
	CU_ASSERT_FALSE(job_state_is_final(JS(PENDING)));
	CU_ASSERT_FALSE(job_state_is_final(JS(RUNNING)));
	CU_ASSERT_TRUE(job_state_is_final(JS(COMPLETED)));
	CU_ASSERT_TRUE(job_state_is_final(JS(FAILED)));
	CU_ASSERT_TRUE(job_state_is_final(JS(CANCELLED)));
	CU_ASSERT_TRUE(job_state_is_final(JS(TIMEOUT)));
	CU_ASSERT_TRUE(job_state_is_final(JS(NODE_FAIL)));
	CU_ASSERT_FALSE(job_state_is_final((Meridian__JobState)42));
}

static struct job_res res_of(uint32_t nodes, uint32_t ntasks, uint32_t tpn,
			     uint32_t cpt, uint32_t gpus, uint32_t gpn,
			     uint64_t mem, int *rc, struct mer_error *err)
{
	Meridian__JobDesc d = MERIDIAN__JOB_DESC__INIT;
	struct job_res r;

	d.min_nodes = nodes;
	d.ntasks = ntasks;
	d.ntasks_per_node = tpn;
	d.cpus_per_task = cpt;
	d.gpus = gpus;
	d.gpus_per_node = gpn;
	d.mem_mb = mem;
	*rc = job_res_compute(&d, &r, err);
	return r;
}

static void test_resources(void)
{
	struct mer_error err;
	struct job_res r;
	int rc;

	/* nothing asked: one node, one task, one CPU */
	r = res_of(0, 0, 0, 0, 0, 0, 0, &rc, &err);
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT_EQUAL(r.num_nodes, 1);
	CU_ASSERT_EQUAL(r.ntasks, 1);
	CU_ASSERT_EQUAL(r.tasks_per_node, 1);
	CU_ASSERT_EQUAL(r.cpus_per_node, 1);
	CU_ASSERT_EQUAL(r.gpus_per_node, 0);
	CU_ASSERT_EQUAL(r.mem_per_node, 0);

	/* -N 2: one task per node */
	r = res_of(2, 0, 0, 0, 0, 0, 0, &rc, &err);
	CU_ASSERT_EQUAL(r.num_nodes, 2);
	CU_ASSERT_EQUAL(r.ntasks, 2);
	CU_ASSERT_EQUAL(r.tasks_per_node, 1);

	/* -n 8 --ntasks-per-node 3: ceil(8/3) = 3 nodes */
	r = res_of(0, 8, 3, 2, 0, 0, 0, &rc, &err);
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT_EQUAL(r.num_nodes, 3);
	CU_ASSERT_EQUAL(r.ntasks, 8);
	CU_ASSERT_EQUAL(r.tasks_per_node, 3);
	CU_ASSERT_EQUAL(r.cpus_per_node, 6);

	/* -n 5 alone: one node with 5 tasks */
	r = res_of(0, 5, 0, 0, 0, 0, 0, &rc, &err);
	CU_ASSERT_EQUAL(r.num_nodes, 1);
	CU_ASSERT_EQUAL(r.tasks_per_node, 5);
	CU_ASSERT_EQUAL(r.cpus_per_node, 5);

	/* -N 2 -n 5 -c 2: ceil(5/2) = 3 tasks per node, 6 CPUs */
	r = res_of(2, 5, 0, 2, 0, 0, 0, &rc, &err);
	CU_ASSERT_EQUAL(r.tasks_per_node, 3);
	CU_ASSERT_EQUAL(r.cpus_per_node, 6);

	/* -N 2 --ntasks-per-node 4: 8 tasks */
	r = res_of(2, 0, 4, 0, 0, 0, 0, &rc, &err);
	CU_ASSERT_EQUAL(r.ntasks, 8);
	CU_ASSERT_EQUAL(r.cpus_per_node, 4);

	/* --gpus 5 on 2 nodes: ceil = 3 per node; --gpus-per-node wins */
	r = res_of(2, 0, 0, 0, 5, 0, 0, &rc, &err);
	CU_ASSERT_EQUAL(r.gpus_per_node, 3);
	r = res_of(2, 0, 0, 0, 5, 1, 0, &rc, &err);
	CU_ASSERT_EQUAL(r.gpus_per_node, 1);

	/* memory is per node as given */
	r = res_of(3, 0, 0, 0, 0, 0, 2048, &rc, &err);
	CU_ASSERT_EQUAL(r.mem_per_node, 2048);

	/* impossible shapes name what is wrong */
	r = res_of(4, 2, 0, 0, 0, 0, 0, &rc, &err);
	CU_ASSERT_EQUAL(rc, -1);
	CU_ASSERT_STRING_EQUAL(err.text,
			       "Requested 2 tasks on 4 nodes; each node needs "
			       "at least one task (give -n >= -N)");
	r = res_of(2, 5, 1, 0, 0, 0, 0, &rc, &err);
	CU_ASSERT_EQUAL(rc, -1);
	CU_ASSERT_STRING_EQUAL(err.text, "Requested 5 tasks, but 2 nodes x 1 "
					 "tasks per node hold only 2");
	r = res_of(1, 0, 0, 0, 0, 65, 0, &rc, &err);
	CU_ASSERT_EQUAL(rc, -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.text, "65 GPUs per node"));
	r = res_of(1, 0, 70000, 70000, 0, 0, 0, &rc, &err);
	CU_ASSERT_EQUAL(rc, -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.text, "too many CPUs"));
}

/* A step runs, then ends; an end may be corrected by its nodes' ends
 * (the job's end closed it first), never undone. */
static void test_step_transitions(void)
{
	CU_ASSERT_TRUE(step_state_allowed(JS(RUNNING), JS(COMPLETED)));
	CU_ASSERT_TRUE(step_state_allowed(JS(RUNNING), JS(FAILED)));
	CU_ASSERT_TRUE(step_state_allowed(JS(RUNNING), JS(CANCELLED)));
	CU_ASSERT_TRUE(step_state_allowed(JS(CANCELLED), JS(FAILED)));
	CU_ASSERT_FALSE(step_state_allowed(JS(COMPLETED), JS(RUNNING)));
	CU_ASSERT_FALSE(step_state_allowed(JS(RUNNING), JS(RUNNING)));
	CU_ASSERT_FALSE(step_state_allowed(JS(RUNNING), JS(PENDING)));
	CU_ASSERT_FALSE(step_state_allowed(JS(PENDING), JS(COMPLETED)));
}

/* never -> up <-> lost; register from anywhere; never back to never */
static void test_node_links(void)
{
	enum { NEVER, UP, LOST };

	CU_ASSERT_TRUE(node_link_allowed(NEVER, UP));
	CU_ASSERT_FALSE(node_link_allowed(NEVER, LOST));
	CU_ASSERT_TRUE(node_link_allowed(UP, LOST));
	CU_ASSERT_TRUE(node_link_allowed(UP, UP));
	CU_ASSERT_TRUE(node_link_allowed(LOST, UP));
	CU_ASSERT_FALSE(node_link_allowed(UP, NEVER));
	CU_ASSERT_FALSE(node_link_allowed(LOST, NEVER));
	CU_ASSERT_FALSE(node_link_allowed(LOST, 7));
	CU_ASSERT_FALSE(node_link_allowed(-1, UP));
}

static CU_TestInfo tests[] = {
	{"transition table", test_transitions},
	{"step transitions", test_step_transitions},
	{"node link transitions", test_node_links},
	{"names and final states", test_names_and_finals},
	{"per-node resources", test_resources},
	CU_TEST_INFO_NULL,
};

CUNIT_MAIN("mctld job state", tests)
