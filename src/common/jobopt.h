/*
 * jobopt.h - the options of a job, from the command line and from
 * "#MERIDIAN" / "#SBATCH" lines of a script, parsed by one table so that
 * a directive means exactly what the same option means on the command line,
 * and an option mbatch and mrun share means the same to both.
 */
#ifndef MER_JOBOPT_H
#define MER_JOBOPT_H

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>
#include "merr.h"

/* The commands that read job options; each option is offered to some. */
enum jobopt_cmd {
	JOBOPT_MBATCH = 1u << 0,
	JOBOPT_MRUN = 1u << 1,
};

/* --comm: the same numbers as meridian.proto's CommPattern, so that a
 * command copies the value into JobDesc.comm as it is. */
enum jobopt_comm {
	JOBOPT_COMM_UNSET = 0, /* the default: a ring */
	JOBOPT_COMM_RING = 1,
	JOBOPT_COMM_PIPELINE = 2,
	JOBOPT_COMM_NONE = 3,
};

/* The most --comm-bytes may say: 1 TiB. */
#define JOBOPT_COMM_BYTES_MAX (1ull << 40)

struct jobopt {
	char *name;		  /* -J */
	char *account;		  /* -A */
	char *qos;		  /* -q/--qos */
	char *partition;	  /* -p */
	char *work_dir;		  /* -D/--chdir */
	char *std_out;		  /* -o */
	char *std_err;		  /* -e */
	char *std_in;		  /* -i */
	uint32_t nodes;		  /* -N, 0 unset; MIN of MIN-MAX */
	uint32_t max_nodes;	  /* -N MIN-MAX: MAX, 0 none */
	uint32_t ntasks;	  /* -n, 0 unset */
	uint32_t ntasks_per_node; /* --ntasks-per-node */
	uint32_t cpus_per_task;	  /* -c, 0 unset (1) */
	uint64_t mem_mb;	  /* --mem, 0 unset */
	uint32_t gpus;		  /* -G/--gpus, or --gres=gpu:N */
	uint32_t gpus_per_node;	  /* --gpus-per-node */
	char *gpu_type;		  /* from --gpus=TYPE:N or --gres=gpu:TYPE:N */
	uint32_t time_limit;	  /* -t minutes, 0 unset */
	bool time_set;
	char *export_spec;	   /* --export, NULL: ALL */
	char *wrap;		   /* --wrap */
	bool parsable;		   /* --parsable */
	bool hold;		   /* -H/--hold */
	int64_t max_price;	   /* --max-price, micro-dollars */
	int comm;		   /* --comm: enum jobopt_comm */
	uint32_t comm_stages;	   /* --comm=pipeline:STAGES, 0 unset */
	uint64_t comm_bytes;	   /* --comm-bytes, bytes, 0 unset */
	char *min_tier;		   /* --min-tier: a BandwidthTiers= name */
	char *regions;		   /* --region=A,B: RegionName= names */
	char *countries;	   /* --country=DE,FR: upper case */
	char *dependency;	   /* -d/--dependency, as written (checked) */
	char *array;		   /* -a/--array, as written (checked) */
	char *kill_on_invalid_dep; /* --kill-on-invalid-dep: "yes", "no" */
	bool exclusive;		   /* --exclusive */
	char *nodelist;		   /* -w/--nodelist, a hostlist */
	char *exclude;		   /* -x/--exclude */
	uint64_t mem_per_cpu;	   /* --mem-per-cpu MiB, 0 unset */
	char *comment;		   /* --comment */
	char *open_mode;	   /* --open-mode: "append", "truncate" */
	int64_t begin;		   /* --begin, epoch seconds, 0 unset */
	int64_t deadline;	   /* --deadline, epoch seconds, 0 unset */
	bool wait;		   /* -W/--wait: until the job ends */
	int signal;		   /* --signal=[B:]SIG[@SECONDS]: 0 none */
	uint32_t signal_secs;	   /* its SECONDS (default 60) */
	bool signal_batch;	   /* B: */
	int32_t nice;		   /* --nice[=N], 0 unset */
	char *constraint;	   /* -C/--constraint */
	int requeue; /* 1 --requeue, 2 --no-requeue (the later wins), 0 */
	uint32_t mail_type; /* --mail-type: BEGIN 1, END 2, FAIL 4, REQUEUE 8 */
	char *mail_user;    /* --mail-user */
	bool help;	    /* -h/--help (command line only) */
	bool usage;	    /* --usage */
	bool version;	    /* -V/--version */

