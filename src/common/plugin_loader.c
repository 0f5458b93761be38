/*
 * plugin_loader.c - dlopen a plugin and check its kind, ABI, name and
 * every function member before trusting a single pointer in it.
 */
#include "config.h"

#include <dlfcn.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <meridian/plugin_auth.h>
#include <meridian/plugin_price.h>
#include <meridian/plugin_sched.h>
#include <meridian/plugin_select.h>

#include "merr.h"
#include "plugin_loader.h"
#include "util.h"

struct plugin_handle {
	void *dl;
	const void *ops;
};

/* The function members of each kind's ops struct: all must be set. */
struct member {
	const char *name;
	size_t off;
};

#define M(type, m)                                                             \
	{                                                                      \
#m, offsetof(type, m)                                          \
	}
static const struct member sched_members[] = {
	M(struct mer_sched_ops, init),
	M(struct mer_sched_ops, fini),
	M(struct mer_sched_ops, schedule),
};
static const struct member select_members[] = {
	M(struct mer_select_ops, init),
	M(struct mer_select_ops, fini),
	M(struct mer_select_ops, select),
};
static const struct member price_members[] = {
	M(struct mer_price_ops, init),
	M(struct mer_price_ops, fini),
	M(struct mer_price_ops, gpu_hour),
};
static const struct member auth_members[] = {
	M(struct mer_auth_ops, init),
	M(struct mer_auth_ops, fini),
	M(struct mer_auth_ops, encode),
	M(struct mer_auth_ops, decode),
};
#undef M

#define NOKEYS ((size_t)-1)
#define N(a)   (sizeof(a) / sizeof((a)[0]))

static const struct kind_info {
	uint32_t kind;
	const char *name;
	const char *example;
	uint32_t abi; /* what this build speaks */
	const struct member *members;
	size_t nmembers;
	size_t keys_off; /* of the key table in the ops, NOKEYS: none */
} kinds[] = {
	{MER_PLUGIN_SCHED, "sched", "fifo", MER_SCHED_ABI, sched_members,
	 N(sched_members), offsetof(struct mer_sched_ops, keys)},
	{MER_PLUGIN_SELECT, "select", "linear", MER_SELECT_ABI, select_members,
	 N(select_members), offsetof(struct mer_select_ops, keys)},
	{MER_PLUGIN_PRICE, "price", "flat", MER_PRICE_ABI, price_members,
	 N(price_members), offsetof(struct mer_price_ops, keys)},
	{MER_PLUGIN_AUTH, "auth", "munge", MER_AUTH_ABI, auth_members,
	 N(auth_members), NOKEYS},
};

static const struct kind_info *kind_find(uint32_t kind)
{
	for (size_t i = 0; i < N(kinds); i++)
		if (kinds[i].kind == kind)
			return &kinds[i];
	return NULL;
}

static const char *kind_name(uint32_t kind)
{
	const struct kind_info *k = kind_find(kind);

	return k ? k->name : "unknown";
}

int plugin_check_ops(const void *ops, const char *key, const char *name,
		     const char *file, uint32_t kind, uint32_t abi,
		     struct mer_error *err)
{
	const struct mer_plugin_header *hdr = ops;
	const struct kind_info *k = kind_find(kind);

	errno = EINVAL;
	if (!k)
		return mer_error_set(err, "%s=%s: no such kind of plugin (%u)",
				     key, name, kind);
	if (hdr->kind != kind || hdr->abi != abi) {
		if (hdr->kind == kind && hdr->abi < abi)
			return mer_error_set(
				err,
				"%s=%s: %s is a %s plugin with ABI %u, "
				"expected ABI %u: it was built against an "
				"older "
				"Meridian, rebuild it against this one",
				key, name, file, kind_name(hdr->kind), hdr->abi,
				abi);
		return mer_error_set(
			err,
			"%s=%s: %s is a %s plugin with ABI %u, "
			"expected a %s plugin with ABI %u: rebuild it "
			"against this Meridian",
			key, name, file, kind_name(hdr->kind), hdr->abi,
			kind_name(kind), abi);
	}
	if (!hdr->name || strcmp(hdr->name, name) != 0)
		return mer_error_set(err, "%s=%s: %s calls itself '%s'", key,
				     name, file,
				     hdr->name ? hdr->name : "(null)");
	for (size_t i = 0; i < k->nmembers; i++) {
		void (*fn)(void);

		memcpy(&fn, (const char *)ops + k->members[i].off, sizeof(fn));
		if (!fn)
			return mer_error_set(err,
					     "%s=%s: %s has no %s function "
					     "(a NULL member), expected every "
					     "member of its ops set",
					     key, name, file,
					     k->members[i].name);
	}
	if (k->keys_off != NOKEYS) {
		const struct mer_plugin_key *keys;

		memcpy(&keys, (const char *)ops + k->keys_off, sizeof(keys));
		for (size_t i = 0; keys && keys[i].name; i++)
			if (!*keys[i].name)
				return mer_error_set(err,
						     "%s=%s: %s declares a key "
						     "with an empty name",
						     key, name, file);
	}
	errno = 0;
	return 0;
}

