#!/bin/bash
# GPU and CPU binding of a step's ranks (issue 3, point 4), on a node whose
# topology comes from TopologyFile=testsuite/fixtures/topo/
# vm-2numa-2pu-gpu2.xml: this machine's PUs 0 and 1, each in its own
# package and NUMA node, with an H100 behind each (GPU 0 at 3b:00.0 local
# to PU 0, GPU 1 at 86:00.0 local to PU 1).  The binding is real: the
# ranks read their own /proc/self/status, and the test reads
# /proc/PID/status of running ranks from outside.
#
#   --gpus-per-task=1 --cpu-bind=gpu-local: rank 0 gets GPU 0 and CPU 0,
#       rank 1 GPU 1 and CPU 1, CUDA_DEVICE_ORDER=PCI_BUS_ID;
#   no --cpu-bind: gpu-local is the default;
#   --cpu-bind=none: the ranks keep every CPU (as the daemons have them);
#   --cpu-bind=cores: the two ranks are spread, one core each;
#   -c 2 --cpu-bind=cores: one rank gets both cores;
#   without --gpus-per-task every rank sees both of the job's GPUs.
. "$(dirname "$0")/lib.sh"
mer_init
need_mrun
need_cmd timeout
FIX=$MERIDIAN_SRCDIR/testsuite/fixtures/topo/vm-2numa-2pu-gpu2.xml
[ -r "$FIX" ] || bail "fixture missing: $FIX"
# What the daemons (and so unbound ranks) may run on: ours.
MINE=$(awk '$1 == "Cpus_allowed_list:" { print $2 }' /proc/$$/status)
python3 -c 'import os, sys; sys.exit(0 if {0, 1} <= os.sched_getaffinity(0) else 1)' ||
	skip_all "the fixture binds to CPUs 0 and 1; this process may only use CPUs $MINE"
MER_NODE_LINES="NodeName=n1 NodeAddr=127.0.0.1 CPUs=2 RealMemory=2048 Gres=gpu:2 TopologyFile=$FIX Region=eu-west"
cluster_start 1
W=$MER_T/work
cd "$W" || bail "cd $W"

# ---- mnoded read the fixture: two GPUs, in PCI order, with their CPUs
gpus=$(mctl -d -o show node n1 2>&1 | tr ' ' '\n' | grep -E '^(Gpu|PciBusId|Cpus)=' | paste -sd' ')
check_eq "mnoded numbers the fixture's GPUs in PCI order, each local to its own CPU" \
	"Gpu=0 PciBusId=0000:3b:00.0 Cpus=0 Gpu=1 PciBusId=0000:86:00.0 Cpus=1" "$gpus"

work_script bindline.sh <<'EOS'
#!/bin/bash
echo "BIND rank=$RANK cpus=$(awk '$1 == "Cpus_allowed_list:" { print $2 }' /proc/$$/status)" \
	"cvd=${CUDA_VISIBLE_DEVICES-<unset>} order=${CUDA_DEVICE_ORDER-<unset>}"
EOS
work_script bgrank.sh <<'EOS'
#!/bin/bash
# A running rank, looked at from outside: its pid and a child's, then
# it waits for bg.stop.
sleep 300 &
kid=$!
echo "$$ $kid" >"bg.tmp.$RANK" && mv "bg.tmp.$RANK" "bg.pid.$RANK"
for i in $(seq 600); do
	[ -e bg.stop ] && break
	sleep 0.1
done
kill "$kid"
[ -e bg.stop ]
EOS
work_script bindjob.sh <<'EOS'
#!/bin/bash
run() { # NAME ARGS...
	local n=$1
	shift
	timeout -k 5 90 mrun "$@" >"$n.out" 2>"$n.err"
	echo $? >"$n.rc"
}
run G0 -n 2 --gpus-per-task=1 --cpu-bind=gpu-local ./bindline.sh
run G1 -n 2 --gpus-per-task=1 ./bindline.sh
run G2 -n 2 --cpu-bind=none ./bindline.sh
run G3 -n 2 --cpu-bind=cores ./bindline.sh
run G4 -n 1 -c 2 --cpu-bind=cores ./bindline.sh
run G5 -n 2 --gpus-per-task=1 --cpu-bind=gpu-local ./bgrank.sh
exit 0
EOS
J=$(submit -N 1 -n 2 --gres=gpu:2 -t 5 -o bind-%j.out bindjob.sh) || bail "submit bindjob.sh"
note "job $J"

