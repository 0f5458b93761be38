/*
 * test_bind.c - CPU binding: GPU numbering and locality, the cores and
 * gpu-local plans on the project's fixtures (testsuite/fixtures/topo), a
 * check against a real DGX-2 export from the project's shared reference
 * data beside the source tree ($MERIDIAN_SRCDIR/../shared/fixtures, or
 * $MERIDIAN_SHARED_FIXTURES; the test skips without it), and real binding
 * of a forked process read back from /proc.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bind.h"
#include "cunit_main.h"
#include "test_util.h"
#include "util.h"

static char *fixture(const char *name)
{
	char *rel = xasprintf("topo/%s", name);
	char *path = test_fixture_path(rel);

	free(rel);
	return path;
}

static struct bind_topo *load(const char *name)
{
	struct mer_error err = {""};
	char *path = fixture(name);
	struct bind_topo *t = bind_topo_load(path, &err);

	if (!t)
		printf("\n  %s: %s\n", path, err.text);
	free(path);
	return t;
}

/* Plan and compare every rank's list with want[] (NULL-terminated). */
static void expect_plan(const struct bind_topo *t, enum bind_mode mode,
			const char *allowed, const struct bind_task *tasks,
			size_t n, const char *const *want)
{
	struct mer_error err = {""};
	struct bind_set *sets = NULL;

	CU_ASSERT_FATAL(bind_plan(t, mode, allowed, tasks, n, &sets, &err) ==
			0);
	for (size_t i = 0; i < n; i++) {
		if (strcmp(sets[i].list, want[i]))
			printf("\n  %s rank %zu: got \"%s\", want \"%s\"",
			       bind_mode_name(mode), i, sets[i].list, want[i]);
		CU_ASSERT_STRING_EQUAL(sets[i].list, want[i]);
		if (mode == BIND_NONE) {
			CU_ASSERT_PTR_NULL(sets[i].cpuset);
		} else {
			char *s = NULL;
			CU_ASSERT_PTR_NOT_NULL_FATAL(sets[i].cpuset);
			hwloc_bitmap_list_asprintf(&s, sets[i].cpuset);
			CU_ASSERT_STRING_EQUAL(s, want[i]);
			free(s);
		}
	}
	bind_sets_free(sets, n);
}

static void test_mode_parse(void)
{
	struct mer_error err = {""};
	enum bind_mode m = BIND_NONE;

	CU_ASSERT(bind_mode_parse("cores", &m, &err) == 0 && m == BIND_CORES);
	CU_ASSERT(bind_mode_parse("gpu-local", &m, &err) == 0 &&
		  m == BIND_GPU_LOCAL);
	CU_ASSERT(bind_mode_parse("none", &m, &err) == 0 && m == BIND_NONE);
	CU_ASSERT(bind_mode_parse("sockets", &m, &err) == -1);
	CU_ASSERT_STRING_EQUAL(err.text, "--cpu-bind=sockets: expected none, "
					 "cores or gpu-local");
	CU_ASSERT(bind_mode_parse(NULL, &m, &err) == -1);
	CU_ASSERT_STRING_EQUAL(bind_mode_name(BIND_GPU_LOCAL), "gpu-local");
}

static void test_load_errors(void)
{
	struct mer_error err = {""};
	char *bad = fixture("no-such-file.xml");

	CU_ASSERT_PTR_NULL(bind_topo_load(bad, &err));
	CU_ASSERT(strstr(err.text, "no-such-file.xml") != NULL);
	free(bad);
	bind_topo_destroy(NULL);
}

