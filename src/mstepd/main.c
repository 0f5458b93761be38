/*
 * main.c - mstepd: start-up, the connections from mnoded, the loop.
 *
 *   mstepd -s JOBDIR -j JOBID [-N NODENAME] [-L LEVEL] [-v] [-t SECONDS]
 *   mstepd -s STEPDIR -j JOBID -S STEPID [-N NODENAME] [-L LEVEL] [-v]
 *
 * mstepd depends on nobody: it reads everything it needs from its
 * directory, and mnoded (any mnoded of this node, after restarts) talks to
 * it over the socket it was started with (fd 3) or over DIR/stepd.sock.
 * Only root (or the user mstepd runs as) may talk to it: the socket is
 * 0600 and the peer's uid is checked with SO_PEERCRED.  Without -S it runs
 * a batch script (tasks.c), with -S its node's share of a job step
 * (step.c); the rest is common.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mstepd.h"

static void usage(FILE *fp)
{
	fprintf(fp,
		"Usage: mstepd -s JOBDIR -j JOBID [-N NODENAME] [-L LEVEL] "
		"[-v] [-t SECONDS]\n"
		"       mstepd -s STEPDIR -j JOBID -S STEPID [-N NODENAME] "
		"[-L LEVEL] [-v]\n"
		"Meridian's step manager: runs one batch job from JOBDIR, or "
		"this node's\nranks of a job step from STEPDIR. Started by "
		"mnoded.\n"
		"\n"
		"  -s DIR       the job's or step's spool directory (holds "
		"`launch`)\n"
		"  -j JOBID     the job id, checked against the launch file\n"
		"  -S STEPID    run a job step (mrun), checked against the "
		"launch file\n"
		"  -N NODENAME  this node (default: the job's batch host, or "
		"the step's\n"
		"               node the launch names)\n"
		"  -L LEVEL     log error, warn, info (the default) or debug "
		"messages, to\n"
		"               stderr (mnoded makes that its own log)\n"
		"  -v           the same as -L debug\n"
		"  -t SECONDS   time limit in seconds instead of the job's "
		"(for tests)\n");
}

/* ---- peers: mnoded's connections ------------------------------------ */

static void peer_remove(struct mstepd *s, struct peer *p)
{
	for (struct peer **pp = &s->peers; *pp; pp = &(*pp)->next) {
		if (*pp == p) {
			*pp = p->next;
			break;
		}
	}
	conn_destroy(p->conn);
	free(p);
}

static int req_signal(struct mstepd *s, const ProtobufCMessage *m,
		      struct mer_error *err)
{
	const Meridian__SignalJob *sj = (const void *)m;

	if (sj->job_id != s->job_id) {
		errno = EINVAL;
		return mer_error_set(err,
				     "SIGNAL_JOB for job %u sent to the "
				     "mstepd of job %u",
				     sj->job_id, s->job_id);
	}
	if (sj->has_step && (!s->step_mode || sj->step_id != s->step_id)) {
		errno = EINVAL;
		if (!s->step_mode)
			return mer_error_set(err,
					     "SIGNAL_JOB for step %u.%u sent "
					     "to the mstepd of job %u's batch "
					     "script",
					     sj->job_id, sj->step_id,
					     s->job_id);
		return mer_error_set(err,
				     "SIGNAL_JOB for step %u.%u sent to "
				     "the mstepd of step %u.%u",
				     sj->job_id, sj->step_id, s->job_id,
				     s->step_id);
	}
	if (!sj->cancel && (sj->signal <= 0 || sj->signal >= NSIG)) {
		errno = EINVAL;
		return mer_error_set(err, "signal %d: expected 1..%d",
				     sj->signal, NSIG - 1);
	}
	if (s->step_mode) {
		step_signal_job(s, sj);
		return 0;
	}
	if (sj->cancel) {
		tasks_terminate(s, TASK_KILL_CANCEL,
				*sj->reason ? sj->reason : "cancelled");
		return 0;
	}
	tasks_signal(s, sj->signal);
	return 0;
}

/* What mnoded may ask of mstepd (a step's I/O goes to mrun directly). */
static const struct req_handler {
	Meridian__MsgType type;
	int (*fn)(struct mstepd *s, const ProtobufCMessage *m,
		  struct mer_error *err);
} req_handlers[] = {
	{MERIDIAN__MSG_TYPE__MSG_SIGNAL_JOB, req_signal},
};

