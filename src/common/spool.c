/*
 * spool.c - the files of a job's or step's spool directory: the one writer
 * and the one reader of each (see spool.h for who calls which).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "spool.h"
#include "util.h"

char *spool_path(const char *dir, const char *name)
{
	return xasprintf("%s/%s", dir, name);
}

/* free() that keeps errno, for the paths of failed calls. */
static void free_keep_errno(void *p)
{
	int e = errno;

	free(p);
	errno = e;
}

/* Fail with err "WHAT PATH: strerror(e)"; errno is e. */
static int path_failed(struct mer_error *err, int e, const char *what,
		       const char *path)
{
	mer_error_set(err, "%s %s: %s", what, path, strerror(e));
	errno = e;
	return -1;
}

/* Fail on an empty file, which is one not written yet (a spare
 * directory's, spool.h): err "PATH is empty", errno ENOENT. */
static int empty_file(struct mer_error *err, const char *path)
{
	mer_error_set(err, "%s is empty", path);
	errno = ENOENT;
	return -1;
}

/* fsync what path names (a file, or with O_DIRECTORY a directory). */
static int sync_path(const char *path, int flags, struct mer_error *err)
{
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | flags), e;

	if (fd < 0)
		return path_failed(err, errno, "cannot open", path);
	if (fsync(fd) < 0) {
		e = errno;
		close(fd);
		return path_failed(err, e, "cannot fsync", path);
	}
	close(fd);
	return 0;
}

/* fsync dir and the directory above it (the spool): the names that lead
 * to a file in dir. */
static int sync_dirs(const char *dir, struct mer_error *err)
{
	char *parent = spool_path(dir, "..");
	int rc = sync_path(dir, O_DIRECTORY, err);

	if (rc == 0)
		rc = sync_path(parent, O_DIRECTORY, err);
	free_keep_errno(parent);
	return rc;
}

/* ---- launch ---------------------------------------------------------- */

/* Write dir/name to hold the len bytes of body, 0600: a new file, or one
 * a spare directory kept (emptied) from an earlier unit, so that no inode
 * is made and freed per job (spool.h).  O_NOFOLLOW: the directory is
 * root's, so a link here is not ours to write through.  The bytes go in
 * first and the size is cut to them after, so the file is never seen
 * empty once it held a record.  fchmod, since the umask must not decide
 * the mode.  sync: fsync it, then dir (its name) and dir's parent (the
 * directory's own name, which a spare gets by a rename). */
