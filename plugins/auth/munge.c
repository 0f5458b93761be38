/*
 * auth/munge - credentials from munged.
 *
 * A munge credential names the uid and gid of the process that made it, is
 * good for a limited time (munged's TTL) and for one decode: munged refuses
 * a replay.  AuthSocket= points at a munged other than the default one
 * (tests run their own with a test key).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <munge.h>

#include <meridian/plugin_auth.h>

struct munge_state {
	char *socket;
};

static int fail(struct mer_error *err, const char *what, munge_err_t e,
		munge_ctx_t ctx)
{
	const char *detail = ctx ? munge_ctx_strerror(ctx) : NULL;

	if (err)
		snprintf(err->text, sizeof(err->text), "munge %s failed: %s",
			 what, detail ? detail : munge_strerror(e));
	errno = (e == EMUNGE_SOCKET) ? ECONNREFUSED : EACCES;
	return -1;
}

static munge_ctx_t make_ctx(struct munge_state *s, struct mer_error *err)
{
	munge_ctx_t ctx = munge_ctx_create();

	if (!ctx) {
		if (err)
			snprintf(err->text, sizeof(err->text),
				 "munge: out of memory");
		errno = ENOMEM;
		return NULL;
	}
	if (s->socket &&
	    munge_ctx_set(ctx, MUNGE_OPT_SOCKET, s->socket) != EMUNGE_SUCCESS) {
		fail(err, "socket setting", EMUNGE_SOCKET, ctx);
		munge_ctx_destroy(ctx);
		return NULL;
	}
	return ctx;
}

static void *munge_init(const char *socket, struct mer_error *err)
{
	struct munge_state *s = calloc(1, sizeof(*s));

	if (!s) {
		errno = ENOMEM;
		if (err)
			snprintf(err->text, sizeof(err->text), "out of memory");
		return NULL;
	}
	if (socket && !(s->socket = strdup(socket))) {
		free(s);
		errno = ENOMEM;
		return NULL;
	}
	return s;
}

static void munge_fini(void *state)
{
	struct munge_state *s = state;

	if (!s)
		return;
	free(s->socket);
	free(s);
}

static int munge_encode_cred(void *state, char **cred, size_t *len,
			     struct mer_error *err)
{
	munge_ctx_t ctx = make_ctx(state, err);
	munge_err_t e;
	char *c = NULL;

	if (!ctx)
		return -1;
	e = munge_encode(&c, ctx, NULL, 0);
	if (e != EMUNGE_SUCCESS) {
		fail(err, "encode", e, ctx);
		munge_ctx_destroy(ctx);
		return -1;
	}
	munge_ctx_destroy(ctx);
	*cred = c;
	*len = strlen(c);
	return 0;
}

static int munge_decode_cred(void *state, const char *cred, size_t len,
			     uid_t *uid, gid_t *gid, struct mer_error *err)
{
	munge_ctx_t ctx = make_ctx(state, err);
	munge_err_t e;
	char *c;

	if (!ctx)
		return -1;
	/* The frame does not NUL-terminate the credential; munge wants it. */
	c = malloc(len + 1);
	if (!c) {
		munge_ctx_destroy(ctx);
		errno = ENOMEM;
		return -1;
	}
	memcpy(c, cred, len);
	c[len] = '\0';
	e = munge_decode(c, ctx, NULL, NULL, uid, gid);
	free(c);
	if (e != EMUNGE_SUCCESS) {
		fail(err, "credential check", e, ctx);
		munge_ctx_destroy(ctx);
		return -1;
	}
	munge_ctx_destroy(ctx);
	return 0;
}

const struct mer_auth_ops meridian_plugin = {
	.hdr = {MER_PLUGIN_AUTH, MER_AUTH_ABI, "auth/munge"},
	.init = munge_init,
	.fini = munge_fini,
	.encode = munge_encode_cred,
	.decode = munge_decode_cred,
};
