/*
 * fuzz_frame.c - the byte stream of a Meridian connection, cut into
 * frames by conn.c and each frame's body decoded as the daemon at the
 * receiving end decodes it.
 *
 * The input: a byte whose bits 0-2 pick the receiver (the table below),
 * then the bytes the peer sends.  They go through a socketpair into a
 * real conn on a libevent loop, as they would from TCP; the receiver's
 * callback decodes the frames of the types it takes (frame_unpack_body,
 * as rpc.c, ctl.c, main.c, step_io.c, step_kvs.c, mrun_io.c and
 * client.c do) and, like those daemons, drops the connection from
 * inside the callback when a body does not decode.  For mctld the
 * connection has its limits and a header callback whose verdict
 * (read, wait and resume, refuse) the frame's req_id picks, as mctld's
 * credential check and room accounting would.
 *
 * Checks: conn hands on only frames whose header decodes and whose
 * cred and body lengths are the header's; a header re-encodes to the
 * same bytes; a decoded body packs again and that packing decodes and
 * packs to the same bytes (what a daemon forwards or stores is what it
 * read).  The message-level handlers of mctld and mrun have targets of
 * their own (fuzz_mctld, fuzz_mrun_io).
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "conn.h"
#include "frame.h"
#include "fuzz_util.h"

#define MT(x) MERIDIAN__MSG_TYPE__MSG_##x

/* What each receiver decodes: requests (flags 0) of some types, replies
 * to what it sent of others.  Listed as the daemons' tables list them. */
struct receiver {
	const char *name;
	Meridian__MsgType requests[16];
	Meridian__MsgType replies[16];
	bool one_way; /* frames with flags are dropped, not decoded */
	bool mctld;   /* conn limits and a header callback */
};

static const struct receiver receivers[8] = {
	{"mctld (rpc.c rpc_table, handle_push_reply)",
	 {MT(SUBMIT_JOB), MT(JOB_INFO), MT(CANCEL_JOB), MT(UPDATE_JOB),
	  MT(JOB_SCRIPT), MT(NODE_INFO), MT(UPDATE_NODE), MT(PING),
	  MT(NODE_REGISTER), MT(NODE_HEARTBEAT), MT(JOB_END), MT(STEP_CREATE),
	  MT(JOB_COMPLETE), MT(STEP_END)},
	 {MT(LAUNCH_JOB), MT(SIGNAL_JOB), MT(LAUNCH_STEP)},
	 false,
	 true},
	{"mnoded from mctld (ctl.c push_handlers, reply_handlers)",
	 {MT(LAUNCH_JOB), MT(LAUNCH_STEP), MT(SIGNAL_JOB)},
	 {MT(NODE_REGISTER), MT(NODE_HEARTBEAT), MT(JOB_END), MT(STEP_END)},
	 false,
	 false},
	{"mstepd from mnoded (main.c req_handlers)",
	 {MT(SIGNAL_JOB)},
	 {0},
	 false,
	 false},
	{"mstepd from mrun (step_io.c io_handlers)",
	 {MT(STEP_GO), MT(STEP_INPUT), MT(STEP_SIGNAL)},
	 {0},
	 true,
	 false},
	{"mstepd node 0 from another node's mstepd (step_kvs.c peer_on_frame)",
	 {MT(KVS_FENCE)},
	 {0},
	 true,
	 false},
	{"mstepd from node 0's mstepd (step_kvs.c up_on_frame)",
	 {MT(KVS_RELEASE)},
	 {0},
	 true,
	 false},
	{"mrun from mstepd (mrun_io.c peer_on_frame, node_frame)",
	 {MT(STEP_HELLO), MT(STEP_OUTPUT), MT(TASK_EXIT), MT(STEP_NODE_END)},
	 {0},
	 true,
	 false},
	{"a command from mctld (client.c client_call)",
	 {0},
	 {MT(SUBMIT_JOB), MT(JOB_INFO), MT(CANCEL_JOB), MT(UPDATE_JOB),
	  MT(JOB_SCRIPT), MT(NODE_INFO), MT(UPDATE_NODE), MT(PING),
	  MT(STEP_CREATE), MT(JOB_COMPLETE)},
	 false,
	 false},
};

struct fuzz_conn {
	const struct receiver *rcv;
	struct conn *conn;
	bool closed;	    /* on_close came, or we dropped it */
	bool resume_due;    /* a CONN_WAIT to resume from the loop */
	uint32_t waited_id; /* the req_id that waited once already */
	bool waited;
};

static bool listed(const Meridian__MsgType *types, unsigned type)
{
	for (size_t i = 0; i < 16 && types[i]; i++)
		if ((unsigned)types[i] == type)
			return true;
	return false;
}

static void check_repacks(const ProtobufCMessage *m)
{
	size_t n = protobuf_c_message_get_packed_size(m), n2;
	uint8_t *a = xmalloc(n + 1), *b;
	ProtobufCMessage *again;

	if (protobuf_c_message_pack(m, a) != n)
		abort();
	again = protobuf_c_message_unpack(m->descriptor, NULL, n, a);
	if (!again)
		abort(); /* what we packed does not decode */
	n2 = protobuf_c_message_get_packed_size(again);
	b = xmalloc(n2 + 1);
	if (n2 != n || protobuf_c_message_pack(again, b) != n2 ||
	    memcmp(a, b, n) != 0)
		abort(); /* packing is not stable */
	protobuf_c_message_free_unpacked(again, NULL);
	free(a);
	free(b);
}

static void drop(struct fuzz_conn *fc)
{
	conn_destroy(fc->conn);
	fc->conn = NULL;
	fc->closed = true;
}

static void on_frame(struct conn *c, const struct frame_hdr *h,
		     const uint8_t *cred, const uint8_t *body, void *arg)
{
	struct fuzz_conn *fc = arg;
	const struct receiver *r = fc->rcv;
	struct mer_error err = {""};
	uint8_t hb[MER_FRAME_HDR_LEN];
	struct frame_hdr h2;
	ProtobufCMessage *m;
	bool reply = h->flags & MER_FRAME_REPLY;

	if (!msg_type_lookup(h->type) || h->cred_len > MER_FRAME_MAX_CRED ||
	    h->body_len > MER_FRAME_MAX_BODY || body != cred + h->cred_len)
		abort(); /* conn passed on a frame it should have refused */
	frame_hdr_encode(h, hb);
	if (frame_hdr_decode(hb, &h2, &err) < 0 ||
	    memcmp(h, &h2, sizeof(h2)) != 0)
		abort();
	(void)msg_type_name(h->type);
	if ((h->flags & MER_FRAME_ERROR) && !(h->flags & MER_FRAME_REPLY))
		abort(); /* frame_hdr_decode lets no such frame through */
	if (r->one_way && h->flags)
		return; /* ignored, as those receivers do */
	if (!listed(reply ? r->replies : r->requests, h->type))
		return; /* answered "not served" or ignored */
	m = frame_unpack_body(h, body, h->body_len, &err);
	if (!m) {
		if (!err.text[0])
			abort(); /* a refusal must say why */
		drop(fc); /* from inside the callback, as the daemons do */
		return;
	}
	check_repacks(m);
	protobuf_c_message_free_unpacked(m, NULL);
}

static void on_close(struct conn *c, const char *why, void *arg)
{
	struct fuzz_conn *fc = arg;

	if (!why || !*why)
		abort();
	drop(fc);
}

/* mctld's verdicts, picked by the frame: read, wait once then read, or
 * refuse (which closes once the frame is skipped). */
static enum conn_verdict on_header(struct conn *c, const struct frame_hdr *h,
				   const uint8_t *cred, void *arg)
{
	struct fuzz_conn *fc = arg;

	switch (h->req_id & 3) {
	case 2:
		if (fc->waited && fc->waited_id == h->req_id) {
			fc->waited = false;
			return CONN_READ;
		}
		fc->waited = true;
		fc->waited_id = h->req_id;
		fc->resume_due = true;
		return CONN_WAIT;
	case 3:
		return CONN_REFUSE;
	default:
		return CONN_READ;
	}
}

static struct event_base *base;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	base = event_base_new();
	return base ? 0 : -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = {data, size};
	struct fuzz_conn fc = {0};
	const uint8_t *p;
	size_t left;
	int fds[2], turns = 0;
	bool shut = false;

	fc.rcv = &receivers[fuzz_u8(&in) & 7];
	p = in.p;
	left = in.left;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) < 0)
		abort();
	set_nonblock(fds[1]);
	fc.conn = conn_create(base, fds[0], "fuzz:1", on_frame, on_close, &fc);
	if (!fc.conn)
		abort();
	if (fc.rcv->mctld) {
		/* rpc.c's limits, but no timers: time is not an input */
		struct conn_limits lim = {
			.read_ahead = CONN_READ_AHEAD_MIN,
			.max_output = 4u << 20,
		};

		conn_set_limits(fc.conn, &lim);
		conn_set_header_cb(fc.conn, on_header);
	}
	/* Feed the stream as fast as the socket takes it; then EOF.  The
	 * loop turns are bounded: a frame the receiver waits on forever
	 * ends the input, as a peer that stops sending would. */
	while (!fc.closed && turns++ < 10000) {
		if (left) {
			ssize_t w = write(fds[1], p, left);

			if (w > 0) {
				p += w;
				left -= (size_t)w;
			} else if (w < 0 && errno != EAGAIN && errno != EINTR) {
				left = 0; /* the receiver closed */
			}
		}
		if (!left && !shut) {
			shutdown(fds[1], SHUT_WR);
			shut = true;
		}
		if (fc.resume_due && fc.conn) {
			fc.resume_due = false;
			conn_resume(fc.conn);
		}
		event_base_loop(base, EVLOOP_NONBLOCK);
	}
	if (fc.conn)
		drop(&fc);
	close(fds[1]);
	return 0;
}
