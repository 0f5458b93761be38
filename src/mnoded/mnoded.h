/*
 * mnoded.h - the node daemon: one per node, several per machine in tests.
 *
 * mnoded reads its node's topology (hwloc), dials out to mctld and keeps
 * one connection, starts one mstepd per batch job and one per job step
 * (mrun) that has ranks on this node, and reports their ends; it makes
 * each job's TMPDIR here and removes it once the job ended (tmpdir.c).
 * It owns nothing a job needs to keep running: each mstepd is a separate
 * session, and everything mnoded knows about it is in the spool
 * directory:
 *
 *   SPOOL/                     SpoolDir= with %n = the node name (0755)
 *     mnoded.lock              flock()ed while an mnoded serves this node
 *     job.<id>/                one per batch job (root, 0700 then 0711)
 *       launch                 the LaunchJob as mctld sent it (0600)
 *       script                 the batch script (the job's user, 0700)
 *       stepd.sock             mstepd listens here once the mnoded that
 *                              started it is gone (root, 0600)
 *       pgid                   "PGID UID" of the script's group (0600)
 *       end                    the packed JobEnd (0600)
 *     step.<job>.<step>/       this node's share of a step (root, 0711)
 *       launch                 the LaunchStep, topology_file filled (0600)
 *       stepd.sock, pgid as for a job (pgid: the ranks')
 *       end                    the packed StepEnd (0600)
 *     spare.<n>/               a directory an ended unit left for the next
 *                              one: launch, pgid and end kept but empty,
 *                              so that a job makes and frees no inode for
 *                              them (spool.h); at most UNIT_SPARES_MAX
 *     tmpdirs                  one line per change of this node's TMPDIRs:
 *                              "+ JOB RUN PATH" made, "- JOB RUN" gone
 *                              (root, 0600; appended to, kept small)
 *
 *   TMPFS/meridian.<job>.XXXXXX  the job's TMPDIR (its user, 0700), from
 *                              its first unit here until it ended here
 *
 * The files mnoded and mstepd both know (launch, pgid, end) have their
 * one writer and one reader in src/common/spool.h.  Both a job and a step
 * share are a `struct unit` here (unit.c); launch.c and steps.c hold what
 * differs.
 *
 * A job or step is running while its mstepd holds a connection open to
 * mnoded (the socketpair it was started with, or stepd.sock after an
 * mnoded restart) and a flock on its launch file; it has ended once `end`
 * holds a record (an empty file is none).  mstepd logs to its stderr,
 * which mnoded makes its own log.  Once mctld has acknowledged the end,
 * mnoded keeps the directory as a spare, or removes it.
 *
 * Prototypes are grouped by source file.
 */
#ifndef MER_MNODED_H
#define MER_MNODED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/types.h>

#include <event2/event.h>
#include <hwloc.h>

#include "auth.h"
#include "conf.h"
#include "conn.h"
#include "log.h"
#include "meridian.pb-c.h"
#include "merr.h"
#include "util.h"

/* How a GPU talks to another GPU of the node (Meridian__GpuPeer). */
struct topo_gpu_peer {
	uint32_t gpu;  /* the other GPU's index in topo.gpus */
	uint32_t kind; /* enum hwgpu_link_kind, never HWGPU_LINK_UNKNOWN */
	uint32_t mbs;  /* NVLink MB/s one way; 0 not NVLink or unknown */
};

/* One GPU as the node reports it (Meridian__Gpu without the protobuf). */
struct topo_gpu {
	char *model;	    /* short lower-case name: "a100"; "" unknown */
	char *pci_bus_id;   /* "0000:3b:00.0"; "" for a configured-only GPU */
	char *cpuset;	    /* the PUs local to the GPU, list form "0-3" */
	int numa_node;	    /* NUMA node of the GPU, -1 unknown */
	uint64_t memory_mb; /* 0 unknown */
	/* one per other GPU whose link hwloc tells, in index order; none
	 * for a configured-only GPU.  malloc'd, owned with the GPU. */
	struct topo_gpu_peer *peers;
	size_t npeers;
};

