/*
 * test_topo.c - node topology from hwloc XML: CPUs, memory, GPUs in PCI
 * order with their local cpusets, and the NodeName= overrides.
 *
 * The fixtures are the project's own (testsuite/fixtures/topo, its README
 * says what each holds).  A captured DGX-2 topology is checked too, from
 * the project's shared reference data beside the source tree
 * ($MERIDIAN_SRCDIR/../shared/fixtures/hwloc-real; MERIDIAN_SHARED_FIXTURES
 * names another fixtures directory, MERIDIAN_HWLOC_REAL another
 * hwloc-real one); without it that test skips, as in `make distcheck`,
 * whose source tree has no ../shared.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cunit_main.h"
#include "mnoded.h"
#include "test_util.h"

static struct topo *load(const char *name)
{
	char *rel = xasprintf("topo/%s", name);
	char *path = test_fixture_path(rel);
	struct mer_error err = {""};
	struct topo *t;

	t = topo_load(path, &err);
	if (!t)
		fprintf(stderr, "topo_load %s: %s\n", path, err.text);
	free(path);
	free(rel);
	return t;
}

static void check_gpu(const struct topo_gpu *g, const char *model,
		      const char *bus, const char *cpuset, int numa)
{
	CU_ASSERT_STRING_EQUAL(g->model, model);
	CU_ASSERT_STRING_EQUAL(g->pci_bus_id, bus);
	CU_ASSERT_STRING_EQUAL(g->cpuset, cpuset);
	CU_ASSERT_EQUAL(g->numa_node, numa);
}

static void test_cpu_only(void)
{
	struct topo *t = load("cpu-2pack-4core-2pu.xml");

	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	CU_ASSERT_EQUAL(t->cpus, 16); /* PUs, as Slurm counts CPUs */
	CU_ASSERT_EQUAL(t->cores, 8);
	CU_ASSERT_EQUAL(t->sockets, 2);
	CU_ASSERT_EQUAL(t->numa_nodes, 2);
	CU_ASSERT_EQUAL(t->memory_mb, 16384);
	CU_ASSERT_STRING_EQUAL(t->cpuset, "0-15");
	CU_ASSERT_EQUAL(t->ngpus, 0);
	topo_free(t);
}

static void test_gpus_pci_order(void)
{
	struct topo *t = load("gpu-2pack-a100x4.xml");

	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	CU_ASSERT_EQUAL(t->cpus, 8);
	CU_ASSERT_EQUAL(t->memory_mb, 131072);
	/* cuda0 and nvml0 are one GPU; the ASPEED VGA and the NVSwitch are
	 * none */
	CU_ASSERT_EQUAL_FATAL(t->ngpus, 4);
	check_gpu(&t->gpus[0], "a100", "0000:07:00.0", "0-3", 0);
	check_gpu(&t->gpus[1], "a100", "0000:0f:00.0", "0-3", 0);
	check_gpu(&t->gpus[2], "a100", "0000:87:00.0", "4-7", 1);
	check_gpu(&t->gpus[3], "a100", "0000:90:00.0", "4-7", 1);
	CU_ASSERT_EQUAL(t->gpus[0].memory_mb, 81920); /* from CUDA */
	CU_ASSERT_EQUAL(t->gpus[1].memory_mb, 0);     /* NVML says nothing */
	topo_free(t);
}

static void test_gpus_pci_only(void)
{
	struct topo *t = load("gpu-pci-only.xml");

	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	CU_ASSERT_EQUAL(t->cpus, 8);
	CU_ASSERT_EQUAL(t->cores, 4);
	CU_ASSERT_EQUAL_FATAL(t->ngpus, 2);
	check_gpu(&t->gpus[0], "rtx4090", "0000:41:00.0", "0-3", 0);
	/* attached to the machine: local to every PU, no one NUMA node */
	check_gpu(&t->gpus[1], "h100", "0000:c1:00.0", "0-7", -1);
	topo_free(t);
}

static void test_missing_file(void)
{
	struct mer_error err = {""};
	struct topo *t = topo_load("/nonexistent/topo.xml", &err);

	CU_ASSERT_PTR_NULL(t);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.text, "/nonexistent/topo.xml"));
}

/* What mnoded says of a TopologyFile= hwloc cannot read (the loader's
 * message, src/common/test/test_hwgpu.c checks it with each parser). */
