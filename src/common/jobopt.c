/*
 * jobopt.c - the options of a job, one table for the command line and for
 * "#SBATCH"/"#MERIDIAN" directives, shared by mbatch and mrun.
 *
 * The table below is the only list of options: it builds getopt_long's
 * struct option array and option string at each parse, and each entry names
 * how its value is read (a kind, with a setter per kind), which field of
 * struct jobopt it fills and which commands offer it.  A directive therefore
 * means exactly what the same option means on the command line, and -N
 * means the same to mbatch and to mrun.
 *
 * getopt keeps its state in globals; each parse starts with optind = 0,
 * which makes glibc re-initialise it completely, so parses may follow one
 * another (directives, then the command line).  opterr = 0: a library does
 * not print, the errors below name the source instead.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "array.h"
#include "depend.h"
#include "hostlist.h"
#include "jobopt.h"
#include "parse.h"
#include "util.h"

#define ECHO_MAX 40

enum okind {
	O_STR,	   /* char *, not empty */
	O_U32,	   /* uint32_t in [min, max] */
	O_MEM,	   /* --mem: uint64_t MiB */
	O_TIME,	   /* -t: minutes, sets time_set */
	O_GRES,	   /* --gres=gpu[:TYPE]:N: gpus_per_node, gpu_type */
	O_GPUS,	   /* --gpus=[TYPE:]N: gpus, gpu_type */
	O_GPN,	   /* --gpus-per-node=[TYPE:]N: gpus_per_node, gpu_type */
	O_EXPORT,  /* --export: checked, kept as written */
	O_MONEY,   /* --max-price: micro-dollars */
	O_COMM,	   /* --comm=ring|pipeline[:STAGES]|none: comm, comm_stages */
	O_BYTES,   /* --comm-bytes: uint64_t bytes, 1 to 1T */
	O_NAME,	   /* char *, a plain name (letters, digits, "._-") */
	O_NAMES,   /* char *, O_NAME names with commas between */
	O_COUNTRY, /* char *, ISO 3166 codes, commas between, upper case */
	O_FLAG,	   /* bool set to true */
	O_CHOICE,  /* char *, one of the words of arg ("none|cores") */
	O_OPTBOOL, /* int: 1 without a value, else 0 or 1 (-K0) */
	O_COUNT,   /* int, one more each time (-vv) */
	O_DEP,	   /* char *, --dependency's form (depend.h), kept as written */
	O_BEGIN,   /* int64_t, --begin's forms (parse_begin), epoch seconds */
	O_HOSTS,   /* char *, a hostlist of node names, kept as written */
	O_SIGNAL,  /* --signal=[B:]SIG[@SECONDS]: signal, _secs, _batch */
	O_NICE,	   /* int32_t, --nice[=N]: 100 without a value */
	O_REQUEUE, /* int set to min: --requeue 1, --no-requeue 2 */
	O_MAIL,	   /* uint32_t, --mail-type's words to bits */
	O_ARRAY,   /* char *, --array's form (array.h), kept as written */
	O_NODES,   /* -N: N or MIN-MAX into nodes and max_nodes */
	O_CPUBIND, /* char *, --cpu-bind: Slurm's words mapped, or refused */
};

struct optdef {
	const char *name; /* long name */
	int short_name;	  /* 0: long only */
	enum okind kind;
	size_t off; /* field in struct jobopt */
	uint32_t min, max;
	const char *arg;   /* the value's name, for messages; for O_CHOICE
			    * the words allowed, '|' between them */
	bool cmdline_only; /* refused in a directive */
	unsigned cmds;	   /* enum jobopt_cmd bits: who offers it */
};

#define F(f) offsetof(struct jobopt, f)

#define MB   JOBOPT_MBATCH
#define MR   JOBOPT_MRUN
#define BOTH (JOBOPT_MBATCH | JOBOPT_MRUN)

static const struct optdef opts[] = {
	{"job-name", 'J', O_STR, F(name), 0, 0, "NAME", false, BOTH},
	{"account", 'A', O_STR, F(account), 0, 0, "ACCOUNT", false, BOTH},
	{"qos", 'q', O_STR, F(qos), 0, 0, "QOS", false, BOTH},
	{"partition", 'p', O_STR, F(partition), 0, 0, "PARTITION", false, BOTH},
	{"chdir", 'D', O_STR, F(work_dir), 0, 0, "DIR", false, BOTH},
	{"output", 'o', O_STR, F(std_out), 0, 0, "PATTERN", false, BOTH},
	{"error", 'e', O_STR, F(std_err), 0, 0, "PATTERN", false, BOTH},
	{"input", 'i', O_STR, F(std_in), 0, 0, "FILE", false, MB},
	{"nodes", 'N', O_NODES, F(nodes), 1, 65536, "N[-MAX]", false, BOTH},
	{"ntasks", 'n', O_U32, F(ntasks), 1, 1048576, "N", false, BOTH},
	{"ntasks-per-node", 0, O_U32, F(ntasks_per_node), 1, 4096, "N", false,
	 BOTH},
	{"tasks-per-node", 0, O_U32, F(ntasks_per_node), 1, 4096, "N", false,
	 BOTH},
	{"cpus-per-task", 'c', O_U32, F(cpus_per_task), 1, 4096, "N", false,
	 BOTH},
	{"mem", 0, O_MEM, F(mem_mb), 0, 0, "SIZE", false, BOTH},
	{"mem-per-cpu", 0, O_MEM, F(mem_per_cpu), 0, 0, "SIZE", false, MB},
	{"gpus", 'G', O_GPUS, F(gpus), 0, 0, "[TYPE:]N", false, BOTH},
	{"gpus-per-node", 0, O_GPN, F(gpus_per_node), 0, 0, "[TYPE:]N", false,
	 BOTH},
	{"gres", 0, O_GRES, F(gpus_per_node), 0, 0, "gpu[:TYPE]:N", false,
	 BOTH},
	{"time", 't', O_TIME, F(time_limit), 0, 0, "TIME", false, BOTH},
	{"export", 0, O_EXPORT, F(export_spec), 0, 0, "NONE|ALL|[ALL,]VARS",
	 false, BOTH},
	{"max-price", 0, O_MONEY, F(max_price), 0, 0, "DOLLARS", false, BOTH},
	{"comm", 0, O_COMM, F(comm), 0, 0, "ring|pipeline[:STAGES]|none", false,
	 BOTH},
	{"comm-bytes", 0, O_BYTES, F(comm_bytes), 0, 0, "SIZE", false, BOTH},
	{"min-tier", 0, O_NAME, F(min_tier), 0, 0, "NAME", false, BOTH},
	{"region", 0, O_NAMES, F(regions), 0, 0, "NAME[,NAME...]", false, BOTH},
	{"country", 0, O_COUNTRY, F(countries), 0, 0, "CC[,CC...]", false,
	 BOTH},
	{"array", 'a', O_ARRAY, F(array), 0, 0, "INDEXES", false, MB},
	{"dependency", 'd', O_DEP, F(dependency), 0, 0, "TYPE:JOBID[:JOBID...]",
	 false, MB},
	{"kill-on-invalid-dep", 0, O_CHOICE, F(kill_on_invalid_dep), 0, 0,
	 "yes|no", false, MB},
	{"exclusive", 0, O_FLAG, F(exclusive), 0, 0, NULL, false, BOTH},
	{"constraint", 'C', O_STR, F(constraint), 0, 0, "FEATURES", false, MB},
	{"nodelist", 'w', O_HOSTS, F(nodelist), 0, 0, "NODES", false, MB},
	{"exclude", 'x', O_HOSTS, F(exclude), 0, 0, "NODES", false, MB},
	{"comment", 0, O_STR, F(comment), 0, 0, "TEXT", false, MB},
	{"open-mode", 0, O_CHOICE, F(open_mode), 0, 0, "append|truncate", false,
	 MB},
	{"begin", 'b', O_BEGIN, F(begin), 0, 0, "TIME", false, MB},
	{"deadline", 0, O_BEGIN, F(deadline), 0, 0, "TIME", false, MB},
	{"wait", 'W', O_FLAG, F(wait), 0, 0, NULL, false, MB},
	{"nice", 0, O_NICE, F(nice), 0, 0, "N", false, MB},
	{"mail-type", 0, O_MAIL, F(mail_type), 0, 0, "TYPE[,TYPE...]", false,
	 MB},
	{"mail-user", 0, O_STR, F(mail_user), 0, 0, "USER", false, MB},
	{"requeue", 0, O_REQUEUE, F(requeue), 1, 0, NULL, false, MB},
	{"no-requeue", 0, O_REQUEUE, F(requeue), 2, 0, NULL, false, MB},
	{"signal", 0, O_SIGNAL, F(signal), 0, 0, "[B:]SIG[@SECONDS]", false,
	 MB},
	{"hold", 'H', O_FLAG, F(hold), 0, 0, NULL, false, MB},
	{"parsable", 0, O_FLAG, F(parsable), 0, 0, NULL, false, MB},
	{"wrap", 0, O_STR, F(wrap), 0, 0, "COMMAND", true, MB},
	{"gpus-per-task", 0, O_U32, F(gpus_per_task), 1, 65536, "N", false, MR},
	{"cpu-bind", 0, O_CPUBIND, F(cpu_bind), 0, 0, "none|cores|gpu-local",
	 false, MR},
	/* srun's older spelling, which it still takes */
	{"cpu_bind", 0, O_CPUBIND, F(cpu_bind), 0, 0, "none|cores|gpu-local",
	 false, MR},
	{"label", 'l', O_FLAG, F(label), 0, 0, NULL, false, MR},
	{"mpi", 0, O_CHOICE, F(mpi), 0, 0, "pmi1|pmi2|none|list", false, MR},
	{"pty", 0, O_FLAG, F(pty), 0, 0, NULL, false, MR},
	{"kill-on-bad-exit", 'K', O_OPTBOOL, F(kill_on_bad_exit), 0, 1, "0|1",
	 false, MR},
	{"finalize-timeout", 0, O_U32, F(finalize_timeout), 1, 86400, "SECONDS",
	 false, MR},
	{"verbose", 'v', O_COUNT, F(verbose), 0, 0, NULL, false, MR},
	{"config", 'f', O_STR, F(conf_path), 0, 0, "FILE", true, MR},
	{"help", 'h', O_FLAG, F(help), 0, 0, NULL, true, BOTH},
	{"usage", 0, O_FLAG, F(usage), 0, 0, NULL, true, BOTH},
	{"version", 'V', O_FLAG, F(version), 0, 0, NULL, true, BOTH},
};

