/*
 * mstepd.h - the step manager, started by mnoded: one per batch job on its
 * batch host, and one per node of each job step (mrun).
 *
 *   mstepd -s JOBDIR -j JOBID [-N NODENAME] [-v] [-t SECONDS]
 *   mstepd -s STEPDIR -j JOBID -S STEPID [-N NODENAME] [-v]
 *
 * mnoded starts mstepd (double fork, its own session) with fd 3 connected
 * to mnoded.  mstepd runs as root, independent of mnoded and mctld.
 *
 * Batch mode reads JOBDIR/launch (a LaunchJob), runs the batch script as
 * the job's user, enforces the time limit, takes signals and cancels from
 * mnoded (over fd 3 or JOBDIR/stepd.sock), and when the script is gone
 * writes JOBDIR/end (a JobEnd) and exits.
 *
 * Step mode (-S) reads STEPDIR/launch (a LaunchStep) and runs this node's
 * share of the step: it says hello to mrun's I/O listener, forks the
 * node's ranks when mrun says go, forwards their output and exits to
 * mrun, serves them PMI-1 and exchanges the PMI key-value space with the
 * step's other mstepds, and when every rank is gone writes STEPDIR/end
 * (a StepEnd) and exits.
 *
 * Either way its exit closes every connection it has, which is how mnoded
 * learns the job or step ended.  The directory is the contract between
 * mnoded and mstepd: its file names, and the one writer and one reader of
 * each file both daemons know, are src/common/spool.h's (see mnoded.h for
 * the whole spool layout).  Prototypes below are grouped by source file.
 */
#ifndef MER_MSTEPD_H
#define MER_MSTEPD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <event2/event.h>

#include "conn.h"
#include "iopath.h"
#include "log.h"
#include "meridian.pb-c.h"
#include "merr.h"
#include "spool.h"
#include "util.h"

/* The user a job runs as, from the passwd entry of its uid. */
struct env_user {
	const char *name;
	const char *home;
	const char *shell;
	uid_t uid;
	gid_t gid;
};

/* Why the job is ending, when not simply because its script exited. */
enum task_kill {
	TASK_KILL_NONE = 0,
	TASK_KILL_CANCEL,  /* SIGNAL_JOB cancel, or SIGTERM to mstepd */
	TASK_KILL_TIMEOUT, /* time limit */
};

/* mnoded connected to us (fd 3 or stepd.sock); several may exist. */
struct peer {
	struct mstepd *s;
	struct conn *conn;
	bool started_by; /* fd 3: the mnoded that started us */
	struct peer *next;
};

struct step;

/* The one context of mstepd, built in main() and passed down. */
struct mstepd {
	uint32_t job_id;
	char *dir;			/* the job (or step) directory */
	char *node;			/* this node's name */
	Meridian__LaunchJob *launch;	/* batch mode */
	const Meridian__JobRecord *job; /* launch->job, or the step's job */
	struct event_base *base;
	int listen_fd; /* stepd.sock once bound, else -1 */
	struct event *listen_ev;
	int lock_fd; /* launch, flock()ed: "mstepd lives" */
	struct peer *peers;
	int64_t time_limit_s; /* 0: none */

	/* the batch script (tasks.c) */
	pid_t pid;  /* 0 before start, after reaping */
	int status; /* from waitpid, valid once reaped */
	bool reaped;
	int status_fd;	   /* read end of the child's error pipe */
	char *setup_error; /* why the child could not exec, or NULL */
	enum task_kill kill;
	char *kill_reason;
	char *err_path; /* the script's stderr file, for the end's notice */
	int64_t start_time;
	struct event *limit_ev; /* time limit */
	struct event *kill_ev;	/* KillWait after SIGTERM */
	struct event *drain_ev; /* waiting for the job's last processes */
	int64_t drain_started_ms;
	bool finished; /* end written */

	/* step mode (-S): everything else lives in step (step.c) */
	bool step_mode;
	uint32_t step_id;
	struct step *step;
};

/* ---- step mode ---- */

/* Why mstepd ended a rank itself, for its TASK_EXIT and the node's end. */
enum rank_fate {
	RANK_FATE_NONE = 0,
	RANK_FATE_ABORTED,    /* it called PMI abort */
	RANK_FATE_HUNG,	      /* alive FinalizeTimeout after PMI finalize */
	RANK_FATE_COLLATERAL, /* killed with the others: an abort elsewhere,
			       * a kill or cancel, mrun gone, a failed start */
};

