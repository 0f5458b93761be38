/*
 * frame.c - the wire frame and the table of message types.
 *
 * The table is the one place that binds a MsgType to its protobuf request
 * and reply messages; daemons add their handler and access level on top of
 * it in their own RPC tables.  meridian.proto's comment on each MsgType
 * names the same messages ("SubmitJobRequest -> SubmitJobReply", or
 * "StepHello: ..." for a one-way frame); test_frame.c fails when a type
 * has no row here, or a row disagrees with that comment.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"
#include "util.h"

#define D(x) &meridian__##x##__descriptor

static const struct msg_type_info msg_types[] = {
	{MERIDIAN__MSG_TYPE__MSG_SUBMIT_JOB, "SUBMIT_JOB",
	 D(submit_job_request), D(submit_job_reply)},
	{MERIDIAN__MSG_TYPE__MSG_JOB_INFO, "JOB_INFO", D(job_info_request),
	 D(job_info_reply)},
	{MERIDIAN__MSG_TYPE__MSG_CANCEL_JOB, "CANCEL_JOB",
	 D(cancel_job_request), D(job_action_reply)},
	{MERIDIAN__MSG_TYPE__MSG_UPDATE_JOB, "UPDATE_JOB",
	 D(update_job_request), D(job_action_reply)},
	{MERIDIAN__MSG_TYPE__MSG_JOB_SCRIPT, "JOB_SCRIPT",
	 D(job_script_request), D(job_script_reply)},
	{MERIDIAN__MSG_TYPE__MSG_NODE_INFO, "NODE_INFO", D(node_info_request),
	 D(node_info_reply)},
	{MERIDIAN__MSG_TYPE__MSG_UPDATE_NODE, "UPDATE_NODE",
	 D(update_node_request), D(update_node_reply)},
	{MERIDIAN__MSG_TYPE__MSG_PING, "PING", D(ping_request), D(ping_reply)},
	{MERIDIAN__MSG_TYPE__MSG_NODE_REGISTER, "NODE_REGISTER",
	 D(node_register), D(node_register_reply)},
	{MERIDIAN__MSG_TYPE__MSG_NODE_HEARTBEAT, "NODE_HEARTBEAT",
	 D(node_heartbeat), D(ack)},
	{MERIDIAN__MSG_TYPE__MSG_JOB_END, "JOB_END", D(job_end), D(ack)},
	{MERIDIAN__MSG_TYPE__MSG_LAUNCH_JOB, "LAUNCH_JOB", D(launch_job),
	 D(ack)},
	{MERIDIAN__MSG_TYPE__MSG_SIGNAL_JOB, "SIGNAL_JOB", D(signal_job),
	 D(ack)},
	{MERIDIAN__MSG_TYPE__MSG_STEP_CREATE, "STEP_CREATE",
	 D(step_create_request), D(step_create_reply)},
	{MERIDIAN__MSG_TYPE__MSG_JOB_COMPLETE, "JOB_COMPLETE",
	 D(job_complete_request), D(job_action_reply)},
	{MERIDIAN__MSG_TYPE__MSG_JOB_HISTORY, "JOB_HISTORY",
	 D(job_history_request), D(job_history_reply)},
	{MERIDIAN__MSG_TYPE__MSG_STEP_END, "STEP_END", D(step_end), D(ack)},
	{MERIDIAN__MSG_TYPE__MSG_LAUNCH_STEP, "LAUNCH_STEP", D(launch_step),
	 D(ack)},
	{MERIDIAN__MSG_TYPE__MSG_LINK_INFO, "LINK_INFO", D(link_info_request),
	 D(link_info_reply)},
	{MERIDIAN__MSG_TYPE__MSG_QUOTE, "QUOTE", D(quote_request),
	 D(quote_reply)},
	{MERIDIAN__MSG_TYPE__MSG_PROBE_RESULT, "PROBE_RESULT", D(probe_result),
	 D(ack)},
	{MERIDIAN__MSG_TYPE__MSG_PROBE_ARM, "PROBE_ARM", D(probe_request),
	 D(ack)},
	{MERIDIAN__MSG_TYPE__MSG_PROBE_RUN, "PROBE_RUN", D(probe_request),
	 D(ack)},
	/* a step's own one-way frames (no reply) */
	{MERIDIAN__MSG_TYPE__MSG_STEP_HELLO, "STEP_HELLO", D(step_hello), NULL},
	{MERIDIAN__MSG_TYPE__MSG_STEP_OUTPUT, "STEP_OUTPUT", D(step_output),
	 NULL},
	{MERIDIAN__MSG_TYPE__MSG_TASK_EXIT, "TASK_EXIT", D(task_exit), NULL},
	{MERIDIAN__MSG_TYPE__MSG_STEP_NODE_END, "STEP_NODE_END", D(step_end),
	 NULL},
	{MERIDIAN__MSG_TYPE__MSG_STEP_GO, "STEP_GO", D(step_go), NULL},
	{MERIDIAN__MSG_TYPE__MSG_STEP_INPUT, "STEP_INPUT", D(step_input), NULL},
	{MERIDIAN__MSG_TYPE__MSG_STEP_SIGNAL, "STEP_SIGNAL", D(step_signal),
	 NULL},
	{MERIDIAN__MSG_TYPE__MSG_KVS_FENCE, "KVS_FENCE", D(kvs_fence), NULL},
	{MERIDIAN__MSG_TYPE__MSG_KVS_RELEASE, "KVS_RELEASE", D(kvs_fence),
	 NULL},
	/* a probe's own one-way frames (probe.c) */
	{MERIDIAN__MSG_TYPE__MSG_PROBE_HELLO, "PROBE_HELLO", D(probe_hello),
	 NULL},
	{MERIDIAN__MSG_TYPE__MSG_PROBE_ECHO, "PROBE_ECHO", D(probe_echo), NULL},
	{MERIDIAN__MSG_TYPE__MSG_PROBE_PHASE, "PROBE_PHASE", D(probe_phase),
	 NULL},
	{MERIDIAN__MSG_TYPE__MSG_PROBE_COUNT, "PROBE_COUNT", D(probe_count),
	 NULL},
};

