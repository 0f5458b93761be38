#!/bin/bash
# QOS, accounts with users, partition PriorityTier (issue 10, point 3) as
# a shared cluster's users meet them, on 2 nodes of 2 CPUs and 2 GPUs: a
# job runs under its user's account and its QOS by default; an account
# or QOS the user may not use, and a job over a fixed limit (MaxWall,
# MaxGPUsPerJob, MaxSubmitJobsPerUser, a GPU limit it alone passes) are
# refused at submit with the limit named; a job over a limit on running
# jobs waits with Slurm's reason and starts once the limit allows it;
# the QOS's priority shows in mqueue --priority; a higher PriorityTier
# partition's job starts first.
. "$(dirname "$0")/lib.sh"
mer_init
need_test_user
U=$MERIDIAN_TEST_USER
MER_EXTRA_CONF="PriorityType=priority/multifactor
PriorityWeightQOS=1000
QosName=normal MaxJobsPerUser=1
QosName=high Priority=100 MaxWall=10 MaxGPUsPerJob=2 MaxSubmitJobsPerUser=3
QosName=gpu MaxGPUsPerUser=2
QosName=free
AccountName=physics Users=$U QOS=normal,gpu
AccountName=chem Users=$U,nobody QOS=gpu DefaultQOS=gpu GrpJobs=1
AccountName=ops Users=root QOS=high,normal
AccountName=lab Users=$U QOS=free DefaultQOS=free GrpGPUs=2
PartitionName=urgent Nodes=ALL PriorityTier=10 MaxTime=60"
cluster_start 2
W=$MER_T/work
cd "$W" || bail "cd $W"
chmod 0777 "$W"
work_script gate.sh <<'EOS'
#!/bin/bash
while [ ! -e "gate-$1" ]; do sleep 0.2; done
EOS
reason() { mqueue -h -t all -j "$1" -o '%r' 2>/dev/null; }
_reason_is() { [ "$(reason "$1")" = "$2" ]; }
wait_reason() { wait_for 20 "job $1 waits with $2" _reason_is "$1" "$2"; }

# ---- defaults: the user's account, its QOS
a=$(submit -c 1 -o /dev/null gate.sh a) || bail "submit a"
check_eq "no -A: the account that lists the user" physics "$(job_field "$a" Account)"
check_eq "no --qos: normal" normal "$(job_field "$a" QOS)"
check_match "mqueue %a %q show them" "physics normal" "$(mqueue -h -j "$a" -o '%a %q')"
wait_job_state "$a" RUNNING 20 || bail "a not running"

# ---- refused at submit, the limit named
out=$(submit -A ops --wrap=true 2>&1)
check_match "an account that does not list the user" "user $U may not use account ops: not in its Users=" "$out"
out=$(submit -A nosuch --wrap=true 2>&1)
check_match "an unknown account, with the accounts there are" "unknown account 'nosuch' \(accounts: physics, chem, ops, lab\)" "$out"
out=$(submit --qos=high --wrap=true 2>&1)
check_match "a QOS the account may not use" "account physics may not use QOS high: expected one of its QOS=normal,gpu" "$out"
out=$(submit --qos=bogus --wrap=true 2>&1)
check_match "an unknown QOS" "unknown QOS 'bogus' \(QOS: normal, high, gpu, free\)" "$out"
out=$(submit_root -A ops --qos=high -t 20 --wrap=true 2>&1)
check_match "a time limit over MaxWall" "time limit 00:20:00 is over QOS high's MaxWall 00:10:00 \(QOSMaxWallDurationPerJobLimit\)" "$out"
out=$(submit_root -A ops --qos=high -G 4 -N 2 --wrap=true 2>&1)
check_match "more GPUs than MaxGPUsPerJob" "4 GPUs, over QOS high's MaxGPUsPerJob=2 \(QOSMaxGRESPerJob\)" "$out"
out=$(submit --qos=gpu -N 2 --gpus-per-node=2 --wrap=true 2>&1)
check_match "a job alone over MaxGPUsPerUser" "4 GPUs, over QOS gpu's MaxGPUsPerUser=2: it could never run" "$out"
h=$(submit_root -A ops --qos=high -H --wrap=true) || bail "submit held high"
check_eq "no -t under MaxWall: the time limit is MaxWall" 00:10:00 "$(job_field "$h" TimeLimit)"
check "a second job in QOS high" submit_root -A ops --qos=high -H --wrap=true
check "a third" submit_root -A ops --qos=high -H --wrap=true
out=$(submit_root -A ops --qos=high -H --wrap=true 2>&1)
check_match "a fourth passes MaxSubmitJobsPerUser=3" "has 3 jobs in QOS high, and 1 more would pass its MaxSubmitJobsPerUser=3 \(QOSMaxSubmitJobPerUserLimit\)" "$out"
mcancel -u root -t PD >/dev/null 2>&1
wait_for 10 "root's held jobs cancelled" test -z "$(mqueue -h -u root -t PD -o %i)"
out=$(submit_root -A ops --qos=high -H --array=0-3 --wrap=true 2>&1)
check_match "an array counts its tasks" "and 4 more would pass its MaxSubmitJobsPerUser=3" "$out"

