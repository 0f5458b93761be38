/*
 * mqueue - list jobs, like squeue: one line per job, the reason a pending
 * job waits, -o FORMAT with squeue's field letters.  With --steps, one
 * line per job step (mrun) instead, as squeue -s.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "cmd_json.h"
#include "parse.h"

/* squeue's own default and long formats. */
#define MQUEUE_FORMAT_DEFAULT "%.18i %.9P %.8j %.8u %.2t %.10M %.6D %R"
#define MQUEUE_FORMAT_LONG    "%.18i %.9P %.8j %.8u %.8T %.10M %.9l %.6D %R"
#define MQUEUE_FORMAT_START   "%.18i %.9P %.8j %.8u %.2t %.19S %.6D %20Y %R"
/* squeue -s's columns, with the state and, as for jobs, the reason a
 * step failed in place of its nodes (mqueue can list finished steps); the
 * long one has it all */
#define MQUEUE_STEPS_DEFAULT "%.15i %.8j %.9P %.8u %.2t %.9M %R"
#define MQUEUE_STEPS_LONG    "%.15i %.8j %.9P %.8u %.9T %.9M %.5A %.9E %N %r"

/* A step asked for by id: JOB (every step of it) or JOB.STEP. */
struct mqueue_opts {
	const char *format; /* -o; NULL: the default of the mode */
	bool long_format;   /* -l */
	bool steps;	    /* -s, --steps */
	bool start;	    /* --start: pending jobs' expected starts */
	bool prio;	    /* --priority: pending jobs' priority factors */
	bool json;	    /* --json: one JSON document (cmd_json.c) */
	bool noheader;
	uint32_t *job_ids;
	size_t njob_ids;
	struct cmd_step_ref *step_ids; /* --steps=LIST */
	size_t nstep_ids;
	uint32_t *uids;
	size_t nuids;
	uint32_t states; /* CMD_STATE_BIT mask; 0: not given */
	char **partitions;
	size_t npartitions;
	char **names;
	size_t nnames;
};

/* What every column getter may look at besides the job. */
struct row_ctx {
	int64_t now;
};

#define JOB(row) ((const Meridian__JobRecord *)(row))
#define NOW(ctx) (((const struct row_ctx *)(ctx))->now)

static const Meridian__JobDesc *desc_of(const Meridian__JobRecord *j)
{
	static const Meridian__JobDesc empty = MERIDIAN__JOB_DESC__INIT;

	return j->desc ? j->desc : &empty;
}

static bool job_is_finished(const Meridian__JobRecord *j)
{
	return j->state != MERIDIAN__JOB_STATE__JOB_PENDING &&
	       j->state != MERIDIAN__JOB_STATE__JOB_RUNNING;
}

static uint32_t job_limit(const Meridian__JobRecord *j)
{
	return j->time_limit ? j->time_limit : desc_of(j)->time_limit;
}

static void col_id(const void *row, const void *ctx, struct strbuf *out)
{
	cmd_job_id_str(JOB(row), out);
}

static void col_plain_id(const void *row, const void *ctx, struct strbuf *out)
{
	strbuf_addu(out, JOB(row)->job_id);
}

static void col_array_job(const void *row, const void *ctx, struct strbuf *out)
{
	const Meridian__JobRecord *j = JOB(row);

	strbuf_addf(out, "%" PRIu32,
		    j->array_job_id ? j->array_job_id : j->job_id);
}

static void col_array_task(const void *row, const void *ctx, struct strbuf *out)
{
	if (!JOB(row)->array_job_id)
		cmd_add_str(out, "N/A");
	else
		cmd_array_tasks_str(JOB(row), out);
}

static void col_name(const void *row, const void *ctx, struct strbuf *out)
{
	cmd_add_str(out, desc_of(JOB(row))->name);
}

static void col_user(const void *row, const void *ctx, struct strbuf *out)
{
	const Meridian__JobRecord *j = JOB(row);

	if (j->user_name && *j->user_name)
		cmd_add_str(out, j->user_name);
	else
		strbuf_addu(out, j->user_id);
}

static void col_uid(const void *row, const void *ctx, struct strbuf *out)
{
	strbuf_addu(out, JOB(row)->user_id);
}

static void col_st(const void *row, const void *ctx, struct strbuf *out)
{
	cmd_add_str(out, mer_job_state_code(JOB(row)->state));
}

static void col_state(const void *row, const void *ctx, struct strbuf *out)
{
	cmd_add_str(out, mer_job_state_name(JOB(row)->state));
}

static void col_time(const void *row, const void *ctx, struct strbuf *out)
{
	char buf[32];

	cmd_format_secs(cmd_job_run_secs(JOB(row), NOW(ctx)), false, buf,
			sizeof(buf));
	cmd_add_str(out, buf);
}

static void col_limit(const void *row, const void *ctx, struct strbuf *out)
{
	char buf[32];

	cmd_format_limit(job_limit(JOB(row)), false, buf, sizeof(buf));
	cmd_add_str(out, buf);
}

static void col_left(const void *row, const void *ctx, struct strbuf *out)
{
	const Meridian__JobRecord *j = JOB(row);
	uint32_t limit = job_limit(j);
	char buf[32];
	int64_t left;

	if (!limit) {
		cmd_add_str(out, "UNLIMITED");
		return;
	}
	left = (int64_t)limit * 60 - cmd_job_run_secs(j, NOW(ctx));
	if (job_is_finished(j))
		left = 0;
	cmd_format_secs(left, false, buf, sizeof(buf));
	cmd_add_str(out, buf);
}

