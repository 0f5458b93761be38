/*
 * test_rxmeter.c - a probe receiver's rate on made-up timelines: a steady
 * link, a sender that stalls (the rate holds), a receiver that stalls
 * and reads late (no more than the link carried), a link that slows for
 * good (the mean, not its fast start), a phase over in its warm-up, and
 * reads long past the duration.
 */
#include "config.h"

#include <CUnit/CUnit.h>

#include "cunit_main.h"
#include "rxmeter.h"

#define MS	 1000000ull /* ns */
#define DUR_MS	 1500u
#define MAXB	 (1ull << 30)
#define PER_MS	 6000ull /* bytes: 48 Mbit/s */
#define RATE_BPS (PER_MS * 8 * 1000)

/* Reads of per_ms bytes once a millisecond over [from, to) ms. */
static void flow(struct rx_meter *m, unsigned from, unsigned to,
		 uint64_t per_ms)
{
	for (unsigned t = from; t < to; t++)
		rxm_add(m, per_ms, (uint64_t)t * MS + 1);
}

static uint64_t rate_of(const struct rx_meter *m)
{
	uint64_t bytes, us;

	rxm_result(m, &bytes, &us);
	return rxm_rate_bps(bytes, us);
}

#define CU_ASSERT_NEAR(v, want, pct)                                           \
	CU_ASSERT((double)(v) >= (double)(want) * (1 - (pct) / 100.0) &&       \
		  (double)(v) <= (double)(want) * (1 + (pct) / 100.0))

static void test_steady(void)
{
	struct rx_meter m;

	rxm_init(&m, DUR_MS, MAXB);
	flow(&m, 0, DUR_MS, PER_MS);
	CU_ASSERT_NEAR(rate_of(&m), RATE_BPS, 1);
	CU_ASSERT_EQUAL(m.total, DUR_MS * PER_MS);
}

/* 360 ms of nothing in the middle: the mean is ~68% of the link, the
 * median slice's rate the link's. */
static void test_sender_stall(void)
{
	struct rx_meter m;
	uint64_t bytes, us;

	rxm_init(&m, DUR_MS, MAXB);
	flow(&m, 0, 600, PER_MS);
	flow(&m, 960, DUR_MS, PER_MS);
	rxm_result(&m, &bytes, &us);
	CU_ASSERT_NEAR(rxm_rate_bps(bytes, us), RATE_BPS, 2);
	/* the bytes are the ones counted, only the window is the steady
	 * rate's */
	CU_ASSERT_EQUAL(bytes, m.counted);
}

/* The receiver reads nothing for 400 ms, then all that waited in its
 * socket at once: the mean is right, and the one big slice does not
 * raise it. */
static void test_receiver_stall(void)
{
	struct rx_meter m;

	rxm_init(&m, DUR_MS, MAXB);
	flow(&m, 0, 600, PER_MS);
	rxm_add(&m, 400 * PER_MS, 1000 * MS + 1);
	flow(&m, 1001, DUR_MS, PER_MS);
	CU_ASSERT_NEAR(rate_of(&m), RATE_BPS, 2);
}

/* Fast for the first slices after the warm-up, then half as fast to the
 * end: the link's rate is not its start. */
static void test_slows_for_good(void)
{
	struct rx_meter m;
	uint64_t r;

	rxm_init(&m, DUR_MS, MAXB);
	flow(&m, 0, 700, PER_MS);
	flow(&m, 700, DUR_MS, PER_MS / 2);
	r = rate_of(&m);
	CU_ASSERT(r < RATE_BPS * 3 / 4);
	CU_ASSERT(r > RATE_BPS / 2);
}

/* max_bytes comes in the warm-up: measured from the first read. */
static void test_short_phase(void)
{
	struct rx_meter m;
	uint64_t bytes, us;

	rxm_init(&m, DUR_MS, 100 * PER_MS);
	flow(&m, 0, 20, PER_MS);
	rxm_result(&m, &bytes, &us);
	CU_ASSERT_EQUAL(bytes, 19 * PER_MS);
	CU_ASSERT_NEAR(rxm_rate_bps(bytes, us), RATE_BPS, 1);

	rxm_init(&m, DUR_MS, MAXB);
	rxm_add(&m, 5000, MS);
	rxm_add(&m, 0, 2 * MS);
	rxm_result(&m, &bytes, &us);
	CU_ASSERT_EQUAL(bytes, 0);
	CU_ASSERT_EQUAL(us, 0);
	CU_ASSERT_EQUAL(rxm_rate_bps(bytes, us), 0);
}

/* Reads go on well past the duration (an up phase draining): counted,
 * and nothing is written past the slices. */
static void test_past_duration(void)
{
	struct rx_meter m;

	rxm_init(&m, DUR_MS, MAXB);
	flow(&m, 0, 10 * DUR_MS, PER_MS);
	CU_ASSERT_NEAR(rate_of(&m), RATE_BPS, 1);
	CU_ASSERT_EQUAL(m.total, 10ull * DUR_MS * PER_MS);
}

static CU_TestInfo tests[] = {
	{"a steady link", test_steady},
	{"a sender that stalls", test_sender_stall},
	{"a receiver that stalls", test_receiver_stall},
	{"a link that slows for good", test_slows_for_good},
	{"a phase over in its warm-up", test_short_phase},
	{"reads past the duration", test_past_duration},
	CU_TEST_INFO_NULL,
};

CUNIT_MAIN("rxmeter", tests)
