/*
 * util.h - small helpers every part uses.  Allocation failures are not
 * recoverable in Meridian's daemons; xmalloc and friends abort() on them
 * (the only exit a library function may take).
 */
#ifndef MER_UTIL_H
#define MER_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <sys/types.h>

void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* malloc'd formatted string */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A growable string; s is always NUL terminated once anything was added. */
struct strbuf {
	char *s;
	size_t len, cap;
};
void strbuf_add(struct strbuf *b, const char *s, size_t n);
void strbuf_addf(struct strbuf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void strbuf_addc(struct strbuf *b, char c);
void strbuf_addn(struct strbuf *b, char c, size_t n); /* n copies of c */
void strbuf_addu(struct strbuf *b, uint64_t v);	      /* decimal */
void strbuf_free(struct strbuf *b);

/* Monotonic and wall clock in seconds / milliseconds. */
int64_t mer_now(void); /* time(NULL) */
int64_t mer_mono_ms(void);

/* Write or read exactly n bytes on a blocking fd, retrying EINTR. */
int write_all(int fd, const void *buf, size_t n);
int read_all(int fd, void *buf, size_t n); /* -1 errno=EPIPE on early EOF */

/* Write data to path atomically (temp file, fsync, rename). */
int write_file_atomic(const char *path, const void *data, size_t n,
		      mode_t mode);
/* Read a whole file; *data malloc'd and NUL terminated. */
int read_file(const char *path, char **data, size_t *n);
/* mkdir -p */
int mkdir_p(const char *path, mode_t mode);
/* rm -rf of a directory tree (no symlink following) */
int remove_tree(const char *path);

/* uid/gid <-> names; return -1 when unknown. */
int user_from_name(const char *name, uid_t *uid, gid_t *gid);
int user_name(uid_t uid, char *buf, size_t n);

bool str_eq_nocase(const char *a, const char *b);
/* qsort/bsearch order of uint32_t values. */
int u32_cmp(const void *a, const void *b);
/* Whether a (alen bytes) and b (blen) are the same non-empty key, in time
 * that depends on the lengths only, not on where they differ. */
bool key_equal(const void *a, size_t alen, const void *b, size_t blen);
int set_nonblock(int fd);
int set_cloexec(int fd);

#endif
