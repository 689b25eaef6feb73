#!/usr/bin/env bash
# A sharded attack as a Slurm job array: task i of N takes shard i+1 of the images
# (rdc reads SLURM_ARRAY_TASK_ID, SLURM_ARRAY_TASK_COUNT and SLURM_ARRAY_TASK_MIN) and writes
# $RDC_OUT/shard-I-of-N/; a resubmitted task resumes its shard. Submit from the repository root:
#   sbatch deploy/slurm/attack-array.sh
# then, when the array has finished (or at any time, for a partial report):
#   sbatch --dependency=afterany:<jobid> --wrap 'pnpm rdc merge runs/paper-rdc'
#SBATCH --job-name=rdc-attack
#SBATCH --array=0-15
#SBATCH --cpus-per-task=2
#SBATCH --mem=8G
#SBATCH --time=48:00:00
#SBATCH --output=logs/rdc-attack-%A_%a.out
set -euo pipefail
RDC_OUT="${RDC_OUT:-runs/paper-rdc}"
MODEL="${MODEL:-models/default}"
mkdir -p logs
exec pnpm rdc attack --model "$MODEL" --defense rdc --protocol paper --range 0:512 \
  --threads "${SLURM_CPUS_PER_TASK:-2}" --out "$RDC_OUT"
