/*
 * test_env.c - the batch script's environment: the job's own variables,
 * the SLURM_* and MERIDIAN_* names, GPUs, and the passwd fallbacks.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "cunit_main.h"
#include "mstepd.h"

/* A two-node job: 3 tasks, 2 CPUs per task, GPUs 1 and 3 on gpu07. */
struct fixture {
	Meridian__LaunchJob lj;
	Meridian__JobRecord job;
	Meridian__JobDesc desc;
	Meridian__JobSpec spec;
	Meridian__JobNodeAlloc a0, a1;
	Meridian__JobNodeAlloc *allocs[2];
	uint32_t gpus0[2];
};

static char *base_env[] = {
	"PATH=/opt/bin:/usr/bin",
	"HOME=/home/alice",
	"FOO=first",
	"FOO=second",
	"NOEQUALS",
	"SLURM_JOB_ACCOUNT=stale",  /* mbatch run inside another job */
	"SLURM_JOB_ID=999",
	"CUDA_VISIBLE_DEVICES=0,1,2,3",
};

static const struct env_user alice = {
	.name = "alice", .home = "/home/alice", .shell = "/bin/bash",
	.uid = 1001, .gid = 1001,
};

static void fixture_init(struct fixture *f, bool gpus)
{
	memset(f, 0, sizeof(*f));
	meridian__launch_job__init(&f->lj);
	meridian__job_record__init(&f->job);
	meridian__job_desc__init(&f->desc);
	meridian__job_spec__init(&f->spec);
	meridian__job_node_alloc__init(&f->a0);
	meridian__job_node_alloc__init(&f->a1);
	f->desc.name = "train";
	f->desc.partition = "gpu";
	f->desc.work_dir = "/home/alice/run";
	f->desc.submit_dir = "/home/alice/run";
	f->desc.cpus_per_task = 2;
	f->desc.mem_mb = 4096;
	f->job.job_id = 42;
	f->job.desc = &f->desc;
	f->job.user_id = 1001;
	f->job.group_id = 1001;
	f->job.user_name = "alice";
	f->job.nodes = "gpu[07-08]";
	f->job.batch_host = "gpu07";
	f->job.submit_host = "login1";
	f->job.ntasks = 3;
	f->job.num_nodes = 2;
	f->a0.node = "gpu07";
	f->a0.cpus = 4;
	f->a0.ntasks = 2;
	f->a1.node = "gpu08";
	f->a1.cpus = 2;
	f->a1.ntasks = 1;
	if (gpus) {
		f->gpus0[0] = 1;
		f->gpus0[1] = 3;
		f->a0.gpus = f->gpus0;
		f->a0.n_gpus = 2;
	}
	f->allocs[0] = &f->a0;
	f->allocs[1] = &f->a1;
	f->job.alloc = f->allocs;
	f->job.n_alloc = 2;
	f->spec.env = base_env;
	f->spec.n_env = sizeof(base_env) / sizeof(*base_env);
	f->lj.job = &f->job;
	f->lj.spec = &f->spec;
	f->lj.cluster = "meridian";
	f->lj.kill_wait = 30;
}

#define EXPECT(env, name, value)                                               \
	do {                                                                   \
		const char *v_ = env_get(env, name);                           \
		CU_ASSERT_PTR_NOT_NULL_FATAL(v_);                              \
		if (strcmp(v_, value))                                         \
			fprintf(stderr, "%s=%s, expected %s\n", name, v_,      \
				value);                                        \
		CU_ASSERT_STRING_EQUAL(v_, value);                             \
	} while (0)

static size_t count(char **env, const char *name)
{
	size_t n = 0, len = strlen(name);

	for (; *env; env++)
		if (!strncmp(*env, name, len) && (*env)[len] == '=')
			n++;
	return n;
}

static void test_slurm_names(void)
{
	struct fixture f;
	char **env;

	fixture_init(&f, true);
	env = env_build(&f.lj, "gpu07", &alice);
	EXPECT(env, "SLURM_JOB_ID", "42");
	EXPECT(env, "SLURM_JOBID", "42");
	EXPECT(env, "SLURM_JOB_NAME", "train");
	EXPECT(env, "SLURM_JOB_USER", "alice");
	EXPECT(env, "SLURM_JOB_UID", "1001");
	EXPECT(env, "SLURM_SUBMIT_DIR", "/home/alice/run");
	EXPECT(env, "SLURM_SUBMIT_HOST", "login1");
	EXPECT(env, "SLURM_JOB_NODELIST", "gpu[07-08]");
	EXPECT(env, "SLURM_NODELIST", "gpu[07-08]");
	EXPECT(env, "SLURM_JOB_NUM_NODES", "2");
	EXPECT(env, "SLURM_NNODES", "2");
	EXPECT(env, "SLURM_NTASKS", "3");
	EXPECT(env, "SLURM_NPROCS", "3");
	EXPECT(env, "SLURM_CPUS_PER_TASK", "2");
	EXPECT(env, "SLURM_CPUS_ON_NODE", "4");
	EXPECT(env, "SLURM_JOB_CPUS_PER_NODE", "4,2");
	EXPECT(env, "SLURM_TASKS_PER_NODE", "2,1");
	EXPECT(env, "SLURM_MEM_PER_NODE", "4096");
	EXPECT(env, "SLURM_JOB_PARTITION", "gpu");
	EXPECT(env, "SLURM_NODEID", "0");
	EXPECT(env, "SLURM_CLUSTER_NAME", "meridian");
	EXPECT(env, "SLURMD_NODENAME", "gpu07");
	EXPECT(env, "ENVIRONMENT", "BATCH");
	/* the stale value from the submitting shell is gone */
	CU_ASSERT_PTR_NULL(env_get(env, "SLURM_JOB_ACCOUNT"));
	CU_ASSERT_PTR_NULL(env_get(env, "MERIDIAN_JOB_ACCOUNT"));
	CU_ASSERT_EQUAL(count(env, "SLURM_JOB_ID"), 1);
	env_free(env);
}

