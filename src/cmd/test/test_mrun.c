/*
 * test_mrun.c - what mrun does without daemons: its options into a
 * StepDesc and a JobDesc, the --label line splitter, the worst-status
 * rule, the key check.
 */
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cunit_main.h"
#include "mrun.h"
#include "util.h"

/* --- options into descriptions ------------------------------------------ */

/* Parse "mrun ARGS" (split like a shell); *first is the program's index. */
static int parse(struct jobopt *o, const char *line, char ***argv, int *argc,
		 int *first, struct mer_error *e)
{
	jobopt_init(o);
	CU_ASSERT_EQUAL_FATAL(argv_split(line, "mrun", argv, argc, e), 0);
	return jobopt_parse_cmd(o, JOBOPT_MRUN, *argc, *argv, "command line",
				first, e);
}

static void test_step_desc(void)
{
	Meridian__StepDesc d = MERIDIAN__STEP_DESC__INIT;
	struct mer_error e = {{0}};
	struct jobopt o;
	char **argv, *env[] = {"A=1", "B=2"};
	int argc, first;

	CU_ASSERT_EQUAL_FATAL(
		parse(&o,
		      "-n 6 -N 3 --ntasks-per-node=2 -c 4 --gpus-per-task=1 "
		      "--gpus-per-node=2 --cpu-bind=CORES -l --mpi=none "
		      "-o out-%t.txt -e err-%t.txt -J train -K0 "
		      "--finalize-timeout=7 -vv ./a.out -n 9 --label",
		      &argv, &argc, &first, &e),
		0);
	CU_ASSERT_STRING_EQUAL(argv[first], "./a.out");
	CU_ASSERT_EQUAL(o.verbose, 2);
	CU_ASSERT_EQUAL(o.kill_on_bad_exit, 0);
	CU_ASSERT_EQUAL_FATAL(mrun_step_desc(&o, argv + first,
					     (size_t)(argc - first), env, 2,
					     "/work", true, &d, &e),
			      0);
	CU_ASSERT_EQUAL(d.ntasks, 6);
	CU_ASSERT_EQUAL(d.min_nodes, 3);
	CU_ASSERT_EQUAL(d.ntasks_per_node, 2);
	CU_ASSERT_EQUAL(d.cpus_per_task, 4);
	CU_ASSERT_EQUAL(d.gpus_per_task, 1);
	CU_ASSERT_EQUAL(d.gpus_per_node, 2);
	CU_ASSERT_STRING_EQUAL(d.cpu_bind,
			       "cores"); /* as the table spells it */
	CU_ASSERT_TRUE(d.label);
	CU_ASSERT_STRING_EQUAL(d.mpi, "none");
	CU_ASSERT_STRING_EQUAL(d.std_out, "out-%t.txt");
	CU_ASSERT_STRING_EQUAL(d.std_err, "err-%t.txt");
	CU_ASSERT_STRING_EQUAL(d.name, "train");
	CU_ASSERT_EQUAL(d.finalize_timeout, 7);
	CU_ASSERT_STRING_EQUAL(d.work_dir, "/work");
	CU_ASSERT_FALSE(d.pty);
	/* the program's own options are its own */
	CU_ASSERT_EQUAL_FATAL(d.n_argv, 4);
	CU_ASSERT_STRING_EQUAL(d.argv[0], "./a.out");
	CU_ASSERT_STRING_EQUAL(d.argv[1], "-n");
	CU_ASSERT_STRING_EQUAL(d.argv[3], "--label");
	CU_ASSERT_EQUAL_FATAL(d.n_env, 2);
	CU_ASSERT_STRING_EQUAL(d.env[1], "B=2");
	argv_free(argv);
	jobopt_free(&o);

	/* Nothing given: everything left to mctld ("" and 0). */
	d = (Meridian__StepDesc)MERIDIAN__STEP_DESC__INIT;
	CU_ASSERT_EQUAL_FATAL(parse(&o, "hostname", &argv, &argc, &first, &e),
			      0);
	CU_ASSERT_EQUAL(o.kill_on_bad_exit, -1); /* unset: mrun makes it 1 */
	CU_ASSERT_EQUAL_FATAL(mrun_step_desc(&o, argv + first, 1, NULL, 0, NULL,
					     false, &d, &e),
			      0);
	CU_ASSERT_EQUAL(d.ntasks, 0);
	CU_ASSERT_EQUAL(d.min_nodes, 0);
	CU_ASSERT_STRING_EQUAL(d.cpu_bind, "");
	CU_ASSERT_STRING_EQUAL(d.mpi, "");
	CU_ASSERT_STRING_EQUAL(d.std_out, "");
	CU_ASSERT_STRING_EQUAL(d.work_dir, "");
	CU_ASSERT_STRING_EQUAL(d.name, "");
	CU_ASSERT_FALSE(d.label);
	argv_free(argv);
	jobopt_free(&o);

	/* -K and --kill-on-bad-exit forms */
	CU_ASSERT_EQUAL(parse(&o, "-K x", &argv, &argc, &first, &e), 0);
	CU_ASSERT_EQUAL(o.kill_on_bad_exit, 1);
	CU_ASSERT_STRING_EQUAL(argv[first], "x");
	argv_free(argv);
	jobopt_free(&o);
	CU_ASSERT_EQUAL(parse(&o, "-K1 --kill-on-bad-exit=0 x", &argv, &argc,
			      &first, &e),
			0);
	CU_ASSERT_EQUAL(o.kill_on_bad_exit, 0);
	argv_free(argv);
	jobopt_free(&o);
	CU_ASSERT_EQUAL(
		parse(&o, "--kill-on-bad-exit x", &argv, &argc, &first, &e), 0);
	CU_ASSERT_EQUAL(o.kill_on_bad_exit, 1);
	argv_free(argv);
	jobopt_free(&o);
}

