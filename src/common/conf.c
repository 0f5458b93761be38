/*
 * conf.c - read and check meridian.conf.
 *
 * The file is read in three passes over one buffer:
 *   lines   physical lines are cut at '#' (outside quotes) and joined where
 *           one ends in '\'; a logical line keeps the number of its first
 *           physical line for errors;
 *   tokens  a logical line splits on whitespace into Key=Value tokens, a
 *           value may be "double quoted";
 *   keys    the first key says what the line is: NodeName=, PartitionName=
 *           and RegionName= start a stanza, anything else is a line of
 *           global keys.  Each kind of line has its own table of keys.
 * Checks that need the whole file (regions used by nodes, partition nodes,
 * duplicate nodes, required keys) run once everything is read.
 *
 * A global key the table below does not know may be a plugin's (price/flat
 * owns GpuHourPrice): it is kept with its line ("foreign") instead of
 * refused.  conf_load then asks the plugins the file names (opened only to
 * read their key tables, see plugin.h) and refuses a key none of them owns;
 * mctld asks again, with the plugins it really loaded (conf_check_keys).
 *
 * Every error is "PATH:LINE: what is wrong, expected what is right"; the
 * first one found stops the load.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <meridian/plugin_price.h>
#include <meridian/plugin_sched.h>
#include <meridian/plugin_select.h>

#include "conf.h"
#include "hostlist.h"
#include "plugin_loader.h"
#include "parse.h"
#include "util.h"

#ifndef SYSCONFDIR
#define SYSCONFDIR "/etc"
#endif
#ifndef PLUGINDIR
#define PLUGINDIR "/usr/local/lib/meridian"
#endif
#ifndef SBINDIR
#define SBINDIR "/usr/local/sbin"
#endif

#define ECHO_MAX 40

/* A global key as written, for conf_get (plugins read their keys so). */
struct conf_kv {
	const char *key; /* the name in the table (static), or own */
	char *own;	 /* a foreign key's name as first written */
	char *value;
	int line;	/* of the value in force (the last one) */
	int first_line; /* where the key first appears */
};

/*
 * What conf_load really allocates: the public struct first, so a
 * struct conf * is a struct conf_priv * (conf_free casts back).
 */
struct conf_priv {
	struct conf pub;
	struct conf_kv *kv;
	size_t nkv;
	struct conf_node **by_name; /* nodes sorted by name, for lookups */
};

/* The state of one load. */
struct loader {
	struct conf_priv *cp;
	const char *path;
	int line;
	struct mer_error *err;
	size_t nodes_cap, parts_cap, regions_cap;
	struct conf_node node_def;	/* NodeName=DEFAULT */
	struct conf_partition part_def; /* PartitionName=DEFAULT */
	const struct conf_partition *default_part;
};

struct token {
	char *key;
	char *value;
};

/* ------------------------------------------------------------------ */
/* errors */

