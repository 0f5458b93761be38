/*
 * macct - the jobs of the past and present, like sacct: those mctld holds
 * in memory and those its history kept (JobHistoryDays), with their steps.
 *
 * Rows are printed as sacct prints them: fields of a fixed width (a wider
 * value is cut and ends in '+'), JobID left justified and the rest right,
 * each followed by a space; -p and -P separate them with '|' instead.
 */
#include "config.h"

#include <getopt.h>
#include <grp.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "cmd.h"
#include "cmd_json.h"
#include "hostlist.h"
#include "parse.h"
#include "states.h"
#include "util.h"

/* One line: a job's allocation, its batch script, or one of its steps. */
struct row {
	const Meridian__JobRecord *j;
	const Meridian__StepRecord *s; /* a step: NULL for the others */
	bool batch;		       /* the batch script's line */
	int64_t now;
};

struct field {
	const char *name;
	int width; /* negative: left justified */
	void (*get)(const struct row *r, struct strbuf *out);
};

static const Meridian__JobDesc empty_desc = MERIDIAN__JOB_DESC__INIT;

static const Meridian__JobDesc *desc(const struct row *r)
{
	return r->j->desc ? r->j->desc : &empty_desc;
}

static void add_secs(struct strbuf *out, int64_t secs)
{
	char buf[64];

	cmd_format_secs(secs, true, buf, sizeof(buf));
	cmd_add_str(out, buf);
}

static Meridian__JobState row_state(const struct row *r)
{
	return r->s ? r->s->state : r->j->state;
}

static int64_t row_start(const struct row *r)
{
	return r->s ? r->s->start_time : r->j->start_time;
}

static int64_t row_end(const struct row *r)
{
	return r->s ? r->s->end_time : r->j->end_time;
}

static int64_t row_elapsed(const struct row *r)
{
	int64_t start = row_start(r), end = row_end(r);

	if (!start)
		return 0;
	if (!end || !mer_job_state_final(row_state(r)))
		end = r->now;
	return end > start ? end - start : 0;
}

/* CPUs of the batch host: its share of the allocation. */
static uint32_t batch_cpus(const Meridian__JobRecord *j)
{
	for (size_t i = 0; i < j->n_alloc; i++)
		if (j->batch_host &&
		    strcmp(j->alloc[i]->node, j->batch_host) == 0)
			return j->alloc[i]->cpus;
	return j->n_alloc ? j->alloc[0]->cpus : 0;
}

static uint32_t alloc_cpus(const Meridian__JobRecord *j)
{
	uint32_t sum = 0;

	for (size_t i = 0; i < j->n_alloc; i++)
		sum += j->alloc[i]->cpus;
	return sum;
}

static uint32_t row_cpus(const struct row *r)
{
	if (r->s) {
		const Meridian__StepDesc *sd = cmd_step_desc(r->s);

		return r->s->ntasks *
		       (sd->cpus_per_task ? sd->cpus_per_task : 1);
	}
	if (r->batch)
		return batch_cpus(r->j);
	return alloc_cpus(r->j);
}

/* The history keeps a step's node list, not its per node records. */
static uint32_t step_nnodes(const Meridian__StepRecord *s)
{
	struct mer_error err;
	char **names;
	size_t n;

	if (s->n_nodes)
		return (uint32_t)s->n_nodes;
	if (!s->nodelist || !*s->nodelist ||
	    hostlist_expand(s->nodelist, &names, &n, &err) < 0)
		return 0;
	hostlist_free(names, n);
	return (uint32_t)n;
}

static uint32_t row_nnodes(const struct row *r)
{
	if (r->s)
		return step_nnodes(r->s);
	if (r->batch)
		return 1;
	if (!r->j->start_time)
		return cmd_job_nodes(r->j);
	return r->j->n_alloc ? (uint32_t)r->j->n_alloc : cmd_job_nodes(r->j);
}

static uint64_t alloc_mem(const Meridian__JobRecord *j)
{
	uint64_t sum = 0;

	for (size_t i = 0; i < j->n_alloc; i++)
		sum += j->alloc[i]->mem_mb;
	return sum;
}

static uint32_t alloc_gpus(const Meridian__JobRecord *j)
{
	uint32_t sum = 0;

	for (size_t i = 0; i < j->n_alloc; i++)
		sum += (uint32_t)j->alloc[i]->n_gpus;
	return sum;
}

/* --- the fields ------------------------------------------------------ */

static void f_jobid(const struct row *r, struct strbuf *out)
{
	cmd_job_id_str(r->j, out);
	if (r->batch)
		cmd_add_str(out, ".batch");
	else if (r->s)
		strbuf_addf(out, ".%" PRIu32, r->s->step_id);
}

static void f_jobidraw(const struct row *r, struct strbuf *out)
{
	strbuf_addu(out, r->j->job_id);
	if (r->batch)
		cmd_add_str(out, ".batch");
	else if (r->s)
		strbuf_addf(out, ".%" PRIu32, r->s->step_id);
}

