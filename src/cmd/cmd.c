/*
 * cmd.c - helpers the user commands share (see cmd.h).
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "array.h"
#include "cmd.h"
#include "iopath.h"
#include "parse.h"
#include "merr.h"

void cmd_init(struct cmd *c, const char *prog)
{
	memset(c, 0, sizeof(*c));
	c->prog = prog;
}

void cmd_fini(struct cmd *c)
{
	client_destroy(c->client);
	c->client = NULL;
	if (c->conf)
		conf_free(c->conf);
	c->conf = NULL;
}

static void cmd_verror(const struct cmd *c, const char *fmt, va_list ap)
{
	fprintf(stderr, "%s: error: ", c->prog);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void cmd_error(const struct cmd *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	cmd_verror(c, fmt, ap);
	va_end(ap);
}

int cmd_usage_error(const struct cmd *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	cmd_verror(c, fmt, ap);
	va_end(ap);
	fprintf(stderr, "Try \"%s --help\" for more information\n", c->prog);
	return MER_EXIT_USAGE;
}

int cmd_getopt_error(const struct cmd *c, int ch, char **argv)
{
	const char *arg = optind > 0 ? argv[optind - 1] : "";
	size_t len = strcspn(arg, "=");

	if (ch == ':') {
		if (arg[0] == '-' && arg[1] == '-')
			return cmd_usage_error(c, "option %.*s needs a value",
					       (int)len, arg);
		return cmd_usage_error(c, "option -%c needs a value", optopt);
	}
	if (optopt && !(arg[0] == '-' && arg[1] == '-'))
		return cmd_usage_error(c, "unknown option -%c", optopt);
	return cmd_usage_error(c, "unknown option %.*s", (int)len, arg);
}

int cmd_print_version(const struct cmd *c)
{
	printf("%s (meridian %s)\n", c->prog, PACKAGE_VERSION);
	return MER_EXIT_OK;
}

int cmd_connect(struct cmd *c)
{
	struct mer_error err = {{0}};
	const char *path = c->conf_path ? c->conf_path : conf_default_path();

	c->conf = conf_load(path, &err);
	if (!c->conf) {
		cmd_error(c, "%s", err.text[0] ? err.text : strerror(errno));
		return MER_EXIT_ERROR;
	}
	c->client = client_create(c->conf, &err);
	if (!c->client) {
		cmd_error(c, "%s", err.text[0] ? err.text : strerror(errno));
		return MER_EXIT_ERROR;
	}
	return MER_EXIT_OK;
}

bool cmd_errno_unreachable(int e)
{
	switch (e) {
	case ECONNREFUSED:
	case ECONNRESET:
	case ECONNABORTED:
	case ETIMEDOUT:
	case EHOSTUNREACH:
	case EHOSTDOWN:
	case ENETUNREACH:
	case ENETDOWN:
	case EADDRNOTAVAIL:
	case EPIPE:
		return true;
	default:
		return false;
	}
}

int cmd_call(struct cmd *c, Meridian__MsgType type, const ProtobufCMessage *req,
	     ProtobufCMessage **reply, struct mer_error *err)
{
	char where[300];
	int e;

	err->text[0] = '\0';
	*reply = NULL;
	if (client_call(c->client, type, req, reply, 0, err) == 0)
		return MER_EXIT_OK;
	e = errno;
	if (!err->text[0])
		mer_error_set(err, "%s", strerror(e));
	/*
	 * Only a failure to talk to mctld itself is "unreachable": the munge
	 * plugin reports a dead munged as ECONNREFUSED too, but that one is
	 * refused here (exit 1) with munge's own words.  client.c names
	 * HOST:PORT in every message about the controller's connection.
	 */
	snprintf(where, sizeof(where), "%s:%u", c->conf->controller_host,
		 (unsigned)c->conf->controller_port);
	if (cmd_errno_unreachable(e) && !strstr(err->text, "munge")) {
		if (strstr(err->text, where))
			cmd_error(c, "%s", err->text);
		else
			cmd_error(c, "cannot reach the controller at %s: %s",
				  where, err->text);
		errno = e;
		return MER_EXIT_CONNECT;
	}
	errno = e;
	return MER_EXIT_ERROR;
}

/* --- an arena for large replies --------------------------------------- */

/* Blocks from big chunks, all freed at once: a 10,000-job reply is some
 * 300,000 small allocations, which malloc and free would cost more than
 * reading the reply. */
struct arena_chunk {
	struct arena_chunk *next;
	size_t used, size;
	max_align_t data[];
};

struct cmd_arena {
	ProtobufCAllocator pb; /* first: the allocator protobuf-c sees */
	struct arena_chunk *chunks;
};

