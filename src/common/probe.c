/*
 * probe.c - link probes: the armed end (probe_srv) and the dialing end
 * (probe_run), both on a libevent loop.  The protocol is in probe.h.
 *
 * Everything either end may be made to do is bounded by the request both
 * got from mctld: how many echoes, streams and bytes, and for how long.
 * The armed end also faces strangers (its port is the node's): before a
 * valid hello a connection holds at most one hello's bytes, for at most
 * hello_timeout_ms, and only so many of them may be open (in all, and
 * from one address).  A peer with the token is still only a peer: what
 * it sends beyond its request ends the probe.
 */
#include "config.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "conn.h"
#include "frame.h"
#include "probe.h"
#include "rxmeter.h"
#include "util.h"

/* A ProbeHello packs to at most 48 bytes, ProbeEcho 17, ProbePhase 4,
 * ProbeCount 35: anything longer is not one. */
#define HELLO_BODY_MAX 64
#define CTL_BODY_MAX   64
/* Input a control connection may hold: a few frames.  Its output is
 * bounded by the protocol (one echo per echo asked for, one count). */
#define CTL_READ_AHEAD 4096
/* Bulk streams: each write takes at most BULK_CHUNK from a static buffer
 * (nothing is copied), topped up to BULK_QUEUE queued when the queue is
 * down to BULK_CHUNK; a read takes at most BULK_READ bytes, drained at
 * once. */
#define BULK_CHUNK (64 * 1024)
#define BULK_QUEUE (256 * 1024)
#define BULK_READ  (256 * 1024)
/* After the dialer's end of an up phase: how long its streams' last bytes
 * may take before the armed end counts without them. */
#define UP_DRAIN_MS	      2000
#define ACCEPT_BATCH	      64
#define ACCEPT_BACKOFF_MS     100
#define ACCEPT_BACKOFF_MAX_MS 2000

/* What bulk streams send: zeros (TCP does not compress them, nor will
 * TLS), never written to. */
static const uint8_t bulk_zeros[BULK_CHUNK];

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void timer_start(struct event *ev, unsigned ms)
{
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};

	event_add(ev, &tv);
}

/* --- requests ------------------------------------------------------------- */

int probe_request_check(const Meridian__ProbeRequest *req, bool dial,
			struct mer_error *err)
{
	errno = EINVAL;
	if (req->token.len != PROBE_TOKEN_LEN || !req->token.data)
		return mer_error_set(err,
				     "probe %u: token of %zu bytes, expected "
				     "%d",
				     req->probe_id, req->token.len,
				     PROBE_TOKEN_LEN);
	if (req->echoes > PROBE_MAX_ECHOES)
		return mer_error_set(
			err, "probe %u: echoes %u, expected 0 to %d",
			req->probe_id, req->echoes, PROBE_MAX_ECHOES);
	if (req->streams > PROBE_MAX_STREAMS)
		return mer_error_set(
			err, "probe %u: streams %u, expected 0 to %d",
			req->probe_id, req->streams, PROBE_MAX_STREAMS);
	if (!req->echoes && !(req->streams && (req->up || req->down)))
		return mer_error_set(err,
				     "probe %u: echoes 0 with streams %u%s: "
				     "nothing to measure, expected echoes 1 "
				     "to %d, or streams 1 to %d with up or "
				     "down",
				     req->probe_id, req->streams,
				     req->streams ? " and neither up nor down"
						  : "",
				     PROBE_MAX_ECHOES, PROBE_MAX_STREAMS);
	if (req->streams && (req->up || req->down)) {
		if (!req->duration_ms ||
		    req->duration_ms > PROBE_MAX_DURATION_MS)
			return mer_error_set(err,
					     "probe %u: duration_ms %u, "
					     "expected 1 to %u with streams",
					     req->probe_id, req->duration_ms,
					     PROBE_MAX_DURATION_MS);
		if (!req->max_bytes || req->max_bytes > PROBE_MAX_BYTES)
			return mer_error_set(
				err,
				"probe %u: max_bytes %llu, "
				"expected 1 to %llu with streams",
				req->probe_id,
				(unsigned long long)req->max_bytes,
				(unsigned long long)PROBE_MAX_BYTES);
	}
	if (!req->timeout_ms || req->timeout_ms > PROBE_MAX_TIMEOUT_MS)
		return mer_error_set(err,
				     "probe %u: timeout_ms %u, expected 1 to "
				     "%u",
				     req->probe_id, req->timeout_ms,
				     PROBE_MAX_TIMEOUT_MS);
	if (dial && (!req->host || !*req->host || strlen(req->host) > 255))
		return mer_error_set(err,
				     "probe %u: host \"%.64s\", expected a "
				     "name or address of 1 to 255 bytes",
				     req->probe_id, req->host ? req->host : "");
	if (dial && (!req->port || req->port > 65535))
		return mer_error_set(err,
				     "probe %u: port %u, expected 1 to 65535",
				     req->probe_id, req->port);
	errno = 0;
	return 0;
}

/* --- frames and bufferevents ---------------------------------------------- */

/*
 * The two places a probe connection's bufferevent is made, one for each
 * end.  Node links are to move to TLS (DESIGN.md: every node link
 * mutually authenticated and encrypted): that is
 * bufferevent_openssl_socket_new (base, fd, ssl, BUFFEREVENT_SSL_ACCEPTING
 * or _CONNECTING, BEV_OPT_CLOSE_ON_FREE) in these two functions and
 * nothing else: the rest of this file only reads and writes the
 * bufferevents (and bufferevent_socket_connect works on an OpenSSL
 * bufferevent too).
 */
static struct bufferevent *bev_accepted(struct event_base *base, int fd)
{
	return bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);
}

/* Start a non-blocking connect to sa.  NULL with errno when it failed at
 * once; else its callbacks are the caller's to set (none runs before). */
static struct bufferevent *bev_dial(struct event_base *base,
				    const struct sockaddr *sa, socklen_t len)
{
	struct bufferevent *bev;
	int fd, one = 1, e;

	fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    0);
	if (fd < 0)
		return NULL;
	/* echoes and hellos are single small frames that someone waits for */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (!(bev = bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE))) {
		close(fd);
		errno = ENOMEM;
		return NULL;
	}
	if (bufferevent_socket_connect(bev, sa, (int)len) < 0) {
		e = EVUTIL_SOCKET_ERROR();
		bufferevent_free(bev);
		errno = e ? e : ECONNREFUSED;
		return NULL;
	}
	return bev;
}

/* Why a bufferevent reported BEV_EVENT_ERROR.  libevent fakes the error of
 * a connect refused at once without an errno: that is a refusal. */
static int bev_errno(struct bufferevent *bev)
{
	int e = EVUTIL_SOCKET_ERROR(), soerr = 0;
	socklen_t sl = sizeof(soerr);

	if (e)
		return e;
	if (getsockopt(bufferevent_getfd(bev), SOL_SOCKET, SO_ERROR, &soerr,
		       &sl) == 0 &&
	    soerr)
		return soerr;
	return ECONNREFUSED;
}

static void bev_bulk_sizes(struct bufferevent *bev)
{
	bufferevent_set_max_single_read(bev, BULK_READ);
	bufferevent_set_max_single_write(bev, BULK_QUEUE);
}

/*
 * The whole frame at the head of in: 1 with *h and *body (pulled up; the
 * caller drains MER_FRAME_HDR_LEN + h->body_len), 0 while it is not all
 * there, -1 with err when it is not a probe's one-way frame of at most
 * max_body bytes (this is decided from the header alone).
 */