static void test_step_desc_pty_and_gpus(void)
{
	Meridian__StepDesc d = MERIDIAN__STEP_DESC__INIT;
	struct mer_error e = {{0}};
	struct jobopt o;
	char **argv;
	int argc, first;

	/* --pty: one task on one node, whatever else was asked */
	CU_ASSERT_EQUAL_FATAL(parse(&o,
				    "-n 4 -N 2 --ntasks-per-node=2 --pty "
				    "bash",
				    &argv, &argc, &first, &e),
			      0);
	CU_ASSERT_EQUAL_FATAL(
		mrun_step_desc(&o, argv + first, 1, NULL, 0, "", false, &d, &e),
		0);
	CU_ASSERT_TRUE(d.pty);
	CU_ASSERT_EQUAL(d.ntasks, 1);
	CU_ASSERT_EQUAL(d.min_nodes, 1);
	CU_ASSERT_EQUAL(d.ntasks_per_node, 0);
	argv_free(argv);
	jobopt_free(&o);

	/* inside a job a --gpus total becomes GPUs per task */
	d = (Meridian__StepDesc)MERIDIAN__STEP_DESC__INIT;
	CU_ASSERT_EQUAL_FATAL(
		parse(&o, "-n 4 --gpus=8 x", &argv, &argc, &first, &e), 0);
	CU_ASSERT_EQUAL_FATAL(
		mrun_step_desc(&o, argv + first, 1, NULL, 0, "", true, &d, &e),
		0);
	CU_ASSERT_EQUAL(d.gpus_per_task, 2);
	CU_ASSERT_EQUAL(d.gpus_per_node, 0);
	/* outside one it is the allocation's business */
	d = (Meridian__StepDesc)MERIDIAN__STEP_DESC__INIT;
	CU_ASSERT_EQUAL(
		mrun_step_desc(&o, argv + first, 1, NULL, 0, "", false, &d, &e),
		0);
	CU_ASSERT_EQUAL(d.gpus_per_task, 0);
	argv_free(argv);
	jobopt_free(&o);

	CU_ASSERT_EQUAL_FATAL(
		parse(&o, "-n 3 -G 4 x", &argv, &argc, &first, &e), 0);
	CU_ASSERT_EQUAL(
		mrun_step_desc(&o, argv + first, 1, NULL, 0, "", true, &d, &e),
		-1);
	CU_ASSERT_STRING_EQUAL(e.text,
			       "--gpus=4 inside a job: expected a multiple "
			       "of --ntasks, or --gpus-per-task=N or "
			       "--gpus-per-node=N");
	argv_free(argv);
	jobopt_free(&o);

	/* --gres inside a job: GPUs per node of the step */
	d = (Meridian__StepDesc)MERIDIAN__STEP_DESC__INIT;
	CU_ASSERT_EQUAL_FATAL(
		parse(&o, "--gres=gpu:2 x", &argv, &argc, &first, &e), 0);
	CU_ASSERT_EQUAL(
		mrun_step_desc(&o, argv + first, 1, NULL, 0, "", true, &d, &e),
		0);
	CU_ASSERT_EQUAL(d.gpus_per_node, 2);
	argv_free(argv);
	jobopt_free(&o);

	CU_ASSERT_EQUAL_FATAL(
		parse(&o, "-n 2 -N 3 x", &argv, &argc, &first, &e), 0);
	CU_ASSERT_EQUAL(
		mrun_step_desc(&o, argv + first, 1, NULL, 0, "", true, &d, &e),
		-1);
	CU_ASSERT_STRING_EQUAL(e.text, "--ntasks=2 is less than --nodes=3: "
				       "expected at least one task per node");
	argv_free(argv);
	jobopt_free(&o);

	/* no program */
	CU_ASSERT_EQUAL_FATAL(parse(&o, "-n 2", &argv, &argc, &first, &e), 0);
	CU_ASSERT_EQUAL(first, argc);
	CU_ASSERT_EQUAL(
		mrun_step_desc(&o, argv + first, 0, NULL, 0, "", true, &d, &e),
		-1);
	CU_ASSERT_STRING_EQUAL(e.text, "no program to run: expected mrun "
				       "[OPTIONS] PROGRAM [ARGS...]");
	argv_free(argv);
	jobopt_free(&o);
}

