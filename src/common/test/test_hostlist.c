/*
 * test_hostlist.c - hostlist expansion, compression and their round trip.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <errno.h>

#include "cunit_main.h"
#include "hostlist.h"
#include "util.h"

/* Expand expr and compare with the space-separated names in want. */
static void expect_expand(const char *expr, const char *want)
{
	struct mer_error e = {{0}};
	char **names, *w = strdup(want), *save = NULL, *tok;
	size_t n, i = 0;

	CU_ASSERT_EQUAL_FATAL(hostlist_expand(expr, &names, &n, &e), 0);
	for (tok = strtok_r(w, " ", &save); tok;
	     tok = strtok_r(NULL, " ", &save), i++) {
		CU_ASSERT_FATAL(i < n);
		CU_ASSERT_STRING_EQUAL(names[i], tok);
	}
	CU_ASSERT_EQUAL(i, n);
	hostlist_free(names, n);
	free(w);
}

static void expect_error(const char *expr, const char *text)
{
	struct mer_error e = {{0}};
	char **names = (char **)&e;
	size_t n = 99;

	CU_ASSERT_EQUAL(hostlist_expand(expr, &names, &n, &e), -1);
	CU_ASSERT_PTR_NULL(names);
	CU_ASSERT_EQUAL(n, 0);
	if (strcmp(e.text, text) != 0)
		fprintf(stderr, "\n  %s: got '%s'\n  want '%s'\n", expr, e.text,
			text);
	CU_ASSERT_STRING_EQUAL(e.text, text);
}

static void test_expand_simple(void)
{
	expect_expand("n1", "n1");
	expect_expand("n1,n2,login", "n1 n2 login");
	expect_expand("n[1-3]", "n1 n2 n3");
	expect_expand("n[1-3,5]", "n1 n2 n3 n5");
	expect_expand("n[1,3-4,10]", "n1 n3 n4 n10");
	expect_expand("n[7]", "n7");
	expect_expand("[1-2]", "1 2");
	expect_expand("n[1-2]-ib", "n1-ib n2-ib");
	expect_expand("gpu[1-2],cpu[1-2]", "gpu1 gpu2 cpu1 cpu2");
	expect_expand("127.0.0.1", "127.0.0.1");
	expect_expand("10.0.0.[1-3]", "10.0.0.1 10.0.0.2 10.0.0.3");
	/* Duplicates are kept in order. */
	expect_expand("n1,n1,n[1-2]", "n1 n1 n1 n2");
}

static void test_expand_padding(void)
{
	expect_expand("gpu[01-03]", "gpu01 gpu02 gpu03");
	expect_expand("gpu[08-11]", "gpu08 gpu09 gpu10 gpu11");
	expect_expand("gpu[098-101]", "gpu098 gpu099 gpu100 gpu101");
	/* Width is that of the low number, as in Slurm. */
	expect_expand("n[8-10]", "n8 n9 n10");
	expect_expand("n[9-010]", "n9 n10");
	expect_expand("n[001,2,03]", "n001 n2 n03");
	expect_expand("n[0-1]", "n0 n1");
	expect_expand("n[00-01]", "n00 n01");
}

static void test_expand_product(void)
{
	expect_expand("r[1-2]n[1-3]", "r1n1 r1n2 r1n3 r2n1 r2n2 r2n3");
	expect_expand("rack[1,3]-gpu[01-02]",
		      "rack1-gpu01 rack1-gpu02 rack3-gpu01 rack3-gpu02");
	expect_expand(
		"a[1-2]b[1-2]c[1-2]",
		"a1b1c1 a1b1c2 a1b2c1 a1b2c2 a2b1c1 a2b1c2 a2b2c1 a2b2c2");
	expect_expand("x,r[1-2]n[1-2],y", "x r1n1 r1n2 r2n1 r2n2 y");
}

static void test_expand_empty(void)
{
	char **names;
	size_t n = 5;
	struct mer_error e;

	CU_ASSERT_EQUAL(hostlist_expand("", &names, &n, &e), 0);
	CU_ASSERT_EQUAL(n, 0);
	CU_ASSERT_PTR_NULL(names);
	hostlist_free(names, n);
}

