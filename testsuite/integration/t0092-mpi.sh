#!/bin/bash
# MPI under mrun (issue 3): unmodified MPICH programs (Debian's MPICH 4.0.2,
# PMI-1 only) started by `mbatch` + `mrun` on 3 nodes x 2 ranks.
#
#   - the data-parallel toy (contrib/examples/mpi_train): every rank prints
#     the same final checksum and loss, MPI ranks are the step's ranks
#     (--label), the run agrees with MPICH's own launcher (mpiexec), and
#     MPICH saw 6 ranks (PMI wire-up across the 3 mstepds worked);
#   - MPI_Abort on one rank: the step ends FAILED naming that rank, and no
#     rank is left running;
#   - a rank that exits 3 while the others wait in MPI_Barrier: the step
#     ends (kill-on-bad-exit) with exit 3, naming the rank;
#   - the finalize timeout: a PMI-1 client (python3, speaking the wire
#     protocol over PMI_FD) that hangs after finalize is killed after
#     FinalizeTimeout (or mrun --finalize-timeout) seconds and reported;
#     on the way it checks the KVS crossing nodes at a barrier, the
#     kvsname, appnum, universe size and PMI_process_mapping.
#
# UCX: every "node" here is this one machine, so UCX_TLS=shm,self: it is
# what UCX would pick between local processes anyway, and it keeps clear
# of MPICH 4.0.2's hang in MPI_Finalize over UCX tcp (see
# src/mstepd/pmi.h).  That the wire-up does not depend on shared memory is
# t0096-netns.sh's business (tcp only, across network namespaces).
. "$(dirname "$0")/lib.sh"
mer_init
need_mrun
need_cmd pgrep timeout
need_mpi_example mpi_train
need_cmd mpiexec
MER_EXTRA_CONF="FinalizeTimeout=3"
cluster_start 3
W=$MER_T/work
cd "$W" || bail "cd $W"

# A rank that aborts, or exits without MPI_Finalize, while the others wait.
mpi_compile t0092fail <<'EOC'
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* t0092fail abort|exit RANK: after a first barrier (all wired up), RANK
 * calls MPI_Abort(9) or exit(3); the others wait in a second barrier,
 * which never completes. */
int main(int argc, char **argv)
{
	int rank, size, who;

	MPI_Init(&argc, &argv);
	MPI_Comm_rank(MPI_COMM_WORLD, &rank);
	MPI_Comm_size(MPI_COMM_WORLD, &size);
	who = argc > 2 ? atoi(argv[2]) : size - 1;
	printf("rank %d of %d up\n", rank, size);
	fflush(stdout);
	MPI_Barrier(MPI_COMM_WORLD);
	if (rank == who) {
		if (argc > 1 && !strcmp(argv[1], "abort"))
			MPI_Abort(MPI_COMM_WORLD, 9);
		sleep(1);
		exit(3);
	}
	MPI_Barrier(MPI_COMM_WORLD);
	MPI_Finalize();
	return 0;
}
EOC

# A raw PMI-1 client: what MPICH's simple PMI sends, line by line.
cat >pmi_hang.py <<'EOP'
# pmi_hang.py HANG_RANK: init, get_maxes, get_appnum, get_my_kvsname,
# get_universe_size, get PMI_process_mapping, put, barrier, get the next
# rank's key (from another node), finalize; then HANG_RANK sleeps.
import os, socket, sys, time

fd = int(os.environ["PMI_FD"])
rank = int(os.environ["PMI_RANK"])
size = int(os.environ["PMI_SIZE"])
s = socket.socket(fileno=fd)
buf = b""

def cmd(line, expect):
    global buf
    s.sendall((line + "\n").encode())
    while b"\n" not in buf:
        d = s.recv(4096)
        if not d:
            sys.exit("rank %d: PMI connection closed after %r" % (rank, line))
        buf += d
    reply, buf = buf.split(b"\n", 1)
    kv = dict(t.split("=", 1) for t in reply.decode().split() if "=" in t)
    if kv.get("cmd") != expect or kv.get("rc", "0") != "0":
        sys.exit("rank %d: %r got %r" % (rank, line, reply.decode()))
    return kv

cmd("cmd=init pmi_version=1 pmi_subversion=1", "response_to_init")
cmd("cmd=get_maxes", "maxes")
app = cmd("cmd=get_appnum", "appnum")["appnum"]
kvs = cmd("cmd=get_my_kvsname", "my_kvsname")["kvsname"]
usize = cmd("cmd=get_universe_size", "universe_size")["size"]
pmap = cmd("cmd=get kvsname=%s key=PMI_process_mapping" % kvs, "get_result")["value"]
cmd("cmd=put kvsname=%s key=t0092-%d value=from-%d" % (kvs, rank, rank), "put_result")
cmd("cmd=barrier_in", "barrier_out")
peer = (rank + 1) % size
got = cmd("cmd=get kvsname=%s key=t0092-%d" % (kvs, peer), "get_result")["value"]
print("PMI rank=%d kvsname=%s appnum=%s universe=%s mapping=%s peer=%s"
      % (rank, kvs, app, usize, pmap, got), flush=True)
