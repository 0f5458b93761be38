/*
 * hwgpu.c - GPUs in an hwloc topology, numbered as CUDA numbers them, and
 * how they are linked to each other, and the one loader of a node's
 * topology.
 */
#include "config.h" /* _GNU_SOURCE, for memfd_create */

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hwgpu.h"
#include "util.h"

#define PCI_VENDOR_NVIDIA 0x10de
#define PCI_CLASS_VGA	  0x0300
#define PCI_CLASS_3D	  0x0302

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

/* The first object that is an ancestor of both a and b (or one of them).
 * hwloc_get_common_ancestor_obj compares depths, which I/O objects have
 * none of (theirs are negative), so walk the parents instead. */
static hwloc_obj_t common_ancestor(hwloc_obj_t a, hwloc_obj_t b)
{
	for (hwloc_obj_t x = a; x; x = x->parent)
		for (hwloc_obj_t y = b; y; y = y->parent)
			if (x == y)
				return x;
	return NULL;
}

static hwloc_obj_t package_of(hwloc_obj_t o)
{
	for (; o; o = o->parent)
		if (o->type == HWLOC_OBJ_PACKAGE)
			return o;
	return NULL;
}

/* The one NUMA node o is local to, -1 when none or several. */
static int numa_of(hwloc_obj_t o)
{
	if (!o->nodeset || hwloc_bitmap_weight(o->nodeset) != 1)
		return -1;
	return hwloc_bitmap_first(o->nodeset);
}

/* Two GPUs without NVLink: PCI when their paths meet in the I/O tree or
 * under one NUMA node (one package when NUMA is unknown), SMP when across
 * NUMA nodes or packages.  A GPU with no PCI device has no known path. */
static uint32_t link_by_place(hwloc_topology_t ht, const struct hwgpu *a,
			      const struct hwgpu *b)
{
	hwloc_obj_t c, la, lb, pa, pb;
	int na, nb;

	if (!a->pci || !b->pci)
		return HWGPU_LINK_UNKNOWN;
	c = common_ancestor(a->pci, b->pci);
	if (c && hwloc_obj_type_is_io(c->type))
		return HWGPU_LINK_PCI;
	la = hwloc_get_non_io_ancestor_obj(ht, a->pci);
	lb = hwloc_get_non_io_ancestor_obj(ht, b->pci);
	if (!la || !lb)
		return HWGPU_LINK_UNKNOWN;
	na = numa_of(la);
	nb = numa_of(lb);
	if (na >= 0 && nb >= 0)
		return na == nb ? HWGPU_LINK_PCI : HWGPU_LINK_SMP;
	pa = package_of(la);
	pb = package_of(lb);
	if (pa && pb)
		return pa == pb ? HWGPU_LINK_PCI : HWGPU_LINK_SMP;
	return HWGPU_LINK_UNKNOWN;
}

#if HWLOC_API_VERSION >= 0x00020100
/* What an object of the NVLinkBandwidth matrix is to us. */
#define NVL_OTHER  (-1) /* a Package (POWER's NVLink to the CPU), ... */
#define NVL_SWITCH (-2) /* a PCI device that is no GPU: an NVSwitch */

/* The GPU (its index in gpus) that o is, or NVL_SWITCH or NVL_OTHER. */
static int nvl_role(hwloc_obj_t o, const struct hwgpu *gpus, size_t n)
{
	hwloc_obj_t pci;

	if (o->type == HWLOC_OBJ_OS_DEVICE)
		pci = pci_parent(o);
	else if (o->type == HWLOC_OBJ_PCI_DEVICE)
		pci = o;
	else
		return NVL_OTHER;
	for (size_t i = 0; i < n; i++)
		if (gpus[i].key == o || (pci && gpus[i].pci == pci))
			return (int)i;
	return o->type == HWLOC_OBJ_PCI_DEVICE ? NVL_SWITCH : NVL_OTHER;
}

static uint64_t max_u64(uint64_t a, uint64_t b)
{
	return a > b ? a : b;
}

static uint64_t min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

/* Union-find over switches: the fabric (a representative switch) of s. */
static size_t fabric_of(size_t *up, size_t s)
{
	while (up[s] != s)
		s = up[s] = up[up[s]];
	return s;
}

