#!/bin/bash
# contrib/slurm-compat (issue 11, point 1): with its directory on PATH, a
# Slurm user's batch script runs verbatim -- sbatch submits it, and in it
# scontrol show hostnames, srun and squeue -j do what they do under
# Slurm -- squeue, sprio, sinfo, scancel and scontrol answer a user
# at the prompt, and salloc runs a command in an allocation, srun in it.
# A Slurm option Meridian does not take is refused by
# its name.
. "$(dirname "$0")/lib.sh"
mer_init
need_test_user
cluster_start 2
W=$MER_T/work
cd "$W" || bail "cd $W"
chmod 0777 "$W"
COMPAT=$MERIDIAN_BUILDDIR/contrib/slurm-compat/bin
for c in sbatch srun salloc squeue scancel sinfo scontrol sprio sacct; do
	[ -x "$COMPAT/$c" ] || bail "$COMPAT/$c is not there (make all builds it)"
done
export PATH="$COMPAT:$PATH"
check_eq "sbatch on PATH is slurm-compat's" "$COMPAT/sbatch" "$(command -v sbatch)"

work_script train.sh <<'EOS'
#!/bin/bash
#SBATCH --job-name=train
#SBATCH --nodes=2
#SBATCH --ntasks-per-node=1
#SBATCH --output=train-%j.out
set -e
nodes=$(scontrol show hostnames "$SLURM_JOB_NODELIST")
echo "nodes: $(echo $nodes)"
head_node=$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1)
echo "head: $head_node"
srun bash -c 'echo "rank $SLURM_PROCID of $SLURM_NTASKS on $SLURMD_NODENAME"' | sort
squeue -h -j "$SLURM_JOB_ID" -o "%i %T %j"
EOS
out=$(as_user sbatch train.sh 2>&1)
check_match "sbatch says what sbatch says" "^Submitted batch job [0-9]+$" "$out"
id=${out##* }
wait_job_end "$id" 30
check_eq "the script ran to the end" COMPLETED "$(job_state "$id")"
f=$W/train-$id.out
note "$(cat "$f" 2>&1)"
check_match "scontrol show hostnames: the job's nodes" "^nodes: n1 n2$" "$(cat "$f")"
check_match "the first of them" "^head: n1$" "$(cat "$f")"
check_match "srun: rank 0 on n1" "^rank 0 of 2 on n1$" "$(cat "$f")"
check_match "srun: rank 1 on n2" "^rank 1 of 2 on n2$" "$(cat "$f")"
check_match "squeue -j the job itself, running" "^$id RUNNING train$" "$(cat "$f")"

# ---- at the prompt
h=$(as_user sbatch --parsable -H --wrap=true) || bail "sbatch -H"
check_match "squeue lists the held job" "^ *$h +main +wrap +$MERIDIAN_TEST_USER +PD" "$(as_user squeue -h)"
check_match "sprio is mqueue --priority" "JOBID +PARTITION +USER +PRIORITY +AGE" "$(as_user sprio 2>&1)"
check_match "sinfo shows the partition" "^main\*? +up" "$(sinfo -h 2>&1)"
check_eq "scontrol show hostlist" "n[1-2]" "$(scontrol show hostlist n1,n2)"
check_match "scontrol show job" "JobState=PENDING" "$(scontrol show job "$h")"
check "scancel" as_user scancel "$h"
wait_job_end "$h" 20
check_eq "the held job is cancelled" CANCELLED "$(job_state "$h")"
out=$(as_user sbatch --no-such-option --wrap=true 2>&1)
check_match "an option Meridian does not take is refused by name" "no-such-option" "$out"
check_eq "and nothing is submitted" "" "$(as_user squeue -h -t PD)"
# ---- salloc: an allocation, a command here in it, srun inside
out=$(cd "$W" && as_user salloc -N 2 bash -c \
	'echo "in job $SLURM_JOB_ID on $SLURM_JOB_NODELIST ($SLURM_NNODES nodes, cpus $SLURM_JOB_CPUS_PER_NODE)"
	 echo "hosts: $(scontrol show hostnames "$SLURM_JOB_NODELIST" | tr "\n" " ")"
	 srun bash -c "echo rank \$SLURM_PROCID on \$SLURMD_NODENAME" | sort
	 exit 3' 2>&1)
rc=$?
note "$out"
check_eq "salloc exits with its command's status" 3 "$rc"
check_match "salloc: Granted job allocation N" "^salloc: Granted job allocation [0-9]+$" "$out"
aid=$(printf '%s\n' "$out" | sed -n 's/^salloc: Granted job allocation //p')
check_match "the command runs in the job, with its variables" \
	"^in job $aid on n\[1-2\] \(2 nodes, cpus [0-9]+\(x2\)\)$" "$out"
check_match "scontrol show hostnames in it" "^hosts: n1 n2 $" "$out"
check_match "srun inside runs a step in the allocation: rank 0" "^rank 0 on n1$" "$out"
check_match "and rank 1" "^rank 1 on n2$" "$out"
check_match "salloc gives the allocation back" "^salloc: Relinquishing job allocation $aid$" "$out"
check_eq "the allocation has ended, with the command's exit code" "3:0" "$(job_field "$aid" ExitCode)"
check_match "it is over" "COMPLETED|FAILED" "$(job_state "$aid")"
check_eq "its step ran in it" "$aid.0" "$(mqueue -h -t all --steps="$aid" -o '%i' 2>/dev/null | head -n 1)"

# without a command: the shell, reading what it is given
out=$(cd "$W" && echo 'echo "shell in $SLURM_JOB_ID"' | as_user env SHELL=/bin/sh salloc -N 1 2>&1)
check_match "salloc alone runs \$SHELL" "^shell in [0-9]+$" "$out"

# the job ends under it (mcancel): the command is told, salloc says so
(cd "$W" && as_user salloc -N 1 sleep 60 >"$MER_T/salloc.out" 2>&1; echo "rc=$?" >>"$MER_T/salloc.out") &
granted() { grep -q "Granted job allocation" "$MER_T/salloc.out" 2>/dev/null; }
wait_for 20 "salloc's allocation" granted || fail "salloc got no allocation: $(cat "$MER_T/salloc.out")"
cid=$(sed -n 's/^salloc: Granted job allocation //p' "$MER_T/salloc.out")
check "mcancel the allocation" as_user mcancel "$cid"
salloc_done() { grep -q "^rc=" "$MER_T/salloc.out"; }
wait_for 20 "salloc to end" salloc_done || fail "salloc still runs: $(cat "$MER_T/salloc.out")"
check_match "salloc: the allocation has been revoked" "^salloc: Job allocation $cid has been revoked\.$" "$(cat "$MER_T/salloc.out")"
check_nomatch "and its command did not run its 60 s" "^rc=0$" "$(cat "$MER_T/salloc.out")"
check_eq "the job is CANCELLED" CANCELLED "$(job_state "$cid")"
finish
