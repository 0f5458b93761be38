/*
 * job_store.c - the jobs' durable tables: the job manager's commit source.
 *
 *   jobs   key: job id as 4-byte big-endian   value: packed JobRecord
 *   specs  key: job id (same)                  value: packed JobSpec
 *   meta   key: "next_job_id"                  value: 4-byte big-endian
 *
 * Big-endian ids sort numerically, so a cursor walks jobs in id order.
 * The next job id is written in the same transaction as the jobs that used
 * it, so ids never repeat.  A JobSpec (script, environment) is written once
 * at submit, read only to launch or show it, deleted when its job leaves
 * memory: it is never kept in memory, so the writes of a turn are queued
 * here until the commit.  A job that leaves memory leaves both tables in
 * the commit that puts it in the history (history.c).
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "mctld.h"
#include "util.h"

#define META_NEXT_JOB_ID "next_job_id"

struct spec_op {
	uint32_t id;
	bool del;
	bool del_job; /* the job's record too */
	uint8_t *buf;
	size_t len;
	struct spec_op *next;
};

struct job_store {
	struct mctld *ctx;
	unsigned jobs, specs, meta;
	struct spec_op *ops, **ops_tail;
	uint32_t stored_next_id; /* as last committed */
	uint32_t committing_id;	 /* what the commit in progress writes */
};

static void ops_clear(struct job_store *js)
{
	struct spec_op *op, *next;

	for (op = js->ops; op; op = next) {
		next = op->next;
		free(op->buf);
		free(op);
	}
	js->ops = NULL;
	js->ops_tail = &js->ops;
}

static void queue_op(struct job_store *js, struct spec_op *op)
{
	*js->ops_tail = op;
	js->ops_tail = &op->next;
}

void job_store_queue_spec(struct mctld *ctx, uint32_t id, uint8_t *packed,
			  size_t len)
{
	struct spec_op *op = xcalloc(1, sizeof(*op));

	op->id = id;
	op->buf = packed;
	op->len = len;
	queue_op(ctx->job_store, op);
}

void job_store_queue_spec_delete(struct mctld *ctx, uint32_t id)
{
	struct spec_op *op = xcalloc(1, sizeof(*op));

	op->id = id;
	op->del = true;
	queue_op(ctx->job_store, op);
}

void job_store_queue_delete(struct mctld *ctx, uint32_t id)
{
	struct spec_op *op = xcalloc(1, sizeof(*op));

	op->id = id;
	op->del = true;
	op->del_job = true;
	queue_op(ctx->job_store, op);
}

/* A spec queued and not yet committed, or NULL.  The queue holds one
 * turn's submits: short. */
static const struct spec_op *queued_spec(const struct job_store *js,
					 uint32_t id)
{
	const struct spec_op *op, *found = NULL;

	for (op = js->ops; op; op = op->next)
		if (op->id == id)
			found = op;
	return found && !found->del ? found : NULL;
}

static int unpack_spec(const void *v, size_t len, void *arg)
{
	Meridian__JobSpec **out = arg;

	*out = meridian__job_spec__unpack(NULL, len, v);
	return 0;
}

Meridian__JobSpec *job_store_get_spec(struct mctld *ctx, uint32_t id,
				      struct mer_error *err)
{
	struct job_store *js = ctx->job_store;
	const struct spec_op *op = queued_spec(js, id);
	Meridian__JobSpec *spec = NULL;
	uint8_t key[4];

	if (op) { /* asked in the turn it was submitted */
		spec = meridian__job_spec__unpack(NULL, op->len, op->buf);
		if (!spec) {
			mer_error_set(
				err, "job %u: queued spec does not decode", id);
			errno = EIO;
		}
		return spec;
	}
	state_u32_key(id, key);
	if (state_get(ctx->state, js->specs, key, 4, unpack_spec, &spec, err) <
	    0) {
		if (errno == ENOENT)
			mer_error_set(err,
				      "the script of job %u is no longer kept",
				      id);
		return NULL;
	}
	if (!spec) {
		mer_error_set(err,
			      "job %u: stored script and environment do not "
			      "decode",
			      id);
		errno = EIO;
	}
	return spec;
}

struct raw {
	uint8_t *buf;
	size_t len;
};

static int copy_raw(const void *v, size_t len, void *arg)
{
	struct raw *r = arg;

	r->buf = xmalloc(len ? len : 1);
	memcpy(r->buf, v, len);
	r->len = len;
	return 0;
}

int job_store_copy_spec(struct mctld *ctx, uint32_t from, uint32_t to,
			struct mer_error *err)
{
	struct job_store *js = ctx->job_store;
	const struct spec_op *op = queued_spec(js, from);
	struct raw r = {NULL, 0};
	uint8_t key[4];

	if (op) {
		copy_raw(op->buf, op->len, &r);
	} else {
		state_u32_key(from, key);
		if (state_get(ctx->state, js->specs, key, 4, copy_raw, &r,
			      err) < 0) {
			if (errno == ENOENT)
				mer_error_set(err,
					      "the script of job %u is no "
					      "longer kept",
					      from);
			return -1;
		}
	}
	job_store_queue_spec(ctx, to, r.buf, r.len);
	return 0;
}

/* --- the commit source ---------------------------------------------------- */

