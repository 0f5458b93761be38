/*
 * test_frame.c - the wire frame: header checks, message round trips, a
 * framed connection that must drop a bad peer with a reason, and frame.c's
 * message table against meridian.proto's MsgType.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "conn.h"
#include "cunit_main.h"
#include "frame.h"
#include "test_util.h"
#include "util.h"

static void build_hdr(uint8_t *out, uint32_t magic, uint16_t version,
		      uint16_t type, uint32_t flags, uint32_t cred,
		      uint32_t body)
{
	struct frame_hdr h = {magic, version, type, flags, 7, cred, body};

	frame_hdr_encode(&h, out);
}

static void test_header_round_trip(void)
{
	uint8_t b[MER_FRAME_HDR_LEN];
	struct frame_hdr h;
	struct mer_error err;

	build_hdr(b, MER_FRAME_MAGIC, MER_PROTO_VERSION,
		  MERIDIAN__MSG_TYPE__MSG_SUBMIT_JOB, MER_FRAME_REPLY, 100,
		  2000);
	CU_ASSERT_EQUAL(frame_hdr_decode(b, &h, &err), 0);
	CU_ASSERT_EQUAL(h.type, MERIDIAN__MSG_TYPE__MSG_SUBMIT_JOB);
	CU_ASSERT_EQUAL(h.flags, MER_FRAME_REPLY);
	CU_ASSERT_EQUAL(h.req_id, 7);
	CU_ASSERT_EQUAL(h.cred_len, 100);
	CU_ASSERT_EQUAL(h.body_len, 2000);
	/* big-endian on the wire: magic spells MRDN */
	CU_ASSERT_EQUAL(memcmp(b, "MRDN", 4), 0);
}

static void test_header_versions(void)
{
	uint8_t b[MER_FRAME_HDR_LEN];
	struct frame_hdr h;
	struct mer_error err;

	/* one version older is accepted */
	build_hdr(b, MER_FRAME_MAGIC, MER_PROTO_VERSION - 1,
		  MERIDIAN__MSG_TYPE__MSG_PING, 0, 0, 0);
	CU_ASSERT_EQUAL(frame_hdr_decode(b, &h, &err), 0);
	/* two older and newer are not */
	build_hdr(b, MER_FRAME_MAGIC, MER_PROTO_VERSION - 2,
		  MERIDIAN__MSG_TYPE__MSG_PING, 0, 0, 0);
	CU_ASSERT_EQUAL(frame_hdr_decode(b, &h, &err), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.text, "protocol version"));
	build_hdr(b, MER_FRAME_MAGIC, MER_PROTO_VERSION + 1,
		  MERIDIAN__MSG_TYPE__MSG_PING, 0, 0, 0);
	CU_ASSERT_EQUAL(frame_hdr_decode(b, &h, &err), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.text, "not supported"));
}

static void test_header_rejects(void)
{
	uint8_t b[MER_FRAME_HDR_LEN];
	struct frame_hdr h;
	struct mer_error err;

	build_hdr(b, 0x47455420, MER_PROTO_VERSION, 22, 0, 0, 0); /* "GET " */
	CU_ASSERT_EQUAL(frame_hdr_decode(b, &h, &err), -1);
	CU_ASSERT_EQUAL(errno, EPROTO);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.text, "magic"));

	build_hdr(b, MER_FRAME_MAGIC, MER_PROTO_VERSION, 9999, 0, 0, 0);
	CU_ASSERT_EQUAL(frame_hdr_decode(b, &h, &err), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.text, "unknown message type 9999"));

	build_hdr(b, MER_FRAME_MAGIC, MER_PROTO_VERSION, 22, 0, 0,
		  MER_FRAME_MAX_BODY + 1);
	CU_ASSERT_EQUAL(frame_hdr_decode(b, &h, &err), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.text, "at most"));

	build_hdr(b, MER_FRAME_MAGIC, MER_PROTO_VERSION, 22, 0,
		  MER_FRAME_MAX_CRED + 1, 0);
	CU_ASSERT_EQUAL(frame_hdr_decode(b, &h, &err), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.text, "credential"));

	build_hdr(b, MER_FRAME_MAGIC, MER_PROTO_VERSION, 22, 0x80, 0, 0);
	CU_ASSERT_EQUAL(frame_hdr_decode(b, &h, &err), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.text, "flags"));

	/* an error is a reply: flagged error alone, a request would be
	 * decoded as an ErrorReply and read as its own type */
	build_hdr(b, MER_FRAME_MAGIC, MER_PROTO_VERSION,
		  MERIDIAN__MSG_TYPE__MSG_SUBMIT_JOB, MER_FRAME_ERROR, 0, 9);
	CU_ASSERT_EQUAL(frame_hdr_decode(b, &h, &err), -1);
	CU_ASSERT_STRING_EQUAL(err.text,
			       "frame flags 0x2: the error flag without the "
			       "reply flag, expected it only on a reply");
	build_hdr(b, MER_FRAME_MAGIC, MER_PROTO_VERSION,
		  MERIDIAN__MSG_TYPE__MSG_SUBMIT_JOB,
		  MER_FRAME_ERROR | MER_FRAME_REPLY, 0, 9);
	CU_ASSERT_EQUAL(frame_hdr_decode(b, &h, &err), 0);
}

