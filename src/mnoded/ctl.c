/*
 * ctl.c - mnoded's one connection to mctld.
 *
 * Nodes dial out (they may sit behind NAT): mnoded connects to
 * ControllerHost:ControllerPort, registers, and keeps the connection;
 * mctld pushes LAUNCH_JOB, LAUNCH_STEP and SIGNAL_JOB over it.  When it
 * breaks, mnoded dials again after 1, 2, 4 ... 30 seconds; jobs and steps
 * keep running meanwhile.  The next registration tells mctld what happened
 * to the batch jobs; the ends of steps go as STEP_END once it is accepted.
 *
 * Every request we send carries a fresh credential; replies carry none.
 * Requests mctld pushes carry mctld's credential, which must belong to
 * root or to the user mnoded runs as.
 *
 * Nothing tells a node that a job it has no unit of any more has ended
 * (its batch script ran elsewhere), yet its TMPDIR here must stay until
 * then: with each heartbeat, mnoded asks mctld about those jobs in one
 * JOB_INFO (tmpdir_unsure), one question at a time.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mnoded.h"

#define BACKOFF_MIN_S	  1
#define BACKOFF_MAX_S	  30
#define CONNECT_TIMEOUT_S 10
/* A request unanswered this long means a dead peer that TCP has not
 * noticed yet (a NAT box forgot us, a host vanished). */
#define REQUEST_TIMEOUT_S 60
#define WATCHDOG_S	  5

enum ctl_state {
	CTL_IDLE,	 /* waiting to dial again */
	CTL_CONNECTING,	 /* non-blocking connect() in progress */
	CTL_REGISTERING, /* NODE_REGISTER sent, no reply yet */
	CTL_UP,		 /* registered: heartbeats and job ends flow */
};

/* A request of ours waiting for its reply. */
struct pending {
	uint32_t req_id;
	Meridian__MsgType type;
	int64_t sent_ms;
	uint32_t job_id;  /* JOB_END, STEP_END */
	uint32_t step_id; /* STEP_END */
	uint32_t *ended;  /* NODE_REGISTER: the ended jobs it listed */
	size_t nended;
	uint32_t *asked; /* JOB_INFO: the jobs asked about */
	size_t nasked;
	struct pending *next;
};

struct ctl {
	struct mnoded *d;
	enum ctl_state state;
	struct conn *conn;
	char peer[300];
	int connect_fd;
	struct event *connect_ev;
	struct event *retry_ev;
	struct event *hb_ev;
	struct event *watch_ev;
	unsigned backoff_s;
	struct addrinfo *ai_list, *ai_next;
	uint32_t next_req_id;
	uint32_t hb_interval;
	struct pending *pending;
	bool asking; /* a JOB_INFO about TMPDIRs' jobs is on its way */
};

static void ctl_dial(struct ctl *c);

/* ---- requests we send ---------------------------------------------- */

static struct pending *pending_add(struct ctl *c, Meridian__MsgType type)
{
	struct pending *p = xcalloc(1, sizeof(*p));

	p->req_id = ++c->next_req_id;
	p->type = type;
	p->sent_ms = mer_mono_ms();
	p->next = c->pending;
	c->pending = p;
	return p;
}

static struct pending *pending_take(struct ctl *c, uint32_t req_id)
{
	for (struct pending **pp = &c->pending; *pp; pp = &(*pp)->next) {
		struct pending *p = *pp;
		if (p->req_id == req_id) {
			*pp = p->next;
			return p;
		}
	}
	return NULL;
}

static void pending_free(struct pending *p)
{
	free(p->ended);
	free(p->asked);
	free(p);
}

/* Send a request with a fresh credential.  -1 when no credential could be
 * made (munged down) or the connection is gone; the caller drops the
 * connection then. */
static int ctl_send(struct ctl *c, struct pending *p,
		    const ProtobufCMessage *msg)
{
	struct mer_error err;
	char *cred = NULL;
	size_t clen = 0;
	int rc;

	if (auth_encode(c->d->auth, &cred, &clen, &err) < 0) {
		log_warnx("cannot make a credential for %s: %s",
			  msg_type_name(p->type), err.text);
		return -1;
	}
	rc = conn_send_msg(c->conn, (uint16_t)p->type, 0, p->req_id, cred, clen,
			   msg);
	free(cred);
	return rc;
}

/* ---- connection life ----------------------------------------------- */

