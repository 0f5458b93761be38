/*
 * mrun_lib.c - the parts of mrun that need no daemon: descriptions from
 * the options, the --label line splitter, the worst-status rule.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mrun.h"
#include "parse.h"
#include "util.h"

/* --- the job and the step ---------------------------------------------- */

static int job_id_value(const char *name, const char *v, uint32_t *id,
			struct mer_error *err)
{
	char *end;
	unsigned long long n;

	errno = 0;
	n = strtoull(v, &end, 10);
	if (v[0] < '0' || v[0] > '9' || errno || *end || n == 0 ||
	    n > UINT32_MAX)
		return mer_error_set(err,
				     "%s=%.40s in the environment is not a "
				     "job id: expected a job number such as "
				     "12 (unset it to run in a new "
				     "allocation)",
				     name, v);
	*id = (uint32_t)n;
	return 1;
}

int mrun_job_from_env(const char *meridian_job_id, const char *slurm_job_id,
		      uint32_t *id, struct mer_error *err)
{
	if (meridian_job_id && *meridian_job_id)
		return job_id_value("MERIDIAN_JOB_ID", meridian_job_id, id,
				    err);
	if (slurm_job_id && *slurm_job_id)
		return job_id_value("SLURM_JOB_ID", slurm_job_id, id, err);
	return 0;
}

char *mrun_abs_dir(const char *dir, const char *cwd)
{
	if (dir && dir[0] == '/')
		return xstrdup(dir);
	if (!cwd || cwd[0] != '/')
		return NULL;
	if (!dir || !*dir || strcmp(dir, ".") == 0)
		return xstrdup(cwd);
	return xasprintf("%s/%s", strcmp(cwd, "/") ? cwd : "", dir);
}

const char *mrun_base_name(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash && slash[1] ? slash + 1 : path;
}

int mrun_step_desc(const struct jobopt *o, char **argv, size_t argc, char **env,
		   size_t nenv, const char *work_dir, bool in_job,
		   Meridian__StepDesc *d, struct mer_error *err)
{
	if (argc == 0 || !argv[0] || !*argv[0])
		return mer_error_set(err, "no program to run: expected mrun "
					  "[OPTIONS] PROGRAM [ARGS...]");
	if (o->max_nodes)
		return mer_error_set(err,
				     "--nodes=%" PRIu32 "-%" PRIu32
				     ": mrun's steps take a number of nodes, "
				     "expected --nodes=N (MIN-MAX is mbatch's)",
				     o->nodes, o->max_nodes);
	d->ntasks = o->ntasks;
	d->min_nodes = o->nodes;
	d->ntasks_per_node = o->ntasks_per_node;
	d->cpus_per_task = o->cpus_per_task;
	d->gpus_per_task = o->gpus_per_task;
	d->gpus_per_node = o->gpus_per_node;
	if (in_job && o->gpus && !o->gpus_per_task && !o->gpus_per_node) {
		/* A total for the step: only as many per task. */
		if (!o->ntasks || o->gpus % o->ntasks)
			return mer_error_set(
				err,
				"--gpus=%" PRIu32 " inside a job: expected "
				"a multiple of --ntasks, or "
				"--gpus-per-task=N or --gpus-per-node=N",
				o->gpus);
		d->gpus_per_task = o->gpus / o->ntasks;
	}
	if (o->ntasks && o->nodes && o->ntasks < o->nodes)
		return mer_error_set(err,
				     "--ntasks=%" PRIu32 " is less than "
				     "--nodes=%" PRIu32 ": expected at least "
				     "one task per node",
				     o->ntasks, o->nodes);
	if (o->pty) {
		/* one task on the first node, as srun --pty */
		d->ntasks = 1;
		d->min_nodes = 1;
		d->ntasks_per_node = 0;
	}
	d->cpu_bind = o->cpu_bind ? o->cpu_bind : (char *)"";
	d->label = o->label;
	d->mpi = o->mpi ? o->mpi : (char *)"";
	d->std_out = o->std_out ? o->std_out : (char *)"";
	d->std_err = o->std_err ? o->std_err : (char *)"";
	d->argv = argv;
	d->n_argv = argc;
	d->env = env;
	d->n_env = nenv;
	d->work_dir = work_dir ? (char *)work_dir : (char *)"";
	d->pty = o->pty;
	d->name = o->name ? o->name : (char *)"";
	d->finalize_timeout = o->finalize_timeout;
	d->exclusive = o->exclusive;
	return 0;
}

/* srun --mpi=list's answer, in srun's words. */
const char mrun_mpi_list[] = "MPI plugin types are...\n"
			     "\tnone\n"
			     "\tpmi1\n"
			     "\tpmi2\n";

