#!/bin/bash
# macct.sh BUILDDIR SRCDIR - macct's benchmark (`make bench-macct`, and
# `make bench`; issue 11).
#
# history_fill writes a StateDir whose history holds N finished jobs
# (default 100,000) ending over the last 30 days; a controller starts on
# it and the median wall time of macct (the client's start included) is
# measured for:
#   1. a one-day window (-S now-1day), every user, jobs and steps;
#   2. the same as JSON;
#   3. one job by id (-j), from the history;
#   4. the whole 30 days (-S now-30days -X), every record;
# and slurm-compat's cost: sacct (a link to macct) against macct, and
# squeue against mqueue, medians of 401 runs each, in turns, of an answer
# without a controller (--version).
# It asserts nothing about speed; it fails only on errors (a wrong count).
#
#   BENCH_HISTORY=100000 (size, for quick runs)
set -uo pipefail
export MERIDIAN_BUILDDIR=${1:-${MERIDIAN_BUILDDIR:-$(pwd)}}
export MERIDIAN_SRCDIR=${2:-${MERIDIAN_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}}
MERIDIAN_BUILDDIR=$(cd "$MERIDIAN_BUILDDIR" && pwd)
MERIDIAN_SRCDIR=$(cd "$MERIDIAN_SRCDIR" && pwd)
N=${BENCH_HISTORY:-100000}
DAYS=30
FILL=$MERIDIAN_BUILDDIR/testsuite/bench/history_fill
COMPAT=$MERIDIAN_BUILDDIR/contrib/slurm-compat/bin

MER_NAME=bench-macct
: "${MERIDIAN_LOGLEVEL:=warn}"
MER_NODE_LINES="NodeName=g[001-064] NodeAddr=127.0.0.1 CPUs=4 Region=eu-west"
. "$MERIDIAN_SRCDIR/testsuite/integration/lib.sh"
. "$MERIDIAN_SRCDIR/testsuite/bench/bench_lib.sh"

# pair_ms N A B: A and B run in turns N times (the machine's drift hits
# both alike); prints the median of each, in ms
pair_ms() {
	local n=$1 a=$2 b=$3 i t0 t1 t2
	for ((i = 0; i < n; i++)); do
		t0=$(date +%s%N)
		"$a" --version >/dev/null 2>&1 || err "$a failed"
		t1=$(date +%s%N)
		"$b" --version >/dev/null 2>&1 || err "$b failed"
		t2=$(date +%s%N)
		echo "$((t1 - t0)) $((t2 - t1))"
	done | awk '{ a[NR] = $1; b[NR] = $2 }
		function med(v, n,   i, j, t) {
			for (i = 2; i <= n; i++)
				for (j = i; j > 1 && v[j - 1] > v[j]; j--) {
					t = v[j]; v[j] = v[j - 1]; v[j - 1] = t
				}
			return (n % 2) ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
		}
		END { printf "%.2f %.2f", med(a, NR) / 1e6, med(b, NR) / 1e6 }'
}

[ -x "$FILL" ] || { echo "bench: $FILL is not built (make check builds it)" >&2; exit 1; }
mer_init
echo "# filling the history with $N jobs over $DAYS days"
t0=$(date +%s)
"$FILL" "$MER_T" "$N" "$DAYS" || { echo "bench: history_fill failed" >&2; exit 1; }
echo "#   done in $(( $(date +%s) - t0 )) s, StateDir $(du -sh "$MER_T/state" | cut -f1)"

munged_start munge
MER_SOCK=$MUNGE_SOCK
MER_PORT=$(pick_port) || bail "no free port"
MER_CONF=$MER_T/meridian.conf
write_conf "$MER_CONF" 1
export MERIDIAN_CONF=$MER_CONF
ctld_start
wait_ctld

day=$(macct -a -n -X -P --format=JobID -S now-1day | wc -l)
all=$(macct -a -n -X -P --format=JobID -S now-${DAYS}days | wc -l)
want_day=$((N / DAYS))
# the window's edges hold a job more or less
[ "$day" -ge $((want_day - 2)) ] && [ "$day" -le $((want_day + 2)) ] ||
	err "a one-day window shows $day jobs, about $want_day expected"
[ "$all" -eq "$N" ] || err "the whole history shows $all jobs, $N expected"
id=$((N / 2))
[ "$(macct -n -X -P --format=JobID -j "$id")" = "$id" ] || err "macct -j $id does not show it"

echo "# timing"
day_ms=$(median_ms 21 macct -a -S now-1day)
json_ms=$(median_ms 21 macct -a -S now-1day --json)
id_ms=$(median_ms 21 macct -j "$id")
all_ms=$(median_ms 5 macct -a -X -S now-${DAYS}days)
read -r macct_v sacct_v < <(pair_ms 401 "$MERIDIAN_BUILDDIR/src/cmd/macct" "$COMPAT/sacct")
read -r mqueue_v squeue_v < <(pair_ms 401 "$MERIDIAN_BUILDDIR/src/cmd/mqueue" "$COMPAT/squeue")
ctld_stop

printf '\n%-60s %9s     %s\n' "macct, $N finished jobs in the history" "median" "target"
printf '%-60s %9s ms  %s\n' "1. one-day window ($day jobs, with steps; of 21)" "$day_ms" "< 100"
printf '%-60s %9s ms\n' "2. the same, --json (of 21)" "$json_ms"
printf '%-60s %9s ms\n' "3. -j one job (of 21)" "$id_ms"
printf '%-60s %9s ms\n' "4. all $DAYS days, -X ($all jobs; of 5)" "$all_ms"
printf '%-60s %9s ms\n' "   macct --version (of 401, in turns)" "$macct_v"
printf '%-60s %9s ms  %s\n' "   sacct --version through slurm-compat (of 401, in turns)" "$sacct_v" "< macct + 1"
printf '%-60s %9s ms\n' "   mqueue --version (of 401, in turns)" "$mqueue_v"
printf '%-60s %9s ms  %s\n' "   squeue --version through slurm-compat (of 401, in turns)" "$squeue_v" "< mqueue + 1"
awk -v d="$day_ms" 'BEGIN { print (d < 100 ? "PASS" : "MISS") ": one-day window under 100 ms" }'
awk -v s="$sacct_v" -v m="$macct_v" -v q="$squeue_v" -v r="$mqueue_v" \
	'BEGIN { print (s - m < 1 && q - r < 1 ? "PASS" : "MISS") ": slurm-compat adds under 1 ms" }'
[ "$errors" -eq 0 ] || { echo "bench: $errors errors" >&2; exit 1; }
exit 0