/*
 * What a node has.  CPUs are PUs (hardware threads), as Slurm counts CPUs;
 * GPUs are in PCI bus id order, which is the order CUDA numbers them in
 * with CUDA_DEVICE_ORDER=PCI_BUS_ID, so index i here is CUDA device i.
 */
struct topo {
	uint32_t cpus; /* PUs */
	uint32_t cores;
	uint32_t sockets;
	uint32_t numa_nodes;
	uint64_t memory_mb; /* total over the NUMA nodes */
	char *cpuset;	    /* every PU, list form "0-15" */
	struct topo_gpu *gpus;
	size_t ngpus;
	char *source; /* the XML file it came from, or "this machine" */
};

/* At most this many spare unit directories are kept (unit.c): enough
 * for a burst of ends before the starts that take them; one more is
 * removed. */
#define UNIT_SPARES_MAX 32

/* The one context of the daemon, built in main() and passed down. */
struct unit;
struct ctl;
struct probes;
struct tmpdirs;
TAILQ_HEAD(unit_list, unit);

struct mnoded {
	struct conf *conf;
	const struct conf_node *node; /* this node's stanza in conf */
	const char *name;	      /* -N */
	char *spool;		      /* SpoolDir with %n expanded */
	char *topology_file;	      /* the stanza's TopologyFile=, made
				       * absolute; "" this machine */
	enum log_level log_level;
	struct topo *topo;
	struct auth *auth;
	struct event_base *base;
	struct ctl *ctl;
	struct probes *probes;	 /* probes.c */
	struct tmpdirs *tmpdirs; /* tmpdir.c; NULL: jobs get no TMPDIR */
	struct unit_list units;	 /* batch jobs and step shares, in
				  * the order they came */
	/* SPOOL/spare.<n> directories kept from ended units for the next
	 * ones (unit.c), the last kept taken first; one whose mstepd is not
	 * reaped yet waits for it (pid), then is emptied.  spare_next names
	 * the next. */
	struct spare {
		uint32_t n;
		pid_t pid; /* its last mstepd, still to be reaped; 0 */
	} spares[UNIT_SPARES_MAX];
	unsigned nspares;
	uint32_t spare_next;
	int64_t boot_time;
	char hostname[256];
	int lock_fd;
	uint32_t step_req_id; /* last req_id sent to an mstepd */
};

/* topo.c */
/* Load the topology of this machine (xml_file NULL or "") or of an hwloc
 * XML file, with the important I/O devices.  The result is owned by the
 * caller (topo_free).  NULL with err on failure. */
struct topo *topo_load(const char *xml_file, struct mer_error *err);
void topo_free(struct topo *t); /* accepts NULL */
/* Apply a NodeName= stanza: CPUs= and RealMemory= replace what hwloc saw
 * (the admin's word, as in Slurm); Gres=gpu:MODEL:N stands in for GPUs
 * hwloc did not find (with no peers), or limits the ones it found to N
 * (and their peers to those N).  Each mismatch
 * worth an admin's attention is appended to warnings as one line. */
void topo_apply_conf(struct topo *t, const struct conf_node *cn,
		     struct strbuf *warnings);
/* The topology as protobuf GPUs for NodeRegister: a malloc'd array of n
 * malloc'd messages (their peers malloc'd too) whose strings point into t
 * (valid while t lives); free with topo_gpus_msg_free. */
Meridian__Gpu **topo_gpus_msg(const struct topo *t, size_t *n);
void topo_gpus_msg_free(Meridian__Gpu **g, size_t n);
/* g's NVLink peers for a log line, " nvlink 1,2,3" ("" when none);
 * malloc'd. */
char *topo_gpu_nvlink_list(const struct topo_gpu *g);

/* gpu.c */
/* Find the GPUs of a loaded topology, deduplicated by PCI bus id (a GPU
 * may show as cudaN, nvmlN and an OpenCL device at once) and sorted by it,
 * with their links to each other (hwgpu_links).  *gpus is malloc'd (free
 * each with gpu_free_all). */
