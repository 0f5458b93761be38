/*
 * test_env.c - the batch script's environment: the job's own variables,
 * the SLURM_* and MERIDIAN_* names, GPUs, and the passwd fallbacks; and
 * the environment of a step's ranks.
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
	"SLURM_JOB_ACCOUNT=stale", /* mbatch run inside another job */
	"SLURM_JOB_ID=999",
	"SLURM_TASK_PID=777", /* and its task's pid */
	"TMPDIR=/tmp/login1",
	"CUDA_VISIBLE_DEVICES=0,1,2,3",
};

static const struct env_user alice = {
	.name = "alice",
	.home = "/home/alice",
	.shell = "/bin/bash",
	.uid = 1001,
	.gid = 1001,
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
	f->desc.ntasks = 3; /* -n 3 */
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
	EXPECT(env, "SLURM_GTIDS", "0");
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
	/* as Slurm: no SLURM_GPUS_ON_NODE without GPUs */
	CU_ASSERT_PTR_NULL(env_get(env, "SLURM_GPUS_ON_NODE"));
	CU_ASSERT_PTR_NULL(env_get(env, "MERIDIAN_GPUS_ON_NODE"));
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
	f.job.nodes = "";
	env = env_build(&f.lj, "gpu07", &alice);
	EXPECT(env, "HOME", "/home/alice");
	EXPECT(env, "PATH", "/usr/local/bin:/usr/bin:/bin");
	EXPECT(env, "SLURM_JOB_NAME", "mbatch");
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
	/* no --ntasks-per-node given: sbatch sets no SLURM_NTASKS_PER_NODE */
	CU_ASSERT_PTR_NULL(env_get(env, "SLURM_NTASKS_PER_NODE"));
	env_free(env);
	f.desc.ntasks_per_node = 2;
	env = env_build(&f.lj, "gpu08", &alice);
	EXPECT(env, "SLURM_NTASKS_PER_NODE", "2");
	env_free(env);
}

/* sbatch exports SLURM_NTASKS and SLURM_NPROCS only when -n or
 * --ntasks-per-node was given. */
static void test_ntasks_given(void)
{
	struct fixture f;
	char **env;

	fixture_init(&f, false);
	f.desc.ntasks = 0; /* -N2 alone: one task per node in force */
	f.job.ntasks = 2;
	f.spec.env = (char *[]){"SLURM_NTASKS=9", "MERIDIAN_NTASKS=9",
				"SLURM_NPROCS=9"}; /* the submitting shell's */
	f.spec.n_env = 3;
	env = env_build(&f.lj, "gpu07", &alice);
	CU_ASSERT_PTR_NULL(env_get(env, "SLURM_NTASKS"));
	CU_ASSERT_PTR_NULL(env_get(env, "SLURM_NPROCS"));
	CU_ASSERT_PTR_NULL(env_get(env, "MERIDIAN_NTASKS"));
	/* the rest that a -N2 job has stays */
	EXPECT(env, "SLURM_JOB_NUM_NODES", "2");
	EXPECT(env, "SLURM_TASKS_PER_NODE", "2,1");
	env_free(env);

	/* --ntasks-per-node=2 -N2: the count follows from it */
	f.desc.ntasks_per_node = 2;
	f.job.ntasks = 4;
	env = env_build(&f.lj, "gpu07", &alice);
	EXPECT(env, "SLURM_NTASKS", "4");
	EXPECT(env, "SLURM_NPROCS", "4");
	EXPECT(env, "MERIDIAN_NTASKS", "4");
	env_free(env);
	/* a record from before ntasks was kept: from the request */
	f.job.ntasks = 0;
	env = env_build(&f.lj, "gpu07", &alice);
	EXPECT(env, "SLURM_NTASKS", "4");
	env_free(env);

	/* -n 3 */
	fixture_init(&f, false);
	env = env_build(&f.lj, "gpu07", &alice);
	EXPECT(env, "SLURM_NTASKS", "3");
	EXPECT(env, "SLURM_NPROCS", "3");
	env_free(env);
}

/* TMPDIR is the directory mnoded made, whatever the job's environment
 * said; without one (an older mnoded) the job's own stays. */
static void test_tmpdir(void)
{
	struct fixture f;
	char **env;

	fixture_init(&f, false);
	f.lj.tmpdir = "/scratch/meridian.42.Xy12Ab";
	env = env_build(&f.lj, "gpu07", &alice);
	EXPECT(env, "TMPDIR", "/scratch/meridian.42.Xy12Ab");
	CU_ASSERT_EQUAL(count(env, "TMPDIR"), 1);
	env_free(env);
	f.lj.tmpdir = "";
	env = env_build(&f.lj, "gpu07", &alice);
	EXPECT(env, "TMPDIR", "/tmp/login1");
	env_free(env);
}