static void test_expand_bad(void)
{
	expect_error("gpu[3-1]", "gpu[3-1]: range goes down, expected LOW-HIGH "
				 "with LOW <= HIGH");
	expect_error("gpu[1-", "gpu[1-: '[' is not closed, expected "
			       "NAME[LOW-HIGH,...]");
	expect_error("gpu[a-b]", "gpu[a-b]: expected NAME[LOW-HIGH,...] with "
				 "decimal numbers, such as gpu[01-16]");
	expect_error("gpu[]", "gpu[]: empty brackets, expected NAME[LOW-HIGH,"
			      "...] such as gpu[01-16]");
	expect_error("gpu1]", "gpu1]: ']' without '[', expected "
			      "NAME[LOW-HIGH,...]");
	expect_error("gpu[1[2]]", "gpu[1[2]]: '[' inside '[', expected "
				  "NAME[LOW-HIGH,...]");
	expect_error("n1,,n2", "n1,,n2: empty name, expected names separated "
			       "by single commas");
	expect_error("n1,", "n1,: empty name, expected names separated by "
			    "single commas");
	expect_error(",n1", ",n1: empty name, expected names separated by "
			    "single commas");
	expect_error("n[1,]", "n[1,]: expected NAME[LOW-HIGH,...] with decimal "
			      "numbers, such as gpu[01-16]");
	expect_error("n[1-2-3]", "n[1-2-3]: expected NAME[LOW-HIGH,...] with "
				 "decimal numbers, such as gpu[01-16]");
	expect_error("n[-3]", "n[-3]: expected NAME[LOW-HIGH,...] with decimal "
			      "numbers, such as gpu[01-16]");
	expect_error("n 1", "n 1: a host name holds no spaces or control "
			    "characters");
	expect_error("n[1234567890]", "n[1234567890]: number too long, "
				      "expected at most 9 digits");
	/* A bad element is named alone, not the whole list. */
	expect_error("ok1,ok[2-3],bad[9-1]", "bad[9-1]: range goes down, "
					     "expected LOW-HIGH with LOW <= "
					     "HIGH");
}

static void test_expand_too_many(void)
{
	char **names;
	size_t n;
	struct mer_error e;

	/* Exactly the limit is fine. */
	CU_ASSERT_EQUAL(hostlist_expand("n[1-65536]", &names, &n, &e), 0);
	CU_ASSERT_EQUAL(n, HOSTLIST_MAX);
	CU_ASSERT_STRING_EQUAL(names[65535], "n65536");
	hostlist_free(names, n);

	expect_error("n[1-65537]", "n[1-65537]: hostlist expands to more "
				   "than 65536 names, expected a smaller "
				   "range");
	expect_error("n[0-999999999]", "n[0-999999999]: hostlist expands to "
				       "more than 65536 names, expected a "
				       "smaller range");
	/* A product that is too large fails before anything is built. */
	expect_error("a[1-1000]b[1-1000]", "a[1-1000]b[1-1000]: hostlist "
					   "expands to more than 65536 names, "
					   "expected a smaller range");
	/* So does a list whose parts are fine alone. */
	expect_error("a[1-40000],b[1-40000]",
		     "a[1-40000],b[1-40000]: hostlist expands to more than "
		     "65536 names, expected a shorter list");
}

/* What a hostile request sent as NODE_INFO names: each is refused at
 * once, with nothing built, whatever its size. */
static void test_expand_hostile(void)
{
	struct mer_error e = {{0}};
	struct strbuf b = {0};
	char **names = NULL, *want;
	size_t n = 0, i;

	/* 'A' and a million "[1]" groups: used to overflow stack arrays. */
	strbuf_add(&b, "A", 1);
	for (i = 0; i < 1000000; i++)
		strbuf_add(&b, "[1]", 3);
	CU_ASSERT_EQUAL(hostlist_expand(b.s, &names, &n, &e), -1);
	CU_ASSERT_EQUAL(errno, E2BIG);
	CU_ASSERT_PTR_NOT_NULL(strstr(e.text, "more than 16 bracket groups "
					      "in one name"));
	CU_ASSERT_EQUAL(n, 0);
	b.len = 0;

	/* A 50 KB name times [1-65536]: used to build 3.2 GB. */
	for (i = 0; i < 50000; i++)
		strbuf_addc(&b, 'x');
	strbuf_add(&b, "[1-65536]", 9);
	CU_ASSERT_EQUAL(hostlist_expand(b.s, &names, &n, &e), -1);
	CU_ASSERT_EQUAL(errno, E2BIG);
	CU_ASSERT_PTR_NOT_NULL(strstr(e.text, "a host name longer than 255 "
					      "characters"));
	b.len = 0;

	/* Names within the name limit whose bytes together are too many. */
	for (i = 0; i < 200; i++)
		strbuf_addc(&b, 'x');
	strbuf_add(&b, "[1-40000]", 9);
	expect_error(b.s, "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
			  "...: hostlist expands to more than 4194304 bytes, "
			  "expected a shorter list");
	b.len = 0;

	/* The limits themselves are fine. */
	for (i = 0; i < 250; i++)
		strbuf_addc(&b, 'y');
	strbuf_add(&b, "[10000-10009]", 13);
	CU_ASSERT_EQUAL_FATAL(hostlist_expand(b.s, &names, &n, &e), 0);
	CU_ASSERT_EQUAL(n, 10);
	CU_ASSERT_EQUAL(strlen(names[9]), 255);
	hostlist_free(names, n);
	b.len = 0;
	strbuf_add(&b, "n", 1);
	for (i = 0; i < HOSTLIST_MAX_GROUPS; i++)
		strbuf_add(&b, "[1-2]", 5);
	CU_ASSERT_EQUAL_FATAL(hostlist_expand(b.s, &names, &n, &e), 0);
	CU_ASSERT_EQUAL(n, 65536);
	want = xasprintf("n%s", "2222222222222222");
	CU_ASSERT_STRING_EQUAL(names[n - 1], want);
	free(want);
	hostlist_free(names, n);
	strbuf_add(&b, "[1]", 3);
	CU_ASSERT_EQUAL(hostlist_expand(b.s, &names, &n, &e), -1);
	strbuf_free(&b);
}

