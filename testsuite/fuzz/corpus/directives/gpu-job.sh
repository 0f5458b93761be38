#!/bin/bash
# A sample GPU-style batch job: submit it with `mbatch gpu-job.sh`.
# Directives are read by mbatch exactly like the same options on the
# command line; #MERIDIAN lines work as well as #SBATCH.
#SBATCH --job-name=gpu-demo
#SBATCH --nodes=1
#SBATCH --ntasks=1
#SBATCH --cpus-per-task=1
#SBATCH --gpus=2
#SBATCH --time=00:05:00
#SBATCH --output=gpu-demo-%j.out
#MERIDIAN --error=gpu-demo-%j.err

set -eu
echo "== job $SLURM_JOB_ID ($SLURM_JOB_NAME) on $(hostname) as $(id -un)"
echo "   nodes:      $SLURM_JOB_NODELIST ($SLURM_JOB_NUM_NODES)"
echo "   partition:  ${SLURM_JOB_PARTITION:-}"
echo "   tasks:      ${SLURM_NTASKS:-} x ${SLURM_CPUS_PER_TASK:-1} cpu"
echo "   GPUs:       CUDA_VISIBLE_DEVICES=${CUDA_VISIBLE_DEVICES:-<none>}" \
	"SLURM_GPUS_ON_NODE=${SLURM_GPUS_ON_NODE:-0}"
echo "   submit dir: $SLURM_SUBMIT_DIR, running in $(pwd)"

if command -v nvidia-smi >/dev/null 2>&1; then
	nvidia-smi --query-gpu=index,name,memory.total --format=csv,noheader || true
else
	echo "   (no nvidia-smi here: the demo cluster's GPUs come from Gres= in meridian.conf)"
fi

# A small computation standing in for training: pi by the midpoint rule,
# one slice per visible GPU, each slice on its own "device".
IFS=, read -r -a devs <<<"${CUDA_VISIBLE_DEVICES:-0}"
k=${#devs[@]}
total=0
for r in "${!devs[@]}"; do
	part=$(awk -v r="$r" -v k="$k" 'BEGIN {
		steps = 2000000; h = 1.0 / steps; s = 0
		for (i = r; i < steps; i += k) { x = h * (i + 0.5); s += 4.0 / (1.0 + x * x) }
		printf "%.12f", s * h }')
	echo "   device ${devs[$r]}: partial sum $part"
	total=$(awk -v a="$total" -v b="$part" 'BEGIN { printf "%.12f", a + b }')
done
echo "   pi ~= $total"
sleep 3
echo "== done"