static void col_nodes(const void *row, const void *ctx, struct strbuf *out)
{
	strbuf_addu(out, cmd_job_nodes(JOB(row)));
}

static void col_cpus(const void *row, const void *ctx, struct strbuf *out)
{
	strbuf_addu(out, cmd_job_cpus(JOB(row)));
}

/* squeue's %R: "(Reason)" while pending or after a failure, else nodes. */
static void col_nodelist_reason(const void *row, const void *ctx,
				struct strbuf *out)
{
	const Meridian__JobRecord *j = JOB(row);
	bool failed = j->state == MERIDIAN__JOB_STATE__JOB_FAILED ||
		      j->state == MERIDIAN__JOB_STATE__JOB_TIMEOUT ||
		      j->state == MERIDIAN__JOB_STATE__JOB_NODE_FAIL ||
		      j->state == MERIDIAN__JOB_STATE__JOB_DEADLINE ||
		      j->state == MERIDIAN__JOB_STATE__JOB_CANCELLED;

	bool has_reason = j->reason && *j->reason && strcmp(j->reason, "None");

	if (j->state == MERIDIAN__JOB_STATE__JOB_PENDING ||
	    (failed && has_reason) || !j->nodes || !*j->nodes) {
		strbuf_addc(out, '(');
		cmd_add_str(out, cmd_str_or(j->reason, "None"));
		strbuf_addc(out, ')');
	} else
		cmd_add_str(out, j->nodes);
}

static void col_reason(const void *row, const void *ctx, struct strbuf *out)
{
	cmd_add_str(out, cmd_str_or(JOB(row)->reason, "None"));
}

static void col_partition(const void *row, const void *ctx, struct strbuf *out)
{
	cmd_add_str(out, desc_of(JOB(row))->partition);
}

static void col_nodelist(const void *row, const void *ctx, struct strbuf *out)
{
	cmd_add_str(out, cmd_str_or(JOB(row)->nodes, ""));
}

static void col_account(const void *row, const void *ctx, struct strbuf *out)
{
	cmd_add_str(out, cmd_str_or(desc_of(JOB(row))->account, "(null)"));
}

static void col_qos(const void *row, const void *ctx, struct strbuf *out)
{
	cmd_add_str(out, cmd_str_or(desc_of(JOB(row))->qos, "(null)"));
}

static void col_gres(const void *row, const void *ctx, struct strbuf *out)
{
	char buf[128];
	bool per_node;

	cmd_job_gres(JOB(row), buf, sizeof(buf), &per_node);
	cmd_add_str(out, cmd_str_or(buf, "N/A"));
}

static void col_submit(const void *row, const void *ctx, struct strbuf *out)
{
	cmd_add_time(out, JOB(row)->submit_time, "N/A");
}

/* A pending job's: when the scheduler last expected it to start. */
static void col_start(const void *row, const void *ctx, struct strbuf *out)
{
	const Meridian__JobRecord *j = JOB(row);

	if (j->state == MERIDIAN__JOB_STATE__JOB_PENDING)
		cmd_add_time(out, j->expected_start, "N/A");
	else
		cmd_add_time(out, j->start_time, "N/A");
}

/* The nodes the scheduler expects a pending job to start on. */
static void col_sched_nodes(const void *row, const void *ctx,
			    struct strbuf *out)
{
	const Meridian__JobRecord *j = JOB(row);

	cmd_add_str(out, j->state == MERIDIAN__JOB_STATE__JOB_PENDING
				 ? cmd_str_or(j->sched_nodes, "(null)")
				 : "(null)");
}

/* The end of a finished job, the time limit's end of a running one. */
static void col_end(const void *row, const void *ctx, struct strbuf *out)
{
	const Meridian__JobRecord *j = JOB(row);
	uint32_t limit = job_limit(j);

	if (job_is_finished(j))
		cmd_add_time(out, j->end_time, "N/A");
	else if (j->start_time && limit)
		cmd_add_time(out, j->start_time + (int64_t)limit * 60, "N/A");
	else
		cmd_add_str(out, j->start_time ? "NONE" : "N/A");
}

static void col_priority(const void *row, const void *ctx, struct strbuf *out)
{
	strbuf_addu(out, JOB(row)->priority);
}

static void col_workdir(const void *row, const void *ctx, struct strbuf *out)
{
	cmd_add_str(out, desc_of(JOB(row))->work_dir);
}

static void col_batch_host(const void *row, const void *ctx, struct strbuf *out)
{
	cmd_add_str(out, cmd_str_or(JOB(row)->batch_host, "n/a"));
}

static void col_mem(const void *row, const void *ctx, struct strbuf *out)
{
	uint64_t mb = desc_of(JOB(row))->mem_mb;

	if (mb)
		strbuf_addf(out, "%" PRIu64 "M", mb);
	else
		cmd_add_str(out, "0");
}

static void col_submit_host(const void *row, const void *ctx,
			    struct strbuf *out)
{
	cmd_add_str(out, cmd_str_or(JOB(row)->submit_host, "n/a"));
}

