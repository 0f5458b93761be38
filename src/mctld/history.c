/*
 * history.c - the job history macct reads: every job that has left memory
 * (MinJobAge after its end), kept JobHistoryDays and at most JobHistoryMax
 * records, oldest dropped first.
 *
 *   history      key: end time, job id, array job id    value: packed
 *                (8 + 4 + 4 bytes big-endian)                JobRecord
 *   history_ids  key: id, job id (4 + 4)                value: its
 *                                                            history key
 *   meta         key: "history_span"   value: 8 bytes, the longest
 *                                       submit-to-end of any record
 *
 * Keys in end order make a time window one cursor walk: it starts at the
 * window's start and stops once every later end is too late for a job
 * submitted by the window's end (the span says when).  history_ids finds
 * a job by its id, and an array's tasks by the array's id, without a scan.
 *
 * A job moves here in the commit that drops it from the "jobs" table
 * (job_mgr's purge), so it is in exactly one of them at any instant, and
 * a kill -9 loses nothing: a purge that did not commit happens again.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "mctld.h"
#include "util.h"

#define HIST_KEY_LEN   16
#define HIST_META_SPAN "history_span"
/* Records one commit drops at most (the rest go in the next ones), so a
 * lowered JobHistoryMax never makes one huge transaction. */
#define HIST_TRIM_BATCH 2000
/* Trims are looked for at most this often (seconds). */
#define HIST_TRIM_EVERY 60

struct hist_op {
	uint8_t key[HIST_KEY_LEN];
	uint8_t *buf;
	size_t len;
	struct hist_op *next;
};

struct history {
	struct mctld *ctx;
	unsigned db, ids, meta;
	struct hist_op *ops, **ops_tail;
	size_t nops;
	size_t count;	    /* records, as committed */
	int64_t oldest;	    /* end time of the oldest record (queued
			     * ones too), 0 none */
	int64_t span;	    /* longest submit-to-end, queued ones too */
	int64_t span_saved; /* as committed */
	int64_t trim_after; /* no trim looked for before then */
	size_t trimmed;	    /* records the commit in progress drops */
};

static void put_be64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

static uint64_t get_be64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

/* End times before 1970 do not exist here; they sort first. */
static void hist_key(int64_t end, uint32_t job_id, uint32_t array_id,
		     uint8_t key[HIST_KEY_LEN])
{
	put_be64(key, end > 0 ? (uint64_t)end : 0);
	state_u32_key(job_id, key + 8);
	state_u32_key(array_id, key + 12);
}

static int64_t key_end(const uint8_t *key)
{
	return (int64_t)get_be64(key);
}

static void ops_clear(struct history *h)
{
	struct hist_op *op, *next;

	for (op = h->ops; op; op = next) {
		next = op->next;
		free(op->buf);
		free(op);
	}
	h->ops = NULL;
	h->ops_tail = &h->ops;
	h->nops = 0;
}

/* What a record keeps of a job: pending-only parts and the steps' per
 * node detail go. */
static void strip(Meridian__JobRecord *rec)
{
	if (rec->factors) {
		meridian__priority_factors__free_unpacked(rec->factors, NULL);
		rec->factors = NULL;
	}
	pb_free_str(&rec->sched_nodes);
	rec->expected_start = 0;
	free(rec->array_pending.data);
	rec->array_pending.data = NULL;
	rec->array_pending.len = 0;
	for (size_t i = 0; i < rec->n_steps; i++) {
		Meridian__StepRecord *s = rec->steps[i];

		for (size_t k = 0; k < s->n_nodes; k++)
			meridian__step_node__free_unpacked(s->nodes[k], NULL);
		free(s->nodes);
		s->nodes = NULL;
		s->n_nodes = 0;
	}
}

