/*
 * state.c - mctld's LMDB store and the group commit.  It knows LMDB and
 * nothing else: which tables exist and what goes in them belongs to the
 * subsystems, each of which registers a commit source (state_add_source).
 *
 * StateDir holds one LMDB environment with named databases: state.c's own
 * "meta" record of the schema version, and whatever the sources open
 * (doc/architecture.md lists them).
 *
 * Every commit is a durable sync (LMDB's default).  state_commit() runs
 * once per loop turn: when any source has something to write, every source
 * puts what it changed into one transaction, the transaction commits, and
 * each source hears whether it did.  The caller sends the outbox (acks,
 * pushes) only after that, so an acknowledged submit survives a kill -9 at
 * any instant.
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
#define STATE_MAP_SIZE (8ull << 30)
/* Free bytes under which a failed commit is taken for a full StateDir. */
#define STATE_FULL_BELOW  (1ull << 20)
#define STATE_MAX_DBS	  32
#define STATE_MAX_SOURCES 16
/* A commit this slow is logged, at most once a minute. */
#define STATE_SLOW_COMMIT_US 500000
#define STATE_SLOW_LOG_EVERY 60
#define META_SCHEMA	     "schema_version"

struct source {
	const struct state_source *ops;
	void *arg;
};

struct state {
	char *dir;
	MDB_env *env;
	MDB_dbi meta;
	MDB_txn *txn; /* the write transaction in progress */
	int lock_fd;
	struct source sources[STATE_MAX_SOURCES];
	size_t nsources;
	uint32_t schema; /* as found when opened, before any migration */
	uint64_t commits;
	uint64_t trimmed_at; /* commits when state_trim last ran */
	int fail_next;	     /* tests: the next commit fails so */
	void *map;	     /* LMDB's map of data.mdb */
	size_t map_len;
	int64_t last_fail_log, last_slow_log;
	/* what the commits cost, for the debug log */
	uint64_t stat_commits, stat_writes, stat_us;
};

static void find_map(struct state *st);
static int schema_check(struct state *st, struct mer_error *err);

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

void state_u32_key(uint32_t id, uint8_t key[4])
{
	key[0] = (uint8_t)(id >> 24);
	key[1] = (uint8_t)(id >> 16);
	key[2] = (uint8_t)(id >> 8);
	key[3] = (uint8_t)id;
}

uint32_t state_key_u32(const void *key, size_t len)
{
	const uint8_t *p = key;

	if (len != 4)
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
	mdb_env_set_maxdbs(st->env, STATE_MAX_DBS);
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
	if ((rc = mdb_dbi_open(txn, "meta", MDB_CREATE, &st->meta)) != 0) {
		mdb_txn_abort(txn);
		mdb_fail(err, rc, "dbi_open");
		goto fail;
	}
	if ((rc = mdb_txn_commit(txn)) != 0) {
		mdb_fail(err, rc, "commit");
		goto fail;
	}
	if (schema_check(st, err) < 0)
		goto fail;
	return st;
fail:
	state_close(st);
	return NULL;
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

/* --- the schema version --------------------------------------------------- */

/*
 * The layout a StateDir holds is STATE_SCHEMA_VERSION (mctld.h).  One that
 * says nothing was written before versions were recorded: version 1 when
 * it holds anything, else a new StateDir.  Each step below brings a
 * StateDir from version `from` to from + 1, inside the transaction that
 * records the new number, so a migration is done whole or not at all.  A
 * newer StateDir is refused: this mctld would misread what it does not
 * know and, worse, write over it.
 */
struct migration {
	uint32_t from;
	const char *what;
	int (*fn)(struct state *st, MDB_txn *txn, struct mer_error *err);
};

static const struct migration migrations[] = {
	/* 2 adds the version record; the tables of version 1 (jobs, specs,
	 * nodes, meta's next_job_id) are unchanged. */
	{1, "record the schema version", NULL},
	/* 3 adds the "probes" table (measured links, node rates), which
	 * probe.c creates when absent: nothing older changes. */
	{2, "make room for the measured links (probes)", NULL},
};

static int put_schema(struct state *st, MDB_txn *txn, uint32_t v,
		      struct mer_error *err)
{
	uint8_t val[4];
	MDB_val k = {strlen(META_SCHEMA), (void *)META_SCHEMA}, d = {4, val};
	int rc;

	state_u32_key(v, val);
	if ((rc = mdb_put(txn, st->meta, &k, &d, 0)) != 0)
		return mdb_fail(err, rc, "put schema_version");
	return 0;
}

/* Whether the environment holds anything but state.c's own meta. */
static int env_is_empty(MDB_txn *txn, MDB_dbi main_db, bool *empty)
{
	MDB_cursor *cur;
	MDB_val k, v;
	int rc;

	*empty = true;
	if ((rc = mdb_cursor_open(txn, main_db, &cur)) != 0)
		return rc;
	/* The main database lists the named ones; look into each. */
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0 && *empty;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		char name[64];
		MDB_dbi dbi;
		MDB_stat ms;

		if (k.mv_size == 0 || k.mv_size >= sizeof(name))
			continue;
		memcpy(name, k.mv_data, k.mv_size);
		name[k.mv_size] = '\0';
		if (mdb_dbi_open(txn, name, 0, &dbi) != 0)
			continue;
		if (mdb_stat(txn, dbi, &ms) == 0 && ms.ms_entries > 0)
			*empty = false;
	}
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND || rc == 0 ? 0 : rc;
}

