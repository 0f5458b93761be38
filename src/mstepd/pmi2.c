/*
 * pmi2.c - PMI-2's wire protocol, server side, over pmi.c's KVS and
 * barrier (pmi.h has the commands, pmi_impl.h how a rank comes to speak
 * it).
 *
 * Checked against the clients that speak it: MPICH's simple PMI-2
 * (src/pmi/pmi2/simple2pmi.c, later src/pmi/src/pmi_v2.c) and Slurm's
 * libpmi2, whose PMI2_Init sends the PMI-1 line "cmd=init pmi_version=2
 * pmi_subversion=0" first (pmi.c answers it) and then fullinit.  Their
 * reader takes a 6-byte length (atoi of it: digits then spaces, as
 * Slurm's server writes "%-6d"), then that many bytes; it requires rc in
 * every reply, checks the reply's cmd against the one it waits for and
 * reads found/value with TRUE/FALSE booleans.  Values escape ';' as ";;".
 * PMI2_Abort sends abort and exits without reading a reply.
 *
 * A rank's input is bounded: a command longer than PMI2_CMD_MAX is
 * dropped unread and refused; a length header that is not a number
 * leaves nothing to resynchronise on, so that rank's input is ignored
 * from then on (it is refused once, and the rank is reported).
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "pmi.h"
#include "pmi_impl.h"
#include "util.h"

/* Fields in one command: a kvs-get has five.  spawn's many are not
 * read: it is refused whole. */
#define PMI2_MAX_FIELDS 32
/* The longest cmd name echoed in a refusal's "NAME-response". */
#define PMI2_CMD_NAME_MAX 32

/* One parsed command: fields point into the (unescaped) body. */
struct req2 {
	const char *cmd;
	const char *text; /* the command as received, for messages */
	size_t n;
	struct {
		const char *key;
		const char *value;
	} f[PMI2_MAX_FIELDS];
};

static const char *field2(const struct req2 *q, const char *key)
{
	for (size_t i = 0; i < q->n; i++)
		if (!strcmp(q->f[i].key, key))
			return q->f[i].value;
	return NULL;
}

/* ---- replies ---- */

/* key=value; with the value's ';' doubled. */
static void add_pair(struct strbuf *b, const char *key, const char *value)
{
	strbuf_addf(b, "%s=", key);
	for (const char *p = value; *p; p++) {
		if (*p == ';')
			strbuf_addc(b, ';');
		strbuf_addc(b, *p);
	}
	strbuf_addc(b, ';');
}

/* "cmd=NAME;rc=RC;" */
static void begin(struct strbuf *b, const char *cmd, int rc)
{
	strbuf_addf(b, "cmd=%s;rc=%d;", cmd, rc);
}

/* Send b (a whole command) behind its length header; frees b. */
static int send_reply(struct pmi_server *srv, struct pmi_rank *r,
		      struct strbuf *b)
{
	struct strbuf out = {0};
	int rc;

	strbuf_addf(&out, "%-*zu", PMI2_HDR_LEN, b->len);
	strbuf_add(&out, b->s, b->len);
	strbuf_free(b);
	rc = srv->ops.send(srv->arg, r->rank, out.s, out.len);
	strbuf_free(&out);
	return rc;
}

/* Refuse q in the reply its client waits for (resp, NAME-response):
 * rc=-1 and errmsg saying why; counted and reported as PMI-1's are. */
static int refuse2(struct pmi_server *srv, struct pmi_rank *r,
		   const struct req2 *q, const char *resp, const char *why)
{
	struct strbuf b = {0};
	char ex[84];

	pmi_refusal(srv, r, "PMI-2 rank %d: refused \"%s\": %s", r->rank,
		    pmi_excerpt(q->text, ex, sizeof(ex)), why);
	begin(&b, resp, -1);
	add_pair(&b, "errmsg", why);
	return send_reply(srv, r, &b);
}

static int reply_ok(struct pmi_server *srv, struct pmi_rank *r,
		    const char *resp)
{
	struct strbuf b = {0};

	begin(&b, resp, 0);
	return send_reply(srv, r, &b);
}

