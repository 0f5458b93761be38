/*
 * test_iopath.c - output file patterns (%j %x %u %N %A %a ...), as sbatch.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "cunit_main.h"
#include "iopath.h"

static const struct iopath_names names = {
	.job_id = 42, .job_name = "train", .user = "alice", .node = "gpu07"};

static void expect(const char *pattern, const char *want)
{
	char *got = iopath_expand(pattern, &names);

	if (strcmp(got, want))
		fprintf(stderr, "\"%s\" -> \"%s\", expected \"%s\"\n", pattern,
			got, want);
	CU_ASSERT_STRING_EQUAL(got, want);
	free(got);
}

static void test_expand(void)
{
	expect("meridian-%j.out", "meridian-42.out");
	expect("%x-%j.log", "train-42.log");
	expect("%u/%N/%j", "alice/gpu07/42");
	/* outside an array: %A the job id, %a Slurm's NO_VAL */
	expect("slurm-%A_%a.out", "slurm-42_4294967294.out");
	expect("%J.%s", "42.batch");
	expect("n%n-t%t", "n0-t0");
	expect("100%%", "100%");
	expect("plain", "plain");
	expect("", "");
}

static void test_padding(void)
{
	expect("job-%5j", "job-00042");
	expect("%1j", "42");
}

/* A task of an array: %A the array's job id, %a the task's; %j its
 * own job id. */
static void test_array(void)
{
	struct iopath_names t = names;
	char *got;

	t.in_array = true;
	t.array_job_id = 40;
	t.array_task_id = 7;
	got = iopath_expand("out-%A_%a-%j-%3a", &t);
	CU_ASSERT_STRING_EQUAL(got, "out-40_7-42-007");
	free(got);
	got = iopath_path("", IOPATH_DEFAULT_ARRAY, "/w", &t);
	CU_ASSERT_STRING_EQUAL(got, "/w/meridian-40_7.out");
	free(got);
}

static void test_unknown_kept(void)
{
	/* Slurm leaves what it does not know alone */
	expect("%q-%j", "%q-42");
	expect("end%", "end%");
	expect("%5q", "%5q");
}

/* A job step's own values: mrun -o "out-%j.%s-%t.txt" gives one file
 * per rank. */
static void test_step(void)
{
	struct iopath_names st = names;
	char *got;

	st.has_step = true;
	st.step_id = 3;
	st.node_index = 2;
	st.task = 17;
	got = iopath_expand("out-%j.%s-%t-n%n.txt", &st);
	CU_ASSERT_STRING_EQUAL(got, "out-42.3-17-n2.txt");
	free(got);
	got = iopath_expand("%J %3t %2n %2s %N", &st);
	CU_ASSERT_STRING_EQUAL(got, "42.3 017 02 03 gpu07");
	free(got);
	/* step 0 is a step, not the batch script */
	st.step_id = 0;
	got = iopath_expand("%s", &st);
	CU_ASSERT_STRING_EQUAL(got, "0");
	free(got);
	got = iopath_path("%x-%t.out", IOPATH_DEFAULT_OUTPUT, "/w", &st);
	CU_ASSERT_STRING_EQUAL(got, "/w/train-17.out");
	free(got);
}

static void test_paths(void)
{
	char *p;

	p = iopath_path("", IOPATH_DEFAULT_OUTPUT, "/home/alice/run", &names);
	CU_ASSERT_STRING_EQUAL(p, "/home/alice/run/meridian-42.out");
	free(p);
	p = iopath_path(NULL, IOPATH_DEFAULT_OUTPUT, "/home/alice/run/",
			&names);
	CU_ASSERT_STRING_EQUAL(p, "/home/alice/run/meridian-42.out");
	free(p);
	p = iopath_path("logs/%x.%j.err", IOPATH_DEFAULT_OUTPUT, "/w", &names);
	CU_ASSERT_STRING_EQUAL(p, "/w/logs/train.42.err");
	free(p);
	p = iopath_path("/tmp/%u-%j.out", IOPATH_DEFAULT_OUTPUT, "/w", &names);
	CU_ASSERT_STRING_EQUAL(p, "/tmp/alice-42.out");
	free(p);
	p = iopath_path("/dev/null", IOPATH_DEFAULT_OUTPUT, "/w", &names);
	CU_ASSERT_STRING_EQUAL(p, "/dev/null");
	free(p);
}

static CU_TestInfo tests[] = {
	{"a task of an array", test_array},
	{"expand", test_expand},
	{"zero padding", test_padding},
	{"unknown kept", test_unknown_kept},
	{"paths", test_paths},
	{"step values", test_step},
	CU_TEST_INFO_NULL,
};

CUNIT_MAIN("io", tests)
