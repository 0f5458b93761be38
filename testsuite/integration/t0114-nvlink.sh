#!/bin/bash
# NVLink inside a node (issue 9, point 4): two nodes whose topology is
# TopologyFile=testsuite/fixtures/topo/gpu-2pack-v100x8-nvlink.xml, a
# DGX-1V: 8 V100 in a hybrid cube-mesh (GPUs 0-3 all joined, 4-7 all
# joined, i to i+4), some pairs by two NVLinks, the rest across sockets.
#
#   - mnoded reads the links from hwloc's NVLinkBandwidth and reports
#     them: mctl show node -d (NvLink=) and --json (gpus[].peers);
#   - select/linear deals GPUs in index order: a job's 8 local ranks go
#     0..7, a ring that crosses the sockets at 3-4 and 7-0;
#   - select/topo (after a restart of mctld on it): the 8 ranks' GPUs are
#     a ring on NVLink only, in the order mquote showed, on each node of a
#     2-node job too, and rank order runs node by node; a 2-GPU job gets a
#     pair joined by two NVLinks.
# What a rank sees is its CUDA_VISIBLE_DEVICES (one GPU per task).
. "$(dirname "$0")/lib.sh"
mer_init
need_mrun
need_cmd timeout
need_cmd python3
FIX=$MERIDIAN_SRCDIR/testsuite/fixtures/topo/gpu-2pack-v100x8-nvlink.xml
[ -r "$FIX" ] || bail "fixture missing: $FIX"
MER_NODE_LINES="NodeName=n[1-2] NodeAddr=127.0.0.1 CPUs=8 RealMemory=2048 Gres=gpu:8 TopologyFile=$FIX Region=eu-west"
cluster_start 2
W=$MER_T/work
cd "$W" || bail "cd $W"

# ---- what mnoded reported
mctl show node n1 --json >n1.json 2>n1.err || bail "mctl show node n1 --json: $(cat n1.err)"
# the NVLink pairs (a<b) with their MB/s, from the JSON
python3 - n1.json >pairs.txt <<'PY' || bail "reading n1.json"
import json, sys
n = json.load(open(sys.argv[1]))["nodes"][0]
for g in n["gpus"]:
    for p in g["peers"]:
        if p["link"] == "nvlink" and g["index"] < p["gpu"]:
            print(g["index"], p["gpu"], p["bandwidth_mbs"])
PY
check_eq "mnoded reports the cube-mesh's 16 NVLink pairs" \
	"0-1 0-2 0-3 0-4 1-2 1-3 1-5 2-3 2-6 3-7 4-5 4-6 4-7 5-6 5-7 6-7" \
	"$(awk '{ print $1 "-" $2 }' pairs.txt | paste -sd' ')"
check_eq "each GPU has six NVLinks' worth, 25000 MB/s a link" \
	"150000 150000 150000 150000 150000 150000 150000 150000" \
	"$(awk '{ s[$1] += $3; s[$2] += $3 } END { for (g = 0; g < 8; g++) printf "%s%d", g ? " " : "", s[g] }' pairs.txt)"
check_eq "the pairs not on NVLink are across the sockets" "smp" \
	"$(python3 -c '
import json, sys
n = json.load(open(sys.argv[1]))["nodes"][0]
print(" ".join(sorted({p["link"] for g in n["gpus"] for p in g["peers"] if p["link"] != "nvlink"})))' n1.json)"
show=$(mctl -d -o show node n1 2>&1)
check_match "mctl show node -d: GPU 0's NVLink peers and their GB/s" \
	'Gpu=0 .*NvLink=1:[0-9]+G,2:[0-9]+G,3:[0-9]+G,4:[0-9]+G( |$)' "$show"

