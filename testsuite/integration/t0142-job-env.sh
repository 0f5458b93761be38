#!/bin/bash
# A job's environment as Slurm writes it (issue 11, point 2), on 3 nodes
# of 2 CPUs with TmpFS=$MER_T/scratch/%n:
#   - TMPDIR: a directory of the job's own on each of its nodes, under
#     TmpFS, the job user's, mode 0700, the same for the batch script and
#     the steps on its node, kept from one step to the next on a node
#     without the script, and gone once the job ended there: completed,
#     cancelled, timed out, or found by a restarted mnoded;
#   - SLURM_GTIDS and SLURM_TASK_PID in the batch script and in the
#     ranks of a 2-node step;
#   - SLURM_NTASKS/SLURM_NPROCS in the batch script only with -n or
#     --ntasks-per-node, in a step always;
#   - -N2 -n3: NumCPUs=3 in mctl show job, SLURM_JOB_CPUS_PER_NODE=2,1
#     and SLURM_CPUS_ON_NODE as the node's share.
. "$(dirname "$0")/lib.sh"
mer_init
need_mrun
S=$MER_T/scratch
mkdir -p "$S/n1" "$S/n2" "$S/n3" || bail "mkdir $S"
chmod 0755 "$S" "$S/n1" "$S/n2" "$S/n3"
MER_EXTRA_CONF="TmpFS=$S/%n"
cluster_start 3
W=$MER_T/work
cd "$W" || bail "cd $W"

# VAR of the first "VAR=..." line of FILE
val() { sed -n "s/^$2=//p" "$W/$1" 2>/dev/null | head -n 1; }
# the TMPDIRs of job ID under TmpFS of NODE ("" none)
tmpdirs_of() { ls -d "$S/$2/meridian.$1".* 2>/dev/null; }
no_tmpdir() { [ -z "$(tmpdirs_of "$1" "$2")" ]; }
# no record of job ID's TMPDIR on NODE: no record file of an older mnoded,
# and no "+ ID" in SPOOL/tmpdirs that a later "- ID" did not end
no_record() {
	! ls "$MER_T/spool/$2/tmpdir.$1".* >/dev/null 2>&1 &&
		! awk -v j="$1" '$2 == j { live = ($1 == "+") } END { exit !live }' \
			"$MER_T/spool/$2/tmpdirs" 2>/dev/null
}
# "owner mode type" of PATH as root sees it
owner_mode() { stat -c '%U %a %F' "$1" 2>/dev/null; }

# ---- the time limit first: it takes a minute, the rest runs meanwhile
work_script long.sh <<'EOS'
#!/bin/bash
echo "TMPDIR=$TMPDIR"
touch "$TMPDIR/long"
while :; do sleep 1; done
EOS
T=$(submit -t 1 -w n3 -o long-%j.out long.sh) || bail "submit long.sh"
T0=$(date +%s)

# ---- -N2 -n3: the batch script, then two steps on both nodes
work_script env.sh <<'EOS'
#!/bin/bash
# the batch script's own view
echo "TMPDIR=$TMPDIR"
echo "STAT=$(stat -c '%U %a %F' "$TMPDIR")"
echo "GTIDS=${SLURM_GTIDS-<unset>}"
echo "TASK_PID=${SLURM_TASK_PID-<unset>}"
echo "SELF=$$"
echo "GROUPS=$(id -G)"
echo "NTASKS=${SLURM_NTASKS-<unset>}"
echo "NPROCS=${SLURM_NPROCS-<unset>}"
echo "CPUS_PER_NODE=${SLURM_JOB_CPUS_PER_NODE-<unset>}"
echo "CPUS_ON_NODE=${SLURM_CPUS_ON_NODE-<unset>}"
echo "TASKS_PER_NODE=${SLURM_TASKS_PER_NODE-<unset>}"
echo "NODE=$SLURMD_NODENAME"
touch "$TMPDIR/batch"
# one line per rank; each leaves a file in its TMPDIR
timeout -k 5 60 mrun -n "${RANKS:-3}" -N 2 bash -c '
	echo "R$SLURM_PROCID node=$SLURMD_NODENAME gtids=$SLURM_GTIDS" \
		"taskpid=$SLURM_TASK_PID self=$$ ntasks=$SLURM_NTASKS" \
		"nprocs=$SLURM_NPROCS cpus_on_node=$SLURM_CPUS_ON_NODE" \
		"cpus_per_node=$SLURM_JOB_CPUS_PER_NODE tmpdir=$TMPDIR" \
		"stat=$(stat -c %U:%a "$TMPDIR")"
	touch "$TMPDIR/step0.$SLURM_PROCID"' >step0-$SLURM_JOB_ID.out 2>&1
