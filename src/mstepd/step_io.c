/*
 * step_io.c - a step share's connection to mrun: the hello, mrun's go,
 * input and signals, and the ranks' output and ends going back.
 *
 * mstepd opens the connection (mrun listens) and sends STEP_HELLO with
 * the step's io_key as its frame credential (and in its body, for an
 * older mrun); every frame after that is one-way, with no credential and
 * no reply.
 * A frame from mrun that does not decode closes the connection, which
 * counts as mrun going away: the ranks are killed.
 *
 * Order matters to mrun: a rank's TASK_EXIT comes after everything it
 * wrote (step.c drains its streams when it is reaped), and STEP_NODE_END
 * after every stream reached EOF.  Output is read only while mrun keeps
 * up: past IO_OUT_HIGH bytes queued toward it the streams are left unread
 * (the ranks block on their pipes) until the queue is down to IO_OUT_LOW.
 */
#include "config.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#include <event2/buffer.h>

#include "mstepd.h"

#define IO_CONNECT_TIMEOUT_MS 10000
#define IO_READ_CHUNK	      65536
#define IO_OUT_HIGH	      (4u << 20)
#define IO_OUT_LOW	      (512u << 10)
#define IO_RESUME_TICK_MS     20
/* A reaped rank's streams are read at most this much at once: what it
 * wrote is in its pipe (64 KiB), more comes from a child still alive. */
#define IO_DRAIN_MAX (1u << 20)
/* After the node's end: how long mrun has to take it and close. */
#define IO_FINISH_MAX_MS  2000
#define IO_FINISH_TICK_MS 10

/* One output stream of a rank: a pipe, or rank 0's pty master. */
struct io_out {
	struct step_io *io;
	const struct step_rank *r;
	uint32_t stream; /* 1 stdout, 2 stderr */
	int fd;		 /* -1 once at EOF */
	struct event *ev;
};

struct step_io {
	struct step *st;
	struct conn *conn; /* to mrun; NULL before and once gone */
	bool ending;	   /* the node's end is queued */
	bool shut;	   /* and our side is shut down */
	struct event *finish_ev;
	int64_t finish_deadline_ms;

	struct io_out **outs;
	size_t nouts;
	size_t open; /* streams not at EOF */
	bool paused; /* mrun is behind: streams not read */
	struct event *resume_ev;

	/* rank 0's stdin: STEP_INPUT bytes not written yet */
	int in_fd;
	bool in_pty;
	bool in_eof; /* mrun's stdin ended */
	struct evbuffer *in_buf;
	struct event *in_ev;
	uint32_t rows, cols; /* the pty's size to set, 0: unknown */
};

static const char *sid(const struct step_io *io, char *buf, size_t n)
{
	snprintf(buf, n, "step %u.%u", io->st->s->job_id, io->st->s->step_id);
	return buf;
}

struct step_io *io_create(struct step *st)
{
	struct step_io *io = xcalloc(1, sizeof(*io));

	io->st = st;
	io->in_fd = -1;
	io->in_buf = evbuffer_new();
	if (!io->in_buf)
		abort();
	return io;
}

static void out_close(struct io_out *o)
{
	if (o->fd < 0)
		return;
	event_free(o->ev);
	o->ev = NULL;
	close(o->fd);
	o->fd = -1;
	o->io->open--;
}

static void in_close(struct step_io *io)
{
	if (io->in_fd < 0)
		return;
	event_free(io->in_ev);
	io->in_ev = NULL;
	close(io->in_fd);
	io->in_fd = -1;
	evbuffer_drain(io->in_buf, evbuffer_get_length(io->in_buf));
}

void io_destroy(struct step_io *io)
{
	if (!io)
		return;
	for (size_t i = 0; i < io->nouts; i++) {
		out_close(io->outs[i]);
		free(io->outs[i]);
	}
	free(io->outs);
	in_close(io);
	evbuffer_free(io->in_buf);
	if (io->resume_ev)
		event_free(io->resume_ev);
	if (io->finish_ev)
		event_free(io->finish_ev);
	conn_destroy(io->conn);
	free(io);
}

/* ---- the ranks' output -------------------------------------------------- */

static void pause_outputs(struct step_io *io);

static void send_output(struct io_out *o, const char *data, size_t n)
{
	Meridian__StepOutput m = MERIDIAN__STEP_OUTPUT__INIT;
	struct step_io *io = o->io;

	if (!io->conn || io->ending)
		return; /* nobody to show it to: dropped */
	m.rank = o->r->rank;
	m.stream = o->stream;
	m.data.data = (uint8_t *)data;
	m.data.len = n;
	conn_send_msg(io->conn, MERIDIAN__MSG_TYPE__MSG_STEP_OUTPUT, 0, 0, NULL,
		      0, &m.base);
	if (!io->paused && conn_pending_output(io->conn) > IO_OUT_HIGH)
		pause_outputs(io);
}