void history_add(struct mctld *ctx, Meridian__JobRecord *rec)
{
	struct history *h = ctx->history;
	struct hist_op *op;
	int64_t span;

	if (!h || !ctx->conf->job_history_days || !ctx->conf->job_history_max)
		return;
	strip(rec);
	op = xcalloc(1, sizeof(*op));
	hist_key(rec->end_time, rec->job_id, rec->array_job_id, op->key);
	op->len = protobuf_c_message_get_packed_size(&rec->base);
	op->buf = xmalloc(op->len ? op->len : 1);
	protobuf_c_message_pack(&rec->base, op->buf);
	*h->ops_tail = op;
	h->ops_tail = &op->next;
	h->nops++;
	if (!h->oldest || rec->end_time < h->oldest)
		h->oldest = rec->end_time > 0 ? rec->end_time : 1;
	span = rec->end_time - rec->submit_time;
	if (span > h->span)
		h->span = span;
}

/* --- the commit source ---------------------------------------------------- */

static int64_t cutoff(const struct history *h)
{
	return mer_now() - (int64_t)h->ctx->conf->job_history_days * 86400;
}

/* Too many records: at once; too old ones: looked for now and then. */
static bool trim_due(struct history *h)
{
	const struct conf *c = h->ctx->conf;

	if (!h->count && !h->nops)
		return false;
	if (h->count + h->nops > c->job_history_max)
		return true;
	if (mer_now() < h->trim_after)
		return false;
	return !c->job_history_days || (h->oldest && h->oldest < cutoff(h));
}

static bool src_pending(void *arg)
{
	struct history *h = arg;

	return h->ops || h->span != h->span_saved || trim_due(h);
}

/* The history_ids entries of the record at key: put (del false) or
 * deleted.  The count of writes, or -1 with err. */
static int ids_update(struct state *st, struct history *h, const uint8_t *key,
		      bool del, struct mer_error *err)
{
	uint32_t job = state_key_u32(key + 8, 4),
		 array = state_key_u32(key + 12, 4), under[2] = {job, array};
	int n = array && array != job ? 2 : 1;
	uint8_t ik[8];

	state_u32_key(job, ik + 4);
	for (int i = 0; i < n; i++) {
		state_u32_key(under[i], ik);
		if (del ? state_del(st, h->ids, ik, 8, err)
			: state_put(st, h->ids, ik, 8, key, HIST_KEY_LEN, err))
			return -1;
	}
	return n;
}

struct trim_walk {
	struct history *h;
	size_t over;	/* records beyond JobHistoryMax */
	int64_t before; /* records that ended before this go */
	uint8_t (*keys)[HIST_KEY_LEN];
	size_t n;
};

static int trim_one(const void *k, size_t klen, const void *v, size_t vlen,
		    void *arg)
{
	struct trim_walk *w = arg;

	(void)v;
	(void)vlen;
	if (klen != HIST_KEY_LEN)
		return 0; /* not one of ours */
	if (w->n >= w->over && key_end(k) >= w->before)
		return -1; /* the rest is young enough */
	memcpy(w->keys[w->n], k, HIST_KEY_LEN);
	return ++w->n < HIST_TRIM_BATCH ? 0 : -1;
}

/* Drop the oldest records that are too old or too many, a batch at most. */
static long trim(struct state *st, struct history *h, struct mer_error *err)
{
	const struct conf *c = h->ctx->conf;
	struct trim_walk w = {h, 0, 0, NULL, 0};
	size_t total = h->count + h->nops;
	long writes = 0;

	h->trimmed = 0;
	if (!trim_due(h))
		return 0;
	w.over = total > c->job_history_max ? total - c->job_history_max : 0;
	w.before = c->job_history_days ? cutoff(h) : INT64_MAX;
	w.keys = xcalloc(HIST_TRIM_BATCH, sizeof(*w.keys));
	if (state_range(st, h->db, NULL, 0, trim_one, &w, err) < 0)
		goto fail;
	for (size_t i = 0; i < w.n; i++) {
		if (state_del(st, h->db, w.keys[i], HIST_KEY_LEN, err) < 0 ||
		    ids_update(st, h, w.keys[i], true, err) < 0)
			goto fail;
		writes++;
	}
	h->trimmed = w.n;
	free(w.keys);
	if (w.n)
		log_debug("history: %zu records dropped (JobHistoryDays=%u "
			  "JobHistoryMax=%u)",
			  w.n, c->job_history_days, c->job_history_max);
	return writes;
fail:
	free(w.keys);
	return -1;
}

