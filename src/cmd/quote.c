/*
 * quote.c - mquote's answer, as text or JSON:
 *
 *   Would start now on 4 nodes (select/topo), ranks in this order:
 *   RANK  NODE  REGION   TIER  GPUS  $/GPU-HOUR  GPU_ORDER
 *   0     n2    us-east  fast     4        2.50  0,3,2,1
 *   ...
 *   Communication: ring allreduce of 256M over 4 ranks
 *   Predicted step: 12.345 ms, bottleneck n3 -> n1: 0.05 ms, 96 Mbit/s
 *     (measured 3m ago)
 *   Price: 2.50 $/GPU-hour, 10.00 $/hour for the job's 4 GPUs
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cmd_json.h"
#include "quote.h"

static const char *comm_name(Meridian__CommPattern p)
{
	switch (p) {
	case MERIDIAN__COMM_PATTERN__COMM_PIPELINE:
		return "pipeline";
	case MERIDIAN__COMM_PATTERN__COMM_NONE:
		return "none";
	default:
		return "ring";
	}
}

/* 64 GPUs of up to 2 digits and their commas */
#define MER_QUOTE_ORDER_MAX (64 * 3 + 1)

/* "0,3,2,1": the node's GPUs, local rank 0's first; "-" without any. */
static void format_order(const Meridian__QuoteNode *q, char *buf, size_t len)
{
	size_t n = 0;

	buf[0] = '\0';
	for (size_t k = 0; k < q->n_gpu_order && n + 12 < len; k++)
		n += (size_t)snprintf(buf + n, len - n, "%s%" PRIu32,
				      k ? "," : "", q->gpu_order[k]);
	if (!n)
		snprintf(buf, len, "-");
}

static json_t *order_json(const Meridian__QuoteNode *q)
{
	json_t *a = json_array();

	for (size_t k = 0; k < q->n_gpu_order; k++)
		json_array_append_new(a, json_integer(q->gpu_order[k]));
	return a;
}

static void print_text(const Meridian__QuoteReply *r)
{
	char a[64], b[64];

	if (!r->fits_now) {
		printf("Would not start now (%s): %s\n", r->select_type,
		       r->reason);
		return;
	}
	printf("Would start now on %" PRIu32 " node%s (%s), ranks in this "
	       "order:\n",
	       r->num_nodes, r->num_nodes == 1 ? "" : "s", r->select_type);
	printf("RANK  NODE              REGION          TIER      GPUS  "
	       "$/GPU-HOUR  GPU_ORDER\n");
	for (size_t i = 0; i < r->n_nodes; i++) {
		const Meridian__QuoteNode *q = r->nodes[i];
		char order[MER_QUOTE_ORDER_MAX];

		cmd_format_price(q->gpu_hour_price, false, a, sizeof(a));
		format_order(q, order, sizeof(order));
		printf("%-4zu  %-16s  %-14s  %-8s  %4" PRIu32 "  %10s  %s\n", i,
		       q->node, *q->region ? q->region : "-",
		       *q->tier ? q->tier : "-", q->gpus, q->gpus ? a : "-",
		       order);
	}
	cmd_format_size(r->comm_bytes, a, sizeof(a));
	if (r->comm == MERIDIAN__COMM_PATTERN__COMM_NONE)
		printf("Communication: none (packed, cheapest first)\n");
	else if (r->comm == MERIDIAN__COMM_PATTERN__COMM_PIPELINE)
		printf("Communication: pipeline of %" PRIu32 " stages, %s "
		       "across each boundary\n",
		       r->comm_stages ? r->comm_stages : r->num_nodes, a);
	else
		printf("Communication: ring allreduce of %s over %" PRIu32
		       " ranks\n",
		       a, r->num_nodes);
	if (r->predicted_step_us) {
		printf("Predicted step: %.3f ms", r->predicted_step_us / 1e3);
		if (*r->bottleneck_from) {
			cmd_format_rate(r->bottleneck_bytes_per_s * 8, " ", "-",
					b, sizeof(b));
			printf(", bottleneck %s -> %s: %.2f ms, %s (%s",
			       r->bottleneck_from, r->bottleneck_to,
			       r->bottleneck_latency_s * 1e3, b,
			       r->bottleneck_measured ? "measured"
						      : "estimated");
			if (r->bottleneck_when &&
			    r->now >= r->bottleneck_when) {
				cmd_format_secs(r->now - r->bottleneck_when,
						false, a, sizeof(a));
				printf(", %s old", a);
			}
			printf(")");
		}
		printf("\n");
	} else if (r->comm != MERIDIAN__COMM_PATTERN__COMM_NONE &&
		   r->num_nodes > 1) {
		printf("Predicted step: not predicted by %s\n", r->select_type);
	}
	if (r->gpus) {
		cmd_format_price(r->cost_per_hour / r->gpus, false, a,
				 sizeof(a));
		cmd_format_price(r->cost_per_hour, false, b, sizeof(b));
		printf("Price: %s $/GPU-hour, %s $/hour for the job's %" PRIu32
		       " GPU%s\n",
		       a, b, r->gpus, r->gpus == 1 ? "" : "s");
	} else {
		printf("Price: no GPUs, no GPU-hours to pay\n");
	}
}

