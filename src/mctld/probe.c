/*
 * probe.c - the link probes mctld plans, and the link matrix they fill.
 *
 * A probe measures one pair of nodes, or a node and the controller: the
 * round trip (PROBE_ECHOES echoes, median and spread) and a timed bulk
 * transfer each way (ProbeStreams streams for ProbeDuration ms, at most
 * ProbeMaxMB).  One end is armed (it accepts the probe's connections on
 * its node's Port=, or mctld's ProbePort=), the other dials, measures and
 * reports PROBE_RESULT.  The sequence, each step a push or a request on
 * the node's own connection:
 *
 *   mctld -> armed   PROBE_ARM {id, token, bounds}       -> Ack
 *   mctld -> dialer  PROBE_RUN {id, token, host, port}   -> Ack
 *   dialer -> mctld  PROBE_RESULT {id, rtt, rates}       -> Ack (durable)
 *
 * The token (32 random bytes, new for each probe) is what the armed end
 * accepts from the dialer; node-to-node traffic never rests on the shared
 * munge key.  Who dials: the end whose peer accepts.  A node that could not
 * be reached (connection refused, no route: behind NAT) is marked
 * unreachable and dials out from then on; a pair of which neither end
 * accepts is never probed, only estimated.
 *
 * The plan, once per tick: a node is in at most one probe at a time, and
 * only while no job runs on it; the probes in flight together are
 * expected to move at most ProbeMaxMbps (a probe whose rate is not known
 * yet counts as the lowest bandwidth tier).  The pairs: those of the
 * interval's graph (probe_graph.c), in which no node is in more than
 * ProbePeers pairs, counting the probe of its rates to the controller:
 * every pair of a small cluster or region, else each node's nearest in
 * its region and pairs drawn for the interval inside it and across
 * regions.  The graph is rebuilt when the interval moves on (so other
 * pairs are measured) and when a node joins, the pairs already probed in
 * the interval kept.  A pair is due when it was never measured or its
 * measurement is older than ProbeInterval; a node's rates to the
 * controller likewise.  New nodes come first, being never measured.
 *
 * Results are the "probes" table, this file's commit source: a pair's
 * link (LinkRecord, key FROM\0TO) and a node's rates (NodeRates, key
 * NODE), loaded at start so a restart re-probes nothing fresh.
 */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "conn.h"
#include "hostlist.h"
#include "log.h"
#include "mctld.h"
#include "probe.h"
#include "util.h"

#define MT(x) MERIDIAN__MSG_TYPE__MSG_##x

#define PROBE_ECHOES 10
/* What a probe may take beyond its bulk phases before mctld forgets it. */
#define PROBE_SLACK_S 15
/* A pair whose probe failed is not tried again before this. */
#define PROBE_RETRY_S 60
/* Coordinates are refit at most this often while results come in. */
#define PROBE_REFIT_S 5
/* What a result may claim before it is believed: 60 s, 10 Tbit/s. */
#define PROBE_MAX_RTT_US 60000000u
#define PROBE_MAX_BPS	 10000000000000ull
/* LINK_INFO of every pair: no more nodes than this. */
#define PROBE_MAX_ALL_PAIRS 256
#define NO_NODE		    ((size_t)-1) /* the controller's end */
#define NO_PEER		    ((size_t)-2) /* no failed probe */
/* Region to region: the medians of at most this many measured pairs. */
#define PROBE_MAX_MEDIAN 4096

struct pnode {
	bool busy;	   /* in a probe now */
	bool unreachable;  /* dialing it failed: it dials instead */
	uint64_t up_bps;   /* to the controller, 0 unknown */
	uint64_t down_bps; /* from it */
	int64_t rates_when;
	int64_t last_probe; /* the newest probe of it that gave a result */
	uint64_t eff_up, eff_down; /* bit/s in force: the controller's, else
				    * its best measured links' (rates_update) */
	size_t retry_peer;	   /* its last failed probe's other end */
	int64_t retry_at;
	bool dirty; /* its NodeRates to write */
	/* the pairs it was in this interval (the graph's epoch) */
	uint32_t *done;
	uint32_t ndone;
};

struct inflight {
	uint32_t id;
	size_t dialer, armed; /* armed NO_NODE: the controller */
	int64_t deadline;
	double mbps; /* what it is expected to move */
	uint8_t token[PROBE_TOKEN_LEN];
	TAILQ_ENTRY(inflight) entry;
};
TAILQ_HEAD(inflight_list, inflight);

/* A measured link to write with the next commit. */
struct dirty_link {
	Meridian__LinkRecord rec;
	struct dirty_link *next;
};

