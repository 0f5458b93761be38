/*
 * fuzz_mrun_io.c - what a step's mstepds send mrun, into mrun's real I/O
 * server (src/cmd/mrun_io.c).
 *
 * Each input is one step run by a fresh struct mrun, set up as mrun's
 * main sets it up once mctld made the step: a StepCreateReply with 1 to 4
 * nodes, a listener (here a unix socket: the server only accepts on it)
 * and a known io_key.  The fuzzer plays the nodes' mstepds: it opens up
 * to four connections to the listener and sends each the bytes the input
 * says, in the input's order, then closes them all; mrun's loop runs
 * between.  mrun never reaches mctld here (its watch timer is stopped);
 * its stdin is /dev/null and what the ranks "print" goes to stdout and
 * stderr (run with -close_fd_mask=3).
 *
 * The input: a layout byte (bit 0 --label, bit 1 --pty, bits 2-3 the
 * nodes - 1, bit 4 --kill-on-bad-exit, bits 5-6 ranks per node - 1,
 * bit 7 a StepRecord.ntasks larger than the nodes' sum), then chunks: a
 * byte (bits 0-1 the connection, bit 7 close it after), a 16-bit length,
 * the bytes.  The io_key is 32 bytes of 'k'; the step is 7.3.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "fuzz_util.h"
#include "mrun.h"

#define NCONNS	  4
#define MAX_NODES 4

static struct event_base *base;
static unsigned listener_seq;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);

	/* mrun reads stdin for rank 0 once node 0 said hello */
	if (null < 0 || dup2(null, STDIN_FILENO) < 0)
		abort();
	close(null);
	signal(SIGPIPE, SIG_IGN); /* as mrun does: a closed peer is EPIPE */
	setenv("MERIDIAN_IO_HOST", "127.0.0.1", 1);
	base = event_base_new();
	return base ? 0 : -1;
}

static void abstract_addr(struct sockaddr_un *sa, socklen_t *len)
{
	int n;

	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	n = snprintf(sa->sun_path + 1, sizeof(sa->sun_path) - 1,
		     "meridian-fuzz-mrun-%d-%u", (int)getpid(), listener_seq);
	*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n);
}

static int listen_unix(void)
{
	struct sockaddr_un sa;
	socklen_t len;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	listener_seq++;
	abstract_addr(&sa, &len);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, len) < 0 ||
	    listen(fd, 16) < 0)
		abort();
	return fd;
}

static int dial(void)
{
	struct sockaddr_un sa;
	socklen_t len;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	abstract_addr(&sa, &len);
	if (fd < 0)
		abort();
	if (connect(fd, (struct sockaddr *)&sa, len) < 0) {
		close(fd); /* the listener is closed: every node is in */
		return -1;
	}
	return fd;
}

static void turns(int n)
{
	while (n-- > 0)
		event_base_loop(base, EVLOOP_NONBLOCK);
}

/* Write all of [p, p + n) to fd, letting mrun's loop read between. */
static void send_all(int fd, const uint8_t *p, size_t n)
{
	int stuck = 0;

	while (n && stuck < 1000) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

		if (w > 0) {
			p += w;
			n -= (size_t)w;
			stuck = 0;
		} else if (w < 0 && errno != EAGAIN && errno != EINTR) {
			return; /* mrun dropped the connection */
		} else {
			stuck++;
		}
		turns(1);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = {data, size};
	uint8_t layout = fuzz_u8(&in);
	Meridian__StepCreateReply rep = MERIDIAN__STEP_CREATE_REPLY__INIT;
	Meridian__StepRecord st = MERIDIAN__STEP_RECORD__INIT;
	Meridian__StepNode nodes[MAX_NODES], *node_ptrs[MAX_NODES];
	static const char *const names[MAX_NODES] = {"n1", "n2", "n3", "n4"};
	int fds[NCONNS];
	struct mrun m;
	uint32_t per_node = 1 + ((layout >> 5) & 3);
	size_t nnodes = 1 + ((layout >> 2) & 3);

	memset(&m, 0, sizeof(m));
	cmd_init(&m.cmd, "mrun");
	jobopt_init(&m.opt);
	m.opt.label = layout & 1;
	m.opt.pty = (layout >> 1) & 1;
	m.opt.kill_on_bad_exit = (layout >> 4) & 1 ? 1 : -1;
	m.base = base;
	m.job_id = 7;
	m.step_id = 3;
	m.in_fd = -1;
	mrun_status_init(&m.status);
	memset(m.io_key, 'k', sizeof(m.io_key));
	for (size_t i = 0; i < nnodes; i++) {
		meridian__step_node__init(&nodes[i]);
		nodes[i].node = (char *)names[i];
		nodes[i].first_rank = (uint32_t)i * per_node;
		nodes[i].ntasks = per_node;
		node_ptrs[i] = &nodes[i];
	}
	st.step_id = 3;
	st.nodes = node_ptrs;
	st.n_nodes = nnodes;
	st.ntasks = (uint32_t)nnodes * per_node + ((layout >> 7) ? 2 : 0);
	rep.step = &st;
	m.reply = &rep;
	m.listen_fd = listen_unix();
	if (mrun_io_start(&m) < 0)
		abort();
	event_del(m.watch_ev); /* it would ask mctld */
	for (int i = 0; i < NCONNS; i++)
		fds[i] = -2; /* not opened yet */

	while (in.left) {
		uint8_t how = fuzz_u8(&in);
		int ci = how & 3;
		size_t got;
		const uint8_t *p = fuzz_bytes(&in, fuzz_u16(&in), &got);

		if (fds[ci] == -2)
			fds[ci] = dial();
		if (fds[ci] >= 0) {
			send_all(fds[ci], p, got);
			if (how & 0x80) {
				close(fds[ci]);
				fds[ci] = -1;
			}
		}
		turns(4);
	}
	for (int i = 0; i < NCONNS; i++)
		if (fds[i] >= 0)
			shutdown(fds[i], SHUT_WR);
	for (int i = 0; i < 200 && m.peers; i++)
		turns(1);
	(void)mrun_status_exit(&m.status);
	mrun_io_stop(&m);
	for (int i = 0; i < NCONNS; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	/* events mrun_io_stop leaves (stdin's timer is freed there) */
	jobopt_free(&m.opt);
	return 0;
}
