#!/bin/bash
# check-skips.sh [DIR] - after a `make check` in DIR (default .): fail
# unless every test that skipped did so only because it needs a GPU.
# contrib/run-tests.sh and contrib/check-sanitizers.sh call it.
set -euo pipefail
cd "${1:-.}"

# A skip is not a pass: the run fails when any test skipped, with one
# exception.  Project rule: "A test that needs a GPU skips with a line
# saying so", and on a machine without one that skip is allowed.  A
# test's reasons are the "SKIP: ..." lines of its log (cunit_skip() and
# lib.sh's skip_all print them; testsuite/skip-driver showed them under
# make check's "SKIP:" lines); the skip is allowed only when each of
# them says it needs a GPU ("needs a GPU", "needs an NVIDIA GPU",
# "needs 2 GPUs").  A skip that gives no reason is not allowed.
gpu_reason='needs (a|an|[0-9]+) ([[:alnum:]-]+ )?GPUs?([^[:alnum:]]|$)'
skips=0 not_allowed=0
while IFS= read -r trs; do
	grep -q '^:test-result: SKIP' "$trs" || continue
	t=${trs#./}
	t=${t%.trs}
	reasons=$(sed -n 's/^SKIP: //p' "$t.log" 2>/dev/null || true)
	[ "$skips" -gt 0 ] || echo "check-skips: skipped tests and why:"
	skips=$((skips + 1))
	if [ -z "$reasons" ]; then
		echo "  $t: (no reason given: a test that skips prints \"SKIP: why\")"
		not_allowed=$((not_allowed + 1))
		continue
	fi
	printf '%s\n' "$reasons" | sed "s|^|  $t: |"
	if printf '%s\n' "$reasons" | grep -Eviq "$gpu_reason"; then
		not_allowed=$((not_allowed + 1))
	fi
done < <(find . -name '*.trs' -not -path './meridian-*' -not -path './_build/*' | sort)
if [ "$not_allowed" -gt 0 ]; then
	echo "check-skips: error: $not_allowed of $skips skipped tests (above) skipped for another reason than needing a GPU; a skip is not a pass" >&2
	exit 1
elif [ "$skips" -gt 0 ]; then
	echo "check-skips: $skips tests skipped only because they need a GPU, which this machine lacks: allowed"
fi

