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
need_cmd ip tc timeout mpiexec
need_mpi_example mpi_train

SFX=$(($$ % 100000))
NS=("" "mer${SFX}a" "mer${SFX}b" "mer${SFX}c")
BR=mbr$SFX
NETNS_MADE=()
LINKS_MADE=()

t0096_cleanup() {
	local ns p
	# what runs in our namespaces is ours: daemons, mstepds, ranks
	for ns in "${NETNS_MADE[@]}"; do
		for p in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
	done
	for ns in "${NETNS_MADE[@]}"; do
		for p in $(seq 50); do
			[ -z "$(ip netns pids "$ns" 2>/dev/null)" ] && break
			sleep 0.1
		done
		ip netns del "$ns" 2>/dev/null
	done
	for p in "${LINKS_MADE[@]}"; do ip link del "$p" 2>/dev/null; done
}
trap '_t0096_rc=$?; t0096_cleanup; (exit $_t0096_rc); _mer_exit' EXIT

err=$(ip netns add "${NS[1]}" 2>&1) || skip_all "ip netns add is not permitted here: $err"
NETNS_MADE+=("${NS[1]}")
ip netns add "${NS[2]}" && NETNS_MADE+=("${NS[2]}") || bail "ip netns add ${NS[2]}"
ip netns add "${NS[3]}" && NETNS_MADE+=("${NS[3]}") || bail "ip netns add ${NS[3]}"

# a /24 nobody uses here
NET=""
for x in $(seq $((SFX % 200 + 20)) 254) $(seq 20 254); do
	if [ -z "$(ip -4 addr show | grep -F " 10.231.$x.")" ] && [ -z "$(ip route show 10.231.$x.0/24)" ]; then
		NET=10.231.$x
		break
	fi
done
[ -n "$NET" ] || bail "no free 10.231.X.0/24 subnet"
CTL=$NET.1

ip link add "$BR" type bridge || bail "cannot make bridge $BR"
LINKS_MADE+=("$BR")
ip addr add "$CTL/24" dev "$BR" && ip link set "$BR" up || bail "bridge $BR set-up"
# tbf: 200 Mbit/s, 64 KiB bucket, 50 ms of queue, on each end of each link
TBF="tbf rate 200mbit burst 64kb latency 50ms"
for k in 1 2 3; do
	v=mv${SFX}$k
	ip link add "$v" type veth peer name "mereth$k" || bail "veth $v"
	LINKS_MADE+=("$v")
	ip link set "mereth$k" netns "${NS[$k]}" || bail "move mereth$k to ${NS[$k]}"
	ip link set "$v" master "$BR" && ip link set "$v" up || bail "attach $v to $BR"
	ip -n "${NS[$k]}" addr add "$NET.1$k/24" dev "mereth$k" || bail "address of mereth$k"
	ip -n "${NS[$k]}" link set "mereth$k" up && ip -n "${NS[$k]}" link set lo up || bail "links up in ${NS[$k]}"
	# shellcheck disable=SC2086
	err=$(tc qdisc add dev "$v" root $TBF 2>&1) || skip_all "tc qdisc tbf is not permitted here: $err"
	# shellcheck disable=SC2086
	ip netns exec "${NS[$k]}" tc qdisc add dev "mereth$k" root $TBF ||
		bail "tc tbf on mereth$k in ${NS[$k]}"
done
note "namespaces ${NS[*]:1}, bridge $BR $CTL/24, nodes at $NET.11-13, links: $TBF"

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
for k in 1 2 3; do
	ip netns exec "${NS[$k]}" "$MER_BIN_MNODED" -f "$MER_CONF" -D -N "n$k" \
		>>"$MER_T/log/mnoded-n$k.log" 2>&1 &
	MER_NODE_PID[n$k]=$!
	disown "${MER_NODE_PID[n$k]}"
done
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
