/*
 * test_probe.c - both ends of a link probe on one loop over 127.0.0.1: a
 * whole probe and its bounds, the refusals (wrong token, unarmed,
 * expired), a closed port, a peer that accepts and says nothing,
 * strangers, and requests out of range.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "conn.h"
#include "cunit_main.h"
#include "frame.h"
#include "probe.h"
#include "util.h"

#define MIB (1024u * 1024u)

/* An armed end on 127.0.0.1:port. */
struct rig {
	struct event_base *base;
	int lfd;
	uint16_t port;
	struct probe_srv *srv;
	int logs;
};

static void rig_log(const char *text, void *arg)
{
	struct rig *g = arg;

	g->logs++;
	printf("\n    srv: %s", text);
}

static bool rig_open(struct rig *g, const struct probe_srv_limits *lim)
{
	struct mer_error err;

	memset(g, 0, sizeof(*g));
	g->base = event_base_new();
	CU_ASSERT_FATAL(g->base != NULL);
	g->lfd = tcp_listen("127.0.0.1", 0, &g->port, &err);
	CU_ASSERT_FATAL(g->lfd >= 0);
	/* blocking, as tcp_listen makes it: probe_srv_create sees to that */
	g->srv = probe_srv_create(g->base, g->lfd, lim, rig_log, g, &err);
	CU_ASSERT_FATAL(g->srv != NULL);
	return true;
}

static void rig_close(struct rig *g)
{
	probe_srv_destroy(g->srv);
	close(g->lfd);
	event_base_free(g->base);
}

static struct probe_srv_stats rig_stats(const struct rig *g)
{
	struct probe_srv_stats st;

	probe_srv_get_stats(g->srv, &st);
	return st;
}

/* What done saw. */
struct box {
	int calls;
	struct probe_outcome o;
};

static void on_done(const struct probe_outcome *o, void *arg)
{
	struct box *b = arg;

	b->calls++;
	b->o = *o;
}

static bool box_done(void *arg)
{
	return ((struct box *)arg)->calls > 0;
}

static void tick_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
}

/* Run the loop until cond holds or ms pass (a tick keeps every turn of
 * the loop short, so a hung probe fails the test instead of hanging it).
 * Returns cond. */
static bool loop_until(struct event_base *base, bool (*cond)(void *), void *arg,
		       unsigned ms)
{
	struct event *tick = event_new(base, -1, EV_PERSIST, tick_cb, NULL);
	struct timeval tv = {0, 10000};
	int64_t end = mer_mono_ms() + ms;

	event_add(tick, &tv);
	while (!cond(arg) && mer_mono_ms() < end)
		event_base_loop(base, EVLOOP_ONCE);
	event_free(tick);
	return cond(arg);
}

static bool never(void *arg)
{
	(void)arg;
	return false;
}

static void loop_for(struct event_base *base, unsigned ms)
{
	loop_until(base, never, NULL, ms);
}

static uint8_t token_a[PROBE_TOKEN_LEN] = "0123456789abcdef0123456789abcdef";
static uint8_t token_b[PROBE_TOKEN_LEN] = "0123456789abcdef0123456789abcdeF";

static Meridian__ProbeRequest mkreq(uint32_t id, uint8_t *token, uint16_t port)
{
	Meridian__ProbeRequest r = MERIDIAN__PROBE_REQUEST__INIT;

	r.probe_id = id;
	r.host = (char *)"127.0.0.1";
	r.port = port;
	r.token.data = token;
	r.token.len = PROBE_TOKEN_LEN;
	r.echoes = 10;
	r.streams = 2;
	r.duration_ms = 300;
	r.max_bytes = 8 * MIB;
	r.up = true;
	r.down = true;
	r.timeout_ms = 5000;
	return r;
}

/* Dial req and wait for done (at most its timeout and a second). */
static void run_probe(struct event_base *base,
		      const Meridian__ProbeRequest *req, struct box *b)
{
	struct mer_error err;
	struct probe_run *r;

	memset(b, 0, sizeof(*b));
	r = probe_run_start(base, req, on_done, b, &err);
	CU_ASSERT_FATAL(r != NULL);
	/* never from inside probe_run_start */
	CU_ASSERT_EQUAL(b->calls, 0);
	CU_ASSERT(loop_until(base, box_done, b, req->timeout_ms + 1000));
	if (!b->calls) {
		probe_run_cancel(r);
		return;
	}
	printf("\n    run %u: ok %d refused %d echoes %u rtt %.1f us (iqr "
	       "%.1f) up %llu bit/s (%llu of %llu bytes) down %llu bit/s "
	       "(%llu of %llu bytes)%s%s",
	       req->probe_id, b->o.ok, b->o.refused, b->o.echoes,
	       b->o.rtt_median_s * 1e6, b->o.rtt_spread_s * 1e6,
	       (unsigned long long)b->o.up_bps,
	       (unsigned long long)b->o.up_bytes,
	       (unsigned long long)b->o.up_total,
	       (unsigned long long)b->o.down_bps,
	       (unsigned long long)b->o.down_bytes,
	       (unsigned long long)b->o.down_total, b->o.ok ? "" : ": ",
	       b->o.error);
}

static bool srv_idle(void *arg)
{
	struct probe_srv_stats st = rig_stats(arg);

	return st.nconns == 0;
}

static bool srv_unarmed(void *arg)
{
	struct probe_srv_stats st = rig_stats(arg);

	return st.armed == 0 && st.nconns == 0;
}

/* 1. A whole probe: echoes, both phases, within max_bytes. */
static void test_probe_whole(void)
{
	Meridian__ProbeRequest req;
	Meridian__ProbeResult res;
	struct probe_srv_stats st;
	struct mer_error err;
	struct rig g;
	struct box b;

	rig_open(&g, NULL);
	req = mkreq(1, token_a, g.port);
	/* not a whole number of the senders' chunks */
	req.max_bytes = 8 * MIB - 4321;
	CU_ASSERT_EQUAL_FATAL(probe_srv_arm(g.srv, &req, &err), 0);
	CU_ASSERT_EQUAL(rig_stats(&g).armed, 1);
	run_probe(g.base, &req, &b);
	CU_ASSERT_EQUAL(b.calls, 1);
	CU_ASSERT(b.o.ok);
	CU_ASSERT(!b.o.refused);
	CU_ASSERT_STRING_EQUAL(b.o.error, "");
	CU_ASSERT_EQUAL(b.o.echoes, 10);
	CU_ASSERT(b.o.rtt_median_s > 0 && b.o.rtt_median_s < 1);
	CU_ASSERT(b.o.rtt_spread_s >= 0 && b.o.rtt_spread_s < 1);
	CU_ASSERT(b.o.up_bps > 0);
	CU_ASSERT(b.o.down_bps > 0);
	CU_ASSERT(b.o.up_bytes > 0 && b.o.up_bytes <= b.o.up_total);
	CU_ASSERT(b.o.down_bytes > 0 && b.o.down_bytes <= b.o.down_total);
	CU_ASSERT(b.o.up_total <= req.max_bytes);
	CU_ASSERT(b.o.down_total <= req.max_bytes);

	/* the dialer's close ends the arm: one run per arm */
	CU_ASSERT(loop_until(g.base, srv_unarmed, &g, 2000));
	st = rig_stats(&g);
	CU_ASSERT_EQUAL(st.echoes, 10);
	CU_ASSERT_EQUAL(st.probes_done, 1);
	CU_ASSERT_EQUAL(st.refused_hellos, 0);
	CU_ASSERT_EQUAL(st.protocol_errors, 0);
	CU_ASSERT(st.bytes_received > 0 && st.bytes_received <= req.max_bytes);
	CU_ASSERT_EQUAL(st.bytes_received, b.o.up_total);
	CU_ASSERT(st.bytes_sent > 0 && st.bytes_sent <= req.max_bytes);
	CU_ASSERT_EQUAL(st.bytes_sent, b.o.down_total);

	/* done came once */
	loop_for(g.base, 50);
	CU_ASSERT_EQUAL(b.calls, 1);

	probe_outcome_to_result(&b.o, req.probe_id, &res);
	CU_ASSERT_EQUAL(res.probe_id, 1);
	CU_ASSERT(res.ok);
	CU_ASSERT_EQUAL(res.echoes, 10);
	CU_ASSERT(res.rtt_median_us > 0 && res.rtt_median_us < 1000000);
	CU_ASSERT_EQUAL(res.up_bps, b.o.up_bps);
	CU_ASSERT_EQUAL(res.down_bytes, b.o.down_bytes);
	CU_ASSERT_PTR_EQUAL(res.error, b.o.error);
	rig_close(&g);
}

