/*
 * test_jobopt.c - mbatch options from the command line and from directives,
 * mrun's options from the same table, and --export's environment.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cunit_main.h"
#include "jobopt.h"
#include "util.h"

/* The word at first_arg after the last parse_line, "" when none. */
static char first_word[64];

/* Parse a command line given as one string (split like a shell would). */
static int parse_line(struct jobopt *o, const char *line, int *first,
		      struct mer_error *e)
{
	char **argv;
	int argc, rc;

	/* The lines below start with the program's name for readability;
	 * argv_split supplies argv[0] itself. */
	if (strncmp(line, "mbatch", 6) == 0)
		line += 6;
	CU_ASSERT_EQUAL_FATAL(argv_split(line, "mbatch", &argv, &argc, e), 0);
	rc = jobopt_parse(o, argc, argv, "command line", first, e);
	snprintf(first_word, sizeof(first_word), "%s",
		 rc == 0 && *first < argc ? argv[*first] : "");
	argv_free(argv);
	return rc;
}

static void expect_cmd_error(const char *line, const char *msg)
{
	struct jobopt o;
	struct mer_error e = {{0}};
	int first = -1;

	jobopt_init(&o);
	CU_ASSERT_EQUAL(parse_line(&o, line, &first, &e), -1);
	if (strcmp(e.text, msg) != 0)
		fprintf(stderr, "\n  '%s'\n  got  '%s'\n  want '%s'\n", line,
			e.text, msg);
	CU_ASSERT_STRING_EQUAL(e.text, msg);
	jobopt_free(&o);
}

static void expect_script_error(const char *script, const char *msg)
{
	struct jobopt o;
	struct mer_error e = {{0}};

	jobopt_init(&o);
	CU_ASSERT_EQUAL(
		jobopt_parse_script(&o, script, strlen(script), "job.sh", &e),
		-1);
	if (strcmp(e.text, msg) != 0)
		fprintf(stderr, "\n  got  '%s'\n  want '%s'\n", e.text, msg);
	CU_ASSERT_STRING_EQUAL(e.text, msg);
	jobopt_free(&o);
}

static void test_init_free(void)
{
	struct jobopt o;

	jobopt_init(&o);
	CU_ASSERT_PTR_NULL(o.name);
	CU_ASSERT_PTR_NULL(o.export_spec);
	CU_ASSERT_PTR_NULL(o.gpu_type);
	CU_ASSERT_EQUAL(o.nodes, 0);
	CU_ASSERT_FALSE(o.time_set);
	CU_ASSERT_EQUAL(o.max_price, 0);
	CU_ASSERT_EQUAL(o.comm, JOBOPT_COMM_UNSET);
	CU_ASSERT_EQUAL(o.comm_stages, 0);
	CU_ASSERT_EQUAL(o.comm_bytes, 0);
	CU_ASSERT_PTR_NULL(o.min_tier);
	CU_ASSERT_PTR_NULL(o.regions);
	CU_ASSERT_PTR_NULL(o.countries);
	jobopt_free(&o);
	jobopt_free(&o); /* twice is fine */
	jobopt_free(NULL);
}

static void test_command_line(void)
{
	struct jobopt o;
	struct mer_error e;
	int first = -1;

	jobopt_init(&o);
	CU_ASSERT_EQUAL_FATAL(
		parse_line(
			&o,
			"mbatch -J train -A acct -p gpu -D /work -o out-%j.log "
			"-e err-%j.log -i in.txt -N 2 -n 8 --ntasks-per-node=4 "
			"-c 3 --mem=4G --gres=gpu:a100:2 -t 1-00:00:00 "
			"--export=ALL,VAR=x --max-price=2.50 -H --parsable "
			"job.sh arg1 -J notmine",
			&first, &e),
		0);
	CU_ASSERT_STRING_EQUAL(o.name, "train");
	CU_ASSERT_STRING_EQUAL(o.account, "acct");
	CU_ASSERT_STRING_EQUAL(o.partition, "gpu");
	CU_ASSERT_STRING_EQUAL(o.work_dir, "/work");
	CU_ASSERT_STRING_EQUAL(o.std_out, "out-%j.log");
	CU_ASSERT_STRING_EQUAL(o.std_err, "err-%j.log");
	CU_ASSERT_STRING_EQUAL(o.std_in, "in.txt");
	CU_ASSERT_EQUAL(o.nodes, 2);
	CU_ASSERT_EQUAL(o.ntasks, 8);
	CU_ASSERT_EQUAL(o.ntasks_per_node, 4);
	CU_ASSERT_EQUAL(o.cpus_per_task, 3);
	CU_ASSERT_EQUAL(o.mem_mb, 4096);
	/* --gres counts GPUs on each node, as in Slurm */
	CU_ASSERT_EQUAL(o.gpus_per_node, 2);
	CU_ASSERT_EQUAL(o.gpus, 0);
	CU_ASSERT_STRING_EQUAL(o.gpu_type, "a100");
	CU_ASSERT_EQUAL(o.time_limit, 1440);
	CU_ASSERT_TRUE(o.time_set);
	CU_ASSERT_STRING_EQUAL(o.export_spec, "ALL,VAR=x");
	CU_ASSERT_EQUAL(o.max_price, 2500000);
	CU_ASSERT_TRUE(o.hold);
	CU_ASSERT_TRUE(o.parsable);
	CU_ASSERT_FALSE(o.help);
	/* Options stop at the script: what follows is its arguments. */
	CU_ASSERT_EQUAL(first, 30);
	CU_ASSERT_STRING_EQUAL(first_word, "job.sh");
	jobopt_free(&o);

	/* Long forms with separate values, and the same again: the later
	 * one wins. */
	jobopt_init(&o);
	CU_ASSERT_EQUAL_FATAL(
		parse_line(&o,
			   "mbatch --job-name a --job-name=b --account=x "
			   "--partition=p --chdir=/d --output=o --error=e "
			   "--input=i --nodes=3 --ntasks=5 --cpus-per-task=2 "
			   "--time=30 --hold --gpus=h100:4 --gpus-per-node=2 "
			   "--export=NONE -- -script.sh",
			   &first, &e),
		0);
	CU_ASSERT_STRING_EQUAL(o.name, "b");
	CU_ASSERT_EQUAL(o.nodes, 3);
	CU_ASSERT_EQUAL(o.ntasks, 5);
	CU_ASSERT_EQUAL(o.cpus_per_task, 2);
	CU_ASSERT_EQUAL(o.time_limit, 30);
	CU_ASSERT_EQUAL(o.gpus, 4);
	CU_ASSERT_EQUAL(o.gpus_per_node, 2);
	/* --gpus-per-node=2 names no model: any model. */
	CU_ASSERT_PTR_NULL(o.gpu_type);
	CU_ASSERT_STRING_EQUAL(o.export_spec, "NONE");
	CU_ASSERT_STRING_EQUAL(first_word, "-script.sh"); /* after "--" */
	jobopt_free(&o);

	/* No script: first_arg is argc. */
	jobopt_init(&o);
	CU_ASSERT_EQUAL(parse_line(&o, "mbatch --wrap=\"echo hi; sleep 1\"",
				   &first, &e),
			0);
	CU_ASSERT_STRING_EQUAL(o.wrap, "echo hi; sleep 1");
	CU_ASSERT_EQUAL(first, 2);
	jobopt_free(&o);

	jobopt_init(&o);
	CU_ASSERT_EQUAL(parse_line(&o, "mbatch", &first, &e), 0);
	CU_ASSERT_EQUAL(first, 1);
	CU_ASSERT_EQUAL(parse_line(&o, "mbatch -h", &first, &e), 0);
	CU_ASSERT_TRUE(o.help);
	CU_ASSERT_EQUAL(parse_line(&o, "mbatch --help", &first, &e), 0);
	CU_ASSERT_EQUAL(parse_line(&o, "mbatch --usage -V", &first, &e), 0);
	CU_ASSERT_TRUE(o.usage);
	CU_ASSERT_TRUE(o.version);
	CU_ASSERT_EQUAL(parse_line(&o, "mbatch --version", &first, &e), 0);
	/* Clustered short flags and attached values. */
	CU_ASSERT_EQUAL(parse_line(&o, "mbatch -HN4 -t5 -G 2 s.sh", &first, &e),
			0);
	CU_ASSERT_EQUAL(o.nodes, 4);
	CU_ASSERT_EQUAL(o.time_limit, 5);
	CU_ASSERT_EQUAL(o.gpus, 2);
	CU_ASSERT_EQUAL(first, 5);
	CU_ASSERT_STRING_EQUAL(first_word, "s.sh");
	jobopt_free(&o);
}

