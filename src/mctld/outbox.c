/*
 * outbox.c - what must wait for the commit: durable replies and pushes.
 *
 * A reply that acknowledges a change (a submit, a cancel) and a push to a
 * node that acts on one (launch this job, signal that one) must not leave
 * mctld before the change is on disk: a controller killed in between would
 * have told the world something it forgot.  The managers queue them here,
 * in order; after the turn's commit mctld_turn_end() flushes the outbox:
 *
 *   commit ok      replies are sent, pushes go to their nodes, deferred
 *                  calls run (a LAUNCH_JOB is built then, from the stored
 *                  script)
 *   commit failed  each reply becomes an error saying why; pushes and calls
 *                  stay queued, first in line for the next commit
 *
 * The outbox knows no sockets: rpc.c, the transport, registers how a frame
 * reaches a peer and a request reaches a node (struct outbox_transport), so
 * calls go down from the managers and the outbox never calls up.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "mctld.h"
#include "util.h"

enum out_kind { OUT_REPLY, OUT_PUSH, OUT_CALL };

struct out_item {
	enum out_kind kind;
	struct peer *peer; /* OUT_REPLY, held */
	uint16_t type;
	uint32_t req_id;
	uint8_t *buf; /* OUT_REPLY: the frame; OUT_PUSH: the packed body */
	size_t len;
	uint32_t job_id;
	uint32_t step_id;
	char *node; /* OUT_PUSH */
	int sig;    /* OUT_PUSH of a SIGNAL_JOB, for the log */
	outbox_undelivered_fn undelivered;
	outbox_call_fn call; /* OUT_CALL */
	STAILQ_ENTRY(out_item) entry;
};
STAILQ_HEAD(out_list, out_item);

struct outbox {
	struct mctld *ctx;
	const struct outbox_transport *t;
	struct out_list items;
};

struct outbox *outbox_create(struct mctld *ctx)
{
	struct outbox *ob = xcalloc(1, sizeof(*ob));

	ob->ctx = ctx;
	STAILQ_INIT(&ob->items);
	return ob;
}

void outbox_set_transport(struct outbox *ob, const struct outbox_transport *t)
{
	ob->t = t;
}

static void item_free(struct outbox *ob, struct out_item *o)
{
	if (o->peer && ob->t)
		ob->t->drop(o->peer);
	free(o->buf);
	free(o->node);
	free(o);
}

void outbox_destroy(struct outbox *ob)
{
	struct out_item *o;

	if (!ob)
		return;
	while ((o = STAILQ_FIRST(&ob->items))) {
		STAILQ_REMOVE_HEAD(&ob->items, entry);
		item_free(ob, o);
	}
	free(ob);
}

bool outbox_empty(const struct mctld *ctx)
{
	return STAILQ_EMPTY(&ctx->outbox->items);
}

static void add(struct outbox *ob, struct out_item *o)
{
	STAILQ_INSERT_TAIL(&ob->items, o, entry);
}

void outbox_reply(struct mctld *ctx, struct peer *p, uint16_t type,
		  uint32_t req_id, uint8_t *frame, size_t len)
{
	struct outbox *ob = ctx->outbox;
	struct out_item *o = xcalloc(1, sizeof(*o));

	o->kind = OUT_REPLY;
	o->peer = p;
	ob->t->hold(p);
	o->type = type;
	o->req_id = req_id;
	o->buf = frame;
	o->len = len;
	add(ob, o);
}

static struct out_item *push_item(struct mctld *ctx, const char *node,
				  uint16_t type, uint32_t job_id,
				  uint32_t step_id, uint8_t *body, size_t len,
				  outbox_undelivered_fn undelivered)
{
	struct out_item *o = xcalloc(1, sizeof(*o));

	o->kind = OUT_PUSH;
	o->type = type;
	o->job_id = job_id;
	o->step_id = step_id;
	o->node = xstrdup(node);
	o->buf = body;
	o->len = len;
	o->undelivered = undelivered;
	add(ctx->outbox, o);
	return o;
}

void outbox_push(struct mctld *ctx, const char *node, uint16_t type,
		 uint32_t job_id, uint32_t step_id, uint8_t *body, size_t len,
		 outbox_undelivered_fn undelivered)
{
	push_item(ctx, node, type, job_id, step_id, body, len, undelivered);
}

