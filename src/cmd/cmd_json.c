/*
 * cmd_json.c - jobs, steps and nodes as JSON (mqueue, macct, mnodes --json,
 * mctl show job|step|node --json): one object each, its keys Slurm's
 * data_parser names where Slurm has one (job_id, job_state, state_reason,
 * node_count ...), so that a tool written for squeue --json finds what it looks
 * for.  Times are unix seconds (null: never), time limits minutes (null: none).
 * The document's "meridian_version" says which form this is; a key is
 * only ever added to it.
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "cmd_json.h"
#include "states.h"
#include "util.h"

static json_t *exit_json(int32_t code, int32_t sig)
{
	json_t *o = json_object();

	json_object_set_new(o, "return_code", json_integer(code));
	json_object_set_new(o, "signal", json_integer(sig));
	return o;
}

/* A string of the job's description (NULL without one). */
#define DSTR(d, field) ((d) ? (d)->field : NULL)

json_t *cmd_step_json(const Meridian__JobRecord *j,
		      const Meridian__StepRecord *s)
{
	json_t *o = json_object();
	char id[32];

	snprintf(id, sizeof(id), "%" PRIu32 ".%" PRIu32, j->job_id, s->step_id);
	json_object_set_new(o, "step_id", json_string(id));
	json_object_set_new(o, "job_id", json_integer(j->job_id));
	json_object_set_new(o, "step", json_integer(s->step_id));
	json_object_set_new(o, "state",
			    json_string(mer_job_state_name(s->state)));
	json_object_set_new(o, "nodes", json_str_or_null(s->nodelist));
	json_object_set_new(o, "node_count",
			    json_integer((json_int_t)s->n_nodes));
	json_object_set_new(o, "tasks", json_integer(s->ntasks));
	json_object_set_new(o, "start_time", json_time_or_null(s->start_time));
	json_object_set_new(o, "end_time", json_time_or_null(s->end_time));
	json_object_set_new(o, "exit_code",
			    exit_json(s->exit_code, s->term_signal));
	json_object_set_new(o, "failed_rank",
			    s->failed_rank >= 0 ? json_integer(s->failed_rank)
						: json_null());
	json_object_set_new(o, "reason", json_str_or_null(s->reason));
	json_object_set_new(o, "cpu_bind", json_str_or_null(s->cpu_bind));
	return o;
}

