#!/bin/bash
# A sample data-parallel MPI training job: submit it with
#   mbatch train-job.sh [PATH/TO/mpi_train]
# Two nodes, two ranks on each, one GPU per rank.  mrun starts the step's
# ranks on the job's nodes; each rank gets RANK, WORLD_SIZE, LOCAL_RANK,
# MASTER_ADDR/PORT and its own CUDA_VISIBLE_DEVICES, and MPICH wires up
# through mstepd's PMI-1 server.
#SBATCH --job-name=train-demo
#SBATCH --nodes=2
#SBATCH --ntasks-per-node=2
#SBATCH --gpus-per-node=2
#SBATCH --time=00:10:00
#SBATCH --output=train-demo-%j.out

set -eu
prog=${1:-./mpi_train}
echo "== job $SLURM_JOB_ID on $SLURM_JOB_NODELIST: $SLURM_NTASKS ranks"

# Where each rank runs and what it sees (one step).
mrun --label --mpi=none --gpus-per-task=1 bash -c \
	'echo "$(hostname) RANK=$RANK/$WORLD_SIZE LOCAL_RANK=$LOCAL_RANK GPU=${CUDA_VISIBLE_DEVICES:-none} MASTER=$MASTER_ADDR:$MASTER_PORT"' |
	sort

# The training itself (the next step): gradients averaged with
# MPI_Allreduce every step; every rank ends with the same checksum.
mrun --gpus-per-task=1 "$prog" --steps 200 --every 50
echo "== done"
