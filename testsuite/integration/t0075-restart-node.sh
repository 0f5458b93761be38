#!/bin/bash
# kill -9 of an mnoded while its job runs: the job goes on (mstepd does
# not depend on mnoded), the node goes DOWN without killing it, and when
# mnoded comes back the job is reconciled: a job that ended meanwhile is
# recorded, a running one is recorded when it ends.  And the spare
# directories a job leaves for the next one, across a restart.
. "$(dirname "$0")/lib.sh"
mer_init
cluster_start 1
W=$MER_T/work
cd "$W" || bail "cd $W"

work_script ticker.sh <<'EOS'
#!/bin/bash
n=${1:-8}
for i in $(seq "$n"); do echo "tick $i"; sleep 1; done
echo done
EOS

# 1. the job outlives mnoded and ends after it is back
a=$(submit -o a-%j.out ticker.sh 12) || bail "submit"
wait_job_state "$a" RUNNING 20 || bail "job $a not running"
wait_for 10 "first tick" grep -q tick "a-$a.out"
node_kill9 n1
note "mnoded n1 killed -9"
sleep 1
t1=$(grep -c tick "a-$a.out")
check "n1 goes DOWN (Not responding)" wait_for 15 "n1 DOWN" eval '[[ "$(node_field n1 State)" == *DOWN* ]]'
t2=$(grep -c tick "a-$a.out")
check "the job keeps running without mnoded (output grows: $t1 -> $t2)" test "$t2" -gt "$t1"
check_eq "mctld keeps it RUNNING while its node is DOWN" RUNNING "$(job_state "$a")"
node_start n1
check "n1 back up" wait_for 15 "n1 up" node_is_up n1
check_eq "still RUNNING after mnoded is back" RUNNING "$(job_state "$a")"
wait_job_end "$a" 30
check_eq "its end is recorded: COMPLETED" COMPLETED "$(job_state "$a")"
check_eq "ExitCode=0:0" 0:0 "$(job_field "$a" ExitCode)"
check_eq "its output is whole" done "$(tail -n 1 "a-$a.out" 2>/dev/null)"
check_eq "it ran once (12 ticks)" 12 "$(grep -c tick "a-$a.out")"

# 2. the job ends while mnoded is down: recorded when mnoded registers
b=$(submit -o b-%j.out ticker.sh 3) || bail "submit"
wait_job_state "$b" RUNNING 20 || bail "job $b not running"
node_kill9 n1
wait_for 15 "job $b output done" eval "[ \"\$(tail -n 1 b-$b.out 2>/dev/null)\" = done ]"
sleep 1
check_eq "ended while mnoded was down: still RUNNING at mctld" RUNNING "$(job_state "$b")"
node_start n1
check "when mnoded registers, the end is recorded: COMPLETED" wait_job_state "$b" COMPLETED 20
check_eq "ExitCode=0:0" 0:0 "$(job_field "$b" ExitCode)"
check "n1 up" wait_for 15 "n1 up" node_is_up n1
check "spool cleaned after the end was acknowledged" \
	wait_for 10 "no job.$b in spool" eval "[ ! -e '$MER_T/spool/n1/job.$b' ]"

# 3. a failed exit code survives the same path
c=$(submit -o c-%j.out --wrap='sleep 2; exit 7') || bail "submit"
wait_job_state "$c" RUNNING 20 || bail "job $c not running"
node_kill9 n1
sleep 4
node_start n1
check "exit 7 while mnoded was down: FAILED" wait_job_state "$c" FAILED 20
check_eq "ExitCode=7:0" 7:0 "$(job_field "$c" ExitCode)"

# 4. both daemons down while a job ends
d=$(submit -o d-%j.out ticker.sh 3) || bail "submit"
wait_job_state "$d" RUNNING 20 || bail "job $d not running"
node_kill9 n1
ctld_kill9
sleep 5
ctld_start
wait_ctld 20
node_start n1
check "mctld and mnoded both killed: the end is still recorded" wait_job_state "$d" COMPLETED 20

