/*
 * test_job_comm.c - what the select plugin is shown of a job's --comm,
 * --comm-bytes and --min-tier: the pattern, its stages and bytes (with
 * the defaults filled in), and only the nodes of the job's tier or above;
 * of its --region and --country, only the nodes of those regions.
 *
 * select/capture (select_capture.c, built beside this test) places
 * nothing and answers, as its reason, the request it was given; the
 * controller gets it from a plugin directory of links to the built
 * plugins and to it.  Each job has a partition of its own, so that
 * sched/fifo gives each one try_start's reason.  Tiers come from probe
 * results the test makes up, as a node's mnoded would report them.
 */
#include "config.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cunit_main.h"
#include "harness.h"
#include "test_util.h"
#include "util.h"

#define MT(x) MERIDIAN__MSG_TYPE__MSG_##x
#define JS(x) MERIDIAN__JOB_STATE__JOB_##x

/* n1 and n2 accept probes (Port=); n3 only dials */
#define NODES                                                                  \
	"NodeName=n1 CPUs=4 RealMemory=4096 Port=7001\n"                       \
	"NodeName=n2 CPUs=4 RealMemory=4096 Port=7002\n"                       \
	"NodeName=n3 CPUs=4 RealMemory=4096\n"                                 \
	"PartitionName=p1 Nodes=ALL Default=YES MaxTime=60\n"                  \
	"PartitionName=p2 Nodes=ALL MaxTime=60\n"                              \
	"PartitionName=p3 Nodes=ALL MaxTime=60\n"                              \
	"PartitionName=p4 Nodes=ALL MaxTime=60\n"                              \
	"PartitionName=p5 Nodes=ALL MaxTime=60\n"                              \
	"PartitionName=p6 Nodes=ALL MaxTime=60\n"                              \
	"PartitionName=p7 Nodes=ALL MaxTime=60\n"                              \
	"PartitionName=p8 Nodes=ALL MaxTime=60\n"                              \
	"NodeTimeout=86400\n"

static const char *const names[] = {"n1", "n2", "n3"};
#define NNODES 3

static char *dir, *plugins;
static struct mctld *ctx;
static struct peer *user, *np[NNODES];

/* DIR/plugins: a link to each built plugin and to select/capture. */
static char *plugin_dir(const char *base)
{
	char *pd = xasprintf("%s/plugins", base), *cap, *to;
	DIR *d = opendir(th_plugin_dir());
	struct dirent *e;

	CU_ASSERT_PTR_NOT_NULL_FATAL(d);
	CU_ASSERT_EQUAL_FATAL(mkdir(pd, 0700), 0);
	while ((e = readdir(d))) {
		size_t n = strlen(e->d_name);
		char *from, *link;

		if (n < 4 || strcmp(e->d_name + n - 3, ".so") != 0)
			continue;
		from = xasprintf("%s/%s", th_plugin_dir(), e->d_name);
		link = xasprintf("%s/%s", pd, e->d_name);
		CU_ASSERT_EQUAL(symlink(from, link), 0);
		free(from);
		free(link);
	}
	closedir(d);
	cap = test_build_path("src/mctld/test/.libs/select_capture.so");
	to = xasprintf("%s/select_capture.so", pd);
	CU_ASSERT_EQUAL(access(cap, R_OK), 0);
	CU_ASSERT_EQUAL(symlink(cap, to), 0);
	free(cap);
	free(to);
	return pd;
}

/* A controller over nodes (NODES or the like: n1 to n3, p1 to p8) and
 * extra, with every node up. */
static void start_over(const char *nodes, bool capture, const char *extra)
{
	char *text;

	dir = th_tmpdir();
	plugins = plugin_dir(dir);
	text = xasprintf("%s%s%s%s%s", nodes, capture ? "PluginDir=" : "",
			 capture ? plugins : "",
			 capture ? "\nSelectType=select/capture\n" : "",
			 extra ? extra : "");
	ctx = th_ctx(dir, text);
	free(text);
	CU_ASSERT_PTR_NOT_NULL_FATAL(ctx);
	user = th_peer(ctx, "user");
	for (int i = 0; i < NNODES; i++) {
		Meridian__NodeRegisterReply *rr;

		np[i] = th_peer(ctx, names[i]);
		rr = th_register(ctx, np[i], names[i], NULL, 0);
		CU_ASSERT_PTR_NOT_NULL_FATAL(rr);
		protobuf_c_message_free_unpacked(&rr->base, NULL);
		th_forget_frames(np[i]);
	}
}

