/*
 * gpuset.h - which of a node's free GPUs a job takes there, and the order
 * of its local ranks on them (select/topo).
 *
 * The job's GPUs on a node talk as a ring, as NCCL's does inside a node
 * when it follows rank order: each local rank to the next, the last to
 * the first.  A ring is as fast as its slowest edge, so of the sets of
 * free GPUs and their orders this takes the one whose slowest edge is
 * fastest, then the one with the most bandwidth over all its edges, then
 * the lowest indexes in index order.  An edge's speed is its link's as
 * the node's mnoded found it (hwloc): NVLink at its MB/s, then PCIe, then
 * across sockets.  On a DGX-1's hybrid cube-mesh that is four GPUs of one
 * quad rather than 0-3 of two, and all eight as 0 1 2 3 7 6 5 4, each
 * pair of neighbours on NVLink.
 *
 * A node that reports no links between its GPUs (Gres= only, or an older
 * mnoded) gets one NUMA node's lowest free GPUs when one has enough, else
 * the lowest free ones, in index order.
 */
#ifndef MER_SELECT_GPUSET_H
#define MER_SELECT_GPUSET_H

#include <stdbool.h>
#include <stdint.h>

#include <meridian/plugin_select.h>

/* Search every set and order while there are at most this many (sets
 * times orders of each); past it, grow rings greedily from each GPU. */
#define GPUSET_EXACT_MAX 50000

/* The speeds edges are compared by, MB/s one way: NVLink reports its
 * own (GPUSET_NVLINK_MBS when it does not), a link of no known kind
 * counts as the slowest. */
#define GPUSET_NVLINK_MBS  25000
#define GPUSET_PCI_MBS	   12000
#define GPUSET_SMP_MBS	   6000
#define GPUSET_UNKNOWN_MBS 1000

/* want of n's free GPUs: *mask, and when order is not NULL their order
 * for local ranks in order[0 .. want-1] (left alone, UINT8_MAX in
 * order[0], when index order is the choice: a node without links).
 * false when fewer than want are free. */
bool gpuset_choose(const struct mer_select_node *n, uint32_t want,
		   uint64_t *mask, uint8_t *order);

/* The speed of the edge between GPUs a and b of n as gpuset compares
 * them (the faster of the two directions either reports). */
uint32_t gpuset_edge_mbs(const struct mer_select_node *n, uint32_t a,
			 uint32_t b);

#endif
