/*
 * reconcile.c - a node registers: what it runs against what mctld has.
 *
 * mnoded lists in NODE_REGISTER every job in its spool: running, or ended
 * with its JobEnd (an end the node could not report before it lost the
 * connection).  mctld:
 *   - records the ends (job_mgr_node_end), acknowledged by the reply, which
 *     waits for their commit; mnoded then deletes their spool directories;
 *   - for a running job mctld also has running there: the launch is
 *     acknowledged, and a cancel whose signal may have been lost with the
 *     old connection is said again;
 *   - a running job mctld has ended, cancelled or never heard of goes in
 *     the reply's kill_jobs;
 *   - a job mctld has running with this node as batch host that the node
 *     did not list was never launched (launch it again) or was lost
 *     (NODE_FAIL).
 * It sits above the job and node managers and calls down into both.
 */
#include "config.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "mctld.h"
#include "util.h"

void reconcile_node(struct mctld *ctx, struct node *n,
		    const Meridian__NodeRegister *reg,
		    Meridian__NodeRegisterReply *reply)
{
	uint32_t *listed, *mine, *kill;
	size_t nlisted = 0, nmine, nkill = 0, i;

	listed = xcalloc(reg->n_jobs + 1, sizeof(*listed));
	kill = xcalloc(reg->n_jobs + 1, sizeof(*kill));
	for (i = 0; i < reg->n_jobs; i++) {
		const Meridian__NodeJobStatus *js = reg->jobs[i];
		struct job *j;

		if (!js)
			continue;
		listed[nlisted++] = js->job_id;
		if (!js->running) {
			Meridian__JobEnd end = MERIDIAN__JOB_END__INIT;

			if (js->end)
				end = *js->end;
			else
				end.state = MERIDIAN__JOB_STATE__JOB_FAILED;
			end.job_id = js->job_id;
			job_mgr_node_end(ctx, n->name, &end);
			continue;
		}
		j = job_find(ctx, js->job_id);
		if (j && j->rec->state == MERIDIAN__JOB_STATE__JOB_RUNNING &&
		    strcmp(j->rec->batch_host, n->name) == 0) {
			job_mgr_launch_acked(ctx, js->job_id, n->name);
			/* A cancel whose signal may have been lost with the
			 * old connection: say it again. */
			if (*j->rec->cancel_reason)
				outbox_signal(ctx, n->name, js->job_id, -1,
					      SIGTERM, true,
					      j->rec->cancel_reason);
			continue;
		}
		log_info("node %s runs job %u, which is %s here: told to kill "
			 "it",
			 n->name, js->job_id,
			 j ? job_state_name(j->rec->state) : "unknown");
		kill[nkill++] = js->job_id;
	}
	qsort(listed, nlisted, sizeof(*listed), u32_cmp);
	/* an orphan it does not list is gone from it; one it lists is being
	 * killed (kill_jobs) and stays until its end comes */
	for (i = n->norphans; i-- > 0;)
		if (!bsearch(&n->orphans[i], listed, nlisted, sizeof(*listed),
			     u32_cmp))
			node_orphan_del(n, n->orphans[i]);
	/* Running jobs whose batch host is this node and that it did not
	 * list: never launched -> launch again; launched -> lost. */
	nmine = n->njobs;
	mine = xcalloc(nmine + 1, sizeof(*mine));
	if (nmine) /* job_ids is NULL before the node's first job */
		memcpy(mine, n->job_ids, nmine * sizeof(*mine));
	for (i = 0; i < nmine; i++) {
		struct job *j = job_find(ctx, mine[i]);

		if (!j || j->rec->state != MERIDIAN__JOB_STATE__JOB_RUNNING ||
		    j->rec->desc->interactive ||
		    strcmp(j->rec->batch_host, n->name) != 0)
			continue;
		if (bsearch(&mine[i], listed, nlisted, sizeof(*listed),
			    u32_cmp))
			continue;
		if (!j->rec->launched) {
			log_info("job %u: launch on %s again", mine[i],
				 n->name);
			job_mgr_queue_launch(ctx, mine[i]);
		} else {
			job_mgr_lost(ctx, j, mer_now(),
				     "batch host lost the job");
			/* it just said it does not run it */
			node_orphan_del(n, mine[i]);
		}
	}
	free(mine);
	free(listed);
	reply->kill_jobs = kill;
	reply->n_kill_jobs = nkill;
}
