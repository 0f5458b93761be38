/*
 * mnodes - nodes and partitions, like sinfo: by default one line per
 * partition and state with the nodes compressed into a host list, -N one
 * line per node, -R the reasons nodes are down or drained.  Meridian adds
 * GPUs, region and price (dollars per GPU-hour) to sinfo's columns, and
 * --links the link matrix mctld measures (LINK_INFO), as tables or JSON.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "cmd_json.h"
#include "hostlist.h"
#include "parse.h"

#define MNODES_FORMAT_DEFAULT "%#P %.5a %.10l %.6D %.6t %#G %#y %N"
#define MNODES_FORMAT_LONG                                                     \
	"%#P %.5a %.10l %.6D %.10T %.13C %.8m %#G %#y %.8q %N"
#define MNODES_FORMAT_NODE "%#N %.6D %#P %6t %.4c %.8m %#G %#y %.8q"
#define MNODES_FORMAT_NODE_LONG                                                \
	"%#N %.6D %#P %.10T %.4c %.8m %#G %.9x %#y %.8q %#E"
#define MNODES_FORMAT_REASON "%#E %9U %19H %N"

/* One output line: a set of nodes that print alike, in one partition. */
struct group {
	const Meridian__PartitionInfo *part; /* NULL: none / not shown */
	const Meridian__NodeInfo **nodes;
	size_t n;
	char *key;
};

struct mnodes_opts {
	const char *format;
	bool noheader;
	bool node_oriented; /* -N */
	bool reasons;	    /* -R */
	bool long_format;   /* -l */
	char **partitions;  /* -p */
	size_t npartitions;
	char **names; /* -n, expanded */
	size_t nnames;
	char **states; /* -t */
	size_t nstates;
	bool links;	  /* --links: the link matrix instead */
	bool regions;	  /* --links=regions / --regions */
	bool json;	  /* --json */
	char *link_nodes; /* --links NODELIST, -n: compressed; NULL all */
};

#define GROUP(row) ((const struct group *)(row))
#define NODE(row)  (GROUP(row)->nodes[0])
/* A partition without nodes prints "n/a" in the columns of a node. */
#define NEED_NODE(row, out)                                                    \
	do {                                                                   \
		if (!GROUP(row)->n) {                                          \
			strbuf_add(out, "n/a", 3);                             \
			return;                                                \
		}                                                              \
	} while (0)

/* A state (cmd_node_state()) as sinfo prints it: the compact code of
 * states.h or the name in lower case; a trailing '*' (not responding) or
 * '~' is kept, a state states.h does not know is printed in lower case. */
static void format_node_state(const char *state, bool compact,
			      struct strbuf *out)
{
	size_t len = strlen(state), i;
	const char *suffix = "";
	char name[32];
	Meridian__NodeState st;

	if (len && (state[len - 1] == '*' || state[len - 1] == '~')) {
		suffix = state + len - 1;
		len--;
	}
	if (!len) {
		cmd_add_str(out, "unk");
		return;
	}
	if (len < sizeof(name)) {
		memcpy(name, state, len);
		name[len] = 0;
		if (mer_node_state_parse(name, &st) == 0) {
			state = compact ? mer_node_state_code(st)
					: mer_node_state_name(st);
			len = strlen(state);
		}
	}
	for (i = 0; i < len; i++)
		strbuf_addc(out, (char)tolower((unsigned char)state[i]));
	cmd_add_str(out, suffix);
}

static bool state_matches(const char *state, const char *want)
{
	struct strbuf a = {0}, b = {0};
	bool m;

	format_node_state(state, true, &a);
	format_node_state(state, false, &b);
	m = str_eq_nocase(want, state) || str_eq_nocase(want, a.s) ||
	    str_eq_nocase(want, b.s);
	/* "drain" asks for draining and drained nodes alike, as in sinfo */
	if (!m && str_eq_nocase(want, "drain"))
		m = str_eq_nocase(b.s, "draining");
	strbuf_free(&a);
	strbuf_free(&b);
	return m;
}

static uint32_t node_gpus(const Meridian__NodeInfo *n)
{
	char *type = NULL;
	uint32_t count = 0;
	struct mer_error err;

	if (n->n_gpus)
		return (uint32_t)n->n_gpus;
	if (n->gres && *n->gres &&
	    parse_gres_gpu(n->gres, "Gres", &type, &count, &err) == 0) {
		free(type);
		return count;
	}
	return 0;
}

static void col_partition(const void *row, const void *ctx, struct strbuf *out)
{
	const Meridian__PartitionInfo *p = GROUP(row)->part;

	if (!p) {
		cmd_add_str(out, "n/a");
		return;
	}
	cmd_add_str(out, p->name);
	if (p->is_default)
		strbuf_addc(out, '*');
}

static void col_partition_plain(const void *row, const void *ctx,
				struct strbuf *out)
{
	const Meridian__PartitionInfo *p = GROUP(row)->part;

	cmd_add_str(out, p ? p->name : "n/a");
}

