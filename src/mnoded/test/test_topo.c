/*
 * test_topo.c - node topology from hwloc XML: CPUs, memory, GPUs in PCI
 * order with their local cpusets, and the NodeName= overrides.
 *
 * Each GPU's peers (how it talks to each other GPU: NVLink with its
 * bandwidth, PCI or SMP) come with it, from hwgpu_links().
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
#include "hwgpu.h"
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
	/* hwloc cannot tell how they are linked: no peer either way */
	CU_ASSERT_EQUAL(t->gpus[0].npeers, 0);
	CU_ASSERT_EQUAL(t->gpus[1].npeers, 0);
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
	CU_ASSERT_EQUAL(t->gpus[0].npeers, 0);
	CU_ASSERT_EQUAL(t->gpus[1].npeers, 0);
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

static void check_peer(const struct topo_gpu *g, size_t k, uint32_t gpu,
		       uint32_t kind, uint32_t mbs)
{
	CU_ASSERT_FATAL(k < g->npeers);
	CU_ASSERT_EQUAL(g->peers[k].gpu, gpu);
	CU_ASSERT_EQUAL(g->peers[k].kind, kind);
	CU_ASSERT_EQUAL(g->peers[k].mbs, mbs);
}

/* The DGX-1V-like fixture (its README): NVLink in a hybrid cube-mesh,
 * the other pairs across the sockets. */
static void test_peers_nvlink(void)
{
	struct topo *t = load("gpu-2pack-v100x8-nvlink.xml");
	char *s;

	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	CU_ASSERT_EQUAL(t->sockets, 2);
	CU_ASSERT_EQUAL(t->cpus, 16);
	CU_ASSERT_EQUAL_FATAL(t->ngpus, 8);
	check_gpu(&t->gpus[0], "v100", "0000:06:00.0", "0-3,8-11", 0);
	check_gpu(&t->gpus[7], "v100", "0000:8a:00.0", "4-7,12-15", 1);
	CU_ASSERT_EQUAL(t->gpus[0].memory_mb, 16160);
	for (size_t i = 0; i < 8; i++)
		CU_ASSERT_EQUAL(t->gpus[i].npeers, 7);
	CU_ASSERT_EQUAL_FATAL(t->gpus[0].npeers, 7);
	check_peer(&t->gpus[0], 0, 1, HWGPU_LINK_NVLINK, 25000);
	check_peer(&t->gpus[0], 1, 2, HWGPU_LINK_NVLINK, 25000);
	check_peer(&t->gpus[0], 2, 3, HWGPU_LINK_NVLINK, 50000);
	check_peer(&t->gpus[0], 3, 4, HWGPU_LINK_NVLINK, 50000);
	check_peer(&t->gpus[0], 4, 5, HWGPU_LINK_SMP, 0);
	check_peer(&t->gpus[0], 5, 6, HWGPU_LINK_SMP, 0);
	check_peer(&t->gpus[0], 6, 7, HWGPU_LINK_SMP, 0);
	/* GPU 6: 2 (one link), 4 (one), 5 (two), 7 (two) */
	check_peer(&t->gpus[6], 2, 2, HWGPU_LINK_NVLINK, 25000);
	check_peer(&t->gpus[6], 4, 4, HWGPU_LINK_NVLINK, 25000);
	check_peer(&t->gpus[6], 5, 5, HWGPU_LINK_NVLINK, 50000);
	check_peer(&t->gpus[6], 6, 7, HWGPU_LINK_NVLINK, 50000);
	check_peer(&t->gpus[6], 0, 0, HWGPU_LINK_SMP, 0);
	s = topo_gpu_nvlink_list(&t->gpus[0]);
	CU_ASSERT_STRING_EQUAL(s, " nvlink 1,2,3,4");
	free(s);
	s = topo_gpu_nvlink_list(&t->gpus[5]);
	CU_ASSERT_STRING_EQUAL(s, " nvlink 1,4,6,7");
	free(s);
	topo_free(t);

	/* no NVLink: PCI within a socket, SMP across, no nvlink to log */
	t = load("gpu-2pack-a100x4.xml");
	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	CU_ASSERT_EQUAL_FATAL(t->ngpus, 4);
	CU_ASSERT_EQUAL_FATAL(t->gpus[2].npeers, 3);
	check_peer(&t->gpus[2], 0, 0, HWGPU_LINK_SMP, 0);
	check_peer(&t->gpus[2], 1, 1, HWGPU_LINK_SMP, 0);
	check_peer(&t->gpus[2], 2, 3, HWGPU_LINK_PCI, 0);
	s = topo_gpu_nvlink_list(&t->gpus[2]);
	CU_ASSERT_STRING_EQUAL(s, "");
	free(s);
	topo_free(t);
}

