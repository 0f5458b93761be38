/*
 * mcancel - cancel or signal jobs, like scancel: by id, by user, filtered
 * by state.  One request; mctld answers per job.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"

struct mcancel_opts {
	uint32_t *job_ids;
	size_t njob_ids;
	Meridian__JobStepId *steps; /* JOB.STEP */
	size_t nsteps;
	Meridian__ArrayTasks *arrays; /* ID_TASKS */
	size_t narrays;
	bool has_user;
	uint32_t user_id;
	int signal;	 /* 0: cancel */
	uint32_t states; /* CMD_STATE_BIT mask, 0 any */
	bool quiet;
	bool verbose;
};

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: mcancel [OPTIONS] [JOB_ID...]\n"
		"Cancel jobs, or send them a signal, like scancel.\n"
		"\n"
		"  JOB_ID...                   the jobs (12 13 or 12,13), or "
		"steps of\n"
		"                              jobs (12.3: step 3 of job 12, "
		"which goes on),\n"
		"                              or tasks of an array (12_3, "
		"12_[1-5,9];\n"
		"                              12 alone: the whole array)\n"
		"  -u, --user=USER             every job of USER (name or "
		"uid)\n"
		"      --me                    every job of mine\n"
		"  -s, --signal=SIG            send SIG (TERM, USR1, SIGUSR1, "
		"10, ...)\n"
		"                              instead of cancelling (with "
		"--user: to\n"
		"                              the running jobs)\n"
		"  -t, --state=STATES          only jobs in these states "
		"(PD,R or\n"
		"                              PENDING,RUNNING)\n"
		"  -Q, --quiet                 say nothing about jobs already "
		"finished\n"
		"  -v, --verbose               say what is done to each job\n"
		"  -f, --config=FILE           meridian.conf to read (default "
		"$MERIDIAN_CONF,\n"
		"                              else %s/meridian.conf)\n"
		"      --help, --usage         this text\n"
		"  -V, --version               print the version\n"
		"\n"
		"A cancelled job gets SIGTERM, then SIGKILL after KillWait, "
		"and "
		"ends CANCELLED.\n"
		"Exit status: 0 every job done, 1 a job was refused or not "
		"found, 2 bad usage,\n"
		"3 controller unreachable.\n",
		SYSCONFDIR);
}