static void col_avail(const void *row, const void *ctx, struct strbuf *out)
{
	const Meridian__PartitionInfo *p = GROUP(row)->part;

	cmd_add_str(out, !p ? "n/a" : p->up ? "up" : "down");
}

static void col_timelimit(const void *row, const void *ctx, struct strbuf *out)
{
	const Meridian__PartitionInfo *p = GROUP(row)->part;
	char buf[32];

	if (!p) {
		cmd_add_str(out, "n/a");
		return;
	}
	cmd_format_limit(p->max_time, true, buf, sizeof(buf));
	cmd_add_str(out, buf);
}

static void col_count(const void *row, const void *ctx, struct strbuf *out)
{
	strbuf_addf(out, "%zu", GROUP(row)->n);
}

static void col_state(const void *row, const void *ctx, struct strbuf *out)
{
	NEED_NODE(row, out);
	format_node_state(cmd_node_state(NODE(row)), true, out);
}

static void col_state_long(const void *row, const void *ctx, struct strbuf *out)
{
	NEED_NODE(row, out);
	format_node_state(cmd_node_state(NODE(row)), false, out);
}

static void col_nodelist(const void *row, const void *ctx, struct strbuf *out)
{
	const struct group *g = GROUP(row);
	char **names = xcalloc(g->n ? g->n : 1, sizeof(*names));
	char *list;
	size_t i;

	for (i = 0; i < g->n; i++)
		names[i] = g->nodes[i]->name;
	list = hostlist_compress(names, g->n);
	cmd_add_str(out, list);
	free(list);
	free(names);
}

static void col_cpus(const void *row, const void *ctx, struct strbuf *out)
{
	NEED_NODE(row, out);
	strbuf_addf(out, "%" PRIu32, NODE(row)->cpus);
}

/* sinfo's CPUS(A/I/O/T): other counts CPUs of nodes that cannot run jobs. */
static void col_cpus_aiot(const void *row, const void *ctx, struct strbuf *out)
{
	const struct group *g = GROUP(row);
	uint64_t a = 0, i_ = 0, o = 0, t = 0;
	size_t i;

	for (i = 0; i < g->n; i++) {
		const Meridian__NodeInfo *n = g->nodes[i];
		struct strbuf st = {0};
		bool usable;

		format_node_state(cmd_node_state(n), false, &st);
		usable =
			!(strncmp(st.s, "down", 4) == 0 ||
			  strncmp(st.s, "drain", 5) == 0 ||
			  strncmp(st.s, "fail", 4) == 0 ||
			  strncmp(st.s, "future", 6) == 0 || strchr(st.s, '*'));
		strbuf_free(&st);
		t += n->cpus;
		if (!usable) {
			o += n->cpus;
			continue;
		}
		a += n->cpus_alloc;
		i_ += n->cpus > n->cpus_alloc ? n->cpus - n->cpus_alloc : 0;
	}
	strbuf_addf(out, "%" PRIu64 "/%" PRIu64 "/%" PRIu64 "/%" PRIu64, a, i_,
		    o, t);
}

static void col_memory(const void *row, const void *ctx, struct strbuf *out)
{
	NEED_NODE(row, out);
	strbuf_addf(out, "%" PRIu64, NODE(row)->real_memory);
}

static void col_gres(const void *row, const void *ctx, struct strbuf *out)
{
	NEED_NODE(row, out);
	cmd_add_str(out, cmd_str_or(NODE(row)->gres, "(null)"));
}

static void col_gpus(const void *row, const void *ctx, struct strbuf *out)
{
	NEED_NODE(row, out);
	strbuf_addf(out, "%" PRIu32 "/%" PRIu32, NODE(row)->gpus_alloc,
		    node_gpus(NODE(row)));
}

static void col_region(const void *row, const void *ctx, struct strbuf *out)
{
	NEED_NODE(row, out);
	cmd_add_str(out, cmd_str_or(NODE(row)->region, "(null)"));
}

static void col_price(const void *row, const void *ctx, struct strbuf *out)
{
	char buf[48];

	NEED_NODE(row, out);
	if (!node_gpus(NODE(row)) && !NODE(row)->gpu_hour_price) {
		cmd_add_str(out, "N/A");
		return;
	}
	cmd_format_price(NODE(row)->gpu_hour_price, false, buf, sizeof(buf));
	cmd_add_str(out, buf);
}

static void col_features(const void *row, const void *ctx, struct strbuf *out)
{
	NEED_NODE(row, out);
	cmd_add_str(out, cmd_str_or(NODE(row)->features, "(null)"));
}

static void col_reason(const void *row, const void *ctx, struct strbuf *out)
{
	NEED_NODE(row, out);
	cmd_add_str(out, cmd_str_or(NODE(row)->reason, "none"));
}

static void col_reason_user(const void *row, const void *ctx,
			    struct strbuf *out)
{
	NEED_NODE(row, out);
	cmd_add_str(out, cmd_str_or(NODE(row)->reason_user, "Unknown"));
}

static void col_reason_time(const void *row, const void *ctx,
			    struct strbuf *out)
{
	char buf[64];