#define ARENA_CHUNK (1u << 20)

static void *arena_alloc(void *data, size_t size)
{
	struct cmd_arena *a = data;
	struct arena_chunk *c = a->chunks;
	size_t align = sizeof(max_align_t);

	size = (size + align - 1) / align * align;
	if (!c || c->size - c->used < size) {
		size_t want = size > ARENA_CHUNK ? size : ARENA_CHUNK;

		c = xmalloc(sizeof(*c) + want);
		c->used = 0;
		c->size = want;
		c->next = a->chunks;
		a->chunks = c;
	}
	c->used += size;
	return (char *)c->data + c->used - size;
}

static void arena_free_block(void *data, void *p)
{
	(void)data;
	(void)p; /* with the arena */
}

struct cmd_arena *cmd_arena_new(void)
{
	struct cmd_arena *a = xcalloc(1, sizeof(*a));

	a->pb.alloc = arena_alloc;
	a->pb.free = arena_free_block;
	a->pb.allocator_data = a;
	return a;
}

ProtobufCAllocator *cmd_arena_allocator(struct cmd_arena *a)
{
	return &a->pb;
}

void cmd_arena_free(struct cmd_arena *a)
{
	if (!a)
		return;
	while (a->chunks) {
		struct arena_chunk *c = a->chunks;

		a->chunks = c->next;
		free(c);
	}
	free(a);
}

/* A repeated message field of a paged reply: its array and count. */
struct page_items {
	size_t items_off, n_off;
};

/*
 * The pages of a paged request: the request's cursor (*cursor) starts at
 * 0 and takes each reply's next cursor (at next_off in the reply) until
 * that is 0; every page's repeated items (each of fields[0..nfields)) are
 * moved into the first reply, with the allocator the client unpacks
 * replies with (cmd_arena).
 */
static int call_pages(struct cmd *c, Meridian__MsgType type,
		      const ProtobufCMessage *req, uint32_t *cursor,
		      const struct page_items *fields, size_t nfields,
		      size_t next_off, ProtobufCMessage **reply,
		      struct mer_error *err)
{
	ProtobufCMessage *all = NULL, *page;
	ProtobufCAllocator *a = client_allocator(c->client);
	int rc;

#define FIELD(m, off, type) ((type *)((char *)(m) + (off)))
	*cursor = 0;
	for (;;) {
		uint32_t next;

		rc = cmd_call(c, type, req, &page, err);
		if (rc)
			break;
		next = *FIELD(page, next_off, uint32_t);
		if (!all) {
			all = page;
		} else {
			for (size_t f = 0; f < nfields; f++) {
				void ***to = FIELD(all, fields[f].items_off,
						   void **),
				     ***from = FIELD(page, fields[f].items_off,
						     void **);
				size_t *nto = FIELD(all, fields[f].n_off,
						    size_t),
				       *nfrom = FIELD(page, fields[f].n_off,
						      size_t);
				void **both;

				if (!*nfrom)
					continue;
				/* the allocator the pages came with
				 * (cmd_arena) */
				both = a ? a->alloc(a->allocator_data,
						    (*nto + *nfrom) *
							    sizeof(**to))
					 : xmalloc((*nto + *nfrom) *
						   sizeof(**to));
				if (!both)
					abort();
				if (*nto)
					memcpy(both, *to, *nto * sizeof(**to));
				memcpy(both + *nto, *from,
				       *nfrom * sizeof(**from));
				if (a)
					a->free(a->allocator_data, *to);
				else
					free(*to);
				*to = both;
				*nto += *nfrom;
				*nfrom = 0; /* freed with all, not with page */
			}
			protobuf_c_message_free_unpacked(page, a);
		}
		if (!next)
			break;
		if (next <= *cursor) {
			errno = EPROTO;
			mer_error_set(err,
				      "the controller's pages do not move on "
				      "(cursor %u after %u)",
				      next, *cursor);
			rc = MER_EXIT_ERROR;
			break;
		}
		*cursor = next;
	}
	if (rc && all) {
		protobuf_c_message_free_unpacked(all, a);
		all = NULL;
	}
	if (all)
		*FIELD(all, next_off, uint32_t) = 0;
#undef FIELD
	*reply = all;
	return rc;
}