static void start(bool capture, const char *extra)
{
	start_over(NODES, capture, extra);
}

static void stop(void)
{
	mctld_destroy(ctx);
	ctx = NULL;
	free(plugins);
	th_rmdir(dir);
}

static int index_of(const char *name)
{
	for (int i = 0; i < NNODES; i++)
		if (strcmp(names[i], name) == 0)
			return i;
	return -1;
}

/* What a probe measures into node i, bit/s: n1 and n2 high (900 Mbit/s),
 * n3 low (200). */
static uint64_t rate_into(int i)
{
	return i == 2 ? 200000000ull : 900000000ull;
}

/* Answer the probe pushes of kind type to every node: an ARM with an
 * Ack, a RUN with a result at rate_into() each way. */
static void answer(unsigned type)
{
	for (int i = 0; i < NNODES; i++) {
		for (size_t k = 0; k < th_nframes(np[i]); k++) {
			Meridian__ProbeResult res =
				MERIDIAN__PROBE_RESULT__INIT;
			Meridian__ProbeRequest *req;
			struct frame_hdr h;
			ProtobufCMessage *m = th_frame(np[i], k, &h);
			int peer;

			if (h.type != type || (h.flags & MER_FRAME_REPLY)) {
				protobuf_c_message_free_unpacked(m, NULL);
				continue;
			}
			req = (Meridian__ProbeRequest *)m;
			if (type == MT(PROBE_ARM)) {
				th_reply_to(ctx, np[i], k, NULL);
			} else if ((peer = index_of(req->peer)) >= 0) {
				res.probe_id = req->probe_id;
				res.ok = true;
				res.echoes = 10;
				res.rtt_median_us = 1000;
				res.up_bps = rate_into(peer);
				res.down_bps = rate_into(i);
				th_request(ctx, np[i], MT(PROBE_RESULT), 77, 0,
					   &res.base);
			}
			protobuf_c_message_free_unpacked(m, NULL);
		}
	}
	th_turn(ctx);
}

/* Let the probes run, answered as above, until every node has a tier. */
static void measure(void)
{
	int64_t now = mer_now();
	int round, i;

	for (round = 0; round < 20; round++) {
		for (i = 0; i < NNODES && probe_tier(ctx, (size_t)i, NULL); i++)
			;
		if (i == NNODES)
			break;
		for (i = 0; i < NNODES; i++)
			th_forget_frames(np[i]);
		mctld_tick(ctx, now + 1 + round);
		th_turn(ctx);
		answer(MT(PROBE_ARM));
		answer(MT(PROBE_RUN));
	}
	for (i = 0; i < NNODES; i++)
		CU_ASSERT_PTR_NOT_NULL_FATAL(probe_tier(ctx, (size_t)i, NULL));
	CU_ASSERT_STRING_EQUAL_FATAL(probe_tier(ctx, 0, NULL), "high");
	CU_ASSERT_STRING_EQUAL_FATAL(probe_tier(ctx, 1, NULL), "high");
	CU_ASSERT_STRING_EQUAL_FATAL(probe_tier(ctx, 2, NULL), "low");
}

/* Submit d to partition part; the job, after a scheduling pass. */
static struct job *submit(Meridian__JobDesc *d, const char *part)
{
	char err[200] = "";
	uint32_t id;

	d->partition = (char *)part;
	id = th_submit(ctx, user, TH_ALICE, d, err, sizeof(err));
	if (!id)
		fprintf(stderr, "\n  submit: %s\n", err);
	CU_ASSERT_NOT_EQUAL_FATAL(id, 0);
	th_turn(ctx);
	CU_ASSERT_PTR_NOT_NULL_FATAL(job_find(ctx, id));
	return job_find(ctx, id);
}

/* The request select/capture was shown for d, in partition part. */
static void expect_view(Meridian__JobDesc *d, const char *part,
			const char *want)
{
	struct job *j = submit(d, part);

	CU_ASSERT_EQUAL(j->rec->state, JS(PENDING));
	if (strcmp(j->rec->reason, want) != 0)
		fprintf(stderr, "\n  got  '%s'\n  want '%s'\n", j->rec->reason,
			want);
	CU_ASSERT_STRING_EQUAL(j->rec->reason, want);
}

