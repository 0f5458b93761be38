/*
 * test_depend.c - --dependency's forms (depend.c): each type, several ids,
 * ',' and '?', after's +MINUTES, singleton, and the errors a user reads.
 */
#include "config.h"

#include <string.h>

#include "cunit_main.h"
#include "depend.h"

static void test_forms(void)
{
	struct dep_list l;
	struct mer_error err = {""};

	CU_ASSERT_EQUAL_FATAL(dep_parse("afterok:12", "--dependency", &l, &err),
			      0);
	CU_ASSERT_EQUAL(l.n, 1);
	CU_ASSERT_FALSE(l.any);
	CU_ASSERT_EQUAL(l.v[0].kind, DEP_AFTEROK);
	CU_ASSERT_EQUAL(l.v[0].job_id, 12);
	dep_list_free(&l);

	CU_ASSERT_EQUAL_FATAL(dep_parse("afterany:1:2,after:3+5,singleton",
					"--dependency", &l, &err),
			      0);
	CU_ASSERT_EQUAL_FATAL(l.n, 4);
	CU_ASSERT_EQUAL(l.v[0].kind, DEP_AFTERANY);
	CU_ASSERT_EQUAL(l.v[1].job_id, 2);
	CU_ASSERT_EQUAL(l.v[2].kind, DEP_AFTER);
	CU_ASSERT_EQUAL(l.v[2].job_id, 3);
	CU_ASSERT_EQUAL(l.v[2].minutes, 5);
	CU_ASSERT_EQUAL(l.v[3].kind, DEP_SINGLETON);
	CU_ASSERT_EQUAL(l.v[3].job_id, 0);
	dep_list_free(&l);

	CU_ASSERT_EQUAL_FATAL(
		dep_parse("afterok:7?afternotok:8:9", "-d", &l, &err), 0);
	CU_ASSERT_TRUE(l.any);
	CU_ASSERT_EQUAL(l.n, 3);
	CU_ASSERT_EQUAL(l.v[2].kind, DEP_AFTERNOTOK);
	CU_ASSERT_EQUAL(l.v[2].job_id, 9);
	dep_list_free(&l);

	CU_ASSERT_EQUAL(dep_parse("aftercorr:4", "-d", &l, &err), 0);
	CU_ASSERT_EQUAL(l.v[0].kind, DEP_AFTERCORR);
	dep_list_free(&l);
	CU_ASSERT_STRING_EQUAL(dep_kind_name(DEP_AFTERNOTOK), "afternotok");
	CU_ASSERT_STRING_EQUAL(dep_kind_name(99), "?");
}

static void bad(const char *s, const char *want)
{
	struct dep_list l;
	struct mer_error err = {""};

	CU_ASSERT_EQUAL(dep_parse(s, "--dependency", &l, &err), -1);
	CU_ASSERT_EQUAL(l.n, 0);
	CU_ASSERT_PTR_NULL(l.v);
	if (!strstr(err.text, want))
		fprintf(stderr, "\n%s: got \"%s\", wanted \"%s\"\n", s,
			err.text, want);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.text, want));
}

static void test_errors(void)
{
	char big[DEP_TEXT_MAX + 10], *p = big;

	bad("", "--dependency is empty, expected TYPE:JOBID");
	bad("afterfoo:1",
	    "'afterfoo' is not a dependency type, expected after");
	bad("afterok", "afterok names no job, expected afterok:JOBID");
	bad("afterok:", "afterok:'': not a job id");
	bad("afterok:x", "afterok:'x': not a job id");
	bad("afterok:0", "afterok:'0': not a job id");
	bad("afterok:99999999999", "not a job id");
	bad("afterok:5_3", "an array task, and Meridian has no arrays yet");
	bad("afterok:1+5", "+MINUTES is only for after");
	bad("after:1+x", "'x' is not a number of minutes");
	bad("singleton:3", "singleton takes no job id");
	bad("afterok:1,afterok:2?afterok:3", "both ',' and '?'");
	bad("afterok:1,,afterok:2", "an empty dependency");
	bad("afterok:1,", "ends with a separator");
	bad(",afterok:1", "an empty dependency");
	for (int i = 0; i <= DEP_MAX; i++)
		p += sprintf(p, "%s%d", i ? ":" : "afterok:", i + 1);
	bad(big, "more than 128 dependencies");
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	bad(big, "bytes, expected at most 4096");
}

static CU_TestInfo tests[] = {
	{"forms", test_forms},
	{"errors", test_errors},
	CU_TEST_INFO_NULL,
};

CUNIT_MAIN("depend", tests)
