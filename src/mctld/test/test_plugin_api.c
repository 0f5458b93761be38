/*
 * test_plugin_api.c - the core's side of plugin API v2: the sched view,
 * trial, reservations honoured by try_start, wake_at; the loader refusing
 * a NULL member and a v1 plugin; meridian.conf keys owned by plugins.
 *
 * A test drives the core through sched_run_with() and a "probe" sched
 * plugin written here, so it sees exactly what a real plugin would.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cunit_main.h"
#include "harness.h"
#include "plugin_loader.h"
#include "util.h"

#define JS(x) MERIDIAN__JOB_STATE__JOB_##x

#define NODES                                                                  \
	"NodeName=n[1-2] CPUs=2 RealMemory=4096 Gres=gpu:a100:2\n"             \
	"PartitionName=main Nodes=ALL Default=YES MaxTime=60\n"                \
	"GpuHourPrice=a100:2\n"

static char *dir;
static struct mctld *ctx;
static struct peer *user;

static void up_node(const char *name)
{
	struct peer *p = th_peer(ctx, name);
	Meridian__NodeRegisterReply *rr = th_register(ctx, p, name, NULL, 0);

	CU_ASSERT_PTR_NOT_NULL_FATAL(rr);
	protobuf_c_message_free_unpacked(&rr->base, NULL);
}

static void setup(void)
{
	dir = th_tmpdir();
	ctx = th_ctx(dir, NODES);
	user = th_peer(ctx, "user");
	up_node("n1");
	up_node("n2");
}

static void teardown(void)
{
	mctld_destroy(ctx);
	th_rmdir(dir);
}

/* Submit nodes x gpus-per-node for minutes, at most max_price a GPU-hour
 * (0 any); the id. */
static uint32_t submit_priced(uint32_t nodes, uint32_t gpus, uint32_t minutes,
			      int64_t max_price)
{
	Meridian__JobDesc d = MERIDIAN__JOB_DESC__INIT;
	char err[160] = "";
	uint32_t id;

	d.max_price = max_price;
	d.min_nodes = nodes;
	d.gpus_per_node = gpus;
	d.time_limit = minutes;
	id = th_submit(ctx, user, TH_ALICE, &d, err, sizeof(err));
	if (!id)
		fprintf(stderr, "\n  submit: %s\n", err);
	CU_ASSERT_FATAL(id > 0);
	return id;
}

static uint32_t submit(uint32_t nodes, uint32_t gpus, uint32_t minutes)
{
	return submit_priced(nodes, gpus, minutes, 0);
}

/* --- the probe: a sched plugin whose pass is a script ------------------- */

enum step_kind { TRIAL, RESERVE, START, WAKE };

struct step {
	enum step_kind kind;
	uint32_t job_id;
	int64_t when; /* WAKE: relative to view->now */
	/* results */
	int rc;
	char reason[160];
	int64_t start;
	uint32_t nnodes;
	uint32_t node[4];
};

struct probe {
	struct step steps[8];
	size_t nsteps;
	/* what the view said */
	size_t nrunning, nnodes;
	int64_t now;
	struct mer_sched_running running[4];
	struct mer_sched_node nodes[4];
	struct mer_sched_trial last; /* the last trial's answer */
	uint32_t last_node[4];
	uint64_t last_mask[4];
};

static const struct mer_sched_job *find_job(struct mer_sched_job *jobs,
					    size_t n, uint32_t id)
{
	for (size_t i = 0; i < n; i++)
		if (jobs[i].job_id == id)
			return &jobs[i];
	return NULL;
}

