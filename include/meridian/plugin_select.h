/*
 * plugin_select.h - where a job runs (SelectType=).  ABI 2.
 *
 * The core hands the plugin the nodes that may run the job (up, not
 * drained, in the job's partition) with what is free on each at the time
 * the placement is for, their GPUs' topology, the regions, a link matrix
 * between nodes, and the job's needs.  The plugin picks nodes (in rank
 * order) and GPUs; the core checks and commits the choice.  Everything in
 * a request is valid for the duration of one call.
 *
 * The core calls select both to start a job now and, from the sched
 * plugin's trial(), to ask where a job would go at a later time (req->when
 * then is that time and the free counts are those the core expects then).
 */
#ifndef MERIDIAN_PLUGIN_SELECT_H
#define MERIDIAN_PLUGIN_SELECT_H

#include <meridian/plugin.h>

#define MER_SELECT_ABI	    2
#define MER_SELECT_MAX_GPUS 64

/* How two GPUs of a node talk (GpuLinkKind in meridian.proto). */
enum mer_gpu_link_kind {
	MER_GPU_LINK_UNKNOWN = 0,
	MER_GPU_LINK_NVLINK = 1, /* directly or through NVSwitches */
	MER_GPU_LINK_PCI = 2,	 /* through a PCIe switch or host bridge */
	MER_GPU_LINK_SMP = 3,	 /* across CPU sockets */
};

struct mer_gpu_peer {
	uint32_t gpu;		/* the peer's index on the same node */
	uint32_t link;		/* enum mer_gpu_link_kind */
	uint32_t bandwidth_mbs; /* NVLink MB/s one way, 0 unknown */
};

/* One GPU of a node, as its mnoded registered it (hwloc); "" / -1 / 0 /
 * no peers where it is not known (a GPU made from Gres= only). */
struct mer_select_gpu {
	uint32_t index;
	const char *model;	/* lower case, "" unknown */
	const char *pci_bus_id; /* "0000:3b:00.0", "" unknown */
	const char *cpuset;	/* cores local to it, list form "0-7", "" */
	int32_t numa_node;	/* -1 unknown */
	uint64_t memory_mb;	/* 0 unknown */
	const struct mer_gpu_peer *peers; /* as its mnoded found them (hwloc);
					   * none where not known */
	size_t npeers;
};

struct mer_select_node {
	const char *name;
	const char *region;
	const char *gpu_model; /* "" when none */
	uint32_t cpus, cpus_free;
	uint64_t mem_mb, mem_free_mb;
	uint32_t gpus; /* GPUs on the node, at most MER_SELECT_MAX_GPUS */
	uint64_t gpu_free_mask; /* bit i set: GPU index i is free */
	int64_t gpu_hour_price; /* micro-dollars, from the price plugin */
	/* v2 */
	uint32_t id;	      /* the node's index in meridian.conf: link() */
	int32_t region_index; /* in req->regions, -1 none */
	const struct mer_select_gpu *gpu; /* n_gpu entries, by index */
	size_t n_gpu;			  /* 0: no GPU topology known */
};

struct mer_select_region {
	const char *name;
	const char *description; /* "" none */
	int32_t utc_offset_min;
};

/* How the ranks of a job talk, for a plugin that predicts step time. */
enum mer_comm_pattern {
	MER_COMM_NONE = 0,     /* no communication: packing, cheapest first */
	MER_COMM_RING = 1,     /* data-parallel allreduce ring */
	MER_COMM_PIPELINE = 2, /* consecutive stages on fast links */
};

