/*
 * mnoded.h - the node daemon: one per node, several per machine in tests.
 *
 * mnoded reads its node's topology (hwloc), dials out to mctld and keeps
 * one connection, starts one mstepd per batch job and reports the job's end.
 * It owns nothing a job needs to keep running: a job's mstepd is a separate
 * session, and everything mnoded knows about it is in the spool directory:
 *
 *   SPOOL/                     SpoolDir= with %n = the node name (0755)
 *     mnoded.lock              flock()ed while an mnoded serves this node
 *     job.<id>/                one per batch job (root, 0700 then 0711)
 *       launch                 the LaunchJob as mctld sent it (0600)
 *       script                 the batch script (the job's user, 0700)
 *       stepd.sock             mstepd listens here (root, 0600)
 *       mstepd.log             mstepd's log
 *       end                    the packed JobEnd, written once (0600)
 *
 * A job is running while its mstepd holds a connection open to mnoded (the
 * socketpair it was started with, or stepd.sock after an mnoded restart);
 * it has ended once `end` exists.  mnoded removes job.<id> once mctld has
 * acknowledged the end.
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
struct ctl;
TAILQ_HEAD(job_list, job);

struct mnoded {
	struct conf *conf;
	const struct conf_node *node; /* this node's stanza in conf */
	const char *name;             /* -N */
	char *spool;                  /* SpoolDir with %n expanded */
	enum log_level log_level;
	struct topo *topo;
	struct auth *auth;
	struct event_base *base;
	struct ctl *ctl;
	struct job_list jobs;
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

/* launch.c: jobs in the spool and their mstepd */
struct job {
	TAILQ_ENTRY(job) link;
	struct mnoded *d;
	uint32_t id;
	char *dir;              /* SPOOL/job.<id> */
	struct conn *step;      /* to its mstepd; NULL once it ended */
	Meridian__JobEnd *end;  /* set once ended (from the end file) */
	bool end_in_flight;     /* JOB_END sent, Ack not yet received */
};

/* Scan the spool at start-up: every job.<id> directory becomes a job,
 * ended (end file), running (stepd.sock answers) or lost (mstepd died
 * without an end: recorded as FAILED "mstepd died"). */
int launch_scan_spool(struct mnoded *d);
struct job *launch_find(struct mnoded *d, uint32_t id);
size_t launch_running_count(const struct mnoded *d);
/* Start a job from a LAUNCH_JOB: body/len are the packed LaunchJob as
 * received (written to the spool as is).  Returns 0 once mstepd was
 * forked, or when the job is already here (idempotent); -1 with err. */
int launch_job(struct mnoded *d, const Meridian__LaunchJob *lj,
	       const uint8_t *body, size_t len, struct mer_error *err);
/* Forward a SIGNAL_JOB to the job's mstepd.  0 also when the job already
 * ended here; -1 with err (errno ENOENT) for a job this node does not have. */
int launch_signal(struct mnoded *d, const Meridian__SignalJob *sj,
		  struct mer_error *err);
/* mctld has the end of job id committed: forget it and remove its dir. */
void launch_end_acked(struct mnoded *d, uint32_t id);
/* Reap exited children (the intermediate processes of the double fork). */
void launch_reap(struct mnoded *d);
void launch_free_all(struct mnoded *d);

/* ctl.c: the connection to mctld */
struct ctl *ctl_create(struct mnoded *d);
void ctl_destroy(struct ctl *c); /* accepts NULL */
/* Start dialing mctld (and keep redialing with back-off 1..30 s). */
void ctl_start(struct ctl *c);
/* A job ended: send its JOB_END now if registered (else the next
 * registration carries it). */
void ctl_job_ended(struct ctl *c, struct job *j);

#endif
