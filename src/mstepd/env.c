/*
 * env.c - the environment of a batch script, and of a step's ranks.
 *
 * The base is JobSpec.env: mbatch already resolved --export there.  On top
 * come the names batch scripts read, Slurm's beside Meridian's own, from
 * one table: each row names the Slurm variable, the Meridian variable (or
 * NULL) and how to get the value.  A row whose value does not apply (no
 * account, no GPUs) leaves its SLURM_/MERIDIAN_ names unset, even if the
 * submitting shell had them (mbatch run from inside another job).
 *
 * A step's rank starts the same way from StepDesc.env (mrun resolved its
 * --export), then gets the names that place it in the step: the step's
 * ids and counts, torchrun's RANK/WORLD_SIZE/MASTER_*, its GPUs, NCCL's
 * interface and the PMI connection.
 *
 * Both get TMPDIR, the job's directory on this node that mnoded made
 * (LaunchJob/LaunchStep.tmpdir), and SLURM_TASK_PID, which only the task
 * itself knows: its process sets it between fork and exec
 * (env_set_task_pid), in a slot the environment keeps free for it.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mstepd.h"

struct env_ctx {
	const Meridian__LaunchJob *lj;
	const Meridian__JobRecord *job;
	const Meridian__JobDesc *desc;
	const Meridian__JobNodeAlloc *alloc; /* this node's share, or NULL */
	const char *node;
	const struct env_user *u;
};

/* Fill b with the value; false when the variable does not apply. */
typedef bool (*env_value_fn)(const struct env_ctx *c, struct strbuf *b);

static bool v_job_id(const struct env_ctx *c, struct strbuf *b)
{
	strbuf_addf(b, "%u", c->job->job_id);
	return true;
}

static bool v_job_name(const struct env_ctx *c, struct strbuf *b)
{
	strbuf_addf(b, "%s", env_job_name(c->job));
	return true;
}

static bool v_user(const struct env_ctx *c, struct strbuf *b)
{
	strbuf_addf(b, "%s",
		    *c->job->user_name ? c->job->user_name : c->u->name);
	return true;
}

static bool v_uid(const struct env_ctx *c, struct strbuf *b)
{
	strbuf_addf(b, "%u", c->job->user_id);
	return true;
}

static bool v_gid(const struct env_ctx *c, struct strbuf *b)
{
	strbuf_addf(b, "%u", c->job->group_id);
	return true;
}

/* JobDesc has no field for the directory mbatch ran in, which differs from
 * the working directory only with -D; the working directory is what the
 * job sees as its start in either case. */
static bool v_submit_dir(const struct env_ctx *c, struct strbuf *b)
{
	/* Where mbatch ran; a peer one version older sends only work_dir. */
	const char *dir = c->desc ? c->desc->submit_dir : NULL;

	if (!dir || !*dir)
		dir = c->desc ? c->desc->work_dir : NULL;
	if (!dir || !*dir)
		return false;
	strbuf_addf(b, "%s", dir);
	return true;
}

static bool v_submit_host(const struct env_ctx *c, struct strbuf *b)
{
	if (!*c->job->submit_host)
		return false;
	strbuf_addf(b, "%s", c->job->submit_host);
	return true;
}

static bool v_nodelist(const struct env_ctx *c, struct strbuf *b)
{
	strbuf_addf(b, "%s", *c->job->nodes ? c->job->nodes : c->node);
	return true;
}

static uint32_t num_nodes(const struct env_ctx *c)
{
	if (c->job->num_nodes)
		return c->job->num_nodes;
	return c->job->n_alloc ? (uint32_t)c->job->n_alloc : 1;
}

static bool v_num_nodes(const struct env_ctx *c, struct strbuf *b)
{
	strbuf_addf(b, "%u", num_nodes(c));
	return true;
}

/* sbatch sets SLURM_NTASKS only when -n (or --ntasks-per-node, which
 * gives the count with the nodes) was asked for; a step's are its own
 * (env_step_place). */
static bool v_ntasks(const struct env_ctx *c, struct strbuf *b)
{
	uint32_t n = c->job->ntasks;

	if (!c->desc || (!c->desc->ntasks && !c->desc->ntasks_per_node))
		return false;
	if (!n)
		n = c->desc->ntasks ? c->desc->ntasks
				    : c->desc->ntasks_per_node * num_nodes(c);
	strbuf_addf(b, "%u", n);
	return true;
}