static void ctl_schedule_retry(struct ctl *c)
{
	struct timeval tv = {.tv_sec = c->backoff_s};

	c->state = CTL_IDLE;
	log_debug("dialing mctld again in %u s", c->backoff_s);
	evtimer_add(c->retry_ev, &tv);
	c->backoff_s *= 2;
	if (c->backoff_s > BACKOFF_MAX_S)
		c->backoff_s = BACKOFF_MAX_S;
}

/* Forget the connection and everything in flight on it; dial again. */
static void ctl_drop(struct ctl *c, const char *why)
{
	struct unit *u;

	log_warnx("connection to mctld %s lost: %s", c->peer, why);
	conn_destroy(c->conn);
	c->conn = NULL;
	while (c->pending) {
		struct pending *p = c->pending;
		c->pending = p->next;
		pending_free(p);
	}
	c->asking = false;
	/* Ends not acknowledged go again with the next registration. */
	TAILQ_FOREACH(u, &c->d->units, link)
		u->end_in_flight = false;
	unit_sync_ends(c->d); /* they may wait long */
	evtimer_del(c->hb_ev);
	evtimer_del(c->watch_ev);
	ctl_schedule_retry(c);
}

static void ctl_on_close(struct conn *conn, const char *why, void *arg)
{
	ctl_drop(arg, why);
}

static void ctl_send_end(struct ctl *c, struct unit *j)
{
	struct pending *p = pending_add(c, MERIDIAN__MSG_TYPE__MSG_JOB_END);

	p->job_id = j->job_id;
	j->end_in_flight = true;
	if (ctl_send(c, p, j->end.msg) < 0)
		log_warnx("job %u: cannot send its end now, will retry",
			  j->job_id);
}

static void ctl_send_step_end(struct ctl *c, struct unit *s)
{
	struct pending *p = pending_add(c, MERIDIAN__MSG_TYPE__MSG_STEP_END);
	Meridian__StepEnd e = *s->end.step;

	p->job_id = s->job_id;
	p->step_id = s->step_id;
	s->end_in_flight = true;
	/* whatever mstepd wrote, the end is this node's */
	e.node = (char *)c->d->name;
	if (ctl_send(c, p, &e.base) < 0)
		log_warnx("%s: cannot send its end now, will retry", s->what);
}

/* Send JOB_END and STEP_END for every end not already on its way: the
 * jobs' first, then the steps'. */
static void ctl_send_ends(struct ctl *c)
{
	struct unit *u;

	TAILQ_FOREACH(u, &c->d->units, link)
		if (u->kind == UNIT_JOB && u->end.msg && !u->end_in_flight)
			ctl_send_end(c, u);
	TAILQ_FOREACH(u, &c->d->units, link)
		if (u->kind == UNIT_STEP && u->end.msg && !u->end_in_flight)
			ctl_send_step_end(c, u);
}

void ctl_job_ended(struct ctl *c, struct unit *j)
{
	if (c && c->state == CTL_UP && !j->end_in_flight)
		ctl_send_end(c, j);
}

void ctl_step_ended(struct ctl *c, struct unit *s)
{
	if (c && c->state == CTL_UP && !s->end_in_flight)
		ctl_send_step_end(c, s);
}

