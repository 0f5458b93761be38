/*
 * harness.c - see harness.h.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <CUnit/CUnit.h>

#include "harness.h"
#include "test_util.h"
#include "util.h"

const char *th_plugin_dir(void)
{
	static char *dir;

	if (!dir)
		dir = test_build_path("plugins/.libs");
	return dir;
}

char *th_tmpdir(void)
{
	char *d = xstrdup("/tmp/mctld-test.XXXXXX");

	if (!mkdtemp(d)) {
		perror("mkdtemp");
		abort();
	}
	return d;
}

void th_rmdir(char *dir)
{
	if (dir)
		remove_tree(dir);
	free(dir);
}

struct conf *th_conf(const char *dir, const char *extra)
{
	struct mer_error err = {""};
	struct conf *c;
	char *path = xasprintf("%s/meridian.conf", dir);
	FILE *f = fopen(path, "w");

	if (!f) {
		perror(path);
		abort();
	}
	fprintf(f,
		"ClusterName=test\n"
		"ControllerHost=127.0.0.1\n"
		"ControllerPort=6917\n"
		"StateDir=%s/state\n"
		"SpoolDir=%s/spool/%%n\n"
		"PluginDir=%s\n"
		"%s",
		dir, dir, th_plugin_dir(), extra ? extra : "");
	fclose(f);
	c = conf_load(path, &err);
	if (!c)
		fprintf(stderr, "\n  conf: %s\n", err.text);
	free(path);
	return c;
}

struct mctld *th_ctx_err(const char *dir, const char *extra,
			 struct mer_error *err)
{
	struct mctld_opts opts = {.no_auth = true, .no_listen = true};
	struct conf *c = th_conf(dir, extra);
	struct mctld *ctx;

	if (!c) {
		mer_error_set(err, "the test configuration does not load");
		return NULL;
	}
	ctx = mctld_create(c, &opts, err);
	if (!ctx)
		conf_free(c);
	return ctx;
}

struct mctld *th_ctx(const char *dir, const char *extra)
{
	struct mer_error err = {""};
	struct mctld *ctx = th_ctx_err(dir, extra, &err);

	if (!ctx)
		fprintf(stderr, "\n  mctld_create: %s\n", err.text);
	CU_ASSERT_PTR_NOT_NULL_FATAL(ctx);
	return ctx;
}

void th_turn(struct mctld *ctx)
{
	sched_run(ctx);
	mctld_commit(ctx);
}

/* --- the fake transport ---------------------------------------------- */

struct th_frames {
	uint8_t **buf;
	size_t *len;
	size_t n;
};

static int fake_send(struct peer *p, const uint8_t *buf, size_t len)
{
	struct th_frames *f = peer_impl(p);

	if (!f)
		return -1;
	f->buf = xrealloc(f->buf, (f->n + 1) * sizeof(*f->buf));
	f->len = xrealloc(f->len, (f->n + 1) * sizeof(*f->len));
	f->buf[f->n] = xmalloc(len);
	memcpy(f->buf[f->n], buf, len);
	f->len[f->n] = len;
	f->n++;
	return 0;
}

static void fake_close(struct peer *p)
{
	struct th_frames *f = peer_impl(p);

	if (f) {
		th_forget_frames(p);
		free(f->buf);
		free(f->len);
		free(f);
	}
	peer_closed(p, "closed by the test");
}

void th_close(struct peer *p)
{
	fake_close(p);
}

static const struct peer_ops fake_ops = {fake_send, fake_close, NULL};

struct peer *th_peer(struct mctld *ctx, const char *name)
{
	/* The frames live until the peer is closed (th_close, or the
	 * context's destroy). */
	return peer_create(ctx, name, &fake_ops,
			   xcalloc(1, sizeof(struct th_frames)));
}

static struct th_frames *frames(struct peer *p)
{
	return peer_impl(p);
}

size_t th_nframes(struct peer *p)
{
	return frames(p) ? frames(p)->n : 0;
}

void th_forget_frames(struct peer *p)
{
	struct th_frames *f = frames(p);
	size_t i;

	if (!f)
		return;
	for (i = 0; i < f->n; i++)
		free(f->buf[i]);
	f->n = 0;
}

ProtobufCMessage *th_frame(struct peer *p, size_t i, struct frame_hdr *h)
{
	struct th_frames *f = frames(p);
	struct mer_error err = {""};
	ProtobufCMessage *m;

	CU_ASSERT_FATAL(f && i < f->n);
	CU_ASSERT_FATAL(f->len[i] >= MER_FRAME_HDR_LEN);
	CU_ASSERT_FATAL(frame_hdr_decode(f->buf[i], h, &err) == 0);
	CU_ASSERT_FATAL(f->len[i] ==
			MER_FRAME_HDR_LEN + h->cred_len + h->body_len);
	m = frame_unpack_body(h, f->buf[i] + MER_FRAME_HDR_LEN + h->cred_len,
			      h->body_len, &err);
	if (!m)
		fprintf(stderr, "\n  frame %zu: %s\n", i, err.text);
	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	return m;
}

