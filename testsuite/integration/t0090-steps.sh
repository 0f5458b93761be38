#!/bin/bash
# Job steps as a user sees them (issue 3): `mrun` inside a batch job on 3
# nodes x 2 ranks, and `mrun` outside a job (it allocates first).
#
#   - every rank's environment: RANK, WORLD_SIZE, LOCAL_RANK,
#     LOCAL_WORLD_SIZE, SLURM_PROCID/LOCALID/NODEID/STEP_ID, the
#     MERIDIAN_* twins, MASTER_ADDR/MASTER_PORT (free on rank 0's node),
#     NCCL_SOCKET_IFNAME, PMI_*, the job's user and directory;
#   - --label prefixes, lines kept whole, the last partial line flushed;
#   - step ids 0, 1, ... one after another, and two steps at once;
#   - stdin reaches rank 0 only, EOF included, 1 MB intact;
#   - -o/-e with %j %s %t: one file per task;
#   - --export=NONE / ALL,X=y, --mpi=none, --ntasks-per-node;
#   - mcancel --signal=USR1 reaches every rank; mcancel ends every rank;
#   - the step's exit code is the worst rank's, and mrun, `mctl show step`
#     and `mqueue --steps` name the failed rank and why (kill-on-bad-exit
#     on and off, a rank killed by a signal);
#   - mrun outside a job, as root and as the test user: the allocation is
#     made, runs the step and ends COMPLETED (or FAILED with the code);
#   - `mrun --pty bash` on a pseudo-terminal: a real tty, the window size,
#     the shell's exit code, the local terminal restored.
. "$(dirname "$0")/lib.sh"
mer_init
need_mrun
need_cmd pgrep timeout
cluster_start 3
W=$MER_T/work
cd "$W" || bail "cd $W"

# val FILE NAME: the values of NAME=... on the "ENV" lines of FILE, in
# rank order (the lines carry RANK=).
vals() {
	awk -v name="$2" '
	$1 == "ENV" {
		r = ""; v = "<none>"
		for (i = 2; i <= NF; i++) {
			if ($i ~ /^RANK=/) r = substr($i, 6)
			if (index($i, name "=") == 1) v = substr($i, length(name) + 2)
		}
		if (r != "") line[r + 0] = v
	}
	END { for (k = 0; k < 6; k++) printf "%s%s", (k ? " " : ""), (k in line ? line[k] : "<missing>") }' "$1"
}
# the job's step outputs: STEP.rc (mrun's exit status), STEP.out, STEP.err
rc_of() { cat "$1.rc" 2>/dev/null || echo "<no $1.rc: the job did not get there>"; }

# ------------------------------------------------------------ job A
work_script envline.sh <<'EOS'
#!/bin/bash
# One line per rank: what training code and Slurm scripts read.
line=ENV
for v in RANK WORLD_SIZE LOCAL_RANK LOCAL_WORLD_SIZE \
	SLURM_PROCID MERIDIAN_PROCID SLURM_LOCALID MERIDIAN_LOCALID \
	SLURM_NODEID MERIDIAN_NODEID SLURMD_NODENAME \
	SLURM_STEP_ID SLURM_STEPID MERIDIAN_STEP_ID \
	SLURM_STEP_NUM_TASKS MERIDIAN_STEP_NUM_TASKS SLURM_NTASKS SLURM_NPROCS \
	SLURM_STEP_NUM_NODES SLURM_STEP_NODELIST MERIDIAN_STEP_NODELIST \
	SLURM_JOB_ID MERIDIAN_JOB_ID MASTER_ADDR MASTER_PORT NCCL_SOCKET_IFNAME \
	CUDA_VISIBLE_DEVICES PMI_RANK PMI_SIZE; do
	line="$line $v=${!v-<unset>}"
