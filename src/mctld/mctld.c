/*
 * mctld.c - the controller's context: start-up, the loop, housekeeping.
 *
 * Start-up order matters: nodes come from the config before jobs are
 * loaded (a running job's allocation is charged to its nodes), and the
 * plugins are loaded before anything is scheduled.  A missing or wrong-ABI
 * plugin, an unreadable StateDir or a taken port stops mctld here with the
 * error text of the part that failed.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth.h"
#include "log.h"
#include "mctld.h"
#include "util.h"

static void tick_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	mctld_tick(arg, mer_now());
}

void mctld_tick(struct mctld *ctx, int64_t now)
{
	node_mgr_tick(ctx, now);
	job_mgr_tick(ctx, now);
	probe_tick(ctx, now);
	state_trim(ctx->state);
	if (now % 10 == 0)
		state_log_stats(ctx->state);
}

struct mctld *mctld_create(struct conf *conf, const struct mctld_opts *opts,
			   struct mer_error *err)
{
	static const struct mctld_opts defaults;
	struct mctld *ctx = xcalloc(1, sizeof(*ctx));
	struct job *j;
	size_t npending = 0, nrunning = 0;

	if (!opts)
		opts = &defaults;
	ctx->conf = conf;
	ctx->uid = geteuid();
	ctx->start_time = mer_now();
	ctx->listen_fd = -1;
	ctx->base = event_base_new();
	if (!ctx->base) {
		mer_error_set(err, "cannot create the event loop");
		goto fail;
	}
	ctx->outbox = outbox_create(ctx);
	ctx->rpc = rpc_create(ctx); /* the outbox's transport */
	ctx->jobs = job_mgr_create(ctx);
	if (!(ctx->nodes = node_mgr_create(ctx, err)))
		goto fail;
	if (!(ctx->price = price_create(ctx, err)))
		goto fail;
	if (!(ctx->sched = sched_create(ctx, err)))
		goto fail;
	/* every plugin is loaded: a key none of them owns is a typo */
	if (sched_check_conf_keys(ctx, ctx->sched, err) < 0)
		goto fail;
	if (!opts->no_auth && !(ctx->auth = auth_create(conf, err)))
		goto fail;
	if (!(ctx->state = state_open(conf->state_dir, err)))
		goto fail;
	/* Nodes first: a running job's allocation is charged to them; usage
	 * before jobs: a job that ends while loading is charged; the
	 * history before jobs: a job aged out while mctld was down moves
	 * there. */
	if (usage_open(ctx, err) < 0 || node_mgr_open_state(ctx, err) < 0 ||
	    history_open(ctx, err) < 0 || job_store_open(ctx, err) < 0)
		goto fail;
	if (probe_open(ctx, err) < 0)
		goto fail;
	ctx->tick = event_new(ctx->base, -1, EV_PERSIST, tick_cb, ctx);
	if (ctx->tick) {
		struct timeval tv = {MCTLD_TICK_MS / 1000,
				     (MCTLD_TICK_MS % 1000) * 1000};

		event_add(ctx->tick, &tv);
	}
	if (!opts->no_listen && rpc_listen(ctx, err) < 0)
		goto fail;
	TAILQ_FOREACH(j, job_mgr_pending(ctx), state_entry) {
		npending++;
	}
	TAILQ_FOREACH(j, job_mgr_running(ctx), state_entry) {
		nrunning++;
	}
	log_info("mctld %s: cluster %s, port %u, %zu nodes, %zu jobs in memory "
		 "(%zu pending, %zu running), next job id %u",
		 PACKAGE_VERSION, conf->cluster_name ? conf->cluster_name : "?",
		 ctx->port, node_mgr_count(ctx), job_mgr_count(ctx), npending,
		 nrunning, job_mgr_next_id(ctx->jobs));
	mctld_want_sched(ctx, true);
	return ctx;
fail:
	if (!errno)
		errno = EINVAL;
	{
		int e = errno;

		ctx->conf = NULL; /* the caller still owns it on failure */
		mctld_destroy(ctx);
		errno = e;
	}
	return NULL;
}

void mctld_destroy(struct mctld *ctx)
{
	if (!ctx)
		return;
	if (ctx->tick)
		event_free(ctx->tick);
	/* Peers point at nodes: close them first. */
	rpc_destroy(ctx->rpc);
	sched_destroy(ctx->sched);
	price_destroy(ctx->price);
	probe_close(ctx);
	usage_close(ctx);
	limits_free(ctx);
	if (ctx->jobs)
		job_mgr_destroy(ctx->jobs);
	job_store_close(ctx);
	history_close(ctx);
	if (ctx->nodes)
		node_mgr_destroy(ctx->nodes);
	outbox_destroy(ctx->outbox);
	state_close(ctx->state);
	auth_destroy(ctx->auth);
	if (ctx->listen_fd >= 0)
		close(ctx->listen_fd);
	if (ctx->base)
		event_base_free(ctx->base);
	if (ctx->conf)
		conf_free(ctx->conf);
	free(ctx);
}

/* Commit what the turn changed, then send what waited for that: on
 * failure nothing of the turn is acknowledged, each reply says why. */
void mctld_commit(struct mctld *ctx)
{
	struct mer_error err = {""};
	char why[240];
	int code;

	if (state_commit(ctx->state, &err) == 0) {
		if (!outbox_empty(ctx))
			outbox_flush(ctx, true, 0, NULL);
		return;
	}
	code = errno ? errno : EIO;
	snprintf(why, sizeof(why),
		 "mctld could not record the request: %s; it was not done",
		 err.text);
	outbox_flush(ctx, false, code, why);
}

/* The end of a turn: the pass the managers asked for, if due; commit. */
void mctld_turn_end(struct mctld *ctx)
{
	sched_maybe_run(ctx);
	mctld_commit(ctx);
}

void mctld_run(struct mctld *ctx)
{
	/* One turn: every ready event, then one pass and one commit. */
	while (!ctx->stop) {
		if (event_base_loop(ctx->base, EVLOOP_ONCE) < 0) {
			log_warnx("event loop failed; stopping");
			break;
		}
		mctld_turn_end(ctx);
	}
	mctld_commit(ctx); /* what the last turn changed; no new pass */
}
