#!/bin/bash
# One Slurm job array over a cohort: task I of N scores shard I/N of the sorted inputs.
# tbs-batch reads SLURM_ARRAY_TASK_ID, SLURM_ARRAY_TASK_MIN and SLURM_ARRAY_TASK_COUNT itself.
#
#   sbatch --array=0-15 examples/slurm/tbs-array.sh /data/cohort /scratch/tbs
#
# A task that is killed (time limit, node failure, preemption) is simply run again: --resume
# skips what its file already holds. When every task is done:
#
#   tbs-batch merge /scratch/tbs/shard-*.csv -o /scratch/tbs/all.csv
#
#SBATCH --job-name=tbs
#SBATCH --cpus-per-task=8
#SBATCH --mem=4G
#SBATCH --time=04:00:00
#SBATCH --requeue
#SBATCH --output=%x-%A_%a.log

set -euo pipefail
cohort=${1:?usage: tbs-array.sh COHORT_DIR OUT_DIR [tbs-batch flags...]}
out=${2:?usage: tbs-array.sh COHORT_DIR OUT_DIR [tbs-batch flags...]}
shift 2
mkdir -p "$out"
exec tbs-batch "$cohort" -j "${SLURM_CPUS_PER_TASK:-1}" \
    -o "$out/shard-${SLURM_ARRAY_TASK_ID}.csv" --resume "$@"