static bool v_cpus_per_task(const struct env_ctx *c, struct strbuf *b)
{
	if (!c->desc || !c->desc->cpus_per_task)
		return false;
	strbuf_addf(b, "%u", c->desc->cpus_per_task);
	return true;
}

static bool v_cpus_on_node(const struct env_ctx *c, struct strbuf *b)
{
	if (!c->alloc || !c->alloc->cpus)
		return false;
	strbuf_addf(b, "%u", c->alloc->cpus);
	return true;
}

/* Slurm's compressed per-node counts: "4(x2),2". */
static bool per_node_counts(const struct env_ctx *c, struct strbuf *b,
			    bool tasks)
{
	size_t n = c->job->n_alloc;

	if (!n)
		return false;
	for (size_t i = 0; i < n;) {
		uint32_t v = tasks ? c->job->alloc[i]->ntasks
				   : c->job->alloc[i]->cpus;
		size_t run = 1;
		while (i + run < n &&
		       (tasks ? c->job->alloc[i + run]->ntasks
			      : c->job->alloc[i + run]->cpus) == v)
			run++;
		if (b->len)
			strbuf_addc(b, ',');
		if (run > 1)
			strbuf_addf(b, "%u(x%zu)", v, run);
		else
			strbuf_addf(b, "%u", v);
		i += run;
	}
	return true;
}

static bool v_cpus_per_node(const struct env_ctx *c, struct strbuf *b)
{
	return per_node_counts(c, b, false);
}

static bool v_tasks_per_node(const struct env_ctx *c, struct strbuf *b)
{
	for (size_t i = 0; i < c->job->n_alloc; i++)
		if (!c->job->alloc[i]->ntasks)
			return false; /* not decided per node */
	return per_node_counts(c, b, true);
}

/* SLURM_MEM_PER_NODE, or with --mem-per-cpu SLURM_MEM_PER_CPU alone, as
 * Slurm sets one of them. */
static bool v_mem(const struct env_ctx *c, struct strbuf *b)
{
	uint64_t mb = c->alloc && c->alloc->mem_mb ? c->alloc->mem_mb
		      : c->desc			   ? c->desc->mem_mb
						   : 0;

	if (!mb || (c->desc && c->desc->mem_per_cpu && !c->desc->mem_mb))
		return false;
	strbuf_addf(b, "%llu", (unsigned long long)mb);
	return true;
}

static bool v_mem_per_cpu(const struct env_ctx *c, struct strbuf *b)
{
	if (!c->desc || !c->desc->mem_per_cpu || c->desc->mem_mb)
		return false;
	strbuf_addf(b, "%llu", (unsigned long long)c->desc->mem_per_cpu);
	return true;
}

static bool v_partition(const struct env_ctx *c, struct strbuf *b)
{
	if (!c->desc || !*c->desc->partition)
		return false;
	strbuf_addf(b, "%s", c->desc->partition);
	return true;
}

static bool v_account(const struct env_ctx *c, struct strbuf *b)
{
	if (!c->desc || !*c->desc->account)
		return false;
	strbuf_addf(b, "%s", c->desc->account);
	return true;
}

static bool v_zero(const struct env_ctx *c, struct strbuf *b)
{
	strbuf_addc(b, '0');
	return true;
}

/* Not known when the environment is built: env_set_task_pid sets it in
 * the task's process; here it only drops the submitting shell's. */
static bool v_later(const struct env_ctx *c, struct strbuf *b)
{
	return false;
}

static bool v_cluster(const struct env_ctx *c, struct strbuf *b)
{
	if (!*c->lj->cluster)
		return false;
	strbuf_addf(b, "%s", c->lj->cluster);
	return true;
}

/* Set once the job has been requeued, as Slurm does. */
static bool v_restarts(const struct env_ctx *c, struct strbuf *b)
{
	if (!c->job->restart_count)
		return false;
	strbuf_addf(b, "%u", (unsigned)c->job->restart_count);
	return true;
}

/* A task of a job array: its figures, as Slurm sets them. */
static bool v_array_job(const struct env_ctx *c, struct strbuf *b)
{
	if (!c->job->array_job_id)
		return false;
	strbuf_addf(b, "%u", (unsigned)c->job->array_job_id);
	return true;
}

