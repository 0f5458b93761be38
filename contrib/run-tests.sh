#!/bin/bash
# run-tests.sh - on a fresh Debian 12 machine, as root: install the
# packages, build with warnings as errors, run the whole test suite
# (unit and integration), then make distcheck.  Exits non-zero on the
# first failure.  .ci/run calls this.
#
#   JOBS=N                 parallel make jobs (default 2)
#   MERIDIAN_SKIP_APT=1    do not install packages
#   MERIDIAN_SKIP_DISTCHECK=1  stop after make check
set -euo pipefail
cd "$(dirname "$0")/.."
JOBS=${JOBS:-2}

step() { printf '\n==== %s\n' "$*"; }

[ "$(id -u)" -eq 0 ] || {
	echo "run-tests: error: run me as root: packages, munged and the job user need it" >&2
	exit 1
}

step "installing packages (contrib/setup-debian.sh)"
./contrib/setup-debian.sh

step "autoreconf -fi"
autoreconf -fi
step "./configure --enable-werror"
./configure --enable-werror
step "make -j$JOBS"
make -j"$JOBS"

step "make -j$JOBS check"
if ! make -j"$JOBS" check VERBOSE=1; then
	echo
	echo "==== make check failed; test-suite.log:"
	cat test-suite.log 2>/dev/null || true
	exit 1
fi
grep -E '^# (TOTAL|PASS|SKIP|XFAIL|FAIL|XPASS|ERROR):' test-suite.log || true
if grep -Eq '^# SKIP: *[1-9]' test-suite.log; then
	echo "run-tests: error: some tests were skipped (see above); a skip is not a pass" >&2
	exit 1
fi

if [ "${MERIDIAN_SKIP_DISTCHECK:-0}" != 1 ]; then
	step "make distcheck"
	make -j"$JOBS" distcheck DISTCHECK_CONFIGURE_FLAGS=--enable-werror
fi
step "all tests passed"