static void test_job_desc(void)
{
	Meridian__JobDesc d = MERIDIAN__JOB_DESC__INIT;
	struct mer_error e = {{0}};
	struct jobopt o;
	char **argv;
	int argc, first;

	CU_ASSERT_EQUAL_FATAL(parse(&o,
				    "-N 2 -n 4 -c 2 -t 10 -p gpu -A acct "
				    "--mem=1G --gres=gpu:a100:2 "
				    "--export=NONE /usr/bin/python3 t.py",
				    &argv, &argc, &first, &e),
			      0);
	mrun_job_desc(&o, argv[first], "/w", "/s", &d);
	CU_ASSERT_TRUE(d.interactive);
	CU_ASSERT_STRING_EQUAL(d.name, "python3");
	CU_ASSERT_EQUAL(d.min_nodes, 2);
	CU_ASSERT_EQUAL(d.ntasks, 4);
	CU_ASSERT_EQUAL(d.cpus_per_task, 2);
	CU_ASSERT_EQUAL(d.time_limit, 10);
	CU_ASSERT_STRING_EQUAL(d.partition, "gpu");
	CU_ASSERT_STRING_EQUAL(d.account, "acct");
	CU_ASSERT_EQUAL(d.mem_mb, 1024);
	CU_ASSERT_EQUAL(d.gpus_per_node, 2);
	CU_ASSERT_STRING_EQUAL(d.gpu_type, "a100");
	CU_ASSERT_STRING_EQUAL(d.export_mode, "NONE");
	CU_ASSERT_STRING_EQUAL(d.work_dir, "/w");
	CU_ASSERT_STRING_EQUAL(d.submit_dir, "/s");
	argv_free(argv);
	jobopt_free(&o);

	/* GPUs per task: the allocation holds what the tasks will ask */
	d = (Meridian__JobDesc)MERIDIAN__JOB_DESC__INIT;
	CU_ASSERT_EQUAL_FATAL(parse(&o, "-J j -n 3 --gpus-per-task=2 x", &argv,
				    &argc, &first, &e),
			      0);
	mrun_job_desc(&o, argv[first], "/w", NULL, &d);
	CU_ASSERT_STRING_EQUAL(d.name, "j");
	CU_ASSERT_EQUAL(d.gpus, 6);
	CU_ASSERT_EQUAL(d.gpus_per_node, 0);
	CU_ASSERT_STRING_EQUAL(d.submit_dir, "/w");
	CU_ASSERT_STRING_EQUAL(d.export_mode, "ALL");
	argv_free(argv);
	jobopt_free(&o);

	d = (Meridian__JobDesc)MERIDIAN__JOB_DESC__INIT;
	CU_ASSERT_EQUAL_FATAL(parse(&o,
				    "-N 2 --ntasks-per-node=4 "
				    "--gpus-per-task=2 x",
				    &argv, &argc, &first, &e),
			      0);
	mrun_job_desc(&o, argv[first], "/w", "/w", &d);
	CU_ASSERT_EQUAL(d.gpus_per_node, 8);
	CU_ASSERT_EQUAL(d.gpus, 0);
	argv_free(argv);
	jobopt_free(&o);

	/* an explicit GPU request wins */
	d = (Meridian__JobDesc)MERIDIAN__JOB_DESC__INIT;
	CU_ASSERT_EQUAL_FATAL(parse(&o, "-n 2 --gpus-per-task=2 -G 1 x", &argv,
				    &argc, &first, &e),
			      0);
	mrun_job_desc(&o, argv[first], "/w", "/w", &d);
	CU_ASSERT_EQUAL(d.gpus, 1);
	argv_free(argv);
	jobopt_free(&o);
}

