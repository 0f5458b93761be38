#!/bin/bash
# run.sh BUILDDIR SRCDIR - Meridian's benchmark (`make bench`).
#
# Starts a cluster like the integration harness (munged, mctld, 64 mnoded
# with CPUs=2 and no GPUs on 127.0.0.1, temp dir) and measures:
#   1. sequential submit rate: N `mbatch --wrap=true -H --parsable` one
#      after another (each acknowledged only after its commit);
#   2. the same from 8 parallel clients;
#   3. end to end: 500 trivial jobs (--wrap=true) on the 64 nodes, from
#      the first submit to the last COMPLETED;
#   4. mctld's VmRSS before and after 10,000 held pending jobs (a fresh
#      controller state), KiB per job;
#   5. the median latency of mqueue (empty queue, then with those
#      10,000 pending jobs) and of mctl show job;
#   6. the wall time of one mbatch --array of 10,000 tasks (held), the
#      client's start included, and mqueue with five of them pending;
#   7. end-to-end jobs/s with 2,000 and with 16,000 trivial jobs queued at
#      once (no throughput cliff: the second at least 90% of the first).
# It prints a summary table.  It asserts nothing about speed: it fails only
# on errors (a refused submit, a job that does not complete).
#
# Before them it times 1000 runs of `mbatch --version` (the cost of
# starting a client process) and 1000 sequential `mctl ping` (a request
# with its munge credential, without a commit), so that the submit rates
# can be read against them.
#
#   BENCH_SEQ=2000 BENCH_PAR_CLIENTS=8 BENCH_PAR_TOTAL=4000 BENCH_E2E=500
#   BENCH_NODES=64 BENCH_PENDING=10000 BENCH_ARRAY=10000
#   (sizes, for quick runs)
set -uo pipefail
export MERIDIAN_BUILDDIR=${1:-${MERIDIAN_BUILDDIR:-$(pwd)}}
export MERIDIAN_SRCDIR=${2:-${MERIDIAN_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}}
MERIDIAN_BUILDDIR=$(cd "$MERIDIAN_BUILDDIR" && pwd)
MERIDIAN_SRCDIR=$(cd "$MERIDIAN_SRCDIR" && pwd)
SEQ=${BENCH_SEQ:-2000}
PAR_CLIENTS=${BENCH_PAR_CLIENTS:-8}
PAR_TOTAL=${BENCH_PAR_TOTAL:-4000}
PINGS=${BENCH_PINGS:-1000}
E2E=${BENCH_E2E:-500}
NODES=${BENCH_NODES:-64}
PENDING=${BENCH_PENDING:-10000}
ARRAY=${BENCH_ARRAY:-10000}
CLIFF_LO=${BENCH_CLIFF_LO:-2000}
CLIFF_HI=${BENCH_CLIFF_HI:-16000}
CLIENTS=$MERIDIAN_SRCDIR/testsuite/bench/submit-clients.sh
SUBMIT_LIB=$MERIDIAN_BUILDDIR/testsuite/bench/submit_lib

MER_NAME=bench
# Benchmarks measure the controller, not the logger.
: "${MERIDIAN_LOGLEVEL:=warn}"
MER_HEARTBEAT=5
MER_NODE_TIMEOUT=60
MER_NODE_LINES="NodeName=n[1-$NODES] NodeAddr=127.0.0.1 CPUs=2 RealMemory=2048 Region=eu-west"
. "$MERIDIAN_SRCDIR/testsuite/integration/lib.sh"
. "$MERIDIAN_SRCDIR/testsuite/bench/bench_lib.sh"
rate() { awk -v n="$1" -v ms="$2" 'BEGIN { if (ms > 0) printf "%.0f", n * 1000 / ms; else print "inf" }'; }
rss_kib() { awk -v k="${1:-VmRSS}:" '$1 == k {print $2}' "/proc/$MER_CTLD_PID/status"; }
# CPU time (ms) a process has used: utime + stime
cpu_ms() { awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); print int(($12 + $13) * 1000 / hz) }' "/proc/$1/stat"; }
munged_pid() { cat "$MER_T/munge.pid"; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }

# parse "submitted=N errors=E elapsed_ms=T ids=FILE"
clients() { # CLIENTS TOTAL ARGS...
	local line
	line=$("$CLIENTS" "$@") || true
	eval "$(printf '%s\n' "$line" | tr ' ' '\n' | grep -E '^(submitted|errors|elapsed_ms|ids)=' | sed 's/^/c_/')"
	printf '%s\n' "$line" >&2
}

# the same through the client library: one connection per client, no
# process start per job.  Sets l_n (acknowledged) and l_ms.
libclients() { # CLIENTS TOTAL [hold]
	local out t0
	out=$(mktemp /tmp/meridian-bench-lib.XXXXXX)
	t0=$(now_ms)
	"$SUBMIT_LIB" "$@" >"$out" || err "submit_lib $* failed"
	l_ms=$(( $(now_ms) - t0 ))
	l_n=$(grep -c . "$out")
	l_ids=$out
}

mer_init
cd "$MER_T/work" || exit 1
echo "# Meridian benchmark: $(nproc) CPUs, $(uname -r), $(date -u +%FT%TZ)"
echo "# starting munged, mctld and $NODES mnoded"
t=$(now_ms)
cluster_start "$NODES"
echo "# cluster up in $(( $(now_ms) - t )) ms"

# ---- 0. the floor: the client alone, and a request without a commit
echo "# 0. $PINGS x mbatch --version, $PINGS sequential mctl ping"
t0=$(now_ms)
for ((i = 0; i < PINGS; i++)); do
	mbatch --version >/dev/null || { err "mbatch --version failed"; break; }
done
floor_ms=$(( $(now_ms) - t0 ))
floor_rate=$(rate "$PINGS" "$floor_ms")
t0=$(now_ms)
for ((i = 0; i < PINGS; i++)); do
	mctl ping >/dev/null || { err "mctl ping failed"; break; }
done
ping_ms=$(( $(now_ms) - t0 ))
ping_rate=$(rate "$PINGS" "$ping_ms")
mq_empty_ms=$(median_ms 101 mqueue -h)

# ---- 1. sequential submits
echo "# 1. $SEQ sequential submits"
c0=$(cpu_ms "$MER_CTLD_PID") m0=$(cpu_ms "$(munged_pid)")
clients 1 "$SEQ" --wrap=true -H
seq_ctld_us=$(( ($(cpu_ms "$MER_CTLD_PID") - c0) * 1000 / (c_submitted > 0 ? c_submitted : 1) ))
seq_munge_us=$(( ($(cpu_ms "$(munged_pid)") - m0) * 1000 / (c_submitted > 0 ? c_submitted : 1) ))
seq_n=$c_submitted seq_ms=$c_elapsed_ms
[ "$c_errors" -eq 0 ] || err "$c_errors sequential submits failed"
rm -rf "$(dirname "$c_ids")"
seq_rate=$(rate "$seq_n" "$seq_ms")

# ---- 2. parallel clients
echo "# 2. $PAR_CLIENTS clients, $PAR_TOTAL submits"
c0=$(cpu_ms "$MER_CTLD_PID") m0=$(cpu_ms "$(munged_pid)")
clients "$PAR_CLIENTS" "$PAR_TOTAL" --wrap=true -H
par_ctld_us=$(( ($(cpu_ms "$MER_CTLD_PID") - c0) * 1000 / (c_submitted > 0 ? c_submitted : 1) ))
par_munge_us=$(( ($(cpu_ms "$(munged_pid)") - m0) * 1000 / (c_submitted > 0 ? c_submitted : 1) ))
par_n=$c_submitted par_ms=$c_elapsed_ms
[ "$c_errors" -eq 0 ] || err "$c_errors parallel submits failed"
rm -rf "$(dirname "$c_ids")"
par_rate=$(rate "$par_n" "$par_ms")