#undef MB
#undef MR
#undef BOTH
#undef F

#define NOPTS (sizeof(opts) / sizeof(opts[0]))
/* getopt_long's val for an option with no short name. */
#define LONG_ONLY_BASE 256

static const char help_text[] =
	"Usage: mbatch [OPTIONS] SCRIPT [ARGS...]\n"
	"       mbatch [OPTIONS] --wrap=COMMAND\n"
	"Submit a batch script.  Options may also be given in the script on\n"
	"\"#SBATCH\" or \"#MERIDIAN\" lines before its first command; the\n"
	"command line wins over the script.\n"
	"\n"
	"  -J, --job-name=NAME        name of the job (default: script name)\n"
	"  -A, --account=ACCOUNT      account to charge\n"
	"  -q, --qos=QOS              quality of service (QosName=)\n"
	"  -p, --partition=PARTITION  partition (default: the Default=YES "
	"one)\n"
	"  -D, --chdir=DIR            working directory of the script\n"
	"  -o, --output=PATTERN       stdout file (default meridian-%j.out);\n"
	"                             %j job id, %x name, %u user, %N node,\n"
	"                             %A array master id, %a array index\n"
	"  -e, --error=PATTERN        stderr file (default: with stdout)\n"
	"  -i, --input=FILE           stdin file (default /dev/null)\n"
	"  -N, --nodes=N[-MAX]        number of nodes: N, or from N up to MAX\n"
	"                             as many as are free when it starts\n"
	"  -n, --ntasks=N             number of tasks\n"
	"      --ntasks-per-node=N    tasks on each node\n"
	"  -c, --cpus-per-task=N      CPUs for each task\n"
	"      --mem=SIZE             memory per node: MiB, or with K/M/G/T\n"
	"      --mem-per-cpu=SIZE     memory per CPU (instead of --mem)\n"
	"  -G, --gpus=[TYPE:]N        GPUs for the job, of one model if TYPE\n"
	"      --gpus-per-node=[TYPE:]N  GPUs on each node\n"
	"      --gres=gpu[:TYPE]:N    GPUs on each node, Slurm's form\n"
	"  -t, --time=TIME            time limit: MINUTES, MM:SS, HH:MM:SS,\n"
	"                             D-HH, D-HH:MM, D-HH:MM:SS or UNLIMITED\n"
	"      --exclusive            whole nodes, shared with no other job\n"
	"  -C, --constraint=FEATURES  nodes with these Features=: a&b (or\n"
	"                             a,b) all of them, a|b any\n"
	"  -w, --nodelist=NODES       on these nodes (a hostlist: n[1-4])\n"
	"  -x, --exclude=NODES        never on these nodes\n"
	"  -b, --begin=TIME           not before TIME: now+1hour, 16:00,\n"
	"                             2026-12-24T08:00, tomorrow ...\n"
	"      --deadline=TIME        ended (DEADLINE) if it cannot finish\n"
	"                             by TIME (a time as --begin takes)\n"
	"      --comment=TEXT         a comment kept with the job\n"
	"      --open-mode=append|truncate\n"
	"                             output files (default truncate)\n"
	"  -W, --wait                 return when the job ends, with its\n"
	"                             exit code\n"
	"      --nice[=N]             N (default 100) less priority\n"
	"      --mail-type=TYPE[,TYPE...]\n"
	"                             mail at BEGIN, END, FAIL, REQUEUE or\n"
	"                             ALL of them (MailProg= sends it)\n"
	"      --mail-user=USER       to USER (default: the job's user)\n"
	"      --requeue, --no-requeue\n"
	"                             run it again when a node of it is lost\n"
	"                             (default JobRequeue=), or never\n"
	"      --signal=[B:]SIG[@SECONDS]\n"
	"                             SIG to its steps (B: the batch script)\n"
	"                             SECONDS (default 60) before its time\n"
	"                             limit\n"
	"      --export=NONE|ALL|[ALL,]VAR[=VALUE],...\n"
	"                             environment the job gets (default ALL)\n"
	"      --max-price=DOLLARS    highest price per GPU-hour, e.g. 2.50\n"
	"      --comm=ring|pipeline[:STAGES]|none\n"
	"                             how the ranks talk, for placement: a\n"
	"                             ring (the default), a pipeline of\n"
	"                             STAGES stages (dividing the nodes;\n"
	"                             default one per node) or none\n"
	"      --comm-bytes=SIZE      bytes a rank sends per step: bytes or\n"
	"                             with K/M/G/T (default 256M)\n"
	"      --min-tier=NAME        only nodes of this BandwidthTiers= tier\n"
	"                             or above\n"
	"      --region=NAME[,NAME...]\n"
	"                             only nodes of these regions\n"
	"                             (RegionName=)\n"
	"      --country=CC[,CC...]   only nodes of regions in these\n"
	"                             countries (ISO 3166 codes, such as DE)\n"
	"  -a, --array=INDEXES        a job array: one task per index, such\n"
	"                             as 0-99, 1,3,5-9 or 0-99:4; %N runs at\n"
	"                             most N at once (SLURM_ARRAY_TASK_ID)\n"
	"  -d, --dependency=TYPE:JOBID[:JOBID...][,|?...]\n"
	"                             start only after other jobs: TYPE\n"
	"                             after (started; after:ID+MIN minutes\n"
	"                             later), afterany (ended), afterok\n"
	"                             (COMPLETED), afternotok (ended other-\n"
	"                             wise), aftercorr (array task i after\n"
	"                             task i); or singleton (no\n"
	"                             other job of this name and user ahead);\n"
	"                             ',' all of them, '?' any one\n"
	"      --kill-on-invalid-dep=yes|no\n"
	"                             cancel the job when its dependency can\n"
	"                             never be met (default no: it waits,\n"
	"                             DependencyNeverSatisfied)\n"
	"  -H, --hold                 submit the job held (mctl release ID)\n"
	"      --parsable             print only the job id\n"
	"      --wrap=COMMAND         run COMMAND in a generated sh script\n"
	"  -h, --help                 this help\n"
	"      --usage                a short usage line\n"
	"  -V, --version              print the version\n";

