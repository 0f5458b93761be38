/*
 * test_hwgpu.c - the node topology loader, hwgpu_topology_load(), with
 * each of hwloc's two XML parsers: every XML file under testsuite/fixtures
 * loads, and a TopologyFile= that hwloc cannot read gets an error naming
 * the file, hwloc's reason and, for the minimalistic parser, the package
 * that adds libxml2 (libhwloc-plugins).
 *
 * hwloc picks its parser once per process (HWLOC_LIBXML_IMPORT=0 forces
 * its built-in minimalistic one; libxml2 comes with the xml_libxml plugin,
 * Debian package libhwloc-plugins), and reads HWLOC_XML_VERBOSE once too.
 * So main() runs each half in a fresh copy of this program
 * (/proc/self/exe --parser minimalistic|libxml2) with the environment that
 * half needs; the program fails if either half failed, and skips (77) if
 * none failed and the libxml2 half skipped, where hwloc has no libxml2.
 *
 * Each half also checks hwgpu_links() on the fixtures (so the NVLink
 * matrix is known to survive either parser) and on NVLink matrices added
 * in memory, with NVSwitches.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cunit_main.h"
#include "hwgpu.h"
#include "test_util.h"
#include "util.h"

/* Set once by run_half(), before the tests: the half this process runs
 * ("minimalistic" or "libxml2") and a directory for the files they
 * write. */
static const char *parser;
static char tmp[256];

static bool minimalistic(void)
{
	return !strcmp(parser, "minimalistic");
}

/* The head of an hwloc 2 XML file, in hwloc's own layout. */
#define XML_HEAD                                                               \
	"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"                         \
	"<!DOCTYPE topology SYSTEM \"hwloc2.dtd\">\n"
/* One PU and 1 GiB of memory: the least hwloc loads. */
#define XML_MACHINE                                                            \
	"<topology version=\"2.0\">\n"                                         \
	"  <object type=\"Machine\" os_index=\"0\" cpuset=\"0x00000001\" "     \
	"complete_cpuset=\"0x00000001\" allowed_cpuset=\"0x00000001\" "        \
	"nodeset=\"0x00000001\" complete_nodeset=\"0x00000001\" "              \
	"allowed_nodeset=\"0x00000001\" gp_index=\"1\">\n"                     \
	"    <object type=\"NUMANode\" os_index=\"0\" cpuset=\"0x00000001\" "  \
	"complete_cpuset=\"0x00000001\" nodeset=\"0x00000001\" "               \
	"complete_nodeset=\"0x00000001\" gp_index=\"2\" "                      \
	"local_memory=\"1073741824\"/>\n"                                      \
	"    <object type=\"PU\" os_index=\"0\" cpuset=\"0x00000001\" "        \
	"complete_cpuset=\"0x00000001\" nodeset=\"0x00000001\" "               \
	"complete_nodeset=\"0x00000001\" gp_index=\"3\"/>\n"                   \
	"  </object>\n"                                                        \
	"</topology>\n"

/* Valid for libxml2; the minimalistic parser takes no comment. */
static const char with_comment[] = XML_HEAD "<!-- one PU -->\n" XML_MACHINE;
/* Not XML: the Machine object is never closed. */
static const char unclosed[] = XML_HEAD
	"<topology version=\"2.0\">\n"
	"  <object type=\"Machine\" os_index=\"0\" cpuset=\"0x00000001\">\n"
	"</topology>\n";
/* XML, but no topology: a root object without a cpuset. */
static const char no_cpuset[] =
	XML_HEAD "<topology version=\"2.0\">\n"
		 "  <object type=\"Machine\" os_index=\"0\" gp_index=\"1\"/>\n"
		 "</topology>\n";

/* tmp/name with text in it; malloc'd path. */
static char *write_tmp(const char *name, const char *text)
{
	char *path = xasprintf("%s/%s", tmp, name);
	FILE *f = fopen(path, "w");

	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	fputs(text, f);
	CU_ASSERT_FATAL(fclose(f) == 0);
	return path;
}

static void expect_in(const char *text, const char *part)
{
	if (!strstr(text, part))
		printf("\n    \"%s\" not in \"%s\"", part, text);
	CU_ASSERT_PTR_NOT_NULL(strstr(text, part));
}

/* Load path, expect a failure and show its message. */
static void expect_fail(const char *path, struct mer_error *err)
{
	hwloc_topology_t ht = hwgpu_topology_load(path, err);

	if (ht)
		hwloc_topology_destroy(ht);
	CU_ASSERT_PTR_NULL(ht);
	printf("\n    %s ", err->text);
}