static void test_values(void)
{
	struct jobopt o;
	struct mer_error e;
	int first;

	jobopt_init(&o);
	CU_ASSERT_EQUAL(parse_line(&o, "mbatch --gpus=a100:2", &first, &e), 0);
	CU_ASSERT_EQUAL(o.gpus, 2);
	CU_ASSERT_STRING_EQUAL(o.gpu_type, "a100");
	CU_ASSERT_EQUAL(parse_line(&o, "mbatch --gpus=3", &first, &e), 0);
	CU_ASSERT_EQUAL(o.gpus, 3);
	CU_ASSERT_PTR_NULL(o.gpu_type);
	CU_ASSERT_EQUAL(parse_line(&o, "mbatch --gres=gpu:H100:8", &first, &e),
			0);
	CU_ASSERT_EQUAL(o.gpus_per_node, 8);
	CU_ASSERT_STRING_EQUAL(o.gpu_type, "h100");
	CU_ASSERT_EQUAL(parse_line(&o, "mbatch --gres=gpu:1", &first, &e), 0);
	CU_ASSERT_EQUAL(o.gpus_per_node, 1);
	CU_ASSERT_PTR_NULL(o.gpu_type);
	CU_ASSERT_EQUAL(parse_line(&o, "mbatch --gres=gpu", &first, &e), 0);
	CU_ASSERT_EQUAL(o.gpus_per_node, 1);

	CU_ASSERT_EQUAL(parse_line(&o, "mbatch --mem=500", &first, &e), 0);
	CU_ASSERT_EQUAL(o.mem_mb, 500);
	CU_ASSERT_EQUAL(parse_line(&o, "mbatch --mem 2048K", &first, &e), 0);
	CU_ASSERT_EQUAL(o.mem_mb, 2);

	CU_ASSERT_EQUAL(parse_line(&o, "mbatch -t UNLIMITED", &first, &e), 0);
	CU_ASSERT_EQUAL(o.time_limit, 0);
	CU_ASSERT_TRUE(o.time_set);
	CU_ASSERT_EQUAL(parse_line(&o, "mbatch -t 0:30", &first, &e), 0);
	CU_ASSERT_EQUAL(o.time_limit, 1);
	CU_ASSERT_EQUAL(parse_line(&o, "mbatch -t 2-12", &first, &e), 0);
	CU_ASSERT_EQUAL(o.time_limit, 3600);

	CU_ASSERT_EQUAL(
		parse_line(&o, "mbatch --max-price=0.000001", &first, &e), 0);
	CU_ASSERT_EQUAL(o.max_price, 1);
	CU_ASSERT_EQUAL(parse_line(&o, "mbatch --max-price=3", &first, &e), 0);
	CU_ASSERT_EQUAL(o.max_price, 3000000);

	CU_ASSERT_EQUAL(parse_line(&o, "mbatch --export=ALL", &first, &e), 0);
	CU_ASSERT_STRING_EQUAL(o.export_spec, "ALL");
	CU_ASSERT_EQUAL(parse_line(&o, "mbatch --export=PATH,HOME", &first, &e),
			0);
	CU_ASSERT_STRING_EQUAL(o.export_spec, "PATH,HOME");
	CU_ASSERT_EQUAL(
		parse_line(&o, "mbatch --export=ALL,A=1,B=x=y,_C", &first, &e),
		0);
	CU_ASSERT_STRING_EQUAL(o.export_spec, "ALL,A=1,B=x=y,_C");
	CU_ASSERT_EQUAL(parse_line(&o, "mbatch --export=NONE,A=2", &first, &e),
			0);
	CU_ASSERT_EQUAL(parse_line(&o, "mbatch --export=A=", &first, &e), 0);
	jobopt_free(&o);
}

static void test_command_line_errors(void)
{
	expect_cmd_error("mbatch --foo", "command line: unknown option --foo: "
					 "see mbatch --help");
	expect_cmd_error("mbatch --foo=3 x", "command line: unknown option "
					     "--foo: see mbatch --help");
	expect_cmd_error("mbatch -y", "command line: unknown option -y: see "
				      "mbatch --help");
	expect_cmd_error("mbatch -t", "command line: option --time needs a "
				      "value, expected --time=TIME");
	expect_cmd_error("mbatch --mem", "command line: option --mem needs a "
					 "value, expected --mem=SIZE");
	expect_cmd_error("mbatch --hold=yes", "command line: option --hold "
					      "takes no value, expected --hold "
					      "alone");
	expect_cmd_error("mbatch --parsable=1", "command line: option "
						"--parsable takes no value, "
						"expected --parsable alone");
	expect_cmd_error("mbatch -t abc", "command line: --time=abc: expected "
					  "a time as MINUTES, MM:SS, HH:MM:SS, "
					  "D-HH, D-HH:MM, D-HH:MM:SS or "
					  "UNLIMITED");
	expect_cmd_error("mbatch -t 1:60",
			 "command line: --time=1:60: "
			 "expected a time as MINUTES, MM:SS, "
			 "HH:MM:SS, D-HH, D-HH:MM, D-HH:MM:SS "
			 "or UNLIMITED");
	expect_cmd_error("mbatch -N 0", "command line: --nodes=0: expected a "
					"whole number from 1 to 65536");
	expect_cmd_error("mbatch -c x", "command line: --cpus-per-task=x: "
					"expected a whole number from 1 to "
					"4096");
	expect_cmd_error("mbatch --mem=4GiB",
			 "command line: --mem=4GiB: expected "
			 "a size in MiB or with a K, M, G "
			 "or T suffix, such as 4096, 500M "
			 "or 4G");
	expect_cmd_error("mbatch --gres=gpu:a100:x",
			 "command line: --gres=gpu:a100:x: bad GPU count, "
			 "expected gpu[:TYPE]:N with N from 0 to 65536");
	expect_cmd_error("mbatch --gres=shard:2",
			 "command line: --gres=shard:2: expected gpu[:TYPE]:N, "
			 "such as gpu:2 or gpu:a100:4");
	expect_cmd_error("mbatch --gpus=a100",
			 "command line: --gpus=a100: "
			 "expected N or TYPE:N, such as 2 "
			 "or a100:2");
	expect_cmd_error("mbatch -G x:y",
			 "command line: --gpus=x:y: expected N "
			 "or TYPE:N, such as 2 or a100:2");
	expect_cmd_error("mbatch --gpus-per-node=", "command line: "
						    "--gpus-per-node=: "
						    "expected N or TYPE:N, "
						    "such as 2 or a100:2");
	expect_cmd_error("mbatch --max-price=-1", "command line: "
						  "--max-price=-1: expected "
						  "dollars with up to six "
						  "decimals, such as 2.50");
	expect_cmd_error("mbatch --export=ALL,1X", "command line: "
						   "--export=ALL,1X: '1X' is "
						   "not a variable name, "
						   "expected NONE, ALL or "
						   "[ALL,]VAR[=VALUE],...");
	expect_cmd_error("mbatch --export=A,B-C", "command line: "
						  "--export=A,B-C: 'B-C' is "
						  "not a variable name, "
						  "expected NONE, ALL or "
						  "[ALL,]VAR[=VALUE],...");
	expect_cmd_error("mbatch --export=A,", "command line: --export=A,: "
					       "expected NONE, ALL or "
					       "[ALL,]VAR[=VALUE],...");
	expect_cmd_error("mbatch --export=", "command line: --export=: "
					     "expected NONE, ALL or "
					     "[ALL,]VAR[=VALUE],...");
	expect_cmd_error("mbatch -J ''", "command line: --job-name is empty, "
					 "expected --job-name=NAME");
	/* An abbreviation that fits two options is refused. */
	expect_cmd_error("mbatch --par", "command line: unknown option --par: "
					 "see mbatch --help");
}

