/*
 * array.h - job arrays as --array writes them (sbatch's form):
 *
 *   RANGE[,RANGE...][%MAX]   RANGE one of N, N-M or N-M:STEP
 *
 * e.g. 0-99, 1,3,5-9, 0-99:4, 0-15%4 (at most 4 tasks running at once).
 * A set of task ids is a bitmap, bit i for task i (the form a job record
 * keeps its pending tasks in); array_fold writes one back as squeue
 * shows it ("0-96:4", "1,3,5-9").  Bounded: task ids below the limit the
 * caller gives (MaxArraySize), ARRAY_TEXT_MAX bytes of text.
 */
#ifndef MER_ARRAY_H
#define MER_ARRAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "merr.h"

#define ARRAY_TEXT_MAX 4096

struct array_spec {
	uint8_t *bits; /* malloc'd, nbytes long: bit i set for task i */
	size_t nbytes;
	uint32_t count, min, max;
	uint32_t step;	      /* the ids' common step, 1 when not regular */
	uint32_t max_running; /* %MAX, 0 none */
};

/* Parse s; task ids must be below limit.  0, or -1 with err naming what
 * is wrong and the form expected; what names the option ("--array"). */
int array_parse(const char *s, const char *what, uint32_t limit,
		struct array_spec *out, struct mer_error *err);
void array_spec_free(struct array_spec *a); /* accepts an empty one */

/* The figures of a bitmap (count, min, max, step) into a; bits not
 * copied. */
void array_figures(const uint8_t *bits, size_t nbytes, struct array_spec *a);

static inline bool array_bit(const uint8_t *bits, size_t nbytes, uint32_t i)
{
	return (size_t)(i / 8) < nbytes && (bits[i / 8] >> (i % 8) & 1);
}

/* The lowest set bit at or above from; UINT32_MAX none. */
uint32_t array_next(const uint8_t *bits, size_t nbytes, uint32_t from);
/* Set bits. */
size_t array_count(const uint8_t *bits, size_t nbytes);
/* The set as ranges ("0-96:4,101"), malloc'd. */
char *array_fold(const uint8_t *bits, size_t nbytes);

#endif
