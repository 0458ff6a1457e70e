#!/usr/bin/env bash
# Run one fuzz target for SECONDS (default 600) from its committed seeds and dictionary, then
# write a summary (libFuzzer's header, final line and stats, any crash report) to
# fuzz/logs/TARGET.txt. Usage, from the repository root: fuzz/run.sh premise_parse 600
set -euo pipefail
target=${1:?usage: fuzz/run.sh TARGET [SECONDS]}
seconds=${2:-600}
fuzz=$(cd "$(dirname "$0")" && pwd)
declare -A dict=([jsonl_record]=jsonl [premise_parse]=premise [hypothesis_parse]=hypothesis)
# Targets that read model files through the root crate (burn) need its feature; the rest build the core only.
declare -A features=([model_config]=model [safetensors_weights]=model)
cargo_args=()
[[ -n ${features[$target]:-} ]] && cargo_args+=(--features "${features[$target]}")
args=(-max_total_time="$seconds" -timeout=10 -print_final_stats=1)
[[ -n ${dict[$target]:-} ]] && args+=(-dict="$fuzz/dict/${dict[$target]}.dict")
mkdir -p "$fuzz/corpus/$target" "$fuzz/logs"
log=$(mktemp)
set +e
cargo +nightly fuzz run "${cargo_args[@]}" "$target" "$fuzz/corpus/$target" "$fuzz/seeds/$target" -- "${args[@]}" >"$log" 2>&1
rc=$?
set -e
{
    grep -a -E '^\s+Running|^Dictionary|^INFO: (Seed|Loaded|.*files found|-max_len|seed corpus)' "$log"
    grep -a -E '^#[0-9]+\s+DONE' "$log" || tail -n 3 "$log"
    grep -a -E '^Done |^stat::|==[0-9]+==ERROR|panicked at|^SUMMARY|^artifact_prefix|Test unit written' "$log" || true
    echo "exit $rc"
} >"$fuzz/logs/$target.txt"
rm -f "$log"
cat "$fuzz/logs/$target.txt"
exit $rc
