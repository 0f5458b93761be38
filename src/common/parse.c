/*
 * parse.c - the value forms users type: times, sizes, numbers, money, gres.
 *
 * Every parser reports a failure as "WHAT=VALUE: expected FORM" so that a
 * caller only has to put where it came from in front ("x.conf:3: " or
 * "job.sh:2: ").  Values are echoed cut to a few dozen characters so that
 * the form a user needs always fits in struct mer_error.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "parse.h"
#include "util.h"

/* Longest part of a bad value echoed back in an error. */
#define ECHO_MAX 40

#define TIME_FORMS                                                             \
	"a time as MINUTES, MM:SS, HH:MM:SS, D-HH, D-HH:MM, D-HH:MM:SS or "    \
	"UNLIMITED"

/*
 * Read a run of decimal digits at *p into *v, advancing *p.  Returns the
 * number of digits read, 0 when there is none, -1 when the number does not
 * fit the 32 bits every field of ours has.
 */
static int read_digits(const char **p, uint64_t *v)
{
	const char *s = *p;
	uint64_t n = 0;
	int nd = 0;

	while (isdigit((unsigned char)*s)) {
		n = n * 10 + (uint64_t)(*s - '0');
		if (n > UINT32_MAX)
			return -1;
		s++;
		nd++;
	}
	*p = s;
	*v = n;
	return nd;
}

int parse_time_minutes(const char *s, const char *what, uint32_t *minutes,
		       struct mer_error *err)
{
	uint64_t f[4], days = 0, secs;
	const char *p = s;
	int nf = 0, nd;
	bool has_days = false;

	if (!s || !*s)
		return mer_error_set(err, "%s is empty: expected " TIME_FORMS,
				     what);
	if (strcasecmp(s, "UNLIMITED") == 0 || strcasecmp(s, "INFINITE") == 0) {
		*minutes = 0;
		return 0;
	}
	/* Split into an optional "D-" and up to three ':' fields. */
	nd = read_digits(&p, &f[0]);
	if (nd <= 0)
		goto bad;
	if (*p == '-') {
		has_days = true;
		days = f[0];
		p++;
		nd = read_digits(&p, &f[0]);
		if (nd <= 0)
			goto bad;
	}
	nf = 1;
	while (*p == ':' && nf < 3) {
		p++;
		nd = read_digits(&p, &f[nf]);
		if (nd <= 0)
			goto bad;
		nf++;
	}
	if (*p != '\0')
		goto bad;

	/*
	 * The first field may be as large as the user likes ("90" minutes,
	 * "36:00:00" hours); the ones after it are clock fields and must be
	 * read as a clock reads them.
	 */
	if (has_days) {
		/* D-HH, D-HH:MM, D-HH:MM:SS */
		uint64_t h = f[0], m = nf > 1 ? f[1] : 0,
			 sec = nf > 2 ? f[2] : 0;
		if (h > 23 || m > 59 || sec > 59)
			goto bad;
		secs = ((days * 24 + h) * 60 + m) * 60 + sec;
	} else if (nf == 1) {
		secs = f[0] * 60; /* MINUTES */
	} else if (nf == 2) {
		if (f[1] > 59)
			goto bad;
		secs = f[0] * 60 + f[1]; /* MM:SS */
	} else {
		if (f[1] > 59 || f[2] > 59)
			goto bad;
		secs = (f[0] * 60 + f[1]) * 60 + f[2]; /* HH:MM:SS */
	}
	secs = (secs + 59) / 60; /* minutes, seconds rounded up */
	if (secs > UINT32_MAX)
		return mer_error_set(err,
				     "%s=%.*s: too long, expected at most "
				     "%u minutes or UNLIMITED",
				     what, ECHO_MAX, s, UINT32_MAX);
	*minutes = (uint32_t)secs;
	return 0;
bad:
	return mer_error_set(err, "%s=%.*s: expected " TIME_FORMS, what,
			     ECHO_MAX, s);
}

