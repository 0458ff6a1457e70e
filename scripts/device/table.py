"""Markdown table of `ntkgap bench kernels --out` JSON files, ready for the README (issue 6).

Usage: python3 scripts/device/table.py FILE.json [FILE.json ...]
One row per measured kernel row, with the device named, its rate and its share of the same file's
`matmul (burn)` row (the device's own matmul rate). Standard library only.
"""
import json
import sys


def rows(path):
    data = json.load(open(path))
    matmul = next((r for r in data["rows"] if r["kernel"] == "matmul (burn)"), None)
    for r in data["rows"]:
        share = f"{100 * r['gflops'] / matmul['gflops']:.0f} %" if matmul and matmul["gflops"] > 0 else "-"
        err = f"{r['rel_error']:.1e}" if r.get("rel_error") is not None else "-"
        yield f"| {data['device']} | {r['kernel']} | {r['shape']} | {r['seconds']:.4f} | {r['gflops']:.1f} | {share} | {err} |"


def main():
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    lines = ["| device | kernel | shape | seconds | GFLOP/s | vs matmul | rel.err |", "|---|---|---|---|---|---|---|"]
    for path in sys.argv[1:]:
        try:
            lines.extend(rows(path))
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise SystemExit(f"table.py: error: {path}: {e}")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
