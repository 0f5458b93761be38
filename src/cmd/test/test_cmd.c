/*
 * test_cmd.c - the pure helpers of the commands: job state lists, a
 * node's state, value formats, list parsing, output paths and the -o
 * FORMAT printer.
 */
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cmd.h"
#include "cunit_main.h"

static void test_state_parse(void)
{
	struct mer_error err = {{0}};
	uint32_t m = 0;

	/* one state's names and codes: test_states.c */
	CU_ASSERT_EQUAL(cmd_job_states_parse("PD,r", &m, &err), 0);
	CU_ASSERT_EQUAL(m, CMD_STATES_ACTIVE);
	CU_ASSERT_EQUAL(cmd_job_states_parse("all", &m, &err), 0);
	CU_ASSERT_EQUAL(m, CMD_STATES_ALL);
	CU_ASSERT(m & CMD_STATE_BIT(MERIDIAN__JOB_STATE__JOB_NODE_FAIL));
	CU_ASSERT_EQUAL(cmd_job_states_parse("COMPLETED,TO", &m, &err), 0);
	CU_ASSERT_EQUAL(
		m, CMD_STATE_BIT(MERIDIAN__JOB_STATE__JOB_COMPLETED) |
			   CMD_STATE_BIT(MERIDIAN__JOB_STATE__JOB_TIMEOUT));
	CU_ASSERT_EQUAL(cmd_job_states_parse("PD,XX", &m, &err), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.text, "XX"));
	CU_ASSERT_EQUAL(cmd_job_states_parse(",", &m, &err), -1);
}

/* The enum when mctld sets it, else the string of an older mctld. */
static void test_node_state(void)
{
	Meridian__NodeInfo n = MERIDIAN__NODE_INFO__INIT;

	CU_ASSERT_STRING_EQUAL(cmd_node_state(&n), "UNKNOWN");
	n.state = (char *)"DRAINING";
	CU_ASSERT_STRING_EQUAL(cmd_node_state(&n), "DRAINING");
	n.state = (char *)"IDLE*";
	CU_ASSERT_STRING_EQUAL(cmd_node_state(&n), "IDLE*");
	n.node_state = MERIDIAN__NODE_STATE__NODE_STATE_MIXED;
	CU_ASSERT_STRING_EQUAL(cmd_node_state(&n), "MIXED");
	/* a newer mctld's state: its string says more than "UNKNOWN" */
	n.node_state = (Meridian__NodeState)99;
	n.state = (char *)"REBOOTING";
	CU_ASSERT_STRING_EQUAL(cmd_node_state(&n), "REBOOTING");
}

static void test_formats(void)
{
	char buf[64];

	cmd_format_exit_code(0, 0, buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, "0:0");
	cmd_format_exit_code(3, 0, buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, "3:0");
	cmd_format_exit_code(0, 9, buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, "0:9");

	cmd_format_secs(0, false, buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, "0:00");
	cmd_format_secs(65, false, buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, "1:05");
	cmd_format_secs(3723, false, buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, "1:02:03");
	cmd_format_secs(2 * 86400 + 3 * 3600 + 4 * 60 + 5, false, buf,
			sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, "2-03:04:05");
	cmd_format_secs(5, true, buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, "00:00:05");
	cmd_format_secs(-5, true, buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, "00:00:00");

	cmd_format_limit(0, false, buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, "UNLIMITED");
	cmd_format_limit(0, true, buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, "infinite");
	cmd_format_limit(30, false, buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, "30:00");
	cmd_format_limit(60, false, buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, "1:00:00");
	cmd_format_limit(1440, true, buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, "1-00:00:00");

	cmd_format_price(2100000, false, buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, "2.10");
	cmd_format_price(2105000, false, buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, "2.11");
	cmd_format_price(4999, false, buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, "0.00");
	cmd_format_price(0, false, buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, "0.00");
	cmd_format_price(2105000, true, buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, "2.105");
	cmd_format_price(2000000, true, buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, "2.00");
	cmd_format_price(1, true, buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, "0.000001");
	cmd_format_price(-1500000, false, buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, "-1.50");
}