int cmd_job_info(struct cmd *c, Meridian__JobInfoRequest *req,
		 Meridian__JobInfoReply **reply, struct mer_error *err)
{
	/* briefs when asked for and the controller knows them, else jobs */
	static const struct page_items fields[] = {
		{offsetof(Meridian__JobInfoReply, jobs),
		 offsetof(Meridian__JobInfoReply, n_jobs)},
		{offsetof(Meridian__JobInfoReply, briefs),
		 offsetof(Meridian__JobInfoReply, n_briefs)},
	};

	req->paged = true;
	return call_pages(c, MERIDIAN__MSG_TYPE__MSG_JOB_INFO, &req->base,
			  &req->after_id, fields, 2,
			  offsetof(Meridian__JobInfoReply, next_after_id),
			  (ProtobufCMessage **)reply, err);
}

int cmd_node_info(struct cmd *c, Meridian__NodeInfoRequest *req,
		  Meridian__NodeInfoReply **reply, struct mer_error *err)
{
	static const struct page_items fields[] = {
		{offsetof(Meridian__NodeInfoReply, nodes),
		 offsetof(Meridian__NodeInfoReply, n_nodes)},
	};

	req->paged = true;
	return call_pages(c, MERIDIAN__MSG_TYPE__MSG_NODE_INFO, &req->base,
			  &req->after, fields, 1,
			  offsetof(Meridian__NodeInfoReply, next_after),
			  (ProtobufCMessage **)reply, err);
}

/* --- job states ------------------------------------------------------ */

int cmd_job_states_parse(const char *list, uint32_t *mask,
			 struct mer_error *err)
{
	char *copy = xstrdup(list), *save = NULL, *tok;
	uint32_t m = 0;

	for (tok = strtok_r(copy, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		Meridian__JobState st;

		if (str_eq_nocase(tok, "all")) {
			m |= CMD_STATES_ALL;
			continue;
		}
		if (mer_job_state_parse(tok, &st) < 0) {
			mer_error_set(
				err,
				"Invalid job state specified: %s (expected "
				"PD,R,CD,F,CA,TO,NF,DL, their names such as "
				"PENDING, or all)",
				tok);
			free(copy);
			return -1;
		}
		m |= CMD_STATE_BIT(st);
	}
	free(copy);
	if (!m)
		return mer_error_set(err,
				     "Invalid job state specified: \"%s\" "
				     "(expected a comma separated list)",
				     list);
	*mask = m;
	return 0;
}

const char *cmd_node_state(const Meridian__NodeInfo *n)
{
	if (mer_node_state_known(n->node_state))
		return mer_node_state_name(n->node_state);
	return n->state && *n->state ? n->state : "UNKNOWN";
}

/* --- values ---------------------------------------------------------- */

void cmd_add_str(struct strbuf *out, const char *s)
{
	if (s)
		strbuf_add(out, s, strlen(s));
}

void cmd_add_time(struct strbuf *out, int64_t t, const char *none)
{
	char buf[64];

	if (!t) {
		cmd_add_str(out, none);
		return;
	}
	format_timestamp(t, buf, sizeof(buf));
	cmd_add_str(out, buf);
}

void cmd_format_exit_code(int32_t code, int32_t sig, char *buf, size_t n)
{
	snprintf(buf, n, "%" PRId32 ":%" PRId32, code, sig);
}

void cmd_format_secs(int64_t secs, bool padded, char *buf, size_t n)
{
	/* squeue's TIME is parse.h's duration; scontrol pads hours under a
	 * day ("00:00:03") */
	if (!padded || secs >= 86400) {
		format_duration(secs, buf, n);
		return;
	}
	if (secs < 0)
		secs = 0;
	snprintf(buf, n, "%02" PRId64 ":%02" PRId64 ":%02" PRId64, secs / 3600,
		 secs / 60 % 60, secs % 60);
}

void cmd_format_limit(uint32_t minutes, bool lower, char *buf, size_t n)
{
	if (minutes == 0)
		snprintf(buf, n, "%s", lower ? "infinite" : "UNLIMITED");
	else
		cmd_format_secs((int64_t)minutes * 60, false, buf, n);
}

void cmd_format_size(uint64_t bytes, char *buf, size_t n)
{
	static const char units[] = "KMGT";
	int u = -1;

	while (u < 3 && bytes && bytes % 1024 == 0) {
		bytes /= 1024;
		u++;
	}
	if (u < 0)
		snprintf(buf, n, "%" PRIu64, bytes);
	else
		snprintf(buf, n, "%" PRIu64 "%c", bytes, units[u]);
}

void cmd_format_rate(double bps, const char *sep, const char *none, char *buf,
		     size_t n)
{
	double mbit = bps / 1e6;

	/* also NaN and infinity: a reply from a confused peer */
	if (!(bps > 0) || bps > 1e18)
		snprintf(buf, n, "%s", none);
	else if (mbit >= 99950)
		snprintf(buf, n, "%.0f%sGbit/s", mbit / 1000, sep);
	else if (mbit >= 999.5)
		snprintf(buf, n, "%.1f%sGbit/s", mbit / 1000, sep);
	else if (mbit >= 9.95)
		snprintf(buf, n, "%.0f%sMbit/s", mbit, sep);
	else if (mbit >= 0.095)
		snprintf(buf, n, "%.1f%sMbit/s", mbit, sep);
	else if (mbit >= 0.005)
		snprintf(buf, n, "%.2f%sMbit/s", mbit, sep);
	else
		snprintf(buf, n, "<0.01%sMbit/s", sep);
}

void cmd_format_price(int64_t micro, bool exact, char *buf, size_t n)
{
	const char *sign = "";
	uint64_t u;

	if (micro < 0) {
		sign = "-";
		u = (uint64_t)0 - (uint64_t)micro;
	} else {
		u = (uint64_t)micro;
	}
	if (!exact) {
		u = (u + 5000) / 10000; /* cents, half up */
		snprintf(buf, n, "%s%" PRIu64 ".%02" PRIu64, sign, u / 100,
			 u % 100);
		return;
	}
	{
		char frac[8];
		size_t len;

		snprintf(frac, sizeof(frac), "%06" PRIu64, u % 1000000);
		len = strlen(frac);
		while (len > 2 && frac[len - 1] == '0')
			frac[--len] = '\0';
		snprintf(buf, n, "%s%" PRIu64 ".%s", sign, u / 1000000, frac);
	}
}

/* Items of a list separated by commas and/or blanks. */
static char *next_item(char **cur)
{
	char *p = *cur, *start;

	while (*p == ',' || isspace((unsigned char)*p))
		p++;
	if (!*p) {
		*cur = p;
		return NULL;
	}
	start = p;
	while (*p && *p != ',' && !isspace((unsigned char)*p))
		p++;
	if (*p)
		*p++ = '\0';
	*cur = p;
	return start;
}

static bool parse_uint32(const char *s, uint32_t *out)
{
	char *end;
	unsigned long long v;

	if (!isdigit((unsigned char)*s))
		return false;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v > UINT32_MAX)
		return false;
	*out = (uint32_t)v;
	return true;
}

