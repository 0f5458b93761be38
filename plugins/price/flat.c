/*
 * price/flat - one fixed price per GPU model.
 *
 *   GpuHourPrice=a100:2.10,h100:3.50,default:0.50
 *
 * A node's GPU-hour costs the price of its GPU model, else the default,
 * else nothing.  A node without GPUs has no GPU-hour: its price is 0.
 * Amounts are dollars with at most six decimals, kept as integer
 * micro-dollars.  Models match without regard to case.
 *
 * Plugins link nothing of libmeridian, so the amount is parsed here.
 *
 * GpuHourPrice= is this plugin's key (its key table): flat_check is what
 * every program reading meridian.conf runs on the value as written (the
 * messages are those meridian.conf has always given), flat_init parses it.
 */
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <meridian/plugin_price.h>

#define FLAT_MAX_MODEL 64
#define FLAT_ECHO_MAX  40
#define FLAT_KEY       "GpuHourPrice"

struct flat_price {
	char model[FLAT_MAX_MODEL];
	int64_t micro;
};

struct flat {
	struct flat_price *prices;
	size_t n;
	bool has_default;
	int64_t default_micro;
};

/* "2", "2.1", "2.105", "0.000001" -> micro-dollars; -1 when not money. */
static int parse_dollars(const char *s, size_t len, int64_t *out)
{
	int64_t whole = 0, frac = 0;
	size_t i = 0, decimals = 0;
	bool digits = false;

	if (i < len && s[i] == '$')
		i++;
	for (; i < len && isdigit((unsigned char)s[i]); i++) {
		if (whole > (INT64_MAX / 1000000 - 9) / 10)
			return -1;
		whole = whole * 10 + (s[i] - '0');
		digits = true;
	}
	if (i < len && s[i] == '.') {
		for (i++; i < len && isdigit((unsigned char)s[i]); i++) {
			if (++decimals > 6)
				return -1;
			frac = frac * 10 + (s[i] - '0');
			digits = true;
		}
	}
	if (!digits || i != len)
		return -1;
	while (decimals++ < 6)
		frac *= 10;
	*out = whole * 1000000 + frac;
	return 0;
}

static void trim(const char **s, size_t *len)
{
	while (*len && isspace((unsigned char)**s)) {
		(*s)++;
		(*len)--;
	}
	while (*len && isspace((unsigned char)(*s)[*len - 1]))
		(*len)--;
}

static void flat_fini(void *state)
{
	struct flat *f = state;

	if (!f)
		return;
	free(f->prices);
	free(f);
}

static int bad(struct mer_error *err, const char *entry, size_t len,
	       const char *why)
{
	snprintf(err->text, sizeof(err->text),
		 "GpuHourPrice=: '%.*s' %s; expected MODEL:DOLLARS,... "
		 "e.g. a100:2.10,default:0.50",
		 (int)(len > 40 ? 40 : len), entry, why);
	return -1;
}

static int add_entry(struct flat *f, const char *e, size_t len,
		     struct mer_error *err)
{
	const char *colon = memchr(e, ':', len), *m = e, *v;
	size_t mlen, vlen, i;
	int64_t micro;

	if (!colon)
		return bad(err, e, len, "has no ':'");
	mlen = (size_t)(colon - e);
	v = colon + 1;
	vlen = len - mlen - 1;
	trim(&m, &mlen);
	trim(&v, &vlen);
	if (mlen == 0)
		return bad(err, e, len, "names no GPU model");
	if (mlen >= FLAT_MAX_MODEL)
		return bad(err, e, len, "has a model name that is too long");
	for (i = 0; i < mlen; i++)
		if (!isalnum((unsigned char)m[i]) && !strchr("_.-", m[i]))
			return bad(err, e, len, "has a bad model name");
	if (parse_dollars(v, vlen, &micro) < 0)
		return bad(err, e, len,
			   "is not an amount of dollars (at most 6 decimals)");
	if (mlen == 7 && strncasecmp(m, "default", 7) == 0) {
		if (f->has_default)
			return bad(err, e, len, "sets the default twice");
		f->has_default = true;
		f->default_micro = micro;
		return 0;
	}
	for (i = 0; i < f->n; i++)
		if (strlen(f->prices[i].model) == mlen &&
		    strncasecmp(f->prices[i].model, m, mlen) == 0)
			return bad(err, e, len, "prices a model twice");
	{
		struct flat_price *p =
			realloc(f->prices, (f->n + 1) * sizeof(*p));

		if (!p)
			return bad(err, e, len, "cannot be stored (no memory)");
		f->prices = p;
	}
	memcpy(f->prices[f->n].model, m, mlen);
	f->prices[f->n].model[mlen] = '\0';
	f->prices[f->n].micro = micro;
	f->n++;
	return 0;
}

/* The value's form as meridian.conf has always checked it: MODEL (a plain
 * name) ':' dollars (an optional '$', at most six decimals), comma
 * separated, no empty entry; "" is no price list. */
