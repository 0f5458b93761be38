/*
 * mctld.h - the controller daemon: one header, prototypes grouped by the
 * source file that defines them (OpenSMTPD style).
 *
 * mctld mutates its state only on its one libevent loop.  Each loop turn:
 *
 *   event_base_loop(EVLOOP_ONCE)   handlers run; they change jobs and nodes
 *                                  in memory, mark them dirty and queue
 *                                  replies and pushes in the outbox
 *   sched_maybe_run()              at most one scheduling pass, only when
 *                                  something changed that could start a job
 *   state_commit()                 one LMDB write transaction for what
 *                                  every commit source changed, one
 *                                  durable commit
 *   outbox_flush()                 then the replies and pushes that waited
 *                                  for it are sent (group commit)
 *
 * so no request is acknowledged before what it changed is on disk, and
 * every request of one turn shares one sync.
 *
 * The layers call one way (doc/architecture.md draws them):
 *
 *   mctld.c                 the loop and the turn
 *   rpc.c                   transport, the RPC table, handlers
 *   sched.c price.c         the plugin drivers, above the managers
 *   reconcile.c step_mgr.c  what a node reports; job steps
 *   job_mgr.c job_store.c   jobs and their tables (history.c: those
 *                           gone from memory, for macct)
 *   probe.c                 link probes and the link matrix
 *   node_mgr.c              nodes, capacity, liveness
 *   step_rec.c              steps inside a job's record
 *   outbox.c state.c        what waits for the commit; LMDB
 *
 * A file calls only the files below it; what happens below and matters
 * above comes back through a callback registered from above (the outbox's
 * transport, a commit source's done, an undelivered push).
 */
#ifndef MCTLD_H
#define MCTLD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/types.h>

#include <event2/event.h>
#include <protobuf-c/protobuf-c.h>

#include <meridian/plugin_price.h>
#include <meridian/plugin_sched.h>
#include <meridian/plugin_select.h>

#include "conf.h"
#include "frame.h"
#include "merr.h"
#include "meridian.pb-c.h"
#include "states.h"

/* How often the housekeeping timer runs (node timeouts, purges). */
#define MCTLD_TICK_MS 1000
/* A pass triggered only by new submits waits this long after the previous
 * pass, so that a stream of submits does not rescan the queue per job. */
#define MCTLD_SCHED_MIN_INTERVAL_MS 5
/* The layout of StateDir this mctld writes (state.c migrates older ones). */
#define STATE_SCHEMA_VERSION 3
/* Priority every job gets for now (no priority plugin yet). */
#define MCTLD_DEFAULT_PRIORITY 1
/* Limits on what a submit may carry. */
#define MCTLD_MAX_SCRIPT (4u << 20)
#define MCTLD_MAX_STRING 4096
/* A job's or step's arguments and environment: what exec takes. */
#define MCTLD_MAX_ARGS	    4096
#define MCTLD_MAX_ENV	    8192
#define MCTLD_MAX_ARG_BYTES (2u << 20)
/* A reason a node gives for an end, as kept in the record. */
#define MCTLD_MAX_REASON 1024

struct auth;
struct job_mgr;
struct history;
struct job_store;
struct outbox;
struct node_mgr;
struct peer;
struct rpc;
struct sched;
struct price;
struct probes;
struct state;

/* The daemon's one context; everything hangs off it. */
struct mctld {
	struct conf *conf;
	struct event_base *base;
	struct auth *auth; /* NULL in unit tests: no credentials checked */
	uid_t uid;	   /* mctld's own uid: trusted like root */
	int64_t start_time;
	bool stop;

	struct state *state;
	struct outbox *outbox;
	struct job_store *job_store;
	struct history *history; /* history.c: jobs gone from memory */
	struct job_mgr *jobs;
	struct node_mgr *nodes;
	struct rpc *rpc;
	struct sched *sched;
	struct price *price;
	struct probes *probes;
	struct usage *usage;   /* usage.c: decayed usage per user */
	struct limits *limits; /* limits.c: running jobs per QOS, account */
	/* a scheduling pass is wanted: this turn (now) or soon; set by the
	 * managers (mctld_want_sched), read and cleared by sched.c */
	bool sched_want_now, sched_want_soon;

	struct event *tick;
	int listen_fd;
	uint16_t port; /* the port really bound (ControllerPort=0) */
};

/*
 * A job in memory.  rec is a protobuf-c tree in which every pointer is
 * malloc'd (or protobuf_c_empty_string), so protobuf_c_message_free_unpacked
 * frees it whether it came from an unpack or was built here.  The JobSpec
 * (script, env) is never kept in memory: it lives only in LMDB.
 */
struct job {
	Meridian__JobRecord *rec;
	const struct conf_partition *part; /* NULL: not in meridian.conf now */
	struct job *hnext;		   /* id hash chain */
	TAILQ_ENTRY(job) all_entry;	   /* every job in memory, by id */
	TAILQ_ENTRY(job) state_entry;	   /* pending, running or finished */
	TAILQ_ENTRY(job) dirty_entry;	   /* to be written by the next flush */
	int64_t purge_at;		   /* finished: leaves memory then */
	uint32_t tasks_per_node;
	uint32_t cpus_per_node;
	uint32_t gpus_per_node;
	uint64_t mem_per_node;
	/* -w/-x: per node index, true where the job may run; NULL anywhere */
	bool *node_ok;
	bool dirty;
	bool uncommitted; /* submitted, not yet on disk */
	/* its QOS= and AccountName= lines (limits.c), NULL none */
	const struct conf_qos *qos;
	const struct conf_account *acct;
	/* an array's record: its tasks running, counted by the pass gen */
	uint32_t array_running;
	uint64_t array_gen;
};
TAILQ_HEAD(job_list, job);

/* Per-node needs of a job, derived from its JobDesc. */
struct job_res {
	uint32_t num_nodes;
	uint32_t ntasks;
	uint32_t tasks_per_node;
	uint32_t cpus_per_node;
	uint32_t gpus_per_node;
	uint64_t mem_per_node;
};

