/*
 * pmi.c - the PMI-1 wire protocol, server side (see pmi.h for the format).
 *
 * Checked against MPICH 4.0.2's client, src/pmi/simple/simple_pmi.c and
 * simple_pmiutil.c (the library Debian's libmpich12 embeds): it reads a
 * reply line into a 1024-byte buffer, splits it at spaces into key=value
 * tokens, checks the reply's cmd against the one it expects, and reads rc
 * only for response_to_init, put_result, get_result and the name-service
 * results.  PMI_Abort writes "cmd=abort exitcode=N" and then blocks
 * reading a reply that must never come.
 *
 * The KVS is a chained hash table whose entries never move or go away
 * (PMI-1 has no delete), so the list of puts since the last barrier can
 * point at them.
 *
 * The limits (pmi.h) are kept by counting what every entry costs: the
 * whole KVS (bytes), and the entries whose latest value a local rank put
 * (local_bytes, against the share of this node's ranks).  An entry whose
 * value another node or the step replaces is no longer this node's: it
 * leaves local_bytes and the puts of the current barrier, so that the
 * puts this node sends at a barrier never cost more than its share.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pmi.h"
#include "pmi_impl.h"
#include "util.h"

/* Tokens in one request: a put has four; spawn's lines are not split. */
#define PMI_MAX_FIELDS 16

/* One parsed request: fields point into the (modified) line. */
struct request {
	const char *cmd;
	const char *line; /* the whole line as received, for messages */
	size_t nfields;
	struct {
		const char *key;
		const char *value;
	} f[PMI_MAX_FIELDS];
};

/* ---- the KVS ---- */

static size_t hash_str(const char *s)
{
	size_t h = 14695981039346656037ULL; /* FNV-1a */

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ULL;
	}
	return h;
}

struct kvs_entry *pmi_kvs_find(const struct pmi_server *srv, const char *key)
{
	struct kvs_entry *e;

	if (!srv->nbuckets)
		return NULL;
	e = srv->buckets[hash_str(key) & (srv->nbuckets - 1)];
	for (; e; e = e->next)
		if (!strcmp(e->key, key))
			return e;
	return NULL;
}

static void kvs_grow(struct pmi_server *srv)
{
	size_t n = srv->nbuckets ? srv->nbuckets * 2 : 64;
	struct kvs_entry **b = xcalloc(n, sizeof(*b));

	for (size_t i = 0; i < srv->nbuckets; i++) {
		struct kvs_entry *e = srv->buckets[i], *next;
		for (; e; e = next) {
			size_t h = hash_str(e->key) & (n - 1);
			next = e->next;
			e->next = b[h];
			b[h] = e;
		}
	}
	free(srv->buckets);
	srv->buckets = b;
	srv->nbuckets = n;
}

static int answer_held(struct pmi_server *srv, const char *key);

/* Another node or the step replaced the value a local rank put: it no
 * longer counts against this node's share nor goes out with its puts
 * (every node gets the new value from whoever put it). */
static void kvs_disown(struct pmi_server *srv, struct kvs_entry *e)
{
	srv->local_bytes -= e->local_cost;
	e->local_cost = 0;
	if (!e->pending)
		return;
	e->pending = false;
	for (size_t i = 0; i < srv->npending; i++)
		if (srv->pending[i] == e) {
			memmove(&srv->pending[i], &srv->pending[i + 1],
				(srv->npending - i - 1) *
					sizeof(*srv->pending));
			srv->npending--;
			break;
		}
}

/* Set key to value (a later put wins, as in Hydra); the caller checked
 * the limits.  A rank's put joins the puts of the current barrier.  Gets
 * held for key are answered (-1 when such an answer could not be
 * sent). */
static int kvs_set(struct pmi_server *srv, const char *key, const char *value,
		   bool from_rank)
{
	struct kvs_entry *e = pmi_kvs_find(srv, key);
	size_t cost = pmi_kv_cost(strlen(key), strlen(value));

	if (e) {
		if (strcmp(e->value, value)) {
			free(e->value);
			e->value = xstrdup(value);
			srv->bytes = srv->bytes - e->cost + cost;
			e->cost = cost;
			if (!from_rank && e->local_cost)
				kvs_disown(srv, e);
		}
	} else {
		size_t h;
		if (srv->nentries >= srv->nbuckets)
			kvs_grow(srv);
		e = xcalloc(1, sizeof(*e));
		e->key = xstrdup(key);
		e->value = xstrdup(value);
		e->cost = cost;
		h = hash_str(key) & (srv->nbuckets - 1);
		e->next = srv->buckets[h];
		srv->buckets[h] = e;
		srv->nentries++;
		srv->bytes += cost;
	}
	if (from_rank) {
		srv->local_bytes = srv->local_bytes - e->local_cost + cost;
		e->local_cost = cost;
	}
	if (from_rank && !e->pending) {
		if (srv->npending == srv->pending_cap) {
			srv->pending_cap =
				srv->pending_cap ? srv->pending_cap * 2 : 64;
			srv->pending = xrealloc(srv->pending,
						srv->pending_cap *
							sizeof(*srv->pending));
		}
		srv->pending[srv->npending++] = e;
		e->pending = true;
	}
	return srv->nheld ? answer_held(srv, key) : 0;
}

static void kvs_free(struct pmi_server *srv)
{
	for (size_t i = 0; i < srv->nbuckets; i++) {
		struct kvs_entry *e = srv->buckets[i], *next;
		for (; e; e = next) {
			next = e->next;
			free(e->key);
			free(e->value);
			free(e);
		}
	}
	free(srv->buckets);
	free(srv->pending);
}

