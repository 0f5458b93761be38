/*
 * mstepd.h - the step manager: one per batch job on its batch host.
 *
 *   mstepd -s JOBDIR -j JOBID [-N NODENAME] [-v] [-t SECONDS]
 *
 * mnoded starts mstepd (double fork, its own session) with fd 3 connected
 * to mnoded.  mstepd runs as root, independent of mnoded and mctld: it
 * reads JOBDIR/launch, runs the batch script as the job's user, enforces
 * the time limit, takes signals and cancels from mnoded (over fd 3 or
 * JOBDIR/stepd.sock), and when the script is gone writes JOBDIR/end and
 * exits.  Its exit closes every connection it has, which is how mnoded
 * learns the job ended.
 *
 * The job directory is the contract between mnoded and mstepd; these are
 * the names of its files (see mnoded.h for the whole spool layout).
 * Prototypes below are grouped by source file.
 */
#ifndef MER_MSTEPD_H
#define MER_MSTEPD_H

#define MSTEPD_LAUNCH_FILE "launch"    /* packed LaunchJob, by mnoded */
#define MSTEPD_SCRIPT_FILE "script"    /* the batch script, the user's */
#define MSTEPD_SOCK_FILE "stepd.sock"  /* mstepd listens, root only */
#define MSTEPD_LOG_FILE "mstepd.log"
#define MSTEPD_END_FILE "end"          /* packed JobEnd, written once */
#define MSTEPD_PGID_FILE "pgid"        /* "PGID UID\n" of the running job */
#define MSTEPD_MNODED_FD 3             /* mstepd's connection to mnoded */

#ifndef MSTEPD_CONTRACT_ONLY

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
	struct peer *next;
};

/* The one context of mstepd, built in main() and passed down. */
struct mstepd {
	uint32_t job_id;
	char *dir;              /* the job directory */
	char *node;             /* this node's name */
	Meridian__LaunchJob *launch;
	const Meridian__JobRecord *job; /* launch->job */
	struct event_base *base;
	int listen_fd;
	struct event *listen_ev;
	struct peer *peers;
	int64_t time_limit_s;   /* 0: none */

	/* the batch script (tasks.c) */
	pid_t pid;              /* 0 before start, after reaping */
	int status;             /* from waitpid, valid once reaped */
	bool reaped;
	int status_fd;          /* read end of the child's error pipe */
	char *setup_error;      /* why the child could not exec, or NULL */
	enum task_kill kill;
	char *kill_reason;
	int64_t start_time;
	struct event *limit_ev; /* time limit */
	struct event *kill_ev;  /* KillWait after SIGTERM */
	struct event *drain_ev; /* waiting for the job's last processes */
	int64_t drain_started_ms;
	bool finished;          /* end written */
};

/* env.c: the job's environment */
/* JobSpec.env plus the SLURM_* and MERIDIAN_* names scripts read, for the
 * batch script on node `node`.  HOME, USER, LOGNAME, SHELL (and PATH) are
 * set from u when the job's environment lacks them.  NULL terminated,
 * malloc'd (env_free). */
char **env_build(const Meridian__LaunchJob *lj, const char *node,
		 const struct env_user *u);
void env_free(char **env);
/* The job's name: JobDesc.name, or "mbatch" for a script from stdin. */
const char *env_job_name(const Meridian__JobRecord *job);
/* The value of name in env, or NULL. */
const char *env_get(char *const *env, const char *name);

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

#endif /* MSTEPD_CONTRACT_ONLY */
#endif