/* One fixture: it loads, and has a PU. */
static void load_one(const char *path)
{
	struct mer_error err = {""};
	hwloc_topology_t ht = hwgpu_topology_load(path, &err);

	if (!ht) {
		printf("\n    FAIL: %s does not load with the %s parser: %s",
		       path, parser, err.text);
		CU_FAIL("a fixture does not load (named above)");
		return;
	}
	if (hwloc_get_nbobjs_by_type(ht, HWLOC_OBJ_PU) < 1)
		printf("\n    FAIL: %s: no PU", path);
	CU_ASSERT(hwloc_get_nbobjs_by_type(ht, HWLOC_OBJ_PU) >= 1);
	hwloc_topology_destroy(ht);
}

/* Every .xml under dir, loaded; how many into *n. */
static void load_all(const char *dir, unsigned *n)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	if (!d)
		printf("\n    FAIL: %s: %s", dir, strerror(errno));
	CU_ASSERT_PTR_NOT_NULL_FATAL(d);
	while ((e = readdir(d))) {
		char *path = xasprintf("%s/%s", dir, e->d_name);
		size_t len = strlen(e->d_name);
		struct stat st;

		if (e->d_name[0] == '.' || stat(path, &st) < 0)
			;
		else if (S_ISDIR(st.st_mode))
			load_all(path, n);
		else if (len > 4 && !strcmp(e->d_name + len - 4, ".xml")) {
			(*n)++;
			load_one(path);
		}
		free(path);
	}
	closedir(d);
}

static void test_every_fixture(void)
{
	char *dir = test_fixture_path("");
	unsigned n = 0;

	load_all(dir, &n);
	printf("\n    %u fixtures under %s ", n, dir);
	CU_ASSERT(n >= 1);
	free(dir);
}

/* The parser this half asked for is the one hwloc used: only libxml2
 * reads a comment. */
static void test_comment(void)
{
	char *path = write_tmp("comment.xml", with_comment);
	struct mer_error err = {""};
	hwloc_topology_t ht;

	if (minimalistic()) {
		expect_fail(path, &err);
		expect_in(err.text, path);
		expect_in(err.text, "minimalistic XML parser takes no comment "
				    "(line 3 has one)");
		expect_in(err.text, "libhwloc-plugins");
	} else {
		ht = hwgpu_topology_load(path, &err);
		if (!ht)
			printf("\n    %s", err.text);
		CU_ASSERT_PTR_NOT_NULL(ht);
		if (ht)
			hwloc_topology_destroy(ht);
	}
	free(path);
}

static void test_not_xml(void)
{
	char *path = write_tmp("unclosed.xml", unclosed);
	struct mer_error err = {""};

	expect_fail(path, &err);
	expect_in(err.text, "TopologyFile=");
	expect_in(err.text, path);
	if (minimalistic()) {
		expect_in(err.text, "minimalistic XML parser cannot parse it");
		expect_in(err.text, "libhwloc-plugins adds full XML support");
	} else {
		/* libxml2's own words, and where */
		expect_in(err.text, "hwloc cannot load it: line 5: ");
	}
	free(path);
}

static void test_not_a_topology(void)
{
	char *path = write_tmp("no-cpuset.xml", no_cpuset);
	struct mer_error err = {""};

	expect_fail(path, &err);
	expect_in(err.text, path);
	expect_in(err.text, "hwloc cannot load it: invalid normal object "
			    "Machine P#0 without cpuset");
	free(path);
}

static void test_unreadable(void)
{
	char *missing = xasprintf("%s/missing.xml", tmp);
	struct mer_error err = {""};

	CU_ASSERT_PTR_NULL(hwgpu_topology_load(missing, &err));
	CU_ASSERT_EQUAL(errno, ENOENT);
	expect_fail(missing, &err);
	expect_in(err.text, missing);
	expect_in(err.text, "cannot read it: No such file or directory");
	expect_fail(tmp, &err);
	expect_in(err.text, "cannot read it: Is a directory");
	free(missing);
}

