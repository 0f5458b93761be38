/*
 * step_kvs.c - PMI-1 (and with --mpi=pmi2 PMI-2) for a step's ranks on
 * this node (pmi.h's server over one socketpair per rank), and the
 * exchange of the key-value space between the step's mstepds at each PMI
 * barrier.
 *
 * The exchange: node 0 listens (its hello carries the port, mrun passes it
 * on in STEP_GO) and every other node connects at its first barrier.
 * When every rank of a node is in barrier k, the node sends node 0
 * KVS_FENCE {barrier k, the puts of its ranks since barrier k-1}; a
 * connection's first fence carries the step's io_key as its frame
 * credential, which node 0 checks (constant time) from the frame's header,
 * before a byte of the body is read: a stranger's fence is never
 * buffered nor decoded.  (The key is in the body too, for a node 0 older
 * than this one; a fence with the key only in its body, from an older
 * node, is refused: a fence may be megabytes, too much to read from
 * anyone before the key is checked.)  Once node 0 has its own puts and
 * every other node's fence for k, it sends each node KVS_RELEASE with the
 * puts of the other nodes and releases its own ranks.  A node whose
 * connection is lost is not waited for again; a node that lost node 0
 * ends its barriers alone.  Once every other node has connected, node 0
 * stops listening: nobody else has anything to say to it.
 *
 * Until then the listener is open to anyone who can reach the node, and
 * bounded by a conn_guard (conn.h; KVS_STRANGERS below): how many
 * connections, how many not yet authenticated, from one address and in
 * all, what they hold and for how long.  What strangers make mstepd log
 * is bounded too (KVS_STRANGERS_LOGGED, then a count).
 *
 * MPICH 4.0.2 can deadlock in MPI_Finalize (see pmi.h): ranks blocked in a
 * barrier for KVS_UNBLOCK_MS are let go, the barrier itself stays open.
 *
 * What another node sends is bounded by what its ranks may put (pmi.h's
 * limits, which every node's server enforces on its own ranks): a fence
 * from node i holds at most PMI_RANK_PUTS_MAX pairs per rank of node i,
 * each a valid entry, costing at most node i's share of the KVS; a
 * release, the same for the ranks of all the other nodes.  The frame's
 * length and its count of pairs are checked before it is decoded
 * (decoding allocates for every pair), the pairs themselves before any is
 * stored.  A fence over the limits drops that node's connection, a
 * release over them the connection to node 0, with a log line naming the
 * limit.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include "mstepd.h"
#include "pmi.h"

#define KVS_UNBLOCK_MS	       500
#define KVS_CONNECT_TIMEOUT_MS 10000

/*
 * Node 0's listener (conn.h's guard).  The step's other nodes connect
 * once each, all at about the same moment (their first barrier), and
 * prove the key in their first frame's header at once; anyone else is a
 * stranger.  Strangers over a cap are closed oldest first, but never one
 * whose bytes still wait unread (conn.c), so a flood cannot push a node
 * out before its first frame is read; the caps still leave room for 128
 * newcomers besides the step's nodes, which may all share one address
 * (behind NAT, or on a test machine).  The guard's max_conns is a
 * backstop that never refuses anyone: room for every node authenticated
 * and as many not yet authenticated as the caps allow, and one more.
 *
 *   KVS_STRANGERS_PER_ADDR  unauthenticated connections from one address
 *                           (besides the nnodes - 1 nodes')
 *   KVS_STRANGERS           unauthenticated connections in all (besides)
 *   KVS_STRANGER_INPUT      input they hold together; each holds at most
 *                           KVS_READ_AHEAD before its first frame's
 *                           header and credential are judged (a node's
 *                           are its first 60 bytes)
 *   KVS_AUTH_TIMEOUT_MS     from connecting to the key checked: a node
 *                           sends its fence as soon as it is connected
 *                           (MERIDIAN_KVS_AUTH_TIMEOUT_MS overrides it,
 *                           for tests; see mstepd(8))
 *   KVS_FRAME_TIMEOUT_MS    from a frame's first byte to its last, for the
 *                           nodes (strangers are gone after the auth
 *                           timeout): 16 MiB, the largest frame, over a
 *                           link of 450 kbit/s; a fence is at most its
 *                           node's share of the KVS (8 MiB), a release at
 *                           most every other node's
 *   KVS_WRITE_TIMEOUT_MS    a node that reads none of its release for as
 *                           long is taken for gone
 *
 * What node 0 queues for a node is one release per barrier (a node's next
 * fence waits for it), so output needs no cap of its own.
 */
#define KVS_STRANGERS_PER_ADDR	128
#define KVS_STRANGERS		192
#define KVS_STRANGER_INPUT	(1u << 20)
#define KVS_READ_AHEAD		(16u << 10)
#define KVS_AUTH_TIMEOUT_MS	10000
#define KVS_AUTH_TIMEOUT_MAX_MS 600000
#define KVS_FRAME_TIMEOUT_MS	300000
#define KVS_WRITE_TIMEOUT_MS	KVS_FRAME_TIMEOUT_MS
/* Strangers turned away that are logged one by one; the rest are
 * counted, and the count logged when the step ends. */
#define KVS_STRANGERS_LOGGED 5
/* A KvsFence's bytes besides its pairs: four uint32 fields and the io_key
 * (32 bytes) come to 58 at most. */
#define KVS_FRAME_HEAD 128

/* The largest release an honest node 0 sends carries pairs costing
 * PMI_KVS_RANKS_MAX (the shares of every other node), and a pair's
 * encoding (tag and length of the pair, of its key and of its value: 8
 * bytes at most for PMI's lengths) is covered by the PMI_KV_OVERHEAD its
 * cost includes: so it always fits in one frame, whatever the step's
 * size. */
_Static_assert(PMI_KV_OVERHEAD >= 8 &&
		       PMI_KVS_RANKS_MAX + KVS_FRAME_HEAD <= MER_FRAME_MAX_BODY,
	       "a KVS_RELEASE within the PMI limits must fit in a frame");
/* Replies queued to a rank that does not read them: stop reading its
 * requests until it does. */
#define PMI_OUT_HIGH (1u << 20)

/* A local rank's PMI connection. */
struct kvs_rank {
	struct step_kvs *kvs;
	struct step_rank *r;
	int fd;	      /* mstepd's end, until served */
	int child_fd; /* the rank's end, until it is forked */
	bool started;
	bool spoke;		 /* sent a request: it is a PMI client */
	struct bufferevent *bev; /* serving it; NULL once closed */
	struct event *finalize_ev;
};

