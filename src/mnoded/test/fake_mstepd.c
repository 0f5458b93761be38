/*
 * fake_mstepd.c - stands in for mstepd in test_steps: started by mnoded's
 * own code (spool_start), it checks what it was given and ends the way the
 * test asks, so the test sees what mctld would.
 *
 *   fake_mstepd -s DIR -j JOB [-S STEP] -N NODE [-L LEVEL] [-v]
 *
 * Without -S (a batch job): writes a COMPLETED JobEnd and exits; when the
 * script says "fake-wait", first waits for a SIGNAL_JOB as "wait" below
 * does (the job then ends CANCELLED).
 * With -S: reads DIR/launch (a LaunchStep) and does what argv[0] of the
 * step says:
 *   true   write a COMPLETED StepEnd whose reason tells what it was given
 *          ("ok index=I topo=FILE") or what was wrong ("bad: ..."), exit
 *   die    exit without an end file
 *   wait   like mstepd, listen on DIR/stepd.sock once fd 3 hits EOF
 *          (mnoded died) and keep going; at the first SIGNAL_JOB on any
 *          connection write a CANCELLED StepEnd whose reason describes
 *          it, exit.  Gives up after 30 s.
 *   wait-slow  the same, but listens only 2 s after fd 3's EOF
 *   linger write the end, close fd 3, and exit only 300 ms later (mnoded
 *          may have the ack of the end before it reaps us)
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "conn.h"
#include "frame.h"
#include "meridian.pb-c.h"
#include "spool.h"
#include "util.h"

#define MAX_FDS 8

static const char *dir, *node;
static uint32_t job_id, step_id;

/* The end file, by the real writer (spool.c), as mstepd writes it. */
static void write_end(const ProtobufCMessage *m)
{
	if (spool_write_end(dir, m, NULL) < 0)
		exit(3);
}

static void step_end(Meridian__JobState state, const char *reason)
{
	Meridian__StepEnd e = MERIDIAN__STEP_END__INIT;

	e.job_id = job_id;
	e.step_id = step_id;
	e.node = (char *)node;
	e.state = state;
	e.failed_rank = -1;
	e.reason = (char *)reason;
	e.end_time = mer_now();
	write_end(&e.base);
}

/* One frame from fd; the SignalJob it holds, or NULL at EOF or anything
 * else (the connection is then dropped). */
static Meridian__SignalJob *read_signal(int fd)
{
	uint8_t hdr[MER_FRAME_HDR_LEN], *rest;
	Meridian__SignalJob *sj = NULL;
	struct mer_error err;
	struct frame_hdr h;

	if (read_all(fd, hdr, sizeof(hdr)) < 0 ||
	    frame_hdr_decode(hdr, &h, &err) < 0)
		return NULL;
	rest = xmalloc(h.cred_len + h.body_len + 1);
	if (read_all(fd, rest, h.cred_len + h.body_len) == 0 &&
	    h.type == MERIDIAN__MSG_TYPE__MSG_SIGNAL_JOB)
		sj = (Meridian__SignalJob *)frame_unpack_body(
			&h, rest + h.cred_len, h.body_len, &err);
	free(rest);
	return sj;
}

/* Listen on DIR/stepd.sock like mstepd and return the first SignalJob
 * that comes on fd 3 or there; NULL after 30 s or on an error. */
static Meridian__SignalJob *wait_for_signal(unsigned listen_delay_s)
{
	struct pollfd p[MAX_FDS];
	struct mer_error err;
	char *sock = spool_path(dir, SPOOL_SOCK_FILE);
	time_t give_up = time(NULL) + 30;
	int n = 0;

	p[n++] = (struct pollfd){.fd = 3, .events = POLLIN};
	/* like mstepd, listen only once the mnoded that started us is
	 * gone (fd 3's EOF, below) */
	p[n++] = (struct pollfd){.fd = -1, .events = POLLIN};
	while (time(NULL) < give_up) {
		if (poll(p, (nfds_t)n, 1000) < 0 && errno != EINTR)
			return NULL;
		if ((p[1].revents & POLLIN) && n < MAX_FDS) {
			int fd = accept(p[1].fd, NULL, NULL);
			if (fd >= 0)
				p[n++] = (struct pollfd){.fd = fd,
							 .events = POLLIN};
		}
		for (int i = 0; i < n; i++) {
			Meridian__SignalJob *sj;

			if (i == 1 || p[i].fd < 0 ||
			    !(p[i].revents & (POLLIN | POLLHUP)))
				continue;
			if (!(sj = read_signal(p[i].fd))) {
				/* EOF: mnoded went away; mstepd keeps on */
				close(p[i].fd);
				p[i].fd = -1;
				if (i == 0)
					sleep(listen_delay_s);
				if (i == 0 && (p[1].fd = unix_listen(sock, 0600,
								     &err)) < 0)
					break;
				continue;
			}
			free(sock);
			return sj;
		}
	}
	free(sock);
	return NULL;
}