/* 1b. Time bounds a phase when max_bytes is far: the run ends, under
 * max_bytes; and latency alone (no streams) is a probe too. */
static void test_probe_time_bound(void)
{
	Meridian__ProbeRequest req;
	struct mer_error err;
	int64_t t0;
	struct rig g;
	struct box b;

	rig_open(&g, NULL);
	req = mkreq(2, token_a, g.port);
	req.echoes = 1;
	req.duration_ms = 150;
	req.max_bytes = PROBE_MAX_BYTES;
	CU_ASSERT_EQUAL_FATAL(probe_srv_arm(g.srv, &req, &err), 0);
	t0 = mer_mono_ms();
	run_probe(g.base, &req, &b);
	CU_ASSERT(b.o.ok);
	CU_ASSERT(b.o.up_bps > 0 && b.o.down_bps > 0);
	CU_ASSERT(b.o.up_total < req.max_bytes);
	CU_ASSERT(b.o.down_total < req.max_bytes);
	/* two phases of 150 ms: sanity only */
	CU_ASSERT(mer_mono_ms() - t0 >= 2 * 150);
	CU_ASSERT(mer_mono_ms() - t0 < 4000);

	req = mkreq(3, token_a, g.port);
	req.streams = 0;
	CU_ASSERT_EQUAL_FATAL(probe_srv_arm(g.srv, &req, &err), 0);
	run_probe(g.base, &req, &b);
	CU_ASSERT(b.o.ok);
	CU_ASSERT_EQUAL(b.o.echoes, 10);
	CU_ASSERT_EQUAL(b.o.up_bps, 0);
	CU_ASSERT_EQUAL(b.o.down_bps, 0);
	CU_ASSERT(loop_until(g.base, srv_unarmed, &g, 2000));
	rig_close(&g);
}

/* 2. A wrong token is refused, echoes nothing, and does not use up the
 * arm. */
static void test_probe_wrong_token(void)
{
	Meridian__ProbeRequest req, bad;
	struct probe_srv_stats st;
	struct mer_error err;
	struct rig g;
	struct box b;

	rig_open(&g, NULL);
	req = mkreq(4, token_a, g.port);
	CU_ASSERT_EQUAL_FATAL(probe_srv_arm(g.srv, &req, &err), 0);
	bad = req;
	bad.token.data = token_b;
	run_probe(g.base, &bad, &b);
	CU_ASSERT_EQUAL(b.calls, 1);
	CU_ASSERT(!b.o.ok);
	CU_ASSERT(!b.o.refused);
	CU_ASSERT(strstr(b.o.error, "127.0.0.1") != NULL);
	CU_ASSERT(strstr(b.o.error, "echo 1 of 10") != NULL);
	CU_ASSERT(strstr(b.o.error, "wrong token") != NULL);
	CU_ASSERT_EQUAL(b.o.echoes, 0);
	st = rig_stats(&g);
	CU_ASSERT_EQUAL(st.refused_hellos, 1);
	CU_ASSERT_EQUAL(st.echoes, 0);
	CU_ASSERT_EQUAL(st.bytes_received, 0);
	CU_ASSERT_EQUAL(st.bytes_sent, 0);
	CU_ASSERT_EQUAL(st.armed, 1);
	CU_ASSERT(g.logs >= 1);

	req.streams = 0;
	run_probe(g.base, &req, &b);
	CU_ASSERT(b.o.ok);
	CU_ASSERT_EQUAL(b.o.echoes, 10);
	rig_close(&g);
}