static void f_jobname(const struct row *r, struct strbuf *out)
{
	if (r->batch)
		cmd_add_str(out, "batch");
	else if (r->s)
		cmd_add_str(out, cmd_step_name(r->s));
	else
		cmd_add_str(out, desc(r)->name);
}

static void f_partition(const struct row *r, struct strbuf *out)
{
	if (!r->s && !r->batch)
		cmd_add_str(out, desc(r)->partition);
}

static void f_account(const struct row *r, struct strbuf *out)
{
	cmd_add_str(out, desc(r)->account);
}

static void f_qos(const struct row *r, struct strbuf *out)
{
	if (!r->s && !r->batch)
		cmd_add_str(out, desc(r)->qos);
}

static void f_alloccpus(const struct row *r, struct strbuf *out)
{
	strbuf_addu(out, row_cpus(r));
}

static void f_reqcpus(const struct row *r, struct strbuf *out)
{
	strbuf_addu(out, r->s || r->batch ? row_cpus(r) : cmd_job_cpus(r->j));
}

static void f_state(const struct row *r, struct strbuf *out)
{
	cmd_add_str(out, mer_job_state_name(row_state(r)));
}

static void f_exitcode(const struct row *r, struct strbuf *out)
{
	char buf[32];

	if (r->s)
		cmd_step_exit_str(r->s, buf, sizeof(buf));
	else
		cmd_format_exit_code(r->j->exit_code, r->j->term_signal, buf,
				     sizeof(buf));
	cmd_add_str(out, buf);
}

static void f_elapsed(const struct row *r, struct strbuf *out)
{
	add_secs(out, row_elapsed(r));
}

static void f_elapsedraw(const struct row *r, struct strbuf *out)
{
	strbuf_addu(out, (uint64_t)row_elapsed(r));
}

static void f_cputime(const struct row *r, struct strbuf *out)
{
	add_secs(out, row_elapsed(r) * row_cpus(r));
}

static void f_cputimeraw(const struct row *r, struct strbuf *out)
{
	strbuf_addu(out, (uint64_t)(row_elapsed(r) * row_cpus(r)));
}

static void f_submit(const struct row *r, struct strbuf *out)
{
	cmd_add_time(out, r->s ? r->s->start_time : r->j->submit_time,
		     "Unknown");
}

static void f_eligible(const struct row *r, struct strbuf *out)
{
	int64_t t = r->j->submit_time;

	if (r->s) {
		t = r->s->start_time;
	} else if (desc(r)->begin_time > t) {
		t = desc(r)->begin_time;
	}
	cmd_add_time(out, t, "Unknown");
}

static void f_start(const struct row *r, struct strbuf *out)
{
	cmd_add_time(out, row_start(r), "Unknown");
}

static void f_end(const struct row *r, struct strbuf *out)
{
	cmd_add_time(out, mer_job_state_final(row_state(r)) ? row_end(r) : 0,
		     "Unknown");
}

static void f_nodelist(const struct row *r, struct strbuf *out)
{
	if (r->s)
		cmd_add_str(out, r->s->nodelist);
	else if (r->batch)
		cmd_add_str(out, r->j->batch_host);
	else if (r->j->nodes && *r->j->nodes)
		cmd_add_str(out, r->j->nodes);
	else
		cmd_add_str(out, "None assigned");
}

static void f_nnodes(const struct row *r, struct strbuf *out)
{
	strbuf_addu(out, row_nnodes(r));
}

static void f_ntasks(const struct row *r, struct strbuf *out)
{
	if (r->s)
		strbuf_addu(out, r->s->ntasks);
	else if (r->batch)
		strbuf_addu(out, 1);
}

/* TRES as sacct writes them: billing=4,cpu=4,gres/gpu=2,mem=8G,node=1. */
static void add_tres(struct strbuf *out, uint32_t cpus, uint64_t mem_mb,
		     uint32_t gpus, uint32_t nodes)
{
	strbuf_addf(out, "billing=%" PRIu32 ",cpu=%" PRIu32, cpus, cpus);
	if (gpus)
		strbuf_addf(out, ",gres/gpu=%" PRIu32, gpus);
	if (mem_mb) {
		if (mem_mb % 1024 == 0)
			strbuf_addf(out, ",mem=%" PRIu64 "G", mem_mb / 1024);
		else
			strbuf_addf(out, ",mem=%" PRIu64 "M", mem_mb);
	}
	strbuf_addf(out, ",node=%" PRIu32, nodes);
}

static void f_alloctres(const struct row *r, struct strbuf *out)
{
	const Meridian__JobRecord *j = r->j;

	if (!j->n_alloc || !j->start_time)
		return;
	if (r->s) {
		strbuf_addf(out, "cpu=%" PRIu32 ",node=%" PRIu32, row_cpus(r),
			    row_nnodes(r));
		return;
	}
	if (r->batch) {
		strbuf_addf(out, "cpu=%" PRIu32 ",node=1", batch_cpus(j));
		return;
	}
	add_tres(out, alloc_cpus(j), alloc_mem(j), alloc_gpus(j),
		 (uint32_t)j->n_alloc);
}

