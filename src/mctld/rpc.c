/*
 * rpc.c - mctld's side of the protocol: the listener, peers, the RPC table,
 * replies, pushes to nodes, and the outbox sent after each commit.
 *
 * A peer is one connection (conn.h), or in unit tests a fake transport
 * with the same peer_ops.  Every request is checked in the same order:
 * credential (auth.h) -> the table's access column -> body decode ->
 * handler.  A handler either replies (rpc_reply) or returns -1 with errno
 * and a message, which becomes the ErrorReply.  Replies to the request
 * types the table marks durable wait in the outbox for the next commit;
 * so do LAUNCH_JOB and SIGNAL_JOB, so a node never runs or kills a job on
 * the strength of a state that is not yet on disk.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "auth.h"
#include "conn.h"
#include "hostlist.h"
#include "log.h"
#include "array.h"
#include "mctld.h"
#include "util.h"

#define MT(x) MERIDIAN__MSG_TYPE__MSG_##x

/*
 * What a stranger or a user may make mctld hold (conn.h's limits).  A
 * stranger is a connection none of whose credentials has been checked
 * yet; it holds at most a header and a credential, so the caps on them
 * are counts.  A user's requests are read in full only while all of its
 * frames on their way fit in RPC_USER_HELD_MAX (one largest frame), and
 * every user's together in RPC_ALL_HELD_MAX; the others wait, and every
 * frame must be whole within FrameTimeout=.  A user has at most
 * MaxUserConnections= connections, and mctld MaxConnections=.  Frames up to
 * RPC_FREE_FRAME (nearly every request) need no room.
 */
#define RPC_FREE_FRAME	  (64u << 10)
#define RPC_USER_HELD_MAX (MER_FRAME_MAX_BODY + CONN_READ_AHEAD_MIN)
_Static_assert(RPC_USER_HELD_MAX >= MER_FRAME_HDR_LEN + MER_FRAME_MAX_CRED +
					    MER_FRAME_MAX_BODY,
	       "a user's room must hold the largest frame");
#define RPC_ALL_HELD_MAX	(128u << 20)
#define RPC_MAX_CONNS		65536
#define RPC_FD_RESERVE		64
#define RPC_MAX_UNAUTH		1024
#define RPC_MAX_UNAUTH_PER_ADDR 64
#define RPC_MAX_UNAUTH_INPUT	(16u << 20)
#define RPC_MAX_OUTPUT		(4u << 20)
#define RPC_AUTH_TIMEOUT_S	10
#define RPC_WRITE_TIMEOUT_S	60
/* A page of a paged JOB_INFO or NODE_INFO reply, which is also what a
 * reader who does not read holds mctld to, per connection: 4 MiB (10,000
 * jobs in one round trip), but 1 MiB on the connections of a user who
 * has more than RPC_PAGE_FULL_CONNS open, so that one user's many
 * connections hold at most about MaxUserConnections MiB. */
#define RPC_PAGE_BYTES	     (4u << 20)
#define RPC_PAGE_SMALL_BYTES (1u << 20)
#define RPC_PAGE_FULL_CONNS  4
/* What one JOB_HISTORY request may list in each of its filters. */
#define RPC_HISTORY_MAX_IDS 4096
/* Lines about strangers' connections: at most a burst per interval. */
#define RPC_STRANGER_LOG_BURST	    20
#define RPC_STRANGER_LOG_INTERVAL_S 10

typedef int (*rpc_handler)(struct rpc_req *r, ProtobufCMessage *msg,
			   struct mer_error *err);

struct rpc_entry {
	Meridian__MsgType type;
	rpc_handler fn;
	enum msg_access access;
	bool durable; /* the reply waits for the next commit */
};

/* A request mctld pushed to a node, waiting for its reply. */
struct pushed {
	uint32_t req_id;
	uint16_t type;
	uint32_t job_id;
	uint32_t step_id; /* LAUNCH_STEP */
	struct pushed *next;
};

/*
 * What each user holds: connections, and bytes of requests on their way
 * (a frame whose credential was checked and whose body is still coming).
 * Privileged senders (root, mctld's own uid: node daemons) are not
 * counted: the limits are for users.
 */
struct rpc_user {
	uid_t uid;
	unsigned nconns;
	size_t held;
	struct rpc_user *next;
};
#define RPC_USER_BUCKETS 64

struct peer {
	struct mctld *ctx;
	const struct peer_ops *ops;
	void *impl;
	char *name;
	struct node *node; /* the node registered on this connection */
	int refs;
	bool closed;
	uint32_t next_req_id;
	struct pushed *pushed;
	uint64_t nframes;
	uint64_t nreplied;
	TAILQ_ENTRY(peer) entry;

	/* the conn transport: who sent the frame now arriving */
	struct rpc_user *user; /* the first uid authenticated here */
	bool frame_ok;	       /* its credential was checked */
	uid_t frame_uid;
	gid_t frame_gid;
	bool authed;  /* a credential was checked on it */
	size_t held;  /* bytes of it counted against user and in all */
	bool waiting; /* on the rpc's wait list for room */
	TAILQ_ENTRY(peer) wait_entry;
};

struct rpc {
	struct mctld *ctx;
	struct conn_guard *guard;
	TAILQ_HEAD(, peer) peers;
	size_t npeers;

	struct rpc_user *users[RPC_USER_BUCKETS];
	size_t held; /* bytes of incoming requests held, every user */
	TAILQ_HEAD(, peer) waiters;

	int64_t slog_start; /* stranger_log's interval */
	unsigned slog_count, slog_dropped;
};

static void handle_push_reply(struct peer *p, const struct frame_hdr *h,
			      const uint8_t *body);
static void peer_release(struct peer *p);
static const struct peer_ops conn_peer_ops;
static const struct outbox_transport outbox_transport;
static void user_maybe_free(struct rpc *rpc, struct rpc_user *u);

/* --- peers ------------------------------------------------------------- */

struct rpc *rpc_create(struct mctld *ctx)
{
	struct rpc *rpc = xcalloc(1, sizeof(*rpc));

	rpc->ctx = ctx;
	TAILQ_INIT(&rpc->peers);
	TAILQ_INIT(&rpc->waiters);
	outbox_set_transport(ctx->outbox, &outbox_transport);
	return rpc;
}

void rpc_destroy(struct rpc *rpc)
{
	struct peer *p;

	if (!rpc)
		return;
	conn_guard_destroy(rpc->guard);
	while ((p = TAILQ_FIRST(&rpc->peers))) {
		if (p->ops && p->ops->close)
			p->ops->close(p); /* calls peer_closed */
		else
			peer_closed(p, "mctld stops");
	}
	for (size_t i = 0; i < RPC_USER_BUCKETS; i++) {
		struct rpc_user *u, *next;

		for (u = rpc->users[i]; u; u = next) {
			next = u->next;
			free(u);
		}
	}
	free(rpc);
}

size_t rpc_npeers(const struct mctld *ctx)
{
	return ctx->rpc->npeers;
}

struct peer *peer_create(struct mctld *ctx, const char *name,
			 const struct peer_ops *ops, void *impl)
{
	struct peer *p = xcalloc(1, sizeof(*p));

	p->ctx = ctx;
	p->ops = ops;
	p->impl = impl;
	p->name = xstrdup(name ? name : "?");
	p->refs = 1; /* the connection's */
	TAILQ_INSERT_TAIL(&ctx->rpc->peers, p, entry);
	ctx->rpc->npeers++;
	return p;
}

void peer_ref(struct peer *p)
{
	p->refs++;
}

static void pushed_clear(struct peer *p)
{
	struct pushed *q, *next;

	for (q = p->pushed; q; q = next) {
		next = q->next;
		free(q);
	}
	p->pushed = NULL;
}

void peer_unref(struct peer *p)
{
	if (!p || --p->refs > 0)
		return;
	pushed_clear(p);
	free(p->name);
	free(p);
}

void *peer_impl(const struct peer *p)
{
	return p->impl;
}

const char *peer_name(const struct peer *p)
{
	return p->name;
}

struct node *peer_node(const struct peer *p)
{
	return p->node;
}

void peer_set_node(struct peer *p, struct node *n)
{
	if (p->node && p->node != n && p->node->peer == p)
		p->node->peer = NULL;
	p->node = n;
	if (!n) {
		/* Dropped in favour of a newer connection of the same node:
		 * nothing more is pushed here. */
		pushed_clear(p);
		if (!p->closed && p->ops && p->ops->close)
			p->ops->close(p);
	}
}

/* --- what strangers make mctld write -------------------------------------- */

/*
 * Lines about connections that never authenticated: a few per interval,
 * then a count, so that a flood of strangers cannot fill the disk with
 * mctld's log.
 */
static void stranger_log(struct rpc *rpc, const char *fmt, ...)
{
	int64_t now = mer_mono_ms();
	char text[400];
	va_list ap;

	if (now - rpc->slog_start >= RPC_STRANGER_LOG_INTERVAL_S * 1000) {
		if (rpc->slog_dropped)
			log_warnx("%u more lines about unauthenticated "
				  "connections not logged in the last %d s",
				  rpc->slog_dropped,
				  RPC_STRANGER_LOG_INTERVAL_S);
		rpc->slog_start = now;
		rpc->slog_count = 0;
		rpc->slog_dropped = 0;
	}
	if (rpc->slog_count >= RPC_STRANGER_LOG_BURST) {
		rpc->slog_dropped++;
		return;
	}
	rpc->slog_count++;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	log_info("%s", text);
}

/* --- what users hold ------------------------------------------------------ */