# ---- 1b/2b. the same through the client library
echo "# 1b. $SEQ sequential library submits; 2b. $PAR_CLIENTS library clients, $PAR_TOTAL submits"
c0=$(cpu_ms "$MER_CTLD_PID")
libclients 1 "$SEQ" hold
lseq_n=$l_n lseq_ms=$l_ms
lseq_ctld_us=$(( ($(cpu_ms "$MER_CTLD_PID") - c0) * 1000 / (l_n > 0 ? l_n : 1) ))
rm -f "$l_ids"
c0=$(cpu_ms "$MER_CTLD_PID")
libclients "$PAR_CLIENTS" "$PAR_TOTAL" hold
lpar_n=$l_n lpar_ms=$l_ms
lpar_ctld_us=$(( ($(cpu_ms "$MER_CTLD_PID") - c0) * 1000 / (l_n > 0 ? l_n : 1) ))
rm -f "$l_ids"
lseq_rate=$(rate "$lseq_n" "$lseq_ms")
lpar_rate=$(rate "$lpar_n" "$lpar_ms")

# the held jobs out of the way
mcancel -u root >/dev/null 2>&1 || mcancel -u "$(id -un)" || err "mcancel -u root failed"
wait_for 60 "held jobs cancelled" eval '[ -z "$(mqueue -h -t PD,R 2>/dev/null)" ]' ||
	err "the held jobs were not all cancelled"

# ---- 3. end to end
echo "# 3. $E2E trivial jobs on $NODES nodes"
t0=$(now_ms)
clients "$PAR_CLIENTS" "$E2E" --wrap=true -o /dev/null
e2e_n=$c_submitted
e2e_ids=$c_ids
[ "$c_errors" -eq 0 ] || err "$c_errors end-to-end submits failed"
e2e_submit_ms=$(( $(now_ms) - t0 ))
if wait_for 600 "all $e2e_n jobs ended" eval '[ -z "$(mqueue -h -t PD,R 2>/dev/null)" ]'; then
	t1=$(now_ms)
else
	t1=$(now_ms)
	err "jobs still queued or running after 600 s"
fi
e2e_ms=$((t1 - t0))
states=$(mqueue -t all -h -o '%i %T' 2>/dev/null | awk 'NR == FNR { want[$1] = 1; next } ($1 in want) { print $2 }' "$e2e_ids" - | sort | uniq -c | tr '\n' ' ')
ncomp=$(mqueue -t all -h -o '%i %T' 2>/dev/null | awk 'NR == FNR { want[$1] = 1; next } ($1 in want) && $2 == "COMPLETED"' "$e2e_ids" - | wc -l)
echo "# end states: $states"
[ "$ncomp" -eq "$e2e_n" ] || err "only $ncomp of $e2e_n jobs COMPLETED ($states)"
rm -rf "$(dirname "$e2e_ids")"
e2e_rate=$(rate "$e2e_n" "$e2e_ms")

# ---- 3b. end to end with the library submitter
echo "# 3b. $E2E trivial jobs on $NODES nodes, submitted through the library"
t0=$(now_ms)
libclients "$PAR_CLIENTS" "$E2E"
le2e_n=$l_n
le2e_submit_ms=$(( $(now_ms) - t0 ))
wait_for 600 "all $le2e_n jobs ended" eval '[ -z "$(mqueue -h -t PD,R 2>/dev/null)" ]' ||
	err "library end-to-end jobs still queued or running after 600 s"
le2e_ms=$(( $(now_ms) - t0 ))
lcomp=$(mqueue -t all -h -o '%i %T' 2>/dev/null | awk 'NR == FNR { want[$1] = 1; next } ($1 in want) && $2 == "COMPLETED"' "$l_ids" - | wc -l)
[ "$lcomp" -eq "$le2e_n" ] || err "only $lcomp of $le2e_n library-submitted jobs COMPLETED"
rm -f "$l_ids"
le2e_rate=$(rate "$le2e_n" "$le2e_ms")

