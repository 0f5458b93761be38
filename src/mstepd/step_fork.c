/*
 * step_fork.c - the processes of a step's ranks on this node: which GPUs
 * and CPUs each gets, and forking them as the job's user.
 *
 * Everything a rank's process needs is prepared before the fork (struct
 * rank_plan), so that the child only makes system calls between fork and
 * exec.  The node's ranks share one process group, led by the first; a
 * rank on a pseudo-terminal (--pty) leads a session of its own instead,
 * which it needs to make the terminal its controlling tty.  Every
 * descriptor mstepd has is close-on-exec: a rank keeps its stdin, stdout
 * and stderr and its end of the PMI socketpair (PMI_FD), nothing else.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "bind.h"
#include "mstepd.h"

extern char **environ;

/* What one rank's process needs, prepared by mstepd before the fork. */
struct rank_plan {
	struct child_cred cred;
	const char *work_dir;
	char **argv;
	char **env;
	int in_fd;	      /* stdin's pipe; -1: /dev/null */
	int out_fd, err_fd;   /* stdout/stderr pipes; -1: a file */
	char *out_path;	      /* the files (-o/-e), NULL: the pipe */
	char *err_path;	      /* NULL with err_fd -1: where stdout goes */
	const char *tty;      /* rank 0 on a pty: the terminal, for 0-2 */
	int pmi_fd;	      /* kept open across exec; -1: none */
	const char *cpus;     /* the CPU list to bind to; NULL: none */
	pid_t pgid;	      /* the group to join; 0: lead a new one */
	int status_fd;	      /* write end: a message here means no exec */
	struct rlimit nofile; /* the limit mstepd itself was given */
};

/* ---- the child --------------------------------------------------------- */

/* Make fd descriptor `to` (kept across exec). */
static int move_fd(int fd, int to)
{
	if (fd == to)
		return fcntl(fd, F_SETFD, 0);
	return dup2(fd, to) < 0 ? -1 : 0;
}

static int open_to(const char *path, int flags, int to)
{
	int fd = open(path, flags | O_CLOEXEC, 0644);

	if (fd < 0)
		return -1;
	if (fd == to)
		return fcntl(fd, F_SETFD, 0);
	if (dup2(fd, to) < 0)
		return -1;
	close(fd);
	return 0;
}

/* As root, before the switch: the terminal becomes the controlling tty
 * of the rank's new session, and the user's. */
static int open_tty(const struct rank_plan *p)
{
	int fd = open(p->tty, O_RDWR | O_CLOEXEC);

	if (fd < 0 || ioctl(fd, TIOCSCTTY, 0) < 0)
		return -1;
	if (p->cred.switch_user &&
	    (fchown(fd, p->cred.uid, p->cred.gid) < 0 || fchmod(fd, 0620) < 0))
		return -1;
	return fd;
}

/* stdin, stdout and stderr, opened as the user in the working directory. */
static void set_stdio(const struct rank_plan *p, int tty)
{
	const int sfd = p->status_fd;
	const int wflags = O_WRONLY | O_CREAT | O_APPEND;

	if (tty >= 0) {
		if (move_fd(tty, 0) < 0 || move_fd(tty, 1) < 0 ||
		    move_fd(tty, 2) < 0)
			child_fail(sfd, 1, "cannot set up the terminal: %s",
				   strerror(errno));
		return;
	}
	if (p->in_fd >= 0 ? move_fd(p->in_fd, 0) < 0
			  : open_to("/dev/null", O_RDONLY, 0) < 0)
		child_fail(sfd, 1, "cannot set up stdin: %s", strerror(errno));
	if (p->out_fd >= 0 ? move_fd(p->out_fd, 1) < 0
			   : open_to(p->out_path, wflags, 1) < 0)
		child_fail(sfd, 1, "cannot open output file %s: %s",
			   p->out_path ? p->out_path : "(pipe)",
			   strerror(errno));
	if (p->err_fd >= 0) {
		if (move_fd(p->err_fd, 2) < 0)
			child_fail(sfd, 1, "dup2: %s", strerror(errno));
	} else if (p->err_path) {
		if (open_to(p->err_path, wflags, 2) < 0)
			child_fail(sfd, 1, "cannot open error file %s: %s",
				   p->err_path, strerror(errno));
	} else if (dup2(1, 2) < 0) {
		child_fail(sfd, 1, "dup2: %s", strerror(errno));
	}
}