static bool uid_privileged(const struct mctld *ctx, uid_t uid)
{
	return uid == 0 || uid == ctx->uid;
}

static struct rpc_user *user_get(struct rpc *rpc, uid_t uid)
{
	struct rpc_user **b = &rpc->users[uid % RPC_USER_BUCKETS], *u;

	for (u = *b; u; u = u->next)
		if (u->uid == uid)
			return u;
	u = xcalloc(1, sizeof(*u));
	u->uid = uid;
	u->next = *b;
	*b = u;
	return u;
}

static void user_maybe_free(struct rpc *rpc, struct rpc_user *u)
{
	struct rpc_user **pp;

	if (u->nconns || u->held)
		return;
	for (pp = &rpc->users[u->uid % RPC_USER_BUCKETS]; *pp;
	     pp = &(*pp)->next) {
		if (*pp == u) {
			*pp = u->next;
			free(u);
			return;
		}
	}
}

/* The frame p held room for is handled (or p is gone): give the room back
 * and let those waiting for room ask again. */
static void peer_release(struct peer *p)
{
	struct rpc *rpc = p->ctx->rpc;
	struct peer *w, *next;

	if (p->waiting) {
		TAILQ_REMOVE(&rpc->waiters, p, wait_entry);
		p->waiting = false;
	}
	p->frame_ok = false;
	if (!p->held)
		return;
	rpc->held -= p->held;
	if (p->user)
		p->user->held -= p->held;
	p->held = 0;
	for (w = TAILQ_FIRST(&rpc->waiters); w; w = next) {
		next = TAILQ_NEXT(w, wait_entry);
		TAILQ_REMOVE(&rpc->waiters, w, wait_entry);
		w->waiting = false;
		if (!w->closed && w->impl)
			conn_resume(w->impl);
	}
}

void peer_closed(struct peer *p, const char *why)
{
	struct mctld *ctx = p->ctx;

	if (p->closed)
		return;
	p->closed = true;
	p->impl = NULL;
	if (p->node) {
		log_info("node %s: connection %s closed: %s", p->node->name,
			 p->name, why);
		if (p->node->peer == p)
			p->node->peer = NULL;
		p->node = NULL;
	} else if (!p->authed && p->ops == &conn_peer_ops) {
		stranger_log(ctx->rpc, "connection %s closed: %s", p->name,
			     why);
	} else if (strncmp(why, "bad frame", 9) == 0) {
		log_warnx("connection %s closed: %s", p->name, why);
	} else if (p->nframes == 0 || p->nreplied < p->nframes) {
		/* Cut before or in the middle of a request: say why. */
		log_info("connection %s closed: %s", p->name, why);
	} else {
		log_debug("connection %s closed: %s", p->name, why);
	}
	pushed_clear(p);
	peer_release(p);
	if (p->user) {
		p->user->nconns--;
		user_maybe_free(ctx->rpc, p->user);
		p->user = NULL;
	}
	TAILQ_REMOVE(&ctx->rpc->peers, p, entry);
	ctx->rpc->npeers--;
	peer_unref(p);
}

static int peer_send(struct peer *p, const uint8_t *buf, size_t len)
{
	if (p->closed || !p->ops || !p->ops->send)
		return -1;
	if (p->ops->send(p, buf, len) < 0) {
		log_warn("%s: cannot queue %zu bytes", p->name, len);
		return -1;
	}
	return 0;
}

/* --- the real transport: conn.h ------------------------------------------ */

static int conn_ops_send(struct peer *p, const uint8_t *buf, size_t len)
{
	return conn_send(p->impl, buf, len);
}

static void conn_ops_close(struct peer *p)
{
	struct conn *c = p->impl;

	/* conn_destroy: no close callback follows, so say it here. */
	peer_closed(p, "closed by mctld");
	conn_destroy(c);
}

static void conn_ops_close_after_flush(struct peer *p)
{
	conn_close_after_flush(p->impl);
}

static const struct peer_ops conn_peer_ops = {
	.send = conn_ops_send,
	.close = conn_ops_close,
	.close_after_flush = conn_ops_close_after_flush,
};

/*
 * Who sent request h, from its credential (cred_len bytes at cred): 0 with
 * *uid and *gid (mctld's own when there is no AuthType, in unit tests), or
 * -1 with the text of the error reply in text, the refusal logged as a
 * stranger's.
 */
static int request_credential(struct peer *p, const struct frame_hdr *h,
			      const uint8_t *cred, uid_t *uid, gid_t *gid,
			      char *text, size_t n)
{
	struct mctld *ctx = p->ctx;
	struct mer_error err = {""};

	*uid = ctx->uid;
	*gid = getgid();
	if (!ctx->auth)
		return 0;
	if (h->cred_len == 0) {
		stranger_log(ctx->rpc, "%s: %s refused: no credential", p->name,
			     msg_type_name(h->type));
		snprintf(text, n,
			 "the request carries no credential; every "
			 "request must (AuthType=)");
		return -1;
	}
	if (auth_decode(ctx->auth, (const char *)cred, h->cred_len, uid, gid,
			&err) < 0) {
		stranger_log(ctx->rpc, "%s: %s refused: bad credential: %s",
			     p->name, msg_type_name(h->type), err.text);
		snprintf(text, n, "credential refused: %s", err.text);
		return -1;
	}
	return 0;
}

/* A whole frame from p whose sender is uid/gid: a reply to what mctld
 * pushed, or a request to dispatch. */
static void peer_frame(struct peer *p, const struct frame_hdr *h, uid_t uid,
		       gid_t gid, const uint8_t *body)
{
	p->nframes++;
	if (h->flags & MER_FRAME_REPLY) {
		p->nreplied++; /* not a request: nothing owed */
		handle_push_reply(p, h, body);
		return;
	}
	rpc_dispatch(p->ctx, p, h, uid, gid, body);
}

/* Send an error reply for the frame h straight away (the frame itself is
 * refused and will not be dispatched). */
static void conn_refuse(struct peer *p, const struct frame_hdr *h, int code,
			const char *text)
{
	if (!(h->flags & MER_FRAME_REPLY))
		conn_send_error(p->impl, h->type, h->req_id, code, text);
}

/*
 * Room for a frame of total bytes from p's sender.  Small frames always
 * fit; a larger one waits while its user, or all users together, already
 * hold as much as they may.  Any one frame fits RPC_USER_HELD_MAX (the
 * largest frame_hdr_decode lets through), so every frame gets its turn.
 */
static enum conn_verdict peer_take_room(struct peer *p, size_t total)
{
	struct rpc *rpc = p->ctx->rpc;

	if (total <= RPC_FREE_FRAME || uid_privileged(p->ctx, p->frame_uid) ||
	    !p->user)
		return CONN_READ;
	if (p->user->held + total > RPC_USER_HELD_MAX ||
	    rpc->held + total > RPC_ALL_HELD_MAX) {
		if (!p->waiting) {
			TAILQ_INSERT_TAIL(&rpc->waiters, p, wait_entry);
			p->waiting = true;
		}
		return CONN_WAIT;
	}
	p->held = total;
	p->user->held += total;
	rpc->held += total;
	return CONN_READ;
}

/*
 * A frame's header and credential are in, its body may not be: check the
 * credential now, so that a stranger never makes mctld hold or decode a
 * body, and count what the frame will hold against its user.
 */
static enum conn_verdict on_conn_header(struct conn *c,
					const struct frame_hdr *h,
					const uint8_t *cred, void *arg)
{
	struct peer *p = arg;
	struct mctld *ctx = p->ctx;
	size_t total = MER_FRAME_HDR_LEN + (size_t)h->cred_len + h->body_len;
	uid_t uid;
	gid_t gid;
	char text[240];

	if (p->frame_ok) /* asked again after CONN_WAIT */
		return peer_take_room(p, total);
	if (h->flags & MER_FRAME_REPLY) {
		/* Replies come only from nodes, to what mctld pushed. */
		if (p->node && total <= RPC_FREE_FRAME)
			return CONN_READ;
		stranger_log(
			ctx->rpc,
			"connection %s: a %zu-byte %s reply %s; closing it",
			p->name, total, msg_type_name(h->type),
			p->node ? "is too large for an answer to a push"
				: "from a peer that is not a node");
		return CONN_REFUSE;
	}
	if (request_credential(p, h, cred, &uid, &gid, text, sizeof(text)) <
	    0) {
		conn_refuse(p, h, EACCES, text);
		return CONN_REFUSE;
	}
	p->frame_uid = uid;
	p->frame_gid = gid;
	p->frame_ok = true;
	if (!conn_authenticated(c)) {
		if (!uid_privileged(ctx, uid)) {
			struct rpc_user *u = user_get(ctx->rpc, uid);

			if (u->nconns >= ctx->conf->max_user_connections) {
				snprintf(text, sizeof(text),
					 "uid %u has %u connections to mctld "
					 "open, the most one user may have",
					 (unsigned)uid, u->nconns);
				log_info("%s: %s refused: %s", p->name,
					 msg_type_name(h->type), text);
				user_maybe_free(ctx->rpc, u);
				conn_refuse(p, h, EUSERS, text);
				p->frame_ok = false;
				return CONN_REFUSE;
			}
			u->nconns++;
			p->user = u;
		}
		conn_set_authenticated(c);
		p->authed = true;
	}
	return peer_take_room(p, total);
}

static void on_conn_frame(struct conn *c, const struct frame_hdr *h,
			  const uint8_t *cred, const uint8_t *body, void *arg)
{
	struct peer *p = arg;

	(void)c;
	(void)cred;
	peer_frame(p, h, p->frame_uid, p->frame_gid, body);
	if (!p->closed)
		peer_release(p);
}

static void on_conn_close(struct conn *c, const char *why, void *arg)
{
	struct peer *p = arg;

	peer_closed(p, why);
	conn_destroy(c);
}

static void on_guard_log(const char *text, void *arg)
{
	(void)arg;
	log_warnx("%s", text);
}

static void on_accept(struct conn_guard *g, int fd, const char *name, void *arg)
{
	struct mctld *ctx = arg;
	struct peer *p = peer_create(ctx, name, &conn_peer_ops, NULL);
	struct conn *c = conn_guard_conn_create(g, fd, name, on_conn_frame,
						on_conn_close, p);

	if (!c) {
		log_warn("%s: cannot set up the connection", name);
		close(fd);
		peer_closed(p, "setup failed");
		return;
	}
	conn_set_header_cb(c, on_conn_header);
	p->impl = c;
}

/* Connections mctld may hold: what RLIMIT_NOFILE allows, raised to its hard
 * limit, less what LMDB, the log and munge's per-request sockets need; or
 * MaxConnections= when set (an admin who sets it above the descriptors
 * gets the accept back-off instead). */
static unsigned max_connections(const struct conf *conf)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return 1024 - RPC_FD_RESERVE;
	if (rl.rlim_cur < rl.rlim_max) {
		rlim_t want =
			rl.rlim_max == RLIM_INFINITY ? 1048576 : rl.rlim_max;
		struct rlimit nl = {want, rl.rlim_max};

		if (setrlimit(RLIMIT_NOFILE, &nl) == 0)
			rl.rlim_cur = want;
	}
	if (conf->max_connections)
		return conf->max_connections;
	if (rl.rlim_cur > RPC_MAX_CONNS + RPC_FD_RESERVE)
		return RPC_MAX_CONNS;
	if (rl.rlim_cur <= 2 * RPC_FD_RESERVE)
		return (unsigned)rl.rlim_cur / 2;
	return (unsigned)(rl.rlim_cur - RPC_FD_RESERVE);
}

int rpc_listen(struct mctld *ctx, struct mer_error *err)
{
	const struct conf *conf = ctx->conf;
	struct conn_guard_limits lim = {
		.max_conns = max_connections(conf),
		.max_unauth = RPC_MAX_UNAUTH,
		.max_unauth_per_addr = RPC_MAX_UNAUTH_PER_ADDR,
		.max_unauth_input = RPC_MAX_UNAUTH_INPUT,
		.conn =
			{
				.read_ahead = RPC_FREE_FRAME,
				.max_output = RPC_MAX_OUTPUT,
				.frame_timeout_ms = conf->frame_timeout * 1000,
				.auth_timeout_ms = RPC_AUTH_TIMEOUT_S * 1000,
				.write_timeout_ms = RPC_WRITE_TIMEOUT_S * 1000,
			},
	};
	uint16_t bound = 0;
	int fd;

	fd = tcp_listen(NULL, conf->controller_port, &bound, err);
	if (fd < 0)
		return -1;
	set_nonblock(fd);
	set_cloexec(fd);
	ctx->listen_fd = fd;
	ctx->port = bound;
	ctx->rpc->guard = conn_guard_create(ctx->base, fd, &lim, on_accept,
					    on_guard_log, ctx);
	if (!ctx->rpc->guard) {
		errno = ENOMEM;
		return mer_error_set(err, "cannot watch the listening socket");
	}
	log_debug("serving at most %u connections (%u not yet "
		  "authenticated, %u of them from one address)",
		  lim.max_conns, lim.max_unauth, lim.max_unauth_per_addr);
	return 0;
}

/* --- replies and the outbox ---------------------------------------------- */

void rpc_reply_error(struct rpc_req *r, int code, const char *text)
{
	uint8_t *buf;
	size_t len;

	r->replied = true;
	r->peer->nreplied++;
	buf = frame_build_error(r->type, r->req_id, code ? code : EINVAL, text,
				&len);
	if (!buf)
		return;
	peer_send(r->peer, buf, len);
	free(buf);
}

static void reply_send(struct rpc_req *r, uint8_t *buf, size_t len);

/* A reply body of size bytes fits in a frame; else r is answered E2BIG. */
static bool reply_fits(struct rpc_req *r, size_t size)
{
	char text[160];

	if (size <= MER_FRAME_MAX_BODY)
		return true;
	snprintf(text, sizeof(text),
		 "the reply would be %zu bytes, over the frame limit of %u; "
		 "ask for fewer jobs or nodes",
		 size, MER_FRAME_MAX_BODY);
	rpc_reply_error(r, E2BIG, text);
	return false;
}

void rpc_reply(struct rpc_req *r, const ProtobufCMessage *msg)
{
	uint8_t *buf;
	size_t len, size = msg ? protobuf_c_message_get_packed_size(msg) : 0;

	if (!reply_fits(r, size))
		return;
	buf = frame_build_sized(r->type, MER_FRAME_REPLY, r->req_id, NULL, 0,
				msg, size, &len);
	reply_send(r, buf, len);
}

/* rpc_reply of head with items in its repeated field numbered field,
 * each item's packed size known (sizes[i]). */
static void rpc_reply_items(struct rpc_req *r, const ProtobufCMessage *head,
			    unsigned field,
			    const ProtobufCMessage *const *items,
			    const size_t *sizes, size_t n)
{
	size_t len, size = frame_items_len(head, field, sizes, n);
	uint8_t *buf;

	if (!reply_fits(r, size))
		return;
	buf = frame_build_items(r->type, MER_FRAME_REPLY, r->req_id, head,
				field, items, sizes, n, size, &len);
	reply_send(r, buf, len);
}

static void reply_send(struct rpc_req *r, uint8_t *buf, size_t len)
{
	r->replied = true;
	if (!buf) {
		r->replied = false;
		rpc_reply_error(r, EIO, "mctld could not build the reply");
		return;
	}
	if (!r->entry || !r->entry->durable) {
		r->peer->nreplied++;
		peer_send(r->peer, buf, len);
		free(buf);
		return;
	}
	outbox_reply(r->ctx, r->peer, r->type, r->req_id, buf, len);
}

/* Send a request to a node, with mctld's credential; its reply comes back
 * through handle_push_reply. */
static int push_request(struct mctld *ctx, struct peer *p, uint16_t type,
			const ProtobufCMessage *msg, const uint8_t *body,
			size_t body_len, uint32_t job_id, uint32_t step_id)
{
	struct mer_error err = {""};
	char *cred = NULL;
	size_t cred_len = 0, len;
	uint8_t *buf;
	struct pushed *q;
	uint32_t req_id;

	if (ctx->auth && auth_encode(ctx->auth, &cred, &cred_len, &err) < 0) {
		log_warnx("%s to %s for job %u not sent: no credential: %s",
			  msg_type_name(type), p->name, job_id, err.text);
		return -1;
	}
	if (++p->next_req_id == 0)
		p->next_req_id = 1;
	req_id = p->next_req_id;
	if (msg)
		body_len = protobuf_c_message_get_packed_size(msg);
	buf = frame_build_sized(type, 0, req_id, cred, cred_len, msg, body_len,
				&len);
	if (buf && !msg && body_len)
		memcpy(buf + MER_FRAME_HDR_LEN + cred_len, body, body_len);
	free(cred);
	if (!buf)
		return -1;
	if (peer_send(p, buf, len) < 0) {
		free(buf);
		return -1;
	}
	free(buf);
	q = xcalloc(1, sizeof(*q));
	q->req_id = req_id;
	q->type = type;
	q->job_id = job_id;
	q->step_id = step_id;
	q->next = p->pushed;
	p->pushed = q;
	return 0;
}

/* --- the outbox's transport ----------------------------------------------- */

static void ob_reply(struct peer *p, const uint8_t *frame, size_t len)
{
	p->nreplied++;
	peer_send(p, frame, len);
}

static int ob_push(struct mctld *ctx, const char *node, uint16_t type,
		   const ProtobufCMessage *msg, const uint8_t *body, size_t len,
		   uint32_t job_id, uint32_t step_id)
{
	struct node *n = node_find(ctx, node);

	if (!n || !n->peer)
		return -1;
	push_request(ctx, n->peer, type, msg, body, len, job_id, step_id);
	return 0;
}

static const struct outbox_transport outbox_transport = {
	.reply = ob_reply,
	.hold = peer_ref,
	.drop = peer_unref,
	.push = ob_push,
};

/* --- replies to what mctld pushed ---------------------------------------- */

static void handle_push_reply(struct peer *p, const struct frame_hdr *h,
			      const uint8_t *body)
{
	struct mctld *ctx = p->ctx;
	struct pushed **pp, *q;
	struct mer_error err = {""};
	ProtobufCMessage *msg;
	const char *node = p->node ? p->node->name : p->name;

	if (p->node)
		node_seen(ctx, p->node);
	for (pp = &p->pushed; *pp; pp = &(*pp)->next)
		if ((*pp)->req_id == h->req_id && (*pp)->type == h->type)
			break;
	if (!(q = *pp)) {
		log_debug("%s: reply %u to no request of ours; ignored",
			  p->name, h->req_id);
		return;
	}
	*pp = q->next;
	msg = frame_unpack_body(h, body, h->body_len, &err);
	if (!msg) {
		log_warnx("%s: bad reply to %s for job %u: %s", node,
			  msg_type_name(h->type), q->job_id, err.text);
		free(q);
		return;
	}
	if (h->flags & MER_FRAME_ERROR) {
		const Meridian__ErrorReply *e = (const void *)msg;

		log_warnx("%s: %s for job %u refused: %s", node,
			  msg_type_name(h->type), q->job_id, e->text);
		if (h->type == MT(LAUNCH_JOB) && p->node)
			job_mgr_launch_failed(ctx, q->job_id, node, e->text);
		if (h->type == MT(LAUNCH_STEP) && p->node)
			step_launch_failed(ctx, q->job_id, q->step_id, node,
					   e->text);
		if ((h->type == MT(PROBE_ARM) || h->type == MT(PROBE_RUN)) &&
		    p->node)
			probe_push_answered(ctx, node, h->type, q->job_id,
					    e->text);
	} else if (h->type == MT(LAUNCH_JOB) && p->node) {
		job_mgr_launch_acked(ctx, q->job_id, node);
	} else if ((h->type == MT(PROBE_ARM) || h->type == MT(PROBE_RUN)) &&
		   p->node) {
		probe_push_answered(ctx, node, h->type, q->job_id, NULL);
	}
	protobuf_c_message_free_unpacked(msg, NULL);
	free(q);
}

