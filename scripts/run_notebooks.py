#!/usr/bin/env python3
"""Execute every notebooks/NN_*.ipynb against the files of an `ntkgap demo` run.

Usage (from the repository root):
    python3 scripts/run_notebooks.py --report report [--save-to DIR]

Each notebook runs top to bottom in a fresh python3 kernel (nbclient), with NTKGAP_REPORT set to
the report folder and the notebooks/ folder as working directory. Exit code 1 when any cell of
any notebook raises; the failing notebook and the error are printed. --save-to writes the
executed copies (with outputs) there; the committed notebooks stay without outputs.
"""
import argparse
import os
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--report", default="report", help="folder written by `ntkgap demo` (default: report)")
    parser.add_argument("--save-to", help="write the executed notebooks into this folder")
    parser.add_argument("--timeout", type=int, default=600, help="seconds per cell (default 600)")
    args = parser.parse_args()
    report = Path(args.report).resolve()
    if not (report / "summary.json").is_file():
        print(f"run_notebooks: {report} holds no summary.json; run `ntkgap demo --quick --out {args.report}` first", file=sys.stderr)
        return 2
    os.environ["NTKGAP_REPORT"] = str(report)
    notebooks = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    failed = 0
    for path in notebooks:
        nb = nbformat.read(path, as_version=4)
        client = NotebookClient(nb, timeout=args.timeout, kernel_name="python3",
                                resources={"metadata": {"path": str(path.parent)}})
        started = time.monotonic()
        try:
            client.execute()
            status = "ok"
        except CellExecutionError as err:
            failed += 1
            status = f"FAILED\n{err}"
        print(f"{path.relative_to(ROOT)}: {status} ({time.monotonic() - started:.1f} s)", flush=True)
        if args.save_to:
            out = Path(args.save_to)
            out.mkdir(parents=True, exist_ok=True)
            nbformat.write(nb, out / path.name)
    print(f"{len(notebooks) - failed} passed, {failed} failed")
    return 1 if failed or not notebooks else 0


if __name__ == "__main__":
    sys.exit(main())
