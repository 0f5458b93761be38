/*
 * mrun_io.c - the I/O server of a step: the mstepd of every node of the
 * step dials in here.
 *
 * Every frame on these connections is one-way (flags 0, no credential):
 * the step's io_key, which mctld gave only to mrun and to the step's
 * mstepds, stands in for a credential and is checked in STEP_HELLO, the
 * first frame of each connection.  A connection with a wrong key, a wrong
 * step or a node that already said hello is closed and nothing else
 * changes.  Once node 0 has said hello (with its KVS port and
 * MASTER_PORT), every node that said hello gets STEP_GO and starts its
 * ranks; later ones get it at their hello.
 *
 * mrun then prints what the ranks write (STEP_OUTPUT), reads its stdin
 * for rank 0 (STEP_INPUT), passes signals on (STEP_SIGNAL), and ends when
 * every node has sent STEP_NODE_END or is gone.  A failure it sees first
 * (a rank that aborted, a rank that failed with --kill-on-bad-exit, a
 * lost node) ends the step: STEP_SIGNAL kill to every node, and that
 * failure is the step's status (mrun.h: MRUN_TRIGGER).
 *
 * Everything runs on the one libevent loop of main(); nothing here exits.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mrun.h"
#include "util.h"

/* Bytes of stdin read at once, and queued to node 0 before mrun waits. */
#define IN_CHUNK     65536
#define IN_QUEUE_MAX (1u << 20)
/* ms between looks at node 0's queue while stdin waits for it. */
#define IN_RETRY_MS 20
/*
 * Who may connect before saying hello (conn.h's guard): the step's nodes
 * dial in once each, at once, and prove themselves with the io_key in
 * their first frame's credential before its body is read.  Anyone else
 * is a stranger, bounded in count, bytes and time.
 */
#define PENDING_MAX	 256
#define PENDING_PER_ADDR 16
#define PENDING_INPUT	 (1u << 20)
#define HELLO_AUTH_MS	 10000
/* A hello with its key in the body (an mstepd before the key moved to
 * the credential) is read only this small. */
#define LEGACY_HELLO_MAX 512
/* A node's frame (output: a line of up to MRUN_LINE_MAX and more) must
 * be whole within this once it starts. */
#define NODE_FRAME_TIMEOUT_MS 60000

static void node_lost(struct mrun_node *n, const char *why);
static void check_done(struct mrun *m);

