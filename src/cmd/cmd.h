/*
 * cmd.h - what the user commands (mbatch, mqueue, mcancel, mnodes, mctl,
 * mrun) share: finding the config, talking to mctld, printing errors the
 * same way, lists of job states, and the -o FORMAT column printer.
 *
 * Commands print errors to stderr as "PROG: error: ..." and exit with the
 * MER_EXIT_* codes of client.h: 0 done, 1 refused or failed, 2 bad usage,
 * 3 controller unreachable.
 */
#ifndef MER_CMD_H
#define MER_CMD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "client.h"
#include "conf.h"
#include "meridian.pb-c.h"
#include "states.h"
#include "util.h"

/* The long options every command takes (getopt_long entries). */
#define CMD_LONGOPT_CONFIG                                                     \
	{                                                                      \
		"config", required_argument, NULL, 'f'                         \
	}
#define CMD_LONGOPT_HELP                                                       \
	{                                                                      \
		"help", no_argument, NULL, 'H'                                 \
	}
#define CMD_LONGOPT_USAGE                                                      \
	{                                                                      \
		"usage", no_argument, NULL, 'U'                                \
	}
#define CMD_LONGOPT_VERSION                                                    \
	{                                                                      \
		"version", no_argument, NULL, 'V'                              \
	}

/* One command run: lives in main()'s frame. */
struct cmd {
	const char *prog;      /* "mqueue": the prefix of every message */
	const char *conf_path; /* -f / --config; NULL: conf_default_path() */
	struct conf *conf;     /* after cmd_connect() */
	struct client *client; /* after cmd_connect() */
};

void cmd_init(struct cmd *c, const char *prog);

/* An arena for a large reply: client_set_allocator(c->client,
 * cmd_arena_allocator(a)) before the call; cmd_arena_free frees the
 * reply and everything else the arena holds. */
struct cmd_arena;
struct cmd_arena *cmd_arena_new(void);
ProtobufCAllocator *cmd_arena_allocator(struct cmd_arena *a);
void cmd_arena_free(struct cmd_arena *a); /* accepts NULL */
/* Frees the config and the client; the struct may be reused. */
void cmd_fini(struct cmd *c);