# ---- 4. RSS with pending jobs, on a fresh controller state
echo "# 4. controller RSS with $PENDING held pending jobs (fresh state)"
ctld_stop
rm -rf "$MER_T/state"
mkdir -p "$MER_T/state"
ctld_start
wait_ctld 30
wait_nodes_up "$NODES" 60 || err "nodes did not come back to the fresh mctld"
sleep 2
rss0=$(rss_kib) anon0=$(rss_kib RssAnon) file0=$(rss_kib RssFile)
clients "$PAR_CLIENTS" "$PENDING" --wrap=true -H
pend_n=$c_submitted pend_ms=$c_elapsed_ms
pend_rate=$(rate "$pend_n" "$pend_ms")
[ "$c_errors" -eq 0 ] || err "$c_errors pending submits failed"
rm -rf "$(dirname "$c_ids")"
sleep 2
rss1=$(rss_kib) anon1=$(rss_kib RssAnon) file1=$(rss_kib RssFile)
per_job() { awk -v a="$1" -v b="$2" -v n="$pend_n" 'BEGIN { if (n > 0) printf "%.2f", (b - a) / n; else print "n/a" }'; }
per_job=$(per_job "$rss0" "$rss1")
per_job_anon=$(per_job "$anon0" "$anon1")
per_job_file=$(per_job "$file0" "$file1")
npend=$(mqueue -h -t PD 2>/dev/null | wc -l)
[ "$npend" -eq "$pend_n" ] || err "mqueue shows $npend pending jobs, $pend_n were acknowledged"

# ---- 5. mqueue latency with the pending jobs
echo "# 5. mqueue and mctl show job latency with $pend_n pending jobs"
mq_full_ms=$(median_ms 21 mqueue -h)
show_full_ms=$(median_ms 21 mctl show job)

# ---- 7. no throughput cliff: jobs/s with CLIFF_LO and CLIFF_HI queued
# (trivial jobs submitted through the library as fast as it goes, the
# rate from the first submit to the last end)
cliff() { # N: sets cl_rate
	local t0 out
	t0=$(now_ms)
	libclients "$PAR_CLIENTS" "$1"
	out=$l_n
	wait_for 900 "all $out jobs ended" eval '[ -z "$(mqueue -h -t PD,R 2>/dev/null)" ]' ||
		err "cliff: jobs still queued after 900 s"
	cl_rate=$(rate "$out" $(( $(now_ms) - t0 )))
	rm -f "$l_ids"
}
echo "# 7. throughput with $CLIFF_LO and with $CLIFF_HI jobs queued at once"
mcancel -u root >/dev/null 2>&1 || mcancel -u "$(id -un)" >/dev/null 2>&1
wait_for 60 "held jobs cancelled" eval '[ -z "$(mqueue -h -t PD,R 2>/dev/null)" ]' ||
	err "the held jobs were not all cancelled"
cliff "$CLIFF_LO"
cliff_lo=$cl_rate
cliff "$CLIFF_HI"
cliff_hi=$cl_rate
cliff_ratio=$(awk -v a="$cliff_lo" -v b="$cliff_hi" 'BEGIN { if (a > 0) printf "%.0f", b * 100 / a; else print "n/a" }')

# ---- 6. a job array: one submit of ARRAY tasks, one record
echo "# 6. a $ARRAY-task array, held: submit, then mqueue"
mcancel -u root >/dev/null 2>&1 || mcancel -u "$(id -un)" >/dev/null 2>&1
arr_ms=$(median_ms 5 mbatch -H --parsable --array=0-$((ARRAY - 1)) --wrap=true)
arr_lines=$(mqueue -h -t PD 2>/dev/null | wc -l)
[ "$arr_lines" -eq 5 ] || err "mqueue shows $arr_lines lines for 5 held arrays, expected 5"
mq_arr_ms=$(median_ms 21 mqueue -h)
mcancel -u root >/dev/null 2>&1 || mcancel -u "$(id -un)" >/dev/null 2>&1