static int wait_step(unsigned listen_delay_s)
{
	Meridian__SignalJob *sj = wait_for_signal(listen_delay_s);
	char *why;

	if (!sj)
		return 4;
	why = xasprintf("signal=%d cancel=%d step=%u.%u%s reason=%s",
			sj->signal, sj->cancel, sj->job_id, sj->step_id,
			sj->has_step ? "" : " (no has_step)", sj->reason);
	step_end(MERIDIAN__JOB_STATE__JOB_CANCELLED, why);
	return 0;
}

static int run_job(void)
{
	Meridian__JobEnd e = MERIDIAN__JOB_END__INIT;
	/* NULL for a launch file that is not this job's LaunchJob (the
	 * tests' may be empty: the job then just completes) */
	Meridian__LaunchJob *lj = spool_read_launch_job(dir, job_id, NULL);

	e.job_id = job_id;
	e.state = MERIDIAN__JOB_STATE__JOB_COMPLETED;
	if (lj && lj->spec &&
	    memmem(lj->spec->script.data, lj->spec->script.len, "fake-wait",
		   9)) {
		if (!wait_for_signal(0))
			return 4;
		e.state = MERIDIAN__JOB_STATE__JOB_CANCELLED;
	}
	write_end(&e.base);
	return 0;
}

static int run_step(void)
{
	Meridian__LaunchStep *ls = spool_read_launch_step(dir, NULL);
	const char *mode;
	char *why;

	if (!ls || !ls->job || !ls->step || !ls->step->desc ||
	    !ls->step->desc->n_argv || ls->node_index >= ls->step->n_nodes)
		return 2;
	mode = ls->step->desc->argv[0];
	if (strcmp(mode, "die") == 0)
		return 0;
	if (strcmp(mode, "wait") == 0)
		return wait_step(0);
	if (strcmp(mode, "wait-slow") == 0)
		return wait_step(2);
	if (strcmp(mode, "linger") == 0) {
		step_end(MERIDIAN__JOB_STATE__JOB_COMPLETED, "lingered");
		close(3);
		usleep(300 * 1000);
		return 0;
	}
	if (ls->job->job_id != job_id || ls->step->step_id != step_id)
		why = xasprintf("bad: -j %u -S %u for step %u.%u", job_id,
				step_id, ls->job->job_id, ls->step->step_id);
	else if (strcmp(ls->step->nodes[ls->node_index]->node, node) != 0)
		why = xasprintf("bad: -N %s for node %s", node,
				ls->step->nodes[ls->node_index]->node);
	else
		why = xasprintf("ok index=%u topo=%s", ls->node_index,
				ls->topology_file);
	step_end(MERIDIAN__JOB_STATE__JOB_COMPLETED, why);
	return 0;
}

/* Hold DIR/launch flock()ed while we live, as mstepd does: how a
 * restarted mnoded knows we are there before we listen. */
static void hold_launch(void)
{
	char *path = spool_path(dir, SPOOL_LAUNCH_FILE);
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	free(path);
	if (fd >= 0)
		flock(fd, LOCK_SH);
}

int main(int argc, char **argv)
{
	bool is_step = false;
	int opt;

	while ((opt = getopt(argc, argv, "s:j:S:N:L:v")) != -1) {
		switch (opt) {
		case 's':
			dir = optarg;
			break;
		case 'j':
			job_id = (uint32_t)strtoul(optarg, NULL, 10);
			break;
		case 'S':
			is_step = true;
			step_id = (uint32_t)strtoul(optarg, NULL, 10);
			break;
		case 'N':
			node = optarg;
			break;
		case 'L':
		case 'v':
			break;
		default:
			return 2;
		}
	}
	if (!dir || !node || !job_id)
		return 2;
	hold_launch();
	return is_step ? run_step() : run_job();
}