static void test_errors_leave_later_parses_working(void)
{
	struct jobopt o;
	struct mer_error e;
	int first;

	/* getopt state is reset each time, even after a failure midway. */
	jobopt_init(&o);
	CU_ASSERT_EQUAL(parse_line(&o, "mbatch -N 2 --bogus -n 3", &first, &e),
			-1);
	CU_ASSERT_EQUAL(parse_line(&o, "mbatch -n 3 s.sh", &first, &e), 0);
	CU_ASSERT_EQUAL(o.ntasks, 3);
	CU_ASSERT_EQUAL(first, 3);
	CU_ASSERT_EQUAL(parse_line(&o, "mbatch -Hn", &first, &e), -1);
	CU_ASSERT_EQUAL(parse_line(&o, "mbatch -n 4", &first, &e), 0);
	CU_ASSERT_EQUAL(o.ntasks, 4);
	jobopt_free(&o);
}

static void test_argv_split(void)
{
	struct mer_error e;
	char **argv;
	int argc;

	CU_ASSERT_EQUAL_FATAL(argv_split("  -J 'my job' --output=\"a b\"  "
					 "x\\ y \"q\\\"q\" 'a\\b' \"\" # -N 3",
					 "prog", &argv, &argc, &e),
			      0);
	CU_ASSERT_EQUAL_FATAL(argc, 8);
	CU_ASSERT_STRING_EQUAL(argv[0], "prog");
	CU_ASSERT_STRING_EQUAL(argv[1], "-J");
	CU_ASSERT_STRING_EQUAL(argv[2], "my job");
	CU_ASSERT_STRING_EQUAL(argv[3], "--output=a b");
	CU_ASSERT_STRING_EQUAL(argv[4], "x y");
	CU_ASSERT_STRING_EQUAL(argv[5], "q\"q");
	CU_ASSERT_STRING_EQUAL(argv[6], "a\\b");
	CU_ASSERT_STRING_EQUAL(argv[7], ""); /* "" is an empty word */
	CU_ASSERT_PTR_NULL(argv[8]);
	argv_free(argv);

	CU_ASSERT_EQUAL_FATAL(
		argv_split("a \"\" b#c #d", "p", &argv, &argc, &e), 0);
	CU_ASSERT_EQUAL_FATAL(argc, 4);
	CU_ASSERT_STRING_EQUAL(argv[1], "a");
	CU_ASSERT_STRING_EQUAL(argv[2], "");
	CU_ASSERT_STRING_EQUAL(argv[3], "b#c");
	CU_ASSERT_PTR_NULL(argv[4]);
	argv_free(argv);

	CU_ASSERT_EQUAL_FATAL(argv_split("", "p", &argv, &argc, &e), 0);
	CU_ASSERT_EQUAL(argc, 1);
	CU_ASSERT_PTR_NULL(argv[1]);
	argv_free(argv);

	CU_ASSERT_EQUAL(argv_split("-J 'unclosed", "p", &argv, &argc, &e), -1);
	CU_ASSERT_PTR_NULL(argv);
	CU_ASSERT_STRING_EQUAL(e.text, "unclosed quote, expected a closing "
				       "quote on the same line");
	CU_ASSERT_EQUAL(argv_split("-J \"unclosed", "p", &argv, &argc, &e), -1);
	argv_free(NULL);
}

static const char script[] =
	"#!/bin/bash\n"
	"#SBATCH -J fromscript\n"
	"#SBATCH --time=10 -N 2   # a comment after the options\n"
	"\n"
	"# an ordinary comment\n"
	"#MERIDIAN --gpus=a100:2 --output=\"out %j.txt\"\n"
	"   # an indented comment\n"
	"#SBATCH\n"
	"#SBATCHX not a directive\n"
	"# SBATCH --bogus (disabled, as in Slurm)\n"
	"  #SBATCH --bogus (indented: not a directive)\n"
	"#SBATCH --mem=1G\n"
	"echo hello\n"
	"#SBATCH -J ignored --bogus\n";

static void test_script(void)
{
	struct jobopt o;
	struct mer_error e = {{0}};

	jobopt_init(&o);
	CU_ASSERT_EQUAL_FATAL(
		jobopt_parse_script(&o, script, strlen(script), "job.sh", &e),
		0);
	CU_ASSERT_STRING_EQUAL(o.name, "fromscript");
	CU_ASSERT_EQUAL(o.time_limit, 10);
	CU_ASSERT_EQUAL(o.nodes, 2);
	CU_ASSERT_EQUAL(o.gpus, 2);
	CU_ASSERT_STRING_EQUAL(o.gpu_type, "a100");
	CU_ASSERT_STRING_EQUAL(o.std_out, "out %j.txt");
	CU_ASSERT_EQUAL(o.mem_mb, 1024);
	jobopt_free(&o);
}

static void test_command_line_overrides_script(void)
{
	struct jobopt o;
	struct mer_error e = {{0}};
	int first;

	/* mbatch: directives first, then the command line. */
	jobopt_init(&o);
	CU_ASSERT_EQUAL_FATAL(
		jobopt_parse_script(&o, script, strlen(script), "job.sh", &e),
		0);
	CU_ASSERT_EQUAL_FATAL(parse_line(&o,
					 "mbatch -J fromcmd -N 4 "
					 "--gpus=1 job.sh",
					 &first, &e),
			      0);
	CU_ASSERT_STRING_EQUAL(o.name, "fromcmd");
	CU_ASSERT_EQUAL(o.nodes, 4);
	CU_ASSERT_EQUAL(o.gpus, 1);
	CU_ASSERT_PTR_NULL(o.gpu_type); /* the command line named no model */
	/* What the command line did not name stays from the script. */
	CU_ASSERT_EQUAL(o.time_limit, 10);
	CU_ASSERT_STRING_EQUAL(o.std_out, "out %j.txt");
	CU_ASSERT_EQUAL(o.mem_mb, 1024);
	CU_ASSERT_EQUAL(first, 6);
	CU_ASSERT_STRING_EQUAL(first_word, "job.sh");
	jobopt_free(&o);
}

static void test_script_errors(void)
{
	expect_script_error(
		"#!/bin/sh\n#SBATCH -N 1\n#SBATCH --foo\necho\n",
		"job.sh:3: unknown option --foo: see mbatch --help");
	expect_script_error(
		"#!/bin/sh\n\n\n#SBATCH -t soon\n",
		"job.sh:4: --time=soon: expected a time as MINUTES, "
		"MM:SS, HH:MM:SS, D-HH, D-HH:MM, D-HH:MM:SS or "
		"UNLIMITED");
	expect_script_error(
		"#!/bin/sh\n#MERIDIAN -J 'x\n",
		"job.sh:2: unclosed quote, expected a closing quote "
		"on the same line");
	expect_script_error("#!/bin/sh\n#SBATCH -J a extra\n",
			    "job.sh:2: unexpected argument 'extra', expected "
			    "only options after #SBATCH");
	expect_script_error(
		"#!/bin/sh\n#SBATCH --wrap=ls\n",
		"job.sh:2: --wrap is for the command line, expected "
		"it there rather than in a script");
	expect_script_error(
		"#!/bin/sh\n#SBATCH -h\n",
		"job.sh:2: --help is for the command line, expected "
		"it there rather than in a script");
	expect_script_error("#!/bin/sh\n#SBATCH --time\n",
			    "job.sh:2: option --time needs a value, expected "
			    "--time=TIME");
	expect_script_error(
		"echo no shebang\n",
		"job.sh:1: the first line must start with #! and an "
		"interpreter, such as #!/bin/bash");
	expect_script_error("", "job.sh: the script is empty, expected a #! "
				"line and commands");
	expect_script_error("#!/bin/sh\r\n#SBATCH -N 1\r\n",
			    "job.sh:1: DOS line break (\\r\\n), expected UNIX "
			    "line breaks (see dos2unix)");
	{
		static const char nul[] = "#!/bin/sh\n#SBATCH -N\0 1\n";
		struct jobopt o;
		struct mer_error e;

		jobopt_init(&o);
		CU_ASSERT_EQUAL(
			jobopt_parse_script(&o, nul, sizeof(nul) - 1, "j", &e),
			-1);
		CU_ASSERT_STRING_EQUAL(e.text, "j:2: NUL byte, expected a text "
					       "script");
		jobopt_free(&o);
	}
}