/* A node in memory: config, admin state, liveness, capacity, usage. */
struct node {
	const struct conf_node *cn;
	const char *name; /* cn->name */
	size_t index;	  /* config order */

	/* what an admin set (NodeRecord, persisted) */
	bool drain;
	bool admin_down;
	char *reason; /* malloc'd, NULL none */
	int64_t reason_time;
	uint32_t reason_uid;

	/* liveness: written only by node_mgr.c's link table (node_link_set) */
	bool registered;     /* registered since mctld started */
	bool not_responding; /* NodeTimeout passed without a frame */
	int64_t last_seen;
	int64_t boot_time;
	int64_t down_time; /* when not_responding was set */
	struct peer *peer; /* its live connection, NULL none */
	char *version;
	char *hostname;

	/* capacity: the config's values where given, else what it reported */
	uint32_t cpus;
	uint64_t real_memory;
	uint32_t gpus;		  /* at most MER_SELECT_MAX_GPUS */
	char *gpu_model;	  /* lower case, "" none */
	char *gres;		  /* "gpu:a100:2", "" none */
	Meridian__Gpu **gpu_info; /* registered, or made from the config */
	size_t n_gpu_info;
	/* gpu_info's links as select plugins see them, built once: GPU g's
	 * are gpu_peers[gpu_peer_off[g] ..], gpu_info[g]->n_peers of them
	 * (NULL with no links) */
	struct mer_gpu_peer *gpu_peers;
	size_t *gpu_peer_off;

	/* usage */
	uint32_t cpus_alloc;
	uint64_t mem_alloc;
	uint64_t gpu_alloc_mask;
	uint32_t *job_ids; /* jobs allocated here */
	size_t njobs, cap_jobs;
	/* jobs ended while it was not responding (NodeLostTimeout): killed
	 * there when it is heard from again */
	uint32_t *orphans;
	size_t norphans, cap_orphans;

	/* partitions it belongs to */
	const struct conf_partition **parts;
	size_t nparts;

	bool dirty; /* NodeRecord to write */
	TAILQ_ENTRY(node) dirty_entry;

	int64_t price; /* cached for one pass */
	uint64_t price_gen;
};
TAILQ_HEAD(node_list, node);

/* One request being handled. */
struct rpc_entry;
struct rpc_req {
	struct mctld *ctx;
	struct peer *peer;
	const struct rpc_entry *entry;
	uint16_t type;
	uint32_t req_id;
	uid_t uid;
	gid_t gid;
	bool admin;
	bool replied;
	bool owner_checked; /* MSG_ACCESS_OWNER: owner_check() ran */
};

/*
 * How a peer's frames leave: a real connection (conn.h) or, in unit tests,
 * a fake transport that records them.  send copies buf.
 */
struct peer_ops {
	int (*send)(struct peer *p, const uint8_t *buf, size_t len);
	/* Stop talking to this peer; must call peer_closed(p). */
	void (*close)(struct peer *p);
	/* Close once what was sent is written (a peer that sent garbage);
	 * peer_closed(p) follows then.  May be NULL. */
	void (*close_after_flush)(struct peer *p);
};

/* mctld.c: the context, the loop, the housekeeping tick */
struct mctld_opts {
	bool no_auth;	/* unit tests: no credentials made or checked */
	bool no_listen; /* unit tests: no TCP listener */
};
struct mctld *mctld_create(struct conf *conf, const struct mctld_opts *opts,
			   struct mer_error *err);
void mctld_destroy(struct mctld *ctx); /* accepts NULL; frees conf too */
void mctld_run(struct mctld *ctx);
void mctld_turn_end(struct mctld *ctx); /* sched pass + commit */
/* The group commit, then the outbox (or its replies as errors). */
void mctld_commit(struct mctld *ctx);
/* Root, mctld's own uid and AdminUsers=: a question about the context,
 * asked by every layer. */
static inline bool mctld_is_admin(const struct mctld *ctx, uid_t uid)
{
	return uid == 0 || uid == ctx->uid || conf_is_admin(ctx->conf, uid);
}
void mctld_tick(struct mctld *ctx, int64_t now);
/* Something changed that may let a job start: urgent (resources freed,
 * node up, release) wants a pass this turn, otherwise (new submits) within
 * MCTLD_SCHED_MIN_INTERVAL_MS.  A flag on the context: the managers below
 * never call the scheduler above them. */
static inline void mctld_want_sched(struct mctld *ctx, bool urgent)
{
	if (urgent)
		ctx->sched_want_now = true;
	else
		ctx->sched_want_soon = true;
}

/* rpc.c: listener, peers, the RPC table, replies, the outbox */
struct rpc *rpc_create(struct mctld *ctx);
void rpc_destroy(struct rpc *rpc);
int rpc_listen(struct mctld *ctx, struct mer_error *err);
struct peer *peer_create(struct mctld *ctx, const char *name,
			 const struct peer_ops *ops, void *impl);
void peer_ref(struct peer *p);
void peer_unref(struct peer *p);
void *peer_impl(const struct peer *p);
const char *peer_name(const struct peer *p);
struct node *peer_node(const struct peer *p);
void peer_set_node(struct peer *p, struct node *n);
/* The connection is gone: forget its node link and its pushes. */
void peer_closed(struct peer *p, const char *why);
/* A whole frame arrived on p (credential not yet checked). */
void rpc_on_frame(struct peer *p, const struct frame_hdr *h,
		  const uint8_t *cred, const uint8_t *body);
/* Dispatch a request whose sender is already known to be uid/gid. */
void rpc_dispatch(struct mctld *ctx, struct peer *p, const struct frame_hdr *h,
		  uid_t uid, gid_t gid, const uint8_t *body);
/* Reply to r: at once, or through the outbox after the next commit for
 * the request types the table marks durable. */
