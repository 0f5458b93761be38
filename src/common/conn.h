/*
 * conn.h - a framed connection on a libevent loop.
 *
 * Wraps a connected socket in a bufferevent, cuts the byte stream into
 * frames (frame.h) and hands each whole frame to the owner's callback.
 * A frame that fails frame_hdr_decode() closes the connection: the close
 * callback gets the reason, the daemon logs it and keeps serving everyone
 * else.  Both ends may send requests; replies are matched by the owner.
 */
#ifndef MER_CONN_H
#define MER_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <event2/event.h>
#include "frame.h"

struct conn;

/* cred and body point into the connection's buffer: valid only during the
 * callback.  The callback may call conn_destroy(c). */
typedef void (*conn_frame_fn)(struct conn *c, const struct frame_hdr *h,
			      const uint8_t *cred, const uint8_t *body,
			      void *arg);
/* The connection is dead (EOF, error, bad frame); why says which.  The
 * owner must conn_destroy(c) (here or later); no more callbacks come. */
typedef void (*conn_close_fn)(struct conn *c, const char *why, void *arg);

/* Takes ownership of fd (closed by conn_destroy).  peer names the other end
 * in logs ("127.0.0.1:40112", "mnoded n1"); copied. */
struct conn *conn_create(struct event_base *base, int fd, const char *peer,
			 conn_frame_fn on_frame, conn_close_fn on_close,
			 void *arg);
void conn_destroy(struct conn *c); /* accepts NULL */

/*
 * What a peer may make us hold.  A connection from a listener serves
 * strangers until its first credential is checked, and users after: both
 * are bounded here, before a body is read or decoded.
 *
 * The owner's header callback sees each frame once its header and its
 * credential have arrived, before the body: it checks the credential and
 * answers with a verdict.  Until then the connection holds at most
 * read_ahead bytes of input (a stranger who stops in the middle of a
 * credential holds a few KiB, never a 16 MiB body).  A frame that
 * starts must be whole within frame_timeout_ms; a connection must be
 * authenticated within auth_timeout_ms of its creation; output that the
 * peer does not read stops the reading of its requests above max_output
 * and ends the connection when nothing can be written for
 * write_timeout_ms.  Zero turns a limit off.
 */
struct conn_limits {
	size_t read_ahead;	   /* input held before a frame's verdict */
	size_t max_output;	   /* queued output that pauses reading */
	unsigned frame_timeout_ms; /* from a frame's first byte to its last */
	unsigned auth_timeout_ms;  /* from creation to conn_set_authenticated */
	unsigned write_timeout_ms; /* output queued and nothing written */
};
/* The least read_ahead may be: a header and the largest credential. */
#define CONN_READ_AHEAD_MIN (MER_FRAME_HDR_LEN + MER_FRAME_MAX_CRED)
void conn_set_limits(struct conn *c, const struct conn_limits *lim);

enum conn_verdict {
	CONN_READ,   /* read the body and hand the frame to on_frame */
	CONN_WAIT,   /* read nothing more until conn_resume() asks again */
	CONN_REFUSE, /* discard the frame's bytes as they arrive, unbuffered
		      * (up to CONN_SKIP_MAX of them), then close once the
		      * output (the owner's error reply) is written */
};
#define CONN_SKIP_MAX (1u << 20)
/* cred points into the input buffer: valid only during the call.  The
 * callback may send, and may call conn_destroy (then its verdict is not
 * read). */
typedef enum conn_verdict (*conn_header_fn)(struct conn *c,
					    const struct frame_hdr *h,
					    const uint8_t *cred, void *arg);
void conn_set_header_cb(struct conn *c, conn_header_fn fn);
/* After CONN_WAIT: ask the header callback again (from the loop, not from
 * inside this call). */
void conn_resume(struct conn *c);
/* The peer proved who it is: the auth deadline and a listener's caps on
 * strangers no longer apply. */
void conn_set_authenticated(struct conn *c);
bool conn_authenticated(const struct conn *c);
/* Stop (false) or resume (true) reading, e.g. while the data read cannot
 * be passed on.  Independent of the limits above. */
void conn_set_reading(struct conn *c, bool on);
/* The peer's host ("127.0.0.1", "::1"): the peer name without its port
 * when it was made by tcp_accept, else the whole name. */
const char *conn_addr(const struct conn *c);

/*
 * A guarded listener: it accepts, refuses connections beyond its caps,
 * applies the limits above to every connection, and backs off when the
 * process is out of descriptors (EMFILE, ENFILE) instead of spinning.
 * Library code does not log: what it refused reaches the owner's log
 * callback at most once per CONN_GUARD_LOG_INTERVAL_S for each reason,
 * with a count.
 */
struct conn_guard;
struct conn_guard_limits {
	unsigned max_conns;	      /* open connections, all of them */
	unsigned max_unauth;	      /* not yet authenticated */
	unsigned max_unauth_per_addr; /* not yet authenticated, one address */
	size_t max_unauth_input;      /* input the unauthenticated ones hold,
				       * together */
	struct conn_limits conn;      /* each connection's */
};
#define CONN_GUARD_LOG_INTERVAL_S 10
/* Accept back-off after EMFILE/ENFILE: doubles up to the maximum. */
#define CONN_GUARD_BACKOFF_MS	  100
#define CONN_GUARD_BACKOFF_MAX_MS 2000
/* A new connection within the caps: the owner makes its conn with
 * conn_guard_conn_create, or closes fd. */
typedef void (*conn_accept_fn)(struct conn_guard *g, int fd, const char *name,
			       void *arg);
typedef void (*conn_guard_log_fn)(const char *text, void *arg);
/* Watch the listening socket lfd (non-blocking; not owned: the caller
 * closes it after conn_guard_destroy).  NULL with errno on failure. */
struct conn_guard *conn_guard_create(struct event_base *base, int lfd,
				     const struct conn_guard_limits *lim,
				     conn_accept_fn on_accept,
				     conn_guard_log_fn log, void *arg);
/* Stop accepting; the connections made go on, no longer counted.
 * Accepts NULL. */
void conn_guard_destroy(struct conn_guard *g);
/* conn_create, counted by the guard, with its limits applied. */
struct conn *conn_guard_conn_create(struct conn_guard *g, int fd,
				    const char *name, conn_frame_fn on_frame,
				    conn_close_fn on_close, void *arg);
/* Counts, for logs and tests. */
struct conn_guard_stats {
	unsigned nconns;	       /* open now */
	unsigned nunauth;	       /* of them not yet authenticated */
	unsigned long accept_failures; /* accept() failed, so far */
	unsigned long refused;	       /* closed at once: over max_conns */
	unsigned long evicted;	       /* strangers closed for newcomers */
};
void conn_guard_get_stats(const struct conn_guard *g,
			  struct conn_guard_stats *st);

/* Queue bytes (a whole frame from frame_build) for sending; copies them. */
int conn_send(struct conn *c, const uint8_t *buf, size_t len);
/* Build and queue a frame; cred may be NULL. */
int conn_send_msg(struct conn *c, uint16_t type, uint32_t flags,
		  uint32_t req_id, const void *cred, size_t cred_len,
		  const ProtobufCMessage *msg);
int conn_send_error(struct conn *c, uint16_t type, uint32_t req_id, int code,
		    const char *text);

const char *conn_peer(const struct conn *c);
int conn_fd(const struct conn *c);
/* Bytes queued and not yet written. */
size_t conn_pending_output(const struct conn *c);
/* Bytes received and not yet handed over (or skipped). */
size_t conn_pending_input(const struct conn *c);
/* Close once everything queued has been written (then on_close runs with
 * why "closed after reply"). */
void conn_close_after_flush(struct conn *c);

/* Replace the callback argument (e.g. once a node has registered). */
void conn_set_arg(struct conn *c, void *arg);
void *conn_get_arg(const struct conn *c);

/* Peer credentials of a unix socket (SO_PEERCRED); -1 for TCP. */
int conn_peer_uid(const struct conn *c, uid_t *uid);

/* Open a TCP connection to host:port, blocking, with a timeout in ms.
 * Returns the fd or -1 with err. */
int tcp_connect(const char *host, uint16_t port, int timeout_ms,
		struct mer_error *err);
/* Listen on host:port (port 0: any).  Returns fd, *bound_port set. */
int tcp_listen(const char *host, uint16_t port, uint16_t *bound_port,
	       struct mer_error *err);
/* Accept one connection on the TCP listener lfd: non-blocking,
 * close-on-exec, TCP_NODELAY (requests and replies are small), its peer
 * named "HOST:PORT" in name (CONN_PEER_NAME_MAX bytes).  -1 with errno as
 * accept4 sets it (EAGAIN: no more now). */
#define CONN_PEER_NAME_MAX 56
int tcp_accept(int lfd, char name[CONN_PEER_NAME_MAX]);
int unix_listen(const char *path, mode_t mode, struct mer_error *err);
int unix_connect(const char *path, struct mer_error *err);

#endif
