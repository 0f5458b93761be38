#!/bin/bash
# setup-debian.sh - prepare a fresh Debian 12 machine to build and test
# Meridian: install every build and test dependency from Debian's own
# archive and create the unprivileged user the tests submit jobs as.
#
# Run as root.  Idempotent: running it again installs nothing new and
# leaves an existing test user alone.
#
#   MERIDIAN_TEST_USER   the test user to create (default: mertest)
#   MERIDIAN_SKIP_APT=1  do not touch packages (offline machines that
#                        already have them)
set -euo pipefail

PACKAGES=(
	build-essential autoconf automake libtool pkg-config
	libevent-dev liblmdb-dev lmdb-utils libhwloc-dev hwloc
	# hwloc's plugins, among them its libxml2 XML reader: without it
	# hwloc reads only XML laid out as hwloc writes it (no comments),
	# so a TopologyFile= written elsewhere fails to load
	libhwloc-plugins
	munge libmunge-dev protobuf-c-compiler libprotobuf-c-dev
	libjansson-dev libcunit1-dev mpich libmpich-dev
	iproute2 procps psmisc valgrind
	python3 util-linux passwd
	# the libFuzzer targets (testsuite/fuzz) and the ASan/UBSan build
	# (contrib/check-sanitizers.sh): clang and its runtimes
	clang libclang-rt-14-dev
	# make format-check: the repo's .clang-format
	clang-format
)
TEST_USER=${MERIDIAN_TEST_USER:-mertest}

say() { printf 'setup-debian: %s\n' "$*"; }
die() { printf 'setup-debian: error: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "run me as root (apt-get and useradd need it)"

if [ -r /etc/os-release ]; then
	. /etc/os-release
	if [ "${ID:-}" != debian ] || [ "${VERSION_ID:-}" != 12 ]; then
		say "warning: made for Debian 12, this is ${PRETTY_NAME:-unknown}; going on"
	fi
fi

missing_pkgs() {
	local p
	for p in "${PACKAGES[@]}"; do
		dpkg-query -W -f='${db:Status-Status}\n' "$p" 2>/dev/null |
			grep -qx installed || printf '%s\n' "$p"
	done
}

if [ "${MERIDIAN_SKIP_APT:-0}" = 1 ]; then
	say "MERIDIAN_SKIP_APT=1: not installing packages"
else
	todo=$(missing_pkgs)
	if [ -z "$todo" ]; then
		say "all ${#PACKAGES[@]} packages already installed"
	else
		say "installing:" $todo
		export DEBIAN_FRONTEND=noninteractive
		apt-get update -q
		# Check that every name exists in this archive before installing,
		# so a renamed package is named instead of a vague apt error.
		for p in $todo; do
			cand=$(apt-cache policy "$p" | awk '/Candidate:/ {print $2}')
			[ -n "$cand" ] && [ "$cand" != "(none)" ] ||
				die "package $p is not available from the configured Debian archive"
		done
		# shellcheck disable=SC2086
		apt-get install -y -q --no-install-recommends $todo
		todo=$(missing_pkgs)
		[ -z "$todo" ] || die "still missing after apt-get install:" $todo
	fi
fi

# The munge package starts a system munged; Meridian's tests and the
# quickstart run their own on a private socket with their own key, so the
# system one is neither needed nor disturbed.

if id "$TEST_USER" >/dev/null 2>&1; then
	say "test user $TEST_USER exists (uid $(id -u "$TEST_USER"))"
else
	useradd -m -s /bin/bash "$TEST_USER"
	say "created test user $TEST_USER (uid $(id -u "$TEST_USER"))"
fi
say "done"