/* Raise best[i * n + j] to the NVLink bandwidth between GPUs i and j that
 * matrix d shows: its value between them (the larger way round, should
 * the two differ), or through NVSwitches.
 *
 * An NVSwitch fabric is non-blocking: two GPUs on one get the smaller of
 * their bandwidths to its switches.  Switches joined by a nonzero value
 * are one fabric.  When the matrix has no value between any two switches,
 * all of them are taken as one: hwloc learns NVLinks from NVML, which
 * tells each GPU's links only, so it never sees the trunks between
 * switches (a DGX-2's two boards are joined switch to switch, and its
 * matrix shows none of it); hwloc itself merges all NVSwitches into one
 * (HWLOC_DISTANCES_TRANSFORM_MERGE_SWITCH_PORTS, as lstopo does). */
static void nvl_matrix(const struct hwloc_distances_s *d,
		       const struct hwgpu *gpus, size_t n, uint64_t *best)
{
	size_t nb = d->nbobjs, ns = 0;
	int *role = xcalloc(nb, sizeof(*role));
	size_t *sw = xcalloc(nb, sizeof(*sw)); /* object -> switch */
	size_t *up;
	uint64_t *to_sw, *to_fab;
	bool trunks = false;

	for (size_t k = 0; k < nb; k++) {
		role[k] = nvl_role(d->objs[k], gpus, n);
		if (role[k] == NVL_SWITCH)
			sw[k] = ns++;
	}
	up = xcalloc(ns, sizeof(*up));
	to_sw = xcalloc(n * ns, sizeof(*to_sw));
	to_fab = xcalloc(n * ns, sizeof(*to_fab));
	for (size_t s = 0; s < ns; s++)
		up[s] = s;
	for (size_t k = 0; k < nb; k++) {
		for (size_t l = 0; l < nb; l++) {
			uint64_t v = max_u64(d->values[k * nb + l],
					     d->values[l * nb + k]);

			/* the diagonal is a device's own bandwidth */
			if (k == l || !v)
				continue;
			if (role[k] >= 0 && role[l] >= 0 &&
			    role[k] != role[l]) {
				uint64_t *b = &best[(size_t)role[k] * n +
						    (size_t)role[l]];
				*b = max_u64(*b, v);
			} else if (role[k] >= 0 && role[l] == NVL_SWITCH) {
				/* cudaN and nvmlN of one GPU: count once */
				uint64_t *b =
					&to_sw[(size_t)role[k] * ns + sw[l]];
				*b = max_u64(*b, v);
			} else if (role[k] == NVL_SWITCH &&
				   role[l] == NVL_SWITCH) {
				trunks = true;
				up[fabric_of(up, sw[k])] = fabric_of(up, sw[l]);
			}
		}
	}
	for (size_t s = 0; s < ns; s++)
		if (!trunks)
			up[s] = 0;
	for (size_t g = 0; g < n; g++)
		for (size_t s = 0; s < ns; s++)
			to_fab[g * ns + fabric_of(up, s)] += to_sw[g * ns + s];
	for (size_t i = 0; i < n; i++) {
		for (size_t j = 0; j < n; j++) {
			if (i == j)
				continue;
			for (size_t f = 0; f < ns; f++) {
				uint64_t v = min_u64(to_fab[i * ns + f],
						     to_fab[j * ns + f]);
				best[i * n + j] = max_u64(best[i * n + j], v);
			}
		}
	}
	free(to_fab);
	free(to_sw);
	free(up);
	free(sw);
	free(role);
}

/* best[i * n + j]: the NVLink MB/s between GPUs i and j, 0 none. */
static void nvl_bandwidths(hwloc_topology_t ht, const struct hwgpu *gpus,
			   size_t n, uint64_t *best)
{
	struct hwloc_distances_s **d;
	unsigned nr = 0;

	if (hwloc_distances_get_by_name(ht, "NVLinkBandwidth", &nr, NULL, 0) <
		    0 ||
	    !nr)
		return;
	d = xcalloc(nr, sizeof(*d));
	if (hwloc_distances_get_by_name(ht, "NVLinkBandwidth", &nr, d, 0) == 0)
		for (unsigned m = 0; m < nr; m++) {
			nvl_matrix(d[m], gpus, n, best);
			hwloc_distances_release(ht, d[m]);
		}
	free(d);
}
#else
static void nvl_bandwidths(hwloc_topology_t ht, const struct hwgpu *gpus,
			   size_t n, uint64_t *best)
{
	/* hwloc before 2.1 has no NVLinkBandwidth matrix */
	(void)ht;
	(void)gpus;
	(void)n;
	(void)best;
}
#endif

void hwgpu_links(hwloc_topology_t ht, const struct hwgpu *gpus, size_t n,
		 struct hwgpu_link *links)
{
	uint64_t *best = xcalloc(n * n, sizeof(*best));