static const struct cmd_column mqueue_columns[] = {
	{'i', "JOBID", col_id},
	{'A', "JOBID", col_plain_id},
	{'F', "ARRAY_JOB_ID", col_array_job},
	{'K', "ARRAY_TASK_ID", col_array_task},
	{'j', "NAME", col_name},
	{'u', "USER", col_user},
	{'U', "UID", col_uid},
	{'t', "ST", col_st},
	{'T', "STATE", col_state},
	{'M', "TIME", col_time},
	{'l', "TIME_LIMIT", col_limit},
	{'L', "TIME_LEFT", col_left},
	{'D', "NODES", col_nodes},
	{'C', "CPUS", col_cpus},
	{'R', "NODELIST(REASON)", col_nodelist_reason},
	{'r', "REASON", col_reason},
	{'P', "PARTITION", col_partition},
	{'N', "NODELIST", col_nodelist},
	{'a', "ACCOUNT", col_account},
	{'q', "QOS", col_qos},
	{'b', "TRES_PER_NODE", col_gres},
	{'V', "SUBMIT_TIME", col_submit},
	{'S', "START_TIME", col_start},
	{'Y', "SCHEDNODES", col_sched_nodes},
	{'e', "END_TIME", col_end},
	{'Q', "PRIORITY", col_priority},
	{'Z', "WORK_DIR", col_workdir},
	{'B', "EXEC_HOST", col_batch_host},
	{'m', "MIN_MEMORY", col_mem},
	{'h', "SUBMIT_HOST", col_submit_host},
	{0, NULL, NULL},
};

/*
 * The letters whose getters read only what a JobBriefs carries (see
 * record_of_brief): a format of these alone is listed from briefs, a
 * tenth of the records' bytes to send and unpack.  Filters (job_wanted)
 * read only those fields too.
 */
#define MQUEUE_BRIEF_LETTERS "iAFKjuUtTMlLDRrPNVSYeQ"

/* The string columns of a JobBriefs: indexes into its strings. */
#define BRIEF_STRING_COLUMNS(X)                                                \
	X(user_name) X(name) X(partition) X(reason) X(nodes) X(sched_nodes)

/* What record_of_brief may rely on (JobBriefs): every column as long as
 * job_id or empty, every string index in strings.  0, or -1 with err. */
static int briefs_check(const Meridian__JobBriefs *t, struct mer_error *err)
{
	const ProtobufCMessageDescriptor *d = t->base.descriptor;

	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		size_t n = *(const size_t *)((const char *)t +
					     f->quantifier_offset);

		if (n && n != t->n_job_id && f->type != PROTOBUF_C_TYPE_STRING)
			return mer_error_set(err,
					     "the controller's job list is "
					     "malformed: %zu %s for %zu jobs",
					     n, f->name, t->n_job_id);
	}
#define CHECK(f)                                                               \
	for (size_t k = 0; k < t->n_##f; k++)                                  \
		if (t->f[k] >= t->n_strings)                                   \
			return mer_error_set(err,                              \
					     "the controller's job list is "   \
					     "malformed: " #f " %u of %zu "    \
					     "strings",                        \
					     t->f[k], t->n_strings);
	BRIEF_STRING_COLUMNS(CHECK)
#undef CHECK
	return 0;
}

/* Row k of t as a record for the getters: j's fields that a JobBriefs
 * has, the rest as record_init left them (j->desc among them); the
 * strings are t's.  A column with no entries is every job's 0 or "". */
static void record_of_brief(const Meridian__JobBriefs *t, size_t k,
			    Meridian__JobRecord *j)
{
	static const ProtobufCBinaryData none = {0, NULL};
	char *empty = (char *)protobuf_c_empty_string;
	Meridian__JobDesc *d = j->desc;

#define COL(f, dflt) (t->n_##f ? t->f[k] : (dflt))
#define STR(f)	     (t->n_##f ? t->strings[t->f[k]] : empty)
	j->job_id = t->job_id[k];
	j->state = COL(state, 0);
	j->user_id = COL(user_id, 0);
	j->user_name = STR(user_name);
	d->name = STR(name);
	d->partition = STR(partition);
	j->reason = STR(reason);
	j->nodes = STR(nodes);
	j->num_nodes = COL(num_nodes, 0); /* 0: cmd_job_nodes says 1 */
	j->time_limit = COL(time_limit, 0);
	j->submit_time = COL(submit_time, 0);
	j->start_time = COL(start_time, 0);
	j->end_time = COL(end_time, 0);
	j->priority = COL(priority, 0);
	j->expected_start = COL(expected_start, 0);
	j->sched_nodes = STR(sched_nodes);
	j->array_job_id = COL(array_job_id, 0);
	j->array_task_id = COL(array_task_id, 0);
	j->array_pending = COL(array_pending, none);
	j->array_max_running = COL(array_max_running, 0);
#undef STR
#undef COL
}

/* --- --priority: sprio's view of the pending jobs ------------------- */

#define MQUEUE_FORMAT_PRIO                                                     \
	"%.15i %.9P %.8u %.10Q %.10a %.10f %.10s %.10p %.10q %.8n"

static const Meridian__PriorityFactors no_factors =
	MERIDIAN__PRIORITY_FACTORS__INIT;

static const Meridian__PriorityFactors *factors_of(const void *row)
{
	const Meridian__JobRecord *j = JOB(row);

	return j->factors ? j->factors : &no_factors;
}

static void col_f_age(const void *row, const void *ctx, struct strbuf *out)
{
	strbuf_addf(out, "%" PRIu32, factors_of(row)->age);
}

static void col_f_fs(const void *row, const void *ctx, struct strbuf *out)
{
	strbuf_addf(out, "%" PRIu32, factors_of(row)->fairshare);
}

