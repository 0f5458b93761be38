/*
 * select_capture.c - select/capture, a select plugin for the mctld tests.
 * It places nothing: its reason is what the core showed it (the nodes of
 * the view by name, and the job's communication), so that a test reads
 * the select request back from the job's Reason.  Like any plugin it
 * includes only the public plugin headers.
 */
#include <stdio.h>
#include <string.h>

#include <meridian/plugin_select.h>

static void *capture_init(const struct mer_plugin_conf *conf,
			  struct mer_error *err)
{
	static int state; /* no state: any non-NULL pointer will do */

	(void)conf;
	(void)err;
	return &state;
}

static void capture_fini(void *state)
{
	(void)state;
}

/* "nodes=n1,n2 num_nodes=2 comm=pipeline stages=2 bytes=67108864" */
static int capture_select(void *state, const struct mer_select_request *req,
			  struct mer_select_result *res, struct mer_error *err)
{
	static const char *const pattern[] = {"none", "ring", "pipeline"};
	const struct mer_select_job *job = req->job;
	size_t len = 0, i;
	int w;

	(void)state;
	res->nnodes = 0;
	w = snprintf(err->text, sizeof(err->text), "nodes=");
	len = w > 0 ? (size_t)w : 0;
	for (i = 0; i < req->nnodes && len < sizeof(err->text); i++) {
		w = snprintf(err->text + len, sizeof(err->text) - len, "%s%s",
			     i ? "," : "", req->nodes[i].name);
		len += w > 0 ? (size_t)w : 0;
	}
	if (len < sizeof(err->text))
		snprintf(err->text + len, sizeof(err->text) - len,
			 " num_nodes=%u comm=%s stages=%u bytes=%llu",
			 job->num_nodes,
			 job->comm_pattern < 3 ? pattern[job->comm_pattern]
					       : "?",
			 job->comm_stages, (unsigned long long)job->comm_bytes);
	return -1;
}

const struct mer_select_ops meridian_plugin = {
	.hdr = {MER_PLUGIN_SELECT, MER_SELECT_ABI, "select/capture"},
	.keys = NULL,
	.init = capture_init,
	.fini = capture_fini,
	.select = capture_select,
};