void mrun_verbose(const struct mrun *m, int level, const char *fmt, ...)
{
	va_list ap;

	if (m->opt.verbose < level)
		return;
	fprintf(stderr, "%s: ", m->cmd.prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void mrun_warn(const struct mrun *m, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: warning: ", m->cmd.prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* A connection refused before hello: said, but only the first few, so
 * that whoever scans the step's port cannot flood the user's terminal. */
#define STRANGERS_SAID 5
static void stranger_warn(struct mrun *m, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void stranger_warn(struct mrun *m, const char *fmt, ...)
{
	char text[300];
	va_list ap;

	if (++m->nstrangers > STRANGERS_SAID)
		return;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	mrun_warn(m, "%s%s", text,
		  m->nstrangers == STRANGERS_SAID
			  ? " (more such connections are not reported)"
			  : "");
}

static void set_timer(struct event *ev, int ms)
{
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};

	event_add(ev, &tv);
}

/* --- output ---------------------------------------------------------- */

/*
 * Write all of buf to stdout (stream 1) or stderr (2).  mrun's stdout may
 * be non-blocking (it can share its open file with a terminal someone set
 * so): wait for it rather than drop output.  A stream that fails (a closed
 * pipe) is given up quietly; the step goes on.
 */
static void out_write(struct mrun *m, int stream, const char *buf, size_t len)
{
	int fd = stream == 2 ? STDERR_FILENO : STDOUT_FILENO;

	if (stream != 2)
		stream = 1;
	while (len && !m->out_dead[stream]) {
		ssize_t w = write(fd, buf, len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			struct pollfd p = {.fd = fd, .events = POLLOUT};

			poll(&p, 1, 1000);
			continue;
		}
		if (w <= 0) {
			m->out_dead[stream] = true;
			break;
		}
		buf += w;
		len -= (size_t)w;
	}
}

static void emit_lines(int stream, const char *buf, size_t len, void *arg)
{
	out_write(arg, stream, buf, len);
}

/* --- sending to the nodes ------------------------------------------- */

static void node_send(struct mrun_node *n, Meridian__MsgType type,
		      const ProtobufCMessage *msg)
{
	if (n->state != MRUN_NODE_CONNECTED || !n->peer)
		return;
	if (conn_send_msg(n->peer->conn, (uint16_t)type, 0, 0, NULL, 0, msg) <
	    0)
		mrun_verbose(n->m, 1, "cannot send %s to %s: %s",
			     msg_type_name(type), n->name, strerror(errno));
}

static void send_signal(struct mrun_node *n, int sig, bool kill,
			const char *reason)
{
	Meridian__StepSignal s = MERIDIAN__STEP_SIGNAL__INIT;

	s.signal = sig;
	s.kill = kill;
	s.reason = (char *)(reason ? reason : "");
	node_send(n, MERIDIAN__MSG_TYPE__MSG_STEP_SIGNAL, &s.base);
}

static void send_go(struct mrun_node *n)
{
	Meridian__StepGo g = MERIDIAN__STEP_GO__INIT;

	if (n->go_sent || n->state != MRUN_NODE_CONNECTED)
		return;
	g.kvs_port = n->m->kvs_port;
	g.master_port = n->m->master_port;
	node_send(n, MERIDIAN__MSG_TYPE__MSG_STEP_GO, &g.base);
	n->go_sent = true;
}

static void send_input(struct mrun *m, const uint8_t *data, size_t len,
		       bool eof, uint32_t rows, uint32_t cols)
{
	Meridian__StepInput in = MERIDIAN__STEP_INPUT__INIT;

	in.data.data = (uint8_t *)data;
	in.data.len = len;
	in.eof = eof;
	in.rows = rows;
	in.cols = cols;
	node_send(&m->nodes[0], MERIDIAN__MSG_TYPE__MSG_STEP_INPUT, &in.base);
}

static void kill_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct mrun *m = arg;

	for (size_t i = 0; i < m->nnodes; i++) {
		struct mrun_node *n = &m->nodes[i];
		char why[160];

		if (n->state != MRUN_NODE_CONNECTED &&
		    n->state != MRUN_NODE_WAITING)
			continue;
		snprintf(why, sizeof(why),
			 "%s did not end within %d s of the kill", n->name,
			 MRUN_KILL_TIMEOUT);
		cmd_error(&m->cmd, "%s", why);
		node_lost(n, why);
	}
}

/*
 * End the step: SIGKILL to the ranks of every node (but skip, whose own
 * mstepd already killed them).  Nodes that say hello later are sent the
 * same at once.  The first reason stands.
 */
static void step_kill(struct mrun *m, const char *reason,
		      const struct mrun_node *skip)
{
	if (m->killed)
		return;
	m->killed = true;
	snprintf(m->kill_reason, sizeof(m->kill_reason), "%s", reason);
	mrun_verbose(m, 1, "ending step %" PRIu32 ".%" PRIu32 ": %s", m->job_id,
		     m->step_id, reason);
	for (size_t i = 0; i < m->nnodes; i++)
		if (&m->nodes[i] != skip)
			send_signal(&m->nodes[i], SIGKILL, true, reason);
	if (m->kill_ev)
		set_timer(m->kill_ev, MRUN_KILL_TIMEOUT * 1000);
}

/* --- stdin ----------------------------------------------------------- */

static void in_stop(struct mrun *m)
{
	if (m->in_ev) {
		event_free(m->in_ev);
		m->in_ev = NULL;
	}
	if (m->in_timer)
		event_del(m->in_timer);
	if (m->in_owned && m->in_fd >= 0)
		close(m->in_fd);
	m->in_fd = -1;
	m->in_owned = false;
}

static void in_eof(struct mrun *m)
{
	if (!m->in_eof) {
		m->in_eof = true;
		send_input(m, NULL, 0, true, 0, 0);
	}
	in_stop(m);
}

/* Read what stdin has (one chunk) and pass it to rank 0. */
static void in_read(struct mrun *m)
{
	uint8_t buf[IN_CHUNK];
	ssize_t r;

	if (m->in_fd < 0 || m->in_eof)
		return;
	if (m->nodes[0].state != MRUN_NODE_CONNECTED) {
		in_stop(m);
		return;
	}
	if (conn_pending_output(m->nodes[0].peer->conn) >= IN_QUEUE_MAX) {
		/* node 0 is slow: stop reading until it catches up */
		if (m->in_ev)
			event_del(m->in_ev);
		set_timer(m->in_timer, IN_RETRY_MS);
		return;
	}
	r = read(m->in_fd, buf, sizeof(buf));
	if (r < 0 &&
	    (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)) {
		if (!m->in_pollable)
			set_timer(m->in_timer, IN_RETRY_MS);
		return;
	}
	if (r <= 0) {
		if (r < 0)
			mrun_verbose(m, 1, "reading stdin: %s: sending EOF",
				     strerror(errno));
		in_eof(m);
		return;
	}
	send_input(m, buf, (size_t)r, false, 0, 0);
	if (!m->in_pollable)
		set_timer(m->in_timer, 0); /* a file: go on next turn */
}

static void in_read_cb(evutil_socket_t fd, short what, void *arg)
{
	in_read(arg);
}

static void in_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct mrun *m = arg;

	if (m->in_fd < 0 || m->in_eof)
		return;
	if (m->in_pollable) {
		if (m->nodes[0].state == MRUN_NODE_CONNECTED &&
		    conn_pending_output(m->nodes[0].peer->conn) >=
			    IN_QUEUE_MAX) {
			set_timer(m->in_timer, IN_RETRY_MS);
			return;
		}
		event_add(m->in_ev, NULL);
		return;
	}
	in_read(m);
}

static void winsize_send(struct mrun *m)
{
	struct winsize ws;

	if (!m->opt.pty || ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) < 0 ||
	    !ws.ws_row || !ws.ws_col)
		return;
	send_input(m, NULL, 0, false, ws.ws_row, ws.ws_col);
}