cmd("cmd=finalize", "finalize_ack")
if rank == int(sys.argv[1]):
    time.sleep(300)
EOP
chown "$MER_UID:$MER_GID" pmi_hang.py

work_script mpijob.sh <<'EOS'
#!/bin/bash
# See the top of t0092-mpi.sh for why shm.
export UCX_TLS=shm,self
run() { # NAME ARGS...: mrun's outputs, exit status, time, ranks left
	local n=$1 t0
	shift
	t0=$(date +%s%N)
	timeout -k 5 120 mrun "$@" >"$n.out" 2>"$n.err"
	echo $? >"$n.rc"
	echo $(( ($(date +%s%N) - t0) / 1000000 )) >"$n.ms"
	# ranks of this test still there (those of a test running beside it
	# have another working directory)
	for p in $(pgrep -u "$(id -u)" -f 't0092fail|pmi_hang|mpi_train'); do
		[ "$(readlink "/proc/$p/cwd")" = "$PWD" ] && echo "$p $(tr '\0' ' ' <"/proc/$p/cmdline")"
	done >"$n.left"
}
run M0 -n 6 -N 3 --label ./mpi_train --steps 50 --every 10
run M1 -n 6 -N 3 ./t0092fail abort 4
run M2 -n 6 -N 3 ./t0092fail exit 3
run M3 -n 4 -N 2 python3 ./pmi_hang.py 1
run M4 -n 4 -N 2 --finalize-timeout=2 python3 ./pmi_hang.py 2
exit 0
EOS

# The reference: the same run under MPICH's own launcher on this machine.
ref=$(cd "$W" && UCX_TLS=shm,self timeout 120 mpiexec -n 6 ./mpi_train --steps 50 --every 10 2>&1 |
	sed -n 's/^rank 0 final //p')
note "mpiexec -n 6 reference: $ref"

J=$(submit -N 3 -n 6 -t 5 -o mpi-%j.out mpijob.sh) || bail "submit mpijob.sh"
note "job $J"
wait_job_end "$J" 420 || note "job $J did not end in time: $(job_show "$J")"
check_eq "the MPI job COMPLETED" COMPLETED "$(job_state "$J")"
rc_of() { cat "$1.rc" 2>/dev/null || echo "<no $1.rc: the job did not get there>"; }

# ---- the training toy
check_eq "mpi_train: mrun exits 0" 0 "$(rc_of M0)"
finals=$(grep -E '^[0-5]: rank [0-5] final checksum ' M0.out 2>/dev/null)
check_eq "mpi_train: six final lines, each labelled with its own MPI rank" \
	"0 0|1 1|2 2|3 3|4 4|5 5" "$(printf '%s\n' "$finals" | awk '{ sub(":", "", $1); print $1, $3 }' | sort | paste -sd'|')"
check_eq "mpi_train: every rank has the same checksum and loss" 1 \
	"$(printf '%s\n' "$finals" | sed 's/^[0-5]: rank [0-5] final //' | sort -u | grep -c .)"
mine=$(printf '%s\n' "$finals" | sed -n 's/^0: rank 0 final //p')
check_match "mpi_train: the result is a checksum and a loss" '^checksum 0x[0-9a-f]{16} loss [0-9.]+$' "$mine"
check_eq "mpi_train: MPICH saw 6 ranks (one header, from rank 0)" \
	"0: 6 ranks, 577 parameters, 1024 samples per rank, batch 32; initial loss" \
	"$(grep 'ranks, 577 parameters' M0.out 2>/dev/null | sed 's/ [0-9.]*$//')"
check_eq "mpi_train: the loss went down over 50 steps (rank 0's last report)" 1 \
	"$(awk '/ initial loss / { i = $NF } /^0: step 50 loss / { l = $5 } END { print (i > 0 && l > 0 && l < i) ? 1 : 0 }' M0.out 2>/dev/null)"
check_eq "mpi_train: the same result as under mpiexec -n 6" "$ref" "$mine"
check_eq "mpi_train: no rank left after mrun returned" "" "$(cat M0.left 2>/dev/null)"
[ -s M0.err ] && note "mpi_train stderr: $(head -c 1000 M0.err | tr '\n' '|')"

