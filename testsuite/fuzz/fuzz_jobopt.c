/*
 * fuzz_jobopt.c - job options on a command line, as mbatch and mrun read
 * them (one table, jobopt.c), and what mrun builds from them.
 *
 * The input: one byte that picks the command (bit 0: mrun, else mbatch;
 * bit 1: the command-neutral jobopt_parse), then the arguments, one a
 * line.  The arguments are parsed twice into the same jobopt, as
 * directives and then a command line are (the second overwrites, which
 * must not leak).  What parses is turned into --export's environment and,
 * for mrun, into the StepDesc and JobDesc it sends, which must pack: a
 * NULL where protobuf-c wants a string would crash mrun, not mctld.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "jobopt.h"
#include "mrun.h"

static void check_packs(const ProtobufCMessage *m)
{
	size_t n = protobuf_c_message_get_packed_size(m);
	uint8_t *buf = xmalloc(n ? n : 1);

	if (protobuf_c_message_pack(m, buf) != n)
		abort();
	free(buf);
}

static void mrun_descs(const struct jobopt *o, char **args, size_t nargs,
		       char **env, size_t nenv)
{
	Meridian__StepDesc sd = MERIDIAN__STEP_DESC__INIT;
	Meridian__JobDesc jd = MERIDIAN__JOB_DESC__INIT;
	struct mer_error err = {""};

	for (int in_job = 0; in_job < 2; in_job++) {
		Meridian__StepDesc d = sd;

		if (mrun_step_desc(o, args, nargs, env, nenv, "/tmp", in_job,
				   &d, &err) == 0)
			check_packs(&d.base);
	}
	mrun_job_desc(o, nargs ? args[0] : "prog", "/tmp", NULL, &jd);
	check_packs(&jd.base);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char *envp[] = {"PATH=/usr/bin:/bin", "HOME=/root", "A=1",
			       "LANG=C.UTF-8", NULL};
	struct fuzz_in in = {data, size};
	uint8_t mode = fuzz_u8(&in);
	enum jobopt_cmd cmd = (mode & 1) ? JOBOPT_MRUN : JOBOPT_MBATCH;
	char *text = fuzz_str(in.p, in.left), *save = NULL, *tok;
	char **argv = xcalloc(2, sizeof(*argv));
	int argc = 1, first = 0, rc = 0;
	struct mer_error err = {""};
	struct jobopt o;

	argv[0] = cmd == JOBOPT_MRUN ? "mrun" : "mbatch";
	for (tok = strtok_r(text, "\n", &save); tok;
	     tok = strtok_r(NULL, "\n", &save)) {
		argv = xrealloc(argv, (size_t)(argc + 2) * sizeof(*argv));
		argv[argc++] = tok;
	}
	argv[argc] = NULL;

	jobopt_init(&o);
	for (int pass = 0; pass < 2 && rc == 0; pass++) {
		/* getopt permutes argv: parse a copy each time */
		char **copy = xcalloc((size_t)argc + 1, sizeof(*copy));

		memcpy(copy, argv, (size_t)argc * sizeof(*copy));
		if (mode & 2)
			rc = jobopt_parse(&o, argc, copy, "command line",
					  &first, &err);
		else
			rc = jobopt_parse_cmd(&o, cmd, argc, copy,
					      "command line", &first, &err);
		if (rc == 0 && (first < 1 || first > argc))
			abort(); /* the first argument is inside argv */
		if (rc == 0 && pass == 1) {
			char **env = NULL;
			size_t nenv = 0;

			if (jobopt_export_env(o.export_spec, envp, &env, &nenv,
					      &err) == 0) {
				if (cmd == JOBOPT_MRUN)
					mrun_descs(&o, copy + first,
						   (size_t)(argc - first), env,
						   nenv);
				jobopt_env_free(env, nenv);
			}
		}
		free(copy);
	}
	jobopt_free(&o);
	free(argv);
	free(text);
	return 0;
}
