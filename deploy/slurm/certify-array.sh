#!/usr/bin/env bash
# A sharded certification (randomized smoothing) as a Slurm job array: array task i certifies shard
# i+1 of the images into $OUT/shard-I-of-N/; a resubmitted or requeued task resumes its shard
# (deploy/slurm/layout.sh). From the repository root, after pnpm install && pnpm build:
#   sbatch --array=0-15 deploy/slurm/certify-array.sh
#   sbatch --dependency=afterany:<jobid> --wrap 'pnpm rdc merge runs/certify-apndc'
# Settings from the environment, defaulting to docs/certify.md's runs:
#   MODEL (models/default), BASE (apndc), SIGMA (0.25), N0 (100), N (1000), ALPHA (0.001),
#   LEVELS (10), RANGE (0:100), OUT (runs/certify-apndc), SEED (0), RDC_ARGS (more rdc certify
#   options), SHARDS (must equal the array size).
# --mem: one task of the APNDC on models/default (10 levels, draws in batches of 32) peaked at 1.82 GB resident (docs/scale-out.md).
#SBATCH --job-name=rdc-certify
#SBATCH --array=0-15
#SBATCH --cpus-per-task=1
#SBATCH --mem=3G
#SBATCH --time=48:00:00
set -euo pipefail
ROOT="${RDC_ROOT:-${SLURM_SUBMIT_DIR:-$PWD}}"
# shellcheck source=layout.sh
source "$ROOT/deploy/slurm/layout.sh"
MODEL="${MODEL:-models/default}"
BASE="${BASE:-apndc}"
SIGMA="${SIGMA:-0.25}"
N0="${N0:-100}"
N="${N:-1000}"
ALPHA="${ALPHA:-0.001}"
LEVELS="${LEVELS:-10}"
RANGE="${RANGE:-0:100}"
OUT="${OUT:-runs/certify-apndc}"
SEED="${SEED:-0}"
RDC_ARGS="${RDC_ARGS:-}"
cd "$ROOT"
rdc_layout "$OUT" "kind=certify" "MODEL=$MODEL" "BASE=$BASE" "SIGMA=$SIGMA" "N0=$N0" "N=$N" "ALPHA=$ALPHA" "LEVELS=$LEVELS" "RANGE=$RANGE" "SEED=$SEED" "RDC_ARGS=$RDC_ARGS"
rdc_command "$ROOT"
levels=()
[ "$BASE" = none ] || levels=(--levels "$LEVELS")
# shellcheck disable=SC2086 # RDC_ARGS is a list of options
exec "${RDC[@]}" certify --model "$MODEL" --base "$BASE" --sigma "$SIGMA" --n0 "$N0" --n "$N" --alpha "$ALPHA" "${levels[@]}" \
  --range "$RANGE" --seed "$SEED" --threads "${SLURM_CPUS_PER_TASK:-1}" --shard "$RDC_SHARD" --out "$OUT" $RDC_ARGS
