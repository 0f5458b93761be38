/*
 * rxmeter.c - the receiving end's count of a probe's bulk phase.  What
 * the rate is, and why, is in rxmeter.h.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "rxmeter.h"

void rxm_init(struct rx_meter *m, uint32_t duration_ms, uint64_t max_bytes)
{
	uint64_t dur_ns = (uint64_t)duration_ms * 1000000u;

	memset(m, 0, sizeof(*m));
	m->warm_ns = dur_ns / RXM_WARMUP_DIV;
	m->warm_bytes = max_bytes / RXM_WARMUP_DIV;
	m->slice_ns = (dur_ns - m->warm_ns) / RXM_SLICES;
}

void rxm_add(struct rx_meter *m, size_t n, uint64_t now_ns)
{
	if (!n)
		return;
	if (!m->total) {
		m->first_ns = now_ns;
		m->first_read = n;
	}
	m->total += n;
	if (now_ns > m->last_ns)
		m->last_ns = now_ns;
	if (m->warm_end_ns) {
		uint64_t k = m->slice_ns && now_ns >= m->warm_end_ns
				     ? (now_ns - m->warm_end_ns) / m->slice_ns
				     : 0;

		m->counted += n;
		if (k < RXM_SLOTS)
			m->slice[k] += n;
	} else if (now_ns - m->first_ns >= m->warm_ns ||
		   m->total >= m->warm_bytes) {
		m->warm_end_ns = now_ns;
	}
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* The lower median of the slices wholly inside the window (from the end
 * of the warm-up to the last read); 0 with fewer than RXM_MIN_SLICES. */
static uint64_t median_slice(const struct rx_meter *m)
{
	uint64_t s[RXM_SLOTS];
	size_t n;

	if (!m->slice_ns)
		return 0;
	n = (m->last_ns - m->warm_end_ns) / m->slice_ns;
	if (n > RXM_SLOTS)
		n = RXM_SLOTS;
	if (n < RXM_MIN_SLICES)
		return 0;
	memcpy(s, m->slice, n * sizeof(s[0]));
	qsort(s, n, sizeof(s[0]), cmp_u64);
	return s[(n - 1) / 2];
}

void rxm_result(const struct rx_meter *m, uint64_t *bytes, uint64_t *window_us)
{
	uint64_t ns = 0, med;

	*bytes = 0;
	if (m->counted && m->last_ns > m->warm_end_ns) {
		*bytes = m->counted;
		ns = m->last_ns - m->warm_end_ns;
		med = median_slice(m);
		/* counted/ns < med/slice_ns: the time at the median's rate */
		if (med && (double)m->counted * (double)m->slice_ns <
				   (double)med * (double)ns)
			ns = (uint64_t)((double)m->counted *
					(double)m->slice_ns / (double)med);
	} else if (m->total > m->first_read && m->last_ns > m->first_ns) {
		*bytes = m->total - m->first_read;
		ns = m->last_ns - m->first_ns;
	}
	*window_us = (ns + 999) / 1000;
}

uint64_t rxm_rate_bps(uint64_t bytes, uint64_t window_us)
{
	/* at most 4 GiB * 8e6: no overflow */
	return window_us ? bytes * 8u * 1000000u / window_us : 0;
}