struct probes {
	struct mctld *ctx;
	struct links *links;
	size_t n;
	struct pnode *pn;
	uint32_t *region; /* per node: an index into conf->regions, or
			   * nregions for none */
	unsigned db;
	struct dirty_link *dirty, *collected;
	struct inflight_list inflight;
	size_t ninflight;
	double mbps_in_flight;
	bool ctl_busy;
	uint32_t next_id;
	size_t cursor;
	uint64_t gen; /* the graph's inputs changed (a node's state) */
	struct probe_graph graph; /* this interval's pairs (probe_graph.c) */
	struct probe_graph_node *gn;
	uint64_t graph_gen, epoch;
	bool graph_built;
	bool refit_wanted;
	int64_t last_refit;
	struct probe_srv *srv; /* the controller's armed end, NULL none */
	int lfd;
	uint16_t port;
};

static const char *pname(const struct probes *pr, size_t i)
{
	return i == NO_NODE ? "the controller" : node_at(pr->ctx, i)->name;
}

/* ---- the table ----------------------------------------------------------- */

static bool src_pending(void *arg)
{
	struct probes *pr = arg;

	if (pr->dirty)
		return true;
	for (size_t i = 0; i < pr->n; i++)
		if (pr->pn[i].dirty)
			return true;
	return false;
}

static long src_collect(struct state *st, void *arg, struct mer_error *err)
{
	struct probes *pr = arg;
	long nput = 0;
	char key[2 * HOSTLIST_MAX_NAME + 2];

	/* what this commit carries, kept apart until it is known to hold */
	pr->collected = pr->dirty;
	pr->dirty = NULL;
	for (struct dirty_link *d = pr->collected; d; d = d->next) {
		size_t a = strlen(d->rec.from), b = strlen(d->rec.to);

		if (a + b + 1 > sizeof(key))
			continue;
		memcpy(key, d->rec.from, a);
		key[a] = '\0';
		memcpy(key + a + 1, d->rec.to, b);
		if (state_put_msg(st, pr->db, key, a + 1 + b, &d->rec.base,
				  err) < 0)
			return -1;
		nput++;
	}
	for (size_t i = 0; i < pr->n; i++) {
		Meridian__NodeRates r = MERIDIAN__NODE_RATES__INIT;
		const struct node *n = node_at(pr->ctx, i);

		if (!pr->pn[i].dirty)
			continue;
		r.node = (char *)n->name;
		r.up_bps = pr->pn[i].up_bps;
		r.down_bps = pr->pn[i].down_bps;
		r.when = pr->pn[i].rates_when;
		r.unreachable = pr->pn[i].unreachable;
		if (state_put_msg(st, pr->db, n->name, strlen(n->name), &r.base,
				  err) < 0)
			return -1;
		nput++;
	}
	return nput;
}

static void dirty_free(struct dirty_link *d)
{
	while (d) {
		struct dirty_link *next = d->next;

		free(d->rec.from);
		free(d->rec.to);
		free(d);
		d = next;
	}
}

static void src_done(void *arg, bool ok)
{
	struct probes *pr = arg;

	if (ok) {
		dirty_free(pr->collected);
		for (size_t i = 0; i < pr->n; i++)
			pr->pn[i].dirty = false;
	} else {
		/* written again with the next commit */
		struct dirty_link **tail = &pr->collected;

		while (*tail)
			tail = &(*tail)->next;
		*tail = pr->dirty;
		pr->dirty = pr->collected;
	}
	pr->collected = NULL;
}

static const struct state_source probes_source = {
	"probes",
	src_pending,
	src_collect,
	src_done,
};

static void queue_link(struct probes *pr, size_t from, size_t to,
		       uint32_t rtt_us, uint32_t spread_us, uint64_t bps,
		       int64_t when)
{
	struct dirty_link *d = xcalloc(1, sizeof(*d));

	meridian__link_record__init(&d->rec);
	d->rec.from = xstrdup(node_at(pr->ctx, from)->name);
	d->rec.to = xstrdup(node_at(pr->ctx, to)->name);
	d->rec.rtt_us = rtt_us;
	d->rec.rtt_spread_us = spread_us;
	d->rec.bps = bps;
	d->rec.when = when;
	d->next = pr->dirty;
	pr->dirty = d;
}

/* ---- the matrix ---------------------------------------------------------- */

/* A node's rates: to and from the controller when measured, else the best
 * of its measured links each way. */
static void rates_update(struct probes *pr, size_t i)
{
	struct pnode *p = &pr->pn[i];
	double up = 0, down = 0;
	struct links_info li;

	if (p->rates_when) {
		p->eff_up = p->up_bps;
		p->eff_down = p->down_bps;
		links_set_rates(pr->links, i, (double)p->up_bps / 8,
				(double)p->down_bps / 8);
		return;
	}
	for (size_t j = 0; j < pr->n; j++) {
		if (j == i)
			continue;
		if (links_get(pr->links, i, j, &li) == 0 && li.measured &&
		    li.bw_Bps > up)
			up = li.bw_Bps;
		if (links_get(pr->links, j, i, &li) == 0 && li.measured &&
		    li.bw_Bps > down)
			down = li.bw_Bps;
	}
	p->eff_up = (uint64_t)(up * 8);
	p->eff_down = (uint64_t)(down * 8);
	links_set_rates(pr->links, i, up, down);
}

