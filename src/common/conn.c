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
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <sys/queue.h>

#include "conn.h"
#include "util.h"

struct conn {
	struct bufferevent *bev;
	char *peer;
	char addr[CONN_PEER_NAME_MAX]; /* peer without its port */
	conn_frame_fn on_frame;
	conn_close_fn on_close;
	conn_header_fn on_header;
	void *arg;
	int fd;
	int busy;      /* inside a callback: destroy must wait */
	int destroyed; /* conn_destroy was called while busy */
	int closing;   /* close once the output is flushed */
	int dead;      /* on_close already delivered */

	struct conn_limits lim;
	size_t wm_high; /* the read watermark set now, 0 none */
	bool authenticated;
	bool verdict;	      /* the frame at the head of input may be read */
	bool waiting;	      /* CONN_WAIT: no reading until conn_resume */
	bool read_off;	      /* conn_set_reading(false) */
	bool out_full;	      /* output above max_output: reading paused */
	size_t skip;	      /* bytes of a refused frame still to discard */
	bool skip_then_close; /* a refused frame: close once it is skipped */
	int64_t created_ms;
	int64_t frame_start_ms; /* 0: no frame in progress */
	struct event *timer;	/* the earliest of the two deadlines */
	struct event *resume_ev;

	struct conn_guard *guard; /* NULL: not counted by a listener */
	size_t accounted;	  /* input counted in guard->unauth_input */
	TAILQ_ENTRY(conn) guard_entry;
};

TAILQ_HEAD(conn_list, conn);

struct guard_note {
	unsigned count;	 /* refused since the last log line */
	int64_t last_ms; /* when that line was written */
};

enum guard_reason {
	NOTE_MAX_CONNS,
	NOTE_MAX_UNAUTH,
	NOTE_PER_ADDR,
	NOTE_UNAUTH_INPUT,
	NOTE_ACCEPT_FAIL,
	NOTE_NREASONS
};

struct conn_guard {
	struct event_base *base;
	struct conn_guard_limits lim;
	struct event *listen_ev;
	struct event *backoff_ev;
	unsigned backoff_ms;
	conn_accept_fn on_accept;
	conn_guard_log_fn log;
	void *arg;
	unsigned nconns, nunauth;
	unsigned long accept_failures, refused, evicted;
	size_t unauth_input;
	struct conn_list authed, unauth;
	struct guard_note notes[NOTE_NREASONS];
};