static json_t *money(int64_t micro)
{
	return json_real((double)micro / 1e6);
}

static void print_json(const Meridian__QuoteReply *r)
{
	json_t *o = json_object(), *nodes = json_array();

	json_object_set_new(o, "meridian_version", json_integer(1));
	json_object_set_new(o, "now", json_integer(r->now));
	json_object_set_new(o, "select_type", json_string(r->select_type));
	json_object_set_new(o, "fits_now", json_boolean(r->fits_now));
	json_object_set_new(o, "reason", json_str_or_null(r->reason));
	for (size_t i = 0; i < r->n_nodes; i++) {
		const Meridian__QuoteNode *q = r->nodes[i];
		json_t *n = json_object();

		json_object_set_new(n, "rank", json_integer((json_int_t)i));
		json_object_set_new(n, "name", json_string(q->node));
		json_object_set_new(n, "region", json_str_or_null(q->region));
		json_object_set_new(n, "tier", json_str_or_null(q->tier));
		json_object_set_new(n, "gpus", json_integer(q->gpus));
		json_object_set_new(n, "gpu_order", order_json(q));
		json_object_set_new(n, "gpu_hour_price",
				    money(q->gpu_hour_price));
		json_array_append_new(nodes, n);
	}
	json_object_set_new(o, "nodes", nodes);
	json_object_set_new(o, "comm", json_string(comm_name(r->comm)));
	json_object_set_new(o, "comm_stages", json_integer(r->comm_stages));
	json_object_set_new(o, "comm_bytes",
			    json_integer((json_int_t)r->comm_bytes));
	json_object_set_new(o, "predicted_step_s",
			    r->predicted_step_us
				    ? json_real(r->predicted_step_us / 1e6)
				    : json_null());
	if (*r->bottleneck_from) {
		json_t *b = json_object();

		json_object_set_new(b, "from", json_string(r->bottleneck_from));
		json_object_set_new(b, "to", json_string(r->bottleneck_to));
		json_object_set_new(b, "latency_s",
				    json_real(r->bottleneck_latency_s));
		json_object_set_new(
			b, "bandwidth_bps",
			json_integer(
				(json_int_t)(r->bottleneck_bytes_per_s * 8)));
		json_object_set_new(b, "measured",
				    json_boolean(r->bottleneck_measured));
		json_object_set_new(b, "measured_at",
				    json_time_or_null(r->bottleneck_when));
		json_object_set_new(o, "bottleneck", b);
	} else {
		json_object_set_new(o, "bottleneck", json_null());
	}
	json_object_set_new(o, "gpus", json_integer(r->gpus));
	json_object_set_new(o, "cost_per_hour", money(r->cost_per_hour));
	json_object_set_new(o, "gpu_hour_price",
			    r->gpus ? money(r->cost_per_hour / r->gpus)
				    : json_null());
	json_dumpf(o, stdout,
		   JSON_INDENT(2) | JSON_PRESERVE_ORDER |
			   JSON_REAL_PRECISION(10));
	fputc('\n', stdout);
	json_decref(o);
}

int quote_show(struct cmd *c, const Meridian__JobDesc *desc, bool json)
{
	Meridian__QuoteRequest req = MERIDIAN__QUOTE_REQUEST__INIT;
	Meridian__QuoteReply *r = NULL;
	struct mer_error err = {""};
	int rc;

	req.desc = (Meridian__JobDesc *)desc;
	if ((rc = cmd_connect(c)))
		return rc;
	rc = cmd_call(c, MERIDIAN__MSG_TYPE__MSG_QUOTE, &req.base,
		      (ProtobufCMessage **)&r, &err);
	if (rc == MER_EXIT_ERROR)
		cmd_error(c, "cannot quote the job: %s", err.text);
	if (rc)
		return rc;
	if (json)
		print_json(r);
	else
		print_text(r);
	protobuf_c_message_free_unpacked(&r->base, NULL);
	if (fflush(stdout) != 0)
		return MER_EXIT_ERROR;
	return MER_EXIT_OK;
}