static void measured(struct probes *pr, size_t from, size_t to, uint32_t rtt_us,
		     uint32_t spread_us, uint64_t bps, int64_t when)
{
	double lat = (rtt_us ? rtt_us : 1) / 2e6;

	if (links_measured(pr->links, from, to, lat, (double)bps / 8, when) < 0)
		return;
	queue_link(pr, from, to, rtt_us, spread_us, bps, when);
	pr->refit_wanted = true;
}

static int load_one(const void *k, size_t klen, const void *v, size_t vlen,
		    void *arg)
{
	struct probes *pr = arg;
	const char *key = k, *z = memchr(key, '\0', klen);
	struct node *a, *b;
	char name[HOSTLIST_MAX_NAME + 1];

	if (!z) {
		Meridian__NodeRates *r =
			meridian__node_rates__unpack(NULL, vlen, v);
		struct pnode *p;

		if (!r)
			return 0; /* a record this mctld cannot read: skipped */
		if ((a = node_find(pr->ctx, r->node))) {
			p = &pr->pn[a->index];
			p->up_bps = r->up_bps;
			p->down_bps = r->down_bps;
			p->rates_when = r->when;
			p->unreachable = r->unreachable;
			if (r->when > p->last_probe)
				p->last_probe = r->when;
		}
		meridian__node_rates__free_unpacked(r, NULL);
		return 0;
	}
	if ((size_t)(z - key) > HOSTLIST_MAX_NAME)
		return 0;
	memcpy(name, key, (size_t)(z - key));
	name[z - key] = '\0';
	{
		Meridian__LinkRecord *r =
			meridian__link_record__unpack(NULL, vlen, v);

		if (!r)
			return 0;
		a = node_find(pr->ctx, r->from);
		b = node_find(pr->ctx, r->to);
		/* nodes gone from meridian.conf: their links are kept, unused
		 */
		if (a && b && r->bps && strcmp(name, r->from) == 0) {
			links_measured(pr->links, a->index, b->index,
				       (r->rtt_us ? r->rtt_us : 1) / 2e6,
				       (double)r->bps / 8, r->when);
			if (r->when > pr->pn[a->index].last_probe)
				pr->pn[a->index].last_probe = r->when;
			if (r->when > pr->pn[b->index].last_probe)
				pr->pn[b->index].last_probe = r->when;
		}
		meridian__link_record__free_unpacked(r, NULL);
	}
	return 0;
}

/* ---- the controller's armed end ----------------------------------------- */

static void srv_log(const char *text, void *arg)
{
	(void)arg;
	log_warnx("probe listener: %s", text);
}

static int srv_open(struct probes *pr, struct mer_error *err)
{
	const struct conf *c = pr->ctx->conf;

	if (!c->probe_port)
		return 0;
	pr->lfd = tcp_listen(NULL, (uint16_t)c->probe_port, &pr->port, err);
	if (pr->lfd < 0) {
		char text[sizeof(err->text)];

		snprintf(text, sizeof(text), "%s", err->text);
		return mer_error_set(err, "ProbePort=%u: %s", c->probe_port,
				     text);
	}
	pr->srv = probe_srv_create(pr->ctx->base, pr->lfd, NULL, srv_log, pr,
				   err);
	if (!pr->srv)
		return -1;
	return 0;
}

/* ---- the plan ------------------------------------------------------------ */

/* Node i may take part in a probe now. */
static bool ready(const struct probes *pr, size_t i)
{
	const struct node *n = node_at(pr->ctx, i);

	return !pr->pn[i].busy && n->peer && n->registered && node_usable(n) &&
	       n->njobs == 0;
}

static bool accepts(const struct probes *pr, size_t i)
{
	return node_at(pr->ctx, i)->cn->port != 0 && !pr->pn[i].unreachable;
}

/* When the pair was last measured (either way), 0 never. */
static int64_t pair_when(const struct probes *pr, size_t i, size_t j)
{
	struct links_info a, b;
	int64_t w = 0;

	if (links_get(pr->links, i, j, &a) == 0 && a.measured)
		w = a.when;
	if (links_get(pr->links, j, i, &b) == 0 && b.measured && b.when > w)
		w = b.when;
	return w;
}

static bool due(const struct probes *pr, int64_t when, int64_t now)
{
	uint32_t every = pr->ctx->conf->probe_interval;

	if (!when)
		return true;
	return every && now - when >= (int64_t)every;
}

/* The estimated one-way latency of i -> j, for the graph's nearest. */
static double graph_lat(void *arg, size_t i, size_t j)
{
	const struct probes *pr = arg;
	struct links_info li;

	return links_get(pr->links, i, j, &li) == 0 ? li.lat_s : 0;
}

/* The most pairs a node is in per interval: ProbePeers, less the probe of
 * its rates to the controller when there is one. */
static uint32_t graph_budget(const struct probes *pr)
{
	uint32_t b = pr->ctx->conf->probe_peers;

	if (pr->srv && b > 1)
		b--;
	return b ? b : 1;
}

/* This interval's pairs, rebuilt when the interval or a node's state
 * moves: the pairs already probed in it first, so that no node goes past
 * its budget. */
