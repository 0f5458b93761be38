/*
 * mctl - look at and change the cluster, like scontrol: show jobs, job
 * steps, nodes and partitions in Key=Value form, drain/resume/down nodes,
 * hold and release jobs, fetch a job's batch script, ping the controller.
 * show node also says what the link probes found (tier, rates), and has a
 * --json form for scripts (show job, step and node).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <inttypes.h>
#include <jansson.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "iopath.h"
#include "cmd_json.h"
#include "depend.h"
#include "hostlist.h"
#include "parse.h"

struct mctl {
	struct cmd c;
	bool oneliner; /* -o: one line per record */
	bool details;  /* -d: GPUs of each node */
	bool json;     /* --json: show job|step|node as one JSON document */
};

/* A subcommand (or show's entity); names may be shortened while unique. */
struct mctl_verb {
	const char *name;
	int (*fn)(struct mctl *m, int argc, char **argv);
};

static const struct mctl_verb *verb_lookup(const struct mctl_verb *verbs,
					   const char *name, bool *ambiguous)
{
	const struct mctl_verb *found = NULL;
	size_t len = strlen(name);

	*ambiguous = false;
	for (; verbs->name; verbs++) {
		if (str_eq_nocase(verbs->name, name))
			return verbs;
		if (len && strncasecmp(verbs->name, name, len) == 0) {
			if (found && found->fn != verbs->fn)
				*ambiguous = true;
			found = verbs;
		}
	}
	return *ambiguous ? NULL : found;
}

/* --- Key=Value records ----------------------------------------------- */

/* A record prints as scontrol's: first line, then "   " indented lines;
 * with -o all on one line. */
struct rec {
	struct strbuf b;
	bool line_empty;
};