static void f_reqtres(const struct row *r, struct strbuf *out)
{
	const Meridian__JobDesc *d = desc(r);
	uint32_t nodes = cmd_job_nodes(r->j), gpus = d->gpus;

	if (r->s || r->batch)
		return;
	if (d->gpus_per_node)
		gpus = d->gpus_per_node * nodes;
	add_tres(out, cmd_job_cpus(r->j), d->mem_mb * nodes, gpus, nodes);
}

static void f_reqmem(const struct row *r, struct strbuf *out)
{
	const Meridian__JobDesc *d = desc(r);

	if (r->s || r->batch)
		return;
	if (d->mem_per_cpu)
		strbuf_addf(out, "%" PRIu64 "Mc", d->mem_per_cpu);
	else if (d->mem_mb)
		strbuf_addf(out, "%" PRIu64 "M", d->mem_mb);
}

static void f_reqnodes(const struct row *r, struct strbuf *out)
{
	if (!r->s && !r->batch)
		strbuf_addu(out, cmd_job_nodes(r->j));
}

static void f_user(const struct row *r, struct strbuf *out)
{
	if (r->s || r->batch)
		return;
	if (r->j->user_name && *r->j->user_name)
		cmd_add_str(out, r->j->user_name);
	else
		strbuf_addu(out, r->j->user_id);
}

static void f_uid(const struct row *r, struct strbuf *out)
{
	if (!r->s && !r->batch)
		strbuf_addu(out, r->j->user_id);
}

static void f_group(const struct row *r, struct strbuf *out)
{
	struct group gr, *res = NULL;
	char buf[4096];

	if (r->s || r->batch)
		return;
	if (getgrgid_r((gid_t)r->j->group_id, &gr, buf, sizeof(buf), &res) ==
		    0 &&
	    res)
		cmd_add_str(out, gr.gr_name);
	else
		strbuf_addu(out, r->j->group_id);
}

static void f_gid(const struct row *r, struct strbuf *out)
{
	if (!r->s && !r->batch)
		strbuf_addu(out, r->j->group_id);
}

static void f_timelimit(const struct row *r, struct strbuf *out)
{
	if (r->s || r->batch)
		return;
	if (!r->j->time_limit)
		cmd_add_str(out, "UNLIMITED");
	else
		add_secs(out, (int64_t)r->j->time_limit * 60);
}

static void f_timelimitraw(const struct row *r, struct strbuf *out)
{
	if (r->s || r->batch)
		return;
	if (!r->j->time_limit)
		cmd_add_str(out, "UNLIMITED");
	else
		strbuf_addu(out, r->j->time_limit);
}

static void f_workdir(const struct row *r, struct strbuf *out)
{
	if (!r->s && !r->batch)
		cmd_add_str(out, desc(r)->work_dir);
}

static void f_comment(const struct row *r, struct strbuf *out)
{
	if (!r->s && !r->batch)
		cmd_add_str(out, desc(r)->comment);
}

static void f_constraints(const struct row *r, struct strbuf *out)
{
	if (!r->s && !r->batch)
		cmd_add_str(out, desc(r)->constraint);
}

static void f_priority(const struct row *r, struct strbuf *out)
{
	if (!r->s && !r->batch)
		strbuf_addu(out, r->j->priority);
}

static void f_reason(const struct row *r, struct strbuf *out)
{
	if (r->s)
		cmd_add_str(out, cmd_str_or(r->s->reason, "None"));
	else if (!r->batch)
		cmd_add_str(out, cmd_str_or(r->j->reason, "None"));
}

static void f_restarts(const struct row *r, struct strbuf *out)
{
	if (!r->s && !r->batch)
		strbuf_addu(out, r->j->restart_count);
}

/* ClusterName= of meridian.conf, once connected */
static const char *cluster_name = "";

static void f_cluster(const struct row *r, struct strbuf *out)
{
	(void)r;
	cmd_add_str(out, cluster_name);
}

static void f_reqgres(const struct row *r, struct strbuf *out)
{
	char buf[96];
	bool per_node;

	if (r->s || r->batch)
		return;
	cmd_job_gres(r->j, buf, sizeof(buf), &per_node);
	cmd_add_str(out, buf);
}

