/*
 * test_mstepd_run.c - a real mstepd running real batch scripts.
 *
 * Each test writes a LaunchJob into a fresh job directory the way mnoded
 * does, starts mstepd with fd 3 connected to us, and checks what a user and
 * mctld would see: the end file (state, exit code, reason), the output
 * files (owner, content) and that no process of the job survives.
 * mstepd must run as root to switch users, so as any other user every test
 * skips (cunit_skip) and the program reports SKIP.  Jobs run as "nobody"
 * when it exists.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "conn.h"
#include "cunit_main.h"
#include "frame.h"
#include "mstepd.h"
#include "test_util.h"

struct run {
	char root[64]; /* the temporary spool root */
	char dir[200]; /* root/spool/job.<id> */
	char work[64]; /* the job's working directory */
	uint32_t id;
	uid_t uid;
	gid_t gid;
	char user[64];
	pid_t pid; /* mstepd */
	int fd;	   /* our end of mstepd's fd 3 */
	Meridian__JobEnd *end;
	int status;	 /* mstepd's exit status */
	bool open_umask; /* start mstepd with umask 0, not mnoded's */
};

/* Whether the running test cannot run here (then it said why). */
static bool skip(void)
{
	return !cunit_need_root("mstepd runs jobs as another user only as "
				"root");
}

static const char *mstepd_path(void)
{
	static char *path;

	if (!path)
		path = test_build_path("src/mstepd/mstepd");
	return path;
}

/* A fresh spool and work dir; root_mode 0700 makes the spool
 * untraversable for the job's user. */
static void run_init(struct run *r, uint32_t id, mode_t root_mode)
{
	struct passwd *pw = getpwnam("nobody");
	char spool[128];

	memset(r, 0, sizeof(*r));
	r->id = id;
	r->fd = -1;
	snprintf(r->root, sizeof(r->root), "/tmp/mstepd-test.XXXXXX");
	CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(r->root));
	chmod(r->root, root_mode);
	snprintf(spool, sizeof(spool), "%s/spool", r->root);
	mkdir(spool, 0755);
	snprintf(r->dir, sizeof(r->dir), "%s/job.%u", spool, id);
	CU_ASSERT_EQUAL_FATAL(mkdir(r->dir, 0700), 0);
	/* the job's working directory is the user's, outside the spool */
	snprintf(r->work, sizeof(r->work), "/tmp/mstepd-work.XXXXXX");
	CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(r->work));
	chmod(r->work, 0755);
	r->uid = pw ? pw->pw_uid : 0;
	r->gid = pw ? pw->pw_gid : 0;
	snprintf(r->user, sizeof(r->user), "%s", pw ? "nobody" : "root");
	CU_ASSERT_EQUAL(chown(r->work, r->uid, r->gid), 0);
}

static void run_cleanup(struct run *r)
{
	if (r->fd >= 0)
		close(r->fd);
	if (r->end)
		meridian__job_end__free_unpacked(r->end, NULL);
	r->end = NULL;
	remove_tree(r->root);
	remove_tree(r->work);
}

/* The pieces of a LaunchJob a test changes. */
struct job_opts {
	const char *script;
	const char *work_dir; /* NULL: r->work */
	const char *std_out, *std_err;
	uint32_t kill_wait;
	char **argv;
	size_t nargv;
	char **env;
	size_t nenv;
	uint32_t *gpus;
	size_t ngpus;
};