/* Field 0 written as the overlong tag 80 00: protobuf-c takes it and
 * would pack it as 00, which it refuses to read back; the body is
 * refused, at any depth. */
static void test_field0_refused(void)
{
	/* SubmitJobRequest { desc { name "job", field 0 } } */
	static const uint8_t body[] = {0x0a, 0x08, 0x0a, 0x03, 'j',
				       'o',  'b',  0x80, 0x00, 0x0a};
	static const uint8_t good[] = {0x0a, 0x05, 0x0a, 0x03, 'j', 'o', 'b'};
	struct frame_hdr h = {MER_FRAME_MAGIC,
			      MER_PROTO_VERSION,
			      MERIDIAN__MSG_TYPE__MSG_SUBMIT_JOB,
			      0,
			      1,
			      0,
			      sizeof(body)};
	struct mer_error err;
	ProtobufCMessage *m;

	m = frame_unpack_body(&h, body, sizeof(body), &err);
	CU_ASSERT_PTR_NULL(m);
	CU_ASSERT_EQUAL(errno, EPROTO);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.text, "a field numbered 0"));
	h.body_len = sizeof(good);
	m = frame_unpack_body(&h, good, sizeof(good), &err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	CU_ASSERT_STRING_EQUAL(((Meridian__SubmitJobRequest *)m)->desc->name,
			       "job");
	protobuf_c_message_free_unpacked(m, NULL);
}

static void test_message_round_trip(void)
{
	Meridian__SubmitJobRequest req = MERIDIAN__SUBMIT_JOB_REQUEST__INIT;
	Meridian__JobDesc desc = MERIDIAN__JOB_DESC__INIT;
	Meridian__JobSpec spec = MERIDIAN__JOB_SPEC__INIT;
	char *env[] = {"A=1", "PATH=/bin"};
	const char script[] = "#!/bin/sh\necho hi\n";
	Meridian__SubmitJobRequest *got;
	struct frame_hdr h;
	struct mer_error err;
	uint8_t *buf;
	size_t len;

	desc.name = "train";
	desc.gpus = 4;
	desc.time_limit = 90;
	spec.script.data = (uint8_t *)script;
	spec.script.len = sizeof(script) - 1;
	spec.n_env = 2;
	spec.env = env;
	req.desc = &desc;
	req.spec = &spec;
	buf = frame_build(MERIDIAN__MSG_TYPE__MSG_SUBMIT_JOB, 0, 42, "CRED", 4,
			  &req.base, &len);
	CU_ASSERT_EQUAL(frame_hdr_decode(buf, &h, &err), 0);
	CU_ASSERT_EQUAL(len, MER_FRAME_HDR_LEN + 4 + h.body_len);
	CU_ASSERT_EQUAL(memcmp(buf + MER_FRAME_HDR_LEN, "CRED", 4), 0);
	got = (Meridian__SubmitJobRequest *)frame_unpack_body(
		&h, buf + MER_FRAME_HDR_LEN + 4, h.body_len, &err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(got);
	CU_ASSERT_STRING_EQUAL(got->desc->name, "train");
	CU_ASSERT_EQUAL(got->desc->gpus, 4);
	CU_ASSERT_EQUAL(got->desc->time_limit, 90);
	CU_ASSERT_EQUAL(got->spec->script.len, sizeof(script) - 1);
	CU_ASSERT_EQUAL(got->spec->n_env, 2);
	CU_ASSERT_STRING_EQUAL(got->spec->env[1], "PATH=/bin");
	protobuf_c_message_free_unpacked(&got->base, NULL);

	/* a body cut short does not decode, and says which message */
	got = (Meridian__SubmitJobRequest *)frame_unpack_body(
		&h, buf + MER_FRAME_HDR_LEN + 4, h.body_len / 2, &err);
	CU_ASSERT_PTR_NULL(got);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.text, "SUBMIT_JOB"));
	free(buf);
}

