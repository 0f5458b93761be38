/*
 * parse.h - the value forms users type: times, sizes, numbers.
 * Each returns 0, or -1 with err naming the value and the expected form.
 */
#ifndef MER_PARSE_H
#define MER_PARSE_H

#include <stdint.h>
#include <stdbool.h>
#include "merr.h"

/* Slurm time limits: "MM", "MM:SS", "HH:MM:SS", "D-HH", "D-HH:MM",
 * "D-HH:MM:SS", "UNLIMITED"/"INFINITE".  Result in minutes, seconds
 * rounded up; UNLIMITED gives 0.  what names the option for the error. */
int parse_time_minutes(const char *s, const char *what, uint32_t *minutes,
		       struct mer_error *err);
/* Format minutes as Slurm prints them: "1-02:03:00", "00:10:00",
 * "UNLIMITED" for 0.  buf of at least 32 bytes. */
void format_time_minutes(uint32_t minutes, char *buf, size_t n);
/* Format seconds as "D-HH:MM:SS" or "HH:MM:SS" (or "M:SS" when short). */
void format_duration(int64_t seconds, char *buf, size_t n);
/* ISO local time "2026-11-24T21:42:19", "Unknown" for 0. */
void format_timestamp(int64_t t, char *buf, size_t n);

/* Sizes in MiB: "4096", "500M", "4G", "1T", "2048K" (K rounds up). */
int parse_size_mb(const char *s, const char *what, uint64_t *mb,
		  struct mer_error *err);

/* sbatch's --begin: "now", "now+N[seconds|minutes|hours|days|weeks]"
 * (s, m, h, d, w too), "HH:MM[:SS]" (its next time), "YYYY-MM-DD",
 * "YYYY-MM-DDTHH:MM[:SS]", "MM/DD[/YY]", "midnight", "noon", "teatime"
 * (16:00), "today", "tomorrow"; local time, from now.  *when in epoch
 * seconds. */
int parse_begin(const char *s, const char *what, int64_t now, int64_t *when,
		struct mer_error *err);

/* A signal: a number 1-64 or a name, with or without SIG ("USR1"). */
int parse_signal(const char *s, int *sig, struct mer_error *err);
/* "USR1" for SIGUSR1, NULL for a number without a name. */
const char *signal_name(int sig);

/* Unsigned decimal in [min, max]. */
int parse_u32(const char *s, const char *what, uint32_t min, uint32_t max,
	      uint32_t *out, struct mer_error *err);
int parse_bool(const char *s, const char *what, bool *out,
	       struct mer_error *err); /* YES/NO/TRUE/FALSE/1/0 */
/* Dollars with up to six decimals ("2.10") to micro-dollars. */
int parse_money(const char *s, const char *what, int64_t *micro,
		struct mer_error *err);
/* "gpu[:TYPE]:N" (Gres= and --gres).  *type malloc'd ("" when absent). */
int parse_gres_gpu(const char *s, const char *what, char **type,
		   uint32_t *count, struct mer_error *err);

#endif
