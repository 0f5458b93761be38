#!/bin/bash
# steps.sh BUILDDIR SRCDIR - Meridian's job step benchmark (`make bench`
# runs it before run.sh; `make bench-steps` runs it alone).
#
# Starts a cluster like the integration harness (munged, mctld, 8 mnoded
# with CPUs=8 and no GPUs on 127.0.0.1, temp dir) and, inside mbatch jobs,
# measures:
#   1. `mrun -n 64 /bin/true` over the 8 nodes: the wall time of the mrun
#      command alone (step creation, launch on 8 nodes, 64 forks, every
#      end back), median of BENCH_STEP_RUNS runs; with --mpi=none, and
#      -n 8 and -n 1 beside it for scale;
#   2. a 2-node MPI hello (MPI_Init, MPI_Allreduce, MPI_Finalize; MPICH
#      over PMI-1): the time until MPI_Init returned on both ranks (the
#      wire-up through the KVS exchange), and the whole mrun, medians;
#      `mrun -n 2 -N 2 /bin/true` beside it;
#   3. PMI barrier latency: pmi_fence (testsuite/bench/pmi_fence.c, a raw
#      PMI-1 client) as 64 ranks on 8 nodes, the mean time per fence seen
#      by rank 0, with and without a put and a get per fence.
# It prints a table with the issue's targets beside the figures.  It
# asserts nothing about speed: it fails only on errors (a step that does
# not exit 0, a job that does not complete).
#
#   BENCH_STEP_RUNS=7 BENCH_FENCES=200   (sizes, for quick runs)
set -uo pipefail
export MERIDIAN_BUILDDIR=${1:-${MERIDIAN_BUILDDIR:-$(pwd)}}
export MERIDIAN_SRCDIR=${2:-${MERIDIAN_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}}
MERIDIAN_BUILDDIR=$(cd "$MERIDIAN_BUILDDIR" && pwd)
MERIDIAN_SRCDIR=$(cd "$MERIDIAN_SRCDIR" && pwd)
RUNS=${BENCH_STEP_RUNS:-7}
FENCES=${BENCH_FENCES:-200}
FENCE=$MERIDIAN_BUILDDIR/testsuite/bench/pmi_fence

MER_NAME=bench-steps
: "${MERIDIAN_LOGLEVEL:=warn}"
MER_HEARTBEAT=5
MER_NODE_TIMEOUT=60
MER_NODE_LINES="NodeName=n[1-8] NodeAddr=127.0.0.1 CPUs=8 RealMemory=2048 Region=eu-west"
. "$MERIDIAN_SRCDIR/testsuite/integration/lib.sh"

errors=0
err() {
	printf 'bench: error: %s\n' "$*" >&2
	errors=$((errors + 1))
}
now_ms() { echo $(($(date +%s%N) / 1000000)); }
# median and min of the numbers (ms) in a file, as seconds: "0.312 0.280"
med_min_s() {
	sort -n "$1" 2>/dev/null | awk '{ v[NR] = $1 } END {
		if (NR == 0) { print "n/a n/a"; exit }
		m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
		printf "%.3f %.3f\n", m / 1000, v[1] / 1000 }'
}
# run_job NAME ARGS...: submit the script NAME.sh (mbatch ARGS), wait for
# its end, count an error unless it COMPLETED.
run_job() {
	local n=$1 id
	shift
	id=$(submit_root -o "$n-%j.out" "$@" "$n.sh") || { err "submit $n.sh failed"; return 1; }
	wait_job_end "$id" 600 || err "job $id ($n) did not end in 600 s"
	[ "$(job_state "$id")" = COMPLETED ] ||
		err "job $id ($n) ended $(job_state "$id"): $(tail -n 5 "$n-$id.out" 2>/dev/null | tr '\n' '|')"
}

mer_init
need_mrun
W=$MER_T/work
cd "$W" || exit 1
echo "# Meridian step benchmark: $(nproc) CPUs, $(uname -r), $(date -u +%FT%TZ)"
t=$(now_ms)
cluster_start 8
echo "# cluster of 8 nodes up in $(( $(now_ms) - t )) ms"

