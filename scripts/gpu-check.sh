#!/usr/bin/env bash
# The GPU check: on a Linux x64 machine with an NVIDIA GPU and only its driver (no Node.js, no
# network), with .gpu/ from scripts/gpu-bundle.sh carried beside the working tree, it runs
#   1. rdc info --parity: every graph kind on the chosen GPU provider against the CPU provider;
#   2. rdc bench --suite device at --size tiny and --size paper (multi-head): forward, training
#      (gradients; whole steps with AdamW on the host or in the graph) and DC seconds per image,
#      GPU beside the CPU provider on every core, in the same run;
#   3. a 1-minute training smoke run (--size small, 2048 CIFAR-10 images) on the GPU;
# and writes one JSON (default $OUT/gpu-check.json, else ./gpu-check.json) with every part, its
# log and the time it took. The whole script stays under 4 minutes (each part has a timeout).
# Usage: bash scripts/gpu-check.sh [out.json]      (RDC_DEVICE=webgpu|cuda|auto|cpu, default webgpu;
#        RDC_BUNDLED_NODE=1 uses the carried Node.js even where one is installed, to test the bundle)
set -uo pipefail
cd "$(dirname "$0")/.."
bundle=.gpu
[ -d "$bundle" ] || { echo "no $bundle/: run 'bash scripts/gpu-bundle.sh' first (on a machine with the project installed)" >&2; exit 2; }
result="${1:-${OUT:-.}/gpu-check.json}"
parts="$(mktemp -d)"
work="$(mktemp -d)"
device="${RDC_DEVICE:-webgpu}"
begin=$(date +%s)

unxz() { # file.xz → stdout; python's lzma where xz is absent
  if command -v xz >/dev/null; then xz -dc "$1"; else python3 -c 'import lzma,shutil,sys; shutil.copyfileobj(lzma.open(sys.argv[1]), sys.stdout.buffer)' "$1"; fi
}

# Node.js: the machine's if it is 20 or newer, else the carried one.
if [ -z "${RDC_BUNDLED_NODE:-}" ] && command -v node >/dev/null && [ "$(node -p 'process.versions.node.split(".")[0]')" -ge 20 ] 2>/dev/null; then
  node=node
else
  unxz "$bundle/node.xz" >"$work/node" && chmod +x "$work/node"
  node="$work/node"
fi
cp -r "$bundle/app" "$work/app"
lib="$work/app/node_modules/onnxruntime-node/bin/napi-v6/linux/x64"
unxz "$lib/libonnxruntime.so.1.xz" >"$lib/libonnxruntime.so.1" && rm "$lib/libonnxruntime.so.1.xz"

# The Vulkan loader: the machine's, else Debian's unpacked here. The NVIDIA driver's manifest: the
# standard folders, else where NVIDIA's container toolkit puts it.
if ! ldconfig -p 2>/dev/null | grep -q 'libvulkan.so.1 '; then
  mkdir -p "$work/vk"
  for deb in "$bundle"/deb/*.deb; do
    if command -v dpkg >/dev/null; then dpkg -x "$deb" "$work/vk"; else (cd "$work/vk" && ar x "$OLDPWD/$deb" data.tar.xz && tar -xJf data.tar.xz); fi
  done
  export LD_LIBRARY_PATH="$work/vk/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
fi
if [ -z "${VK_DRIVER_FILES:-}" ] && ! ls /usr/share/vulkan/icd.d/nvidia*.json /etc/vulkan/icd.d/nvidia*.json >/dev/null 2>&1; then
  for f in /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json /usr/local/share/vulkan/icd.d/nvidia_icd.json; do
    [ -f "$f" ] && export VK_DRIVER_FILES="$f" && break
  done
fi

# part NAME SECONDS ARGS…: runs `rdc ARGS --json FILE` under a timeout; records rc, seconds, log tail.
part() {
  local name="$1" limit="$2"
  shift 2
  local t0=$(date +%s)
  timeout "$limit" "$node" "$work/app/bin/rdc.mjs" "$@" --json "$parts/$name.json" >"$parts/$name.log" 2>&1
  local rc=$?
  echo "{\"rc\": $rc, \"seconds\": $(($(date +%s) - t0))}" >"$parts/$name.status"
  echo "$name: rc $rc in $(($(date +%s) - t0)) s"
}

nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader >"$parts/nvidia-smi.txt" 2>&1 || true
cores=$(nproc 2>/dev/null || echo 4)
part info 30 info --device "$device" --parity
part bench-tiny 30 bench --suite device --device "$device" --size tiny --batch 32 --levels 25 --min-seconds 1 --threads "$cores"
part bench-paper 85 bench --suite device --device "$device" --size paper --net multihead --batch 4 --levels 4 --min-seconds 0.5 --threads "$cores"
part train 75 train --size small --device "$device" --data-dir "$bundle/data" --val-size 256 --val-every 100000 --val-images 32 --val-levels 10 --time-budget 35s --batch 32 --run "$work/run"

"$node" - "$parts" "$result" "$begin" "$device" <<'EOF'
const fs = require('node:fs');
const path = require('node:path');
const [dir, out, begin, device] = process.argv.slice(2);
const read = (f) => (fs.existsSync(f) ? fs.readFileSync(f, 'utf8') : null);
const report = { script: 'scripts/gpu-check.sh', device, date: new Date().toISOString(), seconds: Math.round(Date.now() / 1000 - Number(begin)), gpu: (read(path.join(dir, 'nvidia-smi.txt')) ?? '').trim(), env: { VK_DRIVER_FILES: process.env.VK_DRIVER_FILES ?? null, LD_LIBRARY_PATH: process.env.LD_LIBRARY_PATH ?? null }, parts: {} };
for (const name of ['info', 'bench-tiny', 'bench-paper', 'train']) {
  const status = JSON.parse(read(path.join(dir, `${name}.status`)) ?? '{"rc":null}');
  let result = null;
  try { result = JSON.parse(read(path.join(dir, `${name}.json`)) ?? 'null'); } catch (e) { result = { unreadable: String(e) }; }
  report.parts[name] = { ...status, result, logTail: (read(path.join(dir, `${name}.log`)) ?? '').split('\n').slice(-15).join('\n') };
}
report.ok = Object.values(report.parts).every((p) => p.rc === 0);
fs.mkdirSync(path.dirname(out), { recursive: true });
fs.writeFileSync(out, `${JSON.stringify(report, null, 2)}\n`);
console.log(`wrote ${out}: ${report.ok ? 'every part passed' : 'a part failed'} in ${report.seconds} s`);
process.exitCode = report.ok ? 0 : 1;
EOF