/* Two packages of 4 single-PU cores, GPUs 0-1 on package 0, 2-3 on 1. */
static void test_a100x4(void)
{
	struct bind_topo *t = load("gpu-2pack-a100x4.xml");
	static const unsigned g0[] = {0}, g1[] = {1}, g2[] = {2}, g3[] = {3},
			      g01[] = {0, 1}, g23[] = {2, 3}, g02[] = {0, 2},
			      g4[] = {4};
	struct bind_task one_each[4] = {
		{1, g0, 1}, {1, g1, 1}, {1, g2, 1}, {1, g3, 1}};
	struct bind_task two_each[2] = {{1, g01, 2}, {1, g23, 2}};
	struct bind_task across[1] = {{1, g02, 2}};
	struct bind_task shared[2] = {{1, g0, 1}, {1, g0, 1}};
	struct bind_task reversed[2] = {{1, g2, 1}, {1, g0, 1}};
	struct bind_task mixed[4] = {
		{1, g0, 1}, {1, g1, 1}, {1, NULL, 0}, {1, NULL, 0}};
	struct bind_task plain[4] = {
		{2, NULL, 0}, {2, NULL, 0}, {2, NULL, 0}, {2, NULL, 0}};
	struct bind_task three[3] = {{3, NULL, 0}, {3, NULL, 0}, {3, NULL, 0}};
	struct bind_task bad[1] = {{1, g4, 1}};
	struct mer_error err = {""};
	struct bind_set *sets = NULL;

	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	CU_ASSERT_EQUAL(bind_topo_cores(t), 8);
	CU_ASSERT_EQUAL(bind_topo_pus(t), 8);
	/* the VGA controller and the NVSwitch are not GPUs; PCI order */
	CU_ASSERT_EQUAL_FATAL(bind_topo_ngpus(t), 4);
	CU_ASSERT_STRING_EQUAL(bind_topo_gpu_busid(t, 0), "0000:07:00.0");
	CU_ASSERT_STRING_EQUAL(bind_topo_gpu_busid(t, 1), "0000:0f:00.0");
	CU_ASSERT_STRING_EQUAL(bind_topo_gpu_busid(t, 2), "0000:87:00.0");
	CU_ASSERT_STRING_EQUAL(bind_topo_gpu_busid(t, 3), "0000:90:00.0");
	CU_ASSERT_PTR_NULL(bind_topo_gpu_busid(t, 4));
	CU_ASSERT_STRING_EQUAL(bind_topo_gpu_cpus(t, 0), "0-3");
	CU_ASSERT_STRING_EQUAL(bind_topo_gpu_cpus(t, 1), "0-3");
	CU_ASSERT_STRING_EQUAL(bind_topo_gpu_cpus(t, 2), "4-7");
	CU_ASSERT_STRING_EQUAL(bind_topo_gpu_cpus(t, 3), "4-7");

	/* ranks sharing a locality split its cores */
	expect_plan(t, BIND_GPU_LOCAL, NULL, one_each, 4,
		    (const char *[]){"0-1", "2-3", "4-5", "6-7"});
	expect_plan(t, BIND_GPU_LOCAL, NULL, two_each, 2,
		    (const char *[]){"0-3", "4-7"});
	expect_plan(t, BIND_GPU_LOCAL, NULL, across, 1,
		    (const char *[]){"0-7"});
	expect_plan(t, BIND_GPU_LOCAL, NULL, shared, 2,
		    (const char *[]){"0-1", "2-3"});
	expect_plan(t, BIND_GPU_LOCAL, NULL, reversed, 2,
		    (const char *[]){"4-7", "0-3"});
	/* ranks without GPUs get what the GPU ranks left */
	expect_plan(t, BIND_GPU_LOCAL, NULL, mixed, 4,
		    (const char *[]){"0-1", "2-3", "4", "5"});
	/* cores: round robin over the packages, blocks of cores */
	expect_plan(t, BIND_CORES, NULL, one_each, 4,
		    (const char *[]){"0", "4", "1", "5"});
	expect_plan(t, BIND_CORES, NULL, plain, 4,
		    (const char *[]){"0-1", "4-5", "2-3", "6-7"});
	/* 9 CPUs asked of 8: the last rank takes the leftovers across the
	 * packages, then overlaps */
	expect_plan(t, BIND_CORES, NULL, three, 3,
		    (const char *[]){"0-2", "4-6", "0,3,7"});
	expect_plan(t, BIND_NONE, NULL, one_each, 4,
		    (const char *[]){"", "", "", ""});
	/* the job's share of the node */
	expect_plan(t, BIND_CORES, "4-7", plain, 2,
		    (const char *[]){"4-5", "6-7"});
	expect_plan(t, BIND_GPU_LOCAL, "4-7", one_each, 1,
		    (const char *[]){"4-7"}); /* GPU 0's cores: not ours */
	expect_plan(t, BIND_GPU_LOCAL, "2-5", one_each, 4,
		    (const char *[]){"2", "3", "4", "5"});

	CU_ASSERT(bind_plan(t, BIND_GPU_LOCAL, NULL, bad, 1, &sets, &err) ==
		  -1);
	CU_ASSERT_PTR_NULL(sets);
	CU_ASSERT_STRING_EQUAL(err.text,
			       "rank 0: GPU 4: the node has GPUs 0-3");
	CU_ASSERT(bind_plan(t, BIND_NONE, NULL, bad, 1, &sets, &err) == -1);
	CU_ASSERT(bind_plan(t, BIND_CORES, "12-15", plain, 1, &sets, &err) ==
		  -1);
	CU_ASSERT(strstr(err.text, "\"12-15\"") != NULL);
	CU_ASSERT(strstr(err.text, "0-7") != NULL);
	CU_ASSERT(bind_plan(t, BIND_CORES, "junk", plain, 1, &sets, &err) ==
		  -1);
	CU_ASSERT(bind_plan(t, (enum bind_mode)7, NULL, plain, 1, &sets,
			    &err) == -1);
	/* no ranks is a plan too */
	CU_ASSERT(bind_plan(t, BIND_CORES, NULL, plain, 0, &sets, &err) == 0);
	bind_sets_free(sets, 0);
	bind_topo_destroy(t);
}