static void ctl_register(struct ctl *c)
{
	struct mnoded *d = c->d;
	Meridian__NodeRegister reg = MERIDIAN__NODE_REGISTER__INIT;
	Meridian__NodeJobStatus *st, **stp;
	struct pending *p;
	struct unit *j;
	size_t n = 0, i = 0;

	TAILQ_FOREACH(j, &d->units, link)
		n += j->kind == UNIT_JOB;
	st = xcalloc(n ? n : 1, sizeof(*st));
	stp = xcalloc(n ? n : 1, sizeof(*stp));
	p = pending_add(c, MERIDIAN__MSG_TYPE__MSG_NODE_REGISTER);
	p->ended = xcalloc(n ? n : 1, sizeof(*p->ended));
	TAILQ_FOREACH(j, &d->units, link) {
		if (j->kind != UNIT_JOB)
			continue;
		meridian__node_job_status__init(&st[i]);
		st[i].job_id = j->job_id;
		st[i].running = j->end.job == NULL;
		st[i].end = j->end.job;
		if (j->end.job) {
			p->ended[p->nended++] = j->job_id;
			j->end_in_flight = true;
		}
		stp[i] = &st[i];
		i++;
	}
	reg.name = (char *)d->name;
	reg.cpus = d->topo->cpus;
	reg.real_memory = d->topo->memory_mb;
	reg.gpus = topo_gpus_msg(d->topo, &reg.n_gpus);
	reg.hostname = d->hostname;
	reg.version = PACKAGE_VERSION;
	reg.boot_time = d->boot_time;
	reg.n_jobs = n;
	reg.jobs = stp;
	c->state = CTL_REGISTERING;
	log_debug("registering with mctld: %u CPUs, %llu MiB, %zu GPUs, "
		  "%zu jobs (%zu ended)",
		  reg.cpus, (unsigned long long)reg.real_memory, reg.n_gpus, n,
		  p->nended);
	if (ctl_send(c, p, &reg.base) < 0) {
		/* The watchdog would notice too; no point waiting for it. */
		topo_gpus_msg_free(reg.gpus, reg.n_gpus);
		free(stp);
		free(st);
		ctl_drop(c, "cannot send NODE_REGISTER");
		return;
	}
	topo_gpus_msg_free(reg.gpus, reg.n_gpus);
	free(stp);
	free(st);
}

/* Ask mctld whether the jobs with a TMPDIR here and no unit running
 * still run here (reply_job_info). */
static void ctl_ask_jobs(struct ctl *c)
{
	Meridian__JobInfoRequest req = MERIDIAN__JOB_INFO_REQUEST__INIT;
	struct pending *p;
	uint32_t *ids;
	size_t n;

	if (c->state != CTL_UP || c->asking || !(ids = tmpdir_unsure(c->d, &n)))
		return;
	p = pending_add(c, MERIDIAN__MSG_TYPE__MSG_JOB_INFO);
	p->asked = ids;
	p->nasked = n;
	req.job_ids = ids;
	req.n_job_ids = n;
	c->asking = true;
	if (ctl_send(c, p, &req.base) < 0)
		ctl_drop(c, "cannot send JOB_INFO");
}

static void ctl_heartbeat_cb(evutil_socket_t fd, short what, void *arg)
{
	struct ctl *c = arg;
	Meridian__NodeHeartbeat hb = MERIDIAN__NODE_HEARTBEAT__INIT;
	struct pending *p;

	/* an end mctld has not acknowledged since the last heartbeat may wait
	 * long yet */
	unit_sync_ends(c->d);
	if (c->state != CTL_UP)
		return;
	hb.name = (char *)c->d->name;
	hb.running_jobs = (uint32_t)launch_running_count(c->d);
	p = pending_add(c, MERIDIAN__MSG_TYPE__MSG_NODE_HEARTBEAT);
	if (ctl_send(c, p, &hb.base) < 0) {
		ctl_drop(c, "cannot send a heartbeat");
		return;
	}
	ctl_ask_jobs(c);
}

static void ctl_watchdog_cb(evutil_socket_t fd, short what, void *arg)
{
	struct ctl *c = arg;
	int64_t limit_ms = (int64_t)REQUEST_TIMEOUT_S * 1000;
	int64_t now = mer_mono_ms();

	if ((int64_t)c->hb_interval * 3000 > limit_ms)
		limit_ms = (int64_t)c->hb_interval * 3000;
	for (struct pending *p = c->pending; p; p = p->next) {
		if (now - p->sent_ms > limit_ms) {
			char why[120];
			snprintf(why, sizeof(why), "no reply to %s in %lld s",
				 msg_type_name(p->type),
				 (long long)(now - p->sent_ms) / 1000);
			ctl_drop(c, why);
			return;
		}
	}
}

/* ---- replies to our requests ---------------------------------------- */

