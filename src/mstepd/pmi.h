/*
 * pmi.h - a PMI-1 server ("simple PMI", the wire protocol MPICH's
 * src/pmi/simple speaks over PMI_FD), and on demand PMI-2 (pmi2.c, the
 * wire protocol of MPICH's and Slurm's libpmi2), for the ranks of one job
 * step on one node.
 *
 * The server knows nothing of sockets or of the event loop.  The step
 * layer (mstepd) gives each local rank a socketpair, hands the bytes it
 * reads to pmi_conn_input() and writes the replies the server passes to
 * ops->send().  The key-value space (KVS) is held per node: a rank's put
 * is visible at once to the ranks of this node, and to the other nodes
 * after the next barrier, when the step layer exchanges the puts of every
 * node (the first node gathers and scatters) and hands the other nodes'
 * entries back with pmi_server_barrier_release().
 *
 * Wire format (one request, one reply, each a line of space-separated
 * key=value tokens ending in '\n'; values hold no spaces):
 *
 *   cmd=init pmi_version=1 pmi_subversion=1
 *       -> cmd=response_to_init pmi_version=1 pmi_subversion=1 rc=0
 *   cmd=get_maxes
 *       -> cmd=maxes rc=0 kvsname_max=256 keylen_max=64 vallen_max=1024
 *   cmd=get_appnum         -> cmd=appnum rc=0 appnum=A
 *   cmd=get_my_kvsname     -> cmd=my_kvsname rc=0 kvsname=K
 *   cmd=get_universe_size  -> cmd=universe_size rc=0 size=U
 *   cmd=put kvsname=K key=X value=Y
 *       -> cmd=put_result rc=0        (rc=-1 msg=WHY when refused; over
 *          a limit below, WHY names it: key_too_long_max_64_bytes,
 *          value_too_long_max_1024_bytes, too_many_puts_max_1024_per_rank,
 *          kvs_full_max_N_bytes_for_the_R_ranks_of_this_node,
 *          kvs_full_max_8388608_bytes_on_this_node)
 *   cmd=get kvsname=K key=X
 *       -> cmd=get_result rc=0 value=Y | cmd=get_result rc=-1 msg=key_not_found
 *          (msg=key_too_long_max_64_bytes for a key no put can make)
 *   cmd=barrier_in         -> cmd=barrier_out   (once every rank of the
 *                                               step is in the barrier)
 *   cmd=finalize           -> cmd=finalize_ack
 *   cmd=abort exitcode=N [message=TEXT]   no reply: the step is killed
 *   cmd=publish_name / unpublish_name / lookup_name
 *       -> cmd=publish_result (unpublish_result, lookup_result) rc=-1 msg=...
 *   mcmd=spawn ... endcmd  -> cmd=spawn_result rc=-1 msg=...
 *
 * MPICH 4.0's client checks rc only in response_to_init, put_result,
 * get_result and the name-service results; for the other commands it only
 * checks the reply's cmd.  So a request the server must refuse where rc is
 * not read (a second barrier_in, anything after finalize, an unknown or
 * malformed line) is answered "cmd=error rc=-1 msg=WHY", whose cmd no
 * client expects: the client fails instead of taking it for success.
 *
 * PMI-2 (after pmi_server_enable_pmi2(); see pmi2.c for the details):
 * every command and reply is a 6-character decimal length, space padded,
 * then that many bytes of "key=value;" pairs, the first "cmd=NAME;"; a
 * ';' in a value is written ";;".  A client may open with the PMI-1 line
 * "cmd=init pmi_version=2 pmi_subversion=0" (MPICH's PMI2_Init does),
 * answered in PMI-1 ("cmd=response_to_init pmi_version=2
 * pmi_subversion=0 rc=0"), and speaks PMI-2 after it:
 *
 *   fullinit [pmijobid=J] [pmirank=R] [threaded=B]
 *       -> fullinit-response rc=0 pmi-version=2 pmi-subversion=0 rank=R
 *          size=N appnum=A debugged=FALSE pmiverbose=FALSE
 *   job-getid              -> job-getid-response rc=0 jobid=J
 *   kvs-put key=K value=V  -> kvs-put-response rc=0 (the limits of PMI-1)
 *   kvs-fence              -> kvs-fence-response rc=0 (the barrier)
 *   kvs-get [jobid=J] [srcid=S] key=K
 *       -> kvs-get-response rc=0 found=TRUE value=V | found=FALSE
 *   info-putnodeattr key=K value=V -> info-putnodeattr-response rc=0
 *   info-getnodeattr key=K [wait=TRUE]
 *       -> info-getnodeattr-response rc=0 found=... (wait: held until a
 *          rank of this node puts K)
 *   info-getjobattr key=PMI_process_mapping|universeSize|...
 *       -> info-getjobattr-response rc=0 found=TRUE value=V | found=FALSE
 *   finalize               -> finalize-response rc=0
 *   abort [isworld=TRUE] [msg=TEXT]   no reply: the step is killed
 *   spawn, name-*, job-connect, job-disconnect
 *       -> NAME-response rc=-1 errmsg=... (not supported)
 * Every reply carries rc (MPICH's client requires it); a refusal is
 * rc=-1 with errmsg saying why, in the reply the client waits for.
 *
 * Callbacks may call pmi_server_barrier_release(), pmi_server_kvs_put(),
 * pmi_server_barrier_unblock() and the query functions, but never
 * pmi_server_destroy() (defer that to the loop).  Nothing here prints or
 * exits.
 */