static void test_error_reply(void)
{
	Meridian__ErrorReply *er;
	struct frame_hdr h;
	struct mer_error err;
	size_t len;
	uint8_t *buf = frame_build_error(MERIDIAN__MSG_TYPE__MSG_CANCEL_JOB, 9,
					 EPERM, "not yours", &len);

	CU_ASSERT_EQUAL(frame_hdr_decode(buf, &h, &err), 0);
	CU_ASSERT_EQUAL(h.flags, MER_FRAME_REPLY | MER_FRAME_ERROR);
	er = (Meridian__ErrorReply *)frame_unpack_body(
		&h, buf + MER_FRAME_HDR_LEN, h.body_len, &err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(er);
	CU_ASSERT_EQUAL(er->code, EPERM);
	CU_ASSERT_STRING_EQUAL(er->text, "not yours");
	protobuf_c_message_free_unpacked(&er->base, NULL);
	free(buf);
}

/* A framed connection over a socketpair. */
struct conn_case {
	struct event_base *base;
	int frames;
	uint32_t last_req;
	char why[200];
	int closed;
};

static void on_frame(struct conn *c, const struct frame_hdr *h,
		     const uint8_t *cred, const uint8_t *body, void *arg)
{
	struct conn_case *cc = arg;

	cc->frames++;
	cc->last_req = h->req_id;
}

static void on_close(struct conn *c, const char *why, void *arg)
{
	struct conn_case *cc = arg;

	snprintf(cc->why, sizeof(cc->why), "%s", why);
	cc->closed = 1;
	event_base_loopbreak(cc->base);
}

static void run_conn(const uint8_t *bytes, size_t n, struct conn_case *cc)
{
	int sv[2];
	struct conn *c;
	struct timeval tv = {2, 0};

	memset(cc, 0, sizeof(*cc));
	CU_ASSERT_EQUAL_FATAL(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	cc->base = event_base_new();
	c = conn_create(cc->base, sv[0], "test peer", on_frame, on_close, cc);
	CU_ASSERT_EQUAL(write_all(sv[1], bytes, n), 0);
	close(sv[1]);
	event_base_loopexit(cc->base, &tv);
	event_base_dispatch(cc->base);
	conn_destroy(c);
	event_base_free(cc->base);
}

static void test_conn_frames_then_garbage(void)
{
	Meridian__PingRequest ping = MERIDIAN__PING_REQUEST__INIT;
	struct conn_case cc;
	struct strbuf b = {0};
	size_t len;
	uint8_t *f;

	for (uint32_t i = 1; i <= 3; i++) {
		f = frame_build(MERIDIAN__MSG_TYPE__MSG_PING, 0, i, "c", 1,
				&ping.base, &len);
		strbuf_add(&b, (char *)f, len);
		free(f);
	}
	strbuf_add(&b, "GET / HTTP/1.0\r\n\r\n", 18);
	strbuf_add(&b, "more bytes to make a header", 27);
	run_conn((uint8_t *)b.s, b.len, &cc);
	CU_ASSERT_EQUAL(cc.frames, 3);
	CU_ASSERT_EQUAL(cc.last_req, 3);
	CU_ASSERT(cc.closed);
	CU_ASSERT_PTR_NOT_NULL(strstr(cc.why, "bad frame"));
	CU_ASSERT_PTR_NOT_NULL(strstr(cc.why, "magic"));
	strbuf_free(&b);
}

static void test_conn_truncated(void)
{
	Meridian__PingReply pr = MERIDIAN__PING_REPLY__INIT;
	struct conn_case cc;
	size_t len;
	uint8_t *f;

	pr.cluster = "a cluster name long enough to have a body";
	f = frame_build(MERIDIAN__MSG_TYPE__MSG_PING, MER_FRAME_REPLY, 5, NULL,
			0, &pr.base, &len);
	run_conn(f, len - 5, &cc);
	CU_ASSERT_EQUAL(cc.frames, 0);
	CU_ASSERT(cc.closed);
	CU_ASSERT_PTR_NOT_NULL(strstr(cc.why, "middle of a frame"));
	free(f);
}

static void test_conn_oversized(void)
{
	uint8_t b[MER_FRAME_HDR_LEN];
	struct conn_case cc;

	build_hdr(b, MER_FRAME_MAGIC, MER_PROTO_VERSION,
		  MERIDIAN__MSG_TYPE__MSG_SUBMIT_JOB, 0, 0, 0xffffffffu);
	run_conn(b, sizeof(b), &cc);
	CU_ASSERT_EQUAL(cc.frames, 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(cc.why, "body of 4294967295 bytes"));
}

/* --- frame.c's table against meridian.proto ------------------------- */

/* A failed check of the table, saying which type and what is wrong. */
static void table_fail(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));
static void table_fail(const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	printf("\n    frame.c's table vs meridian.proto: %s\n", msg);
	CU_assertImplementation(CU_FALSE, __LINE__, msg, __FILE__, "",
				CU_FALSE);
}

/* The bodies a MsgType's comment in meridian.proto names. */
struct proto_bodies {
	char type[64];	  /* "MSG_SUBMIT_JOB" */
	char request[64]; /* "SubmitJobRequest" */
	char reply[64];	  /* "SubmitJobReply"; "" for a one-way frame */
};

/* The next word of letters and digits at *p, into out; *p moves past it. */
static void next_word(const char **p, char *out, size_t n)
{
	size_t len = 0;

	while (**p == ' ')
		(*p)++;
	while ((**p >= 'A' && **p <= 'Z') || (**p >= 'a' && **p <= 'z') ||
	       (**p >= '0' && **p <= '9')) {
		if (len + 1 < n)
			out[len++] = **p;
		(*p)++;
	}
	out[len] = 0;
}

/*
 * The MsgType values of meridian.proto with the comment on their line:
 * "MSG_X = N;  // Request -> Reply ..." or "// Message: ..." (one-way).
 * Returns how many were read into b (at most nb), or -1 when the file
 * cannot be read.
 */
static int read_proto_bodies(const char *path, struct proto_bodies *b,
			     size_t nb)
{
	FILE *f = fopen(path, "r");
	char line[512];
	bool in_enum = false;
	size_t n = 0;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		struct proto_bodies pb = {"", "", ""};
		const char *c;
		unsigned num;

		if (!in_enum) {
			in_enum = strncmp(line, "enum MsgType {", 14) == 0;
			continue;
		}
		if (line[0] == '}')
			break;
		if (sscanf(line, " %63[A-Z0-9_] = %u ;", pb.type, &num) != 2)
			continue; /* a comment line */
		c = strstr(line, "//");
		if (c) {
			c += 2;
			next_word(&c, pb.request, sizeof(pb.request));
			while (*c == ' ')
				c++;
			if (strncmp(c, "->", 2) == 0) {
				c += 2;
				next_word(&c, pb.reply, sizeof(pb.reply));
			}
		}
		if (n < nb)
			b[n] = pb;
		n++;
	}
	fclose(f);
	return (int)n;
}

