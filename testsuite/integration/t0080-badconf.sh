#!/bin/bash
# A bad configuration stops the daemons (and the commands) with
# "file:line: what is wrong, what is expected" and a non-zero exit: an
# unknown key, a bad value, a bad hostlist, a missing plugin, an unknown
# node name, a missing file.  Needs no root: nothing is started for long.
. "$(dirname "$0")/lib.sh"
mer_init --no-root
MER_PORT=$(pick_port) || bail "no free port"
MER_SOCK=$MER_T/none.sock
good=$MER_T/good.conf
write_conf "$good" 2

# variant LINE-TO-ADD-OR-SED: a copy of the good config with one change
variant() { # NAME SED-EXPR
	sed "$2" "$good" >"$MER_T/$1.conf"
	echo "$MER_T/$1.conf"
}
lineof() { grep -n -- "$2" "$1" | head -n 1 | cut -d: -f1; }

# run_daemon CONF ARGS...: run it (it must stop by itself), output in $out
run_daemon() {
	local conf=$1
	shift
	out=$(timeout 10 "$@" -f "$conf" -D 2>&1)
	rc=$?
}

# expect_conf_error WHAT CONF PATTERN BIN ARGS...
expect_conf_error() {
	local what=$1 conf=$2 pat=$3
	shift 3
	run_daemon "$conf" "$@"
	note "$(basename "$1") $what: exit $rc: $(printf '%s' "$out" | head -n 3 | tr '\n' '|')"
	check "$(basename "$1"): $what: stops with a non-zero exit" test "$rc" -ne 0 -a "$rc" -ne 124
	check_match "$(basename "$1"): $what: the message names $pat" "$pat" "$out"
}

c=$(variant unknown-key '/^HeartbeatInterval/i FrobnicateLevel=3')
l=$(lineof "$c" FrobnicateLevel)
expect_conf_error "unknown key" "$c" "unknown-key\.conf:$l:.*FrobnicateLevel" "$MER_BIN_MCTLD"
expect_conf_error "unknown key" "$c" "unknown-key\.conf:$l:.*FrobnicateLevel" "$MER_BIN_MNODED" -N n1
out=$(MERIDIAN_CONF=$c mqueue 2>&1); rc=$?
check "mqueue with that config exits non-zero" test "$rc" -ne 0
check_match "mqueue names file:line" "unknown-key\.conf:$l:" "$out"

c=$(variant bad-hostlist 's/^NodeName=n\[1-2\]/NodeName=n[3-1]/')
l=$(lineof "$c" '^NodeName=')
expect_conf_error "bad hostlist n[3-1]" "$c" "bad-hostlist\.conf:$l:" "$MER_BIN_MCTLD"
c=$(variant bad-hostlist2 's/^NodeName=n\[1-2\]/NodeName=n[1-2/')
expect_conf_error "unclosed bracket n[1-2" "$c" "bad-hostlist2\.conf:$l:" "$MER_BIN_MCTLD"

c=$(variant bad-value 's/^HeartbeatInterval=1/HeartbeatInterval=often/')
l=$(lineof "$c" '^HeartbeatInterval')
expect_conf_error "bad number" "$c" "bad-value\.conf:$l:.*(often|HeartbeatInterval)" "$MER_BIN_MCTLD"
c=$(variant bad-gres 's/Gres=gpu:a100:2/Gres=gpu:a100:lots/')
l=$(lineof "$c" '^NodeName=')
expect_conf_error "bad Gres" "$c" "bad-gres\.conf:$l:" "$MER_BIN_MCTLD"
c=$(variant bad-part 's/^PartitionName=main Nodes=ALL/PartitionName=main Nodes=zz[1-2]/')
l=$(lineof "$c" '^PartitionName=')
expect_conf_error "partition with unknown nodes" "$c" "bad-part\.conf:$l:" "$MER_BIN_MCTLD"
c=$(variant no-cluster '/^ClusterName=/d')
expect_conf_error "no ClusterName" "$c" "ClusterName" "$MER_BIN_MCTLD"

c=$(variant bad-plugin 's|^SchedulerType=.*|SchedulerType=sched/nosuch|')
expect_conf_error "missing plugin" "$c" "sched/nosuch|sched_nosuch" "$MER_BIN_MCTLD"

expect_conf_error "unknown node name" "$good" "n9" "$MER_BIN_MNODED" -N n9
expect_conf_error "missing config file" "$MER_T/absent.conf" "absent\.conf" "$MER_BIN_MCTLD"

out=$(timeout 10 "$MER_BIN_MCTLD" --bogus 2>&1); rc=$?
check "mctld --bogus: usage error, non-zero exit" test "$rc" -ne 0 -a "$rc" -ne 124
out=$(timeout 10 "$MER_BIN_MNODED" -f "$good" -D 2>&1); rc=$?
check "mnoded without -N: non-zero exit" test "$rc" -ne 0 -a "$rc" -ne 124
check_match "... saying -N is needed" "-N|NODENAME|[Nn]ode ?name" "$out"
finish