/* A key or value the wire can carry: printable, no space (the token
 * separator) and, for keys and names, no '=' (the key/value separator).
 * Returns NULL when fine, else the reason as a msg token. */
const char *pmi_check_token(const char *s, size_t max, bool allow_eq,
			    bool allow_empty)
{
	size_t n = 0;

	for (; s[n]; n++) {
		unsigned char c = (unsigned char)s[n];
		if (c <= ' ' || c == 0x7f)
			return "space_or_control_character";
		if (c == '=' && !allow_eq)
			return "equals_sign";
	}
	if (!n && !allow_empty)
		return "empty";
	if (n > max)
		return "too_long";
	return NULL;
}

/* ---- replies ---- */

static int reply(struct pmi_server *srv, struct pmi_rank *r, const char *fmt,
		 ...) __attribute__((format(printf, 3, 4)));

/* Send one formatted line (fmt without the '\n'). */
static int reply(struct pmi_server *srv, struct pmi_rank *r, const char *fmt,
		 ...)
{
	char buf[PMI_LINE_MAX + 128];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf) - 1, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(buf) - 1) {
		/* cannot happen: every value is bounded by the limits */
		errno = EOVERFLOW;
		return -1;
	}
	buf[n++] = '\n';
	buf[n] = '\0';
	return srv->ops.send(srv->arg, r->rank, buf, (size_t)n);
}

void pmi_report(struct pmi_server *srv, int rank, const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	if (!srv->ops.error)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	srv->ops.error(srv->arg, rank, buf);
}

/* Report a refusal of r's, unless r or the ranks together had theirs
 * reported often enough already (pmi.h: PMI_RANK_REFUSALS_REPORTED): then
 * it is only counted, and pmi_conn_closed() reports the count.  A rank
 * that sends garbage in a loop makes a bounded number of log lines. */
void pmi_refusal(struct pmi_server *srv, struct pmi_rank *r, const char *fmt,
		 ...)
{
	char buf[512];
	const char *more = "";
	va_list ap;
	int n;

	r->refusals++;
	if (!srv->ops.error || r->reported >= PMI_RANK_REFUSALS_REPORTED ||
	    srv->reported >= PMI_REFUSALS_REPORTED)
		return;
	r->reported++;
	srv->reported++;
	if (srv->reported == PMI_REFUSALS_REPORTED)
		more = " (more refusals of this node's ranks are counted, "
		       "not reported)";
	else if (r->reported == PMI_RANK_REFUSALS_REPORTED)
		more = " (more refusals of this rank are counted, not "
		       "reported)";
	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n >= 0 && (size_t)n < sizeof(buf))
		snprintf(buf + n, sizeof(buf) - (size_t)n, "%s", more);
	srv->ops.error(srv->arg, r->rank, buf);
}

/* The start of a line for messages (n - 1 bytes at most), control
 * characters shown as '?'. */
const char *pmi_excerpt(const char *line, char *buf, size_t n)
{
	size_t len = strlen(line);

	if (len < n) {
		memcpy(buf, line, len + 1);
	} else {
		memcpy(buf, line, n - 4);
		memcpy(buf + n - 4, "...", 4);
	}
	for (char *p = buf; *p; p++)
		if ((unsigned char)*p < ' ' || (unsigned char)*p == 0x7f)
			*p = '?';
	return buf;
}

/* Refuse a request where the client does not read rc: a cmd no client
 * expects makes it fail.  The refusal is also reported. */
static int refuse(struct pmi_server *srv, struct pmi_rank *r,
		  const struct request *q, const char *msg)
{
	char ex[84];

	pmi_refusal(srv, r, "PMI rank %d: refused \"%s\": %s", r->rank,
		    pmi_excerpt(q->line, ex, sizeof(ex)), msg);
	return reply(srv, r, "cmd=error rc=-1 msg=%s", msg);
}

/* Refuse a request whose reply carries rc: "cmd=RESULT rc=-1 msg=MSG". */
static int refuse_rc(struct pmi_server *srv, struct pmi_rank *r,
		     const struct request *q, const char *result,
		     const char *msg)
{
	char ex[84];

	pmi_refusal(srv, r, "PMI rank %d: refused \"%s\": %s", r->rank,
		    pmi_excerpt(q->line, ex, sizeof(ex)), msg);
	return reply(srv, r, "cmd=%s rc=-1 msg=%s", result, msg);
}

static const char *field(const struct request *q, const char *key)
{
	for (size_t i = 0; i < q->nfields; i++)
		if (!strcmp(q->f[i].key, key))
			return q->f[i].value;
	return NULL;
}

bool pmi_parse_int(const char *s, int *v)
{
	char *end;
	long l;

	if (!s || !*s)
		return false;
	errno = 0;
	l = strtol(s, &end, 10);
	if (errno || *end || l < INT_MIN || l > INT_MAX)
		return false;
	*v = (int)l;
	return true;
}

/* ---- the commands ---- */

