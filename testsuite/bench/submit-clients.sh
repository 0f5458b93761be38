#!/bin/bash
# submit-clients.sh CLIENTS TOTAL [MBATCH-ARGS...]
# Run CLIENTS submit loops at once, TOTAL `mbatch --parsable MBATCH-ARGS`
# processes in all (split as evenly as can be), each loop running its
# share one after another (each waits for its acknowledgement, which
# mctld sends only after the commit).
# Prints one line: "submitted=N errors=E elapsed_ms=T ids=FILE".
# mbatch must be on PATH and MERIDIAN_CONF set.
set -u
clients=$1 total=$2
shift 2
ARGS=("$@")
out=$(mktemp -d /tmp/meridian-bench-clients.XXXXXX)
one_client() { # N
	local i err=0 per=$((total / clients + ($1 < total % clients ? 1 : 0)))
	# one fork+exec per submit and no command substitution: the loop
	# itself should cost as little as it can next to mbatch
	exec 3>>"$out/ids.$1" 4>>"$out/err.$1"
	for ((i = 0; i < per; i++)); do
		mbatch --parsable "${ARGS[@]}" >&3 2>&4 || err=$((err + 1))
	done
	exec 3>&- 4>&-
	echo "$err" >"$out/nerr.$1"
}
t0=$(date +%s%N)
pids=()
for ((c = 0; c < clients; c++)); do
	one_client "$c" &
	pids+=($!)
done
wait "${pids[@]}"
t1=$(date +%s%N)
cat "$out"/ids.* 2>/dev/null | cut -d';' -f1 >"$out/ids"
n=$(grep -c . "$out/ids")
e=$(cat "$out"/nerr.* | awk '{s += $1} END {print s + 0}')
if [ "$e" -gt 0 ]; then
	echo "first errors:" >&2
	cat "$out"/err.* | sort | uniq -c | sort -rn | head -n 5 >&2
fi
echo "submitted=$n errors=$e elapsed_ms=$(((t1 - t0) / 1000000)) ids=$out/ids"
