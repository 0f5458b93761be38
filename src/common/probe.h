/*
 * probe.h - link probes: the round trip and the bulk rate between two
 * ends, each on its own libevent loop.
 *
 * mctld plans a probe (ProbeRequest, meridian.proto) and gives it to both
 * ends: the armed end (a probe_srv: an mnoded on its node's Port=, or
 * mctld on ProbePort=) accepts the probe's connections until the arm
 * expires; the dialing end (a probe_run) connects, measures and reports
 * a ProbeResult.  Nodes do not trust each other: the armed end takes a
 * connection only with the probe's 32-byte token (from mctld, compared in
 * constant time) and bounds what a token holder may make it send, hold
 * and keep open; the dialer bounds what the armed end may make it wait
 * for and count.
 *
 * The wire: every connection opens with PROBE_HELLO {probe_id, token,
 * stream, up}.  Stream 0 is the control connection: `echoes` PROBE_ECHO
 * frames, one at a time, each sent back unchanged; then per bulk phase
 * (up: the dialer sends, down: it receives) PROBE_PHASE {up, end=false},
 * `streams` bulk connections (stream 1.., raw bytes after the hello, for
 * duration_ms or max_bytes in all, whichever first), each closed by its
 * sender when it is done.  The receiver counts (rxmeter.h: after a
 * warm-up, and robust to a stalled sender).  Up: the dialer
 * sends PROBE_PHASE {up, end=true} once its streams are closed, and the
 * armed end answers PROBE_COUNT.  Down: the armed end stops by itself and
 * closes; the dialer counts.  The dialer closes the control connection
 * when it is done, and the armed end forgets the probe: one run per arm.
 */
#ifndef MER_PROBE_H
#define MER_PROBE_H

#include <stdbool.h>
#include <stdint.h>
#include <event2/event.h>
#include "merr.h"
#include "meridian.pb-c.h"

/* What a ProbeRequest may ask for; more is refused with the field named. */
#define PROBE_TOKEN_LEN	      32
#define PROBE_MAX_ECHOES      100
#define PROBE_MAX_STREAMS     16
#define PROBE_MAX_DURATION_MS 60000u
#define PROBE_MAX_BYTES	      (4ull << 30)
#define PROBE_MAX_TIMEOUT_MS  600000u

/* Check req for an arm (dial: false) or a run (dial: true, which also
 * needs host and port).  0, or -1 with err naming the field and its
 * allowed range. */
int probe_request_check(const Meridian__ProbeRequest *req, bool dial,
			struct mer_error *err);

/* --- the armed end -------------------------------------------------------- */

struct probe_srv;

/*
 * What strangers may make the armed end hold; zero takes the default (in
 * brackets).  A dialer opens 1 + streams connections at once from one
 * address, so max_unauth_per_addr should stay above PROBE_MAX_STREAMS.
 */
struct probe_srv_limits {
	unsigned max_conns;	      /* open connections, all [512] */
	unsigned max_unauth;	      /* without a valid hello yet [128] */
	unsigned max_unauth_per_addr; /* of those, from one address [40] */
	unsigned hello_timeout_ms;    /* from accept to a valid hello [2000] */
	unsigned max_armed;	      /* probes armed at once [64] */
};

/* The owner's log: text is one line, valid during the call.  The srv
 * writes at most one line per reason per PROBE_LOG_INTERVAL_S, with a
 * count of the ones left out. */
typedef void (*probe_log_fn)(const char *text, void *arg);
#define PROBE_LOG_INTERVAL_S 10

/*
 * Accept probe connections on listen_fd (listening; made non-blocking
 * here; not owned: the caller closes it after probe_srv_destroy).  lim
 * may be NULL (every default); log may be NULL.  NULL with err on
 * failure.
 */
struct probe_srv *probe_srv_create(struct event_base *base, int listen_fd,
				   const struct probe_srv_limits *lim,
				   probe_log_fn log, void *arg,
				   struct mer_error *err);
