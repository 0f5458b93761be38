/*
 * conf.h - meridian.conf, Slurm style.
 *
 * Lines of Key=Value pairs, '#' starts a comment, a trailing '\' joins the
 * next line, values may be "double quoted".  Keys are matched without
 * regard to case.  A line whose first key is NodeName=, PartitionName= or
 * RegionName= is a stanza: its other pairs describe that object.
 * "NodeName=DEFAULT ..." sets defaults for the NodeName lines after it.
 * Every key is documented in etc/meridian.conf.example.
 *
 * Plugins own keys of their own (struct mer_plugin_key): the core keeps a
 * global key it does not know, with its line, for conf_get and
 * conf_check_keys.
 */
#ifndef MER_CONF_H
#define MER_CONF_H

#include <stdint.h>
#include <stdbool.h>
#include <stddef.h>
#include "merr.h"

struct mer_plugin_key;

enum conf_node_state {
	CONF_NODE_UNKNOWN =
		0,	  /* State=UNKNOWN (default): up once it registers */
	CONF_NODE_DRAIN,  /* State=DRAIN: registers, takes no new jobs */
	CONF_NODE_DOWN,	  /* State=DOWN: needs mctl update resume */
	CONF_NODE_FUTURE, /* State=FUTURE: listed, not expected yet */
};

struct conf_node {
	char *name;
	char *addr;	      /* NodeAddr=, default the name */
	uint16_t port;	      /* Port=, 0 none */
	uint32_t cpus;	      /* CPUs=, 0: what the node reports */
	uint64_t real_memory; /* RealMemory= MiB, 0: what the node reports */
	char *gres;	      /* Gres= as written, "" none */
	char *gpu_model;      /* from Gres=gpu:MODEL:N, "" when no model */
	uint32_t gpus;	      /* from Gres= */
	char *features;	      /* Features=, "" none */
	char *region;	      /* Region=, "" none */
	char *topology_file;  /* TopologyFile= hwloc XML, "" none */
	uint32_t weight;      /* Weight=, default 1 */
	enum conf_node_state state;
	int line; /* where it was defined */
};

struct conf_partition {
	char *name;
	char *nodes_expr; /* Nodes= as written */
	char **nodes;	  /* expanded; ALL: every node */
	size_t nnodes;
	bool is_default;	      /* Default=YES */
	uint32_t max_time;	      /* MaxTime= minutes, 0 UNLIMITED */
	uint32_t default_time;	      /* DefaultTime= minutes, 0: MaxTime */
	bool up;		      /* State=UP (default) or DOWN/INACTIVE */
	uint32_t priority_job_factor; /* PriorityJobFactor=, default 1 */
	uint32_t max_nodes;	      /* MaxNodes=, 0 UNLIMITED */
	char *allow_accounts;	/* AllowAccounts=a,b; NULL or "ALL": any */
	char *regions;		/* Regions=a,b: only their nodes; NULL any */
	uint32_t priority_tier; /* PriorityTier=: higher tiers first */
	int line;
};

/* QosName=: a quality of service, the limits and priority a job asks for
 * with --qos (sacctmgr's QOS, kept in meridian.conf).  0: no limit. */
struct conf_qos {
	char *name;
	uint32_t priority;	/* Priority=, PriorityWeightQOS's factor */
	uint32_t max_wall;	/* MaxWall= minutes: refused at submit */
	uint32_t max_gpus_pj;	/* MaxGPUsPerJob=: refused at submit */
	uint32_t max_nodes_pj;	/* MaxNodesPerJob=: refused at submit */
	uint32_t max_submit_pu; /* MaxSubmitJobsPerUser=: pending and
				 * running, refused at submit */
	uint32_t max_jobs_pu;	/* MaxJobsPerUser=: running, waits */
	uint32_t max_gpus_pu;	/* MaxGPUsPerUser=: running, waits */
	uint32_t max_jobs_pa;	/* MaxJobsPerAccount=: running, waits */
	uint32_t max_gpus_pa;	/* MaxGPUsPerAccount=: running, waits */
	int line;
};

/* AccountName=: an account, its users and its limits (sacctmgr's
 * associations).  With no AccountName line any account is taken. */
