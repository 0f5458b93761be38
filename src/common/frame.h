/*
 * frame.h - Meridian's wire frame and message table.
 *
 * A frame is a fixed 28-byte header, all fields big-endian:
 *
 *   magic    u32  'MRDN'
 *   version  u16  protocol version of the sender
 *   type     u16  MsgType from meridian.proto
 *   flags    u32  MER_FRAME_REPLY, MER_FRAME_ERROR
 *   req_id   u32  chosen by the requester, echoed in the reply
 *   cred_len u32  bytes of credential after the header
 *   body_len u32  bytes of protobuf body after the credential
 *   reserved u32  zero
 *
 * then the credential (munge, opaque here), then the body: the message the
 * table names for (type, reply), or ErrorReply when MER_FRAME_ERROR is set.
 * A receiver accepts versions MER_PROTO_VERSION and MER_PROTO_VERSION - 1.
 */
#ifndef MER_FRAME_H
#define MER_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <protobuf-c/protobuf-c.h>
#include "merr.h"
#include "meridian.pb-c.h"

#define MER_FRAME_MAGIC	      0x4d52444eu /* "MRDN" */
#define MER_PROTO_VERSION     2
#define MER_PROTO_VERSION_MIN (MER_PROTO_VERSION - 1)
#define MER_FRAME_HDR_LEN     28
#define MER_FRAME_MAX_CRED    4096
#define MER_FRAME_MAX_BODY    (16u << 20)

#define MER_FRAME_REPLY 0x1u
#define MER_FRAME_ERROR 0x2u

struct frame_hdr {
	uint32_t magic;
	uint16_t version;
	uint16_t type;
	uint32_t flags;
	uint32_t req_id;
	uint32_t cred_len;
	uint32_t body_len;
};

/* Who may send a request (the RPC tables of daemons use these). */
enum msg_access {
	MSG_ACCESS_ANY = 0, /* any authenticated user */
	MSG_ACCESS_OWNER,   /* any user; the handler checks job ownership */
	MSG_ACCESS_ADMIN,   /* root or AdminUsers= */
	MSG_ACCESS_NODE,    /* a node daemon (root or the daemons' user) */
};

struct msg_type_info {
	Meridian__MsgType type;
	const char *name; /* "SUBMIT_JOB" */
	const ProtobufCMessageDescriptor *request;
	const ProtobufCMessageDescriptor *reply; /* NULL: one-way */
};

/* NULL for an unknown type. */
const struct msg_type_info *msg_type_lookup(unsigned type);
/* The whole table, *n rows, static: test_frame.c checks it against
 * meridian.proto's MsgType (a row for every type, the bodies its comments
 * name). */
const struct msg_type_info *msg_type_table(size_t *n);
const char *msg_type_name(unsigned type); /* "TYPE_123" when unknown */

void frame_hdr_encode(const struct frame_hdr *h,
		      uint8_t out[MER_FRAME_HDR_LEN]);
/* Check a received header: magic, version, known type, lengths within the
 * limits.  Returns 0 or -1 with err saying which field is wrong. */
int frame_hdr_decode(const uint8_t in[MER_FRAME_HDR_LEN], struct frame_hdr *h,
		     struct mer_error *err);

/*
 * Build a whole frame: header, cred, packed msg (msg may be NULL for an
 * empty body).  Returns a malloc'd buffer and its length in *len.
 */
uint8_t *frame_build(uint16_t type, uint32_t flags, uint32_t req_id,
		     const void *cred, size_t cred_len,
		     const ProtobufCMessage *msg, size_t *len);

/* The same when msg's packed size is known already (body_len): a large
 * reply's size is computed once, not twice. */
uint8_t *frame_build_sized(uint16_t type, uint32_t flags, uint32_t req_id,
			   const void *cred, size_t cred_len,
			   const ProtobufCMessage *msg, size_t body_len,
			   size_t *len);

/* The bytes of packing head with items[0..n) in its repeated message
 * field numbered field (left empty in head), each item's packed size
 * known already (sizes[i]): a large reply's records are sized once, not
 * three times.  body_len: what frame_items_len returned. */
size_t frame_items_len(const ProtobufCMessage *head, unsigned field,
		       const size_t *sizes, size_t n);
uint8_t *frame_build_items(uint16_t type, uint32_t flags, uint32_t req_id,
			   const ProtobufCMessage *head, unsigned field,
			   const ProtobufCMessage *const *items,
			   const size_t *sizes, size_t n, size_t body_len,
			   size_t *len);

/* Build an error reply frame for a request. */
uint8_t *frame_build_error(uint16_t type, uint32_t req_id, int code,
			   const char *text, size_t *len);

/*
 * Unpack the body of a frame whose header is h: with the request or reply
 * descriptor of h->type, or ErrorReply when MER_FRAME_ERROR is set.
 * Free with protobuf_c_message_free_unpacked(msg, NULL).
 * Returns NULL with err when the body does not decode.
 */
ProtobufCMessage *frame_unpack_body(const struct frame_hdr *h,
				    const uint8_t *body, size_t len,
				    struct mer_error *err);
/* The same with the allocator a (NULL: protobuf-c's, malloc): the
 * message is freed with protobuf_c_message_free_unpacked(m, a). */
ProtobufCMessage *frame_unpack_body_with(const struct frame_hdr *h,
					 const uint8_t *body, size_t len,
					 ProtobufCAllocator *a,
					 struct mer_error *err);

#endif