/* One rank of the step on this node. */
struct step_rank {
	uint32_t rank;	   /* in the step */
	uint32_t local;	   /* on this node: 0 .. nranks - 1 */
	pid_t pid;	   /* 0: never started */
	int status;	   /* from waitpid, once reaped */
	bool reaped;	   /* (or never started) */
	int status_fd;	   /* read end: why exec never came; -1 */
	char *setup_error; /* that message, once read */
	enum rank_fate fate;
	int abort_code;	      /* RANK_FATE_ABORTED: PMI abort's exitcode */
	char *why;	      /* the abort message, or why it was killed */
	const uint32_t *gpus; /* its GPUs (in the launch), node indices */
	size_t ngpus;
	char *cpus; /* the CPU list it is bound to; NULL: none */
};

/* How far the node's share has come. */
enum step_phase {
	STEP_SETUP = 0, /* before mrun said go */
	STEP_RUNNING,	/* ranks forked */
	STEP_DRAINING,	/* every rank reaped: killing leftovers, reading
			 * the last output */
	STEP_ENDED,	/* end sent and written: flushing, then exit */
};

struct step_io;	 /* step_io.c */
struct step_kvs; /* step_kvs.c */

/* This node's share of a job step. */
struct step {
	struct mstepd *s;
	Meridian__LaunchStep *ls;
	const Meridian__StepRecord *rec; /* ls->step */
	const Meridian__StepDesc *desc;	 /* rec->desc */
	const Meridian__StepNode *me;	 /* rec->nodes[node_index] */
	uint32_t node_index;
	uint32_t nnodes;
	uint32_t ntasks;	   /* in the whole step */
	bool pmi;		   /* --mpi=pmi1 or pmi2 */
	bool pmi2;		   /* --mpi=pmi2: PMI-2 served too */
	uint32_t finalize_timeout; /* s */

	/* who runs the ranks, and where */
	struct env_user user; /* strings malloc'd */
	bool switch_user;     /* mstepd is root */
	char *work_dir;
	char *ifname;	      /* NCCL_SOCKET_IFNAME; NULL */
	uint16_t master_port; /* node 0 picks it, STEP_GO says */

	struct step_rank *ranks; /* me->ntasks of them */
	size_t nranks;
	size_t nreaped;
	pid_t pgid;	/* the ranks' process group */
	pid_t pty_pgid; /* rank 0's session on a pty */

	struct step_io *io;
	struct step_kvs *kvs; /* NULL without PMI */

	enum step_phase phase;
	int64_t start_time;
	char *fail_reason; /* the share failed as a whole */
	bool cancelled;	   /* killed or cancelled */
	char *cancel_reason;
	struct event *kill_ev; /* SIGKILL after KillWait */
	struct event *drain_ev;
	int64_t drain_started_ms;
};

/* main.c */
/* Write the end of the job or share to the spool (spool.h): synced
 * unless an mnoded is connected to take it at once. */
int mstepd_write_end(const struct mstepd *s, const ProtobufCMessage *end,
		     struct mer_error *err);

/* env.c: the job's environment */
/* JobSpec.env plus the SLURM_* and MERIDIAN_* names scripts read, for the
 * batch script on node `node`.  HOME, USER, LOGNAME, SHELL (and PATH) are
 * set from u when the job's environment lacks them; TMPDIR is lj->tmpdir
 * when mnoded made one.  NULL terminated, malloc'd (env_free). */
char **env_build(const Meridian__LaunchJob *lj, const char *node,
		 const struct env_user *u);
void env_free(char **env);
/* Before a vfork: make env's SLURM_TASK_PID entry the one
 * env_set_task_pid writes into (an inherited one freed), so that the
 * child, which shares our memory, only writes digits. */
void env_reserve_task_pid(char **env);
/* The job's name: JobDesc.name, or "mbatch" for a script from stdin. */
const char *env_job_name(const Meridian__JobRecord *job);
/* The value of name in env, or NULL. */
const char *env_get(char *const *env, const char *name);
/* In the task's process between fork and exec: SLURM_TASK_PID=pid in env
 * (from env_build or env_build_step, which leave room for it; a second
 * call replaces the first).  Only writes memory, allocates nothing (the
 * entry is static; env_free knows it). */
void env_set_task_pid(char **env, pid_t pid);