static int check_money(const char *s, struct mer_error *err)
{
	const char *p = s;
	int64_t whole = 0;
	int nwhole = 0, nfrac = 0;

	if (*p == '$')
		p++;
	while (isdigit((unsigned char)*p)) {
		/* INT64_MAX micro-dollars is about 9.2e12 dollars. */
		if (whole > (INT64_MAX / 1000000 - 9) / 10) {
			snprintf(err->text, sizeof(err->text),
				 FLAT_KEY "=%.*s: too large, expected dollars "
					  "below 9000000000000",
				 FLAT_ECHO_MAX, s);
			return -1;
		}
		whole = whole * 10 + (*p++ - '0');
		nwhole++;
	}
	if (*p == '.') {
		for (p++; isdigit((unsigned char)*p); p++) {
			if (++nfrac > 6) {
				snprintf(err->text, sizeof(err->text),
					 FLAT_KEY
					 "=%.*s: more than six "
					 "decimals, expected dollars such as "
					 "2.50 (a micro-dollar is the smallest "
					 "amount)",
					 FLAT_ECHO_MAX, s);
				return -1;
			}
		}
	}
	if (*p != '\0' || nwhole + nfrac == 0) {
		snprintf(err->text, sizeof(err->text),
			 FLAT_KEY "=%.*s: expected dollars with up to six "
				  "decimals, such as 2.50",
			 FLAT_ECHO_MAX, s);
		return -1;
	}
	return 0;
}

static bool plain_name(const char *s, size_t len)
{
	size_t i;

	if (!len)
		return false;
	for (i = 0; i < len; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr("._-", s[i]))
			return false;
	return true;
}

static int flat_parse(struct flat *f, const char *spec, struct mer_error *err);

static int flat_check(const char *v, struct mer_error *err)
{
	const char *p = v;
	struct flat f = {0};
	int rc;

	while (*p) {
		size_t len = strcspn(p, ",");
		const char *colon = memchr(p, ':', len);
		char money[64];

		if (!colon || !plain_name(p, (size_t)(colon - p))) {
			snprintf(err->text, sizeof(err->text),
				 FLAT_KEY
				 ": '%.*s' is not MODEL:DOLLARS, "
				 "expected MODEL:DOLLARS[,...] such as "
				 "a100:2.10,default:0.50",
				 (int)(len > FLAT_ECHO_MAX ? FLAT_ECHO_MAX
							   : len),
				 p);
			return -1;
		}
		snprintf(money, sizeof(money), "%.*s",
			 (int)(len - (size_t)(colon - p) - 1), colon + 1);
		if (check_money(money, err) < 0)
			return -1;
		p += len;
		if (*p == ',' && *++p == '\0') {
			snprintf(err->text, sizeof(err->text),
				 FLAT_KEY " ends in ',', expected "
					  "MODEL:DOLLARS after each comma");
			return -1;
		}
	}
	/* And what init will refuse (a model priced twice, ...). */
	rc = flat_parse(&f, v, err);
	free(f.prices);
	return rc;
}

static const struct mer_plugin_key flat_keys[] = {
	{FLAT_KEY, "MODEL:DOLLARS[,MODEL:DOLLARS...]", flat_check},
	{NULL, NULL, NULL},
};

/* Parse spec into f (which starts empty); -1 with err on a bad entry. */
static int flat_parse(struct flat *f, const char *spec, struct mer_error *err)
{
	const char *p;

	for (p = spec; *p;) {
		const char *end = strchr(p, ',');
		const char *e = p;
		size_t len = end ? (size_t)(end - p) : strlen(p);

		trim(&e, &len);
		if (len == 0) {
			if (end || p != spec)
				return bad(err, p, 0, "is an empty entry");
		} else if (add_entry(f, e, len, err) < 0) {
			return -1;
		}
		if (!end)
			break;
		p = end + 1;
	}
	return 0;
}

static void *flat_init(const struct mer_plugin_conf *conf,
		       struct mer_error *err)
{
	struct flat *f = calloc(1, sizeof(*f));
	const char *spec;

	if (!f) {
		snprintf(err->text, sizeof(err->text),
			 "price/flat: out of memory");
		return NULL;
	}
	spec = conf && conf->get ? conf->get(conf->conf, FLAT_KEY) : NULL;
	if (!spec)
		return f; /* every GPU-hour costs 0 */
	if (flat_parse(f, spec, err) < 0) {
		flat_fini(f);
		return NULL;
	}
	return f;
}

/* Neither the time, the market nor the request changes a flat price. */
static int64_t flat_gpu_hour(void *state, const struct mer_price_query *q,
			     struct mer_error *err)
{
	const struct flat *f = state;
	const struct mer_price_node *node = q->node;
	size_t i;

	(void)err;
	if (!node->gpus)
		return 0;
	for (i = 0; node->gpu_model && i < f->n; i++)
		if (strcasecmp(f->prices[i].model, node->gpu_model) == 0)
			return f->prices[i].micro;
	return f->has_default ? f->default_micro : 0;
}

const struct mer_price_ops meridian_plugin = {
	.hdr = {MER_PLUGIN_PRICE, MER_PRICE_ABI, "price/flat"},
	.keys = flat_keys,
	.init = flat_init,
	.fini = flat_fini,
	.gpu_hour = flat_gpu_hour,
};
