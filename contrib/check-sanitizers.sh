#!/bin/bash
# check-sanitizers.sh - build Meridian under ASan and UBSan in a temporary
# VPATH build and run the unit tests (the CUnit programs beside the code,
# `make check-unit`), not the integration or fuzz tests.  Any error the
# sanitizers find ends the test that found it (--enable-sanitizers builds
# with -fno-sanitize-recover), and a leak fails it too.  Exits non-zero
# on the first failure, after printing the failed tests' logs.
#
#   JOBS=N                      parallel make jobs (default 2)
#   MERIDIAN_SANITIZE_KEEP=1    keep the build directory (its path is
#                               printed) instead of removing it
#   CC=...                      the compiler (default: configure's)
#
# Run from anywhere.  A source tree configured in place (as run-tests.sh
# and quickstart.sh leave it) cannot host another build, so the build is
# made from a copy of what it distributes (make distdir); an unconfigured
# one is built from directly and must have its configure script.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
JOBS=${JOBS:-2}
# The build below is a copy of the tree: the DGX-2 reference tests find
# the shared fixtures beside the real source tree, not beside the copy.
if [ -z "${MERIDIAN_SHARED_FIXTURES:-}" ] && [ -d "$src/../shared/fixtures" ]; then
	MERIDIAN_SHARED_FIXTURES=$(cd "$src/../shared/fixtures" && pwd)
	export MERIDIAN_SHARED_FIXTURES
fi

build=$(mktemp -d "${TMPDIR:-/tmp}/meridian-sanitizers.XXXXXX")
cleanup() {
	if [ "${MERIDIAN_SANITIZE_KEEP:-0}" = 1 ]; then
		echo "check-sanitizers: the build is kept in $build"
	else
		rm -rf "$build"
	fi
}
trap cleanup EXIT

cd "$build"
if [ -e "$src/config.status" ]; then
	echo "==== make distdir (the source tree is configured in place)"
	make -C "$src" distdir distdir="$build/src" >distdir.log 2>&1 || {
		tail -n 30 distdir.log
		echo "check-sanitizers: error: make distdir failed (log above)" >&2
		exit 1
	}
	src=$build/src
elif [ ! -x "$src/configure" ]; then
	echo "check-sanitizers: error: $src/configure is missing: run autoreconf -fi there" >&2
	exit 1
fi
mkdir obj
cd obj

# Leaks that are not Meridian's, each with why.  A leak in a library
# that is unloaded before exit shows as "<unknown module>" and cannot be
# matched, so allocations are unwound in full (fast_unwind_on_malloc=0)
# and matched by the loaded caller instead.
cat >lsan.supp <<'SUPP'
# hwloc 2.9's PCI discovery (its hwloc_pci plugin over libpciaccess)
# leaks ~1 KiB per hwloc_topology_load() of the real machine (see
# src/mstepd/test/hwloc.supp, the same for valgrind).  Reached by
# test_bind, mstepd, and MPICH's ranks (MPICH loads hwloc too).
leak:hwloc_topology_load
SUPP

# Abort on the first error, so that the test fails where it happened;
# detect leaks (LSan is on by default with ASan on Linux; say so).  The
# daemons and ranks the tests start inherit these.
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1:fast_unwind_on_malloc=0:strict_string_checks=1:detect_stack_use_after_return=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$build/obj/lsan.supp:print_suppressions=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

echo "==== configure --enable-sanitizers --enable-werror (in $build)"
"$src/configure" --enable-sanitizers --enable-werror --without-fuzz-cc \
	>configure.log 2>&1 || {
	tail -n 30 configure.log
	echo "check-sanitizers: error: configure failed (log above)" >&2
	exit 1
}
echo "==== make -j$JOBS"
make -j"$JOBS" >make.log 2>&1 || {
	tail -n 40 make.log
	echo "check-sanitizers: error: the build failed (log above)" >&2
	exit 1
}
echo "==== make check-unit"
if ! make -j"$JOBS" check-unit; then
	echo
	echo "==== failed unit tests under ASan/UBSan:"
	for log in $(find . -name '*.log' -path './src/*' -print); do
		if grep -q '^:test-result: \(FAIL\|ERROR\)' "${log%.log}.trs" 2>/dev/null; then
			echo "---- $log"
			tail -n 80 "$log"
		fi
	done
	exit 1
fi
grep -E '^# (TOTAL|PASS|SKIP|XFAIL|FAIL|XPASS|ERROR):' test-suite.log || true
# A skip is not a pass here either.
"$src/contrib/check-skips.sh" .
echo "check-sanitizers: every unit test passed under ASan and UBSan"