static void col_f_size(const void *row, const void *ctx, struct strbuf *out)
{
	strbuf_addf(out, "%" PRIu32, factors_of(row)->job_size);
}

static void col_f_part(const void *row, const void *ctx, struct strbuf *out)
{
	strbuf_addf(out, "%" PRIu32, factors_of(row)->partition);
}

static void col_f_qos(const void *row, const void *ctx, struct strbuf *out)
{
	strbuf_addf(out, "%" PRIu32, factors_of(row)->qos);
}

static void col_f_nice(const void *row, const void *ctx, struct strbuf *out)
{
	strbuf_addf(out, "%" PRId32, desc_of(JOB(row))->nice);
}

/* sprio's columns: %a age, %f fair-share, %s job size, %p partition,
 * %q QOS, %n nice (weighted, as PriorityType=priority/multifactor makes them).
 */
static const struct cmd_column prio_columns[] = {
	{'i', "JOBID", col_id},
	{'P', "PARTITION", col_partition},
	{'u', "USER", col_user},
	{'Q', "PRIORITY", col_priority},
	{'a', "AGE", col_f_age},
	{'f', "FAIRSHARE", col_f_fs},
	{'s', "JOBSIZE", col_f_size},
	{'p', "PARTITION", col_f_part},
	{'q', "QOS", col_f_qos},
	{'n', "NICE", col_f_nice},
	{0, NULL, NULL},
};

/* --- steps -------------------------------------------------------- */

/* One line of --steps: a step and the job it belongs to. */
struct step_row {
	const Meridian__JobRecord *job;
	const Meridian__StepRecord *step;
};

#define SROW(row) ((const struct step_row *)(row))
#define STEP(row) (SROW(row)->step)

static bool step_is_running(const Meridian__StepRecord *s)
{
	return s->state == MERIDIAN__JOB_STATE__JOB_RUNNING;
}

/* Seconds a step has run: till now while it runs, else till its end. */
static int64_t step_run_secs(const Meridian__StepRecord *s, int64_t now)
{
	int64_t end = step_is_running(s) ? now : s->end_time;

	if (!s->start_time || end < s->start_time)
		return 0;
	return end - s->start_time;
}

static void col_step_id(const void *row, const void *ctx, struct strbuf *out)
{
	strbuf_addf(out, "%" PRIu32 ".%" PRIu32, SROW(row)->job->job_id,
		    STEP(row)->step_id);
}

static void col_step_name(const void *row, const void *ctx, struct strbuf *out)
{
	cmd_add_str(out, cmd_step_name(STEP(row)));
}

static void col_step_partition(const void *row, const void *ctx,
			       struct strbuf *out)
{
	col_partition(SROW(row)->job, ctx, out);
}

static void col_step_user(const void *row, const void *ctx, struct strbuf *out)
{
	col_user(SROW(row)->job, ctx, out);
}

static void col_step_uid(const void *row, const void *ctx, struct strbuf *out)
{
	col_uid(SROW(row)->job, ctx, out);
}

static void col_step_time(const void *row, const void *ctx, struct strbuf *out)
{
	char buf[32];

	cmd_format_secs(step_run_secs(STEP(row), NOW(ctx)), false, buf,
			sizeof(buf));
	cmd_add_str(out, buf);
}

static void col_step_nodelist(const void *row, const void *ctx,
			      struct strbuf *out)
{
	const Meridian__StepRecord *s = STEP(row);

	if (*s->nodelist) {
		cmd_add_str(out, s->nodelist);
		return;
	}
	for (size_t i = 0; i < s->n_nodes; i++)
		strbuf_addf(out, "%s%s", i ? "," : "", s->nodes[i]->node);
}

static void col_step_nodes(const void *row, const void *ctx, struct strbuf *out)
{
	strbuf_addf(out, "%zu", STEP(row)->n_nodes);
}

static void col_step_tasks(const void *row, const void *ctx, struct strbuf *out)
{
	const Meridian__StepRecord *s = STEP(row);
	uint32_t n = s->ntasks;

	for (size_t i = 0; !n && i < s->n_nodes; i++)
		n += s->nodes[i]->ntasks;
	strbuf_addf(out, "%" PRIu32, n);
}

static void col_step_st(const void *row, const void *ctx, struct strbuf *out)
{
	cmd_add_str(out, mer_job_state_code(STEP(row)->state));
}

static void col_step_state(const void *row, const void *ctx, struct strbuf *out)
{
	cmd_add_str(out, mer_job_state_name(STEP(row)->state));
}

/* Slurm's code:signal.  A step's exit_code is the worst rank's status,
 * 128 + S for a rank killed by signal S: that one shows as 0:S. */
static void col_step_exit(const void *row, const void *ctx, struct strbuf *out)
{
	const Meridian__StepRecord *s = STEP(row);
	char buf[32];

	cmd_step_exit_str(s, buf, sizeof(buf));
	cmd_add_str(out, buf);
}

/* As squeue's %R: the nodes, or "(reason)" for a step that failed or was
 * cancelled. */
static void col_step_nodelist_reason(const void *row, const void *ctx,
				     struct strbuf *out)
{
	const Meridian__StepRecord *s = STEP(row);

	if ((s->state == MERIDIAN__JOB_STATE__JOB_FAILED ||
	     s->state == MERIDIAN__JOB_STATE__JOB_CANCELLED) &&
	    *s->reason)
		strbuf_addf(out, "(%s)", s->reason);
	else
		col_step_nodelist(row, ctx, out);
}

