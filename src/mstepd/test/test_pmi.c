/*
 * test_pmi.c - the PMI-1 server: whole conversations as MPICH 4.0 holds
 * them, over a fake transport that records replies; the barrier exchange
 * between the servers of two nodes; aborts, refusals and garbage; the
 * limits on what ranks and other nodes may put; the
 * PMI_process_mapping strings.  Then, when MPICH's mpicc was found at
 * configure time (the build tree's src/mstepd/test/mpi_hello) or
 * MERIDIAN_MPI_HELLO names a built mpi_hello, real MPICH ranks served
 * over socketpairs by this server.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cunit_main.h"
#include "pmi.h"
#include "test_util.h"
#include "util.h"

/* ---- a fake transport ---- */

#define MAX_RANKS 8

struct fake {
	struct pmi_server *srv;
	struct strbuf out[MAX_RANKS]; /* replies, per rank */
	int send_fail_rank;	      /* -1: sends succeed */
	/* barrier_ready */
	int ready_calls;
	struct pmi_kv puts[32]; /* copies of the last barrier's puts */
	size_t nputs;		/* how many were copied (32 at most) */
	size_t ready_n;		/* how many there were */
	size_t ready_cost;	/* what they cost (pmi_kv_cost) */
	bool release_at_once;	/* one node: release from the callback */
	/* abort */
	int abort_rank, abort_code;
	char abort_msg[256];
	int aborts;
	/* error */
	int errors;
	char last_error[512];
	struct strbuf all_errors; /* every report, one a line */
	int finalized_calls;
};

static int fake_send(void *arg, int rank, const char *buf, size_t len)
{
	struct fake *f = arg;

	CU_ASSERT_FATAL(rank >= 0 && rank < MAX_RANKS);
	CU_ASSERT(len > 0 && strlen(buf) == len);
	if (len > 0 && buf[0] != 'c') {
		/* PMI-2: one command behind its length header, exactly */
		CU_ASSERT(len > 6 && (size_t)atoi(buf) == len - 6);
	} else {
		CU_ASSERT(len > 0 && buf[len - 1] == '\n');
	}
	if (rank == f->send_fail_rank) {
		errno = EPIPE;
		return -1;
	}
	strbuf_add(&f->out[rank], buf, len);
	return 0;
}

static void free_puts(struct fake *f)
{
	for (size_t i = 0; i < f->nputs; i++) {
		free((char *)f->puts[i].key);
		free((char *)f->puts[i].value);
	}
	f->nputs = 0;
}

static void fake_ready(void *arg, const struct pmi_kv *puts, size_t n)
{
	struct fake *f = arg;

	f->ready_calls++;
	free_puts(f);
	f->ready_n = n;
	f->ready_cost = 0;
	for (size_t i = 0; i < n; i++) {
		f->ready_cost +=
			pmi_kv_cost(strlen(puts[i].key), strlen(puts[i].value));
		if (i < 32) {
			f->puts[i].key = xstrdup(puts[i].key);
			f->puts[i].value = xstrdup(puts[i].value);
		}
	}
	f->nputs = n < 32 ? n : 32;
	if (f->release_at_once)
		CU_ASSERT(pmi_server_barrier_release(f->srv, NULL, 0, NULL) ==
			  0);
}

static void fake_abort(void *arg, int rank, int code, const char *msg)
{
	struct fake *f = arg;

	f->aborts++;
	f->abort_rank = rank;
	f->abort_code = code;
	snprintf(f->abort_msg, sizeof(f->abort_msg), "%s", msg);
}

static void fake_error(void *arg, int rank, const char *what)
{
	struct fake *f = arg;

	(void)rank;
	f->errors++;
	snprintf(f->last_error, sizeof(f->last_error), "%s", what);
	strbuf_add(&f->all_errors, what, strlen(what));
	strbuf_add(&f->all_errors, "\n", 1);
}

static void fake_finalized(void *arg, int rank)
{
	struct fake *f = arg;

	(void)rank;
	f->finalized_calls++;
}

static const struct pmi_server_ops fake_ops = {
	.send = fake_send,
	.barrier_ready = fake_ready,
	.abort = fake_abort,
	.error = fake_error,
	.finalized = fake_finalized,
};

/* A server for a step of size ranks, ranks [first, first + nlocal) here. */
static void fake_init(struct fake *f, int size, int first, int nlocal)
{
	struct mer_error err = {""};

	memset(f, 0, sizeof(*f));
	f->send_fail_rank = -1;
	f->abort_rank = -1;
	f->srv = pmi_server_create(&fake_ops, f, "kvs_42_0", size, 0, size,
				   &err);
	CU_ASSERT_FATAL(f->srv != NULL);
	for (int r = first; r < first + nlocal; r++)
		CU_ASSERT_FATAL(pmi_server_add_rank(f->srv, r, &err) == 0);
}

static void fake_fini(struct fake *f)
{
	pmi_server_destroy(f->srv);
	for (int i = 0; i < MAX_RANKS; i++)
		strbuf_free(&f->out[i]);
	strbuf_free(&f->all_errors);
	free_puts(f);
}

/* Feed a request; return what the rank got back since the last call
 * (static storage, "" when nothing). */
static const char *talk(struct fake *f, int rank, const char *req)
{
	static char got[4096];
	struct strbuf *o = &f->out[rank];

	CU_ASSERT(pmi_conn_input(f->srv, rank, req, strlen(req)) == 0);
	snprintf(got, sizeof(got), "%s", o->s ? o->s : "");
	if (o->s) {
		o->len = 0;
		o->s[0] = '\0';
	}
	return got;
}

/* What a rank was sent since its last talk(). */
static const char *pending(struct fake *f, int rank)
{
	return talk(f, rank, "");
}

/* ---- conversations ---- */

/* The requests MPICH 4.0.2 sends up to its first barrier, in order. */
static void mpich_init(struct fake *f, int rank, int size)
{
	char want[128];

	CU_ASSERT_STRING_EQUAL(
		talk(f, rank, "cmd=init pmi_version=1 pmi_subversion=1\n"),
		"cmd=response_to_init pmi_version=1 pmi_subversion=1 rc=0\n");
	CU_ASSERT_STRING_EQUAL(talk(f, rank, "cmd=get_maxes\n"),
			       "cmd=maxes rc=0 kvsname_max=256 keylen_max=64 "
			       "vallen_max=1024\n");
	CU_ASSERT_STRING_EQUAL(talk(f, rank, "cmd=get_appnum\n"),
			       "cmd=appnum rc=0 appnum=0\n");
	CU_ASSERT_STRING_EQUAL(talk(f, rank, "cmd=get_my_kvsname\n"),
			       "cmd=my_kvsname rc=0 kvsname=kvs_42_0\n");
	snprintf(want, sizeof(want), "cmd=universe_size rc=0 size=%d\n", size);
	CU_ASSERT_STRING_EQUAL(talk(f, rank, "cmd=get_universe_size\n"), want);
}

static void test_one_rank(void)
{
	struct fake f;
	int one = 1;

	fake_init(&f, 1, 0, 1);
	CU_ASSERT(pmi_server_set_process_mapping(f.srv, &one, 1, NULL) == 0);
	mpich_init(&f, 0, 1);
	CU_ASSERT_STRING_EQUAL(
		talk(&f, 0,
		     "cmd=get kvsname=kvs_42_0 key=PMI_process_mapping\n"),
		"cmd=get_result rc=0 value=(vector,(0,1,1))\n");
	CU_ASSERT_STRING_EQUAL(
		talk(&f, 0, "cmd=put kvsname=kvs_42_0 key=bc-0 value=abc=12\n"),
		"cmd=put_result rc=0\n");
	/* visible at once on this node */
	CU_ASSERT_STRING_EQUAL(
		talk(&f, 0, "cmd=get kvsname=kvs_42_0 key=bc-0\n"),
		"cmd=get_result rc=0 value=abc=12\n");
	CU_ASSERT_STRING_EQUAL(talk(&f, 0, "cmd=barrier_in\n"), "");
	CU_ASSERT_EQUAL(f.ready_calls, 1);
	CU_ASSERT_EQUAL(f.nputs, 1);
	CU_ASSERT_STRING_EQUAL(f.puts[0].key, "bc-0");
	CU_ASSERT_STRING_EQUAL(f.puts[0].value, "abc=12");
	CU_ASSERT(pmi_server_barrier_release(f.srv, NULL, 0, NULL) == 0);
	CU_ASSERT_STRING_EQUAL(pending(&f, 0), "cmd=barrier_out\n");
	CU_ASSERT_EQUAL(pmi_server_barriers(f.srv), 1);
	/* a second barrier with no puts in between hands over none */
	CU_ASSERT_STRING_EQUAL(talk(&f, 0, "cmd=barrier_in\n"), "");
	CU_ASSERT_EQUAL(f.ready_calls, 2);
	CU_ASSERT_EQUAL(f.nputs, 0);
	CU_ASSERT(pmi_server_barrier_release(f.srv, NULL, 0, NULL) == 0);
	CU_ASSERT_STRING_EQUAL(pending(&f, 0), "cmd=barrier_out\n");
	CU_ASSERT(!pmi_server_all_finalized(f.srv));
	CU_ASSERT_STRING_EQUAL(talk(&f, 0, "cmd=finalize\n"),
			       "cmd=finalize_ack\n");
	CU_ASSERT(pmi_server_all_finalized(f.srv));
	CU_ASSERT(pmi_server_rank_finalized(f.srv, 0));
	CU_ASSERT_EQUAL(f.finalized_calls, 1);
	pmi_conn_closed(f.srv, 0);
	CU_ASSERT_EQUAL(f.errors, 0);
	CU_ASSERT_EQUAL(f.aborts, 0);
	fake_fini(&f);
}

static void test_three_ranks(void)
{
	struct fake f;
	char req[128], want[128];
	int three = 3;

	fake_init(&f, 3, 0, 3);
	CU_ASSERT(pmi_server_set_process_mapping(f.srv, &three, 1, NULL) == 0);
	for (int r = 0; r < 3; r++)
		mpich_init(&f, r, 3);
	for (int r = 0; r < 3; r++) {
		snprintf(req, sizeof(req),
			 "cmd=put kvsname=kvs_42_0 key=addr-%d value=host:%d\n",
			 r, 1000 + r);
		CU_ASSERT_STRING_EQUAL(talk(&f, r, req),
				       "cmd=put_result rc=0\n");
	}
	CU_ASSERT_STRING_EQUAL(talk(&f, 0, "cmd=barrier_in\n"), "");
	CU_ASSERT_STRING_EQUAL(talk(&f, 2, "cmd=barrier_in\n"), "");
	CU_ASSERT_EQUAL(f.ready_calls, 0);
	CU_ASSERT_STRING_EQUAL(talk(&f, 1, "cmd=barrier_in\n"), "");
	CU_ASSERT_EQUAL(f.ready_calls, 1);
	CU_ASSERT_EQUAL(f.nputs, 3);
	CU_ASSERT(pmi_server_barrier_release(f.srv, NULL, 0, NULL) == 0);
	for (int r = 0; r < 3; r++)
		CU_ASSERT_STRING_EQUAL(pending(&f, r), "cmd=barrier_out\n");
	for (int r = 0; r < 3; r++) {
		snprintf(req, sizeof(req),
			 "cmd=get kvsname=kvs_42_0 key=addr-%d\n", (r + 1) % 3);
		snprintf(want, sizeof(want),
			 "cmd=get_result rc=0 value=host:%d\n",
			 1000 + (r + 1) % 3);
		CU_ASSERT_STRING_EQUAL(talk(&f, r, req), want);
	}
	for (int r = 0; r < 3; r++)
		CU_ASSERT_STRING_EQUAL(talk(&f, r, "cmd=finalize\n"),
				       "cmd=finalize_ack\n");
	CU_ASSERT(pmi_server_all_finalized(f.srv));
	CU_ASSERT_EQUAL(f.errors, 0);
	fake_fini(&f);
}

/* One request in many pieces, and several requests in one piece. */
static void test_partial_and_batched_input(void)
{
	struct fake f;
	const char *req = "cmd=get_appnum\ncmd=get_universe_size\n";

	fake_init(&f, 4, 0, 1);
	for (const char *p = req; *p; p++)
		CU_ASSERT(pmi_conn_input(f.srv, 0, p, 1) == 0);
	CU_ASSERT_STRING_EQUAL(pending(&f, 0),
			       "cmd=appnum rc=0 appnum=0\n"
			       "cmd=universe_size rc=0 size=4\n");
	CU_ASSERT_STRING_EQUAL(talk(&f, 0, "cmd=get_app"), "");
	CU_ASSERT_STRING_EQUAL(talk(&f, 0, "num\ncmd=get_my_kvsname\ncmd=ge"),
			       "cmd=appnum rc=0 appnum=0\n"
			       "cmd=my_kvsname rc=0 kvsname=kvs_42_0\n");
	CU_ASSERT_STRING_EQUAL(talk(&f, 0, "t_maxes\n"),
			       "cmd=maxes rc=0 kvsname_max=256 keylen_max=64 "
			       "vallen_max=1024\n");
	/* extra spaces between fields are fine */
	CU_ASSERT_STRING_EQUAL(talk(&f, 0, "cmd=put  key=k   value=v \n"),
			       "cmd=put_result rc=0\n");
	CU_ASSERT_STRING_EQUAL(talk(&f, 0, "\n"), "");
	CU_ASSERT_EQUAL(f.errors, 0);
	fake_fini(&f);
}