static int reply_found(struct pmi_server *srv, struct pmi_rank *r,
		       const char *resp, const char *value)
{
	struct strbuf b = {0};

	begin(&b, resp, 0);
	add_pair(&b, "found", value ? "TRUE" : "FALSE");
	if (value)
		add_pair(&b, "value", value);
	return send_reply(srv, r, &b);
}

int pmi2_send_fence_done(struct pmi_server *srv, struct pmi_rank *r)
{
	return reply_ok(srv, r, "kvs-fence-response");
}

int pmi2_send_get(struct pmi_server *srv, struct pmi_rank *r, const char *value)
{
	return reply_found(srv, r, "kvs-get-response", value);
}

/* ---- the commands ---- */

static bool parse_bool(const char *s, bool dflt)
{
	if (!s)
		return dflt;
	return !strcasecmp(s, "TRUE") || !strcmp(s, "1") ||
	       !strcasecmp(s, "yes");
}

static int c_fullinit(struct pmi_server *srv, struct pmi_rank *r,
		      const struct req2 *q)
{
	const char *v = field2(q, "pmirank");
	struct strbuf b = {0};
	char why[128];
	int rank;

	if (r->fullinit)
		return refuse2(srv, r, q, "fullinit-response",
			       "fullinit sent twice");
	if (v && (!pmi_parse_int(v, &rank) || rank != r->rank)) {
		/* the PMI_RANK it read is not the rank of its PMI_FD */
		snprintf(why, sizeof(why),
			 "pmirank %.20s is not this connection's rank (%d): "
			 "was PMI_RANK changed?",
			 v, r->rank);
		return refuse2(srv, r, q, "fullinit-response", why);
	}
	r->fullinit = true;
	begin(&b, "fullinit-response", 0);
	strbuf_addf(&b,
		    "pmi-version=2;pmi-subversion=0;rank=%d;size=%d;"
		    "appnum=%d;debugged=FALSE;pmiverbose=FALSE;",
		    r->rank, srv->size, srv->appnum);
	return send_reply(srv, r, &b);
}

static int c_job_getid(struct pmi_server *srv, struct pmi_rank *r,
		       const struct req2 *q)
{
	struct strbuf b = {0};

	(void)q;
	begin(&b, "job-getid-response", 0);
	add_pair(&b, "jobid", srv->jobid);
	return send_reply(srv, r, &b);
}

static int c_kvs_put(struct pmi_server *srv, struct pmi_rank *r,
		     const struct req2 *q)
{
	const char *key = field2(q, "key"), *value = field2(q, "value"), *why;
	char msg[96];

	if (!key)
		return refuse2(srv, r, q, "kvs-put-response", "missing_key");
	if (!value)
		return refuse2(srv, r, q, "kvs-put-response", "missing_value");
	if ((why = pmi_put_refusal(srv, r, key, value, msg, sizeof(msg))))
		return refuse2(srv, r, q, "kvs-put-response", why);
	/* reply first: answering held gets may fail on another rank */
	if (reply_ok(srv, r, "kvs-put-response") < 0)
		return -1;
	pmi_put_commit(srv, r, key, value);
	return 0;
}

static int c_kvs_fence(struct pmi_server *srv, struct pmi_rank *r,
		       const struct req2 *q)
{
	const char *why = pmi_barrier_enter(srv, r);

	return why ? refuse2(srv, r, q, "kvs-fence-response", why) : 0;
}

/* A key as a get may name: no put can make a longer one, and a held
 * get must stay small.  NULL when fine. */
static const char *get_key_refusal(const char *key, char *msg, size_t n)
{
	if (!key)
		return "missing_key";
	if (strlen(key) > PMI_KEYLEN_MAX)
		return pmi_token_msg(msg, n, "key", "too_long", PMI_KEYLEN_MAX);
	return NULL;
}

