#!/bin/sh
#SBATCH -N 1