static const char mrun_help_text[] =
	"Usage: mrun [OPTIONS] PROGRAM [ARGS...]\n"
	"Run PROGRAM as the tasks (ranks) of a job step.  Inside a job\n"
	"(MERIDIAN_JOB_ID or SLURM_JOB_ID set) the step runs on that job's\n"
	"nodes; elsewhere mrun first asks for an allocation, waits for it,\n"
	"runs the step and gives the allocation back.\n"
	"\n"
	"The step:\n"
	"  -n, --ntasks=N             number of tasks (default: the job's,\n"
	"                             else one per node)\n"
	"  -N, --nodes=N              number of nodes\n"
	"      --ntasks-per-node=N    tasks on each node\n"
	"  -c, --cpus-per-task=N      CPUs for each task\n"
	"      --gpus-per-task=N      GPUs for each task\n"
	"      --gpus-per-node=[TYPE:]N  GPUs on each node\n"
	"      --cpu-bind=none|cores|gpu-local\n"
	"                             how tasks are bound (default gpu-local:\n"
	"                             the cores near each task's GPUs); also\n"
	"                             srun's --cpu_bind, \"no\" and \"quiet\"\n"
	"      --mpi=pmi1|pmi2|none|list\n"
	"                             serve PMI-1 to the tasks (default "
	"pmi1),\n"
	"                             PMI-2 (and PMI-1 to a PMI-1 client), or\n"
	"                             no PMI; list: the types, then exit\n"
	"      --exclusive            CPUs of its own: no other --exclusive\n"
	"                             step shares them (the step waits until\n"
	"                             enough are free); outside a job, whole\n"
	"                             nodes too\n"
	"  -l, --label                prefix each output line with \"RANK: \"\n"
	"  -o, --output=PATTERN       each task's stdout to a file (default:\n"
	"                             to mrun); %t task, %n node index, %j\n"
	"                             job, %s step, %N node, %u user, %x name\n"
	"  -e, --error=PATTERN        each task's stderr to a file\n"
	"      --export=NONE|ALL|[ALL,]VAR[=VALUE],...\n"
	"                             environment the tasks get (default ALL)\n"
	"  -D, --chdir=DIR            working directory of the tasks (default\n"
	"                             the current directory)\n"
	"  -J, --job-name=NAME        name of the step (and of a new job)\n"
	"      --pty                  one task on a pseudo-terminal, this\n"
	"                             terminal in raw mode (mrun --pty bash)\n"
	"  -K, --kill-on-bad-exit[=0|1]\n"
	"                             end the step when a task fails (default\n"
	"                             1; -K0 lets the other tasks run on)\n"
	"      --finalize-timeout=SECONDS\n"
	"                             kill a task still alive this long after\n"
	"                             MPI_Finalize (default FinalizeTimeout=)\n"
	"\n"
	"A new allocation (outside a job) also takes:\n"
	"  -t, --time=TIME            time limit: MINUTES, MM:SS, HH:MM:SS,\n"
	"                             D-HH, D-HH:MM, D-HH:MM:SS or UNLIMITED\n"
	"  -p, --partition=PARTITION  partition (default: the Default=YES "
	"one)\n"
	"  -A, --account=ACCOUNT      account to charge\n"
	"  -q, --qos=QOS              quality of service (QosName=)\n"
	"      --mem=SIZE             memory per node: MiB, or with K/M/G/T\n"
	"  -G, --gpus=[TYPE:]N        GPUs for the job, of one model if TYPE\n"
	"      --gres=gpu[:TYPE]:N    GPUs on each node, Slurm's form\n"
	"      --max-price=DOLLARS    highest price per GPU-hour, e.g. 2.50\n"
	"      --comm=ring|pipeline[:STAGES]|none\n"
	"                             how the ranks talk, for placement: a\n"
	"                             ring (the default), a pipeline of\n"
	"                             STAGES stages (dividing the nodes;\n"
	"                             default one per node) or none\n"
	"      --comm-bytes=SIZE      bytes a rank sends per step: bytes or\n"
	"                             with K/M/G/T (default 256M)\n"
	"      --min-tier=NAME        only nodes of this BandwidthTiers= tier\n"
	"                             or above\n"
	"      --region=NAME[,NAME...]\n"
	"                             only nodes of these regions\n"
	"                             (RegionName=)\n"
	"      --country=CC[,CC...]   only nodes of regions in these\n"
	"                             countries (ISO 3166 codes, such as DE)\n"
	"\n"
	"  -v, --verbose              say what mrun does (on stderr)\n"
	"  -f, --config=FILE          meridian.conf to read (default "
	"$MERIDIAN_CONF)\n"
	"  -h, --help                 this help\n"
	"      --usage                a short usage line\n"
	"  -V, --version              print the version\n"
	"\n"
	"Standard input goes to task 0.  SIGINT, SIGTERM, SIGHUP, SIGQUIT,\n"
	"SIGUSR1 and SIGUSR2 are passed to every task; a second SIGINT within\n"
	"one second ends the step.  Exit status: the worst task's (its exit\n"
	"code, or 128+N when killed by signal N); 1 when the step could not\n"
	"run, 2 bad usage, 3 controller unreachable.\n";

const char *jobopt_help(void)
{
	return help_text;
}