static int c_kvs_get(struct pmi_server *srv, struct pmi_rank *r,
		     const struct req2 *q)
{
	const char *key = field2(q, "key"), *jobid = field2(q, "jobid");
	const char *why, *value;
	char msg[128];

	/* one KVS per step: another job's (MPI_Comm_connect) is not here */
	if (jobid && *jobid && strcmp(jobid, srv->jobid) &&
	    strcmp(jobid, srv->kvsname)) {
		snprintf(msg, sizeof(msg),
			 "unknown jobid %.40s (this step's is %.40s)", jobid,
			 srv->jobid);
		return refuse2(srv, r, q, "kvs-get-response", msg);
	}
	if ((why = get_key_refusal(key, msg, sizeof(msg))))
		return refuse2(srv, r, q, "kvs-get-response", why);
	if (!pmi_get_or_hold(srv, r, key, &value))
		return 0;
	return pmi2_send_get(srv, r, value);
}

static struct pmi_nodeattr *nodeattr_find(const struct pmi_server *srv,
					  const char *key)
{
	for (size_t i = 0; i < srv->nnodeattrs; i++)
		if (!strcmp(srv->nodeattrs[i].key, key))
			return &srv->nodeattrs[i];
	return NULL;
}

/* The waits for key (info-getnodeattr wait=TRUE) end: it is there. */
static int answer_nodeattr_waits(struct pmi_server *srv, const char *key,
				 const char *value)
{
	int rc = 0, saved = 0;

	for (size_t i = 0; i < srv->nlocal; i++) {
		struct pmi_rank *o = srv->local[i];

		if (!o->held_nodeattr || strcmp(o->held_nodeattr, key))
			continue;
		free(o->held_nodeattr);
		o->held_nodeattr = NULL;
		if (o->closed || o->aborted)
			continue;
		if (reply_found(srv, o, "info-getnodeattr-response", value) <
			    0 &&
		    !rc) {
			rc = -1;
			saved = errno;
		}
	}
	if (rc)
		errno = saved;
	return rc;
}

static int c_putnodeattr(struct pmi_server *srv, struct pmi_rank *r,
			 const struct req2 *q)
{
	const char *key = field2(q, "key"), *value = field2(q, "value"), *why;
	const char *resp = "info-putnodeattr-response";
	struct pmi_nodeattr *a;
	size_t cost, old;
	char msg[96];

	if (!key || !value)
		return refuse2(srv, r, q, resp,
			       key ? "missing_value" : "missing_key");
	if ((why = pmi_check_token(key, PMI_KEYLEN_MAX, false, false)))
		return refuse2(srv, r, q, resp,
			       pmi_token_msg(msg, sizeof(msg), "key", why,
					     PMI_KEYLEN_MAX));
	if ((why = pmi_check_token(value, PMI_VALLEN_MAX, true, true)))
		return refuse2(srv, r, q, resp,
			       pmi_token_msg(msg, sizeof(msg), "value", why,
					     PMI_VALLEN_MAX));
	if (r->nputs >= PMI_RANK_PUTS_MAX) {
		snprintf(msg, sizeof(msg), "too_many_puts_max_%d_per_rank",
			 PMI_RANK_PUTS_MAX);
		return refuse2(srv, r, q, resp, msg);
	}
	a = nodeattr_find(srv, key);
	cost = pmi_kv_cost(strlen(key), strlen(value));
	old = a ? pmi_kv_cost(strlen(a->key), strlen(a->value)) : 0;
	if (srv->nodeattr_bytes - old > PMI2_NODEATTR_BYTES_MAX - cost) {
		snprintf(msg, sizeof(msg),
			 "node_attributes_full_max_%u_bytes_on_this_node",
			 PMI2_NODEATTR_BYTES_MAX);
		return refuse2(srv, r, q, resp, msg);
	}
	if (reply_ok(srv, r, resp) < 0)
		return -1;
	r->nputs++;
	if (!a) {
		srv->nodeattrs = xrealloc(srv->nodeattrs,
					  (srv->nnodeattrs + 1) *
						  sizeof(*srv->nodeattrs));
		a = &srv->nodeattrs[srv->nnodeattrs++];
		a->key = xstrdup(key);
	} else {
		free(a->value);
	}
	a->value = xstrdup(value);
	srv->nodeattr_bytes = srv->nodeattr_bytes - old + cost;
	return answer_nodeattr_waits(srv, a->key, a->value);
}