/* Read once from o.  Returns the bytes forwarded: 0 at EAGAIN and at EOF
 * (then o is closed). */
static size_t out_read(struct io_out *o)
{
	char buf[IO_READ_CHUNK];
	ssize_t n;

	do
		n = read(o->fd, buf, sizeof(buf));
	while (n < 0 && errno == EINTR);
	if (n > 0) {
		send_output(o, buf, (size_t)n);
		return (size_t)n;
	}
	if (n < 0 && errno == EAGAIN)
		return 0;
	/* EOF; a pty master says EIO once the terminal's last holder
	 * closed it */
	if (n < 0 && errno != EIO) {
		char b[64];
		log_warn("%s: reading rank %u's output", sid(o->io, b, 64),
			 o->r->rank);
	}
	out_close(o);
	return 0;
}

static void out_cb(evutil_socket_t fd, short what, void *arg)
{
	struct io_out *o = arg;

	out_read(o);
	if (o->fd < 0)
		step_check_drained(o->io->st);
}

static void resume_cb(evutil_socket_t fd, short what, void *arg)
{
	struct step_io *io = arg;
	struct timeval tv = {0, IO_RESUME_TICK_MS * 1000};

	if (io->conn && !io->ending &&
	    conn_pending_output(io->conn) > IO_OUT_LOW) {
		evtimer_add(io->resume_ev, &tv);
		return;
	}
	io->paused = false;
	for (size_t i = 0; i < io->nouts; i++)
		if (io->outs[i]->fd >= 0)
			event_add(io->outs[i]->ev, NULL);
}

/* mrun is behind: stop reading until it caught up (the ranks block). */
static void pause_outputs(struct step_io *io)
{
	struct timeval tv = {0, IO_RESUME_TICK_MS * 1000};

	io->paused = true;
	for (size_t i = 0; i < io->nouts; i++)
		if (io->outs[i]->fd >= 0)
			event_del(io->outs[i]->ev);
	if (!io->resume_ev)
		io->resume_ev = evtimer_new(io->st->s->base, resume_cb, io);
	evtimer_add(io->resume_ev, &tv);
}

void io_add_output(struct step_io *io, struct step_rank *r, uint32_t stream,
		   int fd)
{
	struct io_out *o = xcalloc(1, sizeof(*o));

	o->io = io;
	o->r = r;
	o->stream = stream;
	o->fd = fd;
	set_nonblock(fd);
	set_cloexec(fd);
	o->ev = event_new(io->st->s->base, fd, EV_READ | EV_PERSIST, out_cb, o);
	if (!io->paused)
		event_add(o->ev, NULL);
	io->outs = xrealloc(io->outs, (io->nouts + 1) * sizeof(*io->outs));
	io->outs[io->nouts++] = o;
	io->open++;
}

void io_drain_rank(struct step_io *io, const struct step_rank *r)
{
	for (size_t i = 0; i < io->nouts; i++) {
		struct io_out *o = io->outs[i];
		size_t got = 0, n;
		if (o->r != r)
			continue;
		while (o->fd >= 0 && got < IO_DRAIN_MAX &&
		       (n = out_read(o)) > 0)
			got += n;
	}
}

size_t io_outputs_open(const struct step_io *io)
{
	return io->open;
}

void io_close_outputs(struct step_io *io)
{
	for (size_t i = 0; i < io->nouts; i++)
		out_close(io->outs[i]);
}

/* ---- rank 0's input ------------------------------------------------------ */

static void in_set_winsize(struct step_io *io)
{
	struct winsize ws = {0};

	if (io->in_fd < 0 || !io->in_pty || !io->rows || !io->cols)
		return;
	ws.ws_row = (unsigned short)io->rows;
	ws.ws_col = (unsigned short)io->cols;
	if (ioctl(io->in_fd, TIOCSWINSZ, &ws) < 0)
		log_debug("TIOCSWINSZ: %s", strerror(errno));
}

/* Write what is queued, or finish the input once mrun's stdin ended. */
static void in_schedule(struct step_io *io)
{
	if (io->in_fd < 0)
		return;
	if (evbuffer_get_length(io->in_buf)) {
		event_add(io->in_ev, NULL);
	} else if (io->in_eof && !io->in_pty) {
		in_close(io); /* rank 0 reads EOF */
	}
}