/* Two packages (one NUMA node each) of 4 cores with 2 PUs, no GPU. */
static void test_cpu_only(void)
{
	struct bind_topo *t = load("cpu-2pack-4core-2pu.xml");
	struct bind_task one[4] = {
		{1, NULL, 0}, {1, NULL, 0}, {1, NULL, 0}, {1, NULL, 0}};
	struct bind_task threes[4] = {
		{3, NULL, 0}, {3, NULL, 0}, {3, NULL, 0}, {3, NULL, 0}};
	struct bind_task nine[9];
	struct mer_error err = {""};
	struct bind_set *sets = NULL;

	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	CU_ASSERT_EQUAL(bind_topo_ngpus(t), 0);
	CU_ASSERT_EQUAL(bind_topo_cores(t), 8);
	CU_ASSERT_EQUAL(bind_topo_pus(t), 16);
	/* a rank gets whole cores: both PUs */
	expect_plan(t, BIND_CORES, NULL, one, 4,
		    (const char *[]){"0-1", "8-9", "2-3", "10-11"});
	/* 3 CPUs take 2 cores */
	expect_plan(t, BIND_CORES, NULL, threes, 4,
		    (const char *[]){"0-3", "8-11", "4-7", "12-15"});
	/* no GPUs: gpu-local is cores */
	expect_plan(t, BIND_GPU_LOCAL, NULL, one, 4,
		    (const char *[]){"0-1", "8-9", "2-3", "10-11"});
	/* one PU of a core allowed: that PU is the core */
	expect_plan(t, BIND_CORES, "0,2,4,6", one, 4,
		    (const char *[]){"0", "2", "4", "6"});
	/* nine ranks on eight cores: one overlaps */
	for (int i = 0; i < 9; i++)
		nine[i] = (struct bind_task){2, NULL, 0};
	CU_ASSERT(bind_plan(t, BIND_CORES, NULL, nine, 9, &sets, &err) == 0);
	CU_ASSERT_STRING_EQUAL(sets[7].list, "14-15");
	CU_ASSERT_STRING_EQUAL(sets[8].list, "0-1");
	for (int i = 0; i < 8; i++)
		for (int j = i + 1; j < 8; j++)
			CU_ASSERT(!hwloc_bitmap_intersects(sets[i].cpuset,
							   sets[j].cpuset));
	bind_sets_free(sets, 9);
	bind_topo_destroy(t);
}

/* GPUs hwloc sees only as PCI devices, one without locality. */
static void test_pci_only(void)
{
	struct bind_topo *t = load("gpu-pci-only.xml");
	static const unsigned g0[] = {0}, g1[] = {1};
	struct bind_task tasks[2] = {{1, g0, 1}, {1, g1, 1}};

	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	CU_ASSERT_EQUAL_FATAL(bind_topo_ngpus(t), 2);
	CU_ASSERT_STRING_EQUAL(bind_topo_gpu_busid(t, 0), "0000:41:00.0");
	CU_ASSERT_STRING_EQUAL(bind_topo_gpu_cpus(t, 0), "0-3");
	CU_ASSERT_STRING_EQUAL(bind_topo_gpu_busid(t, 1), "0000:c1:00.0");
	CU_ASSERT_STRING_EQUAL(bind_topo_gpu_cpus(t, 1), "0-7");
	/* GPU 1's locality is the machine: its rank gets what is free */
	expect_plan(t, BIND_GPU_LOCAL, NULL, tasks, 2,
		    (const char *[]){"0-3", "4-7"});
	bind_topo_destroy(t);
}

