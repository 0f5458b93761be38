#!/bin/bash
# --nodes=MIN-MAX and --deadline (issue 10, points 6 and 7) as a user
# tries them on 2 nodes of 2 CPUs: a range takes as many nodes as are free
# when the job starts, from MIN up to MAX, and what the job sees says so;
# a range upside down is refused; a deadline the time limit cannot meet is
# refused at submit, and a job still waiting when it could no longer end
# by its deadline ends DEADLINE.
. "$(dirname "$0")/lib.sh"
mer_init
need_test_user
cluster_start 2
W=$MER_T/work
cd "$W" || bail "cd $W"
chmod 0777 "$W"
work_script env.sh <<'EOS'
#!/bin/bash
echo "NN=$SLURM_JOB_NUM_NODES"
echo "NT=$SLURM_NTASKS"
echo "TPN=$SLURM_TASKS_PER_NODE"
EOS
work_script gate.sh <<'EOS'
#!/bin/bash
while [ ! -e "gate-$1" ]; do sleep 0.2; done
EOS
nn_of() { sed -n 's/^NN=//p' "$W/env-$1.out" 2>/dev/null; }
nt_of() { sed -n 's/^NT=//p' "$W/env-$1.out" 2>/dev/null; }
tpn_of() { sed -n 's/^TPN=//p' "$W/env-$1.out" 2>/dev/null; }

# ---- -N MIN-MAX
a=$(submit -N 1-2 -o env-%j.out env.sh) || bail "submit -N 1-2"
wait_job_end "$a" 20
check_eq "-N 1-2 with both nodes free runs" COMPLETED "$(job_state "$a")"
check_eq "on 2 nodes" 2 "$(nn_of "$a")"
check_eq "a task each" "1(x2)" "$(tpn_of "$a")"
check_eq "and no SLURM_NTASKS without -n, as sbatch" "" "$(nt_of "$a")"
check_eq "mctl show job says 2" 2 "$(job_field "$a" NumNodes)"

g=$(submit -w n1 -c 2 -o /dev/null gate.sh g) || bail "submit gate"
wait_job_state "$g" RUNNING 20 || bail "gate not running"
b=$(submit -N 1-2 -o env-%j.out env.sh) || bail "submit -N 1-2 with n1 busy"
wait_job_end "$b" 20
check_eq "with one node taken it runs at once" COMPLETED "$(job_state "$b")"
check_eq "on the 1 node free" 1 "$(nn_of "$b")"
check_eq "not on n1" n2 "$(job_field "$b" NodeList)"
touch "$W/gate-g"
wait_job_end "$g" 20

c=$(submit -N 1-8 -o env-%j.out env.sh) || bail "submit -N 1-8"
wait_job_end "$c" 20
check_eq "-N 1-8 on a 2-node cluster: as many as there are" 2 "$(nn_of "$c")"
d=$(submit -n 2 -N 1-2 -c 2 -o env-%j.out env.sh) || bail "submit -n 2 -N 1-2"
wait_job_end "$d" 20
check_eq "-n 2 -c 2 -N 1-2: 2 nodes of 1 task" "2 2" "$(nn_of "$d") $(nt_of "$d")"
out=$(submit -N 3-2 --wrap=true 2>&1)
check_match "-N 3-2 is refused" "the most nodes is below the least, expected MIN-MAX with MIN <= MAX" "$out"
out=$(submit -N 2-x --wrap=true 2>&1)
check_match "-N 2-x is refused" "nodes" "$out"
out=$(as_user mrun -N 1-2 true 2>&1)
check_match "mrun takes no range" "expected --nodes=N \(MIN-MAX is mbatch's\)" "$out"

# ---- --deadline
out=$(submit -t 10 --deadline=now+5minutes --wrap=true 2>&1)
check_match "a time limit that cannot end by the deadline is refused" \
	"a job of time limit 00:10:00 cannot end by its --deadline" "$out"
e=$(submit -t 1 --deadline=now+1hour -o /dev/null --wrap=true) || bail "submit e"
wait_job_end "$e" 20
check_eq "a deadline it meets: it runs" COMPLETED "$(job_state "$e")"
f=$(submit -N 2 -c 2 -o /dev/null gate.sh f) || bail "submit fill"
wait_job_state "$f" RUNNING 20 || bail "fill not running"
h=$(submit -t 1 --deadline=now+63 -o /dev/null --wrap=true) || bail "submit h"
check_eq "it waits while the cluster is full" PENDING "$(job_state "$h")"
wait_job_end "$h" 20
check_eq "past deadline less its time limit, it ends DEADLINE" DEADLINE "$(job_state "$h")"
check_eq "reason DeadLine" DeadLine "$(job_field "$h" Reason)"
check_match "mqueue -t all shows it" "$h +DL" "$(mqueue -h -t all -j "$h" -o '%i %t')"
touch "$W/gate-f"
wait_job_end "$f" 20
finish