#ifndef MER_MSTEPD_PMI_H
#define MER_MSTEPD_PMI_H

#include <stdbool.h>
#include <stddef.h>

#include "merr.h"

/* The limits the server announces in cmd=maxes (those of MPICH's Hydra). */
#define PMI_KVSNAME_MAX 256
#define PMI_KEYLEN_MAX	64
#define PMI_VALLEN_MAX	1024
/* The longest request line accepted, '\n' included: a put with the
 * longest name, key and value and room for the keywords.  A longer line
 * is answered with an error and skipped up to its '\n'. */
#define PMI_LINE_MAX (PMI_KVSNAME_MAX + PMI_KEYLEN_MAX + PMI_VALLEN_MAX + 128)
/* MPICH 4.0's client reads replies into 1024-byte buffers and, told the
 * maxes above, keeps values under 1024 - 256 - 64 - 30 = 674 bytes.  A
 * value the server itself publishes must be shorter than that or the
 * client truncates it. */
#define PMI_CLIENT_VALUE_MAX 674

/*
 * What a step's ranks may put.  A rank is user code and may send
 * anything; these bound the memory of every node's server (each holds the
 * whole step's KVS) and the size of a KVS_RELEASE, which carries one
 * barrier's puts of every other node in one frame.
 *
 * What the ranks need is far less.  MPICH 4.0.2 (Debian 12) puts one key
 * per rank in MPI_Init, "-allgather-shm-1-R" with its business card: 430
 * bytes over UCX's shared memory and TCP, 216 under UCX_TLS=tcp,self
 * (measured with src/mstepd/test/mpi_hello); a card longer than
 * PMI_VALLEN_MAX (more UCX transports, InfiniBand) is split over several
 * such keys.  An NCCL job that passes its
 * 128-byte ncclUniqueId through the KVS puts one value of 256 hex
 * characters; PyTorch's torchrun does not use PMI at all.
 *
 * A rank may make PMI_RANK_PUTS_MAX puts over the step's life (a put of a
 * key it put before counts again).  Every entry costs its key and value
 * lengths plus PMI_KV_OVERHEAD bytes, so that many tiny entries are
 * bounded too (and so that the cost covers an entry's encoding in a
 * KVS_FENCE or KVS_RELEASE, at most 8 bytes beyond its key and value).
 * The ranks of a whole step may hold entries costing PMI_KVS_RANKS_MAX
 * bytes, shared among the nodes in proportion to their ranks (see
 * pmi_kvs_share()): the ranks of one node may hold what their share
 * allows, whichever of them puts it.  That is about 8 KiB per rank in a
 * step of 1,024 ranks, 1,016 bytes at 8,192 (MPICH's 430-byte card costs 480:
 * it fits up to 17,000 ranks); a step that large gets less per rank than
 * it may need, because one KVS_RELEASE must stay under the frame limit
 * (MER_FRAME_MAX_BODY, 16 MiB; step_kvs.c checks it at compile time).
 * A node's whole KVS (the ranks' entries of every node, and the step's
 * own, pmi_server_kvs_put()) holds at most PMI_KVS_BYTES_MAX, so that
 * entries from a misbehaving node cannot grow it without end either.
 *
 * A rank's put beyond a limit is refused with put_result rc=-1 and a msg
 * that names the limit (see cmd=put above); the rank may go on.
 */
