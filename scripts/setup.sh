#!/usr/bin/env bash
# One-time setup for a fresh machine: everything ntkgap's build and tests need.
# Safe to re-run. Needs: a Rust toolchain (cargo) on PATH.
set -euo pipefail
if ! command -v cargo >/dev/null 2>&1; then
  echo "setup: cargo not found; install Rust (https://rustup.rs) first" >&2
  exit 1
fi
cargo fetch --quiet
echo "setup: done"
