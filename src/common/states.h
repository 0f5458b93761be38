/*
 * states.h - the names of job and node states: one table for the commands
 * and the daemons, so that mqueue, mctl and mctld's logs cannot spell a
 * state two ways.
 *
 * Every string returned here is a static constant: it lives as long as the
 * program and is never freed.  A value outside the enum (a newer peer's
 * state, or garbage) gets the UNKNOWN row's names, never NULL.
 */
#ifndef MER_STATES_H
#define MER_STATES_H

#include <stdbool.h>
#include "meridian.pb-c.h"

/* --- job states ------------------------------------------------------ */

/* "PENDING", "RUNNING", ...; "UNKNOWN" for JOB_STATE_NONE and for any
 * value that is not a state. */
const char *mer_job_state_name(Meridian__JobState s);
/* squeue's compact codes: "PD", "R", "CD", "F", "CA", "TO", "NF"; "??"
 * for JOB_STATE_NONE and any value that is not a state. */
const char *mer_job_state_code(Meridian__JobState s);
/* A job in this state has ended for good (COMPLETED .. NODE_FAIL). */
bool mer_job_state_final(Meridian__JobState s);
/* True for PENDING .. NODE_FAIL: neither JOB_STATE_NONE nor a value
 * outside the enum (whose names are "UNKNOWN"). */
bool mer_job_state_known(Meridian__JobState s);
/* True for IDLE .. FAIL: neither NODE_STATE_UNKNOWN nor a value outside
 * the enum (a newer mctld's state: read NodeInfo.state then). */
bool mer_node_state_known(Meridian__NodeState s);
/*
 * A state from its name or its code, in any case ("pd", "Running");
 * Slurm's "CANCELED" too.  JOB_STATE_NONE has no name to parse.  0 with
 * *out set, or -1 with errno EINVAL.
 */
int mer_job_state_parse(const char *name, Meridian__JobState *out);

/* --- node states ----------------------------------------------------- */

/* "IDLE", "MIXED", "ALLOCATED", "DOWN", "DRAINED", "DRAINING",
 * "COMPLETING", "FUTURE", "FAIL"; "UNKNOWN" for NODE_STATE_UNKNOWN and
 * any value that is not a state. */
const char *mer_node_state_name(Meridian__NodeState s);
/* sinfo's compact form, as mnodes %t prints it: "idle", "mix", "alloc",
 * "down", "drain", "drng", "comp", "futr", "fail", "unk". */
const char *mer_node_state_code(Meridian__NodeState s);
/* True for IDLE .. FAIL: neither NODE_STATE_UNKNOWN nor a value outside
 * the enum (a newer mctld's state: read NodeInfo.state then). */
bool mer_node_state_known(Meridian__NodeState s);
/*
 * A state from its name or its code (which are sinfo's other spellings:
 * "MIX", "ALLOC", "DRAIN"), in any case.  "UNKNOWN" parses (to
 * NODE_STATE_UNKNOWN).  0 with *out set, or -1 with errno EINVAL.
 */
int mer_node_state_parse(const char *name, Meridian__NodeState *out);

#endif