/* Key-value pairs gathered for a barrier; the strings are malloc'd. */
struct kvs_list {
	struct pmi_kv *kv;
	size_t n, cap;
};

/* Node 0: a connection from another node's mstepd (or a stranger's). */
struct kvs_peer {
	struct step_kvs *kvs;
	struct conn *conn;
	int node;     /* its node index once its first fence was read; -1 */
	bool refused; /* turned away at a header (and logged or counted) */
	struct kvs_peer *next;
};

struct step_kvs {
	struct step *st;
	struct pmi_server *srv;
	struct kvs_rank *ranks; /* st->nranks */
	struct event *unblock_ev;
	uint32_t barrier; /* node 0: the one being gathered; other
			   * nodes: the next one to send */
	/* node 0 of a multi-node step */
	int listen_fd; /* -1 once every node connected */
	uint16_t port;
	struct conn_guard *guard; /* accepts on listen_fd */
	unsigned long strangers;  /* connections turned away */
	struct kvs_peer *peers;
	struct kvs_peer **by_node; /* nnodes; [0] unused */
	bool *in;		   /* node i's puts for `barrier` are here */
	bool *gone;		   /* node i's connection was lost */
	struct kvs_list *lists;	   /* nnodes: the puts for `barrier` */
	/* the other nodes */
	struct conn *up;  /* to node 0, opened at the first barrier */
	uint16_t up_port; /* node 0's KVS port, from STEP_GO */
	bool up_tried;	  /* (then the first fence, with the key,
			   * went with the connection) */
	bool waiting;	  /* a fence sent, its release not in */
};

static const char *sid(const struct step_kvs *kvs, char *buf, size_t n)
{
	snprintf(buf, n, "step %u.%u", kvs->st->s->job_id, kvs->st->s->step_id);
	return buf;
}

/* ---- lists -------------------------------------------------------------- */

static void list_add(struct kvs_list *l, const char *key, const char *value)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 16;
		l->kv = xrealloc(l->kv, l->cap * sizeof(*l->kv));
	}
	l->kv[l->n].key = xstrdup(key);
	l->kv[l->n].value = xstrdup(value);
	l->n++;
}

static void list_clear(struct kvs_list *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free((char *)l->kv[i].key);
		free((char *)l->kv[i].value);
	}
	l->n = 0;
}

#define SKIP_NONE ((size_t)-1)

/* A fence (or release) for barrier with the pairs of lists[0..n-1] but
 * lists[skip] (a node's own puts go back to every node but it): the whole
 * frame, malloc'd, its length in *len. */
static uint8_t *pairs_frame(struct step_kvs *kvs, uint16_t type,
			    uint32_t barrier, const struct kvs_list *lists,
			    size_t nlists, size_t skip, bool with_key,
			    size_t *len)
{
	Meridian__KvsFence f = MERIDIAN__KVS_FENCE__INIT;
	Meridian__KvsPair *pairs, **ptrs;
	size_t total = 0, k = 0;
	uint8_t *buf;

	for (size_t i = 0; i < nlists; i++)
		if (i != skip)
			total += lists[i].n;
	pairs = xcalloc(total ? total : 1, sizeof(*pairs));
	ptrs = xcalloc(total ? total : 1, sizeof(*ptrs));
	for (size_t i = 0; i < nlists; i++) {
		for (size_t j = 0; i != skip && j < lists[i].n; j++, k++) {
			meridian__kvs_pair__init(&pairs[k]);
			pairs[k].key = (char *)lists[i].kv[j].key;
			pairs[k].value = (char *)lists[i].kv[j].value;
			ptrs[k] = &pairs[k];
		}
	}
	f.job_id = kvs->st->s->job_id;
	f.step_id = kvs->st->s->step_id;
	f.node_index = kvs->st->node_index;
	f.barrier = barrier;
	f.n_pairs = total;
	f.pairs = ptrs;
	/* the credential is what node 0 checks; the body's copy is for a
	 * node 0 older than the credential */
	if (with_key)
		f.io_key = kvs->st->ls->io_key;
	buf = frame_build(type, 0, 0, with_key ? f.io_key.data : NULL,
			  with_key ? f.io_key.len : 0, &f.base, len);
	free(ptrs);
	free(pairs);
	return buf;
}

static void send_pairs(struct step_kvs *kvs, struct conn *c, uint16_t type,
		       uint32_t barrier, const struct kvs_list *lists,
		       size_t nlists, size_t skip)
{
	size_t len;
	uint8_t *buf = pairs_frame(kvs, type, barrier, lists, nlists, skip,
				   false, &len);

	conn_send(c, buf, len);
	free(buf);
}

/* ---- the barrier -------------------------------------------------------- */

static void unblock_cb(evutil_socket_t fd, short what, void *arg)
{
	struct step_kvs *kvs = arg;
	struct mer_error err;
	char b[64];
	int n = pmi_server_barrier_unblock(kvs->srv, &err);

	if (n < 0)
		log_debug("%s: %s", sid(kvs, b, 64), err.text);
	else if (n > 0)
		log_debug("%s: let %d ranks out of barrier %u early (MPICH's "
			  "finalize deadlock, see pmi.h)",
			  sid(kvs, b, 64), n, pmi_server_barriers(kvs->srv));
}

/* Arm the unblock timer while ranks are blocked in a barrier. */
static void watch_blocked(struct step_kvs *kvs)
{
	struct timeval tv = {0, KVS_UNBLOCK_MS * 1000};

	if (!pmi_server_barrier_blocked(kvs->srv))
		evtimer_del(kvs->unblock_ev);
	else if (!evtimer_pending(kvs->unblock_ev, NULL))
		evtimer_add(kvs->unblock_ev, &tv);
}

/* Entries of other nodes being stored: how many were refused, and why
 * the first was (one log line per barrier, not one per entry). */
struct remote_puts {
	size_t refused;
	struct mer_error first;
};

/* Store one entry of another node; a bad one is that node's bug (or the
 * KVS is full, PMI_KVS_BYTES_MAX: a node sent more than its share). */
static void put_remote(struct step_kvs *kvs, struct remote_puts *rp,
		       const char *key, const char *value)
{
	if (pmi_server_kvs_put(kvs->srv, key, value,
			       rp->refused ? NULL : &rp->first) < 0)
		rp->refused++;
}

