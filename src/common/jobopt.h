/*
 * jobopt.h - the options of a batch job, from the command line and from
 * "#MERIDIAN" / "#SBATCH" lines of a script, parsed by one table so that
 * a directive means exactly what the same option means on the command line.
 */
#ifndef MER_JOBOPT_H
#define MER_JOBOPT_H

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>
#include "merr.h"

struct jobopt {
	char *name;           /* -J */
	char *account;        /* -A */
	char *partition;      /* -p */
	char *work_dir;       /* -D/--chdir */
	char *std_out;        /* -o */
	char *std_err;        /* -e */
	char *std_in;         /* -i */
	uint32_t nodes;       /* -N, 0 unset */
	uint32_t ntasks;      /* -n, 0 unset */
	uint32_t ntasks_per_node; /* --ntasks-per-node */
	uint32_t cpus_per_task;   /* -c, 0 unset (1) */
	uint64_t mem_mb;      /* --mem, 0 unset */
	uint32_t gpus;        /* -G/--gpus, or --gres=gpu:N */
	uint32_t gpus_per_node; /* --gpus-per-node */
	char *gpu_type;       /* from --gpus=TYPE:N or --gres=gpu:TYPE:N */
	uint32_t time_limit;  /* -t minutes, 0 unset */
	bool time_set;
	char *export_spec;    /* --export, NULL: ALL */
	char *wrap;           /* --wrap */
	bool parsable;        /* --parsable */
	bool hold;            /* -H/--hold */
	int64_t max_price;    /* --max-price, micro-dollars */
	bool help;            /* -h/--help (command line only) */
	bool usage;           /* --usage */
	bool version;         /* -V/--version */
};

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

#endif