/* 3. A probe never armed, and one whose arm expired, are refused. */
static void test_probe_unarmed_expired(void)
{
	Meridian__ProbeRequest req;
	struct probe_srv_stats st;
	struct mer_error err;
	struct rig g;
	struct box b;

	rig_open(&g, NULL);
	req = mkreq(5, token_a, g.port);
	run_probe(g.base, &req, &b);
	CU_ASSERT_EQUAL(b.calls, 1);
	CU_ASSERT(!b.o.ok);
	CU_ASSERT(!b.o.refused);
	CU_ASSERT_EQUAL(rig_stats(&g).refused_hellos, 1);

	req = mkreq(6, token_a, g.port);
	req.timeout_ms = 100;
	CU_ASSERT_EQUAL_FATAL(probe_srv_arm(g.srv, &req, &err), 0);
	CU_ASSERT(loop_until(g.base, srv_unarmed, &g, 2000));
	st = rig_stats(&g);
	CU_ASSERT_EQUAL(st.probes_expired, 1);
	req.timeout_ms = 5000;
	run_probe(g.base, &req, &b);
	CU_ASSERT(!b.o.ok);
	CU_ASSERT(!b.o.refused);
	st = rig_stats(&g);
	CU_ASSERT_EQUAL(st.refused_hellos, 2);
	CU_ASSERT_EQUAL(st.echoes, 0);
	rig_close(&g);
}

/* 4. Nobody listens: refused, naming host:port. */
static void test_probe_closed_port(void)
{
	Meridian__ProbeRequest req;
	struct mer_error err;
	struct event_base *base = event_base_new();
	uint16_t port;
	char where[64];
	struct box b;
	int fd;

	fd = tcp_listen("127.0.0.1", 0, &port, &err);
	CU_ASSERT_FATAL(fd >= 0);
	close(fd);
	req = mkreq(7, token_a, port);
	run_probe(base, &req, &b);
	CU_ASSERT_EQUAL(b.calls, 1);
	CU_ASSERT(!b.o.ok);
	CU_ASSERT(b.o.refused);
	snprintf(where, sizeof(where), "127.0.0.1:%u", port);
	CU_ASSERT(strstr(b.o.error, where) != NULL);
	CU_ASSERT(strstr(b.o.error, "refused") != NULL);
	event_base_free(base);
}

/* A listener that accepts and never reads nor answers. */
struct mute {
	int lfd;
	int fds[8];
	int n;
};

static void mute_accept_cb(evutil_socket_t lfd, short what, void *arg)
{
	struct mute *m = arg;
	char name[CONN_PEER_NAME_MAX];
	int fd;

	(void)what;
	while ((fd = tcp_accept(lfd, name)) >= 0) {
		if (m->n < 8)
			m->fds[m->n++] = fd;
		else
			close(fd);
	}
}

/* 5. A peer that accepts and says nothing: the run ends by its timeout,
 * naming the stage; a run cancelled never calls done. */
static void test_probe_mute_peer(void)
{
	Meridian__ProbeRequest req;
	struct event_base *base = event_base_new();
	struct mer_error err;
	struct event *ev;
	struct probe_run *r;
	struct mute m = {0};
	uint16_t port;
	int64_t t0;
	struct box b;

	m.lfd = tcp_listen("127.0.0.1", 0, &port, &err);
	CU_ASSERT_FATAL(m.lfd >= 0);
	set_nonblock(m.lfd);
	ev = event_new(base, m.lfd, EV_READ | EV_PERSIST, mute_accept_cb, &m);
	event_add(ev, NULL);

	req = mkreq(8, token_a, port);
	req.timeout_ms = 400;
	t0 = mer_mono_ms();
	run_probe(base, &req, &b);
	CU_ASSERT_EQUAL(b.calls, 1);
	CU_ASSERT(!b.o.ok);
	CU_ASSERT(!b.o.refused);
	CU_ASSERT(strstr(b.o.error, "no answer to echo 1 of 10") != NULL);
	CU_ASSERT(strstr(b.o.error, "within 400 ms") != NULL);
	CU_ASSERT(mer_mono_ms() - t0 >= 350);
	CU_ASSERT(mer_mono_ms() - t0 < 2000);
	CU_ASSERT(m.n >= 1);

	/* no echoes: the up phase is what does not end */
	req = mkreq(9, token_a, port);
	req.echoes = 0;
	req.streams = 1;
	req.down = false;
	req.duration_ms = 50;
	req.max_bytes = 64 * MIB;
	req.timeout_ms = 400;
	run_probe(base, &req, &b);
	CU_ASSERT_EQUAL(b.calls, 1);
	CU_ASSERT(!b.o.ok);
	CU_ASSERT(strstr(b.o.error, "up phase") != NULL);
	CU_ASSERT(strstr(b.o.error, "within 400 ms") != NULL);

	memset(&b, 0, sizeof(b));
	r = probe_run_start(base, &req, on_done, &b, &err);
	CU_ASSERT_FATAL(r != NULL);
	loop_for(base, 50);
	probe_run_cancel(r);
	loop_for(base, 500);
	CU_ASSERT_EQUAL(b.calls, 0);
	probe_run_cancel(NULL);
	probe_srv_destroy(NULL);

	for (int i = 0; i < m.n; i++)
		close(m.fds[i]);
	event_free(ev);
	close(m.lfd);
	event_base_free(base);
}

