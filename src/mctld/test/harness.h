/*
 * harness.h - what the mctld unit tests share: a temporary directory, a
 * meridian.conf written there, a controller context without sockets or
 * credentials, and peers over a fake transport that keep every frame
 * mctld sends them.
 */
#ifndef MCTLD_TEST_HARNESS_H
#define MCTLD_TEST_HARNESS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "mctld.h"

/* uids the tests act as: neither root nor (normally) the test's own */
#define TH_ALICE 4242
#define TH_BOB	 4343

/* The directory of the built plugins ($MERIDIAN_BUILDDIR/plugins/.libs). */
const char *th_plugin_dir(void);
/* A fresh directory under /tmp; malloc'd.  th_rmdir removes it. */
char *th_tmpdir(void);
void th_rmdir(char *dir); /* frees dir */
/* Write DIR/meridian.conf: the base keys (StateDir=DIR/state, the built
 * plugins) and then extra (nodes, partitions, more keys), and load it. */
struct conf *th_conf(const char *dir, const char *extra);
/* A context over th_conf(dir, extra): no auth, no listener.  NULL fails
 * the test.  th_ctx_err returns NULL and fills err instead. */
struct mctld *th_ctx(const char *dir, const char *extra);
struct mctld *th_ctx_err(const char *dir, const char *extra,
			 struct mer_error *err);
/* One loop turn's end, with the scheduling pass forced. */
void th_turn(struct mctld *ctx);

/* A peer whose frames are kept. */
struct peer *th_peer(struct mctld *ctx, const char *name);
size_t th_nframes(struct peer *p);
/* The i-th frame sent to p: header in *h, body unpacked (free with
 * protobuf_c_message_free_unpacked).  NULL fails the test. */
ProtobufCMessage *th_frame(struct peer *p, size_t i, struct frame_hdr *h);
/* The last frame, when it is a reply to type: its body, else NULL. */
ProtobufCMessage *th_last_reply(struct peer *p, unsigned type, bool *is_error);
void th_forget_frames(struct peer *p);
/* Close p as its connection would close; its frames are freed. */
void th_close(struct peer *p);
/* Send msg to mctld as a request from uid over p. */
void th_request(struct mctld *ctx, struct peer *p, unsigned type,
		uint32_t req_id, uid_t uid, const ProtobufCMessage *msg);
/* Reply to a request mctld pushed (frame i of p) with an Ack, or an error
 * when text is not NULL. */
void th_reply_to(struct mctld *ctx, struct peer *p, size_t i,
		 const char *error_text);

/* Submit a job as uid: "#!/bin/sh\ntrue\n", desc fields from the args.
 * Returns the job id after a turn, 0 on an error reply (text in err). */
uint32_t th_submit(struct mctld *ctx, struct peer *p, uid_t uid,
		   const Meridian__JobDesc *desc, char *err, size_t errlen);
/* Register node name on p (uid 0) with jobs; returns the reply (free it)
 * after a turn. */
Meridian__NodeRegisterReply *th_register(struct mctld *ctx, struct peer *p,
					 const char *name,
					 Meridian__NodeJobStatus **jobs,
					 size_t njobs);

#endif