# 5. cancelled while its node's mnoded is down: killed when mnoded returns
e=$(submit -o e-%j.out --wrap='echo $$ > e.pid; sleep 300') || bail "submit"
wait_job_state "$e" RUNNING 20 || bail "job $e not running"
wait_for 10 "e.pid" test -s e.pid
epid=$(cat e.pid)
node_kill9 n1
out=$(as_user mcancel "$e" 2>&1); rc=$?
note "mcancel while mnoded is down: exit $rc: $out"
check_eq "mcancel while the node's mnoded is down is accepted" 0 "$rc"
sleep 1
check "the job's process still runs (nobody to kill it yet)" pid_alive "$epid"
node_start n1
check "when mnoded returns the job is killed" wait_for 20 "pid $epid gone" eval "! pid_alive $epid"
check "and ends CANCELLED" wait_job_state "$e" CANCELLED 20

# 6. the node comes back without the job (rebooted: processes and spool
#    gone): a --no-requeue job ends NODE_FAIL (t0116: one that may be is
#    requeued)
g=$(submit --no-requeue -o g-%j.out --wrap='sleep 300') || bail "submit"
wait_job_state "$g" RUNNING 20 || bail "job $g not running"
sleep 0.5
node_kill9 n1
for p in $(job_procs_left); do kill -9 "$p" 2>/dev/null; done
sleep 0.5
rm -rf "$MER_T/spool/n1/job.$g"
node_start n1
check "a job its node lost ends NODE_FAIL when the node returns" wait_job_state "$g" NODE_FAIL 20
check_match "... with a reason saying so" "[Ll]ost|[Nn]ode" "$(job_field "$g" Reason)"

check_eq "no job process left" "" "$(job_procs_left_ps)"
j=$(submit --wrap=true) || bail "submit"
check "the node takes new jobs" wait_job_state "$j" COMPLETED 20

# 7. an ended job's directory is kept, emptied, for the next job, which
#    takes it (no inodes made and freed per job but its script and
#    TMPDIR); a restarted mnoded keeps it too
SP=$MER_T/spool/n1
spares() { (cd "$SP" && ls -d spare.* 2>/dev/null); }
check "job $j's directory became a spare" \
	wait_for 10 "a spare in $SP" eval '[ -n "$(spares)" ] && [ ! -e "$SP/job.$j" ]'
s1=$(spares | sort -t. -k2 -n | tail -n 1) # the last kept, the next taken
check_eq "the spare holds launch, end and pgid, empty, and no script" \
	"end:0 launch:0 pgid:0" "$(cd "$SP/$s1" && stat -c '%n:%s' * | sort | tr '\n' ' ' | sed 's/ $//')"
ino=$(stat -c %i "$SP/$s1")
k=$(submit -o k-%j.out --wrap='sleep 2; echo ran') || bail "submit"
wait_job_state "$k" RUNNING 20 || bail "job $k not running"
check_eq "the next job runs in that directory" "$ino" "$(stat -c %i "$SP/job.$k" 2>/dev/null)"
check "... not left as a spare meanwhile" test ! -e "$SP/$s1"
wait_job_end "$k" 30
check_eq "it ran whole" "COMPLETED ran" "$(job_state "$k") $(cat "k-$k.out")"
wait_for 10 "job.$k a spare" eval '[ ! -e "$SP/job.$k" ]'
node_kill9 n1
s2=$SP/$(spares | head -n 1)
echo stale > "$s2/end"
mkdir "$SP/spare.999" && echo x > "$SP/spare.999/junk"
node_start n1
# (mctld may not have seen n1 go: wait for what the new mnoded does)
check "a restarted mnoded keeps the spare, emptied, and removes one holding anything else" \
	wait_for 15 "$s2/end emptied, spare.999 gone" eval '[ ! -s "$s2/end" ] && [ -d "$s2" ] && [ ! -e "$SP/spare.999" ]'
check "n1 up" wait_for 15 "n1 up" node_is_up n1
m=$(submit -o m-%j.out --wrap='echo ran') || bail "submit"
check "and the next job runs" wait_job_state "$m" COMPLETED 20
check_eq "... whole" "ran" "$(cat "m-$m.out")"
check "mctld still running" pid_alive "$MER_CTLD_PID"
finish
