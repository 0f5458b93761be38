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

bool mctld_is_admin(const struct mctld *ctx, uid_t uid)
{
	return uid == 0 || uid == ctx->uid || conf_is_admin(ctx->conf, uid);
}

static void load_job_cb(Meridian__JobRecord *rec, void *arg)
{
	struct mctld *ctx = arg;

	job_mgr_load(ctx, rec, ctx->start_time);
}

static void load_node_cb(Meridian__NodeRecord *rec, void *arg)
{
	node_mgr_load_record(arg, rec);
}

/* A script kept for a job that is no longer in memory (purged before a
 * crash, or a submit that never committed its record): delete it. */
static void spec_cb(uint32_t id, void *arg)
{
	struct mctld *ctx = arg;

	if (!job_find(ctx, id))
		state_queue_spec_delete(ctx->state, id);
}

static int load_state(struct mctld *ctx, struct mer_error *err)
{
	uint32_t next_id;

	if (state_load_nodes(ctx->state, load_node_cb, ctx, err) < 0)
		return -1;
	if (state_get_next_id(ctx->state, &next_id, err) < 0)
		return -1;
	job_mgr_set_next_id(ctx->jobs, next_id);
	if (state_load_jobs(ctx->state, load_job_cb, ctx, err) < 0)
		return -1;
	return state_spec_ids(ctx->state, spec_cb, ctx, err);
}

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
	ctx->rpc = rpc_create(ctx);
	ctx->jobs = job_mgr_create(ctx);
	if (!(ctx->nodes = node_mgr_create(ctx, err)))
		goto fail;
	if (!(ctx->price = price_create(ctx, err)))
		goto fail;
	if (!(ctx->sched = sched_create(ctx, err)))
		goto fail;
	if (!opts->no_auth && !(ctx->auth = auth_create(conf, err)))
		goto fail;
	if (!(ctx->state = state_open(conf->state_dir, err)))
		goto fail;
	if (load_state(ctx, err) < 0)
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
	sched_request(ctx, true);
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
	if (ctx->jobs)
		job_mgr_destroy(ctx->jobs);
	if (ctx->nodes)
		node_mgr_destroy(ctx->nodes);
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

void mctld_turn_end(struct mctld *ctx)
{
	sched_maybe_run(ctx);
	state_flush(ctx);
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
	state_flush(ctx);
}