	NEED_NODE(row, out);
	if (!NODE(row)->reason_time) {
		cmd_add_str(out, "Unknown");
		return;
	}
	format_timestamp(NODE(row)->reason_time, buf, sizeof(buf));
	cmd_add_str(out, buf);
}

static void col_addr(const void *row, const void *ctx, struct strbuf *out)
{
	NEED_NODE(row, out);
	cmd_add_str(out, cmd_str_or(NODE(row)->addr, NODE(row)->name));
}

static void col_version(const void *row, const void *ctx, struct strbuf *out)
{
	NEED_NODE(row, out);
	cmd_add_str(out, cmd_str_or(NODE(row)->version, "N/A"));
}

static const struct cmd_column mnodes_columns[] = {
	{'P', "PARTITION", col_partition},
	{'R', "PARTITION", col_partition_plain},
	{'a', "AVAIL", col_avail},
	{'l', "TIMELIMIT", col_timelimit},
	{'D', "NODES", col_count},
	{'t', "STATE", col_state},
	{'T', "STATE", col_state_long},
	{'N', "NODELIST", col_nodelist},
	{'c', "CPUS", col_cpus},
	{'C', "CPUS(A/I/O/T)", col_cpus_aiot},
	{'m', "MEMORY", col_memory},
	{'G', "GRES", col_gres},
	{'x', "GPUS(A/T)", col_gpus},
	{'y', "REGION", col_region},
	{'q', "PRICE", col_price},
	{'f', "AVAIL_FEATURES", col_features},
	{'E', "REASON", col_reason},
	{'U', "USER", col_reason_user},
	{'H', "TIMESTAMP", col_reason_time},
	{'o', "NODE_ADDR", col_addr},
	{'v', "VERSION", col_version},
	{0, NULL, NULL},
};

/* Columns whose text a group sums or lists instead of sharing. */
#define MNODES_GROUP_COLUMNS "NDC"

/* --- --links: the link matrix (LINK_INFO) ---------------------------- */

/*
 * The text of the link tables.  Shown to people: the units are chosen for
 * them (ms, Mbit/s or Gbit/s, an age in s/m/h/d); --json gives the raw
 * numbers for scripts.
 */

/* Bits per second as "812 Mbit/s", "1.6 Gbit/s"; "-" for 0 (unknown). */
static void links_format_bps(double bps, char *buf, size_t n)
{
	cmd_format_rate(bps, " ", "-", buf, n);
}

/* One-way latency in seconds as "0.52ms", "12.3ms", "140ms"; "-" when
 * there is none. */
static void links_format_latency(double s, char *buf, size_t n)
{
	double ms = s * 1000;

	if (!(s > 0) || s > 1e6)
		snprintf(buf, n, "-");
	else if (ms >= 99.95)
		snprintf(buf, n, "%.0fms", ms);
	else if (ms >= 9.995)
		snprintf(buf, n, "%.1fms", ms);
	else if (ms >= 0.0095)
		snprintf(buf, n, "%.2fms", ms);
	else
		snprintf(buf, n, "%.3fms", ms);
}

/* How long ago `when` was: "45s", "3m", "5h", "2d"; "-" for 0 (never). */
static void links_format_age(int64_t when, int64_t now, char *buf, size_t n)
{
	int64_t d = now - when;

	if (!when) {
		snprintf(buf, n, "-");
		return;
	}
	if (d < 0)
		d = 0; /* the controller's clock is ahead of ours */
	if (d < 60)
		snprintf(buf, n, "%" PRId64 "s", d);
	else if (d < 3600)
		snprintf(buf, n, "%" PRId64 "m", d / 60);
	else if (d < 86400)
		snprintf(buf, n, "%" PRId64 "h", d / 3600);
	else
		snprintf(buf, n, "%" PRId64 "d", d / 86400);
}

#define LINK_NODE(row) ((const Meridian__NodeLinkInfo *)(row))
#define LINK(row)      ((const Meridian__LinkInfo *)(row))
#define LINKS_NOW(ctx) (*(const int64_t *)(ctx))

static void col_ln_node(const void *row, const void *ctx, struct strbuf *out)
{
	cmd_add_str(out, LINK_NODE(row)->node);
}

static void col_ln_region(const void *row, const void *ctx, struct strbuf *out)
{
	cmd_add_str(out, cmd_str_or(LINK_NODE(row)->region, "-"));
}

static void col_ln_tier(const void *row, const void *ctx, struct strbuf *out)
{
	cmd_add_str(out, cmd_str_or(LINK_NODE(row)->tier, "-"));
}

static void col_ln_up(const void *row, const void *ctx, struct strbuf *out)
{
	char buf[32];

	links_format_bps((double)LINK_NODE(row)->up_bps, buf, sizeof(buf));
	cmd_add_str(out, buf);
}

static void col_ln_down(const void *row, const void *ctx, struct strbuf *out)
{
	char buf[32];

	links_format_bps((double)LINK_NODE(row)->down_bps, buf, sizeof(buf));
	cmd_add_str(out, buf);
}

