/*
 * test_util.h - where a unit test finds the build tree, the source tree,
 * its fixtures and the programs it runs.
 *
 * `make check` exports MERIDIAN_BUILDDIR and MERIDIAN_SRCDIR (Makefile.am's
 * AM_TESTS_ENVIRONMENT); a program run by hand falls back on TEST_BUILDDIR
 * and TEST_SRCDIR when its Makefile.inc compiles them in
 * (-DTEST_SRCDIR='"$(abs_top_srcdir)"'), else on ".".
 *
 *   char *p = test_fixture_path("topo/vm-2numa-2pu-gpu2.xml");
 *   ... free(p);
 *
 * Every *_path() returns a malloc'd string the caller frees; the *dir()
 * strings are the environment's or static.  No state is kept, so any file
 * of a test program may include this (cunit_main.h, with its skip count,
 * only the one that holds main()); the skips for root and the test user
 * are cunit_main.h's cunit_need_root() and cunit_need_root_and_user().
 */
#ifndef MER_TEST_UTIL_H
#define MER_TEST_UTIL_H

#include <stdlib.h>

#include "util.h"

/* The top of the build tree. */
static inline const char *test_builddir(void)
{
	const char *b = getenv("MERIDIAN_BUILDDIR");

	if (b && *b)
		return b;
#ifdef TEST_BUILDDIR
	return TEST_BUILDDIR;
#else
	return ".";
#endif
}

/* The top of the source tree (which is not the build tree's in a VPATH
 * build or `make distcheck`). */
static inline const char *test_srcdir(void)
{
	const char *s = getenv("MERIDIAN_SRCDIR");

	if (s && *s)
		return s;
#ifdef TEST_SRCDIR
	return TEST_SRCDIR;
#else
	return ".";
#endif
}

/* A built program or test program, by its path in the build tree:
 * test_build_path("src/mstepd/mstepd"), "plugins/.libs". */
static inline char *test_build_path(const char *rel)
{
	return xasprintf("%s/%s", test_builddir(), rel);
}

/* A file of the source tree: test_src_path("etc/meridian.conf.example"). */
static inline char *test_src_path(const char *rel)
{
	return xasprintf("%s/%s", test_srcdir(), rel);
}

/* A fixture of testsuite/fixtures: test_fixture_path("topo/x.xml");
 * test_fixture_path("") is the directory itself. */
static inline char *test_fixture_path(const char *rel)
{
	if (!*rel)
		return xasprintf("%s/testsuite/fixtures", test_srcdir());
	return xasprintf("%s/testsuite/fixtures/%s", test_srcdir(), rel);
}

/*
 * The project's shared reference data (real hwloc exports, ...), which sit
 * beside the source tree, not in it: $MERIDIAN_SHARED_FIXTURES/rel, else
 * SRCDIR/../shared/fixtures/rel.  A `make distcheck` tree has none: a test
 * that needs one skips when access(path, R_OK) fails.
 */
static inline char *test_shared_fixture_path(const char *rel)
{
	const char *shared = getenv("MERIDIAN_SHARED_FIXTURES");

	if (shared && *shared)
		return xasprintf("%s/%s", shared, rel);
	return xasprintf("%s/../shared/fixtures/%s", test_srcdir(), rel);
}

#endif