# ---- MPI_Abort on rank 4 (on n3)
note "MPI_Abort(9) on rank 4: mrun exit $(rc_of M1) after $(cat M1.ms 2>/dev/null) ms"
# the aborting rank's code, as mctl show step reports it (not 137 of the
# ranks the abort killed), as with kill-on-bad-exit below
check_eq "MPI_Abort: mrun exits with the abort's code (9)" 9 "$(rc_of M1)"
check_match "MPI_Abort: mrun names rank 4 on n3 as aborted" "^mrun: error: .*rank 4 on n3 aborted" "$(cat M1.err 2>/dev/null)"
check "MPI_Abort: the step ends within 20 s" test "$(cat M1.ms 2>/dev/null || echo 999999)" -lt 20000
check_eq "MPI_Abort: no rank left running when mrun returns" "" "$(cat M1.left 2>/dev/null)"
st=$(step_show "$J.1")
note "mctl show step $J.1: $st"
check_match "MPI_Abort: mctl show step says FAILED" "(^| )State=FAILED" "$st"
check_match "MPI_Abort: mctl show step: ExitCode=9:0" "ExitCode=9:0" "$st"
check_match "MPI_Abort: mctl show step names rank 4 and the abort (exit code 9)" "rank 4 on n3 aborted.*exit code 9" "$st"
check_match "MPI_Abort: FailedRank=4" "FailedRank=4( |$)" "$st"
check_match "MPI_Abort: mqueue --steps shows the step FAILED with rank 4" "FAILED.*rank 4 on n3 aborted" "$(step_lines "$J.1")"

# ---- a rank exits 3 while the others wait in a barrier
check_eq "exit(3) in a barrier: mrun exits 3" 3 "$(rc_of M2)"
check_match "exit(3): mrun names rank 3 on n2" "^mrun: error: .*rank 3 on n2 exited with code 3" "$(cat M2.err 2>/dev/null)"
note "exit(3) on rank 3: the step took $(cat M2.ms 2>/dev/null) ms"
check "exit(3): the others are killed, the step ends within 20 s" test "$(cat M2.ms 2>/dev/null || echo 999999)" -lt 20000
check_eq "exit(3): no rank left running when mrun returns" "" "$(cat M2.left 2>/dev/null)"
st=$(step_show "$J.2")
check_match "exit(3): mctl show step: FAILED, ExitCode=3:0, rank 3" "rank 3 on n2 exited with code 3" "$st"
check_match "exit(3): mctl show step: ExitCode=3:0" "ExitCode=3:0" "$st"

# ---- PMI details and the finalize timeout (FinalizeTimeout=3)
pmi_vals() { grep -E "^PMI rank=$2 " "$1.out" 2>/dev/null; }
check_eq "PMI: rank 0's view (kvsname, appnum, universe, mapping of 2 nodes x 2, a key from rank 1)" \
	"PMI rank=0 kvsname=meridian-$J.3 appnum=0 universe=4 mapping=(vector,(0,2,2)) peer=from-1" "$(pmi_vals M3 0)"
check_eq "PMI: rank 1 read rank 2's key, put on the other node, after the barrier" \
	"PMI rank=1 kvsname=meridian-$J.3 appnum=0 universe=4 mapping=(vector,(0,2,2)) peer=from-2" "$(pmi_vals M3 1)"
check_eq "PMI: rank 3 read rank 0's key across nodes" \
	"PMI rank=3 kvsname=meridian-$J.3 appnum=0 universe=4 mapping=(vector,(0,2,2)) peer=from-0" "$(pmi_vals M3 3)"
check_eq "finalize timeout: mrun exits 137 (rank 1 SIGKILLed)" 137 "$(rc_of M3)"
check_match "finalize timeout: mrun names rank 1 hung in MPI_Finalize" \
	"^mrun: error: .*rank 1 on n1 hung in MPI_Finalize: killed after 3 s" "$(cat M3.err 2>/dev/null)"
ms=$(cat M3.ms 2>/dev/null || echo 0)
note "finalize timeout 3 s: the step took $ms ms"
check "finalize timeout: not killed before 3 s" test "$ms" -ge 2900
check "finalize timeout: killed well before the 300 s sleep ends (< 20 s)" test "$ms" -lt 20000
check_eq "finalize timeout: no rank left" "" "$(cat M3.left 2>/dev/null)"
check_match "finalize timeout: mctl show step gives the reason" "rank 1 on n1 hung in MPI_Finalize: killed after 3 s" "$(step_show "$J.3")"
check_eq "--finalize-timeout=2: mrun exits 137" 137 "$(rc_of M4)"
check_match "--finalize-timeout=2 overrides FinalizeTimeout=3 for one step" \
	"rank 2 on n2 hung in MPI_Finalize: killed after 2 s" "$(cat M4.err 2>/dev/null)"

sleep 1
check_eq "no rank of any step left (pgrep for $MERIDIAN_TEST_USER)" "" "$(user_procs_in "$W" 't0092fail|pmi_hang|mpi_train')"
check_eq "no job process left under the test dir" "" "$(job_procs_left_ps)"
check "mctld still running" pid_alive "$MER_CTLD_PID"
finish