/* Whether the other end closed fd (EOF or reset), without waiting. */
static bool closed_by_peer(int fd)
{
	char buf[256];
	ssize_t n;

	for (;;) {
		n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n > 0)
			continue; /* the srv sends strangers nothing, though */
		return n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK &&
				  errno != EINTR);
	}
}

/* A raw connection that sends one hello (and, with echo, an echo). */
static int raw_hello(uint16_t port, uint32_t id, uint8_t *token,
		     uint32_t stream, bool up)
{
	Meridian__ProbeHello hi = MERIDIAN__PROBE_HELLO__INIT;
	struct mer_error err;
	uint8_t *buf;
	size_t len;
	int fd = tcp_connect("127.0.0.1", port, 1000, &err);

	CU_ASSERT_FATAL(fd >= 0);
	hi.probe_id = id;
	hi.token.data = token;
	hi.token.len = PROBE_TOKEN_LEN;
	hi.stream = stream;
	hi.up = up;
	buf = frame_build(MERIDIAN__MSG_TYPE__MSG_PROBE_HELLO, 0, 0, NULL, 0,
			  &hi.base, &len);
	CU_ASSERT(write(fd, buf, len) == (ssize_t)len);
	free(buf);
	return fd;
}

static bool hellos_settled(void *arg)
{
	struct probe_srv_stats st = rig_stats(arg);

	return st.refused_hellos >= 4 && st.nunauth == 0;
}

/* 2b. A token holder's hellos beyond its request are refused one by one;
 * an echo beyond its request ends the probe. */
static void test_probe_bad_streams(void)
{
	Meridian__ProbeEcho e = MERIDIAN__PROBE_ECHO__INIT;
	Meridian__ProbeRequest req;
	struct probe_srv_stats st;
	struct mer_error err;
	int fds[6], ctl = -1;
	uint8_t *buf;
	size_t len;
	struct rig g;

	rig_open(&g, NULL);
	req = mkreq(12, token_a, g.port);
	req.echoes = 1;
	req.down = false;
	CU_ASSERT_EQUAL_FATAL(probe_srv_arm(g.srv, &req, &err), 0);
	fds[0] = raw_hello(g.port, 12, token_a, 0, false);
	fds[1] = raw_hello(g.port, 12, token_a, 0, false); /* twice */
	fds[2] = raw_hello(g.port, 12, token_a, 3, true);  /* of 2 */
	fds[3] = raw_hello(g.port, 12, token_a, 1, false); /* down: no */
	fds[4] = raw_hello(g.port, 12, token_a, 1, true);
	fds[5] = raw_hello(g.port, 12, token_a, 1, true); /* twice */
	CU_ASSERT(loop_until(g.base, hellos_settled, &g, 2000));
	loop_for(g.base, 20);
	st = rig_stats(&g);
	CU_ASSERT_EQUAL(st.refused_hellos, 4);
	CU_ASSERT_EQUAL(st.nconns, 2);
	CU_ASSERT_EQUAL(st.armed, 1);
	/* which of the two control connections came first is the loop's
	 * choice: the other is closed */
	CU_ASSERT(closed_by_peer(fds[0]) != closed_by_peer(fds[1]));
	ctl = closed_by_peer(fds[0]) ? fds[1] : fds[0];
	CU_ASSERT(closed_by_peer(fds[2]));
	CU_ASSERT(closed_by_peer(fds[3]));
	CU_ASSERT(closed_by_peer(fds[4]) != closed_by_peer(fds[5]));

	/* one echo asked for, two sent */
	e.seq = 1;
	buf = frame_build(MERIDIAN__MSG_TYPE__MSG_PROBE_ECHO, 0, 0, NULL, 0,
			  &e.base, &len);
	CU_ASSERT(write(ctl, buf, len) == (ssize_t)len);
	CU_ASSERT(write(ctl, buf, len) == (ssize_t)len);
	free(buf);
	CU_ASSERT(loop_until(g.base, srv_unarmed, &g, 2000));
	st = rig_stats(&g);
	CU_ASSERT_EQUAL(st.echoes, 1);
	CU_ASSERT_EQUAL(st.protocol_errors, 1);
	CU_ASSERT_EQUAL(st.nconns, 0);
	for (int i = 0; i < 6; i++)
		close(fds[i]);
	rig_close(&g);
}

