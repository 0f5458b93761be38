/*
 * main.c - mnoded: start-up, the context, the loop.
 *
 *   mnoded [-f CONFIG] [-D] [-v] -N NODENAME
 *
 * Everything that can be wrong with the configuration or the machine is
 * found before the loop starts (and before daemonizing, so the admin sees
 * it on the terminal).  Several mnoded may run on one machine: each one's
 * state is keyed by its node name (SpoolDir=, NodeLogFile= with %n).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "mnoded.h"
#include "spool.h"

static void usage(FILE *fp)
{
	fprintf(fp,
		"Usage: mnoded [-f CONFIG] [-D] [-v] -N NODENAME\n"
		"Meridian's node daemon: reports this node to mctld and runs "
		"its batch jobs and job steps.\n"
		"\n"
		"  -N NODENAME  the node to serve: a NodeName= of the config\n"
		"  -f CONFIG    the config file (default $MERIDIAN_CONF, else "
		"%s/meridian.conf)\n"
		"  -D           stay in the foreground and log to stderr\n"
		"  -v           log debug messages\n"
		"  -V           print the version and exit\n"
		"  -h           print this help and exit\n",
		SYSCONFDIR);
}

/* Relative paths would break once we chdir("/") as a daemon. */
static char *absolute(const char *path)
{
	char cwd[PATH_MAX];

	if (path[0] == '/' || !getcwd(cwd, sizeof(cwd)))
		return xstrdup(path);
	return xasprintf("%s/%s", cwd, path);
}

static int64_t read_boot_time(void)
{
	char *data, *p;
	int64_t bt = 0;

	if (read_file("/proc/stat", &data, NULL) < 0)
		return mer_now();
	if ((p = strstr(data, "\nbtime ")))
		bt = strtoll(p + 7, NULL, 10);
	free(data);
	return bt ? bt : mer_now();
}

/* One mnoded per node: a second one would fight the first over the
 * spool and the controller connection. */
static int lock_spool(struct mnoded *d)
{
	char *path = xasprintf("%s/mnoded.lock", d->spool);

	/* owner-only like every file of the spool, whatever the umask and
	 * whatever an older mnoded left */
	d->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (d->lock_fd < 0 || fchmod(d->lock_fd, 0600) < 0)
		fatal("cannot open %s", path);
	if (flock(d->lock_fd, LOCK_EX | LOCK_NB) < 0) {
		if (errno == EWOULDBLOCK)
			fatalx("another mnoded already serves node %s (%s is "
			       "locked)",
			       d->name, path);
		fatal("cannot lock %s", path);
	}
	free(path);
	return 0;
}

/* A job's or step's stepd.sock must fit in a unix socket address; if it
 * did not, mstepd could not listen and a restarted mnoded would take its
 * running jobs for dead.  Refuse such a SpoolDir now. */
static void check_socket_path(const struct mnoded *d)
{
	struct sockaddr_un sa;
	char *longest = xasprintf("%s/step.%u.%u/%s", d->spool, UINT32_MAX,
				  UINT32_MAX, SPOOL_SOCK_FILE);

	if (strlen(longest) >= sizeof(sa.sun_path))
		fatalx("SpoolDir %s is too long: %s must fit in %zu bytes "
		       "(a unix socket path); choose a shorter SpoolDir=",
		       d->spool, longest, sizeof(sa.sun_path) - 1);
	free(longest);
}

static void log_topology(const struct mnoded *d)
{
	const struct topo *t = d->topo;

	log_info("node %s: %u CPUs, %llu MiB, %zu GPUs (%s)", d->name, t->cpus,
		 (unsigned long long)t->memory_mb, t->ngpus, t->source);
	for (size_t i = 0; i < t->ngpus; i++) {
		char *nvlink = topo_gpu_nvlink_list(&t->gpus[i]);

		log_info("  gpu %zu: %s pci %s cpus %s numa %d%s", i,
			 *t->gpus[i].model ? t->gpus[i].model : "(unknown)",
			 *t->gpus[i].pci_bus_id ? t->gpus[i].pci_bus_id
						: "(configured)",
			 t->gpus[i].cpuset, t->gpus[i].numa_node, nvlink);
		free(nvlink);
	}
}

static void on_terminate(evutil_socket_t sig, short what, void *arg)
{
	struct mnoded *d = arg;

	/* Jobs keep running: their mstepd does not need us. */
	log_info("got signal %d: exiting, jobs keep running", (int)sig);
	event_base_loopbreak(d->base);
}

static void on_sigchld(evutil_socket_t sig, short what, void *arg)
{
	unit_reap(arg);
}

/* logrotate moved NodeLogFile= away; mstepds started before keep
 * writing to the old file until they exit */
static void on_sigusr2(evutil_socket_t sig, short what, void *arg)
{
	log_reopen("SIGUSR2");
}

static void on_sighup(evutil_socket_t sig, short what, void *arg)
{
	log_info("SIGHUP: mnoded does not reload its config; restart it "
		 "(running jobs are not affected)");
}