static int c_getnodeattr(struct pmi_server *srv, struct pmi_rank *r,
			 const struct req2 *q)
{
	const char *key = field2(q, "key"), *why;
	const char *resp = "info-getnodeattr-response";
	const struct pmi_nodeattr *a;
	char msg[96];

	if ((why = get_key_refusal(key, msg, sizeof(msg))))
		return refuse2(srv, r, q, resp, why);
	if ((a = nodeattr_find(srv, key)))
		return reply_found(srv, r, resp, a->value);
	if (parse_bool(field2(q, "wait"), false)) {
		/* until a rank of this node puts it (MPICH's shared memory
		 * wire-up: one rank creates, the others wait for its name) */
		free(r->held_nodeattr);
		r->held_nodeattr = xstrdup(key);
		return 0;
	}
	return reply_found(srv, r, resp, NULL);
}

static int c_getjobattr(struct pmi_server *srv, struct pmi_rank *r,
			const struct req2 *q)
{
	const char *key = field2(q, "key"), *why;
	const char *resp = "info-getjobattr-response";
	const struct kvs_entry *e;
	char msg[96];

	if ((why = get_key_refusal(key, msg, sizeof(msg))))
		return refuse2(srv, r, q, resp, why);
	if (!strcmp(key, "universeSize")) {
		snprintf(msg, sizeof(msg), "%d", srv->universe_size);
		return reply_found(srv, r, resp, msg);
	}
	if (!strcmp(key, "PMI_process_mapping")) {
		/* the step's own entry (pmi_server_set_process_mapping) */
		e = pmi_kvs_find(srv, key);
		return reply_found(srv, r, resp, e ? e->value : NULL);
	}
	/* PMI_dead_processes, PMI_hwloc_xmlfile, ...: not known here */
	return reply_found(srv, r, resp, NULL);
}

static int c_finalize(struct pmi_server *srv, struct pmi_rank *r,
		      const struct req2 *q)
{
	int rc;

	(void)q;
	r->finalized = true;
	rc = reply_ok(srv, r, "finalize-response");
	if (srv->ops.finalized)
		srv->ops.finalized(srv->arg, r->rank);
	return rc;
}

static int c_abort(struct pmi_server *srv, struct pmi_rank *r,
		   const struct req2 *q)
{
	const char *msg = field2(q, "msg");
	int code;

	if (!msg)
		msg = field2(q, "message");
	/* no exit code in MPICH's PMI2_Abort (it exits 1 itself) */
	if (!pmi_parse_int(field2(q, "exitcode"), &code))
		code = 1;
	r->aborted = true;
	if (!parse_bool(field2(q, "isworld"), true)) {
		/* this process only, as in Slurm: it exits by itself, and
		 * the step layer sees it fail */
		pmi_report(srv, r->rank,
			   "PMI-2 rank %d aborted itself (isworld=FALSE): %s",
			   r->rank, msg ? msg : "");
		return 0;
	}
	srv->ops.abort(srv->arg, r->rank, code, msg ? msg : "");
	return 0;
}

static int c_unsupported(struct pmi_server *srv, struct pmi_rank *r,
			 const struct req2 *q)
{
	char resp[PMI2_CMD_NAME_MAX + 16];
	const char *why;

	if (!strcmp(q->cmd, "spawn"))
		why = "spawn is not supported by Meridian: MPI_Comm_spawn "
		      "cannot add ranks to a step";
	else if (!strncmp(q->cmd, "name-", 5))
		why = "the name service (MPI_Publish_name, MPI_Lookup_name) "
		      "is not supported by Meridian";
	else
		why = "connecting jobs (MPI_Comm_connect) is not supported "
		      "by Meridian";
	snprintf(resp, sizeof(resp), "%s-response", q->cmd);
	return refuse2(srv, r, q, resp, why);
}

/* The commands, by their cmd.  before_init: answered before fullinit;
 * after_finalize: answered once the rank finalized. */