static void rec_kv(struct rec *r, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* What of j's dependency is still to come, as scontrol shows it:
 * "afterok:5(unfulfilled),afterany:6(unfulfilled)", a part that can
 * never be met "(failed)"; nothing when all is met or there is none. */
static void job_deps_text(const Meridian__JobRecord *j, struct strbuf *t)
{
	for (size_t i = 0; j->deps_any && i < j->n_deps; i++)
		if (j->deps[i]->state == MERIDIAN__DEP_STATE__DEP_MET)
			return; /* one of them is enough */
	for (size_t i = 0; i < j->n_deps; i++) {
		const Meridian__JobDep *d = j->deps[i];

		if (d->state == MERIDIAN__DEP_STATE__DEP_MET)
			continue;
		if (t->s)
			strbuf_addc(t, j->deps_any ? '?' : ',');
		strbuf_addf(t, "%s", dep_kind_name(d->kind));
		if (d->job_id)
			strbuf_addf(t, ":%" PRIu32, d->job_id);
		if (d->minutes)
			strbuf_addf(t, "+%" PRIu32, d->minutes);
		strbuf_addf(t, "(%s)",
			    d->state == MERIDIAN__DEP_STATE__DEP_NEVER
				    ? "failed"
				    : "unfulfilled");
	}
}

static void rec_kv(struct rec *r, const char *key, const char *fmt, ...)
{
	char buf[4096];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (!r->line_empty)
		strbuf_addc(&r->b, ' ');
	strbuf_addf(&r->b, "%s=%s", key, buf);
	r->line_empty = false;
}

static void rec_nl(struct rec *r, const struct mctl *m)
{
	strbuf_add(&r->b, m->oneliner ? " " : "\n   ", m->oneliner ? 1 : 4);
	r->line_empty = true;
}

static void rec_print(struct rec *r)
{
	if (r->b.s)
		printf("%s\n", r->b.s);
	strbuf_free(&r->b);
	r->line_empty = true;
}

/* --- show job -------------------------------------------------------- */

/* The name of a job's user: as mctld recorded it, else from the passwd
 * database, else "(null)" (scontrol's word). */
static const char *job_user_name(const Meridian__JobRecord *j, char *tmp,
				 size_t n)
{
	if (j->user_name && *j->user_name)
		return j->user_name;
	if (user_name((uid_t)j->user_id, tmp, n) == 0)
		return tmp;
	return "(null)";
}

static const char *group_name(uint32_t gid)
{
	struct group *g = getgrgid((gid_t)gid);

	return g ? g->gr_name : "(null)";
}

static void time_str(int64_t t, char *buf, size_t n)
{
	format_timestamp(t, buf, n);
}

/* --- steps ---------------------------------------------------------- */

static void sort_steps(Meridian__JobRecord *j)
{
	qsort(j->steps, j->n_steps, sizeof(*j->steps), cmd_step_cmp_id);
}

/* "3", or "None" for -1 (no rank failed, or none to blame). */
static void failed_rank_str(int32_t rank, char *buf, size_t n)
{
	if (rank < 0)
		snprintf(buf, n, "None");
	else
		snprintf(buf, n, "%" PRId32, rank);
}

/* The command line, each word quoted when a shell would need it. */
static void argv_str(const Meridian__StepDesc *d, struct strbuf *out)
{
	for (size_t i = 0; i < d->n_argv; i++) {
		const char *a = d->argv[i];

		if (i)
			strbuf_addc(out, ' ');
		if (*a && !a[strcspn(a, " \t\n'\"\\$`;&|<>()*?[]#~")]) {
			strbuf_add(out, a, strlen(a));
			continue;
		}
		strbuf_addc(out, '\'');
		for (; *a; a++) {
			if (*a == '\'')
				strbuf_add(out, "'\\''", 4);
			else
				strbuf_addc(out, *a);
		}
		strbuf_addc(out, '\'');
	}
}

/* One step, scontrol show step style. */
static void print_step(const struct mctl *m, const Meridian__JobRecord *j,
		       const Meridian__StepRecord *s, int64_t now)
{
	const Meridian__StepDesc *d = cmd_step_desc(s);
	bool running = s->state == MERIDIAN__JOB_STATE__JOB_RUNNING;
	struct rec r = {{0}, true};
	struct strbuf argv = {0};
	char a[256];
	int64_t end = running ? now : s->end_time;

	rec_kv(&r, "StepId", "%" PRIu32 ".%" PRIu32, j->job_id, s->step_id);
	rec_kv(&r, "JobId", "%" PRIu32, j->job_id);
	rec_kv(&r, "UserId", "%s(%" PRIu32 ")", job_user_name(j, a, sizeof(a)),
	       j->user_id);
	rec_kv(&r, "Name", "%s", cmd_step_name(s));
	rec_nl(&r, m);
	rec_kv(&r, "State", "%s", mer_job_state_name(s->state));
	rec_kv(&r, "NumTasks", "%" PRIu32, s->ntasks);
	rec_kv(&r, "NumNodes", "%zu", s->n_nodes);
	rec_kv(&r, "NodeList", "%s", cmd_str_or(s->nodelist, "(null)"));
	rec_nl(&r, m);
	time_str(s->start_time, a, sizeof(a));
	rec_kv(&r, "StartTime", "%s", a);
	time_str(running ? 0 : s->end_time, a, sizeof(a));
	rec_kv(&r, "EndTime", "%s", a);
	cmd_format_secs(
		s->start_time && end > s->start_time ? end - s->start_time : 0,
		true, a, sizeof(a));
	rec_kv(&r, "RunTime", "%s", a);
	rec_nl(&r, m);
	cmd_step_exit_str(s, a, sizeof(a));
	rec_kv(&r, "ExitCode", "%s", a);
	failed_rank_str(s->failed_rank, a, sizeof(a));
	rec_kv(&r, "FailedRank", "%s", a);
	rec_kv(&r, "Reason", "%s", cmd_str_or(s->reason, "None"));
	rec_nl(&r, m);
	rec_kv(&r, "CpuBind", "%s",
	       cmd_str_or(s->cpu_bind, cmd_str_or(d->cpu_bind, "gpu-local")));
	rec_kv(&r, "Mpi", "%s", cmd_str_or(d->mpi, "pmi1"));
	rec_kv(&r, "CPUs/Task", "%" PRIu32,
	       d->cpus_per_task ? d->cpus_per_task : 1);
	if (m->details)
		for (size_t i = 0; i < s->n_nodes; i++) {
			const Meridian__StepNode *n = s->nodes[i];
			struct strbuf g = {0};

			for (size_t k = 0; k < n->n_gpus; k++)
				strbuf_addf(&g, "%s%" PRIu32, k ? "," : "",
					    n->gpus[k]);
			rec_nl(&r, m);
			rec_kv(&r, "Node", "%s", n->node);
			rec_kv(&r, "Addr", "%s", cmd_str_or(n->addr, n->node));
			if (n->ntasks)
				rec_kv(&r, "Ranks", "%" PRIu32 "-%" PRIu32,
				       n->first_rank,
				       n->first_rank + n->ntasks - 1);
			else
				rec_kv(&r, "Ranks", "None");
			rec_kv(&r, "GpuIdx", "%s", g.s ? g.s : "");
			rec_kv(&r, "NodeState", "%s",
			       n->ended ? mer_job_state_name(n->end_state)
					: mer_job_state_name(s->state));
			strbuf_free(&g);
		}
	argv_str(d, &argv);
	rec_nl(&r, m);
	rec_kv(&r, "Argv", "%s", argv.s ? argv.s : "");
	strbuf_free(&argv);
	rec_print(&r);
	if (!m->oneliner)
		putchar('\n');
}

static const Meridian__JobRecord *reply_job(const Meridian__JobInfoReply *r,
					    uint32_t id)
{
	for (size_t i = 0; i < r->n_jobs; i++)
		if (r->jobs[i]->job_id == id)
			return r->jobs[i];
	return NULL;
}

/* JOB_INFO for ids (every job when n is 0), finished ones included.
 * Errors are printed ("cannot show WHAT: ..."); returns the exit code. */
static int fetch_jobs(struct mctl *m, uint32_t *ids, size_t n, const char *what,
		      Meridian__JobInfoReply **reply)
{
	Meridian__JobInfoRequest req = MERIDIAN__JOB_INFO_REQUEST__INIT;
	struct mer_error err = {{0}};
	int rc;

	req.job_ids = ids;
	req.n_job_ids = n;
	req.all_states = true;
	/* cmd_connect says itself what failed */
	rc = cmd_connect(&m->c);
	if (rc)
		return rc;
	rc = cmd_job_info(&m->c, &req, reply, &err);
	if (rc == MER_EXIT_ERROR) {
		if (errno == ENOENT && n)
			cmd_error(&m->c, "Invalid job id specified");
		else
			cmd_error(&m->c, "cannot show %s: %s", what, err.text);
	}
	return rc;
}

/* show step [JOB[.STEP]...]: the steps asked for, in that order, else
 * every step of every job mctld keeps. */
/* {"meridian_version": 1, "now": T, KEY: items} on stdout. */
static void print_json_doc(const char *key, json_t *items, int64_t now)
{
	json_t *doc = json_object();

	json_object_set_new(doc, "meridian_version", json_integer(1));
	json_object_set_new(doc, "now", json_integer((json_int_t)now));
	json_object_set_new(doc, key, items);
	(void)cmd_json_print(doc, stdout); /* main checks the flush */
	json_decref(doc);
}

/* A step: its record, or (--json) its object into steps. */
static void show_step(const struct mctl *m, json_t *steps,
		      const Meridian__JobRecord *j,
		      const Meridian__StepRecord *st, int64_t now)
{
	if (steps)
		json_array_append_new(steps, cmd_step_json(j, st));
	else
		print_step(m, j, st, now);
}

static int do_show_step(struct mctl *m, int argc, char **argv)
{
	Meridian__JobInfoReply *reply = NULL;
	json_t *steps = NULL;
	struct cmd_step_ref *refs = NULL;
	uint32_t *ids = NULL;
	size_t nrefs = 0, i, k;
	int64_t now;
	int rc, a;

	for (a = 1; a < argc; a++) {
		char *copy, *save = NULL, *tok;
		size_t before = nrefs;
		bool bad = false;

		if (strcmp(argv[a], "--json") == 0) {
			m->json = true;
			continue;
		}
		copy = xstrdup(argv[a]);

		for (tok = strtok_r(copy, ",", &save); tok && !bad;
		     tok = strtok_r(NULL, ",", &save)) {
			refs = xrealloc(refs, (nrefs + 1) * sizeof(*refs));
			bad = !cmd_parse_step_ref(tok, &refs[nrefs++]);
		}
		if (bad || nrefs == before) {
			rc = cmd_usage_error(&m->c,
					     "Invalid job step id: %s "
					     "(expected JOB.STEP such as 12.0, "
					     "or JOB for all of a job's "
					     "steps)",
					     bad ? argv[a] : "\"\"");
			free(copy);
			free(refs);
			return rc;
		}
		free(copy);
	}
	ids = xcalloc(nrefs + 1, sizeof(*ids));
	for (i = 0; i < nrefs; i++)
		ids[i] = refs[i].job_id;
	rc = fetch_jobs(m, ids, nrefs, "steps", &reply);
	if (rc)
		goto out;
	now = reply->now ? reply->now : mer_now();
	if (m->json)
		steps = json_array();
	for (i = 0; i < reply->n_jobs; i++)
		sort_steps(reply->jobs[i]);
	if (!nrefs) {
		size_t shown = 0;

		for (i = 0; i < reply->n_jobs; i++)
			for (k = 0; k < reply->jobs[i]->n_steps; k++, shown++)
				show_step(m, steps, reply->jobs[i],
					  reply->jobs[i]->steps[k], now);
		if (!shown && !steps)
			printf("No job steps in the system\n");
		goto out;
	}
	for (i = 0; i < nrefs; i++) {
		const Meridian__JobRecord *j = reply_job(reply, refs[i].job_id);
		bool found = false;

		if (!j) {
			fflush(stdout);
			cmd_error(&m->c, "Invalid job id specified: %" PRIu32,
				  refs[i].job_id);
			rc = MER_EXIT_ERROR;
			continue;
		}
		for (k = 0; k < j->n_steps; k++)
			if (refs[i].any_step ||
			    j->steps[k]->step_id == refs[i].step_id) {
				show_step(m, steps, j, j->steps[k], now);
				found = true;
			}
		if (found)
			continue;
		if (refs[i].any_step) {
			if (!steps)
				printf("Job %" PRIu32 " has no steps\n",
				       j->job_id);
			continue;
		}
		fflush(stdout);
		cmd_error(&m->c, "Job step %" PRIu32 ".%" PRIu32 " not found",
			  refs[i].job_id, refs[i].step_id);
		rc = MER_EXIT_ERROR;
	}
out:
	if (steps)
		print_json_doc("steps", steps,
			       reply && reply->now ? reply->now : mer_now());
	if (reply)
		protobuf_c_message_free_unpacked(&reply->base, NULL);
	free(ids);
	free(refs);
	return rc;
}

/* --- show job -------------------------------------------------------- */

static void print_job(const struct mctl *m, const Meridian__JobRecord *j,
		      int64_t now)
{
	static const Meridian__JobDesc empty = MERIDIAN__JOB_DESC__INIT;
	static const char *const comm_names[] = {"", "ring", "pipeline",
						 "none"};
	const Meridian__JobDesc *d = j->desc ? j->desc : &empty;
	struct rec r = {{0}, true};
	char a[256], b[256], gres[128];
	uint32_t limit = j->time_limit ? j->time_limit : d->time_limit;
	uint32_t nodes = cmd_job_nodes(j), cpus = cmd_job_cpus(j), gpus = 0;
	uint32_t tasks = j->ntasks ? j->ntasks : d->ntasks;
	bool per_node, running = j->state == MERIDIAN__JOB_STATE__JOB_RUNNING;
	char *out, *err, *in;
	size_t i;

	rec_kv(&r, "JobId", "%" PRIu32, j->job_id);
	if (j->array_job_id) {
		struct strbuf t = {0};

		strbuf_add(&t, "", 0);
		cmd_array_tasks_str(j, &t);
		rec_kv(&r, "ArrayJobId", "%" PRIu32, j->array_job_id);
		rec_kv(&r, "ArrayTaskId", "%s", t.s);
		strbuf_free(&t);
	}
	rec_kv(&r, "JobName", "%s", d->name);
	rec_nl(&r, m);
	rec_kv(&r, "UserId", "%s(%" PRIu32 ")", job_user_name(j, a, sizeof(a)),
	       j->user_id);
	rec_kv(&r, "GroupId", "%s(%" PRIu32 ")", group_name(j->group_id),
	       j->group_id);
	rec_nl(&r, m);
	rec_kv(&r, "Priority", "%" PRIu32, j->priority);
	rec_kv(&r, "Account", "%s", cmd_str_or(d->account, "(null)"));
	rec_kv(&r, "QOS", "%s", cmd_str_or(d->qos, "(null)"));
	rec_nl(&r, m);
	cmd_format_exit_code(j->exit_code, j->term_signal, a, sizeof(a));
	rec_kv(&r, "JobState", "%s", mer_job_state_name(j->state));
	rec_kv(&r, "Reason", "%s", cmd_str_or(j->reason, "None"));
	{
		struct strbuf t = {0};

		job_deps_text(j, &t);
		rec_kv(&r, "Dependency", "%s", t.s ? t.s : "(null)");
		strbuf_free(&t);
	}
	rec_kv(&r, "ExitCode", "%s", a);
	rec_nl(&r, m);
	cmd_format_secs(cmd_job_run_secs(j, now), true, a, sizeof(a));
	format_time_minutes(limit, b, sizeof(b));
	rec_kv(&r, "RunTime", "%s", a);
	rec_kv(&r, "TimeLimit", "%s", b);
	rec_nl(&r, m);
	time_str(j->submit_time, a, sizeof(a));
	rec_kv(&r, "SubmitTime", "%s", a);
	time_str(j->start_time, a, sizeof(a));
	rec_kv(&r, "StartTime", "%s", a);
	/* scontrol shows a running job's end as when its limit runs out */
	if (running && j->start_time && limit)
		time_str(j->start_time + (int64_t)limit * 60, a, sizeof(a));
	else
		time_str(running ? 0 : j->end_time, a, sizeof(a));
	rec_kv(&r, "EndTime", "%s", a);
	rec_nl(&r, m);
	if (d->comment && *d->comment) {
		rec_kv(&r, "Comment", "%s", d->comment);
		rec_nl(&r, m);
	}
	if (d->begin_time || d->deadline) {
		if (d->begin_time) {
			time_str(d->begin_time, a, sizeof(a));
			rec_kv(&r, "EligibleTime", "%s", a);
		}
		if (d->deadline) {
			time_str(d->deadline, a, sizeof(a));
			rec_kv(&r, "Deadline", "%s", a);
		}
		rec_nl(&r, m);
	}
	rec_kv(&r, "Partition", "%s", cmd_str_or(d->partition, "(null)"));
	rec_kv(&r, "SubmitHost", "%s", cmd_str_or(j->submit_host, "(null)"));
	rec_nl(&r, m);
	rec_kv(&r, "NodeList", "%s", cmd_str_or(j->nodes, "(null)"));
	rec_kv(&r, "BatchHost", "%s", cmd_str_or(j->batch_host, "(null)"));
	rec_nl(&r, m);
	if (d->max_nodes && j->state == MERIDIAN__JOB_STATE__JOB_PENDING)
		rec_kv(&r, "NumNodes", "%" PRIu32 "-%" PRIu32, nodes,
		       d->max_nodes);
	else
		rec_kv(&r, "NumNodes", "%" PRIu32, nodes);
	rec_kv(&r, "NumCPUs", "%" PRIu32, cpus);
	rec_kv(&r, "NumTasks", "%" PRIu32, tasks ? tasks : nodes);
	rec_kv(&r, "CPUs/Task", "%" PRIu32,
	       d->cpus_per_task ? d->cpus_per_task : 1);
	rec_nl(&r, m);
	rec_kv(&r, "Requeue", "%d",
	       d->requeue == MERIDIAN__REQUEUE_POLICY__REQUEUE_NO ? 0 : 1);
	rec_kv(&r, "Restarts", "%" PRIu32, j->restart_count);
	if (d->exclusive)
		rec_kv(&r, "OverSubscribe", "NO");
	if (d->nodelist && *d->nodelist)
		rec_kv(&r, "ReqNodeList", "%s", d->nodelist);
	if (d->exclude && *d->exclude)
		rec_kv(&r, "ExcNodeList", "%s", d->exclude);
	if (d->constraint && *d->constraint)
		rec_kv(&r, "Features", "%s", d->constraint);
	if (d->ntasks_per_node)
		rec_kv(&r, "NtasksPerNode", "%" PRIu32, d->ntasks_per_node);
	rec_nl(&r, m);
	if (d->mem_mb)
		rec_kv(&r, "MinMemoryNode", "%" PRIu64 "M", d->mem_mb);
	else if (d->mem_per_cpu)
		rec_kv(&r, "MinMemoryCPU", "%" PRIu64 "M", d->mem_per_cpu);
	else
		rec_kv(&r, "MinMemoryNode", "0");
	cmd_job_gres(j, gres, sizeof(gres), &per_node);
	for (i = 0; i < j->n_alloc; i++)
		gpus += (uint32_t)j->alloc[i]->n_gpus;
	if (!gpus)
		gpus = per_node ? d->gpus_per_node * nodes : d->gpus;
	{
		struct strbuf t = {0};

		strbuf_addf(&t, "cpu=%" PRIu32, cpus);
		if (d->mem_mb)
			strbuf_addf(&t, ",mem=%" PRIu64 "M",
				    d->mem_mb * (uint64_t)nodes);
		strbuf_addf(&t, ",node=%" PRIu32, nodes);
		if (gpus)
			strbuf_addf(&t, ",gres/gpu=%" PRIu32, gpus);
		rec_kv(&r, "TRES", "%s", t.s);
		strbuf_free(&t);
	}
	if (gres[0]) {
		rec_nl(&r, m);
		rec_kv(&r, per_node ? "TresPerNode" : "TresPerJob", "%s", gres);
	}
	if (d->max_price) {
		cmd_format_price(d->max_price, true, a, sizeof(a));
		rec_kv(&r, "MaxPrice", "%s", a);
	}
	/* how its ranks talk (--comm, --comm-bytes, --min-tier), when said */
	if (d->comm || d->comm_bytes || (d->min_tier && *d->min_tier))
		rec_nl(&r, m);
	if (d->comm == MERIDIAN__COMM_PATTERN__COMM_PIPELINE && d->comm_stages)
		rec_kv(&r, "Comm", "pipeline:%" PRIu32, d->comm_stages);
	else if (d->comm > 0 && d->comm < 4) /* CommPattern's numbers */
		rec_kv(&r, "Comm", "%s", comm_names[d->comm]);
	if (d->comm_bytes) {
		char size[32];

		cmd_format_size(d->comm_bytes, size, sizeof(size));
		rec_kv(&r, "CommBytes", "%s", size);
	}
	if (d->min_tier && *d->min_tier)
		rec_kv(&r, "MinTier", "%s", d->min_tier);
	/* where it may run (--region, --country), when said */
	if ((d->regions && *d->regions) || (d->countries && *d->countries))
		rec_nl(&r, m);
	if (d->regions && *d->regions)
		rec_kv(&r, "Regions", "%s", d->regions);
	if (d->countries && *d->countries)
		rec_kv(&r, "Countries", "%s", d->countries);
	if (m->details) {
		for (i = 0; i < j->n_alloc; i++) {
			const Meridian__JobNodeAlloc *al = j->alloc[i];
			struct strbuf g = {0};
			size_t k;

			for (k = 0; k < al->n_gpus; k++)
				strbuf_addf(&g, "%s%" PRIu32, k ? "," : "",
					    al->gpus[k]);
			rec_nl(&r, m);
			rec_kv(&r, "Nodes", "%s", al->node);
			rec_kv(&r, "CPUs", "%" PRIu32, al->cpus);
			rec_kv(&r, "Mem", "%" PRIu64, al->mem_mb);
			rec_kv(&r, "GpuIdx", "%s", g.s ? g.s : "");
			rec_kv(&r, "Tasks", "%" PRIu32, al->ntasks);
			strbuf_free(&g);
		}
	}
	rec_nl(&r, m);
	rec_kv(&r, "WorkDir", "%s", d->work_dir);
	out = cmd_expand_std_path(d->std_out,
				  j->array_job_id ? IOPATH_DEFAULT_ARRAY
						  : IOPATH_DEFAULT_OUTPUT,
				  j);
	err = cmd_expand_std_path(d->std_err, out, j);
	in = cmd_expand_std_path(d->std_in, "/dev/null", j);
	rec_nl(&r, m);
	rec_kv(&r, "StdErr", "%s", err);
	rec_nl(&r, m);
	rec_kv(&r, "StdIn", "%s", in);
	rec_nl(&r, m);
	rec_kv(&r, "StdOut", "%s", out);
	free(out);
	free(err);
	free(in);
	if (d->export_mode && *d->export_mode) {
		rec_nl(&r, m);
		rec_kv(&r, "Export", "%s", d->export_mode);
	}
	/* a line per step (sorted by the caller); show step has the rest */
	for (i = 0; i < j->n_steps; i++) {
		const Meridian__StepRecord *s = j->steps[i];

		rec_nl(&r, m);
		rec_kv(&r, "Step", "%" PRIu32 ".%" PRIu32, j->job_id,
		       s->step_id);
		rec_kv(&r, "State", "%s", mer_job_state_name(s->state));
		cmd_step_exit_str(s, a, sizeof(a));
		rec_kv(&r, "ExitCode", "%s", a);
		failed_rank_str(s->failed_rank, a, sizeof(a));
		rec_kv(&r, "FailedRank", "%s", a);
		rec_kv(&r, "Reason", "%s", cmd_str_or(s->reason, "None"));
	}
	rec_print(&r);
	/* scontrol ends every record with an empty line */
	if (!m->oneliner)
		putchar('\n');
}

static void print_job(const struct mctl *m, const Meridian__JobRecord *j,
		      int64_t now);

/* A job: its record, or (--json) its object into jobs. */
static void show_job(const struct mctl *m, json_t *jobs,
		     const Meridian__JobRecord *j, int64_t now)
{
	if (jobs)
		json_array_append_new(jobs, cmd_job_json(j, now));
	else
		print_job(m, j, now);
}

static int do_show_job(struct mctl *m, int argc, char **argv)
{
	Meridian__JobInfoReply *reply = NULL;
	json_t *jobs = NULL;
	struct mer_error err = {{0}};
	uint32_t *ids = NULL;
	size_t nids = 0, i;
	int rc, k;

	for (k = 1; k < argc; k++) {
		/* "show job 12 --json": options stop at the command */
		if (strcmp(argv[k], "--json") == 0) {
			m->json = true;
			continue;
		}
		if (cmd_parse_job_ids(argv[k], &ids, &nids, &err))
			return cmd_usage_error(&m->c, "%s", err.text);
	}
	rc = fetch_jobs(m, ids, nids, "jobs", &reply);
	if (rc)
		goto out;
	if (m->json)
		jobs = json_array();
	for (i = 0; i < reply->n_jobs; i++)
		sort_steps(reply->jobs[i]);
	if (nids) {
		/* Every id asked for must be there, in the order asked. */
		for (k = 0; k < (int)nids; k++) {
			const Meridian__JobRecord *j = NULL;

			for (i = 0; i < reply->n_jobs; i++)
				if (reply->jobs[i]->job_id == ids[k])
					j = reply->jobs[i];
			if (!j) {
				fflush(stdout);
				if (nids == 1)
					cmd_error(&m->c,
						  "Invalid job id specified");
				else
					cmd_error(&m->c,
						  "Invalid job id specified: "
						  "%" PRIu32,
						  ids[k]);
				rc = MER_EXIT_ERROR;
				continue;
			}
			show_job(m, jobs, j,
				 reply->now ? reply->now : mer_now());
		}
	} else if (!reply->n_jobs && !jobs) {
		printf("No jobs in the system\n");
	} else {
		for (i = 0; i < reply->n_jobs; i++)
			show_job(m, jobs, reply->jobs[i],
				 reply->now ? reply->now : mer_now());
	}
out:
	/* with --json the jobs found are printed even when one was not */
	if (jobs)
		print_json_doc("jobs", jobs,
			       reply && reply->now ? reply->now : mer_now());
	if (reply)
		protobuf_c_message_free_unpacked(&reply->base, NULL);
	free(ids);
	return rc;
}

/* --- show node / partition ------------------------------------------- */

static int node_info(struct mctl *m, Meridian__NodeInfoReply **reply)
{
	Meridian__NodeInfoRequest req = MERIDIAN__NODE_INFO_REQUEST__INIT;
	struct mer_error err = {{0}};
	int rc;

	*reply = NULL;
	rc = cmd_connect(&m->c);
	if (!rc)
		rc = cmd_node_info(&m->c, &req, reply, &err);
	if (rc == MER_EXIT_ERROR)
		cmd_error(&m->c, "cannot read nodes: %s", err.text);
	return rc;
}

/*
 * A node's rate to or from the controller, without a space as Key=Value
 * wants it: "812Mbit/s", "1.6Gbit/s"; None for 0 (not known).  The same
 * steps as mnodes --links, which puts a space before the unit.
 */
static void rate_str(uint64_t bps, char *buf, size_t n)
{
	cmd_format_rate((double)bps, "", "None", buf, n);
}

/* The GPUs a GPU reaches over NVLink: "NvLink=1:25G,3:50G" (GB/s one
 * way, "?" when not known), "NvLink=None" without any. */
static void print_nvlink(struct rec *r, const Meridian__Gpu *g)
{
	char buf[1024];
	size_t len = 0;

	buf[0] = '\0';
	for (size_t k = 0; k < g->n_peers && len < sizeof(buf) - 32; k++) {
		const Meridian__GpuPeer *p = g->peers[k];

		if (p->link != MERIDIAN__GPU_LINK_KIND__GPU_LINK_NVLINK)
			continue;
		if (p->bandwidth_mbs)
			len += (size_t)snprintf(
				buf + len, sizeof(buf) - len,
				"%s%" PRIu32 ":%" PRIu32 "G", len ? "," : "",
				p->gpu, (p->bandwidth_mbs + 500) / 1000);
		else
			len += (size_t)snprintf(buf + len, sizeof(buf) - len,
						"%s%" PRIu32 ":?",
						len ? "," : "", p->gpu);
	}
	rec_kv(r, "NvLink", "%s", len ? buf : "None");
}

static void print_node(const struct mctl *m, const Meridian__NodeInfo *n)
{
	struct rec r = {{0}, true};
	struct strbuf parts = {0};
	char a[128];
	size_t i;

	rec_kv(&r, "NodeName", "%s", n->name);
	rec_kv(&r, "NodeAddr", "%s", cmd_str_or(n->addr, n->name));
	rec_kv(&r, "Version", "%s", cmd_str_or(n->version, "N/A"));
	rec_nl(&r, m);
	rec_kv(&r, "State", "%s", cmd_node_state(n));
	rec_kv(&r, "CPUTot", "%" PRIu32, n->cpus);
	rec_kv(&r, "CPUAlloc", "%" PRIu32, n->cpus_alloc);
	rec_kv(&r, "RealMemory", "%" PRIu64, n->real_memory);
	rec_kv(&r, "AllocMem", "%" PRIu64, n->mem_alloc);
	rec_nl(&r, m);
	rec_kv(&r, "Gres", "%s", cmd_str_or(n->gres, "(null)"));
	rec_kv(&r, "GpuTot", "%zu", n->n_gpus);
	rec_kv(&r, "GpuAlloc", "%" PRIu32, n->gpus_alloc);
	rec_nl(&r, m);
	cmd_format_price(n->gpu_hour_price, true, a, sizeof(a));
	rec_kv(&r, "Region", "%s", cmd_str_or(n->region, "(null)"));
	rec_kv(&r, "Price", "%s", a);
	rec_kv(&r, "AvailableFeatures", "%s",
	       cmd_str_or(n->features, "(null)"));
	rec_nl(&r, m);
	for (i = 0; i < n->n_partitions; i++)
		strbuf_addf(&parts, "%s%s", i ? "," : "", n->partitions[i]);
	rec_kv(&r, "Partitions", "%s", parts.s ? parts.s : "(null)");
	strbuf_free(&parts);
	if (n->n_job_ids) {
		struct strbuf jobs = {0};

		for (i = 0; i < n->n_job_ids; i++)
			strbuf_addf(&jobs, "%s%" PRIu32, i ? "," : "",
				    n->job_ids[i]);
		rec_kv(&r, "JobIds", "%s", jobs.s);
		strbuf_free(&jobs);
	}
	rec_nl(&r, m);
	format_timestamp(n->boot_time, a, sizeof(a));
	rec_kv(&r, "BootTime", "%s", a);
	format_timestamp(n->last_seen, a, sizeof(a));
	rec_kv(&r, "LastSeen", "%s", a);
	rec_nl(&r, m);
	rec_kv(&r, "Tier", "%s", cmd_str_or(n->tier, "None"));
	rate_str(n->up_bps, a, sizeof(a));
	rec_kv(&r, "Up", "%s", a);
	rate_str(n->down_bps, a, sizeof(a));
	rec_kv(&r, "Down", "%s", a);
	rec_kv(&r, "RatesFrom", "%s",
	       cmd_str_or(cmd_node_rates_from(n), "None"));
	if (n->last_probe)
		format_timestamp(n->last_probe, a, sizeof(a));
	else
		snprintf(a, sizeof(a), "None");
	rec_kv(&r, "LastProbe", "%s", a);
	rec_nl(&r, m);
	if (n->reason && *n->reason) {
		format_timestamp(n->reason_time, a, sizeof(a));
		rec_kv(&r, "Reason", "%s [%s@%s]", n->reason,
		       cmd_str_or(n->reason_user, "Unknown"), a);
	} else {
		rec_kv(&r, "Reason", "None");
	}
	if (m->details)
		for (i = 0; i < n->n_gpus; i++) {
			const Meridian__Gpu *g = n->gpus[i];

			rec_nl(&r, m);
			rec_kv(&r, "Gpu", "%" PRIu32, g->index);
			rec_kv(&r, "Model", "%s",
			       cmd_str_or(g->model, "(null)"));
			rec_kv(&r, "PciBusId", "%s",
			       cmd_str_or(g->pci_bus_id, "N/A"));
			rec_kv(&r, "Cpus", "%s", cmd_str_or(g->cpuset, "N/A"));
			rec_kv(&r, "Numa", "%" PRId32, g->numa_node);
			rec_kv(&r, "Memory", "%" PRIu64 "M", g->memory_mb);
			print_nvlink(&r, g);
		}
	rec_print(&r);
	if (!m->oneliner)
		putchar('\n');
}

/* The --json document of show node: {"meridian_version": 1, "now": T,
 * "nodes": [...]}, printed when the caller is done adding nodes. */
static void print_nodes_json(json_t *nodes, int64_t now)
{
	json_t *doc = json_object();

	json_object_set_new(doc, "meridian_version", json_integer(1));
	json_object_set_new(doc, "now", json_integer((json_int_t)now));
	json_object_set(doc, "nodes", nodes);
	/* a failed write shows when main flushes stdout */
	(void)json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(12));
	putchar('\n');
	json_decref(doc);
}

