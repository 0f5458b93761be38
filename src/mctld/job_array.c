/*
 * job_array.c - job arrays (mbatch --array) in the job table.
 *
 * An array is one record while its tasks wait: the array's record (its
 * job id is the array job id) keeps the tasks not started yet as a bitmap
 * (array_pending), so that 10,000 tasks cost one record, one LMDB write
 * and one entry in the pending list.  When the scheduler starts a task,
 * the task becomes a record of its own with a new job id, a copy of the
 * array's description and of its script (so that the array's record may
 * end and be purged while tasks still run); the last task to start takes
 * the array's record itself, as Slurm's does.  Each task is from then on
 * an ordinary job: it runs, ends, is requeued and purged alone.
 *
 * The array's record also keeps which tasks ended ok and which did not
 * (array_ok, array_bad), for an array that depends on this one with
 * aftercorr: its task i may start once task i here ended COMPLETED, so
 * it starts its tasks in the order their counterparts end, not in id
 * order.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "array.h"
#include "log.h"
#include "mctld.h"
#include "util.h"

bool job_array_pending(const Meridian__JobRecord *r)
{
	return r->array_job_id && r->array_job_id == r->job_id &&
	       r->array_pending.len &&
	       array_next(r->array_pending.data, r->array_pending.len, 0) !=
		       UINT32_MAX;
}

size_t job_array_npending(const Meridian__JobRecord *r)
{
	if (!job_array_pending(r))
		return 0;
	return array_count(r->array_pending.data, r->array_pending.len);
}

int job_array_check(struct mctld *ctx, const Meridian__JobDesc *d,
		    struct array_spec *a, struct mer_error *err)
{
	memset(a, 0, sizeof(*a));
	if (!d->array || !*d->array)
		return 0;
	if (d->interactive) {
		errno = EINVAL;
		return mer_error_set(err, "--array is for batch jobs (mbatch)");
	}
	return array_parse(d->array, "--array", ctx->conf->max_array_size, a,
			   err);
}

void job_array_attach(Meridian__JobRecord *rec, struct array_spec *a)
{
	if (!a->bits)
		return;
	rec->array_job_id = rec->job_id;
	/* the bitmap up to the highest task only */
	rec->array_pending.len = a->max / 8 + 1;
	rec->array_pending.data = xmalloc(rec->array_pending.len);
	memcpy(rec->array_pending.data, a->bits, rec->array_pending.len);
	rec->array_max_running = a->max_running;
	rec->array_task_count = a->count;
	rec->array_task_min = a->min;
	rec->array_task_max = a->max;
	rec->array_task_step = a->step;
	rec->array_tasks_left = a->count;
	array_spec_free(a);
}

/* Whether a job ended as afterok wants it. */
static bool ended_ok(const Meridian__JobRecord *r)
{
	return r->state == MERIDIAN__JOB_STATE__JOB_COMPLETED &&
	       r->exit_code == 0 && r->term_signal == 0;
}

static void clear_bit(ProtobufCBinaryData *b, uint32_t i);

/* Task task of meta's array ended, ok or not (aftercorr reads it).
 * Bitmaps as long as the array's task ids need, at most. */
static void mark_task(struct mctld *ctx, struct job *meta, uint32_t task,
		      bool ok)
{
	Meridian__JobRecord *m = meta->rec;
	ProtobufCBinaryData *set = ok ? &m->array_ok : &m->array_bad,
			    *other = ok ? &m->array_bad : &m->array_ok;
	size_t need = (size_t)task / 8 + 1;

	if (task > m->array_task_max)
		return;
	if (set->len < need) {
		set->data = xrealloc(set->data, need);
		memset(set->data + set->len, 0, need - set->len);
		set->len = need;
	}
	set->data[task / 8] |= (uint8_t)(1u << (task % 8));
	clear_bit(other, task);
	job_mark_dirty(ctx, meta);
}

/* n tasks of the array of meta ended, failed of them not ok. */
static void count_ended(struct mctld *ctx, struct job *meta, size_t n,
			size_t failed)
{
	Meridian__JobRecord *m = meta->rec;

	m->array_tasks_left =
		m->array_tasks_left > n ? m->array_tasks_left - (uint32_t)n : 0;
	m->array_tasks_failed += (uint32_t)failed;
	job_mark_dirty(ctx, meta);
}

void job_array_ended(struct mctld *ctx, struct job *j, size_t npending)
{
	struct job *meta;

	if (!j->rec->array_job_id ||
	    !(meta = job_find(ctx, j->rec->array_job_id)))
		return;
	if (npending) { /* the array's record: its tasks will never start */
		const Meridian__JobRecord *r = j->rec;

		for (uint32_t i = array_next(r->array_pending.data,
					     r->array_pending.len, 0);
		     i != UINT32_MAX;
		     i = array_next(r->array_pending.data, r->array_pending.len,
				    i + 1))
			mark_task(ctx, meta, i, false);
		count_ended(ctx, meta, npending, npending);
	} else {
		mark_task(ctx, meta, j->rec->array_task_id, ended_ok(j->rec));
		count_ended(ctx, meta, 1, !ended_ok(j->rec));
	}
}

void job_array_requeued(struct mctld *ctx, struct job *j, bool was_final,
			bool was_ok)
{
	struct job *meta;

	if (!was_final || !j->rec->array_job_id ||
	    !(meta = job_find(ctx, j->rec->array_job_id)))
		return;
	meta->rec->array_tasks_left++;
	if (!was_ok && meta->rec->array_tasks_failed)
		meta->rec->array_tasks_failed--;
	clear_bit(&meta->rec->array_ok, j->rec->array_task_id);
	clear_bit(&meta->rec->array_bad, j->rec->array_task_id);
	job_mark_dirty(ctx, meta);
}

bool job_array_done(const Meridian__JobRecord *r, bool *ok)
{
	*ok = r->array_tasks_failed == 0;
	return r->array_tasks_left == 0;
}

bool job_array_started(const Meridian__JobRecord *r)
{
	return !job_array_pending(r);
}

/* --- aftercorr ---------------------------------------------------------- */

Meridian__DepState job_array_corr(const Meridian__JobRecord *target,
				  uint32_t task)
{
	if (array_bit(target->array_ok.data, target->array_ok.len, task))
		return MERIDIAN__DEP_STATE__DEP_MET;
	if (array_bit(target->array_bad.data, target->array_bad.len, task))
		return MERIDIAN__DEP_STATE__DEP_NEVER;
	/* every task ended and none was this one: nothing to wait for */
	return target->array_tasks_left ? MERIDIAN__DEP_STATE__DEP_WAITING
					: MERIDIAN__DEP_STATE__DEP_MET;
}

/* The array record an aftercorr dependency names, when it is one in
 * memory; NULL: the dependency is afterok on a whole job. */
static const Meridian__JobRecord *corr_target(struct mctld *ctx,
					      const Meridian__JobDep *dp)
{
	const struct job *t;

	if (dp->kind != MERIDIAN__DEP_KIND__DEP_AFTERCORR)
		return NULL;
	t = job_find(ctx, dp->job_id);
	return t && t->rec->array_job_id == dp->job_id ? t->rec : NULL;
}

/* Whether every aftercorr of meta is met for its task. */
static bool task_corr_met(struct mctld *ctx, const Meridian__JobRecord *m,
			  uint32_t task)
{
	for (size_t k = 0; k < m->n_deps; k++) {
		const Meridian__JobRecord *t = corr_target(ctx, m->deps[k]);

		if (t &&
		    job_array_corr(t, task) != MERIDIAN__DEP_STATE__DEP_MET)
			return false;
	}
	return true;
}

uint32_t job_array_next_task(struct mctld *ctx, const struct job *meta,
			     size_t *eligible)
{
	const Meridian__JobRecord *m = meta->rec;
	uint32_t first = UINT32_MAX;
	size_t n = 0;

	for (uint32_t i =
		     array_next(m->array_pending.data, m->array_pending.len, 0);
	     i != UINT32_MAX; i = array_next(m->array_pending.data,
					     m->array_pending.len, i + 1)) {
		if (!task_corr_met(ctx, m, i))
			continue;
		if (first == UINT32_MAX)
			first = i;
		if (!eligible)
			break;
		n++;
	}
	if (eligible)
		*eligible = n;
	return first;
}

Meridian__DepState job_array_corr_dep(const Meridian__JobRecord *m,
				      const Meridian__JobRecord *target)
{
	bool waiting = false;

	for (uint32_t i =
		     array_next(m->array_pending.data, m->array_pending.len, 0);
	     i != UINT32_MAX; i = array_next(m->array_pending.data,
					     m->array_pending.len, i + 1)) {
		Meridian__DepState s = job_array_corr(target, i);

		if (s == MERIDIAN__DEP_STATE__DEP_MET)
			return s;
		waiting |= s == MERIDIAN__DEP_STATE__DEP_WAITING;
	}
	return waiting ? MERIDIAN__DEP_STATE__DEP_WAITING
		       : MERIDIAN__DEP_STATE__DEP_NEVER;
}