static void peer_on_frame(struct conn *c, const struct frame_hdr *h,
			  const uint8_t *cred, const uint8_t *body, void *arg)
{
	struct peer *p = arg;
	struct mstepd *s = p->s;
	const struct req_handler *rh = NULL;
	Meridian__Ack ack = MERIDIAN__ACK__INIT;
	ProtobufCMessage *m;
	struct mer_error err;

	if (h->flags & MER_FRAME_REPLY)
		return; /* we send no requests */
	for (size_t i = 0; i < sizeof(req_handlers) / sizeof(*req_handlers);
	     i++)
		if (req_handlers[i].type == h->type)
			rh = &req_handlers[i];
	if (!rh) {
		conn_send_error(c, h->type, h->req_id, ENOSYS,
				"mstepd does not take this request");
		return;
	}
	if (!(m = frame_unpack_body(h, body, h->body_len, &err))) {
		log_warnx("%s from %s does not decode: %s",
			  msg_type_name(h->type), conn_peer(c), err.text);
		conn_send_error(c, h->type, h->req_id, EBADMSG, err.text);
		return;
	}
	if (rh->fn(s, m, &err) < 0) {
		log_warnx("%s: %s", msg_type_name(h->type), err.text);
		conn_send_error(c, h->type, h->req_id, errno ? errno : EINVAL,
				err.text);
	} else {
		conn_send_msg(c, h->type, MER_FRAME_REPLY, h->req_id, NULL, 0,
			      &ack.base);
	}
	protobuf_c_message_free_unpacked(m, NULL);
}

static void sock_listen(struct mstepd *s);

static void peer_on_close(struct conn *c, const char *why, void *arg)
{
	struct peer *p = arg;
	struct mstepd *s = p->s;
	bool starter = p->started_by;

	/* mnoded went away; the job does not care. */
	log_debug("%s: %s", conn_peer(c), why);
	peer_remove(s, p);
	/* the next mnoded will look for stepd.sock: only now is it needed */
	if (starter && !s->finished)
		sock_listen(s);
}

/* Take fd as a connection from mnoded if its peer is root or ourselves. */
static void peer_add(struct mstepd *s, int fd, const char *what, bool starter)
{
	struct peer *p = xcalloc(1, sizeof(*p));
	uid_t uid;

	p->s = s;
	p->conn =
		conn_create(s->base, fd, what, peer_on_frame, peer_on_close, p);
	if (!p->conn) {
		free(p);
		return;
	}
	if (conn_peer_uid(p->conn, &uid) < 0 ||
	    (uid != 0 && uid != geteuid())) {
		log_warnx("%s: refused a connection from uid %ld", what,
			  (long)uid);
		conn_destroy(p->conn);
		free(p);
		return;
	}
	p->started_by = starter;
	p->next = s->peers;
	s->peers = p;
	log_debug("%s: connected", what);
}

static void listen_cb(evutil_socket_t fd, short what, void *arg)
{
	struct mstepd *s = arg;
	int c = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

	if (c < 0) {
		if (errno != EAGAIN && errno != EINTR)
			log_warn("accept on %s/%s", s->dir, SPOOL_SOCK_FILE);
		return;
	}
	peer_add(s, c, "mnoded (stepd.sock)", false);
}

int mstepd_write_end(const struct mstepd *s, const ProtobufCMessage *end,
		     struct mer_error *err)
{
	/* An mnoded on the line reads the end as soon as we exit, and syncs
	 * it whenever mctld cannot take it at once; alone, we sync it. */
	if (s->peers)
		return spool_write_end_unsynced(s->dir, end, err);
	return spool_write_end(s->dir, end, err);
}

/* ---- signals -------------------------------------------------------- */

static void on_sigchld(evutil_socket_t sig, short what, void *arg)
{
	struct mstepd *s = arg;

	if (s->step_mode)
		step_reap(s);
	else
		tasks_reap(s);
}

static void on_terminate(evutil_socket_t sig, short what, void *arg)
{
	struct mstepd *s = arg;
	char reason[64];

	/* An admin (or shutdown) stopping mstepd stops the job cleanly,
	 * with an end that says so. */
	snprintf(reason, sizeof(reason), "mstepd got signal %d", (int)sig);
	if (s->step_mode)
		step_terminate(s, reason);
	else
		tasks_terminate(s, TASK_KILL_CANCEL, reason);
}

