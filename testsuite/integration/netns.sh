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
