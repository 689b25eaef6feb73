#!/usr/bin/env bash
# A sharded attack as a Slurm job array: array task i runs shard i+1 of the images and writes
# $OUT/shard-I-of-N/; a resubmitted or requeued task resumes its shard (deploy/slurm/layout.sh keeps
# the shard count of the first submission). From the repository root, after pnpm install && pnpm build:
#   sbatch --array=0-15 deploy/slurm/attack-array.sh                 # 16 shards
#   sbatch --array=3 deploy/slurm/attack-array.sh                    # shard 4 again (resumes)
#   sbatch --dependency=afterany:<jobid> --wrap 'pnpm rdc merge runs/paper-rdc'
# Settings from the environment (sbatch passes it on), defaulting to the paper's protocol:
#   MODEL (models/default), DEFENSE (rdc), PROTOCOL (paper), RANGE (0:512), OUT (runs/paper-rdc),
#   SEED (0), RDC_ARGS (more rdc attack options, e.g. "--eps 4/255"), SHARDS (must equal the array size).
# --mem: one task of the RDC on models/default (protocol paper) peaked at 1.14 GB resident (docs/scale-out.md).
#SBATCH --job-name=rdc-attack
#SBATCH --array=0-15
#SBATCH --cpus-per-task=1
#SBATCH --mem=2G
#SBATCH --time=48:00:00
set -euo pipefail
ROOT="${RDC_ROOT:-${SLURM_SUBMIT_DIR:-$PWD}}"
# shellcheck source=layout.sh
source "$ROOT/deploy/slurm/layout.sh"
MODEL="${MODEL:-models/default}"
DEFENSE="${DEFENSE:-rdc}"
PROTOCOL="${PROTOCOL:-paper}"
RANGE="${RANGE:-0:512}"
OUT="${OUT:-runs/paper-rdc}"
SEED="${SEED:-0}"
RDC_ARGS="${RDC_ARGS:-}"
cd "$ROOT"
rdc_layout "$OUT" "kind=attack" "MODEL=$MODEL" "DEFENSE=$DEFENSE" "PROTOCOL=$PROTOCOL" "RANGE=$RANGE" "SEED=$SEED" "RDC_ARGS=$RDC_ARGS"
rdc_command "$ROOT"
# shellcheck disable=SC2086 # RDC_ARGS is a list of options
exec "${RDC[@]}" attack --model "$MODEL" --defense "$DEFENSE" --protocol "$PROTOCOL" --range "$RANGE" --seed "$SEED" \
  --threads "${SLURM_CPUS_PER_TASK:-1}" --shard "$RDC_SHARD" --out "$OUT" $RDC_ARGS