/* The rank's process, from fork to exec.  Never returns. */
static void __attribute__((noreturn)) rank_child(const struct rank_plan *p)
{
	const int sfd = p->status_fd;
	sigset_t none;
	int tty = -1;

	if (p->tty)
		setsid();
	else
		setpgid(0, p->pgid);
	for (int sig = 1; sig < NSIG; sig++)
		signal(sig, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	setrlimit(RLIMIT_NOFILE, &p->nofile);
	/* mstepd checked the list against this machine; should the kernel
	 * refuse it anyway (a cpuset), the rank runs unbound */
	if (p->cpus)
		bind_apply(0, p->cpus, NULL);
	if (p->tty && (tty = open_tty(p)) < 0)
		child_fail(sfd, 1, "cannot open the terminal %s: %s", p->tty,
			   strerror(errno));
	child_drop_privileges(&p->cred, sfd, "rank");
	umask(022);
	/* from here on the user's permissions decide */
	if (chdir(p->work_dir) < 0)
		child_fail(sfd, 1, "could not chdir to %s: %s", p->work_dir,
			   strerror(errno));
	set_stdio(p, tty);
	/* nothing of mstepd's may leak into the rank but its PMI socket */
#ifdef SYS_close_range
	syscall(SYS_close_range, 3u, ~0U, 4u /* CLOSE_RANGE_CLOEXEC */);
#endif
	if (p->pmi_fd >= 0 && fcntl(p->pmi_fd, F_SETFD, 0) < 0)
		child_fail(sfd, 1, "PMI_FD %d: %s", p->pmi_fd, strerror(errno));
	env_set_task_pid(p->env, getpid()); /* the rank's own pid */
	/* execvp looks the command up in the rank's own PATH */
	environ = p->env;
	execvp(p->argv[0], p->argv);
	child_fail(sfd, errno == ENOENT ? 127 : 126, "cannot execute %s: %s",
		   p->argv[0], strerror(errno));
}

/* ---- planning --------------------------------------------------------- */

/* Local rank t's GPUs: with G GPUs per task gpus[t*G .. t*G+G-1], else
 * every GPU the step has on this node. */
static void assign_gpus(struct step *st)
{
	const Meridian__StepNode *me = st->me;
	size_t g = st->desc->gpus_per_task;

	for (size_t t = 0; t < st->nranks; t++) {
		struct step_rank *r = &st->ranks[t];
		if (!g) {
			r->gpus = me->gpus;
			r->ngpus = me->n_gpus;
		} else if (t * g < me->n_gpus) {
			r->gpus = me->gpus + t * g;
			r->ngpus =
				me->n_gpus - t * g < g ? me->n_gpus - t * g : g;
		}
	}
}

/* r's CPUs from its planned set, masked to the CPUs that exist here (a
 * plan made from another machine's TopologyFile=). */
static void set_rank_cpus(const struct step *st, struct step_rank *r,
			  hwloc_const_bitmap_t planned,
			  hwloc_const_bitmap_t online)
{
	hwloc_bitmap_t set = hwloc_bitmap_dup(planned);
	char *want = NULL, *got = NULL;

	if (!set)
		abort();
	if (online)
		hwloc_bitmap_and(set, set, online);
	hwloc_bitmap_list_asprintf(&want, planned);
	if (hwloc_bitmap_iszero(set)) {
		log_warnx("step %u.%u: rank %u: its CPUs %s do not exist on "
			  "this machine: not bound",
			  st->s->job_id, st->s->step_id, r->rank, want);
	} else {
		hwloc_bitmap_list_asprintf(&got, set);
		if (!hwloc_bitmap_isequal(set, planned))
			log_warnx("step %u.%u: rank %u: CPUs %s planned, only "
				  "%s exist here",
				  st->s->job_id, st->s->step_id, r->rank, want,
				  got);
		r->cpus = xstrdup(got);
		free(got);
	}
	free(want);
	hwloc_bitmap_free(set);
}

/* An --exclusive step's own CPUs here (mctld's StepNode.cpu_slots: the
 * slot-th online CPUs by OS index, so that the job's exclusive steps,
 * holding different slots, run on different CPUs), as a list; NULL when
 * the step is not exclusive or this machine has too few CPUs. */
static char *exclusive_cpus(const struct step *st)
{
	hwloc_bitmap_t online = bind_online_cpus(), set;
	char *list = NULL;
	int n = online ? hwloc_bitmap_weight(online) : -1;

	if (!st->me->n_cpu_slots || n <= 0) {
		if (online)
			hwloc_bitmap_free(online);
		return NULL;
	}
	if (!(set = hwloc_bitmap_alloc()))
		abort();
	for (size_t i = 0; i < st->me->n_cpu_slots; i++) {
		uint32_t slot = st->me->cpu_slots[i];
		int cpu = hwloc_bitmap_first(online);

		for (uint32_t k = 0; k < slot && cpu >= 0; k++)
			cpu = hwloc_bitmap_next(online, cpu);
		if (cpu < 0) {
			log_warnx("step %u.%u: --exclusive CPU slot %u: this "
				  "machine has %d CPUs online",
				  st->s->job_id, st->s->step_id, slot, n);
			continue;
		}
		hwloc_bitmap_set(set, (unsigned)cpu);
	}
	if (!hwloc_bitmap_iszero(set))
		hwloc_bitmap_list_asprintf(&list, set);
	hwloc_bitmap_free(set);
	hwloc_bitmap_free(online);
	return list;
}

/* Plan within allowed (NULL: every CPU of the topology).  true when the
 * ranks' CPUs were planned. */
static bool plan_within(struct step *st, enum bind_mode mode,
			const char *allowed)
{
	struct bind_task *tasks;
	struct bind_set *sets = NULL;
	struct bind_topo *topo;
	hwloc_bitmap_t online;
	struct mer_error err;
	const char *file = st->ls->topology_file;
	unsigned cpus = st->me->cpus_per_task ? st->me->cpus_per_task
					      : st->desc->cpus_per_task;
	bool ok = false;

	if (mode == BIND_NONE || !st->nranks)
		return false;
	if (!(topo = bind_topo_load(file, &err))) {
		log_warnx("step %u.%u: %s: the ranks run unbound",
			  st->s->job_id, st->s->step_id, err.text);
		return false;
	}
	tasks = xcalloc(st->nranks, sizeof(*tasks));
	for (size_t i = 0; i < st->nranks; i++) {
		tasks[i].cpus = cpus;
		tasks[i].gpus = st->ranks[i].gpus;
		tasks[i].ngpus = st->ranks[i].ngpus;
	}
	if (bind_plan(topo, mode, allowed, tasks, st->nranks, &sets, &err) <
	    0) {
		log_warnx("step %u.%u: --cpu-bind=%s: %s: the ranks run "
			  "unbound",
			  st->s->job_id, st->s->step_id, bind_mode_name(mode),
			  err.text);
	} else {
		online = bind_online_cpus();
		for (size_t i = 0; i < st->nranks; i++)
			if (sets[i].cpuset)
				set_rank_cpus(st, &st->ranks[i], sets[i].cpuset,
					      online);
		if (online)
			hwloc_bitmap_free(online);
		bind_sets_free(sets, st->nranks);
		ok = true;
	}
	free(tasks);
	bind_topo_destroy(topo);
	return ok;
}

/* Plan every local rank's CPUs on the node's topology.  Binding is a
 * service, not a condition: a topology or plan that fails leaves the
 * ranks unbound, with a warning; an exclusive step's ranks then still
 * stay on the step's own CPUs, as under --cpu-bind=none. */
static void plan_binding(struct step *st, enum bind_mode mode)
{
	char *own = exclusive_cpus(st);

	if (!own) {
		plan_within(st, mode, NULL);
		return;
	}
	if (!plan_within(st, mode, own))
		for (size_t i = 0; i < st->nranks; i++) {
			free(st->ranks[i].cpus);
			st->ranks[i].cpus = xstrdup(own);
		}
	free(own);
}

int fork_prepare(struct step *st, struct mer_error *err)
{
	enum bind_mode mode;

	assign_gpus(st);
	if (bind_mode_parse(*st->desc->cpu_bind ? st->desc->cpu_bind
						: "gpu-local",
			    &mode, err) < 0)
		return -1;
	plan_binding(st, mode);
	for (size_t i = 0; i < st->nranks; i++)
		if (st->ranks[i].cpus)
			log_info("step %u.%u: rank %u: --cpu-bind=%s, CPUs %s",
				 st->s->job_id, st->s->step_id,
				 st->ranks[i].rank, bind_mode_name(mode),
				 st->ranks[i].cpus);
	return 0;
}

/* ---- forking ------------------------------------------------------------ */

/* The descriptors of one rank: the child's ends go in the plan, mstepd's
 * to step_io.c.  -1 where unused. */
struct rank_fds {
	int out[2], err[2], in[2];
	int status[2];
	int master; /* the pty's master */
	char *tty;
};

static void fds_init(struct rank_fds *f)
{
	f->out[0] = f->out[1] = f->err[0] = f->err[1] = -1;
	f->in[0] = f->in[1] = f->status[0] = f->status[1] = -1;
	f->master = -1;
	f->tty = NULL;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static void fds_close_all(struct rank_fds *f)
{
	for (int i = 0; i < 2; i++) {
		close_fd(&f->out[i]);
		close_fd(&f->err[i]);
		close_fd(&f->in[i]);
		close_fd(&f->status[i]);
	}
	close_fd(&f->master);
	free(f->tty);
	f->tty = NULL;
}

/* A new pseudo-terminal: its master, and the path of its terminal. */
static int open_pty(struct rank_fds *f, struct mer_error *err)
{
	char name[128];

	f->master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (f->master < 0 || grantpt(f->master) < 0 ||
	    unlockpt(f->master) < 0 ||
	    ptsname_r(f->master, name, sizeof(name)) != 0)
		return mer_error_set(err, "cannot open a pseudo-terminal: %s",
				     strerror(errno));
	f->tty = xstrdup(name);
	return 0;
}

/* The files -o/-e name for r (NULL: the stream goes to mrun). */
static char *rank_file(const struct step *st, const struct step_rank *r,
		       const char *pattern)
{
	struct iopath_names n = {0};

	if (!*pattern)
		return NULL;
	n.job_id = st->s->job_id;
	n.job_name = env_job_name(st->ls->job);
	n.user = st->user.name;
	n.node = st->s->node;
	n.has_step = true;
	n.step_id = st->s->step_id;
	n.node_index = st->node_index;
	n.task = r->rank;
	n.in_array = st->ls->job->array_job_id != 0;
	n.array_job_id = st->ls->job->array_job_id;
	n.array_task_id = st->ls->job->array_task_id;
	return iopath_path(pattern, "", st->work_dir, &n);
}

/* Pipes (or files, or the pty) for r's stdio, and its status pipe.  As
 * with Slurm, -o without -e sends stderr to stdout's file. */
static int open_stdio(const struct step *st, const struct step_rank *r,
		      struct rank_plan *p, struct rank_fds *f,
		      struct mer_error *err)
{
	bool pty = st->desc->pty && r->rank == 0;

	if (pipe2(f->status, O_CLOEXEC) < 0)
		return mer_error_set(err, "pipe: %s", strerror(errno));
	if (pty)
		return open_pty(f, err);
	p->out_path = rank_file(st, r, st->desc->std_out);
	p->err_path = rank_file(st, r, st->desc->std_err);
	if ((!p->out_path && pipe2(f->out, O_CLOEXEC) < 0) ||
	    (!p->err_path && !p->out_path && pipe2(f->err, O_CLOEXEC) < 0) ||
	    (r->rank == 0 && pipe2(f->in, O_CLOEXEC) < 0))
		return mer_error_set(err, "pipe: %s", strerror(errno));
	return 0;
}

/* mstepd's side once the rank runs: its output and input to step_io.c. */
static void hand_over(struct step *st, struct step_rank *r, struct rank_fds *f)
{
	if (f->master >= 0) {
		int in = fcntl(f->master, F_DUPFD_CLOEXEC, 3);
		io_add_output(st->io, r, 1, f->master);
		if (in >= 0)
			io_set_stdin(st->io, in, true);
		f->master = -1;
	}
	if (f->out[0] >= 0)
		io_add_output(st->io, r, 1, f->out[0]);
	if (f->err[0] >= 0)
		io_add_output(st->io, r, 2, f->err[0]);
	if (f->in[1] >= 0)
		io_set_stdin(st->io, f->in[1], false);
	f->out[0] = f->err[0] = f->in[1] = -1;
	r->status_fd = f->status[0];
	f->status[0] = -1;
}

static void plan_free(struct rank_plan *p)
{
	env_free(p->env);
	free(p->argv);
	free(p->out_path);
	free(p->err_path);
}

/* Fork rank r; -1 with err when it could not be. */
static int rank_fork(struct step *st, struct step_rank *r,
		     const struct rlimit *nofile, struct mer_error *err)
{
	struct rank_plan p = {0};
	struct env_rank er = {0};
	struct rank_fds f;
	sigset_t all, old;
	pid_t pid;
	int rc = -1;

	fds_init(&f);
	p.pmi_fd = st->kvs ? kvs_child_fd(st->kvs, r) : -1;
	er.rank = r->rank;
	er.local_rank = r->local;
	er.master_port = st->master_port;
	er.ifname = st->ifname;
	er.gpus = r->gpus;
	er.ngpus = r->ngpus;
	er.pmi_fd = p.pmi_fd;
	p.env = env_build_step(st->ls, st->s->node, &st->user, &er);
	p.argv = xcalloc(st->desc->n_argv + 1, sizeof(*p.argv));
	for (size_t i = 0; i < st->desc->n_argv; i++)
		p.argv[i] = st->desc->argv[i];
	p.cred.user = st->user.name;
	p.cred.uid = st->user.uid;
	p.cred.gid = st->user.gid;
	p.cred.switch_user = st->switch_user;
	p.work_dir = st->work_dir;
	p.cpus = r->cpus;
	p.pgid = st->pgid;
	p.cred.mstepd_pid = getpid();
	p.nofile = *nofile;
	if (open_stdio(st, r, &p, &f, err) < 0)
		goto out;
	p.in_fd = f.in[0];
	p.out_fd = f.out[1];
	p.err_fd = f.err[1];
	p.tty = f.tty;
	p.status_fd = f.status[1];

	/* Signals stay blocked across fork so that none reaches the child
	 * before it has reset its handlers to the defaults. */
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &old);
	pid = fork();
	if (pid == 0)
		rank_child(&p);
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (pid < 0) {
		mer_error_set(err, "cannot fork rank %u: %s", r->rank,
			      strerror(errno));
		goto out;
	}
	/* both sides set the group, so that it exists before the next
	 * fork whichever runs first; a pty's rank has its own session */
	if (f.tty) {
		st->pty_pgid = pid;
	} else {
		if (!st->pgid)
			st->pgid = pid;
		/* fails (EACCES) once the child has done it and exec'd */
		setpgid(pid, st->pgid);
	}
	r->pid = pid;
	hand_over(st, r, &f);
	rc = 0;
out:
	if (st->kvs)
		kvs_rank_started(st->kvs, r);
	fds_close_all(&f);
	plan_free(&p);
	return rc;
}

/* Room for every rank's descriptors (pipes, PMI socket, status pipe);
 * the ranks get back the limit mstepd was started with. */
static void raise_nofile(size_t nranks, struct rlimit *orig)
{
	struct rlimit want;
	rlim_t need = 64 + 8 * (rlim_t)nranks;

	if (getrlimit(RLIMIT_NOFILE, orig) < 0) {
		orig->rlim_cur = orig->rlim_max = RLIM_INFINITY;
		return;
	}
	if (orig->rlim_cur != RLIM_INFINITY && orig->rlim_cur < need) {
		want = *orig;
		want.rlim_cur =
			orig->rlim_max == RLIM_INFINITY || orig->rlim_max > need
				? need
				: orig->rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &want) < 0)
			log_warn("setrlimit(RLIMIT_NOFILE, %lu)",
				 (unsigned long)want.rlim_cur);
	}
}

int fork_ranks(struct step *st, struct mer_error *err)
{
	struct rlimit nofile;

	raise_nofile(st->nranks, &nofile);
	for (size_t i = 0; i < st->nranks; i++)
		if (rank_fork(st, &st->ranks[i], &nofile, err) < 0)
			return -1;
	return 0;
}