static void col_step_reason(const void *row, const void *ctx,
			    struct strbuf *out)
{
	cmd_add_str(out, cmd_str_or(STEP(row)->reason, "None"));
}

static void col_step_start(const void *row, const void *ctx, struct strbuf *out)
{
	cmd_add_time(out, STEP(row)->start_time, "N/A");
}

static void col_step_end(const void *row, const void *ctx, struct strbuf *out)
{
	const Meridian__StepRecord *s = STEP(row);

	cmd_add_time(out, step_is_running(s) ? 0 : s->end_time, "N/A");
}

/* squeue -s's letters where it has them; %T %t %E %r %e for the end. */
static const struct cmd_column step_columns[] = {
	{'i', "STEPID", col_step_id},
	{'j', "NAME", col_step_name},
	{'P', "PARTITION", col_step_partition},
	{'u', "USER", col_step_user},
	{'U', "UID", col_step_uid},
	{'M', "TIME", col_step_time},
	{'N', "NODELIST", col_step_nodelist},
	{'R', "NODELIST(REASON)", col_step_nodelist_reason},
	{'D', "NODES", col_step_nodes},
	{'A', "TASKS", col_step_tasks},
	{'t', "ST", col_step_st},
	{'T', "STATE", col_step_state},
	{'E', "EXIT_CODE", col_step_exit},
	{'r', "REASON", col_step_reason},
	{'S', "START_TIME", col_step_start},
	{'e', "END_TIME", col_step_end},
	{0, NULL, NULL},
};

/* A comma separated list of step ids, appended to *ids.  0, or -1 with
 * err naming the bad item. */
static int parse_step_ids(const char *list, struct cmd_step_ref **ids,
			  size_t *n, struct mer_error *err)
{
	char *copy = xstrdup(list), *save = NULL, *tok;
	size_t before = *n;
	int rc = 0;

	for (tok = strtok_r(copy, ",", &save); tok && !rc;
	     tok = strtok_r(NULL, ",", &save)) {
		struct cmd_step_ref id;

		if (!cmd_parse_step_ref(tok, &id)) {
			rc = mer_error_set(err,
					   "Invalid job step id: %s (expected "
					   "JOB.STEP such as 12.0, or JOB for "
					   "all of a job's steps)",
					   tok);
			break;
		}
		*ids = xrealloc(*ids, (*n + 1) * sizeof(**ids));
		(*ids)[(*n)++] = id;
	}
	free(copy);
	if (!rc && *n == before)
		rc = mer_error_set(err,
				   "Invalid job step id: \"%s\" (expected "
				   "JOB.STEP such as 12.0)",
				   list);
	return rc;
}

static bool step_wanted(const struct mqueue_opts *o,
			const Meridian__JobRecord *j,
			const Meridian__StepRecord *s)
{
	size_t i;

	if (!(o->states & CMD_STATE_BIT(s->state)))
		return false;
	if (o->nstep_ids) {
		for (i = 0; i < o->nstep_ids; i++)
			if (o->step_ids[i].job_id == j->job_id &&
			    (o->step_ids[i].any_step ||
			     o->step_ids[i].step_id == s->step_id))
				break;
		if (i == o->nstep_ids)
			return false;
	}
	if (o->nnames && !cmd_list_has(o->names, o->nnames, cmd_step_name(s)))
		return false;
	return true;
}

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: mqueue [OPTIONS]\n"
		"List the jobs mctld knows, like squeue.\n"
		"\n"
		"  -j, --jobs=ID[,ID...]       only these jobs (any state)\n"
		"  -u, --user=USER[,USER...]   only jobs of these users\n"
		"      --me                    only my jobs\n"
		"  -t, --states=STATES         PD,R,CD,F,CA,TO,NF,DL or "
		"PENDING,"
		"RUNNING,\n"
		"                              COMPLETED,FAILED,CANCELLED,"
		"TIMEOUT,\n"
		"                              NODE_FAIL,DEADLINE, or all "
		"(default PD,R)\n"
		"  -p, --partition=PART[,...]  only jobs in these partitions\n"
		"  -n, --name=NAME[,...]       only jobs (steps) with these "
		"names\n"
		"  -s, --steps[=STEP[,...]]    list job steps instead: those "
		"running,\n"
		"                              or these (JOB.STEP, or JOB for "
		"all of a\n"
		"                              job's) in any state\n"
		"  -o, --format=FORMAT         columns, squeue style (below)\n"
		"  -l, --long                  the long format\n"
		"      --priority              pending jobs' priority and its\n"
		"                              factors, as sprio shows them\n"
		"                              (-o letters: %%i %%P %%u %%Q, "
		"%%a\n"
		"                              age, %%f fair-share, %%s job "
		"size,\n"
		"                              %%p partition, %%q QOS, %%n "
		"nice)\n"
		"      --json                  the jobs (or --steps) as one "
		"JSON\n"
		"                              document (mqueue(1)); -o, -l "
		"and -h\n"
		"                              do not apply\n"
		"      --start                 pending jobs, when and where "
		"the\n"
		"                              scheduler expects them to "
		"start\n"
		"                              (sched/backfill: START_TIME,\n"
		"                              SCHEDNODES; N/A not known)\n"
		"  -h, --noheader              no header line\n"
		"  -a, --all                   accepted for squeue "
		"compatibility\n"
		"  -f, --config=FILE           meridian.conf to read (default "
		"$MERIDIAN_CONF,\n"
		"                              else %s/meridian.conf)\n"
		"      --help, --usage         this text\n"
		"  -V, --version               print the version\n"
		"\n"
		"FORMAT fields are %%[.][WIDTH]LETTER ('.' right justifies):\n"
		"  %%i job id (an array's task 10_3, its tasks pending "
		"10_[4-99%%5])\n"
		"  %%A job id alone  %%F array job id  %%K array task id(s)\n"
		"  %%j name        %%u user      %%U uid\n"
		"  %%t state code %%T state       %%M time used %%l time "
		"limit\n"
		"  %%L time left  %%D nodes       %%C CPUs      %%R nodes or "
		"(reason)\n"
		"  %%r reason     %%P partition   %%N nodes     %%a account\n"
		"  %%b GPUs       %%V submit time %%S start     %%e end\n"
		"  %%Q priority   %%Z work dir    %%B batch host %%m memory\n"
		"  %%h submit host %%Y nodes expected (pending; %%S: when)\n"
		"Default: \"%s\"\n"
		"With --steps: %%i step id  %%j name  %%P partition  %%u user  "
		"%%U uid\n"
		"  %%M time used  %%N nodes  %%R nodes or (reason)  %%D node "
		"count\n"
		"  %%A tasks  %%t state code  %%T state  %%E exit code  %%r "
		"reason\n"
		"  %%S start  %%e end\n"
		"Default: \"%s\"\n"
		"\n"
		"Exit status: 0 ok, 1 refused or failed, 2 bad usage, 3 "
		"controller unreachable.\n",
		SYSCONFDIR, MQUEUE_FORMAT_DEFAULT, MQUEUE_STEPS_DEFAULT);
}