echo
echo "Meridian benchmark results ($(nproc) CPUs; targets from issue 2 for reference, not asserted)"
printf '%-52s %12s %12s\n' "measure" "result" "target"
printf '%-52s %12s %12s\n' "----------------------------------------------------" "------------" "------------"
printf '%-52s %8s r/s %12s\n' "0. process floor: sequential mbatch --version" "$floor_rate" ""
printf '%-52s %8s r/s %12s\n' "   sequential mctl ping (credential, no commit)" "$ping_rate" ""
printf '%-52s %8s j/s %12s\n' "1. sequential mbatch submits ($seq_n in $seq_ms ms)" "$seq_rate" ">= 800"
printf '%-52s %8s j/s %12s\n' "2. $PAR_CLIENTS parallel clients ($par_n in $par_ms ms)" "$par_rate" ">= 2500"
printf '%-52s %8s us  %12s\n' "   mctld CPU per submit, sequential / parallel" "$seq_ctld_us/$par_ctld_us" ""
printf '%-52s %8s us  %12s\n' "   munged CPU per submit, sequential / parallel" "$seq_munge_us/$par_munge_us" ""
printf '%-52s %8s j/s %12s\n' "1b. sequential library submits ($lseq_n in $lseq_ms ms)" "$lseq_rate" ""
printf '%-52s %8s j/s %12s\n' "2b. $PAR_CLIENTS library clients ($lpar_n in $lpar_ms ms)" "$lpar_rate" ""
printf '%-52s %8s us  %12s\n' "   mctld CPU per library submit, seq / parallel" "$lseq_ctld_us/$lpar_ctld_us" ""
printf '%-52s %8s j/s %12s\n' "3. end to end, $e2e_n jobs on $NODES nodes ($e2e_ms ms)" "$e2e_rate" ">= 250"
printf '%-52s %8s j/s %12s\n' "3b. end to end, library submits ($le2e_ms ms)" "$le2e_rate" ">= 250"
printf '%-52s %8s KiB %12s\n' "4. mctld VmRSS, before $PENDING pending jobs" "$rss0" ""
printf '%-52s %8s KiB %12s\n' "   after $pend_n pending jobs" "$rss1" ""
printf '%-52s %8s KiB %12s\n' "   per pending job" "$per_job" "< 2"
printf '%-52s %8s KiB %12s\n' "     of which heap (RssAnon) / LMDB map (RssFile)" "$per_job_anon/$per_job_file" ""
printf '%-52s %8s j/s %12s\n' "   ($PAR_CLIENTS-client submit rate while 0 -> $pend_n pending)" "$pend_rate" ""
printf '%-52s %8s ms  %12s\n' "5. mqueue, empty queue (median of 101)" "$mq_empty_ms" ""
printf '%-52s %8s ms  %12s\n' "   mqueue, $pend_n pending jobs (median of 21)" "$mq_full_ms" ""
printf '%-52s %8s ms  %12s\n' "   mctl show job, $pend_n pending jobs (median of 21)" "$show_full_ms" ""
printf '%-52s %8s ms  %12s\n' "6. mbatch --array of $ARRAY tasks (median of 5)" "$arr_ms" "< 50"
printf '%-52s %8s j/s %12s\n' "7. end to end, $CLIFF_LO jobs queued at once" "$cliff_lo" ""
printf '%-52s %8s j/s %12s\n' "   end to end, $CLIFF_HI jobs queued at once" "$cliff_hi" ""
printf '%-52s %8s %%   %12s\n' "   the second over the first" "$cliff_ratio" ">= 90"
printf '%-52s %8s ms  %12s\n' "   mqueue, 5 such arrays pending (median of 21)" "$mq_arr_ms" ""
echo "(end to end: submits took $e2e_submit_ms ms of the $e2e_ms ms)"
if [ "$errors" -ne 0 ]; then
	echo "bench: $errors errors (see above)" >&2
	exit 1
fi
exit 0