static void reply_register(struct ctl *c, struct pending *p,
			   const struct frame_hdr *h, const ProtobufCMessage *m)
{
	struct mnoded *d = c->d;
	const Meridian__NodeRegisterReply *r;
	struct timeval tv;

	if (h->flags & MER_FRAME_ERROR) {
		const Meridian__ErrorReply *e = (const void *)m;
		char why[300];
		snprintf(why, sizeof(why),
			 "mctld refused to register node %s: %s", d->name,
			 e->text);
		ctl_drop(c, why);
		return;
	}
	r = (const void *)m;
	c->state = CTL_UP;
	c->backoff_s = BACKOFF_MIN_S;
	c->hb_interval = r->heartbeat_interval ? r->heartbeat_interval
					       : d->conf->heartbeat_interval;
	if (!c->hb_interval)
		c->hb_interval = 30;
	log_info("registered with mctld %s as node %s (heartbeat every %u s)",
		 c->peer, d->name, c->hb_interval);
	/* The ends we listed are recorded: mctld acknowledges every ended
	 * job in a registration. */
	for (size_t i = 0; i < p->nended; i++)
		unit_end_acked(launch_find(d, p->ended[i]));
	for (size_t i = 0; i < r->n_kill_jobs; i++) {
		Meridian__SignalJob sj = MERIDIAN__SIGNAL_JOB__INIT;
		struct mer_error err;
		sj.job_id = r->kill_jobs[i];
		sj.signal = SIGKILL;
		sj.cancel = true;
		sj.reason = "the controller has ended this job";
		log_info("job %u: mctld has ended it: cancelling", sj.job_id);
		if (launch_signal(d, &sj, &err) < 0)
			log_warnx("%s", err.text);
		tmpdir_job_over(d, sj.job_id);
	}
	tv.tv_sec = c->hb_interval;
	tv.tv_usec = 0;
	evtimer_del(c->hb_ev);
	event_add(c->hb_ev, &tv);
	ctl_send_ends(c);
}

static void reply_heartbeat(struct ctl *c, struct pending *p,
			    const struct frame_hdr *h,
			    const ProtobufCMessage *m)
{
	if (h->flags & MER_FRAME_ERROR)
		log_warnx("mctld refused a heartbeat: %s",
			  ((const Meridian__ErrorReply *)m)->text);
}

static void reply_job_info(struct ctl *c, struct pending *p,
			   const struct frame_hdr *h, const ProtobufCMessage *m)
{
	const Meridian__JobInfoReply *r = (const void *)m;

	c->asking = false;
	if (h->flags & MER_FRAME_ERROR) {
		log_warnx("mctld refused JOB_INFO about the jobs of TMPDIRs "
			  "here (asked again at the next heartbeat): %s",
			  ((const Meridian__ErrorReply *)m)->text);
		return;
	}
	for (size_t i = 0; i < p->nasked; i++) {
		const Meridian__JobRecord *rec = NULL;

		for (size_t k = 0; k < r->n_jobs && !rec; k++)
			if (r->jobs[k]->job_id == p->asked[i])
				rec = r->jobs[k];
		tmpdir_job_state(c->d, p->asked[i], rec);
	}
}

static void reply_probe_result(struct ctl *c, struct pending *p,
			       const struct frame_hdr *h,
			       const ProtobufCMessage *m)
{
	if (h->flags & MER_FRAME_ERROR)
		log_warnx("mctld refused a probe's result: %s",
			  ((const Meridian__ErrorReply *)m)->text);
}

void ctl_probe_result(struct ctl *c, const Meridian__ProbeResult *res)
{
	struct pending *p;

	/* A result that finds mctld away is lost: mctld forgets the probe
	 * and plans it again. */
	if (c->state != CTL_UP)
		return;
	p = pending_add(c, MERIDIAN__MSG_TYPE__MSG_PROBE_RESULT);
	if (ctl_send(c, p, &res->base) < 0)
		ctl_drop(c, "cannot send a probe's result");
}

static void reply_job_end(struct ctl *c, struct pending *p,
			  const struct frame_hdr *h, const ProtobufCMessage *m)
{
	struct unit *j = launch_find(c->d, p->job_id);
	const Meridian__ErrorReply *e = (const void *)m;

	if (!(h->flags & MER_FRAME_ERROR)) {
		unit_end_acked(j);
		return;
	}
	if (e->code == ENOENT) {
		/* mctld no longer knows the job: nobody will ever ask. */
		log_warnx("job %u: mctld does not know it (%s): dropping its "
			  "end",
			  p->job_id, e->text);
		unit_end_acked(j);
		return;
	}
	log_warnx("job %u: mctld refused its end: %s (will report it again "
		  "at the next registration)",
		  p->job_id, e->text);
	if (j)
		j->end_in_flight = true; /* not again on this connection */
}

