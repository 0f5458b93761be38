/*
 * hostlist.c - expand and compress Slurm-style host lists.
 *
 * An expression is a comma-separated list of names; a name may hold
 * bracket groups "[1-3,07-09]" and expands to the cartesian product of its
 * groups, left to right.  Expansion counts names and their bytes before it
 * builds any, so "n[0-99999999]" or a 50 KB name times [1-65536] fails
 * fast instead of eating memory, and the work per name is bounded by
 * HOSTLIST_MAX_GROUPS and HOSTLIST_MAX_NAME, whatever the input.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hostlist.h"
#include "util.h"

/* Longest part of an expression echoed back in an error. */
#define ECHO_MAX 48
/* Digits a bracket number may have: enough for any host count. */
#define MAX_DIGITS 9
#define STR_(x)	   #x
#define STR(x)	   STR_(x)

struct range {
	unsigned long lo, hi;
	int width; /* digits of lo as written: "07" pads to 2 */
};

/* One bracket group of a name: the text before it, then its ranges. */
struct group {
	const char *text; /* literal text before the bracket */
	size_t text_len;
	struct range *ranges;
	size_t nranges;
	size_t count; /* names the ranges give */
};

/* One comma-separated element of an expression, parsed. */
struct elem {
	const char *start;
	size_t len;
	struct group *groups;
	size_t ngroups;
	const char *tail; /* literal text after the last bracket */
	size_t tail_len;
	size_t name_max; /* the longest name it gives, NUL excluded */
};

static void elem_clear(struct elem *e)
{
	size_t i;

	for (i = 0; i < e->ngroups; i++)
		free(e->groups[i].ranges);
	free(e->groups);
	e->groups = NULL;
	e->ngroups = 0;
}

static int elem_error(struct elem *e, struct mer_error *err, const char *what)
{
	int len = (int)(e->len > ECHO_MAX ? ECHO_MAX : e->len);

	mer_error_set(err, "%.*s%s: %s", len, e->start,
		      e->len > ECHO_MAX ? "..." : "", what);
	errno = EINVAL;
	return -1;
}

static bool is_name_char(int c)
{
	return c > ' ' && c < 127 && c != '[' && c != ']' && c != ',';
}

/* Read the digits at *q (stopping one past MAX_DIGITS) into *v; returns
 * how many were read and moves *q past them. */
static int parse_number(const char **q, const char *end, unsigned long *v)
{
	int nd = 0;

	*v = 0;
	while (*q < end && isdigit((unsigned char)**q) && nd <= MAX_DIGITS) {
		*v = *v * 10 + (unsigned long)(*(*q)++ - '0');
		nd++;
	}
	return nd;
}

/* Digits v prints with at least width of them. */
static size_t printed_width(unsigned long v, int width)
{
	size_t d = 1;

	while (v >= 10) {
		v /= 10;
		d++;
	}
	return d > (size_t)width ? d : (size_t)width;
}

static int too_many(struct elem *e, struct mer_error *err)
{
	elem_error(e, err,
		   "hostlist expands to more than " STR(
			   HOSTLIST_MAX) " names, expected a smaller range");
	errno = E2BIG;
	return -1;
}