/* Two nodes: ranks 0-1 on A, 2 on B; the step layer gathers both nodes'
 * puts and hands each node the union. */
static void test_two_nodes_exchange(void)
{
	struct fake a, b;
	struct pmi_kv all[8];
	size_t n = 0;
	int layout[2] = {2, 1};

	fake_init(&a, 3, 0, 2);
	fake_init(&b, 3, 2, 1);
	CU_ASSERT(pmi_server_set_process_mapping(a.srv, layout, 2, NULL) == 0);
	CU_ASSERT(pmi_server_set_process_mapping(b.srv, layout, 2, NULL) == 0);
	CU_ASSERT_STRING_EQUAL(pmi_server_kvs_get(b.srv, "PMI_process_mapping"),
			       "(vector,(0,1,2),(1,1,1))");
	talk(&a, 0, "cmd=put kvsname=kvs_42_0 key=k0 value=v0\n");
	talk(&a, 1, "cmd=put kvsname=kvs_42_0 key=k1 value=v1\n");
	talk(&b, 2, "cmd=put kvsname=kvs_42_0 key=k2 value=v2\n");
	/* before the barrier, another node's key is not there */
	CU_ASSERT_STRING_EQUAL(talk(&a, 0, "cmd=get kvsname=kvs_42_0 key=k2\n"),
			       "cmd=get_result rc=-1 msg=key_not_found\n");
	CU_ASSERT_STRING_EQUAL(talk(&b, 2, "cmd=get kvsname=kvs_42_0 key=k1\n"),
			       "cmd=get_result rc=-1 msg=key_not_found\n");
	talk(&a, 0, "cmd=barrier_in\n");
	talk(&b, 2, "cmd=barrier_in\n");
	CU_ASSERT_EQUAL(b.ready_calls, 1);
	CU_ASSERT_EQUAL(a.ready_calls, 0);
	talk(&a, 1, "cmd=barrier_in\n");
	CU_ASSERT_EQUAL(a.ready_calls, 1);
	CU_ASSERT_EQUAL(a.nputs, 2);
	CU_ASSERT_EQUAL(b.nputs, 1);
	for (size_t i = 0; i < a.nputs; i++)
		all[n++] = a.puts[i];
	for (size_t i = 0; i < b.nputs; i++)
		all[n++] = b.puts[i];
	/* each node gets the union, its own entries included */
	CU_ASSERT(pmi_server_barrier_release(a.srv, all, n, NULL) == 0);
	CU_ASSERT(pmi_server_barrier_release(b.srv, all, n, NULL) == 0);
	CU_ASSERT_STRING_EQUAL(pending(&a, 0), "cmd=barrier_out\n");
	CU_ASSERT_STRING_EQUAL(pending(&a, 1), "cmd=barrier_out\n");
	CU_ASSERT_STRING_EQUAL(pending(&b, 2), "cmd=barrier_out\n");
	CU_ASSERT_STRING_EQUAL(talk(&a, 1, "cmd=get kvsname=kvs_42_0 key=k2\n"),
			       "cmd=get_result rc=0 value=v2\n");
	CU_ASSERT_STRING_EQUAL(talk(&b, 2, "cmd=get kvsname=kvs_42_0 key=k0\n"),
			       "cmd=get_result rc=0 value=v0\n");
	/* the merged entries are not puts of the next barrier */
	talk(&b, 2, "cmd=barrier_in\n");
	CU_ASSERT_EQUAL(b.ready_calls, 2);
	CU_ASSERT_EQUAL(b.nputs, 0);
	fake_fini(&a);
	fake_fini(&b);
}

/* A one-node step releases from inside barrier_ready. */
static void test_release_from_callback(void)
{
	struct fake f;

	fake_init(&f, 2, 0, 2);
	f.release_at_once = true;
	talk(&f, 0, "cmd=put key=a value=1\n");
	CU_ASSERT_STRING_EQUAL(talk(&f, 0, "cmd=barrier_in\n"), "");
	CU_ASSERT_STRING_EQUAL(talk(&f, 1, "cmd=barrier_in\n"),
			       "cmd=barrier_out\n");
	CU_ASSERT_STRING_EQUAL(pending(&f, 0), "cmd=barrier_out\n");
	CU_ASSERT_EQUAL(f.nputs, 1);
	/* and the next barrier works the same */
	talk(&f, 1, "cmd=barrier_in\n");
	CU_ASSERT_STRING_EQUAL(talk(&f, 0, "cmd=barrier_in\n"),
			       "cmd=barrier_out\n");
	CU_ASSERT_STRING_EQUAL(pending(&f, 1), "cmd=barrier_out\n");
	CU_ASSERT_EQUAL(pmi_server_barriers(f.srv), 2);
	fake_fini(&f);
}

static void test_key_not_found_and_overwrite(void)
{
	struct fake f;

	fake_init(&f, 1, 0, 1);
	CU_ASSERT_STRING_EQUAL(
		talk(&f, 0,
		     "cmd=get kvsname=kvs_42_0 key=PMI_dead_processes\n"),
		"cmd=get_result rc=-1 msg=key_not_found\n");
	/* no mapping was set: MPICH then falls back to host names */
	CU_ASSERT_STRING_EQUAL(
		talk(&f, 0,
		     "cmd=get kvsname=kvs_42_0 key=PMI_process_mapping\n"),
		"cmd=get_result rc=-1 msg=key_not_found\n");
	talk(&f, 0, "cmd=put kvsname=kvs_42_0 key=x value=1\n");
	talk(&f, 0, "cmd=put kvsname=kvs_42_0 key=x value=2\n");
	/* an empty value is a value */
	CU_ASSERT_STRING_EQUAL(talk(&f, 0, "cmd=put key=e value=\n"),
			       "cmd=put_result rc=0\n");
	CU_ASSERT_STRING_EQUAL(talk(&f, 0, "cmd=get key=e\n"),
			       "cmd=get_result rc=0 value=\n");
	CU_ASSERT_STRING_EQUAL(talk(&f, 0, "cmd=get kvsname=kvs_42_0 key=x\n"),
			       "cmd=get_result rc=0 value=2\n");
	talk(&f, 0, "cmd=barrier_in\n");
	CU_ASSERT_EQUAL(f.nputs, 2); /* x once, with its last value; e */
	CU_ASSERT_STRING_EQUAL(f.puts[0].key, "x");
	CU_ASSERT_STRING_EQUAL(f.puts[0].value, "2");
	CU_ASSERT_EQUAL(f.errors, 0); /* a missing key is no error */
	fake_fini(&f);
}

static void test_many_keys(void)
{
	struct fake f;
	char req[128], want[128];

	fake_init(&f, 1, 0, 1);
	for (int i = 0; i < 1000; i++) {
		snprintf(req, sizeof(req), "cmd=put key=key%d value=v%d\n", i,
			 i * 7);
		pmi_conn_input(f.srv, 0, req, strlen(req));
	}
	pending(&f, 0);
	for (int i = 0; i < 1000; i += 37) {
		snprintf(req, sizeof(req), "cmd=get key=key%d\n", i);
		snprintf(want, sizeof(want), "cmd=get_result rc=0 value=v%d\n",
			 i * 7);
		CU_ASSERT_STRING_EQUAL(talk(&f, 0, req), want);
	}
	fake_fini(&f);
}

static void test_abort(void)
{
	struct fake f;

	fake_init(&f, 2, 0, 2);
	mpich_init(&f, 1, 2);
	/* MPICH 4.0: exitcode only; no reply ever */
	CU_ASSERT_STRING_EQUAL(talk(&f, 1, "cmd=abort exitcode=7\n"), "");
	CU_ASSERT_EQUAL(f.aborts, 1);
	CU_ASSERT_EQUAL(f.abort_rank, 1);
	CU_ASSERT_EQUAL(f.abort_code, 7);
	CU_ASSERT_STRING_EQUAL(f.abort_msg, "");
	/* what an aborted rank says next is ignored */
	CU_ASSERT_STRING_EQUAL(talk(&f, 1, "cmd=get_appnum\n"), "");
	/* newer MPICH adds a message, which may hold spaces */
	CU_ASSERT_STRING_EQUAL(
		talk(&f, 0,
		     "cmd=abort exitcode=3 message=rank 0: out of memory\n"),
		"");
	CU_ASSERT_EQUAL(f.aborts, 2);
	CU_ASSERT_EQUAL(f.abort_rank, 0);
	CU_ASSERT_EQUAL(f.abort_code, 3);
	CU_ASSERT_STRING_EQUAL(f.abort_msg, "rank 0: out of memory");
	/* closing after abort is expected, not an error */
	pmi_conn_closed(f.srv, 0);
	pmi_conn_closed(f.srv, 1);
	CU_ASSERT_EQUAL(f.errors, 0);
	fake_fini(&f);

	/* a garbled abort still aborts */
	fake_init(&f, 1, 0, 1);
	CU_ASSERT_STRING_EQUAL(talk(&f, 0, "cmd=abort exitcode=lots\n"), "");
	CU_ASSERT_EQUAL(f.aborts, 1);
	CU_ASSERT_EQUAL(f.abort_code, 1);
	fake_fini(&f);
}

/* Refusals: the reply and a report through ops->error. */
static void expect_refusal(struct fake *f, const char *req, const char *want)
{
	int errors = f->errors;

	CU_ASSERT_STRING_EQUAL(talk(f, 0, req), want);
	CU_ASSERT_EQUAL(f->errors, errors + 1);
}

