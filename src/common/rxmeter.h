/*
 * rxmeter.h - the receiving end's count of a probe's bulk phase, and the
 * rate it makes.
 *
 * One bulk phase, all its streams together.  The rate leaves out the
 * warm-up (TCP's slow start, a token bucket's first burst): it is over at
 * the first read at which 1/RXM_WARMUP_DIV of the phase's duration has
 * passed since the first byte, or that share of its bytes has arrived
 * (the bytes of that read are still the warm-up's).  The bytes read after
 * it are counted over the time from it to the last read, and per slice
 * of that time (RXM_SLICES over the rest of the duration).
 *
 * A link's rate is what it carries while both ends keep up.  A sender
 * that stops for a while (its host busy, its loop in a disk flush) leaves
 * the link idle and the mean over the window low; a receiver that stops
 * leaves the bytes in its socket and reads them late, which the mean
 * counts right.  So the rate is the higher of the mean over the window
 * and the median slice's: a stall in under half of the slices costs
 * nothing, and neither can be above what the link carried for half of
 * the window.
 */
#ifndef MER_RXMETER_H
#define MER_RXMETER_H

#include <stddef.h>
#include <stdint.h>

#define RXM_WARMUP_DIV 4
#define RXM_SLICES     16
/* slices counted past the duration: an up phase's last bytes drain late */
#define RXM_SLOTS (2 * RXM_SLICES)
/* fewer complete slices than this: the mean alone */
#define RXM_MIN_SLICES 6

struct rx_meter {
	uint64_t warm_ns, warm_bytes, slice_ns;
	uint64_t first_ns, warm_end_ns, last_ns;
	uint64_t total, counted, first_read;
	uint64_t slice[RXM_SLOTS];
};

void rxm_init(struct rx_meter *m, uint32_t duration_ms, uint64_t max_bytes);
/* n bytes read at now_ns (CLOCK_MONOTONIC). */
void rxm_add(struct rx_meter *m, size_t n, uint64_t now_ns);
/* The bytes measured and the window they make the rate over: the
 * counted bytes and, where the median slice's rate is higher than their
 * mean, the time they take at that rate.  A phase over within its
 * warm-up (a fast link and few bytes) is measured from its first read;
 * one read measures nothing (0, 0). */
void rxm_result(const struct rx_meter *m, uint64_t *bytes, uint64_t *window_us);
/* bytes over window_us in bit/s; 0 for an empty window */
uint64_t rxm_rate_bps(uint64_t bytes, uint64_t window_us);

#endif