static void test_comm_in_view(void)
{
	Meridian__JobDesc d;

	start(true, NULL);
	/* nothing said: a ring of 256M */
	d = (Meridian__JobDesc)MERIDIAN__JOB_DESC__INIT;
	d.min_nodes = 2;
	expect_view(&d, "p1",
		    "nodes=n1,n2,n3 num_nodes=2 comm=ring stages=0 "
		    "bytes=268435456");

	d = (Meridian__JobDesc)MERIDIAN__JOB_DESC__INIT;
	d.min_nodes = 2;
	d.comm = MERIDIAN__COMM_PATTERN__COMM_PIPELINE;
	d.comm_stages = 2;
	d.comm_bytes = 64u << 20;
	expect_view(&d, "p2",
		    "nodes=n1,n2,n3 num_nodes=2 comm=pipeline stages=2 "
		    "bytes=67108864");

	d = (Meridian__JobDesc)MERIDIAN__JOB_DESC__INIT;
	d.min_nodes = 3;
	d.comm = MERIDIAN__COMM_PATTERN__COMM_PIPELINE;
	expect_view(&d, "p3",
		    "nodes=n1,n2,n3 num_nodes=3 comm=pipeline stages=0 "
		    "bytes=268435456");

	d = (Meridian__JobDesc)MERIDIAN__JOB_DESC__INIT;
	d.comm = MERIDIAN__COMM_PATTERN__COMM_NONE;
	d.comm_bytes = 1;
	expect_view(&d, "p4",
		    "nodes=n1,n2,n3 num_nodes=1 comm=none stages=0 bytes=1");

	d = (Meridian__JobDesc)MERIDIAN__JOB_DESC__INIT;
	d.comm = MERIDIAN__COMM_PATTERN__COMM_RING;
	expect_view(&d, "p5",
		    "nodes=n1,n2,n3 num_nodes=1 comm=ring stages=0 "
		    "bytes=268435456");

	/* no node measured yet: none has a tier, none is shown */
	d = (Meridian__JobDesc)MERIDIAN__JOB_DESC__INIT;
	d.min_tier = (char *)"low";
	expect_view(&d, "p6",
		    "nodes= num_nodes=1 comm=ring stages=0 bytes=268435456");
	stop();
}

/* Only the nodes of the job's tier or a higher one are shown. */
static void test_tiers_in_view(void)
{
	static const struct {
		const char *tier, *part, *nodes;
	} cases[] = {
		{"", "p1", "n1,n2,n3"},	   {"low", "p2", "n1,n2,n3"},
		{"Medium", "p3", "n1,n2"}, {"high", "p4", "n1,n2"},
		{"ultra", "p5", ""},
	};

	start(true, NULL);
	measure();
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		Meridian__JobDesc d = MERIDIAN__JOB_DESC__INIT;
		char *want = xasprintf("nodes=%s num_nodes=1 comm=ring "
				       "stages=0 bytes=268435456",
				       cases[i].nodes);

		d.min_tier = (char *)cases[i].tier;
		expect_view(&d, cases[i].part, want);
		free(want);
	}
	stop();
}

/* With select/linear: a --min-tier=high job waits while the free nodes
 * have no tier, and a job that names none starts on them. */
static void test_min_tier_waits(void)
{
	Meridian__JobDesc d = MERIDIAN__JOB_DESC__INIT;
	struct job *j;

	start(false, NULL);
	d.min_tier = (char *)"high";
	j = submit(&d, "p1");
	CU_ASSERT_EQUAL(j->rec->state, JS(PENDING));
	CU_ASSERT_STRING_EQUAL(j->rec->reason, "ReqNodeNotAvail");
	d = (Meridian__JobDesc)MERIDIAN__JOB_DESC__INIT;
	j = submit(&d, "p2");
	CU_ASSERT_EQUAL(j->rec->state, JS(RUNNING));
	stop();
}