static void write_launch(struct run *r, const struct job_opts *o)
{
	Meridian__LaunchJob lj = MERIDIAN__LAUNCH_JOB__INIT;
	Meridian__JobRecord job = MERIDIAN__JOB_RECORD__INIT;
	Meridian__JobDesc desc = MERIDIAN__JOB_DESC__INIT;
	Meridian__JobSpec spec = MERIDIAN__JOB_SPEC__INIT;
	Meridian__JobNodeAlloc a = MERIDIAN__JOB_NODE_ALLOC__INIT;
	Meridian__JobNodeAlloc *ap = &a;
	char path[512];
	uint8_t *buf;
	size_t n;

	desc.name = "t";
	desc.work_dir = (char *)(o->work_dir ? o->work_dir : r->work);
	desc.std_out = (char *)(o->std_out ? o->std_out : "");
	desc.std_err = (char *)(o->std_err ? o->std_err : "");
	desc.partition = "main";
	job.job_id = r->id;
	job.desc = &desc;
	job.user_id = r->uid;
	job.group_id = r->gid;
	job.user_name = r->user;
	job.state = MERIDIAN__JOB_STATE__JOB_RUNNING;
	job.nodes = "n1";
	job.batch_host = "n1";
	job.num_nodes = 1;
	job.ntasks = 1;
	a.node = "n1";
	a.cpus = 2;
	a.ntasks = 1;
	a.gpus = o->gpus;
	a.n_gpus = o->ngpus;
	job.alloc = &ap;
	job.n_alloc = 1;
	spec.script.data = (uint8_t *)o->script;
	spec.script.len = strlen(o->script);
	spec.argv = o->argv;
	spec.n_argv = o->nargv;
	spec.env = o->env;
	spec.n_env = o->nenv;
	lj.job = &job;
	lj.spec = &spec;
	lj.kill_wait = o->kill_wait;
	lj.cluster = "testcluster";
	n = meridian__launch_job__get_packed_size(&lj);
	buf = malloc(n);
	meridian__launch_job__pack(&lj, buf);
	snprintf(path, sizeof(path), "%s/%s", r->dir, SPOOL_LAUNCH_FILE);
	CU_ASSERT_EQUAL(write_file_atomic(path, buf, n, 0600), 0);
	free(buf);
}

/* Start mstepd as mnoded would (without the double fork: we wait for it). */
static void start(struct run *r, uint32_t id_arg, const char *limit_s)
{
	int sp[2];
	char idbuf[16], log[600];
	const char *m = mstepd_path(); /* malloc'd once, before the fork */

	CU_ASSERT_EQUAL_FATAL(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);
	snprintf(idbuf, sizeof(idbuf), "%u", id_arg ? id_arg : r->id);
	snprintf(log, sizeof(log), "%s/mstepd.log", r->root);
	r->pid = fork();
	if (r->pid == 0) {
		int devnull = open("/dev/null", O_RDWR);
		/* mnoded's log, as mnoded gives it: stderr */
		int logfd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
		dup2(logfd, 2);
		dup2(sp[1], 3);
		dup2(devnull, 0);
		dup2(devnull, 1);
		for (int fd = 4; fd < 256; fd++)
			close(fd);
		if (r->open_umask)
			umask(0);
		if (limit_s)
			execl(m, "mstepd", "-s", r->dir, "-j", idbuf, "-N",
			      "n1", "-v", "-t", limit_s, (char *)NULL);
		else
			execl(m, "mstepd", "-s", r->dir, "-j", idbuf, "-N",
			      "n1", "-v", (char *)NULL);
		_exit(127);
	}
	close(sp[1]);
	r->fd = sp[0];
}

/* Wait for mstepd to exit (at most secs) and load the end file. */
static bool finish(struct run *r, int secs)
{
	char path[512], *data;
	size_t n;

	for (int i = 0; i < secs * 20; i++) {
		if (waitpid(r->pid, &r->status, WNOHANG) == r->pid)
			break;
		if (i == secs * 20 - 1) {
			fprintf(stderr, "mstepd did not exit in %d s\n", secs);
			kill(r->pid, SIGKILL);
			waitpid(r->pid, &r->status, 0);
			return false;
		}
		usleep(50 * 1000);
	}
	snprintf(path, sizeof(path), "%s/%s", r->dir, SPOOL_END_FILE);
	if (read_file(path, &data, &n) < 0) {
		fprintf(stderr, "no end file %s\n", path);
		return false;
	}
	r->end = meridian__job_end__unpack(NULL, n, (uint8_t *)data);
	free(data);
	if (r->end && getenv("MSTEPD_TEST_VERBOSE"))
		fprintf(stderr, "end: state %d exit %d:%d reason '%s'\n",
			r->end->state, r->end->exit_code, r->end->term_signal,
			r->end->reason);
	return r->end != NULL;
}

static char *read_out(const struct run *r, const char *name)
{
	char path[512], *data;

	snprintf(path, sizeof(path), "%s/%s", r->work, name);
	if (read_file(path, &data, NULL) < 0)
		return NULL;
	return data;
}

/* Wait until the job's output holds what. */
static bool wait_output(const struct run *r, const char *name, const char *what,
			int secs)
{
	for (int i = 0; i < secs * 20; i++) {
		char *out = read_out(r, name);
		bool yes = out && strstr(out, what);
		free(out);
		if (yes)
			return true;
		usleep(50 * 1000);
	}
	return false;
}

