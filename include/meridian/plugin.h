/*
 * plugin.h - what every Meridian plugin shares.
 *
 * A plugin is a shared object that exports exactly one symbol,
 * MER_PLUGIN_SYMBOL, a const struct whose first member is a
 * struct mer_plugin_header.  The loader checks the kind and the ABI number
 * before it looks at anything else, so a plugin built against another API
 * is refused at start-up instead of crashing later.
 *
 * Plugins include only the include/meridian/plugin_*.h headers and see the
 * cluster through the views those headers define.  A plugin never logs to
 * stderr and never exits: it returns -1 and fills a struct mer_error.
 */
#ifndef MERIDIAN_PLUGIN_H
#define MERIDIAN_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#define MER_PLUGIN_SYMBOL "meridian_plugin"

enum mer_plugin_kind {
	MER_PLUGIN_SCHED = 1,
	MER_PLUGIN_SELECT = 2,
	MER_PLUGIN_PRICE = 3,
	MER_PLUGIN_AUTH = 4,
};

struct mer_plugin_header {
	uint32_t kind; /* enum mer_plugin_kind */
	uint32_t abi;  /* MER_*_ABI of the header the plugin was built with */
	const char *name; /* "sched/fifo": must match its SchedulerType= */
};

/* The text a user reads when a call fails: what was wrong, what is expected. */
struct mer_error {
	char text[160];
};

/*
 * Read-only access to meridian.conf for a plugin's init.  The returned
 * string lives as long as the configuration (the plugin's whole life);
 * NULL when the key is not set.  Keys are matched without regard to case.
 */
struct mer_plugin_conf {
	const char *(*get)(void *conf, const char *key);
	void *conf;
};

#endif
