/*
 * main.c - mstepd: start-up, the connections from mnoded, the loop.
 *
 *   mstepd -s JOBDIR -j JOBID [-N NODENAME] [-v] [-t SECONDS]
 *
 * mstepd depends on nobody: it reads everything it needs from JOBDIR, and
 * mnoded (any mnoded of this node, after restarts) talks to it over the
 * socket it was started with (fd 3) or over JOBDIR/stepd.sock.  Only root
 * (or the user mstepd runs as) may talk to it: the socket is 0600 and the
 * peer's uid is checked with SO_PEERCRED.
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
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mstepd.h"

static void usage(FILE *fp)
{
	fprintf(fp,
		"Usage: mstepd -s JOBDIR -j JOBID [-N NODENAME] [-v] [-t "
		"SECONDS]\n"
		"Meridian's step manager: runs one batch job from JOBDIR. "
		"Started by mnoded.\n"
		"\n"
		"  -s JOBDIR    the job's spool directory (holds `launch`)\n"
		"  -j JOBID     the job id, checked against the launch file\n"
		"  -N NODENAME  this node (default: the job's batch host)\n"
		"  -v           log debug messages\n"
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
		return mer_error_set(err, "SIGNAL_JOB for job %u sent to the "
					  "mstepd of job %u",
				     sj->job_id, s->job_id);
	}
	if (sj->cancel) {
		tasks_terminate(s, TASK_KILL_CANCEL,
				*sj->reason ? sj->reason : "cancelled");
		return 0;
	}
	if (sj->signal <= 0 || sj->signal >= NSIG) {
		errno = EINVAL;
		return mer_error_set(err, "signal %d: expected 1..%d",
				     sj->signal, NSIG - 1);
	}
	tasks_signal(s, sj->signal);
	return 0;
}

/* What mnoded may ask of mstepd.  Issue 3 adds step launch and I/O. */
static const struct req_handler {
	Meridian__MsgType type;
	int (*fn)(struct mstepd *s, const ProtobufCMessage *m,
		  struct mer_error *err);
} req_handlers[] = {
	{ MERIDIAN__MSG_TYPE__MSG_SIGNAL_JOB, req_signal },
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

static void peer_on_close(struct conn *c, const char *why, void *arg)
{
	struct peer *p = arg;

	/* mnoded went away; the job does not care. */
	log_debug("%s: %s", conn_peer(c), why);
	peer_remove(p->s, p);
}

/* Take fd as a connection from mnoded if its peer is root or ourselves. */
static void peer_add(struct mstepd *s, int fd, const char *what)
{
	struct peer *p = xcalloc(1, sizeof(*p));
	uid_t uid;

	p->s = s;
	p->conn = conn_create(s->base, fd, what, peer_on_frame, peer_on_close,
			      p);
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
			log_warn("accept on %s/%s", s->dir, MSTEPD_SOCK_FILE);
		return;
	}
	peer_add(s, c, "mnoded (stepd.sock)");
}

/* ---- signals -------------------------------------------------------- */

static void on_sigchld(evutil_socket_t sig, short what, void *arg)
{
	tasks_reap(arg);
}

static void on_terminate(evutil_socket_t sig, short what, void *arg)
{
	struct mstepd *s = arg;
	char reason[64];

	/* An admin (or shutdown) stopping mstepd stops the job cleanly,
	 * with an end that says so. */
	snprintf(reason, sizeof(reason), "mstepd got signal %d", (int)sig);
	tasks_terminate(s, TASK_KILL_CANCEL, reason);
}

/* ---- start-up ------------------------------------------------------- */

/* Read and check the launch file; NULL with err. */
static Meridian__LaunchJob *load_launch(const struct mstepd *s,
					struct mer_error *err)
{
	char *path = xasprintf("%s/%s", s->dir, MSTEPD_LAUNCH_FILE), *data;
	Meridian__LaunchJob *lj;
	size_t n;

	if (read_file(path, &data, &n) < 0) {
		mer_error_set(err, "cannot read %s: %s", path, strerror(errno));
		free(path);
		return NULL;
	}
	lj = meridian__launch_job__unpack(NULL, n, (const uint8_t *)data);
	free(data);
	if (!lj || !lj->job || lj->job->job_id != s->job_id) {
		mer_error_set(err, "%s is not the launch request of job %u",
			      path, s->job_id);
		if (lj)
			meridian__launch_job__free_unpacked(lj, NULL);
		free(path);
		return NULL;
	}
	free(path);
	return lj;
}

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