static int cmd_init(struct pmi_server *srv, struct pmi_rank *r,
		    const struct request *q)
{
	int ver, sub;

	if (!pmi_parse_int(field(q, "pmi_version"), &ver) ||
	    !pmi_parse_int(field(q, "pmi_subversion"), &sub))
		return refuse_rc(srv, r, q,
				 "response_to_init pmi_version=1 "
				 "pmi_subversion=1",
				 "expected_pmi_version_and_pmi_subversion");
	if (ver == 2 && srv->pmi2) {
		/* MPICH's and Slurm's PMI2_Init: this one PMI-1 line, then
		 * PMI-2's wire protocol (pmi2.c) from the next byte on. */
		if (reply(srv, r,
			  "cmd=response_to_init pmi_version=2 "
			  "pmi_subversion=0 rc=0") < 0)
			return -1;
		r->wire = PMI_WIRE_2;
		return 0;
	}
	if (ver != 1 || sub < 0 || sub > 1)
		/* A PMI-2 client (MPICH built --with-pmi=pmi2) starts with
		 * version 2: tell it plainly we speak PMI-1 only (mrun
		 * --mpi=pmi2 serves PMI-2). */
		return refuse_rc(srv, r, q,
				 "response_to_init pmi_version=1 "
				 "pmi_subversion=1",
				 srv->pmi2 ? "expected_pmi_version_1_or_2"
					   : "only_pmi_version_1_is_served");
	r->wire = PMI_WIRE_1;
	return reply(srv, r,
		     "cmd=response_to_init pmi_version=1 pmi_subversion=1 "
		     "rc=0");
}

static int cmd_get_maxes(struct pmi_server *srv, struct pmi_rank *r,
			 const struct request *q)
{
	(void)q;
	return reply(srv, r,
		     "cmd=maxes rc=0 kvsname_max=%d keylen_max=%d "
		     "vallen_max=%d",
		     PMI_KVSNAME_MAX, PMI_KEYLEN_MAX, PMI_VALLEN_MAX);
}

static int cmd_get_appnum(struct pmi_server *srv, struct pmi_rank *r,
			  const struct request *q)
{
	(void)q;
	return reply(srv, r, "cmd=appnum rc=0 appnum=%d", srv->appnum);
}

static int cmd_get_my_kvsname(struct pmi_server *srv, struct pmi_rank *r,
			      const struct request *q)
{
	(void)q;
	return reply(srv, r, "cmd=my_kvsname rc=0 kvsname=%s", srv->kvsname);
}

static int cmd_get_universe_size(struct pmi_server *srv, struct pmi_rank *r,
				 const struct request *q)
{
	(void)q;
	return reply(srv, r, "cmd=universe_size rc=0 size=%d",
		     srv->universe_size);
}

/* kvsname is optional (newer MPICH may leave it out); when given it must
 * be ours: there is one KVS per step. */
static const char *check_kvsname(const struct pmi_server *srv,
				 const struct request *q)
{
	const char *k = field(q, "kvsname");

	if (k && strcmp(k, srv->kvsname))
		return "unknown_kvsname";
	return NULL;
}

/* The limits of pmi.h on a rank's put of a valid key and value: NULL
 * when within them, else the msg naming the one it would break (static
 * storage). */
static const char *check_put_limits(const struct pmi_server *srv,
				    const struct pmi_rank *r, const char *key,
				    const char *value)
{
	static char msg[96];
	const struct kvs_entry *e = pmi_kvs_find(srv, key);
	size_t cost = pmi_kv_cost(strlen(key), strlen(value));
	size_t share = pmi_kvs_share(srv->nlocal, (size_t)srv->size);
	bool same = e && !strcmp(e->value, value);

	if (r->nputs >= PMI_RANK_PUTS_MAX) {
		snprintf(msg, sizeof(msg), "too_many_puts_max_%d_per_rank",
			 PMI_RANK_PUTS_MAX);
		return msg;
	}
	/* what the entry costs this node already is freed by the put */
	if (cost > share ||
	    srv->local_bytes - (e ? e->local_cost : 0) > share - cost) {
		snprintf(
			msg, sizeof(msg),
			"kvs_full_max_%zu_bytes_for_the_%zu_ranks_of_this_node",
			share, srv->nlocal);
		return msg;
	}
	/* the whole KVS, which other nodes' entries fill too (a put of the
	 * value already there changes nothing) */
	if (!same &&
	    srv->bytes - (e ? e->cost : 0) > PMI_KVS_BYTES_MAX - cost) {
		snprintf(msg, sizeof(msg), "kvs_full_max_%u_bytes_on_this_node",
			 PMI_KVS_BYTES_MAX);
		return msg;
	}
	return NULL;
}

/* The msg refusing a key or value (what) for check_token's why: a length
 * names its limit, max. */
const char *pmi_token_msg(char *msg, size_t n, const char *what,
			  const char *why, int max)
{
	if (!strcmp(why, "too_long"))
		snprintf(msg, n, "%s_too_long_max_%d_bytes", what, max);
	else
		snprintf(msg, n, "%s_%s", what, why);
	return msg;
}

const char *pmi_put_refusal(struct pmi_server *srv, const struct pmi_rank *r,
			    const char *key, const char *value, char *msg,
			    size_t n)
{
	const char *why;

	/* the rules pmi_server_barrier_release() applies on other nodes:
	 * a put they would refuse must not enter the exchange */
	if ((why = pmi_check_token(key, PMI_KEYLEN_MAX, true, false)))
		return pmi_token_msg(msg, n, "key", why, PMI_KEYLEN_MAX);
	if ((why = pmi_check_token(value, PMI_VALLEN_MAX, true, true)))
		return pmi_token_msg(msg, n, "value", why, PMI_VALLEN_MAX);
	if ((r->in_barrier && !r->unblocked) || r->next_in)
		/* its puts would miss the exchange under way */
		return "put_during_barrier";
	return check_put_limits(srv, r, key, value);
}