static int lerr_at(struct loader *l, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int lerr_at(struct loader *l, int line, const char *fmt, ...)
{
	char msg[sizeof(l->err->text)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (line > 0)
		mer_error_set(l->err, "%s:%d: %s", l->path, line, msg);
	else
		mer_error_set(l->err, "%s: %s", l->path, msg);
	errno = EINVAL;
	return -1;
}

#define lerr(l, ...) lerr_at((l), (l)->line, __VA_ARGS__)

/* Put PATH:LINE in front of a message a parse_* function wrote. */
static int lerr_parse(struct loader *l, const struct mer_error *e)
{
	return lerr(l, "%s", e->text);
}

/* ------------------------------------------------------------------ */
/* small helpers */

static void set_str(char **field, const char *value)
{
	free(*field);
	*field = xstrdup(value);
}

static char *lower_dup(const char *s)
{
	char *t = xstrdup(s);

	for (char *p = t; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	return t;
}

/* A name for a cluster, partition, region or user: no spaces, no commas,
 * nothing a shell or a hostlist would read specially. */
static bool is_plain_name(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && !strchr("._-", *s))
			return false;
	return true;
}

static int check_name(struct loader *l, const char *key, const char *v)
{
	if (!is_plain_name(v))
		return lerr(l,
			    "%s=%.*s: expected a name of letters, digits, "
			    "'.', '_' and '-'",
			    key, ECHO_MAX, v);
	return 0;
}

/* ------------------------------------------------------------------ */
/* global keys */

enum gkind {
	G_STR,	    /* any text, may be empty */
	G_NONEMPTY, /* any text, not empty */
	G_NAME,	    /* is_plain_name */
	G_PLUGIN,   /* "KIND/NAME" with the kind fixed by the key */
	G_LOGLEVEL, /* error|warn|info|debug */
	G_USERS,    /* user,user */
	G_U32,	    /* parse_u32 in [min, max] */
	G_PORT,	    /* uint16_t in [min, max] */
	G_TIERS,    /* NAME:MBITS,... increasing (parse_tiers) */
	G_TIME,	    /* parse_time_minutes: uint32_t minutes, UNLIMITED 0 */
	G_PRIOTYPE, /* priority/basic | priority/multifactor: a bool */
};

/* Kept in a number field, not a string. */
static bool gkind_is_number(enum gkind k)
{
	return k == G_U32 || k == G_PORT || k == G_TIME || k == G_PRIOTYPE;
}

struct gkey {
	const char *name;
	enum gkind kind;
	size_t off;	 /* of the field in struct conf */
	const char *def; /* string default; NULL: required (or none) */
	uint32_t def_num, min, max;
	const char *prefix; /* G_PLUGIN: "sched/" */
};

#define STR(k, f, kind, d)                                                     \
	{                                                                      \
		k, kind, offsetof(struct conf, f), d, 0, 0, 0, NULL            \
	}
#define NUM(k, f, kind, d, lo, hi)                                             \
	{                                                                      \
		k, kind, offsetof(struct conf, f), NULL, d, lo, hi, NULL       \
	}
#define PLUG(k, f, d, pfx)                                                     \
	{                                                                      \
		k, G_PLUGIN, offsetof(struct conf, f), d, 0, 0, 0, pfx         \
	}

static const struct gkey gkeys[] = {
	STR("ClusterName", cluster_name, G_NAME, NULL),
	STR("ControllerHost", controller_host, G_NONEMPTY, NULL),
	NUM("ControllerPort", controller_port, G_PORT, 6917, 1, 65535),
	STR("StateDir", state_dir, G_NONEMPTY, "/var/lib/meridian"),
	STR("SpoolDir", spool_dir, G_NONEMPTY, "/var/spool/meridian/%n"),
	STR("TmpFS", tmp_fs, G_NONEMPTY, "/tmp"),
	STR("LogFile", log_file, G_STR, ""),
	STR("NodeLogFile", node_log_file, G_STR, ""),
	STR("LogLevel", log_level, G_LOGLEVEL, "info"),
	PLUG("AuthType", auth_type, "auth/munge", "auth/"),
	STR("AuthSocket", auth_socket, G_STR, ""),
	PLUG("SchedulerType", scheduler_type, "sched/fifo", "sched/"),
	PLUG("SelectType", select_type, "select/linear", "select/"),
	PLUG("PriceType", price_type, "price/flat", "price/"),
	STR("PluginDir", plugin_dir, G_NONEMPTY, PLUGINDIR),
	STR("MstepdPath", mstepd_path, G_NONEMPTY, SBINDIR "/mstepd"),
	STR("AdminUsers", admin_users, G_USERS, NULL),
	NUM("HeartbeatInterval", heartbeat_interval, G_U32, 30, 1, 3600),
	NUM("NodeTimeout", node_timeout, G_U32, 300, 2, 86400),
	NUM("NodeLostTimeout", node_lost_timeout, G_U32, 300, 0, 31536000),
	NUM("JobRequeue", job_requeue, G_U32, 1, 0, 1),
	STR("MailProg", mail_prog, G_STR, "/usr/bin/mail"),
	NUM("KillWait", kill_wait, G_U32, 30, 0, 65533),
	NUM("FinalizeTimeout", finalize_timeout, G_U32, 30, 1, 86400),
	NUM("MinJobAge", min_job_age, G_U32, 300, 0, 31536000),
	NUM("MaxJobCount", max_job_count, G_U32, 100000, 1, 10000000),
	NUM("JobHistoryDays", job_history_days, G_U32, 30, 0, 36500),
	NUM("JobHistoryMax", job_history_max, G_U32, 1000000, 0, 100000000),
	NUM("MaxArraySize", max_array_size, G_U32, 10001, 1, 4000001),
	NUM("FrameTimeout", frame_timeout, G_U32, 30, 1, 3600),
	NUM("MaxConnections", max_connections, G_U32, 0, 0, 1048576),
	NUM("MaxUserConnections", max_user_connections, G_U32, 128, 1, 65536),
	STR("BandwidthTiers", bandwidth_tiers, G_TIERS,
	    "low:100,medium:400,high:800,ultra:1600"),
	NUM("ProbeInterval", probe_interval, G_U32, 3600, 0, 31536000),
	NUM("ProbeMaxMbps", probe_max_mbps, G_U32, 1000, 0, 10000000),
	NUM("ProbePeers", probe_peers, G_U32, 16, 1, 1024),
	NUM("ProbeDuration", probe_duration, G_U32, 2000, 100, 60000),
	NUM("ProbeStreams", probe_streams, G_U32, 4, 1, 16),
	NUM("ProbeMaxMB", probe_max_mb, G_U32, 1024, 1, 4096),
	NUM("ProbePort", probe_port, G_U32, 0, 0, 65535),
	NUM("PriorityType", priority_multifactor, G_PRIOTYPE, 0, 0, 1),
	NUM("PriorityWeightAge", prio_weight_age, G_U32, 1000, 0, 1000000000),
	NUM("PriorityWeightFairshare", prio_weight_fairshare, G_U32, 10000, 0,
	    1000000000),
	NUM("PriorityWeightJobSize", prio_weight_jobsize, G_U32, 0, 0,
	    1000000000),
	NUM("PriorityWeightPartition", prio_weight_partition, G_U32, 1000, 0,
	    1000000000),
	NUM("PriorityWeightQOS", prio_weight_qos, G_U32, 0, 0, 1000000000),
	NUM("PriorityMaxAge", prio_max_age, G_TIME, 10080, 0, 0),
	NUM("PriorityDecayHalfLife", prio_decay_half_life, G_TIME, 10080, 0, 0),
	NUM("FairShareGpuWeight", fairshare_gpu_weight, G_U32, 16, 0, 100000),
};

#undef STR
#undef NUM
#undef PLUG

#define NGKEYS (sizeof(gkeys) / sizeof(gkeys[0]))

static const struct gkey *gkey_find(const char *name)
{
	for (size_t i = 0; i < NGKEYS; i++)
		if (strcasecmp(gkeys[i].name, name) == 0)
			return &gkeys[i];
	return NULL;
}

static void *field(struct conf *c, const struct gkey *k)
{
	return (char *)c + k->off;
}

/*
 * BandwidthTiers=NAME:MBITS,...: at most CONF_MAX_TIERS tiers, each a
 * plain name (unique) and its minimum down rate in Mbit/s, the rates
 * strictly increasing.  0 and c's tiers, or -1 with what is wrong in err.
 */
static int parse_tiers(const char *v, struct conf *c, char *err, size_t n)
{
	const char *p = v;
	size_t nt = 0;

	while (*p) {
		const char *colon = strchr(p, ':'), *end = strchr(p, ',');
		struct conf_tier *t = &c->tiers[nt];
		struct mer_error e;
		char num[16];
		uint32_t mbps;
		size_t len;

		if (!end)
			end = p + strlen(p);
		if (nt == CONF_MAX_TIERS) {
			snprintf(err, n, "more than %d tiers", CONF_MAX_TIERS);
			return -1;
		}
		if (!colon || colon > end) {
			snprintf(err, n, "'%.*s' has no ':MBITS'",
				 (int)(end - p) > 24 ? 24 : (int)(end - p), p);
			return -1;
		}
		len = (size_t)(colon - p);
		if (len == 0 || len > CONF_TIER_NAME_MAX) {
			snprintf(err, n, "a tier name of 1 to %d characters",
				 CONF_TIER_NAME_MAX);
			return -1;
		}
		memcpy(t->name, p, len);
		t->name[len] = '\0';
		if (!is_plain_name(t->name)) {
			snprintf(err, n, "tier name '%s' is not a plain name",
				 t->name);
			return -1;
		}
		for (size_t i = 0; i < nt; i++)
			if (strcasecmp(c->tiers[i].name, t->name) == 0) {
				snprintf(err, n, "tier %s is named twice",
					 t->name);
				return -1;
			}
		len = (size_t)(end - colon - 1);
		if (len == 0 || len >= sizeof(num)) {
			snprintf(err, n,
				 "tier %s: its Mbit/s is missing or "
				 "too long",
				 t->name);
			return -1;
		}
		memcpy(num, colon + 1, len);
		num[len] = '\0';
		if (parse_u32(num, "Mbit/s", 0, 100000000, &mbps, &e) < 0) {
			snprintf(err, n, "tier %s: %.100s", t->name, e.text);
			return -1;
		}
		if (nt > 0 && mbps <= c->tiers[nt - 1].min_mbps) {
			snprintf(err, n,
				 "tier %s at %u Mbit/s is not above %s at "
				 "%u",
				 t->name, mbps, c->tiers[nt - 1].name,
				 c->tiers[nt - 1].min_mbps);
			return -1;
		}
		t->min_mbps = mbps;
		nt++;
		p = *end ? end + 1 : end;
		if (*end && !*p) {
			snprintf(err, n, "a ',' with no tier after it");
			return -1;
		}
	}
	if (nt == 0) {
		snprintf(err, n, "no tier");
		return -1;
	}
	c->ntiers = nt;
	return 0;
}

/* Is the n bytes at word one of the comma list's elements (in any case
 * when nocase)? */
static bool list_has(const char *list, const char *word, size_t n, bool nocase)
{
	for (const char *p = list;; p++) {
		size_t len = strcspn(p, ",");

		if (len == n && (nocase ? strncasecmp(p, word, n)
					: strncmp(p, word, n)) == 0)
			return true;
		p += len;
		if (!*p)
			return false;
	}
}

bool conf_region_allowed(const struct conf_region *r, const char *regions,
			 const char *countries)
{
	return (!*regions ||
		list_has(regions, r->name, strlen(r->name), false)) &&
	       (!*countries ||
		(*r->country && list_has(countries, r->country, 2, true)));
}

const char *conf_tier_of(const struct conf *c, double mbps)
{
	const char *name = NULL;

	for (size_t i = 0; i < c->ntiers; i++)
		if (mbps >= (double)c->tiers[i].min_mbps)
			name = c->tiers[i].name;
	return name;
}

static void set_defaults(struct conf *c)
{
	for (size_t i = 0; i < NGKEYS; i++) {
		const struct gkey *k = &gkeys[i];
		switch (k->kind) {
		case G_U32:
		case G_TIME:
			*(uint32_t *)field(c, k) = k->def_num;
			break;
		case G_PRIOTYPE:
			*(bool *)field(c, k) = k->def_num != 0;
			break;
		case G_PORT:
			*(uint16_t *)field(c, k) = (uint16_t)k->def_num;
			break;
		case G_USERS:
			break;
		default:
			if (k->def)
				*(char **)field(c, k) = xstrdup(k->def);
			if (k->kind == G_TIERS) {
				char err[160];

				/* the default is well formed */
				if (parse_tiers(k->def, c, err, sizeof(err)))
					abort();
			}
			break;
		}
	}
}

static int set_users(struct loader *l, struct conf *c, const char *key,
		     const char *v)
{
	const char *p = v;

	for (size_t i = 0; i < c->nadmin_users; i++)
		free(c->admin_users[i]);
	free(c->admin_users);
	c->admin_users = NULL;
	c->nadmin_users = 0;
	while (*p) {
		size_t len = strcspn(p, ",");
		char *name = xstrndup(p, len);

		if (len > 0 && !is_plain_name(name)) {
			lerr(l,
			     "%s=%.*s: '%.32s' is not a user name, expected "
			     "user names separated by commas",
			     key, ECHO_MAX, v, name);
			free(name);
			return -1;
		}
		if (len > 0) {
			c->admin_users = xrealloc(c->admin_users,
						  (c->nadmin_users + 1) *
							  sizeof(char *));
			c->admin_users[c->nadmin_users++] = name;
		} else {
			free(name);
		}
		p += len;
		if (*p == ',')
			p++;
	}
	return 0;
}

/* key is the table's name, or (foreign) the name as written. */
static void kv_set(struct conf_priv *cp, const char *key, bool foreign,
		   const char *value, int line)
{
	struct conf_kv *kv;

	for (size_t i = 0; i < cp->nkv; i++) {
		if (strcasecmp(cp->kv[i].key, key) == 0) {
			set_str(&cp->kv[i].value, value);
			cp->kv[i].line = line;
			return;
		}
	}
	cp->kv = xrealloc(cp->kv, (cp->nkv + 1) * sizeof(*cp->kv));
	kv = &cp->kv[cp->nkv++];
	kv->own = foreign ? xstrdup(key) : NULL;
	kv->key = foreign ? kv->own : key;
	kv->value = xstrdup(value);
	kv->line = kv->first_line = line;
}

static const struct conf_kv *kv_find(const struct conf_priv *cp,
				     const char *key)
{
	for (size_t i = 0; i < cp->nkv; i++)
		if (strcasecmp(cp->kv[i].key, key) == 0)
			return &cp->kv[i];
	return NULL;
}

static const char *const node_key_names =
	"NodeAddr, Port, CPUs, RealMemory, Gres, Features, Region, "
	"TopologyFile, Weight, State";
static const char *const part_key_names =
	"Nodes, Default, MaxTime, DefaultTime, State, PriorityJobFactor, "
	"MaxNodes, AllowAccounts, Regions, PriorityTier";
static const char *const region_key_names = "Description, UtcOffset, Country";
static const char *const qos_key_names =
	"Priority, MaxWall, MaxGPUsPerJob, MaxNodesPerJob, "
	"MaxSubmitJobsPerUser, MaxJobsPerUser, MaxGPUsPerUser, "
	"MaxJobsPerAccount, MaxGPUsPerAccount";
static const char *const account_key_names =
	"Users, QOS, DefaultQOS, GrpJobs, GrpGPUs, MaxJobs, MaxSubmitJobs";

static bool is_stanza_key(const char *stanza_keys, const char *key)
{
	size_t len = strlen(key);
	const char *p = stanza_keys;

	while (*p) {
		size_t n = strcspn(p, ",");
		if (n == len && strncasecmp(p, key, len) == 0)
			return true;
		p += n;
		p += strspn(p, ", ");
	}
	return false;
}

static int set_global(struct loader *l, const struct token *t)
{
	struct conf *c = &l->cp->pub;
	const struct gkey *k = gkey_find(t->key);
	struct mer_error e;
	const char *v = t->value;
	uint32_t n;

	if (!k) {
		if (is_stanza_key(node_key_names, t->key))
			return lerr(l,
				    "%s= belongs in a NodeName line, expected "
				    "NodeName=NAMES %s=...",
				    t->key, t->key);
		if (is_stanza_key(part_key_names, t->key))
			return lerr(l,
				    "%s= belongs in a PartitionName line, "
				    "expected PartitionName=NAME %s=...",
				    t->key, t->key);
		if (is_stanza_key(region_key_names, t->key))
			return lerr(l,
				    "%s= belongs in a RegionName line, "
				    "expected RegionName=NAME %s=...",
				    t->key, t->key);
		if (is_stanza_key(qos_key_names, t->key))
			return lerr(l,
				    "%s= belongs in a QosName line, "
				    "expected QosName=NAME %s=...",
				    t->key, t->key);
		if (is_stanza_key(account_key_names, t->key))
			return lerr(l,
				    "%s= belongs in an AccountName line, "
				    "expected AccountName=NAME %s=...",
				    t->key, t->key);
		/* Perhaps a plugin's: kept, and checked once every plugin
		 * that could own it is known (conf_check_keys). */
		kv_set(l->cp, t->key, true, v, l->line);
		return 0;
	}
	switch (k->kind) {
	case G_STR:
		break;
	case G_NONEMPTY:
		if (!*v)
			return lerr(l, "%s is empty, expected a value",
				    k->name);
		break;
	case G_NAME:
		if (check_name(l, k->name, v) < 0)
			return -1;
		break;
	case G_PLUGIN:
		if (strncasecmp(v, k->prefix, strlen(k->prefix)) != 0 ||
		    !is_plain_name(v + strlen(k->prefix)))
			return lerr(l, "%s=%.*s: expected %sNAME such as %s",
				    k->name, ECHO_MAX, v, k->prefix, k->def);
		break;
	case G_LOGLEVEL:
		if (strcasecmp(v, "error") && strcasecmp(v, "warn") &&
		    strcasecmp(v, "info") && strcasecmp(v, "debug"))
			return lerr(l,
				    "%s=%.*s: expected error, warn, info or "
				    "debug",
				    k->name, ECHO_MAX, v);
		break;
	case G_USERS:
		if (set_users(l, c, k->name, v) < 0)
			return -1;
		break;
	case G_U32:
		if (parse_u32(v, k->name, k->min, k->max, &n, &e) < 0)
			return lerr_parse(l, &e);
		*(uint32_t *)field(c, k) = n;
		break;
	case G_PORT:
		if (parse_u32(v, k->name, k->min, k->max, &n, &e) < 0)
			return lerr_parse(l, &e);
		*(uint16_t *)field(c, k) = (uint16_t)n;
		break;
	case G_TIME:
		if (parse_time_minutes(v, k->name, &n, &e) < 0)
			return lerr_parse(l, &e);
		*(uint32_t *)field(c, k) = n;
		break;
	case G_PRIOTYPE:
		if (strcasecmp(v, "priority/basic") == 0)
			*(bool *)field(c, k) = false;
		else if (strcasecmp(v, "priority/multifactor") == 0)
			*(bool *)field(c, k) = true;
		else
			return lerr(l,
				    "%s=%.*s: expected priority/basic (first "
				    "come, first served) or "
				    "priority/multifactor",
				    k->name, ECHO_MAX, v);
		break;
	case G_TIERS: {
		char why[160];

		if (parse_tiers(v, c, why, sizeof(why)) < 0)
			return lerr(l,
				    "%s=: %s; expected NAME:MBITS,... rising",
				    k->name, why);
		break;
	}
	}
	if (k->kind == G_LOGLEVEL || k->kind == G_PLUGIN) {
		/* Plugin and level names are lower case wherever they are
		 * compared, so keep them so. */
		free(*(char **)field(c, k));
		*(char **)field(c, k) = lower_dup(v);
	} else if (!gkind_is_number(k->kind) && k->kind != G_USERS) {
		set_str((char **)field(c, k), v);
	}
	kv_set(l->cp, k->name, false, v, l->line);
	return 0;
}

/* ------------------------------------------------------------------ */
/* NodeName= */

static void node_clear(struct conf_node *n)
{
	free(n->name);
	free(n->addr);
	free(n->gres);
	free(n->gpu_model);
	free(n->features);
	free(n->region);
	free(n->topology_file);
	memset(n, 0, sizeof(*n));
}

/* A deep copy of a template; addr stays an expression until expanded. */
static void node_copy(struct conf_node *dst, const struct conf_node *src)
{
	*dst = *src;
	dst->name = src->name ? xstrdup(src->name) : NULL;
	dst->addr = src->addr ? xstrdup(src->addr) : NULL;
	dst->gres = xstrdup(src->gres);
	dst->gpu_model = xstrdup(src->gpu_model);
	dst->features = xstrdup(src->features);
	dst->region = xstrdup(src->region);
	dst->topology_file = xstrdup(src->topology_file);
}

static void node_template_init(struct conf_node *n)
{
	memset(n, 0, sizeof(*n));
	n->gres = xstrdup("");
	n->gpu_model = xstrdup("");
	n->features = xstrdup("");
	n->region = xstrdup("");
	n->topology_file = xstrdup("");
	n->weight = 1;
	n->state = CONF_NODE_UNKNOWN;
}

typedef int (*node_set_fn)(struct loader *l, struct conf_node *n,
			   const char *key, const char *v);

static int node_set_addr(struct loader *l, struct conf_node *n, const char *key,
			 const char *v)
{
	if (!*v)
		return lerr(l,
			    "%s is empty, expected a host name, an address "
			    "or a host list",
			    key);
	set_str(&n->addr, v);
	return 0;
}

static int node_set_port(struct loader *l, struct conf_node *n, const char *key,
			 const char *v)
{
	struct mer_error e;
	uint32_t x;

	if (parse_u32(v, key, 1, 65535, &x, &e) < 0)
		return lerr_parse(l, &e);
	n->port = (uint16_t)x;
	return 0;
}

static int node_set_cpus(struct loader *l, struct conf_node *n, const char *key,
			 const char *v)
{
	struct mer_error e;

	if (parse_u32(v, key, 1, 4096, &n->cpus, &e) < 0)
		return lerr_parse(l, &e);
	return 0;
}

static int node_set_memory(struct loader *l, struct conf_node *n,
			   const char *key, const char *v)
{
	struct mer_error e;

	if (parse_size_mb(v, key, &n->real_memory, &e) < 0)
		return lerr_parse(l, &e);
	return 0;
}

static int node_set_gres(struct loader *l, struct conf_node *n, const char *key,
			 const char *v)
{
	struct mer_error e;
	char *type;
	uint32_t count;

	if (!*v || strcasecmp(v, "none") == 0 || strcasecmp(v, "(null)") == 0) {
		set_str(&n->gres, "");
		set_str(&n->gpu_model, "");
		n->gpus = 0;
		return 0;
	}
	if (parse_gres_gpu(v, key, &type, &count, &e) < 0)
		return lerr_parse(l, &e);
	set_str(&n->gres, v);
	free(n->gpu_model);
	n->gpu_model = type;
	n->gpus = count;
	return 0;
}

static int node_set_features(struct loader *l, struct conf_node *n,
			     const char *key, const char *v)
{
	set_str(&n->features, v);
	return 0;
}

static int node_set_region(struct loader *l, struct conf_node *n,
			   const char *key, const char *v)
{
	if (*v && check_name(l, key, v) < 0)
		return -1;
	set_str(&n->region, v);
	return 0;
}

static int node_set_topology(struct loader *l, struct conf_node *n,
			     const char *key, const char *v)
{
	set_str(&n->topology_file, v);
	return 0;
}

static int node_set_weight(struct loader *l, struct conf_node *n,
			   const char *key, const char *v)
{
	struct mer_error e;

	if (parse_u32(v, key, 0, 4000000000u, &n->weight, &e) < 0)
		return lerr_parse(l, &e);
	return 0;
}

static int node_set_state(struct loader *l, struct conf_node *n,
			  const char *key, const char *v)
{
	static const struct {
		const char *word;
		enum conf_node_state state;
	} states[] = {
		{"UNKNOWN", CONF_NODE_UNKNOWN},
		/* IDLE: the node proves it is idle by registering. */
		{"IDLE", CONF_NODE_UNKNOWN},
		{"DRAIN", CONF_NODE_DRAIN},
		{"DOWN", CONF_NODE_DOWN},
		{"FUTURE", CONF_NODE_FUTURE},
	};

	for (size_t i = 0; i < sizeof(states) / sizeof(states[0]); i++) {
		if (strcasecmp(v, states[i].word) == 0) {
			n->state = states[i].state;
			return 0;
		}
	}
	return lerr(l, "%s=%.*s: expected UNKNOWN, IDLE, DRAIN, DOWN or FUTURE",
		    key, ECHO_MAX, v);
}

static const struct {
	const char *name;
	node_set_fn set;
} node_keys[] = {
	{"NodeAddr", node_set_addr}, {"Port", node_set_port},
	{"CPUs", node_set_cpus},     {"RealMemory", node_set_memory},
	{"Gres", node_set_gres},     {"Features", node_set_features},
	{"Region", node_set_region}, {"TopologyFile", node_set_topology},
	{"Weight", node_set_weight}, {"State", node_set_state},
};

static int node_apply(struct loader *l, struct conf_node *n,
		      const struct token *toks, size_t ntoks)
{
	for (size_t i = 1; i < ntoks; i++) {
		size_t k;
		for (k = 0; k < sizeof(node_keys) / sizeof(node_keys[0]); k++)
			if (strcasecmp(node_keys[k].name, toks[i].key) == 0)
				break;
		if (k == sizeof(node_keys) / sizeof(node_keys[0]))
			return lerr(l,
				    "unknown NodeName key '%.*s', expected "
				    "%s",
				    ECHO_MAX, toks[i].key, node_key_names);
		if (node_keys[k].set(l, n, node_keys[k].name, toks[i].value) <
		    0)
			return -1;
	}
	return 0;
}

static int node_stanza(struct loader *l, const struct token *toks, size_t ntoks)
{
	struct conf *c = &l->cp->pub;
	struct conf_node tmpl;
	char **names = NULL, **addrs = NULL;
	size_t nnames = 0, naddrs = 0;
	struct mer_error e;
	int rc = -1;

	if (strcasecmp(toks[0].value, "DEFAULT") == 0)
		return node_apply(l, &l->node_def, toks, ntoks);

	node_copy(&tmpl, &l->node_def);
	if (node_apply(l, &tmpl, toks, ntoks) < 0)
		goto out;
	if (!*toks[0].value) {
		lerr(l, "NodeName is empty, expected a host list such as "
			"gpu[01-16]");
		goto out;
	}
	if (hostlist_expand(toks[0].value, &names, &nnames, &e) < 0) {
		lerr(l, "NodeName=%s", e.text);
		goto out;
	}
	if (tmpl.addr && hostlist_expand(tmpl.addr, &addrs, &naddrs, &e) < 0) {
		lerr(l, "NodeAddr=%s", e.text);
		goto out;
	}
	if (addrs && naddrs != 1 && naddrs != nnames) {
		lerr(l,
		     "NodeAddr= gives %zu addresses for %zu nodes, expected "
		     "one address for each node or one for all",
		     naddrs, nnames);
		goto out;
	}
	if (c->nnodes + nnames > l->nodes_cap) {
		while (c->nnodes + nnames > l->nodes_cap)
			l->nodes_cap = l->nodes_cap ? l->nodes_cap * 2 : 16;
		c->nodes = xrealloc(c->nodes, l->nodes_cap * sizeof(*c->nodes));
	}
	for (size_t i = 0; i < nnames; i++) {
		struct conf_node *n = &c->nodes[c->nnodes++];

		node_copy(n, &tmpl);
		free(n->name);
		free(n->addr);
		n->name = xstrdup(names[i]);
		n->addr =
			xstrdup(addrs ? addrs[naddrs == 1 ? 0 : i] : names[i]);
		n->line = l->line;
	}
	rc = 0;
out:
	hostlist_free(names, nnames);
	hostlist_free(addrs, naddrs);
	node_clear(&tmpl);
	return rc;
}

/* ------------------------------------------------------------------ */
/* PartitionName= */

static void part_clear(struct conf_partition *p)
{
	free(p->name);
	free(p->nodes_expr);
	free(p->allow_accounts);
	free(p->regions);
	hostlist_free(p->nodes, p->nnodes);
	memset(p, 0, sizeof(*p));
}

static void part_copy(struct conf_partition *dst,
		      const struct conf_partition *src)
{
	*dst = *src;
	dst->name = src->name ? xstrdup(src->name) : NULL;
	dst->nodes_expr = xstrdup(src->nodes_expr);
	dst->allow_accounts =
		src->allow_accounts ? xstrdup(src->allow_accounts) : NULL;
	dst->regions = src->regions ? xstrdup(src->regions) : NULL;
	dst->nodes = NULL;
	dst->nnodes = 0;
	if (src->nnodes) {
		dst->nodes = xcalloc(src->nnodes, sizeof(char *));
		for (size_t i = 0; i < src->nnodes; i++)
			dst->nodes[i] = xstrdup(src->nodes[i]);
		dst->nnodes = src->nnodes;
	}
}

static int part_apply(struct loader *l, struct conf_partition *p,
		      const struct token *toks, size_t ntoks)
{
	struct mer_error e;

	for (size_t i = 1; i < ntoks; i++) {
		const char *k = toks[i].key, *v = toks[i].value;

		if (strcasecmp(k, "Nodes") == 0) {
			char **names;
			size_t n;

			if (strcasecmp(v, "ALL") == 0) {
				/* Expanded once every node is known. */
				names = NULL;
				n = 0;
			} else if (hostlist_expand(v, &names, &n, &e) < 0) {
				return lerr(l, "Nodes=%s", e.text);
			}
			hostlist_free(p->nodes, p->nnodes);
			p->nodes = names;
			p->nnodes = n;
			set_str(&p->nodes_expr, v);
		} else if (strcasecmp(k, "Default") == 0) {
			if (parse_bool(v, "Default", &p->is_default, &e) < 0)
				return lerr_parse(l, &e);
		} else if (strcasecmp(k, "MaxTime") == 0) {
			if (parse_time_minutes(v, "MaxTime", &p->max_time, &e) <
			    0)
				return lerr_parse(l, &e);
		} else if (strcasecmp(k, "DefaultTime") == 0) {
			if (parse_time_minutes(v, "DefaultTime",
					       &p->default_time, &e) < 0)
				return lerr_parse(l, &e);
		} else if (strcasecmp(k, "MaxNodes") == 0) {
			if (strcasecmp(v, "UNLIMITED") == 0)
				p->max_nodes = 0;
			else if (parse_u32(v, "MaxNodes", 1, 65536,
					   &p->max_nodes, &e) < 0)
				return lerr_parse(l, &e);
		} else if (strcasecmp(k, "AllowAccounts") == 0) {
			if (!*v)
				return lerr(l,
					    "AllowAccounts is empty, expected "
					    "ALL or ACCOUNT[,ACCOUNT...]");
			set_str(&p->allow_accounts, v);
		} else if (strcasecmp(k, "Regions") == 0) {
			if (!*v)
				return lerr(l, "Regions is empty, expected "
					       "REGION[,REGION...]");
			set_str(&p->regions, v);
		} else if (strcasecmp(k, "PriorityJobFactor") == 0) {
			if (parse_u32(v, "PriorityJobFactor", 0, 65533,
				      &p->priority_job_factor, &e) < 0)
				return lerr_parse(l, &e);
		} else if (strcasecmp(k, "PriorityTier") == 0) {
			if (parse_u32(v, "PriorityTier", 0, 65533,
				      &p->priority_tier, &e) < 0)
				return lerr_parse(l, &e);
		} else if (strcasecmp(k, "State") == 0) {
			if (strcasecmp(v, "UP") == 0)
				p->up = true;
			else if (strcasecmp(v, "DOWN") == 0 ||
				 strcasecmp(v, "INACTIVE") == 0)
				p->up = false;
			else
				return lerr(l,
					    "State=%.*s: expected UP, DOWN "
					    "or INACTIVE",
					    ECHO_MAX, v);
		} else {
			return lerr(l,
				    /* the line number says it is a
				     * partition's, and the keys are many */
				    "unknown key '%.*s', expected %s", ECHO_MAX,
				    k, part_key_names);
		}
	}
	return 0;
}

static int part_stanza(struct loader *l, const struct token *toks, size_t ntoks)
{
	struct conf *c = &l->cp->pub;
	struct conf_partition p;
	const char *name = toks[0].value;

	if (strcasecmp(name, "DEFAULT") == 0)
		return part_apply(l, &l->part_def, toks, ntoks);
	if (check_name(l, "PartitionName", name) < 0)
		return -1;
	for (size_t i = 0; i < c->npartitions; i++)
		if (strcmp(c->partitions[i].name, name) == 0)
			return lerr(l,
				    "duplicate PartitionName '%s' (first at "
				    "line %d), expected each partition once",
				    name, c->partitions[i].line);
	part_copy(&p, &l->part_def);
	if (part_apply(l, &p, toks, ntoks) < 0) {
		part_clear(&p);
		return -1;
	}
	if (p.max_time && p.default_time > p.max_time) {
		char d[32], m[32];
		format_time_minutes(p.default_time, d, sizeof(d));
		format_time_minutes(p.max_time, m, sizeof(m));
		part_clear(&p);
		return lerr(l,
			    "DefaultTime=%s is longer than MaxTime=%s, "
			    "expected DefaultTime <= MaxTime",
			    d, m);
	}
	if (p.is_default && l->default_part) {
		int rc = lerr(l,
			      "partition '%s' is Default=YES but '%s' (line "
			      "%d) already is, expected one default "
			      "partition",
			      name, l->default_part->name,
			      l->default_part->line);
		part_clear(&p);
		return rc;
	}
	free(p.name);
	p.name = xstrdup(name);
	p.line = l->line;
	if (c->npartitions == l->parts_cap) {
		l->parts_cap = l->parts_cap ? l->parts_cap * 2 : 4;
		c->partitions = xrealloc(c->partitions,
					 l->parts_cap * sizeof(*c->partitions));
		/* The array moved; find the default again at the end. */
	}
	c->partitions[c->npartitions++] = p;
	l->default_part = NULL;
	for (size_t i = 0; i < c->npartitions; i++)
		if (c->partitions[i].is_default)
			l->default_part = &c->partitions[i];
	return 0;
}

/* ------------------------------------------------------------------ */
/* RegionName= */

/* "+05:30", "-8", "0": minutes east of UTC. */
static int parse_utc_offset(const char *v, int *minutes)
{
	const char *p = v;
	int sign = 1, h = 0, m = 0, nd = 0;

	if (*p == '+' || *p == '-')
		sign = *p++ == '-' ? -1 : 1;
	while (isdigit((unsigned char)*p) && nd < 3) {
		h = h * 10 + (*p++ - '0');
		nd++;
	}
	if (nd == 0 || nd > 2)
		return -1;
	if (*p == ':') {
		p++;
		if (!isdigit((unsigned char)p[0]) ||
		    !isdigit((unsigned char)p[1]))
			return -1;
		m = (p[0] - '0') * 10 + (p[1] - '0');
		p += 2;
		if (m > 59)
			return -1;
	}
	if (*p)
		return -1;
	*minutes = sign * (h * 60 + m);
	if (*minutes < -12 * 60 || *minutes > 14 * 60)
		return -1;
	return 0;
}

/* Two ASCII letters, in any case (isalpha would take a locale's others;
 * region_stanza upper-cases them by hand for the same reason). */
static bool is_country_code(const char *v)
{
	for (int i = 0; i < 2; i++)
		if (!((v[i] >= 'A' && v[i] <= 'Z') ||
		      (v[i] >= 'a' && v[i] <= 'z')))
			return false;
	return v[2] == '\0';
}

static int region_stanza(struct loader *l, const struct token *toks,
			 size_t ntoks)
{
	struct conf *c = &l->cp->pub;
	struct conf_region r = {0};
	const char *name = toks[0].value;

	if (strcasecmp(name, "DEFAULT") == 0)
		return lerr(l, "RegionName=DEFAULT is not supported, expected "
			       "a region name such as eu-west");
	if (check_name(l, "RegionName", name) < 0)
		return -1;
	for (size_t i = 0; i < c->nregions; i++)
		if (strcmp(c->regions[i].name, name) == 0)
			return lerr(l,
				    "duplicate RegionName '%s' (first at "
				    "line %d), expected each region once",
				    name, c->regions[i].line);
	for (size_t i = 1; i < ntoks; i++) {
		const char *k = toks[i].key, *v = toks[i].value;

		if (strcasecmp(k, "Description") == 0) {
			free(r.description);
			r.description = xstrdup(v);
		} else if (strcasecmp(k, "UtcOffset") == 0) {
			if (parse_utc_offset(v, &r.utc_offset_min) < 0) {
				free(r.description);
				return lerr(l,
					    "UtcOffset=%.*s: expected +HH:MM "
					    "or -HH:MM from -12:00 to +14:00, "
					    "such as +05:30",
					    ECHO_MAX, v);
			}
		} else if (strcasecmp(k, "Country") == 0) {
			/* Only the form is checked: whether DE is a country
			 * is ISO's to say, and a table of them would age. */
			if (!is_country_code(v)) {
				free(r.description);
				return lerr(l,
					    "Country=%.*s: expected a "
					    "two-letter ISO 3166 code such as "
					    "DE",
					    ECHO_MAX, v);
			}
			for (int ci = 0; ci < 2; ci++)
				r.country[ci] =
					v[ci] >= 'a' ? (char)(v[ci] - 'a' + 'A')
						     : v[ci];
			r.country[2] = '\0';
		} else {
			free(r.description);
			return lerr(l,
				    "unknown RegionName key '%.*s', "
				    "expected %s",
				    ECHO_MAX, k, region_key_names);
		}
	}
	if (!r.description)
		r.description = xstrdup("");
	r.name = xstrdup(name);
	r.line = l->line;
	if (c->nregions == l->regions_cap) {
		l->regions_cap = l->regions_cap ? l->regions_cap * 2 : 4;
		c->regions = xrealloc(c->regions,
				      l->regions_cap * sizeof(*c->regions));
	}
	c->regions[c->nregions++] = r;
	return 0;
}

/* ------------------------------------------------------------------ */
/* lines and tokens */

static void tokens_free(struct token *t, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(t[i].key);
		free(t[i].value);
	}
	free(t);
}

/* Split a logical line (comments already cut) into Key=Value tokens. */
static int tokenize(struct loader *l, const char *s, struct token **out,
		    size_t *nout)
{
	struct token *t = NULL;
	size_t n = 0;

	for (;;) {
		struct strbuf val = {0};
		const char *start, *eq;

		while (isspace((unsigned char)*s))
			s++;
		if (!*s)
			break;
		start = s;
		while (*s && *s != '=' && !isspace((unsigned char)*s) &&
		       *s != '"')
			s++;
		eq = s;
		if (*eq != '=' || eq == start) {
			size_t len = strcspn(start, " \t");
			lerr(l,
			     "'%.*s' is not Key=Value, expected Key=Value "
			     "pairs separated by spaces",
			     (int)(len > ECHO_MAX ? ECHO_MAX : len), start);
			tokens_free(t, n);
			return -1;
		}
		s++;
		strbuf_add(&val, "", 0);
		while (*s && !isspace((unsigned char)*s)) {
			if (*s == '"') {
				s++;
				while (*s && *s != '"') {
					if (*s == '\\' &&
					    (s[1] == '"' || s[1] == '\\'))
						s++;
					strbuf_addc(&val, *s++);
				}
				if (*s != '"') {
					strbuf_free(&val);
					tokens_free(t, n);
					return lerr(l,
						    "value of %.*s has no "
						    "closing '\"', expected "
						    "\"...\"",
						    (int)(eq - start), start);
				}
				s++;
			} else {
				strbuf_addc(&val, *s++);
			}
		}
		t = xrealloc(t, (n + 1) * sizeof(*t));
		t[n].key = xstrndup(start, (size_t)(eq - start));
		t[n].value = val.s;
		n++;
	}
	*out = t;
	*nout = n;
	return 0;
}

/* ------------------------------------------------------------------ */
/* QosName= and AccountName= */

/* A limit: a count, or UNLIMITED (0). */
static int parse_limit(struct loader *l, const char *key, const char *v,
		       uint32_t *out)
{
	struct mer_error e;

	if (strcasecmp(v, "UNLIMITED") == 0 || strcmp(v, "-1") == 0) {
		*out = 0;
		return 0;
	}
	if (parse_u32(v, key, 0, 10000000, out, &e) < 0)
		return lerr_parse(l, &e);
	return 0;
}

/* A comma list of names (QOS=, Users=), each a plain name. */
static int check_name_list(struct loader *l, const char *key, const char *v)
{
	if (!*v)
		return lerr(l, "%s is empty, expected NAME[,NAME...]", key);
	for (const char *p = v; *p;) {
		size_t n = strcspn(p, ",");
		char *name = xstrndup(p, n);
		bool ok = n > 0 && is_plain_name(name);

		free(name);
		if (!ok)
			return lerr(l,
				    "%s=%.*s: expected names of letters, "
				    "digits, '.', '_' and '-' separated by "
				    "commas",
				    key, ECHO_MAX, v);
		p += n;
		if (*p)
			p++;
	}
	return 0;
}

static int qos_stanza(struct loader *l, const struct token *toks, size_t ntoks)
{
	struct conf *c = &l->cp->pub;
	struct conf_qos q = {0};
	const char *name = toks[0].value;
	static const struct {
		const char *key;
		size_t off;
	} lim[] = {
		{"MaxGPUsPerJob", offsetof(struct conf_qos, max_gpus_pj)},
		{"MaxNodesPerJob", offsetof(struct conf_qos, max_nodes_pj)},
		{"MaxSubmitJobsPerUser",
		 offsetof(struct conf_qos, max_submit_pu)},
		{"MaxJobsPerUser", offsetof(struct conf_qos, max_jobs_pu)},
		{"MaxGPUsPerUser", offsetof(struct conf_qos, max_gpus_pu)},
		{"MaxJobsPerAccount", offsetof(struct conf_qos, max_jobs_pa)},
		{"MaxGPUsPerAccount", offsetof(struct conf_qos, max_gpus_pa)},
	};

	if (strcasecmp(name, "DEFAULT") == 0)
		return lerr(l, "QosName=DEFAULT is not supported, expected a "
			       "QOS name such as normal");
	if (check_name(l, "QosName", name) < 0)
		return -1;
	for (size_t i = 0; i < c->nqos; i++)
		if (strcmp(c->qos[i].name, name) == 0)
			return lerr(l,
				    "duplicate QosName '%s' (first at line "
				    "%d), expected each QOS once",
				    name, c->qos[i].line);
	for (size_t i = 1; i < ntoks; i++) {
		const char *k = toks[i].key, *v = toks[i].value;
		struct mer_error e;
		size_t x;

		for (x = 0; x < sizeof(lim) / sizeof(lim[0]); x++)
			if (strcasecmp(k, lim[x].key) == 0)
				break;
		if (x < sizeof(lim) / sizeof(lim[0])) {
			if (parse_limit(l, lim[x].key, v,
					(uint32_t *)((char *)&q + lim[x].off)) <
			    0)
				return -1;
		} else if (strcasecmp(k, "Priority") == 0) {
			if (parse_u32(v, "Priority", 0, 1000000, &q.priority,
				      &e) < 0)
				return lerr_parse(l, &e);
		} else if (strcasecmp(k, "MaxWall") == 0) {
			if (strcasecmp(v, "UNLIMITED") == 0)
				q.max_wall = 0;
			else if (parse_time_minutes(v, "MaxWall", &q.max_wall,
						    &e) < 0)
				return lerr_parse(l, &e);
		} else {
			return lerr(l,
				    "unknown QosName key '%.*s', expected %s",
				    ECHO_MAX, k, qos_key_names);
		}
	}
	q.name = xstrdup(name);
	q.line = l->line;
	c->qos = xrealloc(c->qos, (c->nqos + 1) * sizeof(*c->qos));
	c->qos[c->nqos++] = q;
	if (q.max_jobs_pu || q.max_gpus_pu || q.max_jobs_pa || q.max_gpus_pa)
		c->run_limits = true;
	return 0;
}

static void account_clear(struct conf_account *a)
{
	for (size_t i = 0; i < a->nusers; i++)
		free(a->users[i]);
	free(a->users);
	free(a->name);
	free(a->qos);
	free(a->default_qos);
	memset(a, 0, sizeof(*a));
}

static int account_apply(struct loader *l, struct conf_account *a,
			 const struct token *toks, size_t ntoks)
{
	for (size_t i = 1; i < ntoks; i++) {
		const char *k = toks[i].key, *v = toks[i].value;

		if (strcasecmp(k, "Users") == 0) {
			if (check_name_list(l, "Users", v) < 0)
				return -1;
			for (const char *p = v; *p;) {
				size_t n = strcspn(p, ",");

				if (n == 3 && strncasecmp(p, "ALL", 3) == 0) {
					a->all_users = true;
				} else {
					a->users = xrealloc(
						a->users, (a->nusers +
							   1) * sizeof(char *));
					a->users[a->nusers++] = xstrndup(p, n);
				}
				p += n;
				if (*p)
					p++;
			}
		} else if (strcasecmp(k, "QOS") == 0) {
			if (check_name_list(l, "QOS", v) < 0)
				return -1;
			set_str(&a->qos, v);
		} else if (strcasecmp(k, "DefaultQOS") == 0) {
			if (check_name(l, "DefaultQOS", v) < 0)
				return -1;
			set_str(&a->default_qos, v);
		} else if (strcasecmp(k, "GrpJobs") == 0) {
			if (parse_limit(l, "GrpJobs", v, &a->grp_jobs) < 0)
				return -1;
		} else if (strcasecmp(k, "GrpGPUs") == 0) {
			if (parse_limit(l, "GrpGPUs", v, &a->grp_gpus) < 0)
				return -1;
		} else if (strcasecmp(k, "MaxJobs") == 0) {
			if (parse_limit(l, "MaxJobs", v, &a->max_jobs) < 0)
				return -1;
		} else if (strcasecmp(k, "MaxSubmitJobs") == 0) {
			if (parse_limit(l, "MaxSubmitJobs", v, &a->max_submit) <
			    0)
				return -1;
		} else {
			return lerr(l,
				    "unknown AccountName key '%.*s', "
				    "expected %s",
				    ECHO_MAX, k, account_key_names);
		}
	}
	return 0;
}

static int account_stanza(struct loader *l, const struct token *toks,
			  size_t ntoks)
{
	struct conf *c = &l->cp->pub;
	struct conf_account a = {0};
	const char *name = toks[0].value;

	if (strcasecmp(name, "DEFAULT") == 0)
		return lerr(l, "AccountName=DEFAULT is not supported, expected "
			       "an account name such as physics");
	if (check_name(l, "AccountName", name) < 0)
		return -1;
	for (size_t i = 0; i < c->naccounts; i++)
		if (strcmp(c->accounts[i].name, name) == 0)
			return lerr(l,
				    "duplicate AccountName '%s' (first at "
				    "line %d), expected each account once",
				    name, c->accounts[i].line);
	if (account_apply(l, &a, toks, ntoks) < 0) {
		account_clear(&a);
		return -1;
	}
	a.name = xstrdup(name);
	a.line = l->line;
	c->accounts = xrealloc(c->accounts,
			       (c->naccounts + 1) * sizeof(*c->accounts));
	c->accounts[c->naccounts++] = a;
	if (a.grp_jobs || a.grp_gpus || a.max_jobs)
		c->run_limits = true;
	return 0;
}

/* Every QOS an account names is a QosName line, its DefaultQOS one it
 * may use. */
static int check_accounts(struct loader *l)
{
	struct conf *c = &l->cp->pub;

	for (size_t i = 0; i < c->naccounts; i++) {
		const struct conf_account *a = &c->accounts[i];

		for (const char *p = a->qos; p && *p;) {
			size_t n = strcspn(p, ",");
			bool known = false;

			for (size_t q = 0; q < c->nqos && !known; q++)
				known = strlen(c->qos[q].name) == n &&
					strncmp(c->qos[q].name, p, n) == 0;
			if (!known)
				return lerr_at(l, a->line,
					       "account '%s': QOS= names "
					       "'%.*s', which no QosName line "
					       "defines",
					       a->name, (int)(n < 40 ? n : 40),
					       p);
			p += n;
			if (*p)
				p++;
		}
		if (a->default_qos && !conf_find_qos(c, a->default_qos))
			return lerr_at(l, a->line,
				       "account '%s': DefaultQOS=%s, which "
				       "no QosName line defines",
				       a->name, a->default_qos);
		if (a->default_qos && a->qos &&
		    !conf_list_has(a->qos, a->default_qos))
			return lerr_at(l, a->line,
				       "account '%s': DefaultQOS=%s is not "
				       "in its QOS=%s, expected one of them",
				       a->name, a->default_qos, a->qos);
	}
	return 0;
}

static int do_line(struct loader *l, const char *s)
{
	struct token *t = NULL;
	size_t n = 0;
	int rc = 0;

	if (tokenize(l, s, &t, &n) < 0)
		return -1;
	if (n == 0)
		return 0;
	if (strcasecmp(t[0].key, "NodeName") == 0) {
		rc = node_stanza(l, t, n);
	} else if (strcasecmp(t[0].key, "PartitionName") == 0) {
		rc = part_stanza(l, t, n);
	} else if (strcasecmp(t[0].key, "RegionName") == 0) {
		rc = region_stanza(l, t, n);
	} else if (strcasecmp(t[0].key, "QosName") == 0) {
		rc = qos_stanza(l, t, n);
	} else if (strcasecmp(t[0].key, "AccountName") == 0) {
		rc = account_stanza(l, t, n);
	} else {
		for (size_t i = 0; i < n && rc == 0; i++) {
			if (strcasecmp(t[i].key, "NodeName") == 0 ||
			    strcasecmp(t[i].key, "PartitionName") == 0 ||
			    strcasecmp(t[i].key, "RegionName") == 0 ||
			    strcasecmp(t[i].key, "QosName") == 0 ||
			    strcasecmp(t[i].key, "AccountName") == 0)
				rc = lerr(l,
					  "%s= must start its line, expected "
					  "it on a line of its own",
					  t[i].key);
			else
				rc = set_global(l, &t[i]);
		}
	}
	tokens_free(t, n);
	return rc;
}

/* Length of a physical line up to a '#' outside double quotes. */
static size_t uncommented_len(const char *s, size_t len)
{
	bool quoted = false;

	for (size_t i = 0; i < len; i++) {
		if (s[i] == '"')
			quoted = !quoted;
		else if (s[i] == '\\' && quoted && i + 1 < len)
			i++;
		else if (s[i] == '#' && !quoted)
			return i;
	}
	return len;
}

static int read_lines(struct loader *l, const char *data, size_t size)
{
	struct strbuf logical = {0};
	const char *p = data, *end = data + size;
	int lineno = 0, start_line = 0;
	int rc = 0;

	while (p < end && rc == 0) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
		bool cont = false;

		lineno++;
		if (memchr(p, '\0', len)) {
			l->line = lineno;
			rc = lerr(l, "NUL byte, expected a text file");
			break;
		}
		if (logical.len == 0)
			start_line = lineno;
		len = uncommented_len(p, len);
		while (len > 0 && isspace((unsigned char)p[len - 1]))
			len--;
		if (len > 0 && p[len - 1] == '\\') {
			len--;
			cont = true;
		}
		strbuf_add(&logical, p, len);
		if (cont) {
			strbuf_addc(&logical, ' ');
		} else {
			l->line = start_line;
			rc = do_line(l, logical.s);
			logical.len = 0;
			logical.s[0] = '\0';
		}
		p = nl ? nl + 1 : end;
	}
	if (rc == 0 && logical.len > 0) {
		/* A '\' on the last line: take what there is. */
		l->line = start_line;
		rc = do_line(l, logical.s);
	}
	strbuf_free(&logical);
	return rc;
}