void rpc_reply(struct rpc_req *r, const ProtobufCMessage *msg);
void rpc_reply_error(struct rpc_req *r, int code, const char *text);
size_t rpc_npeers(const struct mctld *ctx);

/* job_mgr.c: the job table, submit, cancel, hold, ends, purges */
/* A job's (or step's) state by name, for logs and reasons: the names of
 * src/common/states.c; NONE and INVALID for what a record should not
 * hold. */
static inline const char *job_state_name(Meridian__JobState s)
{
	if (s == MERIDIAN__JOB_STATE__JOB_STATE_NONE)
		return "NONE";
	if (!mer_job_state_known(s))
		return "INVALID";
	return mer_job_state_name(s);
}
static inline bool job_state_is_final(Meridian__JobState s)
{
	return mer_job_state_final(s);
}
/* Whether the state machine allows from -> to (the one table). */
bool job_state_allowed(Meridian__JobState from, Meridian__JobState to);
/* A job's needs and counts in force (its record's num_nodes, ntasks and
 * the per-node needs), out of it and back in. */
void job_mgr_res_of(const struct job *j, struct job_res *r);
void job_mgr_set_res(struct job *j, const struct job_res *r);
int job_res_compute(const Meridian__JobDesc *d, struct job_res *r,
		    struct mer_error *err);
/* Arguments and environment a job or step may carry: counts, bytes, and
 * NAME=VALUE; what names the job or step in the error. */
int job_mgr_check_exec(const char *what, char *const *argv, size_t nargv,
		       char *const *env, size_t nenv, struct mer_error *err);
struct job_mgr *job_mgr_create(struct mctld *ctx);
void job_mgr_destroy(struct job_mgr *jm);
/* Load one record from LMDB at start; takes ownership of rec. */
void job_mgr_load(struct mctld *ctx, Meridian__JobRecord *rec, int64_t now);
void job_mgr_set_next_id(struct job_mgr *jm, uint32_t id);
uint32_t job_mgr_next_id(const struct job_mgr *jm);
struct job *job_find(const struct mctld *ctx, uint32_t id);
size_t job_mgr_count(const struct mctld *ctx);
struct job_list *job_mgr_all(struct mctld *ctx);
struct job_list *job_mgr_pending(struct mctld *ctx);
struct job_list *job_mgr_running(struct mctld *ctx);
/* Check desc against the config: the partition, its limits and the
 * nodes it could ever give.  Fills res and *part.  What is derived from
 * the partition's nodes (the node count of -w, or of -n spread over
 * nodes) is written into desc, so that a reload derives the same. */
int job_mgr_validate(struct mctld *ctx, Meridian__JobDesc *desc,
		     const struct conf_partition **part, struct job_res *res,
		     uint32_t *time_limit, struct mer_error *err);
/* Submit: takes req->desc (set to NULL); the packed spec is queued for the
 * next commit.  Returns the job or NULL with errno and err. */
struct job *job_mgr_submit(struct mctld *ctx, Meridian__SubmitJobRequest *req,
			   uid_t uid, gid_t gid, struct mer_error *err);
int job_mgr_set_state(struct mctld *ctx, struct job *j, Meridian__JobState to);
void job_mgr_set_reason(struct job *j, const char *reason);
/* What job j has used from its start until `until`: its CPUs, each GPU
 * FairShareGpuWeight of them, times the seconds (what its end charges to
 * its user's fair-share usage). */
double job_mgr_usage(const struct mctld *ctx, const struct job *j,
		     int64_t until);
/* A running job lost with a node: requeued when it may be (--requeue,
 * JobRequeue=), else NODE_FAIL. */
void job_mgr_lost(struct mctld *ctx, struct job *j, int64_t now,
		  const char *why);
/* mctl requeue: a finished batch job back to pending; a running one is
 * cancelled and requeued when its end comes. */
int job_mgr_requeue(struct mctld *ctx, struct job *j, struct mer_error *err);
/* mctl update job Priority= (admins: fixed from then on) and Nice= (the
 * owner >= 0, admins any): 0, or -1 with errno and err. */
int job_mgr_set_priority(struct mctld *ctx, struct job *j, bool admin,
			 bool has_priority, uint32_t priority, bool has_nice,
			 int32_t nice, struct mer_error *err);
/* Where pending job j's --dependency stands (MET for a job without one):
 * its elements' states are updated (and kept with the job), its reason
 * set to Dependency or DependencyNeverSatisfied when not met.  *wake is
 * lowered to when a waiting after:ID+MIN will be met (0: none), and
 * *on_start set when an after: waits on a pending job's start. */
enum job_deps { JOB_DEPS_MET, JOB_DEPS_WAIT, JOB_DEPS_NEVER };
enum job_deps job_mgr_deps(struct mctld *ctx, struct job *j, int64_t now,
			   int64_t *wake, bool *on_start);
void job_mark_dirty(struct mctld *ctx, struct job *j);
/* Written with the next commit, which this does not force (or within a
 * tick). */
void job_mark_lazy(struct mctld *ctx, struct job *j);
void job_mgr_flush_lazy(struct mctld *ctx);
/* A new id for a job (submit, an array's task). */
uint32_t job_mgr_take_id(struct mctld *ctx);
/* Take a new PENDING job j (rec set) into the table, dirty. */
void job_mgr_adopt(struct mctld *ctx, struct job *j);

/* job_array.c: job arrays (mbatch --array) */
struct array_spec;
/* The array's record with tasks still to start. */
bool job_array_pending(const Meridian__JobRecord *r);
size_t job_array_npending(const Meridian__JobRecord *r);
/* --array of d parsed against MaxArraySize into a (empty when none). */
int job_array_check(struct mctld *ctx, const Meridian__JobDesc *d,
		    struct array_spec *a, struct mer_error *err);
