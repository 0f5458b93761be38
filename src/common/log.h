/*
 * log.h - logging for daemons and commands.
 *
 * Only daemons and commands log; library code returns errors instead.
 * log_warn() appends strerror(errno), log_warnx() does not; fatal() and
 * fatalx() log and exit(1).  Before log_init() everything goes to stderr.
 */
#ifndef MER_LOG_H
#define MER_LOG_H

#include <stdarg.h>

enum log_level { LOG_LVL_ERROR = 0, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG };

/* ident: program name.  file: path to append to, or NULL for stderr. */
int log_init(const char *ident, const char *file, enum log_level level);
/* Open the log's file again by its name, for logrotate (which moved it
 * away), and log that, saying why ("SIGUSR2"): 0, also when logging to
 * stderr; -1 with errno, the log left as it was (and saying so).
 * Children already given log_fileno() keep the old file. */
int log_reopen(const char *why);
void log_set_level(enum log_level level);
enum log_level log_get_level(void);
int log_parse_level(const char *s, enum log_level *out);
/* The level's name as log_parse_level reads it ("error" .. "debug"). */
const char *log_level_name(enum log_level level);
/* The descriptor the log writes to (its file's, or 2): for a child that
 * is to log to the same place (mnoded hands it to mstepd as stderr). */
int log_fileno(void);

void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void fatal(const char *fmt, ...)
	__attribute__((format(printf, 1, 2), noreturn));
void fatalx(const char *fmt, ...)
	__attribute__((format(printf, 1, 2), noreturn));

#endif