/* The filters on a job that its steps share: users, partitions, ids. */
static bool job_matches(const struct mqueue_opts *o,
			const Meridian__JobRecord *j)
{
	size_t i;

	if (o->njob_ids) {
		/* an array's id stands for its tasks too, as with squeue */
		for (i = 0; i < o->njob_ids; i++)
			if (o->job_ids[i] == j->job_id ||
			    (j->array_job_id &&
			     o->job_ids[i] == j->array_job_id))
				break;
		if (i == o->njob_ids)
			return false;
	}
	if (o->nuids) {
		for (i = 0; i < o->nuids; i++)
			if (o->uids[i] == j->user_id)
				break;
		if (i == o->nuids)
			return false;
	}
	if (o->npartitions &&
	    !cmd_list_has(o->partitions, o->npartitions, desc_of(j)->partition))
		return false;
	return true;
}

static bool job_wanted(const struct mqueue_opts *o,
		       const Meridian__JobRecord *j)
{
	if (!(o->states & CMD_STATE_BIT(j->state)))
		return false;
	if (!job_matches(o, j))
		return false;
	if (o->nnames && !cmd_list_has(o->names, o->nnames, desc_of(j)->name))
		return false;
	return true;
}

static int cmp_job_id(const void *a, const void *b)
{
	const Meridian__JobRecord *x = *(Meridian__JobRecord *const *)a;
	const Meridian__JobRecord *y = *(Meridian__JobRecord *const *)b;

	return x->job_id < y->job_id ? -1 : x->job_id > y->job_id;
}

static bool reply_has_any(const Meridian__JobInfoReply *r, const uint32_t *ids,
			  size_t n)
{
	size_t i, k;

	for (i = 0; i < r->n_jobs; i++)
		for (k = 0; k < n; k++)
			if (r->jobs[i]->job_id == ids[k])
				return true;
	for (i = 0; i < r->n_briefs; i++)
		for (size_t row = 0; row < r->briefs[i]->n_job_id; row++)
			for (k = 0; k < n; k++)
				if (r->briefs[i]->job_id[row] == ids[k])
					return true;
	return false;
}

/* mctld sends them in id order: sorted only when not */
static void sort_by_id(void **items, size_t n,
		       int (*cmp)(const void *, const void *))
{
	size_t i;

	for (i = 1; i < n; i++)
		if (cmp(&items[i - 1], &items[i]) > 0)
			break;
	if (i < n)
		qsort(items, n, sizeof(*items), cmp);
}

/* One row per wanted job, from the records or from the briefs (the
 * reply holds one or the other; briefs come in id order, as the pages
 * do). */
static void add_job_rows(struct cmd_fmt *fmt, const struct mqueue_opts *o,
			 const Meridian__JobInfoReply *reply,
			 const struct row_ctx *ctx)
{
	Meridian__JobRecord j = MERIDIAN__JOB_RECORD__INIT;
	Meridian__JobDesc d = MERIDIAN__JOB_DESC__INIT;
	size_t i;

	for (i = 0; i < reply->n_jobs; i++)
		if (job_wanted(o, reply->jobs[i]))
			cmd_fmt_add(fmt, reply->jobs[i], ctx);
	j.desc = &d;
	for (i = 0; i < reply->n_briefs; i++) {
		const Meridian__JobBriefs *t = reply->briefs[i];

		for (size_t k = 0; k < t->n_job_id; k++) {
			record_of_brief(t, k, &j);
			if (job_wanted(o, &j))
				cmd_fmt_add(fmt, &j, ctx);
		}
	}
}

/* -o, else the mode's -l or default format; $MQUEUE_FORMAT is for jobs
 * only (its letters mean other things for steps). */
