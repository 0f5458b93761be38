#!/bin/bash
# quickstart.sh - from a fresh Debian 12 machine to a job run on a local
# Meridian cluster, as root:
#
#   1. install the Debian packages and the test user (setup-debian.sh),
#   2. build (autoreconf -fi, ./configure, make -j2),
#   3. start a demo cluster in a temporary directory: munged with a fresh
#      key on its own socket, mctld, and 4 mnoded in two regions
#      (n1,n2 in eu-west with 2 a100 each; n3,n4 in us-east with 2 h100
#      each), all on 127.0.0.1,
#   4. submit contrib/examples/gpu-job.sh as the unprivileged user
#      mertest with mbatch, show mqueue while it runs, then mctl show job
#      and the job's output,
#   5. submit contrib/examples/train-job.sh: MPI data-parallel training
#      (contrib/examples/mpi_train) on 2 nodes x 2 ranks, one GPU each,
#      started by mrun inside the batch job; show mqueue --steps while it
#      runs, the steps (mctl show step) and the output of every rank,
#   6. stop the cluster (unless --keep).
#
# Exits 0 only when both jobs ended COMPLETED with ExitCode=0:0.
#
#   --keep      leave the cluster running and print how to use and stop it
#   --no-setup  do not run setup-debian.sh (packages already there)
#   --no-build  do not build (already built)
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
keep=0 setup=1 build=1
for a in "$@"; do
	case "$a" in
	--keep) keep=1 ;;
	--no-setup) setup=0 ;;
	--no-build) build=0 ;;
	-h | --help)
		sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'
		exit 0
		;;
	*)
		echo "quickstart: error: unknown option $a (try --help)" >&2
		exit 2
		;;
	esac
done

say() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
die() {
	printf 'quickstart: error: %s\n' "$*" >&2
	exit 1
}
[ "$(id -u)" -eq 0 ] || die "run me as root: it installs packages, starts munged and runs a job as another user"

if [ $setup = 1 ]; then
	say "installing Debian packages and the test user"
	"$top/contrib/setup-debian.sh" || die "setup-debian.sh failed"
fi

cd "$top" || die "cd $top"
if [ $build = 1 ]; then
	say "building Meridian"
	if [ ! -f Makefile ]; then
		autoreconf -fi || die "autoreconf failed"
		./configure || die "configure failed"
	fi
	make -j2 || die "make failed"
fi

export MERIDIAN_BUILDDIR=$top MERIDIAN_SRCDIR=$top
MER_NAME=quickstart
MER_FAIL_FAST=0
. "$top/testsuite/integration/lib.sh"
MER_NODE_LINES="NodeName=n[1-2] NodeAddr=127.0.0.1 CPUs=2 RealMemory=2048 Gres=gpu:a100:2 Region=eu-west
NodeName=n[3-4] NodeAddr=127.0.0.1 CPUs=2 RealMemory=2048 Gres=gpu:h100:2 Region=us-east"
[ $keep = 1 ] && MER_KEEP_CLUSTER=1

say "starting a local cluster: munged, mctld, 4 mnoded in eu-west and us-east"
mer_init
cluster_start 4
note "config: $MER_CONF"
mnodes -N
echo
mnodes

say "submitting contrib/examples/gpu-job.sh as user $MERIDIAN_TEST_USER"
demo=$MER_T/work
cp "$top/contrib/examples/gpu-job.sh" "$demo/gpu-job.sh"
chown "$MER_UID:$MER_GID" "$demo/gpu-job.sh"
cd "$demo" || die "cd $demo"
echo "\$ runuser -u $MERIDIAN_TEST_USER -- mbatch gpu-job.sh"
out=$(as_user mbatch gpu-job.sh 2>&1)
echo "$out"
id=$(printf '%s\n' "$out" | sed -n 's/^Submitted batch job \([0-9][0-9]*\)$/\1/p')
[ -n "$id" ] || die "mbatch did not submit the job"

# job_ok ID: say how job ID ended; fails unless COMPLETED 0:0.
job_ok() {
	local state code
	state=$(job_state "$1")
	code=$(job_field "$1" ExitCode)
	if [ "$state" = COMPLETED ] && [ "$code" = 0:0 ]; then
		say "job $1 COMPLETED with ExitCode=0:0"
	else
		say "job $1 ended $state with ExitCode=$code"
		return 1
	fi
}

# wait_end ID WHAT: print WHAT (a command) each second until job ID ends.
wait_end() {
	local st end=$((SECONDS + 180))
	while :; do
		st=$(job_state "$1")
		echo "\$ $2"
		$2
		case "$st" in COMPLETED | FAILED | CANCELLED | TIMEOUT | NODE_FAIL) return 0 ;; esac
		[ $SECONDS -lt $end ] || die "job $1 did not end within 180 s (state $st)"
		sleep 1
	done
}

say "mqueue while it runs"
wait_end "$id" mqueue

say "the job has ended"
echo "\$ mctl show job $id"
mctl show job "$id"
outfile=$(job_field "$id" StdOut)
[ -n "$outfile" ] && [ -f "$outfile" ] || outfile=$demo/gpu-demo-$id.out
echo
echo "\$ cat $outfile"
cat "$outfile" 2>/dev/null || echo "(no output file $outfile)"

rc=0
job_ok "$id" || rc=1

train=$top/contrib/examples/mpi_train
if [ -x "$train" ]; then
	say "submitting contrib/examples/train-job.sh: MPI training, 2 nodes x 2 ranks, steps started by mrun"
	cp "$top/contrib/examples/train-job.sh" "$train" "$demo/"
	chown "$MER_UID:$MER_GID" "$demo/train-job.sh" "$demo/mpi_train"
	echo "\$ runuser -u $MERIDIAN_TEST_USER -- mbatch train-job.sh ./mpi_train"
	out=$(as_user mbatch train-job.sh ./mpi_train 2>&1)
	echo "$out"
	tid=$(printf '%s\n' "$out" | sed -n 's/^Submitted batch job \([0-9][0-9]*\)$/\1/p')
	[ -n "$tid" ] || die "mbatch did not submit the training job"
	say "its steps while it runs"
	wait_end "$tid" "mqueue --steps"
	say "the training job has ended"
	echo "\$ mctl show step $tid"
	mctl show step "$tid"
	echo
	echo "\$ cat $demo/train-demo-$tid.out"
	cat "$demo/train-demo-$tid.out" 2>/dev/null || echo "(no output file)"
	job_ok "$tid" || rc=1
else
	say "no MPI here (contrib/examples/mpi_train was not built): skipping the training job"
fi

if [ $keep = 1 ]; then
	cat >"$MER_T/stop.sh" <<EOS
#!/bin/sh
# stop the quickstart cluster started $(date)
kill $MER_CTLD_PID ${MER_NODE_PID[*]} 2>/dev/null
kill \$(cat $MER_T/munge.pid) 2>/dev/null
sleep 1
rm -rf $MER_T
EOS
	chmod +x "$MER_T/stop.sh"
	say "the cluster keeps running (--keep)"
	cat <<EOS
  export MERIDIAN_CONF=$MER_CONF PATH=$MER_CMD_DIR:\$PATH
  mnodes; mqueue -t all; mbatch --wrap='hostname'; mctl show node n3
  mrun -N 2 -n 4 -l hostname; mqueue --steps -t all; mrun --pty bash
  logs:  $MER_T/log/
  stop:  $MER_T/stop.sh
EOS
else
	say "stopping the cluster"
fi
exit $rc