void format_time_minutes(uint32_t minutes, char *buf, size_t n)
{
	uint32_t d = minutes / 1440, h = minutes / 60 % 24, m = minutes % 60;

	if (minutes == 0)
		snprintf(buf, n, "UNLIMITED");
	else if (d)
		snprintf(buf, n, "%u-%02u:%02u:00", d, h, m);
	else
		snprintf(buf, n, "%02u:%02u:00", h, m);
}

void format_duration(int64_t seconds, char *buf, size_t n)
{
	int64_t d, h, m, s;

	/* Clocks may step back; an elapsed time never shows negative. */
	if (seconds < 0)
		seconds = 0;
	if (seconds == 0 && n >= 5) {
		memcpy(buf, "0:00", 5); /* every pending job's */
		return;
	}
	d = seconds / 86400;
	h = seconds / 3600 % 24;
	m = seconds / 60 % 60;
	s = seconds % 60;
	if (d)
		snprintf(buf, n, "%lld-%02lld:%02lld:%02lld", (long long)d,
			 (long long)h, (long long)m, (long long)s);
	else if (h)
		snprintf(buf, n, "%lld:%02lld:%02lld", (long long)h,
			 (long long)m, (long long)s);
	else
		snprintf(buf, n, "%lld:%02lld", (long long)m, (long long)s);
}

void format_timestamp(int64_t t, char *buf, size_t n)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (t == 0 || !localtime_r(&tt, &tm) ||
	    strftime(buf, n, "%Y-%m-%dT%H:%M:%S", &tm) == 0)
		snprintf(buf, n, "Unknown");
}

int parse_size_mb(const char *s, const char *what, uint64_t *mb,
		  struct mer_error *err)
{
	const char *p = s;
	uint64_t v = 0;
	int shift; /* power of 1024 relative to MiB; -1 for K */

	if (!s || !isdigit((unsigned char)*s))
		goto bad;
	while (isdigit((unsigned char)*p)) {
		if (v > (UINT64_MAX - 9) / 10)
			goto big;
		v = v * 10 + (uint64_t)(*p++ - '0');
	}
	switch (toupper((unsigned char)*p)) {
	case '\0':
	case 'M':
		shift = 0;
		break;
	case 'K':
		shift = -1;
		break;
	case 'G':
		shift = 1;
		break;
	case 'T':
		shift = 2;
		break;
	default:
		goto bad;
	}
	/* "1gb", "500MB": Slurm's scripts write the B too */
	if (*p && p[1] != '\0' &&
	    !(toupper((unsigned char)p[1]) == 'B' && p[2] == '\0'))
		goto bad;
	if (shift < 0) {
		v = v / 1024 + (v % 1024 != 0); /* K rounds up to a MiB */
	} else {
		for (; shift > 0; shift--) {
			if (v > (UINT64_MAX >> 20) / 1024)
				goto big;
			v *= 1024;
		}
	}
	/* Beyond an exbibyte is a typo, not a machine. */
	if (v > (UINT64_MAX >> 20))
		goto big;
	*mb = v;
	return 0;
big:
	return mer_error_set(err,
			     "%s=%.*s: too large, expected a size such "
			     "as 4096, 500M, 4G or 1T",
			     what, ECHO_MAX, s ? s : "");
bad:
	return mer_error_set(err,
			     "%s=%.*s: expected a size in MiB or with a "
			     "K, M, G or T suffix, such as 4096, 500M or 4G",
			     what, ECHO_MAX, s ? s : "");
}

