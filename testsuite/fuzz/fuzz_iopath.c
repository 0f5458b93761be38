/*
 * fuzz_iopath.c - output file patterns (-o/-e: %j %x %u %N %s %n %t %5j
 * ...), as mstepd expands them before it opens a job's or a rank's files
 * and the commands expand them to show them.
 *
 * The input: a flag byte (bit 0: a job step), the job id, step id, node
 * index and task (4 + 2 + 2 + 2 bytes), then NUL-separated strings: the
 * job name, the user, the node, the working directory, the pattern.
 * A pattern without '%' names itself, and no pattern expands beyond what
 * its items can give (each at most a padded number or one of the names).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "iopath.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = {data, size};
	struct iopath_names n = {0};
	uint8_t flags = fuzz_u8(&in);
	char *job_name, *user, *node, *wd, *pattern, *out, *path;
	size_t item_max;

	n.has_step = flags & 1;
	n.job_id = (uint32_t)fuzz_u16(&in) << 16 | fuzz_u16(&in);
	n.step_id = fuzz_u16(&in);
	n.node_index = fuzz_u16(&in);
	n.task = fuzz_u16(&in);
	job_name = fuzz_cstr(&in);
	user = fuzz_cstr(&in);
	node = fuzz_cstr(&in);
	wd = fuzz_cstr(&in);
	pattern = fuzz_cstr(&in);
	n.job_name = (flags & 2) ? NULL : job_name;
	n.user = user;
	n.node = node;

	out = iopath_expand(pattern, &n);
	if (!strchr(pattern, '%') && strcmp(out, pattern) != 0)
		abort();
	/* An item is at most 64 digits of padding or "%J"'s two numbers,
	 * or one name; every byte of the pattern may start one. */
	item_max = 64 + 1 + 10;
	item_max = strlen(job_name) > item_max ? strlen(job_name) : item_max;
	item_max = strlen(user) > item_max ? strlen(user) : item_max;
	item_max = strlen(node) > item_max ? strlen(node) : item_max;
	if (strlen(out) > strlen(pattern) * item_max)
		abort();
	free(out);

	path = iopath_path(pattern, IOPATH_DEFAULT_OUTPUT, wd, &n);
	if (*wd && !strchr(pattern, '%') && *pattern && pattern[0] != '/' &&
	    strncmp(path, wd, strlen(wd)) != 0)
		abort(); /* a relative name is under the working directory */
	free(path);

	free(job_name);
	free(user);
	free(node);
	free(wd);
	free(pattern);
	return 0;
}