#define PMI_RANK_PUTS_MAX 1024
#define PMI_KV_OVERHEAD	  32
#define PMI_KVS_BYTES_MAX (8u << 20)
/* room kept for the step's own entries (PMI_process_mapping) */
#define PMI_KVS_STEP_BYTES (64u << 10)
#define PMI_KVS_RANKS_MAX  (PMI_KVS_BYTES_MAX - PMI_KVS_STEP_BYTES)

/*
 * Refusals reported through ops->error: a rank may send garbage in a loop,
 * and each refusal reported is a line of the step's log, which must not
 * grow without end.  The last one reported says the rest are counted;
 * pmi_conn_closed() reports the count.  A correct MPI program is refused
 * nothing, and a buggy one shows what is wrong within its first few.
 */
#define PMI_RANK_REFUSALS_REPORTED 32
#define PMI_REFUSALS_REPORTED	   128

/* One KVS entry.  The strings belong to whoever hands the entry over. */
struct pmi_kv {
	const char *key;
	const char *value;
};

/* What an entry of key and value lengths costs against the limits. */
static inline size_t pmi_kv_cost(size_t keylen, size_t vallen)
{
	return keylen + vallen + PMI_KV_OVERHEAD;
}

/* The bytes of entries that nranks ranks of a step of size ranks may
 * hold: their part of PMI_KVS_RANKS_MAX, rounded down, so that the shares
 * of a step's nodes never add up to more.  0 when size is 0. */
size_t pmi_kvs_share(size_t nranks, size_t size);

/* Whether e is an entry every node's server accepts: a key of 1 to
 * PMI_KEYLEN_MAX and a value of at most PMI_VALLEN_MAX printable
 * characters, neither holding a space or a control character.  0, or -1
 * with err (errno EINVAL) saying which rule it breaks. */
int pmi_kv_check(const struct pmi_kv *e, struct mer_error *err);

struct pmi_server_ops {
	/* Queue len bytes (one or more whole replies: PMI-1 lines, or
	 * PMI-2 commands behind their length header) for rank.  Return
	 * 0, or -1 with errno when the rank's connection is gone; the server
	 * does not retry.  Required. */
	int (*send)(void *arg, int rank, const char *buf, size_t len);
	/* Every local rank is in the barrier.  puts are the entries this
	 * node's ranks put since the last barrier (nputs may be 0): send them
	 * to the step's first node, and once every node's puts are known call
	 * pmi_server_barrier_release() with the other nodes' entries (a
	 * one-node step calls it at once, possibly from this callback).  The
	 * array and its strings are valid until this callback returns or
	 * pmi_server_barrier_release() is called, whichever is first.
	 * Required. */
	void (*barrier_ready)(void *arg, const struct pmi_kv *puts,
			      size_t nputs);
	/* rank asked to abort the step with exitcode; msg is its message or
	 * "" (valid during the call).  No reply is sent: the step layer must
	 * kill the step's ranks.  Input from that rank is ignored from now
	 * on.  Required. */
	void (*abort)(void *arg, int rank, int exitcode, const char *msg);
	/* rank sent something the server refused (the reply already said
	 * so), or closed its connection before finalize: what says which and
	 * why, for the step's log.  Refusals are reported only up to
	 * PMI_RANK_REFUSALS_REPORTED per rank and PMI_REFUSALS_REPORTED for
	 * all local ranks; the rest are counted, and the count is reported
	 * when the rank's connection closes (pmi_conn_closed).  Optional
	 * (NULL). */
	void (*error)(void *arg, int rank, const char *what);
	/* rank finalized (its finalize_ack is queued).  Optional (NULL). */
	void (*finalized)(void *arg, int rank);
};