/* Parse "1-3,07" (between the brackets, [p, end)) into g's ranges. */
static int parse_ranges(struct elem *e, struct group *g, const char *p,
			const char *end, struct mer_error *err)
{
	static const char too_long[] =
		"number too long, expected at most 9 digits";
	size_t cap = 0;

	if (p == end)
		return elem_error(e, err,
				  "empty brackets, expected NAME[LOW-HIGH,"
				  "...] such as gpu[01-16]");
	while (p < end) {
		struct range r;
		const char *q = p;
		unsigned long v;
		int nd = parse_number(&q, end, &v);

		if (nd == 0)
			goto notnum;
		if (nd > MAX_DIGITS)
			return elem_error(e, err, too_long);
		r.lo = r.hi = v;
		r.width = nd;
		if (q < end && *q == '-') {
			q++;
			nd = parse_number(&q, end, &v);
			if (nd == 0)
				goto notnum;
			if (nd > MAX_DIGITS)
				return elem_error(e, err, too_long);
			if (v < r.lo)
				return elem_error(e, err,
						  "range goes down, "
						  "expected LOW-HIGH "
						  "with LOW <= HIGH");
			r.hi = v;
		}
		if (q < end && *q != ',')
			goto notnum;
		if (g->nranges == cap) {
			cap = cap ? cap * 2 : 4;
			g->ranges =
				xrealloc(g->ranges, cap * sizeof(*g->ranges));
		}
		g->ranges[g->nranges++] = r;
		/* Bounded by HOSTLIST_MAX per range, so no overflow here. */
		if (r.hi - r.lo >= HOSTLIST_MAX || g->count >= HOSTLIST_MAX)
			return too_many(e, err);
		g->count += r.hi - r.lo + 1;
		p = q < end ? q + 1 : q;
		if (q < end && p == end)
			goto notnum; /* trailing comma */
	}
	return 0;
notnum:
	return elem_error(e, err,
			  "expected NAME[LOW-HIGH,...] with decimal "
			  "numbers, such as gpu[01-16]");
}

/* Parse one element [start, start+len) into e; count its names. */
static int parse_elem(struct elem *e, const char *start, size_t len,
		      size_t *count, struct mer_error *err)
{
	const char *p = start, *end = start + len, *lit = start;
	size_t cap = 0, total = 1;

	memset(e, 0, sizeof(*e));
	e->start = start;
	e->len = len;
	while (p < end) {
		if (e->name_max + (size_t)(p - lit) > HOSTLIST_MAX_NAME) {
			elem_error(e, err,
				   "a host name longer than " STR(
					   HOSTLIST_MAX_NAME) " characters, "
							      "expected a "
							      "shorter one");
			errno = E2BIG;
			return -1;
		}
		if (*p == '[') {
			const char *close = memchr(p, ']', (size_t)(end - p));
			const char *open2 =
				memchr(p + 1, '[', (size_t)(end - p - 1));
			struct group *g;

			if (!close)
				return elem_error(e, err,
						  "'[' is not closed, "
						  "expected NAME[LOW-"
						  "HIGH,...]");
			if (open2 && open2 < close)
				return elem_error(e, err,
						  "'[' inside '[', "
						  "expected NAME[LOW-"
						  "HIGH,...]");
			if (e->ngroups == HOSTLIST_MAX_GROUPS) {
				elem_error(
					e, err,
					"more than " STR(
						HOSTLIST_MAX_GROUPS) " bracket "
								     "groups "
								     "in one "
								     "name");
				errno = E2BIG;
				return -1;
			}
			if (e->ngroups == cap) {
				cap = cap ? cap * 2 : 2;
				e->groups = xrealloc(e->groups,
						     cap * sizeof(*e->groups));
			}
			g = &e->groups[e->ngroups++];
			memset(g, 0, sizeof(*g));
			g->text = lit;
			g->text_len = (size_t)(p - lit);
			if (parse_ranges(e, g, p + 1, close, err) < 0)
				return -1;
			total *= g->count;
			if (total > HOSTLIST_MAX)
				return too_many(e, err);
			{
				size_t w = 0;

				for (size_t k = 0; k < g->nranges; k++) {
					size_t rw = printed_width(
						g->ranges[k].hi,
						g->ranges[k].width);
					if (rw > w)
						w = rw;
				}
				e->name_max += g->text_len + w;
			}
			p = close + 1;
			lit = p;
		} else if (*p == ']') {
			return elem_error(e, err,
					  "']' without '[', expected "
					  "NAME[LOW-HIGH,...]");
		} else if (!is_name_char((unsigned char)*p)) {
			return elem_error(e, err,
					  "a host name holds no spaces or "
					  "control characters");
		} else {
			p++;
		}
	}
	e->tail = lit;
	e->tail_len = (size_t)(end - lit);
	e->name_max += e->tail_len;
	if (e->name_max > HOSTLIST_MAX_NAME) {
		elem_error(e, err,
			   "a host name longer than " STR(
				   HOSTLIST_MAX_NAME) " characters, expected "
						      "a shorter one");
		errno = E2BIG;
		return -1;
	}
	*count = total;
	return 0;
}