static void send_signal(int fd, uint32_t id, int sig, bool cancel,
			const char *reason)
{
	Meridian__SignalJob sj = MERIDIAN__SIGNAL_JOB__INIT;
	uint8_t hb[MER_FRAME_HDR_LEN];
	struct frame_hdr h;
	struct mer_error err;
	uint8_t *buf, body[256];
	size_t len;

	sj.job_id = id;
	sj.signal = sig;
	sj.cancel = cancel;
	sj.reason = (char *)reason;
	buf = frame_build(MERIDIAN__MSG_TYPE__MSG_SIGNAL_JOB, 0, 7, NULL, 0,
			  &sj.base, &len);
	CU_ASSERT_EQUAL(write_all(fd, buf, len), 0);
	free(buf);
	/* the Ack */
	CU_ASSERT_EQUAL_FATAL(read_all(fd, hb, sizeof(hb)), 0);
	CU_ASSERT_EQUAL_FATAL(frame_hdr_decode(hb, &h, &err), 0);
	CU_ASSERT_EQUAL(h.flags, MER_FRAME_REPLY);
	CU_ASSERT_EQUAL(h.req_id, 7);
	CU_ASSERT_TRUE_FATAL(h.cred_len + h.body_len <= sizeof(body));
	if (h.cred_len + h.body_len)
		CU_ASSERT_EQUAL(read_all(fd, body, h.cred_len + h.body_len), 0);
}

/* Every file mstepd left in the job directory is owner-only: the script
 * the user's (0700, to run it), the rest root's and 0600 (launch, end,
 * pgid); and there is nothing else (its log is mnoded's). */
static void check_job_dir_modes(const struct run *r)
{
	const char *want[] = {SPOOL_LAUNCH_FILE, SPOOL_END_FILE,
			      SPOOL_PGID_FILE, SPOOL_SCRIPT_FILE};
	struct dirent *de;
	DIR *d = opendir(r->dir);
	size_t seen = 0;

	CU_ASSERT_PTR_NOT_NULL_FATAL(d);
	while ((de = readdir(d))) {
		bool script = !strcmp(de->d_name, SPOOL_SCRIPT_FILE);
		mode_t mode = script ? 0700 : 0600;
		uid_t uid = script ? r->uid : 0;
		char path[sizeof(r->dir) + 256 + 2];
		struct stat st;
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", r->dir, de->d_name);
		CU_ASSERT_EQUAL_FATAL(lstat(path, &st), 0);
		if ((st.st_mode & 07777) != mode || st.st_uid != uid)
			printf("\n  %s: mode %04o uid %u, expected %04o uid "
			       "%u ",
			       path, (unsigned)(st.st_mode & 07777),
			       (unsigned)st.st_uid, (unsigned)mode,
			       (unsigned)uid);
		CU_ASSERT_EQUAL(st.st_mode & 07777, mode);
		CU_ASSERT_EQUAL(st.st_uid, uid);
		for (size_t i = 0; i < sizeof(want) / sizeof(*want); i++)
			seen += !strcmp(de->d_name, want[i]);
	}
	closedir(d);
	CU_ASSERT_EQUAL(seen, sizeof(want) / sizeof(*want));
}