static void col_ln_probe(const void *row, const void *ctx, struct strbuf *out)
{
	char buf[32];

	if (!LINK_NODE(row)->last_probe) {
		cmd_add_str(out, "never");
		return;
	}
	links_format_age(LINK_NODE(row)->last_probe, LINKS_NOW(ctx), buf,
			 sizeof(buf));
	strbuf_addf(out, "%s ago", buf);
}

/* Why the rates are what they are: measured to the controller (nothing
 * said), the best of the node's links, or a node that must dial out. */
static void col_ln_note(const void *row, const void *ctx, struct strbuf *out)
{
	const Meridian__NodeLinkInfo *n = LINK_NODE(row);
	bool derived = !n->rates_measured && (n->up_bps || n->down_bps);

	if (derived)
		cmd_add_str(out, "rates from its links");
	if (n->unreachable)
		strbuf_addf(out, "%sunreachable: dials out",
			    derived ? ", " : "");
}

static const struct cmd_column link_node_columns[] = {
	{'n', "NODE", col_ln_node}, {'r', "REGION", col_ln_region},
	{'t', "TIER", col_ln_tier}, {'u', "UP", col_ln_up},
	{'d', "DOWN", col_ln_down}, {'p', "LAST_PROBE", col_ln_probe},
	{'x', "NOTE", col_ln_note}, {0, NULL, NULL},
};
#define LINKS_NODE_FORMAT "%#n  %#r  %#t  %.#u  %.#d  %#p  %x"

static void col_link_from(const void *row, const void *ctx, struct strbuf *out)
{
	cmd_add_str(out, LINK(row)->from);
}

static void col_link_to(const void *row, const void *ctx, struct strbuf *out)
{
	cmd_add_str(out, LINK(row)->to);
}

static void col_link_latency(const void *row, const void *ctx,
			     struct strbuf *out)
{
	char buf[32];

	links_format_latency(LINK(row)->latency_s, buf, sizeof(buf));
	cmd_add_str(out, buf);
}

/* LinkInfo's rate is in bytes per second; people read links in bits. */
static void col_link_bw(const void *row, const void *ctx, struct strbuf *out)
{
	char buf[32];

	links_format_bps(LINK(row)->bytes_per_s * 8, buf, sizeof(buf));
	cmd_add_str(out, buf);
}

static void col_link_source(const void *row, const void *ctx,
			    struct strbuf *out)
{
	cmd_add_str(out, LINK(row)->measured ? "measured" : "estimated");
}

static void col_link_age(const void *row, const void *ctx, struct strbuf *out)
{
	char buf[32];

	links_format_age(LINK(row)->when, LINKS_NOW(ctx), buf, sizeof(buf));
	cmd_add_str(out, buf);
}

static const struct cmd_column link_columns[] = {
	{'f', "FROM", col_link_from},
	{'t', "TO", col_link_to},
	{'l', "LATENCY", col_link_latency},
	{'b', "BANDWIDTH", col_link_bw},
	{'s', "SOURCE", col_link_source},
	{'a', "AGE", col_link_age},
	{0, NULL, NULL},
};
#define LINKS_FORMAT "%#f  %#t  %.#l  %.#b  %#s  %.#a"

static void links_print_table(const char *format, const struct cmd_column *cols,
			      void *const *rows, size_t n, const int64_t *now,
			      bool header)
{
	struct mer_error err = {{0}};
	struct cmd_fmt *f = cmd_fmt_parse(format, cols, &err);
	size_t i;

	/* the formats are ours: a failure is a bug here, not the user's */
	if (!f) {
		fprintf(stderr, "mnodes: BUG: %s\n", err.text);
		abort();
	}
	for (i = 0; i < n; i++)
		cmd_fmt_add(f, rows[i], now);
	cmd_fmt_print(f, header, stdout);
	cmd_fmt_free(f);
}

static json_t *json_finite(double v)
{
	return v == v && v < 1e300 && v > -1e300 ? json_real(v) : json_null();
}

/* Bytes per second as whole bits per second, 0 when unknown. */
static json_int_t json_bits(double bytes_per_s)
{
	double bits = bytes_per_s * 8;

	return bits > 0 && bits < 9e18 ? (json_int_t)(bits + 0.5) : 0;
}

/* The --json document; its layout is in mnodes(1) and versioned by
 * meridian_version. */