/* --- handlers ------------------------------------------------------------ */

/*
 * MSG_ACCESS_OWNER, in one place: may the caller act on job j (its owner,
 * or an admin)?  0, or -1 with errno EPERM and err saying what the caller
 * may not do (what: "see its script").  Every OWNER handler comes here
 * for each job it touches (rpc_dispatch checks that one did).
 */
static int owner_check(struct rpc_req *r, const struct job *j, const char *what,
		       struct mer_error *err)
{
	r->owner_checked = true;
	if (r->admin || j->rec->user_id == r->uid)
		return 0;
	errno = EPERM;
	return mer_error_set(err,
			     "job %u belongs to %s; only its owner or an "
			     "admin may %s",
			     j->rec->job_id, j->rec->user_name, what);
}

/* The job id names, when it exists and the caller may act on it; NULL
 * with errno (ENOENT, EPERM) and err. */
static struct job *owned_job(struct rpc_req *r, uint32_t id, const char *what,
			     struct mer_error *err)
{
	struct job *j = job_find(r->ctx, id);

	if (!j) {
		r->owner_checked = true;
		errno = ENOENT;
		mer_error_set(err,
			      "job %u does not exist (or ended more than "
			      "MinJobAge=%us ago)",
			      id, r->ctx->conf->min_job_age);
		return NULL;
	}
	return owner_check(r, j, what, err) < 0 ? NULL : j;
}

static int h_submit(struct rpc_req *r, ProtobufCMessage *msg,
		    struct mer_error *err)
{
	Meridian__SubmitJobRequest *req = (void *)msg;
	Meridian__SubmitJobReply rep = MERIDIAN__SUBMIT_JOB_REPLY__INIT;
	struct job *j;

	j = job_mgr_submit(r->ctx, req, r->uid, r->gid, err);
	if (!j)
		return -1;
	rep.job_id = j->rec->job_id;
	rpc_reply(r, &rep.base);
	return 0;
}

/* A page of a paged JOB_INFO or NODE_INFO reply: items are added while
 * they fit in RPC_PAGE_BYTES (the first always does). */
struct page {
	bool paged;
	size_t used, budget;
};

static struct page page_start(const struct rpc_req *r, bool paged)
{
	const struct rpc_user *u = r->peer->user;
	struct page pg = {paged, 0, RPC_PAGE_BYTES};

	if (u && u->nconns > RPC_PAGE_FULL_CONNS)
		pg.budget = RPC_PAGE_SMALL_BYTES;
	return pg;
}

/* Whether an item of size bytes fits in the page (taken if so). */
static bool page_take(struct page *pg, size_t nitems, size_t size)
{
	if (!pg->paged)
		return true;
	if (nitems && pg->used + size + 8 > pg->budget) /* tag, length */
		return false;
	pg->used += size + 8;
	return true;
}

/* item's packed size into *size; whether it fits in the page. */
static bool page_fits(struct page *pg, size_t nitems,
		      const ProtobufCMessage *item, size_t *size)
{
	*size = protobuf_c_message_get_packed_size(item);
	return page_take(pg, nitems, *size);
}

static bool job_info_wanted(const Meridian__JobInfoRequest *req,
			    const struct job *j, bool by_id)
{
	if (req->has_user && j->rec->user_id != req->user_id)
		return false;
	/* Asked by id: shown whatever their state. */
	return by_id || req->all_states || !job_state_is_final(j->rec->state);
}

/* An array's job id stands for the array's record and every task of
 * it (squeue -j and scancel of an array job id): ids[0..*n) with the
 * tasks' ids added, malloc'd.  One walk over the jobs when an id is an
 * array's. */
static uint32_t *array_ids(struct mctld *ctx, const uint32_t *ids, size_t *n)
{
	size_t cap = *n + 8, k = *n;
	uint32_t *out = xmalloc(cap * sizeof(*out));
	bool any = false;
	struct job *j;

	memcpy(out, ids, *n * sizeof(*out));
	for (size_t i = 0; i < *n && !any; i++) {
		j = job_find(ctx, ids[i]);
		any = !j || j->rec->array_job_id == ids[i];
	}
	if (!any)
		return out;
	TAILQ_FOREACH(j, job_mgr_all(ctx), all_entry) {
		uint32_t a = j->rec->array_job_id;

		if (!a || a == j->rec->job_id)
			continue;
		for (size_t i = 0; i < *n; i++)
			if (ids[i] == a) {
				if (k == cap) {
					cap *= 2;
					out = xrealloc(out, cap * sizeof(*out));
				}
				out[k++] = j->rec->job_id;
				break;
			}
	}
	*n = k;
	return out;
}

/*
 * JOB_INFO's briefs (proto: JobBriefs): the jobs of a page as columns,
 * in one block, and the page's strings, each once (pointers into the
 * records, packed before the handler returns).  Every record is read
 * once, as the job is added: packing reads only the columns and the
 * strings, not 10,000 records scattered over the heap again.
 */
enum {
	BRIEF_USER,
	BRIEF_NAME,
	BRIEF_PART,
	BRIEF_REASON,
	BRIEF_NODES,
	BRIEF_SCHED,
	BRIEF_NSTR
};

struct brief_page {
	Meridian__JobBriefs t;
	void *block;	/* the columns */
	uint32_t *slot; /* a hash of t.strings: index + 1, 0 free */
	size_t nslots, cap_strings;
	/* each string column's last string: a listing's jobs come in runs
	 * of one user, partition, name, reason */
	uint32_t last[BRIEF_NSTR];
};

static size_t brief_elem_size(ProtobufCType type)
{
	switch (type) {
	case PROTOBUF_C_TYPE_INT64:
		return sizeof(int64_t);
	case PROTOBUF_C_TYPE_BYTES:
		return sizeof(ProtobufCBinaryData);
	default: /* uint32, JobState */
		return sizeof(uint32_t);
	}
}

/* A column's bytes, rounded up so that the next one is aligned. */
static size_t brief_column_bytes(const ProtobufCFieldDescriptor *f, size_t n)
{
	return (n * brief_elem_size(f->type) + 7) & ~(size_t)7;
}

#define BRIEF_COLUMN(t, f) ((char *)(t) + (f)->offset)
#define BRIEF_COUNT(t, f)  ((size_t *)((char *)(t) + (f)->quantifier_offset))

/* Every column room for n jobs; strings[0] "". */
static void brief_page_init(struct brief_page *bp, size_t n)
{
	const ProtobufCMessageDescriptor *d = &meridian__job_briefs__descriptor;
	size_t all = 8;
	char *p;

	memset(bp, 0, sizeof(*bp));
	meridian__job_briefs__init(&bp->t);
	for (unsigned i = 0; i < d->n_fields; i++)
		if (d->fields[i].type != PROTOBUF_C_TYPE_STRING)
			all += brief_column_bytes(&d->fields[i], n);
	p = bp->block = xmalloc(all);
	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];

		if (f->type == PROTOBUF_C_TYPE_STRING)
			continue; /* strings */
		*(void **)BRIEF_COLUMN(&bp->t, f) = p;
		p += brief_column_bytes(f, n);
	}
	bp->cap_strings = 64;
	bp->t.strings = xmalloc(bp->cap_strings * sizeof(*bp->t.strings));
	bp->t.strings[bp->t.n_strings++] = (char *)protobuf_c_empty_string;
	bp->nslots = 2 * bp->cap_strings;
	bp->slot = xcalloc(bp->nslots, sizeof(*bp->slot));
}

static void brief_page_free(struct brief_page *bp)
{
	free(bp->block);
	free(bp->t.strings);
	free(bp->slot);
}

static uint32_t brief_hash(const char *s)
{
	uint32_t h = 2166136261u; /* FNV-1a */

	while (*s)
		h = (h ^ (uint8_t)*s++) * 16777619u;
	return h;
}

/* The free slot of s, or the one that holds it. */
static uint32_t *brief_slot(struct brief_page *bp, const char *s)
{
	size_t mask = bp->nslots - 1, i = brief_hash(s) & mask;

	while (bp->slot[i] && strcmp(bp->t.strings[bp->slot[i] - 1], s))
		i = (i + 1) & mask;
	return &bp->slot[i];
}

/* s's index in the page's strings, for string column col; *bytes grows
 * by what a new one adds to the reply (its tag and length at most 7). */
