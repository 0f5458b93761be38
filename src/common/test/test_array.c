/*
 * test_array.c - --array's forms (array.c): ranges, steps, lists, the %N
 * throttle, the figures Slurm's SLURM_ARRAY_TASK_* carry, folding back as
 * squeue shows pending tasks, and the errors a user reads.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "array.h"
#include "cunit_main.h"

static char *fold_of(const char *spec)
{
	struct array_spec a;
	struct mer_error err = {""};
	char *s;

	if (array_parse(spec, "--array", 10001, &a, &err) < 0)
		return strdup(err.text);
	s = array_fold(a.bits, a.nbytes);
	array_spec_free(&a);
	return s;
}

static void fold_is(const char *spec, const char *want)
{
	char *got = fold_of(spec);

	CU_ASSERT_STRING_EQUAL(got, want);
	free(got);
}

static void test_forms(void)
{
	struct array_spec a;
	struct mer_error err = {""};

	CU_ASSERT_EQUAL_FATAL(array_parse("0-99", "--array", 10001, &a, &err),
			      0);
	CU_ASSERT_EQUAL(a.count, 100);
	CU_ASSERT_EQUAL(a.min, 0);
	CU_ASSERT_EQUAL(a.max, 99);
	CU_ASSERT_EQUAL(a.step, 1);
	CU_ASSERT_EQUAL(a.max_running, 0);
	CU_ASSERT_TRUE(array_bit(a.bits, a.nbytes, 99));
	CU_ASSERT_FALSE(array_bit(a.bits, a.nbytes, 100));
	array_spec_free(&a);

	CU_ASSERT_EQUAL_FATAL(
		array_parse("0-99:4%5", "--array", 10001, &a, &err), 0);
	CU_ASSERT_EQUAL(a.count, 25);
	CU_ASSERT_EQUAL(a.max, 96);
	CU_ASSERT_EQUAL(a.step, 4);
	CU_ASSERT_EQUAL(a.max_running, 5);
	CU_ASSERT_EQUAL(array_next(a.bits, a.nbytes, 5), 8);
	array_spec_free(&a);

	CU_ASSERT_EQUAL_FATAL(
		array_parse("1,3,5-9", "--array", 10001, &a, &err), 0);
	CU_ASSERT_EQUAL(a.count, 7);
	CU_ASSERT_EQUAL(a.min, 1);
	CU_ASSERT_EQUAL(a.max, 9);
	CU_ASSERT_EQUAL(a.step, 1);
	CU_ASSERT_EQUAL(array_count(a.bits, a.nbytes), 7);
	array_spec_free(&a);

	/* the largest array the default MaxArraySize allows */
	CU_ASSERT_EQUAL_FATAL(
		array_parse("0-10000", "--array", 10001, &a, &err), 0);
	CU_ASSERT_EQUAL(a.count, 10001);
	array_spec_free(&a);
}

static void test_fold(void)
{
	fold_is("0-99", "0-99");
	fold_is("0-99:4", "0-96:4");
	fold_is("1,3,5-9", "1,3,5-9");
	fold_is("1,3,5,7-9", "1-5:2,7-9");
	fold_is("7", "7");
	fold_is("3,10", "3,10");
	fold_is("1-2,9", "1-2,9");
	fold_is("0,5,10,11", "0,5,10-11");
}

static void bad(const char *spec, const char *want)
{
	struct array_spec a;
	struct mer_error err = {""};

	CU_ASSERT_EQUAL(array_parse(spec, "--array", 1001, &a, &err), -1);
	if (!strstr(err.text, want))
		fprintf(stderr, "\n  %s: got \"%s\", wanted \"%s\"\n", spec,
			err.text, want);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.text, want));
	CU_ASSERT_PTR_NULL(a.bits);
}

static void test_errors(void)
{
	bad("", "empty");
	bad("abc", "--array=abc: expected ranges such as 0-99");
	bad("5-3", "expected ranges");
	bad("0-9:0", "expected ranges");
	bad("0-9%", "expected ranges");
	bad("0-9%0", "expected ranges");
	bad("1,,2", "expected ranges");
	bad("1,", "expected ranges");
	bad("-1", "expected ranges");
	bad("0-1001", "task id 1001 is over the limit; task ids go from 0 "
		      "to 1000 (MaxArraySize=1001)");
	bad("99999999999", "expected ranges");
	bad("0-9x", "expected ranges");
}

static CU_TestInfo tests[] = {
	{"forms", test_forms},
	{"folded as squeue shows them", test_fold},
	{"errors", test_errors},
	CU_TEST_INFO_NULL,
};

CUNIT_MAIN("array", tests)