static int do_show_node(struct mctl *m, int argc, char **argv)
{
	Meridian__NodeInfoReply *reply = NULL;
	struct mer_error err = {{0}};
	char **names = NULL;
	json_t *jnodes = NULL;
	size_t nnames = 0, i, k;
	int rc, a;

	for (a = 1; a < argc; a++) {
		char **more;
		size_t nmore;

		/* "show node n1 --json": options stop at the command */
		if (strcmp(argv[a], "--json") == 0) {
			m->json = true;
			continue;
		}
		if (hostlist_expand(argv[a], &more, &nmore, &err)) {
			hostlist_free(names, nnames);
			return cmd_usage_error(&m->c, "%s: %s", argv[a],
					       err.text);
		}
		names = xrealloc(names, (nnames + nmore + 1) * sizeof(*names));
		for (i = 0; i < nmore; i++)
			names[nnames++] = xstrdup(more[i]);
		hostlist_free(more, nmore);
	}
	rc = node_info(m, &reply);
	if (rc)
		goto out;
	if (m->json)
		jnodes = json_array();
	if (!nnames) {
		if (!reply->n_nodes && !jnodes)
			printf("No nodes in the system\n");
		for (i = 0; i < reply->n_nodes; i++)
			if (jnodes)
				json_array_append_new(
					jnodes, cmd_node_json(reply->nodes[i]));
			else
				print_node(m, reply->nodes[i]);
		goto out;
	}
	for (k = 0; k < nnames; k++) {
		for (i = 0; i < reply->n_nodes; i++)
			if (strcmp(reply->nodes[i]->name, names[k]) == 0)
				break;
		if (i == reply->n_nodes) {
			fflush(stdout);
			cmd_error(&m->c, "Node %s not found", names[k]);
			rc = MER_EXIT_ERROR;
			continue;
		}
		if (jnodes)
			json_array_append_new(jnodes,
					      cmd_node_json(reply->nodes[i]));
		else
			print_node(m, reply->nodes[i]);
	}
out:
	/* with --json the nodes found are printed even when one was not */
	if (jnodes) {
		print_nodes_json(jnodes, reply->now ? reply->now : mer_now());
		json_decref(jnodes);
	}
	hostlist_free(names, nnames);
	if (reply)
		protobuf_c_message_free_unpacked(&reply->base, NULL);
	return rc;
}

