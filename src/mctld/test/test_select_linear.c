/*
 * test_select_linear.c - select/linear placement on a handful of node
 * views, loaded from the build tree like mctld loads it.
 */
#include "config.h"

#include <string.h>

#include "cunit_main.h"
#include "harness.h"
#include "plugin_loader.h"

static const struct mer_select_ops *ops;
static struct plugin_handle *handle;
static void *state;

static void load(void)
{
	struct mer_error err = {""};
	const void *o;

	handle = plugin_load(th_plugin_dir(), "SelectType", "select/linear",
			     MER_PLUGIN_SELECT, MER_SELECT_ABI, &o, &err);
	if (!handle)
		fprintf(stderr, "\n  %s\n", err.text);
	CU_ASSERT_PTR_NOT_NULL_FATAL(handle);
	ops = o;
	state = ops->init(NULL, &err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(state);
}

static void unload(void)
{
	ops->fini(state);
	plugin_unload(handle);
}

static struct mer_select_node node(const char *name, uint32_t cpus_free,
				   uint64_t mem_free, uint32_t gpus,
				   uint64_t gpu_free, const char *model,
				   int64_t price)
{
	struct mer_select_node n = {0};

	n.name = name;
	n.region = "";
	n.gpu_model = model;
	n.cpus = 8;
	n.cpus_free = cpus_free;
	n.mem_mb = 8192;
	n.mem_free_mb = mem_free;
	n.gpus = gpus;
	n.gpu_free_mask = gpu_free;
	n.gpu_hour_price = price;
	return n;
}

static int pick(const struct mer_select_job *job,
		const struct mer_select_node *nodes, size_t n, uint32_t *idx,
		uint64_t *mask, char *reason)
{
	struct mer_select_result res = {0, idx, mask, 0};
	struct mer_select_request req = {job, nodes, n, NULL, 0, 0, NULL};
	struct mer_error err = {""};
	int rc = ops->select(state, &req, &res, &err);

	strcpy(reason, rc == 0 ? "" : err.text);
	if (rc == 0)
		CU_ASSERT_EQUAL(res.nnodes, job->num_nodes);
	return rc;
}

static void test_first_fit(void)
{
	struct mer_select_node nodes[4];
	struct mer_select_job job = {0};
	uint32_t idx[4];
	uint64_t mask[4];
	char reason[160];

	load();
	nodes[0] = node("a", 1, 8192, 0, 0, "", 0);
	nodes[1] = node("b", 4, 8192, 0, 0, "", 0);
	nodes[2] = node("c", 8, 1024, 0, 0, "", 0);
	nodes[3] = node("d", 8, 8192, 0, 0, "", 0);
	job.job_id = 1;
	job.num_nodes = 2;
	job.cpus_per_node = 2;
	job.gpu_type = "";
	CU_ASSERT_EQUAL(pick(&job, nodes, 4, idx, mask, reason), 0);
	CU_ASSERT_EQUAL(idx[0], 1);
	CU_ASSERT_EQUAL(idx[1], 2);
	/* memory rules c out */
	job.mem_mb_per_node = 2048;
	CU_ASSERT_EQUAL(pick(&job, nodes, 4, idx, mask, reason), 0);
	CU_ASSERT_EQUAL(idx[0], 1);
	CU_ASSERT_EQUAL(idx[1], 3);
	/* three such nodes do not exist now, but would once a frees up */
	job.num_nodes = 3;
	CU_ASSERT_EQUAL(pick(&job, nodes, 4, idx, mask, reason), -1);
	CU_ASSERT_STRING_EQUAL(reason, "Resources");
	/* five nodes never fit on four */
	job.num_nodes = 5;
	CU_ASSERT_EQUAL(pick(&job, nodes, 4, idx, mask, reason), -1);
	CU_ASSERT_STRING_EQUAL(reason, "ReqNodeNotAvail");
	/* nodes too small even when empty */
	job.num_nodes = 1;
	job.cpus_per_node = 9;
	CU_ASSERT_EQUAL(pick(&job, nodes, 4, idx, mask, reason), -1);
	CU_ASSERT_STRING_EQUAL(reason, "ReqNodeNotAvail");
	/* no nodes at all */
	job.cpus_per_node = 1;
	CU_ASSERT_EQUAL(pick(&job, nodes, 0, idx, mask, reason), -1);
	CU_ASSERT_STRING_EQUAL(reason, "ReqNodeNotAvail");
	unload();
}

static void test_gpus(void)
{
	struct mer_select_node nodes[3];
	struct mer_select_job job = {0};
	uint32_t idx[3];
	uint64_t mask[3];
	char reason[160];

	load();
	/* a: a100 x4, GPUs 0 and 2 taken; b: h100 x2 free; c: a100 x4 free */
	nodes[0] = node("a", 8, 8192, 4, 0xa, "a100", 2000000);
	nodes[1] = node("b", 8, 8192, 2, 0x3, "h100", 3500000);
	nodes[2] = node("c", 8, 8192, 4, 0xf, "a100", 2000000);
	job.num_nodes = 1;
	job.cpus_per_node = 1;
	job.gpus_per_node = 2;
	job.gpu_type = "";
	CU_ASSERT_EQUAL(pick(&job, nodes, 3, idx, mask, reason), 0);
	CU_ASSERT_EQUAL(idx[0], 0);
	CU_ASSERT_EQUAL(mask[0], 0xa); /* the free ones, lowest first */
	job.gpus_per_node = 3;
	CU_ASSERT_EQUAL(pick(&job, nodes, 3, idx, mask, reason), 0);
	CU_ASSERT_EQUAL(idx[0], 2);
	CU_ASSERT_EQUAL(mask[0], 0x7);
	/* type: H100 matches h100 whatever the case */
	job.gpus_per_node = 1;
	job.gpu_type = "H100";
	CU_ASSERT_EQUAL(pick(&job, nodes, 3, idx, mask, reason), 0);
	CU_ASSERT_EQUAL(idx[0], 1);
	CU_ASSERT_EQUAL(mask[0], 0x1);
	/* max price: h100 at 3.50 is over 3.00 */
	job.max_price = 3000000;
	CU_ASSERT_EQUAL(pick(&job, nodes, 3, idx, mask, reason), -1);
	CU_ASSERT_STRING_EQUAL(reason, "MaxPrice");
	job.gpu_type = "";
	CU_ASSERT_EQUAL(pick(&job, nodes, 3, idx, mask, reason), 0);
	CU_ASSERT_EQUAL(idx[0], 0);
	CU_ASSERT_EQUAL(mask[0], 0x2);
	/* two nodes with 4 GPUs: only c is free enough now */
	job.max_price = 0;
	job.num_nodes = 2;
	job.gpus_per_node = 4;
	CU_ASSERT_EQUAL(pick(&job, nodes, 3, idx, mask, reason), -1);
	CU_ASSERT_STRING_EQUAL(reason, "Resources");
	nodes[0].gpu_free_mask = 0xf;
	CU_ASSERT_EQUAL(pick(&job, nodes, 3, idx, mask, reason), 0);
	CU_ASSERT_EQUAL(idx[0], 0);
	CU_ASSERT_EQUAL(idx[1], 2);
	CU_ASSERT_EQUAL(mask[0], 0xf);
	CU_ASSERT_EQUAL(mask[1], 0xf);
	/* five GPUs per node: no node has them */
	job.gpus_per_node = 5;
	CU_ASSERT_EQUAL(pick(&job, nodes, 3, idx, mask, reason), -1);
	CU_ASSERT_STRING_EQUAL(reason, "ReqNodeNotAvail");
	/* a CPU-only job ignores max price */
	job.num_nodes = 1;
	job.gpus_per_node = 0;
	job.max_price = 1;
	CU_ASSERT_EQUAL(pick(&job, nodes, 3, idx, mask, reason), 0);
	CU_ASSERT_EQUAL(mask[0], 0);
	unload();
}

static void test_abi(void)
{
	struct mer_error err = {""};
	const void *o;
	struct plugin_handle *h;

	/* the loader refuses a plugin of another kind */
	h = plugin_load(th_plugin_dir(), "SchedulerType", "sched/linear",
			MER_PLUGIN_SCHED, MER_SCHED_ABI, &o, &err);
	CU_ASSERT_PTR_NULL(h);
	h = plugin_load(th_plugin_dir(), "SelectType", "select/linear",
			MER_PLUGIN_SELECT, MER_SELECT_ABI + 1, &o, &err);
	CU_ASSERT_PTR_NULL(h);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.text, "ABI"));
}

static CU_TestInfo tests[] = {
	{"first fit in node order", test_first_fit},
	{"GPUs, types and prices", test_gpus},
	{"wrong ABI refused", test_abi},
	CU_TEST_INFO_NULL,
};

CUNIT_MAIN("select/linear", tests)