static json_t *links_json(const Meridian__LinkInfoReply *r, bool regions,
			  int64_t now)
{
	json_t *root = json_object(), *nodes = json_array(),
	       *links = json_array();
	size_t i;

	json_object_set_new(root, "meridian_version", json_integer(1));
	json_object_set_new(root, "now", json_integer((json_int_t)now));
	json_object_set_new(root, "mode",
			    json_string(regions ? "regions" : "nodes"));
	for (i = 0; i < r->n_nodes; i++) {
		const Meridian__NodeLinkInfo *n = r->nodes[i];
		json_t *o = json_object();

		json_object_set_new(o, "name", json_string(n->node));
		json_object_set_new(o, "region", json_str_or_null(n->region));
		json_object_set_new(o, "tier", json_str_or_null(n->tier));
		json_object_set_new(o, "up_bps",
				    json_integer((json_int_t)n->up_bps));
		json_object_set_new(o, "down_bps",
				    json_integer((json_int_t)n->down_bps));
		json_object_set_new(o, "rates_measured",
				    json_boolean(n->rates_measured));
		json_object_set_new(o, "last_probe",
				    json_time_or_null(n->last_probe));
		json_object_set_new(o, "unreachable",
				    json_boolean(n->unreachable));
		json_array_append_new(nodes, o);
	}
	for (i = 0; i < r->n_links; i++) {
		const Meridian__LinkInfo *l = r->links[i];
		json_t *o = json_object();

		json_object_set_new(o, "from", json_string(l->from));
		json_object_set_new(o, "to", json_string(l->to));
		json_object_set_new(o, "latency_s",
				    l->latency_s > 0 ? json_finite(l->latency_s)
						     : json_null());
		json_object_set_new(o, "bandwidth_bps",
				    json_integer(json_bits(l->bytes_per_s)));
		json_object_set_new(o, "measured", json_boolean(l->measured));
		json_object_set_new(o, "measured_at",
				    json_time_or_null(l->when));
		json_array_append_new(links, o);
	}
	json_object_set_new(root, "nodes", nodes);
	json_object_set_new(root, "links", links);
	return root;
}

/* mnodes --links: what mctld's LINK_INFO says of o->link_nodes ("" all). */
static int run_links(struct cmd *c, const struct mnodes_opts *o)
{
	Meridian__LinkInfoRequest req = MERIDIAN__LINK_INFO_REQUEST__INIT;
	Meridian__LinkInfoReply *reply = NULL;
	struct mer_error err = {{0}};
	int64_t now;
	int rc;

	req.nodes = o->link_nodes ? o->link_nodes : (char *)"";
	req.regions = o->regions;
	rc = cmd_connect(c);
	if (!rc)
		rc = cmd_call(c, MERIDIAN__MSG_TYPE__MSG_LINK_INFO, &req.base,
			      (ProtobufCMessage **)&reply, &err);
	if (rc == MER_EXIT_ERROR) {
		int e = errno;

		/* what to do instead, where mctld's text does not say it */
		cmd_error(c, "cannot show links: %s%s", err.text,
			  e == E2BIG ? " (mnodes --links HOSTLIST, or mnodes "
				       "--links=regions)"
			  : strstr(err.text, "does not serve")
				  ? " (that mctld is older than this mnodes: "
				    "upgrade it for the link matrix)"
				  : "");
	}
	if (rc)
		goto out;
	now = reply->now ? reply->now : mer_now();

	if (o->json) {
		json_t *doc = links_json(reply, o->regions, now);

		/* a failed write shows in ferror below */
		(void)json_dumpf(doc, stdout,
				 JSON_INDENT(2) | JSON_REAL_PRECISION(9));
		putchar('\n');
		json_decref(doc);
	} else {
		/* Region to region stays short: the nodes only when named. */
		if (!o->regions || o->link_nodes) {
			links_print_table(LINKS_NODE_FORMAT, link_node_columns,
					  (void *const *)reply->nodes,
					  reply->n_nodes, &now, !o->noheader);
			putchar('\n');
		}
		links_print_table(LINKS_FORMAT, link_columns,
				  (void *const *)reply->links, reply->n_links,
				  &now, !o->noheader);
	}
	if (fflush(stdout) != 0 || ferror(stdout)) {
		cmd_error(c, "writing the links: %s", strerror(errno));
		rc = MER_EXIT_ERROR;
	}
out:
	if (reply)
		protobuf_c_message_free_unpacked(&reply->base, NULL);
	return rc;
}

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: mnodes [OPTIONS]\n"
		"       mnodes --links[=regions] [--json] [-h] [NODELIST...]\n"
		"Nodes and partitions, like sinfo: state, CPUs, GPUs, region "
		"and price;\n"
		"with --links the measured links between nodes.\n"
		"\n"
		"  -N, --Node                  one line per node (and "
		"partition)\n"
		"  -R, --list-reasons          why nodes are down or drained\n"
		"  -l, --long                  more columns\n"
		"  -p, --partition=PART[,...]  only these partitions\n"
		"  -n, --nodes=HOSTLIST        only these nodes (n[1-4],gpu1)\n"
		"  -t, --states=STATE[,...]    only nodes in these states "
		"(idle,mix,alloc,\n"
		"                              down,drain,...)\n"
		"  -o, --format=FORMAT         columns, sinfo style (below)\n"
		"  -h, --noheader              no header line\n"
		"      --links[=regions]       the link matrix (below) instead "
		"of the nodes\n"
		"      --regions               the same as --links=regions\n"
		"      --json                  the nodes and partitions (or "
		"the "
		"links) as\n"
		"                              one JSON document (mnodes(1) "
		"describes it)\n"
		"  -f, --config=FILE           meridian.conf to read (default "
		"$MERIDIAN_CONF,\n"
		"                              else %s/meridian.conf)\n"
		"      --help, --usage         this text\n"
		"  -V, --version               print the version\n"
		"\n"
		"FORMAT fields are %%[.][WIDTH|#]LETTER ('.' right justifies, "
		"'#' fits):\n"
		"  %%P partition (* default) %%R partition   %%a avail     %%l "
		"time limit\n"
		"  %%D node count  %%t state   %%T long state   %%N node list\n"
		"  %%c CPUs   %%C CPUS(A/I/O/T)   %%m memory (MiB)   %%G gres\n"
		"  %%x GPUS(A/T)   %%y region   %%q price ($/GPU-hour)   %%f "
		"features\n"
		"  %%E reason   %%U reason's user   %%H reason's time   %%o "
		"address\n"
		"  %%v version\n"
		"Lines are grouped like sinfo's: nodes whose columns other "
		"than %%N %%D %%C\n"
		"print alike share a line.  Default: \"%s\"\n"
		"\n"
		"--links [NODELIST]: each node's NODE REGION TIER UP DOWN "
		"LAST_PROBE NOTE,\n"
		"then a row per link from those nodes (NODELIST or -n, "
		"default all) to\n"
		"every other node: FROM TO LATENCY (one way) BANDWIDTH "
		"SOURCE (measured or\n"
		"estimated) AGE (of the measurement).  --links=regions: a "
		"row per pair of\n"
		"regions (medians of the measured links), the nodes only "
		"when named.\n"
		"\n"
		"Exit status: 0 ok, 1 refused or failed, 2 bad usage, 3 "
		"controller unreachable.\n",
		SYSCONFDIR, MNODES_FORMAT_DEFAULT);
}