static int frame_next(struct evbuffer *in, size_t max_body, struct frame_hdr *h,
		      const uint8_t **body, struct mer_error *err)
{
	uint8_t hb[MER_FRAME_HDR_LEN];
	size_t len = evbuffer_get_length(in);
	uint8_t *p;

	if (len < MER_FRAME_HDR_LEN)
		return 0;
	evbuffer_copyout(in, hb, sizeof(hb));
	if (frame_hdr_decode(hb, h, err) < 0)
		return -1;
	if (h->flags || h->cred_len)
		return mer_error_set(err,
				     "%s frame with flags 0x%x and a %u-byte "
				     "credential, expected neither",
				     msg_type_name(h->type), h->flags,
				     h->cred_len);
	if (h->body_len > max_body)
		return mer_error_set(err,
				     "%s frame of %u bytes, expected at most "
				     "%zu",
				     msg_type_name(h->type), h->body_len,
				     max_body);
	if (len < MER_FRAME_HDR_LEN + (size_t)h->body_len)
		return 0;
	p = evbuffer_pullup(in, MER_FRAME_HDR_LEN + (ev_ssize_t)h->body_len);
	*body = p + MER_FRAME_HDR_LEN;
	return 1;
}

static int send_frame(struct bufferevent *bev, Meridian__MsgType type,
		      const ProtobufCMessage *m)
{
	size_t len;
	uint8_t *buf = frame_build(type, 0, 0, NULL, 0, m, &len);
	int rc = bufferevent_write(bev, buf, len);

	free(buf);
	return rc;
}

/* --- the armed end -------------------------------------------------------- */

enum pc_kind {
	PC_HELLO,   /* no valid hello yet: a stranger */
	PC_CONTROL, /* stream 0 */
	PC_UP,	    /* a bulk stream the dialer sends on: counted */
	PC_DOWN,    /* a bulk stream we send on */
};

struct psrv_probe;

struct psrv_conn {
	struct probe_srv *srv;
	struct bufferevent *bev;
	struct event *hello_timer;
	enum pc_kind kind;
	struct psrv_probe *probe; /* once its hello is valid */
	unsigned stream;
	bool draining; /* a down stream with nothing more to send: it closes
			* once its output is written */
	char addr[CONN_PEER_NAME_MAX]; /* the peer's, without its port */
	TAILQ_ENTRY(psrv_conn) entry;  /* srv->unauth or srv->authed */
};
TAILQ_HEAD(psrv_conn_list, psrv_conn);

/* One bulk phase of an armed probe; [0] down, [1] up. */
struct psrv_phase {
	bool begun;    /* its PROBE_PHASE {end=false} */
	bool end_seen; /* up: PROBE_PHASE {end=true} */
	bool over;     /* up: counted; down: all sent */
	uint32_t seen; /* streams that said hello, bit stream-1 */
	unsigned opened;
	struct psrv_conn *conns[PROBE_MAX_STREAMS]; /* open now */
	struct rx_meter rx;			    /* up */
	uint64_t sent;				    /* down: queued so far */
	struct event *timer; /* down: the sending's end; up: the drain's */
};

struct psrv_probe {
	struct probe_srv *srv;
	uint32_t id;
	uint8_t token[PROBE_TOKEN_LEN];
	uint32_t echoes, streams, duration_ms;
	uint64_t max_bytes;
	bool up, down;
	uint32_t echoed;
	bool control_used; /* its one control connection has said hello */
	struct psrv_conn *control;
	struct psrv_phase phase[2];
	struct event *expire;
	TAILQ_ENTRY(psrv_probe) entry;
};
TAILQ_HEAD(psrv_probe_list, psrv_probe);

/* Why the srv closed a connection, for its log. */
enum srv_note {
	NOTE_CAPS,
	NOTE_ACCEPT,
	NOTE_BAD_FRAME,
	NOTE_UNKNOWN,
	NOTE_TOKEN,
	NOTE_STREAM,
	NOTE_TIMEOUT,
	NOTE_PROTOCOL,
	NOTE_NREASONS
};

struct probe_srv {
	struct event_base *base;
	struct probe_srv_limits lim;
	probe_log_fn log;
	void *arg;
	struct event *listen_ev, *backoff_ev;
	unsigned backoff_ms;
	struct psrv_conn_list unauth, authed;
	struct psrv_probe_list probes;
	struct probe_srv_stats st;
	struct {
		unsigned count;	 /* left out since the last line */
		int64_t last_ms; /* when that line was written */
	} notes[NOTE_NREASONS];
};

static void srv_note(struct probe_srv *s, enum srv_note why, const char *fmt,
		     ...) __attribute__((format(printf, 3, 4)));

static void srv_note(struct probe_srv *s, enum srv_note why, const char *fmt,
		     ...)
{
	int64_t now = mer_mono_ms();
	char text[400];
	va_list ap;
	int len;

	if (s->notes[why].last_ms &&
	    now - s->notes[why].last_ms < PROBE_LOG_INTERVAL_S * 1000) {
		s->notes[why].count++;
		return;
	}
	va_start(ap, fmt);
	len = vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (len >= 0 && (size_t)len < sizeof(text) && s->notes[why].count)
		snprintf(text + len, sizeof(text) - (size_t)len,
			 " (and %u more such since the last such line)",
			 s->notes[why].count);
	s->notes[why].count = 0;
	s->notes[why].last_ms = now;
	if (s->log)
		s->log(text, s->arg);
}

/* Close c and forget it everywhere.  What that means for its probe is
 * the caller's to decide. */
static void pc_close(struct psrv_conn *c)
{
	struct probe_srv *s = c->srv;
	struct psrv_probe *p = c->probe;

	if (c->kind == PC_HELLO) {
		TAILQ_REMOVE(&s->unauth, c, entry);
		s->st.nunauth--;
	} else {
		TAILQ_REMOVE(&s->authed, c, entry);
	}
	s->st.nconns--;
	if (p && c->kind == PC_CONTROL)
		p->control = NULL;
	else if (p && (c->kind == PC_UP || c->kind == PC_DOWN))
		p->phase[c->kind == PC_UP].conns[c->stream - 1] = NULL;
	if (c->hello_timer)
		event_free(c->hello_timer);
	bufferevent_free(c->bev); /* may be inside its callback: libevent
				   * defers the free */
	free(c);
}

/* The arm is over: close its connections and forget it. */
static void probe_forget(struct psrv_probe *p)
{
	struct probe_srv *s = p->srv;

	if (p->control)
		pc_close(p->control);
	for (int up = 0; up < 2; up++) {
		struct psrv_phase *ph = &p->phase[up];

		for (unsigned i = 0; i < PROBE_MAX_STREAMS; i++)
			if (ph->conns[i])
				pc_close(ph->conns[i]);
		if (ph->timer)
			event_free(ph->timer);
	}
	if (p->expire)
		event_free(p->expire);
	TAILQ_REMOVE(&s->probes, p, entry);
	s->st.armed--;
	explicit_bzero(p->token, sizeof(p->token));
	free(p);
}