static void graph_build(struct probes *pr, int64_t now)
{
	uint32_t every = pr->ctx->conf->probe_interval;
	uint64_t epoch = every && now > 0 ? (uint64_t)now / every : 0;
	struct probe_graph_lat lat = {graph_lat, pr};

	if (pr->graph_built && pr->graph_gen == pr->gen && pr->epoch == epoch)
		return;
	if (!pr->graph_built || epoch != pr->epoch)
		for (size_t i = 0; i < pr->n; i++)
			pr->pn[i].ndone = 0;
	pr->epoch = epoch;
	pr->graph_gen = pr->gen;
	for (size_t i = 0; i < pr->n; i++) {
		const struct node *n = node_at(pr->ctx, i);

		pr->gn[i].region = pr->region[i];
		pr->gn[i].usable = n->registered && node_usable(n);
		pr->gn[i].accepts = accepts(pr, i);
	}
	probe_graph_free(&pr->graph);
	probe_graph_init(&pr->graph, pr->n, graph_budget(pr));
	for (size_t i = 0; i < pr->n; i++)
		for (uint32_t k = 0; k < pr->pn[i].ndone; k++)
			(void)probe_graph_add(&pr->graph, pr->gn, i,
					      pr->pn[i].done[k]);
	probe_graph_fill(&pr->graph, pr->gn, epoch, &lat);
	pr->graph_built = true;
}

/* i was in a probe with j this interval. */
static void done_add(struct probes *pr, size_t i, size_t j)
{
	struct pnode *p = &pr->pn[i];

	for (uint32_t k = 0; k < p->ndone; k++)
		if (p->done[k] == j)
			return;
	if (p->ndone < pr->graph.budget)
		p->done[p->ndone++] = (uint32_t)j;
}

static uint32_t timeout_s(const struct conf *c)
{
	return 2 * (c->probe_duration / 1000 + 1) + PROBE_SLACK_S;
}

static void request_fill(const struct probes *pr, Meridian__ProbeRequest *q,
			 const struct inflight *f)
{
	const struct conf *c = pr->ctx->conf;

	q->probe_id = f->id;
	q->token.data = (uint8_t *)f->token;
	q->token.len = PROBE_TOKEN_LEN;
	q->echoes = PROBE_ECHOES;
	q->streams = c->probe_streams;
	q->duration_ms = c->probe_duration;
	q->max_bytes = (uint64_t)c->probe_max_mb << 20;
	q->up = true;
	q->down = true;
	q->timeout_ms = timeout_s(c) * 1000;
}

static void flight_end(struct probes *pr, struct inflight *f)
{
	TAILQ_REMOVE(&pr->inflight, f, entry);
	pr->ninflight--;
	pr->mbps_in_flight -= f->mbps;
	if (pr->mbps_in_flight < 0 || !pr->ninflight)
		pr->mbps_in_flight = 0;
	pr->pn[f->dialer].busy = false;
	if (f->armed == NO_NODE)
		pr->ctl_busy = false;
	else
		pr->pn[f->armed].busy = false;
	free(f);
}

static struct inflight *flight_find(struct probes *pr, uint32_t id)
{
	struct inflight *f;

	TAILQ_FOREACH(f, &pr->inflight, entry) {
		if (f->id == id)
			return f;
	}
	return NULL;
}

static void failed(struct probes *pr, struct inflight *f, int64_t now)
{
	pr->pn[f->dialer].retry_peer = f->armed;
	pr->pn[f->dialer].retry_at = now + PROBE_RETRY_S;
	flight_end(pr, f);
}

static void undelivered(struct mctld *ctx, uint32_t id, uint32_t step_id,
			const char *node)
{
	struct probes *pr = ctx->probes;
	struct inflight *f = flight_find(pr, id);

	(void)step_id;
	if (!f)
		return;
	log_info("probe %u: %s left before it began", id, node);
	failed(pr, f, mer_now());
}

static void push(struct probes *pr, struct inflight *f, size_t to,
		 uint16_t type, const Meridian__ProbeRequest *q)
{
	size_t len = meridian__probe_request__get_packed_size(q);
	uint8_t *body = xmalloc(len ? len : 1);

	meridian__probe_request__pack(q, body);
	outbox_push(pr->ctx, node_at(pr->ctx, to)->name, type, f->id, 0, body,
		    len, undelivered);
}

static void send_run(struct probes *pr, struct inflight *f)
{
	Meridian__ProbeRequest q = MERIDIAN__PROBE_REQUEST__INIT;
	const struct conf *c = pr->ctx->conf;

	request_fill(pr, &q, f);
	if (f->armed == NO_NODE) {
		q.peer = (char *)"";
		q.host = c->controller_host;
		q.port = pr->port;
	} else {
		const struct node *a = node_at(pr->ctx, f->armed);

		q.peer = (char *)a->name;
		q.host = a->cn->addr ? a->cn->addr : (char *)a->name;
		q.port = a->cn->port;
	}
	push(pr, f, f->dialer, MT(PROBE_RUN), &q);
}