static const struct pmi2_cmd {
	const char *name;
	int (*fn)(struct pmi_server *, struct pmi_rank *, const struct req2 *);
	bool before_init;
	bool after_finalize;
} pmi2_cmds[] = {
	{"fullinit", c_fullinit, true, false},
	{"job-getid", c_job_getid, false, false},
	{"kvs-put", c_kvs_put, false, false},
	{"kvs-fence", c_kvs_fence, false, false},
	{"kvs-get", c_kvs_get, false, false},
	{"info-putnodeattr", c_putnodeattr, false, false},
	{"info-getnodeattr", c_getnodeattr, false, false},
	{"info-getjobattr", c_getjobattr, false, false},
	{"finalize", c_finalize, false, false},
	{"abort", c_abort, true, true},
	{"spawn", c_unsupported, false, false},
	{"name-publish", c_unsupported, false, false},
	{"name-unpublish", c_unsupported, false, false},
	{"name-lookup", c_unsupported, false, false},
	{"job-connect", c_unsupported, false, false},
	{"job-disconnect", c_unsupported, false, false},
	{NULL, NULL, false, false},
};

/* ---- commands ---- */

/* Split body (NUL terminated, len bytes) into key=value fields in place,
 * undoing the ";;" escapes.  NULL, or why it cannot be read. */
static const char *parse_body(char *body, size_t len, struct req2 *q)
{
	char *p = body, *end = body + len;

	q->n = 0;
	q->cmd = NULL;
	while (p < end) {
		char *eq, *semi, *w, *rp;

		if (*p == ';') { /* an empty pair */
			p++;
			continue;
		}
		eq = memchr(p, '=', (size_t)(end - p));
		semi = memchr(p, ';', (size_t)(end - p));
		if (!eq || (semi && semi < eq) || eq == p)
			return "expected key=value pairs";
		if (q->n == PMI2_MAX_FIELDS) {
			/* spawn is refused whole, whatever it holds */
			if (q->cmd && !strcmp(q->cmd, "spawn"))
				break;
			return "too many fields";
		}
		*eq = '\0';
		w = rp = eq + 1;
		while (rp < end) {
			if (*rp == ';') {
				if (rp + 1 < end && rp[1] == ';') {
					*w++ = ';';
					rp += 2;
					continue;
				}
				break;
			}
			*w++ = *rp++;
		}
		*w = '\0';
		q->f[q->n].key = p;
		q->f[q->n].value = eq + 1;
		if (q->n == 0) {
			if (strcmp(p, "cmd"))
				return "expected cmd= first";
			q->cmd = eq + 1;
		}
		q->n++;
		p = rp + 1;
	}
	return q->cmd ? NULL : "expected cmd= first";
}

/* The reply name a refusal of a command named cmd goes in: its own
 * NAME-response when the name is sane, else "error" (no client waits for
 * it: it fails, instead of taking the refusal for something else). */
static const char *resp_name(const char *cmd, char *buf, size_t n)
{
	size_t len = cmd ? strlen(cmd) : 0;

	if (!len || len > PMI2_CMD_NAME_MAX)
		return "error";
	for (size_t i = 0; i < len; i++)
		if (!((cmd[i] >= 'a' && cmd[i] <= 'z') || cmd[i] == '-'))
			return "error";
	snprintf(buf, n, "%s-response", cmd);
	return buf;
}

/* Answer one whole command (body: len bytes, NUL terminated after). */
static int handle_command(struct pmi_server *srv, struct pmi_rank *r,
			  char *body, size_t len)
{
	char *text = xstrndup(body, len), resp[PMI2_CMD_NAME_MAX + 16];
	struct req2 q = {.text = text};
	const char *why;
	int rc;

	if (strlen(body) != len) {
		rc = refuse2(srv, r, &q, "error", "a NUL byte in the command");
	} else if ((why = parse_body(body, len, &q))) {
		rc = refuse2(srv, r, &q, resp_name(q.cmd, resp, sizeof(resp)),
			     why);
	} else {
		const struct pmi2_cmd *c = pmi2_cmds;

		while (c->name && strcmp(c->name, q.cmd))
			c++;
		if (!c->name)
			rc = refuse2(srv, r, &q,
				     resp_name(q.cmd, resp, sizeof(resp)),
				     "unknown command");
		else if (r->finalized && !c->after_finalize)
			rc = refuse2(srv, r, &q,
				     resp_name(q.cmd, resp, sizeof(resp)),
				     "rank already finalized");
		else if (!r->fullinit && !c->before_init)
			rc = refuse2(srv, r, &q,
				     resp_name(q.cmd, resp, sizeof(resp)),
				     "fullinit first (PMI2_Init)");
		else
			rc = c->fn(srv, r, &q);
	}
	free(text);
	return rc;
}

/* The length header, 6 bytes: digits, spaces around them.  -1 when it
 * is not that. */
static long parse_header(const char *h)
{
	long v = 0;
	size_t i = 0, digits = 0;

	while (i < PMI2_HDR_LEN && h[i] == ' ')
		i++;
	for (; i < PMI2_HDR_LEN && h[i] >= '0' && h[i] <= '9'; i++, digits++)
		v = v * 10 + (h[i] - '0');
	while (i < PMI2_HDR_LEN && h[i] == ' ')
		i++;
	return i == PMI2_HDR_LEN && digits ? v : -1;
}

/* A header was read: start its command, or refuse it. */
static int start_command(struct pmi_server *srv, struct pmi_rank *r)
{
	long n = parse_header(r->hdr);
	struct req2 q = {.text = r->hdr};
	char why[96];

	if (n < 0) {
		/* nothing to resynchronise on: ignore the rest */
		r->desync = true;
		r->hdr[PMI2_HDR_LEN] = '\0';
		pmi_report(srv, r->rank,
			   "PMI-2 rank %d: \"%s\" is not a length header: "
			   "the rest of its PMI input is ignored",
			   r->rank, pmi_excerpt(r->hdr, why, 16));
		return refuse2(srv, r, &q, "error",
			       "expected a 6-character length header");
	}
	if (n == 0 || n > PMI2_CMD_MAX) {
		r->hdr_len = 0;
		r->skip = (size_t)n;
		if (n)
			snprintf(why, sizeof(why),
				 "command too long: %ld bytes, at most %d", n,
				 PMI2_CMD_MAX);
		else
			snprintf(why, sizeof(why), "empty command");
		q.text = n ? "(a command too long)" : "(an empty command)";
		return refuse2(srv, r, &q, "error", why);
	}
	r->body_len = (size_t)n;
	r->got = 0;
	if (!r->body)
		r->body = xmalloc(PMI2_CMD_MAX + 1);
	return 0;
}

int pmi2_input(struct pmi_server *srv, struct pmi_rank *r, const char *data,
	       size_t len)
{
	while (len && !r->aborted && !r->desync) {
		size_t n;

		if (r->skip) {
			n = len < r->skip ? len : r->skip;
			r->skip -= n;
		} else if (r->hdr_len < PMI2_HDR_LEN) {
			n = PMI2_HDR_LEN - r->hdr_len;
			if (n > len)
				n = len;
			memcpy(r->hdr + r->hdr_len, data, n);
			r->hdr_len += n;
			r->hdr[r->hdr_len] = '\0';
			if (r->hdr_len == PMI2_HDR_LEN &&
			    start_command(srv, r) < 0)
				return -1;
		} else {
			n = r->body_len - r->got;
			if (n > len)
				n = len;
			memcpy(r->body + r->got, data, n);
			r->got += n;
			if (r->got == r->body_len) {
				r->body[r->body_len] = '\0';
				r->hdr_len = 0;
				if (handle_command(srv, r, r->body,
						   r->body_len) < 0)
					return -1;
			}
		}
		data += n;
		len -= n;
	}
	return 0;
}

void pmi2_rank_reset(struct pmi_rank *r)
{
	free(r->body);
	r->body = NULL;
	free(r->held_nodeattr);
	r->held_nodeattr = NULL;
	r->hdr_len = r->body_len = r->got = r->skip = 0;
}

void pmi2_server_free(struct pmi_server *srv)
{
	for (size_t i = 0; i < srv->nnodeattrs; i++) {
		free(srv->nodeattrs[i].key);
		free(srv->nodeattrs[i].value);
	}
	free(srv->nodeattrs);
	free(srv->jobid);
}