static bool node_in_partition(const Meridian__NodeInfo *n, const char *part)
{
	size_t i;

	for (i = 0; i < n->n_partitions; i++)
		if (strcmp(n->partitions[i], part) == 0)
			return true;
	return false;
}

static bool node_wanted(const struct mnodes_opts *o,
			const Meridian__NodeInfo *n)
{
	size_t i;

	if (o->nnames && !cmd_list_has(o->names, o->nnames, n->name))
		return false;
	if (o->npartitions) {
		for (i = 0; i < o->npartitions; i++)
			if (node_in_partition(n, o->partitions[i]))
				break;
		if (i == o->npartitions)
			return false;
	}
	if (o->nstates) {
		for (i = 0; i < o->nstates; i++)
			if (state_matches(cmd_node_state(n), o->states[i]))
				break;
		if (i == o->nstates)
			return false;
	}
	if (o->reasons && (!n->reason || !*n->reason))
		return false;
	return true;
}

struct groups {
	struct group *g;
	size_t n;
};

/* Put node n (in partition p) on the line it prints alike with, or a new
 * one.  Node-oriented output never shares lines. */
static void group_add(struct groups *gs, const struct cmd_fmt *fmt,
		      const Meridian__PartitionInfo *p,
		      const Meridian__NodeInfo *n, bool share)
{
	const Meridian__NodeInfo *one[1] = {n};
	struct group probe = {p, one, 1, NULL};
	struct group *g;
	char *key = NULL;
	size_t i;

	if (share) {
		key = cmd_fmt_key(fmt, &probe, NULL, MNODES_GROUP_COLUMNS);
		for (i = 0; i < gs->n; i++)
			if (gs->g[i].part == p &&
			    strcmp(gs->g[i].key, key) == 0) {
				g = &gs->g[i];
				g->nodes = xrealloc(g->nodes,
						    (g->n + 1) *
							    sizeof(*g->nodes));
				g->nodes[g->n++] = n;
				free(key);
				return;
			}
	}
	gs->g = xrealloc(gs->g, (gs->n + 1) * sizeof(*gs->g));
	g = &gs->g[gs->n++];
	g->part = p;
	g->nodes = xmalloc(sizeof(*g->nodes));
	g->nodes[0] = n;
	g->n = 1;
	g->key = key ? key : xstrdup("");
}

