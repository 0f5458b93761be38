/*
 * test_step_run.c - real mstepds running a job step's share of ranks.
 *
 * The test plays mrun: a TCP listener on 127.0.0.1 that checks each
 * STEP_HELLO (the io_key in its frame credential and in its body, ids),
 * sends STEP_GO, STEP_INPUT and STEP_SIGNAL and collects STEP_OUTPUT,
 * TASK_EXIT and STEP_NODE_END.  It also plays
 * mnoded: it writes STEPDIR/launch, starts mstepd -S with fd 3 connected
 * to it, and reads STEPDIR/end once mstepd exited.  Two "nodes" are two
 * mstepds with different step directories, both on 127.0.0.1.
 *
 * Ranks run as the unprivileged user the integration suite creates
 * (`mertest`, see testsuite/integration/lib.sh); mstepd must be root to
 * switch to it.  Without root or without that user, every test skips
 * (cunit_skip: the program reports SKIP).  The MPI tests run
 * src/mstepd/test/mpi_hello (built with mpicc when configure found it)
 * and skip when there is none.
 */
#include "config.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bind.h"
#include "conn.h"
#include "cunit_main.h"
#include "frame.h"
#include "mstepd.h"
#include "pmi.h"
#include "test_util.h"

#define MAX_NODES 2
#define MAX_RANKS 64

/* ---- the fake mrun ---------------------------------------------------- */

/* What mrun saw of one rank. */
struct rank_seen {
	struct strbuf out, err;
	bool exited;
	int exit_code, term_signal;
	bool aborted;
	char reason[300];
	bool output_after_exit; /* ordering broken */
};

/* One node: its mstepd, as mnoded and as mrun see it. */
struct node_run {
	char dir[256]; /* STEPDIR */
	pid_t pid;     /* mstepd */
	int mnoded_fd; /* our end of its fd 3 */
	int fd;	       /* its I/O connection to us; -1 */
	bool hello, go_sent;
	uint32_t kvs_port, master_port;
	Meridian__StepEnd *end;	     /* STEP_NODE_END */
	bool closed;		     /* its connection reached EOF */
	bool frame_after_end;	     /* ordering broken */
	Meridian__StepEnd *end_file; /* STEPDIR/end */
	int status;		     /* mstepd's exit status */
	bool exited;
};

struct mrun {
	char root[64], work[64];
	uid_t uid;
	gid_t gid;
	uint32_t job_id, step_id;
	int lfd;
	uint16_t port;
	uint8_t key[32];
	int nnodes, nranks;
	struct node_run nodes[MAX_NODES];
	struct rank_seen ranks[MAX_RANKS];
	int pending[8];	    /* accepted, no hello yet; -1 */
	bool auto_go;	    /* go once node 0 said hello */
	bool kill_on_abort; /* an aborted rank kills the other nodes */
	bool open_umask;    /* start mstepds with umask 0, not mnoded's */
	int bad_hellos;
};

/* What a test changes in the launch. */
struct step_opts {
	const char *argv[10];
	uint32_t ranks[MAX_NODES]; /* per node; nnodes = how many set */
	const uint32_t *gpus;	   /* node 0's GPUs for the step */
	size_t ngpus;
	uint32_t gpus_per_task;
	uint32_t cpus_per_task;
	const char *cpu_bind; /* default "none" */
	const char *mpi;      /* default "none" */
	uint32_t finalize_timeout;
	const char *std_out, *std_err;
	uint32_t kill_wait;
	uint32_t launch_step_id; /* 0: the real one */
	uint16_t io_port;	 /* 0: ours */
	const char *env[4];	 /* StepDesc.env, NULL terminated */
	bool pty;
};

/* Whether the running test cannot run here (then it said why). */
static bool skip(void)
{
	return !cunit_need_root_and_user("mstepd runs ranks as another user "
					 "only as root",
					 NULL);
}

static const char *mstepd_path(void)
{
	static char *path;

	if (!path)
		path = test_build_path("src/mstepd/mstepd");
	return path;
}

/* $MERIDIAN_MPI_HELLO, else the build tree's (absent without mpicc). */
static const char *mpi_hello_path(void)
{
	const char *p = getenv("MERIDIAN_MPI_HELLO");
	static char *built;

	if (p && *p)
		return p;
	if (!built)
		built = test_build_path("src/mstepd/test/mpi_hello");
	return built;
}

static void mrun_init(struct mrun *m, uint32_t job_id, uint32_t step_id)
{
	struct passwd *pw = getpwnam(CUNIT_TEST_USER);
	struct mer_error err;

	memset(m, 0, sizeof(*m));
	m->job_id = job_id;
	m->step_id = step_id;
	m->uid = pw->pw_uid;
	m->gid = pw->pw_gid;
	m->auto_go = true;
	m->kill_on_abort = true;
	for (int i = 0; i < 8; i++)
		m->pending[i] = -1;
	for (int i = 0; i < MAX_NODES; i++) {
		m->nodes[i].fd = -1;
		m->nodes[i].mnoded_fd = -1;
	}
	for (size_t i = 0; i < sizeof(m->key); i++)
		m->key[i] = (uint8_t)(rand() & 0xff);
	snprintf(m->root, sizeof(m->root), "/tmp/step-test.XXXXXX");
	CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(m->root));
	snprintf(m->work, sizeof(m->work), "/tmp/step-work.XXXXXX");
	CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(m->work));
	chmod(m->work, 0755);
	CU_ASSERT_EQUAL(chown(m->work, m->uid, m->gid), 0);
	m->lfd = tcp_listen("127.0.0.1", 0, &m->port, &err);
	CU_ASSERT_FATAL(m->lfd >= 0);
}

static void mrun_free(struct mrun *m)
{
	for (int i = 0; i < MAX_NODES; i++) {
		struct node_run *n = &m->nodes[i];
		if (n->pid > 0 && !n->exited) {
			kill(n->pid, SIGKILL);
			waitpid(n->pid, NULL, 0);
		}
		if (n->fd >= 0)
			close(n->fd);
		if (n->mnoded_fd >= 0)
			close(n->mnoded_fd);
		if (n->end)
			meridian__step_end__free_unpacked(n->end, NULL);
		if (n->end_file)
			meridian__step_end__free_unpacked(n->end_file, NULL);
	}
	for (int i = 0; i < MAX_RANKS; i++) {
		strbuf_free(&m->ranks[i].out);
		strbuf_free(&m->ranks[i].err);
	}
	for (int i = 0; i < 8; i++)
		if (m->pending[i] >= 0)
			close(m->pending[i]);
	close(m->lfd);
	remove_tree(m->root);
	remove_tree(m->work);
}

/* ---- frames -------------------------------------------------------------- */

/* A frame with cred (cred_len bytes, none when 0) and msg. */
static int send_frame_cred(int fd, uint16_t type, const void *cred,
			   size_t cred_len, const ProtobufCMessage *msg)
{
	size_t len;
	uint8_t *buf = frame_build(type, 0, 0, cred, cred_len, msg, &len);
	int rc = write_all(fd, buf, len);

	free(buf);
	return rc;
}

static int send_frame(int fd, uint16_t type, const ProtobufCMessage *msg)
{
	return send_frame_cred(fd, type, NULL, 0, msg);
}

/* One whole frame; the body is malloc'd.  -1 at EOF or on garbage. */
static int recv_frame(int fd, struct frame_hdr *h, uint8_t **body)
{
	uint8_t hb[MER_FRAME_HDR_LEN];
	struct mer_error err;
	size_t n;

	if (read_all(fd, hb, sizeof(hb)) < 0 ||
	    frame_hdr_decode(hb, h, &err) < 0)
		return -1;
	n = (size_t)h->cred_len + h->body_len;
	*body = malloc(n ? n : 1);
	if (n && read_all(fd, *body, n) < 0) {
		free(*body);
		return -1;
	}
	return 0;
}

/* STEP_GO naming kvs_port as node 0's KVS. */
static void send_go_port(struct mrun *m, struct node_run *n, uint32_t kvs_port)
{
	Meridian__StepGo go = MERIDIAN__STEP_GO__INIT;

	go.kvs_port = kvs_port;
	go.master_port = m->nodes[0].master_port;
	CU_ASSERT_EQUAL(
		send_frame(n->fd, MERIDIAN__MSG_TYPE__MSG_STEP_GO, &go.base),
		0);
	n->go_sent = true;
}

static void send_go(struct mrun *m, struct node_run *n)
{
	send_go_port(m, n, m->nodes[0].kvs_port);
}

static void send_input(struct mrun *m, const char *data, bool eof)
{
	Meridian__StepInput in = MERIDIAN__STEP_INPUT__INIT;

	in.data.data = (uint8_t *)data;
	in.data.len = strlen(data);
	in.eof = eof;
	CU_ASSERT_EQUAL(send_frame(m->nodes[0].fd,
				   MERIDIAN__MSG_TYPE__MSG_STEP_INPUT,
				   &in.base),
			0);
}

static void send_step_signal(struct mrun *m, int node, int sig, bool kill,
			     const char *reason)
{
	Meridian__StepSignal ss = MERIDIAN__STEP_SIGNAL__INIT;

	ss.signal = sig;
	ss.kill = kill;
	ss.reason = (char *)reason;
	CU_ASSERT_EQUAL(send_frame(m->nodes[node].fd,
				   MERIDIAN__MSG_TYPE__MSG_STEP_SIGNAL,
				   &ss.base),
			0);
}

/* A pending connection's first frame must be a good STEP_HELLO. */
static void on_hello(struct mrun *m, int slot)
{
	int fd = m->pending[slot];
	Meridian__StepHello *hello = NULL;
	struct frame_hdr h;
	uint8_t *body;
	struct node_run *n;

	m->pending[slot] = -1;
	if (recv_frame(fd, &h, &body) < 0) {
		close(fd);
		return;
	}
	/* the key in the credential, as mrun checks it before the body;
	 * and in the body, for an older mrun */
	if (h.type == MERIDIAN__MSG_TYPE__MSG_STEP_HELLO && !h.flags &&
	    h.cred_len == sizeof(m->key) &&
	    !memcmp(body, m->key, sizeof(m->key)))
		hello = meridian__step_hello__unpack(NULL, h.body_len,
						     body + h.cred_len);
	free(body);
	if (!hello || hello->job_id != m->job_id ||
	    hello->step_id != m->step_id || hello->node_index >= MAX_NODES ||
	    hello->io_key.len != sizeof(m->key) ||
	    memcmp(hello->io_key.data, m->key, sizeof(m->key))) {
		m->bad_hellos++;
		close(fd);
		if (hello)
			meridian__step_hello__free_unpacked(hello, NULL);
		return;
	}
	n = &m->nodes[hello->node_index];
	n->fd = fd;
	n->hello = true;
	n->kvs_port = hello->kvs_port;
	n->master_port = hello->master_port;
	meridian__step_hello__free_unpacked(hello, NULL);
	if (!m->auto_go || !m->nodes[0].hello)
		return;
	for (int i = 0; i < m->nnodes; i++)
		if (m->nodes[i].hello && !m->nodes[i].go_sent)
			send_go(m, &m->nodes[i]);
}

static void on_output(struct mrun *m, struct node_run *n, const uint8_t *b,
		      size_t len)
{
	Meridian__StepOutput *o = meridian__step_output__unpack(NULL, len, b);
	struct rank_seen *r;

	CU_ASSERT_PTR_NOT_NULL_FATAL(o);
	CU_ASSERT_FATAL(o->rank < MAX_RANKS);
	r = &m->ranks[o->rank];
	if (r->exited)
		r->output_after_exit = true;
	CU_ASSERT(o->stream == 1 || o->stream == 2);
	strbuf_add(o->stream == 2 ? &r->err : &r->out, (char *)o->data.data,
		   o->data.len);
	meridian__step_output__free_unpacked(o, NULL);
}