done
# PMI_FD: an inherited socket, open in the rank
kind="<unset>"
[ -n "${PMI_FD-}" ] && kind=$(readlink "/proc/$$/fd/$PMI_FD" 2>/dev/null | sed 's/:.*//')
line="$line PMI_FD_KIND=${kind:-<closed>} USER=$(id -un) PWD=$(pwd)"
# MASTER_PORT is free on rank 0's node: torchrun's store listens there
if [ "$RANK" = 0 ]; then
	free=$(python3 -c '
import os, socket
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try:
    s.bind(("0.0.0.0", int(os.environ["MASTER_PORT"]))); s.listen(1); print("yes")
except Exception as e:
    print("no(%s)" % str(e).replace(" ", "_"))' 2>&1)
	line="$line MASTER_PORT_FREE=$free"
fi
echo "$line"
EOS
work_script conc.sh <<'EOS'
#!/bin/bash
# conc.sh MINE OTHER: wait (15 s at most) until every rank of the other
# step started: both succeed only if the two steps ran at the same time.
touch "conc.$1.$RANK"
for i in $(seq 150); do
	if [ "$(ls conc.$2.* 2>/dev/null | wc -l)" -ge 3 ]; then
		echo "step $SLURM_STEP_ID rank $RANK saw step $2"
		exit 0
	fi
	sleep 0.1
done
echo "step $SLURM_STEP_ID rank $RANK: step $2 never started"
exit 1
EOS
work_script label.sh <<'EOS'
#!/bin/bash
# Lines written in pieces, a long line, and a last line with no newline.
printf 'half-%s-' "$RANK"
sleep 0.3
echo "end-$RANK"
printf '%*s\n' 70000 '' | tr ' ' "$RANK"
echo "step $SLURM_STEP_ID"
printf 'partial %s' "$RANK"
EOS
work_script stepsA.sh <<'EOS'
#!/bin/bash
# Each step's output in its own files; mrun's exit status in NAME.rc.
# timeout: a hung mrun fails its check instead of the whole job.
run() { # NAME ARGS...
	local n=$1
	shift
	timeout -k 5 90 mrun "$@" >"$n.out" 2>"$n.err"
	echo $? >"$n.rc"
}
run A0 -n 6 -N 3 ./envline.sh
run A1 -n 6 -N 3 --label ./label.sh
# two steps at once
timeout -k 5 90 mrun -n 3 -N 3 ./conc.sh a b >A2a.out 2>A2a.err &
pa=$!
timeout -k 5 90 mrun -n 3 -N 3 ./conc.sh b a >A2b.out 2>A2b.err &
pb=$!
wait $pa; echo $? >A2a.rc
wait $pb; echo $? >A2b.rc
# stdin: rank 0 only, EOF included
printf 'line one\nline two\n' | timeout -k 5 90 mrun -n 3 -N 3 bash -c '
	if read -r a; then
		read -r b
		timeout 10 cat >/dev/null
		echo "rank $RANK got [$a|$b] cat-rc=$?"
	else
		echo "rank $RANK got EOF"
	fi' >A4.out 2>A4.err
echo $? >A4.rc
head -c 1000000 /dev/urandom >big.in
timeout -k 5 90 mrun -n 2 -N 2 bash -c '
	if [ "$RANK" = 0 ]; then echo "rank 0 md5 $(md5sum | cut -d" " -f1)"
	else echo "rank $RANK bytes $(wc -c)"; fi' <big.in >A5.out 2>A5.err
echo $? >A5.rc
md5sum big.in | cut -d' ' -f1 >big.md5
# one output file per task
run A6 -n 6 -N 3 -o 'A6-%j-%s-%t.out' -e 'A6-%j-%s-%t.err' \
	bash -c 'echo "out of $RANK on $SLURMD_NODENAME step $SLURM_STEP_ID"; echo "err of $RANK" >&2'
# --export, --mpi=none, --ntasks-per-node
MYVAR=hello
export MYVAR
run A7 -n 1 --export=NONE /bin/bash -c 'echo "myvar=${MYVAR-unset} job=${SLURM_JOB_ID-unset} rank=${RANK-unset}"'
run A8 -n 1 --export=ALL,EXTRA=42 bash -c 'echo "myvar=${MYVAR-unset} extra=${EXTRA-unset}"'
run A9 -n 2 -N 2 --mpi=none bash -c 'echo "rank $RANK pmi_fd=${PMI_FD-unset} pmi_rank=${PMI_RANK-unset}"'
run A10 -N 3 --ntasks-per-node=1 bash -c 'echo "rank $RANK of $WORLD_SIZE on $SLURMD_NODENAME"'
exit 0
EOS
A=$(submit -N 3 -n 6 -t 5 -o A-%j.out stepsA.sh) || bail "submit stepsA.sh"
note "job A: $A"
wait_job_end "$A" 420 || note "job $A did not end in time: $(job_show "$A")"
check_eq "job A (steps inside a batch job) COMPLETED" COMPLETED "$(job_state "$A")"

# ---- step 0: the environment of every rank
check_eq "step A0: mrun -n 6 -N 3 exits 0" 0 "$(rc_of A0)"
check_eq "A0: six ranks, one line each" 6 "$(grep -c '^ENV ' A0.out 2>/dev/null)"
E=A0.out
check_eq "RANK" "0 1 2 3 4 5" "$(vals $E RANK)"
check_eq "SLURM_PROCID" "0 1 2 3 4 5" "$(vals $E SLURM_PROCID)"
check_eq "MERIDIAN_PROCID" "0 1 2 3 4 5" "$(vals $E MERIDIAN_PROCID)"
check_eq "PMI_RANK" "0 1 2 3 4 5" "$(vals $E PMI_RANK)"
check_eq "WORLD_SIZE" "6 6 6 6 6 6" "$(vals $E WORLD_SIZE)"
check_eq "PMI_SIZE" "6 6 6 6 6 6" "$(vals $E PMI_SIZE)"
check_eq "SLURM_STEP_NUM_TASKS" "6 6 6 6 6 6" "$(vals $E SLURM_STEP_NUM_TASKS)"
check_eq "MERIDIAN_STEP_NUM_TASKS" "6 6 6 6 6 6" "$(vals $E MERIDIAN_STEP_NUM_TASKS)"
check_eq "SLURM_NTASKS (the step's)" "6 6 6 6 6 6" "$(vals $E SLURM_NTASKS)"
check_eq "SLURM_NPROCS" "6 6 6 6 6 6" "$(vals $E SLURM_NPROCS)"
check_eq "LOCAL_RANK" "0 1 0 1 0 1" "$(vals $E LOCAL_RANK)"
check_eq "SLURM_LOCALID" "0 1 0 1 0 1" "$(vals $E SLURM_LOCALID)"
check_eq "MERIDIAN_LOCALID" "0 1 0 1 0 1" "$(vals $E MERIDIAN_LOCALID)"
check_eq "LOCAL_WORLD_SIZE" "2 2 2 2 2 2" "$(vals $E LOCAL_WORLD_SIZE)"
check_eq "SLURM_NODEID: ranks given out node by node" "0 0 1 1 2 2" "$(vals $E SLURM_NODEID)"
check_eq "MERIDIAN_NODEID" "0 0 1 1 2 2" "$(vals $E MERIDIAN_NODEID)"
check_eq "SLURMD_NODENAME: the rank's own node" "n1 n1 n2 n2 n3 n3" "$(vals $E SLURMD_NODENAME)"
check_eq "SLURM_STEP_ID of the first step" "0 0 0 0 0 0" "$(vals $E SLURM_STEP_ID)"
check_eq "SLURM_STEPID" "0 0 0 0 0 0" "$(vals $E SLURM_STEPID)"
check_eq "MERIDIAN_STEP_ID" "0 0 0 0 0 0" "$(vals $E MERIDIAN_STEP_ID)"
check_eq "SLURM_STEP_NUM_NODES" "3 3 3 3 3 3" "$(vals $E SLURM_STEP_NUM_NODES)"
check_eq "SLURM_STEP_NODELIST" "n[1-3] n[1-3] n[1-3] n[1-3] n[1-3] n[1-3]" "$(vals $E SLURM_STEP_NODELIST)"
check_eq "MERIDIAN_STEP_NODELIST" "n[1-3] n[1-3] n[1-3] n[1-3] n[1-3] n[1-3]" "$(vals $E MERIDIAN_STEP_NODELIST)"
check_eq "SLURM_JOB_ID" "$A $A $A $A $A $A" "$(vals $E SLURM_JOB_ID)"
check_eq "MERIDIAN_JOB_ID" "$A $A $A $A $A $A" "$(vals $E MERIDIAN_JOB_ID)"
check_eq "MASTER_ADDR: node 0's address" "127.0.0.1 127.0.0.1 127.0.0.1 127.0.0.1 127.0.0.1 127.0.0.1" "$(vals $E MASTER_ADDR)"
mp=$(vals $E MASTER_PORT)
check_match "MASTER_PORT: one port, the same on every rank" '^([1-9][0-9]{0,4})( \1){5}$' "$mp"
check_match "MASTER_PORT is free on rank 0's node (rank 0 listened on it)" '^yes' "$(grep '^ENV RANK=0 ' $E | tr ' ' '\n' | sed -n 's/^MASTER_PORT_FREE=//p')"
check_eq "NCCL_SOCKET_IFNAME: the interface toward the peers (loopback here)" "lo lo lo lo lo lo" "$(vals $E NCCL_SOCKET_IFNAME)"
check_eq "no CUDA_VISIBLE_DEVICES in a job without GPUs" "<unset> <unset> <unset> <unset> <unset> <unset>" "$(vals $E CUDA_VISIBLE_DEVICES)"
check_eq "PMI_FD is an inherited socket (--mpi=pmi1 by default)" "socket socket socket socket socket socket" "$(vals $E PMI_FD_KIND)"
check_eq "ranks run as the job's user" "$MERIDIAN_TEST_USER $MERIDIAN_TEST_USER $MERIDIAN_TEST_USER $MERIDIAN_TEST_USER $MERIDIAN_TEST_USER $MERIDIAN_TEST_USER" "$(vals $E USER)"
check_eq "ranks run in the job's directory" "$W $W $W $W $W $W" "$(vals $E PWD)"

# ---- step 1: --label
check_eq "step A1 (--label) exits 0" 0 "$(rc_of A1)"
lab_ok=1 lab_msg=""
for r in 0 1 2 3 4 5; do
	for want in "$r: half-$r-end-$r" "$r: step 1" "$r: partial $r"; do
		grep -qxF -- "$want" A1.out 2>/dev/null || { lab_ok=0; lab_msg="$lab_msg missing line '$want';"; }
	done
done
if [ $lab_ok = 1 ]; then
	pass "--label: every line prefixed 'RANK: ', a line written in two pieces kept whole"
else
	fail "--label: every line prefixed 'RANK: ', a line written in two pieces kept whole" "$lab_msg" "$(file_or_none A1.err)"
fi
check_eq "--label: the second step of the job has SLURM_STEP_ID=1 (seen as '0: step 1' above)" 1 \
	"$(sed -n 's/^0: step //p' A1.out 2>/dev/null)"
longs=$(awk 'length($0) == 70003 { r = substr($0, 1, 1); rest = substr($0, 4); gsub(r, "", rest); if (rest == "" && substr($0, 2, 2) == ": ") n++ } END { print n + 0 }' A1.out 2>/dev/null)
check_eq "--label: a 70000-byte line of each rank arrives whole, one prefix" 6 "$longs"
check_eq "--label: nothing else in the output (6 x 4 lines)" 24 "$(grep -c "" A1.out 2>/dev/null)"

# ---- steps 2 and 3 at the same time
check_eq "two steps at once: the first exits 0 (it saw the other running)" 0 "$(rc_of A2a)"
check_eq "two steps at once: the second exits 0" 0 "$(rc_of A2b)"
ids=$( (sed -n 's/^step \([0-9]*\) rank .*/\1/p' A2a.out | sort -u; sed -n 's/^step \([0-9]*\) rank .*/\1/p' A2b.out | sort -u) 2>/dev/null | sort -n | tr '\n' ' ')
check_eq "the two concurrent steps have their own ids, 2 and 3" "2 3 " "$ids"

# ---- stdin
check_eq "stdin step exits 0" 0 "$(rc_of A4)"
check_eq "stdin reaches rank 0, then EOF (cat ended)" "rank 0 got [line one|line two] cat-rc=0" "$(grep '^rank 0 ' A4.out 2>/dev/null)"
check_eq "ranks 1 and 2 read /dev/null" "rank 1 got EOF|rank 2 got EOF" "$(grep -E '^rank [12] ' A4.out 2>/dev/null | sort | paste -sd'|')"
check_eq "1 MB of stdin reaches rank 0 intact (md5)" "rank 0 md5 $(cat big.md5 2>/dev/null)" "$(grep '^rank 0 ' A5.out 2>/dev/null)"
check_eq "rank 1 got none of it" "rank 1 bytes 0" "$(grep '^rank 1 ' A5.out 2>/dev/null)"

# ---- -o/-e patterns: one file per task
check_eq "-o/-e step exits 0" 0 "$(rc_of A6)"
s6=$(ls A6-"$A"-*-0.out 2>/dev/null | sed -n "s/^A6-$A-\([0-9]*\)-0\.out$/\1/p")
check_match "-o A6-%j-%s-%t.out: the files name job $A and a step id" '^[0-9]+$' "$s6"
okf=0
for r in 0 1 2 3 4 5; do
	n=$(( r / 2 + 1 ))
	[ "$(cat "A6-$A-$s6-$r.out" 2>/dev/null)" = "out of $r on n$n step $s6" ] &&
		[ "$(cat "A6-$A-$s6-$r.err" 2>/dev/null)" = "err of $r" ] && okf=$((okf + 1))
done
check_eq "-o/-e %t: six .out and six .err files, each with its own task's lines" 6 "$okf"
check_eq "-o/-e: nothing went to mrun's stdout" "" "$(cat A6.out 2>/dev/null)"
check_eq "-o/-e: the task files belong to the job's user" "$MERIDIAN_TEST_USER" "$(stat -c %U "A6-$A-$s6-0.out" 2>/dev/null)"

# ---- --export, --mpi=none, --ntasks-per-node
check_eq "--export=NONE: the batch script's variables stay behind, the job's remain" \
	"myvar=unset job=$A rank=0" "$(cat A7.out 2>/dev/null)"
check_eq "--export=ALL,EXTRA=42" "myvar=hello extra=42" "$(cat A8.out 2>/dev/null)"
check_eq "--mpi=none: no PMI_FD/PMI_RANK" "rank 0 pmi_fd=unset pmi_rank=unset|rank 1 pmi_fd=unset pmi_rank=unset" \
	"$(sort A9.out 2>/dev/null | paste -sd'|')"
check_eq "--ntasks-per-node=1 -N 3: one rank per node" "rank 0 of 3 on n1|rank 1 of 3 on n2|rank 2 of 3 on n3" \
	"$(sort A10.out 2>/dev/null | paste -sd'|')"

# ---- what mqueue --steps shows afterwards
sq=$(mqueue --steps -l -t all 2>&1)
note "mqueue --steps -l -t all:"
printf '%s\n' "$sq" | sed 's/^/#   /' | head -n 30
for s in 0 1 2 3; do
	check_match "mqueue --steps -t all lists step $A.$s COMPLETED" "COMPLETED|CD" "$(step_lines "$A.$s")"
done

# ------------------------------------------------------------ job B: exit codes
work_script worst.sh <<'EOS'
#!/bin/bash
case $RANK in
3 | 5) sleep 0.5; exit 7 ;;
4) exit 5 ;;
1) sleep 1; exit 0 ;;
*) exit 0 ;;
esac
EOS
work_script badexit.sh <<'EOS'
#!/bin/bash
if [ "$RANK" = 2 ]; then sleep 1; exit 3; fi
exec -a meridian-t0090-sleeper sleep 120
EOS
work_script stepsB.sh <<'EOS'
#!/bin/bash
run() { # NAME ARGS...
	local n=$1 t0
	shift
	t0=$(date +%s%N)
	timeout -k 5 90 mrun "$@" >"$n.out" 2>"$n.err"
	echo $? >"$n.rc"
	echo $(( ($(date +%s%N) - t0) / 1000000 )) >"$n.ms"
	pgrep -u "$(id -u)" -f '^meridian-t0090-sleeper' >"$n.left"
}
run B0 -n 6 -N 3 -K0 ./worst.sh
run B1 -n 6 -N 3 ./badexit.sh
run B2 -n 2 -N 2 -K0 bash -c '[ "$RANK" = 1 ] && kill -9 $$; exit 0'
exit 0
EOS
B=$(submit -N 3 -n 6 -t 5 -o B-%j.out stepsB.sh) || bail "submit stepsB.sh"
note "job B: $B"
wait_job_end "$B" 360 || note "job $B did not end in time: $(job_show "$B")"
check_eq "job B COMPLETED (its script exits 0)" COMPLETED "$(job_state "$B")"