static void remote_puts_done(const struct step_kvs *kvs,
			     const struct remote_puts *rp)
{
	char b[64];

	if (rp->refused)
		log_warnx("%s: %zu KVS entries from other nodes not stored, "
			  "the first: %s",
			  sid(kvs, b, 64), rp->refused, rp->first.text);
}

/* End the barrier here: entries were put already. */
static void release_local(struct step_kvs *kvs)
{
	struct mer_error err;
	char b[64];

	if (pmi_server_barrier_release(kvs->srv, NULL, 0, &err) < 0)
		log_debug("%s: %s", sid(kvs, b, 64), err.text);
	evtimer_del(kvs->unblock_ev);
	watch_blocked(kvs);
}

/* Node 0: once every node's fence is in, release them all. */
static void try_release(struct step_kvs *kvs)
{
	uint32_t nnodes = kvs->st->nnodes, barrier = kvs->barrier;
	struct remote_puts rp = {0};

	for (uint32_t i = 0; i < nnodes; i++)
		if (!kvs->in[i] && !(i > 0 && kvs->gone[i]))
			return;
	/* the next barrier may begin inside release_local() */
	kvs->barrier++;
	memset(kvs->in, 0, nnodes * sizeof(*kvs->in));
	for (uint32_t i = 1; i < nnodes; i++)
		if (kvs->by_node[i])
			send_pairs(kvs, kvs->by_node[i]->conn,
				   MERIDIAN__MSG_TYPE__MSG_KVS_RELEASE, barrier,
				   kvs->lists, nnodes, i);
	for (uint32_t i = 1; i < nnodes; i++)
		for (size_t j = 0; j < kvs->lists[i].n; j++)
			put_remote(kvs, &rp, kvs->lists[i].kv[j].key,
				   kvs->lists[i].kv[j].value);
	remote_puts_done(kvs, &rp);
	for (uint32_t i = 0; i < nnodes; i++)
		list_clear(&kvs->lists[i]);
	release_local(kvs);
}

/* ---- the limits on what other nodes send ------------------------------- */

/* The ranks of node i (0 when it has none, or no such node). */
static size_t node_ranks(const struct step_kvs *kvs, uint32_t i)
{
	const Meridian__StepRecord *rec = kvs->st->rec;

	return i < rec->n_nodes ? rec->nodes[i]->ntasks : 0;
}

/* The ranks whose puts a frame may carry: node `node`'s for a fence from
 * it (any other node's, the most, before it said which it is: node -1),
 * every node's but ours for a release. */
static size_t frame_ranks(const struct step_kvs *kvs, int node, bool release)
{
	const struct step *st = kvs->st;
	size_t most = 0;

	if (release)
		return st->ntasks > st->nranks ? st->ntasks - st->nranks : 0;
	if (node >= 0)
		return node_ranks(kvs, (uint32_t)node);
	for (uint32_t i = 1; i < st->nnodes; i++)
		if (node_ranks(kvs, i) > most)
			most = node_ranks(kvs, i);
	return most;
}

static int read_varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
	*v = 0;
	for (unsigned shift = 0; *p < end && shift < 64; shift += 7) {
		uint8_t b = *(*p)++;
		*v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80))
			return 0;
	}
	return -1;
}

/* How many pairs (field 5) the packed KvsFence body holds, counted
 * without decoding it; -1 when it is not well-formed protobuf. */
static long count_pairs(const uint8_t *p, size_t len)
{
	const uint8_t *end = p + len;
	long n = 0;

	while (p < end) {
		uint64_t tag, v;
		if (read_varint(&p, end, &tag) < 0)
			return -1;
		switch (tag & 7) {
		case 0:
			if (read_varint(&p, end, &v) < 0)
				return -1;
			break;
		case 1:
		case 5:
			v = (tag & 7) == 1 ? 8 : 4;
			if (v > (uint64_t)(end - p))
				return -1;
			p += v;
			break;
		case 2:
			if (read_varint(&p, end, &v) < 0 ||
			    v > (uint64_t)(end - p))
				return -1;
			p += v;
			break;
		default:
			return -1;
		}
		if (tag >> 3 == 5)
			n++;
	}
	return n;
}

/* From a frame's header, before its body is read: NULL when a body of
 * len bytes is within what nranks ranks may send for one barrier, else
 * why not (in why). */
static const char *check_frame_len(const struct step_kvs *kvs, const char *what,
				   size_t nranks, size_t len, char *why,
				   size_t n)
{
	size_t share = pmi_kvs_share(nranks, kvs->st->ntasks);

	if (len > share + KVS_FRAME_HEAD) {
		snprintf(why, n,
			 "%s of %zu bytes: more than %zu, what the puts of "
			 "%zu rank%s may cost (%s share of the step's "
			 "PMI_KVS_RANKS_MAX, %u bytes)",
			 what, len, share + KVS_FRAME_HEAD, nranks,
			 nranks == 1 ? "" : "s", nranks == 1 ? "its" : "their",
			 PMI_KVS_RANKS_MAX);
		return why;
	}
	return NULL;
}

/* NULL when npairs pairs are within what nranks ranks may put, else why
 * not (in why). */
static const char *check_npairs(const char *what, size_t npairs, size_t nranks,
				char *why, size_t n)
{
	if (npairs <= nranks * PMI_RANK_PUTS_MAX)
		return NULL;
	snprintf(why, n,
		 "%s of %zu pairs: more than %zu rank%s may put "
		 "(PMI_RANK_PUTS_MAX, %d per rank)",
		 what, npairs, nranks, nranks == 1 ? "" : "s",
		 PMI_RANK_PUTS_MAX);
	return why;
}

/* Before decoding a fence (from node `node`, -1 before its hello) or a
 * release: NULL when its length and number of pairs are within what
 * nranks ranks may send for one barrier, else why not (in why). */
static const char *check_frame(const struct step_kvs *kvs, const char *what,
			       size_t nranks, const uint8_t *body, size_t len,
			       char *why, size_t n)
{
	long pairs;

	if (check_frame_len(kvs, what, nranks, len, why, n))
		return why;
	if ((pairs = count_pairs(body, len)) < 0)
		return NULL; /* decoding says what is wrong */
	return check_npairs(what, (size_t)pairs, nranks, why, n);
}

/* Before storing any of f's pairs: NULL when each is a valid entry and
 * together they cost at most the share of nranks ranks, else why not. */
