/*
 * plugin_auth.h - credentials (AuthType=).
 *
 * Every request carries a credential made by encode() on the caller's side
 * and checked by decode() on the receiver's side, which learns the caller's
 * uid and gid from it.  A credential is good for one decode (replays are
 * refused) and for a limited time.
 */
#ifndef MERIDIAN_PLUGIN_AUTH_H
#define MERIDIAN_PLUGIN_AUTH_H

#include <sys/types.h>
#include <meridian/plugin.h>

#define MER_AUTH_ABI 1

struct mer_auth_ops {
	struct mer_plugin_header hdr;
	/* socket: AuthSocket= or NULL for the library's default.
	 * Returns an opaque state, or NULL with err filled. */
	void *(*init)(const char *socket, struct mer_error *err);
	void (*fini)(void *state);
	/* On success *cred is malloc'd (caller frees) and *len set. */
	int (*encode)(void *state, char **cred, size_t *len,
		      struct mer_error *err);
	int (*decode)(void *state, const char *cred, size_t len, uid_t *uid,
		      gid_t *gid, struct mer_error *err);
};

#endif
