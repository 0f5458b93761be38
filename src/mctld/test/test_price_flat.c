/*
 * test_price_flat.c - price/flat: GpuHourPrice= parsing and prices.
 */
#include "config.h"

#include <string.h>
#include <strings.h>

#include "cunit_main.h"
#include "harness.h"
#include "plugin_loader.h"

static const struct mer_price_ops *ops;
static struct plugin_handle *handle;

static const char *get(void *conf, const char *key)
{
	return strcasecmp(key, "GpuHourPrice") == 0 ? conf : NULL;
}

static void load(void)
{
	struct mer_error err = {""};
	const void *o;

	handle = plugin_load(th_plugin_dir(), "PriceType", "price/flat",
			     MER_PLUGIN_PRICE, MER_PRICE_ABI, &o, &err);
	if (!handle)
		fprintf(stderr, "\n  %s\n", err.text);
	CU_ASSERT_PTR_NOT_NULL_FATAL(handle);
	ops = o;
}

static void *init(const char *spec, struct mer_error *err)
{
	struct mer_plugin_conf pc = {get, (void *)spec};

	return ops->init(&pc, err);
}

static int64_t price(void *st, const char *model, uint32_t gpus)
{
	struct mer_price_node n = {"n1", "", model, gpus, 0};
	struct mer_price_market m = {0};
	struct mer_price_request r = {0};
	struct mer_price_query q = {&n, &m, &r, 0};
	struct mer_error err;

	return ops->gpu_hour(st, &q, &err);
}

static void test_prices(void)
{
	struct mer_error err = {""};
	void *st;

	load();
	st = init("a100:2.10, H100:3.5,default:0.5,t4:0.000001", &err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(st);
	CU_ASSERT_EQUAL(price(st, "a100", 2), 2100000);
	CU_ASSERT_EQUAL(price(st, "h100", 8), 3500000);
	CU_ASSERT_EQUAL(price(st, "A100", 1), 2100000);
	CU_ASSERT_EQUAL(price(st, "t4", 1), 1);
	CU_ASSERT_EQUAL(price(st, "v100", 1), 500000);
	CU_ASSERT_EQUAL(price(st, "", 1), 500000);
	CU_ASSERT_EQUAL(price(st, "a100", 0), 0); /* no GPU, no GPU-hour */
	ops->fini(st);

	st = init("a100:2", &err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(st);
	CU_ASSERT_EQUAL(price(st, "a100", 1), 2000000);
	CU_ASSERT_EQUAL(price(st, "v100", 1), 0); /* no default */
	ops->fini(st);

	st = init(NULL, &err); /* unset: everything is free */
	CU_ASSERT_PTR_NOT_NULL_FATAL(st);
	CU_ASSERT_EQUAL(price(st, "a100", 1), 0);
	ops->fini(st);
	plugin_unload(handle);
}

static void expect_bad(const char *spec, const char *part)
{
	struct mer_error err = {""};
	void *st = init(spec, &err);

	CU_ASSERT_PTR_NULL(st);
	if (st)
		ops->fini(st);
	if (!strstr(err.text, part))
		fprintf(stderr, "\n  '%s': got '%s'\n", spec, err.text);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.text, part));
	CU_ASSERT_PTR_NOT_NULL(strstr(err.text, "GpuHourPrice"));
}

static void test_bad(void)
{
	load();
	expect_bad("a100:2.1x", "is not an amount of dollars");
	expect_bad("a100:2.1234567", "is not an amount of dollars");
	expect_bad("a100:-1", "is not an amount of dollars");
	expect_bad("a100", "has no ':'");
	expect_bad(":2", "names no GPU model");
	expect_bad("a100:1,a100:2", "prices a model twice");
	expect_bad("default:1,default:2", "sets the default twice");
	expect_bad("a100:1,,b:2", "is an empty entry");
	expect_bad("a1/00:1", "bad model name");
	expect_bad("a100:99999999999999999", "is not an amount of dollars");
	plugin_unload(handle);
}

static CU_TestInfo tests[] = {
	{"prices", test_prices},
	{"bad GpuHourPrice", test_bad},
	CU_TEST_INFO_NULL,
};

CUNIT_MAIN("price/flat", tests)