static void test_completed_as_user(void)
{
	struct run r;
	struct job_opts o = {0};
	char *argv[] = {"hello", "world"};
	char *env[] = {"FOO=bar", "PATH=/usr/bin:/bin"};
	char expect[512], *out, path[512];
	struct stat st;

	if (skip())
		return;
	run_init(&r, 101, 0755);
	/* what mstepd creates must not depend on the umask it is given */
	r.open_umask = true;
	o.script = "#!/bin/sh\n"
		   "echo \"uid=$(id -u) job=$SLURM_JOB_ID name=$SLURM_JOB_NAME "
		   "args=$1,$2 foo=$FOO pwd=$(pwd)\"\n"
		   "echo \"env=$ENVIRONMENT mjob=$MERIDIAN_JOB_ID "
		   "node=$SLURMD_NODENAME cluster=$SLURM_CLUSTER_NAME\"\n"
		   "echo to-stderr >&2\n";
	o.argv = argv;
	o.nargv = 2;
	o.env = env;
	o.nenv = 2;
	write_launch(&r, &o);
	start(&r, 0, NULL);
	CU_ASSERT_TRUE_FATAL(finish(&r, 20));
	CU_ASSERT_EQUAL(WEXITSTATUS(r.status), 0);
	CU_ASSERT_EQUAL(r.end->job_id, 101);
	CU_ASSERT_EQUAL(r.end->state, MERIDIAN__JOB_STATE__JOB_COMPLETED);
	CU_ASSERT_EQUAL(r.end->exit_code, 0);
	CU_ASSERT_EQUAL(r.end->term_signal, 0);
	CU_ASSERT(r.end->end_time >= r.end->start_time);
	CU_ASSERT(r.end->start_time > 0);

	out = read_out(&r, "meridian-101.out");
	CU_ASSERT_PTR_NOT_NULL_FATAL(out);
	snprintf(expect, sizeof(expect),
		 "uid=%u job=101 name=t args=hello,world foo=bar pwd=%s\n",
		 (unsigned)r.uid, r.work);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, expect));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "env=BATCH mjob=101 node=n1 "
					   "cluster=testcluster\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "to-stderr\n"));
	free(out);
	/* created by the user, not by root, with the user's usual mode: it
	 * is no spool file */
	snprintf(path, sizeof(path), "%s/meridian-101.out", r.work);
	CU_ASSERT_EQUAL_FATAL(stat(path, &st), 0);
	CU_ASSERT_EQUAL(st.st_uid, r.uid);
	CU_ASSERT_EQUAL(st.st_mode & 07777, 0644);
	/* the script in the spool is the user's */
	snprintf(path, sizeof(path), "%s/%s", r.dir, SPOOL_SCRIPT_FILE);
	CU_ASSERT_EQUAL_FATAL(stat(path, &st), 0);
	CU_ASSERT_EQUAL(st.st_uid, r.uid);
	CU_ASSERT_EQUAL(st.st_mode & 0777, 0700);
	/* mstepd's socket is gone once the end is there */
	snprintf(path, sizeof(path), "%s/%s", r.dir, SPOOL_SOCK_FILE);
	CU_ASSERT_NOT_EQUAL(access(path, F_OK), 0);
	check_job_dir_modes(&r);
	run_cleanup(&r);
}

static void test_failed_exit_code(void)
{
	struct run r;
	struct job_opts o = {0};

	if (skip())
		return;
	run_init(&r, 102, 0755);
	o.script = "#!/bin/sh\nexit 3\n";
	write_launch(&r, &o);
	start(&r, 0, NULL);
	CU_ASSERT_TRUE_FATAL(finish(&r, 20));
	CU_ASSERT_EQUAL(r.end->state, MERIDIAN__JOB_STATE__JOB_FAILED);
	CU_ASSERT_EQUAL(r.end->exit_code, 3);
	CU_ASSERT_EQUAL(r.end->term_signal, 0);
	CU_ASSERT_STRING_EQUAL(r.end->reason, "NonZeroExitCode");
	run_cleanup(&r);
}

static void test_bad_work_dir(void)
{
	struct run r;
	struct job_opts o = {0};

	if (skip())
		return;
	run_init(&r, 103, 0755);
	o.script = "#!/bin/sh\necho never\n";
	o.work_dir = "/nonexistent/meridian-dir";
	write_launch(&r, &o);
	start(&r, 0, NULL);
	CU_ASSERT_TRUE_FATAL(finish(&r, 20));
	CU_ASSERT_EQUAL(r.end->state, MERIDIAN__JOB_STATE__JOB_FAILED);
	CU_ASSERT_NOT_EQUAL(r.end->exit_code, 0);
	CU_ASSERT_PTR_NOT_NULL(
		strstr(r.end->reason, "/nonexistent/meridian-dir"));
	run_cleanup(&r);
}

/* Cancel over stepd.sock, as a restarted mnoded would: TERM to the whole
 * process group, and a background process of the job dies too. */