echo "STEP0_RC=$?"
# the next step finds what the first left on its node
timeout -k 5 60 mrun -n 2 -N 2 bash -c \
	'echo "L$SLURM_NODEID $(cd "$TMPDIR" && ls | sort | tr "\n" " ")"' \
	>step1-$SLURM_JOB_ID.out 2>&1
echo "STEP1_RC=$?"
touch "ready-$SLURM_JOB_ID"
while [ ! -e "gate-$SLURM_JOB_ID" ]; do sleep 0.2; done
EOS
A=$(submit -N 2 -n 3 -w 'n[1-2]' -o A-%j.out env.sh) || bail "submit -N2 -n3"
wait_job_state "$A" RUNNING 20 || bail "job $A did not start: $(job_show "$A")"
check_eq "-N2 -n3: NumCPUs=3, the CPUs of its 3 tasks" 3 "$(job_field "$A" NumCPUs)"
# (kv_field takes no '/' in a key: grep these two)
check_eq "-N2 -n3: NumTasks=3 CPUs/Task=1" "NumTasks=3 CPUs/Task=1" \
	"$(job_show "$A" | grep -Eo '(NumTasks|CPUs/Task)=[^ ]*' | tr '\n' ' ' | sed 's/ $//')"
check_match "-N2 -n3: TRES counts 3 CPUs" "^cpu=3," "$(job_field "$A" TRES)"
check "job $A's steps ran" wait_for 60 "ready-$A" test -e "ready-$A"

AO=A-$A.out
check_match "the batch script's TMPDIR is under TmpFS of its node" \
	"^$S/n1/meridian\\.$A\\.[A-Za-z0-9]{6}\$" "$(val "$AO" TMPDIR)"
check_eq "it is the job user's, mode 0700 (as the script sees it)" \
	"$MERIDIAN_TEST_USER 700 directory" "$(val "$AO" STAT)"
check_eq "... and as root sees it" "$MERIDIAN_TEST_USER 700 directory" \
	"$(owner_mode "$(val "$AO" TMPDIR)")"
check_eq "one TMPDIR of the job on n1" "$(val "$AO" TMPDIR)" "$(tmpdirs_of "$A" n1)"
A2=$(tmpdirs_of "$A" n2)
check_match "one on n2, the job's other node" "^$S/n2/meridian\\.$A\\.[A-Za-z0-9]{6}\$" "$A2"
check_eq "n2's is the job user's too, 0700" "$MERIDIAN_TEST_USER 700 directory" "$(owner_mode "$A2")"
check "no TMPDIR of it on n3, which it does not use" no_tmpdir "$A" n3
check_eq "batch script: SLURM_GTIDS=0" 0 "$(val "$AO" GTIDS)"
check_eq "batch script: SLURM_TASK_PID is its own pid" "$(val "$AO" SELF)" "$(val "$AO" TASK_PID)"
check_eq "batch script: the user's groups, supplementary ones included, none of root's" \
	"$(id -G "$MERIDIAN_TEST_USER" | tr ' ' '\n' | sort -n | paste -sd' ')" \
	"$(val "$AO" GROUPS | tr ' ' '\n' | sort -n | paste -sd' ')"
check_eq "batch script with -n 3: SLURM_NTASKS=3" 3 "$(val "$AO" NTASKS)"
check_eq "batch script with -n 3: SLURM_NPROCS=3" 3 "$(val "$AO" NPROCS)"
check_eq "SLURM_JOB_CPUS_PER_NODE=2,1 (the tasks' CPUs)" "2,1" "$(val "$AO" CPUS_PER_NODE)"
check_eq "SLURM_TASKS_PER_NODE=2,1" "2,1" "$(val "$AO" TASKS_PER_NODE)"
check_eq "SLURM_CPUS_ON_NODE=2 on the batch host n1" "n1 2" \
	"$(val "$AO" NODE) $(val "$AO" CPUS_ON_NODE)"

