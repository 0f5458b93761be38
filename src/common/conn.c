/*
 * conn.c - framed connections over libevent bufferevents, and the socket
 * helpers daemons and commands use to open them.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include "conn.h"
#include "util.h"

struct conn {
	struct bufferevent *bev;
	char *peer;
	conn_frame_fn on_frame;
	conn_close_fn on_close;
	void *arg;
	int fd;
	int busy;      /* inside a callback: destroy must wait */
	int destroyed; /* conn_destroy was called while busy */
	int closing;   /* close once the output is flushed */
	int dead;      /* on_close already delivered */
};

static void conn_free(struct conn *c)
{
	bufferevent_free(c->bev); /* BEV_OPT_CLOSE_ON_FREE closes the fd */
	free(c->peer);
	free(c);
}

static void conn_die(struct conn *c, const char *why)
{
	if (c->dead)
		return;
	c->dead = 1;
	bufferevent_disable(c->bev, EV_READ | EV_WRITE);
	c->busy++;
	c->on_close(c, why, c->arg);
	c->busy--;
	if (c->destroyed && !c->busy)
		conn_free(c);
}

/* Hand every complete frame in the input buffer to the owner. */
static void conn_read_cb(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);

	c->busy++;
	while (!c->dead && !c->destroyed) {
		uint8_t hb[MER_FRAME_HDR_LEN];
		struct frame_hdr h;
		struct mer_error err;
		size_t total;
		uint8_t *p;

		if (evbuffer_get_length(in) < MER_FRAME_HDR_LEN)
			break;
		evbuffer_copyout(in, hb, sizeof(hb));
		if (frame_hdr_decode(hb, &h, &err) < 0) {
			char why[200];
			snprintf(why, sizeof(why), "bad frame: %s", err.text);
			conn_die(c, why);
			break;
		}
		total = MER_FRAME_HDR_LEN + (size_t)h.cred_len + h.body_len;
		if (evbuffer_get_length(in) < total)
			break; /* the rest of the frame is still on its way */
		p = evbuffer_pullup(in, (ev_ssize_t)total);
		c->on_frame(c, &h, p + MER_FRAME_HDR_LEN,
			    p + MER_FRAME_HDR_LEN + h.cred_len, c->arg);
		if (c->destroyed)
			break;
		evbuffer_drain(in, total);
	}
	c->busy--;
	if (c->destroyed && !c->busy)
		conn_free(c);
}

static void conn_write_cb(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;

	if (c->closing &&
	    evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		conn_die(c, "closed after reply");
}

static void conn_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct conn *c = arg;
	char why[160];

	if (what & BEV_EVENT_EOF) {
		size_t left = evbuffer_get_length(bufferevent_get_input(bev));
		if (left)
			snprintf(why, sizeof(why),
				 "peer closed in the middle of a frame "
				 "(%zu bytes of it received)",
				 left);
		else
			snprintf(why, sizeof(why), "peer closed the connection");
	} else if (what & BEV_EVENT_ERROR) {
		snprintf(why, sizeof(why), "connection error: %s",
			 strerror(EVUTIL_SOCKET_ERROR()));
	} else {
		snprintf(why, sizeof(why), "connection event 0x%x", what);
	}
	conn_die(c, why);
}

struct conn *conn_create(struct event_base *base, int fd, const char *peer,
			 conn_frame_fn on_frame, conn_close_fn on_close,
			 void *arg)
{
	struct conn *c = xcalloc(1, sizeof(*c));

	set_nonblock(fd);
	set_cloexec(fd);
	c->bev = bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (!c->bev) {
		free(c);
		close(fd);
		return NULL;
	}
	c->fd = fd;
	c->peer = xstrdup(peer);
	c->on_frame = on_frame;
	c->on_close = on_close;
	c->arg = arg;
	bufferevent_setcb(c->bev, conn_read_cb, conn_write_cb, conn_event_cb, c);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	return c;
}

void conn_destroy(struct conn *c)
{
	if (!c)
		return;
	if (c->busy) {
		c->destroyed = 1;
		bufferevent_disable(c->bev, EV_READ | EV_WRITE);
		return;
	}
	conn_free(c);
}

int conn_send(struct conn *c, const uint8_t *buf, size_t len)
{
	if (c->dead || c->destroyed) {
		errno = EPIPE;
		return -1;
	}
	return bufferevent_write(c->bev, buf, len);
}

int conn_send_msg(struct conn *c, uint16_t type, uint32_t flags,
		  uint32_t req_id, const void *cred, size_t cred_len,
		  const ProtobufCMessage *msg)
{
	size_t len;
	uint8_t *buf = frame_build(type, flags, req_id, cred, cred_len, msg, &len);
	int rc = conn_send(c, buf, len);

	free(buf);
	return rc;
}

int conn_send_error(struct conn *c, uint16_t type, uint32_t req_id, int code,
		    const char *text)
{
	size_t len;
	uint8_t *buf = frame_build_error(type, req_id, code, text, &len);
	int rc = conn_send(c, buf, len);

	free(buf);
	return rc;
}

const char *conn_peer(const struct conn *c)
{
	return c->peer;
}

int conn_fd(const struct conn *c)
{
	return c->fd;
}

size_t conn_pending_output(const struct conn *c)
{
	return evbuffer_get_length(bufferevent_get_output(c->bev));
}

void conn_close_after_flush(struct conn *c)
{
	c->closing = 1;
	bufferevent_disable(c->bev, EV_READ);
	if (conn_pending_output(c) == 0)
		conn_die(c, "closed after reply");
}

void conn_set_arg(struct conn *c, void *arg)
{
	c->arg = arg;
}

void *conn_get_arg(const struct conn *c)
{
	return c->arg;
}

