/*
 * test_parse.c - the value forms: times, sizes, numbers, money, gres.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cunit_main.h"
#include "parse.h"

static uint32_t minutes_of(const char *s)
{
	struct mer_error e = {{0}};
	uint32_t m = 12345;

	CU_ASSERT_EQUAL_FATAL(parse_time_minutes(s, "--time", &m, &e), 0);
	return m;
}

static void test_time_forms(void)
{
	/* Every form Slurm accepts. */
	CU_ASSERT_EQUAL(minutes_of("30"), 30); /* MINUTES */
	CU_ASSERT_EQUAL(minutes_of("0"), 0);
	CU_ASSERT_EQUAL(minutes_of("90"), 90);
	CU_ASSERT_EQUAL(minutes_of("5:00"), 5); /* MM:SS */
	CU_ASSERT_EQUAL(minutes_of("5:01"), 6); /* seconds round up */
	CU_ASSERT_EQUAL(minutes_of("0:01"), 1);
	CU_ASSERT_EQUAL(minutes_of("1:00:00"), 60); /* HH:MM:SS */
	CU_ASSERT_EQUAL(minutes_of("01:30:00"), 90);
	CU_ASSERT_EQUAL(minutes_of("48:00:00"), 2880);
	CU_ASSERT_EQUAL(minutes_of("1:02:03"), 63);
	CU_ASSERT_EQUAL(minutes_of("2-0"), 2880); /* D-HH */
	CU_ASSERT_EQUAL(minutes_of("1-12"), 2160);
	CU_ASSERT_EQUAL(minutes_of("1-00:30"), 1470);	 /* D-HH:MM */
	CU_ASSERT_EQUAL(minutes_of("1-00:00:00"), 1440); /* D-HH:MM:SS */
	CU_ASSERT_EQUAL(minutes_of("0-00:00:01"), 1);
	CU_ASSERT_EQUAL(minutes_of("7-23:59:59"), 7 * 1440 + 23 * 60 + 60);
	CU_ASSERT_EQUAL(minutes_of("UNLIMITED"), 0);
	CU_ASSERT_EQUAL(minutes_of("unlimited"), 0);
	CU_ASSERT_EQUAL(minutes_of("INFINITE"), 0);
}

static void test_time_bad(void)
{
	static const char *const bad[] = {
		"",
		"abc",
		"-1",
		"1-",
		"-5",
		"1:",
		":30",
		"1:2:3:4",
		"1:60",
		"1:00:60",
		"1:60:00",
		"1-24",
		"1-1:60",
		"1-1:1:60",
		"5m",
		"1.5",
		" 5",
		"5 ",
		"1--2",
		"1-2-3",
		"99999999999",
		"4294967296",
		"3000000-00:00:00",
	};
	struct mer_error e;
	uint32_t m;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&e, 0, sizeof(e));
		m = 7;
		CU_ASSERT_EQUAL(parse_time_minutes(bad[i], "--time", &m, &e),
				-1);
		CU_ASSERT_EQUAL(m, 7);
		/* names the option and the value, then the expected form */
		CU_ASSERT_PTR_NOT_NULL(strstr(e.text, "--time"));
		CU_ASSERT_PTR_NOT_NULL(strstr(e.text, "expected"));
	}
	parse_time_minutes("abc", "MaxTime", &m, &e);
	CU_ASSERT_STRING_EQUAL(
		e.text, "MaxTime=abc: expected a time as MINUTES, MM:SS, "
			"HH:MM:SS, D-HH, D-HH:MM, D-HH:MM:SS or "
			"UNLIMITED");
	/* A NULL error is allowed. */
	CU_ASSERT_EQUAL(parse_time_minutes("x", "t", &m, NULL), -1);
}

static void test_time_format(void)
{
	char buf[32];

	format_time_minutes(0, buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, "UNLIMITED");
	format_time_minutes(30, buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, "00:30:00");
	format_time_minutes(1440, buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, "1-00:00:00");
	format_time_minutes(1440 + 2 * 60 + 3, buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, "1-02:03:00");
	format_time_minutes(UINT32_MAX, buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, "2982616-04:15:00");
	/* What is printed parses back to the same minutes. */
	for (uint32_t m = 1; m < 5000; m += 37) {
		format_time_minutes(m, buf, sizeof(buf));
		CU_ASSERT_EQUAL(minutes_of(buf), m);
	}

	format_duration(0, buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, "0:00");
	format_duration(5, buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, "0:05");
	format_duration(65, buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, "1:05");
	format_duration(3723, buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, "1:02:03");
	format_duration(2 * 86400 + 3600, buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, "2-01:00:00");
	format_duration(-5, buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, "0:00");
	/* A short buffer is cut, never overrun. */
	format_duration(2 * 86400, buf, 4);
	CU_ASSERT_STRING_EQUAL(buf, "2-0");
}

static void test_timestamp(void)
{
	char buf[64], expect[64];
	struct tm tm;
	time_t t = 1700000000;

	format_timestamp(0, buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, "Unknown");
	localtime_r(&t, &tm);
	strftime(expect, sizeof(expect), "%Y-%m-%dT%H:%M:%S", &tm);
	format_timestamp(t, buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, expect);
	CU_ASSERT_EQUAL(strlen(buf), 19);
	CU_ASSERT_EQUAL(buf[10], 'T');
}

