/*
 * test_states.c - the names of job and node states (states.c): every state
 * of meridian.proto has its row, named as the proto names it, and the
 * names and codes the commands print and parse.
 */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "cunit_main.h"
#include "states.h"

#define JS(x) MERIDIAN__JOB_STATE__JOB_##x
#define NS(x) MERIDIAN__NODE_STATE__NODE_STATE_##x

/* Each JobState but JOB_STATE_NONE is named as in the proto without
 * "JOB_"; each NodeState without "NODE_STATE_": a state added to the proto
 * without a row here fails. */
static void test_rows_match_proto(void)
{
	const ProtobufCEnumDescriptor *jd = &meridian__job_state__descriptor;
	const ProtobufCEnumDescriptor *nd = &meridian__node_state__descriptor;
	unsigned i;

	for (i = 0; i < jd->n_values; i++) {
		const ProtobufCEnumValue *v = &jd->values[i];
		Meridian__JobState s = (Meridian__JobState)v->value, back;

		if (s == MERIDIAN__JOB_STATE__JOB_STATE_NONE) {
			CU_ASSERT_FALSE(mer_job_state_known(s));
			continue;
		}
		CU_ASSERT_TRUE(mer_job_state_known(s));
		CU_ASSERT_EQUAL(strncmp(v->name, "JOB_", 4), 0);
		CU_ASSERT_STRING_EQUAL(mer_job_state_name(s), v->name + 4);
		CU_ASSERT_STRING_NOT_EQUAL(mer_job_state_code(s), "??");
		CU_ASSERT_EQUAL(
			mer_job_state_parse(mer_job_state_name(s), &back), 0);
		CU_ASSERT_EQUAL(back, s);
		CU_ASSERT_EQUAL(
			mer_job_state_parse(mer_job_state_code(s), &back), 0);
		CU_ASSERT_EQUAL(back, s);
	}
	for (i = 0; i < nd->n_values; i++) {
		const ProtobufCEnumValue *v = &nd->values[i];
		Meridian__NodeState s = (Meridian__NodeState)v->value, back;

		CU_ASSERT_EQUAL(mer_node_state_known(s), s != NS(UNKNOWN));
		CU_ASSERT_EQUAL(strncmp(v->name, "NODE_STATE_", 11), 0);
		CU_ASSERT_STRING_EQUAL(mer_node_state_name(s), v->name + 11);
		CU_ASSERT(s == NS(UNKNOWN) ||
			  strcmp(mer_node_state_code(s), "unk") != 0);
		CU_ASSERT_EQUAL(
			mer_node_state_parse(mer_node_state_name(s), &back), 0);
		CU_ASSERT_EQUAL(back, s);
		CU_ASSERT_EQUAL(
			mer_node_state_parse(mer_node_state_code(s), &back), 0);
		CU_ASSERT_EQUAL(back, s);
	}
}

/* What mqueue prints (these were test_cmd.c's). */
static void test_job_names(void)
{
	CU_ASSERT_STRING_EQUAL(mer_job_state_name(JS(PENDING)), "PENDING");
	CU_ASSERT_STRING_EQUAL(mer_job_state_code(JS(PENDING)), "PD");
	CU_ASSERT_STRING_EQUAL(mer_job_state_code(JS(RUNNING)), "R");
	CU_ASSERT_STRING_EQUAL(mer_job_state_code(JS(COMPLETED)), "CD");
	CU_ASSERT_STRING_EQUAL(mer_job_state_code(JS(FAILED)), "F");
	CU_ASSERT_STRING_EQUAL(mer_job_state_code(JS(CANCELLED)), "CA");
	CU_ASSERT_STRING_EQUAL(mer_job_state_code(JS(TIMEOUT)), "TO");
	CU_ASSERT_STRING_EQUAL(mer_job_state_code(JS(NODE_FAIL)), "NF");
	CU_ASSERT_STRING_EQUAL(mer_job_state_name(JS(NODE_FAIL)), "NODE_FAIL");
	CU_ASSERT_STRING_EQUAL(mer_job_state_name(JS(STATE_NONE)), "UNKNOWN");
	CU_ASSERT_STRING_EQUAL(mer_job_state_name((Meridian__JobState)99),
			       "UNKNOWN");
	CU_ASSERT_STRING_EQUAL(mer_job_state_name((Meridian__JobState)-1),
			       "UNKNOWN");
	CU_ASSERT_STRING_EQUAL(mer_job_state_code((Meridian__JobState)99),
			       "??");
	CU_ASSERT_FALSE(mer_job_state_known((Meridian__JobState)99));
}

