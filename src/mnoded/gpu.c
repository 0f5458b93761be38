/*
 * gpu.c - the GPUs of a node, as hwloc sees them: which objects are GPUs
 * and their order come from hwgpu.h (shared with mstepd's binding, so the
 * indices mctld hands out are the CUDA_VISIBLE_DEVICES indices); here we
 * read what each one is: model, bus id, local CPUs, NUMA node, memory.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hwgpu.h"
#include "mnoded.h"

/* The first value of info `name` on the GPU's OS devices (the key itself
 * when it is one, else the PCI device's children). */
static const char *gpu_info(const struct hwgpu *g, const char *name)
{
	const char *v;

	if (!g->pci)
		return hwloc_obj_get_info_by_name(g->key, name);
	for (hwloc_obj_t c = g->pci->io_first_child; c; c = c->next_sibling) {
		if (c->type != HWLOC_OBJ_OS_DEVICE)
			continue;
		if ((v = hwloc_obj_get_info_by_name(c, name)) && *v)
			return v;
	}
	return NULL;
}

static void gpu_fill(hwloc_topology_t ht, const struct hwgpu *f,
		     struct topo_gpu *g)
{
	hwloc_obj_t anc = hwloc_get_non_io_ancestor_obj(ht, f->key);
	const char *model = gpu_info(f, "GPUModel");
	const char *mem = gpu_info(f, "CUDAGlobalMemorySize"); /* KiB */
	char *s = NULL;

	if (!model && f->pci)
		model = hwloc_obj_get_info_by_name(f->pci, "PCIDevice");
	g->model = gpu_model_short(model ? model : "");
	if (f->pci) {
		const struct hwloc_pcidev_attr_s *p = &f->pci->attr->pcidev;
		g->pci_bus_id = xasprintf("%04x:%02x:%02x.%01x", p->domain,
					  p->bus, p->dev, p->func);
	} else {
		g->pci_bus_id = xstrdup("");
	}
	if (anc && anc->cpuset &&
	    hwloc_bitmap_list_asprintf(&s, anc->cpuset) >= 0) {
		g->cpuset = xstrdup(s);
		free(s);
	} else {
		g->cpuset = xstrdup("");
	}
	g->numa_node = -1;
	if (anc && anc->nodeset && hwloc_bitmap_weight(anc->nodeset) == 1)
		g->numa_node = hwloc_bitmap_first(anc->nodeset);
	g->memory_mb = mem ? strtoull(mem, NULL, 10) / 1024 : 0;
}

/* g's peers: row i of links, less the diagonal and the unknown. */
static void gpu_peers(struct topo_gpu *g, size_t i,
		      const struct hwgpu_link *links, size_t n)
{
	g->peers = xcalloc(n, sizeof(*g->peers));
	g->npeers = 0;
	for (size_t j = 0; j < n; j++) {
		const struct hwgpu_link *l = &links[i * n + j];

		if (j == i || l->kind == HWGPU_LINK_UNKNOWN)
			continue;
		g->peers[g->npeers].gpu = (uint32_t)j;
		g->peers[g->npeers].kind = l->kind;
		g->peers[g->npeers].mbs = l->mbs;
		g->npeers++;
	}
}

int gpu_discover(hwloc_topology_t ht, struct topo_gpu **gpus, size_t *n,
		 struct mer_error *err)
{
	struct hwgpu *found;
	size_t nfound = hwgpu_list(ht, &found);
	struct hwgpu_link *links = xcalloc(nfound * nfound, sizeof(*links));

	(void)err; /* nothing here can fail but allocation, which aborts */
	*gpus = xcalloc(nfound ? nfound : 1, sizeof(**gpus));
	hwgpu_links(ht, found, nfound, links);
	for (size_t i = 0; i < nfound; i++) {
		gpu_fill(ht, &found[i], &(*gpus)[i]);
		gpu_peers(&(*gpus)[i], i, links, nfound);
	}
	*n = nfound;
	free(links);
	free(found);
	return 0;
}

void gpu_free_all(struct topo_gpu *gpus, size_t n)
{
	if (!gpus)
		return;
	for (size_t i = 0; i < n; i++) {
		free(gpus[i].model);
		free(gpus[i].pci_bus_id);
		free(gpus[i].cpuset);
		free(gpus[i].peers);
	}
	free(gpus);
}

/* Words in GPU names that are brands, not models. */
static const char *const brand_words[] = {
	"nvidia", "tesla",  "geforce",	"quadro",   "corporation", "amd",
	"ati",	  "radeon", "instinct", "graphics", "intel",	   NULL,
};

/* Series words that take the number after them: "RTX 4090" -> "rtx4090". */
static const char *const series_words[] = {"rtx", "gtx", "titan", "rx", NULL};

static bool in_list(const char *const *list, const char *w)
{
	for (; *list; list++)
		if (!strcmp(*list, w))
			return true;
	return false;
}

static bool all_digits(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!isdigit((unsigned char)*s))
			return false;
	return true;
}

static bool is_model_word(const char *s)
{
	bool digit = false;

	if (!isalpha((unsigned char)*s))
		return false;
	for (; *s; s++)
		digit |= isdigit((unsigned char)*s) != 0;
	return digit;
}

char *gpu_model_short(const char *name)
{
	char *buf, *save = NULL, *words[32];
	const char *lb = strchr(name, '['), *rb;
	size_t nw = 0, len;
	struct strbuf fallback = {0};
	char *res = NULL;

	/* PCI database names put the product in brackets:
	 * "GA100 [A100 SXM4 80GB]" (GA100 is the chip). */
	if (lb && (rb = strchr(lb, ']')) && rb > lb + 1) {
		name = lb + 1;
		len = (size_t)(rb - name);
	} else {
		len = strlen(name);
	}
	buf = xstrndup(name, len);
	for (char *p = buf; *p; p++) {
		unsigned char ch = (unsigned char)*p;
		*p = isalnum(ch) ? (char)tolower(ch) : ' ';
	}
	for (char *tok = strtok_r(buf, " ", &save); tok && nw < 32;
	     tok = strtok_r(NULL, " ", &save))
		words[nw++] = tok;

	for (size_t i = 0; i < nw && !res; i++) {
		if (in_list(brand_words, words[i]))
			continue;
		if (in_list(series_words, words[i]) && i + 1 < nw &&
		    all_digits(words[i + 1]))
			res = xasprintf("%s%s", words[i], words[i + 1]);
		else if (is_model_word(words[i]))
			res = xstrdup(words[i]);
	}
	if (!res) {
		/* Nothing like "a100": glue what is left
		 * ("TITAN V" -> "titanv") */
		strbuf_add(&fallback, "", 0);
		for (size_t i = 0; i < nw; i++)
			if (!in_list(brand_words, words[i]))
				strbuf_add(&fallback, words[i],
					   strlen(words[i]));
		res = fallback.s;
	}
	free(buf);
	return res;
}