void outbox_signal(struct mctld *ctx, const char *node, uint32_t job_id,
		   int64_t step_id, int sig, bool cancel, const char *reason)
{
	outbox_signal_scope(ctx, node, job_id, step_id, sig, cancel, reason,
			    MERIDIAN__SIGNAL_SCOPE__SIGNAL_ALL);
}

void outbox_signal_scope(struct mctld *ctx, const char *node, uint32_t job_id,
			 int64_t step_id, int sig, bool cancel,
			 const char *reason, int scope)
{
	Meridian__SignalJob sj = MERIDIAN__SIGNAL_JOB__INIT;
	struct out_item *o;
	size_t len;
	uint8_t *body;

	sj.job_id = job_id;
	sj.signal = sig;
	sj.cancel = cancel;
	sj.reason = (char *)(reason ? reason : "");
	sj.scope = (Meridian__SignalScope)scope;
	if (step_id >= 0) {
		sj.has_step = true;
		sj.step_id = (uint32_t)step_id;
	}
	len = meridian__signal_job__get_packed_size(&sj);
	body = xmalloc(len ? len : 1);
	meridian__signal_job__pack(&sj, body);
	o = push_item(ctx, node, MERIDIAN__MSG_TYPE__MSG_SIGNAL_JOB, job_id, 0,
		      body, len, NULL);
	o->sig = sig;
}

void outbox_call(struct mctld *ctx, outbox_call_fn fn, uint32_t id)
{
	struct out_item *o = xcalloc(1, sizeof(*o));

	o->kind = OUT_CALL;
	o->call = fn;
	o->job_id = id;
	add(ctx->outbox, o);
}

int outbox_send_now(struct mctld *ctx, const char *node, uint16_t type,
		    const ProtobufCMessage *msg, uint32_t job_id,
		    uint32_t step_id)
{
	return ctx->outbox->t->push(ctx, node, type, msg, NULL, 0, job_id,
				    step_id);
}

/* A queued push goes out as it was packed when queued. */
static void deliver_push(struct outbox *ob, const struct out_item *o)
{
	if (ob->t->push(ob->ctx, o->node, o->type, NULL, o->buf, o->len,
			o->job_id, o->step_id) == 0)
		return;
	/* A node that is not connected now makes a step fail there; a
	 * signal is said again when the node registers. */
	if (o->type == MERIDIAN__MSG_TYPE__MSG_SIGNAL_JOB)
		log_info("job %u: %s is not connected; signal %d not sent",
			 o->job_id, o->node, o->sig);
	else
		log_info("job %u: %s is not connected; %s not sent", o->job_id,
			 o->node, msg_type_name(o->type));
	if (o->undelivered)
		o->undelivered(ob->ctx, o->job_id, o->step_id, o->node);
}

void outbox_flush(struct mctld *ctx, bool ok, int code, const char *why)
{
	struct outbox *ob = ctx->outbox;
	struct out_list items, keep;
	struct out_item *o;

	/* Take the list first: a launch that fails ends a job, which may
	 * queue more. */
	STAILQ_INIT(&items);
	STAILQ_CONCAT(&items, &ob->items);
	STAILQ_INIT(&keep);
	while ((o = STAILQ_FIRST(&items))) {
		STAILQ_REMOVE_HEAD(&items, entry);
		if (o->kind == OUT_REPLY) {
			if (ok) {
				ob->t->reply(o->peer, o->buf, o->len);
			} else {
				uint8_t *buf;
				size_t len;

				buf = frame_build_error(o->type, o->req_id,
							code ? code : EIO, why,
							&len);
				if (buf)
					ob->t->reply(o->peer, buf, len);
				free(buf);
			}
			item_free(ob, o);
			continue;
		}
		if (!ok) {
			STAILQ_INSERT_TAIL(&keep, o, entry);
			continue;
		}
		if (o->kind == OUT_CALL)
			o->call(ctx, o->job_id);
		else
			deliver_push(ob, o);
		item_free(ob, o);
	}
	/* Pushes of a failed commit go first next time, in order. */
	STAILQ_CONCAT(&keep, &ob->items);
	STAILQ_CONCAT(&ob->items, &keep);
}