static void test_malformed(void)
{
	struct fake f;
	char big[PMI_LINE_MAX + 64], req[PMI_VALLEN_MAX + 128];

	fake_init(&f, 1, 0, 1);
	expect_refusal(&f, "hello\n",
		       "cmd=error rc=-1 msg=expected_key=value\n");
	CU_ASSERT(strstr(f.last_error, "rank 0") != NULL);
	CU_ASSERT(strstr(f.last_error, "hello") != NULL);
	expect_refusal(&f, "key=value\n",
		       "cmd=error rc=-1 msg=expected_cmd=\n");
	expect_refusal(&f, "=x cmd=init\n",
		       "cmd=error rc=-1 msg=expected_key=value\n");
	expect_refusal(&f, "cmd=frobnicate\n",
		       "cmd=error rc=-1 msg=unknown_command\n");
	expect_refusal(&f, "cmd=initack pmiid=1\n",
		       "cmd=error rc=-1 msg=unknown_command\n");
	expect_refusal(&f,
		       "cmd=put a=1 b=2 c=3 d=4 e=5 f=6 g=7 h=8 i=9 j=10 k=11 "
		       "l=12 m=13 n=14 o=15 p=16 q=17\n",
		       "cmd=error rc=-1 msg=too_many_fields\n");
	expect_refusal(&f, "cmd=init pmi_version=2 pmi_subversion=0\n",
		       "cmd=response_to_init pmi_version=1 pmi_subversion=1 "
		       "rc=-1 msg=only_pmi_version_1_is_served\n");
	expect_refusal(&f, "cmd=init\n",
		       "cmd=response_to_init pmi_version=1 pmi_subversion=1 "
		       "rc=-1 msg=expected_pmi_version_and_pmi_subversion\n");
	expect_refusal(&f, "cmd=put kvsname=other key=a value=b\n",
		       "cmd=put_result rc=-1 msg=unknown_kvsname\n");
	expect_refusal(&f, "cmd=get kvsname=other key=a\n",
		       "cmd=get_result rc=-1 msg=unknown_kvsname\n");
	expect_refusal(&f, "cmd=put kvsname=kvs_42_0 value=b\n",
		       "cmd=put_result rc=-1 msg=missing_key\n");
	expect_refusal(&f, "cmd=put kvsname=kvs_42_0 key=a\n",
		       "cmd=put_result rc=-1 msg=missing_value\n");
	expect_refusal(&f, "cmd=put key= value=b\n",
		       "cmd=put_result rc=-1 msg=key_empty\n");
	expect_refusal(&f, "cmd=put key=a\tb value=b\n",
		       "cmd=put_result rc=-1 "
		       "msg=key_space_or_control_character\n");
	expect_refusal(&f, "cmd=get kvsname=kvs_42_0\n",
		       "cmd=get_result rc=-1 msg=missing_key\n");
	expect_refusal(&f,
		       "cmd=put key=k0123456789012345678901234567890123456789"
		       "0123456789012345678901234 value=b\n",
		       "cmd=put_result rc=-1 msg=key_too_long_max_64_bytes\n");
	snprintf(req, sizeof(req), "cmd=put key=k value=%0*d\n",
		 PMI_VALLEN_MAX + 1, 0);
	expect_refusal(&f, req,
		       "cmd=put_result rc=-1 "
		       "msg=value_too_long_max_1024_bytes\n");
	snprintf(req, sizeof(req), "cmd=put key=k value=%0*d\n", PMI_VALLEN_MAX,
		 0);
	CU_ASSERT_STRING_EQUAL(talk(&f, 0, req), "cmd=put_result rc=0\n");
	expect_refusal(&f, "cmd=publish_name service=s port=p\n",
		       "cmd=publish_result rc=-1 "
		       "msg=name_service_not_supported\n");
	expect_refusal(&f, "cmd=unpublish_name service=s\n",
		       "cmd=unpublish_result rc=-1 "
		       "msg=name_service_not_supported\n");
	expect_refusal(&f, "cmd=lookup_name service=s\n",
		       "cmd=lookup_result rc=-1 "
		       "msg=name_service_not_supported\n");
	/* spawn is several lines; one refusal at endcmd */
	CU_ASSERT_STRING_EQUAL(talk(&f, 0,
				    "mcmd=spawn\nnprocs=2\n"
				    "execname=/bin/true\n"),
			       "");
	expect_refusal(&f, "endcmd\n",
		       "cmd=spawn_result rc=-1 msg=spawn_not_supported\n");

	/* a NUL inside a line */
	CU_ASSERT(pmi_conn_input(f.srv, 0, "cmd=get_ap\0pnum\n", 16) == 0);
	CU_ASSERT_STRING_EQUAL(pending(&f, 0),
			       "cmd=error rc=-1 msg=nul_byte_in_line\n");

	/* an over-long line: one refusal, the rest of it skipped, the next
	 * line answered */
	memset(big, 'x', sizeof(big) - 1);
	memcpy(big, "cmd=put key=a value=", 20);
	CU_ASSERT(pmi_conn_input(f.srv, 0, big, sizeof(big) - 1) == 0);
	CU_ASSERT_STRING_EQUAL(pending(&f, 0),
			       "cmd=error rc=-1 msg=line_too_long\n");
	CU_ASSERT(pmi_conn_input(f.srv, 0, big, 100) == 0);
	CU_ASSERT_STRING_EQUAL(talk(&f, 0, "xxx\ncmd=get_appnum\n"),
			       "cmd=appnum rc=0 appnum=0\n");
	/* the longest line accepted (a field no command reads) */
	memset(big, 'y', sizeof(big));
	memcpy(big, "cmd=get key=a pad=", 18);
	big[PMI_LINE_MAX - 1] = '\n';
	CU_ASSERT(pmi_conn_input(f.srv, 0, big, PMI_LINE_MAX) == 0);
	CU_ASSERT_STRING_EQUAL(pending(&f, 0),
			       "cmd=get_result rc=-1 msg=key_not_found\n");

	/* barrier twice, put in a barrier */
	fake_fini(&f);
	fake_init(&f, 2, 0, 2);
	CU_ASSERT_STRING_EQUAL(talk(&f, 0, "cmd=barrier_in\n"), "");
	expect_refusal(&f, "cmd=barrier_in\n",
		       "cmd=error rc=-1 msg=already_in_barrier\n");
	expect_refusal(&f, "cmd=put key=late value=1\n",
		       "cmd=put_result rc=-1 msg=put_during_barrier\n");
	talk(&f, 1, "cmd=barrier_in\n");
	CU_ASSERT_EQUAL(f.ready_calls, 1);
	CU_ASSERT_EQUAL(f.nputs, 0);
	CU_ASSERT(pmi_server_barrier_release(f.srv, NULL, 0, NULL) == 0);
	CU_ASSERT_STRING_EQUAL(pending(&f, 0), "cmd=barrier_out\n");

	/* after finalize */
	CU_ASSERT_STRING_EQUAL(talk(&f, 0, "cmd=finalize\n"),
			       "cmd=finalize_ack\n");
	expect_refusal(&f, "cmd=get_appnum\n",
		       "cmd=error rc=-1 msg=rank_already_finalized\n");
	CU_ASSERT(!pmi_server_all_finalized(f.srv));

	/* input for a rank not served here */
	CU_ASSERT(pmi_conn_input(f.srv, 5, "cmd=init\n", 9) == -1);
	CU_ASSERT_EQUAL(errno, EINVAL);
	CU_ASSERT(pmi_conn_input(f.srv, -1, "cmd=init\n", 9) == -1);

	/* a rank gone without finalize is reported */
	f.errors = 0;
	pmi_conn_closed(f.srv, 1);
	CU_ASSERT_EQUAL(f.errors, 1);
	CU_ASSERT(strstr(f.last_error, "without finalize") != NULL);
	pmi_conn_closed(f.srv, 1);
	CU_ASSERT_EQUAL(f.errors, 1);
	fake_fini(&f);
}

/* Bytes no client would send must never crash the server. */
static void test_garbage(void)
{
	struct fake f;
	unsigned seed = 12345;
	char buf[512];

	fake_init(&f, 1, 0, 1);
	for (int round = 0; round < 2000; round++) {
		size_t n = (size_t)(rand_r(&seed) % sizeof(buf));
		for (size_t i = 0; i < n; i++) {
			int c = rand_r(&seed) % 8;
			/* mostly protocol-looking bytes */
			buf[i] = c == 0	  ? '\n'
				 : c == 1 ? ' '
				 : c == 2 ? '='
				 : c == 3 ? (char)(rand_r(&seed) % 256)
					  : "cmdputgetkeyvaluebarrier_in"
						    [rand_r(&seed) % 27];
		}
		CU_ASSERT(pmi_conn_input(f.srv, 0, buf, n) == 0);
		if (f.out[0].len > 65536)
			pending(&f, 0);
		if (f.ready_calls) {
			pmi_server_barrier_release(f.srv, NULL, 0, NULL);
			f.ready_calls = 0;
		}
	}
	fake_fini(&f);
}

/* How many lines of f's reports hold what. */
static int reports_with(const struct fake *f, const char *what)
{
	int n = 0;

	for (const char *p = f->all_errors.s; p && (p = strstr(p, what));
	     p += strlen(what))
		n++;
	return n;
}

/* Every kind of request the server refuses, over and over. */
static void send_bad_lines(struct fake *f, int rank, int n)
{
	static const char *bad[] = {
		"hello\n",
		"cmd=frobnicate\n",
		"cmd=put key= value=b\n",
		"cmd=get kvsname=other key=a\n",
		"cmd=get_ap\0pnum\n",
		"mcmd=spawn\nendcmd\n",
	};
	char longline[PMI_LINE_MAX + 2];

	memset(longline, 'x', sizeof(longline) - 1);
	longline[sizeof(longline) - 1] = '\n';
	for (int i = 0; i < n; i++) {
		const char *b = bad[i % 6];
		size_t len = i % 6 == 4 ? 16 : strlen(b);
		if (i % 100 == 99) {
			b = longline;
			len = sizeof(longline);
		}
		CU_ASSERT(pmi_conn_input(f->srv, rank, b, len) == 0);
		if (f->out[rank].len > 65536)
			pending(f, rank);
	}
}

/* A rank that sends 10,000 bad lines is answered every time, but only
 * its first PMI_RANK_REFUSALS_REPORTED refusals are reported (the last
 * says so), then their count when it closes; every rank's together stop
 * at PMI_REFUSALS_REPORTED.  So the step's log stays small. */
static void test_refusals_bounded(void)
{
	struct fake f;
	int before;

	fake_init(&f, MAX_RANKS, 0, MAX_RANKS);
	send_bad_lines(&f, 0, 10000);
	CU_ASSERT_EQUAL(f.errors, PMI_RANK_REFUSALS_REPORTED);
	CU_ASSERT_EQUAL(reports_with(&f, "more refusals of this rank are "
					 "counted, not reported"),
			1);
	CU_ASSERT(strstr(f.last_error, "counted, not reported") != NULL);
	/* still answered */
	pending(&f, 0);
	CU_ASSERT_STRING_EQUAL(talk(&f, 0, "cmd=frobnicate\n"),
			       "cmd=error rc=-1 msg=unknown_command\n");
	CU_ASSERT_STRING_EQUAL(talk(&f, 0, "cmd=get_appnum\n"),
			       "cmd=appnum rc=0 appnum=0\n");
	CU_ASSERT_EQUAL(f.errors, PMI_RANK_REFUSALS_REPORTED);
	/* the count, when it goes */
	pmi_conn_closed(f.srv, 0);
	CU_ASSERT_EQUAL(f.errors, PMI_RANK_REFUSALS_REPORTED + 2);
	CU_ASSERT_EQUAL(reports_with(&f, "PMI rank 0: 9969 more refused "
					 "requests not reported (10001 in "
					 "all)"),
			1);
	CU_ASSERT(strstr(f.last_error, "without finalize") != NULL);

	/* another rank is reported as well, until all of them together
	 * reach the node's bound */
	before = f.errors;
	send_bad_lines(&f, 1, 3);
	CU_ASSERT_EQUAL(f.errors, before + 3);
	for (int r = 1; r < MAX_RANKS; r++)
		send_bad_lines(&f, r, 10000);
	CU_ASSERT_EQUAL(f.errors - 2, PMI_REFUSALS_REPORTED);
	CU_ASSERT_EQUAL(reports_with(&f, "more refusals of this node's "
					 "ranks are counted, not reported"),
			1);
	before = f.errors;
	for (int r = 1; r < MAX_RANKS; r++)
		pmi_conn_closed(f.srv, r);
	/* a count and "without finalize" each */
	CU_ASSERT_EQUAL(f.errors, before + 2 * (MAX_RANKS - 1));
	printf("\n  %d ranks x 10,000 bad lines: %d reports, %zu bytes ",
	       MAX_RANKS, f.errors, f.all_errors.len);
	CU_ASSERT(f.all_errors.len < 64 * 1024);
	fake_fini(&f);
}

static void test_send_failure(void)
{
	struct fake f;

	fake_init(&f, 2, 0, 2);
	f.send_fail_rank = 1;
	CU_ASSERT(pmi_conn_input(f.srv, 1, "cmd=get_appnum\n", 15) == -1);
	CU_ASSERT_EQUAL(errno, EPIPE);
	talk(&f, 0, "cmd=barrier_in\n");
	pmi_conn_input(f.srv, 1, "cmd=barrier_in\n", 15);
	CU_ASSERT_EQUAL(f.ready_calls, 1);
	/* rank 0 still gets its barrier_out */
	CU_ASSERT(pmi_server_barrier_release(f.srv, NULL, 0, NULL) == -1);
	CU_ASSERT_EQUAL(errno, EPIPE);
	CU_ASSERT_STRING_EQUAL(pending(&f, 0), "cmd=barrier_out\n");
	fake_fini(&f);
}

/* The finalize deadlock rescue: ranks let out of a barrier early see what
 * they would have seen after it. */