static const char *check_pairs(const struct step_kvs *kvs, const char *what,
			       size_t nranks, const Meridian__KvsFence *f,
			       char *why, size_t n)
{
	size_t share = pmi_kvs_share(nranks, kvs->st->ntasks), cost = 0;
	struct mer_error err;

	if (check_npairs(what, f->n_pairs, nranks, why, n))
		return why;
	for (size_t i = 0; i < f->n_pairs; i++) {
		struct pmi_kv kv = {f->pairs[i]->key, f->pairs[i]->value};
		if (pmi_kv_check(&kv, &err) < 0) {
			snprintf(why, n, "%s, pair %zu: %s", what, i, err.text);
			return why;
		}
		cost += pmi_kv_cost(strlen(kv.key), strlen(kv.value));
	}
	if (cost > share) {
		snprintf(why, n,
			 "%s of pairs costing %zu bytes: more than %zu, the "
			 "share of %zu rank%s in the step's PMI_KVS_RANKS_MAX "
			 "(%u bytes; an entry costs its key and value plus "
			 "%d)",
			 what, cost, share, nranks, nranks == 1 ? "" : "s",
			 PMI_KVS_RANKS_MAX, PMI_KV_OVERHEAD);
		return why;
	}
	return NULL;
}

/* ---- node 0: the other nodes' connections
 * ------------------------------------ */

static void peer_remove(struct step_kvs *kvs, struct kvs_peer *p)
{
	for (struct kvs_peer **pp = &kvs->peers; *pp; pp = &(*pp)->next) {
		if (*pp == p) {
			*pp = p->next;
			break;
		}
	}
	if (p->node > 0) {
		kvs->by_node[p->node] = NULL;
		kvs->gone[p->node] = true;
		list_clear(&kvs->lists[p->node]);
		kvs->in[p->node] = false;
	}
	conn_destroy(p->conn);
	free(p);
}

static void peer_drop(struct kvs_peer *p, const char *why)
{
	struct step_kvs *kvs = p->kvs;
	char b[64];

	log_warnx("%s: KVS connection from %s: %s; closing it", sid(kvs, b, 64),
		  conn_peer(p->conn), why);
	peer_remove(kvs, p);
	try_release(kvs);
}

/* A connection turned away before it proved the key: logged while few
 * have been, counted after (kvs_destroy logs the count), so that whoever
 * scans the port cannot fill the node's log. */