static void tty_raw(struct mrun *m)
{
	struct termios t;

	if (m->tty_raw || !isatty(STDIN_FILENO) ||
	    tcgetattr(STDIN_FILENO, &m->tty_saved) < 0)
		return;
	t = m->tty_saved;
	cfmakeraw(&t);
	/* output stays as the remote terminal made it: no "\r\n" twice */
	if (tcsetattr(STDIN_FILENO, TCSADRAIN, &t) == 0)
		m->tty_raw = true;
}

static void tty_restore(struct mrun *m)
{
	if (!m->tty_raw)
		return;
	tcsetattr(STDIN_FILENO, TCSADRAIN, &m->tty_saved);
	m->tty_raw = false;
}

/*
 * Start reading stdin for rank 0 (node 0 said hello).  Reads must not
 * block the loop, but O_NONBLOCK on fd 0 would also hit whoever shares
 * its open file (the terminal mrun's stdout writes to): a pipe or a
 * terminal is opened again through /proc for a non-blocking file of
 * mrun's own.  A regular file (or /dev/null) cannot be polled: it is read
 * a chunk per loop turn.
 */
static void in_start(struct mrun *m)
{
	struct stat st;
	int fd;

	if (m->in_started)
		return;
	m->in_started = true;
	m->in_timer = evtimer_new(m->base, in_timer_cb, m);
	if (m->opt.pty) {
		tty_raw(m);
		winsize_send(m);
	}
	if (fstat(STDIN_FILENO, &st) < 0) {
		in_eof(m); /* no stdin at all */
		return;
	}
	if (isatty(STDIN_FILENO) && tcgetpgrp(STDIN_FILENO) != getpgrp()) {
		/* In the background a read would stop mrun (SIGTTIN). */
		mrun_verbose(m, 1, "in the background: rank 0 gets no stdin");
		in_eof(m);
		return;
	}
	m->in_fd = STDIN_FILENO;
	/* epoll takes pipes, sockets and terminals, not files or /dev/null */
	m->in_pollable = S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode) ||
			 (S_ISCHR(st.st_mode) && isatty(STDIN_FILENO));
	if (m->in_pollable && !S_ISSOCK(st.st_mode)) {
		fd = open("/proc/self/fd/0", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
		if (fd >= 0) {
			m->in_fd = fd;
			m->in_owned = true;
		}
	}
	if (m->in_pollable) {
		m->in_ev = event_new(m->base, m->in_fd, EV_READ | EV_PERSIST,
				     in_read_cb, m);
		if (!m->in_ev || event_add(m->in_ev, NULL) < 0) {
			/* not pollable after all: read it a chunk a turn */
			if (m->in_ev)
				event_free(m->in_ev);
			m->in_ev = NULL;
			m->in_pollable = false;
		}
	}
	if (!m->in_pollable)
		set_timer(m->in_timer, 0);
}

/* --- connections ---------------------------------------------------- */

static void peer_free(struct mrun_peer *p)
{
	struct mrun *m = p->m;

	if (p->prev)
		p->prev->next = p->next;
	else
		m->peers = p->next;
	if (p->next)
		p->next->prev = p->prev;
	if (!p->node)
		m->npending--;
	conn_destroy(p->conn);
	free(p);
}

static void peer_drop(struct mrun_peer *p, const char *why)
{
	mrun_warn(p->m, "dropped a connection from %s: %s", conn_peer(p->conn),
		  why);
	peer_free(p);
}

/* Close the connections that never said hello. */
static void pending_close_all(struct mrun *m)
{
	struct mrun_peer *p = m->peers, *next;

	for (; p; p = next) {
		next = p->next;
		if (!p->node)
			peer_free(p);
	}
}