static uint32_t brief_string(struct brief_page *bp, int col, char *s,
			     size_t *bytes)
{
	uint32_t *slot, *last = &bp->last[col];

	if (!s || !*s)
		return 0;
	if (*last && strcmp(bp->t.strings[*last], s) == 0)
		return *last;
	slot = brief_slot(bp, s);
	if (*slot)
		return *last = *slot - 1;
	if (bp->t.n_strings == bp->cap_strings) {
		/* twice the room, the hash at most half full */
		bp->cap_strings *= 2;
		bp->t.strings =
			xrealloc(bp->t.strings,
				 bp->cap_strings * sizeof(*bp->t.strings));
		free(bp->slot);
		bp->nslots = 2 * bp->cap_strings;
		bp->slot = xcalloc(bp->nslots, sizeof(*bp->slot));
		for (size_t k = 1; k < bp->t.n_strings; k++)
			*brief_slot(bp, bp->t.strings[k]) = (uint32_t)k + 1;
		slot = brief_slot(bp, s);
	}
	*bytes += strlen(s) + 7;
	bp->t.strings[bp->t.n_strings] = s;
	*slot = (uint32_t)++bp->t.n_strings;
	return *last = *slot - 1;
}

/* Row k of bp: rec's brief.  What it adds to the reply at most: 10 bytes
 * a number, a new string its own. */
static size_t brief_fill(struct brief_page *bp, size_t k,
			 const Meridian__JobRecord *rec)
{
	static const Meridian__JobDesc no_desc = MERIDIAN__JOB_DESC__INIT;
	const Meridian__JobDesc *d = rec->desc ? rec->desc : &no_desc;
	Meridian__JobBriefs *t = &bp->t;
	size_t bytes = 20 * 10 + rec->array_pending.len;

	t->job_id[k] = rec->job_id;
	t->state[k] = rec->state;
	t->user_id[k] = rec->user_id;
	t->user_name[k] = brief_string(bp, BRIEF_USER, rec->user_name, &bytes);
	t->name[k] = brief_string(bp, BRIEF_NAME, d->name, &bytes);
	t->partition[k] = brief_string(bp, BRIEF_PART, d->partition, &bytes);
	t->reason[k] = brief_string(bp, BRIEF_REASON, rec->reason, &bytes);
	t->nodes[k] = brief_string(bp, BRIEF_NODES, rec->nodes, &bytes);
	t->num_nodes[k] = rec->num_nodes ? rec->num_nodes
			  : rec->n_alloc ? (uint32_t)rec->n_alloc
					 : d->min_nodes;
	t->time_limit[k] = rec->time_limit ? rec->time_limit : d->time_limit;
	t->submit_time[k] = rec->submit_time;
	t->start_time[k] = rec->start_time;
	t->end_time[k] = rec->end_time;
	t->priority[k] = rec->priority;
	t->expected_start[k] = rec->expected_start;
	t->sched_nodes[k] =
		brief_string(bp, BRIEF_SCHED, rec->sched_nodes, &bytes);
	t->array_job_id[k] = rec->array_job_id;
	t->array_task_id[k] = rec->array_task_id;
	t->array_pending[k] = rec->array_pending;
	t->array_max_running[k] = rec->array_max_running;
	return bytes;
}

/* Every column k entries long, but one of zeros goes as none
 * (JobBriefs): most of a listing's are (no nodes yet, no arrays). */
static void brief_page_end(struct brief_page *bp, size_t k)
{
	const ProtobufCMessageDescriptor *d = bp->t.base.descriptor;

	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		const char *col = *(char **)BRIEF_COLUMN(&bp->t, f);
		size_t n;

		if (f->type == PROTOBUF_C_TYPE_STRING)
			continue;
		for (n = 0; n < k; n++)
			if (f->type == PROTOBUF_C_TYPE_INT64
				    ? ((const int64_t *)col)[n] != 0
			    : f->type == PROTOBUF_C_TYPE_BYTES
				    ? ((const ProtobufCBinaryData *)col)[n].len
				    : ((const uint32_t *)col)[n] != 0)
				break;
		*BRIEF_COUNT(&bp->t, f) = n < k ? k : 0;
	}
}

/* The jobs of a JOB_INFO reply: their records (packed in place, not
 * copied, each sized once), or their briefs. */
struct job_info_out {
	struct page pg;
	struct brief_page *bp; /* briefs: the page's, else NULL */
	const ProtobufCMessage **recs;
	size_t *sizes, n;
};

/* j into the reply; false when the page is full. */
static bool job_info_add(struct job_info_out *o, const struct job *j)
{
	if (!o->bp) {
		if (!page_fits(&o->pg, o->n, &j->rec->base, &o->sizes[o->n]))
			return false;
		o->recs[o->n++] = &j->rec->base;
		return true;
	}
	/* a row left out keeps its new strings: a few unused bytes */
	if (!page_take(&o->pg, o->n, brief_fill(o->bp, o->n, j->rec)))
		return false;
	o->n++;
	return true;
}

/* The reply of o's jobs: JobInfoReply's jobs (field 1), or briefs. */
static void job_info_reply(struct rpc_req *r, Meridian__JobInfoReply *rep,
			   struct job_info_out *o)
{
	Meridian__JobBriefs *t;

	if (!o->bp) {
		rpc_reply_items(r, &rep->base, 1, o->recs, o->sizes, o->n);
		return;
	}
	brief_page_end(o->bp, o->n);
	t = &o->bp->t;
	rep->n_briefs = 1;
	rep->briefs = &t;
	rpc_reply(r, &rep->base);
	rep->n_briefs = 0;
	rep->briefs = NULL;
}

static int h_job_info(struct rpc_req *r, ProtobufCMessage *msg,
		      struct mer_error *err)
{
	const Meridian__JobInfoRequest *req = (const void *)msg;
	Meridian__JobInfoReply rep = MERIDIAN__JOB_INFO_REPLY__INIT;
	struct mctld *ctx = r->ctx;
	struct job_info_out o = {page_start(r, req->paged), NULL, NULL, NULL,
				 0};
	struct brief_page bp;
	uint32_t *ids = NULL, last = 0;
	bool more = false;
	size_t cap, i, nids = req->n_job_ids;
	struct job *j;

	(void)err;
	if (nids)
		ids = array_ids(ctx, req->job_ids, &nids);
	cap = nids ? nids : job_mgr_count(ctx);
	if (!cap)
		cap = 1;
	if (req->brief) {
		brief_page_init(&bp, cap);
		o.bp = &bp;
	} else {
		o.recs = xcalloc(cap, sizeof(*o.recs));
		o.sizes = xcalloc(cap, sizeof(*o.sizes));
	}
	if (nids) {
		if (req->paged) {
			/* pages follow the ids in order, each once */
			size_t k = 0;

			qsort(ids, nids, sizeof(*ids), u32_cmp);
			for (i = 0; i < nids; i++)
				if (!k || ids[i] != ids[k - 1])
					ids[k++] = ids[i];
			nids = k;
		}
		for (i = 0; i < nids && !more; i++) {
			if (req->paged && ids[i] <= req->after_id)
				continue;
			j = job_find(ctx, ids[i]);
			if (!j || !job_info_wanted(req, j, true))
				continue;
			if (!job_info_add(&o, j)) {
				more = true;
				break;
			}
			last = ids[i];
		}
	} else {
		j = TAILQ_FIRST(job_mgr_all(ctx));
		if (req->paged && req->after_id) {
			struct job *a = job_find(ctx, req->after_id);

			if (a) {
				j = TAILQ_NEXT(a, all_entry);
			} else {
				/* gone since the last page: the list is in
				 * id order */
				while (j && j->rec->job_id <= req->after_id)
					j = TAILQ_NEXT(j, all_entry);
			}
		}
		for (; j; j = TAILQ_NEXT(j, all_entry)) {
			if (!job_info_wanted(req, j, false))
				continue;
			if (!job_info_add(&o, j)) {
				more = true;
				break;
			}
			last = j->rec->job_id;
		}
	}
	rep.now = mer_now();
	rep.next_after_id = more ? last : 0;
	job_info_reply(r, &rep, &o);
	if (o.bp)
		brief_page_free(o.bp);
	free(o.recs);
	free(o.sizes);
	free(ids);
	return 0;
}

/*
 * macct: the jobs in memory (any state) and the history's, in pages.  The
 * cursor says where a page starts: empty, the first job in memory; 4
 * bytes, the job in memory after that id; 16, that history key on.
 */
static int h_job_history(struct rpc_req *r, ProtobufCMessage *msg,
			 struct mer_error *err)
{
	const Meridian__JobHistoryRequest *req = (const void *)msg;
	Meridian__JobHistoryReply rep = MERIDIAN__JOB_HISTORY_REPLY__INIT;
	struct history_page pg = {0};
	struct mctld *ctx = r->ctx;
	int64_t now = mer_now();
	struct job *j = TAILQ_FIRST(job_mgr_all(ctx));
	uint8_t idkey[4];
	int rc = 0;