static void probe_violation(struct psrv_probe *p, const struct psrv_conn *c,
			    const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* The dialer broke its request's rules: the probe ends here. */
static void probe_violation(struct psrv_probe *p, const struct psrv_conn *c,
			    const char *fmt, ...)
{
	char why[300];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	p->srv->st.protocol_errors++;
	srv_note(p->srv, NOTE_PROTOCOL, "probe %u from %s ended: %s", p->id,
		 c->addr, why);
	probe_forget(p);
}

static void expire_cb(evutil_socket_t fd, short what, void *arg)
{
	struct psrv_probe *p = arg;

	(void)fd;
	(void)what;
	p->srv->st.probes_expired++;
	probe_forget(p);
}

/* An up phase is over: answer PROBE_COUNT and close what is left. */
static void up_count(struct psrv_probe *p)
{
	struct psrv_phase *ph = &p->phase[1];
	Meridian__ProbeCount pc = MERIDIAN__PROBE_COUNT__INIT;
	uint64_t bytes, window_us;

	ph->over = true;
	event_del(ph->timer);
	for (unsigned i = 0; i < PROBE_MAX_STREAMS; i++)
		if (ph->conns[i])
			pc_close(ph->conns[i]);
	rxm_result(&ph->rx, &bytes, &window_us);
	pc.up = true;
	pc.bytes = bytes;
	pc.window_us = window_us;
	pc.total_bytes = ph->rx.total;
	if (p->control)
		send_frame(p->control->bev, MERIDIAN__MSG_TYPE__MSG_PROBE_COUNT,
			   &pc.base);
}

/* Count once the dialer said it is done and every stream it opened has
 * closed, all their bytes read. */
static void up_try_count(struct psrv_probe *p)
{
	struct psrv_phase *ph = &p->phase[1];

	if (!ph->end_seen || ph->over || ph->opened < p->streams)
		return;
	for (unsigned i = 0; i < PROBE_MAX_STREAMS; i++)
		if (ph->conns[i])
			return;
	up_count(p);
}

static void up_drain_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	up_count(arg);
}

/* Queue more of a down stream's bytes, within max_bytes for the phase. */
static void down_fill(struct psrv_conn *c)
{
	struct psrv_probe *p = c->probe;
	struct psrv_phase *ph = &p->phase[0];
	struct evbuffer *out = bufferevent_get_output(c->bev);

	while (!ph->over && evbuffer_get_length(out) < BULK_QUEUE &&
	       ph->sent < p->max_bytes) {
		uint64_t left = p->max_bytes - ph->sent;
		size_t n = left < BULK_CHUNK ? (size_t)left : BULK_CHUNK;

		if (evbuffer_add_reference(out, bulk_zeros, n, NULL, NULL) < 0)
			break;
		ph->sent += n;
		p->srv->st.bytes_sent += n;
	}
}

/* A down stream with nothing more to send closes once it is written. */
static void down_drain(struct psrv_conn *c)
{
	c->draining = true;
	bufferevent_setwatermark(c->bev, EV_WRITE, 0, 0);
	if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
		pc_close(c);
}

/* The down phase's time is up, or its bytes are all queued. */
static void down_over(struct psrv_probe *p)
{
	struct psrv_phase *ph = &p->phase[0];

	ph->over = true;
	event_del(ph->timer);
	for (unsigned i = 0; i < PROBE_MAX_STREAMS; i++)
		if (ph->conns[i])
			down_drain(ph->conns[i]);
}

static void down_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	down_over(arg);
}

/* Echo back, or begin or end a phase.  -1 when the probe (and c) are
 * gone. */
static int control_frame(struct psrv_conn *c, const struct frame_hdr *h,
			 const uint8_t *body)
{
	struct psrv_probe *p = c->probe;
	struct mer_error err;
	ProtobufCMessage *m;
	const Meridian__ProbePhase *ph;
	struct psrv_phase *x;

	if (h->type == MERIDIAN__MSG_TYPE__MSG_PROBE_ECHO) {
		if (p->echoed >= p->echoes) {
			probe_violation(p, c,
					"echo %u, of %u asked for in its "
					"request",
					p->echoed + 1, p->echoes);
			return -1;
		}
		/* sent back as it came: the dialer's seq and its clock */
		bufferevent_write(c->bev, body - MER_FRAME_HDR_LEN,
				  MER_FRAME_HDR_LEN + h->body_len);
		p->echoed++;
		c->srv->st.echoes++;
		return 0;
	}
	if (h->type != MERIDIAN__MSG_TYPE__MSG_PROBE_PHASE) {
		probe_violation(p, c,
				"%s on its control connection, expected "
				"PROBE_ECHO or PROBE_PHASE",
				msg_type_name(h->type));
		return -1;
	}
	if (!(m = frame_unpack_body(h, body, h->body_len, &err))) {
		probe_violation(p, c, "PROBE_PHASE does not decode: %s",
				err.text);
		return -1;
	}
	ph = (const Meridian__ProbePhase *)m;
	x = &p->phase[ph->up];
	if (!p->streams || !(ph->up ? p->up : p->down) ||
	    (!ph->end && x->begun) || (ph->end && (!ph->up || x->end_seen))) {
		bool up = ph->up, end = ph->end;

		protobuf_c_message_free_unpacked(m, NULL);
		probe_violation(p, c,
				"PROBE_PHASE {%s, %s} out of turn (it asked "
				"for %u streams%s%s)",
				up ? "up" : "down", end ? "end" : "begin",
				p->streams, p->up ? ", up" : "",
				p->down ? ", down" : "");
		return -1;
	}
	if (ph->end) {
		x->end_seen = true;
		timer_start(x->timer, UP_DRAIN_MS);
		up_try_count(p);
	} else {
		x->begun = true;
	}
	protobuf_c_message_free_unpacked(m, NULL);
	return 0;
}

static void pc_read_cb(struct bufferevent *bev, void *arg);
static void pc_write_cb(struct bufferevent *bev, void *arg);
static void pc_event_cb(struct bufferevent *bev, short what, void *arg);

/* Why p takes no stream hi->stream (its token checked), or NULL. */
static const char *hello_refusal(const struct psrv_probe *p,
				 const Meridian__ProbeHello *hi)
{
	const struct psrv_phase *ph = &p->phase[hi->up];

	if (hi->stream > p->streams)
		return "more streams than it asked for";
	if (hi->stream == 0)
		return p->control_used ? "a second control connection" : NULL;
	if (!(hi->up ? p->up : p->down))
		return hi->up ? "an up phase it did not ask for"
			      : "a down phase it did not ask for";
	if (ph->seen & (1u << (hi->stream - 1)))
		return "a stream opened already";
	if (hi->up && ph->over)
		return "an up stream after the phase was counted";
	return NULL;
}

/* Take c as bulk stream hi->stream of p.  0: read on (an up stream's
 * bytes may have come with its hello); -1: stop here, c may be closed (a
 * down stream: sending now, or done at once). */
static int hello_bulk(struct psrv_conn *c, struct psrv_probe *p,
		      const Meridian__ProbeHello *hi)
{
	struct psrv_phase *ph = &p->phase[hi->up];
	uint32_t bit = 1u << (hi->stream - 1);

	ph->seen |= bit;
	ph->opened++;
	ph->conns[hi->stream - 1] = c;
	c->kind = hi->up ? PC_UP : PC_DOWN;
	c->stream = hi->stream;
	bev_bulk_sizes(c->bev);
	if (hi->up) {
		bufferevent_setwatermark(c->bev, EV_READ, 0, BULK_READ);
		return 0;
	}
	if (ph->over) {
		/* opened after the phase's bytes were all sent: nothing
		 * left for it */
		down_drain(c);
		return -1;
	}
	if (ph->opened == 1)
		timer_start(ph->timer, p->duration_ms);
	bufferevent_setwatermark(c->bev, EV_WRITE, BULK_CHUNK, 0);
	down_fill(c);
	if (ph->sent >= p->max_bytes)
		down_over(p);
	return -1;
}

/*
 * c's first frame.  It must be a hello of an armed probe, with its token,
 * for a stream the probe has and has not opened yet.  0: read on; -1:
 * stop, c may be closed.
 */