static void listen_close(struct mrun *m)
{
	conn_guard_destroy(m->guard);
	m->guard = NULL;
	if (m->listen_fd >= 0)
		close(m->listen_fd);
	m->listen_fd = -1;
}

/* --- the nodes ------------------------------------------------------- */

static void node_flush(struct mrun_node *n)
{
	if (n->m->lines)
		mrun_lines_flush(n->m->lines, n->first_rank, n->ntasks);
}

static void node_release(struct mrun_node *n)
{
	if (n->peer) {
		peer_free(n->peer);
		n->peer = NULL;
	}
	if (n->index == 0 && n->m->in_started)
		in_stop(n->m);
}

/* A node that ended without an end: the step failed there. */
static void node_lost(struct mrun_node *n, const char *why)
{
	struct mrun *m = n->m;

	if (n->state == MRUN_NODE_ENDED || n->state == MRUN_NODE_LOST)
		return;
	n->state = MRUN_NODE_LOST;
	node_release(n);
	node_flush(n);
	m->nodes_done++;
	if (!m->killed) {
		mrun_status_merge(&m->status, MRUN_TRIGGER, 1, 0, -1, why);
		step_kill(m, why, n);
	} else {
		mrun_status_merge(&m->status, MRUN_FAILED, 1, 0, -1, why);
	}
	check_done(m);
}

static void on_task_exit(struct mrun_node *n, const Meridian__TaskExit *t)
{
	struct mrun *m = n->m;
	int value = mrun_task_value(t->exit_code, t->term_signal);
	char reason[256];

	mrun_task_reason(t, n->name, reason, sizeof(reason));
	if (value == 0 && !t->aborted) {
		mrun_verbose(m, 2, "%s", reason);
		return;
	}
	mrun_verbose(m, 1, "%s", reason);
	if (t->aborted) {
		/* The cause, even when its node's kill of the other ranks
		 * was reported first and already made mrun end the step. */
		mrun_status_merge(&m->status, MRUN_ABORTED, value ? value : 1,
				  t->term_signal, (int)t->rank, reason);
		/* an aborted rank's node killed its ranks itself */
		if (!m->killed)
			step_kill(m, reason, n);
		return;
	}
	if (m->killed)
		return; /* a consequence of the kill, not its cause */
	if (m->opt.kill_on_bad_exit != 0) {
		/* Not a trigger: the step's status stays the worst rank that
		 * failed on its own (the nodes' ends tell it), as mctld
		 * records it; ranks killed because of this one do not count
		 * (they are ignored here and their nodes end CANCELLED). */
		mrun_status_merge(&m->status, MRUN_FAILED, value ? value : 1,
				  t->term_signal, (int)t->rank, reason);
		step_kill(m, reason, NULL);
	}
}

static void on_node_end(struct mrun_node *n, const Meridian__StepEnd *e)
{
	struct mrun *m = n->m;

	mrun_verbose(m, 1, "%s: %s, exit code %d%s%s", n->name,
		     mer_job_state_name(e->state), (int)e->exit_code,
		     e->reason && *e->reason ? ": " : "",
		     e->reason ? e->reason : "");
	mrun_status_merge_end(&m->status, e);
	n->state = MRUN_NODE_ENDED;
	node_release(n);
	node_flush(n);
	m->nodes_done++;
	check_done(m);
}

static void on_output(struct mrun *m, const Meridian__StepOutput *o)
{
	int stream = o->stream == 2 ? 2 : 1;

	if (o->rank >= m->ntasks)
		return;
	if (m->lines)
		mrun_lines_feed(m->lines, o->rank, stream, o->data.data,
				o->data.len);
	else
		out_write(m, stream, (const char *)o->data.data, o->data.len);
}

static void node_frame(struct mrun_node *n, const struct frame_hdr *h,
		       const uint8_t *body)
{
	struct mrun *m = n->m;
	struct mer_error err = {{0}};
	ProtobufCMessage *msg;

	switch (h->type) {
	case MERIDIAN__MSG_TYPE__MSG_STEP_OUTPUT:
	case MERIDIAN__MSG_TYPE__MSG_TASK_EXIT:
	case MERIDIAN__MSG_TYPE__MSG_STEP_NODE_END:
		break;
	default:
		mrun_verbose(m, 1, "%s: unexpected frame %s ignored", n->name,
			     msg_type_name(h->type));
		return;
	}
	msg = frame_unpack_body(h, body, h->body_len, &err);
	if (!msg) {
		char why[300];

		snprintf(why, sizeof(why), "lost contact with %s", n->name);
		cmd_error(&m->cmd, "%s: %s", why, err.text);
		node_lost(n, why);
		return;
	}
	switch (h->type) {
	case MERIDIAN__MSG_TYPE__MSG_STEP_OUTPUT:
		on_output(m, (Meridian__StepOutput *)msg);
		break;
	case MERIDIAN__MSG_TYPE__MSG_TASK_EXIT:
		on_task_exit(n, (Meridian__TaskExit *)msg);
		break;
	default:
		on_node_end(n, (Meridian__StepEnd *)msg);
		break;
	}
	protobuf_c_message_free_unpacked(msg, NULL);
}