static void stranger_note(struct step_kvs *kvs, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void stranger_note(struct step_kvs *kvs, const char *fmt, ...)
{
	char text[400], b[64];
	va_list ap;

	if (++kvs->strangers > KVS_STRANGERS_LOGGED)
		return;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	log_warnx("%s: %s%s", sid(kvs, b, 64), text,
		  kvs->strangers == KVS_STRANGERS_LOGGED
			  ? " (more such connections are counted, not "
			    "logged)"
			  : "");
}

/* Every other node connected (or came and went): stop listening, and
 * close the connections that never proved the key.  Nobody else has
 * anything to say to node 0. */
static void listen_close(struct step_kvs *kvs)
{
	struct kvs_peer *p, *next;
	unsigned closed = 0;
	char b[64];

	conn_guard_destroy(kvs->guard);
	kvs->guard = NULL;
	if (kvs->listen_fd >= 0)
		close(kvs->listen_fd);
	kvs->listen_fd = -1;
	for (p = kvs->peers; p; p = next) {
		next = p->next;
		if (p->node < 0) {
			peer_remove(kvs, p);
			closed++;
		}
	}
	log_debug("%s: every node's KVS connection is in: no longer "
		  "listening on port %u (%u other connections closed)",
		  sid(kvs, b, 64), kvs->port, closed);
}

/* A connection's first fence: who it is (the key was checked in its
 * header). */
static const char *peer_hello(struct kvs_peer *p, const Meridian__KvsFence *f)
{
	struct step_kvs *kvs = p->kvs;
	const struct step *st = kvs->st;

	if (f->job_id != st->s->job_id || f->step_id != st->s->step_id)
		return "fence for another step";
	if (f->node_index == 0 || f->node_index >= st->nnodes)
		return "node index out of the step";
	if (kvs->by_node[f->node_index] || kvs->gone[f->node_index])
		return "a second connection for the same node";
	p->node = (int)f->node_index;
	kvs->by_node[p->node] = p;
	return NULL;
}

/* Whether every other node has connected, or connected and gone. */
static bool all_nodes_in(const struct step_kvs *kvs)
{
	for (uint32_t i = 1; i < kvs->st->nnodes; i++)
		if (!kvs->by_node[i] && !kvs->gone[i])
			return false;
	return true;
}

static void peer_fence(struct kvs_peer *p, const Meridian__KvsFence *f)
{
	struct step_kvs *kvs = p->kvs;
	char why[400];
	const char *bad = NULL;

	if (p->node < 0) {
		if ((bad = peer_hello(p, f))) {
			peer_drop(p, bad);
			return;
		}
		if (kvs->guard && all_nodes_in(kvs))
			listen_close(kvs);
	}
	if (f->node_index != (uint32_t)p->node) {
		snprintf(why, sizeof(why),
			 "fence of node %u on node %d's "
			 "connection",
			 f->node_index, p->node);
		peer_drop(p, why);
		return;
	}
	if (f->barrier != kvs->barrier || kvs->in[p->node]) {
		snprintf(why, sizeof(why),
			 "fence for barrier %u, expected "
			 "%u",
			 f->barrier, kvs->barrier + kvs->in[p->node]);
		peer_drop(p, why);
		return;
	}
	if ((bad = check_pairs(kvs, "KVS_FENCE",
			       frame_ranks(kvs, p->node, false), f, why,
			       sizeof(why)))) {
		peer_drop(p, bad);
		return;
	}
	for (size_t i = 0; i < f->n_pairs; i++)
		list_add(&kvs->lists[p->node], f->pairs[i]->key,
			 f->pairs[i]->value);
	kvs->in[p->node] = true;
	try_release(kvs);
}

/*
 * A frame's header and credential, before its body is read.  Before the
 * key is proved: a KVS_FENCE whose credential is the step's io_key, or
 * the connection is refused (its bytes discarded as they come, then
 * closed); there is no reading the key from the body of an older node's
 * fence, which may be megabytes.  After: a KVS_FENCE no longer than the
 * node's ranks may send, or the connection is dropped before the body
 * arrives.
 */
static enum conn_verdict peer_on_header(struct conn *c,
					const struct frame_hdr *h,
					const uint8_t *cred, void *arg)
{
	struct kvs_peer *p = arg;
	struct step_kvs *kvs = p->kvs;
	const ProtobufCBinaryData *key = &kvs->st->ls->io_key;
	char why[400];

	if (h->type != MERIDIAN__MSG_TYPE__MSG_KVS_FENCE || h->flags) {
		snprintf(why, sizeof(why),
			 "sent %s (flags 0x%x): expected "
			 "KVS_FENCE",
			 msg_type_name(h->type), h->flags);
		if (conn_authenticated(c)) {
			peer_drop(p, why);
		} else {
			p->refused = true;
			stranger_note(kvs,
				      "KVS connection from %s refused: %s "
				      "with the step's key first",
				      conn_peer(c), why);
		}
		return CONN_REFUSE;
	}
	if (!conn_authenticated(c)) {
		if (!h->cred_len) {
			p->refused = true;
			stranger_note(kvs,
				      "KVS connection from %s refused: a "
				      "KVS_FENCE without the step's io_key "
				      "in its frame credential (an mstepd "
				      "older than this one puts it only in "
				      "the body, which is not read before "
				      "the key is checked: run the same "
				      "Meridian on every node)",
				      conn_peer(c));
			return CONN_REFUSE;
		}
		if (!key_equal(cred, h->cred_len, key->data, key->len)) {
			p->refused = true;
			stranger_note(kvs,
				      "KVS connection from %s refused: a "
				      "KVS_FENCE whose %u-byte "
				      "credential is not the step's "
				      "io_key",
				      conn_peer(c), h->cred_len);
			return CONN_REFUSE;
		}
		conn_set_authenticated(c);
	}
	if (check_frame_len(kvs, "KVS_FENCE", frame_ranks(kvs, p->node, false),
			    h->body_len, why, sizeof(why))) {
		peer_drop(p, why);
		return CONN_REFUSE;
	}
	return CONN_READ;
}

static void peer_on_frame(struct conn *c, const struct frame_hdr *h,
			  const uint8_t *cred, const uint8_t *body, void *arg)
{
	struct kvs_peer *p = arg;
	ProtobufCMessage *m;
	struct mer_error err;
	char why[400];

	/* peer_on_header let only KVS_FENCEs with the key this far; these
	 * checks are what it cannot see: the pairs */
	if (h->type != MERIDIAN__MSG_TYPE__MSG_KVS_FENCE || h->flags) {
		snprintf(why, sizeof(why),
			 "sent %s (flags 0x%x): expected "
			 "KVS_FENCE",
			 msg_type_name(h->type), h->flags);
		peer_drop(p, why);
		return;
	}
	if (check_frame(p->kvs, "KVS_FENCE",
			frame_ranks(p->kvs, p->node, false), body, h->body_len,
			why, sizeof(why))) {
		peer_drop(p, why);
		return;
	}
	if (!(m = frame_unpack_body(h, body, h->body_len, &err))) {
		snprintf(why, sizeof(why), "KVS_FENCE does not decode: %s",
			 err.text);
		peer_drop(p, why);
		return;
	}
	peer_fence(p, (const Meridian__KvsFence *)m);
	protobuf_c_message_free_unpacked(m, NULL);
}

/* Node 0: some node's fence for the current barrier is in. */
static bool barrier_open(const struct step_kvs *kvs)
{
	for (uint32_t i = 0; i < kvs->st->nnodes; i++)
		if (kvs->in[i])
			return true;
	return false;
}

static void peer_on_close(struct conn *c, const char *why, void *arg)
{
	struct kvs_peer *p = arg;
	struct step_kvs *kvs = p->kvs;
	char b[64];

	if (p->node > 0 && barrier_open(kvs))
		log_warnx("%s: node %d's KVS connection lost in barrier %u: "
			  "%s; the barrier goes on without it",
			  sid(kvs, b, 64), p->node, kvs->barrier, why);
	else if (p->node > 0)
		/* between barriers: its ranks are done, it may end first */
		log_debug("%s: node %d ended its KVS connection: %s",
			  sid(kvs, b, 64), p->node, why);
	else if (!p->refused)
		stranger_note(kvs,
			      "KVS connection from %s closed before its "
			      "first fence: %s",
			      conn_peer(c), why);
	peer_remove(kvs, p);
	try_release(kvs);
}

static void guard_log(const char *text, void *arg)
{
	struct step_kvs *kvs = arg;
	char b[64];

	log_warnx("%s: KVS listener: %s", sid(kvs, b, 64), text);
}

static void on_accept(struct conn_guard *g, int fd, const char *name, void *arg)
{
	struct step_kvs *kvs = arg;
	struct kvs_peer *p = xcalloc(1, sizeof(*p));

	p->kvs = kvs;
	p->node = -1;
	/* tcp_accept set TCP_NODELAY: a release is one frame that ranks
	 * wait for */
	if (!(p->conn = conn_guard_conn_create(g, fd, name, peer_on_frame,
					       peer_on_close, p))) {
		free(p);
		return;
	}
	conn_set_header_cb(p->conn, peer_on_header);
	p->next = kvs->peers;
	kvs->peers = p;
}

/* KVS_AUTH_TIMEOUT_MS, or MERIDIAN_KVS_AUTH_TIMEOUT_MS (tests). */
static unsigned auth_timeout_ms(const struct step_kvs *kvs)
{
	const char *env = getenv("MERIDIAN_KVS_AUTH_TIMEOUT_MS");
	unsigned long ms;
	char *end, b[64];

	if (!env || !*env)
		return KVS_AUTH_TIMEOUT_MS;
	errno = 0;
	ms = strtoul(env, &end, 10);
	if (errno || *end || *env < '0' || *env > '9' || !ms ||
	    ms > KVS_AUTH_TIMEOUT_MAX_MS) {
		log_warnx("%s: MERIDIAN_KVS_AUTH_TIMEOUT_MS=%.32s ignored: "
			  "expected milliseconds, 1 to %u; using %u",
			  sid(kvs, b, 64), env, KVS_AUTH_TIMEOUT_MAX_MS,
			  KVS_AUTH_TIMEOUT_MS);
		return KVS_AUTH_TIMEOUT_MS;
	}
	return (unsigned)ms;
}

static int listen_start(struct step_kvs *kvs, struct mer_error *err)
{
	struct mer_error e;
	uint32_t n = kvs->st->nnodes;
	struct conn_guard_limits lim = {
		.max_unauth_per_addr = (n - 1) + KVS_STRANGERS_PER_ADDR,
		.max_unauth = (n - 1) + KVS_STRANGERS,
		.max_conns = n + (n - 1) + KVS_STRANGERS,
		.max_unauth_input = KVS_STRANGER_INPUT,
		.conn =
			{
				.read_ahead = KVS_READ_AHEAD,
				.frame_timeout_ms = KVS_FRAME_TIMEOUT_MS,
				.auth_timeout_ms = auth_timeout_ms(kvs),
				.write_timeout_ms = KVS_WRITE_TIMEOUT_MS,
			},
	};

	kvs->listen_fd = tcp_listen("0.0.0.0", 0, &kvs->port, &e);
	if (kvs->listen_fd < 0)
		return mer_error_set(err, "KVS for the other nodes: %s",
				     e.text);
	set_nonblock(kvs->listen_fd);
	kvs->guard = conn_guard_create(kvs->st->s->base, kvs->listen_fd, &lim,
				       on_accept, guard_log, kvs);
	if (!kvs->guard)
		return mer_error_set(err,
				     "KVS for the other nodes: cannot "
				     "watch port %u: %s",
				     kvs->port, strerror(errno));
	kvs->by_node = xcalloc(n, sizeof(*kvs->by_node));
	kvs->in = xcalloc(n, sizeof(*kvs->in));
	kvs->gone = xcalloc(n, sizeof(*kvs->gone));
	kvs->lists = xcalloc(n, sizeof(*kvs->lists));
	return 0;
}

/* ---- the other nodes: the connection to node 0 --------------------------- */

static void up_lost(struct step_kvs *kvs, const char *why)
{
	char b[64];

	/* node 0 ends when its ranks do, maybe before ours: that matters
	 * only to a barrier still open */
	if (kvs->waiting)
		log_warnx("%s: KVS connection to node 0 lost in barrier %u: "
			  "%s; barriers end on this node alone",
			  sid(kvs, b, 64), kvs->barrier - 1, why);
	else
		log_info("%s: KVS connection to node 0 closed: %s",
			 sid(kvs, b, 64), why);
	conn_destroy(kvs->up);
	kvs->up = NULL;
	if (kvs->waiting) {
		kvs->waiting = false;
		release_local(kvs);
	}
}

static void up_release(struct step_kvs *kvs, const Meridian__KvsFence *f)
{
	struct remote_puts rp = {0};
	char why[400];

	if (!kvs->waiting || f->barrier + 1 != kvs->barrier) {
		snprintf(why, sizeof(why), "release of barrier %u, expected %d",
			 f->barrier, kvs->waiting ? (int)kvs->barrier - 1 : -1);
		up_lost(kvs, why);
		return;
	}
	if (check_pairs(kvs, "KVS_RELEASE", frame_ranks(kvs, 0, true), f, why,
			sizeof(why))) {
		up_lost(kvs, why);
		return;
	}
	kvs->waiting = false;
	for (size_t i = 0; i < f->n_pairs; i++)
		put_remote(kvs, &rp, f->pairs[i]->key, f->pairs[i]->value);
	remote_puts_done(kvs, &rp);
	release_local(kvs);
}

static void up_on_frame(struct conn *c, const struct frame_hdr *h,
			const uint8_t *cred, const uint8_t *body, void *arg)
{
	struct step_kvs *kvs = arg;
	ProtobufCMessage *m;
	struct mer_error err;
	char why[400];

	if (h->type != MERIDIAN__MSG_TYPE__MSG_KVS_RELEASE || h->flags) {
		snprintf(why, sizeof(why),
			 "node 0 sent %s (flags 0x%x): "
			 "expected KVS_RELEASE",
			 msg_type_name(h->type), h->flags);
		up_lost(kvs, why);
		return;
	}
	if (check_frame(kvs, "KVS_RELEASE", frame_ranks(kvs, 0, true), body,
			h->body_len, why, sizeof(why))) {
		up_lost(kvs, why);
		return;
	}
	if (!(m = frame_unpack_body(h, body, h->body_len, &err))) {
		snprintf(why, sizeof(why), "KVS_RELEASE does not decode: %s",
			 err.text);
		up_lost(kvs, why);
		return;
	}
	up_release(kvs, (const Meridian__KvsFence *)m);
	protobuf_c_message_free_unpacked(m, NULL);
}

/* A frame's header from node 0: a KVS_RELEASE no longer than every other
 * node's ranks may put, or the connection is dropped before the body
 * arrives. */
static enum conn_verdict up_on_header(struct conn *c, const struct frame_hdr *h,
				      const uint8_t *cred, void *arg)
{
	struct step_kvs *kvs = arg;
	char why[400];

	if (h->type != MERIDIAN__MSG_TYPE__MSG_KVS_RELEASE || h->flags) {
		snprintf(why, sizeof(why),
			 "node 0 sent %s (flags 0x%x): "
			 "expected KVS_RELEASE",
			 msg_type_name(h->type), h->flags);
		up_lost(kvs, why);
		return CONN_REFUSE;
	}
	if (check_frame_len(kvs, "KVS_RELEASE", frame_ranks(kvs, 0, true),
			    h->body_len, why, sizeof(why))) {
		up_lost(kvs, why);
		return CONN_REFUSE;
	}
	return CONN_READ;
}

static void up_on_close(struct conn *c, const char *why, void *arg)
{
	up_lost(arg, why);
}

int kvs_connect(struct step_kvs *kvs, uint16_t port, struct mer_error *err)
{
	if (!port) {
		errno = EINVAL;
		return mer_error_set(err,
				     "mrun's STEP_GO names no KVS port "
				     "on node 0 (%s)",
				     kvs->st->rec->nodes[0]->addr);
	}
	/* Connected at the first barrier, not now: a step whose ranks
	 * never use PMI (or end at once on node 0) needs no connection, and
	 * node 0 may already be gone by the time this node starts. */
	kvs->up_port = port;
	return 0;
}

/*
 * Open the connection to node 0 for the first barrier and send its fence
 * (the whole frame, len bytes, with the key as its credential).  The
 * header and the credential are written at once, on the socket just
 * connected (their few bytes fit in its empty buffer): node 0 closes the
 * oldest of the connections from one address that have not proved the
 * key when a flood comes from there, and a node's must not wait for a
 * turn of the loop to prove it.  The rest goes through the connection.
 */
static int up_open(struct step_kvs *kvs, const uint8_t *first, size_t len,
		   struct mer_error *err)
{
	const char *addr = kvs->st->rec->nodes[0]->addr;
	size_t head = MER_FRAME_HDR_LEN + kvs->st->ls->io_key.len;
	char peer[300];
	int fd;

	kvs->up_tried = true;
	fd = tcp_connect(addr, kvs->up_port, KVS_CONNECT_TIMEOUT_MS, NULL);
	if (fd < 0)
		return mer_error_set(err,
				     "cannot reach node 0's KVS at %s:%u: "
				     "%s",
				     addr, kvs->up_port, strerror(errno));
	if (head > len)
		head = len;
	if (write_all(fd, first, head) < 0) {
		int e = errno;
		close(fd);
		return mer_error_set(err,
				     "cannot reach node 0's KVS at %s:%u: "
				     "%s",
				     addr, kvs->up_port, strerror(e));
	}
	snprintf(peer, sizeof(peer), "node 0's KVS %s:%u", addr, kvs->up_port);
	kvs->up = conn_create(kvs->st->s->base, fd, peer, up_on_frame,
			      up_on_close, kvs);
	if (!kvs->up)
		return mer_error_set(err, "%s: out of memory", peer);
	conn_set_header_cb(kvs->up, up_on_header);
	if (conn_send(kvs->up, first + head, len - head) < 0)
		return mer_error_set(err, "%s: out of memory", peer);
	return 0;
}

/* ---- the PMI server's callbacks ------------------------------------------ */

static struct kvs_rank *rank_slot(struct step_kvs *kvs, int rank)
{
	uint32_t first = kvs->st->me->first_rank;

	if (rank < 0 || (uint32_t)rank < first ||
	    (uint32_t)rank - first >= kvs->st->nranks)
		return NULL;
	return &kvs->ranks[(uint32_t)rank - first];
}

static int ops_send(void *arg, int rank, const char *buf, size_t len)
{
	struct kvs_rank *kr = rank_slot(arg, rank);

	if (!kr || !kr->bev) {
		errno = EPIPE;
		return -1;
	}
	if (bufferevent_write(kr->bev, buf, len) < 0) {
		errno = ENOMEM;
		return -1;
	}
	if (evbuffer_get_length(bufferevent_get_output(kr->bev)) > PMI_OUT_HIGH)
		bufferevent_disable(kr->bev, EV_READ);
	return 0;
}

static void ops_barrier_ready(void *arg, const struct pmi_kv *puts, size_t n)
{
	struct step_kvs *kvs = arg;
	const struct step *st = kvs->st;
	struct kvs_list mine = {(struct pmi_kv *)puts, n, n};
	struct mer_error err;

	if (st->nnodes == 1) {
		release_local(kvs);
	} else if (st->node_index == 0) {
		for (size_t i = 0; i < n; i++)
			list_add(&kvs->lists[0], puts[i].key, puts[i].value);
		kvs->in[0] = true;
		try_release(kvs);
	} else if (!kvs->up_tried) {
		/* the first fence opens the connection, and proves the key */
		size_t len;
		uint8_t *buf = pairs_frame(
			kvs, MERIDIAN__MSG_TYPE__MSG_KVS_FENCE, kvs->barrier,
			&mine, 1, SKIP_NONE, true, &len);
		int rc = up_open(kvs, buf, len, &err);

		free(buf);
		if (rc < 0) {
			/* The ranks cannot wire up without node 0's
			 * entries. */
			step_fail(kvs->st, err.text);
			return;
		}
		kvs->barrier++;
		kvs->waiting = true;
	} else if (!kvs->up) {
		release_local(kvs); /* node 0 is gone */
	} else {
		send_pairs(kvs, kvs->up, MERIDIAN__MSG_TYPE__MSG_KVS_FENCE,
			   kvs->barrier++, &mine, 1, SKIP_NONE);
		kvs->waiting = true;
	}
}

static void ops_abort(void *arg, int rank, int exitcode, const char *msg)
{
	struct step_kvs *kvs = arg;
	struct kvs_rank *kr = rank_slot(kvs, rank);

	if (kr)
		step_rank_aborted(kvs->st, kr->r, exitcode, msg);
}

static void ops_error(void *arg, int rank, const char *what)
{
	struct step_kvs *kvs = arg;
	struct kvs_rank *kr = rank_slot(kvs, rank);
	char b[64];

	/* A rank that never spoke PMI is no MPI program (mrun's default is
	 * --mpi=pmi1), and one mstepd killed is not to blame. */
	if (kr && (!kr->spoke || kr->r->fate != RANK_FATE_NONE))
		log_debug("%s: %s", sid(kvs, b, 64), what);
	else
		log_warnx("%s: %s", sid(kvs, b, 64), what);
}

static void finalize_cb(evutil_socket_t fd, short what, void *arg)
{
	struct kvs_rank *kr = arg;

	step_rank_hung(kr->kvs->st, kr->r);
}

static void ops_finalized(void *arg, int rank)
{
	struct step_kvs *kvs = arg;
	struct kvs_rank *kr = rank_slot(kvs, rank);
	struct timeval tv = {.tv_sec = kvs->st->finalize_timeout};

	if (!kr || kr->r->reaped)
		return;
	if (!kr->finalize_ev)
		kr->finalize_ev =
			evtimer_new(kvs->st->s->base, finalize_cb, kr);
	evtimer_add(kr->finalize_ev, &tv);
}

static const struct pmi_server_ops kvs_ops = {
	.send = ops_send,
	.barrier_ready = ops_barrier_ready,
	.abort = ops_abort,
	.error = ops_error,
	.finalized = ops_finalized,
};

/* ---- the ranks' connections ---------------------------------------------- */

static void pmi_read_cb(struct bufferevent *bev, void *arg)
{
	struct kvs_rank *kr = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	size_t n;

	kr->spoke = true;
	while ((n = evbuffer_get_contiguous_space(in)) > 0) {
		const char *p = (const char *)evbuffer_pullup(in, (ssize_t)n);
		if (pmi_conn_input(kr->kvs->srv, (int)kr->r->rank, p, n) < 0)
			log_debug("PMI reply to rank %u: %s", kr->r->rank,
				  strerror(errno));
		evbuffer_drain(in, n);
	}
	watch_blocked(kr->kvs);
}

/* The replies went out: read requests again. */
static void pmi_write_cb(struct bufferevent *bev, void *arg)
{
	bufferevent_enable(bev, EV_READ);
}

static void pmi_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct kvs_rank *kr = arg;

	if (!(what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)))
		return;
	pmi_conn_closed(kr->kvs->srv, (int)kr->r->rank);
	bufferevent_free(bev);
	kr->bev = NULL;
	watch_blocked(kr->kvs);
}

