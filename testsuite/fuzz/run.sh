#!/bin/sh
# run.sh - run one fuzz target for a bounded time: the log compiler of
# the .fuzz tests (Makefile.inc).
#
#   run.sh --fuzz-cc CC --bindir DIR SRCDIR/testsuite/fuzz/TARGET.fuzz
#
# TARGET.fuzz holds the target's libFuzzer options, one a line ('#'
# starts a comment; -dict=FILE is relative to the .fuzz file).  The
# target runs $MERIDIAN_FUZZ_SECONDS seconds (default 30) from a copy of
# corpus/TARGET in a temporary directory: the source tree is never
# written (it is read-only under distcheck), and what the run adds to the
# corpus is thrown away with the directory.  A crash, leak, timeout or
# out-of-memory fails the test: the directory is kept, and the
# reproducer's path and the command that replays it are printed.
# Without a clang with libFuzzer (CC empty) the test skips (77).
set -u

fuzz_cc= bindir=
while [ $# -gt 1 ]; do
	case $1 in
	--fuzz-cc) fuzz_cc=$2; shift 2 ;;
	--bindir) bindir=$2; shift 2 ;;
	*) break ;;
	esac
done
[ $# -eq 1 ] || { echo "usage: run.sh --fuzz-cc CC --bindir DIR TARGET.fuzz" >&2; exit 99; }
spec=$1
name=$(basename "$spec" .fuzz)
specdir=$(cd "$(dirname "$spec")" && pwd)

if [ -z "$fuzz_cc" ]; then
	echo "SKIP: fuzz target $name: no clang with libFuzzer (configure found none; install clang and libclang-rt-14-dev, then run configure again)"
	exit 77
fi
bin=$bindir/fuzz_$name
if [ ! -x "$bin" ]; then
	echo "FAIL: $bin is not built (make fuzz)" >&2
	exit 99
fi
bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")

secs=${MERIDIAN_FUZZ_SECONDS:-30}
case $secs in
'' | *[!0-9]*) echo "MERIDIAN_FUZZ_SECONDS=$secs: expected a number of seconds" >&2; exit 99 ;;
esac

work=$(mktemp -d "${TMPDIR:-/tmp}/meridian-fuzz-$name.XXXXXX") || exit 99
mkdir "$work/corpus" "$work/artifacts"
if [ -d "$specdir/corpus/$name" ]; then
	cp "$specdir/corpus/$name"/* "$work/corpus/" 2>/dev/null
	chmod u+w "$work/corpus"/* 2>/dev/null
fi

# the options, with dictionaries made absolute
opts=
while read -r line; do
	case $line in
	'#'* | '') continue ;;
	-dict=/*) ;;
	-dict=*) line="-dict=$specdir/${line#-dict=}" ;;
	esac
	opts="$opts $line"
done <"$spec"

log=$work/fuzz.log
echo "fuzz_$name: $secs s, options:$opts"
# shellcheck disable=SC2086 # the options are words
"$bin" -max_total_time="$secs" -print_final_stats=1 \
	-artifact_prefix="$work/artifacts/" $opts \
	"$work/corpus" >"$log" 2>&1
rc=$?

# libFuzzer's last status line: "#N DONE cov: C ft: F corp: ... exec/s: E"
last=$(grep -E '^#[0-9]+' "$log" | tail -n 1)
cov=$(printf '%s\n' "$last" | sed -n 's/.* cov: \([0-9]*\).*/\1/p')
ft=$(printf '%s\n' "$last" | sed -n 's/.* ft: \([0-9]*\).*/\1/p')
corp=$(printf '%s\n' "$last" | sed -n 's/.* corp: \([0-9]*\).*/\1/p')
runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
eps=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
rss=$(sed -n 's/^stat::peak_rss_mb: *//p' "$log")
echo "fuzz_$name: runs ${runs:-?} exec/s ${eps:-?} cov ${cov:-?} ft ${ft:-?} corpus ${corp:-?} rss ${rss:-?}MB"

found=$(ls "$work/artifacts" 2>/dev/null)
if [ $rc -eq 0 ] && [ -z "$found" ]; then
	rm -rf "$work"
	exit 0
fi
echo "FAIL: fuzz_$name exited with $rc; its output (the end):"
tail -n 60 "$log"
for f in $found; do
	echo "FAIL: reproducer $work/artifacts/$f"
	echo "      replay: $bin$opts $work/artifacts/$f"
done
echo "FAIL: everything is kept in $work"
exit 1
