/*
 * test_links.c - the link matrix: a measured pair reads back as measured
 * with its time; an unmeasured one is estimated, its bandwidth from the
 * sender's up and the receiver's down rate and no more than the best
 * measured link between their regions, its latency from the coordinates.
 */
#include "config.h"

#include <math.h>

#include "cunit_main.h"
#include "mctld.h"

#define MS 1e-3

static void test_matrix(void)
{
	/* regions: 0,1,2 in 1; 3,4,5 in 2 */
	static const uint32_t region[6] = {1, 1, 1, 2, 2, 2};
	struct links *l = links_create(6, region);
	struct links_info in;

	/* nothing known yet: estimated, no bandwidth */
	CU_ASSERT_EQUAL(links_get(l, 0, 1, &in), 0);
	CU_ASSERT_FALSE(in.measured);
	CU_ASSERT_EQUAL(in.bw_Bps, 0);
	CU_ASSERT_EQUAL(in.when, 0);

	/* measured reads back as measured */
	CU_ASSERT_EQUAL(links_measured(l, 0, 1, 1 * MS, 1e9, 100), 0);
	CU_ASSERT_EQUAL(links_get(l, 0, 1, &in), 0);
	CU_ASSERT_TRUE(in.measured);
	CU_ASSERT_DOUBLE_EQUAL(in.lat_s, 1 * MS, 1e-12);
	CU_ASSERT_DOUBLE_EQUAL(in.bw_Bps, 1e9, 0);
	CU_ASSERT_EQUAL(in.when, 100);

	/* the other way is not the same link: min(up 1, down 0) */
	links_set_rates(l, 1, 5e8, 9e8);
	links_set_rates(l, 0, 3e8, 2e8);
	CU_ASSERT_EQUAL(links_get(l, 1, 0, &in), 0);
	CU_ASSERT_FALSE(in.measured);
	CU_ASSERT_DOUBLE_EQUAL(in.bw_Bps, 2e8, 0);

	/* across regions: no more than the regions' best measured link */
	links_set_rates(l, 4, 1e9, 1e9);
	CU_ASSERT_EQUAL(links_measured(l, 0, 3, 40 * MS, 1e7, 200), 0);
	CU_ASSERT_EQUAL(links_get(l, 1, 4, &in), 0);
	CU_ASSERT_FALSE(in.measured);
	CU_ASSERT_DOUBLE_EQUAL(in.bw_Bps, 1e7, 0);
	CU_ASSERT_EQUAL(in.when, 200); /* as old as what it rests on */
	/* a slower link between the regions does not lower the cap; the
	 * best one measured slower does, to the next best */
	CU_ASSERT_EQUAL(links_measured(l, 2, 5, 40 * MS, 5e6, 300), 0);
	CU_ASSERT_EQUAL(links_get(l, 1, 4, &in), 0);
	CU_ASSERT_DOUBLE_EQUAL(in.bw_Bps, 1e7, 0);
	CU_ASSERT_EQUAL(links_measured(l, 0, 3, 40 * MS, 1e6, 400), 0);
	CU_ASSERT_EQUAL(links_get(l, 1, 4, &in), 0);
	CU_ASSERT_DOUBLE_EQUAL(in.bw_Bps, 5e6, 0);
	CU_ASSERT_EQUAL(in.when, 300);
	/* but the measured link region 2 -> 1 is another: none yet */
	links_set_rates(l, 3, 4e8, 4e8);
	CU_ASSERT_EQUAL(links_get(l, 3, 1, &in), 0);
	CU_ASSERT_DOUBLE_EQUAL(in.bw_Bps, 4e8, 0);

	/* bad values and pairs are refused */
	CU_ASSERT_EQUAL(links_measured(l, 0, 0, MS, 1e9, 1), -1);
	CU_ASSERT_EQUAL(links_measured(l, 0, 6, MS, 1e9, 1), -1);
	CU_ASSERT_EQUAL(links_measured(l, 0, 2, 0, 1e9, 1), -1);
	CU_ASSERT_EQUAL(links_measured(l, 0, 2, NAN, 1e9, 1), -1);
	CU_ASSERT_EQUAL(links_measured(l, 0, 2, MS, -1, 1), -1);
	CU_ASSERT_EQUAL(links_measured(l, 0, 2, MS, 1e9, 0), -1);
	CU_ASSERT_EQUAL(links_get(l, 2, 2, &in), -1);
	CU_ASSERT_EQUAL(links_get(l, 9, 2, &in), -1);
	links_destroy(l);
	links_destroy(NULL);
}

/* Latency of an unprobed pair from the coordinates: two regions 1 ms
 * inside, 40 ms between, every pair inside probed and one pair across;
 * the others across come out near 40 ms. */
static void test_latency_estimate(void)
{
	static const uint32_t region[8] = {1, 1, 1, 1, 2, 2, 2, 2};
	struct links *l = links_create(8, region);
	struct links_info in;

	for (size_t i = 0; i < 8; i++)
		for (size_t j = 0; j < 8; j++)
			if (i != j && region[i] == region[j])
				links_measured(l, i, j, 1 * MS, 1e9, 10);
	links_measured(l, 0, 4, 40 * MS, 1e7, 10);
	links_measured(l, 4, 0, 40 * MS, 1e7, 10);
	links_measured(l, 1, 5, 40 * MS, 1e7, 10);
	links_measured(l, 5, 1, 40 * MS, 1e7, 10);
	links_refit(l);
	CU_ASSERT_EQUAL(links_get(l, 2, 7, &in), 0);
	CU_ASSERT_FALSE(in.measured);
	printf("\n  2 -> 7 estimated at %.1f ms (40 ms across)\n",
	       in.lat_s / MS);
	CU_ASSERT_TRUE(fabs(in.lat_s - 40 * MS) < 10 * MS);
	CU_ASSERT_EQUAL(links_get(l, 2, 3, &in), 0);
	CU_ASSERT_TRUE(in.measured);
	links_destroy(l);
}

static CU_TestInfo tests[] = {
	{"measured and estimated", test_matrix},
	{"latency from the coordinates", test_latency_estimate},
	CU_TEST_INFO_NULL,
};

CUNIT_MAIN("link matrix", tests)
