#!/bin/bash
# One step's ranks in three network namespaces (issue 3, point 7): the
# MPI wire-up must go over the network, not shared memory.
#
# Three namespaces, each joined to a bridge in the root namespace by a
# veth pair (mereth1..3 inside) with its own address, every link rate
# limited with tc tbf (on both ends; this kernel has no netem).  mctld
# runs in the root namespace and listens on the bridge's address
# (ControllerHost); one mnoded runs in each namespace, NodeAddr = that
# namespace's address.  A batch job's `mrun` starts mpi_train there with
# UCX_TLS=tcp,self:
#
#   - every rank agrees on the result, which is mpiexec's on one machine;
#   - each node's ranks really ran in that node's namespace;
#   - NCCL_SOCKET_IFNAME names each namespace's own veth, MASTER_ADDR is
#     node 0's namespace address;
#   - the training's traffic went through the veths (their byte counters).
#
# Why tcp,self: UCX's shared-memory transports work across network
# namespaces (they share /dev/shm and the IPC namespace, and UCX takes
# them for one machine because the host name is the same), so with
# UCX's defaults, or shm, this test would prove nothing.  With tcp,self
# the ranks of different nodes can only reach each other through the
# veths, the addresses they published through the PMI KVS and the
# process mapping mstepd gave them.  (Ranks of one node still use
# MPICH's own shared memory, as on a real cluster.)
#
# The namespaces, veths and bridge are removed on exit (trap).  Skips
# (77) where `ip netns add` or tc's tbf is not permitted.
. "$(dirname "$0")/lib.sh"
mer_init
need_mrun
need_cmd timeout mpiexec
need_mpi_example mpi_train

. "$(dirname "$0")/netns.sh"
netns_make 3
# 200 Mbit/s each way on each link
for k in 1 2 3; do netns_shape "$k" 200 200; done
note "namespaces ${NS[*]:1}, bridge $BR $CTL/24, nodes at $NET.11-13, links: tbf 200 Mbit/s"

# ---- the cluster: mctld here, one mnoded per namespace
MER_NNODES=3
munged_start munge
MER_SOCK=$MUNGE_SOCK
MER_PORT=$(pick_port) || bail "no free port"
MER_CONF=$MER_T/meridian.conf
MER_EXTRA_CONF="FinalizeTimeout=10"
MER_NODE_LINES="NodeName=n1 NodeAddr=$NET.11 CPUs=2 RealMemory=2048 Region=eu-west
NodeName=n2 NodeAddr=$NET.12 CPUs=2 RealMemory=2048 Region=eu-west
NodeName=n3 NodeAddr=$NET.13 CPUs=2 RealMemory=2048 Region=eu-west"
write_conf "$MER_CONF" 3
sed -i "s/^ControllerHost=.*/ControllerHost=$CTL/" "$MER_CONF"
export MERIDIAN_CONF=$MER_CONF
ctld_start
wait_ctld
for k in 1 2 3; do netns_mnoded "$k" "n$k"; done
wait_nodes_up 3 30 || bail "the 3 mnoded in the namespaces did not register with mctld at $CTL"
pass "three mnoded, one in each namespace, registered with mctld over the veths"
W=$MER_T/work
cd "$W" || bail "cd $W"

work_script nsrank.sh <<'EOS'
#!/bin/bash
# Where this rank runs, then the training.
echo "NS rank=$RANK node=$SLURMD_NODENAME netns=$(readlink /proc/self/ns/net)" \
	"ifname=${NCCL_SOCKET_IFNAME-<unset>} master=${MASTER_ADDR-<unset>}"
exec ./mpi_train --steps 200 --every 100
EOS
work_script nsjob.sh <<'EOS'
#!/bin/bash
# tcp only between nodes: see t0096-netns.sh's header.
export UCX_TLS=tcp,self
run() { # NAME ARGS...
	local n=$1 t0
	shift
	t0=$(date +%s%N)
	timeout -k 5 150 mrun "$@" >"$n.out" 2>"$n.err"
	echo $? >"$n.rc"
	echo $(( ($(date +%s%N) - t0) / 1000000 )) >"$n.ms"
}
run N0 -n 3 -N 3 ./nsrank.sh
run N1 -n 6 -N 3 ./nsrank.sh
exit 0
EOS

