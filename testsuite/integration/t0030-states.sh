#!/bin/bash
# End states as a user sees them: COMPLETED, FAILED with the exit code or
# the signal, CANCELLED with the whole process group gone, a script that
# ignores SIGTERM killed after KillWait, mcancel --signal reaching the
# script.
. "$(dirname "$0")/lib.sh"
mer_init
cluster_start 3
W=$MER_T/work
cd "$W" || bail "cd $W"

ok=$(submit -o ok-%j.out --wrap='exit 0') || bail "submit"
f3=$(submit -o f3-%j.out --wrap='echo before; exit 3') || bail "submit"
sig=$(submit -o sig-%j.out --wrap='kill -9 $$') || bail "submit"

wait_job_end "$ok"
check_eq "exit 0 -> COMPLETED" COMPLETED "$(job_state "$ok")"
check_eq "exit 0 -> ExitCode=0:0" 0:0 "$(job_field "$ok" ExitCode)"
wait_job_end "$f3"
check_eq "exit 3 -> FAILED" FAILED "$(job_state "$f3")"
check_eq "exit 3 -> ExitCode=3:0" 3:0 "$(job_field "$f3" ExitCode)"
check_eq "exit 3: output written before the exit" before "$(cat "f3-$f3.out" 2>/dev/null)"
wait_job_end "$sig"
check_eq "killed by SIGKILL -> FAILED" FAILED "$(job_state "$sig")"
check_eq "killed by SIGKILL -> ExitCode=0:9" 0:9 "$(job_field "$sig" ExitCode)"

# ---- cancel: SIGTERM to the whole process group
work_script group.sh <<'EOS'
#!/bin/bash
sleep 300 &
echo "$$ $!" > group-$SLURM_JOB_ID.pids
wait
EOS
c=$(submit -o group-%j.out group.sh) || bail "submit group.sh"
wait_for 20 "job $c wrote its pids" test -s "group-$c.pids" || bail "group.sh did not start"
read -r spid cpid <"group-$c.pids"
pgid=$(ps -o pgid= -p "$spid" | tr -d ' ')
note "job $c: script pid $spid, child sleep $cpid, pgid $pgid"
check_eq "job $c RUNNING" RUNNING "$(job_state "$c")"
check "the background child is in the script's process group" \
	test "$(ps -o pgid= -p "$cpid" | tr -d ' ')" = "$pgid"
check "mcancel as the owner" as_user mcancel "$c"
wait_job_end "$c" 20
check_eq "mcancel -> CANCELLED" CANCELLED "$(job_state "$c")"
check_match "its output has Slurm's cancel line" \
	"^slurmstepd: error: \*\*\* JOB $c ON n[0-9] CANCELLED AT [0-9T:-]+ \*\*\*$" \
	"$(grep CANCELLED "group-$c.out" 2>/dev/null)"
group_gone() { [ -z "$(ps -o pid= -g "$1")" ]; }
check "cancel: the script is gone" wait_for 10 "pid $spid gone" eval "! pid_alive $spid"
check "cancel: its background child is gone" wait_for 10 "pid $cpid gone" eval "! pid_alive $cpid"
check "cancel: process group $pgid is empty" wait_for 10 "group $pgid empty" group_gone "$pgid"

# ---- a process that left the job's process group (setsid) is killed too
work_script escape.sh <<'EOS'
#!/bin/bash
(exec setsid sleep 300) &
echo $! > escape-$SLURM_JOB_ID.pid
sleep 300
EOS
x=$(submit -o escape-%j.out escape.sh) || bail "submit escape.sh"
wait_for 20 "job $x wrote its pid" test -s "escape-$x.pid" || bail "escape.sh did not start"
xpid=$(cat "escape-$x.pid")
sleep 0.3
check "the escaped process has its own session" \
	test "$(ps -o sid= -p "$xpid" | tr -d ' ')" = "$xpid"
mcancel "$x"
check "cancel: the escaped (setsid) process is killed too" \
	wait_for 10 "pid $xpid gone" eval "! pid_alive $xpid"
wait_job_end "$x" 20