static void test_meridian_names(void)
{
	struct fixture f;
	char **env;

	fixture_init(&f, true);
	f.desc.account = "physics";
	env = env_build(&f.lj, "gpu07", &alice);
	EXPECT(env, "MERIDIAN_JOB_ID", "42");
	EXPECT(env, "MERIDIAN_JOB_NAME", "train");
	EXPECT(env, "MERIDIAN_JOB_NODELIST", "gpu[07-08]");
	EXPECT(env, "MERIDIAN_JOB_NUM_NODES", "2");
	EXPECT(env, "MERIDIAN_NTASKS", "3");
	EXPECT(env, "MERIDIAN_CPUS_PER_TASK", "2");
	EXPECT(env, "MERIDIAN_JOB_PARTITION", "gpu");
	EXPECT(env, "MERIDIAN_JOB_ACCOUNT", "physics");
	EXPECT(env, "SLURM_JOB_ACCOUNT", "physics");
	EXPECT(env, "MERIDIAN_SUBMIT_DIR", "/home/alice/run");
	EXPECT(env, "MERIDIAN_GPUS_ON_NODE", "2");
	EXPECT(env, "MERIDIAN_NODENAME", "gpu07");
	EXPECT(env, "MERIDIAN_CLUSTER_NAME", "meridian");
	env_free(env);
}

static void test_gpus(void)
{
	struct fixture f;
	char **env;

	fixture_init(&f, true);
	env = env_build(&f.lj, "gpu07", &alice);
	EXPECT(env, "CUDA_VISIBLE_DEVICES", "1,3");
	EXPECT(env, "CUDA_DEVICE_ORDER", "PCI_BUS_ID");
	EXPECT(env, "SLURM_GPUS_ON_NODE", "2");
	EXPECT(env, "SLURM_JOB_GPUS", "1,3");
	CU_ASSERT_EQUAL(count(env, "CUDA_VISIBLE_DEVICES"), 1);
	env_free(env);

	/* no GPUs here: Meridian sets none of its GPU names, and leaves
	 * CUDA_VISIBLE_DEVICES as the job's environment had it */
	fixture_init(&f, false);
	env = env_build(&f.lj, "gpu07", &alice);
	EXPECT(env, "SLURM_GPUS_ON_NODE", "0");
	CU_ASSERT_PTR_NULL(env_get(env, "SLURM_JOB_GPUS"));
	CU_ASSERT_PTR_NULL(env_get(env, "CUDA_DEVICE_ORDER"));
	EXPECT(env, "CUDA_VISIBLE_DEVICES", "0,1,2,3");
	env_free(env);
}

static void test_job_env_kept(void)
{
	struct fixture f;
	char **env;

	fixture_init(&f, false);
	env = env_build(&f.lj, "gpu07", &alice);
	EXPECT(env, "PATH", "/opt/bin:/usr/bin");
	EXPECT(env, "HOME", "/home/alice");
	EXPECT(env, "FOO", "second"); /* the last one wins */
	CU_ASSERT_EQUAL(count(env, "FOO"), 1);
	CU_ASSERT_PTR_NULL(env_get(env, "NOEQUALS"));
	/* absent in the job's env: from passwd */
	EXPECT(env, "USER", "alice");
	EXPECT(env, "LOGNAME", "alice");
	EXPECT(env, "SHELL", "/bin/bash");
	env_free(env);
}

static void test_export_none(void)
{
	struct fixture f;
	char **env;

	fixture_init(&f, false);
	f.spec.n_env = 0; /* --export=NONE */
	f.desc.cpus_per_task = 0;
	f.desc.name = "";
	f.job.ntasks = 0;
	f.job.nodes = "";
	env = env_build(&f.lj, "gpu07", &alice);
	EXPECT(env, "HOME", "/home/alice");
	EXPECT(env, "PATH", "/usr/local/bin:/usr/bin:/bin");
	EXPECT(env, "SLURM_JOB_NAME", "mbatch");
	EXPECT(env, "SLURM_NTASKS", "2"); /* one per node */
	EXPECT(env, "SLURM_JOB_NODELIST", "gpu07");
	CU_ASSERT_PTR_NULL(env_get(env, "SLURM_CPUS_PER_TASK"));
	CU_ASSERT_PTR_NULL(env_get(env, "CUDA_VISIBLE_DEVICES"));
	env_free(env);
}

static void test_compressed_counts(void)
{
	struct fixture f;
	char **env;

	fixture_init(&f, false);
	f.a1.cpus = 4;
	f.a1.ntasks = 2;
	env = env_build(&f.lj, "gpu08", &alice);
	EXPECT(env, "SLURM_JOB_CPUS_PER_NODE", "4(x2)");
	EXPECT(env, "SLURM_TASKS_PER_NODE", "2(x2)");
	EXPECT(env, "SLURMD_NODENAME", "gpu08");
	env_free(env);
}

static CU_TestInfo tests[] = {
	{ "slurm names", test_slurm_names },
	{ "meridian names", test_meridian_names },
	{ "gpus", test_gpus },
	{ "job environment kept", test_job_env_kept },
	{ "export none", test_export_none },
	{ "compressed per-node counts", test_compressed_counts },
	CU_TEST_INFO_NULL,
};

CUNIT_MAIN("env", tests)