/* SLURM_TASK_PID: none until the task's process sets its own, once. */
static void test_task_pid(void)
{
	struct fixture f;
	char **env;

	fixture_init(&f, false);
	env = env_build(&f.lj, "gpu07", &alice);
	CU_ASSERT_PTR_NULL(env_get(env, "SLURM_TASK_PID"));
	env_set_task_pid(env, 4194304);
	EXPECT(env, "SLURM_TASK_PID", "4194304");
	env_set_task_pid(env, 7);
	EXPECT(env, "SLURM_TASK_PID", "7");
	CU_ASSERT_EQUAL(count(env, "SLURM_TASK_PID"), 1);
	EXPECT(env, "SLURM_JOB_ID", "42"); /* nothing else moved */
	env_free(env);
}

/* A step of the fixture's job on both its nodes: 3 ranks, 2 on gpu07
 * (GPUs 1 and 3) and 1 on gpu08. */
struct step_fixture {
	Meridian__LaunchStep ls;
	Meridian__StepRecord rec;
	Meridian__StepDesc desc;
	Meridian__StepNode n0, n1;
	Meridian__StepNode *nodes[2];
	uint32_t gpus[2];
};

static char *step_env[] = {
	"PATH=/opt/bin:/usr/bin",
	"SLURM_PROCID=99", /* mrun run inside another step */
	"PMI_FD=7",
	"NCCL_SOCKET_IFNAME=ib0", /* the user's choice */
	"CUDA_VISIBLE_DEVICES=0,1,2,3",
};

static void step_fixture_init(struct step_fixture *s, struct fixture *f,
			      uint32_t node_index)
{
	memset(s, 0, sizeof(*s));
	meridian__launch_step__init(&s->ls);
	meridian__step_record__init(&s->rec);
	meridian__step_desc__init(&s->desc);
	meridian__step_node__init(&s->n0);
	meridian__step_node__init(&s->n1);
	s->desc.ntasks = 3;
	s->desc.env = step_env;
	s->desc.n_env = sizeof(step_env) / sizeof(*step_env);
	s->n0.node = "gpu07";
	s->n0.addr = "10.0.0.7";
	s->n0.ntasks = 2;
	s->n0.cpus_per_task = 4;
	s->gpus[0] = 1;
	s->gpus[1] = 3;
	s->n0.gpus = s->gpus;
	s->n0.n_gpus = 2;
	s->n1.node = "gpu08";
	s->n1.addr = "10.0.0.8";
	s->n1.first_rank = 2;
	s->n1.ntasks = 1;
	s->n1.cpus_per_task = 4;
	s->nodes[0] = &s->n0;
	s->nodes[1] = &s->n1;
	s->rec.step_id = 5;
	s->rec.desc = &s->desc;
	s->rec.nodes = s->nodes;
	s->rec.n_nodes = 2;
	s->rec.nodelist = "gpu[07-08]";
	s->rec.ntasks = 3;
	s->ls.job = &f->job;
	s->ls.step = &s->rec;
	s->ls.node_index = node_index;
	s->ls.cluster = "meridian";
	s->ls.tmpdir =
		node_index ? "/tmp/meridian.42.n1" : "/tmp/meridian.42.n0";
}

