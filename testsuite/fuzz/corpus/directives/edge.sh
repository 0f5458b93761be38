#!/bin/sh
	 #SBATCH -N 1
#SBATCHX -N 2
#SBATCH
#SBATCH --gres=gpu:h100:8 --cpus-per-task=4 -p gpu -A proj -H --parsable
#SBATCH extra-arg