static void test_script_edges(void)
{
	struct jobopt o;
	struct mer_error e;
	static const char no_newline[] = "#!/bin/sh\n#SBATCH -N 3";
	static const char only_shebang[] = "#!/bin/sh";
	/* The directive area ends at the first command even if a later
	 * directive is bad. */
	static const char late[] = "#!/bin/sh\nset -e\n#SBATCH --bogus\n";

	jobopt_init(&o);
	CU_ASSERT_EQUAL(jobopt_parse_script(&o, no_newline,
					    sizeof(no_newline) - 1, "s", &e),
			0);
	CU_ASSERT_EQUAL(o.nodes, 3);
	CU_ASSERT_EQUAL(jobopt_parse_script(&o, only_shebang,
					    sizeof(only_shebang) - 1, "s", &e),
			0);
	CU_ASSERT_EQUAL(
		jobopt_parse_script(&o, late, sizeof(late) - 1, "s", &e), 0);
	/* len is honoured: only the first line is looked at. */
	CU_ASSERT_EQUAL(jobopt_parse_script(&o, script, 12, "s", &e), 0);
	CU_ASSERT_PTR_NULL(o.name);
	jobopt_free(&o);
}

static void test_help(void)
{
	static const char *const names[] = {
		"--job-name",	   "--account",
		"--partition",	   "--chdir",
		"--output",	   "--error",
		"--input",	   "--nodes",
		"--ntasks",	   "--ntasks-per-node",
		"--cpus-per-task", "--mem",
		"--gpus",	   "--gpus-per-node",
		"--gres",	   "--time",
		"--export",	   "--max-price",
		"--comm",	   "--comm-bytes",
		"--min-tier",	   "--region",
		"--country",	   "--hold",
		"--qos",	   "--deadline",
		"--parsable",	   "--wrap",
		"--help",	   "--usage",
		"--version",
	};
	const char *h = jobopt_help();

	CU_ASSERT_PTR_NOT_NULL_FATAL(h);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		struct jobopt o;
		struct mer_error e = {{0}};
		char *argv[3] = {"mbatch", NULL, NULL};
		char buf[64];
		int first;

		CU_ASSERT_PTR_NOT_NULL(strstr(h, names[i]));
		/* and every option listed is one the parser knows */
		snprintf(buf, sizeof(buf), "%s=1", names[i]);
		argv[1] = buf;
		jobopt_init(&o);
		jobopt_parse(&o, 2, argv, NULL, &first, &e);
		CU_ASSERT_PTR_NULL(strstr(e.text, "unknown option"));
		jobopt_free(&o);
	}
}

/* --- mrun's options ---------------------------------------------------- */

static int parse_mrun(struct jobopt *o, const char *line, int *first,
		      struct mer_error *e)
{
	char **argv;
	int argc, rc;

	if (strncmp(line, "mrun ", 5) == 0)
		line += 4;
	CU_ASSERT_EQUAL_FATAL(argv_split(line, "mrun", &argv, &argc, e), 0);
	rc = jobopt_parse_cmd(o, JOBOPT_MRUN, argc, argv, "command line", first,
			      e);
	snprintf(first_word, sizeof(first_word), "%s",
		 rc == 0 && *first < argc ? argv[*first] : "");
	argv_free(argv);
	return rc;
}

static void expect_mrun_error(const char *line, const char *msg)
{
	struct jobopt o;
	struct mer_error e = {{0}};
	int first = -1;

	jobopt_init(&o);
	CU_ASSERT_EQUAL(parse_mrun(&o, line, &first, &e), -1);
	if (strcmp(e.text, msg) != 0)
		fprintf(stderr, "\n  '%s'\n  got  '%s'\n  want '%s'\n", line,
			e.text, msg);
	CU_ASSERT_STRING_EQUAL(e.text, msg);
	jobopt_free(&o);
}