static void test_env_and_dirs(void)
{
	struct mer_error e = {{0}};
	uint32_t id = 0;
	char *d;

	CU_ASSERT_EQUAL(mrun_job_from_env(NULL, NULL, &id, &e), 0);
	CU_ASSERT_EQUAL(mrun_job_from_env("", "", &id, &e), 0);
	CU_ASSERT_EQUAL(mrun_job_from_env("12", "13", &id, &e), 1);
	CU_ASSERT_EQUAL(id, 12);
	CU_ASSERT_EQUAL(mrun_job_from_env(NULL, "13", &id, &e), 1);
	CU_ASSERT_EQUAL(id, 13);
	CU_ASSERT_EQUAL(mrun_job_from_env("x1", NULL, &id, &e), -1);
	CU_ASSERT_STRING_EQUAL(e.text,
			       "MERIDIAN_JOB_ID=x1 in the environment is not "
			       "a job id: expected a job number such as 12 "
			       "(unset it to run in a new allocation)");
	CU_ASSERT_EQUAL(mrun_job_from_env(NULL, "0", &id, &e), -1);
	CU_ASSERT_EQUAL(mrun_job_from_env(NULL, "-3", &id, &e), -1);
	CU_ASSERT_EQUAL(mrun_job_from_env(NULL, "99999999999", &id, &e), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(e.text, "SLURM_JOB_ID=99999999999"));

	d = mrun_abs_dir(NULL, "/home/a");
	CU_ASSERT_STRING_EQUAL(d, "/home/a");
	free(d);
	d = mrun_abs_dir("sub/dir", "/home/a");
	CU_ASSERT_STRING_EQUAL(d, "/home/a/sub/dir");
	free(d);
	d = mrun_abs_dir("x", "/");
	CU_ASSERT_STRING_EQUAL(d, "/x");
	free(d);
	d = mrun_abs_dir("/abs", NULL);
	CU_ASSERT_STRING_EQUAL(d, "/abs");
	free(d);
	CU_ASSERT_PTR_NULL(mrun_abs_dir("rel", NULL));
	CU_ASSERT_PTR_NULL(mrun_abs_dir(NULL, NULL));
	CU_ASSERT_STRING_EQUAL(mrun_base_name("/usr/bin/env"), "env");
	CU_ASSERT_STRING_EQUAL(mrun_base_name("env"), "env");
	CU_ASSERT_STRING_EQUAL(mrun_base_name("dir/"), "dir/");
}

static void test_key(void)
{
	uint8_t a[32], b[32];

	memset(a, 7, sizeof(a));
	memcpy(b, a, sizeof(b));
	CU_ASSERT_TRUE(key_equal(a, 32, b, 32));
	b[31] ^= 1;
	CU_ASSERT_FALSE(key_equal(a, 32, b, 32));
	b[31] ^= 1;
	b[0] ^= 0x80;
	CU_ASSERT_FALSE(key_equal(a, 32, b, 32));
	CU_ASSERT_FALSE(key_equal(a, 31, a, 32));
	CU_ASSERT_FALSE(key_equal(NULL, 0, a, 32));
	CU_ASSERT_FALSE(key_equal(NULL, 0, NULL, 32));
}