/* Slurm's names and widths (sacct --helpformat), those Meridian keeps. */
static const struct field fields[] = {
	{"Account", 10, f_account},
	{"AllocCPUS", 10, f_alloccpus},
	{"AllocNodes", 10, f_nnodes},
	{"AllocTRES", 10, f_alloctres},
	{"Cluster", 10, f_cluster},
	{"Comment", 14, f_comment},
	{"Constraints", 19, f_constraints},
	{"CPUTime", 10, f_cputime},
	{"CPUTimeRAW", 10, f_cputimeraw},
	{"Elapsed", 10, f_elapsed},
	{"ElapsedRaw", 10, f_elapsedraw},
	{"Eligible", 19, f_eligible},
	{"End", 19, f_end},
	{"ExitCode", 8, f_exitcode},
	{"GID", 6, f_gid},
	{"Group", 9, f_group},
	{"JobID", -12, f_jobid},
	{"JobIDRaw", -12, f_jobidraw},
	{"JobName", 10, f_jobname},
	{"NCPUS", 10, f_alloccpus},
	{"NNodes", 8, f_nnodes},
	{"NodeList", 15, f_nodelist},
	{"NTasks", 8, f_ntasks},
	{"Partition", 10, f_partition},
	{"Priority", 10, f_priority},
	{"QOS", 10, f_qos},
	{"Reason", 22, f_reason},
	{"ReqCPUS", 8, f_reqcpus},
	{"ReqGRES", 12, f_reqgres},
	{"ReqMem", 10, f_reqmem},
	{"ReqNodes", 8, f_reqnodes},
	{"ReqTRES", 10, f_reqtres},
	{"Restarts", 8, f_restarts},
	{"Start", 19, f_start},
	{"State", 10, f_state},
	{"Submit", 19, f_submit},
	{"Timelimit", 10, f_timelimit},
	{"TimelimitRaw", 10, f_timelimitraw},
	{"UID", 6, f_uid},
	{"User", 9, f_user},
	{"WorkDir", 20, f_workdir},
	{NULL, 0, NULL},
};

#define FMT_DEFAULT "JobID,JobName,Partition,Account,AllocCPUS,State,ExitCode"
#define FMT_BRIEF   "JobID,State,ExitCode"
#define FMT_LONG                                                               \
	"JobID,JobIDRaw,JobName,Partition,User,UID,Group,GID,Account,QOS,"     \
	"Priority,Submit,Eligible,Start,End,Elapsed,ElapsedRaw,Timelimit,"     \
	"CPUTime,AllocCPUS,ReqCPUS,ReqMem,ReqTRES,AllocTRES,ReqNodes,"         \
	"NNodes,NodeList,NTasks,State,ExitCode,Reason,Restarts,WorkDir,"       \
	"Comment,Constraints"

/* A field of --format, with its width in force. */
struct col {
	const struct field *f;
	int width;
};

struct macct_opts {
	uint32_t *job_ids;
	size_t njob_ids;
	uint32_t *task_ids; /* ID_TASK asked: the task, or UINT32_MAX */
	uint32_t *uids;
	size_t nuids;
	char **accounts, **partitions, **names;
	size_t naccounts, npartitions, nnames;
	uint32_t states; /* CMD_STATE_BIT mask, 0 any */
	const char *start_s, *end_s, *format, *delimiter;
	bool all_users, allocations, noheader, json;
	int parsable; /* 1: -p (a delimiter after every field), 2: -P */
};

/* --- the format ------------------------------------------------------ */

static const struct field *field_find(const char *name, size_t len)
{
	for (const struct field *f = fields; f->name; f++)
		if (strlen(f->name) == len &&
		    strncasecmp(f->name, name, len) == 0)
			return f;
	return NULL;
}

/* "JobID,JobName%30,State": NULL with err naming the unknown field. */
static struct col *format_parse(const char *spec, size_t *n,
				struct mer_error *err)
{
	char *copy = xstrdup(spec), *save = NULL, *tok;
	struct col *cols = NULL;