static long src_collect(struct state *st, void *arg, struct mer_error *err)
{
	struct history *h = arg;
	struct hist_op *op;
	long writes = 0, n;
	uint8_t v[8];

	for (op = h->ops; op; op = op->next) {
		if (state_put(st, h->db, op->key, HIST_KEY_LEN, op->buf,
			      op->len, err) < 0 ||
		    (n = ids_update(st, h, op->key, false, err)) < 0)
			return -1;
		writes += 1 + n;
	}
	if (h->span != h->span_saved) {
		put_be64(v, (uint64_t)h->span);
		if (state_put(st, h->meta, HIST_META_SPAN,
			      strlen(HIST_META_SPAN), v, 8, err) < 0)
			return -1;
		writes++;
	}
	if ((n = trim(st, h, err)) < 0)
		return -1;
	return writes + n;
}

static int first_key(const void *k, size_t klen, const void *v, size_t vlen,
		     void *arg)
{
	int64_t *oldest = arg;

	(void)v;
	(void)vlen;
	*oldest = klen == HIST_KEY_LEN ? key_end(k) : 0;
	return -1;
}

/* The oldest record's end, read again after the table changed. */
static void find_oldest(struct history *h)
{
	struct mer_error err;

	h->oldest = 0;
	if (state_range(h->ctx->state, h->db, NULL, 0, first_key, &h->oldest,
			&err) < 0)
		log_warnx("history: %s", err.text);
}

static void src_done(void *arg, bool ok)
{
	struct history *h = arg;
	bool trimmed = h->trimmed > 0;

	if (!ok) {
		h->trimmed = 0; /* the writes stay queued for the next one */
		return;
	}
	h->count += h->nops;
	h->count = h->count > h->trimmed ? h->count - h->trimmed : 0;
	/* a full batch leaves more to drop: next turn; else at the next
	 * look */
	h->trim_after =
		h->trimmed == HIST_TRIM_BATCH ? 0 : mer_now() + HIST_TRIM_EVERY;
	h->trimmed = 0;
	ops_clear(h);
	h->span_saved = h->span;
	if (trimmed)
		find_oldest(h);
}

static const struct state_source history_source = {
	.name = "history",
	.pending = src_pending,
	.collect = src_collect,
	.done = src_done,
};

static int read_span(const void *v, size_t len, void *arg)
{
	int64_t *span = arg;

	if (len == 8)
		*span = (int64_t)get_be64(v);
	return 0;
}

int history_open(struct mctld *ctx, struct mer_error *err)
{
	struct history *h = xcalloc(1, sizeof(*h));

	h->ctx = ctx;
	h->ops_tail = &h->ops;
	ctx->history = h;
	if (state_db_open(ctx->state, "history", &h->db, err) < 0 ||
	    state_db_open(ctx->state, "history_ids", &h->ids, err) < 0 ||
	    state_db_open(ctx->state, "meta", &h->meta, err) < 0 ||
	    state_count(ctx->state, h->db, &h->count, err) < 0)
		return -1;
	if (state_get(ctx->state, h->meta, HIST_META_SPAN,
		      strlen(HIST_META_SPAN), read_span, &h->span, err) < 0 &&
	    errno != ENOENT)
		return -1;
	h->span_saved = h->span;
	find_oldest(h);
	state_add_source(ctx->state, &history_source, h);
	return 0;
}

void history_close(struct mctld *ctx)
{
	struct history *h = ctx->history;

	if (!h)
		return;
	ops_clear(h);
	free(h);
	ctx->history = NULL;
}