	nvl_bandwidths(ht, gpus, n, best);
	for (size_t i = 0; i < n; i++) {
		for (size_t j = 0; j < n; j++) {
			struct hwgpu_link *l = &links[i * n + j];
			uint64_t v = max_u64(best[i * n + j], best[j * n + i]);

			l->kind = HWGPU_LINK_UNKNOWN;
			l->mbs = 0;
			if (i == j)
				continue;
			if (v) {
				l->kind = HWGPU_LINK_NVLINK;
				l->mbs = v > UINT32_MAX ? UINT32_MAX
							: (uint32_t)v;
			} else {
				l->kind = link_by_place(ht, &gpus[i], &gpus[j]);
			}
		}
	}
	free(best);
}

/* What hwloc writes to stderr while it loads an XML file. */
struct xml_capture {
	bool set_verbose; /* we set HWLOC_XML_VERBOSE: unset it after */
	int mem;	  /* where fd 2 points meanwhile, -1 if nowhere */
	int saved;	  /* the real fd 2 */
};

static void capture_start(struct xml_capture *c)
{
	c->set_verbose = false;
	c->mem = c->saved = -1;
	/* whoever set it, to anything, wants hwloc's own way */
	if (getenv("HWLOC_XML_VERBOSE"))
		return;
	/* no stderr to put back: memfd_create would take fd 2 itself */
	if (fcntl(STDERR_FILENO, F_GETFD) < 0)
		return;
	if ((c->mem = memfd_create("hwloc-xml-stderr", MFD_CLOEXEC)) < 0)
		return;
	fflush(stderr);
	c->saved = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3);
	if (c->saved < 0 || setenv("HWLOC_XML_VERBOSE", "1", 1) < 0 ||
	    dup2(c->mem, STDERR_FILENO) < 0) {
		if (c->saved >= 0)
			close(c->saved);
		close(c->mem);
		c->mem = c->saved = -1;
		unsetenv("HWLOC_XML_VERBOSE");
		return;
	}
	c->set_verbose = true;
}

/* Put fd 2 and the environment back; what hwloc said into buf. */
static void capture_stop(struct xml_capture *c, char *buf, size_t len)
{
	ssize_t n = 0;

	buf[0] = '\0';
	if (c->mem >= 0) {
		fflush(stderr);
		dup2(c->saved, STDERR_FILENO);
		close(c->saved);
		n = pread(c->mem, buf, len - 1, 0);
		buf[n > 0 ? n : 0] = '\0';
		close(c->mem);
	}
	if (c->set_verbose)
		unsetenv("HWLOC_XML_VERBOSE");
}

/* The line of path's first XML comment, 0 when none (or unreadable). */
static unsigned first_comment_line(const char *path)
{
	FILE *f = fopen(path, "re");
	char *line = NULL;
	size_t cap = 0;
	unsigned n = 0, found = 0;

	if (!f)
		return 0;
	while (!found && getline(&line, &cap, f) > 0) {
		n++;
		if (strstr(line, "<!--"))
			found = n;
	}
	free(line);
	fclose(f);
	return found;
}

/* hwloc's reason in what it said: its first line that is none of a
 * warning it went on after ("ignoring ...", the DTD), the minimalistic
 * parser's "Failed to parse XML input ..." (two lines, printed after any
 * failure) and "XML component discovery failed.", without hwloc's
 * "BASENAME: " or libxml2's "PATH:" in front.  malloc'd; NULL when there
 * is none. */
static char *hwloc_reason(const char *said, const char *path)
{
	static const char *const not_reasons[] = {
		"ignoring",
		"Loading XML topology",
		"with the minimalistic parser",
		"try enabling full XML support",
		"XML component discovery failed",
	};
	const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	size_t plen = strlen(path), blen = strlen(base);

	for (const char *l = said; *l;) {
		size_t n = strcspn(l, "\n");
		char *line = xstrndup(l, n), *why = NULL;
		bool skip = !*line;

		l += l[n] ? n + 1 : n;
		for (size_t i = 0;
		     !skip && i < sizeof(not_reasons) / sizeof(*not_reasons);
		     i++)
			skip = strstr(line, not_reasons[i]) != NULL;
		if (skip)
			;
		else if (!strncmp(line, path, plen) && line[plen] == ':')
			why = xasprintf("line %s", line + plen + 1);
		else if (!strncmp(line, base, blen) &&
			 !strncmp(line + blen, ": ", 2))
			why = xstrdup(line + blen + 2);
		else
			why = xstrdup(line);
		free(line);
		if (why)
			return why;
	}
	return NULL;
}

