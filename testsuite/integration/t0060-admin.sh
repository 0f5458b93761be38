#!/bin/bash
# Admin and queue views: hold/release, drain/resume (a drained node gets
# no new job; mnodes and mctl show the state and the reason), mctl show
# job of a finished job, mqueue -t/-u/-j/-h/-o, --help and exit codes.
. "$(dirname "$0")/lib.sh"
mer_init
cluster_start 2
W=$MER_T/work
cd "$W" || bail "cd $W"

# ---- every command has --help (exit 0) and refuses a bad option (exit 2)
for c in mbatch mqueue mcancel mnodes mctl; do
	check "$c --help exits 0" "$c" --help
	out=$("$c" --bogus-option 2>&1); rc=$?
	check_eq "$c --bogus-option exits 2" 2 "$rc"
	check_match "$c --bogus-option says '$c: ...'" "^$c: " "$out"
done
out=$(mctl ping 2>&1); rc=$?
note "mctl ping: $out"
check_eq "mctl ping exits 0" 0 "$rc"

# ---- a held job, and the queue views
h=$(submit -H -J heldjob --wrap=true) || bail "submit -H"
r=$(submit_root -H -J rootheld --wrap=true) || bail "submit_root -H"
check_eq "-H: PENDING" PENDING "$(job_state "$h")"
check_match "-H: the reason says held" "[Hh]eld" "$(job_field "$h" Reason)"
q=$(mqueue 2>&1)
note "mqueue:"; printf '%s\n' "$q" | sed 's/^/#   /'
hdr=$(printf '%s\n' "$q" | head -n 1)
check_match "mqueue has a header with JOBID" "JOBID" "$hdr"
check_match "mqueue lists the held job with PD" "(^|[[:space:]])$h[[:space:]].*PD" "$q"
check_match "mqueue shows why it waits" "$h.*[Hh]eld" "$q"
qh=$(mqueue -h 2>&1)
check_nomatch "mqueue -h: no header" "JOBID" "$qh"
check_eq "mqueue -o '%i %j %u %T' -j ID" "$h heldjob $MERIDIAN_TEST_USER PENDING" \
	"$(mqueue -h -o '%i %j %u %T' -j "$h" 2>&1 | sed 's/  */ /g;s/^ //;s/ $//')"
qu=$(mqueue -h -o '%i' -u "$MERIDIAN_TEST_USER" 2>&1)
check_match "mqueue -u user lists the user's job" "^ *$h *$" "$qu"
check_nomatch "mqueue -u user leaves out root's" "^ *$r *$" "$qu"
qj=$(mqueue -h -o '%i' -j "$h,$r" 2>&1 | tr -d ' ' | sort -n | tr '\n' ' ')
check_eq "mqueue -j ID1,ID2" "$(printf '%s\n' "$h" "$r" | sort -n | tr '\n' ' ')" "$qj"
check_match "mqueue -t PD lists pending jobs" "^ *$h *$" "$(mqueue -h -o '%i' -t PD 2>&1)"
check_eq "mqueue -t R lists no pending job" "" "$(mqueue -h -o '%i' -t R 2>&1 | grep -Ex " *($h|$r) *")"

check "the user releases the held job" as_user mctl release "$h"
check "... it runs and completes" wait_job_state "$h" COMPLETED 20
check "root releases root's held job" mctl release "$r"
check "... it completes" wait_job_state "$r" COMPLETED 20

# ---- a finished job
s=$(job_show "$h")
note "mctl show job $h:"; printf '%s\n' "$s" | sed 's/^/#   /'
check_match "finished job: JobState=COMPLETED" "JobState=COMPLETED([[:space:]]|$)" "$s"
check_match "finished job: ExitCode=0:0" "ExitCode=0:0([[:space:]]|$)" "$s"
check_match "finished job: JobId=$h" "JobId=$h([[:space:]]|$)" "$s"
check_match "finished job: JobName=heldjob" "JobName=heldjob([[:space:]]|$)" "$s"
check_match "finished job: NodeList" "NodeList=n[12]" "$s"
check_match "finished job: StartTime and EndTime" "StartTime=[0-9]{4}-.*EndTime=[0-9]{4}-" "$(printf '%s' "$s" | tr '\n' ' ')"
check_nomatch "mqueue (default) hides finished jobs" "^ *$h *$" "$(mqueue -h -o '%i' 2>&1)"
check_match "mqueue -t all shows finished jobs" "^ *$h *$" "$(mqueue -h -o '%i' -t all 2>&1)"
check_match "mqueue -t CD shows completed jobs" "^ *$h *$" "$(mqueue -h -o '%i' -t CD 2>&1)"
out=$(mctl show job 987654 2>&1); rc=$?
check_eq "mctl show job of an unknown id exits 1" 1 "$rc"
check_match "... and says the id is invalid or names it" "987654|[Ii]nvalid job id" "$out"