struct pmi_server;

/* A server for a step of size ranks (all nodes), whose KVS is named
 * kvsname (at most PMI_KVSNAME_MAX - 1 printable characters, no spaces or
 * '='), answering get_appnum with appnum and get_universe_size with
 * universe_size.  ops is copied; arg is passed to every callback.  No rank
 * is local until pmi_server_add_rank().  NULL with err on bad arguments. */
struct pmi_server *pmi_server_create(const struct pmi_server_ops *ops,
				     void *arg, const char *kvsname, int size,
				     int appnum, int universe_size,
				     struct mer_error *err);
/* Free the server and every buffered byte.  Accepts NULL. */
void pmi_server_destroy(struct pmi_server *srv);

/* Serve PMI-2 too (mrun --mpi=pmi2): a rank may then speak PMI-2 (its
 * job-getid answer is jobid: printable, no spaces, '=' or ';'), or PMI-1
 * as before.  Call before any input.  -1 with err (EINVAL) for a bad
 * jobid, (EBUSY) once a rank has sent something. */
int pmi_server_enable_pmi2(struct pmi_server *srv, const char *jobid,
			   struct mer_error *err);

/* Declare that global rank `rank` (0 <= rank < size) runs on this node:
 * the barrier waits for it.  Call for every local rank before any input
 * arrives.  -1 with err (errno EINVAL) for a rank out of range or added
 * twice, (EBUSY) once a barrier has begun. */
int pmi_server_add_rank(struct pmi_server *srv, int rank,
			struct mer_error *err);

/* Bytes read from rank's PMI connection: buffered until a '\n', then
 * every complete line is answered (through ops->send) in order.  Returns
 * 0; -1 with errno EINVAL when rank was never added, or with the errno
 * of a failed ops->send.  Input after the rank aborted is ignored. */
int pmi_conn_input(struct pmi_server *srv, int rank, const char *data,
		   size_t len);
/* rank's connection reached EOF (or failed).  Refusals of rank that
 * were counted and not reported are reported now, as a count, and a rank
 * that had not finalized nor aborted is reported, through ops->error; a
 * partial line it left is dropped.  The barrier still counts on it: a step
 * whose rank died is the step layer's to end. */
void pmi_conn_closed(struct pmi_server *srv, int rank);

/* End the barrier announced by ops->barrier_ready: store entries (the
 * puts of the step's other nodes; this node's own are accepted too and
 * change nothing), send barrier_out to every local rank still blocked in
 * it and answer held gets (see pmi_server_barrier_unblock).  When every
 * local rank is already in the next barrier, ops->barrier_ready is called
 * again before this returns.  -1 with err
 * and nothing changed: (errno EINVAL) when no barrier is waiting or an
 * entry is not valid (pmi_kv_check()); (ENOSPC) when the entries would
 * make this node's KVS hold more than PMI_KVS_BYTES_MAX.  -1 with errno
 * from a failed ops->send once the barrier is over (other ranks were
 * still sent theirs). */
int pmi_server_barrier_release(struct pmi_server *srv,
			       const struct pmi_kv *entries, size_t n,
			       struct mer_error *err);