/* Once measured, a job runs on nodes of its tier or above only. */
static void test_min_tier_starts(void)
{
	Meridian__JobDesc d = MERIDIAN__JOB_DESC__INIT;
	struct job *j;

	start(false, NULL);
	/* before any job runs: the planner probes idle nodes only */
	measure();
	d.min_tier = (char *)"high";
	j = submit(&d, "p1");
	CU_ASSERT_EQUAL(j->rec->state, JS(RUNNING));
	CU_ASSERT_PTR_NOT_NULL_FATAL(j->rec->nodes);
	CU_ASSERT(strcmp(j->rec->nodes, "n1") == 0 ||
		  strcmp(j->rec->nodes, "n2") == 0);
	/* n3 is low: only n1 and n2 are of tier high, too few for three */
	d.min_nodes = 3;
	j = submit(&d, "p2");
	CU_ASSERT_EQUAL(j->rec->state, JS(PENDING));
	CU_ASSERT_STRING_EQUAL(j->rec->reason, "ReqNodeNotAvail");
	d.min_tier = (char *)"low";
	j = submit(&d, "p3");
	CU_ASSERT_EQUAL(j->rec->state, JS(RUNNING));
	stop();
}

/* n1 in eu-west (DE), n2 in us-east (US), n3 in no region; ap-south has
 * no Country= and no node. */
#define REGION_NODES                                                           \
	"NodeName=n1 CPUs=4 RealMemory=4096 Region=eu-west\n"                  \
	"NodeName=n2 CPUs=4 RealMemory=4096 Region=us-east\n"                  \
	"NodeName=n3 CPUs=4 RealMemory=4096\n"                                 \
	"RegionName=eu-west Country=de\n"                                      \
	"RegionName=us-east Country=US\n"                                      \
	"RegionName=ap-south\n"                                                \
	"PartitionName=p1 Nodes=ALL Default=YES MaxTime=60\n"                  \
	"PartitionName=p2 Nodes=ALL MaxTime=60\n"                              \
	"PartitionName=p3 Nodes=ALL MaxTime=60\n"                              \
	"PartitionName=p4 Nodes=ALL MaxTime=60\n"                              \
	"PartitionName=p5 Nodes=ALL MaxTime=60\n"                              \
	"PartitionName=p6 Nodes=ALL MaxTime=60\n"                              \
	"PartitionName=p7 Nodes=ALL MaxTime=60\n"                              \
	"PartitionName=p8 Nodes=ALL MaxTime=60\n"                              \
	"NodeTimeout=86400\n"

/* Only the nodes of the job's regions, of regions in its countries. */
static void test_regions_in_view(void)
{
	static const struct {
		const char *regions, *countries, *part, *nodes;
	} cases[] = {
		{"", "", "p1", "n1,n2,n3"},
		{"eu-west", "", "p2", "n1"},
		{"us-east,eu-west", "", "p3", "n1,n2"},
		{"", "US", "p4", "n2"},
		/* any case, as a raw request may send them */
		{"", "us,De", "p5", "n1,n2"},
		{"eu-west,us-east", "DE", "p6", "n1"},
		/* a region with no node, and none in the view */
		{"ap-south", "", "p7", ""},
	};

	start_over(REGION_NODES, true, NULL);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		Meridian__JobDesc d = MERIDIAN__JOB_DESC__INIT;
		char *want = xasprintf("nodes=%s num_nodes=1 comm=ring "
				       "stages=0 bytes=268435456",
				       cases[i].nodes);

		d.regions = (char *)cases[i].regions;
		d.countries = (char *)cases[i].countries;
		expect_view(&d, cases[i].part, want);
		free(want);
	}
	stop();
}

/* With select/linear: a --region job runs in its region only, and waits
 * (ReqNodeNotAvail) while that region's nodes are too few. */
static void test_region_starts(void)
{
	Meridian__JobDesc d = MERIDIAN__JOB_DESC__INIT;
	struct job *j;

	start_over(REGION_NODES, false, NULL);
	d.regions = (char *)"us-east";
	j = submit(&d, "p1");
	CU_ASSERT_EQUAL(j->rec->state, JS(RUNNING));
	CU_ASSERT_STRING_EQUAL(j->rec->nodes, "n2");
	d = (Meridian__JobDesc)MERIDIAN__JOB_DESC__INIT;
	d.countries = (char *)"DE";
	d.min_nodes = 2;
	j = submit(&d, "p2");
	CU_ASSERT_EQUAL(j->rec->state, JS(PENDING));
	CU_ASSERT_STRING_EQUAL(j->rec->reason, "ReqNodeNotAvail");
	d.min_nodes = 1;
	j = submit(&d, "p3");
	CU_ASSERT_EQUAL(j->rec->state, JS(RUNNING));
	CU_ASSERT_STRING_EQUAL(j->rec->nodes, "n1");
	stop();
}

