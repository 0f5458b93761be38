/*
 * iopath.h - the names of a job's output files, from sbatch-style
 * patterns.  mstepd opens them and the commands show them, so both expand
 * the patterns here.  Pure: no I/O.
 */
#ifndef MER_IOPATH_H
#define MER_IOPATH_H

#include <stdint.h>

#include <stdbool.h>

/* What a pattern can name.  Zero-initialise it: the step fields left
 * zero describe a batch script (step "batch", node index 0, task 0). */
struct iopath_names {
	uint32_t job_id;
	const char *job_name;
	const char *user;
	const char *node; /* inserted as it is, never expanded again */
	bool has_step;	  /* a job step (mrun): %s is step_id */
	uint32_t step_id;
	uint32_t node_index; /* the node's place in the step */
	uint32_t task;	     /* the rank */
	bool in_array;	     /* a task of a job array (mbatch --array) */
	uint32_t array_job_id, array_task_id;
};

/* Expand an output pattern: %j job id, %x job name, %u user, %N node,
 * %A the array's job id (the job id outside an array), %a the task id
 * (4294967294 outside an array, as Slurm writes it),
 * %J job id (with ".STEP" for a step, as Slurm), %s step id ("batch"
 * for the batch script), %n node index, %t task (rank), %% a percent
 * sign; a number after % zero-pads (%5j, %3t).  An unknown %c is kept as
 * written.  malloc'd. */
char *iopath_expand(const char *pattern, const struct iopath_names *n);
/* The file for pattern (dflt when pattern is empty), relative to work_dir
 * unless absolute.  malloc'd. */
char *iopath_path(const char *pattern, const char *dflt, const char *work_dir,
		  const struct iopath_names *n);
#define IOPATH_DEFAULT_OUTPUT "meridian-%j.out"
#define IOPATH_DEFAULT_ARRAY  "meridian-%A_%a.out" /* a task's */

#endif
