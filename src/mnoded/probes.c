/*
 * probes.c - this node's end of the link probes mctld plans.
 *
 * With Port= set in its stanza the node accepts probes there (any
 * address): mctld arms a probe (PROBE_ARM) before it tells the other end
 * to dial, and the engine (src/common/probe.c) lets in only the
 * connections that carry that probe's token.  Without Port= the node
 * accepts nothing, as behind NAT, and is only ever the dialing end
 * (PROBE_RUN), which reports what it measured as PROBE_RESULT.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mnoded.h"
#include "probe.h"

/* Probes this node dials at once: mctld runs one per node; a few more
 * only while a late result is still on its way. */
#define PROBES_MAX_RUNS 4

struct probes_run {
	struct mnoded *d;
	struct probe_run *run;
	uint32_t id;
};

struct probes {
	int lfd;
	struct probe_srv *srv;
	struct probes_run runs[PROBES_MAX_RUNS];
};

static void srv_log(const char *text, void *arg)
{
	(void)arg;
	log_warnx("probe listener: %s", text);
}

int probes_open(struct mnoded *d, struct mer_error *err)
{
	struct probes *p = xcalloc(1, sizeof(*p));
	uint16_t bound = 0;

	p->lfd = -1;
	d->probes = p;
	if (!d->node->port)
		return 0;
	p->lfd = tcp_listen(NULL, d->node->port, &bound, err);
	if (p->lfd < 0) {
		char text[sizeof(err->text)];

		snprintf(text, sizeof(text), "%s", err->text);
		return mer_error_set(err,
				     "node %s: cannot accept probes on its "
				     "Port=%u: %s",
				     d->name, (unsigned)d->node->port, text);
	}
	p->srv = probe_srv_create(d->base, p->lfd, NULL, srv_log, d, err);
	if (!p->srv)
		return -1;
	log_info("accepting link probes on port %u", (unsigned)bound);
	return 0;
}

void probes_close(struct mnoded *d)
{
	struct probes *p = d->probes;

	if (!p)
		return;
	for (size_t i = 0; i < PROBES_MAX_RUNS; i++)
		probe_run_cancel(p->runs[i].run);
	probe_srv_destroy(p->srv);
	if (p->lfd >= 0)
		close(p->lfd);
	free(p);
	d->probes = NULL;
}

int probes_arm(struct mnoded *d, const Meridian__ProbeRequest *q,
	       struct mer_error *err)
{
	struct probes *p = d->probes;

	if (!p || !p->srv) {
		errno = EOPNOTSUPP;
		return mer_error_set(err,
				     "node %s accepts no probes: its stanza "
				     "has no Port=",
				     d->name);
	}
	if (probe_srv_arm(p->srv, q, err) < 0)
		return -1;
	log_debug("probe %u: armed for %s", q->probe_id,
		  *q->peer ? q->peer : "the controller");
	return 0;
}

static void run_done(const struct probe_outcome *o, void *arg)
{
	struct probes_run *r = arg;
	Meridian__ProbeResult res = MERIDIAN__PROBE_RESULT__INIT;

	probe_outcome_to_result(o, r->id, &res);
	if (o->ok)
		log_debug("probe %u: rtt %.3f ms, up %.1f Mbit/s, down %.1f "
			  "Mbit/s",
			  r->id, o->rtt_median_s * 1e3, o->up_bps / 1e6,
			  o->down_bps / 1e6);
	else
		log_info("probe %u: %s", r->id, o->error);
	r->run = NULL; /* it frees itself after this */
	ctl_probe_result(r->d->ctl, &res);
}

int probes_run(struct mnoded *d, const Meridian__ProbeRequest *q,
	       struct mer_error *err)
{
	struct probes *p = d->probes;
	struct probes_run *r = NULL;

	for (size_t i = 0; p && i < PROBES_MAX_RUNS && !r; i++)
		if (!p->runs[i].run)
			r = &p->runs[i];
	if (!r) {
		errno = EBUSY;
		return mer_error_set(err,
				     "node %s runs %d probes already; one "
				     "more waits until one ends",
				     d->name, PROBES_MAX_RUNS);
	}
	r->d = d;
	r->id = q->probe_id;
	r->run = probe_run_start(d->base, q, run_done, r, err);
	if (!r->run)
		return -1;
	log_debug("probe %u: dialing %s (%s:%u)", q->probe_id,
		  *q->peer ? q->peer : "the controller", q->host, q->port);
	return 0;
}