static void test_bad_file(void)
{
	char path[] = "/tmp/test_topo.XXXXXX";
	struct mer_error err = {""};
	struct topo *t;
	int fd = mkstemp(path);
	static const char unclosed[] =
		"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		"<topology version=\"2.0\">\n"
		"  <object type=\"Machine\" os_index=\"0\">\n"
		"</topology>\n";

	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_FATAL(write(fd, unclosed, sizeof(unclosed) - 1) ==
			(ssize_t)sizeof(unclosed) - 1);
	close(fd);
	t = topo_load(path, &err);
	unlink(path);
	CU_ASSERT_PTR_NULL_FATAL(t);
	printf("\n    %s ", err.text);
	CU_ASSERT(!strncmp(err.text, "TopologyFile=", 13));
	CU_ASSERT_PTR_NOT_NULL(strstr(err.text, path));
	CU_ASSERT_PTR_NOT_NULL(strstr(err.text, ": hwloc"));
}

static struct conf_node node(uint32_t cpus, uint64_t mem, const char *gres,
			     const char *model, uint32_t gpus)
{
	struct conf_node n = {0};

	n.name = "n1";
	n.cpus = cpus;
	n.real_memory = mem;
	n.gres = (char *)gres;
	n.gpu_model = (char *)model;
	n.gpus = gpus;
	return n;
}

static void test_conf_cpus_memory(void)
{
	struct topo *t = load("cpu-2pack-4core-2pu.xml");
	struct conf_node n = node(4, 1000, "", "", 0);
	struct strbuf w = {0};

	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	topo_apply_conf(t, &n, &w);
	CU_ASSERT_EQUAL(t->cpus, 4);
	CU_ASSERT_EQUAL(t->memory_mb, 1000);
	/* fewer CPUs than the machine: worth a line; less memory: not */
	CU_ASSERT_PTR_NOT_NULL_FATAL(w.s);
	CU_ASSERT_PTR_NOT_NULL(strstr(w.s, "CPUs=4"));
	CU_ASSERT_PTR_NULL(strstr(w.s, "RealMemory"));
	strbuf_free(&w);
	topo_free(t);
}

static void test_conf_gres_stands_in(void)
{
	struct topo *t = load("cpu-2pack-4core-2pu.xml");
	struct conf_node n = node(0, 0, "gpu:a100:2", "a100", 2);
	struct strbuf w = {0};

	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	topo_apply_conf(t, &n, &w);
	CU_ASSERT_PTR_NULL(w.s);
	CU_ASSERT_EQUAL_FATAL(t->ngpus, 2);
	check_gpu(&t->gpus[0], "a100", "", "0-15", -1);
	check_gpu(&t->gpus[1], "a100", "", "0-15", -1);
	CU_ASSERT_EQUAL(t->cpus, 16);
	topo_free(t);
}

