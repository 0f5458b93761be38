/*
 * cunit_main.h - the main() every CUnit test program shares, and skips.
 *
 *   static CU_TestInfo tests[] = { { "name", fn }, CU_TEST_INFO_NULL };
 *   CUNIT_MAIN ("hostlist", tests)
 *
 * Runs the suite verbosely and exits as automake's test driver reads it:
 * 1 (FAIL) when any assertion failed, else 77 (SKIP) when any test called
 * cunit_skip(), else 0.  A failure wins over a skip.  A program that
 * needs its own main() (to run itself again, say) calls cunit_run().
 *
 * A test that cannot run here calls cunit_skip() and returns:
 *
 *   if (geteuid() != 0) {
 *           cunit_skip("mstepd switches users only as root");
 *           return;
 *   }
 *
 * It prints one line "SKIP: <test>: <why>", which testsuite/skip-driver
 * shows under automake's "SKIP: <program>" line and contrib/run-tests.sh
 * reads.  Say what is missing and, where it helps, how to get it.  A test
 * that needs a GPU says "needs a GPU" in <why>: run-tests.sh allows that
 * skip, and no other.
 *
 * The usual reasons have their helpers, which skip with the same words
 * everywhere and return false when the test cannot run:
 *
 *   if (!cunit_need_root_and_user("mstepd runs ranks as another user "
 *                                 "only as root", NULL))
 *           return;
 *
 * Include this header from the one file of a program that holds its
 * CUNIT_MAIN or cunit_run() call: the skip count lives in that file.
 * Paths of programs and fixtures: test_util.h.
 */
#ifndef MER_CUNIT_MAIN_H
#define MER_CUNIT_MAIN_H

#include <pwd.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <unistd.h>

#include <CUnit/Basic.h>
#include <CUnit/CUnit.h>

/* The test program's one mutable global: CUnit has no notion of a skip,
 * so the tests that skipped are counted beside it, for cunit_run(). */
static struct {
	unsigned tests; /* that called cunit_skip() */
	CU_pTest last;	/* the last of them */
} cunit_skipped __attribute__((unused));

/* Record that the running test cannot run here and print why.  The test
 * then returns; its assertions so far still count. */
static inline void cunit_skip(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));
static inline void cunit_skip(const char *fmt, ...)
{
	CU_pTest t = CU_get_current_test();
	va_list ap;

	if (!t || t != cunit_skipped.last)
		cunit_skipped.tests++;
	cunit_skipped.last = t;
	/* CUnit is mid-line ("  Test: name ..."): the reason gets its own */
	printf("\nSKIP: %s: ", t && t->pName ? t->pName : "?");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

/* The unprivileged user the tests run jobs as: testsuite/integration/lib.sh
 * and contrib/setup-debian.sh create it. */
#define CUNIT_TEST_USER "mertest"

/* true when running as root, else cunit_skip("needs root: WHY") and
 * false.  why says what needs root. */
static inline bool cunit_need_root(const char *why)
{
	if (geteuid() == 0)
		return true;
	cunit_skip("needs root: %s", why);
	return false;
}

/* cunit_need_root(), and true only when the user exists (user NULL:
 * CUNIT_TEST_USER), else a skip naming the user and how to get it. */
static inline bool cunit_need_root_and_user(const char *why, const char *user)
{
	if (!cunit_need_root(why))
		return false;
	if (!user)
		user = CUNIT_TEST_USER;
	if (getpwnam(user))
		return true;
	cunit_skip("needs the user %s (testsuite/integration/lib.sh and "
		   "contrib/setup-debian.sh create it)",
		   user);
	return false;
}

/* Run tests as one suite; the exit status for automake (see above). */
static inline int cunit_run(const char *suite_name, CU_TestInfo *tests)
{
	CU_SuiteInfo suites[] = {
		{suite_name, NULL, NULL, NULL, NULL, tests},
		CU_SUITE_INFO_NULL,
	};
	unsigned failed, ran;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 99;
	if (CU_register_suites(suites) != CUE_SUCCESS)
		return 99;
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
	ran = CU_get_number_of_tests_run();
	CU_cleanup_registry();
	if (failed)
		return 1;
	if (cunit_skipped.tests) {
		/* not "SKIP:", which marks a reason line */
		printf("%u of %u tests skipped: exit 77, reported as SKIP\n",
		       cunit_skipped.tests, ran);
		return 77;
	}
	return 0;
}

#define CUNIT_MAIN(suite_name, tests)                                          \
	int main(void)                                                         \
	{                                                                      \
		return cunit_run(suite_name, tests);                           \
	}

#endif