	*n = 0;
	for (tok = strtok_r(copy, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		char *pct = strchr(tok, '%');
		size_t len = pct ? (size_t)(pct - tok) : strlen(tok);
		const struct field *f;
		int width;

		while (*tok == ' ')
			tok++, len--;
		if (!len)
			continue;
		if (!(f = field_find(tok, len))) {
			mer_error_set(err,
				      "Invalid field requested: \"%.*s\" "
				      "(macct --helpformat lists the fields)",
				      (int)len, tok);
			goto bad;
		}
		width = f->width;
		if (pct) {
			long w;
			char *end;

			w = strtol(pct + 1, &end, 10);
			if (end == pct + 1 || *end || w == 0 || w > 1000 ||
			    w < -1000) {
				mer_error_set(err,
					      "Invalid field width: \"%s\" "
					      "(expected FIELD%%N, N from 1 "
					      "to 1000)",
					      tok);
				goto bad;
			}
			/* the field's own side, unless the sign says */
			width = w < 0 ? (int)w
				      : (f->width < 0 ? -(int)w : (int)w);
		}
		cols = xrealloc(cols, (*n + 1) * sizeof(*cols));
		cols[*n].f = f;
		cols[*n].width = width;
		(*n)++;
	}
	free(copy);
	if (!*n) {
		mer_error_set(err, "Invalid format \"%s\": no field", spec);
		free(cols);
		return NULL;
	}
	return cols;
bad:
	free(copy);
	free(cols);
	return NULL;
}

static void put_cell(struct strbuf *line, const char *s, size_t len,
		     const struct col *c, bool last, const struct macct_opts *o)
{
	size_t w = (size_t)(c->width < 0 ? -c->width : c->width);

	if (o->parsable) {
		strbuf_add(line, s, len);
		if (!last || o->parsable == 1)
			cmd_add_str(line, o->delimiter);
		return;
	}
	if (len > w) {
		strbuf_add(line, s, w - 1);
		strbuf_addc(line, '+');
	} else if (c->width < 0) {
		strbuf_add(line, s, len);
		strbuf_addn(line, ' ', w - len);
	} else {
		strbuf_addn(line, ' ', w - len);
		strbuf_add(line, s, len);
	}
	strbuf_addc(line, ' ');
}

static void print_header(const struct col *cols, size_t n,
			 const struct macct_opts *o, struct strbuf *out)
{
	for (size_t i = 0; i < n; i++)
		put_cell(out, cols[i].f->name, strlen(cols[i].f->name),
			 &cols[i], i + 1 == n, o);
	strbuf_addc(out, '\n');
	if (o->parsable)
		return;
	for (size_t i = 0; i < n; i++) {
		int w = cols[i].width < 0 ? -cols[i].width : cols[i].width;

		strbuf_addn(out, '-', (size_t)w);
		strbuf_addc(out, ' ');
	}
	strbuf_addc(out, '\n');
}

static void print_row(const struct col *cols, size_t n, const struct row *r,
		      const struct macct_opts *o, struct strbuf *cell,
		      struct strbuf *out)
{
	for (size_t i = 0; i < n; i++) {
		cell->len = 0;
		if (cell->s)
			cell->s[0] = '\0';
		cols[i].f->get(r, cell);
		put_cell(out, cell->s ? cell->s : "", cell->len, &cols[i],
			 i + 1 == n, o);
	}
	strbuf_addc(out, '\n');
}

/* --- which jobs ------------------------------------------------------ */

static int job_cmp(const void *a, const void *b)
{
	const Meridian__JobRecord *x = *(const Meridian__JobRecord *const *)a,
				  *y = *(const Meridian__JobRecord *const *)b;
	uint32_t gx = x->array_job_id ? x->array_job_id : x->job_id,
		 gy = y->array_job_id ? y->array_job_id : y->job_id;
	/* an array's record (its pending tasks) after its started tasks */
	uint64_t tx = x->array_job_id == x->job_id && x->array_pending.len
			      ? UINT64_MAX
			      : x->array_task_id,
		 ty = y->array_job_id == y->job_id && y->array_pending.len
			      ? UINT64_MAX
			      : y->array_task_id;

	if (gx != gy)
		return gx < gy ? -1 : 1;
	if (tx != ty)
		return tx < ty ? -1 : 1;
	return x->job_id < y->job_id ? -1 : x->job_id > y->job_id;
}

/* Whether j is one of the -j list: JOB (an array's id: all its tasks),
 * or JOB_TASK (that task, started or pending). */
static bool task_wanted(const struct macct_opts *o,
			const Meridian__JobRecord *j)
{
	for (size_t i = 0; i < o->njob_ids; i++) {
		uint32_t id = o->job_ids[i], t = o->task_ids[i];

		if (t == UINT32_MAX) {
			if (id == j->job_id || id == j->array_job_id)
				return true;
			continue;
		}
		if (id != j->array_job_id)
			continue;
		if (j->array_job_id == j->job_id && j->array_pending.len) {
			if (t / 8 < j->array_pending.len &&
			    (j->array_pending.data[t / 8] >> (t % 8) & 1))
				return true;
		} else if (j->array_task_id == t) {
			return true;
		}
	}
	return !o->njob_ids;
}

/* "12", "12_7", "12.batch", "12.3" (the step part is ignored: a job
 * and its steps are printed). */
static int parse_jobs(const char *list, struct macct_opts *o,
		      struct mer_error *err)
{
	char *copy = xstrdup(list), *save = NULL, *tok;