/* mrun and mbatch copy --comm into JobDesc.comm as it is. */
#define SAME_COMM(x)                                                           \
	((int)JOBOPT_COMM_##x == (int)MERIDIAN__COMM_PATTERN__COMM_##x)
_Static_assert(SAME_COMM(RING) && SAME_COMM(PIPELINE) && SAME_COMM(NONE) &&
		       (int)JOBOPT_COMM_UNSET ==
			       (int)MERIDIAN__COMM_PATTERN__COMM_DEFAULT,
	       "enum jobopt_comm has CommPattern's numbers");
#undef SAME_COMM

void mrun_job_desc(const struct jobopt *o, const char *program,
		   const char *work_dir, const char *submit_dir,
		   Meridian__JobDesc *d)
{
	d->name = o->name ? o->name : (char *)mrun_base_name(program);
	d->account = o->account ? o->account : (char *)"";
	d->qos = o->qos ? o->qos : (char *)"";
	d->partition = o->partition ? o->partition : (char *)"";
	d->work_dir = work_dir ? (char *)work_dir : (char *)"";
	d->submit_dir = submit_dir ? (char *)submit_dir : d->work_dir;
	d->std_out = (char *)"";
	d->std_err = (char *)"";
	d->std_in = (char *)"";
	d->min_nodes = o->nodes;
	d->max_nodes = o->max_nodes;
	d->ntasks = o->ntasks;
	d->ntasks_per_node = o->ntasks_per_node;
	d->cpus_per_task = o->cpus_per_task;
	d->mem_mb = o->mem_mb;
	d->gpus = o->gpus;
	d->gpus_per_node = o->gpus_per_node;
	d->gpu_type = o->gpu_type ? o->gpu_type : (char *)"";
	if (o->gpus_per_task && !o->gpus && !o->gpus_per_node) {
		/* The allocation needs the GPUs its tasks will ask for. */
		if (o->ntasks_per_node)
			d->gpus_per_node =
				o->ntasks_per_node * o->gpus_per_task;
		else if (o->ntasks)
			d->gpus = o->ntasks * o->gpus_per_task;
		else
			d->gpus_per_node = o->gpus_per_task;
	}
	d->time_limit = o->time_limit;
	d->hold = MERIDIAN__HOLD_KIND__HOLD_NONE;
	d->export_mode = o->export_spec ? o->export_spec : (char *)"ALL";
	d->max_price = o->max_price;
	/* enum jobopt_comm has CommPattern's numbers (jobopt.h) */
	d->comm = (Meridian__CommPattern)o->comm;
	d->comm_stages = o->comm_stages;
	d->comm_bytes = o->comm_bytes;
	d->min_tier = o->min_tier ? o->min_tier : (char *)"";
	d->regions = o->regions ? o->regions : (char *)"";
	d->countries = o->countries ? o->countries : (char *)"";
	/* srun --exclusive outside a job: whole nodes, as sbatch's */
	d->exclusive = o->exclusive;
	d->interactive = true;
}

/* --- the --label line splitter --------------------------------------- */

struct mrun_lines {
	uint32_t ntasks;
	bool label;
	mrun_emit_fn emit;
	void *arg;
	struct strbuf *part; /* part[rank * 2 + stream - 1]: a partial line */
	struct strbuf out;   /* what one call hands on */
};

struct mrun_lines *mrun_lines_create(uint32_t ntasks, bool label,
				     mrun_emit_fn emit, void *arg)
{
	struct mrun_lines *l = xcalloc(1, sizeof(*l));

	l->ntasks = ntasks;
	l->label = label;
	l->emit = emit;
	l->arg = arg;
	l->part = xcalloc((size_t)ntasks * 2 + 1, sizeof(*l->part));
	return l;
}

void mrun_lines_destroy(struct mrun_lines *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < (size_t)l->ntasks * 2; i++)
		strbuf_free(&l->part[i]);
	free(l->part);
	strbuf_free(&l->out);
	free(l);
}

/* Add one line (head from the partial buffer, then tail) to out. */
static void lines_put(struct mrun_lines *l, uint32_t rank, struct strbuf *part,
		      const uint8_t *tail, size_t n, bool add_nl)
{
	if (l->label)
		strbuf_addf(&l->out, "%" PRIu32 ": ", rank);
	if (part->len)
		strbuf_add(&l->out, part->s, part->len);
	if (n)
		strbuf_add(&l->out, (const char *)tail, n);
	if (add_nl)
		strbuf_addc(&l->out, '\n');
	part->len = 0;
}

static void lines_emit(struct mrun_lines *l, int stream)
{
	if (l->out.len)
		l->emit(stream, l->out.s, l->out.len, l->arg);
	l->out.len = 0;
}

