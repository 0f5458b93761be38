# bench_lib.sh - what the benchmark scripts (run.sh, macct.sh) share,
# sourced after testsuite/integration/lib.sh.  A benchmark measures and
# never asserts a speed: it counts errors (a refused submit, a wrong
# count) and fails only on them.

errors=0
err() {
	printf 'bench: error: %s\n' "$*" >&2
	errors=$((errors + 1))
}

# median_ms N CMD...: the median wall time of N runs of CMD, in ms (0.01)
median_ms() {
	local n=$1 i t0 t1
	shift
	for ((i = 0; i < n; i++)); do
		t0=$(date +%s%N)
		"$@" >/dev/null 2>&1 || err "$* failed"
		t1=$(date +%s%N)
		echo $((t1 - t0))
	done | sort -n | awk '{ v[NR] = $1 } END { m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "%.2f", m / 1e6 }'
}
