#!/bin/bash
# sched/backfill as a user sees it (issue 10, point 2): on 2 nodes, one
# runs R (5 minutes' limit) and the top job B needs both; B is reserved
# from R's expected end, a 1-minute job S starts now on the free node
# (it ends before B could start), a 10-minute job L waits (it would delay
# B), and `mqueue --start` shows when and where B and L are expected to
# start.  When R ends, B starts.
. "$(dirname "$0")/lib.sh"
mer_init
cluster_start 2
# the plugin's own key is known only once the plugin is configured
sed -i -e 's|^SchedulerType=.*|SchedulerType=sched/backfill\nBackfillInterval=1|' "$MER_CONF"
ctld_restart
wait_nodes_up 2 || bail "nodes not up after the restart"
W=$MER_T/work
cd "$W" || bail "cd $W"

work_script gate.sh <<'EOS'
#!/bin/bash
while [ ! -e "gate-$1" ]; do sleep 0.2; done
EOS

# whole nodes: 2 CPUs each
r=$(submit -N1 -c2 -t 5 -o r-%j.out gate.sh r) || bail "submit R"
wait_job_state "$r" RUNNING 20 || bail "R not running"
rstart=$(date +%s)
b=$(submit -N2 -c2 -t 10 -o b-%j.out --wrap='echo B ran on $SLURM_JOB_NODELIST') || bail "submit B"
l=$(submit -N1 -c2 -t 10 -o l-%j.out --wrap='echo L') || bail "submit L"
s=$(submit -N1 -c2 -t 1 -o s-%j.out --wrap='echo S ran') || bail "submit S"
wait_job_end "$s" 20
check_eq "S (1 minute) backfilled and ran" COMPLETED "$(job_state "$s")"
check_eq "B (both nodes) waits" PENDING "$(job_state "$b")"
check_eq "L (10 minutes, would delay B) waits" PENDING "$(job_state "$l")"
check_eq "B's reason" Resources "$(job_field "$b" Reason)"

out=$(mqueue --start 2>&1)
note "$out"
check_match "mqueue --start has squeue's columns" \
	"JOBID +PARTITION +NAME +USER +ST +START_TIME +NODES +SCHEDNODES +NODELIST\(REASON\)" "$out"
check_nomatch "only pending jobs" "^ *$r " "$out"
bline=$(printf '%s\n' "$out" | awk -v id="$b" '$1 == id')
lline=$(printf '%s\n' "$out" | awk -v id="$l" '$1 == id')
check_match "B is expected on both nodes" " n\[1-2\] " "$bline"
bt=$(printf '%s\n' "$bline" | awk '{ print $6 }')
lt=$(printf '%s\n' "$lline" | awk '{ print $6 }')
bs=$(date -d "$bt" +%s 2>/dev/null || echo 0)
ls_=$(date -d "$lt" +%s 2>/dev/null || echo 0)
note "R started $(date -d @"$rstart" +%T); B expected $bt, L $lt"
check "B is expected when R's time limit ends (about 5 min after it started)" \
	test "$bs" -ge $((rstart + 290)) -a "$bs" -le $((rstart + 310))
check "L is expected after B's 10 minutes" \
	test "$ls_" -ge $((bs + 590)) -a "$ls_" -le $((bs + 610))

open_gate() { touch "$W/gate-$1"; }
open_gate r
wait_job_end "$b" 30
check_eq "when R ends, B starts (and runs)" COMPLETED "$(job_state "$b")"
check_match "on both nodes" "B ran on n\[1-2\]" "$(cat "b-$b.out" 2>/dev/null)"
wait_job_end "$l" 30
check_eq "then L" COMPLETED "$(job_state "$l")"
finish