/* n digits of s as a number, -1 when they are not all digits. */
static long digits(const char *s, size_t n)
{
	long v = 0;

	for (size_t i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return n ? v : -1;
}

/* mktime of tm at h:m:s; false when it does not exist. */
static bool at_time(struct tm *tm, int h, int m, int sec, int64_t *out)
{
	time_t t;

	if (h < 0 || h > 23 || m < 0 || m > 59 || sec < 0 || sec > 60)
		return false;
	tm->tm_hour = h;
	tm->tm_min = m;
	tm->tm_sec = sec;
	tm->tm_isdst = -1;
	t = mktime(tm);
	if (t == (time_t)-1)
		return false;
	*out = (int64_t)t;
	return true;
}

/* "HH:MM[:SS]" into h, m, sec. */
static bool clock_of(const char *s, int *h, int *m, int *sec)
{
	size_t n = strlen(s);

	*sec = 0;
	if (n == 5 && s[2] == ':') {
		*h = (int)digits(s, 2);
		*m = (int)digits(s + 3, 2);
	} else if (n == 8 && s[2] == ':' && s[5] == ':') {
		*h = (int)digits(s, 2);
		*m = (int)digits(s + 3, 2);
		*sec = (int)digits(s + 6, 2);
	} else {
		return false;
	}
	return *h >= 0 && *m >= 0 && *sec >= 0;
}

int parse_begin(const char *s, const char *what, int64_t now, int64_t *when,
		struct mer_error *err)
{
	time_t tnow = (time_t)now;
	struct tm tm;
	int h, m, sec;

	if (!s || !*s)
		goto bad;
	localtime_r(&tnow, &tm);
	if (strncasecmp(s, "now", 3) == 0) {
		static const struct {
			const char *name;
			int64_t secs;
		} units[] = {
			{"", 1},       {"s", 1},	 {"sec", 1},
			{"second", 1}, {"seconds", 1},	 {"m", 60},
			{"min", 60},   {"minute", 60},	 {"minutes", 60},
			{"h", 3600},   {"hour", 3600},	 {"hours", 3600},
			{"d", 86400},  {"day", 86400},	 {"days", 86400},
			{"w", 604800}, {"week", 604800}, {"weeks", 604800},
		};
		const char *p = s + 3, *u;
		long n;

		if (!*p) {
			*when = now;
			return 0;
		}
		if (*p != '+')
			goto bad;
		p++;
		u = p + strspn(p, "0123456789");
		n = digits(p, (size_t)(u - p));
		if (n < 0 || u - p > 9)
			goto bad;
		for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
			if (strcasecmp(u, units[i].name) == 0) {
				*when = now + n * units[i].secs;
				return 0;
			}
		goto bad;
	}
	if (strcasecmp(s, "today") == 0 || strcasecmp(s, "midnight") == 0 ||
	    strcasecmp(s, "tomorrow") == 0) {
		if (strcasecmp(s, "today") != 0)
			tm.tm_mday++;
		if (!at_time(&tm, 0, 0, 0, when))
			goto bad;
		if (strcasecmp(s, "today") == 0)
			*when = now; /* today: at once */
		return 0;
	}
	if (strcasecmp(s, "noon") == 0 || strcasecmp(s, "teatime") == 0 ||
	    clock_of(s, &h, &m, &sec)) {
		if (strcasecmp(s, "noon") == 0)
			h = 12, m = 0, sec = 0;
		else if (strcasecmp(s, "teatime") == 0)
			h = 16, m = 0, sec = 0;
		if (!at_time(&tm, h, m, sec, when))
			goto bad;
		if (*when < now) { /* its next time: tomorrow */
			tm.tm_mday++;
			if (!at_time(&tm, h, m, sec, when))
				goto bad;
		}
		return 0;
	}
	if (strlen(s) >= 10 && s[4] == '-' && s[7] == '-') {
		long y = digits(s, 4), mo = digits(s + 5, 2),
		     d = digits(s + 8, 2);

		if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > 31)
			goto bad;
		h = m = sec = 0;
		if (s[10] && (s[10] != 'T' || !clock_of(s + 11, &h, &m, &sec)))
			goto bad;
		tm.tm_year = (int)y - 1900;
		tm.tm_mon = (int)mo - 1;
		tm.tm_mday = (int)d;
		if (!at_time(&tm, h, m, sec, when) || tm.tm_mday != (int)d)
			goto bad;
		return 0;
	}
	if ((strlen(s) == 5 || strlen(s) == 8) && s[2] == '/') {
		long mo = digits(s, 2), d = digits(s + 3, 2), y = -1;

		if (strlen(s) == 8) {
			if (s[5] != '/' || (y = digits(s + 6, 2)) < 0)
				goto bad;
			tm.tm_year = (int)(100 + y);
		}
		if (mo < 1 || mo > 12 || d < 1 || d > 31)
			goto bad;
		tm.tm_mon = (int)mo - 1;
		tm.tm_mday = (int)d;
		if (!at_time(&tm, 0, 0, 0, when) || tm.tm_mday != (int)d)
			goto bad;
		return 0;
	}
bad:
	return mer_error_set(err,
			     "%s=%.*s: expected now[+N[s|m|h|d|w]], "
			     "HH:MM[:SS], YYYY-MM-DD[THH:MM[:SS]], MM/DD[/YY],"
			     " midnight, noon, teatime or tomorrow",
			     what, 24, s ? s : "");
}

