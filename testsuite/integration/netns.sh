# netns.sh - nodes in network namespaces, for the integration tests that
# need real links between nodes (sourced after lib.sh and mer_init).
#
#   netns_make N    N namespaces NS[1..N], each joined to a bridge in the
#                   root namespace by a veth pair (mereth$k inside, at
#                   $NET.1$k/24); the bridge is $CTL ($NET.1), where mctld
#                   listens.  Skips (77) where namespaces are not allowed.
#   netns_shape K UP DOWN
#                   tc tbf on namespace K's link: UP Mbit/s out of it (its
#                   mereth$k), DOWN Mbit/s into it (the bridge's end).
#                   Skips where tbf is not allowed.
#   netns_mnoded K NAME
#                   start mnoded for node NAME in namespace K.
#   netns_shape_pairs K DEFAULT DST_IP MBIT [DST_IP MBIT ...]
#                   per destination rates out of namespace K (its
#                   mereth$k): MBIT Mbit/s to each DST_IP, DEFAULT Mbit/s
#                   to everything else (the controller $CTL included).
#                   Skips where htb or u32 is not allowed.
#
# Everything made is removed on exit: the caller's EXIT trap runs
# netns_cleanup (set by netns_make).
SFX=$(($$ % 100000))
NS=("")
BR=mbr$SFX
NET=""
CTL=""
NETNS_MADE=()
LINKS_MADE=()

netns_cleanup() {
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

netns_make() { # N
	local n=$1 k v err x
	need_cmd ip tc
	trap '_netns_rc=$?; netns_cleanup; (exit $_netns_rc); _mer_exit' EXIT
	for k in $(seq "$n"); do
		NS[k]=mer${SFX}$(echo abcdefghij | cut -c"$k")
		if ! err=$(ip netns add "${NS[k]}" 2>&1); then
			[ "$k" = 1 ] && skip_all "ip netns add is not permitted here: $err"
			bail "ip netns add ${NS[k]}: $err"
		fi
		NETNS_MADE+=("${NS[k]}")
	done
	# a /24 nobody uses here
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
	for k in $(seq "$n"); do
		v=mv${SFX}$k
		ip link add "$v" type veth peer name "mereth$k" || bail "veth $v"
		LINKS_MADE+=("$v")
		ip link set "mereth$k" netns "${NS[k]}" || bail "move mereth$k to ${NS[k]}"
		ip link set "$v" master "$BR" && ip link set "$v" up || bail "attach $v to $BR"
		ip -n "${NS[k]}" addr add "$NET.1$k/24" dev "mereth$k" || bail "address of mereth$k"
		ip -n "${NS[k]}" link set "mereth$k" up && ip -n "${NS[k]}" link set lo up ||
			bail "links up in ${NS[k]}"
	done
}

# tbf: the rate, a 64 KiB bucket, 50 ms of queue.
netns_shape() { # K UP DOWN
	local k=$1 err
	err=$(tc qdisc add dev "mv${SFX}$k" root tbf rate "$3mbit" burst 64kb latency 50ms 2>&1) ||
		skip_all "tc qdisc tbf is not permitted here: $err"
	ip netns exec "${NS[k]}" tc qdisc add dev "mereth$k" root tbf rate "$2mbit" burst 64kb latency 50ms ||
		bail "tc tbf on mereth$k in ${NS[k]}"
}

netns_mnoded() { # K NAME
	ip netns exec "${NS[$1]}" "$MER_BIN_MNODED" -f "$MER_CONF" -D -N "$2" \
		>>"$MER_T/log/mnoded-$2.log" 2>&1 &
	MER_NODE_PID[$2]=$!
	disown "${MER_NODE_PID[$2]}"
}

# Links that differ by destination, as between regions: namespace K's
# egress gets an htb root whose classes are each a token bucket (the
# rate, a 64 KiB bucket, as netns_shape's tbf) over a byte fifo of 50 ms
# at that rate (tbf's "latency 50ms"); u32 filters on the destination
# address choose the class, and what no filter takes (the controller,
# ARP, any address not named) goes to the default class.  The classes
# hang from the root side by side, so none borrows from another: each
# destination's rate is its own.  htb rather than prio with tbf children:
# this kernel has no sch_prio (nor netem); htb and u32 are built in.
netns_shape_pairs() { # K DEFAULT_MBIT [DST_IP MBIT ...]
	local k=$1 dev=mereth$1 id=1 err ip
	shift
	err=$(ip netns exec "${NS[k]}" tc qdisc add dev "$dev" root handle 1: htb default 1 2>&1) ||
		skip_all "tc qdisc htb is not permitted here: $err"
	_netns_pair_class "$k" 1 "$1" || bail "tc htb default class on $dev in ${NS[k]}"
	shift
	while [ $# -ge 2 ]; do
		ip=$1
		id=$((id + 1))
		_netns_pair_class "$k" "$id" "$2" || bail "tc htb class for $ip on $dev in ${NS[k]}"
		shift 2
		err=$(ip netns exec "${NS[k]}" tc filter add dev "$dev" parent 1: protocol ip \
			prio 1 u32 match ip dst "$ip/32" flowid "1:$(printf %x "$id")" 2>&1) ||
			skip_all "tc filter u32 is not permitted here: $err"
	done
	[ $# -eq 0 ] || bail "netns_shape_pairs: a DST_IP without its MBIT: $1"
}

# Class 1:ID of namespace K's htb at MBIT Mbit/s, and its fifo 1ID:.  tc
# reads (and shows) the numbers of handles in hex: ID is written so, and
# class 1:2 is the first DST_IP, 1:3 the second, ...
_netns_pair_class() { # K ID MBIT
	local lim=$(($3 * 6250)) x # 50 ms at MBIT Mbit/s, in bytes
	[ "$lim" -ge 65536 ] || lim=65536
	x=$(printf %x "$2")
	ip netns exec "${NS[$1]}" tc class add dev "mereth$1" parent 1: classid "1:$x" \
		htb rate "$3mbit" ceil "$3mbit" burst 64k cburst 64k quantum 60000 &&
		ip netns exec "${NS[$1]}" tc qdisc add dev "mereth$1" parent "1:$x" \
			handle "1$x:" bfifo limit "$lim"
}