static int put_file(const char *dir, const char *name, const void *body,
		    size_t len, bool sync, struct mer_error *err)
{
	char *path = spool_path(dir, name);
	int fd = open(path, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	int rc = 0, e = 0;

	if (fd < 0) {
		rc = path_failed(err, errno, "cannot write", path);
		free_keep_errno(path);
		return rc;
	}
	if (fchmod(fd, 0600) < 0 || write_all(fd, body, len) < 0 ||
	    ftruncate(fd, (off_t)len) < 0 || (sync && fsync(fd) < 0)) {
		e = errno;
		rc = -1;
	}
	if (close(fd) < 0 && rc == 0) {
		e = errno;
		rc = -1;
	}
	if (rc < 0)
		path_failed(err, e, "cannot write", path);
	free_keep_errno(path);
	if (rc == 0 && sync)
		rc = sync_dirs(dir, err);
	return rc;
}

int spool_write_launch(const char *dir, const void *body, size_t len,
		       struct mer_error *err)
{
	return put_file(dir, SPOOL_LAUNCH_FILE, body, len, false, err);
}

int spool_launch_mtime(const char *dir, time_t *mtime, struct mer_error *err)
{
	char *path = spool_path(dir, SPOOL_LAUNCH_FILE);
	struct stat st;
	int rc = 0;

	if (stat(path, &st) < 0)
		rc = path_failed(err, errno, "cannot stat", path);
	else if (st.st_size == 0)
		rc = empty_file(err, path);
	else
		*mtime = st.st_mtime;
	free_keep_errno(path);
	return rc;
}

/* Read the record at path into *data (malloc'd, NUL-terminated; *n
 * bytes): 0, or -1 with err ("cannot read PATH: ...", or "PATH is empty"
 * with ENOENT: a spare directory's file not written yet). */
static int read_record(const char *path, char **data, size_t *n,
		       struct mer_error *err)
{
	if (read_file(path, data, n) < 0)
		return path_failed(err, errno, "cannot read", path);
	if (*n == 0) {
		free(*data);
		return empty_file(err, path);
	}
	return 0;
}

/*
 * dir/name unpacked as desc.  NULL with errno: read_record's, or EBADMSG
 * when it does not decode; err then says read_record's sentence or
 * "PATH is not a SHORT_NAME".  *pathp (when not NULL) gets the path,
 * malloc'd, for the caller's own message.
 */
static ProtobufCMessage *read_msg(const char *dir, const char *name,
				  const ProtobufCMessageDescriptor *desc,
				  char **pathp, struct mer_error *err)
{
	char *path = spool_path(dir, name), *data;
	ProtobufCMessage *m;
	size_t n;

	if (read_record(path, &data, &n, err) < 0) {
		m = NULL;
		goto out;
	}
	m = protobuf_c_message_unpack(desc, NULL, n, (const uint8_t *)data);
	free_keep_errno(data);
	if (!m) {
		mer_error_set(err, "%s is not a %s", path, desc->short_name);
		errno = EBADMSG;
	}
out:
	if (pathp)
		*pathp = path;
	else
		free_keep_errno(path);
	return m;
}

Meridian__LaunchJob *spool_read_launch_job(const char *dir, uint32_t job_id,
					   struct mer_error *err)
{
	char *path;
	Meridian__LaunchJob *lj = (Meridian__LaunchJob *)read_msg(
		dir, SPOOL_LAUNCH_FILE, &meridian__launch_job__descriptor,
		&path, err);

	if ((lj || errno == EBADMSG) &&
	    (!lj || !lj->job || lj->job->job_id != job_id)) {
		mer_error_set(err, "%s is not the launch request of job %u",
			      path, job_id);
		if (lj)
			meridian__launch_job__free_unpacked(lj, NULL);
		lj = NULL;
		errno = EBADMSG;
	}
	free_keep_errno(path);
	return lj;
}

Meridian__LaunchStep *spool_read_launch_step(const char *dir,
					     struct mer_error *err)
{
	return (Meridian__LaunchStep *)read_msg(
		dir, SPOOL_LAUNCH_FILE, &meridian__launch_step__descriptor,
		NULL, err);
}

/* ---- end ------------------------------------------------------------- */

static int write_end(const char *dir, const ProtobufCMessage *end, bool sync,
		     struct mer_error *err)
{
	size_t n = protobuf_c_message_get_packed_size(end);
	uint8_t *buf = xmalloc(n ? n : 1);
	int rc;

	protobuf_c_message_pack(end, buf);
	rc = put_file(dir, SPOOL_END_FILE, buf, n, sync, err);
	free_keep_errno(buf);
	return rc;
}

int spool_write_end(const char *dir, const ProtobufCMessage *end,
		    struct mer_error *err)
{
	return write_end(dir, end, true, err);
}

int spool_write_end_unsynced(const char *dir, const ProtobufCMessage *end,
			     struct mer_error *err)
{
	return write_end(dir, end, false, err);
}

int spool_sync_end(const char *dir, struct mer_error *err)
{
	char *path = spool_path(dir, SPOOL_END_FILE);
	int rc = sync_path(path, 0, err);

	free_keep_errno(path);
	if (rc == 0)
		rc = sync_dirs(dir, err);
	return rc;
}

Meridian__JobEnd *spool_read_job_end(const char *dir, uint32_t job_id,
				     struct mer_error *err)
{
	char *path;
	Meridian__JobEnd *e = (Meridian__JobEnd *)read_msg(
		dir, SPOOL_END_FILE, &meridian__job_end__descriptor, &path,
		err);

	if (e && e->job_id != job_id) {
		mer_error_set(err, "%s is the end of job %u, not of job %u",
			      path, e->job_id, job_id);
		meridian__job_end__free_unpacked(e, NULL);
		e = NULL;
		errno = EBADMSG;
	}
	free_keep_errno(path);
	return e;
}

Meridian__StepEnd *spool_read_step_end(const char *dir, uint32_t job_id,
				       uint32_t step_id, struct mer_error *err)
{
	char *path;
	Meridian__StepEnd *e = (Meridian__StepEnd *)read_msg(
		dir, SPOOL_END_FILE, &meridian__step_end__descriptor, &path,
		err);

	if (e && (e->job_id != job_id || e->step_id != step_id)) {
		mer_error_set(err,
			      "%s is the end of step %u.%u, not of step %u.%u",
			      path, e->job_id, e->step_id, job_id, step_id);
		meridian__step_end__free_unpacked(e, NULL);
		e = NULL;
		errno = EBADMSG;
	}
	free_keep_errno(path);
	return e;
}

/* ---- pgid ------------------------------------------------------------ */

int spool_write_pgid(const char *dir, pid_t pgid, uid_t uid,
		     struct mer_error *err)
{
	char text[48];

	if (pgid <= 1) {
		errno = EINVAL;
		return mer_error_set(err, "process group %ld is no job's",
				     (long)pgid);
	}
	snprintf(text, sizeof(text), "%ld %u\n", (long)pgid, (unsigned)uid);
	return put_file(dir, SPOOL_PGID_FILE, text, strlen(text), false, err);
}

/* A decimal number with no sign, blank or leading '+', up to max; *s moves
 * past it. */
static bool parse_dec(const char **s, uintmax_t max, uintmax_t *v)
{
	char *end;

	if (**s < '0' || **s > '9')
		return false;
	errno = 0;
	*v = strtoumax(*s, &end, 10);
	if (errno || *v > max)
		return false;
	*s = end;
	return true;
}

int spool_read_pgid(const char *dir, pid_t *pgid, uid_t *uid,
		    struct mer_error *err)
{
	char *path = spool_path(dir, SPOOL_PGID_FILE), *data;
	const char *p;
	uintmax_t g, u;
	size_t n;
	int rc = 0;

	if ((rc = read_record(path, &data, &n, err)) < 0) {
		free_keep_errno(path);
		return rc;
	}
	p = data;
	/* exactly "PGID UID\n", as spool_write_pgid writes it; a file torn
	 * before its newline is not trusted */
	if (strlen(data) != n || !parse_dec(&p, INT32_MAX, &g) || g <= 1 ||
	    *p++ != ' ' || !parse_dec(&p, UINT32_MAX, &u) || *p++ != '\n' ||
	    *p != '\0') {
		mer_error_set(err, "%s does not hold \"PGID UID\"", path);
		errno = EBADMSG;
		rc = -1;
	} else {
		*pgid = (pid_t)g;
		*uid = (uid_t)u;
	}
	free_keep_errno(data);
	free_keep_errno(path);
	return rc;
}
