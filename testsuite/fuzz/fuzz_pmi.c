/*
 * fuzz_pmi.c - PMI-1 and PMI-2 requests, as the ranks of a step send them to
 * mstepd's server (pmi.c), with barriers released the way mstepd's KVS
 * exchange releases them.
 *
 * The input: a byte for the layout (bits 0-2: the step's size - 1, bits
 * 3-5: this node's ranks - 1, bit 6: they are the last ranks, not the
 * first; a step with every rank here releases its barriers at once, as a
 * one-node step does; bit 7: PMI-2 is served too, as with mrun
 * --mpi=pmi2), then operations, each a byte whose bits 0-2 pick
 * a local rank and bits 3-7 the operation:
 *   0-19  bytes from the rank: a length byte, then that many bytes
 *   20-21 the rank's connection closes
 *   22-23 the other nodes answer the waiting barrier (with an entry)
 *   24-25 the step lets the ranks blocked in a barrier go (unblock)
 *   26    the step puts a key (NUL-separated key and value follow)
 *   27    a release with an entry the server must refuse
 *   28    the rank's connection fails: sends to it fail from now on
 *   29-31 bytes from the rank, as 0-19
 * What the server sends must be whole lines an MPICH client can read
 * ("cmd=...\n", no NUL), or with PMI-2 whole frames libpmi2 can read
 * (a 6-byte length, then "cmd=..." of that length), and nothing goes to
 * a rank after its abort.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "pmi.h"

#define MAX_RANKS 8

struct fuzz_step {
	struct pmi_server *srv;
	int size, first_local, nlocal;
	bool one_node;
	bool pmi2; /* the server speaks PMI-2 too (mrun --mpi=pmi2) */
	bool aborted[MAX_RANKS];
	bool send_fails[MAX_RANKS];
	bool waiting; /* barrier_ready came, no release yet */
	unsigned remote_seq;
};

static bool is_local(const struct fuzz_step *st, int rank)
{
	return rank >= st->first_local && rank < st->first_local + st->nlocal;
}

static int fz_send(void *arg, int rank, const char *buf, size_t len)
{
	struct fuzz_step *st = arg;
	const char *p = buf, *end = buf + len;

	if (!is_local(st, rank) || st->aborted[rank])
		abort(); /* a reply to a rank that is not here or aborted */
	if (len == 0 || memchr(buf, '\0', len))
		abort();
	if (st->pmi2 && strncmp(buf, "cmd=", 4) != 0) {
		/* PMI-2: frames of a 6-byte length (digits, then spaces)
		 * and a command of that length */
		while (p < end) {
			size_t n = 0, i;

			if (end - p < 6 || p[0] < '0' || p[0] > '9')
				abort();
			for (i = 0; i < 6 && p[i] >= '0' && p[i] <= '9'; i++)
				n = n * 10 + (size_t)(p[i] - '0');
			for (; i < 6; i++)
				if (p[i] != ' ')
					abort();
			p += 6;
			if (n < 5 || (size_t)(end - p) < n ||
			    strncmp(p, "cmd=", 4) != 0)
				abort(); /* a reply libpmi2 cannot read */
			p += n;
		}
		goto sent;
	}
	if (buf[len - 1] != '\n')
		abort();
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));

		if (strncmp(p, "cmd=", 4) != 0 || nl == p + 4)
			abort(); /* a line an MPICH client cannot read */
		p = nl + 1;
	}
sent:
	if (st->send_fails[rank]) {
		errno = EPIPE;
		return -1;
	}
	return 0;
}

static void fz_barrier_ready(void *arg, const struct pmi_kv *puts, size_t nputs)
{
	struct fuzz_step *st = arg;
	struct mer_error err = {""};

	if (st->waiting)
		abort(); /* a second barrier before the first was released */
	for (size_t i = 0; i < nputs; i++)
		if (!puts[i].key || !*puts[i].key || !puts[i].value ||
		    strchr(puts[i].key, ' ') || strchr(puts[i].value, ' '))
			abort(); /* the server let a bad put through */
	st->waiting = true;
	if (st->one_node) {
		/* a one-node step: the exchange has nothing to wait for */
		st->waiting = false;
		(void)pmi_server_barrier_release(st->srv, NULL, 0, &err);
	}
}