void mrun_lines_feed(struct mrun_lines *l, uint32_t rank, int stream,
		     const uint8_t *data, size_t len)
{
	struct strbuf *part;

	if (rank >= l->ntasks || (stream != 1 && stream != 2))
		return;
	part = &l->part[(size_t)rank * 2 + (size_t)stream - 1];
	while (len) {
		const uint8_t *nl = memchr(data, '\n', len);
		size_t n;

		if (nl) {
			/* a long line that comes whole is not cut: only what
			 * waits in part is bounded */
			n = (size_t)(nl - data) + 1;
			lines_put(l, rank, part, data, n, false);
			data += n;
			len -= n;
			continue;
		}
		/* no '\n': keep it, cutting a line that grew too long */
		n = len;
		if (part->len + n > MRUN_LINE_MAX)
			n = MRUN_LINE_MAX - part->len;
		strbuf_add(part, (const char *)data, n);
		data += n;
		len -= n;
		if (part->len >= MRUN_LINE_MAX)
			lines_put(l, rank, part, NULL, 0, true);
	}
	lines_emit(l, stream);
}

void mrun_lines_flush(struct mrun_lines *l, uint32_t first, uint32_t n)
{
	for (int stream = 1; stream <= 2; stream++) {
		for (uint32_t r = first; r < l->ntasks && r - first < n; r++) {
			struct strbuf *part =
				&l->part[(size_t)r * 2 + (size_t)stream - 1];

			if (part->len)
				lines_put(l, r, part, NULL, 0, true);
		}
		lines_emit(l, stream);
	}
}

void mrun_lines_flush_all(struct mrun_lines *l)
{
	mrun_lines_flush(l, 0, l->ntasks);
}

/* --- the worst status ------------------------------------------------ */

void mrun_status_init(struct mrun_status *s)
{
	memset(s, 0, sizeof(*s));
	s->cls = MRUN_OK;
	s->rank = -1;
}

int mrun_task_value(int32_t exit_code, int32_t term_signal)
{
	return term_signal ? 128 + term_signal : exit_code;
}

/* Is (value, rank) worse than what s holds, within one class? */
static bool worse(const struct mrun_status *s, int value, int rank)
{
	if (value != s->value)
		return value > s->value;
	if (rank < 0)
		return false;
	return s->rank < 0 || rank < s->rank;
}

void mrun_status_merge(struct mrun_status *s, enum mrun_class cls, int value,
		       int term_signal, int rank, const char *reason)
{
	bool take;

	if (cls > s->cls)
		take = true;
	else if (cls < s->cls || cls >= MRUN_TRIGGER)
		take = false; /* the first trigger (abort) stands */
	else
		take = worse(s, value, rank);
	if (!take)
		return;
	s->cls = cls;
	s->value = value;
	s->term_signal = term_signal;
	s->rank = rank;
	snprintf(s->reason, sizeof(s->reason), "%s", reason ? reason : "");
}

void mrun_status_merge_end(struct mrun_status *s, const Meridian__StepEnd *e)
{
	enum mrun_class cls;

	switch (e->state) {
	case MERIDIAN__JOB_STATE__JOB_COMPLETED:
		cls = MRUN_OK;
		break;
	case MERIDIAN__JOB_STATE__JOB_CANCELLED:
		cls = MRUN_CANCELLED;
		break;
	default:
		cls = MRUN_FAILED;
		break;
	}
	if (cls == MRUN_OK && e->exit_code == 0)
		return;
	/* COMPLETED with a failing code: believe the code */
	if (cls == MRUN_OK)
		cls = MRUN_FAILED;
	mrun_status_merge(s, cls, e->exit_code, e->term_signal, e->failed_rank,
			  e->reason);
}

void mrun_task_reason(const Meridian__TaskExit *t, const char *node, char *buf,
		      size_t n)
{
	const char *why = t->reason ? t->reason : "";

	if (!node || !*node)
		node = "?";
	if (*why)
		snprintf(buf, n, "rank %" PRIu32 " on %s %s", t->rank, node,
			 why);
	else if (t->aborted)
		snprintf(buf, n, "rank %" PRIu32 " on %s aborted", t->rank,
			 node);
	else if (t->term_signal)
		snprintf(buf, n, "rank %" PRIu32 " on %s killed by signal %d",
			 t->rank, node, (int)t->term_signal);
	else
		snprintf(buf, n, "rank %" PRIu32 " on %s exited with code %d",
			 t->rank, node, (int)t->exit_code);
}

int mrun_status_exit(const struct mrun_status *s)
{
	if (s->cls == MRUN_OK)
		return 0;
	if (s->value <= 0)
		return 1;
	return s->value > 255 ? 255 : s->value;
}