static void print_partition(const struct mctl *m,
			    const Meridian__PartitionInfo *p,
			    const Meridian__NodeInfoReply *reply)
{
	struct rec r = {{0}, true};
	uint64_t nodes = 0, cpus = 0, gpus = 0, mem = 0;
	char limit[32];
	size_t i, k;

	for (i = 0; i < reply->n_nodes; i++) {
		const Meridian__NodeInfo *n = reply->nodes[i];

		for (k = 0; k < n->n_partitions; k++)
			if (strcmp(n->partitions[k], p->name) == 0)
				break;
		if (k == n->n_partitions)
			continue;
		nodes++;
		cpus += n->cpus;
		gpus += n->n_gpus;
		mem += n->real_memory;
	}
	format_time_minutes(p->max_time, limit, sizeof(limit));
	rec_kv(&r, "PartitionName", "%s", p->name);
	rec_nl(&r, m);
	rec_kv(&r, "Default", "%s", p->is_default ? "YES" : "NO");
	rec_kv(&r, "State", "%s", p->up ? "UP" : "DOWN");
	rec_kv(&r, "MaxTime", "%s", limit);
	rec_nl(&r, m);
	rec_kv(&r, "Nodes", "%s", cmd_str_or(p->nodes, "(null)"));
	rec_nl(&r, m);
	rec_kv(&r, "TotalNodes", "%" PRIu64, nodes);
	rec_kv(&r, "TotalCPUs", "%" PRIu64, cpus);
	rec_kv(&r, "TotalGPUs", "%" PRIu64, gpus);
	rec_kv(&r, "TotalMemory", "%" PRIu64, mem);
	rec_print(&r);
	if (!m->oneliner)
		putchar('\n');
}

