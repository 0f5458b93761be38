/*
 * topo.c - what a node has, from hwloc and from its NodeName= stanza.
 *
 * hwloc is loaded once at start-up (it scans sysfs and PCI, which can take
 * a while on a big machine): before the loop runs, so nothing waits on it.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "hwgpu.h"
#include "mnoded.h"

static char *bitmap_list(hwloc_const_bitmap_t set)
{
	char *s = NULL;

	if (!set || hwloc_bitmap_list_asprintf(&s, set) < 0 || !s)
		return xstrdup("");
	/* hwloc's allocation: hand back one of ours so callers free() alike */
	char *copy = xstrdup(s);
	free(s);
	return copy;
}

struct topo *topo_load(const char *xml_file, struct mer_error *err)
{
	hwloc_topology_t ht;
	hwloc_obj_t root;
	struct topo *t;
	int depth;

	/* the loader mstepd binds with, so both see one topology */
	if (!(ht = hwgpu_topology_load(xml_file, err)))
		return NULL;

	t = xcalloc(1, sizeof(*t));
	t->source = xstrdup(xml_file && *xml_file ? xml_file : "this machine");
	t->cpus = (uint32_t)hwloc_get_nbobjs_by_type(ht, HWLOC_OBJ_PU);
	t->cores = (uint32_t)hwloc_get_nbobjs_by_type(ht, HWLOC_OBJ_CORE);
	depth = hwloc_get_type_depth(ht, HWLOC_OBJ_PACKAGE);
	t->sockets = depth < 0 ? 1
			       : (uint32_t)hwloc_get_nbobjs_by_depth(
					 ht, (unsigned)depth);
	t->numa_nodes =
		(uint32_t)hwloc_get_nbobjs_by_type(ht, HWLOC_OBJ_NUMANODE);
	root = hwloc_get_root_obj(ht);
	t->memory_mb = root->total_memory >> 20;
	t->cpuset = bitmap_list(root->cpuset);
	if (gpu_discover(ht, &t->gpus, &t->ngpus, err) < 0) {
		hwloc_topology_destroy(ht);
		topo_free(t);
		return NULL;
	}
	hwloc_topology_destroy(ht);
	return t;
}

void topo_free(struct topo *t)
{
	if (!t)
		return;
	gpu_free_all(t->gpus, t->ngpus);
	free(t->cpuset);
	free(t->source);
	free(t);
}

/* Forget g's peers that are not among the first n GPUs. */
static void drop_peers_beyond(struct topo_gpu *g, size_t n)
{
	size_t kept = 0;

	for (size_t k = 0; k < g->npeers; k++)
		if (g->peers[k].gpu < n)
			g->peers[kept++] = g->peers[k];
	g->npeers = kept;
}

void topo_apply_conf(struct topo *t, const struct conf_node *cn,
		     struct strbuf *warnings)
{
	const char *model = cn->gpu_model ? cn->gpu_model : "";