/* Start a probe: dialer dials armed (NO_NODE: the controller). */
static void start(struct probes *pr, size_t dialer, size_t armed, double mbps,
		  int64_t now)
{
	struct inflight *f = xcalloc(1, sizeof(*f));
	Meridian__ProbeRequest q = MERIDIAN__PROBE_REQUEST__INIT;
	struct mer_error err = {""};
	size_t got = 0;

	while (got < PROBE_TOKEN_LEN) {
		ssize_t r = getrandom(f->token + got, PROBE_TOKEN_LEN - got, 0);

		if (r < 0 && errno != EINTR) {
			log_warn("probes: getrandom");
			free(f);
			return;
		}
		if (r > 0)
			got += (size_t)r;
	}
	if (!++pr->next_id)
		pr->next_id = 1;
	f->id = pr->next_id;
	f->dialer = dialer;
	f->armed = armed;
	f->mbps = mbps;
	f->deadline = now + timeout_s(pr->ctx->conf);
	TAILQ_INSERT_TAIL(&pr->inflight, f, entry);
	pr->ninflight++;
	pr->mbps_in_flight += mbps;
	pr->pn[dialer].busy = true;
	log_debug("probe %u: %s dials %s", f->id, pname(pr, dialer),
		  pname(pr, armed));
	request_fill(pr, &q, f);
	q.peer = (char *)node_at(pr->ctx, dialer)->name;
	if (armed == NO_NODE) {
		pr->ctl_busy = true;
		if (probe_srv_arm(pr->srv, &q, &err) < 0) {
			log_warnx("probe %u: cannot arm the controller's end: "
				  "%s",
				  f->id, err.text);
			failed(pr, f, now);
			return;
		}
		send_run(pr, f);
		return;
	}
	pr->pn[armed].busy = true;
	done_add(pr, dialer, armed);
	done_add(pr, armed, dialer);
	push(pr, f, armed, MT(PROBE_ARM), &q);
}

/* What a probe of i and j is expected to move, Mbit/s. */
static double expect_mbps(const struct probes *pr, size_t i, size_t j)
{
	const struct conf *c = pr->ctx->conf;
	struct links_info a, b;
	double m = 0;

	if (j != NO_NODE && links_get(pr->links, i, j, &a) == 0 &&
	    links_get(pr->links, j, i, &b) == 0)
		m = (a.bw_Bps > b.bw_Bps ? a.bw_Bps : b.bw_Bps) * 8 / 1e6;
	if (j == NO_NODE && pr->pn[i].rates_when)
		m = (double)(pr->pn[i].up_bps > pr->pn[i].down_bps
				     ? pr->pn[i].up_bps
				     : pr->pn[i].down_bps) /
		    1e6;
	if (m <= 0)
		m = c->ntiers ? c->tiers[0].min_mbps : 100;
	return m;
}

/* Room for a probe expected to move mbps: one always fits. */
static bool fits(const struct probes *pr, double mbps)
{
	return !pr->ninflight ||
	       pr->mbps_in_flight + mbps <= pr->ctx->conf->probe_max_mbps;
}

/* One probe for node i if one is due and fits; false when the budget is
 * spent (nothing more this tick). */
static bool plan_node(struct probes *pr, size_t i, int64_t now)
{
	struct pnode *p = &pr->pn[i];

	if (pr->srv && !pr->ctl_busy && due(pr, p->rates_when, now) &&
	    !(p->retry_peer == NO_NODE && now < p->retry_at)) {
		double m = expect_mbps(pr, i, NO_NODE);

		if (!fits(pr, m))
			return false;
		start(pr, i, NO_NODE, m, now);
		return true;
	}
	for (uint32_t k = 0; k < pr->graph.deg[i]; k++) {
		size_t j = pr->graph.adj[i * pr->graph.budget + k], dialer,
		       armed;
		double m;

		if (!ready(pr, j) || !due(pr, pair_when(pr, i, j), now))
			continue;
		if ((p->retry_peer == j && now < p->retry_at) ||
		    (pr->pn[j].retry_peer == i && now < pr->pn[j].retry_at))
			continue;
		if (accepts(pr, j)) {
			dialer = i;
			armed = j;
		} else if (accepts(pr, i)) {
			dialer = j;
			armed = i;
		} else {
			continue; /* neither accepts: estimated */
		}
		m = expect_mbps(pr, i, j);
		if (!fits(pr, m))
			return false;
		start(pr, dialer, armed, m, now);
		return true;
	}
	return true;
}