static void build_groups(const struct mnodes_opts *o,
			 const Meridian__NodeInfoReply *r,
			 const struct cmd_fmt *fmt, struct groups *gs)
{
	size_t i, k;

	if (o->reasons) {
		/* Reasons belong to nodes, not partitions. */
		for (i = 0; i < r->n_nodes; i++)
			if (node_wanted(o, r->nodes[i]))
				group_add(gs, fmt, NULL, r->nodes[i], true);
		return;
	}
	if (o->node_oriented) {
		for (i = 0; i < r->n_nodes; i++) {
			const Meridian__NodeInfo *n = r->nodes[i];
			bool any = false;

			if (!node_wanted(o, n))
				continue;
			for (k = 0; k < r->n_partitions; k++) {
				const Meridian__PartitionInfo *p =
					r->partitions[k];

				if (!node_in_partition(n, p->name) ||
				    (o->npartitions &&
				     !cmd_list_has(o->partitions,
						   o->npartitions, p->name)))
					continue;
				group_add(gs, fmt, p, n, false);
				any = true;
			}
			if (!any && !o->npartitions)
				group_add(gs, fmt, NULL, n, false);
		}
		return;
	}
	for (k = 0; k < r->n_partitions; k++) {
		const Meridian__PartitionInfo *p = r->partitions[k];
		bool any = false;

		if (o->npartitions &&
		    !cmd_list_has(o->partitions, o->npartitions, p->name))
			continue;
		for (i = 0; i < r->n_nodes; i++)
			if (node_in_partition(r->nodes[i], p->name) &&
			    node_wanted(o, r->nodes[i])) {
				group_add(gs, fmt, p, r->nodes[i], true);
				any = true;
			}
		/* sinfo shows an empty partition as one line of 0 nodes */
		if (!any && !o->nnames && !o->nstates) {
			gs->g = xrealloc(gs->g, (gs->n + 1) * sizeof(*gs->g));
			gs->g[gs->n].part = p;
			gs->g[gs->n].nodes = NULL;
			gs->g[gs->n].n = 0;
			gs->g[gs->n].key = xstrdup("");
			gs->n++;
		}
	}
}

/* --json without --links: {"meridian_version": 1, "now": T, "nodes":
 * [...], "partitions": [...]}, the nodes -n/-p/-t keep as mctl show node
 * --json shows them, the partitions -p keeps (layout in mnodes(1)). */
static int print_json(const struct mnodes_opts *o,
		      const Meridian__NodeInfoReply *r)
{
	json_t *doc = json_object(), *nodes = json_array(),
	       *parts = json_array();
	int rc;

	for (size_t i = 0; i < r->n_nodes; i++)
		if (node_wanted(o, r->nodes[i]))
			json_array_append_new(nodes,
					      cmd_node_json(r->nodes[i]));
	for (size_t i = 0; i < r->n_partitions; i++) {
		const Meridian__PartitionInfo *p = r->partitions[i];
		json_t *po;

		if (o->npartitions &&
		    !cmd_list_has(o->partitions, o->npartitions, p->name))
			continue;
		po = json_object();
		json_object_set_new(po, "name", json_string(p->name));
		json_object_set_new(po, "nodes", json_str_or_null(p->nodes));
		json_object_set_new(po, "default", json_boolean(p->is_default));
		json_object_set_new(po, "state",
				    json_string(p->up ? "UP" : "DOWN"));
		json_object_set_new(po, "max_time",
				    p->max_time ? json_integer(p->max_time)
						: json_null());
		json_array_append_new(parts, po);
	}
	json_object_set_new(doc, "meridian_version", json_integer(1));
	json_object_set_new(doc, "now", json_integer((json_int_t)r->now));
	json_object_set_new(doc, "nodes", nodes);
	json_object_set_new(doc, "partitions", parts);
	rc = cmd_json_print(doc, stdout);
	json_decref(doc);
	return rc;
}

static int run(struct cmd *c, struct mnodes_opts *o)
{
	Meridian__NodeInfoRequest req = MERIDIAN__NODE_INFO_REQUEST__INIT;
	Meridian__NodeInfoReply *reply = NULL;
	struct mer_error err = {{0}};
	struct cmd_fmt *fmt;
	struct groups gs = {NULL, 0};
	size_t i;
	int rc;

	fmt = cmd_fmt_parse(o->format, mnodes_columns, &err);
	if (!fmt)
		return cmd_usage_error(c, "%s", err.text);

	rc = cmd_connect(c);
	if (rc)
		goto out;
	rc = cmd_node_info(c, &req, &reply, &err);
	if (rc == MER_EXIT_ERROR)
		cmd_error(c, "cannot list nodes: %s", err.text);
	if (rc)
		goto out;

	if (o->json) {
		if (print_json(o, reply) < 0) {
			cmd_error(c, "writing the list: %s", strerror(errno));
			rc = MER_EXIT_ERROR;
		}
		goto out;
	}
	build_groups(o, reply, fmt, &gs);
	for (i = 0; i < gs.n; i++)
		cmd_fmt_add(fmt, &gs.g[i], NULL);
	cmd_fmt_print(fmt, !o->noheader, stdout);
	if (fflush(stdout) != 0) {
		cmd_error(c, "writing the list: %s", strerror(errno));
		rc = MER_EXIT_ERROR;
	}
out:
	for (i = 0; i < gs.n; i++) {
		free(gs.g[i].nodes);
		free(gs.g[i].key);
	}
	free(gs.g);
	if (reply)
		protobuf_c_message_free_unpacked(&reply->base, NULL);
	cmd_fmt_free(fmt);
	return rc;
}

/* Long options without a letter: past any char getopt returns. */
enum { OPT_LINKS = 256, OPT_REGIONS, OPT_JSON };

