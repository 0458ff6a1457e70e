#!/usr/bin/env python3
"""Check that `transformers` loads a model directory ntkgap saved and agrees with ntkgap.

Usage:
    ntkgap forward --model DIR --input PAIRS.jsonl --out logits.npy
    python3 scripts/check_saved_model.py DIR PAIRS.jsonl logits.npy

Loads DIR with AutoModelForSequenceClassification (eval mode) and its tokenizer.json with
`tokenizers` (premise-only truncation at the tokenizer's max length, one example at a time),
and prints the largest absolute logit difference to ntkgap's logits.npy.
"""

import json
import sys

import numpy as np
import torch
from tokenizers import Tokenizer
from transformers import AutoModelForSequenceClassification


def main():
    model_dir, pairs_path, npy_path = sys.argv[1:4]
    max_length = int(sys.argv[4]) if len(sys.argv) > 4 else 512
    model = AutoModelForSequenceClassification.from_pretrained(model_dir).eval()
    tok = Tokenizer.from_file(f"{model_dir}/tokenizer.json")
    tok.no_padding()
    tok.enable_truncation(max_length, strategy="only_first")
    ours = np.load(npy_path)
    rows = []
    with torch.no_grad():
        for line in open(pairs_path):
            r = json.loads(line)
            e = tok.encode(r["premise"], r["hypothesis"])
            out = model(input_ids=torch.tensor([e.ids]), token_type_ids=torch.tensor([e.type_ids]),
                        attention_mask=torch.tensor([e.attention_mask]))
            rows.append(out.logits[0].numpy())
    theirs = np.stack(rows)
    print(f"{type(model).__name__}: {theirs.shape[0]} examples, max |ntkgap - transformers| = {np.abs(theirs - ours).max():.2e}")


if __name__ == "__main__":
    main()