/*
 * Unblocking a barrier.  MPICH 4.0.2 over UCX closes every endpoint in
 * MPI_Finalize (ucp_disconnect_nb, which over tcp needs the peer to make
 * progress) and only then enters a PMI barrier, blocked in read(): a rank
 * that got there first stops making progress for the peers still
 * disconnecting from it, and the step deadlocks (MPICH fixed the order in
 * 2023, pmodels/mpich#6596; with UCX_TLS=tcp,self it hangs most runs,
 * under Hydra too).  The step layer breaks it by letting blocked ranks go
 * on when a barrier has been partly entered for a while.
 *
 * That is safe for any barrier, not just finalize's: the barrier stays
 * open (it completes, with barrier_ready and the exchange, once every
 * rank entered), and until it does, a let-out rank's get of a key this
 * node does not have is held and answered when the key is put here or
 * arrives with the barrier's release (key_not_found only then), so it
 * sees what it would have seen after the barrier (one exception: a key
 * this node already has and a late rank puts again before entering is
 * seen with its old value; MPICH puts each key once).  A let-out rank
 * that enters the next barrier waits in it until this one is over.
 */
/* How many local ranks are blocked in the current barrier (entered it and
 * not answered). */
size_t pmi_server_barrier_blocked(const struct pmi_server *srv);
/* Send barrier_out now to the ranks blocked in the current barrier, as
 * described above.  Returns how many were let go (0 when none was
 * blocked); -1 with err and errno from a failed ops->send (the others
 * were still sent theirs). */
int pmi_server_barrier_unblock(struct pmi_server *srv, struct mer_error *err);

/* Put key=value in the KVS as the step itself or for another node (not
 * a local rank): it is not part of any barrier's puts, so every node's
 * server must be given it.  A value a local rank put that this replaces
 * stops counting against the share of this node's ranks.  -1 with err
 * and nothing changed: (errno EINVAL) when not valid (pmi_kv_check()),
 * (ENOSPC) when this node's KVS would hold more than
 * PMI_KVS_BYTES_MAX. */
int pmi_server_kvs_put(struct pmi_server *srv, const char *key,
		       const char *value, struct mer_error *err);
/* The value of key in this node's KVS, or NULL.  Valid until the key is
 * put again or the server is destroyed. */
const char *pmi_server_kvs_get(const struct pmi_server *srv, const char *key);

/* Publish PMI_process_mapping for a step whose nodes run
 * ranks_per_node[0..nnodes-1] ranks, rank numbers given out node by node
 * (node 0 has ranks 0..n0-1, node 1 the next n1, ...).  Returns 0 when
 * published, 1 when the mapping is too long for MPICH's client buffers
 * (nothing is published, and MPICH falls back to exchanging host names),
 * -1 with err (errno EINVAL) when the counts are not a layout of size
 * ranks. */
int pmi_server_set_process_mapping(struct pmi_server *srv,
				   const int *ranks_per_node, int nnodes,
				   struct mer_error *err);

/* true once every local rank sent finalize (false with no local ranks). */
bool pmi_server_all_finalized(const struct pmi_server *srv);
/* Whether rank (a local rank) finalized. */
bool pmi_server_rank_finalized(const struct pmi_server *srv, int rank);
/* How many barriers have completed (for logs and benchmarks). */
unsigned pmi_server_barriers(const struct pmi_server *srv);

/* MPICH's PMI_process_mapping for a block layout: "(vector,(S,N,M),...)"
 * where each triple says N consecutive nodes from node id S run M ranks
 * each, consecutive nodes with the same count collapsing into one triple:
 * {2,2,2} -> "(vector,(0,3,2))", {2,1} -> "(vector,(0,1,2),(1,1,1))".
 * Nodes with no ranks are left out (node ids count only nodes with
 * ranks).  malloc'd; NULL (errno EINVAL) when nnodes < 1, a count is
 * negative, or no node has a rank. */
char *pmi_process_mapping(const int *ranks_per_node, int nnodes);

#endif