static uint64_t mb_of(const char *s)
{
	struct mer_error e;
	uint64_t mb = 0;

	CU_ASSERT_EQUAL_FATAL(parse_size_mb(s, "--mem", &mb, &e), 0);
	return mb;
}

static void test_sizes(void)
{
	static const char *const bad[] = {
		"",
		"G",
		"4GiB",
		"4BG",
		"4GBB",
		"4 G",
		"-4G",
		"4X",
		"1.5G",
		"0x10",
		"99999999999999999999",
		"20000000T",
	};
	struct mer_error e;
	uint64_t mb = 9;

	CU_ASSERT_EQUAL(mb_of("4096"), 4096);
	CU_ASSERT_EQUAL(mb_of("0"), 0);
	CU_ASSERT_EQUAL(mb_of("500M"), 500);
	CU_ASSERT_EQUAL(mb_of("500m"), 500);
	CU_ASSERT_EQUAL(mb_of("4G"), 4096);
	CU_ASSERT_EQUAL(mb_of("4g"), 4096);
	CU_ASSERT_EQUAL(mb_of("1T"), 1048576);
	CU_ASSERT_EQUAL(mb_of("2048K"), 2);
	CU_ASSERT_EQUAL(mb_of("2049K"), 3); /* K rounds up */
	CU_ASSERT_EQUAL(mb_of("1K"), 1);
	CU_ASSERT_EQUAL(mb_of("0K"), 0);
	/* as scripts write them for sbatch */
	CU_ASSERT_EQUAL(mb_of("4GB"), 4096);
	CU_ASSERT_EQUAL(mb_of("1gb"), 1024);
	CU_ASSERT_EQUAL(mb_of("500mb"), 500);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&e, 0, sizeof(e));
		CU_ASSERT_EQUAL(parse_size_mb(bad[i], "--mem", &mb, &e), -1);
		CU_ASSERT_EQUAL(strncmp(e.text, "--mem=", 6), 0);
		CU_ASSERT_PTR_NOT_NULL(strstr(e.text, "expected"));
	}
	CU_ASSERT_EQUAL(mb, 9);
	parse_size_mb("4GiB", "RealMemory", &mb, &e);
	CU_ASSERT_STRING_EQUAL(
		e.text, "RealMemory=4GiB: expected a size in MiB or with "
			"a K, M, G or T suffix, such as 4096, 500M or "
			"4G");
}

static void test_u32(void)
{
	struct mer_error e;
	uint32_t v = 0;

	CU_ASSERT_EQUAL(parse_u32("1", "CPUs", 1, 4096, &v, &e), 0);
	CU_ASSERT_EQUAL(v, 1);
	CU_ASSERT_EQUAL(parse_u32("4096", "CPUs", 1, 4096, &v, &e), 0);
	CU_ASSERT_EQUAL(v, 4096);
	CU_ASSERT_EQUAL(parse_u32("4294967295", "X", 0, UINT32_MAX, &v, &e), 0);
	CU_ASSERT_EQUAL(v, UINT32_MAX);
	v = 5;
	CU_ASSERT_EQUAL(parse_u32("abc", "CPUs", 1, 4096, &v, &e), -1);
	CU_ASSERT_STRING_EQUAL(e.text,
			       "CPUs=abc: expected a whole number from 1 to "
			       "4096");
	CU_ASSERT_EQUAL(parse_u32("0", "CPUs", 1, 4096, &v, &e), -1);
	CU_ASSERT_EQUAL(parse_u32("4097", "CPUs", 1, 4096, &v, &e), -1);
	CU_ASSERT_EQUAL(parse_u32("", "CPUs", 1, 4096, &v, &e), -1);
	CU_ASSERT_EQUAL(parse_u32("-1", "CPUs", 0, 4096, &v, &e), -1);
	CU_ASSERT_EQUAL(parse_u32("+1", "CPUs", 0, 4096, &v, &e), -1);
	CU_ASSERT_EQUAL(parse_u32(" 1", "CPUs", 0, 4096, &v, &e), -1);
	CU_ASSERT_EQUAL(parse_u32("1 ", "CPUs", 0, 4096, &v, &e), -1);
	CU_ASSERT_EQUAL(parse_u32("4294967296", "X", 0, UINT32_MAX, &v, &e),
			-1);
	CU_ASSERT_EQUAL(
		parse_u32("99999999999999999999", "X", 0, UINT32_MAX, &v, &e),
		-1);
	CU_ASSERT_EQUAL(v, 5);
}