# -K0: ranks 3 and 5 exit 7, rank 4 exits 5: the worst is 7, rank 3 the lowest
check_eq "-K0: mrun exits with the worst rank's code (7)" 7 "$(rc_of B0)"
check_match "-K0: mrun says which rank failed and why" "^mrun: error: .*rank 3 on n2 exited with code 7" "$(cat B0.err 2>/dev/null)"
st=$(step_show "$B.0")
note "mctl show step $B.0: $st"
check_match "mctl show step: FAILED" "(^| )State=FAILED" "$st"
check_match "mctl show step: ExitCode=7:0" "ExitCode=7:0" "$st"
check_match "mctl show step: the failed rank (3) and the reason" "rank 3 on n2 exited with code 7" "$st"
check_match "mctl show step: FailedRank=3" "FailedRank=3( |$)" "$st"
sl=$(step_lines "$B.0")
note "mqueue --steps line of $B.0: $sl"
check_match "mqueue --steps -t all: step $B.0 FAILED" "FAILED|F " "$sl"
check_match "mqueue --steps -t all: names rank 3 and why" "rank 3 on n2 exited with code 7" "$sl"

# kill-on-bad-exit (default): rank 2 exits 3, the others are killed
check_eq "kill-on-bad-exit: mrun exits 3 (the failed rank's code, not the killed ranks' 137)" 3 "$(rc_of B1)"
check_match "kill-on-bad-exit: mrun names rank 2" "^mrun: error: .*rank 2 on n2 exited with code 3" "$(cat B1.err 2>/dev/null)"
ms=$(cat B1.ms 2>/dev/null || echo 999999)
note "kill-on-bad-exit step took $ms ms (the others sleep 120 s)"
check "kill-on-bad-exit: the step ends within 20 s" test "$ms" -lt 20000
check_eq "kill-on-bad-exit: no rank left running when mrun returns" "" "$(cat B1.left 2>/dev/null)"
st=$(step_show "$B.1")
check_match "mctl show step $B.1: FAILED, exit code 3" "(^| )State=FAILED.*ExitCode=3:0|ExitCode=3:0.*(^| )State=FAILED" "$st"
check_match "mctl show step $B.1: rank 2 and the reason" "rank 2 on n2 exited with code 3" "$st"