static bool src_pending(void *arg)
{
	struct job_store *js = arg;
	struct mctld *ctx = js->ctx;

	return !TAILQ_EMPTY(job_mgr_dirty(ctx)) || js->ops ||
	       job_mgr_next_id(ctx->jobs) != js->stored_next_id;
}

static long src_collect(struct state *st, void *arg, struct mer_error *err)
{
	struct job_store *js = arg;
	struct mctld *ctx = js->ctx;
	struct spec_op *op;
	struct job *j;
	uint8_t key[4];
	long writes = 0;

	job_mgr_flush_lazy(ctx); /* a commit happens: take them along */
	TAILQ_FOREACH(j, job_mgr_dirty(ctx), dirty_entry) {
		state_u32_key(j->rec->job_id, key);
		if (state_put_msg(st, js->jobs, key, 4, &j->rec->base, err) < 0)
			return -1;
		writes++;
	}
	for (op = js->ops; op; op = op->next) {
		state_u32_key(op->id, key);
		if (op->del ? state_del(st, js->specs, key, 4, err)
			    : state_put(st, js->specs, key, 4, op->buf, op->len,
					err))
			return -1;
		writes++;
		if (op->del_job) {
			if (state_del(st, js->jobs, key, 4, err) < 0)
				return -1;
			writes++;
		}
	}
	js->committing_id = job_mgr_next_id(ctx->jobs);
	if (js->committing_id != js->stored_next_id) {
		state_u32_key(js->committing_id, key);
		if (state_put(st, js->meta, META_NEXT_JOB_ID,
			      strlen(META_NEXT_JOB_ID), key, 4, err) < 0)
			return -1;
		writes++;
	}
	return writes;
}

/* After a failed commit: keep the spec writes whose job is still in memory
 * (they are retried), drop those of the submits that were refused. */
static void ops_keep_live(struct job_store *js)
{
	struct spec_op *op, *next;

	op = js->ops;
	js->ops = NULL;
	js->ops_tail = &js->ops;
	for (; op; op = next) {
		next = op->next;
		op->next = NULL;
		if (op->del || job_find(js->ctx, op->id)) {
			queue_op(js, op);
		} else {
			free(op->buf);
			free(op);
		}
	}
}

static void src_done(void *arg, bool ok)
{
	struct job_store *js = arg;

	if (ok) {
		ops_clear(js);
		js->stored_next_id = js->committing_id;
		job_mgr_committed(js->ctx);
		return;
	}
	/* Nothing of this turn is acknowledged: refused submits leave
	 * memory, other changes stay dirty and are retried next turn. */
	job_mgr_drop_uncommitted(js->ctx);
	ops_keep_live(js);
}

static const struct state_source job_source = {
	.name = "jobs",
	.pending = src_pending,
	.collect = src_collect,
	.done = src_done,
};

/* --- loading ------------------------------------------------------------ */

static int load_job(const void *k, size_t klen, const void *v, size_t vlen,
		    void *arg)
{
	struct job_store *js = arg;
	uint32_t id = state_key_u32(k, klen);
	Meridian__JobRecord *rec;

	rec = meridian__job_record__unpack(NULL, vlen, v);
	if (!rec || rec->job_id != id) {
		/* Never crash on a bad record: skip it, loudly. */
		log_warnx("state: job record %u does not decode; skipped", id);
		if (rec)
			meridian__job_record__free_unpacked(rec, NULL);
		return 0;
	}
	job_mgr_load(js->ctx, rec, js->ctx->start_time);
	return 0;
}

/* A script kept for a job that is no longer in memory (purged before a
 * crash, or a submit that never committed its record): delete it. */
static int orphan_spec(const void *k, size_t klen, const void *v, size_t vlen,
		       void *arg)
{
	struct job_store *js = arg;
	uint32_t id = state_key_u32(k, klen);

	(void)v;
	(void)vlen;
	if (!job_find(js->ctx, id))
		job_store_queue_spec_delete(js->ctx, id);
	return 0;
}

static int read_next_id(const void *v, size_t len, void *arg)
{
	uint32_t *id = arg;

	if (len == 4)
		*id = state_key_u32(v, len);
	return 0;
}

int job_store_open(struct mctld *ctx, struct mer_error *err)
{
	struct job_store *js = xcalloc(1, sizeof(*js));
	uint32_t next_id = 1;

	js->ctx = ctx;
	js->ops_tail = &js->ops;
	ctx->job_store = js;
	if (state_db_open(ctx->state, "jobs", &js->jobs, err) < 0 ||
	    state_db_open(ctx->state, "specs", &js->specs, err) < 0 ||
	    state_db_open(ctx->state, "meta", &js->meta, err) < 0)
		return -1;
	if (state_get(ctx->state, js->meta, META_NEXT_JOB_ID,
		      strlen(META_NEXT_JOB_ID), read_next_id, &next_id,
		      err) < 0 &&
	    errno != ENOENT)
		return -1;
	if (next_id == 0)
		next_id = 1;
	js->stored_next_id = next_id;
	job_mgr_set_next_id(ctx->jobs, next_id);
	if (state_each(ctx->state, js->jobs, load_job, js, err) < 0 ||
	    state_each(ctx->state, js->specs, orphan_spec, js, err) < 0)
		return -1;
	state_add_source(ctx->state, &job_source, js);
	return 0;
}

void job_store_close(struct mctld *ctx)
{
	struct job_store *js = ctx->job_store;

	if (!js)
		return;
	ops_clear(js);
	free(js);
	ctx->job_store = NULL;
}
