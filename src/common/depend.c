/*
 * depend.c - --dependency's text to a list (depend.h).
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "depend.h"
#include "util.h"

#define ECHO_MAX 40

static const struct {
	const char *name;
	enum dep_kind kind;
} kinds[] = {
	{"after", DEP_AFTER},	      {"afterany", DEP_AFTERANY},
	{"afterok", DEP_AFTEROK},     {"afternotok", DEP_AFTERNOTOK},
	{"aftercorr", DEP_AFTERCORR}, {"singleton", DEP_SINGLETON},
};

/* what is expected, short enough for a 160-byte error with an echo */
#define FORM  "TYPE:JOBID[:JOBID...], ',' or '?' between"
#define TYPES "after, afterany, afterok, afternotok, aftercorr or singleton"

const char *dep_kind_name(int kind)
{
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if ((int)kinds[i].kind == kind)
			return kinds[i].name;
	return "?";
}

void dep_list_free(struct dep_list *l)
{
	if (!l)
		return;
	free(l->v);
	memset(l, 0, sizeof(*l));
}

/* A decimal in [1, max] of exactly len characters at p. */
static bool number(const char *p, size_t len, uint32_t max, uint32_t *out)
{
	uint64_t v = 0;

	if (!len || len > 10)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (p[i] < '0' || p[i] > '9')
			return false;
		v = v * 10 + (uint64_t)(p[i] - '0');
	}
	if (v < 1 || v > max)
		return false;
	*out = (uint32_t)v;
	return true;
}

static int add(struct dep_list *l, enum dep_kind kind, uint32_t id,
	       uint32_t minutes, const char *what, struct mer_error *err)
{
	if (l->n == DEP_MAX)
		return mer_error_set(err,
				     "%s: more than %d dependencies, expected "
				     "at most %d",
				     what, DEP_MAX, DEP_MAX);
	l->v = xrealloc(l->v, (l->n + 1) * sizeof(*l->v));
	l->v[l->n].kind = kind;
	l->v[l->n].job_id = id;
	l->v[l->n].minutes = minutes;
	l->n++;
	return 0;
}

/* One element, s[0..len): "singleton" or TYPE:ID[+MIN][:ID[+MIN]...]. */
static int element(const char *s, size_t len, const char *what,
		   struct dep_list *l, struct mer_error *err)
{
	size_t tlen = strcspn(s, ":");
	const char *p;
	enum dep_kind kind = 0;

	if (tlen > len)
		tlen = len;
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (strlen(kinds[i].name) == tlen &&
		    strncmp(kinds[i].name, s, tlen) == 0)
			kind = kinds[i].kind;
	if (!kind)
		return mer_error_set(
			err,
			"%s: '%.*s' is not a dependency type, "
			"expected " TYPES,
			what, (int)(tlen < ECHO_MAX ? tlen : ECHO_MAX), s);
	if (kind == DEP_SINGLETON) {
		if (tlen != len)
			return mer_error_set(err,
					     "%s: singleton takes no job id, "
					     "expected singleton alone",
					     what);
		return add(l, kind, 0, 0, what, err);
	}
	if (tlen == len)
		return mer_error_set(err,
				     "%s: %s names no job, expected "
				     "%s:JOBID[:JOBID...]",
				     what, dep_kind_name(kind),
				     dep_kind_name(kind));
	for (p = s + tlen; p < s + len;) {
		size_t ilen, n = (size_t)(s + len - p - 1);
		const char *id = p + 1, *plus;
		uint32_t job, minutes = 0;

		ilen = strcspn(id, ":");
		if (ilen > n)
			ilen = n;
		plus = memchr(id, '+', ilen);
		if (plus) {
			size_t mlen = (size_t)(id + ilen - plus - 1);

			if (kind != DEP_AFTER)
				return mer_error_set(
					err,
					"%s: %s:%.*s: +MINUTES is only for "
					"after, expected after:JOBID+MINUTES",
					what, dep_kind_name(kind),
					(int)(ilen < ECHO_MAX ? ilen
							      : ECHO_MAX),
					id);
			if (!number(plus + 1, mlen, 525600, &minutes))
				return mer_error_set(
					err,
					"%s: after:%.*s: '%.*s' is not a "
					"number of minutes (1 to 525600)",
					what,
					(int)(ilen < ECHO_MAX ? ilen
							      : ECHO_MAX),
					id,
					(int)(mlen < ECHO_MAX ? mlen
							      : ECHO_MAX),
					plus + 1);
		}
		if (!number(id, plus ? (size_t)(plus - id) : ilen, UINT32_MAX,
			    &job)) {
			size_t jl = plus ? (size_t)(plus - id) : ilen;

			return mer_error_set(
				err, "%s: %s:'%.*s': %s", what,
				dep_kind_name(kind),
				(int)(jl < ECHO_MAX ? jl : ECHO_MAX), id,
				memchr(id, '_', jl)
					? "an array task, and Meridian has no "
					  "arrays yet: expected a job id"
					: "not a job id, expected a number "
					  "from 1");
		}
		if (add(l, kind, job, minutes, what, err) < 0)
			return -1;
		p = id + ilen;
	}
	return 0;
}

int dep_parse(const char *s, const char *what, struct dep_list *out,
	      struct mer_error *err)
{
	size_t len = s ? strlen(s) : 0;
	bool comma, query;

	memset(out, 0, sizeof(*out));
	if (!len)
		return mer_error_set(err, "%s is empty, expected " FORM, what);
	if (len > DEP_TEXT_MAX)
		return mer_error_set(err, "%s: %zu bytes, expected at most %d",
				     what, len, DEP_TEXT_MAX);
	comma = strchr(s, ',') != NULL;
	query = strchr(s, '?') != NULL;
	if (comma && query)
		return mer_error_set(err,
				     "%s=%.*s: both ',' and '?', expected one "
				     "of them: ',' all must hold, '?' any one",
				     what, ECHO_MAX, s);
	out->any = query;
	for (const char *p = s;;) {
		size_t n = strcspn(p, query ? "?" : ",");

		if (!n) {
			dep_list_free(out);
			return mer_error_set(err,
					     "%s=%.*s: an empty dependency, "
					     "expected " FORM,
					     what, ECHO_MAX, s);
		}
		if (element(p, n, what, out, err) < 0) {
			dep_list_free(out);
			return -1;
		}
		if (!p[n])
			break;
		p += n + 1;
		if (!*p) {
			dep_list_free(out);
			return mer_error_set(err,
					     "%s=%.*s: ends with a separator, "
					     "expected " FORM,
					     what, ECHO_MAX, s);
		}
	}
	return 0;
}