const struct msg_type_info *msg_type_lookup(unsigned type)
{
	for (size_t i = 0; i < sizeof(msg_types) / sizeof(msg_types[0]); i++)
		if ((unsigned)msg_types[i].type == type)
			return &msg_types[i];
	return NULL;
}

const struct msg_type_info *msg_type_table(size_t *n)
{
	*n = sizeof(msg_types) / sizeof(msg_types[0]);
	return msg_types;
}

const char *msg_type_name(unsigned type)
{
	const struct msg_type_info *t = msg_type_lookup(type);

	return t ? t->name : "UNKNOWN";
}

static void put32(uint8_t *p, uint32_t v)
{
	v = htonl(v);
	memcpy(p, &v, 4);
}

static void put16(uint8_t *p, uint16_t v)
{
	v = htons(v);
	memcpy(p, &v, 2);
}

static uint32_t get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return ntohl(v);
}

static uint16_t get16(const uint8_t *p)
{
	uint16_t v;

	memcpy(&v, p, 2);
	return ntohs(v);
}

void frame_hdr_encode(const struct frame_hdr *h, uint8_t out[MER_FRAME_HDR_LEN])
{
	put32(out + 0, h->magic);
	put16(out + 4, h->version);
	put16(out + 6, h->type);
	put32(out + 8, h->flags);
	put32(out + 12, h->req_id);
	put32(out + 16, h->cred_len);
	put32(out + 20, h->body_len);
	put32(out + 24, 0);
}

int frame_hdr_decode(const uint8_t in[MER_FRAME_HDR_LEN], struct frame_hdr *h,
		     struct mer_error *err)
{
	h->magic = get32(in + 0);
	h->version = get16(in + 4);
	h->type = get16(in + 6);
	h->flags = get32(in + 8);
	h->req_id = get32(in + 12);
	h->cred_len = get32(in + 16);
	h->body_len = get32(in + 20);