/* "PROG: error: ...\n" on stderr. */
void cmd_error(const struct cmd *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* cmd_error() and return MER_EXIT_USAGE, with a hint to --help. */
int cmd_usage_error(const struct cmd *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* For getopt_long's ':' (missing value) and '?' (unknown option), with an
 * optstring that starts with ':': says which and returns MER_EXIT_USAGE. */
int cmd_getopt_error(const struct cmd *c, int ch, char **argv);
/* "PROG (meridian VERSION)" on stdout; returns MER_EXIT_OK. */
int cmd_print_version(const struct cmd *c);

/*
 * Load the config (c->conf_path, else $MERIDIAN_CONF, else the installed
 * default) and create the client.  Returns 0, or prints the error and
 * returns the exit code to leave with.
 */
int cmd_connect(struct cmd *c);

/*
 * One request to mctld (cmd_connect() first).  Returns 0 with *reply set
 * (free with protobuf_c_message_free_unpacked), MER_EXIT_CONNECT after
 * printing "PROG: error: cannot reach the controller at HOST:PORT: why",
 * or MER_EXIT_ERROR with err filled and errno set to the controller's
 * code, printing nothing: the caller knows what the request was for.
 */
int cmd_call(struct cmd *c, Meridian__MsgType type, const ProtobufCMessage *req,
	     ProtobufCMessage **reply, struct mer_error *err);

/*
 * JOB_INFO and NODE_INFO as cmd_call, asked for in pages (req->paged and
 * the cursor are set here), so that any number of jobs or nodes can be
 * listed: every page's jobs or nodes are gathered in the one *reply.
 * With req->brief a controller that knows it sends briefs, an older one
 * jobs: *reply holds one or the other.
 */
int cmd_job_info(struct cmd *c, Meridian__JobInfoRequest *req,
		 Meridian__JobInfoReply **reply, struct mer_error *err);
int cmd_node_info(struct cmd *c, Meridian__NodeInfoRequest *req,
		  Meridian__NodeInfoReply **reply, struct mer_error *err);

/* True for the errno values that mean mctld could not be reached. */
bool cmd_errno_unreachable(int e);

/* --- job states ------------------------------------------------------ */

/* Names and codes of one state: states.h (mer_job_state_name, ...). */
/* Bit (1u << state) of each state named in a comma separated list of names
 * or codes; "all" gives every state.  0, or -1 with err. */
int cmd_job_states_parse(const char *list, uint32_t *mask,
			 struct mer_error *err);
#define CMD_STATE_BIT(s) (1u << (unsigned)(s))
#define CMD_STATES_ACTIVE                                                      \
	(CMD_STATE_BIT(MERIDIAN__JOB_STATE__JOB_PENDING) |                     \
	 CMD_STATE_BIT(MERIDIAN__JOB_STATE__JOB_RUNNING))
#define CMD_STATES_ALL 0x1feu /* PENDING .. DEADLINE */

/*
 * A node's state name ("IDLE", "DRAINING", ...): its node_state, or, when
 * that is NODE_STATE_UNKNOWN or a state this client does not know (an
 * older or a newer mctld), the string mctld sent in state; "UNKNOWN" when
 * that is empty too.  Static or the reply's storage.
 */
const char *cmd_node_state(const Meridian__NodeInfo *n);
/* Where a node's Up and Down rates come from: "controller" (probes to
 * it), "links" (the best of its links), NULL nowhere yet. */
const char *cmd_node_rates_from(const Meridian__NodeInfo *n);

/* --- values ---------------------------------------------------------- */

/* s, or dflt when s is NULL or empty. */
static inline const char *cmd_str_or(const char *s, const char *dflt)
{
	return s && *s ? s : dflt;
}
/* Append s to out (NULL: nothing). */
void cmd_add_str(struct strbuf *out, const char *s);
/* Append time t as YYYY-MM-DDTHH:MM:SS (local), or none when it is 0. */
void cmd_add_time(struct strbuf *out, int64_t t, const char *none);

/* Slurm's ExitCode "code:signal". */
void cmd_format_exit_code(int32_t code, int32_t sig, char *buf, size_t n);
/*
 * Elapsed seconds as Slurm prints them.  padded false (squeue, sinfo):
 * "0:05", "12:00", "1:02:03", "2-03:04:05".  padded true (scontrol):
 * "00:00:05", "01:02:03", "2-03:04:05".  Negative counts as 0.
 */
void cmd_format_secs(int64_t secs, bool padded, char *buf, size_t n);
/* A time limit in minutes for squeue/sinfo: unpadded as above, 0 gives
 * unlimited ("UNLIMITED", or "infinite" for sinfo when lower is true). */
void cmd_format_limit(uint32_t minutes, bool lower, char *buf, size_t n);
/* Micro-dollars as dollars: exact false rounds to cents ("2.10"); exact
 * true keeps every non-zero digit, at least two decimals ("2.105"). */
void cmd_format_price(int64_t micro, bool exact, char *buf, size_t n);
/* Bytes in the largest unit that says them exactly, as --comm-bytes
 * reads them: "64M", "1536K", "1000". */
void cmd_format_size(uint64_t bytes, char *buf, size_t n);
/* A rate in bit/s as "812 Mbit/s", "1.6 Gbit/s" (sep "" for Key=Value:
 * "812Mbit/s"); none when it is 0 or not a rate. */
void cmd_format_rate(double bps, const char *sep, const char *none, char *buf,
		     size_t n);

/* Parse a job id list "12,13 14" and append to *ids (malloc'd, grows).
 * 0, or -1 with err naming the bad item. */
int cmd_parse_job_ids(const char *list, uint32_t **ids, size_t *n,
		      struct mer_error *err);
/* Parse "alice,bob,1002" into uids appended to *uids.  0 or -1 with err
 * ("Invalid user: bob"). */
int cmd_parse_users(const char *list, uint32_t **uids, size_t *n,
		    struct mer_error *err);
/* sacct's -S/-E TIME: as --begin's absolute forms (parse_begin), and
 * now-N[unit], HH:MM[:SS], midnight, today and noon meaning today's, in
 * the past or not.  0, or -1 with err. */
int cmd_parse_past_time(const char *s, const char *what, int64_t now,
			int64_t *when, struct mer_error *err);
/* A signal by name ("USR1", "SIGUSR1", "usr1") or number (1..64). */
int cmd_parse_signal(const char *s, int *sig, struct mer_error *err);
/* The name of a signal without "SIG" ("TERM"), or NULL when not known. */
const char *cmd_signal_name(int sig);

/*
 * The path a job's output goes to, as mstepd names it (iopath.h):
 * pattern (or default_pattern when pattern is "") with %j %J %A (job id),
 * %a %n %t (array index, node and task number: 0 until those exist), %s
 * ("batch"), %x (name), %u (user), %N (batch host, or "%N" before the job
 * has one), %% and the zero padded form %5j expanded, made absolute
 * against the job's work dir.  malloc'd.
 */
/* A job's id as squeue writes it: "12", a task of an array "10_3", an
 * array's tasks still pending "10_[4-99%5]" (appended to out). */
void cmd_job_id_str(const Meridian__JobRecord *j, struct strbuf *out);
/* An array's task ids, "3" or the pending ranges "4-99%5"; "" outside an
 * array. */
void cmd_array_tasks_str(const Meridian__JobRecord *j, struct strbuf *out);
char *cmd_expand_std_path(const char *pattern, const char *default_pattern,
			  const Meridian__JobRecord *job);

/* GPUs of a job as Slurm's TRES names them: "gres/gpu:a100:2" or "" when
 * none; per_node tells whether the count is per node.  buf >= 96 bytes. */
void cmd_job_gres(const Meridian__JobRecord *job, char *buf, size_t n,
		  bool *per_node);
/* CPUs of a job: its allocation once it has one, else what it asked. */
uint32_t cmd_job_cpus(const Meridian__JobRecord *job);
/* Nodes of a job in force, at least 1. */
uint32_t cmd_job_nodes(const Meridian__JobRecord *job);
/* Seconds a job has run (till now for a running job). */
int64_t cmd_job_run_secs(const Meridian__JobRecord *job, int64_t now);

/* Append the items of a comma separated list to *items (malloc'd, free
 * with cmd_list_free). */
void cmd_list_split(const char *list, char ***items, size_t *n);
void cmd_list_free(char **items, size_t n);
bool cmd_list_has(char *const *items, size_t n, const char *s);

/* What a per-job result of a cancel, hold or release says, in scancel's
 * words when mctld sent no text.  Static or the reply's storage. */
const char *cmd_job_result_text(const Meridian__JobActionResult *r);

/* --- the -o FORMAT column printer ------------------------------------ */

/*
 * A column a command can print.  get appends the column's text for one row
 * to out; ctx is whatever the command passes (e.g. the reply's "now").
 */
struct cmd_column {
	char spec;	   /* the letter after '%' */
	const char *title; /* header text */
	void (*get)(const void *row, const void *ctx, struct strbuf *out);
};

/*
 * A parsed format such as squeue's "%.18i %.9P %.8j %R": literal text and
 * fields "%[.][WIDTH|#]LETTER".  Without a width a field is printed as is
 * (so "%i|%j" stays parseable); with WIDTH it is padded to WIDTH and cut
 * to WIDTH characters, left justified, or right justified with '.'; '#'
 * sizes the column to its widest cell.  "%%" is a '%'.
 */
struct cmd_fmt;

/* cols ends with an entry whose spec is 0.  NULL with err naming the bad
 * field ("Invalid format specification: %z"). */
struct cmd_fmt *cmd_fmt_parse(const char *format, const struct cmd_column *cols,
			      struct mer_error *err);
void cmd_fmt_free(struct cmd_fmt *f); /* accepts NULL */
bool cmd_fmt_uses(const struct cmd_fmt *f, char spec);
/* Whether every field of f has its letter in specs. */
bool cmd_fmt_uses_only(const struct cmd_fmt *f, const char *specs);
/* Render one row now (row need not outlive the call). */
void cmd_fmt_add(struct cmd_fmt *f, const void *row, const void *ctx);
size_t cmd_fmt_rows(const struct cmd_fmt *f);
/*
 * The text of every field whose letter is not in skip, joined by '\037':
 * rows with equal keys print alike but for the skipped columns (mnodes
 * groups nodes by it).  malloc'd.
 */
char *cmd_fmt_key(const struct cmd_fmt *f, const void *row, const void *ctx,
		  const char *skip);
/* Print the header (when header) and every row added; trailing blanks of
 * each line are dropped. */
void cmd_fmt_print(const struct cmd_fmt *f, bool header, FILE *out);

/* Job steps (mrun), as mqueue --steps and mctl show step show them. */
/* A step asked for on a command line: "12" (every step of job 12, then
 * any_step) or "12.3".  false when tok is neither. */
struct cmd_step_ref {
	uint32_t job_id;
	uint32_t step_id;
	bool any_step;
};
bool cmd_parse_step_ref(const char *tok, struct cmd_step_ref *ref);
/* The step's description (an empty one when the record has none). */
const Meridian__StepDesc *cmd_step_desc(const Meridian__StepRecord *s);
/* Its name: mctld fills it, else argv[0]'s base name as mrun would. */
const char *cmd_step_name(const Meridian__StepRecord *s);
/* qsort comparator for an array of StepRecord pointers, by step id. */
int cmd_step_cmp_id(const void *a, const void *b);
/* Slurm's code:signal.  A step's exit_code is the worst rank's status,
 * 128 + S for a rank killed by signal S: that one shows as 0:S. */
void cmd_step_exit_str(const Meridian__StepRecord *s, char *buf, size_t n);

#endif