	/* mrun only */
	uint32_t gpus_per_task; /* --gpus-per-task, 0 unset */
	char *cpu_bind;		/* --cpu-bind: "none", "cores", "gpu-local" */
	char *mpi;		/* --mpi: "pmi1", "pmi2", "none", "list" */
	bool label;		/* -l/--label */
	bool pty;		/* --pty */
	int kill_on_bad_exit; /* -K/--kill-on-bad-exit[=0|1]: 0, 1; -1 unset */
	uint32_t finalize_timeout; /* --finalize-timeout seconds, 0 unset */
	int verbose;		   /* -v, once per -v */
	char *conf_path; /* -f/--config (mbatch takes it out itself) */
};

/* Everything unset (kill_on_bad_exit -1). */
void jobopt_init(struct jobopt *o);
void jobopt_free(struct jobopt *o);

/*
 * Parse argv (argv[0] is a program name and is skipped) into o.  Options
 * already set in o are overwritten, so parse directives first and the
 * command line last.  On return *first_arg is the index of the first
 * non-option argument (the script and its arguments).  where names the
 * source for errors ("job.sh:3" or "command line").
 * Returns 0, or -1 with err: "job.sh:3: unknown option --foo".
 */
int jobopt_parse(struct jobopt *o, int argc, char **argv, const char *where,
		 int *first_arg, struct mer_error *err);
/* The same for command cmd: only its options are known, and errors point
 * to its --help ("unknown option --wrap: see mrun --help"). */
int jobopt_parse_cmd(struct jobopt *o, enum jobopt_cmd cmd, int argc,
		     char **argv, const char *where, int *first_arg,
		     struct mer_error *err);

/*
 * Walk the directive lines of a batch script: lines "#MERIDIAN opts" or
 * "#SBATCH opts" after the "#!" line and before the first line that is
 * neither blank nor a comment.  Each line's options are split like a shell
 * would (quotes, no expansion; a "#" after whitespace ends the options) and
 * parsed into o.  script_name is used in errors.  Returns 0 or -1 with err.
 */
int jobopt_parse_script(struct jobopt *o, const char *script, size_t len,
			const char *script_name, struct mer_error *err);

/* Split s into a NULL terminated, malloc'd argv (free with argv_free);
 * argv[0] is set to prog.  Returns -1 with err on an unclosed quote. */
int argv_split(const char *s, const char *prog, char ***argv, int *argc,
	       struct mer_error *err);
void argv_free(char **argv);

/* The help text listing every option, for mbatch --help. */
const char *jobopt_help(void);
/* The same for a command (static text). */
const char *jobopt_help_cmd(enum jobopt_cmd cmd);

/*
 * The environment --export=SPEC gives a job or step, as sbatch and srun
 * read it, from envp (NULL terminated NAME=VALUE strings):
 *   NULL or ALL                 every variable of envp
 *   NONE                        none (the daemons add their own)
 *   ALL,A=1,B                   every variable, with A set to 1 (and B
 *                               as in envp)
 *   A=1,B or NONE,A=1,B         only those: A=1, and B with its value in
 *                               envp (left out when envp has no B)
 * *out is a malloc'd array of *n malloc'd strings (free with
 * jobopt_env_free).  Returns 0, or -1 with err naming a bad variable.
 */
int jobopt_export_env(const char *spec, char *const *envp, char ***out,
		      size_t *n, struct mer_error *err);
void jobopt_env_free(char **env, size_t n);

#endif