int parse_u32(const char *s, const char *what, uint32_t min, uint32_t max,
	      uint32_t *out, struct mer_error *err)
{
	const char *p = s;
	uint64_t v;

	if (!s || read_digits(&p, &v) <= 0 || *p != '\0' || v < min || v > max)
		return mer_error_set(err,
				     "%s=%.*s: expected a whole number "
				     "from %u to %u",
				     what, ECHO_MAX, s ? s : "", min, max);
	*out = (uint32_t)v;
	return 0;
}

int parse_bool(const char *s, const char *what, bool *out,
	       struct mer_error *err)
{
	static const struct {
		const char *word;
		bool value;
	} words[] = {
		{"YES", true}, {"TRUE", true},	 {"1", true},
		{"NO", false}, {"FALSE", false}, {"0", false},
	};
	size_t i;

	for (i = 0; s && i < sizeof(words) / sizeof(words[0]); i++) {
		if (strcasecmp(s, words[i].word) == 0) {
			*out = words[i].value;
			return 0;
		}
	}
	return mer_error_set(err, "%s=%.*s: expected YES or NO", what, ECHO_MAX,
			     s ? s : "");
}

int parse_money(const char *s, const char *what, int64_t *micro,
		struct mer_error *err)
{
	const char *p = s;
	int64_t whole = 0, frac = 0;
	int nwhole = 0, nfrac = 0;

	if (!s)
		goto bad;
	if (*p == '$')
		p++;
	while (isdigit((unsigned char)*p)) {
		/* INT64_MAX micro-dollars is about 9.2e12 dollars. */
		if (whole > (INT64_MAX / 1000000 - 9) / 10)
			return mer_error_set(err,
					     "%s=%.*s: too large, expected "
					     "dollars below 9000000000000",
					     what, ECHO_MAX, s);
		whole = whole * 10 + (*p++ - '0');
		nwhole++;
	}
	if (*p == '.') {
		p++;
		while (isdigit((unsigned char)*p)) {
			if (++nfrac > 6)
				return mer_error_set(
					err,
					"%s=%.*s: more than six decimals, "
					"expected dollars such as 2.50 "
					"(a micro-dollar is the smallest "
					"amount)",
					what, ECHO_MAX, s);
			frac = frac * 10 + (*p++ - '0');
		}
	}
	if (*p != '\0' || nwhole + nfrac == 0)
		goto bad;
	for (; nfrac < 6; nfrac++)
		frac *= 10;
	*micro = whole * 1000000 + frac;
	return 0;
bad:
	return mer_error_set(err,
			     "%s=%.*s: expected dollars with up to six "
			     "decimals, such as 2.50",
			     what, ECHO_MAX, s ? s : "");
}

/* A GPU model name: what a Gres= type may hold. */
static bool is_model_char(int c)
{
	return isalnum(c) || c == '_' || c == '-' || c == '.';
}