struct mer_select_job {
	uint32_t job_id;
	uint32_t num_nodes; /* exactly this many nodes */
	uint32_t tasks_per_node;
	uint32_t cpus_per_node;
	uint64_t mem_mb_per_node; /* 0: memory not requested */
	uint32_t gpus_per_node;
	const char *gpu_type; /* "" any model */
	int64_t max_price;    /* micro-dollars per GPU-hour, 0 no limit */
	/* v2 */
	uint32_t ntasks;
	uint32_t gpus_per_task; /* 0: not said */
	uint32_t comm_pattern;	/* enum mer_comm_pattern */
	uint64_t comm_bytes;	/* exchanged per step, 0 unknown */
	uint32_t comm_stages;	/* MER_COMM_PIPELINE: stages, dividing
				 * num_nodes (0: one per node) */
};

/* What a ring or a pipeline exchanges per step when the job does not say
 * (--comm-bytes): the gradients of a model of about 128M parameters in
 * 16-bit floats. */
#define MER_COMM_BYTES_DEFAULT (256ull << 20)

/* Where a link's numbers come from. */
enum mer_link_source {
	MER_LINK_UNKNOWN = 0,
	MER_LINK_ESTIMATED = 1, /* coordinates, rates, region pairs */
	MER_LINK_MEASURED = 2,	/* a probe between the two nodes */
};

/* The link between two nodes.  Numbers are 0 when not known. */
struct mer_link {
	uint32_t source;     /* enum mer_link_source */
	int32_t same_region; /* 1 same, 0 different, -1 unknown */
	uint64_t latency_us; /* one way */
	uint64_t bandwidth_mbps;
	int64_t age_s; /* seconds since the measurement the numbers rest
			* on, -1 none */
};

struct mer_select_api {
	/* The link from node id a to node id b (mer_select_node.id), from
	 * mctld's probes: MEASURED for a probed pair, else ESTIMATED
	 * (latency from network coordinates, bandwidth from the nodes'
	 * rates and their regions' measured links), UNKNOWN with no numbers
	 * while nothing is known.  0, or -1 for an id out of range. */
	int (*link)(void *core, uint32_t a, uint32_t b, struct mer_link *out);
	void *core;
};

struct mer_select_request {
	const struct mer_select_job *job;
	const struct mer_select_node *nodes;
	size_t nnodes;
	const struct mer_select_region *regions; /* every RegionName= */
	size_t nregions;
	int64_t when; /* the time the placement is for: now, or a trial's */
	const struct mer_select_api *api;
};

/* The plugin's answer: node_index[i] indexes req->nodes, in rank order
 * (rank 0's node first: the job's node list and RANK follow it);
 * gpu_mask[i] are the GPUs taken there (popcount == gpus_per_node). */
struct mer_select_result {
	uint32_t nnodes;
	uint32_t *node_index; /* caller allocates job->num_nodes entries */
	uint64_t *gpu_mask;   /* caller allocates job->num_nodes entries */
	/* v2: predicted time of one step (an allreduce for a ring) in
	 * microseconds; 0 when the plugin does not predict */
	uint64_t predicted_step_us;
	/* the slowest link of that prediction: from rank bottleneck's node
	 * to the next rank's (the last rank's: to rank 0's); the core sets
	 * UINT32_MAX (none) before the call */
	uint32_t bottleneck;
	/* The order of node i's GPUs for its local ranks (local rank 0
	 * takes the first): row i is gpu_order[i * MER_SELECT_MAX_GPUS ..],
	 * gpu_mask[i]'s indexes in any order.  The core fills every row
	 * with UINT8_MAX before the call; a row left so is index order.
	 * NULL: the caller wants no order (a plugin must check). */
	uint8_t *gpu_order;
};

struct mer_select_ops {
	struct mer_plugin_header hdr;
	const struct mer_plugin_key *keys; /* the keys it owns, or NULL */
	void *(*init)(const struct mer_plugin_conf *conf,
		      struct mer_error *err);
	void (*fini)(void *state);
	/* 0 and res filled when the job fits; -1 with err naming the reason
	 * (a short word such as "Resources") when it does not. */
	int (*select)(void *state, const struct mer_select_request *req,
		      struct mer_select_result *res, struct mer_error *err);
};

#endif