# ---- running ranks, seen from outside (step 5)
if wait_for 120 "the background step's two ranks" count_files 2 bg.pid.0 bg.pid.1; then
	read -r p0 k0 <bg.pid.0
	read -r p1 k1 <bg.pid.1
	note "running ranks: pid $p0 (rank 0), $p1 (rank 1)"
	check_eq "running rank 0: /proc/$p0/status Cpus_allowed_list" 0 "$(proc_cpus "$p0")"
	check_eq "running rank 1: /proc/$p1/status Cpus_allowed_list" 1 "$(proc_cpus "$p1")"
	check_eq "running ranks run as $MERIDIAN_TEST_USER" "$MER_UID $MER_UID" \
		"$(awk '$1 == "Uid:" { print $2 }' "/proc/$p0/status" "/proc/$p1/status" | paste -sd' ')"
	check_match "running rank 0's environment: GPU 0" 'CUDA_VISIBLE_DEVICES=0$' \
		"$(tr '\0' '\n' <"/proc/$p0/environ" 2>/dev/null)"
	check_match "running rank 1's environment: GPU 1" 'CUDA_VISIBLE_DEVICES=1$' \
		"$(tr '\0' '\n' <"/proc/$p1/environ" 2>/dev/null)"
	check_eq "the children of the ranks inherit their CPUs" "0 1" "$(proc_cpus "$k0") $(proc_cpus "$k1")"
else
	fail "the background step started" "$(file_or_none G5.err)"
fi
touch bg.stop
wait_job_end "$J" 180 || note "job $J did not end in time: $(job_show "$J")"
check_eq "the binding job COMPLETED" COMPLETED "$(job_state "$J")"
check_eq "the background step exits 0" 0 "$(cat G5.rc 2>/dev/null)"

lines() { grep '^BIND ' "$1.out" 2>/dev/null | sort | paste -sd'|'; }
for s in G0 G1 G2 G3 G4; do
	check_eq "step $s: mrun exits 0" 0 "$(cat $s.rc 2>/dev/null)"
done
check_eq "gpu-local, one GPU per task: rank 0 GPU 0 on CPU 0, rank 1 GPU 1 on CPU 1" \
	"BIND rank=0 cpus=0 cvd=0 order=PCI_BUS_ID|BIND rank=1 cpus=1 cvd=1 order=PCI_BUS_ID" \
	"$(lines G0)"
check_eq "no --cpu-bind: gpu-local is the default" \
	"BIND rank=0 cpus=0 cvd=0 order=PCI_BUS_ID|BIND rank=1 cpus=1 cvd=1 order=PCI_BUS_ID" \
	"$(lines G1)"
check_match "mctl show step $J.1: the mode in force is gpu-local" "CpuBind=gpu-local" "$(step_show "$J.1")"
check_eq "--cpu-bind=none: both ranks keep CPUs $MINE and see both GPUs" \
	"BIND rank=0 cpus=$MINE cvd=0,1 order=PCI_BUS_ID|BIND rank=1 cpus=$MINE cvd=0,1 order=PCI_BUS_ID" \
	"$(lines G2)"
check_eq "--cpu-bind=cores: the ranks are spread, one core each" \
	"BIND rank=0 cpus=0 cvd=0,1 order=PCI_BUS_ID|BIND rank=1 cpus=1 cvd=0,1 order=PCI_BUS_ID" \
	"$(lines G3)"
check_eq "-c 2 --cpu-bind=cores: one rank gets both cores" \
	"BIND rank=0 cpus=0-1 cvd=0,1 order=PCI_BUS_ID" "$(lines G4)"

check_eq "no job process left under the test dir" "" "$(job_procs_left_ps)"
check "mctld still running" pid_alive "$MER_CTLD_PID"
finish
