#!/bin/bash
# A full StateDir: a submit that cannot be recorded is refused with
# "StateDir is full" (not a generic I/O error), every job acknowledged
# before is still there (also after kill -9 of mctld), and submits work
# again once there is room.  StateDir is a 3 MiB tmpfs here.
. "$(dirname "$0")/lib.sh"
mer_init
need_cmd mount umount

full_cleanup() { umount -l "$MER_T/state" 2>/dev/null; }
trap '_full_rc=$?; full_cleanup; (exit $_full_rc); _mer_exit' EXIT
err=$(mount -t tmpfs -o size=3m,mode=0755 tmpfs "$MER_T/state" 2>&1) ||
	skip_all "cannot mount a tmpfs for StateDir here: $err"
cluster_start 1

# held jobs with 200 KiB scripts until the disk is full
{
	printf '#!/bin/sh\n# '
	head -c 200000 /dev/zero | tr '\0' x
	printf '\ntrue\n'
} >"$MER_T/work/big.sh"
chmod 0644 "$MER_T/work/big.sh"
acked=()
refused=""
for i in $(seq 60); do
	if out=$(cd "$MER_T/work" && as_user mbatch -H --parsable big.sh 2>&1); then
		acked+=("$(_mer_parse_id "$out")")
	else
		refused=$out
		break
	fi
done
note "${#acked[@]} jobs acknowledged, then: $refused"
check "the full StateDir refused a submit" test -n "$refused"
check_match "the user is told StateDir is full" \
	"mctld could not record the request: StateDir is full" "$refused"
check_nomatch "... not a generic I/O error" "Input/output error" "$refused"
check_match "mctld's log says so too" "StateDir=.* failed: StateDir is full" \
	"$(daemon_log mctld)"
check "mctld is alive" pid_alive "$MER_CTLD_PID"
check "mqueue still answers" mqueue -h
listed() { mqueue -h -t all -o '%i' | sort -n | tr '\n' ' '; }
want=$(printf '%s\n' "${acked[@]}" | sort -n | tr '\n' ' ')
check_eq "every acknowledged job is listed" "$want" "$(listed)"
# a small job may still fit where the big one did not
out=$(as_user mbatch -H --parsable --wrap=true 2>&1)
note "a small submit while full: $out"
if id=$(_mer_parse_id "$out" 2>/dev/null); then
	want=$(printf '%s\n' "${acked[@]}" "$id" | sort -n | tr '\n' ' ')
else
	check_match "... or it is refused the same way" "StateDir is full" "$out"
fi

ctld_restart
check_eq "after kill -9 and a restart, every acknowledged job is there" \
	"$want" "$(listed)"

mount -o remount,size=64m "$MER_T/state"
out=$(cd "$MER_T/work" && as_user mbatch -H --parsable big.sh 2>&1)
check "with room again, a submit is accepted" _mer_parse_id "$out"
id=$(_mer_parse_id "$out" 2>/dev/null)
check_match "... and its script kept whole" "^true$" \
	"$(mctl write batch_script "$id" - 2>&1 | tail -n 1)"
finish
