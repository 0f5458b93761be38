/*
 * plugin_loader.c - dlopen a plugin and check its kind, ABI and name
 * before trusting a single function pointer in it.
 */
#include "config.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "merr.h"
#include "plugin_loader.h"
#include "util.h"

struct plugin_handle {
	void *dl;
};

static const char *kind_name(uint32_t kind)
{
	switch (kind) {
	case MER_PLUGIN_SCHED:
		return "sched";
	case MER_PLUGIN_SELECT:
		return "select";
	case MER_PLUGIN_PRICE:
		return "price";
	case MER_PLUGIN_AUTH:
		return "auth";
	}
	return "unknown";
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
			      kind == MER_PLUGIN_SCHED    ? "fifo"
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
		mer_error_set(err, "%s=%s: %s does not export '%s': not a "
				   "Meridian plugin",
			      key, name, file, MER_PLUGIN_SYMBOL);
		dlclose(dl);
		return NULL;
	}
	if (hdr->kind != kind || hdr->abi != abi) {
		errno = EINVAL;
		mer_error_set(err, "%s=%s: %s is a %s plugin with ABI %u, "
				   "expected a %s plugin with ABI %u: rebuild it "
				   "against this Meridian",
			      key, name, file, kind_name(hdr->kind), hdr->abi,
			      kind_name(kind), abi);
		dlclose(dl);
		return NULL;
	}
	if (!hdr->name || strcmp(hdr->name, name) != 0) {
		errno = EINVAL;
		mer_error_set(err, "%s=%s: %s calls itself '%s'", key, name,
			      file, hdr->name ? hdr->name : "(null)");
		dlclose(dl);
		return NULL;
	}
	h = xcalloc(1, sizeof(*h));
	h->dl = dl;
	*ops = hdr;
	return h;
}

void plugin_unload(struct plugin_handle *h)
{
	if (!h)
		return;
	dlclose(h->dl);
	free(h);
}