/* ------------------------------------------------------------------ */
/* whole-file checks */

static int cmp_node_ptr(const void *a, const void *b)
{
	const struct conf_node *x = *(struct conf_node *const *)a;
	const struct conf_node *y = *(struct conf_node *const *)b;
	int c = strcmp(x->name, y->name);

	if (c)
		return c;
	/* Same name: the one defined first comes first. */
	return x < y ? -1 : x > y;
}

static int check_nodes(struct loader *l)
{
	struct conf_priv *cp = l->cp;
	struct conf *c = &cp->pub;
	const struct conf_node *dup = NULL, *first = NULL;

	cp->by_name = xcalloc(c->nnodes, sizeof(*cp->by_name));
	for (size_t i = 0; i < c->nnodes; i++)
		cp->by_name[i] = &c->nodes[i];
	qsort(cp->by_name, c->nnodes, sizeof(*cp->by_name), cmp_node_ptr);
	for (size_t i = 1; i < c->nnodes; i++) {
		const struct conf_node *a = cp->by_name[i - 1],
				       *b = cp->by_name[i];
		/* Report the duplicate that comes first in the file. */
		if (strcmp(a->name, b->name) == 0 && (!dup || b < dup)) {
			dup = b;
			first = a;
		}
	}
	if (dup)
		return lerr_at(l, dup->line,
			       "duplicate NodeName '%s' (first "
			       "at line %d), expected each node "
			       "once",
			       dup->name, first->line);
	for (size_t i = 0; i < c->nnodes; i++) {
		const struct conf_node *n = &c->nodes[i];
		if (*n->region && !conf_find_region(c, n->region))
			return lerr_at(l, n->line,
				       "Region=%s is not defined, "
				       "expected a RegionName=%s "
				       "line",
				       n->region, n->region);
	}
	return 0;
}