work_script gpuline.sh <<'EOS'
#!/bin/bash
echo "GPU rank=$RANK procid=$SLURM_PROCID node=$SLURMD_NODENAME local=$LOCAL_RANK cvd=${CUDA_VISIBLE_DEVICES-unset}"
EOS
# run_job NAME SBATCH-ARGS -- MRUN-ARGS: a batch job of one step, its
# lines in NAME.out; waits for the job.
run_job() {
	local name=$1 j
	shift
	local sb=() mr=()
	while [ $# -gt 0 ] && [ "$1" != -- ]; do sb+=("$1"); shift; done
	shift
	mr=("$@")
	j=$(submit "${sb[@]}" -t 5 -o "$name.job" --wrap="timeout -k 5 60 mrun ${mr[*]} --cpu-bind=none ./gpuline.sh >$name.out 2>$name.err") ||
		bail "submit $name"
	wait_job_end "$j" 120 || note "job $j ($name) did not end in time: $(job_show "$j")"
	check_eq "job $name COMPLETED" COMPLETED "$(job_state "$j")"
}
# ring_check NAME: per node, its local ranks' GPUs in local rank order,
# and whether each with the next (the last with the first) is an NVLink
# pair; "n1 0 3 2 1 5 6 7 4 nvlink-ring" or "... crosses 3-4 7-0".
ring_check() {
	python3 - "$1.out" pairs.txt <<'PY'
import sys
nv = set()
for l in open(sys.argv[2]):
    a, b, _ = l.split()
    nv |= {(int(a), int(b)), (int(b), int(a))}
nodes = {}
for l in open(sys.argv[1]):
    if not l.startswith("GPU "):
        continue
    kv = dict(w.split("=", 1) for w in l.split()[1:])
    nodes.setdefault(kv["node"], []).append((int(kv["local"]), int(kv["cvd"])))
for n in sorted(nodes):
    g = [c for _, c in sorted(nodes[n])]
    bad = ["%d-%d" % (g[i], g[(i + 1) % len(g)]) for i in range(len(g))
           if (g[i], g[(i + 1) % len(g)]) not in nv]
    print(n, " ".join(map(str, g)), "crosses " + " ".join(bad) if bad else "nvlink-ring")
PY
}

# ---- select/linear: index order
run_job L8 -N 1 -n 8 --gres=gpu:8 -- -n 8 --gpus-per-task=1
check_eq "select/linear: 8 local ranks on GPUs 0..7, crossing the sockets twice" \
	"n1 0 1 2 3 4 5 6 7 crosses 3-4 7-0" "$(ring_check L8)"

# ---- select/topo
sed -i -e "s|^SelectType=.*|SelectType=select/topo|" "$MER_CONF"
ctld_restart
wait_nodes_up 2 30 || bail "the nodes did not come back after mctld's restart"
quote=$(as_user mquote -N 1 -n 8 --gres=gpu:8 2>&1)
note "mquote: $(echo "$quote" | paste -sd'|')"
qorder=$(as_user mquote --json -N 1 -n 8 --gres=gpu:8 2>/dev/null |
	python3 -c 'import json, sys; n = json.load(sys.stdin)["nodes"][0]; print(n["name"], " ".join(map(str, n["gpu_order"])))')
check_match "mquote names the GPU order it would give" 'GPU_ORDER' "$quote"
run_job T8 -N 1 -n 8 --gres=gpu:8 -- -n 8 --gpus-per-task=1
r=$(ring_check T8)
note "select/topo, 8 GPUs: $r"
check_match "select/topo: the 8 local ranks' GPUs are a ring on NVLink only" \
	'^n[12] ([0-7] ){7}[0-7] nvlink-ring$' "$r"
check_eq "and they are the node and order mquote said" "$qorder nvlink-ring" "$r"

run_job T16 -N 2 -n 16 --ntasks-per-node=8 --gres=gpu:8 -- -n 16 --gpus-per-task=1
r=$(ring_check T16 | paste -sd'|')
note "select/topo, 2 nodes of 8: $r"
check_match "on each node of a 2-node job too" \
	'^n1 ([0-7] ){7}[0-7] nvlink-ring\|n2 ([0-7] ){7}[0-7] nvlink-ring$' "$r"
check_eq "ranks run node by node: 0-7 on the first node, 8-15 on the second, RANK = SLURM_PROCID" \
	"ok" "$(python3 -c '
import sys
rows = [dict(w.split("=", 1) for w in l.split()[1:]) for l in open(sys.argv[1]) if l.startswith("GPU ")]
rows.sort(key=lambda r: int(r["rank"]))
first = rows[0]["node"] if rows else ""
ok = len(rows) == 16 and all(r["rank"] == r["procid"] for r in rows) and \
    all((r["node"] == first) == (int(r["rank"]) < 8) for r in rows) and \
    all(int(r["local"]) == int(r["rank"]) % 8 for r in rows)
print("ok" if ok else rows)' T16.out)"

run_job T2 -N 1 -n 2 --gres=gpu:2 -- -n 2 --gpus-per-task=1
pair=$(grep -h '^GPU ' T2.out | sed 's/.*cvd=//' | sort -n | paste -sd' ')
mbs=$(awk -v p="$pair" '$1 " " $2 == p { print $3 }' pairs.txt)
check_eq "a 2-GPU job gets a pair joined by two NVLinks (got GPUs $pair)" 50000 "${mbs:-none}"

check "mctld still running" pid_alive "$MER_CTLD_PID"
finish