static bool v_array_task(const struct env_ctx *c, struct strbuf *b)
{
	if (!c->job->array_job_id)
		return false;
	strbuf_addf(b, "%u", (unsigned)c->job->array_task_id);
	return true;
}

static bool v_array_count(const struct env_ctx *c, struct strbuf *b)
{
	if (!c->job->array_job_id)
		return false;
	strbuf_addf(b, "%u", (unsigned)c->job->array_task_count);
	return true;
}

static bool v_array_min(const struct env_ctx *c, struct strbuf *b)
{
	if (!c->job->array_job_id)
		return false;
	strbuf_addf(b, "%u", (unsigned)c->job->array_task_min);
	return true;
}

static bool v_array_max(const struct env_ctx *c, struct strbuf *b)
{
	if (!c->job->array_job_id)
		return false;
	strbuf_addf(b, "%u", (unsigned)c->job->array_task_max);
	return true;
}

static bool v_array_step(const struct env_ctx *c, struct strbuf *b)
{
	if (!c->job->array_job_id)
		return false;
	strbuf_addf(b, "%u", (unsigned)c->job->array_task_step);
	return true;
}

/* Only on a node where the job has GPUs, as Slurm sets it. */
static bool v_gpus_on_node(const struct env_ctx *c, struct strbuf *b)
{
	if (!c->alloc || !c->alloc->n_gpus)
		return false;
	strbuf_addf(b, "%zu", c->alloc->n_gpus);
	return true;
}

/* --ntasks-per-node, only when given (sbatch's). */
static bool v_ntasks_per_node(const struct env_ctx *c, struct strbuf *b)
{
	if (!c->desc || !c->desc->ntasks_per_node)
		return false;
	strbuf_addf(b, "%u", c->desc->ntasks_per_node);
	return true;
}

/* GPU indices on this node, which are CUDA's with PCI_BUS_ID order. */
static bool v_gpu_list(const struct env_ctx *c, struct strbuf *b)
{
	if (!c->alloc || !c->alloc->n_gpus)
		return false;
	for (size_t i = 0; i < c->alloc->n_gpus; i++)
		strbuf_addf(b, "%s%u", i ? "," : "", c->alloc->gpus[i]);
	return true;
}

static bool v_cuda_order(const struct env_ctx *c, struct strbuf *b)
{
	if (!c->alloc || !c->alloc->n_gpus)
		return false;
	strbuf_addf(b, "PCI_BUS_ID");
	return true;
}

static bool v_node(const struct env_ctx *c, struct strbuf *b)
{
	strbuf_addf(b, "%s", c->node);
	return true;
}

static bool v_batch(const struct env_ctx *c, struct strbuf *b)
{
	strbuf_addf(b, "BATCH");
	return true;
}

static const struct env_var {
	const char *slurm;    /* Slurm's name (or a CUDA one) */
	const char *meridian; /* Meridian's name, NULL none */
	env_value_fn value;
} env_vars[] = {
	{"SLURM_JOB_ID", "MERIDIAN_JOB_ID", v_job_id},
	{"SLURM_JOBID", NULL, v_job_id},
	{"SLURM_JOB_NAME", "MERIDIAN_JOB_NAME", v_job_name},
	{"SLURM_JOB_USER", "MERIDIAN_JOB_USER", v_user},
	{"SLURM_JOB_UID", "MERIDIAN_JOB_UID", v_uid},
	{"SLURM_JOB_GID", NULL, v_gid},
	{"SLURM_SUBMIT_DIR", "MERIDIAN_SUBMIT_DIR", v_submit_dir},
	{"SLURM_SUBMIT_HOST", "MERIDIAN_SUBMIT_HOST", v_submit_host},
	{"SLURM_JOB_NODELIST", "MERIDIAN_JOB_NODELIST", v_nodelist},
	{"SLURM_NODELIST", NULL, v_nodelist},
	{"SLURM_JOB_NUM_NODES", "MERIDIAN_JOB_NUM_NODES", v_num_nodes},
	{"SLURM_NNODES", NULL, v_num_nodes},
	{"SLURM_NTASKS", "MERIDIAN_NTASKS", v_ntasks},
	{"SLURM_NPROCS", NULL, v_ntasks},
	{"SLURM_CPUS_PER_TASK", "MERIDIAN_CPUS_PER_TASK", v_cpus_per_task},
	{"SLURM_CPUS_ON_NODE", "MERIDIAN_CPUS_ON_NODE", v_cpus_on_node},
	{"SLURM_JOB_CPUS_PER_NODE", NULL, v_cpus_per_node},
	{"SLURM_TASKS_PER_NODE", NULL, v_tasks_per_node},
	{"SLURM_NTASKS_PER_NODE", NULL, v_ntasks_per_node},
	{"SLURM_MEM_PER_NODE", NULL, v_mem},
	{"SLURM_MEM_PER_CPU", NULL, v_mem_per_cpu},
	{"SLURM_JOB_PARTITION", "MERIDIAN_JOB_PARTITION", v_partition},
	{"SLURM_JOB_ACCOUNT", "MERIDIAN_JOB_ACCOUNT", v_account},
	{"SLURM_NODEID", "MERIDIAN_NODEID", v_zero},
	{"SLURM_PROCID", NULL, v_zero},
	{"SLURM_LOCALID", NULL, v_zero},
	{"SLURM_GTIDS", NULL, v_zero}, /* the batch script is task 0 */
	{"SLURM_TASK_PID", NULL, v_later},
	{"SLURM_CLUSTER_NAME", "MERIDIAN_CLUSTER_NAME", v_cluster},
	{"SLURM_RESTART_COUNT", NULL, v_restarts},
	{"SLURM_ARRAY_JOB_ID", "MERIDIAN_ARRAY_JOB_ID", v_array_job},
	{"SLURM_ARRAY_TASK_ID", "MERIDIAN_ARRAY_TASK_ID", v_array_task},
	{"SLURM_ARRAY_TASK_COUNT", NULL, v_array_count},
	{"SLURM_ARRAY_TASK_MIN", NULL, v_array_min},
	{"SLURM_ARRAY_TASK_MAX", NULL, v_array_max},
	{"SLURM_ARRAY_TASK_STEP", NULL, v_array_step},
	{"SLURM_GPUS_ON_NODE", "MERIDIAN_GPUS_ON_NODE", v_gpus_on_node},
	{"SLURM_JOB_GPUS", "MERIDIAN_JOB_GPUS", v_gpu_list},
	{"CUDA_VISIBLE_DEVICES", NULL, v_gpu_list},
	{"CUDA_DEVICE_ORDER", NULL, v_cuda_order},
	{"SLURMD_NODENAME", "MERIDIAN_NODENAME", v_node},
	{"ENVIRONMENT", NULL, v_batch},
};

/* A growing NULL-terminated vector of "NAME=VALUE". */
struct envv {
	char **v;
	size_t n, cap;
};

static ssize_t envv_find(const struct envv *e, const char *name)
{
	size_t len = strlen(name);

	for (size_t i = 0; i < e->n; i++)
		if (!strncmp(e->v[i], name, len) && e->v[i][len] == '=')
			return (ssize_t)i;
	return -1;
}

static void envv_put(struct envv *e, char *entry)
{
	if (e->n + 2 > e->cap) {
		e->cap = e->cap ? e->cap * 2 : 64;
		e->v = xrealloc(e->v, e->cap * sizeof(*e->v));
	}
	e->v[e->n++] = entry;
	e->v[e->n] = NULL;
}

static void envv_unset(struct envv *e, const char *name)
{
	ssize_t i;

	while ((i = envv_find(e, name)) >= 0) {
		free(e->v[i]);
		memmove(&e->v[i], &e->v[i + 1],
			(e->n - (size_t)i) * sizeof(*e->v)); /* with NULL */
		e->n--;
	}
}

static void envv_set(struct envv *e, const char *name, const char *value,
		     bool overwrite)
{
	ssize_t i = envv_find(e, name);
	char *entry;

	if (i >= 0 && !overwrite)
		return;
	entry = xasprintf("%s=%s", name, value);
	if (i >= 0) {
		free(e->v[i]);
		e->v[i] = entry;
	} else {
		envv_put(e, entry);
	}
}

static bool owned_name(const char *name)
{
	return !strncmp(name, "SLURM", 5) || !strncmp(name, "MERIDIAN_", 9);
}