static void test_cancel_over_socket(void)
{
	struct run r;
	struct job_opts o = {0};
	struct mer_error err;
	char sock[512], launch[512], *out;
	long bg = 0;
	int fd = -1, lfd;

	if (skip())
		return;
	run_init(&r, 104, 0755);
	o.script = "#!/bin/sh\n"
		   "sleep 300 &\n"
		   "echo bg=$!\n"
		   "sleep 300\n";
	o.kill_wait = 5;
	write_launch(&r, &o);
	start(&r, 0, NULL);
	CU_ASSERT_TRUE_FATAL(wait_output(&r, "meridian-104.out", "bg=", 10));
	snprintf(sock, sizeof(sock), "%s/%s", r.dir, SPOOL_SOCK_FILE);
	/* while the mnoded that started it is there, mstepd does not listen,
	 * and holds its launch file locked */
	CU_ASSERT_NOT_EQUAL(access(sock, F_OK), 0);
	snprintf(launch, sizeof(launch), "%s/%s", r.dir, SPOOL_LAUNCH_FILE);
	lfd = open(launch, O_RDONLY);
	CU_ASSERT_TRUE_FATAL(lfd >= 0);
	CU_ASSERT_TRUE(flock(lfd, LOCK_EX | LOCK_NB) < 0 &&
		       errno == EWOULDBLOCK);
	close(lfd);
	/* that mnoded dies: the next one finds stepd.sock */
	close(r.fd);
	r.fd = -1;
	for (int i = 0; i < 100 && fd < 0; i++) {
		fd = unix_connect(sock, &err);
		if (fd < 0)
			usleep(50 * 1000);
	}
	CU_ASSERT_TRUE_FATAL(fd >= 0);
	out = read_out(&r, "meridian-104.out");
	CU_ASSERT_PTR_NOT_NULL_FATAL(out);
	bg = strtol(strstr(out, "bg=") + 3, NULL, 10);
	free(out);
	CU_ASSERT_TRUE(bg > 0);
	send_signal(fd, 104, 0, true, "cancelled by test");
	CU_ASSERT_TRUE_FATAL(finish(&r, 20));
	close(fd);
	CU_ASSERT_EQUAL(r.end->state, MERIDIAN__JOB_STATE__JOB_CANCELLED);
	CU_ASSERT_STRING_EQUAL(r.end->reason, "cancelled by test");
	CU_ASSERT_EQUAL(r.end->term_signal, SIGTERM);
	/* nothing of the job is left */
	if (bg > 0)
		CU_ASSERT_TRUE(kill((pid_t)bg, 0) < 0 && errno == ESRCH);
	run_cleanup(&r);
}

/* A job that ignores SIGTERM: TIMEOUT, then SIGKILL after KillWait. */
static void test_timeout_kill_wait(void)
{
	struct run r;
	struct job_opts o = {0};
	time_t t0;
	char *out;

	if (skip())
		return;
	run_init(&r, 105, 0755);
	o.script = "#!/bin/sh\n"
		   "trap 'echo got TERM' TERM\n"
		   "echo ready\n"
		   "while :; do sleep 0.1; done\n";
	o.kill_wait = 1;
	write_launch(&r, &o);
	t0 = time(NULL);
	start(&r, 0, "1");
	CU_ASSERT_TRUE_FATAL(finish(&r, 20));
	CU_ASSERT(time(NULL) - t0 >= 2); /* 1 s limit + 1 s KillWait */
	CU_ASSERT_EQUAL(r.end->state, MERIDIAN__JOB_STATE__JOB_TIMEOUT);
	CU_ASSERT_EQUAL(r.end->term_signal, SIGKILL);
	CU_ASSERT_STRING_EQUAL(r.end->reason, "TimeLimit");
	out = read_out(&r, "meridian-105.out");
	CU_ASSERT_PTR_NOT_NULL_FATAL(out);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "got TERM"));
	free(out);
	run_cleanup(&r);
}

/* A plain signal over fd 3 reaches the script; it decides what to do. */
static void test_plain_signal(void)
{
	struct run r;
	struct job_opts o = {0};

	if (skip())
		return;
	run_init(&r, 106, 0755);
	o.script = "#!/bin/sh\n"
		   "trap 'echo got USR1; exit 7' USR1\n"
		   "echo ready\n"
		   "while :; do sleep 0.1; done\n";
	write_launch(&r, &o);
	start(&r, 0, NULL);
	CU_ASSERT_TRUE_FATAL(wait_output(&r, "meridian-106.out", "ready", 10));
	send_signal(r.fd, 106, SIGUSR1, false, "");
	CU_ASSERT_TRUE_FATAL(finish(&r, 20));
	CU_ASSERT_EQUAL(r.end->state, MERIDIAN__JOB_STATE__JOB_FAILED);
	CU_ASSERT_EQUAL(r.end->exit_code, 7);
	CU_ASSERT_TRUE(wait_output(&r, "meridian-106.out", "got USR1", 1));
	run_cleanup(&r);
}

