#!/bin/sh
#SBATCH -J "unclosed