/* Close every connection and forget every arm.  Accepts NULL. */
void probe_srv_destroy(struct probe_srv *s);

/*
 * Accept req's connections until req->timeout_ms from now (req is
 * copied).  Arming an id already armed renews it (a retried PROBE_ARM),
 * unless its dialer has connected already (-1, EBUSY).  -1 with err when
 * req is out of range (probe_request_check) or max_armed are armed.  The
 * arm ends at its timeout, or when its control connection closes: its
 * connections are closed then.
 */
int probe_srv_arm(struct probe_srv *s, const Meridian__ProbeRequest *req,
		  struct mer_error *err);

/* Counts, for logs and tests. */
struct probe_srv_stats {
	unsigned armed;			   /* arms in force now */
	unsigned nconns;		   /* connections open now */
	unsigned nunauth;		   /* of them without a valid hello */
	unsigned long accepted;		   /* connections accepted, in all */
	unsigned long refused_conns;	   /* closed at once: over a cap */
	unsigned long evicted;		   /* strangers closed for newcomers */
	unsigned long refused_hellos;	   /* a hello that failed a check */
	unsigned long bad_frames;	   /* not a hello, or not a frame */
	unsigned long hello_timeouts;	   /* no hello within hello_timeout */
	unsigned long protocol_errors;	   /* a token holder broke the rules */
	unsigned long echoes;		   /* echoes sent back */
	unsigned long long bytes_received; /* bulk bytes, in all */
	unsigned long long bytes_sent;	   /* bulk bytes queued, in all */
	unsigned long probes_done;	   /* arms ended by their dialer */
	unsigned long probes_expired;	   /* arms ended by their timeout */
};
void probe_srv_get_stats(const struct probe_srv *s, struct probe_srv_stats *st);

/* --- the dialing end ------------------------------------------------------ */

struct probe_run;

/* What a run measured.  error is "" when ok. */
struct probe_outcome {
	bool ok;
	bool refused; /* the first connection never connected (refused,
		       * unreachable, unresolved or timed out): mctld may
		       * dial from the other end instead */
	char error[256];
	uint32_t echoes;     /* round trips answered */
	double rtt_median_s; /* 0 when no echoes */
	double rtt_spread_s; /* the middle half's width (IQR) */
	uint64_t up_bps;     /* bits/s, dialer -> peer; 0: not measured */
	uint64_t down_bps;   /* peer -> dialer */
	uint64_t up_bytes;   /* what the rates were measured over (after */
	uint64_t down_bytes; /* the warm-up) */
	uint64_t up_total;   /* everything the receiver counted in the */
	uint64_t down_total; /* phase, warm-up included */
};

/* o is valid during the call only.  The run is over and freed once done
 * returns: do not pass it to probe_run_cancel then. */
typedef void (*probe_done_fn)(const struct probe_outcome *o, void *arg);

/*
 * Dial req->host:req->port and run req (copied).  done is called once,
 * from the loop, never from inside this call: on success, on failure,
 * and at the latest req->timeout_ms from now (the error names the stage
 * that was not over).  NULL with err when req is out of range; a host
 * that does not resolve is a refused outcome, not an error here.  The
 * name is resolved with a blocking getaddrinfo (numeric addresses, as
 * mctld sends, cost nothing); connecting never blocks.
 */
struct probe_run *probe_run_start(struct event_base *base,
				  const Meridian__ProbeRequest *req,
				  probe_done_fn done, void *arg,
				  struct mer_error *err);
/* Stop a run before its done: done is not called.  Accepts NULL; from
 * inside done it does nothing (the run is freed when done returns). */
void probe_run_cancel(struct probe_run *r);

/* Fill res (initialised here) from o: res->error points into o, valid as
 * long as o is. */
void probe_outcome_to_result(const struct probe_outcome *o, uint32_t probe_id,
			     Meridian__ProbeResult *res);

#endif
