#!/usr/bin/env python3
"""A seeded subset of at most PER_SIZE records per n_vars of a JSONL file (input order not kept).

Usage: subset_per_size.py IN OUT PER_SIZE SEED
"""
import json, random, sys

src, out, k, seed = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
by = {}
for line in open(src):
    r = json.loads(line); by.setdefault(r["n_vars"], []).append(line)
rng = random.Random(seed)
with open(out, "w") as f:
    for n in sorted(by):
        rows = by[n][:]; rng.shuffle(rows)
        f.writelines(rows[:k])
