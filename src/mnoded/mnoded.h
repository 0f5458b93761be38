/*
 * mnoded.h - the node daemon: one per node, several per machine in tests.
 *
 * mnoded reads its node's topology (hwloc), dials out to mctld and keeps
 * one connection, starts one mstepd per batch job and one per job step
 * (mrun) that has ranks on this node, and reports their ends.  It owns
 * nothing a job needs to keep running: each mstepd is a separate session,
 * and everything mnoded knows about it is in the spool directory:
 *
 *   SPOOL/                     SpoolDir= with %n = the node name (0755)
 *     mnoded.lock              flock()ed while an mnoded serves this node
 *     job.<id>/                one per batch job (root, 0700 then 0711)
 *       launch                 the LaunchJob as mctld sent it (0600)
 *       script                 the batch script (the job's user, 0700)
 *       stepd.sock             mstepd listens here (root, 0600)
 *       mstepd.log             mstepd's log
 *       end                    the packed JobEnd, written once (0600)
 *     step.<job>.<step>/       this node's share of a step (root, 0711)
 *       launch                 the LaunchStep, topology_file filled (0600)
 *       stepd.sock, mstepd.log as for a job
 *       end                    the packed StepEnd, written once (0600)
 *
 * A job or step is running while its mstepd holds a connection open to
 * mnoded (the socketpair it was started with, or stepd.sock after an
 * mnoded restart); it has ended once `end` exists.  mnoded removes the
 * directory once mctld has acknowledged the end.
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

/* One GPU as the node reports it (Meridian__Gpu without the protobuf). */
struct topo_gpu {
	char *model;      /* short lower-case name: "a100"; "" unknown */
	char *pci_bus_id; /* "0000:3b:00.0"; "" for a configured-only GPU */
	char *cpuset;     /* the PUs local to the GPU, list form "0-3" */
	int numa_node;    /* NUMA node of the GPU, -1 unknown */
	uint64_t memory_mb; /* 0 unknown */
};

/*
 * What a node has.  CPUs are PUs (hardware threads), as Slurm counts CPUs;
 * GPUs are in PCI bus id order, which is the order CUDA numbers them in
 * with CUDA_DEVICE_ORDER=PCI_BUS_ID, so index i here is CUDA device i.
 */
struct topo {
	uint32_t cpus;       /* PUs */
	uint32_t cores;
	uint32_t sockets;
	uint32_t numa_nodes;
	uint64_t memory_mb;  /* total over the NUMA nodes */
	char *cpuset;        /* every PU, list form "0-15" */
	struct topo_gpu *gpus;
	size_t ngpus;
	char *source;        /* the XML file it came from, or "this machine" */
};

/* The one context of the daemon, built in main() and passed down. */
struct job;
struct step;
struct ctl;
TAILQ_HEAD(job_list, job);
TAILQ_HEAD(step_list, step);

struct mnoded {
	struct conf *conf;
	const struct conf_node *node; /* this node's stanza in conf */
	const char *name;             /* -N */
	char *spool;                  /* SpoolDir with %n expanded */
	char *topology_file;          /* the stanza's TopologyFile=, made
				       * absolute; "" this machine */
	enum log_level log_level;
	struct topo *topo;
	struct auth *auth;
	struct event_base *base;
	struct ctl *ctl;
	struct job_list jobs;
	struct step_list steps;
	int64_t boot_time;
	char hostname[256];
	int lock_fd;
	uint32_t step_req_id;         /* last req_id sent to an mstepd */
};

/* topo.c */
/* Load the topology of this machine (xml_file NULL or "") or of an hwloc
 * XML file, with the important I/O devices.  The result is owned by the
 * caller (topo_free).  NULL with err on failure. */