	if (req->n_job_ids > RPC_HISTORY_MAX_IDS ||
	    req->n_user_ids > RPC_HISTORY_MAX_IDS ||
	    req->n_accounts > RPC_HISTORY_MAX_IDS ||
	    req->n_partitions > RPC_HISTORY_MAX_IDS ||
	    req->n_names > RPC_HISTORY_MAX_IDS ||
	    req->n_states > RPC_HISTORY_MAX_IDS) {
		errno = E2BIG;
		return mer_error_set(err,
				     "a history request names at most %u "
				     "jobs, users, accounts, partitions, "
				     "names and states each",
				     RPC_HISTORY_MAX_IDS);
	}
	if (req->after.len != 0 && req->after.len != 4 &&
	    req->after.len != 16) {
		errno = EINVAL;
		return mer_error_set(err,
				     "a history page cursor of %zu bytes; "
				     "0, 4 or 16 expected (the reply's "
				     "next_after)",
				     req->after.len);
	}
	pg.budget = page_start(r, true).budget;
	if (req->after.len == 4) {
		uint32_t after = state_key_u32(req->after.data, 4);

		while (j && j->rec->job_id <= after)
			j = TAILQ_NEXT(j, all_entry);
	} else if (req->after.len) {
		j = NULL; /* the memory's part was sent */
	}
	for (; j && req->after.len != 16; j = TAILQ_NEXT(j, all_entry)) {
		size_t size;

		if (!history_match(req, j->rec, now))
			continue;
		size = protobuf_c_message_get_packed_size(&j->rec->base);
		if (pg.n && pg.used + size + 8 > pg.budget) {
			/* the next page goes on after the last one sent */
			state_u32_key(pg.jobs[pg.n - 1]->job_id, idkey);
			memcpy(pg.next, idkey, 4);
			pg.next_len = 4;
			break;
		}
		history_page_borrow(&pg, j->rec, size);
	}
	if (!pg.next_len) {
		const void *from =
			req->after.len == 16 ? req->after.data : NULL;

		rc = history_scan(ctx, req, from, from ? 16 : 0, &pg, err);
	}
	if (rc == 0) {
		rep.now = now;
		rep.next_after.data = pg.next;
		rep.next_after.len = pg.next_len;
		rpc_reply_items(r, &rep.base, 1,
				(const ProtobufCMessage *const *)pg.jobs,
				pg.sizes, pg.n);
	}
	history_page_free(&pg);
	return rc;
}

static int h_job_script(struct rpc_req *r, ProtobufCMessage *msg,
			struct mer_error *err)
{
	const Meridian__JobScriptRequest *req = (const void *)msg;
	Meridian__JobScriptReply rep = MERIDIAN__JOB_SCRIPT_REPLY__INIT;
	Meridian__JobSpec *spec;

	if (!owned_job(r, req->job_id, "see its script", err))
		return -1;
	spec = job_store_get_spec(r->ctx, req->job_id, err);
	if (!spec)
		return -1;
	rep.script = spec->script;
	rpc_reply(r, &rep.base);
	meridian__job_spec__free_unpacked(spec, NULL);
	return 0;
}

/*
 * scancel ID_TASKS: the tasks still pending leave the array's record;
 * those started are cancelled (or signalled) as jobs.  One result for
 * the whole selection.
 */
static void cancel_tasks(struct rpc_req *r, const Meridian__ArrayTasks *at,
			 int sig, Meridian__JobActionReply *rep)
{
	struct mctld *ctx = r->ctx;
	Meridian__JobActionResult *res = xmalloc(sizeof(*res));
	struct job *meta = job_find(ctx, at->array_job_id), *j, *next;
	struct array_spec which;
	struct mer_error e = {""};
	size_t done = 0;
	char who[64], why[96];

	meridian__job_action_result__init(res);
	res->job_id = at->array_job_id;
	rep->results[rep->n_results++] = res;
	r->owner_checked = true; /* each job is checked below */
	if (array_parse(at->tasks, "task ids", ctx->conf->max_array_size,
			&which, &e) < 0) {
		res->code = EINVAL;
		res->text = xstrdup(e.text);
		return;
	}
	if (meta && job_array_pending(meta->rec) && !sig) {
		if (owner_check(r, meta, "cancel its tasks", &e) < 0) {
			res->code = errno ? errno : EPERM;
			res->text = xstrdup(e.text);
			array_spec_free(&which);
			return;
		}
		job_mgr_who(ctx, r->uid, who, sizeof(who));
		snprintf(why, sizeof(why), "Cancelled by %s", who);
		done += (size_t)job_array_cancel_pending(ctx, meta, &which,
							 why);
	}
	for (j = TAILQ_FIRST(job_mgr_all(ctx)); j; j = next) {
		next = TAILQ_NEXT(j, all_entry);
		if (j->rec->array_job_id != at->array_job_id ||
		    job_array_pending(j->rec) ||
		    job_state_is_final(j->rec->state) ||
		    !array_bit(which.bits, which.nbytes, j->rec->array_task_id))
			continue;
		if (owner_check(r, j, "cancel or signal it", &e) < 0 ||
		    job_mgr_cancel(ctx, j, r->uid, r->admin, sig, &e) < 0) {
			res->code = errno ? errno : EINVAL;
			res->text = xstrdup(e.text);
			break;
		}
		done++;
	}
	array_spec_free(&which);
	if (!done && !res->code) {
		res->code = ENOENT;
		res->text = xasprintf("job %u has no task %s left to %s",
				      at->array_job_id, at->tasks,
				      sig ? "signal" : "cancel");
	}
}

static int h_cancel(struct rpc_req *r, ProtobufCMessage *msg,
		    struct mer_error *err)
{
	const Meridian__CancelJobRequest *req = (const void *)msg;
	Meridian__JobActionReply rep = MERIDIAN__JOB_ACTION_REPLY__INIT;
	struct mctld *ctx = r->ctx;
	struct job **targets;
	size_t ntargets = 0, cap, i, k, nids = req->n_job_ids;
	uint32_t *ids = NULL;
	struct job *j;

	if (!req->n_job_ids && !req->has_user && !req->n_steps &&
	    !req->n_arrays) {
		errno = EINVAL;
		return mer_error_set(err, "give job ids, step ids or a user "
					  "whose jobs to cancel");
	}
	if (req->n_job_ids)
		ids = array_ids(ctx, req->job_ids, &nids);
	cap = nids ? nids : req->has_user ? job_mgr_count(ctx) : 0;
	targets = xcalloc(cap + 1, sizeof(*targets));
	rep.results = xcalloc(cap + req->n_steps + req->n_arrays + 1,
			      sizeof(*rep.results));
	for (i = 0; i < req->n_arrays; i++)
		cancel_tasks(r, req->arrays[i], req->signal, &rep);
	for (i = 0; i < req->n_steps; i++) {
		Meridian__JobActionResult *res = xmalloc(sizeof(*res));
		const Meridian__JobStepId *sid = req->steps[i];
		struct mer_error e = {""};

		meridian__job_action_result__init(res);
		res->job_id = sid->job_id;
		res->has_step = true;
		res->step_id = sid->step_id;
		j = owned_job(r, sid->job_id, "cancel or signal its steps", &e);
		if (!j || step_cancel(ctx, j, sid->step_id, r->uid, r->admin,
				      req->signal, &e) < 0) {
			res->code = errno ? errno : EINVAL;
			res->text = xstrdup(e.text);
		}
		rep.results[rep.n_results++] = res;
	}
	if (nids) {
		for (i = 0; i < nids; i++) {
			Meridian__JobActionResult *res;

			j = job_find(ctx, ids[i]);
			if (j) {
				targets[ntargets++] = j;
				continue;
			}
			if (i >= req->n_job_ids)
				continue;	 /* a task gone meanwhile */
			r->owner_checked = true; /* nothing to act on */
			res = xmalloc(sizeof(*res));
			meridian__job_action_result__init(res);
			res->job_id = ids[i];
			res->code = ENOENT;
			res->text = xasprintf("job %u does not exist", ids[i]);
			rep.results[rep.n_results++] = res;
		}
	} else if (req->has_user) {
		TAILQ_FOREACH(j, job_mgr_all(ctx), all_entry) {
			if (!job_state_is_final(j->rec->state))
				targets[ntargets++] = j;
		}
	}
	if (!ntargets)
		r->owner_checked = true;
	for (i = 0; i < ntargets; i++) {
		Meridian__JobActionResult *res;
		struct mer_error e = {""};
		bool match = req->n_states == 0;

		j = targets[i];
		/* a job not chosen is not acted on: nothing to check */
		r->owner_checked = true;
		if (req->has_user && j->rec->user_id != req->user_id)
			continue;
		for (k = 0; k < req->n_states; k++)
			if (req->states[k] == j->rec->state)
				match = true;
		if (!match)
			continue;
		res = xmalloc(sizeof(*res));
		meridian__job_action_result__init(res);
		res->job_id = j->rec->job_id;
		if (owner_check(r, j, "cancel or signal it", &e) < 0 ||
		    job_mgr_cancel(ctx, j, r->uid, r->admin, req->signal, &e) <
			    0) {
			res->code = errno ? errno : EINVAL;
			res->text = xstrdup(e.text);
		}
		rep.results[rep.n_results++] = res;
	}
	rpc_reply(r, &rep.base);
	for (i = 0; i < rep.n_results; i++)
		protobuf_c_message_free_unpacked(&rep.results[i]->base, NULL);
	free(rep.results);
	free(targets);
	free(ids);
	return 0;
}

static int h_update_job(struct rpc_req *r, ProtobufCMessage *msg,
			struct mer_error *err)
{
	const Meridian__UpdateJobRequest *req = (const void *)msg;
	Meridian__JobActionReply rep = MERIDIAN__JOB_ACTION_REPLY__INIT;
	size_t i;

	bool set = req->has_priority || req->has_nice;