int kvs_child_fd(const struct step_kvs *kvs, const struct step_rank *r)
{
	return kvs->ranks[r->local].child_fd;
}

void kvs_rank_started(struct step_kvs *kvs, const struct step_rank *r)
{
	struct kvs_rank *kr = &kvs->ranks[r->local];

	if (kr->started)
		return;
	kr->started = true;
	close(kr->child_fd);
	kr->child_fd = -1;
	if (r->pid <= 0) {
		close(kr->fd); /* never forked: nothing to serve */
		kr->fd = -1;
		return;
	}
	set_nonblock(kr->fd);
	kr->bev = bufferevent_socket_new(kvs->st->s->base, kr->fd,
					 BEV_OPT_CLOSE_ON_FREE);
	if (!kr->bev)
		abort();
	kr->fd = -1;
	bufferevent_setcb(kr->bev, pmi_read_cb, pmi_write_cb, pmi_event_cb, kr);
	bufferevent_enable(kr->bev, EV_READ | EV_WRITE);
}

void kvs_rank_reaped(struct step_kvs *kvs, const struct step_rank *r)
{
	struct kvs_rank *kr = &kvs->ranks[r->local];

	if (kr->finalize_ev)
		evtimer_del(kr->finalize_ev);
}

/* ---- the whole ---------------------------------------------------------- */

