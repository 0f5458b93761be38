/*
 * cunit_main.h - the main() every CUnit test program shares.
 *
 *   static CU_TestInfo tests[] = { { "name", fn }, CU_TEST_INFO_NULL };
 *   CUNIT_MAIN ("hostlist", tests)
 *
 * Runs the suite verbosely and exits non-zero when any assertion failed,
 * so automake's test driver reports FAIL.
 */
#ifndef MER_CUNIT_MAIN_H
#define MER_CUNIT_MAIN_H

#include <CUnit/Basic.h>
#include <CUnit/CUnit.h>

#define CUNIT_MAIN(suite_name, tests)                                          \
	int main(void)                                                         \
	{                                                                      \
		CU_SuiteInfo suites[] = {                                      \
			{ suite_name, NULL, NULL, NULL, NULL, tests },         \
			CU_SUITE_INFO_NULL,                                    \
		};                                                             \
		unsigned failed;                                               \
		if (CU_initialize_registry() != CUE_SUCCESS)                   \
			return 99;                                             \
		if (CU_register_suites(suites) != CUE_SUCCESS)                 \
			return 99;                                             \
		CU_basic_set_mode(CU_BRM_VERBOSE);                             \
		CU_basic_run_tests();                                          \
		failed = CU_get_number_of_failures() +                         \
			 CU_get_number_of_tests_failed();                      \
		CU_cleanup_registry();                                         \
		return failed ? 1 : 0;                                         \
	}

#endif