static void test_unblock(void)
{
	struct fake f;

	fake_init(&f, 3, 0, 3);
	CU_ASSERT_EQUAL(pmi_server_barrier_blocked(f.srv), 0);
	CU_ASSERT_EQUAL(pmi_server_barrier_unblock(f.srv, NULL), 0);
	talk(&f, 0, "cmd=put key=a value=1\n");
	CU_ASSERT_STRING_EQUAL(talk(&f, 0, "cmd=barrier_in\n"), "");
	CU_ASSERT_STRING_EQUAL(talk(&f, 1, "cmd=barrier_in\n"), "");
	CU_ASSERT_EQUAL(pmi_server_barrier_blocked(f.srv), 2);
	CU_ASSERT_EQUAL(pmi_server_barrier_unblock(f.srv, NULL), 2);
	CU_ASSERT_STRING_EQUAL(pending(&f, 0), "cmd=barrier_out\n");
	CU_ASSERT_STRING_EQUAL(pending(&f, 1), "cmd=barrier_out\n");
	CU_ASSERT_EQUAL(pmi_server_barrier_blocked(f.srv), 0);
	CU_ASSERT_EQUAL(pmi_server_barrier_unblock(f.srv, NULL), 0);
	/* there: answered; not there yet: held until it is */
	CU_ASSERT_STRING_EQUAL(talk(&f, 0, "cmd=get key=a\n"),
			       "cmd=get_result rc=0 value=1\n");
	CU_ASSERT_STRING_EQUAL(talk(&f, 1, "cmd=get key=c\n"), "");
	CU_ASSERT_STRING_EQUAL(talk(&f, 2, "cmd=put key=c value=3\n"),
			       "cmd=put_result rc=0\n");
	CU_ASSERT_STRING_EQUAL(pending(&f, 1), "cmd=get_result rc=0 value=3\n");
	/* never put: held until the barrier ends */
	CU_ASSERT_STRING_EQUAL(talk(&f, 1, "cmd=get key=zz\n"), "");
	/* a let-out rank may put, and enter the next barrier */
	CU_ASSERT_STRING_EQUAL(talk(&f, 0, "cmd=put key=b value=2\n"),
			       "cmd=put_result rc=0\n");
	CU_ASSERT_STRING_EQUAL(talk(&f, 0, "cmd=barrier_in\n"), "");
	CU_ASSERT_STRING_EQUAL(talk(&f, 0, "cmd=put key=late value=1\n"),
			       "cmd=put_result rc=-1 msg=put_during_barrier\n");
	CU_ASSERT_EQUAL(f.ready_calls, 0);
	/* the last rank ends the barrier */
	CU_ASSERT_STRING_EQUAL(talk(&f, 2, "cmd=barrier_in\n"), "");
	CU_ASSERT_EQUAL(f.ready_calls, 1);
	CU_ASSERT_EQUAL(f.nputs, 3); /* a, c, b */
	CU_ASSERT(pmi_server_barrier_release(f.srv, NULL, 0, NULL) == 0);
	CU_ASSERT_STRING_EQUAL(pending(&f, 2), "cmd=barrier_out\n");
	CU_ASSERT_STRING_EQUAL(pending(&f, 0), "");
	CU_ASSERT_STRING_EQUAL(pending(&f, 1),
			       "cmd=get_result rc=-1 msg=key_not_found\n");
	/* rank 0 is in the second barrier */
	CU_ASSERT_EQUAL(pmi_server_barrier_blocked(f.srv), 1);
	talk(&f, 1, "cmd=barrier_in\n");
	talk(&f, 2, "cmd=barrier_in\n");
	CU_ASSERT_EQUAL(f.ready_calls, 2);
	CU_ASSERT(pmi_server_barrier_release(f.srv, NULL, 0, NULL) == 0);
	for (int r = 0; r < 3; r++)
		CU_ASSERT_STRING_EQUAL(pending(&f, r), "cmd=barrier_out\n");
	CU_ASSERT_EQUAL(pmi_server_barriers(f.srv), 2);
	CU_ASSERT_EQUAL(f.errors, 1); /* the refused put */
	fake_fini(&f);

	/* every rank already in the next barrier when one ends (here: the
	 * node waits for others, lets its ranks go, they come back): the
	 * next is ready at once */
	fake_init(&f, 2, 0, 2);
	talk(&f, 0, "cmd=barrier_in\n");
	talk(&f, 1, "cmd=barrier_in\n");
	CU_ASSERT_EQUAL(f.ready_calls, 1);
	CU_ASSERT_EQUAL(pmi_server_barrier_unblock(f.srv, NULL), 2);
	CU_ASSERT_STRING_EQUAL(pending(&f, 0), "cmd=barrier_out\n");
	CU_ASSERT_STRING_EQUAL(pending(&f, 1), "cmd=barrier_out\n");
	talk(&f, 0, "cmd=put key=x value=1\n");
	CU_ASSERT_STRING_EQUAL(talk(&f, 0, "cmd=barrier_in\n"), "");
	CU_ASSERT_STRING_EQUAL(talk(&f, 1, "cmd=barrier_in\n"), "");
	CU_ASSERT_EQUAL(f.ready_calls, 1);
	CU_ASSERT(pmi_server_barrier_release(f.srv, NULL, 0, NULL) == 0);
	CU_ASSERT_EQUAL(f.ready_calls, 2);
	CU_ASSERT_EQUAL(f.nputs, 1); /* x, put after the first was over */
	CU_ASSERT_STRING_EQUAL(pending(&f, 0), "");
	CU_ASSERT_EQUAL(pmi_server_barrier_blocked(f.srv), 2);
	CU_ASSERT(pmi_server_barrier_release(f.srv, NULL, 0, NULL) == 0);
	CU_ASSERT_STRING_EQUAL(pending(&f, 0), "cmd=barrier_out\n");
	CU_ASSERT_STRING_EQUAL(pending(&f, 1), "cmd=barrier_out\n");
	CU_ASSERT_EQUAL(pmi_server_barriers(f.srv), 2);
	fake_fini(&f);
}

/* Unblocking on one node while a rank of another is late: the held get
 * is answered by the exchange. */
static void test_unblock_two_nodes(void)
{
	struct fake a, b;
	struct pmi_kv all[4];
	size_t n = 0;

	fake_init(&a, 2, 0, 1);
	fake_init(&b, 2, 1, 1);
	talk(&a, 0, "cmd=put key=k0 value=v0\n");
	talk(&a, 0, "cmd=barrier_in\n");
	CU_ASSERT_EQUAL(a.ready_calls, 1); /* node A waits for node B */
	CU_ASSERT_EQUAL(pmi_server_barrier_unblock(a.srv, NULL), 1);
	CU_ASSERT_STRING_EQUAL(pending(&a, 0), "cmd=barrier_out\n");
	CU_ASSERT_STRING_EQUAL(talk(&a, 0, "cmd=get key=k1\n"), "");
	talk(&b, 1, "cmd=put key=k1 value=v1\n");
	talk(&b, 1, "cmd=barrier_in\n");
	CU_ASSERT_EQUAL(b.ready_calls, 1);
	all[n++] = a.puts[0];
	all[n++] = b.puts[0];
	CU_ASSERT(pmi_server_barrier_release(a.srv, all, n, NULL) == 0);
	CU_ASSERT(pmi_server_barrier_release(b.srv, all, n, NULL) == 0);
	CU_ASSERT_STRING_EQUAL(pending(&a, 0),
			       "cmd=get_result rc=0 value=v1\n");
	CU_ASSERT_STRING_EQUAL(pending(&b, 1), "cmd=barrier_out\n");
	fake_fini(&a);
	fake_fini(&b);
}

static void test_api_errors(void)
{
	struct mer_error err = {""};
	struct pmi_server_ops no_send = fake_ops;
	struct fake f;
	struct pmi_kv bad[2] = {{"good", "1"}, {"bad", "has space"}};
	struct pmi_kv ok = {"fine", "2"};

	no_send.send = NULL;
	CU_ASSERT(pmi_server_create(&no_send, NULL, "k", 1, 0, 1, &err) ==
		  NULL);
	CU_ASSERT(strstr(err.text, "send") != NULL);
	CU_ASSERT(pmi_server_create(&fake_ops, NULL, "two words", 1, 0, 1,
				    &err) == NULL);
	CU_ASSERT(strstr(err.text, "two words") != NULL);
	CU_ASSERT(pmi_server_create(&fake_ops, NULL, "", 1, 0, 1, &err) ==
		  NULL);
	CU_ASSERT(pmi_server_create(&fake_ops, NULL, "a=b", 1, 0, 1, &err) ==
		  NULL);
	CU_ASSERT(pmi_server_create(&fake_ops, NULL, NULL, 1, 0, 1, &err) ==
		  NULL);
	CU_ASSERT(pmi_server_create(&fake_ops, NULL, "k", 0, 0, 1, &err) ==
		  NULL);
	CU_ASSERT_EQUAL(errno, EINVAL);
	CU_ASSERT(strstr(err.text, "size 0") != NULL);
	pmi_server_destroy(NULL);

	fake_init(&f, 3, 0, 1);
	CU_ASSERT(pmi_server_add_rank(f.srv, 3, &err) == -1);
	CU_ASSERT(strstr(err.text, "0 to 2") != NULL);
	CU_ASSERT(pmi_server_add_rank(f.srv, 0, &err) == -1);
	CU_ASSERT(strstr(err.text, "twice") != NULL);
	CU_ASSERT(pmi_server_barrier_release(f.srv, NULL, 0, &err) == -1);
	CU_ASSERT(strstr(err.text, "no barrier") != NULL);
	talk(&f, 0, "cmd=barrier_in\n");
	CU_ASSERT(pmi_server_add_rank(f.srv, 1, &err) == -1);
	CU_ASSERT_EQUAL(errno, EBUSY);
	/* a bad entry from another node: refused whole, barrier still on */
	CU_ASSERT(pmi_server_barrier_release(f.srv, bad, 2, &err) == -1);
	CU_ASSERT(strstr(err.text, "\"bad\"") != NULL);
	CU_ASSERT_PTR_NULL(pmi_server_kvs_get(f.srv, "good"));
	CU_ASSERT_STRING_EQUAL(pending(&f, 0), "");
	CU_ASSERT(pmi_server_barrier_release(f.srv, &ok, 1, &err) == 0);
	CU_ASSERT_STRING_EQUAL(pending(&f, 0), "cmd=barrier_out\n");
	CU_ASSERT_STRING_EQUAL(pmi_server_kvs_get(f.srv, "fine"), "2");
	CU_ASSERT(pmi_server_kvs_put(f.srv, "k", "a\nb", &err) == -1);
	CU_ASSERT(pmi_server_kvs_put(f.srv, "", "x", &err) == -1);
	fake_fini(&f);
}

/* ---- the limits ---- */

/* A value of n 'x's, in static storage. */
static const char *xs(size_t n)
{
	static char v[PMI_VALLEN_MAX + 2];

	CU_ASSERT_FATAL(n < sizeof(v));
	memset(v, 'x', n);
	v[n] = '\0';
	return v;
}

/* Key and value lengths on every path: a rank's put and get, a release
 * from other nodes, the step's own puts. */
static void test_limits_key_value(void)
{
	struct mer_error err = {""};
	char key64[PMI_KEYLEN_MAX + 1], key65[PMI_KEYLEN_MAX + 2];
	char req[PMI_LINE_MAX], want[PMI_LINE_MAX];
	struct pmi_kv long_key = {key65, "1"}, long_value, ok = {"ok", "1"};
	struct fake f;

	memset(key64, 'k', sizeof(key64) - 1);
	key64[sizeof(key64) - 1] = '\0';
	memset(key65, 'k', sizeof(key65) - 1);
	key65[sizeof(key65) - 1] = '\0';
	fake_init(&f, 2, 0, 2);
	/* the longest key and value a rank may put, and get back */
	snprintf(req, sizeof(req), "cmd=put key=%s value=%s\n", key64,
		 xs(PMI_VALLEN_MAX));
	CU_ASSERT_STRING_EQUAL(talk(&f, 0, req), "cmd=put_result rc=0\n");
	snprintf(req, sizeof(req), "cmd=get key=%s\n", key64);
	snprintf(want, sizeof(want), "cmd=get_result rc=0 value=%s\n",
		 xs(PMI_VALLEN_MAX));
	CU_ASSERT_STRING_EQUAL(talk(&f, 1, req), want);
	/* a get of a key no put can make is refused */
	snprintf(req, sizeof(req), "cmd=get key=%s\n", key65);
	expect_refusal(&f, req,
		       "cmd=get_result rc=-1 msg=key_too_long_max_64_bytes\n");
	CU_ASSERT(strstr(f.last_error, "key_too_long_max_64_bytes") != NULL);
	/* and not held by a rank let out of a barrier early */
	talk(&f, 0, "cmd=barrier_in\n");
	CU_ASSERT_EQUAL(pmi_server_barrier_unblock(f.srv, NULL), 1);
	CU_ASSERT_STRING_EQUAL(pending(&f, 0), "cmd=barrier_out\n");
	expect_refusal(&f, req,
		       "cmd=get_result rc=-1 msg=key_too_long_max_64_bytes\n");
	/* the server goes on */
	CU_ASSERT_STRING_EQUAL(talk(&f, 0, "cmd=get_appnum\n"),
			       "cmd=appnum rc=0 appnum=0\n");
	talk(&f, 1, "cmd=barrier_in\n");
	CU_ASSERT_EQUAL(f.ready_calls, 1);

	/* from other nodes: refused whole, the barrier still waiting */
	CU_ASSERT(pmi_server_barrier_release(f.srv, &long_key, 1, &err) == -1);
	CU_ASSERT_EQUAL(errno, EINVAL);
	CU_ASSERT(strstr(err.text, "(65 bytes)") != NULL);
	CU_ASSERT(strstr(err.text, "1 to 64") != NULL);
	long_value.key = "v";
	long_value.value = xs(PMI_VALLEN_MAX + 1);
	CU_ASSERT(pmi_server_barrier_release(f.srv, &long_value, 1, &err) ==
		  -1);
	CU_ASSERT_EQUAL(errno, EINVAL);
	CU_ASSERT(strstr(err.text, "(1025 bytes)") != NULL);
	CU_ASSERT(strstr(err.text, "at most 1024") != NULL);
	CU_ASSERT_PTR_NULL(pmi_server_kvs_get(f.srv, "v"));
	CU_ASSERT(pmi_server_kvs_put(f.srv, key65, "1", &err) == -1);
	CU_ASSERT_EQUAL(errno, EINVAL);
	CU_ASSERT(pmi_server_kvs_put(f.srv, "v", xs(PMI_VALLEN_MAX + 1),
				     &err) == -1);
	CU_ASSERT(pmi_kv_check(&long_key, &err) == -1);
	CU_ASSERT(pmi_kv_check(&ok, &err) == 0);
	CU_ASSERT(pmi_server_barrier_release(f.srv, &ok, 1, &err) == 0);
	CU_ASSERT_STRING_EQUAL(pending(&f, 1), "cmd=barrier_out\n");
	CU_ASSERT_STRING_EQUAL(talk(&f, 1, "cmd=get key=ok\n"),
			       "cmd=get_result rc=0 value=1\n");
	fake_fini(&f);
}