# a rank killed by a signal
check_eq "a rank killed by SIGKILL: mrun exits 128+9" 137 "$(rc_of B2)"
check_match "a rank killed by SIGKILL: named with its signal" "rank 1 on n2 killed by signal 9" "$(cat B2.err 2>/dev/null)"
check_match "mctl show step $B.2: ExitCode=0:9, rank 1 killed" "ExitCode=0:9.*rank 1 on n2 killed by signal 9|rank 1 on n2 killed by signal 9.*ExitCode=0:9" "$(step_show "$B.2")"

# ------------------------------------------------------------ job C: signals
work_script usr1.sh <<'EOS'
#!/bin/bash
got=0
trap 'got=$((got + 1)); echo "rank $RANK got USR1"' USR1
touch "usr1.ready.$RANK"
for i in $(seq 600); do
	[ -e usr1.stop ] && break
	sleep 0.1
done
[ -e usr1.stop ] || { echo "rank $RANK: no stop file"; exit 2; }
[ "$got" -ge 1 ] || { echo "rank $RANK: no USR1"; exit 1; }
exit 0
EOS
work_script stepsC.sh <<'EOS'
#!/bin/bash
# the batch script gets USR1 too: it must not die of it
trap 'echo "batch script got USR1"' USR1
mrun -n 6 -N 3 ./usr1.sh >C0.out 2>C0.err
echo $? >C0.rc
mrun -n 6 -N 3 bash -c 'touch cancel.ready.$RANK; exec -a meridian-t0090-cancelme sleep 300' >C1.out 2>C1.err
echo $? >C1.rc
EOS
C=$(submit -N 3 -n 6 -t 5 -o C-%j.out stepsC.sh) || bail "submit stepsC.sh"
note "job C: $C"
if wait_for 60 "6 ranks ready for USR1" count_files 6 usr1.ready.{0..5}; then
	check "mcancel --signal=USR1 as the owner" as_user mcancel --signal=USR1 "$C"
	usr1_ranks() { grep -o 'rank [0-5] got USR1' C0.out 2>/dev/null | sort -u | wc -l | grep -qx 6; }
	check "USR1 reached every rank (their traps printed through mrun)" wait_for 20 "6 ranks report USR1" usr1_ranks
	touch usr1.stop
	check "the signalled step goes on and exits 0" wait_for 30 "C0.rc" test -s C0.rc
	check_eq "the signalled step's exit code" 0 "$(rc_of C0)"