int cmd_parse_job_ids(const char *list, uint32_t **ids, size_t *n,
		      struct mer_error *err)
{
	char *copy = xstrdup(list), *cur = copy, *tok;
	size_t before = *n;

	while ((tok = next_item(&cur))) {
		uint32_t id;

		if (!parse_uint32(tok, &id) || id == 0) {
			mer_error_set(
				err,
				"Invalid job id: %s (expected a job number "
				"such as 12, or a list 12,13)",
				tok);
			free(copy);
			return -1;
		}
		*ids = xrealloc(*ids, (*n + 1) * sizeof(**ids));
		(*ids)[(*n)++] = id;
	}
	free(copy);
	if (*n == before)
		return mer_error_set(err,
				     "Invalid job id: \"%s\" (expected a "
				     "job number such as 12)",
				     list);
	return 0;
}

int cmd_parse_users(const char *list, uint32_t **uids, size_t *n,
		    struct mer_error *err)
{
	char *copy = xstrdup(list), *cur = copy, *tok;
	size_t before = *n;

	while ((tok = next_item(&cur))) {
		uid_t uid;
		gid_t gid;
		uint32_t num;

		if (user_from_name(tok, &uid, &gid) == 0) {
			num = (uint32_t)uid;
		} else if (!parse_uint32(tok, &num)) {
			mer_error_set(err,
				      "Invalid user: %s (expected a user "
				      "name or a numeric uid)",
				      tok);
			free(copy);
			return -1;
		}
		*uids = xrealloc(*uids, (*n + 1) * sizeof(**uids));
		(*uids)[(*n)++] = num;
	}
	free(copy);
	if (*n == before)
		return mer_error_set(err,
				     "Invalid user: \"%s\" (expected a "
				     "user name or a numeric uid)",
				     list);
	return 0;
}

/* "HH:MM" or "HH:MM:SS". */
static bool time_of_day(const char *s, int *h, int *m, int *sec)
{
	char extra;

	*sec = 0;
	if (sscanf(s, "%2d:%2d:%2d%c", h, m, sec, &extra) != 3 &&
	    sscanf(s, "%2d:%2d%c", h, m, &extra) != 2)
		return false;
	return *h >= 0 && *h <= 23 && *m >= 0 && *m <= 59 && *sec >= 0 &&
	       *sec <= 59;
}

