/*
 * auth.c - the credential front: AuthType= names the plugin that makes and
 * checks credentials; callers never see which.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>

#include "auth.h"
#include "plugin_loader.h"
#include "util.h"

struct auth {
	struct plugin_handle *plugin;
	const struct mer_auth_ops *ops;
	void *state;
};

struct auth *auth_create(const struct conf *c, struct mer_error *err)
{
	struct auth *a = xcalloc(1, sizeof(*a));
	const void *ops;

	a->plugin = plugin_load(c->plugin_dir, "AuthType", c->auth_type,
				MER_PLUGIN_AUTH, MER_AUTH_ABI, &ops, err);
	if (!a->plugin) {
		free(a);
		return NULL;
	}
	a->ops = ops;
	a->state = a->ops->init(
		c->auth_socket && *c->auth_socket ? c->auth_socket : NULL, err);
	if (!a->state) {
		plugin_unload(a->plugin);
		free(a);
		return NULL;
	}
	return a;
}

void auth_destroy(struct auth *a)
{
	if (!a)
		return;
	a->ops->fini(a->state);
	plugin_unload(a->plugin);
	free(a);
}

int auth_encode(struct auth *a, char **cred, size_t *len, struct mer_error *err)
{
	return a->ops->encode(a->state, cred, len, err);
}

int auth_decode(struct auth *a, const char *cred, size_t len, uid_t *uid,
		gid_t *gid, struct mer_error *err)
{
	if (len == 0) {
		errno = EACCES;
		return mer_error_set(err, "request carries no credential");
	}
	return a->ops->decode(a->state, cred, len, uid, gid, err);
}