const char *env_job_name(const Meridian__JobRecord *job)
{
	/* mbatch names a job after its script; a script from stdin has
	 * no name, and Slurm calls that one "sbatch". */
	if (job->desc && *job->desc->name)
		return job->desc->name;
	return "mbatch";
}

/* The batch script's environment, into e (empty on entry). */
static void env_fill(struct envv *e_out, const Meridian__LaunchJob *lj,
		     const char *node, const struct env_user *u)
{
	struct env_ctx c = {.lj = lj, .job = lj->job, .node = node, .u = u};
	struct envv e = {0};

	c.desc = lj->job->desc;
	for (size_t i = 0; i < lj->job->n_alloc; i++)
		if (lj->job->alloc[i]->node &&
		    !strcmp(lj->job->alloc[i]->node, node))
			c.alloc = lj->job->alloc[i];

	e.cap = 64;
	e.v = xcalloc(e.cap, sizeof(*e.v)); /* empty, NULL terminated */
	for (size_t i = 0; lj->spec && i < lj->spec->n_env; i++) {
		const char *kv = lj->spec->env[i];
		const char *eq = strchr(kv, '=');
		char *name;
		if (!eq || eq == kv)
			continue; /* not NAME=VALUE */
		name = xstrndup(kv, (size_t)(eq - kv));
		envv_unset(&e, name); /* the last one wins, as in a shell */
		envv_put(&e, xstrdup(kv));
		free(name);
	}

	for (size_t i = 0; i < sizeof(env_vars) / sizeof(*env_vars); i++) {
		const struct env_var *v = &env_vars[i];
		struct strbuf b = {0};

		strbuf_add(&b, "", 0);
		if (v->value(&c, &b)) {
			envv_set(&e, v->slurm, b.s, true);
			if (v->meridian)
				envv_set(&e, v->meridian, b.s, true);
		} else {
			if (owned_name(v->slurm))
				envv_unset(&e, v->slurm);
			if (v->meridian)
				envv_unset(&e, v->meridian);
		}
		strbuf_free(&b);
	}

	envv_set(&e, "HOME", u->home && *u->home ? u->home : "/", false);
	envv_set(&e, "USER", u->name, false);
	envv_set(&e, "LOGNAME", u->name, false);
	envv_set(&e, "SHELL", u->shell && *u->shell ? u->shell : "/bin/sh",
		 false);
	envv_set(&e, "PATH", "/usr/local/bin:/usr/bin:/bin", false);
	/* mnoded made it for the job: the submitting shell's is another
	 * machine's */
	if (lj->tmpdir && *lj->tmpdir)
		envv_set(&e, "TMPDIR", lj->tmpdir, true);
	*e_out = e;
}

/* Room for env_set_task_pid's entry after the last one. */
static void envv_reserve_task_pid(struct envv *e)
{
	if (e->n + 2 > e->cap) {
		e->cap = e->n + 2;
		e->v = xrealloc(e->v, e->cap * sizeof(*e->v));
	}
	e->v[e->n] = e->v[e->n + 1] = NULL;
}

char **env_build(const Meridian__LaunchJob *lj, const char *node,
		 const struct env_user *u)
{
	struct envv e;

	env_fill(&e, lj, node, u);
	envv_reserve_task_pid(&e);
	return e.v;
}

/* env_set_task_pid's entry: each forked task has its own copy. */
static char task_pid_entry[sizeof("SLURM_TASK_PID=") + 20] = "SLURM_TASK_PID=";

void env_free(char **env)
{
	if (!env)
		return;
	for (char **p = env; *p; p++)
		if (*p != task_pid_entry)
			free(*p);
	free(env);
}

void env_reserve_task_pid(char **env)
{
	const size_t pre = sizeof("SLURM_TASK_PID=") - 1;
	size_t i;

	for (i = 0; env[i]; i++)
		if (!strncmp(env[i], task_pid_entry, pre))
			break;
	if (env[i] && env[i] != task_pid_entry)
		free(env[i]);
	if (!env[i])
		env[i + 1] = NULL; /* the slot env_build left free */
	env[i] = task_pid_entry;
}