/* --- the line splitter ----------------------------------------------- */

struct sink {
	struct strbuf out[3];
	int calls;
};

static void sink_emit(int stream, const char *buf, size_t len, void *arg)
{
	struct sink *s = arg;

	CU_ASSERT(stream == 1 || stream == 2);
	strbuf_add(&s->out[stream], buf, len);
	s->calls++;
}

static const char *sink_text(struct sink *s, int stream)
{
	return s->out[stream].s ? s->out[stream].s : "";
}

static void sink_free(struct sink *s)
{
	for (int i = 0; i < 3; i++)
		strbuf_free(&s->out[i]);
}

static void feed(struct mrun_lines *l, uint32_t rank, int stream,
		 const char *text)
{
	mrun_lines_feed(l, rank, stream, (const uint8_t *)text, strlen(text));
}

static void test_lines_label(void)
{
	struct sink s = {{{0}}};
	struct mrun_lines *l = mrun_lines_create(12, true, sink_emit, &s);

	/* a line in pieces, other ranks' lines in between */
	feed(l, 0, 1, "half-0-");
	feed(l, 1, 1, "half-1-");
	CU_ASSERT_STRING_EQUAL(sink_text(&s, 1), "");
	CU_ASSERT_EQUAL(s.calls, 0);
	feed(l, 11, 1, "eleven\n");
	feed(l, 1, 1, "end-1\nnext-1\nmore");
	feed(l, 0, 1, "end-0\n");
	CU_ASSERT_STRING_EQUAL(sink_text(&s, 1), "11: eleven\n"
						 "1: half-1-end-1\n"
						 "1: next-1\n"
						 "0: half-0-end-0\n");
	/* the lines one call completes go out in one emit */
	CU_ASSERT_EQUAL(s.calls, 3);
	/* stderr is its own stream, with its own partial lines */
	feed(l, 1, 2, "err");
	feed(l, 1, 2, "or\n");
	CU_ASSERT_STRING_EQUAL(sink_text(&s, 2), "1: error\n");
	/* empty lines are lines too */
	feed(l, 2, 1, "\n\n");
	/* a rank out of range and a bad stream are dropped */
	feed(l, 12, 1, "nope\n");
	feed(l, 0, 3, "nope\n");
	feed(l, 0, 0, "nope\n");
	CU_ASSERT_PTR_NULL(strstr(sink_text(&s, 1), "nope"));
	/* a last line without '\n' is flushed whole, '\n' added */
	feed(l, 3, 1, "partial 3");
	mrun_lines_flush(l, 2, 2); /* ranks 2 and 3 */
	CU_ASSERT_PTR_NOT_NULL(
		strstr(sink_text(&s, 1), "2: \n2: \n3: partial 3\n"));
	/* rank 1's "more" is still waiting */
	CU_ASSERT_PTR_NULL(strstr(sink_text(&s, 1), "more"));
	mrun_lines_flush_all(l);
	CU_ASSERT_PTR_NOT_NULL(strstr(sink_text(&s, 1), "1: more\n"));
	/* a flush of nothing says nothing */
	s.calls = 0;
	mrun_lines_flush_all(l);
	CU_ASSERT_EQUAL(s.calls, 0);
	mrun_lines_destroy(l);
	mrun_lines_destroy(NULL);
	sink_free(&s);
}