struct topo *topo_load(const char *xml_file, struct mer_error *err);
void topo_free(struct topo *t); /* accepts NULL */
/* Apply a NodeName= stanza: CPUs= and RealMemory= replace what hwloc saw
 * (the admin's word, as in Slurm); Gres=gpu:MODEL:N stands in for GPUs
 * hwloc did not find, or limits the ones it found to N.  Each mismatch
 * worth an admin's attention is appended to warnings as one line. */
void topo_apply_conf(struct topo *t, const struct conf_node *cn,
		     struct strbuf *warnings);
/* The topology as protobuf GPUs for NodeRegister: a malloc'd array of n
 * malloc'd messages whose strings point into t (valid while t lives);
 * free with topo_gpus_msg_free. */
Meridian__Gpu **topo_gpus_msg(const struct topo *t, size_t *n);
void topo_gpus_msg_free(Meridian__Gpu **g, size_t n);

/* gpu.c */
/* Find the GPUs of a loaded topology, deduplicated by PCI bus id (a GPU
 * may show as cudaN, nvmlN and an OpenCL device at once) and sorted by it.
 * *gpus is malloc'd (free each with gpu_free_all). */
int gpu_discover(hwloc_topology_t topo, struct topo_gpu **gpus, size_t *n,
		 struct mer_error *err);
void gpu_free_all(struct topo_gpu *gpus, size_t n);
/* "NVIDIA A100-SXM4-80GB" -> "a100", "Tesla V100-SXM3-32GB-H" -> "v100",
 * "GH100 [H100 PCIe]" -> "h100", "NVIDIA GeForce RTX 4090" -> "rtx4090".
 * malloc'd; "" when nothing looks like a model. */
char *gpu_model_short(const char *name);

/* spool.c: what batch jobs and steps share: their directory, the start of
 * their mstepd, what an mstepd leaves behind */
/* Runs in the child when MstepdPath cannot be executed: write dir's end
 * file saying reason, so the end is reported with the real cause. */
typedef void (*spool_exec_fail_fn)(const char *dir, const void *arg,
				   const char *reason);
/*
 * Create dir (root, 0700, then chmod'ed to mode), write dir/launch (len
 * bytes of launch, 0600) and start mstepd: argv (argv[0] the program) in
 * its own session, reparented to init by a double fork, with fd 3 one end
 * of a socketpair and nothing else open.  Returns mnoded's end of the
 * socketpair (close-on-exec), or -1 with err and errno, dir removed.  A dir
 * left over from an earlier mnoded is removed first: the caller knows of
 * no mstepd in it.  The middle process is reaped by launch_reap.
 */
int spool_start(const char *dir, mode_t mode, const uint8_t *launch,
		size_t len, char *const argv[], spool_exec_fail_fn exec_fail,
		const void *exec_fail_arg, struct mer_error *err);
/* "dir/name", malloc'd. */
char *spool_file(const char *dir, const char *name);
bool spool_has_launch(const char *dir);
/* Connect to dir/stepd.sock; while dir/launch is young enough for its
 * mstepd to be still starting, wait and retry (blocking: start-up only).
 * The fd, or -1 with err. */
int spool_stepd_reconnect(const char *dir, struct mer_error *err);
/* dir/end unpacked as desc; NULL when missing (ENOENT) or undecodable
 * (EBADMSG).  Free with protobuf_c_message_free_unpacked. */
ProtobufCMessage *spool_end_load(const char *dir,
				 const ProtobufCMessageDescriptor *desc);
/* Pack m into dir/end (0600, atomically).  0, or -1 with errno. */
int spool_end_write(const char *dir, const ProtobufCMessage *m);
/* mstepd died without an end: SIGKILL what is left of the process group
 * it recorded in dir/pgid ("PGID UID"), only processes of that uid.  what
 * names the job or step in the log ("job 12", "step 12.3"). */
void spool_kill_orphans(const char *dir, const char *what);
/* Copy dir/mstepd.log into our log (debug when ok, else info): its last
 * 64 KiB at most, from the start of a line, after a line that says how
 * large it is. */