static int do_show_partition(struct mctl *m, int argc, char **argv)
{
	Meridian__NodeInfoReply *reply = NULL;
	size_t i;
	int rc, a;

	rc = node_info(m, &reply);
	if (rc)
		return rc;
	if (argc < 2) {
		if (!reply->n_partitions)
			printf("No partitions in the system\n");
		for (i = 0; i < reply->n_partitions; i++)
			print_partition(m, reply->partitions[i], reply);
	}
	for (a = 1; a < argc; a++) {
		for (i = 0; i < reply->n_partitions; i++)
			if (strcmp(reply->partitions[i]->name, argv[a]) == 0)
				break;
		if (i == reply->n_partitions) {
			fflush(stdout);
			cmd_error(&m->c, "Partition %s not found", argv[a]);
			rc = MER_EXIT_ERROR;
			continue;
		}
		print_partition(m, reply->partitions[i], reply);
	}
	protobuf_c_message_free_unpacked(&reply->base, NULL);
	return rc;
}

/* "show hostnames n[1-3]": one name a line, as job scripts use it. */
static int do_show_hostnames(struct mctl *m, int argc, char **argv)
{
	const char *expr = argc > 1 ? argv[1] : getenv("SLURM_JOB_NODELIST");
	struct mer_error err = {{0}};
	char **names;
	size_t n, i;

	if (!expr)
		expr = getenv("MERIDIAN_JOB_NODELIST");
	if (!expr)
		return cmd_usage_error(&m->c, "show hostnames needs a host "
					      "list such as n[1-4]");
	if (hostlist_expand(expr, &names, &n, &err))
		return cmd_usage_error(&m->c, "%s: %s", expr, err.text);
	for (i = 0; i < n; i++)
		printf("%s\n", names[i]);
	hostlist_free(names, n);
	return MER_EXIT_OK;
}