static void in_cb(evutil_socket_t fd, short what, void *arg)
{
	struct step_io *io = arg;
	char b[64];

	if (evbuffer_write(io->in_buf, io->in_fd) < 0 && errno != EAGAIN &&
	    errno != EINTR) {
		/* rank 0 closed its stdin or exited: the rest is dropped */
		log_debug("%s: rank 0's stdin: %s; input dropped",
			  sid(io, b, 64), strerror(errno));
		in_close(io);
		return;
	}
	in_schedule(io);
}

void io_set_stdin(struct step_io *io, int fd, bool pty)
{
	in_close(io);
	io->in_fd = fd;
	io->in_pty = pty;
	set_nonblock(fd);
	set_cloexec(fd);
	io->in_ev = event_new(io->st->s->base, fd, EV_WRITE, in_cb, io);
	in_set_winsize(io);
	in_schedule(io);
}

/* ---- frames from mrun ---------------------------------------------------- */

static void on_go(struct step_io *io, const ProtobufCMessage *m)
{
	step_go(io->st, (const Meridian__StepGo *)m);
}

static void on_input(struct step_io *io, const ProtobufCMessage *m)
{
	const Meridian__StepInput *in = (const void *)m;

	if (io->st->me->first_rank != 0 || !io->st->nranks)
		return; /* rank 0 is elsewhere */
	if (in->rows && in->cols) {
		io->rows = in->rows;
		io->cols = in->cols;
		in_set_winsize(io);
	}
	if (io->in_eof)
		return;
	evbuffer_add(io->in_buf, in->data.data, in->data.len);
	if (in->eof) {
		io->in_eof = true;
		/* on a terminal the end of input is ^D, not a hang-up */
		if (io->in_pty)
			evbuffer_add(io->in_buf, "\x04", 1);
	}
	in_schedule(io);
}

static void on_signal(struct step_io *io, const ProtobufCMessage *m)
{
	const Meridian__StepSignal *sig = (const void *)m;
	char b[64];

	if (sig->kill) {
		step_kill(io->st, 0,
			  *sig->reason ? sig->reason : "killed by mrun");
	} else if (sig->signal > 0 && sig->signal < NSIG) {
		step_signal(io->st, sig->signal);
	} else {
		log_warnx("%s: mrun sent STEP_SIGNAL %d: expected 1 to %d; "
			  "ignored",
			  sid(io, b, 64), sig->signal, NSIG - 1);
	}
}

/* What mrun may send. */
static const struct io_handler {
	Meridian__MsgType type;
	void (*fn)(struct step_io *io, const ProtobufCMessage *m);
} io_handlers[] = {
	{MERIDIAN__MSG_TYPE__MSG_STEP_GO, on_go},
	{MERIDIAN__MSG_TYPE__MSG_STEP_INPUT, on_input},
	{MERIDIAN__MSG_TYPE__MSG_STEP_SIGNAL, on_signal},
};

/* mrun is gone (or broke the protocol): the ranks go too. */
static void io_lost(struct step_io *io, const char *why)
{
	char b[64];

	if (io->ending) {
		/* mrun has the end and closed: done */
		conn_destroy(io->conn);
		io->conn = NULL;
		event_base_loopexit(io->st->s->base, NULL);
		return;
	}
	log_warnx("%s: connection to mrun lost: %s", sid(io, b, 64), why);
	conn_destroy(io->conn);
	io->conn = NULL;
	step_kill(io->st, 0, "mrun went away");
}

static void io_on_frame(struct conn *c, const struct frame_hdr *h,
			const uint8_t *cred, const uint8_t *body, void *arg)
{
	struct step_io *io = arg;
	const struct io_handler *ih = NULL;
	ProtobufCMessage *m;
	struct mer_error err;
	char b[64], why[sizeof(err.text) + 64];

	if (io->ending)
		return;
	for (size_t i = 0; i < sizeof(io_handlers) / sizeof(*io_handlers); i++)
		if (io_handlers[i].type == h->type)
			ih = &io_handlers[i];
	if (h->flags || !ih) {
		log_warnx("%s: mrun sent %s (flags 0x%x): expected STEP_GO, "
			  "STEP_INPUT or STEP_SIGNAL; ignored",
			  sid(io, b, 64), msg_type_name(h->type), h->flags);
		return;
	}
	if (!(m = frame_unpack_body(h, body, h->body_len, &err))) {
		snprintf(why, sizeof(why), "%s does not decode: %s",
			 msg_type_name(h->type), err.text);
		io_lost(io, why);
		return;
	}
	ih->fn(io, m);
	protobuf_c_message_free_unpacked(m, NULL);
}