# ---- 1. mrun -n 64 /bin/true over 8 nodes
echo "# 1. mrun -n 64 /bin/true over 8 nodes, $RUNS runs each ($(date +%T))"
cat >true64.sh <<EOS
#!/bin/bash
# time the mrun command alone, each run into its own file of ms
t() { # FILE ARGS...
	local f=\$1 t0 rc
	shift
	t0=\$(date +%s%N)
	mrun "\$@" >/dev/null 2>>true64.err
	rc=\$?
	echo \$(( (\$(date +%s%N) - t0) / 1000000 )) >>"\$f"
	[ \$rc = 0 ] || echo "mrun \$* exited \$rc" >>true64.fail
}
mrun -n 64 -N 8 /bin/true >/dev/null 2>>true64.err   # warm-up
for i in \$(seq $RUNS); do t t64.ms -n 64 -N 8 /bin/true; done
for i in \$(seq $RUNS); do t t64none.ms -n 64 -N 8 --mpi=none /bin/true; done
for i in \$(seq $RUNS); do t t8.ms -n 8 -N 8 /bin/true; done
for i in \$(seq $RUNS); do t t1.ms -n 1 -N 1 /bin/true; done
EOS
chmod +x true64.sh
run_job true64 -N 8 -n 64 -t 20
[ -s true64.fail ] && err "$(wc -l <true64.fail) of $((4 * RUNS)) runs failed: $(sort true64.fail | uniq -c | tr '\n' ' ')" \
	"first error: $(grep -m1 . true64.err)"
read -r t64 t64min < <(med_min_s t64.ms)
read -r t64n t64nmin < <(med_min_s t64none.ms)
read -r t8 t8min < <(med_min_s t8.ms)
read -r t1 t1min < <(med_min_s t1.ms)

# ---- 2. 2-node MPI hello
hello=n/a hello_min=n/a hello_init=n/a hello_init_min=n/a true2=n/a true2min=n/a
if command -v mpicc >/dev/null 2>&1; then
	echo "# 2. 2-node MPI hello, $RUNS runs ($(date +%T))"
	cat >mpi_hello_t.c <<'EOC'
/* MPI_Init, then print when it returned (CLOCK_REALTIME, ns), an
 * allreduce whose sum is checked, MPI_Finalize. */
#include <mpi.h>
#include <stdio.h>
#include <time.h>