struct strangers {
	struct rig *g;
	unsigned n;
};

static bool strangers_gone(void *arg)
{
	struct strangers *s = arg;
	struct probe_srv_stats st = rig_stats(s->g);

	return st.accepted + st.refused_conns >= s->n && st.nconns == 0;
}

/* 6. Strangers: garbage, nothing, a hello header with a huge body,
 * another message, half a header.  Each is closed, none is kept, and an
 * armed probe still runs. */
static void test_probe_strangers(void)
{
	struct probe_srv_limits lim = {.hello_timeout_ms = 300};
	Meridian__ProbeRequest req;
	struct probe_srv_stats st;
	struct mer_error err;
	struct strangers s;
	int fds[50];
	struct rig g;
	struct box b;

	rig_open(&g, &lim);
	for (int i = 0; i < 50; i++) {
		struct frame_hdr h = {MER_FRAME_MAGIC, MER_PROTO_VERSION,
				      MERIDIAN__MSG_TYPE__MSG_PROBE_HELLO};
		uint8_t hb[MER_FRAME_HDR_LEN];
		const char *junk = "GET / HTTP/1.0\r\n\r\n";

		fds[i] = tcp_connect("127.0.0.1", g.port, 1000, &err);
		CU_ASSERT_FATAL(fds[i] >= 0);
		switch (i % 5) {
		case 0: /* nothing */
			break;
		case 1:
			CU_ASSERT(write(fds[i], junk, strlen(junk)) > 0);
			break;
		case 2: /* a hello of 1 MiB, never sent */
			h.body_len = MIB;
			frame_hdr_encode(&h, hb);
			CU_ASSERT(write(fds[i], hb, sizeof(hb)) > 0);
			break;
		case 3: /* a valid frame, not a hello */
			h.type = MERIDIAN__MSG_TYPE__MSG_PING;
			frame_hdr_encode(&h, hb);
			CU_ASSERT(write(fds[i], hb, sizeof(hb)) > 0);
			break;
		case 4: /* half a header, then silence */
			frame_hdr_encode(&h, hb);
			CU_ASSERT(write(fds[i], hb, 10) > 0);
			break;
		}
	}
	s.g = &g;
	s.n = 50;
	CU_ASSERT(loop_until(g.base, strangers_gone, &s, 5000));
	st = rig_stats(&g);
	printf("\n    strangers: %lu accepted, %lu refused, %lu evicted, %lu "
	       "bad frames, %lu hello timeouts, %d log lines",
	       st.accepted, st.refused_conns, st.evicted, st.bad_frames,
	       st.hello_timeouts, g.logs);
	CU_ASSERT_EQUAL(st.nconns, 0);
	CU_ASSERT_EQUAL(st.nunauth, 0);
	CU_ASSERT(st.bad_frames > 0);
	CU_ASSERT(st.hello_timeouts > 0);
	/* 40 from one address at most: the oldest silent ones made room */
	CU_ASSERT(st.evicted + st.refused_conns > 0);
	CU_ASSERT_EQUAL(st.accepted,
			st.bad_frames + st.hello_timeouts + st.evicted);
	CU_ASSERT_EQUAL(st.echoes, 0);
	/* one line per reason at most, within the interval */
	CU_ASSERT(g.logs <= 8);
	for (int i = 0; i < 50; i++) {
		CU_ASSERT(closed_by_peer(fds[i]));
		close(fds[i]);
	}

	req = mkreq(10, token_a, g.port);
	CU_ASSERT_EQUAL_FATAL(probe_srv_arm(g.srv, &req, &err), 0);
	run_probe(g.base, &req, &b);
	CU_ASSERT(b.o.ok);
	CU_ASSERT_EQUAL(b.o.echoes, 10);
	CU_ASSERT(b.o.up_bps > 0 && b.o.down_bps > 0);
	CU_ASSERT(loop_until(g.base, srv_idle, &g, 2000));
	rig_close(&g);
}