int gpu_discover(hwloc_topology_t topo, struct topo_gpu **gpus, size_t *n,
		 struct mer_error *err);
void gpu_free_all(struct topo_gpu *gpus, size_t n);
/* "NVIDIA A100-SXM4-80GB" -> "a100", "Tesla V100-SXM3-32GB-H" -> "v100",
 * "GH100 [H100 PCIe]" -> "h100", "NVIDIA GeForce RTX 4090" -> "rtx4090".
 * malloc'd; "" when nothing looks like a model. */
char *gpu_model_short(const char *name);

/* unit.c: what batch jobs and step shares have in common: a directory in
 * the spool, the start of their mstepd, the connection to it, what it
 * leaves behind */
enum unit_kind {
	UNIT_JOB = 0, /* a batch job's script, on its batch host */
	UNIT_STEP,    /* this node's share of a job step */
};

/* What the kinds do differently: launch.c's launch_unit_ops for jobs,
 * steps.c's steps_unit_ops for step shares. */
struct unit_ops {
	const char *noun; /* "job", "step", for logs */
	mode_t dir_mode;  /* of its directory once made */
	/* dir/end, checked to be this unit's; NULL when missing (ENOENT)
	 * or undecodable or another's (EBADMSG).  Free with
	 * protobuf_c_message_free_unpacked. */
	ProtobufCMessage *(*end_read)(const struct unit *u);
	/* The end (FAILED, reason) of a unit whose mstepd left none or
	 * could not be executed (then called in the forked child): written
	 * to dir/end (unit_end_record) and returned unpacked, the caller's
	 * to free, even when the spool cannot be written. */
	ProtobufCMessage *(*end_failed)(const struct unit *u,
					const char *reason);
	/* u has just ended (u->end set): log it, report it to mctld (a
	 * job's as JOB_END, a step share's as STEP_END), and whatever else
	 * follows from it. */
	void (*ended)(struct unit *u);
};

/* One batch job or step share, in d->units from its start (or the
 * start-up scan) until mctld acknowledged its end. */
struct unit {
	TAILQ_ENTRY(unit) link;
	struct mnoded *d;
	enum unit_kind kind;
	const struct unit_ops *ops; /* its kind's */
	uint32_t job_id;
	uint32_t step_id;   /* UNIT_STEP; 0 for a job */
	char what[32];	    /* "job 12", "step 12.3", for logs */
	char *dir;	    /* SPOOL/job.<id>, SPOOL/step.<job>.<step> */
	struct conn *stepd; /* to its mstepd; NULL once it ended */
	pid_t pid;	    /* its mstepd while our child, until reaped */
	bool ours;	    /* started by us (not found by the start-up scan) */
	union {		    /* set once ended (from the end file); */
		ProtobufCMessage *msg;	 /* owned by the unit */
		Meridian__JobEnd *job;	 /* UNIT_JOB */
		Meridian__StepEnd *step; /* UNIT_STEP */
	} end;
	bool end_in_flight; /* JOB_END/STEP_END sent, no Ack yet */
	bool end_synced;    /* its end file fsync'ed (unit_sync_ends) */
	bool cancel_sent;   /* a cancel went to its mstepd */
};

/* The unit of job job_id (UNIT_JOB; step_id ignored) or of step
 * job_id.step_id (UNIT_STEP), or NULL. */
struct unit *unit_find(struct mnoded *d, enum unit_kind kind, uint32_t job_id,
		       uint32_t step_id);
/*
 * Start a unit: take a spare directory or create one (root, 0700, then
 * its kind's mode), write the len bytes of launch (the packed LaunchJob
 * or LaunchStep) as its launch file, name it for the unit and start
 * `MstepdPath -s DIR -j JOB [-S STEP] -N NODE -L LEVEL` in its own
 * session, with fd 3 one end of a socketpair mnoded watches and fd 2
 * mnoded's log.  A directory left over from an earlier mnoded is removed
 * first: the caller knows of no unit there.  Returns the unit, in
 * d->units (already ended when its mstepd cannot be watched), or NULL
 * with err and errno, the directory removed.
 */