void pmi_put_commit(struct pmi_server *srv, struct pmi_rank *r, const char *key,
		    const char *value)
{
	r->nputs++;
	(void)kvs_set(srv, key, value, true);
}

static int cmd_put(struct pmi_server *srv, struct pmi_rank *r,
		   const struct request *q)
{
	const char *key = field(q, "key"), *value = field(q, "value"), *why;
	char msg[96];

	if ((why = check_kvsname(srv, q)))
		return refuse_rc(srv, r, q, "put_result", why);
	if (!key)
		return refuse_rc(srv, r, q, "put_result", "missing_key");
	if (!value)
		return refuse_rc(srv, r, q, "put_result", "missing_value");
	if ((why = pmi_put_refusal(srv, r, key, value, msg, sizeof(msg))))
		return refuse_rc(srv, r, q, "put_result", why);
	/* reply first: answering held gets may fail on another rank */
	if (reply(srv, r, "cmd=put_result rc=0") < 0)
		return -1;
	pmi_put_commit(srv, r, key, value);
	return 0;
}

int pmi_get_or_hold(struct pmi_server *srv, struct pmi_rank *r, const char *key,
		    const char **value)
{
	const struct kvs_entry *e = pmi_kvs_find(srv, key);

	if (!e && r->unblocked) {
		/* The barrier this rank was let out of is not over: the key
		 * may still come from a rank that has not entered it.  Answer
		 * when it does, or when the barrier ends. */
		if (r->held_key)
			free(r->held_key); /* a client that did not wait */
		else
			srv->nheld++;
		r->held_key = xstrdup(key);
		return 0;
	}
	*value = e ? e->value : NULL;
	return 1;
}

static int cmd_get(struct pmi_server *srv, struct pmi_rank *r,
		   const struct request *q)
{
	const char *key = field(q, "key"), *why, *value;

	if ((why = check_kvsname(srv, q)))
		return refuse_rc(srv, r, q, "get_result", why);
	if (!key)
		return refuse_rc(srv, r, q, "get_result", "missing_key");
	if (strlen(key) > PMI_KEYLEN_MAX) {
		/* no put can make it, and a held get must stay small */
		char msg[64];

		return refuse_rc(srv, r, q, "get_result",
				 pmi_token_msg(msg, sizeof(msg), "key",
					       "too_long", PMI_KEYLEN_MAX));
	}
	if (!pmi_get_or_hold(srv, r, key, &value))
		return 0;
	/* not found is not an error worth reporting: MPICH probes optional
	 * keys such as PMI_dead_processes */
	return pmi_send_get(srv, r, value);
}

int pmi_send_get(struct pmi_server *srv, struct pmi_rank *r, const char *value)
{
	if (r->wire == PMI_WIRE_2)
		return pmi2_send_get(srv, r, value);
	if (!value)
		return reply(srv, r, "cmd=get_result rc=-1 msg=key_not_found");
	return reply(srv, r, "cmd=get_result rc=0 value=%s", value);
}

int pmi_send_barrier_done(struct pmi_server *srv, struct pmi_rank *r)
{
	if (r->wire == PMI_WIRE_2)
		return pmi2_send_fence_done(srv, r);
	return reply(srv, r, "cmd=barrier_out");
}

/* Answer the held gets for key (every held get when key is NULL: the
 * barrier is over, what is not there now never will be). */
static int answer_held(struct pmi_server *srv, const char *key)
{
	int rc = 0, saved = 0;

	for (size_t i = 0; i < srv->nlocal && srv->nheld; i++) {
		struct pmi_rank *r = srv->local[i];
		const struct kvs_entry *e;
		int sent;
		if (!r->held_key || (key && strcmp(r->held_key, key)))
			continue;
		e = pmi_kvs_find(srv, r->held_key);
		free(r->held_key);
		r->held_key = NULL;
		srv->nheld--;
		if (r->closed || r->aborted)
			continue;
		sent = pmi_send_get(srv, r, e ? e->value : NULL);
		if (sent < 0 && !rc) {
			rc = -1;
			saved = errno;
		}
	}
	if (rc)
		errno = saved;
	return rc;
}

/* Every local rank is in: hand this node's puts to the step layer. */
static void barrier_ready(struct pmi_server *srv)
{
	struct pmi_kv *puts =
		xcalloc(srv->npending ? srv->npending : 1, sizeof(*puts));
	size_t n = srv->npending;

	for (size_t i = 0; i < n; i++) {
		puts[i].key = srv->pending[i]->key;
		puts[i].value = srv->pending[i]->value;
		srv->pending[i]->pending = false;
	}
	srv->npending = 0;
	srv->barrier_waiting = true;
	srv->ops.barrier_ready(srv->arg, puts, n);
	free(puts);
}

const char *pmi_barrier_enter(struct pmi_server *srv, struct pmi_rank *r)
{
	if (r->unblocked) {
		/* let out of a barrier that is not over: this is the next
		 * one, counted once the current one ends */
		if (r->next_in)
			return "already_in_barrier";
		r->next_in = true;
		return NULL;
	}
	if (r->in_barrier)
		return "already_in_barrier";
	r->in_barrier = true;
	srv->barrier_begun = true;
	if (++srv->nin == srv->nlocal)
		barrier_ready(srv);
	return NULL;
}

static int cmd_barrier_in(struct pmi_server *srv, struct pmi_rank *r,
			  const struct request *q)
{
	const char *why = pmi_barrier_enter(srv, r);

	return why ? refuse(srv, r, q, why) : 0;
}