int parse_gres_gpu(const char *s, const char *what, char **type,
		   uint32_t *count, struct mer_error *err)
{
	const char *p, *colon, *type_start = NULL;
	bool need_count = false;
	size_t type_len = 0;
	uint32_t n = 1;
	char *t;
	size_t i;

	if (!s || strncasecmp(s, "gpu", 3) != 0 ||
	    (s[3] != '\0' && s[3] != ':'))
		goto bad;
	p = s + 3;
	if (*p == ':') {
		p++;
		colon = strchr(p, ':');
		if (colon) {
			/* gpu:TYPE:N */
			type_start = p;
			type_len = (size_t)(colon - p);
			p = colon + 1;
			need_count = true;
		} else if (*p && strspn(p, "0123456789") == strlen(p)) {
			need_count = true; /* gpu:N ("gpu:1080ti" is a model) */
		} else {
			/* gpu:TYPE means one GPU of that type, as in Slurm */
			type_start = p;
			type_len = strlen(p);
			p += type_len;
		}
		if (type_start) {
			if (type_len == 0 ||
			    !isalnum((unsigned char)type_start[0]))
				goto bad;
			for (i = 0; i < type_len; i++)
				if (!is_model_char(
					    (unsigned char)type_start[i]))
					goto bad;
		}
		if (need_count) {
			const char *q = p;
			uint64_t v;
			if (read_digits(&q, &v) <= 0 || *q != '\0' || v > 65536)
				return mer_error_set(
					err,
					"%s=%.*s: bad GPU count, expected "
					"gpu[:TYPE]:N with N from 0 to "
					"65536",
					what, ECHO_MAX, s);
			n = (uint32_t)v;
		}
	}
	t = xstrndup(type_start ? type_start : "", type_len);
	for (i = 0; t[i]; i++)
		t[i] = (char)tolower((unsigned char)t[i]);
	*type = t;
	*count = n;
	return 0;
bad:
	return mer_error_set(err,
			     "%s=%.*s: expected gpu[:TYPE]:N, such as "
			     "gpu:2 or gpu:a100:4",
			     what, ECHO_MAX, s ? s : "");
}

/* ---- signals, by name or number ---- */

static const struct {
	const char *name;
	int num;
} signals[] = {
	{"HUP", SIGHUP},     {"INT", SIGINT},	    {"QUIT", SIGQUIT},
	{"ILL", SIGILL},     {"TRAP", SIGTRAP},	    {"ABRT", SIGABRT},
	{"IOT", SIGIOT},     {"BUS", SIGBUS},	    {"FPE", SIGFPE},
	{"KILL", SIGKILL},   {"USR1", SIGUSR1},	    {"SEGV", SIGSEGV},
	{"USR2", SIGUSR2},   {"PIPE", SIGPIPE},	    {"ALRM", SIGALRM},
	{"TERM", SIGTERM},   {"CHLD", SIGCHLD},	    {"CONT", SIGCONT},
	{"STOP", SIGSTOP},   {"TSTP", SIGTSTP},	    {"TTIN", SIGTTIN},
	{"TTOU", SIGTTOU},   {"URG", SIGURG},	    {"XCPU", SIGXCPU},
	{"XFSZ", SIGXFSZ},   {"VTALRM", SIGVTALRM}, {"PROF", SIGPROF},
	{"WINCH", SIGWINCH}, {"IO", SIGIO},	    {"PWR", SIGPWR},
	{"SYS", SIGSYS},
};
#define N_SIGNALS (sizeof(signals) / sizeof(signals[0]))

int parse_signal(const char *s, int *sig, struct mer_error *err)
{
	const char *name = s;
	uint32_t num;
	size_t i;

	if (*s >= '0' && *s <= '9' && strspn(s, "0123456789") == strlen(s) &&
	    strlen(s) < 10) {
		num = (uint32_t)atoi(s);
		if (num < 1 || num > 64)
			return mer_error_set(err,
					     "Invalid signal: %s (expected "
					     "a number 1-64 or a name "
					     "such as USR1)",
					     s);
		*sig = (int)num;
		return 0;
	}
	if (strncasecmp(name, "SIG", 3) == 0)
		name += 3;
	for (i = 0; i < N_SIGNALS; i++)
		if (strcasecmp(name, signals[i].name) == 0) {
			*sig = signals[i].num;
			return 0;
		}
	return mer_error_set(err,
			     "Invalid signal: %s (expected a name such as "
			     "TERM, USR1, SIGKILL or a number 1-64)",
			     s);
}

const char *signal_name(int sig)
{
	size_t i;

	for (i = 0; i < N_SIGNALS; i++)
		if (signals[i].num == sig && strcmp(signals[i].name, "IOT"))
			return signals[i].name;
	return NULL;
}
