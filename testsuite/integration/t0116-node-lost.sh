#!/bin/bash
# A node that stays silent (issue 10, point 6): past NodeTimeout it is
# DOWN and its jobs go on; back before NodeLostTimeout, nothing is lost.
# Silent past NodeTimeout + NodeLostTimeout, each job with a rank on it
# ends NODE_FAIL with the node named, its batch script on the node still
# up is killed, and when the lost node is heard from again it is told to
# kill the rank it still runs.  A node is made silent with SIGSTOP on its
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

start_job() { # NAME: a job on both nodes with both ranks running
	local j
	j=$(submit -N 2 -t 5 -o "$1-%j.out" ranks.sh) || bail "submit ranks.sh"
	wait_job_state "$j" RUNNING 20 || bail "job $j not running"
	wait_for 20 "job $j's ranks" eval "[ -s rank-$j-0.pid ] && [ -s rank-$j-1.pid ]" ||
		bail "job $j: ranks did not start: $(cat "$1-$j.out")"
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

# ---- 2. silent past NodeTimeout + NodeLostTimeout: the batch host
b=$(start_job b)
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
finish
