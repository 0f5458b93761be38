/*
 * client.c - the blocking request/reply used by commands.
 *
 * One request per call on one TCP connection, opened on first use and kept
 * for the next call.  Each request gets a fresh credential.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client.h"
#include "conn.h"
#include "util.h"

struct client {
	const struct conf *conf;
	struct auth *auth;
	int fd;
	uint32_t next_id;
	ProtobufCAllocator *alloc; /* replies', NULL malloc */
};

void client_set_allocator(struct client *cl, ProtobufCAllocator *a)
{
	cl->alloc = a;
}

ProtobufCAllocator *client_allocator(const struct client *cl)
{
	return cl->alloc;
}

struct client *client_create(const struct conf *c, struct mer_error *err)
{
	struct client *cl = xcalloc(1, sizeof(*cl));

	cl->conf = c;
	cl->fd = -1;
	cl->next_id = (uint32_t)getpid() << 8;
	cl->auth = auth_create(c, err);
	if (!cl->auth) {
		free(cl);
		return NULL;
	}
	return cl;
}

void client_destroy(struct client *cl)
{
	if (!cl)
		return;
	if (cl->fd >= 0)
		close(cl->fd);
	auth_destroy(cl->auth);
	free(cl);
}

/* read exactly n bytes before the deadline (ms, monotonic) */
static int read_deadline(int fd, void *buf, size_t n, int64_t deadline)
{
	char *p = buf;

	while (n > 0) {
		struct pollfd pf = {.fd = fd, .events = POLLIN};
		int64_t left = deadline - mer_mono_ms();
		ssize_t r;

		if (left <= 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		if (poll(&pf, 1, (int)left) < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		r = read(fd, p, n);
		if (r < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return -1;
		}
		if (r == 0) {
			errno = EPIPE;
			return -1;
		}
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

int client_call(struct client *cl, Meridian__MsgType type,
		const ProtobufCMessage *req, ProtobufCMessage **reply,
		int timeout, struct mer_error *err)
{
	const struct conf *c = cl->conf;
	int64_t deadline = mer_mono_ms() + (timeout > 0 ? timeout : 60) * 1000;
	uint8_t hb[MER_FRAME_HDR_LEN], *frame, *body = NULL;
	struct frame_hdr h;
	ProtobufCMessage *m;
	char *cred = NULL;
	size_t cred_len, len;
	uint32_t id = ++cl->next_id;

	*reply = NULL;
	if (auth_encode(cl->auth, &cred, &cred_len, err) < 0)
		return -1;
	if (cl->fd < 0) {
		cl->fd = tcp_connect(c->controller_host, c->controller_port,
				     timeout > 0 ? timeout * 1000 : 10000, err);
		if (cl->fd < 0) {
			int saved = errno;
			free(cred);
			mer_error_set(
				err, "cannot reach the controller at %s:%u: %s",
				c->controller_host, c->controller_port,
				strerror(saved));
			errno = saved;
			return -1;
		}
	}
	frame = frame_build((uint16_t)type, 0, id, cred, cred_len, req, &len);
	free(cred);
	if (write_all(cl->fd, frame, len) < 0)
		goto io_error;
	free(frame);
	frame = NULL;
	if (read_deadline(cl->fd, hb, sizeof(hb), deadline) < 0)
		goto io_error;
	if (frame_hdr_decode(hb, &h, err) < 0)
		goto bad_reply;
	if (!(h.flags & MER_FRAME_REPLY) || h.req_id != id || h.type != type) {
		errno = EPROTO;
		mer_error_set(err,
			      "controller answered request %u (%s) with "
			      "frame %u (%s), expected the reply to %u",
			      id, msg_type_name(type), h.req_id,
			      msg_type_name(h.type), id);
		goto bad_reply;
	}
	body = xmalloc(h.cred_len + h.body_len + 1);
	if (read_deadline(cl->fd, body, h.cred_len + h.body_len, deadline) < 0)
		goto io_error;
	m = frame_unpack_body_with(&h, body + h.cred_len, h.body_len, cl->alloc,
				   err);
	free(body);
	if (!m)
		goto bad_reply;
	if (h.flags & MER_FRAME_ERROR) {
		Meridian__ErrorReply *er = (Meridian__ErrorReply *)m;
		int code = er->code ? er->code : EIO;
		mer_error_set(err, "%s", er->text);
		protobuf_c_message_free_unpacked(m, cl->alloc);
		errno = code;
		return -1;
	}
	*reply = m;
	return 0;

io_error : {
	int saved = errno;
	free(frame);
	free(body);
	close(cl->fd);
	cl->fd = -1;
	mer_error_set(err, "lost the controller at %s:%u: %s",
		      c->controller_host, c->controller_port,
		      saved == EPIPE ? "connection closed" : strerror(saved));
	errno = saved == EPIPE ? ECONNRESET : saved;
	return -1;
}
bad_reply:
	close(cl->fd);
	cl->fd = -1;
	errno = EPROTO;
	return -1;
}