static void probe_schedule(void *state, struct mer_sched_job *jobs,
			   size_t njobs, const struct mer_sched_api *api)
{
	struct probe *p = state;
	const struct mer_sched_view *v = api->view;

	p->now = v->now;
	p->nrunning = v->nrunning;
	p->nnodes = v->nnodes;
	for (size_t i = 0; i < v->nrunning && i < 4; i++)
		p->running[i] = v->running[i];
	for (size_t i = 0; i < v->nnodes && i < 4; i++)
		p->nodes[i] = v->nodes[i];
	for (size_t i = 0; i < p->nsteps; i++) {
		struct step *s = &p->steps[i];
		const struct mer_sched_job *j =
			find_job(jobs, njobs, s->job_id);
		struct mer_error err = {""};

		if (s->kind == WAKE) {
			api->wake_at(api->core, v->now + s->when);
			continue;
		}
		CU_ASSERT_PTR_NOT_NULL_FATAL(j);
		switch (s->kind) {
		case TRIAL:
			p->last.node_index = p->last_node;
			p->last.gpu_mask = p->last_mask;
			s->rc = api->trial(api->core, j, &p->last, &err);
			s->start = p->last.start;
			s->nnodes = p->last.nnodes;
			for (uint32_t k = 0; k < s->nnodes && k < 4; k++)
				s->node[k] = p->last_node[k];
			break;
		case RESERVE:
			s->rc = api->reserve(api->core, j, &p->last, &err);
			break;
		case START:
			s->rc = api->try_start(api->core, j, &err);
			break;
		case WAKE:
			break;
		}
		snprintf(s->reason, sizeof(s->reason), "%s", err.text);
	}
}

static void *probe_init(const struct mer_plugin_conf *c, struct mer_error *e)
{
	return NULL;
}

static void probe_fini(void *state)
{
}

static const struct mer_sched_ops probe_ops = {
	.hdr = {MER_PLUGIN_SCHED, MER_SCHED_ABI, "sched/probe"},
	.keys = NULL,
	.init = probe_init,
	.fini = probe_fini,
	.schedule = probe_schedule,
};

static void add(struct probe *p, enum step_kind kind, uint32_t id, int64_t when)
{
	struct step *s = &p->steps[p->nsteps++];

	memset(s, 0, sizeof(*s));
	s->kind = kind;
	s->job_id = id;
	s->when = when;
	s->rc = 99;
}

/* --- trial ------------------------------------------------------------ */

static void test_trial(void)
{
	struct probe p = {0};
	uint32_t a, b;
	struct job *ja;

	setup();
	a = submit(2, 2, 30); /* every GPU of n1 and n2, for 30 minutes */
	ja = job_find(ctx, a);
	CU_ASSERT_EQUAL_FATAL(ja->rec->state, JS(RUNNING));
	b = submit(1, 1, 10);
	CU_ASSERT_EQUAL(job_find(ctx, b)->rec->state, JS(PENDING));

	add(&p, TRIAL, b, 0);
	add(&p, START, b, 0);
	sched_run_with(ctx, &probe_ops, &p);

	/* the view: both nodes, A running with its expected end */
	CU_ASSERT_EQUAL(p.nnodes, 2);
	CU_ASSERT_STRING_EQUAL(p.nodes[0].name, "n1");
	CU_ASSERT_EQUAL(p.nodes[0].gpus, 2);
	CU_ASSERT_EQUAL(p.nodes[0].gpus_free, 0);
	CU_ASSERT_TRUE(p.nodes[1].usable);
	CU_ASSERT_EQUAL_FATAL(p.nrunning, 1);
	CU_ASSERT_EQUAL(p.running[0].job_id, a);
	CU_ASSERT_EQUAL(p.running[0].expected_end,
			ja->rec->start_time + 30 * 60);
	CU_ASSERT_EQUAL(p.running[0].nalloc, 2);

	/* B cannot start now; it could once A ends, on one node */
	CU_ASSERT_EQUAL(p.steps[0].rc, 0);
	CU_ASSERT_EQUAL(p.steps[0].start, ja->rec->start_time + 30 * 60);
	CU_ASSERT_EQUAL(p.steps[0].nnodes, 1);
	CU_ASSERT(p.steps[0].node[0] < 2);
	CU_ASSERT_EQUAL(p.steps[1].rc, -1);
	CU_ASSERT_STRING_EQUAL(p.steps[1].reason, "Resources");
	/* a trial starts nothing */
	CU_ASSERT_EQUAL(job_find(ctx, b)->rec->state, JS(PENDING));

	/* a job no node will ever take ($2 a GPU-hour is too dear for it):
	 * never, and why */
	{
		struct probe q = {0};
		uint32_t c = submit_priced(1, 1, 10, 1000000);

		add(&q, TRIAL, c, 0);
		sched_run_with(ctx, &probe_ops, &q);
		CU_ASSERT_EQUAL(q.steps[0].rc, -1);
		CU_ASSERT_EQUAL(q.steps[0].start, MER_TIME_NEVER);
		CU_ASSERT_STRING_EQUAL(q.steps[0].reason, "MaxPrice");
	}
	teardown();
}