/* Killed by a signal it did not ask for: FAILED with Slurm's reason. */
static void test_killed_by_signal(void)
{
	struct run r;
	struct job_opts o = {0};

	if (skip())
		return;
	run_init(&r, 107, 0755);
	o.script = "#!/bin/sh\nkill -SEGV $$\n";
	write_launch(&r, &o);
	start(&r, 0, NULL);
	CU_ASSERT_TRUE_FATAL(finish(&r, 20));
	CU_ASSERT_EQUAL(r.end->state, MERIDIAN__JOB_STATE__JOB_FAILED);
	CU_ASSERT_EQUAL(r.end->exit_code, 0);
	CU_ASSERT_EQUAL(r.end->term_signal, SIGSEGV);
	CU_ASSERT_PTR_NOT_NULL(strstr(r.end->reason, "RaisedSignal:11"));
	run_cleanup(&r);
}

/* -o/-e patterns, GPUs in the environment, and a spool under a 0700
 * directory the job's user cannot traverse. */
static void test_patterns_gpus_private_spool(void)
{
	struct run r;
	struct job_opts o = {0};
	uint32_t gpus[] = {1, 3};
	char *out, *err;

	if (skip())
		return;
	run_init(&r, 108, 0700);
	o.script = "#!/bin/sh\n"
		   "echo \"cvd=$CUDA_VISIBLE_DEVICES n=$SLURM_GPUS_ON_NODE "
		   "home=$HOME user=$USER part=$SLURM_JOB_PARTITION\"\n"
		   "echo oops >&2\n";
	o.std_out = "out-%x-%j.txt";
	o.std_err = "err-%u-%j.txt";
	o.gpus = gpus;
	o.ngpus = 2;
	write_launch(&r, &o);
	start(&r, 0, NULL);
	CU_ASSERT_TRUE_FATAL(finish(&r, 20));
	CU_ASSERT_EQUAL(r.end->state, MERIDIAN__JOB_STATE__JOB_COMPLETED);
	out = read_out(&r, "out-t-108.txt");
	CU_ASSERT_PTR_NOT_NULL_FATAL(out);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "cvd=1,3 n=2 "));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "user="));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "part=main"));
	CU_ASSERT_PTR_NULL(strstr(out, "oops"));
	free(out);
	{
		char name[128];
		snprintf(name, sizeof(name), "err-%s-108.txt", r.user);
		err = read_out(&r, name);
	}
	CU_ASSERT_PTR_NOT_NULL_FATAL(err);
	CU_ASSERT_STRING_EQUAL(err, "oops\n");
	free(err);
	run_cleanup(&r);
}

static void test_bad_launch(void)
{
	struct run r;
	struct job_opts o = {0};

	if (skip())
		return;
	run_init(&r, 109, 0755);
	o.script = "#!/bin/sh\necho never\n";
	write_launch(&r, &o);
	start(&r, 110, NULL); /* mstepd told another job id */
	/* the end file is there, for job 110 */
	CU_ASSERT_TRUE_FATAL(finish(&r, 20));
	CU_ASSERT_NOT_EQUAL(WEXITSTATUS(r.status), 0);
	CU_ASSERT_EQUAL(r.end->job_id, 110);
	CU_ASSERT_EQUAL(r.end->state, MERIDIAN__JOB_STATE__JOB_FAILED);
	CU_ASSERT_PTR_NOT_NULL(strstr(r.end->reason, "launch"));
	run_cleanup(&r);
}

/* mstepd keeps the job running when its mnoded goes away. */
static void test_survives_mnoded(void)
{
	struct run r;
	struct job_opts o = {0};

	if (skip())
		return;
	run_init(&r, 111, 0755);
	o.script = "#!/bin/sh\nsleep 1\necho done\n";
	write_launch(&r, &o);
	start(&r, 0, NULL);
	close(r.fd); /* "mnoded" dies */
	r.fd = -1;
	CU_ASSERT_TRUE_FATAL(finish(&r, 20));
	CU_ASSERT_EQUAL(r.end->state, MERIDIAN__JOB_STATE__JOB_COMPLETED);
	CU_ASSERT_TRUE(wait_output(&r, "meridian-111.out", "done", 1));
	run_cleanup(&r);
}

static CU_TestInfo tests[] = {
	{"completed as the job's user", test_completed_as_user},
	{"failed with exit code", test_failed_exit_code},
	{"bad working directory", test_bad_work_dir},
	{"cancel over stepd.sock", test_cancel_over_socket},
	{"timeout and KillWait", test_timeout_kill_wait},
	{"plain signal", test_plain_signal},
	{"killed by a signal", test_killed_by_signal},
	{"patterns, gpus, private spool", test_patterns_gpus_private_spool},
	{"bad launch file", test_bad_launch},
	{"survives mnoded", test_survives_mnoded},
	CU_TEST_INFO_NULL,
};

CUNIT_MAIN("mstepd run", tests)