static int schema_check(struct state *st, struct mer_error *err)
{
	MDB_val k = {strlen(META_SCHEMA), (void *)META_SCHEMA}, v;
	MDB_txn *txn;
	MDB_dbi main_db;
	uint32_t found;
	bool recorded = false;
	int rc;

	if ((rc = mdb_txn_begin(st->env, NULL, 0, &txn)) != 0)
		return mdb_fail(err, rc, "txn_begin");
	rc = mdb_get(txn, st->meta, &k, &v);
	if (rc == 0 && v.mv_size == 4) {
		found = state_key_u32(v.mv_data, 4);
		recorded = true;
	} else if (rc == MDB_NOTFOUND || rc == 0) {
		bool empty;

		if ((rc = mdb_dbi_open(txn, NULL, 0, &main_db)) != 0 ||
		    (rc = env_is_empty(txn, main_db, &empty)) != 0) {
			mdb_txn_abort(txn);
			return mdb_fail(err, rc, "read the database list");
		}
		found = empty ? STATE_SCHEMA_VERSION : 1;
	} else {
		mdb_txn_abort(txn);
		return mdb_fail(err, rc, "get schema_version");
	}
	st->schema = found;
	if (found > STATE_SCHEMA_VERSION || found == 0) {
		mdb_txn_abort(txn);
		errno = EPROTO;
		return mer_error_set(err,
				     "StateDir=%s holds schema version %u, "
				     "written by a newer mctld; this one "
				     "(%s) reads versions 1 to %u: run the "
				     "newer mctld, or give this one another "
				     "StateDir",
				     st->dir, found, PACKAGE_VERSION,
				     STATE_SCHEMA_VERSION);
	}
	for (const struct migration *m = migrations;
	     m < migrations + sizeof(migrations) / sizeof(migrations[0]); m++) {
		if (m->from < found)
			continue;
		if (m->fn && m->fn(st, txn, err) < 0) {
			mdb_txn_abort(txn);
			return -1;
		}
		log_info("state: StateDir=%s: schema %u -> %u: %s", st->dir,
			 m->from, m->from + 1, m->what);
	}
	if (found != STATE_SCHEMA_VERSION || !recorded) {
		if (put_schema(st, txn, STATE_SCHEMA_VERSION, err) < 0) {
			mdb_txn_abort(txn);
			return -1;
		}
		if ((rc = mdb_txn_commit(txn)) != 0)
			return mdb_fail(err, rc, "commit the schema version");
		return 0;
	}
	mdb_txn_abort(txn);
	return 0;
}

uint32_t state_schema_found(const struct state *st)
{
	return st->schema;
}

/* --- tables -------------------------------------------------------------- */

int state_db_open(struct state *st, const char *name, unsigned *db,
		  struct mer_error *err)
{
	MDB_txn *txn;
	MDB_dbi dbi;
	int rc;

	if (st->txn) {
		errno = EBUSY;
		return mer_error_set(err, "state: %s opened inside a commit",
				     name);
	}
	if ((rc = mdb_txn_begin(st->env, NULL, 0, &txn)) != 0)
		return mdb_fail(err, rc, "txn_begin");
	if ((rc = mdb_dbi_open(txn, name, MDB_CREATE, &dbi)) != 0) {
		mdb_txn_abort(txn);
		return mdb_fail(err, rc, "dbi_open");
	}
	if ((rc = mdb_txn_commit(txn)) != 0)
		return mdb_fail(err, rc, "commit");
	*db = dbi;
	return 0;
}

