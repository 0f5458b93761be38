/*
 * hwgpu.c - GPUs in an hwloc topology, numbered as CUDA numbers them.
 */
#include "config.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "hwgpu.h"
#include "util.h"

#define PCI_VENDOR_NVIDIA 0x10de
#define PCI_CLASS_VGA 0x0300
#define PCI_CLASS_3D 0x0302

/* "cuda3" is cuda and a number; "cudaX" and "cuda" are not. */
static bool name_is(const char *name, const char *prefix)
{
	size_t n = strlen(prefix);

	if (!name || strncmp(name, prefix, n) != 0 || !name[n])
		return false;
	for (const char *p = name + n; *p; p++)
		if (!isdigit((unsigned char)*p))
			return false;
	return true;
}

static bool is_gpu_osdev(hwloc_obj_t o)
{
	if (o->subtype &&
	    (!strcmp(o->subtype, "CUDA") || !strcmp(o->subtype, "NVML")))
		return true;
	return name_is(o->name, "cuda") || name_is(o->name, "nvml");
}

static bool is_gpu_pcidev(hwloc_obj_t o)
{
	return o->attr->pcidev.vendor_id == PCI_VENDOR_NVIDIA &&
	       (o->attr->pcidev.class_id == PCI_CLASS_3D ||
		o->attr->pcidev.class_id == PCI_CLASS_VGA);
}

static hwloc_obj_t pci_parent(hwloc_obj_t o)
{
	for (o = o->parent; o; o = o->parent)
		if (o->type == HWLOC_OBJ_PCI_DEVICE)
			return o;
	return NULL;
}

/* One GPU can show as cudaN, nvmlN and its PCI device: count it once. */
static void add(struct hwgpu **v, size_t *n, hwloc_obj_t key, hwloc_obj_t pci)
{
	for (size_t i = 0; i < *n; i++)
		if ((*v)[i].key == key)
			return;
	*v = xrealloc(*v, (*n + 1) * sizeof(**v));
	(*v)[*n].key = key;
	(*v)[*n].pci = pci;
	(*n)++;
}

static int pci_order(const void *a, const void *b)
{
	const struct hwgpu *x = a, *y = b;
	const struct hwloc_pcidev_attr_s *p, *q;

	if (!x->pci || !y->pci) {
		if (x->pci)
			return -1;
		if (y->pci)
			return 1;
		return x->key->logical_index < y->key->logical_index ? -1 : 1;
	}
	p = &x->pci->attr->pcidev;
	q = &y->pci->attr->pcidev;
	if (p->domain != q->domain)
		return p->domain < q->domain ? -1 : 1;
	if (p->bus != q->bus)
		return p->bus < q->bus ? -1 : 1;
	if (p->dev != q->dev)
		return p->dev < q->dev ? -1 : 1;
	if (p->func != q->func)
		return p->func < q->func ? -1 : 1;
	return 0;
}

size_t hwgpu_list(hwloc_topology_t ht, struct hwgpu **gpus)
{
	size_t n = 0;
	hwloc_obj_t o;

	*gpus = NULL;
	for (o = hwloc_get_next_osdev(ht, NULL); o;
	     o = hwloc_get_next_osdev(ht, o)) {
		hwloc_obj_t pci;
		if (!is_gpu_osdev(o))
			continue;
		pci = pci_parent(o);
		add(gpus, &n, pci ? pci : o, pci);
	}
	for (o = hwloc_get_next_pcidev(ht, NULL); o;
	     o = hwloc_get_next_pcidev(ht, o))
		if (is_gpu_pcidev(o))
			add(gpus, &n, o, o);
	if (n)
		qsort(*gpus, n, sizeof(**gpus), pci_order);
	return n;
}