static void test_lines_plain_and_long(void)
{
	struct sink s = {{{0}}};
	struct mrun_lines *l = mrun_lines_create(2, false, sink_emit, &s);
	size_t big = MRUN_LINE_MAX + 10, i;
	char *data = xmalloc(big + 1);

	/* without --label: lines kept whole, no prefix */
	feed(l, 0, 1, "a");
	feed(l, 1, 1, "b\n");
	feed(l, 0, 1, "a\n");
	CU_ASSERT_STRING_EQUAL(sink_text(&s, 1), "b\naa\n");
	mrun_lines_destroy(l);
	sink_free(&s);

	/* a partial line that grows past MRUN_LINE_MAX is cut there */
	memset(&s, 0, sizeof(s));
	l = mrun_lines_create(1, true, sink_emit, &s);
	memset(data, 'x', big);
	data[big] = '\0';
	for (i = 0; i < big; i += 4096)
		mrun_lines_feed(l, 0, 1, (const uint8_t *)data + i,
				big - i < 4096 ? big - i : 4096);
	CU_ASSERT_EQUAL(s.out[1].len, 3 + MRUN_LINE_MAX + 1);
	mrun_lines_flush_all(l);
	CU_ASSERT_EQUAL(s.out[1].len, 3 + MRUN_LINE_MAX + 1 + 3 + 10 + 1);
	CU_ASSERT_STRING_EQUAL(sink_text(&s, 1) + s.out[1].len - 14,
			       "0: xxxxxxxxxx\n");
	sink_free(&s);
	/* a long line that comes whole, in one piece, is not cut */
	memset(&s, 0, sizeof(s));
	data[big - 1] = '\n';
	mrun_lines_feed(l, 0, 1, (const uint8_t *)data, big);
	CU_ASSERT_EQUAL(s.out[1].len, 3 + big);
	mrun_lines_destroy(l);
	sink_free(&s);
	free(data);
}

/* --- the worst status ------------------------------------------------- */

static void test_status(void)
{
	struct mrun_status s;
	Meridian__StepEnd e = MERIDIAN__STEP_END__INIT;

	CU_ASSERT_EQUAL(mrun_task_value(0, 0), 0);
	CU_ASSERT_EQUAL(mrun_task_value(7, 0), 7);
	CU_ASSERT_EQUAL(mrun_task_value(0, SIGKILL), 137);

	mrun_status_init(&s);
	CU_ASSERT_EQUAL(s.rank, -1);
	CU_ASSERT_EQUAL(mrun_status_exit(&s), 0);

	/* the worst value wins, the lowest rank among equals */
	mrun_status_merge(&s, MRUN_FAILED, 5, 0, 4, "rank 4 exited with 5");
	mrun_status_merge(&s, MRUN_FAILED, 7, 0, 5, "rank 5");
	mrun_status_merge(&s, MRUN_FAILED, 7, 0, 3, "rank 3");
	mrun_status_merge(&s, MRUN_FAILED, 7, 0, 4, "rank 4");
	mrun_status_merge(&s, MRUN_FAILED, 7, 0, -1, "no rank");
	mrun_status_merge(&s, MRUN_FAILED, 2, 0, 0, "rank 0");
	CU_ASSERT_EQUAL(s.value, 7);
	CU_ASSERT_EQUAL(s.rank, 3);
	CU_ASSERT_STRING_EQUAL(s.reason, "rank 3");
	CU_ASSERT_EQUAL(mrun_status_exit(&s), 7);
	/* a CANCELLED node does not hide a FAILED one, however bad */
	mrun_status_merge(&s, MRUN_CANCELLED, 137, 9, 0, "killed");
	CU_ASSERT_EQUAL(s.value, 7);
	/* the trigger beats everything, and the first one stands */
	mrun_status_merge(&s, MRUN_TRIGGER, 3, 0, 2, "rank 2 exited with 3");
	mrun_status_merge(&s, MRUN_TRIGGER, 137, 9, 0, "later");
	mrun_status_merge(&s, MRUN_FAILED, 137, 9, 0, "killed by us");
	CU_ASSERT_EQUAL(s.cls, MRUN_TRIGGER);
	CU_ASSERT_EQUAL(s.value, 3);
	CU_ASSERT_EQUAL(s.rank, 2);
	CU_ASSERT_STRING_EQUAL(s.reason, "rank 2 exited with 3");
	CU_ASSERT_EQUAL(mrun_status_exit(&s), 3);
	/* a rank that aborted explains the step better than the sibling its
	 * node killed and reported first; the first abort stands */
	mrun_status_merge(&s, MRUN_ABORTED, 9, 0, 4, "rank 4 aborted");
	mrun_status_merge(&s, MRUN_ABORTED, 1, 0, 1, "rank 1 aborted");
	CU_ASSERT_EQUAL(s.cls, MRUN_ABORTED);
	CU_ASSERT_EQUAL(s.rank, 4);
	CU_ASSERT_EQUAL(mrun_status_exit(&s), 9);

	/* node ends */
	mrun_status_init(&s);
	e.state = MERIDIAN__JOB_STATE__JOB_COMPLETED;
	e.failed_rank = -1;
	mrun_status_merge_end(&s, &e);
	CU_ASSERT_EQUAL(s.cls, MRUN_OK);
	e.state = MERIDIAN__JOB_STATE__JOB_CANCELLED;
	e.exit_code = 137;
	e.term_signal = 9;
	e.failed_rank = 0;
	e.reason = "cancelled by user";
	mrun_status_merge_end(&s, &e);
	CU_ASSERT_EQUAL(s.cls, MRUN_CANCELLED);
	CU_ASSERT_EQUAL(mrun_status_exit(&s), 137);
	CU_ASSERT_EQUAL(s.term_signal, 9);
	e.state = MERIDIAN__JOB_STATE__JOB_FAILED;
	e.exit_code = 0; /* it failed before any rank ran */
	e.term_signal = 0;
	e.failed_rank = -1;
	e.reason = "cannot reach mrun at h:1: refused";
	mrun_status_merge_end(&s, &e);
	CU_ASSERT_EQUAL(s.cls, MRUN_FAILED);
	CU_ASSERT_STRING_EQUAL(s.reason, "cannot reach mrun at h:1: refused");
	CU_ASSERT_EQUAL(mrun_status_exit(&s), 1); /* never 0 when failed */
	/* the exit status fits a byte */
	mrun_status_merge(&s, MRUN_FAILED, 300, 0, 1, "big");
	CU_ASSERT_EQUAL(mrun_status_exit(&s), 255);
}