static void reply_step_end(struct ctl *c, struct pending *p,
			   const struct frame_hdr *h, const ProtobufCMessage *m)
{
	struct unit *s = steps_find(c->d, p->job_id, p->step_id);
	const Meridian__ErrorReply *e = (const void *)m;

	if (!(h->flags & MER_FRAME_ERROR)) {
		unit_end_acked(s);
		return;
	}
	if (e->code == ENOENT) {
		/* mctld no longer knows the job or step: nobody will ask. */
		log_warnx("step %u.%u: mctld does not know it (%s): dropping "
			  "its end",
			  p->job_id, p->step_id, e->text);
		unit_end_acked(s);
		return;
	}
	log_warnx("step %u.%u: mctld refused its end: %s (will send it again "
		  "after the next registration)",
		  p->job_id, p->step_id, e->text);
	if (s)
		s->end_in_flight = true; /* not again on this connection */
}

static const struct reply_handler {
	Meridian__MsgType type;
	void (*fn)(struct ctl *c, struct pending *p, const struct frame_hdr *h,
		   const ProtobufCMessage *m);
} reply_handlers[] = {
	{MERIDIAN__MSG_TYPE__MSG_NODE_REGISTER, reply_register},
	{MERIDIAN__MSG_TYPE__MSG_NODE_HEARTBEAT, reply_heartbeat},
	{MERIDIAN__MSG_TYPE__MSG_JOB_END, reply_job_end},
	{MERIDIAN__MSG_TYPE__MSG_STEP_END, reply_step_end},
	{MERIDIAN__MSG_TYPE__MSG_PROBE_RESULT, reply_probe_result},
	{MERIDIAN__MSG_TYPE__MSG_JOB_INFO, reply_job_info},
};

static void ctl_on_reply(struct ctl *c, const struct frame_hdr *h,
			 const uint8_t *body)
{
	struct pending *p = pending_take(c, h->req_id);
	ProtobufCMessage *m;
	struct mer_error err;

	if (!p || p->type != h->type) {
		log_warnx("reply %s to request %u that we did not send: "
			  "ignored",
			  msg_type_name(h->type), h->req_id);
		if (p)
			pending_free(p);
		return;
	}
	m = frame_unpack_body(h, body, h->body_len, &err);
	if (!m) {
		pending_free(p);
		ctl_drop(c, err.text);
		return;
	}
	for (size_t i = 0; i < sizeof(reply_handlers) / sizeof(*reply_handlers);
	     i++)
		if (reply_handlers[i].type == p->type)
			reply_handlers[i].fn(c, p, h, m);
	protobuf_c_message_free_unpacked(m, NULL);
	pending_free(p);
}

/* ---- requests mctld pushes ------------------------------------------ */

static int push_launch(struct ctl *c, const ProtobufCMessage *m,
		       const uint8_t *body, size_t len, struct mer_error *err)
{
	const Meridian__LaunchJob *lj = (const void *)m;

	if (!lj->job || lj->job->job_id == 0 || !lj->spec) {
		errno = EINVAL;
		return mer_error_set(err, "LAUNCH_JOB without a job record "
					  "and spec");
	}
	if (*lj->job->batch_host && strcmp(lj->job->batch_host, c->d->name)) {
		errno = EINVAL;
		return mer_error_set(err,
				     "LAUNCH_JOB for job %u names batch host "
				     "%s, this is node %s",
				     lj->job->job_id, lj->job->batch_host,
				     c->d->name);
	}
	return launch_job(c->d, lj, body, len, err);
}

static int push_launch_step(struct ctl *c, const ProtobufCMessage *m,
			    const uint8_t *body, size_t len,
			    struct mer_error *err)
{
	return steps_launch(c->d, (const Meridian__LaunchStep *)m, err);
}

static int push_signal(struct ctl *c, const ProtobufCMessage *m,
		       const uint8_t *body, size_t len, struct mer_error *err)
{
	const Meridian__SignalJob *sj = (const void *)m;

	if (!sj->cancel && (sj->signal <= 0 || sj->signal >= NSIG)) {
		errno = EINVAL;
		return mer_error_set(err,
				     "SIGNAL_JOB with signal %d: expected "
				     "1..%d",
				     sj->signal, NSIG - 1);
	}
	return launch_signal(c->d, sj, err);
}

static int push_probe_arm(struct ctl *c, const ProtobufCMessage *m,
			  const uint8_t *body, size_t len,
			  struct mer_error *err)
{
	return probes_arm(c->d, (const Meridian__ProbeRequest *)m, err);
}