# ---- hold a job that waits for resources, release it later
a=$(submit -N 2 -c 2 --wrap='sleep 4') || bail "submit big job"
wait_job_state "$a" RUNNING 20 || bail "big job not running"
b=$(submit -N 1 --wrap=true) || bail "submit"
sleep 1
check_eq "a job waiting for busy nodes is PENDING" PENDING "$(job_state "$b")"
check_match "... with a reason (Resources/Priority)" "[Rr]esources|[Pp]riority" "$(job_field "$b" Reason)"
check "the user holds it" as_user mctl hold "$b"
check_match "held: reason says held" "[Hh]eld" "$(job_field "$b" Reason)"
wait_job_end "$a" 20
sleep 2
check_eq "held job stays PENDING when nodes free up" PENDING "$(job_state "$b")"
check "release" as_user mctl release "$b"
check "released job completes" wait_job_state "$b" COMPLETED 20

# ---- drain: no new job on the node; reason shown; resume
out=$(mctl update NodeName=n1 State=DRAIN 2>&1); rc=$?
note "drain without a reason: exit $rc: $out"
check "drain without Reason= is refused" test "$rc" -ne 0
check_match "... saying a reason is needed" "[Rr]eason" "$out"
out=$(as_user mctl update NodeName=n1 State=DRAIN Reason=x 2>&1); rc=$?
check_eq "a user cannot drain a node: exit 1" 1 "$rc"
check "root drains n1" mctl update NodeName=n1 State=DRAIN Reason="maint test"
st=$(node_field n1 State)
check_match "mctl show node: State has DRAIN" "DRAIN" "$st"
check_eq "mctl show node: Reason" "maint test" "$(node_field n1 Reason | sed 's/ *\[.*\]$//')"
mn=$(mnodes -N 2>&1)
note "mnodes -N:"; printf '%s\n' "$mn" | sed 's/^/#   /'
check_match "mnodes -N shows n1 drained" "n1.*([Dd][Rr][Aa][Ii][Nn])" "$mn"
check_match "mnodes -N or -R shows the reason" "maint test" "$mn
$(mnodes -R 2>&1)"
ids=()
for i in 1 2 3 4; do
	ids+=("$(submit --wrap='sleep 0.3')") || bail "submit"
done
for i in "${ids[@]}"; do
	wait_job_end "$i" 30
	check_eq "job $i ran on n2, not on drained n1" n2 "$(job_field "$i" NodeList)"
done
check "resume n1" mctl update NodeName=n1 State=RESUME
check "n1 IDLE again" wait_for 10 "n1 IDLE" eval '[ "$(node_field n1 State)" = IDLE ]'
j=$(submit -N 2 --wrap=true) || bail "submit"
check "a 2-node job runs after resume" wait_job_state "$j" COMPLETED 20

# drain a busy node: the job goes on, the node is DRAINING then DRAINED
k=$(submit -N 2 --wrap='sleep 3') || bail "submit"
wait_job_state "$k" RUNNING 20
check "drain n2 while busy" mctl update NodeName=n2 State=DRAIN Reason=busy-drain
check_match "busy drained node: DRAIN in State" "DRAIN" "$(node_field n2 State)"
check "the running job completes on a draining node" wait_job_state "$k" COMPLETED 20
check_match "then n2 is drained" "DRAIN" "$(node_field n2 State)"
check "resume n2" mctl update NodeName=n2 State=RESUME
check "mctld still running" pid_alive "$MER_CTLD_PID"
finish
