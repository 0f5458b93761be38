/*
 * mrun.h - mrun, which runs the ranks of a job step (Slurm's srun).
 *
 * mrun finds its job in the environment (MERIDIAN_JOB_ID, else
 * SLURM_JOB_ID) or allocates one (SUBMIT_JOB with interactive set, then
 * JOB_INFO until it runs), listens on a TCP port of its own, asks mctld for
 * a step (STEP_CREATE with that port and a random io_key) and serves the
 * step's I/O: every node's mstepd dials in and says STEP_HELLO, mrun
 * answers STEP_GO once node 0 has said where its KVS and MASTER_PORT are,
 * then prints the ranks' output, feeds its stdin to rank 0, passes signals
 * on, and ends the step when a rank fails.  It exits with the step's worst
 * status and gives back the allocation it made (JOB_COMPLETE).
 *
 * Prototypes are grouped by source file:
 *   mrun.c      main: options, the allocation, the step, the end
 *   mrun_io.c   the step's I/O server on a libevent loop
 *   mrun_lib.c  what needs no daemon (unit tested in test/test_mrun.c):
 *               the step and job descriptions from the options, the line
 *               splitter of --label, the worst-status rule, the key check
 */
#ifndef MER_MRUN_H
#define MER_MRUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <termios.h>

#include <event2/event.h>

#include "cmd.h"
#include "conn.h"
#include "jobopt.h"
#include "meridian.pb-c.h"

#define MRUN_IO_KEY_LEN 32
/* Seconds every node has to say hello (MERIDIAN_STEP_CONNECT_TIMEOUT). */
#define MRUN_HELLO_TIMEOUT 60
/* How often mrun asks mctld about a step whose nodes have not all said
 * hello (their launch may have failed). */
#define MRUN_WATCH_MS 1000
/* Seconds the nodes have to end once mrun killed the step. */
#define MRUN_KILL_TIMEOUT 30
/* A partial line of one rank longer than this is cut (--label). */
#define MRUN_LINE_MAX (1u << 20)

/* --- mrun_lib.c ------------------------------------------------------ */

/*
 * The job mrun runs in, from the values of MERIDIAN_JOB_ID and
 * SLURM_JOB_ID (either may be NULL; the first set one counts).  Returns 1
 * with *id, 0 when neither is set, -1 with err when the value is not a
 * job id.
 */
int mrun_job_from_env(const char *meridian_job_id, const char *slurm_job_id,
		      uint32_t *id, struct mer_error *err);

/* An absolute directory: dir (may be NULL) against cwd (may be NULL when
 * unknown).  malloc'd, or NULL when it cannot be made absolute. */
char *mrun_abs_dir(const char *dir, const char *cwd);

/* The base name of a program path ("/bin/hostname" -> "hostname"). */
const char *mrun_base_name(const char *path);

/*
 * Fill d (MERIDIAN__STEP_DESC__INIT'ed by the caller) from the options, the
 * program and its arguments, the resolved environment and the tasks'
 * working directory ("" or NULL: the job's).  Every pointer in d is
 * borrowed from the arguments, which must outlive d.  With --pty the step
 * is one task on one node.  in_job: inside an existing job, where the
 * allocation's options are not the step's (a --gpus total becomes GPUs per
 * task when it divides --ntasks).  Returns 0, or -1 with err.
 */
int mrun_step_desc(const struct jobopt *o, char **argv, size_t argc, char **env,
		   size_t nenv, const char *work_dir, bool in_job,
		   Meridian__StepDesc *d, struct mer_error *err);

/* What --mpi=list prints (the types --mpi= takes), as srun does. */
extern const char mrun_mpi_list[];

/*
 * Fill d (MERIDIAN__JOB_DESC__INIT'ed) for mrun's own allocation: the
 * options' nodes, tasks and GPUs (GPUs per task times the tasks when only
 * those are given), interactive set.  Pointers borrowed as above; name is
 * -J or the program's base name.
 */
void mrun_job_desc(const struct jobopt *o, const char *program,
		   const char *work_dir, const char *submit_dir,
		   Meridian__JobDesc *d);

