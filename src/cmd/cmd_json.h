/*
 * cmd_json.h - what the commands' --json output shares (jansson).
 */
#ifndef MER_CMD_JSON_H
#define MER_CMD_JSON_H

#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "meridian.pb-c.h"

/* A string, null when absent or empty. */
static inline json_t *json_str_or_null(const char *s)
{
	return s && *s ? json_string(s) : json_null();
}

/* A unix time, null when 0 (never). */
static inline json_t *json_time_or_null(int64_t t)
{
	return t ? json_integer((json_int_t)t) : json_null();
}

/* cmd_json.c (mqueue and mctl link it): a job (its steps in it) and a step, as
 * JSON objects. */
json_t *cmd_job_json(const Meridian__JobRecord *j, int64_t now);
json_t *cmd_step_json(const Meridian__JobRecord *j,
		      const Meridian__StepRecord *s);
/* A node as mctl show node --json and mnodes --json show it (what
 * scontrol show node shows, numbers as numbers; layout in mctl(1)). */
json_t *cmd_node_json(const Meridian__NodeInfo *n);
/* doc, indented, and a newline: 0, or -1 when the write failed. */
int cmd_json_print(json_t *doc, FILE *out);

#endif
