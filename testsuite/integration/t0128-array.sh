#!/bin/bash
# Job arrays as a Slurm user writes them (issue 10, point 4): --array's
# forms, SLURM_ARRAY_* in each task, %A and %a in output names, the %N
# throttle (JobArrayTaskLimit), one record for a large pending array
# folded in mqueue as squeue shows it, mcancel of one task, a range, or
# the whole array, a restart of mctld with an array pending, and the
# errors mbatch and mctld give.
. "$(dirname "$0")/lib.sh"
mer_init
cluster_start 2
W=$MER_T/work
cd "$W" || bail "cd $W"

work_script env.sh <<'EOS'
#!/bin/bash
echo "$SLURM_ARRAY_JOB_ID $SLURM_ARRAY_TASK_ID $SLURM_ARRAY_TASK_COUNT $SLURM_ARRAY_TASK_MIN $SLURM_ARRAY_TASK_MAX $SLURM_ARRAY_TASK_STEP $SLURM_JOB_ID"
EOS
env_script=env.sh

# the job ids of array $1's tasks (mqueue asked by the array's id)
tasks_of() { mqueue -h -t all -j "$1" -o '%A %K %T' 2>/dev/null; }
all_ended() { ! tasks_of "$1" | grep -Eq 'PENDING|RUNNING'; }

# ---- --array=0-9: held, one record folded; released, ten tasks
a=$(submit -H --array=0-9 "$env_script") || bail "submit a"
check_eq "a held array is one line in mqueue, folded" "${a}_[0-9] PENDING" \
	"$(mqueue -h -o '%i %T' 2>&1)"
check_eq "mctl shows its pending tasks" "0-9" "$(job_field "$a" ArrayTaskId)"
check_eq "and its array job id" "$a" "$(job_field "$a" ArrayJobId)"
mctl release "$a" >/dev/null 2>&1 || bail "release $a"
check "all ten tasks end" wait_for 60 "array $a" all_ended "$a"
check_eq "ten records, each COMPLETED" 10 "$(tasks_of "$a" | grep -c COMPLETED)"
ok=0
for t in $(seq 0 9); do
	f=meridian-${a}_$t.out
	id=$(tasks_of "$a" | awk -v t="$t" '$2 == t { print $1 }')
	[ "$(cat "$f" 2>/dev/null)" = "$a $t 10 0 9 1 $id" ] && ok=$((ok + 1)) ||
		note "$f: $(cat "$f" 2>&1) (task $t is job $id)"
done
check_eq "each task's default output meridian-%A_%a.out has its SLURM_ARRAY_*" 10 "$ok"
check_eq "the last task to start kept the array's id" 9 \
	"$(tasks_of "$a" | awk -v a="$a" '$1 == a { print $2 }')"

# ---- a step: 0-20:4, with %A and %a in -o
s=$(submit --array=0-20:4 -o 'step-%A-%a.txt' "$env_script") || bail "submit s"
check "the stepped array ends" wait_for 60 "array $s" all_ended "$s"
check_eq "six tasks ran, one file each" \
	"step-$s-0.txt step-$s-12.txt step-$s-16.txt step-$s-20.txt step-$s-4.txt step-$s-8.txt" \
	"$(ls step-"$s"-*.txt | sort | tr '\n' ' ' | sed 's/ $//')"
check_match "SLURM_ARRAY_TASK_STEP is 4, COUNT 6, MAX 20" "^$s 8 6 0 20 4 " \
	"$(cat "step-$s-8.txt" 2>&1)"

# ---- the %N throttle: 1,3,5-9%2 with tasks that wait for a gate
work_script gate.sh <<'EOS'
#!/bin/bash
while [ ! -e "gate-$SLURM_ARRAY_JOB_ID" ]; do sleep 0.2; done
EOS
g=$(submit --array=1,3,5-9%2 -o /dev/null gate.sh) || bail "submit g"
running() { tasks_of "$g" | grep -c RUNNING; }
check "two tasks start" wait_for 20 "2 running" eval '[ "$(running)" = 2 ]'
sleep 1
check_eq "no more than %2 run at once" 2 "$(running)"
check_eq "the rest wait as one folded line" "${g}_[5-9%2] PENDING (JobArrayTaskLimit)" \
	"$(mqueue -h -j "$g" -t PD -o '%i %T %R' 2>&1)"