/* --- reservations ------------------------------------------------------- */

static void test_reservation(void)
{
	struct probe p = {0};
	uint32_t a, c, d, e;
	int64_t a_end;

	setup();
	a = submit(1, 2, 30); /* n1's GPUs for 30 minutes */
	CU_ASSERT_EQUAL_FATAL(job_find(ctx, a)->rec->state, JS(RUNNING));
	CU_ASSERT_STRING_EQUAL(job_find(ctx, a)->rec->nodes, "n1");
	a_end = job_find(ctx, a)->rec->start_time + 30 * 60;
	c = submit(2, 2, 30); /* both nodes: must wait for A */
	d = submit(1, 1, 60); /* fits on n2 now, but past A's end */
	e = submit(1, 1, 10); /* fits on n2 now, and ends before */
	CU_ASSERT_EQUAL(job_find(ctx, d)->rec->state, JS(PENDING));

	add(&p, TRIAL, c, 0);
	add(&p, RESERVE, c, 0);
	add(&p, START, d, 0);
	add(&p, START, e, 0);
	sched_run_with(ctx, &probe_ops, &p);

	CU_ASSERT_EQUAL(p.steps[0].rc, 0);
	CU_ASSERT_EQUAL(p.steps[0].start, a_end);
	CU_ASSERT_EQUAL(p.steps[0].nnodes, 2);
	CU_ASSERT_EQUAL(p.steps[1].rc, 0);
	/* D would hold n2 when C is to start there: refused */
	CU_ASSERT_EQUAL(p.steps[2].rc, -1);
	CU_ASSERT_STRING_EQUAL(p.steps[2].reason, "Resources");
	CU_ASSERT_EQUAL(job_find(ctx, d)->rec->state, JS(PENDING));
	/* E is done before C starts: it backfills n2 */
	CU_ASSERT_EQUAL(p.steps[3].rc, 0);
	CU_ASSERT_EQUAL_FATAL(job_find(ctx, e)->rec->state, JS(RUNNING));
	CU_ASSERT_STRING_EQUAL(job_find(ctx, e)->rec->nodes, "n2");

	/* reservations last one pass: without one, D starts */
	memset(&p, 0, sizeof(p));
	add(&p, START, d, 0);
	sched_run_with(ctx, &probe_ops, &p);
	CU_ASSERT_EQUAL(p.steps[0].rc, 0);
	CU_ASSERT_EQUAL(job_find(ctx, d)->rec->state, JS(RUNNING));
	teardown();
}

/* --- wake_at ----------------------------------------------------------- */