	for (tok = strtok_r(copy, ", ", &save); tok;
	     tok = strtok_r(NULL, ", ", &save)) {
		char *end;
		unsigned long id = strtoul(tok, &end, 10), task = UINT32_MAX;

		if (end == tok || id == 0 || id > UINT32_MAX)
			goto bad;
		if (*end == '_') {
			char *t = end + 1;

			task = strtoul(t, &end, 10);
			if (end == t || task >= UINT32_MAX)
				goto bad;
		}
		if (*end == '.') {
			const char *step = end + 1;

			if (strcmp(step, "batch") != 0 &&
			    strcmp(step, "extern") &&
			    strspn(step, "0123456789") != strlen(step))
				goto bad;
			end += strlen(end);
		}
		if (*end)
			goto bad;
		o->job_ids = xrealloc(o->job_ids,
				      (o->njob_ids + 1) * sizeof(*o->job_ids));
		o->task_ids = xrealloc(
			o->task_ids, (o->njob_ids + 1) * sizeof(*o->task_ids));
		o->job_ids[o->njob_ids] = (uint32_t)id;
		o->task_ids[o->njob_ids++] = (uint32_t)task;
	}
	free(copy);
	return 0;
bad:
	mer_error_set(err,
		      "Invalid job id: \"%s\" (expected JOB, JOB_TASK or "
		      "JOB.STEP, comma separated)",
		      tok);
	free(copy);
	return -1;
}

/* Every page of the history: the replies in *pages (freed by the caller),
 * their jobs in *jobs. */
static int fetch(struct cmd *c, Meridian__JobHistoryRequest *req,
		 Meridian__JobHistoryReply ***pages, size_t *npages,
		 const Meridian__JobRecord ***jobs, size_t *njobs, int64_t *now)
{
	struct mer_error err = {{0}};
	uint8_t cursor[16];

	*pages = NULL;
	*npages = 0;
	*jobs = NULL;
	*njobs = 0;
	for (;;) {
		Meridian__JobHistoryReply *rep;
		int rc = cmd_call(c, MERIDIAN__MSG_TYPE__MSG_JOB_HISTORY,
				  &req->base, (ProtobufCMessage **)&rep, &err);

		if (rc == MER_EXIT_ERROR)
			cmd_error(c, "%s", err.text);
		if (rc)
			return rc;
		*pages = xrealloc(*pages, (*npages + 1) * sizeof(**pages));
		(*pages)[(*npages)++] = rep;
		*jobs = xrealloc(*jobs,
				 (*njobs + rep->n_jobs + 1) * sizeof(**jobs));
		memcpy(*jobs + *njobs, rep->jobs, rep->n_jobs * sizeof(**jobs));
		*njobs += rep->n_jobs;
		if (*npages == 1)
			*now = rep->now;
		if (!rep->next_after.len ||
		    rep->next_after.len > sizeof(cursor))
			return 0;
		if (req->after.len == rep->next_after.len &&
		    memcmp(req->after.data, rep->next_after.data,
			   rep->next_after.len) == 0) {
			cmd_error(c, "the controller's pages do not move on");
			return MER_EXIT_ERROR;
		}
		memcpy(cursor, rep->next_after.data, rep->next_after.len);
		req->after.data = cursor;
		req->after.len = rep->next_after.len;
	}
}

/* Sorted by job id (an array's tasks by task), each job once: a page
 * may have caught one in memory and the next the same in the history. */
static size_t sort_unique(const Meridian__JobRecord **jobs, size_t n)
{
	size_t k = 0;

	qsort(jobs, n, sizeof(*jobs), job_cmp);
	for (size_t i = 0; i < n; i++)
		if (!k || jobs[i]->job_id != jobs[k - 1]->job_id)
			jobs[k++] = jobs[i];
	return k;
}

static int print_json(const Meridian__JobRecord **jobs, size_t n, int64_t now)
{
	json_t *doc = json_object(), *arr = json_array();
	int rc;

	for (size_t i = 0; i < n; i++)
		json_array_append_new(arr, cmd_job_json(jobs[i], now));
	json_object_set_new(doc, "meridian_version", json_integer(1));
	json_object_set_new(doc, "now", json_integer((json_int_t)now));
	json_object_set_new(doc, "jobs", arr);
	rc = cmd_json_print(doc, stdout);
	json_decref(doc);
	return rc ? MER_EXIT_ERROR : MER_EXIT_OK;
}

static int print_table(const struct macct_opts *o, const struct col *cols,
		       size_t ncols, const Meridian__JobRecord **jobs, size_t n,
		       int64_t now)
{
	struct strbuf out = {0}, cell = {0};
	int rc = MER_EXIT_OK;

	if (!o->noheader)
		print_header(cols, ncols, o, &out);
	for (size_t i = 0; i < n; i++) {
		const Meridian__JobRecord *j = jobs[i];
		struct row r = {j, NULL, false, now};
		const Meridian__StepRecord **steps;

		print_row(cols, ncols, &r, o, &cell, &out);
		if (o->allocations)
			continue;
		if (!(j->desc && j->desc->interactive) && j->start_time &&
		    j->batch_host && *j->batch_host) {
			r.batch = true;
			print_row(cols, ncols, &r, o, &cell, &out);
			r.batch = false;
		}
		if (!j->n_steps)
			continue;
		steps = xmalloc(j->n_steps * sizeof(*steps));
		memcpy(steps, j->steps, j->n_steps * sizeof(*steps));
		qsort(steps, j->n_steps, sizeof(*steps), cmd_step_cmp_id);
		for (size_t k = 0; k < j->n_steps; k++) {
			r.s = steps[k];
			print_row(cols, ncols, &r, o, &cell, &out);
		}
		r.s = NULL;
		free(steps);
		if (out.len > 1 << 20) {
			if (fwrite(out.s, 1, out.len, stdout) != out.len)
				rc = MER_EXIT_ERROR;
			out.len = 0;
		}
	}
	if (out.len && fwrite(out.s, 1, out.len, stdout) != out.len)
		rc = MER_EXIT_ERROR;
	if (fflush(stdout) != 0)
		rc = MER_EXIT_ERROR;
	strbuf_free(&out);
	strbuf_free(&cell);
	return rc;
}

static int run(struct cmd *c, struct macct_opts *o)
{
	Meridian__JobHistoryRequest req = MERIDIAN__JOB_HISTORY_REQUEST__INIT;
	Meridian__JobHistoryReply **pages = NULL;
	const Meridian__JobRecord **jobs = NULL;
	Meridian__JobState states[16];
	struct mer_error err = {{0}};
	struct col *cols = NULL;
	size_t ncols = 0, npages = 0, njobs = 0, k = 0, nstates = 0;
	int64_t now = (int64_t)time(NULL), start = 0, end = 0;
	uint32_t self = (uint32_t)getuid();
	int rc;

	if (!o->json) {
		const char *spec =
			o->format ? o->format : getenv("SACCT_FORMAT");

		if (!(cols = format_parse(spec && *spec ? spec : FMT_DEFAULT,
					  &ncols, &err)))
			return cmd_usage_error(c, "%s", err.text);
	}
	/* sacct's window: since midnight unless jobs are named */
	if (o->start_s) {
		if (cmd_parse_past_time(o->start_s, "--starttime", now, &start,
					&err))
			goto usage;
	} else if (!o->njob_ids) {
		struct tm tm;
		time_t t = (time_t)now;

		localtime_r(&t, &tm);
		tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
		tm.tm_isdst = -1;
		start = (int64_t)mktime(&tm);
	}
	if (o->end_s &&
	    cmd_parse_past_time(o->end_s, "--endtime", now, &end, &err))
		goto usage;
	if (end && start > end) {
		mer_error_set(&err,
			      "the window's start (-S %s) is after its end "
			      "(-E %s)",
			      o->start_s ? o->start_s : "midnight", o->end_s);
		goto usage;
	}
	req.start = start;
	req.end = end;
	req.job_ids = o->job_ids;
	req.n_job_ids = o->njob_ids;
	if (o->nuids) {
		req.user_ids = o->uids;
		req.n_user_ids = o->nuids;
	} else if (!o->all_users && self != 0 && !o->njob_ids) {
		/* sacct: your own jobs, all of them for root or with -a */
		req.user_ids = &self;
		req.n_user_ids = 1;
	}
	req.accounts = o->accounts;
	req.n_accounts = o->naccounts;
	req.partitions = o->partitions;
	req.n_partitions = o->npartitions;
	req.names = o->names;
	req.n_names = o->nnames;
	for (unsigned s = 0; s < 16; s++)
		if (o->states & CMD_STATE_BIT(s))
			states[nstates++] = (Meridian__JobState)s;
	req.states = states;
	req.n_states = nstates;

	if ((rc = cmd_connect(c)))
		goto out;
	cluster_name = cmd_str_or(c->conf->cluster_name, "");
	rc = fetch(c, &req, &pages, &npages, &jobs, &njobs, &now);
	if (rc)
		goto out;
	njobs = sort_unique(jobs, njobs);
	for (size_t i = 0; i < njobs; i++)
		if (!o->njob_ids || task_wanted(o, jobs[i]))
			jobs[k++] = jobs[i];
	njobs = k;
	rc = o->json ? print_json(jobs, njobs, now)
		     : print_table(o, cols, ncols, jobs, njobs, now);
out:
	for (size_t i = 0; i < npages; i++)
		protobuf_c_message_free_unpacked(&pages[i]->base, NULL);
	free(pages);
	free(jobs);
	free(cols);
	return rc;
usage:
	free(cols);
	return cmd_usage_error(c, "%s", err.text);
}

static void help_format(void)
{
	size_t i, col = 0;

	for (i = 0; fields[i].name; i++) {
		printf("%-20s", fields[i].name);
		if (++col == 4) {
			printf("\n");
			col = 0;
		}
	}
	if (col)
		printf("\n");
}

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: macct [OPTIONS]\n"
		"Jobs that ended, run or wait, with their steps, like sacct:"
		" those\n"
		"mctld holds and those its history kept (JobHistoryDays).\n"
		"\n"
		"  -j, --jobs=ID[,ID...]       these jobs (JOB, JOB_TASK, "
		"JOB.STEP),\n"
		"                              whenever they ran\n"
		"  -u, --user=USER[,USER...]   jobs of these users (default: "
		"yours;\n"
		"                              root: everyone's)\n"
		"  -a, --allusers              every user's jobs\n"
		"  -A, --account=ACCT[,...]    jobs charged to these accounts\n"
		"  -r, --partition=PART[,...]  jobs in these partitions\n"
		"      --name=NAME[,...]       jobs of these names\n"
		"  -s, --state=STATES          CD,F,CA,TO,NF,DL,PD,R or their "
		"names\n"
		"  -S, --starttime=TIME        jobs not ended before TIME "
		"(default:\n"
		"                              midnight; with -j: any time)\n"
		"  -E, --endtime=TIME          jobs submitted by TIME "
		"(default: now)\n"
		"                              TIME: YYYY-MM-DD[THH:MM[:SS]],"
		" MM/DD[/YY],\n"
		"                              HH:MM[:SS] (today), "
		"now[-N[s|m|h|d|w]],\n"
		"                              midnight, noon\n"
		"  -X, --allocations           jobs only, not their batch and "
		"steps\n"
		"  -o, --format=FIELD[%%W],...  these fields (--helpformat), "
		"W wide;\n"
		"                              default "
		"$SACCT_FORMAT or " FMT_DEFAULT "\n"
		"  -b, --brief                 " FMT_BRIEF "\n"
		"  -l, --long                  many fields\n"
		"  -e, --helpformat            list the fields\n"
		"  -n, --noheader              no header lines\n"
		"  -p, --parsable              fields ended by '|'\n"
		"  -P, --parsable2             fields separated by '|'\n"
		"      --delimiter=TEXT        with -p/-P, TEXT for '|'\n"
		"      --json                  the jobs, with their steps, as "
		"one JSON\n"
		"                              document (macct(1))\n"
		"  -f, --config=FILE           meridian.conf to use\n"
		"  -h, --help                  this help\n"
		"      --usage                 the same\n"
		"  -V, --version               the version\n");
}