/* Regions=: the partition keeps its nodes of those regions, each of
 * which a RegionName line defines. */
static int part_by_regions(struct loader *l, struct conf_partition *p)
{
	struct conf *c = &l->cp->pub;
	size_t kept = 0;

	for (const char *r = p->regions; *r;) {
		size_t n = strcspn(r, ",");
		bool known = false;

		for (size_t i = 0; i < c->nregions && !known; i++)
			known = strlen(c->regions[i].name) == n &&
				strncmp(c->regions[i].name, r, n) == 0;
		if (!known)
			return lerr_at(l, p->line,
				       "partition '%s': Regions= names '%.*s', "
				       "which no RegionName line defines",
				       p->name, (int)(n < 40 ? n : 40), r);
		r += n;
		if (*r)
			r++;
	}
	for (size_t k = 0; k < p->nnodes; k++) {
		const struct conf_node *nd = conf_find_node(c, p->nodes[k]);
		const char *reg = nd && nd->region ? nd->region : "";
		bool in = false;

		for (const char *r = p->regions; *r && !in;) {
			size_t n = strcspn(r, ",");

			in = strlen(reg) == n && strncmp(reg, r, n) == 0;
			r += n;
			if (*r)
				r++;
		}
		if (in)
			p->nodes[kept++] = p->nodes[k];
		else
			free(p->nodes[k]);
	}
	p->nnodes = kept;
	return 0;
}

