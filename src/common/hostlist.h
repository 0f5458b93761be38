/*
 * hostlist.h - Slurm-style host lists: "gpu[01-16],login1".
 *
 * A bracket holds comma-separated numbers and ranges; a range keeps the
 * zero padding of its first number ("[01-16]" gives "01" ... "16").
 * Several bracket groups in one name expand as a cartesian product.
 */
#ifndef MER_HOSTLIST_H
#define MER_HOSTLIST_H

#include <stddef.h>
#include "merr.h"

/*
 * Bounds on one expression, checked while it is parsed and before any
 * name is built, so that no input (a request, a config line, a command
 * option) can make the expansion take more than about HOSTLIST_MAX_BYTES
 * of memory or time in proportion.
 */
#define HOSTLIST_MAX	    65536      /* names */
#define HOSTLIST_MAX_BYTES  (4u << 20) /* the names' bytes, NULs included */
#define HOSTLIST_MAX_NAME   255	       /* characters of one name */
#define HOSTLIST_MAX_GROUPS 16	       /* bracket groups in one name */

/* Expand expr into *names (malloc'd array of malloc'd strings, free with
 * hostlist_free).  Duplicates are kept in order of appearance.  Returns 0,
 * or -1 with err naming the bad part ("gpu[3-1]: range goes down") and
 * errno EINVAL, or E2BIG for an expression beyond the bounds above
 * ("...: hostlist expands to more than 65536 names"). */
int hostlist_expand(const char *expr, char ***names, size_t *n,
		    struct mer_error *err);
void hostlist_free(char **names, size_t n);

/* Compress names (in the order given) into the shortest expression that
 * expands back to the same list: {"n1","n2","n3","x"} -> "n[1-3],x".
 * Returns a malloc'd string. */
char *hostlist_compress(char *const *names, size_t n);

#endif