/* ---- start-up ------------------------------------------------------- */

/* mnoded gives us /dev/null on 0-2; a hand start may not, and then our
 * own sockets could land on 0-2 and be clobbered by the job's dup2s. */
static void ensure_std_fds(void)
{
	int fd;

	do
		fd = open("/dev/null", O_RDWR);
	while (fd >= 0 && fd <= 2);
	if (fd > 2)
		close(fd);
}

/* Hold a shared flock on DIR/launch for as long as we live: a restarted
 * mnoded that finds no stepd.sock yet tells an mstepd about to listen
 * from a dead one by it (unit.c).  The descriptor is close-on-exec, and
 * the lock goes with the last process holding it. */
static void hold_launch(struct mstepd *s)
{
	char *path = spool_path(s->dir, SPOOL_LAUNCH_FILE);

	s->lock_fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (s->lock_fd < 0 || flock(s->lock_fd, LOCK_SH) < 0)
		log_warn("cannot lock %s", path); /* reading it will fail */
	free(path);
}

static bool is_socket(int fd)
{
	int type;
	socklen_t len = sizeof(type);

	return getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0;
}

/* An id of at most UINT32_MAX for option opt: a job id is positive, a
 * step id may be 0. */
static bool parse_id(const char *arg, int opt, const char *what, long *out)
{
	char *end;

	errno = 0;
	*out = strtol(arg, &end, 10);
	if (errno || end == arg || *end || *out < 0 ||
	    *out > (long)UINT32_MAX || (opt == 'j' && *out == 0)) {
		fprintf(stderr, "mstepd: error: -%c %s: expected %s\n", opt,
			arg, what);
		return false;
	}
	return true;
}

/* The loop, the signals it watches, stepd.sock, and mnoded on fd 3. */
static void loop_init(struct mstepd *s, bool mnoded_fd, struct event *ev[3])
{
	if (!(s->base = event_base_new()))
		fatalx("cannot create the event loop");
	ev[0] = evsignal_new(s->base, SIGCHLD, on_sigchld, s);
	ev[1] = evsignal_new(s->base, SIGTERM, on_terminate, s);
	ev[2] = evsignal_new(s->base, SIGINT, on_terminate, s);
	for (int i = 0; i < 3; i++)
		evsignal_add(ev[i], NULL);

	/* Started by mnoded, we listen only once it is gone (an inode less
	 * per job while it lives); started by hand, at once. */
	if (mnoded_fd)
		peer_add(s, SPOOL_MNODED_FD, "mnoded", true);
	if (!s->peers)
		sock_listen(s);
}

/* Listen on DIR/stepd.sock, for the next mnoded of this node. */
static void sock_listen(struct mstepd *s)
{
	struct mer_error err;
	char *sock_path;

	if (s->listen_fd >= 0)
		return;
	sock_path = xasprintf("%s/%s", s->dir, SPOOL_SOCK_FILE);
	s->listen_fd = unix_listen(sock_path, 0600, &err);
	if (s->listen_fd < 0) {
		/* The job can run without it; only a restarted mnoded will
		 * not find it and will report it lost. */
		log_warnx("job %u: %s", s->job_id, err.text);
	} else {
		set_nonblock(s->listen_fd);
		s->listen_ev = event_new(s->base, s->listen_fd,
					 EV_READ | EV_PERSIST, listen_cb, s);
		event_add(s->listen_ev, NULL);
		log_debug("listening on %s", sock_path);
	}
	free(sock_path);
}

static void loop_free(struct mstepd *s, struct event *ev[3])
{
	while (s->peers)
		peer_remove(s, s->peers);
	if (s->listen_ev)
		event_free(s->listen_ev);
	if (s->listen_fd >= 0)
		close(s->listen_fd);
	for (int i = 0; i < 3; i++)
		event_free(ev[i]);
}

