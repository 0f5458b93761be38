#!/bin/bash
# PriorityType=priority/multifactor as a shared cluster's users see it
# (issue 10, point 1): the test user has used the node, root has not, so
# root's job submitted later starts first (fair-share); mqueue --priority
# shows each pending job's factors as sprio does; users lower their own
# jobs with --nice and Nice=, only admins raise them or fix Priority=.
. "$(dirname "$0")/lib.sh"
mer_init
MER_EXTRA_CONF="PriorityType=priority/multifactor
PriorityWeightAge=100
PriorityWeightFairshare=10000
PriorityDecayHalfLife=1-0"
cluster_start 1
W=$MER_T/work
cd "$W" || bail "cd $W"

work_script gate.sh <<'EOS'
#!/bin/bash
while [ ! -e "gate-$1" ]; do sleep 0.2; done
date +%s.%N
EOS
chmod 0777 "$W"

# the test user uses the whole node for a while
u=$(submit -c 2 -o u-%j.out --wrap='sleep 3') || bail "submit u"
wait_job_end "$u" 20
g=$(submit -c 2 -o g-%j.out gate.sh g) || bail "submit gate"
wait_job_state "$g" RUNNING 20 || bail "gate not running"
a=$(submit -c 2 -o a-%j.out gate.sh a0) || bail "submit a"
touch "$W/gate-a0"
b=$(submit_root -c 2 -o "$W/b-%j.out" --wrap='date +%s.%N') || bail "submit b (root)"
sleep 2

out=$(mqueue --priority 2>&1)
note "$out"
check_match "mqueue --priority has sprio's columns" \
	"JOBID +PARTITION +USER +PRIORITY +AGE +FAIRSHARE +JOBSIZE +PARTITION +QOS +NICE" "$out"
fa=$(printf '%s\n' "$out" | awk -v id="$a" '$1 == id { print $6 }')
fb=$(printf '%s\n' "$out" | awk -v id="$b" '$1 == id { print $6 }')
pa=$(printf '%s\n' "$out" | awk -v id="$a" '$1 == id { print $4 }')
pb=$(printf '%s\n' "$out" | awk -v id="$b" '$1 == id { print $4 }')
check "root, who used nothing, has the full fair-share (got $fb)" test "${fb:-0}" -ge 9900
check "the test user, who used the node, less (got $fa)" test "${fa:-99999}" -lt 6000
check "so root's later job has the higher priority ($pb > $pa)" test "${pb:-0}" -gt "${pa:-0}"
check_eq "mctl show job has it too" "$pb" "$(job_field "$b" Priority)"

# only admins raise a job or fix its priority
out=$(as_user mctl update JobId="$a" Priority=50000 2>&1)
check_match "a user cannot set Priority=" "only an admin may set a job's Priority" "$out"
out=$(as_user mctl update JobId="$a" Nice=-100 2>&1)
check_match "nor a negative Nice=" "only an admin may raise" "$out"
check "but may lower their own: Nice=5" as_user mctl update JobId="$a" Nice=5
check_eq "NICE shows it" 5 "$(mqueue --priority -h -o '%i %n' | awk -v id="$a" '$1 == id { print $2 }')"
check "an admin fixes Priority=" mctl update JobId="$a" Priority=50000
check_eq "which stays" 50000 "$(job_field "$a" Priority)"
check "and puts it back below" mctl update JobId="$a" Priority=1

touch "$W/gate-g"
wait_job_end "$b" 30
wait_job_end "$a" 30
tb=$(cat "$W/b-$b.out" 2>/dev/null)
ta=$(tail -n 1 "$W/a-$a.out" 2>/dev/null)
check "the job of the user who used less ran first ($tb < $ta)" \
	awk -v b="$tb" -v a="$ta" 'BEGIN { exit !(b != "" && a != "" && b < a) }'

# --nice at submit; a negative one is an admin's
out=$(submit --nice=-10 --wrap=true 2>&1)
check_match "mbatch --nice=-10 as a user is refused" "only an admin may raise" "$out"
n=$(submit --nice --hold --wrap=true) || bail "submit --nice"
check_eq "--nice alone is 100, as sbatch's" 100 \
	"$(mqueue --priority -h -o '%i %n' | awk -v id="$n" '$1 == id { print $2 }')"
mcancel "$n"
finish