int main(int argc, char **argv)
{
	enum { OPT_NAME = 256, OPT_JSON, OPT_DELIM };
	static const struct option longopts[] = {
		{"jobs", required_argument, NULL, 'j'},
		{"user", required_argument, NULL, 'u'},
		{"uid", required_argument, NULL, 'u'},
		{"allusers", no_argument, NULL, 'a'},
		{"account", required_argument, NULL, 'A'},
		{"accounts", required_argument, NULL, 'A'},
		{"partition", required_argument, NULL, 'r'},
		{"name", required_argument, NULL, OPT_NAME},
		{"state", required_argument, NULL, 's'},
		{"starttime", required_argument, NULL, 'S'},
		{"endtime", required_argument, NULL, 'E'},
		{"allocations", no_argument, NULL, 'X'},
		{"format", required_argument, NULL, 'o'},
		{"brief", no_argument, NULL, 'b'},
		{"long", no_argument, NULL, 'l'},
		{"helpformat", no_argument, NULL, 'e'},
		{"noheader", no_argument, NULL, 'n'},
		{"parsable", no_argument, NULL, 'p'},
		{"parsable2", no_argument, NULL, 'P'},
		{"delimiter", required_argument, NULL, OPT_DELIM},
		{"json", no_argument, NULL, OPT_JSON},
		CMD_LONGOPT_CONFIG,
		{"help", no_argument, NULL, 'h'},
		CMD_LONGOPT_USAGE,
		CMD_LONGOPT_VERSION,
		{NULL, 0, NULL, 0},
	};
	struct macct_opts o = {0};
	struct mer_error err = {{0}};
	struct cmd c;
	int ch, rc;

	cmd_init(&c, "macct");
	o.delimiter = "|";
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":aA:bE:ef:hj:lno:pPr:s:S:u:VX",
				 longopts, NULL)) != -1) {
		switch (ch) {
		case 'a':
			o.all_users = true;
			break;
		case 'A':
			cmd_list_split(optarg, &o.accounts, &o.naccounts);
			break;
		case 'b':
			o.format = FMT_BRIEF;
			break;
		case 'E':
			o.end_s = optarg;
			break;
		case 'e':
			help_format();
			return MER_EXIT_OK;
		case 'f':
			c.conf_path = optarg;
			break;
		case 'j':
			if (parse_jobs(optarg, &o, &err))
				return cmd_usage_error(&c, "%s", err.text);
			break;
		case 'l':
			o.format = FMT_LONG;
			break;
		case 'n':
			o.noheader = true;
			break;
		case 'o':
			o.format = optarg;
			break;
		case 'p':
			o.parsable = 1;
			break;
		case 'P':
			o.parsable = 2;
			break;
		case 'r':
			cmd_list_split(optarg, &o.partitions, &o.npartitions);
			break;
		case 's': {
			uint32_t m;

			if (cmd_job_states_parse(optarg, &m, &err))
				return cmd_usage_error(&c, "%s", err.text);
			o.states |= m;
			break;
		}
		case 'S':
			o.start_s = optarg;
			break;
		case 'u':
			if (cmd_parse_users(optarg, &o.uids, &o.nuids, &err))
				return cmd_usage_error(&c, "%s", err.text);
			break;
		case 'X':
			o.allocations = true;
			break;
		case OPT_NAME:
			cmd_list_split(optarg, &o.names, &o.nnames);
			break;
		case OPT_JSON:
			o.json = true;
			break;
		case OPT_DELIM:
			o.delimiter = optarg;
			break;
		case 'h':
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
	if (o.delimiter != NULL && !*o.delimiter)
		return cmd_usage_error(&c, "--delimiter needs some text");
	rc = run(&c, &o);
	cmd_fini(&c);
	free(o.job_ids);
	free(o.task_ids);
	free(o.uids);
	cmd_list_free(o.accounts, o.naccounts);
	cmd_list_free(o.partitions, o.npartitions);
	cmd_list_free(o.names, o.nnames);
	return rc;
}