/* --- hello ----------------------------------------------------------- */

static void on_hello(struct mrun_peer *p, const Meridian__StepHello *hi)
{
	struct mrun *m = p->m;
	struct mrun_node *n;
	char why[160];

	if (!conn_authenticated(p->conn) &&
	    !key_equal(hi->io_key.data, hi->io_key.len, m->io_key,
		       sizeof(m->io_key))) {
		peer_drop(p, "wrong io_key");
		return;
	}
	if (hi->job_id != m->job_id || hi->step_id != m->step_id) {
		snprintf(why, sizeof(why),
			 "hello for step %" PRIu32 ".%" PRIu32
			 ", expected %" PRIu32 ".%" PRIu32,
			 hi->job_id, hi->step_id, m->job_id, m->step_id);
		peer_drop(p, why);
		return;
	}
	if (hi->node_index >= m->nnodes) {
		snprintf(why, sizeof(why),
			 "node index %" PRIu32 ", expected less than %zu",
			 hi->node_index, m->nnodes);
		peer_drop(p, why);
		return;
	}
	n = &m->nodes[hi->node_index];
	if (n->state != MRUN_NODE_WAITING) {
		snprintf(why, sizeof(why),
			 "%s (node %" PRIu32 ") already said hello", n->name,
			 hi->node_index);
		peer_drop(p, why);
		return;
	}
	conn_set_authenticated(p->conn);
	p->node = n;
	m->npending--;
	n->peer = p;
	n->state = MRUN_NODE_CONNECTED;
	m->nodes_connected++;
	mrun_verbose(m, 2, "%s (node %" PRIu32 ") connected from %s", n->name,
		     n->index, conn_peer(p->conn));
	if (m->killed) {
		send_signal(n, SIGKILL, true, m->kill_reason);
	} else if (n->index == 0) {
		m->go = true;
		m->kvs_port = hi->kvs_port;
		m->master_port = hi->master_port;
		for (size_t i = 0; i < m->nnodes; i++)
			send_go(&m->nodes[i]);
		in_start(m);
	} else if (m->go) {
		send_go(n);
	}
	if (m->nodes_connected == m->nnodes) {
		/* everyone is here: no more connections to take */
		event_del(m->hello_ev);
		pending_close_all(m);
		listen_close(m);
	}
}

static void peer_on_frame(struct conn *c, const struct frame_hdr *h,
			  const uint8_t *cred, const uint8_t *body, void *arg)
{
	struct mrun_peer *p = arg;
	struct mer_error err = {{0}};
	ProtobufCMessage *msg;
	char why[120];

	if (h->flags & (MER_FRAME_REPLY | MER_FRAME_ERROR)) {
		/* nobody here asked anything */
		snprintf(why, sizeof(why), "unexpected reply frame %s",
			 msg_type_name(h->type));
		if (p->node)
			mrun_verbose(p->m, 1, "%s: %s ignored", p->node->name,
				     why);
		else
			peer_drop(p, why);
		return;
	}
	if (p->node) {
		node_frame(p->node, h, body);
		return;
	}
	if (h->type != MERIDIAN__MSG_TYPE__MSG_STEP_HELLO) {
		snprintf(why, sizeof(why), "expected STEP_HELLO, got %s",
			 msg_type_name(h->type));
		peer_drop(p, why);
		return;
	}
	msg = frame_unpack_body(h, body, h->body_len, &err);
	if (!msg) {
		peer_drop(p, err.text);
		return;
	}
	on_hello(p, (Meridian__StepHello *)msg);
	protobuf_c_message_free_unpacked(msg, NULL);
}

static void peer_on_close(struct conn *c, const char *why, void *arg)
{
	struct mrun_peer *p = arg;
	struct mrun_node *n = p->node;
	char text[300];

	if (!n) {
		mrun_verbose(p->m, 2,
			     "connection from %s closed before hello: %s",
			     conn_peer(c), why);
		peer_free(p);
		return;
	}
	snprintf(text, sizeof(text), "lost contact with %s", n->name);
	cmd_error(&n->m->cmd, "%s: %s", text, why);
	node_lost(n, text);
}

/*
 * A frame's header and credential: before hello, the credential must be
 * the step's io_key (or, from an older mstepd, the hello small enough to
 * read and check its key in the body); nothing else is read.
 */