int main(int argc, char **argv)
{
	struct timespec ts;
	int rank, size, one = 1, sum = 0;

	MPI_Init(&argc, &argv);
	clock_gettime(CLOCK_REALTIME, &ts);
	MPI_Comm_rank(MPI_COMM_WORLD, &rank);
	MPI_Comm_size(MPI_COMM_WORLD, &size);
	MPI_Allreduce(&one, &sum, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
	printf("init_done_ns %lld rank %d size %d sum %d\n",
	       (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec, rank, size, sum);
	MPI_Finalize();
	return sum == size ? 0 : 3;
}
EOC
	if mpicc -O2 -o mpi_hello_t mpi_hello_t.c >mpicc.log 2>&1; then
		cat >hello2.sh <<EOS
#!/bin/bash
mrun -n 2 -N 2 ./mpi_hello_t >/dev/null 2>>hello2.err   # warm-up
for i in \$(seq $RUNS); do
	t0=\$(date +%s%N)
	mrun -n 2 -N 2 ./mpi_hello_t >hello.\$i.out 2>>hello2.err || echo "mpi hello run \$i exited \$?" >>hello2.fail
	t1=\$(date +%s%N)
	echo \$(( (t1 - t0) / 1000000 )) >>hello.ms
	# wired up: the later of the two ranks' MPI_Init
	awk -v t0=\$t0 '\$1 == "init_done_ns" && \$8 == 2 { if (\$2 > m) m = \$2; n++ }
		END { if (n == 2) printf "%d\n", (m - t0) / 1000000 }' hello.\$i.out >>hello_init.ms
	t0=\$(date +%s%N)
	mrun -n 2 -N 2 /bin/true 2>>hello2.err || echo "true run \$i exited \$?" >>hello2.fail
	echo \$(( (\$(date +%s%N) - t0) / 1000000 )) >>true2.ms
done
EOS
		chmod +x hello2.sh
		run_job hello2 -N 2 -n 2 -t 20
		[ -s hello2.fail ] && err "$(sort hello2.fail | uniq -c | tr '\n' ' ')" "first error: $(grep -m1 . hello2.err)"
		[ "$(wc -l <hello_init.ms 2>/dev/null || echo 0)" -eq "$RUNS" ] ||
			err "MPI hello: only $(wc -l <hello_init.ms 2>/dev/null || echo 0) of $RUNS runs printed both ranks' sum 2"
		read -r hello hello_min < <(med_min_s hello.ms)
		read -r hello_init hello_init_min < <(med_min_s hello_init.ms)
		read -r true2 true2min < <(med_min_s true2.ms)
	else
		err "mpicc failed: $(tail -n 3 mpicc.log)"
	fi
else
	echo "# 2. skipped: no mpicc (Debian packages mpich libmpich-dev)"
fi

# ---- 3. PMI barrier latency, 64 ranks on 8 nodes
echo "# 3. PMI fences, 64 ranks on 8 nodes, $FENCES fences ($(date +%T))"
fence=n/a fence_med=n/a fencep=n/a fencep_med=n/a
if [ -x "$FENCE" ]; then
	install -m 0755 "$FENCE" "$W/pmi_fence"
	cat >fence64.sh <<EOS
#!/bin/bash
mrun -n 64 -N 8 ./pmi_fence -n $FENCES >fence.out 2>fence.err || echo "pmi_fence exited \$?" >>fence.fail
mrun -n 64 -N 8 ./pmi_fence -n $FENCES -p >fencep.out 2>>fence.err || echo "pmi_fence -p exited \$?" >>fence.fail
EOS
	chmod +x fence64.sh
	run_job fence64 -N 8 -n 64 -t 20
	[ -s fence.fail ] && err "$(sort -u fence.fail | tr '\n' ' ') $(head -c 500 fence.err)"
	field() { tr ' ' '\n' <"$1" 2>/dev/null | awk -v k="$2" 'p { print; exit } $0 == k { p = 1 }'; }
	fence=$(field fence.out mean_ms) fence_med=$(field fence.out median_ms)
	fencep=$(field fencep.out mean_ms) fencep_med=$(field fencep.out median_ms)
	[ -n "$fence" ] || { err "pmi_fence printed no result: $(head -c 300 fence.err)"; fence=n/a; }
	[ -n "$fencep" ] || fencep=n/a
else
	err "not built: $FENCE (run make)"
fi

echo "# done ($(date +%T))"
echo
echo "Meridian step benchmark results ($(nproc) CPUs; targets from issue 3 for reference, not asserted)"
printf '%-58s %16s %10s\n' "measure" "median (min)" "target"
printf '%-58s %16s %10s\n' "----------------------------------------------------------" "----------------" "----------"
printf '%-58s %16s %10s\n' "1. mrun -n 64 /bin/true over 8 nodes" "$t64 s ($t64min)" "< 0.5 s"
printf '%-58s %16s %10s\n' "   the same with --mpi=none" "$t64n s ($t64nmin)" ""
printf '%-58s %16s %10s\n' "   mrun -n 8 /bin/true over 8 nodes" "$t8 s ($t8min)" ""
printf '%-58s %16s %10s\n' "   mrun -n 1 /bin/true" "$t1 s ($t1min)" ""
printf '%-58s %16s %10s\n' "2. 2-node MPI hello: until MPI_Init returned on both" "$hello_init s ($hello_init_min)" "< 1 s"
printf '%-58s %16s %10s\n' "   the whole mrun (init, allreduce, finalize, end)" "$hello s ($hello_min)" ""
printf '%-58s %16s %10s\n' "   mrun -n 2 -N 2 /bin/true" "$true2 s ($true2min)" ""
printf '%-58s %16s %10s\n' "3. PMI fence, 64 ranks on 8 nodes, mean per fence" "$fence ms" "< 20 ms"
printf '%-58s %16s %10s\n' "   median per fence" "$fence_med ms" ""
printf '%-58s %16s %10s\n' "   with a put and a get per fence: mean / median" "$fencep / $fencep_med ms" ""
if [ "$errors" -ne 0 ]; then
	echo "bench: $errors errors (see above)" >&2
	exit 1
fi
exit 0