/* PMI_process_mapping from where the step's ranks run. */
static int set_mapping(struct step_kvs *kvs, struct mer_error *err)
{
	const Meridian__StepRecord *rec = kvs->st->rec;
	int *counts = xcalloc(rec->n_nodes, sizeof(*counts)), rc;
	char b[64];

	for (size_t i = 0; i < rec->n_nodes; i++)
		counts[i] = (int)rec->nodes[i]->ntasks;
	rc = pmi_server_set_process_mapping(kvs->srv, counts, (int)rec->n_nodes,
					    err);
	free(counts);
	if (rc == 1)
		log_info("%s: PMI_process_mapping too long for MPICH: left "
			 "out (MPICH compares host names instead)",
			 sid(kvs, b, 64));
	return rc < 0 ? -1 : 0;
}

static int add_ranks(struct step_kvs *kvs, struct mer_error *err)
{
	struct step *st = kvs->st;

	kvs->ranks = xcalloc(st->nranks ? st->nranks : 1, sizeof(*kvs->ranks));
	for (size_t i = 0; i < st->nranks; i++) {
		kvs->ranks[i].kvs = kvs;
		kvs->ranks[i].r = &st->ranks[i];
		kvs->ranks[i].fd = kvs->ranks[i].child_fd = -1;
	}
	for (size_t i = 0; i < st->nranks; i++) {
		struct kvs_rank *kr = &kvs->ranks[i];
		int sv[2];
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
			return mer_error_set(err, "PMI socketpair: %s",
					     strerror(errno));
		kr->fd = sv[0];
		kr->child_fd = sv[1];
		if (pmi_server_add_rank(kvs->srv, (int)kr->r->rank, err) < 0)
			return -1;
	}
	return 0;
}