/*
 * The --label line splitter: bytes of each (rank, stream) are cut into
 * lines, and each whole line is handed on, prefixed "RANK: " when label
 * is set, so that lines of different ranks never mix.  A line is handed on
 * when its '\n' comes, when it reaches MRUN_LINE_MAX (a '\n' is added),
 * or at a flush (the partial last line, '\n' added).  The lines one call
 * completes are handed on in one emit call.
 */
typedef void (*mrun_emit_fn)(int stream, const char *buf, size_t len,
			     void *arg);
struct mrun_lines;

struct mrun_lines *mrun_lines_create(uint32_t ntasks, bool label,
				     mrun_emit_fn emit, void *arg);
void mrun_lines_destroy(struct mrun_lines *l); /* accepts NULL */
/* stream 1 or 2; a rank >= ntasks or another stream is dropped. */
void mrun_lines_feed(struct mrun_lines *l, uint32_t rank, int stream,
		     const uint8_t *data, size_t len);
/* Hand on the partial lines of ranks first .. first + n - 1. */
void mrun_lines_flush(struct mrun_lines *l, uint32_t first, uint32_t n);
void mrun_lines_flush_all(struct mrun_lines *l);

/*
 * The step's status, worst first:
 *   MRUN_ABORTED    a rank that called PMI abort (MPI_Abort): the first
 *                   one stands, even when the ranks its node killed
 *                   because of it were reported before it
 *   MRUN_TRIGGER    a lost node that made mrun end the step: the first
 *                   one stands, later ones are its consequences (ranks
 *                   mrun killed)
 *   MRUN_FAILED     a rank that failed (then mrun ends the step under
 *                   --kill-on-bad-exit), a node's share FAILED, a node
 *                   lost or never seen
 *   MRUN_CANCELLED  a node's share CANCELLED
 *   MRUN_OK         COMPLETED
 * Within a class the larger value wins (an exit code, or 128 + signal),
 * then the lower rank.
 */
enum mrun_class {
	MRUN_OK = 0,
	MRUN_CANCELLED,
	MRUN_FAILED,
	MRUN_TRIGGER,
	MRUN_ABORTED,
};

struct mrun_status {
	enum mrun_class cls;
	int value;	 /* exit code, or 128 + signal */
	int term_signal; /* 0: none */
	int rank;	 /* -1: none */
	char reason[256];
};

void mrun_status_init(struct mrun_status *s);
/* A rank's status value: its exit code, or 128 + the signal. */
int mrun_task_value(int32_t exit_code, int32_t term_signal);
void mrun_status_merge(struct mrun_status *s, enum mrun_class cls, int value,
		       int term_signal, int rank, const char *reason);
/* Merge how a node's share ended (STEP_NODE_END). */
void mrun_status_merge_end(struct mrun_status *s, const Meridian__StepEnd *e);
/* "rank 3 on n2 exited with code 7", "rank 0 on n1 killed by signal 9",
 * "rank 1 on n1 aborted: ..." (the rank's own reason when it has one). */
void mrun_task_reason(const Meridian__TaskExit *t, const char *node, char *buf,
		      size_t n);
/* mrun's exit status: 0 when OK, else the value in 1 .. 255. */
int mrun_status_exit(const struct mrun_status *s);

/* --- mrun_io.c ------------------------------------------------------- */

enum mrun_node_state {
	MRUN_NODE_WAITING = 0, /* its mstepd has not said hello */
	MRUN_NODE_CONNECTED,
	MRUN_NODE_ENDED, /* STEP_NODE_END came */
	MRUN_NODE_LOST,	 /* gone without an end, or never came */
};

struct mrun;

struct mrun_peer;

struct mrun_node {
	struct mrun *m;
	uint32_t index;	  /* in step.nodes */
	const char *name; /* the step reply's */
	uint32_t first_rank, ntasks;
	struct mrun_peer *peer; /* its connection, once it said hello */
	enum mrun_node_state state;
	bool go_sent;
};

/* One connection to the listener: the argument of its callbacks. */
struct mrun_peer {
	struct mrun *m;
	struct conn *conn;
	struct mrun_node *node; /* NULL until its hello */
	struct mrun_peer *prev, *next;
};

