/*
 * array.c - --array's ranges to a bitmap of task ids and back (array.h).
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "array.h"
#include "util.h"

#define FORM                                                                   \
	"ranges such as 0-99, 1,3,5-9 or 0-99:4, then %N to run at most N at " \
	"once"

void array_spec_free(struct array_spec *a)
{
	if (!a)
		return;
	free(a->bits);
	memset(a, 0, sizeof(*a));
}

/* A task id at *p, moving *p past it; -1 when none or too large. */
static int64_t number(const char **p)
{
	const char *s = *p;
	int64_t v = 0;

	if (!isdigit((unsigned char)*s))
		return -1;
	while (isdigit((unsigned char)*s)) {
		v = v * 10 + (*s++ - '0');
		if (v > 0xffffffffLL)
			return -1;
	}
	*p = s;
	return v;
}

static void set_bit(uint8_t *bits, uint32_t i)
{
	bits[i / 8] |= (uint8_t)(1u << (i % 8));
}

int array_parse(const char *s, const char *what, uint32_t limit,
		struct array_spec *out, struct mer_error *err)
{
	const char *p = s ? s : "";
	size_t len = strlen(p);

	memset(out, 0, sizeof(*out));
	if (len == 0 || len > ARRAY_TEXT_MAX) {
		errno = EINVAL;
		return mer_error_set(err, "%s=%.40s: %s; expected %s", what, p,
				     len ? "too long" : "empty", FORM);
	}
	if (limit == 0)
		limit = 1;
	out->nbytes = (limit + 7) / 8;
	out->bits = xcalloc(out->nbytes, 1);
	for (;;) {
		int64_t a = number(&p), b, step = 1;

		if (a < 0)
			goto bad;
		b = a;
		if (*p == '-') {
			p++;
			if ((b = number(&p)) < 0 || b < a)
				goto bad;
			if (*p == ':') {
				p++;
				if ((step = number(&p)) <= 0)
					goto bad;
			}
		}
		if (b >= limit) {
			errno = EINVAL;
			mer_error_set(err,
				      "%s=%.40s: task id %lld is over the "
				      "limit; task ids go from 0 to %u "
				      "(MaxArraySize=%u)",
				      what, s, (long long)b, limit - 1, limit);
			array_spec_free(out);
			return -1;
		}
		for (int64_t i = a; i <= b; i += step)
			set_bit(out->bits, (uint32_t)i);
		if (*p == ',') {
			p++;
			continue;
		}
		break;
	}
	if (*p == '%') {
		int64_t m;

		p++;
		if ((m = number(&p)) <= 0)
			goto bad;
		out->max_running = (uint32_t)m;
	}
	if (*p)
		goto bad;
	array_figures(out->bits, out->nbytes, out);
	return 0;
bad:
	array_spec_free(out);
	errno = EINVAL;
	return mer_error_set(err, "%s=%.40s: expected %s", what, s, FORM);
}

uint32_t array_next(const uint8_t *bits, size_t nbytes, uint32_t from)
{
	for (size_t byte = from / 8; byte < nbytes; byte++) {
		uint8_t v = bits[byte];

		if (byte == from / 8)
			v &= (uint8_t)(0xffu << (from % 8));
		if (v)
			return (uint32_t)(byte * 8) +
			       (uint32_t)__builtin_ctz(v);
	}
	return UINT32_MAX;
}

size_t array_count(const uint8_t *bits, size_t nbytes)
{
	size_t n = 0;

	for (size_t i = 0; i < nbytes; i++)
		n += (size_t)__builtin_popcount(bits[i]);
	return n;
}

static uint32_t gcd(uint32_t a, uint32_t b)
{
	while (b) {
		uint32_t t = a % b;

		a = b;
		b = t;
	}
	return a;
}

void array_figures(const uint8_t *bits, size_t nbytes, struct array_spec *a)
{
	uint32_t prev = UINT32_MAX, g = 0;

	a->count = 0;
	a->min = a->max = 0;
	for (uint32_t i = array_next(bits, nbytes, 0); i != UINT32_MAX;
	     i = array_next(bits, nbytes, i + 1)) {
		if (a->count == 0)
			a->min = i;
		else
			g = gcd(g, i - prev);
		a->max = i;
		prev = i;
		a->count++;
	}
	/* a step only where the ids are evenly spaced */
	a->step = a->count > 1 && g && (a->max - a->min) / g + 1 == a->count
			  ? g
			  : 1;
}

char *array_fold(const uint8_t *bits, size_t nbytes)
{
	struct strbuf b = {0};
	uint32_t i = array_next(bits, nbytes, 0);

	strbuf_add(&b, "", 0);
	while (i != UINT32_MAX) {
		uint32_t j = array_next(bits, nbytes, i + 1), step, end, n = 1;

		if (b.len)
			strbuf_addc(&b, ',');
		if (j == UINT32_MAX) {
			strbuf_addf(&b, "%u", i);
			break;
		}
		/* the longest run i, i+step, ... from here; a stepped run
		 * stops before an id that starts a run of consecutive ones
		 * ("1,3,5-9", not "1-5:2,6-9") */
		step = j - i;
		end = j;
		n = 2;
		while (end + step > end &&
		       array_next(bits, nbytes, end + 1) == end + step &&
		       (step == 1 ||
			!array_bit(bits, nbytes, end + step + 1))) {
			end += step;
			n++;
		}
		if (step > 1 && array_bit(bits, nbytes, end + 1))
			n = 2; /* end starts a consecutive run: leave it */
		if (step == 1 || n >= 3) {
			strbuf_addf(&b, "%u-%u", i, end);
			if (step > 1)
				strbuf_addf(&b, ":%u", step);
			i = array_next(bits, nbytes, end + 1);
		} else {
			strbuf_addf(&b, "%u", i);
			i = j;
		}
	}
	return b.s;
}