void probe_tick(struct mctld *ctx, int64_t now)
{
	struct probes *pr = ctx->probes;
	struct inflight *f, *next;

	if (!pr)
		return;
	for (f = TAILQ_FIRST(&pr->inflight); f; f = next) {
		next = TAILQ_NEXT(f, entry);
		if (now >= f->deadline) {
			log_info("probe %u: %s -> %s: no result within %u s; "
				 "forgotten",
				 f->id, pname(pr, f->dialer),
				 pname(pr, f->armed), timeout_s(ctx->conf));
			failed(pr, f, now);
		}
	}
	/* a refit moves the nearest, but the graph keeps to its interval:
	 * rebuilding it at each would trade pairs to be probed for others */
	if (pr->refit_wanted && now - pr->last_refit >= PROBE_REFIT_S) {
		links_refit(pr->links);
		pr->refit_wanted = false;
		pr->last_refit = now;
	}
	if (!ctx->conf->probe_max_mbps || !pr->n)
		return;
	graph_build(pr, now);
	for (size_t k = 0; k < pr->n; k++) {
		size_t i = (pr->cursor + k) % pr->n;

		if (ready(pr, i) && !plan_node(pr, i, now))
			break;
	}
	pr->cursor = (pr->cursor + 1) % pr->n;
}

void probe_node_joined(struct mctld *ctx, struct node *n)
{
	struct probes *pr = ctx->probes;

	if (!pr)
		return;
	/* the graph takes it in, and it is reachable again */
	pr->gen++;
	if (pr->pn[n->index].unreachable && n->cn->port) {
		/* a restart may have opened its port: try once more */
		pr->pn[n->index].unreachable = false;
		pr->pn[n->index].dirty = true;
	}
}

/* ---- answers from the nodes ---------------------------------------------- */

void probe_push_answered(struct mctld *ctx, const char *node, uint16_t type,
			 uint32_t id, const char *error)
{
	struct probes *pr = ctx->probes;
	struct inflight *f = pr ? flight_find(pr, id) : NULL;

	if (!f)
		return;
	if (error) {
		log_warnx("probe %u: %s refused %s: %s", id, node,
			  msg_type_name(type), error);
		failed(pr, f, mer_now());
		return;
	}
	if (type == MT(PROBE_ARM))
		send_run(pr, f);
}

int probe_result(struct mctld *ctx, struct node *n,
		 const Meridian__ProbeResult *res, struct mer_error *err)
{
	struct probes *pr = ctx->probes;
	struct inflight *f = pr ? flight_find(pr, res->probe_id) : NULL;
	int64_t now = mer_now();
	size_t d, a;

	if (!f || f->dialer != n->index) {
		errno = ENOENT;
		return mer_error_set(err,
				     "probe %u is not one this node was asked "
				     "to run (or it ran out of time)",
				     res->probe_id);
	}
	d = f->dialer;
	a = f->armed;
	if (!res->ok) {
		if (res->refused && a != NO_NODE) {
			log_warnx("probe %u: %s cannot reach %s: %.200s; %s is "
				  "probed by dialing out from it from now on",
				  f->id, pname(pr, d), pname(pr, a), res->error,
				  pname(pr, a));
			pr->pn[a].unreachable = true;
			pr->pn[a].dirty = true;
			pr->gen++;
			flight_end(pr, f);
		} else {
			log_warnx("probe %u: %s -> %s failed: %.200s", f->id,
				  pname(pr, d), pname(pr, a), res->error);
			failed(pr, f, now);
		}
		return 0;
	}
	if (res->rtt_median_us > PROBE_MAX_RTT_US ||
	    res->rtt_spread_us > PROBE_MAX_RTT_US ||
	    res->up_bps > PROBE_MAX_BPS || res->down_bps > PROBE_MAX_BPS) {
		failed(pr, f, now);
		errno = EINVAL;
		return mer_error_set(err,
				     "probe %u: a round trip over %u us or a "
				     "rate over %llu bit/s is not believed",
				     res->probe_id, PROBE_MAX_RTT_US,
				     (unsigned long long)PROBE_MAX_BPS);
	}
	log_info("probe %u: %s <-> %s: rtt %.2f ms (spread %.2f), up %.1f "
		 "Mbit/s, down %.1f Mbit/s",
		 f->id, pname(pr, d), pname(pr, a), res->rtt_median_us / 1e3,
		 res->rtt_spread_us / 1e3, res->up_bps / 1e6,
		 res->down_bps / 1e6);
	if (a == NO_NODE) {
		struct pnode *p = &pr->pn[d];

		p->up_bps = res->up_bps;
		p->down_bps = res->down_bps;
		p->rates_when = now;
		p->dirty = true;
	} else {
		if (res->up_bps)
			measured(pr, d, a, res->rtt_median_us,
				 res->rtt_spread_us, res->up_bps, now);
		if (res->down_bps)
			measured(pr, a, d, res->rtt_median_us,
				 res->rtt_spread_us, res->down_bps, now);
		pr->pn[a].last_probe = now;
		rates_update(pr, a);
	}
	pr->pn[d].last_probe = now;
	rates_update(pr, d);
	flight_end(pr, f);
	return 0;
}

/* ---- views -----------------------------------------------------------------
 */

int probe_link(const struct mctld *ctx, size_t from, size_t to,
	       struct links_info *out)
{
	const struct probes *pr = ctx->probes;

	if (!pr)
		return -1;
	return links_get(pr->links, from, to, out);
}