touch "gate-$g"
check "then the rest run, two at a time" wait_for 60 "array $g" all_ended "$g"
check_eq "seven tasks in all" 7 "$(tasks_of "$g" | grep -c COMPLETED)"

# ---- dependencies on an array: afterok waits for every task
work_script gate2.sh <<'EOS'
#!/bin/bash
while [ ! -e "gate2-$SLURM_ARRAY_JOB_ID-$SLURM_ARRAY_TASK_ID" ]; do sleep 0.2; done
exit "${1:-0}"
EOS
d=$(submit --array=0-2 -o /dev/null gate2.sh) || bail "submit d"
after=$(submit -o after-%j.out -d "afterok:$d" --wrap='echo after the array') || bail "submit after"
check "the array's tasks all run" wait_for 20 "3 running" \
	eval '[ "$(tasks_of "$d" | grep -c RUNNING)" = 3 ]'
touch "gate2-$d-2"
check "the last task (the array's own record) ends first" wait_job_end "$d" 20
sleep 1
check_eq "afterok:ARRAY still waits while tasks run" PENDING "$(job_state "$after")"
touch "gate2-$d-0" "gate2-$d-1"
wait_job_end "$after" 30
check_eq "and runs once every task COMPLETED" COMPLETED "$(job_state "$after")"
# one task failing: afterok can never be met, afternotok runs
e=$(submit --array=0-1 -o /dev/null gate2.sh 1) || bail "submit e"
never=$(submit -d "afterok:$e" --wrap=true) || bail "submit never"
nok=$(submit -o /dev/null -d "afternotok:$e" --wrap=true) || bail "submit nok"
touch "gate2-$e-0" "gate2-$e-1"
check "afterok on an array with a failed task: DependencyNeverSatisfied" wait_for 20 \
	"reason of $never" eval '[ "$(job_field "$never" Reason)" = DependencyNeverSatisfied ]'
wait_job_end "$nok" 30
check_eq "afternotok on it runs" COMPLETED "$(job_state "$nok")"
mcancel "$never"

# ---- mcancel: one task, a range, then the whole array
c=$(submit -H --array=0-9 --wrap=true) || bail "submit c"
mcancel "${c}_5" || bail "mcancel ${c}_5"
check_eq "mcancel ID_5 takes task 5 out" "${c}_[0-4,6-9]" "$(mqueue -h -j "$c" -o '%i' 2>&1)"
mcancel "${c}_[7-8]" || bail "mcancel range"
check_eq "mcancel ID_[7-8] takes a range out" "${c}_[0-4,6,9]" "$(mqueue -h -j "$c" -o '%i' 2>&1)"
out=$(mcancel "${c}_5" 2>&1)
check_match "a task no longer there is an error" "has no task 5 left to cancel" "$out"
mcancel "$c"
check_eq "mcancel ID cancels the whole array" CANCELLED "$(job_state "$c")"

# ---- a large array is one record; it survives a restart
big=$(submit -H --array=0-9999 --wrap=true) || bail "submit big"
check_eq "10,000 tasks: one line" "${big}_[0-9999]" "$(mqueue -h -o '%i' 2>&1)"
ctld_restart
check_eq "after a restart of mctld, still one record with its tasks" "${big}_[0-9999]" \
	"$(mqueue -h -o '%i' 2>&1)"
mcancel "$big"

# ---- errors
out=$(submit --array=abc --wrap=true 2>&1)
check_match "a bad --array is refused, the form named" \
	"--array=abc: expected ranges such as 0-99, 1,3,5-9 or 0-99:4" "$out"
out=$(submit --array=0-20000 --wrap=true 2>&1)
check_match "a task id over MaxArraySize is refused, the limit named" \
	"task id 20000 is over the limit; task ids go from 0 to 10000 \(MaxArraySize=10001\)" "$out"
check "mctld still running" pid_alive "$MER_CTLD_PID"
finish