void spool_echo_log(const char *dir, const char *what, bool ok);
/* "JOB_COMPLETED"... for logs. */
const char *spool_state_name(Meridian__JobState s);
/* At start-up: every job.<id> and step.<job>.<step> directory becomes a
 * job or step, ended, running or lost (launch_scan_one, steps_scan_one);
 * then the steps of batch jobs that ended here are cancelled. */
int spool_scan(struct mnoded *d);

/* launch.c: batch jobs in the spool and their mstepd */
struct job {
	TAILQ_ENTRY(job) link;
	struct mnoded *d;
	uint32_t id;
	char *dir;              /* SPOOL/job.<id> */
	struct conn *step;      /* to its mstepd; NULL once it ended */
	Meridian__JobEnd *end;  /* set once ended (from the end file) */
	bool end_in_flight;     /* JOB_END sent, Ack not yet received */
};

/* Find out what became of SPOOL/job.<id>, left by an earlier mnoded:
 * ended (end file), running (stepd.sock answers) or lost (mstepd died
 * without an end: recorded as FAILED "mstepd died"). */
void launch_scan_one(struct mnoded *d, uint32_t id);
struct job *launch_find(struct mnoded *d, uint32_t id);
size_t launch_running_count(const struct mnoded *d);
/* Start a job from a LAUNCH_JOB: body/len are the packed LaunchJob as
 * received (written to the spool as is).  Returns 0 once mstepd was
 * forked, or when the job is already here (idempotent); -1 with err. */
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
/* mctld has the end of job id committed: forget it and remove its dir. */
void launch_end_acked(struct mnoded *d, uint32_t id);
/* Reap exited children (the intermediate processes of the double fork). */
void launch_reap(struct mnoded *d);
void launch_free_all(struct mnoded *d);

/* steps.c: this node's shares of job steps and their mstepd */
struct step {
	TAILQ_ENTRY(step) link;
	struct mnoded *d;
	uint32_t job_id;
	uint32_t step_id;
	char what[32];          /* "step 12.3", for logs */
	char *dir;              /* SPOOL/step.<job>.<step> */
	struct conn *stepd;     /* to its mstepd; NULL once it ended */
	Meridian__StepEnd *end; /* set once ended (from the end file) */
	bool end_in_flight;     /* STEP_END sent, Ack not yet received */
	bool cancel_sent;       /* a cancel went to its mstepd */
};

/*
 * Start this node's share of a step from a LAUNCH_STEP: checks that
 * step.nodes[node_index] is this node, fills topology_file, writes the
 * launch file and starts `mstepd -s DIR -j JOB -S STEP -N NODE`.  0 once
 * started or when the step is already here (idempotent); -1 with err.
 */
int steps_launch(struct mnoded *d, const Meridian__LaunchStep *ls,
		 struct mer_error *err);
/* As launch_scan_one, for SPOOL/step.<job_id>.<step_id>. */
void steps_scan_one(struct mnoded *d, uint32_t job_id, uint32_t step_id);
struct step *steps_find(struct mnoded *d, uint32_t job_id, uint32_t step_id);
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
/* mctld has this step end committed: forget it and remove its dir. */
void steps_end_acked(struct mnoded *d, uint32_t job_id, uint32_t step_id);
void steps_free_all(struct mnoded *d);

/* ctl.c: the connection to mctld */
struct ctl *ctl_create(struct mnoded *d);
void ctl_destroy(struct ctl *c); /* accepts NULL */
/* Start dialing mctld (and keep redialing with back-off 1..30 s). */
void ctl_start(struct ctl *c);
/* A job ended: send its JOB_END now if registered (else the next
 * registration carries it). */
void ctl_job_ended(struct ctl *c, struct job *j);
/* A step's share here ended: send its STEP_END now if registered, else
 * right after the next registration; again after every reconnection until
 * mctld acknowledges it. */
void ctl_step_ended(struct ctl *c, struct step *s);

#endif
