# Sourced by attack-array.sh and certify-array.sh: which shard this array task runs.
#
# The shard count is the array's size at its first submission (sbatch --array=0-N-1; SHARDS, if
# set, must agree). The first task to start records the layout (the shard count and the settings) in
# $OUT/slurm-layout.env, atomically (a hard link: of several tasks starting at once, one wins); every
# later task reads it from there: a lone resubmitted index (sbatch --array=1) or a requeued task
# (scontrol requeue) runs shard ID+1 of the recorded count. Settings that differ from the recorded
# ones are an error (exit 2), and nothing is overwritten.
#
#   rdc_layout OUT KEY=VALUE...   → sets RDC_SHARD (I/N, 1-based)

rdc_fail() {
  echo "error: $*" >&2
  exit 2
}

rdc_layout() {
  local out="$1"
  shift
  local file="$out/slurm-layout.env"
  local task="${SLURM_ARRAY_TASK_ID:-}"
  [ -n "$task" ] || rdc_fail "not a Slurm array task: submit with sbatch --array=0-N (N + 1 shards)"
  local want
  want="$(printf '%s\n' "$@")"
  mkdir -p "$out"
  if [ ! -f "$file" ]; then
    [ "${SLURM_ARRAY_TASK_MIN:-0}" = 0 ] ||
      rdc_fail "$file does not exist yet, and this array starts at ${SLURM_ARRAY_TASK_MIN}: the first submission must be --array=0-N (one task per shard)"
    local count="${SLURM_ARRAY_TASK_COUNT:?}"
    [ -z "${SHARDS:-}" ] || [ "$SHARDS" = "$count" ] || rdc_fail "SHARDS=$SHARDS but the array has $count tasks: submit with --array=0-$((SHARDS - 1))"
    local tmp="$file.$$.tmp"
    printf 'SHARDS=%s\n%s\n' "$count" "$want" >"$tmp"
    ln "$tmp" "$file" 2>/dev/null || true
    rm -f "$tmp"
  fi
  local shards recorded
  shards="$(sed -n 's/^SHARDS=//p' "$file")"
  recorded="$(grep -v '^SHARDS=' "$file")"
  if [ "$recorded" != "$want" ]; then
    echo "error: $file records this run with other settings (recorded < > now):" >&2
    diff <(echo "$recorded") <(echo "$want") >&2 || true
    rdc_fail "submit with the recorded settings, or choose another OUT"
  fi
  [ -z "${SHARDS:-}" ] || [ "$SHARDS" = "$shards" ] || rdc_fail "SHARDS=$SHARDS but $file records $shards shards"
  [ "$task" -lt "$shards" ] || rdc_fail "array task $task is outside the $shards shards recorded in $file (tasks 0-$((shards - 1)))"
  RDC_SHARD="$((task + 1))/$shards"
}

# The rdc command line of this checkout (built beforehand: tasks do not rebuild it side by side).
rdc_command() {
  local root="$1"
  [ -f "$root/apps/cli/dist/main.js" ] || rdc_fail "$root is not built: run pnpm install && pnpm build there before submitting"
  export RDC_SKIP_BUILD=1
  RDC=(node "$root/scripts/rdc.mjs")
}