static void test_step_rank(void)
{
	struct fixture f;
	struct step_fixture s;
	struct env_rank r = {.rank = 1,
			     .local_rank = 1,
			     .master_port = 29500,
			     .ifname = "eth0",
			     .pmi_fd = 12};
	char **env;

	fixture_init(&f, true);
	step_fixture_init(&s, &f, 0);
	r.gpus = &s.gpus[1];
	r.ngpus = 1;
	env = env_build_step(&s.ls, "gpu07", &alice, &r);
	EXPECT(env, "SLURM_JOB_ID", "42");
	EXPECT(env, "SLURM_STEP_ID", "5");
	EXPECT(env, "SLURM_STEPID", "5");
	EXPECT(env, "MERIDIAN_STEP_ID", "5");
	EXPECT(env, "SLURM_PROCID", "1");
	EXPECT(env, "MERIDIAN_PROCID", "1");
	EXPECT(env, "SLURM_LOCALID", "1");
	EXPECT(env, "MERIDIAN_LOCALID", "1");
	EXPECT(env, "SLURM_NODEID", "0");
	EXPECT(env, "MERIDIAN_NODEID", "0");
	EXPECT(env, "SLURM_STEP_NUM_TASKS", "3");
	EXPECT(env, "MERIDIAN_STEP_NUM_TASKS", "3");
	EXPECT(env, "SLURM_STEP_NUM_NODES", "2");
	EXPECT(env, "SLURM_STEP_NODELIST", "gpu[07-08]");
	EXPECT(env, "MERIDIAN_STEP_NODELIST", "gpu[07-08]");
	EXPECT(env, "SLURM_NTASKS", "3");
	EXPECT(env, "SLURM_NPROCS", "3");
	EXPECT(env, "SLURM_GTIDS", "0,1");
	EXPECT(env, "TMPDIR", "/tmp/meridian.42.n0");
	EXPECT(env, "SLURM_CPUS_PER_TASK", "4");
	EXPECT(env, "RANK", "1");
	EXPECT(env, "WORLD_SIZE", "3");
	EXPECT(env, "LOCAL_RANK", "1");
	EXPECT(env, "LOCAL_WORLD_SIZE", "2");
	EXPECT(env, "MASTER_ADDR", "10.0.0.7");
	EXPECT(env, "MASTER_PORT", "29500");
	EXPECT(env, "CUDA_VISIBLE_DEVICES", "3");
	EXPECT(env, "CUDA_DEVICE_ORDER", "PCI_BUS_ID");
	EXPECT(env, "SLURM_GPUS_ON_NODE", "2");
	EXPECT(env, "PMI_FD", "12");
	EXPECT(env, "PMI_RANK", "1");
	EXPECT(env, "PMI_SIZE", "3");
	EXPECT(env, "NCCL_SOCKET_IFNAME", "ib0"); /* the user's wins */
	EXPECT(env, "PATH", "/opt/bin:/usr/bin");
	EXPECT(env, "SLURM_JOB_NAME", "train");
	CU_ASSERT_EQUAL(count(env, "SLURM_PROCID"), 1);
	CU_ASSERT_EQUAL(count(env, "CUDA_VISIBLE_DEVICES"), 1);
	CU_ASSERT_PTR_NULL(env_get(env, "SLURM_TASK_PID"));
	env_set_task_pid(env, 31337);
	EXPECT(env, "SLURM_TASK_PID", "31337");
	env_free(env);
}

static void test_step_rank_bare(void)
{
	struct fixture f;
	struct step_fixture s;
	struct env_rank r = {.rank = 2,
			     .local_rank = 0,
			     .master_port = 29500,
			     .ifname = "eth1",
			     .pmi_fd = -1};
	char **env;

	/* node 1, no GPUs, no PMI, no -c, the user named no interface; the
	 * job was given no -n, which a step's task count does not need */
	fixture_init(&f, false);
	f.desc.ntasks = 0;
	step_fixture_init(&s, &f, 1);
	s.desc.n_env = 1;
	s.n1.cpus_per_task = 0;
	s.rec.nodelist = "";
	env = env_build_step(&s.ls, "gpu08", &alice, &r);
	EXPECT(env, "SLURM_PROCID", "2");
	EXPECT(env, "SLURM_NODEID", "1");
	EXPECT(env, "SLURM_GTIDS", "2");
	EXPECT(env, "SLURM_NTASKS", "3");
	EXPECT(env, "SLURM_NPROCS", "3");
	EXPECT(env, "TMPDIR", "/tmp/meridian.42.n1");
	EXPECT(env, "LOCAL_WORLD_SIZE", "1");
	EXPECT(env, "SLURM_STEP_NODELIST", "gpu07,gpu08");
	EXPECT(env, "NCCL_SOCKET_IFNAME", "eth1");
	CU_ASSERT_PTR_NULL(env_get(env, "SLURM_GPUS_ON_NODE"));
	EXPECT(env, "SLURMD_NODENAME", "gpu08");
	CU_ASSERT_PTR_NULL(env_get(env, "CUDA_VISIBLE_DEVICES"));
	CU_ASSERT_PTR_NULL(env_get(env, "CUDA_DEVICE_ORDER"));
	CU_ASSERT_PTR_NULL(env_get(env, "PMI_FD"));
	CU_ASSERT_PTR_NULL(env_get(env, "SLURM_CPUS_PER_TASK"));
	env_free(env);
}

static CU_TestInfo tests[] = {
	{"slurm names", test_slurm_names},
	{"meridian names", test_meridian_names},
	{"gpus", test_gpus},
	{"job environment kept", test_job_env_kept},
	{"export none", test_export_none},
	{"compressed per-node counts", test_compressed_counts},
	{"SLURM_NTASKS only when given", test_ntasks_given},
	{"TMPDIR", test_tmpdir},
	{"SLURM_TASK_PID", test_task_pid},
	{"a step's rank", test_step_rank},
	{"a step's rank without GPUs or PMI", test_step_rank_bare},
	CU_TEST_INFO_NULL,
};

CUNIT_MAIN("env", tests)