/* The new record rec (job id set) becomes the array a (a is freed). */
void job_array_attach(Meridian__JobRecord *rec, struct array_spec *a);
/* The job to start for the array meta: a new record for its lowest
 * pending task whose aftercorr is met, or meta itself for its last one
 * (or a job not in an array); NULL when the task could not be made
 * (logged). */
struct job *job_array_split(struct mctld *ctx, struct job *meta);
/* Cancel the tasks of which still pending in meta; the number.  The
 * record ends CANCELLED (reason) when none is left to start. */
int job_array_cancel_pending(struct mctld *ctx, struct job *meta,
			     const struct array_spec *which,
			     const char *reason);

/* j ended: counted in its array's record (npending: j is the array's
 * record and ended with that many tasks never started). */
void job_array_ended(struct mctld *ctx, struct job *j, size_t npending);
/* j, a task, is pending again: no longer counted as ended. */
void job_array_requeued(struct mctld *ctx, struct job *j, bool was_final,
			bool was_ok);
/* An array's record: every task ended (*ok: all COMPLETED 0:0). */
bool job_array_done(const Meridian__JobRecord *r, bool *ok);
/* Every task has started. */
bool job_array_started(const Meridian__JobRecord *r);
/* aftercorr on the array target, for task: MET (it ended COMPLETED 0:0,
 * or the array ended without such a task), NEVER (it ended otherwise),
 * WAITING. */
Meridian__DepState job_array_corr(const Meridian__JobRecord *target,
				  uint32_t task);
/* aftercorr of the pending array m on the array target: MET when one of
 * m's pending tasks may start, NEVER when none ever may. */
Meridian__DepState job_array_corr_dep(const Meridian__JobRecord *m,
				      const Meridian__JobRecord *target);
/* The lowest pending task of meta whose every aftercorr is met, and how
 * many are (eligible may be NULL); UINT32_MAX none. */
uint32_t job_array_next_task(struct mctld *ctx, const struct job *meta,
			     size_t *eligible);

/* Allocation committed by the scheduler: PENDING -> RUNNING. */
int job_mgr_start(struct mctld *ctx, struct job *j,
		  Meridian__JobNodeAlloc **alloc, size_t nalloc);
/* End a RUNNING (or PENDING) job and free what it held. */
int job_mgr_end(struct mctld *ctx, struct job *j, Meridian__JobState state,
		int32_t exit_code, int32_t term_signal, int64_t end_time,
		const char *reason);
/* mrun ends the allocation it made (an interactive job). */
int job_mgr_complete(struct mctld *ctx, struct job *j, uid_t uid, bool admin,
		     int32_t exit_code, int32_t term_signal,
		     struct mer_error *err);
/* Per-job actions; code 0 or errno, text set on error. */
int job_mgr_cancel(struct mctld *ctx, struct job *j, uid_t uid, bool admin,
		   int sig, struct mer_error *err);
int job_mgr_hold(struct mctld *ctx, struct job *j, uid_t uid, bool admin,
		 Meridian__JobAction action, struct mer_error *err);
/* uid's user name (or the number) for reasons such as "Cancelled by". */
void job_mgr_who(struct mctld *ctx, uid_t uid, char *buf, size_t n);
/* A JobEnd from a node (JOB_END or a register's list). */
void job_mgr_node_end(struct mctld *ctx, const char *node,
		      const Meridian__JobEnd *end);
/* LAUNCH_JOB to the job's batch host after the next commit. */
void job_mgr_queue_launch(struct mctld *ctx, uint32_t job_id);
void job_mgr_launch_acked(struct mctld *ctx, uint32_t job_id, const char *node);
void job_mgr_launch_failed(struct mctld *ctx, uint32_t job_id, const char *node,
			   const char *text);
/* Housekeeping: purge finished jobs past MinJobAge; NODE_FAIL jobs whose
 * batch host is lost past their time limit + KillWait. */
void job_mgr_tick(struct mctld *ctx, int64_t now);
/* Flush support */
struct job_list *job_mgr_dirty(struct mctld *ctx);
void job_mgr_committed(struct mctld *ctx);
void job_mgr_drop_uncommitted(struct mctld *ctx);
void job_free(struct job *j);

/* step_mgr.c: job steps (mrun): create, cancel, their nodes' ends */
/* Check req against the job, number and lay out the step, queue its
 * LAUNCH_STEP pushes.  Takes req->desc.  NULL with errno and err. */
Meridian__StepRecord *step_create(struct mctld *ctx, struct job *j,
				  Meridian__StepCreateRequest *req,
				  struct mer_error *err);
/* mcancel JOB.STEP: signal (sig) or cancel (0) a running step on its
 * nodes; the job goes on.  -1 with errno and err. */
int step_cancel(struct mctld *ctx, struct job *j, uint32_t step_id, uid_t uid,
		bool admin, int sig, struct mer_error *err);
/* A node's StepEnd (STEP_END). */
void step_node_end(struct mctld *ctx, const char *node,
		   const Meridian__StepEnd *e);
/* A node could not start its share of a step. */
void step_launch_failed(struct mctld *ctx, uint32_t job_id, uint32_t step_id,
			const char *node, const char *text);

/* step_rec.c: the steps inside a job's record, their state table */
bool step_state_allowed(Meridian__JobState from, Meridian__JobState to);
/* Set s's state if the table allows it (else logged, false). */
bool step_set_state(const Meridian__JobRecord *rec, Meridian__StepRecord *s,
		    Meridian__JobState to);
bool step_is_running(const Meridian__StepRecord *s);
Meridian__StepRecord *step_find(struct job *j, uint32_t step_id);
bool step_any_running(const struct job *j);
void steps_append(Meridian__JobRecord *rec, Meridian__StepRecord *s);
/* Drop the oldest finished steps beyond what a record keeps. */
void steps_trim(Meridian__JobRecord *rec);
/* The worst state the ended nodes of s gave so far (COMPLETED: none). */
Meridian__JobState step_worst_state(const Meridian__StepRecord *s);
/* Whether node end e (state st) explains the step worse than the node
 * ends folded into s so far. */
