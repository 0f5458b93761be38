/*
 * spool.h - the contract between mnoded and mstepd: the files of a batch
 * job's or a step share's directory in the spool (SPOOL/job.<id>/,
 * SPOOL/step.<job>.<step>/; see mnoded.h for the whole layout).
 *
 * The directory is all the two daemons share: mnoded may die and come
 * back while mstepd runs, and whatever it then knows of the job or step it
 * reads here.  Each file has exactly one writer and one reader, both
 * below:
 *
 *   launch  by mnoded before mstepd starts; read by mstepd
 *   pgid    by mstepd once the job's or ranks' process group exists; read
 *           by mnoded when mstepd died without an end, to kill what is
 *           left of that group
 *   end     by mstepd when the job or share is over (or by mnoded for an
 *           mstepd that could not start or died); read by mnoded
 *
 * Every file is 0600 (root's: launch holds the job's environment and a
 * step's io_key).  A directory outlives its job as a spare that the
 * next job takes (mnoded's unit.c): launch, pgid and end emptied, not
 * removed, since each inode a job makes and frees costs the spool's file
 * system a measured share of the node's CPU at hundreds of jobs a second
 * (ext4 without a journal scans past every inode freed in the last half
 * minute for each one it makes).  So every file here is written in
 * place, and an empty one reads as not there (ENOENT): add no file, and
 * remove none, without need.
 *
 * end is synced before it is the only record of how the job ended: it
 * must survive a machine crash, or the job would be reported lost after
 * it ran.  mstepd syncs it when no mnoded is connected; else mnoded takes
 * the end at once, and syncs it itself when it cannot hand it to mctld at
 * once (not connected, the connection lost, no acknowledgement by the
 * next heartbeat).  A sync covers the file, its directory and the spool
 * (the directory's name).  One write of a few hundred bytes into an
 * empty file is seen whole or not at all after a crash on a journalled
 * file system (the data goes out before the size that covers it); a torn
 * one does not decode, or names no job and is refused (below).  launch
 * is written whole before mstepd starts, so mstepd never sees it in the
 * making; pgid is not synced, since a crash that loses it ended the
 * processes it names, and a torn one is refused by its reader.
 *
 * Errors: -1 (or NULL) with errno and, when err is not NULL, a sentence
 * naming the file.  ENOENT: the file is not there, or empty; EBADMSG: it
 * is there but is not what it should be (undecodable, torn, another
 * job's).  A torn protobuf file cut exactly between two fields can
 * decode; the readers check what identifies the job or step, so one cut
 * before those fails too.  Nothing here logs or exits.
 */
#ifndef MER_SPOOL_H
#define MER_SPOOL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "meridian.pb-c.h"
#include "merr.h"

#define SPOOL_LAUNCH_FILE "launch"     /* packed LaunchJob or LaunchStep */
#define SPOOL_SCRIPT_FILE "script"     /* the batch script, the user's */
#define SPOOL_SOCK_FILE	  "stepd.sock" /* mstepd listens, root only */
#define SPOOL_END_FILE	  "end"	       /* packed JobEnd or StepEnd */
#define SPOOL_PGID_FILE                                                        \
	"pgid"		  /* "PGID UID\n" of the running job or                \
			   * of the step's ranks */
#define SPOOL_MNODED_FD 3 /* mstepd's fd connected to mnoded */

/* "dir/name", malloc'd (the caller frees it). */
char *spool_path(const char *dir, const char *name);

/* ---- launch ---- */

/* Write dir/launch to hold the len bytes of body (a packed LaunchJob or
 * LaunchStep), 0600 whatever the umask.  Not fsync'ed: it matters only
 * while the job's processes live, and a machine crash ends those anyway. */
int spool_write_launch(const char *dir, const void *body, size_t len,
		       struct mer_error *err);
/* The modification time of dir/launch: how long ago mnoded started the
 * mstepd.  0, or -1 with errno (ENOENT: no launch file, or an empty
 * one). */
int spool_launch_mtime(const char *dir, time_t *mtime, struct mer_error *err);
/* dir/launch as the LaunchJob of job job_id (its job record set and
 * naming that job).  Free with meridian__launch_job__free_unpacked. */
Meridian__LaunchJob *spool_read_launch_job(const char *dir, uint32_t job_id,
					   struct mer_error *err);
/* dir/launch as a LaunchStep; whether it suits this mstepd is the
 * caller's to check.  Free with meridian__launch_step__free_unpacked. */
Meridian__LaunchStep *spool_read_launch_step(const char *dir,
					     struct mer_error *err);

/* ---- end ---- */

/* Pack end (a JobEnd or a StepEnd) into dir/end, 0600, and fsync it and
 * the names leading to it.  _unsynced: no fsync, for an mstepd whose
 * mnoded is there to take the end at once; mnoded syncs it
 * (spool_sync_end) whenever it cannot hand it to mctld at once. */
int spool_write_end(const char *dir, const ProtobufCMessage *end,
		    struct mer_error *err);
int spool_write_end_unsynced(const char *dir, const ProtobufCMessage *end,
			     struct mer_error *err);
/* fsync dir/end, dir and the spool above it (the names leading to it). */
int spool_sync_end(const char *dir, struct mer_error *err);
/* dir/end as the JobEnd of job job_id.  Free with
 * meridian__job_end__free_unpacked. */
Meridian__JobEnd *spool_read_job_end(const char *dir, uint32_t job_id,
				     struct mer_error *err);
/* dir/end as the StepEnd of step job_id.step_id.  Free with
 * meridian__step_end__free_unpacked. */
Meridian__StepEnd *spool_read_step_end(const char *dir, uint32_t job_id,
				       uint32_t step_id, struct mer_error *err);

/* ---- pgid ---- */

/* Record the process group pgid (> 1) whose processes run as uid, in
 * dir/pgid, 0600. */
int spool_write_pgid(const char *dir, pid_t pgid, uid_t uid,
		     struct mer_error *err);
/* Read dir/pgid back; *pgid > 1.  EBADMSG for anything but what
 * spool_write_pgid writes. */
int spool_read_pgid(const char *dir, pid_t *pgid, uid_t *uid,
		    struct mer_error *err);

#endif
