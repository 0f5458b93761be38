/*
 * test_probes.c - mctld's probe planner over the fake transport: who is
 * asked to arm and to dial, that no node is in two probes, the traffic
 * budget, results into the link matrix and the "probes" table, a node
 * behind NAT, results that are not a node's to give, LINK_INFO and
 * NodeInfo's tier.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cunit_main.h"
#include "harness.h"
#include "mctld.h"
#include "util.h"

#define MT(x) MERIDIAN__MSG_TYPE__MSG_##x

/* a1, a2 (eu) and a3 accept probes; a4 (us) has no Port=: as behind NAT */
#define NODES                                                                  \
	"RegionName=eu\nRegionName=us\n"                                       \
	"NodeName=a1 CPUs=2 RealMemory=1024 Region=eu Port=7001\n"             \
	"NodeName=a2 CPUs=2 RealMemory=1024 Region=eu Port=7002\n"             \
	"NodeName=a3 CPUs=2 RealMemory=1024 Region=us Port=7003\n"             \
	"NodeName=a4 CPUs=2 RealMemory=1024 Region=us\n"                       \
	"PartitionName=main Nodes=ALL Default=YES MaxTime=60\n"                \
	"ProbeInterval=600\nProbeDuration=500\n"

static char *dir;
static struct mctld *ctx;
static struct peer *np[4];
static const char *names[4] = {"a1", "a2", "a3", "a4"};

static void start(const char *extra)
{
	char *text = xasprintf(NODES "%s", extra ? extra : "");

	dir = th_tmpdir();
	ctx = th_ctx(dir, text);
	free(text);
	CU_ASSERT_PTR_NOT_NULL_FATAL(ctx);
	for (int i = 0; i < 4; i++) {
		Meridian__NodeRegisterReply *rr;

		np[i] = th_peer(ctx, names[i]);
		rr = th_register(ctx, np[i], names[i], NULL, 0);
		CU_ASSERT_PTR_NOT_NULL_FATAL(rr);
		protobuf_c_message_free_unpacked(&rr->base, NULL);
		th_forget_frames(np[i]);
	}
}

static void stop(void)
{
	mctld_destroy(ctx);
	ctx = NULL;
	th_rmdir(dir);
}

static int index_of(const char *name)
{
	for (int i = 0; i < 4; i++)
		if (strcmp(names[i], name) == 0)
			return i;
	return -1;
}

/* A push of type to node i: its frame index and request, or -1. */
struct pushed {
	ssize_t frame;
	Meridian__ProbeRequest *req;
};

static int pushes(int i, unsigned type, struct pushed *out, int max)
{
	int n = 0;

	for (size_t k = 0; k < th_nframes(np[i]) && n < max; k++) {
		struct frame_hdr h;
		ProtobufCMessage *m = th_frame(np[i], k, &h);

		if (h.type != type || (h.flags & MER_FRAME_REPLY)) {
			protobuf_c_message_free_unpacked(m, NULL);
			continue;
		}
		out[n].frame = (ssize_t)k;
		out[n].req = (Meridian__ProbeRequest *)m;
		n++;
	}
	return n;
}

static void pushes_free(struct pushed *p, int n)
{
	for (int i = 0; i < n; i++)
		protobuf_c_message_free_unpacked(&p[i].req->base, NULL);
}

static void tick(int64_t t)
{
	mctld_tick(ctx, t);
	th_turn(ctx);
}