bool step_end_worse(const Meridian__StepRecord *s, Meridian__JobState st,
		    const Meridian__StepEnd *e);
/* s ends in state st at when (0: now). */
void step_finish(const Meridian__JobRecord *rec, Meridian__StepRecord *s,
		 Meridian__JobState st, int64_t when);
/* The job ends: its running steps end with it (why, when no node said
 * more).  Whether any did (the record changed). */
bool step_end_all(Meridian__JobRecord *rec, const char *why);
/* Queue SIGNAL_JOB for every node that runs a step of j, except skip. */
void step_signal_nodes(struct mctld *ctx, struct job *j, int sig, bool cancel,
		       const char *reason, const char *skip);

/* node_mgr.c: nodes from the config, registration, liveness, resources */
struct node_mgr *node_mgr_create(struct mctld *ctx, struct mer_error *err);
void node_mgr_destroy(struct node_mgr *nm);
size_t node_mgr_count(const struct mctld *ctx);
struct node *node_at(const struct mctld *ctx, size_t i);
struct node *node_find(const struct mctld *ctx, const char *name);
/* Nodes of a partition in config order. */
struct node **node_mgr_partition(const struct mctld *ctx,
				 const struct conf_partition *p, size_t *n);
/* Opens the "nodes" table, loads what admins set, registers the commit
 * source. */
int node_mgr_open_state(struct mctld *ctx, struct mer_error *err);
bool node_usable(const struct node *n);
/* Whether a node's link may go from -> to (enum node_link, node_mgr.c's
 * one table). */
bool node_link_allowed(int from, int to);
bool node_lost(const struct mctld *ctx, const struct node *n, int64_t now);
/* Since when its jobs count as lost, 0 when it is not. */
int64_t node_lost_since(const struct mctld *ctx, const struct node *n,
			int64_t now);
/* job_id ended while n was not responding: kill it there when n is heard
 * from again (node_seen), unless n registers first (reconcile). */
void node_orphan_add(struct node *n, uint32_t job_id);
/* n said job_id ended there, or does not run it. */
void node_orphan_del(struct node *n, uint32_t job_id);
bool node_has_orphan(const struct node *n, uint32_t job_id);
Meridian__NodeState node_state(const struct node *n);
const char *node_state_name(const struct node *n); /* its states.c name */
/* Capacity known (configured, or reported at registration)? */
bool node_cpus_known(const struct node *n);
bool node_mem_known(const struct node *n);
bool node_gpus_known(const struct node *n);
void node_alloc(struct mctld *ctx, struct node *n, uint32_t job_id,
		uint32_t cpus, uint64_t mem, uint64_t gpu_mask);
void node_release(struct mctld *ctx, struct node *n, uint32_t job_id,
		  uint32_t cpus, uint64_t mem, uint64_t gpu_mask);
void node_seen(struct mctld *ctx, struct node *n);
/* NODE_REGISTER: the node it names, when the message is well formed and
 * the node is in meridian.conf; NULL with errno and err. */
struct node *node_mgr_check_register(struct mctld *ctx,
				     const Meridian__NodeRegister *reg,
				     struct mer_error *err);
/* Take what n reports (its gpus may be taken from reg); n is up.  The
 * caller has bound n to its connection (n->peer). */
void node_mgr_register(struct mctld *ctx, struct node *n,
		       Meridian__NodeRegister *reg);
int node_mgr_update(struct mctld *ctx, const Meridian__UpdateNodeRequest *req,
		    uid_t uid, uint32_t *updated, struct mer_error *err);
/* Fill info (strings point into the node; valid until the next change). */
void node_mgr_info(struct mctld *ctx, const struct node *n,
		   Meridian__NodeInfo *info);
void node_mgr_info_free(Meridian__NodeInfo *info);
void node_mgr_tick(struct mctld *ctx, int64_t now);

/* reconcile.c: what a registering node runs against what mctld has */
/* Fills reply->kill_jobs (malloc'd): jobs the node must kill. */
void reconcile_node(struct mctld *ctx, struct node *n,
		    const Meridian__NodeRegister *reg,
		    Meridian__NodeRegisterReply *reply);

/* coords.c: network coordinates (Vivaldi), latency of unprobed pairs */
struct coords;
struct coords_sample {
	size_t a, b;  /* node indices */
	double rtt_s; /* measured round trip, seconds */
};
struct coords *coords_create(size_t n); /* n nodes, all unknown */
void coords_destroy(struct coords *cs); /* accepts NULL */
/* One measured round trip between a and b moves both. */
void coords_observe(struct coords *cs, size_t a, size_t b, double rtt_s);
/* Every sample, rounds times over (a fit from scratch or a refresh). */
void coords_fit(struct coords *cs, const struct coords_sample *s, size_t ns,
		unsigned rounds);
/* The estimated round trip between i and j, seconds. */
double coords_estimate(const struct coords *cs, size_t i, size_t j);
/* How unsure node i's coordinate is (relative error, 1 knows nothing). */
double coords_error(const struct coords *cs, size_t i);

/* links.c: the node-to-node link matrix, measured or estimated */
struct links;
struct links_info {
	double lat_s;  /* one way */
	double bw_Bps; /* 0: nothing known */
	bool measured; /* false: estimated */
	int64_t when;  /* of the measurement it rests on, 0 none */
};
/* n nodes; region[i] any number naming node i's region (NULL: one). */
struct links *links_create(size_t n, const uint32_t *region);
void links_destroy(struct links *l); /* accepts NULL */
/* Node i's measured rates to and from the controller, bytes/s. */
void links_set_rates(struct links *l, size_t i, double up_Bps, double down_Bps);
/* A probe of from -> to; -1 for a value that is not one. */
int links_measured(struct links *l, size_t from, size_t to, double lat_s,
		   double bw_Bps, int64_t when);
/* Fit the coordinates again from every measured pair. */
void links_refit(struct links *l);
/* What is known of from -> to; -1 for a pair that is not one. */
int links_get(const struct links *l, size_t from, size_t to,
	      struct links_info *out);

