#!/usr/bin/env bash
# Issue 6's real-GPU benchmark in one call of the `device` tool (prepare with
# scripts/device/prep.sh; docs/gpu.md "Measuring on a GPU"):
#   run(command="bash scripts/device/bench.sh", carry=[".gl", ".device"], timeout_s=540)
# Writes $OUT/summary.txt (every command and its output) and the `bench kernels` rows as JSON.
# Steps, each under its own time limit so that one slow step cannot eat the lease:
#   1. Vulkan loader (from .gl/ when libvulkan.so.1 is missing) and NVIDIA's ICD file
#   2. `ntkgap devices`, nvidia-smi
#   3. `bench kernels --device wgpu` at N = 1024 (k = 4096, checked against the reference
#      kernels; k = 32768) and N = 4096 (k = 32768, unchecked): the Gram-assembly GEMM against
#      burn's matmul, with a sweep of split-k slice counts (`--gemm-slices`) for tuning
#      and the small-output GEMM (8 × 589824 and 64 × 32768) with both WGSL kernels
#   4. `gram --device wgpu` and `--device cpu` (N = 256, 128 tokens) on a MiniLM-shaped model
#      with random weights (random_model.py), and max |K_wgpu − K_cpu| / mean |K_cpu|
# The limits add up to about 8.5 minutes; the kernels (the issue's target) run first.
# `--smoke` runs the same steps at toy sizes (any machine with a Vulkan adapter, lavapipe too):
# it checks the script, not the device.
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
SMOKE=0
[[ "${1:-}" == "--smoke" ]] && SMOKE=1
OUT="${OUT:-$ROOT/device_out}"
mkdir -p "$OUT"
SUM="$OUT/summary.txt"
: >"$SUM"
say() { echo "$*" | tee -a "$SUM"; }
# step NAME LIMIT_S CMD...: run CMD under a time limit, its output into the summary.
step() {
    local name=$1 limit=$2
    shift 2
    say ""
    say "\$ $*"
    local t0
    t0=$(date +%s%N)
    timeout "$limit" "$@" 2>&1 | tee -a "$SUM"
    local rc=${PIPESTATUS[0]}
    say "[$name: exit $rc, $(( ($(date +%s%N) - t0) / 1000000 )) ms]"
}

# 1. Loader and driver.
if ls .gl/*.deb >/dev/null 2>&1 && ! ldconfig -p | grep -q 'libvulkan.so.1'; then
    for f in .gl/*.deb; do dpkg -x "$f" /; done
    ldconfig
fi
ICD=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
if [[ -z "${VK_DRIVER_FILES:-}" && -f "$ICD" ]]; then
    export VK_DRIVER_FILES="$ICD" __EGL_VENDOR_LIBRARY_FILENAMES=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
fi
if [[ -f .device/ntkgap.xz ]]; then
    xz -dc .device/ntkgap.xz >/tmp/ntkgap && chmod +x /tmp/ntkgap
    BIN=/tmp/ntkgap
elif [[ -x target/debug/ntkgap ]]; then
    BIN=target/debug/ntkgap
else
    say "bench.sh: error: no ntkgap binary (.device/ntkgap.xz or target/debug/ntkgap): run scripts/device/prep.sh first"
    exit 2
fi
say "date: $(date -u +%FT%TZ); commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown); host: $(uname -srm); cores: $(nproc)"

# 2. What is there.
command -v nvidia-smi >/dev/null && step nvidia-smi 30 nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv
step devices 60 "$BIN" devices

# 3. Kernels.
if ((SMOKE)); then
    step kernels-small 300 "$BIN" bench kernels --device wgpu --gemm-n 64 --gemm-k 256 --small-n 5 --small-k 3000 --matmul-n 128 --examples 2 --tokens 16 --d-in 32 --d-out 32 --repeats 1 --out "$OUT/kernels_1024.json"
else
    step kernels-1024 90 "$BIN" bench kernels --device wgpu --gemm-n 1024 --gemm-k 4096 --matmul-n 1024 --gemm-slices auto,1,2,4,8 --examples 16 --tokens 128 --d-in 384 --d-out 384 --repeats 5 --out "$OUT/kernels_1024.json"
    step kernels-1024-long 60 "$BIN" bench kernels --device wgpu --gemm-n 1024 --gemm-k 32768 --small-n 64 --small-k 32768 --matmul-n 4096 --gemm-slices auto,8,16,32 --examples 64 --tokens 128 --d-in 384 --d-out 384 --repeats 5 --no-check --out "$OUT/kernels_1024_long.json"
    step kernels-4096 90 "$BIN" bench kernels --device wgpu --gemm-n 4096 --gemm-k 32768 --matmul-n 4096 --gemm-slices auto,16 --examples 64 --tokens 128 --d-in 384 --d-out 384 --repeats 5 --no-check --out "$OUT/kernels_4096.json"
fi
mapfile -t KERNEL_JSON < <(ls "$OUT"/kernels_*.json | grep -v '\.meta\.json$')
step table 30 python3 scripts/device/table.py "${KERNEL_JSON[@]}"

# 4. End to end on a MiniLM-shaped model (random weights: same shapes, same work).
MODEL=/tmp/minilm_random
if [[ -f .device/minilm/shapes.json ]]; then
    step random-model 60 python3 scripts/device/random_model.py .device/minilm "$MODEL"
else
    say "no .device/minilm (run scripts/device/prep.sh): end-to-end steps skipped"
    exit 0
fi
HEAD_FILE=tests/data/minilm_head_seed0.safetensors
if ((SMOKE)); then N=2; LEN=32; else N=256; LEN=128; fi
# The same Gram on both devices (each prints its forward+backward and contraction GFLOP/s), compared.
"$BIN" generate --kind corr2cause --nodes 4..4 --out /tmp/c4.jsonl >/dev/null 2>&1
head -n "$N" /tmp/c4.jsonl >/tmp/x.jsonl
step gram-wgpu 120 "$BIN" gram --model "$MODEL" --head "$HEAD_FILE" --input /tmp/x.jsonl --max-len "$LEN" --device wgpu --out /tmp/K_wgpu.npy
step gram-cpu 60 "$BIN" gram --model "$MODEL" --head "$HEAD_FILE" --input /tmp/x.jsonl --max-len "$LEN" --device cpu --out /tmp/K_cpu.npy
step compare 20 python3 -c "
import numpy as np
a, b = np.load('/tmp/K_wgpu.npy'), np.load('/tmp/K_cpu.npy')
print(f'gram N = {a.shape[0]}: max |K_wgpu - K_cpu| / mean |K_cpu| = {np.abs(a - b).max() / np.abs(b).mean():.2e}')"
say ""
say "done: $(date -u +%FT%TZ)"
