#!/bin/bash
#SBATCH --job-name=train -N 2 --ntasks-per-node=4
#SBATCH --gpus-per-node=a100:2 --mem=16G
#MERIDIAN --max-price=2.50 # a comment
#SBATCH -t 1-02:00:00 -o "%x %j.out"

# a comment
#SBATCH --export=ALL,A=1
srun hostname
#SBATCH --ignored-after-commands