static void guard_note(struct conn_guard *g, enum guard_reason why,
		       const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* "HOST:PORT" (tcp_accept's names) without ":PORT", into addr. */
static void peer_host(const char *name, char addr[CONN_PEER_NAME_MAX])
{
	const char *colon = strrchr(name, ':');

	snprintf(addr, CONN_PEER_NAME_MAX, "%.*s",
		 colon ? (int)(colon - name) : (int)strlen(name), name);
}
static void guard_forget(struct conn *c);
static void guard_account(struct conn *c);
static void conn_die(struct conn *c, const char *why);

static void conn_free(struct conn *c)
{
	guard_forget(c);
	if (c->timer)
		event_free(c->timer);
	if (c->resume_ev)
		event_free(c->resume_ev);
	bufferevent_free(c->bev); /* BEV_OPT_CLOSE_ON_FREE closes the fd */
	free(c->peer);
	free(c);
}

/* --- deadlines ------------------------------------------------------------ */

static int64_t conn_deadline(const struct conn *c)
{
	int64_t d = 0;

	if (c->dead || c->destroyed)
		return 0;
	if (!c->authenticated && c->lim.auth_timeout_ms)
		d = c->created_ms + c->lim.auth_timeout_ms;
	if (c->frame_start_ms && c->lim.frame_timeout_ms) {
		int64_t f = c->frame_start_ms + c->lim.frame_timeout_ms;

		if (!d || f < d)
			d = f;
	}
	return d;
}

static void conn_timer_update(struct conn *c)
{
	int64_t d = conn_deadline(c), left;
	struct timeval tv;

	if (!c->timer)
		return;
	if (!d) {
		event_del(c->timer);
		return;
	}
	left = d - mer_mono_ms();
	if (left < 0)
		left = 0;
	tv.tv_sec = left / 1000;
	tv.tv_usec = (left % 1000) * 1000;
	event_add(c->timer, &tv);
}

static void conn_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	int64_t now = mer_mono_ms();
	char why[200];

	(void)fd;
	(void)what;
	if (c->dead || c->destroyed)
		return;
	if (!c->authenticated && c->lim.auth_timeout_ms &&
	    now >= c->created_ms + c->lim.auth_timeout_ms) {
		snprintf(why, sizeof(why),
			 "not authenticated within %u s of connecting",
			 (c->lim.auth_timeout_ms + 999) / 1000);
		conn_die(c, why);
		return;
	}
	if (c->frame_start_ms && c->lim.frame_timeout_ms &&
	    now >= c->frame_start_ms + c->lim.frame_timeout_ms) {
		size_t got = evbuffer_get_length(bufferevent_get_input(c->bev));

		if (c->skip)
			snprintf(why, sizeof(why),
				 "a refused frame not sent within %u s (%zu "
				 "bytes of it still due)",
				 (c->lim.frame_timeout_ms + 999) / 1000,
				 c->skip);
		else
			snprintf(why, sizeof(why),
				 "frame not completed within %u s (%zu bytes "
				 "of it received%s)",
				 (c->lim.frame_timeout_ms + 999) / 1000, got,
				 c->waiting ? ", held back: the controller "
					      "is short of room for requests"
					    : "");
		conn_die(c, why);
		return;
	}
	conn_timer_update(c);
}

/* --- reading -------------------------------------------------------------- */

/* The input libevent may buffer now: read_ahead, or the whole frame once
 * its verdict allowed it. */
static void conn_set_watermark(struct conn *c, size_t frame_total)
{
	size_t high = c->lim.read_ahead;

	if (!high)
		return; /* no limits: as much as arrives */
	if (frame_total > high)
		high = frame_total;
	if (high != c->wm_high) {
		bufferevent_setwatermark(c->bev, EV_READ, 0, high);
		c->wm_high = high;
	}
}

static void conn_update_reading(struct conn *c)
{
	if (c->dead || c->destroyed || c->closing)
		return;
	if (c->waiting || c->read_off || c->out_full)
		bufferevent_disable(c->bev, EV_READ);
	else
		bufferevent_enable(c->bev, EV_READ);
}

static void conn_die(struct conn *c, const char *why)
{
	if (c->dead)
		return;
	c->dead = 1;
	bufferevent_disable(c->bev, EV_READ | EV_WRITE);
	if (c->timer)
		event_del(c->timer);
	guard_forget(c);
	c->busy++;
	c->on_close(c, why, c->arg);
	c->busy--;
	if (c->destroyed && !c->busy)
		conn_free(c);
}

/* Discard what has arrived of a refused frame. */
static bool conn_skip(struct conn *c, struct evbuffer *in)
{
	size_t len = evbuffer_get_length(in), n = len < c->skip ? len : c->skip;

	evbuffer_drain(in, n);
	c->skip -= n;
	if (c->skip)
		return false;
	c->frame_start_ms = 0;
	if (c->skip_then_close) {
		conn_close_after_flush(c);
		return false;
	}
	return true;
}

/* Hand every complete frame in the input buffer to the owner. */
static void conn_read_cb(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);

	c->busy++;
	while (!c->dead && !c->destroyed && !c->closing && !c->waiting) {
		uint8_t hb[MER_FRAME_HDR_LEN];
		struct frame_hdr h;
		struct mer_error err;
		size_t total, len;
		uint8_t *p;

		if (c->skip && !conn_skip(c, in))
			break;
		len = evbuffer_get_length(in);
		if (len < MER_FRAME_HDR_LEN)
			break;
		evbuffer_copyout(in, hb, sizeof(hb));
		if (frame_hdr_decode(hb, &h, &err) < 0) {
			char why[sizeof(err.text) + 16];
			snprintf(why, sizeof(why), "bad frame: %s", err.text);
			conn_die(c, why);
			break;
		}
		total = MER_FRAME_HDR_LEN + (size_t)h.cred_len + h.body_len;
		if (c->on_header && !c->verdict) {
			enum conn_verdict v;
			size_t head = MER_FRAME_HDR_LEN + h.cred_len;

			if (len < head)
				break; /* the credential is on its way */
			p = evbuffer_pullup(in, (ev_ssize_t)head);
			v = c->on_header(c, &h, p + MER_FRAME_HDR_LEN, c->arg);
			if (c->dead || c->destroyed)
				break;
			if (v == CONN_WAIT) {
				c->waiting = true;
				break;
			}
			if (v == CONN_REFUSE) {
				/* Read the refused frame away, so that its
				 * sender reads the error reply instead of a
				 * reset; but no more than CONN_SKIP_MAX of
				 * it: a stranger's 16 MiB are not worth
				 * reading. */
				c->skip = total < CONN_SKIP_MAX ? total
								: CONN_SKIP_MAX;
				c->skip_then_close = true;
				continue;
			}
			c->verdict = true;
		}
		if (len < total) {
			/* The rest of the frame is still on its way. */
			conn_set_watermark(c, total);
			break;
		}
		p = evbuffer_pullup(in, (ev_ssize_t)total);
		c->on_frame(c, &h, p + MER_FRAME_HDR_LEN,
			    p + MER_FRAME_HDR_LEN + h.cred_len, c->arg);
		if (c->destroyed)
			break;
		evbuffer_drain(in, total);
		c->verdict = false;
		c->frame_start_ms = 0;
		conn_set_watermark(c, 0);
	}
	if (!c->dead && !c->destroyed) {
		if (evbuffer_get_length(in) == 0 && !c->skip && !c->waiting)
			c->frame_start_ms = 0;
		else if (!c->frame_start_ms)
			c->frame_start_ms = mer_mono_ms();
		conn_update_reading(c);
		guard_account(c);
		if (!c->dead)
			conn_timer_update(c);
	}
	c->busy--;
	if (c->destroyed && !c->busy)
		conn_free(c);
}