static void test_conf_gres_fewer(void)
{
	struct topo *t = load("gpu-2pack-a100x4.xml");
	struct conf_node n = node(0, 0, "gpu:a100:2", "a100", 2);
	struct strbuf w = {0};

	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	topo_apply_conf(t, &n, &w);
	CU_ASSERT_EQUAL_FATAL(t->ngpus, 2);
	check_gpu(&t->gpus[0], "a100", "0000:07:00.0", "0-3", 0);
	check_gpu(&t->gpus[1], "a100", "0000:0f:00.0", "0-3", 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(w.s);
	CU_ASSERT_PTR_NOT_NULL(strstr(w.s, "has 4 GPUs"));
	strbuf_free(&w);
	topo_free(t);
}

static void test_conf_gres_more_and_model(void)
{
	struct topo *t = load("gpu-2pack-a100x4.xml");
	struct conf_node n = node(0, 0, "gpu:v100:6", "v100", 6);
	struct strbuf w = {0};

	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	topo_apply_conf(t, &n, &w);
	/* the hardware wins: 4 A100s */
	CU_ASSERT_EQUAL_FATAL(t->ngpus, 4);
	CU_ASSERT_STRING_EQUAL(t->gpus[3].model, "a100");
	CU_ASSERT_PTR_NOT_NULL_FATAL(w.s);
	CU_ASSERT_PTR_NOT_NULL(strstr(w.s, "using 4 of them"));
	CU_ASSERT_PTR_NOT_NULL(strstr(w.s, "has model a100"));
	strbuf_free(&w);
	topo_free(t);
}

static void test_gpus_msg(void)
{
	struct topo *t = load("gpu-2pack-a100x4.xml");
	Meridian__Gpu **g;
	size_t n;

	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	g = topo_gpus_msg(t, &n);
	CU_ASSERT_EQUAL_FATAL(n, 4);
	CU_ASSERT_EQUAL(g[2]->index, 2);
	CU_ASSERT_STRING_EQUAL(g[2]->pci_bus_id, "0000:87:00.0");
	CU_ASSERT_STRING_EQUAL(g[2]->cpuset, "4-7");
	CU_ASSERT_EQUAL(g[2]->numa_node, 1);
	topo_gpus_msg_free(g, n);
	topo_free(t);
}

static void test_model_names(void)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{"NVIDIA A100-SXM4-80GB", "a100"},
		{"Tesla V100-SXM3-32GB-H", "v100"},
		{"NVIDIA H100 80GB HBM3", "h100"},
		{"GH100 [H100 PCIe]", "h100"},
		{"GA100 [A100 SXM4 80GB]", "a100"},
		{"GV100GL [Tesla V100 SXM3 32GB]", "v100"},
		{"NVIDIA GeForce RTX 4090", "rtx4090"},
		{"AD102 [GeForce RTX 4090]", "rtx4090"},
		{"NVIDIA RTX A6000", "a6000"},
		{"Quadro RTX 8000", "rtx8000"},
		{"Tesla T4", "t4"},
		{"NVIDIA L40S", "l40s"},
		{"Tesla M2075 Dual-Slot Computing Processor Module", "m2075"},
		{"NVIDIA TITAN V", "titanv"},
		{"", ""},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		char *m = gpu_model_short(cases[i].in);
		if (strcmp(m, cases[i].out))
			fprintf(stderr, "\"%s\" -> \"%s\", expected \"%s\"\n",
				cases[i].in, m, cases[i].out);
		CU_ASSERT_STRING_EQUAL(m, cases[i].out);
		free(m);
	}
}

/* A real DGX-2 (16 V100, two sockets): GPUs 0-7 hang off socket 0 (PUs
 * 0-1 in this capture), 8-15 off socket 1 (PUs 24-25). */
static void test_dgx2(void)
{
	const char *real = getenv("MERIDIAN_HWLOC_REAL");
	char *path;
	struct mer_error err = {""};
	struct topo *t;

	if (real)
		path = xasprintf("%s/nvidiaDGX2.xml", real);
	else
		path = test_shared_fixture_path("hwloc-real/nvidiaDGX2.xml");
	if (access(path, R_OK) < 0) {
		cunit_skip("%s is absent (the shared reference data beside "
			   "the source tree; MERIDIAN_SHARED_FIXTURES names "
			   "another fixtures directory)",
			   path);
		free(path);
		return;
	}
	t = topo_load(path, &err);
	free(path);
	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	CU_ASSERT_EQUAL(t->sockets, 2);
	CU_ASSERT_EQUAL_FATAL(t->ngpus, 16);
	for (size_t i = 0; i < 16; i++) {
		CU_ASSERT_STRING_EQUAL(t->gpus[i].model, "v100");
		CU_ASSERT_STRING_EQUAL(t->gpus[i].cpuset,
				       i < 8 ? "0-1" : "24-25");
		CU_ASSERT_EQUAL(t->gpus[i].numa_node, i < 8 ? 0 : 1);
		if (i > 0)
			CU_ASSERT(strcmp(t->gpus[i - 1].pci_bus_id,
					 t->gpus[i].pci_bus_id) < 0);
	}
	CU_ASSERT_STRING_EQUAL(t->gpus[0].pci_bus_id, "0000:34:00.0");
	topo_free(t);
}

static CU_TestInfo tests[] = {
	{"cpu only", test_cpu_only},
	{"gpus in pci order", test_gpus_pci_order},
	{"gpus seen only on pci", test_gpus_pci_only},
	{"missing file", test_missing_file},
	{"file hwloc cannot read", test_bad_file},
	{"config cpus and memory", test_conf_cpus_memory},
	{"config gres stands in", test_conf_gres_stands_in},
	{"config gres fewer", test_conf_gres_fewer},
	{"config gres more, other model", test_conf_gres_more_and_model},
	{"gpus as protobuf", test_gpus_msg},
	{"model names", test_model_names},
	{"dgx-2 capture", test_dgx2},
	CU_TEST_INFO_NULL,
};

CUNIT_MAIN("topo", tests)