/* The one context of a run: built in main() and passed down. */
struct mrun {
	struct cmd cmd;
	struct jobopt opt;
	char **argv; /* the program and its arguments (main's argv) */
	size_t argc;
	char **env; /* resolved --export */
	size_t nenv;
	char *work_dir, *submit_dir;
	char *user, *host;

	struct event_base *base;
	struct event *sig_ev[8];
	size_t nsig;

	/* the job */
	uint32_t job_id;
	bool allocated;	  /* mrun submitted it: it must give it back */
	bool job_running; /* the allocation is RUNNING */
	bool job_ended;	  /* it ended before the step could run */
	int64_t submit_ms;
	int poll_ms;
	bool queued_said;
	struct event *poll_ev;

	/* salloc (mrun_alloc.c): a command here, in the allocation */
	bool salloc;
	pid_t alloc_pid; /* the command, 0 when not running */
	bool alloc_done; /* it ran and ended */
	int alloc_exit;	 /* its exit status (128 + signal) */
	int alloc_signal;
	struct event *chld_ev, *watch_alloc_ev;

	/* the step */
	Meridian__StepDesc desc;
	Meridian__StepCreateReply *reply;
	uint32_t step_id;
	bool step_created;
	bool step_waiting;	/* --exclusive: for CPUs to be free */
	struct event *retry_ev; /* asks for the step again */
	char io_host[64];
	uint16_t io_port;
	uint8_t io_key[MRUN_IO_KEY_LEN];
	int listen_fd;
	struct conn_guard
		*guard;		 /* the step's listener, until all said hello */
	struct mrun_peer *peers; /* every open connection */
	size_t npending;	 /* of which have not said hello */
	struct mrun_node *nodes;
	size_t nnodes, nodes_connected, nodes_done;
	uint32_t ntasks; /* ranks 0 .. ntasks - 1 */
	bool go;	 /* node 0 said hello: kvs_port and master_port known */
	uint32_t kvs_port, master_port;
	struct event *hello_ev, *kill_ev;
	struct event *watch_ev; /* asks mctld while nodes are missing */
	int hello_timeout;	/* seconds */
	unsigned nstrangers;	/* connections refused before hello */
	bool killed;
	char kill_reason[256];
	int64_t last_sigint_ms;

	/* output */
	struct mrun_lines *lines; /* NULL: straight through */
	bool out_dead[3];

	/* stdin to rank 0 */
	int in_fd;     /* -1: not read (yet) */
	bool in_owned; /* in_fd was opened here */
	bool in_started, in_eof, in_pollable;
	struct event *in_ev, *in_timer;

	/* --pty */
	bool tty_raw;
	struct termios tty_saved;
	struct event *winch_ev;

	struct mrun_status status;
	bool interrupted; /* a signal ended the wait for the allocation */
	int rc;		  /* set when mrun itself failed: leave with it */
};

/* Open the listener and pick io_host and io_key.  0 or -1 (printed). */
int mrun_io_listen(struct mrun *m);
/* The step exists (m->reply): start serving its nodes. */
int mrun_io_start(struct mrun *m);
/* A signal mrun caught while the step runs. */
void mrun_io_signal(struct mrun *m, int sig);
/* Leave the terminal as it was, close everything; idempotent. */
void mrun_io_stop(struct mrun *m);
/* mrun_alloc.c: salloc.  Start the command (m->argv) with the job's
 * environment (mrun_alloc_env, NULL terminated, malloc'd); pass a signal
 * on; stop watching it and say the allocation goes.  The environment has
 * *nenv entries (jobopt_env_free). */
int mrun_alloc_start(struct mrun *m, const Meridian__JobRecord *job);
char **mrun_alloc_env(const struct mrun *m, const Meridian__JobRecord *job,
		      size_t *nenv);
void mrun_alloc_signal(struct mrun *m, int sig);
void mrun_alloc_end(struct mrun *m);

/* "mrun: ..." on stderr when -v was given at least level times. */
void mrun_verbose(const struct mrun *m, int level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void mrun_warn(const struct mrun *m, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif
