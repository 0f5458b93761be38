/*
 * state.c - mctld's LMDB store and the group commit.
 *
 * StateDir holds one LMDB environment with four databases:
 *   jobs   key: job id as 4-byte big-endian   value: packed JobRecord
 *   specs  key: job id (same)                  value: packed JobSpec
 *   nodes  key: node name                      value: packed NodeRecord
 *   meta   key: "next_job_id"                  value: 4-byte big-endian
 * Big-endian ids sort numerically, so a cursor walks jobs in id order.
 *
 * Every commit is a durable sync (LMDB's default).  state_flush() runs once
 * per loop turn and puts everything dirty into one transaction; the outbox
 * (acks, pushes) is sent only after that commit, so an acknowledged submit
 * survives a kill -9 at any instant.  The next job id is written in the same
 * transaction as the jobs that used it, so ids never repeat.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "mctld.h"
#include "util.h"

/* Generous: the map is sparse and only grows on disk as it is used. */
#define STATE_MAP_SIZE	 (8ull << 30)
/* Free bytes under which a failed commit is taken for a full StateDir. */
#define STATE_FULL_BELOW (1ull << 20)
#define META_NEXT_JOB_ID "next_job_id"

struct spec_op {
	uint32_t id;
	bool del;
	uint8_t *buf;
	size_t len;
	struct spec_op *next;
};

struct state {
	char *dir;
	MDB_env *env;
	MDB_dbi jobs, specs, nodes, meta;
	MDB_txn *txn; /* the write transaction in progress */
	int lock_fd;
	struct spec_op *ops, **ops_tail;
	uint32_t stored_next_id; /* as last committed */
	uint64_t commits;
	uint64_t trimmed_at; /* commits when state_trim last ran */
	int fail_next;	     /* tests: the next commit fails so */
	void *map;	     /* LMDB's map of data.mdb */
	size_t map_len;
	int64_t last_fail_log;
	/* what the commits cost, for the debug log */
	uint64_t stat_commits, stat_writes, stat_us;
};

static void find_map(struct state *st);

/* LMDB's error rc as errno and err.  A full disk or map says so first:
 * the text reaches the user whose submit it refused. */
static int mdb_fail(struct mer_error *err, int rc, const char *what)
{
	if (rc == ENOSPC || rc == EDQUOT)
		mer_error_set(err, "StateDir is full (LMDB %s: %s)", what,
			      mdb_strerror(rc));
	else if (rc == MDB_MAP_FULL)
		mer_error_set(err,
			      "StateDir is full: its %llu GiB database map "
			      "is used up (LMDB %s: %s)",
			      STATE_MAP_SIZE >> 30, what, mdb_strerror(rc));
	else
		mer_error_set(err, "LMDB %s: %s", what, mdb_strerror(rc));
	errno = rc == MDB_MAP_FULL ? ENOSPC : rc > 0 ? rc : EIO;
	return -1;
}

static void id_key(uint32_t id, uint8_t key[4])
{
	key[0] = (uint8_t)(id >> 24);
	key[1] = (uint8_t)(id >> 16);
	key[2] = (uint8_t)(id >> 8);
	key[3] = (uint8_t)id;
}