static void conn_resume_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;

	(void)fd;
	(void)what;
	if (c->dead || c->destroyed || !c->waiting)
		return;
	c->waiting = false;
	conn_update_reading(c);
	conn_read_cb(c->bev, c);
}

void conn_resume(struct conn *c)
{
	if (!c->waiting || c->dead || c->destroyed)
		return;
	if (!c->resume_ev)
		c->resume_ev = event_new(bufferevent_get_base(c->bev), -1, 0,
					 conn_resume_cb, c);
	if (c->resume_ev)
		event_active(c->resume_ev, 0, 0);
}

static void conn_write_cb(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;
	size_t out = evbuffer_get_length(bufferevent_get_output(bev));

	if (c->out_full && out <= c->lim.max_output / 2) {
		c->out_full = false;
		conn_update_reading(c);
	}
	if (c->closing && out == 0)
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
			snprintf(why, sizeof(why),
				 "peer closed the connection");
	} else if (what & BEV_EVENT_TIMEOUT) {
		snprintf(why, sizeof(why),
			 "peer read none of %zu bytes of output in %u s",
			 evbuffer_get_length(bufferevent_get_output(bev)),
			 (c->lim.write_timeout_ms + 999) / 1000);
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
	peer_host(peer, c->addr);
	c->on_frame = on_frame;
	c->on_close = on_close;
	c->arg = arg;
	c->created_ms = mer_mono_ms();
	bufferevent_setcb(c->bev, conn_read_cb, conn_write_cb, conn_event_cb,
			  c);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	return c;
}

void conn_set_limits(struct conn *c, const struct conn_limits *lim)
{
	c->lim = *lim;
	if (c->lim.read_ahead && c->lim.read_ahead < CONN_READ_AHEAD_MIN)
		c->lim.read_ahead = CONN_READ_AHEAD_MIN;
	conn_set_watermark(c, 0);
	if (c->lim.write_timeout_ms) {
		struct timeval tv = {c->lim.write_timeout_ms / 1000,
				     (c->lim.write_timeout_ms % 1000) * 1000};

		bufferevent_set_timeouts(c->bev, NULL, &tv);
	}
	if ((c->lim.frame_timeout_ms || c->lim.auth_timeout_ms) && !c->timer)
		c->timer = evtimer_new(bufferevent_get_base(c->bev),
				       conn_timer_cb, c);
	conn_timer_update(c);
}