static void on_task_exit(struct mrun *m, struct node_run *n, const uint8_t *b,
			 size_t len)
{
	Meridian__TaskExit *te = meridian__task_exit__unpack(NULL, len, b);
	struct rank_seen *r;

	CU_ASSERT_PTR_NOT_NULL_FATAL(te);
	CU_ASSERT_FATAL(te->rank < MAX_RANKS);
	r = &m->ranks[te->rank];
	CU_ASSERT_FALSE(r->exited); /* once */
	r->exited = true;
	r->exit_code = te->exit_code;
	r->term_signal = te->term_signal;
	r->aborted = te->aborted;
	snprintf(r->reason, sizeof(r->reason), "%s", te->reason);
	if (getenv("STEP_TEST_VERBOSE"))
		fprintf(stderr, "TASK_EXIT rank %u: %d:%d%s %s\n", te->rank,
			te->exit_code, te->term_signal,
			te->aborted ? " aborted" : "", te->reason);
	/* mrun's kill on abort: every other node goes */
	if (te->aborted && m->kill_on_abort)
		for (int i = 0; i < m->nnodes; i++)
			if (&m->nodes[i] != n && m->nodes[i].fd >= 0 &&
			    !m->nodes[i].end)
				send_step_signal(m, i, SIGKILL, true,
						 "rank aborted elsewhere");
	meridian__task_exit__free_unpacked(te, NULL);
}

/* A frame on a node's connection. */
static void on_node_frame(struct mrun *m, struct node_run *n)
{
	struct frame_hdr h;
	uint8_t *body;
	const uint8_t *b;

	if (recv_frame(n->fd, &h, &body) < 0) {
		close(n->fd);
		n->fd = -1;
		n->closed = true;
		return;
	}
	b = body + h.cred_len;
	CU_ASSERT_EQUAL(h.flags, 0);
	CU_ASSERT_EQUAL(h.cred_len, 0);
	if (n->end)
		n->frame_after_end = true;
	switch (h.type) {
	case MERIDIAN__MSG_TYPE__MSG_STEP_OUTPUT:
		on_output(m, n, b, h.body_len);
		break;
	case MERIDIAN__MSG_TYPE__MSG_TASK_EXIT:
		on_task_exit(m, n, b, h.body_len);
		break;
	case MERIDIAN__MSG_TYPE__MSG_STEP_NODE_END:
		n->end = meridian__step_end__unpack(NULL, h.body_len, b);
		CU_ASSERT_PTR_NOT_NULL(n->end);
		break;
	default:
		CU_FAIL("unexpected frame from mstepd");
	}
	free(body);
}

/* Wait up to ms for something to happen and handle it. */
static void mrun_poll(struct mrun *m, int ms)
{
	struct pollfd p[1 + 8 + MAX_NODES];
	int np = 0;

	p[np++] = (struct pollfd){.fd = m->lfd, .events = POLLIN};
	for (int i = 0; i < 8; i++)
		p[np++] =
			(struct pollfd){.fd = m->pending[i], .events = POLLIN};
	for (int i = 0; i < MAX_NODES; i++)
		p[np++] =
			(struct pollfd){.fd = m->nodes[i].fd, .events = POLLIN};
	if (poll(p, (nfds_t)np, ms) <= 0)
		return;
	if (p[0].revents) {
		int fd = accept4(m->lfd, NULL, NULL, SOCK_CLOEXEC);
		for (int i = 0; fd >= 0 && i < 8; i++) {
			if (m->pending[i] < 0) {
				m->pending[i] = fd;
				fd = -1;
			}
		}
		if (fd >= 0)
			close(fd);
	}
	for (int i = 0; i < 8; i++)
		if (p[1 + i].revents && m->pending[i] >= 0)
			on_hello(m, i);
	for (int i = 0; i < MAX_NODES; i++)
		if (p[9 + i].revents && m->nodes[i].fd >= 0)
			on_node_frame(m, &m->nodes[i]);
}

typedef bool (*cond_fn)(struct mrun *m, const void *arg);

/* Handle events until cond holds (true) or secs passed (false). */
static bool mrun_wait(struct mrun *m, cond_fn cond, const void *arg, int secs)
{
	int64_t deadline = mer_mono_ms() + secs * 1000;

	while (!cond(m, arg)) {
		if (mer_mono_ms() > deadline)
			return false;
		mrun_poll(m, 50);
	}
	return true;
}

static bool all_hello(struct mrun *m, const void *arg)
{
	for (int i = 0; i < m->nnodes; i++)
		if (!m->nodes[i].hello)
			return false;
	return true;
}

static bool all_ended(struct mrun *m, const void *arg)
{
	for (int i = 0; i < m->nnodes; i++)
		if (!m->nodes[i].end && !m->nodes[i].closed)
			return false;
	return true;
}

/* Every rank printed arg (in its stdout). */
static bool all_printed(struct mrun *m, const void *arg)
{
	for (int r = 0; r < m->nranks; r++)
		if (!m->ranks[r].out.s || !strstr(m->ranks[r].out.s, arg))
			return false;
	return true;
}

/* ---- the fake mnoded ----------------------------------------------------- */

static void write_launch(struct mrun *m, int k, const struct step_opts *o)
{
	Meridian__LaunchStep ls = MERIDIAN__LAUNCH_STEP__INIT;
	Meridian__JobRecord job = MERIDIAN__JOB_RECORD__INIT;
	Meridian__JobDesc jd = MERIDIAN__JOB_DESC__INIT;
	Meridian__StepRecord rec = MERIDIAN__STEP_RECORD__INIT;
	Meridian__StepDesc d = MERIDIAN__STEP_DESC__INIT;
	Meridian__StepNode nodes[MAX_NODES], *np[MAX_NODES];
	Meridian__JobNodeAlloc alloc[MAX_NODES], *ap[MAX_NODES];
	char names[MAX_NODES][16], path[512];
	uint32_t first = 0;
	uint8_t *buf;
	size_t n, argc = 0, envc = 0;

	while (o->argv[argc])
		argc++;
	while (o->env[envc])
		envc++;
	jd.name = "steptest";
	jd.work_dir = m->work;
	job.job_id = m->job_id;
	job.desc = &jd;
	job.user_id = m->uid;
	job.group_id = m->gid;
	job.user_name = CUNIT_TEST_USER;
	job.state = MERIDIAN__JOB_STATE__JOB_RUNNING;
	job.nodes = m->nnodes > 1 ? "n[0-1]" : "n0";
	job.batch_host = "n0";
	job.num_nodes = (uint32_t)m->nnodes;
	for (int i = 0; i < m->nnodes; i++) {
		snprintf(names[i], sizeof(names[i]), "n%d", i);
		meridian__step_node__init(&nodes[i]);
		nodes[i].node = names[i];
		nodes[i].addr = "127.0.0.1";
		nodes[i].first_rank = first;
		nodes[i].ntasks = o->ranks[i];
		nodes[i].cpus_per_task = o->cpus_per_task;
		if (i == 0) {
			nodes[i].gpus = (uint32_t *)o->gpus;
			nodes[i].n_gpus = o->ngpus;
		}
		first += o->ranks[i];
		np[i] = &nodes[i];
		meridian__job_node_alloc__init(&alloc[i]);
		alloc[i].node = names[i];
		alloc[i].cpus = 2;
		ap[i] = &alloc[i];
	}
	job.alloc = ap;
	job.n_alloc = (size_t)m->nnodes;
	d.ntasks = first;
	d.cpus_per_task = o->cpus_per_task;
	d.gpus_per_task = o->gpus_per_task;
	d.cpu_bind = (char *)(o->cpu_bind ? o->cpu_bind : "none");
	d.mpi = (char *)(o->mpi ? o->mpi : "none");
	d.std_out = (char *)(o->std_out ? o->std_out : "");
	d.std_err = (char *)(o->std_err ? o->std_err : "");
	d.argv = (char **)o->argv;
	d.n_argv = argc;
	d.finalize_timeout = o->finalize_timeout;
	d.env = (char **)o->env;
	d.n_env = envc;
	d.pty = o->pty;
	rec.step_id = o->launch_step_id ? o->launch_step_id : m->step_id;
	rec.desc = &d;
	rec.state = MERIDIAN__JOB_STATE__JOB_RUNNING;
	rec.nodes = np;
	rec.n_nodes = (size_t)m->nnodes;
	rec.nodelist = (char *)job.nodes;
	rec.ntasks = first;
	rec.failed_rank = -1;
	ls.job = &job;
	ls.step = &rec;
	ls.node_index = (uint32_t)k;
	ls.io_host = "127.0.0.1";
	ls.io_port = o->io_port ? o->io_port : m->port;
	ls.io_key.data = m->key;
	ls.io_key.len = sizeof(m->key);
	ls.kill_wait = o->kill_wait ? o->kill_wait : 1;
	ls.cluster = "testcluster";
	n = meridian__launch_step__get_packed_size(&ls);
	buf = malloc(n);
	meridian__launch_step__pack(&ls, buf);
	snprintf(path, sizeof(path), "%s/%s", m->nodes[k].dir,
		 SPOOL_LAUNCH_FILE);
	CU_ASSERT_EQUAL(write_file_atomic(path, buf, n, 0600), 0);
	free(buf);
}

/* Node k's stand-in for mnoded's log, which mstepd writes to (its
 * stderr): beside the node's directory, not in it. */
static void node_log(const struct mrun *m, int k, char *path, size_t len)
{
	snprintf(path, len, "%s.log", m->nodes[k].dir);
}

/* Start node k's mstepd as mnoded would (we wait for it ourselves). */
static void start_node(struct mrun *m, int k)
{
	struct node_run *n = &m->nodes[k];
	char job[16], step[16], node[16], log[600];
	int sp[2];
	const char *mstepd = mstepd_path(); /* malloc'd once, before the fork */

	snprintf(job, sizeof(job), "%u", m->job_id);
	snprintf(step, sizeof(step), "%u", m->step_id);
	snprintf(node, sizeof(node), "n%d", k);
	CU_ASSERT_EQUAL_FATAL(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);
	node_log(m, k, log, sizeof(log));
	n->pid = fork();
	if (n->pid == 0) {
		int devnull = open("/dev/null", O_RDWR);
		/* mnoded's log, as mnoded gives it: stderr */
		int logfd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
		dup2(logfd, 2);
		dup2(sp[1], 3);
		dup2(devnull, 0);
		dup2(devnull, 1);
		for (int fd = 4; fd < 1024; fd++)
			close(fd);
		if (m->open_umask)
			umask(0);
		execl(mstepd, "mstepd", "-s", n->dir, "-j", job, "-S", step,
		      "-N", node, "-v", (char *)NULL);
		_exit(127);
	}
	close(sp[1]);
	n->mnoded_fd = sp[0];
}

/* Lay out nodes, write their launches, start their mstepds. */
static void launch(struct mrun *m, const struct step_opts *o)
{
	char spool[128];

	m->nnodes = 0;
	m->nranks = 0;
	for (int i = 0; i < MAX_NODES && o->ranks[i]; i++) {
		m->nnodes++;
		m->nranks += (int)o->ranks[i];
	}
	snprintf(spool, sizeof(spool), "%s/spool", m->root);
	mkdir(spool, 0755);
	for (int k = 0; k < m->nnodes; k++) {
		snprintf(m->nodes[k].dir, sizeof(m->nodes[k].dir),
			 "%s/step.%u.%u.n%d", spool, m->job_id, m->step_id, k);
		CU_ASSERT_EQUAL_FATAL(mkdir(m->nodes[k].dir, 0700), 0);
		write_launch(m, k, o);
	}
	for (int k = 0; k < m->nnodes; k++)
		start_node(m, k);
}