/* "show hostlist n1,n2,n3": the compressed form "n[1-3]". */
static int do_show_hostlist(struct mctl *m, int argc, char **argv)
{
	struct mer_error err = {{0}};
	char **names, *list;
	size_t n;

	if (argc < 2)
		return cmd_usage_error(&m->c, "show hostlist needs names such "
					      "as n1,n2,n3");
	if (hostlist_expand(argv[1], &names, &n, &err))
		return cmd_usage_error(&m->c, "%s: %s", argv[1], err.text);
	list = hostlist_compress(names, n);
	printf("%s\n", list);
	free(list);
	hostlist_free(names, n);
	return MER_EXIT_OK;
}

static const struct mctl_verb show_verbs[] = {
	{"job", do_show_job},
	{"jobs", do_show_job},
	{"step", do_show_step},
	{"steps", do_show_step},
	{"node", do_show_node},
	{"nodes", do_show_node},
	{"partition", do_show_partition},
	{"partitions", do_show_partition},
	{"hostnames", do_show_hostnames},
	{"hostlist", do_show_hostlist},
	{NULL, NULL},
};

static int do_show(struct mctl *m, int argc, char **argv)
{
	const struct mctl_verb *v;
	bool ambiguous;

	if (argc < 2)
		return cmd_usage_error(&m->c, "show needs what to show: job, "
					      "step, node, partition, "
					      "hostnames or hostlist");
	v = verb_lookup(show_verbs, argv[1], &ambiguous);
	if (!v)
		return cmd_usage_error(&m->c,
				       "%s entity for show: %s "
				       "(expected job, step, node, "
				       "partition, hostnames or hostlist)",
				       ambiguous ? "ambiguous" : "invalid",
				       argv[1]);
	if (m->json && v->fn != do_show_node && v->fn != do_show_job &&
	    v->fn != do_show_step)
		return cmd_usage_error(&m->c,
				       "--json: only show job, step and node "
				       "have a JSON form (mnodes --links "
				       "--json has the link matrix)");
	return v->fn(m, argc - 1, argv + 1);
}

/* --- update ---------------------------------------------------------- */

/* Strip the quotes a user may have kept around a value. */
static char *unquote(const char *v)
{
	size_t len = strlen(v);

	if (len >= 2 && (v[0] == '"' || v[0] == '\'') && v[len - 1] == v[0])
		return xstrndup(v + 1, len - 2);
	return xstrdup(v);
}

static const struct {
	const char *name;
	Meridian__NodeAction action;
	bool needs_reason;
} node_actions[] = {
	{"DRAIN", MERIDIAN__NODE_ACTION__NODE_ACTION_DRAIN, true},
	{"DOWN", MERIDIAN__NODE_ACTION__NODE_ACTION_DOWN, true},
	{"RESUME", MERIDIAN__NODE_ACTION__NODE_ACTION_RESUME, false},
	{"UNDRAIN", MERIDIAN__NODE_ACTION__NODE_ACTION_RESUME, false},
	{"IDLE", MERIDIAN__NODE_ACTION__NODE_ACTION_RESUME, false},
};

static int update_job(struct mctl *m, int argc, char **argv);

static int do_update(struct mctl *m, int argc, char **argv)
{
	Meridian__UpdateNodeRequest req = MERIDIAN__UPDATE_NODE_REQUEST__INIT;
	Meridian__UpdateNodeReply *reply = NULL;
	struct mer_error err = {{0}};
	char *nodes = NULL, *state = NULL, *reason = NULL;
	bool needs_reason = false;
	int a, rc = MER_EXIT_OK;
	size_t i;

	for (a = 1; a < argc; a++)
		if (strncasecmp(argv[a], "JobId=", 6) == 0)
			return update_job(m, argc, argv);
	for (a = 1; a < argc; a++) {
		const char *eq = strchr(argv[a], '=');
		size_t klen = eq ? (size_t)(eq - argv[a]) : strlen(argv[a]);
		char **slot;

		if (!eq || !eq[1]) {
			rc = cmd_usage_error(&m->c,
					     "bad update argument \"%s\" "
					     "(expected Key=Value)",
					     argv[a]);
			goto out;
		}
		if (klen == 8 && strncasecmp(argv[a], "NodeName", 8) == 0)
			slot = &nodes;
		else if (klen == 5 && strncasecmp(argv[a], "State", 5) == 0)
			slot = &state;
		else if (klen == 6 && strncasecmp(argv[a], "Reason", 6) == 0)
			slot = &reason;
		else {
			rc = cmd_usage_error(&m->c,
					     "Update of this parameter is not "
					     "supported: %s (expected "
					     "NodeName=, State=, Reason=)",
					     argv[a]);
			goto out;
		}
		free(*slot);
		*slot = unquote(eq + 1);
	}
	if (!nodes) {
		rc = cmd_usage_error(&m->c, "update needs NodeName=HOSTLIST "
					    "State=DRAIN|DOWN|RESUME "
					    "[Reason=TEXT]");
		goto out;
	}
	{
		char **names;
		size_t n;

		if (hostlist_expand(nodes, &names, &n, &err)) {
			rc = cmd_usage_error(&m->c, "NodeName=%s: %s", nodes,
					     err.text);
			goto out;
		}
		hostlist_free(names, n);
	}
	if (!state) {
		rc = cmd_usage_error(&m->c,
				     "update NodeName=%s needs State= "
				     "(DRAIN, DOWN or RESUME)",
				     nodes);
		goto out;
	}
	for (i = 0; i < sizeof(node_actions) / sizeof(node_actions[0]); i++)
		if (str_eq_nocase(state, node_actions[i].name))
			break;
	if (i == sizeof(node_actions) / sizeof(node_actions[0])) {
		rc = cmd_usage_error(&m->c,
				     "Invalid node state specified: %s "
				     "(expected DRAIN, DOWN, RESUME or "
				     "UNDRAIN)",
				     state);
		goto out;
	}
	needs_reason = node_actions[i].needs_reason;
	if (needs_reason && (!reason || !*reason)) {
		rc = cmd_usage_error(&m->c,
				     "You must specify a reason when DOWNING "
				     "or DRAINING a node (Reason=TEXT). "
				     "Request denied");
		goto out;
	}
	req.nodes = nodes;
	req.action = node_actions[i].action;
	req.reason = reason ? reason : (char *)"";

	rc = cmd_connect(&m->c);
	if (!rc)
		rc = cmd_call(&m->c, MERIDIAN__MSG_TYPE__MSG_UPDATE_NODE,
			      &req.base, (ProtobufCMessage **)&reply, &err);
	if (rc == MER_EXIT_ERROR)
		cmd_error(&m->c, "update NodeName=%s State=%s: %s", nodes,
			  state, err.text);
out:
	if (reply)
		protobuf_c_message_free_unpacked(&reply->base, NULL);
	free(nodes);
	free(state);
	free(reason);
	return rc;
}