	if (!set && req->action != MERIDIAN__JOB_ACTION__JOB_ACTION_HOLD &&
	    req->action != MERIDIAN__JOB_ACTION__JOB_ACTION_RELEASE &&
	    req->action != MERIDIAN__JOB_ACTION__JOB_ACTION_REQUEUE) {
		errno = EINVAL;
		return mer_error_set(err,
				     "job action %d is not hold, release or "
				     "requeue",
				     (int)req->action);
	}
	rep.results = xcalloc(req->n_job_ids + 1, sizeof(*rep.results));
	for (i = 0; i < req->n_job_ids; i++) {
		Meridian__JobActionResult *res = xmalloc(sizeof(*res));
		struct mer_error e = {""};
		struct job *j =
			owned_job(r, req->job_ids[i], "hold or release it", &e);

		meridian__job_action_result__init(res);
		res->job_id = req->job_ids[i];
		if (set && j &&
		    job_mgr_set_priority(r->ctx, j, r->admin, req->has_priority,
					 req->priority, req->has_nice,
					 req->nice, &e) < 0) {
			res->code = errno ? errno : EINVAL;
			res->text = xstrdup(e.text);
		} else if (set && j) {
			/* done */
		} else if (j &&
			   req->action ==
				   MERIDIAN__JOB_ACTION__JOB_ACTION_REQUEUE) {
			if (job_mgr_requeue(r->ctx, j, &e) < 0) {
				res->code = errno ? errno : EINVAL;
				res->text = xstrdup(e.text);
			}
		} else if (!j || job_mgr_hold(r->ctx, j, r->uid, r->admin,
					      req->action, &e) < 0) {
			res->code = errno ? errno : EINVAL;
			res->text = xstrdup(e.text);
		}
		rep.results[rep.n_results++] = res;
	}
	rpc_reply(r, &rep.base);
	for (i = 0; i < rep.n_results; i++)
		protobuf_c_message_free_unpacked(&rep.results[i]->base, NULL);
	free(rep.results);
	return 0;
}

static int h_node_info(struct rpc_req *r, ProtobufCMessage *msg,
		       struct mer_error *err)
{
	size_t size;
	const Meridian__NodeInfoRequest *req = (const void *)msg;
	Meridian__NodeInfoReply rep = MERIDIAN__NODE_INFO_REPLY__INIT;
	struct mctld *ctx = r->ctx;
	const struct conf *c = ctx->conf;
	Meridian__NodeInfo *infos;
	Meridian__PartitionInfo *parts;
	struct node **sel;
	struct page pg = page_start(r, req->paged);
	size_t nsel = 0, cap = node_mgr_count(ctx), i, k, first;
	int rc = 0;

	sel = xcalloc(cap ? cap : 1, sizeof(*sel));
	if (req->n_names) {
		bool *seen = xcalloc(cap ? cap : 1, sizeof(*seen));

		for (i = 0; i < req->n_names && rc == 0; i++) {
			char **names;
			size_t nn;

			if (hostlist_expand(req->names[i], &names, &nn, err) <
			    0) {
				errno = EINVAL;
				rc = -1;
				break;
			}
			for (k = 0; k < nn; k++) {
				struct node *n = node_find(ctx, names[k]);

				if (!n) {
					errno = ENOENT;
					rc = mer_error_set(err,
							   "node %.60s is "
							   "not in "
							   "meridian.conf",
							   names[k]);
					break;
				}
				if (!seen[n->index]) {
					seen[n->index] = true;
					sel[nsel++] = n;
				}
			}
			hostlist_free(names, nn);
		}
		free(seen);
		if (rc < 0) {
			free(sel);
			return -1;
		}
	} else {
		for (i = 0; i < cap; i++)
			sel[nsel++] = node_at(ctx, i);
	}
	infos = xcalloc(nsel ? nsel : 1, sizeof(*infos));
	rep.nodes = xcalloc(nsel ? nsel : 1, sizeof(*rep.nodes));
	first = req->paged ? req->after : 0;
	for (i = first; i < nsel; i++) {
		node_mgr_info(ctx, sel[i], &infos[rep.n_nodes]);
		probe_node_info(ctx, sel[i], &infos[rep.n_nodes]);
		/* the price driver is above node_mgr: asked here */
		infos[rep.n_nodes].gpu_hour_price =
			price_gpu_hour(ctx, sel[i], mer_now());
		if (infos[rep.n_nodes].gpu_hour_price < 0)
			infos[rep.n_nodes].gpu_hour_price = 0;
		if (!page_fits(&pg, rep.n_nodes, &infos[rep.n_nodes].base,
			       &size)) {
			node_mgr_info_free(&infos[rep.n_nodes]);
			rep.next_after = (uint32_t)i;
			break;
		}
		rep.nodes[rep.n_nodes] = &infos[rep.n_nodes];
		rep.n_nodes++;
	}
	parts = xcalloc(c->npartitions ? c->npartitions : 1, sizeof(*parts));
	rep.partitions = xcalloc(c->npartitions ? c->npartitions : 1,
				 sizeof(*rep.partitions));
	for (i = 0; i < c->npartitions && first == 0; i++) {
		const struct conf_partition *p = &c->partitions[i];

		meridian__partition_info__init(&parts[i]);
		parts[i].name = p->name;
		parts[i].nodes = p->nodes_expr ? p->nodes_expr : (char *)"";
		parts[i].is_default = p->is_default;
		parts[i].max_time = p->max_time;
		parts[i].up = p->up;
		rep.partitions[i] = &parts[i];
	}
	rep.n_partitions = first == 0 ? c->npartitions : 0;
	rep.now = mer_now();
	rpc_reply(r, &rep.base);
	for (i = 0; i < rep.n_nodes; i++)
		node_mgr_info_free(&infos[i]);
	free(infos);
	free(rep.nodes);
	free(parts);
	free(rep.partitions);
	free(sel);
	return 0;
}

static int h_update_node(struct rpc_req *r, ProtobufCMessage *msg,
			 struct mer_error *err)
{
	Meridian__UpdateNodeReply rep = MERIDIAN__UPDATE_NODE_REPLY__INIT;

	if (node_mgr_update(r->ctx, (const void *)msg, r->uid, &rep.updated,
			    err) < 0)
		return -1;
	rpc_reply(r, &rep.base);
	return 0;
}

static int h_ping(struct rpc_req *r, ProtobufCMessage *msg,
		  struct mer_error *err)
{
	Meridian__PingReply rep = MERIDIAN__PING_REPLY__INIT;
	struct mctld *ctx = r->ctx;

	(void)msg;
	(void)err;
	rep.cluster =
		ctx->conf->cluster_name ? ctx->conf->cluster_name : (char *)"";
	rep.version = (char *)PACKAGE_VERSION;
	rep.start_time = ctx->start_time;
	rep.jobs = (uint32_t)job_mgr_count(ctx);
	rep.nodes = (uint32_t)node_mgr_count(ctx);
	rpc_reply(r, &rep.base);
	return 0;
}

static int h_register(struct rpc_req *r, ProtobufCMessage *msg,
		      struct mer_error *err)
{
	Meridian__NodeRegisterReply rep = MERIDIAN__NODE_REGISTER_REPLY__INIT;

	Meridian__NodeRegister *reg = (void *)msg;
	struct node *n = node_mgr_check_register(r->ctx, reg, err);

	if (!n)
		return -1;
	if (n->peer && n->peer != r->peer) {
		struct peer *old = n->peer;

		log_info("node %s registers on a new connection; the old one "
			 "(%s) is dropped",
			 n->name, old->name);
		peer_set_node(old, NULL);
		n->peer = NULL;
	}
	n->peer = r->peer;
	peer_set_node(r->peer, n);
	node_mgr_register(r->ctx, n, reg);
	reconcile_node(r->ctx, n, reg, &rep);
	probe_node_joined(r->ctx, n);
	rep.heartbeat_interval = r->ctx->conf->heartbeat_interval;
	/* Durable: the ends it listed are on disk before it hears back. */
	rpc_reply(r, &rep.base);
	free(rep.kill_jobs);
	return 0;
}

/* The node registered on r's connection; NULL with err (EPROTO) when the
 * node sends r before NODE_REGISTER. */
static struct node *registered_node(struct rpc_req *r, struct mer_error *err)
{
	if (r->peer->node)
		return r->peer->node;
	errno = EPROTO;
	mer_error_set(err,
		      "%s before NODE_REGISTER on this connection; register "
		      "first",
		      msg_type_name(r->type));
	return NULL;
}

static int h_heartbeat(struct rpc_req *r, ProtobufCMessage *msg,
		       struct mer_error *err)
{
	const Meridian__NodeHeartbeat *hb = (const void *)msg;
	Meridian__Ack ack = MERIDIAN__ACK__INIT;
	struct node *n = registered_node(r, err);

	if (!n)
		return -1;
	if (hb->name && *hb->name && strcmp(hb->name, n->name) != 0) {
		errno = EPROTO;
		return mer_error_set(err,
				     "heartbeat names node %.40s on the "
				     "connection of node %s",
				     hb->name, n->name);
	}
	rpc_reply(r, &ack.base);
	return 0;
}

static int h_job_end(struct rpc_req *r, ProtobufCMessage *msg,
		     struct mer_error *err)
{
	Meridian__Ack ack = MERIDIAN__ACK__INIT;
	struct node *n = registered_node(r, err);

	if (!n)
		return -1;
	job_mgr_node_end(r->ctx, n->name, (const void *)msg);
	/* Durable: the node deletes the job's spool only after this. */
	rpc_reply(r, &ack.base);
	return 0;
}

static int h_step_create(struct rpc_req *r, ProtobufCMessage *msg,
			 struct mer_error *err)
{
	Meridian__StepCreateRequest *req = (void *)msg;
	Meridian__StepCreateReply rep = MERIDIAN__STEP_CREATE_REPLY__INIT;
	Meridian__StepRecord **steps;
	Meridian__StepRecord *s;
	struct job *j = owned_job(r, req->job_id, "start steps in it", err);
	size_t nsteps;