static void test_wake(void)
{
	struct probe p = {0};
	uint64_t passes;
	uint32_t b;

	setup();
	submit(2, 2, 30);
	b = submit(1, 1, 10); /* pending: a pass calls the plugin */
	(void)b;
	add(&p, WAKE, 0, 100);
	add(&p, WAKE, 0, 50);
	sched_run_with(ctx, &probe_ops, &p);
	/* the earliest request of the pass wins */
	CU_ASSERT_EQUAL(sched_wake_time(ctx), p.now + 50);

	/* the next pass asks nothing: nothing stays armed */
	memset(&p, 0, sizeof(p));
	sched_run_with(ctx, &probe_ops, &p);
	CU_ASSERT_EQUAL(sched_wake_time(ctx), 0);

	/* a time already come: the timer fires on the next loop turn and a
	 * pass runs then, though nothing else asked for one */
	memset(&p, 0, sizeof(p));
	add(&p, WAKE, 0, -5);
	sched_run_with(ctx, &probe_ops, &p);
	CU_ASSERT_EQUAL(sched_wake_time(ctx), p.now - 5);
	passes = sched_passes(ctx);
	sched_maybe_run(ctx);
	CU_ASSERT_EQUAL(sched_passes(ctx), passes); /* nothing asked yet */
	CU_ASSERT_PTR_NOT_NULL_FATAL(ctx->base);
	event_base_loop(ctx->base, EVLOOP_ONCE);
	sched_maybe_run(ctx);
	CU_ASSERT_EQUAL(sched_passes(ctx), passes + 1);
	teardown();
}

/* --- the loader --------------------------------------------------------- */

static void *x_init(const struct mer_plugin_conf *c, struct mer_error *e)
{
	return NULL;
}

static int64_t x_price(void *st, const struct mer_price_query *q,
		       struct mer_error *e)
{
	return 0;
}

static void test_loader(void)
{
	static const struct mer_price_ops no_fini = {
		.hdr = {MER_PLUGIN_PRICE, MER_PRICE_ABI, "price/nofini"},
		.init = x_init,
		.fini = NULL,
		.gpu_hour = x_price,
	};
	static const struct mer_plugin_header v1 = {MER_PLUGIN_SCHED, 1,
						    "sched/old"};
	struct mer_error err = {""};
	struct plugin_handle *h;
	const void *o;

	CU_ASSERT_EQUAL(plugin_check_ops(&no_fini, "PriceType", "price/nofini",
					 "/p/price_nofini.so", MER_PLUGIN_PRICE,
					 MER_PRICE_ABI, &err),
			-1);
	CU_ASSERT_STRING_EQUAL(err.text,
			       "PriceType=price/nofini: /p/price_nofini.so has "
			       "no fini function (a NULL member), expected "
			       "every member of its ops set");

	CU_ASSERT_EQUAL(plugin_check_ops(&v1, "SchedulerType", "sched/old",
					 "/p/sched_old.so", MER_PLUGIN_SCHED,
					 MER_SCHED_ABI, &err),
			-1);
	CU_ASSERT_STRING_EQUAL(err.text,
			       "SchedulerType=sched/old: /p/sched_old.so is a "
			       "sched plugin with ABI 1, expected ABI 2: it "
			       "was built against an older Meridian, rebuild "
			       "it against this one");

	CU_ASSERT_EQUAL(plugin_check_ops(&probe_ops, "SchedulerType",
					 "sched/probe", "x", MER_PLUGIN_SCHED,
					 MER_SCHED_ABI, &err),
			0);

	/* the shipped plugins are v2, complete, and price/flat owns its key */
	h = plugin_load(th_plugin_dir(), "PriceType", "price/flat",
			MER_PLUGIN_PRICE, 2, &o, &err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(h);
	CU_ASSERT_PTR_NOT_NULL_FATAL(plugin_ops_keys(o));
	CU_ASSERT_STRING_EQUAL(plugin_ops_keys(o)[0].name, "GpuHourPrice");
	CU_ASSERT_PTR_NULL(plugin_ops_keys(o)[1].name);
	plugin_unload(h);
	h = plugin_load(th_plugin_dir(), "SchedulerType", "sched/fifo",
			MER_PLUGIN_SCHED, 2, &o, &err);
	CU_ASSERT_PTR_NOT_NULL(h);
	plugin_unload(h);
	h = plugin_load(th_plugin_dir(), "SelectType", "select/linear",
			MER_PLUGIN_SELECT, 2, &o, &err);
	CU_ASSERT_PTR_NOT_NULL(h);
	plugin_unload(h);
}

/* --- meridian.conf keys owned by plugins -------------------------------- */

/* The text th_conf writes, with extra after it; its lines counted. */
static char *conf_text(const char *extra, int *nlines)
{
	char *t = xasprintf("ClusterName=test\n"
			    "ControllerHost=127.0.0.1\n"
			    "StateDir=%s/state\n"
			    "PluginDir=%s\n" NODES "%s",
			    dir, th_plugin_dir(), extra);

	*nlines = 0;
	for (const char *c = t; *c; c++)
		*nlines += *c == '\n';
	return t;
}

/* mctld (after conf_parse, which opens no plugin) refuses what it says. */
static void expect_mctld_refuses(const char *extra, const char *msg)
{
	struct mctld_opts opts = {.no_auth = true, .no_listen = true};
	struct mer_error err = {""};
	struct conf *c;
	struct mctld *x;
	char want[160];
	int n;
	char *text = conf_text(extra, &n);

	c = conf_parse("t.conf", text, strlen(text), &err);
	if (!c)
		fprintf(stderr, "\n  %s\n", err.text);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c); /* kept, not refused */
	x = mctld_create(c, &opts, &err);
	CU_ASSERT_PTR_NULL(x);
	if (x)
		mctld_destroy(x);
	else
		conf_free(c);
	snprintf(want, sizeof(want), "t.conf:%d: %s", n, msg);
	if (strcmp(err.text, want) != 0)
		fprintf(stderr, "\n  got  '%s'\n  want '%s'\n", err.text, want);
	CU_ASSERT_STRING_EQUAL(err.text, want);
	free(text);
}