static int cmd_finalize(struct pmi_server *srv, struct pmi_rank *r,
			const struct request *q)
{
	int rc;

	(void)q;
	r->finalized = true;
	rc = reply(srv, r, "cmd=finalize_ack");
	if (srv->ops.finalized)
		srv->ops.finalized(srv->arg, r->rank);
	return rc;
}

static int cmd_abort(struct pmi_server *srv, struct pmi_rank *r,
		     const struct request *q)
{
	const char *msg = strstr(q->line, " message=");
	int code;

	/* A rank asking to abort is aborted even when it garbles the
	 * request: exit code 1 then. */
	if (!pmi_parse_int(field(q, "exitcode"), &code))
		code = 1;
	r->aborted = true;
	srv->ops.abort(srv->arg, r->rank, code,
		       msg ? msg + strlen(" message=") : "");
	return 0;
}

static int cmd_publish_name(struct pmi_server *srv, struct pmi_rank *r,
			    const struct request *q)
{
	return refuse_rc(srv, r, q, "publish_result",
			 "name_service_not_supported");
}

static int cmd_unpublish_name(struct pmi_server *srv, struct pmi_rank *r,
			      const struct request *q)
{
	return refuse_rc(srv, r, q, "unpublish_result",
			 "name_service_not_supported");
}

static int cmd_lookup_name(struct pmi_server *srv, struct pmi_rank *r,
			   const struct request *q)
{
	return refuse_rc(srv, r, q, "lookup_result",
			 "name_service_not_supported");
}

/* The requests, by their cmd.  after_finalize: still answered once the
 * rank finalized (nothing is, but abort: a finalized MPICH rank has closed
 * its PMI fd anyway). */
static const struct pmi_cmd {
	const char *name;
	int (*fn)(struct pmi_server *, struct pmi_rank *,
		  const struct request *);
	bool after_finalize;
} pmi_cmds[] = {
	{"init", cmd_init, false},
	{"get_maxes", cmd_get_maxes, false},
	{"get_appnum", cmd_get_appnum, false},
	{"get_my_kvsname", cmd_get_my_kvsname, false},
	{"get_universe_size", cmd_get_universe_size, false},
	{"put", cmd_put, false},
	{"get", cmd_get, false},
	{"barrier_in", cmd_barrier_in, false},
	{"finalize", cmd_finalize, false},
	{"abort", cmd_abort, true},
	{"publish_name", cmd_publish_name, false},
	{"unpublish_name", cmd_unpublish_name, false},
	{"lookup_name", cmd_lookup_name, false},
	{NULL, NULL, false},
};

/* ---- lines ---- */

/* Split line (NUL terminated, no '\n') into key=value fields in place. */
static const char *parse_line(char *line, struct request *q)
{
	char *p = line, *tok, *eq;

	q->nfields = 0;
	q->cmd = NULL;
	for (;;) {
		while (*p == ' ')
			p++;
		if (!*p)
			break;
		tok = p;
		while (*p && *p != ' ')
			p++;
		if (*p)
			*p++ = '\0';
		if (q->nfields == PMI_MAX_FIELDS) {
			/* abort's message may hold any number of words */
			if (q->cmd && !strcmp(q->cmd, "abort"))
				break;
			return "too_many_fields";
		}
		eq = strchr(tok, '=');
		if (!eq || eq == tok) {
			if (q->cmd && !strcmp(q->cmd, "abort"))
				continue; /* a word of its message */
			return "expected_key=value";
		}
		*eq = '\0';
		q->f[q->nfields].key = tok;
		q->f[q->nfields].value = eq + 1;
		if (q->nfields == 0) {
			if (strcmp(tok, "cmd"))
				return "expected_cmd=";
			q->cmd = eq + 1;
		}
		q->nfields++;
	}
	return q->cmd ? NULL : "expected_cmd=";
}

/* spawn comes as several lines, "mcmd=spawn" to "endcmd"; we answer the
 * whole with one refusal. */
static int mcmd_line(struct pmi_server *srv, struct pmi_rank *r,
		     const char *line)
{
	if (strcmp(line, "endcmd"))
		return 0;
	r->in_mcmd = false;
	pmi_refusal(
		srv, r,
		"PMI rank %d: refused spawn: MPI_Comm_spawn is not supported",
		r->rank);
	return reply(srv, r, "cmd=spawn_result rc=-1 msg=spawn_not_supported");
}

/* Answer one complete line (without its '\n'; modified in place). */
static int handle_line(struct pmi_server *srv, struct pmi_rank *r, char *line)
{
	char *copy = NULL;
	struct request q;
	const char *why;
	int rc;

	if (r->in_mcmd)
		return mcmd_line(srv, r, line);
	if (!strncmp(line, "mcmd=", 5)) {
		r->in_mcmd = true;
		return 0;
	}
	if (!*line)
		return 0; /* an empty line asks nothing */
	copy = xstrdup(line);
	q.line = copy;
	if ((why = parse_line(line, &q))) {
		rc = refuse(srv, r, &q, why);
		free(copy);
		return rc;
	}
	rc = 0;
	for (const struct pmi_cmd *c = pmi_cmds;; c++) {
		if (!c->name) {
			rc = refuse(srv, r, &q, "unknown_command");
			break;
		}
		if (strcmp(c->name, q.cmd))
			continue;
		if (r->finalized && !c->after_finalize)
			rc = refuse(srv, r, &q, "rank_already_finalized");
		else
			rc = c->fn(srv, r, &q);
		break;
	}
	free(copy);
	return rc;
}