static int push_probe_run(struct ctl *c, const ProtobufCMessage *m,
			  const uint8_t *body, size_t len,
			  struct mer_error *err)
{
	return probes_run(c->d, (const Meridian__ProbeRequest *)m, err);
}

/* What mctld may ask of a node; every entry needs a node credential
 * (root or the daemons' own user). */
static const struct push_handler {
	Meridian__MsgType type;
	int (*fn)(struct ctl *c, const ProtobufCMessage *m, const uint8_t *body,
		  size_t len, struct mer_error *err);
} push_handlers[] = {
	{MERIDIAN__MSG_TYPE__MSG_LAUNCH_JOB, push_launch},
	{MERIDIAN__MSG_TYPE__MSG_LAUNCH_STEP, push_launch_step},
	{MERIDIAN__MSG_TYPE__MSG_SIGNAL_JOB, push_signal},
	{MERIDIAN__MSG_TYPE__MSG_PROBE_ARM, push_probe_arm},
	{MERIDIAN__MSG_TYPE__MSG_PROBE_RUN, push_probe_run},
};

static void ctl_on_request(struct ctl *c, const struct frame_hdr *h,
			   const uint8_t *cred, const uint8_t *body)
{
	const struct push_handler *ph = NULL;
	Meridian__Ack ack = MERIDIAN__ACK__INIT;
	ProtobufCMessage *m;
	struct mer_error err;
	uid_t uid;
	gid_t gid;

	for (size_t i = 0; i < sizeof(push_handlers) / sizeof(*push_handlers);
	     i++)
		if (push_handlers[i].type == h->type)
			ph = &push_handlers[i];
	if (!ph) {
		log_warnx("mctld sent %s, which a node does not take",
			  msg_type_name(h->type));
		conn_send_error(c->conn, h->type, h->req_id, ENOSYS,
				"mnoded takes only LAUNCH_JOB, LAUNCH_STEP, "
				"SIGNAL_JOB, PROBE_ARM and PROBE_RUN");
		return;
	}
	if (h->cred_len == 0 ||
	    auth_decode(c->d->auth, (const char *)cred, h->cred_len, &uid, &gid,
			&err) < 0) {
		log_warnx("%s from mctld refused: %s", msg_type_name(h->type),
			  h->cred_len ? err.text : "no credential");
		conn_send_error(c->conn, h->type, h->req_id, EACCES,
				"a node takes requests only with a valid "
				"credential");
		return;
	}
	if (uid != 0 && uid != getuid()) {
		log_warnx("%s refused: credential of uid %u, expected 0 or %u",
			  msg_type_name(h->type), (unsigned)uid,
			  (unsigned)getuid());
		conn_send_error(c->conn, h->type, h->req_id, EACCES,
				"only root or the daemons' user may send "
				"requests to a node");
		return;
	}
	m = frame_unpack_body(h, body, h->body_len, &err);
	if (!m) {
		log_warnx("%s from mctld does not decode: %s",
			  msg_type_name(h->type), err.text);
		conn_send_error(c->conn, h->type, h->req_id, EBADMSG, err.text);
		return;
	}
	if (ph->fn(c, m, body, h->body_len, &err) < 0) {
		int e = errno ? errno : EINVAL;
		log_warnx("%s: %s", msg_type_name(h->type), err.text);
		conn_send_error(c->conn, h->type, h->req_id, e, err.text);
	} else {
		conn_send_msg(c->conn, h->type, MER_FRAME_REPLY, h->req_id,
			      NULL, 0, &ack.base);
	}
	protobuf_c_message_free_unpacked(m, NULL);
}

static void ctl_on_frame(struct conn *conn, const struct frame_hdr *h,
			 const uint8_t *cred, const uint8_t *body, void *arg)
{
	struct ctl *c = arg;

	if (h->flags & MER_FRAME_REPLY)
		ctl_on_reply(c, h, body);
	else
		ctl_on_request(c, h, cred, body);
}

/* ---- dialing -------------------------------------------------------- */

static void ctl_connected(struct ctl *c, int fd)
{
	struct timeval tv = {.tv_sec = WATCHDOG_S};
	int one = 1;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
	freeaddrinfo(c->ai_list);
	c->ai_list = c->ai_next = NULL;
	c->conn = conn_create(c->d->base, fd, c->peer, ctl_on_frame,
			      ctl_on_close, c);
	if (!c->conn) {
		log_warnx("cannot set up the connection to mctld %s", c->peer);
		ctl_schedule_retry(c);
		return;
	}
	log_debug("connected to mctld %s", c->peer);
	event_add(c->watch_ev, &tv);
	ctl_register(c);
}