static void test_job_ids(void)
{
	struct mer_error err = {{0}};
	uint32_t *ids = NULL;
	size_t n = 0;

	CU_ASSERT_EQUAL(cmd_parse_job_ids("12,13 14", &ids, &n, &err), 0);
	CU_ASSERT_EQUAL(n, 3);
	CU_ASSERT_EQUAL(ids[0], 12);
	CU_ASSERT_EQUAL(ids[2], 14);
	CU_ASSERT_EQUAL(cmd_parse_job_ids("15", &ids, &n, &err), 0);
	CU_ASSERT_EQUAL(n, 4);
	CU_ASSERT_EQUAL(ids[3], 15);
	CU_ASSERT_EQUAL(cmd_parse_job_ids("12.0", &ids, &n, &err), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.text, "12.0"));
	CU_ASSERT_EQUAL(cmd_parse_job_ids("0", &ids, &n, &err), -1);
	CU_ASSERT_EQUAL(cmd_parse_job_ids("", &ids, &n, &err), -1);
	CU_ASSERT_EQUAL(cmd_parse_job_ids("99999999999", &ids, &n, &err), -1);
	free(ids);
}

static void test_users(void)
{
	struct mer_error err = {{0}};
	uint32_t *uids = NULL;
	size_t n = 0;

	CU_ASSERT_EQUAL(cmd_parse_users("root,1234", &uids, &n, &err), 0);
	CU_ASSERT_EQUAL(n, 2);
	CU_ASSERT_EQUAL(uids[0], 0);
	CU_ASSERT_EQUAL(uids[1], 1234);
	CU_ASSERT_EQUAL(cmd_parse_users("no-such-user-xyz", &uids, &n, &err),
			-1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.text, "Invalid user"));
	free(uids);
}

static void test_signals(void)
{
	struct mer_error err = {{0}};
	int sig = 0;

	CU_ASSERT_EQUAL(cmd_parse_signal("USR1", &sig, &err), 0);
	CU_ASSERT_EQUAL(sig, SIGUSR1);
	CU_ASSERT_EQUAL(cmd_parse_signal("sigterm", &sig, &err), 0);
	CU_ASSERT_EQUAL(sig, SIGTERM);
	CU_ASSERT_EQUAL(cmd_parse_signal("9", &sig, &err), 0);
	CU_ASSERT_EQUAL(sig, 9);
	CU_ASSERT_EQUAL(cmd_parse_signal("0", &sig, &err), -1);
	CU_ASSERT_EQUAL(cmd_parse_signal("65", &sig, &err), -1);
	CU_ASSERT_EQUAL(cmd_parse_signal("NOPE", &sig, &err), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.text, "NOPE"));
	CU_ASSERT_STRING_EQUAL(cmd_signal_name(SIGKILL), "KILL");
	CU_ASSERT_STRING_EQUAL(cmd_signal_name(SIGABRT), "ABRT");
}

static void test_std_path(void)
{
	Meridian__JobRecord j = MERIDIAN__JOB_RECORD__INIT;
	Meridian__JobDesc d = MERIDIAN__JOB_DESC__INIT;
	char *p;

	d.name = "train";
	d.work_dir = "/home/alice/run";
	j.desc = &d;
	j.job_id = 12;
	j.user_name = "alice";

	p = cmd_expand_std_path("", "meridian-%j.out", &j);
	CU_ASSERT_STRING_EQUAL(p, "/home/alice/run/meridian-12.out");
	free(p);
	p = cmd_expand_std_path("/tmp/%x-%u-%5j.%%.log", "x", &j);
	CU_ASSERT_STRING_EQUAL(p, "/tmp/train-alice-00012.%.log");
	free(p);
	/* outside an array %a is Slurm's NO_VAL */
	p = cmd_expand_std_path("out/%N-%A_%a", "x", &j);
	CU_ASSERT_STRING_EQUAL(p, "/home/alice/run/out/%N-12_4294967294");
	free(p);
	/* a task of array 10 */
	j.array_job_id = 10;
	j.array_task_id = 3;
	p = cmd_expand_std_path("out/%A_%a-%j", "x", &j);
	CU_ASSERT_STRING_EQUAL(p, "/home/alice/run/out/10_3-12");
	free(p);
	j.array_job_id = 0;
	j.batch_host = "n1";
	p = cmd_expand_std_path("%N.%q%", "x", &j);
	CU_ASSERT_STRING_EQUAL(p, "/home/alice/run/n1.%q%");
	free(p);
}

