/*
 * main.c - mctld, the Meridian controller: options, logging, daemon
 * start-up and signals.  Everything else hangs off struct mctld
 * (mctld.c).
 *
 *   mctld [-f CONFIG] [-D] [-v]...
 *
 * Without -D mctld detaches and logs to LogFile=; the starting process
 * waits until the daemon is ready (config read, plugins loaded, state
 * loaded, port bound) and exits 0, or exits 1 with the reason on stderr.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf.h"
#include "log.h"
#include "mctld.h"
#include "util.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: mctld [-D] [-v]... [-f CONFIG]\n"
		"  -f CONFIG  read CONFIG (default $MERIDIAN_CONF, else "
		"%s/meridian.conf)\n"
		"  -D         stay in the foreground and log to stderr\n"
		"  -v         log more (repeat for debug)\n"
		"  -V         print the version and exit\n"
		"  -h         this help\n",
		SYSCONFDIR);
}

static void on_stop(evutil_socket_t sig, short what, void *arg)
{
	struct mctld *ctx = arg;

	(void)what;
	log_info("signal %d: stopping", (int)sig);
	ctx->stop = true;
	event_base_loopbreak(ctx->base);
}

/* logrotate moved LogFile= away */
static void on_reopen(evutil_socket_t sig, short what, void *arg)
{
	log_reopen("SIGUSR2");
}

/*
 * Detach: fork twice and setsid.  Returns in the daemon with *ready_fd the
 * pipe to write one byte to once it serves; the first process waits on
 * that pipe and exits 0 when the byte comes, 1 when the pipe closes first
 * (the daemon died; it said why on the inherited stderr and in the log).
 */
static void daemon_start(int *ready_fd, const char *log_file)
{
	int fds[2];
	pid_t pid;
	char c;

	if (pipe(fds) < 0) {
		fprintf(stderr, "mctld: error: pipe: %s\n", strerror(errno));
		exit(1);
	}
	pid = fork();
	if (pid < 0) {
		fprintf(stderr, "mctld: error: fork: %s\n", strerror(errno));
		exit(1);
	}
	if (pid > 0) {
		ssize_t n;

		close(fds[1]);
		do
			n = read(fds[0], &c, 1);
		while (n < 0 && errno == EINTR);
		if (n == 1)
			_exit(0);
		fprintf(stderr, "mctld: error: the daemon did not start%s%s\n",
			log_file && *log_file ? "; see " : "",
			log_file && *log_file ? log_file : "");
		_exit(1);
	}
	close(fds[0]);
	if (setsid() < 0)
		_exit(1);
	pid = fork();
	if (pid < 0)
		_exit(1);
	if (pid > 0)
		_exit(0); /* the session leader; the daemon is its child */
	*ready_fd = fds[1];
}

static void daemon_ready(int ready_fd)
{
	int fd;

	if (write(ready_fd, "R", 1) != 1)
		log_warn("cannot tell the starting process we are ready");
	close(ready_fd);
	if (chdir("/") < 0)
		log_warn("chdir /");
	fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (fd >= 0) {
		dup2(fd, STDIN_FILENO);
		dup2(fd, STDOUT_FILENO);
		dup2(fd, STDERR_FILENO);
		if (fd > STDERR_FILENO)
			close(fd);
	}
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	const char *path = NULL;
	bool foreground = false;
	int verbose = 0, ch, ready_fd = -1;
	enum log_level level = LOG_LVL_INFO;
	struct mer_error err = {""};
	struct event *ev_term, *ev_int, *ev_usr2;
	struct conf *conf;
	struct mctld *ctx;

	while ((ch = getopt_long(argc, argv, "f:DvVh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'f':
			path = optarg;
			break;
		case 'D':
			foreground = true;
			break;
		case 'v':
			verbose++;
			break;
		case 'V':
			printf("mctld %s\n", PACKAGE_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "mctld: error: unexpected argument '%s'\n",
			argv[optind]);
		usage(stderr);
		return 2;
	}
	if (!path)
		path = conf_default_path();
	conf = conf_load(path, &err);
	if (!conf) {
		fprintf(stderr, "mctld: error: %s\n", err.text);
		return 1;
	}
	if (conf->log_level && *conf->log_level &&
	    log_parse_level(conf->log_level, &level) < 0) {
		fprintf(stderr,
			"mctld: error: %s: LogLevel=%s is not one of "
			"error, warn, info, debug\n",
			path, conf->log_level);
		return 1;
	}
	while (verbose-- > 0 && level < LOG_LVL_DEBUG)
		level++;

	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, SIG_IGN); /* reconfigure: not yet */

	if (foreground) {
		log_init("mctld", NULL, level);
	} else {
		if (!conf->log_file || !*conf->log_file)
			fprintf(stderr, "mctld: warning: LogFile= is not set: "
					"once detached mctld logs nowhere (set "
					"LogFile= or run with -D)\n");
		daemon_start(&ready_fd, conf->log_file);
		if (log_init("mctld",
			     conf->log_file && *conf->log_file ? conf->log_file
							       : NULL,
			     level) < 0) {
			fprintf(stderr, "mctld: error: LogFile=%s: %s\n",
				conf->log_file, strerror(errno));
			return 1;
		}
	}

	ctx = mctld_create(conf, NULL, &err);
	if (!ctx) {
		/* Both: stderr is still the terminal until we are ready. */
		if (!foreground)
			fprintf(stderr, "mctld: error: %s\n", err.text);
		fatalx("cannot start: %s", err.text);
	}
	ev_term = evsignal_new(ctx->base, SIGTERM, on_stop, ctx);
	ev_int = evsignal_new(ctx->base, SIGINT, on_stop, ctx);
	ev_usr2 = evsignal_new(ctx->base, SIGUSR2, on_reopen, NULL);
	if (!ev_term || !ev_int || !ev_usr2 || event_add(ev_term, NULL) < 0 ||
	    event_add(ev_int, NULL) < 0 || event_add(ev_usr2, NULL) < 0)
		fatalx("cannot watch SIGTERM, SIGINT and SIGUSR2");
	if (!foreground)
		daemon_ready(ready_fd);

	mctld_run(ctx);

	log_info("stopped");
	event_free(ev_term);
	event_free(ev_int);
	event_free(ev_usr2);
	mctld_destroy(ctx);
	return 0;
}
