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