# ---- limits on running jobs: the job waits with the limit as reason
b=$(submit -c 1 -o /dev/null --wrap=true) || bail "submit b"
wait_reason "$b" QOSMaxJobsPerUserLimit
check_eq "MaxJobsPerUser=1: the second job waits, the CPUs free" QOSMaxJobsPerUserLimit "$(reason "$b")"
out=$(mqueue -h -j "$b" -o '%T %R')
check_match "mqueue shows the reason" "PENDING \(QOSMaxJobsPerUserLimit\)" "$out"
x=$(submit_root -c 1 -o /dev/null --wrap=true) || bail "submit root"
wait_job_end "$x" 20
check_eq "another user's job in the same QOS runs" COMPLETED "$(job_state "$x")"
touch "$W/gate-a"
wait_job_end "$b" 20
check_eq "once the first ends, it runs" COMPLETED "$(job_state "$b")"

g1=$(submit --qos=gpu -G 2 -o /dev/null gate.sh g) || bail "submit g1"
wait_job_state "$g1" RUNNING 20 || bail "g1 not running"
g2=$(submit --qos=gpu -G 1 -o /dev/null --wrap=true) || bail "submit g2"
wait_reason "$g2" QOSMaxGRESPerUser
check_eq "MaxGPUsPerUser=2: 1 more GPU waits, 2 GPUs free" QOSMaxGRESPerUser "$(reason "$g2")"
g3=$(submit --qos=gpu -o /dev/null --wrap=true) || bail "submit g3"
wait_job_end "$g3" 20
check_eq "a job of no GPU in that QOS runs" COMPLETED "$(job_state "$g3")"

c1=$(submit -A chem -c 1 -o /dev/null gate.sh c) || bail "submit c1"
check_eq "chem's DefaultQOS" gpu "$(job_field "$c1" QOS)"
wait_job_state "$c1" RUNNING 20 || bail "c1 not running"
c2=$(submit -A chem -c 1 -o /dev/null --wrap=true) || bail "submit c2"
wait_reason "$c2" AssocGrpJobsLimit
check_eq "GrpJobs=1: the account's second job waits" AssocGrpJobsLimit "$(reason "$c2")"
touch "$W/gate-g" "$W/gate-c"
wait_job_end "$g2" 20
wait_job_end "$c2" 20
check_eq "then the GPU job runs" COMPLETED "$(job_state "$g2")"
check_eq "and the account's" COMPLETED "$(job_state "$c2")"

l1=$(submit -A lab -G 2 -o /dev/null gate.sh l) || bail "submit l1"
wait_job_state "$l1" RUNNING 20 || bail "l1 not running"
l2=$(submit -A lab -G 1 -o /dev/null --wrap=true) || bail "submit l2"
wait_reason "$l2" AssocGrpGRES
check_eq "GrpGPUs=2: the account's next GPU job waits, 2 GPUs free" AssocGrpGRES "$(reason "$l2")"
out=$(submit -A lab -N 2 --gpus-per-node=2 --wrap=true 2>&1)
check_match "a job alone over GrpGPUs is refused" "4 GPUs, over account lab's GrpGPUs=2: it could never run" "$out"
touch "$W/gate-l"
wait_job_end "$l2" 20
check_eq "it runs once the first ends" COMPLETED "$(job_state "$l2")"

# ---- the QOS's priority factor
p1=$(submit_root -A ops --qos=high --begin=now+1hour --wrap=true) || bail "submit p1"
p2=$(submit_root -A ops --qos=normal --begin=now+1hour --wrap=true) || bail "submit p2"
wait_for 10 "a pass computes their priority" test -n "$(mqueue --priority -h -j "$p1" -o %f | tr -d ' 0')"

out=$(mqueue --priority 2>&1)
note "$out"
check_match "mqueue --priority has a QOS column" "PARTITION +QOS +NICE" "$out"
q1=$(printf '%s\n' "$out" | awk -v id="$p1" '$1 == id { print $9 }')
q2=$(printf '%s\n' "$out" | awk -v id="$p2" '$1 == id { print $9 }')
check_eq "QOS high (Priority=100, the highest): PriorityWeightQOS" 1000 "$q1"
check_eq "QOS normal: 0" 0 "$q2"
mcancel "$p1" "$p2"

# ---- PriorityTier: the urgent partition's job first
f=$(submit -p urgent -N 2 -c 2 -o /dev/null gate.sh f) || bail "submit fill"
wait_job_state "$f" RUNNING 20 || bail "fill not running"
m=$(submit_root -N 2 -c 2 -o /dev/null --wrap=true) || bail "submit main"
u=$(submit_root -p urgent -N 2 -c 2 -o /dev/null gate.sh u) || bail "submit urgent"
touch "$W/gate-f"
wait_job_state "$u" RUNNING 20
check_eq "the later job of the higher tier starts first" RUNNING "$(job_state "$u")"
check_eq "the earlier one of partition main waits" PENDING "$(job_state "$m")"
touch "$W/gate-u"
wait_job_end "$m" 20
check_eq "and runs after" COMPLETED "$(job_state "$m")"

finish