/* --- reading ----------------------------------------------------------- */

int state_each(struct state *st, unsigned db,
	       int (*fn)(const void *k, size_t klen, const void *v, size_t vlen,
			 void *arg),
	       void *arg, struct mer_error *err)
{
	MDB_txn *txn;
	MDB_cursor *cur;
	MDB_val k, v;
	int rc;

	if ((rc = mdb_txn_begin(st->env, NULL, MDB_RDONLY, &txn)) != 0)
		return mdb_fail(err, rc, "txn_begin");
	if ((rc = mdb_cursor_open(txn, db, &cur)) != 0) {
		mdb_txn_abort(txn);
		return mdb_fail(err, rc, "cursor_open");
	}
	rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
	while (rc == 0) {
		if (fn(k.mv_data, k.mv_size, v.mv_data, v.mv_size, arg) < 0)
			break;
		rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
	}
	mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	if (rc != 0 && rc != MDB_NOTFOUND)
		return mdb_fail(err, rc, "cursor_get");
	return 0;
}

/* Inside a commit, reads see its writes: they use its transaction. */
static int read_txn(struct state *st, MDB_txn **txn, struct mer_error *err)
{
	int rc;

	if (st->txn) {
		*txn = st->txn;
		return 0;
	}
	if ((rc = mdb_txn_begin(st->env, NULL, MDB_RDONLY, txn)) != 0)
		return mdb_fail(err, rc, "txn_begin");
	return 0;
}

static void read_done(struct state *st, MDB_txn *txn)
{
	if (txn != st->txn)
		mdb_txn_abort(txn);
}

int state_range(struct state *st, unsigned db, const void *from, size_t flen,
		int (*fn)(const void *k, size_t klen, const void *v,
			  size_t vlen, void *arg),
		void *arg, struct mer_error *err)
{
	MDB_txn *txn;
	MDB_cursor *cur;
	MDB_val k = {flen, (void *)from}, v;
	int rc;

	if (read_txn(st, &txn, err) < 0)
		return -1;
	if ((rc = mdb_cursor_open(txn, db, &cur)) != 0) {
		read_done(st, txn);
		return mdb_fail(err, rc, "cursor_open");
	}
	rc = mdb_cursor_get(cur, &k, &v, flen ? MDB_SET_RANGE : MDB_FIRST);
	while (rc == 0) {
		if (fn(k.mv_data, k.mv_size, v.mv_data, v.mv_size, arg) < 0)
			break;
		rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
	}
	mdb_cursor_close(cur);
	read_done(st, txn);
	if (rc != 0 && rc != MDB_NOTFOUND)
		return mdb_fail(err, rc, "cursor_get");
	return 0;
}

int state_count(struct state *st, unsigned db, size_t *n, struct mer_error *err)
{
	MDB_txn *txn;
	MDB_stat ms;
	int rc;

	if (read_txn(st, &txn, err) < 0)
		return -1;
	rc = mdb_stat(txn, db, &ms);
	read_done(st, txn);
	if (rc != 0)
		return mdb_fail(err, rc, "stat");
	*n = ms.ms_entries;
	return 0;
}

int state_get(struct state *st, unsigned db, const void *key, size_t klen,
	      int (*fn)(const void *v, size_t vlen, void *arg), void *arg,
	      struct mer_error *err)
{
	MDB_txn *txn;
	MDB_val k = {klen, (void *)key}, v;
	int rc, ret;

	if ((rc = mdb_txn_begin(st->env, NULL, MDB_RDONLY, &txn)) != 0)
		return mdb_fail(err, rc, "txn_begin");
	rc = mdb_get(txn, db, &k, &v);
	if (rc == MDB_NOTFOUND) {
		mdb_txn_abort(txn);
		errno = ENOENT;
		return mer_error_set(err, "no such record");
	}
	if (rc != 0) {
		mdb_txn_abort(txn);
		return mdb_fail(err, rc, "get");
	}
	/* fn reads v while the transaction still holds its pages */
	ret = fn(v.mv_data, v.mv_size, arg);
	mdb_txn_abort(txn);
	return ret;
}

/* --- writing ----------------------------------------------------------- */

static int need_txn(const struct state *st, struct mer_error *err)
{
	if (st->txn)
		return 0;
	errno = EINVAL;
	return mer_error_set(err, "state: a write outside a commit");
}