/* probe_graph.c: which pairs probe each other in one ProbeInterval */
struct probe_graph_node {
	uint32_t region; /* any number naming its region */
	bool usable;	 /* may be probed (registered, up) */
	bool accepts;	 /* takes probe connections (not behind NAT) */
};
/* The estimated latency from i to j, for the nearest peers. */
struct probe_graph_lat {
	double (*fn)(void *arg, size_t i, size_t j);
	void *arg;
};
/* Node i's peers are adj[i * budget .. + deg[i]); a pair is in both rows. */
struct probe_graph {
	size_t n;
	uint32_t budget; /* the most pairs a node is in */
	uint32_t *deg;
	uint32_t *adj;
};
/* An empty graph of n nodes, its arrays freed by probe_graph_free. */
int probe_graph_init(struct probe_graph *g, size_t n, uint32_t budget);
void probe_graph_free(struct probe_graph *g);
/* Add i - j: false when one end is full or not usable, neither accepts,
 * or the pair is in already. */
bool probe_graph_add(struct probe_graph *g, const struct probe_graph_node *nd,
		     size_t i, size_t j);
bool probe_graph_has(const struct probe_graph *g, size_t i, size_t j);
/* The interval's pairs (probe_graph.c's rule) on top of those added;
 * epoch numbers the interval, lat may be NULL. */
void probe_graph_fill(struct probe_graph *g, const struct probe_graph_node *nd,
		      uint64_t epoch, const struct probe_graph_lat *lat);

/* usage.c: each user's decayed usage (CPU-seconds, GPUs weighted), the
 * "usage" table */
int usage_open(struct mctld *ctx, struct mer_error *err);
void usage_close(struct mctld *ctx); /* accepts a context without one */
/* A job's usage (CPU-seconds) for uid, as of now. */
void usage_charge(struct mctld *ctx, uint32_t uid, double amount, int64_t now);
/* uid's usage decayed to now, 0 none. */
double usage_of(const struct mctld *ctx, uint32_t uid, int64_t now);
/* Every user's, up to max, into uids and usage; how many. */
size_t usage_users(const struct mctld *ctx, uint32_t *uids, double *usage,
		   size_t max, int64_t now);
size_t usage_count(const struct mctld *ctx);

/* mail.c: --mail-type's mails through MailProg (never waited for) */
enum { MAIL_BEGIN = 1, MAIL_END = 2, MAIL_FAIL = 4, MAIL_REQUEUE = 8 };
bool mail_user_ok(const char *user); /* no leading '-', plain chars */
void mail_job(struct mctld *ctx, const struct job *j, unsigned event);

/* priority.c: PriorityType=priority/multifactor over the pending jobs */
struct prio_in {
	int64_t now, eligible; /* eligible: submit or --begin */
	uint32_t num_nodes, total_nodes;
	uint32_t part_factor, max_part_factor; /* PriorityJobFactor= */
	uint32_t qos_prio, max_qos_prio;       /* QosName= Priority= */
	double usage, total_usage;	       /* the user's, everyone's */
	uint32_t nusers;		       /* users sharing the cluster */
	int32_t nice;
};
/* The weighted factors and their sum less nice (at least 1). */
uint32_t priority_factors(const struct conf *c, const struct prio_in *in,
			  Meridian__PriorityFactors *out);
/* Every pending job's priority and factors, now (multifactor only; a
 * priority an admin fixed stays). */
void priority_pass(struct mctld *ctx, int64_t now);

/* limits.c: QOS and accounts, their limits */
/* At submit, first: d's account checked, or the user's default put in
 * d (with AccountName= lines). */
int limits_account(struct mctld *ctx, Meridian__JobDesc *d, const char *user,
		   bool admin, struct mer_error *err);
/* Then, once the job is valid: d's QOS checked (the default put in d), the
 * limits fixed per job and on jobs submitted; *time_limit cut to the
 * QOS's MaxWall.  njobs: jobs the submit adds (an array's tasks). */
int limits_submit(struct mctld *ctx, Meridian__JobDesc *d, const char *user,
		  uint32_t uid, bool admin, const struct job_res *res,
		  uint32_t *time_limit, uint32_t njobs, struct mer_error *err);
/* j->qos and j->acct from its record, after a submit or a load. */
void limits_bind(struct mctld *ctx, struct job *j);
/* At the start of a pass: count the running jobs. */
void limits_pass(struct mctld *ctx);
/* The limit j waits for (a reason), NULL none; limits_started once it
 * starts. */
const char *limits_wait(struct mctld *ctx, const struct job *j);
void limits_started(struct mctld *ctx, const struct job *j);
void limits_free(struct mctld *ctx);

/* probe.c: the link probes mctld plans, the matrix they fill (the
 * "probes" table) */
int probe_open(struct mctld *ctx, struct mer_error *err);
void probe_close(struct mctld *ctx); /* accepts a context without one */
/* Plan what is due, forget what ran out of time. */
void probe_tick(struct mctld *ctx, int64_t now);
/* n registered: the graph of pairs takes it in; it is reachable again. */
void probe_node_joined(struct mctld *ctx, struct node *n);
/* A node answered PROBE_ARM or PROBE_RUN (error NULL: acknowledged). */
void probe_push_answered(struct mctld *ctx, const char *node, uint16_t type,
			 uint32_t id, const char *error);
/* n's PROBE_RESULT: 0, or -1 with errno and err for a result that is
 * not n's to give or not believable. */
int probe_result(struct mctld *ctx, struct node *n,
		 const Meridian__ProbeResult *res, struct mer_error *err);
/* from -> to (node indices); -1 out of range. */
int probe_link(const struct mctld *ctx, size_t from, size_t to,
	       struct links_info *out);
/* Node i's bandwidth tier (NULL below the lowest or never measured), and
 * its down rate (bit/s, 0 unknown). */
