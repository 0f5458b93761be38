/*
 * fuzz_conf.c - meridian.conf, as every daemon and command reads it.
 *
 * The input is the file's text, parsed from memory by conf_parse (what
 * conf_load does once it has read the file).  A file that loads must also
 * answer the lookups the daemons make of it: every node and partition by
 * name, the default partition, the plugins' keys, the spool pattern.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const keys[] = {"ClusterName", "GpuHourPrice",
					   "controllerport", "NoSuchKey"};
	struct mer_error err = {""};
	struct conf *c;

	c = conf_parse("fuzz.conf", (const char *)data, size, &err);
	if (!c) {
		/* The contract: every error names the file. */
		if (strncmp(err.text, "fuzz.conf:", 10) != 0)
			abort();
		return 0;
	}
	for (size_t i = 0; i < c->nnodes; i++) {
		const struct conf_node *n = conf_find_node(c, c->nodes[i].name);
		char *spool;

		if (!n || strcmp(n->name, c->nodes[i].name) != 0)
			abort(); /* a defined node that cannot be found */
		spool = conf_expand_node(c->spool_dir, n->name);
		free(spool);
	}
	for (size_t i = 0; i < c->npartitions; i++) {
		const struct conf_partition *p = &c->partitions[i];

		if (!conf_find_partition(c, p->name))
			abort();
		for (size_t k = 0; k < p->nnodes; k++)
			if (!conf_find_node(c, p->nodes[k]))
				abort(); /* checked at load: must hold */
	}
	for (size_t i = 0; i < c->nregions; i++)
		if (!conf_find_region(c, c->regions[i].name))
			abort();
	(void)conf_default_partition(c);
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		(void)conf_get(c, keys[i]);
	(void)conf_is_admin(c, 0);
	(void)conf_is_admin(c, 1000);
	conf_free(c);
	return 0;
}
