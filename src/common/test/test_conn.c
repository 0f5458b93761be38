/*
 * test_conn.c - what a peer may make a framed connection hold: the header
 * verdict (a refused body is discarded unbuffered, a waiting one is not
 * read), read-ahead, frame and authentication deadlines, and a guarded
 * listener's caps on strangers and its back-off when out of descriptors.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/event.h>

#include "conn.h"
#include "cunit_main.h"
#include "frame.h"
#include "util.h"

struct cc {
	struct event_base *base;
	struct conn *c;
	enum conn_verdict verdict;
	int headers, frames, closed;
	size_t max_input; /* the most input seen held at a header call */
	uint32_t last_body;
	char why[200];
};

static enum conn_verdict on_header(struct conn *c, const struct frame_hdr *h,
				   const uint8_t *cred, void *arg)
{
	struct cc *t = arg;

	(void)cred;
	t->headers++;
	if (conn_pending_input(c) > t->max_input)
		t->max_input = conn_pending_input(c);
	if (t->verdict == CONN_REFUSE)
		conn_send_error(c, h->type, h->req_id, EACCES, "refused");
	if (t->verdict == CONN_READ)
		conn_set_authenticated(c);
	return t->verdict;
}

static void on_frame(struct conn *c, const struct frame_hdr *h,
		     const uint8_t *cred, const uint8_t *body, void *arg)
{
	struct cc *t = arg;

	(void)c;
	(void)cred;
	(void)body;
	t->frames++;
	t->last_body = h->body_len;
}

static void on_close(struct conn *c, const char *why, void *arg)
{
	struct cc *t = arg;

	(void)c;
	snprintf(t->why, sizeof(t->why), "%s", why);
	t->closed = 1;
	event_base_loopbreak(t->base);
}

/* A frame of body_len bytes (a Ping request's type, an opaque body). */
static uint8_t *big_frame(size_t body_len, size_t *len)
{
	struct frame_hdr h = {MER_FRAME_MAGIC,
			      MER_PROTO_VERSION,
			      MERIDIAN__MSG_TYPE__MSG_PING,
			      0,
			      1,
			      4,
			      (uint32_t)body_len};
	uint8_t *f = xcalloc(1, MER_FRAME_HDR_LEN + 4 + body_len);

	frame_hdr_encode(&h, f);
	memcpy(f + MER_FRAME_HDR_LEN, "cred", 4);
	*len = MER_FRAME_HDR_LEN + 4 + body_len;
	return f;
}

static void run_for(struct event_base *base, int ms)
{
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};

	event_base_loopexit(base, &tv);
	event_base_dispatch(base);
}