const char *probe_tier(const struct mctld *ctx, size_t i, uint64_t *down_bps);
/* Fill info's link fields (tier, up/down, last probe). */
void probe_node_info(const struct mctld *ctx, const struct node *n,
		     Meridian__NodeInfo *info);
/* LINK_INFO; the reply's arrays are freed by probe_link_info_free. */
int probe_link_info(struct mctld *ctx, const Meridian__LinkInfoRequest *req,
		    Meridian__LinkInfoReply *rep, struct mer_error *err);
void probe_link_info_free(Meridian__LinkInfoReply *rep);
/* The controller's probe port really bound, 0 none. */
uint16_t probe_port(const struct mctld *ctx);

/* sched.c: the scheduling pass over the sched and select plugins */
struct sched *sched_create(struct mctld *ctx, struct mer_error *err);
void sched_destroy(struct sched *s);
void sched_maybe_run(struct mctld *ctx);
void sched_run(struct mctld *ctx);
/* Where j (not submitted: mquote) would go now, and what it would cost:
 * rep filled (free with sched_quote_free), fits_now false with the
 * select plugin's reason when it would wait.  -1 with err only when no
 * answer can be made. */
int sched_quote(struct mctld *ctx, const struct job *j,
		Meridian__QuoteReply *rep, struct mer_error *err);
void sched_quote_free(Meridian__QuoteReply *rep);
uint64_t sched_passes(const struct mctld *ctx);
/* A pass with ops/state in place of SchedulerType='s plugin: the same
 * view, try_start, trial, reserve and wake_at (unit tests drive the core's
 * side of the sched API through it). */
void sched_run_with(struct mctld *ctx, const struct mer_sched_ops *ops,
		    void *state);
/* The time the last pass's plugin asked to be called again (wake_at), 0
 * none; a pass runs then (a timer, on a loop). */
int64_t sched_wake_time(const struct mctld *ctx);
/* Refuse a meridian.conf key that neither the core nor a loaded plugin
 * (price, and s's sched and select) owns; mctld_create calls it once
 * every plugin is loaded. */
int sched_check_conf_keys(struct mctld *ctx, const struct sched *s,
			  struct mer_error *err);

/* price.c: the price plugin driver */
struct price *price_create(struct mctld *ctx, struct mer_error *err);
void price_destroy(struct price *p);
/* Micro-dollars per GPU-hour of n now; -1 when it cannot be priced
 * (logged). */
int64_t price_gpu_hour(struct mctld *ctx, struct node *n, int64_t now);
/* Same, cached for the duration of one scheduling pass (gen). */
int64_t price_gpu_hour_cached(struct mctld *ctx, struct node *n, uint64_t gen,
			      int64_t now);
/* The meridian.conf keys the price plugin owns (NULL none); they live as
 * long as ctx->price. */
const struct mer_plugin_key *price_conf_keys(const struct mctld *ctx);

/* outbox.c: replies and pushes that wait for the commit */
/* How the outbox reaches the world; rpc.c registers it.  reply sends a
 * whole frame to p (counted as a reply); hold/drop keep p alive while a
 * reply waits; push sends a request to node now, -1 when node is not
 * connected: its body is msg, or when msg is NULL the len bytes at body,
 * already packed. */
struct outbox_transport {
	void (*reply)(struct peer *p, const uint8_t *frame, size_t len);
	void (*hold)(struct peer *p);
	void (*drop)(struct peer *p);
	int (*push)(struct mctld *ctx, const char *node, uint16_t type,
		    const ProtobufCMessage *msg, const uint8_t *body,
		    size_t len, uint32_t job_id, uint32_t step_id);
};
/* A push that found its node gone (LAUNCH_STEP makes the step fail). */
typedef void (*outbox_undelivered_fn)(struct mctld *ctx, uint32_t job_id,
				      uint32_t step_id, const char *node);
/* Work that runs after the commit, with what the commit made durable. */
typedef void (*outbox_call_fn)(struct mctld *ctx, uint32_t id);
struct outbox *outbox_create(struct mctld *ctx);
void outbox_destroy(struct outbox *ob); /* accepts NULL */
void outbox_set_transport(struct outbox *ob, const struct outbox_transport *t);
/* A reply frame (taken) for p after the commit. */
void outbox_reply(struct mctld *ctx, struct peer *p, uint16_t type,
		  uint32_t req_id, uint8_t *frame, size_t len);
/* A packed request (body, taken) for node after the commit. */
void outbox_push(struct mctld *ctx, const char *node, uint16_t type,
		 uint32_t job_id, uint32_t step_id, uint8_t *body, size_t len,
		 outbox_undelivered_fn undelivered);
/* SIGNAL_JOB for the job (step_id < 0) or one step on node. */
void outbox_signal(struct mctld *ctx, const char *node, uint32_t job_id,
		   int64_t step_id, int sig, bool cancel, const char *reason);
/* The same, for the batch script only or the steps only (SignalScope). */
void outbox_signal_scope(struct mctld *ctx, const char *node, uint32_t job_id,
			 int64_t step_id, int sig, bool cancel,
			 const char *reason, int scope);
/* fn(ctx, id) after the next successful commit. */
void outbox_call(struct mctld *ctx, outbox_call_fn fn, uint32_t id);
/* From an outbox_call_fn only: send msg to node now. */
int outbox_send_now(struct mctld *ctx, const char *node, uint16_t type,
		    const ProtobufCMessage *msg, uint32_t job_id,
		    uint32_t step_id);
/* After a commit (ok) or its failure (replies become errors with code and
 * why; pushes and calls stay queued for the next commit). */
void outbox_flush(struct mctld *ctx, bool ok, int code, const char *why);
bool outbox_empty(const struct mctld *ctx);

/* state.c: LMDB and the group commit; it knows no subsystem */
/* Opens StateDir (one mctld per StateDir), checks its schema version:
 * refuses a newer one, migrates an older one. */