int cmd_parse_past_time(const char *s, const char *what, int64_t now,
			int64_t *when, struct mer_error *err)
{
	time_t t = (time_t)now;
	struct tm tm;
	int h, m = 0, sec = 0;

	if (!s)
		s = "";
	if (strncasecmp(s, "now-", 4) == 0) {
		/* parse_begin knows now+N in every unit: mirror it */
		char plus[64];
		int64_t ahead;

		if (snprintf(plus, sizeof(plus), "now+%s", s + 4) >=
			    (int)sizeof(plus) ||
		    parse_begin(plus, what, now, &ahead, err) < 0)
			return -1;
		*when = now - (ahead - now);
		return 0;
	}
	if (str_eq_nocase(s, "midnight") || str_eq_nocase(s, "today"))
		h = 0;
	else if (str_eq_nocase(s, "noon"))
		h = 12;
	else if (!time_of_day(s, &h, &m, &sec))
		return parse_begin(s, what, now, when, err);
	/* sacct: a time of day is today's, even one still to come */
	localtime_r(&t, &tm);
	tm.tm_hour = h;
	tm.tm_min = m;
	tm.tm_sec = sec;
	tm.tm_isdst = -1;
	*when = (int64_t)mktime(&tm);
	return 0;
}

/* The names live in parse.c, shared with --signal (jobopt.c). */
int cmd_parse_signal(const char *s, int *sig, struct mer_error *err)
{
	return parse_signal(s, sig, err);
}

const char *cmd_signal_name(int sig)
{
	return signal_name(sig);
}

void cmd_array_tasks_str(const Meridian__JobRecord *j, struct strbuf *out)
{
	char *f;

	if (!j->array_job_id)
		return;
	if (j->array_job_id != j->job_id || !j->array_pending.len) {
		strbuf_addf(out, "%" PRIu32, j->array_task_id);
		return;
	}
	f = array_fold(j->array_pending.data, j->array_pending.len);
	strbuf_add(out, f, strlen(f));
	if (j->array_max_running)
		strbuf_addf(out, "%%%" PRIu32, j->array_max_running);
	free(f);
}

void cmd_job_id_str(const Meridian__JobRecord *j, struct strbuf *out)
{
	bool pending = j->array_job_id && j->array_job_id == j->job_id &&
		       j->array_pending.len;

	if (!j->array_job_id) {
		strbuf_addu(out, j->job_id);
		return;
	}
	strbuf_addf(out, "%" PRIu32 "_%s", j->array_job_id, pending ? "[" : "");
	cmd_array_tasks_str(j, out);
	if (pending)
		strbuf_addc(out, ']');
}

char *cmd_expand_std_path(const char *pattern, const char *default_pattern,
			  const Meridian__JobRecord *job)
{
	const Meridian__JobDesc *d = job->desc;
	char uid[16];
	struct iopath_names n = {
		.job_id = job->job_id,
		.job_name = d ? d->name : NULL,
		.user = job->user_name,
		/* before it has a batch host the job's %N is still unknown */
		.node = job->batch_host && *job->batch_host ? job->batch_host
							    : "%N",
		.in_array = job->array_job_id != 0,
		.array_job_id = job->array_job_id,
		.array_task_id = job->array_task_id,
	};

	if (!n.user || !*n.user) {
		snprintf(uid, sizeof(uid), "%" PRIu32, job->user_id);
		n.user = uid;
	}
	return iopath_path(pattern, default_pattern, d ? d->work_dir : NULL,
			   &n);
}

void cmd_job_gres(const Meridian__JobRecord *job, char *buf, size_t n,
		  bool *per_node)
{
	const Meridian__JobDesc *d = job->desc;
	uint32_t count;
	const char *type;

	buf[0] = '\0';
	*per_node = false;
	if (!d)
		return;
	type = d->gpu_type ? d->gpu_type : "";
	if (d->gpus_per_node) {
		count = d->gpus_per_node;
		*per_node = true;
	} else {
		count = d->gpus;
	}
	if (!count)
		return;
	snprintf(buf, n, "gres/gpu%s%s:%" PRIu32, *type ? ":" : "", type,
		 count);
}

uint32_t cmd_job_nodes(const Meridian__JobRecord *job)
{
	if (job->num_nodes)
		return job->num_nodes;
	if (job->n_alloc)
		return (uint32_t)job->n_alloc;
	if (job->desc && job->desc->min_nodes)
		return job->desc->min_nodes;
	return 1;
}