/* Submit d as alice; it must be refused with want. */
static void expect_refused(const Meridian__JobDesc *d, const char *want)
{
	char err[200] = "";
	uint32_t id = th_submit(ctx, user, TH_ALICE, d, err, sizeof(err));

	CU_ASSERT_EQUAL(id, 0);
	if (strcmp(err, want) != 0)
		fprintf(stderr, "\n  got  '%s'\n  want '%s'\n", err, want);
	CU_ASSERT_STRING_EQUAL(err, want);
}

/* A region that is not a RegionName=, a country no region is in, and the
 * two together leaving no region, are refused at submit. */
static void test_region_errors(void)
{
	Meridian__JobDesc d = MERIDIAN__JOB_DESC__INIT;
	char err[200] = "";

	start_over(REGION_NODES, false, NULL);
	d.regions = (char *)"mars";
	expect_refused(&d, "--region=mars: no such region; expected one of "
			   "eu-west, us-east, ap-south (RegionName=)");
	d.regions = (char *)"eu-west,mars,us-east";
	expect_refused(&d, "--region=mars: no such region; expected one of "
			   "eu-west, us-east, ap-south (RegionName=)");
	d.regions = (char *)"EU-WEST"; /* names are told apart by case */
	expect_refused(&d, "--region=EU-WEST: no such region; expected one of "
			   "eu-west, us-east, ap-south (RegionName=)");
	d.regions = (char *)"eu-west,";
	expect_refused(&d, "--region=: no such region; expected one of "
			   "eu-west, us-east, ap-south (RegionName=)");
	d = (Meridian__JobDesc)MERIDIAN__JOB_DESC__INIT;
	d.countries = (char *)"JP";
	expect_refused(&d, "--country=JP: no region is in JP; the regions' "
			   "countries are DE, US");
	d.countries = (char *)"DE,JP";
	expect_refused(&d, "--country=JP: no region is in JP; the regions' "
			   "countries are DE, US");
	d.regions = (char *)"eu-west";
	d.countries = (char *)"US";
	expect_refused(&d, "--region=eu-west --country=US: no region is both");
	/* ap-south is in no country at all */
	d.regions = (char *)"ap-south";
	d.countries = (char *)"DE,US";
	expect_refused(&d, "--region=ap-south --country=DE,US: no region is "
			   "both");
	d.regions = (char *)"eu-west,us-east";
	d.countries = (char *)"us";
	CU_ASSERT_NOT_EQUAL(
		th_submit(ctx, user, TH_ALICE, &d, err, sizeof(err)), 0);
	stop();

	/* regions, but none names a country */
	start_over(NODES "RegionName=eu-west\n", false, NULL);
	d = (Meridian__JobDesc)MERIDIAN__JOB_DESC__INIT;
	d.countries = (char *)"DE";
	expect_refused(&d, "--country=DE: no region is in DE; no region names "
			   "a Country=");
	d = (Meridian__JobDesc)MERIDIAN__JOB_DESC__INIT;
	d.regions = (char *)"eu-west";
	CU_ASSERT_NOT_EQUAL(
		th_submit(ctx, user, TH_ALICE, &d, err, sizeof(err)), 0);
	stop();

	/* no region at all */
	start(false, NULL);
	d = (Meridian__JobDesc)MERIDIAN__JOB_DESC__INIT;
	d.regions = (char *)"eu-west";
	expect_refused(&d, "--region=eu-west: no such region; meridian.conf "
			   "has none (RegionName=)");
	d = (Meridian__JobDesc)MERIDIAN__JOB_DESC__INIT;
	d.countries = (char *)"DE";
	expect_refused(&d, "--country=DE: no region is in DE; no region names "
			   "a Country=");
	stop();
}

static CU_TestInfo tests[] = {
	{"comm in the select view", test_comm_in_view},
	{"tiers in the select view", test_tiers_in_view},
	{"a job waits for its tier", test_min_tier_waits},
	{"a job runs in its tier", test_min_tier_starts},
	{"regions in the select view", test_regions_in_view},
	{"a job runs in its region", test_region_starts},
	{"--region and --country refused", test_region_errors},
	CU_TEST_INFO_NULL,
};

CUNIT_MAIN("mctld job comm", tests)