int pmi_conn_input(struct pmi_server *srv, int rank, const char *data,
		   size_t len)
{
	struct pmi_rank *r;

	if (rank < 0 || rank >= srv->size || !(r = srv->by_rank[rank])) {
		errno = EINVAL;
		return -1;
	}
	if (len)
		srv->input_begun = true;
	if (r->wire == PMI_WIRE_UNKNOWN && len)
		/* PMI-2 served: a length header is PMI-2 from the start,
		 * anything else a PMI-1 line (maybe init pmi_version=2) */
		r->wire = (data[0] >= '0' && data[0] <= '9') || data[0] == ' '
				  ? PMI_WIRE_2
				  : PMI_WIRE_1;
	if (r->wire == PMI_WIRE_2)
		return r->aborted ? 0 : pmi2_input(srv, r, data, len);
	while (len && !r->aborted) {
		const char *nl = memchr(data, '\n', len);
		size_t n = nl ? (size_t)(nl - data) : len;

		if (r->skipping) {
			/* the rest of an over-long line */
		} else if (r->len + n >= PMI_LINE_MAX) {
			struct request q = {.line = "(a line too long)"};
			r->len = 0;
			r->skipping = true;
			if (r->in_mcmd) {
				/* a spawn this long is refused all the same */
			} else if (refuse(srv, r, &q, "line_too_long") < 0) {
				return -1;
			}
		} else {
			if (!r->buf)
				r->buf = xmalloc(PMI_LINE_MAX);
			memcpy(r->buf + r->len, data, n);
			r->len += n;
		}
		if (!nl)
			break;
		data += n + 1;
		len -= n + 1;
		if (r->skipping) {
			r->skipping = false;
			continue;
		}
		r->buf[r->len] = '\0';
		n = r->len;
		r->len = 0;
		if (strlen(r->buf) != n) {
			struct request q = {.line = "(a line with a NUL)"};
			if (refuse(srv, r, &q, "nul_byte_in_line") < 0)
				return -1;
			continue;
		}
		if (handle_line(srv, r, r->buf) < 0)
			return -1;
		if (r->wire == PMI_WIRE_2)
			/* init pmi_version=2: the rest is PMI-2 */
			return r->aborted ? 0 : pmi2_input(srv, r, data, len);
	}
	return 0;
}

void pmi_conn_closed(struct pmi_server *srv, int rank)
{
	struct pmi_rank *r;

	if (rank < 0 || rank >= srv->size || !(r = srv->by_rank[rank]))
		return;
	if (r->closed)
		return;
	r->closed = true;
	r->len = 0;
	r->skipping = false;
	if (r->held_key) {
		free(r->held_key);
		r->held_key = NULL;
		srv->nheld--;
	}
	pmi2_rank_reset(r);
	if (r->refusals > r->reported)
		pmi_report(
			srv, rank,
			"PMI rank %d: %lu more refused requests not reported "
			"(%lu in all)",
			rank, r->refusals - r->reported, r->refusals);
	if (!r->finalized && !r->aborted)
		pmi_report(
			srv, rank,
			"PMI rank %d closed its PMI connection without "
			"finalize (it exited or crashed before MPI_Finalize)",
			rank);
}

/* ---- the server ---- */

struct pmi_server *pmi_server_create(const struct pmi_server_ops *ops,
				     void *arg, const char *kvsname, int size,
				     int appnum, int universe_size,
				     struct mer_error *err)
{
	struct pmi_server *srv;
	const char *why;

	if (!ops || !ops->send || !ops->barrier_ready || !ops->abort) {
		errno = EINVAL;
		mer_error_set(err, "PMI server: the send, barrier_ready and "
				   "abort callbacks are required");
		return NULL;
	}
	if (!kvsname || (why = pmi_check_token(kvsname, PMI_KVSNAME_MAX - 1,
					       false, false))) {
		errno = EINVAL;
		mer_error_set(err,
			      "PMI server: KVS name \"%.40s\" is %s: expected "
			      "1 to %d printable characters without spaces "
			      "or '='",
			      kvsname ? kvsname : "(null)",
			      kvsname ? why : "missing", PMI_KVSNAME_MAX - 1);
		return NULL;
	}
	if (size < 1 || universe_size < 1 || appnum < 0) {
		errno = EINVAL;
		mer_error_set(err,
			      "PMI server: size %d, universe size %d, appnum "
			      "%d: expected size >= 1, universe size >= 1 "
			      "and appnum >= 0",
			      size, universe_size, appnum);
		return NULL;
	}
	srv = xcalloc(1, sizeof(*srv));
	srv->ops = *ops;
	srv->arg = arg;
	srv->kvsname = xstrdup(kvsname);
	srv->size = size;
	srv->appnum = appnum;
	srv->universe_size = universe_size;
	srv->by_rank = xcalloc((size_t)size, sizeof(*srv->by_rank));
	return srv;
}

void pmi_server_destroy(struct pmi_server *srv)
{
	if (!srv)
		return;
	for (size_t i = 0; i < srv->nlocal; i++) {
		pmi2_rank_reset(srv->local[i]);
		free(srv->local[i]->buf);
		free(srv->local[i]->held_key);
		free(srv->local[i]);
	}
	pmi2_server_free(srv);
	free(srv->local);
	free(srv->by_rank);
	kvs_free(srv);
	free(srv->kvsname);
	free(srv);
}

