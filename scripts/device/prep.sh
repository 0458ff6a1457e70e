#!/usr/bin/env bash
# Prepare issue 6's real-GPU benchmark for the `device` tool (run here, once per session that has
# a lent GPU machine; nothing of it is committed). It fills two git-ignored folders that the
# device call carries:
#   .gl/      the Vulkan/EGL loader packages (the device image has NVIDIA's driver but may lack
#             libvulkan.so.1; /work/.library/device/README.md)
#   .device/  ntkgap (the dev-profile binary, stripped, xz-compressed: ~14 MB) and a MiniLM-shaped
#             checkpoint description (config.json, tokenizer.json, tensor names/shapes): the
#             90 MB weights do not fit the 64 MiB carry limit, so scripts/device/random_model.py
#             draws random weights of the same shapes on the device (timings do not depend on
#             the values).
# Then, with the device tool:  run(command="bash scripts/device/bench.sh", carry=[".gl", ".device"],
#                                  timeout_s=540)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
MODEL=".cache/models/all-MiniLM-L6-v2"
[[ -f "$MODEL/model.safetensors" ]] || bash scripts/fetch_models.sh

echo "building ntkgap (dev profile, the one profile this project uses)"
cargo build --quiet
mkdir -p .device/minilm
strip -o .device/ntkgap "${CARGO_TARGET_DIR:-target}/debug/ntkgap"
xz -T0 -6 -f .device/ntkgap
cp "$MODEL/config.json" "$MODEL/tokenizer.json" .device/minilm/
python3 - "$MODEL/model.safetensors" .device/minilm/shapes.json <<'PY'
import json, struct, sys
with open(sys.argv[1], "rb") as f:
    (n,) = struct.unpack("<Q", f.read(8))
    header = json.loads(f.read(n))
header.pop("__metadata__", None)
json.dump({k: {"dtype": v["dtype"], "shape": v["shape"]} for k, v in header.items()}, open(sys.argv[2], "w"), indent=0)
PY

if ! ls .gl/*.deb >/dev/null 2>&1; then
    echo "downloading the Vulkan loader packages into .gl/"
    mkdir -p .gl /tmp/amd64/partial
    o=(-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64)
    apt-get "${o[@]}" update -qq
    (cd .gl && apt-get "${o[@]}" download libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2)
fi
du -sh .device .gl
echo "ready: run(command=\"bash scripts/device/bench.sh\", carry=[\".gl\", \".device\"], timeout_s=540)"