/* --- hold / release, and update JobId= ------------------------------- */

/* Send req; each job's failure said.  Takes req->job_ids. */
static int job_update_send(struct mctl *m, Meridian__UpdateJobRequest *req,
			   const char *what)
{
	Meridian__JobActionReply *reply = NULL;
	struct mer_error err = {{0}};
	size_t i;
	int rc;

	rc = cmd_connect(&m->c);
	if (!rc)
		rc = cmd_call(&m->c, MERIDIAN__MSG_TYPE__MSG_UPDATE_JOB,
			      &req->base, (ProtobufCMessage **)&reply, &err);
	if (rc == MER_EXIT_ERROR)
		cmd_error(&m->c, "%s: %s", what, err.text);
	if (!rc)
		for (i = 0; i < reply->n_results; i++) {
			const Meridian__JobActionResult *r = reply->results[i];

			if (!r->code)
				continue;
			cmd_error(&m->c, "%s job %" PRIu32 ": %s", what,
				  r->job_id, cmd_job_result_text(r));
			rc = MER_EXIT_ERROR;
		}
	if (reply)
		protobuf_c_message_free_unpacked(&reply->base, NULL);
	free(req->job_ids);
	req->job_ids = NULL;
	return rc;
}

static int job_action(struct mctl *m, int argc, char **argv,
		      Meridian__JobAction action, const char *what)
{
	Meridian__UpdateJobRequest req = MERIDIAN__UPDATE_JOB_REQUEST__INIT;
	struct mer_error err = {{0}};
	uint32_t *ids = NULL;
	size_t nids = 0;

	for (int a = 1; a < argc; a++)
		if (cmd_parse_job_ids(argv[a], &ids, &nids, &err)) {
			free(ids);
			return cmd_usage_error(&m->c, "%s", err.text);
		}
	if (!nids)
		return cmd_usage_error(&m->c, "%s needs job ids", what);
	req.job_ids = ids;
	req.n_job_ids = nids;
	req.action = action;
	return job_update_send(m, &req, what);
}

/* update JobId=ID[,ID...] Priority=N Nice=N */
static int update_job(struct mctl *m, int argc, char **argv)
{
	Meridian__UpdateJobRequest req = MERIDIAN__UPDATE_JOB_REQUEST__INIT;
	struct mer_error err = {{0}};
	uint32_t *ids = NULL;
	size_t nids = 0;

	for (int a = 1; a < argc; a++) {
		const char *eq = strchr(argv[a], '=');
		size_t klen = eq ? (size_t)(eq - argv[a]) : 0;
		long long v;
		char *end;

		if (!eq || !eq[1]) {
			free(ids);
			return cmd_usage_error(&m->c,
					       "bad update argument \"%s\" "
					       "(expected Key=Value)",
					       argv[a]);
		}
		if (klen == 5 && strncasecmp(argv[a], "JobId", 5) == 0) {
			if (cmd_parse_job_ids(eq + 1, &ids, &nids, &err)) {
				free(ids);
				return cmd_usage_error(&m->c, "%s", err.text);
			}
			continue;
		}
		errno = 0;
		v = strtoll(eq + 1, &end, 10);
		if (klen == 8 && strncasecmp(argv[a], "Priority", 8) == 0 &&
		    !*end && !errno && v >= 1 && v <= 4294967294LL) {
			req.has_priority = true;
			req.priority = (uint32_t)v;
		} else if (klen == 4 && strncasecmp(argv[a], "Nice", 4) == 0 &&
			   !*end && !errno && v >= -2147483645LL &&
			   v <= 2147483645LL) {
			req.has_nice = true;
			req.nice = (int32_t)v;
		} else {
			free(ids);
			return cmd_usage_error(
				&m->c,
				"update %s: expected JobId=ID[,ID...] with "
				"Priority=N (1-4294967294) or Nice=N",
				argv[a]);
		}
	}
	if (!nids || (!req.has_priority && !req.has_nice)) {
		free(ids);
		return cmd_usage_error(&m->c, "update needs JobId=ID and "
					      "Priority=N or Nice=N");
	}
	req.job_ids = ids;
	req.n_job_ids = nids;
	return job_update_send(m, &req, "update");
}

static int do_hold(struct mctl *m, int argc, char **argv)
{
	return job_action(m, argc, argv, MERIDIAN__JOB_ACTION__JOB_ACTION_HOLD,
			  "hold");
}

static int do_release(struct mctl *m, int argc, char **argv)
{
	return job_action(m, argc, argv,
			  MERIDIAN__JOB_ACTION__JOB_ACTION_RELEASE, "release");
}

static int do_requeue(struct mctl *m, int argc, char **argv)
{
	return job_action(m, argc, argv,
			  MERIDIAN__JOB_ACTION__JOB_ACTION_REQUEUE, "requeue");
}

/* --- write batch_script ---------------------------------------------- */