const char *jobopt_help_cmd(enum jobopt_cmd cmd)
{
	return cmd == JOBOPT_MRUN ? mrun_help_text : help_text;
}

static const char *cmd_name(enum jobopt_cmd cmd)
{
	return cmd == JOBOPT_MRUN ? "mrun" : "mbatch";
}

void jobopt_init(struct jobopt *o)
{
	memset(o, 0, sizeof(*o));
	o->kill_on_bad_exit = -1;
}

void jobopt_free(struct jobopt *o)
{
	if (!o)
		return;
	for (size_t i = 0; i < NOPTS; i++)
		if (opts[i].kind == O_STR || opts[i].kind == O_EXPORT ||
		    opts[i].kind == O_CHOICE || opts[i].kind == O_NAME ||
		    opts[i].kind == O_NAMES || opts[i].kind == O_COUNTRY ||
		    opts[i].kind == O_DEP || opts[i].kind == O_HOSTS ||
		    opts[i].kind == O_ARRAY || opts[i].kind == O_CPUBIND) {
			/* NULL after: two spellings may share a field */
			char **f = (char **)((char *)o + opts[i].off);

			free(*f);
			*f = NULL;
		}
	free(o->gpu_type);
	jobopt_init(o);
}

/* ------------------------------------------------------------------ */
/* setters, one per kind */

typedef int (*setter_fn)(struct jobopt *o, const struct optdef *d,
			 const char *what, const char *v,
			 struct mer_error *err);

static void *field(struct jobopt *o, const struct optdef *d)
{
	return (char *)o + d->off;
}

static int set_str(struct jobopt *o, const struct optdef *d, const char *what,
		   const char *v, struct mer_error *err)
{
	char **f = field(o, d);

	if (!*v)
		return mer_error_set(err, "%s is empty, expected %s=%s", what,
				     what, d->arg);
	free(*f);
	*f = xstrdup(v);
	return 0;
}

static int set_u32(struct jobopt *o, const struct optdef *d, const char *what,
		   const char *v, struct mer_error *err)
{
	return parse_u32(v, what, d->min, d->max, field(o, d), err);
}

static int set_mem(struct jobopt *o, const struct optdef *d, const char *what,
		   const char *v, struct mer_error *err)
{
	return parse_size_mb(v, what, field(o, d), err);
}

static int set_time(struct jobopt *o, const struct optdef *d, const char *what,
		    const char *v, struct mer_error *err)
{
	if (parse_time_minutes(v, what, &o->time_limit, err) < 0)
		return -1;
	o->time_set = true;
	return 0;
}

/* The model is part of the request: a later option without one means any
 * model, so it always replaces what an earlier one said. */
static void set_gpu_type(struct jobopt *o, char *type)
{
	free(o->gpu_type);
	o->gpu_type = NULL;
	if (*type)
		o->gpu_type = type;
	else
		free(type);
}

static int set_gres(struct jobopt *o, const struct optdef *d, const char *what,
		    const char *v, struct mer_error *err)
{
	char *type;
	uint32_t n;

	if (parse_gres_gpu(v, what, &type, &n, err) < 0)
		return -1;
	*(uint32_t *)field(o, d) = n;
	set_gpu_type(o, type);
	return 0;
}

/* --gpus and --gpus-per-node: "N" or "TYPE:N", the gres form less "gpu:". */
static int set_gpus(struct jobopt *o, const struct optdef *d, const char *what,
		    const char *v, struct mer_error *err)
{
	char *gres = xasprintf("gpu:%s", v), *type;
	uint32_t n;
	int rc;

	/* Without a ':' it is a count: "a100" alone is a model without one. */
	if (!strchr(v, ':') && strspn(v, "0123456789") != strlen(v))
		rc = -1;
	else
		rc = parse_gres_gpu(gres, what, &type, &n, NULL);
	free(gres);
	if (rc < 0)
		return mer_error_set(err,
				     "%s=%.*s: expected N or TYPE:N, such "
				     "as 2 or a100:2",
				     what, ECHO_MAX, v);
	*(uint32_t *)field(o, d) = n;
	set_gpu_type(o, type);
	return 0;
}

static bool is_var_name(const char *s, size_t n)
{
	if (n == 0 || !(isalpha((unsigned char)*s) || *s == '_'))
		return false;
	for (size_t i = 1; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '_')
			return false;
	return true;
}

/* NONE | ALL | [ALL,|NONE,]VAR[=VALUE][,VAR[=VALUE]...] */
static int set_export(struct jobopt *o, const struct optdef *d,
		      const char *what, const char *v, struct mer_error *err)
{
	const char *p = v;
	bool first = true;

	if (!*v)
		goto bad;
	for (;;) {
		size_t len = strcspn(p, ","), name_len = strcspn(p, ",=");

		if (first && ((len == 3 && strncasecmp(p, "ALL", 3) == 0) ||
			      (len == 4 && strncasecmp(p, "NONE", 4) == 0))) {
			/* the base set */
		} else if (!is_var_name(p, name_len)) {
			return mer_error_set(
				err,
				"%s=%.*s: '%.*s' is not a "
				"variable name, expected "
				"NONE, ALL or [ALL,]VAR[="
				"VALUE],...",
				what, ECHO_MAX, v,
				(int)(name_len > 32 ? 32 : name_len), p);
		}
		first = false;
		p += len;
		if (*p == '\0')
			break;
		p++;
		if (*p == '\0')
			goto bad;
	}
	return set_str(o, d, what, v, err);
bad:
	return mer_error_set(err,
			     "%s=%.*s: expected NONE, ALL or "
			     "[ALL,]VAR[=VALUE],...",
			     what, ECHO_MAX, v);
}

static int set_money(struct jobopt *o, const struct optdef *d, const char *what,
		     const char *v, struct mer_error *err)
{
	return parse_money(v, what, field(o, d), err);
}

/* ring, pipeline, pipeline:STAGES or none (any case); a later --comm
 * replaces the stages too. */
static int set_comm(struct jobopt *o, const struct optdef *d, const char *what,
		    const char *v, struct mer_error *err)
{
	static const struct {
		const char *word;
		enum jobopt_comm comm;
	} words[] = {
		{"ring", JOBOPT_COMM_RING},
		{"pipeline", JOBOPT_COMM_PIPELINE},
		{"none", JOBOPT_COMM_NONE},
	};
	size_t n = strcspn(v, ":");
	uint32_t stages = 0;

	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
		if (strlen(words[i].word) != n ||
		    strncasecmp(v, words[i].word, n) != 0)
			continue;
		if (v[n] && words[i].comm != JOBOPT_COMM_PIPELINE)
			break;
		if (v[n] &&
		    parse_u32(v + n + 1, what, 1, 65536, &stages, NULL) < 0)
			return mer_error_set(err,
					     "%s=%.*s: expected "
					     "pipeline:STAGES with STAGES a "
					     "whole number from 1 to 65536",
					     what, ECHO_MAX, v);
		*(int *)field(o, d) = (int)words[i].comm;
		o->comm_stages = stages;
		return 0;
	}
	return mer_error_set(err,
			     "%s=%.*s: expected ring, pipeline, "
			     "pipeline:STAGES or none",
			     what, ECHO_MAX, v);
}

/* Bytes, or with a K, M, G or T suffix (any case, powers of 1024: the
 * suffixes --mem reads, but a bare number is bytes), 1 to 1T. */