static const struct proto_bodies *find_bodies(const struct proto_bodies *b,
					      int n, const char *type)
{
	for (int i = 0; i < n; i++)
		if (!strcmp(b[i].type, type))
			return &b[i];
	return NULL;
}

/* Every MsgType has exactly one row, named as the type without "MSG_",
 * with the bodies meridian.proto's comment names; every row is a
 * MsgType; MSG_NONE has none. */
static void test_table_matches_proto(void)
{
	const ProtobufCEnumDescriptor *ed = &meridian__msg_type__descriptor;
	char *path = test_src_path("src/common/proto/meridian.proto");
	struct proto_bodies bodies[128];
	const struct msg_type_info *tab;
	size_t ntab, i, j;
	int nb;

	tab = msg_type_table(&ntab);
	nb = read_proto_bodies(path, bodies, 128);
	if (nb < 0)
		table_fail("cannot read %s: %s", path, strerror(errno));
	CU_ASSERT_FATAL(nb >= 0 && nb <= 128);
	/* the file read is the one the build compiled */
	CU_ASSERT_EQUAL((unsigned)nb, ed->n_values);

	for (i = 0; i < ed->n_values; i++) {
		const ProtobufCEnumValue *v = &ed->values[i];
		const struct proto_bodies *pb =
			find_bodies(bodies, nb, v->name);
		const struct msg_type_info *row = NULL;
		size_t rows = 0;

		for (j = 0; j < ntab; j++)
			if ((int)tab[j].type == v->value) {
				row = &tab[j];
				rows++;
			}
		if (v->value == MERIDIAN__MSG_TYPE__MSG_NONE) {
			if (rows)
				table_fail("MSG_NONE has a row");
			continue;
		}
		if (rows != 1) {
			table_fail("%s (%d) has %zu rows, expected 1", v->name,
				   v->value, rows);
			continue;
		}
		if (strncmp(v->name, "MSG_", 4) ||
		    strcmp(row->name, v->name + 4))
			table_fail("%s's row is named %s, expected the type's "
				   "name without MSG_",
				   v->name, row->name);
		if (!pb || !pb->request[0]) {
			table_fail("%s has no \"// Request -> Reply\" or "
				   "\"// Message: ...\" comment on its line",
				   v->name);
			continue;
		}
		if (!row->request ||
		    strcmp(row->request->short_name, pb->request))
			table_fail("%s's request is %s, meridian.proto says %s",
				   v->name,
				   row->request ? row->request->short_name
						: "none",
				   pb->request);
		if (pb->reply[0] ? !row->reply || strcmp(row->reply->short_name,
							 pb->reply)
				 : row->reply != NULL)
			table_fail("%s's reply is %s, meridian.proto says %s",
				   v->name,
				   row->reply ? row->reply->short_name
					      : "none (one-way)",
				   pb->reply[0] ? pb->reply : "none (one-way)");
	}
	for (j = 0; j < ntab; j++) {
		if (!protobuf_c_enum_descriptor_get_value(ed, (int)tab[j].type))
			table_fail("row %s: %u is not a MsgType", tab[j].name,
				   (unsigned)tab[j].type);
		if (msg_type_lookup(tab[j].type) != &tab[j])
			table_fail("row %s: msg_type_lookup finds another row",
				   tab[j].name);
	}
	CU_ASSERT_PTR_NULL(msg_type_lookup(MERIDIAN__MSG_TYPE__MSG_NONE));
	free(path);
}