json_t *cmd_job_json(const Meridian__JobRecord *j, int64_t now)
{
	const Meridian__JobDesc *d = j->desc;
	json_t *o = json_object(), *steps = json_array();
	struct strbuf b = {0};

	json_object_set_new(o, "job_id", json_integer(j->job_id));
	cmd_job_id_str(j, &b);
	json_object_set_new(o, "job_id_string", json_string(b.s ? b.s : ""));
	strbuf_free(&b);
	if (j->array_job_id) {
		json_object_set_new(o, "array_job_id",
				    json_integer(j->array_job_id));
		if (j->array_job_id == j->job_id && j->array_pending.len) {
			cmd_array_tasks_str(j, &b);
			json_object_set_new(o, "array_task_string",
					    json_string(b.s ? b.s : ""));
			json_object_set_new(o, "array_task_id", json_null());
			strbuf_free(&b);
		} else {
			json_object_set_new(o, "array_task_id",
					    json_integer(j->array_task_id));
		}
	} else {
		json_object_set_new(o, "array_job_id", json_null());
		json_object_set_new(o, "array_task_id", json_null());
	}
	json_object_set_new(o, "name", json_str_or_null(DSTR(d, name)));
	json_object_set_new(o, "user_id", json_integer(j->user_id));
	json_object_set_new(o, "user_name", json_str_or_null(j->user_name));
	json_object_set_new(o, "group_id", json_integer(j->group_id));
	json_object_set_new(o, "account", json_str_or_null(DSTR(d, account)));
	json_object_set_new(o, "partition",
			    json_str_or_null(DSTR(d, partition)));
	json_object_set_new(o, "qos", json_str_or_null(DSTR(d, qos)));
	json_object_set_new(o, "job_state",
			    json_string(mer_job_state_name(j->state)));
	json_object_set_new(
		o, "state_reason",
		json_str_or_null(j->reason && strcmp(j->reason, "None")
					 ? j->reason
					 : NULL));
	json_object_set_new(o, "priority", json_integer(j->priority));
	json_object_set_new(o, "nice", json_integer(d ? d->nice : 0));
	json_object_set_new(o, "submit_time",
			    json_time_or_null(j->submit_time));
	json_object_set_new(o, "eligible_time",
			    json_time_or_null(d ? d->begin_time : 0));
	json_object_set_new(o, "start_time", json_time_or_null(j->start_time));
	json_object_set_new(o, "end_time", json_time_or_null(j->end_time));
	json_object_set_new(o, "deadline",
			    json_time_or_null(d ? d->deadline : 0));
	/* a pending job's: when the scheduler expects it (mqueue --start) */
	json_object_set_new(o, "expected_start",
			    json_time_or_null(j->expected_start));
	json_object_set_new(o, "run_time",
			    json_integer(cmd_job_run_secs(j, now)));
	json_object_set_new(o, "time_limit",
			    j->time_limit ? json_integer(j->time_limit)
					  : json_null());
	json_object_set_new(o, "node_count", json_integer(cmd_job_nodes(j)));
	json_object_set_new(o, "cpus", json_integer(cmd_job_cpus(j)));
	json_object_set_new(o, "tasks", json_integer(j->ntasks));
	json_object_set_new(o, "nodes", json_str_or_null(j->nodes));
	json_object_set_new(o, "batch_host", json_str_or_null(j->batch_host));
	json_object_set_new(o, "scheduled_nodes",
			    json_str_or_null(j->sched_nodes));
	json_object_set_new(o, "exit_code",
			    exit_json(j->exit_code, j->term_signal));
	json_object_set_new(o, "restart_cnt", json_integer(j->restart_count));
	json_object_set_new(o, "dependency",
			    json_str_or_null(DSTR(d, dependency)));
	json_object_set_new(o, "comment", json_str_or_null(DSTR(d, comment)));
	json_object_set_new(o, "current_working_directory",
			    json_str_or_null(DSTR(d, work_dir)));
	json_object_set_new(o, "submit_host", json_str_or_null(j->submit_host));
	json_object_set_new(o, "standard_output",
			    json_str_or_null(DSTR(d, std_out)));
	json_object_set_new(o, "standard_error",
			    json_str_or_null(DSTR(d, std_err)));
	json_object_set_new(o, "gres_type",
			    json_str_or_null(DSTR(d, gpu_type)));
	json_object_set_new(
		o, "gpus",
		json_integer(d ? (d->gpus ? d->gpus
					  : d->gpus_per_node * cmd_job_nodes(j))
			       : 0));
	json_object_set_new(o, "interactive", json_boolean(j->interactive));
	for (size_t i = 0; i < j->n_steps; i++)
		json_array_append_new(steps, cmd_step_json(j, j->steps[i]));
	json_object_set_new(o, "steps", steps);
	return o;
}

int cmd_json_print(json_t *doc, FILE *out)
{
	int rc = json_dumpf(doc, out, JSON_INDENT(2) | JSON_REAL_PRECISION(12));

	if (fputc('\n', out) == EOF)
		rc = -1;
	return rc;
}

static const char *gpu_link_name(Meridian__GpuLinkKind k)
{
	switch (k) {
	case MERIDIAN__GPU_LINK_KIND__GPU_LINK_NVLINK:
		return "nvlink";
	case MERIDIAN__GPU_LINK_KIND__GPU_LINK_PCI:
		return "pci";
	case MERIDIAN__GPU_LINK_KIND__GPU_LINK_SMP:
		return "smp";
	default:
		return "unknown";
	}
}