else
	fail "the USR1 step's ranks started" "$(file_or_none C0.err)"
	touch usr1.stop
fi
# mcancel of the job ends a running step's every rank
if wait_for 60 "6 ranks of the second step" count_files 6 cancel.ready.{0..5}; then
	check_eq "before mcancel: 6 ranks running" 6 "$(user_procs '^meridian-t0090-cancelme' | wc -l)"
	check "mcancel the job with a running step" as_user mcancel "$C"
	wait_job_end "$C" 30
	check_eq "job C CANCELLED" CANCELLED "$(job_state "$C")"
	cancel_gone() { [ -z "$(user_procs '^meridian-t0090-cancelme')" ]; }
	check "mcancel: every rank of the running step is gone" wait_for 15 "ranks gone" cancel_gone
	check "the cancelled step is CANCELLED in mctl show step" wait_for 15 "step $C.1 CANCELLED" \
		eval 'step_show "$C.1" | grep -Eq "(^| )State=CANCELLED"'
else
	fail "the second step of job C started" "$(file_or_none C1.err)"
	mcancel "$C"
fi

# ------------------------------------------------------------ mcancel JOB.STEP
# One step is cancelled; the job and its other step go on.

# check_cmd_fails NAME CODE TEXT CMD...: CMD exits CODE and says TEXT.
check_cmd_fails() {
	local name=$1 code=$2 text=$3 out rc
	shift 3
	out=$("$@" 2>&1)
	rc=$?
	check_eq "$name: exit status" "$code" "$rc"
	check_match "$name: says why" "$text" "$out"
}
work_script stepsS.sh <<'EOS'
#!/bin/bash
mrun -J keeper -n 2 -N 2 bash -c 'touch s0.ready.$RANK; while [ ! -e s0.stop ]; do sleep 0.2; done' >S0.out 2>S0.err &
mrun -J victim -n 2 -N 2 bash -c 'touch s1.ready.$RANK; exec sleep 300' >S1.out 2>S1.err
echo $? >S1.rc
wait
echo done >S.done
EOS
S=$(submit -N 2 -n 2 -t 5 -o S-%j.out stepsS.sh) || bail "submit stepsS.sh"
note "job S: $S"
if wait_for 60 "both steps of job S ready" count_files 4 s0.ready.0 s0.ready.1 s1.ready.0 s1.ready.1; then
	victim=$(mqueue --steps -h -j "$S" -o "%i %j" 2>&1 | awk '$2 == "victim" { print $1 }')
	keeper=$(mqueue --steps -h -j "$S" -o "%i %j" 2>&1 | awk '$2 == "keeper" { print $1 }')
	check_match "mqueue --steps shows both steps of job S" "^$S\.[01] $S\.[01]\$" "$victim $keeper"
	check "mcancel JOB.STEP as the owner" as_user mcancel "$victim"
	check "the cancelled step's mrun ends" wait_for 30 "S1.rc" test -s S1.rc
	check_match "its mrun exits with SIGTERM's status" '^(143|137)$' "$(rc_of S1)"
	check "the step is CANCELLED by mertest" wait_for 15 "step $victim CANCELLED" \
		eval 'step_show "$victim" | grep -Eq "(^| )State=CANCELLED .*Reason=Cancelled by $MERIDIAN_TEST_USER"'
	check_eq "the job goes on" RUNNING "$(job_state "$S")"
	check_match "its other step goes on" "(^| )State=RUNNING" "$(step_show "$keeper")"
	check_cmd_fails "mcancel of a step that ended" 1 "already ended" as_user mcancel "$victim"
	check_cmd_fails "mcancel of a step that does not exist" 1 "does not exist" as_user mcancel "$S.77"
	check_cmd_fails "mcancel with a bad step id" 2 "Invalid job step id" mcancel "$S.x"
	touch s0.stop
	wait_job_end "$S" 30
	check_eq "job S COMPLETED after its kept step" COMPLETED "$(job_state "$S")"
	check_match "the kept step COMPLETED" "(^| )State=COMPLETED" "$(step_show "$keeper")"