uint32_t cmd_job_cpus(const Meridian__JobRecord *job)
{
	const Meridian__JobDesc *d = job->desc;
	uint32_t sum = 0, tasks, cpt;
	size_t i;

	for (i = 0; i < job->n_alloc; i++)
		sum += job->alloc[i]->cpus;
	if (sum)
		return sum;
	cpt = d && d->cpus_per_task ? d->cpus_per_task : 1;
	tasks = job->ntasks;
	if (!tasks && d)
		tasks = d->ntasks;
	if (!tasks && d && d->ntasks_per_node)
		tasks = d->ntasks_per_node * cmd_job_nodes(job);
	if (!tasks)
		tasks = cmd_job_nodes(job);
	return tasks * cpt;
}

int64_t cmd_job_run_secs(const Meridian__JobRecord *job, int64_t now)
{
	if (!job->start_time)
		return 0;
	if (job->state == MERIDIAN__JOB_STATE__JOB_RUNNING || !job->end_time)
		return now > job->start_time ? now - job->start_time : 0;
	return job->end_time > job->start_time ? job->end_time - job->start_time
					       : 0;
}

/* --- the -o FORMAT column printer ------------------------------------ */

struct fmt_item {
	const struct cmd_column *col; /* NULL: literal text */
	char *text;		      /* the literal */
	size_t len;		      /* its length */
	int width;		      /* -1 none, -2 auto ('#') */
	bool right;
};

struct cmd_fmt {
	struct fmt_item *items;
	size_t nitems;
	/* with a '#' field, every row's cells, each ended by its NUL, one
	 * after another: cell[r * nitems + i] is the offset of row r's item
	 * i (unused for a literal); else (lines) every row's line as it
	 * prints, each ended by '\n': each width is known before a row is
	 * added, so a row is laid out once, as it comes */
	bool lines;
	struct strbuf text;
	size_t *cell;
	size_t nrows, cap_rows;
};

static void fmt_push(struct cmd_fmt *f, struct fmt_item it)
{
	f->items = xrealloc(f->items, (f->nitems + 1) * sizeof(*f->items));
	f->items[f->nitems++] = it;
}

static void fmt_push_literal(struct cmd_fmt *f, const char *s, size_t n)
{
	struct fmt_item it = {NULL, NULL, 0, -1, false};

	if (!n)
		return;
	if (f->nitems && !f->items[f->nitems - 1].col) {
		struct fmt_item *last = &f->items[f->nitems - 1];

		last->text = xrealloc(last->text, last->len + n + 1);
		memcpy(last->text + last->len, s, n);
		last->len += n;
		last->text[last->len] = '\0';
		return;
	}
	it.text = xstrndup(s, n);
	it.len = n;
	fmt_push(f, it);
}

struct cmd_fmt *cmd_fmt_parse(const char *format, const struct cmd_column *cols,
			      struct mer_error *err)
{
	struct cmd_fmt *f = xcalloc(1, sizeof(*f));
	const char *p = format;

	while (*p) {
		struct fmt_item it = {NULL, NULL, 0, -1, false};
		const char *start = p;
		size_t i;

		if (*p != '%') {
			while (*p && *p != '%')
				p++;
			fmt_push_literal(f, start, (size_t)(p - start));
			continue;
		}
		p++;
		if (*p == '%') {
			fmt_push_literal(f, "%", 1);
			p++;
			continue;
		}
		if (*p == '.') {
			it.right = true;
			p++;
		}
		if (*p == '#') {
			it.width = -2;
			p++;
		} else if (isdigit((unsigned char)*p)) {
			it.width = 0;
			while (isdigit((unsigned char)*p)) {
				if (it.width < 1000)
					it.width = it.width * 10 + (*p - '0');
				p++;
			}
		}
		for (i = 0; cols[i].spec; i++)
			if (cols[i].spec == *p)
				break;
		if (!*p || !cols[i].spec) {
			mer_error_set(err,
				      "Invalid format specification: %.*s "
				      "(see --help for the fields)",
				      (int)(p - start + (*p ? 1 : 0)), start);
			cmd_fmt_free(f);
			return NULL;
		}
		it.col = &cols[i];
		fmt_push(f, it);
		p++;
	}
	f->lines = true;
	for (size_t i = 0; i < f->nitems; i++)
		if (f->items[i].width == -2)
			f->lines = false;
	return f;
}

void cmd_fmt_free(struct cmd_fmt *f)
{
	size_t i;

	if (!f)
		return;
	strbuf_free(&f->text);
	free(f->cell);
	for (i = 0; i < f->nitems; i++)
		free(f->items[i].text);
	free(f->items);
	free(f);
}

bool cmd_fmt_uses(const struct cmd_fmt *f, char spec)
{
	size_t i;

	for (i = 0; i < f->nitems; i++)
		if (f->items[i].col && f->items[i].col->spec == spec)
			return true;
	return false;
}