int state_put(struct state *st, unsigned db, const void *key, size_t klen,
	      const void *val, size_t vlen, struct mer_error *err)
{
	MDB_val k = {klen, (void *)key}, v = {vlen, (void *)val};
	int rc;

	if (need_txn(st, err) < 0)
		return -1;
	if ((rc = mdb_put(st->txn, db, &k, &v, 0)) != 0)
		return mdb_fail(err, rc, "put");
	return 0;
}

/* Pack msg straight into the map (MDB_RESERVE): no copy, no malloc. */
int state_put_msg(struct state *st, unsigned db, const void *key, size_t klen,
		  const ProtobufCMessage *msg, struct mer_error *err)
{
	MDB_val k = {klen, (void *)key}, v;
	int rc;

	if (need_txn(st, err) < 0)
		return -1;
	v.mv_size = protobuf_c_message_get_packed_size(msg);
	v.mv_data = NULL;
	if ((rc = mdb_put(st->txn, db, &k, &v, MDB_RESERVE)) != 0)
		return mdb_fail(err, rc, "put");
	protobuf_c_message_pack(msg, v.mv_data);
	return 0;
}

int state_del(struct state *st, unsigned db, const void *key, size_t klen,
	      struct mer_error *err)
{
	MDB_val k = {klen, (void *)key};
	int rc;

	if (need_txn(st, err) < 0)
		return -1;
	rc = mdb_del(st->txn, db, &k, NULL);
	if (rc != 0 && rc != MDB_NOTFOUND)
		return mdb_fail(err, rc, "del");
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
	       (unsigned long long)sv.f_bavail * sv.f_frsize < STATE_FULL_BELOW;
}

void state_fail_next_commit(struct state *st, int rc)
{
	st->fail_next = rc;
}

/* --- the group commit ----------------------------------------------------- */

void state_add_source(struct state *st, const struct state_source *src,
		      void *arg)
{
	/* A fixed few, known at start: running out is a programming error. */
	if (st->nsources == STATE_MAX_SOURCES)
		fatalx("state: more than %d commit sources", STATE_MAX_SOURCES);
	st->sources[st->nsources].ops = src;
	st->sources[st->nsources].arg = arg;
	st->nsources++;
}

static int txn_commit(struct state *st, struct mer_error *err)
{
	int rc;

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

static int collect_all(struct state *st, uint64_t *writes,
		       struct mer_error *err)
{
	int rc;

	if ((rc = mdb_txn_begin(st->env, NULL, 0, &st->txn)) != 0) {
		st->txn = NULL;
		return mdb_fail(err, rc, "txn_begin");
	}
	for (size_t i = 0; i < st->nsources; i++) {
		long n = st->sources[i].ops->collect(st, st->sources[i].arg,
						     err);

		if (n < 0) {
			mdb_txn_abort(st->txn);
			st->txn = NULL;
			return -1;
		}
		*writes += (uint64_t)n;
	}
	return txn_commit(st, err);
}

int state_commit(struct state *st, struct mer_error *err)
{
	struct timespec t0, t1;
	uint64_t writes = 0, us;
	bool any = false;
	int rc, e;

	for (size_t i = 0; i < st->nsources && !any; i++)
		any = st->sources[i].ops->pending(st->sources[i].arg);
	if (!any)
		return 0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	errno = 0;
	rc = collect_all(st, &writes, err);
	e = errno ? errno : EIO;
	for (size_t i = 0; i < st->nsources; i++)
		st->sources[i].ops->done(st->sources[i].arg, rc == 0);
	if (rc < 0) {
		if (mer_now() != st->last_fail_log) {
			log_warnx("state: commit to StateDir=%s failed: %s; "
				  "requests of this turn are refused",
				  st->dir, err->text);
			st->last_fail_log = mer_now();
		}
		errno = e;
		return -1;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	us = (uint64_t)((t1.tv_sec - t0.tv_sec) * 1000000 +
			(t1.tv_nsec - t0.tv_nsec) / 1000);
	st->stat_commits++;
	st->stat_writes += writes;
	st->stat_us += us;
	/* mctld waits for its disk: nothing else runs meanwhile */
	if (us >= STATE_SLOW_COMMIT_US &&
	    mer_now() - st->last_slow_log >= STATE_SLOW_LOG_EVERY) {
		log_warnx("state: a commit to StateDir=%s took %.1f s; "
			  "mctld answers nothing while it waits (a slow or "
			  "busy disk?)",
			  st->dir, (double)us / 1e6);
		st->last_slow_log = mer_now();
	}
	return 0;
}