void conn_set_header_cb(struct conn *c, conn_header_fn fn)
{
	c->on_header = fn;
}

void conn_set_authenticated(struct conn *c)
{
	struct conn_guard *g = c->guard;

	if (c->authenticated)
		return;
	c->authenticated = true;
	if (g) {
		g->unauth_input -= c->accounted;
		c->accounted = 0;
		TAILQ_REMOVE(&g->unauth, c, guard_entry);
		g->nunauth--;
		TAILQ_INSERT_TAIL(&g->authed, c, guard_entry);
	}
	conn_timer_update(c);
}

bool conn_authenticated(const struct conn *c)
{
	return c->authenticated;
}

void conn_set_reading(struct conn *c, bool on)
{
	c->read_off = !on;
	conn_update_reading(c);
}

const char *conn_addr(const struct conn *c)
{
	return c->addr;
}

void conn_destroy(struct conn *c)
{
	if (!c)
		return;
	if (c->busy) {
		c->destroyed = 1;
		bufferevent_disable(c->bev, EV_READ | EV_WRITE);
		if (c->timer)
			event_del(c->timer);
		guard_forget(c);
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
	if (bufferevent_write(c->bev, buf, len) < 0) {
		errno = ENOMEM;
		return -1;
	}
	if (c->lim.max_output && !c->out_full &&
	    conn_pending_output(c) > c->lim.max_output) {
		/* The peer does not read its replies: read no more
		 * requests from it until it does. */
		c->out_full = true;
		conn_update_reading(c);
	}
	return 0;
}

int conn_send_msg(struct conn *c, uint16_t type, uint32_t flags,
		  uint32_t req_id, const void *cred, size_t cred_len,
		  const ProtobufCMessage *msg)
{
	size_t len;
	uint8_t *buf =
		frame_build(type, flags, req_id, cred, cred_len, msg, &len);
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

size_t conn_pending_input(const struct conn *c)
{
	return evbuffer_get_length(bufferevent_get_input(c->bev));
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

/* --- guarded listeners ---------------------------------------------------- */

static void guard_note(struct conn_guard *g, enum guard_reason why,
		       const char *fmt, ...)
{
	struct guard_note *n = &g->notes[why];
	int64_t now = mer_mono_ms();
	char text[300];
	va_list ap;
	int len;

	n->count++;
	if (n->last_ms && now - n->last_ms < CONN_GUARD_LOG_INTERVAL_S * 1000)
		return;
	va_start(ap, fmt);
	len = vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (len >= 0 && (size_t)len < sizeof(text) && n->count > 1)
		snprintf(text + len, sizeof(text) - (size_t)len,
			 " (%u times since the last such line)", n->count);
	n->count = 0;
	n->last_ms = now;
	if (g->log)
		g->log(text, g->arg);
}

/* Count c's input while it is a stranger's; too much of it together ends
 * the connection that went over. */
static void guard_account(struct conn *c)
{
	struct conn_guard *g = c->guard;
	size_t len;

	if (!g || c->authenticated || c->dead)
		return;
	len = evbuffer_get_length(bufferevent_get_input(c->bev));
	g->unauth_input = g->unauth_input - c->accounted + len;
	c->accounted = len;
	if (g->lim.max_unauth_input &&
	    g->unauth_input > g->lim.max_unauth_input) {
		guard_note(g, NOTE_UNAUTH_INPUT,
			   "connection from %s closed: unauthenticated "
			   "connections hold more than %zu bytes of input "
			   "together",
			   c->addr, g->lim.max_unauth_input);
		conn_die(c, "unauthenticated connections hold too much input");
	}
}

static void guard_forget(struct conn *c)
{
	struct conn_guard *g = c->guard;

	if (!g)
		return;
	if (c->authenticated) {
		TAILQ_REMOVE(&g->authed, c, guard_entry);
	} else {
		g->unauth_input -= c->accounted;
		TAILQ_REMOVE(&g->unauth, c, guard_entry);
		g->nunauth--;
	}
	g->nconns--;
	c->accounted = 0;
	c->guard = NULL;
}

static void guard_backoff_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn_guard *g = arg;

	(void)fd;
	(void)what;
	event_add(g->listen_ev, NULL);
}

/* A stranger may be closed for a newcomer once what it sent has been
 * read and did not authenticate it (or it sent nothing): one whose bytes
 * wait unread in the socket, say a peer accepted in the same batch as a
 * flood, is read before the flood can push it out. */
static bool guard_evictable(const struct conn *c)
{
	int unread = 0;

	return ioctl(c->fd, FIONREAD, &unread) < 0 || unread == 0;
}

/*
 * Over cap strangers (from addr, or from anyone when addr is NULL): 0
 * when under it; else 1 with *old the oldest that may be closed for a
 * newcomer, or NULL when none of them may be yet.
 */
static int guard_over(const struct conn_guard *g, const char *addr,
		      unsigned cap, struct conn **old)
{
	struct conn *c;
	unsigned n = 0;

	*old = NULL;
	TAILQ_FOREACH(c, &g->unauth, guard_entry) {
		if (addr && strcmp(c->addr, addr) != 0)
			continue;
		n++;
	}
	if (n < cap)
		return 0;
	TAILQ_FOREACH(c, &g->unauth, guard_entry) {
		if ((!addr || strcmp(c->addr, addr) == 0) &&
		    guard_evictable(c)) {
			*old = c;
			break;
		}
	}
	return 1;
}

/*
 * Room for one more stranger under cap (0: none) of those from addr, or
 * of all when addr is NULL.  Over it, the oldest goes, not the newcomer:
 * a real client sends its credential at once and is authenticated long
 * before it is the oldest, while stalled connections age; so a flood from
 * one address cannot lock out the users who share it.  When none may go
 * yet (guard_evictable), false: the newcomer goes.
 */
static bool guard_room(struct conn_guard *g, const char *addr, unsigned cap,
		       enum guard_reason why)
{
	struct conn *old;

	if (!cap || !guard_over(g, addr, cap, &old))
		return true;
	if (addr)
		guard_note(g, why,
			   "%u connections from %s not yet authenticated, "
			   "the most allowed from one address: %s",
			   cap, addr,
			   old ? "closing the oldest"
			       : "refusing newcomers for now");
	else
		guard_note(g, why,
			   "%u connections not yet authenticated, the most "
			   "allowed: %s",
			   g->nunauth,
			   old ? "closing the oldest"
			       : "refusing newcomers for now");
	if (!old)
		return false;
	g->evicted++;
	conn_die(old, addr ? "closed for a newer connection: too many from "
			     "one address not authenticated"
			   : "closed for a newer connection: too many not "
			     "authenticated");
	return true;
}

static void guard_accept_cb(evutil_socket_t lfd, short what, void *arg)
{
	struct conn_guard *g = arg;

	(void)what;
	/* A bounded batch per wake-up: the loop serves everyone else too. */
	for (int i = 0; i < 64; i++) {
		char name[CONN_PEER_NAME_MAX], addr[CONN_PEER_NAME_MAX];
		int fd = tcp_accept(lfd, name);

		if (fd < 0) {
			int e = errno;

			if (e == EINTR || e == ECONNABORTED || e == EPROTO)
				continue;
			if (e == EAGAIN || e == EWOULDBLOCK)
				break;
			/* Out of descriptors or memory: the pending
			 * connection stays in the backlog and the listener
			 * stays readable, so stop watching it for a while
			 * rather than spin. */
			g->accept_failures++;
			event_del(g->listen_ev);
			g->backoff_ms = g->backoff_ms ? g->backoff_ms * 2
						      : CONN_GUARD_BACKOFF_MS;
			if (g->backoff_ms > CONN_GUARD_BACKOFF_MAX_MS)
				g->backoff_ms = CONN_GUARD_BACKOFF_MAX_MS;
			guard_note(g, NOTE_ACCEPT_FAIL,
				   "accept: %s; not accepting for %u ms (%u "
				   "connections open)",
				   strerror(e), g->backoff_ms, g->nconns);
			{
				struct timeval tv = {g->backoff_ms / 1000,
						     (g->backoff_ms % 1000) *
							     1000};

				event_add(g->backoff_ev, &tv);
			}
			return;
		}
		g->backoff_ms = 0;
		peer_host(name, addr);
		if (g->lim.max_conns && g->nconns >= g->lim.max_conns) {
			guard_note(g, NOTE_MAX_CONNS,
				   "connection from %s refused: %u connections "
				   "open, the most allowed",
				   addr, g->nconns);
			g->refused++;
			close(fd);
			continue;
		}
		if (!guard_room(g, addr, g->lim.max_unauth_per_addr,
				NOTE_PER_ADDR) ||
		    !guard_room(g, NULL, g->lim.max_unauth, NOTE_MAX_UNAUTH)) {
			g->refused++;
			close(fd);
			continue;
		}
		g->on_accept(g, fd, name, g->arg);
	}
}

struct conn_guard *conn_guard_create(struct event_base *base, int lfd,
				     const struct conn_guard_limits *lim,
				     conn_accept_fn on_accept,
				     conn_guard_log_fn log, void *arg)
{
	struct conn_guard *g = xcalloc(1, sizeof(*g));

	g->base = base;
	g->lim = *lim;
	g->on_accept = on_accept;
	g->log = log;
	g->arg = arg;
	TAILQ_INIT(&g->authed);
	TAILQ_INIT(&g->unauth);
	g->listen_ev =
		event_new(base, lfd, EV_READ | EV_PERSIST, guard_accept_cb, g);
	g->backoff_ev = evtimer_new(base, guard_backoff_cb, g);
	if (!g->listen_ev || !g->backoff_ev ||
	    event_add(g->listen_ev, NULL) < 0) {
		conn_guard_destroy(g);
		errno = ENOMEM;
		return NULL;
	}
	return g;
}

void conn_guard_destroy(struct conn_guard *g)
{
	struct conn *c;

	if (!g)
		return;
	while ((c = TAILQ_FIRST(&g->unauth)))
		guard_forget(c);
	while ((c = TAILQ_FIRST(&g->authed)))
		guard_forget(c);
	if (g->listen_ev)
		event_free(g->listen_ev);
	if (g->backoff_ev)
		event_free(g->backoff_ev);
	free(g);
}

struct conn *conn_guard_conn_create(struct conn_guard *g, int fd,
				    const char *name, conn_frame_fn on_frame,
				    conn_close_fn on_close, void *arg)
{
	struct conn *c =
		conn_create(g->base, fd, name, on_frame, on_close, arg);

	if (!c)
		return NULL;
	c->guard = g;
	g->nconns++;
	g->nunauth++;
	TAILQ_INSERT_TAIL(&g->unauth, c, guard_entry);
	conn_set_limits(c, &g->lim.conn);
	return c;
}

void conn_guard_get_stats(const struct conn_guard *g,
			  struct conn_guard_stats *st)
{
	st->nconns = g->nconns;
	st->nunauth = g->nunauth;
	st->accept_failures = g->accept_failures;
	st->refused = g->refused;
	st->evicted = g->evicted;
}

static int wait_connected(int fd, int timeout_ms)
{
	struct pollfd p = {.fd = fd, .events = POLLOUT};
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
	struct addrinfo hints = {.ai_family = AF_UNSPEC,
				 .ai_socktype = SOCK_STREAM};
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
		fd = socket(ai->ai_family,
			    ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
			    ai->ai_protocol);
		if (fd < 0) {
			saved = errno;
			continue;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0 ||
		    (errno == EINPROGRESS &&
		     wait_connected(fd, timeout_ms) == 0))
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
	struct addrinfo hints = {.ai_family = AF_UNSPEC,
				 .ai_socktype = SOCK_STREAM,
				 .ai_flags = AI_PASSIVE};
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
			*bound_port =
				ntohs(((struct sockaddr_in *)&ss)->sin_port);
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