static int run(struct cmd *c, const struct mcancel_opts *o)
{
	Meridian__CancelJobRequest req = MERIDIAN__CANCEL_JOB_REQUEST__INIT;
	Meridian__JobActionReply *reply = NULL;
	Meridian__JobState states[8];
	struct mer_error err = {{0}};
	Meridian__JobStepId **steps;
	Meridian__ArrayTasks **arrays;
	size_t i, nstates = 0;
	int rc, s;

	steps = xcalloc(o->nsteps + 1, sizeof(*steps));
	for (i = 0; i < o->nsteps; i++)
		steps[i] = &o->steps[i];
	req.steps = steps;
	req.n_steps = o->nsteps;
	arrays = xcalloc(o->narrays + 1, sizeof(*arrays));
	for (i = 0; i < o->narrays; i++)
		arrays[i] = &o->arrays[i];
	req.arrays = arrays;
	req.n_arrays = o->narrays;
	req.n_job_ids = o->njob_ids;
	req.job_ids = o->job_ids;
	req.has_user = o->has_user;
	req.user_id = o->user_id;
	req.signal = o->signal;
	/* Signalling every job of a user means its running ones: a pending
	 * job has no process to signal, and is not an error to report. */
	if (o->signal && o->has_user && !o->njob_ids && !o->states)
		states[nstates++] = MERIDIAN__JOB_STATE__JOB_RUNNING;
	for (s = 1; s < 8; s++)
		if (o->states & CMD_STATE_BIT(s))
			states[nstates++] = (Meridian__JobState)s;
	req.n_states = nstates;
	req.states = states;

	rc = cmd_connect(c);
	if (rc == 0)
		rc = cmd_call(c, MERIDIAN__MSG_TYPE__MSG_CANCEL_JOB, &req.base,
			      (ProtobufCMessage **)&reply, &err);
	free(steps);
	free(arrays);
	if (rc == MER_EXIT_ERROR && reply == NULL && err.text[0]) {
		if (o->njob_ids == 1)
			cmd_error(c, "Kill job error on job id %" PRIu32 ": %s",
				  o->job_ids[0], err.text);
		else
			cmd_error(c, "cannot %s jobs: %s",
				  o->signal ? "signal" : "cancel", err.text);
	}
	if (rc)
		return rc;

	for (i = 0; i < reply->n_results; i++) {
		const Meridian__JobActionResult *r = reply->results[i];
		char id[32];

		if (r->has_step) {
			snprintf(id, sizeof(id), "%" PRIu32 ".%" PRIu32,
				 r->job_id, r->step_id);
			if (r->code == 0 && o->verbose)
				fprintf(stderr, "mcancel: %s step %s\n",
					o->signal ? "Signalling"
						  : "Terminating",
					id);
			else if (r->code &&
				 !(o->quiet && r->code == EALREADY)) {
				cmd_error(c,
					  "Kill job error on job step id "
					  "%s: %s",
					  id, cmd_job_result_text(r));
				rc = MER_EXIT_ERROR;
			}
			continue;
		}
		if (r->code == 0) {
			if (o->verbose && o->signal)
				fprintf(stderr,
					"mcancel: Signal %d to job %" PRIu32
					"\n",
					o->signal, r->job_id);
			else if (o->verbose)
				fprintf(stderr,
					"mcancel: Terminating job %" PRIu32
					"\n",
					r->job_id);
			continue;
		}
		if (o->quiet && r->code == EALREADY)
			continue;
		cmd_error(c, "Kill job error on job id %" PRIu32 ": %s",
			  r->job_id, cmd_job_result_text(r));
		rc = MER_EXIT_ERROR;
	}
	protobuf_c_message_free_unpacked(&reply->base, NULL);
	return rc;
}

/* ID_TASKS: tasks of an array ("10_3", "10_[1-5,9]"). */
static int parse_array(const char *tok, struct mcancel_opts *o,
		       struct mer_error *err)
{
	const char *us = strchr(tok, '_'), *t = us + 1;
	size_t len = strlen(t);
	char *end;
	unsigned long id = strtoul(tok, &end, 10);

	if (end != us || us == tok || id == 0 || id > UINT32_MAX || !len ||
	    (*t == '[') != (t[len - 1] == ']') || (*t == '[' && len < 3))
		return mer_error_set(err,
				     "Invalid job id: %s (expected JOB_TASK "
				     "such as 12_3, or 12_[1-5,9])",
				     tok);
	if (*t == '[') {
		t++;
		len -= 2;
	}
	o->arrays = xrealloc(o->arrays, (o->narrays + 1) * sizeof(*o->arrays));
	meridian__array_tasks__init(&o->arrays[o->narrays]);
	o->arrays[o->narrays].array_job_id = (uint32_t)id;
	o->arrays[o->narrays++].tasks = xstrndup(t, len);
	return 0;
}

/* One argument: job ids, JOB.STEP and JOB_TASK ids, comma separated
 * (not inside an array's brackets). */
static int parse_ids(const char *arg, struct mcancel_opts *o,
		     struct mer_error *err)
{
	char *copy = xstrdup(arg), *tok = copy, *p;
	int rc = 0, depth = 0;