/* PMI_RANK_PUTS_MAX puts per rank, a put again of a key counted too. */
static void test_limits_puts_per_rank(void)
{
	char req[128];
	struct fake f;

	fake_init(&f, 2, 0, 2);
	for (int i = 0; i < PMI_RANK_PUTS_MAX; i++) {
		snprintf(req, sizeof(req), "cmd=put key=c%d value=%d\n",
			 i % 1000, i);
		CU_ASSERT_STRING_EQUAL(talk(&f, 0, req),
				       "cmd=put_result rc=0\n");
	}
	CU_ASSERT_EQUAL(f.errors, 0);
	expect_refusal(&f, "cmd=put key=new value=1\n",
		       "cmd=put_result rc=-1 "
		       "msg=too_many_puts_max_1024_per_rank\n");
	expect_refusal(&f, "cmd=put key=c1 value=1\n",
		       "cmd=put_result rc=-1 "
		       "msg=too_many_puts_max_1024_per_rank\n");
	/* the rank goes on otherwise, and the other rank has its own */
	CU_ASSERT_STRING_EQUAL(talk(&f, 0, "cmd=get key=c1\n"),
			       "cmd=get_result rc=0 value=1001\n");
	CU_ASSERT_STRING_EQUAL(talk(&f, 1, "cmd=put key=new value=2\n"),
			       "cmd=put_result rc=0\n");
	talk(&f, 0, "cmd=barrier_in\n");
	talk(&f, 1, "cmd=barrier_in\n");
	CU_ASSERT_EQUAL(f.ready_calls, 1);
	CU_ASSERT_EQUAL(f.ready_n, 1001); /* c0..c999 and new */
	CU_ASSERT(pmi_server_barrier_release(f.srv, NULL, 0, NULL) == 0);
	CU_ASSERT_STRING_EQUAL(pending(&f, 0), "cmd=barrier_out\n");
	fake_fini(&f);
}

/* The ranks of a node share their part of PMI_KVS_RANKS_MAX; what
 * another node replaces stops counting. */
static void test_limits_node_share(void)
{
	const size_t share = (size_t)PMI_KVS_RANKS_MAX * 2 / 1000;
	struct pmi_kv remote[2] = {{"s1", "remote"}, {"s2", "remote"}};
	char key[16], req[PMI_LINE_MAX], msg[96], full[128];
	size_t used = 0;
	struct fake f;

	CU_ASSERT_EQUAL(pmi_kvs_share(2, 1000), share);
	snprintf(msg, sizeof(msg),
		 "kvs_full_max_%zu_bytes_for_the_2_ranks_of_this_node", share);
	snprintf(full, sizeof(full), "cmd=put_result rc=-1 msg=%s\n", msg);
	/* ranks 0 and 1 of a step of 1000 */
	fake_init(&f, 1000, 0, 2);
	for (int i = 0;; i++) {
		snprintf(key, sizeof(key), "s%d", i);
		snprintf(req, sizeof(req), "cmd=put key=%s value=%s\n", key,
			 xs(1000));
		if (strcmp(talk(&f, 0, req), "cmd=put_result rc=0\n"))
			break;
		used += pmi_kv_cost(strlen(key), 1000);
		CU_ASSERT_FATAL(i < 100);
	}
	CU_ASSERT(used <= share);
	CU_ASSERT(used + pmi_kv_cost(strlen(key), 1000) > share);
	CU_ASSERT_EQUAL(f.errors, 1);
	CU_ASSERT(strstr(f.last_error, msg) != NULL);
	/* the other rank of the node is out of room too */
	snprintf(req, sizeof(req), "cmd=put key=t value=%s\n", xs(1000));
	expect_refusal(&f, req, full);
	/* a shorter value makes room */
	CU_ASSERT_STRING_EQUAL(talk(&f, 1, "cmd=put key=s0 value=x\n"),
			       "cmd=put_result rc=0\n");
	CU_ASSERT_STRING_EQUAL(talk(&f, 1, req), "cmd=put_result rc=0\n");
	/* what the node sends at the barrier is within its share */
	talk(&f, 0, "cmd=barrier_in\n");
	talk(&f, 1, "cmd=barrier_in\n");
	CU_ASSERT_EQUAL(f.ready_calls, 1);
	CU_ASSERT(f.ready_cost <= share);
	CU_ASSERT(f.ready_cost > share - pmi_kv_cost(3, 1000));
	/* another node's put of the same keys: theirs now */
	CU_ASSERT(pmi_server_barrier_release(f.srv, remote, 2, NULL) == 0);
	pending(&f, 0);
	pending(&f, 1);
	CU_ASSERT_STRING_EQUAL(talk(&f, 0, "cmd=get key=s1\n"),
			       "cmd=get_result rc=0 value=remote\n");
	snprintf(req, sizeof(req), "cmd=put key=u1 value=%s\n", xs(1000));
	CU_ASSERT_STRING_EQUAL(talk(&f, 0, req), "cmd=put_result rc=0\n");
	snprintf(req, sizeof(req), "cmd=put key=u2 value=%s\n", xs(1000));
	CU_ASSERT_STRING_EQUAL(talk(&f, 0, req), "cmd=put_result rc=0\n");
	/* replaced before the barrier: not this node's to send */
	CU_ASSERT(pmi_server_kvs_put(f.srv, "u2", "step", NULL) == 0);
	talk(&f, 0, "cmd=barrier_in\n");
	talk(&f, 1, "cmd=barrier_in\n");
	CU_ASSERT_EQUAL(f.ready_calls, 2);
	CU_ASSERT_EQUAL(f.ready_n, 1);
	CU_ASSERT_STRING_EQUAL(f.puts[0].key, "u1");
	fake_fini(&f);
}

/* A node's whole KVS: what other nodes send fills it too. */
static void test_limits_whole_kvs(void)
{
	struct mer_error err = {""};
	const size_t cost = pmi_kv_cost(6, 1000);
	struct pmi_kv more[2] = {{"more1", "1"}, {"more2", ""}};
	char key[16], req[PMI_LINE_MAX], full[128];
	size_t n = 0;
	struct fake f;

	fake_init(&f, 2, 0, 1);
	for (;; n++) {
		snprintf(key, sizeof(key), "r%05zu", n);
		if (pmi_server_kvs_put(f.srv, key, xs(1000), &err) < 0)
			break;
		CU_ASSERT_FATAL(n < 10000);
	}
	CU_ASSERT_EQUAL(errno, ENOSPC);
	CU_ASSERT(strstr(err.text, "PMI_KVS_BYTES_MAX") != NULL);
	CU_ASSERT_EQUAL(n, PMI_KVS_BYTES_MAX / cost);
	CU_ASSERT_PTR_NULL(pmi_server_kvs_get(f.srv, key));
	/* the same value again takes no room */
	CU_ASSERT(pmi_server_kvs_put(f.srv, "r00000", xs(1000), &err) == 0);
	/* a rank within its node's share: refused, the KVS is full */
	snprintf(full, sizeof(full),
		 "cmd=put_result rc=-1 "
		 "msg=kvs_full_max_%u_bytes_on_this_node\n",
		 PMI_KVS_BYTES_MAX);
	snprintf(req, sizeof(req), "cmd=put key=a value=%s\n", xs(1000));
	expect_refusal(&f, req, full);
	CU_ASSERT(!strncmp(talk(&f, 0, "cmd=get key=r00010\n"),
			   "cmd=get_result rc=0 value=xxx", 29));
	CU_ASSERT_STRING_EQUAL(talk(&f, 0, "cmd=put key=a value=1\n"),
			       "cmd=put_result rc=0\n");
	/* a release that does not fit: refused whole */
	talk(&f, 0, "cmd=barrier_in\n");
	CU_ASSERT_EQUAL(f.ready_calls, 1);
	more[1].value = xs(600);
	CU_ASSERT(pmi_server_barrier_release(f.srv, more, 2, &err) == -1);
	CU_ASSERT_EQUAL(errno, ENOSPC);
	CU_ASSERT_PTR_NULL(pmi_server_kvs_get(f.srv, "more1"));
	CU_ASSERT_STRING_EQUAL(pending(&f, 0), "");
	CU_ASSERT(pmi_server_barrier_release(f.srv, more, 1, &err) == 0);
	CU_ASSERT_STRING_EQUAL(pending(&f, 0), "cmd=barrier_out\n");
	CU_ASSERT_STRING_EQUAL(talk(&f, 0, "cmd=get key=more1\n"),
			       "cmd=get_result rc=0 value=1\n");
	fake_fini(&f);
}

static void test_limits_share_math(void)
{
	size_t sum = 0;

	CU_ASSERT_EQUAL(pmi_kvs_share(0, 4), 0);
	CU_ASSERT_EQUAL(pmi_kvs_share(1, 0), 0);
	CU_ASSERT_EQUAL(pmi_kvs_share(4, 4), PMI_KVS_RANKS_MAX);
	CU_ASSERT_EQUAL(pmi_kvs_share(5, 4), PMI_KVS_RANKS_MAX);
	CU_ASSERT_EQUAL(pmi_kvs_share(65536, 65536), PMI_KVS_RANKS_MAX);
	CU_ASSERT_EQUAL(pmi_kvs_share(1, 65536), PMI_KVS_RANKS_MAX / 65536);
	for (int i = 0; i < 3; i++)
		sum += pmi_kvs_share(1, 3);
	CU_ASSERT(sum <= PMI_KVS_RANKS_MAX);
	/* MPICH 4.0's one entry per rank fits up to 17,000 ranks */
	CU_ASSERT(pmi_kvs_share(1, 17000) >= pmi_kv_cost(18, 430));
	CU_ASSERT(pmi_kv_cost(1, 2) == 3 + PMI_KV_OVERHEAD);
}

/* ---- PMI_process_mapping ---- */

static void expect_mapping(const int *counts, int n, const char *want)
{
	char *got = pmi_process_mapping(counts, n);

	if (!want) {
		CU_ASSERT_PTR_NULL(got);
		CU_ASSERT_EQUAL(errno, EINVAL);
	} else {
		CU_ASSERT_PTR_NOT_NULL_FATAL(got);
		CU_ASSERT_STRING_EQUAL(got, want);
	}
	free(got);
}

static void test_mapping(void)
{
	struct mer_error err = {""};
	struct fake f;
	int *many;

	expect_mapping((int[]){1}, 1, "(vector,(0,1,1))");
	expect_mapping((int[]){2, 2, 2}, 3, "(vector,(0,3,2))");
	expect_mapping((int[]){2, 1}, 2, "(vector,(0,1,2),(1,1,1))");
	expect_mapping((int[]){4, 4, 2, 2, 4}, 5,
		       "(vector,(0,2,4),(2,2,2),(4,1,4))");
	expect_mapping((int[]){8, 8, 8, 8, 8, 8, 8, 8}, 8, "(vector,(0,8,8))");
	/* nodes without ranks do not count as nodes */
	expect_mapping((int[]){2, 0, 2}, 3, "(vector,(0,2,2))");
	expect_mapping((int[]){0, 3, 0, 1}, 4, "(vector,(0,1,3),(1,1,1))");
	expect_mapping((int[]){0, 0}, 2, NULL);
	expect_mapping((int[]){1, -1}, 2, NULL);
	expect_mapping((int[]){1}, 0, NULL);
	expect_mapping(NULL, 1, NULL);

	/* published only when it matches the step and fits MPICH */
	fake_init(&f, 6, 0, 2);
	CU_ASSERT(pmi_server_set_process_mapping(f.srv, (int[]){2, 2}, 2,
						 &err) == -1);
	CU_ASSERT(strstr(err.text, "4 ranks but the step has 6") != NULL);
	CU_ASSERT(pmi_server_set_process_mapping(f.srv, (int[]){2, -2, 6}, 3,
						 &err) == -1);
	CU_ASSERT_PTR_NULL(pmi_server_kvs_get(f.srv, "PMI_process_mapping"));
	CU_ASSERT(pmi_server_set_process_mapping(f.srv, (int[]){2, 2, 2}, 3,
						 &err) == 0);
	CU_ASSERT_STRING_EQUAL(pmi_server_kvs_get(f.srv, "PMI_process_mapping"),
			       "(vector,(0,3,2))");
	fake_fini(&f);

	/* 300 nodes alternating 1 and 2 ranks: far too long a vector */
	many = xcalloc(300, sizeof(*many));
	for (int i = 0; i < 300; i++)
		many[i] = 1 + i % 2;
	fake_init(&f, 450, 0, 1);
	CU_ASSERT(pmi_server_set_process_mapping(f.srv, many, 300, &err) == 1);
	CU_ASSERT_PTR_NULL(pmi_server_kvs_get(f.srv, "PMI_process_mapping"));
	fake_fini(&f);
	free(many);
}

/* ---- real MPICH ranks ---- */

/* One step on one "node" as mstepd would run it: a server, its ranks on
 * socketpairs, each rank's stdout in a file. */
struct real_node {
	struct pmi_server *srv;
	struct real_step *step;
	int first, n;
};

struct real_rank {
	pid_t pid;
	int fd; /* our end of the PMI socketpair, -1 once closed */
	int status;
	bool reaped;
	struct real_node *node;
	char out[64];
};

struct real_step {
	struct real_rank ranks[MAX_RANKS];
	struct real_node nodes[2];
	int nnodes, size;
	int64_t blocked_since[2]; /* ms; 0: no rank blocked in a barrier */
	int unblocks;
	/* the barrier exchange between nodes (first node gathers) */
	int ready;
	struct pmi_kv gathered[256];
	size_t ngathered;
	int aborted_rank, abort_code;
	char errors[1024];
};

static int real_send(void *arg, int rank, const char *buf, size_t len)
{
	struct real_node *node = arg;

	return write_all(node->step->ranks[rank].fd, buf, len);
}

