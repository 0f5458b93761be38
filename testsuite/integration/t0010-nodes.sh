#!/bin/bash
# Nodes register with their CPUs, GPUs and region, show in mnodes and
# mctl; a node whose mnoded is killed (-9) goes DOWN "Not responding"
# after NodeTimeout and comes back when mnoded is restarted.
. "$(dirname "$0")/lib.sh"
mer_init
MER_NODE_LINES="NodeName=n[1-2] NodeAddr=127.0.0.1 CPUs=2 RealMemory=2048 Gres=gpu:a100:2 Region=eu-west
NodeName=n3 NodeAddr=127.0.0.1 CPUs=2 RealMemory=2048 Gres=gpu:h100:2 Region=us-east"
cluster_start 3

out=$(mnodes -N 2>&1)
rc=$?
note "mnodes -N:"; printf '%s\n' "$out" | sed 's/^/#   /'
check_eq "mnodes -N exits 0" 0 "$rc"
for n in n1 n2 n3; do
	check_match "mnodes -N lists $n" "(^|[[:space:]])$n([[:space:]]|$)" "$out"
done
l1=$(printf '%s\n' "$out" | grep -E "(^|[[:space:]])n1([[:space:]]|$)")
l3=$(printf '%s\n' "$out" | grep -E "(^|[[:space:]])n3([[:space:]]|$)")
check_match "n1 line shows region eu-west" "eu-west" "$l1"
check_match "n1 line shows its GPUs (a100, 2)" "a100" "$l1"
check_match "n3 line shows region us-east" "us-east" "$l3"
check_match "n3 line shows its GPUs (h100)" "h100" "$l3"
check_match "n1 line shows 2 CPUs" "(^|[^0-9])2([^0-9]|$)" "$l1"
check_match "n1 line shows an up state (idle)" "[Ii][Dd][Ll][Ee]" "$l1"

hdr=$(printf '%s\n' "$out" | head -n 1)
outh=$(mnodes -N -h 2>&1)
squeeze() { sed 's/  */ /g; s/ $//'; }
check_eq "mnodes -N -h drops exactly the header line" \
	"$(printf '%s\n' "$out" | tail -n +2 | squeeze)" "$(printf '%s\n' "$outh" | squeeze)"
check_match "mnodes -N -h starts with a node line" "^[[:space:]]*n[1-3]([[:space:]]|$)" "$(printf '%s\n' "$outh" | head -n 1)"
check_nomatch "mnodes -N -h has no header" "$(printf '%s' "$hdr" | awk '{print $1}')" "$outh"

sum=$(mnodes 2>&1)
note "mnodes:"; printf '%s\n' "$sum" | sed 's/^/#   /'
check_match "mnodes (summary) names the partition" "main" "$sum"

show=$(mctl show node n1 2>&1)
note "mctl show node n1:"; printf '%s\n' "$show" | sed 's/^/#   /'
check_match "mctl show node n1 has NodeName=n1" "NodeName=n1([[:space:]]|$)" "$show"
check_match "mctl show node n1 State=IDLE" "State=IDLE" "$show"
check_match "mctl show node n1 has 2 CPUs" "CPU[A-Za-z]*=2([[:space:]]|$)" "$show"
check_match "mctl show node n1 has Gres=gpu:a100:2" "gpu:a100:2" "$show"
check_match "mctl show node n1 has Region=eu-west" "Region=eu-west" "$show"
check_match "mctl show node n3 has Region=us-east" "Region=us-east" "$(mctl show node n3 2>&1)"

# ---- a silent node goes DOWN, and comes back
node_kill9 n2
t0=$(date +%s)
if wait_for 15 "n2 DOWN after NodeTimeout=4" eval '[[ "$(node_field n2 State)" == *DOWN* ]]'; then
	pass "n2 goes DOWN after its mnoded is killed"
	t1=$(date +%s)
	note "DOWN after $((t1 - t0)) s (NodeTimeout=4)"
	check "n2 was not marked down before NodeTimeout (>= 3 s)" test $((t1 - t0)) -ge 3
else
	fail "n2 goes DOWN after its mnoded is killed" "$(mctl show node n2 2>&1)"
fi
check_match "n2 reason is 'Not responding'" "Not responding" "$(node_field n2 Reason)"
check_match "mnodes -N shows n2 down" "n2.*(down|DOWN)" "$(mnodes -N 2>&1)"
check "n1 stays up" node_is_up n1
check "n3 stays up" node_is_up n3

node_start n2
if wait_for 15 "n2 back up" node_is_up n2; then
	pass "n2 comes back when mnoded restarts"
else
	fail "n2 comes back when mnoded restarts" "$(mctl show node n2 2>&1)"
fi
check_match "n2 is IDLE again" "IDLE" "$(node_field n2 State)"
check_nomatch "n2 reason 'Not responding' cleared" "Not responding" "$(mctl show node n2 2>&1)"

# ---- a job can use the node that came back
id=$(submit --wrap='hostname' -N 3 -o "$MER_T/work/all-%j.out") || bail "submit failed"
check "a 3-node job runs after n2's return" wait_job_state "$id" COMPLETED 30
check_eq "3-node job NodeList" "n[1-3]" "$(job_field "$id" NodeList)"

check "mctld still running" pid_alive "$MER_CTLD_PID"
finish
