#!/usr/bin/env bash
# Run the pipeline of tests/reproducible.rs with one ntkgap binary into OUT (a new directory), so
# that two binaries' outputs can be compared byte for byte (`diff -r OUT_A OUT_B`): how a refactor
# shows that it changed no output. Usage, from the repository root:
#   bash scripts/repro_tree.sh target/debug/ntkgap /tmp/after [SEED]
set -euo pipefail
bin=$(realpath "${1:?usage: repro_tree.sh BINARY OUT [SEED]}")
out=${2:?usage: repro_tree.sh BINARY OUT [SEED]}
seed=${3:-11}
root=$(cd "$(dirname "$0")/.." && pwd)
mkdir "$out"
cd "$out"
cp "$root/tests/data/minilm/tokenizer.json" tokenizer.json
run() { "$bin" "$@" >/dev/null 2>&1 || { echo "repro_tree: ntkgap $* failed" >&2; "$bin" "$@"; exit 1; }; }
run generate --kind corr2cause --nodes 2..4 --max-mecs 6 --seed "$seed" --out c2c.jsonl
run generate --kind extended --nodes 3..5 --per-size 3 --seed "$seed" --out ext
run pairs --input c2c.jsonl --tokenizer tokenizer.json --max-length 64 --kind both --min-overlap 0 \
    --opposite-labels false --max-per-premise 2 --max-group 3 --seed "$seed" --out pairs.jsonl
run overlap --input pairs.jsonl --csv overlap.csv
run acbo --data ext/test.jsonl --oracle noisy:0.2 --trials 2 --seed "$seed" --out acbo
run acbo --data ext/test.jsonl --oracle experiment:50 --seed "$seed" --out acbo-exp
run tokenizer --save builtin-tok
head -n 6 c2c.jsonl > six.jsonl
gram=(gram --model builtin:tiny --input six.jsonl --seed "$seed" --block 4)
run "${gram[@]}" --out K.npy
run "${gram[@]}" --rows 0..4 --out K_0.npy
run "${gram[@]}" --rows 4..6 --out K_1.npy
run gram-merge --out K_merged.npy K_0.npy K_1.npy
run bound --model builtin:tiny --pairs pairs.jsonl --train c2c.jsonl --max-train 12 --device cpu --seed "$seed" \
    --out bound
find . -type f | sort | xargs sha256sum