/* [{"gpu": 1, "link": "nvlink", "bandwidth_mbs": 25000}, ...] */
static json_t *gpu_peers_json(const Meridian__Gpu *g)
{
	json_t *a = json_array();

	for (size_t k = 0; k < g->n_peers; k++) {
		const Meridian__GpuPeer *p = g->peers[k];
		json_t *po = json_object();

		json_object_set_new(po, "gpu", json_integer(p->gpu));
		json_object_set_new(po, "link",
				    json_string(gpu_link_name(p->link)));
		json_object_set_new(po, "bandwidth_mbs",
				    json_integer(p->bandwidth_mbs));
		json_array_append_new(a, po);
	}
	return a;
}

json_t *cmd_node_json(const Meridian__NodeInfo *n)
{
	json_t *o = json_object(), *a;
	size_t i;

	json_object_set_new(o, "name", json_string(n->name));
	json_object_set_new(o, "addr",
			    json_string(cmd_str_or(n->addr, n->name)));
	json_object_set_new(o, "version", json_str_or_null(n->version));
	json_object_set_new(o, "state", json_string(cmd_node_state(n)));
	json_object_set_new(o, "cpus", json_integer(n->cpus));
	json_object_set_new(o, "cpus_alloc", json_integer(n->cpus_alloc));
	json_object_set_new(o, "real_memory_mb",
			    json_integer((json_int_t)n->real_memory));
	json_object_set_new(o, "mem_alloc_mb",
			    json_integer((json_int_t)n->mem_alloc));
	json_object_set_new(o, "gres", json_str_or_null(n->gres));
	json_object_set_new(o, "gpus_total",
			    json_integer((json_int_t)n->n_gpus));
	json_object_set_new(o, "gpus_alloc", json_integer(n->gpus_alloc));
	json_object_set_new(o, "region", json_str_or_null(n->region));
	/* dollars per GPU-hour; micro-dollars are exact in a double */
	json_object_set_new(o, "gpu_hour_price",
			    json_real((double)n->gpu_hour_price / 1e6));
	json_object_set_new(o, "features", json_str_or_null(n->features));
	a = json_array();
	for (i = 0; i < n->n_partitions; i++)
		json_array_append_new(a, json_string(n->partitions[i]));
	json_object_set_new(o, "partitions", a);
	a = json_array();
	for (i = 0; i < n->n_job_ids; i++)
		json_array_append_new(a, json_integer(n->job_ids[i]));
	json_object_set_new(o, "job_ids", a);
	json_object_set_new(o, "boot_time", json_time_or_null(n->boot_time));
	json_object_set_new(o, "last_seen", json_time_or_null(n->last_seen));
	json_object_set_new(o, "reason", json_str_or_null(n->reason));
	json_object_set_new(o, "reason_user",
			    n->reason && *n->reason
				    ? json_str_or_null(n->reason_user)
				    : json_null());
	json_object_set_new(o, "reason_time",
			    n->reason && *n->reason
				    ? json_time_or_null(n->reason_time)
				    : json_null());
	json_object_set_new(o, "tier", json_str_or_null(n->tier));
	json_object_set_new(o, "up_bps", json_integer((json_int_t)n->up_bps));
	json_object_set_new(o, "down_bps",
			    json_integer((json_int_t)n->down_bps));
	json_object_set_new(o, "rates_measured",
			    json_boolean(n->rates_measured));
	json_object_set_new(o, "rates_from",
			    json_str_or_null(cmd_node_rates_from(n)));
	json_object_set_new(o, "last_probe", json_time_or_null(n->last_probe));
	a = json_array();
	for (i = 0; i < n->n_gpus; i++) {
		const Meridian__Gpu *g = n->gpus[i];
		json_t *go = json_object();

		json_object_set_new(go, "index", json_integer(g->index));
		json_object_set_new(go, "model", json_str_or_null(g->model));
		json_object_set_new(go, "pci_bus_id",
				    json_str_or_null(g->pci_bus_id));
		json_object_set_new(go, "cpus", json_str_or_null(g->cpuset));
		json_object_set_new(go, "numa_node",
				    json_integer(g->numa_node));
		json_object_set_new(go, "memory_mb",
				    json_integer((json_int_t)g->memory_mb));
		json_object_set_new(go, "peers", gpu_peers_json(g));
		json_array_append_new(a, go);
	}
	json_object_set_new(o, "gpus", a);
	return o;
}
