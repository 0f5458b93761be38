/*
 * pbstr.c - string fields of the protobuf-c records mctld keeps.
 *
 * A record built here or unpacked by protobuf-c must be freeable by
 * protobuf_c_message_free_unpacked, which frees every string but
 * protobuf_c_empty_string: so a field is either that or malloc'd, never a
 * pointer into something else.  Every layer uses these; they call nothing.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "mctld.h"
#include "util.h"

void pb_free_str(char **field)
{
	if (*field && *field != protobuf_c_empty_string)
		free(*field);
	*field = (char *)protobuf_c_empty_string;
}

void pb_set_str(char **field, const char *val)
{
	char *copy;

	if (*field && val && strcmp(*field, val) == 0)
		return;
	copy = val && *val ? xstrdup(val) : (char *)protobuf_c_empty_string;
	pb_free_str(field);
	*field = copy;
}

void pb_set_reason(char **field, const char *val)
{
	size_t len = val ? strlen(val) : 0;
	char *cut;

	if (len <= MCTLD_MAX_REASON) {
		pb_set_str(field, val);
		return;
	}
	/* A node's words, kept in the record: the start says why. */
	cut = xasprintf("%.*s...", MCTLD_MAX_REASON - 3, val);
	pb_set_str(field, cut);
	free(cut);
}