/* mrun exits: close every connection, wait for the mstepds, read their
 * end files. */
static void finish(struct mrun *m, int secs)
{
	for (int k = 0; k < m->nnodes; k++) {
		struct node_run *n = &m->nodes[k];
		char path[512], *data;
		size_t len;

		if (n->fd >= 0) {
			close(n->fd);
			n->fd = -1;
		}
		for (int i = 0; i < secs * 20 && !n->exited; i++) {
			if (waitpid(n->pid, &n->status, WNOHANG) == n->pid)
				n->exited = true;
			else
				usleep(50 * 1000);
		}
		CU_ASSERT_TRUE(n->exited);
		snprintf(path, sizeof(path), "%s/%s", n->dir, SPOOL_END_FILE);
		if (read_file(path, &data, &len) < 0) {
			CU_FAIL("no end file");
			continue;
		}
		n->end_file =
			meridian__step_end__unpack(NULL, len, (uint8_t *)data);
		free(data);
		node_log(m, k, path, sizeof(path));
		if (getenv("STEP_TEST_VERBOSE") &&
		    read_file(path, &data, &len) == 0) {
			fprintf(stderr, "--- node %d's mstepd.log\n%s", k,
				data);
			free(data);
		}
		CU_ASSERT_PTR_NOT_NULL(n->end_file);
		if (n->end_file && getenv("STEP_TEST_VERBOSE"))
			fprintf(stderr,
				"node %d end: state %d exit %d:%d "
				"rank %d reason '%s'\n",
				k, n->end_file->state, n->end_file->exit_code,
				n->end_file->term_signal,
				n->end_file->failed_rank, n->end_file->reason);
	}
}

/* Run the step to its end: every node's STEP_NODE_END, then finish. */
static void run_to_end(struct mrun *m, int secs)
{
	CU_ASSERT_TRUE(mrun_wait(m, all_ended, NULL, secs));
	finish(m, 10);
	for (int k = 0; k < m->nnodes; k++) {
		const struct node_run *n = &m->nodes[k];
		CU_ASSERT_FALSE(n->frame_after_end);
		/* what mrun was told is what mnoded reads */
		if (n->end && n->end_file) {
			CU_ASSERT_EQUAL(n->end->state, n->end_file->state);
			CU_ASSERT_EQUAL(n->end->exit_code,
					n->end_file->exit_code);
			CU_ASSERT_EQUAL(n->end->failed_rank,
					n->end_file->failed_rank);
			CU_ASSERT_STRING_EQUAL(n->end->reason,
					       n->end_file->reason);
		}
	}
	for (int r = 0; r < m->nranks; r++)
		CU_ASSERT_FALSE(m->ranks[r].output_after_exit);
}

static const char *out_of(const struct mrun *m, int rank)
{
	return m->ranks[rank].out.s ? m->ranks[rank].out.s : "";
}

static bool alive(pid_t pid)
{
	return kill(pid, 0) == 0 || errno != ESRCH;
}

/* ---- the tests ----------------------------------------------------------- */

/* The environment each rank sees, as the job's user, and the fds it has:
 * stdio and its PMI socket, nothing of mstepd's. */
static const char env_script[] =
	"echo \"rank=$RANK local=$LOCAL_RANK world=$WORLD_SIZE "
	"lws=$LOCAL_WORLD_SIZE procid=$SLURM_PROCID mprocid=$MERIDIAN_PROCID "
	"localid=$SLURM_LOCALID nodeid=$SLURM_NODEID step=$SLURM_STEP_ID "
	"ntasks=$SLURM_NTASKS stasks=$SLURM_STEP_NUM_TASKS "
	"snodes=$SLURM_STEP_NUM_NODES nodelist=$SLURM_STEP_NODELIST "
	"job=$SLURM_JOB_ID\"\n"
	"echo \"master=$MASTER_ADDR:$MASTER_PORT "
	"cvd=${CUDA_VISIBLE_DEVICES-unset} order=${CUDA_DEVICE_ORDER-unset} "
	"gon=$SLURM_GPUS_ON_NODE ifname=$NCCL_SOCKET_IFNAME "
	"pmi=$PMI_RANK/$PMI_SIZE uid=$(id -u) pwd=$(pwd)\"\n"
	"echo fds:; ls /proc/$$/fd; echo endfds\n"
	"echo \"pmifd=$PMI_FD\"\n"
	"echo \"err$RANK\" >&2\n";

/* The descriptors `ls /proc/$$/fd` listed between "fds:" and "endfds"
 * (those under 64), as a bit set. */
static uint64_t open_fds(const char *out)
{
	const char *p = strstr(out, "fds:\n"), *end = strstr(out, "endfds\n");
	uint64_t set = 0;

	if (!p || !end)
		return 0;
	for (p += 5; p < end; p = strchr(p, '\n') + 1) {
		int fd = atoi(p);
		if (fd >= 0 && fd < 64)
			set |= 1ull << fd;
		else
			set |= 1ull << 63; /* shows up as a mismatch */
	}
	return set;
}

static void test_env_as_user(void)
{
	struct mrun m;
	struct step_opts o = {0};
	uint32_t gpus[] = {1, 3, 5};
	char want[512];

	if (skip())
		return;
	mrun_init(&m, 201, 4);
	o.argv[0] = "/bin/sh";
	o.argv[1] = "-c";
	o.argv[2] = env_script;
	o.ranks[0] = 3;
	o.gpus = gpus;
	o.ngpus = 3;
	o.gpus_per_task = 1;
	o.mpi = "pmi1";
	launch(&m, &o);
	run_to_end(&m, 20);
	CU_ASSERT_EQUAL(m.bad_hellos, 0);
	CU_ASSERT_TRUE(m.nodes[0].master_port > 0);
	for (int r = 0; r < 3; r++) {
		const char *out = out_of(&m, r), *fds;
		int pmifd = -1;

		if (getenv("STEP_TEST_VERBOSE"))
			fprintf(stderr, "rank %d:\n%s", r, out);
		snprintf(want, sizeof(want),
			 "rank=%d local=%d world=3 lws=3 procid=%d mprocid=%d "
			 "localid=%d nodeid=0 step=4 ntasks=3 stasks=3 "
			 "snodes=1 nodelist=n0 job=201\n",
			 r, r, r, r, r);
		CU_ASSERT_PTR_NOT_NULL(strstr(out, want));
		snprintf(want, sizeof(want),
			 "master=127.0.0.1:%u cvd=%u order=PCI_BUS_ID gon=3 "
			 "ifname=lo pmi=%d/3 uid=%u pwd=%s\n",
			 m.nodes[0].master_port, gpus[r], r, (unsigned)m.uid,
			 m.work);
		CU_ASSERT_PTR_NOT_NULL(strstr(out, want));
		/* stdio and PMI_FD, nothing else */
		fds = strstr(out, "pmifd=");
		CU_ASSERT_PTR_NOT_NULL_FATAL(fds);
		pmifd = atoi(fds + 6);
		CU_ASSERT(pmifd > 2);
		CU_ASSERT_EQUAL(open_fds(out),
				(1u << 0 | 1u << 1 | 1u << 2) |
					(pmifd < 64 ? 1ull << pmifd : 0));
		snprintf(want, sizeof(want), "err%d\n", r);
		CU_ASSERT_STRING_EQUAL(m.ranks[r].err.s ? m.ranks[r].err.s : "",
				       want);
		CU_ASSERT_TRUE(m.ranks[r].exited);
		CU_ASSERT_EQUAL(m.ranks[r].exit_code, 0);
		CU_ASSERT_EQUAL(m.ranks[r].term_signal, 0);
		CU_ASSERT_FALSE(m.ranks[r].aborted);
	}
	CU_ASSERT_PTR_NOT_NULL_FATAL(m.nodes[0].end_file);
	CU_ASSERT_EQUAL(m.nodes[0].end_file->state,
			MERIDIAN__JOB_STATE__JOB_COMPLETED);
	CU_ASSERT_EQUAL(m.nodes[0].end_file->exit_code, 0);
	CU_ASSERT_EQUAL(m.nodes[0].end_file->failed_rank, -1);
	CU_ASSERT_EQUAL(m.nodes[0].end_file->job_id, 201);
	CU_ASSERT_EQUAL(m.nodes[0].end_file->step_id, 4);
	CU_ASSERT_STRING_EQUAL(m.nodes[0].end_file->node, "n0");
	CU_ASSERT(WIFEXITED(m.nodes[0].status) &&
		  WEXITSTATUS(m.nodes[0].status) == 0);
	mrun_free(&m);
}

/* -o/-e patterns: one file per rank, created by the user. */
static void test_output_files(void)
{
	struct mrun m;
	struct step_opts o = {0};
	char path[512], *data;
	struct stat st;

	if (skip())
		return;
	mrun_init(&m, 202, 1);
	o.argv[0] = "/bin/sh";
	o.argv[1] = "-c";
	o.argv[2] = "echo out $RANK; echo err $RANK >&2";
	o.ranks[0] = 2;
	o.std_out = "out-%j.%s-%t.txt";
	launch(&m, &o);
	run_to_end(&m, 20);
	for (int r = 0; r < 2; r++) {
		char want[64];
		snprintf(path, sizeof(path), "%s/out-202.1-%d.txt", m.work, r);
		CU_ASSERT_EQUAL_FATAL(read_file(path, &data, NULL), 0);
		snprintf(want, sizeof(want), "out %d\nerr %d\n", r, r);
		CU_ASSERT_STRING_EQUAL(data, want);
		free(data);
		CU_ASSERT_EQUAL(stat(path, &st), 0);
		CU_ASSERT_EQUAL(st.st_uid, m.uid);
		/* nothing went to mrun */
		CU_ASSERT_STRING_EQUAL(out_of(&m, r), "");
	}
	CU_ASSERT_EQUAL(m.nodes[0].end_file->state,
			MERIDIAN__JOB_STATE__JOB_COMPLETED);
	mrun_free(&m);
}

/* The worst rank decides: the largest value, the lowest rank of equals;
 * a signal counts as 128 + its number. */