static void test_mrun_options(void)
{
	struct jobopt o;
	struct mer_error e;
	int first = -1;

	jobopt_init(&o);
	CU_ASSERT_EQUAL(o.kill_on_bad_exit, -1);
	CU_ASSERT_EQUAL_FATAL(
		parse_mrun(&o,
			   "-n 4 -N 2 --ntasks-per-node=2 -c 2 "
			   "--gpus-per-task=1 --gpus-per-node=a100:2 "
			   "--cpu-bind=gpu-local -l --mpi=PMI1 --pty -K0 "
			   "--finalize-timeout=30 -v -v -f /etc/m.conf "
			   "-J step -D sub -o o-%t -e e-%t --export=ALL,X=1 "
			   "-t 5 -p p -A a --mem=2G -G 4 --max-price=1 "
			   "prog -x --pty",
			   &first, &e),
		0);
	CU_ASSERT_EQUAL(o.ntasks, 4);
	CU_ASSERT_EQUAL(o.nodes, 2);
	CU_ASSERT_EQUAL(o.ntasks_per_node, 2);
	CU_ASSERT_EQUAL(o.cpus_per_task, 2);
	CU_ASSERT_EQUAL(o.gpus_per_task, 1);
	CU_ASSERT_EQUAL(o.gpus_per_node, 2);
	CU_ASSERT_STRING_EQUAL(o.cpu_bind, "gpu-local");
	CU_ASSERT_TRUE(o.label);
	CU_ASSERT_STRING_EQUAL(o.mpi, "pmi1");
	CU_ASSERT_TRUE(o.pty);
	CU_ASSERT_EQUAL(o.kill_on_bad_exit, 0);
	CU_ASSERT_EQUAL(o.finalize_timeout, 30);
	CU_ASSERT_EQUAL(o.verbose, 2);
	CU_ASSERT_STRING_EQUAL(o.conf_path, "/etc/m.conf");
	CU_ASSERT_STRING_EQUAL(o.name, "step");
	CU_ASSERT_STRING_EQUAL(o.work_dir, "sub");
	CU_ASSERT_STRING_EQUAL(o.std_out, "o-%t");
	CU_ASSERT_STRING_EQUAL(o.std_err, "e-%t");
	CU_ASSERT_STRING_EQUAL(o.export_spec, "ALL,X=1");
	CU_ASSERT_EQUAL(o.time_limit, 5);
	CU_ASSERT_STRING_EQUAL(o.partition, "p");
	CU_ASSERT_STRING_EQUAL(o.account, "a");
	CU_ASSERT_EQUAL(o.mem_mb, 2048);
	CU_ASSERT_EQUAL(o.gpus, 4);
	CU_ASSERT_PTR_NULL(o.gpu_type); /* -G 4 named no model */
	CU_ASSERT_EQUAL(o.max_price, 1000000);
	/* the program and its own options */
	CU_ASSERT_STRING_EQUAL(first_word, "prog");
	jobopt_free(&o);
	CU_ASSERT_EQUAL(o.kill_on_bad_exit, -1);

	/* clustered flags: -lK is -l -K; -K1; -vvv */
	jobopt_init(&o);
	CU_ASSERT_EQUAL(parse_mrun(&o, "-lK -vvv -n2 x", &first, &e), 0);
	CU_ASSERT_TRUE(o.label);
	CU_ASSERT_EQUAL(o.kill_on_bad_exit, 1);
	CU_ASSERT_EQUAL(o.verbose, 3);
	CU_ASSERT_EQUAL(o.ntasks, 2);
	CU_ASSERT_EQUAL(parse_mrun(&o, "-K1 --kill-on-bad-exit x", &first, &e),
			0);
	CU_ASSERT_EQUAL(o.kill_on_bad_exit, 1);
	CU_ASSERT_EQUAL(parse_mrun(&o,
				   "--kill-on-bad-exit=0 --cpu-bind=None "
				   "--label x",
				   &first, &e),
			0);
	CU_ASSERT_EQUAL(o.kill_on_bad_exit, 0);
	CU_ASSERT_STRING_EQUAL(o.cpu_bind, "none");
	CU_ASSERT_EQUAL(parse_mrun(&o, "-h", &first, &e), 0);
	CU_ASSERT_TRUE(o.help);
	CU_ASSERT_EQUAL(parse_mrun(&o, "-- -prog", &first, &e), 0);
	CU_ASSERT_STRING_EQUAL(first_word, "-prog");
	jobopt_free(&o);

	expect_mrun_error("mrun --mpi=pmix x", "command line: --mpi=pmix: "
					       "expected pmi1, pmi2, none or "
					       "list");
	expect_mrun_error("mrun --cpu-bind=bogus x",
			  "command line: --cpu-bind=bogus: expected none, "
			  "cores or gpu-local");
	/* Slurm's binding words Meridian does not have: refused by name */
	expect_mrun_error("mrun --cpu-bind=sockets x",
			  "command line: --cpu-bind=sockets: Slurm's sockets "
			  "is not supported by Meridian; expected none, cores "
			  "or gpu-local (quiet is taken and changes nothing)");
	expect_mrun_error("mrun --cpu_bind=verbose,cores x",
			  "command line: --cpu_bind=verbose,cores: Slurm's "
			  "verbose is not supported by Meridian; expected "
			  "none, cores or gpu-local (quiet is taken and "
			  "changes nothing)");
	expect_mrun_error("mrun --cpu-bind=map_cpu:0,2 x",
			  "command line: --cpu-bind=map_cpu:0,2: Slurm's "
			  "map_cpu is not supported by Meridian; expected "
			  "none, cores or gpu-local (quiet is taken and "
			  "changes nothing)");
	expect_mrun_error("mrun --cpu-bind=none,cores x",
			  "command line: --cpu-bind=none,cores: both none "
			  "and cores; expected one binding type");
	expect_mrun_error("mrun --cpu-bind=, x", "command line: --cpu-bind=,: "
						 "expected none, cores or "
						 "gpu-local");
	expect_mrun_error("mrun --cpu-bind= x", "command line: --cpu-bind=: "
						"expected none, cores or "
						"gpu-local");
	expect_mrun_error("mrun -K2 x",
			  "command line: --kill-on-bad-exit=2: expected "
			  "--kill-on-bad-exit alone, --kill-on-bad-exit=0 or "
			  "--kill-on-bad-exit=1");
	expect_mrun_error("mrun --gpus-per-task=0 x",
			  "command line: --gpus-per-task=0: expected a whole "
			  "number from 1 to 65536");
	expect_mrun_error("mrun --finalize-timeout=x y",
			  "command line: --finalize-timeout=x: expected a "
			  "whole number from 1 to 86400");
	expect_mrun_error("mrun --mpi", "command line: option --mpi needs a "
					"value, expected "
					"--mpi=pmi1|pmi2|none|list");
	expect_mrun_error("mrun --pty=1 bash", "command line: option --pty "
					       "takes no value, expected --pty "
					       "alone");
	expect_mrun_error("mrun -v=1 x", "command line: unknown option -=: see "
					 "mrun --help");
	/* mbatch's own options are not mrun's, and the other way round */
	expect_mrun_error("mrun --wrap=x", "command line: unknown option "
					   "--wrap: see mrun --help");
	expect_mrun_error("mrun -H x", "command line: unknown option -H: see "
				       "mrun --help");
	expect_mrun_error("mrun --parsable x", "command line: unknown option "
					       "--parsable: see mrun --help");
	expect_cmd_error("mbatch --pty s.sh", "command line: unknown option "
					      "--pty: see mbatch --help");
	expect_cmd_error("mbatch -l s.sh", "command line: unknown option -l: "
					   "see mbatch --help");
	expect_cmd_error("mbatch -K0 s.sh", "command line: unknown option -K: "
					    "see mbatch --help");
	expect_cmd_error("mbatch -f x s.sh", "command line: unknown option -f: "
					     "see mbatch --help");
	expect_script_error("#!/bin/sh\n#SBATCH --label\n",
			    "job.sh:2: unknown option --label: see mbatch "
			    "--help");
}

/* srun's spellings: --cpu_bind, its "no" and "quiet", --mpi=pmi2 and
 * list, --exclusive for steps. */
static void test_mrun_slurm_spellings(void)
{
	struct jobopt o;
	struct mer_error e;
	int first = -1;

	jobopt_init(&o);
	CU_ASSERT_EQUAL(parse_mrun(&o, "--cpu_bind=cores x", &first, &e), 0);
	CU_ASSERT_STRING_EQUAL(o.cpu_bind, "cores");
	CU_ASSERT_EQUAL(parse_mrun(&o, "--cpu_bind=no x", &first, &e), 0);
	CU_ASSERT_STRING_EQUAL(o.cpu_bind, "none");
	CU_ASSERT_EQUAL(parse_mrun(&o, "--cpu-bind=quiet,CORES x", &first, &e),
			0);
	CU_ASSERT_STRING_EQUAL(o.cpu_bind, "cores");
	CU_ASSERT_EQUAL(
		parse_mrun(&o, "--cpu-bind=gpu-local,quiet x", &first, &e), 0);
	CU_ASSERT_STRING_EQUAL(o.cpu_bind, "gpu-local");
	/* quiet alone: whatever binding was in force */
	CU_ASSERT_EQUAL(parse_mrun(&o, "--cpu_bind=quiet x", &first, &e), 0);
	CU_ASSERT_STRING_EQUAL(o.cpu_bind, "gpu-local");
	/* both spellings share one field, freed once */
	CU_ASSERT_EQUAL(parse_mrun(&o, "--cpu-bind=none --cpu_bind=cores x",
				   &first, &e),
			0);
	CU_ASSERT_STRING_EQUAL(o.cpu_bind, "cores");
	CU_ASSERT_EQUAL(parse_mrun(&o, "--mpi=pmi2 --exclusive x", &first, &e),
			0);
	CU_ASSERT_STRING_EQUAL(o.mpi, "pmi2");
	CU_ASSERT_TRUE(o.exclusive);
	CU_ASSERT_EQUAL(parse_mrun(&o, "--mpi=LIST", &first, &e), 0);
	CU_ASSERT_STRING_EQUAL(o.mpi, "list");
	jobopt_free(&o);
	CU_ASSERT_PTR_NULL(o.cpu_bind);
	CU_ASSERT_PTR_NULL(o.mpi);
	expect_mrun_error("mrun --exclusive=user x",
			  "command line: option --exclusive takes no value, "
			  "expected --exclusive alone");
}

