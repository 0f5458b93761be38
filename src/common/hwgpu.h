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
#include <stdint.h>
#include <hwloc.h>

#include "merr.h"

struct hwgpu {
	hwloc_obj_t key; /* the PCI device, or the OS device without one */
	hwloc_obj_t pci; /* NULL when unknown */
};

/* The GPUs of ht in CUDA's PCI order.  *gpus is malloc'd (free it; the
 * objects it points to live as long as ht).  Returns how many. */
size_t hwgpu_list(hwloc_topology_t ht, struct hwgpu **gpus);

/* How two GPUs talk: the values of GpuLinkKind in meridian.proto. */
enum hwgpu_link_kind {
	HWGPU_LINK_UNKNOWN = 0,
	HWGPU_LINK_NVLINK = 1, /* directly or through NVSwitches */
	HWGPU_LINK_PCI = 2,    /* PCIe switches, or one host bridge */
	HWGPU_LINK_SMP = 3,    /* across CPU packages or NUMA nodes */
};

struct hwgpu_link {
	uint32_t kind; /* enum hwgpu_link_kind */
	uint32_t mbs;  /* NVLink MB/s one way, 0 unknown or not NVLink */
};

/*
 * The link between each pair of the n GPUs (from hwgpu_list on ht):
 * links[i * n + j], the same both ways; the diagonal is zero.  links has
 * room for n * n, filled here; nothing is kept.
 *
 * NVLink comes from hwloc's "NVLinkBandwidth" distances (MB/s; hwloc
 * fills it from NVML, or it comes with an XML export): two GPUs with a
 * value between them, or both on one NVSwitch fabric (PCI devices of the
 * matrix that are no GPU are NVSwitches; see hwgpu.c for what makes one
 * fabric); a Package in it (POWER's NVLink to the CPU) is ignored.  The
 * others are PCI when their paths meet in the PCI tree or under one NUMA
 * node (one package when NUMA is unknown), SMP across NUMA nodes or
 * packages, UNKNOWN when hwloc cannot tell (a GPU with no PCI device, or
 * no locality).
 */
void hwgpu_links(hwloc_topology_t ht, const struct hwgpu *gpus, size_t n,
		 struct hwgpu_link *links);

/*
 * A node's topology, as mnoded reports it and mstepd binds on it: this
 * machine's (xml_file NULL or "") or that of the hwloc XML export
 * xml_file (the node's TopologyFile=), keeping of the I/O tree what
 * matters (GPUs, NICs and the bridges above them).  Returns it loaded
 * (destroy it with hwloc_topology_destroy), or NULL with errno and err.
 *
 * For a file, err reads "TopologyFile=PATH: " and then what went wrong:
 * the system's reason when it cannot be read; hwloc's reason when hwloc
 * cannot load it (its first complaint, or libxml2's); and, when hwloc's
 * built-in minimalistic parser refused it (it reads only XML as hwloc
 * writes it: no comments, for one), the line of its first comment and
 * the package that adds libxml2 support, libhwloc-plugins.  A long PATH
 * is shortened to its end so that the reason fits.
 *
 * hwloc tells its reasons only on stderr, and only when
 * HWLOC_XML_VERBOSE is set at the process's first XML load.  So while it
 * loads a file this sets HWLOC_XML_VERBOSE=1 (unless the environment has
 * it: then hwloc's messages go to stderr as asked) and points fd 2 at a
 * memory file, read back when the load failed and dropped otherwise
 * (the environment is restored, so children do not inherit it).  Call it
 * only while the process has one thread (mnoded before its loop, mstepd
 * before it starts ranks), as it changes fd 2 and the environment.
 */
hwloc_topology_t hwgpu_topology_load(const char *xml_file,
				     struct mer_error *err);

#endif