/* Send res from node i; the reply's error text, "" for an Ack. */
static void result(int i, const Meridian__ProbeResult *res, char *why,
		   size_t len)
{
	bool is_err = false;
	ProtobufCMessage *m;

	th_request(ctx, np[i], MT(PROBE_RESULT), 77, 0, &res->base);
	th_turn(ctx); /* an Ack waits for the commit */
	m = th_last_reply(np[i], MT(PROBE_RESULT), &is_err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	snprintf(why, len, "%s",
		 is_err ? ((Meridian__ErrorReply *)m)->text : "");
	protobuf_c_message_free_unpacked(m, NULL);
}

/* The armed ends of this round: who each arms for, no node twice. */
static int armed_round(int *armed_for, struct pushed *arm)
{
	bool in[4] = {false};
	int narm = 0;

	for (int i = 0; i < 4; i++) {
		int n = pushes(i, MT(PROBE_ARM), &arm[narm], 1);

		armed_for[i] = -1;
		if (!n)
			continue;
		armed_for[i] = index_of(arm[narm].req->peer);
		CU_ASSERT_FATAL(armed_for[i] >= 0);
		CU_ASSERT_FALSE(in[i]);
		CU_ASSERT_FALSE(in[armed_for[i]]);
		in[i] = in[armed_for[i]] = true;
		CU_ASSERT_EQUAL(arm[narm].req->token.len, 32);
		CU_ASSERT(arm[narm].req->streams > 0);
		CU_ASSERT_EQUAL(arm[narm].req->duration_ms, 500);
		narm++;
	}
	return narm;
}

static void test_plan_and_results(void)
{
	struct pushed arm[4], run[1];
	int armed_for[4], narm, a, d;
	Meridian__ProbeResult res = MERIDIAN__PROBE_RESULT__INIT;
	struct links_info li;
	char why[300];
	int64_t now = mer_now();

	start(NULL);
	tick(now);
	narm = armed_round(armed_for, arm);
	/* four nodes: two probes at once, no node in both */
	CU_ASSERT_EQUAL(narm, 2);
	/* a4 has no Port=: never the armed end */
	CU_ASSERT_EQUAL(armed_for[3], -1);
	for (a = 0; a < 4 && armed_for[a] < 0; a++)
		;
	CU_ASSERT_FATAL(a < 4);
	d = armed_for[a];
	/* nothing is dialed before the armed end acknowledges */
	CU_ASSERT_EQUAL(pushes(d, MT(PROBE_RUN), run, 1), 0);
	th_reply_to(ctx, np[a], (size_t)arm[0].frame, NULL);
	th_turn(ctx);
	CU_ASSERT_EQUAL_FATAL(pushes(d, MT(PROBE_RUN), run, 1), 1);
	CU_ASSERT_EQUAL(run[0].req->probe_id, arm[0].req->probe_id);
	CU_ASSERT_EQUAL(run[0].req->token.len, 32);
	CU_ASSERT(memcmp(run[0].req->token.data, arm[0].req->token.data, 32) ==
		  0);
	CU_ASSERT_STRING_EQUAL(run[0].req->peer, names[a]);
	CU_ASSERT_EQUAL(run[0].req->port, 7001u + (unsigned)a);
	CU_ASSERT(run[0].req->up && run[0].req->down);

	/* another node may not report it */
	res.probe_id = run[0].req->probe_id;
	res.ok = true;
	res.echoes = 10;
	res.rtt_median_us = 2000;
	res.rtt_spread_us = 100;
	res.up_bps = 800000000;
	res.down_bps = 400000000;
	result(a, &res, why, sizeof(why));
	CU_ASSERT_PTR_NOT_NULL(strstr(why, "not one this node was asked"));
	/* nor a claim past belief */
	res.up_bps = 100000000000000ull;
	result(d, &res, why, sizeof(why));
	CU_ASSERT_PTR_NOT_NULL(strstr(why, "not believed"));
	pushes_free(run, 1);

	/* that probe is over (refused); the other of the round reports */
	for (a = a + 1; a < 4 && armed_for[a] < 0; a++)
		;
	CU_ASSERT_FATAL(a < 4);
	d = armed_for[a];
	th_reply_to(ctx, np[a], (size_t)arm[1].frame, NULL);
	th_turn(ctx);
	CU_ASSERT_EQUAL_FATAL(pushes(d, MT(PROBE_RUN), run, 1), 1);
	CU_ASSERT_EQUAL(run[0].req->probe_id, arm[1].req->probe_id);
	res.probe_id = run[0].req->probe_id;
	res.up_bps = 800000000;
	result(d, &res, why, sizeof(why));
	CU_ASSERT_STRING_EQUAL(why, "");
	/* both ways measured, one-way latency half the round trip */
	CU_ASSERT_EQUAL(probe_link(ctx, (size_t)d, (size_t)a, &li), 0);
	CU_ASSERT_TRUE(li.measured);
	CU_ASSERT_DOUBLE_EQUAL(li.bw_Bps, 100e6, 1);
	CU_ASSERT_DOUBLE_EQUAL(li.lat_s, 0.001, 1e-9);
	CU_ASSERT_EQUAL(probe_link(ctx, (size_t)a, (size_t)d, &li), 0);
	CU_ASSERT_TRUE(li.measured);
	CU_ASSERT_DOUBLE_EQUAL(li.bw_Bps, 50e6, 1);
	/* a's down rate is 800 Mbit/s: tier high (800), d's 400: medium */
	CU_ASSERT_STRING_EQUAL(probe_tier(ctx, (size_t)a, NULL), "high");
	CU_ASSERT_STRING_EQUAL(probe_tier(ctx, (size_t)d, NULL), "medium");
	pushes_free(run, 1);
	pushes_free(arm, narm);

	/* durable: a new controller on the same StateDir has them */
	{
		char *text = xasprintf(NODES);
		struct mctld *c2;

		mctld_destroy(ctx);
		c2 = th_ctx(dir, text);
		free(text);
		CU_ASSERT_PTR_NOT_NULL_FATAL(c2);
		ctx = c2;
		CU_ASSERT_EQUAL(probe_link(ctx, (size_t)a, (size_t)d, &li), 0);
		CU_ASSERT_TRUE(li.measured);
		CU_ASSERT_DOUBLE_EQUAL(li.bw_Bps, 50e6, 1);
		CU_ASSERT_STRING_EQUAL(probe_tier(ctx, (size_t)a, NULL),
				       "high");
	}
	stop();
}

/* A node that cannot be reached is marked so and dials from then on. */
static void test_unreachable(void)
{
	struct pushed arm[4], run[1];
	int armed_for[4], narm, a, d;
	Meridian__ProbeResult res = MERIDIAN__PROBE_RESULT__INIT;
	char why[300];
	int64_t now = mer_now();

	/* one probe at a time: budget for one probe of the lowest tier */
	start("ProbeMaxMbps=150\n");
	tick(now);
	narm = armed_round(armed_for, arm);
	CU_ASSERT_EQUAL_FATAL(narm, 1);
	for (a = 0; a < 4 && armed_for[a] < 0; a++)
		;
	d = armed_for[a];
	th_reply_to(ctx, np[a], (size_t)arm[0].frame, NULL);
	th_turn(ctx);
	CU_ASSERT_EQUAL_FATAL(pushes(d, MT(PROBE_RUN), run, 1), 1);
	res.probe_id = run[0].req->probe_id;
	res.ok = false;
	res.refused = true;
	res.error = (char *)"cannot connect to 10.0.0.1:7001: Connection "
			    "refused";
	result(d, &res, why, sizeof(why));
	CU_ASSERT_STRING_EQUAL(why, "");
	pushes_free(run, 1);
	pushes_free(arm, narm);
	/* from now on a is never the armed end */
	for (int round = 0; round < 6; round++) {
		for (int i = 0; i < 4; i++)
			th_forget_frames(np[i]);
		tick(now + 1 + round);
		narm = armed_round(armed_for, arm);
		CU_ASSERT(narm <= 1);
		CU_ASSERT_EQUAL(armed_for[a], -1);
		CU_ASSERT_EQUAL(armed_for[3], -1);
		if (narm) {
			int x, y;

			for (x = 0; x < 4 && armed_for[x] < 0; x++)
				;
			y = armed_for[x];
			th_reply_to(ctx, np[x], (size_t)arm[0].frame, NULL);
			th_turn(ctx);
			CU_ASSERT_EQUAL_FATAL(pushes(y, MT(PROBE_RUN), run, 1),
					      1);
			res.probe_id = run[0].req->probe_id;
			res.ok = true;
			res.refused = false;
			res.error = (char *)"";
			res.rtt_median_us = 1000;
			res.up_bps = res.down_bps = 200000000;
			result(y, &res, why, sizeof(why));
			CU_ASSERT_STRING_EQUAL(why, "");
			pushes_free(run, 1);
		}
		pushes_free(arm, narm);
	}
	/* the pair a and a4 has no end that accepts: never probed */
	{
		struct links_info li;

		CU_ASSERT_EQUAL(probe_link(ctx, (size_t)a, 3, &li), 0);
		CU_ASSERT_FALSE(li.measured);
	}
	stop();
}

/* A fresh pair is not probed again before ProbeInterval. */
static void test_interval(void)
{
	struct pushed arm[4], run[1];
	int armed_for[4], narm;
	Meridian__ProbeResult res = MERIDIAN__PROBE_RESULT__INIT;
	char why[300];
	int64_t now = mer_now(), t = now;
	int rounds = 0;

	/* the nodes stay up across the clock's jump */
	start("NodeTimeout=86400\n");
	res.ok = true;
	res.rtt_median_us = 1000;
	res.up_bps = res.down_bps = 500000000;
	/* answer every probe until nothing is due */
	do {
		for (int i = 0; i < 4; i++)
			th_forget_frames(np[i]);
		tick(t++);
		narm = armed_round(armed_for, arm);
		for (int x = 0, k = 0; x < 4; x++) {
			int y = armed_for[x];

			if (y < 0)
				continue;
			th_reply_to(ctx, np[x], (size_t)arm[k].frame, NULL);
			th_turn(ctx);
			CU_ASSERT_EQUAL_FATAL(pushes(y, MT(PROBE_RUN), run, 1),
					      1);
			res.probe_id = run[0].req->probe_id;
			result(y, &res, why, sizeof(why));
			CU_ASSERT_STRING_EQUAL(why, "");
			pushes_free(run, 1);
			th_forget_frames(np[y]);
			k++;
		}
		pushes_free(arm, narm);
	} while (narm && ++rounds < 20);
	/* six pairs, of which a4 can be in three only by dialing */
	CU_ASSERT(rounds >= 3 && rounds < 20);
	for (size_t i = 0; i < 4; i++)
		for (size_t j = 0; j < 4; j++) {
			struct links_info li;

			if (i == j)
				continue;
			CU_ASSERT_EQUAL(probe_link(ctx, i, j, &li), 0);
			CU_ASSERT_TRUE(li.measured);
		}
	/* due again after ProbeInterval=600 (from the results' clock) */
	tick(mer_now() + 601);
	narm = armed_round(armed_for, arm);
	CU_ASSERT(narm >= 1);
	pushes_free(arm, narm);
	stop();
}

/* LINK_INFO: rows of named nodes, regions, and errors. */
static void test_link_info(void)
{
	Meridian__LinkInfoRequest q = MERIDIAN__LINK_INFO_REQUEST__INIT;
	Meridian__LinkInfoReply *r;
	struct peer *user;
	bool is_err = false;

	start(NULL);
	user = th_peer(ctx, "user");
	q.nodes = (char *)"a[1-2]";
	th_request(ctx, user, MT(LINK_INFO), 5, TH_BOB, &q.base);
	r = (void *)th_last_reply(user, MT(LINK_INFO), &is_err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	CU_ASSERT_FALSE_FATAL(is_err);
	CU_ASSERT_EQUAL(r->n_nodes, 2);
	CU_ASSERT_STRING_EQUAL(r->nodes[0]->node, "a1");
	CU_ASSERT_STRING_EQUAL(r->nodes[0]->region, "eu");
	CU_ASSERT_STRING_EQUAL(r->nodes[0]->tier, "");
	/* each named node's row to every other node */
	CU_ASSERT_EQUAL(r->n_links, 6);
	for (size_t i = 0; i < r->n_links; i++)
		CU_ASSERT_FALSE(r->links[i]->measured);
	protobuf_c_message_free_unpacked(&r->base, NULL);

	q.nodes = (char *)"";
	q.regions = true;
	th_request(ctx, user, MT(LINK_INFO), 6, TH_BOB, &q.base);
	r = (void *)th_last_reply(user, MT(LINK_INFO), &is_err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	CU_ASSERT_FALSE_FATAL(is_err);
	CU_ASSERT_EQUAL(r->n_nodes, 4);
	/* eu-eu, eu-us, us-eu, us-us */
	CU_ASSERT_EQUAL(r->n_links, 4);
	protobuf_c_message_free_unpacked(&r->base, NULL);

	q.nodes = (char *)"zz9";
	q.regions = false;
	th_request(ctx, user, MT(LINK_INFO), 7, TH_BOB, &q.base);
	r = (void *)th_last_reply(user, MT(LINK_INFO), &is_err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	CU_ASSERT_TRUE(is_err);
	CU_ASSERT_PTR_NOT_NULL(
		strstr(((Meridian__ErrorReply *)r)->text, "not in meridian"));
	protobuf_c_message_free_unpacked(&r->base, NULL);
	stop();
}

/* A node running a job is not probed. */
static void test_busy_nodes(void)
{
	Meridian__JobDesc desc = MERIDIAN__JOB_DESC__INIT;
	struct pushed arm[4];
	int armed_for[4], narm;
	struct peer *user;
	struct node *n;
	int64_t now = mer_now();

	start(NULL);
	user = th_peer(ctx, "user");
	desc.min_nodes = 3;
	CU_ASSERT_EQUAL(th_submit(ctx, user, TH_ALICE, &desc, NULL, 0), 1);
	for (int i = 0; i < 4; i++)
		th_forget_frames(np[i]);
	tick(now);
	narm = armed_round(armed_for, arm);
	/* one node is free: no pair to probe */
	CU_ASSERT_EQUAL(narm, 0);
	pushes_free(arm, narm);
	n = node_find(ctx, "a4");
	CU_ASSERT_EQUAL(n->njobs, 0);
	stop();
}

/* QUOTE with select/topo: the measured fast pair, its bottleneck, the
 * price; a job that cannot run now says why; nothing is submitted. */
static void test_quote(void)
{
	Meridian__QuoteRequest q = MERIDIAN__QUOTE_REQUEST__INIT;
	Meridian__JobDesc d = MERIDIAN__JOB_DESC__INIT;
	Meridian__QuoteReply *r;
	struct pushed arm[4], run[1];
	int armed_for[4], narm, a = -1, dl;
	Meridian__ProbeResult res = MERIDIAN__PROBE_RESULT__INIT;
	struct peer *user;
	bool is_err = false;
	char why[300];

	start("SelectType=select/topo\n");
	user = th_peer(ctx, "user");
	/* measure one pair, fast */
	tick(mer_now());
	narm = armed_round(armed_for, arm);
	CU_ASSERT_FATAL(narm >= 1);
	for (a = 0; a < 4 && armed_for[a] < 0; a++)
		;
	dl = armed_for[a];
	th_reply_to(ctx, np[a], (size_t)arm[0].frame, NULL);
	th_turn(ctx);
	CU_ASSERT_EQUAL_FATAL(pushes(dl, MT(PROBE_RUN), run, 1), 1);
	res.probe_id = run[0].req->probe_id;
	res.ok = true;
	res.rtt_median_us = 400;
	res.up_bps = res.down_bps = 10000000000ull;
	result(dl, &res, why, sizeof(why));
	CU_ASSERT_STRING_EQUAL(why, "");
	pushes_free(run, 1);
	pushes_free(arm, narm);

	d.min_nodes = 2;
	d.comm_bytes = 1 << 20;
	q.desc = &d;
	th_request(ctx, user, MT(QUOTE), 9, TH_BOB, &q.base);
	r = (void *)th_last_reply(user, MT(QUOTE), &is_err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	CU_ASSERT_FALSE_FATAL(is_err);
	CU_ASSERT_TRUE(r->fits_now);
	CU_ASSERT_STRING_EQUAL(r->select_type, "select/topo");
	CU_ASSERT_EQUAL_FATAL(r->n_nodes, 2);
	/* the pair measured at 10 Gbit/s, the others estimated slower */
	CU_ASSERT(index_of(r->nodes[0]->node) == a ||
		  index_of(r->nodes[0]->node) == dl);
	CU_ASSERT(index_of(r->nodes[1]->node) == a ||
		  index_of(r->nodes[1]->node) == dl);
	CU_ASSERT(r->predicted_step_us > 0);
	CU_ASSERT_TRUE(r->bottleneck_measured);
	CU_ASSERT_DOUBLE_EQUAL(r->bottleneck_bytes_per_s, 10e9 / 8, 1);
	CU_ASSERT_EQUAL(r->comm, MERIDIAN__COMM_PATTERN__COMM_RING);
	CU_ASSERT_EQUAL(r->comm_bytes, 1u << 20);
	protobuf_c_message_free_unpacked(&r->base, NULL);
	/* nothing was submitted */
	CU_ASSERT_EQUAL(job_mgr_count(ctx), 0);

	/* more CPUs than a node has: it would never run, and says so */
	d.min_nodes = 1;
	d.cpus_per_task = 64;
	th_request(ctx, user, MT(QUOTE), 10, TH_BOB, &q.base);
	r = (void *)th_last_reply(user, MT(QUOTE), &is_err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	CU_ASSERT_TRUE(is_err);
	protobuf_c_message_free_unpacked(&r->base, NULL);
	stop();
}

/*
 * 1,000 nodes in 8 regions of uneven size, every probe answered at once:
 * through one whole ProbeInterval no node takes part in more than
 * ProbePeers distinct probes (the controller's own included), and every
 * pair of regions is measured.
 */
#define BIG_N 1000
static void test_thousand(void)
{
	static const char *const reg[] = {"r0", "r1", "r2", "r3",
					  "r4", "r5", "r6", "r7"};
	static const unsigned size[] = {500, 250, 120, 60, 40, 20, 7, 3};
	struct strbuf conf = {0};
	struct peer **peer = xcalloc(BIG_N, sizeof(*peer));
	char **name = xcalloc(BIG_N, sizeof(*name));
	unsigned *count = xcalloc(BIG_N, sizeof(*count)), *rof;
	bool *met = xcalloc((size_t)BIG_N * BIG_N, sizeof(*met));
	bool cross[8][8] = {{false}};
	Meridian__ProbeResult res = MERIDIAN__PROBE_RESULT__INIT;
	int64_t t = mer_now();
	size_t n = 0, probes = 0, rounds = 0, armed;
	char *bdir = th_tmpdir();
	struct mctld *c;

	rof = xcalloc(BIG_N, sizeof(*rof));
	for (unsigned r = 0; r < 8; r++)
		strbuf_addf(&conf, "RegionName=%s\n", reg[r]);
	for (unsigned r = 0; r < 8; r++)
		for (unsigned k = 0; k < size[r]; k++, n++) {
			name[n] = xasprintf("%sn%u", reg[r], k);
			rof[n] = r;
			/* every third node behind NAT */
			if (n % 3 == 2)
				strbuf_addf(
					&conf,
					"NodeName=%s CPUs=2 RealMemory=1024 "
					"Region=%s\n",
					name[n], reg[r]);
			else
				strbuf_addf(
					&conf,
					"NodeName=%s CPUs=2 RealMemory=1024 "
					"Region=%s Port=%u\n",
					name[n], reg[r], 7000 + (unsigned)n);
		}
	strbuf_addf(&conf, "PartitionName=main Nodes=ALL Default=YES\n"
			   "ProbeInterval=86400\nProbeDuration=500\n"
			   "ProbeMaxMbps=1000000\nNodeTimeout=86400\n");
	c = th_ctx(bdir, conf.s);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT_EQUAL_FATAL(node_mgr_count(c), BIG_N);
	for (size_t i = 0; i < BIG_N; i++) {
		Meridian__NodeRegisterReply *rr;

		peer[i] = th_peer(c, name[i]);
		rr = th_register(c, peer[i], name[i], NULL, 0);
		CU_ASSERT_PTR_NOT_NULL_FATAL(rr);
		protobuf_c_message_free_unpacked(&rr->base, NULL);
		th_forget_frames(peer[i]);
	}
	res.ok = true;
	res.rtt_median_us = 1000;
	res.up_bps = res.down_bps = 500000000;
	/* rounds within one interval: arm, run, result, until none is due */
	do {
		armed = 0;
		mctld_tick(c, t++);
		th_turn(c);
		for (size_t i = 0; i < BIG_N; i++) {
			for (size_t f = 0; f < th_nframes(peer[i]); f++) {
				struct frame_hdr h;
				ProtobufCMessage *m = th_frame(peer[i], f, &h);
				Meridian__ProbeRequest *q = (void *)m;
				ssize_t d = -1;

				if (h.type == MT(PROBE_ARM) &&
				    !(h.flags & MER_FRAME_REPLY)) {
					for (size_t j = 0; j < BIG_N && d < 0;
					     j++)
						if (!strcmp(name[j], q->peer))
							d = (ssize_t)j;
					CU_ASSERT_FATAL(d >= 0);
					CU_ASSERT_FALSE(met[i * BIG_N + d]);
					met[i * BIG_N + d] = true;
					met[(size_t)d * BIG_N + i] = true;
					count[i]++;
					count[d]++;
					cross[rof[i]][rof[d]] = true;
					cross[rof[d]][rof[i]] = true;
					th_reply_to(c, peer[i], f, NULL);
					armed++;
				}
				protobuf_c_message_free_unpacked(m, NULL);
			}
			th_forget_frames(peer[i]);
		}
		th_turn(c);
		/* the dialers: report each run */
		for (size_t i = 0; i < BIG_N; i++) {
			for (size_t f = 0; f < th_nframes(peer[i]); f++) {
				struct frame_hdr h;
				ProtobufCMessage *m = th_frame(peer[i], f, &h);

				if (h.type == MT(PROBE_RUN) &&
				    !(h.flags & MER_FRAME_REPLY)) {
					res.probe_id =
						((Meridian__ProbeRequest *)m)
							->probe_id;
					th_request(c, peer[i], MT(PROBE_RESULT),
						   77, 0, &res.base);
				}
				protobuf_c_message_free_unpacked(m, NULL);
			}
		}
		th_turn(c);
		for (size_t i = 0; i < BIG_N; i++)
			th_forget_frames(peer[i]);
		probes += armed;
		rounds++;
	} while (armed && rounds < 400);
	CU_ASSERT(rounds < 400);
	CU_ASSERT(probes > BIG_N * 4);
	for (size_t i = 0; i < BIG_N; i++) {
		/* ProbePeers = 16, the controller's probe among them (no
		 * ProbePort here: none, so all 16 are pairs) */
		CU_ASSERT(count[i] <= 16);
		CU_ASSERT(count[i] >= 2); /* even behind NAT */
	}
	for (unsigned a = 0; a < 8; a++)
		for (unsigned b = 0; b < 8; b++)
			if (a != b)
				CU_ASSERT_TRUE(cross[a][b]);
	mctld_destroy(c);
	th_rmdir(bdir);
	for (size_t i = 0; i < BIG_N; i++)
		free(name[i]);
	free(name);
	free(peer);
	free(count);
	free(rof);
	free(met);
	strbuf_free(&conf);
}

static CU_TestInfo tests[] = {
	{"QUOTE", test_quote},
	{"plan, results, durability", test_plan_and_results},
	{"a node that cannot be reached dials", test_unreachable},
	{"nothing is probed again before ProbeInterval", test_interval},
	{"LINK_INFO", test_link_info},
	{"nodes running jobs are not probed", test_busy_nodes},
	{"1,000 nodes: at most ProbePeers probes each", test_thousand},
	CU_TEST_INFO_NULL,
};

CUNIT_MAIN("probes", tests)