static int check_partitions(struct loader *l)
{
	struct conf *c = &l->cp->pub;

	for (size_t i = 0; i < c->npartitions; i++) {
		struct conf_partition *p = &c->partitions[i];

		if ((p->nodes_expr && strcasecmp(p->nodes_expr, "ALL") == 0) ||
		    (p->regions && (!p->nodes_expr || !*p->nodes_expr))) {
			hostlist_free(p->nodes, p->nnodes);
			p->nodes = xcalloc(c->nnodes, sizeof(char *));
			for (size_t k = 0; k < c->nnodes; k++)
				p->nodes[k] = xstrdup(c->nodes[k].name);
			p->nnodes = c->nnodes;
		}
		for (size_t k = 0; k < p->nnodes; k++)
			if (!conf_find_node(c, p->nodes[k]))
				return lerr_at(l, p->line,
					       "partition '%s' names node '%s' "
					       "that no NodeName line defines, "
					       "expected defined nodes or ALL",
					       p->name, p->nodes[k]);
		if (p->regions && part_by_regions(l, p) < 0)
			return -1;
	}
	return 0;
}

static int check_globals(struct loader *l)
{
	struct conf_priv *cp = l->cp;
	struct conf *c = &cp->pub;
	const struct conf_kv *kv;

	if (!c->cluster_name)
		return lerr_at(l, 0,
			       "ClusterName is not set, expected a line "
			       "ClusterName=NAME");
	if (!c->controller_host)
		return lerr_at(l, 0,
			       "ControllerHost is not set, expected a "
			       "line ControllerHost=HOST");
	if (c->node_timeout <= c->heartbeat_interval) {
		kv = kv_find(cp, "NodeTimeout");
		if (!kv)
			kv = kv_find(cp, "HeartbeatInterval");
		return lerr_at(l, kv ? kv->line : 0,
			       "NodeTimeout=%u is not longer than "
			       "HeartbeatInterval=%u, expected NodeTimeout > "
			       "HeartbeatInterval (3 to 10 times it)",
			       c->node_timeout, c->heartbeat_interval);
	}
	if (c->probe_port && c->probe_port == c->controller_port) {
		kv = kv_find(cp, "ProbePort");
		return lerr_at(l, kv ? kv->line : 0,
			       "ProbePort=%u is ControllerPort's, expected "
			       "another port (or 0: none)",
			       c->probe_port);
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* foreign keys: the plugins' */

static const struct mer_plugin_key *
key_in(const struct mer_plugin_key *const *tables, size_t ntables,
       const char *name)
{
	for (size_t t = 0; t < ntables; t++)
		for (size_t i = 0; tables[t] && tables[t][i].name; i++)
			if (strcasecmp(tables[t][i].name, name) == 0)
				return &tables[t][i];
	return NULL;
}

/*
 * Check every foreign key against the tables: a key one of them owns has
 * its value checked; one none owns is refused unless refuse_unowned is
 * false (some plugin that could own it could not be asked).  The error
 * reported is the one at the lowest line, as if the file had been checked
 * from top to bottom.
 */
static int check_foreign(const struct conf_priv *cp,
			 const struct mer_plugin_key *const *tables,
			 size_t ntables, bool refuse_unowned,
			 struct mer_error *err)
{
	const char *path = cp->pub.path;
	int best = 0;

	for (size_t i = 0; i < cp->nkv; i++) {
		const struct conf_kv *kv = &cp->kv[i];
		const struct mer_plugin_key *k;
		struct mer_error e = {""};

		if (!kv->own)
			continue;
		k = key_in(tables, ntables, kv->key);
		if (!k && refuse_unowned && (!best || kv->first_line < best)) {
			best = kv->first_line;
			mer_error_set(err,
				      "%s:%d: unknown key '%.*s', expected one "
				      "of the keys in meridian.conf(5)",
				      path, best, ECHO_MAX, kv->key);
		} else if (k && k->check && (!best || kv->line < best) &&
			   k->check(kv->value, &e) < 0) {
			best = kv->line;
			mer_error_set(err, "%s:%d: %s", path, best,
				      e.text[0] ? e.text : "bad value");
		}
	}
	if (best) {
		errno = EINVAL;
		return -1;
	}
	return 0;
}

int conf_check_keys(const struct conf *c,
		    const struct mer_plugin_key *const *tables, size_t ntables,
		    struct mer_error *err)
{
	return check_foreign((const struct conf_priv *)c, tables, ntables, true,
			     err);
}

int conf_check_key_values(const struct conf *c,
			  const struct mer_plugin_key *const *tables,
			  size_t ntables, struct mer_error *err)
{
	return check_foreign((const struct conf_priv *)c, tables, ntables,
			     false, err);
}

/* The plugins whose keys a meridian.conf may hold (auth has none). */
static const struct {
	const char *key;
	uint32_t kind, abi;
	size_t off;
} key_plugins[] = {
	{"SchedulerType", MER_PLUGIN_SCHED, MER_SCHED_ABI,
	 offsetof(struct conf, scheduler_type)},
	{"SelectType", MER_PLUGIN_SELECT, MER_SELECT_ABI,
	 offsetof(struct conf, select_type)},
	{"PriceType", MER_PLUGIN_PRICE, MER_PRICE_ABI,
	 offsetof(struct conf, price_type)},
};
#define NKEY_PLUGINS (sizeof(key_plugins) / sizeof(key_plugins[0]))

/*
 * For the programs that load no sched, select or price plugin (commands,
 * mnoded): open the configured ones only to read their key tables, so that
 * a misspelt key is refused everywhere while a plugin's key is not.  A
 * plugin that cannot be opened here is not this program's business (mctld
 * refuses it): the keys it might own are then let through.  Nothing is
 * opened for a file without foreign keys.
 */
static int check_foreign_peek(const struct conf_priv *cp, struct mer_error *err)
{
	const struct conf *c = &cp->pub;
	struct plugin_handle *h[NKEY_PLUGINS] = {NULL};
	const struct mer_plugin_key *tables[NKEY_PLUGINS];
	size_t n = 0, i;
	bool all = true;
	int rc;

	for (i = 0; i < cp->nkv && !cp->kv[i].own; i++)
		;
	if (i == cp->nkv)
		return 0;
	for (i = 0; i < NKEY_PLUGINS; i++) {
		const char *name =
			*(char *const *)((const char *)c + key_plugins[i].off);
		struct mer_error e;
		const void *ops;

		h[i] = plugin_load(c->plugin_dir, key_plugins[i].key, name,
				   key_plugins[i].kind, key_plugins[i].abi,
				   &ops, &e);
		if (!h[i])
			all = false;
		else
			tables[n++] = plugin_ops_keys(ops);
	}
	rc = check_foreign(cp, tables, n, all, err);
	for (i = 0; i < NKEY_PLUGINS; i++)
		plugin_unload(h[i]);
	return rc;
}

/* ------------------------------------------------------------------ */
/* the API */

static struct conf *parse(const char *name, const char *data, size_t size,
			  bool peek, struct mer_error *err)
{
	struct loader l = {0};
	struct conf_priv *cp;
	int rc;

	cp = xcalloc(1, sizeof(*cp));
	cp->pub.path = xstrdup(name);
	set_defaults(&cp->pub);
	l.cp = cp;
	l.path = name;
	l.err = err;
	node_template_init(&l.node_def);
	memset(&l.part_def, 0, sizeof(l.part_def));
	l.part_def.up = true;
	l.part_def.priority_job_factor = 1;
	l.part_def.nodes_expr = xstrdup("");

	rc = read_lines(&l, data, size);
	if (rc == 0 && peek)
		rc = check_foreign_peek(cp, err);
	if (rc == 0)
		rc = check_globals(&l);
	if (rc == 0)
		rc = check_nodes(&l);
	if (rc == 0)
		rc = check_partitions(&l);
	if (rc == 0)
		rc = check_accounts(&l);

	node_clear(&l.node_def);
	part_clear(&l.part_def);
	if (rc < 0) {
		conf_free(&cp->pub);
		errno = EINVAL;
		return NULL;
	}
	return &cp->pub;
}

struct conf *conf_parse(const char *name, const char *data, size_t size,
			struct mer_error *err)
{
	return parse(name, data, size, false, err);
}

struct conf *conf_load(const char *path, struct mer_error *err)
{
	struct conf *c;
	char *data;
	size_t size;

	if (read_file(path, &data, &size) < 0) {
		int saved = errno;
		mer_error_set(err,
			      "%s: cannot read: %s, expected a readable "
			      "meridian.conf",
			      path, strerror(saved));
		errno = saved;
		return NULL;
	}
	c = parse(path, data, size, true, err);
	free(data); /* keeps errno (glibc >= 2.33, POSIX.1-2024) */
	return c;
}

void conf_free(struct conf *c)
{
	struct conf_priv *cp = (struct conf_priv *)c;

	if (!c)
		return;
	for (size_t i = 0; i < NGKEYS; i++) {
		const struct gkey *k = &gkeys[i];
		if (!gkind_is_number(k->kind) && k->kind != G_USERS)
			free(*(char **)field(c, k));
	}
	for (size_t i = 0; i < c->nadmin_users; i++)
		free(c->admin_users[i]);
	free(c->admin_users);
	for (size_t i = 0; i < c->nnodes; i++)
		node_clear(&c->nodes[i]);
	free(c->nodes);
	for (size_t i = 0; i < c->npartitions; i++)
		part_clear(&c->partitions[i]);
	free(c->partitions);
	for (size_t i = 0; i < c->nregions; i++) {
		free(c->regions[i].name);
		free(c->regions[i].description);
	}
	free(c->regions);
	for (size_t i = 0; i < c->nqos; i++)
		free(c->qos[i].name);
	free(c->qos);
	for (size_t i = 0; i < c->naccounts; i++)
		account_clear(&c->accounts[i]);
	free(c->accounts);
	for (size_t i = 0; i < cp->nkv; i++) {
		free(cp->kv[i].value);
		free(cp->kv[i].own);
	}
	free(cp->kv);
	free(cp->by_name);
	free(c->path);
	free(cp);
}

const char *conf_default_path(void)
{
	const char *env = getenv("MERIDIAN_CONF");

	if (env && *env)
		return env;
	return SYSCONFDIR "/meridian.conf";
}

static int cmp_name_node(const void *key, const void *elem)
{
	const struct conf_node *n = *(struct conf_node *const *)elem;

	return strcmp(key, n->name);
}

const struct conf_node *conf_find_node(const struct conf *c, const char *name)
{
	const struct conf_priv *cp = (const struct conf_priv *)c;
	struct conf_node **hit;

	if (!c || !name || !cp->by_name)
		return NULL;
	hit = bsearch(name, cp->by_name, c->nnodes, sizeof(*cp->by_name),
		      cmp_name_node);
	return hit ? *hit : NULL;
}

const struct conf_partition *conf_find_partition(const struct conf *c,
						 const char *name)
{
	for (size_t i = 0; c && name && i < c->npartitions; i++)
		if (strcmp(c->partitions[i].name, name) == 0)
			return &c->partitions[i];
	return NULL;
}

const struct conf_partition *conf_default_partition(const struct conf *c)
{
	for (size_t i = 0; c && i < c->npartitions; i++)
		if (c->partitions[i].is_default)
			return &c->partitions[i];
	return NULL;
}

const struct conf_region *conf_find_region(const struct conf *c,
					   const char *name)
{
	for (size_t i = 0; c && name && i < c->nregions; i++)
		if (strcmp(c->regions[i].name, name) == 0)
			return &c->regions[i];
	return NULL;
}

const struct conf_qos *conf_find_qos(const struct conf *c, const char *name)
{
	for (size_t i = 0; c && name && i < c->nqos; i++)
		if (strcmp(c->qos[i].name, name) == 0)
			return &c->qos[i];
	return NULL;
}

const struct conf_account *conf_find_account(const struct conf *c,
					     const char *name)
{
	for (size_t i = 0; c && name && i < c->naccounts; i++)
		if (strcmp(c->accounts[i].name, name) == 0)
			return &c->accounts[i];
	return NULL;
}

bool conf_account_has_user(const struct conf_account *a, const char *user)
{
	if (a->all_users)
		return true;
	for (size_t i = 0; user && i < a->nusers; i++)
		if (strcmp(a->users[i], user) == 0)
			return true;
	return false;
}

const struct conf_account *conf_user_account(const struct conf *c,
					     const char *user)
{
	const struct conf_account *any = NULL;

	for (size_t i = 0; user && i < c->naccounts; i++) {
		const struct conf_account *a = &c->accounts[i];

		for (size_t u = 0; u < a->nusers; u++)
			if (strcmp(a->users[u], user) == 0)
				return a;
		if (a->all_users && !any)
			any = a;
	}
	return any;
}

bool conf_list_has(const char *list, const char *name)
{
	size_t len = name ? strlen(name) : 0;

	for (const char *p = list; p && *p && len;) {
		size_t n = strcspn(p, ",");

		if (n == len && strncmp(p, name, n) == 0)
			return true;
		p += n;
		if (*p)
			p++;
	}
	return false;
}

bool conf_is_admin(const struct conf *c, unsigned uid)
{
	if (uid == 0)
		return true;
	for (size_t i = 0; c && i < c->nadmin_users; i++) {
		const char *name = c->admin_users[i];
		uid_t u;
		gid_t g;

		/* Resolved now, not at load: users come and go, and a
		 * controller must start even when a name does not resolve. */
		if (user_from_name(name, &u, &g) == 0 && (unsigned)u == uid)
			return true;
	}
	return false;
}

const char *conf_get(void *conf, const char *key)
{
	const struct conf_kv *kv;

	if (!conf || !key)
		return NULL;
	kv = kv_find((const struct conf_priv *)conf, key);
	return kv ? kv->value : NULL;
}

char *conf_expand_node(const char *pattern, const char *node)
{
	struct strbuf b = {0};
	char host[256];

	strbuf_add(&b, "", 0);
	for (const char *p = pattern ? pattern : ""; *p; p++) {
		if (*p != '%' || p[1] == '\0') {
			strbuf_addc(&b, *p);
			continue;
		}
		switch (*++p) {
		case 'n':
			strbuf_add(&b, node ? node : "",
				   node ? strlen(node) : 0);
			break;
		case 'h':
			if (gethostname(host, sizeof(host)) < 0)
				host[0] = '\0';
			host[sizeof(host) - 1] = '\0';
			host[strcspn(host, ".")] = '\0';
			strbuf_add(&b, host, strlen(host));
			break;
		case '%':
			strbuf_addc(&b, '%');
			break;
		default:
			/* Not ours (a later expansion may own it): keep. */
			strbuf_addc(&b, '%');
			strbuf_addc(&b, *p);
			break;
		}
	}
	return b.s;
}