	for (p = copy;; p++) {
		struct cmd_step_ref ref;
		bool last = *p == '\0';

		if (*p == '[')
			depth++;
		else if (*p == ']')
			depth--;
		if (!last && (*p != ',' || depth > 0))
			continue;
		*p = '\0';
		if (!*tok) {
			/* an empty element: skipped, as before */
		} else if (strchr(tok, '_')) {
			rc = parse_array(tok, o, err);
		} else if (!strchr(tok, '.')) {
			rc = cmd_parse_job_ids(tok, &o->job_ids, &o->njob_ids,
					       err);
		} else if (!cmd_parse_step_ref(tok, &ref) || ref.any_step) {
			rc = mer_error_set(err,
					   "Invalid job step id: %s (expected "
					   "JOB.STEP such as 12.3)",
					   tok);
		} else {
			o->steps = xrealloc(
				o->steps, (o->nsteps + 1) * sizeof(*o->steps));
			meridian__job_step_id__init(&o->steps[o->nsteps]);
			o->steps[o->nsteps].job_id = ref.job_id;
			o->steps[o->nsteps++].step_id = ref.step_id;
		}
		if (rc || last)
			break;
		tok = p + 1;
	}
	if (rc == 0 && !o->njob_ids && !o->nsteps && !o->narrays)
		rc = mer_error_set(err,
				   "Invalid job id: \"%s\" (expected a job "
				   "number such as 12)",
				   arg);
	free(copy);
	return rc;
}

int main(int argc, char **argv)
{
	enum { OPT_ME = 256 };
	static const struct option longopts[] = {
		{"me", no_argument, NULL, OPT_ME},
		{"quiet", no_argument, NULL, 'Q'},
		{"signal", required_argument, NULL, 's'},
		{"state", required_argument, NULL, 't'},
		{"states", required_argument, NULL, 't'},
		{"user", required_argument, NULL, 'u'},
		{"verbose", no_argument, NULL, 'v'},
		CMD_LONGOPT_CONFIG,
		CMD_LONGOPT_HELP,
		CMD_LONGOPT_USAGE,
		CMD_LONGOPT_VERSION,
		{NULL, 0, NULL, 0},
	};
	struct mcancel_opts o = {0};
	struct mer_error err = {{0}};
	struct cmd c;
	int ch, rc, i;

	cmd_init(&c, "mcancel");
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":f:Qs:t:u:vV", longopts, NULL)) !=
	       -1) {
		switch (ch) {
		case 'f':
			c.conf_path = optarg;
			break;
		case 'Q':
			o.quiet = true;
			break;
		case 's':
			if (cmd_parse_signal(optarg, &o.signal, &err))
				return cmd_usage_error(&c, "%s", err.text);
			break;
		case 't':
			if (cmd_job_states_parse(optarg, &o.states, &err))
				return cmd_usage_error(&c, "%s", err.text);
			break;
		case 'u': {
			uint32_t *uids = NULL;
			size_t n = 0;

			if (cmd_parse_users(optarg, &uids, &n, &err))
				return cmd_usage_error(&c, "%s", err.text);
			if (n != 1) {
				free(uids);
				return cmd_usage_error(
					&c, "--user takes one user, not \"%s\"",
					optarg);
			}
			o.has_user = true;
			o.user_id = uids[0];
			free(uids);
			break;
		}
		case OPT_ME:
			o.has_user = true;
			o.user_id = (uint32_t)getuid();
			break;
		case 'v':
			o.verbose = true;
			break;
		case 'H':
		case 'U':
			usage(stdout);
			return MER_EXIT_OK;
		case 'V':
			return cmd_print_version(&c);
		default:
			return cmd_getopt_error(&c, ch, argv);
		}
	}
	for (i = optind; i < argc; i++)
		if (parse_ids(argv[i], &o, &err))
			return cmd_usage_error(&c, "%s", err.text);
	if (!o.njob_ids && !o.nsteps && !o.narrays && !o.has_user)
		return cmd_usage_error(&c, "No job identification provided "
					   "(give job ids, --user or --me)");

	rc = run(&c, &o);
	cmd_fini(&c);
	free(o.job_ids);
	free(o.steps);
	for (size_t k = 0; k < o.narrays; k++)
		free(o.arrays[k].tasks);
	free(o.arrays);
	return rc;
}
