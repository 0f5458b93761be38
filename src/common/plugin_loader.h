/*
 * plugin_loader.h - load a plugin named in meridian.conf.
 *
 * "sched/fifo" is looked up as DIR/sched_fifo.so with DIR the PluginDir=
 * (default: the installed plugin directory).  The plugin's exported
 * MER_PLUGIN_SYMBOL must have the expected kind, ABI and name.
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

/* The default plugin directory (configure's pkglibdir). */
const char *plugin_default_dir(void);

#endif
