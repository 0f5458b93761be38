/*
 * mbatch - submit a batch script, like sbatch.
 *
 * Options come from the script's "#MERIDIAN"/"#SBATCH" lines first, then
 * from the command line, which wins (jobopt.h parses both with one table).
 * Everything is checked before mctld is contacted: an invalid option never
 * sends the script.  The benchmark runs this program hundreds of times a
 * second, so it does one config read, one connection and one request, and
 * nothing else that could block (no directory scans, no DNS lookups).
 *
 * Built with MBATCH_QUOTE this is mquote: the same options and directives
 * make the same job description, which mctld places as it would now and
 * prices (quote.c), and nothing is submitted.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "jobopt.h"
#ifdef MBATCH_QUOTE
#include "quote.h"
#define PROG "mquote"
#else
#define PROG "mbatch"
#endif

extern char **environ;

/* The command line without the config options jobopt does not know. */
struct cmdline {
	char **argv; /* NULL terminated; strings belong to main's argv */
	int argc;
	int *orig;		 /* orig[i]: index of argv[i] in main's argv */
	const char **conf_paths; /* every config option seen, in order */
	int *conf_at;		 /* where each was, in main's argv */
	int nconf;
	bool json; /* mquote --json */
};

/*
 * Take -f FILE / --config=FILE / --config FILE out of the command line.
 * Only those before the script count; since jobopt stops at the script,
 * one found after it is given back to the script by the caller (the
 * script's arguments are taken from main's argv).
 */
static void strip_config(int argc, char **argv, struct cmdline *cl)
{
	int i;

	cl->argv = xcalloc((size_t)argc + 1, sizeof(*cl->argv));
	cl->orig = xcalloc((size_t)argc + 1, sizeof(*cl->orig));
	cl->argc = 0;
	cl->conf_paths = xcalloc((size_t)argc + 1, sizeof(*cl->conf_paths));
	cl->conf_at = xcalloc((size_t)argc + 1, sizeof(*cl->conf_at));
	cl->nconf = 0;
	cl->json = false;
	for (i = 0; i < argc; i++) {
		const char *a = argv[i];
		const char *path = NULL;
		int at = i;

		if (i > 0 && strcmp(a, "--") == 0) {
			for (; i < argc; i++) {
				cl->orig[cl->argc] = i;
				cl->argv[cl->argc++] = argv[i];
			}
			break;
		}
		/* without a value it is left to jobopt (a script argument, or
		 * an error) */
		if (i > 0 && i + 1 < argc &&
		    (strcmp(a, "-f") == 0 || strcmp(a, "--config") == 0)) {
			path = argv[++i];
		} else if (i > 0 && strncmp(a, "--config=", 9) == 0) {
			path = a + 9;
		} else if (i > 0 && strncmp(a, "-f", 2) == 0 && a[2]) {
			path = a + 2;
		}
#ifdef MBATCH_QUOTE
		if (i > 0 && strcmp(a, "--json") == 0) {
			cl->json = true;
			continue;
		}
#endif
		if (path) {
			cl->conf_paths[cl->nconf] = path;
			cl->conf_at[cl->nconf++] = at;
			continue;
		}
		cl->orig[cl->argc] = i;
		cl->argv[cl->argc++] = argv[i];
	}
	cl->orig[cl->argc] = argc;
	cl->argv[cl->argc] = NULL;
}

static void usage(FILE *out)
{
#ifdef MBATCH_QUOTE
	/* mbatch's options, without its usage lines and blurb */
	const char *opts = strstr(jobopt_help(), "\n\n");

	fprintf(out,
		"Usage: mquote [OPTIONS] [SCRIPT]\n"
		"Where mctld would run the job now, in which rank order, how "
		"long its\n"
		"communication would take and what it would cost; nothing is "
		"submitted.\n"
		"The options and #SBATCH/#MERIDIAN directives are mbatch's.\n"
		"      --json                 print the answer as JSON\n");
	fputs(opts ? opts + 2 : "", out);
	fprintf(out,
		"  -f, --config=FILE          meridian.conf to read (default "
		"$MERIDIAN_CONF,\n"
		"                             else %s/meridian.conf)\n"
		"\n"
		"Without SCRIPT and --wrap only the options count.\n"
		"Exit status: 0 answered (it may say the job would wait), 1 "
		"refused or\n"
		"failed, 2 bad usage or script, 3 controller unreachable.\n",
		SYSCONFDIR);
	return;
#endif
	fputs(jobopt_help(), out);
	fprintf(out,
		"  -f, --config=FILE          meridian.conf to read (default "
		"$MERIDIAN_CONF,\n"
		"                             else %s/meridian.conf)\n"
		"\n"
		"Without SCRIPT and --wrap the script is read from standard "
		"input.\n"
		"Exit status: 0 submitted, 1 refused or failed, 2 bad usage or "
		"script,\n"
		"3 controller unreachable.\n",
		SYSCONFDIR);
}