static void test_mrun_help(void)
{
	static const char *const names[] = {
		"--ntasks",
		"--nodes",
		"--ntasks-per-node",
		"--cpus-per-task",
		"--gpus-per-task",
		"--gpus-per-node",
		"--cpu-bind",
		"--cpu_bind",
		"--mpi",
		"--exclusive",
		"--label",
		"--output",
		"--error",
		"--export",
		"--chdir",
		"--job-name",
		"--pty",
		"--kill-on-bad-exit",
		"--finalize-timeout",
		"--time",
		"--partition",
		"--account",
		"--mem",
		"--gpus",
		"--gres",
		"--max-price",
		"--comm",
		"--comm-bytes",
		"--min-tier",
		"--region",
		"--country",
		"--verbose",
		"--config",
		"--help",
		"--usage",
		"--version",
	};
	const char *h = jobopt_help_cmd(JOBOPT_MRUN);

	CU_ASSERT_PTR_NOT_NULL_FATAL(h);
	CU_ASSERT_PTR_NOT_NULL(strstr(h, "Usage: mrun"));
	CU_ASSERT_PTR_EQUAL(jobopt_help_cmd(JOBOPT_MBATCH), jobopt_help());
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		struct jobopt o;
		struct mer_error e = {{0}};
		char *argv[3] = {"mrun", NULL, NULL};
		char buf[64];
		int first;

		if (!strstr(h, names[i]))
			fprintf(stderr, "\n  mrun --help lacks %s\n", names[i]);
		CU_ASSERT_PTR_NOT_NULL(strstr(h, names[i]));
		snprintf(buf, sizeof(buf), "%s=1", names[i]);
		argv[1] = buf;
		jobopt_init(&o);
		jobopt_parse_cmd(&o, JOBOPT_MRUN, 2, argv, NULL, &first, &e);
		CU_ASSERT_PTR_NULL(strstr(e.text, "unknown option"));
		jobopt_free(&o);
	}
}

/* --comm, --comm-bytes and --min-tier: placement's options, mbatch's and
 * mrun's, on the command line and in directives. */
static void test_placement(void)
{
	static const char directives[] = "#!/bin/sh\n"
					 "#SBATCH --comm=pipeline:2 "
					 "--comm-bytes=1G\n"
					 "#MERIDIAN --min-tier=ultra\n"
					 "true\n";
	struct jobopt o;
	struct mer_error e = {{0}};
	int first;

	jobopt_init(&o);
	CU_ASSERT_EQUAL(parse_line(&o, "mbatch --comm=ring", &first, &e), 0);
	CU_ASSERT_EQUAL(o.comm, JOBOPT_COMM_RING);
	CU_ASSERT_EQUAL(o.comm_stages, 0);
	CU_ASSERT_EQUAL(parse_line(&o, "mbatch --comm PIPELINE:4", &first, &e),
			0);
	CU_ASSERT_EQUAL(o.comm, JOBOPT_COMM_PIPELINE);
	CU_ASSERT_EQUAL(o.comm_stages, 4);
	/* a later --comm replaces the stages as well */
	CU_ASSERT_EQUAL(parse_line(&o, "mbatch --comm=pipeline", &first, &e),
			0);
	CU_ASSERT_EQUAL(o.comm, JOBOPT_COMM_PIPELINE);
	CU_ASSERT_EQUAL(o.comm_stages, 0);
	CU_ASSERT_EQUAL(
		parse_line(&o, "mbatch --comm=pipeline:65536", &first, &e), 0);
	CU_ASSERT_EQUAL(o.comm_stages, 65536);
	CU_ASSERT_EQUAL(parse_line(&o, "mbatch --comm=None", &first, &e), 0);
	CU_ASSERT_EQUAL(o.comm, JOBOPT_COMM_NONE);
	CU_ASSERT_EQUAL(o.comm_stages, 0);

	/* sizes in bytes: a bare number is bytes, K/M/G/T powers of 1024 */
	CU_ASSERT_EQUAL(parse_line(&o, "mbatch --comm-bytes=1", &first, &e), 0);
	CU_ASSERT_EQUAL(o.comm_bytes, 1);
	CU_ASSERT_EQUAL(parse_line(&o, "mbatch --comm-bytes 65536", &first, &e),
			0);
	CU_ASSERT_EQUAL(o.comm_bytes, 65536);
	CU_ASSERT_EQUAL(parse_line(&o, "mbatch --comm-bytes=3k", &first, &e),
			0);
	CU_ASSERT_EQUAL(o.comm_bytes, 3072);
	CU_ASSERT_EQUAL(parse_line(&o, "mbatch --comm-bytes=64M", &first, &e),
			0);
	CU_ASSERT_EQUAL(o.comm_bytes, 64ull << 20);
	CU_ASSERT_EQUAL(parse_line(&o, "mbatch --comm-bytes=2g", &first, &e),
			0);
	CU_ASSERT_EQUAL(o.comm_bytes, 2ull << 30);
	CU_ASSERT_EQUAL(parse_line(&o, "mbatch --comm-bytes=1T", &first, &e),
			0);
	CU_ASSERT_EQUAL(o.comm_bytes, 1ull << 40);
	CU_ASSERT_EQUAL(
		parse_line(&o, "mbatch --comm-bytes=1099511627776", &first, &e),
		0);
	CU_ASSERT_EQUAL(o.comm_bytes, 1ull << 40);

	CU_ASSERT_EQUAL(parse_line(&o, "mbatch --min-tier=high", &first, &e),
			0);
	CU_ASSERT_STRING_EQUAL(o.min_tier, "high");
	CU_ASSERT_EQUAL(
		parse_line(&o, "mbatch --min-tier tier_2.a-b s.sh", &first, &e),
		0);
	CU_ASSERT_STRING_EQUAL(o.min_tier, "tier_2.a-b");
	CU_ASSERT_STRING_EQUAL(first_word, "s.sh");
	jobopt_free(&o);

	/* in directives, and the command line over them */
	jobopt_init(&o);
	CU_ASSERT_EQUAL_FATAL(jobopt_parse_script(&o, directives,
						  strlen(directives), "job.sh",
						  &e),
			      0);
	CU_ASSERT_EQUAL(o.comm, JOBOPT_COMM_PIPELINE);
	CU_ASSERT_EQUAL(o.comm_stages, 2);
	CU_ASSERT_EQUAL(o.comm_bytes, 1ull << 30);
	CU_ASSERT_STRING_EQUAL(o.min_tier, "ultra");
	CU_ASSERT_EQUAL(
		parse_line(&o, "mbatch --comm=ring --min-tier=low", &first, &e),
		0);
	CU_ASSERT_EQUAL(o.comm, JOBOPT_COMM_RING);
	CU_ASSERT_EQUAL(o.comm_stages, 0);
	CU_ASSERT_EQUAL(o.comm_bytes, 1ull << 30);
	CU_ASSERT_STRING_EQUAL(o.min_tier, "low");
	jobopt_free(&o);

	expect_cmd_error("mbatch --comm=tree", "command line: --comm=tree: "
					       "expected ring, pipeline, "
					       "pipeline:STAGES or none");
	expect_cmd_error("mbatch --comm=ring:2", "command line: --comm=ring:2: "
						 "expected ring, pipeline, "
						 "pipeline:STAGES or none");
	expect_cmd_error("mbatch --comm=", "command line: --comm=: expected "
					   "ring, pipeline, pipeline:STAGES "
					   "or none");
	expect_cmd_error("mbatch --comm=pipeline:0",
			 "command line: --comm=pipeline:0: expected "
			 "pipeline:STAGES with STAGES a whole number from 1 "
			 "to 65536");
	expect_cmd_error("mbatch --comm=pipeline:65537",
			 "command line: --comm=pipeline:65537: expected "
			 "pipeline:STAGES with STAGES a whole number from 1 "
			 "to 65536");
	expect_cmd_error("mbatch --comm=pipeline:",
			 "command line: --comm=pipeline:: expected "
			 "pipeline:STAGES with STAGES a whole number from 1 "
			 "to 65536");
	expect_cmd_error("mbatch --comm=pipeline:2x",
			 "command line: --comm=pipeline:2x: expected "
			 "pipeline:STAGES with STAGES a whole number from 1 "
			 "to 65536");
	expect_cmd_error("mbatch --comm", "command line: option --comm needs a "
					  "value, expected "
					  "--comm=ring|pipeline[:STAGES]|none");
	expect_cmd_error("mbatch --comm-bytes=0",
			 "command line: --comm-bytes=0: expected a size from 1 "
			 "byte to 1T, such as 65536, 64M or 1G");
	expect_cmd_error("mbatch --comm-bytes=2T",
			 "command line: --comm-bytes=2T: expected a size from "
			 "1 byte to 1T, such as 65536, 64M or 1G");
	expect_cmd_error("mbatch --comm-bytes=1025G",
			 "command line: --comm-bytes=1025G: expected a size "
			 "from 1 byte to 1T, such as 65536, 64M or 1G");
	expect_cmd_error("mbatch --comm-bytes=1099511627777",
			 "command line: --comm-bytes=1099511627777: expected a "
			 "size from 1 byte to 1T, such as 65536, 64M or 1G");
	expect_cmd_error("mbatch --comm-bytes=99999999999999999999999999",
			 "command line: --comm-bytes=99999999999999999999999999"
			 ": expected a size from 1 byte to 1T, such as 65536, "
			 "64M or 1G");
	expect_cmd_error("mbatch --comm-bytes=4GB",
			 "command line: --comm-bytes=4GB: expected a size in "
			 "bytes or with a K, M, G or T suffix, such as 65536, "
			 "64M or 1G");
	expect_cmd_error("mbatch --comm-bytes=-1",
			 "command line: --comm-bytes=-1: expected a size in "
			 "bytes or with a K, M, G or T suffix, such as 65536, "
			 "64M or 1G");
	expect_cmd_error("mbatch --comm-bytes=",
			 "command line: --comm-bytes=: expected a size in "
			 "bytes or with a K, M, G or T suffix, such as 65536, "
			 "64M or 1G");
	expect_cmd_error("mbatch --comm-bytes=1P",
			 "command line: --comm-bytes=1P: expected a size in "
			 "bytes or with a K, M, G or T suffix, such as 65536, "
			 "64M or 1G");
	expect_cmd_error("mbatch --min-tier=", "command line: --min-tier is "
					       "empty, expected "
					       "--min-tier=NAME");
	expect_cmd_error("mbatch --min-tier='very high'",
			 "command line: --min-tier=very high: expected a name "
			 "of letters, digits, '.', '_' and '-'");
	expect_cmd_error("mbatch --min-tier=a/b",
			 "command line: --min-tier=a/b: expected a name of "
			 "letters, digits, '.', '_' and '-'");
	expect_script_error("#!/bin/sh\n#SBATCH --comm=star\n",
			    "job.sh:2: --comm=star: expected ring, pipeline, "
			    "pipeline:STAGES or none");

	/* mrun: the same options, for the allocation it makes */
	jobopt_init(&o);
	CU_ASSERT_EQUAL(parse_mrun(&o,
				   "mrun --comm=pipeline:3 --comm-bytes=16M "
				   "--min-tier=medium -N 3 prog",
				   &first, &e),
			0);
	CU_ASSERT_EQUAL(o.comm, JOBOPT_COMM_PIPELINE);
	CU_ASSERT_EQUAL(o.comm_stages, 3);
	CU_ASSERT_EQUAL(o.comm_bytes, 16ull << 20);
	CU_ASSERT_STRING_EQUAL(o.min_tier, "medium");
	CU_ASSERT_STRING_EQUAL(first_word, "prog");
	jobopt_free(&o);
	expect_mrun_error("mrun --comm=all x", "command line: --comm=all: "
					       "expected ring, pipeline, "
					       "pipeline:STAGES or none");
	expect_mrun_error("mrun --comm-bytes=0 x",
			  "command line: --comm-bytes=0: expected a size from "
			  "1 byte to 1T, such as 65536, 64M or 1G");
}