/* The comment parser the check above relies on. */
static void test_proto_comment_parser(void)
{
	char path[] = "/tmp/test_frame_proto.XXXXXX";
	struct proto_bodies b[4];
	int fd = mkstemp(path), n;
	FILE *f;

	CU_ASSERT_FATAL(fd >= 0);
	f = fdopen(fd, "w");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	fputs("enum Other {\n  MSG_NOT = 1; // A -> B\n}\n"
	      "enum MsgType {\n  MSG_NONE = 0;\n  // a comment line\n"
	      "  MSG_A = 10;   // FooRequest   -> FooReply (durable)\n"
	      "  MSG_B = 11;   // BarHello: the first frame\n"
	      "  MSG_C = 12;   // Baz -> Ack: ends\n}\n"
	      "enum Later {\n  MSG_LATER = 1; // X -> Y\n}\n",
	      f);
	fclose(f);
	n = read_proto_bodies(path, b, 4);
	unlink(path);
	CU_ASSERT_EQUAL_FATAL(n, 4);
	CU_ASSERT_STRING_EQUAL(b[0].type, "MSG_NONE");
	CU_ASSERT_STRING_EQUAL(b[0].request, "");
	CU_ASSERT_STRING_EQUAL(b[1].type, "MSG_A");
	CU_ASSERT_STRING_EQUAL(b[1].request, "FooRequest");
	CU_ASSERT_STRING_EQUAL(b[1].reply, "FooReply");
	CU_ASSERT_STRING_EQUAL(b[2].request, "BarHello");
	CU_ASSERT_STRING_EQUAL(b[2].reply, "");
	CU_ASSERT_STRING_EQUAL(b[3].request, "Baz");
	CU_ASSERT_STRING_EQUAL(b[3].reply, "Ack");
}