void env_set_task_pid(char **env, pid_t pid)
{
	char *entry = task_pid_entry; /* nothing here may allocate */
	const size_t pre = sizeof("SLURM_TASK_PID=") - 1;
	char digits[20];
	size_t n = 0, i = 0;
	unsigned long v = pid > 0 ? (unsigned long)pid : 0;

	do
		digits[n++] = (char)('0' + v % 10);
	while ((v /= 10) && n < sizeof(digits));
	while (n)
		entry[pre + i++] = digits[--n];
	entry[pre + i] = '\0';
	for (i = 0; env[i]; i++)
		if (!strncmp(env[i], entry, pre))
			break;
	if (!env[i])
		env[i + 1] = NULL; /* the slot env_build left free */
	env[i] = entry;
}

const char *env_get(char *const *env, const char *name)
{
	size_t len = strlen(name);

	for (; env && *env; env++)
		if (!strncmp(*env, name, len) && (*env)[len] == '=')
			return *env + len + 1;
	return NULL;
}

/* ---- the ranks of a job step ---- */

/* Set name (and meridian, when not NULL) to a number. */
static void envv_num(struct envv *e, const char *name, const char *meridian,
		     unsigned long v)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%lu", v);
	envv_set(e, name, buf, true);
	if (meridian)
		envv_set(e, meridian, buf, true);
}

/* The step's nodes as mctld compressed them, or their names joined. */
static char *step_nodelist(const Meridian__StepRecord *st)
{
	struct strbuf b = {0};

	if (*st->nodelist)
		return xstrdup(st->nodelist);
	strbuf_add(&b, "", 0);
	for (size_t i = 0; i < st->n_nodes; i++)
		strbuf_addf(&b, "%s%s", i ? "," : "", st->nodes[i]->node);
	return b.s;
}

uint32_t env_step_ntasks(const Meridian__StepRecord *st)
{
	uint32_t n = 0;

	if (st->ntasks)
		return st->ntasks;
	for (size_t i = 0; i < st->n_nodes; i++)
		n += st->nodes[i]->ntasks;
	return n;
}

/* SLURM_GTIDS: the step's ranks on this node, "2,3". */
static void env_step_gtids(struct envv *e, const Meridian__StepNode *me)
{
	struct strbuf b = {0};

	strbuf_add(&b, "", 0);
	for (uint32_t i = 0; i < me->ntasks; i++)
		strbuf_addf(&b, "%s%u", i ? "," : "", me->first_rank + i);
	envv_set(e, "SLURM_GTIDS", b.s, true);
	strbuf_free(&b);
}

/* The names that say where the rank is in the step. */
static void env_step_place(struct envv *e, const Meridian__LaunchStep *ls,
			   const struct env_rank *r)
{
	const Meridian__StepRecord *st = ls->step;
	const Meridian__StepNode *me = st->nodes[ls->node_index];
	uint32_t ntasks = env_step_ntasks(st);
	uint32_t cpt =
		me->cpus_per_task ? me->cpus_per_task : st->desc->cpus_per_task;
	char *nodelist = step_nodelist(st);

	envv_num(e, "SLURM_STEP_ID", "MERIDIAN_STEP_ID", st->step_id);
	envv_num(e, "SLURM_STEPID", NULL, st->step_id);
	envv_num(e, "SLURM_PROCID", "MERIDIAN_PROCID", r->rank);
	envv_num(e, "SLURM_LOCALID", "MERIDIAN_LOCALID", r->local_rank);
	envv_num(e, "SLURM_NODEID", "MERIDIAN_NODEID", ls->node_index);
	envv_num(e, "SLURM_STEP_NUM_TASKS", "MERIDIAN_STEP_NUM_TASKS", ntasks);
	envv_num(e, "SLURM_STEP_NUM_NODES", "MERIDIAN_STEP_NUM_NODES",
		 st->n_nodes);
	envv_set(e, "SLURM_STEP_NODELIST", nodelist, true);
	envv_set(e, "MERIDIAN_STEP_NODELIST", nodelist, true);
	env_step_gtids(e, me);
	/* inside a step, Slurm's task count is the step's */
	envv_num(e, "SLURM_NTASKS", "MERIDIAN_NTASKS", ntasks);
	envv_num(e, "SLURM_NPROCS", NULL, ntasks);
	/* and its --ntasks-per-node, as srun exports it (else the job's) */
	if (st->desc->ntasks_per_node)
		envv_num(e, "SLURM_NTASKS_PER_NODE", NULL,
			 st->desc->ntasks_per_node);
	if (cpt) {
		envv_num(e, "SLURM_CPUS_PER_TASK", "MERIDIAN_CPUS_PER_TASK",
			 cpt);
	} else {
		envv_unset(e, "SLURM_CPUS_PER_TASK");
		envv_unset(e, "MERIDIAN_CPUS_PER_TASK");
	}
	/* torchrun's names */
	envv_num(e, "RANK", NULL, r->rank);
	envv_num(e, "WORLD_SIZE", NULL, ntasks);
	envv_num(e, "LOCAL_RANK", NULL, r->local_rank);
	envv_num(e, "LOCAL_WORLD_SIZE", NULL, me->ntasks);
	envv_set(e, "MASTER_ADDR", st->nodes[0]->addr, true);
	envv_num(e, "MASTER_PORT", NULL, r->master_port);
	free(nodelist);
}

