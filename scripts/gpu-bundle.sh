#!/usr/bin/env bash
# Builds .gpu/: everything scripts/gpu-check.sh needs on a bare Linux x64 machine that has only the
# NVIDIA driver (no Node.js, no network), to carry there beside the working tree (at most 64 MiB):
#   node.xz                 this machine's Node.js, xz-packed
#   app/bin/rdc.mjs         the CLI in one file (esbuild), app/package.json for its version
#   app/bin/*.wasm          tfjs-backend-wasm's kernels (rdc info reports the tfjs backend)
#   app/node_modules/       onnxruntime-node and onnxruntime-common (Linux x64 binaries only;
#                           libonnxruntime.so.1 xz-packed)
#   deb/libvulkan1_*.deb    Debian's Vulkan loader, unpacked there when the machine has none
#   data/                   the first 2048 training and 256 test images of CIFAR-10 (the smoke run)
# Run from the repository root after `pnpm install`:  bash scripts/gpu-bundle.sh [../shared/data/cifar-10-batches-bin]
set -euo pipefail
cd "$(dirname "$0")/.."
data="${1:-${RDC_DATA_DIR:-../shared/data/cifar-10-batches-bin}}"
out=.gpu
rm -rf "$out"
mkdir -p "$out/app/bin" "$out/app/node_modules" "$out/deb" "$out/data"

npx tsc -b
pnpm run --silent gpu:cli   # the CLI as one file (esbuild; the command is package.json's)
cp apps/cli/package.json "$out/app/package.json"
cp "$(readlink -f packages/core/node_modules/@tensorflow/tfjs-backend-wasm)"/dist/*.wasm "$out/app/bin/"

ort="$(readlink -f packages/core/node_modules/onnxruntime-node)"
common="$(readlink -f "$ort/../onnxruntime-common")"
[ -f "$ort/package.json" ] && [ -f "$common/package.json" ] || { echo "onnxruntime-node not installed: run pnpm install" >&2; exit 1; }
mkdir -p "$out/app/node_modules/onnxruntime-node/bin/napi-v6/linux"
cp -r "$ort/package.json" "$ort/dist" "$out/app/node_modules/onnxruntime-node/"
cp -r "$ort/bin/napi-v6/linux/x64" "$out/app/node_modules/onnxruntime-node/bin/napi-v6/linux/"
xz -T0 -9 "$out/app/node_modules/onnxruntime-node/bin/napi-v6/linux/x64/libonnxruntime.so.1"
cp -r "$common" "$out/app/node_modules/onnxruntime-common"
xz -T0 -9 -c "$(command -v node)" >"$out/node.xz"

deb=$(ls /var/cache/apt/archives/libvulkan1_*_amd64.deb 2>/dev/null | head -1 || true)
if [ -z "$deb" ]; then (cd "$out/deb" && apt-get download libvulkan1:amd64); else cp "$deb" "$out/deb/"; fi

head -c $((2048 * 3073)) "$data/data_batch_1.bin" >"$out/data/data_batch_1.bin"
head -c $((256 * 3073)) "$data/test_batch.bin" >"$out/data/test_batch.bin"
cp "$data/batches.meta.txt" "$out/data/"

size=$(du -sb "$out" | cut -f1)
tree=$(git ls-files -z | xargs -0 du -cb | tail -1 | cut -f1)
echo "$out: $((size / 1048576)) MiB; with the tracked working tree: $(((size + tree) / 1048576)) MiB (limit 64)"
[ $((size + tree)) -le $((64 * 1048576)) ] || { echo "over 64 MiB" >&2; exit 1; }
