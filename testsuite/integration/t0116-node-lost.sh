#!/bin/bash
# A node that stays silent (issue 10, point 6): past NodeTimeout it is
# DOWN and its jobs go on; back before NodeLostTimeout, nothing is lost.
# Silent past NodeTimeout + NodeLostTimeout, a --no-requeue job with a
# rank on it ends NODE_FAIL with the node named, its ranks on the nodes
# still up are killed, and when the lost node is heard from again it is
# told to kill what it still runs of it.  A job that may be requeued
# (JobRequeue=1, the default) runs again from its start on a node still
# up instead, and its first run is killed when the lost node is back;
# mctl requeue runs a running or finished job again.  A node is made silent with SIGSTOP on its
# mnoded (the connection stays open, nothing comes through it), as a
# network partition or a hung machine would.  The batch script runs its
# step in the background and sleeps on, so that only a kill ends it.
. "$(dirname "$0")/lib.sh"
need_mrun
mer_init
MER_EXTRA_CONF="NodeLostTimeout=6"
cluster_start 2
W=$MER_T/work
cd "$W" || bail "cd $W"

# each rank writes its pid, then sleeps
work_script ranks.sh <<'EOS'
#!/bin/bash
echo $$ > script-$SLURM_JOB_ID.pid
mrun -N2 -n2 sh -c 'echo $$ $SLURMD_NODENAME > rank-$SLURM_JOB_ID-$SLURM_PROCID.pid; exec sleep 300' &
# the script outlives its step: only a kill ends it
sleep 300
wait
EOS

start_job() { # NAME [OPTIONS]: a job on both nodes with both ranks running
	local j name=$1
	shift
	j=$(submit -N 2 -t 5 "$@" -o "$name-%j.out" ranks.sh) || bail "submit ranks.sh"
	wait_job_state "$j" RUNNING 20 || bail "job $j not running"
	wait_for 20 "job $j's ranks" eval "[ -s rank-$j-0.pid ] && [ -s rank-$j-1.pid ]" ||
		bail "job $j: ranks did not start: $(cat "$name-$j.out")"
	echo "$j"
}

# ---- 1. silent past NodeTimeout, back before NodeLostTimeout
a=$(start_job a)
kill -STOP "${MER_NODE_PID[n2]}"
check "n2 goes DOWN after NodeTimeout" wait_for 15 "n2 DOWN" eval '[[ "$(node_field n2 State)" == *DOWN* ]]'
kill -CONT "${MER_NODE_PID[n2]}"
check "n2 is back" wait_for 10 "n2 up" node_is_up n2
sleep 7 # past the NodeLostTimeout it would have reached
check_eq "job $a RUNNING still: the node came back in time" RUNNING "$(job_state "$a")"
check "its ranks still run" eval "pid_alive $(cut -d' ' -f1 "rank-$a-0.pid") && pid_alive $(cut -d' ' -f1 "rank-$a-1.pid")"
mcancel "$a" || bail "mcancel $a"
wait_job_end "$a" 20

# ---- 2. silent past NodeTimeout + NodeLostTimeout: the batch host of a
# job that may not be requeued
b=$(start_job b --no-requeue)
bh=$(job_field "$b" BatchHost)
case $bh in n1) up=n2 ;; n2) up=n1 ;; *) bail "job $b: batch host '$bh'" ;; esac
spid=$(cat "script-$b.pid")
rup=$(cat "rank-$b-0.pid" "rank-$b-1.pid" | awk -v n="$up" '$2 == n { print $1 }')
[ -n "$rup" ] || bail "job $b: no rank on $up: $(cat "rank-$b-0.pid" "rank-$b-1.pid")"
note "job $b: batch host $bh (script $spid), rank $rup on $up; $bh goes silent"
kill -STOP "${MER_NODE_PID[$bh]}"
t0=$(date +%s)
wait_job_end "$b" 30
t1=$(date +%s)
note "job $b ended $((t1 - t0)) s after $bh went silent (NodeTimeout=4, NodeLostTimeout=6)"
check_eq "job $b NODE_FAIL" NODE_FAIL "$(job_state "$b")"
check_match "its reason names the node and the timeout" \
	"$bh not responding for [0-9]+s \(NodeLostTimeout=6\)" "$(job_field "$b" Reason)"