/* Append e's names, the last group varying fastest.  The odometer is as
 * deep as HOSTLIST_MAX_GROUPS, never as the input. */
static void emit_elem(const struct elem *e, char **names, size_t *n)
{
	size_t idx[HOSTLIST_MAX_GROUPS], k;
	unsigned long val[HOSTLIST_MAX_GROUPS];
	struct strbuf b = {0};

	for (k = 0; k < e->ngroups; k++) {
		idx[k] = 0;
		val[k] = e->groups[k].ranges[0].lo;
	}
	for (;;) {
		b.len = 0;
		for (k = 0; k < e->ngroups; k++) {
			const struct group *g = &e->groups[k];
			strbuf_add(&b, g->text, g->text_len);
			strbuf_addf(&b, "%0*lu", g->ranges[idx[k]].width,
				    val[k]);
		}
		strbuf_add(&b, e->tail ? e->tail : "", e->tail_len);
		names[(*n)++] = xstrdup(b.s);
		/* Odometer step, rightmost group first. */
		for (k = e->ngroups; k > 0; k--) {
			const struct group *g = &e->groups[k - 1];
			if (val[k - 1] < g->ranges[idx[k - 1]].hi) {
				val[k - 1]++;
				break;
			}
			if (idx[k - 1] + 1 < g->nranges) {
				idx[k - 1]++;
				val[k - 1] = g->ranges[idx[k - 1]].lo;
				break;
			}
			idx[k - 1] = 0;
			val[k - 1] = g->ranges[0].lo;
		}
		if (k == 0)
			break;
	}
	strbuf_free(&b);
}

/* The end of the element starting at p: the next comma outside brackets. */
static const char *elem_end(const char *p)
{
	int depth = 0;

	for (; *p; p++) {
		if (*p == '[')
			depth++;
		else if (*p == ']' && depth > 0)
			depth--;
		else if (*p == ',' && depth == 0)
			break;
	}
	return p;
}

int hostlist_expand(const char *expr, char ***names, size_t *n,
		    struct mer_error *err)
{
	struct elem *elems = NULL;
	size_t nelems = 0, cap = 0, total = 0, bytes = 0, i;
	const char *p = expr;
	char **out;

	*names = NULL;
	*n = 0;
	if (!expr || !*expr)
		return 0;
	/* Parse and count everything first: no partial result on error. */
	for (;;) {
		const char *end = elem_end(p);
		size_t count;

		if (nelems == cap) {
			cap = cap ? cap * 2 : 8;
			elems = xrealloc(elems, cap * sizeof(*elems));
		}
		if (end == p) {
			int len = (int)strlen(expr);
			mer_error_set(err,
				      "%.*s%s: empty name, expected names "
				      "separated by single commas",
				      len > ECHO_MAX ? ECHO_MAX : len, expr,
				      len > ECHO_MAX ? "..." : "");
			errno = EINVAL;
			goto fail;
		}
		if (parse_elem(&elems[nelems], p, (size_t)(end - p), &count,
			       err) < 0) {
			nelems++;
			goto fail;
		}
		nelems++;
		total += count;
		bytes += count * (elems[nelems - 1].name_max + 1);
		if (total > HOSTLIST_MAX || bytes > HOSTLIST_MAX_BYTES) {
			int len = (int)strlen(expr);
			mer_error_set(err,
				      "%.*s%s: hostlist expands to more than "
				      "%u %s, expected a shorter list",
				      len > ECHO_MAX ? ECHO_MAX : len, expr,
				      len > ECHO_MAX ? "..." : "",
				      total > HOSTLIST_MAX ? HOSTLIST_MAX
							   : HOSTLIST_MAX_BYTES,
				      total > HOSTLIST_MAX ? "names" : "bytes");
			errno = E2BIG;
			goto fail;
		}
		if (*end == '\0')
			break;
		p = end + 1;
	}
	out = xcalloc(total, sizeof(*out));
	for (i = 0; i < nelems; i++) {
		emit_elem(&elems[i], out, n);
		elem_clear(&elems[i]);
	}
	free(elems);
	*names = out;
	return 0;
fail:
	for (i = 0; i < nelems; i++)
		elem_clear(&elems[i]);
	free(elems);
	return -1;
}