/* The project's 8-GPU fixture: two sockets, four NUMA dies. */
static void test_h100x8(void)
{
	struct bind_topo *t = load("gpu-2pack-4die-h100x8.xml");
	static const char *const bus[8] = {
		"0000:18:00.0", "0000:2a:00.0", "0000:3a:00.0", "0000:5d:00.0",
		"0000:9a:00.0", "0000:ab:00.0", "0000:ba:00.0", "0000:db:00.0",
	};
	static const char *const local[4] = {"0-3,16-19", "4-7,20-23",
					     "8-11,24-27", "12-15,28-31"};
	static const unsigned gi[8] = {0, 1, 2, 3, 4, 5, 6, 7};
	static const unsigned all8[8] = {0, 1, 2, 3, 4, 5, 6, 7};
	struct bind_task eight[8], four[4], whole[1] = {{1, all8, 8}};
	struct bind_task big[1] = {{16, gi, 1}};

	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	CU_ASSERT_EQUAL(bind_topo_cores(t), 16);
	CU_ASSERT_EQUAL(bind_topo_pus(t), 32);
	CU_ASSERT_EQUAL_FATAL(bind_topo_ngpus(t), 8);
	for (size_t i = 0; i < 8; i++) {
		CU_ASSERT_STRING_EQUAL(bind_topo_gpu_busid(t, i), bus[i]);
		CU_ASSERT_STRING_EQUAL(bind_topo_gpu_cpus(t, i), local[i / 2]);
	}
	for (int i = 0; i < 8; i++)
		eight[i] = (struct bind_task){1, &gi[i], 1};
	/* two GPUs per die: each rank half its die, hyperthreads with it */
	expect_plan(t, BIND_GPU_LOCAL, NULL, eight, 8,
		    (const char *[]){"0-1,16-17", "2-3,18-19", "4-5,20-21",
				     "6-7,22-23", "8-9,24-25", "10-11,26-27",
				     "12-13,28-29", "14-15,30-31"});
	for (int i = 0; i < 4; i++)
		four[i] = (struct bind_task){4, NULL, 0};
	/* cores: one rank per NUMA die */
	expect_plan(t, BIND_CORES, NULL, four, 4,
		    (const char *[]){"0-1,16-17", "4-5,20-21", "8-9,24-25",
				     "12-13,28-29"});
	expect_plan(t, BIND_GPU_LOCAL, NULL, whole, 1,
		    (const char *[]){"0-31"});
	/* more CPUs than its GPU's die has: the die's cores, no more */
	expect_plan(t, BIND_GPU_LOCAL, NULL, big, 1,
		    (const char *[]){"0-3,16-19"});
	bind_topo_destroy(t);
}

/* A real export: DGX-2, 16 V100s, 0-7 behind socket 0, 8-15 socket 1
 * (the export keeps only 2 PUs per socket: 0-1 and 24-25). */