static void setup(struct cc *t, int sv[2], const struct conn_limits *lim)
{
	memset(t, 0, sizeof(*t));
	CU_ASSERT_EQUAL_FATAL(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	t->base = event_base_new();
	t->c = conn_create(t->base, sv[0], "test peer", on_frame, on_close, t);
	conn_set_limits(t->c, lim);
	conn_set_header_cb(t->c, on_header);
	set_nonblock(sv[1]);
}

static void teardown(struct cc *t, int sv[2])
{
	conn_destroy(t->c);
	close(sv[1]);
	event_base_free(t->base);
}

/* Write what the socket takes of buf[*off, len), return how far it got. */
static void pump(int fd, const uint8_t *buf, size_t len, size_t *off)
{
	while (*off < len) {
		ssize_t n = write(fd, buf + *off, len - *off);

		if (n <= 0)
			break;
		*off += (size_t)n;
	}
}

/* A refused frame's body is read and thrown away as it comes, up to
 * CONN_SKIP_MAX of it: the connection never holds more than its
 * read-ahead, the frame is never delivered, the error reply goes out and
 * then the connection closes, at the latest once 1 MiB was discarded. */
static void test_refused_body_discarded(void)
{
	struct conn_limits lim = {.read_ahead = 16384};
	size_t len, off = 0;
	uint8_t *f = big_frame(4u << 20, &len), reply[256];
	struct cc t;
	int sv[2];

	setup(&t, sv, &lim);
	t.verdict = CONN_REFUSE;
	for (int i = 0; i < 2000 && !t.closed; i++) {
		pump(sv[1], f, len, &off);
		if (conn_pending_input(t.c) > t.max_input)
			t.max_input = conn_pending_input(t.c);
		event_base_loop(t.base, EVLOOP_NONBLOCK);
		if (off == len)
			run_for(t.base, 20);
	}
	CU_ASSERT(off < len); /* closed before the 4 MiB were all read */
	CU_ASSERT(off >= CONN_SKIP_MAX);
	CU_ASSERT(t.closed);
	CU_ASSERT_EQUAL(t.headers, 1);
	CU_ASSERT_EQUAL(t.frames, 0);
	CU_ASSERT(t.max_input <= 16384);
	CU_ASSERT_STRING_EQUAL(t.why, "closed after reply");
	/* the peer got its error reply */
	CU_ASSERT(read(sv[1], reply, sizeof(reply)) > MER_FRAME_HDR_LEN);
	teardown(&t, sv);
	free(f);
}

/* A waiting frame is not read past the read-ahead; conn_resume asks the
 * header callback again, and the frame is then read and delivered. */
static void test_wait_then_resume(void)
{
	struct conn_limits lim = {.read_ahead = 8192};
	size_t len, off = 0;
	uint8_t *f = big_frame(1u << 20, &len);
	struct cc t;
	int sv[2];

	setup(&t, sv, &lim);
	t.verdict = CONN_WAIT;
	for (int i = 0; i < 50; i++) {
		pump(sv[1], f, len, &off);
		event_base_loop(t.base, EVLOOP_NONBLOCK);
	}
	CU_ASSERT_EQUAL(t.headers, 1);
	CU_ASSERT_EQUAL(t.frames, 0);
	CU_ASSERT(conn_pending_input(t.c) <= 8192);
	CU_ASSERT(off < len); /* the rest stays in the peer's socket */
	t.verdict = CONN_READ;
	conn_resume(t.c);
	for (int i = 0; i < 2000 && t.frames == 0; i++) {
		pump(sv[1], f, len, &off);
		event_base_loop(t.base, EVLOOP_NONBLOCK);
	}
	CU_ASSERT_EQUAL(t.headers, 2);
	CU_ASSERT_EQUAL(t.frames, 1);
	CU_ASSERT_EQUAL(t.last_body, 1u << 20);
	CU_ASSERT_FALSE(t.closed);
	teardown(&t, sv);
	free(f);
}

/* Half a frame, then silence: closed at the frame deadline. */
static void test_frame_deadline(void)
{
	struct conn_limits lim = {.read_ahead = 8192, .frame_timeout_ms = 200};
	size_t len;
	uint8_t *f = big_frame(100, &len);
	struct cc t;
	int sv[2];

	setup(&t, sv, &lim);
	t.verdict = CONN_READ;
	CU_ASSERT_EQUAL(write(sv[1], f, len / 2), (ssize_t)(len / 2));
	run_for(t.base, 2000);
	CU_ASSERT(t.closed);
	CU_ASSERT_PTR_NOT_NULL(strstr(t.why, "frame not completed within 1 s"));
	CU_ASSERT_EQUAL(t.frames, 0);
	teardown(&t, sv);
	free(f);
}

/* Whole frames keep a connection alive however long it lives; silence
 * before any credential does not. */
static void test_auth_deadline(void)
{
	struct conn_limits lim = {.read_ahead = 8192,
				  .frame_timeout_ms = 300,
				  .auth_timeout_ms = 300};
	size_t len;
	uint8_t *f = big_frame(10, &len);
	struct cc t;
	int sv[2];

	setup(&t, sv, &lim);
	t.verdict = CONN_READ; /* authenticates the connection */
	for (int i = 0; i < 5; i++) {
		CU_ASSERT_EQUAL(write(sv[1], f, len), (ssize_t)len);
		run_for(t.base, 150);
	}
	CU_ASSERT_FALSE(t.closed);
	CU_ASSERT_EQUAL(t.frames, 5);
	teardown(&t, sv);

	setup(&t, sv, &lim);
	run_for(t.base, 2000);
	CU_ASSERT(t.closed);
	CU_ASSERT_PTR_NOT_NULL(strstr(t.why, "not authenticated within 1 s"));
	teardown(&t, sv);
	free(f);
}

/* A peer that never reads its replies: reading stops above max_output. */
static void test_output_backpressure(void)
{
	struct conn_limits lim = {.read_ahead = 8192, .max_output = 65536};
	uint8_t junk[100000] = {0};
	size_t len;
	uint8_t *f = big_frame(10, &len);
	struct cc t;
	int sv[2];

	setup(&t, sv, &lim);
	t.verdict = CONN_READ;
	CU_ASSERT_EQUAL(conn_send(t.c, junk, sizeof(junk)), 0);
	CU_ASSERT_EQUAL(write(sv[1], f, len), (ssize_t)len);
	run_for(t.base, 100);
	/* sv[1] reads nothing: the socket fills, the request waits */
	if (conn_pending_output(t.c) > 65536) {
		CU_ASSERT_EQUAL(t.frames, 0);
	}
	while (read(sv[1], junk, sizeof(junk)) > 0)
		;
	run_for(t.base, 100);
	while (read(sv[1], junk, sizeof(junk)) > 0)
		;
	run_for(t.base, 100);
	CU_ASSERT_EQUAL(t.frames, 1);
	teardown(&t, sv);
	free(f);
}

/* --- a guarded listener --------------------------------------------------- */

struct gt {
	struct event_base *base;
	struct cc conns[64];
	int nconns;
	int logs;
	char last_log[300];
};

static void g_on_close(struct conn *c, const char *why, void *arg)
{
	struct cc *t = arg;

	snprintf(t->why, sizeof(t->why), "%s", why);
	t->closed = 1;
	conn_destroy(c);
	t->c = NULL;
}

static void g_accept(struct conn_guard *g, int fd, const char *name, void *arg)
{
	struct gt *gt = arg;
	struct cc *t;

	if (gt->nconns == 64) {
		close(fd);
		return;
	}
	t = &gt->conns[gt->nconns++];
	memset(t, 0, sizeof(*t));
	t->base = gt->base;
	t->verdict = CONN_READ;
	t->c = conn_guard_conn_create(g, fd, name, on_frame, g_on_close, t);
	conn_set_header_cb(t->c, on_header);
}

static void g_log(const char *text, void *arg)
{
	struct gt *gt = arg;

	gt->logs++;
	snprintf(gt->last_log, sizeof(gt->last_log), "%s", text);
}

static unsigned guard_n(const struct conn_guard *g, int unauth)
{
	struct conn_guard_stats st;

	conn_guard_get_stats(g, &st);
	return unauth ? st.nunauth : st.nconns;
}

static int dial(uint16_t port)
{
	struct mer_error err;

	return tcp_connect("127.0.0.1", port, 1000, &err);
}

/* Strangers over the per-address cap: the oldest go, newcomers stay; an
 * authenticated connection is no longer counted. */
static void test_guard_caps(void)
{
	struct conn_guard_limits lim = {.max_unauth_per_addr = 3,
					.max_conns = 6,
					.conn = {.read_ahead = 8192}};
	struct mer_error err;
	struct conn_guard *g;
	struct gt gt = {0};
	uint16_t port;
	int lfd, fds[8], i, live = 0;
	size_t len;
	uint8_t *f = big_frame(10, &len);

	gt.base = event_base_new();
	lfd = tcp_listen("127.0.0.1", 0, &port, &err);
	CU_ASSERT_FATAL(lfd >= 0);
	set_nonblock(lfd);
	g = conn_guard_create(gt.base, lfd, &lim, g_accept, g_log, &gt);
	CU_ASSERT_PTR_NOT_NULL_FATAL(g);
	for (i = 0; i < 5; i++) {
		fds[i] = dial(port);
		run_for(gt.base, 30);
	}
	CU_ASSERT_EQUAL(gt.nconns, 5);
	CU_ASSERT_EQUAL(guard_n(g, 1), 3);
	CU_ASSERT(gt.conns[0].closed && gt.conns[1].closed);
	CU_ASSERT_PTR_NOT_NULL(strstr(gt.conns[0].why, "from one address"));
	CU_ASSERT_FALSE(gt.conns[2].closed || gt.conns[3].closed ||
			gt.conns[4].closed);
	CU_ASSERT_PTR_NOT_NULL(strstr(gt.last_log, "closing the oldest"));
	CU_ASSERT_EQUAL(gt.logs, 1); /* one line for both, at most */
	{
		struct conn_guard_stats st;

		conn_guard_get_stats(g, &st);
		CU_ASSERT_EQUAL(st.evicted, 2);
	}

	/* the three left authenticate: new strangers fit again */
	for (i = 2; i < 5; i++)
		CU_ASSERT_EQUAL(write(fds[i], f, len), (ssize_t)len);
	run_for(gt.base, 50);
	CU_ASSERT_EQUAL(guard_n(g, 1), 0);
	CU_ASSERT_EQUAL(guard_n(g, 0), 3);
	for (i = 5; i < 8; i++) {
		fds[i] = dial(port);
		run_for(gt.base, 30);
	}
	CU_ASSERT_EQUAL(guard_n(g, 0), 6);
	for (i = 2; i < 8; i++)
		live += !gt.conns[i].closed;
	CU_ASSERT_EQUAL(live, 6);
	/* all connections: the seventh is refused outright */
	{
		int fd = dial(port), n;
		char b;

		run_for(gt.base, 50);
		CU_ASSERT_EQUAL(gt.nconns, 8);
		n = (int)read(fd, &b, 1);
		CU_ASSERT_EQUAL(n, 0); /* closed by the guard */
		close(fd);
		{
			struct conn_guard_stats st;

			conn_guard_get_stats(g, &st);
			CU_ASSERT_EQUAL(st.refused, 1);
		}
	}
	for (i = 0; i < 8; i++)
		close(fds[i]);
	run_for(gt.base, 50);
	conn_guard_destroy(g);
	for (i = 0; i < gt.nconns; i++)
		conn_destroy(gt.conns[i].c);
	close(lfd);
	event_base_free(gt.base);
	free(f);
}

/* A peer whose bytes wait unread is never closed for a newcomer: accepted
 * in the same batch as a flood of silent connections from its address,
 * it is read and authenticated, and the flood's oldest go instead; when
 * every stranger over the cap still has unread bytes, the newcomer is
 * refused. */
static void test_guard_unread_kept(void)
{
	struct conn_guard_limits lim = {.max_unauth_per_addr = 3,
					.conn = {.read_ahead = 8192}};
	struct conn_guard_stats st;
	struct mer_error err;
	struct conn_guard *g;
	struct gt gt = {0};
	uint16_t port;
	int lfd, fds[6], i;
	size_t len;
	uint8_t *f = big_frame(10, &len);

	gt.base = event_base_new();
	lfd = tcp_listen("127.0.0.1", 0, &port, &err);
	CU_ASSERT_FATAL(lfd >= 0);
	set_nonblock(lfd);
	g = conn_guard_create(gt.base, lfd, &lim, g_accept, g_log, &gt);
	/* the real peer first, its frame sent at once; then the flood,
	 * all before the loop runs */
	fds[0] = dial(port);
	CU_ASSERT_EQUAL(write(fds[0], f, len), (ssize_t)len);
	for (i = 1; i < 6; i++)
		fds[i] = dial(port);
	usleep(50000);
	run_for(gt.base, 100);
	CU_ASSERT_EQUAL(gt.nconns, 6);
	CU_ASSERT_FALSE(gt.conns[0].closed);
	CU_ASSERT_EQUAL(gt.conns[0].frames, 1);
	CU_ASSERT(gt.conns[1].closed && gt.conns[2].closed &&
		  gt.conns[3].closed);
	conn_guard_get_stats(g, &st);
	CU_ASSERT_EQUAL(st.evicted, 3);
	CU_ASSERT_EQUAL(st.nunauth, 2);
	for (i = 0; i < 6; i++)
		close(fds[i]);
	run_for(gt.base, 50);

	/* three peers whose frames are all still unread: the third waits
	 * its turn elsewhere, the first two are served */
	lim.max_unauth_per_addr = 2;
	conn_guard_destroy(g);
	for (i = 0; i < gt.nconns; i++)
		conn_destroy(gt.conns[i].c);
	event_base_free(gt.base);
	memset(&gt, 0, sizeof(gt));
	gt.base = event_base_new();
	g = conn_guard_create(gt.base, lfd, &lim, g_accept, g_log, &gt);
	for (i = 0; i < 3; i++) {
		fds[i] = dial(port);
		CU_ASSERT_EQUAL(write(fds[i], f, len), (ssize_t)len);
	}
	usleep(50000);
	run_for(gt.base, 100);
	CU_ASSERT_EQUAL(gt.nconns, 2);
	CU_ASSERT_EQUAL(gt.conns[0].frames + gt.conns[1].frames, 2);
	conn_guard_get_stats(g, &st);
	CU_ASSERT_EQUAL(st.refused, 1);
	CU_ASSERT_EQUAL(st.evicted, 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(gt.last_log, "refusing newcomers"));
	for (i = 0; i < 3; i++)
		close(fds[i]);
	run_for(gt.base, 50);
	conn_guard_destroy(g);
	for (i = 0; i < gt.nconns; i++)
		conn_destroy(gt.conns[i].c);
	close(lfd);
	event_base_free(gt.base);
	free(f);
}

/* Out of descriptors: the guard stops watching the listener for a while
 * (it does not spin), logs once per interval, and accepts again once
 * descriptors are free. */
static void test_guard_emfile(void)
{
	struct conn_guard_limits lim = {.conn = {.read_ahead = 8192}};
	struct mer_error err;
	struct conn_guard *g;
	struct gt gt = {0};
	struct rlimit old, low;
	uint16_t port;
	int lfd, probe, i, fds[4];
	pid_t pid;

	gt.base = event_base_new();
	lfd = tcp_listen("127.0.0.1", 0, &port, &err);
	CU_ASSERT_FATAL(lfd >= 0);
	set_nonblock(lfd);
	g = conn_guard_create(gt.base, lfd, &lim, g_accept, g_log, &gt);
	/* four clients wait in the backlog, from another process */
	pid = fork();
	if (pid == 0) {
		for (i = 0; i < 4; i++)
			fds[i] = dial(port);
		sleep(5);
		for (i = 0; i < 4; i++)
			close(fds[i]);
		_exit(0);
	}
	usleep(200000);
	/* no descriptor left for accept */
	probe = open("/dev/null", O_RDONLY);
	getrlimit(RLIMIT_NOFILE, &old);
	low = old;
	low.rlim_cur = (rlim_t)probe;
	close(probe);
	CU_ASSERT_EQUAL_FATAL(setrlimit(RLIMIT_NOFILE, &low), 0);
	run_for(gt.base, 1000);
	CU_ASSERT_EQUAL(gt.nconns, 0);
	CU_ASSERT(gt.logs >= 1 && gt.logs <= 2);
	{
		/* 100, 200, 400 ms... apart: a few tries, not a spin */
		struct conn_guard_stats st;

		conn_guard_get_stats(g, &st);
		CU_ASSERT(st.accept_failures >= 2 && st.accept_failures <= 6);
	}
	CU_ASSERT_PTR_NOT_NULL(strstr(gt.last_log, "accept: Too many open "
						   "files; not accepting"));
	setrlimit(RLIMIT_NOFILE, &old);
	run_for(gt.base, 3000);
	CU_ASSERT_EQUAL(gt.nconns, 4);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	run_for(gt.base, 50);
	conn_guard_destroy(g);
	for (i = 0; i < gt.nconns; i++)
		conn_destroy(gt.conns[i].c);
	close(lfd);
	event_base_free(gt.base);
}

static CU_TestInfo tests[] = {
	{"refused body discarded", test_refused_body_discarded},
	{"wait then resume", test_wait_then_resume},
	{"frame deadline", test_frame_deadline},
	{"auth deadline", test_auth_deadline},
	{"output backpressure", test_output_backpressure},
	{"guard caps", test_guard_caps},
	{"guard keeps unread peers", test_guard_unread_kept},
	{"guard out of descriptors", test_guard_emfile},
	CU_TEST_INFO_NULL,
};

CUNIT_MAIN("conn", tests)