size_t history_count(const struct mctld *ctx)
{
	const struct history *h = ctx->history;

	return h ? h->count : 0;
}

/* --- queries ------------------------------------------------------------ */

static bool has_u32(const uint32_t *v, size_t n, uint32_t x)
{
	for (size_t i = 0; i < n; i++)
		if (v[i] == x)
			return true;
	return false;
}

static bool has_str(char *const *v, size_t n, const char *x)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i], x) == 0)
			return true;
	return false;
}

bool history_match(const Meridian__JobHistoryRequest *req,
		   const Meridian__JobRecord *rec, int64_t now)
{
	const Meridian__JobDesc *d = rec->desc;
	int64_t end = req->end ? req->end : now;
	bool ended = mer_job_state_final(rec->state);

	if (req->n_job_ids &&
	    !has_u32(req->job_ids, req->n_job_ids, rec->job_id) &&
	    !(rec->array_job_id &&
	      has_u32(req->job_ids, req->n_job_ids, rec->array_job_id)))
		return false;
	if (req->n_user_ids &&
	    !has_u32(req->user_ids, req->n_user_ids, rec->user_id))
		return false;
	if (req->n_accounts &&
	    !has_str(req->accounts, req->n_accounts, d ? d->account : ""))
		return false;
	if (req->n_partitions &&
	    !has_str(req->partitions, req->n_partitions, d ? d->partition : ""))
		return false;
	if (req->n_names &&
	    !has_str(req->names, req->n_names, d ? d->name : ""))
		return false;
	if (req->n_states) {
		bool found = false;

		for (size_t i = 0; i < req->n_states && !found; i++)
			found = req->states[i] == rec->state;
		if (!found)
			return false;
	}
	if (rec->submit_time > end)
		return false;
	return !ended || !req->start || rec->end_time >= req->start;
}

struct scan {
	const Meridian__JobHistoryRequest *req;
	struct history_page *pg;
	int64_t now, stop_after; /* ends past this cannot match */
	struct mer_error *err;
};

static void page_add(struct history_page *pg, Meridian__JobRecord *rec,
		     size_t size)
{
	if (pg->n == pg->cap) {
		pg->cap = pg->cap ? 2 * pg->cap : 64;
		pg->jobs = xrealloc(pg->jobs, pg->cap * sizeof(*pg->jobs));
		pg->sizes = xrealloc(pg->sizes, pg->cap * sizeof(*pg->sizes));
		pg->owned = xrealloc(pg->owned, pg->cap * sizeof(*pg->owned));
	}
	pg->jobs[pg->n] = rec;
	pg->sizes[pg->n] = size;
	pg->owned[pg->n] = true;
	pg->n++;
	pg->used += size + 8; /* tag and length */
}

/* One record of the walk: kept when it matches and fits; -1 stops. */
static int scan_one(const void *k, size_t klen, const void *v, size_t vlen,
		    void *arg)
{
	struct scan *s = arg;
	struct history_page *pg = s->pg;
	Meridian__JobRecord *rec;

	if (klen != HIST_KEY_LEN)
		return 0;
	if (key_end(k) > s->stop_after)
		return -1;
	if (pg->n && pg->used + vlen + 8 > pg->budget) {
		memcpy(pg->next, k, HIST_KEY_LEN);
		pg->next_len = HIST_KEY_LEN;
		return -1;
	}
	rec = meridian__job_record__unpack(NULL, vlen, v);
	if (!rec) {
		log_warnx("history: the record of job %u does not decode; "
			  "skipped",
			  state_key_u32((const uint8_t *)k + 8, 4));
		return 0;
	}
	if (!history_match(s->req, rec, s->now)) {
		meridian__job_record__free_unpacked(rec, NULL);
		return 0;
	}
	page_add(pg, rec, vlen);
	return 0;
}

