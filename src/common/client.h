/*
 * client.h - one request, one reply: how commands talk to mctld.
 */
#ifndef MER_CLIENT_H
#define MER_CLIENT_H

#include <protobuf-c/protobuf-c.h>
#include "auth.h"
#include "conf.h"
#include "frame.h"

struct client;

/* Reads nothing yet; connects on the first call.  NULL with err. */
struct client *client_create(const struct conf *c, struct mer_error *err);
void client_destroy(struct client *cl); /* accepts NULL */

/*
 * Send req as message type and wait for the reply (timeout in seconds, 0
 * for the default of 60).  On success *reply is the unpacked reply message
 * (free with protobuf_c_message_free_unpacked(*reply, NULL)).  On failure
 * returns -1 with errno set and err filled: ECONNREFUSED and friends when
 * mctld cannot be reached, or the code of the controller's ErrorReply.
 */
int client_call(struct client *cl, Meridian__MsgType type,
		const ProtobufCMessage *req, ProtobufCMessage **reply,
		int timeout, struct mer_error *err);

/* Replies from now on are unpacked with a (NULL: malloc): freed with
 * protobuf_c_message_free_unpacked(reply, a). */
void client_set_allocator(struct client *cl, ProtobufCAllocator *a);
ProtobufCAllocator *client_allocator(const struct client *cl);

/* Exit codes every command uses. */
#define MER_EXIT_OK	 0
#define MER_EXIT_ERROR	 1 /* the request was refused or failed */
#define MER_EXIT_USAGE	 2 /* bad options */
#define MER_EXIT_CONNECT 3 /* controller unreachable */

#endif