static int set_bytes(struct jobopt *o, const struct optdef *d, const char *what,
		     const char *v, struct mer_error *err)
{
	const char *p = v;
	uint64_t n = 0;
	unsigned shift;

	if (!isdigit((unsigned char)*p))
		goto bad;
	/* Past the limit only "too large" matters: stop growing n there,
	 * so that it cannot overflow. */
	for (; isdigit((unsigned char)*p); p++)
		if (n <= JOBOPT_COMM_BYTES_MAX)
			n = n * 10 + (uint64_t)(*p - '0');
	switch (toupper((unsigned char)*p)) {
	case '\0':
		shift = 0;
		break;
	case 'K':
		shift = 10;
		break;
	case 'M':
		shift = 20;
		break;
	case 'G':
		shift = 30;
		break;
	case 'T':
		shift = 40;
		break;
	default:
		goto bad;
	}
	if (*p && p[1] != '\0')
		goto bad;
	if (n == 0 || n > JOBOPT_COMM_BYTES_MAX >> shift)
		return mer_error_set(err,
				     "%s=%.*s: expected a size from 1 byte "
				     "to 1T, such as 65536, 64M or 1G",
				     what, ECHO_MAX, v);
	*(uint64_t *)field(o, d) = n << shift;
	return 0;
bad:
	return mer_error_set(err,
			     "%s=%.*s: expected a size in bytes or with a "
			     "K, M, G or T suffix, such as 65536, 64M or 1G",
			     what, ECHO_MAX, v);
}

/* A name as meridian.conf's names are written (a tier, say): whether one
 * exists is for the controller to say. */
static int set_name(struct jobopt *o, const struct optdef *d, const char *what,
		    const char *v, struct mer_error *err)
{
	for (const char *p = v; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr("._-", *p))
			return mer_error_set(err,
					     "%s=%.*s: expected a name of "
					     "letters, digits, '.', '_' and "
					     "'-'",
					     what, ECHO_MAX, v);
	return set_str(o, d, what, v, err);
}

/* Names as set_name takes them, with commas between (--region=A,B): no
 * name empty.  Kept as written; the controller says which exist. */
static int set_names(struct jobopt *o, const struct optdef *d, const char *what,
		     const char *v, struct mer_error *err)
{
	for (const char *p = v; *p; p++)
		if ((!isalnum((unsigned char)*p) && !strchr("._-,", *p)) ||
		    (*p == ',' && (p == v || p[-1] == ',' || !p[1])))
			return mer_error_set(err,
					     "%s=%.*s: expected names of "
					     "letters, digits, '.', '_' and "
					     "'-' with commas between, such as "
					     "eu-west,us-east",
					     what, ECHO_MAX, v);
	return set_str(o, d, what, v, err);
}

/* Two-letter ISO 3166-1 codes with commas between (--country=de,FR), in
 * any case: kept in upper case, as meridian.conf's Country= is.  Only the
 * form is checked.  ASCII only, by hand: isalpha and toupper would follow
 * a locale (a Turkish one upper-cases 'i' to no ASCII letter). */
static int set_country(struct jobopt *o, const struct optdef *d,
		       const char *what, const char *v, struct mer_error *err)
{
	char **f = field(o, d);
	size_t n = strlen(v);

	/* "CC", "CC,CC", ...: letters at positions 0 and 1 of each 3 */
	for (size_t i = 0; i < n; i++) {
		char ch = v[i] >= 'a' && v[i] <= 'z' ? (char)(v[i] - 'a' + 'A')
						     : v[i];

		if (i % 3 == 2 ? ch != ',' : ch < 'A' || ch > 'Z')
			goto bad;
	}
	if (n && n % 3 != 2)
		goto bad;
	if (set_str(o, d, what, v, err) < 0)
		return -1;
	for (char *p = *f; *p; p++)
		if (*p >= 'a' && *p <= 'z')
			*p = (char)(*p - 'a' + 'A');
	return 0;
bad:
	return mer_error_set(err,
			     "%s=%.*s: expected two-letter ISO 3166 codes "
			     "with commas between, such as DE or DE,FR",
			     what, ECHO_MAX, v);
}

static int set_flag(struct jobopt *o, const struct optdef *d, const char *what,
		    const char *v, struct mer_error *err)
{
	*(bool *)field(o, d) = true;
	return 0;
}

/* One of the words of d->arg, stored as the table spells it. */
static int set_choice(struct jobopt *o, const struct optdef *d,
		      const char *what, const char *v, struct mer_error *err)
{
	const char *p = d->arg;
	struct strbuf words = {0};
	size_t nwords = 0, i;
	char **f = field(o, d);

	while (*p) {
		size_t n = strcspn(p, "|");

		if (strlen(v) == n && strncasecmp(p, v, n) == 0) {
			free(*f);
			*f = xstrndup(p, n);
			return 0;
		}
		nwords++;
		p += n;
		if (*p)
			p++;
	}
	/* "expected none, cores or gpu-local" */
	p = d->arg;
	for (i = 0; i < nwords; i++) {
		size_t n = strcspn(p, "|");

		if (i > 0)
			strbuf_addf(&words, "%s",
				    i + 1 == nwords ? " or " : ", ");
		strbuf_add(&words, p, n);
		p += n + (p[n] ? 1 : 0);
	}
	mer_error_set(err, "%s=%.*s: expected %s", what, ECHO_MAX, v,
		      words.s ? words.s : "");
	strbuf_free(&words);
	return -1;
}

static int set_optbool(struct jobopt *o, const struct optdef *d,
		       const char *what, const char *v, struct mer_error *err)
{
	int *f = field(o, d);

	if (!*v || strcmp(v, "1") == 0)
		*f = 1;
	else if (strcmp(v, "0") == 0)
		*f = 0;
	else
		return mer_error_set(err,
				     "%s=%.*s: expected %s alone, %s=0 or "
				     "%s=1",
				     what, ECHO_MAX, v, what, what, what);
	return 0;
}

static int set_count(struct jobopt *o, const struct optdef *d, const char *what,
		     const char *v, struct mer_error *err)
{
	int *f = field(o, d);

	if (*f < 100)
		(*f)++;
	return 0;
}

static int set_dep(struct jobopt *o, const struct optdef *d, const char *what,
		   const char *v, struct mer_error *err)
{
	struct dep_list l;

	if (dep_parse(v, what, &l, err) < 0)
		return -1;
	dep_list_free(&l);
	return set_str(o, d, what, v, err);
}

/* Checked here against the largest MaxArraySize; mctld checks its own. */
static int set_array(struct jobopt *o, const struct optdef *d, const char *what,
		     const char *v, struct mer_error *err)
{
	struct array_spec a;

	if (array_parse(v, what, 4000001, &a, err) < 0)
		return -1;
	array_spec_free(&a);
	return set_str(o, d, what, v, err);
}

/* -N N, or MIN-MAX: as many nodes as are free when it starts, from MIN
 * up to MAX. */
