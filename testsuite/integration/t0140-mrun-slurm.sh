#!/bin/bash
# mrun's Slurm spellings (issue 11, point 3): what an srun user types.
#
#   - `mrun --mpi=list` prints the MPI types and exits 0 with no
#     controller at all;
#   - --cpu_bind= (srun's old spelling) as --cpu-bind=, Slurm's "no" and
#     "quiet" taken, its verbose/sockets/map_cpu refused by name;
#   - --mpi=pmi2 across 2 nodes x 2 ranks: a PMI-2 client (python3,
#     speaking the wire protocol over PMI_FD as MPICH's and Slurm's libpmi2
#     do: the PMI-1 init line, then length-prefixed commands) sees
#     PMI_JOBID, fullinit, job-getid, the process mapping, universeSize,
#     kvs-put/fence/get crossing nodes, node attributes with wait, and a
#     clear refusal of spawn; Debian's MPICH (PMI-1 only) still runs under
#     --mpi=pmi2, as under Slurm's mpi/pmi2;
#   - --exclusive steps inside a job of 2 CPUs on one node: two 1-CPU
#     steps run at once on different CPUs, a third waits for one of them
#     ("step creation temporarily disabled") and then runs, and one that
#     needs more CPUs than the job has is refused saying so;
#   - --ntasks-per-node inside an allocation of 2 nodes: the step's tasks
#     per node, with -N and -n as srun lays them out, SLURM_NTASKS_PER_NODE
#     the step's;
#   - bash completion: both spellings, --exclusive, the values of --mpi=
#     and --cpu-bind=.
. "$(dirname "$0")/lib.sh"
mer_init
need_mrun
need_cmd python3 timeout
MRUN=$MER_CMD_DIR/mrun

# ---- --mpi=list, before any daemon runs
out=$(MERIDIAN_CONF=$MER_T/no-such.conf "$MRUN" --mpi=list 2>&1)
rc=$?
check_eq "--mpi=list: exit 0 without a controller or a config" 0 "$rc"
check_eq "--mpi=list: the types, in srun's words" \
	"$(printf 'MPI plugin types are...\n\tnone\n\tpmi1\n\tpmi2')" "$out"
out=$(MERIDIAN_CONF=$MER_T/no-such.conf "$MRUN" --cpu_bind=verbose,cores true 2>&1)
rc=$?
check_eq "--cpu_bind=verbose,cores: bad usage (2)" 2 "$rc"
check_match "--cpu_bind=verbose,cores: verbose refused by name" \
	"--cpu_bind=verbose,cores: Slurm's verbose is not supported" "$out"
out=$(MERIDIAN_CONF=$MER_T/no-such.conf "$MRUN" --cpu-bind=map_cpu:0,1 true 2>&1)
check_match "--cpu-bind=map_cpu:0,1: map_cpu refused by name" \
	"Slurm's map_cpu is not supported" "$out"
out=$(MERIDIAN_CONF=$MER_T/no-such.conf "$MRUN" --mpi=pmix true 2>&1)
check_match "--mpi=pmix: refused, naming what is served" \
	"--mpi=pmix: expected pmi1, pmi2, none or list" "$out"

# ---- bash completion offers the new spellings and values
comp() { # WORDS...: what completing the last one offers
	bash -c '. "$1"/contrib/completion/meridian.bash
		shift
		COMP_WORDS=("$@")
		COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
		_meridian
		printf "%s\n" "${COMPREPLY[@]}" | sort | paste -sd" "' \
		comp "$MERIDIAN_SRCDIR" "$@"
}
check_eq "completion: mrun --mpi=<TAB>" \
	"--mpi=list --mpi=none --mpi=pmi1 --mpi=pmi2" "$(comp mrun --mpi=)"
check_eq "completion: mrun --cpu_bind = <TAB>" "cores gpu-local none" \
	"$(comp mrun --cpu_bind = '')"
check_eq "completion: mrun --cpu<TAB> offers both spellings" \
	"--cpu-bind --cpu_bind --cpus-per-task" "$(comp "$MRUN" --cpu)"
check_match "completion: mrun --ex<TAB> offers --exclusive" "--exclusive" "$(comp "$MRUN" --ex)"

cluster_start 2
W=$MER_T/work
cd "$W" || bail "cd $W"

# A PMI-2 client: what MPICH's and Slurm's libpmi2 send.
cat >pmi2_client.py <<'EOP'
import os, socket, sys