static void io_on_close(struct conn *c, const char *why, void *arg)
{
	io_lost(arg, why);
}

/* ---- to mrun ------------------------------------------------------------- */

/* mrun's machine may die without a word: keepalive notices in ~2 min. */
static void keepalive(int fd)
{
	int one = 1, idle = 60, intvl = 10, cnt = 6;

	setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
}

int io_connect(struct step_io *io, uint16_t kvs_port, struct mer_error *err)
{
	const struct step *st = io->st;
	const Meridian__LaunchStep *ls = st->ls;
	Meridian__StepHello hello = MERIDIAN__STEP_HELLO__INIT;
	char peer[300];
	uint8_t *buf;
	size_t len;
	int fd, rc;

	if (!*ls->io_host || !ls->io_port || ls->io_port > 65535) {
		errno = EINVAL;
		return mer_error_set(err,
				     "the launch names no mrun to reach "
				     "(io_host \"%.64s\", io_port %u)",
				     ls->io_host, ls->io_port);
	}
	fd = tcp_connect(ls->io_host, (uint16_t)ls->io_port,
			 IO_CONNECT_TIMEOUT_MS, NULL);
	if (fd < 0)
		return mer_error_set(err, "cannot reach mrun at %s:%u: %s",
				     ls->io_host, ls->io_port, strerror(errno));
	keepalive(fd);
	hello.job_id = st->s->job_id;
	hello.step_id = st->s->step_id;
	hello.node_index = st->node_index;
	hello.io_key = ls->io_key;
	hello.kvs_port = kvs_port;
	hello.master_port = st->node_index == 0 ? st->master_port : 0;
	/*
	 * mrun checks the credential before it reads the body (the body's
	 * copy is for an mrun older than that).  The hello is written at
	 * once, on the socket just connected (a few hundred bytes fit in its
	 * empty buffer): mrun closes the oldest of the connections from one
	 * address that have not proved the key when a flood comes from
	 * there, and ours must not wait for a turn of the loop to prove it.
	 */
	buf = frame_build(MERIDIAN__MSG_TYPE__MSG_STEP_HELLO, 0, 0,
			  ls->io_key.data, ls->io_key.len, &hello.base, &len);
	rc = write_all(fd, buf, len);
	free(buf);
	if (rc < 0) {
		int e = errno;
		close(fd);
		return mer_error_set(err, "cannot reach mrun at %s:%u: %s",
				     ls->io_host, ls->io_port, strerror(e));
	}
	snprintf(peer, sizeof(peer), "mrun %s:%u", ls->io_host, ls->io_port);
	if (!(io->conn = conn_create(st->s->base, fd, peer, io_on_frame,
				     io_on_close, io)))
		return mer_error_set(err,
				     "cannot reach mrun at %s:%u: out of "
				     "memory",
				     ls->io_host, ls->io_port);
	return 0;
}

void io_task_exit(struct step_io *io, const Meridian__TaskExit *te)
{
	if (io->conn && !io->ending)
		conn_send_msg(io->conn, MERIDIAN__MSG_TYPE__MSG_TASK_EXIT, 0, 0,
			      NULL, 0, &te->base);
}

void io_node_end(struct step_io *io, const Meridian__StepEnd *e)
{
	if (io->conn && !io->ending)
		conn_send_msg(io->conn, MERIDIAN__MSG_TYPE__MSG_STEP_NODE_END,
			      0, 0, NULL, 0, &e->base);
}

/*
 * Once the end is written out, shut our side down and wait for mrun to
 * close: closing first with mrun's bytes unread would reset the
 * connection, and a reset can discard what mrun has not read yet.
 */
static void finish_cb(evutil_socket_t fd, short what, void *arg)
{
	struct step_io *io = arg;
	struct timeval tv = {0, IO_FINISH_TICK_MS * 1000};

	if (!io->conn || mer_mono_ms() > io->finish_deadline_ms) {
		event_base_loopexit(io->st->s->base, NULL);
		return;
	}
	if (!io->shut && conn_pending_output(io->conn) == 0) {
		shutdown(conn_fd(io->conn), SHUT_WR);
		io->shut = true;
	}
	evtimer_add(io->finish_ev, &tv);
}

void io_finish(struct step_io *io)
{
	io->ending = true;
	in_close(io);
	if (io->resume_ev)
		evtimer_del(io->resume_ev);
	if (!io->conn) {
		event_base_loopexit(io->st->s->base, NULL);
		return;
	}
	io->finish_deadline_ms = mer_mono_ms() + IO_FINISH_MAX_MS;
	io->finish_ev = evtimer_new(io->st->s->base, finish_cb, io);
	finish_cb(-1, 0, io);
}