/* As mctld's job_mgr.c has it. */
static void test_job_finals(void)
{
	CU_ASSERT_FALSE(mer_job_state_final(JS(STATE_NONE)));
	CU_ASSERT_FALSE(mer_job_state_final(JS(PENDING)));
	CU_ASSERT_FALSE(mer_job_state_final(JS(RUNNING)));
	CU_ASSERT_TRUE(mer_job_state_final(JS(COMPLETED)));
	CU_ASSERT_TRUE(mer_job_state_final(JS(FAILED)));
	CU_ASSERT_TRUE(mer_job_state_final(JS(CANCELLED)));
	CU_ASSERT_TRUE(mer_job_state_final(JS(TIMEOUT)));
	CU_ASSERT_TRUE(mer_job_state_final(JS(NODE_FAIL)));
	CU_ASSERT_FALSE(mer_job_state_final((Meridian__JobState)42));
	CU_ASSERT_FALSE(mer_job_state_final((Meridian__JobState)-1));
}

static void test_job_parse(void)
{
	Meridian__JobState s = JS(STATE_NONE);

	CU_ASSERT_EQUAL(mer_job_state_parse("pd", &s), 0);
	CU_ASSERT_EQUAL(s, JS(PENDING));
	CU_ASSERT_EQUAL(mer_job_state_parse("Running", &s), 0);
	CU_ASSERT_EQUAL(s, JS(RUNNING));
	CU_ASSERT_EQUAL(mer_job_state_parse("CANCELED", &s), 0);
	CU_ASSERT_EQUAL(s, JS(CANCELLED));
	errno = 0;
	CU_ASSERT_EQUAL(mer_job_state_parse("bogus", &s), -1);
	CU_ASSERT_EQUAL(errno, EINVAL);
	CU_ASSERT_EQUAL(s, JS(CANCELLED)); /* untouched */
	/* JOB_STATE_NONE prints as UNKNOWN but is no state to ask for */
	CU_ASSERT_EQUAL(mer_job_state_parse("UNKNOWN", &s), -1);
	CU_ASSERT_EQUAL(mer_job_state_parse("??", &s), -1);
}

/* What mnodes prints: sinfo's codes (%t) and names (%T, in lower case). */
static void test_node_names(void)
{
	static const struct {
		Meridian__NodeState s;
		const char *name, *code;
	} want[] = {
		{NS(UNKNOWN), "UNKNOWN", "unk"},
		{NS(IDLE), "IDLE", "idle"},
		{NS(MIXED), "MIXED", "mix"},
		{NS(ALLOCATED), "ALLOCATED", "alloc"},
		{NS(DOWN), "DOWN", "down"},
		{NS(DRAINED), "DRAINED", "drain"},
		{NS(DRAINING), "DRAINING", "drng"},
		{NS(COMPLETING), "COMPLETING", "comp"},
		{NS(FUTURE), "FUTURE", "futr"},
		{NS(FAIL), "FAIL", "fail"},
	};
	Meridian__NodeState s;
	size_t i;

	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		CU_ASSERT_STRING_EQUAL(mer_node_state_name(want[i].s),
				       want[i].name);
		CU_ASSERT_STRING_EQUAL(mer_node_state_code(want[i].s),
				       want[i].code);
	}
	CU_ASSERT_STRING_EQUAL(mer_node_state_name((Meridian__NodeState)99),
			       "UNKNOWN");
	CU_ASSERT_STRING_EQUAL(mer_node_state_code((Meridian__NodeState)-1),
			       "unk");
	CU_ASSERT_FALSE(mer_node_state_known((Meridian__NodeState)99));
	/* sinfo's other spellings, as mnodes took them from a string */
	CU_ASSERT_EQUAL(mer_node_state_parse("MIX", &s), 0);
	CU_ASSERT_EQUAL(s, NS(MIXED));
	CU_ASSERT_EQUAL(mer_node_state_parse("ALLOC", &s), 0);
	CU_ASSERT_EQUAL(s, NS(ALLOCATED));
	CU_ASSERT_EQUAL(mer_node_state_parse("Drain", &s), 0);
	CU_ASSERT_EQUAL(s, NS(DRAINED));
	CU_ASSERT_EQUAL(mer_node_state_parse("unknown", &s), 0);
	CU_ASSERT_EQUAL(s, NS(UNKNOWN));
	errno = 0;
	CU_ASSERT_EQUAL(mer_node_state_parse("IDLE*", &s), -1);
	CU_ASSERT_EQUAL(errno, EINVAL);
	CU_ASSERT_EQUAL(mer_node_state_parse("", &s), -1);
}

static CU_TestInfo tests[] = {
	{"every proto state has its row", test_rows_match_proto},
	{"job state names and codes", test_job_names},
	{"final job states", test_job_finals},
	{"job state parsing", test_job_parse},
	{"node state names and codes", test_node_names},
	CU_TEST_INFO_NULL,
};

CUNIT_MAIN("states", tests)