	if (cn->cpus) {
		if (cn->cpus != t->cpus)
			strbuf_addf(warnings,
				    "node %s: CPUs=%u in the config, %s has "
				    "%u: using %u\n",
				    cn->name, cn->cpus, t->source, t->cpus,
				    cn->cpus);
		t->cpus = cn->cpus;
	}
	if (cn->real_memory) {
		/* The config usually says less than the machine has (memory
		 * kept for the OS); only more is worth a warning. */
		if (cn->real_memory > t->memory_mb)
			strbuf_addf(warnings,
				    "node %s: RealMemory=%llu in the config, "
				    "%s has %llu MiB: using %llu\n",
				    cn->name,
				    (unsigned long long)cn->real_memory,
				    t->source, (unsigned long long)t->memory_mb,
				    (unsigned long long)cn->real_memory);
		t->memory_mb = cn->real_memory;
	}
	if (!cn->gpus)
		return;
	if (t->ngpus == 0) {
		/* No real GPU: the configured ones stand in, local to the
		 * whole node. */
		gpu_free_all(t->gpus, 0);
		t->gpus = xcalloc(cn->gpus, sizeof(*t->gpus));
		t->ngpus = cn->gpus;
		for (size_t i = 0; i < t->ngpus; i++) {
			t->gpus[i].model = xstrdup(model);
			t->gpus[i].pci_bus_id = xstrdup("");
			t->gpus[i].cpuset = xstrdup(t->cpuset);
			t->gpus[i].numa_node = -1;
		}
		return;
	}
	if (t->ngpus != cn->gpus)
		strbuf_addf(warnings,
			    "node %s: Gres=%s in the config, %s has %zu "
			    "GPUs: using %zu of them\n",
			    cn->name, cn->gres, t->source, t->ngpus,
			    t->ngpus < cn->gpus ? t->ngpus : (size_t)cn->gpus);
	if (t->ngpus > cn->gpus) {
		for (size_t i = cn->gpus; i < t->ngpus; i++) {
			free(t->gpus[i].model);
			free(t->gpus[i].pci_bus_id);
			free(t->gpus[i].cpuset);
			free(t->gpus[i].peers);
		}
		t->ngpus = cn->gpus;
		for (size_t i = 0; i < t->ngpus; i++)
			drop_peers_beyond(&t->gpus[i], t->ngpus);
	}
	if (!*model)
		return;
	for (size_t i = 0; i < t->ngpus; i++) {
		struct topo_gpu *g = &t->gpus[i];

		if (!*g->model) {
			/* hwloc could not tell: take the admin's word. */
			free(g->model);
			g->model = xstrdup(model);
		} else if (strcmp(g->model, model) != 0) {
			/* The hardware is what jobs will run on. */
			strbuf_addf(warnings,
				    "node %s: Gres=%s in the config, but GPU "
				    "%zu (%s) has model %s: reporting %s\n",
				    cn->name, cn->gres, i, g->pci_bus_id,
				    g->model, g->model);
		}
	}
}

Meridian__Gpu **topo_gpus_msg(const struct topo *t, size_t *n)
{
	Meridian__Gpu **g = xcalloc(t->ngpus ? t->ngpus : 1, sizeof(*g));

	for (size_t i = 0; i < t->ngpus; i++) {
		g[i] = xmalloc(sizeof(*g[i]));
		meridian__gpu__init(g[i]);
		g[i]->index = (uint32_t)i;
		g[i]->model = t->gpus[i].model;
		g[i]->pci_bus_id = t->gpus[i].pci_bus_id;
		g[i]->cpuset = t->gpus[i].cpuset;
		g[i]->numa_node = t->gpus[i].numa_node;
		g[i]->memory_mb = t->gpus[i].memory_mb;
		g[i]->n_peers = t->gpus[i].npeers;
		g[i]->peers = xcalloc(t->gpus[i].npeers, sizeof(*g[i]->peers));
		for (size_t k = 0; k < t->gpus[i].npeers; k++) {
			const struct topo_gpu_peer *p = &t->gpus[i].peers[k];
			Meridian__GpuPeer *m = xmalloc(sizeof(*m));

			meridian__gpu_peer__init(m);
			m->gpu = p->gpu;
			/* enum hwgpu_link_kind has GpuLinkKind's values */
			m->link = (Meridian__GpuLinkKind)p->kind;
			m->bandwidth_mbs = p->mbs;
			g[i]->peers[k] = m;
		}
	}
	*n = t->ngpus;
	return g;
}

void topo_gpus_msg_free(Meridian__Gpu **g, size_t n)
{
	if (!g)
		return;
	for (size_t i = 0; i < n; i++) {
		for (size_t k = 0; k < g[i]->n_peers; k++)
			free(g[i]->peers[k]);
		free(g[i]->peers);
		free(g[i]);
	}
	free(g);
}

char *topo_gpu_nvlink_list(const struct topo_gpu *g)
{
	struct strbuf b = {0};

	strbuf_add(&b, "", 0);
	for (size_t k = 0; k < g->npeers; k++) {
		if (g->peers[k].kind != HWGPU_LINK_NVLINK)
			continue;
		strbuf_addf(&b, "%s%u", b.len ? "," : " nvlink ",
			    g->peers[k].gpu);
	}
	return b.s;
}
