/*
 * auth.h - credentials for requests, over the AuthType= plugin.
 */
#ifndef MER_AUTH_H
#define MER_AUTH_H

#include <sys/types.h>
#include <meridian/plugin_auth.h>
#include "conf.h"

struct auth;

/* Load AuthType= from PluginDir= and open it.  NULL with err. */
struct auth *auth_create(const struct conf *c, struct mer_error *err);
void auth_destroy(struct auth *a); /* accepts NULL */

/* New credential for one request; *cred malloc'd. */
int auth_encode(struct auth *a, char **cred, size_t *len,
		struct mer_error *err);
int auth_decode(struct auth *a, const char *cred, size_t len, uid_t *uid,
		gid_t *gid, struct mer_error *err);

#endif