/* --region and --country: where the job may run, mbatch's and mrun's, on
 * the command line and in directives. */
static void test_region_country(void)
{
	static const char directives[] = "#!/bin/sh\n"
					 "#SBATCH --region=eu-west\n"
					 "#MERIDIAN --country=de,Fr\n"
					 "true\n";
	static const char names_err[] = "expected names of letters, digits, "
					"'.', '_' and '-' with commas "
					"between, such as eu-west,us-east";
	static const char codes_err[] = "expected two-letter ISO 3166 codes "
					"with commas between, such as DE or "
					"DE,FR";
	static const char *const bad_regions[] = {
		"eu,", ",eu", "eu,,us", ",", "eu west", "eu/west", "eu;us",
	};
	static const char *const bad_countries[] = {
		"Germany", "D",	    "DEU", "DE,",  ",DE", "DE,,FR",
		"DE FR",   "DE;FR", "D1",  "DE,F", ",",	  "\xc3\xa9",
	};
	struct jobopt o;
	struct mer_error e = {{0}};
	int first;

	jobopt_init(&o);
	CU_ASSERT_EQUAL(parse_line(&o, "mbatch --region=eu-west", &first, &e),
			0);
	CU_ASSERT_STRING_EQUAL(o.regions, "eu-west");
	/* a later one replaces it; names are kept as written */
	CU_ASSERT_EQUAL(parse_line(&o, "mbatch --region Eu_1.a,us-east s.sh",
				   &first, &e),
			0);
	CU_ASSERT_STRING_EQUAL(o.regions, "Eu_1.a,us-east");
	CU_ASSERT_STRING_EQUAL(first_word, "s.sh");
	CU_ASSERT_EQUAL(parse_line(&o, "mbatch --country=DE", &first, &e), 0);
	CU_ASSERT_STRING_EQUAL(o.countries, "DE");
	/* any case, stored upper case */
	CU_ASSERT_EQUAL(parse_line(&o, "mbatch --country us,fR,De", &first, &e),
			0);
	CU_ASSERT_STRING_EQUAL(o.countries, "US,FR,DE");
	jobopt_free(&o);

	/* in directives, and the command line over them */
	jobopt_init(&o);
	CU_ASSERT_EQUAL_FATAL(jobopt_parse_script(&o, directives,
						  strlen(directives), "job.sh",
						  &e),
			      0);
	CU_ASSERT_STRING_EQUAL(o.regions, "eu-west");
	CU_ASSERT_STRING_EQUAL(o.countries, "DE,FR");
	CU_ASSERT_EQUAL(parse_line(&o, "mbatch --country=us", &first, &e), 0);
	CU_ASSERT_STRING_EQUAL(o.regions, "eu-west");
	CU_ASSERT_STRING_EQUAL(o.countries, "US");
	jobopt_free(&o);

	for (size_t i = 0; i < sizeof(bad_regions) / sizeof(bad_regions[0]);
	     i++) {
		char *line = xasprintf("mbatch '--region=%s'", bad_regions[i]);
		char *msg = xasprintf("command line: --region=%s: %s",
				      bad_regions[i], names_err);

		expect_cmd_error(line, msg);
		free(line);
		free(msg);
	}
	for (size_t i = 0; i < sizeof(bad_countries) / sizeof(bad_countries[0]);
	     i++) {
		char *line =
			xasprintf("mbatch '--country=%s'", bad_countries[i]);
		char *msg = xasprintf("command line: --country=%s: %s",
				      bad_countries[i], codes_err);

		expect_cmd_error(line, msg);
		free(line);
		free(msg);
	}
	expect_cmd_error("mbatch --region=",
			 "command line: --region is empty, "
			 "expected --region=NAME[,NAME...]");
	expect_cmd_error("mbatch --country=", "command line: --country is "
					      "empty, expected "
					      "--country=CC[,CC...]");
	expect_cmd_error("mbatch --region", "command line: option --region "
					    "needs a value, expected "
					    "--region=NAME[,NAME...]");
	expect_script_error("#!/bin/sh\n#SBATCH --country=Germany\n",
			    "job.sh:2: --country=Germany: expected two-letter "
			    "ISO 3166 codes with commas between, such as DE "
			    "or DE,FR");
	expect_script_error("#!/bin/sh\n#MERIDIAN --region=a,,b\n",
			    "job.sh:2: --region=a,,b: expected names of "
			    "letters, digits, '.', '_' and '-' with commas "
			    "between, such as eu-west,us-east");

	/* mrun: the same options, for the allocation it makes */
	jobopt_init(&o);
	CU_ASSERT_EQUAL(parse_mrun(&o,
				   "mrun --region=us-east,eu-west --country=us "
				   "-N 2 prog",
				   &first, &e),
			0);
	CU_ASSERT_STRING_EQUAL(o.regions, "us-east,eu-west");
	CU_ASSERT_STRING_EQUAL(o.countries, "US");
	CU_ASSERT_STRING_EQUAL(first_word, "prog");
	jobopt_free(&o);
	expect_mrun_error("mrun --country=USA x",
			  "command line: --country=USA: expected two-letter "
			  "ISO 3166 codes with commas between, such as DE or "
			  "DE,FR");
	expect_mrun_error("mrun --region=a: x",
			  "command line: --region=a:: expected names of "
			  "letters, digits, '.', '_' and '-' with commas "
			  "between, such as eu-west,us-east");
}