static int pc_hello(struct psrv_conn *c, const struct frame_hdr *h,
		    const uint8_t *body)
{
	struct probe_srv *s = c->srv;
	const Meridian__ProbeHello *hi;
	struct psrv_probe *p;
	struct mer_error err;
	ProtobufCMessage *m;
	const char *no;
	int rc = 0;

	if (h->type != MERIDIAN__MSG_TYPE__MSG_PROBE_HELLO ||
	    !(m = frame_unpack_body(h, body, h->body_len, &err))) {
		s->st.bad_frames++;
		srv_note(s, NOTE_BAD_FRAME,
			 "connection from %s closed: %s, expected a "
			 "PROBE_HELLO",
			 c->addr,
			 h->type == MERIDIAN__MSG_TYPE__MSG_PROBE_HELLO
				 ? "a PROBE_HELLO that does not decode"
				 : msg_type_name(h->type));
		pc_close(c);
		return -1;
	}
	hi = (const Meridian__ProbeHello *)m;
	TAILQ_FOREACH(p, &s->probes, entry)
		if (p->id == hi->probe_id)
			break;
	if (!p) {
		s->st.refused_hellos++;
		srv_note(s, NOTE_UNKNOWN,
			 "connection from %s refused: probe %u is not armed "
			 "(never, or its arm expired)",
			 c->addr, hi->probe_id);
		rc = -1;
	} else if (!key_equal(hi->token.data, hi->token.len, p->token,
			      sizeof(p->token))) {
		s->st.refused_hellos++;
		srv_note(s, NOTE_TOKEN,
			 "connection from %s refused: a wrong token for probe "
			 "%u",
			 c->addr, p->id);
		rc = -1;
	} else if ((no = hello_refusal(p, hi))) {
		s->st.refused_hellos++;
		srv_note(s, NOTE_STREAM,
			 "connection from %s refused: stream %u (%s) of probe "
			 "%u: %s",
			 c->addr, hi->stream, hi->up ? "up" : "down", p->id,
			 no);
		rc = -1;
	}
	if (rc < 0) {
		protobuf_c_message_free_unpacked(m, NULL);
		pc_close(c);
		return -1;
	}
	/* the token holder is no stranger now */
	evbuffer_drain(bufferevent_get_input(c->bev),
		       MER_FRAME_HDR_LEN + h->body_len);
	event_free(c->hello_timer);
	c->hello_timer = NULL;
	TAILQ_REMOVE(&s->unauth, c, entry);
	s->st.nunauth--;
	TAILQ_INSERT_TAIL(&s->authed, c, entry);
	c->probe = p;
	if (hi->stream == 0) {
		p->control_used = true;
		p->control = c;
		c->kind = PC_CONTROL;
		bufferevent_setwatermark(c->bev, EV_READ, 0, CTL_READ_AHEAD);
	} else {
		rc = hello_bulk(c, p, hi);
	}
	protobuf_c_message_free_unpacked(m, NULL);
	return rc;
}

static void pc_read_cb(struct bufferevent *bev, void *arg)
{
	struct psrv_conn *c = arg;
	struct probe_srv *s = c->srv;
	struct evbuffer *in = bufferevent_get_input(bev);
	struct frame_hdr h;
	struct mer_error err;
	const uint8_t *body;
	int r;

	if (c->kind == PC_HELLO) {
		r = frame_next(in, HELLO_BODY_MAX, &h, &body, &err);
		if (r == 0)
			return; /* a stranger's few bytes; its timer runs */
		if (r < 0) {
			s->st.bad_frames++;
			srv_note(s, NOTE_BAD_FRAME,
				 "connection from %s closed: %s", c->addr,
				 err.text);
			pc_close(c);
			return;
		}
		if (pc_hello(c, &h, body) < 0)
			return;
		/* an up stream's first bytes may have come with its hello */
	}
	if (c->kind == PC_UP) {
		struct psrv_probe *p = c->probe;
		struct psrv_phase *ph = &p->phase[1];
		size_t n = evbuffer_get_length(in);

		rxm_add(&ph->rx, n, mono_ns());
		evbuffer_drain(in, n);
		s->st.bytes_received += n;
		if (ph->rx.total > p->max_bytes)
			probe_violation(p, c,
					"its up phase sent more than the %llu "
					"bytes asked for",
					(unsigned long long)p->max_bytes);
		return;
	}
	if (c->kind == PC_DOWN) {
		if (evbuffer_get_length(in))
			probe_violation(c->probe, c,
					"it sent on down stream %u, which only "
					"we send on",
					c->stream);
		return;
	}
	while ((r = frame_next(in, CTL_BODY_MAX, &h, &body, &err)) > 0) {
		if (control_frame(c, &h, body) < 0)
			return;
		evbuffer_drain(in, MER_FRAME_HDR_LEN + h.body_len);
	}
	if (r < 0)
		probe_violation(c->probe, c, "its control connection: %s",
				err.text);
}

static void pc_write_cb(struct bufferevent *bev, void *arg)
{
	struct psrv_conn *c = arg;
	struct psrv_probe *p = c->probe;

	if (c->kind != PC_DOWN)
		return;
	if (c->draining) {
		if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
			pc_close(c);
		return;
	}
	down_fill(c);
	if (p->phase[0].sent >= p->max_bytes)
		down_over(p);
}

static void pc_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct psrv_conn *c = arg;
	struct psrv_probe *p = c->probe;

	(void)bev;
	(void)what;
	/* EOF or an error end the connection alike */
	switch (c->kind) {
	case PC_HELLO:
		pc_close(c); /* a stranger left: nothing to say */
		break;
	case PC_CONTROL:
		/* the dialer is done (or gone): so is its probe */
		c->srv->st.probes_done++;
		probe_forget(p);
		break;
	case PC_UP:
		pc_close(c);
		up_try_count(p);
		break;
	case PC_DOWN:
		pc_close(c);
		break;
	}
}

static void hello_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct psrv_conn *c = arg;
	struct probe_srv *s = c->srv;

	(void)fd;
	(void)what;
	s->st.hello_timeouts++;
	srv_note(s, NOTE_TIMEOUT,
		 "connection from %s closed: no valid PROBE_HELLO within %u "
		 "ms (%zu bytes received)",
		 c->addr, s->lim.hello_timeout_ms,
		 evbuffer_get_length(bufferevent_get_input(c->bev)));
	pc_close(c);
}

/* A stranger may be closed for a newcomer once what it sent has been
 * read (and was not a hello): one whose bytes wait unread, say accepted
 * in the same batch as a flood, is read before the flood pushes it out. */
static bool pc_evictable(const struct psrv_conn *c)
{
	int unread = 0;

	return evbuffer_get_length(bufferevent_get_input(c->bev)) == 0 &&
	       (ioctl(bufferevent_getfd(c->bev), FIONREAD, &unread) < 0 ||
		unread == 0);
}

/*
 * Room for one more stranger from addr (or from anyone: addr NULL) under
 * cap.  Over it the oldest evictable one goes, not the newcomer: a real
 * dialer sends its hello at once, while stalled connections age; when
 * none may go yet, false: the newcomer goes.
 */
static bool srv_room(struct probe_srv *s, const char *addr, unsigned cap)
{
	struct psrv_conn *c, *old = NULL;
	unsigned n = 0;

	TAILQ_FOREACH(c, &s->unauth, entry) {
		if (addr && strcmp(c->addr, addr) != 0)
			continue;
		n++;
		if (!old && pc_evictable(c))
			old = c;
	}
	if (n < cap)
		return true;
	srv_note(s, NOTE_CAPS,
		 "%u probe connections%s%s without a hello, the most "
		 "allowed: %s",
		 n, addr ? " from " : "", addr ? addr : "",
		 old ? "closing the oldest" : "refusing newcomers for now");
	if (!old)
		return false;
	s->st.evicted++;
	pc_close(old);
	return true;
}