	if (!j)
		return -1;
	if (!(s = step_create(r->ctx, j, req, err)))
		return -1;
	/* The reply is packed now: the job goes without its steps. */
	steps = j->rec->steps;
	nsteps = j->rec->n_steps;
	j->rec->steps = NULL;
	j->rec->n_steps = 0;
	rep.step = s;
	rep.job = j->rec;
	rpc_reply(r, &rep.base);
	j->rec->steps = steps;
	j->rec->n_steps = nsteps;
	return 0;
}

static int h_step_end(struct rpc_req *r, ProtobufCMessage *msg,
		      struct mer_error *err)
{
	Meridian__Ack ack = MERIDIAN__ACK__INIT;
	struct node *n = registered_node(r, err);

	if (!n)
		return -1;
	step_node_end(r->ctx, n->name, (const void *)msg);
	/* Durable: the node deletes the step's spool only after this. */
	rpc_reply(r, &ack.base);
	return 0;
}

static int h_job_complete(struct rpc_req *r, ProtobufCMessage *msg,
			  struct mer_error *err)
{
	const Meridian__JobCompleteRequest *req = (const void *)msg;
	Meridian__JobActionReply rep = MERIDIAN__JOB_ACTION_REPLY__INIT;
	struct job *j = owned_job(r, req->job_id, "end it", err);

	if (!j)
		return -1;
	if (job_mgr_complete(r->ctx, j, r->uid, r->admin, req->exit_code,
			     req->term_signal, err) < 0)
		return -1;
	rpc_reply(r, &rep.base);
	return 0;
}

static int h_probe_result(struct rpc_req *r, ProtobufCMessage *msg,
			  struct mer_error *err)
{
	Meridian__Ack ack = MERIDIAN__ACK__INIT;
	struct node *n = registered_node(r, err);

	if (!n || probe_result(r->ctx, n, (const void *)msg, err) < 0)
		return -1;
	rpc_reply(r, &ack.base);
	return 0;
}

static int h_link_info(struct rpc_req *r, ProtobufCMessage *msg,
		       struct mer_error *err)
{
	Meridian__LinkInfoReply rep = MERIDIAN__LINK_INFO_REPLY__INIT;

	if (probe_link_info(r->ctx, (const void *)msg, &rep, err) < 0)
		return -1;
	rpc_reply(r, &rep.base);
	probe_link_info_free(&rep);
	return 0;
}

/* mquote: a job checked as a submit would be, placed as the next pass
 * would place it now, and not submitted. */
static int h_quote(struct rpc_req *r, ProtobufCMessage *msg,
		   struct mer_error *err)
{
	const Meridian__QuoteRequest *req = (const void *)msg;
	Meridian__QuoteReply rep = MERIDIAN__QUOTE_REPLY__INIT;
	Meridian__JobRecord rec = MERIDIAN__JOB_RECORD__INIT;
	const struct conf_partition *part;
	struct job_res res;
	struct job j;
	uint32_t time_limit;

	if (!req->desc) {
		errno = EINVAL;
		return mer_error_set(err, "QUOTE without a job description");
	}
	if (job_mgr_validate(r->ctx, req->desc, &part, &res, &time_limit, err) <
	    0)
		return -1;
	memset(&j, 0, sizeof(j));
	rec.desc = req->desc;
	rec.num_nodes = res.num_nodes;
	rec.ntasks = res.ntasks;
	rec.time_limit = time_limit;
	rec.user_id = r->uid;
	rec.group_id = r->gid;
	j.rec = &rec;
	j.part = part;
	j.tasks_per_node = res.tasks_per_node;
	j.cpus_per_node = res.cpus_per_node;
	j.gpus_per_node = res.gpus_per_node;
	j.mem_per_node = res.mem_per_node;
	if (sched_quote(r->ctx, &j, &rep, err) < 0)
		return -1;
	rpc_reply(r, &rep.base);
	sched_quote_free(&rep);
	return 0;
}

/* Who may call what; checked before any handler runs. */
static const struct rpc_entry rpc_table[] = {
	{MT(SUBMIT_JOB), h_submit, MSG_ACCESS_ANY, true},
	{MT(JOB_INFO), h_job_info, MSG_ACCESS_ANY, false},
	{MT(JOB_HISTORY), h_job_history, MSG_ACCESS_ANY, false},
	{MT(CANCEL_JOB), h_cancel, MSG_ACCESS_OWNER, true},
	{MT(UPDATE_JOB), h_update_job, MSG_ACCESS_OWNER, true},
	{MT(JOB_SCRIPT), h_job_script, MSG_ACCESS_OWNER, false},
	{MT(NODE_INFO), h_node_info, MSG_ACCESS_ANY, false},
	{MT(UPDATE_NODE), h_update_node, MSG_ACCESS_ADMIN, true},
	{MT(PING), h_ping, MSG_ACCESS_ANY, false},
	{MT(NODE_REGISTER), h_register, MSG_ACCESS_NODE, true},
	{MT(NODE_HEARTBEAT), h_heartbeat, MSG_ACCESS_NODE, false},
	{MT(JOB_END), h_job_end, MSG_ACCESS_NODE, true},
	{MT(STEP_CREATE), h_step_create, MSG_ACCESS_OWNER, true},
	{MT(JOB_COMPLETE), h_job_complete, MSG_ACCESS_OWNER, true},
	{MT(STEP_END), h_step_end, MSG_ACCESS_NODE, true},
	{MT(PROBE_RESULT), h_probe_result, MSG_ACCESS_NODE, true},
	{MT(LINK_INFO), h_link_info, MSG_ACCESS_ANY, false},
	{MT(QUOTE), h_quote, MSG_ACCESS_ANY, false},
};

static const struct rpc_entry *rpc_lookup(unsigned type)
{
	size_t i;

	for (i = 0; i < sizeof(rpc_table) / sizeof(rpc_table[0]); i++)
		if ((unsigned)rpc_table[i].type == type)
			return &rpc_table[i];
	return NULL;
}

/* --- dispatch ------------------------------------------------------------ */

void rpc_dispatch(struct mctld *ctx, struct peer *p, const struct frame_hdr *h,
		  uid_t uid, gid_t gid, const uint8_t *body)
{
	struct rpc_req r = {0};
	struct mer_error err = {""};
	ProtobufCMessage *msg;
	char text[200];

	r.ctx = ctx;
	r.peer = p;
	r.type = h->type;
	r.req_id = h->req_id;
	r.uid = uid;
	r.gid = gid;
	r.admin = mctld_is_admin(ctx, uid);
	r.entry = rpc_lookup(h->type);
	if (p->node)
		node_seen(ctx, p->node); /* anything from it: it is alive */
	if (!r.entry) {
		snprintf(text, sizeof(text), "mctld does not serve %s requests",
			 msg_type_name(h->type));
		rpc_reply_error(&r, EOPNOTSUPP, text);
		return;
	}
	switch (r.entry->access) {
	case MSG_ACCESS_NODE:
		if (uid != 0 && uid != ctx->uid) {
			snprintf(text, sizeof(text),
				 "%s is for node daemons (root or uid %u); uid "
				 "%u may not send it",
				 msg_type_name(h->type), (unsigned)ctx->uid,
				 (unsigned)uid);
			rpc_reply_error(&r, EPERM, text);
			return;
		}
		break;
	case MSG_ACCESS_ADMIN:
		if (!r.admin) {
			snprintf(text, sizeof(text),
				 "%s needs an admin (root or AdminUsers=); uid "
				 "%u is not one",
				 msg_type_name(h->type), (unsigned)uid);
			rpc_reply_error(&r, EPERM, text);
			return;
		}
		break;
	default:
		break; /* ANY; OWNER: per job, by owner_check() */
	}
	msg = frame_unpack_body(h, body, h->body_len, &err);
	if (!msg) {
		/* A frame whose body does not decode is a malformed frame:
		 * say why, then stop reading from a peer that sends garbage. */
		snprintf(text, sizeof(text), "bad %s request: %s",
			 msg_type_name(h->type), err.text);
		log_warnx("connection %s: %s; closing it", p->name, text);
		rpc_reply_error(&r, EINVAL, text);
		if (p->ops && p->ops->close_after_flush && !p->closed)
			p->ops->close_after_flush(p);
		return;
	}
	errno = 0;
	if (r.entry->fn(&r, msg, &err) < 0) {
		int code = errno ? errno : EINVAL;

		if (!r.replied)
			rpc_reply_error(&r, code,
					err.text[0] ? err.text
						    : "request failed");
	} else if (!r.replied) {
		log_warnx("%s handler sent no reply", msg_type_name(h->type));
		rpc_reply_error(&r, EIO, "mctld sent no reply");
	}
	if (r.entry->access == MSG_ACCESS_OWNER && !r.owner_checked)
		log_warnx("%s handler acted without owner_check()",
			  msg_type_name(h->type));
	protobuf_c_message_free_unpacked(msg, NULL);
}

void rpc_on_frame(struct peer *p, const struct frame_hdr *h,
		  const uint8_t *cred, const uint8_t *body)
{
	uid_t uid = 0;
	gid_t gid = 0;
	char text[240];

	if (!(h->flags & MER_FRAME_REPLY) &&
	    request_credential(p, h, cred, &uid, &gid, text, sizeof(text)) <
		    0) {
		struct rpc_req r = {0};

		r.ctx = p->ctx;
		r.peer = p;
		r.type = h->type;
		r.req_id = h->req_id;
		p->nframes++;
		rpc_reply_error(&r, EACCES, text);
		return;
	}
	peer_frame(p, h, uid, gid, body);
}