static int fetch_one(const void *v, size_t vlen, void *arg)
{
	struct scan *s = arg;
	Meridian__JobRecord *rec = meridian__job_record__unpack(NULL, vlen, v);

	if (!rec)
		return 0;
	if (history_match(s->req, rec, s->now))
		page_add(s->pg, rec, vlen);
	else
		meridian__job_record__free_unpacked(rec, NULL);
	return 0;
}

struct id_walk {
	uint32_t id;
	uint8_t (*keys)[HIST_KEY_LEN];
	size_t n, cap;
};

static int id_one(const void *k, size_t klen, const void *v, size_t vlen,
		  void *arg)
{
	struct id_walk *w = arg;

	if (klen != 8 || state_key_u32(k, 4) != w->id)
		return -1;
	if (vlen != HIST_KEY_LEN)
		return 0;
	if (w->n == w->cap) {
		w->cap = w->cap ? 2 * w->cap : 16;
		w->keys = xrealloc(w->keys, w->cap * sizeof(*w->keys));
	}
	memcpy(w->keys[w->n++], v, HIST_KEY_LEN);
	return 0;
}

/* Jobs asked for by id: looked up, all in this one page. */
static int scan_ids(struct history *h, struct scan *s)
{
	struct state *st = h->ctx->state;

	for (size_t i = 0; i < s->req->n_job_ids; i++) {
		struct id_walk w = {s->req->job_ids[i], NULL, 0, 0};
		uint8_t from[8];

		if (i && has_u32(s->req->job_ids, i, w.id))
			continue;
		state_u32_key(w.id, from);
		state_u32_key(0, from + 4);
		if (state_range(st, h->ids, from, 8, id_one, &w, s->err) < 0) {
			free(w.keys);
			return -1;
		}
		for (size_t k = 0; k < w.n; k++) {
			/* a task under its array's id that is asked for by
			 * its own id too: found there */
			uint32_t job = state_key_u32(w.keys[k] + 8, 4);

			if (job != w.id &&
			    has_u32(s->req->job_ids, s->req->n_job_ids, job))
				continue;
			if (state_get(st, h->db, w.keys[k], HIST_KEY_LEN,
				      fetch_one, s, s->err) < 0 &&
			    errno != ENOENT) {
				free(w.keys);
				return -1;
			}
		}
		free(w.keys);
	}
	return 0;
}

int history_scan(struct mctld *ctx, const Meridian__JobHistoryRequest *req,
		 const void *from, size_t flen, struct history_page *pg,
		 struct mer_error *err)
{
	struct history *h = ctx->history;
	struct scan s = {req, pg, mer_now(), INT64_MAX, err};
	uint8_t start[HIST_KEY_LEN];
	int64_t end;

	pg->next_len = 0;
	if (!h)
		return 0;
	if (req->n_job_ids)
		return scan_ids(h, &s);
	/* a job ended at or after the window's start, and was submitted by
	 * its end: so it ended by end + the longest span there is */
	end = req->end ? req->end : s.now;
	if (end < INT64_MAX - h->span)
		s.stop_after = end + h->span;
	hist_key(req->start, 0, 0, start);
	if (!flen || (flen == HIST_KEY_LEN && memcmp(from, start, flen) < 0)) {
		from = start;
		flen = HIST_KEY_LEN;
	}
	return state_range(ctx->state, h->db, from, flen, scan_one, &s, err);
}

void history_page_free(struct history_page *pg)
{
	for (size_t i = 0; i < pg->n; i++)
		if (pg->owned[i])
			meridian__job_record__free_unpacked(pg->jobs[i], NULL);
	free(pg->jobs);
	free(pg->sizes);
	free(pg->owned);
	memset(pg, 0, sizeof(*pg));
}

void history_page_borrow(struct history_page *pg, Meridian__JobRecord *rec,
			 size_t size)
{
	page_add(pg, rec, size);
	pg->owned[pg->n - 1] = false;
}