static enum conn_verdict peer_on_header(struct conn *c,
					const struct frame_hdr *h,
					const uint8_t *cred, void *arg)
{
	struct mrun_peer *p = arg;
	size_t total = MER_FRAME_HDR_LEN + (size_t)h->cred_len + h->body_len;

	if (conn_authenticated(c))
		return CONN_READ;
	if (h->type != MERIDIAN__MSG_TYPE__MSG_STEP_HELLO || h->flags) {
		mrun_verbose(p->m, 1,
			     "connection from %s: %s before hello; "
			     "closed",
			     conn_peer(c), msg_type_name(h->type));
		return CONN_REFUSE;
	}
	if (h->cred_len == sizeof(p->m->io_key)) {
		if (!key_equal(cred, h->cred_len, p->m->io_key,
			       sizeof(p->m->io_key))) {
			stranger_warn(p->m,
				      "dropped a connection from %s: "
				      "wrong io_key",
				      conn_peer(c));
			return CONN_REFUSE;
		}
		conn_set_authenticated(c);
		return CONN_READ;
	}
	if (h->cred_len == 0 && total <= LEGACY_HELLO_MAX)
		return CONN_READ;
	stranger_warn(p->m,
		      "dropped a connection from %s: a %zu-byte hello "
		      "with a %u-byte credential, not the step's key",
		      conn_peer(c), total, h->cred_len);
	return CONN_REFUSE;
}

static void on_guard_log(const char *text, void *arg)
{
	mrun_verbose(arg, 1, "%s", text);
}

static void on_accept(struct conn_guard *g, int fd, const char *name, void *arg)
{
	struct mrun *m = arg;
	struct mrun_peer *p = xcalloc(1, sizeof(*p));

	p->m = m;
	p->conn = conn_guard_conn_create(g, fd, name, peer_on_frame,
					 peer_on_close, p);
	if (!p->conn) {
		free(p);
		return;
	}
	conn_set_header_cb(p->conn, peer_on_header);
	p->next = m->peers;
	if (m->peers)
		m->peers->prev = p;
	m->peers = p;
	m->npending++;
}

static void hello_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct mrun *m = arg;

	pending_close_all(m);
	listen_close(m);
	for (size_t i = 0; i < m->nnodes; i++) {
		struct mrun_node *n = &m->nodes[i];
		char why[160];

		if (n->state != MRUN_NODE_WAITING)
			continue;
		snprintf(why, sizeof(why), "node %s never connected", n->name);
		cmd_error(&m->cmd, "%s (waited %d s for its mstepd)", why,
			  m->hello_timeout);
		node_lost(n, why);
	}
}

/*
 * While nodes have not said hello, ask mctld once a second whether the
 * step failed to start on one of them (its launch refused, the node gone,
 * the job ended): then mrun says so at once instead of waiting out the
 * hello timeout.  Quiet when mctld cannot be reached: the timeout still
 * stands.
 */
static void watch_cb(evutil_socket_t fd, short what, void *arg)
{
	Meridian__JobInfoRequest req = MERIDIAN__JOB_INFO_REQUEST__INIT;
	Meridian__JobInfoReply *rep = NULL;
	const Meridian__JobRecord *job = NULL;
	const Meridian__StepRecord *st = NULL;
	struct mrun *m = arg;
	struct mer_error err = {{0}};
	uint32_t id = m->job_id;

	(void)fd;
	(void)what;
	if (m->killed || m->nodes_connected == m->nnodes)
		return;
	req.job_ids = &id;
	req.n_job_ids = 1;
	if (client_call(m->cmd.client, MERIDIAN__MSG_TYPE__MSG_JOB_INFO,
			&req.base, (ProtobufCMessage **)&rep, 2, &err) < 0)
		rep = NULL;
	for (size_t i = 0; rep && i < rep->n_jobs; i++)
		if (rep->jobs[i]->job_id == id)
			job = rep->jobs[i];
	for (size_t i = 0; job && i < job->n_steps; i++)
		if (job->steps[i]->step_id == m->step_id)
			st = job->steps[i];
	for (size_t i = 0; job && i < m->nnodes; i++) {
		struct mrun_node *n = &m->nodes[i];
		char why[320];

		if (n->state != MRUN_NODE_WAITING)
			continue;
		if (job->state != MERIDIAN__JOB_STATE__JOB_RUNNING)
			snprintf(why, sizeof(why),
				 "job %" PRIu32 " ended (%s) before %s "
				 "started its share",
				 id, mer_job_state_name(job->state), n->name);
		else if (st && i < st->n_nodes && st->nodes[i]->ended)
			snprintf(why, sizeof(why),
				 "%s could not start its "
				 "share: %s",
				 n->name,
				 *st->reason ? st->reason : "no reason given");
		else
			continue;
		node_lost(n, why); /* said at the end, with the step's id */
	}
	if (rep)
		protobuf_c_message_free_unpacked(&rep->base, NULL);
	if (!m->killed && m->nodes_connected < m->nnodes)
		set_timer(m->watch_ev, MRUN_WATCH_MS);
}

