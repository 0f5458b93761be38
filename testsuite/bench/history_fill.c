/*
 * history_fill.c - a StateDir with a job history, for macct's benchmark
 * (testsuite/bench/macct.sh; issue 11).
 *
 *   history_fill DIR N DAYS
 *
 * Writes DIR/state (through a controller context of the unit tests'
 * harness, so the history is mctld's own code's) holding N finished jobs
 * whose ends are spread evenly over the last DAYS days, each the record a
 * batch job of mbatch leaves: a name, account, partition, work dir and
 * output pattern, one or two nodes, one mrun step.  Every tenth job
 * belongs to a second user, every seventh failed.  DIR must exist.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/Basic.h>
#include <CUnit/CUnit.h>

#include "harness.h"
#include "mctld.h"
#include "util.h"

static const char *dir;
static unsigned long njobs, ndays;
static bool failed;

static Meridian__JobRecord *make_job(uint32_t id, int64_t end)
{
	Meridian__JobRecord *r = xcalloc(1, sizeof(*r));
	Meridian__JobDesc *d = xcalloc(1, sizeof(*d));
	Meridian__StepRecord *s = xcalloc(1, sizeof(*s));
	Meridian__StepDesc *sd = xcalloc(1, sizeof(*sd));
	uint32_t nodes = id % 3 == 0 ? 2 : 1;
	char buf[64];

	meridian__job_record__init(r);
	meridian__job_desc__init(d);
	meridian__step_record__init(s);
	meridian__step_desc__init(sd);
	r->job_id = id;
	r->desc = d;
	r->user_id = id % 10 == 0 ? 1002 : 1001;
	r->group_id = r->user_id;
	pb_set_str(&r->user_name, id % 10 == 0 ? "bob" : "alice");
	r->state = id % 7 == 0 ? MERIDIAN__JOB_STATE__JOB_FAILED
			       : MERIDIAN__JOB_STATE__JOB_COMPLETED;
	r->exit_code = id % 7 == 0 ? 1 : 0;
	r->submit_time = end - 600 - id % 3600;
	r->start_time = end - 300 - id % 1800;
	r->end_time = end;
	snprintf(buf, sizeof(buf), "g%03u", id % 64 + 1);
	pb_set_str(&r->batch_host, buf);
	if (nodes == 2)
		snprintf(buf, sizeof(buf), "g[%03u-%03u]", id % 63 + 1,
			 id % 63 + 2);
	pb_set_str(&r->nodes, buf);
	r->num_nodes = nodes;
	r->ntasks = nodes * 4;
	r->time_limit = 60;
	r->priority = 1000 + id % 500;
	pb_set_str(&r->submit_host, "login1");
	r->n_alloc = nodes;
	r->alloc = xcalloc(nodes, sizeof(*r->alloc));
	for (uint32_t i = 0; i < nodes; i++) {
		Meridian__JobNodeAlloc *a = xcalloc(1, sizeof(*a));

		meridian__job_node_alloc__init(a);
		snprintf(buf, sizeof(buf), "g%03u", (id + i) % 64 + 1);
		pb_set_str(&a->node, buf);
		a->cpus = 4;
		a->mem_mb = 16384;
		a->ntasks = 4;
		r->alloc[i] = a;
	}
	snprintf(buf, sizeof(buf), "train-%u", id % 100);
	pb_set_str(&d->name, buf);
	pb_set_str(&d->account, id % 2 ? "physics" : "chemistry");
	pb_set_str(&d->partition, "gpu");
	pb_set_str(&d->work_dir, "/home/alice/projects/run");
	pb_set_str(&d->std_out, "slurm-%j.out");
	pb_set_str(&d->submit_dir, "/home/alice/projects/run");
	pb_set_str(&d->export_mode, "ALL");
	pb_set_str(&d->qos, "normal");
	d->min_nodes = nodes;
	d->ntasks = nodes * 4;
	d->mem_mb = 16384;
	d->time_limit = 60;
	s->step_id = 0;
	s->desc = sd;
	sd->n_argv = 2;
	sd->argv = xcalloc(2, sizeof(*sd->argv));
	sd->argv[0] = xstrdup("python3");
	sd->argv[1] = xstrdup("train.py");
	s->state = r->state;
	pb_set_str(&s->nodelist, r->nodes);
	s->ntasks = r->ntasks;
	s->start_time = r->start_time + 2;
	s->end_time = end - 1;
	s->exit_code = r->exit_code;
	r->n_steps = 1;
	r->steps = xcalloc(1, sizeof(*r->steps));
	r->steps[0] = s;
	return r;
}

static void fill(void)
{
	struct mctld *ctx = th_ctx(dir, "NodeName=g[001-064] CPUs=4\n"
					"PartitionName=gpu Nodes=ALL "
					"Default=YES\n");
	int64_t now = mer_now(), span = (int64_t)ndays * 86400;

	CU_ASSERT_PTR_NOT_NULL_FATAL(ctx);
	for (unsigned long i = 0; i < njobs; i++) {
		/* oldest first, from DAYS days ago (but two minutes, so
		 * that JobHistoryDays keeps it) to a minute ago */
		int64_t end =
			now - span + 120 +
			(int64_t)((span - 180) * (int64_t)i / (int64_t)njobs);
		Meridian__JobRecord *r = make_job((uint32_t)(i + 1), end);

		history_add(ctx, r);
		meridian__job_record__free_unpacked(r, NULL);
		if ((i + 1) % 10000 == 0 || i + 1 == njobs)
			th_turn(ctx);
	}
	CU_ASSERT_EQUAL(history_count(ctx), njobs);
	if (history_count(ctx) != njobs)
		fprintf(stderr, "history_fill: %zu records, %lu wanted\n",
			history_count(ctx), njobs);
	mctld_destroy(ctx);
}

int main(int argc, char **argv)
{
	CU_pSuite suite;

	if (argc != 4 || !(njobs = strtoul(argv[2], NULL, 10)) ||
	    !(ndays = strtoul(argv[3], NULL, 10))) {
		fprintf(stderr, "usage: history_fill DIR N DAYS\n");
		return 2;
	}
	dir = argv[1];
	setenv("MERIDIAN_LOGLEVEL", "error", 0);
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	suite = CU_add_suite("fill", NULL, NULL);
	if (!suite || !CU_add_test(suite, "fill", fill))
		return 1;
	CU_basic_set_mode(CU_BRM_SILENT);
	CU_basic_run_tests();
	if (CU_get_number_of_failures())
		failed = true;
	CU_cleanup_registry();
	return failed ? 1 : 0;
}