/* --- --export ---------------------------------------------------------- */

static char *test_envp[] = {"HOME=/home/a", "PATH=/bin", "X=old",
			    "EMPTY=",	    "NOEQUALS",	 NULL};

/* The resolved environment as one "|" separated string. */
static char *export_text(const char *spec)
{
	struct mer_error e = {{0}};
	struct strbuf b = {0};
	char **env;
	size_t n;

	if (jobopt_export_env(spec, test_envp, &env, &n, &e) < 0)
		return xasprintf("error: %s", e.text);
	for (size_t i = 0; i < n; i++)
		strbuf_addf(&b, "%s%s", i ? "|" : "", env[i]);
	jobopt_env_free(env, n);
	return b.s ? b.s : xstrdup("");
}

static void expect_export(const char *spec, const char *want)
{
	char *got = export_text(spec);

	if (strcmp(got, want) != 0)
		fprintf(stderr, "\n  --export=%s\n  got  '%s'\n  want '%s'\n",
			spec ? spec : "(unset)", got, want);
	CU_ASSERT_STRING_EQUAL(got, want);
	free(got);
}

static void test_export_env(void)
{
	expect_export(NULL, "HOME=/home/a|PATH=/bin|X=old|EMPTY=");
	expect_export("ALL", "HOME=/home/a|PATH=/bin|X=old|EMPTY=");
	expect_export("all", "HOME=/home/a|PATH=/bin|X=old|EMPTY=");
	expect_export("NONE", "");
	/* ALL with changes: X replaced, Y added, PATH kept as it is here */
	expect_export("ALL,X=new,Y=2,PATH",
		      "HOME=/home/a|EMPTY=|X=new|Y=2|PATH=/bin");
	/* only those named: a name alone takes its value here (or nothing) */
	expect_export("X=1,HOME,MISSING", "X=1|HOME=/home/a");
	expect_export("NONE,PATH,Z=a=b", "PATH=/bin|Z=a=b");
	expect_export("EMPTY", "EMPTY=");
	expect_export("V=", "V=");
	expect_export("ALL,1X=2",
		      "error: --export=ALL,1X=2: '1X' is not a variable "
		      "name, expected NONE, ALL or [ALL,]VAR[=VALUE],...");
	expect_export("A,,B", "error: --export=A,,B: '' is not a variable "
			      "name, expected NONE, ALL or "
			      "[ALL,]VAR[=VALUE],...");
}

/* The sbatch options real scripts use (issue 10, point 7). */
static void test_slurm_options(void)
{
	struct jobopt o;
	struct mer_error e = {{0}};
	int first = -1;
	int64_t now = mer_now();

	jobopt_init(&o);
	CU_ASSERT_EQUAL_FATAL(
		parse_line(&o,
			   "mbatch --exclusive -w n[1-2] -x n3 --comment=hi "
			   "--mem-per-cpu=2gb --tasks-per-node=4 "
			   "--open-mode=append --begin=now+1hour -W "
			   "-d afterok:4 x.sh",
			   &first, &e),
		0);
	CU_ASSERT_TRUE(o.exclusive);
	CU_ASSERT_STRING_EQUAL(o.nodelist, "n[1-2]");
	CU_ASSERT_STRING_EQUAL(o.exclude, "n3");
	CU_ASSERT_STRING_EQUAL(o.comment, "hi");
	CU_ASSERT_EQUAL(o.mem_per_cpu, 2048);
	CU_ASSERT_EQUAL(o.ntasks_per_node, 4);
	CU_ASSERT_STRING_EQUAL(o.open_mode, "append");
	CU_ASSERT(o.begin >= now + 3600 && o.begin <= now + 3602);
	CU_ASSERT_TRUE(o.wait);
	CU_ASSERT_STRING_EQUAL(o.dependency, "afterok:4");
	CU_ASSERT_STRING_EQUAL(first_word, "x.sh");
	jobopt_free(&o);

	expect_cmd_error("mbatch -w n[3-1]",
			 "command line: --nodelist: n[3-1]: range goes down, "
			 "expected LOW-HIGH with LOW <= HIGH");
	expect_cmd_error("mbatch -x", "command line: option --exclude needs a "
				      "value, expected --exclude=NODES");
	expect_cmd_error("mbatch --open-mode=overwrite",
			 "command line: --open-mode=overwrite: expected append "
			 "or truncate");
	expect_cmd_error("mbatch --begin=someday",
			 "command line: --begin=someday: expected "
			 "now[+N[s|m|h|d|w]], HH:MM[:SS], "
			 "YYYY-MM-DD[THH:MM[:SS]], MM/DD[/YY], midnight, "
			 "noon, teatime or tomorrow");
	expect_cmd_error("mbatch -d afterok:x",
			 "command line: --dependency: afterok:'x': not a job "
			 "id, expected a number from 1");

	/* -N MIN-MAX, --qos, --deadline */
	jobopt_init(&o);
	CU_ASSERT_EQUAL_FATAL(parse_line(&o,
					 "mbatch -N 2-4 -q high "
					 "--deadline=now+2hours x.sh",
					 &first, &e),
			      0);
	CU_ASSERT_EQUAL(o.nodes, 2);
	CU_ASSERT_EQUAL(o.max_nodes, 4);
	CU_ASSERT_STRING_EQUAL(o.qos, "high");
	CU_ASSERT(o.deadline >= now + 7200 && o.deadline <= now + 7202);
	jobopt_free(&o);
	jobopt_init(&o);
	CU_ASSERT_EQUAL_FATAL(parse_line(&o, "mbatch -N 3-3 x.sh", &first, &e),
			      0);
	CU_ASSERT_EQUAL(o.nodes, 3);
	CU_ASSERT_EQUAL(o.max_nodes, 0); /* 3-3 is 3 */
	jobopt_free(&o);
	expect_cmd_error("mbatch -N 4-2",
			 "command line: --nodes=4-2: the most nodes is below "
			 "the least, expected MIN-MAX with MIN <= MAX");
	expect_cmd_error("mbatch -N -2",
			 "command line: --nodes=-2: expected N or MIN-MAX, "
			 "such as 2-4");
	expect_cmd_error("mbatch -N 2-0", "command line: --nodes=0: expected a "
					  "whole number from 1 to 65536");
}

static CU_TestInfo tests[] = {
	{"init and free", test_init_free},
	{"command line", test_command_line},
	{"values", test_values},
	{"command line errors", test_command_line_errors},
	{"parses after an error", test_errors_leave_later_parses_working},
	{"argv_split", test_argv_split},
	{"script directives", test_script},
	{"command line overrides directives",
	 test_command_line_overrides_script},
	{"script errors", test_script_errors},
	{"script edges", test_script_edges},
	{"help lists every option", test_help},
	{"mrun's options", test_mrun_options},
	{"mrun: srun's spellings", test_mrun_slurm_spellings},
	{"mrun's help lists every option", test_mrun_help},
	{"placement options", test_placement},
	{"--region and --country", test_region_country},
	{"--export's environment", test_export_env},
	{"sbatch options of real scripts", test_slurm_options},
	CU_TEST_INFO_NULL,
};

CUNIT_MAIN("jobopt", tests)
