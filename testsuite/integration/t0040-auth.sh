#!/bin/bash
# Auth: a user cannot cancel, hold, signal or read the script of another
# user's job; root (admin) can act on the user's job; a request whose
# credential the controller cannot decode (another munge key) is refused.
. "$(dirname "$0")/lib.sh"
mer_init
cluster_start 2
W=$MER_T/work
cd "$W" || bail "cd $W"

rj=$(submit_root -H -J rootjob -o "$MER_T/root-%j.out" --wrap='echo secret-root-script') ||
	bail "root submit"
uj=$(submit -J userjob -o user-%j.out --wrap='sleep 120') || bail "user submit"
wait_job_state "$uj" RUNNING 20 || bail "user job did not start"

denied='[Pp]ermission|[Dd]enied|[Nn]ot (allowed|permitted|the owner|your)|[Aa]ccess|only its owner or an admin'

out=$(as_user mcancel "$rj" 2>&1); rc=$?
note "user: mcancel root's job: exit $rc: $out"
check_eq "user cannot cancel root's job: exit 1" 1 "$rc"
check_match "... with a message saying why" "$denied" "$out"
check_match "... naming the job" "$rj" "$out"
check_match "... as 'mcancel: error:'" "^mcancel: error:" "$out"

out=$(as_user mcancel --signal=USR1 "$rj" 2>&1); rc=$?
check_eq "user cannot signal root's job: exit 1" 1 "$rc"

out=$(as_user mctl release "$rj" 2>&1); rc=$?
note "user: mctl release root's job: exit $rc: $out"
check_eq "user cannot release root's held job: exit 1" 1 "$rc"
check_match "... with a message saying why" "$denied" "$out"

out=$(as_user mctl hold "$rj" 2>&1); rc=$?
note "user: mctl hold root's job: exit $rc: $out"
check_eq "user cannot hold root's job: exit 1" 1 "$rc"
check_match "... with a message saying why" "$denied" "$out"

out=$(as_user mctl write batch_script "$rj" - 2>&1); rc=$?
note "user: mctl write batch_script root's job: exit $rc: $out"
check_eq "user cannot see root's script: exit 1" 1 "$rc"
check_nomatch "... and does not get it" "secret-root-script" "$out"
check_match "... with a message saying why" "$denied" "$out"

check_eq "root's job still PENDING" PENDING "$(job_state "$rj")"

# the owner and root can read the script
out=$(mctl write batch_script "$rj" - 2>&1)
check_match "root reads its own script (mctl write batch_script ID -)" "secret-root-script" "$out"
out=$(as_user mctl write batch_script "$uj" - 2>&1)
check_match "the user reads their own script" "sleep 120" "$out"
(cd "$W" && as_user mctl write batch_script "$uj") >/dev/null 2>&1
check "mctl write batch_script ID writes slurm-ID.sh-like file" \
	eval "ls '$W' | grep -Eq '^[a-z]+-$uj\.sh$'"

# user hold/release of their own pending job is allowed
up=$(submit -H --wrap=true) || bail "submit -H"
check "user releases their own held job" as_user mctl release "$up"
check "... which then completes" wait_job_state "$up" COMPLETED 20

# root acts on the user's job
check "root (admin) cancels the user's job" mcancel "$uj"
check "... which ends CANCELLED" wait_job_state "$uj" CANCELLED 20
check "root cancels its own held job" mcancel "$rj"
check "... CANCELLED" wait_job_state "$rj" CANCELLED 10

# mqueue -u of another user works (listing is public, as in Slurm)
check_match "user sees root's job in mqueue -t all" "(^|[[:space:]])$rj([[:space:]]|$)" \
	"$(as_user mqueue -t all -h 2>&1)"

# mcancel -u: only one's own jobs
a=$(submit -H --wrap=true) || bail "submit"
b=$(submit_root -H --wrap=true) || bail "submit"
out=$(as_user mcancel -u "$MERIDIAN_TEST_USER" 2>&1); rc=$?
check_eq "mcancel -u self: exit 0" 0 "$rc"
check "... cancels the user's pending job" wait_job_state "$a" CANCELLED 10
check_eq "... and not root's" PENDING "$(job_state "$b")"
out=$(as_user mcancel -u root 2>&1); rc=$?
note "user: mcancel -u root: exit $rc: $out"
check_eq "user's mcancel -u root does not cancel root's job" PENDING "$(job_state "$b")"
mcancel "$b" >/dev/null 2>&1

# ---- a credential from another munge key is refused
munged_start other
write_conf "$MER_T/other.conf" 2 "$MER_T/other.sock"
out=$(MERIDIAN_CONF=$MER_T/other.conf mqueue 2>&1); rc=$?
note "mqueue with a foreign munge key: exit $rc: $out"
check_eq "foreign credential: mqueue exits 1" 1 "$rc"
check_match "foreign credential: message says the credential was refused" \
	"[Cc]redential|[Aa]uth|munge|[Uu]nauthori|[Ii]nvalid" "$out"
out=$(as_user env MERIDIAN_CONF="$MER_T/other.conf" mbatch --wrap=true 2>&1); rc=$?
note "mbatch with a foreign munge key: exit $rc: $out"
check_eq "foreign credential: mbatch exits 1" 1 "$rc"
check_match "foreign credential: mctld logs the refusal" \
	"[Cc]redential|[Aa]uth|munge" "$(daemon_log mctld | tail -n 20)"
check "mctld still serves valid requests" mqueue
check "mctld still running" pid_alive "$MER_CTLD_PID"
finish
