/*
 * plugin_loader.h - load a plugin named in meridian.conf.
 *
 * "sched/fifo" is looked up as DIR/sched_fifo.so with DIR the PluginDir=
 * (default: the installed plugin directory).  The plugin's exported
 * MER_PLUGIN_SYMBOL must have the expected kind, ABI and name, and every
 * function member of its ops struct must be set.
 */
#ifndef MER_PLUGIN_LOADER_H
#define MER_PLUGIN_LOADER_H

#include <meridian/plugin.h>

struct plugin_handle;

/* Returns the handle and sets *ops to the plugin's const ops struct (valid
 * until plugin_unload).  NULL with err: "SchedulerType=sched/fifo: ...". */
struct plugin_handle *plugin_load(const char *dir, const char *key,
				  const char *name, uint32_t kind, uint32_t abi,
				  const void **ops, struct mer_error *err);
void plugin_unload(struct plugin_handle *h); /* accepts NULL */
/* The ops plugin_load returned; NULL for NULL. */
const void *plugin_ops(const struct plugin_handle *h);

/* What plugin_load checks once the symbol is found: kind and ABI, the
 * name (hdr.name == name), no NULL function member.  file is the .so, for
 * the message.  0, or -1 with err "KEY=NAME: FILE ...". */
int plugin_check_ops(const void *ops, const char *key, const char *name,
		     const char *file, uint32_t kind, uint32_t abi,
		     struct mer_error *err);
/* The key table of checked ops (ended by a NULL name), NULL when it has
 * none or its kind has no table (auth).  Lives as long as the plugin. */
const struct mer_plugin_key *plugin_ops_keys(const void *ops);

/* Open the plugin only to read its key table: checks it as plugin_load
 * does (with this build's ABI for kind), calls fn(keys, arg) while it is
 * mapped (keys may be NULL), unloads it.  Never calls the plugin's init.
 * 0, or -1 with err when it cannot be loaded. */
int plugin_peek_keys(const char *dir, const char *key, const char *name,
		     uint32_t kind,
		     void (*fn)(const struct mer_plugin_key *keys, void *arg),
		     void *arg, struct mer_error *err);

/* The default plugin directory (configure's pkglibdir). */
const char *plugin_default_dir(void);

#endif