const char *probe_tier(const struct mctld *ctx, size_t i, uint64_t *down_bps)
{
	const struct probes *pr = ctx->probes;
	uint64_t down;

	if (!pr || i >= pr->n)
		return NULL;
	down = pr->pn[i].eff_down;
	if (down_bps)
		*down_bps = down;
	return down ? conf_tier_of(ctx->conf, (double)down / 1e6) : NULL;
}

void probe_node_info(const struct mctld *ctx, const struct node *n,
		     Meridian__NodeInfo *info)
{
	const struct probes *pr = ctx->probes;
	const struct pnode *p;
	const char *tier;

	if (!pr || n->index >= pr->n)
		return;
	p = &pr->pn[n->index];
	tier = probe_tier(ctx, n->index, NULL);
	info->tier = (char *)(tier ? tier : "");
	info->up_bps = p->eff_up;
	info->down_bps = p->eff_down;
	info->rates_measured = p->rates_when != 0;
	info->last_probe = p->last_probe;
}

static void node_link_fill(const struct mctld *ctx, const struct node *n,
			   Meridian__NodeLinkInfo *o)
{
	Meridian__NodeInfo ni = MERIDIAN__NODE_INFO__INIT;

	probe_node_info(ctx, n, &ni);
	o->node = (char *)n->name;
	o->region = n->cn->region ? n->cn->region : (char *)"";
	o->tier = ni.tier;
	o->up_bps = ni.up_bps;
	o->down_bps = ni.down_bps;
	o->last_probe = ni.last_probe;
	o->rates_measured = ni.rates_measured;
	o->unreachable = ctx->probes->pn[n->index].unreachable;
}

static void link_fill(const struct links_info *li, const char *from,
		      const char *to, Meridian__LinkInfo *o)
{
	meridian__link_info__init(o);
	o->from = (char *)from;
	o->to = (char *)to;
	o->latency_s = li->lat_s;
	o->bytes_per_s = li->bw_Bps;
	o->measured = li->measured;
	o->when = li->when;
}

static int dbl_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Region ra -> rb: the medians of its measured links, else one pair's
 * estimate; false when no node pair joins them. */
static bool region_link(const struct probes *pr, uint32_t ra, uint32_t rb,
			struct links_info *out, double *lat, double *bw)
{
	size_t nm = 0;
	bool any = false;

	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < pr->n; i++) {
		if (pr->region[i] != ra)
			continue;
		for (size_t j = 0; j < pr->n; j++) {
			struct links_info li;

			if (j == i || pr->region[j] != rb ||
			    links_get(pr->links, i, j, &li) < 0)
				continue;
			if (!any) {
				*out = li;
				any = true;
			}
			if (!li.measured || nm == PROBE_MAX_MEDIAN)
				continue;
			lat[nm] = li.lat_s;
			bw[nm] = li.bw_Bps;
			if (li.when > out->when || !out->measured)
				out->when = li.when;
			out->measured = true;
			nm++;
		}
	}
	if (nm) {
		qsort(lat, nm, sizeof(*lat), dbl_cmp);
		qsort(bw, nm, sizeof(*bw), dbl_cmp);
		out->lat_s = lat[nm / 2];
		out->bw_Bps = bw[nm / 2];
	}
	return any;
}

static const char *region_name(const struct conf *c, uint32_t r)
{
	return r < c->nregions ? c->regions[r].name : "(none)";
}