static uint32_t key_id(const MDB_val *k)
{
	const uint8_t *p = k->mv_data;

	if (k->mv_size != 4)
		return 0;
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

struct state *state_open(const char *dir, struct mer_error *err)
{
	struct state *st;
	MDB_txn *txn;
	char *lock;
	int rc;

	if (!dir || !*dir) {
		mer_error_set(err, "StateDir= is not set; mctld needs a "
				   "directory for its database");
		errno = EINVAL;
		return NULL;
	}
	if (mkdir_p(dir, 0700) < 0) {
		mer_error_set(err, "StateDir=%s: cannot create: %s", dir,
			      strerror(errno));
		return NULL;
	}
	st = xcalloc(1, sizeof(*st));
	st->dir = xstrdup(dir);
	st->ops_tail = &st->ops;
	st->lock_fd = -1;
	st->trimmed_at = UINT64_MAX; /* loading touched every page */

	/* One controller per StateDir: LMDB would allow two writers in turn,
	 * but two mctlds would hand out the same job ids. */
	lock = xasprintf("%s/mctld.lock", dir);
	st->lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (st->lock_fd < 0) {
		mer_error_set(err, "StateDir=%s: cannot open %s: %s", dir, lock,
			      strerror(errno));
		free(lock);
		goto fail;
	}
	if (flock(st->lock_fd, LOCK_EX | LOCK_NB) < 0) {
		int e = errno;

		mer_error_set(err,
			      "StateDir=%s is in use by another mctld "
			      "(%s is locked)",
			      dir, lock);
		free(lock);
		errno = e == EWOULDBLOCK ? EBUSY : e;
		goto fail;
	}
	free(lock);

	if ((rc = mdb_env_create(&st->env)) != 0) {
		mdb_fail(err, rc, "env_create");
		goto fail;
	}
	mdb_env_set_maxdbs(st->env, 8);
	if ((rc = mdb_env_set_mapsize(st->env, STATE_MAP_SIZE)) != 0) {
		mdb_fail(err, rc, "set_mapsize");
		goto fail;
	}
	/* MDB_NOTLS: the one loop owns every transaction anyway. */
	if ((rc = mdb_env_open(st->env, dir, MDB_NOTLS, 0600)) != 0) {
		mer_error_set(err, "StateDir=%s: cannot open the database: %s",
			      dir, mdb_strerror(rc));
		errno = rc > 0 ? rc : EIO;
		goto fail;
	}
	find_map(st);
	if ((rc = mdb_txn_begin(st->env, NULL, 0, &txn)) != 0) {
		mdb_fail(err, rc, "txn_begin");
		goto fail;
	}
	if ((rc = mdb_dbi_open(txn, "jobs", MDB_CREATE, &st->jobs)) != 0 ||
	    (rc = mdb_dbi_open(txn, "specs", MDB_CREATE, &st->specs)) != 0 ||
	    (rc = mdb_dbi_open(txn, "nodes", MDB_CREATE, &st->nodes)) != 0 ||
	    (rc = mdb_dbi_open(txn, "meta", MDB_CREATE, &st->meta)) != 0) {
		mdb_txn_abort(txn);
		mdb_fail(err, rc, "dbi_open");
		goto fail;
	}
	if ((rc = mdb_txn_commit(txn)) != 0) {
		mdb_fail(err, rc, "commit");
		goto fail;
	}
	return st;
fail:
	state_close(st);
	return NULL;
}

static void spec_ops_clear(struct state *st)
{
	struct spec_op *op, *next;

	for (op = st->ops; op; op = next) {
		next = op->next;
		free(op->buf);
		free(op);
	}
	st->ops = NULL;
	st->ops_tail = &st->ops;
}

void state_close(struct state *st)
{
	if (!st)
		return;
	if (st->txn)
		mdb_txn_abort(st->txn);
	if (st->env)
		mdb_env_close(st->env);
	if (st->lock_fd >= 0)
		close(st->lock_fd);
	spec_ops_clear(st);
	free(st->dir);
	free(st);
}

uint64_t state_commits(const struct state *st)
{
	return st->commits;
}

/*
 * Writes go through pwrite, but LMDB reads (and copies on write) pages
 * through its read-only map, so every page a commit touched stays mapped
 * and counts in mctld's RSS although it is only clean page cache.  Give
 * the mappings back (the page cache keeps the data; a later read is a minor
 * fault) so that RSS shows what mctld really holds: the jobs in memory.
 */
void state_trim(struct state *st)
{
	MDB_envinfo info;
	MDB_stat ms;
	size_t len;

	if (st->commits == st->trimmed_at || !st->map)
		return;
	st->trimmed_at = st->commits;
	if (mdb_env_info(st->env, &info) != 0 ||
	    mdb_env_stat(st->env, &ms) != 0)
		return;
	len = (size_t)(info.me_last_pgno + 1) * ms.ms_psize;
	if (len > st->map_len)
		len = st->map_len;
	if (madvise(st->map, len, MADV_DONTNEED) < 0)
		log_debug("state: madvise: %s", strerror(errno));
}

/* LMDB does not say where it mapped data.mdb (me_mapaddr is only set for
 * MDB_FIXEDMAP): find the mapping of that file in /proc/self/maps. */
static void find_map(struct state *st)
{
	char *path = xasprintf("%s/data.mdb", st->dir), real[4096], line[4600];
	FILE *f;

	if (!realpath(path, real)) {
		free(path);
		return;
	}
	free(path);
	f = fopen("/proc/self/maps", "re");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		unsigned long lo, hi;
		char *name = strchr(line, '/');
		size_t n;

		if (!name || sscanf(line, "%lx-%lx", &lo, &hi) != 2)
			continue;
		n = strlen(name);
		if (n && name[n - 1] == '\n')
			name[n - 1] = '\0';
		if (strcmp(name, real) == 0) {
			st->map = (void *)lo;
			st->map_len = hi - lo;
			break;
		}
	}
	fclose(f);
}

void state_log_stats(struct state *st)
{
	if (!st->stat_commits)
		return;
	log_debug("state: %llu commits, %.1f writes and %.3f ms each",
		  (unsigned long long)st->stat_commits,
		  (double)st->stat_writes / (double)st->stat_commits,
		  (double)st->stat_us / (double)st->stat_commits / 1000.0);
	st->stat_commits = st->stat_writes = st->stat_us = 0;
}

/* --- reading ----------------------------------------------------------- */

static int each_record(struct state *st, MDB_dbi dbi,
		       int (*fn)(const MDB_val *k, const MDB_val *v, void *arg),
		       void *arg, struct mer_error *err)
{
	MDB_txn *txn;
	MDB_cursor *cur;
	MDB_val k, v;
	int rc;

	if ((rc = mdb_txn_begin(st->env, NULL, MDB_RDONLY, &txn)) != 0)
		return mdb_fail(err, rc, "txn_begin");
	if ((rc = mdb_cursor_open(txn, dbi, &cur)) != 0) {
		mdb_txn_abort(txn);
		return mdb_fail(err, rc, "cursor_open");
	}
	rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
	while (rc == 0) {
		if (fn(&k, &v, arg) < 0)
			break;
		rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
	}
	mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	if (rc != 0 && rc != MDB_NOTFOUND)
		return mdb_fail(err, rc, "cursor_get");
	return 0;
}

struct load_arg {
	void (*job_fn)(Meridian__JobRecord *rec, void *arg);
	void (*node_fn)(Meridian__NodeRecord *rec, void *arg);
	void (*id_fn)(uint32_t id, void *arg);
	void *arg;
};

static int load_job(const MDB_val *k, const MDB_val *v, void *arg)
{
	struct load_arg *la = arg;
	Meridian__JobRecord *rec;

	rec = meridian__job_record__unpack(NULL, v->mv_size, v->mv_data);
	if (!rec || rec->job_id != key_id(k)) {
		/* Never crash on a bad record: skip it, loudly. */
		log_warnx("state: job record %u does not decode; skipped",
			  key_id(k));
		if (rec)
			meridian__job_record__free_unpacked(rec, NULL);
		return 0;
	}
	la->job_fn(rec, la->arg);
	return 0;
}

int state_load_jobs(struct state *st,
		    void (*fn)(Meridian__JobRecord *rec, void *arg), void *arg,
		    struct mer_error *err)
{
	struct load_arg la = {.job_fn = fn, .arg = arg};

	return each_record(st, st->jobs, load_job, &la, err);
}

static int load_node(const MDB_val *k, const MDB_val *v, void *arg)
{
	struct load_arg *la = arg;
	Meridian__NodeRecord *rec;

	rec = meridian__node_record__unpack(NULL, v->mv_size, v->mv_data);
	if (!rec) {
		log_warnx("state: node record %.*s does not decode; skipped",
			  (int)k->mv_size, (const char *)k->mv_data);
		return 0;
	}
	la->node_fn(rec, la->arg);
	return 0;
}

int state_load_nodes(struct state *st,
		     void (*fn)(Meridian__NodeRecord *rec, void *arg),
		     void *arg, struct mer_error *err)
{
	struct load_arg la = {.node_fn = fn, .arg = arg};

	return each_record(st, st->nodes, load_node, &la, err);
}

static int spec_id(const MDB_val *k, const MDB_val *v, void *arg)
{
	struct load_arg *la = arg;

	(void)v;
	la->id_fn(key_id(k), la->arg);
	return 0;
}

int state_spec_ids(struct state *st, void (*fn)(uint32_t id, void *arg),
		   void *arg, struct mer_error *err)
{
	struct load_arg la = {.id_fn = fn, .arg = arg};

	return each_record(st, st->specs, spec_id, &la, err);
}

int state_get_next_id(struct state *st, uint32_t *id, struct mer_error *err)
{
	MDB_txn *txn;
	MDB_val k = {strlen(META_NEXT_JOB_ID), (void *)META_NEXT_JOB_ID}, v;
	int rc;

	*id = 1;
	if ((rc = mdb_txn_begin(st->env, NULL, MDB_RDONLY, &txn)) != 0)
		return mdb_fail(err, rc, "txn_begin");
	rc = mdb_get(txn, st->meta, &k, &v);
	if (rc == 0 && v.mv_size == 4)
		*id = key_id(&v);
	mdb_txn_abort(txn);
	if (rc != 0 && rc != MDB_NOTFOUND)
		return mdb_fail(err, rc, "get next_job_id");
	if (*id == 0)
		*id = 1;
	st->stored_next_id = *id;
	return 0;
}

Meridian__JobSpec *state_get_spec(struct state *st, uint32_t id,
				  struct mer_error *err)
{
	MDB_txn *txn;
	MDB_val k, v;
	uint8_t key[4];
	Meridian__JobSpec *spec = NULL;
	const uint8_t *q;
	size_t qlen;
	int rc;

	/* Not yet committed (asked in the turn it was submitted)? */
	if ((q = state_queued_spec(st, id, &qlen))) {
		spec = meridian__job_spec__unpack(NULL, qlen, q);
		if (!spec) {
			mer_error_set(
				err, "job %u: queued spec does not decode", id);
			errno = EIO;
		}
		return spec;
	}
	id_key(id, key);
	k.mv_size = 4;
	k.mv_data = key;
	if ((rc = mdb_txn_begin(st->env, NULL, MDB_RDONLY, &txn)) != 0) {
		mdb_fail(err, rc, "txn_begin");
		return NULL;
	}
	rc = mdb_get(txn, st->specs, &k, &v);
	if (rc == 0) {
		spec = meridian__job_spec__unpack(NULL, v.mv_size, v.mv_data);
		if (!spec) {
			mer_error_set(err,
				      "job %u: stored script and "
				      "environment do not decode",
				      id);
			errno = EIO;
		}
	} else if (rc == MDB_NOTFOUND) {
		mer_error_set(err, "the script of job %u is no longer kept",
			      id);
		errno = ENOENT;
	} else {
		mdb_fail(err, rc, "get spec");
	}
	mdb_txn_abort(txn);
	return spec;
}

/* --- writing ----------------------------------------------------------- */

int state_txn_begin(struct state *st, struct mer_error *err)
{
	int rc;

	if (st->txn) {
		errno = EBUSY;
		return mer_error_set(err, "a write transaction is open");
	}
	if ((rc = mdb_txn_begin(st->env, NULL, 0, &st->txn)) != 0) {
		st->txn = NULL;
		return mdb_fail(err, rc, "txn_begin");
	}
	return 0;
}

/* Pack msg straight into the map (MDB_RESERVE): no copy, no malloc. */
static int put_msg(struct state *st, MDB_dbi dbi, MDB_val *k,
		   const ProtobufCMessage *msg, struct mer_error *err)
{
	MDB_val v;
	int rc;

	v.mv_size = protobuf_c_message_get_packed_size(msg);
	v.mv_data = NULL;
	if ((rc = mdb_put(st->txn, dbi, k, &v, MDB_RESERVE)) != 0)
		return mdb_fail(err, rc, "put");
	protobuf_c_message_pack(msg, v.mv_data);
	return 0;
}

int state_txn_put_job(struct state *st, const Meridian__JobRecord *rec,
		      struct mer_error *err)
{
	uint8_t key[4];
	MDB_val k = {4, key};

	id_key(rec->job_id, key);
	return put_msg(st, st->jobs, &k, &rec->base, err);
}

int state_txn_put_spec(struct state *st, uint32_t id, const uint8_t *buf,
		       size_t len, struct mer_error *err)
{
	uint8_t key[4];
	MDB_val k = {4, key}, v = {len, (void *)buf};
	int rc;

	id_key(id, key);
	if ((rc = mdb_put(st->txn, st->specs, &k, &v, 0)) != 0)
		return mdb_fail(err, rc, "put spec");
	return 0;
}

int state_txn_del_spec(struct state *st, uint32_t id, struct mer_error *err)
{
	uint8_t key[4];
	MDB_val k = {4, key};
	int rc;

	id_key(id, key);
	rc = mdb_del(st->txn, st->specs, &k, NULL);
	if (rc != 0 && rc != MDB_NOTFOUND)
		return mdb_fail(err, rc, "del spec");
	return 0;
}

int state_txn_put_node(struct state *st, const Meridian__NodeRecord *rec,
		       struct mer_error *err)
{
	MDB_val k = {strlen(rec->name), rec->name};

	if (k.mv_size == 0 || k.mv_size > 511) {
		errno = EINVAL;
		return mer_error_set(err, "node record without a usable name");
	}
	return put_msg(st, st->nodes, &k, &rec->base, err);
}

int state_txn_put_next_id(struct state *st, uint32_t id, struct mer_error *err)
{
	uint8_t val[4];
	MDB_val k = {strlen(META_NEXT_JOB_ID), (void *)META_NEXT_JOB_ID};
	MDB_val v = {4, val};
	int rc;

	id_key(id, val);
	if ((rc = mdb_put(st->txn, st->meta, &k, &v, 0)) != 0)
		return mdb_fail(err, rc, "put next_job_id");
	return 0;
}

/*
 * After a failed write: is StateDir's filesystem (all but) out of room?
 * LMDB reports a write that stopped short, as a full disk makes it, as
 * EIO; the user should read that StateDir is full, not an I/O error.
 */
static bool statedir_full(const struct state *st)
{
	struct statvfs sv;

	return statvfs(st->dir, &sv) == 0 &&
	       (unsigned long long)sv.f_bavail * sv.f_frsize <
		       STATE_FULL_BELOW;
}

int state_txn_commit(struct state *st, struct mer_error *err)
{
	int rc;

	if (!st->txn) {
		errno = EINVAL;
		return mer_error_set(err, "no write transaction is open");
	}
	if (st->fail_next) {
		rc = st->fail_next;
		st->fail_next = 0;
		mdb_txn_abort(st->txn);
		st->txn = NULL;
		return mdb_fail(err, rc, "commit");
	}
	rc = mdb_txn_commit(st->txn);
	st->txn = NULL;
	if (rc == EIO && statedir_full(st))
		rc = ENOSPC; /* LMDB says EIO for a short write */
	if (rc != 0)
		return mdb_fail(err, rc, "commit");
	st->commits++;
	return 0;
}

void state_fail_next_commit(struct state *st, int rc)
{
	st->fail_next = rc;
}

void state_txn_abort(struct state *st)
{
	if (st->txn)
		mdb_txn_abort(st->txn);
	st->txn = NULL;
}

void state_queue_spec(struct state *st, uint32_t id, uint8_t *packed,
		      size_t len)
{
	struct spec_op *op = xcalloc(1, sizeof(*op));

	op->id = id;
	op->buf = packed;
	op->len = len;
	*st->ops_tail = op;
	st->ops_tail = &op->next;
}

void state_queue_spec_delete(struct state *st, uint32_t id)
{
	struct spec_op *op = xcalloc(1, sizeof(*op));

	op->id = id;
	op->del = true;
	*st->ops_tail = op;
	st->ops_tail = &op->next;
}

const uint8_t *state_queued_spec(struct state *st, uint32_t id, size_t *len)
{
	const struct spec_op *op;
	const uint8_t *found = NULL;

	/* The queue holds one turn's submits: short. */
	for (op = st->ops; op; op = op->next) {
		if (op->id != id)
			continue;
		found = op->del ? NULL : op->buf;
		*len = op->len;
	}
	return found;
}

/* After a failed commit: keep the spec writes whose job is still in memory
 * (they are retried), drop those of the submits that were refused. */
static void spec_ops_keep_live(struct mctld *ctx)
{
	struct state *st = ctx->state;
	struct spec_op *op, *next, **tail;

	op = st->ops;
	st->ops = NULL;
	tail = &st->ops;
	for (; op; op = next) {
		next = op->next;
		op->next = NULL;
		if (op->del || job_find(ctx, op->id)) {
			*tail = op;
			tail = &op->next;
		} else {
			free(op->buf);
			free(op);
		}
	}
	st->ops_tail = tail;
}

static int flush_writes(struct mctld *ctx, struct mer_error *err)
{
	struct state *st = ctx->state;
	struct job *j;
	struct node *n;
	struct spec_op *op;
	uint32_t next_id = job_mgr_next_id(ctx->jobs);
	struct timespec t0, t1;
	uint64_t writes = 0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (state_txn_begin(st, err) < 0)
		return -1;
	TAILQ_FOREACH(j, job_mgr_dirty(ctx), dirty_entry) {
		if (state_txn_put_job(st, j->rec, err) < 0)
			goto fail;
		writes++;
	}
	for (op = st->ops; op; op = op->next) {
		if (op->del ? state_txn_del_spec(st, op->id, err)
			    : state_txn_put_spec(st, op->id, op->buf, op->len,
						 err))
			goto fail;
		writes++;
	}
	TAILQ_FOREACH(n, node_mgr_dirty(ctx), dirty_entry) {
		Meridian__NodeRecord rec;

		node_record_fill(n, &rec);
		if (state_txn_put_node(st, &rec, err) < 0)
			goto fail;
		writes++;
	}
	if (next_id != st->stored_next_id &&
	    state_txn_put_next_id(st, next_id, err) < 0)
		goto fail;
	if (state_txn_commit(st, err) < 0)
		return -1;
	st->stored_next_id = next_id;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	st->stat_commits++;
	st->stat_writes += writes;
	st->stat_us += (uint64_t)((t1.tv_sec - t0.tv_sec) * 1000000 +
				  (t1.tv_nsec - t0.tv_nsec) / 1000);
	return 0;
fail:
	state_txn_abort(st);
	return -1;
}

void state_flush(struct mctld *ctx)
{
	struct state *st = ctx->state;
	struct mer_error err = {""};
	bool writes;
	char why[240];
	int code;

	writes = !TAILQ_EMPTY(job_mgr_dirty(ctx)) ||
		 !TAILQ_EMPTY(node_mgr_dirty(ctx)) || st->ops ||
		 job_mgr_next_id(ctx->jobs) != st->stored_next_id;
	if (!writes) {
		if (!rpc_outbox_empty(ctx))
			rpc_outbox_flush(ctx, true, 0, NULL);
		return;
	}
	job_mgr_flush_lazy(ctx); /* a commit happens: take them along */
	errno = 0;
	if (flush_writes(ctx, &err) == 0) {
		spec_ops_clear(st);
		job_mgr_committed(ctx);
		node_mgr_committed(ctx);
		rpc_outbox_flush(ctx, true, 0, NULL);
		return;
	}
	/* Nothing of this turn is acknowledged: refused submits leave
	 * memory, other changes stay dirty and are retried next turn. */
	code = errno ? errno : EIO;
	if (mer_now() != st->last_fail_log) {
		log_warnx("state: commit to StateDir=%s failed: %s; requests "
			  "of this turn are refused",
			  st->dir, err.text);
		st->last_fail_log = mer_now();
	}
	snprintf(why, sizeof(why),
		 "mctld could not record the request: %s; it was not done",
		 err.text);
	job_mgr_drop_uncommitted(ctx);
	spec_ops_keep_live(ctx);
	rpc_outbox_flush(ctx, false, code, why);
}