static int set_nodes(struct jobopt *o, const struct optdef *d, const char *what,
		     const char *v, struct mer_error *err)
{
	const char *dash = strchr(v, '-');
	char lo[16];
	uint32_t hi;

	o->max_nodes = 0;
	if (!dash)
		return parse_u32(v, what, d->min, d->max, &o->nodes, err);
	if ((size_t)(dash - v) >= sizeof(lo) || dash == v)
		return mer_error_set(err,
				     "%s=%.40s: expected N or MIN-MAX, such "
				     "as 2-4",
				     what, v);
	memcpy(lo, v, (size_t)(dash - v));
	lo[dash - v] = '\0';
	if (parse_u32(lo, what, d->min, d->max, &o->nodes, err) < 0 ||
	    parse_u32(dash + 1, what, d->min, d->max, &hi, err) < 0)
		return -1;
	if (hi < o->nodes)
		return mer_error_set(err,
				     "%s=%.40s: the most nodes is below the "
				     "least, expected MIN-MAX with MIN <= MAX",
				     what, v);
	if (hi > o->nodes)
		o->max_nodes = hi;
	return 0;
}

static int set_begin(struct jobopt *o, const struct optdef *d, const char *what,
		     const char *v, struct mer_error *err)
{
	return parse_begin(v, what, mer_now(), field(o, d), err);
}

/* A hostlist ("n[1-4],m2"): expanded once to check it, kept as written. */
static int set_hosts(struct jobopt *o, const struct optdef *d, const char *what,
		     const char *v, struct mer_error *err)
{
	struct mer_error e = {""};
	char **names;
	size_t n;

	if (hostlist_expand(v, &names, &n, &e) < 0)
		return mer_error_set(err, "%s: %s", what, e.text);
	hostlist_free(names, n);
	if (!n)
		return mer_error_set(err, "%s is empty, expected %s=NODES",
				     what, what);
	return set_str(o, d, what, v, err);
}

/* --signal=[B:]SIG[@SECONDS], SECONDS 60 when absent, at most 65535 */
static int set_signal(struct jobopt *o, const struct optdef *d,
		      const char *what, const char *v, struct mer_error *err)
{
	struct mer_error e = {""};
	const char *at = strchr(v, '@'), *sig = v;
	char name[32];
	uint32_t secs = 60;
	bool batch = false;
	int num;

	(void)d;
	if (strncasecmp(v, "B:", 2) == 0) {
		batch = true;
		sig += 2;
	} else if (strchr(v, ':')) {
		return mer_error_set(err,
				     "%s=%.40s: only B: may come before the "
				     "signal, expected %s=[B:]SIG[@SECONDS]",
				     what, v, what);
	}
	if ((size_t)(at ? at - sig : (ptrdiff_t)strlen(sig)) >= sizeof(name))
		return mer_error_set(
			err, "%s=%.40s: expected [B:]SIG[@SECONDS]", what, v);
	snprintf(name, sizeof(name), "%.*s",
		 (int)(at ? at - sig : (ptrdiff_t)strlen(sig)), sig);
	if (parse_signal(name, &num, &e) < 0)
		return mer_error_set(err, "%s: %s", what, e.text);
	if (at && parse_u32(at + 1, what, 0, 65535, &secs, err) < 0)
		return -1;
	o->signal = num;
	o->signal_secs = secs;
	o->signal_batch = batch;
	return 0;
}

/* --nice[=N]: sbatch's default adjustment is 100; negative for admins
 * (mctld checks who). */
static int set_nice(struct jobopt *o, const struct optdef *d, const char *what,
		    const char *v, struct mer_error *err)
{
	char *end;
	long n;

	(void)d;
	if (!*v) {
		o->nice = 100;
		return 0;
	}
	errno = 0;
	n = strtol(v, &end, 10);
	if (errno || *end || n < -2147483645L || n > 2147483645L)
		return mer_error_set(err,
				     "%s=%.*s: expected a whole number from "
				     "-2147483645 to 2147483645",
				     what, ECHO_MAX, v);
	o->nice = (int32_t)n;
	return 0;
}

/* NONE, BEGIN, END, FAIL, REQUEUE, ALL, commas between; Slurm's others
 * (TIME_LIMIT, ARRAY_TASKS, ...) are refused by name. */
static int set_mail(struct jobopt *o, const struct optdef *d, const char *what,
		    const char *v, struct mer_error *err)
{
	static const struct {
		const char *name;
		uint32_t bits;
	} types[] = {
		{"NONE", 0}, {"BEGIN", 1},   {"END", 2},
		{"FAIL", 4}, {"REQUEUE", 8}, {"ALL", 15},
	};
	uint32_t bits = 0;

	for (const char *p = v; *p;) {
		size_t n = strcspn(p, ","), i;

		for (i = 0; i < sizeof(types) / sizeof(types[0]); i++)
			if (strlen(types[i].name) == n &&
			    strncasecmp(types[i].name, p, n) == 0)
				break;
		if (i == sizeof(types) / sizeof(types[0]))
			return mer_error_set(err,
					     "%s: '%.*s' is not supported, "
					     "expected NONE, BEGIN, END, FAIL, "
					     "REQUEUE or ALL",
					     what, (int)(n < 30 ? n : 30), p);
		bits = types[i].bits ? bits | types[i].bits : 0;
		p += n;
		if (*p)
			p++;
	}
	*(uint32_t *)field(o, d) = bits;
	return 0;
}

static int set_requeue(struct jobopt *o, const struct optdef *d,
		       const char *what, const char *v, struct mer_error *err)
{
	(void)what;
	(void)v;
	(void)err;
	*(int *)field(o, d) = (int)d->min;
	return 0;
}

/*
 * --cpu-bind (and srun's old --cpu_bind): srun's comma-separated words.
 * One binding type: none (also Slurm's "no"), cores, or Meridian's
 * gpu-local; "quiet" is what Meridian does anyway (it never reports the
 * binding) and changes nothing.  Slurm's other words are refused by name,
 * so that a script written for srun learns what it does not get.
 */
static const char *const cpu_bind_slurm_only[] = {
	"verbose", "threads", "sockets",  "ldoms",    "rank",	   "rank_ldom",
	"boards",  "map_cpu", "mask_cpu", "map_ldom", "mask_ldom", "help",
};

static int set_cpu_bind(struct jobopt *o, const struct optdef *d,
			const char *what, const char *v, struct mer_error *err)
{
	char *copy = xstrdup(v), *save = NULL, *w;
	const char *type = NULL;
	char **f = field(o, d);
	bool quiet = false;
	int rc = 0;

	for (w = strtok_r(copy, ",", &save); w && !rc;
	     w = strtok_r(NULL, ",", &save)) {
		const char *t = NULL;
		size_t n = strcspn(w, ":=");

		if (!strcasecmp(w, "quiet")) {
			quiet = true;
			continue;
		}
		if (!strcasecmp(w, "none") || !strcasecmp(w, "no"))
			t = "none";
		else if (!strcasecmp(w, "cores"))
			t = "cores";
		else if (!strcasecmp(w, "gpu-local"))
			t = "gpu-local";
		for (size_t i = 0;
		     !t && i < sizeof(cpu_bind_slurm_only) /
					   sizeof(*cpu_bind_slurm_only);
		     i++)
			if (strlen(cpu_bind_slurm_only[i]) == n &&
			    !strncasecmp(w, cpu_bind_slurm_only[i], n))
				rc = mer_error_set(
					err,
					"%s=%.*s: Slurm's %.*s is not "
					"supported by Meridian; expected "
					"none, cores or gpu-local (quiet is "
					"taken and changes nothing)",
					what, ECHO_MAX, v, (int)n, w);
		if (rc)
			break;
		if (!t)
			rc = mer_error_set(err,
					   "%s=%.*s: expected none, cores or "
					   "gpu-local",
					   what, ECHO_MAX, v);
		else if (type && strcmp(type, t))
			rc = mer_error_set(err,
					   "%s=%.*s: both %s and %s; expected "
					   "one binding type",
					   what, ECHO_MAX, v, type, t);
		else
			type = t;
	}
	if (!rc && !type && !quiet)
		rc = mer_error_set(err,
				   "%s=%.*s: expected none, cores or "
				   "gpu-local",
				   what, ECHO_MAX, v);
	if (!rc && type) { /* quiet alone: the default binding, quietly */
		free(*f);
		*f = xstrdup(type);
	}
	free(copy);
	return rc;
}