check "not before NodeTimeout + NodeLostTimeout" test $((t1 - t0)) -ge 9
check "its rank on $up is killed" wait_for 10 "the rank on $up gone" eval "! pid_alive $rup"
check "its batch script on silent $bh still runs (nobody could tell it)" pid_alive "$spid"
check_match "mqueue -t NF lists it, with its reason" "^ *$b +NODE_FAIL +NodeFail: $bh not responding" \
	"$(mqueue -h -t NF -o '%i %T %r' 2>&1)"
# the node still up is free again: a new job runs there meanwhile
c=$(submit -N 1 -o c-%j.out --wrap='echo ran on $SLURMD_NODENAME') || bail "submit c"
wait_job_end "$c" 20
check_eq "a new job runs meanwhile" COMPLETED "$(job_state "$c")"
check_eq "on $up" "ran on $up" "$(cat "c-$c.out" 2>/dev/null)"
kill -CONT "${MER_NODE_PID[$bh]}"
check "$bh is heard from again" wait_for 15 "$bh up" node_is_up "$bh"
check "$bh is told to kill the script it still ran" wait_for 15 "script $spid gone" eval "! pid_alive $spid"
check_eq "job $b stays NODE_FAIL" NODE_FAIL "$(job_state "$b")"
check_match "mctld logged why" "node $bh: job $b ended while it was not responding: told to kill it" \
	"$(daemon_log mctld)"

# ---- 3. the same for a job that may be requeued (JobRequeue=1, the
# default): it runs again, on the node still up, from its start
work_script again.sh <<'EOS'
#!/bin/bash
echo "$$ $SLURMD_NODENAME" > run-$SLURM_JOB_ID-${SLURM_RESTART_COUNT:-0}
while [ ! -e "gate-$SLURM_JOB_ID" ]; do sleep 0.2; done
EOS
r=$(submit -N 1 -o r-%j.out again.sh) || bail "submit again.sh"
wait_for 20 "job $r's first run" test -s "run-$r-0" || bail "job $r did not start"
read -r p0 n0 <"run-$r-0"
case $n0 in n1) other=n2 ;; n2) other=n1 ;; *) bail "job $r ran on '$n0'" ;; esac
kill -STOP "${MER_NODE_PID[$n0]}"
check "$n0 silent: job $r runs again, on $other" wait_for 30 "job $r's second run" \
	test -s "run-$r-1"
read -r p1 n1_ <"run-$r-1" 2>/dev/null
check_eq "the second run is on $other, with SLURM_RESTART_COUNT=1" "$other" "$n1_"
check_eq "RUNNING, Restarts=1" "RUNNING 1" "$(job_state "$r") $(job_field "$r" Restarts)"
check_match "mctld logged it" "job $r requeued \(run 2 next\): NodeFail: $n0 not responding" \
	"$(daemon_log mctld)"
check "the first run still runs on silent $n0" pid_alive "$p0"
kill -CONT "${MER_NODE_PID[$n0]}"
check "$n0 back: the first run is killed there" wait_for 15 "run 0 ($p0) gone" eval "! pid_alive $p0"
check "the second run goes on" pid_alive "$p1"
touch "$W/gate-$r"
wait_job_end "$r" 20
check_eq "and completes" COMPLETED "$(job_state "$r")"

# ---- 4. mctl requeue: a running job is ended and run again; a finished
# one runs again; --no-requeue refuses
q=$(submit -N 1 -o q-%j.out again.sh) || bail "submit q"
wait_for 20 "job $q's first run" test -s "run-$q-0" || bail "job $q did not start"
read -r q0 _ <"run-$q-0"
check "mctl requeue of a running job" mctl requeue "$q"
check "its first run is ended" wait_for 15 "run 0 ($q0) gone" eval "! pid_alive $q0"
check "and it runs again" wait_for 20 "job $q's second run" test -s "run-$q-1"
touch "$W/gate-$q"
wait_job_end "$q" 20
check_eq "Restarts=1, COMPLETED" "1 COMPLETED" "$(job_field "$q" Restarts) $(job_state "$q")"
rm -f "$W/gate-$q"
check "mctl requeue of a finished job" as_user mctl requeue "$q"
check "runs it a third time" wait_for 20 "job $q's third run" test -s "run-$q-2"
touch "$W/gate-$q"
wait_job_end "$q" 20
nr=$(submit -N 1 --no-requeue -o nr-%j.out --wrap=true) || bail "submit nr"
wait_job_end "$nr" 20
out=$(mctl requeue "$nr" 2>&1)
check_match "a --no-requeue job is never requeued" "submitted --no-requeue" "$out"
finish