static void test_worst_rank(void)
{
	struct mrun m;
	struct step_opts o = {0};
	const Meridian__StepEnd *e;

	if (skip())
		return;
	mrun_init(&m, 203, 0);
	o.argv[0] = "/bin/sh";
	o.argv[1] = "-c";
	o.argv[2] = "case $RANK in 1) exit 3;; 2|3) exit 7;; esac; exit 0";
	o.ranks[0] = 4;
	launch(&m, &o);
	run_to_end(&m, 20);
	CU_ASSERT_EQUAL(m.ranks[0].exit_code, 0);
	CU_ASSERT_EQUAL(m.ranks[1].exit_code, 3);
	CU_ASSERT_EQUAL(m.ranks[2].exit_code, 7);
	CU_ASSERT_EQUAL(m.ranks[3].exit_code, 7);
	e = m.nodes[0].end_file;
	CU_ASSERT_PTR_NOT_NULL_FATAL(e);
	CU_ASSERT_EQUAL(e->state, MERIDIAN__JOB_STATE__JOB_FAILED);
	CU_ASSERT_EQUAL(e->exit_code, 7);
	CU_ASSERT_EQUAL(e->term_signal, 0);
	CU_ASSERT_EQUAL(e->failed_rank, 2);
	CU_ASSERT_STRING_EQUAL(e->reason, "rank 2 on n0 exited with code 7");
	mrun_free(&m);

	mrun_init(&m, 203, 1);
	o.argv[2] = "case $RANK in 0) exit 100;; 1) kill -SEGV $$;; esac";
	o.ranks[0] = 3;
	launch(&m, &o);
	run_to_end(&m, 20);
	CU_ASSERT_EQUAL(m.ranks[1].term_signal, SIGSEGV);
	e = m.nodes[0].end_file;
	CU_ASSERT_PTR_NOT_NULL_FATAL(e);
	CU_ASSERT_EQUAL(e->state, MERIDIAN__JOB_STATE__JOB_FAILED);
	CU_ASSERT_EQUAL(e->exit_code, 128 + SIGSEGV);
	CU_ASSERT_EQUAL(e->term_signal, SIGSEGV);
	CU_ASSERT_EQUAL(e->failed_rank, 1);
	CU_ASSERT_STRING_EQUAL(e->reason, "rank 1 on n0 killed by signal 11");
	mrun_free(&m);

	/* a command that does not exist: 127, and why */
	mrun_init(&m, 203, 2);
	o.argv[0] = "no-such-command-here";
	o.argv[1] = NULL;
	o.ranks[0] = 1;
	launch(&m, &o);
	run_to_end(&m, 20);
	e = m.nodes[0].end_file;
	CU_ASSERT_PTR_NOT_NULL_FATAL(e);
	CU_ASSERT_EQUAL(e->state, MERIDIAN__JOB_STATE__JOB_FAILED);
	CU_ASSERT_EQUAL(e->exit_code, 127);
	CU_ASSERT_PTR_NOT_NULL(strstr(e->reason, "rank 0 on n0 could not "
						 "start: cannot execute "
						 "no-such-command-here"));
	CU_ASSERT_PTR_NOT_NULL(strstr(m.ranks[0].reason, "cannot execute"));
	mrun_free(&m);
}

/* STEP_INPUT reaches rank 0 only; its EOF closes rank 0's stdin. */
static void test_stdin(void)
{
	struct mrun m;
	struct step_opts o = {0};

	if (skip())
		return;
	mrun_init(&m, 204, 0);
	o.argv[0] = "/bin/sh";
	o.argv[1] = "-c";
	o.argv[2] = "cat; echo \"eof $RANK\"";
	o.ranks[0] = 2;
	launch(&m, &o);
	CU_ASSERT_TRUE_FATAL(mrun_wait(&m, all_hello, NULL, 10));
	send_input(&m, "hello\n", false);
	send_input(&m, "world\n", true);
	run_to_end(&m, 20);
	CU_ASSERT_STRING_EQUAL(out_of(&m, 0), "hello\nworld\neof 0\n");
	CU_ASSERT_STRING_EQUAL(out_of(&m, 1), "eof 1\n");
	CU_ASSERT_EQUAL(m.nodes[0].end_file->state,
			MERIDIAN__JOB_STATE__JOB_COMPLETED);
	mrun_free(&m);
}

static const char trap_script[] =
	"trap 'echo \"got USR1 $RANK\"; exit 0' USR1\n"
	"trap 'echo \"got TERM $RANK\"; exit 5' TERM\n"
	"echo \"ready pid=$$\"\n"
	"while :; do sleep 0.1; done\n";

/* mnoded's SIGNAL_JOB for step `step` over fd; returns the reply's
 * flags (MER_FRAME_REPLY: an Ack). */
static uint32_t signal_job(struct mrun *m, int fd, uint32_t step, int sig,
			   bool cancel, const char *reason)
{
	Meridian__SignalJob sj = MERIDIAN__SIGNAL_JOB__INIT;
	struct frame_hdr h;
	uint8_t *buf, *body;
	size_t len;

	sj.job_id = m->job_id;
	sj.signal = sig;
	sj.cancel = cancel;
	sj.reason = (char *)reason;
	sj.has_step = true;
	sj.step_id = step;
	buf = frame_build(MERIDIAN__MSG_TYPE__MSG_SIGNAL_JOB, 0, 9, NULL, 0,
			  &sj.base, &len);
	CU_ASSERT_EQUAL(write_all(fd, buf, len), 0);
	free(buf);
	if (recv_frame(fd, &h, &body) < 0) {
		CU_FAIL("no reply to SIGNAL_JOB");
		return 0;
	}
	CU_ASSERT_EQUAL(h.req_id, 9);
	free(body);
	return h.flags;
}

/* Connect to node k's stepd.sock, as a restarted mnoded would: the
 * mnoded that started it is gone first (its fd 3 closed), and only then
 * does mstepd listen there (for 5 s at most, we wait). */
static int stepd_sock(struct mrun *m, int k)
{
	struct mer_error err;
	char path[512];
	int fd = -1;

	snprintf(path, sizeof(path), "%s/%s", m->nodes[k].dir, SPOOL_SOCK_FILE);
	CU_ASSERT_NOT_EQUAL(access(path, F_OK), 0); /* not while it's there */
	close(m->nodes[k].mnoded_fd);
	m->nodes[k].mnoded_fd = -1;
	for (int i = 0; i < 100 && fd < 0; i++) {
		fd = unix_connect(path, &err);
		if (fd < 0)
			usleep(50 * 1000);
	}
	return fd;
}

/* STEP_SIGNAL reaches every rank; a kill and mnoded's cancel end the
 * share CANCELLED with their reason. */
static void test_signals(void)
{
	struct mrun m;
	struct step_opts o = {0};
	const Meridian__StepEnd *e;

	if (skip())
		return;
	o.argv[0] = "/bin/sh";
	o.argv[1] = "-c";
	o.argv[2] = trap_script;
	o.ranks[0] = 3;

	mrun_init(&m, 205, 0);
	launch(&m, &o);
	CU_ASSERT_TRUE_FATAL(mrun_wait(&m, all_printed, "ready", 10));
	send_step_signal(&m, 0, SIGUSR1, false, "");
	run_to_end(&m, 20);
	for (int r = 0; r < 3; r++) {
		char want[32];
		snprintf(want, sizeof(want), "got USR1 %d\n", r);
		CU_ASSERT_PTR_NOT_NULL(strstr(out_of(&m, r), want));
	}
	CU_ASSERT_EQUAL(m.nodes[0].end_file->state,
			MERIDIAN__JOB_STATE__JOB_COMPLETED);
	mrun_free(&m);

	/* mrun's kill: SIGKILL, CANCELLED with its reason */
	mrun_init(&m, 205, 1);
	launch(&m, &o);
	CU_ASSERT_TRUE_FATAL(mrun_wait(&m, all_printed, "ready", 10));
	send_step_signal(&m, 0, 0, true, "cancelled by user");
	run_to_end(&m, 20);
	e = m.nodes[0].end_file;
	CU_ASSERT_PTR_NOT_NULL_FATAL(e);
	CU_ASSERT_EQUAL(e->state, MERIDIAN__JOB_STATE__JOB_CANCELLED);
	CU_ASSERT_STRING_EQUAL(e->reason, "cancelled by user");
	CU_ASSERT_EQUAL(e->exit_code, 128 + SIGKILL);
	CU_ASSERT_EQUAL(m.ranks[2].term_signal, SIGKILL);
	CU_ASSERT_STRING_EQUAL(m.ranks[2].reason, "cancelled by user");
	mrun_free(&m);

	/* mnoded's signal over fd 3, and (after a restart) its cancel over
	 * stepd.sock: TERM (the ranks trap it), CANCELLED */
	mrun_init(&m, 205, 2);
	launch(&m, &o);
	CU_ASSERT_TRUE_FATAL(mrun_wait(&m, all_printed, "ready", 10));
	CU_ASSERT_EQUAL(
		signal_job(&m, m.nodes[0].mnoded_fd, 7, SIGUSR1, false, ""),
		MER_FRAME_REPLY | MER_FRAME_ERROR); /* not its step */
	CU_ASSERT_EQUAL(
		signal_job(&m, m.nodes[0].mnoded_fd, 2, SIGCONT, false, ""),
		MER_FRAME_REPLY);
	{
		int fd = stepd_sock(&m, 0);
		CU_ASSERT_FATAL(fd >= 0);
		CU_ASSERT_EQUAL(
			signal_job(&m, fd, 2, 0, true, "cancelled by test"),
			MER_FRAME_REPLY);
		close(fd);
	}
	run_to_end(&m, 20);
	e = m.nodes[0].end_file;
	CU_ASSERT_PTR_NOT_NULL_FATAL(e);
	CU_ASSERT_EQUAL(e->state, MERIDIAN__JOB_STATE__JOB_CANCELLED);
	CU_ASSERT_STRING_EQUAL(e->reason, "cancelled by test");
	CU_ASSERT_EQUAL(e->exit_code, 5);
	CU_ASSERT_PTR_NOT_NULL(strstr(out_of(&m, 1), "got TERM 1"));
	mrun_free(&m);
}

/* The mrun connection drops: every rank and what it forked dies, the end
 * says why. */
static void test_mrun_drop(void)
{
	struct mrun m;
	struct step_opts o = {0};
	const Meridian__StepEnd *e;
	pid_t pids[4] = {0};

	if (skip())
		return;
	mrun_init(&m, 206, 0);
	o.argv[0] = "/bin/sh";
	o.argv[1] = "-c";
	o.argv[2] = "sleep 300 & echo \"bg=$! pid=$$ ready\"; sleep 300";
	o.ranks[0] = 2;
	launch(&m, &o);
	CU_ASSERT_TRUE_FATAL(mrun_wait(&m, all_printed, "ready", 10));
	for (int r = 0; r < 2; r++) {
		const char *out = out_of(&m, r);
		pids[2 * r] = (pid_t)atol(strstr(out, "bg=") + 3);
		pids[2 * r + 1] = (pid_t)atol(strstr(out, "pid=") + 4);
		CU_ASSERT(pids[2 * r] > 0 && pids[2 * r + 1] > 0);
	}
	close(m.nodes[0].fd); /* mrun is gone */
	m.nodes[0].fd = -1;
	finish(&m, 10);
	e = m.nodes[0].end_file;
	CU_ASSERT_PTR_NOT_NULL_FATAL(e);
	CU_ASSERT_EQUAL(e->state, MERIDIAN__JOB_STATE__JOB_CANCELLED);
	CU_ASSERT_STRING_EQUAL(e->reason, "mrun went away");
	CU_ASSERT_EQUAL(e->exit_code, 128 + SIGKILL);
	for (int i = 0; i < 4; i++)
		CU_ASSERT_FALSE(alive(pids[i]));
	mrun_free(&m);
}

/* A rank that leaves children behind, one holding its stdout, one in a
 * session of its own: the share ends when the ranks do, and they die. */