/* Fewer GPUs in the config than found: the dropped ones are no peers. */
static void test_conf_peers_fewer(void)
{
	struct topo *t = load("gpu-2pack-v100x8-nvlink.xml");
	struct conf_node n = node(0, 0, "gpu:v100:3", "v100", 3);
	struct strbuf w = {0};

	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	topo_apply_conf(t, &n, &w);
	CU_ASSERT_EQUAL_FATAL(t->ngpus, 3);
	for (size_t i = 0; i < 3; i++) {
		CU_ASSERT_EQUAL(t->gpus[i].npeers, 2);
		for (size_t k = 0; k < t->gpus[i].npeers; k++)
			CU_ASSERT(t->gpus[i].peers[k].gpu < 3);
	}
	check_peer(&t->gpus[0], 0, 1, HWGPU_LINK_NVLINK, 25000);
	check_peer(&t->gpus[0], 1, 2, HWGPU_LINK_NVLINK, 25000);
	check_peer(&t->gpus[2], 0, 0, HWGPU_LINK_NVLINK, 25000);
	check_peer(&t->gpus[2], 1, 1, HWGPU_LINK_NVLINK, 50000);
	CU_ASSERT_PTR_NOT_NULL_FATAL(w.s);
	CU_ASSERT_PTR_NOT_NULL(strstr(w.s, "has 8 GPUs"));
	strbuf_free(&w);
	topo_free(t);
}

static void test_gpus_msg_peers(void)
{
	struct topo *t = load("gpu-2pack-v100x8-nvlink.xml");
	Meridian__Gpu **g;
	size_t n;

	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	g = topo_gpus_msg(t, &n);
	CU_ASSERT_EQUAL_FATAL(n, 8);
	CU_ASSERT_EQUAL_FATAL(g[3]->n_peers, 7);
	/* GPU 3: 0 (two links), 1 (one), 2 (two), 7 (one) */
	CU_ASSERT_EQUAL(g[3]->peers[0]->gpu, 0);
	CU_ASSERT_EQUAL(g[3]->peers[0]->link,
			MERIDIAN__GPU_LINK_KIND__GPU_LINK_NVLINK);
	CU_ASSERT_EQUAL(g[3]->peers[0]->bandwidth_mbs, 50000);
	CU_ASSERT_EQUAL(g[3]->peers[3]->gpu, 4);
	CU_ASSERT_EQUAL(g[3]->peers[3]->link,
			MERIDIAN__GPU_LINK_KIND__GPU_LINK_SMP);
	CU_ASSERT_EQUAL(g[3]->peers[3]->bandwidth_mbs, 0);
	CU_ASSERT_EQUAL(g[3]->peers[6]->gpu, 7);
	CU_ASSERT_EQUAL(g[3]->peers[6]->link,
			MERIDIAN__GPU_LINK_KIND__GPU_LINK_NVLINK);
	CU_ASSERT_EQUAL(g[3]->peers[6]->bandwidth_mbs, 25000);
	/* it packs: what mnoded sends mctld */
	CU_ASSERT(meridian__gpu__get_packed_size(g[3]) > 0);
	topo_gpus_msg_free(g, n);
	topo_free(t);

	/* a configured-only GPU has none */
	t = load("cpu-2pack-4core-2pu.xml");
	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	{
		struct conf_node cn = node(0, 0, "gpu:a100:2", "a100", 2);
		struct strbuf w = {0};

		topo_apply_conf(t, &cn, &w);
		strbuf_free(&w);
	}
	g = topo_gpus_msg(t, &n);
	CU_ASSERT_EQUAL_FATAL(n, 2);
	CU_ASSERT_EQUAL(g[0]->n_peers, 0);
	CU_ASSERT_EQUAL(g[1]->n_peers, 0);
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
	{"gpu peers: nvlink, pci, smp", test_peers_nvlink},
	{"config gres fewer drops peers", test_conf_peers_fewer},
	{"gpu peers as protobuf", test_gpus_msg_peers},
	{"model names", test_model_names},
	{"dgx-2 capture", test_dgx2},
	CU_TEST_INFO_NULL,
};

CUNIT_MAIN("topo", tests)