static void real_ready(void *arg, const struct pmi_kv *puts, size_t n)
{
	struct real_node *node = arg;
	struct real_step *s = node->step;

	for (size_t i = 0; i < n && s->ngathered < 256; i++) {
		s->gathered[s->ngathered].key = xstrdup(puts[i].key);
		s->gathered[s->ngathered].value = xstrdup(puts[i].value);
		s->ngathered++;
	}
	if (++s->ready < s->nnodes)
		return;
	s->ready = 0;
	for (int i = 0; i < s->nnodes; i++)
		CU_ASSERT(pmi_server_barrier_release(s->nodes[i].srv,
						     s->gathered, s->ngathered,
						     NULL) == 0);
	for (size_t i = 0; i < s->ngathered; i++) {
		free((char *)s->gathered[i].key);
		free((char *)s->gathered[i].value);
	}
	s->ngathered = 0;
}

static void real_abort(void *arg, int rank, int code, const char *msg)
{
	struct real_node *node = arg;
	struct real_step *s = node->step;

	(void)msg;
	s->aborted_rank = rank;
	s->abort_code = code;
	/* what mstepd does: the whole step goes */
	for (int r = 0; r < s->size; r++)
		if (!s->ranks[r].reaped)
			kill(s->ranks[r].pid, SIGKILL);
}

static void real_error(void *arg, int rank, const char *what)
{
	struct real_node *node = arg;
	size_t len = strlen(node->step->errors);

	(void)rank;
	snprintf(node->step->errors + len, sizeof(node->step->errors) - len,
		 "%s\n", what);
}

static const struct pmi_server_ops real_ops = {
	.send = real_send,
	.barrier_ready = real_ready,
	.abort = real_abort,
	.error = real_error,
};

/* $MERIDIAN_MPI_HELLO, else the build tree's (absent without mpicc). */
static const char *mpi_hello_path(void)
{
	const char *p = getenv("MERIDIAN_MPI_HELLO");
	static char *built;

	if (p && *p)
		return p;
	if (!built)
		built = test_build_path("src/mstepd/test/mpi_hello");
	return built;
}

/* Run the step: layout[i] ranks on node i (nnodes <= 2), argv for each
 * rank, PMI_process_mapping published when mapping.  Returns after every
 * rank exited, or kills them after 60 s. */
static void real_run(struct real_step *s, const int *layout, int nnodes,
		     bool mapping, char *const argv[])
{
	struct mer_error err = {""};
	struct pollfd pfd[MAX_RANKS];
	int rank = 0, alive;
	time_t deadline = time(NULL) + 60;

	memset(s, 0, sizeof(*s));
	s->aborted_rank = -1;
	s->nnodes = nnodes;
	for (int i = 0; i < nnodes; i++)
		s->size += layout[i];
	CU_ASSERT_FATAL(s->size <= MAX_RANKS);
	for (int i = 0; i < nnodes; i++) {
		struct real_node *node = &s->nodes[i];
		node->step = s;
		node->first = rank;
		node->n = layout[i];
		node->srv = pmi_server_create(&real_ops, node, "meridian_7_0",
					      s->size, 0, s->size, &err);
		CU_ASSERT_FATAL(node->srv != NULL);
		if (mapping)
			CU_ASSERT(pmi_server_set_process_mapping(node->srv,
								 layout, nnodes,
								 &err) == 0);
		for (int r = rank; r < rank + layout[i]; r++) {
			CU_ASSERT_FATAL(
				pmi_server_add_rank(node->srv, r, &err) == 0);
			s->ranks[r].node = node;
		}
		rank += layout[i];
	}
	for (int r = 0; r < s->size; r++) {
		struct real_rank *rr = &s->ranks[r];
		int sv[2], out;
		snprintf(rr->out, sizeof(rr->out), "/tmp/test_pmi.%d.%d.out",
			 (int)getpid(), r);
		CU_ASSERT_FATAL(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC,
					   0, sv) == 0);
		out = open(rr->out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
			   0600);
		CU_ASSERT_FATAL(out >= 0);
		rr->pid = fork();
		CU_ASSERT_FATAL(rr->pid >= 0);
		if (rr->pid == 0) {
			char v[16];
			int fd = dup(sv[1]); /* without CLOEXEC */
			dup2(out, STDOUT_FILENO);
			snprintf(v, sizeof(v), "%d", fd);
			setenv("PMI_FD", v, 1);
			snprintf(v, sizeof(v), "%d", r);
			setenv("PMI_RANK", v, 1);
			snprintf(v, sizeof(v), "%d", s->size);
			setenv("PMI_SIZE", v, 1);
			execv(argv[0], argv);
			_exit(127);
		}
		close(out);
		close(sv[1]);
		rr->fd = sv[0];
	}

	for (;;) {
		int n = 0;
		alive = 0;
		for (int r = 0; r < s->size; r++) {
			struct real_rank *rr = &s->ranks[r];
			if (!rr->reaped &&
			    waitpid(rr->pid, &rr->status, WNOHANG) == rr->pid)
				rr->reaped = true;
			alive += !rr->reaped;
			if (rr->fd >= 0) {
				pfd[n].fd = rr->fd;
				pfd[n].events = POLLIN;
				n++;
			}
		}
		if (!alive && !n)
			break;
		if (time(NULL) > deadline) {
			for (int r = 0; r < s->size; r++)
				if (!s->ranks[r].reaped)
					kill(s->ranks[r].pid, SIGKILL);
			CU_FAIL("MPICH ranks still running after 60 s");
			deadline = time(NULL) + 3600;
		}
		/* the step layer's rescue for MPICH 4.0.2's finalize
		 * deadlock (see pmi.h): let blocked ranks go after 300 ms */
		for (int i = 0; i < s->nnodes; i++) {
			struct pmi_server *srv = s->nodes[i].srv;
			if (!pmi_server_barrier_blocked(srv)) {
				s->blocked_since[i] = 0;
			} else if (!s->blocked_since[i]) {
				s->blocked_since[i] = mer_mono_ms();
			} else if (mer_mono_ms() - s->blocked_since[i] >= 300) {
				if (pmi_server_barrier_unblock(srv, NULL) > 0)
					s->unblocks++;
				s->blocked_since[i] = 0;
			}
		}
		if (poll(pfd, (nfds_t)n, 50) <= 0)
			continue;
		for (int i = 0; i < n; i++) {
			struct real_rank *rr = NULL;
			char buf[4096];
			ssize_t got;
			int r;
			if (!pfd[i].revents)
				continue;
			for (r = 0; r < s->size; r++)
				if (s->ranks[r].fd == pfd[i].fd)
					break;
			rr = &s->ranks[r];
			got = read(rr->fd, buf, sizeof(buf));
			if (got > 0) {
				pmi_conn_input(rr->node->srv, r, buf,
					       (size_t)got);
				continue;
			}
			pmi_conn_closed(rr->node->srv, r);
			close(rr->fd);
			rr->fd = -1;
		}
	}
}

static void real_free(struct real_step *s)
{
	for (int i = 0; i < s->nnodes; i++)
		pmi_server_destroy(s->nodes[i].srv);
	for (int r = 0; r < s->size; r++)
		unlink(s->ranks[r].out);
	for (size_t i = 0; i < s->ngathered; i++) {
		free((char *)s->gathered[i].key);
		free((char *)s->gathered[i].value);
	}
}

/* Every rank exited 0 and printed the right sum and node-local size
 * (the size of its node in layout; all ranks when layout is NULL). */
static void check_hello(struct real_step *s, const int *layout)
{
	for (int r = 0; r < s->size; r++) {
		struct real_rank *rr = &s->ranks[r];
		char *out = NULL, want[128];
		size_t n;
		int local = layout ? layout[rr->node - s->nodes] : s->size;

		CU_ASSERT(WIFEXITED(rr->status) &&
			  WEXITSTATUS(rr->status) == 0);
		CU_ASSERT_FATAL(read_file(rr->out, &out, &n) == 0);
		snprintf(want, sizeof(want),
			 "rank %d size %d sum %d local %d\n", r, s->size,
			 s->size * (s->size + 1) / 2, local);
		if (strcmp(out, want))
			printf("\n  rank %d printed \"%s\", expected \"%s\"", r,
			       out, want);
		CU_ASSERT_STRING_EQUAL(out, want);
		free(out);
	}
	if (s->errors[0])
		printf("\n  PMI errors: %s", s->errors);
	CU_ASSERT_STRING_EQUAL(s->errors, "");
}

/* Run mpi_hello on layout and check it; print how long it took. */
static int run_hello(const char *hello, const int *layout, int nnodes,
		     bool mapping, const char *label)
{
	char *argv[] = {(char *)hello, NULL};
	struct real_step s;
	int64_t t0 = mer_mono_ms();
	int unblocks;

	real_run(&s, layout, nnodes, mapping, argv);
	check_hello(&s, mapping ? layout : NULL);
	printf("\n  %s: %lld ms, %u PMI barriers", label,
	       (long long)(mer_mono_ms() - t0),
	       pmi_server_barriers(s.nodes[0].srv));
	if (s.unblocks)
		printf(", %d unblocked", s.unblocks);
	unblocks = s.unblocks;
	real_free(&s);
	return unblocks;
}

static void test_real_mpich(void)
{
	const char *hello = mpi_hello_path();
	char *argv[] = {(char *)hello, "abort", "5", NULL};
	char *ucx_tls = getenv("UCX_TLS") ? xstrdup(getenv("UCX_TLS")) : NULL;
	int one[] = {3}, two[] = {2, 2}, uneven[] = {1, 2};
	struct real_step s;
	int unblocks = 0;

	if (!hello || access(hello, X_OK) != 0) {
		cunit_skip("no MPI program: configure found no mpicc (Debian "
			   "packages mpich libmpich-dev) and "
			   "MERIDIAN_MPI_HELLO is unset");
		free(ucx_tls);
		return;
	}
	run_hello(hello, one, 1, true, "1 node x 3 ranks");
	/* two "nodes": the KVS crosses between servers, and the node-local
	 * communicator shows MPICH took PMI_process_mapping */
	run_hello(hello, two, 2, true, "2 nodes x 2 ranks");
	run_hello(hello, uneven, 2, true, "2 nodes, 1 + 2 ranks");
	/* without PMI_process_mapping MPICH exchanges host names through
	 * the KVS instead: one host, so every rank is local */
	run_hello(hello, two, 2, false, "2 nodes x 2 ranks, no mapping");

	/* MPI_Abort: abort reaches the step, which kills every rank */
	real_run(&s, two, 2, true, argv);
	CU_ASSERT_EQUAL(s.aborted_rank, 3);
	CU_ASSERT_EQUAL(s.abort_code, 5);
	for (int r = 0; r < s.size; r++)
		CU_ASSERT(WIFSIGNALED(s.ranks[r].status) ||
			  WEXITSTATUS(s.ranks[r].status) != 0);
	real_free(&s);

	/* UCX over TCP only, as between network namespaces: MPICH 4.0.2
	 * deadlocks in MPI_Finalize on most runs unless the step unblocks
	 * the finalize barrier (see pmi.h) */
	setenv("UCX_TLS", "tcp,self", 1);
	for (int i = 0; i < 3; i++) {
		unblocks += run_hello(hello, one, 1, true,
				      "UCX_TLS=tcp,self, 1 node x 3 ranks");
		unblocks += run_hello(hello, two, 2, true,
				      "UCX_TLS=tcp,self, 2 nodes x 2 ranks");
	}
	if (ucx_tls)
		setenv("UCX_TLS", ucx_tls, 1);
	else
		unsetenv("UCX_TLS");
	free(ucx_tls);
	printf("\n  (%d barriers unblocked under tcp) ", unblocks);
}

/* ---- PMI-2 ---- */

/* A PMI-2 command as the client writes it: its length in 6 characters,
 * space padded, then the command (static storage, rotating so that two
 * may be in use). */
static const char *p2(const char *body)
{
	static char buf[4][8192];
	static int i;
	char *b = buf[i++ % 4];

	snprintf(b, sizeof(buf[0]), "%-6zu%s", strlen(body), body);
	return b;
}

/* A server for size ranks, ranks [first, first + nlocal) here, PMI-2
 * served with job id 42.0. */
static void fake_init2(struct fake *f, int size, int first, int nlocal)
{
	struct mer_error err = {""};

	fake_init(f, size, first, nlocal);
	CU_ASSERT_FATAL(pmi_server_enable_pmi2(f->srv, "42.0", &err) == 0);
}

/* MPICH's PMI2_Init: the PMI-1 init line, then fullinit. */
static void pmi2_init(struct fake *f, int rank, int size)
{
	char req[128], want[256];

	CU_ASSERT_STRING_EQUAL(
		talk(f, rank, "cmd=init pmi_version=2 pmi_subversion=0\n"),
		"cmd=response_to_init pmi_version=2 pmi_subversion=0 rc=0\n");
	snprintf(req, sizeof(req),
		 "cmd=fullinit;pmijobid=42.0;pmirank=%d;threaded=FALSE;", rank);
	snprintf(want, sizeof(want),
		 "cmd=fullinit-response;rc=0;pmi-version=2;pmi-subversion=0;"
		 "rank=%d;size=%d;appnum=0;debugged=FALSE;pmiverbose=FALSE;",
		 rank, size);
	CU_ASSERT_STRING_EQUAL(talk(f, rank, p2(req)), p2(want));
}

/* Two of a step's four ranks here: rank 0 as MPICH starts (PMI-1 init
 * line first), rank 1 straight into PMI-2; puts, the fence and the
 * exchange with the other node, gets, job attributes, finalize. */
