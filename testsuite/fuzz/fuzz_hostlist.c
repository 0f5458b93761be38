/*
 * fuzz_hostlist.c - host list expressions ("gpu[01-16],login1"), as
 * meridian.conf (Nodes=), mctld (a job's node list) and the commands
 * (-w, mnodes) read them.
 *
 * The input is an expression.  What expands must compress into an
 * expression that expands back to the same names in the same order
 * (hostlist.h's promise), and compressing the names of any list, here the
 * input's lines, must round-trip the same way.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "hostlist.h"

static void check_same(char *const *a, size_t na, char *const *b, size_t nb)
{
	if (na != nb)
		abort();
	for (size_t i = 0; i < na; i++)
		if (strcmp(a[i], b[i]) != 0)
			abort();
}

/* compress(names) expands back to names. */
static void round_trip(char *const *names, size_t n)
{
	struct mer_error err = {""};
	char *expr = hostlist_compress(names, n);
	char **again;
	size_t nagain;

	if (hostlist_expand(expr, &again, &nagain, &err) < 0)
		abort(); /* compress made an expression expand refuses */
	check_same(names, n, again, nagain);
	hostlist_free(again, nagain);
	free(expr);
}

/* Is s a name that expand would give back as itself?  Compress copies
 * names as they are, so only such names can round-trip. */
static bool plain_name(const char *s)
{
	if (!*s || strlen(s) > HOSTLIST_MAX_NAME)
		return false;
	for (; *s; s++)
		if (*s <= ' ' || *s >= 127 || strchr("[],", *s))
			return false;
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mer_error err = {""};
	char *expr = fuzz_str(data, size);
	char **names;
	size_t n;

	if (hostlist_expand(expr, &names, &n, &err) == 0) {
		if (n > HOSTLIST_MAX)
			abort();
		round_trip(names, n);
		hostlist_free(names, n);
	}

	/* The lines of the input as a list of names. */
	{
		char **list = NULL, *save = NULL, *tok;
		size_t nlist = 0;

		for (tok = strtok_r(expr, "\n", &save); tok;
		     tok = strtok_r(NULL, "\n", &save)) {
			if (!plain_name(tok))
				continue;
			list = xrealloc(list, (nlist + 1) * sizeof(*list));
			list[nlist++] = tok;
		}
		if (nlist)
			round_trip(list, nlist);
		free(list);
	}
	free(expr);
	return 0;
}