struct state *state_open(const char *dir, struct mer_error *err);
void state_close(struct state *st); /* accepts NULL */
/* The version StateDir held when opened (before any migration). */
uint32_t state_schema_found(const struct state *st);
/* A named table, created when absent; *db is valid until state_close. */
int state_db_open(struct state *st, const char *name, unsigned *db,
		  struct mer_error *err);
/* Each record in key order; fn's pointers live for the call; fn < 0
 * stops. */
int state_each(struct state *st, unsigned db,
	       int (*fn)(const void *k, size_t klen, const void *v, size_t vlen,
			 void *arg),
	       void *arg, struct mer_error *err);
/* As state_each, from the first key >= from (flen 0: the first key);
 * inside a commit (a source's collect) it sees the commit's writes. */
int state_range(struct state *st, unsigned db, const void *from, size_t flen,
		int (*fn)(const void *k, size_t klen, const void *v,
			  size_t vlen, void *arg),
		void *arg, struct mer_error *err);
/* How many records db holds. */
int state_count(struct state *st, unsigned db, size_t *n,
		struct mer_error *err);
/* fn on the value of key (pointers live for the call); -1 with errno
 * ENOENT when absent.  Returns what fn returns. */
int state_get(struct state *st, unsigned db, const void *key, size_t klen,
	      int (*fn)(const void *v, size_t vlen, void *arg), void *arg,
	      struct mer_error *err);
/* Writes: only from a commit source's collect. */
int state_put(struct state *st, unsigned db, const void *key, size_t klen,
	      const void *val, size_t vlen, struct mer_error *err);
int state_put_msg(struct state *st, unsigned db, const void *key, size_t klen,
		  const ProtobufCMessage *msg, struct mer_error *err);
int state_del(struct state *st, unsigned db, const void *key, size_t klen,
	      struct mer_error *err);
/* A subsystem with durable data: pending says whether it has anything to
 * write; collect writes it (count of writes, or -1 with err); done says
 * whether the commit holding it succeeded. */
struct state_source {
	const char *name;
	bool (*pending)(void *arg);
	long (*collect)(struct state *st, void *arg, struct mer_error *err);
	void (*done)(void *arg, bool ok);
};
void state_add_source(struct state *st, const struct state_source *src,
		      void *arg);
/* The group commit, once per turn: 0 when nothing was to be written or it
 * committed; -1 with errno and err when it did not (every source was told,
 * the failure logged). */
int state_commit(struct state *st, struct mer_error *err);
/* Unit tests: make the next commit fail with LMDB error rc. */
void state_fail_next_commit(struct state *st, int rc);
uint64_t state_commits(const struct state *st);
/* Unmap the clean database pages the last commits touched (RSS). */
void state_trim(struct state *st);
/* Log (debug) what the commits since the last call cost. */
void state_log_stats(struct state *st);
/* Ids as keys: 4 bytes big-endian, so a cursor walks them in order. */
void state_u32_key(uint32_t id, uint8_t key[4]);
uint32_t state_key_u32(const void *key, size_t len); /* 0: not 4 bytes */

/* job_store.c: the jobs' tables (jobs, specs, next_job_id) */
/* Opens them, loads every job, registers the commit source. */
int job_store_open(struct mctld *ctx, struct mer_error *err);
void job_store_close(struct mctld *ctx);
/* A spec to write (packed, taken) or delete with the next commit. */
void job_store_queue_spec(struct mctld *ctx, uint32_t id, uint8_t *packed,
			  size_t len);
void job_store_queue_spec_delete(struct mctld *ctx, uint32_t id);
/* The job's record and spec leave the tables with the next commit. */
void job_store_queue_delete(struct mctld *ctx, uint32_t id);
/* Queue a copy of job from's spec as job to's.  0, or -1 with err. */
int job_store_copy_spec(struct mctld *ctx, uint32_t from, uint32_t to,
			struct mer_error *err);
/* NULL with errno ENOENT when absent; free with
 * meridian__job_spec__free_unpacked. */
Meridian__JobSpec *job_store_get_spec(struct mctld *ctx, uint32_t id,
				      struct mer_error *err);

/* history.c: the records of jobs gone from memory (macct) */
int history_open(struct mctld *ctx, struct mer_error *err);
void history_close(struct mctld *ctx);
/* Keep rec (a job leaving memory, about to be freed: what history does
 * not keep is stripped from it) with the next commit. */
void history_add(struct mctld *ctx, Meridian__JobRecord *rec);
size_t history_count(const struct mctld *ctx); /* records committed */
/* Whether rec passes every filter of req (at now: the window's default
 * end). */
bool history_match(const Meridian__JobHistoryRequest *req,
		   const Meridian__JobRecord *rec, int64_t now);
/* A page of a JOB_HISTORY reply: records up to budget bytes (the first
 * always fits); owned ones are freed with the page, borrowed ones are
 * the job table's. */
struct history_page {
	Meridian__JobRecord **jobs;
	size_t *sizes; /* each one's packed size */
	bool *owned;
	size_t n, cap, used, budget;
	uint8_t next[16]; /* where the next page starts, next_len 0: done */
	size_t next_len;
};
/* Add to pg the history's records that match req, from cursor from
 * (flen 0: the window's start); sets pg->next when the page filled.
 * 0, or -1 with err. */
int history_scan(struct mctld *ctx, const Meridian__JobHistoryRequest *req,
		 const void *from, size_t flen, struct history_page *pg,
		 struct mer_error *err);
void history_page_borrow(struct history_page *pg, Meridian__JobRecord *rec,
			 size_t size);
void history_page_free(struct history_page *pg);

/* pbstr.c: string fields of records (malloc'd or protobuf_c_empty_string),
 * for every layer. */
void pb_set_str(char **field, const char *val);
/* The same for a reason a node sent: cut to MCTLD_MAX_REASON bytes. */
void pb_set_reason(char **field, const char *val);
void pb_free_str(char **field);

#endif
