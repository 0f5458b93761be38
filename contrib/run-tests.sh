#!/bin/bash
# run-tests.sh - on a fresh Debian 12 machine, as root: install the
# packages, build with warnings as errors, run the whole test suite
# (unit, integration and fuzz), the unit tests again under ASan and
# UBSan, then make distcheck.  Exits non-zero on the first failure.
# .ci/run calls this.
#
#   JOBS=N                 parallel make jobs (default 2)
#   MERIDIAN_SKIP_APT=1    do not install packages
#   MERIDIAN_SKIP_DISTCHECK=1  stop after make check and the sanitizers
#   MERIDIAN_FUZZ_SECONDS=N    how long make check runs each fuzz target (30)
#   MERIDIAN_DISTCHECK_FUZZ_SECONDS=N  the same in distcheck (5)
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
step "make format-check (clang-format, the repo's .clang-format)"
make format-check

step "make -j$JOBS check"
if ! make -j"$JOBS" check VERBOSE=1; then
	echo
	echo "==== make check failed; test-suite.log:"
	cat test-suite.log 2>/dev/null || true
	exit 1
fi
grep -E '^# (TOTAL|PASS|SKIP|XFAIL|FAIL|XPASS|ERROR):' test-suite.log || true

# A skip is not a pass (contrib/check-skips.sh says which are allowed).
./contrib/check-skips.sh .

step "unit tests under ASan and UBSan (contrib/check-sanitizers.sh)"
JOBS=$JOBS ./contrib/check-sanitizers.sh

if [ "${MERIDIAN_SKIP_DISTCHECK:-0}" != 1 ]; then
	step "make distcheck"
	# the DGX-2 reference tests find the shared fixtures beside the
	# source tree; distcheck's tree is elsewhere: tell them
	if [ -d ../shared/fixtures ]; then
		MERIDIAN_SHARED_FIXTURES=$(cd ../shared/fixtures && pwd)
		export MERIDIAN_SHARED_FIXTURES
	fi
	# the fuzz targets ran 30 s each in make check above; in distcheck
	# they show that they build and run from a tarball
	MERIDIAN_FUZZ_SECONDS=${MERIDIAN_DISTCHECK_FUZZ_SECONDS:-5} \
		make -j"$JOBS" distcheck DISTCHECK_CONFIGURE_FLAGS=--enable-werror
fi
step "all tests passed"