/* A deep copy of a record, through its packed form. */
static Meridian__JobRecord *record_copy(const Meridian__JobRecord *r)
{
	size_t len = meridian__job_record__get_packed_size(r);
	uint8_t *buf = xmalloc(len ? len : 1);
	Meridian__JobRecord *c;

	meridian__job_record__pack(r, buf);
	c = meridian__job_record__unpack(NULL, len, buf);
	free(buf);
	return c;
}

static void clear_bit(ProtobufCBinaryData *b, uint32_t i)
{
	if (i / 8 < b->len)
		b->data[i / 8] &= (uint8_t) ~(1u << (i % 8));
}

static void drop_pending(Meridian__JobRecord *r)
{
	free(r->array_pending.data);
	r->array_pending.data = NULL;
	r->array_pending.len = 0;
}

struct job *job_array_split(struct mctld *ctx, struct job *meta)
{
	Meridian__JobRecord *m = meta->rec, *rec;
	struct mer_error err = {""};
	struct job *t;
	uint32_t task;

	if (!job_array_pending(m))
		return meta;
	task = job_array_next_task(ctx, meta, NULL);
	if (task == UINT32_MAX) {
		log_warnx("job %u: no task whose aftercorr is met", m->job_id);
		return NULL;
	}
	clear_bit(&m->array_pending, task);
	job_mark_dirty(ctx, meta);
	if (!job_array_pending(m)) {
		/* the last task takes the array's record */
		drop_pending(m);
		m->array_task_id = task;
		return meta;
	}
	rec = record_copy(m);
	if (!rec) {
		log_warnx("job %u: cannot copy its record for task %u",
			  m->job_id, task);
		return NULL;
	}
	drop_pending(rec);
	rec->job_id = job_mgr_take_id(ctx);
	rec->array_task_id = task;
	if (job_store_copy_spec(ctx, m->job_id, rec->job_id, &err) < 0) {
		log_warnx("job %u: task %u: %s", m->job_id, task, err.text);
		protobuf_c_message_free_unpacked(&rec->base, NULL);
		return NULL;
	}
	t = xcalloc(1, sizeof(*t));
	t->rec = rec;
	t->part = meta->part;
	t->qos = meta->qos;
	t->acct = meta->acct;
	t->tasks_per_node = meta->tasks_per_node;
	t->cpus_per_node = meta->cpus_per_node;
	t->gpus_per_node = meta->gpus_per_node;
	t->mem_per_node = meta->mem_per_node;
	if (meta->node_ok) {
		size_t nn = node_mgr_count(ctx);

		t->node_ok = xcalloc(nn ? nn : 1, sizeof(*t->node_ok));
		memcpy(t->node_ok, meta->node_ok, nn * sizeof(*t->node_ok));
	}
	job_mgr_adopt(ctx, t);
	log_debug("job %u: array task %u_%u is job %u", m->job_id, m->job_id,
		  task, rec->job_id);
	return t;
}

int job_array_cancel_pending(struct mctld *ctx, struct job *meta,
			     const struct array_spec *which, const char *reason)
{
	Meridian__JobRecord *m = meta->rec;
	uint32_t last = UINT32_MAX;
	int n = 0;

	if (!job_array_pending(m))
		return 0;
	for (uint32_t i = array_next(which->bits, which->nbytes, 0);
	     i != UINT32_MAX;
	     i = array_next(which->bits, which->nbytes, i + 1)) {
		if (!array_bit(m->array_pending.data, m->array_pending.len, i))
			continue;
		clear_bit(&m->array_pending, i);
		mark_task(ctx, meta, i, false);
		last = i;
		n++;
	}
	if (!n)
		return 0;
	job_mark_dirty(ctx, meta);
	/* these tasks ended, never started; the last one, when it takes
	 * the record, is counted by the record's end */
	count_ended(ctx, meta, (size_t)n - !job_array_pending(m),
		    (size_t)n - !job_array_pending(m));
	if (!job_array_pending(m)) {
		/* nothing left to start: the record ends as its last task */
		drop_pending(m);
		m->array_task_id = last;
		job_mgr_end(ctx, meta, MERIDIAN__JOB_STATE__JOB_CANCELLED, 0, 0,
			    0, reason);
	}
	return n;
}
