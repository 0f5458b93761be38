/*
 * test_conf.c - meridian.conf: the shipped example, defaults, every stanza,
 * the lexical rules and every error, each naming PATH:LINE.  Keys that
 * plugins own (GpuHourPrice is price/flat's) and unknown keys are checked
 * against the key tables of the built plugins, as conf_load finds them
 * through PluginDir=.
 */
#include "config.h"

#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <meridian/plugin.h>

#include "conf.h"
#include "cunit_main.h"
#include "test_util.h"
#include "util.h"

#define BASE "ClusterName=test\nControllerHost=127.0.0.1\n"

/* The path of the last file written, as conf_load saw it. */
static char last_path[64];

/* Write text to a fresh temporary file, load it, remove the file. */
static struct conf *load_text(const char *text, struct mer_error *err)
{
	char dir[] = "/tmp/mconf.XXXXXX";
	struct conf *c;
	FILE *f;

	memset(err, 0, sizeof(*err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
	snprintf(last_path, sizeof(last_path), "%s/m.conf", dir);
	f = fopen(last_path, "w");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	fputs(text, f);
	fclose(f);
	c = conf_load(last_path, err);
	unlink(last_path);
	rmdir(dir);
	return c;
}

/* Load text expecting failure with "PATH:LINE: msg" (line 0: "PATH: msg"). */
static void expect_error(const char *text, int line, const char *msg)
{
	struct mer_error e;
	struct conf *c = load_text(text, &e);
	char want[sizeof(e.text)];

	CU_ASSERT_PTR_NULL(c);
	conf_free(c);
	if (line > 0)
		snprintf(want, sizeof(want), "%s:%d: %s", last_path, line, msg);
	else
		snprintf(want, sizeof(want), "%s: %s", last_path, msg);
	if (strcmp(e.text, want) != 0)
		fprintf(stderr, "\n  got  '%s'\n  want '%s'\n", e.text, want);
	CU_ASSERT_STRING_EQUAL(e.text, want);
}

/* The built plugins ($MERIDIAN_BUILDDIR/plugins/.libs). */
static const char *plugin_dir(void)
{
	static char *dir;
	const char *b = getenv("MERIDIAN_BUILDDIR");

	if (!dir)
		dir = xasprintf("%s/plugins/.libs", b ? b : ".");
	return dir;
}

/* expect_error for text whose first line gets " PluginDir=" the built
 * plugins (no line moves): conf_load then asks their key tables. */
static void expect_error_plugins(const char *text, int line, const char *msg)
{
	size_t first = strcspn(text, "\n");
	char *buf = xasprintf("%.*s PluginDir=%s%s", (int)first, text,
			      plugin_dir(), text + first);

	expect_error(buf, line, msg);
	free(buf);
}

/* The line of path that starts with prefix (1-based), 0 when none. */
static int line_of(const char *path, const char *prefix)
{
	char buf[4096];
	FILE *f = fopen(path, "r");
	int line = 0, found = 0;

	if (!f)
		return 0;
	while (!found && fgets(buf, sizeof(buf), f)) {
		line++;
		found = strncmp(buf, prefix, strlen(prefix)) == 0;
	}
	fclose(f);
	return found ? line : 0;
}

static void test_example(void)
{
	struct mer_error e = {{0}};
	char *path = test_src_path("etc/meridian.conf.example");
	struct conf *c = conf_load(path, &e);
	int euw_line = line_of(path, "NodeName=euw-gpu[01-02] ");
	const struct conf_node *n;
	const struct conf_partition *p;
	const struct conf_region *r;

	free(path);
	if (!c)
		fprintf(stderr, "\n  %s\n", e.text);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT_STRING_EQUAL(c->cluster_name, "meridian-demo");
	CU_ASSERT_STRING_EQUAL(c->controller_host, "127.0.0.1");
	CU_ASSERT_EQUAL(c->controller_port, 6917);
	CU_ASSERT_STRING_EQUAL(c->auth_socket, "");
	CU_ASSERT_STRING_EQUAL(c->node_log_file,
			       "/var/log/meridian/mnoded-%n.log");
	CU_ASSERT_EQUAL(c->nnodes, 5);
	CU_ASSERT_EQUAL(c->nregions, 2);
	CU_ASSERT_EQUAL(c->npartitions, 2);

	n = conf_find_node(c, "euw-gpu02");
	CU_ASSERT_PTR_NOT_NULL_FATAL(n);
	CU_ASSERT_STRING_EQUAL(n->addr, "10.1.0.12");
	CU_ASSERT_EQUAL(n->gpus, 4);
	CU_ASSERT_STRING_EQUAL(n->gpu_model, "a100");
	CU_ASSERT_STRING_EQUAL(n->gres, "gpu:a100:4");
	CU_ASSERT_STRING_EQUAL(n->region, "eu-west");
	CU_ASSERT_STRING_EQUAL(n->features, "nvlink,ib");
	CU_ASSERT_EQUAL(n->cpus, 32);		     /* from DEFAULT */
	CU_ASSERT_EQUAL(n->real_memory, 256 * 1024); /* 256G */
	CU_ASSERT_EQUAL(n->weight, 10);
	CU_ASSERT_EQUAL(n->state, CONF_NODE_UNKNOWN);
	/* where its stanza starts */
	CU_ASSERT_TRUE(euw_line > 0);
	CU_ASSERT_EQUAL(n->line, euw_line);

	n = conf_find_node(c, "use-gpu01");
	CU_ASSERT_PTR_NOT_NULL_FATAL(n);
	CU_ASSERT_STRING_EQUAL(n->addr, "10.2.0.10");
	CU_ASSERT_EQUAL(n->cpus, 64);
	CU_ASSERT_EQUAL(n->gpus, 8);
	CU_ASSERT_STRING_EQUAL(n->gpu_model, "h100");
	CU_ASSERT_STRING_EQUAL(n->region, "us-east");

	n = conf_find_node(c, "euw-cpu01");
	CU_ASSERT_PTR_NOT_NULL_FATAL(n);
	CU_ASSERT_EQUAL(n->gpus, 0);
	CU_ASSERT_STRING_EQUAL(n->gres, "");
	CU_ASSERT_STRING_EQUAL(n->gpu_model, "");
	CU_ASSERT_EQUAL(n->state, CONF_NODE_DRAIN);
	CU_ASSERT_EQUAL(n->port, 6918);
	CU_ASSERT_STRING_EQUAL(n->topology_file,
			       "/etc/meridian/topo/euw-cpu01.xml");

	p = conf_default_partition(c);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	CU_ASSERT_STRING_EQUAL(p->name, "gpu");
	CU_ASSERT_EQUAL(p->nnodes, 4);
	CU_ASSERT_EQUAL(p->max_time, 2 * 1440);
	CU_ASSERT_EQUAL(p->default_time, 60);
	CU_ASSERT_TRUE(p->up);
	p = conf_find_partition(c, "all");
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	CU_ASSERT_EQUAL(p->nnodes, 5);
	CU_ASSERT_EQUAL(p->max_time, 0);
	CU_ASSERT_STRING_EQUAL(p->nodes_expr, "ALL");
	CU_ASSERT_FALSE(p->is_default);

	r = conf_find_region(c, "us-east");
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	CU_ASSERT_EQUAL(r->utc_offset_min, -300);
	CU_ASSERT_STRING_EQUAL(r->description, "US East (Virginia)");
	CU_ASSERT_STRING_EQUAL(r->country, "US");
	CU_ASSERT_STRING_EQUAL(conf_find_region(c, "eu-west")->country, "NL");

	/* price/flat's key: kept as written for the plugin */
	CU_ASSERT_STRING_EQUAL(conf_get(c, "GpuHourPrice"),
			       "a100:2.10,h100:3.25,default:0.50");
	CU_ASSERT_EQUAL(c->nadmin_users, 1);
	conf_free(c);
}

/* BandwidthTiers=: names and minimum down rates; a node's tier. */
static void test_tiers(void)
{
	struct mer_error e;
	struct conf *c = load_text(BASE, &e);

	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT_EQUAL(c->ntiers, 4);
	CU_ASSERT_STRING_EQUAL(c->tiers[0].name, "low");
	CU_ASSERT_EQUAL(c->tiers[3].min_mbps, 1600);
	CU_ASSERT_PTR_NULL(conf_tier_of(c, 99.9));
	CU_ASSERT_STRING_EQUAL(conf_tier_of(c, 100), "low");
	CU_ASSERT_STRING_EQUAL(conf_tier_of(c, 799), "medium");
	CU_ASSERT_STRING_EQUAL(conf_tier_of(c, 800), "high");
	CU_ASSERT_STRING_EQUAL(conf_tier_of(c, 1e6), "ultra");
	conf_free(c);
	c = load_text(BASE "BandwidthTiers=home:10,dc:1000\n", &e);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT_EQUAL(c->ntiers, 2);
	CU_ASSERT_STRING_EQUAL(conf_tier_of(c, 500), "home");
	CU_ASSERT_STRING_EQUAL(conf_tier_of(c, 1000), "dc");
	conf_free(c);
	expect_error(BASE "BandwidthTiers=fast:400,slow:100\n", 3,
		     "BandwidthTiers=: tier slow at 100 Mbit/s is not above "
		     "fast at 400; expected NAME:MBITS,... rising");
	expect_error(BASE "BandwidthTiers=a:1,a:2\n", 3,
		     "BandwidthTiers=: tier a is named twice; expected "
		     "NAME:MBITS,... rising");
	expect_error(BASE "BandwidthTiers=low\n", 3,
		     "BandwidthTiers=: 'low' has no ':MBITS'; expected "
		     "NAME:MBITS,... rising");
	expect_error(BASE "BandwidthTiers=low:x\n", 3,
		     "BandwidthTiers=: tier low: Mbit/s=x: expected a whole "
		     "number from 0 to 100000000; expected NAME:MBITS,... "
		     "rising");
	expect_error(BASE "BandwidthTiers=lo/w:1\n", 3,
		     "BandwidthTiers=: tier name 'lo/w' is not a plain name; "
		     "expected NAME:MBITS,... rising");
	expect_error(BASE "BandwidthTiers=a:1,\n", 3,
		     "BandwidthTiers=: a ',' with no tier after it; expected "
		     "NAME:MBITS,... rising");
	expect_error(BASE "BandwidthTiers=\n", 3,
		     "BandwidthTiers=: no tier; expected NAME:MBITS,... "
		     "rising");
	expect_error(BASE "BandwidthTiers=a:1,b:2,c:3,d:4,e:5,f:6,g:7,h:8,"
			  "i:9,j:10,k:11,l:12,m:13,n:14,o:15,p:16,q:17\n",
		     3,
		     "BandwidthTiers=: more than 16 tiers; expected "
		     "NAME:MBITS,... rising");
}

static void test_defaults(void)
{
	struct mer_error e;
	struct conf *c = load_text(BASE, &e);

	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT_STRING_EQUAL(c->path, last_path);
	CU_ASSERT_STRING_EQUAL(c->cluster_name, "test");
	CU_ASSERT_EQUAL(c->controller_port, 6917);
	CU_ASSERT_STRING_EQUAL(c->state_dir, "/var/lib/meridian");
	CU_ASSERT_STRING_EQUAL(c->spool_dir, "/var/spool/meridian/%n");
	CU_ASSERT_STRING_EQUAL(c->log_file, "");
	CU_ASSERT_STRING_EQUAL(c->node_log_file, "");
	CU_ASSERT_STRING_EQUAL(c->log_level, "info");
	CU_ASSERT_STRING_EQUAL(c->auth_type, "auth/munge");
	CU_ASSERT_STRING_EQUAL(c->auth_socket, "");
	CU_ASSERT_STRING_EQUAL(c->scheduler_type, "sched/fifo");
	CU_ASSERT_STRING_EQUAL(c->select_type, "select/linear");
	CU_ASSERT_STRING_EQUAL(c->price_type, "price/flat");
	CU_ASSERT_STRING_EQUAL(c->plugin_dir, PLUGINDIR);
	CU_ASSERT_STRING_EQUAL(c->mstepd_path, SBINDIR "/mstepd");
	CU_ASSERT_PTR_NULL(conf_get(c, "GpuHourPrice")); /* no price list */
	CU_ASSERT_EQUAL(c->nadmin_users, 0);
	CU_ASSERT_EQUAL(c->heartbeat_interval, 30);
	CU_ASSERT_EQUAL(c->node_timeout, 300);
	CU_ASSERT_EQUAL(c->kill_wait, 30);
	CU_ASSERT_EQUAL(c->min_job_age, 300);
	CU_ASSERT_EQUAL(c->max_job_count, 100000);
	CU_ASSERT_EQUAL(c->frame_timeout, 30);
	CU_ASSERT_EQUAL(c->max_connections, 0);
	CU_ASSERT_EQUAL(c->max_user_connections, 128);
	CU_ASSERT_EQUAL(c->nnodes, 0);
	CU_ASSERT_EQUAL(c->npartitions, 0);
	CU_ASSERT_PTR_NULL(conf_default_partition(c));
	CU_ASSERT_PTR_NULL(conf_find_node(c, "n1"));
	/* conf_get gives what was written, NULL for what was not. */
	CU_ASSERT_STRING_EQUAL(conf_get(c, "clustername"), "test");
	CU_ASSERT_PTR_NULL(conf_get(c, "KillWait"));
	CU_ASSERT_PTR_NULL(conf_get(c, "NoSuchKey"));
	conf_free(c);
	conf_free(NULL);
}

static void test_globals(void)
{
	struct mer_error e;
	struct conf *c;

	/* '#' inside quotes is no comment; '\' joins lines. */
	c = load_text(
		"clustername=c1 CONTROLLERHOST=ctl.example.org "
		"ControllerPort=7000  # trailing comment\n"
		"StateDir=\"/var/lib/with space\" SpoolDir=/tmp/spool/%n\n"
		"LogFile=\"\" NodeLogFile=\"/tmp/n #%n.log\" "
		"LogLevel=DEBUG\n"
		"AuthType=auth/munge AuthSocket=/run/m.sock \\\n"
		"   SchedulerType=Sched/FIFO SelectType=select/linear\n"
		"PriceType=price/flat PluginDir=/opt/p "
		"MstepdPath=/opt/mstepd\n"
		"GpuHourPrice=a100:2.10,default:0.5\n"
		"AdminUsers=alice,,bob\n"
		"HeartbeatInterval=5 NodeTimeout=20 KillWait=0 "
		"MinJobAge=60 MaxJobCount=50\n"
		"FrameTimeout=5 MaxConnections=900 MaxUserConnections=7\n"
		"# A later value wins.\n"
		"KillWait=7\n",
		&e);
	if (!c)
		fprintf(stderr, "\n  %s\n", e.text);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT_STRING_EQUAL(c->cluster_name, "c1");
	CU_ASSERT_STRING_EQUAL(c->controller_host, "ctl.example.org");
	CU_ASSERT_EQUAL(c->controller_port, 7000);
	CU_ASSERT_STRING_EQUAL(c->state_dir, "/var/lib/with space");
	CU_ASSERT_STRING_EQUAL(c->spool_dir, "/tmp/spool/%n");
	CU_ASSERT_STRING_EQUAL(c->log_file, "");
	CU_ASSERT_STRING_EQUAL(c->node_log_file, "/tmp/n #%n.log");
	CU_ASSERT_STRING_EQUAL(c->log_level, "debug");
	CU_ASSERT_STRING_EQUAL(c->auth_socket, "/run/m.sock");
	CU_ASSERT_STRING_EQUAL(c->scheduler_type, "sched/fifo");
	CU_ASSERT_STRING_EQUAL(c->plugin_dir, "/opt/p");
	CU_ASSERT_STRING_EQUAL(c->mstepd_path, "/opt/mstepd");
	CU_ASSERT_EQUAL_FATAL(c->nadmin_users, 2);
	CU_ASSERT_STRING_EQUAL(c->admin_users[0], "alice");
	CU_ASSERT_STRING_EQUAL(c->admin_users[1], "bob");
	CU_ASSERT_EQUAL(c->heartbeat_interval, 5);
	CU_ASSERT_EQUAL(c->node_timeout, 20);
	CU_ASSERT_EQUAL(c->kill_wait, 7);
	CU_ASSERT_EQUAL(c->min_job_age, 60);
	CU_ASSERT_EQUAL(c->max_job_count, 50);
	CU_ASSERT_EQUAL(c->frame_timeout, 5);
	CU_ASSERT_EQUAL(c->max_connections, 900);
	CU_ASSERT_EQUAL(c->max_user_connections, 7);
	/* conf_get: as written, any case of key, the last value. */
	CU_ASSERT_STRING_EQUAL(conf_get(c, "SCHEDULERTYPE"), "Sched/FIFO");
	CU_ASSERT_STRING_EQUAL(conf_get(c, "killwait"), "7");
	CU_ASSERT_STRING_EQUAL(conf_get(c, "LogFile"), "");
	CU_ASSERT_STRING_EQUAL(conf_get(c, "GpuHourPrice"),
			       "a100:2.10,default:0.5");
	conf_free(c);
}

/* TmpFS=: where mnoded makes each job's TMPDIR; /tmp as Slurm's. */
static void test_tmp_fs(void)
{
	struct mer_error e;
	struct conf *c = load_text(BASE, &e);
	char *s;

	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT_STRING_EQUAL(c->tmp_fs, "/tmp");
	CU_ASSERT_PTR_NULL(conf_get(c, "TmpFS"));
	conf_free(c);
	c = load_text(BASE "tmpfs=\"/scratch/job tmp/%n\"\n", &e);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT_STRING_EQUAL(c->tmp_fs, "/scratch/job tmp/%n");
	s = conf_expand_node(c->tmp_fs, "n2");
	CU_ASSERT_STRING_EQUAL(s, "/scratch/job tmp/n2");
	free(s);
	conf_free(c);
	expect_error(BASE "TmpFS=\"\"\n", 3,
		     "TmpFS is empty, expected a value");
}

static void test_nodes(void)
{
	struct mer_error e;
	const struct conf_node *n;
	struct conf *c = load_text(
		BASE
		"NodeName=DEFAULT CPUs=2 RealMemory=2048 Gres=gpu:a100:2 "
		"Region=eu-west\n"
		"NodeName=n[1-4] NodeAddr=127.0.0.1\n"
		"NodeName=DEFAULT CPUs=8 Gres=none Region=\n"
		"NodeName=m[01-02] NodeAddr=10.0.0.[5-6] Port=7001 Weight=0 "
		"State=IDLE Features=\"a b\"\n"
		"NodeName=d1 State=down\n"
		"NodeName=f1,f2 State=FUTURE Gres=gpu:2 RealMemory=1G\n"
		"nodename=dr1 state=Drain cpus=4 gres=GPU:H100:8 "
		"topologyfile=/t.xml\n"
		"RegionName=eu-west\n",
		&e);

	if (!c)
		fprintf(stderr, "\n  %s\n", e.text);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT_EQUAL_FATAL(c->nnodes, 10);
	/* In file order. */
	CU_ASSERT_STRING_EQUAL(c->nodes[0].name, "n1");
	CU_ASSERT_STRING_EQUAL(c->nodes[3].name, "n4");
	CU_ASSERT_STRING_EQUAL(c->nodes[4].name, "m01");
	CU_ASSERT_STRING_EQUAL(c->nodes[9].name, "dr1");
	for (int i = 0; i < 4; i++) {
		n = &c->nodes[i];
		CU_ASSERT_STRING_EQUAL(n->addr, "127.0.0.1");
		CU_ASSERT_EQUAL(n->cpus, 2);
		CU_ASSERT_EQUAL(n->real_memory, 2048);
		CU_ASSERT_EQUAL(n->gpus, 2);
		CU_ASSERT_STRING_EQUAL(n->gpu_model, "a100");
		CU_ASSERT_STRING_EQUAL(n->region, "eu-west");
		CU_ASSERT_EQUAL(n->weight, 1);
		CU_ASSERT_EQUAL(n->port, 0);
		CU_ASSERT_EQUAL(n->line, 4);
		CU_ASSERT_EQUAL(n->state, CONF_NODE_UNKNOWN);
	}
	n = conf_find_node(c, "m02");
	CU_ASSERT_PTR_NOT_NULL_FATAL(n);
	CU_ASSERT_STRING_EQUAL(n->addr, "10.0.0.6");
	CU_ASSERT_EQUAL(n->port, 7001);
	CU_ASSERT_EQUAL(n->weight, 0);
	CU_ASSERT_EQUAL(n->cpus, 8);
	CU_ASSERT_EQUAL(n->gpus, 0);
	CU_ASSERT_STRING_EQUAL(n->gres, "");
	CU_ASSERT_STRING_EQUAL(n->region, "");
	CU_ASSERT_STRING_EQUAL(n->features, "a b");
	CU_ASSERT_EQUAL(n->state, CONF_NODE_UNKNOWN);
	n = conf_find_node(c, "d1");
	CU_ASSERT_PTR_NOT_NULL_FATAL(n);
	CU_ASSERT_STRING_EQUAL(n->addr, "d1"); /* default: the name */
	CU_ASSERT_EQUAL(n->state, CONF_NODE_DOWN);
	n = conf_find_node(c, "f2");
	CU_ASSERT_PTR_NOT_NULL_FATAL(n);
	CU_ASSERT_EQUAL(n->state, CONF_NODE_FUTURE);
	CU_ASSERT_EQUAL(n->gpus, 2);
	CU_ASSERT_STRING_EQUAL(n->gpu_model, "");
	CU_ASSERT_EQUAL(n->real_memory, 1024);
	n = conf_find_node(c, "dr1");
	CU_ASSERT_PTR_NOT_NULL_FATAL(n);
	CU_ASSERT_EQUAL(n->state, CONF_NODE_DRAIN);
	CU_ASSERT_EQUAL(n->cpus, 4);
	CU_ASSERT_EQUAL(n->gpus, 8);
	CU_ASSERT_STRING_EQUAL(n->gpu_model, "h100");
	CU_ASSERT_STRING_EQUAL(n->gres, "GPU:H100:8");
	CU_ASSERT_STRING_EQUAL(n->topology_file, "/t.xml");
	CU_ASSERT_EQUAL(n->line, 9);
	CU_ASSERT_PTR_NULL(conf_find_node(c, "n5"));
	CU_ASSERT_PTR_NULL(conf_find_node(c, "DEFAULT"));
	CU_ASSERT_PTR_NULL(conf_find_node(c, NULL));
	conf_free(c);
}

static void test_many_nodes(void)
{
	struct mer_error e;
	struct conf *c =
		load_text(BASE "NodeName=r[1-32]n[001-128] "
			       "NodeAddr=127.0.0.1\n"
			       "NodeName=a[1-100] NodeAddr=h[1-100]\n"
			       "PartitionName=p Nodes=ALL Default=YES\n",
			  &e);
	const struct conf_node *n;
	char name[32];

	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT_EQUAL(c->nnodes, 32 * 128 + 100);
	CU_ASSERT_EQUAL(c->partitions[0].nnodes, 32 * 128 + 100);
	for (int r = 1; r <= 32; r += 7) {
		for (int k = 1; k <= 128; k += 13) {
			snprintf(name, sizeof(name), "r%dn%03d", r, k);
			n = conf_find_node(c, name);
			CU_ASSERT_PTR_NOT_NULL_FATAL(n);
			CU_ASSERT_STRING_EQUAL(n->name, name);
		}
	}
	n = conf_find_node(c, "a57");
	CU_ASSERT_PTR_NOT_NULL_FATAL(n);
	CU_ASSERT_STRING_EQUAL(n->addr, "h57");
	CU_ASSERT_PTR_NULL(conf_find_node(c, "r1n1"));
	conf_free(c);
}

static void test_partitions_regions(void)
{
	struct mer_error e;
	const struct conf_partition *p;
	const struct conf_region *r;
	struct conf *c = load_text(
		BASE
		"PartitionName=DEFAULT MaxTime=1-00:00:00\n"
		"PartitionName=batch Nodes=n[1-2] Default=YES DefaultTime=30\n"
		"PartitionName=long Nodes=n[1-3] MaxTime=UNLIMITED State=DOWN\n"
		"PartitionName=off State=INACTIVE\n"
		"PartitionName=all Nodes=all State=up\n"
		"NodeName=n[1-3] Region=asia\n"
		"RegionName=asia Description=\"Asia Pacific\" "
		"UtcOffset=+05:30 Country=in\n"
		"RegionName=west UtcOffset=-8 Country=US\n"
		"RegionName=utc UtcOffset=0\n",
		&e);

	if (!c)
		fprintf(stderr, "\n  %s\n", e.text);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT_EQUAL_FATAL(c->npartitions, 4);
	p = conf_default_partition(c);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	CU_ASSERT_STRING_EQUAL(p->name, "batch");
	CU_ASSERT_EQUAL(p->max_time, 1440);
	CU_ASSERT_EQUAL(p->default_time, 30);
	CU_ASSERT_EQUAL(p->nnodes, 2);
	CU_ASSERT_STRING_EQUAL(p->nodes[1], "n2");
	CU_ASSERT_STRING_EQUAL(p->nodes_expr, "n[1-2]");
	CU_ASSERT_TRUE(p->up);
	CU_ASSERT_EQUAL(p->line, 4);
	p = conf_find_partition(c, "long");
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	CU_ASSERT_EQUAL(p->max_time, 0);
	CU_ASSERT_FALSE(p->up);
	CU_ASSERT_FALSE(p->is_default);
	p = conf_find_partition(c, "off");
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	CU_ASSERT_FALSE(p->up);
	CU_ASSERT_EQUAL(p->nnodes, 0);
	CU_ASSERT_STRING_EQUAL(p->nodes_expr, "");
	p = conf_find_partition(c, "all");
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	CU_ASSERT_EQUAL(p->nnodes, 3);
	CU_ASSERT_STRING_EQUAL(p->nodes[2], "n3");
	CU_ASSERT_PTR_NULL(conf_find_partition(c, "DEFAULT"));
	CU_ASSERT_PTR_NULL(conf_find_partition(c, "nope"));

	CU_ASSERT_EQUAL(c->nregions, 3);
	r = conf_find_region(c, "asia");
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	CU_ASSERT_STRING_EQUAL(r->description, "Asia Pacific");
	CU_ASSERT_EQUAL(r->utc_offset_min, 330);
	CU_ASSERT_EQUAL(r->line, 9);
	CU_ASSERT_STRING_EQUAL(r->country, "IN"); /* stored upper case */
	r = conf_find_region(c, "west");
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	CU_ASSERT_EQUAL(r->utc_offset_min, -480);
	CU_ASSERT_STRING_EQUAL(r->description, "");
	CU_ASSERT_STRING_EQUAL(r->country, "US");
	CU_ASSERT_EQUAL(conf_find_region(c, "utc")->utc_offset_min, 0);
	CU_ASSERT_STRING_EQUAL(conf_find_region(c, "utc")->country, "");
	CU_ASSERT_PTR_NULL(conf_find_region(c, "mars"));
	conf_free(c);
}

/* QosName= and AccountName=: the limits, the users, the checks. */
static void test_qos_accounts(void)
{
	struct mer_error e;
	const struct conf_qos *q;
	const struct conf_account *a;
	struct conf *c = load_text(
		BASE "AccountName=physics Users=alice,bob QOS=normal,gpu "
		     "DefaultQOS=gpu GrpGPUs=8 GrpJobs=UNLIMITED MaxJobs=4\n"
		     "AccountName=everyone Users=ALL MaxSubmitJobs=100\n"
		     "QosName=normal\n"
		     "QosName=gpu Priority=10 MaxWall=2:00:00 MaxGPUsPerUser=4 "
		     "MaxJobsPerUser=2 MaxSubmitJobsPerUser=-1\n"
		     "PartitionName=p Nodes=ALL PriorityTier=3\n"
		     "NodeName=n1\n",
		&e);

	if (!c)
		fprintf(stderr, "\n  %s\n", e.text);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT_EQUAL(c->nqos, 2);
	CU_ASSERT_EQUAL(c->naccounts, 2);
	CU_ASSERT_TRUE(c->run_limits);
	q = conf_find_qos(c, "gpu");
	CU_ASSERT_PTR_NOT_NULL_FATAL(q);
	CU_ASSERT_EQUAL(q->priority, 10);
	CU_ASSERT_EQUAL(q->max_wall, 120);
	CU_ASSERT_EQUAL(q->max_gpus_pu, 4);
	CU_ASSERT_EQUAL(q->max_jobs_pu, 2);
	CU_ASSERT_EQUAL(q->max_submit_pu, 0);
	CU_ASSERT_EQUAL(conf_find_qos(c, "normal")->max_jobs_pu, 0);
	CU_ASSERT_PTR_NULL(conf_find_qos(c, "Normal"));
	a = conf_find_account(c, "physics");
	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	CU_ASSERT_EQUAL(a->grp_gpus, 8);
	CU_ASSERT_EQUAL(a->grp_jobs, 0);
	CU_ASSERT_EQUAL(a->max_jobs, 4);
	CU_ASSERT_STRING_EQUAL(a->default_qos, "gpu");
	CU_ASSERT_TRUE(conf_account_has_user(a, "bob"));
	CU_ASSERT_FALSE(conf_account_has_user(a, "carol"));
	CU_ASSERT_TRUE(conf_list_has(a->qos, "normal"));
	CU_ASSERT_FALSE(conf_list_has(a->qos, "norm"));
	/* a user's account: the line that names them, else Users=ALL */
	CU_ASSERT_PTR_EQUAL(conf_user_account(c, "bob"), a);
	CU_ASSERT_STRING_EQUAL(conf_user_account(c, "carol")->name, "everyone");
	CU_ASSERT_EQUAL(conf_find_partition(c, "p")->priority_tier, 3);
	conf_free(c);

	expect_error(BASE "QosName=a Bogus=1\n", 3,
		     "unknown QosName key 'Bogus', expected Priority, MaxWall, "
		     "MaxGPUsPerJob, MaxNodesPerJob, MaxSubmitJobsPerUser, "
		     "MaxJobsPerUser, MaxGPUsPerUser, MaxJobsPerAccount, "
		     "MaxGPUsPerAccount");
	expect_error(BASE "QosName=a\nQosName=a\n", 4,
		     "duplicate QosName 'a' (first at line 3), expected each "
		     "QOS once");
	expect_error(BASE "QosName=a MaxJobsPerUser=x\n", 3,
		     "MaxJobsPerUser=x: expected a whole number from 0 to "
		     "10000000");
	expect_error(BASE "AccountName=x QOS=nope\n", 3,
		     "account 'x': QOS= names 'nope', which no QosName line "
		     "defines");
	expect_error(BASE "QosName=a\nQosName=b\nAccountName=x QOS=a "
			  "DefaultQOS=b\n",
		     5,
		     "account 'x': DefaultQOS=b is not in its QOS=a, "
		     "expected one of them");
	expect_error(BASE "AccountName=x Users=a,,b\n", 3,
		     "Users=a,,b: expected names of letters, digits, '.', '_' "
		     "and '-' separated by commas");
	expect_error(BASE "GrpJobs=4\n", 3,
		     "GrpJobs= belongs in an AccountName line, expected "
		     "AccountName=NAME GrpJobs=...");
	expect_error(BASE "ClusterName=x QosName=a\n", 3,
		     "QosName= must start its line, expected it on a line of "
		     "its own");
}

static void test_continuation(void)
{
	struct mer_error e;
	struct conf *c = load_text(BASE "NodeName=n1 \\\n"
					"   CPUs=4 \\\n"
					"   # a comment line inside\n"
					"NodeName=n2 CPUs=3 # comment \\\n"
					"NodeName=n3\n",
				   &e);

	/* A '\' joins lines; a comment line ends the join (its '\' is
	 * part of the comment). */
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT_EQUAL(c->nnodes, 3);
	CU_ASSERT_EQUAL(conf_find_node(c, "n1")->cpus, 4);
	CU_ASSERT_EQUAL(conf_find_node(c, "n1")->line, 3);
	CU_ASSERT_EQUAL(conf_find_node(c, "n2")->cpus, 3);
	CU_ASSERT_EQUAL(conf_find_node(c, "n3")->line, 7);
	conf_free(c);

	/* An error in a joined line names the line it starts on. */
	expect_error(BASE "NodeName=n1 \\\n CPUs=4 \\\n Bogus=1\n", 3,
		     "unknown NodeName key 'Bogus', expected NodeAddr, Port, "
		     "CPUs, RealMemory, Gres, Features, Region, TopologyFile, "
		     "Weight, State");
}

static void test_errors_global(void)
{
	expect_error_plugins(BASE "Foo=1\n", 3,
			     "unknown key 'Foo', expected one of the keys in "
			     "meridian.conf(5)");
	expect_error_plugins("ClusterName=x Foo=1\n", 1,
			     "unknown key 'Foo', expected one of the keys in "
			     "meridian.conf(5)");
	expect_error(
		BASE "CPUs=4\n", 3,
		"CPUs= belongs in a NodeName line, expected NodeName=NAMES "
		"CPUs=...");
	expect_error(BASE "MaxTime=4\n", 3,
		     "MaxTime= belongs in a PartitionName line, expected "
		     "PartitionName=NAME MaxTime=...");
	expect_error(BASE "ClusterName\n", 3,
		     "'ClusterName' is not Key=Value, expected Key=Value pairs "
		     "separated by spaces");
	expect_error(
		BASE "=x\n", 3,
		"'=x' is not Key=Value, expected Key=Value pairs separated "
		"by spaces");
	expect_error(BASE "StateDir=\"/a b\n", 3,
		     "value of StateDir has no closing '\"', expected \"...\"");
	expect_error(BASE "ControllerPort=abc\n", 3,
		     "ControllerPort=abc: expected a whole number from 1 to "
		     "65535");
	expect_error(BASE "ControllerPort=70000\n", 3,
		     "ControllerPort=70000: expected a whole number from 1 to "
		     "65535");
	expect_error(BASE "HeartbeatInterval=0\n", 3,
		     "HeartbeatInterval=0: expected a whole number from 1 to "
		     "3600");
	expect_error(BASE "KillWait=-1\n", 3,
		     "KillWait=-1: expected a whole number from 0 to 65533");
	expect_error(BASE "MaxJobCount=0\n", 3,
		     "MaxJobCount=0: expected a whole number from 1 to "
		     "10000000");
	expect_error(BASE "HeartbeatInterval=60 NodeTimeout=60\n", 3,
		     "NodeTimeout=60 is not longer than HeartbeatInterval=60, "
		     "expected NodeTimeout > HeartbeatInterval (3 to 10 times "
		     "it)");
	expect_error(
		BASE "HeartbeatInterval=400\n", 3,
		"NodeTimeout=300 is not longer than HeartbeatInterval=400, "
		"expected NodeTimeout > HeartbeatInterval (3 to 10 times "
		"it)");
	expect_error(BASE "LogLevel=loud\n", 3,
		     "LogLevel=loud: expected error, warn, info or debug");
	expect_error(BASE "SchedulerType=fifo\n", 3,
		     "SchedulerType=fifo: expected sched/NAME such as "
		     "sched/fifo");
	expect_error(BASE "AuthType=sched/fifo\n", 3,
		     "AuthType=sched/fifo: expected auth/NAME such as "
		     "auth/munge");
	expect_error(BASE "StateDir=\n", 3,
		     "StateDir is empty, expected a value");
	expect_error(BASE "ClusterName=\"my cluster\"\n", 3,
		     "ClusterName=my cluster: expected a name of letters, "
		     "digits, '.', '_' and '-'");
	expect_error_plugins(BASE "GpuHourPrice=a100\n", 3,
			     "GpuHourPrice: 'a100' is not MODEL:DOLLARS, "
			     "expected MODEL:DOLLARS[,...] such as "
			     "a100:2.10,default:0.50");
	expect_error_plugins(BASE "GpuHourPrice=a100:2.10,h100:x\n", 3,
			     "GpuHourPrice=x: expected dollars with up to six "
			     "decimals, such as 2.50");
	expect_error_plugins(BASE "GpuHourPrice=a100:2.10,\n", 3,
			     "GpuHourPrice ends in ',', expected MODEL:DOLLARS "
			     "after each comma");
	expect_error(BASE "AdminUsers=alice,bo b\n", 3,
		     "'b' is not Key=Value, expected Key=Value pairs separated "
		     "by spaces");
	expect_error(BASE "AdminUsers=\"alice,bo b\"\n", 3,
		     "AdminUsers=alice,bo b: 'bo b' is not a user name, "
		     "expected user names separated by commas");
	expect_error(BASE "ClusterName=a NodeName=n1\n", 3,
		     "NodeName= must start its line, expected it on a line of "
		     "its own");
	expect_error(
		"ControllerHost=h\n", 0,
		"ClusterName is not set, expected a line ClusterName=NAME");
	expect_error("ClusterName=c\n", 0,
		     "ControllerHost is not set, expected a line "
		     "ControllerHost=HOST");
	expect_error(
		"", 0,
		"ClusterName is not set, expected a line ClusterName=NAME");
	expect_error(BASE "ClusterName=\"c#2\"x\n", 3,
		     "ClusterName=c#2x: expected a name of letters, digits, "
		     "'.', '_' and '-'");
	expect_error(BASE "# fine\nNodeName=n1 # CPUs=x\nNodeName=n2 CPUs=x\n",
		     5, "CPUs=x: expected a whole number from 1 to 4096");
}

static void test_errors_stanzas(void)
{
	expect_error(BASE "NodeName=n1 CPUs=abc\n", 3,
		     "CPUs=abc: expected a whole number from 1 to 4096");
	expect_error(BASE "NodeName=n1 CPUs=0\n", 3,
		     "CPUs=0: expected a whole number from 1 to 4096");
	expect_error(
		BASE "NodeName=n1 Foo=bar\n", 3,
		"unknown NodeName key 'Foo', expected NodeAddr, Port, CPUs, "
		"RealMemory, Gres, Features, Region, TopologyFile, Weight, "
		"State");
	expect_error(
		BASE "NodeName=gpu[3-1]\n", 3,
		"NodeName=gpu[3-1]: range goes down, expected LOW-HIGH with "
		"LOW <= HIGH");
	expect_error(BASE "NodeName=gpu[1-\n", 3,
		     "NodeName=gpu[1-: '[' is not closed, expected "
		     "NAME[LOW-HIGH,...]");
	expect_error(BASE "NodeName=gpu[a-b]\n", 3,
		     "NodeName=gpu[a-b]: expected NAME[LOW-HIGH,...] with "
		     "decimal numbers, such as gpu[01-16]");
	expect_error(BASE "NodeName=n[1-70000]\n", 3,
		     "NodeName=n[1-70000]: hostlist expands to more than "
		     "65536 names, expected a smaller range");
	expect_error(BASE "NodeName=\n", 3,
		     "NodeName is empty, expected a host list such as "
		     "gpu[01-16]");
	expect_error(BASE "NodeName=n[1-3] NodeAddr=a[1-2]\n", 3,
		     "NodeAddr= gives 2 addresses for 3 nodes, expected one "
		     "address for each node or one for all");
	expect_error(BASE "NodeName=n1 NodeAddr=a[2-1]\n", 3,
		     "NodeAddr=a[2-1]: range goes down, expected LOW-HIGH with "
		     "LOW <= HIGH");
	expect_error(
		BASE "NodeName=n1 RealMemory=lots\n", 3,
		"RealMemory=lots: expected a size in MiB or with a K, M, G "
		"or T suffix, such as 4096, 500M or 4G");
	expect_error(BASE "NodeName=n1 Gres=gpu:a100:x\n", 3,
		     "Gres=gpu:a100:x: bad GPU count, expected gpu[:TYPE]:N "
		     "with N from 0 to 65536");
	expect_error(BASE "NodeName=n1 Gres=mps:100\n", 3,
		     "Gres=mps:100: expected gpu[:TYPE]:N, such as gpu:2 or "
		     "gpu:a100:4");
	expect_error(BASE "NodeName=n1 State=BROKEN\n", 3,
		     "State=BROKEN: expected UNKNOWN, IDLE, DRAIN, DOWN or "
		     "FUTURE");
	expect_error(BASE "NodeName=n1 Port=0\n", 3,
		     "Port=0: expected a whole number from 1 to 65535");
	expect_error(BASE "NodeName=n1 Weight=x\n", 3,
		     "Weight=x: expected a whole number from 0 to 4000000000");
	expect_error(BASE "NodeName=DEFAULT CPUs=x\n", 3,
		     "CPUs=x: expected a whole number from 1 to 4096");
	/* Duplicates: the later line, naming the first. */
	expect_error(BASE "NodeName=n[1-3]\nNodeName=x\nNodeName=n2\n", 5,
		     "duplicate NodeName 'n2' (first at line 3), expected each "
		     "node once");
	expect_error(BASE "NodeName=n1,n1\n", 3,
		     "duplicate NodeName 'n1' (first at line 3), expected each "
		     "node once");
	/* Regions are checked at the end, at the node's line. */
	expect_error(BASE "NodeName=n1 Region=eu\nNodeName=n2 Region=us\n"
			  "RegionName=eu\n",
		     4,
		     "Region=us is not defined, expected a RegionName=us line");
	expect_error(BASE "NodeName=n1 Region=\"e u\"\n", 3,
		     "Region=e u: expected a name of letters, digits, '.', '_' "
		     "and '-'");
	expect_error(BASE "RegionName=eu UtcOffset=+25:00\n", 3,
		     "UtcOffset=+25:00: expected +HH:MM or -HH:MM from -12:00 "
		     "to +14:00, such as +05:30");
	expect_error(
		BASE "RegionName=eu UtcOffset=+05:3\n", 3,
		"UtcOffset=+05:3: expected +HH:MM or -HH:MM from -12:00 to "
		"+14:00, such as +05:30");
	expect_error(BASE "RegionName=eu Description=x Color=red\n", 3,
		     "unknown RegionName key 'Color', expected Description, "
		     "UtcOffset, Country");
	expect_error(BASE "RegionName=eu Country=Germany\n", 3,
		     "Country=Germany: expected a two-letter ISO 3166 code "
		     "such as DE");
	expect_error(BASE "RegionName=eu Country=D\n", 3,
		     "Country=D: expected a two-letter ISO 3166 code such as "
		     "DE");
	expect_error(BASE "RegionName=eu Country=D1\n", 3,
		     "Country=D1: expected a two-letter ISO 3166 code such as "
		     "DE");
	expect_error(BASE "RegionName=eu Country=\n", 3,
		     "Country=: expected a two-letter ISO 3166 code such as "
		     "DE");
	/* two bytes, but one letter that is not ASCII */
	expect_error(BASE "RegionName=eu Country=\xc3\xa9\n", 3,
		     "Country=\xc3\xa9: expected a two-letter ISO 3166 code "
		     "such as DE");
	/* a region key outside a RegionName line */
	expect_error(BASE "Country=DE\n", 3,
		     "Country= belongs in a RegionName line, expected "
		     "RegionName=NAME Country=...");
	expect_error(BASE "RegionName=eu\nRegionName=eu\n", 4,
		     "duplicate RegionName 'eu' (first at line 3), expected "
		     "each region once");
	expect_error(BASE "RegionName=DEFAULT\n", 3,
		     "RegionName=DEFAULT is not supported, expected a region "
		     "name such as eu-west");
	/* Partitions. */
	expect_error(BASE "NodeName=n[1-2]\nPartitionName=p Nodes=n[1-3]\n", 4,
		     "partition 'p' names node 'n3' that no NodeName line "
		     "defines, expected defined nodes or ALL");
	expect_error(
		BASE "PartitionName=p Nodes=n[\n", 3,
		"Nodes=n[: '[' is not closed, expected NAME[LOW-HIGH,...]");
	expect_error(BASE "PartitionName=a Default=YES\n\n"
			  "PartitionName=b Default=yes\n",
		     5,
		     "partition 'b' is Default=YES but 'a' (line 3) already "
		     "is, expected one default partition");
	expect_error(BASE "PartitionName=a Default=maybe\n", 3,
		     "Default=maybe: expected YES or NO");
	expect_error(BASE "PartitionName=a MaxTime=forever\n", 3,
		     "MaxTime=forever: expected a time as MINUTES, MM:SS, "
		     "HH:MM:SS, D-HH, D-HH:MM, D-HH:MM:SS or UNLIMITED");
	expect_error(BASE "PartitionName=a MaxTime=60 DefaultTime=2:00:00\n", 3,
		     "DefaultTime=02:00:00 is longer than MaxTime=01:00:00, "
		     "expected DefaultTime <= MaxTime");
	expect_error(BASE "PartitionName=a State=OPEN\n", 3,
		     "State=OPEN: expected UP, DOWN or INACTIVE");
	expect_error(BASE "PartitionName=a Gres=gpu:1\n", 3,
		     "unknown key 'Gres', expected Nodes, Default, MaxTime, "
		     "DefaultTime, State, PriorityJobFactor, MaxNodes, "
		     "AllowAccounts, Regions, PriorityTier");
	expect_error(BASE "PartitionName=a\nPartitionName=a\n", 4,
		     "duplicate PartitionName 'a' (first at line 3), expected "
		     "each partition once");
	expect_error(BASE "PartitionName=a,b\n", 3,
		     "PartitionName=a,b: expected a name of letters, digits, "
		     "'.', '_' and '-'");
}

static void test_nul_and_missing(void)
{
	struct mer_error e;
	struct conf *c;
	char dir[] = "/tmp/mconf.XXXXXX", path[64], want[160];
	FILE *f;

	c = conf_load("/nonexistent/meridian.conf", &e);
	CU_ASSERT_PTR_NULL(c);
	CU_ASSERT_STRING_EQUAL(e.text, "/nonexistent/meridian.conf: cannot "
				       "read: No such file or directory, "
				       "expected a readable meridian.conf");

	/* A NUL byte cannot be written through load_text's fputs. */
	CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/m.conf", dir);
	f = fopen(path, "w");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	fwrite(BASE "Log\0File=x\n", 1, sizeof(BASE "Log\0File=x\n") - 1, f);
	fclose(f);
	c = conf_load(path, &e);
	CU_ASSERT_PTR_NULL(c);
	snprintf(want, sizeof(want), "%s:3: NUL byte, expected a text file",
		 path);
	CU_ASSERT_STRING_EQUAL(e.text, want);
	unlink(path);
	rmdir(dir);
}

static void test_expand_node(void)
{
	char host[256], want[300], *s;

	s = conf_expand_node("/var/spool/meridian/%n", "gpu01");
	CU_ASSERT_STRING_EQUAL(s, "/var/spool/meridian/gpu01");
	free(s);
	s = conf_expand_node("%n-%n%%n%x%", "a");
	CU_ASSERT_STRING_EQUAL(s, "a-a%n%x%");
	free(s);
	s = conf_expand_node("", "a");
	CU_ASSERT_STRING_EQUAL(s, "");
	free(s);
	s = conf_expand_node("/x/%n", NULL);
	CU_ASSERT_STRING_EQUAL(s, "/x/");
	free(s);
	gethostname(host, sizeof(host));
	host[sizeof(host) - 1] = '\0';
	host[strcspn(host, ".")] = '\0';
	snprintf(want, sizeof(want), "/log/%s-n1.log", host);
	s = conf_expand_node("/log/%h-%n.log", "n1");
	CU_ASSERT_STRING_EQUAL(s, want);
	free(s);
}

static void test_default_path(void)
{
	char *saved = getenv("MERIDIAN_CONF") ? strdup(getenv("MERIDIAN_CONF"))
					      : NULL;

	setenv("MERIDIAN_CONF", "/tmp/x.conf", 1);
	CU_ASSERT_STRING_EQUAL(conf_default_path(), "/tmp/x.conf");
	setenv("MERIDIAN_CONF", "", 1);
	CU_ASSERT_STRING_EQUAL(conf_default_path(),
			       SYSCONFDIR "/meridian.conf");
	unsetenv("MERIDIAN_CONF");
	CU_ASSERT_STRING_EQUAL(conf_default_path(),
			       SYSCONFDIR "/meridian.conf");
	if (saved) {
		setenv("MERIDIAN_CONF", saved, 1);
		free(saved);
	}
}

static void test_is_admin(void)
{
	struct mer_error e;
	struct passwd *pw = getpwnam("nobody");
	struct conf *c;

	c = load_text(BASE, &e);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT_TRUE(conf_is_admin(c, 0));
	CU_ASSERT_FALSE(conf_is_admin(c, 4242424));
	if (pw)
		CU_ASSERT_FALSE(conf_is_admin(c, pw->pw_uid));
	conf_free(c);

	/* Names are kept as written and resolved at call time: an unknown
	 * name does not stop the load. */
	c = load_text(BASE "AdminUsers=no-such-user-xyz,nobody\n", &e);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT_STRING_EQUAL(c->admin_users[0], "no-such-user-xyz");
	CU_ASSERT_TRUE(conf_is_admin(c, 0));
	CU_ASSERT_FALSE(conf_is_admin(c, 4242424));
	if (pw)
		CU_ASSERT_TRUE(conf_is_admin(c, pw->pw_uid));
	conf_free(c);
	CU_ASSERT_TRUE(conf_is_admin(NULL, 0));
	CU_ASSERT_FALSE(conf_is_admin(NULL, 1));
}

static int check_even(const char *v, struct mer_error *err)
{
	if (strlen(v) % 2 == 0)
		return 0;
	snprintf(err->text, sizeof(err->text),
		 "Even=%s: expected an even number of characters", v);
	return -1;
}

/* Keys the core does not know: kept with their line by conf_parse, then
 * owned, checked or refused by conf_check_keys. */
static void test_plugin_keys(void)
{
	static const struct mer_plugin_key table[] = {
		{"Even", "AB", check_even},
		{"Free", "anything", NULL},
		{NULL, NULL, NULL},
	};
	const struct mer_plugin_key *tables[2] = {NULL, table};
	const char *text = BASE "free=x\nEven=abc\nEven=ab Other=1\n";
	struct mer_error e = {""};
	struct conf *c;

	c = conf_parse("p.conf", text, strlen(text), &e);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT_STRING_EQUAL(conf_get(c, "FREE"), "x");
	CU_ASSERT_STRING_EQUAL(conf_get(c, "even"), "ab"); /* the last */
	CU_ASSERT_STRING_EQUAL(conf_get(c, "Other"), "1");
	/* Other is nobody's: refused where it first appears */
	CU_ASSERT_EQUAL(conf_check_keys(c, tables, 2, &e), -1);
	CU_ASSERT_STRING_EQUAL(e.text,
			       "p.conf:5: unknown key 'Other', expected one of "
			       "the keys in meridian.conf(5)");
	/* values only: the value in force of Even is good */
	CU_ASSERT_EQUAL(conf_check_key_values(c, tables, 2, &e), 0);
	conf_free(c);

	text = BASE "Even=abc\n";
	c = conf_parse("p.conf", text, strlen(text), &e);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT_EQUAL(conf_check_key_values(c, tables, 2, &e), -1);
	CU_ASSERT_STRING_EQUAL(e.text, "p.conf:3: Even=abc: expected an even "
				       "number of characters");
	CU_ASSERT_EQUAL(conf_check_keys(c, NULL, 0, &e), -1);
	CU_ASSERT_STRING_EQUAL(e.text,
			       "p.conf:3: unknown key 'Even', expected one of "
			       "the keys in meridian.conf(5)");
	conf_free(c);

	/* conf_load: a plugin that cannot be opened here may own the key
	 * (mctld, which loads it, decides): let through. */
	c = load_text(BASE "PluginDir=/nonexistent\nFrobnicate=1\n", &e);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT_STRING_EQUAL(conf_get(c, "Frobnicate"), "1");
	conf_free(c);
	/* with the plugins there, price/flat's key loads, a typo does not */
	{
		char *buf =
			xasprintf(BASE "PluginDir=%s\nGpuHourPrice=a100:1\n",
				  plugin_dir());

		c = load_text(buf, &e);
		if (!c)
			fprintf(stderr, "\n  %s\n", e.text);
		CU_ASSERT_PTR_NOT_NULL(c);
		conf_free(c);
		free(buf);
	}
	expect_error_plugins(BASE "GpuHourPrise=a100:1\n", 3,
			     "unknown key 'GpuHourPrise', expected one of the "
			     "keys in meridian.conf(5)");
}

/* MaxNodes=, AllowAccounts=, Regions= (issue 10, point 3). */
static void test_partition_limits(void)
{
	struct mer_error e;
	struct conf *c = load_text(
		BASE "RegionName=eu\nRegionName=us\n"
		     "NodeName=e[1-2] Region=eu\nNodeName=u1 Region=us\n"
		     "NodeName=x1\n"
		     "PartitionName=all Nodes=ALL Default=YES MaxNodes=2 "
		     "AllowAccounts=phys,bio\n"
		     "PartitionName=eu Regions=eu\n"
		     "PartitionName=mixed Nodes=e1,u1,x1 Regions=us,eu "
		     "MaxNodes=UNLIMITED\n",
		&e);
	const struct conf_partition *p;

	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	p = conf_find_partition(c, "all");
	CU_ASSERT_EQUAL(p->max_nodes, 2);
	CU_ASSERT_STRING_EQUAL(p->allow_accounts, "phys,bio");
	CU_ASSERT_EQUAL(p->nnodes, 4);
	p = conf_find_partition(c, "eu");
	CU_ASSERT_EQUAL_FATAL(p->nnodes, 2);
	CU_ASSERT_STRING_EQUAL(p->nodes[0], "e1");
	CU_ASSERT_STRING_EQUAL(p->nodes[1], "e2");
	CU_ASSERT_PTR_NULL(p->allow_accounts);
	p = conf_find_partition(c, "mixed");
	CU_ASSERT_EQUAL(p->max_nodes, 0);
	CU_ASSERT_EQUAL_FATAL(p->nnodes, 2); /* x1 has no region */
	CU_ASSERT_STRING_EQUAL(p->nodes[0], "e1");
	CU_ASSERT_STRING_EQUAL(p->nodes[1], "u1");
	conf_free(c);
	expect_error(BASE "NodeName=n1\nPartitionName=p Regions=mars\n", 4,
		     "partition 'p': Regions= names 'mars', which no "
		     "RegionName line defines");
	expect_error(BASE "NodeName=n1\nPartitionName=p MaxNodes=0\n", 4,
		     "MaxNodes=0: expected a whole number from 1 to 65536");
}

static CU_TestInfo tests[] = {
	{"example file loads", test_example},
	{"defaults", test_defaults},
	{"bandwidth tiers", test_tiers},
	{"partition limits", test_partition_limits},
	{"global keys", test_globals},
	{"TmpFS", test_tmp_fs},
	{"nodes", test_nodes},
	{"many nodes", test_many_nodes},
	{"partitions and regions", test_partitions_regions},
	{"QOS and accounts", test_qos_accounts},
	{"continuation lines", test_continuation},
	{"errors in global keys", test_errors_global},
	{"errors in stanzas", test_errors_stanzas},
	{"NUL byte and missing file", test_nul_and_missing},
	{"conf_expand_node", test_expand_node},
	{"conf_default_path", test_default_path},
	{"conf_is_admin", test_is_admin},
	{"keys plugins own", test_plugin_keys},
	CU_TEST_INFO_NULL,
};

CUNIT_MAIN("conf", tests)
