/*
 * bind.h - which CPUs each rank of a step runs on, from the node's hwloc
 * topology, and binding a process to them.
 *
 * GPUs are numbered as mnoded numbers them (src/mnoded/gpu.c) and as CUDA
 * does with CUDA_DEVICE_ORDER=PCI_BUS_ID: a PCI device with a CUDA or NVML
 * OS device, or an NVIDIA display/3D controller, is one GPU; GPUs sort by
 * PCI bus id (those hwloc knows no PCI device for come last).  A GPU's
 * local CPUs are those of its nearest non-I/O ancestor (a NUMA node's
 * parent, a die, a package, or the whole machine when hwloc knows no
 * locality).
 *
 * A rank gets whole cores (every PU of each core that is allowed): as many
 * as it takes to cover the CPUs (PUs, as Slurm counts CPUs) it asked for.
 *
 *   none       no binding: each set is empty and nothing is applied.
 *   cores      ranks are spread over the NUMA nodes (packages when there
 *              is one NUMA node), round robin in rank order, each rank a
 *              block of consecutive free cores of one domain when one has
 *              room.  Ranks overlap only when the node has too few cores.
 *   gpu-local  a rank with GPUs gets the cores local to its GPUs, those
 *              shared by several ranks divided evenly among them (all of
 *              them, so a rank may get more than it asked for), without
 *              overlap while there are enough; ranks without GPUs are
 *              spread as with `cores` over what is left.
 *
 * The topology may be this machine or an hwloc XML file (TopologyFile=):
 * planning never touches the machine, and bind_apply() takes a CPU list,
 * not a topology, so it works whatever the plan came from.
 */
#ifndef MER_MSTEPD_BIND_H
#define MER_MSTEPD_BIND_H

#include <stddef.h>
#include <sys/types.h>

#include <hwloc.h>

#include "merr.h"

enum bind_mode {
	BIND_NONE,
	BIND_CORES,
	BIND_GPU_LOCAL,
};

/* "none", "cores" or "gpu-local" (--cpu-bind=).  -1 with err otherwise. */
int bind_mode_parse(const char *s, enum bind_mode *mode, struct mer_error *err);
/* The name bind_mode_parse() reads.  Static storage. */
const char *bind_mode_name(enum bind_mode mode);

/* A node's topology as binding sees it: opaque, read-only once loaded. */
struct bind_topo;

/* Load this machine's topology (xml_file NULL or "") or an hwloc XML
 * export.  NULL with err when hwloc cannot.  Free with bind_topo_destroy
 * (which accepts NULL). */
struct bind_topo *bind_topo_load(const char *xml_file, struct mer_error *err);
void bind_topo_destroy(struct bind_topo *t);

/* GPUs, in PCI bus id order. */
size_t bind_topo_ngpus(const struct bind_topo *t);
/* GPU i's PCI bus id ("0000:3b:00.0", "" when unknown) and the list of
 * its local PUs ("0-15,32-47").  Valid while t lives; NULL for i out of
 * range. */
const char *bind_topo_gpu_busid(const struct bind_topo *t, size_t i);
const char *bind_topo_gpu_cpus(const struct bind_topo *t, size_t i);
/* Cores (PUs when the topology has no cores) and PUs the topology allows. */
unsigned bind_topo_cores(const struct bind_topo *t);
unsigned bind_topo_pus(const struct bind_topo *t);

/* One rank of the step on this node. */
struct bind_task {
	unsigned cpus;	      /* PUs it asked for (-c); 0 counts as 1 */
	const unsigned *gpus; /* its GPUs, indices in PCI bus order */
	size_t ngpus;
};

/* Where one rank runs.  Both NULL/"" under BIND_NONE. */
struct bind_set {
	hwloc_bitmap_t cpuset; /* PUs by OS index; NULL: do not bind */
	char *list;	       /* the same as a list, "0-3,16-19"; "" */
};

/* Plan the binding of ntasks ranks (in local rank order) on topology t.
 * allowed, when not NULL, is the list of PUs the step may use (the job's
 * share of a shared node); else every PU the topology allows.  *sets is a
 * malloc'd array of ntasks (bind_sets_free).  -1 with err (errno EINVAL)
 * when a task names a GPU the node does not have or allowed is not a
 * list of this node's PUs. */
int bind_plan(const struct bind_topo *t, enum bind_mode mode,
	      const char *allowed, const struct bind_task *tasks, size_t ntasks,
	      struct bind_set **sets, struct mer_error *err);
void bind_sets_free(struct bind_set *sets, size_t n);

/* The CPUs this machine has online (/sys/devices/system/cpu/online), or
 * NULL when unknown.  Free with hwloc_bitmap_free. */
hwloc_bitmap_t bind_online_cpus(void);

/* Bind every thread of process pid (0: the calling process) to the PUs of
 * list ("0-3,8"), with sched_setaffinity: call it in a forked child
 * before exec, or on a running rank.  Returns 0; 1 when only part of
 * list exists on this machine (a plan made from another machine's XML)
 * and the process was bound to that part, with err saying which CPUs
 * were left out; -1 with err when list is malformed, names no CPU of
 * this machine, or the kernel refused (errno from sched_setaffinity). */
int bind_apply(pid_t pid, const char *list, struct mer_error *err);

#endif