fd = int(os.environ["PMI_FD"])
rank = int(os.environ["PMI_RANK"])
size = int(os.environ["PMI_SIZE"])
jobid = os.environ.get("PMI_JOBID", "<unset>")
local = int(os.environ["SLURM_LOCALID"])
s = socket.socket(fileno=fd)
buf = b""

def readn(n):
    global buf
    while len(buf) < n:
        d = s.recv(65536)
        if not d:
            sys.exit("rank %d: PMI connection closed" % rank)
        buf += d
    out, buf = buf[:n], buf[n:]
    return out

def parse(body):
    kv, i = {}, 0
    while i < len(body):
        j = body.index("=", i)
        key, v = body[i:j], ""
        j += 1
        while j < len(body):
            if body[j] == ";":
                if j + 1 < len(body) and body[j + 1] == ";":
                    v += ";"
                    j += 2
                    continue
                break
            v += body[j]
            j += 1
        kv[key] = v
        i = j + 1
    return kv

def cmd(body, expect, ok=True):
    data = body.encode()
    s.sendall(b"%-6d" % len(data) + data)
    n = int(readn(6).decode())
    kv = parse(readn(n).decode())
    if kv.get("cmd") != expect or (ok and kv.get("rc") != "0"):
        sys.exit("rank %d: %r got %r" % (rank, body, kv))
    return kv

# PMI2_Init: one PMI-1 line first
s.sendall(b"cmd=init pmi_version=2 pmi_subversion=0\n")
while b"\n" not in buf:
    buf += s.recv(4096)
line, buf = buf.split(b"\n", 1)
if line != b"cmd=response_to_init pmi_version=2 pmi_subversion=0 rc=0":
    sys.exit("rank %d: init got %r" % (rank, line))
fi = cmd("cmd=fullinit;pmijobid=%s;pmirank=%d;threaded=FALSE;" % (jobid, rank),
         "fullinit-response")
jid = cmd("cmd=job-getid;", "job-getid-response")["jobid"]
pmap = cmd("cmd=info-getjobattr;key=PMI_process_mapping;", "info-getjobattr-response")
usize = cmd("cmd=info-getjobattr;key=universeSize;", "info-getjobattr-response")
cmd("cmd=kvs-put;key=t0140-%d;value=from;;%d;" % (rank, rank), "kvs-put-response")
# node attributes: local rank 0 puts, the other waits for it
if local == 0:
    cmd("cmd=info-putnodeattr;key=shm;value=seg-%d;" % rank, "info-putnodeattr-response")
na = cmd("cmd=info-getnodeattr;key=shm;wait=TRUE;", "info-getnodeattr-response")
cmd("cmd=kvs-fence;", "kvs-fence-response")
peer = (rank + 1) % size
got = cmd("cmd=kvs-get;jobid=%s;srcid=-1;key=t0140-%d;" % (jid, peer), "kvs-get-response")
sp = cmd("cmd=spawn;ncmds=1;preputcount=0;subcmd=x;maxprocs=1;argc=0;",
         "spawn-response", ok=False)
print("PMI2 rank=%s size=%s appnum=%s jobid=%s env_jobid=%s mapping=%s "
      "universe=%s nodeattr=%s peer=%s spawn_rc=%s"
      % (fi["rank"], fi["size"], fi["appnum"], jid, jobid, pmap.get("value"),
         usize.get("value"), na.get("value"), got.get("value"), sp.get("rc")),
      flush=True)
print("SPAWN rank=%d errmsg=%s" % (rank, sp.get("errmsg")), flush=True)
cmd("cmd=finalize;", "finalize-response")
EOP
chown "$MER_UID:$MER_GID" pmi2_client.py

# An exclusive step's rank: its CPUs, then a while.
cat >cpus.sh <<'EOS'
#!/bin/bash
echo "STEP $SLURM_STEP_ID CPUS $(awk '/^Cpus_allowed_list/ { print $2 }' /proc/self/status)"
[ -n "$1" ] && sleep "$1"
exit 0
EOS
chown "$MER_UID:$MER_GID" cpus.sh
chmod 0755 cpus.sh