const struct mer_plugin_key *plugin_ops_keys(const void *ops)
{
	const struct mer_plugin_header *hdr = ops;
	const struct kind_info *k = hdr ? kind_find(hdr->kind) : NULL;
	const struct mer_plugin_key *keys = NULL;

	if (!k || k->keys_off == NOKEYS || hdr->abi != k->abi)
		return NULL;
	memcpy(&keys, (const char *)ops + k->keys_off, sizeof(keys));
	return keys;
}

const char *plugin_default_dir(void)
{
	return PLUGINDIR;
}

struct plugin_handle *plugin_load(const char *dir, const char *key,
				  const char *name, uint32_t kind, uint32_t abi,
				  const void **ops, struct mer_error *err)
{
	const struct mer_plugin_header *hdr;
	struct plugin_handle *h;
	char file[512], *slash;
	void *dl;

	slash = strchr(name, '/');
	if (!slash || slash == name || !slash[1] || strchr(slash + 1, '/') ||
	    strncmp(name, kind_name(kind), (size_t)(slash - name)) != 0 ||
	    strlen(kind_name(kind)) != (size_t)(slash - name)) {
		errno = EINVAL;
		mer_error_set(err, "%s=%s: expected %s/NAME (e.g. %s/%s)", key,
			      name, kind_name(kind), kind_name(kind),
			      kind == MER_PLUGIN_SCHED	  ? "fifo"
			      : kind == MER_PLUGIN_SELECT ? "linear"
			      : kind == MER_PLUGIN_PRICE  ? "flat"
							  : "munge");
		return NULL;
	}
	snprintf(file, sizeof(file), "%s/%.*s_%s.so",
		 dir && *dir ? dir : PLUGINDIR, (int)(slash - name), name,
		 slash + 1);
	dl = dlopen(file, RTLD_NOW | RTLD_LOCAL);
	if (!dl) {
		errno = ENOENT;
		mer_error_set(err, "%s=%s: cannot load %s: %s", key, name, file,
			      dlerror());
		return NULL;
	}
	hdr = dlsym(dl, MER_PLUGIN_SYMBOL);
	if (!hdr) {
		errno = ENOENT;
		mer_error_set(err,
			      "%s=%s: %s does not export '%s': not a "
			      "Meridian plugin",
			      key, name, file, MER_PLUGIN_SYMBOL);
		dlclose(dl);
		return NULL;
	}
	if (plugin_check_ops(hdr, key, name, file, kind, abi, err) < 0) {
		dlclose(dl);
		errno = EINVAL;
		return NULL;
	}
	h = xcalloc(1, sizeof(*h));
	h->dl = dl;
	h->ops = hdr;
	*ops = hdr;
	return h;
}

const void *plugin_ops(const struct plugin_handle *h)
{
	return h ? h->ops : NULL;
}

int plugin_peek_keys(const char *dir, const char *key, const char *name,
		     uint32_t kind,
		     void (*fn)(const struct mer_plugin_key *keys, void *arg),
		     void *arg, struct mer_error *err)
{
	const struct kind_info *k = kind_find(kind);
	struct plugin_handle *h;
	const void *ops;

	if (!k) {
		errno = EINVAL;
		return mer_error_set(err, "%s=%s: no such kind of plugin", key,
				     name);
	}
	h = plugin_load(dir, key, name, kind, k->abi, &ops, err);
	if (!h)
		return -1;
	/* Called while the plugin is mapped: its table lives in it. */
	fn(plugin_ops_keys(ops), arg);
	plugin_unload(h);
	return 0;
}

void plugin_unload(struct plugin_handle *h)
{
	if (!h)
		return;
	dlclose(h->dl);
	free(h);
}