ProtobufCMessage *th_last_reply(struct peer *p, unsigned type, bool *is_error)
{
	struct frame_hdr h;
	ProtobufCMessage *m;

	if (th_nframes(p) == 0)
		return NULL;
	m = th_frame(p, th_nframes(p) - 1, &h);
	if (h.type != type || !(h.flags & MER_FRAME_REPLY)) {
		protobuf_c_message_free_unpacked(m, NULL);
		return NULL;
	}
	*is_error = (h.flags & MER_FRAME_ERROR) != 0;
	return m;
}

void th_request(struct mctld *ctx, struct peer *p, unsigned type,
		uint32_t req_id, uid_t uid, const ProtobufCMessage *msg)
{
	struct frame_hdr h;
	uint8_t *buf;
	size_t len;
	struct mer_error err = {""};

	buf = frame_build((uint16_t)type, 0, req_id, NULL, 0, msg, &len);
	CU_ASSERT_FATAL(buf != NULL);
	CU_ASSERT_FATAL(frame_hdr_decode(buf, &h, &err) == 0);
	rpc_dispatch(ctx, p, &h, uid, uid, buf + MER_FRAME_HDR_LEN);
	free(buf);
}

void th_reply_to(struct mctld *ctx, struct peer *p, size_t i,
		 const char *error_text)
{
	struct th_frames *f = frames(p);
	struct frame_hdr h, rh;
	struct mer_error err = {""};
	Meridian__Ack ack = MERIDIAN__ACK__INIT;
	uint8_t *buf;
	size_t len;

	CU_ASSERT_FATAL(i < f->n);
	CU_ASSERT_FATAL(frame_hdr_decode(f->buf[i], &h, &err) == 0);
	if (error_text)
		buf = frame_build_error(h.type, h.req_id, EIO, error_text,
					&len);
	else
		buf = frame_build(h.type, MER_FRAME_REPLY, h.req_id, NULL, 0,
				  &ack.base, &len);
	CU_ASSERT_FATAL(frame_hdr_decode(buf, &rh, &err) == 0);
	rpc_on_frame(p, &rh, buf + MER_FRAME_HDR_LEN,
		     buf + MER_FRAME_HDR_LEN + rh.cred_len);
	free(buf);
	(void)ctx;
}

uint32_t th_submit(struct mctld *ctx, struct peer *p, uid_t uid,
		   const Meridian__JobDesc *desc, char *errbuf, size_t errlen)
{
	static const char script[] = "#!/bin/sh\ntrue\n";
	Meridian__SubmitJobRequest req = MERIDIAN__SUBMIT_JOB_REQUEST__INIT;
	Meridian__JobSpec spec = MERIDIAN__JOB_SPEC__INIT;
	Meridian__JobDesc d = MERIDIAN__JOB_DESC__INIT;
	ProtobufCMessage *m;
	uint32_t id = 0;
	bool is_err = false;

	if (desc)
		d = *desc;
	spec.script.data = (uint8_t *)script;
	spec.script.len = sizeof(script) - 1;
	req.desc = &d;
	req.spec = &spec;
	th_forget_frames(p);
	th_request(ctx, p, MERIDIAN__MSG_TYPE__MSG_SUBMIT_JOB, 7, uid,
		   &req.base);
	th_turn(ctx);
	m = th_last_reply(p, MERIDIAN__MSG_TYPE__MSG_SUBMIT_JOB, &is_err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	if (is_err) {
		if (errbuf)
			snprintf(errbuf, errlen, "%s",
				 ((Meridian__ErrorReply *)m)->text);
	} else {
		id = ((Meridian__SubmitJobReply *)m)->job_id;
		if (errbuf)
			errbuf[0] = '\0';
	}
	protobuf_c_message_free_unpacked(m, NULL);
	return id;
}

Meridian__NodeRegisterReply *th_register(struct mctld *ctx, struct peer *p,
					 const char *name,
					 Meridian__NodeJobStatus **jobs,
					 size_t njobs)
{
	Meridian__NodeRegister reg = MERIDIAN__NODE_REGISTER__INIT;
	ProtobufCMessage *m;
	size_t i;
	bool is_err = false;

	reg.name = (char *)name;
	reg.cpus = 4;
	reg.real_memory = 4096;
	reg.version = (char *)"test";
	reg.jobs = jobs;
	reg.n_jobs = njobs;
	th_request(ctx, p, MERIDIAN__MSG_TYPE__MSG_NODE_REGISTER, 1, 0,
		   &reg.base);
	/* The reply waits for the commit */
	th_turn(ctx);
	for (i = th_nframes(p); i > 0; i--) {
		struct frame_hdr h;

		m = th_frame(p, i - 1, &h);
		if (h.type == MERIDIAN__MSG_TYPE__MSG_NODE_REGISTER &&
		    (h.flags & MER_FRAME_REPLY)) {
			is_err = (h.flags & MER_FRAME_ERROR) != 0;
			if (is_err) {
				fprintf(stderr, "\n  register %s: %s\n", name,
					((Meridian__ErrorReply *)m)->text);
				protobuf_c_message_free_unpacked(m, NULL);
				return NULL;
			}
			return (Meridian__NodeRegisterReply *)m;
		}
		protobuf_c_message_free_unpacked(m, NULL);
	}
	return NULL;
}