void hostlist_free(char **names, size_t n)
{
	size_t i;

	if (!names)
		return;
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

/*
 * Split name into prefix and trailing number.  Returns false when the name
 * ends in no digits (or in too many to be a host index).
 */
static bool split_name(const char *name, size_t *prefix_len, unsigned long *num,
		       int *width)
{
	size_t len = strlen(name), i = len;
	unsigned long v = 0;

	while (i > 0 && isdigit((unsigned char)name[i - 1]))
		i--;
	if (i == len || len - i > MAX_DIGITS)
		return false;
	for (size_t k = i; k < len; k++)
		v = v * 10 + (unsigned long)(name[k] - '0');
	*prefix_len = i;
	*num = v;
	*width = (int)(len - i);
	return true;
}

/* Does value printed with the padding of a range starting "lo" give the
 * digits a name has?  "9"..: 10 has 2 digits and no padding, so yes; "07"..:
 * 10 prints "10", which matches "10" too. */
static bool fits_width(unsigned long v, int range_width, int name_width)
{
	char buf[24];

	return snprintf(buf, sizeof(buf), "%0*lu", range_width, v) ==
	       name_width;
}

static void add_range(struct strbuf *b, const struct range *r)
{
	if (r->lo == r->hi)
		strbuf_addf(b, "%0*lu", r->width, r->lo);
	else
		strbuf_addf(b, "%0*lu-%0*lu", r->width, r->lo, r->width, r->hi);
}

char *hostlist_compress(char *const *names, size_t n)
{
	struct strbuf b = {0};
	struct range *ranges = NULL;
	size_t i = 0, cap = 0;

	strbuf_add(&b, "", 0);
	while (i < n) {
		size_t plen, nr = 0, j;
		unsigned long v;
		int w;

		if (b.len)
			strbuf_addc(&b, ',');
		if (!split_name(names[i], &plen, &v, &w)) {
			strbuf_add(&b, names[i], strlen(names[i]));
			i++;
			continue;
		}
		/* Gather the run of names that share this prefix. */
		for (j = i; j < n; j++) {
			size_t pl;
			unsigned long vj;
			int wj;

			if (!split_name(names[j], &pl, &vj, &wj) ||
			    pl != plen || memcmp(names[j], names[i], plen) != 0)
				break;
			if (nr > 0 && vj == ranges[nr - 1].hi + 1 &&
			    fits_width(vj, ranges[nr - 1].width, wj)) {
				ranges[nr - 1].hi = vj;
				continue;
			}
			if (nr == cap) {
				cap = cap ? cap * 2 : 8;
				ranges =
					xrealloc(ranges, cap * sizeof(*ranges));
			}
			ranges[nr].lo = ranges[nr].hi = vj;
			ranges[nr].width = wj;
			nr++;
		}
		strbuf_add(&b, names[i], plen);
		if (nr == 1 && ranges[0].lo == ranges[0].hi) {
			add_range(&b, &ranges[0]);
		} else {
			strbuf_addc(&b, '[');
			for (size_t k = 0; k < nr; k++) {
				if (k)
					strbuf_addc(&b, ',');
				add_range(&b, &ranges[k]);
			}
			strbuf_addc(&b, ']');
		}
		i = j;
	}
	free(ranges);
	return b.s;
}
