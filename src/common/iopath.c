/*
 * iopath.c - the names of a job's output files, from sbatch-style patterns.
 *
 * Expansion is pure (no I/O) so that it can be tested alone; mstepd
 * opens the files (tasks.c for a batch script, step_fork.c for the ranks
 * of a step) in the job's process after it dropped privileges, so that
 * the user's permissions, not root's, decide where a job may write.
 */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iopath.h"
#include "util.h"

/* v in decimal, zero-padded to width digits (0: no padding). */
static void add_number(struct strbuf *b, unsigned width, uint32_t v)
{
	strbuf_addf(b, "%0*u", (int)width, v);
}

char *iopath_expand(const char *pattern, const struct iopath_names *n)
{
	struct strbuf b = {0};
	const char *p = pattern ? pattern : "";

	strbuf_add(&b, "", 0);
	while (*p) {
		const char *start = p;
		unsigned width = 0;

		if (*p != '%') {
			strbuf_addc(&b, *p++);
			continue;
		}
		p++;
		while (isdigit((unsigned char)*p) && width < 100)
			width = width * 10 + (unsigned)(*p++ - '0');
		if (width > 64)
			width = 64;
		switch (*p) {
		case 'j':
			add_number(&b, width, n->job_id);
			break;
		case 'A':
			add_number(&b, width,
				   n->in_array ? n->array_job_id : n->job_id);
			break;
		case 'J':
			add_number(&b, width, n->job_id);
			if (n->has_step)
				strbuf_addf(&b, ".%u", n->step_id);
			break;
		case 'a':
			add_number(&b, width,
				   n->in_array ? n->array_task_id
					       : 4294967294u);
			break;
		case 'n':
			add_number(&b, width, n->node_index);
			break;
		case 't':
			add_number(&b, width, n->task);
			break;
		case 'x':
			strbuf_add(&b, n->job_name ? n->job_name : "",
				   n->job_name ? strlen(n->job_name) : 0);
			break;
		case 'u':
			strbuf_add(&b, n->user ? n->user : "",
				   n->user ? strlen(n->user) : 0);
			break;
		case 'N':
			strbuf_add(&b, n->node ? n->node : "",
				   n->node ? strlen(n->node) : 0);
			break;
		case 's':
			if (n->has_step)
				add_number(&b, width, n->step_id);
			else
				strbuf_add(&b, "batch", 5);
			break;
		case '%':
			strbuf_addc(&b, '%');
			break;
		case '\0':
			/* a lone % at the end: keep it */
			strbuf_add(&b, start, (size_t)(p - start));
			continue;
		default:
			/* unknown: keep as written, as Slurm does */
			strbuf_add(&b, start, (size_t)(p - start) + 1);
			break;
		}
		p++;
	}
	return b.s;
}

char *iopath_path(const char *pattern, const char *dflt, const char *work_dir,
		  const struct iopath_names *n)
{
	char *name = iopath_expand(pattern && *pattern ? pattern : dflt, n);
	char *path;

	if (name[0] == '/' || !work_dir || !*work_dir)
		return name;
	path = xasprintf("%s%s%s", work_dir,
			 work_dir[strlen(work_dir) - 1] == '/' ? "" : "/",
			 name);
	free(name);
	return path;
}
