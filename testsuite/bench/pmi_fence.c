/*
 * pmi_fence.c - PMI-1 barrier latency, for `make bench` (steps.sh): a
 * client of the wire protocol MPICH's simple PMI speaks over PMI_FD, run
 * as every rank of one step.
 *
 *   pmi_fence [-n FENCES] [-p]
 *
 * Each rank sends init, get_maxes and get_my_kvsname, does one untimed
 * fence (warm-up), then FENCES fences (default 100), each barrier_in ->
 * barrier_out; with -p each fence first puts one key of 64 bytes and
 * afterwards gets the next rank's key (which may be on another node), as
 * MPICH's wire-up does.  Then finalize.  Rank 0 times every fence from
 * its barrier_in to its barrier_out (so a fence includes waiting for the
 * slowest rank) and prints
 *
 *   pmi_fence: ranks 64 fences 100 puts 0 mean_ms 1.234 median_ms 1.100
 * max_ms 3.210
 *
 * Plain C, no Meridian code: it checks the server from the outside.
 * Exit status 0, 1 on a PMI error (the reply that was wrong on stderr),
 * 2 on bad usage.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LINE_MAX_PMI 1024

struct pmi {
	int fd, rank, size;
	char buf[4 * LINE_MAX_PMI];
	size_t len; /* bytes in buf */
	char line[LINE_MAX_PMI];
};

static int env_int(const char *name, int *v)
{
	const char *s = getenv(name);
	char *end;
	long l;

	if (!s || !*s)
		return -1;
	errno = 0;
	l = strtol(s, &end, 10);
	if (errno || *end || l < 0 || l > 1 << 30)
		return -1;
	*v = (int)l;
	return 0;
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int send_all(int fd, const char *s, size_t n)
{
	while (n) {
		ssize_t w = write(fd, s, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		s += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Send one request line and read one reply line into p->line; fail unless
 * the reply's cmd= is expect and its rc= (when present) is 0. */
static int pmi_cmd(struct pmi *p, const char *req, const char *expect)
{
	char want[64];
	char *nl, *rc;
	size_t n;

	if (send_all(p->fd, req, strlen(req)) < 0) {
		fprintf(stderr, "pmi_fence: rank %d: write %s", p->rank, req);
		return -1;
	}
	while (!(nl = memchr(p->buf, '\n', p->len))) {
		ssize_t r;

		if (p->len == sizeof(p->buf)) {
			fprintf(stderr, "pmi_fence: rank %d: reply too long\n",
				p->rank);
			return -1;
		}
		r = read(p->fd, p->buf + p->len, sizeof(p->buf) - p->len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			fprintf(stderr,
				"pmi_fence: rank %d: PMI connection closed "
				"after %s",
				p->rank, req);
			return -1;
		}
		p->len += (size_t)r;
	}
	n = (size_t)(nl - p->buf);
	if (n >= sizeof(p->line))
		n = sizeof(p->line) - 1;
	memcpy(p->line, p->buf, n);
	p->line[n] = '\0';
	p->len -= (size_t)(nl + 1 - p->buf);
	memmove(p->buf, nl + 1, p->len);

	snprintf(want, sizeof(want), "cmd=%s", expect);
	rc = strstr(p->line, "rc=");
	if (strncmp(p->line, want, strlen(want)) != 0 ||
	    (p->line[strlen(want)] != ' ' && p->line[strlen(want)] != '\0') ||
	    (rc && atoi(rc + 3) != 0)) {
		fprintf(stderr,
			"pmi_fence: rank %d: %s got \"%s\", expected cmd=%s "
			"rc=0\n",
			p->rank, req, p->line, expect);
		return -1;
	}
	return 0;
}

/* The value of key= in p->line, copied into v. */
static int reply_value(const struct pmi *p, const char *key, char *v,
		       size_t size)
{
	char k[32];
	const char *s;
	size_t n;

	snprintf(k, sizeof(k), " %s=", key);
	s = strstr(p->line, k);
	if (!s)
		return -1;
	s += strlen(k);
	n = strcspn(s, " ");
	if (n >= size)
		return -1;
	memcpy(v, s, n);
	v[n] = '\0';
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	struct pmi p = {.fd = -1};
	char kvs[256], req[LINE_MAX_PMI], val[128];
	int fences = 100, puts = 0, c;
	double *t, sum = 0.0;

	while ((c = getopt(argc, argv, "n:p")) != -1) {
		switch (c) {
		case 'n':
			fences = atoi(optarg);
			break;
		case 'p':
			puts = 1;
			break;
		default:
			fprintf(stderr, "usage: pmi_fence [-n FENCES] [-p]\n");
			return 2;
		}
	}
	if (fences < 1 || optind != argc) {
		fprintf(stderr, "usage: pmi_fence [-n FENCES >= 1] [-p]\n");
		return 2;
	}
	if (env_int("PMI_FD", &p.fd) < 0 || env_int("PMI_RANK", &p.rank) < 0 ||
	    env_int("PMI_SIZE", &p.size) < 0 || p.size < 1) {
		fprintf(stderr, "pmi_fence: PMI_FD, PMI_RANK and PMI_SIZE must "
				"be set (run me under mrun --mpi=pmi1)\n");
		return 2;
	}
	t = calloc((size_t)fences, sizeof(*t));
	if (!t)
		return 1;

	if (pmi_cmd(&p, "cmd=init pmi_version=1 pmi_subversion=1\n",
		    "response_to_init") < 0 ||
	    pmi_cmd(&p, "cmd=get_maxes\n", "maxes") < 0 ||
	    pmi_cmd(&p, "cmd=get_my_kvsname\n", "my_kvsname") < 0 ||
	    reply_value(&p, "kvsname", kvs, sizeof(kvs)) < 0 ||
	    pmi_cmd(&p, "cmd=barrier_in\n", "barrier_out") < 0)
		return 1;

	for (int f = 0; f < fences; f++) {
		double t0 = now_ms();

		if (puts) {
			snprintf(req, sizeof(req),
				 "cmd=put kvsname=%s key=f%d-r%d "
				 "value=%064d\n",
				 kvs, f, p.rank, p.rank);
			if (pmi_cmd(&p, req, "put_result") < 0)
				return 1;
		}
		if (pmi_cmd(&p, "cmd=barrier_in\n", "barrier_out") < 0)
			return 1;
		if (puts) {
			int peer = (p.rank + 1) % p.size;

			snprintf(req, sizeof(req),
				 "cmd=get kvsname=%s key=f%d-r%d\n", kvs, f,
				 peer);
			if (pmi_cmd(&p, req, "get_result") < 0 ||
			    reply_value(&p, "value", val, sizeof(val)) < 0 ||
			    atoi(val) != peer) {
				fprintf(stderr,
					"pmi_fence: rank %d: fence %d: rank "
					"%d's key: \"%s\"\n",
					p.rank, f, peer, p.line);
				return 1;
			}
		}
		t[f] = now_ms() - t0;
		sum += t[f];
	}
	if (pmi_cmd(&p, "cmd=finalize\n", "finalize_ack") < 0)
		return 1;

	if (p.rank == 0) {
		qsort(t, (size_t)fences, sizeof(*t), cmp_double);
		printf("pmi_fence: ranks %d fences %d puts %d mean_ms %.3f "
		       "median_ms %.3f max_ms %.3f\n",
		       p.size, fences, puts, sum / fences, t[fences / 2],
		       t[fences - 1]);
	}
	free(t);
	return 0;
}