static const setter_fn setters[] = {
	[O_STR] = set_str,	   [O_U32] = set_u32,
	[O_MEM] = set_mem,	   [O_TIME] = set_time,
	[O_GRES] = set_gres,	   [O_GPUS] = set_gpus,
	[O_GPN] = set_gpus,	   [O_EXPORT] = set_export,
	[O_MONEY] = set_money,	   [O_FLAG] = set_flag,
	[O_COMM] = set_comm,	   [O_BYTES] = set_bytes,
	[O_NAME] = set_name,	   [O_NAMES] = set_names,
	[O_COUNTRY] = set_country, [O_CHOICE] = set_choice,
	[O_OPTBOOL] = set_optbool, [O_COUNT] = set_count,
	[O_DEP] = set_dep,	   [O_BEGIN] = set_begin,
	[O_HOSTS] = set_hosts,	   [O_SIGNAL] = set_signal,
	[O_NICE] = set_nice,	   [O_REQUEUE] = set_requeue,
	[O_MAIL] = set_mail,	   [O_ARRAY] = set_array,
	[O_NODES] = set_nodes,	   [O_CPUBIND] = set_cpu_bind,
};

/* ------------------------------------------------------------------ */
/* getopt */

static const struct optdef *find_by_val(int val, unsigned cmd)
{
	if (val >= LONG_ONLY_BASE && val < LONG_ONLY_BASE + (int)NOPTS)
		return &opts[val - LONG_ONLY_BASE];
	for (size_t i = 0; i < NOPTS; i++)
		if (opts[i].short_name && opts[i].short_name == val &&
		    (opts[i].cmds & cmd))
			return &opts[i];
	return NULL;
}

/* "--foo=bar" -> "--foo", for messages. */
static int opt_text_len(const char *arg)
{
	size_t n = strcspn(arg, "=");

	return (int)(n > ECHO_MAX ? ECHO_MAX : n);
}

static int parse_argv(struct jobopt *o, enum jobopt_cmd cmd, int argc,
		      char **argv, const char *where, bool in_script,
		      int *first_arg, struct mer_error *err)
{
	struct option lopts[NOPTS + 1];
	char optstring[2 + 3 * NOPTS + 1], *q = optstring;
	const char *prog = cmd_name(cmd);
	struct mer_error e;
	size_t nl = 0;
	int c;

	if (!where)
		where = "command line";
	/* '+': stop at the first non-option (the script or program; what
	 * follows is its arguments).  ':': report a missing value as ':'. */
	*q++ = '+';
	*q++ = ':';
	for (size_t i = 0; i < NOPTS; i++) {
		int has_arg =
			opts[i].kind == O_FLAG || opts[i].kind == O_COUNT ||
					opts[i].kind == O_REQUEUE
				? no_argument
			: opts[i].kind == O_OPTBOOL || opts[i].kind == O_NICE
				? optional_argument
				: required_argument;

		if (!(opts[i].cmds & cmd))
			continue;
		lopts[nl].name = opts[i].name;
		lopts[nl].has_arg = has_arg;
		lopts[nl].flag = NULL;
		lopts[nl].val = opts[i].short_name ? opts[i].short_name
						   : LONG_ONLY_BASE + (int)i;
		nl++;
		if (opts[i].short_name) {
			*q++ = (char)opts[i].short_name;
			if (has_arg != no_argument)
				*q++ = ':';
			if (has_arg == optional_argument)
				*q++ = ':';
		}
	}
	*q = '\0';
	memset(&lopts[nl], 0, sizeof(lopts[nl]));

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, optstring, lopts, NULL)) != -1) {
		const struct optdef *d;
		char what[64];

		if (c == '?') {
			/* A known option reported as '?' is one that takes
			 * no value but got one ("--hold=yes"). */
			d = optopt ? find_by_val(optopt, cmd) : NULL;
			if (d)
				return mer_error_set(err,
						     "%s: option --%s takes "
						     "no value, expected "
						     "--%s alone",
						     where, d->name, d->name);
			if (optopt)
				return mer_error_set(
					err,
					"%s: unknown option "
					"-%c: see %s "
					"--help",
					where, isprint(optopt) ? optopt : '?',
					prog);
			return mer_error_set(err,
					     "%s: unknown option %.*s: see "
					     "%s --help",
					     where,
					     opt_text_len(argv[optind - 1]),
					     argv[optind - 1], prog);
		}
		if (c == ':') {
			d = find_by_val(optopt, cmd);
			if (!d)
				return mer_error_set(err,
						     "%s: option needs a "
						     "value: see %s "
						     "--help",
						     where, prog);
			return mer_error_set(err,
					     "%s: option --%s needs a value, "
					     "expected --%s=%s",
					     where, d->name, d->name, d->arg);
		}
		d = find_by_val(c, cmd);
		if (!d)
			return mer_error_set(err,
					     "%s: unknown option: see "
					     "%s --help",
					     where, prog);
		if (in_script && d->cmdline_only)
			return mer_error_set(err,
					     "%s: --%s is for the command "
					     "line, expected it there "
					     "rather than in a script",
					     where, d->name);
		snprintf(what, sizeof(what), "--%s", d->name);
		if (setters[d->kind](o, d, what, optarg ? optarg : "", &e) < 0)
			return mer_error_set(err, "%s: %s", where, e.text);
	}
	if (first_arg)
		*first_arg = optind;
	return 0;
}

int jobopt_parse(struct jobopt *o, int argc, char **argv, const char *where,
		 int *first_arg, struct mer_error *err)
{
	return parse_argv(o, JOBOPT_MBATCH, argc, argv, where, false, first_arg,
			  err);
}

int jobopt_parse_cmd(struct jobopt *o, enum jobopt_cmd cmd, int argc,
		     char **argv, const char *where, int *first_arg,
		     struct mer_error *err)
{
	return parse_argv(o, cmd, argc, argv, where, false, first_arg, err);
}

/* ------------------------------------------------------------------ */
/* splitting and directives */

void argv_free(char **argv)
{
	if (!argv)
		return;
	for (char **a = argv; *a; a++)
		free(*a);
	free(argv);
}

int argv_split(const char *s, const char *prog, char ***argvp, int *argcp,
	       struct mer_error *err)
{
	char **argv = xcalloc(2, sizeof(char *));
	int argc = 1;
	struct strbuf w = {0};

