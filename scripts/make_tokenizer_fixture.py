#!/usr/bin/env python3
"""Write the tokenizer parity fixtures that tests/tokenizer_parity.rs reads.

For each tokenizer.json below, encode Corr2Cause-style premise/hypothesis pairs (n = 2..10 and
a few larger systems) with Python `tokenizers`, premise-only truncation (`only_first`) and no
padding, at several maximum lengths, and record ids, type ids, attention masks and whether the
premise was truncated. Inputs whose hypothesis leaves no room for the premise are recorded with
the error Python raises. One padded batch per maximum length records `encode_batch` with
`enable_padding()` (pad to the longest).

Usage (from the repository root; needs `pip install tokenizers`, no network at run time):

    python3 scripts/make_tokenizer_fixture.py

Outputs:
    tests/data/tokenizer_parity_minilm.json    (tests/data/minilm/tokenizer.json, BERT WordPiece)
    tests/data/tokenizer_parity_builtin.json   (tests/data/builtin/tokenizer.json, ntkgap built-in)

The texts are generated here, deterministically (random.Random(seed)); the Rust test reads only
the JSON fixtures, never Python.
"""

import hashlib
import json
import platform
import random
import sys
from pathlib import Path

import tokenizers
from tokenizers import Tokenizer

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"
MAX_LENGTHS = [512, 128, 48]
SEED = 20260524

HYPOTHESES = [
    "{i} directly causes {j}.",
    "{i} causes something else which causes {j}.",
    "{j} is a cause for {i}, but not a direct one.",
    "There exists at least one collider (i.e., common effect) of {i} and {j}.",
    "There exists at least one confounder (i.e., common cause) of {i} and {j}.",
]


def name(i, n):
    """Corr2Cause variable names: Z, Y, X, ... (X1, X2, ... above 26 variables)."""
    return chr(90 - i) if n <= 26 else f"X{i + 1}"


def join_list(items):
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def premise(n, rng):
    """A premise in the Corr2Cause template with a random mix of statements."""
    names = [name(i, n) for i in range(n)]
    corr, ci = [], []
    for i in range(n):
        for j in range(i + 1, n):
            if rng.random() < 0.55:
                corr.append(f"{names[i]} correlates with {names[j]}.")
            else:
                others = [k for k in range(n) if k not in (i, j)]
                size = rng.randint(0, min(2, len(others)))
                given = sorted(rng.sample(others, size))
                if given:
                    ci.append(f"{names[i]} and {names[j]} are independent given "
                              f"{join_list([names[k] for k in given])}.")
                else:
                    ci.append(f"{names[i]} is independent of {names[j]}.")
    text = (f"Suppose there is a closed system of {n} variables, {join_list(names)}. "
            f"All the statistical relations among these {n} variables are as follows: ")
    text += " ".join(corr)
    if corr and ci:
        text += " However, "
    return text + " ".join(ci)


def cases():
    rng = random.Random(SEED)
    out = []
    for n in list(range(2, 11)) + [2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 30]:
        p = premise(n, rng)
        i, j = rng.sample(range(n), 2)
        h = rng.choice(HYPOTHESES).format(i=name(i, n), j=name(j, n))
        out.append({"premise": p, "hypothesis": h})
    # Edge cases: an empty premise, unusual spacing and case, out-of-vocabulary words.
    out.append({"premise": "", "hypothesis": "Z directly causes Y."})
    out.append({"premise": "Suppose  there is\ta closed system of 2 variables, Z and Y.",
                "hypothesis": "under do(Z), does Y change? Yes"})
    out.append({"premise": "Zebras correlate with giraffes; however, nobody knows why!",
                "hypothesis": "Z causes something else which causes Y."})
    # A hypothesis too long for the smallest maximum length: must be an error, never cut.
    long_h = " ".join(["There exists at least one confounder (i.e., common cause) of Z and Y."] * 5)
    out.append({"premise": premise(3, rng), "hypothesis": long_h})
    return out


def encode_case(tok, case, max_length):
    tok.no_padding()
    tok.enable_truncation(max_length, strategy="only_first")
    try:
        enc = tok.encode(case["premise"], case["hypothesis"])
    except Exception as e:  # noqa: BLE001 - the fixture records Python's refusal
        return {"error": str(e)}
    return {
        "ids": enc.ids,
        "token_type_ids": enc.type_ids,
        "attention_mask": enc.attention_mask,
        "truncated": len(enc.overflowing) > 0,
    }


def padded_batch(tok, pairs, max_length):
    tok.enable_truncation(max_length, strategy="only_first")
    pad_id = tok.token_to_id("[PAD]")
    tok.enable_padding(pad_id=pad_id, pad_token="[PAD]")
    encs = tok.encode_batch([(c["premise"], c["hypothesis"]) for c in pairs])
    tok.no_padding()
    return {
        "ids": [e.ids for e in encs],
        "token_type_ids": [e.type_ids for e in encs],
        "attention_mask": [e.attention_mask for e in encs],
    }


def fixture(tokenizer_path):
    tok = Tokenizer.from_file(str(tokenizer_path))
    all_cases = cases()
    results = []
    for k, case in enumerate(all_cases):
        for m in MAX_LENGTHS:
            results.append({"case": k, "max_length": m, **encode_case(tok, case, m)})
    batches = []
    for m in MAX_LENGTHS:
        ok = [k for k, c in enumerate(all_cases) if "error" not in encode_case(tok, c, m)][:8]
        batches.append({"max_length": m, "cases": ok,
                        **padded_batch(tok, [all_cases[k] for k in ok], m)})
    tok.no_truncation()
    singles = [{"text": c["premise"], "ids": tok.encode(c["premise"]).ids} for c in all_cases[:5]]
    return {
        "generator": "scripts/make_tokenizer_fixture.py",
        "python": platform.python_version(),
        "tokenizers_version": tokenizers.__version__,
        "tokenizer": str(tokenizer_path.relative_to(ROOT)),
        "tokenizer_sha256": hashlib.sha256(tokenizer_path.read_bytes()).hexdigest(),
        "seed": SEED,
        "texts": all_cases,
        "encodings": results,
        "batches": batches,
        "singles": singles,
    }


def main():
    for label, path in [("minilm", DATA / "minilm" / "tokenizer.json"),
                        ("builtin", DATA / "builtin" / "tokenizer.json")]:
        fx = fixture(path)
        out = DATA / f"tokenizer_parity_{label}.json"
        out.write_text(json.dumps(fx, indent=None, separators=(",", ":")) + "\n")
        n_trunc = sum(1 for e in fx["encodings"] if e.get("truncated"))
        n_err = sum(1 for e in fx["encodings"] if "error" in e)
        print(f"{out.relative_to(ROOT)}: {len(fx['texts'])} texts, {len(fx['encodings'])} encodings, "
              f"{n_trunc} truncated, {n_err} refused", file=sys.stderr)


if __name__ == "__main__":
    main()