else
	fail "the steps of job S started" "$(file_or_none S0.err) $(file_or_none S1.err)"
	mcancel "$S"
fi

# ------------------------------------------------------------ mrun outside a job
# alloc_run NAME [as_user] mrun ARGS...: run mrun (allocating) with a
# time limit, as root or the test user; outputs in NAME.*
alloc_run() {
	local n=$1
	shift
	if [ "$1" = as_user ]; then
		shift
		as_user timeout -k 5 90 "$@" >"$n.out" 2>"$n.err"
	else
		timeout -k 5 90 "$@" >"$n.out" 2>"$n.err"
	fi
	echo $? >"$n.rc"
}
alloc_run D0 mrun -n 2 -N 2 bash -c 'echo "alloc $SLURM_JOB_ID rank $RANK on $SLURMD_NODENAME as $(id -un)"'
check_eq "mrun outside a job as root: exits 0" 0 "$(rc_of D0)"
d0=$(awk '{print $2}' D0.out 2>/dev/null | sort -u)
check_match "as root: both ranks ran in one new allocation" '^[0-9]+$' "$d0"
check_eq "as root: its ranks" "alloc $d0 rank 0 on n1 as root|alloc $d0 rank 1 on n2 as root" "$(sort D0.out 2>/dev/null | paste -sd'|')"
if [ -n "$d0" ]; then
	check "the allocation ended after mrun" wait_job_end "$d0" 10
	check_eq "mqueue -t all shows the allocation COMPLETED" COMPLETED "$(mqueue -t all -h -j "$d0" -o %T 2>&1 | tr -d ' ')"
	check_eq "mctl: ExitCode=0:0" 0:0 "$(job_field "$d0" ExitCode)"
	check_match "the allocation's step $d0.0 COMPLETED, ExitCode=0:0" \
		"(^| )State=COMPLETED .*ExitCode=0:0" "$(step_show "$d0.0")"