/* The rank's GPUs, NCCL's interface and the PMI connection. */
static void env_step_devices(struct envv *e, const Meridian__LaunchStep *ls,
			     const struct env_rank *r)
{
	const Meridian__StepNode *me = ls->step->nodes[ls->node_index];

	if (r->ngpus) {
		struct strbuf b = {0};
		for (size_t i = 0; i < r->ngpus; i++)
			strbuf_addf(&b, "%s%u", i ? "," : "", r->gpus[i]);
		envv_set(e, "CUDA_VISIBLE_DEVICES", b.s, true);
		envv_set(e, "CUDA_DEVICE_ORDER", "PCI_BUS_ID", true);
		strbuf_free(&b);
	} else {
		envv_unset(e, "CUDA_VISIBLE_DEVICES");
		envv_unset(e, "CUDA_DEVICE_ORDER");
	}
	if (me->n_gpus) {
		envv_num(e, "SLURM_GPUS_ON_NODE", "MERIDIAN_GPUS_ON_NODE",
			 me->n_gpus);
	} else {
		/* none here: Slurm sets no SLURM_GPUS_ON_NODE */
		envv_unset(e, "SLURM_GPUS_ON_NODE");
		envv_unset(e, "MERIDIAN_GPUS_ON_NODE");
	}
	/* A user who named the interface knows better than a route. */
	if (r->ifname)
		envv_set(e, "NCCL_SOCKET_IFNAME", r->ifname, false);
	if (r->pmi_fd >= 0) {
		envv_num(e, "PMI_FD", NULL, (unsigned long)r->pmi_fd);
		envv_num(e, "PMI_RANK", NULL, r->rank);
		envv_num(e, "PMI_SIZE", NULL, env_step_ntasks(ls->step));
	} else {
		envv_unset(e, "PMI_FD");
		envv_unset(e, "PMI_RANK");
		envv_unset(e, "PMI_SIZE");
	}
	if (r->pmi_fd >= 0 && !strcmp(ls->step->desc->mpi, "pmi2")) {
		/* Slurm's mpi/pmi2: JOB.STEP, which libpmi2 sends in fullinit
		 * and job-getid answers */
		char id[32];

		snprintf(id, sizeof(id), "%u.%u", ls->job->job_id,
			 ls->step->step_id);
		envv_set(e, "PMI_JOBID", id, true);
	} else {
		envv_unset(e, "PMI_JOBID");
	}
}

char **env_build_step(const Meridian__LaunchStep *ls, const char *node,
		      const struct env_user *u, const struct env_rank *r)
{
	const Meridian__StepDesc *d = ls->step->desc;
	Meridian__LaunchJob lj = MERIDIAN__LAUNCH_JOB__INIT;
	Meridian__JobSpec spec = MERIDIAN__JOB_SPEC__INIT;
	struct envv e;

	/* The step's environment (mrun resolved --export) takes the place
	 * of the batch script's; the job's names come on top as for it. */
	spec.env = d->env;
	spec.n_env = d->n_env;
	lj.job = ls->job;
	lj.spec = &spec;
	lj.cluster = ls->cluster;
	lj.kill_wait = ls->kill_wait;
	lj.tmpdir = ls->tmpdir;
	env_fill(&e, &lj, node, u);
	env_step_place(&e, ls, r);
	env_step_devices(&e, ls, r);
	envv_reserve_task_pid(&e);
	return e.v;
}
