#!/bin/sh
#SBATCH --wrap=x