static void test_pmi2_conversation(void)
{
	struct fake f;
	int counts[2] = {2, 2};
	struct pmi_kv remote[2] = {{"bc-2", "card;of;2"}, {"bc-3", "x=3"}};

	fake_init2(&f, 4, 0, 2);
	CU_ASSERT(pmi_server_set_process_mapping(f.srv, counts, 2, NULL) == 0);
	pmi2_init(&f, 0, 4);
	CU_ASSERT_STRING_EQUAL(
		talk(&f, 1,
		     p2("cmd=fullinit;pmijobid=42.0;pmirank=1;threaded="
			"FALSE;")),
		p2("cmd=fullinit-response;rc=0;pmi-version=2;"
		   "pmi-subversion=0;rank=1;size=4;appnum=0;debugged=FALSE;"
		   "pmiverbose=FALSE;"));
	CU_ASSERT_STRING_EQUAL(talk(&f, 0, p2("cmd=job-getid;")),
			       p2("cmd=job-getid-response;rc=0;jobid=42.0;"));
	CU_ASSERT_STRING_EQUAL(
		talk(&f, 0, p2("cmd=info-getjobattr;key=PMI_process_mapping;")),
		p2("cmd=info-getjobattr-response;rc=0;found=TRUE;"
		   "value=(vector,(0,2,2));"));
	CU_ASSERT_STRING_EQUAL(
		talk(&f, 1, p2("cmd=info-getjobattr;key=universeSize;")),
		p2("cmd=info-getjobattr-response;rc=0;found=TRUE;value=4;"));
	CU_ASSERT_STRING_EQUAL(
		talk(&f, 1, p2("cmd=info-getjobattr;key=PMI_dead_processes;")),
		p2("cmd=info-getjobattr-response;rc=0;found=FALSE;"));
	/* a value with an escaped ';' and an '=' */
	CU_ASSERT_STRING_EQUAL(
		talk(&f, 0, p2("cmd=kvs-put;key=bc-0;value=a;;b=c;")),
		p2("cmd=kvs-put-response;rc=0;"));
	CU_ASSERT_STRING_EQUAL(talk(&f, 1, p2("cmd=kvs-put;key=bc-1;value=1;")),
			       p2("cmd=kvs-put-response;rc=0;"));
	/* this node's puts are seen at once, and come back escaped */
	CU_ASSERT_STRING_EQUAL(
		talk(&f, 1, p2("cmd=kvs-get;jobid=42.0;srcid=-1;key=bc-0;")),
		p2("cmd=kvs-get-response;rc=0;found=TRUE;value=a;;b=c;"));
	CU_ASSERT_STRING_EQUAL(talk(&f, 0, p2("cmd=kvs-fence;")), "");
	CU_ASSERT_EQUAL(f.ready_calls, 0);
	CU_ASSERT_STRING_EQUAL(talk(&f, 1, p2("cmd=kvs-fence;")), "");
	/* the same barrier as PMI-1's: this node's puts go to the others */
	CU_ASSERT_EQUAL(f.ready_calls, 1);
	CU_ASSERT_EQUAL_FATAL(f.nputs, 2);
	CU_ASSERT_STRING_EQUAL(f.puts[0].key, "bc-0");
	CU_ASSERT_STRING_EQUAL(f.puts[0].value, "a;b=c");
	CU_ASSERT(pmi_server_barrier_release(f.srv, remote, 2, NULL) == 0);
	CU_ASSERT_STRING_EQUAL(pending(&f, 0),
			       p2("cmd=kvs-fence-response;rc=0;"));
	CU_ASSERT_STRING_EQUAL(pending(&f, 1),
			       p2("cmd=kvs-fence-response;rc=0;"));
	CU_ASSERT_STRING_EQUAL(
		talk(&f, 0, p2("cmd=kvs-get;jobid=42.0;srcid=-1;key=bc-2;")),
		p2("cmd=kvs-get-response;rc=0;found=TRUE;value=card;;of;;2;"));
	CU_ASSERT_STRING_EQUAL(talk(&f, 0, p2("cmd=kvs-get;key=bc-3;")),
			       p2("cmd=kvs-get-response;rc=0;found=TRUE;"
				  "value=x=3;"));
	CU_ASSERT_STRING_EQUAL(talk(&f, 0, p2("cmd=kvs-get;key=nope;")),
			       p2("cmd=kvs-get-response;rc=0;found=FALSE;"));
	CU_ASSERT_STRING_EQUAL(talk(&f, 0, p2("cmd=finalize;")),
			       p2("cmd=finalize-response;rc=0;"));
	CU_ASSERT(!pmi_server_all_finalized(f.srv));
	CU_ASSERT_STRING_EQUAL(talk(&f, 1, p2("cmd=finalize;")),
			       p2("cmd=finalize-response;rc=0;"));
	CU_ASSERT(pmi_server_all_finalized(f.srv));
	CU_ASSERT_EQUAL(f.finalized_calls, 2);
	pmi_conn_closed(f.srv, 0);
	pmi_conn_closed(f.srv, 1);
	CU_ASSERT_EQUAL(f.errors, 0);
	CU_ASSERT_EQUAL(f.aborts, 0);
	fake_fini(&f);
}

/* A PMI-1 rank and a PMI-2 rank in one step: one KVS, one barrier, each
 * answered in its own protocol. */
static void test_pmi2_mixed_with_pmi1(void)
{
	struct fake f;

	fake_init2(&f, 2, 0, 2);
	f.release_at_once = true;
	mpich_init(&f, 0, 2);
	pmi2_init(&f, 1, 2);
	CU_ASSERT_STRING_EQUAL(
		talk(&f, 0, "cmd=put kvsname=kvs_42_0 key=one value=1\n"),
		"cmd=put_result rc=0\n");
	CU_ASSERT_STRING_EQUAL(talk(&f, 1, p2("cmd=kvs-put;key=two;value=2;")),
			       p2("cmd=kvs-put-response;rc=0;"));
	CU_ASSERT_STRING_EQUAL(talk(&f, 0, "cmd=barrier_in\n"), "");
	CU_ASSERT_STRING_EQUAL(talk(&f, 1, p2("cmd=kvs-fence;")),
			       p2("cmd=kvs-fence-response;rc=0;"));
	CU_ASSERT_STRING_EQUAL(pending(&f, 0), "cmd=barrier_out\n");
	CU_ASSERT_STRING_EQUAL(
		talk(&f, 0, "cmd=get kvsname=kvs_42_0 key=two\n"),
		"cmd=get_result rc=0 value=2\n");
	CU_ASSERT_STRING_EQUAL(talk(&f, 1, p2("cmd=kvs-get;key=one;")),
			       p2("cmd=kvs-get-response;rc=0;found=TRUE;"
				  "value=1;"));
	CU_ASSERT_EQUAL(f.errors, 0);
	fake_fini(&f);
}

/* Node attributes: this node's, a wait held until a rank puts the key. */
static void test_pmi2_nodeattr(void)
{
	struct fake f;

	fake_init2(&f, 3, 0, 3);
	for (int r = 0; r < 3; r++)
		pmi2_init(&f, r, 3);
	CU_ASSERT_STRING_EQUAL(
		talk(&f, 1, p2("cmd=info-getnodeattr;key=shm;wait=FALSE;")),
		p2("cmd=info-getnodeattr-response;rc=0;found=FALSE;"));
	CU_ASSERT_STRING_EQUAL(
		talk(&f, 1, p2("cmd=info-getnodeattr;key=shm;wait=TRUE;")), "");
	CU_ASSERT_STRING_EQUAL(
		talk(&f, 2, p2("cmd=info-getnodeattr;key=shm;wait=TRUE;")), "");
	CU_ASSERT_STRING_EQUAL(
		talk(&f, 0, p2("cmd=info-putnodeattr;key=shm;value=/seg;;1;")),
		p2("cmd=info-putnodeattr-response;rc=0;"));
	CU_ASSERT_STRING_EQUAL(pending(&f, 1),
			       p2("cmd=info-getnodeattr-response;rc=0;"
				  "found=TRUE;value=/seg;;1;"));
	CU_ASSERT_STRING_EQUAL(pending(&f, 2),
			       p2("cmd=info-getnodeattr-response;rc=0;"
				  "found=TRUE;value=/seg;;1;"));
	/* not a KVS entry: no barrier ever carries it */
	CU_ASSERT(pmi_server_kvs_get(f.srv, "shm") == NULL);
	CU_ASSERT_STRING_EQUAL(talk(&f, 0, p2("cmd=kvs-get;key=shm;")),
			       p2("cmd=kvs-get-response;rc=0;found=FALSE;"));
	/* a waiting rank that goes away leaves nothing behind */
	CU_ASSERT_STRING_EQUAL(
		talk(&f, 2, p2("cmd=info-getnodeattr;key=late;wait=TRUE;")),
		"");
	pmi_conn_closed(f.srv, 2);
	CU_ASSERT_STRING_EQUAL(
		talk(&f, 0, p2("cmd=info-putnodeattr;key=late;value=1;")),
		p2("cmd=info-putnodeattr-response;rc=0;"));
	CU_ASSERT_STRING_EQUAL(pending(&f, 2), "");
	fake_fini(&f);
}

/* What is refused, each in the reply its client waits for, with rc=-1
 * and errmsg; the server goes on. */
static void test_pmi2_refusals(void)
{
	struct fake f;
	char big[80];

	fake_init2(&f, 2, 0, 2);
	/* before fullinit */
	CU_ASSERT_STRING_EQUAL(
		talk(&f, 0, p2("cmd=kvs-put;key=k;value=v;")),
		p2("cmd=kvs-put-response;rc=-1;errmsg=fullinit first "
		   "(PMI2_Init);"));
	CU_ASSERT_STRING_EQUAL(
		talk(&f, 0, p2("cmd=fullinit;pmirank=1;threaded=FALSE;")),
		p2("cmd=fullinit-response;rc=-1;errmsg=pmirank 1 is not this "
		   "connection's rank (0): was PMI_RANK changed?;"));
	CU_ASSERT_STRING_EQUAL(
		talk(&f, 0, p2("cmd=fullinit;pmirank=0;threaded=FALSE;")),
		p2("cmd=fullinit-response;rc=0;pmi-version=2;"
		   "pmi-subversion=0;rank=0;size=2;appnum=0;debugged=FALSE;"
		   "pmiverbose=FALSE;"));
	CU_ASSERT_STRING_EQUAL(talk(&f, 0, p2("cmd=fullinit;pmirank=0;")),
			       p2("cmd=fullinit-response;rc=-1;"
				  "errmsg=fullinit sent twice;"));
	CU_ASSERT_STRING_EQUAL(talk(&f, 0, p2("cmd=frobnicate;")),
			       p2("cmd=frobnicate-response;rc=-1;"
				  "errmsg=unknown command;"));
	CU_ASSERT_STRING_EQUAL(
		talk(&f, 0,
		     p2("cmd=spawn;ncmds=1;preputcount=0;subcmd=a.out;"
			"maxprocs=2;argc=0;")),
		p2("cmd=spawn-response;rc=-1;errmsg=spawn is not supported "
		   "by Meridian: MPI_Comm_spawn cannot add ranks to a step;"));
	CU_ASSERT_STRING_EQUAL(
		talk(&f, 0, p2("cmd=name-publish;name=svc;port=p;")),
		p2("cmd=name-publish-response;rc=-1;errmsg=the name service "
		   "(MPI_Publish_name, MPI_Lookup_name) is not supported by "
		   "Meridian;"));
	CU_ASSERT_STRING_EQUAL(
		talk(&f, 0, p2("cmd=kvs-put;key=has space;value=v;")),
		p2("cmd=kvs-put-response;rc=-1;"
		   "errmsg=key_space_or_control_character;"));
	memset(big, 'k', 65);
	big[65] = '\0';
	{
		char req[256];

		snprintf(req, sizeof(req), "cmd=kvs-put;key=%s;value=v;", big);
		CU_ASSERT_STRING_EQUAL(talk(&f, 0, p2(req)),
				       p2("cmd=kvs-put-response;rc=-1;"
					  "errmsg=key_too_long_max_64_bytes;"));
		snprintf(req, sizeof(req), "cmd=kvs-get;key=%s;", big);
		CU_ASSERT_STRING_EQUAL(talk(&f, 0, p2(req)),
				       p2("cmd=kvs-get-response;rc=-1;"
					  "errmsg=key_too_long_max_64_bytes;"));
	}
	CU_ASSERT_STRING_EQUAL(
		talk(&f, 0, p2("cmd=kvs-get;jobid=7.1;key=k;")),
		p2("cmd=kvs-get-response;rc=-1;errmsg=unknown jobid 7.1 "
		   "(this step's is 42.0);"));
	CU_ASSERT_STRING_EQUAL(talk(&f, 0, p2("cmd=kvs-put;novalue;")),
			       p2("cmd=kvs-put-response;rc=-1;"
				  "errmsg=expected key=value pairs;"));
	CU_ASSERT_STRING_EQUAL(talk(&f, 0, p2("key=v;cmd=kvs-fence;")),
			       p2("cmd=error;rc=-1;errmsg=expected cmd= "
				  "first;"));
	/* a fence twice */
	CU_ASSERT_STRING_EQUAL(talk(&f, 0, p2("cmd=kvs-fence;")), "");
	CU_ASSERT_STRING_EQUAL(talk(&f, 0, p2("cmd=kvs-fence;")),
			       p2("cmd=kvs-fence-response;rc=-1;"
				  "errmsg=already_in_barrier;"));
	/* a NUL inside a command */
	CU_ASSERT(pmi_conn_input(f.srv, 0, "10    cmd=a\0b;;x", 16) == 0);
	CU_ASSERT_STRING_EQUAL(pending(&f, 0),
			       p2("cmd=error;rc=-1;errmsg=a NUL byte in the "
				  "command;"));
	/* a command too long is dropped unread, and the next one served */
	{
		struct strbuf b = {0};

		strbuf_addf(&b, "%-6d", 100000);
		for (int i = 0; i < 100000; i++)
			strbuf_addc(&b, 'x');
		strbuf_addf(&b, "%s", p2("cmd=job-getid;"));
		CU_ASSERT(pmi_conn_input(f.srv, 0, b.s, b.len) == 0);
		strbuf_free(&b);
	}
	{
		char want[256];

		snprintf(want, sizeof(want), "%s%s",
			 p2("cmd=error;rc=-1;errmsg=command too long: 100000 "
			    "bytes, at most 2624;"),
			 p2("cmd=job-getid-response;rc=0;jobid=42.0;"));
		CU_ASSERT_STRING_EQUAL(pending(&f, 0), want);
	}
	CU_ASSERT(f.errors > 0);
	CU_ASSERT(strstr(f.all_errors.s, "PMI-2 rank 0: refused "
					 "\"cmd=frobnicate;\": unknown "
					 "command") != NULL);
	/* after finalize: refused, abort still heard */
	CU_ASSERT_STRING_EQUAL(
		talk(&f, 1, p2("cmd=fullinit;pmirank=1;threaded=FALSE;")),
		p2("cmd=fullinit-response;rc=0;pmi-version=2;"
		   "pmi-subversion=0;rank=1;size=2;appnum=0;debugged=FALSE;"
		   "pmiverbose=FALSE;"));
	CU_ASSERT_STRING_EQUAL(talk(&f, 1, p2("cmd=finalize;")),
			       p2("cmd=finalize-response;rc=0;"));
	CU_ASSERT_STRING_EQUAL(talk(&f, 1, p2("cmd=job-getid;")),
			       p2("cmd=job-getid-response;rc=-1;"
				  "errmsg=rank already finalized;"));
	fake_fini(&f);

	/* a length header that is no number: refused once, the rest of
	 * that rank's input ignored, the others served */
	fake_init2(&f, 2, 0, 2);
	pmi2_init(&f, 0, 2);
	pmi2_init(&f, 1, 2);
	CU_ASSERT_STRING_EQUAL(talk(&f, 0, "12x456cmd=job-getid;"),
			       p2("cmd=error;rc=-1;errmsg=expected a "
				  "6-character length header;"));
	CU_ASSERT_STRING_EQUAL(talk(&f, 0, p2("cmd=job-getid;")), "");
	CU_ASSERT_STRING_EQUAL(talk(&f, 1, p2("cmd=job-getid;")),
			       p2("cmd=job-getid-response;rc=0;jobid=42.0;"));
	CU_ASSERT(strstr(f.all_errors.s, "is not a length header") != NULL);
	fake_fini(&f);
}

