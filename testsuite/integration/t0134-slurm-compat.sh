#!/bin/bash
# contrib/slurm-compat (issue 11, point 1): with its directory on PATH, a
# Slurm user's batch script runs verbatim -- sbatch submits it, and in it
# scontrol show hostnames, srun and squeue -j do what they do under
# Slurm -- and squeue, sprio, sinfo, scancel and scontrol answer a user
# at the prompt.  A Slurm option Meridian does not take is refused by
# its name.
. "$(dirname "$0")/lib.sh"
mer_init
need_test_user
cluster_start 2
W=$MER_T/work
cd "$W" || bail "cd $W"
chmod 0777 "$W"
COMPAT=$MERIDIAN_BUILDDIR/contrib/slurm-compat/bin
for c in sbatch srun squeue scancel sinfo scontrol sprio; do
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
finish