static void test_job_helpers(void)
{
	Meridian__JobRecord j = MERIDIAN__JOB_RECORD__INIT;
	Meridian__JobDesc d = MERIDIAN__JOB_DESC__INIT;
	char buf[128];
	bool per_node;

	j.desc = &d;
	CU_ASSERT_EQUAL(cmd_job_nodes(&j), 1);
	CU_ASSERT_EQUAL(cmd_job_cpus(&j), 1);
	d.ntasks = 4;
	d.cpus_per_task = 2;
	CU_ASSERT_EQUAL(cmd_job_cpus(&j), 8);
	cmd_job_gres(&j, buf, sizeof(buf), &per_node);
	CU_ASSERT_STRING_EQUAL(buf, "");
	d.gpus = 2;
	d.gpu_type = "a100";
	cmd_job_gres(&j, buf, sizeof(buf), &per_node);
	CU_ASSERT_STRING_EQUAL(buf, "gres/gpu:a100:2");
	CU_ASSERT_FALSE(per_node);
	d.gpus_per_node = 4;
	d.gpu_type = "";
	cmd_job_gres(&j, buf, sizeof(buf), &per_node);
	CU_ASSERT_STRING_EQUAL(buf, "gres/gpu:4");
	CU_ASSERT_TRUE(per_node);

	j.state = MERIDIAN__JOB_STATE__JOB_RUNNING;
	j.start_time = 1000;
	CU_ASSERT_EQUAL(cmd_job_run_secs(&j, 1065), 65);
	j.state = MERIDIAN__JOB_STATE__JOB_COMPLETED;
	j.end_time = 1010;
	CU_ASSERT_EQUAL(cmd_job_run_secs(&j, 5000), 10);
	j.start_time = 0;
	CU_ASSERT_EQUAL(cmd_job_run_secs(&j, 5000), 0);
}

/* A row for the printer tests: two strings. */
struct pair {
	const char *a, *b;
};

static void get_a(const void *row, const void *ctx, struct strbuf *out)
{
	const char *s = ((const struct pair *)row)->a;

	strbuf_add(out, s, strlen(s));
}

static void get_b(const void *row, const void *ctx, struct strbuf *out)
{
	const char *s = ((const struct pair *)row)->b;

	strbuf_add(out, s, strlen(s));
}

static const struct cmd_column cols[] = {
	{'i', "JOBID", get_a},
	{'j', "NAME", get_b},
	{0, NULL, NULL},
};

/* Print f into a string. */
static char *render(struct cmd_fmt *f, bool header)
{
	char *s = NULL;
	size_t n = 0;
	FILE *out = open_memstream(&s, &n);

	cmd_fmt_print(f, header, out);
	fclose(out);
	return s;
}