#ifndef MBATCH_QUOTE
static int read_stdin(char **data, size_t *len)
{
	struct strbuf b = {0};
	char buf[65536];
	ssize_t n;

	for (;;) {
		n = read(STDIN_FILENO, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			strbuf_free(&b);
			return -1;
		}
		if (n == 0)
			break;
		strbuf_add(&b, buf, (size_t)n);
	}
	*data = b.s ? b.s : xstrdup("");
	*len = b.len;
	return 0;
}
#endif

/* sbatch's checks of a script, with its words. */
static int check_script(struct cmd *c, const char *s, size_t len)
{
	size_t i;

	if (len == 0) {
		cmd_error(c, "Batch script is empty!");
		return -1;
	}
	for (i = 0; i < len; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\n' && s[i] != '\r')
			break;
	if (i == len) {
		cmd_error(c, "Batch script contains only whitespace!");
		return -1;
	}
	if (len < 2 || s[0] != '#' || s[1] != '!') {
		cmd_error(c, "This does not look like a batch script. The "
			     "first line must start with #! followed by the "
			     "path to an interpreter.");
		cmd_error(c, "For instance: #!/bin/sh");
		return -1;
	}
	if (memchr(s, '\0', len)) {
		cmd_error(c, "The batch script contains a NUL character: "
			     "expected a text script");
		return -1;
	}
	if (memmem(s, len, "\r\n", 2)) {
		cmd_error(c, "Batch script contains DOS line breaks (\\r\\n) "
			     "instead of expected UNIX line breaks (\\n); "
			     "convert it with dos2unix");
		return -1;
	}
	return 0;
}

/* An absolute working directory: -D relative to where mbatch runs. */
static char *work_dir(struct cmd *c, const char *dir)
{
	char *cwd;

	if (dir && dir[0] == '/')
		return xstrdup(dir);
	cwd = getcwd(NULL, 0);
	if (!cwd) {
		cmd_error(c,
			  "cannot find the current directory: %s (give "
			  "--chdir=DIR)",
			  strerror(errno));
		return NULL;
	}
	if (dir && *dir && strcmp(dir, ".") != 0) {
		char *full =
			xasprintf("%s/%s", strcmp(cwd, "/") ? cwd : "", dir);

		free(cwd);
		return full;
	}
	return cwd;
}

static const char *base_name(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash && slash[1] ? slash + 1 : path;
}

/* --wait: poll until the job has ended; its exit code (1 when it ended
 * without one of its own: cancelled, timed out, node failure). */
static int wait_end(struct cmd *c, uint32_t id)
{
	unsigned ms = 100;

	for (;;) {
		Meridian__JobInfoRequest q = MERIDIAN__JOB_INFO_REQUEST__INIT;
		Meridian__JobInfoReply *r = NULL;
		struct mer_error err = {""};
		int rc;

		q.job_ids = &id;
		q.n_job_ids = 1;
		q.all_states = true;
		rc = cmd_job_info(c, &q, &r, &err);
		if (rc) {
			cmd_error(c, "waiting for job %" PRIu32 ": %s", id,
				  err.text);
			return rc;
		}
		if (r->n_jobs && mer_job_state_final(r->jobs[0]->state)) {
			const Meridian__JobRecord *j = r->jobs[0];
			int code =
				j->state == MERIDIAN__JOB_STATE__JOB_COMPLETED
					? 0
				: j->exit_code ? j->exit_code & 0xff
					       : 1;

			protobuf_c_message_free_unpacked(&r->base, NULL);
			return code;
		}
		if (r)
			protobuf_c_message_free_unpacked(&r->base, NULL);
		usleep(ms * 1000);
		if (ms < 2000)
			ms *= 2;
	}
}

int main(int argc, char **argv)
{
	Meridian__SubmitJobRequest req = MERIDIAN__SUBMIT_JOB_REQUEST__INIT;
	Meridian__JobDesc desc = MERIDIAN__JOB_DESC__INIT;
	Meridian__JobSpec spec = MERIDIAN__JOB_SPEC__INIT;
	Meridian__SubmitJobReply *reply = NULL;
	struct mer_error err = {{0}};
	struct jobopt cli, o;
	struct cmdline cl;
	char **env = NULL;
	size_t nenv = 0;
	struct cmd c;
	char *script = NULL, *wd = NULL, *submit_dir = NULL, user[256],
	     host[256];
	const char *script_name;
	size_t script_len = 0;
	int first, orig_first, i, rc = MER_EXIT_USAGE;

	cmd_init(&c, PROG);
	jobopt_init(&cli);
	jobopt_init(&o);
	strip_config(argc, argv, &cl);

	/* First pass: where the script is, and --help and friends. */
	if (jobopt_parse(&cli, cl.argc, cl.argv, "command line", &first, &err) <
	    0) {
		rc = cmd_usage_error(&c, "%s", err.text);
		goto out;
	}
	orig_first = cl.orig[first];
	/* the last one before the script wins; later ones are its args */
	for (i = 0; i < cl.nconf; i++)
		if (cl.conf_at[i] < orig_first)
			c.conf_path = cl.conf_paths[i];
	if (cli.help) {
		usage(stdout);
		rc = MER_EXIT_OK;
		goto out;
	}
	if (cli.usage) {
#ifdef MBATCH_QUOTE
		printf("Usage: mquote [OPTIONS] [SCRIPT] [--json]\n");
#else
		printf("Usage: mbatch [OPTIONS] SCRIPT [ARGS...] | mbatch "
		       "[OPTIONS] --wrap=COMMAND\n");
#endif
		rc = MER_EXIT_OK;
		goto out;
	}
	if (cli.version) {
		rc = cmd_print_version(&c);
		goto out;
	}

	/* The script: --wrap, a file, or standard input. */
	if (cli.wrap) {
		if (orig_first < argc) {
			rc = cmd_usage_error(&c, "script arguments are not "
						 "permitted with --wrap");
			goto out;
		}
		script = xasprintf("#!/bin/sh\n%s\n", cli.wrap);
		script_len = strlen(script);
		script_name = "wrap";
	} else if (orig_first < argc) {
		script_name = argv[orig_first];
		if (read_file(script_name, &script, &script_len) < 0) {
			cmd_error(&c, "cannot read the script %s: %s",
				  script_name, strerror(errno));
			goto out;
		}
	} else {
		script_name = PROG;
#ifdef MBATCH_QUOTE
		/* only the options: a quote does not wait for a script */
		script = xstrdup("#!/bin/sh\n");
		script_len = strlen(script);
#else
		if (read_stdin(&script, &script_len) < 0) {
			cmd_error(&c,
				  "cannot read the script from standard "
				  "input: %s",
				  strerror(errno));
			goto out;
		}
#endif
	}
	if (check_script(&c, script, script_len) < 0)
		goto out;

	/* Directives, then the command line over them. */
	if (!cli.wrap &&
	    jobopt_parse_script(&o, script, script_len,
				orig_first < argc ? script_name : "(stdin)",
				&err) < 0) {
		cmd_error(&c, "%s", err.text);
		goto out;
	}
	if (jobopt_parse(&o, cl.argc, cl.argv, "command line", &first, &err) <
	    0) {
		rc = cmd_usage_error(&c, "%s", err.text);
		goto out;
	}

	/* The environment the job gets, from --export as sbatch reads it
	 * (jobopt.h). */
	if (jobopt_export_env(o.export_spec, environ, &env, &nenv, &err) < 0) {
		rc = cmd_usage_error(&c, "%s", err.text);
		goto out;
	}
	wd = work_dir(&c, o.work_dir);
	if (!wd) {
		rc = MER_EXIT_ERROR;
		goto out;
	}

	desc.name = o.name ? o.name : (char *)base_name(script_name);
	desc.account = o.account ? o.account : (char *)"";
	desc.qos = o.qos ? o.qos : (char *)"";
	desc.partition = o.partition ? o.partition : (char *)"";
	desc.work_dir = wd;
	submit_dir = getcwd(NULL, 0);
	desc.submit_dir = submit_dir ? submit_dir : wd;
	desc.std_out = o.std_out ? o.std_out : (char *)"";
	desc.std_err = o.std_err ? o.std_err : (char *)"";
	desc.std_in = o.std_in ? o.std_in : (char *)"";
	desc.min_nodes = o.nodes;
	desc.max_nodes = o.max_nodes;
	desc.ntasks = o.ntasks;
	desc.ntasks_per_node = o.ntasks_per_node;
	desc.cpus_per_task = o.cpus_per_task;
	desc.mem_mb = o.mem_mb;
	desc.gpus = o.gpus;
	desc.gpus_per_node = o.gpus_per_node;
	desc.gpu_type = o.gpu_type ? o.gpu_type : (char *)"";
	desc.time_limit = o.time_limit;
	desc.hold = o.hold ? MERIDIAN__HOLD_KIND__HOLD_USER
			   : MERIDIAN__HOLD_KIND__HOLD_NONE;
	desc.export_mode = o.export_spec ? o.export_spec : (char *)"ALL";
	desc.max_price = o.max_price;
	/* enum jobopt_comm has CommPattern's numbers (jobopt.h) */
	desc.comm = (Meridian__CommPattern)o.comm;
	desc.comm_stages = o.comm_stages;
	desc.comm_bytes = o.comm_bytes;
	desc.min_tier = o.min_tier ? o.min_tier : (char *)"";
	desc.regions = o.regions ? o.regions : (char *)"";
	desc.countries = o.countries ? o.countries : (char *)"";
	desc.dependency = o.dependency ? o.dependency : (char *)"";
	desc.array = o.array ? o.array : (char *)"";
	desc.exclusive = o.exclusive;
	desc.nodelist = o.nodelist ? o.nodelist : (char *)"";
	desc.exclude = o.exclude ? o.exclude : (char *)"";
	desc.mem_per_cpu = o.mem_per_cpu;
	desc.comment = o.comment ? o.comment : (char *)"";
	desc.open_mode = !o.open_mode ? MERIDIAN__OPEN_MODE__OPEN_DEFAULT
			 : strcmp(o.open_mode, "append") == 0
				 ? MERIDIAN__OPEN_MODE__OPEN_APPEND
				 : MERIDIAN__OPEN_MODE__OPEN_TRUNCATE;
	desc.begin_time = o.begin;
	desc.deadline = o.deadline;
	desc.signal = o.signal;
	desc.signal_secs = o.signal_secs;
	desc.signal_batch = o.signal_batch;
	desc.nice = o.nice;
	desc.constraint = o.constraint ? o.constraint : (char *)"";
	/* jobopt's numbers are RequeuePolicy's */
	desc.requeue = (Meridian__RequeuePolicy)o.requeue;
	desc.mail_type = o.mail_type;
	desc.mail_user = o.mail_user ? o.mail_user : (char *)"";
	if (o.mem_mb && o.mem_per_cpu) {
		rc = cmd_usage_error(&c, "--mem and --mem-per-cpu are mutually "
					 "exclusive: give one of them");
		goto out;
	}
	desc.kill_on_invalid_dep = o.kill_on_invalid_dep &&
				   strcmp(o.kill_on_invalid_dep, "yes") == 0;

#ifdef MBATCH_QUOTE
	rc = quote_show(&c, &desc, cl.json);
	goto out;
#endif
	spec.script.data = (uint8_t *)script;
	spec.script.len = script_len;
	spec.env = env;
	spec.n_env = nenv;
	if (!cli.wrap && orig_first + 1 < argc) {
		spec.argv = argv + orig_first + 1;
		spec.n_argv = (size_t)(argc - orig_first - 1);
	}

	if (user_name(getuid(), user, sizeof(user)) < 0)
		snprintf(user, sizeof(user), "%u", (unsigned)getuid());
	if (gethostname(host, sizeof(host)) < 0)
		host[0] = '\0';
	host[sizeof(host) - 1] = '\0';
	req.desc = &desc;
	req.spec = &spec;
	req.user_name = user;
	req.submit_host = host;

	rc = cmd_connect(&c);
	if (rc)
		goto out;
	rc = cmd_call(&c, MERIDIAN__MSG_TYPE__MSG_SUBMIT_JOB, &req.base,
		      (ProtobufCMessage **)&reply, &err);
	if (rc == MER_EXIT_ERROR)
		cmd_error(&c, "Batch job submission failed: %s", err.text);
	if (rc)
		goto out;
	if (o.parsable || cli.parsable)
		printf("%" PRIu32 "\n", reply->job_id);
	else
		printf("Submitted batch job %" PRIu32 "\n", reply->job_id);
	if (fflush(stdout) != 0) {
		cmd_error(&c, "writing the job id: %s", strerror(errno));
		rc = MER_EXIT_ERROR;
	}
	if (!rc && (o.wait || cli.wait))
		rc = wait_end(&c, reply->job_id);
out:
	if (reply)
		protobuf_c_message_free_unpacked(&reply->base, NULL);
	cmd_fini(&c);
	jobopt_env_free(env, nenv);
	free(script);
	free(wd);
	free(submit_dir);
	free(cl.argv);
	free(cl.orig);
	free(cl.conf_paths);
	free(cl.conf_at);
	jobopt_free(&cli);
	jobopt_free(&o);
	return rc;
}