/* err = "TopologyFile=PATH: what".  When that is too long, PATH is cut
 * to its end (its file name is what a reader needs most), and then what
 * loses its end. */
static void file_error(struct mer_error *err, const char *path,
		       const char *what)
{
	size_t room = sizeof(err->text) - 1, fixed, keep;

	if (!err)
		return;
	fixed = strlen("TopologyFile=...: ") + strlen(what);
	if (strlen("TopologyFile=: ") + strlen(path) + strlen(what) <= room) {
		mer_error_set(err, "TopologyFile=%s: %s", path, what);
		return;
	}
	keep = fixed + 24 < room ? room - fixed : 24;
	if (keep >= strlen(path))
		mer_error_set(err, "TopologyFile=%s: %s", path, what);
	else
		mer_error_set(err, "TopologyFile=...%s: %s",
			      path + strlen(path) - keep, what);
}

/* 0 when path is a file we may read, else -1 with errno and err: hwloc
 * gives no reason of its own for a file it cannot open, and reads a
 * directory as an empty file. */
static int check_readable(const char *path, struct mer_error *err)
{
	struct stat st;
	int fd, e = 0;
	char *what;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		e = errno;
	else if (fstat(fd, &st) < 0)
		e = errno;
	else if (S_ISDIR(st.st_mode))
		e = EISDIR;
	if (fd >= 0)
		close(fd);
	if (!e)
		return 0;
	what = xasprintf("cannot read it: %s", strerror(e));
	file_error(err, path, what);
	free(what);
	errno = e;
	return -1;
}

/* Why hwloc could not load path (errno e), from what hwloc said. */
static void xml_error(struct mer_error *err, const char *path, const char *said,
		      int e)
{
	bool minimalistic = strstr(said, "minimalistic parser") != NULL;
	char *reason = hwloc_reason(said, path), *what;
	unsigned line = minimalistic ? first_comment_line(path) : 0;

	if (line)
		what = xasprintf("hwloc's minimalistic XML parser takes no "
				 "comment (line %u has one); libhwloc-plugins "
				 "adds full XML support",
				 line);
	else if (reason)
		what = xasprintf("hwloc cannot load it: %s", reason);
	else if (minimalistic)
		what = xstrdup("hwloc's minimalistic XML parser cannot parse "
			       "it; libhwloc-plugins adds full XML support");
	else /* hwloc said nothing: HWLOC_XML_VERBOSE was read before */
		what = xasprintf("hwloc cannot load it (%s): give XML written "
				 "by lstopo, or install libhwloc-plugins for "
				 "any XML",
				 strerror(e));
	file_error(err, path, what);
	free(reason);
	free(what);
}

hwloc_topology_t hwgpu_topology_load(const char *xml_file,
				     struct mer_error *err)
{
	bool file = xml_file && *xml_file;
	struct xml_capture cap;
	hwloc_topology_t ht;
	char said[16384]; /* hwloc's warnings may come first */
	int e, rc;

	if (file && check_readable(xml_file, err) < 0)
		return NULL;
	if (hwloc_topology_init(&ht) < 0) {
		e = errno;
		mer_error_set(err, "hwloc_topology_init: %s", strerror(e));
		errno = e;
		return NULL;
	}
	/* GPUs, NICs and the bridges above them are all we need of the I/O
	 * tree; KEEP_IMPORTANT drops the rest, from an XML file too.  It
	 * keeps NVSwitches (PCI class 0680, or 0000 on some: hwloc 2.9 finds
	 * classes 06 and 00 important), so hwgpu_links sees them in the
	 * NVLinkBandwidth matrix: an object the filter dropped would be
	 * dropped from the matrix too. */
	hwloc_topology_set_io_types_filter(ht,
					   HWLOC_TYPE_FILTER_KEEP_IMPORTANT);
	if (!file) {
		if (hwloc_topology_load(ht) == 0)
			return ht;
		e = errno;
		hwloc_topology_destroy(ht);
		mer_error_set(err,
			      "hwloc cannot read this machine's topology: %s",
			      strerror(e));
		errno = e;
		return NULL;
	}
	/* libxml2 parses in set_xml, the minimalistic parser in load */
	capture_start(&cap);
	rc = hwloc_topology_set_xml(ht, xml_file);
	if (rc == 0)
		rc = hwloc_topology_load(ht);
	e = errno;
	capture_stop(&cap, said, sizeof(said));
	if (rc == 0)
		return ht;
	hwloc_topology_destroy(ht);
	xml_error(err, xml_file, said, e);
	errno = e;
	return NULL;
}