static void ctl_try_next(struct ctl *c, int last_errno);

static void ctl_connect_cb(evutil_socket_t fd, short what, void *arg)
{
	struct ctl *c = arg;
	int soerr = 0;
	socklen_t sl = sizeof(soerr);

	event_free(c->connect_ev);
	c->connect_ev = NULL;
	c->connect_fd = -1;
	if (what & EV_TIMEOUT)
		soerr = ETIMEDOUT;
	else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0)
		soerr = errno;
	if (soerr) {
		close(fd);
		ctl_try_next(c, soerr);
		return;
	}
	ctl_connected(c, fd);
}

/* Try the next address of ControllerHost; when none is left, back off. */
static void ctl_try_next(struct ctl *c, int last_errno)
{
	while (c->ai_next) {
		struct addrinfo *ai = c->ai_next;
		struct timeval tv = {.tv_sec = CONNECT_TIMEOUT_S};
		int fd;

		c->ai_next = ai->ai_next;
		fd = socket(ai->ai_family,
			    ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
			    ai->ai_protocol);
		if (fd < 0) {
			last_errno = errno;
			continue;
		}
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
			ctl_connected(c, fd);
			return;
		}
		if (errno != EINPROGRESS) {
			last_errno = errno;
			close(fd);
			continue;
		}
		c->connect_fd = fd;
		c->connect_ev =
			event_new(c->d->base, fd, EV_WRITE, ctl_connect_cb, c);
		event_add(c->connect_ev, &tv);
		return;
	}
	freeaddrinfo(c->ai_list);
	c->ai_list = c->ai_next = NULL;
	log_warnx("cannot connect to mctld %s: %s", c->peer,
		  strerror(last_errno));
	ctl_schedule_retry(c);
}

static void ctl_dial(struct ctl *c)
{
	const struct conf *cf = c->d->conf;
	struct addrinfo hints = {.ai_family = AF_UNSPEC,
				 .ai_socktype = SOCK_STREAM};
	char port[16];
	int gai;

	c->state = CTL_CONNECTING;
	snprintf(port, sizeof(port), "%u", cf->controller_port);
	/* getaddrinfo blocks; ControllerHost is usually an address or in
	 * /etc/hosts, and nothing else is urgent while we are not
	 * connected but job ends, which wait in the spool. */
	gai = getaddrinfo(cf->controller_host, port, &hints, &c->ai_list);
	if (gai != 0) {
		log_warnx("cannot resolve ControllerHost=%s: %s",
			  cf->controller_host, gai_strerror(gai));
		c->ai_list = NULL;
		ctl_schedule_retry(c);
		return;
	}
	c->ai_next = c->ai_list;
	ctl_try_next(c, ECONNREFUSED);
}

static void ctl_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	ctl_dial(arg);
}

struct ctl *ctl_create(struct mnoded *d)
{
	struct ctl *c = xcalloc(1, sizeof(*c));

	c->d = d;
	c->connect_fd = -1;
	c->backoff_s = BACKOFF_MIN_S;
	c->retry_ev = evtimer_new(d->base, ctl_retry_cb, c);
	c->hb_ev = event_new(d->base, -1, EV_PERSIST, ctl_heartbeat_cb, c);
	c->watch_ev = event_new(d->base, -1, EV_PERSIST, ctl_watchdog_cb, c);
	snprintf(c->peer, sizeof(c->peer), "%s:%u", d->conf->controller_host,
		 d->conf->controller_port);
	return c;
}

void ctl_start(struct ctl *c)
{
	ctl_dial(c);
}

void ctl_destroy(struct ctl *c)
{
	if (!c)
		return;
	conn_destroy(c->conn);
	if (c->connect_ev) {
		event_free(c->connect_ev);
		close(c->connect_fd);
	}
	while (c->pending) {
		struct pending *p = c->pending;
		c->pending = p->next;
		pending_free(p);
	}
	if (c->ai_list)
		freeaddrinfo(c->ai_list);
	event_free(c->retry_ev);
	event_free(c->hb_ev);
	event_free(c->watch_ev);
	free(c);
}
