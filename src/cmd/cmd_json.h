/*
 * cmd_json.h - what the commands' --json output shares (jansson).
 */
#ifndef MER_CMD_JSON_H
#define MER_CMD_JSON_H

#include <stdint.h>

#include <jansson.h>

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

#endif
