/*
 * fuzz_util.h - what the fuzz targets share: a cursor that takes bytes
 * off the input.  Each target is one libFuzzer program; see Makefile.inc
 * for how they are built and run.
 *
 * A target must be deterministic (the same input does the same thing, so
 * a crash reproduces from its file alone) and leave nothing behind an
 * input (libFuzzer's leak check runs after inputs that allocated).
 */
#ifndef MER_FUZZ_UTIL_H
#define MER_FUZZ_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* The input, taken from the front.  Past the end every take gives 0 or
 * nothing: a target reads a short input as one padded with zeros. */
struct fuzz_in {
	const uint8_t *p;
	size_t left;
};

static inline uint8_t fuzz_u8(struct fuzz_in *in)
{
	if (!in->left)
		return 0;
	in->left--;
	return *in->p++;
}

static inline uint16_t fuzz_u16(struct fuzz_in *in)
{
	uint16_t hi = fuzz_u8(in);

	return (uint16_t)(hi << 8 | fuzz_u8(in));
}

/* Up to n bytes; *got says how many there were. */
static inline const uint8_t *fuzz_bytes(struct fuzz_in *in, size_t n,
					size_t *got)
{
	const uint8_t *p = in->p;

	if (n > in->left)
		n = in->left;
	in->p += n;
	in->left -= n;
	*got = n;
	return p;
}

/* A malloc'd NUL-terminated copy of [p, p + n). */
static inline char *fuzz_str(const uint8_t *p, size_t n)
{
	char *s = xmalloc(n + 1);

	memcpy(s, p, n);
	s[n] = '\0';
	return s;
}

/* The next string: up to the next NUL byte or the end; malloc'd. */
static inline char *fuzz_cstr(struct fuzz_in *in)
{
	const uint8_t *nul = memchr(in->p, '\0', in->left);
	size_t n = nul ? (size_t)(nul - in->p) : in->left, got;
	const uint8_t *p = fuzz_bytes(in, n, &got);

	if (nul)
		fuzz_u8(in); /* the NUL */
	return fuzz_str(p, got);
}

#endif