static const char *pick_format(const struct mqueue_opts *o)
{
	const char *env = getenv("MQUEUE_FORMAT");

	if (o->format)
		return o->format;
	if (o->steps)
		return o->long_format ? MQUEUE_STEPS_LONG
				      : MQUEUE_STEPS_DEFAULT;
	if (o->start)
		return MQUEUE_FORMAT_START;
	if (o->prio)
		return MQUEUE_FORMAT_PRIO;
	if (o->long_format)
		return MQUEUE_FORMAT_LONG;
	return env && *env ? env : MQUEUE_FORMAT_DEFAULT;
}

/* One row per wanted step of each wanted job, by job then step id. */
static void add_step_rows(struct cmd_fmt *fmt, const struct mqueue_opts *o,
			  Meridian__JobInfoReply *reply,
			  const struct row_ctx *ctx)
{
	for (size_t i = 0; i < reply->n_jobs; i++) {
		Meridian__JobRecord *j = reply->jobs[i];

		if (!job_matches(o, j))
			continue;
		qsort(j->steps, j->n_steps, sizeof(*j->steps), cmd_step_cmp_id);
		for (size_t k = 0; k < j->n_steps; k++) {
			struct step_row row = {j, j->steps[k]};

			if (step_wanted(o, j, j->steps[k]))
				cmd_fmt_add(fmt, &row, ctx);
		}
	}
}

/* --json: {"meridian_version": 1, "now": T, "jobs": [...]} (or "steps"
 * with --steps), the jobs or steps the options select, the keys of
 * cmd_json.c. */
static void print_json(const struct mqueue_opts *o,
		       Meridian__JobInfoReply *reply, const struct row_ctx *ctx)
{
	json_t *doc = json_object(), *a = json_array();

	json_object_set_new(doc, "meridian_version", json_integer(1));
	json_object_set_new(doc, "now", json_integer((json_int_t)ctx->now));
	for (size_t i = 0; i < reply->n_jobs; i++) {
		Meridian__JobRecord *j = reply->jobs[i];

		if (!o->steps) {
			if (job_wanted(o, j))
				json_array_append_new(
					a, cmd_job_json(j, ctx->now));
			continue;
		}
		if (!job_matches(o, j))
			continue;
		qsort(j->steps, j->n_steps, sizeof(*j->steps), cmd_step_cmp_id);
		for (size_t k = 0; k < j->n_steps; k++)
			if (step_wanted(o, j, j->steps[k]))
				json_array_append_new(
					a, cmd_step_json(j, j->steps[k]));
	}
	json_object_set_new(doc, o->steps ? "steps" : "jobs", a);
	(void)cmd_json_print(doc, stdout); /* run() checks the flush */
	json_decref(doc);
}

static int run(struct cmd *c, struct mqueue_opts *o)
{
	Meridian__JobInfoRequest req = MERIDIAN__JOB_INFO_REQUEST__INIT;
	Meridian__JobInfoReply *reply = NULL;
	struct cmd_arena *arena = NULL;
	struct mer_error err = {{0}};
	struct cmd_fmt *fmt;
	struct row_ctx ctx;
	uint32_t *ids = NULL, active;
	size_t nids = 0, i;
	int rc;

	fmt = cmd_fmt_parse(pick_format(o),
			    o->steps  ? step_columns
			    : o->prio ? prio_columns
				      : mqueue_columns,
			    &err);
	if (!fmt)
		return cmd_usage_error(c, "%s", err.text);

	/* Like squeue: asking for jobs by id shows them in any state.  So
	 * do steps asked for by id; otherwise the running ones. */
	active = o->steps ? CMD_STATE_BIT(MERIDIAN__JOB_STATE__JOB_RUNNING)
			  : CMD_STATES_ACTIVE;
	if ((o->start || o->prio) && !o->states)
		o->states = CMD_STATE_BIT(MERIDIAN__JOB_STATE__JOB_PENDING);
	if (!o->states)
		o->states =
			o->njob_ids || o->nstep_ids ? CMD_STATES_ALL : active;
	/* the jobs of --steps=LIST too */
	ids = xcalloc(o->njob_ids + o->nstep_ids + 1, sizeof(*ids));
	for (i = 0; i < o->njob_ids; i++)
		ids[nids++] = o->job_ids[i];
	for (i = 0; i < o->nstep_ids; i++)
		ids[nids++] = o->step_ids[i].job_id;
	req.n_job_ids = nids;
	req.job_ids = ids;
	req.brief = !o->json && !o->steps && !o->prio &&
		    cmd_fmt_uses_only(fmt, MQUEUE_BRIEF_LETTERS);
	/* a finished step may be in a running job or a finished one */
	req.all_states = (o->states & ~active) != 0;
	if (o->nuids == 1) {
		req.has_user = true;
		req.user_id = o->uids[0];
	}

	rc = cmd_connect(c);
	if (rc)
		goto out;
	/* the reply in one arena: unpacked and freed at a fraction of
	 * malloc's cost */
	arena = cmd_arena_new();
	client_set_allocator(c->client, cmd_arena_allocator(arena));
	rc = cmd_job_info(c, &req, &reply, &err);
	client_set_allocator(c->client, NULL);
	if (rc == MER_EXIT_ERROR) {
		if (errno == ENOENT && nids)
			cmd_error(c, "Invalid job id specified");
		else
			cmd_error(c, "cannot list jobs: %s", err.text);
	}
	if (rc)
		goto out;
	for (i = 0; i < reply->n_briefs; i++)
		if (briefs_check(reply->briefs[i], &err)) {
			cmd_error(c, "cannot list jobs: %s", err.text);
			rc = MER_EXIT_ERROR;
			goto out;
		}
	if (nids && !reply_has_any(reply, ids, nids)) {
		cmd_error(c, "Invalid job id specified");
		rc = MER_EXIT_ERROR;
		goto out;
	}

	sort_by_id((void **)reply->jobs, reply->n_jobs, cmp_job_id);
	ctx.now = reply->now ? reply->now : mer_now();
	if (o->json)
		; /* print_json picks them */
	else if (o->steps)
		add_step_rows(fmt, o, reply, &ctx);
	else
		add_job_rows(fmt, o, reply, &ctx);
	if (o->json)
		print_json(o, reply, &ctx);
	else
		cmd_fmt_print(fmt, !o->noheader, stdout);
	if (fflush(stdout) != 0) {
		cmd_error(c, "writing the list: %s", strerror(errno));
		rc = MER_EXIT_ERROR;
	}
out:
	cmd_arena_free(arena); /* the reply with it */
	cmd_fmt_free(fmt);
	free(ids);
	return rc;
}