static void test_dgx2(void)
{
	struct mer_error err = {""};
	struct bind_task tasks[16];
	static const unsigned gi[16] = {0, 1, 2,  3,  4,  5,  6,  7,
					8, 9, 10, 11, 12, 13, 14, 15};
	struct bind_set *sets = NULL;
	struct bind_topo *t;
	char *p;
	hwloc_bitmap_t s0 = hwloc_bitmap_alloc(), s1 = hwloc_bitmap_alloc();

	/* the project's shared reference data sit beside the source tree */
	p = test_shared_fixture_path("hwloc-real/nvidiaDGX2.xml");
	if (access(p, R_OK) != 0) {
		/* as in `make distcheck`: its source tree has no ../shared */
		cunit_skip("%s is absent (the shared reference data beside "
			   "the source tree; MERIDIAN_SHARED_FIXTURES names "
			   "another fixtures directory)",
			   p);
		goto out;
	}
	t = bind_topo_load(p, &err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	CU_ASSERT_EQUAL_FATAL(bind_topo_ngpus(t), 16);
	CU_ASSERT_STRING_EQUAL(bind_topo_gpu_busid(t, 0), "0000:34:00.0");
	CU_ASSERT_STRING_EQUAL(bind_topo_gpu_busid(t, 7), "0000:5e:00.0");
	CU_ASSERT_STRING_EQUAL(bind_topo_gpu_busid(t, 8), "0000:b7:00.0");
	CU_ASSERT_STRING_EQUAL(bind_topo_gpu_busid(t, 15), "0000:e7:00.0");
	for (size_t i = 0; i < 16; i++)
		CU_ASSERT_STRING_EQUAL(bind_topo_gpu_cpus(t, i),
				       i < 8 ? "0-1" : "24-25");
	for (int i = 0; i < 16; i++)
		tasks[i] = (struct bind_task){1, &gi[i], 1};
	hwloc_bitmap_list_sscanf(s0, "0-1");
	hwloc_bitmap_list_sscanf(s1, "24-25");
	CU_ASSERT_FATAL(bind_plan(t, BIND_GPU_LOCAL, NULL, tasks, 16, &sets,
				  &err) == 0);
	/* eight ranks on two cores: they share, but never leave the
	 * socket of their GPU */
	for (int i = 0; i < 16; i++) {
		CU_ASSERT(!hwloc_bitmap_iszero(sets[i].cpuset));
		CU_ASSERT(hwloc_bitmap_isincluded(sets[i].cpuset,
						  i < 8 ? s0 : s1));
	}
	CU_ASSERT_STRING_EQUAL(sets[0].list, "0");
	CU_ASSERT_STRING_EQUAL(sets[1].list, "1");
	CU_ASSERT_STRING_EQUAL(sets[8].list, "24");
	bind_sets_free(sets, 16);
	bind_topo_destroy(t);
out:
	hwloc_bitmap_free(s0);
	hwloc_bitmap_free(s1);
	free(p);
}

/* ---- real binding ---- */

/* Cpus_allowed_list of a process or thread, "" when unreadable. */
static void allowed_list(const char *status_path, char *buf, size_t n)
{
	char *data = NULL, *p;
	size_t len;

	buf[0] = '\0';
	if (read_file(status_path, &data, &len) < 0)
		return;
	if ((p = strstr(data, "Cpus_allowed_list:"))) {
		p += strlen("Cpus_allowed_list:");
		p += strspn(p, " \t");
		snprintf(buf, n, "%.*s", (int)strcspn(p, "\n"), p);
	}
	free(data);
}

static void proc_allowed(pid_t pid, char *buf, size_t n)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	allowed_list(path, buf, n);
}

static void *sleeper(void *arg)
{
	(void)arg;
	for (;;)
		pause();
	return NULL;
}

/* A child with a second thread, waiting to be bound and killed.  The
 * pipe says when the thread exists. */
static pid_t start_child(void)
{
	int fds[2];
	pid_t pid;
	char c;

	CU_ASSERT_FATAL(pipe(fds) == 0);
	pid = fork();
	CU_ASSERT_FATAL(pid >= 0);
	if (pid == 0) {
		pthread_t th;
		close(fds[0]);
		if (pthread_create(&th, NULL, sleeper, NULL) != 0)
			_exit(1);
		if (write(fds[1], "x", 1) != 1)
			_exit(1);
		for (;;)
			pause();
	}
	close(fds[1]);
	CU_ASSERT(read(fds[0], &c, 1) == 1);
	close(fds[0]);
	return pid;
}

static void stop_child(pid_t pid)
{
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

/* Both threads of the child are allowed exactly want. */
static void expect_threads(pid_t pid, const char *want)
{
	char path[300], got[128];
	int threads = 0;
	struct dirent *de;
	DIR *dir;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	dir = opendir(path);
	CU_ASSERT_PTR_NOT_NULL_FATAL(dir);
	while ((de = readdir(dir))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%s/status",
			 (int)pid, de->d_name);
		allowed_list(path, got, sizeof(got));
		CU_ASSERT_STRING_EQUAL(got, want);
		threads++;
	}
	closedir(dir);
	CU_ASSERT_EQUAL(threads, 2);
}