static int do_write(struct mctl *m, int argc, char **argv)
{
	Meridian__JobScriptRequest req = MERIDIAN__JOB_SCRIPT_REQUEST__INIT;
	Meridian__JobScriptReply *reply = NULL;
	struct mer_error err = {{0}};
	uint32_t *ids = NULL;
	size_t nids = 0;
	char *path = NULL;
	int rc, fd;

	if (argc < 3 || !str_eq_nocase(argv[1], "batch_script") || argc > 4)
		return cmd_usage_error(&m->c, "usage: write batch_script JOBID "
					      "[FILE|-]");
	if (cmd_parse_job_ids(argv[2], &ids, &nids, &err) || nids != 1) {
		free(ids);
		return cmd_usage_error(&m->c, "write batch_script: %s",
				       nids > 1 ? "one job id only" : err.text);
	}
	req.job_id = ids[0];
	free(ids);
	rc = cmd_connect(&m->c);
	if (!rc)
		rc = cmd_call(&m->c, MERIDIAN__MSG_TYPE__MSG_JOB_SCRIPT,
			      &req.base, (ProtobufCMessage **)&reply, &err);
	if (rc == MER_EXIT_ERROR)
		cmd_error(&m->c, "job %" PRIu32 ": %s", req.job_id, err.text);
	if (rc)
		return rc;

	if (argc == 4 && strcmp(argv[3], "-") == 0) {
		if (write_all(STDOUT_FILENO, reply->script.data,
			      reply->script.len)) {
			cmd_error(&m->c, "writing the script: %s",
				  strerror(errno));
			rc = MER_EXIT_ERROR;
		}
		goto out;
	}
	path = argc == 4 ? xstrdup(argv[3])
			 : xasprintf("meridian-%" PRIu32 ".sh", req.job_id);
	/* Like scontrol: never overwrite a file that is there. */
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0) {
		cmd_error(&m->c, "%s: %s%s", path, strerror(errno),
			  errno == EEXIST ? " (give another FILE, or - for "
					    "stdout)"
					  : "");
		rc = MER_EXIT_ERROR;
		goto out;
	}
	if (write_all(fd, reply->script.data, reply->script.len) || close(fd)) {
		cmd_error(&m->c, "writing %s: %s", path, strerror(errno));
		rc = MER_EXIT_ERROR;
		goto out;
	}
	printf("batch script for job %" PRIu32 " written to %s\n", req.job_id,
	       path);
out:
	free(path);
	protobuf_c_message_free_unpacked(&reply->base, NULL);
	return rc;
}

/* --- ping, help, version --------------------------------------------- */

static int do_ping(struct mctl *m, int argc, char **argv)
{
	Meridian__PingRequest req = MERIDIAN__PING_REQUEST__INIT;
	Meridian__PingReply *reply = NULL;
	struct mer_error err = {{0}};
	char since[64];
	int rc;

	rc = cmd_connect(&m->c);
	if (rc)
		return rc;
	rc = cmd_call(&m->c, MERIDIAN__MSG_TYPE__MSG_PING, &req.base,
		      (ProtobufCMessage **)&reply, &err);
	if (rc == MER_EXIT_CONNECT) {
		printf("mctld at %s:%u is DOWN\n", m->c.conf->controller_host,
		       (unsigned)m->c.conf->controller_port);
		return rc;
	}
	if (rc) {
		cmd_error(&m->c, "ping: %s", err.text);
		return rc;
	}
	format_timestamp(reply->start_time, since, sizeof(since));
	printf("mctld at %s:%u is UP (cluster %s, version %s, up since %s, "
	       "%" PRIu32 " jobs, %" PRIu32 " nodes)\n",
	       m->c.conf->controller_host, (unsigned)m->c.conf->controller_port,
	       cmd_str_or(reply->cluster, "?"), cmd_str_or(reply->version, "?"),
	       since, reply->jobs, reply->nodes);
	protobuf_c_message_free_unpacked(&reply->base, NULL);
	return MER_EXIT_OK;
}

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: mctl [OPTIONS] COMMAND [ARGS]\n"
		"Look at and change the cluster, like scontrol.\n"
		"\n"
		"Commands:\n"
		"  show job [ID...]            jobs in Key=Value form "
		"(finished jobs\n"
		"                              are kept MinJobAge seconds)\n"
		"  show step [JOB[.STEP]...]   job steps (mrun): state, exit "
		"code, which\n"
		"                              rank failed and why\n"
		"  show node [HOSTLIST]        nodes, with the link probes' "
		"tier and rates\n"
		"                              (--json: as JSON, see "
		"mctl(1))\n"
		"  show partition [NAME...]    partitions\n"
		"  show hostnames [HOSTLIST]   one host name a line (default "
		"the job's)\n"
		"  show hostlist NAMES         compress n1,n2,n3 to n[1-3]\n"
		"  update NodeName=HOSTLIST State=DRAIN|DOWN Reason=TEXT\n"
		"  update NodeName=HOSTLIST State=RESUME\n"
		"  hold ID...                  keep pending jobs from "
		"starting\n"
		"  release ID...               let held jobs start\n"
		"  requeue ID...               run batch jobs again from the\n"
		"                              start (a running one is ended\n"
		"                              first)\n"
		"  write batch_script ID [FILE|-]\n"
		"                              save a job's script (default "
		"meridian-ID.sh,\n"
		"                              - for stdout)\n"
		"  ping                        is mctld up?\n"
		"  version, help\n"
		"Commands and show's entities may be shortened (\"sh j 12\").\n"
		"\n"
		"Options:\n"
		"  -o, --oneliner              each record on one line\n"
		"  -d, --details               also GPUs of nodes, the "
		"allocation of jobs\n"
		"      --json                  show job, step or node as one "
		"JSON\n"
		"                              document (also after them: "
		"mctl show\n"
		"                              job 12 --json)\n"
		"  -f, --config=FILE           meridian.conf to read (default "
		"$MERIDIAN_CONF,\n"
		"                              else %s/meridian.conf)\n"
		"      --help, --usage         this text\n"
		"  -V, --version               print the version\n"
		"\n"
		"Exit status: 0 ok, 1 refused, failed or not found, 2 bad "
		"usage,\n"
		"3 controller unreachable.\n",
		SYSCONFDIR);
}

static int do_help(struct mctl *m, int argc, char **argv)
{
	usage(stdout);
	return MER_EXIT_OK;
}

static int do_version(struct mctl *m, int argc, char **argv)
{
	return cmd_print_version(&m->c);
}

static const struct mctl_verb verbs[] = {
	{"show", do_show},	 {"update", do_update},
	{"hold", do_hold},	 {"release", do_release},
	{"write", do_write},	 {"ping", do_ping},
	{"requeue", do_requeue}, {"help", do_help},
	{"version", do_version}, {NULL, NULL},
};

/* Long options without a letter: past any char getopt returns. */
enum { OPT_JSON = 256 };

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"details", no_argument, NULL, 'd'},
		{"oneliner", no_argument, NULL, 'o'},
		{"json", no_argument, NULL, OPT_JSON},
		CMD_LONGOPT_CONFIG,
		CMD_LONGOPT_HELP,
		CMD_LONGOPT_USAGE,
		CMD_LONGOPT_VERSION,
		{NULL, 0, NULL, 0},
	};
	const struct mctl_verb *v;
	struct mctl m = {{0}};
	bool ambiguous;
	int ch, rc;

	cmd_init(&m.c, "mctl");
	opterr = 0;
	/* '+': options stop at the command, its arguments are its own */
	while ((ch = getopt_long(argc, argv, "+:df:oV", longopts, NULL)) !=
	       -1) {
		switch (ch) {
		case 'd':
			m.details = true;
			break;
		case 'f':
			m.c.conf_path = optarg;
			break;
		case 'o':
			m.oneliner = true;
			break;
		case OPT_JSON:
			m.json = true;
			break;
		case 'H':
		case 'U':
			usage(stdout);
			return MER_EXIT_OK;
		case 'V':
			return cmd_print_version(&m.c);
		default:
			return cmd_getopt_error(&m.c, ch, argv);
		}
	}
	if (optind >= argc)
		return cmd_usage_error(&m.c, "no command given (show, update, "
					     "hold, release, write, ping)");
	v = verb_lookup(verbs, argv[optind], &ambiguous);
	if (!v)
		return cmd_usage_error(&m.c, "%s command: %s",
				       ambiguous ? "ambiguous" : "invalid",
				       argv[optind]);
	if (m.json && v->fn != do_show)
		return cmd_usage_error(&m.c, "--json: only show job, step and "
					     "node have a JSON form");
	rc = v->fn(&m, argc - optind, argv + optind);
	if (fflush(stdout) != 0 && !rc) {
		cmd_error(&m.c, "writing output: %s", strerror(errno));
		rc = MER_EXIT_ERROR;
	}
	cmd_fini(&m.c);
	return rc;
}
