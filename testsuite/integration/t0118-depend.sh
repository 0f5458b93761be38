#!/bin/bash
# Job dependencies as a Slurm user writes them (issue 10, point 5):
# afterok chains, afternotok, afterany, after, '?' and ',', singleton, a
# dependency that can never be met (DependencyNeverSatisfied, or cancelled
# with --kill-on-invalid-dep=yes), and the errors mbatch and mctld give.
. "$(dirname "$0")/lib.sh"
mer_init
cluster_start 2
W=$MER_T/work
cd "$W" || bail "cd $W"

# a job that waits for a file, so the test decides when it ends
work_script gate.sh <<'EOS'
#!/bin/bash
while [ ! -e "gate-$1" ]; do sleep 0.2; done
exit "${2:-0}"
EOS
open_gate() { touch "$W/gate-$1"; }

# ---- afterok: waits, then runs when the job completes
a=$(submit -o a-%j.out gate.sh a) || bail "submit a"
wait_job_state "$a" RUNNING 20 || bail "job $a not running"
b=$(submit -o b-%j.out -d "afterok:$a" --wrap='echo b ran') || bail "submit b"
sleep 1
check_eq "afterok: $b waits while $a runs" PENDING "$(job_state "$b")"
check_eq "its reason is Dependency" Dependency "$(job_field "$b" Reason)"
check_eq "mctl shows what it waits for" "afterok:$a(unfulfilled)" "$(job_field "$b" Dependency)"
check_match "mqueue shows the reason" "^ *$b +PENDING +\(Dependency\)" \
	"$(mqueue -h -o '%i %T %R' 2>&1)"
open_gate a
wait_job_end "$b" 20
check_eq "afterok: $b runs once $a completed" COMPLETED "$(job_state "$b")"
check_eq "its output" "b ran" "$(cat "b-$b.out" 2>/dev/null)"
check_eq "nothing left to wait for" "(null)" "$(job_field "$b" Dependency)"

# ---- afterok on a failed job: never satisfied; it waits and says so
f=$(submit -o f-%j.out --wrap='exit 3') || bail "submit f"
wait_job_end "$f" 20
n=$(submit -o n-%j.out -d "afterok:$f" --wrap='echo never') || bail "submit n"
check "afterok on a FAILED job: DependencyNeverSatisfied" wait_for 10 "reason of $n" \
	eval '[ "$(job_field "$n" Reason)" = DependencyNeverSatisfied ]'
check_eq "it stays PENDING (Slurm's default)" PENDING "$(job_state "$n")"
check_eq "mctl shows the failed part" "afterok:$f(failed)" "$(job_field "$n" Dependency)"
# with --kill-on-invalid-dep=yes it is cancelled
k=$(submit -o k-%j.out -d "afterok:$f" --kill-on-invalid-dep=yes --wrap='echo never') ||
	bail "submit k"
wait_job_end "$k" 10
check_eq "--kill-on-invalid-dep=yes: cancelled" CANCELLED "$(job_state "$k")"
check_eq "with the reason" DependencyNeverSatisfied "$(job_field "$k" Reason)"
mcancel "$n"

# ---- afternotok runs after the failure; afterany after anything
nok=$(submit -o nok-%j.out -d "afternotok:$f" --wrap='echo nok') || bail "submit nok"
any=$(submit -o any-%j.out -d "afterany:$f:$a" --wrap='echo any') || bail "submit any"
wait_job_end "$nok" 20
wait_job_end "$any" 20
check_eq "afternotok after a FAILED job runs" COMPLETED "$(job_state "$nok")"
check_eq "afterany after FAILED and COMPLETED runs" COMPLETED "$(job_state "$any")"

# ---- '?' any of, ',' all of
g=$(submit -o g-%j.out gate.sh g) || bail "submit g"
h=$(submit -o h-%j.out gate.sh h) || bail "submit h"
wait_job_state "$h" RUNNING 20 || bail "job $h not running"
either=$(submit -o e-%j.out -d "afterok:$g?afterok:$h" --wrap='echo either') || bail "submit either"
both=$(submit -o both-%j.out -d "afterok:$g,afterok:$h" --wrap='echo both') || bail "submit both"
sleep 1
open_gate g
wait_job_end "$either" 20
check_eq "'?': runs when one of them completed" COMPLETED "$(job_state "$either")"
check_eq "',': still waits for the other" PENDING "$(job_state "$both")"
check_eq "and shows only what is left" "afterok:$h(unfulfilled)" "$(job_field "$both" Dependency)"
open_gate h
wait_job_end "$both" 20
check_eq "',': runs when both completed" COMPLETED "$(job_state "$both")"

# ---- after: once the job has started
p=$(submit -o p-%j.out gate.sh p) || bail "submit p"
q=$(submit -o q-%j.out -d "after:$p" --wrap='echo after') || bail "submit q"
wait_job_end "$q" 20
check_eq "after: runs once the other started" COMPLETED "$(job_state "$q")"
check_eq "while the other still runs" RUNNING "$(job_state "$p")"
open_gate p
wait_job_end "$p" 20

# ---- singleton: one job of a name and user at a time, in order
s1=$(submit -J solo -o s1-%j.out -d singleton gate.sh s1) || bail "submit s1"
s2=$(submit -J solo -o s2-%j.out -d singleton --wrap='echo second') || bail "submit s2"
wait_job_state "$s1" RUNNING 20 || bail "job $s1 not running"
sleep 1
check_eq "singleton: the second waits while the first runs" PENDING "$(job_state "$s2")"
check_eq "with reason Dependency" Dependency "$(job_field "$s2" Reason)"
open_gate s1
wait_job_end "$s2" 20
check_eq "and runs after it" COMPLETED "$(job_state "$s2")"

# ---- kept across a restart of mctld, written in the script
r=$(submit -o r-%j.out gate.sh r) || bail "submit r"
wait_job_state "$r" RUNNING 20 || bail "job $r not running"
work_script dep.sh <<EOS
#!/bin/bash
#SBATCH --dependency=afterok:$r
echo after the restart
EOS
d=$(submit -o d-%j.out dep.sh) || bail "submit dep.sh"
sleep 1
ctld_restart
check_eq "#SBATCH --dependency, after a restart: still waits" "afterok:$r(unfulfilled)" \
	"$(job_field "$d" Dependency)"
open_gate r
wait_job_end "$d" 30
check_eq "and runs when its job completed" COMPLETED "$(job_state "$d")"

# ---- errors
out=$(submit -d "afterfoo:1" --wrap=true 2>&1)
check_match "a bad type is refused by name" "'afterfoo' is not a dependency type" "$out"
out=$(submit -d "afterok:$a?afterok:$b,afterok:1" --wrap=true 2>&1)
check_match "',' and '?' together are refused" "both ',' and '\?'" "$out"
out=$(submit -d "afterok:999999" --wrap=true 2>&1)
check_match "an unknown job is refused" "job 999999 is not known here" "$out"
check_eq "and nothing was queued" "" "$(mqueue -h 2>&1)"
finish