bool cmd_fmt_uses_only(const struct cmd_fmt *f, const char *specs)
{
	for (size_t i = 0; i < f->nitems; i++)
		if (f->items[i].col && !strchr(specs, f->items[i].col->spec))
			return false;
	return true;
}

static char *fmt_cell(const struct fmt_item *it, const void *row,
		      const void *ctx)
{
	struct strbuf b = {0};

	it->col->get(row, ctx, &b);
	return b.s ? b.s : xstrdup("");
}

/* Pad or cut the cell that starts at start in b to width (-1: as is). */
static void fmt_fit_cell(struct strbuf *b, size_t start, int width, bool right)
{
	size_t len = b->len - start, pad;

	if (width < 0 || len == (size_t)width)
		return;
	if (len > (size_t)width) {
		/* squeue cuts, keeping the start */
		b->len = start + (size_t)width;
		b->s[b->len] = '\0';
		return;
	}
	pad = (size_t)width - len;
	strbuf_addn(b, ' ', pad);
	if (right) {
		memmove(b->s + start + pad, b->s + start, len);
		memset(b->s + start, ' ', pad);
	}
}

/* The row's line at the end of f->text, as cmd_fmt_print would lay it
 * out (fmt_put_cell, fmt_put_line). */
static void fmt_add_line(struct cmd_fmt *f, const void *row, const void *ctx)
{
	struct strbuf *b = &f->text;
	size_t line = b->len;

	for (size_t i = 0; i < f->nitems; i++) {
		const struct fmt_item *it = &f->items[i];
		size_t start = b->len;

		if (!it->col) {
			if (it->len == 1) /* mostly: a blank between */
				strbuf_addc(b, it->text[0]);
			else
				strbuf_add(b, it->text, it->len);
			continue;
		}
		it->col->get(row, ctx, b);
		fmt_fit_cell(b, start, it->width, it->right);
	}
	while (b->len > line && b->s[b->len - 1] == ' ')
		b->len--;
	strbuf_addc(b, '\n');
}

void cmd_fmt_add(struct cmd_fmt *f, const void *row, const void *ctx)
{
	size_t i, *cell;

	if (f->lines) {
		fmt_add_line(f, row, ctx);
		f->nrows++;
		return;
	}
	if (f->nrows == f->cap_rows) {
		f->cap_rows = f->cap_rows ? f->cap_rows * 2 : 64;
		f->cell = xrealloc(f->cell,
				   f->cap_rows * (f->nitems ? f->nitems : 1) *
					   sizeof(*f->cell));
	}
	cell = f->cell + f->nrows++ * f->nitems;
	for (i = 0; i < f->nitems; i++) {
		cell[i] = f->text.len;
		if (!f->items[i].col)
			continue;
		f->items[i].col->get(row, ctx, &f->text);
		strbuf_addc(&f->text, '\0'); /* the cell's end, kept */
	}
}

size_t cmd_fmt_rows(const struct cmd_fmt *f)
{
	return f->nrows;
}

char *cmd_fmt_key(const struct cmd_fmt *f, const void *row, const void *ctx,
		  const char *skip)
{
	struct strbuf b = {0};
	size_t i;

	for (i = 0; i < f->nitems; i++) {
		const struct fmt_item *it = &f->items[i];
		char *cell;

		if (!it->col || strchr(skip, it->col->spec))
			continue;
		cell = fmt_cell(it, row, ctx);
		strbuf_add(&b, cell, strlen(cell));
		strbuf_addc(&b, '\037');
		free(cell);
	}
	return b.s ? b.s : xstrdup("");
}

static void fmt_put_cell(struct strbuf *line, const char *s, int width,
			 bool right)
{
	size_t len = strlen(s);

	if (width < 0) {
		strbuf_add(line, s, len);
		return;
	}
	if (len > (size_t)width)
		len = (size_t)width; /* squeue cuts, keeping the start */
	if (right && (int)len < width)
		strbuf_addn(line, ' ', (size_t)width - len);
	strbuf_add(line, s, len);
	if (!right && (int)len < width)
		strbuf_addn(line, ' ', (size_t)width - len);
}

static void fmt_put_line(struct strbuf *line, FILE *out)
{
	while (line->len && line->s[line->len - 1] == ' ')
		line->s[--line->len] = '\0';
	if (line->len)
		fwrite(line->s, 1, line->len, out);
	fputc('\n', out);
	line->len = 0;
	if (line->s)
		line->s[0] = '\0';
}