static void test_apply(void)
{
	struct mer_error err = {""};
	cpu_set_t mine;
	int cpus[2], n = 0;
	char a[16], b[16], both[32], got[128], outside[64];
	pid_t pid;

	/* two CPUs this test may use (cgroups may allow fewer than exist) */
	CU_ASSERT_FATAL(sched_getaffinity(0, sizeof(mine), &mine) == 0);
	for (int c = 0; c < CPU_SETSIZE && n < 2; c++)
		if (CPU_ISSET(c, &mine))
			cpus[n++] = c;
	if (n < 2) {
		cunit_skip("needs two CPUs; this process may run on one only");
		return;
	}
	snprintf(a, sizeof(a), "%d", cpus[0]);
	snprintf(b, sizeof(b), "%d", cpus[1]);
	if (cpus[1] == cpus[0] + 1)
		snprintf(both, sizeof(both), "%d-%d", cpus[0], cpus[1]);
	else
		snprintf(both, sizeof(both), "%d,%d", cpus[0], cpus[1]);

	pid = start_child();
	CU_ASSERT(bind_apply(pid, b, &err) == 0);
	proc_allowed(pid, got, sizeof(got));
	CU_ASSERT_STRING_EQUAL(got, b);
	expect_threads(pid, b); /* the second thread too */
	CU_ASSERT(bind_apply(pid, a, &err) == 0);
	proc_allowed(pid, got, sizeof(got));
	CU_ASSERT_STRING_EQUAL(got, a);
	CU_ASSERT(bind_apply(pid, both, &err) == 0);
	proc_allowed(pid, got, sizeof(got));
	CU_ASSERT_STRING_EQUAL(got, both);

	/* a plan from a bigger machine's XML: the part that exists here */
	snprintf(outside, sizeof(outside), "%s,4000-4001", b);
	CU_ASSERT(bind_apply(pid, outside, &err) == 1);
	CU_ASSERT(strstr(err.text, "4000-4001") != NULL);
	proc_allowed(pid, got, sizeof(got));
	CU_ASSERT_STRING_EQUAL(got, b);
	/* nothing that exists, or not a list: refused, binding unchanged */
	CU_ASSERT(bind_apply(pid, "4000-4001", &err) == -1);
	CU_ASSERT(strstr(err.text, "none of these CPUs") != NULL);
	CU_ASSERT(bind_apply(pid, "zero", &err) == -1);
	CU_ASSERT(strstr(err.text, "\"zero\"") != NULL);
	CU_ASSERT(bind_apply(pid, "", &err) == -1);
	CU_ASSERT(bind_apply(pid, NULL, &err) == -1);
	proc_allowed(pid, got, sizeof(got));
	CU_ASSERT_STRING_EQUAL(got, b);
	stop_child(pid);

	/* a process gone */
	CU_ASSERT(bind_apply(pid, a, &err) == -1);
	CU_ASSERT(strstr(err.text, "binding process") != NULL);

	/* the way mstepd binds: in the child, before exec */
	pid = fork();
	CU_ASSERT_FATAL(pid >= 0);
	if (pid == 0) {
		if (bind_apply(0, a, NULL) != 0)
			_exit(1);
		execl("/bin/sleep", "sleep", "30", (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 200; i++) {
		char *data = NULL;
		size_t len;
		char path[64];
		snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
		if (read_file(path, &data, &len) == 0 &&
		    !strncmp(data, "sleep", 5)) {
			free(data);
			break;
		}
		free(data);
		usleep(10000);
	}
	proc_allowed(pid, got, sizeof(got));
	CU_ASSERT_STRING_EQUAL(got, a);
	stop_child(pid);
}

/* A plan for this machine, applied for real. */
static void test_plan_this_machine(void)
{
	struct mer_error err = {""};
	struct bind_topo *t = bind_topo_load(NULL, &err);
	struct bind_task tasks[2] = {{1, NULL, 0}, {1, NULL, 0}};
	struct bind_set *sets = NULL;
	char got[128];
	pid_t pid;

	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	CU_ASSERT(bind_topo_cores(t) >= 1);
	CU_ASSERT_FATAL(bind_plan(t, BIND_CORES, NULL, tasks, 2, &sets, &err) ==
			0);
	pid = start_child();
	CU_ASSERT(bind_apply(pid, sets[1].list, &err) == 0);
	proc_allowed(pid, got, sizeof(got));
	CU_ASSERT_STRING_EQUAL(got, sets[1].list);
	stop_child(pid);
	bind_sets_free(sets, 2);
	bind_topo_destroy(t);
}

static CU_TestInfo tests[] = {
	{"--cpu-bind= modes", test_mode_parse},
	{"load errors", test_load_errors},
	{"4 A100 on 2 packages", test_a100x4},
	{"CPU-only node, 2 PUs per core", test_cpu_only},
	{"GPUs seen only on PCI", test_pci_only},
	{"8 H100 on 4 NUMA dies", test_h100x8},
	{"real DGX-2 export", test_dgx2},
	{"bind_apply on a forked process", test_apply},
	{"a plan for this machine, applied", test_plan_this_machine},
	CU_TEST_INFO_NULL,
};

CUNIT_MAIN("bind", tests)