static void fz_abort(void *arg, int rank, int exitcode, const char *msg)
{
	struct fuzz_step *st = arg;

	if (!is_local(st, rank) || st->aborted[rank] || !msg)
		abort();
	st->aborted[rank] = true;
}

static void fz_error(void *arg, int rank, const char *what)
{
	if (!what)
		abort();
}

static const struct pmi_server_ops ops = {
	.send = fz_send,
	.barrier_ready = fz_barrier_ready,
	.abort = fz_abort,
	.error = fz_error,
};

static void release(struct fuzz_step *st, bool bad)
{
	struct mer_error err = {""};
	char key[32], value[32];
	struct pmi_kv e = {key, value};
	bool was = st->waiting;
	int rc;

	if (bad) {
		e.key = "has space";
		if (pmi_server_barrier_release(st->srv, &e, 1, &err) == 0)
			abort(); /* a key with a space was accepted */
		return;
	}
	snprintf(key, sizeof(key), "remote-%u", st->remote_seq);
	snprintf(value, sizeof(value), "v%u", st->remote_seq++);
	/* cleared first: the release may start the next barrier */
	st->waiting = false;
	rc = pmi_server_barrier_release(st->srv, &e, 1, &err);
	if (!was && rc == 0)
		abort(); /* released a barrier nobody was in */
	if (was && rc < 0 && errno == EINVAL)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = {data, size};
	struct fuzz_step st = {0};
	struct mer_error err = {""};
	uint8_t layout = fuzz_u8(&in);
	int per_node[MAX_RANKS + 1], nnodes = 0;

	st.size = 1 + (layout & 7);
	st.nlocal = 1 + ((layout >> 3) & 7);
	if (st.nlocal > st.size)
		st.nlocal = st.size;
	st.first_local = (layout & 0x40) ? st.size - st.nlocal : 0;
	st.one_node = st.nlocal == st.size;
	st.srv = pmi_server_create(&ops, &st, "kvs_7_0", st.size, 0, st.size,
				   &err);
	if (!st.srv)
		abort();
	st.pmi2 = layout & 0x80;
	if (st.pmi2 && pmi_server_enable_pmi2(st.srv, "7.0", &err) < 0)
		abort();
	for (int r = st.first_local; r < st.first_local + st.nlocal; r++)
		if (pmi_server_add_rank(st.srv, r, &err) < 0)
			abort();
	/* the layout as node 0 publishes it: ranks node by node */
	if (st.first_local > 0)
		per_node[nnodes++] = st.first_local;
	per_node[nnodes++] = st.nlocal;
	if (st.first_local + st.nlocal < st.size)
		per_node[nnodes++] = st.size - st.first_local - st.nlocal;
	if (pmi_server_set_process_mapping(st.srv, per_node, nnodes, &err) < 0)
		abort();

	while (in.left) {
		uint8_t op = fuzz_u8(&in);
		int rank = st.first_local + (op & 7) % st.nlocal;
		unsigned kind = op >> 3;
		size_t got;
		const uint8_t *p;

		if (kind < 20 || kind >= 29) {
			p = fuzz_bytes(&in, fuzz_u8(&in), &got);
			if (pmi_conn_input(st.srv, rank, (const char *)p, got) <
				    0 &&
			    errno != EPIPE)
				abort(); /* only a failed send may fail it */
		} else if (kind < 22) {
			pmi_conn_closed(st.srv, rank);
		} else if (kind < 24) {
			release(&st, false);
		} else if (kind < 26) {
			(void)pmi_server_barrier_unblock(st.srv, &err);
		} else if (kind == 26) {
			char *key = fuzz_cstr(&in), *value = fuzz_cstr(&in);

			(void)pmi_server_kvs_put(st.srv, key, value, &err);
			free(key);
			free(value);
		} else if (kind == 27) {
			release(&st, true);
		} else {
			st.send_fails[rank] = true;
		}
	}
	(void)pmi_server_all_finalized(st.srv);
	(void)pmi_server_barriers(st.srv);
	pmi_server_destroy(st.srv);
	return 0;
}