/* Compress names (space separated), check the result, expand it back. */
static void expect_compress(const char *list, const char *want)
{
	char *w = strdup(list), *save = NULL, *tok, **names = NULL, *c;
	size_t n = 0;

	for (tok = strtok_r(w, " ", &save); tok;
	     tok = strtok_r(NULL, " ", &save)) {
		names = realloc(names, (n + 1) * sizeof(*names));
		names[n++] = tok;
	}
	c = hostlist_compress(names, n);
	if (strcmp(c, want) != 0)
		fprintf(stderr, "\n  compress '%s': got '%s' want '%s'\n", list,
			c, want);
	CU_ASSERT_STRING_EQUAL(c, want);
	expect_expand(c, list);
	free(c);
	free(names);
	free(w);
}

static void test_compress(void)
{
	char *c = hostlist_compress(NULL, 0);

	CU_ASSERT_STRING_EQUAL(c, "");
	free(c);
	expect_compress("n1", "n1");
	expect_compress("n1 n2 n3 x", "n[1-3],x");
	expect_compress("n1 n2 n3 n5", "n[1-3,5]");
	expect_compress("gpu01 gpu02 gpu03", "gpu[01-03]");
	expect_compress("gpu08 gpu09 gpu10 gpu11", "gpu[08-11]");
	expect_compress("n8 n9 n10 n11", "n[8-11]");
	expect_compress("n9 n10", "n[9-10]");
	/* Different widths of one number do not merge. */
	expect_compress("n1 n01 n001", "n[1,01,001]");
	expect_compress("n7 n08", "n[7,08]");
	expect_compress("n099 n100", "n[099-100]");
	/* Given order is kept; consecutive runs merge. */
	expect_compress("n3 n1 n2", "n[3,1-2]");
	expect_compress("n1 x n2", "n1,x,n2");
	expect_compress("a1 a2 b1 b2 a3", "a[1-2],b[1-2],a3");
	expect_compress("login", "login");
	expect_compress("login head", "login,head");
	expect_compress("1 2 3", "[1-3]");
	expect_compress("10.0.0.1 10.0.0.2", "10.0.0.[1-2]");
	expect_compress("n1 n1", "n[1,1]");
	expect_compress("r1n1 r1n2 r2n1", "r1n[1-2],r2n1");
	expect_compress("a1b b1", "a1b,b1");
}

static void test_round_trip(void)
{
	static const char *const exprs[] = {
		"gpu[01-16]",	      "n[1-3,5,7-9],login,head[00-02]",
		"r[1-3]n[08-11]",     "a[1-2]b[1-2]c[1-2]",
		"n[9-12],n[098-101]", "x1,x3,x2,x10,x010",
		"n[0-4095]",
	};

	for (size_t i = 0; i < sizeof(exprs) / sizeof(exprs[0]); i++) {
		struct mer_error e;
		char **a, **b, *c;
		size_t na, nb;

		CU_ASSERT_EQUAL_FATAL(hostlist_expand(exprs[i], &a, &na, &e),
				      0);
		c = hostlist_compress(a, na);
		CU_ASSERT_EQUAL_FATAL(hostlist_expand(c, &b, &nb, &e), 0);
		CU_ASSERT_EQUAL(na, nb);
		for (size_t k = 0; k < na && k < nb; k++)
			CU_ASSERT_STRING_EQUAL(a[k], b[k]);
		/* compress of a compress result is stable */
		{
			char *c2 = hostlist_compress(b, nb);
			CU_ASSERT_STRING_EQUAL(c, c2);
			free(c2);
		}
		free(c);
		hostlist_free(a, na);
		hostlist_free(b, nb);
	}
	{
		struct mer_error e;
		char **a;
		size_t na;
		char *c;

		CU_ASSERT_EQUAL(hostlist_expand("gpu[01-16]", &a, &na, &e), 0);
		c = hostlist_compress(a, na);
		CU_ASSERT_STRING_EQUAL(c, "gpu[01-16]");
		free(c);
		hostlist_free(a, na);
	}
}

static CU_TestInfo tests[] = {
	{"expand simple", test_expand_simple},
	{"expand zero padding", test_expand_padding},
	{"expand cartesian product", test_expand_product},
	{"expand empty", test_expand_empty},
	{"expand bad input", test_expand_bad},
	{"expand too many names", test_expand_too_many},
	{"expand hostile input", test_expand_hostile},
	{"compress", test_compress},
	{"round trip", test_round_trip},
	CU_TEST_INFO_NULL,
};

CUNIT_MAIN("hostlist", tests)
