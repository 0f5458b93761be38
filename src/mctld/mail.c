/*
 * mail.c - --mail-type/--mail-user: MailProg is run when a job begins,
 * ends, fails or is requeued, as slurmctld does:
 *
 *   MailProg -s "Slurm Job_id=12 Name=train Ended, Run time 00:01:02,
 *   COMPLETED, ExitCode 0" USER
 *
 * with an empty body.  mctld never waits for it: it forks a child that
 * forks MailProg and exits at once, so that init reaps MailProg and no
 * child of mctld outlives the call.  Arguments go to execv, never through
 * a shell; --mail-user is checked at submit (no leading '-').
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "mctld.h"
#include "parse.h"
#include "util.h"

bool mail_user_ok(const char *u)
{
	if (!u || !*u || *u == '-' || strlen(u) > 256)
		return false;
	return strspn(u,
		      "abcdefghijklmnopqrstuvwxyz"
		      "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._@+-") == strlen(u);
}

/* "00:01:02", "1-02:03:04": slurmctld's form in these subjects. */
static void hms(int64_t s, char *buf, size_t n)
{
	if (s < 0)
		s = 0;
	if (s >= 86400)
		snprintf(buf, n, "%lld-%02lld:%02lld:%02lld",
			 (long long)(s / 86400), (long long)(s % 86400 / 3600),
			 (long long)(s % 3600 / 60), (long long)(s % 60));
	else
		snprintf(buf, n, "%02lld:%02lld:%02lld", (long long)(s / 3600),
			 (long long)(s % 3600 / 60), (long long)(s % 60));
}

static void run(const char *prog, const char *subject, const char *user)
{
	pid_t pid = fork(), got;
	int st;

	if (pid < 0) {
		log_warn("MailProg %s", prog);
		return;
	}
	if (pid == 0) {
		/* the child: MailProg's parent for an instant */
		if (fork() == 0) {
			int fd = open("/dev/null", O_RDWR);

			if (fd >= 0) {
				dup2(fd, 0);
				dup2(fd, 1);
				dup2(fd, 2);
			}
			for (int f = 3; f < 1024; f++)
				close(f);
			execl(prog, prog, "-s", subject, user, (char *)NULL);
			_exit(127);
		}
		_exit(0);
	}
	do
		got = waitpid(pid, &st, 0);
	while (got < 0 && errno == EINTR);
}

void mail_job(struct mctld *ctx, const struct job *j, unsigned event)
{
	const Meridian__JobRecord *rec = j->rec;
	const Meridian__JobDesc *d = rec->desc;
	const char *prog = ctx->conf->mail_prog;
	const char *user =
		d->mail_user && *d->mail_user ? d->mail_user : rec->user_name;
	char when[32], ec[32], *subject;
	int64_t now = mer_now();

	/* END covers every end; FAIL the ones that are not COMPLETED */
	if (!(d->mail_type &
	      (event == MAIL_FAIL ? MAIL_END | MAIL_FAIL : event)) ||
	    !prog || !*prog || !user || !*user)
		return;
	switch (event) {
	case MAIL_BEGIN:
		hms(rec->start_time - rec->submit_time, when, sizeof(when));
		subject = xasprintf("Slurm Job_id=%u Name=%s Began, Queued "
				    "time %s",
				    rec->job_id, d->name ? d->name : "", when);
		break;
	case MAIL_REQUEUE:
		subject = xasprintf("Slurm Job_id=%u Name=%s Requeued",
				    rec->job_id, d->name ? d->name : "");
		break;
	default:
		hms((rec->end_time ? rec->end_time : now) - rec->start_time,
		    when, sizeof(when));
		snprintf(ec, sizeof(ec), "%d", rec->exit_code);
		subject = xasprintf("Slurm Job_id=%u Name=%s %s, Run time %s, "
				    "%s, ExitCode %s",
				    rec->job_id, d->name ? d->name : "",
				    event == MAIL_FAIL ? "Failed" : "Ended",
				    when, job_state_name(rec->state), ec);
		break;
	}
	log_info("job %u: mail to %s: %s", rec->job_id, user, subject);
	run(prog, subject, user);
	free(subject);
}