struct step_kvs *kvs_create(struct step *st, struct mer_error *err)
{
	struct step_kvs *kvs = xcalloc(1, sizeof(*kvs));
	char name[64];

	kvs->st = st;
	kvs->listen_fd = -1;
	kvs->unblock_ev = evtimer_new(st->s->base, unblock_cb, kvs);
	snprintf(name, sizeof(name), "meridian-%u.%u", st->s->job_id,
		 st->s->step_id);
	kvs->srv = pmi_server_create(&kvs_ops, kvs, name, (int)st->ntasks, 0,
				     (int)st->ntasks, err);
	/* PMI-2's job id is Slurm's mpi/pmi2 one, JOB.STEP (PMI_JOBID) */
	snprintf(name, sizeof(name), "%u.%u", st->s->job_id, st->s->step_id);
	if (!kvs->srv ||
	    (st->pmi2 && pmi_server_enable_pmi2(kvs->srv, name, err) < 0) ||
	    set_mapping(kvs, err) < 0 || add_ranks(kvs, err) < 0 ||
	    (st->nnodes > 1 && st->node_index == 0 &&
	     listen_start(kvs, err) < 0)) {
		kvs_destroy(kvs);
		return NULL;
	}
	return kvs;
}

uint16_t kvs_port(const struct step_kvs *kvs)
{
	return kvs ? kvs->port : 0;
}

void kvs_destroy(struct step_kvs *kvs)
{
	char b[64];

	if (!kvs)
		return;
	for (size_t i = 0; kvs->ranks && i < kvs->st->nranks; i++) {
		struct kvs_rank *kr = &kvs->ranks[i];
		if (kr->bev)
			bufferevent_free(kr->bev);
		if (kr->fd >= 0)
			close(kr->fd);
		if (kr->child_fd >= 0)
			close(kr->child_fd);
		if (kr->finalize_ev)
			event_free(kr->finalize_ev);
	}
	free(kvs->ranks);
	if (kvs->strangers > KVS_STRANGERS_LOGGED)
		log_warnx("%s: %lu connections to the KVS port were turned "
			  "away in all, %lu of them not logged",
			  sid(kvs, b, 64), kvs->strangers,
			  kvs->strangers - KVS_STRANGERS_LOGGED);
	conn_guard_destroy(kvs->guard);
	while (kvs->peers)
		peer_remove(kvs, kvs->peers);
	conn_destroy(kvs->up);
	if (kvs->listen_fd >= 0)
		close(kvs->listen_fd);
	for (size_t i = 0; kvs->lists && i < kvs->st->nnodes; i++) {
		list_clear(&kvs->lists[i]);
		free(kvs->lists[i].kv);
	}
	free(kvs->lists);
	free(kvs->by_node);
	free(kvs->in);
	free(kvs->gone);
	if (kvs->unblock_ev)
		event_free(kvs->unblock_ev);
	pmi_server_destroy(kvs->srv);
	free(kvs);
}
