#!/bin/bash
# --dependency=aftercorr (issue 10, point 5): task i of an array starts
# once task i of the array it names has ended COMPLETED -- each task on
# its own, not once the whole array has -- a task whose counterpart
# failed waits with DependencyNeverSatisfied, and --kill-on-invalid-dep
# cancels what can never run.
. "$(dirname "$0")/lib.sh"
mer_init
need_test_user
cluster_start 2
W=$MER_T/work
cd "$W" || bail "cd $W"
chmod 0777 "$W"

# A's tasks end in the order 3, 2 (failed), 1, 0, and fill the 4 CPUs
# until they do, so a task of B can only start when its counterpart's
# CPU frees.
work_script a.sh <<'EOS'
#!/bin/bash
t=$SLURM_ARRAY_TASK_ID
case $t in
0) sleep 8 ;;
1) sleep 5 ;;
2) sleep 1; exit 1 ;;
3) sleep 1 ;;
esac
date +%s.%N >"end-a-$t"
EOS
work_script b.sh <<'EOS'
#!/bin/bash
date +%s.%N >"start-b-$SLURM_ARRAY_TASK_ID"
EOS
a=$(submit -o /dev/null --array=0-3 a.sh) || bail "submit A"
b=$(submit -o /dev/null --array=0-3 --dependency=aftercorr:"$a" b.sh) || bail "submit B"
started() { [ -e "$W/start-b-$1" ]; }

check "B_3 starts once A_3 has ended" wait_for 20 "B_3" started 3
check "while A_1 still runs: not once the whole of A has" test ! -e "$W/end-a-1"
check_eq "B_3 started after A_3 ended" 1 \
	"$(awk -v s="$(cat start-b-3)" -v e="$(cat end-a-3)" 'BEGIN { print (s >= e) }')"
check "B_1 starts once A_1 has ended" wait_for 20 "B_1" started 1
check_eq "B_1 started after A_1 ended" 1 \
	"$(awk -v s="$(cat start-b-1)" -v e="$(cat end-a-1)" 'BEGIN { print (s >= e) }')"
check "and B_0 once A_0 has" wait_for 20 "B_0" started 0
check_eq "B_0 started after A_0 ended" 1 \
	"$(awk -v s="$(cat start-b-0)" -v e="$(cat end-a-0)" 'BEGIN { print (s >= e) }')"
sleep 2
check "B_2 never starts: A_2 failed" test ! -e "$W/start-b-2"
check_eq "it waits, folded, with the reason" "${b}_[2] PENDING DependencyNeverSatisfied" \
	"$(mqueue -h -j "$b" -t PD -o '%i %T %r' 2>&1)"

# --kill-on-invalid-dep: what can never run is cancelled
rm -f "$W"/start-b-* "$W"/end-a-*
a2=$(submit -o /dev/null --array=2-3 a.sh) || bail "submit A2"
b2=$(submit -o /dev/null --array=2-3 --kill-on-invalid-dep=yes \
	--dependency=aftercorr:"$a2" b.sh) || bail "submit B2"
check "B2_3 runs" wait_for 20 "B2_3" started 3
gone() { [ -z "$(mqueue -h -j "$b2" -t PD 2>/dev/null)" ]; }
check "B2_2 leaves the queue" wait_for 20 "B2_2 to go" gone
check_match "cancelled: DependencyNeverSatisfied" "CANCELLED.*DependencyNeverSatisfied" \
	"$(macct -X -n -P -j "${b2}_2" --format=JobID,State,Reason 2>&1)"
check "and never ran" test ! -e "$W/start-b-2"
finish