	argv[0] = xstrdup(prog ? prog : "");
	for (;;) {
		bool in_word = false;

		while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
			s++;
		/* A word that starts with '#' starts a comment, as in sh. */
		if (!*s || *s == '#')
			break;
		w.len = 0;
		strbuf_add(&w, "", 0);
		while (*s && *s != ' ' && *s != '\t' && *s != '\n' &&
		       *s != '\r') {
			in_word = true;
			if (*s == '\'') {
				const char *close = strchr(s + 1, '\'');
				if (!close)
					goto unclosed;
				strbuf_add(&w, s + 1, (size_t)(close - s - 1));
				s = close + 1;
			} else if (*s == '"') {
				s++;
				while (*s && *s != '"') {
					/* In double quotes a backslash only
					 * quotes what sh lets it quote. */
					if (*s == '\\' && s[1] &&
					    strchr("\"\\$`", s[1]))
						s++;
					strbuf_addc(&w, *s++);
				}
				if (*s != '"')
					goto unclosed;
				s++;
			} else if (*s == '\\' && s[1]) {
				strbuf_addc(&w, s[1]);
				s += 2;
			} else {
				strbuf_addc(&w, *s++);
			}
		}
		if (in_word) {
			argv = xrealloc(argv,
					(size_t)(argc + 2) * sizeof(char *));
			argv[argc++] = xstrdup(w.s);
			argv[argc] = NULL;
		}
	}
	strbuf_free(&w);
	*argvp = argv;
	*argcp = argc;
	return 0;
unclosed:
	strbuf_free(&w);
	argv[argc] = NULL;
	argv_free(argv);
	*argvp = NULL;
	*argcp = 0;
	errno = EINVAL;
	return mer_error_set(err, "unclosed quote, expected a closing quote "
				  "on the same line");
}

/* If line is a directive, the text after its tag; else NULL. */
static const char *directive_args(const char *line)
{
	static const char *const tags[] = {"#SBATCH", "#MERIDIAN"};

	for (size_t i = 0; i < sizeof(tags) / sizeof(tags[0]); i++) {
		size_t n = strlen(tags[i]);
		if (strncmp(line, tags[i], n) == 0 &&
		    (line[n] == '\0' || line[n] == ' ' || line[n] == '\t'))
			return line + n;
	}
	return NULL;
}

int jobopt_parse_script(struct jobopt *o, const char *script, size_t len,
			const char *script_name, struct mer_error *err)
{
	const char *p = script, *end = script + len;
	char where[256];
	int lineno = 0;

	if (!script_name)
		script_name = "script";
	if (len == 0)
		return mer_error_set(err,
				     "%s: the script is empty, expected a "
				     "#! line and commands",
				     script_name);
	if (len < 2 || script[0] != '#' || script[1] != '!')
		return mer_error_set(err,
				     "%s:1: the first line must start "
				     "with #! and an interpreter, such as "
				     "#!/bin/bash",
				     script_name);
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		const char *args, *s;
		char *line, **argv;
		int argc, first, rc;

		lineno++;
		if (memchr(p, '\0', n))
			return mer_error_set(err,
					     "%s:%d: NUL byte, expected a "
					     "text script",
					     script_name, lineno);
		if (n > 0 && p[n - 1] == '\r')
			return mer_error_set(err,
					     "%s:%d: DOS line break "
					     "(\\r\\n), expected UNIX line "
					     "breaks (see dos2unix)",
					     script_name, lineno);
		line = xstrndup(p, n);
		p = nl ? nl + 1 : end;
		if (lineno == 1) {
			free(line);
			continue;
		}
		for (s = line; *s == ' ' || *s == '\t'; s++)
			;
		if (*s != '\0' && *s != '#') {
			/* The first command: directives end here, as in
			 * sbatch. */
			free(line);
			break;
		}
		args = directive_args(line);
		if (!args) {
			free(line);
			continue;
		}
		snprintf(where, sizeof(where), "%s:%d", script_name, lineno);
		if (argv_split(args, script_name, &argv, &argc, err) < 0) {
			char msg[sizeof(err->text)];
			snprintf(msg, sizeof(msg), "%s", err ? err->text : "");
			free(line);
			return mer_error_set(err, "%s: %s", where, msg);
		}
		free(line);
		rc = parse_argv(o, JOBOPT_MBATCH, argc, argv, where, true,
				&first, err);
		if (rc == 0 && first < argc)
			rc = mer_error_set(err,
					   "%s: unexpected argument '%.*s', "
					   "expected only options after "
					   "#SBATCH",
					   where, ECHO_MAX, argv[first]);
		argv_free(argv);
		if (rc < 0)
			return -1;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* --export */

static void env_push(char ***env, size_t *n, char *s)
{
	*env = xrealloc(*env, (*n + 1) * sizeof(**env));
	(*env)[(*n)++] = s;
}

/* Does the list of items p (after the base set) name NAME of length n? */
static bool export_names(const char *p, const char *name, size_t n)
{
	while (*p) {
		size_t len = strcspn(p, ","), nlen = strcspn(p, ",=");

		if (nlen > len)
			nlen = len;
		if (nlen == n && strncmp(p, name, n) == 0)
			return true;
		p += len;
		if (*p)
			p++;
	}
	return false;
}

static const char *env_lookup(char *const *envp, const char *name, size_t n)
{
	for (size_t i = 0; envp && envp[i]; i++)
		if (strncmp(envp[i], name, n) == 0 && envp[i][n] == '=')
			return envp[i] + n + 1;
	return NULL;
}

void jobopt_env_free(char **env, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(env[i]);
	free(env);
}

int jobopt_export_env(const char *spec, char *const *envp, char ***out,
		      size_t *n, struct mer_error *err)
{
	bool all = false;
	const char *p = spec ? spec : "";

	*out = NULL;
	*n = 0;
	if (!spec || str_eq_nocase(spec, "ALL")) {
		all = true;
		p = "";
	} else if (str_eq_nocase(spec, "NONE")) {
		return 0;
	} else if (strncasecmp(spec, "ALL,", 4) == 0) {
		all = true;
		p = spec + 4;
	} else if (strncasecmp(spec, "NONE,", 5) == 0) {
		p = spec + 5;
	}
	/* Check every item first: nothing is built from a bad spec. */
	for (const char *q = p; *q;) {
		size_t len = strcspn(q, ","), nlen = strcspn(q, ",=");

		if (nlen > len)
			nlen = len;
		if (!is_var_name(q, nlen))
			return mer_error_set(err,
					     "--export=%.*s: '%.*s' is not a "
					     "variable name, expected NONE, "
					     "ALL or [ALL,]VAR[=VALUE],...",
					     ECHO_MAX, spec,
					     (int)(nlen > 32 ? 32 : nlen), q);
		q += len;
		if (*q)
			q++;
	}
	if (all)
		for (size_t i = 0; envp && envp[i]; i++) {
			const char *eq = strchr(envp[i], '=');

			if (eq && eq > envp[i] &&
			    !export_names(p, envp[i], (size_t)(eq - envp[i])))
				env_push(out, n, xstrdup(envp[i]));
		}
	while (*p) {
		size_t len = strcspn(p, ","), nlen = strcspn(p, ",=");

		if (nlen > len)
			nlen = len;
		if (nlen < len) {
			env_push(out, n, xstrndup(p, len));
		} else {
			const char *v = env_lookup(envp, p, nlen);

			if (v)
				env_push(out, n,
					 xasprintf("%.*s=%s", (int)nlen, p, v));
		}
		p += len;
		if (*p)
			p++;
	}
	return 0;
}