static void test_leftovers(void)
{
	struct mrun m;
	struct step_opts o = {0};
	pid_t bg, escaped;
	int64_t t0 = mer_mono_ms();
	const char *out;

	if (skip())
		return;
	mrun_init(&m, 214, 0);
	o.argv[0] = "/bin/sh";
	o.argv[1] = "-c";
	o.argv[2] = "sleep 300 & echo \"bg=$!\"; "
		    "setsid sh -c 'echo \"escaped=$$\"; exec sleep 300' & "
		    "sleep 0.2";
	o.ranks[0] = 1;
	launch(&m, &o);
	run_to_end(&m, 20);
	CU_ASSERT(mer_mono_ms() - t0 < 5000);
	out = out_of(&m, 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(strstr(out, "bg="));
	CU_ASSERT_PTR_NOT_NULL_FATAL(strstr(out, "escaped="));
	bg = (pid_t)atol(strstr(out, "bg=") + 3);
	escaped = (pid_t)atol(strstr(out, "escaped=") + 8);
	CU_ASSERT_FALSE(alive(bg));
	CU_ASSERT_FALSE(alive(escaped));
	CU_ASSERT_EQUAL(m.nodes[0].end_file->state,
			MERIDIAN__JOB_STATE__JOB_COMPLETED);
	mrun_free(&m);
}

/* Hostile or broken peers: a frame from "mrun" that does not decode
 * closes the connection (the ranks go); a KVS peer without the io_key is
 * turned away while the step goes on. */
static void test_bad_frames(void)
{
	struct mrun m;
	struct step_opts o = {0};
	uint8_t garbage[] = {0xff, 0xff, 0xff, 0xff, 0x01};
	uint8_t hb[MER_FRAME_HDR_LEN];
	struct frame_hdr h = {0};

	if (skip())
		return;
	mrun_init(&m, 207, 0);
	m.auto_go = false;
	o.argv[0] = "/bin/true";
	o.ranks[0] = 1;
	launch(&m, &o);
	CU_ASSERT_TRUE_FATAL(mrun_wait(&m, all_hello, NULL, 10));
	h.magic = MER_FRAME_MAGIC;
	h.version = MER_PROTO_VERSION;
	h.type = MERIDIAN__MSG_TYPE__MSG_STEP_GO;
	h.body_len = sizeof(garbage);
	frame_hdr_encode(&h, hb);
	CU_ASSERT_EQUAL(write_all(m.nodes[0].fd, hb, sizeof(hb)), 0);
	CU_ASSERT_EQUAL(write_all(m.nodes[0].fd, garbage, sizeof(garbage)), 0);
	run_to_end(&m, 10);
	CU_ASSERT_PTR_NOT_NULL_FATAL(m.nodes[0].end_file);
	CU_ASSERT_EQUAL(m.nodes[0].end_file->state,
			MERIDIAN__JOB_STATE__JOB_CANCELLED);
	CU_ASSERT_STRING_EQUAL(m.nodes[0].end_file->reason, "mrun went away");
	mrun_free(&m);
}

/* A rank of the step speaking raw PMI-1 (python3): init, a put, the
 * barrier, a get of the other rank's key, finalize; rank 0 then hangs. */
static const char pmi_script[] =
	"import os, socket, sys, time\n"
	"s = socket.socket(fileno=int(os.environ['PMI_FD']))\n"
	"f = s.makefile('rw')\n"
	"def req(line):\n"
	"    f.write(line + '\\n'); f.flush(); return f.readline().strip()\n"
	"r = int(os.environ['PMI_RANK'])\n"
	"print(req('cmd=init pmi_version=1 pmi_subversion=1'))\n"
	"kvs = req('cmd=get_my_kvsname').split('kvsname=')[1]\n"
	"print('kvsname=' + kvs)\n"
	"req('cmd=put kvsname=%s key=k%d value=v%d' % (kvs, r, r))\n"
	"print(req('cmd=barrier_in'))\n"
	"print(req('cmd=get kvsname=%s key=k%d' % (kvs, 1 - r)))\n"
	"print(req('cmd=finalize'), flush=True)\n"
	"if r == 0:\n"
	"    time.sleep(60)\n";

static void test_finalize_timeout(void)
{
	struct mrun m;
	struct step_opts o = {0};
	const Meridian__StepEnd *e;
	int64_t t0;

	if (skip())
		return;
	if (access("/usr/bin/python3", X_OK) != 0) {
		cunit_skip("needs /usr/bin/python3 (Debian package python3)");
		return;
	}
	mrun_init(&m, 208, 0);
	o.argv[0] = "/usr/bin/python3";
	o.argv[1] = "-c";
	o.argv[2] = pmi_script;
	o.ranks[0] = 2;
	o.mpi = "pmi1";
	o.finalize_timeout = 1;
	t0 = mer_mono_ms();
	launch(&m, &o);
	run_to_end(&m, 20);
	CU_ASSERT(mer_mono_ms() - t0 < 10000);
	for (int r = 0; r < 2; r++) {
		char want[64];
		const char *out = out_of(&m, r);
		if (getenv("STEP_TEST_VERBOSE"))
			fprintf(stderr, "rank %d:\n%s%s", r, out,
				m.ranks[r].err.s ? m.ranks[r].err.s : "");
		CU_ASSERT_PTR_NOT_NULL(strstr(out, "cmd=response_to_init"));
		CU_ASSERT_PTR_NOT_NULL(strstr(out, "kvsname=meridian-208.0\n"));
		CU_ASSERT_PTR_NOT_NULL(strstr(out, "cmd=barrier_out\n"));
		snprintf(want, sizeof(want), "cmd=get_result rc=0 value=v%d\n",
			 1 - r);
		CU_ASSERT_PTR_NOT_NULL(strstr(out, want));
		CU_ASSERT_PTR_NOT_NULL(strstr(out, "cmd=finalize_ack\n"));
	}
	CU_ASSERT_EQUAL(m.ranks[0].term_signal, SIGKILL);
	CU_ASSERT_STRING_EQUAL(m.ranks[0].reason,
			       "hung in MPI_Finalize: killed after 1 s");
	CU_ASSERT_EQUAL(m.ranks[1].exit_code, 0);
	CU_ASSERT_EQUAL(m.ranks[1].term_signal, 0);
	e = m.nodes[0].end_file;
	CU_ASSERT_PTR_NOT_NULL_FATAL(e);
	CU_ASSERT_EQUAL(e->state, MERIDIAN__JOB_STATE__JOB_FAILED);
	CU_ASSERT_EQUAL(e->exit_code, 128 + SIGKILL);
	CU_ASSERT_EQUAL(e->failed_rank, 0);
	CU_ASSERT_STRING_EQUAL(e->reason, "rank 0 on n0 hung in "
					  "MPI_Finalize: killed after 1 s");
	mrun_free(&m);
}

/* Raw PMI on two nodes: three barriers, each rank reading every key the
 * others put before each one. */
static const char kvs_script[] =
	"import os, socket\n"
	"s = socket.socket(fileno=int(os.environ['PMI_FD']))\n"
	"f = s.makefile('rw')\n"
	"def req(line):\n"
	"    f.write(line + '\\n'); f.flush(); return f.readline().strip()\n"
	"r, n = int(os.environ['PMI_RANK']), int(os.environ['PMI_SIZE'])\n"
	"req('cmd=init pmi_version=1 pmi_subversion=1')\n"
	"kvs = req('cmd=get_my_kvsname').split('kvsname=')[1]\n"
	"seen = []\n"
	"for b in range(3):\n"
	"    req('cmd=put kvsname=%s key=b%d-r%d value=%d' % (kvs, b, r, "
	"b*r))\n"
	"    assert req('cmd=barrier_in') == 'cmd=barrier_out'\n"
	"    for o in range(n):\n"
	"        got = req('cmd=get kvsname=%s key=b%d-r%d' % (kvs, b, o))\n"
	"        seen.append(got == 'cmd=get_result rc=0 value=%d' % (b*o))\n"
	"print('all %d keys: %s' % (len(seen), all(seen)))\n"
	"print(req('cmd=get kvsname=%s key=PMI_process_mapping' % kvs))\n"
	"req('cmd=finalize')\n";

/* Every file mstepd left in a step directory is root's and 0600: the
 * launch (ours), end, pgid (and stepd.sock while it runs, once its mnoded
 * is gone); its log is mnoded's. */
static void check_step_dir_modes(const char *dir)
{
	const char *want[] = {SPOOL_LAUNCH_FILE, SPOOL_END_FILE,
			      SPOOL_PGID_FILE};
	struct dirent *de;
	DIR *d = opendir(dir);
	size_t seen = 0;

	CU_ASSERT_PTR_NOT_NULL_FATAL(d);
	while ((de = readdir(d))) {
		char path[600];
		struct stat st;
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		CU_ASSERT_EQUAL_FATAL(lstat(path, &st), 0);
		if ((st.st_mode & 07777) != 0600 || st.st_uid != 0)
			printf("\n  %s: mode %04o uid %u, expected 0600 root ",
			       path, (unsigned)(st.st_mode & 07777),
			       (unsigned)st.st_uid);
		CU_ASSERT_EQUAL(st.st_mode & 07777, 0600);
		CU_ASSERT_EQUAL(st.st_uid, 0);
		for (size_t i = 0; i < sizeof(want) / sizeof(*want); i++)
			seen += !strcmp(de->d_name, want[i]);
	}
	closedir(d);
	CU_ASSERT_EQUAL(seen, sizeof(want) / sizeof(*want));
}

static void test_kvs_two_nodes(void)
{
	struct mrun m;
	struct step_opts o = {0};

	if (skip())
		return;
	if (access("/usr/bin/python3", X_OK) != 0) {
		cunit_skip("needs /usr/bin/python3 (Debian package python3)");
		return;
	}
	mrun_init(&m, 216, 0);
	/* what mstepd creates must not depend on the umask it is given */
	m.open_umask = true;
	o.argv[0] = "/usr/bin/python3";
	o.argv[1] = "-c";
	o.argv[2] = kvs_script;
	o.ranks[0] = 2;
	o.ranks[1] = 3;
	o.mpi = "pmi1";
	launch(&m, &o);
	run_to_end(&m, 20);
	for (int r = 0; r < 5; r++) {
		const char *out = out_of(&m, r);
		if (!strstr(out, "all 15 keys: True"))
			printf("\n  rank %d: %s%s", r, out,
			       m.ranks[r].err.s ? m.ranks[r].err.s : "");
		CU_ASSERT_PTR_NOT_NULL(strstr(out, "all 15 keys: True\n"));
		CU_ASSERT_PTR_NOT_NULL(strstr(out, "value=(vector,(0,1,2),"
						   "(1,1,3))\n"));
		CU_ASSERT_EQUAL(m.ranks[r].exit_code, 0);
	}
	for (int k = 0; k < 2; k++) {
		CU_ASSERT_EQUAL(m.nodes[k].end_file->state,
				MERIDIAN__JOB_STATE__JOB_COMPLETED);
		check_step_dir_modes(m.nodes[k].dir);
	}
	mrun_free(&m);
}

/* ---- KVS peers over the limits ------------------------------------------ */

/* A fence as node 1 of m's step sends it, with the io_key. */
static void fence_init(const struct mrun *m, Meridian__KvsFence *f)
{
	meridian__kvs_fence__init(f);
	f->job_id = m->job_id;
	f->step_id = m->step_id;
	f->node_index = 1;
	f->io_key.data = (uint8_t *)m->key;
	f->io_key.len = sizeof(m->key);
}

/* n pairs key "kNNNN" (or key), each value vlen 'v's; free with
 * pairs_free. */
static void pairs_make(Meridian__KvsFence *f, size_t n, const char *key,
		       size_t vlen)
{
	f->n_pairs = n;
	f->pairs = xcalloc(n, sizeof(*f->pairs));
	for (size_t i = 0; i < n; i++) {
		Meridian__KvsPair *p = xmalloc(sizeof(*p));
		meridian__kvs_pair__init(p);
		p->key = key ? xstrdup(key) : xasprintf("k%04zu", i);
		p->value = xmalloc(vlen + 1);
		memset(p->value, 'v', vlen);
		p->value[vlen] = '\0';
		f->pairs[i] = p;
	}
}

static void pairs_free(Meridian__KvsFence *f)
{
	for (size_t i = 0; i < f->n_pairs; i++) {
		free(f->pairs[i]->key);
		free(f->pairs[i]->value);
		free(f->pairs[i]);
	}
	free(f->pairs);
}

/* Did the peer close fd within 10 s (reading and dropping whatever it
 * sent)? */
static bool closed_on_us(int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	char buf[256];

	for (int i = 0; i < 100; i++) {
		if (poll(&p, 1, 100) == 1 && read(fd, buf, sizeof(buf)) <= 0)
			return true;
	}
	return false;
}

/* Connect to node 0's KVS, send f as a KVS_FENCE: is it closed on us? */
static bool fence_refused(const struct mrun *m, Meridian__KvsFence *f)
{
	struct mer_error err;
	int fd = tcp_connect("127.0.0.1", (uint16_t)m->nodes[0].kvs_port, 2000,
			     &err);
	bool refused;

	CU_ASSERT_FATAL(fd >= 0);
	/* it may close before it has read all: no SIGPIPE for that */
	send_frame_cred(fd, MERIDIAN__MSG_TYPE__MSG_KVS_FENCE, m->key,
			sizeof(m->key), &f->base);
	refused = closed_on_us(fd);
	close(fd);
	return refused;
}

/* Does node k's mstepd.log hold what? */
static bool log_has(const struct mrun *m, int k, const char *what)
{
	char path[600], *data;
	bool yes;

	node_log(m, k, path, sizeof(path));
	if (read_file(path, &data, NULL) < 0)
		return false;
	yes = strstr(data, what) != NULL;
	if (!yes)
		printf("\n  node %d's log has no \"%s\":\n%s", k, what, data);
	free(data);
	return yes;
}

/* Each rank puts its key, enters the barrier, gets rank 0's key and its
 * own. */
static const char limits_script[] =
	"import os, socket\n"
	"s = socket.socket(fileno=int(os.environ['PMI_FD']))\n"
	"f = s.makefile('rw')\n"
	"def req(line):\n"
	"    f.write(line + '\\n'); f.flush(); return f.readline().strip()\n"
	"r = int(os.environ['PMI_RANK'])\n"
	"req('cmd=init pmi_version=1 pmi_subversion=1')\n"
	"print(req('cmd=put key=k%d value=v%d' % (r, r)))\n"
	"print(req('cmd=barrier_in'))\n"
	"print(req('cmd=get key=k0'))\n"
	"print(req('cmd=get key=k%d' % r))\n"
	"req('cmd=finalize')\n";

/*
 * mrun's user has the io_key, so a KVS peer that proves it may still send
 * anything.  Node 0 (7 ranks) drops fences over the limits from "node 1"
 * (1 rank, whose share is 1/8 of PMI_KVS_RANKS_MAX): too many pairs and
 * too many bytes before decoding, pairs costing more than the share after;
 * node 1, told a KVS port of ours, drops our release with a key over
 * PMI_KEYLEN_MAX.  Each logs the limit, and both go on: node 0's ranks
 * exchange among themselves, node 1 ends its barrier alone.
 */
static void test_kvs_limits(void)
{
	const size_t share = (size_t)((uint64_t)PMI_KVS_RANKS_MAX / 8);
	/* a pair "kNNNN": 3 bytes of tag and length, 7 of key, 3 + vlen of
	 * value */
	const size_t vlen = 1020, enc = 3 + 7 + 3 + vlen,
		     cost = pmi_kv_cost(5, vlen), npairs = share / enc;
	Meridian__KvsFence f, *got;
	struct mrun m;
	struct step_opts o = {0};
	struct mer_error err;
	struct frame_hdr h;
	uint8_t *body;
	uint16_t port;
	int lfd, fd = -1;
	char key65[PMI_KEYLEN_MAX + 2];

	if (skip())
		return;
	if (access("/usr/bin/python3", X_OK) != 0) {
		cunit_skip("needs /usr/bin/python3 (Debian package python3)");
		return;
	}
	/* pairs that pass the length check and fail the cost check */
	CU_ASSERT_FATAL(npairs <= PMI_RANK_PUTS_MAX && npairs * cost > share);
	signal(SIGPIPE, SIG_IGN);
	mrun_init(&m, 217, 0);
	m.auto_go = false;
	o.argv[0] = "/usr/bin/python3";
	o.argv[1] = "-c";
	o.argv[2] = limits_script;
	o.ranks[0] = 7;
	o.ranks[1] = 1;
	o.mpi = "pmi1";
	launch(&m, &o);
	CU_ASSERT_TRUE_FATAL(mrun_wait(&m, all_hello, NULL, 10));
	CU_ASSERT_FATAL(m.nodes[0].kvs_port > 0);

	/* before decoding: more pairs than node 1's rank may put */
	fence_init(&m, &f);
	pairs_make(&f, PMI_RANK_PUTS_MAX + 1, "k", 0);
	CU_ASSERT_TRUE(fence_refused(&m, &f));
	pairs_free(&f);
	/* before decoding: more bytes than its share (fewer pairs than its
	 * rank may put) */
	fence_init(&m, &f);
	pairs_make(&f, PMI_RANK_PUTS_MAX - 4, NULL, PMI_VALLEN_MAX);
	CU_ASSERT_TRUE(fence_refused(&m, &f));
	pairs_free(&f);
	/* after: pairs costing more than its share */
	fence_init(&m, &f);
	pairs_make(&f, npairs, NULL, vlen);
	CU_ASSERT_TRUE(fence_refused(&m, &f));
	pairs_free(&f);

	/* node 1 gets our port for node 0's KVS */
	lfd = tcp_listen("127.0.0.1", 0, &port, &err);
	CU_ASSERT_FATAL(lfd >= 0);
	send_go(&m, &m.nodes[0]);
	send_go_port(&m, &m.nodes[1], port);
	for (int i = 0; i < 200 && fd < 0; i++) {
		struct pollfd p = {.fd = lfd, .events = POLLIN};
		mrun_poll(&m, 20);
		if (poll(&p, 1, 30) == 1)
			fd = accept(lfd, NULL, NULL);
	}
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_EQUAL_FATAL(recv_frame(fd, &h, &body), 0);
	CU_ASSERT_EQUAL(h.type, MERIDIAN__MSG_TYPE__MSG_KVS_FENCE);
	/* the first fence proves the key in its credential */
	CU_ASSERT_EQUAL_FATAL(h.cred_len, sizeof(m.key));
	CU_ASSERT_EQUAL(memcmp(body, m.key, sizeof(m.key)), 0);
	got = meridian__kvs_fence__unpack(NULL, h.body_len, body + h.cred_len);
	free(body);
	CU_ASSERT_PTR_NOT_NULL_FATAL(got);
	CU_ASSERT_EQUAL(got->node_index, 1);
	/* and in its body, for an older node 0 */
	CU_ASSERT_EQUAL(got->io_key.len, sizeof(m.key));
	CU_ASSERT_EQUAL_FATAL(got->n_pairs, 1);
	CU_ASSERT_STRING_EQUAL(got->pairs[0]->key, "k7");
	meridian__kvs_fence__free_unpacked(got, NULL);
	memset(key65, 'k', sizeof(key65) - 1);
	key65[sizeof(key65) - 1] = '\0';
	meridian__kvs_fence__init(&f);
	f.job_id = m.job_id;
	f.step_id = m.step_id;
	pairs_make(&f, 1, key65, 1);
	CU_ASSERT_EQUAL(
		send_frame(fd, MERIDIAN__MSG_TYPE__MSG_KVS_RELEASE, &f.base),
		0);
	pairs_free(&f);
	CU_ASSERT_TRUE(closed_on_us(fd));
	close(fd);
	close(lfd);

	run_to_end(&m, 30);
	for (int r = 0; r < 8; r++) {
		char want[200];
		snprintf(want, sizeof(want),
			 "cmd=put_result rc=0\ncmd=barrier_out\n%s\n"
			 "cmd=get_result rc=0 value=v%d\n",
			 r < 7 ? "cmd=get_result rc=0 value=v0"
			       : "cmd=get_result rc=-1 msg=key_not_found",
			 r);
		CU_ASSERT_STRING_EQUAL(out_of(&m, r), want);
		CU_ASSERT_EQUAL(m.ranks[r].exit_code, 0);
	}
	for (int k = 0; k < 2; k++)
		CU_ASSERT_EQUAL(m.nodes[k].end_file->state,
				MERIDIAN__JOB_STATE__JOB_COMPLETED);
	CU_ASSERT_TRUE(log_has(&m, 0,
			       "KVS_FENCE of 1025 pairs: more than 1 "
			       "rank may put (PMI_RANK_PUTS_MAX, 1024 "
			       "per rank); closing it"));
	CU_ASSERT_TRUE(log_has(&m, 0, "what the puts of 1 rank may cost"));
	CU_ASSERT_TRUE(log_has(&m, 0,
			       "the share of 1 rank in the step's "
			       "PMI_KVS_RANKS_MAX"));
	CU_ASSERT_TRUE(log_has(&m, 1, "KVS_RELEASE, pair 0: PMI KVS key"));
	CU_ASSERT_TRUE(log_has(&m, 1,
			       "(65 bytes) is too_long: expected 1 to "
			       "64"));
	signal(SIGPIPE, SIG_DFL);
	mrun_free(&m);
}

/* ---- strangers at node 0's KVS port ------------------------------------ */

/* Wait up to secs for node k's mstepd.log to hold what. */
static bool log_wait(const struct mrun *m, int k, const char *what, int secs)
{
	char path[600], *data;

	node_log(m, k, path, sizeof(path));
	for (int i = 0; i < secs * 20; i++) {
		bool yes = false;
		if (read_file(path, &data, NULL) == 0) {
			yes = strstr(data, what) != NULL;
			free(data);
		}
		if (yes)
			return true;
		usleep(50 * 1000);
	}
	return log_has(m, k, what); /* says what the log has */
}

static size_t log_lines(const struct mrun *m, int k)
{
	char path[600], *data;
	size_t n = 0;

	node_log(m, k, path, sizeof(path));
	if (read_file(path, &data, NULL) < 0)
		return 0;
	for (const char *p = data; *p; p++)
		n += *p == '\n';
	free(data);
	return n;
}

static int kvs_dial(const struct mrun *m)
{
	struct mer_error err;

	return tcp_connect("127.0.0.1", (uint16_t)m->nodes[0].kvs_port, 2000,
			   &err);
}

/* How long fd took to be closed on us (reading and dropping whatever
 * came), in ms since t0; -1 when not within 10 s. */
static int64_t closed_after(int fd, int64_t t0)
{
	return closed_on_us(fd) ? mer_mono_ms() - t0 : -1;
}

/* A child's flood of node 0's KVS port from 127.0.0.1 for ms: connect
 * again and again, holding the last 400 connections (every other one
 * with 4 bytes of a header), closing the oldest.  Writes how many it
 * made to out, and exits. */
static void __attribute__((noreturn)) flood(uint16_t port, int ms, int out)
{
	static int fds[400];
	int64_t end = mer_mono_ms() + ms;
	unsigned long made = 0;
	size_t next = 0;

	signal(SIGPIPE, SIG_IGN);
	for (size_t i = 0; i < 400; i++)
		fds[i] = -1;
	while (mer_mono_ms() < end) {
		int fd = tcp_connect("127.0.0.1", port, 1000, NULL);
		if (fd < 0) {
			usleep(1000); /* refused: node 0 stopped listening */
			continue;
		}
		if (made++ & 1)
			(void)!write(fd, "MRDN", 4);
		if (fds[next] >= 0)
			close(fds[next]);
		fds[next] = fd;
		next = (next + 1) % 400;
	}
	(void)!write(out, &made, sizeof(made));
	_exit(0);
}

/* Each of two ranks (one per node): a put, a barrier, a get of the other's
 * key, then 3 s before a last barrier. */
static const char strangers_script[] =
	"import os, socket, time\n"
	"s = socket.socket(fileno=int(os.environ['PMI_FD']))\n"
	"f = s.makefile('rw')\n"
	"def req(line):\n"
	"    f.write(line + '\\n'); f.flush(); return f.readline().strip()\n"
	"r = int(os.environ['PMI_RANK'])\n"
	"req('cmd=init pmi_version=1 pmi_subversion=1')\n"
	"req('cmd=put key=k%d value=v%d' % (r, r))\n"
	"print(req('cmd=barrier_in'))\n"
	"print(req('cmd=get key=k%d' % (1 - r)), flush=True)\n"
	"time.sleep(3)\n"
	"print(req('cmd=barrier_in'))\n"
	"req('cmd=finalize')\n";

/*
 * Node 0's KVS port is open to anyone until the step's nodes are in.  A
 * stranger's fence with a wrong key and a 16 MiB body is refused from its
 * header, before a byte of the body is sent; one with the key only in its
 * body (as an older mstepd sends it) is refused without being decoded
 * (decoded, it would have taken node 1's place); an idle connection is
 * closed after the auth timeout (MERIDIAN_KVS_AUTH_TIMEOUT_MS, 1.5 s
 * here); a flood of connections from node 1's own address does not keep
 * node 1 out; once it is in, node 0 no longer listens.  The step
 * completes, and node 0's log stays short.
 */
static void test_kvs_strangers(void)
{
	struct mrun m;
	struct step_opts o = {0};
	Meridian__KvsFence f;
	struct frame_hdr h = {0};
	uint8_t hb[MER_FRAME_HDR_LEN], wrong[32], junk[65536];
	struct mer_error err;
	unsigned long flooded = 0;
	int64_t t0, took;
	int fd, pfd[2];
	pid_t child;

	if (skip())
		return;
	if (access("/usr/bin/python3", X_OK) != 0) {
		cunit_skip("needs /usr/bin/python3 (Debian package python3)");
		return;
	}
	signal(SIGPIPE, SIG_IGN);
	mrun_init(&m, 218, 0);
	m.auto_go = false;
	o.argv[0] = "/usr/bin/python3";
	o.argv[1] = "-c";
	o.argv[2] = strangers_script;
	o.ranks[0] = 1;
	o.ranks[1] = 1;
	o.mpi = "pmi1";
	setenv("MERIDIAN_KVS_AUTH_TIMEOUT_MS", "1500", 1);
	launch(&m, &o);
	unsetenv("MERIDIAN_KVS_AUTH_TIMEOUT_MS");
	CU_ASSERT_TRUE_FATAL(mrun_wait(&m, all_hello, NULL, 10));
	CU_ASSERT_FATAL(m.nodes[0].kvs_port > 0);

	/* a wrong key, and 16 MiB announced: refused at the header */
	memcpy(wrong, m.key, sizeof(wrong));
	wrong[31] ^= 1;
	fd = kvs_dial(&m);
	CU_ASSERT_FATAL(fd >= 0);
	t0 = mer_mono_ms();
	h.magic = MER_FRAME_MAGIC;
	h.version = MER_PROTO_VERSION;
	h.type = MERIDIAN__MSG_TYPE__MSG_KVS_FENCE;
	h.cred_len = sizeof(wrong);
	h.body_len = MER_FRAME_MAX_BODY;
	frame_hdr_encode(&h, hb);
	CU_ASSERT_EQUAL(write_all(fd, hb, sizeof(hb)), 0);
	CU_ASSERT_EQUAL(write_all(fd, wrong, sizeof(wrong)), 0);
	CU_ASSERT_TRUE(log_wait(&m, 0,
				"a KVS_FENCE whose 32-byte credential "
				"is not the step's io_key",
				5));
	/* what comes of its body is thrown away as it comes; the rest never
	 * does, and the auth timeout ends it */
	memset(junk, 0xab, sizeof(junk));
	for (int i = 0; i < 16; i++)
		(void)!write(fd, junk, sizeof(junk));
	took = closed_after(fd, t0);
	close(fd);
	printf("\n  a wrong key, 16 MiB announced, 1 MiB sent: closed after "
	       "%lld ms ",
	       (long long)took);
	CU_ASSERT(took >= 0 && took < 5000);

	/* the key only in the body: not read, not decoded (it would be
	 * taken for node 1) */
	fence_init(&m, &f);
	pairs_make(&f, 1000, NULL, 1000);
	fd = kvs_dial(&m);
	CU_ASSERT_FATAL(fd >= 0);
	send_frame(fd, MERIDIAN__MSG_TYPE__MSG_KVS_FENCE, &f.base);
	pairs_free(&f);
	CU_ASSERT_TRUE(closed_on_us(fd));
	close(fd);
	CU_ASSERT_TRUE(log_has(&m, 0,
			       "a KVS_FENCE without the step's io_key "
			       "in its frame credential (an mstepd "
			       "older than this one"));

	/* any other frame first */
	fd = kvs_dial(&m);
	CU_ASSERT_FATAL(fd >= 0);
	{
		Meridian__StepGo go = MERIDIAN__STEP_GO__INIT;
		send_frame_cred(fd, MERIDIAN__MSG_TYPE__MSG_STEP_GO, m.key,
				sizeof(m.key), &go.base);
	}
	CU_ASSERT_TRUE(closed_on_us(fd));
	close(fd);
	CU_ASSERT_TRUE(log_has(&m, 0,
			       "sent STEP_GO (flags 0x0): expected "
			       "KVS_FENCE with the step's key first"));

	/* idle: closed after the auth timeout */
	fd = kvs_dial(&m);
	CU_ASSERT_FATAL(fd >= 0);
	took = closed_after(fd, mer_mono_ms());
	close(fd);
	printf("\n  an idle connection closed after %lld ms (auth timeout "
	       "1500) ",
	       (long long)took);
	CU_ASSERT(took >= 1400 && took < 5000);
	CU_ASSERT_TRUE(log_wait(&m, 0, "not authenticated within 2 s", 5));

	/* a flood from node 1's address while node 1 connects */
	CU_ASSERT_EQUAL_FATAL(pipe(pfd), 0);
	child = fork();
	CU_ASSERT_FATAL(child >= 0);
	if (child == 0)
		flood((uint16_t)m.nodes[0].kvs_port, 3000, pfd[1]);
	close(pfd[1]);
	usleep(300 * 1000);
	send_go(&m, &m.nodes[0]);
	send_go(&m, &m.nodes[1]);
	CU_ASSERT_TRUE(mrun_wait(&m, all_printed, "cmd=get_result rc=0", 15));
	/* every node is in: the port is closed */
	fd = tcp_connect("127.0.0.1", (uint16_t)m.nodes[0].kvs_port, 2000,
			 &err);
	CU_ASSERT_EQUAL(fd, -1);
	if (fd >= 0)
		close(fd);
	else
		CU_ASSERT_EQUAL(errno, ECONNREFUSED);
	CU_ASSERT_EQUAL(read_all(pfd[0], &flooded, sizeof(flooded)), 0);
	close(pfd[0]);
	waitpid(child, NULL, 0);

	run_to_end(&m, 30);
	for (int r = 0; r < 2; r++) {
		char want[128];
		snprintf(want, sizeof(want),
			 "cmd=barrier_out\ncmd=get_result rc=0 value=v%d\n"
			 "cmd=barrier_out\n",
			 1 - r);
		CU_ASSERT_STRING_EQUAL(out_of(&m, r), want);
		CU_ASSERT_EQUAL(m.ranks[r].exit_code, 0);
	}
	for (int k = 0; k < 2; k++) {
		CU_ASSERT_PTR_NOT_NULL_FATAL(m.nodes[k].end_file);
		CU_ASSERT_EQUAL(m.nodes[k].end_file->state,
				MERIDIAN__JOB_STATE__JOB_COMPLETED);
	}
	printf("\n  %lu connections flooded in 3 s; node 0's mstepd.log: "
	       "%zu lines ",
	       flooded, log_lines(&m, 0));
	CU_ASSERT(flooded > 100);
	CU_ASSERT(log_lines(&m, 0) < 60);
	CU_ASSERT_TRUE(log_has(&m, 0,
			       "connections to the KVS port were "
			       "turned away in all"));
	signal(SIGPIPE, SIG_DFL);
	mrun_free(&m);
}

/* --cpu-bind=cores: each running rank's Cpus_allowed_list is the plan
 * bind.c makes for this machine. */
static void test_binding(void)
{
	struct mrun m;
	struct step_opts o = {0};
	struct bind_topo *topo;
	struct bind_task tasks[2] = {{1, NULL, 0}, {1, NULL, 0}};
	struct bind_set *sets = NULL;
	struct mer_error err;

	if (skip())
		return;
	topo = bind_topo_load(NULL, &err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(topo);
	CU_ASSERT_EQUAL_FATAL(
		bind_plan(topo, BIND_CORES, NULL, tasks, 2, &sets, &err), 0);
	mrun_init(&m, 209, 0);
	o.argv[0] = "/bin/sh";
	o.argv[1] = "-c";
	o.argv[2] = trap_script;
	o.ranks[0] = 2;
	o.cpu_bind = "cores";
	o.cpus_per_task = 1;
	launch(&m, &o);
	CU_ASSERT_TRUE_FATAL(mrun_wait(&m, all_printed, "ready", 10));
	for (int r = 0; r < 2; r++) {
		char path[64], *status, *line, want[128];
		pid_t pid = (pid_t)atol(strstr(out_of(&m, r), "pid=") + 4);
		snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
		CU_ASSERT_EQUAL_FATAL(read_file(path, &status, NULL), 0);
		line = strstr(status, "Cpus_allowed_list:");
		CU_ASSERT_PTR_NOT_NULL_FATAL(line);
		snprintf(want, sizeof(want), "Cpus_allowed_list:\t%s\n",
			 sets[r].list);
		if (strncmp(line, want, strlen(want)))
			printf("\n  rank %d: %.40s, planned %s", r, line,
			       sets[r].list);
		CU_ASSERT_EQUAL(strncmp(line, want, strlen(want)), 0);
		free(status);
	}
	send_step_signal(&m, 0, SIGUSR1, false, "");
	run_to_end(&m, 20);
	CU_ASSERT_EQUAL(m.nodes[0].end_file->state,
			MERIDIAN__JOB_STATE__JOB_COMPLETED);
	mrun_free(&m);
	bind_sets_free(sets, 2);
	bind_topo_destroy(topo);
}

/* Copy the MPI program where the user can run it. */
static bool copy_mpi_hello(const struct mrun *m, char *path, size_t n)
{
	const char *src = mpi_hello_path();
	char *data;
	size_t len;

	if (!src || access(src, X_OK) != 0 || read_file(src, &data, &len) < 0)
		return false;
	snprintf(path, n, "%s/mpi_hello", m->work);
	CU_ASSERT_EQUAL(write_file_atomic(path, data, len, 0755), 0);
	free(data);
	return true;
}

/* A KVS connection without the step's io_key is closed by node 0. */
static void check_kvs_refuses_stranger(const struct mrun *m)
{
	Meridian__KvsFence f = MERIDIAN__KVS_FENCE__INIT;
	struct mer_error err;
	uint8_t wrong[32] = {0}, buf[64];
	int fd = tcp_connect("127.0.0.1", (uint16_t)m->nodes[0].kvs_port, 2000,
			     &err);

	CU_ASSERT_FATAL(fd >= 0);
	f.job_id = m->job_id;
	f.step_id = m->step_id;
	f.node_index = 1;
	f.io_key.data = wrong;
	f.io_key.len = sizeof(wrong);
	CU_ASSERT_EQUAL(
		send_frame(fd, MERIDIAN__MSG_TYPE__MSG_KVS_FENCE, &f.base), 0);
	CU_ASSERT_EQUAL(read(fd, buf, sizeof(buf)), 0); /* closed on us */
	close(fd);
}

/* Two mstepds, two MPICH ranks each: they wire up through the KVS
 * exchange and agree on an MPI_Allreduce (and MPICH took the node-local
 * size from PMI_process_mapping).  With UCX over TCP only (as between
 * network namespaces) MPICH 4.0.2 hangs in MPI_Finalize unless mstepd
 * lets the finalize barrier go (see pmi.h). */
static void run_mpi_hello(uint32_t step, const char *ucx_tls)
{
	struct mrun m;
	struct step_opts o = {0};
	char prog[128];
	int64_t t0;

	mrun_init(&m, 210, step);
	if (!copy_mpi_hello(&m, prog, sizeof(prog))) {
		CU_FAIL("cannot copy the MPI program into the job's directory");
		mrun_free(&m);
		return;
	}
	m.auto_go = false;
	o.argv[0] = prog;
	o.ranks[0] = 2;
	o.ranks[1] = 2;
	o.mpi = "pmi1";
	o.env[0] = ucx_tls;
	t0 = mer_mono_ms();
	launch(&m, &o);
	CU_ASSERT_TRUE_FATAL(mrun_wait(&m, all_hello, NULL, 10));
	CU_ASSERT(m.nodes[0].kvs_port > 0);
	CU_ASSERT_EQUAL(m.nodes[1].kvs_port, 0);
	CU_ASSERT_EQUAL(m.nodes[1].master_port, 0);
	if (!ucx_tls)
		check_kvs_refuses_stranger(&m);
	send_go(&m, &m.nodes[0]);
	send_go(&m, &m.nodes[1]);
	run_to_end(&m, 60);
	printf("\n  2 nodes x 2 MPICH ranks%s%s: %lld ms ", ucx_tls ? ", " : "",
	       ucx_tls ? ucx_tls : "", (long long)(mer_mono_ms() - t0));
	for (int r = 0; r < 4; r++) {
		char want[64];
		snprintf(want, sizeof(want), "rank %d size 4 sum 10 local 2\n",
			 r);
		if (strcmp(out_of(&m, r), want))
			printf("\n  rank %d: out \"%s\" err \"%s\"", r,
			       out_of(&m, r),
			       m.ranks[r].err.s ? m.ranks[r].err.s : "");
		CU_ASSERT_STRING_EQUAL(out_of(&m, r), want);
		CU_ASSERT_EQUAL(m.ranks[r].exit_code, 0);
	}
	for (int k = 0; k < 2; k++) {
		CU_ASSERT_PTR_NOT_NULL_FATAL(m.nodes[k].end_file);
		CU_ASSERT_EQUAL(m.nodes[k].end_file->state,
				MERIDIAN__JOB_STATE__JOB_COMPLETED);
	}
	mrun_free(&m);
}

/* Whether there is no MPI program to run (then the test said so). */
static bool no_mpi_program(void)
{
	const char *p = mpi_hello_path();

	if (p && access(p, X_OK) == 0)
		return false;
	cunit_skip("no MPI program: configure found no mpicc (Debian "
		   "packages mpich libmpich-dev) and MERIDIAN_MPI_HELLO is "
		   "unset");
	return true;
}

static void test_mpi_two_nodes(void)
{
	if (skip() || no_mpi_program())
		return;
	run_mpi_hello(0, NULL);
	for (uint32_t i = 1; i <= 3; i++)
		run_mpi_hello(i, "UCX_TLS=tcp,self");
}

/* MPI_Abort on node 1: its end says which rank aborted and with what;
 * mrun's kill ends node 0 CANCELLED. */
static void test_mpi_abort(void)
{
	struct mrun m;
	struct step_opts o = {0};
	const Meridian__StepEnd *e;
	char prog[128];

	if (skip() || no_mpi_program())
		return;
	mrun_init(&m, 211, 0);
	if (!copy_mpi_hello(&m, prog, sizeof(prog))) {
		CU_FAIL("cannot copy the MPI program into the job's directory");
		mrun_free(&m);
		return;
	}
	o.argv[0] = prog;
	o.argv[1] = "abort";
	o.argv[2] = "5";
	o.ranks[0] = 2;
	o.ranks[1] = 2;
	o.mpi = "pmi1";
	launch(&m, &o);
	run_to_end(&m, 60);
	CU_ASSERT_TRUE(m.ranks[3].aborted);
	CU_ASSERT_EQUAL(m.ranks[3].exit_code, 5);
	CU_ASSERT_PTR_NOT_NULL(strstr(m.ranks[3].reason, "aborted"));
	CU_ASSERT_PTR_NOT_NULL(strstr(m.ranks[3].reason, "(exit code 5)"));
	CU_ASSERT_FALSE(m.ranks[2].aborted);
	e = m.nodes[1].end_file;
	CU_ASSERT_PTR_NOT_NULL_FATAL(e);
	CU_ASSERT_EQUAL(e->state, MERIDIAN__JOB_STATE__JOB_FAILED);
	CU_ASSERT_EQUAL(e->exit_code, 5);
	CU_ASSERT_EQUAL(e->failed_rank, 3);
	CU_ASSERT_PTR_NOT_NULL(strstr(e->reason, "rank 3 on n1 aborted"));
	/* node 0: mrun's kill, unless MPICH there saw rank 3 go first and
	 * aborted on its own */
	e = m.nodes[0].end_file;
	CU_ASSERT_PTR_NOT_NULL_FATAL(e);
	if (e->state == MERIDIAN__JOB_STATE__JOB_CANCELLED) {
		CU_ASSERT_STRING_EQUAL(e->reason, "rank aborted elsewhere");
	} else {
		CU_ASSERT_EQUAL(e->state, MERIDIAN__JOB_STATE__JOB_FAILED);
		CU_ASSERT_PTR_NOT_NULL(strstr(e->reason, " on n0 "));
		CU_ASSERT(e->exit_code > 0 && e->exit_code < 256);
	}
	mrun_free(&m);
}

/* --pty: rank 0 on a terminal that is its controlling tty, sized by
 * STEP_INPUT, its input echoed and its output on stream 1; mrun's EOF is
 * the terminal's ^D. */
static void test_pty(void)
{
	struct mrun m;
	struct step_opts o = {0};
	Meridian__StepInput in = MERIDIAN__STEP_INPUT__INIT;
	const char *out;

	if (skip())
		return;
	mrun_init(&m, 213, 0);
	o.argv[0] = "/bin/sh";
	o.argv[1] = "-c";
	o.argv[2] = "read x; echo \"x=$x tty=$(tty) size=$(stty size) "
		    "ctty=$(cut -d' ' -f7 /proc/$$/stat)\"; cat; echo done";
	o.ranks[0] = 1;
	o.pty = true;
	launch(&m, &o);
	CU_ASSERT_TRUE_FATAL(mrun_wait(&m, all_hello, NULL, 10));
	in.rows = 33;
	in.cols = 101;
	in.data.data = (uint8_t *)"go\n";
	in.data.len = 3;
	CU_ASSERT_EQUAL(send_frame(m.nodes[0].fd,
				   MERIDIAN__MSG_TYPE__MSG_STEP_INPUT,
				   &in.base),
			0);
	send_input(&m, "more\n", true);
	run_to_end(&m, 20);
	out = out_of(&m, 0);
	if (getenv("STEP_TEST_VERBOSE"))
		fprintf(stderr, "pty output: %s\n", out);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "x=go tty=/dev/pts/"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "size=33 101"));
	CU_ASSERT_PTR_NULL(strstr(out, "ctty=0\r"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "more\r\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "done\r\n"));
	CU_ASSERT_EQUAL(m.nodes[0].end_file->state,
			MERIDIAN__JOB_STATE__JOB_COMPLETED);
	mrun_free(&m);
}

/* Many ranks at once, with mrun's defaults (gpu-local binding, PMI):
 * how long from the launch to every node's end. */
static void test_many_ranks(void)
{
	struct mrun m;
	struct step_opts o = {0};
	int64_t t0;

	if (skip())
		return;
	mrun_init(&m, 215, 0);
	o.argv[0] = "/bin/true";
	o.ranks[0] = 32;
	o.ranks[1] = 32;
	o.cpu_bind = "";
	o.mpi = "";
	t0 = mer_mono_ms();
	launch(&m, &o);
	CU_ASSERT_TRUE(mrun_wait(&m, all_ended, NULL, 20));
	printf("\n  2 nodes x 32 ranks of /bin/true: %lld ms ",
	       (long long)(mer_mono_ms() - t0));
	run_to_end(&m, 20);
	for (int r = 0; r < 64; r++)
		CU_ASSERT_TRUE(m.ranks[r].exited && !m.ranks[r].exit_code);
	for (int k = 0; k < 2; k++)
		CU_ASSERT_EQUAL(m.nodes[k].end_file->state,
				MERIDIAN__JOB_STATE__JOB_COMPLETED);
	mrun_free(&m);
}

/* A launch for another step, and an mrun nobody listens for: FAILED ends
 * that say why. */
static void test_bad_launch(void)
{
	struct mrun m;
	struct step_opts o = {0};
	struct mer_error err;
	uint16_t dead_port;
	int fd;

	if (skip())
		return;
	mrun_init(&m, 212, 0);
	o.argv[0] = "/bin/true";
	o.ranks[0] = 1;
	o.launch_step_id = 9; /* mstepd is told step 0 */
	launch(&m, &o);
	finish(&m, 10);
	CU_ASSERT_PTR_NOT_NULL_FATAL(m.nodes[0].end_file);
	CU_ASSERT_EQUAL(m.nodes[0].end_file->state,
			MERIDIAN__JOB_STATE__JOB_FAILED);
	CU_ASSERT_EQUAL(m.nodes[0].end_file->step_id, 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(m.nodes[0].end_file->reason, "launch"));
	CU_ASSERT_NOT_EQUAL(WEXITSTATUS(m.nodes[0].status), 0);
	mrun_free(&m);

	/* a port that was free a moment ago */
	fd = tcp_listen("127.0.0.1", 0, &dead_port, &err);
	CU_ASSERT_FATAL(fd >= 0);
	close(fd);
	mrun_init(&m, 212, 1);
	o.launch_step_id = 0;
	o.io_port = dead_port;
	launch(&m, &o);
	finish(&m, 20);
	CU_ASSERT_PTR_NOT_NULL_FATAL(m.nodes[0].end_file);
	CU_ASSERT_EQUAL(m.nodes[0].end_file->state,
			MERIDIAN__JOB_STATE__JOB_FAILED);
	CU_ASSERT_PTR_NOT_NULL(strstr(m.nodes[0].end_file->reason,
				      "cannot reach mrun at 127.0.0.1:"));
	mrun_free(&m);
}

static CU_TestInfo tests[] = {
	{"environment and fds of ranks as the user", test_env_as_user},
	{"-o patterns: a file per rank", test_output_files},
	{"worst rank, failed rank", test_worst_rank},
	{"stdin reaches rank 0", test_stdin},
	{"signals, kill and cancel", test_signals},
	{"mrun goes away", test_mrun_drop},
	{"leftovers killed", test_leftovers},
	{"bad frames", test_bad_frames},
	{"PMI finalize timeout", test_finalize_timeout},
	{"KVS on two nodes, three barriers", test_kvs_two_nodes},
	{"KVS peers over the limits", test_kvs_limits},
	{"KVS strangers: wrong key, no key, idle, a flood", test_kvs_strangers},
	{"--cpu-bind=cores", test_binding},
	{"MPI on two nodes", test_mpi_two_nodes},
	{"MPI abort", test_mpi_abort},
	{"--pty", test_pty},
	{"64 ranks", test_many_ranks},
	{"bad launch, no mrun", test_bad_launch},
	CU_TEST_INFO_NULL,
};

CUNIT_MAIN("mstepd step", tests)