/* A path too long for the message: its end is kept, and all the rest. */
static void test_long_path(void)
{
	char *dir = xasprintf("%s/%0150d", tmp, 0);
	char *path = xasprintf("%s/comment.xml", dir);
	struct mer_error err = {""};
	FILE *f;

	CU_ASSERT_FATAL(mkdir(dir, 0700) == 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(f = fopen(path, "w"));
	fputs(minimalistic() ? with_comment : unclosed, f);
	fclose(f);
	expect_fail(path, &err);
	CU_ASSERT(!strncmp(err.text, "TopologyFile=...", 16));
	expect_in(err.text, "000/comment.xml: ");
	if (minimalistic()) {
		const char *end = "; libhwloc-plugins adds full XML support";
		size_t n = strlen(err.text), m = strlen(end);

		CU_ASSERT(n > m && !strcmp(err.text + n - m, end));
	}
	unlink(path);
	rmdir(dir);
	free(path);
	free(dir);
}

/* Catching hwloc's reasons leaves no trace: stderr is where it was and
 * HWLOC_XML_VERBOSE is not left for children to inherit. */
static void test_leaves_no_trace(void)
{
	char *path = write_tmp("unclosed.xml", unclosed);
	struct mer_error err = {""};
	struct stat before, after;

	CU_ASSERT_FATAL(fstat(STDERR_FILENO, &before) == 0);
	expect_fail(path, &err);
	CU_ASSERT_FATAL(fstat(STDERR_FILENO, &after) == 0);
	CU_ASSERT(before.st_dev == after.st_dev &&
		  before.st_ino == after.st_ino);
	CU_ASSERT_PTR_NULL(getenv("HWLOC_XML_VERBOSE"));
	free(path);
}

/* Who set HWLOC_XML_VERBOSE gets hwloc's messages on stderr, and the
 * error says what it can without them. */
static void test_user_verbose(void)
{
	char *path = write_tmp("unclosed.xml", unclosed);
	struct mer_error err = {""};

	setenv("HWLOC_XML_VERBOSE", "0", 1);
	expect_fail(path, &err);
	unsetenv("HWLOC_XML_VERBOSE");
	expect_in(err.text, path);
	/* errno's text in the parentheses */
	expect_in(err.text, "hwloc cannot load it (");
	expect_in(err.text, "): give XML written by lstopo, or install "
			    "libhwloc-plugins for any XML");
	free(path);
}

/* topo/name, loaded (NULL, failing the test, when it does not load). */
static hwloc_topology_t load_fixture(const char *name)
{
	char *rel = xasprintf("topo/%s", name);
	char *path = test_fixture_path(rel);
	struct mer_error err = {""};
	hwloc_topology_t ht = hwgpu_topology_load(path, &err);

	if (!ht)
		printf("\n    %s: %s", path, err.text);
	CU_ASSERT_PTR_NOT_NULL(ht);
	free(path);
	free(rel);
	return ht;
}

static const char *const link_names[] = {"unknown", "nvlink", "pci", "smp"};

static const char *link_name(uint32_t kind)
{
	return kind < 4 ? link_names[kind] : "(not a kind)";
}

/* hwgpu_links on the n GPUs of ht: zero on the diagonal, the same both
 * ways, and want[i * n + j] for each i < j. */
static void check_links(hwloc_topology_t ht, size_t n,
			const struct hwgpu_link *want)
{
	struct hwgpu *gpus;
	struct hwgpu_link *l;
	size_t found = hwgpu_list(ht, &gpus);

	CU_ASSERT_EQUAL(found, n);
	if (found != n) {
		free(gpus);
		return;
	}
	l = xmalloc(n * n * sizeof(*l));
	memset(l, 0xa5, n * n * sizeof(*l)); /* all of it must be written */
	hwgpu_links(ht, gpus, n, l);
	for (size_t i = 0; i < n; i++) {
		for (size_t j = 0; j < n; j++) {
			const struct hwgpu_link *a = &l[i * n + j];
			const struct hwgpu_link *b = &l[j * n + i];
			const struct hwgpu_link *w = &want[i * n + j];

			if (i == j) {
				CU_ASSERT(a->kind == HWGPU_LINK_UNKNOWN &&
					  a->mbs == 0);
				continue;
			}
			CU_ASSERT(a->kind == b->kind && a->mbs == b->mbs);
			if (i > j)
				continue;
			if (a->kind != w->kind || a->mbs != w->mbs)
				printf("\n    GPUs %zu-%zu: %s %u MB/s, want "
				       "%s "
				       "%u",
				       i, j, link_name(a->kind), a->mbs,
				       link_name(w->kind), w->mbs);
			CU_ASSERT_EQUAL(a->kind, w->kind);
			CU_ASSERT_EQUAL(a->mbs, w->mbs);
		}
	}
	free(l);
	free(gpus);
}

static void want(struct hwgpu_link *w, size_t n, size_t i, size_t j,
		 uint32_t kind, uint32_t mbs)
{
	w[i * n + j].kind = kind;
	w[i * n + j].mbs = mbs;
}

/* DGX-1V's hybrid cube-mesh (the fixture's README): NVLinks between each
 * pair, each of 25000 MB/s one way. */
static const unsigned dgx1v_nvlinks[8][8] = {
	{0, 1, 1, 2, 2, 0, 0, 0}, {1, 0, 2, 1, 0, 2, 0, 0},
	{1, 2, 0, 2, 0, 0, 1, 0}, {2, 1, 2, 0, 0, 0, 0, 1},
	{2, 0, 0, 0, 0, 1, 1, 2}, {0, 2, 0, 0, 1, 0, 2, 1},
	{0, 0, 1, 0, 1, 2, 0, 2}, {0, 0, 0, 1, 2, 1, 2, 0},
};

/* Every NVLink pair with its bandwidth; the others (0-5, 3-4, ...) are
 * across the two sockets. */
static void test_links_nvlink(void)
{
	hwloc_topology_t ht = load_fixture("gpu-2pack-v100x8-nvlink.xml");
	struct hwgpu_link w[64] = {{0}};

	if (!ht)
		return;
	for (size_t i = 0; i < 8; i++)
		for (size_t j = 0; j < 8; j++)
			if (dgx1v_nvlinks[i][j])
				want(w, 8, i, j, HWGPU_LINK_NVLINK,
				     25000 * dgx1v_nvlinks[i][j]);
			else if (i != j)
				want(w, 8, i, j, HWGPU_LINK_SMP, 0);
	CU_ASSERT_EQUAL(w[0 * 8 + 5].kind, HWGPU_LINK_SMP);
	CU_ASSERT_EQUAL(w[0 * 8 + 4].mbs, 50000);
	check_links(ht, 8, w);
	hwloc_topology_destroy(ht);
}

/* No NVLink matrix: PCI within a socket (or a NUMA node of it), SMP
 * across them; unknown where hwloc knows no locality. */
static void test_links_no_nvlink(void)
{
	hwloc_topology_t ht = load_fixture("gpu-2pack-a100x4.xml");
	struct hwgpu_link w4[16] = {{0}}, w8[64] = {{0}}, w2[4] = {{0}};

	if (ht) {
		for (size_t i = 0; i < 4; i++)
			for (size_t j = i + 1; j < 4; j++)
				want(w4, 4, i, j,
				     i / 2 == j / 2 ? HWGPU_LINK_PCI
						    : HWGPU_LINK_SMP,
				     0);
		check_links(ht, 4, w4);
		hwloc_topology_destroy(ht);
	}
	/* one host bridge per NUMA node, two NUMA nodes per socket */
	if ((ht = load_fixture("gpu-2pack-4die-h100x8.xml"))) {
		for (size_t i = 0; i < 8; i++)
			for (size_t j = i + 1; j < 8; j++)
				want(w8, 8, i, j,
				     i / 2 == j / 2 ? HWGPU_LINK_PCI
						    : HWGPU_LINK_SMP,
				     0);
		check_links(ht, 8, w8);
		hwloc_topology_destroy(ht);
	}
	/* GPU 1 hangs off the machine: where it is, hwloc cannot say */
	if ((ht = load_fixture("gpu-pci-only.xml"))) {
		want(w2, 2, 0, 1, HWGPU_LINK_UNKNOWN, 0);
		check_links(ht, 2, w2);
		hwloc_topology_destroy(ht);
	}
}

#if HWLOC_API_VERSION >= 0x00020500
static hwloc_obj_t osdev(hwloc_topology_t ht, const char *name)
{
	for (hwloc_obj_t o = hwloc_get_next_osdev(ht, NULL); o;
	     o = hwloc_get_next_osdev(ht, o))
		if (o->name && !strcmp(o->name, name))
			return o;
	return NULL;
}

static hwloc_obj_t pcidev(hwloc_topology_t ht, const char *busid)
{
	return hwloc_get_pcidev_by_busidstring(ht, busid);
}

/* Add an NVLinkBandwidth matrix over nb objects to ht. */
static void add_matrix(hwloc_topology_t ht, unsigned nb, hwloc_obj_t *objs,
		       hwloc_uint64_t *values)
{
	hwloc_distances_add_handle_t h;

	for (unsigned k = 0; k < nb; k++)
		CU_ASSERT_PTR_NOT_NULL_FATAL(objs[k]);
	h = hwloc_distances_add_create(
		ht, "NVLinkBandwidth",
		HWLOC_DISTANCES_KIND_FROM_USER |
			HWLOC_DISTANCES_KIND_MEANS_BANDWIDTH,
		0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(h);
	CU_ASSERT_FATAL(
		hwloc_distances_add_values(ht, h, nb, objs, values, 0) == 0);
	CU_ASSERT_FATAL(hwloc_distances_add_commit(ht, h, 0) == 0);
}

/* NVSwitches: any PCI device of the matrix that is no GPU (here the
 * a100x4 fixture's NVSwitch, its NIC and its VGA stand in for them).  A
 * GPU's bandwidth to a fabric is the sum over its switches, counted once
 * for cudaN and nvmlN of one GPU; two GPUs on one fabric get the smaller
 * of theirs.  The diagonal and NVLinks to a Package are no GPU pair. */
static void test_links_switches(void)
{
	hwloc_topology_t ht = load_fixture("gpu-2pack-a100x4.xml");
	struct hwgpu_link w[16] = {{0}};
	hwloc_obj_t o[8];
	hwloc_uint64_t v[64];

	if (!ht)
		return;
	/* No switch-to-switch value at all, as hwloc gives a DGX-2 (NVML
	 * sees no trunk): the switches are one fabric. */
	o[0] = osdev(ht, "nvml0");
	o[1] = osdev(ht, "cuda0"); /* GPU 0 again */
	o[2] = pcidev(ht, "0000:0f:00.0");
	o[3] = osdev(ht, "cuda2");
	o[4] = osdev(ht, "nvml3");
	o[5] = pcidev(ht, "0000:95:00.0"); /* NVSwitch */
	o[6] = pcidev(ht, "0000:47:00.0"); /* the NIC as another */
	o[7] = hwloc_get_obj_by_type(ht, HWLOC_OBJ_PACKAGE, 0);
	memset(v, 0, sizeof(v));
	for (size_t k = 0; k < 8; k++)
		v[k * 8 + k] = 1000000;
	v[0 * 8 + 5] = v[5 * 8 + 0] = 75000;
	v[1 * 8 + 5] = v[5 * 8 + 1] = 75000;
	v[2 * 8 + 5] = v[5 * 8 + 2] = 50000;
	v[3 * 8 + 6] = v[6 * 8 + 3] = 100000;
	v[4 * 8 + 6] = v[6 * 8 + 4] = 100000;
	v[0 * 8 + 7] = v[7 * 8 + 0] = v[2 * 8 + 7] = v[7 * 8 + 2] = 40000;
	add_matrix(ht, 8, o, v);
	want(w, 4, 0, 1, HWGPU_LINK_NVLINK, 50000);
	want(w, 4, 0, 2, HWGPU_LINK_NVLINK, 75000);
	want(w, 4, 0, 3, HWGPU_LINK_NVLINK, 75000);
	want(w, 4, 1, 2, HWGPU_LINK_NVLINK, 50000);
	want(w, 4, 1, 3, HWGPU_LINK_NVLINK, 50000);
	want(w, 4, 2, 3, HWGPU_LINK_NVLINK, 100000);
	check_links(ht, 4, w);
	hwloc_topology_destroy(ht);

	/* Switch-to-switch values (one way only): the NVSwitch and the VGA
	 * are one fabric, the NIC another.  GPU 3 has no switch, and one
	 * value to GPU 0, one way only. */
	if (!(ht = load_fixture("gpu-2pack-a100x4.xml")))
		return;
	o[0] = osdev(ht, "nvml0");
	o[1] = pcidev(ht, "0000:0f:00.0");
	o[2] = osdev(ht, "cuda2");
	o[3] = osdev(ht, "nvml3");
	o[4] = pcidev(ht, "0000:95:00.0");
	o[5] = pcidev(ht, "0000:03:00.0");
	o[6] = pcidev(ht, "0000:47:00.0");
	o[7] = hwloc_get_obj_by_type(ht, HWLOC_OBJ_PACKAGE, 1);
	memset(v, 0, sizeof(v));
	v[0 * 8 + 4] = v[4 * 8 + 0] = 50000;
	v[1 * 8 + 5] = v[5 * 8 + 1] = 25000;
	v[4 * 8 + 5] = 25000;
	v[2 * 8 + 6] = v[6 * 8 + 2] = 100000;
	v[3 * 8 + 0] = 30000;
	/* were the Package a switch, 2-3 would be NVLink */
	v[2 * 8 + 7] = v[7 * 8 + 2] = v[3 * 8 + 7] = v[7 * 8 + 3] = 40000;
	add_matrix(ht, 8, o, v);
	memset(w, 0, sizeof(w));
	want(w, 4, 0, 1, HWGPU_LINK_NVLINK, 25000);
	want(w, 4, 0, 2, HWGPU_LINK_SMP, 0);
	want(w, 4, 0, 3, HWGPU_LINK_NVLINK, 30000);
	want(w, 4, 1, 2, HWGPU_LINK_SMP, 0);
	want(w, 4, 1, 3, HWGPU_LINK_SMP, 0);
	want(w, 4, 2, 3, HWGPU_LINK_PCI, 0);
	check_links(ht, 4, w);
	hwloc_topology_destroy(ht);
}
#else
static void test_links_switches(void)
{
	cunit_skip("hwloc before 2.5 cannot add distances");
}
#endif

static void test_no_libxml2(void)
{
	cunit_skip("hwloc here has no libxml2 XML support (Debian package "
		   "libhwloc-plugins adds it)");
}

static CU_TestInfo tests[] = {
	{"every fixture under testsuite/fixtures", test_every_fixture},
	{"a comment", test_comment},
	{"not XML", test_not_xml},
	{"XML, not a topology", test_not_a_topology},
	{"a missing file, a directory", test_unreadable},
	{"a path too long for the message", test_long_path},
	{"stderr and environment restored", test_leaves_no_trace},
	{"HWLOC_XML_VERBOSE set by the user", test_user_verbose},
	{"links: NVLink (DGX-1V)", test_links_nvlink},
	{"links: PCI, SMP, unknown", test_links_no_nvlink},
	{"links: NVSwitch fabrics", test_links_switches},
	CU_TEST_INFO_NULL,
};

static CU_TestInfo no_libxml2[] = {
	{"libxml2 parser", test_no_libxml2},
	CU_TEST_INFO_NULL,
};

/* Whether hwloc reads XML with libxml2 in this process. */
static bool have_libxml2(void)
{
	char *path = xasprintf("%s/probe.xml", tmp);
	FILE *f = fopen(path, "w");
	hwloc_topology_t ht = NULL;

	if (f) {
		fputs(with_comment, f);
		fclose(f);
		ht = hwgpu_topology_load(path, NULL);
	}
	unlink(path);
	free(path);
	if (!ht)
		return false;
	hwloc_topology_destroy(ht);
	return true;
}

/* One half, in a process of its own. */
static int run_half(const char *name)
{
	char suite[64];
	int rc;

	parser = name;
	snprintf(tmp, sizeof(tmp), "%s/test_hwgpu.XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(tmp)) {
		perror(tmp);
		return 99;
	}
	snprintf(suite, sizeof(suite), "topology XML, %s parser", name);
	if (!minimalistic() && !have_libxml2())
		rc = cunit_run(suite, no_libxml2);
	else
		rc = cunit_run(suite, tests);
	remove_tree(tmp);
	return rc;
}

/* Run this program again for one half; its exit status for automake. */
static int spawn_half(const char *self, const char *name)
{
	int status;
	pid_t pid;

	fflush(stdout);
	if ((pid = fork()) < 0) {
		perror("fork");
		return 99;
	}
	if (pid == 0) {
		/* HWLOC_LIBXML would override HWLOC_LIBXML_IMPORT; the
		 * loader sets HWLOC_XML_VERBOSE itself */
		unsetenv("HWLOC_LIBXML");
		unsetenv("HWLOC_XML_VERBOSE");
		setenv("HWLOC_LIBXML_IMPORT",
		       !strcmp(name, "minimalistic") ? "0" : "1", 1);
		execl("/proc/self/exe", self, "--parser", name, (char *)NULL);
		perror("exec /proc/self/exe");
		_exit(99);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return 99;
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	printf("the %s half died of signal %d\n", name, WTERMSIG(status));
	return 1;
}

int main(int argc, char **argv)
{
	static const char *const halves[] = {"minimalistic", "libxml2"};
	int worst = 0;

	if (argc == 3 && !strcmp(argv[1], "--parser"))
		return run_half(argv[2]);
	for (size_t i = 0; i < 2; i++) {
		int rc = spawn_half(argv[0], halves[i]);

		printf("%s parser: exit %d\n\n", halves[i], rc);
		/* a failure or an error wins over a skip, a skip over a pass */
		if (rc != 0 && (worst == 0 || worst == 77))
			worst = rc;
	}
	return worst;
}