int probe_link_info(struct mctld *ctx, const Meridian__LinkInfoRequest *req,
		    Meridian__LinkInfoReply *rep, struct mer_error *err)
{
	struct probes *pr = ctx->probes;
	const struct conf *c = ctx->conf;
	bool *sel;
	size_t nsel = 0, cap;

	if (!pr) {
		errno = ENOTSUP;
		return mer_error_set(err, "mctld keeps no link matrix");
	}
	sel = xcalloc(pr->n + 1, sizeof(*sel));
	if (req->nodes && *req->nodes) {
		char **names;
		size_t nn;

		if (hostlist_expand(req->nodes, &names, &nn, err) < 0) {
			free(sel);
			errno = EINVAL;
			return -1;
		}
		for (size_t k = 0; k < nn; k++) {
			struct node *n = node_find(ctx, names[k]);

			if (!n) {
				mer_error_set(err,
					      "node %.60s is not in "
					      "meridian.conf",
					      names[k]);
				hostlist_free(names, nn);
				free(sel);
				errno = ENOENT;
				return -1;
			}
			nsel += !sel[n->index];
			sel[n->index] = true;
		}
		hostlist_free(names, nn);
	} else {
		for (size_t i = 0; i < pr->n; i++)
			sel[i] = true;
		nsel = pr->n;
		if (!req->regions && pr->n > PROBE_MAX_ALL_PAIRS) {
			free(sel);
			errno = E2BIG;
			return mer_error_set(err,
					     "%zu nodes make %zu pairs: name "
					     "the nodes whose rows you want, "
					     "or ask region to region",
					     pr->n, pr->n * (pr->n - 1));
		}
	}
	rep->now = mer_now();
	rep->nodes = xcalloc(nsel + 1, sizeof(*rep->nodes));
	for (size_t i = 0; i < pr->n; i++) {
		Meridian__NodeLinkInfo *o;

		if (!sel[i])
			continue;
		o = xcalloc(1, sizeof(*o));
		meridian__node_link_info__init(o);
		node_link_fill(ctx, node_at(ctx, i), o);
		rep->nodes[rep->n_nodes++] = o;
	}
	if (req->regions) {
		size_t nr = c->nregions + 1;
		double *lat = xcalloc(PROBE_MAX_MEDIAN, sizeof(*lat));
		double *bw = xcalloc(PROBE_MAX_MEDIAN, sizeof(*bw));

		rep->links = xcalloc(nr * nr + 1, sizeof(*rep->links));
		for (uint32_t a = 0; a < nr; a++)
			for (uint32_t b = 0; b < nr; b++) {
				struct links_info li;
				Meridian__LinkInfo *o;

				if (!region_link(pr, a, b, &li, lat, bw))
					continue;
				o = xcalloc(1, sizeof(*o));
				link_fill(&li, region_name(c, a),
					  region_name(c, b), o);
				rep->links[rep->n_links++] = o;
			}
		free(lat);
		free(bw);
		free(sel);
		return 0;
	}
	cap = nsel * (pr->n > 0 ? pr->n - 1 : 0) + 1;
	rep->links = xcalloc(cap, sizeof(*rep->links));
	for (size_t i = 0; i < pr->n; i++) {
		if (!sel[i])
			continue;
		for (size_t j = 0; j < pr->n; j++) {
			struct links_info li;
			Meridian__LinkInfo *o;

			if (j == i || links_get(pr->links, i, j, &li) < 0)
				continue;
			o = xcalloc(1, sizeof(*o));
			link_fill(&li, node_at(ctx, i)->name,
				  node_at(ctx, j)->name, o);
			rep->links[rep->n_links++] = o;
		}
	}
	free(sel);
	return 0;
}

void probe_link_info_free(Meridian__LinkInfoReply *rep)
{
	for (size_t i = 0; i < rep->n_nodes; i++)
		free(rep->nodes[i]);
	for (size_t i = 0; i < rep->n_links; i++)
		free(rep->links[i]);
	free(rep->nodes);
	free(rep->links);
	rep->nodes = NULL;
	rep->links = NULL;
	rep->n_nodes = rep->n_links = 0;
}

/* ---- life ---------------------------------------------------------------- */

int probe_open(struct mctld *ctx, struct mer_error *err)
{
	struct probes *pr = xcalloc(1, sizeof(*pr));
	const struct conf *c = ctx->conf;

	pr->ctx = ctx;
	pr->lfd = -1;
	pr->n = node_mgr_count(ctx);
	pr->pn = xcalloc(pr->n + 1, sizeof(*pr->pn));
	pr->region = xcalloc(pr->n + 1, sizeof(*pr->region));
	pr->gn = xcalloc(pr->n + 1, sizeof(*pr->gn));
	TAILQ_INIT(&pr->inflight);
	for (size_t i = 0; i < pr->n; i++) {
		const char *r = node_at(ctx, i)->cn->region;
		uint32_t k = 0;

		while (k < c->nregions && (!r || strcmp(c->regions[k].name, r)))
			k++;
		pr->region[i] = k; /* nregions: none */
		pr->pn[i].retry_peer = NO_PEER;
		pr->pn[i].done =
			xcalloc(c->probe_peers + 1, sizeof(*pr->pn[i].done));
	}
	pr->links = links_create(pr->n, pr->region);
	ctx->probes = pr;
	if (state_db_open(ctx->state, "probes", &pr->db, err) < 0 ||
	    state_each(ctx->state, pr->db, load_one, pr, err) < 0)
		goto fail;
	for (size_t i = 0; i < pr->n; i++)
		rates_update(pr, i);
	links_refit(pr->links);
	if (srv_open(pr, err) < 0)
		goto fail;
	state_add_source(ctx->state, &probes_source, pr);
	return 0;
fail:
	probe_close(ctx);
	return -1;
}

void probe_close(struct mctld *ctx)
{
	struct probes *pr = ctx->probes;
	struct inflight *f;

	if (!pr)
		return;
	while ((f = TAILQ_FIRST(&pr->inflight))) {
		TAILQ_REMOVE(&pr->inflight, f, entry);
		free(f);
	}
	probe_srv_destroy(pr->srv);
	if (pr->lfd >= 0)
		close(pr->lfd);
	for (size_t i = 0; i < pr->n; i++)
		free(pr->pn[i].done);
	probe_graph_free(&pr->graph);
	free(pr->gn);
	dirty_free(pr->dirty);
	dirty_free(pr->collected);
	links_destroy(pr->links);
	free(pr->pn);
	free(pr->region);
	free(pr);
	ctx->probes = NULL;
}

uint16_t probe_port(const struct mctld *ctx)
{
	return ctx->probes ? ctx->probes->port : 0;
}