void cmd_fmt_print(const struct cmd_fmt *f, bool header, FILE *out)
{
	int *widths = xcalloc(f->nitems ? f->nitems : 1, sizeof(*widths));
	struct strbuf line = {0};
	size_t i, r;

	for (i = 0; i < f->nitems; i++) {
		const struct fmt_item *it = &f->items[i];

		widths[i] = it->width;
		if (it->width != -2)
			continue;
		widths[i] = header ? (int)strlen(it->col->title) : 0;
		for (r = 0; r < f->nrows; r++) {
			int len = (int)strlen(f->text.s +
					      f->cell[r * f->nitems + i]);

			if (len > widths[i])
				widths[i] = len;
		}
	}
	if (header) {
		for (i = 0; i < f->nitems; i++) {
			const struct fmt_item *it = &f->items[i];

			if (it->col)
				fmt_put_cell(&line, it->col->title, widths[i],
					     it->right);
			else
				strbuf_add(&line, it->text, strlen(it->text));
		}
		fmt_put_line(&line, out);
	}
	if (f->lines && f->text.len)
		fwrite(f->text.s, 1, f->text.len, out); /* laid out already */
	for (r = 0; !f->lines && r < f->nrows; r++) {
		for (i = 0; i < f->nitems; i++) {
			const struct fmt_item *it = &f->items[i];

			if (it->col)
				fmt_put_cell(&line,
					     f->text.s +
						     f->cell[r * f->nitems + i],
					     widths[i], it->right);
			else
				strbuf_add(&line, it->text, strlen(it->text));
		}
		fmt_put_line(&line, out);
	}
	strbuf_free(&line);
	free(widths);
}

void cmd_list_split(const char *list, char ***items, size_t *n)
{
	char *copy = xstrdup(list), *save = NULL, *tok;

	for (tok = strtok_r(copy, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		*items = xrealloc(*items, (*n + 1) * sizeof(**items));
		(*items)[(*n)++] = xstrdup(tok);
	}
	free(copy);
}

void cmd_list_free(char **items, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(items[i]);
	free(items);
}

bool cmd_list_has(char *const *items, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(items[i], s) == 0)
			return true;
	return false;
}

const char *cmd_job_result_text(const Meridian__JobActionResult *r)
{
	if (r->text && *r->text)
		return r->text;
	switch (r->code) {
	case ENOENT:
	case ESRCH:
		return "Invalid job id specified";
	case EPERM:
	case EACCES:
		return "Access/permission denied";
	case EALREADY:
		return "Job/step already completing or completed";
	default:
		return strerror(r->code);
	}
}

/* --- job steps ------------------------------------------------------------ */

bool cmd_parse_step_ref(const char *tok, struct cmd_step_ref *ref)
{
	const char *dot = strchr(tok, '.');
	char *job = dot ? xstrndup(tok, (size_t)(dot - tok)) : xstrdup(tok);
	bool ok = parse_u32(job, "job id", 1, UINT32_MAX, &ref->job_id, NULL) ==
		  0;

	free(job);
	ref->any_step = !dot;
	ref->step_id = 0;
	if (ok && dot)
		ok = parse_u32(dot + 1, "step id", 0, UINT32_MAX, &ref->step_id,
			       NULL) == 0;
	return ok;
}

const Meridian__StepDesc *cmd_step_desc(const Meridian__StepRecord *s)
{
	static const Meridian__StepDesc empty = MERIDIAN__STEP_DESC__INIT;

	return s->desc ? s->desc : &empty;
}

const char *cmd_step_name(const Meridian__StepRecord *s)
{
	const Meridian__StepDesc *d = cmd_step_desc(s);
	const char *slash;

	if (*d->name || !d->n_argv)
		return d->name;
	slash = strrchr(d->argv[0], '/');
	return slash ? slash + 1 : d->argv[0];
}

int cmd_step_cmp_id(const void *a, const void *b)
{
	const Meridian__StepRecord *x = *(Meridian__StepRecord *const *)a;
	const Meridian__StepRecord *y = *(Meridian__StepRecord *const *)b;

	return x->step_id < y->step_id ? -1 : x->step_id > y->step_id;
}

void cmd_step_exit_str(const Meridian__StepRecord *s, char *buf, size_t n)
{
	cmd_format_exit_code(s->term_signal ? 0 : s->exit_code, s->term_signal,
			     buf, n);
}

/* Where a node's Up and Down come from: probes to the controller, the
 * best of its links to other nodes, or nowhere yet.  NULL for nowhere. */
const char *cmd_node_rates_from(const Meridian__NodeInfo *n)
{
	if (n->rates_measured)
		return "controller";
	if (n->up_bps || n->down_bps)
		return "links";
	return NULL;
}