static void test_task_reason(void)
{
	Meridian__TaskExit t = MERIDIAN__TASK_EXIT__INIT;
	char buf[256];

	t.rank = 3;
	t.exit_code = 7;
	mrun_task_reason(&t, "n2", buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, "rank 3 on n2 exited with code 7");
	t.rank = 0;
	t.exit_code = 0;
	t.term_signal = 9;
	mrun_task_reason(&t, "n1", buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, "rank 0 on n1 killed by signal 9");
	t.rank = 1;
	t.aborted = true;
	t.reason = "aborted: bad input (exit code 3)";
	mrun_task_reason(&t, "n1", buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf,
			       "rank 1 on n1 aborted: bad input (exit code 3)");
	t.reason = "";
	mrun_task_reason(&t, "n1", buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, "rank 1 on n1 aborted");
	t.aborted = false;
	t.rank = 2;
	t.reason = "hung in MPI_Finalize: killed after 5 s";
	mrun_task_reason(&t, "n3", buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, "rank 2 on n3 hung in MPI_Finalize: "
				    "killed after 5 s");
	mrun_task_reason(&t, NULL, buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, "rank 2 on ? hung in MPI_Finalize: "
				    "killed after 5 s");
}

/* srun's spellings into the step and the allocation: --mpi=pmi2,
 * --cpu_bind=, --exclusive; what --mpi=list prints. */
static void test_slurm_spellings(void)
{
	Meridian__StepDesc d = MERIDIAN__STEP_DESC__INIT;
	Meridian__JobDesc j = MERIDIAN__JOB_DESC__INIT;
	struct mer_error e = {{0}};
	struct jobopt o;
	char **argv;
	int argc, first;

	CU_ASSERT_EQUAL_FATAL(parse(&o,
				    "-n 2 --mpi=pmi2 --cpu_bind=no "
				    "--exclusive ./a.out",
				    &argv, &argc, &first, &e),
			      0);
	CU_ASSERT_EQUAL_FATAL(mrun_step_desc(&o, argv + first, 1, NULL, 0, NULL,
					     true, &d, &e),
			      0);
	CU_ASSERT_STRING_EQUAL(d.mpi, "pmi2");
	CU_ASSERT_STRING_EQUAL(d.cpu_bind, "none");
	CU_ASSERT_TRUE(d.exclusive);
	mrun_job_desc(&o, argv[first], "/w", "/w", &j);
	CU_ASSERT_TRUE(j.exclusive); /* srun --exclusive: whole nodes too */
	argv_free(argv);
	jobopt_free(&o);

	d = (Meridian__StepDesc)MERIDIAN__STEP_DESC__INIT;
	CU_ASSERT_EQUAL_FATAL(parse(&o, "x", &argv, &argc, &first, &e), 0);
	CU_ASSERT_EQUAL_FATAL(mrun_step_desc(&o, argv + first, 1, NULL, 0, NULL,
					     true, &d, &e),
			      0);
	CU_ASSERT_FALSE(d.exclusive);
	argv_free(argv);
	jobopt_free(&o);

	CU_ASSERT_STRING_EQUAL(mrun_mpi_list, "MPI plugin types are...\n"
					      "\tnone\n\tpmi1\n\tpmi2\n");
}