/* What --links may not be combined with: the other views' options. */
static const char *links_conflict(const struct mnodes_opts *o,
				  const char *format)
{
	if (o->node_oriented)
		return "-N";
	if (o->reasons)
		return "-R";
	if (o->long_format)
		return "-l";
	if (format)
		return "-o";
	if (o->npartitions)
		return "-p";
	if (o->nstates)
		return "-t";
	return NULL;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"Node", no_argument, NULL, 'N'},
		{"format", required_argument, NULL, 'o'},
		{"list-reasons", no_argument, NULL, 'R'},
		{"long", no_argument, NULL, 'l'},
		{"nodes", required_argument, NULL, 'n'},
		{"noheader", no_argument, NULL, 'h'},
		{"partition", required_argument, NULL, 'p'},
		{"states", required_argument, NULL, 't'},
		{"state", required_argument, NULL, 't'},
		{"links", optional_argument, NULL, OPT_LINKS},
		{"regions", no_argument, NULL, OPT_REGIONS},
		{"json", no_argument, NULL, OPT_JSON},
		CMD_LONGOPT_CONFIG,
		CMD_LONGOPT_HELP,
		CMD_LONGOPT_USAGE,
		CMD_LONGOPT_VERSION,
		{NULL, 0, NULL, 0},
	};
	struct mnodes_opts o = {0};
	struct mer_error err = {{0}};
	struct cmd c;
	const char *format = NULL;
	int ch, rc;

	cmd_init(&c, "mnodes");
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":f:hlNn:o:p:Rt:V", longopts,
				 NULL)) != -1) {
		switch (ch) {
		case 'f':
			c.conf_path = optarg;
			break;
		case 'h':
			o.noheader = true;
			break;
		case 'l':
			o.long_format = true;
			break;
		case 'N':
			o.node_oriented = true;
			break;
		case 'n': {
			char **names = NULL;
			size_t n = 0, i;

			if (hostlist_expand(optarg, &names, &n, &err))
				return cmd_usage_error(&c, "--nodes=%s: %s",
						       optarg, err.text);
			for (i = 0; i < n; i++) {
				o.names = xrealloc(o.names,
						   (o.nnames + 1) *
							   sizeof(*o.names));
				o.names[o.nnames++] = xstrdup(names[i]);
			}
			hostlist_free(names, n);
			break;
		}
		case 'o':
			format = optarg;
			break;
		case 'p':
			cmd_list_split(optarg, &o.partitions, &o.npartitions);
			break;
		case 'R':
			o.reasons = true;
			break;
		case 't':
			cmd_list_split(optarg, &o.states, &o.nstates);
			break;
		case OPT_LINKS:
			o.links = true;
			if (!optarg || strcmp(optarg, "nodes") == 0)
				break;
			if (strcmp(optarg, "regions") != 0)
				return cmd_usage_error(
					&c,
					"--links=%s: expected --links (node "
					"to node) or --links=regions (region "
					"to region)",
					optarg);
			o.regions = true;
			break;
		case OPT_REGIONS:
			o.links = o.regions = true;
			break;
		case OPT_JSON:
			o.json = true;
			break;
		case 'H':
		case 'U':
			usage(stdout);
			return MER_EXIT_OK;
		case 'V':
			return cmd_print_version(&c);
		default:
			return cmd_getopt_error(&c, ch, argv);
		}
	}
	if (o.links) {
		const char *bad = links_conflict(&o, format);

		if (bad)
			return cmd_usage_error(&c,
					       "--links cannot be combined "
					       "with %s (it has its own "
					       "columns; --json for scripts)",
					       bad);
		/* the rows' nodes: -n and NODELIST words, as one host list */
		for (; optind < argc; optind++) {
			char **names = NULL;
			size_t n = 0, i;

			if (hostlist_expand(argv[optind], &names, &n, &err))
				return cmd_usage_error(
					&c,
					"%s: %s (expected a host list "
					"such as n[1-3],gpu7)",
					argv[optind], err.text);
			for (i = 0; i < n; i++) {
				o.names = xrealloc(o.names,
						   (o.nnames + 1) *
							   sizeof(*o.names));
				o.names[o.nnames++] = xstrdup(names[i]);
			}
			hostlist_free(names, n);
		}
		if (o.nnames)
			o.link_nodes = hostlist_compress(o.names, o.nnames);
	} else if (o.json && (format || o.long_format || o.reasons)) {
		return cmd_usage_error(&c, "--json prints every field: -o, -l "
					   "and -R do not go with it");
	}
	if (optind < argc)
		return cmd_usage_error(&c, "unexpected argument \"%s\"",
				       argv[optind]);
	if (format)
		o.format = format;
	else if (o.reasons)
		o.format = MNODES_FORMAT_REASON;
	else if (o.node_oriented)
		o.format = o.long_format ? MNODES_FORMAT_NODE_LONG
					 : MNODES_FORMAT_NODE;
	else
		o.format = o.long_format ? MNODES_FORMAT_LONG
					 : MNODES_FORMAT_DEFAULT;

	rc = o.links ? run_links(&c, &o) : run(&c, &o);
	cmd_fini(&c);
	free(o.link_nodes);
	cmd_list_free(o.partitions, o.npartitions);
	cmd_list_free(o.names, o.nnames);
	cmd_list_free(o.states, o.nstates);
	return rc;
}