/* frame_build_items: the bytes of packing the reply with its records in
 * it, each record sized once; and strbuf's formatting helpers. */
static void test_build_items(void)
{
	enum { N = 300 };
	Meridian__JobRecord recs[N], *ptrs[N];
	Meridian__JobDesc desc = MERIDIAN__JOB_DESC__INIT;
	Meridian__JobInfoReply rep = MERIDIAN__JOB_INFO_REPLY__INIT, *back;
	struct frame_hdr h;
	struct mer_error err;
	size_t sizes[N], body, len, want;
	uint8_t *buf, *ref;
	struct strbuf b = {0};
	char big[300];

	desc.name = (char *)"a job name long enough to matter";
	for (size_t i = 0; i < N; i++) {
		meridian__job_record__init(&recs[i]);
		recs[i].job_id = (uint32_t)(i * 977 + 1);
		recs[i].desc = &desc;
		recs[i].reason = (char *)(i % 2 ? "Priority" : "Resources");
		recs[i].submit_time = 1700000000 + (int64_t)i;
		ptrs[i] = &recs[i];
		sizes[i] = meridian__job_record__get_packed_size(&recs[i]);
	}
	rep.now = 1800000000;
	rep.next_after_id = 42;
	body = frame_items_len(&rep.base, 1, sizes, N);
	buf = frame_build_items(
		MERIDIAN__MSG_TYPE__MSG_JOB_INFO, MER_FRAME_REPLY, 7, &rep.base,
		1, (const ProtobufCMessage *const *)ptrs, sizes, N, body, &len);
	CU_ASSERT_EQUAL_FATAL(len, MER_FRAME_HDR_LEN + body);
	/* the same bytes as protobuf-c's own packing of the whole reply */
	rep.jobs = ptrs;
	rep.n_jobs = N;
	want = meridian__job_info_reply__get_packed_size(&rep);
	CU_ASSERT_EQUAL_FATAL(want, body);
	ref = xmalloc(want);
	meridian__job_info_reply__pack(&rep, ref);
	CU_ASSERT_EQUAL(memcmp(buf + MER_FRAME_HDR_LEN, ref, want), 0);
	CU_ASSERT_EQUAL_FATAL(frame_hdr_decode(buf, &h, &err), 0);
	CU_ASSERT_EQUAL(h.body_len, body);
	back = (Meridian__JobInfoReply *)frame_unpack_body(
		&h, buf + MER_FRAME_HDR_LEN, body, &err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(back);
	CU_ASSERT_EQUAL(back->n_jobs, N);
	CU_ASSERT_EQUAL(back->jobs[N - 1]->job_id, (N - 1) * 977 + 1);
	CU_ASSERT_EQUAL(back->next_after_id, 42);
	protobuf_c_message_free_unpacked(&back->base, NULL);
	free(ref);
	free(buf);

	/* strbuf_addf past the room it starts with; strbuf_addu, addn */
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	strbuf_addf(&b, "%s|%d", big, -5);
	CU_ASSERT_EQUAL(b.len, sizeof(big) - 1 + 3);
	CU_ASSERT_STRING_EQUAL(b.s + sizeof(big) - 1, "|-5");
	b.len = 0;
	strbuf_addu(&b, 0);
	strbuf_addc(&b, ' ');
	strbuf_addu(&b, 18446744073709551615ull);
	strbuf_addn(&b, '.', 3);
	CU_ASSERT_STRING_EQUAL(b.s, "0 18446744073709551615...");
	strbuf_free(&b);
}

static CU_TestInfo tests[] = {
	{"header round trip", test_header_round_trip},
	{"header versions", test_header_versions},
	{"header rejects bad fields", test_header_rejects},
	{"message round trip", test_message_round_trip},
	{"field 0 refused", test_field0_refused},
	{"error reply", test_error_reply},
	{"replies built from sized items", test_build_items},
	{"conn: frames then garbage", test_conn_frames_then_garbage},
	{"conn: truncated frame", test_conn_truncated},
	{"conn: oversized body", test_conn_oversized},
	{"table matches meridian.proto", test_table_matches_proto},
	{"meridian.proto comment parser", test_proto_comment_parser},
	CU_TEST_INFO_NULL,
};

CUNIT_MAIN("frame", tests)
