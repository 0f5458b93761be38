/*
 * states.c - the names of job and node states (states.h).
 *
 * Each table is indexed by the enum's number, so a row cannot be filed
 * under the wrong state; test_states.c walks protobuf-c's descriptors of
 * JobState and NodeState and fails when a state of meridian.proto has no
 * row here, or a row's name is not its state's.
 */
#include "config.h"

#include <errno.h>
#include <stddef.h>

#include "states.h"
#include "util.h"

#define JS(x) MERIDIAN__JOB_STATE__JOB_##x
#define NS(x) MERIDIAN__NODE_STATE__NODE_STATE_##x

static const struct {
	const char *name;
	const char *code;
	bool final;
} job_states[] = {
	[MERIDIAN__JOB_STATE__JOB_STATE_NONE] = {"UNKNOWN", "??", false},
	[JS(PENDING)] = {"PENDING", "PD", false},
	[JS(RUNNING)] = {"RUNNING", "R", false},
	[JS(COMPLETED)] = {"COMPLETED", "CD", true},
	[JS(FAILED)] = {"FAILED", "F", true},
	[JS(CANCELLED)] = {"CANCELLED", "CA", true},
	[JS(TIMEOUT)] = {"TIMEOUT", "TO", true},
	[JS(NODE_FAIL)] = {"NODE_FAIL", "NF", true},
	[JS(DEADLINE)] = {"DEADLINE", "DL", true},
};
#define N_JOB_STATES (sizeof(job_states) / sizeof(job_states[0]))

/* The row of s; row 0 (UNKNOWN) for a value outside the table. */
static size_t job_row(Meridian__JobState s)
{
	return (unsigned)s < N_JOB_STATES ? (size_t)s : 0;
}

const char *mer_job_state_name(Meridian__JobState s)
{
	return job_states[job_row(s)].name;
}

const char *mer_job_state_code(Meridian__JobState s)
{
	return job_states[job_row(s)].code;
}

bool mer_job_state_final(Meridian__JobState s)
{
	return job_states[job_row(s)].final;
}

bool mer_job_state_known(Meridian__JobState s)
{
	return job_row(s) != 0;
}

int mer_job_state_parse(const char *name, Meridian__JobState *out)
{
	size_t i;

	for (i = 1; i < N_JOB_STATES; i++)
		if (str_eq_nocase(name, job_states[i].name) ||
		    str_eq_nocase(name, job_states[i].code)) {
			*out = (Meridian__JobState)i;
			return 0;
		}
	/* Slurm spells it both ways. */
	if (str_eq_nocase(name, "CANCELED")) {
		*out = JS(CANCELLED);
		return 0;
	}
	errno = EINVAL;
	return -1;
}

/* code: as sinfo shortens it (mnodes %t); the long form (%T) is the name
 * in lower case. */
static const struct {
	const char *name;
	const char *code;
} node_states[] = {
	[NS(UNKNOWN)] = {"UNKNOWN", "unk"},
	[NS(IDLE)] = {"IDLE", "idle"},
	[NS(MIXED)] = {"MIXED", "mix"},
	[NS(ALLOCATED)] = {"ALLOCATED", "alloc"},
	[NS(DOWN)] = {"DOWN", "down"},
	[NS(DRAINED)] = {"DRAINED", "drain"},
	[NS(DRAINING)] = {"DRAINING", "drng"},
	[NS(COMPLETING)] = {"COMPLETING", "comp"},
	[NS(FUTURE)] = {"FUTURE", "futr"},
	[NS(FAIL)] = {"FAIL", "fail"},
};
#define N_NODE_STATES (sizeof(node_states) / sizeof(node_states[0]))

static size_t node_row(Meridian__NodeState s)
{
	return (unsigned)s < N_NODE_STATES ? (size_t)s : 0;
}

const char *mer_node_state_name(Meridian__NodeState s)
{
	return node_states[node_row(s)].name;
}

const char *mer_node_state_code(Meridian__NodeState s)
{
	return node_states[node_row(s)].code;
}

bool mer_node_state_known(Meridian__NodeState s)
{
	return node_row(s) != 0;
}

int mer_node_state_parse(const char *name, Meridian__NodeState *out)
{
	size_t i;

	for (i = 0; i < N_NODE_STATES; i++)
		if (str_eq_nocase(name, node_states[i].name) ||
		    str_eq_nocase(name, node_states[i].code)) {
			*out = (Meridian__NodeState)i;
			return 0;
		}
	errno = EINVAL;
	return -1;
}