static void test_conf_keys(void)
{
	struct mer_error err = {""};
	struct conf *c;
	struct mctld *x;

	dir = th_tmpdir();
	/* An undeclared (misspelt) key: mctld refuses it... */
	expect_mctld_refuses("GpuHourPrize=a100:1\n",
			     "unknown key 'GpuHourPrize', expected one of "
			     "the keys in meridian.conf(5)");
	/* ...and so does conf_load (commands, mnoded), from the plugins'
	 * key tables. */
	c = th_conf(dir, NODES "FrobnicateLevel=3\n");
	CU_ASSERT_PTR_NULL(c);
	conf_free(c);
	/* A bad value of price/flat's key, named by line, before init. */
	expect_mctld_refuses("GpuHourPrice=a100\n",
			     "GpuHourPrice: 'a100' is not MODEL:DOLLARS, "
			     "expected MODEL:DOLLARS[,...] such as "
			     "a100:2.10,default:0.50");
	expect_mctld_refuses("GpuHourPrice=a100:1,A100:2\n",
			     "GpuHourPrice=: 'A100:2' prices a model twice; "
			     "expected MODEL:DOLLARS,... e.g. "
			     "a100:2.10,default:0.50");

	/* A good one: declared and parsed by price/flat, any case. */
	x = th_ctx_err(dir,
		       "NodeName=n1 CPUs=2 Gres=gpu:a100:2\n"
		       "gpuhourprice=a100:2.5,default:1\n",
		       &err);
	if (!x)
		fprintf(stderr, "\n  %s\n", err.text);
	CU_ASSERT_PTR_NOT_NULL_FATAL(x);
	CU_ASSERT_EQUAL(price_gpu_hour(x, node_find(x, "n1"), mer_now()),
			2500000);
	mctld_destroy(x);
	th_rmdir(dir);
}

static CU_TestInfo tests[] = {
	{"trial: when a blocked job could start", test_trial},
	{"a reservation honoured by try_start", test_reservation},
	{"wake_at: called again later", test_wake},
	{"loader: NULL member, v1 plugin", test_loader},
	{"meridian.conf keys of plugins", test_conf_keys},
	CU_TEST_INFO_NULL,
};

CUNIT_MAIN("plugin API v2", tests)