# references on this machine, under MPICH's own launcher
ref3=$(UCX_TLS=shm,self timeout 120 mpiexec -n 3 ./mpi_train --steps 200 --every 100 2>&1 | sed -n 's/^rank 0 final //p')
ref6=$(UCX_TLS=shm,self timeout 120 mpiexec -n 6 ./mpi_train --steps 200 --every 100 2>&1 | sed -n 's/^rank 0 final //p')
note "mpiexec references: 3 ranks: $ref3; 6 ranks: $ref6"

tx() { ip netns exec "${NS[$1]}" cat "/sys/class/net/mereth$1/statistics/tx_bytes"; }
tx2=$(tx 2) tx3=$(tx 3)
J=$(submit -N 3 -n 6 -t 5 -o ns-%j.out nsjob.sh) || bail "submit nsjob.sh"
note "job $J"
wait_job_end "$J" 420 || note "job $J did not end in time: $(job_show "$J")"
tx2=$(( $(tx 2) - tx2 )) tx3=$(( $(tx 3) - tx3 ))
check_eq "the job COMPLETED" COMPLETED "$(job_state "$J")"
note "steps took $(cat N0.ms 2>/dev/null) ms (3 ranks) and $(cat N1.ms 2>/dev/null) ms (6 ranks)"
note "sent through mereth2: $tx2 bytes, mereth3: $tx3 bytes during the job"

declare -A NSID
for k in 1 2 3; do NSID[n$k]=$(ip netns exec "${NS[$k]}" readlink /proc/self/ns/net); done
rootns=$(readlink /proc/self/ns/net)

for s in N0 N1; do
	case $s in N0) n=3 ref=$ref3 ;; N1) n=6 ref=$ref6 ;; esac
	check_eq "$s ($n ranks over 3 namespaces): mrun exits 0" 0 "$(cat $s.rc 2>/dev/null)"
	[ "$(cat $s.rc 2>/dev/null)" = 0 ] || note "$s stderr: $(head -c 2000 $s.err 2>/dev/null | tr '\n' '|')"
	finals=$(grep -E '^rank [0-9]+ final checksum ' $s.out 2>/dev/null)
	check_eq "$s: one final line per rank" "$n" "$(printf '%s\n' "$finals" | awk '{print $2}' | sort -u | grep -c .)"
	check_eq "$s: every rank agrees on the result" 1 "$(printf '%s\n' "$finals" | sed 's/^rank [0-9]* final //' | sort -u | grep -c .)"
	check_eq "$s: the result is mpiexec's on one machine" "$ref" "$(printf '%s\n' "$finals" | sed -n 's/^rank 0 final //p')"
	bad=""
	while read -r _ rank node netns ifname master; do
		node=${node#node=} netns=${netns#netns=}
		k=${node#n}
		[ "$netns" = "${NSID[$node]}" ] || bad="$bad $rank:$node in $netns, not ${NSID[$node]};"
		[ "$netns" != "$rootns" ] || bad="$bad $rank in the root namespace;"
		[ "$ifname" = "ifname=mereth$k" ] || bad="$bad $rank on $node: $ifname, not mereth$k;"
		[ "$master" = "master=$NET.11" ] || bad="$bad $rank: $master, not $NET.11;"
	done < <(grep '^NS ' $s.out 2>/dev/null)
	check_eq "$s: $n ranks reported where they run" "$n" "$(grep -c '^NS ' $s.out 2>/dev/null)"
	check_eq "$s: each node's ranks ran in its namespace, NCCL_SOCKET_IFNAME its veth, MASTER_ADDR node 0's" "" "$bad"
done
check_eq "the ranks were spread over the 3 namespaces (3 network namespaces seen)" 3 \
	"$(grep -h '^NS ' N0.out N1.out 2>/dev/null | tr ' ' '\n' | grep '^netns=' | sort -u | wc -l)"
check "the training went over the links: > 500 KB left namespace 2 through mereth2" test "$tx2" -gt 512000
check "and > 500 KB left namespace 3 through mereth3" test "$tx3" -gt 512000
check_match "the tbf rate limit is on the links" "tbf .*rate 200Mbit" "$(tc qdisc show dev "mv${SFX}2")"

check_eq "no job process left under the test dir" "" "$(job_procs_left_ps)"
check "mctld still running" pid_alive "$MER_CTLD_PID"
finish
