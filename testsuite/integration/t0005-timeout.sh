#!/bin/bash
# A time limit is enforced: a job with --time=1 that runs longer ends
# TIMEOUT about one minute after it started (SIGTERM, KillWait, SIGKILL),
# with its whole process group gone, and its output says so in Slurm's
# words.  The slowest test (~70 s): make check
# starts it first.
. "$(dirname "$0")/lib.sh"
mer_init
cluster_start 1
W=$MER_T/work
cd "$W" || bail "cd $W"

work_script long.sh <<'EOS'
#!/bin/bash
#SBATCH --time=1
#SBATCH -o long-%j.out
trap 'echo "TERM at $(date +%s)"' TERM
echo "start at $(date +%s)"
sleep 600 &
echo "$$ $!" > long-$SLURM_JOB_ID.pids
while :; do sleep 1; done
EOS
j=$(submit long.sh) || bail "submit long.sh"
wait_job_state "$j" RUNNING 20 || bail "job $j did not start"
t0=$(date +%s)
check_match "TimeLimit shows one minute" "^0*0:01:00$" "$(job_field "$j" TimeLimit)"
wait_for 10 "pids file" test -s "long-$j.pids"
read -r spid cpid <"long-$j.pids"
wait_job_end "$j" 100
t1=$(date +%s)
note "job ended after $((t1 - t0)) s"
check_eq "--time=1 -> TIMEOUT" TIMEOUT "$(job_state "$j")"
check "not before the minute (>= 55 s)" test $((t1 - t0)) -ge 55
check "not long after the minute + KillWait (<= 85 s)" test $((t1 - t0)) -le 85
check_match "the script got SIGTERM first" "^TERM at" "$(grep TERM "long-$j.out" 2>/dev/null)"
check_match "its output says so as Slurm writes it" \
	"^slurmstepd: error: \*\*\* JOB $j ON n1 CANCELLED AT [0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8} DUE TO TIME LIMIT \*\*\*$" \
	"$(grep CANCELLED "long-$j.out" 2>/dev/null)"
check "the script is gone" wait_for 10 "pid $spid gone" eval "! pid_alive $spid"
check "its background sleep is gone" wait_for 10 "pid $cpid gone" eval "! pid_alive $cpid"
check_eq "no job process left" "" "$(job_procs_left_ps)"
check "the node is idle again" wait_for 10 "n1 IDLE" eval '[ "$(node_field n1 State)" = IDLE ]'
finish
