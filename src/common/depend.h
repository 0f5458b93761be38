/*
 * depend.h - job dependencies as --dependency writes them (sbatch's form):
 *
 *   TYPE:JOBID[:JOBID...] joined by ',' (all must hold) or '?' (any one),
 *   TYPE one of after (started or cancelled; "after:ID+MIN" MIN minutes
 *   after that), afterany (ended), afterok (ended COMPLETED), afternotok
 *   (ended in any other way), aftercorr (task i of an array after task
 *   i of the array named ended COMPLETED; a job not in an array, or on
 *   one that is not, as afterok); or singleton (no other job of the same
 *   name and user runs, nor waits with a lower id).
 *
 * The kinds' numbers are meridian.proto's DepKind.  Bounded: at most
 * DEP_MAX elements, DEP_TEXT_MAX bytes of text.
 */
#ifndef MER_DEPEND_H
#define MER_DEPEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "merr.h"

#define DEP_MAX	     128
#define DEP_TEXT_MAX 4096

enum dep_kind {
	DEP_AFTER = 1,
	DEP_AFTERANY = 2,
	DEP_AFTEROK = 3,
	DEP_AFTERNOTOK = 4,
	DEP_AFTERCORR = 5,
	DEP_SINGLETON = 6,
};

struct dep {
	enum dep_kind kind;
	uint32_t job_id;  /* 0 for singleton */
	uint32_t minutes; /* after:ID+MIN */
};

/* The parsed list; v malloc'd, freed by dep_list_free. */
struct dep_list {
	struct dep *v;
	size_t n;
	bool any; /* '?': any one element; else all */
};

/* 0, or -1 with err naming what is wrong and the form expected; what
 * names the option ("--dependency"). */
int dep_parse(const char *s, const char *what, struct dep_list *out,
	      struct mer_error *err);
void dep_list_free(struct dep_list *l); /* accepts an empty one */
/* "afterok", ...; "?" for a number that is not a kind. */
const char *dep_kind_name(int kind);

#endif