/* Both ends refuse req, naming field. */
static void refused_both(struct rig *g, const Meridian__ProbeRequest *req,
			 const char *field)
{
	struct mer_error err;
	struct box b = {0};

	memset(&err, 0, sizeof(err));
	CU_ASSERT_EQUAL(probe_srv_arm(g->srv, req, &err), -1);
	CU_ASSERT(strstr(err.text, field) != NULL);
	printf("\n    arm: %s", err.text);
	memset(&err, 0, sizeof(err));
	CU_ASSERT_PTR_NULL(probe_run_start(g->base, req, on_done, &b, &err));
	CU_ASSERT(strstr(err.text, field) != NULL);
	CU_ASSERT_EQUAL(b.calls, 0);
}

/* 7. Requests out of range are refused, the field named. */
static void test_probe_out_of_range(void)
{
	Meridian__ProbeRequest req;
	struct mer_error err;
	struct rig g;

	rig_open(&g, NULL);
	req = mkreq(11, token_a, g.port);
	req.streams = 1000;
	refused_both(&g, &req, "streams 1000, expected 0 to 16");
	req = mkreq(11, token_a, g.port);
	req.echoes = 0;
	req.streams = 0;
	refused_both(&g, &req, "echoes 0");
	req = mkreq(11, token_a, g.port);
	req.echoes = 101;
	refused_both(&g, &req, "echoes 101");
	req = mkreq(11, token_a, g.port);
	req.token.len = 31;
	refused_both(&g, &req, "token of 31 bytes, expected 32");
	req = mkreq(11, token_a, g.port);
	req.duration_ms = 0;
	refused_both(&g, &req, "duration_ms 0");
	req = mkreq(11, token_a, g.port);
	req.max_bytes = PROBE_MAX_BYTES + 1;
	refused_both(&g, &req, "max_bytes");
	req = mkreq(11, token_a, g.port);
	req.timeout_ms = 0;
	refused_both(&g, &req, "timeout_ms 0");
	CU_ASSERT_EQUAL(rig_stats(&g).armed, 0);

	/* only the dialer needs where to dial */
	req = mkreq(11, token_a, 0);
	CU_ASSERT_PTR_NULL(probe_run_start(g.base, &req, on_done, NULL, &err));
	CU_ASSERT(strstr(err.text, "port 0") != NULL);
	CU_ASSERT_EQUAL(probe_srv_arm(g.srv, &req, &err), 0);
	rig_close(&g);
}

static CU_TestInfo tests[] = {
	{"a whole probe within its bounds", test_probe_whole},
	{"time bounds a phase; latency alone", test_probe_time_bound},
	{"a wrong token", test_probe_wrong_token},
	{"a token holder's streams beyond its request", test_probe_bad_streams},
	{"unarmed and expired probes", test_probe_unarmed_expired},
	{"nobody listening", test_probe_closed_port},
	{"a peer that accepts and says nothing", test_probe_mute_peer},
	{"strangers", test_probe_strangers},
	{"requests out of range", test_probe_out_of_range},
	CU_TEST_INFO_NULL,
};

CUNIT_MAIN("probe", tests)