/* Where a rank of a step is, for its environment. */
struct env_rank {
	uint32_t rank;	     /* in the step */
	uint32_t local_rank; /* on this node */
	uint16_t master_port;
	const char *ifname;   /* NCCL_SOCKET_IFNAME, NULL: not known */
	const uint32_t *gpus; /* its GPUs, node indices in PCI bus order */
	size_t ngpus;
	int pmi_fd; /* its end of the PMI socketpair; -1: none */
};
/* The environment of a rank of step ls on node `node` (ls->node_index
 * must be a node of the step, ls->step->desc set): StepDesc.env, the
 * job's names as env_build() sets them, then the step's (SLURM_STEP_ID,
 * SLURM_PROCID, RANK, WORLD_SIZE, MASTER_ADDR, CUDA_VISIBLE_DEVICES,
 * PMI_FD, ...).  NULL terminated, malloc'd (env_free). */
char **env_build_step(const Meridian__LaunchStep *ls, const char *node,
		      const struct env_user *u, const struct env_rank *r);
/* The step's rank count: StepRecord.ntasks, or its nodes' sum. */
uint32_t env_step_ntasks(const Meridian__StepRecord *st);

/* child.c: mstepd's children (the batch script, the ranks) before exec */
/* Who a child becomes: filled by mstepd before the fork (user points into
 * memory the child inherits). */
struct child_cred {
	const char *user; /* the user's name, for initgroups and messages */
	uid_t uid;
	gid_t gid;
	bool switch_user; /* mstepd is root: become uid/gid; else the child
			   * stays who mstepd is (already that user) */
	pid_t mstepd_pid; /* getpid() of mstepd before the fork */
	/* the supplementary groups, looked up before the fork
	 * (child_cred_groups): the child then only calls setgroups, as a
	 * vfork child must; NULL: the child calls initgroups */
	gid_t *groups;
	int ngroups;
};
/* Look up c's supplementary groups (getgrouplist) into c->groups, for a
 * child that must not call initgroups; free them with free(c->groups).
 * -1 with err when the user's groups cannot be had. */
int child_cred_groups(struct child_cred *c, struct mer_error *err);
/* In a forked child before exec: write the message to fd (the pipe that
 * tells mstepd why the child could not start) and _exit(code). */
void child_fail(int fd, int code, const char *fmt, ...)
	__attribute__((noreturn, format(printf, 3, 4)));
/*
 * The one place where a child of mstepd stops being root: take c's
 * groups, gid and uid (when c->switch_user), check that root cannot be
 * regained, and have the kernel SIGKILL the child should mstepd die
 * (PR_SET_PDEATHSIG, in every case).  Returns only when all of that
 * held; otherwise child_fail()s on status_fd with why ("... refusing to
 * run the WHAT", "mstepd died while starting the WHAT": what is "job" or
 * "rank").  Call it after whatever needs root (a terminal's chown, CPU
 * binding) and before anything done with the user's rights (chdir, the
 * user's files, exec).
 */
void child_drop_privileges(const struct child_cred *c, int status_fd,
			   const char *what);

/* tasks.c: the batch script's process group */
/* Write the script, fork it as the user.  -1 with err when it could not
 * even be started (the job then ends FAILED with err as reason). */
int tasks_start(struct mstepd *s, struct mer_error *err);
/* Deliver sig to the job's process group. */
void tasks_signal(struct mstepd *s, int sig);
/* SIGTERM now, SIGKILL after KillWait; the end state is CANCELLED or
 * TIMEOUT.  A second request while one is under way changes nothing. */
void tasks_terminate(struct mstepd *s, enum task_kill why, const char *reason);
/* SIGCHLD: reap; once the script is gone, finish the job. */
void tasks_reap(struct mstepd *s);
/* Write the end file for a job that could not start, and stop the loop. */
void tasks_fail(struct mstepd *s, const char *reason);
/* SIGKILL every process whose parent is mstepd (a subreaper, so the
 * orphans of a job or step are ours).  Returns how many were found. */
int tasks_kill_children(void);

/* step.c: a step's share on this node, from launch to end */
/* Read and check STEPDIR/launch and set s->step, s->job, s->node (node:
 * -N, or the step's node at node_index).  -1 with err. */
int step_load(struct mstepd *s, const char *node, struct mer_error *err);
/* Write an end (FAILED, reason) for a step whose launch could not even be
 * read, and stop.  mrun is not told: nothing says where it is. */
void step_fail_early(struct mstepd *s, const char *reason);
/* Set up, connect to mrun and say hello; the loop then waits for go.  On
 * failure the end is written (and mrun told when reachable). */