/* abort: isworld=TRUE ends the step (no reply), isworld=FALSE only this
 * process (reported, no step abort). */
static void test_pmi2_abort(void)
{
	struct fake f;

	fake_init2(&f, 2, 0, 2);
	pmi2_init(&f, 0, 2);
	pmi2_init(&f, 1, 2);
	CU_ASSERT_STRING_EQUAL(
		talk(&f, 1, p2("cmd=abort;isworld=FALSE;msg=only me;")), "");
	CU_ASSERT_EQUAL(f.aborts, 0);
	CU_ASSERT(strstr(f.last_error, "aborted itself (isworld=FALSE): "
				       "only me") != NULL);
	CU_ASSERT_STRING_EQUAL(
		talk(&f, 0,
		     p2("cmd=abort;isworld=TRUE;msg=Fatal error in "
			"MPI_Send;;other;")),
		"");
	CU_ASSERT_EQUAL(f.aborts, 1);
	CU_ASSERT_EQUAL(f.abort_rank, 0);
	CU_ASSERT_EQUAL(f.abort_code, 1);
	CU_ASSERT_STRING_EQUAL(f.abort_msg, "Fatal error in MPI_Send;other");
	CU_ASSERT_STRING_EQUAL(talk(&f, 0, p2("cmd=job-getid;")), "");
	fake_fini(&f);
}

/* Input in pieces of every size (one byte at a time included), and many
 * commands in one read: the same replies. */
static void test_pmi2_partial_input(void)
{
	const char *reqs[] = {"cmd=fullinit;pmirank=0;threaded=FALSE;",
			      "cmd=job-getid;", "cmd=kvs-put;key=a;value=1;",
			      "cmd=kvs-get;key=a;", "cmd=finalize;"};
	struct strbuf all = {0}, want = {0};
	struct fake f;

	for (size_t i = 0; i < 5; i++)
		strbuf_addf(&all, "%s", p2(reqs[i]));
	strbuf_addf(&want, "%s",
		    p2("cmd=fullinit-response;rc=0;pmi-version=2;"
		       "pmi-subversion=0;rank=0;size=1;appnum=0;"
		       "debugged=FALSE;pmiverbose=FALSE;"));
	strbuf_addf(&want, "%s", p2("cmd=job-getid-response;rc=0;jobid=42.0;"));
	strbuf_addf(&want, "%s", p2("cmd=kvs-put-response;rc=0;"));
	strbuf_addf(&want, "%s",
		    p2("cmd=kvs-get-response;rc=0;found=TRUE;value=1;"));
	strbuf_addf(&want, "%s", p2("cmd=finalize-response;rc=0;"));
	for (size_t step = 1; step <= all.len; step += step < 8 ? 1 : 37) {
		fake_init2(&f, 1, 0, 1);
		for (size_t off = 0; off < all.len; off += step) {
			size_t n = all.len - off < step ? all.len - off : step;
			CU_ASSERT(pmi_conn_input(f.srv, 0, all.s + off, n) ==
				  0);
		}
		CU_ASSERT_STRING_EQUAL(f.out[0].s ? f.out[0].s : "", want.s);
		CU_ASSERT_EQUAL(f.errors, 0);
		fake_fini(&f);
	}
	strbuf_free(&all);
	strbuf_free(&want);
}

/* An unblocked PMI-2 rank's get of a key not here yet is held and
 * answered when the barrier ends, in PMI-2. */
static void test_pmi2_unblock(void)
{
	struct fake f;
	struct pmi_kv late = {"late", "v"};

	fake_init2(&f, 3, 0, 2);
	pmi2_init(&f, 0, 3);
	pmi2_init(&f, 1, 3);
	CU_ASSERT_STRING_EQUAL(talk(&f, 0, p2("cmd=kvs-fence;")), "");
	CU_ASSERT(pmi_server_barrier_unblock(f.srv, NULL) == 1);
	CU_ASSERT_STRING_EQUAL(pending(&f, 0),
			       p2("cmd=kvs-fence-response;rc=0;"));
	CU_ASSERT_STRING_EQUAL(talk(&f, 0, p2("cmd=kvs-get;key=late;")), "");
	CU_ASSERT_STRING_EQUAL(talk(&f, 1, p2("cmd=kvs-fence;")), "");
	CU_ASSERT_EQUAL(f.ready_calls, 1);
	CU_ASSERT(pmi_server_barrier_release(f.srv, &late, 1, NULL) == 0);
	CU_ASSERT_STRING_EQUAL(pending(&f, 0),
			       p2("cmd=kvs-get-response;rc=0;found=TRUE;"
				  "value=v;"));
	CU_ASSERT_STRING_EQUAL(pending(&f, 1),
			       p2("cmd=kvs-fence-response;rc=0;"));
	fake_fini(&f);
}

/* Random bytes after a valid start: never a crash, every reply framed,
 * the reports bounded. */
static void test_pmi2_garbage(void)
{
	struct fake f;
	unsigned seed = 12345;
	char buf[512];

	for (int round = 0; round < 200; round++) {
		fake_init2(&f, 1, 0, 1);
		pmi2_init(&f, 0, 1);
		for (int k = 0; k < 20; k++) {
			size_t n = (size_t)(rand_r(&seed) % sizeof(buf));

			for (size_t i = 0; i < n; i++) {
				int c = rand_r(&seed) % 6;
				/* mostly what a header or pair is made of */
				buf[i] = c == 0	  ? (char)(rand_r(&seed) % 256)
					 : c == 1 ? ';'
					 : c == 2 ? '='
					 : c == 3 ? (char)('0' +
							   rand_r(&seed) % 10)
					 : c == 4 ? ' '
						  : (char)('a' +
							   rand_r(&seed) % 26);
			}
			if (round % 2) {
				/* behind a valid header: the parser's turn */
				char body[sizeof(buf) + 1];

				memcpy(body, buf, n);
				body[n] = '\0';
				CU_ASSERT(pmi_conn_input(f.srv, 0, p2(body),
							 6 + strlen(body)) ==
					  0);
				continue;
			}
			CU_ASSERT(pmi_conn_input(f.srv, 0, buf, n) == 0);
		}
		CU_ASSERT(f.errors <= PMI_REFUSALS_REPORTED + 2);
		pmi_conn_closed(f.srv, 0);
		fake_fini(&f);
	}
}

/* PMI-2 on, and off: what init says, and the API's refusals. */
static void test_pmi2_enable(void)
{
	struct mer_error err = {""};
	struct fake f;

	/* off (--mpi=pmi1): a PMI-2 client is told PMI-1 only */
	fake_init(&f, 1, 0, 1);
	CU_ASSERT_STRING_EQUAL(
		talk(&f, 0, "cmd=init pmi_version=2 pmi_subversion=0\n"),
		"cmd=response_to_init pmi_version=1 pmi_subversion=1 rc=-1 "
		"msg=only_pmi_version_1_is_served\n");
	/* too late to turn on once a rank talked */
	CU_ASSERT(pmi_server_enable_pmi2(f.srv, "1.0", &err) == -1);
	CU_ASSERT_EQUAL(errno, EBUSY);
	fake_fini(&f);

	fake_init(&f, 1, 0, 1);
	CU_ASSERT(pmi_server_enable_pmi2(f.srv, "bad;id", &err) == -1);
	CU_ASSERT_EQUAL(errno, EINVAL);
	CU_ASSERT(strstr(err.text, "PMI-2 job id") != NULL);
	CU_ASSERT(pmi_server_enable_pmi2(f.srv, "", &err) == -1);
	CU_ASSERT(pmi_server_enable_pmi2(f.srv, "42.0", &err) == 0);
	/* on: version 3 is refused, version 1 still served as PMI-1 */
	CU_ASSERT_STRING_EQUAL(
		talk(&f, 0, "cmd=init pmi_version=3 pmi_subversion=0\n"),
		"cmd=response_to_init pmi_version=1 pmi_subversion=1 rc=-1 "
		"msg=expected_pmi_version_1_or_2\n");
	mpich_init(&f, 0, 1);
	fake_fini(&f);
}

static CU_TestInfo tests[] = {
	{"one rank: MPICH's whole conversation", test_one_rank},
	{"three ranks, one barrier", test_three_ranks},
	{"partial and batched input", test_partial_and_batched_input},
	{"two nodes exchange puts at the barrier", test_two_nodes_exchange},
	{"release from inside barrier_ready", test_release_from_callback},
	{"key not found, overwrite, empty value",
	 test_key_not_found_and_overwrite},
	{"a thousand keys", test_many_keys},
	{"abort: no reply, the step layer told", test_abort},
	{"malformed and refused requests", test_malformed},
	{"random garbage", test_garbage},
	{"10,000 bad lines: reports bounded", test_refusals_bounded},
	{"a failing send", test_send_failure},
	{"unblocking a barrier", test_unblock},
	{"unblocking with a late rank on another node", test_unblock_two_nodes},
	{"API errors", test_api_errors},
	{"limits: key and value lengths, every path", test_limits_key_value},
	{"limits: puts per rank", test_limits_puts_per_rank},
	{"limits: a node's share of the KVS", test_limits_node_share},
	{"limits: a node's whole KVS", test_limits_whole_kvs},
	{"limits: shares", test_limits_share_math},
	{"PMI_process_mapping", test_mapping},
	{"PMI-2: a conversation over two nodes", test_pmi2_conversation},
	{"PMI-2: beside a PMI-1 rank", test_pmi2_mixed_with_pmi1},
	{"PMI-2: node attributes", test_pmi2_nodeattr},
	{"PMI-2: refusals", test_pmi2_refusals},
	{"PMI-2: abort", test_pmi2_abort},
	{"PMI-2: partial and batched input", test_pmi2_partial_input},
	{"PMI-2: unblocked barrier, held get", test_pmi2_unblock},
	{"PMI-2: random garbage", test_pmi2_garbage},
	{"PMI-2: on and off", test_pmi2_enable},
	{"real MPICH ranks", test_real_mpich},
	CU_TEST_INFO_NULL,
};

CUNIT_MAIN("pmi", tests)