int pmi_server_add_rank(struct pmi_server *srv, int rank, struct mer_error *err)
{
	struct pmi_rank *r;

	if (rank < 0 || rank >= srv->size) {
		errno = EINVAL;
		return mer_error_set(err,
				     "PMI server: rank %d is not in the step "
				     "(expected 0 to %d)",
				     rank, srv->size - 1);
	}
	if (srv->by_rank[rank]) {
		errno = EINVAL;
		return mer_error_set(err, "PMI server: rank %d added twice",
				     rank);
	}
	if (srv->barrier_begun) {
		errno = EBUSY;
		return mer_error_set(err,
				     "PMI server: rank %d added after the "
				     "first barrier began: add every local "
				     "rank before starting them",
				     rank);
	}
	r = xcalloc(1, sizeof(*r));
	r->rank = rank;
	r->wire = srv->pmi2 ? PMI_WIRE_UNKNOWN : PMI_WIRE_1;
	srv->by_rank[rank] = r;
	srv->local =
		xrealloc(srv->local, (srv->nlocal + 1) * sizeof(*srv->local));
	srv->local[srv->nlocal++] = r;
	return 0;
}

int pmi_server_enable_pmi2(struct pmi_server *srv, const char *jobid,
			   struct mer_error *err)
{
	const char *why;

	if (!jobid ||
	    (why = pmi_check_token(jobid, PMI_KVSNAME_MAX - 1, false, false)) ||
	    strchr(jobid, ';')) {
		errno = EINVAL;
		return mer_error_set(err,
				     "PMI server: PMI-2 job id \"%.40s\": "
				     "expected 1 to %d printable characters "
				     "without spaces, '=' or ';'",
				     jobid ? jobid : "(null)",
				     PMI_KVSNAME_MAX - 1);
	}
	if (srv->input_begun) {
		errno = EBUSY;
		return mer_error_set(err, "PMI server: PMI-2 enabled after "
					  "ranks began to talk");
	}
	free(srv->jobid);
	srv->jobid = xstrdup(jobid);
	srv->pmi2 = true;
	for (size_t i = 0; i < srv->nlocal; i++)
		srv->local[i]->wire = PMI_WIRE_UNKNOWN;
	return 0;
}

size_t pmi_kvs_share(size_t nranks, size_t size)
{
	if (!size)
		return 0;
	if (nranks > size)
		nranks = size;
	return (size_t)((uint64_t)PMI_KVS_RANKS_MAX * nranks / size);
}

int pmi_kv_check(const struct pmi_kv *e, struct mer_error *err)
{
	const char *why;

	if (!e->key || !e->value) {
		errno = EINVAL;
		return mer_error_set(err, "PMI KVS entry with no %s",
				     e->key ? "value" : "key");
	}
	if ((why = pmi_check_token(e->key, PMI_KEYLEN_MAX, true, false))) {
		errno = EINVAL;
		return mer_error_set(err,
				     "PMI KVS key \"%.40s\" (%zu bytes) is %s: "
				     "expected 1 to %d printable characters, "
				     "no spaces",
				     e->key, strlen(e->key), why,
				     PMI_KEYLEN_MAX);
	}
	if ((why = pmi_check_token(e->value, PMI_VALLEN_MAX, true, true))) {
		errno = EINVAL;
		return mer_error_set(err,
				     "PMI KVS value of key \"%.40s\" (%zu "
				     "bytes) is %s: expected at most %d "
				     "printable characters, no spaces",
				     e->key, strlen(e->value), why,
				     PMI_VALLEN_MAX);
	}
	return 0;
}

/* Whether entries[0..n-1] (valid ones, from elsewhere than this node's
 * ranks) fit in this node's KVS: at most PMI_KVS_BYTES_MAX in all.  A key
 * that repeats among them is counted each time: too high, never too
 * low. */
static int check_room(const struct pmi_server *srv,
		      const struct pmi_kv *entries, size_t n,
		      struct mer_error *err)
{
	size_t grow = 0;

	for (size_t i = 0; i < n; i++) {
		const struct kvs_entry *e = pmi_kvs_find(srv, entries[i].key);
		size_t cost = pmi_kv_cost(strlen(entries[i].key),
					  strlen(entries[i].value));
		if (!e)
			grow += cost;
		else if (cost > e->cost)
			grow += cost - e->cost;
	}
	if (grow > PMI_KVS_BYTES_MAX - srv->bytes) {
		errno = ENOSPC;
		return mer_error_set(err,
				     "PMI KVS: %zu entries (%zu bytes more) "
				     "would make this node's KVS hold more "
				     "than %u bytes (PMI_KVS_BYTES_MAX; it "
				     "holds %zu)",
				     n, grow, PMI_KVS_BYTES_MAX, srv->bytes);
	}
	return 0;
}

int pmi_server_barrier_release(struct pmi_server *srv,
			       const struct pmi_kv *entries, size_t n,
			       struct mer_error *err)
{
	int rc = 0, saved = 0;