static void check_done(struct mrun *m)
{
	if (m->nodes_done >= m->nnodes)
		event_base_loopexit(m->base, NULL);
}

/* --- signals --------------------------------------------------------- */

void mrun_io_signal(struct mrun *m, int sig)
{
	int64_t now = mer_mono_ms();
	const char *name = cmd_signal_name(sig);

	if (sig == SIGWINCH) {
		if (m->go)
			winsize_send(m);
		return;
	}
	if (m->killed) {
		if (sig == SIGINT || sig == SIGTERM || sig == SIGHUP) {
			/* asked again while the step is being ended: go now */
			cmd_error(&m->cmd,
				  "leaving without waiting for the step's "
				  "nodes to end");
			for (size_t i = 0; i < m->nnodes; i++)
				if (m->nodes[i].state == MRUN_NODE_CONNECTED ||
				    m->nodes[i].state == MRUN_NODE_WAITING)
					node_lost(&m->nodes[i],
						  "mrun was interrupted");
		}
		return;
	}
	if (sig == SIGINT && m->last_sigint_ms &&
	    now - m->last_sigint_ms <= 1000) {
		step_kill(m, "cancelled by user", NULL);
		return;
	}
	if (sig == SIGINT)
		m->last_sigint_ms = now;
	if (!m->go && (sig == SIGINT || sig == SIGTERM || sig == SIGHUP)) {
		/* no rank runs yet: nothing to pass it to, so end the step */
		step_kill(m, "cancelled by user", NULL);
		return;
	}
	if (sig == SIGINT && isatty(STDERR_FILENO) && !m->tty_raw)
		fprintf(stderr,
			"%s: interrupt (one more within 1 s to end the "
			"step)\n",
			m->cmd.prog);
	mrun_verbose(m, 1, "passing SIG%s to the step", name ? name : "?");
	for (size_t i = 0; i < m->nnodes; i++)
		send_signal(&m->nodes[i], sig, false, NULL);
}

/* --- setup ------------------------------------------------------------ */

/*
 * The address the nodes reach mrun at: MERIDIAN_IO_HOST, else the local
 * address of the route toward the controller (a UDP connect sends
 * nothing), else 127.0.0.1.
 */
static void pick_io_host(struct mrun *m)
{
	const char *env = getenv("MERIDIAN_IO_HOST");
	struct addrinfo hints = {.ai_family = AF_UNSPEC,
				 .ai_socktype = SOCK_DGRAM};
	struct addrinfo *res = NULL, *ai;
	char svc[16];

	snprintf(m->io_host, sizeof(m->io_host), "127.0.0.1");
	if (env && *env) {
		snprintf(m->io_host, sizeof(m->io_host), "%s", env);
		return;
	}
	snprintf(svc, sizeof(svc), "%u",
		 (unsigned)m->cmd.conf->controller_port);
	if (getaddrinfo(m->cmd.conf->controller_host, svc, &hints, &res) != 0)
		return;
	for (ai = res; ai; ai = ai->ai_next) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		char buf[INET6_ADDRSTRLEN];
		const void *addr;
		int fd = socket(ai->ai_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);

		if (fd < 0)
			continue;
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0 ||
		    getsockname(fd, (struct sockaddr *)&ss, &sl) < 0) {
			close(fd);
			continue;
		}
		close(fd);
		if (ss.ss_family == AF_INET) {
			const struct sockaddr_in *sin = (void *)&ss;

			if (sin->sin_addr.s_addr == htonl(INADDR_ANY))
				continue;
			addr = &sin->sin_addr;
		} else if (ss.ss_family == AF_INET6) {
			const struct sockaddr_in6 *s6 = (void *)&ss;

			if (IN6_IS_ADDR_UNSPECIFIED(&s6->sin6_addr))
				continue;
			addr = &s6->sin6_addr;
		} else {
			continue;
		}
		if (inet_ntop(ss.ss_family, addr, buf, sizeof(buf))) {
			snprintf(m->io_host, sizeof(m->io_host), "%s", buf);
			break;
		}
	}
	freeaddrinfo(res);
}

static int make_key(uint8_t *key, size_t n)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = getrandom(key + got, n - got, 0);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		got += (size_t)r;
	}
	return 0;
}