S0=step0-$A.out
check_eq "step 0 (mrun -n 3 -N 2) exits 0" 0 "$(val "$AO" STEP0_RC)"
check_eq "three ranks reported" 3 "$(grep -c '^R[0-9]' "$S0" 2>/dev/null)"
rank() { grep "^R$1 " "$W/$S0" 2>/dev/null; }
field() { rank "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }
check_eq "ranks 0,1 on n1, rank 2 on n2" "n1 n1 n2" "$(field 0 node) $(field 1 node) $(field 2 node)"
check_eq "SLURM_GTIDS=0,1 for the ranks on n1" "0,1 0,1" "$(field 0 gtids) $(field 1 gtids)"
check_eq "SLURM_GTIDS=2 for the rank on n2" 2 "$(field 2 gtids)"
for r in 0 1 2; do
	check_eq "rank $r: SLURM_TASK_PID is the rank's own pid" "$(field $r self)" "$(field $r taskpid)"
done
check_nomatch "no rank's SLURM_TASK_PID is empty" "taskpid= " "$(cat "$S0" 2>/dev/null)"
check_eq "a step's ranks: SLURM_NTASKS/SLURM_NPROCS=3" "3 3 3 3" \
	"$(field 0 ntasks) $(field 0 nprocs) $(field 2 ntasks) $(field 2 nprocs)"
check_eq "ranks on n1 share the batch script's TMPDIR" \
	"$(val "$AO" TMPDIR) $(val "$AO" TMPDIR)" "$(field 0 tmpdir) $(field 1 tmpdir)"
check_eq "the rank on n2 has n2's" "$A2" "$(field 2 tmpdir)"
check_eq "the ranks see it as theirs, 0700" "$MERIDIAN_TEST_USER:700 $MERIDIAN_TEST_USER:700" \
	"$(field 0 stat) $(field 2 stat)"
check_eq "SLURM_CPUS_ON_NODE in the step: 2 on n1, 1 on n2" "2 1" \
	"$(field 0 cpus_on_node) $(field 2 cpus_on_node)"
check_eq "SLURM_JOB_CPUS_PER_NODE in the step: 2,1" "2,1" "$(field 2 cpus_per_node)"

S1=step1-$A.out
check_eq "step 1 exits 0" 0 "$(val "$AO" STEP1_RC)"
check_eq "on n1 the next step finds what the script and step 0 left" \
	"L0 batch step0.0 step0.1" "$(grep '^L0 ' "$S1" 2>/dev/null | sed 's/ *$//')"
check_eq "on n2 (no batch script) too: the directory outlived step 0" \
	"L1 step0.2" "$(grep '^L1 ' "$S1" 2>/dev/null | sed 's/ *$//')"

touch "gate-$A"
wait_job_end "$A" 30
check_eq "job $A COMPLETED" COMPLETED "$(job_state "$A")"
check_eq "after it ran: NumCPUs=3 still" 3 "$(job_field "$A" NumCPUs)"
check "its TMPDIR on n1 (the batch host) is gone" wait_for 15 "no $S/n1/meridian.$A.*" no_tmpdir "$A" n1
check "its TMPDIR on n2 is gone too" wait_for 15 "no $S/n2/meridian.$A.*" no_tmpdir "$A" n2
check "n1's spool no longer records it" wait_for 10 "no record" no_record "$A" n1
check "n2's spool no longer records it" wait_for 10 "no record" no_record "$A" n2

# ---- --ntasks-per-node=2 -N2: SLURM_NTASKS=4 follows; a 2x2 step
B=$(as_user env RANKS=4 mbatch --parsable -N 2 --ntasks-per-node=2 -w 'n[1-2]' \
	-o B-%j.out env.sh 2>&1 | tail -n 1) || bail "submit --ntasks-per-node"
case "$B" in '' | *[!0-9]*) bail "mbatch --ntasks-per-node=2: $B" ;; esac
check "job $B's steps ran" wait_for 60 "ready-$B" test -e "ready-$B"
touch "gate-$B"
wait_job_end "$B" 30
BO=B-$B.out
S0=step0-$B.out
check_eq "--ntasks-per-node=2 -N2: SLURM_NTASKS=4 in the batch script" 4 "$(val "$BO" NTASKS)"
check_eq "... and SLURM_NPROCS=4" 4 "$(val "$BO" NPROCS)"
check_eq "a 2x2 step: SLURM_GTIDS 0,1 on node 0" "0,1 0,1" "$(field 0 gtids) $(field 1 gtids)"
check_eq "... and 2,3 on node 1" "2,3 2,3" "$(field 2 gtids) $(field 3 gtids)"
check "its TMPDIRs are gone" wait_for 15 "no TMPDIR of $B" \
	eval "no_tmpdir $B n1 && no_tmpdir $B n2"

# ---- -N2 alone: no SLURM_NTASKS in the batch script, one in a step;
# a TMPDIR from the submitting shell is not the job's
C=$(as_user env TMPDIR=/nonexistent/login RANKS=2 mbatch --parsable -N 2 \
	-w 'n[1-2]' -o C-%j.out env.sh 2>&1 | tail -n 1) || bail "submit -N2"