int main(int argc, char **argv)
{
	struct mnoded d = {0};
	const char *conf_path = NULL, *name = NULL;
	bool foreground = false, verbose = false;
	struct event *ev_term, *ev_int, *ev_chld, *ev_hup, *ev_usr2;
	struct strbuf warnings = {0};
	struct mer_error err;
	char *log_path = NULL, *mstepd_path;
	int opt;

	while ((opt = getopt(argc, argv, "f:DvN:hV")) != -1) {
		switch (opt) {
		case 'f':
			conf_path = optarg;
			break;
		case 'D':
			foreground = true;
			break;
		case 'v':
			verbose = true;
			break;
		case 'N':
			name = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("mnoded %s\n", PACKAGE_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "mnoded: error: unexpected argument '%s'\n",
			argv[optind]);
		usage(stderr);
		return 2;
	}
	if (!name || !*name) {
		fprintf(stderr, "mnoded: error: -N NODENAME is required: the "
				"NodeName= this daemon serves\n");
		usage(stderr);
		return 2;
	}
	if (!conf_path)
		conf_path = conf_default_path();

	d.name = name;
	d.lock_fd = -1;
	TAILQ_INIT(&d.units);
	if (!(d.conf = conf_load(conf_path, &err))) {
		fprintf(stderr, "mnoded: error: %s\n", err.text);
		return 1;
	}
	if (!(d.node = conf_find_node(d.conf, name))) {
		fprintf(stderr,
			"mnoded: error: node %s is not in %s: add a "
			"NodeName=%s line (or start mnoded with the -N of a "
			"configured node)\n",
			name, conf_path, name);
		return 1;
	}
	d.log_level = LOG_LVL_INFO;
	if (d.conf->log_level && *d.conf->log_level)
		log_parse_level(d.conf->log_level, &d.log_level);
	if (verbose)
		d.log_level = LOG_LVL_DEBUG;
	{
		char *spool = conf_expand_node(d.conf->spool_dir, name);
		d.spool = absolute(spool);
		free(spool);
	}
	if (!foreground) {
		if (d.conf->node_log_file && *d.conf->node_log_file) {
			char *p = conf_expand_node(d.conf->node_log_file, name);
			log_path = absolute(p);
			free(p);
		} else {
			log_path = xasprintf("%s/mnoded.log", d.spool);
		}
	}
	{
		char ident[32];
		snprintf(ident, sizeof(ident), "mnoded(%s)", name);
		if (mkdir_p(d.spool, 0755) < 0) {
			fprintf(stderr,
				"mnoded: error: cannot create SpoolDir %s: "
				"%s\n",
				d.spool, strerror(errno));
			return 1;
		}
		if (log_init(ident, log_path, d.log_level) < 0) {
			fprintf(stderr,
				"mnoded: error: cannot open NodeLogFile %s: "
				"%s\n",
				log_path, strerror(errno));
			return 1;
		}
	}
	lock_spool(&d);
	check_socket_path(&d);
	if (tmpdir_init(&d, &err) < 0)
		fatalx("%s", err.text);

	/* mnoded runs mstepd long after start-up: a wrong path must show
	 * now, not as every job failing. */
	mstepd_path = absolute(d.conf->mstepd_path);
	if (access(mstepd_path, X_OK) < 0)
		fatal("MstepdPath=%s: cannot execute it (set MstepdPath= to "
		      "the installed mstepd)",
		      mstepd_path);
	free(d.conf->mstepd_path);
	d.conf->mstepd_path = mstepd_path;

	if (!(d.topo = topo_load(d.node->topology_file, &err)))
		fatalx("node %s: %s", name, err.text);
	/* steps' mstepd read it too, from "/" */
	d.topology_file = d.node->topology_file && *d.node->topology_file
				  ? absolute(d.node->topology_file)
				  : xstrdup("");
	topo_apply_conf(d.topo, d.node, &warnings);
	if (warnings.s) {
		char *save = NULL;
		for (char *l = strtok_r(warnings.s, "\n", &save); l;
		     l = strtok_r(NULL, "\n", &save))
			log_warnx("%s", l);
		strbuf_free(&warnings);
	}
	if (!(d.auth = auth_create(d.conf, &err)))
		fatalx("%s", err.text);
	if (gethostname(d.hostname, sizeof(d.hostname)) < 0)
		snprintf(d.hostname, sizeof(d.hostname), "%s", name);
	d.hostname[sizeof(d.hostname) - 1] = '\0';
	d.boot_time = read_boot_time();

	if (!foreground && daemon(0, 0) < 0)
		fatal("cannot become a daemon");
	log_info("mnoded %s serving node %s (spool %s)", PACKAGE_VERSION, name,
		 d.spool);
	log_topology(&d);

	signal(SIGPIPE, SIG_IGN);
	if (!(d.base = event_base_new()))
		fatalx("cannot create the event loop");
	ev_term = evsignal_new(d.base, SIGTERM, on_terminate, &d);
	ev_int = evsignal_new(d.base, SIGINT, on_terminate, &d);
	ev_chld = evsignal_new(d.base, SIGCHLD, on_sigchld, &d);
	ev_hup = evsignal_new(d.base, SIGHUP, on_sighup, &d);
	ev_usr2 = evsignal_new(d.base, SIGUSR2, on_sigusr2, &d);
	evsignal_add(ev_term, NULL);
	evsignal_add(ev_int, NULL);
	evsignal_add(ev_chld, NULL);
	evsignal_add(ev_hup, NULL);
	evsignal_add(ev_usr2, NULL);

	if (probes_open(&d, &err) < 0)
		fatalx("%s", err.text);
	d.ctl = ctl_create(&d);
	if (unit_scan_spool(&d) < 0 || tmpdir_scan(&d) < 0)
		fatal("cannot read SpoolDir %s", d.spool);
	ctl_start(d.ctl);

	event_base_dispatch(d.base);

	ctl_destroy(d.ctl);
	probes_close(&d);
	unit_free_all(&d);
	tmpdir_free_all(&d);
	event_free(ev_term);
	event_free(ev_int);
	event_free(ev_chld);
	event_free(ev_hup);
	event_free(ev_usr2);
	event_base_free(d.base);
	auth_destroy(d.auth);
	topo_free(d.topo);
	close(d.lock_fd);
	free(d.spool);
	free(d.topology_file);
	free(log_path);
	conf_free(d.conf);
	return 0;
}