	if (!srv->barrier_waiting) {
		errno = EINVAL;
		return mer_error_set(err, "PMI server: no barrier is waiting "
					  "to be released");
	}
	for (size_t i = 0; i < n; i++)
		if (pmi_kv_check(&entries[i], err) < 0)
			return -1;
	if (check_room(srv, entries, n, err) < 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (kvs_set(srv, entries[i].key, entries[i].value, false) < 0 &&
		    !rc) {
			rc = -1;
			saved = errno;
		}
	srv->barrier_waiting = false;
	srv->barriers++;
	/* the ranks still blocked in it go on; the unblocked ones already
	 * did, and those of them already in the next barrier are in it */
	for (size_t i = 0; i < srv->nlocal; i++) {
		struct pmi_rank *r = srv->local[i];
		bool blocked = r->in_barrier && !r->unblocked;
		r->in_barrier = r->next_in;
		r->unblocked = false;
		r->next_in = false;
		if (!blocked || r->closed || r->aborted)
			continue;
		if (pmi_send_barrier_done(srv, r) < 0 && !rc) {
			rc = -1;
			saved = errno;
		}
	}
	if (srv->nheld && answer_held(srv, NULL) < 0 && !rc) {
		rc = -1;
		saved = errno;
	}
	srv->nin = 0;
	for (size_t i = 0; i < srv->nlocal; i++)
		srv->nin += srv->local[i]->in_barrier;
	if (srv->nin && srv->nin == srv->nlocal)
		barrier_ready(srv);
	if (rc) {
		errno = saved;
		mer_error_set(err,
			      "PMI server: barrier_out not sent to every "
			      "rank: %s",
			      strerror(saved));
	}
	return rc;
}

int pmi_server_kvs_put(struct pmi_server *srv, const char *key,
		       const char *value, struct mer_error *err)
{
	struct pmi_kv e = {key, value};

	if (pmi_kv_check(&e, err) < 0 || check_room(srv, &e, 1, err) < 0)
		return -1;
	if (kvs_set(srv, key, value, false) < 0)
		return mer_error_set(err,
				     "PMI server: a held get for %s "
				     "could not be answered: %s",
				     key, strerror(errno));
	return 0;
}

size_t pmi_server_barrier_blocked(const struct pmi_server *srv)
{
	size_t n = 0;

	for (size_t i = 0; i < srv->nlocal; i++)
		n += srv->local[i]->in_barrier && !srv->local[i]->unblocked;
	return n;
}

int pmi_server_barrier_unblock(struct pmi_server *srv, struct mer_error *err)
{
	int n = 0, rc = 0, saved = 0;

	for (size_t i = 0; i < srv->nlocal; i++) {
		struct pmi_rank *r = srv->local[i];
		if (!r->in_barrier || r->unblocked)
			continue;
		r->unblocked = true;
		n++;
		if (r->closed || r->aborted)
			continue;
		if (pmi_send_barrier_done(srv, r) < 0 && !rc) {
			rc = -1;
			saved = errno;
		}
	}
	if (rc) {
		errno = saved;
		return mer_error_set(err,
				     "PMI server: barrier_out not sent "
				     "to every rank let go: %s",
				     strerror(saved));
	}
	return n;
}

const char *pmi_server_kvs_get(const struct pmi_server *srv, const char *key)
{
	const struct kvs_entry *e = key ? pmi_kvs_find(srv, key) : NULL;

	return e ? e->value : NULL;
}

int pmi_server_set_process_mapping(struct pmi_server *srv,
				   const int *ranks_per_node, int nnodes,
				   struct mer_error *err)
{
	long total = 0;
	char *map;
	int rc;

	for (int i = 0; ranks_per_node && i < nnodes; i++) {
		if (ranks_per_node[i] < 0) {
			errno = EINVAL;
			return mer_error_set(err,
					     "PMI_process_mapping: node %d "
					     "has %d ranks",
					     i, ranks_per_node[i]);
		}
		total += ranks_per_node[i];
	}
	if (total != srv->size) {
		errno = EINVAL;
		return mer_error_set(err,
				     "PMI_process_mapping: the nodes hold %ld "
				     "ranks but the step has %d",
				     total, srv->size);
	}
	map = pmi_process_mapping(ranks_per_node, nnodes);
	if (!map)
		return mer_error_set(err, "PMI_process_mapping: no layout "
					  "given");
	if (strlen(map) >= PMI_CLIENT_VALUE_MAX) {
		free(map);
		return 1;
	}
	rc = pmi_server_kvs_put(srv, "PMI_process_mapping", map, err);
	free(map);
	return rc;
}

bool pmi_server_all_finalized(const struct pmi_server *srv)
{
	if (!srv->nlocal)
		return false;
	for (size_t i = 0; i < srv->nlocal; i++)
		if (!srv->local[i]->finalized)
			return false;
	return true;
}

bool pmi_server_rank_finalized(const struct pmi_server *srv, int rank)
{
	if (rank < 0 || rank >= srv->size || !srv->by_rank[rank])
		return false;
	return srv->by_rank[rank]->finalized;
}

unsigned pmi_server_barriers(const struct pmi_server *srv)
{
	return srv->barriers;
}

char *pmi_process_mapping(const int *ranks_per_node, int nnodes)
{
	struct strbuf b = {0};
	int node = 0; /* node id among the nodes with ranks */
	int i = 0;

	if (!ranks_per_node || nnodes < 1) {
		errno = EINVAL;
		return NULL;
	}
	for (int k = 0; k < nnodes; k++)
		if (ranks_per_node[k] < 0) {
			errno = EINVAL;
			return NULL;
		}
	strbuf_add(&b, "(vector", 7);
	while (i < nnodes) {
		int count = ranks_per_node[i], run = 0;
		if (!count) {
			i++;
			continue;
		}
		/* consecutive nodes (skipping empty ones) with this count */
		while (i < nnodes &&
		       (ranks_per_node[i] == count || !ranks_per_node[i])) {
			if (ranks_per_node[i])
				run++;
			i++;
		}
		strbuf_addf(&b, ",(%d,%d,%d)", node, run, count);
		node += run;
	}
	if (!node) {
		strbuf_free(&b);
		errno = EINVAL;
		return NULL;
	}
	strbuf_addc(&b, ')');
	return b.s;
}