struct conf_account {
	char *name;
	char **users; /* Users=a,b (names); ALL: anyone */
	size_t nusers;
	bool all_users;
	char *qos;	     /* QOS=a,b: the QOS its jobs may ask; NULL any */
	char *default_qos;   /* DefaultQOS=, NULL: "normal" if defined */
	uint32_t grp_jobs;   /* GrpJobs=: its running jobs, waits */
	uint32_t grp_gpus;   /* GrpGPUs=: its running jobs' GPUs, waits */
	uint32_t max_jobs;   /* MaxJobs=: each user's running jobs in it */
	uint32_t max_submit; /* MaxSubmitJobs=: each user's, refused */
	int line;
};

struct conf_region {
	char *name;
	char *description;
	int utc_offset_min; /* UtcOffset=+05:30 */
	char country[3];    /* Country=DE: ISO 3166-1 alpha-2, upper case;
			     * "" none */
	int line;
};

#define CONF_MAX_TIERS	   16
#define CONF_TIER_NAME_MAX 31

struct conf {
	char *path;
	char *cluster_name;	  /* ClusterName= (required) */
	char *controller_host;	  /* ControllerHost= (required) */
	uint16_t controller_port; /* ControllerPort=, default 6917 */
	char *state_dir;	  /* StateDir= */
	char *spool_dir;	  /* SpoolDir=, %n expands to the node name */
	char *tmp_fs;		  /* TmpFS=, where jobs' TMPDIRs go, %n */
	char *log_file;		  /* LogFile= mctld, "" stderr */
	char *node_log_file;	  /* NodeLogFile= mnoded, %n, "" stderr */
	char *log_level;	  /* LogLevel= error|warn|info|debug */
	char *auth_type;	  /* AuthType=auth/munge */
	char *auth_socket;	  /* AuthSocket=, "" munge's default */
	char *scheduler_type;	  /* SchedulerType=sched/fifo */
	char *select_type;	  /* SelectType=select/linear */
	char *price_type;	  /* PriceType=price/flat */
	char *plugin_dir;	  /* PluginDir=, default the installed one */
	char *mstepd_path;	  /* MstepdPath=, default the installed one */
	char **admin_users;	  /* AdminUsers=alice,bob (root always is) */
	size_t nadmin_users;
	uint32_t heartbeat_interval; /* s, default 30 */
	uint32_t node_timeout;	     /* s, default 300 */
	uint32_t node_lost_timeout;  /* s DOWN before its jobs end, 0 never */
	uint32_t job_requeue;	     /* 1: jobs lost with a node are requeued */
	char *mail_prog;	     /* MailProg=, "" none */
	uint32_t kill_wait;	     /* s, default 30 */
	uint32_t finalize_timeout;   /* s a step's rank may live after PMI
				      * finalize, default 30 */
	uint32_t min_job_age;	     /* s, default 300 */
	uint32_t max_job_count;	     /* jobs kept in memory, default 100000 */
	uint32_t job_history_days;   /* macct keeps ended jobs, default 30 */
	uint32_t job_history_max;    /* and at most this many, default 1M */
	uint32_t max_array_size;     /* --array task ids below, default 10001 */
	uint32_t frame_timeout;	     /* s a request may take to arrive once it
				      * starts, default 30 */
	uint32_t max_connections;    /* mctld's, 0 (default): what its
				      * descriptor limit allows */
	uint32_t max_user_connections; /* one user's, default 128 */
	/* BandwidthTiers=NAME:MBITS,... : a node is in the highest tier whose
	 * minimum down rate (Mbit/s) it reaches, none below the first;
	 * default low:100,medium:400,high:800,ultra:1600 */
	char *bandwidth_tiers;
	/* link probes (mctld plans them, mnoded runs them) */
	uint32_t probe_interval; /* s a measurement stays fresh, 0 never
				  * probe again; default 3600 */
	uint32_t probe_max_mbps; /* probe traffic in flight at once, over
				  * the cluster; 0: no probes; default 1000 */
	uint32_t probe_peers;	 /* peers per node, default 16 */
	uint32_t probe_duration; /* ms each bulk phase runs, default 2000 */
	uint32_t probe_streams;	 /* TCP streams of a bulk phase, default 4 */
	uint32_t probe_max_mb;	 /* MB a bulk phase moves at most, default
				  * 1024 */
	uint32_t probe_port;	 /* mctld's probe port, 0 (default): none;
				  * nodes' up/down come from their links */
	/* priority (src/mctld/priority.c) */
	bool priority_multifactor; /* PriorityType=priority/multifactor */
	uint32_t prio_weight_age, prio_weight_fairshare, prio_weight_jobsize,
		prio_weight_partition, prio_weight_qos;
	uint32_t prio_max_age;	       /* minutes the age factor takes to 1 */
	uint32_t prio_decay_half_life; /* minutes; 0: usage never decays */
	uint32_t fairshare_gpu_weight; /* a GPU-second is this many CPU's */
	struct conf_tier {
		char name[CONF_TIER_NAME_MAX + 1];
		uint32_t min_mbps;
	} tiers[CONF_MAX_TIERS];
	size_t ntiers;