/* Batch mode: the script of job s->job_id.  Returns main's status. */
static int run_batch(struct mstepd *s, const char *node, bool mnoded_fd,
		     long limit)
{
	struct event *ev[3];
	struct mer_error err;

	if (!(s->launch = spool_read_launch_job(s->dir, s->job_id, &err))) {
		tasks_fail(s, err.text);
		return 1;
	}
	s->job = s->launch->job;
	s->node = xstrdup(node ? node : s->job->batch_host);
	s->time_limit_s = limit >= 0 ? limit : (int64_t)s->job->time_limit * 60;
	loop_init(s, mnoded_fd, ev);
	if (tasks_start(s, &err) < 0)
		tasks_fail(s, err.text);
	else
		event_base_dispatch(s->base);
	if (s->limit_ev)
		event_free(s->limit_ev);
	if (s->kill_ev)
		event_free(s->kill_ev);
	if (s->drain_ev)
		event_free(s->drain_ev);
	loop_free(s, ev);
	event_base_free(s->base);
	meridian__launch_job__free_unpacked(s->launch, NULL);
	free(s->setup_error);
	free(s->kill_reason);
	free(s->err_path);
	return s->finished ? 0 : 1;
}

/* Step mode: this node's share of step s->step_id. */
static int run_step(struct mstepd *s, const char *node, bool mnoded_fd)
{
	struct event *ev[3];
	struct mer_error err;

	if (step_load(s, node, &err) < 0) {
		s->node = xstrdup(node ? node : "");
		step_fail_early(s, err.text);
		return 1;
	}
	loop_init(s, mnoded_fd, ev);
	step_start(s);
	event_base_dispatch(s->base);
	/* the ranks' streams and connections go before the loop */
	step_destroy(s);
	loop_free(s, ev);
	event_base_free(s->base);
	return s->finished ? 0 : 1;
}

int main(int argc, char **argv)
{
	struct mstepd s = {0};
	const char *dir = NULL, *node = NULL;
	enum log_level level = LOG_LVL_INFO;
	bool mnoded_fd;
	char ident[48], *end;
	long jobid = 0, stepid = -1, limit = -1;
	int opt, rc;

	/* Before anything opens a file: is fd 3 the socket from mnoded? */
	mnoded_fd = is_socket(SPOOL_MNODED_FD);
	ensure_std_fds();
	while ((opt = getopt(argc, argv, "s:j:S:N:L:vt:h")) != -1) {
		switch (opt) {
		case 's':
			dir = optarg;
			break;
		case 'j':
			if (!parse_id(optarg, opt, "a job id", &jobid))
				return 2;
			break;
		case 'S':
			if (!parse_id(optarg, opt, "a step id", &stepid))
				return 2;
			break;
		case 'N':
			node = optarg;
			break;
		case 'L':
			if (log_parse_level(optarg, &level) < 0) {
				fprintf(stderr,
					"mstepd: error: -L %s: expected error, "
					"warn, info or debug\n",
					optarg);
				return 2;
			}
			break;
		case 'v':
			level = LOG_LVL_DEBUG;
			break;
		case 't':
			errno = 0;
			limit = strtol(optarg, &end, 10);
			if (errno || *end || limit < 0) {
				fprintf(stderr,
					"mstepd: error: -t %s: expected "
					"seconds\n",
					optarg);
				return 2;
			}
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (!dir || !jobid || optind != argc) {
		usage(stderr);
		return 2;
	}
	if (dir[0] != '/') {
		fprintf(stderr,
			"mstepd: error: -s %s: expected an absolute "
			"path\n",
			dir);
		return 2;
	}
	if (stepid >= 0 && limit >= 0) {
		fprintf(stderr, "mstepd: error: -t is for batch jobs: a step "
				"ends with its job\n");
		return 2;
	}
	s.job_id = (uint32_t)jobid;
	s.step_mode = stepid >= 0;
	s.step_id = s.step_mode ? (uint32_t)stepid : 0;
	s.dir = xstrdup(dir);
	s.listen_fd = -1;
	s.status_fd = -1;

	if (s.step_mode)
		snprintf(ident, sizeof(ident), "mstepd(step %u.%u)", s.job_id,
			 s.step_id);
	else
		snprintf(ident, sizeof(ident), "mstepd(job %u)", s.job_id);
	/* stderr: mnoded's log, where the node's admin looks (no file of
	 * its own per job: see spool.h) */
	log_init(ident, NULL, level);
	hold_launch(&s);
	/* Orphans of the job come back to us, so that the clean-up finds
	 * them (see tasks.c and step.c). */
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0)
		log_warn("PR_SET_CHILD_SUBREAPER");
	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, SIG_IGN);

	if (s.step_mode)
		rc = run_step(&s, node, mnoded_fd);
	else
		rc = run_batch(&s, node, mnoded_fd, limit);
	free(s.node);
	free(s.dir);
	return rc;
}