# ---------------------------------------------------------------- job A
# 2 nodes x 2 tasks: PMI-2, MPICH under --mpi=pmi2, --ntasks-per-node,
# --cpu_bind.
work_script jobA.sh <<'EOS'
#!/bin/bash
export UCX_TLS=shm,self
run() { # NAME ARGS...
	local n=$1
	shift
	timeout -k 5 120 mrun "$@" >"$n.out" 2>"$n.err"
	echo $? >"$n.rc"
}
where='echo "TASK $SLURM_PROCID NODE $SLURMD_NODENAME NTPN ${SLURM_NTASKS_PER_NODE-<unset>} NTASKS $SLURM_NTASKS"'
run P1 -n 4 --mpi=pmi2 python3 ./pmi2_client.py
[ -x ./mpi_hello ] && run P2 -n 4 --mpi=pmi2 --label ./mpi_hello
run T1 bash -c "$where"
run T2 --ntasks-per-node=1 bash -c "$where"
run T3 -N 1 --ntasks-per-node=2 bash -c "$where"
run T4 -n 3 --ntasks-per-node=2 bash -c "$where"
run T5 -n 5 --ntasks-per-node=2 bash -c "$where"
run B1 -n 1 --cpu_bind=no,quiet /bin/true
run B2 -n 1 --cpu_bind=cores /bin/true
exit 0
EOS
if [ -x "$MERIDIAN_BUILDDIR/src/mstepd/test/mpi_hello" ]; then
	install -m 0755 -o "$MER_UID" -g "$MER_GID" \
		"$MERIDIAN_BUILDDIR/src/mstepd/test/mpi_hello" "$W/mpi_hello"
else
	note "no mpi_hello in the build tree (make check builds it): MPICH under --mpi=pmi2 not run"
fi

J=$(submit -N 2 --ntasks-per-node=2 -t 5 -o jobA-%j.out jobA.sh) || bail "submit jobA.sh"
note "job A: $J"
wait_job_end "$J" 300 || note "job $J did not end in time: $(job_show "$J")"
check_eq "job A COMPLETED" COMPLETED "$(job_state "$J")"
rc_of() { cat "$1.rc" 2>/dev/null || echo "<no $1.rc: the job did not get there>"; }
lines() { grep -E "^$2 " "$1.out" 2>/dev/null | sort -t= -k2 -n | paste -sd'|'; }

# ---- PMI-2
check_eq "pmi2: mrun exits 0" 0 "$(rc_of P1)"
[ -s P1.err ] && note "pmi2 stderr: $(head -c 1000 P1.err | tr '\n' '|')"
for r in 0 1 2 3; do
	peer=$(((r + 1) % 4))
	node=$((r / 2))
	check_eq "pmi2: rank $r's view (fullinit, PMI_JOBID, mapping, universe, its node's attribute, rank $peer's key after the fence)" \
		"PMI2 rank=$r size=4 appnum=0 jobid=$J.0 env_jobid=$J.0 mapping=(vector,(0,2,2)) universe=4 nodeattr=seg-$((node * 2)) peer=from;$peer spawn_rc=-1" \
		"$(grep -E "^PMI2 rank=$r " P1.out 2>/dev/null)"
done
check_match "pmi2: spawn refused, saying why" \
	"^SPAWN rank=0 errmsg=spawn is not supported by Meridian" "$(grep '^SPAWN rank=0 ' P1.out 2>/dev/null)"
st=$(step_show "$J.0")
check_match "pmi2: mctl show step: COMPLETED, Mpi=pmi2" "State=COMPLETED.*Mpi=pmi2|Mpi=pmi2.*State=COMPLETED" "$st"

if [ -x "$W/mpi_hello" ]; then
	check_eq "MPICH (PMI-1) under --mpi=pmi2: mrun exits 0" 0 "$(rc_of P2)"
	check_eq "MPICH under --mpi=pmi2: four ranks of 4, labelled with their own rank, the allreduce right (1+2+3+4)" \
		"0 0 4 10|1 1 4 10|2 2 4 10|3 3 4 10" \
		"$(awk '$2 == "rank" { sub(":", "", $1); print $1, $3, $5, $7 }' P2.out 2>/dev/null | sort -n | paste -sd'|')"
	[ "$(rc_of P2)" = 0 ] || note "P2: $(head -c 1500 P2.out P2.err | tr '\n' '|')"
fi

# ---- --ntasks-per-node (the job: -N 2 --ntasks-per-node=2)
tasks() { # FILE: "TASK NODE" pairs in task order
	awk '$1 == "TASK" { print $2, $4 }' "$1.out" 2>/dev/null | sort -n | paste -sd'|'
}
check_eq "no -n inside a --ntasks-per-node=2 job of 2 nodes: 4 tasks, 2 a node" \
	"0 n1|1 n1|2 n2|3 n2" "$(tasks T1)"
check_eq "--ntasks-per-node=1: one task on each of the 2 nodes" "0 n1|1 n2" "$(tasks T2)"
check_eq "--ntasks-per-node=1: SLURM_NTASKS_PER_NODE=1, SLURM_NTASKS=2" \
	"NTPN 1 NTASKS 2" "$(awk '$1 == "TASK" && $2 == 0 { print $5, $6, $7, $8 }' T2.out 2>/dev/null)"
check_eq "-N 1 --ntasks-per-node=2: 2 tasks on n1" "0 n1|1 n1" "$(tasks T3)"
check_eq "-n 3 --ntasks-per-node=2: 2 on n1, 1 on n2" "0 n1|1 n1|2 n2" "$(tasks T4)"
check_eq "-n 5 --ntasks-per-node=2 on 2 nodes: refused (exit 1)" 1 "$(rc_of T5)"
check_match "-n 5 --ntasks-per-node=2: says it does not fit" \
	"-n 5 does not fit 2 nodes with --ntasks-per-node=2" "$(cat T5.err 2>/dev/null)"

# ---- --cpu_bind (steps 0 P1, [1 P2,] T1-T4, then B1 and B2)
b1=$((5 + $([ -x "$W/mpi_hello" ] && echo 1 || echo 0)))
check_eq "--cpu_bind=no,quiet: runs" 0 "$(rc_of B1)"
check_eq "--cpu_bind=no,quiet is --cpu-bind=none" none "$(step_field "$J.$b1" CpuBind)"
check_eq "--cpu_bind=cores: runs" 0 "$(rc_of B2)"
check_eq "--cpu_bind=cores is --cpu-bind=cores" cores "$(step_field "$J.$((b1 + 1))" CpuBind)"

# ---------------------------------------------------------------- job B
# One node, 2 CPUs: exclusive steps.
work_script jobB.sh <<'EOS'
#!/bin/bash
mrun -n 1 --exclusive ./cpus.sh 6 >E1.out 2>E1.err &
p1=$!
sleep 1.5
mrun -n 1 --exclusive ./cpus.sh 6 >E2.out 2>E2.err &
p2=$!
sleep 1.5
# both CPUs are held: this one waits for one of them
t0=$(date +%s%N)
mrun -n 1 --exclusive ./cpus.sh >E3.out 2>E3.err
echo $? >E3.rc
echo $(( ($(date +%s%N) - t0) / 1000000 )) >E3.ms
wait $p1
echo $? >E1.rc
wait $p2
echo $? >E2.rc
mrun -n 1 -c 3 --exclusive ./cpus.sh >E4.out 2>E4.err
echo $? >E4.rc
exit 0
EOS
J=$(submit -N 1 -n 2 -t 5 -o jobB-%j.out jobB.sh) || bail "submit jobB.sh"
note "job B: $J ($(job_field "$J" NodeList))"
wait_job_end "$J" 120 || note "job $J did not end in time: $(job_show "$J")"
check_eq "job B COMPLETED" COMPLETED "$(job_state "$J")"
cpus() { awk '$1 == "STEP" { print $4 }' "$1.out" 2>/dev/null; }
check_eq "--exclusive: step 1 runs" 0 "$(rc_of E1)"
check_eq "--exclusive: step 2 runs beside it" 0 "$(rc_of E2)"
c1=$(cpus E1)
c2=$(cpus E2)
note "exclusive steps' CPUs: $c1 and $c2"
check "--exclusive: step 1 is bound to a CPU" test -n "$c1"
check "--exclusive: the two steps run on different CPUs" test -n "$c2" -a "$c1" != "$c2"
check_eq "--exclusive: the third step ran once a CPU was free" 0 "$(rc_of E3)"
check_match "--exclusive: the third step said it waits, as srun does" \
	"^mrun: job $J step creation temporarily disabled, retrying \(--exclusive: 0 of job $J's 2 CPUs on n1 are free" \
	"$(head -n 1 E3.err 2>/dev/null)"
check_match "--exclusive: and that it got its step" "step created for job $J" "$(cat E3.err 2>/dev/null)"
note "the third exclusive step took $(cat E3.ms 2>/dev/null) ms (step 1 ends some 3 s after it asked)"
check "--exclusive: the third waited for the first step to end (over 2 s)" \
	test "$(cat E3.ms 2>/dev/null || echo 0)" -gt 2000
check_eq "--exclusive: the third got step 1's CPU" "$c1" "$(cpus E3)"
check_eq "--exclusive -c 3 on a job of 2 CPUs: refused (exit 1)" 1 "$(rc_of E4)"
check_match "--exclusive -c 3: says the job has too few CPUs there" \
	"the step needs 3 CPUs on n1 \(1 tasks x 3 CPUs\) and job $J has 2 there" "$(cat E4.err 2>/dev/null)"

finish