	struct conf_node *nodes;
	size_t nnodes;
	struct conf_partition *partitions;
	size_t npartitions;
	struct conf_region *regions;
	size_t nregions;
	struct conf_qos *qos;
	size_t nqos;
	struct conf_account *accounts;
	size_t naccounts;
	/* some QOS or account limits running jobs: the scheduler counts */
	bool run_limits;
};

/* Load and check path.  Returns NULL with err holding
 * "path:line: what is wrong, what is expected".  A global key the core
 * does not know must be owned by one of the sched, select and price
 * plugins the file names (opened from PluginDir= only to read their key
 * tables), and its value pass the plugin's check; keys a plugin that
 * cannot be opened might own are let through (mctld checks them again). */
struct conf *conf_load(const char *path, struct mer_error *err);
/* The same for the text of a meridian.conf already in memory: size bytes
 * of data (no NUL needed; a NUL byte inside is an error, as in a file).
 * name stands for the path, in errors and in the returned conf's path.
 * data is only read during the call.  Opens no plugin: every global key
 * the core does not know is kept unchecked (see conf_check_keys). */
struct conf *conf_parse(const char *name, const char *data, size_t size,
			struct mer_error *err);
/* Refuse a kept key that no table owns ("PATH:LINE: unknown key 'K',
 * expected one of the keys in meridian.conf(5)") and check the values of
 * the others with their tables' check.  tables: ntables key tables (each
 * ended by a NULL name; a NULL table has no keys).  0, or -1 with err. */
int conf_check_keys(const struct conf *c,
		    const struct mer_plugin_key *const *tables, size_t ntables,
		    struct mer_error *err);
/* Only the values of the kept keys the tables own (a plugin's, before its
 * init: its errors then name PATH:LINE); other keys are let be. */
int conf_check_key_values(const struct conf *c,
			  const struct mer_plugin_key *const *tables,
			  size_t ntables, struct mer_error *err);
void conf_free(struct conf *c);

/* The file a command or daemon reads when -f is not given:
 * $MERIDIAN_CONF, else SYSCONFDIR/meridian.conf.  Static storage. */
const char *conf_default_path(void);

const struct conf_node *conf_find_node(const struct conf *c, const char *name);
const struct conf_partition *conf_find_partition(const struct conf *c,
						 const char *name);
const struct conf_partition *conf_default_partition(const struct conf *c);
const struct conf_region *conf_find_region(const struct conf *c,
					   const char *name);
const struct conf_qos *conf_find_qos(const struct conf *c, const char *name);
const struct conf_account *conf_find_account(const struct conf *c,
					     const char *name);
/* Whether user (a name) is one of a's Users=. */
bool conf_account_has_user(const struct conf_account *a, const char *user);
/* The first AccountName line listing user by name (then one with
 * Users=ALL), NULL none. */
const struct conf_account *conf_user_account(const struct conf *c,
					     const char *user);
/* Whether name is one of a comma list ("" or NULL: none). */
bool conf_list_has(const char *list, const char *name);
bool conf_is_admin(const struct conf *c, unsigned uid);
/* The bandwidth tier of a node whose measured down rate is mbps: a name
 * in c->tiers (lives as long as c), NULL below the first tier. */
const char *conf_tier_of(const struct conf *c, double mbps);
/* Whether region r is one a job's --region and --country lists (comma
 * lists; "" allows any) allow: its name in regions (exactly), its
 * Country= in countries (in any case). */
bool conf_region_allowed(const struct conf_region *r, const char *regions,
			 const char *countries);

/* The value of a global key as written (for plugins), NULL if unset. */
const char *conf_get(void *conf, const char *key);

/* Replace %n with node and %h with the short host name; malloc'd. */
char *conf_expand_node(const char *pattern, const char *node);

#endif