int conn_peer_uid(const struct conn *c, uid_t *uid)
{
	struct ucred uc;
	socklen_t len = sizeof(uc);

	if (getsockopt(c->fd, SOL_SOCKET, SO_PEERCRED, &uc, &len) < 0)
		return -1;
	if (uc.pid == 0 && uc.uid == 0 && uc.gid == 0) {
		/* Not a unix socket: the kernel fills nothing. */
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		if (getsockname(c->fd, (struct sockaddr *)&ss, &sl) == 0 &&
		    ss.ss_family != AF_UNIX) {
			errno = ENOTSUP;
			return -1;
		}
	}
	*uid = uc.uid;
	return 0;
}

static int wait_connected(int fd, int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = POLLOUT };
	int soerr = 0;
	socklen_t sl = sizeof(soerr);
	int r;

	do
		r = poll(&p, 1, timeout_ms);
	while (r < 0 && errno == EINTR);
	if (r == 0) {
		errno = ETIMEDOUT;
		return -1;
	}
	if (r < 0)
		return -1;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0)
		return -1;
	if (soerr) {
		errno = soerr;
		return -1;
	}
	return 0;
}

int tcp_connect(const char *host, uint16_t port, int timeout_ms,
		struct mer_error *err)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC,
				  .ai_socktype = SOCK_STREAM };
	struct addrinfo *res, *ai;
	char svc[16];
	int fd = -1, gai, saved = ECONNREFUSED;

	snprintf(svc, sizeof(svc), "%u", port);
	gai = getaddrinfo(host, svc, &hints, &res);
	if (gai != 0) {
		errno = EHOSTUNREACH;
		mer_error_set(err, "cannot resolve controller host '%s': %s",
			      host, gai_strerror(gai));
		return -1;
	}
	for (ai = res; ai; ai = ai->ai_next) {
		int one = 1;
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC |
						   SOCK_NONBLOCK,
			    ai->ai_protocol);
		if (fd < 0) {
			saved = errno;
			continue;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0 ||
		    (errno == EINPROGRESS && wait_connected(fd, timeout_ms) == 0))
			break;
		saved = errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0) {
		errno = saved;
		mer_error_set(err, "cannot connect to %s:%u: %s", host, port,
			      strerror(saved));
		return -1;
	}
	/* Callers that want blocking I/O get it back. */
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	return fd;
}

int tcp_accept(int lfd, char name[CONN_PEER_NAME_MAX])
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char host[INET6_ADDRSTRLEN] = "?";
	int fd, port = 0, one = 1;

	fd = accept4(lfd, (struct sockaddr *)&ss, &sl,
		     SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0)
		return -1;
	if (ss.ss_family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

		inet_ntop(AF_INET, &sin->sin_addr, host, sizeof(host));
		port = ntohs(sin->sin_port);
	} else if (ss.ss_family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof(host));
		port = ntohs(s6->sin6_port);
	}
	snprintf(name, CONN_PEER_NAME_MAX, "%s:%d", host, port);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

int tcp_listen(const char *host, uint16_t port, uint16_t *bound_port,
	       struct mer_error *err)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC,
				  .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_PASSIVE };
	struct addrinfo *res;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char svc[16];
	int fd, one = 1, gai;

	snprintf(svc, sizeof(svc), "%u", port);
	gai = getaddrinfo(host && *host ? host : NULL, svc, &hints, &res);
	if (gai != 0) {
		errno = EINVAL;
		return mer_error_set(err, "cannot resolve '%s': %s",
				     host ? host : "*", gai_strerror(gai));
	}
	fd = socket(res->ai_family, res->ai_socktype | SOCK_CLOEXEC,
		    res->ai_protocol);
	if (fd < 0) {
		freeaddrinfo(res);
		return mer_error_set(err, "socket: %s", strerror(errno));
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, res->ai_addr, res->ai_addrlen) < 0 ||
	    listen(fd, 1024) < 0) {
		int saved = errno;
		freeaddrinfo(res);
		close(fd);
		errno = saved;
		return mer_error_set(err, "cannot listen on %s:%u: %s",
				     host ? host : "*", port, strerror(saved));
	}
	freeaddrinfo(res);
	if (bound_port && getsockname(fd, (struct sockaddr *)&ss, &sl) == 0) {
		if (ss.ss_family == AF_INET)
			*bound_port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
		else
			*bound_port =
				ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	}
	return fd;
}

static int unix_addr(const char *path, struct sockaddr_un *sa,
		     struct mer_error *err)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa->sun_path)) {
		errno = ENAMETOOLONG;
		return mer_error_set(err,
				     "socket path %s is %zu bytes, at most %zu "
				     "allowed: choose a shorter SpoolDir",
				     path, strlen(path),
				     sizeof(sa->sun_path) - 1);
	}
	strcpy(sa->sun_path, path);
	return 0;
}

int unix_listen(const char *path, mode_t mode, struct mer_error *err)
{
	struct sockaddr_un sa;
	int fd;

	if (unix_addr(path, &sa, err) < 0)
		return -1;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return mer_error_set(err, "socket: %s", strerror(errno));
	unlink(path);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    chmod(path, mode) < 0 || listen(fd, 128) < 0) {
		int saved = errno;
		close(fd);
		errno = saved;
		return mer_error_set(err, "cannot listen on %s: %s", path,
				     strerror(saved));
	}
	return fd;
}

int unix_connect(const char *path, struct mer_error *err)
{
	struct sockaddr_un sa;
	int fd;

	if (unix_addr(path, &sa, err) < 0)
		return -1;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return mer_error_set(err, "socket: %s", strerror(errno));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int saved = errno;
		close(fd);
		errno = saved;
		return mer_error_set(err, "cannot connect to %s: %s", path,
				     strerror(saved));
	}
	return fd;
}