static void srv_backoff_cb(evutil_socket_t fd, short what, void *arg)
{
	struct probe_srv *s = arg;

	(void)fd;
	(void)what;
	event_add(s->listen_ev, NULL);
}

static void srv_accept_cb(evutil_socket_t lfd, short what, void *arg)
{
	struct probe_srv *s = arg;

	(void)what;
	/* a bounded batch per wake-up: the loop serves the probes too */
	for (int i = 0; i < ACCEPT_BATCH; i++) {
		char name[CONN_PEER_NAME_MAX];
		struct psrv_conn *c;
		const char *colon;
		int fd = tcp_accept(lfd, name);

		if (fd < 0) {
			int e = errno;

			if (e == EINTR || e == ECONNABORTED || e == EPROTO)
				continue;
			if (e == EAGAIN || e == EWOULDBLOCK)
				break;
			/* out of descriptors: the listener stays readable,
			 * so stop watching it a while rather than spin */
			event_del(s->listen_ev);
			s->backoff_ms = s->backoff_ms ? s->backoff_ms * 2
						      : ACCEPT_BACKOFF_MS;
			if (s->backoff_ms > ACCEPT_BACKOFF_MAX_MS)
				s->backoff_ms = ACCEPT_BACKOFF_MAX_MS;
			srv_note(s, NOTE_ACCEPT,
				 "accept: %s; not accepting probe connections "
				 "for %u ms (%u open)",
				 strerror(e), s->backoff_ms, s->st.nconns);
			timer_start(s->backoff_ev, s->backoff_ms);
			return;
		}
		s->backoff_ms = 0;
		c = xcalloc(1, sizeof(*c));
		c->srv = s;
		colon = strrchr(name, ':');
		snprintf(c->addr, sizeof(c->addr), "%.*s",
			 colon ? (int)(colon - name) : (int)strlen(name), name);
		if (s->st.nconns >= s->lim.max_conns) {
			srv_note(s, NOTE_CAPS,
				 "probe connection from %s refused: %u open, "
				 "the most allowed",
				 c->addr, s->st.nconns);
			s->st.refused_conns++;
			close(fd);
			free(c);
			continue;
		}
		if (!srv_room(s, c->addr, s->lim.max_unauth_per_addr) ||
		    !srv_room(s, NULL, s->lim.max_unauth)) {
			s->st.refused_conns++;
			close(fd);
			free(c);
			continue;
		}
		if (!(c->bev = bev_accepted(s->base, fd))) {
			close(fd);
			free(c);
			continue;
		}
		c->kind = PC_HELLO;
		c->hello_timer = evtimer_new(s->base, hello_timeout_cb, c);
		TAILQ_INSERT_TAIL(&s->unauth, c, entry);
		s->st.nconns++;
		s->st.nunauth++;
		s->st.accepted++;
		if (!c->hello_timer) {
			pc_close(c);
			continue;
		}
		timer_start(c->hello_timer, s->lim.hello_timeout_ms);
		/* a stranger's input: one hello at most */
		bufferevent_setwatermark(c->bev, EV_READ, 0,
					 MER_FRAME_HDR_LEN + HELLO_BODY_MAX);
		bufferevent_setcb(c->bev, pc_read_cb, pc_write_cb, pc_event_cb,
				  c);
		bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	}
}

struct probe_srv *probe_srv_create(struct event_base *base, int listen_fd,
				   const struct probe_srv_limits *lim,
				   probe_log_fn log, void *arg,
				   struct mer_error *err)
{
	struct probe_srv *s = xcalloc(1, sizeof(*s));

	if (lim)
		s->lim = *lim;
	if (!s->lim.max_conns)
		s->lim.max_conns = 512;
	if (!s->lim.max_unauth)
		s->lim.max_unauth = 128;
	if (!s->lim.max_unauth_per_addr)
		s->lim.max_unauth_per_addr = 40;
	if (!s->lim.hello_timeout_ms)
		s->lim.hello_timeout_ms = 2000;
	if (!s->lim.max_armed)
		s->lim.max_armed = 64;
	/* A blocking listener would hang the loop in accept() once the
	 * batch has taken every pending connection. */
	if (set_nonblock(listen_fd) < 0) {
		int e = errno;

		free(s);
		errno = e;
		mer_error_set(err, "probe listener: socket %d: %s", listen_fd,
			      strerror(e));
		return NULL;
	}
	s->base = base;
	s->log = log;
	s->arg = arg;
	TAILQ_INIT(&s->unauth);
	TAILQ_INIT(&s->authed);
	TAILQ_INIT(&s->probes);
	s->listen_ev = event_new(base, listen_fd, EV_READ | EV_PERSIST,
				 srv_accept_cb, s);
	s->backoff_ev = evtimer_new(base, srv_backoff_cb, s);
	if (!s->listen_ev || !s->backoff_ev ||
	    event_add(s->listen_ev, NULL) < 0) {
		probe_srv_destroy(s);
		errno = ENOMEM;
		mer_error_set(err, "probe listener: cannot watch socket %d",
			      listen_fd);
		return NULL;
	}
	return s;
}

void probe_srv_destroy(struct probe_srv *s)
{
	struct psrv_probe *p;
	struct psrv_conn *c;

	if (!s)
		return;
	while ((p = TAILQ_FIRST(&s->probes)))
		probe_forget(p);
	/* bulk streams that outlived nothing, strangers */
	while ((c = TAILQ_FIRST(&s->authed)))
		pc_close(c);
	while ((c = TAILQ_FIRST(&s->unauth)))
		pc_close(c);
	if (s->listen_ev)
		event_free(s->listen_ev);
	if (s->backoff_ev)
		event_free(s->backoff_ev);
	free(s);
}

int probe_srv_arm(struct probe_srv *s, const Meridian__ProbeRequest *req,
		  struct mer_error *err)
{
	struct psrv_probe *p;

	if (probe_request_check(req, false, err) < 0)
		return -1;
	TAILQ_FOREACH(p, &s->probes, entry)
		if (p->id == req->probe_id)
			break;
	if (p &&
	    (p->control_used || p->phase[0].opened || p->phase[1].opened)) {
		errno = EBUSY;
		return mer_error_set(err,
				     "probe %u is under way already: its "
				     "connections are open",
				     p->id);
	}
	if (!p && s->st.armed >= s->lim.max_armed) {
		errno = EAGAIN;
		return mer_error_set(err,
				     "probe %u: %u probes armed, the most "
				     "allowed",
				     req->probe_id, s->st.armed);
	}
	if (!p) {
		p = xcalloc(1, sizeof(*p));
		p->srv = s;
		p->expire = evtimer_new(s->base, expire_cb, p);
		p->phase[0].timer = evtimer_new(s->base, down_timer_cb, p);
		p->phase[1].timer = evtimer_new(s->base, up_drain_cb, p);
		TAILQ_INSERT_TAIL(&s->probes, p, entry);
		s->st.armed++;
		if (!p->expire || !p->phase[0].timer || !p->phase[1].timer) {
			probe_forget(p);
			errno = ENOMEM;
			return mer_error_set(err, "probe %u: out of memory",
					     req->probe_id);
		}
	}
	p->id = req->probe_id;
	memcpy(p->token, req->token.data, PROBE_TOKEN_LEN);
	p->echoes = req->echoes;
	p->streams = req->up || req->down ? req->streams : 0;
	p->duration_ms = req->duration_ms;
	p->max_bytes = req->max_bytes;
	p->up = req->up && p->streams;
	p->down = req->down && p->streams;
	rxm_init(&p->phase[1].rx, p->duration_ms, p->max_bytes);
	timer_start(p->expire, req->timeout_ms);
	return 0;
}