int main(int argc, char **argv)
{
	enum { OPT_ME = 256, OPT_START, OPT_PRIO, OPT_JSON };
	static const struct option longopts[] = {
		{"all", no_argument, NULL, 'a'},
		{"format", required_argument, NULL, 'o'},
		{"jobs", required_argument, NULL, 'j'},
		{"job", required_argument, NULL, 'j'},
		{"long", no_argument, NULL, 'l'},
		{"me", no_argument, NULL, OPT_ME},
		{"name", required_argument, NULL, 'n'},
		{"noheader", no_argument, NULL, 'h'},
		{"partition", required_argument, NULL, 'p'},
		{"states", required_argument, NULL, 't'},
		{"state", required_argument, NULL, 't'},
		{"start", no_argument, NULL, OPT_START},
		{"priority", no_argument, NULL, OPT_PRIO},
		{"json", no_argument, NULL, OPT_JSON},
		{"steps", optional_argument, NULL, 's'},
		{"user", required_argument, NULL, 'u'},
		CMD_LONGOPT_CONFIG,
		CMD_LONGOPT_HELP,
		CMD_LONGOPT_USAGE,
		CMD_LONGOPT_VERSION,
		{NULL, 0, NULL, 0},
	};
	struct mqueue_opts o = {0};
	struct mer_error err = {{0}};
	struct cmd c;
	int ch, rc;

	cmd_init(&c, "mqueue");
	{
		/* slurm-compat's sprio is a link to mqueue: --priority */
		const char *slash = argv[0] ? strrchr(argv[0], '/') : NULL,
			   *name = slash ? slash + 1 : argv[0];

		o.prio = name && strcmp(name, "sprio") == 0;
	}
	opterr = 0;
	/* -s takes no value (-sh is -s -h); --steps=LIST does */
	while ((ch = getopt_long(argc, argv, ":af:hj:ln:o:p:st:u:V", longopts,
				 NULL)) != -1) {
		switch (ch) {
		case 'a':
			break;
		case 'f':
			c.conf_path = optarg;
			break;
		case 'h':
			o.noheader = true;
			break;
		case 'j':
			if (cmd_parse_job_ids(optarg, &o.job_ids, &o.njob_ids,
					      &err))
				return cmd_usage_error(&c, "%s", err.text);
			break;
		case 'l':
			o.long_format = true;
			o.format = NULL;
			break;
		case 'n':
			cmd_list_split(optarg, &o.names, &o.nnames);
			break;
		case 'o':
			o.format = optarg;
			o.long_format = false;
			break;
		case 's':
			o.steps = true;
			if (optarg && parse_step_ids(optarg, &o.step_ids,
						     &o.nstep_ids, &err))
				return cmd_usage_error(&c, "%s", err.text);
			break;
		case 'p':
			cmd_list_split(optarg, &o.partitions, &o.npartitions);
			break;
		case 't': {
			uint32_t m;

			if (cmd_job_states_parse(optarg, &m, &err))
				return cmd_usage_error(&c, "%s", err.text);
			o.states |= m;
			break;
		}
		case 'u':
			if (cmd_parse_users(optarg, &o.uids, &o.nuids, &err))
				return cmd_usage_error(&c, "%s", err.text);
			break;
		case OPT_START:
			o.start = true;
			break;
		case OPT_PRIO:
			o.prio = true;
			break;
		case OPT_JSON:
			o.json = true;
			break;
		case OPT_ME:
			o.uids = xrealloc(o.uids,
					  (o.nuids + 1) * sizeof(*o.uids));
			o.uids[o.nuids++] = (uint32_t)getuid();
			break;
		case 'H':
		case 'U':
			usage(stdout);
			return MER_EXIT_OK;
		case 'V':
			return cmd_print_version(&c);
		default:
			return cmd_getopt_error(&c, ch, argv);
		}
	}
	if (optind < argc)
		return cmd_usage_error(&c, "unexpected argument \"%s\"",
				       argv[optind]);

	rc = run(&c, &o);
	cmd_fini(&c);
	free(o.job_ids);
	free(o.step_ids);
	free(o.uids);
	cmd_list_free(o.partitions, o.npartitions);
	cmd_list_free(o.names, o.nnames);
	return rc;
}