static void test_fmt(void)
{
	struct mer_error err = {{0}};
	struct pair r1 = {"12", "training-run"}, r2 = {"1234567", "x"};
	struct cmd_fmt *f;
	char *s, *k1, *k2;

	f = cmd_fmt_parse("%.6i %.8j", cols, &err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	cmd_fmt_add(f, &r1, NULL);
	cmd_fmt_add(f, &r2, NULL);
	CU_ASSERT_EQUAL(cmd_fmt_rows(f), 2);
	s = render(f, true);
	CU_ASSERT_STRING_EQUAL(s, " JOBID     NAME\n"
				  "    12 training\n"
				  "123456        x\n");
	free(s);
	s = render(f, false);
	CU_ASSERT_STRING_EQUAL(s, "    12 training\n123456        x\n");
	free(s);
	CU_ASSERT_TRUE(cmd_fmt_uses(f, 'j'));
	CU_ASSERT_FALSE(cmd_fmt_uses(f, 'x'));
	cmd_fmt_free(f);

	/* no width: as is, so "%i|%j" stays parseable; %% is a percent */
	f = cmd_fmt_parse("%i|%j%%", cols, &err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	cmd_fmt_add(f, &r1, NULL);
	s = render(f, true);
	CU_ASSERT_STRING_EQUAL(s, "JOBID|NAME%\n12|training-run%\n");
	free(s);
	cmd_fmt_free(f);

	/* left justified, '#' fits the widest, trailing blanks dropped */
	f = cmd_fmt_parse("%#j %-3i", cols, &err);
	CU_ASSERT_PTR_NULL(f); /* '-' is not squeue's */
	f = cmd_fmt_parse("%#j %8i", cols, &err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	cmd_fmt_add(f, &r1, NULL);
	cmd_fmt_add(f, &r2, NULL);
	s = render(f, true);
	CU_ASSERT_STRING_EQUAL(s, "NAME         JOBID\n"
				  "training-run 12\n"
				  "x            1234567\n");
	free(s);
	k1 = cmd_fmt_key(f, &r1, NULL, "i");
	k2 = cmd_fmt_key(f, &r2, NULL, "i");
	CU_ASSERT_STRING_NOT_EQUAL(k1, k2);
	free(k2);
	k2 = cmd_fmt_key(f, &r1, NULL, "ij");
	CU_ASSERT_STRING_EQUAL(k2, "");
	free(k1);
	free(k2);
	cmd_fmt_free(f);

	/* without '#' each row is laid out as it is added: the same cuts,
	 * pads and dropped trailing blanks as the '#' layout's */
	{
		struct pair r3 = {"", "y"};

		f = cmd_fmt_parse("[%4j] %.3i  -- %5j  ", cols, &err);
		CU_ASSERT_PTR_NOT_NULL_FATAL(f);
		cmd_fmt_add(f, &r1, NULL);
		cmd_fmt_add(f, &r3, NULL);
		s = render(f, true);
		CU_ASSERT_STRING_EQUAL(s, "[NAME] JOB  -- NAME\n"
					  "[trai]  12  -- train\n"
					  "[y   ]      -- y\n");
		free(s);
		CU_ASSERT_TRUE(cmd_fmt_uses_only(f, "ij"));
		CU_ASSERT_FALSE(cmd_fmt_uses_only(f, "i"));
		cmd_fmt_free(f);
		f = cmd_fmt_parse("[%4j] %.3i  -- %5j  %#i", cols, &err);
		CU_ASSERT_PTR_NOT_NULL_FATAL(f);
		cmd_fmt_add(f, &r1, NULL);
		cmd_fmt_add(f, &r3, NULL);
		s = render(f, false);
		CU_ASSERT_STRING_EQUAL(s, "[trai]  12  -- train  12\n"
					  "[y   ]      -- y\n");
		free(s);
		cmd_fmt_free(f);
	}

	f = cmd_fmt_parse("%i %z", cols, &err);
	CU_ASSERT_PTR_NULL(f);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.text, "%z"));
	f = cmd_fmt_parse("%.10", cols, &err);
	CU_ASSERT_PTR_NULL(f);
	cmd_fmt_free(NULL);
}

/* sacct's -S/-E: times of today, now-N, and --begin's absolute forms. */
static void test_past_time(void)
{
	struct mer_error err;
	struct tm tm;
	time_t t;
	int64_t now, when;

	/* 2026-03-10 15:30:00 local time */
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = 126;
	tm.tm_mon = 2;
	tm.tm_mday = 10;
	tm.tm_hour = 15;
	tm.tm_min = 30;
	tm.tm_isdst = -1;
	now = (int64_t)mktime(&tm);

	CU_ASSERT_EQUAL(cmd_parse_past_time("now", "-S", now, &when, &err), 0);
	CU_ASSERT_EQUAL(when, now);
	CU_ASSERT_EQUAL(cmd_parse_past_time("now-1day", "-S", now, &when, &err),
			0);
	CU_ASSERT_EQUAL(when, now - 86400);
	CU_ASSERT_EQUAL(cmd_parse_past_time("now-90m", "-S", now, &when, &err),
			0);
	CU_ASSERT_EQUAL(when, now - 5400);
	/* a time of day is today's, also one still to come */
	CU_ASSERT_EQUAL(cmd_parse_past_time("16:00", "-S", now, &when, &err),
			0);
	CU_ASSERT_EQUAL(when, now + 1800);
	CU_ASSERT_EQUAL(cmd_parse_past_time("08:15:30", "-S", now, &when, &err),
			0);
	t = (time_t)when;
	localtime_r(&t, &tm);
	CU_ASSERT(tm.tm_mday == 10 && tm.tm_hour == 8 && tm.tm_min == 15 &&
		  tm.tm_sec == 30);
	CU_ASSERT_EQUAL(cmd_parse_past_time("midnight", "-S", now, &when, &err),
			0);
	CU_ASSERT_EQUAL(when, now - 15 * 3600 - 1800);
	CU_ASSERT_EQUAL(cmd_parse_past_time("noon", "-E", now, &when, &err), 0);
	CU_ASSERT_EQUAL(when, now - 3 * 3600 - 1800);
	CU_ASSERT_EQUAL(
		cmd_parse_past_time("2026-03-01T10:00", "-S", now, &when, &err),
		0);
	t = (time_t)when;
	localtime_r(&t, &tm);
	CU_ASSERT(tm.tm_mon == 2 && tm.tm_mday == 1 && tm.tm_hour == 10);
	CU_ASSERT_EQUAL(cmd_parse_past_time("25:00", "-S", now, &when, &err),
			-1);
	CU_ASSERT_EQUAL(cmd_parse_past_time("now-x", "-S", now, &when, &err),
			-1);
	CU_ASSERT_EQUAL(cmd_parse_past_time("yesterdayish", "--starttime", now,
					    &when, &err),
			-1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.text, "--starttime=yesterdayish"));
}

static CU_TestInfo tests[] = {
	{"job state lists", test_state_parse},
	{"node state: enum, else string", test_node_state},
	{"exit codes, times, prices", test_formats},
	{"job id lists", test_job_ids},
	{"user lists", test_users},
	{"signals", test_signals},
	{"output paths", test_std_path},
	{"job nodes, CPUs, GPUs, run time", test_job_helpers},
	{"format printer", test_fmt},
	{"sacct times", test_past_time},
	CU_TEST_INFO_NULL,
};

CUNIT_MAIN("cmd", tests)
