#!/usr/bin/env bash
# Reproduce every table of docs/acbo.md (dev profile; about a minute plus ~40 s of corpus
# generation). Outputs go to runs/ (git-ignored); the printed tables are what docs/acbo.md shows.
set -euo pipefail
cargo build --quiet
B=./target/debug/ntkgap
run() { echo "\$ ntkgap $*"; "$B" "$@"; echo; }
mkdir -p runs/data runs/acbo
[ -f runs/data/ext-3-8/test.jsonl ] || "$B" generate --kind extended --nodes 3..8 --per-size 40 --seed 1 --out runs/data/ext-3-8
[ -f runs/data/ext-7-24/test.jsonl ] || "$B" generate --kind extended --nodes 7..24 --per-size 30 --seed 3 --out runs/data/ext-7-24
D=runs/data/ext-3-8/test.jsonl
C="--max-items-per-size 100 --trials 3"
run acbo --data $D --oracle noisy:0 $C --out runs/acbo/exact-set-eig
run acbo --data $D --oracle noisy:0 $C --select random --out runs/acbo/exact-set-random
run acbo --data $D --oracle noisy:0 $C --select round-robin --out runs/acbo/exact-set-rr
run acbo --data $D --oracle noisy:0 $C --query binary --out runs/acbo/exact-binary-eig
run acbo --data $D --oracle noisy:0 $C --query binary --select random --out runs/acbo/exact-binary-random
run acbo --data $D --oracle noisy:0 $C --select eig-hypothesis --out runs/acbo/exact-set-eigh
run acbo --data $D --oracle noisy:0 $C --query binary --select eig-hypothesis --out runs/acbo/exact-binary-eigh
run acbo --data $D --oracle noisy:0 $C --goal dag --out runs/acbo/exact-dag-set-eig
run acbo --data $D --oracle noisy:0 $C --goal dag --select random --out runs/acbo/exact-dag-set-random
run acbo --data $D --oracle noisy:0 $C --goal dag --query binary --out runs/acbo/exact-dag-binary-eig
run acbo --data $D --oracle noisy:0 $C --goal dag --query binary --select random --budget 100 --out runs/acbo/exact-dag-binary-random
run acbo --data $D --oracle noisy:0.1 $C --out runs/acbo/noisy01-set
run acbo --data $D --oracle noisy:0.1 $C --query binary --out runs/acbo/noisy01-binary
run acbo --data $D --oracle noisy:0.1 $C --select eig-hypothesis --out runs/acbo/noisy01-set-eigh
run acbo --data $D --oracle noisy:0.2 $C --out runs/acbo/noisy02-set
run acbo --data $D --oracle experiment:200 $C --out runs/acbo/exp200-set
run acbo --data $D --oracle experiment:20 $C --out runs/acbo/exp20-set
run acbo --data $D --oracle experiment:200 $C --select eig-hypothesis --out runs/acbo/exp200-set-eigh
run acbo --data $D --oracle noisy:0 $C --candidate-cap 1 --candidate-samples 3 --audit 8 --out runs/acbo/sampled-audit
D=runs/data/ext-7-24/test.jsonl
run acbo --data $D --oracle noisy:0 --max-items-per-size 200 --out runs/acbo/ext24-exact
run acbo --data $D --oracle noisy:0.1 --max-items-per-size 200 --out runs/acbo/ext24-noisy01
run acbo --data $D --oracle experiment:200 --max-items-per-size 200 --out runs/acbo/ext24-exp200
run acbo --data runs/data/ext-3-8/test.jsonl --oracle noisy:0 --max-items-per-size 100 --trials 3 --candidate-cap 1 --candidate-samples 3 --out runs/acbo/sampled-noaudit