	errno = EPROTO;
	if (h->magic != MER_FRAME_MAGIC)
		return mer_error_set(err,
				     "bad frame magic 0x%08x, expected 0x%08x "
				     "(not a Meridian peer?)",
				     h->magic, MER_FRAME_MAGIC);
	if (h->version < MER_PROTO_VERSION_MIN ||
	    h->version > MER_PROTO_VERSION)
		return mer_error_set(err,
				     "protocol version %u not supported, "
				     "expected %u or %u",
				     h->version, MER_PROTO_VERSION_MIN,
				     MER_PROTO_VERSION);
	if (!msg_type_lookup(h->type))
		return mer_error_set(err, "unknown message type %u", h->type);
	if (h->flags & ~(MER_FRAME_REPLY | MER_FRAME_ERROR))
		return mer_error_set(err, "unknown frame flags 0x%x", h->flags);
	/* An error is a reply: a "request" flagged error would be decoded
	 * as an ErrorReply and handled as the request type it names. */
	if ((h->flags & MER_FRAME_ERROR) && !(h->flags & MER_FRAME_REPLY))
		return mer_error_set(err,
				     "frame flags 0x%x: the error flag without "
				     "the reply flag, expected it only on a "
				     "reply",
				     h->flags);
	if (h->cred_len > MER_FRAME_MAX_CRED)
		return mer_error_set(
			err, "credential of %u bytes, at most %u allowed",
			h->cred_len, MER_FRAME_MAX_CRED);
	if (h->body_len > MER_FRAME_MAX_BODY)
		return mer_error_set(err,
				     "body of %u bytes, at most %u allowed",
				     h->body_len, MER_FRAME_MAX_BODY);
	return 0;
}

uint8_t *frame_build(uint16_t type, uint32_t flags, uint32_t req_id,
		     const void *cred, size_t cred_len,
		     const ProtobufCMessage *msg, size_t *len)
{
	return frame_build_sized(
		type, flags, req_id, cred, cred_len, msg,
		msg ? protobuf_c_message_get_packed_size(msg) : 0, len);
}

/* A frame's buffer with its header written; cred and body to follow. */
static uint8_t *frame_start(uint16_t type, uint32_t flags, uint32_t req_id,
			    size_t cred_len, size_t body_len)
{
	struct frame_hdr h = {
		.magic = MER_FRAME_MAGIC,
		.version = MER_PROTO_VERSION,
		.type = type,
		.flags = flags,
		.req_id = req_id,
		.cred_len = (uint32_t)cred_len,
		.body_len = (uint32_t)body_len,
	};
	uint8_t *buf = xmalloc(MER_FRAME_HDR_LEN + cred_len + body_len);

	frame_hdr_encode(&h, buf);
	return buf;
}

uint8_t *frame_build_sized(uint16_t type, uint32_t flags, uint32_t req_id,
			   const void *cred, size_t cred_len,
			   const ProtobufCMessage *msg, size_t body_len,
			   size_t *len)
{
	uint8_t *buf = frame_start(type, flags, req_id, cred_len, body_len);

	if (cred_len)
		memcpy(buf + MER_FRAME_HDR_LEN, cred, cred_len);
	if (msg)
		protobuf_c_message_pack(msg,
					buf + MER_FRAME_HDR_LEN + cred_len);
	*len = MER_FRAME_HDR_LEN + cred_len + body_len;
	return buf;
}