static bool is_socket(int fd)
{
	int type;
	socklen_t len = sizeof(type);

	return getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0;
}

int main(int argc, char **argv)
{
	struct mstepd s = { 0 };
	const char *dir = NULL, *node = NULL;
	bool verbose = false, mnoded_fd;
	struct event *ev_chld, *ev_term, *ev_int;
	struct mer_error err;
	char *log_path, *sock_path, ident[32], *end;
	long jobid = 0, limit = -1;
	int opt;

	/* Before anything opens a file: is fd 3 the socket from mnoded? */
	mnoded_fd = is_socket(MSTEPD_MNODED_FD);
	ensure_std_fds();
	while ((opt = getopt(argc, argv, "s:j:N:vt:h")) != -1) {
		switch (opt) {
		case 's':
			dir = optarg;
			break;
		case 'j':
			errno = 0;
			jobid = strtol(optarg, &end, 10);
			if (errno || *end || jobid <= 0 || jobid > UINT32_MAX) {
				fprintf(stderr,
					"mstepd: error: -j %s: expected a job "
					"id\n",
					optarg);
				return 2;
			}
			break;
		case 'N':
			node = optarg;
			break;
		case 'v':
			verbose = true;
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
		fprintf(stderr, "mstepd: error: -s %s: expected an absolute "
				"path\n",
			dir);
		return 2;
	}
	s.job_id = (uint32_t)jobid;
	s.dir = xstrdup(dir);
	s.listen_fd = -1;
	s.status_fd = -1;

	log_path = xasprintf("%s/%s", s.dir, MSTEPD_LOG_FILE);
	snprintf(ident, sizeof(ident), "mstepd(job %u)", s.job_id);
	if (log_init(ident, log_path, verbose ? LOG_LVL_DEBUG : LOG_LVL_INFO) <
	    0) {
		fprintf(stderr, "mstepd: error: cannot open %s: %s\n", log_path,
			strerror(errno));
		return 1;
	}
	free(log_path);
	/* Orphans of the job come back to us, so that the clean-up finds
	 * them (see tasks.c). */
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0)
		log_warn("PR_SET_CHILD_SUBREAPER");
	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, SIG_IGN);

	if (!(s.launch = load_launch(&s, &err))) {
		tasks_fail(&s, err.text);
		return 1;
	}
	s.job = s.launch->job;
	s.node = xstrdup(node ? node : s.job->batch_host);
	s.time_limit_s = limit >= 0 ? limit : (int64_t)s.job->time_limit * 60;

	if (!(s.base = event_base_new()))
		fatalx("cannot create the event loop");
	ev_chld = evsignal_new(s.base, SIGCHLD, on_sigchld, &s);
	ev_term = evsignal_new(s.base, SIGTERM, on_terminate, &s);
	ev_int = evsignal_new(s.base, SIGINT, on_terminate, &s);
	evsignal_add(ev_chld, NULL);
	evsignal_add(ev_term, NULL);
	evsignal_add(ev_int, NULL);

	sock_path = xasprintf("%s/%s", s.dir, MSTEPD_SOCK_FILE);
	s.listen_fd = unix_listen(sock_path, 0600, &err);
	if (s.listen_fd < 0) {
		/* The job can run without it; only a restarted mnoded will
		 * not find it and will report it lost. */
		log_warnx("job %u: %s", s.job_id, err.text);
	} else {
		set_nonblock(s.listen_fd);
		s.listen_ev = event_new(s.base, s.listen_fd,
					EV_READ | EV_PERSIST, listen_cb, &s);
		event_add(s.listen_ev, NULL);
	}
	free(sock_path);
	if (mnoded_fd)
		peer_add(&s, MSTEPD_MNODED_FD, "mnoded");

	if (tasks_start(&s, &err) < 0)
		tasks_fail(&s, err.text);
	else
		event_base_dispatch(s.base);

	while (s.peers)
		peer_remove(&s, s.peers);
	if (s.listen_ev)
		event_free(s.listen_ev);
	if (s.listen_fd >= 0)
		close(s.listen_fd);
	if (s.limit_ev)
		event_free(s.limit_ev);
	if (s.kill_ev)
		event_free(s.kill_ev);
	if (s.drain_ev)
		event_free(s.drain_ev);
	event_free(ev_chld);
	event_free(ev_term);
	event_free(ev_int);
	event_base_free(s.base);
	meridian__launch_job__free_unpacked(s.launch, NULL);
	free(s.setup_error);
	free(s.kill_reason);
	free(s.node);
	free(s.dir);
	return s.finished ? 0 : 1;
}