static const char *env_of(char **env, const char *name)
{
	size_t len = strlen(name);

	for (char **e = env; *e; e++)
		if (!strncmp(*e, name, len) && (*e)[len] == '=')
			return *e + len + 1;
	return NULL;
}

/* salloc's command gets the job's variables, as salloc sets them. */
static void test_salloc_env(void)
{
	Meridian__JobRecord job = MERIDIAN__JOB_RECORD__INIT;
	Meridian__JobDesc d = MERIDIAN__JOB_DESC__INIT;
	Meridian__JobNodeAlloc a[3], *ap[3] = {&a[0], &a[1], &a[2]};
	struct mrun m;
	char **env;
	size_t n;

	memset(&m, 0, sizeof(m));
	jobopt_init(&m.opt);
	m.submit_dir = (char *)"/home/u";
	m.host = (char *)"login1";
	for (int i = 0; i < 3; i++) {
		meridian__job_node_alloc__init(&a[i]);
		a[i].cpus = i < 2 ? 4 : 2;
	}
	job.job_id = 42;
	job.desc = &d;
	d.name = (char *)"interactive";
	d.partition = (char *)"gpu";
	job.nodes = (char *)"n[1-3]";
	job.alloc = ap;
	job.n_alloc = 3;
	setenv("SLURM_JOB_ID", "7", 1); /* an outer job's: replaced */
	env = mrun_alloc_env(&m, &job, &n);
	CU_ASSERT_STRING_EQUAL(env_of(env, "SLURM_JOB_ID"), "42");
	CU_ASSERT_STRING_EQUAL(env_of(env, "SLURM_JOBID"), "42");
	CU_ASSERT_STRING_EQUAL(env_of(env, "MERIDIAN_JOB_ID"), "42");
	CU_ASSERT_STRING_EQUAL(env_of(env, "SLURM_JOB_NODELIST"), "n[1-3]");
	CU_ASSERT_STRING_EQUAL(env_of(env, "SLURM_NNODES"), "3");
	CU_ASSERT_STRING_EQUAL(env_of(env, "SLURM_JOB_CPUS_PER_NODE"),
			       "4(x2),2");
	CU_ASSERT_STRING_EQUAL(env_of(env, "SLURM_JOB_PARTITION"), "gpu");
	CU_ASSERT_STRING_EQUAL(env_of(env, "SLURM_SUBMIT_HOST"), "login1");
	/* no -n: no SLURM_NTASKS, as salloc */
	CU_ASSERT_PTR_NULL(env_of(env, "SLURM_NTASKS"));
	jobopt_env_free(env, n);
	m.opt.ntasks_per_node = 2;
	env = mrun_alloc_env(&m, &job, &n);
	CU_ASSERT_STRING_EQUAL(env_of(env, "SLURM_NTASKS"), "6");
	CU_ASSERT_STRING_EQUAL(env_of(env, "SLURM_NTASKS_PER_NODE"), "2");
	jobopt_env_free(env, n);
	unsetenv("SLURM_JOB_ID");
	jobopt_free(&m.opt);
}

static CU_TestInfo tests[] = {
	{"options into a StepDesc", test_step_desc},
	{"--pty and GPUs in a StepDesc", test_step_desc_pty_and_gpus},
	{"options into an allocation's JobDesc", test_job_desc},
	{"srun's spellings: --mpi, --cpu_bind, --exclusive",
	 test_slurm_spellings},
	{"job id from the environment, directories", test_env_and_dirs},
	{"io_key check", test_key},
	{"--label lines", test_lines_label},
	{"lines without labels, long lines", test_lines_plain_and_long},
	{"worst status", test_status},
	{"task reasons", test_task_reason},
	{"salloc's environment", test_salloc_env},
	CU_TEST_INFO_NULL,
};

CUNIT_MAIN("mrun", tests)
