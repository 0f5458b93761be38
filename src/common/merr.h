/*
 * merr.h - the one error convention: functions return 0 / -1 (or NULL) and
 * set errno; when a person will read the failure they also fill a
 * struct mer_error (defined in meridian/plugin.h, shared with plugins).
 */
#ifndef MER_MERR_H
#define MER_MERR_H

#include <meridian/plugin.h>

/* Format into err (err may be NULL).  Always returns -1 so callers can
 * write `return mer_error_set (err, ...);`. */
int mer_error_set(struct mer_error *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif
