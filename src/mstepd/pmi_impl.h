/*
 * pmi_impl.h - the inside of pmi.h's server, shared by its two wire
 * protocols and by them only: pmi.c (PMI-1, the KVS, the barrier, the
 * limits) and pmi2.c (PMI-2's wire protocol over the same KVS and
 * barrier).  Nothing else includes it.
 *
 * A rank speaks one wire protocol, decided by its first bytes (pmi.c):
 * PMI-1 lines, or PMI-2's length-prefixed commands.  Under PMI-1 only
 * (the default, --mpi=pmi1) every rank speaks PMI-1.  With PMI-2
 * (pmi_server_enable_pmi2), a rank whose first bytes are a PMI-2 length
 * header speaks PMI-2 from the start; one that begins with PMI-1's
 * "cmd=init pmi_version=2" line (MPICH's and Slurm's libpmi2 do: the
 * first exchange of PMI2_Init is a PMI-1 line) is answered in PMI-1 and
 * speaks PMI-2 after it; one that asks for pmi_version=1 stays PMI-1, as
 * Slurm's mpi/pmi2 serves PMI-1 clients too.
 *
 * Whatever the wire, a put goes into the one KVS with the same limits,
 * a fence is the one barrier, and what the shared code sends later (the
 * end of a barrier, a get held over a barrier) is written in the rank's
 * own protocol by the pmi_send_* functions below.
 */
#ifndef MER_MSTEPD_PMI_IMPL_H
#define MER_MSTEPD_PMI_IMPL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#include "pmi.h"

enum pmi_wire {
	PMI_WIRE_UNKNOWN = 0, /* PMI-2 served, nothing read yet */
	PMI_WIRE_1,
	PMI_WIRE_2,
};

struct kvs_entry {
	char *key;
	char *value;
	size_t cost;	   /* pmi_kv_cost() of key and value */
	size_t local_cost; /* cost when a local rank put the value, else 0 */
	bool pending;	   /* put by a local rank since the last barrier */
	struct kvs_entry *next;
};

/* PMI-2 node attributes (info-putnodeattr): this node's only, never
 * exchanged, never removed. */
struct pmi_nodeattr {
	char *key;
	char *value;
};

struct pmi_rank {
	int rank;
	enum pmi_wire wire;
	bool in_barrier; /* entered the current barrier, not answered yet */
	bool unblocked;	 /* entered it and was let go early (unblock) */
	bool next_in;	 /* unblocked, and already in the next barrier */
	char *held_key;	 /* an unblocked rank's get, answered later */
	bool finalized;
	bool aborted;
	bool closed;
	bool skipping;		/* discarding the rest of an over-long line */
	bool in_mcmd;		/* between mcmd=spawn and endcmd */
	unsigned nputs;		/* puts accepted, at most PMI_RANK_PUTS_MAX */
	unsigned long refusals; /* requests refused */
	unsigned reported;	/* of them reported through ops->error */
	char *buf; /* a partial line, PMI_LINE_MAX bytes once used */
	size_t len;

	/* PMI-2 (pmi2.c) */
	bool fullinit;	     /* fullinit answered */
	bool desync;	     /* a bad length header: input is ignored */
	char hdr[8];	     /* the length header being read */
	size_t hdr_len;	     /* of its PMI2_HDR_LEN bytes */
	size_t body_len;     /* the command's length, once read */
	size_t skip;	     /* bytes of an over-long command to drop */
	char *body;	     /* the command, PMI2_CMD_MAX + 1 once used */
	size_t got;	     /* of its body_len bytes */
	char *held_nodeattr; /* info-getnodeattr wait=TRUE, not there */
};

struct pmi_server {
	struct pmi_server_ops ops;
	void *arg;
	char *kvsname;
	int size;
	int appnum;
	int universe_size;

	struct pmi_rank **by_rank; /* size slots, NULL for remote ranks */
	struct pmi_rank **local;   /* the local ranks, in the order added */
	size_t nlocal;

	struct kvs_entry **buckets;
	size_t nbuckets;
	size_t nentries;
	size_t bytes;	    /* what every entry costs, <= PMI_KVS_BYTES_MAX */
	size_t local_bytes; /* the entries' local_cost, <= the node's share */
	struct kvs_entry **pending;
	size_t npending, pending_cap;

	size_t nin;	      /* local ranks that entered the barrier */
	size_t nheld;	      /* ranks with a held get */
	bool barrier_waiting; /* barrier_ready called, release not yet */
	bool barrier_begun;   /* some barrier_in arrived: no more add_rank */
	unsigned barriers;
	unsigned reported; /* refusals reported, every rank's */

	/* PMI-2 (pmi2.c) */
	bool pmi2;	  /* served: pmi_server_enable_pmi2() */
	char *jobid;	  /* job-getid's answer */
	bool input_begun; /* a rank sent something: too late to enable */
	struct pmi_nodeattr *nodeattrs;
	size_t nnodeattrs;
	size_t nodeattr_bytes; /* pmi_kv_cost() of them all */
};

/* ---- pmi.c, for pmi2.c ---- */

/* A key or value the KVS holds: printable, no space or control
 * character, no '=' unless allow_eq, 1 to max bytes (0 with
 * allow_empty).  NULL when fine, else the reason as a word
 * ("too_long", "equals_sign", ...). */
const char *pmi_check_token(const char *s, size_t max, bool allow_eq,
			    bool allow_empty);
/* "key_too_long_max_64_bytes" and the like, into msg. */
const char *pmi_token_msg(char *msg, size_t n, const char *what,
			  const char *why, int max);
struct kvs_entry *pmi_kvs_find(const struct pmi_server *srv, const char *key);
/* Count (and maybe report, within the limits of pmi.h) a refusal of r's. */
void pmi_refusal(struct pmi_server *srv, struct pmi_rank *r, const char *fmt,
		 ...) __attribute__((format(printf, 3, 4)));
/* Report through ops->error, without counting. */
void pmi_report(struct pmi_server *srv, int rank, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* The start of line (n - 1 bytes at most), control characters as '?'. */
const char *pmi_excerpt(const char *line, char *buf, size_t n);
bool pmi_parse_int(const char *s, int *v);

/* Why r may not put key=value now (a word naming the rule or limit, in
 * msg or static storage), or NULL: then pmi_put_commit() stores it. */
const char *pmi_put_refusal(struct pmi_server *srv, const struct pmi_rank *r,
			    const char *key, const char *value, char *msg,
			    size_t n);
void pmi_put_commit(struct pmi_server *srv, struct pmi_rank *r, const char *key,
		    const char *value);
/* r's get of key (checked: at most PMI_KEYLEN_MAX bytes): 1 with *value
 * (NULL when there is no such key) to answer now, or 0 when it is held
 * for the end of the barrier r was let out of (then pmi_send_get() answers
 * it later). */
int pmi_get_or_hold(struct pmi_server *srv, struct pmi_rank *r, const char *key,
		    const char **value);
/* r enters the barrier (PMI-1 barrier_in, PMI-2 kvs-fence): NULL, or why
 * not ("already_in_barrier"); the barrier's end answers it later through
 * pmi_send_barrier_done(). */
const char *pmi_barrier_enter(struct pmi_server *srv, struct pmi_rank *r);

/* ---- pmi2.c, for pmi.c ---- */

/* The PMI-2 length header: 6 characters, the decimal length of the
 * command, space padded ("%-6d" as Slurm writes it; MPICH's reader takes
 * atoi of the 6 bytes). */
#define PMI2_HDR_LEN 6
/* The longest PMI-2 command read: a kvs-put of the longest key and value
 * with every ';' of the value escaped, and room for the keywords.  A
 * longer one (only spawn has a reason to be) is dropped and refused. */
#define PMI2_CMD_MAX (2 * PMI_VALLEN_MAX + PMI_KEYLEN_MAX + 512)
/* Node attributes: every local rank's together. */
#define PMI2_NODEATTR_BYTES_MAX (256u << 10)

/* Bytes from a rank that speaks PMI-2: answered command by command. */
int pmi2_input(struct pmi_server *srv, struct pmi_rank *r, const char *data,
	       size_t len);
/* In the rank's own wire protocol: the barrier (fence) it waits in is
 * over; the answer to its held get (value NULL: not found). */
int pmi_send_barrier_done(struct pmi_server *srv, struct pmi_rank *r);
int pmi_send_get(struct pmi_server *srv, struct pmi_rank *r, const char *value);
int pmi2_send_fence_done(struct pmi_server *srv, struct pmi_rank *r);
int pmi2_send_get(struct pmi_server *srv, struct pmi_rank *r,
		  const char *value);
/* What pmi2.c keeps per rank and per server. */
void pmi2_rank_reset(struct pmi_rank *r);
void pmi2_server_free(struct pmi_server *srv);

#endif