fi
alloc_run D1 as_user mrun -n 3 -N 3 bash -c 'echo "alloc $SLURM_JOB_ID rank $RANK as $(id -un)"'
check_eq "mrun outside a job as $MERIDIAN_TEST_USER: exits 0" 0 "$(rc_of D1)"
d1=$(awk '{print $2}' D1.out 2>/dev/null | sort -u)
check_eq "as $MERIDIAN_TEST_USER: three ranks, one allocation, the user's" \
	"alloc $d1 rank 0 as $MERIDIAN_TEST_USER|alloc $d1 rank 1 as $MERIDIAN_TEST_USER|alloc $d1 rank 2 as $MERIDIAN_TEST_USER" \
	"$(sort D1.out 2>/dev/null | paste -sd'|')"
if [ -n "$d1" ]; then
	check "the user's allocation ended" wait_job_end "$d1" 10
	check_eq "mqueue: the user's allocation COMPLETED" COMPLETED "$(mqueue -t all -h -j "$d1" -o %T 2>&1 | tr -d ' ')"
	check_eq "the allocation belongs to $MERIDIAN_TEST_USER" "$MERIDIAN_TEST_USER" "$(mqueue -t all -h -j "$d1" -o %u 2>&1 | tr -d ' ')"
fi
alloc_run D2 as_user mrun -n 1 bash -c 'echo "alloc $SLURM_JOB_ID"; exit 4'
check_eq "a failing step in its own allocation: mrun exits 4" 4 "$(rc_of D2)"
d2=$(awk '{print $2}' D2.out 2>/dev/null)
if [ -n "$d2" ]; then
	check "that allocation ended" wait_job_end "$d2" 10
	check_eq "mqueue: the allocation FAILED" FAILED "$(mqueue -t all -h -j "$d2" -o %T 2>&1 | tr -d ' ')"
	check_eq "mctl: its ExitCode=4:0" 4:0 "$(job_field "$d2" ExitCode)"
	check_match "its step $d2.0 FAILED, ExitCode=4:0, rank 0" \
		"(^| )State=FAILED .*ExitCode=4:0 .*rank 0 on n1 exited with code 4" "$(step_show "$d2.0")"
else
	fail "a failing step in its own allocation printed its job id" "$(file_or_none D2.err)"
fi
check_eq "no allocation left behind (nothing PENDING or RUNNING)" "" "$(mqueue -h -t PD,R 2>&1)"