case "$C" in '' | *[!0-9]*) bail "mbatch -N2: $C" ;; esac
check "job $C's steps ran" wait_for 60 "ready-$C" test -e "ready-$C"
touch "gate-$C"
wait_job_end "$C" 30
CO=C-$C.out
S0=step0-$C.out
check_eq "-N2 without -n: no SLURM_NTASKS in the batch script" "<unset>" "$(val "$CO" NTASKS)"
check_eq "-N2 without -n: no SLURM_NPROCS either" "<unset>" "$(val "$CO" NPROCS)"
check_eq "... but its step's ranks have them" "2 2" "$(field 0 ntasks) $(field 1 nprocs)"
check_match "TMPDIR is the job's, not the submitting shell's" \
	"^$S/n1/meridian\\.$C\\." "$(val "$CO" TMPDIR)"

# ---- cancelled: the directory goes with the job
mkdir -p "$MER_T/precious" && echo keep >"$MER_T/precious/file"
work_script hold.sh <<EOS
#!/bin/bash
echo "TMPDIR=\$TMPDIR"
mkdir -p "\$TMPDIR/sub/deeper" && touch "\$TMPDIR/sub/deeper/f"
ln -s "$MER_T/precious" "\$TMPDIR/sub/link"
ln -s "$MER_T/precious/file" "\$TMPDIR/file-link"
touch "ready-\$SLURM_JOB_ID"
while :; do sleep 1; done
EOS
D=$(submit -w n3 -o hold-%j.out hold.sh) || bail "submit hold.sh"
check "job $D is running" wait_for 30 "ready-$D" test -e "ready-$D"
D3=$(val "hold-$D.out" TMPDIR)
check "its TMPDIR exists while it runs" test -d "$D3"
as_user mcancel "$D"
wait_job_end "$D" 30
check_eq "job $D CANCELLED" CANCELLED "$(job_state "$D")"
check "a cancelled job's TMPDIR is gone" wait_for 15 "$D3 gone" eval "! test -e '$D3'"
check_eq "the links in it were removed, not followed" keep "$(cat "$MER_T/precious/file" 2>/dev/null)"

# ---- mnoded restarts: what its spool records is found again
# a job whose batch script ended while n1's mnoded was away
work_script short.sh <<'EOS'
#!/bin/bash
echo "TMPDIR=$TMPDIR"
touch "ready-$SLURM_JOB_ID"
while [ ! -e "gate-$SLURM_JOB_ID" ]; do sleep 0.2; done
EOS
E=$(submit -w n1 -o short-%j.out short.sh) || bail "submit short.sh"
check "job $E is running" wait_for 30 "ready-$E" test -e "ready-$E"
E1=$(val "short-$E.out" TMPDIR)
node_kill9 n1
touch "gate-$E"
wait_for 10 "job $E's script ended" test -s "$MER_T/spool/n1/job.$E/end" ||
	note "job $E left no end file"
check "its TMPDIR stays while mnoded is away" test -d "$E1"
node_start n1
wait_job_end "$E" 30
check "the restarted mnoded removed it" wait_for 15 "$E1 gone" eval "! test -e '$E1'"
check "and its record" wait_for 10 "no record" no_record "$E" n1
# a directory an older mnoded's record names, of a job mctld does not know
mkdir -m 0700 "$S/n2/meridian.9999.stale1" && touch "$S/n2/meridian.9999.stale1/f"
echo "$S/n2/meridian.9999.stale1" >"$MER_T/spool/n2/tmpdir.9999.0"
chmod 0600 "$MER_T/spool/n2/tmpdir.9999.0"
node_restart n2
check "a stale TMPDIR of a job mctld no longer knows goes" \
	wait_for 20 "stale dir gone" eval "! test -e '$S/n2/meridian.9999.stale1'"
check "its record too" wait_for 10 "no record" no_record 9999 n2
wait_nodes_up 3 || note "not every node came back"

# ---- the time limit
wait_job_end "$T" 100
note "job $T ended after $(($(date +%s) - T0)) s"
check_eq "job $T: TIMEOUT" TIMEOUT "$(job_state "$T")"
T3=$(val "long-$T.out" TMPDIR)
check_match "it had its TMPDIR on n3" "^$S/n3/meridian\\.$T\\." "$T3"
check "a timed-out job's TMPDIR is gone" wait_for 15 "$T3 gone" eval "! test -e '$T3'"
check "TmpFS itself stays" test -d "$S/n3"

finish