static void test_bool(void)
{
	static const char *const yes[] = {"YES", "yes", "TRUE", "true", "1"};
	static const char *const no[] = {"NO", "no", "False", "0"};
	struct mer_error e;
	bool b;

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		b = false;
		CU_ASSERT_EQUAL(parse_bool(yes[i], "Default", &b, &e), 0);
		CU_ASSERT_TRUE(b);
	}
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
		b = true;
		CU_ASSERT_EQUAL(parse_bool(no[i], "Default", &b, &e), 0);
		CU_ASSERT_FALSE(b);
	}
	CU_ASSERT_EQUAL(parse_bool("maybe", "Default", &b, &e), -1);
	CU_ASSERT_STRING_EQUAL(e.text, "Default=maybe: expected YES or NO");
	CU_ASSERT_EQUAL(parse_bool("", "Default", &b, &e), -1);
	CU_ASSERT_EQUAL(parse_bool("Y", "Default", &b, &e), -1);
}

static void test_money(void)
{
	static const struct {
		const char *s;
		int64_t micro;
	} good[] = {
		{"2.50", 2500000},	 {"2.5", 2500000},
		{"2", 2000000},		 {"0", 0},
		{"0.000001", 1},	 {".5", 500000},
		{"2.", 2000000},	 {"$1.25", 1250000},
		{"10.123456", 10123456}, {"1000000", 1000000000000},
	};
	static const char *const bad[] = {
		"",	".",	 "$",	"-1", "1.2345678",	"abc",
		"1,50", "1.5.0", "1e3", " 1", "99999999999999",
	};
	struct mer_error e;
	int64_t m;

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		m = -1;
		CU_ASSERT_EQUAL(parse_money(good[i].s, "--max-price", &m, &e),
				0);
		CU_ASSERT_EQUAL(m, good[i].micro);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		m = -7;
		memset(&e, 0, sizeof(e));
		CU_ASSERT_EQUAL(parse_money(bad[i], "--max-price", &m, &e), -1);
		CU_ASSERT_EQUAL(m, -7);
		CU_ASSERT_EQUAL(strncmp(e.text, "--max-price=", 12), 0);
	}
	parse_money("abc", "--max-price", &m, &e);
	CU_ASSERT_STRING_EQUAL(e.text, "--max-price=abc: expected dollars with "
				       "up to six decimals, such as 2.50");
	parse_money("1.2345678", "--max-price", &m, &e);
	CU_ASSERT_PTR_NOT_NULL(strstr(e.text, "more than six decimals"));
}

static void test_gres(void)
{
	static const struct {
		const char *s;
		const char *type;
		uint32_t n;
	} good[] = {
		{"gpu:2", "", 2},
		{"gpu:a100:2", "a100", 2},
		{"gpu:A100:4", "a100", 4},
		{"GPU:h100:8", "h100", 8},
		{"gpu", "", 1},
		{"gpu:a100", "a100", 1},
		{"gpu:0", "", 0},
		{"gpu:1080ti", "1080ti", 1},
		{"gpu:rtx_4090:1", "rtx_4090", 1},
		{"gpu:tesla-v100:16", "tesla-v100", 16},
	};
	static const char *const bad[] = {
		"",
		"gpu:",
		"gpu::2",
		"gpu:a100:",
		"gpu:a100:x",
		"gpu:a100:2:3",
		"mps:2",
		"gpux:2",
		"gpu:a 100:2",
		"gpu:-1",
		"gpu:a100:-1",
		"gpu:2,gpu:3",
		"gpu:a100:99999999",
		"2",
	};
	struct mer_error e;
	char *type;
	uint32_t n;

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		type = NULL;
		CU_ASSERT_EQUAL_FATAL(
			parse_gres_gpu(good[i].s, "Gres", &type, &n, &e), 0);
		CU_ASSERT_STRING_EQUAL(type, good[i].type);
		CU_ASSERT_EQUAL(n, good[i].n);
		free(type);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		type = NULL;
		memset(&e, 0, sizeof(e));
		CU_ASSERT_EQUAL(parse_gres_gpu(bad[i], "--gres", &type, &n, &e),
				-1);
		CU_ASSERT_PTR_NULL(type);
		CU_ASSERT_EQUAL(strncmp(e.text, "--gres=", 7), 0);
		CU_ASSERT_PTR_NOT_NULL(strstr(e.text, "expected gpu[:TYPE]:N"));
	}
	parse_gres_gpu("mps:2", "Gres", &type, &n, &e);
	CU_ASSERT_STRING_EQUAL(e.text, "Gres=mps:2: expected gpu[:TYPE]:N, "
				       "such as gpu:2 or gpu:a100:4");
}

static void test_long_value_is_cut(void)
{
	char big[400];
	struct mer_error e;
	uint32_t v;

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	CU_ASSERT_EQUAL(parse_u32(big, "CPUs", 1, 4096, &v, &e), -1);
	/* The expected form survives a value longer than the message. */
	CU_ASSERT_PTR_NOT_NULL(strstr(e.text, "expected a whole number from 1 "
					      "to 4096"));
}

static CU_TestInfo tests[] = {
	{"time forms", test_time_forms},
	{"time bad", test_time_bad},
	{"time format", test_time_format},
	{"timestamp", test_timestamp},
	{"sizes", test_sizes},
	{"u32", test_u32},
	{"bool", test_bool},
	{"money", test_money},
	{"gres", test_gres},
	{"long value is cut", test_long_value_is_cut},
	CU_TEST_INFO_NULL,
};

CUNIT_MAIN("parse", tests)
