/*
 * iopath.h - the names of a job's output files, from sbatch-style
 * patterns.  mstepd opens them and the commands show them, so both expand
 * the patterns here.  Pure: no I/O.
 */
#ifndef MER_IOPATH_H
#define MER_IOPATH_H

#include <stdint.h>

struct iopath_names {
	uint32_t job_id;
	const char *job_name;
	const char *user;
	const char *node; /* inserted as it is, never expanded again */
};

/* Expand an output pattern: %j job id, %x job name, %u user, %N node,
 * %A array master (the job id: no arrays yet), %a array index (0),
 * %J job id, %s step ("batch"), %n node index (0), %t task (0), %% a
 * percent sign; a number after % zero-pads (%5j).  An unknown %c is kept
 * as written.  malloc'd. */
char *iopath_expand(const char *pattern, const struct iopath_names *n);
/* The file for pattern (dflt when pattern is empty), relative to work_dir
 * unless absolute.  malloc'd. */
char *iopath_path(const char *pattern, const char *dflt, const char *work_dir,
		  const struct iopath_names *n);
#define IOPATH_DEFAULT_OUTPUT "meridian-%j.out"

#endif