static size_t varint_len(uint64_t v)
{
	size_t n = 1;

	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

static size_t varint_put(uint64_t v, uint8_t *out)
{
	size_t n = 0;

	while (v >= 0x80) {
		out[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	out[n++] = (uint8_t)v;
	return n;
}

size_t frame_items_len(const ProtobufCMessage *head, unsigned field,
		       const size_t *sizes, size_t n)
{
	size_t len = protobuf_c_message_get_packed_size(head),
	       tag = varint_len((uint64_t)field << 3 | 2);

	for (size_t i = 0; i < n; i++)
		len += tag + varint_len(sizes[i]) + sizes[i];
	return len;
}

uint8_t *frame_build_items(uint16_t type, uint32_t flags, uint32_t req_id,
			   const ProtobufCMessage *head, unsigned field,
			   const ProtobufCMessage *const *items,
			   const size_t *sizes, size_t n, size_t body_len,
			   size_t *len)
{
	uint8_t *buf = frame_start(type, flags, req_id, 0, body_len), *p;
	uint64_t tag = (uint64_t)field << 3 | 2;

	p = buf + MER_FRAME_HDR_LEN;
	for (size_t i = 0; i < n; i++) {
		p += varint_put(tag, p);
		p += varint_put(sizes[i], p);
		p += protobuf_c_message_pack(items[i], p);
	}
	p += protobuf_c_message_pack(head, p);
	*len = (size_t)(p - buf);
	return buf;
}

uint8_t *frame_build_error(uint16_t type, uint32_t req_id, int code,
			   const char *text, size_t *len)
{
	Meridian__ErrorReply er = MERIDIAN__ERROR_REPLY__INIT;

	er.code = code;
	er.text = (char *)(text ? text : "");
	return frame_build(type, MER_FRAME_REPLY | MER_FRAME_ERROR, req_id,
			   NULL, 0, &er.base, len);
}

/*
 * Does m (or a message inside it) hold an unknown field numbered 0?  No
 * valid message does, but protobuf-c 1.4 takes field 0 written as the
 * overlong tag 80 00 and keeps it, then packs it as 00, which it refuses
 * to decode: a request carrying one would be stored and sent on as a
 * record nobody can read again (a job lost at the next restart).
 */
static bool msg_has_field0(const ProtobufCMessage *m)
{
	const ProtobufCMessageDescriptor *d = m->descriptor;
	const char *base = (const char *)m;

	for (unsigned i = 0; i < m->n_unknown_fields; i++)
		if (m->unknown_fields[i].tag == 0)
			return true;
	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];

		if (f->type != PROTOBUF_C_TYPE_MESSAGE)
			continue;
		if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			size_t n =
				*(const size_t *)(base + f->quantifier_offset);
			ProtobufCMessage *const *v =
				*(ProtobufCMessage *const *const *)(base +
								    f->offset);

			for (size_t k = 0; k < n; k++)
				if (v[k] && msg_has_field0(v[k]))
					return true;
		} else {
			const ProtobufCMessage *sub =
				*(const ProtobufCMessage *const *)(base +
								   f->offset);

			if (sub && msg_has_field0(sub))
				return true;
		}
	}
	return false;
}

ProtobufCMessage *frame_unpack_body(const struct frame_hdr *h,
				    const uint8_t *body, size_t len,
				    struct mer_error *err)
{
	return frame_unpack_body_with(h, body, len, NULL, err);
}

ProtobufCMessage *frame_unpack_body_with(const struct frame_hdr *h,
					 const uint8_t *body, size_t len,
					 ProtobufCAllocator *a,
					 struct mer_error *err)
{
	const struct msg_type_info *t = msg_type_lookup(h->type);
	const ProtobufCMessageDescriptor *d;
	ProtobufCMessage *m;

	if (!t) {
		errno = EPROTO;
		mer_error_set(err, "unknown message type %u", h->type);
		return NULL;
	}
	if (h->flags & MER_FRAME_ERROR)
		d = &meridian__error_reply__descriptor;
	else if (h->flags & MER_FRAME_REPLY) {
		if (!(d = t->reply)) {
			errno = EPROTO;
			mer_error_set(err,
				      "%s is a one-way message: it has no "
				      "reply",
				      t->name);
			return NULL;
		}
	} else
		d = t->request;
	m = protobuf_c_message_unpack(d, a, len, body);
	if (!m) {
		errno = EPROTO;
		mer_error_set(
			err, "%s %s: body of %zu bytes does not decode as %s",
			t->name,
			(h->flags & MER_FRAME_REPLY) ? "reply" : "request", len,
			d->name);
	} else if (msg_has_field0(m)) {
		protobuf_c_message_free_unpacked(m, a);
		m = NULL;
		errno = EPROTO;
		mer_error_set(err,
			      "%s %s: body of %zu bytes holds a field "
			      "numbered 0, which no message has",
			      t->name,
			      (h->flags & MER_FRAME_REPLY) ? "reply"
							   : "request",
			      len);
	}
	return m;
}
