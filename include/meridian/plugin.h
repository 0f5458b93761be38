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
 *
 * Every function member of an ops struct must be set: the loader refuses a
 * NULL one, naming the plugin and the member, so the core never checks a
 * pointer before calling it.
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
	char text[256];
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

/*
 * A global meridian.conf key a plugin owns (ABI 2 of sched, select and
 * price).  The ops struct points at a table of them ended by an entry whose
 * name is NULL (or is NULL itself: no keys).  The core's own key table
 * (src/common/conf.c) does not know these keys: it keeps them with their
 * file and line, and a key that neither the core nor a configured plugin
 * owns is refused as "PATH:LINE: unknown key 'K', expected one of the keys
 * in meridian.conf(5)".
 *
 * check, when not NULL, is called on every value written for the key
 * before the plugin's init, by mctld and by the programs that load no
 * plugin but read meridian.conf (commands, mnoded: they open the plugin
 * only to read this table): 0 when the value is good, else -1 with err
 * saying what is wrong and what is expected; the core puts "PATH:LINE: "
 * in front.  It must not keep value nor touch any state.  The plugin's init
 * then reads the value through struct mer_plugin_conf and parses it.
 */
struct mer_plugin_key {
	const char *name; /* "GpuHourPrice"; matched without regard to case */
	const char *expected; /* the form, for docs: "MODEL:DOLLARS[,...]" */
	int (*check)(const char *value, struct mer_error *err);
};

/* "Unknown" in every view: a time that never comes, a number not known. */
#define MER_TIME_NEVER INT64_MAX

#endif