struct unit *unit_start(struct mnoded *d, enum unit_kind kind, uint32_t job_id,
			uint32_t step_id, const uint8_t *launch, size_t len,
			struct mer_error *err);
/* sj to u's mstepd (naming the step, for a step share): 0, also when it
 * already ended; -1 with err when its mstepd is unreachable. */
int unit_signal(struct unit *u, const Meridian__SignalJob *sj,
		struct mer_error *err);
/* Write end to u's end file (a failure is logged) and return it unpacked,
 * the caller's to free: for the kinds' end_failed. */
ProtobufCMessage *unit_end_record(const struct unit *u,
				  const ProtobufCMessage *end);
/* mctld has u's end committed: keep its directory as a spare (when we
 * started its mstepd; emptied once that is reaped) or remove it, and
 * forget u.  Accepts
 * NULL and a unit not ended (nothing done). */
void unit_end_acked(struct unit *u);
/* "JOB_COMPLETED"... for logs. */
const char *unit_state_name(Meridian__JobState s);
/* At start-up: every job.<id> and step.<job>.<step> directory becomes a
 * unit, ended (end file), running (stepd.sock answers) or lost (mstepd
 * died without an end: recorded as FAILED "mstepd died"); then the steps
 * of batch jobs that ended here are cancelled.  spare.<n> directories
 * are kept as spares again (emptied), up to UNIT_SPARES_MAX. */
int unit_scan_spool(struct mnoded *d);
/* mstepd leaves its end unsynced while we are connected (spool.h): make
 * the end files of every unit that has ended and is not acknowledged
 * durable, each once.  Called when mctld cannot take them at once: not
 * connected, the connection lost, or still unacknowledged at a
 * heartbeat. */
void unit_sync_ends(struct mnoded *d);
/* Reap exited children: mstepds (a unit's pid) and TMPDIR removals. */
void unit_reap(struct mnoded *d);
void unit_free_all(struct mnoded *d);

/* launch.c: batch jobs */
extern const struct unit_ops launch_unit_ops;
/* The unit of batch job id, or NULL. */
struct unit *launch_find(struct mnoded *d, uint32_t id);
size_t launch_running_count(const struct mnoded *d);
/* Start a job from a LAUNCH_JOB: body/len are the packed LaunchJob as
 * received (written to the spool as is, but for the tmpdir filled in
 * when jobs get one, tmpdir_for).  Returns 0 once mstepd was forked, or
 * when the job is already here (idempotent); -1 with err. */
int launch_job(struct mnoded *d, const Meridian__LaunchJob *lj,
	       const uint8_t *body, size_t len, struct mer_error *err);
/*
 * Deliver a SIGNAL_JOB.  With has_step: to that step's mstepd here (-1
 * ENOENT when this node has no such step).  Without: to the batch job's
 * mstepd when this is its batch host, and to the mstepd of every step of
 * the job here (-1 ENOENT when there is neither).  Ended ones are skipped
 * (0).
 */
int launch_signal(struct mnoded *d, const Meridian__SignalJob *sj,
		  struct mer_error *err);

/* steps.c: this node's shares of job steps */
extern const struct unit_ops steps_unit_ops;
/*
 * Start this node's share of a step from a LAUNCH_STEP: checks that
 * step.nodes[node_index] is this node, fills topology_file and tmpdir
 * (tmpdir_for), writes the launch file and starts `mstepd -s DIR -j JOB
 * -S STEP -N NODE`.  0 once started or when the step is already here
 * (idempotent); -1 with err.
 */
int steps_launch(struct mnoded *d, const Meridian__LaunchStep *ls,
		 struct mer_error *err);
/* The unit of step job_id.step_id here, or NULL. */
struct unit *steps_find(struct mnoded *d, uint32_t job_id, uint32_t step_id);
/* sj (has_step) to its step's mstepd: 0 (also when it already ended), -1
 * ENOENT when the step is not here, -1 when its mstepd is unreachable. */
int steps_signal(struct mnoded *d, const Meridian__SignalJob *sj,
		 struct mer_error *err);