int mrun_io_listen(struct mrun *m)
{
	struct mer_error err = {{0}};
	uint16_t port = 0;

	pick_io_host(m);
	if (make_key(m->io_key, sizeof(m->io_key)) < 0) {
		cmd_error(&m->cmd, "cannot make the step's key: getrandom: %s",
			  strerror(errno));
		return -1;
	}
	/* the nodes dial io_host: listen on every address of its family */
	m->listen_fd = tcp_listen(strchr(m->io_host, ':') ? "::" : "0.0.0.0", 0,
				  &port, &err);
	if (m->listen_fd < 0) {
		cmd_error(&m->cmd, "cannot open the step's I/O port: %s",
			  err.text);
		return -1;
	}
	set_nonblock(m->listen_fd);
	m->io_port = port;
	mrun_verbose(m, 2, "the step's nodes dial %s:%u", m->io_host,
		     (unsigned)port);
	return 0;
}

int mrun_io_start(struct mrun *m)
{
	const Meridian__StepRecord *st = m->reply->step;
	const char *env = getenv("MERIDIAN_STEP_CONNECT_TIMEOUT");
	bool buffered;

	m->nnodes = st->n_nodes;
	m->nodes = xcalloc(m->nnodes ? m->nnodes : 1, sizeof(*m->nodes));
	for (size_t i = 0; i < m->nnodes; i++) {
		struct mrun_node *n = &m->nodes[i];

		n->m = m;
		n->index = (uint32_t)i;
		n->name = st->nodes[i]->node ? st->nodes[i]->node : "?";
		n->first_rank = st->nodes[i]->first_rank;
		n->ntasks = st->nodes[i]->ntasks;
		if (n->first_rank + n->ntasks > m->ntasks)
			m->ntasks = n->first_rank + n->ntasks;
	}
	if (st->ntasks > m->ntasks)
		m->ntasks = st->ntasks;
	/*
	 * Lines of several ranks are kept whole; one rank's output goes
	 * straight through (a prompt without '\n' shows at once), and a
	 * terminal's always does.
	 */
	buffered = !m->opt.pty && (m->opt.label || m->ntasks > 1);
	if (buffered)
		m->lines = mrun_lines_create(m->ntasks, m->opt.label,
					     emit_lines, m);
	m->hello_timeout = MRUN_HELLO_TIMEOUT;
	if (env && *env && atoi(env) > 0)
		m->hello_timeout = atoi(env);
	m->hello_ev = evtimer_new(m->base, hello_timeout_cb, m);
	m->watch_ev = evtimer_new(m->base, watch_cb, m);
	m->kill_ev = evtimer_new(m->base, kill_timeout_cb, m);
	{
		struct conn_guard_limits lim = {
			.max_conns = (unsigned)m->nnodes + PENDING_MAX,
			.max_unauth = PENDING_MAX,
			.max_unauth_per_addr = PENDING_PER_ADDR,
			.max_unauth_input = PENDING_INPUT,
			.conn =
				{
					.read_ahead = 65536,
					.frame_timeout_ms =
						NODE_FRAME_TIMEOUT_MS,
					.auth_timeout_ms = HELLO_AUTH_MS,
				},
		};

		m->guard = conn_guard_create(m->base, m->listen_fd, &lim,
					     on_accept, on_guard_log, m);
	}
	if (!m->hello_ev || !m->watch_ev || !m->kill_ev || !m->guard) {
		cmd_error(&m->cmd, "cannot watch the step's I/O port");
		return -1;
	}
	set_timer(m->hello_ev, m->hello_timeout * 1000);
	set_timer(m->watch_ev, MRUN_WATCH_MS);
	if (m->nnodes == 0) {
		cmd_error(&m->cmd, "step %" PRIu32 ".%" PRIu32 " has no nodes",
			  m->job_id, m->step_id);
		return -1;
	}
	return 0;
}

void mrun_io_stop(struct mrun *m)
{
	tty_restore(m);
	if (m->lines) {
		mrun_lines_flush_all(m->lines);
		mrun_lines_destroy(m->lines);
		m->lines = NULL;
	}
	in_stop(m);
	if (m->in_timer) {
		event_free(m->in_timer);
		m->in_timer = NULL;
	}
	listen_close(m);
	while (m->peers)
		peer_free(m->peers);
	for (size_t i = 0; i < m->nnodes; i++)
		m->nodes[i].peer = NULL;
	if (m->watch_ev) {
		event_free(m->watch_ev);
		m->watch_ev = NULL;
	}
	if (m->hello_ev) {
		event_free(m->hello_ev);
		m->hello_ev = NULL;
	}
	if (m->kill_ev) {
		event_free(m->kill_ev);
		m->kill_ev = NULL;
	}
	free(m->nodes);
	m->nodes = NULL;
	m->nnodes = 0;
}
