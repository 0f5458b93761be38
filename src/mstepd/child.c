/*
 * child.c - mstepd's children between fork and exec: the batch script
 * (tasks.c) and the ranks of a step (step_fork.c).  mstepd prepares what
 * a child needs before the fork, so that the child makes system calls
 * and allocates nothing.
 */
#include "config.h"

#include <errno.h>
#include <grp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "mstepd.h"

void child_fail(int fd, int code, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(msg) - 1)
		n = (int)sizeof(msg) - 1;
	if (n > 0 && write(fd, msg, (size_t)n) < 0) {
		/* nothing left to tell anyone */
	}
	_exit(code);
}

/*
 * The order is the contract: supplementary groups first (initgroups needs
 * root, and once setuid has run they cannot be changed), then the gid
 * (likewise), then the uid; then proof that root cannot be regained (a
 * setuid(0) that succeeds means the switch did not take, e.g. a saved
 * set-user-ID of 0 left behind), refused rather than run.  The parent
 * death signal comes after setuid, which clears it.  A child that finds
 * mstepd already gone by then (it was reparented before prctl took hold)
 * stops rather than run unwatched.
 */
int child_cred_groups(struct child_cred *c, struct mer_error *err)
{
	int n = 16;

	c->groups = NULL;
	c->ngroups = 0;
	if (!c->switch_user)
		return 0;
	for (int tries = 0; tries < 4; tries++) {
		int want = n;

		c->groups = xrealloc(c->groups, (size_t)n * sizeof(gid_t));
		if (getgrouplist(c->user, c->gid, c->groups, &want) >= 0) {
			c->ngroups = want;
			return 0;
		}
		/* too small: want says how many there are */
		n = want > n ? want : n * 2;
	}
	free(c->groups);
	c->groups = NULL;
	errno = ENOBUFS;
	return mer_error_set(err, "cannot list the groups of user %s", c->user);
}

void child_drop_privileges(const struct child_cred *c, int status_fd,
			   const char *what)
{
	if (c->switch_user) {
		if (c->groups ? setgroups((size_t)c->ngroups, c->groups) < 0
			      : initgroups(c->user, c->gid) < 0)
			child_fail(status_fd, 1,
				   "cannot set the groups of user %s: %s",
				   c->user, strerror(errno));
		if (setgid(c->gid) < 0)
			child_fail(status_fd, 1, "cannot set gid %u: %s",
				   (unsigned)c->gid, strerror(errno));
		if (setuid(c->uid) < 0)
			child_fail(status_fd, 1, "cannot set uid %u: %s",
				   (unsigned)c->uid, strerror(errno));
		if (c->uid != 0 && setuid(0) == 0)
			child_fail(status_fd, 1,
				   "could regain root after switching to "
				   "user %s: refusing to run the %s",
				   c->user, what);
	}
	/* Should mstepd itself be killed, the child goes with it rather
	 * than run on unwatched. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != c->mstepd_pid)
		child_fail(status_fd, 1, "mstepd died while starting the %s",
			   what);
}
