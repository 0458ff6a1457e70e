#!/usr/bin/env bash
# The direct-versus-A-CBO table (README, docs/acbo.md): one builtin:tiny model trained on a mix
# of the global Corr2Cause task and local query texts; then the same frozen weights are asked
# every Extended Corr2Cause test item's global question directly (the `direct` columns) and
# serve as the `model:DIR` oracle inside A-CBO (the other columns).
#
#   bash scripts/direct_vs_acbo.sh [OUT]        (default OUT: runs/dva)
#
# Every step is seeded; rerunning gives the same files. NTKGAP overrides the binary
# (default: target/debug/ntkgap, built first with `cargo build`).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-runs/dva}
NTKGAP=${NTKGAP:-target/debug/ntkgap}
[ -x "$NTKGAP" ] || cargo build --quiet
mkdir -p "$OUT"
run() { echo "\$ ntkgap $*" >&2; "$NTKGAP" "$@"; }

# 1. The global task: Corr2Cause n = 3..5 (every third record of the train split, every
#    second of dev, to keep training short).
run generate --kind corr2cause --nodes 3..5 --out "$OUT/c2c"
# 2. Local queries: one simulated experiment (S = 200 samples per arm) behind each question, on
#    10 random systems per size n = 3..24 (split by system); every eighth record is kept.
run local-queries --nodes 3..24 --systems 10 --samples 200 --seed 1 --out "$OUT/local"
# 3. One training file with both kinds of text (the trainer shuffles), one dev file.
{ awk 'NR % 3 == 1' "$OUT/c2c/train.jsonl"; awk 'NR % 8 == 1' "$OUT/local/train.jsonl"; } > "$OUT/mixed-train.jsonl"
{ awk 'NR % 2 == 1' "$OUT/c2c/dev.jsonl"; awk 'NR % 8 == 1' "$OUT/local/dev.jsonl"; } > "$OUT/mixed-dev.jsonl"
wc -l "$OUT/mixed-train.jsonl" "$OUT/mixed-dev.jsonl" >&2
# 4. Train builtin:tiny on the mix.
run train --data "$OUT/mixed-train.jsonl" --dev "$OUT/mixed-dev.jsonl" --model builtin:tiny --epochs 2 --seed 0 --out "$OUT/model"
# 5. The one model on each kind of text separately (local test split; Corr2Cause test split).
run eval --model "$OUT/model/best" --data "$OUT/local/test.jsonl" | head -2
run eval --model "$OUT/model/best" --data "$OUT/c2c/test.jsonl" | head -2
# 6. Extended Corr2Cause, n = 7..24, 10 classes per size, all records in one file (the model
#    never saw an Extended record; the loop samples 100 items per size).
run generate --kind extended --nodes 7..24 --per-size 10 --seed 3 --out "$OUT/ext-7-24.jsonl"
# 7. The table: the same frozen weights asked directly (`direct`, `dir_F1`) and as the local
#    oracle inside A-CBO (the other columns).
run acbo --data "$OUT/ext-7-24.jsonl" --oracle "model:$OUT/model/best" --max-items-per-size 100 --out "$OUT/acbo-model"
