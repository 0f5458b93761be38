/*
 * hwgpu.h - which objects of an hwloc topology are GPUs, and their order.
 *
 * mnoded numbers a node's GPUs with this rule and mstepd binds ranks to
 * them with it, so both must agree: one GPU per PCI device that has a
 * CUDA/NVML OS device or is an NVIDIA display/3D controller (Debian's hwloc
 * has no CUDA/NVML plugin), in PCI bus id order, which is what CUDA uses
 * with CUDA_DEVICE_ORDER=PCI_BUS_ID.  An OS device hwloc knows no PCI
 * device for is a GPU of its own, sorted after those with one.
 */
#ifndef MER_HWGPU_H
#define MER_HWGPU_H

#include <stddef.h>
#include <hwloc.h>

struct hwgpu {
	hwloc_obj_t key; /* the PCI device, or the OS device without one */
	hwloc_obj_t pci; /* NULL when unknown */
};

/* The GPUs of ht in CUDA's PCI order.  *gpus is malloc'd (free it; the
 * objects it points to live as long as ht).  Returns how many. */
size_t hwgpu_list(hwloc_topology_t ht, struct hwgpu **gpus);

#endif