/* sj to the mstepd of every running step of job sj->job_id here; returns
 * how many steps of the job this node has (running or ended).  Failures
 * are logged. */
size_t steps_signal_job(struct mnoded *d, const Meridian__SignalJob *sj);
/* The job's batch script ended: cancel its steps still running here
 * (once per step). */
void steps_cancel_job(struct mnoded *d, uint32_t job_id, const char *reason);

/* tmpdir.c: each job's TMPDIR on this node, under TmpFS= */
/* Check TmpFS= (%n expanded; absolute, no newline, a directory) and set
 * d->tmpdirs.  -1 with err (what to fix). */
int tmpdir_init(struct mnoded *d, struct mer_error *err);
/* At start-up, after unit_scan_spool: the TMPDIRs the spool records;
 * those of batch jobs that ended meanwhile are removed. */
int tmpdir_scan(struct mnoded *d);
void tmpdir_free_all(struct mnoded *d); /* accepts d without */
/* The TMPDIR of this run of job here (made now, for its first unit, as
 * TmpFS/meridian.JOB.XXXXXX owned by the job's user, mode 0700, and
 * recorded in the spool); "" without TMPDIRs (d->tmpdirs NULL); NULL
 * with err.  Valid until the job's directory is removed. */
const char *tmpdir_for(struct mnoded *d, const Meridian__JobRecord *job,
		       struct mer_error *err);
/* The job has ended on this node (its batch script ended, mctld says so):
 * its TMPDIR goes once none of its units runs here. */
void tmpdir_job_over(struct mnoded *d, uint32_t job_id);
/* A unit ended: remove the TMPDIRs of the jobs ended here that no unit
 * runs for any more.  Accepts d without. */
void tmpdir_sweep(struct mnoded *d);
/* The jobs that have a TMPDIR here, no unit running and no known end:
 * malloc'd, *n of them, NULL when none.  For ctl.c to ask mctld. */
uint32_t *tmpdir_unsure(struct mnoded *d, size_t *n);
/* What mctld says of job_id (its record, NULL: it knows none): unless
 * that run is RUNNING with this node, it has ended here. */
void tmpdir_job_state(struct mnoded *d, uint32_t job_id,
		      const Meridian__JobRecord *rec);
/* pid was reaped: true when it was a child removing a TMPDIR (its
 * outcome is logged).  Accepts d NULL. */
bool tmpdir_reaped(struct mnoded *d, pid_t pid, int status);
/* Remove the tree at path as root may in a tree others wrote: nothing is
 * followed out of it (see tmpdir.c).  0 (also when there is none), or -1
 * with errno when something in it could not go. */
int tmpdir_remove_tree(const char *path);

/* probes.c: this node's end of the link probes */
/* Listen on the stanza's Port= for probes (none without it). */
int probes_open(struct mnoded *d, struct mer_error *err);
void probes_close(struct mnoded *d); /* accepts a daemon without */
/* PROBE_ARM: accept that probe's connections for a while. */
int probes_arm(struct mnoded *d, const Meridian__ProbeRequest *q,
	       struct mer_error *err);
/* PROBE_RUN: dial, measure, send PROBE_RESULT when done. */
int probes_run(struct mnoded *d, const Meridian__ProbeRequest *q,
	       struct mer_error *err);

/* ctl.c: the connection to mctld */
struct ctl *ctl_create(struct mnoded *d);
void ctl_destroy(struct ctl *c); /* accepts NULL */
/* Start dialing mctld (and keep redialing with back-off 1..30 s). */
void ctl_start(struct ctl *c);
/* A job ended: send its JOB_END now if registered (else the next
 * registration carries it). */
void ctl_job_ended(struct ctl *c, struct unit *j);
/* A step's share here ended: send its STEP_END now if registered, else
 * right after the next registration; again after every reconnection until
 * mctld acknowledges it. */
void ctl_step_ended(struct ctl *c, struct unit *s);
/* A probe's result to mctld (lost when not registered now). */
void ctl_probe_result(struct ctl *c, const Meridian__ProbeResult *res);

#endif
