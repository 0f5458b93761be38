/*
 * log.c - one log for a daemon or a command: a file or stderr.
 *
 * The state is the process's own (a log belongs to the process, not to a
 * context), which is why this is the one place with file-scope variables.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

static struct {
	char ident[32];
	FILE *fp;
	enum log_level level;
	char path[4096]; /* the file fp writes to; "" for stderr */
} logger = {"meridian", NULL, LOG_LVL_INFO, ""};

/* The log file, created 0600 whatever the umask (fopen would make it
 * 0666 less the umask): a daemon's log names users, jobs and what went
 * wrong with them.  A file that exists keeps its mode, the admin's. */
static int open_log(const char *file)
{
	const int flags = O_WRONLY | O_APPEND | O_CLOEXEC;

	for (int tries = 0; tries < 3; tries++) {
		int fd = open(file, flags | O_CREAT | O_EXCL, 0600);
		if (fd >= 0) {
			/* the umask may have taken the owner's bits too */
			if (fchmod(fd, 0600) < 0) {
				int e = errno;
				close(fd);
				errno = e;
				return -1;
			}
			return fd;
		}
		if (errno != EEXIST)
			return -1;
		fd = open(file, flags);
		if (fd >= 0 || errno != ENOENT)
			return fd;
		/* removed in between: create it after all */
	}
	return -1;
}

/* Point the log at file (opened anew, 0600 when made): 0, or -1 with
 * errno and the log as it was. */
static int log_to(const char *file)
{
	int fd = open_log(file);
	FILE *fp = fd < 0 ? NULL : fdopen(fd, "a");

	if (!fp) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		errno = e;
		return -1;
	}
	setvbuf(fp, NULL, _IOLBF, 0);
	if (logger.fp && logger.fp != stderr)
		fclose(logger.fp);
	logger.fp = fp;
	return 0;
}

int log_init(const char *ident, const char *file, enum log_level level)
{
	char cwd[sizeof(logger.path)] = "";
	int n;

	snprintf(logger.ident, sizeof(logger.ident), "%s", ident);
	logger.level = level;
	if (!file || !*file)
		return 0;
	/* absolute, for log_reopen after a daemon's chdir("/") */
	if (file[0] != '/' && !getcwd(cwd, sizeof(cwd)))
		return -1;
	n = snprintf(logger.path, sizeof(logger.path), "%s%s%s", cwd,
		     cwd[0] ? "/" : "", file);
	if (n < 0 || (size_t)n >= sizeof(logger.path)) {
		logger.path[0] = '\0';
		errno = ENAMETOOLONG;
		return -1;
	}
	if (log_to(logger.path) < 0) {
		logger.path[0] = '\0';
		return -1;
	}
	return 0;
}

int log_reopen(const char *why)
{
	if (!logger.path[0])
		return 0;
	if (log_to(logger.path) < 0) {
		int e = errno;
		log_warn("%s: cannot reopen the log %s, still writing to the "
			 "file it was",
			 why, logger.path);
		errno = e;
		return -1;
	}
	log_info("%s: log %s reopened", why, logger.path);
	return 0;
}

void log_set_level(enum log_level level)
{
	logger.level = level;
}

enum log_level log_get_level(void)
{
	return logger.level;
}

static const char *const level_names[] = {"error", "warn", "info", "debug"};

int log_parse_level(const char *s, enum log_level *out)
{
	for (int i = 0; i < 4; i++) {
		if (!strcasecmp(s, level_names[i])) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	return -1;
}

const char *log_level_name(enum log_level level)
{
	return (unsigned)level < 4 ? level_names[level] : "info";
}

int log_fileno(void)
{
	return fileno(logger.fp ? logger.fp : stderr);
}

static void vlog(enum log_level lvl, const char *tag, int errnum,
		 const char *fmt, va_list ap)
{
	FILE *fp = logger.fp ? logger.fp : stderr;
	char ts[32], msg[1024];
	struct timeval tv;
	struct tm tm;

	if (lvl > logger.level)
		return;
	gettimeofday(&tv, NULL);
	localtime_r(&tv.tv_sec, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (errnum)
		fprintf(fp, "[%s.%03ld] %s[%ld]: %s%s: %s\n", ts,
			(long)tv.tv_usec / 1000, logger.ident, (long)getpid(),
			tag, msg, strerror(errnum));
	else
		fprintf(fp, "[%s.%03ld] %s[%ld]: %s%s\n", ts,
			(long)tv.tv_usec / 1000, logger.ident, (long)getpid(),
			tag, msg);
}

void log_warn(const char *fmt, ...)
{
	int e = errno;
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_LVL_WARN, "warning: ", e, fmt, ap);
	va_end(ap);
	errno = e;
}

void log_warnx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_LVL_WARN, "warning: ", 0, fmt, ap);
	va_end(ap);
}

void log_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_LVL_INFO, "", 0, fmt, ap);
	va_end(ap);
}

void log_debug(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_LVL_DEBUG, "debug: ", 0, fmt, ap);
	va_end(ap);
}

void fatal(const char *fmt, ...)
{
	int e = errno;
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_LVL_ERROR, "fatal: ", e, fmt, ap);
	va_end(ap);
	exit(1);
}

void fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_LVL_ERROR, "fatal: ", 0, fmt, ap);
	va_end(ap);
	exit(1);
}