void probe_srv_get_stats(const struct probe_srv *s, struct probe_srv_stats *st)
{
	*st = s->st;
}

/* --- the dialing end ------------------------------------------------------ */

enum run_stage {
	RS_CONNECT, /* the control connection */
	RS_ECHO,    /* echo seq+1 is out */
	RS_UP,	    /* the up phase's streams are sending */
	RS_UP_COUNT,
	RS_DOWN,
};

struct run_bulk {
	struct probe_run *r;
	struct bufferevent *bev; /* NULL once closed */
	unsigned stream;
	bool connected;
};

struct probe_run {
	struct event_base *base;
	probe_done_fn done;
	void *arg;

	uint32_t id;
	uint8_t token[PROBE_TOKEN_LEN];
	uint32_t echoes, streams, duration_ms, timeout_ms;
	uint64_t max_bytes;
	bool up, down;
	char where[300]; /* "HOST:PORT", for errors */

	struct addrinfo *ai_list, *ai; /* the address tried, then used */
	enum run_stage stage;
	struct bufferevent *ctl;
	uint64_t echo_sent_ns;
	uint64_t rtt_ns[PROBE_MAX_ECHOES];

	bool up_done, down_done;
	struct run_bulk bulk[PROBE_MAX_STREAMS];
	unsigned nconnected, nclosed;
	uint64_t up_sent;
	bool up_stopped;
	struct rx_meter rx;

	struct event *deadline, *phase_timer, *kick;
	bool in_done;
	struct probe_outcome o;
};

static void run_free(struct probe_run *r)
{
	for (unsigned i = 0; i < PROBE_MAX_STREAMS; i++)
		if (r->bulk[i].bev)
			bufferevent_free(r->bulk[i].bev);
	if (r->ctl)
		bufferevent_free(r->ctl);
	if (r->deadline)
		event_free(r->deadline);
	if (r->phase_timer)
		event_free(r->phase_timer);
	if (r->kick)
		event_free(r->kick);
	if (r->ai_list)
		freeaddrinfo(r->ai_list);
	explicit_bzero(r->token, sizeof(r->token));
	free(r);
}

static int u64_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* The p-quantile of n sorted values, interpolated between neighbours. */
static double quantile(const uint64_t *v, unsigned n, double p)
{
	double h = (n - 1) * p;
	unsigned i = (unsigned)h;

	if (i + 1 >= n)
		return (double)v[n - 1];
	return (double)v[i] + (h - i) * ((double)v[i + 1] - (double)v[i]);
}

/* The run is over: tell the owner, then free it. */
static void run_finish(struct probe_run *r)
{
	unsigned n = r->o.echoes;

	if (n) {
		qsort(r->rtt_ns, n, sizeof(r->rtt_ns[0]), u64_cmp);
		r->o.rtt_median_s = quantile(r->rtt_ns, n, 0.5) / 1e9;
		r->o.rtt_spread_s = (quantile(r->rtt_ns, n, 0.75) -
				     quantile(r->rtt_ns, n, 0.25)) /
				    1e9;
	}
	r->in_done = true;
	r->done(&r->o, r->arg);
	run_free(r);
}

static void run_fail(struct probe_run *r, bool refused, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void run_fail(struct probe_run *r, bool refused, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->o.error, sizeof(r->o.error), fmt, ap);
	va_end(ap);
	r->o.ok = false;
	r->o.refused = refused;
	run_finish(r);
}

/* What the run is doing, for errors: "echo 3 of 10". */
static void run_stage_text(const struct probe_run *r, char *buf, size_t n)
{
	switch (r->stage) {
	case RS_CONNECT:
		snprintf(buf, n, "connecting");
		break;
	case RS_ECHO:
		snprintf(buf, n, "echo %u of %u", r->o.echoes + 1, r->echoes);
		break;
	case RS_UP:
		snprintf(buf, n,
			 "the up phase (%u of %u streams connected, %llu "
			 "bytes sent)",
			 r->nconnected, r->streams,
			 (unsigned long long)r->up_sent);
		break;
	case RS_UP_COUNT:
		snprintf(buf, n, "the up phase's count (%llu bytes sent)",
			 (unsigned long long)r->up_sent);
		break;
	case RS_DOWN:
		snprintf(buf, n,
			 "the down phase (%u of %u streams connected, %u "
			 "closed, %llu bytes received)",
			 r->nconnected, r->streams, r->nclosed,
			 (unsigned long long)r->rx.total);
		break;
	}
}

static void deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct probe_run *r = arg;
	char st[200];

	(void)fd;
	(void)what;
	switch (r->stage) {
	case RS_CONNECT:
		run_fail(r, true,
			 "cannot connect to %s: no answer within %u ms",
			 r->where, r->timeout_ms);
		break;
	case RS_ECHO:
		run_fail(r, false,
			 "no answer to echo %u of %u from %s within %u ms",
			 r->o.echoes + 1, r->echoes, r->where, r->timeout_ms);
		break;
	case RS_UP_COUNT:
		run_fail(r, false,
			 "no count of the up phase from %s within %u ms",
			 r->where, r->timeout_ms);
		break;
	default:
		run_stage_text(r, st, sizeof(st));
		run_fail(r, false, "%s with %s not over within %u ms", st,
			 r->where, r->timeout_ms);
		break;
	}
}

/* Failed in probe_run_start: done must come from the loop. */
static void kick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct probe_run *r = arg;

	(void)fd;
	(void)what;
	run_finish(r);
}

static void ctl_read_cb(struct bufferevent *bev, void *arg);
static void ctl_event_cb(struct bufferevent *bev, short what, void *arg);
static void bulk_read_cb(struct bufferevent *bev, void *arg);
static void bulk_write_cb(struct bufferevent *bev, void *arg);
static void bulk_event_cb(struct bufferevent *bev, short what, void *arg);

static void send_hello(struct probe_run *r, struct bufferevent *bev,
		       unsigned stream, bool up)
{
	Meridian__ProbeHello hi = MERIDIAN__PROBE_HELLO__INIT;

	hi.probe_id = r->id;
	hi.token.data = r->token;
	hi.token.len = sizeof(r->token);
	hi.stream = stream;
	hi.up = up;
	send_frame(bev, MERIDIAN__MSG_TYPE__MSG_PROBE_HELLO, &hi.base);
}

static void send_phase(struct probe_run *r, bool up, bool end)
{
	Meridian__ProbePhase ph = MERIDIAN__PROBE_PHASE__INIT;

	ph.up = up;
	ph.end = end;
	send_frame(r->ctl, MERIDIAN__MSG_TYPE__MSG_PROBE_PHASE, &ph.base);
}

static void send_echo(struct probe_run *r)
{
	Meridian__ProbeEcho e = MERIDIAN__PROBE_ECHO__INIT;

	r->echo_sent_ns = mono_ns();
	e.seq = r->o.echoes + 1;
	e.sent_ns = r->echo_sent_ns;
	send_frame(r->ctl, MERIDIAN__MSG_TYPE__MSG_PROBE_ECHO, &e.base);
}

/* Dial the control connection: r->ai, else the addresses after it.  -1
 * with errno when every one failed at once. */
static int ctl_dial(struct probe_run *r)
{
	int e = ECONNREFUSED;

	for (; r->ai; r->ai = r->ai->ai_next) {
		r->ctl = bev_dial(r->base, r->ai->ai_addr, r->ai->ai_addrlen);
		if (r->ctl) {
			bufferevent_setcb(r->ctl, ctl_read_cb, NULL,
					  ctl_event_cb, r);
			bufferevent_setwatermark(r->ctl, EV_READ, 0,
						 CTL_READ_AHEAD);
			bufferevent_enable(r->ctl, EV_READ | EV_WRITE);
			return 0;
		}
		e = errno;
	}
	errno = e;
	return -1;
}

static void bulk_close(struct run_bulk *b)
{
	bufferevent_free(b->bev);
	b->bev = NULL;
	b->r->nclosed++;
}

/* The next bulk phase, or the end of the run. */
static void run_next(struct probe_run *r)
{
	bool up;

	if (r->streams && r->up && !r->up_done)
		up = true;
	else if (r->streams && r->down && !r->down_done)
		up = false;
	else {
		r->o.ok = true;
		run_finish(r);
		return;
	}
	r->stage = up ? RS_UP : RS_DOWN;
	r->nconnected = r->nclosed = 0;
	r->up_sent = 0;
	r->up_stopped = false;
	rxm_init(&r->rx, r->duration_ms, r->max_bytes);
	send_phase(r, up, false);
	for (unsigned i = 0; i < r->streams; i++) {
		struct run_bulk *b = &r->bulk[i];

		b->r = r;
		b->stream = i + 1;
		b->connected = false;
		b->bev = bev_dial(r->base, r->ai->ai_addr, r->ai->ai_addrlen);
		if (!b->bev) {
			run_fail(r, false, "cannot open %s stream %u to %s: %s",
				 up ? "up" : "down", b->stream, r->where,
				 strerror(errno));
			return;
		}
		bev_bulk_sizes(b->bev);
		bufferevent_setcb(b->bev, bulk_read_cb, bulk_write_cb,
				  bulk_event_cb, b);
		bufferevent_enable(b->bev, EV_READ | EV_WRITE);
	}
}

/* The up phase's sending is over (its time, or max_bytes): each stream
 * closes once its output is written. */
static void up_stop(struct probe_run *r)
{
	r->up_stopped = true;
	event_del(r->phase_timer);
	for (unsigned i = 0; i < r->streams; i++) {
		struct run_bulk *b = &r->bulk[i];

		if (!b->bev || !b->connected)
			continue;
		bufferevent_setwatermark(b->bev, EV_WRITE, 0, 0);
		if (!evbuffer_get_length(bufferevent_get_output(b->bev)))
			bulk_close(b);
	}
	if (r->nclosed == r->streams) {
		r->stage = RS_UP_COUNT;
		send_phase(r, true, true);
	}
}

static void phase_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	up_stop(arg);
}

static void up_fill(struct run_bulk *b)
{
	struct probe_run *r = b->r;
	struct evbuffer *out = bufferevent_get_output(b->bev);

	while (!r->up_stopped && evbuffer_get_length(out) < BULK_QUEUE &&
	       r->up_sent < r->max_bytes) {
		uint64_t left = r->max_bytes - r->up_sent;
		size_t n = left < BULK_CHUNK ? (size_t)left : BULK_CHUNK;

		if (evbuffer_add_reference(out, bulk_zeros, n, NULL, NULL) < 0)
			break;
		r->up_sent += n;
	}
}

static void bulk_write_cb(struct bufferevent *bev, void *arg)
{
	struct run_bulk *b = arg;
	struct probe_run *r = b->r;

	if (r->stage != RS_UP)
		return;
	if (r->up_stopped) {
		if (!evbuffer_get_length(bufferevent_get_output(bev))) {
			bulk_close(b);
			if (r->nclosed == r->streams) {
				r->stage = RS_UP_COUNT;
				send_phase(r, true, true);
			}
		}
		return;
	}
	up_fill(b);
	if (r->up_sent >= r->max_bytes)
		up_stop(r);
}

static void bulk_read_cb(struct bufferevent *bev, void *arg)
{
	struct run_bulk *b = arg;
	struct probe_run *r = b->r;
	struct evbuffer *in = bufferevent_get_input(bev);
	size_t n = evbuffer_get_length(in);

	evbuffer_drain(in, n);
	if (r->stage == RS_UP) {
		if (n)
			run_fail(r, false,
				 "%s sent %zu bytes on up stream %u, which "
				 "only we send on",
				 r->where, n, b->stream);
		return;
	}
	rxm_add(&r->rx, n, mono_ns());
	if (r->rx.total > r->max_bytes)
		run_fail(r, false,
			 "%s sent more than the %llu bytes of the down phase",
			 r->where, (unsigned long long)r->max_bytes);
}

static void down_done(struct probe_run *r)
{
	uint64_t window_us;

	rxm_result(&r->rx, &r->o.down_bytes, &window_us);
	r->o.down_bps = rxm_rate_bps(r->o.down_bytes, window_us);
	r->o.down_total = r->rx.total;
	r->down_done = true;
	run_next(r);
}

static void bulk_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct run_bulk *b = arg;
	struct probe_run *r = b->r;
	bool up = r->stage == RS_UP;

	if (what & BEV_EVENT_CONNECTED) {
		b->connected = true;
		r->nconnected++;
		send_hello(r, bev, b->stream, up);
		if (!up)
			return;
		if (r->nconnected == 1)
			timer_start(r->phase_timer, r->duration_ms);
		if (r->up_stopped) {
			/* the budget went before this one connected: it
			 * closes once its hello is out */
			bufferevent_setwatermark(bev, EV_WRITE, 0, 0);
			return;
		}
		bufferevent_setwatermark(bev, EV_WRITE, BULK_CHUNK, 0);
		up_fill(b);
		if (r->up_sent >= r->max_bytes)
			up_stop(r);
		return;
	}
	if (!up && b->connected && (what & BEV_EVENT_EOF)) {
		/* the armed end sent all it had for this stream */
		bulk_close(b);
		if (r->nclosed == r->streams)
			down_done(r);
		return;
	}
	if (what & BEV_EVENT_EOF)
		run_fail(r, false,
			 "%s closed %s stream %u before the phase was over",
			 r->where, up ? "up" : "down", b->stream);
	else
		run_fail(r, false, "%s stream %u %s %s: %s", up ? "up" : "down",
			 b->stream, b->connected ? "to" : "cannot connect to",
			 r->where, strerror(bev_errno(bev)));
}

/* A PROBE_COUNT: the armed end's count of the up phase. */
static int up_counted(struct probe_run *r, const struct frame_hdr *h,
		      const uint8_t *body)
{
	const Meridian__ProbeCount *pc;
	struct mer_error err;
	ProtobufCMessage *m;

	if (!(m = frame_unpack_body(h, body, h->body_len, &err))) {
		run_fail(r, false, "PROBE_COUNT from %s does not decode: %s",
			 r->where, err.text);
		return -1;
	}
	pc = (const Meridian__ProbeCount *)m;
	/* a peer's count is checked before use: no more than was sent */
	if (!pc->up || pc->total_bytes > r->up_sent ||
	    pc->bytes > pc->total_bytes || (pc->bytes && !pc->window_us)) {
		run_fail(r, false,
			 "%s counted %llu of %llu bytes over %llu us in the "
			 "%s phase, of %llu sent up: not a count of what we "
			 "sent",
			 r->where, (unsigned long long)pc->bytes,
			 (unsigned long long)pc->total_bytes,
			 (unsigned long long)pc->window_us,
			 pc->up ? "up" : "down",
			 (unsigned long long)r->up_sent);
		protobuf_c_message_free_unpacked(m, NULL);
		return -1;
	}
	r->o.up_bytes = pc->bytes;
	r->o.up_total = pc->total_bytes;
	r->o.up_bps = rxm_rate_bps(pc->bytes, pc->window_us);
	r->up_done = true;
	protobuf_c_message_free_unpacked(m, NULL);
	return 0;
}

static void ctl_read_cb(struct bufferevent *bev, void *arg)
{
	struct probe_run *r = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	struct frame_hdr h;
	struct mer_error err;
	const uint8_t *body;
	char st[200];
	int rc;

	while ((rc = frame_next(in, CTL_BODY_MAX, &h, &body, &err)) > 0) {
		if (r->stage == RS_ECHO &&
		    h.type == MERIDIAN__MSG_TYPE__MSG_PROBE_ECHO) {
			Meridian__ProbeEcho *e;
			ProtobufCMessage *m;
			uint64_t now = mono_ns();

			if (!(m = frame_unpack_body(&h, body, h.body_len,
						    &err))) {
				run_fail(r, false,
					 "echo %u from %s does not decode: %s",
					 r->o.echoes + 1, r->where, err.text);
				return;
			}
			e = (Meridian__ProbeEcho *)m;
			if (e->seq != r->o.echoes + 1) {
				run_fail(r, false,
					 "%s sent back echo %u, expected echo "
					 "%u",
					 r->where, e->seq, r->o.echoes + 1);
				protobuf_c_message_free_unpacked(m, NULL);
				return;
			}
			protobuf_c_message_free_unpacked(m, NULL);
			evbuffer_drain(in, MER_FRAME_HDR_LEN + h.body_len);
			r->rtt_ns[r->o.echoes++] = now - r->echo_sent_ns;
			if (r->o.echoes < r->echoes) {
				send_echo(r);
				continue;
			}
			run_next(r);
			return; /* r may be gone */
		}
		if (r->stage == RS_UP_COUNT &&
		    h.type == MERIDIAN__MSG_TYPE__MSG_PROBE_COUNT) {
			if (up_counted(r, &h, body) < 0)
				return;
			evbuffer_drain(in, MER_FRAME_HDR_LEN + h.body_len);
			run_next(r);
			return;
		}
		run_stage_text(r, st, sizeof(st));
		run_fail(r, false, "%s sent %s during %s", r->where,
			 msg_type_name(h.type), st);
		return;
	}
	if (rc < 0)
		run_fail(r, false, "%s on the control connection: %s", r->where,
			 err.text);
}

#define HELLO_HINT " (a wrong token, or the probe not armed there?)"

static void ctl_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct probe_run *r = arg;
	char st[200];
	bool hint;
	int e;

	if (what & BEV_EVENT_CONNECTED) {
		send_hello(r, bev, 0, false);
		if (r->echoes) {
			r->stage = RS_ECHO;
			send_echo(r);
		} else {
			run_next(r);
		}
		return;
	}
	if (r->stage == RS_CONNECT) {
		/* this address failed: the next one, if any */
		e = bev_errno(bev);
		bufferevent_free(r->ctl);
		r->ctl = NULL;
		r->ai = r->ai->ai_next;
		if (r->ai) {
			if (ctl_dial(r) == 0)
				return;
			e = errno;
		}
		run_fail(r, true, "cannot connect to %s: %s", r->where,
			 strerror(e));
		return;
	}
	run_stage_text(r, st, sizeof(st));
	/* the armed end closes a refused hello at once, unread bytes and
	 * all: an EOF or a reset before the first answer */
	hint = (r->stage == RS_ECHO && r->o.echoes == 0) ||
	       (r->stage == RS_UP && r->nconnected == 0 && !r->echoes);
	if (what & BEV_EVENT_EOF)
		run_fail(r, false, "%s closed the control connection at %s%s",
			 r->where, st, hint ? HELLO_HINT : "");
	else
		run_fail(r, false, "control connection to %s at %s: %s%s",
			 r->where, st, strerror(bev_errno(bev)),
			 hint ? HELLO_HINT : "");
}

struct probe_run *probe_run_start(struct event_base *base,
				  const Meridian__ProbeRequest *req,
				  probe_done_fn done, void *arg,
				  struct mer_error *err)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC,
				 .ai_socktype = SOCK_STREAM,
				 .ai_flags = AI_NUMERICSERV};
	struct probe_run *r;
	char svc[8];
	int gai;

	if (probe_request_check(req, true, err) < 0)
		return NULL;
	r = xcalloc(1, sizeof(*r));
	r->base = base;
	r->done = done;
	r->arg = arg;
	r->id = req->probe_id;
	memcpy(r->token, req->token.data, PROBE_TOKEN_LEN);
	r->echoes = req->echoes;
	r->streams = req->up || req->down ? req->streams : 0;
	r->duration_ms = req->duration_ms;
	r->max_bytes = req->max_bytes;
	r->up = req->up;
	r->down = req->down;
	r->timeout_ms = req->timeout_ms;
	r->stage = RS_CONNECT;
	if (strchr(req->host, ':'))
		snprintf(r->where, sizeof(r->where), "[%s]:%u", req->host,
			 req->port);
	else
		snprintf(r->where, sizeof(r->where), "%s:%u", req->host,
			 req->port);
	r->deadline = evtimer_new(base, deadline_cb, r);
	r->phase_timer = evtimer_new(base, phase_timer_cb, r);
	r->kick = event_new(base, -1, 0, kick_cb, r);
	if (!r->deadline || !r->phase_timer || !r->kick) {
		run_free(r);
		errno = ENOMEM;
		mer_error_set(err, "probe %u: out of memory", req->probe_id);
		return NULL;
	}
	timer_start(r->deadline, r->timeout_ms);
	/* Blocking, for now: mctld sends addresses, which resolve at once;
	 * a name would want evdns here. */
	snprintf(svc, sizeof(svc), "%u", req->port);
	gai = getaddrinfo(req->host, svc, &hints, &r->ai_list);
	if (gai != 0) {
		r->ai_list = NULL;
		r->o.refused = true;
		snprintf(r->o.error, sizeof(r->o.error),
			 "cannot connect to %.100s: cannot resolve %.100s: %s",
			 r->where, req->host, gai_strerror(gai));
		event_active(r->kick, 0, 0);
		return r;
	}
	r->ai = r->ai_list;
	if (ctl_dial(r) < 0) {
		r->o.refused = true;
		snprintf(r->o.error, sizeof(r->o.error),
			 "cannot connect to %.200s: %s", r->where,
			 strerror(errno));
		event_active(r->kick, 0, 0);
	}
	return r;
}

void probe_run_cancel(struct probe_run *r)
{
	if (!r || r->in_done)
		return;
	run_free(r);
}

void probe_outcome_to_result(const struct probe_outcome *o, uint32_t probe_id,
			     Meridian__ProbeResult *res)
{
	double med = o->rtt_median_s * 1e6, spr = o->rtt_spread_s * 1e6;

	*res = (Meridian__ProbeResult)MERIDIAN__PROBE_RESULT__INIT;
	res->probe_id = probe_id;
	res->ok = o->ok;
	res->error = (char *)o->error;
	res->refused = o->refused;
	res->echoes = o->echoes;
	res->rtt_median_us = med >= UINT32_MAX ? UINT32_MAX : (uint32_t)med;
	res->rtt_spread_us = spr >= UINT32_MAX ? UINT32_MAX : (uint32_t)spr;
	res->up_bps = o->up_bps;
	res->down_bps = o->down_bps;
	res->up_bytes = o->up_bytes;
	res->down_bytes = o->down_bytes;
}
