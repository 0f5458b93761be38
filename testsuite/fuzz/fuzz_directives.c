/*
 * fuzz_directives.c - the "#SBATCH" / "#MERIDIAN" lines of a batch
 * script, as mbatch reads them before it submits (jobopt_parse_script),
 * then a command line over them and --export's environment, as mbatch
 * goes on.
 *
 * The input is the script.  Every error must name the script, and the
 * options a script sets are then overwritten by a command line, which
 * must not leak what the directives set.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "jobopt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char *envp[] = {"PATH=/usr/bin:/bin", "HOME=/root", "A=1", NULL};
	char *cl[] = {"mbatch",	   "-J", "over", "--mem=1G", "-o",
		      "%x-%j.out", "-t", "10",	 "job.sh",   NULL};
	struct mer_error err = {""};
	struct jobopt o;
	int first;

	jobopt_init(&o);
	if (jobopt_parse_script(&o, (const char *)data, size, "job.sh", &err) <
	    0) {
		if (strncmp(err.text, "job.sh", 6) != 0)
			abort(); /* an error that does not say where */
	} else {
		char **env = NULL;
		size_t nenv = 0;

		if (jobopt_parse(&o, 9, cl, "command line", &first, &err) < 0 ||
		    first != 8)
			abort(); /* a fixed, valid command line */
		if (jobopt_export_env(o.export_spec, envp, &env, &nenv, &err) ==
		    0)
			jobopt_env_free(env, nenv);
	}
	jobopt_free(&o);
	return 0;
}