# ------------------------------------------------------------ --pty
# pty_drive: run the command on a new pseudo-terminal (rows 33, cols 101),
# type the lines of $PTY_INPUT once it printed something, copy what it
# shows to stdout, exit with its exit status (124 after 60 s).
pty_drive() {
	python3 - "$@" <<'PY'
import fcntl, os, pty, select, struct, sys, termios, time
pid, fd = pty.fork()
if pid == 0:
    fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", 33, 101, 0, 0))
    os.execvp(sys.argv[1], sys.argv[1:])
lines = os.environ["PTY_INPUT"].split("\n")
out = b""
sent = False
deadline = time.time() + 60
start = time.time()
while time.time() < deadline:
    r, _, _ = select.select([fd], [], [], 0.2)
    if r:
        try:
            d = os.read(fd, 65536)
        except OSError:
            break
        if not d:
            break
        out += d
    # the shell prompt (or anything) arrived, or 5 s went by: type
    if not sent and (out or time.time() - start > 5):
        time.sleep(0.5)
        for l in lines:
            os.write(fd, l.encode() + b"\r")
            time.sleep(0.2)
        sent = True
else:
    os.kill(pid, 9)
    sys.stdout.buffer.write(out)
    sys.exit(124)
sys.stdout.buffer.write(out)
_, st = os.waitpid(pid, 0)
sys.exit(os.waitstatus_to_exitcode(st))
PY
}
export PTY_INPUT='echo pty-$((6 * 7)) job=$SLURM_JOB_ID
tty
[ -t 0 ] && [ -t 1 ] && echo stdin-and-stdout-are-ttys
stty size
exit 5'
# the local terminal's settings before and after, from inside the pty
pty_out=$(cd "$W" && pty_drive runuser -u "$MERIDIAN_TEST_USER" -- env PATH="$PATH" \
	MERIDIAN_CONF="$MER_CONF" HOME="$(getent passwd "$MERIDIAN_TEST_USER" | cut -d: -f6)" \
	bash -c 'stty -g >stty.before; mrun --pty bash; rc=$?; stty -g >stty.after; exit $rc')
pty_rc=$?
# what the terminal showed, without bash's escape sequences (bracketed
# paste) and carriage returns
pty_out=$(printf '%s' "$pty_out" | sed -e 's/\x1b\][^\x07]*\x07//g' -e 's/\x1b\[[0-9;?]*[a-zA-Z]//g' | tr -d '\r')
note "mrun --pty bash showed: $(printf '%s' "$pty_out" | tr '\n' '|' | head -c 1500)"
check_eq "mrun --pty bash: exits with the shell's exit code" 5 "$pty_rc"
check_match "--pty: the shell ran the typed command (in an allocation)" 'pty-42 job=[0-9]+' "$pty_out"
check_match "--pty: the shell's stdin is a terminal (tty prints a /dev/pts name)" '^/dev/pts/[0-9]+' "$pty_out"
check_match "--pty: stdin and stdout are ttys" 'stdin-and-stdout-are-ttys' "$pty_out"
check_match "--pty: the window size reached the remote terminal (33 101)" '^33 101' "$pty_out"
check_eq "--pty: the local terminal is restored afterwards" "$(cat stty.before 2>/dev/null)" "$(cat stty.after 2>/dev/null)"
check_match "--pty: the local terminal settings were recorded" '.' "$(cat stty.before 2>/dev/null)"
pj=$(printf '%s' "$pty_out" | sed -n 's/^pty-42 job=\([0-9]*\).*/\1/p' | head -n 1)
if [ -n "$pj" ]; then
	check "--pty: its allocation ended" wait_job_end "$pj" 10
	check_eq "--pty: the allocation's exit code is the shell's" 5:0 "$(job_field "$pj" ExitCode)"
	check_match "--pty: its step $pj.0 FAILED with the shell's code" \
		"(^| )State=FAILED .*ExitCode=5:0" "$(step_show "$pj.0")"
fi

# ------------------------------------------------------------ a node that cannot start
# n2 cannot create its step directory (its spool made immutable, or
# read-only where chattr is not supported, as on tmpfs): its launch
# fails, and mrun says so as soon as mctld knows, not after the hello
# timeout.
spool2=$(sed -n 's/^SpoolDir=//p' "$MER_CONF" | sed 's/%n/n2/')
unwritable=""
if chattr +i "$spool2" 2>/dev/null; then
	unwritable=chattr
elif mount --bind "$spool2" "$spool2" 2>/dev/null; then
	if mount -o remount,ro,bind "$spool2" 2>/dev/null; then
		unwritable=mount
	else
		umount "$spool2"
	fi
fi
if [ -n "$unwritable" ]; then
	# a hello timeout of 600 s and at most 60 s to end: mrun must learn
	# the failure from mctld (124 would mean it waited for the timeout)
	out=$(MERIDIAN_STEP_CONNECT_TIMEOUT=600 timeout -k 5 60 mrun -N 3 -n 3 true 2>&1)
	rc=$?
	if [ "$unwritable" = chattr ]; then chattr -i "$spool2"; else umount "$spool2"; fi
	check_eq "a step whose launch fails on n2: mrun ends at once, exit 1" 1 "$rc"
	check_match "mrun names the node and why" \
		"STEP [0-9]+\.0: n2 could not start its share: launch failed on n2: cannot create" "$out"
else
	fail "a failed launch: cannot make $spool2 unwritable (neither chattr +i nor a read-only bind mount works here)"
fi

sleep 1
check_eq "no job process left under the test dir" "" "$(job_procs_left_ps)"
check "mctld still running" pid_alive "$MER_CTLD_PID"
finish