# ---- a job's leftover background process is killed when the script ends
b=$(submit -o bg-%j.out --wrap='sleep 300 & echo $! > bg-$SLURM_JOB_ID.pid; exit 0') || bail "submit"
wait_job_end "$b" 20
check_eq "a script that exits 0 leaving a background child: COMPLETED" COMPLETED "$(job_state "$b")"
bpid=$(cat "bg-$b.pid" 2>/dev/null)
check "its leftover background process is killed at the end" \
	wait_for 10 "pid $bpid gone" eval "! pid_alive $bpid"

# ---- a script that ignores SIGTERM is SIGKILLed after KillWait (2 s)
work_script stubborn.sh <<'EOS'
#!/bin/bash
trap 'echo TERM >> stubborn-$SLURM_JOB_ID.log' TERM
echo $$ > stubborn-$SLURM_JOB_ID.pid
while :; do sleep 0.2; done
EOS
s=$(submit -o stubborn-%j.out stubborn.sh) || bail "submit stubborn.sh"
wait_for 20 "job $s started" test -s "stubborn-$s.pid" || bail "stubborn.sh did not start"
spid=$(cat "stubborn-$s.pid")
mcancel "$s"
t0=$(date +%s%N)
wait_for 10 "stubborn got TERM" test -s "stubborn-$s.log"
sleep 0.5
check "the TERM-ignoring script is still alive right after SIGTERM" pid_alive "$spid"
if wait_for 15 "pid $spid killed" eval "! pid_alive $spid"; then
	t1=$(date +%s%N)
	note "killed $(( (t1 - t0) / 1000000 )) ms after mcancel (KillWait=2)"
	pass "the TERM-ignoring script is SIGKILLed after KillWait"
	check "it was not killed before about KillWait (>= 1.5 s)" test $(( (t1 - t0) / 1000000 )) -ge 1500
else
	fail "the TERM-ignoring script is SIGKILLed after KillWait"
	kill -9 "$spid" 2>/dev/null
fi
check_match "the script saw SIGTERM" "TERM" "$(cat "stubborn-$s.log" 2>/dev/null)"
wait_job_end "$s" 20
check_eq "stubborn job CANCELLED" CANCELLED "$(job_state "$s")"

# ---- mcancel --signal=USR1 reaches the script and does not end the job
work_script usr1.sh <<'EOS'
#!/bin/bash
trap 'echo got USR1 >> usr1-$SLURM_JOB_ID.log' USR1
trap 'echo got USR2 >> usr1-$SLURM_JOB_ID.log' USR2
touch usr1-$SLURM_JOB_ID.started
while :; do sleep 0.2; done
EOS
u=$(submit -o usr1-%j.out usr1.sh) || bail "submit usr1.sh"
wait_for 20 "job $u started" test -e "usr1-$u.started" || bail "usr1.sh did not start"
check "mcancel --signal=USR1 as the owner" as_user mcancel --signal=USR1 "$u"
check "the script's trap saw USR1" wait_for 10 "usr1 log" grep -q "got USR1" "usr1-$u.log"
check "mcancel -s USR2" as_user mcancel -s USR2 "$u"
check "the script's trap saw USR2" wait_for 10 "usr2 log" grep -q "got USR2" "usr1-$u.log"
sleep 1
check_eq "a signalled job keeps RUNNING" RUNNING "$(job_state "$u")"
check "mcancel it" mcancel "$u"
wait_job_end "$u" 20
check_eq "then CANCELLED" CANCELLED "$(job_state "$u")"

# ---- cancel a pending job, cancel an ended job
p=$(submit -H --wrap=true) || bail "submit -H"
check_eq "held job PENDING" PENDING "$(job_state "$p")"
check "mcancel a pending job" as_user mcancel "$p"
check "pending job -> CANCELLED" wait_job_state "$p" CANCELLED 10
err=$(as_user mcancel "$ok" 2>&1)
rc=$?
note "mcancel of a completed job: exit $rc: $err"
check_eq "mcancel of a completed job keeps COMPLETED" COMPLETED "$(job_state "$ok")"
err=$(as_user mcancel 999999 2>&1)
rc=$?
check_eq "mcancel of an unknown job: exit 1" 1 "$rc"
check_match "mcancel of an unknown job: says so" "999999" "$err"

sleep 1
left=$(job_procs_left_ps)
check_eq "no job process left under the test dir" "" "$left"
check "mctld still running" pid_alive "$MER_CTLD_PID"
finish