void step_start(struct mstepd *s);
/* SIGCHLD: reap ranks and orphans. */
void step_reap(struct mstepd *s);
/* SIGNAL_JOB from mnoded (its step, checked by the caller). */
void step_signal_job(struct mstepd *s, const Meridian__SignalJob *sj);
/* SIGTERM/SIGINT to mstepd: cancel the share. */
void step_terminate(struct mstepd *s, const char *reason);
void step_destroy(struct mstepd *s);
/* mrun said go (step_io.c): start the ranks. */
void step_go(struct step *st, const Meridian__StepGo *go);
/* Deliver sig to every local rank (their process groups). */
void step_signal(struct step *st, int sig);
/* End the share: SIGKILL every rank now (kill_wait 0) or SIGTERM and
 * SIGKILL kill_wait seconds later.  The end is CANCELLED with reason
 * unless a rank failed on its own first.  Once is enough. */
void step_kill(struct step *st, uint32_t kill_wait, const char *reason);
/* The share cannot go on (reason names why): kill the ranks, end FAILED. */
void step_fail(struct step *st, const char *reason);
/* A rank called PMI abort (step_kvs.c): kill every local rank. */
void step_rank_aborted(struct step *st, struct step_rank *r, int code,
		       const char *msg);
/* A rank is alive FinalizeTimeout after PMI finalize: kill it. */
void step_rank_hung(struct step *st, struct step_rank *r);
/* An output stream reached EOF (step_io.c): maybe the share is over. */
void step_check_drained(struct step *st);

/* step_fork.c: the ranks' processes */
/* Which GPUs and CPUs each local rank gets (st->ranks[].gpus, .cpus);
 * loads the node's topology unless binding is off.  A plan that cannot
 * be made is logged and the ranks run unbound.  -1 with err for a step
 * that asks for what this node does not have. */
int fork_prepare(struct step *st, struct mer_error *err);
/* Fork every local rank as the job's user.  -1 with err when one could
 * not be started (those before it are running). */
int fork_ranks(struct step *st, struct mer_error *err);

/* step_io.c: the connection to mrun, the ranks' output and input */
struct step_io *io_create(struct step *st);
void io_destroy(struct step_io *io); /* accepts NULL */
/* Connect to mrun (10 s at most) and send STEP_HELLO.  -1 with err. */
int io_connect(struct step_io *io, uint16_t kvs_port, struct mer_error *err);
/* Forward what fd (a pipe's read end, or a pty master; io owns it) gives
 * as stream 1 or 2 of rank r. */
void io_add_output(struct step_io *io, struct step_rank *r, uint32_t stream,
		   int fd);
/* Feed STEP_INPUT to fd (rank 0's stdin pipe or pty master; io owns it). */
void io_set_stdin(struct step_io *io, int fd, bool pty);
/* Forward what r's streams hold now, without waiting for more. */
void io_drain_rank(struct step_io *io, const struct step_rank *r);
/* How many output streams are still open; close them all. */
size_t io_outputs_open(const struct step_io *io);
void io_close_outputs(struct step_io *io);
/* One-way frames to mrun; dropped once mrun is gone. */
void io_task_exit(struct step_io *io, const Meridian__TaskExit *te);
void io_node_end(struct step_io *io, const Meridian__StepEnd *e);
/* Exit the loop once what was sent to mrun is flushed and mrun closed
 * (2 s at most). */
void io_finish(struct step_io *io);

/* step_kvs.c: PMI-1 for the ranks, the KVS between the step's nodes */
/* The PMI server, every local rank's socketpair, and on node 0 of a
 * multi-node step the KVS listener.  NULL with err. */
struct step_kvs *kvs_create(struct step *st, struct mer_error *err);
void kvs_destroy(struct step_kvs *kvs); /* accepts NULL */
/* Node 0: the KVS listener's port (0: none). */
uint16_t kvs_port(const struct step_kvs *kvs);
/* Node > 0 of a multi-node step: node 0's KVS port from STEP_GO (the
 * connection opens at the first barrier). */
int kvs_connect(struct step_kvs *kvs, uint16_t port, struct mer_error *err);
/* The rank's end of its PMI socketpair, for PMI_FD (-1 once started). */
int kvs_child_fd(const struct step_kvs *kvs, const struct step_rank *r);
/* The rank was forked (or never will be): close its end here, serve it. */
void kvs_rank_started(struct step_kvs *kvs, const struct step_rank *r);
/* The rank was reaped: forget its finalize timeout. */
void kvs_rank_reaped(struct step_kvs *kvs, const struct step_rank *r);

#endif
